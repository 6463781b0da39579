/* The "bad input" reliability matrix of the public API: every entry point of model.h and test.h
 * (and the version/status functions) is fed NULL handles, NULL outputs, NULL buffers, NaN/Inf
 * events and weights, wrong sizes, overflowing sizes, out-of-range options, out-of-order calls
 * and damaged model files. Every failure must return the documented status, leave a message
 * that names the function (and the argument / first bad index where relevant), and leave the
 * handle usable: a valid nplm_test_run() afterwards succeeds.
 *
 * Public API only. Problems are tiny (1-4-1 network, 500 reference events of Exp(1)) so that the
 * whole file runs in a few seconds. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nplm/nplm.h>

/* LeakSanitizer: Criterion's test workers end without the at-exit leak check, so leaks on error
 * paths are checked explicitly (in sanitizer builds) at the end of each test. */
#include "../common/file_bytes.h"
#include "../common/leak_check.h"
#define assert_no_leaks nplm_test_assert_no_leaks

/* ------------------------------------------------------------------------------------------ */
/* Deterministic samples: splitmix64 -> uniform -> Exp(1). */

static uint64_t sm_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double sm_uniform(uint64_t *s) { return (double)(sm_next(s) >> 11) * 0x1p-53; }

static void gen_exp(double *x, size_t n, uint64_t seed) {
  uint64_t s = seed;
  for (size_t i = 0; i < n; i++) x[i] = -log1p(-sm_uniform(&s));
}

#define N_REF 500
#define N_DATA 100
#define N_EXPECTED 100.0

static double g_ref[N_REF], g_data[N_DATA];

static void init_samples(void) {
  gen_exp(g_ref, N_REF, 1);
  gen_exp(g_data, N_DATA, 2);
}

/* ------------------------------------------------------------------------------------------ */
/* Fixtures and checks. */

static const size_t LAYERS_141[3] = {1, 4, 1};

static nplm_model_t *make_model(void) {
  nplm_model_t *m = NULL;
  nplm_status_t s = nplm_model_create_mlp(&m, LAYERS_141, 3, 9.0);
  cr_assert_eq(s, NPLM_OK, "nplm_model_create_mlp: %s (%s)", nplm_status_name(s),
               nplm_last_error());
  cr_assert_not_null(m);
  return m;
}

static void set_fast_options(nplm_test_t *t) {
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 1000), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, 1), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_EPOCHS, 50), NPLM_OK);
  cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_LEARNING_RATE, 0.01), NPLM_OK);
}

/* A 1-4-1 test with fast options; with a reference when with_ref. */
static nplm_test_t *make_test(int with_ref) {
  init_samples();
  nplm_model_t *m = make_model();
  nplm_test_t *t = NULL;
  nplm_status_t s = nplm_test_create(&t, m, NULL);
  nplm_model_free(m); /* the test keeps its own copy */
  cr_assert_eq(s, NPLM_OK, "nplm_test_create: %s (%s)", nplm_status_name(s), nplm_last_error());
  cr_assert_not_null(t);
  set_fast_options(t);
  if (with_ref) {
    s = nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, N_EXPECTED);
    cr_assert_eq(s, NPLM_OK, "nplm_test_set_reference: %s (%s)", nplm_status_name(s),
                 nplm_last_error());
  }
  return t;
}

/* A valid run on the standard data must succeed with a finite t. NPLM_ENOCONV (the iteration
 * limit, t written) also shows a working handle; it keeps this check independent of how fast
 * the optimiser converges. */
static double assert_usable(nplm_test_t *t, const char *after) {
  double tv = NAN;
  nplm_status_t s = nplm_test_run(t, g_data, N_DATA, 1, NULL, &tv);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "after %s: a valid nplm_test_run gives %s (%s)",
            after, nplm_status_name(s), nplm_test_last_error(t));
  cr_assert(isfinite(tv), "after %s: t = %g is not finite", after, tv);
  return tv;
}

/* A failed call on a (non-const) test handle: status, the handle's message (non-empty, the
 * same as the thread's, naming the function and the needle), and the handle still works. */
static void expect_fail(nplm_test_t *t, nplm_status_t got, nplm_status_t want, const char *fname,
                        const char *needle, const char *what) {
  cr_assert_eq(got, want, "%s: got %s, want %s (%s)", what, nplm_status_name(got),
               nplm_status_name(want), nplm_last_error());
  const char *msg = nplm_test_last_error(t);
  cr_assert_not_null(msg, "%s: nplm_test_last_error is NULL", what);
  cr_assert(msg[0] != '\0', "%s: nplm_test_last_error is empty", what);
  cr_assert_str_eq(msg, nplm_last_error(), "%s: the handle's message '%s' is not this failure's",
                   what, msg);
  cr_assert(strstr(msg, fname) != NULL, "%s: message '%s' does not name %s", what, msg, fname);
  if (needle)
    cr_assert(strstr(msg, needle) != NULL, "%s: message '%s' does not contain '%s'", what, msg,
              needle);
  assert_usable(t, what);
}

/* A failed call that has no (writable) handle: the thread's message. */
static void expect_fail_msg(nplm_status_t got, nplm_status_t want, const char *fname,
                            const char *needle, const char *what) {
  cr_assert_eq(got, want, "%s: got %s, want %s (%s)", what, nplm_status_name(got),
               nplm_status_name(want), nplm_last_error());
  const char *msg = nplm_last_error();
  cr_assert_not_null(msg, "%s: nplm_last_error is NULL", what);
  cr_assert(strstr(msg, fname) != NULL, "%s: message '%s' does not name %s", what, msg, fname);
  if (needle)
    cr_assert(strstr(msg, needle) != NULL, "%s: message '%s' does not contain '%s'", what, msg,
              needle);
}

/* ------------------------------------------------------------------------------------------ */
/* Version and status functions. */

Test(version_status, version_matches_headers) {
  const char *v = nplm_version_string();
  cr_assert_not_null(v);
  cr_assert_str_eq(v, NPLM_VERSION_STRING);
  cr_assert_eq(nplm_version_number(), (unsigned)NPLM_VERSION_NUMBER);
  assert_no_leaks();
}

Test(version_status, unknown_codes_have_strings) {
  const int codes[] = {-1, 10, 11, 100, 9999, INT32_MAX, INT32_MIN};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    nplm_status_t s = (nplm_status_t)codes[i];
    const char *e = nplm_strerror(s), *n = nplm_status_name(s);
    cr_assert_not_null(e, "nplm_strerror(%d) is NULL", codes[i]);
    cr_assert_not_null(n, "nplm_status_name(%d) is NULL", codes[i]);
    cr_assert_str_eq(e, "unknown status", "nplm_strerror(%d) = '%s'", codes[i], e);
    cr_assert_str_eq(n, "NPLM_UNKNOWN", "nplm_status_name(%d) = '%s'", codes[i], n);
  }
  for (int c = 0; c <= 9; c++) {
    cr_assert_not_null(nplm_strerror((nplm_status_t)c));
    cr_assert_str_neq(nplm_status_name((nplm_status_t)c), "NPLM_UNKNOWN", "code %d", c);
  }
  assert_no_leaks();
}

Test(version_status, free_null_and_null_queries) {
  nplm_model_free(NULL);
  nplm_test_free(NULL);
  cr_assert_eq(nplm_model_num_params(NULL), 0);
  cr_assert_eq(nplm_model_input_dim(NULL), 0);
  cr_assert(isnan(nplm_model_weight_clip(NULL)), "nplm_model_weight_clip(NULL) is not NaN");
  const char *m = nplm_test_last_error(NULL);
  cr_assert_not_null(m, "nplm_test_last_error(NULL) is NULL");
  cr_assert(m[0] != '\0', "nplm_test_last_error(NULL) is empty");
  assert_no_leaks();
}

Test(version_status, fresh_handle_has_empty_message) {
  nplm_test_t *t = make_test(1);
  cr_assert_str_eq(nplm_test_last_error(t), "");
  nplm_test_free(t);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* Model creation. */

static void expect_create_fails(const size_t *layers, size_t n_layers, double clip,
                                const char *needle, const char *what) {
  nplm_model_t *m = (nplm_model_t *)&m; /* a non-NULL sentinel: must become NULL */
  nplm_status_t s = nplm_model_create_mlp(&m, layers, n_layers, clip);
  expect_fail_msg(s, NPLM_EINVAL, "nplm_model_create_mlp", needle, what);
  cr_assert_null(m, "%s: *out is not NULL after a failure", what);
}

Test(model_create, bad_arguments) {
  static const size_t ok[3] = {1, 4, 1};
  nplm_status_t s = nplm_model_create_mlp(NULL, ok, 3, 9.0);
  expect_fail_msg(s, NPLM_EINVAL, "nplm_model_create_mlp", "out", "out = NULL");
  expect_create_fails(NULL, 3, 9.0, "layers", "layers = NULL");
  expect_create_fails(ok, 0, 9.0, "n_layers", "n_layers = 0");
  expect_create_fails(ok, 1, 9.0, "n_layers", "n_layers = 1");
  size_t many[65];
  for (size_t i = 0; i < 65; i++) many[i] = 1;
  expect_create_fails(many, 65, 9.0, "n_layers", "n_layers = 65");
  static const size_t zero_in[3] = {0, 4, 1}, zero_hidden[3] = {1, 0, 1}, zero_out[3] = {1, 4, 0};
  expect_create_fails(zero_in, 3, 9.0, "layers[0]", "d = 0");
  expect_create_fails(zero_hidden, 3, 9.0, "layers[1]", "0-unit hidden layer");
  expect_create_fails(zero_out, 3, 9.0, "layers[2]", "0-unit output layer");
  static const size_t two_out[3] = {1, 4, 2}, huge_hidden[3] = {1, 4097, 1};
  expect_create_fails(two_out, 3, 9.0, "layers[2]", "output layer of 2 units");
  expect_create_fails(huge_hidden, 3, 9.0, "layers[1]", "4097-unit layer");
  static const size_t overflow_hidden[3] = {1, SIZE_MAX, 1};
  expect_create_fails(overflow_hidden, 3, 9.0, "layers[1]", "SIZE_MAX-unit layer");
  expect_create_fails(ok, 3, 0.0, "weight_clip", "clip 0");
  expect_create_fails(ok, 3, -1.0, "weight_clip", "clip -1");
  expect_create_fails(ok, 3, -INFINITY, "weight_clip", "clip -Inf");
  expect_create_fails(ok, 3, NAN, "weight_clip", "clip NaN");
  assert_no_leaks();
}

Test(model_create, legal_edge_shapes) {
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, LAYERS_141, 3, INFINITY), NPLM_OK, "%s",
               nplm_last_error());
  cr_assert(isinf(nplm_model_weight_clip(m)) && nplm_model_weight_clip(m) > 0);
  cr_assert_eq(nplm_model_num_params(m), 13);
  cr_assert_eq(nplm_model_input_dim(m), 1);
  nplm_model_free(m);
  static const size_t lin[2] = {3, 1};
  m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, lin, 2, 1.0), NPLM_OK, "%s", nplm_last_error());
  cr_assert_eq(nplm_model_num_params(m), 4);
  nplm_model_free(m);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* Parameters. */

