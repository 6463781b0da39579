/* nplm: the command-line front end of libnplm (public API only).
 *
 *   nplm run        reference + data -> t, p, Z (and tau, Delta, fitted nuisances)
 *   nplm calibrate  null toys from a pool -> t values in toy order + summary
 *   nplm tune-clip  weight-clip scan on null toys (MLP)
 *   nplm nuisance-learn  learn a shape nuisance's Taylor coefficients -> module file
 *   nplm eval       a saved model's f on events
 *   nplm generate   the 1D benchmark samples (signals, nuisance shifts)
 *   nplm preprocess input features mapped by the reference's mean and deviation
 *
 * Every subcommand takes --help. Errors: one line on stderr, exit status 1 (2 for usage). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nplm/nplm.h"
#include "../examples/samples.h" /* the benchmark generators the examples use */
#include "dilepton.h"
#include "table.h"

#ifdef NPLM_HAVE_MPI
#include <mpi.h>
#endif

#define MAX_OPTS 64
#define MAX_TOYS 100000000LL                  /* --toys, and n_toys of a shard */
#define MAX_TOY_INDEX 9007199254740992LL      /* 2^53: the library's NPLM_OPT_TOY_OFFSET bound */

/* ---- small helpers ---- */

static const char *g_cmd = "nplm";

static int die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", g_cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 1;
}

typedef struct args {
  int n;
  const char *key[MAX_OPTS], *val[MAX_OPTS];
  int used[MAX_OPTS];
} args_t;

/* The options that may stand alone (they get the value "1"); every other one needs a value
 * (a missing one was once read as "1": --events with no count made 1 event). */
static int is_flag(const char *key) {
  static const char *const flags[] = {"standardize", "draw-aux", "with-mass", "shard-from-env"};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
    if (strcmp(key, flags[i]) == 0) return 1;
  return 0;
}

/* --key value pairs (the flags above may omit the value). Returns 0 or 2 on a malformed line. */
static int parse_args(int argc, char **argv, args_t *a) {
  memset(a, 0, sizeof *a);
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "--", 2) != 0 || !argv[i][2]) {
      die("unexpected argument '%s' (options are --name value)", argv[i]);
      return 2;
    }
    if (a->n == MAX_OPTS) {
      die("too many options");
      return 2;
    }
    a->key[a->n] = argv[i] + 2;
    if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
      a->val[a->n] = argv[++i];
    } else if (is_flag(a->key[a->n])) {
      a->val[a->n] = "1";
    } else {
      die("--%s needs a value", a->key[a->n]);
      return 2;
    }
    a->n++;
  }
  return 0;
}

static const char *get(args_t *a, const char *key) {
  for (int i = a->n - 1; i >= 0; i--)
    if (strcmp(a->key[i], key) == 0) {
      a->used[i] = 1;
      return a->val[i];
    }
  return NULL;
}

static int unused(args_t *a) {
  for (int i = 0; i < a->n; i++)
    if (!a->used[i]) {
      die("unknown option --%s (see --help)", a->key[i]);
      return 2;
    }
  return 0;
}

static int to_double(const char *s, const char *name, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  if (!*s || *end || errno || !isfinite(*v)) return die("--%s: '%s' is not a number", name, s);
  return 0;
}

static int to_long(const char *s, const char *name, long long lo, long long hi, long long *v) {
  char *end;
  errno = 0;
  *v = strtoll(s, &end, 10);
  if (!*s || *end || errno || *v < lo || *v > hi)
    return die("--%s: '%s' is not an integer in [%lld, %lld]", name, s, lo, hi);
  return 0;
}

static int opt_double(args_t *a, const char *name, double dflt, double *v) {
  const char *s = get(a, name);
  *v = dflt;
  return s ? to_double(s, name, v) : 0;
}

static int opt_long(args_t *a, const char *name, long long lo, long long hi, long long dflt,
                    long long *v) {
  const char *s = get(a, name);
  *v = dflt;
  return s ? to_long(s, name, lo, hi, v) : 0;
}

/* A required option: 0, or 2 (a usage error) when it is missing. Callers keep the 2, so
 * they test need() on its own rather than in a || chain, which would turn it into 1. */
static int need(args_t *a, const char *name, const char **v) {
  *v = get(a, name);
  if (*v) return 0;
  die("--%s is required (see --help)", name);
  return 2;
}

static int read_table(const char *path, const char *columns, table_t *t) {
  char err[600];
  if (table_read(path, columns, t, err, sizeof err) != 0) return die("%s", err);
  if (t->n == 0) {
    table_free(t);
    return die("%s: no events", path);
  }
  return 0;
}

/* A JSON number: %.17g, or null for NaN and infinities (rotating buffers: up to 8 per call). */
static const char *jd(double v) {
  static char buf[8][32];
  static int i;
  i = (i + 1) % 8;
  if (isfinite(v)) snprintf(buf[i], sizeof buf[i], "%.17g", v);
  else snprintf(buf[i], sizeof buf[i], "null");
  return buf[i];
}

/* ---- progress on a terminal ---- */

typedef struct progress {
  int tty;
  double t0;
  const char *what;
} progress_t;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int show_progress(void *user, const nplm_progress_t *p) {
  progress_t *pr = user;
  if (!pr->tty || p->total <= 0) return 0;
  double frac = (double)p->done / (double)p->total, el = now() - pr->t0;
  double eta = frac > 0 ? el * (1 - frac) / frac : 0;
  int w = (int)(frac * 30);
  fprintf(stderr, "\r%s [%.*s%*s] %3.0f%%  %.0fs elapsed, ETA %.0fs ", pr->what, w,
          "##############################", 30 - w, "", 100 * frac, el, eta);
  if (p->done >= p->total) fputc('\n', stderr);
  return 0;
}

/* ---- the model and test from common flags ---- */

static const char *COMMON_HELP =
    "  --reference FILE       reference (Monte Carlo) events: .npy or CSV\n"
    "  --reference-weights F  their weights (one column), optional\n"
    "  --columns LIST         columns to use (indices or CSV header names), all by default\n"
    "  --n-expected N         N(R0), the expected number of events under the reference\n"
    "  --model SPEC           mlp:1,4,1 (layer sizes) or kernel:M,SIGMA,LAMBDA (M 0 = sqrt(n))\n"
    "  --clip C               weight clip of an MLP (default 9; inf = none)\n"
    "  --optimizer NAME       adam (300000 epochs, the published recipe), lbfgsb (default) or\n"
    "                         adam-lbfgsb (--epochs of Adam, then L-BFGS-B from its end)\n"
    "  --epochs N             Adam epochs\n"
    "  --max-iterations N     L-BFGS-B iteration limit (default 20000)\n"
    "  --starts K             MLP: fit from K starts, keep the lowest loss (default 1)\n"
    "  --seed S               seed of the initialisation / centres (default 0)\n"
    "  --threads T            worker threads (0 = all cores, the default)\n"
    "  --standardize          kernel models: standardise the inputs on the reference\n"
    "  --nuisance FILE        a nuisance module from nplm nuisance-learn (MLP only)\n"
    "  --aux J=V[,J=V...]     auxiliary measurement nu0 of nuisance J (repeatable); for\n"
    "                         calibrate, the true values the toys are made at\n";

typedef struct setup {
  table_t ref, refw;
  nplm_model_t *model;
  nplm_nuisance_t *nu;
  nplm_test_t *test;
  double n_expected;
  size_t dof;
  char model_spec[256];
  unsigned long long seed;
  double clip;
  long long epochs;
  int optimizer;
  long long max_iterations; /* 0: the library's default */
  long long starts;
  int standardize, draw_aux;
  char aux_json[512]; /* the --aux values as a JSON list of [J, V] pairs */
  unsigned long long ref_hash, pool_hash; /* fingerprints of the events (pool: 0 if none) */
  progress_t progress;
} setup_t;

/* FNV-1a over the bytes of n doubles, continuing from h: a fingerprint that tells calibration
 * shards and checkpoints of other events apart (not a cryptographic digest). */
