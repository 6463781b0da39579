/* The chi-square distribution: survival function, its inverse and the maximum-likelihood fit
 * of the degrees of freedom. chi2(k) is Gamma(k/2, scale 2): sf(x) = Q(k/2, x/2). */
#include <float.h>
#include <math.h>

#include "core/core.h"
#include "stats/stats_internal.h"
#define NPLM_H_INSIDE
#include "nplm/stats.h"
#undef NPLM_H_INSIDE

#define LN2 0.69314718055994530941723212145817657
#define LN_SQRT_2PI 0.91893853320467274178032973640562 /* log(sqrt(2 pi)) */

static int bad_dof(double dof) { return isnan(dof) || !(dof > 0.0) || isinf(dof); }

double nplm_chi2_sf(double x, double dof) {
  if (isnan(x) || bad_dof(dof)) return (double)NAN;
  if (x <= 0.0) return 1.0;
  double q;
  nplm__gamma_pq(0.5 * dof, 0.5 * x, NULL, &q);
  return q;
}

/* log(Gamma(a + 1)) / a, finite for every finite a > 0 (log Gamma(a + 1) itself overflows
 * from a ~ 2.5e305): by Stirling's series from a = 1e10 on, where its omitted terms are below
 * 1e-40. */
static double lgamma1_over_a(double a) {
  if (a < 1e10) return nplm__lgamma_pos(a + 1.0) / a;
  const double la = log(a);
  return la - 1.0 + (0.5 * la + LN_SQRT_2PI + 1.0 / (12.0 * a)) / a;
}

/* The y > 0 with Q(a, y) = p, 0 < p < 1. Safeguarded Newton iteration on log Q(a, y) - log p
 * (p <= 1/2), or on log P(a, y) - log(1 - p) in log y (p > 1/2, where 1 - p is exact): both
 * are close to linear in the far tails, and neither forms a difference of near-equal
 * numbers. The root is kept inside a bracket [lo, hi] that every evaluation narrows. */
static double gamma_isf_newton(double a, double p) {
  const int lower = p > 0.5;
  const double target = lower ? log(1.0 - p) : log(p);
  double lo = 0.0, hi = (double)INFINITY;

  /* Start: Wilson-Hilferty; in the lower tail also the bound P(a, y) < y^a / Gamma(a + 1),
   * whose solution y_lo is a lower bound of the root and a close one where P is small. */
  const double c = 1.0 / (9.0 * a), w = 1.0 - c + nplm_z_from_p(p) * sqrt(c);
  double y = w > 0.0 ? a * w * w * w : 0.0;
  if (lower) {
    lo = exp(target / a + lgamma1_over_a(a));
    if (lo == 0.0 && !(y > 0.0)) return 0.0; /* the root underflows */
    if (!(y > lo)) y = lo;
  } else if (!(y > 0.0)) {
    y = a > 1.0 ? a : 1.0;
  }
  if (y == (double)INFINITY) y = DBL_MAX;

  double last_step = (double)INFINITY;
  for (int it = 0; it < 400; it++) {
    double lp, lq, lf;
    nplm__gamma_logpq(a, y, &lp, &lq, &lf);
    /* g increases with y in both cases. */
    const double g = lower ? lp - target : target - lq;
    if (g == 0.0) return y;
    if (g < 0.0)
      lo = y;
    else
      hi = y;
    double ynew;
    if (lower) {
      /* d log P / d log y = f / P with f = y^a e^-y / Gamma(a). */
      const double slope = exp(lf - lp);
      ynew = y * exp(-g / slope);
    } else {
      /* d log Q / dy = -(f / y) / Q. */
      const double slope = exp(lf - lq) / y;
      ynew = y - g / slope;
    }
    if (!(ynew > lo && ynew < hi)) { /* outside the bracket (or NaN): bisect */
      if (hi == (double)INFINITY)
        ynew = 2.0 * (lo > y ? lo : y);
      else if (lo > 0.0)
        ynew = sqrt(lo) * sqrt(hi);
      else
        ynew = 0.5 * hi;
      if (!(ynew > lo && ynew < hi)) return y; /* bracket at the resolution of doubles */
      last_step = (double)INFINITY;
    } else {
      const double step = fabs(ynew - y);
      if (step <= 2.0 * DBL_EPSILON * y) return ynew;
      /* Rounding noise in g: the step stopped shrinking at a tiny relative size. */
      if (step < 1e-13 * y && step >= 0.5 * last_step) return ynew;
      last_step = step;
    }
    y = ynew;
  }
  return y;
}

