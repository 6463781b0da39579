/* Does a short Adam run decide which minimum 300000 Adam epochs end in? On the toys of
 * compare_optimizers (reference Exp(1), 200000 events, seed 1; toy k: Poisson(2000) Exp(1)
 * events from seed 1000 + k; 1-4-1 network, Glorot start NPLM_OPT_SEED = k), Adam runs E
 * epochs for each E of a list (Adam is deterministic, so x_E is the point after E epochs of
 * the long run) and L-BFGS-B continues from x_E. Prints one JSON line per (toy, E): Adam's t
 * after E epochs and the t, iterations and seconds of the L-BFGS-B polish.
 * Usage: adam_then_lbfgsb_1d [--toys K] [--first k0] [--threads N] [--clip C]
 *                            [--epochs E1,E2,...] [--lr LR (Adam's learning rate, 1e-3)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_1d.h"
#include "nplm/nplm.h"

#define MAX_E 32

static int run(nplm_test_t *t, int optimizer, int init, const double *x, size_t n, double *tv,
               double *sec, double *it) {
  nplm_status_t s;
  if ((s = nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, optimizer)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_INIT, init)))
    return 1;
  s = nplm_test_run(t, x, n, 1, NULL, tv);
  if (s != NPLM_OK && s != NPLM_ENOCONV) {
    fprintf(stderr, "adam_then_lbfgsb_1d: %s\n", nplm_test_last_error(t));
    return 1;
  }
  return nplm_test_result(t, NPLM_RESULT_SECONDS, sec) != NPLM_OK ||
         nplm_test_result(t, NPLM_RESULT_ITERATIONS, it) != NPLM_OK;
}

int main(int argc, char **argv) {
  int toys = 1, first = 0, threads = 1, ne = 0;
  double clip = 9.0, lr = 1e-3;
  long es[MAX_E];
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--toys") == 0) toys = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--first") == 0) first = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--clip") == 0) clip = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--lr") == 0) lr = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--epochs") == 0) {
      for (char *p = argv[i + 1]; *p && ne < MAX_E;) {
        es[ne++] = strtol(p, &p, 10);
        if (*p == ',') p++;
      }
    } else return 2;
  }
  if (ne == 0) {
    const long def[] = {0, 300, 1000, 3000, 10000, 30000, 100000, 300000};
    for (ne = 0; ne < (int)(sizeof def / sizeof def[0]); ne++) es[ne] = def[ne];
  }
  double *ref = bench1d_reference(), *data = malloc(BENCH1D_MAX_DATA * sizeof *data);
  if (!ref || !data) return 1;
  nplm_model_t *m = NULL, *start = NULL;
  nplm_test_t *t = NULL, *tp = NULL;
  const size_t layers[] = {1, 4, 1};
  if (bench1d_test(ref, clip, threads, &m, &t) != NPLM_OK ||
      nplm_model_create_mlp(&start, layers, 3, clip) != NPLM_OK ||
      nplm_test_set_int(t, NPLM_OPT_PATIENCE, 0) ||
      nplm_test_set_double(t, NPLM_OPT_LEARNING_RATE, lr)) {
    fprintf(stderr, "adam_then_lbfgsb_1d: %s\n", nplm_last_error());
    return 1;
  }
  double p[13];
  for (int k = first; k < first + toys; k++) {
    size_t n = bench1d_compare_toy(k, data);
    if (nplm_test_set_int(t, NPLM_OPT_SEED, k) != NPLM_OK) return 1;
    for (int j = 0; j < ne; j++) {
      double ta = 0.0, sa = 0.0, ia = 0.0, tl, sl, il;
      const nplm_model_t *fm = NULL;
      if (es[j] > 0) {
        if (nplm_test_set_int(t, NPLM_OPT_EPOCHS, es[j]) ||
            run(t, NPLM_OPTIMIZER_ADAM, NPLM_INIT_RANDOM, data, n, &ta, &sa, &ia) ||
            nplm_test_fitted_model(t, &fm) != NPLM_OK || nplm_model_get_params(fm, p, 13) ||
            nplm_model_set_params(start, p, 13) ||
            /* the test takes the start (NPLM_INIT_FROM_MODEL) from its model at creation */
            nplm_test_create(&tp, start, NULL) != NPLM_OK ||
            nplm_test_set_reference(tp, ref, BENCH1D_N_REF, 1, NULL, BENCH1D_N_EXPECTED) ||
            nplm_test_set_int(tp, NPLM_OPT_THREADS, threads) ||
            nplm_test_set_int(tp, NPLM_OPT_PATIENCE, 0) ||
            run(tp, NPLM_OPTIMIZER_LBFGSB, NPLM_INIT_FROM_MODEL, data, n, &tl, &sl, &il))
          return 1;
      } else if (run(t, NPLM_OPTIMIZER_LBFGSB, NPLM_INIT_RANDOM, data, n, &tl, &sl, &il)) {
        return 1;
      }
      nplm_test_free(tp);
      tp = NULL;
      printf("{\"toy\":%d,\"n_data\":%zu,\"clip\":%g,\"lr\":%g,\"epochs\":%ld,\"t_adam\":%.6f,"
             "\"adam_s\":%.2f,\"t_polished\":%.6f,\"polish_iterations\":%.0f,\"polish_s\":%.2f}\n",
             k, n, clip, lr, es[j], ta, sa, tl, il, sl);
      fflush(stdout);
    }
  }
  nplm_test_free(t);
  nplm_test_free(tp);
  nplm_model_free(m);
  nplm_model_free(start);
  free(ref);
  free(data);
  return 0;
}
