/* Optimisers: Adam's first steps by hand, projection, and the box-constrained quasi-Newton
 * method on problems with known constrained minima. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "optim/optim.h"
#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(adam);
NPLM_LEAK_CHECKED_SUITE(lbfgsb);
NPLM_LEAK_CHECKED_SUITE(optim);


typedef struct quad {
  size_t n;
  const double *w, *c; /* f = sum w_i (x_i - c_i)^2 / 2 */
  int calls;
} quad_t;

static nplm_status_t quad_obj(void *ctx, const double *x, double *f, double *g) {
  quad_t *q = ctx;
  q->calls++;
  double s = 0;
  for (size_t i = 0; i < q->n; i++) {
    double r = x[i] - q->c[i];
    s += 0.5 * q->w[i] * r * r;
    if (g) g[i] = q->w[i] * r;
  }
  *f = s;
  return NPLM_OK;
}

static nplm_status_t rosen_obj(void *ctx, const double *x, double *f, double *g) {
  (void)ctx;
  double a = 1 - x[0], b = x[1] - x[0] * x[0];
  *f = a * a + 100 * b * b;
  if (g) {
    g[0] = -2 * a - 400 * x[0] * b;
    g[1] = 200 * b;
  }
  return NPLM_OK;
}

/* Keras Adam, step 1 from m = v = 0: m = (1-b1) g, v = (1-b2) g^2,
 * lr_1 = lr sqrt(1-b2) / (1-b1), x1 = x0 - lr_1 m / (sqrt(v) + eps). For g = w (x0 - c). */
Test(adam, first_two_steps_by_hand) {
  const double w[2] = {2.0, 0.5}, c[2] = {1.0, -3.0};
  quad_t q = {2, w, c, 0};
  double x[2] = {0.25, 4.0};
  const double lo[2] = {-INFINITY, -INFINITY}, hi[2] = {INFINITY, INFINITY};
  nplm__adam_opts_t o = {2, 0.01, 0.9, 0.999, 1e-7, 0.0};
  nplm__optim_report_t rep;
  double x0[2] = {x[0], x[1]}, m[2], v[2], x1[2], x2[2];
  for (int i = 0; i < 2; i++) { /* step 1 */
    double g = w[i] * (x0[i] - c[i]);
    m[i] = 0.1 * g;
    v[i] = 0.001 * g * g;
    double lr1 = 0.01 * sqrt(1 - 0.999) / (1 - 0.9);
    x1[i] = x0[i] - lr1 * m[i] / (sqrt(v[i]) + 1e-7);
  }
  for (int i = 0; i < 2; i++) { /* step 2 */
    double g = w[i] * (x1[i] - c[i]);
    m[i] = 0.9 * m[i] + 0.1 * g;
    v[i] = 0.999 * v[i] + 0.001 * g * g;
    double lr2 = 0.01 * sqrt(1 - 0.999 * 0.999) / (1 - 0.9 * 0.9);
    x2[i] = x1[i] - lr2 * m[i] / (sqrt(v[i]) + 1e-7);
  }
  /* the first Adam step moves every coordinate by ~lr against its gradient's sign */
  cr_assert(fabs(fabs(x1[0] - x0[0]) - 0.01) < 1e-6);
  cr_assert_eq(nplm__adam(2, x, lo, hi, quad_obj, NULL, &q, &o, &rep), NPLM_OK);
  for (int i = 0; i < 2; i++) cr_assert(fabs(x[i] - x2[i]) <= 1e-15 * fabs(x2[i]) + 1e-300);
  cr_assert_eq(rep.iterations, 2);
  cr_assert_eq(rep.evaluations, 3); /* two steps and the final value */
  double fw;
  quad_obj(&q, x, &fw, NULL);
  cr_assert_eq(rep.f, fw);
}

