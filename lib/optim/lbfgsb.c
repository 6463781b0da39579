/* Projected quasi-Newton on a box (in the spirit of L-BFGS-B; projected quasi-Newton of Kim,
 * Sra and Dhillon for the active-set handling), with a dense BFGS model (the default) or a
 * limited-memory one.
 *
 * Iteration: variables in the epsilon band of a bound whose gradient points outward are
 * active. With the limited-memory model, the two-loop recursion gives a direction on the
 * free ones and the active ones move along -g. With the dense model, the active variables
 * go onto their bounds and the free ones take the model's best step given that move, free
 * variables whose step leaves the box in the band join them (dense_step), and the model is
 * refreshed with a finite-difference Hessian when it keeps overestimating its steps. The step
 * follows the projection path x(a) = P(x + a d) with Armijo backtracking. Curvature pairs
 * with s.y <= 0 are skipped. Stops when the projected gradient or the relative decrease of f
 * is below tolerance, or when not even a steepest-descent step decreases f (numerical
 * floor). */
#include <math.h>
#include <string.h>

#include "optim/optim.h"

#define ARMIJO_C1 1e-4
#define MAX_BACKTRACKS 40

/* Hessian refresh of the dense model: after REFRESH_AFTER consecutive quasi-Newton steps
 * that the line search had to cut below SHORT_STEP (the model's curvature is far too low
 * along its own directions, typically in a curved valley where BFGS updates cannot keep
 * up), the model is replaced by a finite-difference Hessian, at most once per
 * max(n, REFRESH_AFTER) iterations. Fits that never trip it follow plain BFGS. */
#define SHORT_STEP 0.1
#define REFRESH_AFTER 3
#define REFRESH_STEP 1.4901161193847656e-08 /* sqrt(2^-52) */

static double dot(size_t n, const double *a, const double *b) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* Bertsekas' epsilon-active set: a variable within eps of a bound, with the gradient pushing
 * it out, is held out of the quasi-Newton step (the dense model puts it onto its bound, the
 * limited-memory one moves it along -g), so that variables creeping towards a bound cannot
 * stall the iteration. */
static int is_active(double x, double g, double lo, double hi, double eps) {
  return (x - lo <= eps && g > 0.0) || (hi - x <= eps && g < 0.0);
}

/* Width of the epsilon-active band of a variable on [lo, hi]: the projected-gradient norm,
 * capped at a thousandth of the box (infinite bounds are never near). */
#define EPS_ACTIVE_FRACTION 1e-3
static double active_band(double pg_norm, double lo, double hi) {
  return fmin(pg_norm, EPS_ACTIVE_FRACTION * (hi - lo));
}

typedef struct {
  size_t n;
  int m, count, head; /* ring buffer of the last `count` pairs, newest at head - 1 */
  double *S, *Y, *rho, *alpha;
} memory_t;

static void memory_push(memory_t *mem, const double *s, const double *y, double sy) {
  int slot = mem->head;
  memcpy(mem->S + (size_t)slot * mem->n, s, mem->n * sizeof(double));
  memcpy(mem->Y + (size_t)slot * mem->n, y, mem->n * sizeof(double));
  mem->rho[slot] = 1.0 / sy;
  mem->head = (mem->head + 1) % mem->m;
  if (mem->count < mem->m) mem->count++;
}

/* d = -H q (two-loop recursion), H0 = gamma I with gamma = s.y / y.y of the newest pair. */
static void two_loop(memory_t *mem, const double *q_in, double *d) {
  const size_t n = mem->n;
  for (size_t i = 0; i < n; i++) d[i] = q_in[i];
  int idx = mem->head;
  for (int k = 0; k < mem->count; k++) {
    idx = (idx - 1 + mem->m) % mem->m;
    const double *s = mem->S + (size_t)idx * n, *y = mem->Y + (size_t)idx * n;
    double a = mem->rho[idx] * dot(n, s, d);
    mem->alpha[idx] = a;
    for (size_t i = 0; i < n; i++) d[i] -= a * y[i];
  }
  if (mem->count > 0) {
    int newest = (mem->head - 1 + mem->m) % mem->m;
    const double *y = mem->Y + (size_t)newest * n;
    double gamma = 1.0 / (mem->rho[newest] * dot(n, y, y));
    for (size_t i = 0; i < n; i++) d[i] *= gamma;
  }
  for (int k = 0; k < mem->count; k++) {
    const double *s = mem->S + (size_t)idx * n, *y = mem->Y + (size_t)idx * n;
    double b = mem->rho[idx] * dot(n, y, d);
    for (size_t i = 0; i < n; i++) d[i] += (mem->alpha[idx] - b) * s[i];
    idx = (idx + 1) % mem->m;
  }
  for (size_t i = 0; i < n; i++) d[i] = -d[i];
}

