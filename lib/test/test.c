/* nplm_test_t: the NPLM test without systematics. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "core/rng.h"
#include "optim/optim.h"
#include "test/test_internal.h"

/* Seconds between two progress callbacks. */
#define PROGRESS_INTERVAL 0.1
/* Up to this many parameters, L-BFGS-B keeps a dense quasi-Newton matrix (automatic memory). */
#define DENSE_QN_MAX_PARAMS 1000

static nplm_status_t fail_on(nplm_test_t *t, nplm_status_t s) {
  if (t) nplm__copy_error(t->msg);
  return s;
}

nplm_status_t nplm_test_create(nplm_test_t **out, const nplm_model_t *family,
                               const nplm_nuisance_t *nuisance) {
  static const char fn[] = "nplm_test_create";
  nplm__clear_error();
  if (!out) return nplm__fail(NPLM_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  if (!family) return nplm__fail(NPLM_EINVAL, "%s: family is NULL", fn);
  if (nuisance && nuisance->d != family->d)
    return nplm__fail(NPLM_EINVAL, "%s: the nuisances have d = %zu but the model %zu", fn,
                      nuisance->d, family->d);
  for (size_t j = 0; nuisance && j < nuisance->n; j++) /* the test's copy cannot learn */
    if (nuisance->items[j].kind == NPLM__NUIS_SHAPE_LEARNED && !nuisance->items[j].learned)
      return nplm__fail(NPLM_ESTATE, "%s: nuisance: shape nuisance %zu has not been learned "
                                     "(call nplm_nuisance_learn before creating the test)",
                        fn, j);
  if (nuisance && nuisance->n > 0 && family->kind == NPLM__MODEL_KERNEL)
    return nplm__fail(NPLM_EINVAL, "%s: nuisance parameters are supported with MLP models only "
                                   "(this family is a kernel model)", fn);
  nplm_test_t *t = nplm__calloc(1, sizeof *t);
  if (!t) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  t->family = nplm__model_clone(family);
  if (nuisance && nuisance->n > 0) {
    t->nuis = nplm__nuisance_clone(nuisance);
    t->nu_tau = nplm__calloc(nuisance->n, sizeof *t->nu_tau);
    t->nu_delta = nplm__calloc(nuisance->n, sizeof *t->nu_delta);
  }
  if (!t->family || (nuisance && nuisance->n > 0 && (!t->nuis || !t->nu_tau || !t->nu_delta))) {
    nplm_test_free(t);
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  }
  for (int i = 0; i < NPLM__N_OPTIONS; i++) t->opt[i] = nplm__options[i].dflt;
  *out = t;
  return NPLM_OK;
}

static void clear_result(nplm_test_t *t) {
  t->has_result = 0;
  nplm_model_free(t->fitted);
  t->fitted = NULL;
  t->hist_n = 0;
}

void nplm_test_free(nplm_test_t *t) {
  if (!t) return;
  nplm__pool_free(t->pool);
  nplm__events_free(&t->ref);
  nplm_model_free(t->family);
  nplm_model_free(t->fitted);
  nplm_nuisance_free(t->nuis);
  nplm__free(t->nu_tau);
  nplm__free(t->nu_delta);
  nplm__free(t->cal_res);
  nplm__free(t->hist_epoch);
  nplm__free(t->hist_t);
  nplm__free(t);
}

const char *nplm_test_last_error(const nplm_test_t *t) {
  return t ? t->msg : "nplm_test_last_error: t is NULL";
}

nplm_status_t nplm_test_set_progress(nplm_test_t *t, nplm_progress_fn fn, void *user) {
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "nplm_test_set_progress: t is NULL");
  t->progress = fn;
  t->progress_user = user;
  return NPLM_OK;
}

nplm_status_t nplm_test_set_reference(nplm_test_t *t, const double *x, size_t n, size_t d,
                                      const double *w, double n_expected) {
  static const char fn[] = "nplm_test_set_reference";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (n == 0) return fail_on(t, nplm__fail(NPLM_EINVAL, "%s: n = 0: the reference is empty", fn));
  if (!x) return fail_on(t, nplm__fail(NPLM_EINVAL, "%s: x is NULL", fn));
  if (d != t->family->d)
    return fail_on(t, nplm__fail(NPLM_EINVAL, "%s: d = %zu but the model has %zu inputs", fn, d,
                                 t->family->d));
  if (!(n_expected > 0.0) || !(n_expected <= NPLM__MAX_EXPECTED))
    return fail_on(t, nplm__fail(NPLM_EINVAL, "%s: n_expected = %g must be > 0 and <= 2^53", fn,
                                 n_expected));
  nplm_status_t s = nplm__check_events(fn, "x", x, n, d, "w", w);
  if (s != NPLM_OK) return fail_on(t, s);
  double sum = (double)n;
  if (w) {
    s = nplm__check_weight_sum(fn, "w", w, n, &sum);
    if (s != NPLM_OK) return fail_on(t, s);
  }
  /* each reference event carries weight n_expected / sum: it must not round to 0 (a loss
     with no reference term is unbounded below) nor overflow */
  if (!isnormal(n_expected / sum))
    return fail_on(t, nplm__fail(NPLM_EINVAL,
                                 "%s: n_expected = %g over a reference of total weight %g gives "
                                 "each event a weight that is not a normal number", fn,
                                 n_expected, sum));
  nplm__events_t ev;
  s = nplm__test_pack(t, &ev, x, n, w, n_expected / sum, 0.0);
  if (s != NPLM_OK) return fail_on(t, nplm__prefix_error(s, fn));
  nplm__events_free(&t->ref);
  t->ref = ev;
  t->has_ref = 1;
  t->n_expected = n_expected;
  clear_result(t);
  return NPLM_OK;
}

