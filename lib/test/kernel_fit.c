/* The kernel (Nystrom) fit: Newton steps of the weighted logistic loss
 *   l(alpha) = (1/n) sum_e W_e log(1 + exp(-y_e f_e)) + (lambda/2) alpha^T K_MM alpha,
 *   f = K_NM alpha,  y = +1 (data, W = its weight), -1 (reference, W = its weight scaled to
 *   N(R0)),  n = number of training events,
 * each step solving
 *   [(1/n) K_MN D K_NM + lambda K_MM] alpha' = (1/n) K_MN (D f - g),
 *   D = W s(f) s(-f),  g = -W y s(-y f)  (s the logistic function),
 * which from f = 0 is the published one-step solution (D = W/4, D f - g = W y / 2). Then
 * t = -2 sum_e [ca (e^f - 1) - cb f] on the training events.
 *
 * K_MM of Gaussian kernels is numerically singular (eigenvalues far below 1e-16 of the largest
 * for overlapping centres), so both solvers work in the basis of its Cholesky factor,
 * K_MM + eps I = T^T T (eps: the smallest relative jitter from 1e-12 up that factorises), with
 * alpha = T^-1 gamma:
 *   [T^-T ((1/n) K_MN D K_NM) T^-1 + lambda I] gamma = T^-T (1/n) K_MN (D f - g),
 * whose eigenvalues are >= lambda (Falkon's formulation). This is the system above with K_MM
 * replaced by K_MM + eps I in the penalty.
 *
 * Direct solver: (1/n) K_MN D K_NM is accumulated over batches of event blocks (kernel rows on
 * the worker threads, then one BLAS dsyrk and dgemv per batch), transformed with two triangular
 * solves and factorised by Cholesky. CG solver: conjugate gradient on gamma, the kernel rows
 * recomputed block by block in every iteration (never stored), preconditioned by
 *   R^T R = (1/M) T D_M T^T + lambda I  (D_M: the Newton weights of the events chosen as
 * centres), which approximates the matrix when the centres are a uniform subsample of the events.
 *
 * Reproducibility: blocks are grouped in fixed chunks whose partial sums are reduced in order,
 * so nothing depends on the thread count; BLAS level-2/3 calls split the output, not the sums. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/gauss.h"
#include "test/test_internal.h"

#define BATCH_BLOCKS 16  /* direct solver: blocks per dsyrk */
#define CHUNK_BLOCKS 8   /* CG passes: blocks per partial sum */
#define DIRECT_MAX_M 400
#define KMM_JITTER 1e-12 /* smallest relative jitter of K_MM (mean diagonal 1) */

typedef struct kfit {
  const nplm__gauss_kernels_t *gk;
  nplm__pool_t *pool;
  int threads;
  size_t d, M, ldc, n_blocks, n;
  double *x;          /* n_blocks blocks, standardised, feature-major */
  double *ca, *cb;    /* per slot */
  size_t *count;      /* real events per block */
  double *f, *D, *r;  /* per slot */
  double *ct;         /* centres, d x ldc */
  double *cblk;       /* centres as event blocks (for K_MM products) */
  size_t c_blocks;
  double *tmp;        /* threads x (NPLM__LANES * ldc) */
  /* pass state */
  const double *v;    /* vector the pass multiplies */
  double *slots;      /* chunks x ldc partial sums */
  size_t chunks;
  double *S;          /* direct: batch rows */
  size_t batch0;      /* direct: first block of the batch */
  const double *w_acc; /* hv pass: the per-slot weights of the accumulation */
  atomic_int *stop;
} kfit_t;

/* f = K_NM v for every event (acc NULL) or, with acc, also the chunk sums of K_MN D (K_NM v). */
static void hv_task(void *arg, size_t chunk, int worker) {
  kfit_t *k = arg;
  const size_t B = NPLM__BLOCK, b0 = chunk * CHUNK_BLOCKS;
  const size_t b1 = b0 + CHUNK_BLOCKS < k->n_blocks ? b0 + CHUNK_BLOCKS : k->n_blocks;
  double *acc = k->slots ? k->slots + chunk * k->ldc : NULL;
  if (acc) memset(acc, 0, k->ldc * sizeof *acc);
  double *tmp = k->tmp + (size_t)worker * NPLM__LANES * k->ldc;
  for (size_t b = b0; b < b1; b++) {
    if (k->stop && atomic_load(k->stop)) return;
    k->gk->hv(k->x + b * k->d * B, k->d, k->count[b], k->ct, k->ldc, k->v,
              k->w_acc + b * B, tmp, k->v ? k->f + b * B : NULL, acc);
  }
}