/* Dense quasi-Newton model for small problems: B approximates the Hessian (BFGS update, or a
 * finite-difference refresh), and the step on the free variables solves a system in B_FF by
 * Cholesky. Own fixed-order loops (no LAPACK), so that every machine follows the same
 * iterates. */
typedef struct {
  size_t n;
  int initialised;
  double *B, *L, *Bs, *dp; /* n x n, n x n, n, n */
  size_t *free_idx;
} dense_t;

static void dense_reset(dense_t *D) { D->initialised = 0; }

/* BFGS update B += y y^T / (y.s) - (B s)(B s)^T / (s.B s); before the first update
 * B = (y.y / y.s) I, the usual scaling. */
static void dense_update(dense_t *D, const double *s, const double *y, double sy) {
  const size_t n = D->n;
  if (!D->initialised) {
    double gamma = dot(n, y, y) / sy;
    memset(D->B, 0, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) D->B[i * n + i] = gamma;
    D->initialised = 1;
  }
  for (size_t i = 0; i < n; i++) D->Bs[i] = dot(n, D->B + i * n, s);
  double sBs = dot(n, s, D->Bs);
  if (!(sBs > 0.0)) return;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      D->B[i * n + j] += y[i] * y[j] / sy - D->Bs[i] * D->Bs[j] / sBs;
}

/* In place lower Cholesky factor of the m x m matrix A (row-major, lower triangle read).
 * Returns -1 when A is not numerically positive definite. */
static int cholesky(size_t m, double *A) {
  for (size_t j = 0; j < m; j++) {
    double diag = A[j * m + j];
    for (size_t k = 0; k < j; k++) diag -= A[j * m + k] * A[j * m + k];
    if (!(diag > 1e-300)) return -1;
    diag = sqrt(diag);
    A[j * m + j] = diag;
    for (size_t i = j + 1; i < m; i++) {
      double v = A[i * m + j];
      for (size_t k = 0; k < j; k++) v -= A[i * m + k] * A[j * m + k];
      A[i * m + j] = v / diag;
    }
  }
  return 0;
}

/* Replace the quasi-Newton model by the Hessian at x, by forward differences of the
 * gradient (n passes), symmetrised and shifted by tau I, the smallest tau of the sequence
 * 0, 1e-8 max|H_ii|, 1e-7 max|H_ii|, ... that makes it positive definite. xh and gh are
 * scratch. On a non-OK status the model is forgotten (the caller falls back to steepest
 * descent); the objective's own errors are returned, numerical trouble as ENUMERIC. */
static nplm_status_t dense_refresh(dense_t *D, const double *x, const double *g,
                                   const double *hi, nplm__objective_fn obj, void *ctx,
                                   double *xh, double *gh, int64_t *evaluations) {
  const size_t n = D->n;
  double *H = D->B;
  D->initialised = 0;
  memcpy(xh, x, n * sizeof *xh);
  for (size_t j = 0; j < n; j++) {
    double h = REFRESH_STEP * fmax(fabs(x[j]), 1.0);
    if (x[j] + h > hi[j]) h = -h; /* stay in the box: a backward difference at the top */
    xh[j] = x[j] + h;
    double fh;
    nplm_status_t st = obj(ctx, xh, &fh, gh);
    (*evaluations)++;
    xh[j] = x[j];
    if (st != NPLM_OK) return st;
    for (size_t i = 0; i < n; i++) H[i * n + j] = (gh[i] - g[i]) / h;
  }
  double dmax = 0.0;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < i; j++) {
      double v = 0.5 * (H[i * n + j] + H[j * n + i]);
      H[i * n + j] = v;
      H[j * n + i] = v;
    }
    dmax = fmax(dmax, fabs(H[i * n + i]));
  }
  if (!(dmax > 0.0) || !isfinite(dmax)) return NPLM_ENUMERIC;
  double tau = 0.0;
  for (int k = 0; k < 10; k++) {
    for (size_t i = 0; i < n * n; i++) D->L[i] = H[i];
    for (size_t i = 0; i < n; i++) D->L[i * n + i] += tau;
    if (cholesky(n, D->L) == 0) {
      for (size_t i = 0; i < n; i++) H[i * n + i] += tau;
      D->initialised = 1;
      return NPLM_OK;
    }
    tau = tau > 0.0 ? 10.0 * tau : 1e-8 * dmax;
  }
  return NPLM_ENUMERIC;
}