Test(model_params, bad_arguments_leave_the_model_unchanged) {
  nplm_model_t *m = make_model();
  double p[13], q[14], back[13];
  for (size_t i = 0; i < 13; i++) p[i] = 0.1 * (double)i - 0.5;
  for (size_t i = 0; i < 14; i++) q[i] = 1.0;
  cr_assert_eq(nplm_model_set_params(m, p, 13), NPLM_OK, "%s", nplm_last_error());

  expect_fail_msg(nplm_model_get_params(NULL, back, 13), NPLM_EINVAL, "nplm_model_get_params",
                  "m", "get_params m = NULL");
  expect_fail_msg(nplm_model_get_params(m, NULL, 13), NPLM_EINVAL, "nplm_model_get_params", "p",
                  "get_params p = NULL");
  expect_fail_msg(nplm_model_get_params(m, back, 12), NPLM_EINVAL, "nplm_model_get_params", "n",
                  "get_params n = 12");
  expect_fail_msg(nplm_model_get_params(m, q, 14), NPLM_EINVAL, "nplm_model_get_params", "n",
                  "get_params n = 14");
  expect_fail_msg(nplm_model_get_params(m, back, 0), NPLM_EINVAL, "nplm_model_get_params", "n",
                  "get_params n = 0");
  for (size_t i = 0; i < 14; i++) cr_assert_eq(q[i], 1.0, "get_params wrote q[%zu] on failure", i);

  expect_fail_msg(nplm_model_set_params(NULL, p, 13), NPLM_EINVAL, "nplm_model_set_params", "m",
                  "set_params m = NULL");
  expect_fail_msg(nplm_model_set_params(m, NULL, 13), NPLM_EINVAL, "nplm_model_set_params", "p",
                  "set_params p = NULL");
  expect_fail_msg(nplm_model_set_params(m, q, 12), NPLM_EINVAL, "nplm_model_set_params", "n",
                  "set_params n = 12");
  expect_fail_msg(nplm_model_set_params(m, q, 14), NPLM_EINVAL, "nplm_model_set_params", "n",
                  "set_params n = 14");
  const double bad[3] = {NAN, INFINITY, -INFINITY};
  for (int b = 0; b < 3; b++) {
    double r[13];
    for (size_t i = 0; i < 13; i++) r[i] = 2.0;
    r[5] = bad[b];
    expect_fail_msg(nplm_model_set_params(m, r, 13), NPLM_EINVAL, "nplm_model_set_params", "p[5]",
                    "set_params with a non-finite p[5]");
  }
  cr_assert_eq(nplm_model_get_params(m, back, 13), NPLM_OK);
  for (size_t i = 0; i < 13; i++)
    cr_assert_eq(back[i], p[i], "parameter %zu changed by a failed set_params", i);
  nplm_model_free(m);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluation. */

Test(model_eval, bad_arguments) {
  nplm_model_t *m = make_model();
  double x[10], f[10];
  for (size_t i = 0; i < 10; i++) x[i] = 0.1 * (double)i;
  for (size_t i = 0; i < 10; i++) f[i] = -7.0;
  const char *fn = "nplm_model_eval";
  expect_fail_msg(nplm_model_eval(NULL, x, 10, 1, f), NPLM_EINVAL, fn, "m", "eval m = NULL");
  expect_fail_msg(nplm_model_eval(m, NULL, 10, 1, f), NPLM_EINVAL, fn, "x", "eval x = NULL");
  expect_fail_msg(nplm_model_eval(m, x, 10, 1, NULL), NPLM_EINVAL, fn, "f", "eval f = NULL");
  expect_fail_msg(nplm_model_eval(m, x, 10, 0, f), NPLM_EINVAL, fn, "d", "eval d = 0");
  expect_fail_msg(nplm_model_eval(m, x, 5, 2, f), NPLM_EINVAL, fn, "d", "eval d = 2");
  const double bad[3] = {NAN, INFINITY, -INFINITY};
  for (int b = 0; b < 3; b++) {
    double y[10];
    memcpy(y, x, sizeof y);
    y[7] = bad[b];
    expect_fail_msg(nplm_model_eval(m, y, 10, 1, f), NPLM_EINVAL, fn, "x[7", "eval x[7] bad");
  }
  /* n * d * sizeof(double) overflows: rejected before x is read. */
  expect_fail_msg(nplm_model_eval(m, x, SIZE_MAX, 1, f), NPLM_EINVAL, fn, "x",
                  "eval n = SIZE_MAX");
  expect_fail_msg(nplm_model_eval(m, x, SIZE_MAX / 4, 1, f), NPLM_EINVAL, fn, "x",
                  "eval n = SIZE_MAX / 4");
  for (size_t i = 0; i < 10; i++) cr_assert_eq(f[i], -7.0, "f[%zu] written on failure", i);

  /* n = 0: legal, with NULL buffers. */
  cr_assert_eq(nplm_model_eval(m, NULL, 0, 1, NULL), NPLM_OK, "%s", nplm_last_error());
  cr_assert_eq(nplm_model_eval(m, x, 1, 1, f), NPLM_OK, "%s", nplm_last_error());
  cr_assert_eq(f[0], 0.0, "a fresh model gives f = %g, want 0", f[0]);
  nplm_model_free(m);
  assert_no_leaks();
}

Test(model_eval, size_overflow_with_a_wide_model) {
  static const size_t wide[2] = {4096, 1};
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, wide, 2, 9.0), NPLM_OK, "%s", nplm_last_error());
  double x[4] = {0, 0, 0, 0}, f[4];
  /* n * d overflows size_t itself. */
  expect_fail_msg(nplm_model_eval(m, x, SIZE_MAX / 4096 + 2, 4096, f), NPLM_EINVAL,
                  "nplm_model_eval", "x", "eval n * d overflows");
  expect_fail_msg(nplm_model_eval(m, x, SIZE_MAX / 2, 4096, f), NPLM_EINVAL, "nplm_model_eval",
                  "x", "eval n * d overflows (2)");
  nplm_model_free(m);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* Model files. */

static char g_dir[256];

static void make_dir(void) {
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !tmp[0]) tmp = "/tmp";
  int w = snprintf(g_dir, sizeof g_dir, "%s/nplm-robust-XXXXXX", tmp);
  cr_assert(w > 0 && (size_t)w < sizeof g_dir);
  cr_assert_not_null(mkdtemp(g_dir), "mkdtemp failed");
}

static void path_in_dir(char *out, size_t cap, const char *name) {
  int w = snprintf(out, cap, "%s/%s", g_dir, name);
  cr_assert(w > 0 && (size_t)w < cap);
}

static void write_bytes(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "cannot write %s", path);
  cr_assert_eq(fwrite(b, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot read %s", path);
  unsigned char *b = malloc(1 << 16);
  cr_assert_not_null(b);
  *n = fread(b, 1, 1 << 16, f);
  cr_assert_eq(fclose(f), 0);
  return b;
}

/* A trained-looking 1-4-1 model saved to a file; its bytes are returned. */
static unsigned char *saved_model(const char *path, size_t *n) {
  nplm_model_t *m = make_model();
  double p[13];
  for (size_t i = 0; i < 13; i++) p[i] = 0.25 * (double)i - 1.5;
  cr_assert_eq(nplm_model_set_params(m, p, 13), NPLM_OK);
  cr_assert_eq(nplm_model_save(m, path), NPLM_OK, "%s", nplm_last_error());
  nplm_model_free(m);
  unsigned char *b = read_bytes(path, n);
  /* header 24 + payload (16 + 3 * 8 + 13 * 8) + CRC 4 */
  cr_assert_eq(*n, 24 + 16 + 24 + 104 + 4, "model file of %zu bytes", *n);
  return b;
}

/* Load must fail with one of the two statuses and leave *out NULL. */
static void expect_load_fails(const char *path, nplm_status_t want1, nplm_status_t want2,
                              const char *what) {
  nplm_model_t *m = (nplm_model_t *)&m;
  nplm_status_t s = nplm_model_load(&m, path);
  cr_assert(s == want1 || s == want2, "%s: load gives %s, want %s or %s", what,
            nplm_status_name(s), nplm_status_name(want1), nplm_status_name(want2));
  cr_assert_null(m, "%s: *out is not NULL after a failed load", what);
  cr_assert(strstr(nplm_last_error(), "nplm_model_load") != NULL,
            "%s: message '%s' does not name nplm_model_load", what, nplm_last_error());
  if (m) nplm_model_free(m);
}

Test(model_file, save_bad_arguments) {
  make_dir();
  nplm_model_t *m = make_model();
  char path[512];
  path_in_dir(path, sizeof path, "m.nplm");
  expect_fail_msg(nplm_model_save(NULL, path), NPLM_EINVAL, "nplm_model_save", "m", "save m NULL");
  expect_fail_msg(nplm_model_save(m, NULL), NPLM_EINVAL, "nplm_model_save", "path",
                  "save path NULL");
  expect_fail_msg(nplm_model_save(m, "/nonexistent-dir/x.nplm"), NPLM_EIO, "nplm_model_save",
                  NULL, "save to a missing directory");
  expect_fail_msg(nplm_model_save(m, g_dir), NPLM_EIO, "nplm_model_save", NULL,
                  "save onto a directory");
  expect_fail_msg(nplm_model_save(m, ""), NPLM_EIO, "nplm_model_save", NULL, "save to ''");
  cr_assert_eq(nplm_model_save(m, path), NPLM_OK, "%s", nplm_last_error());
  nplm_model_t *back = NULL;
  cr_assert_eq(nplm_model_load(&back, path), NPLM_OK, "%s", nplm_last_error());
  cr_assert_eq(nplm_model_num_params(back), 13);
  nplm_model_free(back);
  nplm_model_free(m);
  unlink(path);
  rmdir(g_dir);
  assert_no_leaks();
}

Test(model_file, load_bad_arguments_and_missing_files) {
  make_dir();
  char path[512];
  path_in_dir(path, sizeof path, "m.nplm");
  size_t n;
  free(saved_model(path, &n));
  nplm_model_t *m = NULL;
  expect_fail_msg(nplm_model_load(NULL, path), NPLM_EINVAL, "nplm_model_load", "out",
                  "load out NULL");
  m = (nplm_model_t *)&m;
  expect_fail_msg(nplm_model_load(&m, NULL), NPLM_EINVAL, "nplm_model_load", "path",
                  "load path NULL");
  cr_assert_null(m);
  expect_load_fails("/nonexistent-dir/x.nplm", NPLM_EIO, NPLM_EIO, "missing file");
  char missing[512];
  path_in_dir(missing, sizeof missing, "missing.nplm");
  expect_load_fails(missing, NPLM_EIO, NPLM_EIO, "missing file in the temp dir");
  expect_load_fails(g_dir, NPLM_EIO, NPLM_EFORMAT, "a directory");
  unlink(path);
  rmdir(g_dir);
  assert_no_leaks();
}

Test(model_file, load_garbage) {
  make_dir();
  char path[512];
  path_in_dir(path, sizeof path, "g.nplm");
  write_bytes(path, (const unsigned char *)"", 0);
  expect_load_fails(path, NPLM_EFORMAT, NPLM_EFORMAT, "empty file");
  unsigned char junk[1000];
  uint64_t s = 42;
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(sm_next(&s) >> 56);
  write_bytes(path, junk, sizeof junk);
  expect_load_fails(path, NPLM_EFORMAT, NPLM_EFORMAT, "random bytes");
  memcpy(junk, "NPLMMODL", 8);
  write_bytes(path, junk, sizeof junk);
  expect_load_fails(path, NPLM_EFORMAT, NPLM_EFORMAT, "magic then random bytes");
  put_u32(junk + 8, 1);
  put_u32(junk + 12, 1);
  put_u64(junk + 16, sizeof junk - 28);
  write_bytes(path, junk, sizeof junk);
  expect_load_fails(path, NPLM_EFORMAT, NPLM_EFORMAT, "good header, random payload and CRC");
  fix_crc(junk, sizeof junk);
  write_bytes(path, junk, sizeof junk);
  expect_load_fails(path, NPLM_EFORMAT, NPLM_EFORMAT, "good header and CRC, random payload");
  unlink(path);
  rmdir(g_dir);
  assert_no_leaks();
}

Test(model_file, every_truncation_is_rejected) {
  make_dir();
  char path[512], cut[512];
  path_in_dir(path, sizeof path, "m.nplm");
  path_in_dir(cut, sizeof cut, "cut.nplm");
  size_t n;
  unsigned char *b = saved_model(path, &n);
  for (size_t len = 0; len < n; len++) {
    char what[128];
    snprintf(what, sizeof what, "file truncated to %zu of %zu bytes", len, n);
    write_bytes(cut, b, len);
    expect_load_fails(cut, NPLM_EFORMAT, NPLM_EIO, what);
  }
  /* and the whole file still loads */
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_load(&m, path), NPLM_OK, "%s", nplm_last_error());
  nplm_model_free(m);
  free(b);
  unlink(cut);
  unlink(path);
  rmdir(g_dir);
  assert_no_leaks();
}

