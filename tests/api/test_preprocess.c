/* Input preprocessing: the maps on hand-computed samples (both modes, weighted), the published
 * recipe's three cases, apply as the inverse check, and every bad-input path. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nplm/nplm.h"
#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(preprocess);

/* 4 events, 3 features: a positive feature above 1 (mean 25), a signed one (mean 0,
 * variance 2.5), one inside [0, 1] */
static const double X[12] = {10, -2, 0.5,  20, -1, 0.25,  30, 1, 0.75,  40, 2, 0.5};

Test(preprocess, published_recipe_by_hand) {
  double shift[3], scale[3];
  cr_assert_eq(nplm_preprocess_fit(X, 4, 3, NULL, NPLM_PREPROCESS_NPLM, shift, scale), NPLM_OK);
  cr_assert_eq(shift[0], 0.0);
  cr_assert_float_eq(scale[0], 1.0 / 25.0, 1e-16);                    /* x / mean */
  cr_assert_float_eq(shift[1], 0.0, 1e-16);
  cr_assert_float_eq(scale[1], 1.0 / sqrt(2.5), 1e-15);               /* standardised */
  cr_assert_eq(shift[2], 0.0);
  cr_assert_eq(scale[2], 1.0);                                        /* left alone */
  double y[12];
  memcpy(y, X, sizeof y);
  cr_assert_eq(nplm_preprocess_apply(y, 4, 3, shift, scale), NPLM_OK);
  cr_assert_float_eq(y[0], 0.4, 1e-15);
  cr_assert_float_eq(y[9], 1.6, 1e-15);
  cr_assert_float_eq(y[4], -1.0 / sqrt(2.5), 1e-15);
  cr_assert_eq(y[11], 0.5);
}

Test(preprocess, weighted_standardisation_by_hand) {
  /* weights 1, 0, 1, 2. Feature 0: mean (10 + 30 + 80) / 4 = 30, variance (400 + 0 + 200) / 4
   * = 150. Feature 2: mean (0.5 + 0.75 + 1) / 4 = 0.5625, variance (0.0625^2 + 0.1875^2 +
   * 2 0.0625^2) / 4 = 0.01171875. */
  const double w[4] = {1, 0, 1, 2};
  double shift[3], scale[3];
  cr_assert_eq(nplm_preprocess_fit(X, 4, 3, w, NPLM_PREPROCESS_STANDARD, shift, scale), NPLM_OK);
  cr_assert_float_eq(shift[0], 30.0, 1e-14);
  cr_assert_float_eq(scale[0], 1.0 / sqrt(150.0), 1e-16);
  cr_assert_float_eq(shift[2], 0.5625, 1e-16);
  cr_assert_float_eq(scale[2], 1.0 / sqrt(0.01171875), 1e-13);
  /* weights 1, 0, 0, 3 leave feature 2 without spread (0.5 and 0.5): refused */
  const double w2[4] = {1, 0, 0, 3};
  cr_assert_eq(nplm_preprocess_fit(X, 4, 3, w2, NPLM_PREPROCESS_STANDARD, shift, scale),
               NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "feature 2"), "%s", nplm_last_error());
}

Test(preprocess, standardised_sample_has_mean_zero_and_unit_deviation) {
  enum { N = 1000 };
  static double x[2 * N];
  for (int i = 0; i < N; i++) {
    x[2 * i] = 20.0 + 0.37 * i + 5.0 * sin(i);  /* pT-like */
    x[2 * i + 1] = 2.4 * cos(0.7 * i);           /* eta-like */
  }
  double shift[2], scale[2];
  cr_assert_eq(nplm_preprocess_fit(x, N, 2, NULL, NPLM_PREPROCESS_STANDARD, shift, scale), NPLM_OK);
  cr_assert_eq(nplm_preprocess_apply(x, N, 2, shift, scale), NPLM_OK);
  for (int j = 0; j < 2; j++) {
    double m = 0, v = 0;
    for (int i = 0; i < N; i++) m += x[2 * i + j];
    m /= N;
    for (int i = 0; i < N; i++) v += (x[2 * i + j] - m) * (x[2 * i + j] - m);
    cr_assert(fabs(m) < 1e-13, "feature %d: mean %g", j, m);
    cr_assert(fabs(v / N - 1.0) < 1e-13, "feature %d: variance %g", j, v / N);
  }
}

