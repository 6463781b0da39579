/* Batched MLP kernels over blocks of events, one implementation compiled for several
 * instruction sets and chosen once at run time. Every path gives bit-identical results:
 * the code uses only IEEE +, -, *, / and fma (correctly rounded on every path), no
 * contraction (-ffp-contract=off), and a fixed lane/reduction order. */
#ifndef NPLM_KERNELS_MLP_H
#define NPLM_KERNELS_MLP_H

#include <stddef.h>

/* Events per block: the unit of work of a thread and of the fixed reduction order. */
#define NPLM__BLOCK 128
/* Events per chunk inside a block (one vector of lanes); also the number of partial sums. */
#define NPLM__LANES 8
/* Most layers (unit-count entries) a network may have. */
#define NPLM__MAX_LAYERS 64
/* Most units in one layer. */
#define NPLM__MAX_UNITS 4096

typedef struct nplm__mlp_spec {
  size_t n_layers;                     /* entries of units[]: d, h1, ..., 1 */
  size_t units[NPLM__MAX_LAYERS];
  size_t w_off[NPLM__MAX_LAYERS];      /* offset of layer l's weights (l >= 1) */
  size_t b_off[NPLM__MAX_LAYERS];      /* offset of layer l's biases */
  size_t n_params;
  size_t act_total;                    /* sum of units[1..] */
  size_t max_units;
} nplm__mlp_spec_t;

/* Fill offsets and totals from units[]; returns 0, or -1 when a size is out of range. */
int nplm__mlp_spec_init(nplm__mlp_spec_t *s, const size_t *units, size_t n_layers);

/* Doubles of per-thread scratch space the kernels need. */
size_t nplm__mlp_work_size(const nplm__mlp_spec_t *s);

/* Nuisance terms of a block: the offset added to f is log r = norm + sum_c coef_c mult_c, with
 * coef feature-major like x (coef[c * NPLM__BLOCK + e], n_coef columns); the pass adds
 * sum_e dL/df coef_c to moments[c] for c < n_coef and sum_e dL/df to moments[n_coef]. */
typedef struct nplm__mlp_offset {
  const double *coef;
  size_t n_coef;
  const double *mult;
  double norm;
  double *moments; /* NULL: not wanted */
} nplm__mlp_offset_t;

/* One block of NPLM__BLOCK events stored feature-major: x[j * NPLM__BLOCK + e].
 * Per event the loss is ca (exp g - 1) - cb g with g = f + log r (off NULL: log r = 0; padding
 * events have ca = cb = 0). Writes the block's loss and, when grad is not NULL, its gradient
 * (n_params doubles), and the moments of off when asked. */
typedef void (*nplm__mlp_loss_fn)(const nplm__mlp_spec_t *s, const double *params,
                                  const double *x, const double *ca, const double *cb,
                                  const nplm__mlp_offset_t *off, double *work, double *loss,
                                  double *grad);
/* f on one block: f[e] for e < NPLM__BLOCK. */
typedef void (*nplm__mlp_forward_fn)(const nplm__mlp_spec_t *s, const double *params,
                                     const double *x, double *work, double *f);

/* Gradient over one block of sum_e dldf[e] f(x_e): the caller's loss, given its per-event
 * derivative dL/df (padding events must have dldf = 0). Writes n_params doubles. */
typedef void (*nplm__mlp_backprop_fn)(const nplm__mlp_spec_t *s, const double *params,
                                      const double *x, const double *dldf, double *work,
                                      double *grad);

typedef struct nplm__mlp_kernels {
  const char *name;
  nplm__mlp_loss_fn loss;
  nplm__mlp_forward_fn forward;
  nplm__mlp_backprop_fn backprop;
} nplm__mlp_kernels_t;

/* The fastest path this CPU supports (chosen once, thread-safe). */
const nplm__mlp_kernels_t *nplm__mlp_kernels(void);
/* A named path ("avx512", "avx2", "baseline"), or NULL if absent or unsupported here. */
const nplm__mlp_kernels_t *nplm__mlp_kernels_by_name(const char *name);

/* The kernels' exp on one value (overflow +inf, underflow 0, NaN propagates; < 2 ulp), for tests. */
double nplm__exp(double x);
/* The same on 8 lanes at once (the loss's vectors), for tests. */
void nplm__exp_lanes(const double *x, double *y);
/* The kernels' sigmoid on one value (z clamped to [-140, 700]; < 3 ulp), for tests. */
double nplm__sigmoid(double z);
/* The kernels' sigmoids of one group of n (1 .. 5) hidden units of an event, sharing one
 * division as in the forward pass, for tests. */
void nplm__sigmoid_group(const double *z, size_t n, double *out);

#endif
