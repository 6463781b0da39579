/* Special functions of the statistics layer: log-gamma, digamma, trigamma, the regularised
 * incomplete gamma functions and the binomial probability. */
#include <float.h>
#include <math.h>

#include "stats/stats_internal.h"
#include "stats/temme_coeffs.h"

#define LN_SQRT_2PI 0.91893853320467274178032973640562 /* log(sqrt(2 pi)) */
#define LN_2PI 1.8378770664093454835606594728112       /* log(2 pi) */
#define SQRT_PI 1.7724538509055160272981674833411       /* sqrt(pi) */
#define SQRT_2PI 2.5066282746310005024157652848110      /* sqrt(2 pi) */

/* From this a on, P(a, x) and Q(a, x) come from Temme's uniform asymptotic expansion (four
 * terms: truncation error below 1e-18 relative) instead of the series and continued fraction,
 * whose length grows like sqrt(a) and which stall where a + 1 rounds to a. */
#define TEMME_MIN_A 1e4

/* Stirling series of log(Gamma(x)) - ((x - 1/2) log x - x + log sqrt(2 pi)), x >= 10: the
 * first omitted term is below 2e-18 there. */
static double stirling_corr(double x) {
  const double r = 1.0 / x, r2 = r * r;
  return r *
         (1.0 / 12 + r2 * (-1.0 / 360 +
                           r2 * (1.0 / 1260 +
                                 r2 * (-1.0 / 1680 +
                                       r2 * (1.0 / 1188 +
                                             r2 * (-691.0 / 360360 +
                                                   r2 * (1.0 / 156 + r2 * (-3617.0 / 122400))))))));
}

double nplm__lgamma_pos(double x) {
  if (!(x > 0.0)) return (double)NAN;
  if (x == (double)INFINITY) return x;
  double prod = 1.0;
  while (x < 10.0) { /* Gamma(x) = Gamma(x + k) / (x (x + 1) ... (x + k - 1)) */
    prod *= x;
    x += 1.0;
  }
  return (x - 0.5) * log(x) - x + LN_SQRT_2PI + stirling_corr(x) - log(prod);
}

double nplm__digamma(double x) {
  if (!(x > 0.0)) return (double)NAN;
  if (x == (double)INFINITY) return x;
  double shift = 0.0;
  while (x < 10.0) { /* psi(x) = psi(x + 1) - 1/x */
    shift += 1.0 / x;
    x += 1.0;
  }
  const double r2 = 1.0 / (x * x);
  /* log x - 1/(2x) - sum B_2k / (2k x^2k); first omitted term below 5e-17 at x = 10. */
  const double s =
      r2 * (1.0 / 12 -
            r2 * (1.0 / 120 -
                  r2 * (1.0 / 252 -
                        r2 * (1.0 / 240 - r2 * (1.0 / 132 - r2 * (691.0 / 32760 - r2 / 12))))));
  return log(x) - 0.5 / x - s - shift;
}

double nplm__trigamma(double x) {
  if (!(x > 0.0)) return (double)NAN;
  if (x == (double)INFINITY) return 0.0;
  double shift = 0.0;
  while (x < 10.0) { /* psi'(x) = psi'(x + 1) + 1/x^2 */
    shift += 1.0 / (x * x);
    x += 1.0;
  }
  const double r = 1.0 / x, r2 = r * r;
  const double s =
      r * (1.0 +
           r * (0.5 + r * (1.0 / 6 -
                           r2 * (1.0 / 30 -
                                 r2 * (1.0 / 42 -
                                       r2 * (1.0 / 30 - r2 * (5.0 / 66 - r2 * (691.0 / 2730 -
                                                                               r2 * 7.0 / 6))))))));
  return s + shift;
}

/* log(1 + u) - u for u > -1 without cancellation near 0. */
static double log1pmx(double u) {
  if (fabs(u) > 0.5) return log1p(u) - u;
  /* With s = u / (2 + u): log(1 + u) = 2 atanh(s) = 2 (s + s^3/3 + ...) and u - 2 s = s u. */
  const double s = u / (2.0 + u), s2 = s * s;
  double term = 2.0 * s * s2, sum = 0.0;
  for (int k = 3; k < 200; k += 2) {
    const double add = term / k;
    sum += add;
    if (fabs(add) <= 1e-17 * fabs(sum)) break;
    term *= s2;
  }
  return sum - s * u;
}

/* log(x^a e^-x / Gamma(a)), x > 0: the common factor of the series and the continued
 * fraction. */
