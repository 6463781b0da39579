/* Binned preliminary study of a shape nuisance: per-bin log ratios of the varied samples to the
 * nominal one, fitted as polynomials in nu without constant term (log r(0) = 0) of increasing
 * order; the recommended order is the smallest whose chi2 is acceptable. */
#include <math.h>
#include <string.h>

#include "nuisance/nuisance.h"

#define NPLM_H_INSIDE
#include "nplm/stats.h"
#undef NPLM_H_INSIDE

/* Weighted sums per bin of one sample: sum w and sum w^2. */
static void bin_sums(const double *x, size_t n, size_t d, size_t feature, const double *w,
                     const double *edges, size_t nb, double *sw, double *sw2) {
  for (size_t b = 0; b < nb; b++) sw[b] = sw2[b] = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double v = x[i * d + feature], wi = w ? w[i] : 1.0;
    size_t lo = 0, hi = nb; /* edges[lo] <= v < edges[hi] */
    if (!(v >= edges[0] && v < edges[nb])) continue;
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      if (v >= edges[mid]) lo = mid;
      else hi = mid;
    }
    sw[lo] += wi;
    sw2[lo] += wi * wi;
  }
}

/* Weighted least squares of y_i = sum_{k=1..K} a_k nu_i^k, returns chi2 (normal equations with
 * an own Gaussian elimination; K <= 8). */
static double fit_chi2(const double *nu, const double *y, const double *var, size_t m, unsigned K) {
  double A[8][9];
  memset(A, 0, sizeof A);
  for (size_t i = 0; i < m; i++) {
    double p[8], q = 1.0;
    for (unsigned k = 0; k < K; k++) p[k] = q *= nu[i];
    for (unsigned a = 0; a < K; a++) {
      for (unsigned b = 0; b < K; b++) A[a][b] += p[a] * p[b] / var[i];
      A[a][K] += p[a] * y[i] / var[i];
    }
  }
  for (unsigned c = 0; c < K; c++) { /* partial pivoting */
    unsigned piv = c;
    for (unsigned r = c + 1; r < K; r++)
      if (fabs(A[r][c]) > fabs(A[piv][c])) piv = r;
    if (piv != c)
      for (unsigned j = 0; j <= K; j++) {
        double tmp = A[c][j];
        A[c][j] = A[piv][j];
        A[piv][j] = tmp;
      }
    if (A[c][c] == 0.0) return INFINITY;
    for (unsigned r = c + 1; r < K; r++) {
      double f = A[r][c] / A[c][c];
      for (unsigned j = c; j <= K; j++) A[r][j] -= f * A[c][j];
    }
  }
  double a[8];
  for (unsigned c = K; c-- > 0;) {
    double s = A[c][K];
    for (unsigned j = c + 1; j < K; j++) s -= A[c][j] * a[j];
    a[c] = s / A[c][c];
  }
  double chi2 = 0.0;
  for (size_t i = 0; i < m; i++) {
    double f = 0.0, q = 1.0;
    for (unsigned k = 0; k < K; k++) f += a[k] * (q *= nu[i]);
    chi2 += (y[i] - f) * (y[i] - f) / var[i];
  }
  return chi2;
}

