/* Observed significance and sensitivity summaries built on the chi2 and normal tails. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "stats/stats_internal.h"
#define NPLM_H_INSIDE
#include "nplm/stats.h"
#undef NPLM_H_INSIDE

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void nplm__sort_doubles(double *v, size_t n) { qsort(v, n, sizeof *v, cmp_double); }

double nplm__quantile_sorted(const double *v, size_t n, double q) {
  double h = q * (double)(n - 1);
  size_t i = (size_t)floor(h);
  if (i + 1 >= n) return v[n - 1];
  return v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

static nplm_status_t check_finite(const char *fn, const char *name, const double *v, size_t n) {
  if (!v) return nplm__fail(NPLM_EINVAL, "%s: %s is NULL", fn, name);
  size_t bad = nplm__first_nonfinite(v, n);
  if (bad < n) return nplm__fail(NPLM_EINVAL, "%s: %s[%zu] is not finite", fn, name, bad);
  return NPLM_OK;
}

/* ML dof from the positive entries (NaN when fewer than two). */
static nplm_status_t fit_dof_positive(const double *t, size_t n, double *dof) {
  double *pos = nplm__malloc_array(n ? n : 1, sizeof *pos);
  if (!pos) return NPLM_ENOMEM;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (t[i] > 0.0) pos[m++] = t[i];
  *dof = NAN;
  nplm_status_t s = NPLM_OK;
  if (m >= 2) s = nplm_chi2_fit_dof(pos, m, dof);
  nplm__free(pos);
  return s == NPLM_OK ? NPLM_OK : s;
}

nplm_status_t nplm_significance(const double *t_null, size_t n, double t_obs, double dof,
                                double *out, size_t n_out) {
  static const char fn[] = "nplm_significance";
  nplm__clear_error();
  if (n == 0) return nplm__fail(NPLM_EINVAL, "%s: n = 0: no toys", fn);
  nplm_status_t s = check_finite(fn, "t_null", t_null, n);
  if (s != NPLM_OK) return s;
  if (!isfinite(t_obs)) return nplm__fail(NPLM_EINVAL, "%s: t_obs is not finite", fn);
  if (!(dof > 0.0) || !isfinite(dof))
    return nplm__fail(NPLM_EINVAL, "%s: dof = %g must be finite and > 0", fn, dof);
  if (!out && n_out > 0) return nplm__fail(NPLM_EINVAL, "%s: out is NULL", fn);
  double r[NPLM_SIG_COUNT];
  size_t above = 0;
  int beyond = 1;
  for (size_t i = 0; i < n; i++) {
    above += t_null[i] >= t_obs;
    if (t_null[i] >= t_obs) beyond = 0;
  }
  r[NPLM_SIG_P_EMPIRICAL] = (1.0 + (double)above) / ((double)n + 1.0);
  r[NPLM_SIG_Z_EMPIRICAL] = nplm_z_from_p(r[NPLM_SIG_P_EMPIRICAL]);
  r[NPLM_SIG_P_CHI2] = nplm_chi2_sf(t_obs, dof);
  r[NPLM_SIG_Z_CHI2] = nplm_z_from_p(r[NPLM_SIG_P_CHI2]);
  double dfit;
  s = fit_dof_positive(t_null, n, &dfit);
  if (s == NPLM_ENOMEM) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  /* The only other failure is a fitted dof beyond the largest double (toys at DBL_MAX): one
   * entry of the summary, so it reads NaN like a fit with too few toys, and the rest holds. */
  if (s != NPLM_OK) dfit = (double)NAN;
  r[NPLM_SIG_DOF_FIT] = dfit;
  r[NPLM_SIG_P_CHI2_FIT] = isnan(dfit) ? (double)NAN : nplm_chi2_sf(t_obs, dfit);
  r[NPLM_SIG_Z_CHI2_FIT] = isnan(dfit) ? (double)NAN : nplm_z_from_p(r[NPLM_SIG_P_CHI2_FIT]);
  r[NPLM_SIG_BEYOND_TOYS] = beyond;
  r[NPLM_SIG_N_TOYS] = (double)n;
  double stat;
  r[NPLM_SIG_KS_P] = NAN;
  r[NPLM_SIG_KS_P_FIT] = NAN;
  if (nplm_ks_chi2(t_null, n, dof, &stat, &r[NPLM_SIG_KS_P]) != NPLM_OK)
    return nplm__prefix_error(NPLM_ENOMEM, fn);
  if (!isnan(dfit) && nplm_ks_chi2(t_null, n, dfit, &stat, &r[NPLM_SIG_KS_P_FIT]) != NPLM_OK)
    return nplm__prefix_error(NPLM_ENOMEM, fn);
  nplm__clear_error();
  if (n_out > 0) /* out may be NULL when n_out = 0 */
    memcpy(out, r, (n_out < NPLM_SIG_COUNT ? n_out : NPLM_SIG_COUNT) * sizeof *out);
  return NPLM_OK;
}