Test(adam, projection_after_every_step) {
  const double w[2] = {1.0, 1.0}, c[2] = {5.0, -5.0};
  quad_t q = {2, w, c, 0};
  double x[2] = {0.0, 0.0};
  const double lo[2] = {-0.5, -0.5}, hi[2] = {0.5, 0.5};
  nplm__adam_opts_t o = {2000, 0.01, 0.9, 0.999, 1e-7, 1e-9};
  nplm__optim_report_t rep;
  cr_assert_eq(nplm__adam(2, x, lo, hi, quad_obj, NULL, &q, &o, &rep), NPLM_OK);
  cr_assert_eq(x[0], 0.5);
  cr_assert_eq(x[1], -0.5);
  cr_assert_eq(rep.pg_norm, 0.0);
  cr_assert_eq(rep.converged, 1);
}

/* The clip follows each update, as a Keras weight constraint: the first gradient is taken at
 * a start outside the box (a Glorot draw wider than a small clip) as it is, not at its
 * projection, and the step lands inside. */
typedef struct seen_start {
  quad_t q; /* first: quad_obj reads the context as a quad_t */
  double f0;
} seen_start_t;

static int record_start(void *ctx, int64_t step, double f) {
  if (step == 0) ((seen_start_t *)ctx)->f0 = f;
  return 0;
}

Test(adam, first_gradient_at_the_unprojected_start) {
  const double w[2] = {1.0, 1.0}, c[2] = {0.0, 0.25};
  seen_start_t ss = {{2, w, c, 0}, 0.0};
  double x[2] = {2.0, 0.0};
  const double lo[2] = {-0.5, -0.5}, hi[2] = {0.5, 0.5};
  nplm__adam_opts_t o = {1, 0.01, 0.9, 0.999, 1e-7, 0.0};
  nplm__optim_report_t rep;
  cr_assert_eq(nplm__adam(2, x, lo, hi, quad_obj, record_start, &ss, &o, &rep), NPLM_OK);
  cr_assert_eq(ss.f0, 0.5 * 2.0 * 2.0 + 0.5 * 0.25 * 0.25, "f at the start as given: %.17g",
               ss.f0);
  cr_assert_eq(x[0], 0.5); /* 2 - 0.01, projected */
  /* x[1] = 0 is inside: one step of ~lr towards c, from the gradient at the true start */
  const double m = 0.1 * -0.25, v = 0.001 * 0.0625, lr1 = 0.01 * sqrt(1 - 0.999) / (1 - 0.9);
  const double want = 0.0 - lr1 * m / (sqrt(v) + 1e-7);
  cr_assert(fabs(x[1] - want) <= 1e-15, "x[1] = %.17g, want %.17g", x[1], want);
}

static int cancel_at_3(void *ctx, int64_t step, double f) {
  (void)ctx;
  (void)f;
  return step >= 3;
}

Test(adam, monitor_cancels) {
  const double w[1] = {1.0}, c[1] = {1.0};
  quad_t q = {1, w, c, 0};
  double x[1] = {0};
  const double lo[1] = {-INFINITY}, hi[1] = {INFINITY};
  nplm__adam_opts_t o = {100, 0.01, 0.9, 0.999, 1e-7, 0};
  nplm__optim_report_t rep;
  cr_assert_eq(nplm__adam(1, x, lo, hi, quad_obj, cancel_at_3, &q, &o, &rep), NPLM_ECANCELED);
}

static void check_box_quadratic(int memory) {
  const size_t n = 6;
  const double w[6] = {1, 10, 100, 0.1, 3, 1000}, c[6] = {0.3, -2, 5, 0.7, -0.2, 1.5};
  const double lo[6] = {-1, -1, -1, -1, -1, -INFINITY}, hi[6] = {1, 1, 1, 1, 1, INFINITY};
  const double want[6] = {0.3, -1, 1, 0.7, -0.2, 1.5};
  quad_t q = {n, w, c, 0};
  double x[6] = {0};
  nplm__lbfgsb_opts_t o = {1000, 0.0, 1e-12, memory};
  nplm__optim_report_t rep;
  cr_assert_eq(nplm__lbfgsb(n, x, lo, hi, quad_obj, NULL, &q, &o, &rep), NPLM_OK);
  cr_assert_eq(rep.converged, 1);
  /* f is ~805 at the constrained minimum: x is resolved to ~sqrt(eps 805 / w) */
  for (size_t i = 0; i < n; i++) cr_assert(fabs(x[i] - want[i]) < 1e-6, "x[%zu] = %.17g", i, x[i]);
  cr_assert(rep.pg_norm <= 1e-6);
  cr_assert_eq(rep.evaluations, q.calls);
}

