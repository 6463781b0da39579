#!/usr/bin/python3
"""Write tests/stats/stats_ref.h: reference values for tests/stats/test_stats.c.

Run from anywhere with the system Python (needs scipy, numpy and mpmath):
    /usr/bin/python3 tests/stats/gen_stats_ref.py
The output is committed, so building and running the tests needs none of them. The script is
deterministic (fixed seeds); re-running it must reproduce the header byte for byte with the same
scipy/mpmath versions (recorded in the header).

Sources of the values, per table (each row carries both where both exist):
  * scipy  : scipy.stats / scipy.special in double precision, the library's reference.
  * mpmath : the same quantity evaluated at 40-60 significant digits with mpmath and rounded
             to double, an independent check (and the only reference where scipy underflows or
             is itself approximate, e.g. kstwo for n > 140, which uses the Pelz-Good series).
"""
import math
import os
import sys

import mpmath as mp
import numpy as np
import scipy
from scipy import optimize, special, stats

mp.mp.dps = 40
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'stats_ref.h')


def g(v):
    """C literal of a double, %.17g (round-trips exactly)."""
    v = float(v)
    if math.isinf(v):
        return '(double)INFINITY' if v > 0 else '-(double)INFINITY'
    if math.isnan(v):
        return '(double)NAN'
    s = '%.17g' % v
    if 'e' not in s and '.' not in s:
        s += '.0'
    return s


lines = []


def emit(s=''):
    lines.append(s)


def table(ctype, name, fields, rows, comment):
    emit('/* %s */' % comment)
    emit('static const %s %s[] = {' % (ctype, name))
    for r in rows:
        emit('    {' + ', '.join(g(x) for x in r) + '},')
    emit('};')
    emit('#define %s_N (sizeof %s / sizeof %s[0])' % (name.upper(), name, name))
    emit()


def array(name, values, comment):
    emit('/* %s */' % comment)
    emit('static const double %s[%d] = {' % (name, len(values)))
    for i in range(0, len(values), 4):
        emit('    ' + ', '.join(g(v) for v in values[i:i + 4]) + ',')
    emit('};')
    emit()


# ---------------------------------------------------------------------------------------------
# chi2 survival function: x on a grid of quantiles (rounded to 6 digits) and fixed points.
DOFS = [0.5, 1.0, 2.0, 3.0, 4.5, 7.0, 10.0, 12.7, 25.0, 50.0, 96.3, 100.0, 250.0, 500.0, 999.9,
        1000.0]
QS = [1e-300, 1e-250, 1e-200, 1e-150, 1e-100, 1e-50, 1e-30, 1e-20, 1e-10, 1e-5, 1e-3, 0.05, 0.3,
      0.5, 0.7, 0.95, 0.999, 1 - 1e-6, 1 - 1e-10]


def mp_chi2_sf(x, k):
    return mp.gammainc(mp.mpf(k) / 2, mp.mpf(x) / 2, mp.inf, regularized=True)


sf_rows = []
for k in DOFS:
    xs = set()
    for q in QS:
        x = float(stats.chi2.isf(q, k))
        if x > 0 and math.isfinite(x):
            xs.add(float('%.6g' % x))
    for x in [1e-3, 0.1, 1.0, 10.0, 100.0]:
        xs.add(x)
    for x in sorted(xs):
        ex = mp_chi2_sf(x, k)
        if ex < mp.mpf('1e-300'):
            continue
        sf_rows.append((x, k, stats.chi2.sf(x, k), ex))

# chi2 inverse survival function.
ISF_PS = [1e-300, 1e-200, 1e-100, 1e-50, 1e-20, 1e-10, 1e-5, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99,
          1 - 1e-6, 1 - 1e-10, 1 - 1e-12]


def mp_chi2_isf(p, k):
    """Root of the exact sf in mpmath (Newton on log sf in log x from scipy's value)."""
    a = mp.mpf(k) / 2
    pm = mp.mpf(p)
    upper = p <= 0.5
    tgt = mp.log(pm) if upper else mp.log(1 - pm)
    y = mp.mpf(stats.chi2.isf(p, k)) / 2
    for _ in range(60):
        G = mp.gammainc(a, y, mp.inf, regularized=True) if upper else \
            mp.gammainc(a, 0, y, regularized=True)
        dens = mp.exp(a * mp.log(y) - y - mp.loggamma(a))  # y dG/dy in absolute value
        slope = dens / G if not upper else -dens / G  # d log G / d log y
        step = (mp.log(G) - tgt) / slope
        y = y * mp.exp(-step)
        if abs(step) < mp.mpf('1e-35'):
            break
    return 2 * y


