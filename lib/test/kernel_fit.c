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
 * for overlapping centres) and of low numerical rank, so both solvers work in a basis from its
 * pivoted Cholesky factor: K_MM ~ L L^T (L: M x r, stopped when every remaining diagonal of the
 * Schur complement is below 1e-13, i.e. |K_MM - L L^T| <= 1e-13 M in trace), the penalty uses
 * L L^T + eps I (eps = 1e-12), and with L = Q R, R2^T R2 = R R^T + eps I,
 *   alpha = Q R2^-1 gamma:  [R2^-T Q^T ((1/n) K_MN D K_NM) Q R2^-1 + lambda I] gamma
 *                             = R2^-T Q^T (1/n) K_MN (D f - g),
 * whose eigenvalues are >= lambda (Falkon's formulation, in r instead of M dimensions). This is
 * the system above with K_MM replaced by L L^T + eps I in the penalty and alpha restricted to
 * the range of L; t moves by about 1e-5 relative against the full-rank K_MM + eps I system,
 * the size of its own rounding sensitivity. The pivots come in blocks (candidates drawn with
 * probability proportional to the remaining diagonal from the stream (pivots, toy), the best
 * kept greedily), so the factor costs O(M r^2) level-3 flops instead of M^3 / 3.
 *
 * Direct solver: the features R2^-T Q^T K_MN are accumulated over batches of event blocks
 * (kernel rows on the worker threads, then BLAS dgemm, dtrsm and dsyrk per batch) into the r x r
 * matrix, factorised by Cholesky. CG solver: conjugate gradient on gamma, the kernel rows
 * recomputed block by block in every iteration (never stored), preconditioned by
 *   (1/M) E^T (Q^T D_M Q) E + lambda I,  E = R R^T R2^-1 = R2^T - eps R2^-1
 * (D_M: the Newton weights of the events chosen as centres), the matrix when
 * K_MN D K_NM / n ~ (1/M) K_MM D_M K_MM, i.e. when the centres are a uniform subsample.
 *
 * Reproducibility: blocks are grouped in fixed chunks whose partial sums are reduced in order,
 * so nothing depends on the thread count; BLAS level-2/3 calls split the output, not the sums. */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/gauss.h"
#include "test/test_internal.h"

#define BATCH_BLOCKS 16  /* direct solver: blocks per dsyrk */
#define CHUNK_BLOCKS 8   /* CG passes: blocks per partial sum */
#define DIRECT_MAX_M 400
#define KMM_JITTER 1e-12 /* eps of the penalty L L^T + eps I (K_MM has unit diagonal) */
#define KMM_TRUNCATE 1e-13 /* the pivoted Cholesky stops below this remaining diagonal */

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

/* Cholesky of the n x n upper triangle of a (column-major, lda) as filled by fill, adding a
 * jitter relative to the mean diagonal (1e-14, 1e-13, ... 1e-4) when it is not numerically
 * positive definite. */
static nplm_status_t cholesky(double *a, size_t n, size_t lda, fill_fn fill, void *ctx,
                              double *jitter) {
  fill(ctx, a);
  double mean_diag = 0.0;
  for (size_t i = 0; i < n; i++) mean_diag += a[i * lda + i];
  mean_diag /= (double)n;
  if (!(mean_diag > 0.0) || !isfinite(mean_diag))
    return nplm__fail(NPLM_ENUMERIC, "the kernel system has a non-positive or non-finite "
                                     "diagonal");
  double eps = 0.0;
  for (int attempt = 0; attempt < 12 && eps <= 1e-4; attempt++) {
    if (attempt > 0) {
      fill(ctx, a);
      eps = eps == 0.0 ? 1e-14 : eps * 10.0;
      for (size_t i = 0; i < n; i++) a[i * lda + i] += eps * mean_diag;
    }
    lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)n, a, (lapack_int)lda);
    if (info == 0) {
      *jitter = eps;
      return NPLM_OK;
    }
    if (info < 0) return nplm__fail(NPLM_ENUMERIC, "dpotrf: bad argument %d", (int)-info);
  }
  return nplm__fail(NPLM_ENUMERIC, "the kernel system is not positive definite even with a "
                                   "jitter of 1e-4 of its mean diagonal");
}

