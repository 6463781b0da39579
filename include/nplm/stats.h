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

/** Maximum-likelihood degrees of freedom of a chi-square sample (location 0, scale 1).
 *
 *  Solves mean(log(t/2)) = digamma(dof/2), the likelihood equation, to full double precision;
 *  the solution is unique and exists for every valid sample.
 *  @param[in] t   the sample: @p n finite values > 0.
 *  @param n       number of values, >= 2.
 *  @param[out] dof the fitted degrees of freedom; untouched on failure.
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL @p t or @p dof NULL, @p n < 2, a value not finite or not > 0, or a
 *          fitted value too large to represent.
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_chi2_fit_dof(const double *t, size_t n, double *dof);

/** Two-sided one-sample Kolmogorov-Smirnov test of a sample against chi2(@p dof).
 *
 *  The p-value is P(D_n >= @p stat) under the null for this very @p n, not the large-n limit:
 *  exact (to rounding, with its relative accuracy kept in the far tail) wherever the cost of
 *  the exact recursion stays below a fixed budget, which covers every n up to about 10^4 and
 *  every p-value below about 1e-6; beyond that an asymptotic series with finite-n corrections
 *  (Pelz-Good), accurate to about 1e-8.
 *  @param[in] t    the sample: @p n values, none NaN (infinities are allowed).
 *  @param n        number of values, >= 1.
 *  @param dof      degrees of freedom of the null, finite and > 0.
 *  @param[out] stat the statistic D_n = sup |F_n - F| in [1/(2n), 1]; untouched on failure.
 *  @param[out] p   the p-value in [0, 1]; untouched on failure.
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL a NULL pointer, @p n = 0, a NaN value or a bad @p dof.
 *  @retval NPLM_ENOMEM an allocation failed.
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_ks_chi2(const double *t, size_t n, double dof,
                                                     double *stat, double *p);

/** Empirical p-value of an observed statistic against a sample of the null distribution,
 *  p = (1 + #{i : t_null[i] >= t_obs}) / (n + 1), never 0.
 *  @param[in] t_null the null sample: @p n values, none NaN.
 *  @param n          number of null values, >= 1.
 *  @param t_obs      the observed value, not NaN.
 *  @param[out] p     the p-value in [1/(n + 1), 1]; untouched on failure.
 *  @retval NPLM_OK success.
 *  @retval NPLM_EINVAL a NULL pointer, @p n = 0 or a NaN value.
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_pvalue_empirical(const double *t_null, size_t n,
                                                              double t_obs, double *p);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NPLM_STATS_H */