isf_rows = []
for k in DOFS:
    for p in ISF_PS:
        isf_rows.append((p, k, stats.chi2.isf(p, k), mp_chi2_isf(p, k)))

# ---------------------------------------------------------------------------------------------
# Large dof (a = dof/2 from 1e3 to 8.5e307), where mpmath's gammainc is too slow or fails and
# scipy's lower tail loses all accuracy: log P(a, y) and log Q(a, y) by direct Gauss-Legendre
# quadrature of the gamma density, an oracle independent of every expansion the library uses.
def log1pmx_mp(s):
    """log(1 + s) - s, by its series where the subtraction would cancel."""
    if s == 0:
        return mp.mpf(0)
    if abs(s) < mp.mpf('0.01'):
        tot, p, k = mp.mpf(0), s * s, 2
        while True:
            term = (-1) ** (k + 1) * p / k
            tot += term
            if abs(term) < mp.eps * abs(tot):
                return tot
            p *= s
            k += 1
    return mp.log1p(s) - s


def log_gamma_pref(a):
    """a log a - a - log Gamma(a); Stirling's series (7 terms: error < 1e-100) for a >= 1e8."""
    if a < 10 ** 8:
        with mp.workdps(mp.mp.dps + 20):
            return a * mp.log(a) - a - mp.loggamma(a)
    return mp.log(a) / 2 - mp.log(2 * mp.pi) / 2 - sum(
        mp.bernoulli(2 * k) / (2 * k * (2 * k - 1) * a ** (2 * k - 1)) for k in range(1, 8))


def log_tail_quad(a, s0, upper):
    """log of the integral of the gamma(a) density in s = t/a - 1 from s0 outward (upper: to
    +inf, else down to -1), on panels over which the log-density falls by at most 1/4, until
    it has fallen by 130. Only for the tail without the mode (at s = -1/a)."""
    phi = lambda s: a * log1pmx_mp(s) - mp.log1p(s)
    dphi = lambda s: (a - 1) / (1 + s) - a
    w = 1 / mp.sqrt(a)
    direction = 1 if upper else -1
    assert dphi(s0) * direction <= 0, 'the tail holds the mode'
    top = phi(s0)
    pts, s = [s0], s0
    while top - phi(s) < 130:
        d = dphi(s)
        step = min(w / 4, mp.mpf(1) / 4 / abs(d)) if d != 0 else w / 4
        s = s + direction * step
        if s <= -1:
            pts.append(mp.mpf(-1))
            break
        pts.append(s)
    if not upper:
        pts = pts[::-1]
    integral = mp.quad(lambda t: mp.exp(phi(t) - top), pts, method='gauss-legendre')
    return log_gamma_pref(a) + top + mp.log(integral)


def digits_for(a, s):
    """Working digits for a point: 40 beyond the magnitude of a log1pmx(s) (the log-density,
    which must be resolved to well below 1) and beyond sqrt(a) (the scale of s near the mode)."""
    big = abs(a * log1pmx_mp(s)) + mp.sqrt(a)
    return 40 + int(mp.log10(big))


def gamma_logpq_mp(a, s):
    """(log P, log Q) at y = a (1 + s): the tail without the mode by quadrature, the other as
    log(1 - it)."""
    with mp.workdps(digits_for(a, s)):
        upper = s >= -1 / a
        lt = log_tail_quad(a, s, upper)
        e = mp.exp(lt)
        other = -e - e * e / 2 if e < mp.mpf('1e-25') else mp.log1p(-e)
        return (other, lt) if upper else (lt, other)


BIG_DOFS = [2e3, 19999.99, 2e4, 1e5, 1e6, 1e8, 1e10, 1e12, 1e16, 1e20, 1e50, 1e100, 1e300,
            1.7e308]