static unsigned long long fnv1a(unsigned long long h, const double *x, size_t n) {
  const unsigned char *b = (const unsigned char *)x;
  for (size_t i = 0; i < n * sizeof *x; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  return h;
}
#define FNV_START 0xcbf29ce484222325ULL

static void setup_free(setup_t *s) {
  nplm_test_free(s->test);
  nplm_model_free(s->model);
  nplm_nuisance_free(s->nu);
  table_free(&s->ref);
  table_free(&s->refw);
}

/* A list of unit counts "N,N,...": digits only (no sign, no blanks), no empty entries, at
 * most 64 (strtoul alone took "-4" as 2^64 - 4 and a trailing comma as the end). */
static int parse_units(const char *list, const char *what, size_t *out, size_t *n) {
  *n = 0;
  for (const char *p = list;;) {
    if (*p < '0' || *p > '9' || *n == 64)
      return die("--%s: '%s' is not a list of up to 64 unit counts N,N,...", what, list);
    char *end;
    errno = 0;
    const unsigned long long v = strtoull(p, &end, 10);
    if (errno || v > 1000000) return die("--%s: '%s': %.*s units is too many", what, list,
                                         (int)(end - p), p);
    out[(*n)++] = (size_t)v;
    if (*end == '\0') return 0;
    if (*end != ',') return die("--%s: '%s' is not a list of unit counts N,N,...", what, list);
    p = end + 1;
  }
}

/* A finite number that fills the field [p, the next ',' or the end). */
static int spec_number(const char *p, char **end, double *v) {
  *v = strtod(p, end);
  return *end != p && isfinite(*v) && (**end == ',' || **end == '\0');
}

static int make_model(const char *spec, double clip, size_t d, nplm_model_t **m, size_t *dof) {
  if (strncmp(spec, "mlp:", 4) == 0) {
    size_t layers[64], nl = 0;
    if (parse_units(spec + 4, "model", layers, &nl)) return 1;
    if (nl < 2 || layers[0] != d)
      return die("--model: %s must start with the number of input columns (%zu)", spec, d);
    if (nplm_model_create_mlp(m, layers, nl, clip)) return die("%s", nplm_last_error());
    *dof = nplm_model_num_params(*m);
    return 0;
  }
  if (strncmp(spec, "kernel:", 7) == 0) {
    char *end;
    errno = 0;
    const char *ms = spec + 7;
    unsigned long long M = strtoull(ms, &end, 10);
    double sig = 0, lam = 0;
    if (*ms < '0' || *ms > '9' || *end != ',' || errno || !spec_number(end + 1, &end, &sig) ||
        *end != ',' || !spec_number(end + 1, &end, &lam) || *end)
      return die("--model: expected kernel:M,SIGMA,LAMBDA (M a count, SIGMA and LAMBDA "
                 "numbers), got '%s'", spec);
    if (nplm_model_create_kernel(m, d, (size_t)M, sig, lam)) return die("%s", nplm_last_error());
    *dof = 0; /* fitted on toys */
    return 0;
  }
  return die("--model: '%s' is neither mlp:... nor kernel:M,SIGMA,LAMBDA", spec);
}

/* Every --aux J=V[,J=V...] (the flag may repeat), in order, into the test and s->aux_json. */
static int set_aux_values(args_t *a, setup_t *s) {
  size_t used = 0;
  s->aux_json[used++] = '[';
  s->aux_json[used] = 0;
  for (int i = 0; i < a->n; i++) {
    if (strcmp(a->key[i], "aux") != 0) continue;
    a->used[i] = 1;
    const char *p = a->val[i];
    for (;;) {
      char *end;
      errno = 0;
      unsigned long long j = strtoull(p, &end, 10);
      const char *vstart = end + 1;
      double v = (end != p && *end == '=' && !errno) ? strtod(vstart, &end) : (double)NAN;
      if ((*end && *end != ',') || !isfinite(v) || end == vstart) /* "0=" has no value */
        return die("--aux: expected J=VALUE[,J=VALUE...], got '%s'", a->val[i]);
      if (nplm_test_set_aux(s->test, (size_t)j, v)) return die("--aux: %s", nplm_last_error());
      int w = snprintf(s->aux_json + used, sizeof s->aux_json - used, "%s[%llu, %.17g]",
                       used > 1 ? ", " : "", j, v);
      if (w < 0 || (size_t)w >= sizeof s->aux_json - used - 1) return die("--aux: too many values");
      used += (size_t)w;
      if (!*end) break;
      p = end + 1;
    }
  }
  s->aux_json[used++] = ']';
  s->aux_json[used] = 0;
  return 0;
}

/* Everything run, calibrate and tune-clip share. */
static int setup(args_t *a, setup_t *s, const char *what) {
  memset(s, 0, sizeof *s);
  const char *ref, *spec = "mlp:1,4,1", *v;
  const char *cols = get(a, "columns");
  double clip;
  long long threads, epochs, seed;
  const char *cl = get(a, "clip"); /* a number, or inf (no clip) */
  clip = cl && strcmp(cl, "inf") == 0 ? (double)INFINITY : 9.0;
  int rc = need(a, "reference", &ref);
  if (!rc) rc = need(a, "n-expected", &v);
  if (rc) return rc;
  if (to_double(v, "n-expected", &s->n_expected) ||
      (cl && clip != (double)INFINITY && to_double(cl, "clip", &clip)) ||
      opt_long(a, "threads", 0, 1024, 0, &threads) ||
      opt_long(a, "epochs", 1, 1000000000, 300000, &epochs) ||
      opt_long(a, "seed", 0, (1LL << 53), 0, &seed))
    return 1;
  long long max_it = 0, starts = 1;
  if (opt_long(a, "max-iterations", 0, 1000000000, 0, &max_it) ||
      opt_long(a, "starts", 1, 1000, 1, &starts))
    return 1;
  if ((v = get(a, "model"))) spec = v;
  if (!(clip > 0.0)) return die("--clip: %g must be > 0 (or inf: no clip)", clip);
  snprintf(s->model_spec, sizeof s->model_spec, "%s", spec);
  s->seed = (unsigned long long)seed;
  s->clip = clip;
  s->epochs = epochs;
  if (read_table(ref, cols, &s->ref)) return 1;
  const char *rw = get(a, "reference-weights");
  if (rw) {
    if (read_table(rw, NULL, &s->refw)) return 1;
    if (s->refw.d != 1 || s->refw.n != s->ref.n)
      return die("--reference-weights: need one column of %zu weights", s->ref.n);
  }
  s->ref_hash = fnv1a(FNV_START, s->ref.x, s->ref.n * s->ref.d);
  if (s->refw.x) s->ref_hash = fnv1a(s->ref_hash, s->refw.x, s->refw.n);
  if (make_model(spec, clip, s->ref.d, &s->model, &s->dof)) return 1;
  const char *nf = get(a, "nuisance");
  if (nf && nplm_nuisance_load(&s->nu, nf)) return die("%s", nplm_last_error());
  s->max_iterations = max_it;
  s->starts = starts;
  s->standardize = get(a, "standardize") != NULL;
  const char *opt = get(a, "optimizer");
  int optimizer = NPLM_OPTIMIZER_LBFGSB;
  if (opt && strcmp(opt, "adam") == 0) optimizer = NPLM_OPTIMIZER_ADAM;
  else if (opt && strcmp(opt, "adam-lbfgsb") == 0) optimizer = NPLM_OPTIMIZER_ADAM_LBFGSB;
  else if (opt && strcmp(opt, "lbfgsb") != 0)
    return die("--optimizer: '%s' is none of adam, lbfgsb, adam-lbfgsb", opt);
  s->optimizer = optimizer;
  if (nplm_test_create(&s->test, s->model, s->nu) ||
      nplm_test_set_reference(s->test, s->ref.x, s->ref.n, s->ref.d,
                              s->refw.x, s->n_expected) ||
      nplm_test_set_int(s->test, NPLM_OPT_OPTIMIZER, optimizer) ||
      nplm_test_set_int(s->test, NPLM_OPT_EPOCHS, epochs) ||
      nplm_test_set_int(s->test, NPLM_OPT_THREADS, threads) ||
      nplm_test_set_int(s->test, NPLM_OPT_SEED, seed) ||
      (max_it > 0 && nplm_test_set_int(s->test, NPLM_OPT_MAX_ITERATIONS, max_it)) ||
      nplm_test_set_int(s->test, NPLM_OPT_STARTS, starts) ||
      (s->standardize && nplm_test_set_int(s->test, NPLM_OPT_STANDARDIZE, 1)))
    return die("%s", nplm_last_error());
  if (set_aux_values(a, s)) return 1;
  s->progress.tty = isatty(2);
  s->progress.t0 = now();
  s->progress.what = what;
  if (nplm_test_set_progress(s->test, show_progress, &s->progress))
    return die("%s", nplm_last_error());
  return 0;
}

/* --json FILE, a regular file or a new one, is written to FILE.tmp and renamed over FILE
 * only once complete, so a failed command leaves an existing FILE as it was. Anything else
 * (a device, a pipe) is written directly, and "-" is the standard output. */
static char g_json_tmp[4096];

static FILE *open_json(args_t *a, const char **path) {
  *path = get(a, "json");
  g_json_tmp[0] = '\0';
  if (!*path) return NULL;
  if (strcmp(*path, "-") == 0) return stdout;
  struct stat st;
  if (stat(*path, &st) == 0 && !S_ISREG(st.st_mode)) {
    FILE *f = fopen(*path, "w");
    if (!f) die("--json: cannot write '%s': %s", *path, strerror(errno));
    return f;
  }
  const int w = snprintf(g_json_tmp, sizeof g_json_tmp, "%s.tmp", *path);
  if (w < 0 || (size_t)w >= sizeof g_json_tmp) {
    die("--json: path too long");
    return NULL;
  }
  FILE *f = fopen(g_json_tmp, "w");
  if (!f) die("--json: cannot write '%s': %s", g_json_tmp, strerror(errno));
  return f;
}

/* Finish --json: on success (rc == 0) check every write and move the file into place;
 * otherwise drop it. Returns rc, or 1 if the file could not be written. */
static int close_json(FILE *f, const char *path, int rc) {
  if (!f) return rc;
  if (f == stdout) return rc;
  const int bad = ferror(f), direct = !g_json_tmp[0];
  if (fclose(f) != 0 || bad) {
    if (!direct) remove(g_json_tmp);
    return rc ? rc : die("--json: cannot write '%s'", direct ? path : g_json_tmp);
  }
  if (direct) return rc;
  if (rc) {
    remove(g_json_tmp);
    return rc;
  }
  if (rename(g_json_tmp, path) != 0) {
    const int e = errno;
    remove(g_json_tmp);
    return die("--json: cannot replace '%s': %s", path, strerror(e));
  }
  return 0;
}

static const char *optimizer_name(int optimizer) {
  return optimizer == NPLM_OPTIMIZER_ADAM          ? "adam"
         : optimizer == NPLM_OPTIMIZER_ADAM_LBFGSB ? "adam-lbfgsb"
                                                   : "lbfgsb";
}

/* The seed, and the options a calibration's t values depend on (nplm merge compares them). */
static void json_common(FILE *f, const setup_t *s) {
  fprintf(f, "\"seed\": %llu, \"options\": {\"library_version\": \"%s\", \"model\": \"%s\", "
             "\"clip\": %s, \"optimizer\": \"%s\", \"epochs\": %lld, \"n_expected\": %s, "
             "\"n_reference\": %zu, \"features\": %zu, \"nuisances\": %zu, \"seed\": %llu, "
             "\"max_iterations\": %lld, \"starts\": %lld, \"standardize\": %s, \"aux\": %s, "
             "\"toy_aux\": \"%s\", \"reference_hash\": \"%016llx\"",
          s->seed, nplm_version_string(), s->model_spec, jd(s->clip),
          optimizer_name(s->optimizer), s->epochs, jd(s->n_expected),
          s->ref.n, s->ref.d, nplm_nuisance_count(s->nu), s->seed, s->max_iterations, s->starts,
          s->standardize ? "true" : "false", s->aux_json, s->draw_aux ? "draw" : "fixed",
          s->ref_hash);
  if (s->pool_hash) fprintf(f, ", \"pool_hash\": \"%016llx\"", s->pool_hash);
  fputc('}', f);
}

/* ---- calibration files (nplm calibrate --json, nplm merge) ---- */

typedef struct shard {
  char *text;     /* the file */
  char settings_copy[2048]; /* the options object, verbatim */
  long long seed;
  double *t;
  long long first, n;
  const char *path;
} shard_t;

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (len < cap) break;
    char *nb = cap < ((size_t)1 << 32) ? realloc(buf, 2 * cap + 1) : NULL;
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  if (buf) buf[len] = '\0';
  fclose(f);
  return buf;
}

