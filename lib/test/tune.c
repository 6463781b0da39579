/* Weight-clip tuning: find the clip c whose null toys follow chi2(dof = #parameters), by the
 * median of t (robust), bracketing then regula falsi (Illinois) on log c; the same toys (seed)
 * at every c, so that the steps differ by c alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats_internal.h"
#include "test/test_internal.h"

#define NPLM_H_INSIDE
#include "nplm/stats.h"
#undef NPLM_H_INSIDE

typedef struct tune_state {
  nplm_test_t *t;
  const double *pool_x, *pool_w;
  size_t pool_n, d, n_toys;
  uint64_t seed;
  double dof, target;
  double *t_null, *sorted;
  double *trace, *quant; /* n_toys x n_check, n_check x 3 */
  size_t n_check;
  int64_t every;
  nplm_clip_report_fn report;
  void *user;
  int step;
  int report_canceled; /* the cancel came from the report callback (not the progress one) */
  double best_c, best_gap;
} tune_state_t;

/* Calibrate at clip c and return median(t) - target in *gap. */
static nplm_status_t evaluate(tune_state_t *s, double c, double *gap) {
  nplm_test_t *t = s->t;
  const int i = nplm__option_index(NPLM_OPT_WEIGHT_CLIP);
  const double saved = t->opt[i];
  t->opt[i] = c;
  nplm_status_t st = nplm__calibrate_pool(t, "nplm_test_tune_clip", s->pool_x, s->pool_n, s->d,
                                          s->pool_w, s->n_toys, s->seed, s->t_null, s->trace,
                                          s->n_check);
  t->opt[i] = saved;
  if (st != NPLM_OK && st != NPLM_ENOCONV) return st;
  memcpy(s->sorted, s->t_null, s->n_toys * sizeof *s->sorted);
  nplm__sort_doubles(s->sorted, s->n_toys);
  double mean = 0.0;
  for (size_t k = 0; k < s->n_toys; k++) mean += s->sorted[k];
  mean /= (double)s->n_toys;
  double ks_stat = NAN, ks_p = NAN;
  if (nplm_ks_chi2(s->t_null, s->n_toys, s->dof, &ks_stat, &ks_p) != NPLM_OK)
    return nplm__fail(NPLM_ENOMEM, "out of memory");
  nplm_clip_step_t r;
  memset(&r, 0, sizeof r);
  r.size = sizeof r;
  r.step = s->step++;
  r.clip = c;
  r.n_toys = (int64_t)s->n_toys;
  r.median = nplm__quantile_sorted(s->sorted, s->n_toys, 0.5);
  r.mean = mean;
  r.ks_stat = ks_stat;
  r.ks_p = ks_p;
  r.target_median = s->target;
  r.q16 = nplm__quantile_sorted(s->sorted, s->n_toys, 0.16);
  r.q84 = nplm__quantile_sorted(s->sorted, s->n_toys, 0.84);
  r.target_q16 = nplm_chi2_isf(0.84, s->dof);
  r.target_q84 = nplm_chi2_isf(0.16, s->dof);
  r.t_null = s->t_null;
  for (size_t ck = 0; ck < s->n_check; ck++) { /* quantiles over the toys at checkpoint ck */
    size_t m = 0;
    for (size_t k = 0; k < s->n_toys; k++) {
      double v = s->trace[k * s->n_check + ck];
      if (!isnan(v)) s->sorted[m++] = v;
    }
    nplm__sort_doubles(s->sorted, m);
    static const double qs[3] = {0.16, 0.5, 0.84};
    for (int q = 0; q < 3; q++)
      s->quant[3 * ck + (size_t)q] = m ? nplm__quantile_sorted(s->sorted, m, qs[q]) : (double)NAN;
  }
  r.n_checkpoints = (int64_t)s->n_check;
  r.checkpoint_every = s->every;
  r.quantiles_vs_epoch = s->quant;
  memcpy(s->sorted, s->t_null, s->n_toys * sizeof *s->sorted); /* restore for the caller */
  nplm__sort_doubles(s->sorted, s->n_toys);
  *gap = r.median - s->target;
  if (fabs(*gap) < s->best_gap) {
    s->best_gap = fabs(*gap);
    s->best_c = c;
  }
  if (s->report && s->report(s->user, &r)) {
    s->report_canceled = 1;
    return nplm__fail(NPLM_ECANCELED, "canceled");
  }
  return NPLM_OK;
}

