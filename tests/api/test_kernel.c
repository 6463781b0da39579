/* The kernel (Nystrom) model: the one-step solution against a dense solve written here, the
 * direct and conjugate-gradient solvers against each other, t against a hand computation from
 * the fitted alpha, Newton steps reaching the minimum, reproducibility, files, heuristics and
 * bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nplm/nplm.h"
#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(kernel);

static double unif(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return ((double)(*s >> 11) + 0.5) * 0x1.0p-53;
}
static double expo(uint64_t *s) { return -log(unif(s)); }

/* A small 2D problem: weighted reference, data slightly shifted. */
enum { NR = 400, ND = 60, D2 = 2 };
static double g_ref[NR * D2], g_w[NR], g_data[ND * D2];

static void make_2d(void) {
  uint64_t s = 99;
  for (int i = 0; i < NR; i++) {
    g_ref[i * D2] = expo(&s);
    g_ref[i * D2 + 1] = 2.0 * unif(&s) - 1.0;
    g_w[i] = 0.5 + unif(&s);
  }
  for (int i = 0; i < ND; i++) {
    g_data[i * D2] = expo(&s) * 1.2;
    g_data[i * D2 + 1] = 2.0 * unif(&s) - 0.8;
  }
}

static nplm_test_t *kernel_test(nplm_model_t **m, size_t M, double sigma, double lambda,
                                int solver) {
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_model_create_kernel(m, D2, M, sigma, lambda), NPLM_OK, "%s",
               nplm_last_error());
  cr_assert_eq(nplm_test_create(&t, *m, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_set_reference(t, g_ref, NR, D2, g_w, 50.0), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_SOLVER, solver), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, 2), NPLM_OK);
  return t;
}

static double kern(const double *a, const double *b, double sigma) {
  double s = 0.0;
  for (int j = 0; j < D2; j++) s += (a[j] - b[j]) * (a[j] - b[j]);
  return exp(-s / (2.0 * sigma * sigma));
}

/* Gaussian elimination with partial pivoting: solves A x = b (n x n row-major, destroyed). */
static void gauss_solve(double *A, double *b, int n) {
  for (int c = 0; c < n; c++) {
    int p = c;
    for (int r = c + 1; r < n; r++)
      if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
    for (int j = 0; j < n; j++) {
      double tmp = A[c * n + j];
      A[c * n + j] = A[p * n + j];
      A[p * n + j] = tmp;
    }
    double tb = b[c];
    b[c] = b[p];
    b[p] = tb;
    for (int r = c + 1; r < n; r++) {
      double f = A[r * n + c] / A[c * n + c];
      for (int j = c; j < n; j++) A[r * n + j] -= f * A[c * n + j];
      b[r] -= f * b[c];
    }
  }
  for (int r = n - 1; r >= 0; r--) {
    double s = b[r];
    for (int j = r + 1; j < n; j++) s -= A[r * n + j] * b[j];
    b[r] = s / A[r * n + r];
  }
}

/* Everything about a fitted 2D model, recomputed here: W, y of every event, f = K_NM alpha. */
typedef struct recomputed {
  int M;
  double centres[64 * D2], alpha[64], jitter, t;
  double W[NR + ND], y[NR + ND], f[NR + ND];
} recomputed_t;

static void recompute(nplm_test_t *t, double sigma, recomputed_t *r) {
  const nplm_model_t *fm = NULL;
  cr_assert_eq(nplm_test_fitted_model(t, &fm), NPLM_OK);
  cr_assert_eq(nplm_model_kind(fm), NPLM_MODEL_KERNEL);
  r->M = (int)nplm_model_num_params(fm);
  cr_assert(r->M > 0 && r->M <= 64);
  cr_assert_eq(nplm_model_kernel_centers(fm, r->centres, (size_t)r->M, D2), NPLM_OK);
  cr_assert_eq(nplm_model_get_params(fm, r->alpha, (size_t)r->M), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_JITTER, &r->jitter), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_T, &r->t), NPLM_OK);
  double sw = 0.0;
  for (int i = 0; i < NR; i++) sw += g_w[i];
  for (int e = 0; e < NR + ND; e++) {
    const double *x = e < NR ? g_ref + e * D2 : g_data + (e - NR) * D2;
    r->W[e] = e < NR ? g_w[e] * 50.0 / sw : 1.0;
    r->y[e] = e < NR ? -1.0 : 1.0;
    double f = 0.0;
    for (int i = 0; i < r->M; i++) f += r->alpha[i] * kern(x, r->centres + i * D2, sigma);
    r->f[e] = f;
  }
}

