/* The public API end to end, against the shared library: an independent Adam implementation,
 * convergence and t >= 0, determinism across thread counts, clipping, options, history. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nplm/nplm.h"
#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(adam);
NPLM_LEAK_CHECKED_SUITE(lbfgsb);
NPLM_LEAK_CHECKED_SUITE(determinism);
NPLM_LEAK_CHECKED_SUITE(clipping);
NPLM_LEAK_CHECKED_SUITE(reference);
NPLM_LEAK_CHECKED_SUITE(run);
NPLM_LEAK_CHECKED_SUITE(options);


static uint64_t rng_state;
static double urand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return ((double)(rng_state >> 11) + 0.5) * 0x1.0p-53;
}
static double expo(void) { return -log(urand()); }

typedef struct sample {
  double *ref, *data, *wref, *wdata;
  size_t n_ref, n_data;
} sample_t;

static sample_t make_1d(uint64_t seed, size_t n_ref, size_t n_data, double bump) {
  sample_t s = {malloc(n_ref * sizeof(double)), malloc(n_data * sizeof(double)),
                malloc(n_ref * sizeof(double)), malloc(n_data * sizeof(double)), n_ref, n_data};
  rng_state = seed;
  for (size_t i = 0; i < n_ref; i++) {
    s.ref[i] = expo();
    s.wref[i] = 0.5 + urand();
  }
  for (size_t i = 0; i < n_data; i++) {
    s.data[i] = i < (size_t)(bump * (double)n_data) ? 3.0 + 0.2 * urand() : expo();
    s.wdata[i] = 0.75 + 0.5 * urand();
  }
  return s;
}

static void free_sample(sample_t *s) {
  free(s->ref);
  free(s->data);
  free(s->wref);
  free(s->wdata);
}

/* ---- an independent float64 implementation of the same training (1-H-1 network) ---- */
typedef struct indep {
  size_t H;
  double p[3 * 16 + 1]; /* W1[H], b1[H], W2[H], b2 */
} indep_t;

static double indep_f(const indep_t *m, double x, double *s) {
  double f = m->p[3 * m->H];
  for (size_t j = 0; j < m->H; j++) {
    s[j] = 1.0 / (1.0 + exp(-(m->p[j] * x + m->p[m->H + j])));
    f += m->p[2 * m->H + j] * s[j];
  }
  return f;
}

/* loss and gradient; reference weights already scaled */
static double indep_loss(const indep_t *m, const sample_t *smp, const double *wr, double *g) {
  const size_t H = m->H, P = 3 * H + 1;
  double s[16], loss = 0;
  if (g) memset(g, 0, P * sizeof *g);
  for (int part = 0; part < 2; part++) {
    size_t n = part ? smp->n_data : smp->n_ref;
    for (size_t e = 0; e < n; e++) {
      double x = part ? smp->data[e] : smp->ref[e];
      double f = indep_f(m, x, s), dldf;
      if (part) {
        loss -= smp->wdata[e] * f;
        dldf = -smp->wdata[e];
      } else {
        loss += wr[e] * (exp(f) - 1);
        dldf = wr[e] * exp(f);
      }
      if (!g) continue;
      g[3 * H] += dldf;
      for (size_t j = 0; j < H; j++) {
        g[2 * H + j] += dldf * s[j];
        double dz = dldf * m->p[2 * H + j] * s[j] * (1 - s[j]);
        g[j] += dz * x;
        g[H + j] += dz;
      }
    }
  }
  return loss;
}

