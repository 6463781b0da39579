/* Toy data sets: Poisson-distributed sizes, events drawn from a pool (uniformly or by weight),
 * every draw from the counter-based stream (seed, (toy, index)). */
#include <math.h>

#include "core/rng.h"
#include "stats/stats_internal.h"
#include "test/toys.h"

/* Poisson(mu): inversion by sequential search for mu < 10; for larger mu Hoermann's PTRS
 * (transformed rejection with squeeze, 1993), exact. */
uint64_t nplm__poisson(nplm__rng_t *r, double mu) {
  if (!(mu > 0.0)) return 0;
  if (mu < 10.0) {
    double u = nplm__rng_uniform(r), p = exp(-mu), cdf = p;
    uint64_t k = 0;
    while (u > cdf && k < 1000) {
      k++;
      p *= mu / (double)k;
      cdf += p;
    }
    return k;
  }
  const double slam = sqrt(mu), loglam = log(mu);
  const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    double u = nplm__rng_uniform(r) - 0.5, v = nplm__rng_uniform(r);
    double us = 0.5 - fabs(u);
    double k = floor((2.0 * a / us + b) * u + mu + 0.43);
    /* k >= 2^63 would be rejected by the exact test below; skipping it keeps the cast defined. */
    if (k < 0.0 || k >= 0x1p63) continue;
    if (us >= 0.07 && v <= vr) return (uint64_t)k;
    if (us < 0.013 && v > us) continue;
    if (log(v) + log(invalpha) - log(a / (us * us) + b) <=
        -mu + k * loglam - nplm__lgamma_pos(k + 1.0))
      return (uint64_t)k;
  }
}

/* Index of the first cumulative weight above u * total (binary search). */
static size_t weighted_index(const double *cum, size_t n, double target) {
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cum[mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

nplm_status_t nplm__toy_draw(const nplm__toy_pool_t *pool, uint64_t seed, uint64_t toy,
                             double mu, double **x_out, size_t *n_out) {
  nplm__rng_t r;
  nplm__rng_init(&r, seed, nplm__rng_stream(NPLM__RNG_TOY, toy));
  uint64_t n = nplm__poisson(&r, mu);
  size_t count = 1;
  if (n > SIZE_MAX || (n && nplm__mul_size((size_t)n, pool->d, &count)))
    return nplm__fail(NPLM_ENOMEM, "toy %llu: %llu events of dimension %zu do not fit in memory",
                      (unsigned long long)toy, (unsigned long long)n, pool->d);
  double *x = nplm__malloc_array(count, sizeof *x);
  if (!x) return nplm__fail(NPLM_ENOMEM, "toy %llu: out of memory", (unsigned long long)toy);
  for (uint64_t i = 0; i < n; i++) {
    size_t k;
    if (pool->cum) {
      k = weighted_index(pool->cum, pool->n, nplm__rng_uniform(&r) * pool->cum[pool->n - 1]);
    } else {
      k = (size_t)(nplm__rng_uniform(&r) * (double)pool->n);
      if (k >= pool->n) k = pool->n - 1;
    }
    for (size_t j = 0; j < pool->d; j++) x[i * pool->d + j] = pool->x[k * pool->d + j];
  }
  *x_out = x;
  *n_out = (size_t)n;
  return NPLM_OK;
}
