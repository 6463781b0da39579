/* Kernel micro-benchmark: one loss+gradient pass over the 5D (51000 events, 5-5-5-5-1) and 1D
 * (202000 events, 1-4-1) workloads on one thread, per compiled instruction-set path.
 * Prints one JSON line per (workload, path). Usage: bench_kernels [--reps R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/samples.h"
#include "machine.h"
#include "core/core.h"
#include "kernels/mlp.h"

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void run(const char *name, const size_t *units, size_t nl, size_t n, int reps) {
  nplm__mlp_spec_t s;
  if (nplm__mlp_spec_init(&s, units, nl) != 0) return;
  const size_t d = units[0], nb = (n + NPLM__BLOCK - 1) / NPLM__BLOCK;
  double *x = calloc(nb * NPLM__BLOCK * d, sizeof *x), *ca = calloc(nb * NPLM__BLOCK, 8),
         *cb = calloc(nb * NPLM__BLOCK, 8), *p = calloc(s.n_params, 8),
         *g = calloc(s.n_params, 8), *work = calloc(nplm__mlp_work_size(&s), 8),
         *times = calloc((size_t)reps, 8);
  sample_rng_t r = {3};
  for (size_t i = 0; i < nb * NPLM__BLOCK * d; i++) x[i] = sample_normal(&r);
  for (size_t i = 0; i < n; i++) (i % 5 ? ca : cb)[i] = 0.2;
  for (size_t i = 0; i < s.n_params; i++) p[i] = 0.5 * sample_normal(&r);
  const char *paths[] = {"avx512", "avx2", "baseline"};
  for (int k = 0; k < 3; k++) {
    const nplm__mlp_kernels_t *kern = nplm__mlp_kernels_by_name(paths[k]);
    if (!kern) continue;
    int nrep = strcmp(paths[k], "baseline") == 0 ? 3 : reps;
    double checksum = 0;
    for (int rep = -1; rep < nrep; rep++) {
      double t0 = nplm__now(), loss, total = 0;
      for (size_t b = 0; b < nb; b++) {
        kern->loss(&s, p, x + b * d * NPLM__BLOCK, ca + b * NPLM__BLOCK, cb + b * NPLM__BLOCK,
                   NULL, work, &loss, g);
        total += loss + g[0];
      }
      if (rep >= 0) times[rep] = nplm__now() - t0;
      checksum = total;
    }
    qsort(times, (size_t)nrep, sizeof *times, cmp);
    double med = times[nrep / 2];
    printf("{\"bench\":\"kernel_loss_grad\",\"case\":\"%s\",\"path\":\"%s\",\"events\":%zu,"
           "\"threads\":1,\"reps\":%d,\"ms_per_pass_median\":%.4f,\"ns_per_event\":%.3f,"
           "\"checksum\":%.17g,\"cpu\":\"%s\"}\n",
           name, paths[k], n, nrep, 1e3 * med, 1e9 * med / (double)n, checksum, bench_cpu_model());
    fflush(stdout);
  }
  free(x), free(ca), free(cb), free(p), free(g), free(work), free(times);
}

int main(int argc, char **argv) {
  int reps = 21;
  if (argc == 3 && strcmp(argv[1], "--reps") == 0) reps = atoi(argv[2]);
  if (reps < 1) return 2;
  const size_t u5[] = {5, 5, 5, 5, 1}, u1[] = {1, 4, 1};
  run("5d", u5, 5, 51000, reps);
  run("1d", u1, 3, 202000, reps);
  return 0;
}