/* The library's parameter order for 1-H-1 is W1[H][1], b1[H], W2[1][H], b2: the same. */
Test(adam, follows_an_independent_float64_implementation) {
  sample_t smp = make_1d(11, 3000, 230, 0.05);
  const double n_exp = 200.0, clip = 1.5, lr = 3e-3;
  const size_t H = 4, P = 3 * H + 1, layers[] = {1, H, 1};
  const int epochs = 400;
  indep_t m = {H, {0}};
  for (size_t i = 0; i < P; i++) m.p[i] = 0.8 * sin(3.0 * (double)i + 1.0);
  nplm_model_t *family = NULL;
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_model_create_mlp(&family, layers, 3, clip), NPLM_OK);
  cr_assert_eq(nplm_model_set_params(family, m.p, P), NPLM_OK);
  cr_assert_eq(nplm_test_create(&t, family, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_set_reference(t, smp.ref, smp.n_ref, 1, smp.wref, n_exp), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_INIT, NPLM_INIT_FROM_MODEL), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_EPOCHS, epochs), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_PATIENCE, 100), NPLM_OK);
  cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_LEARNING_RATE, lr), NPLM_OK);
  double tv;
  cr_assert_eq(nplm_test_run(t, smp.data, smp.n_data, 1, smp.wdata, &tv), NPLM_OK);

  /* independent: Keras Adam, weights clipped to [-1.5, 1.5] after every step */
  double *wr = malloc(smp.n_ref * sizeof *wr), sumw = 0;
  for (size_t i = 0; i < smp.n_ref; i++) sumw += smp.wref[i];
  for (size_t i = 0; i < smp.n_ref; i++) wr[i] = smp.wref[i] * n_exp / sumw;
  double mo[49] = {0}, ve[49] = {0}, g[49], hist[4];
  int nh = 0;
  for (int k = 1; k <= epochs; k++) {
    double loss = indep_loss(&m, &smp, wr, g);
    if ((k - 1) % 100 == 0 && k > 1) hist[nh++] = -2 * loss;
    double lr_t = lr * sqrt(1 - pow(0.999, k)) / (1 - pow(0.9, k));
    for (size_t i = 0; i < P; i++) {
      mo[i] = 0.9 * mo[i] + 0.1 * g[i];
      ve[i] = 0.999 * ve[i] + 0.001 * g[i] * g[i];
      m.p[i] -= lr_t * mo[i] / (sqrt(ve[i]) + 1e-7);
      int is_bias = (i >= H && i < 2 * H) || i == 3 * H;
      if (!is_bias) m.p[i] = fmin(clip, fmax(-clip, m.p[i]));
    }
  }
  double t_indep = -2 * indep_loss(&m, &smp, wr, NULL);
  cr_assert(fabs(tv - t_indep) <= 1e-6 * fabs(t_indep), "t %.12g vs independent %.12g", tv,
            t_indep);
  const nplm_model_t *fit = NULL;
  cr_assert_eq(nplm_test_fitted_model(t, &fit), NPLM_OK);
  double q[13];
  cr_assert_eq(nplm_model_get_params(fit, q, P), NPLM_OK);
  for (size_t i = 0; i < P; i++)
    cr_assert(fabs(q[i] - m.p[i]) <= 1e-6 * (1 + fabs(m.p[i])), "param %zu: %.12g vs %.12g", i,
              q[i], m.p[i]);
  /* history: t at epochs 100, 200, 300 and the final 400 */
  int64_t ep[8];
  double th[8];
  size_t count = 0;
  cr_assert_eq(nplm_test_history(t, ep, th, 8, &count), NPLM_OK);
  cr_assert_eq(count, 4u);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(ep[i], 100 * (i + 1));
    cr_assert(fabs(th[i] - hist[i]) <= 1e-6 * fabs(hist[i]), "history %d", i);
  }
  cr_assert_eq(ep[3], epochs);
  cr_assert_eq(th[3], tv);
  double v;
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_ITERATIONS, &v), NPLM_OK);
  cr_assert_eq(v, epochs);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_EVALUATIONS, &v), NPLM_OK);
  cr_assert_eq(v, epochs + 1);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_N_DATA, &v), NPLM_OK);
  cr_assert_eq(v, (double)smp.n_data);
  double sw = 0;
  for (size_t i = 0; i < smp.n_data; i++) sw += smp.wdata[i];
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_SUM_DATA_WEIGHTS, &v), NPLM_OK);
  cr_assert(fabs(v - sw) < 1e-9 * sw);
  free(wr);
  free_sample(&smp);
  nplm_test_free(t);
  nplm_model_free(family);
}

