/* Adam (300000 full-batch epochs, the anchors' recipe) against L-BFGS-B on 1D benchmark toys:
 * same reference, same toy, same Glorot start. Also polishes Adam's end point with L-BFGS-B
 * (how far Adam was from a minimum) and records Adam's t every 50000 epochs.
 * Prints one JSON line per toy.
 * Usage: compare_optimizers [--toys K] [--first k0] [--epochs E] [--threads N] [--clip C] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_1d.h"
#include "nplm/nplm.h"

static int fit(nplm_test_t *t, int optimizer, const double *x, size_t n, double *tv, double *secs,
               double *iters, double *conv) {
  nplm_status_t s = nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, optimizer);
  if (s == NPLM_OK) s = nplm_test_run(t, x, n, 1, NULL, tv);
  if (s != NPLM_OK && s != NPLM_ENOCONV) {
    fprintf(stderr, "compare: %s\n", nplm_test_last_error(t));
    return 1;
  }
  if (nplm_test_result(t, NPLM_RESULT_SECONDS, secs) != NPLM_OK ||
      nplm_test_result(t, NPLM_RESULT_ITERATIONS, iters) != NPLM_OK ||
      nplm_test_result(t, NPLM_RESULT_CONVERGED, conv) != NPLM_OK)
    return 1;
  return 0;
}

int main(int argc, char **argv) {
  int toys = 1, first = 0, threads = 0;
  long epochs = 300000;
  double clip = 9.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--toys") == 0) toys = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--first") == 0) first = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--epochs") == 0) epochs = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--clip") == 0) clip = atof(argv[i + 1]);
    else return 2;
  }
  double *ref = bench1d_reference(), *data = malloc(BENCH1D_MAX_DATA * sizeof *data);
  if (!ref || !data) return 1;
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  if (bench1d_test(ref, clip, threads, &m, &t) != NPLM_OK ||
      nplm_test_set_int(t, NPLM_OPT_EPOCHS, epochs) ||
      nplm_test_set_int(t, NPLM_OPT_PATIENCE, epochs >= 6 ? epochs / 6 : 1))
    return 1;
  for (int k = first; k < first + toys; k++) {
    size_t n = bench1d_compare_toy(k, data);
    if (nplm_test_set_int(t, NPLM_OPT_SEED, k) != NPLM_OK) return 1;
    double ta, sa, ia, ca, tl, sl, il, cl, tp, sp, ip, cp;
    if (nplm_test_set_int(t, NPLM_OPT_INIT, NPLM_INIT_RANDOM) ||
        fit(t, NPLM_OPTIMIZER_LBFGSB, data, n, &tl, &sl, &il, &cl) ||
        fit(t, NPLM_OPTIMIZER_ADAM, data, n, &ta, &sa, &ia, &ca))
      return 1;
    int64_t he[16];
    double ht[16];
    size_t hn = 0;
    if (nplm_test_history(t, he, ht, 16, &hn) != NPLM_OK) return 1;
    /* polish Adam's end point: a test whose family carries Adam's parameters */
    const nplm_model_t *fa = NULL;
    nplm_model_t *start = NULL;
    nplm_test_t *tpol = NULL;
    double pa[13];
    if (nplm_test_fitted_model(t, &fa) || nplm_model_get_params(fa, pa, 13) ||
        nplm_model_create_mlp(&start, layers, 3, clip) || nplm_model_set_params(start, pa, 13) ||
        nplm_test_create(&tpol, start, NULL) ||
        nplm_test_set_reference(tpol, ref, BENCH1D_N_REF, 1, NULL, BENCH1D_N_EXPECTED) ||
        nplm_test_set_int(tpol, NPLM_OPT_THREADS, threads) ||
        nplm_test_set_int(tpol, NPLM_OPT_INIT, NPLM_INIT_FROM_MODEL) ||
        fit(tpol, NPLM_OPTIMIZER_LBFGSB, data, n, &tp, &sp, &ip, &cp))
      return 1;
    printf("{\"toy\":%d,\"n_data\":%zu,\"clip\":%g,\"t_adam\":%.6f,\"adam_epochs\":%.0f,"
           "\"adam_s\":%.2f,\"t_lbfgsb\":%.6f,\"lbfgsb_iterations\":%.0f,\"lbfgsb_converged\":%.0f,"
           "\"lbfgsb_s\":%.3f,\"rel_diff\":%.3e,\"t_adam_polished\":%.6f,\"polish_iterations\":%.0f,"
           "\"adam_history\":[",
           k, n, clip, ta, ia, sa, tl, il, cl, sl, (tl - ta) / fabs(ta), tp, ip);
    for (size_t h = 0; h < hn && h < 16; h++)
      printf("%s[%lld,%.5f]", h ? "," : "", (long long)he[h], ht[h]);
    printf("]}\n");
    fflush(stdout);
    nplm_test_free(tpol);
    nplm_model_free(start);
  }
  nplm_test_free(t);
  nplm_model_free(m);
  free(ref);
  free(data);
  return 0;
}
