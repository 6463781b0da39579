/* Calibration: t on toys drawn under the reference hypothesis, in parallel over toys. Toy k
 * (global index g = NPLM_OPT_TOY_OFFSET + k) takes its events from the stream (seed, (toy, g))
 * and its initialisation from (seed, (init, g)), so its t is the same bits whatever the thread
 * count or the sharding. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "test/test_internal.h"
#include "test/toys.h"

#define NPLM_H_INSIDE
#include "nplm/stats.h"
#undef NPLM_H_INSIDE

struct nplm_toy {
  size_t d, n;
  double *x, *w;
  int set;
  double *aux;  /* this toy's auxiliary values (NaN: the test's), or NULL without nuisances */
  size_t n_aux;
};

nplm_status_t nplm_toy_set_aux(nplm_toy_t *toy, size_t index, double nu0) {
  static const char fn[] = "nplm_toy_set_aux";
  nplm__clear_error();
  if (!toy) return nplm__fail(NPLM_EINVAL, "%s: toy is NULL", fn);
  if (index >= toy->n_aux)
    return nplm__fail(NPLM_EINVAL, "%s: index = %zu but the test has %zu nuisances", fn, index,
                      toy->n_aux);
  if (!isfinite(nu0) || !(fabs(nu0) <= 1e150)) /* |nu0| / sigma is checked at the fit */
    return nplm__fail(NPLM_EINVAL, "%s: nu0 = %g: need a finite |nu0| <= 1e150", fn, nu0);
  toy->aux[index] = nu0;
  return NPLM_OK;
}

nplm_status_t nplm_toy_set_events(nplm_toy_t *toy, const double *x, size_t n, size_t d,
                                  const double *w) {
  static const char fn[] = "nplm_toy_set_events";
  nplm__clear_error();
  if (!toy) return nplm__fail(NPLM_EINVAL, "%s: toy is NULL", fn);
  if (d != toy->d)
    return nplm__fail(NPLM_EINVAL, "%s: d = %zu but the model has %zu inputs", fn, d, toy->d);
  nplm_status_t s = nplm__check_events(fn, "x", x, n, d, "w", w);
  if (s != NPLM_OK) return s;
  double *xc = nplm__malloc_array(n ? n * d : 1, sizeof *xc);
  double *wc = w ? nplm__malloc_array(n ? n : 1, sizeof *wc) : NULL;
  if (!xc || (w && !wc)) {
    nplm__free(xc);
    nplm__free(wc);
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  }
  if (n) memcpy(xc, x, n * d * sizeof *xc);
  if (w && n) memcpy(wc, w, n * sizeof *wc);
  nplm__free(toy->x);
  nplm__free(toy->w);
  toy->x = xc;
  toy->w = wc;
  toy->n = n;
  toy->set = 1;
  return NPLM_OK;
}

typedef struct cal_ctx {
  nplm_test_t *t;
  const char *fn;
  const nplm__toy_pool_t *pool; /* either a pool ... */
  nplm_toy_fn gen;              /* ... or a generator */
  void *user;
  uint64_t seed, offset;
  size_t n_toys;
  double *t_null;
  double *trace; /* n_toys x trace_len, or NULL */
  size_t trace_len;
  atomic_int stop;
  atomic_size_t done;     /* toys ended (fitted, failed or stopped) */
  atomic_size_t finished; /* toys with their t written */
  size_t reported;        /* the done count of the last progress call */
  atomic_int noconv;
  pthread_mutex_t lock;
  size_t first_bad; /* n_toys: none */
  nplm_status_t bad_status;
  char bad_msg[NPLM__MSG_SIZE];
  double t0, last_progress;
  int canceled;
} cal_ctx_t;

static void record_failure(cal_ctx_t *c, size_t k, nplm_status_t s) {
  pthread_mutex_lock(&c->lock);
  if (k < c->first_bad) {
    c->first_bad = k;
    c->bad_status = s;
    nplm__copy_error(c->bad_msg);
  }
  pthread_mutex_unlock(&c->lock);
}

/* The events of toy g, as row-major x (allocated) and optional weights (allocated). */
static nplm_status_t toy_events(cal_ctx_t *c, uint64_t g, nplm_toy_t *toy) {
  if (c->pool) {
    toy->set = 1;
    return nplm__toy_draw(c->pool, c->seed, g, c->t->n_expected, &toy->x, &toy->n);
  }
  int rc = c->gen(c->user, g, c->seed, toy);
  if (rc != 0)
    return nplm__fail(NPLM_EINVAL, "the toy generator returned %d for toy %llu", rc,
                      (unsigned long long)g);
  if (!toy->set)
    return nplm__fail(NPLM_EINVAL, "the toy generator set no events for toy %llu "
                                   "(call nplm_toy_set_events)", (unsigned long long)g);
  return NPLM_OK;
}