/* Read a shard written by nplm calibrate --json. */
static int read_shard(const char *path, shard_t *sh) {
  memset(sh, 0, sizeof *sh);
  sh->path = path;
  sh->text = slurp(path);
  if (!sh->text) return die("cannot read '%s'", path);
  char *p = strstr(sh->text, "\"t_null\"");
  char *q = p ? strchr(p, '[') : NULL;
  char *fs = strstr(sh->text, "\"first_toy\":"), *ns = strstr(sh->text, "\"n_toys\":");
  char *st = strstr(sh->text, "\"options\":");
  if (!q || !fs || !ns || !st) return die("'%s' is not a calibration file from nplm calibrate --json", path);
  sh->first = strtoll(fs + 12, NULL, 10);
  char *sd = strstr(sh->text, "\"seed\":");
  sh->seed = sd ? strtoll(sd + 7, NULL, 10) : -1;
  sh->n = strtoll(ns + 9, NULL, 10);
  char *b0 = strchr(st, '{'), *b1 = b0 ? strchr(b0, '}') : NULL;
  /* the ranges nplm calibrate writes: 1 .. 1e8 toys from a first toy in 0 .. 2^53 - n (so
     the buffer below is never sized from a damaged count) */
  if (!b1 || (size_t)(b1 - b0 + 1) >= sizeof sh->settings_copy || sh->n < 1 ||
      sh->n > MAX_TOYS || sh->first < 0 || sh->first > MAX_TOY_INDEX - sh->n)
    return die("'%s': bad settings or toy range (n_toys %lld, first_toy %lld)", path, sh->n,
               sh->first);
  memcpy(sh->settings_copy, b0, (size_t)(b1 - b0 + 1));
  sh->t = malloc((size_t)sh->n * sizeof *sh->t);
  if (!sh->t) return die("out of memory");
  long long k = 0;
  for (char *c = q + 1; k < sh->n; k++) {
    char *end;
    sh->t[k] = strtod(c, &end);
    if (end == c) break;
    c = end;
    while (*c == ',' || *c == ' ' || *c == '\n') c++;
  }
  if (k != sh->n) return die("'%s': %lld t values for n_toys = %lld", path, k, sh->n);
  return 0;
}

/* The value of "key" in a flat JSON object as json_common writes it: a string with its
 * quotes, or a scalar up to the next ',' or '}'. 0 when the key is absent. */
static int json_value(const char *obj, const char *key, char *out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(obj, pat);
  if (!p) return 0;
  p += strlen(pat);
  while (*p == ' ') p++;
  const char *e = p;
  if (*p == '"') {
    e = strchr(p + 1, '"');
    e = e ? e + 1 : p + strlen(p);
  } else {
    while (*e && *e != ',' && *e != '}') e++;
  }
  snprintf(out, cap, "%.*s", (int)(e - p), p);
  return 1;
}

/* A calibration is the null distribution of this run's t only if its toys were fitted as
 * this run fits the data: same reference, N(R0), model, clip, optimiser and its settings,
 * nuisances and preprocessing. The seed may differ (it only draws the toys and starts).
 * Returns 0, or 1 with a message naming the first option that differs. */
static int check_calibration(const shard_t *cal, const setup_t *s) {
  char *mine = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&mine, &len);
  if (!f) return die("out of memory");
  json_common(f, s);
  if (fclose(f) != 0 || !mine) return die("out of memory");
  const char *opts = strstr(mine, "\"options\":");
  static const char *const keys[] = {"reference_hash", "n_reference", "features", "n_expected",
                                     "model", "clip", "optimizer", "epochs", "max_iterations",
                                     "starts", "standardize", "nuisances"};
  int rc = 0;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !rc; i++) {
    char want[256], have[256];
    if (strcmp(keys[i], "epochs") == 0 && s->optimizer == NPLM_OPTIMIZER_LBFGSB) continue;
    if (!opts || !json_value(opts, keys[i], want, sizeof want)) continue;
    if (!json_value(cal->settings_copy, keys[i], have, sizeof have))
      fprintf(stderr, "%s: note: '%s' does not record %s; not checked\n", g_cmd, cal->path,
              keys[i]);
    else if (strcmp(want, have) != 0)
      rc = die("--calibration: '%s' was made with %s %s, this run has %s %s", cal->path,
               keys[i], have, keys[i], want);
  }
  free(mine);
  return rc;
}

/* ---- nplm run ---- */

static int cmd_run(int argc, char **argv) {
  if (argc > 0 && strcmp(argv[0], "--help") == 0) {
    printf("usage: nplm run --reference FILE --data FILE --n-expected N [options]\n\n"
           "Fit f on reference and data and print t, its p-value and Z (chi2 with as many dof\n"
           "as the MLP has parameters, or --dof D), or against a calibration (--calibration\n"
           "FILE from nplm calibrate --json).\n\n%s"
           "  --data FILE            observed events\n"
           "  --data-weights FILE    their weights, optional\n"
           "  --dof D                chi2 dof for p and Z\n"
           "  --save-model FILE      write the fitted f (nplm eval reads it)\n"
           "  --json FILE            result as JSON ('-' for stdout)\n", COMMON_HELP);
    return 0;
  }
  args_t a;
  if (parse_args(argc, argv, &a)) return 2;
  setup_t s;
  table_t data = {0}, dw = {0};
  int rc = setup(&a, &s, "fit");
  const char *dpath = NULL, *jpath = NULL;
  double dof = (double)s.dof;
  if (!rc) rc = need(&a, "data", &dpath);
  if (!rc) rc = read_table(dpath, get(&a, "columns"), &data);
  const char *dwp = get(&a, "data-weights");
  if (!rc && dwp) {
    rc = read_table(dwp, NULL, &dw);
    if (!rc && (dw.d != 1 || dw.n != data.n))
      rc = die("--data-weights: need one column of %zu weights", data.n);
  }
  if (!rc) rc = opt_double(&a, "dof", dof, &dof);
  if (!rc && get(&a, "dof") && !(dof > 0.0)) rc = die("--dof: %g must be > 0", dof);
  const char *cal = get(&a, "calibration"), *save = get(&a, "save-model");
  shard_t calib;
  memset(&calib, 0, sizeof calib);
  /* the t_null of a calibration file, read and checked before the fit */
  if (!rc && cal) rc = read_shard(cal, &calib);
  if (!rc && cal) rc = check_calibration(&calib, &s);
  FILE *jf = NULL;
  if (!rc) {
    jf = open_json(&a, &jpath);
    if (jpath && !jf) rc = 1;
  }
  if (!rc) rc = unused(&a);
  if (!rc && data.d != s.ref.d)
    rc = die("--data has %zu columns, --reference %zu", data.d, s.ref.d);
  double t = NAN;
  if (!rc) {
    nplm_status_t st = nplm_test_run(s.test, data.x, data.n, data.d, dw.x, &t);
    if (st != NPLM_OK && st != NPLM_ENOCONV) rc = die("%s", nplm_test_last_error(s.test));
    else if (st == NPLM_ENOCONV) fprintf(stderr, "%s: note: %s\n", g_cmd, nplm_test_last_error(s.test));
  }
  double *t_null = calib.t;
  size_t n_null = (size_t)calib.n;
  double sig[NPLM_SIG_COUNT];
  for (int i = 0; i < NPLM_SIG_COUNT; i++) sig[i] = NAN;
  if (!rc) {
    if (n_null) {
      if (nplm_significance(t_null, n_null, t, dof > 0 ? dof : 1.0, sig, NPLM_SIG_COUNT))
        rc = die("%s", nplm_last_error());
    } else if (dof > 0) {
      sig[NPLM_SIG_P_CHI2] = nplm_chi2_sf(t, dof);
      sig[NPLM_SIG_Z_CHI2] = nplm_z_from_p(sig[NPLM_SIG_P_CHI2]);
    }
  }
  if (!rc) {
    const size_t J = nplm_nuisance_count(s.nu);
    double tau = t, delta = 0, nu_t[64], nu_d[64], secs = 0;
    if (J) {
      if (nplm_test_result(s.test, NPLM_RESULT_TAU, &tau) ||
          nplm_test_result(s.test, NPLM_RESULT_DELTA, &delta) ||
          nplm_test_nuisances(s.test, NPLM_FIT_TAU, nu_t, J) ||
          nplm_test_nuisances(s.test, NPLM_FIT_DELTA, nu_d, J))
        rc = die("%s", nplm_last_error());
    }
    if (nplm_test_result(s.test, NPLM_RESULT_SECONDS, &secs)) secs = NAN;
    /* with --json - the JSON alone goes to stdout; the summary then goes to stderr */
    FILE *out = jf == stdout ? stderr : stdout;
    fprintf(out, "t = %.10g", t);
    if (J) fprintf(out, "  (tau %.6g - Delta %.6g)", tau, delta);
    if (dof > 0) fprintf(out, "\nchi2(%g): p = %.4g, Z = %.3f", dof, sig[NPLM_SIG_P_CHI2], sig[NPLM_SIG_Z_CHI2]);
    if (n_null)
      fprintf(out, "\n%zu toys: p = %.4g, Z = %.3f%s; chi2 with fitted dof %.2f: Z = %.3f", n_null,
             sig[NPLM_SIG_P_EMPIRICAL], sig[NPLM_SIG_Z_EMPIRICAL],
             sig[NPLM_SIG_BEYOND_TOYS] == 1 ? " (beyond every toy: an upper bound)" : "",
             sig[NPLM_SIG_DOF_FIT], sig[NPLM_SIG_Z_CHI2_FIT]);
    for (size_t j = 0; j < J; j++) fprintf(out, "\nnu[%zu]: %.5g (tau fit), %.5g (Delta fit)", j, nu_t[j], nu_d[j]);
    fprintf(out, "\n(%.2f s)\n", secs);
    if (jf) {
      fprintf(jf, "{\"t\": %s, \"tau\": %s, \"delta\": %s, \"dof\": %s, ", jd(t), jd(tau),
              jd(delta), jd(dof));
      fprintf(jf, "\"p_chi2\": %s, \"z_chi2\": %s, ", jd(sig[NPLM_SIG_P_CHI2]),
              jd(sig[NPLM_SIG_Z_CHI2]));
      if (n_null)
        fprintf(jf, "\"n_toys\": %zu, \"p_empirical\": %s, \"z_empirical\": %s, "
                    "\"beyond_toys\": %s, \"dof_fit\": %s, \"z_chi2_fit\": %s, ",
                n_null, jd(sig[NPLM_SIG_P_EMPIRICAL]), jd(sig[NPLM_SIG_Z_EMPIRICAL]),
                sig[NPLM_SIG_BEYOND_TOYS] == 1 ? "true" : "false", jd(sig[NPLM_SIG_DOF_FIT]),
                jd(sig[NPLM_SIG_Z_CHI2_FIT]));
      fprintf(jf, "\"nu_tau\": [");
      for (size_t j = 0; j < J; j++) fprintf(jf, "%s%s", j ? ", " : "", jd(nu_t[j]));
      fprintf(jf, "], \"nu_delta\": [");
      for (size_t j = 0; j < J; j++) fprintf(jf, "%s%s", j ? ", " : "", jd(nu_d[j]));
      fprintf(jf, "], \"n_data\": %zu, \"seconds\": %.6g, ", data.n, secs);
      json_common(jf, &s);
      fprintf(jf, "}\n");
    }
    const nplm_model_t *f = NULL;
    if (!rc && save && (nplm_test_fitted_model(s.test, &f) || nplm_model_save(f, save)))
      rc = die("%s", nplm_last_error());
  }
  rc = close_json(jf, jpath, rc);
  free(calib.text);
  free(calib.t);
  table_free(&data);
  table_free(&dw);
  setup_free(&s);
  return rc;
}

