/* Philox4x32-10 (Salmon et al., SC11), written from the published round function. */
#include "core/rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  *hi = (uint32_t)(p >> 32);
  *lo = (uint32_t)p;
}

void nplm__philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    if (round > 0) {
      k0 += PHILOX_W0;
      k1 += PHILOX_W1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(PHILOX_M0, c0, &hi0, &lo0);
    mulhilo(PHILOX_M1, c2, &hi1, &lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

uint64_t nplm__rng_stream(unsigned purpose, uint64_t index) {
  return ((uint64_t)(purpose & 0xffu) << 56) | (index & 0x00ffffffffffffffull);
}

void nplm__rng_init(nplm__rng_t *r, uint64_t seed, uint64_t stream) {
  r->seed = seed;
  r->stream = stream;
  r->counter = 0;
  r->used = 4;
}

static void refill(nplm__rng_t *r) {
  uint32_t ctr[4] = {(uint32_t)r->counter, (uint32_t)(r->counter >> 32), (uint32_t)r->stream,
                     (uint32_t)(r->stream >> 32)};
  uint32_t key[2] = {(uint32_t)r->seed, (uint32_t)(r->seed >> 32)};
  nplm__philox4x32_10(ctr, key, r->buf);
  r->counter++;
  r->used = 0;
}

uint32_t nplm__rng_u32(nplm__rng_t *r) {
  if (r->used >= 4) refill(r);
  return r->buf[r->used++];
}

uint64_t nplm__rng_u64(nplm__rng_t *r) {
  uint64_t lo = nplm__rng_u32(r);
  uint64_t hi = nplm__rng_u32(r);
  return (hi << 32) | lo;
}

double nplm__rng_uniform(nplm__rng_t *r) {
  return (double)(nplm__rng_u64(r) >> 11) * 0x1.0p-53;
}
