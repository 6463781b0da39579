/* Model files. Layout (all integers and doubles little-endian, doubles as IEEE-754 bits):
 *   "NPLMMODL" | u32 format version (1) | u32 kind (1 = MLP) | u64 payload bytes | payload |
 *   u32 CRC-32 (IEEE 802.3) of every preceding byte.
 * MLP payload: u32 n_layers | u32 flags (0) | f64 clip | u64 units[n_layers] | f64 params[P].
 * Kernel payload (kind 2): u64 d | u64 requested centres | u64 M | u64 flags (0) | f64 sigma |
 *   f64 lambda | f64 shift[d] | f64 scale[d] | f64 centres[M * d] (standardised, row-major) |
 *   f64 alpha[M]. */
#include <math.h>
#include <string.h>

#include "core/bytes.h"
#include "model/model.h"

#define MAGIC "NPLMMODL"
#define FORMAT_VERSION 1u
#define HEADER_BYTES NPLM__FRAME_HEADER

static nplm_status_t save_kernel(const nplm_model_t *m, const char *path, const char *fn) {
  const size_t d = m->d, M = m->k_m, nk = M * d + 2 * d;
  const size_t payload = 48 + 8 * nk + 8 * M, total = HEADER_BYTES + payload + 4;
  unsigned char *buf = nplm__malloc(total);
  if (!buf) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  memcpy(buf, MAGIC, 8);
  nplm__put_u32(buf + 8, FORMAT_VERSION);
  nplm__put_u32(buf + 12, NPLM__MODEL_KERNEL);
  nplm__put_u64(buf + 16, payload);
  unsigned char *p = buf + HEADER_BYTES;
  nplm__put_u64(p, d);
  nplm__put_u64(p + 8, m->k_req);
  nplm__put_u64(p + 16, M);
  nplm__put_u64(p + 24, 0);
  nplm__put_f64(p + 32, m->k_sigma);
  nplm__put_f64(p + 40, m->k_lambda);
  p += 48;
  const double *shift = m->k_data + M * d; /* shifts and scales, then the centres */
  for (size_t i = 0; i < 2 * d; i++, p += 8) nplm__put_f64(p, shift[i]);
  for (size_t i = 0; i < M * d; i++, p += 8) nplm__put_f64(p, m->k_data[i]);
  for (size_t i = 0; i < M; i++, p += 8) nplm__put_f64(p, m->params[i]);
  nplm__put_u32(p, nplm__crc32(buf, total - 4));
  nplm_status_t s = nplm__write_file(fn, path, buf, total);
  nplm__free(buf);
  return s;
}

static nplm_status_t parse_kernel(const char *fn, const char *path, const unsigned char *p,
                                  uint64_t payload, nplm_model_t **out) {
  if (payload < 48) return nplm__fail(NPLM_EFORMAT, "%s: '%s': payload too short", fn, path);
  uint64_t d = nplm__get_u64(p), req = nplm__get_u64(p + 8), M = nplm__get_u64(p + 16);
  uint64_t flags = nplm__get_u64(p + 24);
  double sigma = nplm__get_f64(p + 32), lambda = nplm__get_f64(p + 40);
  if (flags != 0)
    return nplm__fail(NPLM_EFORMAT, "%s: '%s': unknown flags 0x%llx", fn, path,
                      (unsigned long long)flags);
  if (d < 1 || d > 4096 || req > ((uint64_t)1 << 24) || M > ((uint64_t)1 << 24) ||
      !(sigma > 0.0) || !isfinite(sigma) || !(lambda >= 0.0) || !isfinite(lambda))
    return nplm__fail(NPLM_EFORMAT, "%s: '%s': bad kernel settings", fn, path);
  if (payload != 48 + 8 * (M * d + 2 * d) + 8 * M)
    return nplm__fail(NPLM_EFORMAT, "%s: '%s': size does not match %llu centres", fn, path,
                      (unsigned long long)M);
  nplm_model_t *m;
  nplm_status_t s = nplm__model_new_kernel(&m, (size_t)d, (size_t)req, sigma, lambda, (size_t)M, fn);
  if (s != NPLM_OK) return s;
  const unsigned char *q = p + 48;
  double *shift = m->k_data + M * d;
  for (size_t i = 0; i < 2 * d; i++, q += 8) shift[i] = nplm__get_f64(q);
  for (size_t i = 0; i < M * d; i++, q += 8) m->k_data[i] = nplm__get_f64(q);
  for (size_t i = 0; i < M; i++, q += 8) m->params[i] = nplm__get_f64(q);
  int ok = nplm__first_nonfinite(m->k_data, M * d + 2 * d) == M * d + 2 * d &&
           nplm__first_nonfinite(m->params, M) == M;
  for (size_t j = 0; j < d; j++) ok = ok && shift[d + j] > 0.0; /* scales */
  if (!ok) {
    nplm_model_free(m);
    return nplm__fail(NPLM_EFORMAT, "%s: '%s': a kernel value is not finite or a scale is not "
                                    "positive", fn, path);
  }
  *out = m;
  return NPLM_OK;
}

