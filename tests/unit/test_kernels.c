/* The MLP block kernels: exp accuracy, loss and gradient against an independent scalar
 * implementation and against central finite differences, and identical bits on every
 * instruction-set path. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/mlp.h"
#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(exp);
NPLM_LEAK_CHECKED_SUITE(loss);
NPLM_LEAK_CHECKED_SUITE(gradient);
NPLM_LEAK_CHECKED_SUITE(dispatch);
NPLM_LEAK_CHECKED_SUITE(spec);


static uint64_t lcg_state = 88172645463325252ull;
static double urand(void) { /* uniform in [0, 1) */
  lcg_state ^= lcg_state << 13;
  lcg_state ^= lcg_state >> 7;
  lcg_state ^= lcg_state << 17;
  return (double)(lcg_state >> 11) * 0x1.0p-53;
}

/* Independent reference: per event, plain loops and libm exp. */
static double ref_forward(const nplm__mlp_spec_t *s, const double *p, const double *xe,
                          double act[][64]) {
  for (size_t i = 0; i < s->units[0]; i++) act[0][i] = xe[i];
  for (size_t l = 1; l < s->n_layers; l++) {
    for (size_t j = 0; j < s->units[l]; j++) {
      double z = p[s->b_off[l] + j];
      for (size_t i = 0; i < s->units[l - 1]; i++)
        z += p[s->w_off[l] + j * s->units[l - 1] + i] * act[l - 1][i];
      act[l][j] = l + 1 < s->n_layers ? 1.0 / (1.0 + exp(-z)) : z;
    }
  }
  return act[s->n_layers - 1][0];
}

/* loss and gradient of sum_e ca (e^f - 1) - cb f over events stored row-major */
static double ref_loss_grad(const nplm__mlp_spec_t *s, const double *p, const double *x, size_t n,
                            const double *ca, const double *cb, double *g) {
  double act[16][64], delta[16][64], loss = 0;
  if (g) memset(g, 0, s->n_params * sizeof *g);
  const size_t nl = s->n_layers, d = s->units[0];
  for (size_t e = 0; e < n; e++) {
    double f = ref_forward(s, p, x + e * d, act);
    loss += ca[e] * (exp(f) - 1) - cb[e] * f;
    if (!g) continue;
    delta[nl - 1][0] = ca[e] * exp(f) - cb[e];
    for (size_t l = nl - 1; l >= 1; l--) {
      for (size_t j = 0; j < s->units[l]; j++) {
        for (size_t i = 0; i < s->units[l - 1]; i++)
          g[s->w_off[l] + j * s->units[l - 1] + i] += delta[l][j] * act[l - 1][i];
        g[s->b_off[l] + j] += delta[l][j];
      }
      if (l == 1) break;
      for (size_t i = 0; i < s->units[l - 1]; i++) {
        double sum = 0;
        for (size_t j = 0; j < s->units[l]; j++)
          sum += p[s->w_off[l] + j * s->units[l - 1] + i] * delta[l][j];
        delta[l - 1][i] = sum * act[l - 1][i] * (1 - act[l - 1][i]);
      }
    }
  }
  return loss;
}

typedef struct problem {
  nplm__mlp_spec_t spec;
  size_t n, n_blocks, d;
  double *x, *xb, *ca, *cb, *p, *work;
} problem_t;

static void make_problem(problem_t *pr, const size_t *units, size_t nl, size_t n, double pscale) {
  cr_assert_eq(nplm__mlp_spec_init(&pr->spec, units, nl), 0);
  pr->n = n;
  pr->d = units[0];
  pr->n_blocks = (n + NPLM__BLOCK - 1) / NPLM__BLOCK;
  size_t slots = pr->n_blocks * NPLM__BLOCK;
  pr->x = calloc(n * pr->d, sizeof(double));
  pr->xb = calloc(slots * pr->d, sizeof(double));
  pr->ca = calloc(slots, sizeof(double));
  pr->cb = calloc(slots, sizeof(double));
  pr->p = calloc(pr->spec.n_params, sizeof(double));
  pr->work = calloc(nplm__mlp_work_size(&pr->spec), sizeof(double));
  for (size_t i = 0; i < n * pr->d; i++) pr->x[i] = -log(1 - urand());
  for (size_t e = 0; e < n; e++) {
    if (e % 3 == 0) pr->cb[e] = 0.5 + urand();
    else pr->ca[e] = 0.01 + 0.02 * urand();
  }
  for (size_t k = 0; k < pr->n_blocks; k++)
    for (size_t j = 0; j < pr->d; j++)
      for (size_t e = 0; e < NPLM__BLOCK; e++) {
        size_t ev = k * NPLM__BLOCK + e;
        pr->xb[(k * pr->d + j) * NPLM__BLOCK + e] = ev < n ? pr->x[ev * pr->d + j] : 0.0;
      }
  for (size_t i = 0; i < pr->spec.n_params; i++) pr->p[i] = pscale * (2 * urand() - 1);
}