Test(lbfgsb, box_quadratic_dense) { check_box_quadratic(0); }
Test(lbfgsb, box_quadratic_limited_memory) { check_box_quadratic(5); }

static void check_rosenbrock(int memory, double xmax, double wx, double wy) {
  double x[2] = {-1.2, 1.0};
  const double lo[2] = {-INFINITY, -INFINITY}, hi[2] = {xmax, INFINITY};
  nplm__lbfgsb_opts_t o = {5000, 0.0, 1e-10, memory};
  nplm__optim_report_t rep;
  cr_assert_eq(nplm__lbfgsb(2, x, lo, hi, rosen_obj, NULL, NULL, &o, &rep), NPLM_OK);
  cr_assert(fabs(x[0] - wx) < 1e-7 && fabs(x[1] - wy) < 1e-7, "(%.12g, %.12g)", x[0], x[1]);
  cr_assert(rep.iterations < 500, "%lld iterations", (long long)rep.iterations);
}

/* unconstrained minimum (1, 1); with x <= 0.5 the minimum is (0.5, 0.25) */
Test(lbfgsb, rosenbrock_dense) { check_rosenbrock(0, INFINITY, 1, 1); }
Test(lbfgsb, rosenbrock_limited_memory) { check_rosenbrock(7, INFINITY, 1, 1); }
Test(lbfgsb, rosenbrock_with_active_bound) { check_rosenbrock(0, 0.5, 0.5, 0.25); }
Test(lbfgsb, rosenbrock_with_active_bound_lm) { check_rosenbrock(4, 0.5, 0.5, 0.25); }

/* Pairs of variables that compensate each other, as two hidden units of a network do along
 * a flat valley: f = sum_p K/2 (u + v - a_p)^2 + e/2 (u - v - c_p)^2 + exp(s (u + v)), on the
 * box [-b, b]. Stiff along u + v (K), flat along u - v (e); with s = 0 a quadratic. */
typedef struct pairs {
  int P;
  double K, e, s;
  const double *a, *c;
  int calls;
} pairs_t;

static nplm_status_t pairs_obj(void *ctx, const double *x, double *f, double *g) {
  pairs_t *p = ctx;
  p->calls++;
  double sum = 0;
  for (int k = 0; k < p->P; k++) {
    double u = x[2 * k], v = x[2 * k + 1], r1 = u + v - p->a[k], r2 = u - v - p->c[k];
    double w = p->s != 0.0 ? exp(p->s * (u + v)) : 0.0;
    sum += 0.5 * p->K * r1 * r1 + 0.5 * p->e * r2 * r2 + w;
    if (g) {
      g[2 * k] = p->K * r1 + p->e * r2 + p->s * w;
      g[2 * k + 1] = p->K * r1 - p->e * r2 + p->s * w;
    }
  }
  *f = sum;
  return NPLM_OK;
}

/* Exact minimum of one quadratic pair on the box: every combination of (u, v) free, at -b or
 * at +b; the free ones solve the stationarity equations; the feasible candidate with the
 * lowest f is the minimum (the problem is strictly convex). */
static void pair_oracle(double K, double e, double a, double c, double b, double *uv) {
  double best = INFINITY;
  const double fix[3] = {NAN, -b, b};
  for (int iu = 0; iu < 3; iu++)
    for (int iv = 0; iv < 3; iv++) {
      double u = fix[iu], v = fix[iv];
      if (iu == 0 && iv == 0) { /* u + v = a, u - v = c */
        u = 0.5 * (a + c);
        v = 0.5 * (a - c);
      } else if (iu == 0) { /* d/du = K (u + v - a) + e (u - v - c) = 0 */
        u = (K * (a - v) + e * (c + v)) / (K + e);
      } else if (iv == 0) { /* d/dv = K (u + v - a) - e (u - v - c) = 0 */
        v = (K * (a - u) + e * (u - c)) / (K + e);
      }
      if (!(fabs(u) <= b && fabs(v) <= b)) continue;
      double r1 = u + v - a, r2 = u - v - c, f = 0.5 * K * r1 * r1 + 0.5 * e * r2 * r2;
      if (f < best) {
        best = f;
        uv[0] = u;
        uv[1] = v;
      }
    }
}

