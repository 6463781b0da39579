/* How much t depends on the starting point: L-BFGS-B from several Glorot starts on the toys of
 * compare_optimizers (reference Exp(1), 200000 events, seed 1; toy k: Poisson(2000) Exp(1)
 * events from seed 1000 + k; 1-4-1 network). Start 0 is the start compare_optimizers uses
 * (NPLM_OPT_SEED = k, the start of its Adam run); start s > 0 uses seed 100000 + 16 k + s.
 * Prints one JSON line per toy: t, seconds, iterations, evaluations and status per start.
 * Usage: lbfgsb_starts_1d [--toys K] [--first k0] [--starts S] [--threads N] [--clip C]
 *                         [--memory M]   (NPLM_OPT_LBFGS_MEMORY; 0, the default: dense)
 *                         [--tolerance F] (NPLM_OPT_TOLERANCE; default: the library's) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_1d.h"
#include "nplm/nplm.h"

#define MAX_STARTS 64

int main(int argc, char **argv) {
  int toys = 4, first = 0, starts = 10, threads = 1, memory = 0;
  double clip = 9.0, tol = -1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--toys") == 0) toys = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--first") == 0) first = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--starts") == 0) starts = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--clip") == 0) clip = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--memory") == 0) memory = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--tolerance") == 0) tol = atof(argv[i + 1]);
    else return 2;
  }
  if (starts < 1 || starts > MAX_STARTS || toys < 1 || first < 0) return 2;
  double *ref = bench1d_reference(), *data = malloc(BENCH1D_MAX_DATA * sizeof *data);
  if (!ref || !data) return 1;
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  if (bench1d_test(ref, clip, threads, &m, &t) != NPLM_OK ||
      nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB) ||
      nplm_test_set_int(t, NPLM_OPT_LBFGS_MEMORY, memory) ||
      nplm_test_set_int(t, NPLM_OPT_PATIENCE, 0) ||
      (tol >= 0.0 && nplm_test_set_double(t, NPLM_OPT_TOLERANCE, tol))) {
    fprintf(stderr, "lbfgsb_starts_1d: %s\n", nplm_last_error());
    return 1;
  }
  for (int k = first; k < first + toys; k++) {
    size_t n = bench1d_compare_toy(k, data);
    double tv[MAX_STARTS], sec[MAX_STARTS], it[MAX_STARTS], ev[MAX_STARTS];
    int st[MAX_STARTS];
    for (int s = 0; s < starts; s++) {
      if (nplm_test_set_int(t, NPLM_OPT_SEED, s == 0 ? k : 100000 + 16 * k + s) != NPLM_OK)
        return 1;
      st[s] = (int)nplm_test_run(t, data, n, 1, NULL, &tv[s]);
      if (st[s] != NPLM_OK && st[s] != NPLM_ENOCONV) {
        fprintf(stderr, "lbfgsb_starts_1d: %s\n", nplm_test_last_error(t));
        return 1;
      }
      if (nplm_test_result(t, NPLM_RESULT_SECONDS, &sec[s]) ||
          nplm_test_result(t, NPLM_RESULT_ITERATIONS, &it[s]) ||
          nplm_test_result(t, NPLM_RESULT_EVALUATIONS, &ev[s]))
        return 1;
    }
    double tol_used = 0.0;
    if (nplm_test_get_option(t, NPLM_OPT_TOLERANCE, &tol_used) != NPLM_OK) return 1;
    printf("{\"toy\":%d,\"n_data\":%zu,\"clip\":%g,\"threads\":%d,\"memory\":%d,"
           "\"tolerance\":%g,\"t\":[",
           k, n, clip, threads, memory, tol_used);
    for (int s = 0; s < starts; s++) printf("%s%.6f", s ? "," : "", tv[s]);
    printf("],\"seconds\":[");
    for (int s = 0; s < starts; s++) printf("%s%.2f", s ? "," : "", sec[s]);
    printf("],\"iterations\":[");
    for (int s = 0; s < starts; s++) printf("%s%.0f", s ? "," : "", it[s]);
    printf("],\"evaluations\":[");
    for (int s = 0; s < starts; s++) printf("%s%.0f", s ? "," : "", ev[s]);
    printf("],\"status\":[");
    for (int s = 0; s < starts; s++) printf("%s%d", s ? "," : "", st[s]);
    printf("]}\n");
    fflush(stdout);
  }
  nplm_test_free(t);
  nplm_model_free(m);
  free(ref);
  free(data);
  return 0;
}
