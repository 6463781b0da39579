/* Shape nuisances with learned Taylor coefficients: one network per power, trained with the
 * parametrised-classifier loss on the nominal sample S0 against samples S_i generated at
 * several values nu_i of the nuisance, c_i = 1 / (1 + r_i) being the probability of the nominal
 * class (so that the minimum is at r_i = n(x|nu_i) / n(x|nominal), the ratio the test needs):
 *   L = sum_i [ sum_{S0} w (1 - c_i)^2 + sum_{S_i} w c_i^2 ],
 *   log r_i(x) = sum_k delta_k(x) (nu_i / s)^k,  s = max |nu_i| (the standardisation scale). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/mlp.h"
#include "nuisance/nuisance.h"
#include "optim/optim.h"

#define MIN_EVENTS 5 /* per sample */

nplm_status_t nplm_nuisance_add_shape(nplm_nuisance_t *nu, double sigma, unsigned order,
                                      const size_t *layers, size_t n_layers, size_t *index) {
  static const char fn[] = "nplm_nuisance_add_shape";
  nplm__clear_error();
  if (!nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  if (!nplm__nuis_sigma_ok(sigma))
    return nplm__fail(NPLM_EINVAL, "%s: sigma = %g is outside [1e-150, 1e150]", fn, sigma);
  if (order < 1 || order > 8)
    return nplm__fail(NPLM_EINVAL, "%s: order = %u is outside [1, 8]", fn, order);
  if (nu->n_cols + order > 16)
    return nplm__fail(NPLM_EINVAL, "%s: order = %u: at most 16 Taylor coefficients over all "
                                   "shape nuisances", fn, order);
  if (!layers) return nplm__fail(NPLM_EINVAL, "%s: layers is NULL", fn);
  if (n_layers < 2 || layers[0] != nu->d)
    return nplm__fail(NPLM_EINVAL, "%s: layers must start with d = %zu and have >= 2 entries", fn,
                      nu->d);
  nplm__nuis_item_t it;
  memset(&it, 0, sizeof it);
  it.kind = NPLM__NUIS_SHAPE_LEARNED;
  it.sigma = sigma;
  it.order = order;
  it.col = nu->n_cols;
  it.scale = 1.0;
  it.nets = nplm__calloc(order, sizeof *it.nets);
  if (!it.nets) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  nplm_status_t s = NPLM_OK;
  for (unsigned k = 0; k < order && s == NPLM_OK; k++)
    s = nplm_model_create_mlp(&it.nets[k], layers, n_layers, INFINITY);
  if (s != NPLM_OK) {
    for (unsigned k = 0; k < order; k++) nplm_model_free(it.nets[k]);
    nplm__free(it.nets);
    return nplm__prefix_error(s, fn);
  }
  s = nplm__nuisance_add_item(nu, &it, index, fn);
  if (s != NPLM_OK) {
    for (unsigned k = 0; k < order; k++) nplm_model_free(it.nets[k]);
    nplm__free(it.nets);
    return s;
  }
  nu->n_cols += order;
  return NPLM_OK;
}

typedef struct learn_sample {
  nplm__events_t train, valid;
  double a_pow[9]; /* (nu_i / s)^k, k = 0..8; unused for the nominal sample */
} learn_sample_t;

typedef struct learn_ctx {
  const nplm__nuis_item_t *it;
  const nplm__mlp_spec_t *spec;
  const nplm__mlp_kernels_t *kern;
  size_t n_values, P;
  learn_sample_t *samples; /* [0] nominal, [1 + i] at nu_i */
  int use_valid;
  double *work, *delta, *dldk, *gblk; /* scratch */
} learn_ctx_t;

/* Loss (and gradient) of all samples' blocks, in a fixed order. */
static nplm_status_t learn_objective(void *arg, const double *x, double *f, double *g) {
  learn_ctx_t *c = arg;
  const unsigned K = c->it->order;
  const size_t P = c->P, B = NPLM__BLOCK, d = c->spec->units[0];
  double loss = 0.0;
  if (g) memset(g, 0, K * P * sizeof *g);
  for (size_t smp = 0; smp <= c->n_values; smp++) {
    const nplm__events_t *ev = c->use_valid ? &c->samples[smp].valid : &c->samples[smp].train;
    for (size_t b = 0; b < ev->n_blocks; b++) {
      const double *xb = ev->x + b * d * B, *w = ev->cb + b * B;
      for (unsigned k = 0; k < K; k++)
        c->kern->forward(c->spec, x + k * P, xb, c->work, c->delta + k * B);
      memset(c->dldk, 0, K * B * sizeof *c->dldk);
      for (size_t e = 0; e < B; e++) {
        if (w[e] == 0.0) continue; /* padding */
        /* the nominal sample takes part in every term i, a varied sample in its own */
        const size_t i0 = smp == 0 ? 1 : smp, i1 = smp == 0 ? c->n_values : smp;
        for (size_t i = i0; i <= i1; i++) {
          const double *ap = c->samples[i].a_pow;
          double logr = 0.0;
          for (unsigned k = 0; k < K; k++) logr += c->delta[k * B + e] * ap[k + 1];
          const double cc = 1.0 / (1.0 + exp(logr));
          /* c = 1 / (1 + r) is the nominal class's probability: nominal events pull it to 1,
             varied ones to 0, so that the minimum is r = n(x|nu_i) / n(x|nominal) */
          const double resid = smp == 0 ? cc - 1.0 : cc;
          loss += w[e] * resid * resid;
          /* d/dlogr of w resid^2 = 2 w resid dc/dlogr, dc/dlogr = -c (1 - c) */
          const double dl = -2.0 * w[e] * resid * cc * (1.0 - cc);
          for (unsigned k = 0; k < K; k++) c->dldk[k * B + e] += dl * ap[k + 1];
        }
      }
      if (!g) continue;
      for (unsigned k = 0; k < K; k++) {
        c->kern->backprop(c->spec, x + k * P, xb, c->dldk + k * B, c->work, c->gblk);
        for (size_t p = 0; p < P; p++) g[k * P + p] += c->gblk[p];
      }
    }
  }
  if (!isfinite(loss)) return nplm__fail(NPLM_ENUMERIC, "the training loss is not finite");
  *f = loss;
  return NPLM_OK;
}

/* Every every-th event goes to the validation set (none when every is 0). */
static nplm_status_t pack_split(const double *x, size_t n, size_t d, const double *w,
                                size_t every, nplm__events_t *train, nplm__events_t *valid) {
  size_t nv = every ? n / every : 0, nt = n - nv;
  double *xt = nplm__malloc_array(nt ? nt * d : 1, sizeof *xt);
  double *xv = nplm__malloc_array(nv ? nv * d : 1, sizeof *xv);
  double *wt = nplm__malloc_array(nt ? nt : 1, sizeof *wt);
  double *wv = nplm__malloc_array(nv ? nv : 1, sizeof *wv);
  nplm_status_t s = NPLM_OK;
  if (!xt || !xv || !wt || !wv) s = nplm__fail(NPLM_ENOMEM, "out of memory");
  size_t it = 0, iv = 0;
  for (size_t i = 0; s == NPLM_OK && i < n; i++) {
    int to_valid = every && i % every == every - 1 && iv < nv;
    double *dst = to_valid ? xv + iv * d : xt + it * d;
    memcpy(dst, x + i * d, d * sizeof *dst);
    if (to_valid) wv[iv++] = w ? w[i] : 1.0;
    else wt[it++] = w ? w[i] : 1.0;
  }
  /* the weights ride in cb (the kernels' data coefficient); ca is unused here */
  if (s == NPLM_OK) s = nplm__events_pack(train, xt, it, d, wt, 0.0, 1.0);
  if (s == NPLM_OK) s = nplm__events_pack(valid, xv, iv, d, wv, 0.0, 1.0);
  nplm__free(xt);
  nplm__free(xv);
  nplm__free(wt);
  nplm__free(wv);
  return s;
}

nplm_status_t nplm__check_varied_sample(const char *fn, size_t i, const double *x, size_t n,
                                        size_t d, const double *w) {
  char xname[32], wname[32];
  snprintf(xname, sizeof xname, "x_var[%zu]", i);
  snprintf(wname, sizeof wname, "w_var[%zu]", i);
  nplm_status_t s = nplm__check_events(fn, xname, x, n, d, wname, w);
  if (s == NPLM_OK) s = nplm__check_weight_sum(fn, wname, w, n, NULL);
  return s;
}

nplm_status_t nplm_nuisance_learn(nplm_nuisance_t *nu, size_t index, size_t d, const double *x0,
                                  size_t n0, const double *w0, size_t n_values,
                                  const double *nu_values, const double *const *x_var,
                                  const size_t *n_var, const double *const *w_var) {
  static const char fn[] = "nplm_nuisance_learn";
  nplm__clear_error();
  if (!nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  if (index >= nu->n || nu->items[index].kind != NPLM__NUIS_SHAPE_LEARNED)
    return nplm__fail(NPLM_EINVAL, "%s: index = %zu is not a shape nuisance added with "
                                   "nplm_nuisance_add_shape", fn, index);
  if (d != nu->d) return nplm__fail(NPLM_EINVAL, "%s: d = %zu but the nuisances have %zu", fn, d, nu->d);
  const size_t every = (size_t)nu->opt[NPLM__NO_VALIDATION_EVERY];
  const size_t n_min = every > MIN_EVENTS ? every : MIN_EVENTS; /* >= 1 validation event */
  if (n0 < n_min)
    return nplm__fail(NPLM_EINVAL, "%s: n0 = %zu is too small (need >= %zu)", fn, n0, n_min);
  nplm_status_t s = nplm__check_events(fn, "x0", x0, n0, d, "w0", w0);
  if (s == NPLM_OK) s = nplm__check_weight_sum(fn, "w0", w0, n0, NULL);
  if (s != NPLM_OK) return s;
  if (n_values < 1 || n_values > 64)
    return nplm__fail(NPLM_EINVAL, "%s: n_values = %zu is outside [1, 64]", fn, n_values);
  if (!nu_values || !x_var || !n_var)
    return nplm__fail(NPLM_EINVAL, "%s: nu_values, x_var and n_var are needed", fn);
  double scale = 0.0;
  for (size_t i = 0; i < n_values; i++) {
    if (!isfinite(nu_values[i]) || nu_values[i] == 0.0)
      return nplm__fail(NPLM_EINVAL, "%s: nu_values[%zu] must be finite and non-zero", fn, i);
    if (n_var[i] < n_min)
      return nplm__fail(NPLM_EINVAL, "%s: n_var[%zu] = %zu is too small (need >= %zu)", fn, i,
                        n_var[i], n_min);
    s = nplm__check_varied_sample(fn, i, x_var[i], n_var[i], d, w_var ? w_var[i] : NULL);
    if (s != NPLM_OK) return s;
    scale = fmax(scale, fabs(nu_values[i]));
  }
  nplm__nuis_item_t *it = &nu->items[index];
  /* Order K has K coefficient networks; fewer distinct nu than K leave combinations of them
   * undetermined by the loss (one value fixes only delta_1 nu + delta_2 nu^2 + ...): log r
   * elsewhere would depend on the start. */
  size_t distinct = 0;
  for (size_t i = 0; i < n_values; i++) {
    size_t j = 0;
    while (j < i && nu_values[j] != nu_values[i]) j++;
    distinct += j == i;
  }
  if (distinct < it->order)
    return nplm__fail(NPLM_EINVAL, "%s: %zu distinct nu_values for order %u: need at least as "
                                   "many as the order", fn, distinct, (unsigned)it->order);
  if (!nplm__nuis_scale_ok(scale, it->order))
    return nplm__fail(NPLM_EINVAL, "%s: nu_values: the largest |nu| is %g; its %u-th power or "
                                   "inverse is not a normal double: express nu in other units",
                      fn, scale, (unsigned)it->order);
  const nplm__mlp_spec_t *spec = &it->nets[0]->spec;
  const size_t P = spec->n_params, K = it->order, B = NPLM__BLOCK;
  learn_ctx_t c;
  memset(&c, 0, sizeof c);
  c.it = it;
  c.spec = spec;
  c.kern = nplm__mlp_kernels();
  c.n_values = n_values;
  c.P = P;
  c.samples = nplm__calloc(n_values + 1, sizeof *c.samples);
  size_t wn = nplm__mlp_work_size(spec);
  double *scratch = nplm__malloc_aligned(wn + 2 * K * B + P + 3 * K * P, sizeof *scratch);
  if (!c.samples || !scratch) {
    nplm__free(c.samples);
    nplm__free(scratch);
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  }
  c.work = scratch;
  c.delta = c.work + wn;
  c.dldk = c.delta + K * B;
  c.gblk = c.dldk + K * B;
  double *theta = c.gblk + P, *lo = theta + K * P, *hi = lo + K * P;
  s = pack_split(x0, n0, d, w0, every, &c.samples[0].train, &c.samples[0].valid);
  for (size_t i = 0; s == NPLM_OK && i < n_values; i++) {
    learn_sample_t *ls = &c.samples[1 + i];
    s = pack_split(x_var[i], n_var[i], d, w_var ? w_var[i] : NULL, every, &ls->train,
                   &ls->valid);
    ls->a_pow[0] = 1.0;
    for (int k = 1; k <= 8; k++) ls->a_pow[k] = ls->a_pow[k - 1] * (nu_values[i] / scale);
  }
  if (s == NPLM_OK) {
    for (size_t k = 0; k < K; k++) {
      nplm__mlp_glorot(spec, (uint64_t)nu->opt[NPLM__NO_SEED], 1000 + index * 16 + k, 0,
                       theta + k * P);
      /* start near delta = 0: small output weights */
      for (size_t p = spec->w_off[spec->n_layers - 1]; p < P; p++) theta[k * P + p] *= 0.01;
    }
    /* weights in [-clip, clip] (biases free): without a bound, the output weight of a hidden
       unit that is saturated on every training event is a flat direction of the loss, and
       can drift to values that explode on events outside the training samples */
    const double clip = nu->opt[NPLM__NO_WEIGHT_CLIP];
    for (size_t k = 0; k < K; k++)
      for (size_t l = 1; l < spec->n_layers; l++)
        for (size_t p = spec->w_off[l]; p < spec->b_off[l] + spec->units[l]; p++) {
          const int bias = p >= spec->b_off[l];
          lo[k * P + p] = bias ? -(double)INFINITY : -clip;
          hi[k * P + p] = bias ? (double)INFINITY : clip;
        }
    nplm__project(K * P, theta, lo, hi);
    nplm__optim_report_t rep;
    if ((int)nu->opt[NPLM__NO_OPTIMIZER] == 0) { /* NPLM_OPTIMIZER_ADAM */
      nplm__adam_opts_t o = {(int64_t)nu->opt[NPLM__NO_EPOCHS], nu->opt[NPLM__NO_LEARNING_RATE],
                             0.9, 0.999, 1e-7, 0.0};
      s = nplm__adam(K * P, theta, lo, hi, learn_objective, NULL, &c, &o, &rep);
    } else {
      nplm__lbfgsb_opts_t o = {(int64_t)nu->opt[NPLM__NO_MAX_ITERATIONS],
                               nu->opt[NPLM__NO_TOLERANCE], 0.0, 0};
      if (K * P > 1000) o.memory = 20;
      s = nplm__lbfgsb(K * P, theta, lo, hi, learn_objective, NULL, &c, &o, &rep);
    }
    if (s == NPLM_OK || s == NPLM_ENOCONV) {
      double vloss = NAN;
      c.use_valid = 1;
      nplm_status_t sv = every ? learn_objective(&c, theta, &vloss, NULL) : NPLM_OK;
      if (sv == NPLM_OK) {
        for (size_t k = 0; k < K; k++)
          memcpy(it->nets[k]->params, theta + k * P, P * sizeof *theta);
        it->scale = scale;
        it->learned = 1;
        it->train_loss = rep.f;
        it->valid_loss = vloss;
        s = NPLM_OK;
      } else {
        s = sv;
      }
    }
  }
  for (size_t i = 0; i <= n_values; i++) {
    nplm__events_free(&c.samples[i].train);
    nplm__events_free(&c.samples[i].valid);
  }
  nplm__free(c.samples);
  nplm__free(scratch);
  if (s != NPLM_OK && strncmp(nplm_last_error(), fn, sizeof fn - 1) != 0) nplm__prefix_error(s, fn);
  return s;
}

nplm_status_t nplm_nuisance_learned_loss(const nplm_nuisance_t *nu, size_t index,
                                         double *train_loss, double *valid_loss) {
  static const char fn[] = "nplm_nuisance_learned_loss";
  nplm__clear_error();
  if (!nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  if (index >= nu->n || nu->items[index].kind != NPLM__NUIS_SHAPE_LEARNED)
    return nplm__fail(NPLM_EINVAL, "%s: index = %zu is not a learned shape nuisance", fn, index);
  if (!nu->items[index].learned)
    return nplm__fail(NPLM_ESTATE, "%s: nuisance %zu has not been learned", fn, index);
  if (train_loss) *train_loss = nu->items[index].train_loss;
  if (valid_loss) *valid_loss = nu->items[index].valid_loss;
  return NPLM_OK;
}