static void fill_pairs(int P, double b, double *a, double *c, double *lo, double *hi,
                       double *x) {
  for (int k = 0; k < P; k++) { /* fixed, irregular targets, some outside the box */
    a[k] = sin(1.7 * k + 0.3);
    c[k] = 2.0 * cos(2.3 * k + 1.1);
  }
  for (int i = 0; i < 2 * P; i++) {
    lo[i] = -b;
    hi[i] = b;
    x[i] = 0.1 * (i % 3);
  }
}

/* The dense model reaches the exact constrained minimum of a stiff, coupled quadratic with
 * several pairs at their bounds, and quickly: the model's step accounts for the variables
 * that go onto their bounds, and the stiffness is taken from a Hessian refresh. (The
 * previous version, a projected step with the active variables creeping along -g_i / B_ii,
 * needed 471 passes here, this one 185.) */
Test(lbfgsb, coupled_pairs_reach_the_exact_box_minimum) {
  enum { P = 8 };
  const double K = 1e6, e = 1e-2, b = 0.6;
  double a[P], c[P], lo[2 * P], hi[2 * P], x[2 * P];
  fill_pairs(P, b, a, c, lo, hi, x);
  pairs_t p = {P, K, e, 0.0, a, c, 0};
  nplm__lbfgsb_opts_t o = {100000, 0.0, 1e-9, 0};
  nplm__optim_report_t rep;
  cr_assert_eq(nplm__lbfgsb(2 * P, x, lo, hi, pairs_obj, NULL, &p, &o, &rep), NPLM_OK);
  int at_bound = 0;
  for (int k = 0; k < P; k++) {
    double want[2];
    pair_oracle(K, e, a[k], c[k], b, want);
    for (int j = 0; j < 2; j++) {
      /* the flat direction u - v is resolved to ~sqrt(eps f / e) ~ 4e-7 */
      cr_assert(fabs(x[2 * k + j] - want[j]) < 2e-6, "pair %d, %d: %.12g, want %.12g", k, j,
                x[2 * k + j], want[j]);
      at_bound += fabs(want[j]) == b;
    }
  }
  cr_assert(at_bound >= 4, "the problem exercises the bounds (%d at a bound)", at_bound);
  cr_assert(rep.pg_norm <= 1e-9);
  cr_assert(rep.evaluations <= 300, "%lld passes", (long long)rep.evaluations);
}

/* The same pairs with an exponential wall along u + v (convex, so the KKT conditions at the
 * returned point, checked here on a gradient of our own, prove the minimum). Dense model:
 * 370 passes (the previous version 1050); the limited-memory one needs about 9000. */
static void check_pairs_with_wall(int memory, int64_t max_passes) {
  enum { P = 16 };
  const double b = 0.5;
  double a[P], c[P], lo[2 * P], hi[2 * P], x[2 * P], g[2 * P], f;
  fill_pairs(P, b, a, c, lo, hi, x);
  pairs_t p = {P, 1e5, 0.1, 4.0, a, c, 0};
  nplm__lbfgsb_opts_t o = {100000, 0.0, 1e-8, memory};
  nplm__optim_report_t rep;
  cr_assert_eq(nplm__lbfgsb(2 * P, x, lo, hi, pairs_obj, NULL, &p, &o, &rep), NPLM_OK);
  pairs_obj(&p, x, &f, g);
  for (int i = 0; i < 2 * P; i++) {
    cr_assert(x[i] >= lo[i] && x[i] <= hi[i]);
    if (x[i] == lo[i])
      cr_assert(g[i] >= -1e-8, "x[%d] at its lower bound, g = %g", i, g[i]);
    else if (x[i] == hi[i])
      cr_assert(g[i] <= 1e-8, "x[%d] at its upper bound, g = %g", i, g[i]);
    else
      cr_assert(fabs(g[i]) <= 1e-8, "x[%d] = %.12g inside, g = %g", i, x[i], g[i]);
  }
  cr_assert_eq(rep.f, f);
  if (max_passes > 0)
    cr_assert(rep.evaluations <= max_passes, "%lld passes", (long long)rep.evaluations);
}

