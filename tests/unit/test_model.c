/* Models: parameter order, evaluation by hand, files (round trip, corruption). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "model/model.h"
#include "nplm/nplm.h"
#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(model);
NPLM_LEAK_CHECKED_SUITE(model_io);
NPLM_LEAK_CHECKED_SUITE(starts);


static double sig(double z) { return 1.0 / (1.0 + exp(-z)); }

/* 2-3-1: W1 [3][2], b1 [3], W2 [1][3], b2 [1]: parameters 0..5, 6..8, 9..11, 12. */
Test(model, parameter_order_and_eval_by_hand) {
  const size_t layers[] = {2, 3, 1};
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, layers, 3, 5.0), NPLM_OK);
  cr_assert_eq(nplm_model_num_params(m), 13u);
  cr_assert_eq(nplm_model_input_dim(m), 2u);
  cr_assert_eq(nplm_model_weight_clip(m), 5.0);
  double p[13];
  for (int i = 0; i < 13; i++) p[i] = 0.1 * (i + 1) * (i % 2 ? -1 : 1);
  cr_assert_eq(nplm_model_set_params(m, p, 13), NPLM_OK);
  const double x[6] = {0.5, -1.0, 2.0, 0.25, -3.0, 1.5};
  double f[3];
  cr_assert_eq(nplm_model_eval(m, x, 3, 2, f), NPLM_OK);
  for (int e = 0; e < 3; e++) {
    const double *xe = x + 2 * e;
    double want = p[12];
    for (int j = 0; j < 3; j++) {
      double z = p[6 + j] + p[2 * j] * xe[0] + p[2 * j + 1] * xe[1];
      want += p[9 + j] * sig(z);
    }
    cr_assert(fabs(f[e] - want) <= 1e-15 * (1 + fabs(want)), "event %d: %.17g vs %.17g", e, f[e],
              want);
  }
  double q[13];
  cr_assert_eq(nplm_model_get_params(m, q, 13), NPLM_OK);
  cr_assert(memcmp(p, q, sizeof p) == 0);
  nplm_model_free(m);
}

Test(model, starts_at_zero_and_evaluates_many_blocks) {
  const size_t layers[] = {3, 4, 1};
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, layers, 3, INFINITY), NPLM_OK);
  cr_assert(isinf(nplm_model_weight_clip(m)));
  size_t n = 1000; /* spans several internal blocks with a partial last one */
  double *x = calloc(3 * n, sizeof *x), *f = malloc(n * sizeof *f);
  for (size_t i = 0; i < 3 * n; i++) x[i] = (double)i / 7.0;
  cr_assert_eq(nplm_model_eval(m, x, n, 3, f), NPLM_OK);
  for (size_t i = 0; i < n; i++) cr_assert_eq(f[i], 0.0);
  cr_assert_eq(nplm_model_eval(m, NULL, 0, 3, NULL), NPLM_OK);
  free(x);
  free(f);
  nplm_model_free(m);
}

static char *temp_path(const char *tag) {
  static char buf[256];
  snprintf(buf, sizeof buf, "/tmp/nplm-test-%ld-%s.nplm", (long)getpid(), tag);
  return buf;
}