nplm_status_t nplm_sensitivity(const double *t_alt, size_t n_alt, const double *t_null,
                               size_t n_null, double dof, int method, double *out,
                               size_t n_out) {
  static const char fn[] = "nplm_sensitivity";
  nplm__clear_error();
  if (n_alt == 0) return nplm__fail(NPLM_EINVAL, "%s: n_alt = 0: no alternative toys", fn);
  nplm_status_t s = check_finite(fn, "t_alt", t_alt, n_alt);
  if (s != NPLM_OK) return s;
  if (method != NPLM_PVALUE_EMPIRICAL && method != NPLM_PVALUE_CHI2 &&
      method != NPLM_PVALUE_CHI2_FIT)
    return nplm__fail(NPLM_EINVAL, "%s: method = %d is not an nplm_pvalue_method", fn, method);
  if (method != NPLM_PVALUE_CHI2) {
    if (n_null == 0) return nplm__fail(NPLM_EINVAL, "%s: n_null = 0: no null toys", fn);
    s = check_finite(fn, "t_null", t_null, n_null);
    if (s != NPLM_OK) return s;
  } else if (!(dof > 0.0) || !isfinite(dof)) {
    return nplm__fail(NPLM_EINVAL, "%s: dof = %g must be finite and > 0", fn, dof);
  }
  if (!out && n_out > 0) return nplm__fail(NPLM_EINVAL, "%s: out is NULL", fn);
  double use_dof = dof;
  if (method == NPLM_PVALUE_CHI2_FIT) {
    s = fit_dof_positive(t_null, n_null, &use_dof);
    if (s == NPLM_ENOMEM) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
    if (s != NPLM_OK) return nplm__prefix_error(s, fn);
    if (isnan(use_dof))
      return nplm__fail(NPLM_EINVAL, "%s: t_null: fewer than two positive toys to fit a dof", fn);
  }
  double *v = nplm__malloc_array(n_alt, sizeof *v);
  if (!v) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  memcpy(v, t_alt, n_alt * sizeof *v);
  nplm__sort_doubles(v, n_alt);
  double mean = 0.0, var = 0.0;
  for (size_t i = 0; i < n_alt; i++) mean += v[i];
  mean /= (double)n_alt;
  for (size_t i = 0; i < n_alt; i++) var += (v[i] - mean) * (v[i] - mean);
  var = n_alt > 1 ? var / (double)(n_alt - 1) : (double)NAN;
  double r[NPLM_SENS_COUNT];
  const double tq[3] = {nplm__quantile_sorted(v, n_alt, 0.5), nplm__quantile_sorted(v, n_alt, 0.16),
                        nplm__quantile_sorted(v, n_alt, 0.84)};
  const double err = sqrt(acos(-1.0) / 2.0) * sqrt(var) / sqrt((double)n_alt);
  double z[5];
  const double targets[5] = {tq[0], tq[1], tq[2], tq[0] - err, tq[0] + err};
  for (int k = 0; k < 5; k++) {
    double p;
    if (method == NPLM_PVALUE_EMPIRICAL) {
      if (isnan(targets[k])) {
        z[k] = NAN;
        continue;
      }
      if (nplm_pvalue_empirical(t_null, n_null, targets[k], &p) != NPLM_OK) p = NAN;
    } else {
      p = nplm_chi2_sf(targets[k], use_dof);
    }
    z[k] = nplm_z_from_p(p);
  }
  nplm__free(v);
  r[NPLM_SENS_Z_MEDIAN] = z[0];
  r[NPLM_SENS_Z_16] = z[1];
  r[NPLM_SENS_Z_84] = z[2];
  r[NPLM_SENS_Z_MEDIAN_ERR] = 0.5 * fabs(z[4] - z[3]);
  r[NPLM_SENS_T_MEDIAN] = tq[0];
  r[NPLM_SENS_T_MEDIAN_ERR] = err;
  nplm__clear_error();
  if (n_out > 0) /* out may be NULL when n_out = 0 */
    memcpy(out, r, (n_out < NPLM_SENS_COUNT ? n_out : NPLM_SENS_COUNT) * sizeof *out);
  return NPLM_OK;
}