/* The model's step on the free variables once the active ones have made theirs: d_A is
 * given (the active entries of d on input), d_F = -(B_FF)^-1 (q_F + B_FA d_A). Returns -1 when
 * B_FF is not numerically positive definite. */
static int dense_direction(dense_t *D, const double *q, const int *active, double *d) {
  const size_t n = D->n;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (!active[i]) D->free_idx[m++] = i;
  if (m == 0) return 0;
  double *Lm = D->L;
  for (size_t a = 0; a < m; a++)
    for (size_t b = 0; b <= a; b++) Lm[a * m + b] = D->B[D->free_idx[a] * n + D->free_idx[b]];
  if (cholesky(m, Lm) != 0) return -1;
  double *z = D->Bs; /* scratch */
  for (size_t i = 0; i < m; i++) { /* L z = -(q_F + B_FA d_A) */
    const double *row = D->B + D->free_idx[i] * n;
    double r = q[D->free_idx[i]];
    for (size_t j = 0; j < n; j++)
      if (active[j] && d[j] != 0.0) r += row[j] * d[j];
    double v = -r;
    for (size_t k = 0; k < i; k++) v -= Lm[i * m + k] * z[k];
    z[i] = v / Lm[i * m + i];
  }
  for (size_t ii = m; ii-- > 0;) { /* L^T d_F = z */
    double v = z[ii];
    for (size_t k = ii + 1; k < m; k++) v -= Lm[k * m + ii] * z[k];
    z[ii] = v / Lm[ii * m + ii];
  }
  for (size_t i = 0; i < m; i++) d[D->free_idx[i]] = z[i];
  return 0;
}

/* The dense model's step d (q: the gradient with active entries zeroed; both active and q
 * gain the variables joined below). The first of these that is a descent direction:
 *  1. active variables onto their bounds (at a = 1: no creeping towards a bound at the
 *     model's pace), the free ones the model's best step given that move; then every free
 *     variable in the epsilon band of a bound whose step points out of the box joins the
 *     active ones, onto its bound, and the step is recomputed. Merely projecting such a step
 *     would cut the variable out of the trade-off the model made (two units compensating
 *     each other along a flat valley, one of them at its clip), and the line search would
 *     have to shrink the step by orders of magnitude to make up for it;
 *  2. the same without joining;
 *  3. active variables along -g_i / B_ii, free ones -(B_FF)^-1 g_F, a descent direction
 *     whenever B_FF is positive definite.
 * Returns -1 when B_FF is not numerically positive definite. */