/* acc = K_MN D K_NM v (v NULL: acc = K_MN r), summed over the chunks in order; the pass writes
 * K_NM v to k->f when v is given. */
static nplm_status_t pass_kmn(kfit_t *k, const double *v, double *acc) {
  k->v = v;
  k->w_acc = v ? k->D : k->r;
  k->chunks = (k->n_blocks + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS;
  nplm__pool_run(k->pool, k->chunks, hv_task, k);
  if (k->stop && atomic_load(k->stop)) return NPLM_ECANCELED;
  memset(acc, 0, k->ldc * sizeof *acc);
  for (size_t c = 0; c < k->chunks; c++)
    for (size_t i = 0; i < k->M; i++) acc[i] += k->slots[c * k->ldc + i];
  return NPLM_OK;
}

/* Direct solver: kernel rows of the batch's blocks into S. */
static void rows_task(void *arg, size_t i, int worker) {
  (void)worker;
  kfit_t *k = arg;
  const size_t B = NPLM__BLOCK, b = k->batch0 + i;
  k->gk->rows(k->x + b * k->d * B, k->d, B, k->ct, k->ldc, k->S + i * B * k->ldc, k->ldc);
}

/* Fills the matrix to factorise (upper triangle, column-major). */
typedef void (*fill_fn)(void *ctx, double *a);

/* Cholesky of the M x M upper triangle of a (column-major, lda) as filled by fill, adding a
 * jitter relative to the mean diagonal (1e-14, 1e-13, ... 1e-4) when it is not numerically
 * positive definite. */
static nplm_status_t cholesky(double *a, size_t M, size_t lda, fill_fn fill, void *ctx,
                              double eps0, double *jitter) {
  fill(ctx, a);
  double mean_diag = 0.0;
  for (size_t i = 0; i < M; i++) mean_diag += a[i * lda + i];
  mean_diag /= (double)M;
  if (!(mean_diag > 0.0) || !isfinite(mean_diag))
    return nplm__fail(NPLM_ENUMERIC, "the kernel system has a non-positive or non-finite "
                                     "diagonal");
  double eps = eps0;
  for (int attempt = 0; attempt < 12 && eps <= 1e-4; attempt++) {
    if (attempt > 0) {
      fill(ctx, a);
      eps = eps == 0.0 ? 1e-14 : eps * 10.0;
    }
    if (eps > 0.0)
      for (size_t i = 0; i < M; i++) a[i * lda + i] += eps * mean_diag;
    lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)M, a, (lapack_int)lda);
    if (info == 0) {
      *jitter = eps;
      return NPLM_OK;
    }
    if (info < 0) return nplm__fail(NPLM_ENUMERIC, "dpotrf: bad argument %d", (int)-info);
  }
  return nplm__fail(NPLM_ENUMERIC, "the kernel system is not positive definite even with a "
                                   "jitter of 1e-4 of its mean diagonal");
}

/* K_MM (column-major = row-major, symmetric; ldc x ldc) from the centre blocks. */
static void kernel_mm(kfit_t *k, double *K) {
  const size_t B = NPLM__BLOCK;
  for (size_t b = 0; b < k->c_blocks; b++) {
    size_t cnt = k->M - b * B < B ? k->M - b * B : B;
    k->gk->rows(k->cblk + b * k->d * B, k->d, cnt, k->ct, k->ldc, K + b * B * k->ldc, k->ldc);
  }
}

static void fill_kmm(void *arg, double *a) { kernel_mm(arg, a); }