/* helper: a 1D test with given options */
static nplm_test_t *make_test(const sample_t *smp, const size_t *layers, size_t nl, double clip,
                              nplm_model_t **family) {
  nplm_test_t *t = NULL;
  cr_assert_eq(nplm_model_create_mlp(family, layers, nl, clip), NPLM_OK);
  cr_assert_eq(nplm_test_create(&t, *family, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_set_reference(t, smp->ref, smp->n_ref, 1, NULL, 500.0), NPLM_OK);
  return t;
}

Test(lbfgsb, converges_with_t_nonnegative_and_consistent_with_f) {
  sample_t smp = make_1d(5, 20000, 520, 0.04);
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&smp, layers, 3, 9.0, &family);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), NPLM_OK);
  double tv, conv, pg;
  cr_assert_eq(nplm_test_run(t, smp.data, smp.n_data, 1, NULL, &tv), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_CONVERGED, &conv), NPLM_OK);
  cr_assert_eq(conv, 1.0);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_GRADIENT_NORM, &pg), NPLM_OK);
  cr_assert(tv >= 0.0, "t = %g", tv);
  cr_assert(tv > 10.0, "a 4%% bump at x = 3 must be seen: t = %g", tv);
  /* t = -2 L recomputed from the fitted f */
  const nplm_model_t *f = NULL;
  cr_assert_eq(nplm_test_fitted_model(t, &f), NPLM_OK);
  double *fr = malloc(smp.n_ref * sizeof *fr), *fd = malloc(smp.n_data * sizeof *fd), L = 0;
  cr_assert_eq(nplm_model_eval(f, smp.ref, smp.n_ref, 1, fr), NPLM_OK);
  cr_assert_eq(nplm_model_eval(f, smp.data, smp.n_data, 1, fd), NPLM_OK);
  for (size_t i = 0; i < smp.n_ref; i++) L += 500.0 / (double)smp.n_ref * (exp(fr[i]) - 1);
  for (size_t i = 0; i < smp.n_data; i++) L -= fd[i];
  cr_assert(fabs(-2 * L - tv) <= 1e-9 * tv, "%.12g vs %.12g", -2 * L, tv);
  /* f is largest near the bump */
  double xs[2] = {3.1, 0.5}, fx[2];
  cr_assert_eq(nplm_model_eval(f, xs, 2, 1, fx), NPLM_OK);
  cr_assert(fx[0] > fx[1] + 0.3, "f(3.1) = %g, f(0.5) = %g", fx[0], fx[1]);
  /* Adam from the same start reaches no lower loss than the constrained minimum */
  double ta;
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_ADAM), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_EPOCHS, 3000), NPLM_OK);
  cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_LEARNING_RATE, 0.01), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, smp.data, smp.n_data, 1, NULL, &ta), NPLM_OK);
  cr_assert(ta <= tv * 1.001, "Adam t %g above the L-BFGS-B minimum %g", ta, tv);
  free(fr);
  free(fd);
  free_sample(&smp);
  nplm_test_free(t);
  nplm_model_free(family);
}

/* NPLM_OPTIMIZER_ADAM_LBFGSB is, bit for bit, an Adam run of NPLM_OPT_EPOCHS followed by an
 * L-BFGS-B run started from Adam's end point (NPLM_INIT_FROM_MODEL); its iterations and passes
 * are the sums of both, its history runs on from Adam's epochs into L-BFGS-B's iterations. */
