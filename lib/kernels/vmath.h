/* Element-wise math written with +, -, *, fma and bit moves only, so that the compiler can
 * vectorise it for any instruction set and every set gives the same bits. */
#ifndef NPLM_KERNELS_VMATH_H
#define NPLM_KERNELS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define NPLM__EXP_HI 709.782712893383973096 /* above: +inf */
#define NPLM__EXP_LO -745.133219101941108420 /* below: 0 */

static inline uint64_t nplm__bits(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static inline double nplm__from_bits(uint64_t u) {
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* exp(x): x = k ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), e^r by a degree-12 Taylor
 * polynomial (truncation < 2e-16), 2^k applied in two halves so that subnormal results round
 * once. Overflow gives +inf, underflow 0, NaN propagates. */
static inline double nplm__vexp(double x) {
  const double shift = 0x1.8p52;
  const double log2e = 0x1.71547652b82fep0;
  const double ln2hi = 0x1.62e42fefa3800p-1;
  const double ln2lo = 0x1.ef35793c7673p-45;
  double xc = x > NPLM__EXP_HI ? NPLM__EXP_HI : x;
  xc = xc < NPLM__EXP_LO ? NPLM__EXP_LO : xc;
  double t = fma(xc, log2e, shift);
  double k = t - shift;
  double r = fma(k, -ln2hi, xc);
  r = fma(k, -ln2lo, r);
  double p = 0x1.ad661d69580a8p-26;
  p = fma(p, r, 0x1.28b311df9786ap-22);
  p = fma(p, r, 0x1.71df452055de5p-19);
  p = fma(p, r, 0x1.a01992d0e53d4p-16);
  p = fma(p, r, 0x1.a01a011057375p-13);
  p = fma(p, r, 0x1.6c16c187811b1p-10);
  p = fma(p, r, 0x1.1111111130dd6p-7);
  p = fma(p, r, 0x1.555555554f370p-5);
  p = fma(p, r, 0x1.55555555554a2p-3);
  p = fma(p, r, 0x1.0000000000010p-1);
  p = fma(p, r, 1.0);
  p = fma(p, r, 1.0);
  double h = fma(k, 0.5, shift); /* shift + round(k / 2) */
  double k1 = h - shift;
  double k2 = k - k1;
  double h2 = k2 + shift;
  uint64_t e1 = (nplm__bits(h) - nplm__bits(shift) + 1023u) << 52;
  uint64_t e2 = (nplm__bits(h2) - nplm__bits(shift) + 1023u) << 52;
  double y = (p * nplm__from_bits(e1)) * nplm__from_bits(e2);
  y = x > NPLM__EXP_HI ? (double)INFINITY : y;
  y = x < NPLM__EXP_LO ? 0.0 : y;
  return y;
}


#endif