nplm_status_t nplm__test_pack(const nplm_test_t *t, nplm__events_t *ev, const double *x, size_t n,
                              const double *w, double a_scale, double b_scale) {
  nplm_status_t s = nplm__events_pack(ev, x, n, t->family->d, w, a_scale, b_scale);
  if (s != NPLM_OK || !t->nuis) return s;
  const size_t slots = ev->n_blocks * NPLM__BLOCK, nc = t->nuis->n_cols;
  ev->n_coef = nc;
  const size_t n_cells = slots && nc ? slots * nc : 1;
  ev->coef = nplm__malloc_aligned(n_cells, sizeof *ev->coef);
  if (!ev->coef) {
    nplm__events_free(ev);
    return nplm__fail(NPLM_ENOMEM, "out of memory");
  }
  memset(ev->coef, 0, n_cells * sizeof *ev->coef);
  /* coefficients feature-major per block, like x: coef[(block * n_coef + c) * B + e];
     padding events keep zero coefficients */
  double *D = nplm__malloc_array(n && nc ? n * nc : 1, sizeof *D);
  if (!D) {
    nplm__events_free(ev);
    return nplm__fail(NPLM_ENOMEM, "out of memory");
  }
  s = nplm__nuisance_coefficients(t->nuis, x, n, D);
  for (size_t i = 0; s == NPLM_OK && i < n; i++)
    for (size_t col = 0; col < nc; col++)
      ev->coef[((i / NPLM__BLOCK) * nc + col) * NPLM__BLOCK + i % NPLM__BLOCK] = D[i * nc + col];
  nplm__free(D);
  if (s != NPLM_OK) nplm__events_free(ev);
  return s;
}

/* ---------------------------------------------------------------------------------------- */
/* The objective: loss and gradient over reference + data blocks, threads over blocks,
 * per-block partial results reduced in block order (bit-identical for any thread count). */


/* The Delta fit's block (f = 0): loss of the offsets log r = norm + sum_c coef_c mult_c alone,
 * and the moments sum_e dL/df coef_c, sum_e dL/df (serial, fixed order; Delta has few
 * parameters and converges in a handful of passes). */
static void block_delta(const fit_ctx_t *c, const nplm__events_t *ev, size_t k, double *loss,
                        double *moments) {
  const size_t nc = ev->n_coef;
  double l = 0.0;
  if (moments)
    for (size_t col = 0; col <= nc; col++) moments[col] = 0.0;
  for (size_t e = 0; e < NPLM__BLOCK; e++) {
    const size_t i = k * NPLM__BLOCK + e;
    double o = c->nu_norm;
    for (size_t col = 0; col < nc; col++)
      o += ev->coef[(k * nc + col) * NPLM__BLOCK + e] * c->nu_mult[col];
    const double eo = exp(o), g = ev->ca[i] * eo - ev->cb[i];
    l += ev->ca[i] * (eo - 1.0) - ev->cb[i] * o;
    if (!moments) continue;
    for (size_t col = 0; col < nc; col++) moments[col] += g * ev->coef[(k * nc + col) * NPLM__BLOCK + e];
    moments[nc] += g;
  }
  *loss = l;
}

static void block_task(void *arg, size_t task, int worker) {
  fit_ctx_t *c = arg;
  const size_t P = c->delta_only ? 0 : c->spec->n_params, d = c->ref->d;
  const nplm__events_t *ev = c->ref;
  size_t k = task;
  if (k >= ev->n_blocks) {
    k -= ev->n_blocks;
    ev = c->data;
  }
  double *slot = c->slots + task * c->slot_n;
  double *moments = c->t->nuis && c->want_grad ? slot + 1 + P : NULL;
  if (c->delta_only) {
    block_delta(c, ev, k, slot, moments);
    return;
  }
  nplm__mlp_offset_t off = {ev->coef ? ev->coef + k * ev->n_coef * NPLM__BLOCK : NULL,
                            ev->n_coef, c->nu_mult, c->nu_norm, moments};
  c->kern->loss(c->spec, c->params, ev->x + k * d * NPLM__BLOCK, ev->ca + k * NPLM__BLOCK,
                ev->cb + k * NPLM__BLOCK, c->t->nuis ? &off : NULL,
                c->work + (size_t)worker * c->work_n, slot, c->want_grad ? slot + 1 : NULL);
}

