/* Internal view of nplm_test_t. */
#ifndef NPLM_TEST_TEST_INTERNAL_H
#define NPLM_TEST_TEST_INTERNAL_H

#include <stdatomic.h>

#include "core/core.h"
#include "core/pool.h"
#include "model/model.h"
#include "nuisance/nuisance.h"
#include "optim/optim.h"

#define NPLM_H_INSIDE
#include "nplm/test.h"
#undef NPLM_H_INSIDE

enum nplm__opt_type { NPLM__OPT_INT, NPLM__OPT_DOUBLE };

typedef struct nplm__option_info {
  nplm_option_t key;
  const char *name;
  int type;
  double lo, hi, dflt; /* hi = INFINITY: +INFINITY itself is accepted */
} nplm__option_info_t;

/* Largest accepted N(R0): toy sizes stay exact integers in a double and their Poisson draws fit
 * in 64 bits. */
#define NPLM__MAX_EXPECTED 0x1p53

/* Coefficient columns + 1 moments of a nuisance fit kept on the stack: 64 nuisances of order
 * up to 8. */
#define NPLM__MAX_MOMENTS (64 * 8 + 1)

/* Every option, in a fixed order; NPLM__N_OPTIONS entries. */
#define NPLM__N_OPTIONS 28
extern const nplm__option_info_t nplm__options[NPLM__N_OPTIONS];
/* Index of a key in nplm__options, or -1. */
int nplm__option_index(nplm_option_t key);

struct nplm_test {
  nplm_model_t *family;
  nplm_model_t *fitted;
  nplm_nuisance_t *nuis; /* NULL: no systematics */
  double opt[NPLM__N_OPTIONS];

  int has_ref;
  double n_expected;
  nplm__events_t ref;

  nplm__pool_t *pool;

  nplm_progress_fn progress;
  void *progress_user;

  int has_result;
  double t_value, loss, seconds, pg_norm, sum_data_w;
  int64_t iterations, evaluations;
  int converged, threads;
  size_t n_data;
  int64_t *hist_epoch;
  double *hist_t;
  size_t hist_n, hist_cap;
  double tau, delta;            /* with nuisances: t = tau - delta */
  double jitter;                /* kernel models: relative jitter of the last fit */
  size_t centers;               /* kernel models: centres of the last fit */
  size_t rank;                  /* kernel models: rank of the K_MM factor of the last fit */
  double *nu_tau, *nu_delta;    /* fitted nuisances of both fits (nuis->n each) */
  /* per-toy results of the last calibration: cal_n rows of NPLM__TOY_COLS results (column
     key - 1 of nplm_result_t) followed by the fitted nu of tau and of Delta and the toy's
     auxiliary values (3 nuis->n): NPLM__TOY_WIDTH(nuis->n) columns */
  double *cal_res;
  size_t cal_n;

  char msg[NPLM__MSG_SIZE];
};

#define NPLM__TOY_COLS 15 /* nplm_result_t keys 1 .. 15 */
#define NPLM__TOY_WIDTH(J) (NPLM__TOY_COLS + 3 * (J))

/* Result of the two fits of a test with nuisances. */
typedef struct nplm__nuis_fit {
  double tau, delta;
  double *nu_tau, *nu_delta; /* caller's buffers of nuis->n */
  nplm__optim_report_t delta_rep;
} nplm__nuis_fit_t;