static void free_problem(problem_t *pr) {
  free(pr->x);
  free(pr->xb);
  free(pr->ca);
  free(pr->cb);
  free(pr->p);
  free(pr->work);
}

static double kernel_loss_grad(const nplm__mlp_kernels_t *k, problem_t *pr, const double *p,
                               double *g) {
  double total = 0, lb;
  double *gb = calloc(pr->spec.n_params, sizeof(double));
  if (g) memset(g, 0, pr->spec.n_params * sizeof *g);
  for (size_t b = 0; b < pr->n_blocks; b++) {
    k->loss(&pr->spec, p, pr->xb + b * pr->d * NPLM__BLOCK, pr->ca + b * NPLM__BLOCK,
            pr->cb + b * NPLM__BLOCK, NULL, pr->work, &lb, g ? gb : NULL);
    total += lb;
    if (g)
      for (size_t i = 0; i < pr->spec.n_params; i++) g[i] += gb[i];
  }
  free(gb);
  return total;
}

Test(exp, accurate_to_two_ulp_over_the_whole_range) {
  double worst = 0;
  for (int i = 0; i < 200000; i++) {
    double x = -745.0 + 1454.0 * urand();
    double got = nplm__exp(x), want = exp(x);
    if (want < DBL_MIN) continue; /* subnormal results: checked below */
    double ulps = fabs(got - want) / (nextafter(want, INFINITY) - want);
    if (ulps > worst) worst = ulps;
  }
  cr_assert(worst <= 2.0, "worst error %g ulp", worst);
  for (int i = 0; i < 100000; i++) { /* the reduced range, densely */
    double x = -1 + 2 * urand();
    double want = exp(x);
    cr_assert(fabs(nplm__exp(x) - want) <= 2 * (nextafter(want, INFINITY) - want));
  }
}

Test(exp, special_values) {
  cr_assert_eq(nplm__exp(0.0), 1.0);
  cr_assert(isinf(nplm__exp(710.0)) && nplm__exp(710.0) > 0);
  cr_assert(isinf(nplm__exp(INFINITY)));
  cr_assert_eq(nplm__exp(-746.0), 0.0);
  cr_assert_eq(nplm__exp(-INFINITY), 0.0);
  cr_assert(isnan(nplm__exp(NAN)));
  cr_assert(isfinite(nplm__exp(709.78)));
  /* subnormal results agree with libm to within one subnormal step */
  for (double x = -744.0; x < -708.5; x += 0.37) {
    double got = nplm__exp(x), want = exp(x);
    cr_assert(fabs(got - want) <= fmax(2 * 0x1p-1074, 4e-16 * want), "x=%g", x);
  }
}

/* A vector of the loss's exp with lanes inside and outside the table's range: each lane is the
 * value that lane alone gets (nplm__exp), bit for bit, whatever its neighbours. */
