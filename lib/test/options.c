/* The option table: names, types, ranges, defaults; setters and getters. */
#include <math.h>
#include <string.h>

#include "test/test_internal.h"

#define I NPLM__OPT_INT
#define D NPLM__OPT_DOUBLE
const nplm__option_info_t nplm__options[NPLM__N_OPTIONS] = {
    {NPLM_OPT_THREADS, "threads", I, 0, 1024, 0},
    {NPLM_OPT_SEED, "seed", I, 0, 9007199254740992.0, 0},
    {NPLM_OPT_OPTIMIZER, "optimizer", I, 0, 2, NPLM_OPTIMIZER_ADAM},
    {NPLM_OPT_EPOCHS, "epochs", I, 1, 1e9, 300000},
    {NPLM_OPT_LEARNING_RATE, "learning_rate", D, 0x1p-1074, 10, 1e-3},
    {NPLM_OPT_INIT, "init", I, 0, 1, NPLM_INIT_RANDOM},
    {NPLM_OPT_CLIP_BIASES, "clip_biases", I, 0, 1, 0},
    {NPLM_OPT_PATIENCE, "patience", I, 0, 1e9, 1000},
    {NPLM_OPT_MAX_ITERATIONS, "max_iterations", I, 1, 1e9, 20000},
    {NPLM_OPT_TOLERANCE, "tolerance", D, 0, 0.99999999999999989, 1e-12},
    {NPLM_OPT_GRADIENT_TOLERANCE, "gradient_tolerance", D, 0, 1e6, 1e-9},
    {NPLM_OPT_LBFGS_MEMORY, "lbfgs_memory", I, 0, 100, 0},
    {NPLM_OPT_ADAM_BETA1, "adam_beta1", D, 0, 0.9999999999999999, 0.9},
    {NPLM_OPT_ADAM_BETA2, "adam_beta2", D, 0, 0.9999999999999999, 0.999},
    {NPLM_OPT_ADAM_EPSILON, "adam_epsilon", D, 0x1p-1074, 1, 1e-7},
    {NPLM_OPT_BIAS_INIT, "bias_init", I, 0, 1, NPLM_BIAS_INIT_ZERO},
    {NPLM_OPT_WEIGHT_CLIP, "weight_clip", D, 0, (double)INFINITY, 0},
    {NPLM_OPT_STARTS, "starts", I, 1, 1000, 1},
    {NPLM_OPT_NEWTON_STEPS, "newton_steps", I, 1, 100, 1},
    {NPLM_OPT_KERNEL_SOLVER, "kernel_solver", I, 0, 2, NPLM_SOLVER_AUTO},
    {NPLM_OPT_STANDARDIZE, "standardize", I, 0, 1, 0},
    {NPLM_OPT_CG_TOLERANCE, "cg_tolerance", D, 0x1p-1074, 0.99999999999999989, 1e-7},
    {NPLM_OPT_CG_MAX_ITERATIONS, "cg_max_iterations", I, 1, 1e6, 1000},
    {NPLM_OPT_KERNEL_CENTERS, "kernel_centers", I, 0, 16777216.0, 0},
    {NPLM_OPT_KERNEL_SIGMA, "kernel_sigma", D, 0, 1.7976931348623157e308, 0},
    {NPLM_OPT_KERNEL_LAMBDA, "kernel_lambda", D, -1.7976931348623157e308, 1e6, -1},
    {NPLM_OPT_TOY_OFFSET, "toy_offset", I, 0, 9007199254740992.0, 0},
    {NPLM_OPT_TOY_AUX, "toy_aux", I, 0, 1, NPLM_TOY_AUX_FIXED},
};
#undef I
#undef D

int nplm__option_index(nplm_option_t key) {
  for (int i = 0; i < NPLM__N_OPTIONS; i++)
    if (nplm__options[i].key == key) return i;
  return -1;
}

