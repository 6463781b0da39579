/* Systematics: the nuisance handle, log r on the exact 1D oracle (reference Exp(1), scale
 * nuisance x -> x e^nu: log r = x (1 - e^-nu) - nu, delta_1 = x - 1, delta_2 = -x/2), Delta by
 * hand for a normalisation nuisance, and t = tau - Delta absorbing a scale shift of the data. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nplm/nplm.h"
#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(nuisance);
NPLM_LEAK_CHECKED_SUITE(systematics);

/* the oracle's Taylor coefficients in absolute units */
static int oracle(void *user, unsigned power, const double *x, size_t n, size_t d, double *out) {
  int *calls = user;
  if (calls) (*calls)++;
  if (d != 1) return 1;
  for (size_t i = 0; i < n; i++) out[i] = power == 1 ? x[i] - 1.0 : power == 2 ? -0.5 * x[i] : 0.0;
  return 0;
}

static int failing(void *user, unsigned power, const double *x, size_t n, size_t d, double *out) {
  (void)user, (void)power, (void)x, (void)n, (void)d, (void)out;
  return 3;
}

static int calls_sentinel;

Test(nuisance, handle_and_log_ratio_on_the_oracle) {
  nplm_nuisance_t *nu = NULL;
  cr_assert_eq(nplm_nuisance_create(&nu, 1), NPLM_OK);
  size_t is = 9, in = 9;
  cr_assert_eq(nplm_nuisance_add_shape_known(nu, 0.05, 2, oracle, NULL, &is), NPLM_OK);
  cr_assert_eq(nplm_nuisance_add_norm(nu, 0.025, &in), NPLM_OK);
  cr_assert(is == 0 && in == 1);
  cr_assert_eq(nplm_nuisance_count(nu), 2u);
  const double x[4] = {0.0, 0.5, 2.0, 7.5}, v[2] = {0.1, -0.03};
  double lr[4];
  cr_assert_eq(nplm_nuisance_log_ratio(nu, v, x, 4, 1, lr), NPLM_OK);
  for (int i = 0; i < 4; i++) {
    double second_order = (x[i] - 1) * 0.1 - 0.5 * x[i] * 0.01 - 0.03;
    cr_assert(fabs(lr[i] - second_order) < 1e-15, "%g vs %g", lr[i], second_order);
    double exact = x[i] * (1 - exp(-0.1)) - 0.1 - 0.03; /* the expansion is close to exact */
    cr_assert(fabs(lr[i] - exact) < 2e-3 * (1 + x[i]));
  }
  /* bad input */
  cr_assert_eq(nplm_nuisance_add_norm(nu, 0.0, NULL), NPLM_EINVAL);
  cr_assert_eq(nplm_nuisance_add_norm(nu, NAN, NULL), NPLM_EINVAL);
  cr_assert_eq(nplm_nuisance_add_shape_known(nu, 0.1, 0, oracle, NULL, NULL), NPLM_EINVAL);
  cr_assert_eq(nplm_nuisance_add_shape_known(nu, 0.1, 9, oracle, NULL, NULL), NPLM_EINVAL);
  cr_assert_eq(nplm_nuisance_add_shape_known(nu, 0.1, 1, NULL, NULL, NULL), NPLM_EINVAL);
  cr_assert_eq(nplm_nuisance_set_aux(nu, 2, 0.1), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "index") != NULL);
  cr_assert_eq(nplm_nuisance_set_aux(nu, 1, INFINITY), NPLM_EINVAL);
  cr_assert_eq(nplm_nuisance_log_ratio(nu, v, x, 4, 2, lr), NPLM_EINVAL);
  const double vnan[2] = {0.1, NAN};
  cr_assert_eq(nplm_nuisance_log_ratio(nu, vnan, x, 4, 1, lr), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "nu_values[1]") != NULL);
  cr_assert_eq(nplm_nuisance_count(nu), 2u, "failed calls add nothing");
  nplm_nuisance_free(nu);
  nu = NULL;
  nplm_nuisance_t *zero_d = (nplm_nuisance_t *)&calls_sentinel;
  cr_assert_eq(nplm_nuisance_create(&zero_d, 0), NPLM_EINVAL);
  cr_assert_null(zero_d);
  nplm_nuisance_t *bad = NULL;
  cr_assert_eq(nplm_nuisance_create(&bad, 1), NPLM_OK);
  cr_assert_eq(nplm_nuisance_add_shape_known(bad, 0.1, 1, failing, NULL, NULL), NPLM_OK);
  cr_assert_eq(nplm_nuisance_log_ratio(bad, v, x, 4, 1, lr), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "callback") != NULL);
  nplm_nuisance_free(bad);
  nplm_nuisance_free(NULL);
  nplm_nuisance_t *again = NULL;
  cr_assert_eq(nplm_nuisance_create(&again, 1), NPLM_OK);
  nplm_nuisance_free(again);
}