BIG_ZS = [-37.0, -20.0, -8.0, -1.0, -0.1, 0.0, 0.1, 1.0, 8.0, 20.0, 37.0]
BIG_MULTS = [1e-3, 0.5, 1 - 1e-10, 1 + 1e-15, 1.1, 10.0]
big_rows = []
for k in BIG_DOFS:
    xs = set()
    for z in BIG_ZS:
        xs.add(k + z * math.sqrt(2 * k))
    for m in BIG_MULTS:
        xs.add(k * m)
    for x in sorted(xs):
        if not (x > 0 and math.isfinite(x)):
            continue
        with mp.workdps(80):  # exact: x and k are doubles a few binades apart
            a = mp.mpf(k) / 2
            s = (mp.mpf(x) / 2 - a) / a
        lp, lq = gamma_logpq_mp(a, s)
        big_rows.append((x, k, lp, lq, mp.exp(lq)))


def chi2_isf_big_mp(p, k):
    """Root of the quadrature sf: Newton in log y on log Q - log p (p <= 1/2) or on
    log P - log(1 - p), from the Wilson-Hilferty value."""
    a = mp.mpf(k) / 2
    upper = p <= 0.5
    with mp.workdps(40 + int(mp.log10(a))):
        pm = mp.mpf(p)
        tgt = mp.log(pm) if upper else mp.log1p(-pm)
        c = 1 / (9 * a)
        zq = mp.mpf(stats.norm.isf(p))  # a starting value only
        s = (1 - c + zq * mp.sqrt(c)) ** 3 - 1
        for _ in range(60):
            lp, lq = gamma_logpq_mp(a, s)
            with mp.workdps(digits_for(a, s)):
                ldens = log_gamma_pref(a) + a * log1pmx_mp(s)  # log(y * density)
                lg = lq if upper else lp
                slope = -mp.exp(ldens - lg) if upper else mp.exp(ldens - lg)
                step = (lg - tgt) / slope
                s = mp.expm1(mp.log1p(s) - step)
            if abs(step) < mp.mpf('1e-30') * (1 + abs(mp.log1p(s))) or \
                    abs(step) < mp.mpf('1e-30') / mp.sqrt(a):
                break
        return 2 * a * (1 + s)


BIG_ISF_DOFS = [2e3, 2e4, 1e6, 1e12, 1e20, 1e300]
BIG_ISF_PS = [1e-300, 1e-10, 0.5, 1 - 1e-10]
big_isf_rows = [(p, k, chi2_isf_big_mp(p, k)) for k in BIG_ISF_DOFS for p in BIG_ISF_PS]
# ---------------------------------------------------------------------------------------------
# Normal distribution.
ZP_PS = [1e-300, 1e-250, 1e-200, 1e-150, 1e-100, 1e-75, 1e-50, 1e-30, 1e-20, 1e-15, 1e-10, 1e-7,
         1e-5, 1e-3, 0.01, 0.025, 0.05, 0.0749, 0.0751, 0.1, 0.2, 0.25, 0.3, 0.4, 0.45, 0.49,
         0.4999,
         0.5 - 1e-9, 0.5, 0.5 + 1e-9, 0.5001, 0.51, 0.6, 0.75, 0.9, 0.9249, 0.9251, 0.975, 0.99,
         0.999, 0.99999, 0.999999, 0.9999999, 1 - 1e-12, 1 - 1e-16, 1e-310, 1e-320, 5e-324]


def mp_z_from_p(p):
    pm = mp.mpf(p)
    if pm == mp.mpf('0.5'):
        return mp.mpf(0)
    s, sign = (pm, 1) if pm < 0.5 else (1 - pm, -1)
    z = mp.mpf(stats.norm.isf(float(s)))
    for _ in range(60):  # Newton on log Q(z) - log s, Q the upper tail
        Q = mp.erfc(z / mp.sqrt(2)) / 2
        phi = mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)
        step = (mp.log(Q) - mp.log(s)) * Q / phi
        z += step
        if abs(step) < mp.mpf('1e-35') * (1 + abs(z)):
            break
    return sign * z


zp_rows = [(p, stats.norm.isf(p), mp_z_from_p(p)) for p in ZP_PS]

PZ_ZS = sorted(set([float(z) for z in np.linspace(-38.0, 38.0, 77)] +
                   [-8.5, -1e-8, 1e-8, 0.5, 1.5, 2.5, 3.5, 5.0, 6.5, 7.071, 8.5, 12.3456, 20.5,
                    26.0, 30.25, 33.3, 37.5, 37.6]))