Test(preprocess, bad_input_names_the_argument_and_leaves_outputs) {
  double shift[3] = {7, 7, 7}, scale[3] = {7, 7, 7};
  const int m = NPLM_PREPROCESS_NPLM;
  cr_assert_eq(nplm_preprocess_fit(NULL, 4, 3, NULL, m, shift, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "x is NULL"));
  cr_assert_eq(nplm_preprocess_fit(X, 4, 3, NULL, m, NULL, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "shift"));
  cr_assert_eq(nplm_preprocess_fit(X, 4, 3, NULL, m, shift, NULL), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "scale"));
  cr_assert_eq(nplm_preprocess_fit(X, 0, 3, NULL, m, shift, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "n = 0"));
  cr_assert_eq(nplm_preprocess_fit(X, 4, 0, NULL, m, shift, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "d = 0"));
  cr_assert_eq(nplm_preprocess_fit(X, 4, 3, NULL, 2, shift, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "mode 2"));
  double bad[12];
  memcpy(bad, X, sizeof bad);
  bad[7] = NAN;
  cr_assert_eq(nplm_preprocess_fit(bad, 4, 3, NULL, m, shift, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "x[7] (event 2, feature 1)"), "%s", nplm_last_error());
  const double wneg[4] = {1, 1, -1, 1}, w0[4] = {0, 0, 0, 0}, winf[4] = {1, INFINITY, 1, 1};
  cr_assert_eq(nplm_preprocess_fit(X, 4, 3, wneg, m, shift, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "w[2]"));
  cr_assert_eq(nplm_preprocess_fit(X, 4, 3, winf, m, shift, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "w[1]"));
  cr_assert_eq(nplm_preprocess_fit(X, 4, 3, w0, m, shift, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "sum to 0"));
  /* a constant signed feature cannot be standardised; in the recipe a constant positive one
   * is divided by its mean, under STANDARD it is refused */
  const double c[6] = {-1, 5, -1, 5, -1, 5};
  cr_assert_eq(nplm_preprocess_fit(c, 3, 2, NULL, m, shift, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "feature 0"), "%s", nplm_last_error());
  const double c2[6] = {-1, 5, 1, 5, 0, 5};
  cr_assert_eq(nplm_preprocess_fit(c2, 3, 2, NULL, NPLM_PREPROCESS_STANDARD, shift, scale),
               NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "feature 1"), "%s", nplm_last_error());
  /* constant features whose computed spread is rounding of the mean, ~1e-17 (they were once
   * standardised with a scale of 7e16) */
  const double k1[3] = {0.1, 0.1, 0.1}, k2[3] = {-0.1, -0.1, -0.1};
  cr_assert_eq(nplm_preprocess_fit(k1, 3, 1, NULL, NPLM_PREPROCESS_STANDARD, shift, scale),
               NPLM_EINVAL);
  cr_assert_eq(nplm_preprocess_fit(k2, 3, 1, NULL, m, shift, scale), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "no spread"), "%s", nplm_last_error());
  /* all weight on x = 0 of a feature that exceeds 1 elsewhere: no finite map */
  const double z[4] = {0, 1, 3, 1}, wz[2] = {1, 0};
  cr_assert_eq(nplm_preprocess_fit(z, 2, 2, wz, m, shift, scale), NPLM_EINVAL);
  for (int j = 0; j < 3; j++) cr_assert(shift[j] == 7 && scale[j] == 7, "outputs touched");
  cr_assert_eq(nplm_preprocess_fit(c2, 3, 2, NULL, m, shift, scale), NPLM_OK);
  cr_assert_float_eq(scale[1], 0.2, 1e-16);

  double y[12], sh[3] = {0, 0, 0}, sc[3] = {1, 1, 1};
  memcpy(y, X, sizeof y);
  cr_assert_eq(nplm_preprocess_apply(NULL, 4, 3, sh, sc), NPLM_EINVAL);
  cr_assert_eq(nplm_preprocess_apply(NULL, 0, 3, sh, sc), NPLM_OK);
  cr_assert_eq(nplm_preprocess_apply(y, 4, 0, sh, sc), NPLM_EINVAL);
  cr_assert_eq(nplm_preprocess_apply(y, 4, 3, NULL, sc), NPLM_EINVAL);
  cr_assert_eq(nplm_preprocess_apply(y, 4, 3, sh, NULL), NPLM_EINVAL);
  sc[2] = NAN;
  cr_assert_eq(nplm_preprocess_apply(y, 4, 3, sh, sc), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "scale[2]"));
  cr_assert(memcmp(y, X, sizeof y) == 0, "x changed on failure");
}