/* With nuisances: the multipliers m_c = nu_j^k of the coefficient columns and the sum of the
 * normalisation nuisances, for the current nu. */
static void nuisance_multipliers(fit_ctx_t *c, const double *nu) {
  const nplm_nuisance_t *ns = c->t->nuis;
  c->nu_norm = 0.0;
  for (size_t j = 0; j < ns->n; j++) {
    const nplm__nuis_item_t *it = &ns->items[j];
    if (it->kind == NPLM__NUIS_NORM) {
      c->nu_norm += nu[j];
      continue;
    }
    double p = 1.0;
    for (unsigned k = 1; k <= it->order; k++) c->nu_mult[it->col + k - 1] = p *= nu[j];
  }
}

/* d L / d nu_j from the summed moments: shape sum_k k nu^(k-1) M_c, normalisation sum dL/df. */
static void nuisance_gradient(const fit_ctx_t *c, const double *nu, const double *moments,
                              double *g) {
  const nplm_nuisance_t *ns = c->t->nuis;
  for (size_t j = 0; j < ns->n; j++) {
    const nplm__nuis_item_t *it = &ns->items[j];
    if (it->kind == NPLM__NUIS_NORM) {
      g[j] = moments[ns->n_cols];
      continue;
    }
    double p = 1.0, s = 0.0;
    for (unsigned k = 1; k <= it->order; k++) {
      s += (double)k * p * moments[it->col + k - 1];
      p *= nu[j];
    }
    g[j] = s;
  }
}

static nplm_status_t objective(void *arg, const double *x, double *f, double *g) {
  fit_ctx_t *c = arg;
  const size_t P = c->delta_only ? 0 : c->spec->n_params;
  const size_t J = c->t->nuis ? c->t->nuis->n : 0, N = P + J;
  const size_t M = c->slot_n - 1 - P; /* moments per slot (0 without nuisances) */
  c->params = x;
  if (J) nuisance_multipliers(c, x + P);
  c->want_grad = g != NULL;
  nplm__pool_run(c->pool, c->n_tasks, block_task, c);
  double loss = 0.0, moments[NPLM__MAX_MOMENTS];
  if (g) memset(g, 0, N * sizeof *g);
  memset(moments, 0, sizeof moments);
  for (size_t k = 0; k < c->n_tasks; k++) {
    const double *slot = c->slots + k * c->slot_n;
    loss += slot[0];
    if (!g) continue;
    for (size_t p = 0; p < P; p++) g[p] += slot[1 + p];
    for (size_t q = 0; q < M; q++) moments[q] += slot[1 + P + q];
  }
  if (J) {
    double aux_grad[64];
    loss += nplm__nuisance_aux(c->t->nuis, x + P, c->nu0, aux_grad);
    if (g) {
      nuisance_gradient(c, x + P, moments, g + P);
      for (size_t j = 0; j < J; j++) g[P + j] += aux_grad[j];
    }
  }
  if (!isfinite(loss))
    return nplm__fail(NPLM_ENUMERIC, "the loss is not finite (exp(f) overflow?)");
  if (g && nplm__first_nonfinite(g, N) < N)
    return nplm__fail(NPLM_ENUMERIC, "the gradient is not finite");
  *f = loss;
  return NPLM_OK;
}

static int history_push(nplm_test_t *t, int64_t step, double tv) {
  if (t->hist_n == t->hist_cap) {
    size_t cap = t->hist_cap ? 2 * t->hist_cap : 64;
    int64_t *e = nplm__malloc_array(cap, sizeof *e);
    double *v = nplm__malloc_array(cap, sizeof *v);
    if (!e || !v) {
      nplm__free(e);
      nplm__free(v);
      return -1;
    }
    if (t->hist_n) {
      memcpy(e, t->hist_epoch, t->hist_n * sizeof *e);
      memcpy(v, t->hist_t, t->hist_n * sizeof *v);
    }
    nplm__free(t->hist_epoch);
    nplm__free(t->hist_t);
    t->hist_epoch = e;
    t->hist_t = v;
    t->hist_cap = cap;
  }
  t->hist_epoch[t->hist_n] = step;
  t->hist_t[t->hist_n] = tv;
  t->hist_n++;
  return 0;
}