Test(exp, lanes_do_not_depend_on_their_neighbours) {
  const double out[] = {-745.0, -720.0, -708.5, 700.5, 709.0, 800.0, INFINITY, -INFINITY, NAN};
  for (int i = 0; i < 2000; i++) {
    double x[8], y[8];
    for (int l = 0; l < 8; l++)
      x[l] = (i + l) % 3 == 0 ? out[(size_t)(i * 7 + l) % 9] : -700.0 + 1400.0 * urand();
    if (i % 5 == 0) x[i % 8] = -708.0 + 1408.0 * urand(); /* some vectors wholly in range */
    nplm__exp_lanes(x, y);
    for (int l = 0; l < 8; l++) {
      const double one = nplm__exp(x[l]);
      cr_assert(memcmp(&one, &y[l], sizeof one) == 0 || (isnan(one) && isnan(y[l])),
                "x = %.17g: %.17g in a vector, %.17g alone", x[l], y[l], one);
    }
  }
  double x[8] = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 710.0}, y[8]; /* one lane overflows */
  nplm__exp_lanes(x, y);
  cr_assert(isinf(y[7]) && y[7] > 0);
  for (int l = 0; l < 7; l++) cr_assert(fabs(y[l] - exp(x[l])) <= 2 * (nextafter(exp(x[l]), INFINITY) - exp(x[l])));
}

/* got against 1 / (1 + e^-z) in long double (64-bit mantissa on x86-64), in ulp. */
static double sigmoid_ulps_of(double got, double z) {
  long double want = 1.0L / (1.0L + expl(-(long double)z));
  double w = (double)want;
  return (double)(fabsl((long double)got - want) / (long double)(nextafter(w, INFINITY) - w));
}

/* One sigmoid alone over the whole range above the clamp (z >= -140), densely around 0 and
 * across the table's steps; the clamp at -140 and 700. */
Test(exp, sigmoid_accurate_to_three_ulp) {
  double worst = 0, z_worst = 0;
  for (int i = 0; i < 400000; i++) {
    double z = i % 2 ? -140.0 + 840.0 * urand() : -40.0 + 80.0 * urand();
    double u = sigmoid_ulps_of(nplm__sigmoid(z), z);
    if (u > worst) worst = u, z_worst = z;
  }
  cr_assert(worst <= 3.0, "worst error %g ulp at z = %.17g", worst, z_worst);
  cr_assert_eq(nplm__sigmoid(0.0), 0.5);
  cr_assert_eq(nplm__sigmoid(800.0), 1.0);
  cr_assert_eq(nplm__sigmoid(-800.0), nplm__sigmoid(-140.0));
  cr_assert_eq(nplm__sigmoid(-INFINITY), nplm__sigmoid(-140.0));
  cr_assert(sigmoid_ulps_of(nplm__sigmoid(-140.0), -140.0) <= 3.0);
  cr_assert(nplm__sigmoid(-140.0) > 1e-61 && nplm__sigmoid(-140.0) < 1.6e-61);
  cr_assert(isnan(nplm__sigmoid(NAN)));
}

/* Groups of 2 .. 5 units sharing one division (the forward pass's sigmoids). A member of a
 * group of n goes through at most 2 (n - 1) roundings more than a sigmoid alone (the running
 * products, the multiplications back), each at most 1 ulp: bound 3 + 2 (n - 1) ulp (worst seen
 * over 10^7 groups each: 3.7, 4.6, 5.4, 6.3 ulp for n = 2 .. 5; one alone 2.4). Over the whole
 * range, with members at the clamps; a group of one is nplm__sigmoid. */
Test(exp, sigmoid_groups_within_the_rounding_bound) {
  double worst[6] = {0}, z[5], s[5];
  for (int i = 0; i < 200000; i++) {
    const size_t n = 2 + (size_t)(i % 4);
    for (size_t q = 0; q < n; q++) {
      const double r = urand();
      z[q] = i % 3 == 0 ? -140.0 + 840.0 * r : (i % 3 == 1 ? -40.0 + 80.0 * r : -5.0 + 10.0 * r);
    }
    nplm__sigmoid_group(z, n, s);
    for (size_t q = 0; q < n; q++) worst[n] = fmax(worst[n], sigmoid_ulps_of(s[q], z[q]));
  }
  for (size_t n = 2; n <= 5; n++)
    cr_assert(worst[n] <= 3.0 + 2.0 * (double)(n - 1), "n = %zu: %g ulp", n, worst[n]);
  /* all five at the low clamp: the product (1 + e^140)^5 stays finite */
  const double lo[5] = {-141.0, -700.0, -INFINITY, -140.0, -1e300};
  nplm__sigmoid_group(lo, 5, s);
  for (size_t q = 0; q < 5; q++)
    cr_assert(s[q] > 1e-61 && s[q] < 1.6e-61 && sigmoid_ulps_of(s[q], -140.0) <= 11.0,
              "s[%zu] %g", q, s[q]);
  const double mix[5] = {800.0, 0.0, -140.0, 3.0, INFINITY};
  nplm__sigmoid_group(mix, 5, s);
  cr_assert_eq(s[0], 1.0);
  cr_assert_eq(s[4], 1.0);
  cr_assert(fabs(s[1] - 0.5) <= 2 * DBL_EPSILON);
  cr_assert(sigmoid_ulps_of(s[3], 3.0) <= 11.0);
  double one;
  nplm__sigmoid_group(&z[0], 1, &one);
  cr_assert_eq(one, nplm__sigmoid(z[0]));
}

