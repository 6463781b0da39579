/* Event tables: .npy and CSV readers, .npy writer (see table.h). */
#include "table.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS 4096
#define MAX_FILE ((size_t)1 << 36) /* 64 GiB */

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

void table_free(table_t *t) {
  if (!t) return;
  free(t->x);
  if (t->names)
    for (size_t j = 0; j < t->d; j++) free(t->names[j]);
  free(t->names);
  memset(t, 0, sizeof *t);
}

/* ---- .npy ---- */

/* Find 'key' in the header dictionary and return a pointer just after its ':' (or NULL). */
static const char *dict_value(const char *h, size_t len, const char *key) {
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl + 2 <= len; i++) {
    if ((h[i] == '\'' || h[i] == '"') && memcmp(h + i + 1, key, kl) == 0 &&
        h[i + 1 + kl] == h[i]) {
      size_t j = i + kl + 2;
      while (j < len && isspace((unsigned char)h[j])) j++;
      if (j < len && h[j] == ':') {
        j++;
        while (j < len && isspace((unsigned char)h[j])) j++;
        return j < len ? h + j : NULL;
      }
    }
  }
  return NULL;
}

int table_parse_npy(const unsigned char *buf, size_t size, table_t *out, char *err,
                    size_t errlen) {
  memset(out, 0, sizeof *out);
  if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
    return fail(err, errlen, "not a .npy file (bad magic)");
  unsigned major = buf[6];
  size_t hlen, hoff;
  if (major == 1) {
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    hoff = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return fail(err, errlen, "truncated .npy header");
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    hoff = 12;
  } else {
    return fail(err, errlen, ".npy format version %u is not supported (1, 2 or 3)", major);
  }
  if (hlen > size - hoff) return fail(err, errlen, "truncated .npy header");
  const char *h = (const char *)buf + hoff;
  const char *descr = dict_value(h, hlen, "descr");
  const char *fo = dict_value(h, hlen, "fortran_order");
  const char *shape = dict_value(h, hlen, "shape");
  if (!descr || !fo || !shape) return fail(err, errlen, ".npy header lacks descr/fortran_order/shape");
  const char *hend = h + hlen;
  /* descr: '<f8', '>f8', '<f4', '>f4' (also '=' and '|' for native little-endian here) */
  if (hend - descr < 5 || (descr[0] != '\'' && descr[0] != '"'))
    return fail(err, errlen, ".npy descr is not a simple type string");
  char order = descr[1], kind = descr[2], width = descr[3];
  if (descr[4] != descr[0] || kind != 'f' || (width != '8' && width != '4')) {
    char got[7] = {0}; /* the header is not NUL-terminated: copy what is there */
    for (int i = 0; i < 6 && descr + i < hend; i++)
      got[i] = (char)(isprint((unsigned char)descr[i]) ? descr[i] : '?');
    return fail(err, errlen, ".npy dtype must be float64 or float32 (got %s)", got);
  }
  int big = order == '>';
  if (order != '<' && order != '>' && order != '=' && order != '|')
    return fail(err, errlen, ".npy descr has an unknown byte order");
  int fortran;
  if (hend - fo >= 4 && memcmp(fo, "True", 4) == 0) fortran = 1;
  else if (hend - fo >= 5 && memcmp(fo, "False", 5) == 0) fortran = 0;
  else return fail(err, errlen, ".npy fortran_order is neither True nor False");
  if (*shape != '(') return fail(err, errlen, ".npy shape is not a tuple");
  uint64_t dims[3];
  int nd = 0;
  const char *p = shape + 1;
  for (;;) {
    while (p < hend && isspace((unsigned char)*p)) p++;
    if (p >= hend) return fail(err, errlen, ".npy shape is not closed");
    if (*p == ')') break;
    if (!isdigit((unsigned char)*p)) return fail(err, errlen, ".npy shape has a non-integer");
    uint64_t v = 0;
    while (p < hend && isdigit((unsigned char)*p)) {
      if (v > (UINT64_MAX - 9) / 10) return fail(err, errlen, ".npy shape overflows");
      v = v * 10 + (uint64_t)(*p++ - '0');
    }
    if (nd == 3) return fail(err, errlen, ".npy arrays of more than 2 dimensions are not events");
    dims[nd++] = v;
    while (p < hend && isspace((unsigned char)*p)) p++;
    if (p < hend && *p == ',') p++;
  }
  if (nd == 0 || nd > 2) return fail(err, errlen, ".npy array must be 1-D or 2-D (n or n x d)");
  uint64_t n = dims[0], d = nd == 2 ? dims[1] : 1;
  if (d == 0 || d > MAX_COLUMNS) return fail(err, errlen, ".npy: %llu columns is outside [1, %d]",
                                            (unsigned long long)d, MAX_COLUMNS);
  const size_t w = width == '8' ? 8 : 4, data_off = hoff + hlen;
  if (n > (MAX_FILE / w) / d) return fail(err, errlen, ".npy array is too large");
  const size_t cells = (size_t)(n * d);
  if (size - data_off != cells * w)
    return fail(err, errlen, ".npy data has %zu bytes, the header says %zu", size - data_off,
                cells * w);
  double *x = malloc((cells ? cells : 1) * sizeof *x);
  if (!x) return fail(err, errlen, "out of memory (%zu values)", cells);
  const unsigned char *q = buf + data_off;
  for (size_t c = 0; c < cells; c++, q += w) {
    unsigned char b[8];
    for (size_t k = 0; k < w; k++) b[k] = big ? q[w - 1 - k] : q[k];
    double v;
    if (w == 8) {
      uint64_t u = 0;
      for (int k = 7; k >= 0; k--) u = u << 8 | b[k];
      memcpy(&v, &u, 8);
    } else {
      uint32_t u = 0;
      for (int k = 3; k >= 0; k--) u = u << 8 | b[k];
      float fv;
      memcpy(&fv, &u, 4);
      v = (double)fv;
    }
    /* element c in file order: C order row-major, Fortran order column-major */
    size_t row = fortran ? c % (size_t)n : c / (size_t)d, col = fortran ? c / (size_t)n : c % (size_t)d;
    x[row * (size_t)d + col] = v;
  }
  out->x = x;
  out->n = (size_t)n;
  out->d = (size_t)d;
  return 0;
}