static int monitor(void *arg, int64_t step, double f) {
  fit_ctx_t *c = arg;
  if (c->stop && atomic_load(c->stop)) {
    c->canceled = 1;
    return 1;
  }
  if (c->step_offset > 0) { /* a second phase: its start is the first phase's end, seen */
    if (step == 0) return 0;
    step += c->step_offset;
  }
  const double tv = -2.0 * f - c->delta; /* t = tau - Delta at this step */
  if (c->trace && c->patience > 0 && step > 0 && step % c->patience == 0) {
    size_t i = (size_t)(step / c->patience) - 1;
    if (i < c->trace_len) {
      c->trace[i] = tv;
      c->trace_done = i + 1;
    }
  }
  nplm_test_t *t = c->mut;
  if (!t) return 0;
  if (c->patience > 0 && step > 0 && step % c->patience == 0 && history_push(t, step, tv)) {
    c->hist_status = NPLM_ENOMEM;
    return 1;
  }
  if (t->progress) {
    double now = nplm__now();
    if (step == 0 || now - c->last_progress >= PROGRESS_INTERVAL) {
      c->last_progress = now;
      nplm_progress_t p = {sizeof(nplm_progress_t), step, c->total, tv, now - c->t0};
      if (t->progress(t->progress_user, &p)) {
        c->canceled = 1;
        return 1;
      }
    }
  }
  return 0;
}

static void clip_box(const nplm__mlp_spec_t *s, double c, int clip_biases, double *lo,
                     double *hi) {
  for (size_t l = 1; l < s->n_layers; l++) {
    const size_t nin = s->units[l - 1], nout = s->units[l];
    for (size_t i = 0; i < nin * nout; i++) {
      lo[s->w_off[l] + i] = -c;
      hi[s->w_off[l] + i] = c;
    }
    for (size_t j = 0; j < nout; j++) {
      lo[s->b_off[l] + j] = clip_biases ? -c : -(double)INFINITY;
      hi[s->b_off[l] + j] = clip_biases ? c : (double)INFINITY;
    }
  }
}

nplm_status_t nplm__test_ensure_pool(nplm_test_t *t, int threads) {
  if (t->pool && nplm__pool_threads(t->pool) == threads) return NPLM_OK;
  nplm__pool_free(t->pool);
  t->pool = NULL;
  if (threads <= 1) return NPLM_OK;
  return nplm__pool_create(threads, &t->pool);
}

/* The optimiser the options choose, on n parameters in [lo, hi]. */
static nplm_status_t optimise(fit_ctx_t *c, size_t n, double *params, const double *lo,
                              const double *hi, nplm__optim_report_t *rep) {
  const nplm_test_t *t = c->t;
  const double gtol = nplm__test_opt(t, NPLM_OPT_GRADIENT_TOLERANCE) * t->n_expected;
  const int which = c->delta_only ? NPLM_OPTIMIZER_LBFGSB /* Delta: nu alone, a few parameters */
                                  : (int)nplm__test_opt(t, NPLM_OPT_OPTIMIZER);
  nplm__lbfgsb_opts_t ql = {(int64_t)nplm__test_opt(t, NPLM_OPT_MAX_ITERATIONS),
                            nplm__test_opt(t, NPLM_OPT_TOLERANCE), gtol,
                            (int)nplm__test_opt(t, NPLM_OPT_LBFGS_MEMORY)};
  if (ql.memory == 0 && n > DENSE_QN_MAX_PARAMS) ql.memory = 20;
  if (which == NPLM_OPTIMIZER_LBFGSB) {
    c->total = ql.max_iter;
    return nplm__lbfgsb(n, params, lo, hi, objective, monitor, c, &ql, rep);
  }
  nplm__adam_opts_t o = {(int64_t)nplm__test_opt(t, NPLM_OPT_EPOCHS),
                         nplm__test_opt(t, NPLM_OPT_LEARNING_RATE),
                         nplm__test_opt(t, NPLM_OPT_ADAM_BETA1),
                         nplm__test_opt(t, NPLM_OPT_ADAM_BETA2),
                         nplm__test_opt(t, NPLM_OPT_ADAM_EPSILON), gtol};
  c->total = o.epochs + (which == NPLM_OPTIMIZER_ADAM_LBFGSB ? ql.max_iter : 0);
  nplm_status_t s = nplm__adam(n, params, lo, hi, objective, monitor, c, &o, rep);
  if (s != NPLM_OK || which != NPLM_OPTIMIZER_ADAM_LBFGSB) return s;
  /* L-BFGS-B from Adam's end point; the report covers both phases */
  const nplm__optim_report_t adam = *rep;
  c->step_offset = adam.iterations;
  s = nplm__lbfgsb(n, params, lo, hi, objective, monitor, c, &ql, rep);
  c->step_offset = 0;
  rep->iterations += adam.iterations;
  rep->evaluations += adam.evaluations;
  return s;
}

/* The tau fit from NPLM_OPT_STARTS starts, keeping the lowest loss (the first of equal ones).
 * x holds start 0 (network, then nuisances) and receives the kept end point; spare has 2 N
 * doubles. The handle's history and the trace end as the kept start's. */
