/* Out-of-memory injection: a full scenario (model, test, reference, options, an Adam fit with a
 * growing history, L-BFGS-B fits with limited and dense memory, fitted-model evaluation, save,
 * load, a model file larger than the loader's first buffer, a second reference and fit) is run
 * with the k-th allocation failing, for k = 1, 2, ... until a run goes through without reaching
 * the k-th allocation. Every call must return NPLM_OK
 * or NPLM_ENOMEM (never crash, never another status); after an NPLM_ENOMEM the same call is
 * repeated with injection off and must succeed (nothing was left half-changed), and the final
 * results must be bit-identical to an undisturbed run. Everything is freed on every path: the
 * binary also runs under AddressSanitizer/LeakSanitizer.
 *
 * Internals through the static core library: nplm__alloc_fail_after / nplm__alloc_count. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "nplm/nplm.h"

#include "../common/file_bytes.h"
#include "../common/leak_check.h"

/* The shared leak check, with the failing allocation in the message. */
static void assert_no_leaks_at(long k) {
#ifdef NPLM_TEST_LSAN
  nplm_test_scrub_stack();
  cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
               "LeakSanitizer found leaks after the scenario with allocation %ld failing (see "
               "stderr)", k);
#else
  (void)k;
#endif
}
#define assert_no_leaks nplm_test_assert_no_leaks

#define MAX_K 10000
#define N_REF 300  /* 3 event blocks */
#define N_DATA 60  /* 1 event block */
#define N_EVAL 200 /* 2 event blocks */
#define ADAM_EPOCHS 140 /* > 128 history entries: the history buffer grows twice */

static uint64_t sm_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void gen_exp(double *x, size_t n, uint64_t seed) {
  uint64_t s = seed;
  for (size_t i = 0; i < n; i++) x[i] = -log1p(-(double)(sm_next(&s) >> 11) * 0x1p-53);
}

static double g_ref[N_REF], g_data[N_DATA], g_eval[N_EVAL];
static char g_path[512];

static void setup_files(void) {
  gen_exp(g_ref, N_REF, 1);
  gen_exp(g_data, N_DATA, 2);
  gen_exp(g_eval, N_EVAL, 3);
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !tmp[0]) tmp = "/tmp";
  int w = snprintf(g_path, sizeof g_path, "%s/nplm-oom-XXXXXX", tmp);
  cr_assert(w > 0 && (size_t)w < sizeof g_path);
  int fd = mkstemp(g_path);
  cr_assert(fd >= 0, "mkstemp failed");
  close(fd);
}

/* What one scenario run saw. */
typedef struct outcome {
  long k;              /* the failing allocation (0: none) */
  int enomem;          /* calls that returned NPLM_ENOMEM */
  int triggered;       /* the k-th allocation was reached */
  int bad;             /* a call returned something other than OK / ENOMEM, or a retry failed */
  char bad_what[512];
  int unnamed;         /* an ENOMEM message that does not name the public function */
  char unnamed_what[512];
  int complete;        /* every step ran */
  double t_adam, t_lbfgs_limited, t_lbfgs;
  size_t big_params;
  size_t hist_count;
  double f_fitted[N_EVAL], f_loaded[N_EVAL];
} outcome_t;

/* Record a status. Returns 1 when the scenario may go on (OK), 0 otherwise. On ENOMEM the
 * injection is switched off so that the caller can retry. */