/* The low-rank factor of K_MM and the basis both solvers work in:
 *   K_MM ~ L L^T (L: M x r, pivoted Cholesky stopped when no remaining diagonal exceeds eps),
 *   L = Q R (Q: M x r orthonormal), R2^T R2 = R R^T + eps I (R2: r x r upper triangular),
 *   alpha = Q R2^-1 gamma, so that alpha^T (L L^T + eps I) alpha = |gamma|^2. */
typedef struct lowrank {
  size_t r;
  double *Q;  /* ldc x r, column-major; rows >= M are 0 */
  double *R2; /* r x r upper */
  double eps;
} lowrank_t;

static void lowrank_free(lowrank_t *lr) {
  nplm__free(lr->Q);
  nplm__free(lr->R2);
  memset(lr, 0, sizeof *lr);
}

/* Kernel rows K[c_q, :] of the centres c_q = idx[q], q < cnt <= NPLM__BLOCK, into out (cnt rows
 * of ldc; blk: d x NPLM__BLOCK scratch). */
static void centre_rows(const kfit_t *k, const size_t *idx, size_t cnt, double *blk,
                        double *out) {
  const size_t B = NPLM__BLOCK;
  memset(blk, 0, k->d * B * sizeof *blk);
  for (size_t j = 0; j < k->d; j++)
    for (size_t q = 0; q < cnt; q++) blk[j * B + q] = k->ct[j * k->ldc + idx[q]];
  k->gk->rows(blk, k->d, cnt, k->ct, k->ldc, out, k->ldc);
}

