/* Cost of systematics: ms per Adam epoch of the 1D workload (N_R 200000, N_D 2000, 1-4-1) without
 * nuisances and with a scale nuisance (known second-order coefficients) plus a normalisation.
 * Usage: bench_nuisance [threads] */
#include <stdio.h>
#include <stdlib.h>

#include "../examples/samples.h"
#include "nplm/nplm.h"

/* exact Taylor coefficients of a scale nuisance on Exp(1): delta_1 = x - 1, delta_2 = -x/2 */
static int oracle(void *u, unsigned k, const double *x, size_t n, size_t d, double *o) {
  (void)u;
  (void)d;
  for (size_t i = 0; i < n; i++) o[i] = k == 1 ? x[i] - 1 : -0.5 * x[i];
  return 0;
}
int main(int argc, char **argv) {
  int th = argc > 1 ? atoi(argv[1]) : 2;
  static double ref[200000], data[4000];
  sample_rng_t r = {1}; for (int i = 0; i < 200000; i++) ref[i] = sample_exponential(&r);
  for (int i = 0; i < 2000; i++) data[i] = sample_exponential(&r);
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *m; nplm_nuisance_t *nu; nplm_test_t *tp, *ts;
  if (nplm_model_create_mlp(&m, layers, 3, 9.0) || nplm_nuisance_create(&nu, 1) || nplm_nuisance_add_shape_known(nu, 0.05, 2, oracle, NULL, NULL) || nplm_nuisance_add_norm(nu, 0.025, NULL)) return 1;
  if (nplm_test_create(&tp, m, NULL) || nplm_test_create(&ts, m, nu)) return 1;
  nplm_test_t *tt[2] = {tp, ts};
  for (int rep = 0; rep < 3; rep++)
  for (int i = 0; i < 2; i++) {
    double v, s;
    if (nplm_test_set_reference(tt[i], ref, 200000, 1, NULL, 2000) || nplm_test_set_int(tt[i], NPLM_OPT_EPOCHS, 1000) || nplm_test_set_int(tt[i], NPLM_OPT_THREADS, th)) return 1;
    if (nplm_test_run(tt[i], data, 2000, 1, NULL, &v) || nplm_test_result(tt[i], NPLM_RESULT_SECONDS, &s)) { printf("%s\n", nplm_last_error()); return 1; }
    printf("{\"bench\":\"nuisance_epoch\",\"case\":\"1d\",\"nuisances\":%d,\"threads\":%d,\"ms_per_epoch\":%.4f}\n", i ? 2 : 0, th, s);
  }
  return 0;
}
