/* Optimisers over a smooth objective on a box lo <= x <= hi. */
#ifndef NPLM_OPTIM_OPTIM_H
#define NPLM_OPTIM_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Objective value at x and, when g is not NULL, its gradient. A non-OK status stops the
 * optimiser and is returned by it. */
typedef nplm_status_t (*nplm__objective_fn)(void *ctx, const double *x, double *f, double *g);
/* Called with the step count and the objective at the current point; non-zero cancels. */
typedef int (*nplm__monitor_fn)(void *ctx, int64_t step, double f);

typedef struct nplm__optim_report {
  int64_t iterations;  /* Adam steps or quasi-Newton iterations */
  int64_t evaluations; /* objective passes */
  int converged;
  double f;            /* objective at the final x */
  double pg_norm;      /* largest projected-gradient component at the final x */
} nplm__optim_report_t;

typedef struct nplm__adam_opts {
  int64_t epochs;
  double lr, beta1, beta2, eps;
  double gtol; /* for the report's converged flag only */
} nplm__adam_opts_t;

typedef struct nplm__lbfgsb_opts {
  int64_t max_iter;
  double ftol; /* relative decrease per iteration */
  double gtol; /* projected-gradient infinity norm */
  int memory;
} nplm__lbfgsb_opts_t;

/* Project x onto [lo, hi]. */
void nplm__project(size_t n, double *x, const double *lo, const double *hi);
/* Largest |x - P(x - g)| component. */
double nplm__projected_gradient_norm(size_t n, const double *x, const double *g,
                                     const double *lo, const double *hi);

/* Full-batch Adam in the Keras form, each step followed by projection onto the box (the start
 * itself is not projected: with epochs >= 1 the result is inside the box). The
 * monitor sees (k, f(x_k)) for k = 0 .. epochs, x_k being the point after k steps. */
nplm_status_t nplm__adam(size_t n, double *x, const double *lo, const double *hi,
                         nplm__objective_fn obj, nplm__monitor_fn mon, void *ctx,
                         const nplm__adam_opts_t *o, nplm__optim_report_t *rep);

/* Projected quasi-Newton (L-BFGS-B style; memory <= 0: dense BFGS model with Hessian
 * refreshes, else that many limited-memory pairs): quasi-Newton steps on the free variables,
 * Armijo backtracking along the projection path. Returns NPLM_ENOCONV (x and the report
 * written) when max_iter is reached first. The monitor sees (k, f(x_k)) per iteration. */
nplm_status_t nplm__lbfgsb(size_t n, double *x, const double *lo, const double *hi,
                           nplm__objective_fn obj, nplm__monitor_fn mon, void *ctx,
                           const nplm__lbfgsb_opts_t *o, nplm__optim_report_t *rep);

#endif
