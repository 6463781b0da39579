/* Empirical p-value of an observed test statistic against a sample of the null distribution. */
#include <math.h>

#include "core/core.h"
#define NPLM_H_INSIDE
#include "nplm/stats.h"
#undef NPLM_H_INSIDE

nplm_status_t nplm_pvalue_empirical(const double *t_null, size_t n, double t_obs, double *p) {
  static const char fn[] = "nplm_pvalue_empirical";
  nplm__clear_error();
  if (!t_null) return nplm__fail(NPLM_EINVAL, "%s: t_null is NULL", fn);
  if (!p) return nplm__fail(NPLM_EINVAL, "%s: p is NULL", fn);
  if (n < 1) return nplm__fail(NPLM_EINVAL, "%s: n = 0 (need at least 1 null value)", fn);
  if (isnan(t_obs)) return nplm__fail(NPLM_EINVAL, "%s: t_obs is NaN", fn);
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(t_null[i])) return nplm__fail(NPLM_EINVAL, "%s: t_null[%zu] is NaN", fn, i);
    if (t_null[i] >= t_obs) count++;
  }
  /* (1 + #{t_null >= t_obs}) / (n + 1): never 0, and a valid p-value (Davison and Hinkley). */
  *p = ((double)count + 1.0) / ((double)n + 1.0);
  return NPLM_OK;
}