static double expo(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return -log(((double)(*s >> 11) + 0.5) * 0x1.0p-53);
}

enum { N_REF = 40000 };
static double g_ref[N_REF];

/* a linear model f = w x + b: the loss is convex, so fits with and without nuisances meet */
static nplm_test_t *linear_test(nplm_nuisance_t *nu, nplm_model_t **family, double n_exp) {
  uint64_t s = 5;
  for (int i = 0; i < N_REF; i++) g_ref[i] = expo(&s);
  const size_t layers[] = {1, 1};
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_model_create_mlp(family, layers, 2, 100.0), NPLM_OK);
  cr_assert_eq(nplm_test_create(&t, *family, nu), NPLM_OK, "%s", nplm_last_error());
  cr_assert_eq(nplm_test_set_reference(t, g_ref, N_REF, 1, NULL, n_exp), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, 2), NPLM_OK);
  return t;
}

/* Delta for a normalisation nuisance alone: L[0, nu] = N(R0) (e^nu - 1) - N_D nu +
 * ((nu - nu0)^2 - nu0^2) / (2 sigma^2), minimised by hand with Newton's method. */
Test(systematics, delta_of_a_normalisation_by_hand) {
  nplm_nuisance_t *nu = NULL;
  cr_assert_eq(nplm_nuisance_create(&nu, 1), NPLM_OK);
  cr_assert_eq(nplm_nuisance_add_norm(nu, 0.05, NULL), NPLM_OK);
  cr_assert_eq(nplm_nuisance_set_aux(nu, 0, 0.02), NPLM_OK);
  nplm_model_t *family = NULL;
  nplm_test_t *t = linear_test(nu, &family, 1000.0);
  double data[1100];
  uint64_t s = 77;
  for (int i = 0; i < 1100; i++) data[i] = expo(&s);
  double tv, tau, delta, nud;
  nplm_status_t st = nplm_test_run(t, data, 1100, 1, NULL, &tv);
  cr_assert(st == NPLM_OK, "%s", nplm_test_last_error(t));
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_TAU, &tau), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_DELTA, &delta), NPLM_OK);
  cr_assert_eq(nplm_test_nuisances(t, NPLM_FIT_DELTA, &nud, 1), NPLM_OK);
  cr_assert_eq(tv, tau - delta);
  const double NR = 1000, ND = 1100, sg = 0.05, nu0 = 0.02;
  double v = 0;
  for (int it = 0; it < 50; it++) {
    double g = NR * exp(v) - ND + (v - nu0) / (sg * sg), h = NR * exp(v) + 1 / (sg * sg);
    v -= g / h;
  }
  double Lmin = NR * (exp(v) - 1) - ND * v + ((v - nu0) * (v - nu0) - nu0 * nu0) / (2 * sg * sg);
  cr_assert(fabs(nud - v) < 1e-6, "nu-hat %.10g vs %.10g", nud, v);
  cr_assert(fabs(delta - (-2 * Lmin)) < 1e-6 * fabs(Lmin), "Delta %.10g vs %.10g", delta,
            -2 * Lmin);
  /* the network's free output bias absorbs a normalisation: tau = t without nuisances +
     nu0^2 / sigma^2 (the aux term at its minimum) */
  nplm_model_t *f2 = NULL;
  nplm_test_t *plain = linear_test(NULL, &f2, 1000.0);
  double tp;
  cr_assert_eq(nplm_test_run(plain, data, 1100, 1, NULL, &tp), NPLM_OK);
  cr_assert(fabs(tau - (tp + nu0 * nu0 / (sg * sg))) < 1e-5 * tp, "tau %.10g, plain %.10g", tau,
            tp);
  double nut;
  cr_assert_eq(nplm_test_nuisances(t, NPLM_FIT_TAU, &nut, 1), NPLM_OK);
  cr_assert(fabs(nut - nu0) < 1e-4, "in tau nu sits at its aux value: %g", nut);
  cr_assert_eq(nplm_test_nuisances(t, 5, &nut, 1), NPLM_EINVAL);
  /* moving the aux value moves Delta's nu-hat towards it */
  cr_assert_eq(nplm_test_set_aux(t, 0, 0.2), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, data, 1100, 1, NULL, &tv), NPLM_OK);
  double nud2;
  cr_assert_eq(nplm_test_nuisances(t, NPLM_FIT_DELTA, &nud2, 1), NPLM_OK);
  cr_assert(nud2 > nud + 0.01, "%g vs %g", nud2, nud);
  cr_assert_eq(nplm_test_set_aux(t, 3, 0.2), NPLM_EINVAL);
  cr_assert_eq(nplm_test_set_aux(plain, 0, 0.2), NPLM_EINVAL);
  cr_assert_eq(nplm_test_nuisances(t, NPLM_FIT_TAU, &nut, 2), NPLM_EINVAL);
  nplm_test_free(plain);
  nplm_model_free(f2);
  nplm_test_free(t);
  nplm_model_free(family);
  nplm_nuisance_free(nu);
}