/* ---- CSV ---- */

/* Split one line at commas into fields (in place); returns the count or -1 if too many. */
static int split(char *line, char **f, int maxf) {
  int nf = 0;
  char *p = line;
  for (;;) {
    if (nf == maxf) return -1;
    f[nf++] = p;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  for (int i = 0; i < nf; i++) { /* trim */
    while (isspace((unsigned char)*f[i])) f[i]++;
    char *e = f[i] + strlen(f[i]);
    while (e > f[i] && isspace((unsigned char)e[-1])) *--e = '\0';
  }
  return nf;
}

static int parse_double(const char *s, double *v) {
  if (!*s) return -1;
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return *end == '\0' && errno != ERANGE ? 0 : -1;
}

int table_parse_csv(const char *buf, size_t size, table_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  char *text = malloc(size + 1);
  char **f = malloc(MAX_COLUMNS * sizeof *f);
  if (!text || !f) {
    free(text);
    free(f);
    return fail(err, errlen, "out of memory");
  }
  memcpy(text, buf, size);
  text[size] = '\0';
  if (memchr(text, '\0', size)) {
    free(text);
    free(f);
    return fail(err, errlen, "CSV contains a NUL byte (binary file?)");
  }
  size_t cap = 0, n = 0, d = 0, lineno = 0;
  double *x = NULL;
  int rc = 0, first = 1;
  char *save = text;
  while (save && rc == 0) {
    char *line = save, *nl = strchr(save, '\n');
    if (nl) {
      *nl = '\0';
      save = nl + 1;
    } else {
      save = NULL;
    }
    lineno++;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[len - 1] = '\0';
    char *s = line;
    if (lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3; /* a UTF-8 byte-order mark */
    while (isspace((unsigned char)*s)) s++;
    if (*s == '\0' || *s == '#') continue;
    int nf = split(s, f, MAX_COLUMNS);
    if (nf < 0) {
      rc = fail(err, errlen, "line %zu: more than %d columns", lineno, MAX_COLUMNS);
      break;
    }
    double v;
    int numeric = 1, any_number = 0;
    for (int i = 0; i < nf; i++) {
      const int ok = parse_double(f[i], &v) == 0;
      numeric = numeric && ok;
      any_number = any_number || ok;
    }
    if (first) {
      first = 0;
      d = (size_t)nf;
      /* a header names every column: a first line with a number in it is data, and a bad
         field there is an error (it once became a header, dropping the event) */
      if (!any_number) {
        out->names = calloc(d, sizeof *out->names);
        if (!out->names) {
          rc = fail(err, errlen, "out of memory");
          break;
        }
        out->d = d;
        for (size_t j = 0; j < d; j++) {
          out->names[j] = strdup(f[j]);
          if (!out->names[j]) rc = fail(err, errlen, "out of memory");
        }
        continue;
      }
    }
    if ((size_t)nf != d) {
      rc = fail(err, errlen, "line %zu: %d columns, expected %zu", lineno, nf, d);
      break;
    }
    if (!numeric) {
      for (int i = 0; i < nf; i++)
        if (parse_double(f[i], &v) != 0) {
          rc = fail(err, errlen, "line %zu, column %d: '%.40s' is not a number", lineno, i + 1,
                    f[i]);
          break;
        }
      break;
    }
    if (n == cap) {
      size_t nc = cap ? 2 * cap : 1024;
      double *nx = nc <= SIZE_MAX / sizeof(double) / d ? realloc(x, nc * d * sizeof *x) : NULL;
      if (!nx) {
        rc = fail(err, errlen, "out of memory (%zu rows)", n);
        break;
      }
      x = nx;
      cap = nc;
    }
    for (size_t j = 0; j < d; j++) {
      (void)parse_double(f[j], &v);
      x[n * d + j] = v;
    }
    n++;
  }
  free(text);
  free(f);
  if (rc == 0 && d == 0) rc = fail(err, errlen, "CSV has no columns");
  if (rc != 0) {
    free(x);
    table_free(out);
    return -1;
  }
  out->x = x ? x : malloc(sizeof(double));
  out->n = n;
  out->d = d;
  if (!out->x) {
    table_free(out);
    return fail(err, errlen, "out of memory");
  }
  return 0;
}

int table_select(table_t *t, const char *columns, char *err, size_t errlen) {
  if (!columns || !*columns) return 0;
  size_t idx[MAX_COLUMNS], k = 0;
  const char *p = columns;
  while (*p) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    char name[256];
    if (len == 0 || len >= sizeof name) return fail(err, errlen, "bad column list '%s'", columns);
    memcpy(name, p, len);
    name[len] = '\0';
    if (k == MAX_COLUMNS) return fail(err, errlen, "too many columns selected");
    size_t j = t->d;
    if (t->names)
      for (size_t q = 0; q < t->d && j == t->d; q++)
        if (strcmp(t->names[q], name) == 0) j = q;
    if (j == t->d) {
      char *end;
      errno = 0;
      unsigned long v = strtoul(name, &end, 10);
      if (*end || errno || !isdigit((unsigned char)name[0]) || v >= t->d)
        return fail(err, errlen, "no column '%s' (the file has %zu columns%s)", name, t->d,
                    t->names ? " with a header" : ", numbered from 0");
      j = (size_t)v;
    }
    idx[k++] = j;
    p = c ? c + 1 : p + len;
  }
  double *x = malloc((t->n ? t->n : 1) * k * sizeof *x);
  if (!x) return fail(err, errlen, "out of memory");
  for (size_t i = 0; i < t->n; i++)
    for (size_t q = 0; q < k; q++) x[i * k + q] = t->x[i * t->d + idx[q]];
  char **names = NULL;
  if (t->names) {
    names = calloc(k, sizeof *names);
    for (size_t q = 0; names && q < k; q++) names[q] = strdup(t->names[idx[q]]);
  }
  table_t nt = {x, t->n, k, names};
  table_free(t);
  *t = nt;
  return 0;
}

static int is_hdf5(const char *path) {
  unsigned char sig[8] = {0};
  FILE *fp = fopen(path, "rb");
  if (!fp) return 0;
  size_t got = fread(sig, 1, 8, fp);
  fclose(fp);
  return got == 8 && memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

#ifndef NPLM_HAVE_HDF5
int table_read_hdf5(const char *path, const char *dataset, table_t *out, char *err,
                    size_t errlen) {
  (void)dataset;
  memset(out, 0, sizeof *out);
  return fail(err, errlen, "'%s' is HDF5, but this nplm was built without HDF5 support", path);
}
#endif

int table_read(const char *path, const char *columns, table_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  /* PATH:DATASET for HDF5 when PATH itself is an HDF5 file */
  const char *colon = strrchr(path, ':');
  if (colon && colon != path) {
    char file[4096];
    size_t len = (size_t)(colon - path);
    if (len < sizeof file) {
      memcpy(file, path, len);
      file[len] = '\0';
      if (is_hdf5(file)) {
        if (table_read_hdf5(file, colon + 1, out, err, errlen) != 0) return -1;
        char inner[512];
        if (table_select(out, columns, inner, sizeof inner) != 0) {
          table_free(out);
          return fail(err, errlen, "%s: %s", path, inner);
        }
        return 0;
      }
    }
  }
  if (is_hdf5(path)) {
    if (table_read_hdf5(path, NULL, out, err, errlen) != 0) return -1;
    char inner[512];
    if (table_select(out, columns, inner, sizeof inner) != 0) {
      table_free(out);
      return fail(err, errlen, "%s: %s", path, inner);
    }
    return 0;
  }
  FILE *fp = fopen(path, "rb");
  if (!fp) return fail(err, errlen, "cannot open '%s': %s", path, strerror(errno));
  size_t cap = 1 << 16, size = 0;
  unsigned char *buf = malloc(cap);
  int rc = buf ? 0 : fail(err, errlen, "out of memory");
  while (rc == 0) {
    if (size == cap) {
      if (cap >= MAX_FILE) {
        rc = fail(err, errlen, "'%s' is larger than 64 GiB", path);
        break;
      }
      unsigned char *nb = realloc(buf, cap * 2);
      if (!nb) {
        rc = fail(err, errlen, "out of memory reading '%s'", path);
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + size, 1, cap - size, fp);
    size += got;
    if (got == 0) {
      if (ferror(fp)) rc = fail(err, errlen, "cannot read '%s'", path);
      break;
    }
  }
  fclose(fp);
  if (rc == 0) {
    char inner[512];
    if (size >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0)
      rc = table_parse_npy(buf, size, out, inner, sizeof inner);
    else
      rc = table_parse_csv((const char *)buf, size, out, inner, sizeof inner);
    if (rc == 0) rc = table_select(out, columns, inner, sizeof inner);
    if (rc != 0) {
      table_free(out);
      fail(err, errlen, "%s: %s", path, inner);
    }
  }
  free(buf);
  return rc;
}

int table_write_npy(const char *path, const double *x, size_t n, size_t d, int one_d, char *err,
                    size_t errlen) {
  char hdr[256];
  int hl = one_d && d == 1
               ? snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", n)
               : snprintf(hdr, sizeof hdr,
                          "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, %zu), }", n, d);
  size_t total = 10 + (size_t)hl + 1, pad = (64 - total % 64) % 64;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  size_t hlen = (size_t)hl + pad + 1;
  pre[8] = (unsigned char)(hlen & 0xff);
  pre[9] = (unsigned char)(hlen >> 8);
  FILE *fp = fopen(path, "wb");
  if (!fp) return fail(err, errlen, "cannot write '%s': %s", path, strerror(errno));
  int ok = fwrite(pre, 1, 10, fp) == 10 && fwrite(hdr, 1, (size_t)hl, fp) == (size_t)hl;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', fp) != EOF;
  ok = ok && fputc('\n', fp) != EOF;
  for (size_t i = 0; ok && i < n * d; i++) {
    uint64_t u;
    memcpy(&u, &x[i], 8);
    unsigned char b[8];
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)(u >> (8 * k));
    ok = fwrite(b, 1, 8, fp) == 8;
  }
  if (fclose(fp) != 0) ok = 0;
  return ok ? 0 : fail(err, errlen, "cannot write '%s'", path);
}
