/* libnplm benchmark: ms per full-batch Adam epoch and seconds per L-BFGS-B fit on the 1D
 * (N_R 200000, N_D ~2000, 1-4-1) and 5D (N_R 42500, N_D 8500, 5-5-5-5-1) workloads.
 * Prints one JSON object per line. Usage:
 *   bench_nplm [--case 1d|5d|all] [--threads N] [--reps R] [--epochs E] [--fits K] [--clip C]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/samples.h"
#include "machine.h"
#include "kernels/mlp.h"
#include "nplm/nplm.h"

typedef struct workload {
  const char *name;
  size_t d, n_ref, n_data;
  double n_expected;
  size_t layers[8];
  size_t n_layers;
} workload_t;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void make_sample(const workload_t *w, uint64_t seed, size_t n, double *x) {
  sample_rng_t r = {seed};
  for (size_t i = 0; i < n; i++) {
    if (w->d == 1)
      x[i] = sample_exponential(&r);
    else
      sample_5d(&r, x + i * w->d);
  }
}

static int check(nplm_status_t s, const char *what) {
  if (s != NPLM_OK && s != NPLM_ENOCONV) {
    fprintf(stderr, "bench: %s: %s (%s)\n", what, nplm_strerror(s), nplm_last_error());
    return 1;
  }
  return 0;
}

static int run_case(const workload_t *w, int threads, int reps, long epochs, int fits,
                    double clip) {
  double *ref = malloc(w->n_ref * w->d * sizeof *ref);
  double *data = malloc(w->n_data * w->d * sizeof *data);
  double *times = malloc((size_t)(reps > fits ? reps : fits) * sizeof *times);
  double *tv = malloc((size_t)(fits > 0 ? fits : 1) * sizeof *tv);
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  int rc = 1;
  if (!ref || !data || !times || !tv) goto out;
  make_sample(w, 1, w->n_ref, ref);
  if (check(nplm_model_create_mlp(&m, w->layers, w->n_layers, clip), "create model") ||
      check(nplm_test_create(&t, m, NULL), "create test") ||
      check(nplm_test_set_reference(t, ref, w->n_ref, w->d, NULL, w->n_expected), "reference") ||
      check(nplm_test_set_int(t, NPLM_OPT_THREADS, threads), "threads") ||
      check(nplm_test_set_int(t, NPLM_OPT_PATIENCE, 0), "patience"))
    goto out;
  double used_threads = 0, tval = 0;

  /* Adam: ms per epoch */
  if (check(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_ADAM), "optimizer") ||
      check(nplm_test_set_int(t, NPLM_OPT_EPOCHS, epochs), "epochs"))
    goto out;
  make_sample(w, 2, w->n_data, data);
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
    double secs;
    if (check(nplm_test_run(t, data, w->n_data, w->d, NULL, &tval), "run") ||
        check(nplm_test_result(t, NPLM_RESULT_SECONDS, &secs), "result") ||
        check(nplm_test_result(t, NPLM_RESULT_THREADS, &used_threads), "result"))
      goto out;
    if (r >= 0) times[r] = 1e3 * secs / (double)(epochs + 1);
  }
  double ms = median(times, reps);
  double mn = times[0];
  printf("{\"bench\":\"adam_epoch\",\"case\":\"%s\",\"n_ref\":%zu,\"n_data\":%zu,\"params\":%zu,"
         "\"threads\":%.0f,\"reps\":%d,\"epochs\":%ld,\"ms_per_epoch_median\":%.5f,"
         "\"ms_per_epoch_min\":%.5f,\"ns_per_event_epoch\":%.3f,\"kernel\":\"%s\","
         "\"precision\":\"float64\",\"version\":\"%s\",\"cpu\":\"%s\",\"checksum_t\":%.17g}\n",
         w->name, w->n_ref, w->n_data, nplm_model_num_params(m), used_threads, reps, epochs, ms,
         mn, 1e6 * ms / (double)(w->n_ref + w->n_data), nplm__mlp_kernels()->name,
         nplm_version_string(), bench_cpu_model(), tval);
  fflush(stdout);

  /* L-BFGS-B: seconds per fit on independent toys */
  if (fits > 0) {
    if (check(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), "optimizer"))
      goto out;
    double iters_sum = 0;
    for (int k = 0; k < fits; k++) {
      make_sample(w, 100 + (uint64_t)k, w->n_data, data);
      if (check(nplm_test_set_int(t, NPLM_OPT_SEED, k), "seed")) goto out;
      double secs, it;
      if (check(nplm_test_run(t, data, w->n_data, w->d, NULL, &tv[k]), "run") ||
          check(nplm_test_result(t, NPLM_RESULT_SECONDS, &secs), "result") ||
          check(nplm_test_result(t, NPLM_RESULT_ITERATIONS, &it), "result"))
        goto out;
      times[k] = secs;
      iters_sum += it;
    }
    double tmed = median(tv, fits);
    double smed = median(times, fits); /* sorts times: the maximum is last */
    printf("{\"bench\":\"lbfgsb_fit\",\"case\":\"%s\",\"n_ref\":%zu,\"n_data\":%zu,"
           "\"params\":%zu,\"threads\":%.0f,\"fits\":%d,\"s_per_fit_median\":%.4f,"
           "\"s_per_fit_max\":%.4f,\"iterations_mean\":%.1f,\"t_median\":%.4f,\"clip\":%g,"
           "\"kernel\":\"%s\",\"version\":\"%s\",\"cpu\":\"%s\"}\n",
           w->name, w->n_ref, w->n_data, nplm_model_num_params(m), used_threads, fits,
           smed, times[fits - 1], iters_sum / fits, tmed, clip,
           nplm__mlp_kernels()->name, nplm_version_string(), bench_cpu_model());
  }
  rc = 0;
out:
  nplm_test_free(t);
  nplm_model_free(m);
  free(ref);
  free(data);
  free(times);
  free(tv);
  return rc;
}

int main(int argc, char **argv) {
  const char *which = "all";
  int threads = 0, reps = 5, fits = 3;
  long epochs = 2000;
  double clip = 9.0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--case") == 0) which = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "--reps") == 0) reps = atoi(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "--epochs") == 0) epochs = atol(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "--fits") == 0) fits = atoi(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "--clip") == 0) clip = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--case 1d|5d|all] [--threads N] [--reps R] [--epochs E] "
                      "[--fits K] [--clip C]\n", argv[0]);
      return 2;
    }
  }
  if (reps < 1 || epochs < 1 || fits < 0) return 2;
  const workload_t w1 = {"1d", 1, 200000, 2000, 2000.0, {1, 4, 1}, 3};
  const workload_t w5 = {"5d", 5, 42500, 8500, 8500.0, {5, 5, 5, 5, 1}, 5};
  int rc = 0;
  if (strcmp(which, "1d") == 0 || strcmp(which, "all") == 0)
    rc |= run_case(&w1, threads, reps, epochs, fits, clip);
  if (strcmp(which, "5d") == 0 || strcmp(which, "all") == 0)
    rc |= run_case(&w5, threads, reps, epochs, fits, 2.15);
  return rc;
}