static nplm_status_t optimise_starts(fit_ctx_t *c, size_t N, double *x, const double *lo,
                                     const double *hi, uint64_t init_seed, uint64_t init_index,
                                     double *spare, nplm__optim_report_t *rep) {
  const int K = (int)nplm__test_opt(c->t, NPLM_OPT_STARTS);
  if (K <= 1) return optimise(c, N, x, lo, hi, rep);
  const int bias_glorot = (int)nplm__test_opt(c->t, NPLM_OPT_BIAS_INIT) == NPLM_BIAS_INIT_GLOROT;
  nplm_test_t *t = c->mut;
  double *x0 = spare, *y = spare + N;
  double *trace = c->trace, *trace_k = NULL;
  size_t trace_best = 0, hist_best = 0;
  if (trace) {
    trace_k = nplm__malloc_array(c->trace_len ? c->trace_len : 1, sizeof *trace_k);
    if (!trace_k) return nplm__fail(NPLM_ENOMEM, "out of memory");
  }
  memcpy(x0, x, N * sizeof *x);
  nplm_status_t best = NPLM_OK;
  for (int k = 0; k < K; k++) {
    memcpy(y, x0, N * sizeof *y); /* nuisances at their aux values */
    if (k > 0) nplm__mlp_glorot_start(c->spec, init_seed, init_index, (uint64_t)k, bias_glorot, y);
    c->trace = k == 0 ? trace : trace_k;
    c->trace_done = 0;
    nplm__optim_report_t r;
    nplm_status_t s = optimise(c, N, y, lo, hi, &r);
    if (s != NPLM_OK && s != NPLM_ENOCONV) {
      best = s;
      break;
    }
    const size_t hist_k = t ? t->hist_n - hist_best : 0; /* this start's history entries */
    if (k == 0 || r.f < rep->f) {
      memcpy(x, y, N * sizeof *x);
      *rep = r;
      best = s;
      if (k > 0 && trace) memcpy(trace, trace_k, c->trace_done * sizeof *trace);
      trace_best = c->trace_done;
      if (t && k > 0 && hist_k) {
        memmove(t->hist_epoch, t->hist_epoch + hist_best, hist_k * sizeof *t->hist_epoch);
        memmove(t->hist_t, t->hist_t + hist_best, hist_k * sizeof *t->hist_t);
      }
      hist_best = hist_k;
    }
    if (t) t->hist_n = hist_best;
  }
  c->trace = trace;
  c->trace_done = trace_best;
  nplm__free(trace_k);
  return best;
}

/* One fit on the handle's reference and the given data, from the Glorot start of stream
 * (init_seed, init_index) or from the family's parameters. c must carry t, mut, pool, stop
 * and t0; the fitted parameters go to params (P doubles), the clip used to *clip. With
 * nuisances (nf not NULL) it runs the Delta fit (nu alone, f = 0) and then the tau fit (f and
 * nu); rep describes the tau fit, whose loss gives tau. */