pz_rows = [(z, stats.norm.sf(z), mp.erfc(mp.mpf(z) / mp.sqrt(2)) / 2) for z in PZ_ZS]

# ---------------------------------------------------------------------------------------------
# Special functions (scipy.special) used by the fit.
SPECIAL_X = [1e-8, 1e-3, 0.1, 0.25, 0.5, 1.0, 1.4616321449683622, 1.5, 2.0, 3.3, 6.35, 9.99, 10.0,
             12.7, 48.15, 100.0, 499.95, 1e4, 1e8]
special_rows = [(x, special.digamma(x), special.polygamma(1, x), special.gammaln(x))
                for x in SPECIAL_X]

# ---------------------------------------------------------------------------------------------
# Maximum-likelihood dof on fixed samples.
rng = np.random.default_rng(20240611)
FIT_CASES = [(200, 0.7), (500, 12.7), (300, 96.3)]
fit_samples = []
fit_rows = []
tight = lambda func, x0, args=(), disp=0: optimize.fmin(func, x0, args=args, xtol=1e-13,
                                                        ftol=1e-15, maxiter=20000, disp=0)
for n, k in FIT_CASES:
    x = rng.chisquare(k, size=n)
    x = np.array([float('%.17g' % v) for v in x])
    fit_samples.append(x)
    mean_log = mp.fsum([mp.log(mp.mpf(v) / 2) for v in x]) / n
    # scipy's fit with a tight Nelder-Mead (its default xtol=1e-4 gives only ~1e-5).
    fit_tight = stats.chi2.fit(x, floc=0, fscale=1, optimizer=tight)[0]
    fit_default = stats.chi2.fit(x, floc=0, fscale=1)[0]
    # Root of the likelihood equation with scipy.special.digamma, and in mpmath.
    L = float(mean_log)
    root = optimize.brentq(lambda kk: special.digamma(kk / 2) - L, 1e-3, 1e5, xtol=1e-300,
                           rtol=1e-15, maxiter=500)
    a = mp.mpf(root) / 2
    for _ in range(60):  # Newton on digamma(a) = mean_log
        step = (mp.digamma(a) - mean_log) / mp.polygamma(1, a)
        a -= step
        if abs(step) < mp.mpf('1e-35') * a:
            break
    root_mp = 2 * a
    fit_rows.append((n, k, mean_log, fit_tight, fit_default, root, root_mp))

# ---------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov null distribution P(D_n >= d).
def mtw_cdf(n, d, dps):
    """P(D_n < d), Durbin matrix (Marsaglia-Tsang-Wang 2003) at dps digits."""
    with mp.workdps(dps):
        d = mp.mpf(d)
        k = int(mp.floor(n * d)) + 1
        h = k - n * d
        m = 2 * k - 1
        fac = [mp.factorial(i) for i in range(m + 2)]
        H = mp.matrix(m, m)
        for i in range(m):
            for j in range(m):
                if i - j + 1 >= 0:
                    H[i, j] = 1 / fac[i - j + 1]
        for i in range(m):
            H[i, 0] -= h ** (i + 1) / fac[i + 1]
            H[m - 1, i] -= h ** (m - i) / fac[m - i]
        if 2 * h - 1 > 0:
            H[m - 1, 0] += (2 * h - 1) ** m / fac[m]
        R = mp.eye(m)
        B = H
        e = n
        while e:
            if e & 1:
                R = R * B
            e >>= 1
            if e:
                B = B * B
        return R[k - 1, k - 1] * mp.factorial(n) / mp.mpf(n) ** n


def smirnov_sf_mp(n, d, dps):
    """P(D_n^+ >= d), Birnbaum-Tingey sum at dps digits."""
    with mp.workdps(dps):
        d = mp.mpf(d)
        s = mp.mpf(0)
        for j in range(0, int(mp.floor(n * (1 - d))) + 1):
            a = 1 - d - mp.mpf(j) / n
            if a <= 0:
                break
            s += mp.binomial(n, j) * a ** (n - j) * (d + mp.mpf(j) / n) ** (j - 1)
        return d * s


