/* Systematic uncertainties end to end on the 1D benchmark: a scale nuisance (x -> x e^nu_S,
 * sigma_S = 0.1) whose Taylor coefficients are learned from generated samples, and a
 * normalisation nuisance (yield e^nu_N, sigma_N = 0.15). The steps a physicist takes:
 *
 *   1. generate the nominal sample and samples at nu_S = -2, -1, +1, +2 sigma_S;
 *   2. a binned study tells which order the Taylor expansion of log r in nu_S needs;
 *   3. learn the coefficient networks (one per power), check them against the exact oracle
 *      log r = x (1 - e^-nu) - nu, save the module and load it back (the module is reused for
 *      every toy and for the real data);
 *   4. calibrate with toys generated at the true nu* (default +1 sigma for both nuisances),
 *      each toy with its own auxiliary measurements nu0 drawn around nu*;
 *   5. compare tau alone and t = tau - Delta with chi2(13): tau alone is biased by the shifted
 *      nuisances, t is not; the Delta fit's nu pulls show the nuisances were found.
 *
 * Usage: scale_and_norm_1d [--toys N] [--n-ref N] [--n-exp N] [--learn-events N]
 *                          [--learn-iterations N] [--shift-scale S] [--shift-norm S]
 *                          [--optimizer lbfgsb|adam] [--epochs N] [--clip C] [--seed S]
 *                          [--threads T] [--jsonl FILE] [--module FILE]
 * Defaults are the benchmark's full size (N_R 200000, N(R0) 2000, 60 toys, 1-4-1, clip 9,
 * L-BFGS-B): a few minutes on two cores. Exit status 0 on success, 1 on an API error, 3 when
 * the learned coefficients miss the oracle by more than 25% (mean relative error of log r). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nplm/nplm.h"
#include "samples.h"

#define SIGMA_S 0.1
#define SIGMA_N 0.15

typedef struct truth {
  double nu_s, nu_n, n_exp; /* the true nuisances of the toys, N(R0) */
} truth_t;

/* Toy k: Poisson(N(R0) e^nu_N) events of Exp(1) scaled by e^nu_S, and the auxiliary
 * measurements nu0 ~ N(nu*, sigma). Thread-safe: all state is local and seeded by (seed, k). */