Test(kernel, one_step_matches_a_dense_solve_and_t_the_hand_formula) {
  make_2d();
  nplm_model_t *m = NULL;
  const double sigma = 0.8, lambda = 1e-3;
  nplm_test_t *t = kernel_test(&m, 30, sigma, lambda, NPLM_SOLVER_DIRECT);
  double tv;
  cr_assert_eq(nplm_test_run(t, g_data, ND, D2, NULL, &tv), NPLM_OK, "%s",
               nplm_test_last_error(t));
  static recomputed_t r;
  recompute(t, sigma, &r);
  const int M = r.M, n = NR + ND;
  cr_assert_eq(M, 30);
  /* the centres are events of the run, all distinct */
  for (int i = 0; i < M; i++) {
    int found = 0;
    for (int e = 0; e < NR && !found; e++)
      found = memcmp(r.centres + i * D2, g_ref + e * D2, sizeof(double) * D2) == 0;
    for (int e = 0; e < ND && !found; e++)
      found = memcmp(r.centres + i * D2, g_data + e * D2, sizeof(double) * D2) == 0;
    cr_assert(found, "centre %d is not an event", i);
    for (int j = 0; j < i; j++)
      cr_assert(memcmp(r.centres + i * D2, r.centres + j * D2, sizeof(double) * D2) != 0);
  }
  /* [(1/n) K_MN C K_NM + lambda (K_MM + eps I)] alpha = (1/n) K_MN C z, C = W/4, z = 2y */
  static double G[30 * 30], rhs[30];
  for (int a = 0; a < M; a++) {
    rhs[a] = 0.0;
    for (int b = 0; b < M; b++)
      G[a * M + b] = lambda * (kern(r.centres + a * D2, r.centres + b * D2, sigma) +
                               (a == b ? r.jitter : 0.0));
  }
  for (int e = 0; e < n; e++) {
    const double *x = e < NR ? g_ref + e * D2 : g_data + (e - NR) * D2;
    double k[30];
    for (int a = 0; a < M; a++) k[a] = kern(x, r.centres + a * D2, sigma);
    for (int a = 0; a < M; a++) {
      rhs[a] += k[a] * r.W[e] / 4.0 * 2.0 * r.y[e] / n;
      for (int b = 0; b < M; b++) G[a * M + b] += k[a] * r.W[e] / 4.0 * k[b] / n;
    }
  }
  /* backward error of the library's alpha in the system written here: ~ eps |G| |alpha| */
  double gmax = 0.0, bmax = 0.0, amax = 0.0, res = 0.0;
  for (int a = 0; a < M; a++) {
    double ra = -rhs[a], rowsum = 0.0;
    for (int b = 0; b < M; b++) {
      ra += G[a * M + b] * r.alpha[b];
      rowsum += fabs(G[a * M + b]);
    }
    gmax = fmax(gmax, rowsum);
    bmax = fmax(bmax, fabs(rhs[a]));
    amax = fmax(amax, fabs(r.alpha[a]));
    res = fmax(res, fabs(ra));
  }
  cr_log_info("residual %.3g, |G| %.3g, |alpha| %.3g, |b| %.3g", res, gmax, amax, bmax);
  cr_assert(res < 1e-12 * (gmax * amax + bmax), "residual %g", res);
  /* and the forward comparison, loose because the system is ill-conditioned in alpha */
  gauss_solve(G, rhs, M);
  for (int a = 0; a < M; a++)
    cr_assert(fabs(r.alpha[a] - rhs[a]) < 1e-5 * amax, "alpha[%d] = %.15g, dense solve %.15g", a,
              r.alpha[a], rhs[a]);
  /* t = 2 [sum_D f - sum_R w (e^f - 1)] from the fitted alpha */
  double th = 0.0;
  for (int e = 0; e < n; e++) th += e < NR ? -2.0 * r.W[e] * expm1(r.f[e]) : 2.0 * r.f[e];
  cr_assert(fabs(th - tv) < 1e-10 * fmax(1.0, fabs(th)), "t = %.15g, by hand %.15g", tv, th);
  cr_assert(tv > 0.0);
  /* the fitted model evaluates to the same f */
  const nplm_model_t *fm = NULL;
  cr_assert_eq(nplm_test_fitted_model(t, &fm), NPLM_OK);
  double fe[ND];
  cr_assert_eq(nplm_model_eval(fm, g_data, ND, D2, fe), NPLM_OK);
  for (int e = 0; e < ND; e++)
    cr_assert(fabs(fe[e] - r.f[NR + e]) < 1e-11 * fmax(1.0, fabs(r.f[NR + e])), "f[%d]", e);
  double centers;
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_CENTERS, &centers), NPLM_OK);
  cr_assert_eq(centers, 30.0);
  nplm_test_free(t);
  nplm_model_free(m);
}

/* Cholesky A = C C^T in place (lower triangle, n x n row-major); 0 if not positive definite. */
static int chol_lower(double *A, int n) {
  for (int j = 0; j < n; j++) {
    double d = A[j * n + j];
    for (int k = 0; k < j; k++) d -= A[j * n + k] * A[j * n + k];
    if (!(d > 0.0)) return 0;
    A[j * n + j] = sqrt(d);
    for (int i = j + 1; i < n; i++) {
      double v = A[i * n + j];
      for (int k = 0; k < j; k++) v -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = v / A[j * n + j];
    }
  }
  return 1;
}

/* x = C^-1 x (forward substitution, C lower row-major). */
static void lower_solve(const double *C, int n, double *x) {
  for (int i = 0; i < n; i++) {
    double v = x[i];
    for (int k = 0; k < i; k++) v -= C[i * n + k] * x[k];
    x[i] = v / C[i * n + i];
  }
}

/* A smooth kernel (sigma 3 on a 2D sample of width ~1): K_MM has numerical rank well below M, so
 * the library stands in its pivoted-Cholesky factor L L^T + eps I for K_MM + eps I. The full
 * system, solved here in the basis of the full Cholesky factor C C^T = K_MM + eps I (features
 * phi = C^-1 k, [sum_e phi W/4 phi^T / n + lambda I] gamma = sum_e phi W y / 2 / n, f = phi^T
 * gamma: well conditioned, unlike the system in alpha), must give the same f and t, for both
 * solvers. */
Test(kernel, low_rank_factor_gives_the_full_systems_t) {
  make_2d();
  const double sigma = 3.0, lambda = 1e-6;
  for (int solver = NPLM_SOLVER_DIRECT; solver <= NPLM_SOLVER_CG; solver++) {
    nplm_model_t *m = NULL;
    nplm_test_t *t = kernel_test(&m, 64, sigma, lambda, solver);
    cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_CG_TOLERANCE, 1e-13), NPLM_OK);
    double tv, rank;
    cr_assert_eq(nplm_test_run(t, g_data, ND, D2, NULL, &tv), NPLM_OK, "%s",
                 nplm_test_last_error(t));
    cr_assert_eq(nplm_test_result(t, NPLM_RESULT_KERNEL_RANK, &rank), NPLM_OK);
    static recomputed_t r;
    recompute(t, sigma, &r);
    const int M = r.M, n = NR + ND;
    cr_assert_eq(M, 64);
    cr_assert_eq(r.jitter, 1e-12);
    static double C[64 * 64], A[64 * 64], b[64], phi[NR + ND][64];
    for (int a = 0; a < M; a++)
      for (int c = 0; c < M; c++)
        C[a * M + c] = kern(r.centres + a * D2, r.centres + c * D2, sigma) + (a == c ? 1e-12 : 0);
    cr_assert(chol_lower(C, M), "K_MM + eps I is not positive definite here");
    for (int a = 0; a < M; a++) {
      b[a] = 0.0;
      for (int c = 0; c < M; c++) A[a * M + c] = a == c ? lambda : 0.0;
    }
    for (int e = 0; e < n; e++) {
      const double *x = e < NR ? g_ref + e * D2 : g_data + (e - NR) * D2;
      for (int a = 0; a < M; a++) phi[e][a] = kern(x, r.centres + a * D2, sigma);
      lower_solve(C, M, phi[e]);
      for (int a = 0; a < M; a++) {
        b[a] += phi[e][a] * r.W[e] / 4.0 * 2.0 * r.y[e] / n;
        for (int c = 0; c < M; c++) A[a * M + c] += phi[e][a] * r.W[e] / 4.0 * phi[e][c] / n;
      }
    }
    cr_assert(chol_lower(A, M));
    lower_solve(A, M, b); /* gamma = C_A^-T C_A^-1 b */
    for (int i = M - 1; i >= 0; i--) {
      double v = b[i];
      for (int k = i + 1; k < M; k++) v -= A[k * M + i] * b[k];
      b[i] = v / A[i * M + i];
    }
    double th = 0.0, fmax_ = 0.0, fdiff = 0.0;
    for (int e = 0; e < n; e++) {
      double f = 0.0;
      for (int a = 0; a < M; a++) f += phi[e][a] * b[a];
      th += e < NR ? -2.0 * r.W[e] * expm1(f) : 2.0 * f;
      fmax_ = fmax(fmax_, fabs(f));
      fdiff = fmax(fdiff, fabs(f - r.f[e]));
    }
    cr_log_info("solver %d: rank %g, t %.12g, full system %.12g, |f| %.3g, |df| %.3g", solver,
                rank, tv, th, fmax_, fdiff);
    cr_assert(rank >= 5 && rank < 48, "rank %g of K_MM (64 centres, sigma 3)", rank);
    /* measured: |df| 7e-6 |f| and t to 2e-8 (the full-rank factorisation of the previous
     * version: 3e-7 and 4e-8) */
    cr_assert(fdiff < 3e-5 * fmax_, "f differs from the full system's by %g", fdiff);
    cr_assert(fabs(tv - th) < 2e-7 * th, "t = %.12g, full system %.12g", tv, th);
    nplm_test_free(t);
    nplm_model_free(m);
  }
}

