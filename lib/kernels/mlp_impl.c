/* The MLP block kernel. This file is compiled once per instruction set with
 * -DNPLM__ISA=<name> (and the matching NPLM__V8_* back end); the functions it defines carry
 * that name as a suffix. One chunk of 8 events moves through all layers together. */
#include <string.h>

#include "kernels/mlp.h"
#include "kernels/v8.h"

#ifndef NPLM__ISA
#define NPLM__ISA generic
#endif
#define NPLM__CAT2(a, b) a##_##b
#define NPLM__CAT(a, b) NPLM__CAT2(a, b)
#define ISA_FN(name) NPLM__CAT(name, NPLM__ISA)

#define L NPLM__LANES
#define B NPLM__BLOCK
_Static_assert(L == 8, "the kernels move 8 events at a time");
_Static_assert(B % L == 0, "a block holds whole chunks");

void ISA_FN(nplm__mlp_loss)(const nplm__mlp_spec_t *s, const double *params, const double *x,
                            const double *ca, const double *cb, const nplm__mlp_offset_t *off,
                            double *work, double *loss, double *grad);
void ISA_FN(nplm__mlp_forward)(const nplm__mlp_spec_t *s, const double *params, const double *x,
                               double *work, double *f);
void ISA_FN(nplm__mlp_backprop)(const nplm__mlp_spec_t *s, const double *params, const double *x,
                                const double *dldf, double *work, double *grad);

/* Events moved through the layers together: NC chunks of 8, independent dependency chains
 * that keep the floating-point pipelines busy. */
#define NC 8
_Static_assert(B % (NC * L) == 0, "a block holds whole groups of chunks");

/* Forward pass of the NC chunks at e0. Row r of act (layers 1.. stacked, hidden rows are sigmoid
 * outputs, the last row is f) holds event e at act[r * B + e]; x has feature stride B. The
 * hidden units of a layer go through the sigmoid in groups of NPLM__SIG_GROUP (v8_sigmoid_group),
 * the running products of their denominators in the rows of scr (the delta rows of the same
 * layer, overwritten later by the backward pass: its own columns only). */
NPLM__VINLINE void forward_chunks(const nplm__mlp_spec_t *s, const double *params,
                                  const double *x, double *act, size_t e0) {
  double *scr = act + s->act_total * B;
  const size_t nl = s->n_layers;
  const double *in = x;
  for (size_t l = 1; l < nl; l++) {
    const size_t nin = s->units[l - 1], nout = s->units[l];
    const double *W = params + s->w_off[l];
    const double *bias = params + s->b_off[l];
    const int hidden = l + 1 < nl;
    for (size_t j = 0; j < nout; j++) {
      v8 acc[NC];
      for (int c = 0; c < NC; c++) acc[c] = v8_set1(bias[j]);
      const double *wj = W + j * nin;
      for (size_t i = 0; i < nin; i++) {
        const v8 w = v8_set1(wj[i]);
        for (int c = 0; c < NC; c++) acc[c] = v8_fma(w, v8_load(in + i * B + e0 + (size_t)c * L), acc[c]);
      }
      if (!hidden) {
        for (int c = 0; c < NC; c++) v8_store(act + j * B + e0 + (size_t)c * L, acc[c]);
        continue;
      }
      const size_t jg = j % NPLM__SIG_GROUP;  /* place in its group */
      const size_t og = (j - jg) * B + e0;     /* the group's first row */
      for (int c = 0; c < NC; c++)
        v8_sigmoid_push(act + og + (size_t)c * L, scr + og + (size_t)c * L, jg, B, acc[c]);
      if (jg == NPLM__SIG_GROUP - 1 || j + 1 == nout)
        for (int c = 0; c < NC; c++)
          v8_sigmoid_group(act + og + (size_t)c * L, scr + og + (size_t)c * L, jg + 1, B);
    }
    in = act;
    act += nout * B;
    scr += nout * B;
  }
}

/* Gradient of one layer over the block: gW[j][i] = sum_e D[j][e] A[i][e], gb[j] = sum_e D[j][e],
 * each sum in 8 lanes (lane = e mod 8, events in order), the lanes of parameter p stored at
 * lW[8 p] (lb for the biases) for block_gradient to reduce. Tiles of JT rows by IT columns keep
 * JT (IT + 1) independent sums in registers, each row of D and column of A loaded once per
 * chunk. */