Test(model_file, every_flipped_byte_is_rejected) {
  make_dir();
  char path[512], bad[512];
  path_in_dir(path, sizeof path, "m.nplm");
  path_in_dir(bad, sizeof bad, "flip.nplm");
  size_t n;
  unsigned char *b = saved_model(path, &n);
  /* every byte inverted, and every byte with one bit flipped (the bit position cycling, so that
   * each of the 8 positions is hit in every field) */
  for (size_t i = 0; i < n; i++) {
    for (int pass = 0; pass < 2; pass++) {
      unsigned char x = (unsigned char)(pass == 0 ? 0xffu : 1u << (i % 8));
      char what[128];
      snprintf(what, sizeof what, "byte %zu of %zu xor 0x%02x", i, n, (unsigned)x);
      b[i] ^= x;
      write_bytes(bad, b, n);
      b[i] ^= x;
      expect_load_fails(bad, NPLM_EFORMAT, NPLM_EFORMAT, what);
    }
  }
  free(b);
  unlink(bad);
  unlink(path);
  rmdir(g_dir);
  assert_no_leaks();
}

/* Files with a valid checksum but impossible content (what a buggy writer could produce). */
Test(model_file, crafted_files_with_valid_checksums) {
  make_dir();
  char path[512], bad[512];
  path_in_dir(path, sizeof path, "m.nplm");
  path_in_dir(bad, sizeof bad, "crafted.nplm");
  size_t n;
  unsigned char *b = saved_model(path, &n);
  unsigned char *c = malloc(n + 16);
  cr_assert_not_null(c);
  /* offsets: 8 version, 12 kind, 16 payload, 24 n_layers, 28 flags, 32 clip, 40 units,
   * 64 params, n - 4 CRC */
  struct {
    size_t off;
    int width; /* 4, 8 (integer) or -8 (double) */
    uint64_t u;
    double d;
    const char *what;
  } cases[] = {
      {24, 4, 0xffffffffu, 0, "huge layer count"},
      {24, 4, 65, 0, "65 layers"},
      {24, 4, 64, 0, "64 layers in a 3-layer payload"},
      {24, 4, 1, 0, "1 layer"},
      {24, 4, 0, 0, "0 layers"},
      {8, 4, 2, 0, "format version 2"},
      {8, 4, 0, 0, "format version 0"},
      {12, 4, 2, 0, "unknown model kind"},
      {16, 8, UINT64_MAX, 0, "payload size 2^64-1"},
      {16, 8, 0, 0, "payload size 0"},
      {16, 8, (uint64_t)1 << 40, 0, "payload size 2^40"},
      {32, -8, 0, NAN, "clip NaN"},
      {32, -8, 0, 0.0, "clip 0"},
      {32, -8, 0, -9.0, "clip -9"},
      {40, 8, 0, 0, "0 inputs"},
      {48, 8, 0, 0, "0 hidden units"},
      {48, 8, 5, 0, "hidden units do not match the parameter count"},
      {48, 8, (uint64_t)1 << 40, 0, "2^40 hidden units"},
      {56, 8, 2, 0, "2 output units"},
      {64 + 3 * 8, -8, 0, NAN, "NaN parameter"},
      {64 + 12 * 8, -8, 0, INFINITY, "Inf parameter"},
      {64 + 0 * 8, -8, 0, -INFINITY, "-Inf parameter"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    memcpy(c, b, n);
    if (cases[k].width == 4)
      put_u32(c + cases[k].off, (uint32_t)cases[k].u);
    else if (cases[k].width == 8)
      put_u64(c + cases[k].off, cases[k].u);
    else
      put_f64(c + cases[k].off, cases[k].d);
    fix_crc(c, n);
    write_bytes(bad, c, n);
    expect_load_fails(bad, NPLM_EFORMAT, NPLM_EFORMAT, cases[k].what);
  }
  /* trailing bytes after a valid file (CRC recomputed over everything) */
  memcpy(c, b, n);
  memset(c + n, 0, 16);
  fix_crc(c, n + 16);
  write_bytes(bad, c, n + 16);
  expect_load_fails(bad, NPLM_EFORMAT, NPLM_EFORMAT, "trailing bytes");
  /* a huge layer count without fixing the CRC */
  memcpy(c, b, n);
  put_u32(c + 24, 0x7fffffffu);
  write_bytes(bad, c, n);
  expect_load_fails(bad, NPLM_EFORMAT, NPLM_EFORMAT, "huge layer count, stale CRC");
  /* the untouched file, CRC recomputed, still loads: the cases above are not vacuous */
  memcpy(c, b, n);
  fix_crc(c, n);
  write_bytes(bad, c, n);
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_load(&m, bad), NPLM_OK, "%s", nplm_last_error());
  nplm_model_free(m);
  free(c);
  free(b);
  unlink(bad);
  unlink(path);
  rmdir(g_dir);
  assert_no_leaks();
}

/* The format says "u32 flags (0)": a reader that ignores unknown flags would misread files of
 * a later writer that sets them. */
Test(model_file, unknown_flags_are_rejected) {
  make_dir();
  char path[512], bad[512];
  path_in_dir(path, sizeof path, "m.nplm");
  path_in_dir(bad, sizeof bad, "flags.nplm");
  size_t n;
  unsigned char *b = saved_model(path, &n);
  const uint32_t flags[3] = {1, 0x80000000u, 0xffffffffu};
  for (int i = 0; i < 3; i++) {
    put_u32(b + 28, flags[i]);
    fix_crc(b, n);
    write_bytes(bad, b, n);
    char what[64];
    snprintf(what, sizeof what, "flags 0x%08x", (unsigned)flags[i]);
    expect_load_fails(bad, NPLM_EFORMAT, NPLM_EFORMAT, what);
  }
  free(b);
  unlink(bad);
  unlink(path);
  rmdir(g_dir);
  assert_no_leaks();
}

/* Files that cannot be sized up front (a pipe) are read in growing chunks up to the size their
 * header states: a 330 kB model loads bit for bit, and one byte more or less is refused. */
static void feed_pipe_and_load(const char *fifo, const unsigned char *b, size_t n,
                               nplm_status_t want, nplm_model_t **out) {
  pid_t pid = fork();
  cr_assert(pid >= 0, "fork failed");
  if (pid == 0) { /* the writer: open blocks until the reader opens */
    FILE *f = fopen(fifo, "wb");
    size_t w = f ? fwrite(b, 1, n, f) : 0;
    _exit(f && w == n && fclose(f) == 0 ? 0 : 1);
  }
  nplm_model_t *m = (nplm_model_t *)&m;
  nplm_status_t s = nplm_model_load(&m, fifo);
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert_eq(s, want, "pipe of %zu bytes: %s (%s)", n, nplm_status_name(s), nplm_last_error());
  if (want != NPLM_OK) cr_assert_null(m);
  *out = want == NPLM_OK ? m : NULL;
}

Test(model_file, loads_from_a_pipe) {
  make_dir();
  char path[512], fifo[512];
  path_in_dir(path, sizeof path, "big.nplm");
  path_in_dir(fifo, sizeof fifo, "pipe");
  const size_t layers[4] = {1, 200, 200, 1};
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, layers, 4, 9.0), NPLM_OK);
  const size_t np = nplm_model_num_params(m);
  double *p = malloc(np * sizeof *p);
  cr_assert_not_null(p);
  for (size_t i = 0; i < np; i++) p[i] = 1e-3 * (double)(i % 97) - 0.05;
  cr_assert_eq(nplm_model_set_params(m, p, np), NPLM_OK);
  cr_assert_eq(nplm_model_save(m, path), NPLM_OK, "%s", nplm_last_error());
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f);
  unsigned char *b = malloc(24 + 16 + 32 + 8 * np + 4 + 1);
  cr_assert_not_null(b);
  const size_t n = fread(b, 1, 24 + 16 + 32 + 8 * np + 4 + 1, f);
  fclose(f);
  cr_assert_eq(n, 24 + 16 + 32 + 8 * np + 4, "model file of %zu bytes", n);
  cr_assert(n > 4 * 65536); /* past three doublings of the first 64 kB chunk */
  cr_assert_eq(mkfifo(fifo, 0600), 0, "mkfifo failed");
  nplm_model_t *back = NULL;
  feed_pipe_and_load(fifo, b, n, NPLM_OK, &back);
  double *q = malloc(np * sizeof *q);
  cr_assert_not_null(q);
  cr_assert_eq(nplm_model_get_params(back, q, np), NPLM_OK);
  cr_assert(memcmp(p, q, np * sizeof *p) == 0, "parameters changed on the way through a pipe");
  nplm_model_free(back);
  b[n] = 0;
  feed_pipe_and_load(fifo, b, n + 1, NPLM_EFORMAT, &back); /* a trailing byte */
  feed_pipe_and_load(fifo, b, n - 1, NPLM_EFORMAT, &back); /* one byte short */
  feed_pipe_and_load(fifo, b, 100000, NPLM_EFORMAT, &back); /* truncated mid-way */
  free(q);
  free(b);
  free(p);
  nplm_model_free(m);
  unlink(fifo);
  unlink(path);
  rmdir(g_dir);
  assert_no_leaks();
}