/* ---- nplm calibrate ---- */

/* A calibration that survives interruption: every finished chunk of toys is appended to the
 * checkpoint file (a settings line, then one {"toy": k, "t": v} line per toy); a rerun with the
 * same settings computes only the toys the file lacks. Toy k's t does not depend on the
 * chunking, so the result is the uninterrupted one. */
static int calibrate_resumable(setup_t *s, const table_t *pool, const char *path, long long first,
                               long long toys, double *tn) {
  char *settings = NULL;
  size_t slen = 0;
  FILE *mf = open_memstream(&settings, &slen);
  if (!mf) return die("out of memory");
  fputc('{', mf);
  json_common(mf, s);
  fputs("}\n", mf);
  fclose(mf);
  char *have = calloc((size_t)toys, 1);
  if (!have) {
    free(settings);
    return die("out of memory");
  }
  int rc = 0;
  long long done = 0;
  /* toys of the file outside this call's range (another --toys or --first-toy) are kept */
  char *others = NULL;
  size_t olen = 0;
  FILE *of = open_memstream(&others, &olen);
  if (!of) {
    free(settings);
    free(have);
    return die("out of memory");
  }
  FILE *f = fopen(path, "r");
  if (f) { /* resume */
    char line[4096];
    if (!fgets(line, sizeof line, f) || strcmp(line, settings) != 0)
      rc = die("--checkpoint: '%s' was made with other settings (start a new file)", path);
    while (!rc && fgets(line, sizeof line, f)) {
      long long k;
      double v;
      char close;
      /* a line cut by the interruption does not end in '}' and is ignored */
      if (sscanf(line, "{\"toy\": %lld, \"t\": %lf%c", &k, &v, &close) != 3 || close != '}')
        continue;
      if (k >= first && k < first + toys) {
        if (!have[k - first]) {
          have[k - first] = 1;
          tn[k - first] = v;
          done++;
        }
      } else if (k >= 0) {
        fprintf(of, "{\"toy\": %lld, \"t\": %.17g}\n", k, v);
      }
    }
    fclose(f);
    f = NULL;
    if (!rc && done)
      fprintf(stderr, "%s: resuming: %lld of %lld toys already in '%s'\n", g_cmd, done, toys, path);
  }
  if (!rc) {
    /* rewrite the file with its valid lines only, then append */
    f = fopen(path, "w");
    if (!f) rc = die("--checkpoint: cannot write '%s': %s", path, strerror(errno));
    else {
      fputs(settings, f);
      fclose(of);
      of = NULL;
      if (others) fputs(others, f);
      for (long long k = 0; k < toys; k++)
        if (have[k]) fprintf(f, "{\"toy\": %lld, \"t\": %.17g}\n", first + k, tn[k]);
      fflush(f);
    }
  }
  const long long chunk = 8;
  for (long long k = 0; !rc && k < toys;) {
    if (have[k]) {
      k++;
      continue;
    }
    long long n = 0;
    while (k + n < toys && !have[k + n] && n < chunk) n++;
    if (nplm_test_set_int(s->test, NPLM_OPT_TOY_OFFSET, first + k)) {
      rc = die("%s", nplm_last_error());
      break;
    }
    nplm_status_t st = nplm_test_calibrate(s->test, pool->x, pool->n, pool->d, NULL, (size_t)n,
                                           s->seed, tn + k);
    if (st != NPLM_OK && st != NPLM_ENOCONV) {
      rc = die("%s", nplm_test_last_error(s->test));
      break;
    }
    for (long long j = 0; j < n; j++) {
      fprintf(f, "{\"toy\": %lld, \"t\": %.17g}\n", first + k + j, tn[k + j]);
      have[k + j] = 1;
    }
    fflush(f);
    k += n;
  }
  if (f && fclose(f) != 0 && !rc) rc = die("--checkpoint: cannot write '%s'", path);
  if (of) fclose(of);
  free(others);
  free(have);
  free(settings);
  return rc;
}

/* With nuisances: tau, Delta, the Delta fit's nu and the auxiliary values of every toy. */
static int json_per_toy_nuisances(FILE *jf, const nplm_test_t *t, size_t toys, size_t J) {
  double *v = malloc(toys * J * sizeof *v);
  if (!v) return 1;
  static const struct {
    const char *name;
    nplm_result_t key;
  } res[] = {{"tau_null", NPLM_RESULT_TAU}, {"delta_null", NPLM_RESULT_DELTA}};
  for (size_t r = 0; r < 2; r++) {
    if (nplm_test_toy_results(t, res[r].key, v, toys)) continue;
    fprintf(jf, "\"%s\": [", res[r].name);
    for (size_t k = 0; k < toys; k++) fprintf(jf, "%s%s", k ? ", " : "", jd(v[k]));
    fprintf(jf, "], ");
  }
  static const struct {
    const char *name;
    int which;
  } nus[] = {{"nu_delta_null", NPLM_FIT_DELTA}, {"aux_null", NPLM_FIT_AUX}};
  for (size_t r = 0; r < 2; r++) {
    if (nplm_test_toy_nuisances(t, nus[r].which, v, toys, J)) continue;
    fprintf(jf, "\"%s\": [", nus[r].name);
    for (size_t k = 0; k < toys; k++) {
      fprintf(jf, "%s[", k ? ", " : "");
      for (size_t j = 0; j < J; j++) fprintf(jf, "%s%s", j ? ", " : "", jd(v[k * J + j]));
      fprintf(jf, "]");
    }
    fprintf(jf, "], ");
  }
  free(v);
  return 0;
}

