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


/** Entries of the array filled by nplm_significance(). Values are pinned; new entries are
 *  appended, so pass the length of your array. */
typedef enum nplm_significance_key {
  NPLM_SIG_P_EMPIRICAL = 0,  /**< (1 + #{t_null >= t_obs}) / (n + 1). */
  NPLM_SIG_Z_EMPIRICAL = 1,  /**< Z of the empirical p. */
  NPLM_SIG_P_CHI2 = 2,       /**< chi2 upper tail with the given dof. */
  NPLM_SIG_Z_CHI2 = 3,       /**< Z of NPLM_SIG_P_CHI2. */
  NPLM_SIG_DOF_FIT = 4,      /**< Maximum-likelihood dof of the positive toys (NaN with fewer
                                  than two, or when it exceeds the largest double). */
  NPLM_SIG_P_CHI2_FIT = 5,   /**< chi2 upper tail with the fitted dof. */
  NPLM_SIG_Z_CHI2_FIT = 6,   /**< Z of NPLM_SIG_P_CHI2_FIT. */
  NPLM_SIG_BEYOND_TOYS = 7,  /**< 1 when t_obs exceeds every toy: the empirical p is then only
                                  an upper bound, and the chi2 values are extrapolations. */
  NPLM_SIG_N_TOYS = 8,       /**< Number of toys used. */
  NPLM_SIG_KS_P = 9,         /**< KS p-value of the toys against chi2(dof). */
  NPLM_SIG_KS_P_FIT = 10,    /**< KS p-value of the toys against chi2(fitted dof). */
  NPLM_SIG_COUNT = 11        /**< Number of entries in this release. */
} nplm_significance_key_t;

/** Observed significance of t_obs against a calibration: empirical, chi2 with fixed dof and chi2
 *  with the dof fitted on the toys, in one call.
 *  @param[in] t_null n finite toy values of t. Toys with t <= 0 (possible for fits stopped
 *                    early) count in the empirical p and the KS tests; the dof fit uses the
 *                    toys with t > 0 only.
 *  @param n          number of toys, >= 1.
 *  @param t_obs      the observed t (finite).
 *  @param dof        degrees of freedom of the fixed-dof chi2, > 0 (usually the model's
 *                    parameter count).
 *  @param[out] out   array filled with the ::nplm_significance_key_t entries.
 *  @param n_out      length of @p out; min(n_out, NPLM_SIG_COUNT) entries are written.
 *  @retval NPLM_OK, NPLM_EINVAL
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_significance(const double *t_null, size_t n,
                                                          double t_obs, double dof, double *out,
                                                          size_t n_out);

/** How a t is turned into a p-value by nplm_sensitivity(). */
enum nplm_pvalue_method {
  NPLM_PVALUE_EMPIRICAL = 0, /**< From the null toys (needs t_null). */
  NPLM_PVALUE_CHI2 = 1,      /**< chi2 with the given dof. */
  NPLM_PVALUE_CHI2_FIT = 2   /**< chi2 with the dof fitted on the null toys (needs t_null). */
};

/** Entries of the array filled by nplm_sensitivity(). */
typedef enum nplm_sensitivity_key {
  NPLM_SENS_Z_MEDIAN = 0,    /**< Z of the median of the alternative toys' t. */
  NPLM_SENS_Z_16 = 1,        /**< Z of their 16% quantile (lower edge of the 68% band). */
  NPLM_SENS_Z_84 = 2,        /**< Z of their 84% quantile (upper edge). */
  NPLM_SENS_Z_MEDIAN_ERR = 3,/**< Error on NPLM_SENS_Z_MEDIAN from the error on the median t,
                                  sqrt(pi/2) sigma_t / sqrt(n), propagated through Z(t). */
  NPLM_SENS_T_MEDIAN = 4,    /**< Median t of the alternative toys. */
  NPLM_SENS_T_MEDIAN_ERR = 5,/**< sqrt(pi/2) sigma_t / sqrt(n). */
  NPLM_SENS_COUNT = 6        /**< Number of entries in this release. */
} nplm_sensitivity_key_t;

/** Sensitivity study: the median Z of toys with a signal injected, its 68% band and the error on
 *  the median. Quantiles interpolate linearly between order statistics.
 *  @param[in] t_alt  n_alt values of t on alternative (signal) toys, finite.
 *  @param n_alt      >= 1 (>= 2 for the errors).
 *  @param[in] t_null n_null null toys, or NULL with ::NPLM_PVALUE_CHI2.
 *  @param n_null     number of null toys.
 *  @param dof        dof for ::NPLM_PVALUE_CHI2 (ignored otherwise), > 0.
 *  @param method     an ::nplm_pvalue_method.
 *  @param[out] out   array filled with the ::nplm_sensitivity_key_t entries.
 *  @param n_out      length of @p out.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_sensitivity(const double *t_alt, size_t n_alt,
                                                         const double *t_null, size_t n_null,
                                                         double dof, int method, double *out,
                                                         size_t n_out);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NPLM_STATS_H */