static double gamma_log_prefactor(double a, double x) {
  if (a < 10.0) return a * log(x) - x - nplm__lgamma_pos(a);
  /* Stirling form: a log(x/a) - (x - a) + log(a)/2 - log sqrt(2 pi) - corr(a), the first two
   * terms as a * log1pmx((x - a)/a) so nothing cancels near x = a. */
  return a * log1pmx((x - a) / a) + 0.5 * log(a) - LN_SQRT_2PI - stirling_corr(a);
}

static double horner(const double *c, int n, double x) {
  double s = c[n - 1];
  for (int i = n - 2; i >= 0; i--) s = s * x + c[i];
  return s;
}

/* erfc(z) exp(z^2), z >= 0 (finite where erfc underflows). */
static double erfcx_pos(double z) {
  if (z < 25.0) { /* exp(z^2) as exp(hi) exp(lo), z^2 = hi + lo exactly */
    const double hi = z * z, lo = nplm__two_prod_err(z, z, hi);
    return erfc(z) * exp(hi) * exp(lo);
  }
  return nplm__mills_series(0.5 / (z * z)) / (z * SQRT_PI); /* the normal tail's series */
}

/* log P(a, x) and log Q(a, x) for a >= TEMME_MIN_A, 0 < x < inf, by Temme's expansion (DLMF
 * 8.12): with lambda = x/a, eta = sign(lambda - 1) sqrt(2 (lambda - 1 - log lambda)),
 *   Q = erfc(eta sqrt(a/2)) / 2 + R,  P = erfc(-eta sqrt(a/2)) / 2 - R,
 *   R = exp(-a eta^2 / 2) / sqrt(2 pi a) sum_{k<4} c_k(eta) a^-k.
 * The smaller of P and Q is formed as exp(-a eta^2 / 2) (erfcx(|z|) / 2 -+ R'), a sum of
 * like-signed terms, so its logarithm stays accurate far below the underflow threshold. */
static void temme_logpq(double a, double x, double *lp, double *lq) {
  const double lambda = x / a, u = (x - a) / a;
  /* t = lambda - 1 - log(lambda) >= 0 without cancellation near lambda = 1 nor underflow of
   * lambda far below it. */
  const double t = lambda >= DBL_MIN ? -log1pmx(u) : u - (log(x) - log(a));
  const double f = a * t;
  if (f == (double)INFINITY) { /* the smaller one is below every double, also as a log */
    *lp = u > 0.0 ? 0.0 : -(double)INFINITY;
    *lq = u > 0.0 ? -(double)INFINITY : 0.0;
    return;
  }
  /* eta / u = sqrt(2 t / u^2), by its series where u^2 would lose digits or underflow. */
  const double r = fabs(u) < 1e-4
                       ? 1.0 + u * (-2.0 / 3 + u * (0.5 + u * (-0.4 + u * (1.0 / 3))))
                       : 2.0 * t / (u * u);
  const double eta = u * sqrt(r), z = eta * sqrt(0.5 * a), ia = 1.0 / a;
  double s;
  if (fabs(eta) <= 1.0) {
    s = horner(nplm__temme_c0, NPLM__TEMME_C0_N, eta) +
        ia * (horner(nplm__temme_c1, NPLM__TEMME_C1_N, eta) +
              ia * (horner(nplm__temme_c2, NPLM__TEMME_C2_N, eta) +
                    ia * horner(nplm__temme_c3, NPLM__TEMME_C3_N, eta)));
  } else {
    /* Closed forms (c_3 / a^3 < 1e-12 is dropped; here f > a/2, so P or Q underflows and only
     * its logarithm is representable): with v = 1/(lambda - 1), e = 1/eta,
     * c_0 = v - e, c_1 = e^3 - lambda v^3 - v/12,
     * c_2 = -3 e^5 + lambda (3 lambda v^5 - v^4 + v^3/12) + v/288. */
    const double v = 1.0 / u, e = 1.0 / eta, v2 = v * v, v3 = v2 * v, e2 = e * e;
    const double c0 = v - e, c1 = e * e2 - lambda * v3 - v / 12.0;
    const double c2 =
        -3.0 * e * e2 * e2 + lambda * (3.0 * lambda * v3 * v2 - v2 * v2 + v3 / 12.0) + v / 288.0;
    s = c0 + ia * (c1 + ia * c2);
  }
  const double rs = s / (SQRT_2PI * sqrt(a));
  if (eta >= 0.0) {
    *lq = -f + log(0.5 * erfcx_pos(z) + rs);
    *lp = log1p(-exp(*lq));
  } else {
    *lp = -f + log(0.5 * erfcx_pos(-z) - rs);
    *lq = log1p(-exp(*lp));
  }
}