static int cmd_calibrate(int argc, char **argv) {
  if (argc > 0 && strcmp(argv[0], "--help") == 0) {
    printf("usage: nplm calibrate --reference FILE --pool FILE --n-expected N --toys K [options]\n\n"
           "Null toys: toy k draws Poisson(N(R0)) events from the pool and fits them; its t is\n"
           "the same whatever --threads or sharding (--first-toy).\n\n%s"
           "  --pool FILE            events drawn for the toys (reference-like, disjoint)\n"
           "  --toys K               number of toys\n"
           "  --first-toy K0         global index of the first toy (shards: 0, K, 2K, ...)\n"
           "  --shard-from-env [VAR] first toy = $VAR * K (default VAR: SLURM_ARRAY_TASK_ID; use\n"
           "                         Process for HTCondor by passing it in the environment)\n"
           "  --json FILE            t_null in toy order, seed, options, fitted dof, KS; with\n"
           "                         --nuisance (one process, no checkpoint) also tau_null,\n"
           "                         delta_null, nu_delta_null and aux_null per toy\n"
           "  --checkpoint FILE      resumable: finished toys are kept in FILE, and a rerun with\n"
           "                         the same settings computes only the missing ones\n"
           "  --draw-aux             with --nuisance: toy k draws its auxiliary measurements from\n"
           "                         Normal(nu0, sigma) (nu0 from --aux, else the module's), from\n"
           "                         (seed, k): the frequentist null with systematics\n",
           COMMON_HELP);
    return 0;
  }
  args_t a;
  if (parse_args(argc, argv, &a)) return 2;
  setup_t s;
  table_t pool = {0};
  int rc = setup(&a, &s, "toys");
  if (!rc && get(&a, "draw-aux")) {
    s.draw_aux = 1;
    if (!s.nu) rc = die("--draw-aux: needs --nuisance");
    else if (nplm_test_set_int(s.test, NPLM_OPT_TOY_AUX, NPLM_TOY_AUX_DRAW))
      rc = die("%s", nplm_last_error());
  }
  const char *ppath = NULL, *jpath = NULL;
  long long toys = 0, first = 0;
  if (!rc) rc = need(&a, "pool", &ppath);
  if (!rc) rc = read_table(ppath, get(&a, "columns"), &pool);
  if (!rc) s.pool_hash = fnv1a(FNV_START, pool.x, pool.n * pool.d) | 1u; /* never 0: "none" */
  if (!rc) rc = need(&a, "toys", &ppath);
  if (!rc) rc = to_long(ppath, "toys", 1, MAX_TOYS, &toys);
  if (!rc) rc = opt_long(&a, "first-toy", 0, MAX_TOY_INDEX - toys, 0, &first);
  const char *shard_env = get(&a, "shard-from-env");
  if (!rc && shard_env) { /* batch arrays: shard i runs toys [i * K, (i + 1) * K) */
    const char *var = strcmp(shard_env, "1") == 0 ? "SLURM_ARRAY_TASK_ID" : shard_env;
    const char *v = getenv(var);
    long long idx = 0;
    if (!v) rc = die("--shard-from-env: %s is not set", var);
    else if (!(rc = to_long(v, var, 0, (MAX_TOY_INDEX - toys) / toys, &idx))) first = idx * toys;
  }
  const char *ckpt = get(&a, "checkpoint");
  int ranks = 1;
#ifdef NPLM_HAVE_MPI
  int rank = 0;
  /* under mpirun: rank r runs a contiguous block of the toys; rank 0 gathers them in order */
  const int use_mpi = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE");
  if (use_mpi) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  }
#endif
  if (!rc && ranks > 1 && ckpt) rc = die("--checkpoint is per process: not with mpirun");
  int reporter = 1; /* the process that writes the results (rank 0 under mpirun) */
#ifdef NPLM_HAVE_MPI
  reporter = rank == 0;
#endif
  FILE *jf = NULL;
  if (!rc && reporter) {
    jf = open_json(&a, &jpath);
    if (jpath && !jf) rc = 1;
  } else if (!rc) {
    (void)get(&a, "json"); /* rank 0 writes it */
  }
  if (!rc) rc = unused(&a);
  if (!rc && pool.d != s.ref.d) rc = die("--pool has %zu columns, --reference %zu", pool.d, s.ref.d);
  double *tn = rc ? NULL : malloc((size_t)toys * sizeof *tn);
  if (!rc && !tn) rc = die("out of memory");
  int per_toy = 0; /* the handle holds every toy's results (one process, no checkpoint) */
  if (!rc && ckpt) {
    rc = calibrate_resumable(&s, &pool, ckpt, first, toys, tn);
#ifdef NPLM_HAVE_MPI
  } else if (!rc && ranks > 1) {
    /* block r: toys [lo_r, lo_{r+1}), the first (toys % ranks) blocks one toy longer */
    int *counts = malloc(2 * (size_t)ranks * sizeof *counts), *displs = counts + ranks;
    if (!counts) return die("out of memory");
    for (int r = 0, off = 0; r < ranks; r++) {
      counts[r] = (int)(toys / ranks + (r < toys % ranks));
      displs[r] = off;
      off += counts[r];
    }
    double *mine = malloc(((size_t)counts[rank] + 1) * sizeof *mine);
    int ok = mine != NULL;
    if (ok && counts[rank] > 0) {
      ok = nplm_test_set_int(s.test, NPLM_OPT_TOY_OFFSET, first + displs[rank]) == NPLM_OK;
      nplm_status_t st = ok ? nplm_test_calibrate(s.test, pool.x, pool.n, pool.d, NULL,
                                                 (size_t)counts[rank], s.seed, mine)
                            : NPLM_EINVAL;
      ok = st == NPLM_OK || st == NPLM_ENOCONV;
      if (!ok) die("rank %d: %s", rank, nplm_test_last_error(s.test));
    }
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (all_ok)
      MPI_Gatherv(mine, counts[rank], MPI_DOUBLE, tn, counts, displs, MPI_DOUBLE, 0,
                  MPI_COMM_WORLD);
    free(mine);
    free(counts);
    if (!all_ok) rc = 1;
    else if (rank != 0) rc = -1; /* done: only rank 0 reports */
#endif
  } else if (!rc) {
    if (nplm_test_set_int(s.test, NPLM_OPT_TOY_OFFSET, first)) rc = die("%s", nplm_last_error());
    nplm_status_t st = rc ? NPLM_OK : nplm_test_calibrate(s.test, pool.x, pool.n, pool.d, NULL,
                                                          (size_t)toys, s.seed, tn);
    if (st != NPLM_OK && st != NPLM_ENOCONV) rc = die("%s", nplm_test_last_error(s.test));
    else if (st == NPLM_ENOCONV) fprintf(stderr, "%s: note: %s\n", g_cmd, nplm_test_last_error(s.test));
    per_toy = !rc;
  }
  if (!rc) {
    double dof = NAN, ks = NAN, ksp = NAN, med;
    double *sorted = malloc((size_t)toys * sizeof *sorted);
    if (!sorted) return die("out of memory");
    memcpy(sorted, tn, (size_t)toys * sizeof *tn);
    for (long long i = 1; i < toys; i++) /* insertion sort: toy counts per call are modest */
      for (long long j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
        double tmp = sorted[j];
        sorted[j] = sorted[j - 1];
        sorted[j - 1] = tmp;
      }
    med = toys % 2 ? sorted[toys / 2] : 0.5 * (sorted[toys / 2 - 1] + sorted[toys / 2]);
    free(sorted);
    if (toys >= 2 && nplm_chi2_fit_dof(tn, (size_t)toys, &dof) == NPLM_OK &&
        nplm_ks_chi2(tn, (size_t)toys, dof, &ks, &ksp) != NPLM_OK)
      ksp = NAN;
    fprintf(jf == stdout ? stderr : stdout,
            "%lld toys (first %lld): median t %.4g, fitted chi2 dof %.3g (KS p %.3g)\n", toys,
            first, med, dof, ksp);
    if (jf) {
      fprintf(jf, "{\"t_null\": [");
      for (long long k = 0; k < toys; k++)
        fprintf(jf, "%s%s", k ? (k % 8 ? ", " : ",\n  ") : "", jd(tn[k]));
      fprintf(jf, "], \"first_toy\": %lld, \"n_toys\": %lld, \"median\": %s, "
                  "\"dof_fit\": %s, \"ks_p_fit\": %s, \"n_pool\": %zu, ",
              first, toys, jd(med), jd(dof), jd(ksp), pool.n);
      const size_t J = nplm_nuisance_count(s.nu);
      if (per_toy && J && json_per_toy_nuisances(jf, s.test, (size_t)toys, J))
        rc = die("out of memory");
      json_common(jf, &s);
      fprintf(jf, "}\n");
    }
  }
  if (rc >= 0) rc = close_json(jf, jpath, rc); /* rc < 0: a rank other than 0, done */
  free(tn);
  table_free(&pool);
  setup_free(&s);
  return rc < 0 ? 0 : rc;
}

/* ---- nplm eval ---- */

static int cmd_eval(int argc, char **argv) {
  if (argc > 0 && strcmp(argv[0], "--help") == 0) {
    printf("usage: nplm eval --model-file FILE --data FILE [--columns LIST] [--out FILE.npy]\n\n"
           "Evaluate a saved model's f (from nplm run --save-model) on events: where f is large\n"
           "the data exceed the reference. Without --out, one value per line on stdout.\n");
    return 0;
  }
  args_t a;
  if (parse_args(argc, argv, &a)) return 2;
  const char *mp, *dp, *out = get(&a, "out");
  table_t data = {0};
  nplm_model_t *m = NULL;
  int rc = need(&a, "model-file", &mp);
  if (!rc) rc = need(&a, "data", &dp);
  if (!rc) rc = read_table(dp, get(&a, "columns"), &data);
  if (!rc) rc = unused(&a);
  if (!rc && nplm_model_load(&m, mp)) rc = die("%s", nplm_last_error());
  double *f = rc ? NULL : malloc(data.n * sizeof *f);
  if (!rc && !f) rc = die("out of memory");
  if (!rc && nplm_model_eval(m, data.x, data.n, data.d, f)) rc = die("%s", nplm_last_error());
  if (!rc) {
    char err[600];
    if (out) {
      if (table_write_npy(out, f, data.n, 1, 1, err, sizeof err)) rc = die("%s", err);
    } else {
      for (size_t i = 0; i < data.n; i++) printf("%.17g\n", f[i]);
    }
  }
  free(f);
  nplm_model_free(m);
  table_free(&data);
  return rc;
}

