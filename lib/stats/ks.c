/* One-sample Kolmogorov-Smirnov test against chi2(dof), with the exact null distribution of
 * the two-sided statistic D_n for the sample size at hand.
 *
 * Exact method. With U_(1) < ... < U_(n) the sorted probability-integral transforms,
 * D_n < d  <=>  i/n - d < U_(i) < (i-1)/n + d for every i. In terms of the counting process
 * N(u) = #{U_(i) <= u} these are the conditions N(i/n - d) <= i - 1 and N((i-1)/n + d) >= i at
 * the at most 2n breakpoints in (0, 1); N is monotone, so checking them at the breakpoints is
 * enough. Given N(u) = j, the count added up to the next breakpoint v is
 * Binomial(n - j, (v - u)/(1 - u)), so the law of N over the breakpoints is a Markov chain. The
 * recursion below carries the probability of the paths still inside the band and adds up the
 * mass that leaves it: the p-value P(D_n >= d) is that sum of non-negative terms, so it keeps its
 * relative accuracy however small it is (unlike 1 - P(D_n < d) from the Durbin matrix of
 * Marsaglia, Tsang and Wang 2003, which it otherwise equals). Work: about 2n breakpoints times
 * 2nd + 1 states times a few tens of binomial terms (the count added between two breakpoints
 * is of order 1).
 *
 * Far tail. P(D_n >= d) = 2 P(D_n^+ >= d) - P(D_n^+ >= d and D_n^- >= d); the one-sided term is
 * the exact Birnbaum-Tingey sum, and the last term vanishes for d >= 1/2 and is below 1e-17
 * of the total once n d^2 >= 7.5 (it is about exp(-6 n d^2) of it), so 2 P(D_n^+ >= d) is used
 * there.
 *
 * Large n. Where the exact recursion would cost more than a fixed budget (from n of about
 * 10^4 when n d^2 is near 7.5, 3 10^4 when it is near 0.3; about a second of work), the Pelz-Good (1976) asymptotic series to order n^-3/2 gives P(D_n < d), or,
 * for n d^2 >= 3, 2 P(D_n^+ >= d) minus the Brownian-bridge value of the intersection term. Both
 * are accurate to about 1e-8 or better there (relative to the p-value). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "stats/stats_internal.h"
#define NPLM_H_INSIDE
#include "nplm/stats.h"
#undef NPLM_H_INSIDE

#define KS_FAR_TAIL 7.5       /* n d^2 from which 2 P(D+ >= d) is exact to rounding */
#define KS_EXACT_BUDGET 1.2e7 /* breakpoints x band states the exact recursion may visit */
#define PI_ 3.14159265358979323846264338327950288

/* Compensated accumulator (Neumaier). */
typedef struct {
  double s, c;
} ksum_t;

static void ksum_add(ksum_t *a, double v) {
  const double t = a->s + v;
  if (fabs(a->s) >= fabs(v))
    a->c += (a->s - t) + v;
  else
    a->c += (v - t) + a->s;
  a->s = t;
}

double nplm__smirnov_sf(size_t n, double d) {
  if (isnan(d)) return d;
  if (d <= 0.0) return 1.0;
  if (d >= 1.0) return 0.0;
  /* P(D+ >= d) = sum_{j=0}^{floor(n(1-d))} d / (d + j/n) * Binom(j; n, d + j/n). */
  const double dn = (double)n;
  ksum_t sum = {0.0, 0.0};
  for (size_t j = 0; j <= n; j++) {
    const double fj = (double)j;
    const double pj = d + fj / dn, qj = (dn - fj) / dn - d;
    if (!(qj > 0.0)) break;
    ksum_add(&sum, d / pj * nplm__dbinom(fj, dn, pj, qj));
  }
  const double r = sum.s + sum.c;
  return r < 1.0 ? r : 1.0;
}

/* The exact recursion described at the top. floor_p is a lower bound of the result (used to
 * drop binomial terms that cannot matter). */
