/* The kernel (Nystrom) NPLM on the benchmarks: null toys (t distribution, fitted dof, KS),
 * signal toys (median Z with the chi2 of the fitted dof) and seconds per toy.
 *   1d: reference Exp(1), N_R 200000 (seed 1), null pool of 10^6 Exp(1) events (seed 2),
 *       N(R0) 2000, M 1000, sigma 0.7, lambda 1e-6; signal Normal(6.4, 0.16), N(S) 10.
 *   5d: the 5D stand-in of examples/samples.h, N_R 100000, N(R0) 20000, M 20000, sigma 3,
 *       lambda 1e-6 (timing of null toys only).
 * Prints one JSON line per toy and a summary line.
 * Usage: kernel_nplm [--case 1d|5d] [--toys N] [--signal-toys N] [--solver auto|direct|cg]
 *                    [--threads T] [--centers M] [--sigma S] [--lambda L] [--cg-tol X]
 *                    [--seed S] [--standardize 0|1] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/samples.h"
#include "nplm/nplm.h"

typedef struct sig_gen {
  double n_exp, n_sig;
} sig_gen_t;

/* Background Poisson(N(R0)) Exp(1) plus Poisson(N(S)) Normal(6.4, 0.16), from (seed, toy). */
static int signal_toy(void *user, uint64_t toy, uint64_t seed, nplm_toy_t *out) {
  const sig_gen_t *g = user;
  sample_rng_t r = {seed * 0x9e3779b97f4a7c15ull + toy * 0xd1b54a32d192ed03ull + 7};
  size_t nb = sample_poisson(&r, g->n_exp), ns = sample_poisson(&r, g->n_sig);
  double *x = malloc((nb + ns + 1) * sizeof *x);
  if (!x) return 1;
  for (size_t i = 0; i < nb; i++) x[i] = sample_exponential(&r);
  for (size_t i = 0; i < ns; i++) x[nb + i] = 6.4 + 0.16 * sample_normal(&r);
  int rc = nplm_toy_set_events(out, x, nb + ns, 1, NULL) != NPLM_OK;
  free(x);
  return rc;
}