nplm_status_t nplm__test_fit(fit_ctx_t *c, const nplm__events_t *data, uint64_t init_seed,
                             uint64_t init_index, double *params, double *clip,
                             nplm__optim_report_t *rep, nplm__nuis_fit_t *nf) {
  const nplm_test_t *t = c->t;
  const nplm__mlp_spec_t *spec = &t->family->spec;
  const size_t P = spec->n_params, J = t->nuis ? t->nuis->n : 0, N = P + J;
  const int threads = nplm__pool_threads(c->pool);
  c->spec = spec;
  c->kern = nplm__mlp_kernels();
  c->ref = &t->ref;
  c->data = data;
  c->n_tasks = t->ref.n_blocks + data->n_blocks;
  c->slot_n = 1 + P + (t->nuis ? t->nuis->n_cols + 1 : 0);
  c->work_n = nplm__mlp_work_size(spec);
  c->last_progress = c->t0;
  c->hist_status = NPLM_OK;
  c->canceled = 0;
  c->trace_done = 0;
  c->delta_only = 0;
  c->step_offset = 0;
  c->delta = 0.0;
  /* the kernels' work areas first: aligned (work_n is a multiple of the vector width) */
  double *buf = nplm__malloc_aligned((size_t)threads * c->work_n + c->n_tasks * c->slot_n + 5 * N +
                                         (t->nuis ? t->nuis->n_cols : 0),
                                     sizeof *buf);
  if (!buf) return nplm__fail(NPLM_ENOMEM, "out of memory");
  c->work = buf;
  c->slots = c->work + (size_t)threads * c->work_n;
  double *lo = c->slots + c->n_tasks * c->slot_n, *hi = lo + N, *x = hi + N;
  double *spare = x + N; /* 2 N: optimise_starts */
  c->nu_mult = spare + 2 * N;

  *clip = nplm__test_opt(t, NPLM_OPT_WEIGHT_CLIP);
  if (*clip == 0.0) *clip = t->family->clip;
  clip_box(spec, *clip, (int)nplm__test_opt(t, NPLM_OPT_CLIP_BIASES), lo, hi);
  if ((int)nplm__test_opt(t, NPLM_OPT_INIT) == NPLM_INIT_FROM_MODEL)
    memcpy(x, t->family->params, P * sizeof *x);
  else
    nplm__mlp_glorot(spec, init_seed, init_index,
                (int)nplm__test_opt(t, NPLM_OPT_BIAS_INIT) == NPLM_BIAS_INIT_GLOROT, x);
  for (size_t j = 0; j < J; j++) { /* nuisances: free, starting at their aux values */
    lo[P + j] = -INFINITY;
    hi[P + j] = INFINITY;
    x[P + j] = c->nu0 ? c->nu0[j] : t->nuis->items[j].nu0;
  }
  c->patience = (int64_t)nplm__test_opt(t, NPLM_OPT_PATIENCE);
  nplm_status_t s = NPLM_OK;
  if (J && nf) { /* Delta = -2 min_nu L[0, nu] */
    fit_ctx_t dc = *c;
    dc.delta_only = 1;
    dc.mut = NULL;
    dc.trace = NULL;
    double *nu = x + P;
    s = optimise(&dc, J, nu, lo + P, hi + P, &nf->delta_rep);
    if (s == NPLM_OK || s == NPLM_ENOCONV) {
      nf->delta = -2.0 * nf->delta_rep.f;
      c->delta = nf->delta;
      memcpy(nf->nu_delta, nu, J * sizeof *nu);
      for (size_t j = 0; j < J; j++) nu[j] = c->nu0 ? c->nu0[j] : t->nuis->items[j].nu0;
    }
  }
  nplm_status_t s_delta = s;
  if (s == NPLM_OK || s == NPLM_ENOCONV) {
    s = optimise_starts(c, N, x, lo, hi, init_seed, init_index, spare, rep);
    if (s == NPLM_OK && s_delta == NPLM_ENOCONV) s = NPLM_ENOCONV;
  }
  if ((s == NPLM_OK || s == NPLM_ENOCONV)) {
    memcpy(params, x, P * sizeof *x);
    if (J && nf) {
      nf->tau = -2.0 * rep->f;
      memcpy(nf->nu_tau, x + P, J * sizeof *x);
    }
  }
  nplm__free(buf);
  if (s == NPLM_ECANCELED)
    s = c->hist_status == NPLM_ENOMEM ? nplm__fail(NPLM_ENOMEM, "out of memory")
                                      : nplm__fail(NPLM_ECANCELED, "canceled");
  return s;
}

int nplm__test_threads(const nplm_test_t *t, size_t n_tasks) {
  int threads = (int)nplm__test_opt(t, NPLM_OPT_THREADS);
  if (threads == 0) threads = nplm__cpu_count();
  if ((size_t)threads > n_tasks) threads = (int)(n_tasks ? n_tasks : 1);
  return threads;
}

