/* The 1D NPLM benchmark end to end, with the public API only.
 *
 * Reference: Exp(1), N_R = 200000 events weighted to N(R0) = 2000 expected events.
 * Data: Poisson(2000) events of Exp(1) plus Poisson(10) signal events of Normal(6.4, 0.16).
 * Model: 1-4-1 network, weight clip 9 (13 parameters). Prints t, its chi2(13) p-value and Z,
 * and where the fitted f = log n(x|data) / n(x|R0) locates the excess.
 *
 * Usage: demo_1d [--seed S] [--signal N] [--optimizer lbfgsb|adam] [--epochs E] [--threads T]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nplm/nplm.h"
#include "samples.h"

#define N_REF 200000
#define N_EXPECTED 2000.0

static int usage(const char *prog) {
  fprintf(stderr,
          "usage: %s [--seed S] [--signal N] [--optimizer lbfgsb|adam] [--epochs E] "
          "[--threads T]\n"
          "  --seed S       seed of the data and of the network initialisation (default 7)\n"
          "  --signal N     expected number of Normal(6.4, 0.16) signal events (default 10)\n"
          "  --optimizer    lbfgsb (default, seconds) or adam (the anchors' 300000 epochs)\n",
          prog);
  return 2;
}

static int fail(const char *what, nplm_status_t s) {
  fprintf(stderr, "demo_1d: %s failed: %s: %s\n", what, nplm_strerror(s), nplm_last_error());
  return 1;
}

int main(int argc, char **argv) {
  uint64_t seed = 7;
  double n_signal = 10.0;
  int optimizer = NPLM_OPTIMIZER_LBFGSB, threads = 0;
  long epochs = 300000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return usage(argv[0]), 0;
    if (i + 1 >= argc) return usage(argv[0]);
    const char *v = argv[++i];
    if (strcmp(argv[i - 1], "--seed") == 0) seed = strtoull(v, NULL, 10);
    else if (strcmp(argv[i - 1], "--signal") == 0) n_signal = atof(v);
    else if (strcmp(argv[i - 1], "--epochs") == 0) epochs = atol(v);
    else if (strcmp(argv[i - 1], "--threads") == 0) threads = atoi(v);
    else if (strcmp(argv[i - 1], "--optimizer") == 0) {
      if (strcmp(v, "adam") == 0) optimizer = NPLM_OPTIMIZER_ADAM;
      else if (strcmp(v, "lbfgsb") == 0) optimizer = NPLM_OPTIMIZER_LBFGSB;
      else return usage(argv[0]);
    } else return usage(argv[0]);
  }

  /* samples */
  sample_rng_t rr = {1}, rd = {1000003 * seed + 17};
  double *ref = malloc(N_REF * sizeof *ref);
  size_t n_bkg = sample_poisson(&rd, N_EXPECTED), n_sig = sample_poisson(&rd, n_signal);
  size_t n = n_bkg + n_sig;
  double *data = malloc((n ? n : 1) * sizeof *data);
  if (!ref || !data) return 1;
  for (size_t i = 0; i < N_REF; i++) ref[i] = sample_exponential(&rr);
  for (size_t i = 0; i < n_bkg; i++) data[i] = sample_exponential(&rd);
  for (size_t i = n_bkg; i < n; i++) data[i] = 6.4 + 0.16 * sample_normal(&rd);

  printf("libnplm %s: the 1D NPLM benchmark\n", nplm_version_string());
  printf("  reference  Exp(1), N_R = %d events, N(R0) = %.0f\n", N_REF, N_EXPECTED);
  printf("  data       %zu events: %zu background + %zu signal Normal(6.4, 0.16)\n", n, n_bkg,
         n_sig);

  const size_t layers[] = {1, 4, 1};
  nplm_model_t *family = NULL;
  nplm_test_t *t = NULL;
  nplm_status_t s;
  if ((s = nplm_model_create_mlp(&family, layers, 3, 9.0)) != NPLM_OK) return fail("model", s);
  if ((s = nplm_test_create(&t, family, NULL)) != NPLM_OK) return fail("test", s);
  if ((s = nplm_test_set_reference(t, ref, N_REF, 1, NULL, N_EXPECTED)) != NPLM_OK)
    return fail("reference", s);
  if ((s = nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, optimizer)) != NPLM_OK ||
      (s = nplm_test_set_int(t, NPLM_OPT_EPOCHS, epochs)) != NPLM_OK ||
      (s = nplm_test_set_int(t, NPLM_OPT_SEED, (int64_t)(seed & 0xffffffffu))) != NPLM_OK ||
      (s = nplm_test_set_int(t, NPLM_OPT_THREADS, threads)) != NPLM_OK)
    return fail("options", s);

  double tv = 0, secs = 0, iters = 0, conv = 0;
  s = nplm_test_run(t, data, n, 1, NULL, &tv);
  if (s != NPLM_OK && s != NPLM_ENOCONV) return fail("fit", s);
  if (nplm_test_result(t, NPLM_RESULT_SECONDS, &secs) != NPLM_OK ||
      nplm_test_result(t, NPLM_RESULT_ITERATIONS, &iters) != NPLM_OK ||
      nplm_test_result(t, NPLM_RESULT_CONVERGED, &conv) != NPLM_OK)
    return fail("results", NPLM_EINTERNAL);
  const double dof = (double)nplm_model_num_params(family);
  const double p = nplm_chi2_sf(tv, dof), z = nplm_z_from_p(p);
  printf("  model      1-4-1 sigmoid network, weight clip 9, %s (%.0f %s, %.2f s%s)\n",
         optimizer == NPLM_OPTIMIZER_ADAM ? "Adam" : "L-BFGS-B", iters,
         optimizer == NPLM_OPTIMIZER_ADAM ? "epochs" : "iterations", secs,
         conv > 0 ? ", converged" : "");
  printf("\n  t = %.3f   p(chi2, %g dof) = %.3g   Z = %.2f\n", tv, dof, p, z);

  /* where is the excess: f on a grid, and data vs reference reweighted by e^f in bins */
  const nplm_model_t *f = NULL;
  if ((s = nplm_test_fitted_model(t, &f)) != NPLM_OK) return fail("fitted model", s);
  enum { GRID = 1001, NB = 12 };
  double xs[GRID], fs[GRID];
  for (int i = 0; i < GRID; i++) xs[i] = 10.0 * i / (GRID - 1);
  if ((s = nplm_model_eval(f, xs, GRID, 1, fs)) != NPLM_OK) return fail("eval", s);
  int imax = 0;
  for (int i = 1; i < GRID; i++)
    if (fs[i] > fs[imax]) imax = i;
  int lo = imax, hi = imax;
  while (lo > 0 && fs[lo - 1] > fs[imax] - log(2.0)) lo--;
  while (hi < GRID - 1 && fs[hi + 1] > fs[imax] - log(2.0)) hi++;
  printf("  excess     f peaks at x = %.2f (f = %.2f: data/reference = %.1f there);\n"
         "             f within log 2 of its peak on [%.2f, %.2f]\n",
         xs[imax], fs[imax], exp(fs[imax]), xs[lo], hi == GRID - 1 ? (double)INFINITY : xs[hi]);

  double *fr = malloc(N_REF * sizeof *fr);
  if (!fr) return 1;
  if ((s = nplm_model_eval(f, ref, N_REF, 1, fr)) != NPLM_OK) return fail("eval", s);
  const double edges[NB + 1] = {0, 0.5, 1, 1.5, 2, 3, 4, 5, 5.5, 6, 6.5, 7, INFINITY};
  double nd[NB] = {0}, nr[NB] = {0}, nf[NB] = {0};
  for (size_t i = 0; i < n; i++)
    for (int b = 0; b < NB; b++)
      if (data[i] >= edges[b] && data[i] < edges[b + 1]) nd[b] += 1;
  for (size_t i = 0; i < N_REF; i++)
    for (int b = 0; b < NB; b++)
      if (ref[i] >= edges[b] && ref[i] < edges[b + 1]) {
        nr[b] += N_EXPECTED / N_REF;
        nf[b] += N_EXPECTED / N_REF * exp(fr[i]);
      }
  printf("\n  %-14s %8s %12s %16s\n", "bin", "data", "reference", "reference*e^f");
  for (int b = 0; b < NB; b++)
    printf("  [%4.1f, %4.1f)   %8.0f %12.1f %16.1f\n", edges[b], edges[b + 1], nd[b], nr[b], nf[b]);

  free(fr);
  nplm_test_free(t);
  nplm_model_free(family);
  free(ref);
  free(data);
  return 0;
}