static int step_status(outcome_t *o, nplm_status_t s, const char *fname, const nplm_test_t *t,
                       const char *what) {
  if (s == NPLM_OK) return 1;
  if (s != NPLM_ENOMEM) {
    if (!o->bad)
      snprintf(o->bad_what, sizeof o->bad_what, "k = %ld: %s gave %s (%s)", o->k, what,
               nplm_status_name(s), nplm_last_error());
    o->bad = 1;
    return 0;
  }
  o->enomem++;
  if (nplm__alloc_count() >= o->k) o->triggered = 1;
  const char *msg = nplm_last_error();
  const char *hmsg = t ? nplm_test_last_error(t) : msg;
  if ((!strstr(msg, fname) || !strstr(hmsg, fname)) && !o->unnamed) {
    snprintf(o->unnamed_what, sizeof o->unnamed_what,
             "k = %ld: %s: ENOMEM message '%s' (handle: '%s') does not name %s", o->k, what, msg,
             hmsg, fname);
    o->unnamed = 1;
  }
  if (!msg[0] && !o->bad) {
    snprintf(o->bad_what, sizeof o->bad_what, "k = %ld: %s: ENOMEM with an empty message", o->k,
             what);
    o->bad = 1;
  }
  nplm__alloc_fail_after(0);
  return 0;
}

static int retry_status(outcome_t *o, nplm_status_t s, const char *what) {
  if (s == NPLM_OK) return 1;
  if (!o->bad)
    snprintf(o->bad_what, sizeof o->bad_what,
             "k = %ld: %s: the retry after NPLM_ENOMEM gave %s (%s)", o->k, what,
             nplm_status_name(s), nplm_last_error());
  o->bad = 1;
  return 0;
}

/* Run CALL; on NPLM_ENOMEM run it again with injection off (it must then succeed). */
#define STEP(FNAME, T, CALL)                                                   \
  do {                                                                         \
    if (!step_status(o, (CALL), FNAME, T, #CALL)) {                            \
      if (o->bad || !retry_status(o, (CALL), #CALL)) goto cleanup;             \
    }                                                                          \
  } while (0)

/* An L-BFGS-B fit where stopping at the iteration limit (NPLM_ENOCONV, t written) is fine. */
static nplm_status_t run_allow_noconv(nplm_test_t *t, double *tv) {
  nplm_status_t s = nplm_test_run(t, g_data, N_DATA, 1, NULL, tv);
  return s == NPLM_ENOCONV ? NPLM_OK : s;
}

static void scenario(outcome_t *o, long k, int threads) {
  memset(o, 0, sizeof *o);
  o->k = k;
  static const size_t layers[4] = {1, 8, 8, 1};   /* 97 parameters */
  static const size_t big[4] = {1, 24, 18, 1};    /* 517 parameters: a file > 4096 bytes */
  nplm_model_t *m = NULL, *loaded = NULL, *bm = NULL, *bm_loaded = NULL;
  nplm_test_t *t = NULL;
  const nplm_model_t *fitted = NULL;
  int64_t *hist_epochs = NULL;
  double *hist_t = NULL;
  size_t count = 0;

  nplm__alloc_fail_after(k);
  STEP("nplm_model_create_mlp", NULL, nplm_model_create_mlp(&m, layers, 4, 9.0));
  STEP("nplm_test_create", NULL, nplm_test_create(&t, m, NULL));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_THREADS, threads));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_SEED, 3));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_ADAM));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_EPOCHS, ADAM_EPOCHS));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_PATIENCE, 1));
  STEP("nplm_test_set_double", t, nplm_test_set_double(t, NPLM_OPT_LEARNING_RATE, 0.01));
  STEP("nplm_test_set_reference", t,
       nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, (double)N_DATA));
  STEP("nplm_test_run", t, nplm_test_run(t, g_data, N_DATA, 1, NULL, &o->t_adam));
  STEP("nplm_test_history", NULL, nplm_test_history(t, NULL, NULL, 0, &count));
  hist_epochs = malloc(count * sizeof *hist_epochs + 1);
  hist_t = malloc(count * sizeof *hist_t + 1);
  cr_assert(hist_epochs && hist_t);
  STEP("nplm_test_history", NULL, nplm_test_history(t, hist_epochs, hist_t, count, &count));
  o->hist_count = count;

  /* L-BFGS-B, limited memory then automatic (dense for this size) */
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 100));
  STEP("nplm_test_set_double", t, nplm_test_set_double(t, NPLM_OPT_TOLERANCE, 1e-8));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_PATIENCE, 10));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_LBFGS_MEMORY, 5));
  STEP("nplm_test_run", t, run_allow_noconv(t, &o->t_lbfgs_limited));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_LBFGS_MEMORY, 0));
  STEP("nplm_test_run", t, run_allow_noconv(t, &o->t_lbfgs));
  STEP("nplm_test_fitted_model", NULL, nplm_test_fitted_model(t, &fitted));
  STEP("nplm_model_eval", NULL, nplm_model_eval(fitted, g_eval, N_EVAL, 1, o->f_fitted));
  STEP("nplm_model_save", NULL, nplm_model_save(fitted, g_path));
  STEP("nplm_model_load", NULL, nplm_model_load(&loaded, g_path));
  STEP("nplm_model_eval", NULL, nplm_model_eval(loaded, g_eval, N_EVAL, 1, o->f_loaded));
  /* a file larger than the loader's first read buffer */
  STEP("nplm_model_create_mlp", NULL, nplm_model_create_mlp(&bm, big, 4, 9.0));
  STEP("nplm_model_save", NULL, nplm_model_save(bm, g_path));
  STEP("nplm_model_load", NULL, nplm_model_load(&bm_loaded, g_path));
  o->big_params = nplm_model_num_params(bm_loaded);
  /* replace the reference (the old one is released) and run once more */
  STEP("nplm_test_set_reference", t,
       nplm_test_set_reference(t, g_eval, N_EVAL, 1, NULL, (double)N_DATA));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 20));
  double t3 = 0.0;
  STEP("nplm_test_run", t, run_allow_noconv(t, &t3));
  o->complete = 1;

