/** @file model.h
 *  @brief nplm_model_t: the function family f(x; w) learned by the test. */
#ifndef NPLM_MODEL_H
#define NPLM_MODEL_H

#if !defined(NPLM_H_INSIDE) && !defined(NPLM_NO_SINGLE_HEADER_ERROR)
#error "Include <nplm/nplm.h> instead."
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup model Models: the function f(x; w)
 *
 *  A model is a parametric function f(x; w) of d inputs. The MLP family is the one of the NPLM
 *  papers: sigmoid hidden layers, a linear output, weight clipping.
 *
 *  Thread safety: const calls (eval, get_params, num_params, save) on one model may run
 *  concurrently; calls that change a model need exclusive access.
 *  @{ */

/** Opaque model handle. */
typedef struct nplm_model nplm_model_t;

/** Create a multi-layer perceptron f(x; w) with sigmoid hidden units and a linear output.
 *
 *  Parameter order (for nplm_model_get_params() / nplm_model_set_params()): layer by layer,
 *  first the weight matrix as [d_out][d_in] row-major, then the bias [d_out]. All parameters
 *  start at zero (f = 0); nplm_test_run() initialises them (Glorot) from its seed. The
 *  network sees the inputs as given: Glorot starts and a weight clip of a few units assume
 *  features of order one, so map raw features (GeV, say) first with nplm_preprocess_fit() and
 *  nplm_preprocess_apply() (on the 5D stand-in, raw inputs gave a null that no clip made
 *  chi2-like; see bench/RESULTS.md).
 *  @param[out] out    the new model; set to NULL on failure.
 *  @param[in] layers  n_layers unit counts {d, h1, ..., 1}; every entry >= 1 and <= 4096, the
 *                     last one must be 1. Copied.
 *  @param[in] n_layers number of entries in @p layers, 2 to 64.
 *  @param[in] weight_clip c > 0: every weight-matrix entry is kept in [-c, c] during training;
 *                     INFINITY disables clipping.
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL bad argument (message names it).
 *  @retval NPLM_ENOMEM allocation failed.
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_model_create_mlp(nplm_model_t **out, const size_t *layers,
                                                    size_t n_layers, double weight_clip);

/** Kinds of model, as returned by nplm_model_kind(). */
enum nplm_model_kind {
  NPLM_MODEL_MLP = 1,   /**< Multi-layer perceptron (nplm_model_create_mlp()). */
  NPLM_MODEL_KERNEL = 2 /**< Nystrom Gaussian-kernel model (nplm_model_create_kernel()). */
};

/** Create a Nystrom Gaussian-kernel model family
 *  f(x) = sum_{i=1..M} alpha_i exp(-|x - c_i|^2 / (2 sigma^2)), fitted by nplm_test_run() with
 *  the weighted logistic loss and penalty (lambda/2) alpha^T K_MM alpha (by default one Newton
 *  step from f = 0, the published procedure; ::NPLM_OPT_NEWTON_STEPS). The M centres are drawn
 *  uniformly without replacement from the pooled reference and data events of each run, from
 *  the run's seed (toy k of a calibration: its own stream). The family itself has no centres:
 *  the fitted model (nplm_test_fitted_model()) has, and its parameters are the M alpha_i.
 *  @param[out] out     the new model; NULL on failure.
 *  @param d            number of inputs, 1 .. 4096.
 *  @param n_centers    M, at most 2^24; 0 = ceil(sqrt(n)) for n training events.
 *  @param sigma        kernel width, finite and > 0 (in standardised units when
 *                      ::NPLM_OPT_STANDARDIZE is on); nplm_kernel_sigma_heuristic() suggests one.
 *  @param lambda       ridge penalty, finite and >= 0 (1e-6 is typical; a jitter is added when
 *                      the system is numerically singular).
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_model_create_kernel(nplm_model_t **out, size_t d,
                                                                 size_t n_centers, double sigma,
                                                                 double lambda);

/** The kind of a model.
 *  @param m the model; NULL gives 0.
 *  @return ::NPLM_MODEL_MLP or ::NPLM_MODEL_KERNEL.
 *  @since 0.1 */
NPLM_API int nplm_model_kind(const nplm_model_t *m);

/** Settings of a kernel model.
 *  @param[in] m          a kernel model.
 *  @param[out] n_centers the number of centres of a fitted model, else the requested M (0 =
 *                        automatic); may be NULL.
 *  @param[out] sigma     kernel width; may be NULL.
 *  @param[out] lambda    ridge penalty; may be NULL.
 *  @retval NPLM_OK, NPLM_EINVAL (NULL or not a kernel model)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_model_kernel_info(const nplm_model_t *m,
                                                               size_t *n_centers, double *sigma,
                                                               double *lambda);

/** The centres of a fitted kernel model, in input units, row-major.
 *  @param[in] m  a fitted kernel model (from nplm_test_fitted_model() or a file).
 *  @param[out] c n x d values.
 *  @param n      must equal its number of centres.
 *  @param d      must equal its input dimension.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ESTATE (a family without centres)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_model_kernel_centers(const nplm_model_t *m, double *c,
                                                                  size_t n, size_t d);

/** Suggest a kernel width: the @p quantile (0.9 in the published heuristic) of the pairwise
 *  Euclidean distances between @p subsample events drawn without replacement from x (seeded).
 *  @param[in] x       n x d events, row-major, finite.
 *  @param n           number of events, >= 2.
 *  @param d           features, >= 1.
 *  @param subsample   events used, 2 .. 5000 (min(n, subsample) are drawn; 1000 is plenty).
 *  @param quantile    in (0, 1).
 *  @param seed        seed of the draw.
 *  @param[out] sigma  the suggested width, > 0 and finite.
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL a bad argument, or a quantile that is not a usable width: 0 (at least
 *          that fraction of the drawn pairs coincide, as in discrete or heavily repeated
 *          data) or beyond DBL_MAX.
 *  @retval NPLM_ENOMEM allocation failed.
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_kernel_sigma_heuristic(const double *x, size_t n,
                                                                    size_t d, size_t subsample,
                                                                    double quantile,
                                                                    uint64_t seed,
                                                                    double *sigma);

/** Release a model. Accepts NULL.
 *  @param m the model or NULL.
 *  @since 0.1 */
NPLM_API void nplm_model_free(nplm_model_t *m);

/** Number of trainable parameters (13 for 1-4-1, 96 for 5-5-5-5-1; for a kernel model the
 *  number of centres of the fitted model, 0 for a family).
 *  @param m the model; NULL gives 0.
 *  @return the parameter count.
 *  @since 0.1 */
NPLM_API size_t nplm_model_num_params(const nplm_model_t *m);

/** Number of inputs d of the model.
 *  @param m the model; NULL gives 0.
 *  @return d.
 *  @since 0.1 */
NPLM_API size_t nplm_model_input_dim(const nplm_model_t *m);

/** The weight-clip value c of the model (INFINITY when unclipped).
 *  @param m the model; NULL gives NaN.
 *  @return c.
 *  @since 0.1 */
NPLM_API double nplm_model_weight_clip(const nplm_model_t *m);

/** Copy the parameters out, in the documented order.
 *  @param[in] m  the model.
 *  @param[out] p buffer of @p n doubles.
 *  @param[in] n  must equal nplm_model_num_params().
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL NULL argument or wrong @p n.
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_model_get_params(const nplm_model_t *m, double *p, size_t n);

/** Set the parameters, in the documented order. Values are not clipped; they must be finite.
 *  @param[in,out] m the model; unchanged on error.
 *  @param[in] p     @p n finite doubles. Copied.
 *  @param[in] n     must equal nplm_model_num_params().
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL NULL argument, wrong @p n, or a non-finite value (message gives the index).
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_model_set_params(nplm_model_t *m, const double *p, size_t n);

/** Evaluate f on n events.
 *  @param[in] m  the model.
 *  @param[in] x  n x d events, row-major; may be NULL when n == 0.
 *  @param[in] n  number of events (0 is allowed).
 *  @param[in] d  number of features; must equal nplm_model_input_dim().
 *  @param[out] f n values f(x_i).
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL NULL buffer, d mismatch, non-finite input, or (kernel models) an input
 *          so large that x / sigma overflows.
 *  @retval NPLM_ENOMEM allocation failed.
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_model_eval(const nplm_model_t *m, const double *x, size_t n,
                                              size_t d, double *f);

/** Write the model to a file: a versioned, little-endian binary format with a CRC-32 checksum.
 *  @param[in] m    the model.
 *  @param[in] path file name; the file is replaced.
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL NULL argument.
 *  @retval NPLM_EIO the file could not be written.
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_model_save(const nplm_model_t *m, const char *path);

/** Read a model written by nplm_model_save().
 *  @param[out] out  the new model; NULL on failure.
 *  @param[in] path  file name.
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL NULL argument.
 *  @retval NPLM_EIO the file could not be opened or read.
 *  @retval NPLM_EFORMAT bad magic, unsupported version, bad checksum, truncated or corrupt file.
 *  @retval NPLM_ENOMEM allocation failed.
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_model_load(nplm_model_t **out, const char *path);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NPLM_MODEL_H */
