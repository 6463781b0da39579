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
void NAME(nplm__gauss_lowrank)(const double *L, size_t ld, size_t r, const double *Ls,
                               size_t lds, const double *Lb, size_t ldb, size_t na, size_t i0,
                               size_t nr, double *Ln, double *dg);

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

/* Rows i0 .. i0 + nr (nr a multiple of 8) of the pivoted Cholesky's new columns (see gauss.h). */
void NAME(nplm__gauss_lowrank)(const double *L, size_t ld, size_t r, const double *Ls,
                               size_t lds, const double *Lb, size_t ldb, size_t na, size_t i0,
                               size_t nr, double *Ln, double *dg) {
  for (size_t i = i0; i < i0 + nr; i += NPLM__LANES) {
    size_t p0 = 0;
    for (; p0 + 8 <= na; p0 += 8) {
      v8 a[8];
      for (size_t q = 0; q < 8; q++) a[q] = v8_load(Ln + (p0 + q) * ld + i);
      for (size_t k = 0; k < r; k++) {
        const v8 lk = v8_load(L + k * ld + i);
        const double *sk = Ls + k * lds + p0;
        for (size_t q = 0; q < 8; q++) a[q] = v8_fma(lk, v8_set1(-sk[q]), a[q]);
      }
      for (size_t q = 0; q < 8; q++) v8_store(Ln + (p0 + q) * ld + i, a[q]);
    }
    for (; p0 < na; p0++) {
      v8 a = v8_load(Ln + p0 * ld + i);
      for (size_t k = 0; k < r; k++)
        a = v8_fma(v8_load(L + k * ld + i), v8_set1(-Ls[k * lds + p0]), a);
      v8_store(Ln + p0 * ld + i, a);
    }
    v8 dgv = v8_load(dg + i);
    for (size_t p = 0; p < na; p++) {
      v8 lp = v8_load(Ln + p * ld + i);
      for (size_t q = 0; q < p; q++)
        lp = v8_fma(v8_load(Ln + q * ld + i), v8_set1(-Lb[q * ldb + p]), lp);
      lp = v8_div(lp, v8_set1(Lb[p * ldb + p]));
      v8_store(Ln + p * ld + i, lp);
      dgv = v8_fma(lp, v8_sub(v8_set1(0.0), lp), dgv);
    }
    v8_store(dg + i, dgv);
  }
}
