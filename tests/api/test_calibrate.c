/* Calibration: toys reproducible bit for bit across thread counts and shards, the generator
 * entry point, cancellation, bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nplm/nplm.h"
#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(calibrate);
NPLM_LEAK_CHECKED_SUITE(calibrate_with);

#define N_REF 6000
#define N_POOL 20000
#define N_EXP 150.0

static double g_ref[N_REF], g_pool[N_POOL];

static double expo(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return -log(((double)(*s >> 11) + 0.5) * 0x1.0p-53);
}

static nplm_test_t *make_test(nplm_model_t **family) {
  uint64_t s = 42;
  for (int i = 0; i < N_REF; i++) g_ref[i] = expo(&s);
  for (int i = 0; i < N_POOL; i++) g_pool[i] = expo(&s);
  const size_t layers[] = {1, 3, 1};
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_model_create_mlp(family, layers, 3, 4.0), NPLM_OK);
  cr_assert_eq(nplm_test_create(&t, *family, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, N_EXP), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 200), NPLM_OK);
  return t;
}

static nplm_status_t calib(nplm_test_t *t, int threads, int64_t offset, size_t n, double *out) {
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, threads), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_TOY_OFFSET, offset), NPLM_OK);
  return nplm_test_calibrate(t, g_pool, N_POOL, 1, NULL, n, 2024, out);
}

Test(calibrate, identical_for_any_thread_count_and_sharding) {
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&family);
  double a[8], b[8], c[8];
  nplm_status_t s = calib(t, 1, 0, 8, a);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "%s", nplm_test_last_error(t));
  for (int k = 0; k < 8; k++) cr_assert(isfinite(a[k]) && a[k] >= 0.0, "toy %d: t = %g", k, a[k]);
  s = calib(t, 2, 0, 8, b);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV);
  cr_assert(memcmp(a, b, sizeof a) == 0, "1 vs 2 threads");
  s = calib(t, 2, 0, 3, c);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV);
  s = calib(t, 1, 3, 5, c + 3);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV);
  cr_assert(memcmp(a, c, sizeof a) == 0, "two shards vs one run");
  /* toys differ from each other, and another seed gives other toys */
  int distinct = 0;
  for (int k = 1; k < 8; k++) distinct += a[k] != a[0];
  cr_assert(distinct >= 6);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_TOY_OFFSET, 0), NPLM_OK);
  s = nplm_test_calibrate(t, g_pool, N_POOL, 1, NULL, 2, 2025, c);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV);
  cr_assert(c[0] != a[0] && c[1] != a[1]);
  nplm_test_free(t);
  nplm_model_free(family);
}

/* A generator that makes toy g from its own stream: Poisson-free fixed size, for the check. */
typedef struct gen_state {
  int fail_toy, empty_toy;
} gen_state_t;

static int generate(void *user, uint64_t toy, uint64_t seed, nplm_toy_t *out) {
  const gen_state_t *g = user;
  if ((int)toy == g->fail_toy) return 7;
  if ((int)toy == g->empty_toy) return 0;
  double x[160];
  uint64_t s = seed * 1000003u + toy;
  for (int i = 0; i < 160; i++) x[i] = expo(&s);
  return nplm_toy_set_events(out, x, 160, 1, NULL) == NPLM_OK ? 0 : 1;
}

/* t of a plain nplm_test_run on the generator's toy 0 of `seed`, with NPLM_OPT_SEED = seed. */
static double plain_run_of_toy_zero(nplm_test_t *t, uint64_t seed, double *x) {
  double tv = NAN;
  uint64_t sd = seed * 1000003u + 0;
  for (int i = 0; i < 160; i++) x[i] = expo(&sd);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_SEED, (int64_t)seed), NPLM_OK);
  nplm_status_t s = nplm_test_run(t, x, 160, 1, NULL, &tv);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "%s", nplm_test_last_error(t));
  return tv;
}

