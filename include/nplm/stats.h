/** @file stats.h
 *  @brief Chi-square and normal distributions, p-values and Z-scores. */
#ifndef NPLM_STATS_H
#define NPLM_STATS_H

#if !defined(NPLM_H_INSIDE) && !defined(NPLM_NO_SINGLE_HEADER_ERROR)
#error "Include <nplm/nplm.h> instead."
#endif

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup stats Statistics: p-values and Z-scores
 *
 *  Upper tails are computed directly (never as 1 - cdf), so far-tail p-values keep their
 *  relative accuracy. All functions are thread-safe.
 *  @{ */

/** Survival function of the chi-square distribution, P(X > x) for X ~ chi2(dof).
 *  @param x   the value; x <= 0 gives 1.
 *  @param dof degrees of freedom > 0 (need not be an integer).
 *  @return the upper-tail probability; NaN for NaN arguments or dof <= 0.
 *  @since 0.1 */
NPLM_API double nplm_chi2_sf(double x, double dof);

/** Inverse survival function of chi2(dof): the x with nplm_chi2_sf(x, dof) = p.
 *  @param p   probability in [0, 1] (0 gives INFINITY, 1 gives 0).
 *  @param dof degrees of freedom > 0.
 *  @return x; NaN for arguments out of range.
 *  @since 0.1 */
NPLM_API double nplm_chi2_isf(double p, double dof);

/** One-sided Z-score of a p-value, Z = Phi^-1(1 - p), accurate for p down to 1e-300.
 *  @param p probability in [0, 1] (0 gives INFINITY, 1 gives -INFINITY).
 *  @return Z; NaN when p is out of range.
 *  @since 0.1 */
NPLM_API double nplm_z_from_p(double p);

/** One-sided p-value of a Z-score, p = 1 - Phi(z), computed as an upper tail.
 *  @param z the Z-score.
 *  @return p in [0, 1]; NaN for NaN.
 *  @since 0.1 */
NPLM_API double nplm_p_from_z(double z);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NPLM_STATS_H */