static int cmp_size(const void *a, const void *b) {
  const size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

/* The pivoted Cholesky's products, written out so that each entry is summed in one fixed order
 * on one thread (BLAS may split sums differently with its own thread count, and rounding then
 * changes which pivots are taken). Rows go to the pool in fixed chunks. */
#define PC_ROWS 64
typedef struct pc_task {
  const nplm__gauss_kernels_t *gk;
  const double *L;   /* ld x r, column-major */
  const double *Ls;  /* r rows of the chosen centres: Ls[c * B + p] = L[c, S'_p] */
  const double *Lb;  /* na x na lower Cholesky factor of their Schur block (ld B) */
  double *Ln;        /* ld x na: on entry K[:, S'], on exit the new columns of L */
  double *dg;        /* remaining diagonal, updated */
  const double *LS;  /* candidates: LS[c * B + q] = L[c, S_q] */
  double *A;         /* candidates' Schur block (ld B) */
  size_t ld, r, na, ns;
} pc_task_t;

/* The new columns and the remaining diagonal for the rows of chunk ch (gauss.h's lowrank). */
static void pc_rows_task(void *arg, size_t ch, int worker) {
  (void)worker;
  const pc_task_t *c = arg;
  const size_t i0 = ch * PC_ROWS;
  const size_t nr = c->ld - i0 < PC_ROWS ? c->ld - i0 : PC_ROWS;
  c->gk->lowrank(c->L, c->ld, c->r, c->Ls, NPLM__BLOCK, c->Lb, NPLM__BLOCK, c->na, i0, nr, c->Ln,
                 c->dg);
}

/* A[:, q2] -= LS LS[q2, :]^T for the candidates' column q2. */
static void pc_schur_task(void *arg, size_t q2, int worker) {
  (void)worker;
  const pc_task_t *c = arg;
  const size_t B = NPLM__BLOCK;
  for (size_t q1 = 0; q1 < c->ns; q1++) {
    double s = 0.0;
    for (size_t k = 0; k < c->r; k++) s += c->LS[k * B + q1] * c->LS[k * B + q2];
    c->A[q2 * B + q1] -= s;
  }
}

/* Pivoted Cholesky of K_MM (unit diagonal) until every remaining diagonal is below eps, by blocks:
 * each round draws up to NPLM__BLOCK candidate centres with probability proportional to the
 * remaining diagonal (plus the largest), picks among them greedily on their exact Schur
 * complement (pivots >= eps), then computes those columns with gauss.h's lowrank kernel on the
 * pool (randomly pivoted block Cholesky). On success *Lp (ldc x *rp, column-major, rows >= M zero) is owned by
 * the caller. */
static nplm_status_t pivoted_cholesky(const kfit_t *k, nplm__rng_t *rng, double eps, double **Lp,
                                      size_t *rp) {
  const size_t M = k->M, ld = k->ldc, B = NPLM__BLOCK;
  size_t r = 0, cap = M < 256 ? M : 256;
  double *L = nplm__malloc_array(ld * cap, sizeof *L);
  double *wk = nplm__malloc_array(2 * ld + B * ld + 3 * B * B + k->d * B + B, sizeof *wk);
  double *LS = NULL;
  size_t *S = nplm__malloc_array(2 * B + 1, sizeof *S);
  nplm_status_t s = NPLM_OK;
  if (!L || !wk || !S) s = nplm__fail(NPLM_ENOMEM, "out of memory (low-rank factor, M = %zu)", M);
  double *dg = wk, *cum = dg + ld, *Kr = cum + ld, *A = Kr + B * ld, *F = A + B * B,
         *Lb = F + B * B, *blk = Lb + B * B, *dq = blk + k->d * B;
  size_t *sel = S + B + 1;
  for (size_t i = 0; s == NPLM_OK && i < ld; i++) dg[i] = i < M ? 1.0 : 0.0;
  while (s == NPLM_OK && r < M) {
    if (k->stop && atomic_load(k->stop)) {
      s = NPLM_ECANCELED;
      break;
    }
    size_t imax = 0;
    double total = 0.0;
    for (size_t i = 0; i < M; i++) {
      if (dg[i] > dg[imax]) imax = i;
      total += dg[i];
      cum[i] = total;
    }
    if (!(dg[imax] >= eps)) break;
    /* candidates: the largest remaining diagonal and draws proportional to the diagonal */
    const size_t want = M - r < B ? M - r : B;
    size_t ns = 0;
    S[ns++] = imax;
    for (size_t q = 1; q < want; q++) {
      const double u = nplm__rng_uniform(rng) * total;
      size_t lo = 0, hi = M - 1;
      while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      if (dg[lo] > 0.0) S[ns++] = lo;
    }
    qsort(S, ns, sizeof *S, cmp_size);
    size_t nu = 0;
    for (size_t q = 0; q < ns; q++)
      if (nu == 0 || S[q] != S[nu - 1]) S[nu++] = S[q];
    ns = nu;
    /* Schur complement of the candidates: A = K[S,S] - L[S,:] L[S,:]^T (ns x ns, ld B) */
    centre_rows(k, S, ns, blk, Kr);
    nplm__free(LS);
    LS = r ? nplm__malloc_array(2 * B * r, sizeof *LS) : NULL;
    if (r && !LS) {
      s = nplm__fail(NPLM_ENOMEM, "out of memory (low-rank factor, rank %zu)", r);
      break;
    }
    for (size_t c = 0; c < r; c++)
      for (size_t q = 0; q < ns; q++) LS[c * B + q] = L[c * ld + S[q]];
    for (size_t q2 = 0; q2 < ns; q2++)
      for (size_t q1 = 0; q1 < ns; q1++) A[q2 * B + q1] = Kr[q1 * ld + S[q2]];
    pc_task_t pt = {k->gk, L, LS + r * B, Lb, NULL, dg, LS, A, ld, r, 0, ns};
    if (r) nplm__pool_run(k->pool, ns, pc_schur_task, &pt);
    /* greedy pivots among the candidates on their running Schur diagonal dq (NAN once taken):
     * F (ns x na) their Cholesky columns */
    for (size_t q = 0; q < ns; q++) dq[q] = A[q * B + q];
    size_t na = 0;
    for (;;) {
      size_t jb = ns;
      double best = eps;
      for (size_t q = 0; q < ns; q++)
        if (dq[q] >= best) {
          best = dq[q];
          jb = q;
        }
      if (jb == ns) break;
      const double piv = sqrt(best);
      for (size_t q = 0; q < ns; q++) {
        double v = A[jb * B + q];
        for (size_t p = 0; p < na; p++) v -= F[p * B + q] * F[p * B + jb];
        F[na * B + q] = v / piv;
        dq[q] -= F[na * B + q] * F[na * B + q];
      }
      F[na * B + jb] = piv; /* exactly, not (piv^2) / piv */
      dq[jb] = (double)NAN;
      sel[na++] = jb;
    }
    if (na == 0) break; /* rounding: nothing left above eps */
    /* the chosen columns: (K[:, S'] - L L[S',:]^T) Lb^-T, Lb = F's rows at the pivots (the
     * Cholesky factor of their Schur block) */
    if (r + na > cap) {
      size_t nc = cap * 2 > r + na ? cap * 2 : r + na;
      if (nc > M) nc = M;
      double *nl = nplm__malloc_array(ld * nc, sizeof *L);
      if (!nl) {
        s = nplm__fail(NPLM_ENOMEM, "out of memory (low-rank factor, rank %zu)", r + na);
        break;
      }
      memcpy(nl, L, ld * r * sizeof *L);
      nplm__free(L);
      L = nl;
      cap = nc;
    }
    double *Ln = L + r * ld;
    for (size_t p = 0; p < na; p++) {
      memcpy(Ln + p * ld, Kr + sel[p] * ld, M * sizeof *Ln);
      memset(Ln + p * ld + M, 0, (ld - M) * sizeof *Ln);
      for (size_t c = 0; c < r; c++) LS[(r + c) * B + p] = LS[c * B + sel[p]];
    }
    for (size_t p2 = 0; p2 < na; p2++)
      for (size_t p1 = p2; p1 < na; p1++) Lb[p2 * B + p1] = F[p2 * B + sel[p1]];
    pt.L = L;
    pt.Ln = Ln;
    pt.na = na;
    nplm__pool_run(k->pool, (ld + PC_ROWS - 1) / PC_ROWS, pc_rows_task, &pt);
    for (size_t p = 0; p < na; p++) dg[S[sel[p]]] = 0.0;
    for (size_t i = 0; i < M; i++)
      if (!(dg[i] > 0.0)) dg[i] = 0.0;
    r += na;
  }
  nplm__free(LS);
  nplm__free(wk);
  nplm__free(S);
  if (s != NPLM_OK) {
    nplm__free(L);
    return s;
  }
  *Lp = L;
  *rp = r;
  return NPLM_OK;
}

/* Q, R and R2 from the pivoted Cholesky factor (see lowrank_t). */
static nplm_status_t lowrank_build(const kfit_t *k, nplm__rng_t *rng, lowrank_t *lr) {
  const size_t M = k->M, ld = k->ldc;
  const double eps = KMM_JITTER;
  memset(lr, 0, sizeof *lr);
  lr->eps = eps;
  nplm_status_t s = pivoted_cholesky(k, rng, KMM_TRUNCATE, &lr->Q, &lr->r);
  if (s != NPLM_OK) return s;
  const size_t r = lr->r;
  if (r == 0) {
    lowrank_free(lr);
    return nplm__fail(NPLM_ENUMERIC, "the kernel matrix of the centres has no diagonal above "
                                     "its jitter");
  }
  lr->R2 = nplm__malloc_array(r * r, sizeof *lr->R2);
  double *Z = nplm__malloc_array(2 * r * r + 2 * r, sizeof *Z);
  if (!lr->R2 || !Z) {
    nplm__free(Z);
    lowrank_free(lr);
    return nplm__fail(NPLM_ENOMEM, "out of memory (low-rank factor, rank %zu)", r);
  }
  double *tq = Z + 2 * r * r;
  lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)M, (lapack_int)r, lr->Q,
                                   (lapack_int)ld, tq);
  /* R2 from the QR of [R^T; sqrt(eps) I] (2r x r): R2^T R2 = R R^T + eps I, without forming
   * R R^T (R: the upper triangle the QR left in Q) */
  memset(Z, 0, 2 * r * r * sizeof *Z);
  for (size_t c = 0; c < r; c++) {
    for (size_t i = c; i < r; i++) Z[c * 2 * r + i] = lr->Q[i * ld + c];
    Z[c * 2 * r + r + c] = sqrt(eps);
  }
  if (info == 0)
    info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, (lapack_int)M, (lapack_int)r, (lapack_int)r, lr->Q,
                          (lapack_int)ld, tq);
  if (info == 0)
    info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)(2 * r), (lapack_int)r, Z,
                          (lapack_int)(2 * r), tq);
  memset(lr->R2, 0, r * r * sizeof *lr->R2);
  for (size_t c = 0; c < r; c++)
    for (size_t i = 0; i <= c; i++) lr->R2[c * r + i] = Z[c * 2 * r + i];
  nplm__free(Z);
  if (info != 0) {
    lowrank_free(lr);
    return nplm__fail(NPLM_ENUMERIC, "QR of the low-rank factor failed (%d)", (int)info);
  }
  return NPLM_OK;
}