static int dense_step(dense_t *D, const double *x, const double *g, const double *lo,
                      const double *hi, double pg_norm, int *active, double *q, double *d) {
  const size_t n = D->n;
  for (size_t i = 0; i < n; i++) d[i] = active[i] ? (g[i] > 0.0 ? lo[i] : hi[i]) - x[i] : 0.0;
  if (dense_direction(D, q, active, d) != 0) return -1;
  if (dot(n, d, g) < 0.0) {
    memcpy(D->dp, d, n * sizeof *d);
    int any_joined = 0, rc = 0;
    for (size_t pass = 0; rc == 0 && pass < n; pass++) {
      int joined = 0;
      for (size_t i = 0; i < n; i++) {
        if (active[i]) continue;
        double eps = active_band(pg_norm, lo[i], hi[i]);
        if (d[i] > 0.0 && hi[i] - x[i] <= eps)
          d[i] = hi[i] - x[i];
        else if (d[i] < 0.0 && x[i] - lo[i] <= eps)
          d[i] = lo[i] - x[i];
        else
          continue;
        active[i] = 2;
        q[i] = 0.0;
        joined = 1;
      }
      if (!joined) break;
      any_joined = 1;
      rc = dense_direction(D, q, active, d);
    }
    if (any_joined && (rc != 0 || !(dot(n, d, g) < 0.0))) { /* back to step 2 */
      for (size_t i = 0; i < n; i++)
        if (active[i] == 2) {
          active[i] = 0;
          q[i] = g[i];
        }
      memcpy(d, D->dp, n * sizeof *d);
    }
    return 0;
  }
  for (size_t i = 0; i < n; i++) d[i] = 0.0; /* step 3 */
  if (dense_direction(D, q, active, d) != 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (active[i]) d[i] = -g[i] / D->B[i * n + i];
  return 0;
}

nplm_status_t nplm__lbfgsb(size_t n, double *x, const double *lo, const double *hi,
                           nplm__objective_fn obj, nplm__monitor_fn mon, void *ctx,
                           const nplm__lbfgsb_opts_t *o, nplm__optim_report_t *rep) {
  memset(rep, 0, sizeof *rep);
  const int use_dense = o->memory <= 0;
  const int m = use_dense ? 1 : o->memory;
  size_t n_doubles = (2 * (size_t)m + 6) * n + 2 * (size_t)m;
  if (use_dense) n_doubles += 2 * n * n + 2 * n;
  double *buf = nplm__calloc(n_doubles, sizeof(double));
  size_t *idx = nplm__calloc(n, sizeof(size_t));
  int *active = nplm__calloc(n, sizeof(int));
  if (!buf || !idx || !active) {
    nplm__free(buf);
    nplm__free(idx);
    nplm__free(active);
    return nplm__fail(NPLM_ENOMEM, "lbfgsb: out of memory");
  }
  memory_t mem = {n, m, 0, 0, buf, buf + (size_t)m * n, buf + 2 * (size_t)m * n,
                  buf + 2 * (size_t)m * n + (size_t)m};
  double *g = mem.alpha + m, *q = g + n, *d = q + n, *xn = d + n, *gn = xn + n, *s = gn + n;
  double *y = q; /* q is free again once the step is taken */
  dense_t dense = {n, 0, s + n, s + n + n * n, s + n + 2 * n * n, s + 2 * n + 2 * n * n, idx};

  nplm_status_t st;
  double f;
  nplm__project(n, x, lo, hi);
  st = obj(ctx, x, &f, g);
  rep->evaluations++;
  if (st != NPLM_OK) goto out;
  if (mon && mon(ctx, 0, f)) {
    st = NPLM_ECANCELED;
    goto out;
  }
  int steepest_only = 0, short_steps = 0;
  int64_t last_refresh = -(int64_t)n - REFRESH_AFTER;
  const int64_t refresh_gap = n > REFRESH_AFTER ? (int64_t)n : REFRESH_AFTER;
  for (;;) {
    rep->pg_norm = nplm__projected_gradient_norm(n, x, g, lo, hi);
    if (rep->pg_norm <= o->gtol) {
      rep->converged = 1;
      break;
    }
    if (rep->iterations >= o->max_iter) break;

    for (size_t i = 0; i < n; i++) {
      double eps = active_band(rep->pg_norm, lo[i], hi[i]);
      active[i] = is_active(x[i], g[i], lo[i], hi[i], eps);
      q[i] = active[i] ? 0.0 : g[i];
    }
    if (use_dense && short_steps >= REFRESH_AFTER &&
        rep->iterations - last_refresh >= refresh_gap) {
      st = dense_refresh(&dense, x, g, hi, obj, ctx, xn, gn, &rep->evaluations);
      if (st != NPLM_OK && st != NPLM_ENUMERIC) goto out;
      st = NPLM_OK;
      last_refresh = rep->iterations;
      short_steps = 0;
    }
    int have_model = use_dense ? dense.initialised : mem.count > 0;
    if (!steepest_only && have_model) {
      if (use_dense) {
        if (dense_step(&dense, x, g, lo, hi, rep->pg_norm, active, q, d) != 0) have_model = 0;
      } else { /* active variables along -g scaled by the limited-memory H0 = gamma I */
        two_loop(&mem, q, d);
        int newest = (mem.head - 1 + mem.m) % mem.m;
        const double *yv = mem.Y + (size_t)newest * n;
        double scale = 1.0 / (mem.rho[newest] * dot(n, yv, yv));
        for (size_t i = 0; i < n; i++)
          if (active[i]) d[i] = -g[i] * scale;
      }
      if (have_model && !(dot(n, d, g) < 0.0)) have_model = 0;
      if (!have_model) { /* not a descent direction: forget the curvature */
        mem.count = 0;
        mem.head = 0;
        dense_reset(&dense);
      }
    }
    if (steepest_only || !have_model) { /* projected steepest descent, largest move <= 1 */
      double gmax = 0.0;
      for (size_t i = 0; i < n; i++)
        if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
      double scale = gmax > 1.0 ? 1.0 / gmax : 1.0;
      for (size_t i = 0; i < n; i++) d[i] = -scale * g[i];
    }

    /* Armijo backtracking along the projection path x(a) = P(x + a d). When the projection
       spoils the descent (a free variable clipped at its bound was part of the quasi-Newton
       trade-off), fall back to steps a <= a_max that keep every free variable inside its
       box, on which the decrease is negative by construction; the variable that reaches its
       bound becomes active at the next iteration. */
    double a = 1.0, fn = f;
    int accepted = 0, truncated = 0, finite_trials = 0;
    for (int bt = 0; bt < MAX_BACKTRACKS; bt++) {
      for (size_t i = 0; i < n; i++) xn[i] = x[i] + a * d[i];
      nplm__project(n, xn, lo, hi);
      double decrease = 0.0;
      for (size_t i = 0; i < n; i++) decrease += g[i] * (xn[i] - x[i]);
      if (!(decrease < 0.0)) {
        if (truncated) break; /* the step went nowhere */
        double amax = a;
        for (size_t i = 0; i < n; i++) { /* free variables bound the segment */
          if (active[i]) continue;
          if (d[i] < 0.0 && x[i] + amax * d[i] < lo[i]) amax = (lo[i] - x[i]) / d[i];
          if (d[i] > 0.0 && x[i] + amax * d[i] > hi[i]) amax = (hi[i] - x[i]) / d[i];
        }
        truncated = 1;
        if (!(amax > 0.0)) break;
        a = amax;
        bt--;
        continue;
      }
      st = obj(ctx, xn, &fn, gn);
      rep->evaluations++;
      if (st != NPLM_OK && st != NPLM_ENUMERIC) goto out;
      finite_trials += st == NPLM_OK;
      if (st == NPLM_OK && fn <= f + ARMIJO_C1 * decrease) {
        accepted = 1;
        break;
      }
      /* quadratic interpolation of the step, kept in [0.1 a, 0.5 a]; a non-finite trial
         point (exp overflow far out) just halves the step */
      double next = 0.5 * a;
      if (st == NPLM_OK) {
        double denom = 2.0 * (fn - f - decrease);
        if (denom > 0.0) next = -decrease * a / denom;
        if (next < 0.1 * a) next = 0.1 * a;
        if (next > 0.5 * a) next = 0.5 * a;
      }
      st = NPLM_OK;
      a = next;
    }
    if (!accepted) {
      if (steepest_only && finite_trials == 0) {
        /* every step along -g, down to 2^-MAX_BACKTRACKS of it, leaves the finite range:
           not a minimum but a loss that falls without bound (or overflows) that way */
        rep->f = f;
        rep->pg_norm = nplm__projected_gradient_norm(n, x, g, lo, hi);
        st = nplm__fail(NPLM_ENUMERIC, "the loss is not finite at any step along the "
                                       "gradient (projected gradient norm %.3g): it may be "
                                       "unbounded below, e.g. without a weight clip",
                        rep->pg_norm);
        goto out;
      }
      if (steepest_only) {
        rep->converged = 1; /* no decrease possible even along -g: numerical floor */
        break;
      }
      steepest_only = 1; /* retry this iteration along the projected steepest descent */
      mem.count = 0;
      mem.head = 0;
      dense_reset(&dense);
      continue;
    }
    if (!steepest_only && have_model && !truncated && a < SHORT_STEP)
      short_steps++;
    else
      short_steps = 0;
    steepest_only = 0;
    for (size_t i = 0; i < n; i++) {
      s[i] = xn[i] - x[i];
      y[i] = gn[i] - g[i];
    }
    double sy = dot(n, s, y), yy = dot(n, y, y);
    if (sy > 1e-12 * yy && sy > 0.0) {
      if (use_dense)
        dense_update(&dense, s, y, sy);
      else
        memory_push(&mem, s, y, sy);
    }
    double rel = (f - fn) / fmax(fmax(fabs(f), fabs(fn)), 1.0);
    memcpy(x, xn, n * sizeof *x);
    memcpy(g, gn, n * sizeof *g);
    f = fn;
    rep->iterations++;
    if (mon && mon(ctx, rep->iterations, f)) {
      st = NPLM_ECANCELED;
      goto out;
    }
    if (rel <= o->ftol) {
      rep->pg_norm = nplm__projected_gradient_norm(n, x, g, lo, hi);
      rep->converged = 1;
      break;
    }
  }
  rep->f = f;
  st = rep->converged ? NPLM_OK : NPLM_ENOCONV;
out:
  nplm__free(buf);
  nplm__free(idx);
  nplm__free(active);
  return st;
}