static nplm_status_t ks_sf_exact(size_t n, double d, double floor_p, double *out) {
  double *buf = nplm__malloc_array(2 * (n + 1), sizeof *buf);
  if (!buf) return NPLM_ENOMEM;
  double *cur = buf, *nxt = buf + n + 1;
  const double dn = (double)n;
  /* Breakpoints are c/n + s d with whole c and s = -1 (upper conditions N(i/n - d) <= i - 1,
   * from the first i with i/n - d > 0) or s = +1 (lower conditions N((i-1)/n + d) >= i while
   * (i-1)/n + d < 1). Gaps and distances to 1 are formed as n times themselves from
   * n d = nd_hi + nd_lo (exact), so that no difference of nearly equal rounded positions
   * enters the binomial probabilities. */
  const double nd_hi = dn * d, nd_lo = nplm__two_prod_err(dn, d, nd_hi);
  size_t iu = (size_t)floor(nd_hi);
  if (iu < 1) iu = 1;
  while (iu > 1 && ((double)(iu - 1) - nd_hi) - nd_lo > 0.0) iu--;
  while (iu <= n && !(((double)iu - nd_hi) - nd_lo > 0.0)) iu++;
  size_t il = 1;
  /* Mass dropped below this cannot change the result in its 17th digit: at most 2 tiny for
   * each of the at most (2n) (n + 1) (breakpoint, state) pairs, 2^-63 floor_p in all. */
  const double tiny = ldexp(floor_p, -64) / (2.0 * dn * (dn + 1.0));
  size_t lo = 0, hi = 0;
  cur[0] = 1.0;
  double cu = 0.0, su = 0.0; /* the current position u = cu/n + su d, first 0 */
  ksum_t exits = {0.0, 0.0};
  for (;;) {
    const int have_upper = iu <= n;
    const int have_lower = il <= n && ((double)(il - 1) - dn + nd_hi) + nd_lo < 0.0;
    if (!have_upper && !have_lower) break;
    /* a_iu <= b_il  <=>  iu - (il - 1) <= 2 n d */
    const int upper =
        have_upper &&
        (!have_lower || (((double)iu - (double)il + 1.0) - 2.0 * nd_hi) - 2.0 * nd_lo <= 0.0);
    const double cv = upper ? (double)iu : (double)(il - 1), sv = upper ? -1.0 : 1.0;
    const size_t hi_new = iu <= n ? iu - 1 : n; /* cap of the next upper condition */
    const size_t lo_new = upper ? lo : il;
    const double gap = ((cv - cu) + (sv - su) * nd_hi) + (sv - su) * nd_lo; /* n (v - u) */
    const double omu = ((dn - cu) - su * nd_hi) - su * nd_lo;               /* n (1 - u) */
    const double omv = ((dn - cv) - sv * nd_hi) - sv * nd_lo;               /* n (1 - v) */
    const double q = gap > 0.0 ? gap / omu : 0.0, qc = gap > 0.0 ? omv / omu : 1.0;
    if (lo_new <= hi_new) memset(nxt + lo_new, 0, (hi_new - lo_new + 1) * sizeof *nxt);
    const double log_qc = q < 0.5 ? log1p(-q) : log(qc), ratio = q / qc;
    for (size_t j = lo; j <= hi; j++) {
      const double wj = cur[j];
      if (wj < tiny) continue;
      const size_t rem = n - j;
      const double drem = (double)rem;
      double out_mass = 0.0;
      if (q == 0.0 || rem == 0) {
        if (j >= lo_new && j <= hi_new)
          nxt[j] += wj;
        else
          out_mass = wj;
      } else {
        const double l0 = drem * log_qc; /* log P(no new point) = log qc^(n - j) */
        double pm = l0 > -700.0 ? exp(l0) : nplm__dbinom(0.0, drem, q, qc);
        for (size_t m = 0;; m++) {
          const double term = wj * pm;
          const size_t k = j + m;
          if (k >= lo_new && k <= hi_new)
            nxt[k] += term;
          else
            out_mass += term;
          if (m == rem) break;
          const double f = (drem - (double)m) / (double)(m + 1) * ratio; /* pm(m+1) / pm(m) */
          if (term < tiny && f <= 0.5) break; /* the rest is below term < tiny */
          /* rare (q near 1, where qc^(n - j) underflows): each term on its own */
          pm = l0 > -700.0 ? pm * f : nplm__dbinom((double)(m + 1), drem, q, qc);
        }
      }
      if (out_mass > 0.0) ksum_add(&exits, out_mass);
    }
    double *tmp = cur;
    cur = nxt;
    nxt = tmp;
    cu = cv;
    su = sv;
    if (upper)
      iu++;
    else
      il++;
    if (lo_new > hi_new) break; /* nothing can stay inside: all mass has left */
    lo = lo_new;
    hi = hi_new;
  }
  nplm__free(buf);
  const double p = exits.s + exits.c;
  *out = p < 1.0 ? p : 1.0;
  return NPLM_OK;
}

