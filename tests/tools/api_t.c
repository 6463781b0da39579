/* The t that the C API gives on two event files, with the nplm command's defaults (1-4-1 MLP,
 * clip 9, L-BFGS-B, seed 0): the CLI test compares it with `nplm run`. */
#include <stdio.h>
#include <stdlib.h>

#include "nplm/nplm.h"
#include "../../tools/table.h"

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  table_t ref, data;
  char err[600];
  if (table_read(argv[1], NULL, &ref, err, sizeof err) ||
      table_read(argv[2], NULL, &data, err, sizeof err)) {
    fprintf(stderr, "api_t: %s\n", err);
    return 1;
  }
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  double tv;
  nplm_status_t s;
  if ((s = nplm_model_create_mlp(&m, layers, 3, 9.0)) || (s = nplm_test_create(&t, m, NULL)) ||
      (s = nplm_test_set_reference(t, ref.x, ref.n, ref.d, NULL, atof(argv[3]))) ||
      (s = nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB)) ||
      (s = nplm_test_run(t, data.x, data.n, data.d, NULL, &tv))) {
    fprintf(stderr, "api_t: %s\n", nplm_last_error());
    return 1;
  }
  printf("%.17g\n", tv);
  nplm_test_free(t);
  nplm_model_free(m);
  table_free(&ref);
  table_free(&data);
  return 0;
}
