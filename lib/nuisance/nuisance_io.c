/* Nuisance files. Layout (little-endian, doubles as IEEE-754 bits):
 *   "NPLMNUIS" | u32 format version (1) | u32 0 | u64 payload bytes | payload | u32 CRC-32 of
 *   every preceding byte.
 * Payload: u64 d | u64 n | n items of
 *   u32 kind | u32 order | f64 sigma | f64 nu0 | f64 scale | f64 train_loss | f64 valid_loss |
 *   u32 learned | u32 n_layers | u64 units[n_layers] | f64 params[order * P]
 * (n_layers = 0 for normalisation nuisances). Shapes with callback coefficients are code, not
 * data, and cannot be saved. */
#include <math.h>
#include <string.h>

#include "core/bytes.h"
#include "nuisance/nuisance.h"

#define MAGIC "NPLMNUIS"
#define FORMAT_VERSION 1u
#define HEADER_BYTES NPLM__FRAME_HEADER
#define ITEM_FIXED 56u

static size_t item_bytes(const nplm__nuis_item_t *it) {
  size_t b = ITEM_FIXED;
  if (it->kind == NPLM__NUIS_SHAPE_LEARNED) {
    const nplm__mlp_spec_t *s = &it->nets[0]->spec;
    b += 8 * s->n_layers + 8 * (size_t)it->order * s->n_params;
  }
  return b;
}

nplm_status_t nplm_nuisance_save(const nplm_nuisance_t *nu, const char *path) {
  static const char fn[] = "nplm_nuisance_save";
  nplm__clear_error();
  if (!nu) return nplm__fail(NPLM_EINVAL, "%s: nu is NULL", fn);
  if (!path) return nplm__fail(NPLM_EINVAL, "%s: path is NULL", fn);
  size_t payload = 16;
  for (size_t j = 0; j < nu->n; j++) {
    if (nu->items[j].kind == NPLM__NUIS_SHAPE_KNOWN)
      return nplm__fail(NPLM_EINVAL, "%s: nuisance %zu has callback coefficients (code, not "
                                     "data): it cannot be saved", fn, j);
    payload += item_bytes(&nu->items[j]);
  }
  const size_t total = HEADER_BYTES + payload + 4;
  unsigned char *buf = nplm__malloc(total);
  if (!buf) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  memcpy(buf, MAGIC, 8);
  nplm__put_u32(buf + 8, FORMAT_VERSION);
  nplm__put_u32(buf + 12, 0);
  nplm__put_u64(buf + 16, payload);
  unsigned char *p = buf + HEADER_BYTES;
  nplm__put_u64(p, nu->d);
  nplm__put_u64(p + 8, nu->n);
  p += 16;
  for (size_t j = 0; j < nu->n; j++) {
    const nplm__nuis_item_t *it = &nu->items[j];
    nplm__put_u32(p, (uint32_t)it->kind);
    nplm__put_u32(p + 4, it->order);
    nplm__put_f64(p + 8, it->sigma);
    nplm__put_f64(p + 16, it->nu0);
    nplm__put_f64(p + 24, it->scale);
    nplm__put_f64(p + 32, it->train_loss);
    nplm__put_f64(p + 40, it->valid_loss);
    nplm__put_u32(p + 48, (uint32_t)it->learned);
    const nplm__mlp_spec_t *s = it->nets ? &it->nets[0]->spec : NULL;
    nplm__put_u32(p + 52, s ? (uint32_t)s->n_layers : 0u);
    p += ITEM_FIXED;
    if (!s) continue;
    for (size_t l = 0; l < s->n_layers; l++, p += 8) nplm__put_u64(p, s->units[l]);
    for (unsigned k = 0; k < it->order; k++)
      for (size_t q = 0; q < s->n_params; q++, p += 8) nplm__put_f64(p, it->nets[k]->params[q]);
  }
  nplm__put_u32(p, nplm__crc32(buf, total - 4));
  nplm_status_t st = nplm__write_file(fn, path, buf, total);
  nplm__free(buf);
  return st;
}

#define NEED(k)                                                                          \
  do {                                                                                   \
    if ((size_t)(end - p) < (size_t)(k))                                                 \
      return nplm__fail(NPLM_EFORMAT, "%s: '%s' is truncated or corrupt", fn, path);     \
  } while (0)

