/* Toy generation: the Poisson sampler's moments and the pool draws. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include <string.h>

#include "test/toys.h"
#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(poisson);
NPLM_LEAK_CHECKED_SUITE(toys);

static void check_moments(double mu, int n) {
  nplm__rng_t r;
  nplm__rng_init(&r, 9, nplm__rng_stream(NPLM__RNG_TOY, 1));
  double s = 0, s2 = 0;
  for (int i = 0; i < n; i++) {
    double k = (double)nplm__poisson(&r, mu);
    s += k;
    s2 += k * k;
  }
  double mean = s / n, var = s2 / n - mean * mean;
  /* mean within 5 standard errors; variance within 5% (n = 40000: its error is ~0.7%) */
  cr_assert(fabs(mean - mu) < 5 * sqrt(mu / n), "mu %g: mean %g", mu, mean);
  cr_assert(fabs(var / mu - 1) < 0.05, "mu %g: variance %g", mu, var);
}

Test(poisson, moments_small_and_large) {
  check_moments(0.7, 40000);
  check_moments(3.5, 40000);
  check_moments(25.0, 40000);
  check_moments(2000.0, 40000);
  check_moments(8500.0, 40000);
}

Test(poisson, probability_of_zero_and_degenerate_mean) {
  nplm__rng_t r;
  nplm__rng_init(&r, 1, 0);
  int zeros = 0;
  for (int i = 0; i < 20000; i++) zeros += nplm__poisson(&r, 1.0) == 0;
  cr_assert(fabs(zeros / 20000.0 - exp(-1.0)) < 0.015, "P(0) = %g", zeros / 20000.0);
  cr_assert_eq(nplm__poisson(&r, 0.0), 0u);
  cr_assert_eq(nplm__poisson(&r, -1.0), 0u);
}

Test(toys, pool_draws_are_reproducible_and_weighted) {
  const double x[4] = {10, 20, 30, 40}, cum[4] = {1, 1, 4, 4}; /* weights 1, 0, 3, 0 */
  nplm__toy_pool_t pool = {x, 4, 1, cum};
  double *a = NULL, *b = NULL;
  size_t na, nb;
  cr_assert_eq(nplm__toy_draw(&pool, 3, 17, 4000.0, &a, &na), NPLM_OK);
  cr_assert_eq(nplm__toy_draw(&pool, 3, 17, 4000.0, &b, &nb), NPLM_OK);
  cr_assert_eq(na, nb);
  cr_assert(memcmp(a, b, na * sizeof *a) == 0);
  size_t n10 = 0, n30 = 0;
  for (size_t i = 0; i < na; i++) {
    n10 += a[i] == 10;
    n30 += a[i] == 30;
  }
  cr_assert_eq(n10 + n30, na, "zero-weight events are never drawn");
  cr_assert(fabs((double)n30 / (double)na - 0.75) < 0.03, "fraction %g", (double)n30 / (double)na);
  nplm__free(a);
  nplm__free(b);
  nplm__toy_pool_t uni = {x, 4, 1, NULL};
  cr_assert_eq(nplm__toy_draw(&uni, 3, 18, 4000.0, &a, &na), NPLM_OK);
  size_t counts[4] = {0};
  for (size_t i = 0; i < na; i++) counts[(size_t)(a[i] / 10) - 1]++;
  for (int k = 0; k < 4; k++) cr_assert(fabs((double)counts[k] / (double)na - 0.25) < 0.03);
  nplm__free(a);
}