nplm_status_t nplm_nuisance_binned_study(const double *x0, size_t n0, const double *w0, size_t d,
                                         size_t feature, const double *edges, size_t n_bins,
                                         size_t n_values, const double *nu_values,
                                         const double *const *x_var, const size_t *n_var,
                                         const double *const *w_var, unsigned max_order,
                                         double *chi2, double *p_values, unsigned *order) {
  static const char fn[] = "nplm_nuisance_binned_study";
  nplm__clear_error();
  if (d == 0 || feature >= d)
    return nplm__fail(NPLM_EINVAL, "%s: feature = %zu is not below d = %zu", fn, feature, d);
  nplm_status_t s = nplm__check_events(fn, "x0", x0, n0, d, "w0", w0);
  if (s == NPLM_OK) s = nplm__check_weight_sum(fn, "w0", w0, n0, NULL);
  if (s != NPLM_OK) return s;
  if (!edges || n_bins < 1 || n_bins > 10000)
    return nplm__fail(NPLM_EINVAL, "%s: need edges and 1 <= n_bins <= 10000", fn);
  for (size_t b = 0; b < n_bins; b++)
    if (!(edges[b] < edges[b + 1]))
      return nplm__fail(NPLM_EINVAL, "%s: edges[%zu] must increase", fn, b + 1);
  if (max_order < 1 || max_order > 8)
    return nplm__fail(NPLM_EINVAL, "%s: max_order = %u is outside [1, 8]", fn, max_order);
  if (n_values < 1 || n_values > 64 || !nu_values || !x_var || !n_var)
    return nplm__fail(NPLM_EINVAL, "%s: need 1..64 varied samples (nu_values, x_var, n_var)", fn);
  if (n_values < max_order)
    return nplm__fail(NPLM_EINVAL, "%s: %zu values of nu cannot fix order %u", fn, n_values,
                      max_order);
  if (!chi2 || !order) return nplm__fail(NPLM_EINVAL, "%s: chi2 and order are needed", fn);
  for (size_t i = 0; i < n_values; i++) {
    if (!isfinite(nu_values[i]) || nu_values[i] == 0.0)
      return nplm__fail(NPLM_EINVAL, "%s: nu_values[%zu] must be finite and non-zero", fn, i);
    s = nplm__check_varied_sample(fn, i, x_var[i], n_var[i], d, w_var ? w_var[i] : NULL);
    if (s != NPLM_OK) return s;
  }
  double *buf = nplm__malloc_array((4 + 2 * n_values) * n_bins + 3 * n_values, sizeof *buf);
  if (!buf) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  double *s0 = buf, *q0 = s0 + n_bins, *sv = q0 + n_bins, *qv = sv + n_values * n_bins;
  double *y = qv + n_values * n_bins, *var = y + n_values, *nus = var + n_values;
  bin_sums(x0, n0, d, feature, w0, edges, n_bins, s0, q0);
  for (size_t i = 0; i < n_values; i++)
    bin_sums(x_var[i], n_var[i], d, feature, w_var ? w_var[i] : NULL, edges, n_bins,
             sv + i * n_bins, qv + i * n_bins);
  double total[8] = {0};
  size_t used_points = 0, used_bins = 0;
  for (size_t b = 0; b < n_bins; b++) {
    size_t m = 0;
    for (size_t i = 0; i < n_values; i++) {
      const double a = sv[i * n_bins + b], c = s0[b];
      if (!(a > 0.0) || !(c > 0.0)) continue; /* empty bin: no ratio */
      y[m] = log(a / c);
      var[m] = qv[i * n_bins + b] / (a * a) + q0[b] / (c * c); /* error of a log ratio */
      nus[m] = nu_values[i];
      if (!(var[m] > 0.0)) var[m] = 1e-300;
      m++;
    }
    if (m < max_order) continue;
    used_points += m;
    used_bins++;
    for (unsigned K = 1; K <= max_order; K++) total[K - 1] += fit_chi2(nus, y, var, m, K);
  }
  nplm__free(buf);
  if (used_points == 0)
    return nplm__fail(NPLM_EINVAL, "%s: no bin has events in every sample", fn);
  unsigned best = max_order;
  for (unsigned K = 1; K <= max_order; K++) {
    chi2[K - 1] = total[K - 1];
    /* only the bins fitted count: K coefficients each (empty bins once made dof negative) */
    double dof = (double)used_points - (double)K * (double)used_bins;
    double p = dof > 0 ? nplm_chi2_sf(total[K - 1], dof) : (double)NAN;
    if (p_values) p_values[K - 1] = p;
    if (best == max_order && K < max_order && p > 0.05) best = K;
  }
  *order = best;
  return NPLM_OK;
}