/* Data whose scale is shifted by nu* = 0.12 (x -> x e^nu*): without nuisances the test sees a
 * large t; with the oracle scale nuisance Delta absorbs it and fits nu near nu*. */
Test(systematics, tau_minus_delta_absorbs_a_scale_shift) {
  int calls = 0;
  nplm_nuisance_t *nu = NULL;
  cr_assert_eq(nplm_nuisance_create(&nu, 1), NPLM_OK);
  cr_assert_eq(nplm_nuisance_add_shape_known(nu, 1.0, 2, oracle, &calls, NULL), NPLM_OK);
  nplm_model_t *family = NULL, *f2 = NULL;
  nplm_test_t *t = linear_test(nu, &family, 4000.0);
  nplm_test_t *plain = linear_test(NULL, &f2, 4000.0);
  cr_assert_eq(calls, 2, "coefficients are computed once per sample (2 powers)");
  enum { ND = 4000 };
  static double data[ND];
  uint64_t s = 123;
  for (int i = 0; i < ND; i++) data[i] = expo(&s) * exp(0.12);
  double t_sys, t_plain, nud;
  cr_assert_eq(nplm_test_run(t, data, ND, 1, NULL, &t_sys), NPLM_OK, "%s", nplm_test_last_error(t));
  cr_assert_eq(calls, 4);
  cr_assert_eq(nplm_test_run(plain, data, ND, 1, NULL, &t_plain), NPLM_OK);
  cr_assert_eq(nplm_test_nuisances(t, NPLM_FIT_DELTA, &nud, 1), NPLM_OK);
  cr_assert(fabs(nud - 0.12) < 0.05, "nu-hat %g (statistical error ~0.016)", nud);
  cr_assert(t_plain > 40.0, "a 12%% scale shift of 4000 events is seen without nuisances: %g",
            t_plain);
  cr_assert(t_sys < 0.25 * t_plain && t_sys >= -1e-6, "t = tau - Delta = %g vs %g", t_sys,
            t_plain);
  nplm_test_free(plain);
  nplm_model_free(f2);
  nplm_test_free(t);
  nplm_model_free(family);
  nplm_nuisance_free(nu);
}

Test(systematics, dimension_mismatch_is_refused) {
  nplm_nuisance_t *nu = NULL;
  cr_assert_eq(nplm_nuisance_create(&nu, 2), NPLM_OK);
  const size_t layers[] = {1, 1};
  nplm_model_t *m = NULL;
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_model_create_mlp(&m, layers, 2, 1.0), NPLM_OK);
  cr_assert_eq(nplm_test_create(&t, m, nu), NPLM_EINVAL);
  cr_assert_null(t);
  nplm_model_free(m);
  nplm_nuisance_free(nu);
}

