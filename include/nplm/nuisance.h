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
 *  thread-safe. A test's calibration with ::NPLM_OPT_THREADS > 1 calls them from several
 *  threads at once (once per toy), so they must be thread-safe there too.
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

/** Option keys of the Taylor-coefficient learning, for nplm_nuisance_set_int() /
 *  nplm_nuisance_set_double(). They apply to every later nplm_nuisance_learn() call on the
 *  handle, are copied with it, and are not stored in nuisance files.
 *
 *  Values are pinned and never reused; the numbers follow the test's ::nplm_option_t keys of the
 *  same meaning. Each key has one type: nplm_nuisance_set_int() refuses a double key
 *  (::NPLM_EINVAL); nplm_nuisance_set_double() takes an integer key only with an integral
 *  value. Values out of range are rejected, never clamped. */
typedef enum nplm_nuisance_option {
  NPLM_NUIS_OPT_SEED = 2,              /**< int >= 0; seed of the networks' initialisation
                                            (stream: nuisance index and power); default 0. */
  NPLM_NUIS_OPT_OPTIMIZER = 100,       /**< int: ::NPLM_OPTIMIZER_LBFGSB (1, default) or
                                            ::NPLM_OPTIMIZER_ADAM (0). */
  NPLM_NUIS_OPT_EPOCHS = 101,          /**< int 1 .. 1e9; Adam full-batch steps; default 30000. */
  NPLM_NUIS_OPT_LEARNING_RATE = 102,   /**< double > 0, <= 10; Adam learning rate; default
                                            1e-3. */
  NPLM_NUIS_OPT_MAX_ITERATIONS = 106,  /**< int 1 .. 1e9; L-BFGS-B iteration limit; default
                                            3000. */
  NPLM_NUIS_OPT_TOLERANCE = 107,       /**< double >= 0, < 1; L-BFGS-B stops when the relative
                                            decrease of the loss over one iteration falls below
                                            it; default 1e-12. */
  NPLM_NUIS_OPT_VALIDATION_EVERY = 200, /**< int 0 or 2 .. 1000; every this many-th event of
                                            every sample is held out for validation (default
                                            5); 0 = train on all events (the validation loss is
                                            then NaN). */
  NPLM_NUIS_OPT_WEIGHT_CLIP = 114      /**< double > 0 or INFINITY; bound on the weights (not
                                            the biases) of the coefficient networks; default
                                            100. Unbounded, a hidden unit saturated on every
                                            training event leaves its output weight free to
                                            grow, and the coefficients explode on other
                                            events. */
} nplm_nuisance_option_t;