/* The weighted logistic objective and its gradient in alpha, recomputed here. */
static double objective(const recomputed_t *r, double sigma, double lambda, double *grad) {
  const int M = r->M, n = NR + ND;
  double L = 0.0;
  for (int a = 0; a < M; a++) {
    grad[a] = 0.0;
    for (int b = 0; b < M; b++) {
      double kab = kern(r->centres + a * D2, r->centres + b * D2, sigma) + (a == b ? r->jitter : 0);
      L += 0.5 * lambda * r->alpha[a] * kab * r->alpha[b];
      grad[a] += lambda * kab * r->alpha[b];
    }
  }
  for (int e = 0; e < n; e++) {
    const double *x = e < NR ? g_ref + e * D2 : g_data + (e - NR) * D2;
    const double m = -r->y[e] * r->f[e];
    L += r->W[e] * (m > 0 ? m + log1p(exp(-m)) : log1p(exp(m))) / n;
    const double dl = -r->W[e] * r->y[e] / (1.0 + exp(-m)) / n; /* d/df */
    for (int a = 0; a < M; a++) grad[a] += dl * kern(x, r->centres + a * D2, sigma);
  }
  return L;
}

Test(kernel, newton_steps_reach_the_minimum) {
  make_2d();
  const double sigma = 0.8, lambda = 1e-3;
  double L[2], gnorm[2];
  for (int run = 0; run < 2; run++) {
    nplm_model_t *m = NULL;
    nplm_test_t *t = kernel_test(&m, 30, sigma, lambda, run ? NPLM_SOLVER_CG : NPLM_SOLVER_DIRECT);
    cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_NEWTON_STEPS, run ? 8 : 1), NPLM_OK);
    cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_CG_TOLERANCE, 1e-13), NPLM_OK);
    double tv;
    cr_assert_eq(nplm_test_run(t, g_data, ND, D2, NULL, &tv), NPLM_OK, "%s",
                 nplm_test_last_error(t));
    static recomputed_t r;
    recompute(t, sigma, &r);
    double g[64];
    L[run] = objective(&r, sigma, lambda, g);
    gnorm[run] = 0.0;
    for (int a = 0; a < r.M; a++) gnorm[run] = fmax(gnorm[run], fabs(g[a]));
    nplm_test_free(t);
    nplm_model_free(m);
  }
  cr_log_info("one step: L %.12g |grad| %.3g; eight steps: L %.12g |grad| %.3g", L[0], gnorm[0],
              L[1], gnorm[1]);
  cr_assert(L[1] < L[0], "more Newton steps must lower the loss");
  cr_assert(gnorm[1] < 1e-9, "after 8 steps |grad| = %g", gnorm[1]);
  cr_assert(gnorm[0] > 1e3 * gnorm[1], "one step is not the minimum here");
}

/* 1D, ill-conditioned like the benchmark (lambda 1e-6): the two solvers give the same f. */
Test(kernel, direct_and_cg_solvers_agree) {
  enum { N1 = 5000, N1D = 100 };
  static double ref[N1], data[N1D];
  uint64_t s = 5;
  for (int i = 0; i < N1; i++) ref[i] = expo(&s);
  for (int i = 0; i < N1D; i++) data[i] = expo(&s);
  double tv[2], f[2][50], probe[50];
  for (int i = 0; i < 50; i++) probe[i] = 0.1 * i;
  for (int run = 0; run < 2; run++) {
    nplm_model_t *m = NULL;
    nplm_test_t *t = NULL;
    cr_assert_eq(nplm_model_create_kernel(&m, 1, 200, 0.7, 1e-6), NPLM_OK);
    cr_assert_eq(nplm_test_create(&t, m, NULL), NPLM_OK);
    cr_assert_eq(nplm_test_set_reference(t, ref, N1, 1, NULL, 100.0), NPLM_OK);
    cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_SOLVER, run ? NPLM_SOLVER_CG
                                                                  : NPLM_SOLVER_DIRECT),
                 NPLM_OK);
    cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_CG_TOLERANCE, 1e-12), NPLM_OK);
    cr_assert_eq(nplm_test_run(t, data, N1D, 1, NULL, &tv[run]), NPLM_OK, "%s",
                 nplm_test_last_error(t));
    double it;
    cr_assert_eq(nplm_test_result(t, NPLM_RESULT_ITERATIONS, &it), NPLM_OK);
    cr_assert(run ? it > 0 : it == 0, "iterations %g", it);
    const nplm_model_t *fm = NULL;
    cr_assert_eq(nplm_test_fitted_model(t, &fm), NPLM_OK);
    cr_assert_eq(nplm_model_eval(fm, probe, 50, 1, f[run]), NPLM_OK);
    nplm_test_free(t);
    nplm_model_free(m);
  }
  cr_log_info("t direct %.12g, CG %.12g", tv[0], tv[1]);
  cr_assert(fabs(tv[0] - tv[1]) < 1e-7 * tv[0], "t direct %.12g, CG %.12g", tv[0], tv[1]);
  for (int i = 0; i < 50; i++)
    cr_assert(fabs(f[0][i] - f[1][i]) < 1e-6 * (1.0 + fabs(f[0][i])), "f(%g): %.12g vs %.12g",
              probe[i], f[0][i], f[1][i]);
}