/* y = T^-1 x (in place); y = T^-T x (in place). */
static void t_solve(const double *T, size_t M, size_t ld, double *x) {
  cblas_dtrsv(CblasColMajor, CblasUpper, CblasNoTrans, CblasNonUnit, (int)M, T, (int)ld, x, 1);
}
static void tt_solve(const double *T, size_t M, size_t ld, double *x) {
  cblas_dtrsv(CblasColMajor, CblasUpper, CblasTrans, CblasNonUnit, (int)M, T, (int)ld, x, 1);
}

typedef struct g_fill {
  const double *A; /* T^-T ((1/n) K_MN D K_NM) T^-1, upper triangle */
  size_t M, ld;
  double lambda;
} g_fill_t;

static void fill_gamma(void *arg, double *a) {
  g_fill_t *c = arg;
  const size_t M = c->M, ld = c->ld;
  for (size_t j = 0; j < M; j++)
    for (size_t i = 0; i <= j; i++) a[j * ld + i] = c->A[j * ld + i];
  for (size_t i = 0; i < M; i++) a[i * ld + i] += c->lambda;
}

/* Direct solver; T is the factor of K_MM + eps I. Per batch of event blocks: kernel rows S,
 * b += S^T r, Phi = S T^-1 (Nystrom features, one triangular solve per row), rows scaled by
 * sqrt(D), A += Phi^T Phi. Then (A / n + lambda I) gamma = T^-T b / n, alpha = T^-1 gamma. */
static nplm_status_t solve_direct(kfit_t *k, const double *T, double lambda, double *alpha,
                                  double *jitter) {
  const size_t B = NPLM__BLOCK, M = k->M, ld = k->ldc;
  double *A = nplm__malloc_array(2 * ld * ld + ld, sizeof *A);
  double *S = nplm__malloc_array(BATCH_BLOCKS * B * ld, sizeof *S);
  if (!A || !S) {
    nplm__free(A);
    nplm__free(S);
    return nplm__fail(NPLM_ENOMEM, "out of memory (direct solver, M = %zu)", M);
  }
  double *F = A + ld * ld, *b = F + ld * ld;
  memset(A, 0, ld * ld * sizeof *A);
  memset(b, 0, ld * sizeof *b);
  k->S = S;
  nplm_status_t s = NPLM_OK;
  for (size_t b0 = 0; b0 < k->n_blocks; b0 += BATCH_BLOCKS) {
    if (k->stop && atomic_load(k->stop)) {
      s = NPLM_ECANCELED;
      break;
    }
    const size_t nb = k->n_blocks - b0 < BATCH_BLOCKS ? k->n_blocks - b0 : BATCH_BLOCKS;
    const size_t rows = nb * B;
    k->batch0 = b0;
    nplm__pool_run(k->pool, nb, rows_task, k);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)rows, (int)ld, 1.0, S, (int)ld, k->r + b0 * B, 1,
                1.0, b, 1);
    /* S is rows x ld row-major = ld x rows column-major (one column per event): T^-T S^T */
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, (int)M, (int)rows,
                1.0, T, (int)ld, S, (int)ld);
    for (size_t e = 0; e < rows; e++) {
      const double sd = sqrt(k->D[b0 * B + e]);
      for (size_t i = 0; i < M; i++) S[e * ld + i] *= sd;
    }
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)M, (int)rows, 1.0, S, (int)ld, 1.0,
                A, (int)ld);
  }
  nplm__free(S);
  k->S = NULL;
  if (s == NPLM_OK) {
    for (size_t j = 0; j < M; j++)
      for (size_t i = 0; i <= j; i++) A[j * ld + i] /= (double)k->n;
    for (size_t i = 0; i < M; i++) b[i] /= (double)k->n;
    tt_solve(T, M, ld, b); /* T^-T b */
    g_fill_t gc = {A, M, ld, lambda};
    s = cholesky(F, M, ld, fill_gamma, &gc, 0.0, jitter);
  }
  if (s == NPLM_OK) {
    memcpy(alpha, b, M * sizeof *alpha);
    lapack_int info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (lapack_int)M, 1, F, (lapack_int)ld,
                                     alpha, (lapack_int)M);
    if (info != 0) s = nplm__fail(NPLM_ENUMERIC, "dpotrs failed (%d)", (int)info);
    else t_solve(T, M, ld, alpha); /* alpha = T^-1 gamma */
  }
  nplm__free(A);
  return s;
}