/* A standard normal by inversion of a uniform in (0, 1) (nplm_z_from_p, accurate in the tails):
 * one uniform per draw, so toy g's values depend only on (seed, g). */
static double aux_normal(nplm__rng_t *r) {
  double u;
  do u = nplm__rng_uniform(r);
  while (u == 0.0);
  return nplm_z_from_p(u);
}

static void toy_task(void *arg, size_t k, int worker) {
  cal_ctx_t *c = arg;
  const uint64_t g = c->offset + k;
  c->t_null[k] = NAN;
  if (atomic_load(&c->stop)) return;
  const size_t P = c->t->family->spec.n_params, d = c->t->family->d;
  const size_t J = c->t->nuis ? c->t->nuis->n : 0;
  nplm_toy_t toy = {d, 0, NULL, NULL, 0, NULL, J};
  nplm__events_t data = {0, d, 0, NULL, NULL, NULL, NULL, 0};
  double *params = nplm__malloc_array(P + 3 * J, sizeof *params);
  if (params && J) {
    toy.aux = params + P + 2 * J;
    for (size_t j = 0; j < J; j++) toy.aux[j] = NAN;
  }
  nplm_status_t s = params ? toy_events(c, g, &toy)
                           : nplm__fail(NPLM_ENOMEM, "toy %llu: out of memory",
                                        (unsigned long long)g);
  if (s == NPLM_OK) s = nplm__test_pack(c->t, &data, toy.x, toy.n, toy.w, 0.0, 1.0);
  if (s == NPLM_OK) {
    fit_ctx_t fc;
    memset(&fc, 0, sizeof fc);
    fc.t = c->t;
    fc.stop = &c->stop;
    fc.t0 = nplm__now();
    if (J) { /* the toy's auxiliary values where the generator set none: the test's, or drawn
                around them (NPLM_TOY_AUX_DRAW) */
      const int draw = nplm__test_opt(c->t, NPLM_OPT_TOY_AUX) == NPLM_TOY_AUX_DRAW;
      nplm__rng_t r;
      nplm__rng_init(&r, c->seed, nplm__rng_stream(NPLM__RNG_AUX, g));
      for (size_t j = 0; j < J; j++) {
        /* one normal per nuisance in index order, drawn even where the generator set the
           value, so nuisance j's draw does not depend on the others */
        const double z = draw ? aux_normal(&r) : 0.0;
        if (isnan(toy.aux[j]))
          toy.aux[j] = c->t->nuis->items[j].nu0 + z * c->t->nuis->items[j].sigma;
        if (s == NPLM_OK && !nplm__nuis_nu0_ok(toy.aux[j], c->t->nuis->items[j].sigma))
          s = nplm__fail(NPLM_EINVAL, "toy %llu: nuisance %zu: auxiliary value %g with sigma "
                                      "%g: need |nu0| <= 1e150 and |nu0| / sigma <= 1e150",
                         (unsigned long long)g, j, toy.aux[j], c->t->nuis->items[j].sigma);
      }
      fc.nu0 = toy.aux;
    }
    if (c->trace) {
      fc.trace = c->trace + k * c->trace_len;
      fc.trace_len = c->trace_len;
      for (size_t i = 0; i < c->trace_len; i++) fc.trace[i] = NAN;
    }
    nplm__optim_report_t rep;
    double clip;
    nplm__nuis_fit_t nf = {0.0, 0.0, params + P, params + P + J, {0, 0, 0, 0.0, 0.0}};
    nplm__kernel_report_t kr;
    memset(&kr, 0, sizeof kr);
    if (s != NPLM_OK) {
      /* an unusable auxiliary value: the toy fails with its message */
    } else if (c->t->family->kind == NPLM__MODEL_KERNEL) { /* toys one by one, threads inside */
      s = nplm__kernel_fit(c->t, c->t->pool, &c->stop, &data, c->seed, g, NULL, &kr);
      rep.f = kr.loss;
      rep.iterations = kr.iterations;
      rep.evaluations = kr.passes;
      rep.converged = kr.converged;
      rep.pg_norm = kr.residual;
      if (s == NPLM_OK && !kr.converged) s = NPLM_ENOCONV;
    } else {
      s = nplm__test_fit(&fc, &data, c->seed, g, params, &clip, &rep, J ? &nf : NULL);
    }
    if (s == NPLM_OK || s == NPLM_ENOCONV) {
      atomic_fetch_add(&c->finished, 1);
      c->t_null[k] = -2.0 * rep.f - (J ? nf.delta : 0.0);
      double *row = c->t->cal_res + k * NPLM__TOY_WIDTH(J), sum_w = 0.0;
      for (size_t i = 0; i < toy.n; i++) sum_w += toy.w ? toy.w[i] : 1.0;
      row[NPLM_RESULT_T - 1] = c->t_null[k];
      row[NPLM_RESULT_LOSS - 1] = rep.f;
      row[NPLM_RESULT_ITERATIONS - 1] = (double)rep.iterations;
      row[NPLM_RESULT_CONVERGED - 1] = rep.converged;
      row[NPLM_RESULT_SECONDS - 1] = nplm__now() - fc.t0;
      row[NPLM_RESULT_EVALUATIONS - 1] = (double)rep.evaluations;
      row[NPLM_RESULT_GRADIENT_NORM - 1] = rep.pg_norm;
      row[NPLM_RESULT_N_DATA - 1] = (double)toy.n;
      row[NPLM_RESULT_SUM_DATA_WEIGHTS - 1] = sum_w;
      row[NPLM_RESULT_TAU - 1] = -2.0 * rep.f;
      row[NPLM_RESULT_DELTA - 1] = J ? nf.delta : 0.0;
      row[NPLM_RESULT_CENTERS - 1] = (double)kr.m;
      row[NPLM_RESULT_JITTER - 1] = kr.jitter;
      row[NPLM_RESULT_KERNEL_RANK - 1] = (double)kr.rank;
      if (J) memcpy(row + NPLM__TOY_COLS, params + P, 3 * J * sizeof *row); /* nu, nu, aux */
      for (size_t i = fc.trace_done; fc.trace && i < fc.trace_len; i++) fc.trace[i] = c->t_null[k];
    }
    if (s == NPLM_ENOCONV) atomic_store(&c->noconv, 1);
  }
  if (s != NPLM_OK && s != NPLM_ENOCONV && !(s == NPLM_ECANCELED && atomic_load(&c->stop))) {
    nplm__prefix_error(s, "toy");
    record_failure(c, k, s);
  }
  nplm__events_free(&data);
  nplm__free(toy.x);
  nplm__free(toy.w);
  nplm__free(params);
  size_t done = atomic_fetch_add(&c->done, 1) + 1;
  nplm_test_t *t = c->t;
  if (worker == 0 && t->progress) { /* the caller's thread */
    double now = nplm__now();
    if ((done == 1 || now - c->last_progress >= 0.1) && done < c->n_toys) { /* end: below */
      c->last_progress = now;
      c->reported = done;
      nplm_progress_t p = {sizeof(nplm_progress_t), (int64_t)done, (int64_t)c->n_toys,
                           c->t_null[k], now - c->t0};
      if (t->progress(t->progress_user, &p)) {
        c->canceled = 1;
        atomic_store(&c->stop, 1);
      }
    }
  }
}