/** Set an integer learning option.
 *  @param[in,out] nu the handle; unchanged on error.
 *  @param key   an integer-typed ::nplm_nuisance_option_t key.
 *  @param value the value; out of range is rejected.
 *  @retval NPLM_OK, NPLM_EINVAL (NULL handle, unknown key, double-typed key, value out of range)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_set_int(nplm_nuisance_t *nu,
                                                              nplm_nuisance_option_t key,
                                                              int64_t value);

/** Set a double learning option (integer-typed keys are accepted with integral values).
 *  @param[in,out] nu the handle; unchanged on error.
 *  @param key   a ::nplm_nuisance_option_t key.
 *  @param value the value; out of range or NaN is rejected.
 *  @retval NPLM_OK, NPLM_EINVAL
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_set_double(nplm_nuisance_t *nu,
                                                                 nplm_nuisance_option_t key,
                                                                 double value);

/** Read a learning option (integer options are returned as exact doubles).
 *  @param[in] nu     the handle.
 *  @param key        a ::nplm_nuisance_option_t key.
 *  @param[out] value its current value.
 *  @retval NPLM_OK, NPLM_EINVAL
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_get_option(const nplm_nuisance_t *nu,
                                                                 nplm_nuisance_option_t key,
                                                                 double *value);

/** Add a normalisation nuisance: a global yield factor exp(nu).
 *  @param[in,out] nu the handle.
 *  @param sigma      uncertainty of its auxiliary measurement, in [1e-150, 1e150] (e.g. 0.025
 *                    for 2.5%).
 *  @param[out] index its position in every nu array; may be NULL.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_add_norm(nplm_nuisance_t *nu, double sigma,
                                                               size_t *index);

/** Add a shape nuisance whose Taylor coefficients delta_k(x), k = 1..order, are known
 *  (computed by the caller, e.g. from an analytic model of the detector effect).
 *  @param[in,out] nu the handle.
 *  @param sigma      uncertainty of its auxiliary measurement, in [1e-150, 1e150] (absolute
 *                    units of nu).
 *  @param order      highest power, 1 .. 8; all shape nuisances together have at most 16
 *                    coefficients.
 *  @param fn         the coefficients; called once per sample (reference, each data set,
 *                    each toy), concurrently during a threaded calibration.
 *  @param user       passed to @p fn; borrowed: must stay valid while the handle (and any test
 *                    created from it) is used.
 *  @param[out] index its position in every nu array; may be NULL.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_add_shape_known(nplm_nuisance_t *nu,
                                                                      double sigma, unsigned order,
                                                                      nplm_coefficient_fn fn,
                                                                      void *user, size_t *index);

/** Add a shape nuisance whose Taylor coefficients delta_k(x), k = 1..order, are learned by
 *  nplm_nuisance_learn(): one network per power, of the given shape.
 *  @param[in,out] nu the handle.
 *  @param sigma      uncertainty of its auxiliary measurement, in [1e-150, 1e150] (absolute
 *                    units of nu).
 *  @param order      highest power, 1 .. 8 (at most 16 coefficients over all shape nuisances).
 *  @param[in] layers n_layers unit counts of each coefficient network, {d, ..., 1}
 *                    (e.g. {5, 10, 10, 1}); sigmoid hidden layers, linear output. Copied.
 *  @param n_layers   entries of @p layers, >= 2.
 *  @param[out] index its position in every nu array; may be NULL.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_add_shape(nplm_nuisance_t *nu, double sigma,
                                                                unsigned order,
                                                                const size_t *layers,
                                                                size_t n_layers, size_t *index);

/** Learn the Taylor coefficients of a shape nuisance from the nominal sample against samples
 *  generated at several values of the nuisance, with the parametrised-classifier loss
 *  sum_i [sum_{S0} w (1 - c_i)^2 + sum_{S_i} w c_i^2], c_i = 1 / (1 + r(x; nu_i)) the
 *  probability of the nominal class, whose minimum is r = n(x|nu_i) / n(x|nominal),
 *  log r(x; nu) = sum_k delta_k(x) (nu / s)^k, s = max |nu_i| (coefficients are reported in
 *  absolute units, delta_k / s^k). The networks are trained together by the projected
 *  quasi-Newton method (default; at most 3000 iterations) or by full-batch Adam, as set by the
 *  ::nplm_nuisance_option_t options; every 5th event of every sample is held out for validation
 *  by default (nplm_nuisance_learned_loss()). Deterministic: the start is seeded. The
 *  coefficient networks, like the test's, expect features of order one: pass the samples
 *  through the same nplm_preprocess_apply() maps as the test's reference and data (the
 *  coefficients are functions of the inputs they were learned on).
 *  @param[in,out] nu  the handle.
 *  @param index       a nuisance added with nplm_nuisance_add_shape().
 *  @param d           features; must match the handle.
 *  @param[in] x0      nominal sample, n0 x d, row-major, finite. Borrowed.
 *  @param n0          nominal events, >= max(5, ::NPLM_NUIS_OPT_VALIDATION_EVERY) (at least
 *                     one held-out event).
 *  @param[in] w0      nominal weights or NULL.
 *  @param n_values    number of varied samples, 1 .. 64, with at least as many distinct
 *                     nu_values as the nuisance's order (fewer leave its coefficients
 *                     undetermined: NPLM_EINVAL).
 *  @param[in] nu_values the nu of each varied sample (absolute units, non-zero); s^K and
 *                     s^-K must be normal doubles for the order K (s = max |nu_i|).
 *  @param[in] x_var   n_values samples, each n_var[i] x d. Borrowed.
 *  @param[in] n_var   their sizes, each >= max(5, ::NPLM_NUIS_OPT_VALIDATION_EVERY).
 *  @param[in] w_var   their weights (an array of n_values pointers, each may be NULL), or NULL.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM, NPLM_ENUMERIC
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_learn(
    nplm_nuisance_t *nu, size_t index, size_t d, const double *x0, size_t n0, const double *w0,
    size_t n_values, const double *nu_values, const double *const *x_var, const size_t *n_var,
    const double *const *w_var);

/** The training and validation losses reached by nplm_nuisance_learn().
 *  @param[in] nu          the handle.
 *  @param index           a learned shape nuisance.
 *  @param[out] train_loss the training loss (may be NULL).
 *  @param[out] valid_loss the same loss on the held-out events (may be NULL).
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ESTATE (not learned yet)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_learned_loss(const nplm_nuisance_t *nu,
                                                                   size_t index,
                                                                   double *train_loss,
                                                                   double *valid_loss);

/** Set the auxiliary measurement nu0 of a nuisance (default 0, the reference value).
 *  @param[in,out] nu the handle.
 *  @param index      the nuisance.
 *  @param nu0        central value, absolute units, |nu0| <= 1e150 and |nu0| / sigma <= 1e150.
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
 *  @retval NPLM_OK, NPLM_EINVAL (also when a coefficient callback fails), NPLM_ENOMEM,
 *          NPLM_ESTATE (a shape nuisance not learned yet), NPLM_ENUMERIC (a log r is not
 *          finite: nu_values too large for the expansion; log_r then holds the values)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_log_ratio(const nplm_nuisance_t *nu,
                                                                const double *nu_values,
                                                                const double *x, size_t n,
                                                                size_t d, double *log_r);

/** Binned preliminary study: which order K the Taylor expansion of a nuisance needs.
 *
 *  In bins of one feature, the log ratio of each varied sample to the nominal one (errors from
 *  the sums of weights and squared weights) is fitted as sum_{k=1..K} a_k nu^k (log r(0) = 0)
 *  for K = 1 .. max_order. The recommended order is the smallest K < max_order whose chi2 has a
 *  p-value above 5% (else max_order). Bins empty in some sample leave those points out.
 *  @param[in] x0        nominal sample, n0 x d.
 *  @param n0            nominal events.
 *  @param[in] w0        nominal weights or NULL.
 *  @param d             features.
 *  @param feature       the feature to bin, < d.
 *  @param[in] edges     n_bins + 1 increasing bin edges.
 *  @param n_bins        1 .. 10000.
 *  @param n_values      varied samples, >= max_order.
 *  @param[in] nu_values their nu (non-zero).
 *  @param[in] x_var     the varied samples.
 *  @param[in] n_var     their sizes.
 *  @param[in] w_var     their weights (n_values pointers, each may be NULL), or NULL.
 *  @param max_order     1 .. 8.
 *  @param[out] chi2     max_order values: the summed chi2 of each order.
 *  @param[out] p_values max_order p-values (may be NULL).
 *  @param[out] order    the recommended order.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_binned_study(
    const double *x0, size_t n0, const double *w0, size_t d, size_t feature, const double *edges,
    size_t n_bins, size_t n_values, const double *nu_values, const double *const *x_var,
    const size_t *n_var, const double *const *w_var, unsigned max_order, double *chi2,
    double *p_values, unsigned *order);

/** Write the nuisances (normalisations and learned shapes with their networks) to a file:
 *  versioned, little-endian, CRC-32 checksummed. Shapes with callback coefficients cannot be
 *  saved (they are code).
 *  @param[in] nu   the handle.
 *  @param[in] path file name; replaced.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_EIO, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_save(const nplm_nuisance_t *nu,
                                                           const char *path);

/** Read nuisances written by nplm_nuisance_save().
 *  @param[out] out the new handle; NULL on failure.
 *  @param[in] path file name.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_EIO, NPLM_EFORMAT (bad magic, version, checksum,
 *          truncated or corrupt), NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_nuisance_load(nplm_nuisance_t **out,
                                                           const char *path);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NPLM_NUISANCE_H */