#define GT_ROWS 3 /* tile rows (units of the layer) */
#define GT_COLS 5 /* tile columns (inputs of the layer) */
NPLM__VINLINE void grad_tile(size_t nin, const double *D, const double *A, double *lW, double *lb,
                             size_t j0, size_t i0, size_t JT, size_t IT, int with_bias) {
  v8 s[GT_ROWS][GT_COLS], sb[GT_ROWS];
  for (size_t a = 0; a < JT; a++) {
    sb[a] = v8_set1(0.0);
    for (size_t b = 0; b < IT; b++) s[a][b] = sb[a];
  }
  for (size_t e = 0; e < B; e += L) {
    v8 av[GT_COLS], dv[GT_ROWS];
    for (size_t b = 0; b < IT; b++) av[b] = v8_load(A + (i0 + b) * B + e);
    for (size_t a = 0; a < JT; a++) {
      dv[a] = v8_load(D + (j0 + a) * B + e);
      for (size_t b = 0; b < IT; b++) s[a][b] = v8_fma(dv[a], av[b], s[a][b]);
      if (with_bias) sb[a] = v8_add(sb[a], dv[a]);
    }
  }
  for (size_t a = 0; a < JT; a++) {
    for (size_t b = 0; b < IT; b++) v8_store(lW + ((j0 + a) * nin + i0 + b) * L, s[a][b]);
    if (with_bias) v8_store(lb + (j0 + a) * L, sb[a]);
  }
}

/* Each tile size its own inlined copy: constant bounds keep the sums in registers. */
#define GT_CASE(jt, it)                                                      \
  case (jt) * 8 + (it):                                                      \
    grad_tile(nin, D, A, lW, lb, j, i, (jt), (it), i == 0);                  \
    break;

NPLM__VINLINE void layer_gradient(size_t nout, size_t nin, const double *D, const double *A,
                                  double *lW, double *lb) {
  _Static_assert(GT_ROWS == 3 && GT_COLS == 5, "the cases below cover 1..3 x 1..5 tiles");
  for (size_t j = 0; j < nout; j += GT_ROWS) {
    const size_t jt = nout - j < GT_ROWS ? nout - j : GT_ROWS;
    for (size_t i = 0; i < nin; i += GT_COLS) {
      const size_t it = nin - i < GT_COLS ? nin - i : GT_COLS;
      switch (jt * 8 + it) {
        GT_CASE(1, 1) GT_CASE(1, 2) GT_CASE(1, 3) GT_CASE(1, 4) GT_CASE(1, 5)
        GT_CASE(2, 1) GT_CASE(2, 2) GT_CASE(2, 3) GT_CASE(2, 4) GT_CASE(2, 5)
        GT_CASE(3, 1) GT_CASE(3, 2) GT_CASE(3, 3) GT_CASE(3, 4) GT_CASE(3, 5)
      }
    }
  }
}
#undef GT_CASE

/* Backward through the layers for the group of NC chunks at g0: delta_{l-1} =
 * (W_l^T delta_l) s (1 - s), s (1 - s) as s - s^2 in one fma, from the output row of delta
 * already filled. */
NPLM__VINLINE void backprop_group(const nplm__mlp_spec_t *s, const double *params,
                                  const double *act, double *delta, size_t g0) {
  const size_t nl = s->n_layers, R = s->act_total;
  const v8 zero = v8_set1(0.0);
  size_t row = R - 1; /* first row of layer l */
  for (size_t l = nl - 1; l >= 2; l--) {
    const size_t nin = s->units[l - 1], nout = s->units[l];
    const size_t below = row - nin;
    const double *W = params + s->w_off[l];
    for (size_t i = 0; i < nin; i++) {
      v8 acc[NC];
      for (int c = 0; c < NC; c++) acc[c] = zero;
      for (size_t j = 0; j < nout; j++) {
        const v8 w = v8_set1(W[j * nin + i]);
        const double *dj = delta + (row + j) * B + g0;
        for (int c = 0; c < NC; c++) acc[c] = v8_fma(w, v8_load(dj + (size_t)c * L), acc[c]);
      }
      for (int c = 0; c < NC; c++) {
        const size_t e = (below + i) * B + g0 + (size_t)c * L;
        const v8 si = v8_load(act + e);
        v8_store(delta + e, v8_mul(acc[c], v8_fnma(si, si, si))); /* s - s^2 = s (1 - s) */
      }
    }
    row = below;
  }
}

/* The block's parameter gradient from the stored activations and deltas: every parameter's 8
 * lane sums into lanes (8 doubles per parameter), then reduced eight parameters at a time. */
