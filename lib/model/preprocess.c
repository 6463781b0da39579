/* Per-feature affine input maps fitted on the reference (nplm_preprocess_fit) and applied to
 * any sample (nplm_preprocess_apply). Sums run in event order, so the maps are reproducible. */
#include <float.h>
#include <math.h>

#include "core/core.h"
#define NPLM_H_INSIDE
#include "nplm/preprocess.h"
#undef NPLM_H_INSIDE

nplm_status_t nplm_preprocess_fit(const double *x, size_t n, size_t d, const double *w, int mode,
                                  double *shift, double *scale) {
  static const char fn[] = "nplm_preprocess_fit";
  nplm__clear_error();
  if (!x) return nplm__fail(NPLM_EINVAL, "%s: x is NULL", fn);
  if (!shift) return nplm__fail(NPLM_EINVAL, "%s: shift is NULL", fn);
  if (!scale) return nplm__fail(NPLM_EINVAL, "%s: scale is NULL", fn);
  if (n == 0) return nplm__fail(NPLM_EINVAL, "%s: n = 0 (need at least 1 event)", fn);
  if (d == 0) return nplm__fail(NPLM_EINVAL, "%s: d = 0 (need at least 1 feature)", fn);
  if (mode != NPLM_PREPROCESS_NPLM && mode != NPLM_PREPROCESS_STANDARD)
    return nplm__fail(NPLM_EINVAL, "%s: mode %d is not a nplm_preprocess_mode_t", fn, mode);
  if (n > SIZE_MAX / d) return nplm__fail(NPLM_EINVAL, "%s: n x d overflows", fn);
  double sw = 0.0;
  for (size_t i = 0; w && i < n; i++) {
    if (!isfinite(w[i]) || w[i] < 0.0)
      return nplm__fail(NPLM_EINVAL, "%s: w[%zu] = %g (weights must be finite and >= 0)", fn, i,
                        w[i]);
    sw += w[i];
  }
  if (!w) sw = (double)n;
  if (!(sw > 0.0) || !isfinite(sw))
    return nplm__fail(NPLM_EINVAL, "%s: the weights sum to %g", fn, sw);
  for (size_t i = 0; i < n * d; i++)
    if (!isfinite(x[i]))
      return nplm__fail(NPLM_EINVAL, "%s: x[%zu] (event %zu, feature %zu) is not finite", fn, i,
                        i / d, i % d);
  /* the maps go to a scratch copy first: shift and scale change only on success */
  double *tmp = nplm__malloc_array(2 * d, sizeof *tmp);
  if (!tmp) return nplm__fail(NPLM_ENOMEM, "%s: out of memory (%zu features)", fn, d);
  for (size_t j = 0; j < d; j++) {
    double m1 = 0.0, m2 = 0.0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
      const double v = x[i * d + j];
      m1 += (w ? w[i] : 1.0) * v;
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
    }
    m1 /= sw;
    for (size_t i = 0; i < n; i++) {
      const double v = x[i * d + j] - m1;
      m2 += (w ? w[i] : 1.0) * v * v;
    }
    const double sd = sqrt(m2 / sw);
    double sh = 0.0, sc = 1.0;
    if (mode == NPLM_PREPROCESS_STANDARD || lo < 0.0) {
      /* a constant feature: its computed spread is rounding of the mean, ~1e-17 of it */
      if (!(sd > 0.0) || sd <= 4.0 * DBL_EPSILON * fmax(fabs(lo), fabs(hi))) {
        nplm__free(tmp);
        return nplm__fail(NPLM_EINVAL,
                          "%s: feature %zu has no spread in the (weighted) reference (values "
                          "from %g to %g) and cannot be standardised", fn, j, lo, hi);
      }
      sh = m1, sc = 1.0 / sd;
    } else if (hi > 1.0) {
      sc = 1.0 / m1; /* m1 = 0 (all weight on x = 0) gives no finite map: refused below */
    }
    if (!isfinite(sh) || !isfinite(sc) || sc == 0.0) {
      nplm__free(tmp);
      return nplm__fail(NPLM_EINVAL, "%s: feature %zu gives no finite map (shift %g, scale %g)",
                        fn, j, sh, sc);
    }
    tmp[j] = sh, tmp[d + j] = sc;
  }
  for (size_t j = 0; j < d; j++) shift[j] = tmp[j], scale[j] = tmp[d + j];
  nplm__free(tmp);
  return NPLM_OK;
}

nplm_status_t nplm_preprocess_apply(double *x, size_t n, size_t d, const double *shift,
                                    const double *scale) {
  static const char fn[] = "nplm_preprocess_apply";
  nplm__clear_error();
  if (!x && n > 0) return nplm__fail(NPLM_EINVAL, "%s: x is NULL", fn);
  if (!shift) return nplm__fail(NPLM_EINVAL, "%s: shift is NULL", fn);
  if (!scale) return nplm__fail(NPLM_EINVAL, "%s: scale is NULL", fn);
  if (d == 0) return nplm__fail(NPLM_EINVAL, "%s: d = 0 (need at least 1 feature)", fn);
  for (size_t j = 0; j < d; j++) {
    if (!isfinite(shift[j])) return nplm__fail(NPLM_EINVAL, "%s: shift[%zu] is not finite", fn, j);
    if (!isfinite(scale[j])) return nplm__fail(NPLM_EINVAL, "%s: scale[%zu] is not finite", fn, j);
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) x[i * d + j] = (x[i * d + j] - shift[j]) * scale[j];
  return NPLM_OK;
}