Test(calibrate_with, toy_zero_matches_a_plain_run) {
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&family);
  gen_state_t st = {-1, -1};
  double tn[4], tn2[4];
  nplm_status_t s = nplm_test_calibrate_with(t, generate, &st, 4, 77, tn);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, 1), NPLM_OK);
  s = nplm_test_calibrate_with(t, generate, &st, 4, 77, tn2);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV);
  cr_assert(memcmp(tn, tn2, sizeof tn) == 0);
  /* toy 0 is initialised like nplm_test_run with NPLM_OPT_SEED = seed */
  double x[160];
  cr_assert_eq(plain_run_of_toy_zero(t, 77, x), tn[0]);
  /* a failing generator fails the calibration and names the toy */
  st.fail_toy = 2;
  cr_assert_eq(nplm_test_calibrate_with(t, generate, &st, 4, 77, tn), NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "toy 2") != NULL, "%s", nplm_test_last_error(t));
  cr_assert(isnan(tn[2]) && isfinite(tn[1]));
  st.fail_toy = -1;
  st.empty_toy = 1;
  cr_assert_eq(nplm_test_calibrate_with(t, generate, &st, 4, 77, tn), NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "nplm_toy_set_events") != NULL);
  cr_assert_eq(nplm_test_calibrate_with(t, NULL, NULL, 4, 77, tn), NPLM_EINVAL);
  cr_assert_eq(nplm_toy_set_events(NULL, x, 1, 1, NULL), NPLM_EINVAL);
  nplm_test_free(t);
  nplm_model_free(family);
}

/* NPLM_OPT_STARTS in calibrations: toy g's starts come from its own stream, toy 0 is the
 * plain run's multi-start fit, start 0 is the single-start fit (so no toy's t goes down), and
 * the toys are the same bits for any thread count. */
Test(calibrate_with, multi_start_toys) {
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&family);
  gen_state_t st = {-1, -1};
  double one[6], three[6], three2[6];
  nplm_status_t s = nplm_test_calibrate_with(t, generate, &st, 6, 77, one);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_STARTS, 3), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, 2), NPLM_OK);
  s = nplm_test_calibrate_with(t, generate, &st, 6, 77, three);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, 1), NPLM_OK);
  s = nplm_test_calibrate_with(t, generate, &st, 6, 77, three2);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV);
  cr_assert(memcmp(three, three2, sizeof three) == 0, "1 vs 2 threads");
  int higher = 0;
  for (int k = 0; k < 6; k++) {
    cr_assert(three[k] >= one[k], "toy %d: %.17g with 3 starts, %.17g with 1", k, three[k],
              one[k]);
    higher += three[k] > one[k] * (1 + 1e-9);
  }
  cr_assert(higher >= 1, "no toy found a deeper minimum: the check shows nothing");
  double x[160];
  cr_assert_eq(plain_run_of_toy_zero(t, 77, x), three[0]);
  nplm_test_free(t);
  nplm_model_free(family);
}

static int cancel_at_once(void *user, const nplm_progress_t *p) {
  (void)user;
  (void)p;
  return 1;
}

/* Records the calls; cancels once *user toys have ended (0: never). */
typedef struct progress_log {
  size_t cancel_after, calls;
  int64_t first_done, last_done, total;
} progress_log_t;

static int log_progress(void *user, const nplm_progress_t *p) {
  progress_log_t *l = user;
  if (l->calls++ == 0) l->first_done = p->done;
  l->last_done = p->done;
  l->total = p->total;
  return l->cancel_after > 0 && p->done >= (int64_t)l->cancel_after;
}

/* The progress callback of a calibration: called at the start (done = 0: a cancel there runs
 * no toy), and once at the end with the final count, on any thread count (the end call was
 * once made only if the caller's thread happened to finish the last toy). */
