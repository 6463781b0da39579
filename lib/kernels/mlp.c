/* MLP kernel dispatch: the table of compiled instruction-set paths and the run-time choice. */
#include "kernels/mlp.h"

#include <pthread.h>
#include <string.h>

#include "kernels/v8.h" /* no NPLM__V8_* flag here: the portable back end */

#define DECLARE_PATH(isa)                                                                  \
  void nplm__mlp_loss_##isa(const nplm__mlp_spec_t *s, const double *params,               \
                            const double *x, const double *ca, const double *cb,           \
                            const nplm__mlp_offset_t *off, double *work, double *loss,     \
                            double *grad);                                                 \
  void nplm__mlp_forward_##isa(const nplm__mlp_spec_t *s, const double *params,            \
                               const double *x, double *work, double *f);                  \
  void nplm__mlp_backprop_##isa(const nplm__mlp_spec_t *s, const double *params,           \
                                const double *x, const double *dldf, double *work,         \
                                double *grad);

DECLARE_PATH(baseline)
#if defined(NPLM_HAVE_X86_PATHS)
DECLARE_PATH(avx2)
DECLARE_PATH(avx512)
#endif

static const nplm__mlp_kernels_t paths[] = {
#if defined(NPLM_HAVE_X86_PATHS)
    {"avx512", nplm__mlp_loss_avx512, nplm__mlp_forward_avx512, nplm__mlp_backprop_avx512},
    {"avx2", nplm__mlp_loss_avx2, nplm__mlp_forward_avx2, nplm__mlp_backprop_avx2},
#endif
    {"baseline", nplm__mlp_loss_baseline, nplm__mlp_forward_baseline,
     nplm__mlp_backprop_baseline},
};
#define N_PATHS (sizeof paths / sizeof paths[0])

static int supported(const nplm__mlp_kernels_t *k) {
#if defined(NPLM_HAVE_X86_PATHS)
  __builtin_cpu_init();
  if (strcmp(k->name, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("bmi2");
  if (strcmp(k->name, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
#endif
  (void)k;
  return 1;
}

static const nplm__mlp_kernels_t *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void) {
  for (size_t i = 0; i < N_PATHS; i++)
    if (supported(&paths[i])) {
      chosen = &paths[i];
      return;
    }
  chosen = &paths[N_PATHS - 1];
}

const nplm__mlp_kernels_t *nplm__mlp_kernels(void) {
  pthread_once(&chosen_once, choose);
  return chosen;
}

const nplm__mlp_kernels_t *nplm__mlp_kernels_by_name(const char *name) {
  for (size_t i = 0; i < N_PATHS; i++)
    if (strcmp(paths[i].name, name) == 0) return supported(&paths[i]) ? &paths[i] : NULL;
  return NULL;
}

int nplm__mlp_spec_init(nplm__mlp_spec_t *s, const size_t *units, size_t n_layers) {
  if (n_layers < 2 || n_layers > NPLM__MAX_LAYERS) return -1;
  memset(s, 0, sizeof *s);
  s->n_layers = n_layers;
  size_t off = 0, act = 0, mx = 0;
  for (size_t l = 0; l < n_layers; l++) {
    if (units[l] < 1 || units[l] > NPLM__MAX_UNITS) return -1;
    s->units[l] = units[l];
    if (units[l] > mx) mx = units[l];
    if (l == 0) continue;
    s->w_off[l] = off;
    off += units[l] * units[l - 1];
    s->b_off[l] = off;
    off += units[l];
    act += units[l];
  }
  if (units[n_layers - 1] != 1) return -1;
  s->n_params = off;
  s->act_total = act;
  s->max_units = mx;
  return 0;
}

size_t nplm__mlp_work_size(const nplm__mlp_spec_t *s) {
  return 2 * s->act_total * NPLM__BLOCK + NPLM__LANES * s->n_params;
}

/* The kernels' own exp (v8_exp_fast, the loss's) and sigmoid (v8_sigmoid), one lane, so that
 * tests measure the code the kernels run. */
double nplm__exp(double x) {
  v8 y = v8_exp_fast(v8_set1(x));
  return y.v[0];
}

void nplm__exp_lanes(const double *x, double *y) { v8_store(y, v8_exp_fast(v8_load(x))); }

double nplm__sigmoid(double z) {
  v8 y = v8_sigmoid(v8_set1(z));
  return y.v[0];
}

void nplm__sigmoid_group(const double *z, size_t n, double *out) {
  double d[NPLM__SIG_GROUP * NPLM__LANES], prod[NPLM__SIG_GROUP * NPLM__LANES];
  for (size_t q = 0; q < n; q++) v8_sigmoid_push(d, prod, q, NPLM__LANES, v8_set1(z[q]));
  v8_sigmoid_group(d, prod, n, NPLM__LANES);
  for (size_t q = 0; q < n; q++) out[q] = d[q * NPLM__LANES];
}