Test(kernel, calibration_is_reproducible_across_threads_and_shards) {
  make_2d();
  static double pool[2000 * D2];
  uint64_t s = 7;
  for (int i = 0; i < 2000; i++) {
    pool[i * D2] = expo(&s);
    pool[i * D2 + 1] = 2.0 * unif(&s) - 1.0;
  }
  for (int solver = NPLM_SOLVER_DIRECT; solver <= NPLM_SOLVER_CG; solver++) {
    double tn[3][4];
    for (int run = 0; run < 3; run++) {
      nplm_model_t *m = NULL;
      nplm_test_t *t = kernel_test(&m, 0, 0.8, 1e-6, solver);
      cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, run == 0 ? 1 : 2), NPLM_OK);
      if (run < 2) {
        cr_assert_eq(nplm_test_calibrate(t, pool, 2000, D2, NULL, 4, 11, tn[run]), NPLM_OK, "%s",
                     nplm_test_last_error(t));
      } else { /* two shards of two toys */
        cr_assert_eq(nplm_test_calibrate(t, pool, 2000, D2, NULL, 2, 11, tn[run]), NPLM_OK);
        cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_TOY_OFFSET, 2), NPLM_OK);
        cr_assert_eq(nplm_test_calibrate(t, pool, 2000, D2, NULL, 2, 11, tn[run] + 2), NPLM_OK);
      }
      double centers[4];
      cr_assert_eq(nplm_test_toy_results(t, NPLM_RESULT_CENTERS, centers, run < 2 ? 4 : 2),
                   NPLM_OK);
      cr_assert(centers[0] >= 20.0, "M = ceil(sqrt(n)) for n >= 400 events: %g", centers[0]);
      nplm_test_free(t);
      nplm_model_free(m);
    }
    for (int k = 0; k < 4; k++) {
      cr_assert(isfinite(tn[0][k]) && tn[0][k] > 0.0, "toy %d: t = %g", k, tn[0][k]);
      cr_assert(memcmp(&tn[0][k], &tn[1][k], sizeof(double)) == 0, "solver %d toy %d: 1 vs 2 "
                "threads: %.17g vs %.17g", solver, k, tn[0][k], tn[1][k]);
      cr_assert(memcmp(&tn[0][k], &tn[2][k], sizeof(double)) == 0, "solver %d toy %d: shards",
                solver, k);
    }
    cr_assert(tn[0][0] != tn[0][1], "toys differ");
  }
}

/* A kernel calibration's JSON names the kernel family and its settings (it once described an
 * empty MLP with "dof": 0 and an all-null summary): the nominal dof and the KS p-value against
 * it are null, the fitted dof and its KS p-value are nplm_significance's for the same toys. */
static double json_number(const char *buf, const char *key) {
  const char *p = strstr(buf, key);
  cr_assert_not_null(p, "%s in the JSON", key);
  p += strlen(key);
  if (strncmp(p, "null", 4) == 0) return NAN;
  char *end;
  double v = strtod(p, &end);
  cr_assert(end != p, "%s is a number", key);
  return v;
}

Test(kernel, calibration_json_describes_the_kernel_family) {
  make_2d();
  nplm_model_t *m = NULL;
  nplm_test_t *t = kernel_test(&m, 0, 0.8, 1e-6, NPLM_SOLVER_DIRECT);
  enum { NT = 40 };
  double tn[NT];
  uint64_t s = 5;
  for (int k = 0; k < NT; k++) /* positive, chi2-like spread */
    tn[k] = 2.0 * (expo(&s) + expo(&s) / 2.0 + expo(&s));
  char path[64];
  snprintf(path, sizeof path, "/tmp/nplm-kcal-%d.json", (int)getpid());
  cr_assert_eq(nplm_test_write_calibration(t, path, tn, NT, 3), NPLM_OK, "%s", nplm_last_error());
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  static char buf[16384];
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  remove(path);
  buf[len] = '\0';
  cr_assert(strstr(buf, "\"type\": \"kernel\"") != NULL, "%s", buf);
  cr_assert(strstr(buf, "\"layers\"") == NULL);
  cr_assert_eq(json_number(buf, "\"centers\": "), 0.0);
  cr_assert_eq(json_number(buf, "\"sigma\": "), 0.8);
  cr_assert_eq(json_number(buf, "\"lambda\": "), 1e-6);
  cr_assert(isnan(json_number(buf, "\"dof\": ")), "no nominal dof for a kernel model");
  cr_assert(isnan(json_number(buf, "\"ks_p\": ")));
  double sig[NPLM_SIG_COUNT];
  cr_assert_eq(nplm_significance(tn, NT, 0.0, 1.0, sig, NPLM_SIG_COUNT), NPLM_OK);
  cr_assert(isfinite(sig[NPLM_SIG_DOF_FIT]) && sig[NPLM_SIG_DOF_FIT] > 0.0);
  cr_assert_eq(json_number(buf, "\"dof_fit\": "), sig[NPLM_SIG_DOF_FIT]);
  cr_assert_eq(json_number(buf, "\"ks_p_fit\": "), sig[NPLM_SIG_KS_P_FIT]);
  nplm_test_free(t);
  nplm_model_free(m);
}