/* 1-1 network (f = w x + b) on three events, by hand:
 * L = 0.5 (e^{w x1 + b} - 1) + 0.25 (e^{w x2 + b} - 1) - 2 (w x3 + b). */
Test(loss, hand_computed_three_events) {
  const size_t units[] = {1, 1};
  nplm__mlp_spec_t s;
  cr_assert_eq(nplm__mlp_spec_init(&s, units, 2), 0);
  cr_assert_eq(s.n_params, 2u);
  double xb[NPLM__BLOCK] = {0.5, 2.0, 1.0}, ca[NPLM__BLOCK] = {0.5, 0.25, 0.0},
         cb[NPLM__BLOCK] = {0.0, 0.0, 2.0};
  const double w = 0.3, b = -0.2, p[2] = {w, b};
  double *work = calloc(nplm__mlp_work_size(&s), sizeof(double));
  double loss, g[2];
  const nplm__mlp_kernels_t *k = nplm__mlp_kernels();
  k->loss(&s, p, xb, ca, cb, NULL, work, &loss, g);
  double e1 = exp(w * 0.5 + b), e2 = exp(w * 2.0 + b);
  double want = 0.5 * (e1 - 1) + 0.25 * (e2 - 1) - 2 * (w * 1.0 + b);
  double gw = 0.5 * e1 * 0.5 + 0.25 * e2 * 2.0 - 2 * 1.0;
  double gb = 0.5 * e1 + 0.25 * e2 - 2;
  cr_assert(fabs(loss - want) <= 4 * DBL_EPSILON * fabs(want), "%.17g vs %.17g", loss, want);
  cr_assert(fabs(g[0] - gw) <= 8 * DBL_EPSILON * fabs(gw));
  cr_assert(fabs(g[1] - gb) <= 8 * DBL_EPSILON * fabs(gb));
  free(work);
}

static void check_against_reference(const size_t *units, size_t nl, size_t n, double pscale) {
  problem_t pr;
  make_problem(&pr, units, nl, n, pscale);
  const size_t P = pr.spec.n_params;
  double *g = calloc(P, sizeof(double)), *gr = calloc(P, sizeof(double));
  double l = kernel_loss_grad(nplm__mlp_kernels(), &pr, pr.p, g);
  double lr = ref_loss_grad(&pr.spec, pr.p, pr.x, n, pr.ca, pr.cb, gr);
  double gscale = 0;
  for (size_t i = 0; i < P; i++) gscale = fmax(gscale, fabs(gr[i]));
  cr_assert(fabs(l - lr) <= 1e-12 * (1 + fabs(lr)), "loss %.17g vs %.17g", l, lr);
  for (size_t i = 0; i < P; i++)
    cr_assert(fabs(g[i] - gr[i]) <= 1e-11 * (gscale + fabs(gr[i])), "grad[%zu] %.17g vs %.17g", i,
              g[i], gr[i]);
  double lonly;
  lonly = kernel_loss_grad(nplm__mlp_kernels(), &pr, pr.p, NULL);
  cr_assert_eq(lonly, l, "the loss must not depend on whether the gradient is wanted");
  free(g);
  free(gr);
  free_problem(&pr);
}

Test(loss, matches_scalar_reference_1d) {
  const size_t u[] = {1, 4, 1};
  check_against_reference(u, 3, 1000, 2.0);
}

Test(loss, matches_scalar_reference_5d) {
  const size_t u[] = {5, 5, 5, 5, 1};
  check_against_reference(u, 5, 777, 1.0);
}

Test(loss, matches_scalar_reference_wide_and_saturated) {
  const size_t u[] = {3, 17, 9, 1};
  check_against_reference(u, 4, 300, 6.0);
}