/* A JSON number, or null for NaN/inf. */
static const char *num(char *buf, size_t len, double v) {
  if (isfinite(v)) snprintf(buf, len, "%.6g", v);
  else snprintf(buf, len, "null");
  return buf;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void print_toys(nplm_test_t *t, const double *tv, size_t n, const char *kind) {
  double *secs = malloc(3 * n * sizeof *secs), *it = secs + n, *rank = it + n;
  if (!secs || nplm_test_toy_results(t, NPLM_RESULT_SECONDS, secs, n) ||
      nplm_test_toy_results(t, NPLM_RESULT_ITERATIONS, it, n) ||
      nplm_test_toy_results(t, NPLM_RESULT_KERNEL_RANK, rank, n)) {
    free(secs);
    return;
  }
  for (size_t k = 0; k < n; k++)
    printf("{\"kind\":\"%s\",\"toy\":%zu,\"t\":%.6f,\"seconds\":%.3f,\"cg_iterations\":%g,"
           "\"rank\":%g}\n",
           kind, k, tv[k], secs[k], it[k], rank[k]);
  fflush(stdout);
  free(secs);
}

static double median_seconds(nplm_test_t *t, size_t n) {
  double *secs = malloc(n * sizeof *secs);
  if (!secs || nplm_test_toy_results(t, NPLM_RESULT_SECONDS, secs, n)) {
    free(secs);
    return NAN;
  }
  qsort(secs, n, sizeof *secs, cmp);
  double m = secs[n / 2];
  free(secs);
  return m;
}

int main(int argc, char **argv) {
  const char *cas = "1d", *solver_name = "auto";
  size_t toys = 20, sig_toys = 0, centers = 0;
  int threads = 0, standardize = 0;
  double sigma = 0, lambda = -1, cg_tol = 0;
  unsigned long long seed = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--case") == 0) cas = v;
    else if (strcmp(k, "--toys") == 0) toys = (size_t)atol(v);
    else if (strcmp(k, "--signal-toys") == 0) sig_toys = (size_t)atol(v);
    else if (strcmp(k, "--solver") == 0) solver_name = v;
    else if (strcmp(k, "--threads") == 0) threads = atoi(v);
    else if (strcmp(k, "--centers") == 0) centers = (size_t)atol(v);
    else if (strcmp(k, "--sigma") == 0) sigma = atof(v);
    else if (strcmp(k, "--lambda") == 0) lambda = atof(v);
    else if (strcmp(k, "--cg-tol") == 0) cg_tol = atof(v);
    else if (strcmp(k, "--seed") == 0) seed = strtoull(v, NULL, 10);
    else if (strcmp(k, "--standardize") == 0) standardize = atoi(v);
    else {
      fprintf(stderr, "kernel_nplm: unknown flag %s\n", k);
      return 2;
    }
  }
  const int five = strcmp(cas, "5d") == 0;
  const size_t d = five ? 5 : 1, n_ref = five ? 100000 : 200000, n_pool = five ? 500000 : 1000000;
  const double n_exp = five ? 20000.0 : 2000.0;
  if (!centers) centers = five ? 20000 : 1000;
  if (!(sigma > 0)) sigma = five ? 3.0 : 0.7;
  if (lambda < 0) lambda = 1e-6;
  int solver = strcmp(solver_name, "direct") == 0 ? NPLM_SOLVER_DIRECT
               : strcmp(solver_name, "cg") == 0   ? NPLM_SOLVER_CG
                                                  : NPLM_SOLVER_AUTO;
  double *ref = malloc(n_ref * d * sizeof *ref), *pool = malloc(n_pool * d * sizeof *pool);
  double *tn = malloc((toys + 1) * sizeof *tn), *ta = malloc((sig_toys + 1) * sizeof *ta);
  if (!ref || !pool || !tn || !ta) return 1;
  sample_rng_t r1 = {1}, r2 = {2};
  for (size_t i = 0; i < n_ref; i++) {
    if (five) sample_5d(&r1, ref + i * 5);
    else ref[i] = sample_exponential(&r1);
  }
  for (size_t i = 0; i < n_pool; i++) {
    if (five) sample_5d(&r2, pool + i * 5);
    else pool[i] = sample_exponential(&r2);
  }
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  if (nplm_model_create_kernel(&m, d, centers, sigma, lambda) || nplm_test_create(&t, m, NULL) ||
      nplm_test_set_reference(t, ref, n_ref, d, NULL, n_exp) ||
      nplm_test_set_int(t, NPLM_OPT_KERNEL_SOLVER, solver) ||
      nplm_test_set_int(t, NPLM_OPT_STANDARDIZE, standardize) ||
      nplm_test_set_int(t, NPLM_OPT_THREADS, threads) ||
      (cg_tol > 0 && nplm_test_set_double(t, NPLM_OPT_CG_TOLERANCE, cg_tol))) {
    fprintf(stderr, "kernel_nplm: %s\n", nplm_last_error());
    return 1;
  }
  nplm_status_t s = nplm_test_calibrate(t, pool, n_pool, d, NULL, toys, seed, tn);
  if (s != NPLM_OK && s != NPLM_ENOCONV) {
    fprintf(stderr, "kernel_nplm: %s\n", nplm_test_last_error(t));
    return 1;
  }
  print_toys(t, tn, toys, "null");
  const double sec_null = median_seconds(t, toys);
  double dof = NAN, ks_stat = NAN, ks_p = NAN;
  if (toys >= 2 && nplm_chi2_fit_dof(tn, toys, &dof) == NPLM_OK)
    if (nplm_ks_chi2(tn, toys, dof, &ks_stat, &ks_p) != NPLM_OK) ks_p = NAN;
  double sens[NPLM_SENS_COUNT];
  for (int i = 0; i < NPLM_SENS_COUNT; i++) sens[i] = NAN;
  if (sig_toys > 0 && !five) {
    sig_gen_t g = {n_exp, 10.0};
    s = nplm_test_calibrate_with(t, signal_toy, &g, sig_toys, seed + 1000, ta);
    if (s != NPLM_OK && s != NPLM_ENOCONV) {
      fprintf(stderr, "kernel_nplm: %s\n", nplm_test_last_error(t));
      return 1;
    }
    print_toys(t, ta, sig_toys, "signal");
    if (nplm_sensitivity(ta, sig_toys, tn, toys, dof, NPLM_PVALUE_CHI2_FIT, sens,
                         NPLM_SENS_COUNT) != NPLM_OK)
      fprintf(stderr, "kernel_nplm: %s\n", nplm_last_error());
  }
  double mean_t = 0.0;
  for (size_t k = 0; k < toys; k++) mean_t += tn[k] / (double)toys;
  qsort(tn, toys, sizeof *tn, cmp);
  char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
  printf("{\"summary\":true,\"case\":\"%s\",\"n_ref\":%zu,\"n_exp\":%g,\"centers\":%zu,"
         "\"sigma\":%g,\"lambda\":%g,\"solver\":\"%s\",\"threads\":%d,\"toys\":%zu,"
         "\"median_t\":%.4f,\"mean_t\":%.4f,\"dof_fit\":%s,\"ks_p_fit\":%s,"
         "\"seconds_per_null_toy\":%.3f,\"signal_toys\":%zu,\"z_median\":%s,\"z_16\":%s,"
         "\"z_84\":%s,\"z_median_err\":%s}\n",
         cas, n_ref, n_exp, centers, sigma, lambda, solver_name, threads, toys, tn[toys / 2],
         mean_t, num(b1, 32, dof), num(b2, 32, ks_p), sec_null, sig_toys,
         num(b3, 32, sens[NPLM_SENS_Z_MEDIAN]), num(b4, 32, sens[NPLM_SENS_Z_16]),
         num(b5, 32, sens[NPLM_SENS_Z_84]), num(b6, 32, sens[NPLM_SENS_Z_MEDIAN_ERR]));
  nplm_test_free(t);
  nplm_model_free(m);
  free(ref), free(pool), free(tn), free(ta);
  return 0;
}