Test(lbfgsb, pairs_with_exponential_wall_dense) { check_pairs_with_wall(0, 600); }
Test(lbfgsb, pairs_with_exponential_wall_limited_memory) { check_pairs_with_wall(10, 0); }

Test(lbfgsb, iteration_limit_reports_enoconv) {
  double x[2] = {-1.2, 1.0};
  const double lo[2] = {-INFINITY, -INFINITY}, hi[2] = {INFINITY, INFINITY};
  nplm__lbfgsb_opts_t o = {3, 0.0, 1e-12, 0};
  nplm__optim_report_t rep;
  cr_assert_eq(nplm__lbfgsb(2, x, lo, hi, rosen_obj, NULL, NULL, &o, &rep), NPLM_ENOCONV);
  cr_assert_eq(rep.iterations, 3);
  cr_assert_eq(rep.converged, 0);
  double f;
  rosen_obj(NULL, x, &f, NULL);
  cr_assert_eq(rep.f, f);
  cr_assert(f < 24.2, "the iterate improved on the start (f = 24.2)");
}

/* A cliff: f = -x1 - x2 is finite only at and behind the start (x1 + x2 <= 0), so every step
 * downhill leaves the finite range. That is no minimum: NPLM_ENUMERIC, where it was once
 * reported as converged at the "numerical floor" with the projected gradient far above the
 * tolerance. */
static nplm_status_t cliff_obj(void *ctx, const double *x, double *f, double *g) {
  const double edge = *(const double *)ctx;
  if (x[0] + x[1] > edge) return NPLM_ENUMERIC;
  *f = -x[0] - x[1] + 0.5 * (x[0] - x[1]) * (x[0] - x[1]);
  if (g) {
    g[0] = -1.0 + (x[0] - x[1]);
    g[1] = -1.0 - (x[0] - x[1]);
  }
  return NPLM_OK;
}

Test(lbfgsb, loss_non_finite_along_every_step_is_enumeric) {
  const double lo[2] = {-INFINITY, -INFINITY}, hi[2] = {INFINITY, INFINITY};
  for (int memory = 0; memory <= 5; memory += 5) {
    double x[2] = {0.0, 0.0}, edge = 0.0;
    nplm__lbfgsb_opts_t o = {100, 0.0, 1e-12, memory};
    nplm__optim_report_t rep;
    cr_assert_eq(nplm__lbfgsb(2, x, lo, hi, cliff_obj, NULL, &edge, &o, &rep), NPLM_ENUMERIC,
                 "memory %d: converged %d, pg %g", memory, rep.converged, rep.pg_norm);
    cr_assert_eq(rep.converged, 0);
    cr_assert(rep.pg_norm > 0.5, "pg %g", rep.pg_norm); /* ||g||_inf = 1 at the start */
  }
}

Test(optim, projection_helpers) {
  double x[3] = {-3, 0.5, 7};
  const double lo[3] = {-1, -1, -1}, hi[3] = {1, 1, 1};
  nplm__project(3, x, lo, hi);
  cr_assert(x[0] == -1 && x[1] == 0.5 && x[2] == 1);
  const double g[3] = {2, -0.25, -3};
  /* x0 at lower bound, gradient pushes outward: 0; x1 free: |g| = 0.25; x2 at upper bound
   * with negative gradient (outward): 0 */
  cr_assert_eq(nplm__projected_gradient_norm(3, x, g, lo, hi), 0.25);
}