/* alpha (ldc, padding 0) = Q R2^-1 gamma; w: scratch (r). */
static void to_alpha(const kfit_t *k, const lowrank_t *lr, const double *gamma, double *w,
                     double *alpha) {
  const size_t r = lr->r;
  memcpy(w, gamma, r * sizeof *w);
  cblas_dtrsv(CblasColMajor, CblasUpper, CblasNoTrans, CblasNonUnit, (int)r, lr->R2, (int)r, w, 1);
  memset(alpha, 0, k->ldc * sizeof *alpha);
  cblas_dgemv(CblasColMajor, CblasNoTrans, (int)k->M, (int)r, 1.0, lr->Q, (int)k->ldc, w, 1, 0.0,
              alpha, 1);
}

/* out (r) = R2^-T Q^T v / n for v with M entries. */
static void from_centres(const kfit_t *k, const lowrank_t *lr, const double *v, double *out) {
  const size_t r = lr->r;
  cblas_dgemv(CblasColMajor, CblasTrans, (int)k->M, (int)r, 1.0 / (double)k->n, lr->Q,
              (int)k->ldc, v, 1, 0.0, out, 1);
  cblas_dtrsv(CblasColMajor, CblasUpper, CblasTrans, CblasNonUnit, (int)r, lr->R2, (int)r, out, 1);
}