Test(lbfgsb, after_adam_is_adam_then_a_polish_from_its_end) {
  sample_t smp = make_1d(5, 20000, 520, 0.04);
  const size_t layers[] = {1, 4, 1};
  const int64_t E = 400;
  nplm_model_t *family = NULL, *start = NULL;
  nplm_test_t *t = make_test(&smp, layers, 3, 9.0, &family), *tp = NULL;
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_SEED, 3), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_EPOCHS, E), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_PATIENCE, 100), NPLM_OK);
  double th, ih, eh, ch, ta, ia, ea, tl, il, el, cl, pa[13], ph[13], pl[13];
  /* the hybrid */
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_ADAM_LBFGSB), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, smp.data, smp.n_data, 1, NULL, &th), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_ITERATIONS, &ih), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_EVALUATIONS, &eh), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_CONVERGED, &ch), NPLM_OK);
  const nplm_model_t *f = NULL;
  cr_assert_eq(nplm_test_fitted_model(t, &f), NPLM_OK);
  cr_assert_eq(nplm_model_get_params(f, ph, 13), NPLM_OK);
  size_t hn = 0;
  cr_assert_eq(nplm_test_history(t, NULL, NULL, 0, &hn), NPLM_OK);
  int64_t he[256];
  double ht[256];
  cr_assert(hn > 4 && hn <= 256, "%zu history entries", hn);
  cr_assert_eq(nplm_test_history(t, he, ht, 256, &hn), NPLM_OK);
  /* the same two phases by hand */
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_ADAM), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, smp.data, smp.n_data, 1, NULL, &ta), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_ITERATIONS, &ia), NPLM_OK);
  cr_assert_eq(nplm_test_result(t, NPLM_RESULT_EVALUATIONS, &ea), NPLM_OK);
  cr_assert_eq(nplm_test_fitted_model(t, &f), NPLM_OK);
  cr_assert_eq(nplm_model_get_params(f, pa, 13), NPLM_OK);
  cr_assert_eq(nplm_model_create_mlp(&start, layers, 3, 9.0), NPLM_OK);
  cr_assert_eq(nplm_model_set_params(start, pa, 13), NPLM_OK);
  cr_assert_eq(nplm_test_create(&tp, start, NULL), NPLM_OK);
  cr_assert_eq(nplm_test_set_reference(tp, smp.ref, smp.n_ref, 1, NULL, 500.0), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(tp, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(tp, NPLM_OPT_INIT, NPLM_INIT_FROM_MODEL), NPLM_OK);
  cr_assert_eq(nplm_test_run(tp, smp.data, smp.n_data, 1, NULL, &tl), NPLM_OK);
  cr_assert_eq(nplm_test_result(tp, NPLM_RESULT_ITERATIONS, &il), NPLM_OK);
  cr_assert_eq(nplm_test_result(tp, NPLM_RESULT_EVALUATIONS, &el), NPLM_OK);
  cr_assert_eq(nplm_test_result(tp, NPLM_RESULT_CONVERGED, &cl), NPLM_OK);
  cr_assert_eq(nplm_test_fitted_model(tp, &f), NPLM_OK);
  cr_assert_eq(nplm_model_get_params(f, pl, 13), NPLM_OK);

  cr_assert(memcmp(&th, &tl, sizeof th) == 0, "t %.17g vs %.17g", th, tl);
  cr_assert(memcmp(ph, pl, sizeof ph) == 0, "fitted parameters differ");
  cr_assert_eq(ia, (double)E);
  cr_assert(il > 0);
  cr_assert_eq(ih, ia + il);
  cr_assert_eq(eh, ea + el);
  cr_assert_eq(ch, cl);
  cr_assert_eq(ch, 1.0);
  cr_assert(th >= ta, "the polish lowers the loss: t %g after, %g before", th, ta);
  /* history: Adam's epochs 100 .. 400, then 400 + L-BFGS-B iterations, ending at the result */
  for (size_t i = 0; i < 4; i++) cr_assert_eq(he[i], (int64_t)(100 * (i + 1)));
  for (size_t i = 1; i < hn; i++) cr_assert(he[i] > he[i - 1], "history step %zu", i);
  cr_assert_eq(he[hn - 1], (int64_t)ih);
  cr_assert_eq(ht[hn - 1], th);
  if (hn > 5) cr_assert_eq(he[4], E + 100);
  free_sample(&smp);
  nplm_test_free(t);
  nplm_test_free(tp);
  nplm_model_free(family);
  nplm_model_free(start);
}

static void fit_params(nplm_test_t *t, const sample_t *smp, int threads, double *tv, double *p,
                       size_t P) {
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_THREADS, threads), NPLM_OK);
  nplm_status_t s = nplm_test_run(t, smp->data, smp->n_data, 1, smp->wdata, tv);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV);
  const nplm_model_t *f = NULL;
  cr_assert_eq(nplm_test_fitted_model(t, &f), NPLM_OK);
  cr_assert_eq(nplm_model_get_params(f, p, P), NPLM_OK);
}

