/* Null toys of the 1D benchmark, one shard: reference Exp(1), N_R = 200000 (seed 1), null pool
 * of 1000000 Exp(1) events (seed 2), N(R0) = 2000, 1-4-1 network, as in tune_clip_1d (same
 * seed, same toys). Prints one JSON line per toy, so that shards run one after another (or on
 * several machines) can be concatenated into one calibration.
 * Usage: null_1d [--optimizer lbfgsb|adam|adam-lbfgsb] [--clip C] [--first K] [--toys N] [--epochs E]
 *                [--seed S] [--threads T] [--starts K] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/samples.h"
#include "nplm/nplm.h"

int main(int argc, char **argv) {
  int optimizer = NPLM_OPTIMIZER_ADAM, threads = 0, starts = 1;
  size_t toys = 2;
  long epochs = 300000, first = 0;
  double clip = 9.0;
  unsigned long long seed = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--optimizer") == 0)
      optimizer = strcmp(v, "adam") == 0          ? NPLM_OPTIMIZER_ADAM
                  : strcmp(v, "adam-lbfgsb") == 0 ? NPLM_OPTIMIZER_ADAM_LBFGSB
                                                  : NPLM_OPTIMIZER_LBFGSB;
    else if (strcmp(k, "--clip") == 0) clip = atof(v);
    else if (strcmp(k, "--first") == 0) first = atol(v);
    else if (strcmp(k, "--toys") == 0) toys = (size_t)atol(v);
    else if (strcmp(k, "--epochs") == 0) epochs = atol(v);
    else if (strcmp(k, "--seed") == 0) seed = strtoull(v, NULL, 10);
    else if (strcmp(k, "--threads") == 0) threads = atoi(v);
    else if (strcmp(k, "--starts") == 0) starts = atoi(v);
    else {
      fprintf(stderr, "null_1d: unknown flag %s\n", k);
      return 2;
    }
  }
  enum { N_REF = 200000, N_POOL = 1000000 };
  double *ref = malloc(N_REF * sizeof *ref), *pool = malloc(N_POOL * sizeof *pool);
  double *t_null = malloc((toys ? toys : 1) * sizeof *t_null);
  if (!ref || !pool || !t_null) return 1;
  sample_rng_t r1 = {1}, r2 = {2};
  for (int i = 0; i < N_REF; i++) ref[i] = sample_exponential(&r1);
  for (int i = 0; i < N_POOL; i++) pool[i] = sample_exponential(&r2);
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  nplm_status_t s;
  if ((s = nplm_model_create_mlp(&m, layers, 3, clip)) || (s = nplm_test_create(&t, m, NULL)) ||
      (s = nplm_test_set_reference(t, ref, N_REF, 1, NULL, 2000.0)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, optimizer)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_EPOCHS, epochs)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_PATIENCE, 0)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_TOY_OFFSET, first)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_THREADS, threads)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_STARTS, starts))) {
    fprintf(stderr, "null_1d: %s\n", nplm_last_error());
    return 1;
  }
  s = nplm_test_calibrate(t, pool, N_POOL, 1, NULL, toys, seed, t_null);
  if (s != NPLM_OK) {
    fprintf(stderr, "null_1d: %s\n", nplm_test_last_error(t));
    return 1;
  }
  for (size_t k = 0; k < toys; k++)
    printf("{\"toy\":%ld,\"t\":%.6f,\"optimizer\":\"%s\",\"clip\":%g,\"epochs\":%ld,"
           "\"seed\":%llu,\"starts\":%d}\n",
           first + (long)k, t_null[k],
           optimizer == NPLM_OPTIMIZER_ADAM          ? "adam"
           : optimizer == NPLM_OPTIMIZER_ADAM_LBFGSB ? "adam-lbfgsb"
                                                     : "lbfgsb",
           clip,
           epochs, seed, starts);
  nplm_test_free(t);
  nplm_model_free(m);
  free(ref);
  free(pool);
  free(t_null);
  return 0;
}