static nplm_status_t calibrate(cal_ctx_t *c) {
  nplm_test_t *t = c->t;
  const char *fn = c->fn;
  const int kernel = t->family->kind == NPLM__MODEL_KERNEL;
  nplm_status_t s = nplm__test_ensure_pool(
      t, nplm__test_threads(t, kernel ? t->ref.n_blocks + 1 : c->n_toys));
  if (s != NPLM_OK) return nplm__prefix_error(s, fn);
  /* per-toy results (NaN for toys that fail or are not run) */
  const size_t J = t->nuis ? t->nuis->n : 0, cols = NPLM__TOY_WIDTH(J);
  nplm__free(t->cal_res);
  t->cal_n = 0;
  size_t cells;
  t->cal_res = nplm__mul_size(c->n_toys, cols, &cells) == 0
                   ? nplm__malloc_array(cells, sizeof *t->cal_res)
                   : NULL;
  if (!t->cal_res) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  for (size_t i = 0; i < cells; i++) t->cal_res[i] = NAN;
  t->cal_n = c->n_toys;
  atomic_init(&c->stop, 0);
  atomic_init(&c->done, 0);
  atomic_init(&c->noconv, 0);
  pthread_mutex_init(&c->lock, NULL);
  c->first_bad = c->n_toys;
  atomic_init(&c->finished, 0);
  c->reported = 0;
  c->t0 = c->last_progress = nplm__now();
  /* progress, on the caller's thread: at the start, from worker 0 (the caller) at most every
     0.1 s as toys end, and once at the end with the final count */
  for (size_t k = 0; k < c->n_toys; k++) c->t_null[k] = NAN; /* toys not run stay NaN */
  if (t->progress) {
    nplm_progress_t p = {sizeof(nplm_progress_t), 0, (int64_t)c->n_toys, NAN, 0.0};
    if (t->progress(t->progress_user, &p)) c->canceled = 1;
  }
  if (!c->canceled) {
    if (kernel) /* a kernel fit is BLAS-heavy: toys in turn, each with the pool's threads */
      for (size_t k = 0; k < c->n_toys && !atomic_load(&c->stop); k++) toy_task(c, k, 0);
    else
      nplm__pool_run(t->pool, c->n_toys, toy_task, c);
  }
  pthread_mutex_destroy(&c->lock);
  const size_t ended = atomic_load(&c->done);
  if (t->progress && !c->canceled && c->reported != ended) {
    const double now = nplm__now();
    nplm_progress_t p = {sizeof(nplm_progress_t), (int64_t)ended, (int64_t)c->n_toys,
                         c->t_null[c->n_toys - 1], now - c->t0};
    (void)t->progress(t->progress_user, &p); /* the work is done: not a cancel */
  }
  if (c->canceled)
    return nplm__fail(NPLM_ECANCELED, "%s: canceled by the progress callback after %zu of %zu "
                                      "toys (the others are NaN)", fn,
                      atomic_load(&c->finished), c->n_toys);
  if (c->first_bad < c->n_toys)
    return nplm__fail(c->bad_status, "%s: %s", fn, c->bad_msg);
  if (atomic_load(&c->noconv))
    return kernel ? nplm__fail(NPLM_ENOCONV, "%s: some toys' conjugate-gradient solves stopped "
                                             "short of their tolerance (their t are written)",
                               fn)
                  : nplm__fail(NPLM_ENOCONV, "%s: some toys reached the L-BFGS-B iteration "
                                             "limit (their t are written)", fn);
  return NPLM_OK;
}