Test(calibrate, progress_starts_ends_and_cancels) {
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&family);
  cr_assert_eq(nplm_test_set_progress(t, cancel_at_once, NULL), NPLM_OK);
  double tn[6];
  cr_assert_eq(calib(t, 1, 0, 6, tn), NPLM_ECANCELED);
  for (int k = 0; k < 6; k++) cr_assert(isnan(tn[k]), "toy %d ran after a cancel at the start", k);
  cr_assert(strstr(nplm_test_last_error(t), "after 0 of 6") != NULL, "%s",
            nplm_test_last_error(t));
  for (int threads = 1; threads <= 2; threads++) {
    progress_log_t log = {0, 0, -1, -1, -1};
    cr_assert_eq(nplm_test_set_progress(t, log_progress, &log), NPLM_OK);
    const nplm_status_t st = calib(t, threads, 0, 6, tn); /* few iterations: ENOCONV */
    cr_assert(st == NPLM_OK || st == NPLM_ENOCONV, "%s", nplm_test_last_error(t));
    cr_assert(log.calls >= 2 && log.first_done == 0 && log.last_done == 6 && log.total == 6,
              "%d threads: %zu calls, first %lld, last %lld", threads, log.calls,
              (long long)log.first_done, (long long)log.last_done);
  }
  /* a cancel once a toy has ended keeps that toy's t (one thread: toy 0) */
  progress_log_t after1 = {1, 0, -1, -1, -1};
  cr_assert_eq(nplm_test_set_progress(t, log_progress, &after1), NPLM_OK);
  cr_assert_eq(calib(t, 1, 0, 6, tn), NPLM_ECANCELED);
  cr_assert(isfinite(tn[0]), "the toy that ended before the cancel lost its t");
  size_t finite = 0;
  for (int k = 0; k < 6; k++) finite += isfinite(tn[k]) != 0;
  char want[32];
  snprintf(want, sizeof want, "after %zu of 6", finite);
  cr_assert(finite < 6 && strstr(nplm_test_last_error(t), want) != NULL, "%zu finite: %s",
            finite, nplm_test_last_error(t));
  nplm_test_free(t);
  nplm_model_free(family);
}

Test(calibrate, bad_input) {
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&family);
  double tn[2], bad[3] = {1, NAN, 2}, w[3] = {1, 1, -1};
  cr_assert_eq(nplm_test_calibrate(NULL, g_pool, N_POOL, 1, NULL, 2, 1, tn), NPLM_EINVAL);
  cr_assert_eq(nplm_test_calibrate(t, g_pool, N_POOL, 1, NULL, 0, 1, tn), NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "n_toys") != NULL);
  cr_assert_eq(nplm_test_calibrate(t, g_pool, N_POOL, 1, NULL, 2, 1, NULL), NPLM_EINVAL);
  cr_assert_eq(nplm_test_calibrate(t, NULL, N_POOL, 1, NULL, 2, 1, tn), NPLM_EINVAL);
  cr_assert_eq(nplm_test_calibrate(t, g_pool, 0, 1, NULL, 2, 1, tn), NPLM_EINVAL);
  cr_assert_eq(nplm_test_calibrate(t, g_pool, N_POOL / 2, 2, NULL, 2, 1, tn), NPLM_EINVAL);
  cr_assert_eq(nplm_test_calibrate(t, bad, 3, 1, NULL, 2, 1, tn), NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "pool_x[1") != NULL, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_calibrate(t, g_pool, 3, 1, w, 2, 1, tn), NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "pool_w[2]") != NULL);
  const double zero_w[3] = {0, 0, 0};
  cr_assert_eq(nplm_test_calibrate(t, g_pool, 3, 1, zero_w, 2, 1, tn), NPLM_EINVAL);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_TOY_OFFSET, -1), NPLM_EINVAL);
  /* integer options are held exactly: the largest offset, 2^53, is kept to the unit, and one
   * past it is refused by both setters with a message naming the option (set_int once said
   * only "out of range"; set_double took values up to 2^56 that a double cannot count) */
  const int64_t top = (int64_t)1 << 53;
  double got = 0.0;
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_TOY_OFFSET, top), NPLM_OK);
  cr_assert_eq(nplm_test_get_option(t, NPLM_OPT_TOY_OFFSET, &got), NPLM_OK);
  cr_assert_eq(got, 9007199254740992.0);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_TOY_OFFSET, top + 1), NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "toy_offset") != NULL &&
                strstr(nplm_test_last_error(t), "9007199254740993") != NULL,
            "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_TOY_OFFSET, 72057594037927936.0), NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "toy_offset") != NULL, "%s",
            nplm_test_last_error(t));
  cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_TOY_OFFSET, 9007199254740994.0), NPLM_EINVAL);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_SEED, INT64_MAX), NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "seed") != NULL, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_get_option(t, NPLM_OPT_TOY_OFFSET, &got), NPLM_OK);
  cr_assert_eq(got, 9007199254740992.0, "a refused value leaves the option as it was");
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_TOY_OFFSET, 0), NPLM_OK);
  nplm_test_t *fresh = NULL;
  cr_assert_eq(nplm_test_create(&fresh, family, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_calibrate(fresh, g_pool, N_POOL, 1, NULL, 2, 1, tn), NPLM_ESTATE);
  nplm_test_free(fresh);
  nplm_test_free(t);
  nplm_model_free(family);
}

