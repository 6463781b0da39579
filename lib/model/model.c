/* nplm_model_t: the MLP family, parameters and evaluation. */
#include "model/model.h"

#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/gauss.h"

nplm_status_t nplm__model_new_mlp(nplm_model_t **out, const size_t *layers, size_t n_layers,
                                  double clip, const char *fn) {
  nplm_model_t *m = nplm__calloc(1, sizeof *m);
  if (!m) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  if (nplm__mlp_spec_init(&m->spec, layers, n_layers) != 0) {
    nplm__free(m);
    return nplm__fail(NPLM_EINVAL, "%s: layers: bad shape", fn);
  }
  m->params = nplm__calloc(m->spec.n_params, sizeof *m->params);
  if (!m->params) {
    nplm__free(m);
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  }
  m->kind = NPLM__MODEL_MLP;
  m->d = layers[0];
  m->clip = clip;
  *out = m;
  return NPLM_OK;
}

nplm_status_t nplm_model_create_mlp(nplm_model_t **out, const size_t *layers, size_t n_layers,
                                    double weight_clip) {
  static const char fn[] = "nplm_model_create_mlp";
  nplm__clear_error();
  if (!out) return nplm__fail(NPLM_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  if (!layers) return nplm__fail(NPLM_EINVAL, "%s: layers is NULL", fn);
  if (n_layers < 2 || n_layers > NPLM__MAX_LAYERS)
    return nplm__fail(NPLM_EINVAL, "%s: n_layers = %zu is outside [2, %d]", fn, n_layers,
                      NPLM__MAX_LAYERS);
  for (size_t l = 0; l < n_layers; l++)
    if (layers[l] < 1 || layers[l] > NPLM__MAX_UNITS)
      return nplm__fail(NPLM_EINVAL, "%s: layers[%zu] = %zu is outside [1, %d]", fn, l,
                        layers[l], NPLM__MAX_UNITS);
  if (layers[n_layers - 1] != 1)
    return nplm__fail(NPLM_EINVAL, "%s: layers[%zu] = %zu: the output layer must have 1 unit",
                      fn, n_layers - 1, layers[n_layers - 1]);
  if (!(weight_clip > 0.0))
    return nplm__fail(NPLM_EINVAL, "%s: weight_clip = %g must be > 0 (INFINITY: no clipping)", fn,
                      weight_clip);
  return nplm__model_new_mlp(out, layers, n_layers, weight_clip, fn);
}

void nplm_model_free(nplm_model_t *m) {
  if (!m) return;
  nplm__free(m->k_data);
  nplm__free(m->params);
  nplm__free(m);
}

nplm_model_t *nplm__model_clone(const nplm_model_t *m) {
  nplm_model_t *c = nplm__malloc(sizeof *c);
  if (!c) return NULL;
  *c = *m;
  c->k_data = NULL;
  c->params = nplm__malloc_array(m->spec.n_params ? m->spec.n_params : 1, sizeof *c->params);
  if (!c->params) {
    nplm__free(c);
    return NULL;
  }
  memcpy(c->params, m->params, m->spec.n_params * sizeof *c->params);
  if (m->kind == NPLM__MODEL_KERNEL) {
    const size_t nk = m->k_m * m->d + 2 * m->d;
    c->k_data = nplm__malloc_array(nk, sizeof *c->k_data);
    if (!c->k_data) {
      nplm_model_free(c);
      return NULL;
    }
    memcpy(c->k_data, m->k_data, nk * sizeof *c->k_data);
  }
  return c;
}

size_t nplm_model_num_params(const nplm_model_t *m) { return m ? m->spec.n_params : 0; }

size_t nplm_model_input_dim(const nplm_model_t *m) { return m ? m->d : 0; }

double nplm_model_weight_clip(const nplm_model_t *m) { return m ? m->clip : (double)NAN; }

nplm_status_t nplm_model_get_params(const nplm_model_t *m, double *p, size_t n) {
  static const char fn[] = "nplm_model_get_params";
  nplm__clear_error();
  if (!m) return nplm__fail(NPLM_EINVAL, "%s: m is NULL", fn);
  if (!p) return nplm__fail(NPLM_EINVAL, "%s: p is NULL", fn);
  if (n != m->spec.n_params)
    return nplm__fail(NPLM_EINVAL, "%s: n = %zu but the model has %zu parameters", fn, n,
                      m->spec.n_params);
  memcpy(p, m->params, n * sizeof *p);
  return NPLM_OK;
}

nplm_status_t nplm_model_set_params(nplm_model_t *m, const double *p, size_t n) {
  static const char fn[] = "nplm_model_set_params";
  nplm__clear_error();
  if (!m) return nplm__fail(NPLM_EINVAL, "%s: m is NULL", fn);
  if (!p) return nplm__fail(NPLM_EINVAL, "%s: p is NULL", fn);
  if (n != m->spec.n_params)
    return nplm__fail(NPLM_EINVAL, "%s: n = %zu but the model has %zu parameters", fn, n,
                      m->spec.n_params);
  size_t bad = nplm__first_nonfinite(p, n);
  if (bad < n) return nplm__fail(NPLM_EINVAL, "%s: p[%zu] is not finite", fn, bad);
  memcpy(m->params, p, n * sizeof *p);
  return NPLM_OK;
}

nplm_status_t nplm__check_events(const char *fn, const char *xname, const double *x, size_t n,
                                 size_t d, const char *wname, const double *w) {
  if (n > 0 && !x) return nplm__fail(NPLM_EINVAL, "%s: %s is NULL", fn, xname);
  size_t nd;
  if (nplm__mul_size(n, d, &nd) != 0 || nd > SIZE_MAX / sizeof(double))
    return nplm__fail(NPLM_EINVAL, "%s: %s: n * d = %zu * %zu overflows", fn, xname, n, d);
  size_t bad = nplm__first_nonfinite(x, nd);
  if (bad < nd)
    return nplm__fail(NPLM_EINVAL, "%s: %s[%zu*%zu+%zu] is not finite (%g)", fn, xname, bad / d,
                      d, bad % d, x[bad]);
  if (w) {
    for (size_t i = 0; i < n; i++) {
      if (!isfinite(w[i]))
        return nplm__fail(NPLM_EINVAL, "%s: %s[%zu] is not finite", fn, wname, i);
      if (w[i] < 0.0)
        return nplm__fail(NPLM_EINVAL, "%s: %s[%zu] = %g is negative", fn, wname, i, w[i]);
    }
  }
  return NPLM_OK;
}

nplm_status_t nplm__check_weight_sum(const char *fn, const char *wname, const double *w,
                                     size_t n, double *sum) {
  double acc = (double)n;
  if (w) {
    acc = 0.0;
    for (size_t i = 0; i < n; i++) acc += w[i];
  }
  if (!(acc > 0.0) || !isfinite(acc))
    return nplm__fail(NPLM_EINVAL, "%s: %s: the weights sum to %g; need a positive, finite sum",
                      fn, wname, acc);
  if (sum) *sum = acc;
  return NPLM_OK;
}

void nplm__pack_block(const double *x, size_t d, size_t start, size_t count, double *blk) {
  for (size_t j = 0; j < d; j++) {
    double *col = blk + j * NPLM__BLOCK;
    size_t e = 0;
    for (; e < count; e++) col[e] = x[(start + e) * d + j];
    /* padding repeats the last event: its f is finite whenever a real event's is, so
       0 * exp(f) never turns into 0 * inf = NaN */
    for (; e < NPLM__BLOCK; e++) col[e] = count ? col[count - 1] : 0.0;
  }
}

void nplm__events_free(nplm__events_t *ev) {
  nplm__free(ev->x);
  nplm__free(ev->ca);
  nplm__free(ev->cb);
  nplm__free(ev->coef);
  memset(ev, 0, sizeof *ev);
}

nplm_status_t nplm__events_pack(nplm__events_t *ev, const double *x, size_t n, size_t d,
                                const double *w, double a_scale, double b_scale) {
  nplm__events_t e = {n, d, (n + NPLM__BLOCK - 1) / NPLM__BLOCK, NULL, NULL, NULL, NULL, 0};
  size_t slots;
  if (nplm__mul_size(e.n_blocks, NPLM__BLOCK, &slots) != 0)
    return nplm__fail(NPLM_ENOMEM, "events: size overflow");
  size_t xs;
  if (nplm__mul_size(slots, d, &xs) != 0) return nplm__fail(NPLM_ENOMEM, "events: size overflow");
  e.x = nplm__malloc_aligned(xs, sizeof(double));
  e.ca = nplm__malloc_aligned(slots, sizeof(double));
  e.cb = nplm__malloc_aligned(slots, sizeof(double));
  if (!e.x || !e.ca || !e.cb) {
    nplm__events_free(&e);
    return nplm__fail(NPLM_ENOMEM, "events: out of memory (%zu events x %zu features)", n, d);
  }
  for (size_t k = 0; k < e.n_blocks; k++) {
    size_t start = k * NPLM__BLOCK;
    size_t count = n - start < NPLM__BLOCK ? n - start : NPLM__BLOCK;
    nplm__pack_block(x, d, start, count, e.x + k * d * NPLM__BLOCK);
    for (size_t i = 0; i < NPLM__BLOCK; i++) {
      double wi = i < count ? (w ? w[start + i] : 1.0) : 0.0;
      e.ca[start + i] = a_scale * wi;
      e.cb[start + i] = b_scale * wi;
    }
  }
  *ev = e;
  return NPLM_OK;
}

static nplm_status_t kernel_eval(const nplm_model_t *m, const double *x, size_t n, double *f,
                                 const char *fn) {
  const nplm__gauss_kernels_t *gk = nplm__gauss_kernels();
  double *ct = NULL, *alpha = NULL;
  size_t ldc = 0;
  if (nplm__kernel_pack_centers(m, &ct, &alpha, &ldc) != NPLM_OK)
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  const size_t d = m->d;
  double *blk = nplm__malloc_aligned(d * NPLM__BLOCK + NPLM__BLOCK + NPLM__LANES * ldc,
                                     sizeof(double));
  if (!blk) {
    nplm__free(ct);
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  }
  double *fb = blk + d * NPLM__BLOCK, *tmp = fb + NPLM__BLOCK;
  for (size_t start = 0; start < n; start += NPLM__BLOCK) {
    size_t count = n - start < NPLM__BLOCK ? n - start : NPLM__BLOCK;
    nplm__pack_block(x, d, start, count, blk);
    nplm__kernel_prepare_block(m, blk);
    for (size_t j = 0; j < d; j++)
      for (size_t e = 0; e < count; e++)
        if (!isfinite(blk[j * NPLM__BLOCK + e])) {
          nplm__free(blk);
          nplm__free(ct);
          return nplm__fail(NPLM_EINVAL, "%s: x: event %zu, feature %zu: x / sigma overflows "
                                         "(sigma = %g): rescale the inputs", fn, start + e, j,
                            m->k_sigma);
        }
    gk->hv(blk, d, count, ct, ldc, alpha, NULL, tmp, fb, NULL);
    memcpy(f + start, fb, count * sizeof *f);
  }
  nplm__free(blk);
  nplm__free(ct);
  return NPLM_OK;
}

nplm_status_t nplm_model_eval(const nplm_model_t *m, const double *x, size_t n, size_t d,
                              double *f) {
  static const char fn[] = "nplm_model_eval";
  nplm__clear_error();
  if (!m) return nplm__fail(NPLM_EINVAL, "%s: m is NULL", fn);
  if (d != m->d)
    return nplm__fail(NPLM_EINVAL, "%s: d = %zu but the model has %zu inputs", fn, d, m->d);
  if (n > 0 && !f) return nplm__fail(NPLM_EINVAL, "%s: f is NULL", fn);
  nplm_status_t s = nplm__check_events(fn, "x", x, n, d, "w", NULL);
  if (s != NPLM_OK) return s;
  if (m->kind == NPLM__MODEL_KERNEL && m->k_m == 0)
    return nplm__fail(NPLM_ESTATE, "%s: the kernel model has no centres yet (evaluate the "
                                   "fitted model from nplm_test_fitted_model)", fn);
  if (n == 0) return NPLM_OK;
  if (m->kind == NPLM__MODEL_KERNEL) return kernel_eval(m, x, n, f, fn);
  const nplm__mlp_kernels_t *k = nplm__mlp_kernels();
  size_t work_n = nplm__mlp_work_size(&m->spec);
  double *blk = nplm__malloc_aligned(d * NPLM__BLOCK + NPLM__BLOCK + work_n, sizeof(double));
  if (!blk) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  double *fb = blk + d * NPLM__BLOCK, *work = fb + NPLM__BLOCK;
  for (size_t start = 0; start < n; start += NPLM__BLOCK) {
    size_t count = n - start < NPLM__BLOCK ? n - start : NPLM__BLOCK;
    nplm__pack_block(x, d, start, count, blk);
    k->forward(&m->spec, m->params, blk, work, fb);
    memcpy(f + start, fb, count * sizeof *f);
  }
  nplm__free(blk);
  return NPLM_OK;
}

/* Glorot-uniform weights from the (seed, (init, index)) stream; biases zero or Glorot-uniform
 * with bound sqrt(3 / d_out) (Keras' fan rule for a vector). One draw per parameter, in
 * order. nplm_test_run uses index 0, toy k of a calibration index k. */
void nplm__mlp_glorot(const nplm__mlp_spec_t *s, uint64_t seed, uint64_t index, int bias_glorot,
                      double *p) {
  nplm__mlp_glorot_start(s, seed, index, 0, bias_glorot, p);
}

void nplm__mlp_glorot_start(const nplm__mlp_spec_t *s, uint64_t seed, uint64_t index,
                            uint64_t start, int bias_glorot, double *p) {
  nplm__rng_t r;
  nplm__rng_init(&r, seed, nplm__rng_stream(NPLM__RNG_INIT, index));
  r.counter = start << 32; /* 2 uniforms a block: < 2^33 parameters in every legal shape */
  for (size_t l = 1; l < s->n_layers; l++) {
    const size_t nin = s->units[l - 1], nout = s->units[l];
    const double a = sqrt(6.0 / (double)(nin + nout)), ab = sqrt(3.0 / (double)nout);
    for (size_t i = 0; i < nin * nout; i++)
      p[s->w_off[l] + i] = a * (2.0 * nplm__rng_uniform(&r) - 1.0);
    for (size_t j = 0; j < nout; j++) {
      double u = nplm__rng_uniform(&r);
      p[s->b_off[l] + j] = bias_glorot ? ab * (2.0 * u - 1.0) : 0.0;
    }
  }
}

