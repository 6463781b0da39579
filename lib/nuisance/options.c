/* Learning options of a nuisance handle: a small typed table like the test's. */
#include <math.h>

#include "nuisance/nuisance.h"

const struct nplm__nuis_option_info nplm__nuis_options[NPLM__NUIS_N_OPTIONS] = {
    {NPLM_NUIS_OPT_SEED, "seed", 1, 0, 9007199254740992.0, 0},
    {NPLM_NUIS_OPT_OPTIMIZER, "optimizer", 1, 0, 1, 1 /* L-BFGS-B */},
    {NPLM_NUIS_OPT_EPOCHS, "epochs", 1, 1, 1e9, 30000},
    {NPLM_NUIS_OPT_LEARNING_RATE, "learning_rate", 0, 0x1p-1074, 10, 1e-3},
    {NPLM_NUIS_OPT_MAX_ITERATIONS, "max_iterations", 1, 1, 1e9, 3000},
    {NPLM_NUIS_OPT_TOLERANCE, "tolerance", 0, 0, 0.99999999999999989, 1e-12},
    {NPLM_NUIS_OPT_VALIDATION_EVERY, "validation_every", 1, 0, 1000, 5},
    {NPLM_NUIS_OPT_WEIGHT_CLIP, "weight_clip", 0, 0x1p-1074, (double)INFINITY, 100.0},
};

static int option_index(nplm_nuisance_option_t key) {
  for (int i = 0; i < NPLM__NUIS_N_OPTIONS; i++)
    if (nplm__nuis_options[i].key == (int)key) return i;
  return -1;
}

static nplm_status_t set_value(nplm_nuisance_t *nu, nplm_nuisance_option_t key, double value,
                               int from_int, const char *fn) {
  if (!nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  int i = option_index(key);
  if (i < 0) return nplm__fail(NPLM_EINVAL, "%s: unknown option key %d", fn, (int)key);
  const struct nplm__nuis_option_info *o = &nplm__nuis_options[i];
  if (!o->is_int && from_int)
    return nplm__fail(NPLM_EINVAL, "%s: option '%s' is a double: use nplm_nuisance_set_double",
                      fn, o->name);
  if (o->is_int && value != floor(value))
    return nplm__fail(NPLM_EINVAL, "%s: option '%s' takes an integer, got %g", fn, o->name,
                      value);
  if (!(value >= o->lo && value <= o->hi) || (!isfinite(value) && !(isinf(o->hi) && value > 0)))
    return nplm__fail(NPLM_EINVAL, "%s: option '%s' = %.17g is outside [%.17g, %.17g]", fn,
                      o->name, value, o->lo, o->hi);
  if (key == NPLM_NUIS_OPT_VALIDATION_EVERY && value == 1.0)
    return nplm__fail(NPLM_EINVAL, "%s: option 'validation_every' = 1 would hold out every "
                                   "event (use 0 for no validation split, or >= 2)", fn);
  nu->opt[i] = value;
  return NPLM_OK;
}

nplm_status_t nplm_nuisance_set_int(nplm_nuisance_t *nu, nplm_nuisance_option_t key,
                                    int64_t value) {
  static const char fn[] = "nplm_nuisance_set_int";
  nplm__clear_error();
  const int i = option_index(key);
  /* every integer option lies within +-2^53, where a double holds it exactly */
  if (nu && i >= 0 && (value > (int64_t)1 << 53 || value < -((int64_t)1 << 53)))
    return nplm__fail(NPLM_EINVAL, "%s: option '%s' = %lld is outside [%.17g, %.17g]", fn,
                      nplm__nuis_options[i].name, (long long)value, nplm__nuis_options[i].lo,
                      nplm__nuis_options[i].hi);
  return set_value(nu, key, (double)value, 1, fn);
}

nplm_status_t nplm_nuisance_set_double(nplm_nuisance_t *nu, nplm_nuisance_option_t key,
                                       double value) {
  nplm__clear_error();
  return set_value(nu, key, value, 0, "nplm_nuisance_set_double");
}

nplm_status_t nplm_nuisance_get_option(const nplm_nuisance_t *nu, nplm_nuisance_option_t key,
                                       double *value) {
  static const char fn[] = "nplm_nuisance_get_option";
  nplm__clear_error();
  if (!nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  if (!value) return nplm__fail(NPLM_EINVAL, "%s: value is NULL", fn);
  int i = option_index(key);
  if (i < 0) return nplm__fail(NPLM_EINVAL, "%s: unknown option key %d", fn, (int)key);
  *value = nu->opt[i];
  return NPLM_OK;
}