/* Central finite differences of the kernel's own loss, per parameter. */
static void check_finite_differences(const size_t *units, size_t nl, double pscale) {
  problem_t pr;
  make_problem(&pr, units, nl, 200, pscale);
  const size_t P = pr.spec.n_params;
  double *g = calloc(P, sizeof(double)), *q = calloc(P, sizeof(double));
  kernel_loss_grad(nplm__mlp_kernels(), &pr, pr.p, g);
  for (size_t i = 0; i < P; i++) {
    memcpy(q, pr.p, P * sizeof *q);
    double h = 1e-5 * fmax(1.0, fabs(pr.p[i]));
    q[i] = pr.p[i] + h;
    double lp = kernel_loss_grad(nplm__mlp_kernels(), &pr, q, NULL);
    q[i] = pr.p[i] - h;
    double lm = kernel_loss_grad(nplm__mlp_kernels(), &pr, q, NULL);
    double fd = (lp - lm) / (2 * h);
    cr_assert(fabs(fd - g[i]) <= 1e-6 * (1 + fabs(g[i])), "param %zu: fd %.12g grad %.12g", i,
              fd, g[i]);
  }
  free(g);
  free(q);
  free_problem(&pr);
}

Test(gradient, finite_differences_1d) {
  const size_t u[] = {1, 4, 1};
  check_finite_differences(u, 3, 3.0);
}

Test(gradient, finite_differences_5d) {
  const size_t u[] = {5, 5, 5, 5, 1};
  check_finite_differences(u, 5, 1.5);
}

/* Every compiled instruction-set path gives the same bits as the portable one. */
Test(dispatch, all_paths_bit_identical) {
  const char *names[] = {"avx512", "avx2", "baseline"};
  const size_t u[] = {5, 5, 5, 5, 1};
  problem_t pr;
  make_problem(&pr, u, 5, 1000, 2.0);
  const size_t P = pr.spec.n_params;
  const nplm__mlp_kernels_t *base = nplm__mlp_kernels_by_name("baseline");
  cr_assert_not_null(base);
  cr_assert_not_null(nplm__mlp_kernels());
  double *g0 = calloc(P, sizeof(double)), *g1 = calloc(P, sizeof(double));
  double l0 = kernel_loss_grad(base, &pr, pr.p, g0);
  int tested = 0;
  for (int i = 0; i < 3; i++) {
    const nplm__mlp_kernels_t *k = nplm__mlp_kernels_by_name(names[i]);
    if (!k) continue;
    tested++;
    double l1 = kernel_loss_grad(k, &pr, pr.p, g1);
    cr_assert(memcmp(&l0, &l1, sizeof l0) == 0, "%s loss differs", names[i]);
    cr_assert(memcmp(g0, g1, P * sizeof *g0) == 0, "%s gradient differs", names[i]);
    double f0[NPLM__BLOCK], f1[NPLM__BLOCK];
    base->forward(&pr.spec, pr.p, pr.xb, pr.work, f0);
    k->forward(&pr.spec, pr.p, pr.xb, pr.work, f1);
    cr_assert(memcmp(f0, f1, sizeof f0) == 0, "%s forward differs", names[i]);
  }
  cr_assert(tested >= 1);
  cr_assert_null(nplm__mlp_kernels_by_name("no-such-path"));
  free(g0);
  free(g1);
  free_problem(&pr);
}

Test(spec, shapes_and_offsets) {
  nplm__mlp_spec_t s;
  const size_t u5[] = {5, 5, 5, 5, 1};
  cr_assert_eq(nplm__mlp_spec_init(&s, u5, 5), 0);
  cr_assert_eq(s.n_params, 96u);
  cr_assert_eq(s.w_off[1], 0u);
  cr_assert_eq(s.b_off[1], 25u);
  cr_assert_eq(s.w_off[2], 30u);
  cr_assert_eq(s.w_off[4], 90u);
  cr_assert_eq(s.b_off[4], 95u);
  const size_t u1[] = {1, 4, 1};
  cr_assert_eq(nplm__mlp_spec_init(&s, u1, 3), 0);
  cr_assert_eq(s.n_params, 13u);
  const size_t bad_out[] = {2, 3, 2};
  cr_assert_eq(nplm__mlp_spec_init(&s, bad_out, 3), -1);
  const size_t zero[] = {2, 0, 1};
  cr_assert_eq(nplm__mlp_spec_init(&s, zero, 3), -1);
  cr_assert_eq(nplm__mlp_spec_init(&s, u1, 1), -1);
}