typedef struct g_fill {
  const double *A; /* R2^-T Q^T ((1/n) K_MN D K_NM) Q R2^-1, upper triangle (r x r, ld r) */
  size_t r;
  double lambda;
} g_fill_t;

static void fill_gamma(void *arg, double *a) {
  g_fill_t *c = arg;
  const size_t r = c->r;
  for (size_t j = 0; j < r; j++)
    for (size_t i = 0; i <= j; i++) a[j * r + i] = c->A[j * r + i];
  for (size_t i = 0; i < r; i++) a[i * r + i] += c->lambda;
}

/* Direct solver. Per batch of event blocks: kernel rows S, b += S^T r, features
 * X = R2^-T Q^T S^T (r x events), columns scaled by sqrt(D), A += X X^T. Then
 * (A / n + lambda I) gamma = R2^-T Q^T b / n, alpha = Q R2^-1 gamma. */
static nplm_status_t solve_direct(kfit_t *k, const lowrank_t *lr, double lambda, double *alpha,
                                  double *jitter) {
  const size_t B = NPLM__BLOCK, M = k->M, ld = k->ldc, r = lr->r, rows_max = BATCH_BLOCKS * B;
  double *A = nplm__malloc_array(2 * r * r + 2 * r + ld, sizeof *A);
  double *S = nplm__malloc_array(rows_max * (ld + r), sizeof *S);
  if (!A || !S) {
    nplm__free(A);
    nplm__free(S);
    return nplm__fail(NPLM_ENOMEM, "out of memory (direct solver, M = %zu)", M);
  }
  double *F = A + r * r, *g = F + r * r, *w = g + r, *b = w + r, *X = S + rows_max * ld;
  memset(A, 0, r * r * sizeof *A);
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
    /* S is rows x ld row-major = ld x rows column-major (one column per event) */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)r, (int)rows, (int)M, 1.0, lr->Q,
                (int)ld, S, (int)ld, 0.0, X, (int)r);
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, (int)r, (int)rows,
                1.0, lr->R2, (int)r, X, (int)r);
    for (size_t e = 0; e < rows; e++) {
      const double sd = sqrt(k->D[b0 * B + e]);
      for (size_t i = 0; i < r; i++) X[e * r + i] *= sd;
    }
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)r, (int)rows, 1.0, X, (int)r, 1.0,
                A, (int)r);
  }
  nplm__free(S);
  k->S = NULL;
  if (s == NPLM_OK) {
    for (size_t j = 0; j < r; j++)
      for (size_t i = 0; i <= j; i++) A[j * r + i] /= (double)k->n;
    from_centres(k, lr, b, g); /* R2^-T Q^T b / n */
    g_fill_t gc = {A, r, lambda};
    s = cholesky(F, r, r, fill_gamma, &gc, jitter);
  }
  if (s == NPLM_OK) {
    lapack_int info =
        LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (lapack_int)r, 1, F, (lapack_int)r, g, (lapack_int)r);
    if (info != 0) s = nplm__fail(NPLM_ENUMERIC, "dpotrs failed (%d)", (int)info);
    else to_alpha(k, lr, g, w, alpha);
  }
  nplm__free(A);
  return s;
}

