/* v8: eight doubles processed together, written once against three back ends (AVX-512,
 * AVX2+FMA, portable C). Only correctly rounded IEEE operations are offered (+, -, *, /,
 * fma, comparisons, exact bit moves), so every back end gives the same bits. */
#ifndef NPLM_KERNELS_V8_H
#define NPLM_KERNELS_V8_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The kernels rely on every helper being inlined (a v8 passed through memory costs 5x). */
#if defined(__GNUC__)
#define NPLM__VINLINE static inline __attribute__((always_inline))
#else
#define NPLM__VINLINE static inline
#endif

#if defined(NPLM__V8_AVX512)
#include <immintrin.h>
typedef __m512d v8;
NPLM__VINLINE v8 v8_set1(double a) { return _mm512_set1_pd(a); }
NPLM__VINLINE v8 v8_load(const double *p) { return _mm512_loadu_pd(p); }
NPLM__VINLINE void v8_store(double *p, v8 a) { _mm512_storeu_pd(p, a); }
NPLM__VINLINE v8 v8_add(v8 a, v8 b) { return _mm512_add_pd(a, b); }
NPLM__VINLINE v8 v8_sub(v8 a, v8 b) { return _mm512_sub_pd(a, b); }
NPLM__VINLINE v8 v8_mul(v8 a, v8 b) { return _mm512_mul_pd(a, b); }
NPLM__VINLINE v8 v8_div(v8 a, v8 b) { return _mm512_div_pd(a, b); }
NPLM__VINLINE v8 v8_fma(v8 a, v8 b, v8 c) { return _mm512_fmadd_pd(a, b, c); }
/* a > b ? x : y (false for NaN) */
NPLM__VINLINE v8 v8_sel_gt(v8 a, v8 b, v8 x, v8 y) {
  return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, b, _CMP_GT_OQ), y, x);
}
NPLM__VINLINE v8 v8_sel_lt(v8 a, v8 b, v8 x, v8 y) {
  return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, b, _CMP_LT_OQ), y, x);
}
/* 1 when lo <= x <= hi in every lane (0 when a lane is NaN) */
NPLM__VINLINE int v8_all_within(v8 x, double lo, double hi) {
  return (_mm512_cmp_pd_mask(x, _mm512_set1_pd(lo), _CMP_GE_OQ) &
          _mm512_cmp_pd_mask(x, _mm512_set1_pd(hi), _CMP_LE_OQ)) == 0xFF;
}
/* a > b ? a : b and a < b ? a : b (b when unordered: NaN in b propagates) */
NPLM__VINLINE v8 v8_max(v8 a, v8 b) { return _mm512_max_pd(a, b); }
NPLM__VINLINE v8 v8_min(v8 a, v8 b) { return _mm512_min_pd(a, b); }
/* 2^(bits(h) - bits(shift)) for h = shift + k, k integral in [-1022, 1023] */
NPLM__VINLINE v8 v8_pow2_of_shifted(v8 h, v8 shift) {
  __m512i k = _mm512_sub_epi64(_mm512_castpd_si512(h), _mm512_castpd_si512(shift));
  k = _mm512_add_epi64(k, _mm512_set1_epi64(1023));
  return _mm512_castsi512_pd(_mm512_slli_epi64(k, 52));
}
/* c - a b, one rounding */
NPLM__VINLINE v8 v8_fnma(v8 a, v8 b, v8 c) { return _mm512_fnmadd_pd(a, b, c); }
/* tab[bits(h) mod 16] per lane (an exact selection) */
NPLM__VINLINE v8 v8_table16(const double *tab, v8 h) {
  return _mm512_permutex2var_pd(_mm512_loadu_pd(tab), _mm512_castpd_si512(h),
                                _mm512_loadu_pd(tab + 8));
}
/* v 2^m for h = shift + k ulps of shift and k16 = k / 16 (exact), m = floor(k16): one vscalefpd,
   exact for normal v and result, the same bits as the integer exponent arithmetic of the other
   paths */
NPLM__VINLINE v8 v8_scale_k16(v8 v, v8 h, v8 shift, v8 k16) {
  (void)h;
  (void)shift;
  return _mm512_scalef_pd(v, k16);
}

/* The lane sums of eight vectors, ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) of v[k] in
   lane k, by three rounds of pairwise adds across the registers (21 operations): the same
   tree, hence the same bits, as eight scalar sums. */