def ks_sf_mp(n, d):
    """Exact P(D_n >= d): 1 - MTW where the p-value is not tiny; 2 P(D+ >= d) where
    n d^2 >= 7.5 or d >= 1/2 (the neglected intersection term is then 0 or < 1e-19 relative)."""
    if n * d <= 0.5:
        return mp.mpf(1)
    if d >= 1:
        return mp.mpf(0)
    if d >= 0.5 or n * d * d >= 7.5:
        return 2 * smirnov_sf_mp(n, d, 60)
    with mp.workdps(60):
        return 1 - mtw_cdf(n, d, 60)


ks_grid_rows = []
for n in [1, 2, 3, 5, 10, 20, 50, 100]:
    for lam2 in [0.05, 0.2, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 7.4, 7.6, 10.0, 20.0]:
        d = float('%.6g' % math.sqrt(lam2 / n))
        if d >= 1 or n * d <= 0.5:
            continue
        ks_grid_rows.append((n, d, stats.kstwo.sf(d, n), ks_sf_mp(n, d)))
for n, d in [(1, 0.75), (4, 0.125), (4, 0.2), (10, 0.06), (10, 0.1), (7, 0.5), (7, 0.9),
             (300, 0.05), (1000, 0.02), (1000, 0.1)]:
    ks_grid_rows.append((n, d, stats.kstwo.sf(d, n), ks_sf_mp(n, d)))
# Sample sizes past the exact recursion's budget (n d^2 < 3: Pelz-Good, as scipy; above:
# 2 P(D+ >= d) less a Brownian-bridge intersection term): no exact value (mp = NaN).
for n, lam2 in [(50000, 0.2), (50000, 1.0), (50000, 2.0), (200000, 0.5), (50000, 4.0),
                (50000, 6.0)]:
    d = float('%.6g' % math.sqrt(lam2 / n))
    ks_grid_rows.append((n, d, stats.kstwo.sf(d, n), float('nan')))

# Samples tested against chi2(dof): null samples and shifted ones (small p-values).
KS_CASES = [(10, 3.0, 3.0), (10, 12.7, 30.0), (100, 12.7, 12.7), (100, 5.0, 7.0),
            (1000, 96.3, 96.3), (1000, 10.0, 11.0)]
ks_samples = []
ks_rows = []
for n, dof, dof_true in KS_CASES:
    x = rng.chisquare(dof_true, size=n)
    x = np.array([float('%.17g' % v) for v in x])
    ks_samples.append(x)
    r = stats.kstest(x, 'chi2', args=(dof,), method='exact')
    # D_n from mpmath cdf values, and its exact p-value.
    with mp.workdps(40):
        u = sorted(mp.gammainc(mp.mpf(dof) / 2, 0, mp.mpf(v) / 2, regularized=True) for v in x)
        dmp = max(max(mp.mpf(i + 1) / n - u[i], u[i] - mp.mpf(i) / n) for i in range(n))
    pmp = ks_sf_mp(n, float(dmp))
    ks_rows.append((n, dof, r.statistic, r.pvalue, dmp, pmp))

# ---------------------------------------------------------------------------------------------
emit('/* Reference values for tests/stats/test_stats.c. GENERATED by tests/stats/gen_stats_ref.py')
emit(' * with scipy %s, numpy %s, mpmath %s, Python %s: do not edit. */' %
     (scipy.__version__, np.__version__, mp.__version__, sys.version.split()[0]))
emit('#ifndef NPLM_TESTS_STATS_REF_H')
emit('#define NPLM_TESTS_STATS_REF_H')
emit()
emit('#include <math.h>')
emit('#include <stddef.h>')
emit()
emit('typedef struct { double x, dof, scipy, mp; } ref_chi2_sf_t;')
emit('typedef struct { double p, dof, scipy, mp; } ref_chi2_isf_t;')
emit('typedef struct { double p, scipy, mp; } ref_z_from_p_t;')
emit('typedef struct { double z, scipy, mp; } ref_p_from_z_t;')
emit('typedef struct { double x, digamma, trigamma, lgamma; } ref_special_t;')
emit('typedef struct { double n, dof_true, mean_log, scipy_fit, scipy_fit_default, scipy_root, '
     'mp_root; } ref_fit_t;')