cleanup:
  if (nplm__alloc_count() >= k && k > 0) o->triggered = 1;
  nplm_model_free(bm_loaded);
  nplm_model_free(bm);
  nplm_model_free(loaded);
  nplm_test_free(t);
  nplm_model_free(m);
  free(hist_epochs);
  free(hist_t);
  nplm__alloc_fail_after(0);
}

/* The scenario once without injection: the reference results. */
static void baseline(outcome_t *b, int threads) {
  scenario(b, 0, threads);
  cr_assert(!b->bad, "%s", b->bad_what);
  cr_assert(b->complete, "the undisturbed scenario did not complete");
  cr_assert_eq(b->enomem, 0);
  cr_assert(isfinite(b->t_adam) && isfinite(b->t_lbfgs_limited) && isfinite(b->t_lbfgs),
            "t = %g, %g, %g", b->t_adam, b->t_lbfgs_limited, b->t_lbfgs);
  cr_assert_eq(b->big_params, 517, "the large model loads with %zu parameters", b->big_params);
  cr_assert_eq(b->hist_count, ADAM_EPOCHS, "Adam history has %zu entries", b->hist_count);
  for (int i = 0; i < N_EVAL; i++)
    cr_assert_eq(b->f_loaded[i], b->f_fitted[i], "f[%d]: loaded %.17g, fitted %.17g", i,
                 b->f_loaded[i], b->f_fitted[i]);
}