Test(calibrate, weighted_pool) {
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&family);
  /* all weight on events above 3: every toy is a strong excess there */
  double *w = calloc(N_POOL, sizeof *w);
  for (int i = 0; i < N_POOL; i++) w[i] = g_pool[i] > 3.0 ? 1.0 : 0.0;
  double tn[2], tu[2];
  nplm_status_t s = nplm_test_calibrate(t, g_pool, N_POOL, 1, w, 2, 5, tn);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "%s", nplm_test_last_error(t));
  s = nplm_test_calibrate(t, g_pool, N_POOL, 1, NULL, 2, 5, tu);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV);
  for (int k = 0; k < 2; k++) cr_assert(tn[k] > 10 * tu[k] + 100, "%g vs %g", tn[k], tu[k]);
  free(w);
  nplm_test_free(t);
  nplm_model_free(family);
}

typedef struct scan_log {
  int steps;
  double clips[16], gaps[16];
} scan_log_t;

static int log_step(void *user, const nplm_clip_step_t *st) {
  scan_log_t *l = user;
  cr_assert_eq(st->size, sizeof(nplm_clip_step_t));
  cr_assert_eq(st->step, l->steps);
  cr_assert(st->q16 <= st->median && st->median <= st->q84);
  cr_assert(st->ks_p >= 0.0 && st->ks_p <= 1.0);
  cr_assert(fabs(st->target_median - nplm_chi2_isf(0.5, 10.0)) < 1e-12);
  /* patience 50, 200 iterations at most: 4 checkpoints; L-BFGS-B only ever lowers the loss, so
     every toy's t grows along its history, and the last checkpoint holds the final t */
  cr_assert_eq(st->n_checkpoints, 4);
  cr_assert_eq(st->checkpoint_every, 50);
  for (int i = 1; i < 4; i++)
    for (int q = 0; q < 3; q++)
      cr_assert(st->quantiles_vs_epoch[3 * i + q] >= st->quantiles_vs_epoch[3 * (i - 1) + q]);
  cr_assert_eq(st->quantiles_vs_epoch[3 * 3 + 1], st->median);
  if (l->steps < 16) {
    l->clips[l->steps] = st->clip;
    l->gaps[l->steps] = st->median - st->target_median;
  }
  l->steps++;
  return 0;
}