static nplm_status_t set_value(nplm_test_t *t, nplm_option_t key, double value, int from_int,
                               const char *fn) {
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  int i = nplm__option_index(key);
  if (i < 0) return nplm__fail(NPLM_EINVAL, "%s: unknown option key %d", fn, (int)key);
  const nplm__option_info_t *o = &nplm__options[i];
  if (o->type == NPLM__OPT_DOUBLE && from_int)
    return nplm__fail(NPLM_EINVAL, "%s: option '%s' is a double: use nplm_test_set_double", fn,
                      o->name);
  if (o->type == NPLM__OPT_INT && value != floor(value))
    return nplm__fail(NPLM_EINVAL, "%s: option '%s' takes an integer, got %g", fn, o->name,
                      value);
  int ok = !isnan(value) && value >= o->lo && value <= o->hi &&
           (isfinite(value) || (value > 0 && isinf(o->hi)));
  if (!ok)
    return nplm__fail(NPLM_EINVAL, "%s: option '%s' = %.17g is outside [%.17g, %.17g]", fn,
                      o->name, value, o->lo, o->hi);
  t->opt[i] = value;
  return NPLM_OK;
}

nplm_status_t nplm_test_set_int(nplm_test_t *t, nplm_option_t key, int64_t value) {
  static const char fn[] = "nplm_test_set_int";
  nplm__clear_error();
  nplm_status_t s;
  const int i = nplm__option_index(key);
  /* every integer option lies within +-2^53, where a double holds it exactly; beyond, the
     conversion below would round into range */
  if (t && i >= 0 && (value > (int64_t)1 << 53 || value < -((int64_t)1 << 53)))
    s = nplm__fail(NPLM_EINVAL, "%s: option '%s' = %lld is outside [%.17g, %.17g]", fn,
                   nplm__options[i].name, (long long)value, nplm__options[i].lo,
                   nplm__options[i].hi);
  else
    s = set_value(t, key, (double)value, 1, fn);
  if (t && s != NPLM_OK) nplm__copy_error(t->msg);
  return s;
}

nplm_status_t nplm_test_set_double(nplm_test_t *t, nplm_option_t key, double value) {
  nplm__clear_error();
  nplm_status_t s = set_value(t, key, value, 0, "nplm_test_set_double");
  if (t && s != NPLM_OK) nplm__copy_error(t->msg);
  return s;
}

nplm_status_t nplm_test_get_option(const nplm_test_t *t, nplm_option_t key, double *value) {
  static const char fn[] = "nplm_test_get_option";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (!value) return nplm__fail(NPLM_EINVAL, "%s: value is NULL", fn);
  int i = nplm__option_index(key);
  if (i < 0) return nplm__fail(NPLM_EINVAL, "%s: unknown option key %d", fn, (int)key);
  *value = t->opt[i];
  return NPLM_OK;
}

nplm_status_t nplm_test_reset_options(nplm_test_t *t) {
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "nplm_test_reset_options: t is NULL");
  for (int i = 0; i < NPLM__N_OPTIONS; i++) t->opt[i] = nplm__options[i].dflt;
  return NPLM_OK;
}

nplm_status_t nplm_option_bounds(nplm_option_t key, double *lo, double *hi, double *dflt) {
  nplm__clear_error();
  int i = nplm__option_index(key);
  if (i < 0) return nplm__fail(NPLM_EINVAL, "nplm_option_bounds: unknown option key %d", (int)key);
  if (lo) *lo = nplm__options[i].lo;
  if (hi) *hi = nplm__options[i].hi;
  if (dflt) *dflt = nplm__options[i].dflt;
  return NPLM_OK;
}

const char *nplm_option_name(nplm_option_t key) {
  int i = nplm__option_index(key);
  return i < 0 ? NULL : nplm__options[i].name;
}

double nplm__test_opt(const nplm_test_t *t, nplm_option_t key) {
  return t->opt[nplm__option_index(key)];
}
