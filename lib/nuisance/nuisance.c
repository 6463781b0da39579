/* nplm_nuisance_t: normalisation and shape nuisances with known Taylor coefficients. */
#include "nuisance/nuisance.h"

#include <math.h>
#include <string.h>

#define MAX_ORDER 8
#define MAX_NUISANCES 64 /* the fits keep per-event derivatives on the stack */
#define MAX_COLUMNS 16   /* coefficient columns the fused kernel carries */

nplm_status_t nplm_nuisance_create(nplm_nuisance_t **out, size_t d) {
  static const char fn[] = "nplm_nuisance_create";
  nplm__clear_error();
  if (!out) return nplm__fail(NPLM_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  if (d == 0) return nplm__fail(NPLM_EINVAL, "%s: d = 0", fn);
  nplm_nuisance_t *nu = nplm__calloc(1, sizeof *nu);
  if (!nu) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  nu->d = d;
  for (int i = 0; i < NPLM__NUIS_N_OPTIONS; i++) nu->opt[i] = nplm__nuis_options[i].dflt;
  *out = nu;
  return NPLM_OK;
}

static void free_nets(nplm__nuis_item_t *it) {
  if (!it->nets) return;
  for (unsigned k = 0; k < it->order; k++) nplm_model_free(it->nets[k]);
  nplm__free(it->nets);
  it->nets = NULL;
}

void nplm_nuisance_free(nplm_nuisance_t *nu) {
  if (!nu) return;
  for (size_t j = 0; j < nu->n; j++) free_nets(&nu->items[j]);
  nplm__free(nu->items);
  nplm__free(nu);
}

size_t nplm_nuisance_count(const nplm_nuisance_t *nu) { return nu ? nu->n : 0; }

nplm_nuisance_t *nplm__nuisance_clone(const nplm_nuisance_t *nu) {
  nplm_nuisance_t *c = nplm__malloc(sizeof *c);
  if (!c) return NULL;
  *c = *nu;
  c->cap = nu->n;
  c->items = nplm__malloc_array(nu->n ? nu->n : 1, sizeof *c->items);
  if (!c->items) {
    nplm__free(c);
    return NULL;
  }
  if (nu->n) memcpy(c->items, nu->items, nu->n * sizeof *c->items);
  for (size_t j = 0; j < nu->n; j++) c->items[j].nets = NULL;
  for (size_t j = 0; j < nu->n; j++) {
    const nplm__nuis_item_t *it = &nu->items[j];
    if (!it->nets) continue;
    c->items[j].nets = nplm__calloc(it->order, sizeof *c->items[j].nets);
    int ok = c->items[j].nets != NULL;
    for (unsigned k = 0; ok && k < it->order; k++)
      ok = (c->items[j].nets[k] = nplm__model_clone(it->nets[k])) != NULL;
    if (!ok) {
      nplm_nuisance_free(c);
      return NULL;
    }
  }
  return c;
}

nplm_status_t nplm__nuisance_add_item(nplm_nuisance_t *nu, const nplm__nuis_item_t *item,
                                      size_t *index, const char *fn) {
  if (nu->n >= MAX_NUISANCES)
    return nplm__fail(NPLM_EINVAL, "%s: at most %d nuisances", fn, MAX_NUISANCES);
  if (nu->n == nu->cap) {
    size_t cap = nu->cap ? 2 * nu->cap : 4;
    nplm__nuis_item_t *items = nplm__malloc_array(cap, sizeof *items);
    if (!items) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
    if (nu->n) memcpy(items, nu->items, nu->n * sizeof *items);
    nplm__free(nu->items);
    nu->items = items;
    nu->cap = cap;
  }
  nu->items[nu->n] = *item;
  if (index) *index = nu->n;
  nu->n++;
  return NPLM_OK;
}

static nplm_status_t check_sigma(const char *fn, double sigma) {
  if (!nplm__nuis_sigma_ok(sigma))
    return nplm__fail(NPLM_EINVAL, "%s: sigma = %g is outside [1e-150, 1e150]", fn, sigma);
  return NPLM_OK;
}

nplm_status_t nplm_nuisance_add_norm(nplm_nuisance_t *nu, double sigma, size_t *index) {
  static const char fn[] = "nplm_nuisance_add_norm";
  nplm__clear_error();
  if (!nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  nplm_status_t s = check_sigma(fn, sigma);
  if (s != NPLM_OK) return s;
  nplm__nuis_item_t it = {NPLM__NUIS_NORM, sigma, 0.0, 0, 0, NULL, NULL, NULL, 1.0, 0, 0, 0};
  return nplm__nuisance_add_item(nu, &it, index, fn);
}

nplm_status_t nplm_nuisance_add_shape_known(nplm_nuisance_t *nu, double sigma, unsigned order,
                                            nplm_coefficient_fn cfn, void *user, size_t *index) {
  static const char fn[] = "nplm_nuisance_add_shape_known";
  nplm__clear_error();
  if (!nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  nplm_status_t s = check_sigma(fn, sigma);
  if (s != NPLM_OK) return s;
  if (order < 1 || order > MAX_ORDER)
    return nplm__fail(NPLM_EINVAL, "%s: order = %u is outside [1, %d]", fn, order, MAX_ORDER);
  if (!cfn) return nplm__fail(NPLM_EINVAL, "%s: fn is NULL", fn);
  if (nu->n_cols + order > MAX_COLUMNS)
    return nplm__fail(NPLM_EINVAL, "%s: order = %u: at most %d Taylor coefficients over all shape "
                                   "nuisances", fn, order, MAX_COLUMNS);
  nplm__nuis_item_t it = {NPLM__NUIS_SHAPE_KNOWN, sigma, 0.0, order, nu->n_cols, cfn, user,
                          NULL, 1.0, 0, 0, 0};
  s = nplm__nuisance_add_item(nu, &it, index, fn);
  if (s == NPLM_OK) nu->n_cols += order;
  return s;
}

nplm_status_t nplm_nuisance_set_aux(nplm_nuisance_t *nu, size_t index, double nu0) {
  static const char fn[] = "nplm_nuisance_set_aux";
  nplm__clear_error();
  if (!nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  if (index >= nu->n)
    return nplm__fail(NPLM_EINVAL, "%s: index = %zu but there are %zu nuisances", fn, index,
                      nu->n);
  if (!isfinite(nu0) || !nplm__nuis_nu0_ok(nu0, nu->items[index].sigma))
    return nplm__fail(NPLM_EINVAL, "%s: nu0 = %g: need |nu0| <= 1e150 and |nu0| / sigma <= "
                                   "1e150 (sigma = %g)", fn, nu0, nu->items[index].sigma);
  nu->items[index].nu0 = nu0;
  return NPLM_OK;
}

nplm_status_t nplm__nuisance_coefficients(const nplm_nuisance_t *nu, const double *x, size_t n,
                                          double *D) {
  if (nu->n_cols == 0 || n == 0) return NPLM_OK;
  double *col = nplm__malloc_array(n, sizeof *col);
  if (!col) return nplm__fail(NPLM_ENOMEM, "out of memory");
  nplm_status_t s = NPLM_OK;
  for (size_t j = 0; j < nu->n && s == NPLM_OK; j++) {
    const nplm__nuis_item_t *it = &nu->items[j];
    if (it->kind == NPLM__NUIS_NORM) continue;
    if (it->kind == NPLM__NUIS_SHAPE_LEARNED && !it->learned) {
      s = nplm__fail(NPLM_ESTATE, "shape nuisance %zu has not been learned "
                                  "(call nplm_nuisance_learn)", j);
      break;
    }
    for (unsigned k = 1; k <= it->order; k++) {
      int rc = 0;
      if (it->kind == NPLM__NUIS_SHAPE_LEARNED) { /* networks in standardised nu units */
        nplm_status_t es = nplm_model_eval(it->nets[k - 1], x, n, nu->d, col);
        if (es != NPLM_OK) {
          s = es;
          break;
        }
        const double f = pow(it->scale, -(double)k);
        for (size_t i = 0; i < n; i++) col[i] *= f;
      } else {
        rc = it->fn(it->user, k, x, n, nu->d, col);
      }
      const char *what = it->kind == NPLM__NUIS_SHAPE_LEARNED ? "learned coefficient network"
                                                               : "coefficient callback";
      if (rc != 0) {
        s = nplm__fail(NPLM_EINVAL, "the coefficient callback of nuisance %zu failed (%d) for "
                                    "power %u", j, rc, k);
        break;
      }
      size_t bad = nplm__first_nonfinite(col, n);
      if (bad < n) {
        s = nplm__fail(NPLM_EINVAL, "the %s of nuisance %zu gave a non-finite delta_%u for "
                                    "event %zu", what, j, k, bad);
        break;
      }
      for (size_t i = 0; i < n; i++) D[i * nu->n_cols + it->col + k - 1] = col[i];
    }
  }
  nplm__free(col);
  return s;
}

double nplm__nuisance_offset(const nplm_nuisance_t *nu, const double *v, const double *D) {
  double o = 0.0;
  for (size_t j = 0; j < nu->n; j++) {
    const nplm__nuis_item_t *it = &nu->items[j];
    if (it->kind == NPLM__NUIS_NORM) {
      o += v[j];
    } else {
      double p = 1.0;
      for (unsigned k = 1; k <= it->order; k++) {
        p *= v[j];
        o += D[it->col + k - 1] * p;
      }
    }
  }
  return o;
}

double nplm__nuisance_aux(const nplm_nuisance_t *nu, const double *v, const double *nu0,
                          double *grad) {
  double s = 0.0;
  for (size_t j = 0; j < nu->n; j++) {
    const nplm__nuis_item_t *it = &nu->items[j];
    const double c = nu0 ? nu0[j] : it->nu0;
    const double s2 = it->sigma * it->sigma, dv = v[j] - c;
    s += (dv * dv - c * c) / (2.0 * s2);
    if (grad) grad[j] = dv / s2;
  }
  return s;
}

nplm_status_t nplm_nuisance_log_ratio(const nplm_nuisance_t *nu, const double *nu_values,
                                      const double *x, size_t n, size_t d, double *log_r) {
  static const char fn[] = "nplm_nuisance_log_ratio";
  nplm__clear_error();
  if (!nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  if (d != nu->d)
    return nplm__fail(NPLM_EINVAL, "%s: d = %zu but the nuisances have %zu", fn, d, nu->d);
  if (nu->n && !nu_values) return nplm__fail(NPLM_EINVAL, "%s: nu_values is NULL", fn);
  size_t bad = nplm__first_nonfinite(nu_values, nu->n);
  if (bad < nu->n) return nplm__fail(NPLM_EINVAL, "%s: nu_values[%zu] is not finite", fn, bad);
  if (n > 0 && !log_r) return nplm__fail(NPLM_EINVAL, "%s: log_r is NULL", fn);
  if (n > 0 && !x) return nplm__fail(NPLM_EINVAL, "%s: x is NULL", fn);
  size_t nd;
  if (nplm__mul_size(n, d, &nd) != 0) return nplm__fail(NPLM_EINVAL, "%s: n * d overflows", fn);
  bad = nplm__first_nonfinite(x, nd);
  if (bad < nd)
    return nplm__fail(NPLM_EINVAL, "%s: x[%zu*%zu+%zu] is not finite", fn, bad / d, d, bad % d);
  if (n == 0) return NPLM_OK;
  double *D = nplm__calloc(nu->n_cols ? n * nu->n_cols : 1, sizeof *D);
  if (!D) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  nplm_status_t s = nplm__nuisance_coefficients(nu, x, n, D);
  if (s == NPLM_OK)
    for (size_t i = 0; i < n; i++) log_r[i] = nplm__nuisance_offset(nu, nu_values, D + i * nu->n_cols);
  else
    nplm__prefix_error(s, fn);
  if (s == NPLM_OK && (bad = nplm__first_nonfinite(log_r, n)) < n) /* it said OK with -inf */
    s = nplm__fail(NPLM_ENUMERIC, "%s: log_r[%zu] = %g is not finite (nu_values too large "
                                  "for the expansion)", fn, bad, log_r[bad]);
  nplm__free(D);
  return s;
}