typedef struct q_fill {
  const double *T;
  const double *dcent;
  size_t M, ld;
  double lambda;
} q_fill_t;

/* (1/M) T D_M T^T + lambda I: columns of T scaled by sqrt(D_j / M), then U U^T (dlauum). */
static void fill_q(void *arg, double *a) {
  q_fill_t *c = arg;
  const size_t M = c->M, ld = c->ld;
  for (size_t j = 0; j < M; j++) {
    const double sc = sqrt(c->dcent[j] / (double)M);
    for (size_t i = 0; i <= j; i++) a[j * ld + i] = c->T[j * ld + i] * sc;
  }
  (void)LAPACKE_dlauum(LAPACK_COL_MAJOR, 'U', (lapack_int)M, a, (lapack_int)ld);
  for (size_t i = 0; i < M; i++) a[i * ld + i] += c->lambda;
}

static double dot(const double *a, const double *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* out = [T^-T (1/n) K_MN D K_NM T^-1 + lambda I] v; w: scratch (ld). */
static nplm_status_t apply_g(kfit_t *k, const double *T, double lambda, const double *v,
                             double *w, double *out) {
  const size_t M = k->M, ld = k->ldc;
  memcpy(w, v, M * sizeof *w);
  t_solve(T, M, ld, w);
  nplm_status_t s = pass_kmn(k, w, out);
  if (s != NPLM_OK) return s;
  for (size_t i = 0; i < M; i++) out[i] /= (double)k->n;
  tt_solve(T, M, ld, out);
  for (size_t i = 0; i < M; i++) out[i] += lambda * v[i];
  return NPLM_OK;
}

/* Preconditioned CG on gamma from gamma = T alpha (alpha's entries are the start; padding 0). */
static nplm_status_t solve_cg(kfit_t *k, const double *T, double lambda, const double *dcent,
                              double tol, int64_t max_iter, double *alpha, double *jitter,
                              int64_t *iters, double *resid, int *converged) {
  const size_t M = k->M, ld = k->ldc;
  double *R = nplm__malloc_array(ld * ld, sizeof *R);
  double *v = nplm__malloc_array(6 * ld, sizeof *v);
  if (!R || !v) {
    nplm__free(R);
    nplm__free(v);
    return nplm__fail(NPLM_ENOMEM, "out of memory (CG solver, M = %zu)", M);
  }
  double *b = v, *res = b + ld, *z = res + ld, *p = z + ld, *hp = p + ld, *w = hp + ld;
  memset(v, 0, 6 * ld * sizeof *v);
  q_fill_t qc = {T, dcent, M, ld, lambda > 0.0 ? lambda : 1e-12};
  nplm_status_t s = cholesky(R, M, ld, fill_q, &qc, 0.0, jitter);
  double *gam = alpha; /* gamma = T alpha, in place (upper triangular product) */
  if (s == NPLM_OK) {
    cblas_dtrmv(CblasColMajor, CblasUpper, CblasNoTrans, CblasNonUnit, (int)M, T, (int)ld, gam, 1);
    s = pass_kmn(k, NULL, b); /* b = T^-T (1/n) K_MN r */
  }
  int zero_start = 1;
  for (size_t i = 0; i < M; i++) zero_start = zero_start && gam[i] == 0.0;
  if (s == NPLM_OK) {
    for (size_t i = 0; i < M; i++) b[i] /= (double)k->n;
    tt_solve(T, M, ld, b);
    if (zero_start) memset(hp, 0, ld * sizeof *hp); /* H 0 = 0: no pass */
    else s = apply_g(k, T, lambda, gam, w, hp);
  }
  const double bnorm = sqrt(dot(b, b, M));
  double rz = 0.0, rnorm = 0.0;
  int64_t it = 0;
  if (s == NPLM_OK) {
    for (size_t i = 0; i < M; i++) res[i] = b[i] - hp[i];
    memcpy(z, res, M * sizeof *z);
    LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (lapack_int)M, 1, R, (lapack_int)ld, z, (lapack_int)M);
    memcpy(p, z, M * sizeof *p);
    rz = dot(res, z, M);
    rnorm = sqrt(dot(res, res, M));
  }
  *converged = 0;
  while (s == NPLM_OK) {
    if (!(bnorm > 0.0) || rnorm <= tol * bnorm) {
      *converged = 1;
      break;
    }
    if (it >= max_iter) break;
    s = apply_g(k, T, lambda, p, w, hp);
    if (s != NPLM_OK) break;
    const double php = dot(p, hp, M);
    if (!(php > 0.0)) break; /* rounding dominates the curvature: as far as CG can go */
    const double a = rz / php;
    for (size_t i = 0; i < M; i++) {
      gam[i] += a * p[i];
      res[i] -= a * hp[i];
    }
    it++;
    rnorm = sqrt(dot(res, res, M));
    memcpy(z, res, M * sizeof *z);
    LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (lapack_int)M, 1, R, (lapack_int)ld, z, (lapack_int)M);
    const double rz_new = dot(res, z, M), beta = rz_new / rz;
    rz = rz_new;
    for (size_t i = 0; i < M; i++) p[i] = z[i] + beta * p[i];
  }
  if (s == NPLM_OK) t_solve(T, M, ld, gam); /* alpha = T^-1 gamma */
  *iters = it;
  *resid = bnorm > 0.0 ? rnorm / bnorm : 0.0;
  nplm__free(R);
  nplm__free(v);
  return s;
}

