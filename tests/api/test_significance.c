/* Observed significance and sensitivity summaries, by hand on small samples. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "nplm/nplm.h"
#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(significance);
NPLM_LEAK_CHECKED_SUITE(sensitivity);

static const double toys[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

Test(significance, empirical_chi2_and_fitted_dof) {
  double r[NPLM_SIG_COUNT];
  cr_assert_eq(nplm_significance(toys, 10, 8.5, 13.0, r, NPLM_SIG_COUNT), NPLM_OK);
  /* two toys (9, 10) reach 8.5: p = (1 + 2) / (10 + 1) */
  cr_assert_eq(r[NPLM_SIG_P_EMPIRICAL], 3.0 / 11.0);
  cr_assert_eq(r[NPLM_SIG_Z_EMPIRICAL], nplm_z_from_p(3.0 / 11.0));
  cr_assert_eq(r[NPLM_SIG_P_CHI2], nplm_chi2_sf(8.5, 13.0));
  cr_assert_eq(r[NPLM_SIG_Z_CHI2], nplm_z_from_p(nplm_chi2_sf(8.5, 13.0)));
  double dof;
  cr_assert_eq(nplm_chi2_fit_dof(toys, 10, &dof), NPLM_OK);
  cr_assert_eq(r[NPLM_SIG_DOF_FIT], dof);
  cr_assert_eq(r[NPLM_SIG_P_CHI2_FIT], nplm_chi2_sf(8.5, dof));
  cr_assert_eq(r[NPLM_SIG_BEYOND_TOYS], 0.0);
  cr_assert_eq(r[NPLM_SIG_N_TOYS], 10.0);
  double stat, p;
  cr_assert_eq(nplm_ks_chi2(toys, 10, 13.0, &stat, &p), NPLM_OK);
  cr_assert_eq(r[NPLM_SIG_KS_P], p);
  cr_assert(r[NPLM_SIG_KS_P_FIT] > r[NPLM_SIG_KS_P], "the fitted dof describes the toys better");
}

Test(significance, beyond_every_toy_and_short_output) {
  double r[NPLM_SIG_COUNT];
  cr_assert_eq(nplm_significance(toys, 10, 25.0, 13.0, r, NPLM_SIG_COUNT), NPLM_OK);
  cr_assert_eq(r[NPLM_SIG_P_EMPIRICAL], 1.0 / 11.0);
  cr_assert_eq(r[NPLM_SIG_BEYOND_TOYS], 1.0);
  cr_assert(r[NPLM_SIG_P_CHI2] < 1.0 / 11.0, "the chi2 extrapolation goes beyond the bound");
  double short_out[4] = {-7, -7, -7, -7};
  cr_assert_eq(nplm_significance(toys, 10, 25.0, 13.0, short_out, 2), NPLM_OK);
  cr_assert_eq(short_out[0], 1.0 / 11.0);
  cr_assert_eq(short_out[2], -7.0, "only n_out entries are written");
  /* n_out = 0 with no buffer is allowed (it once passed NULL to memcpy: UB under UBSan) */
  cr_assert_eq(nplm_significance(toys, 10, 25.0, 13.0, NULL, 0), NPLM_OK);
  /* non-positive toys count in the empirical p but not in the dof fit */
  const double with_zero[11] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  double dof;
  cr_assert_eq(nplm_significance(with_zero, 11, 8.5, 13.0, r, NPLM_SIG_COUNT), NPLM_OK);
  cr_assert_eq(nplm_chi2_fit_dof(toys, 10, &dof), NPLM_OK);
  cr_assert_eq(r[NPLM_SIG_DOF_FIT], dof);
  cr_assert_eq(r[NPLM_SIG_P_EMPIRICAL], 3.0 / 12.0);
}

/* Toys at the largest double: their ML dof, 2 exp(mean log(t / 2)) up to a rounding of the
 * logarithm (~1e-13 relative), lands beyond it. The dof fit is one entry of the
 * summary, so it reads NaN (with its p, Z and KS p) and the rest is still computed; it used
 * to fail the whole call. */
Test(significance, unrepresentable_fitted_dof_is_nan) {
  const double huge[3] = {DBL_MAX, DBL_MAX, DBL_MAX};
  double dof, r[NPLM_SIG_COUNT];
  cr_assert_eq(nplm_chi2_fit_dof(huge, 3, &dof), NPLM_EINVAL, "precondition: the fit overflows");
  cr_assert_eq(nplm_significance(huge, 3, 1.7e308, 13.0, r, NPLM_SIG_COUNT), NPLM_OK, "%s",
               nplm_last_error());
  cr_assert_eq(r[NPLM_SIG_P_EMPIRICAL], 1.0); /* (1 + 3) / (3 + 1): every toy reaches t_obs */
  cr_assert_eq(r[NPLM_SIG_P_CHI2], nplm_chi2_sf(1.7e308, 13.0));
  cr_assert(isnan(r[NPLM_SIG_DOF_FIT]) && isnan(r[NPLM_SIG_P_CHI2_FIT]) &&
            isnan(r[NPLM_SIG_Z_CHI2_FIT]) && isnan(r[NPLM_SIG_KS_P_FIT]));
  cr_assert(r[NPLM_SIG_KS_P] >= 0.0 && r[NPLM_SIG_KS_P] <= 1.0);
  cr_assert_str_empty(nplm_last_error());
  /* the sensitivity's fitted-dof method has nothing to fall back on: an error naming it */
  double sv[NPLM_SENS_COUNT];
  cr_assert_eq(nplm_sensitivity(huge, 3, huge, 3, 13.0, NPLM_PVALUE_CHI2_FIT, sv, NPLM_SENS_COUNT),
               NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "not representable") != NULL, "%s", nplm_last_error());
}