NPLM__VINLINE v8 v8_hsum8(const v8 *v) {
  __m512d t[4];
  for (int k = 0; k < 4; k++) /* lanes (2i, 2i+1) of v[2k] and v[2k+1], interleaved */
    t[k] = _mm512_add_pd(_mm512_unpacklo_pd(v[2 * k], v[2 * k + 1]),
                         _mm512_unpackhi_pd(v[2 * k], v[2 * k + 1]));
  __m512d q[2];
  for (int k = 0; k < 2; k++) /* 128-bit blocks 0, 2 against 1, 3 */
    q[k] = _mm512_add_pd(_mm512_shuffle_f64x2(t[2 * k], t[2 * k + 1], 0x88),
                         _mm512_shuffle_f64x2(t[2 * k], t[2 * k + 1], 0xDD));
  return _mm512_add_pd(_mm512_shuffle_f64x2(q[0], q[1], 0x88),
                       _mm512_shuffle_f64x2(q[0], q[1], 0xDD));
}

#elif defined(NPLM__V8_AVX2)
#include <immintrin.h>
typedef struct {
  __m256d lo, hi;
} v8;
NPLM__VINLINE v8 v8_set1(double a) {
  v8 r = {_mm256_set1_pd(a), _mm256_set1_pd(a)};
  return r;
}
NPLM__VINLINE v8 v8_load(const double *p) {
  v8 r = {_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)};
  return r;
}
NPLM__VINLINE void v8_store(double *p, v8 a) {
  _mm256_storeu_pd(p, a.lo);
  _mm256_storeu_pd(p + 4, a.hi);
}
#define NPLM__V8_BIN(name, op)                      \
  NPLM__VINLINE v8 name(v8 a, v8 b) {               \
    v8 r = {op(a.lo, b.lo), op(a.hi, b.hi)};        \
    return r;                                       \
  }
NPLM__V8_BIN(v8_add, _mm256_add_pd)
NPLM__V8_BIN(v8_sub, _mm256_sub_pd)
NPLM__V8_BIN(v8_mul, _mm256_mul_pd)
NPLM__V8_BIN(v8_div, _mm256_div_pd)
#undef NPLM__V8_BIN
NPLM__VINLINE v8 v8_fma(v8 a, v8 b, v8 c) {
  v8 r = {_mm256_fmadd_pd(a.lo, b.lo, c.lo), _mm256_fmadd_pd(a.hi, b.hi, c.hi)};
  return r;
}
NPLM__VINLINE v8 v8_sel_gt(v8 a, v8 b, v8 x, v8 y) {
  v8 r = {_mm256_blendv_pd(y.lo, x.lo, _mm256_cmp_pd(a.lo, b.lo, _CMP_GT_OQ)),
          _mm256_blendv_pd(y.hi, x.hi, _mm256_cmp_pd(a.hi, b.hi, _CMP_GT_OQ))};
  return r;
}
NPLM__VINLINE v8 v8_sel_lt(v8 a, v8 b, v8 x, v8 y) {
  v8 r = {_mm256_blendv_pd(y.lo, x.lo, _mm256_cmp_pd(a.lo, b.lo, _CMP_LT_OQ)),
          _mm256_blendv_pd(y.hi, x.hi, _mm256_cmp_pd(a.hi, b.hi, _CMP_LT_OQ))};
  return r;
}
NPLM__VINLINE int v8_all_within(v8 x, double lo, double hi) {
  const __m256d l = _mm256_set1_pd(lo), h = _mm256_set1_pd(hi);
  const __m256d a = _mm256_and_pd(_mm256_cmp_pd(x.lo, l, _CMP_GE_OQ), _mm256_cmp_pd(x.lo, h, _CMP_LE_OQ));
  const __m256d b = _mm256_and_pd(_mm256_cmp_pd(x.hi, l, _CMP_GE_OQ), _mm256_cmp_pd(x.hi, h, _CMP_LE_OQ));
  return _mm256_movemask_pd(_mm256_and_pd(a, b)) == 0xF;
}
NPLM__VINLINE v8 v8_max(v8 a, v8 b) {
  v8 r = {_mm256_max_pd(a.lo, b.lo), _mm256_max_pd(a.hi, b.hi)};
  return r;
}
NPLM__VINLINE v8 v8_min(v8 a, v8 b) {
  v8 r = {_mm256_min_pd(a.lo, b.lo), _mm256_min_pd(a.hi, b.hi)};
  return r;
}
NPLM__VINLINE __m256d pow2_half(__m256d h, __m256d shift) {
  __m256i k = _mm256_sub_epi64(_mm256_castpd_si256(h), _mm256_castpd_si256(shift));
  k = _mm256_add_epi64(k, _mm256_set1_epi64x(1023));
  return _mm256_castsi256_pd(_mm256_slli_epi64(k, 52));
}
NPLM__VINLINE v8 v8_pow2_of_shifted(v8 h, v8 shift) {
  v8 r = {pow2_half(h.lo, shift.lo), pow2_half(h.hi, shift.hi)};
  return r;
}
NPLM__VINLINE v8 v8_fnma(v8 a, v8 b, v8 c) {
  v8 r = {_mm256_fnmadd_pd(a.lo, b.lo, c.lo), _mm256_fnmadd_pd(a.hi, b.hi, c.hi)};
  return r;
}
/* tab[j], j = bits(h) mod 16, without a gather (slow on AMD): each quarter of the table is
   permuted across the register by the 32-bit index pairs (2 (j mod 4), 2 (j mod 4) + 1), then
   bits 2 and 3 of j pick the quarter (blendv reads the sign bit). */
