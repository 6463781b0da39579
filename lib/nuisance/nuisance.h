/* Internal view of nplm_nuisance_t. */
#ifndef NPLM_NUISANCE_NUISANCE_H
#define NPLM_NUISANCE_NUISANCE_H

#include <math.h>

#include "core/core.h"
#include "model/model.h"

#define NPLM_H_INSIDE
#include "nplm/nuisance.h"
#undef NPLM_H_INSIDE

enum nplm__nuis_kind { NPLM__NUIS_NORM = 1, NPLM__NUIS_SHAPE_KNOWN = 2, NPLM__NUIS_SHAPE_LEARNED = 3 };

typedef struct nplm__nuis_item {
  int kind;
  double sigma, nu0;
  unsigned order;     /* shape: highest power */
  size_t col;         /* shape: first coefficient column */
  nplm_coefficient_fn fn;
  void *user;
  nplm_model_t **nets; /* learned: one network per power (order of them) */
  double scale;        /* learned: nu is standardised as nu / scale in the networks */
  int learned;         /* learned: 1 once nplm_nuisance_learn() succeeded */
  double train_loss, valid_loss;
} nplm__nuis_item_t;

/* learning options (nplm_nuisance_set_int / _set_double), in the order of nplm__nuis_options */
#define NPLM__NUIS_N_OPTIONS 8
extern const struct nplm__nuis_option_info {
  int key;
  const char *name;
  int is_int;
  double lo, hi, dflt;
} nplm__nuis_options[NPLM__NUIS_N_OPTIONS];
enum {
  NPLM__NO_SEED, NPLM__NO_OPTIMIZER, NPLM__NO_EPOCHS, NPLM__NO_LEARNING_RATE,
  NPLM__NO_MAX_ITERATIONS, NPLM__NO_TOLERANCE, NPLM__NO_VALIDATION_EVERY, NPLM__NO_WEIGHT_CLIP
};

struct nplm_nuisance {
  size_t d, n, cap;
  double opt[NPLM__NUIS_N_OPTIONS]; /* learning options, indexed by NPLM__NO_* */
  size_t n_cols; /* coefficient columns over all shape nuisances */
  nplm__nuis_item_t *items;
};

/* Ranges that keep the auxiliary term [(nu - nu0)^2 - nu0^2] / (2 sigma^2) and its gradient
 * representable: sigma in [1e-150, 1e150], |nu0| <= 1e150 and |nu0| / sigma <= 1e150. A learned
 * shape's standardisation scale s must leave s^K and s^-K normal for its order K. */
#define NPLM__NUIS_RANGE 1e150
static inline int nplm__nuis_sigma_ok(double sigma) {
  return sigma >= 1.0 / NPLM__NUIS_RANGE && sigma <= NPLM__NUIS_RANGE;
}
static inline int nplm__nuis_nu0_ok(double nu0, double sigma) {
  return fabs(nu0) <= NPLM__NUIS_RANGE && fabs(nu0) <= NPLM__NUIS_RANGE * sigma;
}
static inline int nplm__nuis_scale_ok(double scale, unsigned order) {
  return isnormal(pow(scale, (double)order)) && isnormal(pow(scale, -(double)order));
}

nplm_nuisance_t *nplm__nuisance_clone(const nplm_nuisance_t *nu);
/* Append an item (copied); the caller has checked it. */
nplm_status_t nplm__nuisance_add_item(nplm_nuisance_t *nu, const nplm__nuis_item_t *item,
                                      size_t *index, const char *fn);
/* Check varied sample i of a learning call (x_var[i], n events x d, weights w or NULL): finite
 * events, weights >= 0 with a positive sum; messages name the sample by its index. */
nplm_status_t nplm__check_varied_sample(const char *fn, size_t i, const double *x, size_t n,
                                        size_t d, const double *w);
/* Coefficients of n events (row-major x): D is n x n_cols, row-major. */
nplm_status_t nplm__nuisance_coefficients(const nplm_nuisance_t *nu, const double *x, size_t n,
                                          double *D);
/* log r for one event from its coefficient row. */
double nplm__nuisance_offset(const nplm_nuisance_t *nu, const double *nu_values, const double *D);
/* -Laux(nu) = sum_j [(nu_j - nu0_j)^2 - nu0_j^2] / (2 sigma_j^2) (reference value 0), and its
 * gradient when grad is not NULL; nu0 overrides the handle's auxiliary values when not NULL. */
double nplm__nuisance_aux(const nplm_nuisance_t *nu, const double *nu_values, const double *nu0,
                          double *grad);

#endif
