/* The smallest libnplm program: a 1D test on a tiny sample, built with
 *   cc hello.c $(pkg-config --cflags --libs nplm) -lm */
#include <math.h>
#include <nplm/nplm.h>
#include <stdio.h>

int main(void) {
  double ref[2000], data[230];
  for (int i = 0; i < 2000; i++) ref[i] = -log((i + 0.5) / 2000.0);        /* Exp(1) quantiles */
  for (int i = 0; i < 200; i++) data[i] = -log((i + 0.5) / 200.0);
  for (int i = 200; i < 230; i++) data[i] = 3.0 + 0.01 * (i - 200);          /* an excess at 3 */
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *family = NULL;
  nplm_test_t *test = NULL;
  double t = 0;
  nplm_status_t s = nplm_model_create_mlp(&family, layers, 3, 9.0);
  if (s == NPLM_OK) s = nplm_test_create(&test, family, NULL);
  if (s == NPLM_OK) s = nplm_test_set_reference(test, ref, 2000, 1, NULL, 200.0);
  if (s == NPLM_OK) s = nplm_test_set_int(test, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB);
  if (s == NPLM_OK) s = nplm_test_run(test, data, 230, 1, NULL, &t);
  if (s != NPLM_OK) {
    fprintf(stderr, "hello: %s: %s\n", nplm_strerror(s), nplm_last_error());
    return 1;
  }
  double p = nplm_chi2_sf(t, (double)nplm_model_num_params(family));
  printf("libnplm %s: t = %.3f, p = %.3g, Z = %.2f\n", nplm_version_string(), t, p,
         nplm_z_from_p(p));
  nplm_test_free(test);
  nplm_model_free(family);
  return t > 0 ? 0 : 1;
}