/* Nuisance files with a valid checksum but impossible network shapes. */
static void expect_nuisance_load(const char *path, const unsigned char *b, size_t n,
                                 nplm_status_t want, const char *what) {
  cr_assert(n > 0, "%s: the crafted file does not fit", what);
  write_bytes(path, b, n);
  nplm_nuisance_t *nu = (nplm_nuisance_t *)&nu;
  nplm_status_t s = nplm_nuisance_load(&nu, path);
  cr_assert_eq(s, want, "%s: load gives %s (%s), want %s", what, nplm_status_name(s),
               nplm_last_error(), nplm_status_name(want));
  if (want == NPLM_OK) {
    cr_assert_eq(nplm_nuisance_count(nu), 1u, "%s", what);
    nplm_nuisance_free(nu);
    return;
  }
  cr_assert_null(nu, "%s: *out is not NULL after a failed load", what);
  cr_assert(strstr(nplm_last_error(), "nplm_nuisance_load") != NULL,
            "%s: message '%s' does not name nplm_nuisance_load", what, nplm_last_error());
}

Test(nuisance_file, crafted_shapes_with_valid_checksums) {
  make_dir();
  char path[512];
  path_in_dir(path, sizeof path, "crafted.nuis");
  static unsigned char b[4096];
  const uint64_t good[3] = {1, 4, 1}, two_out[3] = {1, 4, 2}, two_in[3] = {2, 4, 1};
  /* a 1-4-1 network has 13 parameters, 1-4-2 has 18 */
  expect_nuisance_load(path, b, craft_nuisance_file(b, sizeof b, 1, good, 3, 2, 26), NPLM_OK,
                       "1-4-1, order 2");
  expect_nuisance_load(path, b, craft_nuisance_file(b, sizeof b, 1, good, 3, 2, 25),
                       NPLM_EFORMAT, "1-4-1, order 2, one parameter short");
  expect_nuisance_load(path, b, craft_nuisance_file(b, sizeof b, 1, good, 3, 2, 27),
                       NPLM_EFORMAT, "1-4-1, order 2, one parameter too many");
  expect_nuisance_load(path, b, craft_nuisance_file(b, sizeof b, 1, two_out, 3, 1, 18),
                       NPLM_EFORMAT, "2 output units");
  cr_assert(strstr(nplm_last_error(), "output") != NULL, "%s", nplm_last_error());
  expect_nuisance_load(path, b, craft_nuisance_file(b, sizeof b, 1, two_in, 3, 1, 17),
                       NPLM_EFORMAT, "2 inputs in a 1-feature file");
  /* 64 layers of 4096 units (1e9 parameters per network, order 8) in a 600-byte file: refused
   * from the shape alone (it once allocated 8 networks of 8 GB before looking at the size) */
  uint64_t huge[64];
  huge[0] = 1;
  for (int l = 1; l < 63; l++) huge[l] = 4096;
  huge[63] = 1;
  expect_nuisance_load(path, b, craft_nuisance_file(b, sizeof b, 1, huge, 64, 8, 0),
                       NPLM_EFORMAT, "huge shape, no parameters");
  huge[5] = 4097;
  expect_nuisance_load(path, b, craft_nuisance_file(b, sizeof b, 1, huge, 64, 8, 0),
                       NPLM_EFORMAT, "4097 units");
  /* fields a valid checksum does not make usable: the reserved header word must be 0; sigma,
   * nu0 and a learned scale must keep the auxiliary term and the powers s^+-K representable */
  static const struct {
    size_t at;
    int is_f64;
    double v;
    const char *what;
  } bad[] = {{12, 0, 1.0, "reserved header word 1"},
             {24 + 16 + 8, 1, 1e-170, "sigma 1e-170"},
             {24 + 16 + 16, 1, 1e200, "nu0 1e200"},
             {24 + 16 + 24, 1, 1e-160, "scale 1e-160 at order 2"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t n = craft_nuisance_file(b, sizeof b, 1, good, 3, 2, 26);
    if (bad[i].is_f64) put_f64(b + bad[i].at, bad[i].v);
    else put_u32(b + bad[i].at, (uint32_t)bad[i].v);
    fix_crc(b, n);
    expect_nuisance_load(path, b, n, NPLM_EFORMAT, bad[i].what);
  }
  unlink(path);
  rmdir(g_dir);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* Test creation. */

Test(test_create, bad_arguments) {
  nplm_model_t *m = make_model();
  nplm_test_t *t = (nplm_test_t *)&t;
  expect_fail_msg(nplm_test_create(NULL, m, NULL), NPLM_EINVAL, "nplm_test_create", "out",
                  "create out NULL");
  expect_fail_msg(nplm_test_create(&t, NULL, NULL), NPLM_EINVAL, "nplm_test_create", "family",
                  "create family NULL");
  cr_assert_null(t, "*out is not NULL after a failed create");
  nplm_nuisance_t *nu2 = NULL; /* nuisances for 2 features against a 1-feature model */
  cr_assert_eq(nplm_nuisance_create(&nu2, 2), NPLM_OK);
  t = (nplm_test_t *)&t;
  expect_fail_msg(nplm_test_create(&t, m, nu2), NPLM_EINVAL, "nplm_test_create", "nuisance",
                  "create with nuisances of another dimension");
  cr_assert_null(t, "*out is not NULL after a failed create");
  nplm_nuisance_free(nu2);
  nplm_model_free(m);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* Out-of-order calls. */

Test(state, calls_before_a_reference_or_a_run) {
  nplm_test_t *t = make_test(0);
  double tv = -123.0, v = -5.0;
  size_t count = 77;
  const nplm_model_t *f = (const nplm_model_t *)&f;
  nplm_status_t s = nplm_test_run(t, g_data, N_DATA, 1, NULL, &tv);
  cr_assert_eq(s, NPLM_ESTATE, "run before set_reference: %s", nplm_status_name(s));
  cr_assert(strstr(nplm_test_last_error(t), "nplm_test_run") != NULL, "message '%s'",
            nplm_test_last_error(t));
  cr_assert_eq(tv, -123.0, "t_value written on failure");
  s = nplm_test_run(t, NULL, 0, 1, NULL, &tv);
  cr_assert_eq(s, NPLM_ESTATE, "empty run before set_reference: %s", nplm_status_name(s));

  /* a failed set_reference does not install a partial reference */
  double bad[3] = {1.0, NAN, 2.0};
  s = nplm_test_set_reference(t, bad, 3, 1, NULL, N_EXPECTED);
  cr_assert_eq(s, NPLM_EINVAL);
  s = nplm_test_run(t, g_data, N_DATA, 1, NULL, &tv);
  cr_assert_eq(s, NPLM_ESTATE, "run after a failed set_reference: %s", nplm_status_name(s));

  expect_fail_msg(nplm_test_result(t, NPLM_RESULT_T, &v), NPLM_ESTATE, "nplm_test_result", NULL,
                  "result before a run");
  expect_fail_msg(nplm_test_history(t, NULL, NULL, 0, &count), NPLM_ESTATE, "nplm_test_history",
                  NULL, "history before a run");
  expect_fail_msg(nplm_test_fitted_model(t, &f), NPLM_ESTATE, "nplm_test_fitted_model", NULL,
                  "fitted_model before a run");
  cr_assert_eq(v, -5.0, "result value written on failure");
  cr_assert_eq(count, 77, "history count written on failure");
  cr_assert(f == (const nplm_model_t *)&f, "fitted model pointer written on failure");

  cr_assert_eq(nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, N_EXPECTED), NPLM_OK);
  /* a reference but still no run */
  expect_fail_msg(nplm_test_result(t, NPLM_RESULT_T, &v), NPLM_ESTATE, "nplm_test_result", NULL,
                  "result before a run (with reference)");
  expect_fail_msg(nplm_test_history(t, NULL, NULL, 0, &count), NPLM_ESTATE, "nplm_test_history",
                  NULL, "history before a run (with reference)");
  expect_fail_msg(nplm_test_fitted_model(t, &f), NPLM_ESTATE, "nplm_test_fitted_model", NULL,
                  "fitted_model before a run (with reference)");
  assert_usable(t, "the out-of-order calls");
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_T, &v), NPLM_OK, "%s", nplm_last_error());
  cr_assert_eq(nplm_test_fitted_model(t, &f), NPLM_OK, "%s", nplm_last_error());
  cr_assert_not_null(f);
  nplm_test_free(t);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* set_reference. */

Test(set_reference, bad_arguments) {
  nplm_test_t *t = make_test(1);
  const double t_before = assert_usable(t, "setup");
  const char *fn = "nplm_test_set_reference";
  double x[N_REF], w[N_REF];
  memcpy(x, g_ref, sizeof x);
  for (size_t i = 0; i < N_REF; i++) w[i] = 1.0;

  expect_fail_msg(nplm_test_set_reference(NULL, x, N_REF, 1, NULL, N_EXPECTED), NPLM_EINVAL, fn,
                  "t", "set_reference t NULL");
  expect_fail(t, nplm_test_set_reference(t, NULL, N_REF, 1, NULL, N_EXPECTED), NPLM_EINVAL, fn,
              "x", "set_reference x NULL");
  expect_fail(t, nplm_test_set_reference(t, x, 0, 1, NULL, N_EXPECTED), NPLM_EINVAL, fn, "n",
              "set_reference n = 0");
  expect_fail(t, nplm_test_set_reference(t, NULL, 0, 1, NULL, N_EXPECTED), NPLM_EINVAL, fn, "n",
              "set_reference n = 0, x NULL");
  expect_fail(t, nplm_test_set_reference(t, x, N_REF, 0, NULL, N_EXPECTED), NPLM_EINVAL, fn, "d",
              "set_reference d = 0");
  expect_fail(t, nplm_test_set_reference(t, x, N_REF / 2, 2, NULL, N_EXPECTED), NPLM_EINVAL, fn,
              "d", "set_reference d = 2");
  const double bad[3] = {NAN, INFINITY, -INFINITY};
  for (int b = 0; b < 3; b++) {
    memcpy(x, g_ref, sizeof x);
    x[123] = bad[b];
    expect_fail(t, nplm_test_set_reference(t, x, N_REF, 1, NULL, N_EXPECTED), NPLM_EINVAL, fn,
                "x[123", "set_reference non-finite x[123]");
    x[123] = g_ref[123];
    x[N_REF - 1] = bad[b];
    expect_fail(t, nplm_test_set_reference(t, x, N_REF, 1, NULL, N_EXPECTED), NPLM_EINVAL, fn,
                "x[499", "set_reference non-finite x[499]");
    x[N_REF - 1] = g_ref[N_REF - 1];
  }
  const double bad_w[4] = {NAN, INFINITY, -INFINITY, -1.0};
  for (int b = 0; b < 4; b++) {
    w[77] = bad_w[b];
    expect_fail(t, nplm_test_set_reference(t, x, N_REF, 1, w, N_EXPECTED), NPLM_EINVAL, fn,
                "w[77", "set_reference bad w[77]");
    w[77] = 1.0;
  }
  w[0] = -0.0; /* negative zero is a zero weight: legal */
  cr_assert_eq(nplm_test_set_reference(t, x, N_REF, 1, w, N_EXPECTED), NPLM_OK, "%s",
               nplm_test_last_error(t));
  w[0] = 1.0;
  cr_assert_eq(nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, N_EXPECTED), NPLM_OK);
  double zero[N_REF];
  for (size_t i = 0; i < N_REF; i++) zero[i] = 0.0;
  expect_fail(t, nplm_test_set_reference(t, x, N_REF, 1, zero, N_EXPECTED), NPLM_EINVAL, fn, "w",
              "set_reference all-zero weights");
  /* unweighted too: N(R0) / n must be a normal weight (5e-324 / 500 rounds to 0, and a
   * reference of weight 0 leaves the loss unbounded; it was accepted without weights) */
  expect_fail(t, nplm_test_set_reference(t, x, N_REF, 1, NULL, 5e-324), NPLM_EINVAL, fn,
              "n_expected", "set_reference subnormal n_expected / n");
  double tiny[N_REF];
  for (size_t i = 0; i < N_REF; i++) tiny[i] = 1e-320; /* denormal: the sum is denormal */
  expect_fail(t, nplm_test_set_reference(t, x, N_REF, 1, tiny, N_EXPECTED), NPLM_EINVAL, fn, "w",
              "set_reference denormal-sum weights");
  zero[10] = 0x1p-1074;
  expect_fail(t, nplm_test_set_reference(t, x, N_REF, 1, zero, N_EXPECTED), NPLM_EINVAL, fn, "w",
              "set_reference a single smallest-denormal weight");
  double huge[N_REF];
  for (size_t i = 0; i < N_REF; i++) huge[i] = 1e308; /* finite weights, infinite sum */
  expect_fail(t, nplm_test_set_reference(t, x, N_REF, 1, huge, N_EXPECTED), NPLM_EINVAL, fn, "w",
              "set_reference weights summing to Inf");
  /* above 2^53 a toy's Poisson size is no longer an exact integer (and 2^64 overflows it) */
  const double bad_ne[8] = {0.0, -1.0, NAN, INFINITY, -INFINITY, 0x1p53 * (1 + 0x1p-52), 0x1p64,
                            1e300};
  for (int b = 0; b < 8; b++)
    expect_fail(t, nplm_test_set_reference(t, x, N_REF, 1, NULL, bad_ne[b]), NPLM_EINVAL, fn,
                "n_expected", "set_reference bad n_expected");
  /* n * d * 8 overflows: rejected before x is read (x is a 500-event buffer) */
  expect_fail(t, nplm_test_set_reference(t, x, SIZE_MAX, 1, NULL, N_EXPECTED), NPLM_EINVAL, fn,
              "x", "set_reference n = SIZE_MAX");
  expect_fail(t, nplm_test_set_reference(t, x, SIZE_MAX / 4, 1, w, N_EXPECTED), NPLM_EINVAL, fn,
              "x", "set_reference n = SIZE_MAX / 4 with weights");

  /* every failure left the original reference in place: the same t as before */
  double tv = NAN;
  cr_assert_eq(nplm_test_run(t, g_data, N_DATA, 1, NULL, &tv), NPLM_OK);
  cr_assert_eq(tv, t_before, "t changed after failed set_reference calls: %.17g vs %.17g", tv,
               t_before);
  nplm_test_free(t);
  assert_no_leaks();
}