/* Nuisance offsets log r = norm + sum_c coef_c mult_c enter as f + log r: a constant offset
 * equals a shift of the output bias, and the moments are the derivatives of the loss with
 * respect to the multipliers and to norm (central differences). */
Test(loss, nuisance_offset_and_moments) {
  const size_t u[] = {2, 3, 1};
  problem_t pr;
  make_problem(&pr, u, 3, NPLM__BLOCK, 1.0); /* one full block */
  const nplm__mlp_kernels_t *k = nplm__mlp_kernels();
  double coef[2 * NPLM__BLOCK], mult[2] = {0.2, -0.1}, zero_mult[2] = {0, 0}, mom[3];
  for (int e = 0; e < NPLM__BLOCK; e++) {
    coef[e] = sin(0.1 * e);
    coef[NPLM__BLOCK + e] = 0.5 * cos(0.07 * e);
  }
  double g[13], g2[13], l1, l2;
  nplm__mlp_offset_t constant = {coef, 2, zero_mult, 0.3, NULL};
  k->loss(&pr.spec, pr.p, pr.xb, pr.ca, pr.cb, &constant, pr.work, &l1, g);
  double q[13];
  memcpy(q, pr.p, sizeof q);
  q[12] += 0.3; /* the output bias */
  k->loss(&pr.spec, q, pr.xb, pr.ca, pr.cb, NULL, pr.work, &l2, g2);
  cr_assert(fabs(l1 - l2) <= 1e-12 * fabs(l2), "%.17g vs %.17g", l1, l2);
  for (int i = 0; i < 13; i++) cr_assert(fabs(g[i] - g2[i]) <= 1e-11 * (1 + fabs(g2[i])));
  nplm__mlp_offset_t off = {coef, 2, mult, 0.05, mom};
  k->loss(&pr.spec, pr.p, pr.xb, pr.ca, pr.cb, &off, pr.work, &l1, g);
  const double h = 1e-6;
  for (int c = 0; c < 3; c++) {
    double mp[2] = {mult[0], mult[1]}, np = 0.05, lp, lm;
    if (c < 2) mp[c] += h; else np += h;
    nplm__mlp_offset_t o1 = {coef, 2, mp, np, NULL};
    k->loss(&pr.spec, pr.p, pr.xb, pr.ca, pr.cb, &o1, pr.work, &lp, NULL);
    if (c < 2) mp[c] -= 2 * h; else np -= 2 * h;
    nplm__mlp_offset_t o2 = {coef, 2, mp, np, NULL};
    k->loss(&pr.spec, pr.p, pr.xb, pr.ca, pr.cb, &o2, pr.work, &lm, NULL);
    double fd = (lp - lm) / (2 * h);
    cr_assert(fabs(fd - mom[c]) <= 1e-6 * (1 + fabs(mom[c])), "moment %d: %g vs %g", c, fd, mom[c]);
  }
  free_problem(&pr);
}

/* backprop of a given per-event dL/df: with dL/df = ca e^f - cb it is the NPLM loss gradient */
Test(gradient, backprop_of_a_given_derivative) {
  const size_t u[] = {5, 5, 5, 5, 1};
  problem_t pr;
  make_problem(&pr, u, 5, NPLM__BLOCK, 1.0);
  const nplm__mlp_kernels_t *k = nplm__mlp_kernels();
  double f[NPLM__BLOCK], dldf[NPLM__BLOCK], g1[96], g2[96], loss;
  k->forward(&pr.spec, pr.p, pr.xb, pr.work, f);
  for (int e = 0; e < NPLM__BLOCK; e++) dldf[e] = pr.ca[e] * exp(f[e]) - pr.cb[e];
  k->backprop(&pr.spec, pr.p, pr.xb, dldf, pr.work, g1);
  k->loss(&pr.spec, pr.p, pr.xb, pr.ca, pr.cb, NULL, pr.work, &loss, g2);
  for (int i = 0; i < 96; i++)
    cr_assert(fabs(g1[i] - g2[i]) <= 1e-12 * (1 + fabs(g2[i])), "param %d: %g vs %g", i, g1[i],
              g2[i]);
  const nplm__mlp_kernels_t *base = nplm__mlp_kernels_by_name("baseline");
  double g3[96];
  base->backprop(&pr.spec, pr.p, pr.xb, dldf, pr.work, g3);
  cr_assert(memcmp(g1, g3, sizeof g1) == 0, "every path gives the same bits");
  free_problem(&pr);
}