emit('typedef struct { double x, dof, log_p, log_q, sf; } ref_chi2_big_t;')
emit('typedef struct { double p, dof, mp; } ref_chi2_isf_big_t;')
emit('typedef struct { double n, d, scipy, mp; } ref_ks_sf_t;')
emit('typedef struct { double n, dof, scipy_stat, scipy_p, mp_stat, mp_p; } ref_ks_t;')
emit()
table('ref_chi2_sf_t', 'ref_chi2_sf', None, sf_rows,
      'chi2 sf: {x, dof, scipy.stats.chi2.sf, mpmath gammainc(dof/2, x/2, inf) at 40 digits}')
table('ref_chi2_isf_t', 'ref_chi2_isf', None, isf_rows,
      'chi2 isf: {p, dof, scipy.stats.chi2.isf, mpmath root of the exact sf at 40 digits}')
table('ref_chi2_big_t', 'ref_chi2_big', None, big_rows,
      'large dof: {x, dof, log P(dof/2, x/2), log Q(dof/2, x/2), Q}, Gauss-Legendre quadrature '
      'of the gamma density in mpmath at 40 digits beyond the size of the log-density')
table('ref_chi2_isf_big_t', 'ref_chi2_isf_big', None, big_isf_rows,
      'large dof: {p, dof, root of the quadrature sf of ref_chi2_big by Newton in mpmath}')
table('ref_z_from_p_t', 'ref_z_from_p', None, zp_rows,
      'Z = Phi^-1(1 - p): {p, scipy.stats.norm.isf, mpmath root of erfc(z/sqrt 2)/2 = p}')
table('ref_p_from_z_t', 'ref_p_from_z', None, pz_rows,
      'p = 1 - Phi(z): {z, scipy.stats.norm.sf (0 where it underflows), mpmath erfc(z/sqrt 2)/2}')
table('ref_special_t', 'ref_special', None, special_rows,
      '{x, scipy.special.digamma, polygamma(1, x), gammaln}')
for i, x in enumerate(fit_samples):
    array('ref_fit_sample%d' % i, list(x),
          'fit sample %d: numpy default_rng(20240611) chisquare(dof = %g), n = %d'
          % (i, FIT_CASES[i][1], FIT_CASES[i][0]))
emit('static const double *const ref_fit_samples[] = {%s};' %
     ', '.join('ref_fit_sample%d' % i for i in range(len(fit_samples))))
table('ref_fit_t', 'ref_fit', None, fit_rows,
      '{n, dof drawn, mean log(t/2) (mpmath fsum), scipy.stats.chi2.fit(floc=0, fscale=1) with '
      'fmin xtol=1e-13, the same with its default optimizer (xtol=1e-4), brentq root of '
      'scipy.special.digamma(k/2) = mean, mpmath root}')
table('ref_ks_sf_t', 'ref_ks_sf', None, ks_grid_rows,
      'P(D_n >= d): {n, d, scipy.stats.kstwo.sf, exact: mpmath 1 - Durbin/MTW matrix at 60 '
      'digits, or 2 P(D+ >= d) (Birnbaum-Tingey, 60 digits) for n d^2 >= 7.5 or d >= 1/2}')
for i, x in enumerate(ks_samples):
    n, dof, dof_true = KS_CASES[i]
    array('ref_ks_sample%d' % i, list(x),
          'KS sample %d: chisquare(dof = %g), n = %d, tested against chi2(%g)'
          % (i, dof_true, n, dof))
emit('static const double *const ref_ks_samples[] = {%s};' %
     ', '.join('ref_ks_sample%d' % i for i in range(len(ks_samples))))
table('ref_ks_t', 'ref_ks', None, ks_rows,
      "{n, dof, scipy.stats.kstest(method='exact') statistic and p-value (for n > 140 scipy "
      "uses the Pelz-Good series or 2 smirnov: ~1e-7), D_n from mpmath cdfs and its exact "
      "p-value as in ref_ks_sf}")
emit('#endif')

with open(OUT, 'w') as f:
    f.write('\n'.join(lines) + '\n')
print('wrote', OUT, len(sf_rows), 'sf', len(isf_rows), 'isf', len(zp_rows), 'zp', len(pz_rows),
      'pz', len(ks_grid_rows), 'ks grid', len(ks_rows), 'ks samples')
