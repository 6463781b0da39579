/* Little-endian byte encoding, CRC-32 and whole-file reads/writes for the library's files. */
#ifndef NPLM_CORE_BYTES_H
#define NPLM_CORE_BYTES_H

#include <stdint.h>
#include <string.h>

#include "core/core.h"

/* CRC-32 (IEEE 802.3, reflected, init and final xor 0xffffffff). */
uint32_t nplm__crc32(const unsigned char *p, size_t n);

static inline void nplm__put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void nplm__put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void nplm__put_f64(unsigned char *p, double x) {
  uint64_t v;
  memcpy(&v, &x, 8);
  nplm__put_u64(p, v);
}
static inline uint32_t nplm__get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static inline uint64_t nplm__get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static inline double nplm__get_f64(const unsigned char *p) {
  uint64_t v = nplm__get_u64(p);
  double x;
  memcpy(&x, &v, 8);
  return x;
}

/* The files of the library: 8-byte magic | u32 format version | u32 kind | u64 payload bytes |
 * payload | u32 CRC-32 of every preceding byte. */
#define NPLM__FRAME_HEADER 24u
/* Read such a file and check magic, version, size and checksum (EFORMAT naming `what`). */
nplm_status_t nplm__read_framed(const char *fn, const char *path, const char *magic,
                                uint32_t version, const char *what, unsigned char **out,
                                size_t *size);
/* Write n bytes to path (replacing it). */
nplm_status_t nplm__write_file(const char *fn, const char *path, const unsigned char *buf,
                               size_t n);

#endif