NPLM__VINLINE __m256d table16_half(const double *tab, __m256d h) {
  const __m256i j = _mm256_castpd_si256(h);
  const __m256i i2 = _mm256_slli_epi64(_mm256_and_si256(j, _mm256_set1_epi64x(3)), 1);
  const __m256i idx = _mm256_or_si256(i2, _mm256_slli_epi64(_mm256_add_epi64(i2, _mm256_set1_epi64x(1)), 32));
  __m256d q[4];
  for (int k = 0; k < 4; k++)
    q[k] = _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(_mm256_loadu_pd(tab + 4 * k)), idx));
  const __m256d b2 = _mm256_castsi256_pd(_mm256_slli_epi64(j, 61));
  const __m256d b3 = _mm256_castsi256_pd(_mm256_slli_epi64(j, 60));
  return _mm256_blendv_pd(_mm256_blendv_pd(q[0], q[1], b2), _mm256_blendv_pd(q[2], q[3], b2), b3);
}
NPLM__VINLINE v8 v8_table16(const double *tab, v8 h) {
  v8 r = {table16_half(tab, h.lo), table16_half(tab, h.hi)};
  return r;
}
NPLM__VINLINE __m256d scale_k16_half(__m256d v, __m256d h, __m256d shift) {
  __m256i k = _mm256_sub_epi64(_mm256_castpd_si256(h), _mm256_castpd_si256(shift));
  k = _mm256_andnot_si256(_mm256_set1_epi64x(0xFLL << 48), _mm256_slli_epi64(k, 48));
  return _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(v), k));
}
/* v 2^m for h = shift + k ulps of shift, m = floor(k / 16): m added to the exponent bits of v
   (normal v and result); k16 = k / 16 is for the AVX-512 version */
NPLM__VINLINE v8 v8_scale_k16(v8 v, v8 h, v8 shift, v8 k16) {
  (void)k16;
  v8 r = {scale_k16_half(v.lo, h.lo, shift.lo), scale_k16_half(v.hi, h.hi, shift.hi)};
  return r;
}

#else /* portable C: fma() is correctly rounded in every C99 libm */
typedef struct {
  double v[8];
} v8;
NPLM__VINLINE v8 v8_set1(double a) {
  v8 r;
  for (int i = 0; i < 8; i++) r.v[i] = a;
  return r;
}
NPLM__VINLINE v8 v8_load(const double *p) {
  v8 r;
  memcpy(r.v, p, sizeof r.v);
  return r;
}
NPLM__VINLINE void v8_store(double *p, v8 a) { memcpy(p, a.v, sizeof a.v); }
#define NPLM__V8_BIN(name, expr)              \
  NPLM__VINLINE v8 name(v8 a, v8 b) {         \
    v8 r;                                     \
    for (int i = 0; i < 8; i++) r.v[i] = expr; \
    return r;                                 \
  }