Test(determinism, bit_identical_for_any_thread_count) {
  sample_t smp = make_1d(21, 50000, 600, 0.02);
  const size_t layers[] = {1, 5, 3, 1};
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&smp, layers, 4, 3.0, &family);
  const size_t P = nplm_model_num_params(family);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_EPOCHS, 200), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_SEED, 99), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_MAX_ITERATIONS, 150), NPLM_OK);
  for (int opt = 0; opt < 3; opt++) { /* Adam, L-BFGS-B, Adam then L-BFGS-B */
    cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, opt), NPLM_OK);
    double t1, tk, p1[64], pk[64];
    fit_params(t, &smp, 1, &t1, p1, P);
    for (int threads = 2; threads <= 4; threads++) {
      fit_params(t, &smp, threads, &tk, pk, P);
      cr_assert(memcmp(&t1, &tk, sizeof t1) == 0, "optimizer %d, %d threads: t %.17g vs %.17g",
                opt, threads, tk, t1);
      cr_assert(memcmp(p1, pk, P * sizeof *p1) == 0, "optimizer %d, %d threads: parameters", opt,
                threads);
      double used;
      cr_assert_eq(nplm_test_result(t, NPLM_RESULT_THREADS, &used), NPLM_OK);
      cr_assert_eq(used, threads);
    }
  }
  /* the same seed gives the same start; another seed another */
  double ta, tb, tc, pa[64];
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_ADAM), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_EPOCHS, 5), NPLM_OK);
  fit_params(t, &smp, 2, &ta, pa, P);
  fit_params(t, &smp, 2, &tb, pa, P);
  cr_assert_eq(ta, tb);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_SEED, 100), NPLM_OK);
  fit_params(t, &smp, 2, &tc, pa, P);
  cr_assert_neq(ta, tc);
  free_sample(&smp);
  nplm_test_free(t);
  nplm_model_free(family);
}

Test(clipping, weights_clipped_biases_only_on_request) {
  sample_t smp = make_1d(3, 5000, 700, 0.2);
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&smp, layers, 3, 0.3, &family);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), NPLM_OK);
  for (int clip_biases = 0; clip_biases <= 1; clip_biases++) {
    cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_CLIP_BIASES, clip_biases), NPLM_OK);
    double tv, p[13];
    fit_params(t, &smp, 1, &tv, p, 13);
    double wmax = 0, bmax = 0;
    for (int i = 0; i < 13; i++) {
      int bias = (i >= 4 && i < 8) || i == 12;
      if (bias) bmax = fmax(bmax, fabs(p[i]));
      else wmax = fmax(wmax, fabs(p[i]));
    }
    cr_assert(wmax <= 0.3, "weight %g beyond the clip", wmax);
    cr_assert(fabs(wmax - 0.3) < 1e-12, "a strong excess pins some weight at the clip");
    if (clip_biases) cr_assert(bmax <= 0.3, "bias %g beyond the clip", bmax);
    else cr_assert(bmax > 0.3, "biases are free by default (max %g)", bmax);
  }
  /* NPLM_OPT_WEIGHT_CLIP overrides the model's clip */
  cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_WEIGHT_CLIP, 0.1), NPLM_OK);
  double tv, p[13];
  fit_params(t, &smp, 1, &tv, p, 13);
  for (int i = 0; i < 4; i++) cr_assert(fabs(p[i]) <= 0.1);
  const nplm_model_t *f = NULL;
  cr_assert_eq(nplm_test_fitted_model(t, &f), NPLM_OK);
  cr_assert_eq(nplm_model_weight_clip(f), 0.1);
  free_sample(&smp);
  nplm_test_free(t);
  nplm_model_free(family);
}

Test(reference, weights_are_rescaled_to_n_expected) {
  sample_t smp = make_1d(8, 4000, 300, 0.0);
  const size_t layers[] = {1, 3, 1};
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&smp, layers, 3, 5.0, &family);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_EPOCHS, 50), NPLM_OK);
  double t1, t2, t3;
  cr_assert_eq(nplm_test_set_reference(t, smp.ref, smp.n_ref, 1, smp.wref, 300.0), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, smp.data, smp.n_data, 1, NULL, &t1), NPLM_OK);
  for (size_t i = 0; i < smp.n_ref; i++) smp.wref[i] *= 4.0; /* exact scaling */
  cr_assert_eq(nplm_test_set_reference(t, smp.ref, smp.n_ref, 1, smp.wref, 300.0), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, smp.data, smp.n_data, 1, NULL, &t2), NPLM_OK);
  cr_assert_eq(t1, t2, "only the shape of the reference weights matters");
  cr_assert_eq(nplm_test_set_reference(t, smp.ref, smp.n_ref, 1, smp.wref, 600.0), NPLM_OK);
  cr_assert_eq(nplm_test_run(t, smp.data, smp.n_data, 1, NULL, &t3), NPLM_OK);
  cr_assert_neq(t1, t3, "N(R0) matters");
  free_sample(&smp);
  nplm_test_free(t);
  nplm_model_free(family);
}