static nplm_status_t parse(const char *fn, const char *path, const unsigned char *buf,
                           size_t size, nplm_nuisance_t *nu) {
  /* buf has passed nplm__read_framed */
  const unsigned char *p = buf + HEADER_BYTES, *end = buf + size - 4;
  if (nplm__get_u32(buf + 12) != 0) /* reserved: a reader of format 1 knows no flags */
    return nplm__fail(NPLM_EFORMAT, "%s: '%s': the reserved header word is not 0", fn, path);
  NEED(16);
  uint64_t d = nplm__get_u64(p), n = nplm__get_u64(p + 8);
  p += 16;
  if (d == 0 || d > 4096 || n > 64)
    return nplm__fail(NPLM_EFORMAT, "%s: '%s': bad dimension or count", fn, path);
  nu->d = (size_t)d;
  for (uint64_t j = 0; j < n; j++) {
    NEED(ITEM_FIXED);
    nplm__nuis_item_t it;
    memset(&it, 0, sizeof it);
    it.kind = (int)nplm__get_u32(p);
    it.order = nplm__get_u32(p + 4);
    it.sigma = nplm__get_f64(p + 8);
    it.nu0 = nplm__get_f64(p + 16);
    it.scale = nplm__get_f64(p + 24);
    it.train_loss = nplm__get_f64(p + 32);
    it.valid_loss = nplm__get_f64(p + 40);
    it.learned = (int)nplm__get_u32(p + 48);
    uint32_t nl = nplm__get_u32(p + 52);
    p += ITEM_FIXED;
    int norm = it.kind == NPLM__NUIS_NORM, shape = it.kind == NPLM__NUIS_SHAPE_LEARNED;
    if ((!norm && !shape) || !nplm__nuis_sigma_ok(it.sigma) || !isfinite(it.nu0) ||
        !nplm__nuis_nu0_ok(it.nu0, it.sigma) || !(it.scale > 0.0) || !isfinite(it.scale) ||
        (shape && !nplm__nuis_scale_ok(it.scale, it.order)) || (norm && (nl != 0 || it.order != 0)) ||
        (shape && (it.order < 1 || it.order > 8 || nu->n_cols + it.order > 16 || nl < 2 ||
                   nl > NPLM__MAX_LAYERS)) || (it.learned != 0 && it.learned != 1))
      return nplm__fail(NPLM_EFORMAT, "%s: '%s': nuisance %llu is malformed", fn, path,
                        (unsigned long long)j);
    if (shape) {
      NEED(8 * (size_t)nl);
      size_t units[NPLM__MAX_LAYERS];
      for (uint32_t l = 0; l < nl; l++, p += 8) {
        uint64_t u = nplm__get_u64(p);
        if (u < 1 || u > NPLM__MAX_UNITS)
          return nplm__fail(NPLM_EFORMAT, "%s: '%s': bad network shape", fn, path);
        units[l] = (size_t)u;
      }
      /* the whole shape and the bytes it needs are checked before anything is allocated, so
         a corrupt header cannot ask for order networks of a huge shape */
      nplm__mlp_spec_t spec;
      if (nplm__mlp_spec_init(&spec, units, nl) != 0)
        return nplm__fail(NPLM_EFORMAT, "%s: '%s': bad network shape (the output layer must "
                                        "have 1 unit)", fn, path);
      if (units[0] != nu->d)
        return nplm__fail(NPLM_EFORMAT, "%s: '%s': network inputs differ from d", fn, path);
      const size_t P = spec.n_params;
      if (P > (size_t)(end - p) / 8 / it.order) /* no product that could wrap */
        return nplm__fail(NPLM_EFORMAT, "%s: '%s' is truncated or corrupt", fn, path);
      it.col = nu->n_cols;
      it.nets = nplm__calloc(it.order, sizeof *it.nets);
      if (!it.nets) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
      nplm_status_t s = NPLM_OK;
      for (unsigned k = 0; k < it.order && s == NPLM_OK; k++)
        s = nplm__model_new_mlp(&it.nets[k], units, nl, INFINITY, fn);
      for (unsigned k = 0; s == NPLM_OK && k < it.order; k++)
        for (size_t q = 0; q < P; q++, p += 8) {
          it.nets[k]->params[q] = nplm__get_f64(p);
          if (!isfinite(it.nets[k]->params[q]))
            s = nplm__fail(NPLM_EFORMAT, "%s: '%s': non-finite network parameter", fn, path);
        }
      if (s == NPLM_OK) s = nplm__nuisance_add_item(nu, &it, NULL, fn);
      if (s != NPLM_OK) {
        for (unsigned k = 0; k < it.order; k++) nplm_model_free(it.nets[k]);
        nplm__free(it.nets);
        return s;
      }
      nu->n_cols += it.order;
    } else {
      nplm_status_t s = nplm__nuisance_add_item(nu, &it, NULL, fn);
      if (s != NPLM_OK) return s;
    }
  }
  if (p != end) return nplm__fail(NPLM_EFORMAT, "%s: '%s' has trailing bytes", fn, path);
  return NPLM_OK;
}

nplm_status_t nplm_nuisance_load(nplm_nuisance_t **out, const char *path) {
  static const char fn[] = "nplm_nuisance_load";
  nplm__clear_error();
  if (!out) return nplm__fail(NPLM_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  if (!path) return nplm__fail(NPLM_EINVAL, "%s: path is NULL", fn);
  unsigned char *buf = NULL;
  size_t size = 0;
  nplm_status_t s = nplm__read_framed(fn, path, MAGIC, FORMAT_VERSION, "nuisance", &buf, &size);
  if (s != NPLM_OK) return s;
  nplm_nuisance_t *nu = nplm__calloc(1, sizeof *nu);
  if (!nu) s = nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  else {
    /* learning options are not stored in files: a loaded handle starts from the defaults,
       like a created one (nuisances added to it later are learned with them) */
    for (int i = 0; i < NPLM__NUIS_N_OPTIONS; i++) nu->opt[i] = nplm__nuis_options[i].dflt;
    s = parse(fn, path, buf, size, nu);
  }
  nplm__free(buf);
  if (s != NPLM_OK) {
    nplm_nuisance_free(nu);
    return s;
  }
  *out = nu;
  return NPLM_OK;
}