nplm_status_t nplm_test_run(nplm_test_t *t, const double *x, size_t n, size_t d, const double *w,
                            double *t_value) {
  static const char fn[] = "nplm_test_run";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (!t_value) return fail_on(t, nplm__fail(NPLM_EINVAL, "%s: t_value is NULL", fn));
  if (!t->has_ref)
    return fail_on(t, nplm__fail(NPLM_ESTATE, "%s: no reference: call nplm_test_set_reference "
                                              "first", fn));
  if (d != t->family->d)
    return fail_on(t, nplm__fail(NPLM_EINVAL, "%s: d = %zu but the model has %zu inputs", fn, d,
                                 t->family->d));
  nplm_status_t s = nplm__check_events(fn, "x", x, n, d, "w", w);
  if (s != NPLM_OK) return fail_on(t, s);
  if (t->family->kind == NPLM__MODEL_KERNEL) { /* refused before the handle changes */
    const size_t m = nplm__kernel_centres(t, n);
    if (m > t->ref.n + n)
      return fail_on(t, nplm__fail(NPLM_EINVAL, "%s: %zu centres requested "
                                                "(kernel_centers) but the reference and x hold "
                                                "%zu events", fn, m, t->ref.n + n));
  }

  const double t0 = nplm__now();
  double sum_w = 0.0;
  for (size_t i = 0; i < n; i++) sum_w += w ? w[i] : 1.0;

  nplm__events_t data = {0, d, 0, NULL, NULL, NULL, NULL, 0};
  nplm_model_t *fitted = NULL;
  int started = 0;
  fit_ctx_t c;
  memset(&c, 0, sizeof c);
  nplm__optim_report_t rep;
  memset(&rep, 0, sizeof rep);

  s = nplm__test_pack(t, &data, x, n, w, 0.0, 1.0);
  if (s != NPLM_OK) goto out;
  int threads = nplm__test_threads(t, t->ref.n_blocks + data.n_blocks);
  s = nplm__test_ensure_pool(t, threads);
  if (s != NPLM_OK) goto out;
  nplm__nuis_fit_t nf = {0.0, 0.0, t->nu_tau, t->nu_delta, {0, 0, 0, 0.0, 0.0}};
  started = 1; /* from here on a failure leaves no result: the history is the new run's */
  t->hist_n = 0;
  if (t->family->kind == NPLM__MODEL_KERNEL) {
    /* the kernel fit's report in the terms of the optimisers', then the common bookkeeping */
    nplm__kernel_report_t kr;
    const int64_t steps = (int64_t)nplm__test_opt(t, NPLM_OPT_NEWTON_STEPS);
    if (t->progress) { /* the start; the fit itself has no steps to report in between */
      nplm_progress_t p = {sizeof(nplm_progress_t), 0, steps, (double)NAN, nplm__now() - t0};
      if (t->progress(t->progress_user, &p)) {
        s = nplm__fail(NPLM_ECANCELED, "%s: canceled by the progress callback", fn);
        goto out;
      }
    }
    s = nplm__kernel_fit(t, t->pool, NULL, &data, (uint64_t)nplm__test_opt(t, NPLM_OPT_SEED), 0,
                         &fitted, &kr);
    if (s != NPLM_OK) goto out;
    if (t->progress) { /* the end: the work is done, so its answer is not a cancel */
      nplm_progress_t p = {sizeof(nplm_progress_t), steps, steps, kr.t, nplm__now() - t0};
      (void)t->progress(t->progress_user, &p);
    }
    if (history_push(t, 1, kr.t)) {
      s = nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
      goto out;
    }
    rep.f = kr.loss;
    rep.iterations = kr.iterations;
    rep.evaluations = kr.passes;
    rep.converged = kr.converged;
    rep.pg_norm = kr.residual;
    t->jitter = kr.jitter;
    t->centers = kr.m;
    t->rank = kr.rank;
    if (!kr.converged)
      s = nplm__fail(NPLM_ENOCONV, "%s: conjugate gradient stopped at %lld iterations with a "
                                   "relative residual of %.3g", fn, (long long)kr.iterations,
                     kr.residual);
    goto store;
  }
  fitted = nplm__model_clone(t->family);
  if (!fitted) {
    s = nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
    goto out;
  }
  c.t = t;
  c.mut = t;
  c.pool = t->pool;
  c.t0 = t0;
  s = nplm__test_fit(&c, &data, (uint64_t)nplm__test_opt(t, NPLM_OPT_SEED), 0, fitted->params,
                     &fitted->clip, &rep, t->nuis ? &nf : NULL);
  if (s != NPLM_OK && s != NPLM_ENOCONV) goto out;
  const double t_final = -2.0 * rep.f - (t->nuis ? nf.delta : 0.0);
  if (!(c.patience > 0 && rep.iterations % c.patience == 0 && rep.iterations > 0) &&
      history_push(t, rep.iterations, t_final)) {
    s = nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
    goto out;
  }
  if (t->progress) { /* the final report; the work is done, so its answer is not a cancel */
    nplm_progress_t p = {sizeof(nplm_progress_t), rep.iterations, c.total, t_final,
                         nplm__now() - t0};
    (void)t->progress(t->progress_user, &p);
  }
  if (s == NPLM_ENOCONV)
    nplm__fail(NPLM_ENOCONV, "%s: L-BFGS-B reached %lld iterations before its tolerance", fn,
               (long long)nplm__test_opt(t, NPLM_OPT_MAX_ITERATIONS));
store:
  nplm_model_free(t->fitted);
  t->fitted = fitted;
  fitted = NULL;
  t->has_result = 1;
  t->loss = rep.f;
  t->tau = -2.0 * rep.f;
  t->delta = t->nuis ? nf.delta : 0.0;
  t->t_value = t->tau - t->delta;
  t->iterations = rep.iterations;
  t->evaluations = rep.evaluations;
  t->converged = rep.converged;
  t->pg_norm = rep.pg_norm;
  t->threads = nplm__pool_threads(t->pool);
  t->n_data = n;
  t->sum_data_w = sum_w;
  t->seconds = nplm__now() - t0;
  *t_value = t->t_value;
out:
  if (s != NPLM_OK && s != NPLM_ENOCONV) {
    if (strncmp(nplm_last_error(), fn, sizeof fn - 1) != 0) nplm__prefix_error(s, fn);
    if (started) clear_result(t); /* failures before the fit (packing x) change nothing */
    nplm__copy_error(t->msg);
  } else if (s == NPLM_ENOCONV) {
    nplm__copy_error(t->msg);
  }
  nplm_model_free(fitted);
  nplm__events_free(&data);
  return s;
}

