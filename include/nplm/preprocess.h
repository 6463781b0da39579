/** @file preprocess.h
 *  @brief Input preprocessing: per-feature affine maps fitted on the reference. */
#ifndef NPLM_PREPROCESS_H
#define NPLM_PREPROCESS_H

#if !defined(NPLM_H_INSIDE) && !defined(NPLM_NO_SINGLE_HEADER_ERROR)
#error "Include <nplm/nplm.h> instead."
#endif

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup preprocess Input preprocessing
 *
 *  A network's inputs should be of order one: features in physical units (momenta in GeV)
 *  saturate the first layer's sigmoids, and fits then stall or end in far-apart minima. The
 *  maps x' = (x - shift[j]) * scale[j] are fitted once on the reference and then applied,
 *  unchanged, to the reference, the data, the toy pools and the varied samples of a nuisance.
 *  A weight clip is tuned for the inputs it sees: tune it again after changing them.
 *  @{ */

/** How nplm_preprocess_fit() maps each feature. Values are pinned. */
typedef enum nplm_preprocess_mode {
  /** The published NPLM recipe: a feature that takes a negative value in the reference is
   *  standardised (weighted mean 0, standard deviation 1); one that is non-negative and
   *  exceeds 1 is divided by its weighted mean (a momentum scale pT -> pT e^nu stays a scale);
   *  any other is left unchanged (shift 0, scale 1). */
  NPLM_PREPROCESS_NPLM = 0,
  /** Every feature standardised with the reference's weighted mean and standard deviation. */
  NPLM_PREPROCESS_STANDARD = 1
} nplm_preprocess_mode_t;

/** Fit the per-feature maps on reference events.
 *  @param x     reference events, row-major n x d.
 *  @param n     number of events, >= 1.
 *  @param d     number of features, >= 1.
 *  @param w     n non-negative weights with a positive sum, or NULL for all 1.
 *  @param mode  a ::nplm_preprocess_mode_t.
 *  @param shift out: d values.
 *  @param scale out: d values (1 / standard deviation, 1 / mean or 1).
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL a NULL pointer, n or d = 0, a non-finite event value or weight (the
 *          message names the first), a negative weight, weights summing to 0, an unknown
 *          mode, or a feature to be standardised that is constant; shift and scale are then
 *          left untouched.
 *  @retval NPLM_ENOMEM no memory for the 2 d scratch values (outputs untouched).
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_preprocess_fit(const double *x, size_t n, size_t d,
                                                            const double *w, int mode,
                                                            double *shift, double *scale);

/** Apply maps in place: x[i d + j] = (x[i d + j] - shift[j]) * scale[j].
 *  @param x     events, row-major n x d, overwritten.
 *  @param n     number of events (0 is allowed and does nothing).
 *  @param d     number of features, >= 1.
 *  @param shift d finite values.
 *  @param scale d finite values.
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL a NULL pointer, d = 0 or a non-finite shift or scale (x untouched).
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_preprocess_apply(double *x, size_t n, size_t d,
                                                              const double *shift,
                                                              const double *scale);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NPLM_PREPROCESS_H */
