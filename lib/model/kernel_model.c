/* The Nystrom Gaussian-kernel model family: f(x) = sum_i alpha_i exp(-|x~ - c_i|^2 / (2 sigma^2))
 * over M centres c_i drawn from each run's events (x~: optionally standardised inputs). The fit
 * itself lives with the test (test/kernel_fit.c); this file holds the model. */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/gauss.h"
#include "model/model.h"
#include "stats/stats_internal.h"

nplm_status_t nplm__model_new_kernel(nplm_model_t **out, size_t d, size_t n_centers,
                                     double sigma, double lambda, size_t m, const char *fn) {
  nplm_model_t *k = nplm__calloc(1, sizeof *k);
  size_t cells;
  if (!k || nplm__mul_size(m, d, &cells) != 0 || cells > SIZE_MAX / 8 - 2 * d) {
    nplm__free(k);
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  }
  k->k_data = nplm__malloc_array(cells + 2 * d, sizeof *k->k_data);
  k->params = nplm__calloc(m ? m : 1, sizeof *k->params);
  if (!k->k_data || !k->params) {
    nplm__free(k->k_data);
    nplm__free(k->params);
    nplm__free(k);
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  }
  memset(k->k_data, 0, cells * sizeof *k->k_data);
  for (size_t j = 0; j < d; j++) {
    k->k_data[cells + j] = 0.0;
    k->k_data[cells + d + j] = 1.0;
  }
  k->kind = NPLM__MODEL_KERNEL;
  k->d = d;
  k->clip = INFINITY;
  k->spec.n_params = m;
  k->k_req = n_centers;
  k->k_sigma = sigma;
  k->k_lambda = lambda;
  k->k_m = m;
  *out = k;
  return NPLM_OK;
}

nplm_status_t nplm_model_create_kernel(nplm_model_t **out, size_t d, size_t n_centers,
                                       double sigma, double lambda) {
  static const char fn[] = "nplm_model_create_kernel";
  nplm__clear_error();
  if (!out) return nplm__fail(NPLM_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  if (d < 1 || d > 4096) return nplm__fail(NPLM_EINVAL, "%s: d = %zu is outside [1, 4096]", fn, d);
  if (n_centers > ((size_t)1 << 24))
    return nplm__fail(NPLM_EINVAL, "%s: n_centers = %zu is above 2^24", fn, n_centers);
  if (!(sigma > 0.0) || !isfinite(sigma))
    return nplm__fail(NPLM_EINVAL, "%s: sigma = %g must be finite and > 0", fn, sigma);
  if (!(lambda >= 0.0) || !isfinite(lambda))
    return nplm__fail(NPLM_EINVAL, "%s: lambda = %g must be finite and >= 0", fn, lambda);
  return nplm__model_new_kernel(out, d, n_centers, sigma, lambda, 0, fn);
}

int nplm_model_kind(const nplm_model_t *m) { return m ? m->kind : 0; }

nplm_status_t nplm_model_kernel_info(const nplm_model_t *m, size_t *n_centers, double *sigma,
                                     double *lambda) {
  static const char fn[] = "nplm_model_kernel_info";
  nplm__clear_error();
  if (!m) return nplm__fail(NPLM_EINVAL, "%s: m is NULL", fn);
  if (m->kind != NPLM__MODEL_KERNEL)
    return nplm__fail(NPLM_EINVAL, "%s: m is not a kernel model", fn);
  if (n_centers) *n_centers = m->k_m ? m->k_m : m->k_req;
  if (sigma) *sigma = m->k_sigma;
  if (lambda) *lambda = m->k_lambda;
  return NPLM_OK;
}

nplm_status_t nplm_model_kernel_centers(const nplm_model_t *m, double *c, size_t n, size_t d) {
  static const char fn[] = "nplm_model_kernel_centers";
  nplm__clear_error();
  if (!m) return nplm__fail(NPLM_EINVAL, "%s: m is NULL", fn);
  if (m->kind != NPLM__MODEL_KERNEL)
    return nplm__fail(NPLM_EINVAL, "%s: m is not a kernel model", fn);
  if (!m->k_m)
    return nplm__fail(NPLM_ESTATE, "%s: the model has no centres yet (a fitted model from "
                                   "nplm_test_fitted_model has)", fn);
  if (n != m->k_m || d != m->d)
    return nplm__fail(NPLM_EINVAL, "%s: n x d = %zu x %zu but the model has %zu x %zu centres",
                      fn, n, d, m->k_m, m->d);
  if (!c) return nplm__fail(NPLM_EINVAL, "%s: c is NULL", fn);
  const double *shift = m->k_data + m->k_m * m->d, *scale = shift + m->d;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) c[i * d + j] = m->k_data[i * d + j] / scale[j] + shift[j];
  return NPLM_OK;
}

double nplm__kernel_coord_scale(double sigma) { return sqrt(0.5) / sigma; }