/* Logistic s(z) = 1 / (1 + e^-z), written to be exact for large |z|. */
static double logistic(double z) {
  return z >= 0.0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

static double opt_or(const nplm_test_t *t, nplm_option_t key, double fallback) {
  double v = nplm__test_opt(t, key);
  return v > 0.0 ? v : fallback;
}

nplm_status_t nplm__kernel_fit(const nplm_test_t *t, nplm__pool_t *pool, atomic_int *stop,
                               const nplm__events_t *data, uint64_t seed, uint64_t index,
                               nplm_model_t **fitted, nplm__kernel_report_t *rep) {
  const nplm_model_t *fam = t->family;
  const nplm__events_t *ref = &t->ref;
  const size_t B = NPLM__BLOCK, d = fam->d;
  const size_t n = ref->n + data->n;
  memset(rep, 0, sizeof *rep);
  size_t M = (size_t)nplm__test_opt(t, NPLM_OPT_KERNEL_CENTERS);
  if (M == 0) M = fam->k_req;
  if (M == 0) M = (size_t)ceil(sqrt((double)n));
  if (M > n)
    return nplm__fail(NPLM_EINVAL, "%zu centres requested but the run has %zu events", M, n);
  const double sigma = opt_or(t, NPLM_OPT_KERNEL_SIGMA, fam->k_sigma);
  const double lam_opt = nplm__test_opt(t, NPLM_OPT_KERNEL_LAMBDA);
  const double lambda = lam_opt >= 0.0 ? lam_opt : fam->k_lambda;
  const int steps = (int)nplm__test_opt(t, NPLM_OPT_NEWTON_STEPS);
  int solver = (int)nplm__test_opt(t, NPLM_OPT_KERNEL_SOLVER);
  if (solver == NPLM_SOLVER_AUTO) solver = M <= DIRECT_MAX_M ? NPLM_SOLVER_DIRECT : NPLM_SOLVER_CG;

  kfit_t k;
  memset(&k, 0, sizeof k);
  k.gk = nplm__gauss_kernels();
  k.pool = pool;
  k.threads = nplm__pool_threads(pool);
  k.stop = stop;
  k.d = d;
  k.M = M;
  k.ldc = nplm__gauss_ld(M);
  k.n_blocks = ref->n_blocks + data->n_blocks;
  k.n = n;
  k.c_blocks = (M + B - 1) / B;
  const size_t slots_ev = k.n_blocks * B, ld = k.ldc;
  const size_t chunks = (k.n_blocks + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS;
  nplm_model_t *fm = NULL;
  nplm_status_t s = nplm__model_new_kernel(&fm, d, fam->k_req, sigma, lambda, M, "kernel fit");
  if (s != NPLM_OK) return s;
  double *buf = nplm__malloc_array(slots_ev * (d + 5) + d * ld + k.c_blocks * d * B +
                                       (size_t)k.threads * NPLM__LANES * ld + chunks * ld + ld +
                                       M,
                                   sizeof *buf);
  size_t *cnt = nplm__malloc_array(k.n_blocks + M, sizeof *cnt);
  if (!buf || !cnt) {
    nplm__free(buf);
    nplm__free(cnt);
    nplm_model_free(fm);
    return nplm__fail(NPLM_ENOMEM, "out of memory (kernel fit: %zu events, %zu centres)", n, M);
  }
  k.x = buf;
  k.ca = k.x + slots_ev * d;
  k.cb = k.ca + slots_ev;
  k.f = k.cb + slots_ev;
  k.D = k.f + slots_ev;
  k.r = k.D + slots_ev;
  k.ct = k.r + slots_ev;
  k.cblk = k.ct + d * ld;
  k.tmp = k.cblk + k.c_blocks * d * B;
  k.slots = k.tmp + (size_t)k.threads * NPLM__LANES * ld;
  double *alpha = k.slots + chunks * ld, *dcent = alpha + ld;
  k.count = cnt;
  size_t *cidx = cnt + k.n_blocks;

  /* events: reference blocks then data blocks, standardised copies */
  for (size_t b = 0; b < k.n_blocks; b++) {
    const nplm__events_t *ev = b < ref->n_blocks ? ref : data;
    const size_t lb = b < ref->n_blocks ? b : b - ref->n_blocks;
    memcpy(k.x + b * d * B, ev->x + lb * d * B, d * B * sizeof *k.x);
    memcpy(k.ca + b * B, ev->ca + lb * B, B * sizeof *k.ca);
    memcpy(k.cb + b * B, ev->cb + lb * B, B * sizeof *k.cb);
    k.count[b] = ev->n - lb * B < B ? ev->n - lb * B : B;
  }
  double *shift = fm->k_data + M * d, *scale = shift + d;
  if ((int)nplm__test_opt(t, NPLM_OPT_STANDARDIZE)) {
    for (size_t j = 0; j < d; j++) { /* weighted mean and standard deviation of the reference */
      double sw = 0.0, m1 = 0.0, m2 = 0.0;
      for (size_t b = 0; b < ref->n_blocks; b++)
        for (size_t e = 0; e < B; e++) {
          const double w = ref->ca[b * B + e], v = ref->x[(b * d + j) * B + e];
          sw += w;
          m1 += w * v;
        }
      m1 /= sw;
      for (size_t b = 0; b < ref->n_blocks; b++)
        for (size_t e = 0; e < B; e++) {
          const double w = ref->ca[b * B + e], v = ref->x[(b * d + j) * B + e] - m1;
          m2 += w * v * v;
        }
      const double sd = sqrt(m2 / sw);
      shift[j] = m1;
      scale[j] = sd > 0.0 && isfinite(sd) ? 1.0 / sd : 1.0;
    }
    for (size_t b = 0; b < k.n_blocks; b++) nplm__kernel_standardise_block(fm, k.x + b * d * B);
  }
  /* centres: M of the n pooled events, without replacement, from (seed, index) */
  nplm__rng_t rng;
  nplm__rng_init(&rng, seed, nplm__rng_stream(NPLM__RNG_CENTERS, index));
  nplm__sample_indices(&rng, n, M, cidx);
  for (size_t i = 0; i < M; i++) {
    const size_t e = cidx[i] < ref->n ? cidx[i] : cidx[i] - ref->n;
    const size_t b = (cidx[i] < ref->n ? 0 : ref->n_blocks) + e / B;
    cidx[i] = b * B + e % B; /* now a slot */
    for (size_t j = 0; j < d; j++) fm->k_data[i * d + j] = k.x[(b * d + j) * B + e % B];
  }
  /* kernel coordinates: multiplied by sqrt(1 / (2 sigma^2)), as nplm_model_eval does */
  const double q = nplm__kernel_coord_scale(sigma);
  for (size_t i = 0; i < slots_ev * d; i++) k.x[i] *= q;
  for (size_t j = 0; j < d; j++)
    for (size_t i = 0; i < ld; i++)
      k.ct[j * ld + i] = fm->k_data[(i < M ? i : M - 1) * d + j] * q;
  for (size_t b = 0; b < k.c_blocks; b++) {
    const size_t cnt_b = M - b * B < B ? M - b * B : B;
    nplm__pack_block(fm->k_data, d, b * B, cnt_b, k.cblk + b * d * B);
    for (size_t i = 0; i < d * B; i++) k.cblk[b * d * B + i] *= q;
  }

  /* K_MM + eps I = T^T T, shared by the Newton steps */
  double *T = nplm__malloc_array(ld * ld, sizeof *T);
  double kmm_jitter = 0.0;
  s = T ? cholesky(T, M, ld, fill_kmm, &k, KMM_JITTER, &kmm_jitter)
        : nplm__fail(NPLM_ENOMEM, "out of memory (kernel fit: %zu centres)", M);
  /* Newton steps from f = 0 */
  memset(k.f, 0, slots_ev * sizeof *k.f);
  memset(alpha, 0, ld * sizeof *alpha);
  const double tol = nplm__test_opt(t, NPLM_OPT_CG_TOLERANCE);
  const int64_t max_iter = (int64_t)nplm__test_opt(t, NPLM_OPT_CG_MAX_ITERATIONS);
  rep->converged = 1;
  for (int step = 0; step < steps && s == NPLM_OK; step++) {
    for (size_t e = 0; e < slots_ev; e++) {
      const double W = k.ca[e] + k.cb[e], y = k.cb[e] > 0.0 ? 1.0 : -1.0, f = k.f[e];
      const double sp = logistic(f), sm = logistic(-f);
      k.D[e] = W * sp * sm;
      k.r[e] = k.D[e] * f + W * y * logistic(-y * f); /* D f - g */
    }
    for (size_t i = 0; i < M; i++) dcent[i] = k.D[cidx[i]];
    double jitter = 0.0, resid = 0.0;
    if (solver == NPLM_SOLVER_DIRECT) {
      s = solve_direct(&k, T, lambda, alpha, &jitter);
      rep->passes += 1;
    } else {
      int64_t it = 0;
      int conv = 0;
      s = solve_cg(&k, T, lambda, dcent, tol, max_iter, alpha, &jitter, &it, &resid, &conv);
      rep->iterations += it;
      rep->passes += it + 1 + (step > 0);
      rep->converged = rep->converged && conv;
    }
    rep->jitter = jitter > kmm_jitter ? jitter : kmm_jitter;
    rep->residual = resid;
    if (s != NPLM_OK) break;
    /* f = K_NM alpha on every event */
    double *keep_slots = k.slots;
    k.slots = NULL;
    k.v = alpha;
    k.w_acc = k.D;
    nplm__pool_run(k.pool, chunks, hv_task, &k);
    k.slots = keep_slots;
    rep->passes += 1;
    if (stop && atomic_load(stop)) s = NPLM_ECANCELED;
  }
  if (s == NPLM_OK) {
    /* t = -2 L[f] over the training events, summed block by block in order */
    double L = 0.0;
    for (size_t b = 0; b < k.n_blocks; b++) {
      double lb = 0.0;
      for (size_t e = b * B; e < (b + 1) * B; e++)
        if (k.ca[e] != 0.0 || k.cb[e] != 0.0) lb += k.ca[e] * expm1(k.f[e]) - k.cb[e] * k.f[e];
      L += lb;
    }
    if (!isfinite(L)) s = nplm__fail(NPLM_ENUMERIC, "the fitted f overflows (t is not finite)");
    rep->loss = L;
    rep->t = -2.0 * L;
    rep->m = M;
  }
  if (s == NPLM_OK && fitted) {
    memcpy(fm->params, alpha, M * sizeof *alpha);
    *fitted = fm;
    fm = NULL;
  }
  nplm_model_free(fm);
  nplm__free(T);
  nplm__free(buf);
  nplm__free(cnt);
  if (s == NPLM_ECANCELED) s = nplm__fail(NPLM_ECANCELED, "canceled");
  return s;
}
