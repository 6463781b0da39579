/* Gaussian-kernel dispatch: the compiled instruction-set paths and the run-time choice (the
 * same rule as the MLP kernels, so both use the same path). */
#include "kernels/gauss.h"

#include <string.h>

#define DECLARE_PATH(isa)                                                                   \
  void nplm__gauss_rows_##isa(const double *x, size_t d, size_t n_ev, const double *ct,     \
                              size_t ldc, double *K, size_t ldk);                           \
  void nplm__gauss_hv_##isa(const double *x, size_t d, size_t n_ev, const double *ct,       \
                            size_t ldc, const double *v, const double *dw, double *tmp,     \
                            double *u, double *acc);                                        \
  void nplm__gauss_lowrank_##isa(const double *L, size_t ld, size_t r, const double *Ls,    \
                                 size_t lds, const double *Lb, size_t ldb, size_t na,       \
                                 size_t i0, size_t nr, double *Ln, double *dg);

DECLARE_PATH(baseline)
#if defined(NPLM_HAVE_X86_PATHS)
DECLARE_PATH(avx2)
DECLARE_PATH(avx512)
#endif

static const nplm__gauss_kernels_t paths[] = {
#if defined(NPLM_HAVE_X86_PATHS)
    {"avx512", nplm__gauss_rows_avx512, nplm__gauss_hv_avx512, nplm__gauss_lowrank_avx512},
    {"avx2", nplm__gauss_rows_avx2, nplm__gauss_hv_avx2, nplm__gauss_lowrank_avx2},
#endif
    {"baseline", nplm__gauss_rows_baseline, nplm__gauss_hv_baseline, nplm__gauss_lowrank_baseline},
};
#define N_PATHS (sizeof paths / sizeof paths[0])

const nplm__gauss_kernels_t *nplm__gauss_kernels(void) {
  const char *name = nplm__mlp_kernels()->name;
  for (size_t i = 0; i < N_PATHS; i++)
    if (strcmp(paths[i].name, name) == 0) return &paths[i];
  return &paths[N_PATHS - 1];
}

const nplm__gauss_kernels_t *nplm__gauss_kernels_by_name(const char *name) {
  if (!nplm__mlp_kernels_by_name(name)) return NULL; /* unknown or unsupported here */
  for (size_t i = 0; i < N_PATHS; i++)
    if (strcmp(paths[i].name, name) == 0) return &paths[i];
  return NULL;
}
