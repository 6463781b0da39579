/* Byte-level helpers for tests that craft library files by hand: little-endian writers, the
 * CRC-32 of the file formats (IEEE 802.3, reflected, as zlib) and a nuisance-file builder. */
#ifndef NPLM_TESTS_FILE_BYTES_H
#define NPLM_TESTS_FILE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t crc32_ieee(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

static inline void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void put_f64(unsigned char *p, double x) {
  uint64_t v;
  memcpy(&v, &x, 8);
  put_u64(p, v);
}
/* The CRC of every byte before the last four, stored in them. */
static inline void fix_crc(unsigned char *b, size_t n) {
  put_u32(b + n - 4, crc32_ieee(b, n - 4));
}

/* A nuisance file (format 1, see lib/nuisance/nuisance_io.c) with one learned shape nuisance
 * of the given network shape and order over d inputs, holding n_params doubles (0.01 each) of
 * parameters, whatever the shape needs: a valid checksum over whatever content. Returns the
 * file size, or 0 if it does not fit in cap bytes. */
static inline size_t craft_nuisance_file(unsigned char *b, size_t cap, uint64_t d,
                                         const uint64_t *units, uint32_t n_layers,
                                         uint32_t order, size_t n_params) {
  const size_t payload = 16 + 56 + 8 * (size_t)n_layers + 8 * n_params;
  const size_t n = 24 + payload + 4;
  if (n > cap) return 0;
  memcpy(b, "NPLMNUIS", 8);
  put_u32(b + 8, 1);
  put_u32(b + 12, 0);
  put_u64(b + 16, payload);
  unsigned char *p = b + 24;
  put_u64(p, d);
  put_u64(p + 8, 1);
  p += 16;
  put_u32(p, 3); /* learned shape */
  put_u32(p + 4, order);
  put_f64(p + 8, 0.1);  /* sigma */
  put_f64(p + 16, 0.0); /* nu0 */
  put_f64(p + 24, 1.0); /* scale */
  put_f64(p + 32, 0.0); /* losses */
  put_f64(p + 40, 0.0);
  put_u32(p + 48, 1); /* learned */
  put_u32(p + 52, n_layers);
  p += 56;
  for (uint32_t l = 0; l < n_layers; l++, p += 8) put_u64(p, units[l]);
  for (size_t q = 0; q < n_params; q++, p += 8) put_f64(p, 0.01);
  fix_crc(b, n);
  return n;
}

#endif
