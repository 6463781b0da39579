/* Sample generators for the NPLM benchmarks (1D exponential with signals, a 5D stand-in),
 * shared by the examples, the benchmarks and the tests. Self-contained: a splitmix64 stream,
 * so these programs need nothing but libnplm's public API. */
#ifndef NPLM_EXAMPLES_SAMPLES_H
#define NPLM_EXAMPLES_SAMPLES_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct sample_rng {
  uint64_t s;
} sample_rng_t;

static inline uint64_t sample_next(sample_rng_t *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double sample_uniform(sample_rng_t *r) {
  return ((double)(sample_next(r) >> 11) + 0.5) * 0x1.0p-53;
}

static inline double sample_exponential(sample_rng_t *r) { return -log(sample_uniform(r)); }

static inline double sample_normal(sample_rng_t *r) {
  double u = sample_uniform(r), v = sample_uniform(r);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Poisson(mu): inversion for small mu, normal approximation with continuity correction
 * rounding for large mu (adequate for toy sizes; not for precision work). */
static inline size_t sample_poisson(sample_rng_t *r, double mu) {
  if (mu <= 0) return 0;
  if (mu < 500) {
    double p = exp(-mu), c = p, u = sample_uniform(r);
    size_t k = 0;
    while (u > c && k < 100000) {
      k++;
      p *= mu / (double)k;
      c += p;
    }
    return k;
  }
  double x = floor(mu + sqrt(mu) * sample_normal(r) + 0.5);
  return x < 0 ? 0 : (size_t)x;
}

/* Gamma(3, 1): x^2 exp(-x) / 2, the non-resonant 1D signal. */
static inline double sample_gamma3(sample_rng_t *r) {
  return sample_exponential(r) + sample_exponential(r) + sample_exponential(r);
}

/* A 5D stand-in for the di-lepton inputs (pT1, pT2, eta1, eta2, dphi12): falling pT
 * spectra, central pseudo-rapidities, back-to-back azimuth. Writes 5 values. */
static inline void sample_5d(sample_rng_t *r, double *x) {
  double pt1 = 20.0 + 30.0 * sample_exponential(r);
  double pt2 = 20.0 + 0.6 * (pt1 - 20.0) * sample_uniform(r) + 10.0 * sample_exponential(r);
  x[0] = pt1 / 100.0;
  x[1] = pt2 / 100.0;
  x[2] = 1.2 * sample_normal(r);
  x[3] = 1.2 * sample_normal(r);
  x[4] = 3.141592653589793 - fabs(0.4 * sample_normal(r));
}

#endif