/* Pelz and Good (1976) series for P(D_n < d) (Simard and L'Ecuyer 2011, eq. 12-15). */
static double ks_cdf_pelz_good(double n, double d) {
  const double z = sqrt(n) * d;
  const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2, z7 = z6 * z, z8 = z4 * z4;
  const double pi2 = PI_ * PI_, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double sqrt2pi = 2.5066282746310005024157652848110453;
  const double qlog = -pi2 / 8.0 / z2;
  if (qlog < -708.0) return 0.0;
  const double q = exp(qlog);
  const double k1a = -z2, k1b = pi2 / 4.0;
  const double k2a = 6.0 * z6 + 2.0 * z4, k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0,
               k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
  const double k3d = pi6 * (5.0 - 30.0 * z2) / 64.0, k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0,
               k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0, k3a = -30.0 * z6 - 90.0 * z8;
  double k0 = 0.0, k1 = 0.0, k2 = 0.0, k3 = 0.0;
  const int maxk = (int)ceil(16.0 * z / PI_);
  for (int k = maxk; k >= 1; k--) { /* sum over odd m = 2k - 1 of c_m q^(m^2), Horner */
    const double m = 2.0 * k - 1.0, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    const double qp = pow(q, 8.0 * k);
    k0 = k0 * qp + 1.0;
    k1 = k1 * qp + (k1a + k1b * m2);
    k2 = k2 * qp + (k2a + k2b * m2 + k2c * m4);
    k3 = k3 * qp + (k3a + k3b * m2 + k3c * m4 + k3d * m6);
  }
  const double f = q * sqrt2pi;
  k0 *= f / z;
  k1 *= f / (6.0 * z4);
  k2 *= f / (72.0 * z7);
  k3 *= f / (6480.0 * z4 * z6);
  const double qq = exp(-pi2 / 2.0 / z2);
  double e2 = 0.0, e3 = 0.0;
  for (int k = maxk; k >= 1; k--) {
    const double kk = (double)k * (double)k, w = pow(qq, kk);
    e2 += kk * w;
    e3 += (3.0 * z2 - pi2 * kk) * kk * w;
  }
  k2 += e2 * pi2 * sqrt2pi / (-36.0 * z3);
  k3 += e3 * pi2 * sqrt2pi / (216.0 * z6);
  const double rn = sqrt(n);
  const double cdf = k0 + k1 / rn + k2 / n + k3 / (n * rn);
  return cdf < 0.0 ? 0.0 : cdf > 1.0 ? 1.0 : cdf;
}

nplm_status_t nplm__ks_sf(size_t n, double d, double *p) {
  if (isnan(d) || n == 0) {
    *p = (double)NAN;
    return NPLM_OK;
  }
  const double dn = (double)n;
  if (dn * d <= 0.5) { /* D_n >= 1/(2n) always */
    *p = 1.0;
    return NPLM_OK;
  }
  if (d >= 1.0) {
    *p = 0.0;
    return NPLM_OK;
  }
  const double lambda2 = dn * d * d;
  const double splus = nplm__smirnov_sf(n, d);
  if (d >= 0.5 || lambda2 >= KS_FAR_TAIL) {
    const double r = 2.0 * splus;
    *p = r < 1.0 ? r : 1.0;
    return NPLM_OK;
  }
  const double band = 2.0 * dn * d + 2.0;
  if (2.0 * dn * band <= KS_EXACT_BUDGET) return ks_sf_exact(n, d, splus, p);
  if (lambda2 >= 3.0) {
    /* Intersection term of a Brownian bridge: 2 sum_{k>=2} (-1)^k exp(-2 k^2 lambda^2). */
    double inter = 0.0;
    for (int k = 2; k < 10; k++)
      inter += (k % 2 ? -2.0 : 2.0) * exp(-2.0 * (double)k * (double)k * lambda2);
    const double r = 2.0 * splus - inter;
    *p = r < 1.0 ? r : 1.0;
    return NPLM_OK;
  }
  *p = 1.0 - ks_cdf_pelz_good(dn, d);
  return NPLM_OK;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

nplm_status_t nplm_ks_chi2(const double *t, size_t n, double dof, double *stat, double *p) {
  static const char fn[] = "nplm_ks_chi2";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (!stat) return nplm__fail(NPLM_EINVAL, "%s: stat is NULL", fn);
  if (!p) return nplm__fail(NPLM_EINVAL, "%s: p is NULL", fn);
  if (n < 1) return nplm__fail(NPLM_EINVAL, "%s: n = 0 (need at least 1 value)", fn);
  if (isnan(dof) || !(dof > 0.0) || isinf(dof))
    return nplm__fail(NPLM_EINVAL, "%s: dof = %g is not finite and > 0", fn, dof);
  for (size_t i = 0; i < n; i++)
    if (isnan(t[i])) return nplm__fail(NPLM_EINVAL, "%s: t[%zu] is NaN", fn, i);
  double *u = nplm__malloc_array(n, sizeof *u);
  if (!u) return nplm__fail(NPLM_ENOMEM, "%s: out of memory (n = %zu)", fn, n);
  for (size_t i = 0; i < n; i++) nplm__gamma_pq(0.5 * dof, 0.5 * t[i], &u[i], NULL);
  qsort(u, n, sizeof *u, cmp_double);
  const double dn = (double)n;
  double dmax = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double plus = (double)(i + 1) / dn - u[i], minus = u[i] - (double)i / dn;
    if (plus > dmax) dmax = plus;
    if (minus > dmax) dmax = minus;
  }
  nplm__free(u);
  double pv;
  if (nplm__ks_sf(n, dmax, &pv) != NPLM_OK)
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory (n = %zu)", fn, n);
  *stat = dmax;
  *p = pv;
  return NPLM_OK;
}