nplm_status_t nplm_test_result(const nplm_test_t *t, nplm_result_t key, double *value) {
  static const char fn[] = "nplm_test_result";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (!value) return nplm__fail(NPLM_EINVAL, "%s: value is NULL", fn);
  if (!t->has_result) return nplm__fail(NPLM_ESTATE, "%s: no result: run the test first", fn);
  switch (key) {
    case NPLM_RESULT_T: *value = t->t_value; return NPLM_OK;
    case NPLM_RESULT_LOSS: *value = t->loss; return NPLM_OK;
    case NPLM_RESULT_ITERATIONS: *value = (double)t->iterations; return NPLM_OK;
    case NPLM_RESULT_CONVERGED: *value = t->converged; return NPLM_OK;
    case NPLM_RESULT_SECONDS: *value = t->seconds; return NPLM_OK;
    case NPLM_RESULT_EVALUATIONS: *value = (double)t->evaluations; return NPLM_OK;
    case NPLM_RESULT_GRADIENT_NORM: *value = t->pg_norm; return NPLM_OK;
    case NPLM_RESULT_THREADS: *value = t->threads; return NPLM_OK;
    case NPLM_RESULT_N_DATA: *value = (double)t->n_data; return NPLM_OK;
    case NPLM_RESULT_SUM_DATA_WEIGHTS: *value = t->sum_data_w; return NPLM_OK;
    case NPLM_RESULT_TAU: *value = t->tau; return NPLM_OK;
    case NPLM_RESULT_DELTA: *value = t->delta; return NPLM_OK;
    case NPLM_RESULT_CENTERS: *value = (double)t->centers; return NPLM_OK;
    case NPLM_RESULT_JITTER: *value = t->jitter; return NPLM_OK;
    case NPLM_RESULT_KERNEL_RANK: *value = (double)t->rank; return NPLM_OK;
  }
  return nplm__fail(NPLM_EINVAL, "%s: unknown result key %d", fn, (int)key);
}

nplm_status_t nplm_test_history(const nplm_test_t *t, int64_t *epochs, double *t_values,
                                size_t capacity, size_t *count) {
  static const char fn[] = "nplm_test_history";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (!count) return nplm__fail(NPLM_EINVAL, "%s: count is NULL", fn);
  if (capacity > 0 && !epochs && !t_values)
    return nplm__fail(NPLM_EINVAL, "%s: capacity > 0 but both buffers are NULL", fn);
  if (!t->has_result) return nplm__fail(NPLM_ESTATE, "%s: no result: run the test first", fn);
  size_t m = capacity < t->hist_n ? capacity : t->hist_n;
  if (epochs) memcpy(epochs, t->hist_epoch, m * sizeof *epochs);
  if (t_values) memcpy(t_values, t->hist_t, m * sizeof *t_values);
  *count = t->hist_n;
  return NPLM_OK;
}

nplm_status_t nplm_test_fitted_model(const nplm_test_t *t, const nplm_model_t **f) {
  static const char fn[] = "nplm_test_fitted_model";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (!f) return nplm__fail(NPLM_EINVAL, "%s: f is NULL", fn);
  if (!t->has_result) return nplm__fail(NPLM_ESTATE, "%s: no result: run the test first", fn);
  *f = t->fitted;
  return NPLM_OK;
}

nplm_status_t nplm_test_nuisances(const nplm_test_t *t, int which, double *nu, size_t n) {
  static const char fn[] = "nplm_test_nuisances";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (which == NPLM_FIT_AUX)
    return nplm__fail(NPLM_EINVAL, "%s: which = NPLM_FIT_AUX is per toy only "
                                   "(nplm_test_toy_nuisances)", fn);
  if (which != NPLM_FIT_TAU && which != NPLM_FIT_DELTA)
    return nplm__fail(NPLM_EINVAL, "%s: which = %d is not an nplm_fit", fn, which);
  const size_t J = t->nuis ? t->nuis->n : 0;
  if (n != J)
    return nplm__fail(NPLM_EINVAL, "%s: n = %zu but the test has %zu nuisances", fn, n, J);
  if (J && !nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  if (!t->has_result) return nplm__fail(NPLM_ESTATE, "%s: no result: run the test first", fn);
  if (J) memcpy(nu, which == NPLM_FIT_TAU ? t->nu_tau : t->nu_delta, J * sizeof *nu);
  return NPLM_OK;
}

nplm_status_t nplm_test_set_aux(nplm_test_t *t, size_t index, double nu0) {
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "nplm_test_set_aux: t is NULL");
  if (!t->nuis)
    return fail_on(t, nplm__fail(NPLM_EINVAL, "nplm_test_set_aux: the test has no nuisances"));
  nplm_status_t s = nplm_nuisance_set_aux(t->nuis, index, nu0);
  if (s != NPLM_OK) return fail_on(t, nplm__prefix_error(s, "nplm_test_set_aux"));
  return NPLM_OK;
}