Test(kernel, model_files_round_trip_and_reject_corruption) {
  make_2d();
  nplm_model_t *m = NULL;
  nplm_test_t *t = kernel_test(&m, 12, 0.8, 1e-4, NPLM_SOLVER_AUTO);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_STANDARDIZE, 1), NPLM_OK);
  double tv;
  cr_assert_eq(nplm_test_run(t, g_data, ND, D2, NULL, &tv), NPLM_OK);
  const nplm_model_t *fm = NULL;
  cr_assert_eq(nplm_test_fitted_model(t, &fm), NPLM_OK);
  char path[64];
  snprintf(path, sizeof path, "/tmp/nplm-kernel-%d.bin", (int)getpid());
  cr_assert_eq(nplm_model_save(fm, path), NPLM_OK, "%s", nplm_last_error());
  nplm_model_t *back = NULL;
  cr_assert_eq(nplm_model_load(&back, path), NPLM_OK, "%s", nplm_last_error());
  double a[ND], b[ND], sigma, lambda;
  size_t nc;
  cr_assert_eq(nplm_model_eval(fm, g_data, ND, D2, a), NPLM_OK);
  cr_assert_eq(nplm_model_eval(back, g_data, ND, D2, b), NPLM_OK);
  cr_assert(memcmp(a, b, sizeof a) == 0);
  cr_assert_eq(nplm_model_kernel_info(back, &nc, &sigma, &lambda), NPLM_OK);
  cr_assert(nc == 12 && sigma == 0.8 && lambda == 1e-4);
  cr_assert_eq(nplm_model_kind(back), NPLM_MODEL_KERNEL);
  nplm_model_free(back);
  FILE *fp = fopen(path, "rb");
  static unsigned char good[4096];
  size_t len = fread(good, 1, sizeof good, fp);
  fclose(fp);
  cr_assert(len > 200 && len < sizeof good);
  for (size_t cut = 0; cut < len; cut += 5) {
    fp = fopen(path, "wb");
    fwrite(good, 1, cut, fp);
    fclose(fp);
    cr_assert_eq(nplm_model_load(&back, path), NPLM_EFORMAT, "truncated at %zu", cut);
  }
  for (size_t i = 0; i < len; i += 3) {
    good[i] ^= 0x04;
    fp = fopen(path, "wb");
    fwrite(good, 1, len, fp);
    fclose(fp);
    good[i] ^= 0x04;
    cr_assert_eq(nplm_model_load(&back, path), NPLM_EFORMAT, "flipped byte %zu", i);
    cr_assert_null(back);
  }
  remove(path);
  nplm_test_free(t);
  nplm_model_free(m);
}

/* Standardised inputs: an affine change of units of the data and reference leaves t unchanged. */
Test(kernel, standardisation_removes_the_units) {
  make_2d();
  double tv[2];
  static double ref2[NR * D2], data2[ND * D2];
  for (int i = 0; i < NR * D2; i++) ref2[i] = i % 2 ? 100.0 * g_ref[i] - 3.0 : 0.01 * g_ref[i];
  for (int i = 0; i < ND * D2; i++) data2[i] = i % 2 ? 100.0 * g_data[i] - 3.0 : 0.01 * g_data[i];
  for (int run = 0; run < 2; run++) {
    nplm_model_t *m = NULL;
    nplm_test_t *t = NULL;
    cr_assert_eq(nplm_model_create_kernel(&m, D2, 25, 0.9, 1e-5), NPLM_OK);
    cr_assert_eq(nplm_test_create(&t, m, NULL), NPLM_OK);
    cr_assert_eq(nplm_test_set_reference(t, run ? ref2 : g_ref, NR, D2, g_w, 50.0), NPLM_OK);
    cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_STANDARDIZE, 1), NPLM_OK);
    cr_assert_eq(nplm_test_run(t, run ? data2 : g_data, ND, D2, NULL, &tv[run]), NPLM_OK);
    nplm_test_free(t);
    nplm_model_free(m);
  }
  cr_assert(fabs(tv[0] - tv[1]) < 1e-8 * tv[0], "t %.15g vs %.15g", tv[0], tv[1]);
}

/* A feature constant up to rounding carries no information: standardised, it must leave t as
 * without it. Its computed spread is rounding of the mean (~1e-16), which was once taken for a
 * scale, so the data's one-ulp offset became an O(1) distance (t 259 instead of 36). */
Test(kernel, standardisation_ignores_a_constant_feature) {
  make_2d();
  enum { D3 = D2 + 1 };
  static double ref3[NR * D3], data3[ND * D3];
  for (int i = 0; i < NR; i++) {
    for (int j = 0; j < D2; j++) ref3[i * D3 + j] = g_ref[i * D2 + j];
    ref3[i * D3 + D2] = 0.7;
  }
  for (int i = 0; i < ND; i++) {
    for (int j = 0; j < D2; j++) data3[i * D3 + j] = g_data[i * D2 + j];
    data3[i * D3 + D2] = nextafter(0.7, 1.0); /* one ulp off: rounding, not a shift */
  }
  double tv[2];
  for (int run = 0; run < 2; run++) {
    const size_t d = run ? D3 : D2;
    nplm_model_t *m = NULL;
    nplm_test_t *t = NULL;
    cr_assert_eq(nplm_model_create_kernel(&m, d, 25, 0.9, 1e-5), NPLM_OK);
    cr_assert_eq(nplm_test_create(&t, m, NULL), NPLM_OK);
    cr_assert_eq(nplm_test_set_reference(t, run ? ref3 : g_ref, NR, d, g_w, 50.0), NPLM_OK);
    cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_STANDARDIZE, 1), NPLM_OK);
    cr_assert_eq(nplm_test_run(t, run ? data3 : g_data, ND, d, NULL, &tv[run]), NPLM_OK, "%s",
                 nplm_last_error());
    nplm_test_free(t);
    nplm_model_free(m);
  }
  cr_assert(fabs(tv[0] - tv[1]) < 1e-8 * tv[0], "t %.15g without, %.15g with the constant",
            tv[0], tv[1]);
}

