/* Weight-clip tuning on the 1D benchmark: reference Exp(1), N_R = 200000 (seed 1), null pool
 * of 1000000 Exp(1) events (seed 2, disjoint), N(R0) = 2000, 1-4-1 network. Prints one JSON
 * line per step and a final line with the chosen clip.
 * Usage: tune_clip_1d [--optimizer lbfgsb|adam] [--toys N] [--steps K] [--epochs E]
 *                     [--lo C] [--hi C] [--seed S] [--threads T] [--patience P]
 * Each step's line carries the toys' t values ("t") and, with --patience P > 0, the 16/50/84%
 * quantiles of t every P epochs ("q_vs_epoch"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/samples.h"
#include "nplm/nplm.h"

static int print_step(void *user, const nplm_clip_step_t *s) {
  (void)user;
  printf("{\"step\":%lld,\"clip\":%.6g,\"n_toys\":%lld,\"median\":%.4f,\"mean\":%.4f,"
         "\"q16\":%.4f,\"q84\":%.4f,\"ks_p\":%.4g,\"target_median\":%.4f,\"target_q16\":%.4f,"
         "\"target_q84\":%.4f",
         (long long)s->step, s->clip, (long long)s->n_toys, s->median, s->mean, s->q16, s->q84,
         s->ks_p, s->target_median, s->target_q16, s->target_q84);
  printf(",\"t\":[");
  for (int64_t i = 0; i < s->n_toys; i++) printf("%s%.17g", i ? "," : "", s->t_null[i]);
  printf("],\"checkpoint_every\":%lld,\"q_vs_epoch\":[", (long long)s->checkpoint_every);
  for (int64_t i = 0; i < s->n_checkpoints; i++)
    printf("%s[%.4f,%.4f,%.4f]", i ? "," : "", s->quantiles_vs_epoch[3 * i],
           s->quantiles_vs_epoch[3 * i + 1], s->quantiles_vs_epoch[3 * i + 2]);
  printf("]}\n");
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  int optimizer = NPLM_OPTIMIZER_LBFGSB, steps = 8, threads = 0;
  long patience = 0;
  size_t toys = 60;
  long epochs = 300000;
  double lo = 1.0, hi = 9.0;
  unsigned long long seed = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--optimizer") == 0)
      optimizer = strcmp(v, "adam") == 0 ? NPLM_OPTIMIZER_ADAM : NPLM_OPTIMIZER_LBFGSB;
    else if (strcmp(k, "--toys") == 0) toys = (size_t)atol(v);
    else if (strcmp(k, "--steps") == 0) steps = atoi(v);
    else if (strcmp(k, "--epochs") == 0) epochs = atol(v);
    else if (strcmp(k, "--lo") == 0) lo = atof(v);
    else if (strcmp(k, "--hi") == 0) hi = atof(v);
    else if (strcmp(k, "--seed") == 0) seed = strtoull(v, NULL, 10);
    else if (strcmp(k, "--threads") == 0) threads = atoi(v);
    else if (strcmp(k, "--patience") == 0) patience = atol(v);
    else return 2;
  }
  enum { N_REF = 200000, N_POOL = 1000000 };
  double *ref = malloc(N_REF * sizeof *ref), *pool = malloc(N_POOL * sizeof *pool);
  if (!ref || !pool) return 1;
  sample_rng_t r1 = {1}, r2 = {2};
  for (int i = 0; i < N_REF; i++) ref[i] = sample_exponential(&r1);
  for (int i = 0; i < N_POOL; i++) pool[i] = sample_exponential(&r2);
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  double c = 0;
  nplm_status_t s;
  if ((s = nplm_model_create_mlp(&m, layers, 3, 9.0)) || (s = nplm_test_create(&t, m, NULL)) ||
      (s = nplm_test_set_reference(t, ref, N_REF, 1, NULL, 2000.0)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, optimizer)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_EPOCHS, epochs)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_PATIENCE, patience)) ||
      (s = nplm_test_set_int(t, NPLM_OPT_THREADS, threads))) {
    fprintf(stderr, "tune_clip_1d: %s\n", nplm_last_error());
    return 1;
  }
  s = nplm_test_tune_clip(t, pool, N_POOL, 1, NULL, toys, seed, lo, hi, steps, print_step, NULL, &c);
  if (s != NPLM_OK) {
    fprintf(stderr, "tune_clip_1d: %s\n", nplm_test_last_error(t));
    return 1;
  }
  printf("{\"chosen_clip\":%.6g,\"optimizer\":\"%s\",\"toys\":%zu,\"seed\":%llu}\n", c,
         optimizer == NPLM_OPTIMIZER_ADAM ? "adam" : "lbfgsb", toys, seed);
  nplm_test_free(t);
  nplm_model_free(m);
  free(ref);
  free(pool);
  return 0;
}
