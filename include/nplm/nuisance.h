/** @file nuisance.h
 *  @brief nplm_nuisance_t: systematic uncertainties as nuisance parameters. */
#ifndef NPLM_NUISANCE_H
#define NPLM_NUISANCE_H

#if !defined(NPLM_H_INSIDE) && !defined(NPLM_NO_SINGLE_HEADER_ERROR)
#error "Include <nplm/nplm.h> instead."
#endif

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup nuisance Nuisance parameters: the family of reference hypotheses R_nu
 *
 *  The reference becomes a family R_nu with log r(x; nu) = log n(x|R_nu) / n(x|R0) =
 *  sum over shape nuisances j, powers k of delta_jk(x) nu_j^k + sum over normalisation
 *  nuisances n of nu_n (nu in absolute units). Each nuisance has an auxiliary measurement nu0
 *  (default 0, the reference value nuR) with uncertainty sigma. A test created with a nuisance
 *  handle computes tau (fit f and nu), Delta (fit nu alone) and t = tau - Delta.
 *
 *  Thread safety: const calls may run concurrently; coefficient callbacks must then be
 *  thread-safe.
 *  @{ */

/** Opaque nuisance handle. */
typedef struct nplm_nuisance nplm_nuisance_t;

/** Known Taylor coefficients of a shape nuisance: write delta_power(x_i) for the n events
 *  (row-major, d features) into delta[i]. Return 0 on success, non-zero on failure. */
typedef int (*nplm_coefficient_fn)(void *user, unsigned power, const double *x, size_t n,
                                   size_t d, double *delta);

/** Create an empty set of nuisances for events with d features.
 *  @param[out] out the new handle; NULL on failure.
 *  @param d        features, >= 1.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_create(nplm_nuisance_t **out, size_t d);

/** Release a nuisance handle. Accepts NULL.
 *  @param nu the handle or NULL.
 *  @since 0.1 */
NPLM_API void nplm_nuisance_free(nplm_nuisance_t *nu);

/** Number of nuisance parameters.
 *  @param nu the handle; NULL gives 0.
 *  @return the count.
 *  @since 0.1 */
NPLM_API size_t nplm_nuisance_count(const nplm_nuisance_t *nu);

/** Add a normalisation nuisance: a global yield factor exp(nu).
 *  @param[in,out] nu the handle.
 *  @param sigma      uncertainty of its auxiliary measurement, > 0 (e.g. 0.025 for 2.5%).
 *  @param[out] index its position in every nu array; may be NULL.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_add_norm(nplm_nuisance_t *nu, double sigma,
                                                               size_t *index);

/** Add a shape nuisance whose Taylor coefficients delta_k(x), k = 1..order, are known
 *  (computed by the caller, e.g. from an analytic model of the detector effect).
 *  @param[in,out] nu the handle.
 *  @param sigma      uncertainty of its auxiliary measurement, > 0 (absolute units of nu).
 *  @param order      highest power, 1 .. 8; all shape nuisances together have at most 16
 *                    coefficients.
 *  @param fn         the coefficients; called once per sample (reference, each data set).
 *  @param user       passed to @p fn; borrowed: must stay valid while the handle (and any test
 *                    created from it) is used.
 *  @param[out] index its position in every nu array; may be NULL.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_add_shape_known(nplm_nuisance_t *nu,
                                                                      double sigma, unsigned order,
                                                                      nplm_coefficient_fn fn,
                                                                      void *user, size_t *index);

/** Set the auxiliary measurement nu0 of a nuisance (default 0, the reference value).
 *  @param[in,out] nu the handle.
 *  @param index      the nuisance.
 *  @param nu0        finite central value, absolute units.
 *  @retval NPLM_OK, NPLM_EINVAL
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_set_aux(nplm_nuisance_t *nu, size_t index,
                                                              double nu0);

/** log r(x; nu) on n events.
 *  @param[in] nu        the handle.
 *  @param[in] nu_values nplm_nuisance_count() finite values, in index order, absolute units.
 *  @param[in] x         n x d events, row-major, finite; may be NULL when n == 0.
 *  @param n             events.
 *  @param d             features; must match the handle.
 *  @param[out] log_r    n values.
 *  @retval NPLM_OK, NPLM_EINVAL (also when a coefficient callback fails), NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_log_ratio(const nplm_nuisance_t *nu,
                                                                const double *nu_values,
                                                                const double *x, size_t n,
                                                                size_t d, double *log_r);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NPLM_NUISANCE_H */
