/* Gaussian-kernel blocks for the Nystrom (kernel) model, one implementation compiled for several
 * instruction sets like the MLP kernels (identical bits on every path).
 *
 * Centres are stored feature-major and padded: ct[j * ldc + i] for feature j of centre i,
 * ldc a multiple of NPLM__LANES >= m (padding centres may hold anything finite). Events come in
 * the MLP kernels' block layout: NPLM__BLOCK events feature-major, x[j * NPLM__BLOCK + e]. */
#ifndef NPLM_KERNELS_GAUSS_H
#define NPLM_KERNELS_GAUSS_H

#include <stddef.h>

#include "kernels/mlp.h"

/* Round m up to a multiple of NPLM__LANES. */
static inline size_t nplm__gauss_ld(size_t m) {
  return (m + NPLM__LANES - 1) / NPLM__LANES * NPLM__LANES;
}

/* Coordinates are pre-scaled by sqrt(g), g = 1 / (2 sigma^2), so that
 * k(x, c) = exp(-|x - c|^2) (values below e^-708 are 0).
 * Rows: K[e * ldk + i] for events e < n_ev (n_ev <= NPLM__BLOCK) of the block and centres
 * i < ldc (the padding columns are written too); ldk >= ldc. */
typedef void (*nplm__gauss_rows_fn)(const double *x, size_t d, size_t n_ev, const double *ct,
                                    size_t ldc, double *K, size_t ldk);

/* Fused pass for the conjugate-gradient solver, one block, never storing the block's kernel
 * rows beyond one group of NPLM__LANES events (tmp: NPLM__LANES * ldc doubles):
 *   u[e] = sum_i k(x_e, c_i) v[i]                     for every event e < n_ev,
 *   acc[i] += sum_e k(x_e, c_i) dw[e] u[e]            when acc is not NULL (events in order).
 * v and acc have ldc entries (v's padding entries must be 0). v NULL: u = 1 for every event
 * (so that acc += sum_e k(x_e, c_i) dw[e]); u may be NULL (not written). */
typedef void (*nplm__gauss_hv_fn)(const double *x, size_t d, size_t n_ev, const double *ct,
                                  size_t ldc, const double *v, const double *dw, double *tmp,
                                  double *u, double *acc);

/* Pivoted Cholesky update of rows i0 .. i0 + nr (nr a multiple of NPLM__LANES, rows beyond the
 * matrix zero): with L (ld x r), Ls (r x na, Ls[k * lds + p]) the rows of L at the new pivots
 * and Lb (na x na lower, ldb) the Cholesky factor of their Schur block,
 *   Ln[:, p] = (Ln[:, p] - L Ls[:, p] - sum_q<p Ln[:, q] Lb[p, q]) / Lb[p, p],
 *   dg -= sum_p Ln[:, p]^2,
 * each entry by fma in index order (the same bits on every path and for any row split). */
typedef void (*nplm__gauss_lowrank_fn)(const double *L, size_t ld, size_t r, const double *Ls,
                                       size_t lds, const double *Lb, size_t ldb, size_t na,
                                       size_t i0, size_t nr, double *Ln, double *dg);

typedef struct nplm__gauss_kernels {
  const char *name;
  nplm__gauss_rows_fn rows;
  nplm__gauss_hv_fn hv;
  nplm__gauss_lowrank_fn lowrank;
} nplm__gauss_kernels_t;

/* The best path this CPU runs (chosen once, thread-safe), or a named one (NULL if absent). */
const nplm__gauss_kernels_t *nplm__gauss_kernels(void);
const nplm__gauss_kernels_t *nplm__gauss_kernels_by_name(const char *name);

#endif
