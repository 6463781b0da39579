/* Machine-readable summary of a calibration (JSON), written with a locale-independent
 * number format ("%.17g" under a private "C" locale, so 0.5 never becomes "0,5"). */
#define _GNU_SOURCE
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats_internal.h"
#include "test/test_internal.h"

#define NPLM_H_INSIDE
#include "nplm/stats.h"
#include "nplm/version_api.h"
#undef NPLM_H_INSIDE

static void put_number(FILE *f, double x) {
  if (isfinite(x)) fprintf(f, "%.17g", x);
  else fputs("null", f); /* JSON has no NaN or infinity */
}

static void write_json(FILE *f, const nplm_test_t *t, const double *t_null, size_t n,
                       uint64_t seed, const double *sig) {
  const nplm_model_t *m = t->family;
  const nplm__mlp_spec_t *s = &m->spec;
  const int kernel = m->kind == NPLM__MODEL_KERNEL;
  fprintf(f, "{\n  \"library\": \"libnplm\",\n  \"version\": \"%s\",\n", nplm_version_string());
  fprintf(f, "  \"seed\": %llu,\n  \"n_toys\": %zu,\n", (unsigned long long)seed, n);
  if (kernel) { /* the family's settings: centres 0 = ceil(sqrt(N_R)) chosen at each fit */
    fprintf(f, "  \"model\": {\"type\": \"kernel\", \"centers\": %zu, \"sigma\": ", m->k_req);
    put_number(f, m->k_sigma);
    fputs(", \"lambda\": ", f);
    put_number(f, m->k_lambda);
  } else {
    fputs("  \"model\": {\"type\": \"mlp\", \"layers\": [", f);
    for (size_t l = 0; l < s->n_layers; l++) fprintf(f, "%s%zu", l ? ", " : "", s->units[l]);
    fprintf(f, "], \"parameters\": %zu, \"weight_clip\": ", s->n_params);
    double clip = nplm__test_opt(t, NPLM_OPT_WEIGHT_CLIP);
    put_number(f, clip == 0.0 ? m->clip : clip);
  }
  fputs("},\n  \"n_expected\": ", f);
  put_number(f, t->n_expected);
  fprintf(f, ",\n  \"n_reference\": %zu,\n  \"options\": {", t->ref.n);
  for (int i = 0; i < NPLM__N_OPTIONS; i++) {
    fprintf(f, "%s\"%s\": ", i ? ", " : "", nplm__options[i].name);
    put_number(f, t->opt[i]);
  }
  fputs("},\n  \"summary\": {\"median\": ", f);
  double *v = nplm__malloc_array(n, sizeof *v);
  double median = NAN, mean = 0.0;
  for (size_t k = 0; k < n; k++) mean += t_null[k];
  mean /= (double)n;
  if (v) {
    memcpy(v, t_null, n * sizeof *v);
    nplm__sort_doubles(v, n);
    median = nplm__quantile_sorted(v, n, 0.5);
    nplm__free(v);
  }
  put_number(f, median);
  fputs(", \"mean\": ", f);
  put_number(f, mean);
  /* a kernel model has no parameter count to serve as the nominal dof: only the fitted one */
  fputs(", \"dof\": ", f);
  put_number(f, kernel ? (double)NAN : (double)s->n_params);
  fputs(", \"dof_fit\": ", f);
  put_number(f, sig[NPLM_SIG_DOF_FIT]);
  fputs(", \"ks_p\": ", f);
  put_number(f, kernel ? (double)NAN : sig[NPLM_SIG_KS_P]);
  fputs(", \"ks_p_fit\": ", f);
  put_number(f, sig[NPLM_SIG_KS_P_FIT]);
  fputs("},\n  \"t_null\": [", f);
  for (size_t k = 0; k < n; k++) {
    if (k) fputs(k % 8 ? ", " : ",\n    ", f);
    put_number(f, t_null[k]);
  }
  fputs("]\n}\n", f);
}

nplm_status_t nplm_test_write_calibration(const nplm_test_t *t, const char *path,
                                          const double *t_null, size_t n, uint64_t seed) {
  static const char fn[] = "nplm_test_write_calibration";
  nplm__clear_error();
  if (!t) return nplm__fail(NPLM_EINVAL, "%s: t is NULL", fn);
  if (!path) return nplm__fail(NPLM_EINVAL, "%s: path is NULL", fn);
  if (!t_null) return nplm__fail(NPLM_EINVAL, "%s: t_null is NULL", fn);
  if (n == 0) return nplm__fail(NPLM_EINVAL, "%s: n = 0: no toys", fn);
  double sig[NPLM_SIG_COUNT];
  for (int i = 0; i < NPLM_SIG_COUNT; i++) sig[i] = NAN;
  /* the summary needs finite toys; a calibration with failed (NaN) toys is still written */
  const double dof =
      t->family->kind == NPLM__MODEL_KERNEL ? 1.0 /* placeholder; not written */
                                            : (double)t->family->spec.n_params;
  if (nplm__first_nonfinite(t_null, n) == n &&
      nplm_significance(t_null, n, 0.0, dof, sig, NPLM_SIG_COUNT) == NPLM_ENOMEM)
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  if (!c_locale) return nplm__fail(NPLM_ENOMEM, "%s: out of memory (locale)", fn);
  FILE *f = fopen(path, "w");
  if (!f) {
    freelocale(c_locale);
    return nplm__fail(NPLM_EIO, "%s: cannot open '%s' for writing", fn, path);
  }
  locale_t previous = uselocale(c_locale);
  write_json(f, t, t_null, n, seed, sig);
  uselocale(previous);
  freelocale(c_locale);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return nplm__fail(NPLM_EIO, "%s: cannot write '%s'", fn, path);
  nplm__clear_error();
  return NPLM_OK;
}