NPLM__V8_BIN(v8_add, a.v[i] + b.v[i])
NPLM__V8_BIN(v8_sub, a.v[i] - b.v[i])
NPLM__V8_BIN(v8_mul, a.v[i] * b.v[i])
NPLM__V8_BIN(v8_div, a.v[i] / b.v[i])
#undef NPLM__V8_BIN
NPLM__VINLINE v8 v8_fma(v8 a, v8 b, v8 c) {
  v8 r;
  for (int i = 0; i < 8; i++) r.v[i] = fma(a.v[i], b.v[i], c.v[i]);
  return r;
}
NPLM__VINLINE v8 v8_sel_gt(v8 a, v8 b, v8 x, v8 y) {
  v8 r;
  for (int i = 0; i < 8; i++) r.v[i] = a.v[i] > b.v[i] ? x.v[i] : y.v[i];
  return r;
}
NPLM__VINLINE v8 v8_sel_lt(v8 a, v8 b, v8 x, v8 y) {
  v8 r;
  for (int i = 0; i < 8; i++) r.v[i] = a.v[i] < b.v[i] ? x.v[i] : y.v[i];
  return r;
}
NPLM__VINLINE int v8_all_within(v8 x, double lo, double hi) {
  int ok = 1;
  for (int i = 0; i < 8; i++) ok &= x.v[i] >= lo && x.v[i] <= hi;
  return ok;
}
NPLM__VINLINE v8 v8_max(v8 a, v8 b) {
  v8 r;
  for (int i = 0; i < 8; i++) r.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
  return r;
}
NPLM__VINLINE v8 v8_min(v8 a, v8 b) {
  v8 r;
  for (int i = 0; i < 8; i++) r.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
  return r;
}
NPLM__VINLINE v8 v8_pow2_of_shifted(v8 h, v8 shift) {
  v8 r;
  for (int i = 0; i < 8; i++) {
    uint64_t hb, sb;
    memcpy(&hb, &h.v[i], 8);
    memcpy(&sb, &shift.v[i], 8);
    uint64_t e = (hb - sb + 1023u) << 52;
    memcpy(&r.v[i], &e, 8);
  }
  return r;
}
NPLM__VINLINE v8 v8_fnma(v8 a, v8 b, v8 c) {
  v8 r;
  for (int i = 0; i < 8; i++) r.v[i] = fma(-a.v[i], b.v[i], c.v[i]);
  return r;
}
NPLM__VINLINE v8 v8_table16(const double *tab, v8 h) {
  v8 r;
  for (int i = 0; i < 8; i++) {
    uint64_t hb;
    memcpy(&hb, &h.v[i], 8);
    r.v[i] = tab[hb & 15u];
  }
  return r;
}
NPLM__VINLINE v8 v8_scale_k16(v8 v, v8 h, v8 shift, v8 k16) {
  (void)k16;
  v8 r;
  for (int i = 0; i < 8; i++) {
    uint64_t hb, sb, vb;
    memcpy(&hb, &h.v[i], 8);
    memcpy(&sb, &shift.v[i], 8);
    memcpy(&vb, &v.v[i], 8);
    vb += ((hb - sb) << 48) & ~((uint64_t)0xF << 48);
    memcpy(&r.v[i], &vb, 8);
  }
  return r;
}
#endif