/* k = 1, 2, ... until the scenario no longer reaches the k-th allocation. */
static void every_allocation_fails_once(int threads) {
  setup_files();
  outcome_t *b = malloc(sizeof *b), *o = malloc(sizeof *o);
  cr_assert(b && o);
  baseline(b, threads);
  int saw_enomem = 0, finished = 0;
  long k;
  for (k = 1; k <= MAX_K; k++) {
    scenario(o, k, threads);
    assert_no_leaks_at(k);
    cr_assert(!o->bad, "%s", o->bad_what);
    cr_assert(o->complete, "k = %ld: the scenario stopped early", k);
    if (o->enomem) saw_enomem = 1;
    cr_assert(!(o->triggered && o->enomem == 0),
              "k = %ld: the failing allocation was swallowed: no call returned NPLM_ENOMEM", k);
    /* the retried calls leave exactly the undisturbed results */
    cr_assert_eq(o->t_adam, b->t_adam, "k = %ld: Adam t %.17g, want %.17g", k, o->t_adam,
                 b->t_adam);
    cr_assert_eq(o->t_lbfgs_limited, b->t_lbfgs_limited,
                 "k = %ld: L-BFGS-B (memory 5) t %.17g, want %.17g", k, o->t_lbfgs_limited,
                 b->t_lbfgs_limited);
    cr_assert_eq(o->t_lbfgs, b->t_lbfgs, "k = %ld: L-BFGS-B t %.17g, want %.17g", k, o->t_lbfgs,
                 b->t_lbfgs);
    cr_assert_eq(o->big_params, b->big_params, "k = %ld: large model with %zu parameters", k,
                 o->big_params);
    cr_assert_eq(o->hist_count, b->hist_count, "k = %ld: history %zu entries, want %zu", k,
                 o->hist_count, b->hist_count);
    for (int i = 0; i < N_EVAL; i++)
      cr_assert(o->f_loaded[i] == b->f_fitted[i] && o->f_fitted[i] == b->f_fitted[i],
                "k = %ld: f[%d] differs from the undisturbed run", k, i);
    if (!o->triggered) {
      finished = 1;
      break;
    }
  }
  cr_assert(finished, "the scenario still failed at k = %d", MAX_K);
  cr_assert(saw_enomem, "no k produced NPLM_ENOMEM");
  cr_assert(k > 10, "the scenario made only %ld allocations", k - 1);
  nplm__alloc_fail_after(0);
  free(b);
  free(o);
  unlink(g_path);
}

Test(oom, every_allocation_fails_once_one_thread) { every_allocation_fails_once(1); }

Test(oom, every_allocation_fails_once_two_threads) { every_allocation_fails_once(2); }

/* status.h: "The message names the function". For every injected failure, the thread's message
 * (and the handle's, for calls on a test handle) names the public function that failed. */
Test(oom, enomem_messages_name_the_function) {
  setup_files();
  outcome_t *o = malloc(sizeof *o);
  cr_assert_not_null(o);
  int checked = 0;
  for (long k = 1; k <= MAX_K; k++) {
    scenario(o, k, 2);
    cr_assert(!o->bad, "%s", o->bad_what);
    cr_assert(!o->unnamed, "%s", o->unnamed_what);
    checked += o->enomem;
    if (!o->triggered) break;
  }
  cr_assert(checked > 0, "no NPLM_ENOMEM message was checked");
  free(o);
  unlink(g_path);
  assert_no_leaks();
}

/* A nuisance file whose header promises networks it does not hold is refused before anything
 * is allocated for them: loading it costs no more allocations than a file refused at its first
 * unit count. (It once allocated order networks of the claimed shape first: 8 of 8 GB for a
 * 600-byte file.) */
