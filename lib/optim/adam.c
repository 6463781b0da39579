/* Full-batch Adam, Keras form: lr_t = lr sqrt(1 - b2^k) / (1 - b1^k),
 * x -= lr_t m / (sqrt(v) + eps), then projection onto the clip box. As with a Keras weight
 * constraint, the projection follows each update only: the first gradient is taken at the
 * start as given, even where it lies outside the box (a Glorot draw wider than a small
 * clip), and every point after the first step is inside. */
#include <math.h>
#include <string.h>

#include "optim/optim.h"

void nplm__project(size_t n, double *x, const double *lo, const double *hi) {
  for (size_t i = 0; i < n; i++) {
    if (x[i] < lo[i]) x[i] = lo[i];
    if (x[i] > hi[i]) x[i] = hi[i];
  }
}

double nplm__projected_gradient_norm(size_t n, const double *x, const double *g,
                                     const double *lo, const double *hi) {
  double mx = 0.0;
  for (size_t i = 0; i < n; i++) {
    double y = x[i] - g[i];
    if (y < lo[i]) y = lo[i];
    if (y > hi[i]) y = hi[i];
    double a = fabs(x[i] - y);
    if (a > mx) mx = a;
  }
  return mx;
}

nplm_status_t nplm__adam(size_t n, double *x, const double *lo, const double *hi,
                         nplm__objective_fn obj, nplm__monitor_fn mon, void *ctx,
                         const nplm__adam_opts_t *o, nplm__optim_report_t *rep) {
  double *buf = nplm__calloc(3 * n, sizeof *buf);
  if (!buf) return nplm__fail(NPLM_ENOMEM, "adam: out of memory");
  double *m = buf, *v = buf + n, *g = buf + 2 * n;
  nplm_status_t s = NPLM_OK;
  double f = 0.0, b1k = 1.0, b2k = 1.0;
  memset(rep, 0, sizeof *rep);
  for (int64_t k = 1; k <= o->epochs; k++) {
    s = obj(ctx, x, &f, g);
    rep->evaluations++;
    if (s != NPLM_OK) goto done;
    if (mon && mon(ctx, k - 1, f)) {
      s = NPLM_ECANCELED;
      goto done;
    }
    b1k *= o->beta1;
    b2k *= o->beta2;
    const double lr_t = o->lr * sqrt(1.0 - b2k) / (1.0 - b1k);
    for (size_t i = 0; i < n; i++) {
      m[i] = o->beta1 * m[i] + (1.0 - o->beta1) * g[i];
      v[i] = o->beta2 * v[i] + (1.0 - o->beta2) * (g[i] * g[i]);
      x[i] -= lr_t * m[i] / (sqrt(v[i]) + o->eps);
    }
    nplm__project(n, x, lo, hi);
    rep->iterations = k;
  }
  s = obj(ctx, x, &f, g);
  rep->evaluations++;
  if (s != NPLM_OK) goto done;
  if (mon && mon(ctx, rep->iterations, f)) {
    s = NPLM_ECANCELED;
    goto done;
  }
  rep->f = f;
  rep->pg_norm = nplm__projected_gradient_norm(n, x, g, lo, hi);
  rep->converged = rep->pg_norm <= o->gtol;
done:
  nplm__free(buf);
  return s;
}