Test(kernel, sigma_heuristic_is_the_quantile_of_pairwise_distances) {
  enum { N = 40 };
  double x[N * 3], dist[N * (N - 1) / 2];
  uint64_t s = 3;
  for (int i = 0; i < N * 3; i++) x[i] = unif(&s);
  int p = 0;
  for (int a = 0; a < N; a++)
    for (int b = a + 1; b < N; b++) {
      double s2 = 0.0;
      for (int j = 0; j < 3; j++) s2 += (x[a * 3 + j] - x[b * 3 + j]) * (x[a * 3 + j] - x[b * 3 + j]);
      dist[p++] = sqrt(s2);
    }
  /* sorted by insertion; the 0.9 quantile with linear interpolation */
  for (int i = 1; i < p; i++)
    for (int j = i; j > 0 && dist[j - 1] > dist[j]; j--) {
      double tmp = dist[j];
      dist[j] = dist[j - 1];
      dist[j - 1] = tmp;
    }
  double pos = 0.9 * (p - 1), want = dist[(int)pos] + (pos - floor(pos)) *
                                                        (dist[(int)pos + 1] - dist[(int)pos]);
  double sigma, s1, s2;
  cr_assert_eq(nplm_kernel_sigma_heuristic(x, N, 3, N, 0.9, 1, &sigma), NPLM_OK);
  cr_assert(fabs(sigma - want) < 1e-15, "%.17g vs %.17g", sigma, want);
  cr_assert_eq(nplm_kernel_sigma_heuristic(x, N, 3, 10, 0.9, 1, &s1), NPLM_OK);
  cr_assert_eq(nplm_kernel_sigma_heuristic(x, N, 3, 10, 0.9, 1, &s2), NPLM_OK);
  cr_assert_eq(s1, s2, "seeded");
  cr_assert_eq(nplm_kernel_sigma_heuristic(x, N, 3, 10, 0.9, 2, &s2), NPLM_OK);
  cr_assert_neq(s1, s2, "another seed, another subsample");
  cr_assert_eq(nplm_kernel_sigma_heuristic(x, N, 3, 1, 0.9, 1, &s1), NPLM_EINVAL);
  cr_assert_eq(nplm_kernel_sigma_heuristic(x, N, 3, 10, 1.0, 1, &s1), NPLM_EINVAL);
  cr_assert_eq(nplm_kernel_sigma_heuristic(x, 1, 3, 10, 0.5, 1, &s1), NPLM_EINVAL);
  cr_assert_eq(nplm_kernel_sigma_heuristic(NULL, N, 3, 10, 0.5, 1, &s1), NPLM_EINVAL);
  cr_assert_eq(nplm_kernel_sigma_heuristic(x, N, 3, 10, 0.5, 1, NULL), NPLM_EINVAL);
  x[5] = NAN;
  cr_assert_eq(nplm_kernel_sigma_heuristic(x, N, 3, 10, 0.5, 1, &s1), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "not finite") != NULL, "%s", nplm_last_error());
  /* distances whose squares overflow (events 1e200 apart): still exact, not NaN (it once
   * returned NaN with NPLM_OK); coincident events: no usable sigma */
  const double far[4] = {0.0, 1e200, 2e200, 3e200};
  cr_assert_eq(nplm_kernel_sigma_heuristic(far, 4, 1, 4, 0.5, 1, &s1), NPLM_OK, "%s",
               nplm_last_error());
  cr_assert_eq(s1, 1.5e200, "median of the 6 distances 1, 1, 1, 2, 2, 3 (x 1e200): %g", s1);
  const double far2[4] = {0.0, 0.0, 3e200, 4e200}; /* 2D: (0, 0), (3e200, 4e200) */
  cr_assert_eq(nplm_kernel_sigma_heuristic(far2, 2, 2, 2, 0.5, 1, &s1), NPLM_OK);
  cr_assert(fabs(s1 - 5e200) <= 1e-15 * 5e200, "%g", s1);
  const double same[3] = {2.0, 2.0, 2.0};
  s1 = -1.0;
  cr_assert_eq(nplm_kernel_sigma_heuristic(same, 3, 1, 3, 0.5, 1, &s1), NPLM_EINVAL);
  cr_assert_eq(s1, -1.0, "sigma written on failure");
  cr_assert(strstr(nplm_last_error(), "sigma") != NULL, "%s", nplm_last_error());
  /* not all coincide, but more than the quantile's share of the pairs do: 6 of the 10 pairs
   * of {1, 1, 1, 1, 5} are 0 apart, the other 4 are 4 apart */
  const double rep[5] = {1.0, 1.0, 1.0, 1.0, 5.0};
  cr_assert_eq(nplm_kernel_sigma_heuristic(rep, 5, 1, 5, 0.5, 1, &s1), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "quantile") != NULL, "%s", nplm_last_error());
  cr_assert_eq(nplm_kernel_sigma_heuristic(rep, 5, 1, 5, 0.9, 1, &s1), NPLM_OK);
  cr_assert_eq(s1, 4.0, "%g", s1);
}

typedef struct kprog {
  int cancel, calls;
  int64_t first, last;
  double last_t;
} kprog_t;

static int kprog(void *user, const nplm_progress_t *p) {
  kprog_t *k = user;
  if (k->calls++ == 0) k->first = p->done;
  k->last = p->done;
  k->last_t = p->t;
  return k->cancel;
}