static long allocations_of_failed_nuisance_load(const unsigned char *b, size_t n) {
  cr_assert(n > 0);
  FILE *f = fopen(g_path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(b, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
  nplm_nuisance_t *nu = NULL;
  nplm__alloc_fail_after(1000000); /* counts, never reached */
  const nplm_status_t s = nplm_nuisance_load(&nu, g_path);
  const long count = nplm__alloc_count();
  nplm__alloc_fail_after(0);
  cr_assert_eq(s, NPLM_EFORMAT, "%s", nplm_last_error());
  cr_assert_null(nu);
  return count;
}

Test(oom, file_headers_are_checked_before_allocating) {
  setup_files();
  static unsigned char b[2048];
  uint64_t units[64];
  units[0] = 1;
  for (int l = 1; l < 63; l++) units[l] = 4096;
  units[63] = 1;
  const long huge =
      allocations_of_failed_nuisance_load(b, craft_nuisance_file(b, sizeof b, 1, units, 64, 8, 0));
  units[1] = 4097;
  const long refused_early =
      allocations_of_failed_nuisance_load(b, craft_nuisance_file(b, sizeof b, 1, units, 64, 8, 0));
  cr_assert_eq(huge, refused_early, "a 1e9-parameter shape with no parameters cost %ld "
               "allocations, a bad unit count %ld", huge, refused_early);
  /* a frame that claims 1 TB of payload is refused from the file's size, before any buffer */
  const uint64_t small[3] = {1, 4, 1};
  const size_t n = craft_nuisance_file(b, sizeof b, 1, small, 3, 1, 13);
  put_u64(b + 16, (uint64_t)1 << 40);
  fix_crc(b, n);
  const long count = allocations_of_failed_nuisance_load(b, n);
  cr_assert_eq(count, 0, "a 1 TB size field cost %ld allocations", count);
  unlink(g_path);
  assert_no_leaks();
}

/* The hook itself: counting and one failure at the chosen allocation. */
Test(oom, hook_counts_and_fails_once) {
  nplm__alloc_fail_after(3);
  void *a = nplm__malloc(8), *b = nplm__malloc(8), *c = nplm__malloc(8), *d = nplm__malloc(8);
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  cr_assert_null(c, "the 3rd allocation did not fail");
  cr_assert_not_null(d, "the 4th allocation failed too");
  cr_assert_eq(nplm__alloc_count(), 4);
  nplm__free(a);
  nplm__free(b);
  nplm__free(d);
  nplm__alloc_fail_after(0);
  void *e = nplm__calloc(2, 8);
  cr_assert_not_null(e);
  nplm__free(e);
  assert_no_leaks();
}

/* The systematics and calibration paths under the same injection: nuisance handle and options,
 * learning (with its validation split), module save/load, a test with nuisances, a calibration
 * with per-toy results and pulls. */
typedef struct sys_outcome {
  outcome_t base;
  double log_r[N_EVAL];
  double t_null[2], tau[2], nu_delta[4];
} sys_outcome_t;

static void sys_scenario(sys_outcome_t *so, long k, int threads) {
  outcome_t *o = &so->base;
  memset(so, 0, sizeof *so);
  o->k = k;
  static const size_t coef[3] = {1, 3, 1}, layers[3] = {1, 4, 1};
  const double nus[2] = {-0.2, 0.2}, at[2] = {0.1, 0.05};
  static double xv[2][N_REF];
  for (int i = 0; i < N_REF; i++) xv[0][i] = g_ref[i] * exp(nus[0]), xv[1][i] = g_eval[i % N_EVAL];
  const double *x_var[2] = {xv[0], xv[1]};
  const size_t n_var[2] = {N_REF, N_REF};
  nplm_nuisance_t *nu = NULL, *loaded = NULL;
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  size_t is = 0, in = 0;

  nplm__alloc_fail_after(k);
  STEP("nplm_nuisance_create", NULL, nplm_nuisance_create(&nu, 1));
  STEP("nplm_nuisance_add_shape", NULL, nplm_nuisance_add_shape(nu, 0.1, 1, coef, 3, &is));
  STEP("nplm_nuisance_add_norm", NULL, nplm_nuisance_add_norm(nu, 0.05, &in));
  STEP("nplm_nuisance_set_int", NULL, nplm_nuisance_set_int(nu, NPLM_NUIS_OPT_MAX_ITERATIONS, 8));
  STEP("nplm_nuisance_learn", NULL,
       nplm_nuisance_learn(nu, is, 1, g_ref, N_REF, NULL, 2, nus, x_var, n_var, NULL));
  STEP("nplm_nuisance_save", NULL, nplm_nuisance_save(nu, g_path));
  STEP("nplm_nuisance_load", NULL, nplm_nuisance_load(&loaded, g_path));
  STEP("nplm_nuisance_log_ratio", NULL,
       nplm_nuisance_log_ratio(loaded, at, g_eval, N_EVAL, 1, so->log_r));
  STEP("nplm_model_create_mlp", NULL, nplm_model_create_mlp(&m, layers, 3, 9.0));
  STEP("nplm_test_create", NULL, nplm_test_create(&t, m, loaded));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_THREADS, threads));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 15));
  STEP("nplm_test_set_reference", t,
       nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, (double)N_DATA));
  {
    nplm_status_t s = nplm_test_calibrate(t, g_eval, N_EVAL, 1, NULL, 2, 5, so->t_null);
    if (s == NPLM_ENOCONV) s = NPLM_OK;
    if (!step_status(o, s, "nplm_test_calibrate", t, "nplm_test_calibrate")) {
      if (o->bad) goto cleanup;
      s = nplm_test_calibrate(t, g_eval, N_EVAL, 1, NULL, 2, 5, so->t_null);
      if (!retry_status(o, s == NPLM_ENOCONV ? NPLM_OK : s, "nplm_test_calibrate")) goto cleanup;
    }
  }
  STEP("nplm_test_toy_results", NULL, nplm_test_toy_results(t, NPLM_RESULT_TAU, so->tau, 2));
  STEP("nplm_test_toy_nuisances", NULL,
       nplm_test_toy_nuisances(t, NPLM_FIT_DELTA, so->nu_delta, 2, 2));
  o->complete = 1;