void nplm__gamma_logpq(double a, double x, double *lp, double *lq, double *lf) {
  double p, q, f = (double)NAN;
  if (isnan(a) || isnan(x) || !(a > 0.0) || a == (double)INFINITY) {
    p = q = (double)NAN;
  } else if (x <= 0.0) {
    p = -(double)INFINITY;
    q = 0.0;
  } else if (x == (double)INFINITY) {
    p = 0.0;
    q = -(double)INFINITY;
  } else if (a >= TEMME_MIN_A) {
    f = gamma_log_prefactor(a, x);
    temme_logpq(a, x, &p, &q);
  } else {
    f = gamma_log_prefactor(a, x);
    /* Terms of both expansions fall off like exp(-k^2 / 2a) near x = a: a generous cap (at
     * most 5000 terms below TEMME_MIN_A). */
    const double max_iter = 1000.0 + 40.0 * sqrt(a);
    if (x < a + 1.0) {
      /* P = f / a * sum_k x^k / ((a + 1) ... (a + k)) */
      double ap = a, del = 1.0 / a, sum = del;
      for (double k = 0; k < max_iter; k += 1.0) {
        ap += 1.0;
        del *= x / ap;
        sum += del;
        if (del < sum * 1e-17) break;
      }
      p = f + log(sum);
      q = log1p(-exp(p));
    } else {
      /* Q = f / (x + 1 - a - 1 (1 - a) / (x + 3 - a - 2 (2 - a) / (x + 5 - a - ...))),
       * modified Lentz. */
      const double tiny = 1e-300;
      double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
      for (double i = 1.0; i < max_iter; i += 1.0) {
        const double an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < tiny) d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        const double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-16) break;
      }
      q = f + log(h);
      p = log1p(-exp(q));
    }
  }
  if (lp) *lp = p;
  if (lq) *lq = q;
  if (lf) *lf = f;
}

void nplm__gamma_pq(double a, double x, double *pp, double *qq) {
  double lp, lq;
  nplm__gamma_logpq(a, x, &lp, &lq, NULL);
  if (pp) *pp = exp(lp);
  if (qq) *qq = exp(lq);
}

/* Loader's saddle-point binomial: stirlerr(n) = log(n!) - log(sqrt(2 pi n) (n/e)^n), n >= 1. */
static double stirlerr(double n) {
  if (n <= 15.0) return nplm__lgamma_pos(n + 1.0) - (n + 0.5) * log(n) + n - LN_SQRT_2PI;
  const double s0 = 1.0 / 12, s1 = 1.0 / 360, s2 = 1.0 / 1260, s3 = 1.0 / 1680, s4 = 1.0 / 1188;
  const double nn = n * n;
  if (n > 500.0) return (s0 - s1 / nn) / n;
  if (n > 80.0) return (s0 - (s1 - s2 / nn) / nn) / n;
  if (n > 35.0) return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n;
  return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n;
}

/* Deviance term x log(x / np) + np - x, accurate when x is close to np. */
static double bd0(double x, double np) {
  if (fabs(x - np) < 0.1 * (x + np)) {
    double v = (x - np) / (x + np), s = (x - np) * v;
    if (fabs(s) < DBL_MIN) return s;
    double ej = 2.0 * x * v;
    v = v * v;
    for (int j = 1; j < 1000; j++) {
      ej *= v;
      const double s1 = s + ej / (2 * j + 1);
      if (s1 == s) return s1;
      s = s1;
    }
  }
  return x * log(x / np) + np - x;
}

double nplm__dbinom(double x, double n, double p, double q) {
  if (p == 0.0) return x == 0.0 ? 1.0 : 0.0;
  if (q == 0.0) return x == n ? 1.0 : 0.0;
  if (x < 0.0 || x > n) return 0.0;
  if (x == 0.0) {
    if (n == 0.0) return 1.0;
    return exp(p < 0.1 ? -bd0(n, n * q) - n * p : n * log(q));
  }
  if (x == n) return exp(q < 0.1 ? -bd0(n, n * p) - n * q : n * log(p));
  const double lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) - bd0(n - x, n * q);
  const double lf = LN_2PI + log(x) + log1p(-x / n);
  return exp(lc - 0.5 * lf);
}