/* ---- nplm preprocess ---- */

static int cmd_preprocess(int argc, char **argv) {
  if (argc == 0 || strcmp(argv[0], "--help") == 0) {
    printf("usage: nplm preprocess --reference FILE [--weights FILE] [--mode nplm|standard]\n"
           "                       [--columns LIST] [--params FILE.json] --in FILE --out FILE\n"
           "                       [--in FILE --out FILE ...]\n\n"
           "Map every input feature by x' = (x - shift) * scale, with shift and scale from the\n"
           "reference, and write each --in file's events to the --out file that follows it\n"
           "(.npy). The same maps go to every file, so reference, pools, data and varied samples\n"
           "stay comparable. Network inputs need it: raw momenta in GeV saturate the sigmoids.\n\n"
           "  --mode nplm       (default) the published NPLM recipe: features that take negative\n"
           "                    values in the reference are standardised (mean 0, standard\n"
           "                    deviation 1), non-negative ones that exceed 1 are divided by\n"
           "                    their mean, the others are left unchanged; a momentum scale\n"
           "                    pT -> pT e^nu stays a scale\n"
           "  --mode standard   standardise every feature\n"
           "  --weights FILE    the reference's event weights (weighted mean and deviation)\n"
           "  --params FILE     write the maps as JSON (mode, shift and scale per feature)\n");
    return argc == 0 ? 2 : 0;
  }
  args_t a;
  if (parse_args(argc, argv, &a)) return 2;
  const char *rp, *mode = get(&a, "mode"), *wp = get(&a, "weights"), *pp = get(&a, "params");
  const char *cols = get(&a, "columns");
  if (!mode) mode = "nplm";
  int rc = need(&a, "reference", &rp);
  if (!rc && strcmp(mode, "nplm") != 0 && strcmp(mode, "standard") != 0)
    rc = die("--mode: '%s' is neither nplm nor standard", mode);
  /* --in/--out pairs, in the order given */
  int pairs = 0;
  for (int i = 0; i < a.n && !rc; i++) {
    if (strcmp(a.key[i], "in") == 0) {
      if (i + 1 >= a.n || strcmp(a.key[i + 1], "out") != 0)
        rc = die("--in %s: needs an --out FILE right after it", a.val[i]);
      else a.used[i] = a.used[i + 1] = 1, pairs++;
    } else if (strcmp(a.key[i], "out") == 0 && (i == 0 || strcmp(a.key[i - 1], "in") != 0)) {
      rc = die("--out %s: needs an --in FILE right before it", a.val[i]);
    }
  }
  if (!rc && pairs == 0) rc = die("give at least one --in FILE --out FILE pair");
  if (!rc) rc = unused(&a);
  table_t ref = {0}, w = {0};
  if (!rc) rc = read_table(rp, cols, &ref);
  if (!rc && wp) {
    rc = read_table(wp, NULL, &w);
    if (!rc && (w.d != 1 || w.n != ref.n))
      rc = die("--weights: need one column of %zu weights", ref.n);
  }
  double *shift = NULL, *scale = NULL;
  if (!rc) {
    shift = calloc(ref.d, sizeof *shift), scale = calloc(ref.d, sizeof *scale);
    if (!shift || !scale) rc = die("out of memory");
  }
  const int m = strcmp(mode, "nplm") == 0 ? NPLM_PREPROCESS_NPLM : NPLM_PREPROCESS_STANDARD;
  if (!rc && nplm_preprocess_fit(ref.x, ref.n, ref.d, wp ? w.x : NULL, m, shift, scale))
    rc = die("%s", nplm_last_error()); /* names x[i] (--reference) or w[i] (--weights) */
  for (int i = 0; i < a.n && !rc; i++) {
    if (strcmp(a.key[i], "in") != 0) continue;
    const char *in = a.val[i], *out = a.val[i + 1];
    table_t t = {0};
    rc = read_table(in, cols, &t);
    if (!rc && t.d != ref.d) rc = die("%s has %zu columns, --reference %zu", in, t.d, ref.d);
    if (!rc && nplm_preprocess_apply(t.x, t.n, t.d, shift, scale)) rc = die("%s", nplm_last_error());
    char err[600];
    if (!rc && table_write_npy(out, t.x, t.n, t.d, 0, err, sizeof err)) rc = die("%s", err);
    if (!rc) printf("%s -> %s (%zu events)\n", in, out, t.n);
    table_free(&t);
  }
  if (!rc && pp) {
    FILE *f = fopen(pp, "w");
    if (!f) rc = die("cannot write '%s': %s", pp, strerror(errno));
    if (f) {
      fprintf(f, "{\"mode\": \"%s\", \"reference\": \"", mode);
      for (const char *c = rp; *c; c++)
        if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20) fputc(*c, f);
      fprintf(f, "\", \"features\": [");
      for (size_t j = 0; j < ref.d; j++)
        fprintf(f, "%s{\"shift\": %s, \"scale\": %s}", j ? ", " : "", jd(shift[j]),
                jd(scale[j]));
      fprintf(f, "]}\n");
      if (fclose(f)) rc = die("cannot write '%s'", pp);
    }
  }
  for (size_t j = 0; !rc && j < ref.d; j++)
    printf("feature %zu: x' = (x - %.10g) * %.10g\n", j, shift[j], scale[j]);
  free(shift), free(scale);
  table_free(&ref);
  table_free(&w);
  return rc;
}

/* ---- nplm generate ---- */

/* A Poisson mean the generators can draw from: finite and at most the --events limit (the
 * draw is cast to a count and sizes a buffer). */
static int check_mean(const char *what, double mu) {
  if (!(mu >= 0.0 && mu <= 1e9))
    return die("%s: the expected number of events %g is not in [0, 1e9]", what, mu);
  return 0;
}

static int generate_dilepton(int argc, char **argv) {
  args_t a;
  if (parse_args(argc, argv, &a)) return 2;
  const char *out, *sigspec = get(&a, "signal");
  long long events, seed;
  double mu, norm;
  dilepton_config_t cfg;
  dilepton_default_config(&cfg);
  int with_mass = get(&a, "with-mass") != NULL;
  int rc = need(&a, "out", &out);
  if (!rc)
    rc = opt_long(&a, "events", 0, 1000000000, -1, &events) ||
           opt_double(&a, "poisson", (double)NAN, &mu) ||
           opt_long(&a, "seed", 0, 1LL << 62, 1, &seed) ||
           opt_double(&a, "scale-barrel", 0.0, &cfg.scale_barrel) ||
           opt_double(&a, "scale-endcap", 0.0, &cfg.scale_endcap) ||
           opt_double(&a, "norm", 0.0, &norm);
  if (!rc) rc = unused(&a);
  if (!rc && (events < 0) == isnan(mu)) rc = die("give exactly one of --events N and --poisson MU");
  if (!rc && (fabs(cfg.scale_barrel) > 0.5 || fabs(cfg.scale_endcap) > 0.5))
    rc = die("--scale-barrel/--scale-endcap: |NU| above 0.5 is not a momentum scale");
  if (!rc && !isnan(mu)) rc = check_mean("--poisson/--norm", mu * exp(norm));
  if (rc) return rc;
  sample_rng_t r = {(uint64_t)seed};
  size_t nb = !isnan(mu) ? sample_poisson(&r, mu * exp(norm)) : (size_t)events, ns = 0;
  int proc = DILEPTON_DY;
  if (sigspec) {
    char *end;
    const char *v = NULL;
    if (strncmp(sigspec, "zprime:", 7) == 0) proc = DILEPTON_ZPRIME, v = sigspec + 7;
    else if (strncmp(sigspec, "eft:", 4) == 0) proc = DILEPTON_EFT, v = sigspec + 4;
    else return die("--signal: '%s' is neither zprime:NS nor eft:NS", sigspec);
    double nsig = strtod(v, &end);
    if (*end || end == v || !(nsig >= 0))
      return die("--signal: expected %.*s:NS", (int)(v - sigspec - 1), sigspec);
    if (check_mean("--signal", nsig)) return 1;
    ns = sample_poisson(&r, nsig);
  }
  double *x = malloc((nb + ns + 1) * 6 * sizeof *x);
  if (!x) return die("out of memory");
  uint64_t st = r.s;
  dilepton_generate(DILEPTON_DY, &cfg, nb, &st, x);
  if (ns) dilepton_generate(proc, &cfg, ns, &st, x + 6 * nb);
  const size_t n = nb + ns, d = with_mass ? 6 : 5;
  if (!with_mass) /* drop m12: rows of 5 */
    for (size_t i = 0; i < n; i++) memmove(x + 5 * i, x + 6 * i, 5 * sizeof *x);
  size_t len = strlen(out);
  char err[600];
  if (len > 4 && strcmp(out + len - 4, ".csv") == 0) {
    FILE *f = fopen(out, "w");
    if (!f) rc = die("cannot write '%s': %s", out, strerror(errno));
    if (f) {
      fprintf(f, "pt1,pt2,eta1,eta2,dphi12%s\n", with_mass ? ",m12" : "");
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) fprintf(f, "%.17g%c", x[i * d + j], j + 1 < d ? ',' : '\n');
      if (fclose(f)) rc = die("cannot write '%s'", out);
    }
  } else if (table_write_npy(out, x, n, d, 0, err, sizeof err)) {
    rc = die("%s", err);
  }
  if (!rc) printf("%zu Drell-Yan + %zu signal events (%zu columns) -> %s\n", nb, ns, d, out);
  free(x);
  return rc;
}