Test(kernel, bad_input_is_refused_with_a_message) {
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_kernel(NULL, 1, 10, 1.0, 1e-6), NPLM_EINVAL);
  cr_assert_eq(nplm_model_create_kernel(&m, 0, 10, 1.0, 1e-6), NPLM_EINVAL);
  cr_assert_eq(nplm_model_create_kernel(&m, 1, 10, 0.0, 1e-6), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "sigma") != NULL, "%s", nplm_last_error());
  cr_assert_eq(nplm_model_create_kernel(&m, 1, 10, (double)INFINITY, 1e-6), NPLM_EINVAL);
  cr_assert_eq(nplm_model_create_kernel(&m, 1, 10, 1.0, -1.0), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "lambda") != NULL, "%s", nplm_last_error());
  cr_assert_eq(nplm_model_create_kernel(&m, 1, ((size_t)1 << 24) + 1, 1.0, 1e-6), NPLM_EINVAL);
  cr_assert_null(m);
  cr_assert_eq(nplm_model_create_kernel(&m, 1, 500, 1.0, 1e-6), NPLM_OK);
  /* the family has no centres */
  double x[3] = {0.1, 0.2, 0.3}, f[3], c[1];
  cr_assert_eq(nplm_model_num_params(m), 0u);
  cr_assert_eq(nplm_model_eval(m, x, 3, 1, f), NPLM_ESTATE);
  cr_assert_eq(nplm_model_kernel_centers(m, c, 1, 1), NPLM_ESTATE);
  size_t nc;
  cr_assert_eq(nplm_model_kernel_info(m, &nc, NULL, NULL), NPLM_OK);
  cr_assert_eq(nc, 500u);
  /* nuisances are for MLP models; no weight clip to tune */
  nplm_nuisance_t *nu = NULL;
  cr_assert_eq(nplm_nuisance_create(&nu, 1), NPLM_OK);
  cr_assert_eq(nplm_nuisance_add_norm(nu, 0.1, NULL), NPLM_OK);
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_test_create(&t, m, nu), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "kernel") != NULL, "%s", nplm_last_error());
  nplm_nuisance_free(nu);
  cr_assert_eq(nplm_test_create(&t, m, NULL), NPLM_OK);
  double ref[100];
  uint64_t s = 1;
  for (int i = 0; i < 100; i++) ref[i] = expo(&s);
  cr_assert_eq(nplm_test_set_reference(t, ref, 100, 1, NULL, 10.0), NPLM_OK);
  double tv, best;
  /* 500 centres but 103 events */
  cr_assert_eq(nplm_test_run(t, x, 3, 1, NULL, &tv), NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "500 centres") != NULL, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_CENTERS, 50), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, x, 3, 1, NULL, &tv), NPLM_OK, "%s", nplm_test_last_error(t));
  /* too many centres after a good run: EINVAL leaves that run's result, history and fitted
   * model in place (they were once cleared) */
  double t_before, centres_before, t_hist[4];
  int64_t e_hist[4];
  size_t h_before = 0, h_after = 0;
  const nplm_model_t *fit_before = NULL, *fit_after = NULL;
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_T, &t_before), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_CENTERS, &centres_before), NPLM_OK);
  cr_assert_eq(nplm_test_history(t, e_hist, t_hist, 4, &h_before), NPLM_OK);
  cr_assert_eq(nplm_test_fitted_model(t, &fit_before), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_CENTERS, 104), NPLM_OK);
  double tv2 = -1.0;
  cr_assert_eq(nplm_test_run(t, x, 3, 1, NULL, &tv2), NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "104 centres") != NULL, "%s",
            nplm_test_last_error(t));
  cr_assert_eq(tv2, -1.0, "t_value written on EINVAL");
  double t_after = 0.0, centres_after = 0.0;
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_T, &t_after), NPLM_OK, "%s", nplm_last_error());
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_CENTERS, &centres_after), NPLM_OK);
  cr_assert(t_after == t_before && t_after == tv && centres_after == 50.0 &&
            centres_before == 50.0, "t %g -> %g, centres %g -> %g", t_before, t_after,
            centres_before, centres_after);
  cr_assert_eq(nplm_test_history(t, NULL, NULL, 0, &h_after), NPLM_OK);
  cr_assert(h_after == h_before && h_before > 0, "history %zu -> %zu", h_before, h_after);
  cr_assert_eq(nplm_test_fitted_model(t, &fit_after), NPLM_OK);
  cr_assert(fit_after == fit_before);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_CENTERS, 103), NPLM_OK); /* every event */
  cr_assert_eq(nplm_test_run(t, x, 3, 1, NULL, &tv2), NPLM_OK, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_CENTERS, 50), NPLM_OK);
  /* the progress callback: at the start (a cancel there is honoured) and once at the end
   * with t (kernel runs once never called it) */
  kprog_t kp = {0, 0, -1, -1, 0.0};
  cr_assert_eq(nplm_test_set_progress(t, kprog, &kp), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, x, 3, 1, NULL, &tv), NPLM_OK, "%s", nplm_test_last_error(t));
  cr_assert(kp.calls == 2 && kp.first == 0 && kp.last == 1 && kp.last_t == tv,
            "%d calls, first %lld, last %lld, t %g vs %g", kp.calls, (long long)kp.first,
            (long long)kp.last, kp.last_t, tv);
  kp.cancel = 1;
  cr_assert_eq(nplm_test_run(t, x, 3, 1, NULL, &tv), NPLM_ECANCELED);
  cr_assert(strstr(nplm_test_last_error(t), "progress") != NULL, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_set_progress(t, NULL, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_tune_clip(t, ref, 100, 1, NULL, 5, 1, 1.0, 2.0, 3, NULL, NULL, &best),
               NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "clip") != NULL, "%s", nplm_test_last_error(t));
  /* a calibration whose CG solves stop short says so (it blamed L-BFGS-B, which never ran) */
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_SOLVER, NPLM_SOLVER_CG), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_CG_MAX_ITERATIONS, 1), NPLM_OK);
  double tn2[2];
  cr_assert_eq(nplm_test_calibrate(t, ref, 100, 1, NULL, 2, 5, tn2), NPLM_ENOCONV, "%s",
               nplm_test_last_error(t));
  cr_assert(strstr(nplm_test_last_error(t), "conjugate-gradient") != NULL, "%s",
            nplm_test_last_error(t));
  cr_assert(isfinite(tn2[0]) && isfinite(tn2[1]));
  /* a scan whose calibrations stop short succeeds (the rows count the converged toys) and
   * leaves the handle's message of the last failing call as it was */
  char before[512];
  snprintf(before, sizeof before, "%s", nplm_test_last_error(t));
  const size_t sc[1] = {5};
  const double sl[1] = {1e-6};
  nplm_kernel_scan_row_t row;
  cr_assert_eq(nplm_test_kernel_scan(t, ref, 100, 1, NULL, sc, 1, sl, 1, 2, 5, &row, sizeof row),
               NPLM_OK, "%s", nplm_test_last_error(t));
  cr_assert(row.converged < 2, "%lld converged", (long long)row.converged);
  cr_assert_str_eq(nplm_test_last_error(t), before);
  cr_assert_str_eq(nplm_last_error(), "");
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_SOLVER, NPLM_SOLVER_AUTO), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_NEWTON_STEPS, 0), NPLM_EINVAL);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_SOLVER, 3), NPLM_EINVAL);
  cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_KERNEL_SIGMA, -1.0), NPLM_EINVAL);
  const size_t layers[] = {1, 2, 1};
  nplm_model_t *mlp = NULL;
  cr_assert_eq(nplm_model_create_mlp(&mlp, layers, 3, 1.0), NPLM_OK);
  cr_assert_eq(nplm_model_kernel_info(mlp, &nc, NULL, NULL), NPLM_EINVAL);
  cr_assert_eq(nplm_model_kind(mlp), NPLM_MODEL_MLP);
  nplm_model_free(mlp);
  nplm_test_free(t);
  nplm_model_free(m);
}