/* Sum of the 8 lanes in a fixed tree order: ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). */
NPLM__VINLINE double v8_lane_sum(v8 v) {
  double a[8];
  v8_store(a, v);
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

#if !defined(NPLM__V8_AVX512)
/* The lane sums of eight vectors (see the AVX-512 version), one v8_lane_sum per vector. */
NPLM__VINLINE v8 v8_hsum8(const v8 *v) {
  double r[8];
  for (int k = 0; k < 8; k++) r[k] = v8_lane_sum(v[k]);
  return v8_load(r);
}
#endif

/* e^r for |r| <= ln2/2 (1 + 1e-6): degree-11 minimax polynomial (Remez on the relative error,
 * 3e-18; about 1.1 ulp after rounding), evaluated by Horner with fma. */
NPLM__VINLINE v8 v8_exp_poly(v8 r) {
  v8 p = v8_set1(0x1.ad661d69580a8p-26);
  p = v8_fma(p, r, v8_set1(0x1.28b311df9786ap-22));
  p = v8_fma(p, r, v8_set1(0x1.71df452055de5p-19));
  p = v8_fma(p, r, v8_set1(0x1.a01992d0e53d4p-16));
  p = v8_fma(p, r, v8_set1(0x1.a01a011057375p-13));
  p = v8_fma(p, r, v8_set1(0x1.6c16c187811b1p-10));
  p = v8_fma(p, r, v8_set1(0x1.1111111130dd6p-7));
  p = v8_fma(p, r, v8_set1(0x1.555555554f370p-5));
  p = v8_fma(p, r, v8_set1(0x1.55555555554a2p-3));
  p = v8_fma(p, r, v8_set1(0x1.0000000000010p-1));
  p = v8_fma(p, r, v8_set1(1.0));
  return v8_fma(p, r, v8_set1(1.0));
}

/* exp on eight lanes: x = k ln2 + r (Cody-Waite), e^r by v8_exp_poly, 2^k in two halves so that
 * subnormal results round once (overflow +inf,
 * underflow 0 with one rounding for subnormal results, NaN propagates). */
NPLM__VINLINE v8 v8_exp(v8 x) {
  const v8 shift = v8_set1(0x1.8p52);
  const v8 hi_lim = v8_set1(709.782712893383973096), lo_lim = v8_set1(-745.133219101941108420);
  v8 xc = v8_sel_gt(x, hi_lim, hi_lim, x);
  xc = v8_sel_lt(xc, lo_lim, lo_lim, xc);
  v8 t = v8_fma(xc, v8_set1(0x1.71547652b82fep0), shift);
  v8 k = v8_sub(t, shift);
  v8 r = v8_fma(k, v8_set1(-0x1.62e42fefa3800p-1), xc);
  r = v8_fma(k, v8_set1(-0x1.ef35793c7673p-45), r);
  v8 p = v8_exp_poly(r);
  v8 h = v8_fma(k, v8_set1(0.5), shift);
  v8 k1 = v8_sub(h, shift);
  v8 h2 = v8_add(v8_sub(k, k1), shift);
  v8 y = v8_mul(v8_mul(p, v8_pow2_of_shifted(h, shift)), v8_pow2_of_shifted(h2, shift));
  y = v8_sel_gt(x, hi_lim, v8_set1((double)INFINITY), y);
  y = v8_sel_lt(x, lo_lim, v8_set1(0.0), y);
  return y;
}

/* 2^(j/16), j = 0 .. 15, correctly rounded. */
static const double nplm__exp2_16th[16] = {
    0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0};

/* e^-z for z in [-700, 708] (results normal): e^-z = 2^m 2^(j/16) e^r with k = 16 m + j =
 * round(-16 z / ln2) and |r| <= ln2/32; the table entry is scaled by 2^m through its exponent
 * bits, and e^r - 1 = r g(r) with g a degree-5 near-minimax polynomial (relative error of e^r
 * 1.4e-17 with the rounded coefficients; Chebyshev fit in mpmath). About 1.5 ulp; 11 vector
 * operations and a table selection, where the degree-11 exp (v8_exp) needs 17. */
NPLM__VINLINE v8 v8_exp_minus(v8 z) {
  /* t = shift + round(-16 z / ln2) / 16: the shift's ulp is 1/16, so t counts k = round(-16 z /
   * ln2) in ulps (its low 4 bits select the table entry) and k16 = t - shift = k / 16 exactly */
  const v8 shift = v8_set1(0x1.8p48);
  v8 t = v8_fma(z, v8_set1(-0x1.71547652b82fep+0), shift);
  v8 k16 = v8_sub(t, shift);
  /* x = z + k ln2/16 = -r (ln2 in two parts: k16 * hi is exact for |k| < 2^20) */
  v8 x = v8_fma(k16, v8_set1(0x1.62e42fef00000p-1), z);
  x = v8_fma(k16, v8_set1(0x1.473de6af278edp-34), x);
  /* g(-x) by Horner: odd coefficients change sign */
  v8 q = v8_set1(-0x1.6c17ed4cc4834p-10);
  q = v8_fma(q, x, v8_set1(0x1.11123cf1dba3ap-7));
  q = v8_fma(q, x, v8_set1(-0x1.55555554e9468p-5));
  q = v8_fma(q, x, v8_set1(0x1.555555547d378p-3));
  q = v8_fma(q, x, v8_set1(-0x1.0000000000001p-1));
  q = v8_fma(q, x, v8_set1(0x1.0000000000003p+0));
  const v8 s = v8_scale_k16(v8_table16(nplm__exp2_16th, t), t, shift, k16); /* 2^(k/16) */
  return v8_fnma(s, v8_mul(x, q), s);                                   /* s (1 + r g(r)) */
}

/* Logistic sigmoids 1 / d, d = 1 + e^-z, are computed in groups of up to NPLM__SIG_GROUP
 * values (the hidden units of one event) that share one division: with running products
 * p_q = d_0 ... d_q, r = 1 / p_(n-1), then from q = n-1 down to 1: 1/d_q = r p_(q-1) and r <- r d_q;
 * 1/d_0 = r (simultaneous inversion: one division and 3 (n - 1) multiplications for n
 * sigmoids). The division is the slowest vector operation (one per 16 cycles); in a group of
 * n a sigmoid goes through up to 2 (n - 1) more roundings (bound 3 + 2 (n - 1) ulp, worst seen
 * 6.3 ulp for n = 5; tests/unit/test_kernels.c). z is
 * clamped to [NPLM__SIG_ZLO, 700] so that a product of NPLM__SIG_GROUP denominators stays
 * below DBL_MAX ((1 + e^140)^5 < 1e305); below the clamp the sigmoid keeps its value at the
 * clamp (< 1.6e-61), above it is 1. */
#define NPLM__SIG_GROUP 5
#define NPLM__SIG_ZLO (-140.0)

/* d = 1 + e^-z with z clamped to [NPLM__SIG_ZLO, 700] (NaN propagates). */
NPLM__VINLINE v8 v8_sigmoid_denominator(v8 z) {
  const v8 zc = v8_min(v8_set1(700.0), v8_max(v8_set1(NPLM__SIG_ZLO), z));
  return v8_add(v8_set1(1.0), v8_exp_minus(zc));
}

/* Member q of a group: d[q * stride] = d_q = 1 + e^-z, prod[q * stride] = d_0 ... d_q. */
NPLM__VINLINE void v8_sigmoid_push(double *d, double *prod, size_t q, size_t stride, v8 z) {
  const v8 dq = v8_sigmoid_denominator(z);
  v8_store(d + q * stride, dq);
  v8_store(prod + q * stride, q ? v8_mul(v8_load(prod + (q - 1) * stride), dq) : dq);
}

/* The n (1 .. NPLM__SIG_GROUP) sigmoids of a group in place: d[q * stride] holds d_q on entry
 * and 1 / d_q on return, prod[q * stride] the running product d_0 ... d_q (prod[0] = d_0). */
NPLM__VINLINE void v8_sigmoid_group(double *d, const double *prod, size_t n, size_t stride) {
  v8 r = v8_div(v8_set1(1.0), v8_load(prod + (n - 1) * stride));
  for (size_t q = n - 1; q > 0; q--) {
    const v8 dq = v8_load(d + q * stride);
    v8_store(d + q * stride, v8_mul(r, v8_load(prod + (q - 1) * stride)));
    r = v8_mul(r, dq);
  }
  v8_store(d, r);
}

/* One sigmoid alone (a group of one): 1 / (1 + e^-z), z clamped as above. Below 3 ulp. */
NPLM__VINLINE v8 v8_sigmoid(v8 z) { return v8_div(v8_set1(1.0), v8_sigmoid_denominator(z)); }

/* e^x for the loss: v8_exp_minus(-x) (11 vector operations and a table selection, about 1.5
 * ulp) when every lane is in [-708, 700]; a vector with a lane outside (overflow, subnormal or
 * zero results, NaN) takes v8_exp on the lanes outside. Either way a lane's value depends on
 * its own x only. */
NPLM__VINLINE v8 v8_exp_fast(v8 x) {
  v8 y = v8_exp_minus(v8_sub(v8_set1(0.0), x));
  if (!v8_all_within(x, -708.0, 700.0)) {
    const v8 e = v8_exp(x); /* NaN lanes are NaN in y already */
    y = v8_sel_gt(x, v8_set1(700.0), e, y);
    y = v8_sel_lt(x, v8_set1(-708.0), e, y);
  }
  return y;
}

/* e^-s for s >= 0 (Gaussian kernels), by v8_exp_minus; results below e^-708 (subnormal,
 * < 3.3e-308) are returned as 0. */
NPLM__VINLINE v8 v8_exp_neg(v8 s) {
  const v8 cut = v8_set1(708.0);
  v8 e = v8_exp_minus(v8_min(s, cut));
  return v8_sel_gt(s, cut, v8_set1(0.0), e);
}

#endif