/* Learned coefficients on the oracle: samples at nu_i = x e^nu_i of Exp(1); the learned
 * log r must be close to the exact x (1 - e^-nu) - nu on reference-distributed x, and
 * delta_1, delta_2 close to x - 1 and -x/2. */
Test(nuisance, learned_coefficients_reproduce_the_oracle) {
  enum { N = 25000, NV = 4 };
  static double x0[N], xv[NV][N];
  const double nus[NV] = {-0.5, -0.25, 0.25, 0.5};
  uint64_t s = 2024;
  for (int i = 0; i < N; i++) x0[i] = expo(&s);
  for (int v = 0; v < NV; v++)
    for (int i = 0; i < N; i++) xv[v][i] = expo(&s) * exp(nus[v]);
  const double *xs[NV] = {xv[0], xv[1], xv[2], xv[3]};
  const size_t ns[NV] = {N, N, N, N}, layers[] = {1, 4, 1};
  nplm_nuisance_t *nu = NULL;
  size_t idx;
  cr_assert_eq(nplm_nuisance_create(&nu, 1), NPLM_OK);
  cr_assert_eq(nplm_nuisance_add_shape(nu, 0.1, 2, layers, 3, &idx), NPLM_OK);
  const double probe_x[1] = {1.0};
  double lr1[1], v1[1] = {0.1};
  cr_assert_eq(nplm_nuisance_log_ratio(nu, v1, probe_x, 1, 1, lr1), NPLM_ESTATE,
               "not learned yet");
  double tl, vl;
  cr_assert_eq(nplm_nuisance_learned_loss(nu, idx, &tl, &vl), NPLM_ESTATE);
  cr_assert_eq(nplm_nuisance_learn(nu, idx, 1, x0, N, NULL, NV, nus, xs, ns, NULL), NPLM_OK, "%s",
               nplm_last_error());
  cr_assert_eq(nplm_nuisance_learned_loss(nu, idx, &tl, &vl), NPLM_OK);
  cr_assert(isfinite(tl) && isfinite(vl) && vl > 0);
  /* log r at +-0.1 on reference-distributed x */
  enum { M = 2000 };
  static double xr[M], lr[M];
  for (int i = 0; i < M; i++) xr[i] = expo(&s);
  for (int sign = -1; sign <= 1; sign += 2) {
    double v[1] = {0.1 * sign}, err = 0, scale = 0;
    cr_assert_eq(nplm_nuisance_log_ratio(nu, v, xr, M, 1, lr), NPLM_OK);
    for (int i = 0; i < M; i++) {
      double exact = xr[i] * (1 - exp(-v[0])) - v[0];
      err += fabs(lr[i] - exact);
      scale += fabs(exact);
    }
    cr_assert(err / scale < 0.1, "nu = %g: mean relative error of log r %g", v[0], err / scale);
  }
  /* delta_1 and delta_2 from log r at nu = +-1 (log r is exactly quadratic in nu) */
  const double px[5] = {0.25, 0.5, 1.0, 2.0, 3.0};
  double lp[5], lm[5], vp[1] = {1.0}, vm[1] = {-1.0};
  cr_assert_eq(nplm_nuisance_log_ratio(nu, vp, px, 5, 1, lp), NPLM_OK);
  cr_assert_eq(nplm_nuisance_log_ratio(nu, vm, px, 5, 1, lm), NPLM_OK);
  for (int i = 0; i < 5; i++) {
    double d1 = 0.5 * (lp[i] - lm[i]), d2 = 0.5 * (lp[i] + lm[i]);
    cr_log_info("x = %g: delta_1 %g (x - 1 = %g), delta_2 %g (-x/2 = %g)", px[i], d1, px[i] - 1,
                d2, -0.5 * px[i]);
    cr_assert(fabs(d1 - (px[i] - 1)) < 0.1 + 0.1 * fabs(px[i] - 1), "delta_1(%g) = %g", px[i], d1);
    /* delta_2 is a second-order effect (nu^2 x / 2 <= 0.125 x here): statistically loose */
    cr_assert(fabs(d2 + 0.5 * px[i]) < 0.3 + 0.3 * px[i], "delta_2(%g) = %g", px[i], d2);
  }
  /* save and load: the same log r, bit for bit; every corruption and truncation is refused */
  cr_assert_eq(nplm_nuisance_add_norm(nu, 0.025, NULL), NPLM_OK);
  cr_assert_eq(nplm_nuisance_set_aux(nu, 1, 0.01), NPLM_OK);
  char path[64];
  snprintf(path, sizeof path, "/tmp/nplm-nuis-%d.bin", (int)getpid());
  cr_assert_eq(nplm_nuisance_save(nu, path), NPLM_OK, "%s", nplm_last_error());
  nplm_nuisance_t *back = NULL;
  cr_assert_eq(nplm_nuisance_load(&back, path), NPLM_OK, "%s", nplm_last_error());
  cr_assert_eq(nplm_nuisance_count(back), 2u);
  double v2[2] = {0.2, -0.01}, a[M], b[M];
  cr_assert_eq(nplm_nuisance_log_ratio(nu, v2, xr, M, 1, a), NPLM_OK);
  cr_assert_eq(nplm_nuisance_log_ratio(back, v2, xr, M, 1, b), NPLM_OK);
  cr_assert(memcmp(a, b, sizeof a) == 0);
  cr_assert_eq(nplm_nuisance_learned_loss(back, 0, &tl, NULL), NPLM_OK);
  nplm_nuisance_free(back);
  FILE *f = fopen(path, "rb");
  static unsigned char good[4096];
  size_t len = fread(good, 1, sizeof good, f);
  fclose(f);
  cr_assert(len > 100 && len < sizeof good);
  for (size_t cut = 0; cut < len; cut += 7) {
    f = fopen(path, "wb");
    fwrite(good, 1, cut, f);
    fclose(f);
    cr_assert_eq(nplm_nuisance_load(&back, path), NPLM_EFORMAT, "truncated at %zu", cut);
    cr_assert_null(back);
  }
  for (size_t i = 0; i < len; i += 3) {
    good[i] ^= 0x10;
    f = fopen(path, "wb");
    fwrite(good, 1, len, f);
    fclose(f);
    good[i] ^= 0x10;
    cr_assert_eq(nplm_nuisance_load(&back, path), NPLM_EFORMAT, "flipped byte %zu", i);
  }
  remove(path);
  cr_assert_eq(nplm_nuisance_load(&back, path), NPLM_EIO);
  nplm_nuisance_t *known = NULL;
  cr_assert_eq(nplm_nuisance_create(&known, 1), NPLM_OK);
  cr_assert_eq(nplm_nuisance_add_shape_known(known, 0.1, 1, oracle, NULL, NULL), NPLM_OK);
  cr_assert_eq(nplm_nuisance_save(known, path), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "callback") != NULL);
  nplm_nuisance_free(known);
  nplm_nuisance_free(nu);
}