/* Gaussian-kernel blocks: rows against exp of the squared distance computed here, the fused
 * pass against sums of those rows, and identical bits on every path. */
#include "kernels/gauss.h"

NPLM_LEAK_CHECKED_SUITE(gauss);

Test(gauss, rows_and_fused_pass_match_a_scalar_reference_on_every_path) {
  enum { D = 3, M = 21, LD = 24, NE = 100 };
  /* x and the centres in [-2, 2]: squared distances up to 48, kernels down to e^-48 */
  static double x[D * NPLM__BLOCK], ct[D * LD], v[LD], dw[NPLM__BLOCK];
  for (int i = 0; i < D * NPLM__BLOCK; i++) x[i] = 4.0 * urand() - 2.0;
  for (int j = 0; j < D; j++)
    for (int i = 0; i < LD; i++) ct[j * LD + i] = i < M ? 4.0 * urand() - 2.0 : 0.0;
  for (int i = 0; i < LD; i++) v[i] = i < M ? urand() - 0.5 : 0.0;
  for (int e = 0; e < NPLM__BLOCK; e++) dw[e] = urand();
  cr_assert_eq(nplm__gauss_ld(M), (size_t)LD);
  /* coordinates are pre-scaled: k = exp(-|x - c|^2) */
  static double K0[NPLM__BLOCK * LD], u0[NPLM__BLOCK], acc0[LD], tmp[NPLM__LANES * LD];
  const nplm__gauss_kernels_t *base = nplm__gauss_kernels_by_name("baseline");
  cr_assert_not_null(base);
  base->rows(x, D, NE, ct, LD, K0, LD);
  for (int e = 0; e < NE; e++)
    for (int i = 0; i < M; i++) {
      double d2 = 0.0;
      for (int j = 0; j < D; j++) {
        double diff = ct[j * LD + i] - x[j * NPLM__BLOCK + e];
        d2 += diff * diff;
      }
      /* exp's own 2 ulp plus the argument's rounding (a few ulp of g d2, times g d2) */
      double want = exp(-d2), tol = (4e-16 + 1e-15 * d2) * want;
      cr_assert(fabs(K0[e * LD + i] - want) <= tol, "k(%d, %d) = %.17g, exp %.17g", e, i,
                K0[e * LD + i], want);
    }
  memset(acc0, 0, sizeof acc0);
  base->hv(x, D, NE, ct, LD, v, dw, tmp, u0, acc0);
  for (int e = 0; e < NE; e++) {
    double want = 0.0;
    for (int i = 0; i < M; i++) want += K0[e * LD + i] * v[i];
    cr_assert(fabs(u0[e] - want) < 1e-14, "u[%d] = %.17g, rows give %.17g", e, u0[e], want);
  }
  for (int i = 0; i < M; i++) {
    double want = 0.0;
    for (int e = 0; e < NE; e++) want += K0[e * LD + i] * dw[e] * u0[e];
    cr_assert(fabs(acc0[i] - want) < 1e-13, "acc[%d] = %.17g, rows give %.17g", i, acc0[i], want);
  }
  static const char *names[] = {"avx2", "avx512"};
  for (int p = 0; p < 2; p++) {
    const nplm__gauss_kernels_t *k = nplm__gauss_kernels_by_name(names[p]);
    if (!k) continue; /* not compiled or not supported by this CPU */
    static double K1[NPLM__BLOCK * LD], u1[NPLM__BLOCK], acc1[LD];
    k->rows(x, D, NE, ct, LD, K1, LD);
    memset(acc1, 0, sizeof acc1);
    k->hv(x, D, NE, ct, LD, v, dw, tmp, u1, acc1);
    cr_assert(memcmp(K0, K1, sizeof(double) * NE * LD) == 0, "%s rows differ", names[p]);
    cr_assert(memcmp(u0, u1, sizeof(double) * NE) == 0, "%s u differs", names[p]);
    cr_assert(memcmp(acc0, acc1, sizeof acc0) == 0, "%s acc differs", names[p]);
  }
  cr_assert_null(nplm__gauss_kernels_by_name("no-such-path"));
}