static nplm_status_t check_common(nplm_test_t *t, size_t n_toys, double *t_null, const char *fn) {
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (!t->has_ref)
    return nplm__fail(NPLM_ESTATE, "%s: no reference: call nplm_test_set_reference first", fn);
  if (n_toys == 0) return nplm__fail(NPLM_EINVAL, "%s: n_toys = 0", fn);
  if (!t_null) return nplm__fail(NPLM_EINVAL, "%s: t_null is NULL", fn);
  if ((double)nplm__test_opt(t, NPLM_OPT_TOY_OFFSET) + (double)n_toys > 72057594037927936.0)
    return nplm__fail(NPLM_EINVAL, "%s: toy indices beyond 2^56", fn);
  return NPLM_OK;
}

nplm_status_t nplm__calibrate_pool(nplm_test_t *t, const char *fn, const double *pool_x,
                                   size_t pool_n, size_t d, const double *pool_w, size_t n_toys,
                                   uint64_t seed, double *t_null, double *trace,
                                   size_t trace_len) {
  nplm__clear_error();
  nplm_status_t s = check_common(t, n_toys, t_null, fn);
  if (s != NPLM_OK) return t ? (nplm__copy_error(t->msg), s) : s;
  if (pool_n == 0) s = nplm__fail(NPLM_EINVAL, "%s: pool_n = 0: the pool is empty", fn);
  else if (!pool_x) s = nplm__fail(NPLM_EINVAL, "%s: pool_x is NULL", fn);
  else if (d != t->family->d)
    s = nplm__fail(NPLM_EINVAL, "%s: d = %zu but the model has %zu inputs", fn, d,
                   t->family->d);
  else s = nplm__check_events(fn, "pool_x", pool_x, pool_n, d, "pool_w", pool_w);
  double *cum = NULL;
  if (s == NPLM_OK && pool_w) {
    cum = nplm__malloc_array(pool_n, sizeof *cum);
    if (!cum) {
      s = nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
    } else {
      double acc = 0.0;
      for (size_t i = 0; i < pool_n; i++) cum[i] = acc += pool_w[i];
      if (!(acc > 0.0) || !isfinite(acc))
        s = nplm__fail(NPLM_EINVAL, "%s: pool_w: the weights sum to %g; need a positive, finite "
                                    "sum", fn, acc);
    }
  }
  if (s == NPLM_OK) {
    nplm__toy_pool_t pool = {pool_x, pool_n, d, cum};
    cal_ctx_t c;
    memset(&c, 0, sizeof c);
    c.t = t;
    c.fn = fn;
    c.pool = &pool;
    c.seed = seed;
    c.offset = (uint64_t)nplm__test_opt(t, NPLM_OPT_TOY_OFFSET);
    c.n_toys = n_toys;
    c.t_null = t_null;
    c.trace = trace;
    c.trace_len = trace_len;
    s = calibrate(&c);
  }
  nplm__free(cum);
  if (s != NPLM_OK) nplm__copy_error(t->msg);
  return s;
}