/* Binned order study: a pure yield change (weights e^nu) is exactly first order; the oracle's
 * scale change needs the second order. */
Test(nuisance, binned_study_recommends_the_order) {
  enum { N = 40000, NV = 4 };
  static double x0[N], xv[NV][N], wv[NV][N];
  const double nus[NV] = {-0.5, -0.25, 0.25, 0.5};
  uint64_t s = 99;
  for (int i = 0; i < N; i++) x0[i] = expo(&s);
  double edges[11];
  for (int b = 0; b <= 10; b++) edges[b] = 0.4 * b;
  double chi2[3], p[3];
  unsigned order = 0;
  /* yield: the nominal events with weights e^nu */
  const double *xs_yield[NV] = {x0, x0, x0, x0};
  for (int v = 0; v < NV; v++)
    for (int i = 0; i < N; i++) wv[v][i] = exp(nus[v]);
  const double *ws[NV] = {wv[0], wv[1], wv[2], wv[3]};
  const size_t ns[NV] = {N, N, N, N};
  cr_assert_eq(nplm_nuisance_binned_study(x0, N, NULL, 1, 0, edges, 10, NV, nus, xs_yield, ns, ws,
                                          3, chi2, p, &order), NPLM_OK, "%s", nplm_last_error());
  cr_assert_eq(order, 1u);
  cr_assert(chi2[0] < 1e-12, "exact first order: chi2 %g", chi2[0]);
  /* scale: x -> x e^nu */
  for (int v = 0; v < NV; v++)
    for (int i = 0; i < N; i++) xv[v][i] = expo(&s) * exp(nus[v]);
  const double *xs[NV] = {xv[0], xv[1], xv[2], xv[3]};
  cr_assert_eq(nplm_nuisance_binned_study(x0, N, NULL, 1, 0, edges, 10, NV, nus, xs, ns, NULL, 3,
                                          chi2, p, &order), NPLM_OK);
  cr_assert(order >= 2, "the scale nuisance is not linear: order %u (chi2 %g %g %g)", order,
            chi2[0], chi2[1], chi2[2]);
  cr_assert(chi2[0] > chi2[1] && chi2[1] >= chi2[2]);
  cr_assert(p[0] < 1e-6, "first order is excluded: p %g", p[0]);
  /* bad input */
  cr_assert_eq(nplm_nuisance_binned_study(x0, N, NULL, 1, 1, edges, 10, NV, nus, xs, ns, NULL, 3,
                                          chi2, p, &order), NPLM_EINVAL);
  edges[3] = edges[2];
  cr_assert_eq(nplm_nuisance_binned_study(x0, N, NULL, 1, 0, edges, 10, NV, nus, xs, ns, NULL, 3,
                                          chi2, p, &order), NPLM_EINVAL);
  cr_assert(strstr(nplm_last_error(), "edges[3]") != NULL);
}

