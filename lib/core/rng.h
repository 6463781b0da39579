/* Counter-based random streams: Philox4x32-10 keyed by the seed, counted by (stream, draw).
 * Stream stability policy: the same (seed, stream) gives the same numbers in every release
 * unless CHANGELOG.md says otherwise. */
#ifndef NPLM_CORE_RNG_H
#define NPLM_CORE_RNG_H

#include <stdint.h>

/* Purposes occupy the top 8 bits of a stream index. */
enum nplm__rng_purpose {
  NPLM__RNG_INIT = 1,   /* network initialisation */
  NPLM__RNG_TOY = 2,    /* toy generation */
  NPLM__RNG_CENTERS = 3, /* Nystrom centres */
  NPLM__RNG_HEURISTIC = 4, /* subsamples of helper calls (kernel width) */
  NPLM__RNG_PIVOTS = 5,    /* pivot candidates of the low-rank factor of K_MM */
  NPLM__RNG_AUX = 6        /* auxiliary measurements of toys (NPLM_TOY_AUX_DRAW) */
};

typedef struct nplm__rng {
  uint64_t seed;
  uint64_t stream;
  uint64_t counter; /* next 128-bit block index */
  uint32_t buf[4];
  unsigned used; /* words of buf already consumed (4: empty) */
} nplm__rng_t;

/* One Philox4x32-10 block: out = philox(ctr, key). */
void nplm__philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Stream index from a purpose and a 56-bit index. */
uint64_t nplm__rng_stream(unsigned purpose, uint64_t index);
void nplm__rng_init(nplm__rng_t *r, uint64_t seed, uint64_t stream);
uint32_t nplm__rng_u32(nplm__rng_t *r);
uint64_t nplm__rng_u64(nplm__rng_t *r);
/* Uniform in [0, 1) with 53 random bits. */
double nplm__rng_uniform(nplm__rng_t *r);

#endif