Test(calibrate, tune_clip_reports_every_step_and_keeps_options) {
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&family);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, 2), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_PATIENCE, 50), NPLM_OK);
  scan_log_t log;
  memset(&log, 0, sizeof log);
  double c = 0;
  nplm_status_t s = nplm_test_tune_clip(t, g_pool, N_POOL, 1, NULL, 9, 11, 0.05, 8.0, 5,
                                        log_step, &log, &c);
  cr_assert_eq(s, NPLM_OK, "%s", nplm_test_last_error(t));
  /* its calibrations' notes (toys at the iteration limit) are not left on the handle as if
   * the call had failed */
  cr_assert_str_empty(nplm_test_last_error(t), "'%s' after a successful tuning",
                      nplm_test_last_error(t));
  cr_assert(log.steps >= 2 && log.steps <= 5, "%d steps", log.steps);
  /* the median of t grows with the clip */
  cr_assert(log.gaps[0] < log.gaps[1], "median at c=0.05 below the one at c=8");
  int best = 0;
  for (int i = 1; i < log.steps; i++)
    if (fabs(log.gaps[i]) < fabs(log.gaps[best])) best = i;
  cr_assert_eq(c, log.clips[best]);
  double v;
  cr_assert_eq(nplm_test_get_option(t, NPLM_OPT_WEIGHT_CLIP, &v), NPLM_OK);
  cr_assert_eq(v, 0.0, "the handle's clip option is restored");
  /* a cancel from the progress callback is named as such (it was blamed on the report one) */
  cr_assert_eq(nplm_test_set_progress(t, cancel_at_once, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_tune_clip(t, g_pool, N_POOL, 1, NULL, 9, 11, 0.05, 8.0, 5, NULL, NULL,
                                   &c), NPLM_ECANCELED);
  cr_assert(strstr(nplm_test_last_error(t), "progress callback") != NULL, "%s",
            nplm_test_last_error(t));
  cr_assert_eq(nplm_test_set_progress(t, NULL, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_tune_clip(t, g_pool, N_POOL, 1, NULL, 9, 11, 2.0, 1.0, 5, NULL, NULL, &c),
               NPLM_EINVAL);
  cr_assert_eq(nplm_test_tune_clip(t, g_pool, N_POOL, 1, NULL, 3, 11, 1.0, 2.0, 5, NULL, NULL, &c),
               NPLM_EINVAL);
  nplm_test_free(t);
  nplm_model_free(family);
}

Test(calibrate, json_summary_round_trips) {
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&family);
  double tn[5];
  nplm_status_t s = calib(t, 2, 0, 5, tn);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV);
  tn[3] = NAN; /* a failed toy is written as null */
  char path[64];
  snprintf(path, sizeof path, "/tmp/nplm-cal-%d.json", (int)getpid());
  cr_assert_eq(nplm_test_write_calibration(t, path, tn, 5, 2024), NPLM_OK, "%s",
               nplm_last_error());
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  static char buf[8192];
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = '\0';
  cr_assert(strstr(buf, "\"seed\": 2024") != NULL);
  cr_assert(strstr(buf, "\"layers\": [1, 3, 1]") != NULL);
  cr_assert(strstr(buf, "\"max_iterations\": 200") != NULL);
  char *p = strstr(buf, "\"t_null\": [");
  cr_assert_not_null(p);
  p += strlen("\"t_null\": [");
  for (int k = 0; k < 5; k++) {
    while (*p == ' ' || *p == ',' || *p == '\n') p++;
    if (k == 3) {
      cr_assert(strncmp(p, "null", 4) == 0);
      p += 4;
      continue;
    }
    char *end;
    double v = strtod(p, &end);
    cr_assert(end != p);
    cr_assert_eq(v, tn[k], "toy %d round trip", k);
    p = end;
  }
  remove(path);
  cr_assert_eq(nplm_test_write_calibration(t, "/nonexistent-dir/x.json", tn, 5, 1), NPLM_EIO);
  cr_assert_eq(nplm_test_write_calibration(t, path, tn, 0, 1), NPLM_EINVAL);
  nplm_test_free(t);
  nplm_model_free(family);
}