/* The largest legal N(R0) is accepted; a calibration at it asks for ~2^53 events per toy, which
 * is an out-of-memory error for the first toy, never an overflowed buffer. */
Test(set_reference, largest_n_expected_calibrates_to_enomem) {
  nplm_test_t *t = make_test(0);
  cr_assert_eq(nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, 0x1p53), NPLM_OK, "%s",
               nplm_test_last_error(t));
  double t_null[2] = {1.0, 1.0};
  nplm_status_t s = nplm_test_calibrate(t, g_data, N_DATA, 1, NULL, 2, 746, t_null);
  cr_assert_eq(s, NPLM_ENOMEM, "calibrate at N(R0) = 2^53: %s (%s)", nplm_status_name(s),
               nplm_test_last_error(t));
  cr_assert(strstr(nplm_test_last_error(t), "toy") != NULL, "message: %s",
            nplm_test_last_error(t));
  cr_assert_eq(nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, N_EXPECTED), NPLM_OK);
  assert_usable(t, "calibrate ENOMEM");
  nplm_test_free(t);
  assert_no_leaks();
}

Test(set_reference, size_overflow_with_a_wide_model) {
  static const size_t wide[2] = {4096, 1};
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, wide, 2, 9.0), NPLM_OK, "%s", nplm_last_error());
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_test_create(&t, m, NULL), NPLM_OK, "%s", nplm_last_error());
  nplm_model_free(m);
  set_fast_options(t);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 5), NPLM_OK);
  double *x = calloc(4 * 4096, sizeof *x);
  cr_assert_not_null(x);
  for (size_t i = 0; i < 4 * 4096; i++) x[i] = (double)(i % 7) * 0.1;
  const char *fn = "nplm_test_set_reference";
  /* n * d overflows size_t; the real buffer holds 4 events */
  nplm_status_t s = nplm_test_set_reference(t, x, SIZE_MAX / 4096 + 2, 4096, NULL, 10.0);
  cr_assert_eq(s, NPLM_EINVAL, "n * d overflow: %s", nplm_status_name(s));
  cr_assert(strstr(nplm_test_last_error(t), fn) != NULL, "message '%s'", nplm_test_last_error(t));
  s = nplm_test_set_reference(t, x, SIZE_MAX / 3, 4096, NULL, 10.0);
  cr_assert_eq(s, NPLM_EINVAL, "n * d overflow (2): %s", nplm_status_name(s));
  cr_assert_eq(nplm_test_set_reference(t, x, 4, 4096, NULL, 10.0), NPLM_OK, "%s",
               nplm_test_last_error(t));
  double tv = NAN;
  s = nplm_test_run(t, x, SIZE_MAX / 4096 + 2, 4096, NULL, &tv);
  cr_assert_eq(s, NPLM_EINVAL, "run n * d overflow: %s", nplm_status_name(s));
  cr_assert(strstr(nplm_test_last_error(t), "nplm_test_run") != NULL, "message '%s'",
            nplm_test_last_error(t));
  cr_assert(isnan(tv), "t_value written on failure");
  s = nplm_test_run(t, x + 4096, 3, 4096, NULL, &tv);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "valid wide run: %s (%s)", nplm_status_name(s),
            nplm_test_last_error(t));
  cr_assert(isfinite(tv));
  free(x);
  nplm_test_free(t);
  assert_no_leaks();
}

Test(set_reference, multi_feature_message_names_the_event) {
  static const size_t l231[3] = {2, 3, 1};
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, l231, 3, 9.0), NPLM_OK);
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_test_create(&t, m, NULL), NPLM_OK);
  nplm_model_free(m);
  set_fast_options(t);
  double x[2 * 200], y[2 * 50];
  gen_exp(x, 400, 5);
  gen_exp(y, 100, 6);
  x[2 * 45 + 1] = NAN; /* event 45, feature 1 */
  nplm_status_t s = nplm_test_set_reference(t, x, 200, 2, NULL, 50.0);
  cr_assert_eq(s, NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "x[45") != NULL,
            "message '%s' does not give event 45", nplm_test_last_error(t));
  x[2 * 45 + 1] = 1.0;
  cr_assert_eq(nplm_test_set_reference(t, x, 200, 2, NULL, 50.0), NPLM_OK);
  y[2 * 31] = -INFINITY; /* event 31, feature 0 */
  double tv = NAN;
  s = nplm_test_run(t, y, 50, 2, NULL, &tv);
  cr_assert_eq(s, NPLM_EINVAL);
  cr_assert(strstr(nplm_test_last_error(t), "x[31") != NULL,
            "message '%s' does not give event 31", nplm_test_last_error(t));
  y[2 * 31] = 0.5;
  s = nplm_test_run(t, y, 50, 2, NULL, &tv);
  cr_assert(s == NPLM_OK, "valid 2-d run: %s (%s)", nplm_status_name(s), nplm_test_last_error(t));
  nplm_test_free(t);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* run. */

Test(run, bad_arguments_leave_the_result_unchanged) {
  nplm_test_t *t = make_test(1);
  const double t_before = assert_usable(t, "setup");
  const char *fn = "nplm_test_run";
  double x[N_DATA], w[N_DATA];
  memcpy(x, g_data, sizeof x);
  for (size_t i = 0; i < N_DATA; i++) w[i] = 1.0;
  double tv = -42.0;

  expect_fail_msg(nplm_test_run(NULL, x, N_DATA, 1, NULL, &tv), NPLM_EINVAL, fn, "t",
                  "run t NULL");
  expect_fail(t, nplm_test_run(t, x, N_DATA, 1, NULL, NULL), NPLM_EINVAL, fn, "t_value",
              "run t_value NULL");
  expect_fail(t, nplm_test_run(t, NULL, N_DATA, 1, NULL, &tv), NPLM_EINVAL, fn, "x",
              "run x NULL");
  expect_fail(t, nplm_test_run(t, x, N_DATA, 0, NULL, &tv), NPLM_EINVAL, fn, "d", "run d = 0");
  expect_fail(t, nplm_test_run(t, x, N_DATA / 2, 2, NULL, &tv), NPLM_EINVAL, fn, "d",
              "run d = 2");
  expect_fail(t, nplm_test_run(t, NULL, 0, 2, NULL, &tv), NPLM_EINVAL, fn, "d",
              "run n = 0, d = 2");
  const double bad[3] = {NAN, INFINITY, -INFINITY};
  for (int b = 0; b < 3; b++) {
    x[42] = bad[b];
    expect_fail(t, nplm_test_run(t, x, N_DATA, 1, NULL, &tv), NPLM_EINVAL, fn, "x[42",
                "run non-finite x[42]");
    x[42] = g_data[42];
    x[0] = bad[b];
    expect_fail(t, nplm_test_run(t, x, N_DATA, 1, w, &tv), NPLM_EINVAL, fn, "x[0",
                "run non-finite x[0]");
    x[0] = g_data[0];
  }
  const double bad_w[4] = {NAN, INFINITY, -INFINITY, -1e-300};
  for (int b = 0; b < 4; b++) {
    w[17] = bad_w[b];
    expect_fail(t, nplm_test_run(t, x, N_DATA, 1, w, &tv), NPLM_EINVAL, fn, "w[17",
                "run bad w[17]");
    w[17] = 1.0;
  }
  expect_fail(t, nplm_test_run(t, x, SIZE_MAX, 1, NULL, &tv), NPLM_EINVAL, fn, "x",
              "run n = SIZE_MAX");
  expect_fail(t, nplm_test_run(t, x, SIZE_MAX / 4, 1, w, &tv), NPLM_EINVAL, fn, "x",
              "run n = SIZE_MAX / 4");
  cr_assert_eq(tv, -42.0, "t_value written by a failed run");

  /* EINVAL leaves the handle unchanged: the last good result is still there */
  double v = NAN;
  x[3] = NAN;
  cr_assert_eq(nplm_test_run(t, x, N_DATA, 1, NULL, &tv), NPLM_EINVAL);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_T, &v), NPLM_OK,
               "the result was dropped by an EINVAL run: %s", nplm_last_error());
  cr_assert_eq(v, t_before, "result t %.17g, want %.17g", v, t_before);
  nplm_test_free(t);
  assert_no_leaks();
}