nplm_status_t nplm_test_calibrate(nplm_test_t *t, const double *pool_x, size_t pool_n, size_t d,
                                  const double *pool_w, size_t n_toys, uint64_t seed,
                                  double *t_null) {
  return nplm__calibrate_pool(t, "nplm_test_calibrate", pool_x, pool_n, d, pool_w, n_toys, seed,
                              t_null, NULL, 0);
}

nplm_status_t nplm_test_calibrate_with(nplm_test_t *t, nplm_toy_fn generate, void *user,
                                       size_t n_toys, uint64_t seed, double *t_null) {
  static const char fn[] = "nplm_test_calibrate_with";
  nplm__clear_error();
  nplm_status_t s = check_common(t, n_toys, t_null, fn);
  if (s == NPLM_OK && !generate) s = nplm__fail(NPLM_EINVAL, "%s: generate is NULL", fn);
  if (s == NPLM_OK) {
    cal_ctx_t c;
    memset(&c, 0, sizeof c);
    c.t = t;
    c.fn = fn;
    c.gen = generate;
    c.user = user;
    c.seed = seed;
    c.offset = (uint64_t)nplm__test_opt(t, NPLM_OPT_TOY_OFFSET);
    c.n_toys = n_toys;
    c.t_null = t_null;
    s = calibrate(&c);
  }
  if (s != NPLM_OK && t) nplm__copy_error(t->msg);
  return s;
}

nplm_status_t nplm_test_toy_results(const nplm_test_t *t, nplm_result_t key, double *out,
                                    size_t n_toys) {
  static const char fn[] = "nplm_test_toy_results";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (!out) return nplm__fail(NPLM_EINVAL, "%s: out is NULL", fn);
  if ((int)key < 1 || (int)key > NPLM__TOY_COLS || key == NPLM_RESULT_THREADS)
    return nplm__fail(NPLM_EINVAL, "%s: result key %d has no per-toy value", fn, (int)key);
  if (!t->cal_res) return nplm__fail(NPLM_ESTATE, "%s: no calibration has run on this test", fn);
  if (n_toys != t->cal_n)
    return nplm__fail(NPLM_EINVAL, "%s: n_toys = %zu but the last calibration had %zu toys", fn,
                      n_toys, t->cal_n);
  const size_t cols = NPLM__TOY_WIDTH(t->nuis ? t->nuis->n : 0);
  for (size_t k = 0; k < n_toys; k++) out[k] = t->cal_res[k * cols + (size_t)key - 1];
  return NPLM_OK;
}

nplm_status_t nplm_test_toy_nuisances(const nplm_test_t *t, int which, double *nu,
                                      size_t n_toys, size_t n_nuisances) {
  static const char fn[] = "nplm_test_toy_nuisances";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (which != NPLM_FIT_TAU && which != NPLM_FIT_DELTA && which != NPLM_FIT_AUX)
    return nplm__fail(NPLM_EINVAL, "%s: which = %d is not an nplm_fit", fn, which);
  const size_t J = t->nuis ? t->nuis->n : 0;
  if (n_nuisances != J)
    return nplm__fail(NPLM_EINVAL, "%s: n_nuisances = %zu but the test has %zu nuisances", fn,
                      n_nuisances, J);
  if (!nu && J) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  if (!t->cal_res) return nplm__fail(NPLM_ESTATE, "%s: no calibration has run on this test", fn);
  if (n_toys != t->cal_n)
    return nplm__fail(NPLM_EINVAL, "%s: n_toys = %zu but the last calibration had %zu toys", fn,
                      n_toys, t->cal_n);
  const size_t cols = NPLM__TOY_WIDTH(J);
  const size_t first = NPLM__TOY_COLS + (size_t)which * J; /* tau, Delta, aux */
  for (size_t k = 0; k < n_toys; k++)
    for (size_t j = 0; j < J; j++) nu[k * J + j] = t->cal_res[k * cols + first + j];
  return NPLM_OK;
}
