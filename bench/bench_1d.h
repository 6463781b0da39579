/* The 1D benchmark's samples shared by the bench programs: reference of N_REF Exp(1) events
 * (seed 1) and the comparison toys of compare_optimizers and lbfgsb_starts_1d (toy k:
 * Poisson(N_EXPECTED) Exp(1) events from seed 1000 + k, at most BENCH1D_MAX_DATA). */
#ifndef NPLM_BENCH_BENCH_1D_H
#define NPLM_BENCH_BENCH_1D_H

#include <stdint.h>
#include <stdlib.h>

#include "../examples/samples.h"
#include "nplm/nplm.h"

#define BENCH1D_N_REF 200000
#define BENCH1D_N_EXPECTED 2000.0
#define BENCH1D_MAX_DATA 4000

/* The reference sample (malloc'ed, BENCH1D_N_REF events), or NULL. */
static inline double *bench1d_reference(void) {
  double *ref = malloc(BENCH1D_N_REF * sizeof *ref);
  if (!ref) return NULL;
  sample_rng_t r = {1};
  for (size_t i = 0; i < BENCH1D_N_REF; i++) ref[i] = sample_exponential(&r);
  return ref;
}

/* Comparison toy k into data (BENCH1D_MAX_DATA doubles); returns its size. */
static inline size_t bench1d_compare_toy(int k, double *data) {
  sample_rng_t rt = {1000 + (uint64_t)k};
  size_t n = sample_poisson(&rt, BENCH1D_N_EXPECTED);
  if (n > BENCH1D_MAX_DATA) n = BENCH1D_MAX_DATA;
  for (size_t i = 0; i < n; i++) data[i] = sample_exponential(&rt);
  return n;
}

/* The 1-4-1 network at clip c and a test on the reference with the given threads. */
static inline nplm_status_t bench1d_test(const double *ref, double clip, int threads,
                                         nplm_model_t **m, nplm_test_t **t) {
  const size_t layers[] = {1, 4, 1};
  nplm_status_t s;
  *t = NULL;
  if ((s = nplm_model_create_mlp(m, layers, 3, clip)) || (s = nplm_test_create(t, *m, NULL)) ||
      (s = nplm_test_set_reference(*t, ref, BENCH1D_N_REF, 1, NULL, BENCH1D_N_EXPECTED)))
    return s;
  return nplm_test_set_int(*t, NPLM_OPT_THREADS, threads);
}

#endif