typedef struct q_fill {
  const double *E, *C; /* r x r: E = R R^T R2^-1 = R2^T - eps R2^-1; C = Q^T D_M Q */
  double *W;           /* r x r scratch */
  size_t r, M;
  double lambda;
} q_fill_t;

/* The preconditioner (1/M) E^T C E + lambda I: with K_MN D K_NM / n ~ (1/M) K_MM D_M K_MM for
 * centres drawn uniformly from the events (Falkon's approximation) and K_MM ~ L L^T, the
 * gamma system's matrix. */
static void fill_q(void *arg, double *a) {
  q_fill_t *c = arg;
  const int r = (int)c->r;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, r, r, r, 1.0, c->C, r, c->E, r, 0.0,
              c->W, r);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, r, r, r, 1.0 / (double)c->M, c->E, r,
              c->W, r, 0.0, a, r);
  for (size_t i = 0; i < c->r; i++) a[i * c->r + i] += c->lambda;
}

static double dot(const double *a, const double *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* out = [R2^-T Q^T (1/n) K_MN D K_NM Q R2^-1 + lambda I] v; w: scratch (r), am and acc: scratch
 * (ldc). */
static nplm_status_t apply_g(kfit_t *k, const lowrank_t *lr, double lambda, const double *v,
                             double *w, double *am, double *acc, double *out) {
  to_alpha(k, lr, v, w, am);
  nplm_status_t s = pass_kmn(k, am, acc);
  if (s != NPLM_OK) return s;
  from_centres(k, lr, acc, out);
  for (size_t i = 0; i < lr->r; i++) out[i] += lambda * v[i];
  return NPLM_OK;
}

/* The preconditioner's Cholesky factor (r x r upper) into P. */
static nplm_status_t preconditioner(const kfit_t *k, const lowrank_t *lr, double lambda,
                                    const double *dcent, double *P, double *jitter) {
  const size_t r = lr->r, M = k->M, ld = k->ldc, CH = 512;
  double *E = nplm__malloc_array(3 * r * r + CH * r + CH, sizeof *E);
  if (!E) return nplm__fail(NPLM_ENOMEM, "out of memory (CG preconditioner, rank %zu)", r);
  double *C = E + r * r, *W = C + r * r, *Y = W + r * r, *sd = Y + CH * r;
  /* E = R2^T - eps R2^-1 (= R R^T R2^-1, without the cancellation) */
  memcpy(W, lr->R2, r * r * sizeof *W);
  lapack_int info = LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)r, W, (lapack_int)r);
  nplm_status_t s = NPLM_OK;
  if (info != 0) s = nplm__fail(NPLM_ENUMERIC, "dtrtri failed (%d)", (int)info);
  for (size_t j = 0; s == NPLM_OK && j < r; j++)
    for (size_t i = 0; i < r; i++)
      E[j * r + i] = (i >= j ? lr->R2[i * r + j] : 0.0) - (i <= j ? lr->eps * W[j * r + i] : 0.0);
  /* C = Q^T D_M Q by chunks of rows */
  if (s == NPLM_OK) {
    memset(C, 0, r * r * sizeof *C);
    for (size_t i0 = 0; i0 < M; i0 += CH) {
      const size_t nr = M - i0 < CH ? M - i0 : CH;
      for (size_t i = 0; i < nr; i++) sd[i] = sqrt(dcent[i0 + i]);
      for (size_t c = 0; c < r; c++)
        for (size_t i = 0; i < nr; i++) Y[c * CH + i] = lr->Q[c * ld + i0 + i] * sd[i];
      cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int)r, (int)nr, 1.0, Y, (int)CH, 1.0, C,
                  (int)r);
    }
    for (size_t j = 0; j < r; j++)
      for (size_t i = j + 1; i < r; i++) C[j * r + i] = C[i * r + j];
    q_fill_t qc = {E, C, W, r, M, lambda > 0.0 ? lambda : 1e-12};
    s = cholesky(P, r, r, fill_q, &qc, jitter);
  }
  nplm__free(E);
  return s;
}

