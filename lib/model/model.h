/* Internal view of nplm_model_t. */
#ifndef NPLM_MODEL_MODEL_H
#define NPLM_MODEL_MODEL_H

#include "core/core.h"
#include "kernels/mlp.h"

#define NPLM_H_INSIDE
#include "nplm/model.h"
#undef NPLM_H_INSIDE

enum nplm__model_kind { NPLM__MODEL_MLP = 1, NPLM__MODEL_KERNEL = 2 };

struct nplm_model {
  int kind;
  size_t d;
  double clip; /* > 0, INFINITY = none (kernel models: INFINITY) */
  nplm__mlp_spec_t spec; /* MLP shape; for a kernel model only n_params (= k_m) is used */
  double *params;        /* spec.n_params: MLP weights, or the kernel model's alpha */
  /* kernel models: the family's settings and, once fitted, its centres */
  size_t k_req;          /* requested centres; 0 = ceil(sqrt(n)) at fit time */
  double k_sigma, k_lambda;
  size_t k_m;            /* centres of a fitted model (= spec.n_params); 0 before a fit */
  double *k_data;        /* k_m * d centres (row-major, standardised coordinates), then the d
                            shifts and the d scales of the standardisation x~ = (x - shift) *
                            scale (0 and 1 when inputs are not standardised) */
};

/* A kernel model with room for m centres (zero alpha, identity standardisation). */
nplm_status_t nplm__model_new_kernel(nplm_model_t **out, size_t d, size_t n_centers,
                                     double sigma, double lambda, size_t m, const char *fn);
/* The factor sqrt(1 / (2 sigma^2)) that kernel coordinates are multiplied by (kernels/gauss.h). */
double nplm__kernel_coord_scale(double sigma);
/* Centres of a fitted kernel model feature-major, padded and scaled by the coordinate factor
 * (see kernels/gauss.h): *ct has d * *ldc doubles (padding centres repeat the last one), *alpha
 * ldc (padding 0). Allocated. */
nplm_status_t nplm__kernel_pack_centers(const nplm_model_t *m, double **ct, double **alpha,
                                        size_t *ldc);
/* k of n indices without replacement, increasing, from r (selection sampling). */
struct nplm__rng;
void nplm__sample_indices(struct nplm__rng *r, size_t n, size_t k, size_t *out);
/* Standardise a block of events (feature-major, NPLM__BLOCK) in place with m's transform. */
void nplm__kernel_standardise_block(const nplm_model_t *m, double *blk);
/* Standardise, then multiply by the coordinate factor: a block ready for the kernels. */
void nplm__kernel_prepare_block(const nplm_model_t *m, double *blk);

/* Glorot-uniform weights from the stream (seed, (init, index)); biases zero or, with
 * bias_glorot, Glorot-uniform with bound sqrt(3 / d_out). One draw per parameter, in order. */
void nplm__mlp_glorot(const nplm__mlp_spec_t *s, uint64_t seed, uint64_t index, int bias_glorot,
                      double *p);
/* The same for start `start` of a multi-start fit (NPLM_OPT_STARTS): the same stream, its
 * draws from block start * 2^32 on (start 0 is nplm__mlp_glorot's start). */
void nplm__mlp_glorot_start(const nplm__mlp_spec_t *s, uint64_t seed, uint64_t index,
                            uint64_t start, int bias_glorot, double *p);

/* Deep copy; NULL on allocation failure. */
nplm_model_t *nplm__model_clone(const nplm_model_t *m);
/* Allocate a model of the given shape with zero parameters (no argument checks). */
nplm_status_t nplm__model_new_mlp(nplm_model_t **out, const size_t *layers, size_t n_layers,
                                  double clip, const char *fn);

/* Events in the kernels' block layout: block k holds events k*B .. k*B+B-1, feature-major. */
typedef struct nplm__events {
  size_t n, d, n_blocks;
  double *x;  /* n_blocks * d * NPLM__BLOCK */
  double *ca; /* n_blocks * NPLM__BLOCK: coefficient of (exp f - 1) */
  double *cb; /* n_blocks * NPLM__BLOCK: coefficient of -f */
  double *coef; /* nuisance coefficients per block, feature-major like x:
                   coef[(block * n_coef + c) * NPLM__BLOCK + e], or NULL */
  size_t n_coef;
} nplm__events_t;

/* Pack row-major x (n x d) with per-event coefficients: ca = a_scale * (w ? w[i] : 1) and
 * cb = b_scale * (w ? w[i] : 1). Padding events repeat the block's last event, with
 * ca = cb = 0. */
nplm_status_t nplm__events_pack(nplm__events_t *ev, const double *x, size_t n, size_t d,
                                const double *w, double a_scale, double b_scale);
void nplm__events_free(nplm__events_t *ev);
/* Copy events [start, start + count) of row-major x into one block (padding repeats the last). */
void nplm__pack_block(const double *x, size_t d, size_t start, size_t count, double *blk);

/* Validate an n x d row-major event array (and optional weights): NULL, NaN/Inf, negative
 * weights. Returns NPLM_OK or NPLM_EINVAL with a message naming fn/argument/index. */
nplm_status_t nplm__check_events(const char *fn, const char *xname, const double *x, size_t n,
                                 size_t d, const char *wname, const double *w);
/* The sum of n weights (n itself for w = NULL) into *sum if it is positive and finite, else
 * NPLM_EINVAL naming fn and wname: a sample whose weights are all 0 holds no events. */
nplm_status_t nplm__check_weight_sum(const char *fn, const char *wname, const double *w,
                                     size_t n, double *sum);

#endif