Test(run, empty_and_single_event_toys) {
  nplm_test_t *t = make_test(1);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 2000), NPLM_OK);
  double tv = -1.0, v = -1.0;
  nplm_status_t s = nplm_test_run(t, NULL, 0, 1, NULL, &tv);
  cr_assert_eq(s, NPLM_OK, "empty toy (x = NULL): %s (%s)", nplm_status_name(s),
               nplm_test_last_error(t));
  cr_assert(isfinite(tv) && tv >= 0.0, "empty toy: t = %g", tv);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_N_DATA, &v), NPLM_OK);
  cr_assert_eq(v, 0.0);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_SUM_DATA_WEIGHTS, &v), NPLM_OK);
  cr_assert_eq(v, 0.0);
  tv = -1.0;
  s = nplm_test_run(t, g_data, 0, 1, g_data, &tv);
  cr_assert_eq(s, NPLM_OK, "empty toy (x != NULL): %s", nplm_status_name(s));
  cr_assert(isfinite(tv) && tv >= 0.0, "empty toy: t = %g", tv);
  /* all-zero data weights: the same as an empty toy */
  double zw[N_DATA];
  for (size_t i = 0; i < N_DATA; i++) zw[i] = 0.0;
  tv = -1.0;
  s = nplm_test_run(t, g_data, N_DATA, 1, zw, &tv);
  cr_assert_eq(s, NPLM_OK, "zero-weight toy: %s", nplm_status_name(s));
  cr_assert(isfinite(tv) && tv >= 0.0, "zero-weight toy: t = %g", tv);
  /* one data event */
  tv = NAN;
  s = nplm_test_run(t, g_data, 1, 1, NULL, &tv);
  cr_assert_eq(s, NPLM_OK, "1-event toy: %s", nplm_status_name(s));
  cr_assert(isfinite(tv), "1-event toy: t = %g", tv);
  /* one reference event */
  cr_assert_eq(nplm_test_set_reference(t, g_ref, 1, 1, NULL, 1.0), NPLM_OK, "%s",
               nplm_test_last_error(t));
  tv = NAN;
  s = nplm_test_run(t, g_data, 1, 1, NULL, &tv);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "1-reference-event run: %s (%s)",
            nplm_status_name(s), nplm_test_last_error(t));
  cr_assert(isfinite(tv), "1-reference-event run: t = %g", tv);
  nplm_test_free(t);
  assert_no_leaks();
}

Test(run, with_two_threads) {
  nplm_test_t *t = make_test(1);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, 2), NPLM_OK);
  const double t1 = assert_usable(t, "setup with 2 threads");
  double x[N_DATA];
  memcpy(x, g_data, sizeof x);
  x[99] = NAN;
  double tv = NAN;
  expect_fail(t, nplm_test_run(t, x, N_DATA, 1, NULL, &tv), NPLM_EINVAL, "nplm_test_run", "x[99",
              "2 threads: NaN x[99]");
  const double t2 = assert_usable(t, "again");
  cr_assert_eq(t1, t2, "2 threads: %.17g then %.17g", t1, t2);
  nplm_test_free(t);
  assert_no_leaks();
}

/* Huge (finite) data weights: either a finite t or NPLM_ENUMERIC, never a non-finite t. */
Test(run, huge_data_weights_never_give_a_garbage_t) {
  nplm_test_t *t = make_test(1);
  double w[N_DATA];
  for (size_t i = 0; i < N_DATA; i++) w[i] = 1e308;
  double tv = -42.0;
  nplm_status_t s = nplm_test_run(t, g_data, N_DATA, 1, w, &tv);
  if (s == NPLM_OK || s == NPLM_ENOCONV)
    cr_assert(isfinite(tv), "%s with t = %g", nplm_status_name(s), tv);
  else
    expect_fail(t, s, NPLM_ENUMERIC, "nplm_test_run", NULL, "huge data weights");
  nplm_test_free(t);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* Options. */

static const nplm_option_t ALL_KEYS[] = {
    NPLM_OPT_THREADS,        NPLM_OPT_SEED,         NPLM_OPT_OPTIMIZER,
    NPLM_OPT_EPOCHS,         NPLM_OPT_LEARNING_RATE, NPLM_OPT_INIT,
    NPLM_OPT_CLIP_BIASES,    NPLM_OPT_PATIENCE,     NPLM_OPT_MAX_ITERATIONS,
    NPLM_OPT_TOLERANCE,      NPLM_OPT_GRADIENT_TOLERANCE, NPLM_OPT_LBFGS_MEMORY,
    NPLM_OPT_ADAM_BETA1,     NPLM_OPT_ADAM_BETA2,   NPLM_OPT_ADAM_EPSILON,
    NPLM_OPT_BIAS_INIT,      NPLM_OPT_WEIGHT_CLIP,  NPLM_OPT_STARTS};
#define N_KEYS (sizeof ALL_KEYS / sizeof ALL_KEYS[0])

static const nplm_option_t DOUBLE_KEYS[] = {
    NPLM_OPT_LEARNING_RATE, NPLM_OPT_TOLERANCE,  NPLM_OPT_GRADIENT_TOLERANCE,
    NPLM_OPT_ADAM_BETA1,    NPLM_OPT_ADAM_BETA2, NPLM_OPT_ADAM_EPSILON,
    NPLM_OPT_WEIGHT_CLIP};

static double get_opt(const nplm_test_t *t, nplm_option_t key) {
  double v = NAN;
  nplm_status_t s = nplm_test_get_option(t, key, &v);
  cr_assert_eq(s, NPLM_OK, "get_option(%d): %s", (int)key, nplm_status_name(s));
  return v;
}

static int same_value(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

Test(options, unknown_keys) {
  nplm_test_t *t = make_test(1);
  const int unknown[] = {0, -1, 3, 99, 116, 199, 208, 9999, INT32_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const nplm_option_t k = (nplm_option_t)unknown[i];
    char what[128];
    snprintf(what, sizeof what, "unknown key %d", unknown[i]);
    expect_fail(t, nplm_test_set_int(t, k, 1), NPLM_EINVAL, "nplm_test_set_int", "key", what);
    expect_fail(t, nplm_test_set_double(t, k, 1.0), NPLM_EINVAL, "nplm_test_set_double", "key",
                what);
    double v = -3.0, lo = -3.0, hi = -3.0, df = -3.0;
    expect_fail_msg(nplm_test_get_option(t, k, &v), NPLM_EINVAL, "nplm_test_get_option", "key",
                    what);
    cr_assert_eq(v, -3.0, "%s: get_option wrote its output", what);
    expect_fail_msg(nplm_option_bounds(k, &lo, &hi, &df), NPLM_EINVAL, "nplm_option_bounds",
                    "key", what);
    cr_assert(lo == -3.0 && hi == -3.0 && df == -3.0, "%s: option_bounds wrote its outputs",
              what);
    expect_fail_msg(nplm_option_bounds(k, NULL, NULL, NULL), NPLM_EINVAL, "nplm_option_bounds",
                    "key", what);
    cr_assert_null(nplm_option_name(k), "%s: option_name is not NULL", what);
  }
  nplm_test_free(t);
  assert_no_leaks();
}

Test(options, null_handles_and_outputs) {
  nplm_test_t *t = make_test(1);
  double v = -3.0;
  expect_fail_msg(nplm_test_set_int(NULL, NPLM_OPT_EPOCHS, 10), NPLM_EINVAL, "nplm_test_set_int",
                  "t", "set_int t NULL");
  expect_fail_msg(nplm_test_set_int(NULL, NPLM_OPT_EPOCHS, INT64_MAX), NPLM_EINVAL,
                  "nplm_test_set_int", "t", "set_int t NULL, huge value");
  expect_fail_msg(nplm_test_set_double(NULL, NPLM_OPT_LEARNING_RATE, 0.1), NPLM_EINVAL,
                  "nplm_test_set_double", "t", "set_double t NULL");
  expect_fail_msg(nplm_test_get_option(NULL, NPLM_OPT_EPOCHS, &v), NPLM_EINVAL,
                  "nplm_test_get_option", "t", "get_option t NULL");
  expect_fail_msg(nplm_test_get_option(t, NPLM_OPT_EPOCHS, NULL), NPLM_EINVAL,
                  "nplm_test_get_option", "value", "get_option value NULL");
  expect_fail_msg(nplm_test_reset_options(NULL), NPLM_EINVAL, "nplm_test_reset_options", "t",
                  "reset_options t NULL");
  expect_fail_msg(nplm_test_set_progress(NULL, NULL, NULL), NPLM_EINVAL,
                  "nplm_test_set_progress", "t", "set_progress t NULL");
  cr_assert_eq(v, -3.0);
  assert_usable(t, "NULL-handle option calls");
  nplm_test_free(t);
  assert_no_leaks();
}

Test(options, every_key_has_a_name_bounds_and_default) {
  nplm_test_t *t = make_test(0);
  cr_assert_eq(nplm_test_reset_options(t), NPLM_OK);
  for (size_t i = 0; i < N_KEYS; i++) {
    const nplm_option_t k = ALL_KEYS[i];
    const char *name = nplm_option_name(k);
    cr_assert_not_null(name, "key %d has no name", (int)k);
    cr_assert(name[0] != '\0', "key %d has an empty name", (int)k);
    double lo = NAN, hi = NAN, df = NAN;
    cr_assert_eq(nplm_option_bounds(k, &lo, &hi, &df), NPLM_OK, "bounds of %s", name);
    cr_assert_eq(nplm_option_bounds(k, NULL, NULL, NULL), NPLM_OK, "bounds of %s, NULL outs",
                 name);
    cr_assert(lo <= df && df <= hi, "%s: default %g outside [%g, %g]", name, df, lo, hi);
    cr_assert_eq(get_opt(t, k), df, "%s: fresh value %g is not the default %g", name,
                 get_opt(t, k), df);
    /* the default itself is accepted by set_double */
    cr_assert_eq(nplm_test_set_double(t, k, df), NPLM_OK, "%s = default %g: %s", name, df,
                 nplm_test_last_error(t));
  }
  nplm_test_free(t);
  assert_no_leaks();
}

Test(options, wrong_typed_setter) {
  nplm_test_t *t = make_test(1);
  for (size_t i = 0; i < sizeof DOUBLE_KEYS / sizeof DOUBLE_KEYS[0]; i++) {
    const nplm_option_t k = DOUBLE_KEYS[i];
    const double before = get_opt(t, k);
    char what[96];
    snprintf(what, sizeof what, "set_int on double option '%s'", nplm_option_name(k));
    expect_fail(t, nplm_test_set_int(t, k, 1), NPLM_EINVAL, "nplm_test_set_int",
                nplm_option_name(k), what);
    cr_assert(same_value(get_opt(t, k), before), "%s: value changed", what);
  }
  /* integer keys through set_double: only integral values */
  const double before = get_opt(t, NPLM_OPT_EPOCHS);
  expect_fail(t, nplm_test_set_double(t, NPLM_OPT_EPOCHS, 2.5), NPLM_EINVAL,
              "nplm_test_set_double", "epochs", "epochs = 2.5");
  cr_assert_eq(get_opt(t, NPLM_OPT_EPOCHS), before);
  cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_EPOCHS, 60.0), NPLM_OK);
  cr_assert_eq(get_opt(t, NPLM_OPT_EPOCHS), 60.0);
  nplm_test_free(t);
  assert_no_leaks();
}

