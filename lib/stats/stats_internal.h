/* Internal special functions of the statistics layer. Not installed.
 *
 * Every function is pure, thread-safe (no global state: the libm lgamma writes signgam, so a
 * log-gamma of our own is used) and never prints. Arguments outside the stated domain give NaN
 * unless said otherwise. */
#ifndef NPLM_STATS_STATS_INTERNAL_H
#define NPLM_STATS_STATS_INTERNAL_H

#include <stddef.h>

#include "core/core.h"

/* The rounding error of the product a * b (= p rounded): a * b - p exactly (Dekker; needs |a|,
 * |b| below about 1e300 and no contraction into fma, which the build disables). */
static inline double nplm__two_prod_err(double a, double b, double p) {
  const double split = 134217729.0; /* 2^27 + 1 */
  const double ca = split * a, ah = ca - (ca - a), al = a - ah;
  const double cb = split * b, bh = cb - (cb - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/* log(Gamma(x)) for x > 0, absolute error about 1e-15 * max(1, |result|). */
double nplm__lgamma_pos(double x);
/* Sort ascending. */
void nplm__sort_doubles(double *v, size_t n);
/* Quantile q of ascending v (n >= 1), linear interpolation between order statistics. */
double nplm__quantile_sorted(const double *v, size_t n, double q);
/* The asymptotic series of the Mills ratio, sum_k (-1)^k (2k - 1)!! r2^k with r2 = 1/w^2:
 * Q(w) / phi(w) = series / w for the normal tail, erfc(z) exp(z^2) = series / (z sqrt pi) with
 * r2 = 1/(2 z^2). Summed until a term is below 1e-18 of the sum; for w >= 10 that comes
 * before the terms grow. */
double nplm__mills_series(double r2);
/* Digamma psi(x) and trigamma psi'(x) for x > 0. */
double nplm__digamma(double x);
double nplm__trigamma(double x);

/* Regularised incomplete gamma functions P(a, x) (lower) and Q(a, x) = 1 - P (upper), both
 * computed to full relative accuracy (the smaller one directly, never as 1 - the other).
 * a > 0 and finite, x >= 0 (x may be +inf). Either output pointer may be NULL. */
void nplm__gamma_pq(double a, double x, double *p, double *q);
/* The same as logarithms, which stay finite where P or Q underflow; *lf (may be NULL) receives
 * log(x^a e^-x / Gamma(a)) (NaN when x <= 0 or x = inf). */
void nplm__gamma_logpq(double a, double x, double *lp, double *lq, double *lf);

/* Binomial probability C(n, x) p^x q^(n-x), q = 1 - p given separately for accuracy; x and n are
 * non-negative whole numbers (as doubles). Loader's saddle-point form: relative error ~1e-15 for
 * every n. */
double nplm__dbinom(double x, double n, double p, double q);

/* Survival function P(D_n >= d) of the two-sided one-sample Kolmogorov-Smirnov statistic for a
 * continuous null. Exact (up to rounding) for every n where the exact recursion's cost is below
 * a fixed budget, else an asymptotic approximation (see ks.c). NPLM_ENOMEM on allocation
 * failure, nothing written then. n >= 1, d finite. */
nplm_status_t nplm__ks_sf(size_t n, double d, double *p);
/* P(D_n^+ >= d) of the one-sided statistic (Birnbaum-Tingey sum), n >= 1. */
double nplm__smirnov_sf(size_t n, double d);

#endif
