/* Systematics validation on the 1D benchmark: toys whose yield is shifted by nu* (a normalisation
 * nuisance, sigma 0.15; nu* = +1 sigma by default), with the auxiliary measurement nu0 drawn
 * around nu* for every toy. For each toy: tau (f and nu fitted), Delta (nu alone) and
 * t = tau - Delta, with a 1-4-1 network, clip 9, L-BFGS-B. Prints one JSON line per toy and a
 * summary line (medians, KS p-values of tau and of t against chi2(13)).
 * Usage: systematics_1d [--toys N] [--shift S (in sigmas)] [--seed S] [--threads T] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/samples.h"
#include "nplm/nplm.h"

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int toys = 60, threads = 0;
  double shift = 1.0;
  unsigned long long seed = 11;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--toys") == 0) toys = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--shift") == 0) shift = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--seed") == 0) seed = strtoull(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
    else return 2;
  }
  if (toys < 2) return 2;
  enum { N_REF = 200000 };
  const double n_exp = 2000.0, sigma = 0.15, nu_true = shift * sigma;
  double *ref = malloc(N_REF * sizeof *ref), *data = malloc(4000 * sizeof *data);
  double *taus = malloc((size_t)toys * sizeof *taus), *ts = malloc((size_t)toys * sizeof *ts);
  if (!ref || !data || !taus || !ts) return 1;
  sample_rng_t rr = {1};
  for (int i = 0; i < N_REF; i++) ref[i] = sample_exponential(&rr);
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *m = NULL;
  nplm_nuisance_t *nu = NULL;
  nplm_test_t *t = NULL;
  if (nplm_model_create_mlp(&m, layers, 3, 9.0) || nplm_nuisance_create(&nu, 1) ||
      nplm_nuisance_add_norm(nu, sigma, NULL) || nplm_test_create(&t, m, nu) ||
      nplm_test_set_reference(t, ref, N_REF, 1, NULL, n_exp) ||
      nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB) ||
      nplm_test_set_int(t, NPLM_OPT_THREADS, threads)) {
    fprintf(stderr, "systematics_1d: %s\n", nplm_last_error());
    return 1;
  }
  double secs_total = 0;
  for (int k = 0; k < toys; k++) {
    sample_rng_t r = {(uint64_t)seed * 1000003u + (uint64_t)k};
    size_t n = sample_poisson(&r, n_exp * exp(nu_true));
    if (n > 4000) n = 4000;
    for (size_t i = 0; i < n; i++) data[i] = sample_exponential(&r);
    const double nu0 = nu_true + sigma * sample_normal(&r);
    double tv, tau, delta, secs, nuh;
    nplm_status_t s = nplm_test_set_aux(t, 0, nu0);
    if (s == NPLM_OK) s = nplm_test_set_int(t, NPLM_OPT_SEED, k);
    if (s == NPLM_OK) s = nplm_test_run(t, data, n, 1, NULL, &tv);
    if (s != NPLM_OK && s != NPLM_ENOCONV) {
      fprintf(stderr, "systematics_1d: toy %d: %s\n", k, nplm_test_last_error(t));
      return 1;
    }
    if (nplm_test_result(t, NPLM_RESULT_TAU, &tau) || nplm_test_result(t, NPLM_RESULT_DELTA, &delta) ||
        nplm_test_result(t, NPLM_RESULT_SECONDS, &secs) ||
        nplm_test_nuisances(t, NPLM_FIT_TAU, &nuh, 1))
      return 1;
    taus[k] = tau;
    ts[k] = tv;
    secs_total += secs;
    printf("{\"toy\":%d,\"n\":%zu,\"nu0\":%.5f,\"tau\":%.4f,\"delta\":%.4f,\"t\":%.4f,"
           "\"nu_hat_tau\":%.5f,\"seconds\":%.3f}\n", k, n, nu0, tau, delta, tv, nuh, secs);
    fflush(stdout);
  }
  double stat, p_tau, p_t;
  if (nplm_ks_chi2(taus, (size_t)toys, 13.0, &stat, &p_tau) ||
      nplm_ks_chi2(ts, (size_t)toys, 13.0, &stat, &p_t))
    return 1;
  qsort(taus, (size_t)toys, sizeof *taus, cmp);
  qsort(ts, (size_t)toys, sizeof *ts, cmp);
  printf("{\"summary\":true,\"toys\":%d,\"shift_sigmas\":%g,\"sigma\":%g,\"median_tau\":%.3f,"
         "\"median_t\":%.3f,\"chi2_13_median\":%.3f,\"ks_p_tau\":%.3g,\"ks_p_t\":%.3g,"
         "\"seconds_per_toy\":%.2f}\n",
         toys, shift, sigma, taus[toys / 2], ts[toys / 2], nplm_chi2_isf(0.5, 13.0), p_tau, p_t,
         secs_total / toys);
  nplm_test_free(t);
  nplm_nuisance_free(nu);
  nplm_model_free(m);
  free(ref), free(data), free(taus), free(ts);
  return 0;
}