static long file_size(const char *path) {
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

/* Packed events: every block of every array starts on a 64-byte boundary (the kernels' 512-bit
 * loads then touch one cache line each), feature-major within a block, padding weights 0. */
Test(model, packed_events_are_aligned_and_feature_major) {
  const size_t n = 1000, d = 5;
  double *x = malloc(n * d * sizeof *x), *w = malloc(n * sizeof *w);
  for (size_t i = 0; i < n * d; i++) x[i] = (double)i;
  for (size_t i = 0; i < n; i++) w[i] = 0.5 + (double)i;
  nplm__events_t ev;
  cr_assert_eq(nplm__events_pack(&ev, x, n, d, w, 2.0, 3.0), NPLM_OK);
  cr_assert_eq(ev.n_blocks, (n + NPLM__BLOCK - 1) / NPLM__BLOCK);
  cr_assert_eq((uintptr_t)ev.x % NPLM__ALIGN, 0u);
  cr_assert_eq((uintptr_t)ev.ca % NPLM__ALIGN, 0u);
  cr_assert_eq((uintptr_t)ev.cb % NPLM__ALIGN, 0u);
  for (size_t i = 0; i < n; i++) {
    const size_t k = i / NPLM__BLOCK, e = i % NPLM__BLOCK;
    for (size_t j = 0; j < d; j++) cr_assert_eq(ev.x[(k * d + j) * NPLM__BLOCK + e], x[i * d + j]);
    cr_assert_eq(ev.ca[i], 2.0 * w[i]);
    cr_assert_eq(ev.cb[i], 3.0 * w[i]);
  }
  for (size_t i = n; i < ev.n_blocks * NPLM__BLOCK; i++) cr_assert(ev.ca[i] == 0.0 && ev.cb[i] == 0.0);
  nplm__events_free(&ev);
  free(x);
  free(w);
}

Test(model_io, round_trip_is_exact) {
  const size_t layers[] = {5, 5, 5, 5, 1};
  nplm_model_t *m = NULL, *r = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, layers, 5, 2.15), NPLM_OK);
  double p[96], q[96];
  for (int i = 0; i < 96; i++) p[i] = sin(1.0 + i) * 1e3 / (i + 1) + 1e-300 * i;
  cr_assert_eq(nplm_model_set_params(m, p, 96), NPLM_OK);
  const char *path = temp_path("rt");
  cr_assert_eq(nplm_model_save(m, path), NPLM_OK);
  /* header 24 + payload (16 + 5*8 + 96*8) + crc 4 */
  cr_assert_eq(file_size(path), 24 + 16 + 40 + 768 + 4);
  cr_assert_eq(nplm_model_load(&r, path), NPLM_OK);
  cr_assert_eq(nplm_model_num_params(r), 96u);
  cr_assert_eq(nplm_model_input_dim(r), 5u);
  cr_assert_eq(nplm_model_weight_clip(r), 2.15);
  cr_assert_eq(nplm_model_get_params(r, q, 96), NPLM_OK);
  cr_assert(memcmp(p, q, sizeof p) == 0);
  double x[5] = {0.1, 0.2, -0.3, 0.4, 3.0}, f1, f2;
  cr_assert_eq(nplm_model_eval(m, x, 1, 5, &f1), NPLM_OK);
  cr_assert_eq(nplm_model_eval(r, x, 1, 5, &f2), NPLM_OK);
  cr_assert_eq(f1, f2);
  unlink(path);
  nplm_model_free(m);
  nplm_model_free(r);
}

/* The format is little-endian by definition: check the first bytes literally. */
Test(model_io, header_is_little_endian) {
  const size_t layers[] = {1, 1};
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, layers, 2, 1.0), NPLM_OK);
  const char *path = temp_path("le");
  cr_assert_eq(nplm_model_save(m, path), NPLM_OK);
  unsigned char b[32];
  FILE *f = fopen(path, "rb");
  cr_assert_eq(fread(b, 1, 32, f), 32u);
  fclose(f);
  cr_assert(memcmp(b, "NPLMMODL", 8) == 0);
  cr_assert(b[8] == 1 && b[9] == 0 && b[10] == 0 && b[11] == 0); /* version 1 */
  cr_assert(b[12] == 1 && b[13] == 0);                           /* kind MLP */
  cr_assert(b[24] == 2 && b[25] == 0);                           /* 2 layers */
  /* clip 1.0 = 0x3ff0000000000000 little-endian at offset 32 */
  unlink(path);
  nplm_model_free(m);
}

Test(model_io, corrupt_and_truncated_files_are_rejected) {
  const size_t layers[] = {2, 3, 1};
  nplm_model_t *m = NULL, *r = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, layers, 3, 1.0), NPLM_OK);
  const char *path = temp_path("bad");
  cr_assert_eq(nplm_model_save(m, path), NPLM_OK);
  long n = file_size(path);
  unsigned char *good = malloc((size_t)n);
  FILE *f = fopen(path, "rb");
  cr_assert_eq(fread(good, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  for (long cut = 0; cut < n; cut++) {
    f = fopen(path, "wb");
    fwrite(good, 1, (size_t)cut, f);
    fclose(f);
    cr_assert_eq(nplm_model_load(&r, path), NPLM_EFORMAT, "truncated at %ld", cut);
    cr_assert_null(r);
  }
  for (long i = 0; i < n; i++) {
    good[i] ^= 0x20;
    f = fopen(path, "wb");
    fwrite(good, 1, (size_t)n, f);
    fclose(f);
    good[i] ^= 0x20;
    cr_assert_eq(nplm_model_load(&r, path), NPLM_EFORMAT, "flipped byte %ld", i);
    cr_assert(strstr(nplm_last_error(), "nplm_model_load") != NULL);
  }
  unlink(path);
  cr_assert_eq(nplm_model_load(&r, path), NPLM_EIO);
  free(good);
  nplm_model_free(m);
}

/* NPLM_OPT_STARTS: K starts keep the fit with the lowest loss. Oracle: each start k fitted on
 * its own (its Glorot draw, nplm__mlp_glorot_start, given as the model's parameters with
 * NPLM_INIT_FROM_MODEL); the multi-start run must give the best of them bit for bit: t, the
 * fitted parameters, iterations, passes and history; and the same for any thread count. */
typedef struct one_fit {
  double t, it, ev, p[13];
  size_t hn;
  int64_t he[64];
  double ht[64];
} one_fit_t;

static void fit_once(nplm_test_t *t, const double *data, size_t n, one_fit_t *o) {
  nplm_status_t s = nplm_test_run(t, data, n, 1, NULL, &o->t);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_ITERATIONS, &o->it), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_EVALUATIONS, &o->ev), NPLM_OK);
  const nplm_model_t *f = NULL;
  cr_assert_eq(nplm_test_fitted_model(t, &f), NPLM_OK);
  cr_assert_eq(nplm_model_get_params(f, o->p, 13), NPLM_OK);
  cr_assert_eq(nplm_test_history(t, o->he, o->ht, 64, &o->hn), NPLM_OK);
}