cleanup:
  if (nplm__alloc_count() >= k && k > 0) o->triggered = 1;
  nplm_test_free(t);
  nplm_model_free(m);
  nplm_nuisance_free(loaded);
  nplm_nuisance_free(nu);
  nplm__alloc_fail_after(0);
}

Test(oom, systematics_and_calibration) {
  setup_files();
  sys_outcome_t *b = malloc(sizeof *b), *o = malloc(sizeof *o);
  cr_assert(b && o);
  sys_scenario(b, 0, 2);
  cr_assert(!b->base.bad, "%s", b->base.bad_what);
  cr_assert(b->base.complete, "the undisturbed scenario did not complete");
  cr_assert(isfinite(b->t_null[0]) && isfinite(b->t_null[1]) && isfinite(b->nu_delta[3]));
  long k;
  int finished = 0, saw_enomem = 0;
  for (k = 1; k <= MAX_K; k++) {
    sys_scenario(o, k, 2);
    assert_no_leaks_at(k);
    cr_assert(!o->base.bad, "%s", o->base.bad_what);
    cr_assert(!o->base.unnamed, "%s", o->base.unnamed_what);
    cr_assert(o->base.complete, "k = %ld: the scenario stopped early", k);
    saw_enomem |= o->base.enomem > 0;
    cr_assert(memcmp(o->log_r, b->log_r, sizeof b->log_r) == 0, "k = %ld: log r differs", k);
    cr_assert(memcmp(o->t_null, b->t_null, sizeof b->t_null) == 0 &&
                  memcmp(o->tau, b->tau, sizeof b->tau) == 0 &&
                  memcmp(o->nu_delta, b->nu_delta, sizeof b->nu_delta) == 0,
              "k = %ld: the calibration differs from the undisturbed run", k);
    if (!o->base.triggered) {
      finished = 1;
      break;
    }
  }
  cr_assert(finished, "the scenario still failed at k = %d", MAX_K);
  cr_assert(saw_enomem, "no k produced NPLM_ENOMEM");
  cr_assert(k > 10, "the scenario made only %ld allocations", k - 1);
  cr_log_info("systematics scenario: %ld allocations, each failed once", k - 1);
  free(b);
  free(o);
  unlink(g_path);
}

/* The kernel model under the same injection: both solvers, the fitted model's file, a
 * calibration and the width heuristic. */
typedef struct kern_outcome {
  outcome_t base;
  double t_direct, t_cg, t_null[2], sigma;
  double f[N_EVAL];
} kern_outcome_t;