/* Finite events whose kernel coordinate x sqrt(1/2) / sigma overflows made every distance to
 * them NaN or 0, and t came back OK but meaningless: the fit and the evaluation refuse them,
 * naming the event. */
Test(kernel, events_too_large_for_sigma_are_refused) {
  enum { N = 200 };
  static double ref[N];
  uint64_t s = 3;
  for (int i = 0; i < N; i++) ref[i] = expo(&s);
  double data[4] = {0.5, 1.0, 1.7e308, 2.0};
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_model_create_kernel(&m, 1, 10, 0.5, 1e-6), NPLM_OK);
  cr_assert_eq(nplm_test_create(&t, m, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_set_reference(t, ref, N, 1, NULL, 20.0), NPLM_OK);
  double tv = 0.0;
  cr_assert_eq(nplm_test_run(t, data, 4, 1, NULL, &tv), NPLM_EINVAL, "t = %g", tv);
  cr_assert(strstr(nplm_test_last_error(t), "data event 2") != NULL, "%s",
            nplm_test_last_error(t));
  cr_assert(strstr(nplm_test_last_error(t), "sigma") != NULL);
  data[2] = 1.5; /* the same run without it works, and its f refuses the large event */
  cr_assert_eq(nplm_test_run(t, data, 4, 1, NULL, &tv), NPLM_OK, "%s", nplm_test_last_error(t));
  cr_assert(isfinite(tv));
  const nplm_model_t *f = NULL;
  cr_assert_eq(nplm_test_fitted_model(t, &f), NPLM_OK);
  const double x[3] = {1.0, -1.7e308, 0.0};
  double fx[3];
  cr_assert_eq(nplm_model_eval(f, x, 3, 1, fx), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "event 1") != NULL, "%s", nplm_last_error());
  cr_assert_eq(nplm_model_eval(f, x, 1, 1, fx), NPLM_OK, "%s", nplm_last_error());
  cr_assert(isfinite(fx[0]));
  nplm_test_free(t);
  nplm_model_free(m);
}

Test(kernel, scan_over_centres_and_lambda) {
  enum { N1 = 3000, NP = 6000 };
  static double ref[N1], pool[NP];
  uint64_t s = 21;
  for (int i = 0; i < N1; i++) ref[i] = expo(&s);
  for (int i = 0; i < NP; i++) pool[i] = expo(&s);
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_model_create_kernel(&m, 1, 0, 0.7, 1e-6), NPLM_OK);
  cr_assert_eq(nplm_test_create(&t, m, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_set_reference(t, ref, N1, 1, NULL, 100.0), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_CENTERS, 7), NPLM_OK);
  const size_t centers[2] = {10, 40};
  const double lambdas[2] = {1e-6, 1e-2};
  nplm_kernel_scan_row_t rows[4];
  cr_assert_eq(nplm_test_kernel_scan(t, pool, NP, 1, NULL, centers, 2, lambdas, 2, 5, 3, rows,
                                     sizeof *rows),
               NPLM_OK, "%s", nplm_test_last_error(t));
  double v;
  cr_assert_eq(nplm_test_get_option(t, NPLM_OPT_KERNEL_CENTERS, &v), NPLM_OK);
  cr_assert_eq(v, 7.0, "the test's M is restored");
  cr_assert_eq(nplm_test_get_option(t, NPLM_OPT_KERNEL_LAMBDA, &v), NPLM_OK);
  cr_assert_eq(v, -1.0, "the test's lambda is restored");
  /* each row is the calibration with those settings */
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) {
      const nplm_kernel_scan_row_t *r = &rows[a * 2 + b];
      cr_assert_eq(r->size, sizeof *r);
      cr_assert_eq(r->centers, (int64_t)centers[a]);
      cr_assert_eq(r->lambda, lambdas[b]);
      cr_assert_eq(r->n_toys, 5);
      double tn[5], mean = 0.0;
      cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_KERNEL_CENTERS, (int64_t)centers[a]), NPLM_OK);
      cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_KERNEL_LAMBDA, lambdas[b]), NPLM_OK);
      cr_assert_eq(nplm_test_calibrate(t, pool, NP, 1, NULL, 5, 3, tn), NPLM_OK);
      for (int k = 0; k < 5; k++) mean += tn[k] / 5.0;
      cr_assert(fabs(r->mean_t - mean) <= 1e-12 * fabs(mean), "row %d %d: %.17g vs %.17g", a, b,
                r->mean_t, mean);
      cr_assert(r->median_t > 0.0 && r->seconds_per_toy >= 0.0 && r->converged == 5);
    }
  /* a stronger penalty gives a smaller t */
  cr_assert(rows[1].mean_t < rows[0].mean_t && rows[3].mean_t < rows[2].mean_t);
  cr_assert_eq(nplm_test_kernel_scan(t, pool, NP, 1, NULL, NULL, 2, lambdas, 2, 5, 3, rows, sizeof *rows),
               NPLM_EINVAL);
  const double bad_l[1] = {-1.0};
  cr_assert_eq(nplm_test_kernel_scan(t, pool, NP, 1, NULL, centers, 2, bad_l, 1, 5, 3, rows, sizeof *rows),
               NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "lambdas[0]") != NULL, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_kernel_scan(t, pool, NP, 1, NULL, centers, 1, lambdas, 1, 5, 3, rows, 8),
               NPLM_EINVAL, "a row size below the first release's is refused");
  /* a caller compiled against a larger (future) row: rows at its stride, the tail untouched */
  struct bigger {
    nplm_kernel_scan_row_t row;
    double future[3];
  } big[2];
  memset(big, 0x7f, sizeof big);
  cr_assert_eq(nplm_test_kernel_scan(t, pool, NP, 1, NULL, centers, 1, lambdas, 2, 5, 3,
                                     &big[0].row, sizeof big[0]),
               NPLM_OK, "%s", nplm_test_last_error(t));
  cr_assert(big[1].row.centers == 10 && big[1].row.lambda == lambdas[1]);
  cr_assert_eq(big[1].row.mean_t, rows[1].mean_t);
  unsigned char tail[sizeof big[0].future];
  memset(tail, 0x7f, sizeof tail);
  cr_assert(memcmp(big[0].future, tail, sizeof tail) == 0, "bytes past the row were written");
  nplm_test_free(t);
  nplm_model_free(m);
}