static int generate(void *user, uint64_t toy, uint64_t seed, nplm_toy_t *out) {
  const truth_t *tr = user;
  sample_rng_t r = {seed * 0x9e3779b97f4a7c15ull + toy * 0xd1b54a32d192ed03ull + 1};
  size_t n = sample_poisson(&r, tr->n_exp * exp(tr->nu_n));
  double *x = malloc((n ? n : 1) * sizeof *x);
  if (!x) return 1;
  for (size_t i = 0; i < n; i++) x[i] = sample_exponential(&r) * exp(tr->nu_s);
  int rc = nplm_toy_set_events(out, x, n, 1, NULL) != NPLM_OK;
  free(x);
  if (!rc) rc = nplm_toy_set_aux(out, 0, tr->nu_s + SIGMA_S * sample_normal(&r)) != NPLM_OK;
  if (!rc) rc = nplm_toy_set_aux(out, 1, tr->nu_n + SIGMA_N * sample_normal(&r)) != NPLM_OK;
  return rc;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double quantile(double *v, size_t n, double q) { /* v sorted */
  double pos = q * (double)(n - 1);
  size_t i = (size_t)pos;
  return i + 1 < n ? v[i] + (pos - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

static int fail(const char *what) {
  fprintf(stderr, "scale_and_norm_1d: %s: %s\n", what, nplm_last_error());
  return 1;
}

int main(int argc, char **argv) {
  size_t toys = 60, n_ref = 200000, n_learn = 100000;
  long learn_iterations = 3000, epochs = 300000;
  double n_exp = 2000.0, shift_s = 1.0, shift_n = 1.0, clip = 9.0;
  unsigned long long seed = 21;
  int threads = 0, optimizer = NPLM_OPTIMIZER_LBFGSB;
  const char *jsonl = NULL, *module = "scale_and_norm_1d.nuis";
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--toys") == 0) toys = (size_t)atol(v);
    else if (strcmp(k, "--n-ref") == 0) n_ref = (size_t)atol(v);
    else if (strcmp(k, "--n-exp") == 0) n_exp = atof(v);
    else if (strcmp(k, "--learn-events") == 0) n_learn = (size_t)atol(v);
    else if (strcmp(k, "--learn-iterations") == 0) learn_iterations = atol(v);
    else if (strcmp(k, "--shift-scale") == 0) shift_s = atof(v);
    else if (strcmp(k, "--shift-norm") == 0) shift_n = atof(v);
    else if (strcmp(k, "--optimizer") == 0)
      optimizer = strcmp(v, "adam") == 0 ? NPLM_OPTIMIZER_ADAM : NPLM_OPTIMIZER_LBFGSB;
    else if (strcmp(k, "--epochs") == 0) epochs = atol(v);
    else if (strcmp(k, "--clip") == 0) clip = atof(v);
    else if (strcmp(k, "--seed") == 0) seed = strtoull(v, NULL, 10);
    else if (strcmp(k, "--threads") == 0) threads = atoi(v);
    else if (strcmp(k, "--jsonl") == 0) jsonl = v;
    else if (strcmp(k, "--module") == 0) module = v;
    else {
      fprintf(stderr, "scale_and_norm_1d: unknown flag %s\n", k);
      return 2;
    }
  }
  if (toys < 2 || n_ref < 100 || n_learn < 100) {
    fprintf(stderr, "scale_and_norm_1d: need --toys >= 2, --n-ref and --learn-events >= 100\n");
    return 2;
  }

  /* 1. the samples: reference, nominal and varied samples for the scale nuisance */
  enum { NV = 4 };
  const double nus[NV] = {-2 * SIGMA_S, -SIGMA_S, SIGMA_S, 2 * SIGMA_S};
  double *ref = malloc(n_ref * sizeof *ref), *x0 = malloc(n_learn * sizeof *x0);
  double *xv = malloc(NV * n_learn * sizeof *xv), *t_null = malloc(toys * sizeof *t_null);
  double *tau = malloc(toys * sizeof *tau), *delta = malloc(toys * sizeof *delta);
  double *nu_hat = malloc(2 * toys * sizeof *nu_hat);
  if (!ref || !x0 || !xv || !t_null || !tau || !delta || !nu_hat) return 1;
  sample_rng_t r = {1};
  for (size_t i = 0; i < n_ref; i++) ref[i] = sample_exponential(&r);
  sample_rng_t rl = {3};
  for (size_t i = 0; i < n_learn; i++) x0[i] = sample_exponential(&rl);
  for (size_t v = 0; v < NV; v++)
    for (size_t i = 0; i < n_learn; i++)
      xv[v * n_learn + i] = sample_exponential(&rl) * exp(nus[v]);
  const double *x_var[NV] = {xv, xv + n_learn, xv + 2 * n_learn, xv + 3 * n_learn};
  const size_t n_var[NV] = {n_learn, n_learn, n_learn, n_learn};

  /* 2. binned study: which order does log r(x; nu_S) need? */
  enum { NB = 12, MAX_ORDER = 3 };
  double edges[NB + 1], chi2[MAX_ORDER], pv[MAX_ORDER];
  for (int b = 0; b <= NB; b++) edges[b] = 0.5 * b; /* 0 .. 6, where the events are */
  unsigned order = 0;
  if (nplm_nuisance_binned_study(x0, n_learn, NULL, 1, 0, edges, NB, NV, nus, x_var, n_var, NULL,
                                 MAX_ORDER, chi2, pv, &order))
    return fail("binned study");
  printf("binned study of the scale nuisance (%d bins):", NB);
  for (int k = 0; k < MAX_ORDER; k++) printf("  order %d: chi2 %.1f (p %.2g)", k + 1, chi2[k], pv[k]);
  printf("\n  -> Taylor order %u\n", order);

  /* 3. learn the coefficients, check them on the oracle, save the module and load it back */
  const size_t coef_layers[] = {1, 4, 1};
  nplm_nuisance_t *nu = NULL;
  size_t i_scale, i_norm;
  if (nplm_nuisance_create(&nu, 1) ||
      nplm_nuisance_add_shape(nu, SIGMA_S, order, coef_layers, 3, &i_scale) ||
      nplm_nuisance_add_norm(nu, SIGMA_N, &i_norm) ||
      nplm_nuisance_set_int(nu, NPLM_NUIS_OPT_MAX_ITERATIONS, learn_iterations))
    return fail("nuisances");
  if (nplm_nuisance_learn(nu, i_scale, 1, x0, n_learn, NULL, NV, nus, x_var, n_var, NULL))
    return fail("learning the scale coefficients");
  double train_loss, valid_loss;
  if (nplm_nuisance_learned_loss(nu, i_scale, &train_loss, &valid_loss)) return fail("losses");
  printf("learned %u coefficient networks: training loss %.6g, validation loss %.6g\n", order,
         train_loss, valid_loss);
  int bad = 0;
  for (int sign = -1; sign <= 1; sign += 2) {
    enum { M = 2000 };
    double xr[M], lr[M], v[2] = {sign * SIGMA_S, 0.0}, err = 0, scale = 0;
    for (int i = 0; i < M; i++) xr[i] = ref[i];
    if (nplm_nuisance_log_ratio(nu, v, xr, M, 1, lr)) return fail("log ratio");
    for (int i = 0; i < M; i++) {
      double exact = xr[i] * (1 - exp(-v[0])) - v[0];
      err += fabs(lr[i] - exact);
      scale += fabs(exact);
    }
    printf("  log r at nu_S = %+.2f on reference events: mean relative error %.3f vs the exact "
           "x (1 - e^-nu) - nu\n", v[0], err / scale);
    bad |= !(err / scale < 0.25);
  }
  if (nplm_nuisance_save(nu, module)) return fail("saving the module");
  nplm_nuisance_free(nu);
  nu = NULL;
  if (nplm_nuisance_load(&nu, module)) return fail("loading the module");
  printf("module saved to and reloaded from %s\n", module);

  /* 4. calibrate at the true nu*, each toy with its own auxiliary measurements */
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  if (nplm_model_create_mlp(&m, layers, 3, clip) || nplm_test_create(&t, m, nu) ||
      nplm_test_set_reference(t, ref, n_ref, 1, NULL, n_exp) ||
      nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, optimizer) ||
      nplm_test_set_int(t, NPLM_OPT_EPOCHS, epochs) ||
      nplm_test_set_int(t, NPLM_OPT_PATIENCE, 0) ||
      nplm_test_set_int(t, NPLM_OPT_THREADS, threads))
    return fail("test");
  truth_t tr = {shift_s * SIGMA_S, shift_n * SIGMA_N, n_exp};
  printf("calibrating %zu toys at nu_S* = %+.3f, nu_N* = %+.3f (%s, clip %g)...\n", toys, tr.nu_s,
         tr.nu_n, optimizer == NPLM_OPTIMIZER_ADAM ? "Adam" : "L-BFGS-B", clip);
  fflush(stdout);
  nplm_status_t s = nplm_test_calibrate_with(t, generate, &tr, toys, seed, t_null);
  if (s != NPLM_OK && s != NPLM_ENOCONV) {
    fprintf(stderr, "scale_and_norm_1d: calibration: %s\n", nplm_test_last_error(t));
    return 1;
  }
  if (s == NPLM_ENOCONV) printf("note: %s\n", nplm_test_last_error(t));
  double secs_sum = 0;
  if (nplm_test_toy_results(t, NPLM_RESULT_TAU, tau, toys) ||
      nplm_test_toy_results(t, NPLM_RESULT_DELTA, delta, toys) ||
      nplm_test_toy_nuisances(t, NPLM_FIT_DELTA, nu_hat, toys, 2))
    return fail("per-toy results");
  FILE *jf = jsonl ? fopen(jsonl, "w") : NULL;
  if (jsonl && !jf) {
    fprintf(stderr, "scale_and_norm_1d: cannot write %s\n", jsonl);
    return 1;
  }
  double *seconds = malloc(toys * sizeof *seconds);
  if (!seconds || nplm_test_toy_results(t, NPLM_RESULT_SECONDS, seconds, toys)) return 1;
  double pull_s = 0, pull_n = 0;
  for (size_t k = 0; k < toys; k++) {
    secs_sum += seconds[k];
    pull_s += (nu_hat[2 * k] - tr.nu_s) / SIGMA_S / (double)toys;
    pull_n += (nu_hat[2 * k + 1] - tr.nu_n) / SIGMA_N / (double)toys;
    if (jf)
      fprintf(jf, "{\"toy\":%zu,\"tau\":%.5f,\"delta\":%.5f,\"t\":%.5f,\"nu_s_delta\":%.5f,"
                  "\"nu_n_delta\":%.5f,\"seconds\":%.3f}\n",
              k, tau[k], delta[k], t_null[k], nu_hat[2 * k], nu_hat[2 * k + 1], seconds[k]);
  }
  free(seconds);

  /* 5. tau alone against t = tau - Delta */
  double ks_stat, p_tau, p_t;
  if (nplm_ks_chi2(tau, toys, 13.0, &ks_stat, &p_tau) ||
      nplm_ks_chi2(t_null, toys, 13.0, &ks_stat, &p_t))
    return fail("KS");
  qsort(tau, toys, sizeof *tau, cmp);
  qsort(t_null, toys, sizeof *t_null, cmp);
  printf("\n%-16s %8s %16s %14s\n", "statistic", "median", "16% / 84%", "KS p chi2(13)");
  printf("%-16s %8.2f %7.2f / %6.2f %14.3g\n", "tau alone", quantile(tau, toys, 0.5),
         quantile(tau, toys, 0.16), quantile(tau, toys, 0.84), p_tau);
  printf("%-16s %8.2f %7.2f / %6.2f %14.3g\n", "t = tau - Delta", quantile(t_null, toys, 0.5),
         quantile(t_null, toys, 0.16), quantile(t_null, toys, 0.84), p_t);
  printf("%-16s %8.2f %7.2f / %6.2f\n", "chi2(13)", nplm_chi2_isf(0.5, 13.0),
         nplm_chi2_isf(0.84, 13.0), nplm_chi2_isf(0.16, 13.0));
  printf("mean pull of the Delta fit, (nu_hat - nu*) / sigma: scale %+.2f, normalisation %+.2f\n",
         pull_s, pull_n);
  printf("%.2f s per toy (tau and Delta fits; %zu toys)\n", secs_sum / (double)toys, toys);
  if (jf) {
    fprintf(jf, "{\"summary\":true,\"toys\":%zu,\"n_ref\":%zu,\"n_exp\":%g,\"order\":%u,"
                "\"nu_s_true\":%g,\"nu_n_true\":%g,\"sigma_s\":%g,\"sigma_n\":%g,\"clip\":%g,"
                "\"optimizer\":\"%s\",\"seed\":%llu,\"median_tau\":%.3f,\"median_t\":%.3f,"
                "\"ks_p_tau\":%.3g,\"ks_p_t\":%.3g,\"pull_s\":%.3f,\"pull_n\":%.3f,"
                "\"seconds_per_toy\":%.3f}\n",
            toys, n_ref, n_exp, order, tr.nu_s, tr.nu_n, SIGMA_S, SIGMA_N, clip,
            optimizer == NPLM_OPTIMIZER_ADAM ? "adam" : "lbfgsb", seed, quantile(tau, toys, 0.5),
            quantile(t_null, toys, 0.5), p_tau, p_t, pull_s, pull_n, secs_sum / (double)toys);
    fclose(jf);
  }
  nplm_test_free(t);
  nplm_model_free(m);
  nplm_nuisance_free(nu);
  free(ref), free(x0), free(xv), free(t_null), free(tau), free(delta), free(nu_hat);
  if (bad) {
    fprintf(stderr, "scale_and_norm_1d: the learned coefficients miss the oracle\n");
    return 3;
  }
  return 0;
}