Test(options, out_of_range_values_are_rejected_and_not_stored) {
  nplm_test_t *t = make_test(1);
  static const struct {
    nplm_option_t key;
    int64_t v;
  } bad_int[] = {
      {NPLM_OPT_EPOCHS, -1},          {NPLM_OPT_EPOCHS, 0},
      {NPLM_OPT_EPOCHS, 1000000001},  {NPLM_OPT_EPOCHS, INT64_MIN},
      {NPLM_OPT_THREADS, -1},         {NPLM_OPT_THREADS, 1025},
      {NPLM_OPT_SEED, -1},            {NPLM_OPT_SEED, INT64_MAX},
      {NPLM_OPT_PATIENCE, -1},        {NPLM_OPT_PATIENCE, 1000000001},
      {NPLM_OPT_MAX_ITERATIONS, 0},   {NPLM_OPT_MAX_ITERATIONS, -5},
      {NPLM_OPT_LBFGS_MEMORY, -1},    {NPLM_OPT_LBFGS_MEMORY, 101},
      {NPLM_OPT_OPTIMIZER, 7},        {NPLM_OPT_OPTIMIZER, -1},
      {NPLM_OPT_INIT, 5},             {NPLM_OPT_INIT, -1},
      {NPLM_OPT_CLIP_BIASES, 2},      {NPLM_OPT_CLIP_BIASES, -1},
      {NPLM_OPT_BIAS_INIT, 2},        {NPLM_OPT_BIAS_INIT, -1},
      {NPLM_OPT_STARTS, 0},           {NPLM_OPT_STARTS, 1001},
      {NPLM_OPT_STARTS, -1},
  };
  for (size_t i = 0; i < sizeof bad_int / sizeof bad_int[0]; i++) {
    const nplm_option_t k = bad_int[i].key;
    const double before = get_opt(t, k);
    char what[96];
    snprintf(what, sizeof what, "set_int %s = %lld", nplm_option_name(k),
             (long long)bad_int[i].v);
    expect_fail(t, nplm_test_set_int(t, k, bad_int[i].v), NPLM_EINVAL, "nplm_test_set_int", NULL,
                what);
    cr_assert(same_value(get_opt(t, k), before), "%s: value %g was stored", what, get_opt(t, k));
  }
  static const struct {
    nplm_option_t key;
    double v;
  } bad_dbl[] = {
      {NPLM_OPT_LEARNING_RATE, 0.0},        {NPLM_OPT_LEARNING_RATE, -1e-3},
      {NPLM_OPT_LEARNING_RATE, NAN},        {NPLM_OPT_LEARNING_RATE, INFINITY},
      {NPLM_OPT_LEARNING_RATE, -INFINITY},  {NPLM_OPT_LEARNING_RATE, 10.5},
      {NPLM_OPT_TOLERANCE, NAN},            {NPLM_OPT_TOLERANCE, -1e-3},
      {NPLM_OPT_TOLERANCE, 1.0},            {NPLM_OPT_TOLERANCE, INFINITY},
      {NPLM_OPT_GRADIENT_TOLERANCE, -1.0},  {NPLM_OPT_GRADIENT_TOLERANCE, NAN},
      {NPLM_OPT_GRADIENT_TOLERANCE, -INFINITY},
      {NPLM_OPT_ADAM_BETA1, 1.0},           {NPLM_OPT_ADAM_BETA1, -0.1},
      {NPLM_OPT_ADAM_BETA1, NAN},           {NPLM_OPT_ADAM_BETA1, 1.5},
      {NPLM_OPT_ADAM_BETA2, 1.0},           {NPLM_OPT_ADAM_BETA2, -0.5},
      {NPLM_OPT_ADAM_BETA2, NAN},
      {NPLM_OPT_ADAM_EPSILON, 0.0},         {NPLM_OPT_ADAM_EPSILON, -1e-7},
      {NPLM_OPT_ADAM_EPSILON, 1.5},         {NPLM_OPT_ADAM_EPSILON, NAN},
      {NPLM_OPT_WEIGHT_CLIP, -1.0},         {NPLM_OPT_WEIGHT_CLIP, -INFINITY},
      {NPLM_OPT_WEIGHT_CLIP, NAN},
      /* integer keys through set_double */
      {NPLM_OPT_EPOCHS, 0.0},               {NPLM_OPT_EPOCHS, NAN},
      {NPLM_OPT_EPOCHS, INFINITY},          {NPLM_OPT_EPOCHS, 1e10},
      {NPLM_OPT_THREADS, -1.0},             {NPLM_OPT_THREADS, 0.5},
      {NPLM_OPT_OPTIMIZER, 7.0},            {NPLM_OPT_INIT, 5.0},
      {NPLM_OPT_PATIENCE, -1.0},            {NPLM_OPT_LBFGS_MEMORY, -1.0},
      {NPLM_OPT_SEED, -1.0},                {NPLM_OPT_SEED, 1e300},
      {NPLM_OPT_SEED, INFINITY},            {NPLM_OPT_MAX_ITERATIONS, -INFINITY},
  };
  for (size_t i = 0; i < sizeof bad_dbl / sizeof bad_dbl[0]; i++) {
    const nplm_option_t k = bad_dbl[i].key;
    const double before = get_opt(t, k);
    char what[96];
    snprintf(what, sizeof what, "set_double %s = %g", nplm_option_name(k), bad_dbl[i].v);
    expect_fail(t, nplm_test_set_double(t, k, bad_dbl[i].v), NPLM_EINVAL, "nplm_test_set_double",
                nplm_option_name(k), what);
    cr_assert(same_value(get_opt(t, k), before), "%s: value %g was stored", what, get_opt(t, k));
  }
  nplm_test_free(t);
  assert_no_leaks();
}

/* The edges of the documented ranges are accepted (so that the rejections above are not
 * blanket ones). */
Test(options, documented_edge_values_are_accepted) {
  nplm_test_t *t = make_test(0);
  static const struct {
    nplm_option_t key;
    double v;
  } good[] = {
      {NPLM_OPT_THREADS, 0},          {NPLM_OPT_THREADS, 1024},
      {NPLM_OPT_SEED, 0},             {NPLM_OPT_SEED, 9007199254740992.0},
      {NPLM_OPT_EPOCHS, 1},           {NPLM_OPT_EPOCHS, 1e9},
      {NPLM_OPT_LEARNING_RATE, 10.0}, {NPLM_OPT_LEARNING_RATE, 1e-300},
      {NPLM_OPT_PATIENCE, 0},         {NPLM_OPT_PATIENCE, 1e9},
      {NPLM_OPT_MAX_ITERATIONS, 1},   {NPLM_OPT_MAX_ITERATIONS, 1e9},
      {NPLM_OPT_TOLERANCE, 0.0},      {NPLM_OPT_TOLERANCE, 0.75}, /* "double >= 0, < 1" */
      {NPLM_OPT_GRADIENT_TOLERANCE, 0.0},
      {NPLM_OPT_GRADIENT_TOLERANCE, 1e6}, /* "double 0 .. 1e6" */
      {NPLM_OPT_LBFGS_MEMORY, 0},     {NPLM_OPT_LBFGS_MEMORY, 1},
      {NPLM_OPT_LBFGS_MEMORY, 100},
      {NPLM_OPT_STARTS, 1},           {NPLM_OPT_STARTS, 1000},
      {NPLM_OPT_ADAM_BETA1, 0.0},     {NPLM_OPT_ADAM_BETA1, 0.9999999999999999},
      {NPLM_OPT_ADAM_BETA2, 0.0},     {NPLM_OPT_ADAM_EPSILON, 1.0},
      {NPLM_OPT_WEIGHT_CLIP, 0.0},    {NPLM_OPT_WEIGHT_CLIP, INFINITY},
      {NPLM_OPT_WEIGHT_CLIP, 1e-300},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    const nplm_option_t k = good[i].key;
    nplm_status_t s = nplm_test_set_double(t, k, good[i].v);
    cr_expect_eq(s, NPLM_OK, "%s = %g rejected: %s", nplm_option_name(k), good[i].v,
                 nplm_test_last_error(t));
    if (s == NPLM_OK)
      cr_expect_eq(get_opt(t, k), good[i].v, "%s: stored %g, want %g", nplm_option_name(k),
                   get_opt(t, k), good[i].v);
  }
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_SEED, (int64_t)1 << 53), NPLM_OK, "%s",
               nplm_test_last_error(t));
  cr_assert_eq(nplm_test_reset_options(t), NPLM_OK);
  nplm_test_free(t);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* Results, history and the fitted model: bad arguments. */