/* log P(a, y) - log(1 - p) (lower) or log p - log Q(a, y): increasing in y, 0 at the root. */
static double isf_gap(double a, double y, int lower, double target) {
  double lp, lq;
  nplm__gamma_logpq(a, y, &lp, &lq, NULL);
  return lower ? lp - target : target - lq;
}

/* Newton's answer, moved by whole units in the last place until the root lies between the
 * doubles either side of it. Newton's stopping rule leaves it within a few ulps, which is
 * all that matters where the root is smooth; for dof/2 beyond ~1e32 the distribution is
 * narrower than the spacing of doubles and the tail jumps from ~1/2 to 0 within an ulp, so
 * only this bracket says which double the quantile is. */
static double gamma_isf(double a, double p) {
  const int lower = p > 0.5;
  const double target = lower ? log(1.0 - p) : log(p);
  double y = gamma_isf_newton(a, p);
  if (!(y > 0.0) || !(y < (double)INFINITY)) return y;
  for (int k = 0; k < 16; k++) {
    const double gy = isf_gap(a, y, lower, target);
    if (gy > 0.0) { /* y is above the root: step down while the double below still is */
      const double below = nextafter(y, 0.0);
      if (!(below > 0.0) || !(isf_gap(a, below, lower, target) > 0.0)) break;
      y = below;
    } else if (gy < 0.0) {
      const double above = nextafter(y, (double)INFINITY);
      if (!(above < (double)INFINITY) || !(isf_gap(a, above, lower, target) < 0.0)) break;
      y = above;
    } else {
      break;
    }
  }
  return y;
}

double nplm_chi2_isf(double p, double dof) {
  if (isnan(p) || bad_dof(dof) || p < 0.0 || p > 1.0) return (double)NAN;
  if (p == 0.0) return (double)INFINITY;
  if (p == 1.0) return 0.0;
  return 2.0 * gamma_isf(0.5 * dof, p);
}

/* The a > 0 with digamma(a) = L: Newton from Minka's start (digamma is increasing and
 * concave, so the iteration is monotone once past the first step). */
static double digamma_inv(double L) {
  const double euler_gamma = 0.57721566490153286060651209008240243;
  double a = L >= -2.22 ? exp(L) + 0.5 : -1.0 / (L + euler_gamma);
  for (int it = 0; it < 100 && isfinite(a); it++) {
    const double step = (nplm__digamma(a) - L) / nplm__trigamma(a);
    double anew = a - step;
    if (!(anew > 0.0)) anew = 0.5 * a;
    const double change = fabs(anew - a);
    a = anew;
    if (change <= 2.0 * DBL_EPSILON * a) break;
  }
  return a;
}

nplm_status_t nplm_chi2_fit_dof(const double *t, size_t n, double *dof) {
  static const char fn[] = "nplm_chi2_fit_dof";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (!dof) return nplm__fail(NPLM_EINVAL, "%s: dof is NULL", fn);
  if (n < 2) return nplm__fail(NPLM_EINVAL, "%s: n = %zu is < 2", fn, n);
  /* Mean of log(t / 2), with Neumaier's compensated summation. */
  double sum = 0.0, comp = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(t[i]))
      return nplm__fail(NPLM_EINVAL, "%s: t[%zu] = %g is not finite", fn, i, t[i]);
    if (!(t[i] > 0.0)) return nplm__fail(NPLM_EINVAL, "%s: t[%zu] = %g is not > 0", fn, i, t[i]);
    const double v = log(t[i]), s = sum + v;
    comp += fabs(sum) >= fabs(v) ? (sum - s) + v : (v - s) + sum;
    sum = s;
  }
  const double mean_log = (sum + comp) / (double)n - LN2;
  /* d/dk of the log-likelihood: sum log(t/2) / 2 - n digamma(k/2) / 2 = 0. */
  const double k = 2.0 * digamma_inv(mean_log);
  if (!isfinite(k) || !(k > 0.0))
    return nplm__fail(NPLM_EINVAL,
                      "%s: t: the fitted dof is not representable (mean log(t/2) = %g)", fn,
                      mean_log);
  *dof = k;
  return NPLM_OK;
}
