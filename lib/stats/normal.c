/* The standard normal distribution: upper-tail p-values and one-sided Z-scores. */
#include <float.h>
#include <math.h>

#include "core/core.h"
#include "stats/stats_internal.h"
#define NPLM_H_INSIDE
#include "nplm/stats.h"
#undef NPLM_H_INSIDE

#define SQRT1_2_HI 0.7071067811865476       /* 1/sqrt(2) rounded to double ... */
#define SQRT1_2_LO (-4.833646656726457e-17) /* ... and the rest */
#define TWO_OVER_SQRT_PI 1.1283791670955125738961589031215452
#define INV_SQRT_2PI 0.39894228040143267793994605993438187
#define LN_SQRT_2PI 0.91893853320467274178032973640562

double nplm_p_from_z(double z) {
  if (isnan(z)) return z;
  if (z > 40.0) return 0.5 * erfc(z * SQRT1_2_HI); /* 0 or nearly: no correction needed */
  if (z < -40.0) return 1.0;
  /* 1 - Phi(z) = erfc(z / sqrt 2) / 2. y = z / sqrt 2 rounded is off by delta, which would
   * cost a relative error of about z^2 * 1e-16 in the far tail; the first-order term
   * erfc(y + delta) = erfc(y) - delta (2/sqrt pi) exp(-y^2) removes it. */
  const double y = z * SQRT1_2_HI;
  const double delta = nplm__two_prod_err(z, SQRT1_2_HI, y) + z * SQRT1_2_LO;
  const double e = erfc(y);
  if (y <= 5.0) return 0.5 * (e - delta * TWO_OVER_SQRT_PI * exp(-y * y));
  /* (2/sqrt pi) exp(-y^2) / erfc(y) = 2y + 1/y + O(y^-3), both sides may underflow here. */
  return 0.5 * e * (1.0 - delta * (2.0 * y + 1.0 / y));
}

static double poly7(const double *c, double x) {
  return ((((((c[7] * x + c[6]) * x + c[5]) * x + c[4]) * x + c[3]) * x + c[2]) * x + c[1]) * x +
         c[0];
}

/* Wichura (1988), algorithm AS 241, PPND16: Phi^-1 to about 1e-16 relative. */
static const double as241_a[8] = {3.3871328727963666080e0,  1.3314166789178437745e+2,
                                  1.9715909503065514427e+3, 1.3731693765509461125e+4,
                                  4.5921953931549871457e+4, 6.7265770927008700853e+4,
                                  3.3430575583588128105e+4, 2.5090809287301226727e+3};
static const double as241_b[8] = {1.0,
                                  4.2313330701600911252e+1,
                                  6.8718700749205790830e+2,
                                  5.3941960214247511077e+3,
                                  2.1213794301586595867e+4,
                                  3.9307895800092710610e+4,
                                  2.8729085735721942674e+4,
                                  5.2264952788528545610e+3};
static const double as241_c[8] = {1.42343711074968357734e0,  4.63033784615654529590e0,
                                  5.76949722146069140550e0,  3.64784832476320460504e0,
                                  1.27045825245236838258e0,  2.41780725177450611770e-1,
                                  2.27238449892691845833e-2, 7.74545014278341407640e-4};
static const double as241_d[8] = {1.0,
                                  2.05319162663775882187e0,
                                  1.67638483018380384940e0,
                                  6.89767334985100004550e-1,
                                  1.48103976427480074590e-1,
                                  1.51986665636164571966e-2,
                                  5.47593808499534494600e-4,
                                  1.05075007164441684324e-9};
static const double as241_e[8] = {6.65790464350110377720e0,  5.46378491116411436990e0,
                                  1.78482653991729133580e0,  2.96560571828504891230e-1,
                                  2.65321895265761230930e-2, 1.24266094738807843860e-3,
                                  2.71155556874348757815e-5, 2.01033439929228813265e-7};
static const double as241_f[8] = {1.0,
                                  5.99832206555887937690e-1,
                                  1.36929880922735805310e-1,
                                  1.48753612908506148525e-2,
                                  7.86869131145613259100e-4,
                                  1.84631831751005468180e-5,
                                  1.42151175831644588870e-7,
                                  2.04426310338993978564e-15};

double nplm__mills_series(double r2) {
  double term = 1.0, sum = 1.0;
  for (int k = 1; k < 60; k++) {
    term *= -(2.0 * k - 1.0) * r2;
    sum += term;
    if (fabs(term) < 1e-18 * sum) break;
  }
  return sum;
}

/* log of the upper tail Q(w) for w >= 10: -w^2/2 - log sqrt(2 pi) + log R(w), R = Q / phi the
 * Mills ratio, from its asymptotic series (terms shrink to below 1e-20 before they grow). */
static double log_upper_tail_far(double w, double *mills) {
  *mills = nplm__mills_series(1.0 / (w * w)) / w;
  return -0.5 * w * w - LN_SQRT_2PI + log(*mills);
}

double nplm_z_from_p(double p) {
  if (isnan(p) || p < 0.0 || p > 1.0) return (double)NAN;
  if (p == 0.0) return (double)INFINITY;
  if (p == 1.0) return -(double)INFINITY;
  /* Z = Phi^-1(1/2 + q), q = 1/2 - p; exact for p >= 1/4 and rounded relative to 1/2
   * below, where Z is far from 0. */
  const double q = 0.5 - p;
  if (fabs(q) <= 0.425) {
    const double r = 0.180625 - q * q;
    double w = q * poly7(as241_a, r) / poly7(as241_b, r);
    /* One Newton step on erf(w / sqrt 2) / 2 = q, relative to q near p = 1/2. */
    const double f = 0.5 * erf(w * SQRT1_2_HI) - q;
    w -= f / (INV_SQRT_2PI * exp(-0.5 * w * w));
    return w;
  }
  /* Tail: solve Q(w) = s for w > 0 with s the smaller tail (1 - p is exact for p > 1/2). */
  const double s = q > 0.0 ? p : 1.0 - p;
  double r = sqrt(-log(s)), w;
  if (r <= 5.0) {
    r -= 1.6;
    w = poly7(as241_c, r) / poly7(as241_d, r);
  } else {
    r -= 5.0;
    w = poly7(as241_e, r) / poly7(as241_f, r);
  }
  const double log_s = log(s); /* exact-input log: subnormal s keeps full accuracy here */
  for (int it = 0; it < 4; it++) {
    double step;
    if (w < 10.0) {
      /* Halley on Q(w) - s, with u = (Q - s) / phi. */
      const double u = (nplm_p_from_z(w) - s) / (INV_SQRT_2PI * exp(-0.5 * w * w));
      step = u / (1.0 - 0.5 * w * u);
    } else {
      /* Newton on log Q(w) - log s: d/dw log Q = -1 / R(w). */
      double mills;
      step = (log_upper_tail_far(w, &mills) - log_s) * mills;
    }
    w += step;
    if (fabs(step) <= 2.0 * DBL_EPSILON * w) break;
  }
  return q > 0.0 ? w : -w;
}