Test(results, bad_arguments) {
  nplm_test_t *t = make_test(1);
  assert_usable(t, "setup");
  double v = -9.0;
  expect_fail_msg(nplm_test_result(NULL, NPLM_RESULT_T, &v), NPLM_EINVAL, "nplm_test_result", "t",
                  "result t NULL");
  expect_fail_msg(nplm_test_result(t, NPLM_RESULT_T, NULL), NPLM_EINVAL, "nplm_test_result",
                  "value", "result value NULL");
  const int unknown[] = {0, -1, 16, 9999};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    expect_fail_msg(nplm_test_result(t, (nplm_result_t)unknown[i], &v), NPLM_EINVAL,
                    "nplm_test_result", "key", "result with an unknown key");
  cr_assert_eq(v, -9.0, "result wrote its output on failure");

  size_t count = 99;
  int64_t ep[4];
  double tv[4];
  expect_fail_msg(nplm_test_history(NULL, ep, tv, 4, &count), NPLM_EINVAL, "nplm_test_history",
                  "t", "history t NULL");
  expect_fail_msg(nplm_test_history(t, ep, tv, 4, NULL), NPLM_EINVAL, "nplm_test_history",
                  "count", "history count NULL");
  expect_fail_msg(nplm_test_history(t, NULL, NULL, 4, &count), NPLM_EINVAL, "nplm_test_history",
                  "capacity", "history capacity > 0 with NULL buffers");
  cr_assert_eq(count, 99, "history wrote count on failure");
  cr_assert_eq(nplm_test_history(t, NULL, NULL, 0, &count), NPLM_OK);
  cr_assert(count >= 1, "history has %zu entries", count);
  cr_assert_eq(nplm_test_history(t, ep, NULL, 1, &count), NPLM_OK);
  cr_assert_eq(nplm_test_history(t, NULL, tv, 1, &count), NPLM_OK);

  const nplm_model_t *f = NULL;
  expect_fail_msg(nplm_test_fitted_model(NULL, &f), NPLM_EINVAL, "nplm_test_fitted_model", "t",
                  "fitted_model t NULL");
  expect_fail_msg(nplm_test_fitted_model(t, NULL), NPLM_EINVAL, "nplm_test_fitted_model", "f",
                  "fitted_model f NULL");
  cr_assert_null(f);
  cr_assert_eq(nplm_test_fitted_model(t, &f), NPLM_OK);
  double y[3];
  expect_fail_msg(nplm_model_eval(f, g_data, 3, 2, y), NPLM_EINVAL, "nplm_model_eval", "d",
                  "eval the fitted model with d = 2");
  double xb[3] = {1.0, NAN, 2.0};
  expect_fail_msg(nplm_model_eval(f, xb, 3, 1, y), NPLM_EINVAL, "nplm_model_eval", "x[1",
                  "eval the fitted model with NaN");
  cr_assert_eq(nplm_model_eval(f, g_data, 3, 1, y), NPLM_OK);
  for (int i = 0; i < 3; i++) cr_assert(isfinite(y[i]));
  assert_usable(t, "result/history/fitted_model failures");
  nplm_test_free(t);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* Non-finite intermediates. */

/* A family with f(x) = 1000 everywhere (only the output bias is set) and no clipping: exp(f)
 * overflows on the reference, so the loss is infinite at the start. */
static void expect_enumeric(int optimizer) {
  init_samples();
  nplm_model_t *m = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, LAYERS_141, 3, INFINITY), NPLM_OK);
  double p[13] = {0};
  p[12] = 1000.0; /* output bias */
  cr_assert_eq(nplm_model_set_params(m, p, 13), NPLM_OK);
  double f1 = 0.0;
  cr_assert_eq(nplm_model_eval(m, g_ref, 1, 1, &f1), NPLM_OK);
  cr_assert_eq(f1, 1000.0, "f = %g", f1);
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_test_create(&t, m, NULL), NPLM_OK);
  nplm_model_free(m);
  set_fast_options(t);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, optimizer), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_INIT, NPLM_INIT_FROM_MODEL), NPLM_OK);
  cr_assert_eq(nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, N_EXPECTED), NPLM_OK);
  double tv = -42.0;
  nplm_status_t s = nplm_test_run(t, g_data, N_DATA, 1, NULL, &tv);
  cr_assert_eq(s, NPLM_ENUMERIC, "optimizer %d: f = 1000 on the reference gives %s, t = %g",
               optimizer, nplm_status_name(s), tv);
  cr_assert_eq(tv, -42.0, "t_value written on NPLM_ENUMERIC");
  const char *msg = nplm_test_last_error(t);
  cr_assert(strstr(msg, "nplm_test_run") != NULL, "message '%s'", msg);
  /* the handle stays usable: back to a random start */
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_INIT, NPLM_INIT_RANDOM), NPLM_OK);
  cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_WEIGHT_CLIP, 9.0), NPLM_OK);
  assert_usable(t, "NPLM_ENUMERIC");
  nplm_test_free(t);
  assert_no_leaks();
}

Test(numeric, overflow_at_the_start_lbfgsb) { expect_enumeric(NPLM_OPTIMIZER_LBFGSB); }

Test(numeric, overflow_at_the_start_adam) { expect_enumeric(NPLM_OPTIMIZER_ADAM); }

/* f(x) = 800 - 1000 sigmoid(100 x - 50): f = -200 on every reference and data event (x >= 1)
 * but f(0) = 800. Padding slots of the event blocks must not take part in the loss: the loss
 * at the start is finite, so the fit must not fail with NPLM_ENUMERIC. */
Test(numeric, padding_events_do_not_poison_the_loss) {
  nplm_model_t *m = NULL;
  static const size_t l111[3] = {1, 1, 1};
  cr_assert_eq(nplm_model_create_mlp(&m, l111, 3, INFINITY), NPLM_OK);
  const double p[4] = {100.0, -50.0, -1000.0, 800.0};
  cr_assert_eq(nplm_model_set_params(m, p, 4), NPLM_OK);
  double ref[N_REF], data[N_DATA]; /* 500 and 100 events: both leave padding in the last block */
  gen_exp(ref, N_REF, 11);
  gen_exp(data, N_DATA, 12);
  for (size_t i = 0; i < N_REF; i++) ref[i] = 1.0 + fmin(ref[i], 5.0);
  for (size_t i = 0; i < N_DATA; i++) data[i] = 1.0 + fmin(data[i], 5.0);
  double f0 = 0.0, f1 = 0.0, one = 1.0, zero = 0.0;
  cr_assert_eq(nplm_model_eval(m, &zero, 1, 1, &f0), NPLM_OK);
  cr_assert_eq(nplm_model_eval(m, &one, 1, 1, &f1), NPLM_OK);
  cr_assert(f0 > 709.0 && f1 < -100.0, "f(0) = %g, f(1) = %g", f0, f1);
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_test_create(&t, m, NULL), NPLM_OK);
  nplm_model_free(m);
  set_fast_options(t);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_INIT, NPLM_INIT_FROM_MODEL), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 20), NPLM_OK);
  cr_assert_eq(nplm_test_set_reference(t, ref, N_REF, 1, NULL, N_EXPECTED), NPLM_OK);
  double tv = NAN;
  nplm_status_t s = nplm_test_run(t, data, N_DATA, 1, NULL, &tv);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV, "finite start, padding f = %g: %s (%s)", f0,
            nplm_status_name(s), nplm_test_last_error(t));
  cr_assert(isfinite(tv), "t = %g", tv);
  nplm_test_free(t);
  assert_no_leaks();
}

/* ------------------------------------------------------------------------------------------ */
/* Cancellation from the progress callback. */

typedef struct {
  int calls;
  int cancel;
  size_t size;
  int64_t done, total;
} progress_state_t;

static int on_progress(void *user, const nplm_progress_t *p) {
  progress_state_t *st = user;
  st->calls++;
  st->size = p->size;
  st->done = p->done;
  st->total = p->total;
  return st->cancel;
}

static void expect_cancel(int optimizer, int threads) {
  nplm_test_t *t = make_test(1);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, optimizer), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, threads), NPLM_OK);
  assert_usable(t, "setup"); /* a result exists: the cancellation must drop it */
  progress_state_t st = {0, 1, 0, 0, 0};
  cr_assert_eq(nplm_test_set_progress(t, on_progress, &st), NPLM_OK);
  double tv = -42.0;
  nplm_status_t s = nplm_test_run(t, g_data, N_DATA, 1, NULL, &tv);
  cr_assert_eq(s, NPLM_ECANCELED, "optimizer %d: a cancelling callback gives %s (%d calls)",
               optimizer, nplm_status_name(s), st.calls);
  cr_assert_eq(st.calls, 1, "the callback ran %d times after asking to stop", st.calls);
  cr_assert_eq(st.size, sizeof(nplm_progress_t));
  cr_assert(st.done >= 0 && st.done <= st.total, "progress %lld of %lld", (long long)st.done,
            (long long)st.total);
  cr_assert_eq(tv, -42.0, "t_value written on NPLM_ECANCELED");
  const char *msg = nplm_test_last_error(t);
  cr_assert(strstr(msg, "nplm_test_run") != NULL, "message '%s'", msg);
  double v = -1.0;
  size_t count = 5;
  const nplm_model_t *f = NULL;
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_T, &v), NPLM_ESTATE, "result after a cancel");
  cr_assert_eq(nplm_test_history(t, NULL, NULL, 0, &count), NPLM_ESTATE,
               "history after a cancel");
  cr_assert_eq(nplm_test_fitted_model(t, &f), NPLM_ESTATE, "fitted_model after a cancel");
  /* a non-cancelling callback, then none: the handle works */
  st.cancel = 0;
  assert_usable(t, "a cancelled run, with a callback");
  cr_assert_eq(nplm_test_set_progress(t, NULL, NULL), NPLM_OK);
  assert_usable(t, "a cancelled run, without a callback");
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_T, &v), NPLM_OK);
  nplm_test_free(t);
  assert_no_leaks();
}

Test(cancel, adam_one_thread) { expect_cancel(NPLM_OPTIMIZER_ADAM, 1); }
Test(cancel, adam_two_threads) { expect_cancel(NPLM_OPTIMIZER_ADAM, 2); }
Test(cancel, lbfgsb_one_thread) { expect_cancel(NPLM_OPTIMIZER_LBFGSB, 1); }

/* "called ... at the end": every run calls the callback at least once, even a short one. */
Test(cancel, callback_runs_at_the_end_of_a_converged_fit) {
  nplm_test_t *t = make_test(1);
  progress_state_t st = {0, 0, 0, 0, 0};
  cr_assert_eq(nplm_test_set_progress(t, on_progress, &st), NPLM_OK);
  double tv = NAN;
  nplm_status_t s = nplm_test_run(t, g_data, N_DATA, 1, NULL, &tv);
  cr_assert_eq(s, NPLM_OK, "%s", nplm_test_last_error(t));
  double it = -1.0;
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_ITERATIONS, &it), NPLM_OK);
  cr_assert(it < 1000.0, "the fit did not converge early (%g iterations)", it);
  cr_assert(st.calls >= 1, "the callback never ran during a converged L-BFGS-B fit");
  cr_assert_eq((double)st.done, it, "last progress at %lld, the fit did %g iterations",
               (long long)st.done, it);
  nplm_test_free(t);
  assert_no_leaks();
}