nplm_status_t nplm_test_tune_clip(nplm_test_t *t, const double *pool_x, size_t pool_n, size_t d,
                                  const double *pool_w, size_t n_toys, uint64_t seed,
                                  double c_lo, double c_hi, int max_steps,
                                  nplm_clip_report_fn report, void *user, double *c_best) {
  static const char fn[] = "nplm_test_tune_clip";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  nplm_status_t st = NPLM_OK;
  if (!c_best) st = nplm__fail(NPLM_EINVAL, "%s: c_best is NULL", fn);
  else if (t->family->kind != NPLM__MODEL_MLP)
    st = nplm__fail(NPLM_EINVAL, "%s: only MLP families have a weight clip", fn);
  else if (!(c_lo > 0.0) || !(c_hi > c_lo) || !isfinite(c_hi))
    st = nplm__fail(NPLM_EINVAL, "%s: need 0 < c_lo < c_hi < inf (got %g, %g)", fn, c_lo, c_hi);
  else if (max_steps < 2 || max_steps > 100)
    st = nplm__fail(NPLM_EINVAL, "%s: max_steps = %d is outside [2, 100]", fn, max_steps);
  else if (n_toys < 5)
    st = nplm__fail(NPLM_EINVAL, "%s: n_toys = %zu: a median needs at least 5 toys", fn, n_toys);
  if (st != NPLM_OK) {
    nplm__copy_error(t->msg);
    return st;
  }
  tune_state_t s;
  memset(&s, 0, sizeof s);
  /* the calibrations below leave their messages (e.g. toys at the iteration limit) on the
     handle; a tuning that succeeds restores the message it found */
  char saved_msg[sizeof t->msg];
  memcpy(saved_msg, t->msg, sizeof saved_msg);
  s.t = t;
  s.pool_x = pool_x;
  s.pool_w = pool_w;
  s.pool_n = pool_n;
  s.d = d;
  s.n_toys = n_toys;
  s.seed = seed;
  s.dof = (double)t->family->spec.n_params;
  s.target = nplm_chi2_isf(0.5, s.dof);
  s.report = report;
  s.user = user;
  s.best_gap = INFINITY;
  s.every = (int64_t)nplm__test_opt(t, NPLM_OPT_PATIENCE);
  int64_t steps_max = (int)nplm__test_opt(t, NPLM_OPT_OPTIMIZER) != NPLM_OPTIMIZER_LBFGSB
                          ? (int64_t)nplm__test_opt(t, NPLM_OPT_EPOCHS) /* the Adam phase */
                          : (int64_t)nplm__test_opt(t, NPLM_OPT_MAX_ITERATIONS);
  s.n_check = s.every > 0 ? (size_t)(steps_max / s.every) : 0;
  if (s.n_check > 1000) s.n_check = 1000;
  s.t_null = nplm__malloc_array(2 * n_toys + s.n_check * (n_toys + 3), sizeof *s.t_null);
  if (!s.t_null) {
    st = nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
    nplm__copy_error(t->msg);
    return st;
  }
  s.sorted = s.t_null + n_toys;
  s.trace = s.n_check ? s.sorted + n_toys : NULL;
  s.quant = s.n_check ? s.trace + s.n_check * n_toys : NULL;
  /* bracket: median(t) grows with c; widen by factors of 2 until the target is inside */
  double a = c_lo, b = c_hi, fa, fb;
  int steps = 0;
  if ((st = evaluate(&s, a, &fa)) != NPLM_OK) goto out;
  if ((st = evaluate(&s, b, &fb)) != NPLM_OK) goto out;
  steps = 2;
  while (fa > 0.0 && steps < max_steps) {
    b = a, fb = fa;
    a *= 0.5;
    if ((st = evaluate(&s, a, &fa)) != NPLM_OK) goto out;
    steps++;
  }
  while (fb < 0.0 && steps < max_steps) {
    a = b, fa = fb;
    b *= 2.0;
    if ((st = evaluate(&s, b, &fb)) != NPLM_OK) goto out;
    steps++;
  }
  /* Illinois regula falsi on log c, stopping within half the median's statistical error */
  int side = 0;
  while (fa <= 0.0 && fb >= 0.0 && steps < max_steps) {
    double la = log(a), lb = log(b);
    double lc = fb != fa ? (la * fb - lb * fa) / (fb - fa) : 0.5 * (la + lb);
    if (!(lc > la && lc < lb)) lc = 0.5 * (la + lb);
    double c = exp(lc), fc;
    if ((st = evaluate(&s, c, &fc)) != NPLM_OK) goto out;
    steps++;
    double spread = 0.0; /* error of the median: sqrt(pi/2) sigma / sqrt(n), sigma from IQR */
    spread = 1.2533 * (nplm__quantile_sorted(s.sorted, n_toys, 0.84) -
                       nplm__quantile_sorted(s.sorted, n_toys, 0.16)) / 2.0 / sqrt((double)n_toys);
    if (fabs(fc) <= 0.5 * spread) break;
    if (fc < 0.0) {
      a = c, fa = fc;
      if (side == -1) fb *= 0.5;
      side = -1;
    } else {
      b = c, fb = fc;
      if (side == 1) fa *= 0.5;
      side = 1;
    }
  }
  *c_best = s.best_c;
out:
  if (st == NPLM_ECANCELED && s.report_canceled)
    st = nplm__fail(NPLM_ECANCELED, "%s: canceled by the report callback", fn);
  else if (st != NPLM_OK && strncmp(nplm_last_error(), "nplm_", 5) != 0)
    nplm__prefix_error(st, fn);
  if (st != NPLM_OK) {
    nplm__copy_error(t->msg);
  } else {
    memcpy(t->msg, saved_msg, sizeof saved_msg);
    nplm__clear_error();
  }
  nplm__free(s.t_null);
  return st;
}