/* The pivoted Cholesky update: against the formula computed here in long double, identical on
 * every path, and the same whether the rows come in one call or in pieces. */
Test(gauss, lowrank_update_matches_the_formula_on_every_path_and_split) {
  enum { LD = 40, R = 13, NA = 11, B = 16 };
  static double L[R * LD], Ls[R * B], Lb[NA * B], Ln0[NA * LD], dg0[LD];
  for (int i = 0; i < R * LD; i++) L[i] = urand() - 0.5;
  for (int i = 0; i < R * B; i++) Ls[i] = urand() - 0.5;
  for (int p = 0; p < NA; p++)
    for (int q = 0; q < NA; q++) Lb[q * B + p] = q < p ? urand() - 0.5 : q == p ? 1.0 + urand() : 0.0;
  for (int i = 0; i < NA * LD; i++) Ln0[i] = urand() - 0.5;
  for (int i = 0; i < LD; i++) dg0[i] = 5.0 + urand();
  static double want[NA * LD], wdg[LD];
  for (int i = 0; i < LD; i++) {
    long double dgi = dg0[i];
    long double col[NA];
    for (int p = 0; p < NA; p++) {
      long double v = Ln0[p * LD + i];
      for (int k = 0; k < R; k++) v -= (long double)L[k * LD + i] * Ls[k * B + p];
      for (int q = 0; q < p; q++) v -= col[q] * Lb[q * B + p];
      col[p] = v / Lb[p * B + p];
      want[p * LD + i] = (double)col[p];
      dgi -= col[p] * col[p];
    }
    wdg[i] = (double)dgi;
  }
  static double Ln[NA * LD], dg[LD], Ln_ref[NA * LD], dg_ref[LD];
  static const char *names[] = {"baseline", "avx2", "avx512"};
  int compared = 0;
  for (int p = 0; p < 3; p++) {
    const nplm__gauss_kernels_t *k = nplm__gauss_kernels_by_name(names[p]);
    if (!k) {
      cr_assert(p > 0, "the baseline path is always available");
      continue; /* not compiled or not supported by this CPU */
    }
    for (int split = 0; split < 2; split++) {
      memcpy(Ln, Ln0, sizeof Ln0);
      memcpy(dg, dg0, sizeof dg0);
      if (split) { /* rows 0-7, 8-31, 32-39 */
        k->lowrank(L, LD, R, Ls, B, Lb, B, NA, 0, 8, Ln, dg);
        k->lowrank(L, LD, R, Ls, B, Lb, B, NA, 8, 24, Ln, dg);
        k->lowrank(L, LD, R, Ls, B, Lb, B, NA, 32, 8, Ln, dg);
      } else {
        k->lowrank(L, LD, R, Ls, B, Lb, B, NA, 0, LD, Ln, dg);
      }
      for (int i = 0; i < NA * LD; i++)
        cr_assert(fabs(Ln[i] - want[i]) < 1e-13 * (1.0 + fabs(want[i])), "%s: Ln[%d] %.17g, "
                  "formula %.17g", names[p], i, Ln[i], want[i]);
      for (int i = 0; i < LD; i++)
        cr_assert(fabs(dg[i] - wdg[i]) < 1e-12, "%s: dg[%d]", names[p], i);
      if (p == 0 && split == 0) { /* the reference every other call must equal bit for bit */
        memcpy(Ln_ref, Ln, sizeof Ln);
        memcpy(dg_ref, dg, sizeof dg);
        continue;
      }
      cr_assert(memcmp(Ln, Ln_ref, sizeof Ln) == 0 && memcmp(dg, dg_ref, sizeof dg) == 0,
                "%s (split %d) differs from the baseline path in one call", names[p], split);
      compared++;
    }
  }
  cr_assert(compared >= 1, "the split baseline call was compared");
}