static int cmd_generate(int argc, char **argv) {
  const int help = argc > 0 && strcmp(argv[0], "--help") == 0;
  if (argc == 0 || help) {
    printf("usage: nplm generate 1d --out FILE (--events N | --poisson MU) [--seed S]\n"
           "       nplm generate dilepton --out FILE (--events N | --poisson MU) [--seed S]\n"
           "                        [--signal zprime:NS | eft:NS] [--scale-barrel NU]\n"
           "                        [--scale-endcap NU] [--norm NU] [--with-mass]\n"
           "                        [--signal gauss:MEAN,SIGMA,NS | gamma3:NS] [--scale NU]\n"
           "                        [--norm NU]\n\n"
           "The 1D benchmark: Exp(1) background (N events, or Poisson(MU e^norm)), each x scaled\n"
           "by e^scale; a signal of Poisson(NS) events (Normal(MEAN, SIGMA) or x^2 e^-x / 2).\n"
           "dilepton: the 5D stand-in (pT1, pT2, eta1, eta2, dphi12; --with-mass adds m12):\n"
           "Drell-Yan-like pairs, a 300 GeV Z' or an EFT-like tail, muon momentum scales\n"
           "exp(NU) in barrel (|eta| < 1.2) and endcaps, acceptance pT > 20, |eta| < 2.4,\n"
           "m12 > 100 GeV (model: tools/dilepton.c).\n"
           "FILE ending in .csv is written as CSV, anything else as .npy.\n");
    return help ? 0 : 2;
  }
  if (strcmp(argv[0], "dilepton") == 0) return generate_dilepton(argc - 1, argv + 1);
  if (strcmp(argv[0], "1d") != 0) return die("unknown sample '%s' (1d or dilepton)", argv[0]) + 1;
  args_t a;
  if (parse_args(argc - 1, argv + 1, &a)) return 2;
  const char *out, *sigspec = get(&a, "signal");
  long long events, seed;
  double mu, scale, norm;
  int rc = need(&a, "out", &out);
  if (!rc)
    rc = opt_long(&a, "events", 0, 1000000000, -1, &events) ||
           opt_double(&a, "poisson", (double)NAN, &mu) ||
           opt_long(&a, "seed", 0, 1LL << 62, 1, &seed) ||
           opt_double(&a, "scale", 0.0, &scale) || opt_double(&a, "norm", 0.0, &norm);
  if (!rc) rc = unused(&a);
  if (!rc && (events < 0) == isnan(mu)) rc = die("give exactly one of --events N and --poisson MU");
  if (!rc && !isnan(mu)) rc = check_mean("--poisson/--norm", mu * exp(norm));
  if (!rc && !(fabs(scale) <= 700.0)) rc = die("--scale: %g is not in [-700, 700]", scale);
  if (rc) return rc;
  sample_rng_t r = {(uint64_t)seed};
  size_t nb = !isnan(mu) ? sample_poisson(&r, mu * exp(norm)) : (size_t)events;
  size_t ns = 0;
  int kind = 0;
  double mean = 0, sd = 0, nsig = 0;
  if (sigspec) {
    char *end;
    if (strncmp(sigspec, "gauss:", 6) == 0) {
      kind = 1;
      mean = strtod(sigspec + 6, &end);
      if (*end == ',') sd = strtod(end + 1, &end);
      if (*end == ',') nsig = strtod(end + 1, &end);
      if (*end || !isfinite(mean) || !(sd > 0 && isfinite(sd)) || !(nsig >= 0))
        return die("--signal: expected gauss:MEAN,SIGMA,NS (finite, SIGMA > 0)");
    } else if (strncmp(sigspec, "gamma3:", 7) == 0) {
      kind = 2;
      nsig = strtod(sigspec + 7, &end);
      if (*end || end == sigspec + 7 || !(nsig >= 0)) return die("--signal: expected gamma3:NS");
    } else {
      return die("--signal: '%s' is neither gauss:MEAN,SIGMA,NS nor gamma3:NS", sigspec);
    }
    if (check_mean("--signal", nsig)) return 1;
    ns = sample_poisson(&r, nsig);
  }
  double *x = malloc((nb + ns + 1) * sizeof *x);
  if (!x) return die("out of memory");
  for (size_t i = 0; i < nb; i++) x[i] = -log(sample_uniform(&r)) * exp(scale);
  for (size_t i = 0; i < ns; i++)
    x[nb + i] = kind == 1 ? mean + sd * sample_normal(&r)
                          : -log(sample_uniform(&r)) - log(sample_uniform(&r)) - log(sample_uniform(&r));
  size_t len = strlen(out);
  char err[600];
  if (len > 4 && strcmp(out + len - 4, ".csv") == 0) {
    FILE *f = fopen(out, "w");
    if (!f) rc = die("cannot write '%s': %s", out, strerror(errno));
    for (size_t i = 0; f && i < nb + ns; i++) fprintf(f, "%.17g\n", x[i]);
    if (f && fclose(f)) rc = die("cannot write '%s'", out);
  } else if (table_write_npy(out, x, nb + ns, 1, 1, err, sizeof err)) {
    rc = die("%s", err);
  }
  if (!rc) printf("%zu background + %zu signal events -> %s\n", nb, ns, out);
  free(x);
  return rc;
}

/* ---- nplm tune-clip ---- */

static int print_clip_step(void *user, const nplm_clip_step_t *st) {
  (void)user;
  printf("clip %-8.4g median t %-8.4g (target %.4g)  16%%/84%% %.3g/%.3g (target %.3g/%.3g)  KS p "
         "%.3g\n",
         st->clip, st->median, st->target_median, st->q16, st->q84, st->target_q16,
         st->target_q84, st->ks_p);
  fflush(stdout);
  return 0;
}

static int cmd_tune_clip(int argc, char **argv) {
  if (argc > 0 && strcmp(argv[0], "--help") == 0) {
    printf("usage: nplm tune-clip --reference FILE --pool FILE --n-expected N --model mlp:...\n"
           "                      [--toys K] [--lo C] [--hi C] [--steps S] [options]\n\n"
           "Scan the weight clip on null toys until the median of t matches chi2(#parameters);\n"
           "prints every tried clip (median, quantiles, KS p) and the chosen one.\n\n%s",
           COMMON_HELP);
    return 0;
  }
  args_t a;
  if (parse_args(argc, argv, &a)) return 2;
  setup_t s;
  table_t pool = {0};
  int rc = setup(&a, &s, "tune");
  const char *pp = NULL;
  long long toys, steps;
  double lo, hi, best = NAN;
  if (!rc) rc = need(&a, "pool", &pp);
  if (!rc) rc = read_table(pp, get(&a, "columns"), &pool);
  if (!rc) rc = opt_long(&a, "toys", 5, 1000000, 50, &toys) || opt_long(&a, "steps", 2, 100, 8, &steps) ||
                opt_double(&a, "lo", 1.0, &lo) || opt_double(&a, "hi", 9.0, &hi);
  if (!rc) rc = unused(&a);
  if (!rc && nplm_test_set_progress(s.test, NULL, NULL)) rc = die("%s", nplm_last_error());
  if (!rc && nplm_test_tune_clip(s.test, pool.x, pool.n, pool.d, NULL, (size_t)toys, s.seed, lo,
                                 hi, (int)steps, print_clip_step, NULL, &best))
    rc = die("%s", nplm_test_last_error(s.test));
  if (!rc) printf("chosen clip: %.6g\n", best);
  table_free(&pool);
  setup_free(&s);
  return rc;
}

/* ---- nplm nuisance-learn ---- */