static void check_same_fit(const one_fit_t *a, const one_fit_t *b, const char *what) {
  cr_assert(memcmp(&a->t, &b->t, sizeof a->t) == 0, "%s: t %.17g vs %.17g", what, a->t, b->t);
  cr_assert(memcmp(a->p, b->p, sizeof a->p) == 0, "%s: fitted parameters", what);
  cr_assert_eq(a->it, b->it, "%s: iterations", what);
  cr_assert_eq(a->ev, b->ev, "%s: passes", what);
  cr_assert_eq(a->hn, b->hn, "%s: history length %zu vs %zu", what, a->hn, b->hn);
  cr_assert(memcmp(a->he, b->he, a->hn * sizeof *a->he) == 0, "%s: history epochs", what);
  cr_assert(memcmp(a->ht, b->ht, a->hn * sizeof *a->ht) == 0, "%s: history t", what);
}

/* The fit both the single starts and the multi-start run use: L-BFGS-B, 400 iterations,
 * history every 25. */
static nplm_test_t *lbfgsb_test(const nplm_model_t *family, const double *ref, size_t nr,
                                size_t nd) {
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_test_create(&t, family, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_set_reference(t, ref, nr, 1, NULL, (double)nd), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 400), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_PATIENCE, 25), NPLM_OK);
  return t;
}

Test(starts, best_of_k_single_fits_bit_for_bit) {
  enum { NR = 6000, ND = 400, K = 4 };
  const uint64_t seed = 11;
  static double ref[NR], data[ND];
  uint64_t u = 12345;
  for (int i = 0; i < NR + ND; i++) { /* Exp(1) reference; data with a bump near 2 */
    u = u * 6364136223846793005ull + 1442695040888963407ull;
    double v = ((double)(u >> 11) + 0.5) * 0x1p-53;
    if (i < NR) ref[i] = -log(v);
    else data[i - NR] = (i % 8 == 0) ? 2.0 + 0.1 * (v - 0.5) : -log(v);
  }
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *family = NULL;
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_model_create_mlp(&family, layers, 3, 9.0), NPLM_OK);
  t = lbfgsb_test(family, ref, NR, ND);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_SEED, (int64_t)seed), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, 1), NPLM_OK);

  /* each start on its own */
  static one_fit_t single[K];
  double start[13];
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, layers, 3, 9.0), NPLM_OK);
  for (size_t k = 0; k < K; k++) {
    nplm__mlp_glorot_start(&family->spec, seed, 0, k, 0, start);
    if (k == 0) { /* start 0 is the single-start run's Glorot draw */
      double p0[13];
      nplm__mlp_glorot(&family->spec, seed, 0, 0, p0);
      cr_assert(memcmp(p0, start, sizeof p0) == 0);
    }
    cr_assert_eq(nplm_model_set_params(m, start, 13), NPLM_OK);
    /* a test handle copies its family: a fresh handle for the new start */
    nplm_test_t *tk = lbfgsb_test(m, ref, NR, ND);
    cr_assert_eq(nplm_test_set_int(tk, NPLM_OPT_INIT, NPLM_INIT_FROM_MODEL), NPLM_OK);
    fit_once(tk, data, ND, &single[k]);
    nplm_test_free(tk);
  }
  /* the starts differ, and the test data lead them to different minima */
  size_t distinct = 0;
  for (size_t k = 0; k < K; k++) {
    int seen = 0;
    for (size_t j = 0; j < k; j++) seen |= fabs(single[j].t - single[k].t) < 1e-6;
    distinct += !seen;
  }
  cr_assert(distinct >= 2, "the %d starts all end in one minimum: the test shows nothing", K);

  one_fit_t multi;
  fit_once(t, data, ND, &multi); /* starts = 1 (default): start 0 */
  check_same_fit(&multi, &single[0], "one start");
  for (int k = 2; k <= K; k++) {
    size_t b = 0;
    for (int j = 1; j < k; j++)
      if (single[j].t > single[b].t) b = (size_t)j;
    cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_STARTS, k), NPLM_OK);
    for (int threads = 1; threads <= 2; threads++) {
      cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, threads), NPLM_OK);
      fit_once(t, data, ND, &multi);
      char what[64];
      snprintf(what, sizeof what, "%d starts, %d threads (best: start %zu)", k, threads, b);
      check_same_fit(&multi, &single[b], what);
    }
  }
  nplm_test_free(t);
  nplm_model_free(m);
  nplm_model_free(family);
}