static void kern_scenario(kern_outcome_t *ko, long k, int threads) {
  outcome_t *o = &ko->base;
  memset(ko, 0, sizeof *ko);
  o->k = k;
  nplm_model_t *m = NULL, *loaded = NULL;
  nplm_test_t *t = NULL;
  const nplm_model_t *fitted = NULL;
  nplm__alloc_fail_after(k);
  STEP("nplm_kernel_sigma_heuristic", NULL,
       nplm_kernel_sigma_heuristic(g_ref, N_REF, 1, 100, 0.9, 3, &ko->sigma));
  STEP("nplm_model_create_kernel", NULL, nplm_model_create_kernel(&m, 1, 24, 0.7, 1e-6));
  STEP("nplm_test_create", NULL, nplm_test_create(&t, m, NULL));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_THREADS, threads));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_STANDARDIZE, 1));
  STEP("nplm_test_set_reference", t,
       nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, (double)N_DATA));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_KERNEL_SOLVER, NPLM_SOLVER_DIRECT));
  STEP("nplm_test_run", t, nplm_test_run(t, g_data, N_DATA, 1, NULL, &ko->t_direct));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_KERNEL_SOLVER, NPLM_SOLVER_CG));
  STEP("nplm_test_set_int", t, nplm_test_set_int(t, NPLM_OPT_NEWTON_STEPS, 2));
  STEP("nplm_test_run", t, nplm_test_run(t, g_data, N_DATA, 1, NULL, &ko->t_cg));
  STEP("nplm_test_fitted_model", NULL, nplm_test_fitted_model(t, &fitted));
  STEP("nplm_model_save", NULL, nplm_model_save(fitted, g_path));
  STEP("nplm_model_load", NULL, nplm_model_load(&loaded, g_path));
  STEP("nplm_model_eval", NULL, nplm_model_eval(loaded, g_eval, N_EVAL, 1, ko->f));
  STEP("nplm_test_calibrate", t, nplm_test_calibrate(t, g_eval, N_EVAL, 1, NULL, 2, 9, ko->t_null));
  o->complete = 1;
cleanup:
  if (nplm__alloc_count() >= k && k > 0) o->triggered = 1;
  nplm_model_free(loaded);
  nplm_test_free(t);
  nplm_model_free(m);
  nplm__alloc_fail_after(0);
}

Test(oom, kernel_model) {
  setup_files();
  kern_outcome_t *b = malloc(sizeof *b), *o = malloc(sizeof *o);
  cr_assert(b && o);
  kern_scenario(b, 0, 2);
  cr_assert(!b->base.bad, "%s", b->base.bad_what);
  cr_assert(b->base.complete, "the undisturbed scenario did not complete");
  cr_assert(isfinite(b->t_direct) && isfinite(b->t_cg) && isfinite(b->t_null[1]));
  long k;
  int finished = 0, saw_enomem = 0;
  for (k = 1; k <= MAX_K; k++) {
    kern_scenario(o, k, 2);
    assert_no_leaks_at(k);
    cr_assert(!o->base.bad, "%s", o->base.bad_what);
    cr_assert(!o->base.unnamed, "%s", o->base.unnamed_what);
    cr_assert(o->base.complete, "k = %ld: the scenario stopped early", k);
    saw_enomem |= o->base.enomem > 0;
    cr_assert(o->t_direct == b->t_direct && o->t_cg == b->t_cg && o->sigma == b->sigma &&
                  memcmp(o->t_null, b->t_null, sizeof b->t_null) == 0 &&
                  memcmp(o->f, b->f, sizeof b->f) == 0,
              "k = %ld: results differ from the undisturbed run", k);
    if (!o->base.triggered) {
      finished = 1;
      break;
    }
  }
  cr_assert(finished, "the scenario still failed at k = %d", MAX_K);
  cr_assert(saw_enomem, "no k produced NPLM_ENOMEM");
  cr_log_info("kernel scenario: %ld allocations, each failed once", k - 1);
  free(b);
  free(o);
  unlink(g_path);
}