nplm_status_t nplm__kernel_pack_centers(const nplm_model_t *m, double **ct, double **alpha,
                                        size_t *ldc) {
  const size_t M = m->k_m, d = m->d, ld = nplm__gauss_ld(M);
  const double q = nplm__kernel_coord_scale(m->k_sigma);
  double *c = nplm__malloc_array(d * ld + ld, sizeof *c);
  if (!c) return nplm__fail(NPLM_ENOMEM, "out of memory");
  for (size_t j = 0; j < d; j++)
    for (size_t i = 0; i < ld; i++) c[j * ld + i] = m->k_data[(i < M ? i : M - 1) * d + j] * q;
  double *a = c + d * ld;
  for (size_t i = 0; i < ld; i++) a[i] = i < M ? m->params[i] : 0.0;
  *ct = c;
  if (alpha) *alpha = a;
  *ldc = ld;
  return NPLM_OK;
}

void nplm__kernel_prepare_block(const nplm_model_t *m, double *blk) {
  const double q = nplm__kernel_coord_scale(m->k_sigma);
  nplm__kernel_standardise_block(m, blk);
  for (size_t i = 0; i < m->d * NPLM__BLOCK; i++) blk[i] *= q;
}

void nplm__kernel_standardise_block(const nplm_model_t *m, double *blk) {
  const double *shift = m->k_data + m->k_m * m->d, *scale = shift + m->d;
  for (size_t j = 0; j < m->d; j++)
    for (size_t e = 0; e < NPLM__BLOCK; e++)
      blk[j * NPLM__BLOCK + e] = (blk[j * NPLM__BLOCK + e] - shift[j]) * scale[j];
}

/* Selection sampling (Knuth's algorithm S): k of n indices without replacement, in increasing
 * order, one uniform draw per candidate. */
void nplm__sample_indices(nplm__rng_t *r, size_t n, size_t k, size_t *out) {
  size_t chosen = 0;
  for (size_t i = 0; i < n && chosen < k; i++)
    if ((double)(n - i) * nplm__rng_uniform(r) < (double)(k - chosen)) out[chosen++] = i;
}

nplm_status_t nplm_kernel_sigma_heuristic(const double *x, size_t n, size_t d, size_t subsample,
                                          double quantile, uint64_t seed, double *sigma) {
  static const char fn[] = "nplm_kernel_sigma_heuristic";
  nplm__clear_error();
  if (!sigma) return nplm__fail(NPLM_EINVAL, "%s: sigma is NULL", fn);
  if (n < 2) return nplm__fail(NPLM_EINVAL, "%s: n = %zu: need at least 2 events", fn, n);
  if (d < 1) return nplm__fail(NPLM_EINVAL, "%s: d = 0", fn);
  if (subsample < 2 || subsample > 5000)
    return nplm__fail(NPLM_EINVAL, "%s: subsample = %zu is outside [2, 5000]", fn, subsample);
  if (!(quantile > 0.0 && quantile < 1.0))
    return nplm__fail(NPLM_EINVAL, "%s: quantile = %g is outside (0, 1)", fn, quantile);
  nplm_status_t s = nplm__check_events(fn, "x", x, n, d, "w", NULL);
  if (s != NPLM_OK) return s;
  const size_t k = subsample < n ? subsample : n, pairs = k * (k - 1) / 2;
  size_t *idx = nplm__malloc_array(k, sizeof *idx);
  double *dist = nplm__malloc_array(pairs, sizeof *dist);
  if (!idx || !dist) {
    nplm__free(idx);
    nplm__free(dist);
    return nplm__fail(NPLM_ENOMEM, "%s: out of memory", fn);
  }
  nplm__rng_t r;
  nplm__rng_init(&r, seed, nplm__rng_stream(NPLM__RNG_HEURISTIC, 0));
  nplm__sample_indices(&r, n, k, idx);
  size_t p = 0;
  for (size_t a = 0; a < k; a++)
    for (size_t b = a + 1; b < k; b++) {
      /* |x_a - x_b| scaled by its largest component, so that squares neither overflow (events
         at 1e200) nor underflow */
      double big = 0.0, s2 = 0.0;
      for (size_t j = 0; j < d; j++) {
        const double diff = fabs(x[idx[a] * d + j] - x[idx[b] * d + j]);
        big = diff > big ? diff : big;
      }
      for (size_t j = 0; big > 0.0 && j < d; j++) {
        const double u = (x[idx[a] * d + j] - x[idx[b] * d + j]) / big;
        s2 += u * u;
      }
      dist[p++] = big > 0.0 ? big * sqrt(s2) : 0.0;
    }
  nplm__sort_doubles(dist, pairs);
  const double q = nplm__quantile_sorted(dist, pairs, quantile);
  nplm__free(idx);
  nplm__free(dist);
  if (!(q > 0.0) || !isfinite(q)) /* coincident events, or distances beyond DBL_MAX */
    return nplm__fail(NPLM_EINVAL, "%s: x: the %g quantile of the pairwise distances is %g, "
                                   "not a usable sigma", fn, quantile, q);
  *sigma = q;
  return NPLM_OK;
}