Test(significance, bad_input) {
  double r[NPLM_SIG_COUNT], bad[3] = {1, NAN, 2};
  cr_assert_eq(nplm_significance(NULL, 3, 1, 13, r, NPLM_SIG_COUNT), NPLM_EINVAL);
  cr_assert_eq(nplm_significance(toys, 0, 1, 13, r, NPLM_SIG_COUNT), NPLM_EINVAL);
  cr_assert_eq(nplm_significance(bad, 3, 1, 13, r, NPLM_SIG_COUNT), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "t_null[1]") != NULL);
  cr_assert_eq(nplm_significance(toys, 10, NAN, 13, r, NPLM_SIG_COUNT), NPLM_EINVAL);
  cr_assert_eq(nplm_significance(toys, 10, 1, 0, r, NPLM_SIG_COUNT), NPLM_EINVAL);
  cr_assert_eq(nplm_significance(toys, 10, 1, 13, NULL, 3), NPLM_EINVAL);
}

/* t_alt = 1..9: median 5, 16% quantile 1 + 0.16 * 8 = 2.28, 84% quantile 7.72,
 * standard deviation sqrt(7.5), error on the median sqrt(pi/2) sqrt(7.5) / 3. */
Test(sensitivity, quantiles_and_error_by_hand) {
  const double alt[9] = {9, 1, 8, 2, 7, 3, 6, 4, 5};
  double r[NPLM_SENS_COUNT];
  cr_assert_eq(nplm_sensitivity(alt, 9, NULL, 0, 3.0, NPLM_PVALUE_CHI2, r, NPLM_SENS_COUNT),
               NPLM_OK);
  cr_assert_eq(nplm_sensitivity(alt, 9, NULL, 0, 3.0, NPLM_PVALUE_CHI2, NULL, 0), NPLM_OK);
  const double err = sqrt(acos(-1.0) / 2.0) * sqrt(7.5) / 3.0;
  cr_assert_eq(r[NPLM_SENS_T_MEDIAN], 5.0);
  cr_assert(fabs(r[NPLM_SENS_T_MEDIAN_ERR] - err) < 1e-15);
  cr_assert_eq(r[NPLM_SENS_Z_MEDIAN], nplm_z_from_p(nplm_chi2_sf(5.0, 3.0)));
  cr_assert(fabs(r[NPLM_SENS_Z_16] - nplm_z_from_p(nplm_chi2_sf(2.28, 3.0))) < 1e-12);
  cr_assert(fabs(r[NPLM_SENS_Z_84] - nplm_z_from_p(nplm_chi2_sf(7.72, 3.0))) < 1e-12);
  double zlo = nplm_z_from_p(nplm_chi2_sf(5.0 - err, 3.0));
  double zhi = nplm_z_from_p(nplm_chi2_sf(5.0 + err, 3.0));
  cr_assert(fabs(r[NPLM_SENS_Z_MEDIAN_ERR] - 0.5 * (zhi - zlo)) < 1e-12);
  /* empirical: the median 5 is reached by 6 of the 10 null toys */
  cr_assert_eq(nplm_sensitivity(alt, 9, toys, 10, 0, NPLM_PVALUE_EMPIRICAL, r, NPLM_SENS_COUNT),
               NPLM_OK);
  cr_assert_eq(r[NPLM_SENS_Z_MEDIAN], nplm_z_from_p(7.0 / 11.0));
  cr_assert_eq(nplm_sensitivity(alt, 9, toys, 10, 0, NPLM_PVALUE_CHI2_FIT, r, NPLM_SENS_COUNT),
               NPLM_OK);
  double dof;
  cr_assert_eq(nplm_chi2_fit_dof(toys, 10, &dof), NPLM_OK);
  cr_assert_eq(r[NPLM_SENS_Z_MEDIAN], nplm_z_from_p(nplm_chi2_sf(5.0, dof)));
}

Test(sensitivity, bad_input) {
  double r[NPLM_SENS_COUNT];
  const double alt[2] = {1, 2};
  cr_assert_eq(nplm_sensitivity(alt, 0, NULL, 0, 3, NPLM_PVALUE_CHI2, r, 6), NPLM_EINVAL);
  cr_assert_eq(nplm_sensitivity(alt, 2, NULL, 0, 3, 9, r, 6), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "method") != NULL);
  cr_assert_eq(nplm_sensitivity(alt, 2, NULL, 0, 3, NPLM_PVALUE_EMPIRICAL, r, 6), NPLM_EINVAL);
  cr_assert_eq(nplm_sensitivity(alt, 2, NULL, 0, -1, NPLM_PVALUE_CHI2, r, 6), NPLM_EINVAL);
  const double one[1] = {3};
  cr_assert_eq(nplm_sensitivity(alt, 2, one, 1, 0, NPLM_PVALUE_CHI2_FIT, r, 6), NPLM_EINVAL);
}