Test(run, empty_data_is_a_legitimate_toy) {
  sample_t smp = make_1d(9, 3000, 1, 0.0);
  const size_t layers[] = {1, 4, 1};
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&smp, layers, 3, 2.0, &family);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB), NPLM_OK);
  double tv = -1;
  nplm_status_t s = nplm_test_run(t, NULL, 0, 1, NULL, &tv);
  cr_assert(s == NPLM_OK || s == NPLM_ENOCONV);
  /* with no data the loss is sum_R w (e^f - 1) >= -N(R0): 0 <= t <= 2 N(R0) */
  cr_assert(tv >= 0.0 && tv <= 1000.0, "t = %g", tv);
  free_sample(&smp);
  nplm_test_free(t);
  nplm_model_free(family);
}

typedef struct progress_log {
  int calls;
  int64_t last_done, last_total;
} progress_log_t;

static int record_progress(void *user, const nplm_progress_t *p) {
  progress_log_t *log = user;
  log->calls++;
  cr_assert_eq(p->size, sizeof(nplm_progress_t));
  log->last_done = p->done;
  log->last_total = p->total;
  return 0;
}

Test(options, bounds_names_defaults_and_progress) {
  double lo, hi, dflt;
  cr_assert_eq(nplm_option_bounds(NPLM_OPT_EPOCHS, &lo, &hi, &dflt), NPLM_OK);
  cr_assert_eq(dflt, 300000);
  cr_assert_eq(lo, 1);
  cr_assert_str_eq(nplm_option_name(NPLM_OPT_EPOCHS), "epochs");
  cr_assert_str_eq(nplm_option_name(NPLM_OPT_LEARNING_RATE), "learning_rate");
  cr_assert_eq(nplm_option_bounds(NPLM_OPT_LEARNING_RATE, NULL, NULL, &dflt), NPLM_OK);
  cr_assert_eq(dflt, 1e-3);
  cr_assert_eq(nplm_option_bounds(NPLM_OPT_THREADS, NULL, NULL, &dflt), NPLM_OK);
  cr_assert_eq(dflt, 0);
  cr_assert_eq(nplm_option_bounds(NPLM_OPT_OPTIMIZER, NULL, NULL, &dflt), NPLM_OK);
  cr_assert_eq(dflt, NPLM_OPTIMIZER_ADAM);

  sample_t smp = make_1d(4, 2000, 200, 0.0);
  const size_t layers[] = {1, 2, 1};
  nplm_model_t *family = NULL;
  nplm_test_t *t = make_test(&smp, layers, 3, 1.0, &family);
  double v;
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_EPOCHS, 1234), NPLM_OK);
  cr_assert_eq(nplm_test_get_option(t, NPLM_OPT_EPOCHS, &v), NPLM_OK);
  cr_assert_eq(v, 1234);
  cr_assert_eq(nplm_test_set_double(t, NPLM_OPT_EPOCHS, 77.0), NPLM_OK);
  cr_assert_eq(nplm_test_get_option(t, NPLM_OPT_EPOCHS, &v), NPLM_OK);
  cr_assert_eq(v, 77);
  cr_assert_eq(nplm_test_reset_options(t), NPLM_OK);
  cr_assert_eq(nplm_test_get_option(t, NPLM_OPT_EPOCHS, &v), NPLM_OK);
  cr_assert_eq(v, 300000);

  progress_log_t log = {0, 0, 0};
  cr_assert_eq(nplm_test_set_progress(t, record_progress, &log), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_EPOCHS, 300), NPLM_OK);
  cr_assert_eq(nplm_test_set_int(t, NPLM_OPT_PATIENCE, 0), NPLM_OK);
  double tv;
  cr_assert_eq(nplm_test_run(t, smp.data, smp.n_data, 1, NULL, &tv), NPLM_OK);
  cr_assert(log.calls >= 1);
  cr_assert_eq(log.last_done, 300);
  cr_assert_eq(log.last_total, 300);
  size_t count;
  cr_assert_eq(nplm_test_history(t, NULL, NULL, 0, &count), NPLM_OK);
  cr_assert_eq(count, 1u, "without patience only the final t is recorded");
  free_sample(&smp);
  nplm_test_free(t);
  nplm_model_free(family);
}
