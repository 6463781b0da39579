/* A scan of kernel hyper-parameters on null toys: for each (M, lambda) a calibration with the
 * same toys, summarised by the mean, median and fitted dof of t and the time per toy. */
#include <math.h>
#include <string.h>

#include "stats/stats_internal.h"
#include "test/test_internal.h"

#define NPLM_H_INSIDE
#include "nplm/stats.h"
#undef NPLM_H_INSIDE

nplm_status_t nplm_test_kernel_scan(nplm_test_t *t, const double *pool_x, size_t pool_n,
                                    size_t d, const double *pool_w, const size_t *centers,
                                    size_t n_centers, const double *lambdas, size_t n_lambdas,
                                    size_t n_toys, uint64_t seed, nplm_kernel_scan_row_t *rows,
                                    size_t row_size) {
  static const char fn[] = "nplm_test_kernel_scan";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  nplm_status_t s = NPLM_OK;
  if (t->family->kind != NPLM__MODEL_KERNEL)
    s = nplm__fail(NPLM_EINVAL, "%s: the test's family is not a kernel model", fn);
  else if (!centers || n_centers == 0)
    s = nplm__fail(NPLM_EINVAL, "%s: centers is NULL or n_centers = 0", fn);
  else if (!lambdas || n_lambdas == 0)
    s = nplm__fail(NPLM_EINVAL, "%s: lambdas is NULL or n_lambdas = 0", fn);
  else if (!rows) s = nplm__fail(NPLM_EINVAL, "%s: rows is NULL", fn);
  else if (row_size < sizeof(nplm_kernel_scan_row_t) || row_size > ((size_t)1 << 20))
    s = nplm__fail(NPLM_EINVAL, "%s: row_size = %zu: pass sizeof(nplm_kernel_scan_row_t) (%zu)",
                   fn, row_size, sizeof(nplm_kernel_scan_row_t));
  else if (n_toys < 2) s = nplm__fail(NPLM_EINVAL, "%s: n_toys = %zu: need at least 2", fn, n_toys);
  for (size_t i = 0; s == NPLM_OK && i < n_centers; i++)
    if (centers[i] < 1 || centers[i] > ((size_t)1 << 24))
      s = nplm__fail(NPLM_EINVAL, "%s: centers[%zu] = %zu is outside [1, 2^24]", fn, i,
                     centers[i]);
  for (size_t i = 0; s == NPLM_OK && i < n_lambdas; i++)
    if (!(lambdas[i] >= 0.0) || !(lambdas[i] <= 1e6))
      s = nplm__fail(NPLM_EINVAL, "%s: lambdas[%zu] = %g is outside [0, 1e6]", fn, i, lambdas[i]);
  double *tn = s == NPLM_OK ? nplm__malloc_array(3 * n_toys, sizeof *tn) : NULL;
  if (s == NPLM_OK && !tn) s = nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  if (s != NPLM_OK) {
    nplm__copy_error(t->msg);
    return s;
  }
  /* the handle keeps the message of the last failing call: a row's ENOCONV is not one */
  char saved_msg[sizeof t->msg];
  memcpy(saved_msg, t->msg, sizeof saved_msg);
  const double keep_m = nplm__test_opt(t, NPLM_OPT_KERNEL_CENTERS);
  const double keep_l = nplm__test_opt(t, NPLM_OPT_KERNEL_LAMBDA);
  double *secs = tn + n_toys, *conv_k = secs + n_toys;
  for (size_t a = 0; a < n_centers && s == NPLM_OK; a++)
    for (size_t b = 0; b < n_lambdas && s == NPLM_OK; b++) {
      s = nplm_test_set_int(t, NPLM_OPT_KERNEL_CENTERS, (int64_t)centers[a]);
      if (s == NPLM_OK) s = nplm_test_set_double(t, NPLM_OPT_KERNEL_LAMBDA, lambdas[b]);
      if (s == NPLM_OK) s = nplm__calibrate_pool(t, fn, pool_x, pool_n, d, pool_w, n_toys, seed,
                                                 tn, NULL, 0);
      if (s == NPLM_ENOCONV) s = NPLM_OK; /* t written; the row says how many converged */
      if (s != NPLM_OK) break;
      nplm_kernel_scan_row_t row, *r = &row;
      memset(r, 0, sizeof *r);
      r->size = sizeof *r;
      r->centers = (int64_t)centers[a];
      r->lambda = lambdas[b];
      r->n_toys = (int64_t)n_toys;
      s = nplm_test_toy_results(t, NPLM_RESULT_SECONDS, secs, n_toys);
      if (s == NPLM_OK) s = nplm_test_toy_results(t, NPLM_RESULT_CONVERGED, conv_k, n_toys);
      if (s != NPLM_OK) break;
      double conv = 0.0, sum = 0.0;
      for (size_t k = 0; k < n_toys; k++) {
        sum += tn[k];
        conv += conv_k[k];
      }
      r->mean_t = sum / (double)n_toys;
      r->converged = (int64_t)conv;
      if (nplm_chi2_fit_dof(tn, n_toys, &r->dof_fit) != NPLM_OK) r->dof_fit = NAN;
      nplm__sort_doubles(tn, n_toys);
      r->median_t = nplm__quantile_sorted(tn, n_toys, 0.5);
      nplm__sort_doubles(secs, n_toys);
      r->seconds_per_toy = nplm__quantile_sorted(secs, n_toys, 0.5);
      /* rows at the caller's stride; this release fills its own row, the caller's may be larger */
      memcpy((char *)rows + (a * n_lambdas + b) * row_size, r, sizeof *r);
    }
  /* the test's own settings come back whatever happened */
  nplm_status_t s1 = nplm_test_set_int(t, NPLM_OPT_KERNEL_CENTERS, (int64_t)keep_m);
  nplm_status_t s2 = nplm_test_set_double(t, NPLM_OPT_KERNEL_LAMBDA, keep_l);
  (void)s1, (void)s2;
  nplm__free(tn);
  if (s != NPLM_OK) {
    if (strncmp(nplm_last_error(), fn, sizeof fn - 1) != 0) nplm__prefix_error(s, fn);
    nplm__copy_error(t->msg);
  } else {
    memcpy(t->msg, saved_msg, sizeof saved_msg);
    nplm__clear_error();
  }
  return s;
}