static int cmd_nuisance_learn(int argc, char **argv) {
  if (argc > 0 && strcmp(argv[0], "--help") == 0) {
    printf("usage: nplm nuisance-learn --nominal FILE --varied FILE@NU[,FILE@NU...] --sigma S\n"
           "                           --out FILE [--order K] [--layers 1,4,1] [--norm SIGMA]\n"
           "                           [--columns LIST] [--iterations N] [--clip C]\n"
           "                           [--add-to MODULE]\n\n"
           "Learn the Taylor coefficients of a shape nuisance (one network per power) from the\n"
           "nominal sample against samples generated at nu (absolute units), and write a module\n"
           "for nplm run --nuisance. --norm adds a normalisation nuisance with that sigma;\n"
           "--clip bounds the networks' weights (default 100). --add-to appends the new\n"
           "nuisance(s) to an existing module (several shape nuisances: one command each);\n"
           "the indices they get are printed.\n");
    return 0;
  }
  args_t a;
  if (parse_args(argc, argv, &a)) return 2;
  const char *nom, *var, *out, *cols = get(&a, "columns");
  double sigma, norm;
  long long order, iters;
  int rc = need(&a, "nominal", &nom);
  if (!rc) rc = need(&a, "varied", &var);
  if (!rc) rc = need(&a, "out", &out);
  const char *sg = NULL;
  if (!rc) rc = need(&a, "sigma", &sg);
  if (!rc) rc = to_double(sg, "sigma", &sigma);
  double wclip = 100.0;
  if (!rc) rc = opt_long(&a, "order", 1, 8, 2, &order) || opt_double(&a, "norm", 0.0, &norm) ||
                opt_long(&a, "iterations", 1, 1000000000, 3000, &iters) ||
                opt_double(&a, "clip", 100.0, &wclip);
  if (!rc && norm < 0.0) rc = die("--norm: the normalisation's sigma %g must be > 0", norm);
  const char *ls = get(&a, "layers"), *add_to = get(&a, "add-to");
  if (!rc) rc = unused(&a);
  if (rc) return rc;
  table_t t0 = {0}, tv[64];
  double nus[64];
  const double *xs[64];
  size_t ns[64], nv = 0;
  memset(tv, 0, sizeof tv);
  rc = read_table(nom, cols, &t0);
  char *list = strdup(var);
  for (char *tok = list ? strtok(list, ",") : NULL; !rc && tok; tok = strtok(NULL, ",")) {
    char *at = strrchr(tok, '@');
    if (!at || nv == 64) {
      rc = die("--varied: expected FILE@NU items, got '%s'", tok);
      break;
    }
    *at = '\0';
    if (to_double(at + 1, "varied", &nus[nv]) || read_table(tok, cols, &tv[nv])) rc = 1;
    else if (tv[nv].d != t0.d) rc = die("%s has %zu columns, the nominal %zu", tok, tv[nv].d, t0.d);
    else {
      xs[nv] = tv[nv].x;
      ns[nv] = tv[nv].n;
      nv++;
    }
  }
  free(list);
  size_t layers[64] = {t0.d, 4, 1}, nl = 3;
  if (!rc && ls) rc = parse_units(ls, "layers", layers, &nl);
  nplm_nuisance_t *nu = NULL;
  size_t idx = 0;
  size_t norm_idx = 0;
  if (!rc && add_to && nplm_nuisance_load(&nu, add_to)) rc = die("--add-to: %s", nplm_last_error());
  if (!rc && ((!nu && nplm_nuisance_create(&nu, t0.d)) ||
              nplm_nuisance_add_shape(nu, sigma, (unsigned)order, layers, nl, &idx) ||
              nplm_nuisance_set_int(nu, NPLM_NUIS_OPT_MAX_ITERATIONS, iters) ||
              nplm_nuisance_set_double(nu, NPLM_NUIS_OPT_WEIGHT_CLIP, wclip) ||
              nplm_nuisance_learn(nu, idx, t0.d, t0.x, t0.n, NULL, nv, nus, xs, ns, NULL) ||
              (norm > 0 && nplm_nuisance_add_norm(nu, norm, &norm_idx)) ||
              nplm_nuisance_save(nu, out)))
    rc = die("%s", nplm_last_error());
  double tl, vl;
  if (!rc && nplm_nuisance_learned_loss(nu, idx, &tl, &vl) == NPLM_OK)
    printf("learned %lld coefficient networks from %zu varied samples: training loss %.6g, "
           "validation loss %.6g -> %s (shape nuisance %zu", order, nv, tl, vl, out, idx);
  if (!rc && norm > 0) printf(", normalisation nuisance %zu", norm_idx);
  if (!rc) printf(")\n");
  nplm_nuisance_free(nu);
  table_free(&t0);
  for (size_t i = 0; i < 64; i++) table_free(&tv[i]);
  return rc;
}

/* ---- nplm merge ---- */

static int shard_cmp(const void *a, const void *b) {
  const shard_t *x = a, *y = b;
  return (x->first > y->first) - (x->first < y->first);
}

static int cmd_merge(int argc, char **argv) {
  if (argc == 0 || strcmp(argv[0], "--help") == 0) {
    printf("usage: nplm merge --out FILE SHARD.json...\n\n"
           "Combine calibration shards (nplm calibrate --first-toy ... --json) into one file in\n"
           "toy order. Refuses shards whose settings differ (model, clip, optimizer, epochs,\n"
           "N(R0), reference, seed, library version) and toy ranges that overlap or leave gaps.\n");
    return argc == 0 ? 2 : 0;
  }
  const char *out = NULL;
  int n = 0, rc = 0;
  shard_t *sh = calloc((size_t)argc, sizeof *sh);
  if (!sh) return die("out of memory");
  for (int i = 0; i < argc && !rc; i++) {
    if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
    else if (strncmp(argv[i], "--", 2) == 0) rc = die("unknown option %s (see --help)", argv[i]) + 1;
    else rc = read_shard(argv[i], &sh[n++]);
  }
  if (!rc && !out) rc = die("--out is required");
  if (!rc && n == 0) rc = die("no shard files given");
  if (!rc) {
    qsort(sh, (size_t)n, sizeof *sh, shard_cmp);
    for (int i = 1; i < n && !rc; i++) {
      if (strcmp(sh[i].settings_copy, sh[0].settings_copy) != 0)
        rc = die("'%s' was made with other settings than '%s'", sh[i].path, sh[0].path);
      else if (sh[i].first < sh[i - 1].first + sh[i - 1].n)
        rc = die("'%s' (toys %lld..%lld) overlaps '%s' (toys %lld..%lld)", sh[i].path,
                 sh[i].first, sh[i].first + sh[i].n - 1, sh[i - 1].path, sh[i - 1].first,
                 sh[i - 1].first + sh[i - 1].n - 1);
      else if (sh[i].first > sh[i - 1].first + sh[i - 1].n)
        rc = die("toys %lld..%lld are missing between '%s' and '%s'",
                 sh[i - 1].first + sh[i - 1].n, sh[i].first - 1, sh[i - 1].path, sh[i].path);
    }
  }
  long long total = 0;
  for (int i = 0; i < n; i++) total += sh[i].n;
  double *t = rc ? NULL : malloc((size_t)total * sizeof *t);
  if (!rc && !t) rc = die("out of memory");
  if (!rc) {
    long long k = 0;
    for (int i = 0; i < n; i++)
      for (long long j = 0; j < sh[i].n; j++) t[k++] = sh[i].t[j];
    double dof = NAN, ks = NAN, ksp = NAN;
    if (total >= 2 && nplm_chi2_fit_dof(t, (size_t)total, &dof) == NPLM_OK &&
        nplm_ks_chi2(t, (size_t)total, dof, &ks, &ksp) != NPLM_OK)
      ksp = NAN;
    FILE *f = fopen(out, "w");
    if (!f) rc = die("cannot write '%s': %s", out, strerror(errno));
    if (f) {
      fprintf(f, "{\"t_null\": [");
      for (long long j = 0; j < total; j++)
        fprintf(f, "%s%s", j ? (j % 8 ? ", " : ",\n  ") : "", jd(t[j]));
      fprintf(f, "], \"first_toy\": %lld, \"n_toys\": %lld, \"shards\": %d, \"dof_fit\": %s, "
                 "\"ks_p_fit\": %s, \"seed\": %lld, \"options\": %s}\n",
              sh[0].first, total, n, jd(dof), jd(ksp), sh[0].seed, sh[0].settings_copy);
      if (fclose(f) != 0) rc = die("cannot write '%s'", out);
      else printf("%d shards, toys %lld..%lld -> %s\n", n, sh[0].first, sh[0].first + total - 1,
                  out);
    }
  }
  free(t);
  for (int i = 0; i < argc; i++) {
    free(sh[i].text);
    free(sh[i].t);
  }
  free(sh);
  return rc;
}

/* ---- main ---- */

static void usage(FILE *f) {
  fprintf(f, "usage: nplm COMMAND [options]   (nplm COMMAND --help for each)\n\n"
             "  run             reference + data -> t, p-value, Z (JSON with --json)\n"
             "  calibrate       null toys from a pool -> t values in toy order\n"
             "  tune-clip       weight-clip scan on null toys (MLP)\n"
             "  nuisance-learn  learn a shape nuisance -> module for run --nuisance\n"
             "  eval            a saved model's f on events (to locate an excess)\n"
             "  generate        the 1D benchmark samples\n"
             "  preprocess      map input features by the reference's mean and deviation\n"
             "  merge           calibration shards -> one calibration (checked)\n"
             "  version         print the library version\n");
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  static char name[64];
  snprintf(name, sizeof name, "nplm %s", argv[1]);
  g_cmd = name;
  int rc = dispatch(argc, argv);
  /* results go to the standard output: a failed write there is a failed command */
  if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0) rc = die("cannot write the output");
  return rc;
}

static int dispatch(int argc, char **argv) {
  const char *c = argv[1];
  if (strcmp(c, "run") == 0) return cmd_run(argc - 2, argv + 2);
  if (strcmp(c, "calibrate") == 0) {
#ifdef NPLM_HAVE_MPI
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE")) {
      MPI_Init(&argc, &argv);
      int rc = cmd_calibrate(argc - 2, argv + 2);
      MPI_Finalize();
      return rc;
    }
#endif
    return cmd_calibrate(argc - 2, argv + 2);
  }
  if (strcmp(c, "tune-clip") == 0) return cmd_tune_clip(argc - 2, argv + 2);
  if (strcmp(c, "nuisance-learn") == 0) return cmd_nuisance_learn(argc - 2, argv + 2);
  if (strcmp(c, "eval") == 0) return cmd_eval(argc - 2, argv + 2);
  if (strcmp(c, "generate") == 0) return cmd_generate(argc - 2, argv + 2);
  if (strcmp(c, "preprocess") == 0) return cmd_preprocess(argc - 2, argv + 2);
  if (strcmp(c, "merge") == 0) return cmd_merge(argc - 2, argv + 2);
  if (strcmp(c, "version") == 0 || strcmp(c, "--version") == 0) {
#ifdef NPLM_HAVE_HDF5
    const char *h5 = "yes";
#else
    const char *h5 = "no";
#endif
#ifdef NPLM_HAVE_MPI
    const char *mpi = "yes";
#else
    const char *mpi = "no";
#endif
    printf("nplm %s (hdf5: %s, mpi: %s)\n", nplm_version_string(), h5, mpi);
    return 0;
  }
  g_cmd = "nplm";
  die("unknown command '%s' (nplm --help lists them)", c);
  return 2;
}