/* Toys with their own auxiliary measurement: the generator sets nu0 for a toy, and that toy's
 * t equals a plain run on the same events with the same nu0 and seed (toy 0 is initialised like
 * a run with NPLM_OPT_SEED = seed). */
typedef struct aux_gen {
  nplm_status_t bad_index_status;
} aux_gen_t;

static int gen_with_aux(void *user, uint64_t toy, uint64_t seed, nplm_toy_t *out) {
  aux_gen_t *g = user;
  double x[1100];
  uint64_t s = seed * 7919u + toy;
  for (int i = 0; i < 1100; i++) x[i] = expo(&s);
  if (nplm_toy_set_events(out, x, 1100, 1, NULL) != NPLM_OK) return 1;
  if (toy == 0 && nplm_toy_set_aux(out, 0, 0.07) != NPLM_OK) return 2;
  g->bad_index_status = nplm_toy_set_aux(out, 3, 0.1);
  return 0;
}

Test(systematics, toys_carry_their_own_aux_values) {
  nplm_nuisance_t *nu = NULL;
  cr_assert_eq(nplm_nuisance_create(&nu, 1), NPLM_OK);
  cr_assert_eq(nplm_nuisance_add_norm(nu, 0.05, NULL), NPLM_OK);
  nplm_model_t *family = NULL;
  nplm_test_t *t = linear_test(nu, &family, 1000.0);
  aux_gen_t g = {NPLM_OK};
  double tn[2];
  cr_assert_eq(nplm_test_calibrate_with(t, gen_with_aux, &g, 2, 31, tn), NPLM_OK, "%s",
               nplm_test_last_error(t));
  cr_assert_eq(g.bad_index_status, NPLM_EINVAL);
  double x[1100], tv;
  uint64_t s = 31u * 7919u + 0;
  for (int i = 0; i < 1100; i++) x[i] = expo(&s);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_SEED, 31), NPLM_OK);
  cr_assert_eq(nplm_test_set_aux(t, 0, 0.07), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, x, 1100, 1, NULL, &tv), NPLM_OK);
  cr_assert_eq(tv, tn[0], "toy 0 with nu0 = 0.07: %.17g vs run %.17g", tn[0], tv);
  cr_assert_eq(nplm_test_set_aux(t, 0, 0.0), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, x, 1100, 1, NULL, &tv), NPLM_OK);
  cr_assert_neq(tv, tn[0], "the aux value matters");
  nplm_test_free(t);
  nplm_model_free(family);
  nplm_nuisance_free(nu);
}
