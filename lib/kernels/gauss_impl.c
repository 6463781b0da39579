/* Gaussian-kernel blocks (see gauss.h), written once against v8 and compiled per instruction
 * set. Per centre group of 8 lanes: squared distance by fma in feature order, then e^-s. */
#include "kernels/gauss.h"
#include "kernels/v8.h"

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define NAME(f) CAT(f, NPLM__ISA)

void NAME(nplm__gauss_rows)(const double *x, size_t d, size_t n_ev, const double *ct,
                            size_t ldc, double *K, size_t ldk);
void NAME(nplm__gauss_hv)(const double *x, size_t d, size_t n_ev, const double *ct, size_t ldc,
                          const double *v, const double *dw, double *tmp, double *u,
                          double *acc);

NPLM__VINLINE v8 kernel8(const double *x, size_t e, size_t d, const double *ct, size_t ldc,
                         size_t i) {
  v8 s = v8_set1(0.0);
  for (size_t j = 0; j < d; j++) {
    v8 diff = v8_sub(v8_load(ct + j * ldc + i), v8_set1(x[j * NPLM__BLOCK + e]));
    s = v8_fma(diff, diff, s);
  }
  return v8_exp_neg(s);
}

void NAME(nplm__gauss_rows)(const double *x, size_t d, size_t n_ev, const double *ct,
                            size_t ldc, double *K, size_t ldk) {
  for (size_t e = 0; e < n_ev; e++)
    for (size_t i = 0; i < ldc; i += NPLM__LANES)
      v8_store(K + e * ldk + i, kernel8(x, e, d, ct, ldc, i));
}

/* Sum of the 8 lanes in a fixed order (the same on every path). */
NPLM__VINLINE double hsum(v8 a) {
  double t[8];
  v8_store(t, a);
  return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
}

void NAME(nplm__gauss_hv)(const double *x, size_t d, size_t n_ev, const double *ct, size_t ldc,
                          const double *v, const double *dw, double *tmp, double *u,
                          double *acc) {
  for (size_t e0 = 0; e0 < n_ev; e0 += NPLM__LANES) {
    const size_t ne = n_ev - e0 < NPLM__LANES ? n_ev - e0 : NPLM__LANES;
    double ub[NPLM__LANES];
    for (size_t q = 0; q < ne; q++) {
      double *row = tmp + q * ldc;
      if (v) {
        v8 s = v8_set1(0.0);
        for (size_t i = 0; i < ldc; i += NPLM__LANES) {
          v8 k = kernel8(x, e0 + q, d, ct, ldc, i);
          v8_store(row + i, k);
          s = v8_fma(k, v8_load(v + i), s);
        }
        ub[q] = hsum(s);
      } else {
        for (size_t i = 0; i < ldc; i += NPLM__LANES)
          v8_store(row + i, kernel8(x, e0 + q, d, ct, ldc, i));
        ub[q] = 1.0;
      }
      if (u) u[e0 + q] = ub[q];
    }
    if (!acc) continue;
    for (size_t q = 0; q < ne; q++) {
      const v8 c = v8_set1(dw[e0 + q] * ub[q]);
      const double *row = tmp + q * ldc;
      for (size_t i = 0; i < ldc; i += NPLM__LANES)
        v8_store(acc + i, v8_fma(v8_load(row + i), c, v8_load(acc + i)));
    }
  }
}