/* The state of one fit: the objective over reference + data blocks and its monitor. */
struct nplm__fit_ctx {
  const nplm_test_t *t; /* settings, family and reference */
  nplm_test_t *mut;     /* receives history and progress (nplm_test_run), or NULL */
  nplm__pool_t *pool;   /* threads over blocks, or NULL */
  atomic_int *stop;     /* set by another thread to abandon the fit, or NULL */
  const nplm__mlp_spec_t *spec;
  const nplm__mlp_kernels_t *kern;
  const nplm__events_t *ref, *data;
  size_t n_tasks;
  size_t slot_n; /* doubles per slot: loss, then the gradient (network, then nuisances) */
  double *slots; /* n_tasks * slot_n */
  double *work;  /* threads * work_n */
  size_t work_n;
  const double *params;
  int want_grad;
  /* monitoring */
  int64_t patience, total;
  int64_t step_offset; /* steps of an earlier phase (Adam before L-BFGS-B), added to the step */
  double delta;        /* Delta, once fitted: history, progress and traces show -2 L - Delta */
  double t0, last_progress;
  nplm_status_t hist_status;
  int canceled;
  double *nu_mult;         /* with nuisances: nu_j^k per coefficient column */
  const double *nu0;       /* with nuisances: this fit's auxiliary values, or NULL (handle's) */
  double nu_norm;          /* with nuisances: sum of the normalisation nuisances */
  int delta_only;          /* the Delta fit: f = 0, parameters are nu alone */
  double *trace;      /* t every `patience` steps (index step / patience - 1), or NULL */
  size_t trace_len;   /* entries of trace */
  size_t trace_done;  /* entries written */
};
typedef struct nplm__fit_ctx fit_ctx_t;

/* One fit on t's reference and the given data (test.c). c must have t, mut (NULL: no history
 * or progress), pool (NULL: one thread), stop (NULL: never) and t0 set; the fitted parameters
 * go to params, the clip used to *clip. */
nplm_status_t nplm__test_fit(fit_ctx_t *c, const nplm__events_t *data, uint64_t init_seed,
                             uint64_t init_index, double *params, double *clip,
                             nplm__optim_report_t *rep, nplm__nuis_fit_t *nf);
/* Outcome of a kernel-model fit. */
typedef struct nplm__kernel_report {
  double t, loss;      /* t = -2 L[f] on the training events, L */
  double residual;     /* relative residual of the last CG solve (0 for the direct solver) */
  double jitter;       /* largest relative diagonal jitter a factorisation needed */
  int64_t iterations;  /* CG iterations over all Newton steps */
  int64_t passes;      /* passes over the events */
  int converged;       /* every CG solve met its tolerance */
  size_t m;            /* centres */
  size_t rank;         /* rank of the low-rank factor of K_MM */
} nplm__kernel_report_t;

/* The number of centres a kernel fit of t's reference and n_data events uses
 * (NPLM_OPT_KERNEL_CENTERS, else the family's, else ceil(sqrt(events))); it must not exceed
 * the events. */
size_t nplm__kernel_centres(const nplm_test_t *t, size_t n_data);

/* Fit a kernel family on t's reference and the data (kernel_fit.c): centres from the stream
 * (seed, index), threads from pool (NULL: one), stop polled between passes. On success the
 * fitted model goes to *fitted (may be NULL: not wanted). */
nplm_status_t nplm__kernel_fit(const nplm_test_t *t, nplm__pool_t *pool, atomic_int *stop,
                               const nplm__events_t *data, uint64_t seed, uint64_t index,
                               nplm_model_t **fitted, nplm__kernel_report_t *rep);

/* Pack data events (weights w or 1) and, with nuisances, their coefficients and offsets. */
nplm_status_t nplm__test_pack(const nplm_test_t *t, nplm__events_t *ev, const double *x, size_t n,
                              const double *w, double a_scale, double b_scale);
/* nplm_test_calibrate with, optionally, each toy's t every NPLM_OPT_PATIENCE steps:
 * trace is n_toys x trace_len (entries after a fit stopped early repeat its final t). */
nplm_status_t nplm__calibrate_pool(nplm_test_t *t, const char *fn, const double *pool_x,
                                   size_t pool_n, size_t d, const double *pool_w, size_t n_toys,
                                   uint64_t seed, double *t_null, double *trace,
                                   size_t trace_len);
/* Threads for n_tasks units of work under NPLM_OPT_THREADS. */
int nplm__test_threads(const nplm_test_t *t, size_t n_tasks);
/* (Re)create the handle's thread pool with the given size. */
nplm_status_t nplm__test_ensure_pool(nplm_test_t *t, int threads);

/* Current value of an option. */
double nplm__test_opt(const nplm_test_t *t, nplm_option_t key);

#endif
