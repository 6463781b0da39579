/* Byte helpers shared by the model and nuisance files. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/bytes.h"

uint32_t nplm__crc32(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

/* Read what is left of f into buf[*n ...], growing buf (capacity *cap) by doubling but never
 * beyond limit bytes, until end of file; *excess is set if the stream holds more than limit. */
static nplm_status_t read_rest(const char *fn, FILE *f, size_t limit, unsigned char **buf,
                               size_t *cap, size_t *n, int *excess) {
  *excess = 0;
  for (;;) {
    if (*n == *cap) {
      if (*n >= limit) {
        *excess = fgetc(f) != EOF;
        return NPLM_OK;
      }
      const size_t want = *cap > limit / 2 ? limit : 2 * *cap;
      unsigned char *nb = nplm__malloc(want);
      if (!nb) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
      memcpy(nb, *buf, *n);
      nplm__free(*buf);
      *buf = nb;
      *cap = want;
    }
    const size_t got = fread(*buf + *n, 1, *cap - *n, f);
    *n += got;
    if (got == 0) return NPLM_OK;
  }
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

/* The frame's own size field says how large the file is: the whole file is read into one
 * buffer of exactly that size (no limit but memory). The field is checked against the file's
 * size before that buffer is allocated where the file can be sized (a regular file), so a
 * damaged field costs no allocation; other streams are read in doubling chunks up to it. */
nplm_status_t nplm__read_framed(const char *fn, const char *path, const char *magic,
                                uint32_t version, const char *what, unsigned char **out,
                                size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return nplm__fail(NPLM_EIO, "%s: cannot open '%s'", fn, path);
  unsigned char head[NPLM__FRAME_HEADER];
  const size_t got = fread(head, 1, sizeof head, f);
  nplm_status_t s = NPLM_OK;
  uint64_t payload = 0;
  if (ferror(f))
    s = nplm__fail(NPLM_EIO, "%s: cannot read '%s'", fn, path);
  else if (got < sizeof head || memcmp(head, magic, 8) != 0)
    s = nplm__fail(NPLM_EFORMAT, "%s: '%s' is not a libnplm %s file", fn, path, what);
  else if (nplm__get_u32(head + 8) != version)
    s = nplm__fail(NPLM_EFORMAT, "%s: '%s' has format version %u; this library reads %u", fn,
                   path, nplm__get_u32(head + 8), version);
  else if ((payload = nplm__get_u64(head + 16)) > SIZE_MAX - NPLM__FRAME_HEADER - 4)
    s = nplm__fail(NPLM_EFORMAT, "%s: '%s' is truncated or has trailing bytes", fn, path);
  if (s != NPLM_OK) {
    fclose(f);
    return s;
  }
  const size_t total = NPLM__FRAME_HEADER + (size_t)payload + 4;
  struct stat st;
  const int sized = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
  if (sized && (uint64_t)st.st_size != (uint64_t)total) {
    fclose(f);
    return nplm__fail(NPLM_EFORMAT, "%s: '%s' is truncated or has trailing bytes", fn, path);
  }
  size_t cap = sized ? total : (total < 65536 ? total : 65536), n = sizeof head;
  unsigned char *buf = nplm__malloc(cap);
  if (!buf) {
    fclose(f);
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  }
  memcpy(buf, head, sizeof head);
  int excess = 0;
  s = read_rest(fn, f, total, &buf, &cap, &n, &excess);
  const int err = ferror(f);
  fclose(f);
  if (s == NPLM_OK && err) s = nplm__fail(NPLM_EIO, "%s: cannot read '%s'", fn, path);
  else if (s == NPLM_OK && (n != total || excess))
    s = nplm__fail(NPLM_EFORMAT, "%s: '%s' is truncated or has trailing bytes", fn, path);
  else if (s == NPLM_OK && nplm__get_u32(buf + n - 4) != nplm__crc32(buf, n - 4))
    s = nplm__fail(NPLM_EFORMAT, "%s: '%s' fails its checksum (corrupt file)", fn, path);
  if (s != NPLM_OK) {
    nplm__free(buf);
    return s;
  }
  *out = buf;
  *size = n;
  return NPLM_OK;
}