nplm_status_t nplm_model_save(const nplm_model_t *m, const char *path) {
  static const char fn[] = "nplm_model_save";
  nplm__clear_error();
  if (!m) return nplm__fail(NPLM_EINVAL, "%s: m is NULL", fn);
  if (!path) return nplm__fail(NPLM_EINVAL, "%s: path is NULL", fn);
  if (m->kind == NPLM__MODEL_KERNEL) return save_kernel(m, path, fn);
  const size_t nl = m->spec.n_layers, np = m->spec.n_params;
  const size_t payload = 16 + 8 * nl + 8 * np;
  const size_t total = HEADER_BYTES + payload + 4;
  unsigned char *buf = nplm__malloc(total);
  if (!buf) return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  memcpy(buf, MAGIC, 8);
  nplm__put_u32(buf + 8, FORMAT_VERSION);
  nplm__put_u32(buf + 12, NPLM__MODEL_MLP);
  nplm__put_u64(buf + 16, payload);
  unsigned char *p = buf + HEADER_BYTES;
  nplm__put_u32(p, (uint32_t)nl);
  nplm__put_u32(p + 4, 0);
  nplm__put_f64(p + 8, m->clip);
  p += 16;
  for (size_t l = 0; l < nl; l++, p += 8) nplm__put_u64(p, m->spec.units[l]);
  for (size_t i = 0; i < np; i++, p += 8) nplm__put_f64(p, m->params[i]);
  nplm__put_u32(p, nplm__crc32(buf, total - 4));

  nplm_status_t s = nplm__write_file(fn, path, buf, total);
  nplm__free(buf);
  return s;
}

/* buf has passed nplm__read_framed */
static nplm_status_t parse(const char *fn, const char *path, const unsigned char *buf,
                           size_t size, nplm_model_t **out) {
  uint64_t payload = size - HEADER_BYTES - 4;
  uint32_t kind = nplm__get_u32(buf + 12);
  if (kind == NPLM__MODEL_KERNEL) return parse_kernel(fn, path, buf + HEADER_BYTES, payload, out);
  if (kind != NPLM__MODEL_MLP)
    return nplm__fail(NPLM_EFORMAT, "%s: '%s' holds an unknown model kind %u", fn, path, kind);
  const unsigned char *p = buf + HEADER_BYTES;
  if (payload < 16) return nplm__fail(NPLM_EFORMAT, "%s: '%s': payload too short", fn, path);
  uint32_t nl = nplm__get_u32(p), flags = nplm__get_u32(p + 4);
  double clip = nplm__get_f64(p + 8);
  if (flags != 0)
    return nplm__fail(NPLM_EFORMAT, "%s: '%s': unknown flags 0x%x", fn, path, flags);
  if (nl < 2 || nl > NPLM__MAX_LAYERS || payload < 16 + 8 * (uint64_t)nl)
    return nplm__fail(NPLM_EFORMAT, "%s: '%s': bad layer count %u", fn, path, nl);
  if (!(clip > 0.0)) return nplm__fail(NPLM_EFORMAT, "%s: '%s': bad weight clip", fn, path);
  size_t units[NPLM__MAX_LAYERS];
  for (uint32_t l = 0; l < nl; l++) {
    uint64_t u = nplm__get_u64(p + 16 + 8 * l);
    if (u < 1 || u > NPLM__MAX_UNITS)
      return nplm__fail(NPLM_EFORMAT, "%s: '%s': bad unit count in layer %u", fn, path, l);
    units[l] = (size_t)u;
  }
  nplm__mlp_spec_t spec;
  if (nplm__mlp_spec_init(&spec, units, nl) != 0)
    return nplm__fail(NPLM_EFORMAT, "%s: '%s': bad network shape", fn, path);
  if (payload != 16 + 8 * (uint64_t)nl + 8 * (uint64_t)spec.n_params)
    return nplm__fail(NPLM_EFORMAT, "%s: '%s': parameter count does not match the shape", fn,
                      path);
  nplm_model_t *m;
  nplm_status_t s = nplm__model_new_mlp(&m, units, nl, clip, fn);
  if (s != NPLM_OK) return s;
  const unsigned char *q = p + 16 + 8 * nl;
  for (size_t i = 0; i < spec.n_params; i++) {
    m->params[i] = nplm__get_f64(q + 8 * i);
    if (!isfinite(m->params[i])) {
      nplm_model_free(m);
      return nplm__fail(NPLM_EFORMAT, "%s: '%s': parameter %zu is not finite", fn, path, i);
    }
  }
  *out = m;
  return NPLM_OK;
}

nplm_status_t nplm_model_load(nplm_model_t **out, const char *path) {
  static const char fn[] = "nplm_model_load";
  nplm__clear_error();
  if (!out) return nplm__fail(NPLM_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  if (!path) return nplm__fail(NPLM_EINVAL, "%s: path is NULL", fn);
  unsigned char *buf = NULL;
  size_t size = 0;
  nplm_status_t s = nplm__read_framed(fn, path, MAGIC, FORMAT_VERSION, "model", &buf, &size);
  if (s != NPLM_OK) return s;
  s = parse(fn, path, buf, size, out);
  nplm__free(buf);
  return s;
}