NPLM__VINLINE void block_gradient(const nplm__mlp_spec_t *s, const double *x, const double *act,
                                  const double *delta, double *lanes, double *grad) {
  size_t row = 0;
  const double *in = x;
  for (size_t l = 1; l < s->n_layers; l++) {
    const size_t nin = s->units[l - 1], nout = s->units[l];
    layer_gradient(nout, nin, delta + row * B, in, lanes + s->w_off[l] * L,
                   lanes + s->b_off[l] * L);
    in = act + row * B;
    row += nout;
  }
  const size_t P = s->n_params;
  size_t p = 0;
  for (; p + L <= P; p += L) {
    v8 v[L];
    for (int k = 0; k < L; k++) v[k] = v8_load(lanes + (p + (size_t)k) * L);
    v8_store(grad + p, v8_hsum8(v));
  }
  for (; p < P; p++) grad[p] = v8_lane_sum(v8_load(lanes + p * L));
}

/* Work layout: [act: act_total rows of B][delta: act_total rows of B][lanes: 8 per parameter] */
void ISA_FN(nplm__mlp_loss)(const nplm__mlp_spec_t *s, const double *params, const double *x,
                            const double *ca, const double *cb, const nplm__mlp_offset_t *off,
                            double *work, double *loss, double *grad) {
  const size_t R = s->act_total;
  double *act = work;
  double *delta = act + R * B;
  const v8 one = v8_set1(1.0), zero = v8_set1(0.0);
  v8 lsum = zero;
  const double *fout = act + (R - 1) * B;
  /* nuisance moments, 8 lanes each: n_coef + 1 accumulators kept in the caller's slot order */
  enum { MAXM = 17 };
  v8 macc[MAXM];
  const size_t nm = off && off->moments ? off->n_coef + 1 : 0;
  for (size_t q = 0; q < nm && q < MAXM; q++) macc[q] = zero;

  for (size_t g0 = 0; g0 < B; g0 += NC * L) {
    forward_chunks(s, params, x, act, g0);
    for (size_t e0 = g0; e0 < g0 + NC * L; e0 += L) {
      const v8 a = v8_load(ca + e0), b = v8_load(cb + e0);
      v8 f = v8_load(fout + e0);
      if (off) { /* f + log r(x; nu) */
        v8 o = v8_set1(off->norm);
        for (size_t col = 0; col < off->n_coef; col++)
          o = v8_fma(v8_load(off->coef + col * B + e0), v8_set1(off->mult[col]), o);
        f = v8_add(f, o);
      }
      const v8 ef = v8_exp_fast(f);
      /* loss: a (e^f - 1) - b f */
      lsum = v8_add(lsum, v8_fma(v8_sub(zero, b), f, v8_mul(a, v8_sub(ef, one))));
      /* dL/df = a e^f - b */
      const v8 g = v8_fma(a, ef, v8_sub(zero, b));
      if (grad) v8_store(delta + (R - 1) * B + e0, g);
      if (nm) {
        for (size_t col = 0; col < off->n_coef; col++)
          macc[col] = v8_fma(g, v8_load(off->coef + col * B + e0), macc[col]);
        macc[off->n_coef] = v8_add(macc[off->n_coef], g);
      }
    }
    if (!grad) continue;
    backprop_group(s, params, act, delta, g0);
  }
  *loss = v8_lane_sum(lsum);
  for (size_t q = 0; q < nm; q++) off->moments[q] = v8_lane_sum(macc[q]);
  if (grad) block_gradient(s, x, act, delta, delta + R * B, grad);
}

void ISA_FN(nplm__mlp_forward)(const nplm__mlp_spec_t *s, const double *params, const double *x,
                               double *work, double *f) {
  const double *fout = work + (s->act_total - 1) * B;
  for (size_t g0 = 0; g0 < B; g0 += NC * L) forward_chunks(s, params, x, work, g0);
  memcpy(f, fout, B * sizeof *f);
}

void ISA_FN(nplm__mlp_backprop)(const nplm__mlp_spec_t *s, const double *params, const double *x,
                                const double *dldf, double *work, double *grad) {
  const size_t R = s->act_total;
  double *act = work, *delta = act + R * B;
  for (size_t g0 = 0; g0 < B; g0 += NC * L) {
    forward_chunks(s, params, x, act, g0);
    memcpy(delta + (R - 1) * B + g0, dldf + g0, NC * L * sizeof *delta);
    backprop_group(s, params, act, delta, g0);
  }
  block_gradient(s, x, act, delta, delta + R * B, grad);
}