/* Preconditioned CG on gamma, started from gamma = R2 Q^T alpha (alpha's entries on entry; alpha
 * is then in the range of Q). */
static nplm_status_t solve_cg(kfit_t *k, const lowrank_t *lr, double lambda, const double *dcent,
                              double tol, int64_t max_iter, double *alpha, double *jitter,
                              int64_t *iters, double *resid, int *converged) {
  const size_t r = lr->r, ld = k->ldc;
  double *P = nplm__malloc_array(r * r, sizeof *P);
  double *v = nplm__malloc_array(7 * r + 2 * ld, sizeof *v);
  if (!P || !v) {
    nplm__free(P);
    nplm__free(v);
    return nplm__fail(NPLM_ENOMEM, "out of memory (CG solver, rank %zu)", r);
  }
  double *b = v, *res = b + r, *z = res + r, *p = z + r, *hp = p + r, *w = hp + r, *gam = w + r,
         *am = gam + r, *acc = am + ld;
  memset(v, 0, (7 * r + 2 * ld) * sizeof *v);
  nplm_status_t s = preconditioner(k, lr, lambda, dcent, P, jitter);
  int zero_start = 1;
  for (size_t i = 0; i < k->M; i++) zero_start = zero_start && alpha[i] == 0.0;
  if (s == NPLM_OK && !zero_start) {
    cblas_dgemv(CblasColMajor, CblasTrans, (int)k->M, (int)r, 1.0, lr->Q, (int)ld, alpha, 1, 0.0,
                gam, 1);
    cblas_dtrmv(CblasColMajor, CblasUpper, CblasNoTrans, CblasNonUnit, (int)r, lr->R2, (int)r,
                gam, 1);
  }
  if (s == NPLM_OK) s = pass_kmn(k, NULL, acc);
  if (s == NPLM_OK) {
    from_centres(k, lr, acc, b); /* R2^-T Q^T (1/n) K_MN r */
    if (zero_start) memset(hp, 0, r * sizeof *hp); /* H 0 = 0: no pass */
    else s = apply_g(k, lr, lambda, gam, w, am, acc, hp);
  }
  const double bnorm = sqrt(dot(b, b, r));
  double rz = 0.0, rnorm = 0.0;
  int64_t it = 0;
  if (s == NPLM_OK) {
    for (size_t i = 0; i < r; i++) res[i] = b[i] - hp[i];
    memcpy(z, res, r * sizeof *z);
    LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (lapack_int)r, 1, P, (lapack_int)r, z, (lapack_int)r);
    memcpy(p, z, r * sizeof *p);
    rz = dot(res, z, r);
    rnorm = sqrt(dot(res, res, r));
  }
  *converged = 0;
  while (s == NPLM_OK) {
    if (!(bnorm > 0.0) || rnorm <= tol * bnorm) {
      *converged = 1;
      break;
    }
    if (it >= max_iter) break;
    s = apply_g(k, lr, lambda, p, w, am, acc, hp);
    if (s != NPLM_OK) break;
    const double php = dot(p, hp, r);
    if (!(php > 0.0)) break; /* rounding dominates the curvature: as far as CG can go */
    const double a = rz / php;
    for (size_t i = 0; i < r; i++) {
      gam[i] += a * p[i];
      res[i] -= a * hp[i];
    }
    it++;
    rnorm = sqrt(dot(res, res, r));
    memcpy(z, res, r * sizeof *z);
    LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (lapack_int)r, 1, P, (lapack_int)r, z, (lapack_int)r);
    const double rz_new = dot(res, z, r), beta = rz_new / rz;
    rz = rz_new;
    for (size_t i = 0; i < r; i++) p[i] = z[i] + beta * p[i];
  }
  if (s == NPLM_OK) to_alpha(k, lr, gam, w, alpha);
  *iters = it;
  *resid = bnorm > 0.0 ? rnorm / bnorm : 0.0;
  nplm__free(P);
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

size_t nplm__kernel_centres(const nplm_test_t *t, size_t n_data) {
  size_t M = (size_t)nplm__test_opt(t, NPLM_OPT_KERNEL_CENTERS);
  if (M == 0) M = t->family->k_req;
  if (M == 0) M = (size_t)ceil(sqrt((double)(t->ref.n + n_data)));
  return M;
}

