/* Byte helpers shared by the model and nuisance files. */
#include <stdio.h>

#include "core/bytes.h"

uint32_t nplm__crc32(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

nplm_status_t nplm__read_file(const char *fn, const char *path, size_t max_bytes,
                              unsigned char **out, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return nplm__fail(NPLM_EIO, "%s: cannot open '%s'", fn, path);
  size_t cap = 4096, n = 0;
  unsigned char *buf = nplm__malloc(cap);
  if (!buf) {
    fclose(f);
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  }
  for (;;) {
    if (n == cap) {
      if (cap >= max_bytes) {
        nplm__free(buf);
        fclose(f);
        return nplm__fail(NPLM_EFORMAT, "%s: '%s' is too large", fn, path);
      }
      unsigned char *nb = nplm__malloc(cap * 2);
      if (!nb) {
        nplm__free(buf);
        fclose(f);
        return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
      }
      memcpy(nb, buf, n);
      nplm__free(buf);
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    nplm__free(buf);
    return nplm__fail(NPLM_EIO, "%s: cannot read '%s'", fn, path);
  }
  *out = buf;
  *size = n;
  return NPLM_OK;
}

nplm_status_t nplm__write_file(const char *fn, const char *path, const unsigned char *buf,
                               size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return nplm__fail(NPLM_EIO, "%s: cannot open '%s' for writing", fn, path);
  size_t wrote = fwrite(buf, 1, n, f);
  int closed = fclose(f);
  if (wrote != n || closed != 0) return nplm__fail(NPLM_EIO, "%s: cannot write '%s'", fn, path);
  return NPLM_OK;
}

nplm_status_t nplm__read_framed(const char *fn, const char *path, const char *magic,
                                uint32_t version, const char *what, unsigned char **out,
                                size_t *size) {
  unsigned char *buf = NULL;
  size_t n = 0;
  nplm_status_t s = nplm__read_file(fn, path, NPLM__MAX_FILE_BYTES, &buf, &n);
  if (s != NPLM_OK) return s;
  if (n < NPLM__FRAME_HEADER + 4 || memcmp(buf, magic, 8) != 0)
    s = nplm__fail(NPLM_EFORMAT, "%s: '%s' is not a libnplm %s file", fn, path, what);
  else if (nplm__get_u32(buf + 8) != version)
    s = nplm__fail(NPLM_EFORMAT, "%s: '%s' has format version %u; this library reads %u", fn,
                   path, nplm__get_u32(buf + 8), version);
  else if (nplm__get_u64(buf + 16) != n - NPLM__FRAME_HEADER - 4)
    s = nplm__fail(NPLM_EFORMAT, "%s: '%s' is truncated or has trailing bytes", fn, path);
  else if (nplm__get_u32(buf + n - 4) != nplm__crc32(buf, n - 4))
    s = nplm__fail(NPLM_EFORMAT, "%s: '%s' fails its checksum (corrupt file)", fn, path);
  if (s != NPLM_OK) {
    nplm__free(buf);
    return s;
  }
  *out = buf;
  *size = n;
  return NPLM_OK;
}
