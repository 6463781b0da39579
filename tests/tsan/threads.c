/* The threaded paths without Criterion (whose fork arena does not run under ThreadSanitizer):
 * a fit over event blocks and a calibration over toys on 2 threads, each compared bit for bit
 * with 1 thread. Built in every configuration; scripts/test also runs it in a TSan build. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nplm/nplm.h"

static double ref[20000], pool[40000];

static double expo(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return -log(((double)(*s >> 11) + 0.5) * 0x1.0p-53);
}

static int check(nplm_status_t s, const char *what) {
  if (s == NPLM_OK || s == NPLM_ENOCONV) return 0;
  fprintf(stderr, "threads: %s: %s\n", what, nplm_last_error());
  return 1;
}

int main(void) {
  uint64_t seed = 1;
  for (int i = 0; i < 20000; i++) ref[i] = expo(&seed);
  for (int i = 0; i < 40000; i++) pool[i] = expo(&seed);
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  int failed = 0;
  if (check(nplm_model_create_mlp(&m, layers, 3, 5.0), "model") ||
      check(nplm_test_create(&t, m, NULL), "test") ||
      check(nplm_test_set_reference(t, ref, 20000, 1, NULL, 300.0), "reference") ||
      check(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), "option") ||
      check(nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 60), "option"))
    return 1;
  double tn[2][6], tv[2][2];
  for (int threads = 1; threads <= 2; threads++) {
    if (check(nplm_test_set_int(t, NPLM_OPT_THREADS, threads), "threads") ||
        check(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), "option") ||
        check(nplm_test_calibrate(t, pool, 40000, 1, NULL, 6, 3, tn[threads - 1]), "calibrate") ||
        check(nplm_test_run(t, pool, 300, 1, NULL, &tv[threads - 1][0]), "run") ||
        check(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_ADAM), "option") ||
        check(nplm_test_set_int(t, NPLM_OPT_EPOCHS, 100), "option") ||
        check(nplm_test_run(t, pool, 300, 1, NULL, &tv[threads - 1][1]), "adam"))
      return 1;
  }
  if (memcmp(tn[0], tn[1], sizeof tn[0]) != 0) {
    fprintf(stderr, "threads: calibration differs between 1 and 2 threads\n");
    failed++;
  }
  if (memcmp(tv[0], tv[1], sizeof tv[0]) != 0) {
    fprintf(stderr, "threads: fits differ between 1 and 2 threads\n");
    failed++;
  }
  nplm_test_free(t);
  nplm_model_free(m);
  printf("%d passed, %d failed\n", 2 - failed, failed);
  return failed ? 1 : 0;
}