nplm_status_t nplm__kernel_fit(const nplm_test_t *t, nplm__pool_t *pool, atomic_int *stop,
                               const nplm__events_t *data, uint64_t seed, uint64_t index,
                               nplm_model_t **fitted, nplm__kernel_report_t *rep) {
  const nplm_model_t *fam = t->family;
  const nplm__events_t *ref = &t->ref;
  const size_t B = NPLM__BLOCK, d = fam->d;
  const size_t n = ref->n + data->n;
  memset(rep, 0, sizeof *rep);
  const size_t M = nplm__kernel_centres(t, data->n);
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
  const size_t slots_ev = k.n_blocks * B, ld = k.ldc;
  const size_t chunks = (k.n_blocks + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS;
  nplm_model_t *fm = NULL;
  nplm_status_t s = nplm__model_new_kernel(&fm, d, fam->k_req, sigma, lambda, M, "kernel fit");
  if (s != NPLM_OK) return s;
  double *buf = nplm__malloc_aligned(slots_ev * (d + 5) + d * ld +
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
  k.tmp = k.ct + d * ld;
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
      double sw = 0.0, m1 = 0.0, m2 = 0.0, big = 0.0;
      for (size_t b = 0; b < ref->n_blocks; b++)
        for (size_t e = 0; e < B; e++) {
          const double w = ref->ca[b * B + e], v = ref->x[(b * d + j) * B + e];
          sw += w;
          m1 += w * v;
          big = fmax(big, fabs(v));
        }
      m1 /= sw;
      for (size_t b = 0; b < ref->n_blocks; b++)
        for (size_t e = 0; e < B; e++) {
          const double w = ref->ca[b * B + e], v = ref->x[(b * d + j) * B + e] - m1;
          m2 += w * v * v;
        }
      const double sd = sqrt(m2 / sw);
      shift[j] = m1;
      /* a constant feature's computed spread is rounding of its mean (~1e-17 of it): taken as
       * a scale, it would blow one-ulp differences up to O(1) distances. Such a feature is
       * shifted only, as nplm_preprocess_fit would refuse it. */
      const bool constant = !(sd > 4.0 * DBL_EPSILON * big) || !isfinite(sd);
      scale[j] = constant ? 1.0 : 1.0 / sd;
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
  /* a coordinate that overflows there would make every distance to it NaN or 0 and t silently
   * wrong: refused, naming the event (padding slots are finite copies) */
  for (size_t i = 0; i < slots_ev * d; i++)
    if (!isfinite(k.x[i])) {
      const size_t b = i / (d * B), e = i % B, j = i / B % d;
      const int in_ref = b < ref->n_blocks;
      const size_t ev = (in_ref ? b : b - ref->n_blocks) * B + e;
      nplm_model_free(fm);
      nplm__free(buf);
      nplm__free(cnt);
      return nplm__fail(NPLM_EINVAL, "%s event %zu, feature %zu: x / sigma overflows (sigma = "
                                     "%g%s): rescale the inputs", in_ref ? "reference" : "data",
                        ev, j, sigma, (int)nplm__test_opt(t, NPLM_OPT_STANDARDIZE)
                                          ? ", after standardisation" : "");
    }
  for (size_t j = 0; j < d; j++)
    for (size_t i = 0; i < ld; i++)
      k.ct[j * ld + i] = fm->k_data[(i < M ? i : M - 1) * d + j] * q;

  /* K_MM ~ L L^T (+ eps I) and the basis Q R2^-1, shared by the Newton steps */
  lowrank_t lr;
  memset(&lr, 0, sizeof lr);
  nplm__rng_t prng;
  nplm__rng_init(&prng, seed, nplm__rng_stream(NPLM__RNG_PIVOTS, index));
  s = lowrank_build(&k, &prng, &lr);
  const double kmm_jitter = KMM_JITTER;
  rep->rank = lr.r;
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
      s = solve_direct(&k, &lr, lambda, alpha, &jitter);
      rep->passes += 1;
    } else {
      int64_t it = 0;
      int conv = 0;
      s = solve_cg(&k, &lr, lambda, dcent, tol, max_iter, alpha, &jitter, &it, &resid, &conv);
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
  lowrank_free(&lr);
  nplm__free(buf);
  nplm__free(cnt);
  if (s == NPLM_ECANCELED) s = nplm__fail(NPLM_ECANCELED, "canceled");
  return s;
}
