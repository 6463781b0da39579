/** @file test.h
 *  @brief nplm_test_t: reference sample + model family -> the test statistic t. */
#ifndef NPLM_TEST_H
#define NPLM_TEST_H

#if !defined(NPLM_H_INSIDE) && !defined(NPLM_NO_SINGLE_HEADER_ERROR)
#error "Include <nplm/nplm.h> instead."
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup test The test: t from data and a reference
 *
 *  The test minimises the extended-likelihood loss
 *  L[f] = sum_R w (exp f(x) - 1) - sum_D w f(x) over the parameters of the model family and
 *  returns t = -2 min L. Reference weights are rescaled to sum to N(R0).
 *
 *  Thread safety: one thread at a time per test handle. Results are bit-identical for any value
 *  of ::NPLM_OPT_THREADS.
 *  @{ */

/** Opaque test handle. */
typedef struct nplm_test nplm_test_t;

/** Option keys for nplm_test_set_int() / nplm_test_set_double().
 *
 *  Values are pinned and grouped by hundreds (general 1-99, training 100s, calibration 300s);
 *  they are never reused. Each key has one type: nplm_test_set_int() refuses a double key
 *  (::NPLM_EINVAL); nplm_test_set_double() takes an integer key only with an integral value
 *  (for bindings that pass every number as a double) and refuses 2.5 for one. Values out of
 *  range are rejected, never clamped. Settings stay until changed or reset. */
typedef enum nplm_option {
  NPLM_OPT_THREADS = 1,          /**< int >= 0, <= 1024; worker threads of a fit (over event
                                      blocks) or of a calibration (over toys); 0 (default) = all
                                      online cores. Results do not depend on it. */
  NPLM_OPT_SEED = 2,             /**< int >= 0; root of every random stream (initialisation);
                                      default 0. */
  NPLM_OPT_OPTIMIZER = 100,      /**< int: ::NPLM_OPTIMIZER_ADAM (default),
                                      ::NPLM_OPTIMIZER_LBFGSB or ::NPLM_OPTIMIZER_ADAM_LBFGSB. */
  NPLM_OPT_EPOCHS = 101,         /**< int 1 .. 1e9; Adam full-batch steps; default 300000. */
  NPLM_OPT_LEARNING_RATE = 102,  /**< double > 0, <= 10; Adam learning rate; default 1e-3. */
  NPLM_OPT_INIT = 103,           /**< int: ::NPLM_INIT_RANDOM (default, Glorot-uniform from the
                                      seed) or ::NPLM_INIT_FROM_MODEL (start from the parameters
                                      of the model given to nplm_test_create()). */
  NPLM_OPT_CLIP_BIASES = 104,    /**< int 0 or 1; also clip the biases to [-c, c]; default 0. */
  NPLM_OPT_PATIENCE = 105,       /**< int 0 .. 1e9; record t in the history every this many
                                      epochs (Adam) or iterations (L-BFGS-B; after Adam in
                                      ::NPLM_OPTIMIZER_ADAM_LBFGSB, counted on from the last
                                      epoch); 0 = no history; default 1000. */
  NPLM_OPT_MAX_ITERATIONS = 106, /**< int 1 .. 1e9; L-BFGS-B iteration limit; default 20000. */
  NPLM_OPT_TOLERANCE = 107,      /**< double >= 0, < 1; L-BFGS-B stops when the relative decrease
                                      of the loss over one iteration, (L_old - L_new) /
                                      max(|L_old|, |L_new|, 1), falls below it; default 1e-12. */
  NPLM_OPT_GRADIENT_TOLERANCE = 108, /**< double 0 .. 1e6; L-BFGS-B also stops when the largest
                                      projected-gradient component, divided by N(R0), falls below
                                      it; default 1e-9. Also sets ::NPLM_RESULT_CONVERGED for
                                      Adam. */
  NPLM_OPT_LBFGS_MEMORY = 109,   /**< int 0 .. 100; L-BFGS-B correction pairs; 0 (default) =
                                      automatic: a dense quasi-Newton matrix up to 1000
                                      parameters, 20 pairs above. */
  NPLM_OPT_ADAM_BETA1 = 110,     /**< double in [0, 1); default 0.9. */
  NPLM_OPT_ADAM_BETA2 = 111,     /**< double in [0, 1); default 0.999. */
  NPLM_OPT_ADAM_EPSILON = 112,   /**< double > 0, <= 1; default 1e-7 (Keras). */
  NPLM_OPT_BIAS_INIT = 113,      /**< int: ::NPLM_BIAS_INIT_ZERO (default) or
                                      ::NPLM_BIAS_INIT_GLOROT (Glorot-uniform biases, as the
                                      published Keras runs effectively had). */
  NPLM_OPT_WEIGHT_CLIP = 114,    /**< double > 0 or INFINITY; overrides the model's weight clip;
                                      0 (default) = use the model's. */
  NPLM_OPT_STARTS = 115,         /**< int 1 .. 1000; network models: fit from this many starts
                                      and keep the one with the lowest loss (the first of equal
                                      ones); default 1. Start 0 is the usual one (the Glorot
                                      draw of the seed, or the model's parameters with
                                      ::NPLM_INIT_FROM_MODEL), start k a further Glorot draw of
                                      the same stream; each starts the nuisances at their aux
                                      values. The network's loss has many local minima, so t
                                      depends on the start; more starts give a larger,
                                      less start-dependent t, which is a different statistic:
                                      calibrate it with the same setting (nplm_test_calibrate()
                                      does). The results, the history and the fitted model are
                                      those of the kept start; ::NPLM_RESULT_SECONDS covers all.
                                      @since 0.1 */
  NPLM_OPT_NEWTON_STEPS = 200,   /**< int 1 .. 100; kernel models: Newton steps of the weighted
                                      logistic loss from f = 0; default 1 (the published
                                      procedure). */
  NPLM_OPT_KERNEL_SOLVER = 201,  /**< int: ::NPLM_SOLVER_AUTO (default), ::NPLM_SOLVER_DIRECT or
                                      ::NPLM_SOLVER_CG; how a kernel model's linear system is
                                      solved. */
  NPLM_OPT_STANDARDIZE = 202,    /**< int 0 or 1; kernel models: standardise each input feature
                                      with the reference's weighted mean and standard deviation
                                      before the (isotropic) kernel (a feature constant in
                                      the reference, up to rounding, is shifted only);
                                      default 0. */
  NPLM_OPT_CG_TOLERANCE = 203,   /**< double > 0, < 1; conjugate gradient stops when the residual
                                      norm falls below this fraction of the right-hand side's;
                                      default 1e-7 (t to about 1e-8 on the 1D benchmark). */
  NPLM_OPT_CG_MAX_ITERATIONS = 204, /**< int 1 .. 1e6; conjugate-gradient iteration limit per
                                      Newton step; default 1000. */
  NPLM_OPT_KERNEL_CENTERS = 205, /**< int 0 .. 2^24; overrides the kernel model's number of
                                      centres M; 0 (default) = the model's. */
  NPLM_OPT_KERNEL_SIGMA = 206,   /**< double >= 0, finite; overrides the kernel width; 0 (default)
                                      = the model's. */
  NPLM_OPT_KERNEL_LAMBDA = 207,  /**< double, finite, <= 1e6; overrides the ridge penalty when
                                      >= 0; negative (default -1) = the model's. */
  NPLM_OPT_TOY_OFFSET = 300,     /**< int 0 .. 2^53; global index of the first toy of a
                                      calibration, for shards: toy k of a call is toy
                                      offset + k; default 0. */
  NPLM_OPT_TOY_AUX = 301         /**< int: ::NPLM_TOY_AUX_FIXED (default) or
                                      ::NPLM_TOY_AUX_DRAW; the auxiliary measurements of the
                                      toys of a calibration with nuisances. @since 0.1 */
} nplm_option_t;

/** Values of ::NPLM_OPT_TOY_AUX. A toy generator's nplm_toy_set_aux() wins over both. */
enum nplm_toy_aux {
  NPLM_TOY_AUX_FIXED = 0, /**< Every toy uses the test's auxiliary values (nplm_test_set_aux()). */
  NPLM_TOY_AUX_DRAW = 1   /**< Toy g draws nu0_j ~ Normal(the test's nu0_j, sigma_j) from the
                               stream (seed, (aux, g)): the frequentist treatment of the
                               auxiliary measurements, with the test's values as the true nu*
                               (set them to the nuisance values the toys are generated at). */
};

/** Values of ::NPLM_OPT_OPTIMIZER. */
enum nplm_optimizer {
  NPLM_OPTIMIZER_ADAM = 0,  /**< Full-batch Adam, Keras form, fixed epoch count (the anchors'). */
  NPLM_OPTIMIZER_LBFGSB = 1, /**< Projected quasi-Newton on the clip box (L-BFGS-B style): a
                                 dense BFGS model, refreshed by a finite-difference Hessian
                                 when its steps keep failing, or limited-memory pairs
                                 (::NPLM_OPT_LBFGS_MEMORY); stops on ::NPLM_OPT_TOLERANCE or
                                 ::NPLM_OPT_GRADIENT_TOLERANCE. */
  NPLM_OPTIMIZER_ADAM_LBFGSB = 2 /**< ::NPLM_OPT_EPOCHS Adam epochs, then L-BFGS-B from Adam's
                                 end point: the minimum Adam's trajectory leads to, without
                                 the slow end of its descent (on the 1D benchmark, 30000
                                 epochs and the polish gave the t of 300000 epochs within
                                 0.12% on 10 of 12 null toys, 100000 epochs on the other two;
                                 bench/RESULTS.md). Results and status as for L-BFGS-B;
                                 ::NPLM_RESULT_ITERATIONS and ::NPLM_RESULT_EVALUATIONS count
                                 both phases. @since 0.1 */
};

/** Values of ::NPLM_OPT_KERNEL_SOLVER. */
enum nplm_kernel_solver {
  NPLM_SOLVER_AUTO = 0,   /**< Direct up to 400 centres, conjugate gradient above. */
  NPLM_SOLVER_DIRECT = 1, /**< Form the M x M system with BLAS over event blocks, Cholesky. */
  NPLM_SOLVER_CG = 2      /**< Preconditioned conjugate gradient, kernel blocks on the fly. */
};

/** Values of ::NPLM_OPT_INIT. */
enum nplm_init {
  NPLM_INIT_RANDOM = 0,    /**< Glorot-uniform weights from (seed, stream); biases per
                                ::NPLM_OPT_BIAS_INIT. */
  NPLM_INIT_FROM_MODEL = 1 /**< Start from the parameters of the family model. Adam, like a
                                Keras weight constraint, clips after each update (its first
                                gradient is taken at the start as given); L-BFGS-B starts
                                from the start's projection onto the clip box. */
};

/** Values of ::NPLM_OPT_BIAS_INIT. */
enum nplm_bias_init {
  NPLM_BIAS_INIT_ZERO = 0,  /**< Biases start at zero. */
  NPLM_BIAS_INIT_GLOROT = 1 /**< Biases Glorot-uniform with the layer's bound. */
};

/** Result keys for nplm_test_result(). */
typedef enum nplm_result {
  NPLM_RESULT_T = 1,             /**< t = -2 L at the final parameters. */
  NPLM_RESULT_LOSS = 2,          /**< L at the final parameters (= -t/2). */
  NPLM_RESULT_ITERATIONS = 3,    /**< Adam epochs or L-BFGS-B iterations done (both, summed,
                                      for ::NPLM_OPTIMIZER_ADAM_LBFGSB; kernel models:
                                      conjugate-gradient iterations, 0 for the direct solver). */
  NPLM_RESULT_CONVERGED = 4,     /**< 1 if the stopping tolerance was met, else 0. */
  NPLM_RESULT_SECONDS = 5,       /**< Wall-clock seconds of the fit. */
  NPLM_RESULT_EVALUATIONS = 6,   /**< Loss/gradient passes over the events. */
  NPLM_RESULT_GRADIENT_NORM = 7, /**< Largest projected-gradient component at the end (kernel
                                      models: the relative residual of the last linear solve). */
  NPLM_RESULT_THREADS = 8,       /**< Threads the fit used. */
  NPLM_RESULT_N_DATA = 9,        /**< Number of data events of the last run. */
  NPLM_RESULT_SUM_DATA_WEIGHTS = 10, /**< Sum of the data weights of the last run. */
  NPLM_RESULT_TAU = 11,          /**< With nuisances: tau = -2 min over f and nu of L[f, nu]
                                      (without nuisances: t). */
  NPLM_RESULT_DELTA = 12,        /**< With nuisances: Delta = -2 min over nu of L[0, nu], so
                                      that t = tau - Delta (without nuisances: 0). */
  NPLM_RESULT_CENTERS = 13,      /**< Kernel models: the number of centres M used (MLP: 0). */
  NPLM_RESULT_JITTER = 14,       /**< Kernel models: the relative diagonal jitter eps of the
                                      penalty matrix L L^T + eps I (1e-12), or the larger one a
                                      later factorisation needed. */
  NPLM_RESULT_KERNEL_RANK = 15   /**< Kernel models: the rank r of the pivoted-Cholesky factor L
                                      that stands for K_MM (at most the number of centres; MLP:
                                      0). */
} nplm_result_t;

/** Progress record passed to a progress callback.
 *
 *  Fields are only ever appended; test @c size before reading a field newer than your headers. */
typedef struct nplm_progress {
  size_t size;     /**< sizeof(nplm_progress_t) of the library that filled it. */
  int64_t done;    /**< Epochs / iterations done. */
  int64_t total;   /**< Epochs / iteration limit. */
  double t;        /**< Current t = -2 L - Delta (Delta = 0 without nuisances). */
  double seconds;  /**< Seconds since the fit started. */
} nplm_progress_t;

/** Progress callback: called on the caller's thread when the fit starts, then at most about 10
 *  times a second, and once at the end with the final count. Return non-zero to cancel (the
 *  call then fails with ::NPLM_ECANCELED); the answer to the final call is ignored.
 *  ctypes users must keep the callback object alive while it is installed. */
typedef int (*nplm_progress_fn)(void *user, const nplm_progress_t *progress);

/** Create a test for a model family.
 *  @param[out] out     the new test; NULL on failure.
 *  @param[in] family   the model family; copied (its parameters are used by
 *                      ::NPLM_INIT_FROM_MODEL).
 *  @param[in] nuisance NULL (no systematics) or nuisance parameters; copied (coefficient
 *                      callbacks and their user data must stay valid while the test is used).
 *                      With nuisances nplm_test_run() returns t = tau - Delta.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @retval NPLM_ESTATE a shape nuisance added with nplm_nuisance_add_shape() has not been
 *          learned (the test's copy cannot be).
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_create(nplm_test_t **out,
                                                         const nplm_model_t *family,
                                                         const nplm_nuisance_t *nuisance);

/** Release a test and its threads. Accepts NULL.
 *  @param t the test or NULL.
 *  @since 0.1 */
NPLM_API void nplm_test_free(nplm_test_t *t);

/** Set the reference (Monte Carlo) sample.
 *
 *  The weights are rescaled so that they sum to @p n_expected = N(R0), the expected number of
 *  data events under the reference hypothesis.
 *  @param[in,out] t      the test; unchanged on error.
 *  @param[in] x          n x d events, row-major, finite. Copied.
 *  @param[in] n          number of events, >= 1.
 *  @param[in] d          features; must equal the model's input dimension.
 *  @param[in] w          n finite non-negative weights with a positive sum, or NULL (all 1).
 *  @param[in] n_expected N(R0), 0 < N(R0) <= 2^53 (toy sizes stay exact integers).
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_set_reference(nplm_test_t *t, const double *x,
                                                                size_t n, size_t d,
                                                                const double *w,
                                                                double n_expected);

/** Set an integer option.
 *  @param[in,out] t the test.
 *  @param key   an integer-typed ::nplm_option_t key.
 *  @param value the value; out of range is rejected.
 *  @retval NPLM_OK, NPLM_EINVAL (unknown key, double-typed key, value out of range)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_set_int(nplm_test_t *t, nplm_option_t key,
                                                          int64_t value);

/** Set a double option.
 *  @param[in,out] t the test.
 *  @param key   a ::nplm_option_t key; integer keys accept integral doubles.
 *  @param value the value; out of range or non-finite (where not allowed) is rejected.
 *  @retval NPLM_OK, NPLM_EINVAL
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_set_double(nplm_test_t *t, nplm_option_t key,
                                                             double value);

/** Read an option's current value (integer options are returned as exact doubles).
 *  @param[in] t      the test.
 *  @param key        a ::nplm_option_t key.
 *  @param[out] value the value.
 *  @retval NPLM_OK, NPLM_EINVAL
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_get_option(const nplm_test_t *t,
                                                             nplm_option_t key, double *value);

/** Restore every option to its default.
 *  @param[in,out] t the test.
 *  @retval NPLM_OK, NPLM_EINVAL
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_reset_options(nplm_test_t *t);

/** Range and default of an option key.
 *  @param key      the key.
 *  @param[out] lo  smallest accepted value (may be NULL).
 *  @param[out] hi  largest accepted value (may be NULL; INFINITY when unbounded).
 *  @param[out] dflt default value (may be NULL).
 *  @retval NPLM_OK, NPLM_EINVAL (unknown key)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_option_bounds(nplm_option_t key, double *lo,
                                                           double *hi, double *dflt);

/** Stable name of an option key, e.g. "epochs", shared by the CLI, JSON and bindings.
 *  @param key the key.
 *  @return a static string, or NULL for an unknown key.
 *  @since 0.1 */
NPLM_API const char *nplm_option_name(nplm_option_t key);

/** Install (or remove, with NULL) a progress callback.
 *  @param[in,out] t the test.
 *  @param fn   the callback or NULL.
 *  @param user passed back to @p fn; borrowed.
 *  @retval NPLM_OK, NPLM_EINVAL
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_set_progress(nplm_test_t *t, nplm_progress_fn fn,
                                                               void *user);

/** Train f on the data against the reference and compute t = -2 min L.
 *  @param[in,out] t    test handle with a reference set.
 *  @param[in] x        n x d data events, row-major, finite; may be NULL when n == 0. Copied.
 *  @param[in] n        number of data events; 0 is a legitimate (empty) toy.
 *  @param[in] d        features; must equal the model's.
 *  @param[in] w        n finite non-negative data weights, or NULL (all 1).
 *  @param[out] t_value the test statistic; untouched on error (written on ::NPLM_ENOCONV).
 *  @retval NPLM_OK success.
 *  @retval NPLM_ENOCONV L-BFGS-B hit ::NPLM_OPT_MAX_ITERATIONS; t is written.
 *  @retval NPLM_EINVAL bad argument; the handle is unchanged.
 *  @retval NPLM_ESTATE no reference set.
 *  @retval NPLM_ENOMEM allocation failed.
 *  @retval NPLM_ENUMERIC the loss or gradient became non-finite.
 *  @retval NPLM_ECANCELED the progress callback cancelled.
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_run(nplm_test_t *t, const double *x, size_t n,
                                                      size_t d, const double *w, double *t_value);

/** Read a result of the last successful (or ::NPLM_ENOCONV) run.
 *  @param[in] t      the test.
 *  @param key        a ::nplm_result_t key.
 *  @param[out] value the value.
 *  @retval NPLM_OK, NPLM_EINVAL (unknown key), NPLM_ESTATE (no result yet)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_result(const nplm_test_t *t, nplm_result_t key,
                                                         double *value);

/** Read the history of t during the last run: t recorded every ::NPLM_OPT_PATIENCE epochs
 *  (or iterations), plus the final value.
 *
 *  Call with NULL buffers to learn the count.
 *  @param[in] t          the test.
 *  @param[out] epochs    @p capacity epoch (or iteration) numbers, or NULL.
 *  @param[out] t_values  @p capacity values of t, or NULL.
 *  @param capacity       size of the buffers.
 *  @param[out] count     number of history entries (all of them, even if > @p capacity).
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ESTATE
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_history(const nplm_test_t *t, int64_t *epochs,
                                                          double *t_values, size_t capacity,
                                                          size_t *count);

/** The trained f of the last run, to locate an excess (evaluate it with nplm_model_eval()).
 *  @param[in] t  the test.
 *  @param[out] f borrowed pointer, valid until the next run or nplm_test_free().
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ESTATE (no run yet)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_fitted_model(const nplm_test_t *t,
                                                               const nplm_model_t **f);

/** Opaque sink for the events of one toy, filled by a ::nplm_toy_fn with nplm_toy_set_events(). */
typedef struct nplm_toy nplm_toy_t;

/** Toy generator for nplm_test_calibrate_with(): produce the events of toy @p toy (a global
 *  index) from @p seed, deterministically, and hand them over with nplm_toy_set_events().
 *  Called concurrently from the calibration's worker threads (::NPLM_OPT_THREADS): it must be
 *  thread-safe. Return 0 on success, non-zero to fail the calibration (::NPLM_EINVAL). */
typedef int (*nplm_toy_fn)(void *user, uint64_t toy, uint64_t seed, nplm_toy_t *out);

/** Give the events of a toy (inside a ::nplm_toy_fn). Replaces earlier events of this toy.
 *  @param[in,out] toy the sink passed to the generator.
 *  @param[in] x       n x d events, row-major, finite; may be NULL when n == 0. Copied.
 *  @param[in] n       number of events (0 is a legitimate toy).
 *  @param[in] d       features; must equal the model's.
 *  @param[in] w       n finite non-negative weights, or NULL (all 1).
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_toy_set_events(nplm_toy_t *toy, const double *x,
                                                            size_t n, size_t d, const double *w);

/** Set the auxiliary measurement nu0 of nuisance @p index for this toy only (inside a
 *  ::nplm_toy_fn; e.g. drawn around the true nu* the toy was generated at). Nuisances not set
 *  keep the test's value.
 *  @param[in,out] toy the sink passed to the generator.
 *  @param index       a nuisance of the test.
 *  @param nu0         |nu0| <= 1e150, absolute units; a value with |nu0| / sigma > 1e150
 *                     fails the toy with ::NPLM_EINVAL.
 *  @retval NPLM_OK, NPLM_EINVAL
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_toy_set_aux(nplm_toy_t *toy, size_t index,
                                                         double nu0);

/** Calibrate: t on @p n_toys toys drawn from a pool under the reference hypothesis.
 *
 *  Toy k has the global index g = ::NPLM_OPT_TOY_OFFSET + k. Its size is Poisson(N(R0)) and
 *  its events are drawn with replacement from the pool (uniformly, or with probability
 *  proportional to @p pool_w), all from the random stream (seed, g); the fit starts from the
 *  Glorot initialisation of stream (seed, g) (or from the family's parameters under
 *  ::NPLM_INIT_FROM_MODEL) with the test's options. Toys run in parallel, one thread each;
 *  t_null[k] is the same bits for any thread count and any sharding. The pool should be
 *  disjoint from the reference sample. The progress callback (on the caller's thread) counts
 *  toys; cancelling leaves the finished toys' t in place and NaN for the others. The results of
 *  the last nplm_test_run() are not changed.
 *  @param[in,out] t   test handle with a reference set.
 *  @param[in] pool_x  pool_n x d events, row-major, finite. Borrowed during the call.
 *  @param pool_n      pool size, >= 1.
 *  @param d           features; must equal the model's.
 *  @param[in] pool_w  pool_n non-negative weights with a positive sum, or NULL.
 *  @param n_toys      number of toys, >= 1.
 *  @param seed        root of the toys' random streams.
 *  @param[out] t_null n_toys values of t, in toy order (NaN for a toy that failed).
 *  @retval NPLM_OK success.
 *  @retval NPLM_ENOCONV some L-BFGS-B toy fits hit the iteration limit; all t are written.
 *  @retval NPLM_EINVAL, NPLM_ESTATE, NPLM_ENOMEM, NPLM_ENUMERIC (the first failing toy's
 *          status and message), NPLM_ECANCELED
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_calibrate(nplm_test_t *t, const double *pool_x,
                                                            size_t pool_n, size_t d,
                                                            const double *pool_w, size_t n_toys,
                                                            uint64_t seed, double *t_null);

/** Calibrate with toys made by a user generator (e.g. data generated at shifted nuisances).
 *
 *  As nplm_test_calibrate(), but toy g's events come from @p generate(user, g, seed, out).
 *  @param[in,out] t   test handle with a reference set.
 *  @param generate    the generator; see ::nplm_toy_fn (thread-safety!).
 *  @param user        passed to @p generate; borrowed.
 *  @param n_toys      number of toys, >= 1.
 *  @param seed        passed to @p generate and used for the initialisations.
 *  @param[out] t_null n_toys values of t, in toy order.
 *  @retval NPLM_OK, NPLM_ENOCONV, NPLM_EINVAL, NPLM_ESTATE, NPLM_ENOMEM, NPLM_ENUMERIC,
 *          NPLM_ECANCELED
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_calibrate_with(nplm_test_t *t,
                                                                 nplm_toy_fn generate, void *user,
                                                                 size_t n_toys, uint64_t seed,
                                                                 double *t_null);

/** One step of a weight-clip scan, passed to a ::nplm_clip_report_fn. Fields are only
 *  appended; test @c size before reading a field newer than your headers. */
typedef struct nplm_clip_step {
  size_t size;          /**< sizeof(nplm_clip_step_t) of the library that filled it. */
  int64_t step;         /**< 0, 1, ... in the order tried. */
  double clip;          /**< The weight clip c of this step. */
  int64_t n_toys;       /**< Toys at this c (the same toys at every c). */
  double median;        /**< Median of t over the toys. */
  double mean;          /**< Mean of t over the toys. */
  double q16;           /**< 16% quantile of t. */
  double q84;           /**< 84% quantile of t. */
  double ks_stat;       /**< Two-sided KS statistic of the toys against chi2(dof). */
  double ks_p;          /**< Its p-value. */
  double target_median; /**< Median of chi2(dof), dof = number of parameters. */
  double target_q16;    /**< 16% quantile of chi2(dof). */
  double target_q84;    /**< 84% quantile of chi2(dof). */
  const double *t_null; /**< The n_toys values of t, valid during the callback only. */
  int64_t n_checkpoints;    /**< Checkpoints of the training history (0 without
                                 ::NPLM_OPT_PATIENCE). */
  int64_t checkpoint_every; /**< Epochs (or iterations) between checkpoints. */
  const double *quantiles_vs_epoch; /**< n_checkpoints x 3: the 16%, 50% and 84% quantiles of
                                 t over the toys at epoch (i + 1) * checkpoint_every, to set
                                 beside the target's (a fit that stopped earlier counts with
                                 its final t); valid during the callback only. */
} nplm_clip_step_t;

/** Receives each step of nplm_test_tune_clip(); return non-zero to stop (::NPLM_ECANCELED). */
typedef int (*nplm_clip_report_fn)(void *user, const nplm_clip_step_t *step);

/** Tune the weight clip so that null toys follow chi2(dof = number of parameters).
 *
 *  Calibrates (nplm_test_calibrate(), the same toys at every c) at c_lo and c_hi, widens the
 *  bracket by factors of 2 until the median of t straddles the median of chi2(dof), then
 *  narrows it by regula falsi (Illinois) on log c until the medians agree within half the
 *  statistical error of the toys' median, or @p max_steps calibrations are spent. Every step is
 *  reported (median, mean, quantiles, KS p-value next to the target's, and the quantiles of t
 *  every ::NPLM_OPT_PATIENCE epochs: too large a clip shows t drifting above the target as
 *  training goes on, too small a clip below it). The handle's options
 *  are unchanged afterwards; set ::NPLM_OPT_WEIGHT_CLIP to the result to use it.
 *  @param[in,out] t   test handle with a reference set and the options to tune for.
 *  @param[in] pool_x  pool of null events (see nplm_test_calibrate()).
 *  @param pool_n      pool size.
 *  @param d           features.
 *  @param[in] pool_w  pool weights or NULL.
 *  @param n_toys      toys per step, >= 5.
 *  @param seed        seed of the toys.
 *  @param c_lo        lower end of the first bracket, > 0.
 *  @param c_hi        upper end, > c_lo, finite.
 *  @param max_steps   calibrations at most, 2 .. 100.
 *  @param report      called after each step, or NULL.
 *  @param user        passed to @p report.
 *  @param[out] c_best the tried c whose median was closest to the target.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ESTATE, NPLM_ENOMEM, NPLM_ENUMERIC, NPLM_ECANCELED
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_tune_clip(
    nplm_test_t *t, const double *pool_x, size_t pool_n, size_t d, const double *pool_w,
    size_t n_toys, uint64_t seed, double c_lo, double c_hi, int max_steps,
    nplm_clip_report_fn report, void *user, double *c_best);

/** Write a calibration as a JSON object: library version, seed, toy count, the model ("type"
 *  "mlp" with layers, parameters and clip, or "type" "kernel" with centers (0 = chosen at each
 *  fit), sigma and lambda), N(R0), every option by its stable name, a summary (median, mean,
 *  dof, maximum-likelihood dof, KS p-values against chi2 with both) and "t_null", the array in
 *  toy order (non-finite values as null). The nominal dof is the MLP's parameter count; a
 *  kernel model has none, so its "dof" and "ks_p" are null. Numbers use a locale-independent
 *  format and round-trip exactly.
 *  @param[in] t      the test the calibration ran on.
 *  @param[in] path   file name; replaced.
 *  @param[in] t_null n values of t from nplm_test_calibrate().
 *  @param n          number of toys, >= 1.
 *  @param seed       the calibration's seed.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_EIO, NPLM_ENOMEM
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_write_calibration(const nplm_test_t *t,
                                                                    const char *path,
                                                                    const double *t_null,
                                                                    size_t n, uint64_t seed);

/** Change the auxiliary measurement nu0 of one of the test's nuisances (the test keeps its own
 *  copy of the nuisances; use this for toys whose nu0 is drawn around a true value).
 *  @param[in,out] t a test created with nuisances.
 *  @param index     the nuisance.
 *  @param nu0       central value, absolute units, |nu0| <= 1e150 and |nu0| / sigma <= 1e150.
 *  @retval NPLM_OK, NPLM_EINVAL
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_set_aux(nplm_test_t *t, size_t index,
                                                          double nu0);

/** Which fit nplm_test_nuisances() reports. */
enum nplm_fit {
  NPLM_FIT_TAU = 0,   /**< The fit of f and nu (tau). */
  NPLM_FIT_DELTA = 1, /**< The fit of nu alone (Delta). */
  NPLM_FIT_AUX = 2    /**< Not a fit: the auxiliary measurements nu0 a toy was fitted with
                           (nplm_test_toy_nuisances() only; see ::NPLM_OPT_TOY_AUX). */
};

/** The fitted nuisance parameters of the last run (absolute units, index order).
 *  @param[in] t   a test created with nuisances, after a run.
 *  @param which   ::NPLM_FIT_TAU or ::NPLM_FIT_DELTA.
 *  @param[out] nu n values.
 *  @param n       must equal nplm_nuisance_count() of the test's nuisances.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ESTATE (no run yet)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_nuisances(const nplm_test_t *t, int which,
                                                            double *nu, size_t n);

/** Per-toy results of the last calibration on this handle (nplm_test_calibrate(),
 *  nplm_test_calibrate_with(), or the last step of nplm_test_tune_clip()), in toy order: the
 *  same quantities nplm_test_result() gives for a run, so that a calibration with systematics
 *  can report tau and Delta separately, and convergence can be checked toy by toy. Toys that
 *  failed or were not run (cancellation) read NaN.
 *  @param[in] t    the test.
 *  @param key      any ::nplm_result_t except ::NPLM_RESULT_THREADS.
 *  @param[out] out n_toys values.
 *  @param n_toys   must equal the number of toys of that calibration.
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ESTATE (no calibration yet)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_toy_results(const nplm_test_t *t,
                                                              nplm_result_t key, double *out,
                                                              size_t n_toys);

/** Fitted nuisance parameters of every toy of the last calibration (absolute units): the
 *  pulls of a calibration with systematics; or, with ::NPLM_FIT_AUX, the auxiliary values
 *  each toy was fitted with. NaN for toys that failed or were not run.
 *  @param[in] t       the test.
 *  @param which       ::NPLM_FIT_TAU, ::NPLM_FIT_DELTA or ::NPLM_FIT_AUX.
 *  @param[out] nu     n_toys x n_nuisances values, row-major (toy k's at nu + k n_nuisances).
 *  @param n_toys      must equal the number of toys of that calibration.
 *  @param n_nuisances must equal nplm_nuisance_count() of the test's nuisances (0 without;
 *                     @p nu may then be NULL).
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ESTATE (no calibration yet)
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_toy_nuisances(const nplm_test_t *t, int which,
                                                                double *nu, size_t n_toys,
                                                                size_t n_nuisances);

/** One (M, lambda) point of nplm_test_kernel_scan(). Fields are only appended: callers pass
 *  their sizeof as @c row_size, the library writes that many bytes per row at most (and sets
 *  @c size to what it filled), so old programs keep working with newer libraries. */
typedef struct nplm_kernel_scan_row {
  size_t size;            /**< Bytes of the row the library filled: min(row_size, its own
                               sizeof). */
  int64_t centers;        /**< M. */
  double lambda;          /**< lambda. */
  int64_t n_toys;         /**< Null toys (the same toys at every point). */
  double mean_t;          /**< Mean of t over the toys. */
  double median_t;        /**< Median of t. */
  double dof_fit;         /**< Maximum-likelihood chi2 dof of the toys (NaN if it fails). */
  double seconds_per_toy; /**< Median wall-clock seconds of one toy's fit. */
  int64_t converged;      /**< Toys whose conjugate-gradient solves met the tolerance. */
} nplm_kernel_scan_row_t;

/** Scan kernel hyper-parameters: for every M in @p centers and lambda in @p lambdas, calibrate
 *  on the same null toys (as nplm_test_calibrate()) and summarise t and the time per toy, to
 *  choose the largest affordable M and the smallest stable lambda. The test's own
 *  ::NPLM_OPT_KERNEL_CENTERS and ::NPLM_OPT_KERNEL_LAMBDA are restored afterwards.
 *  @param[in,out] t    a test with a kernel family and a reference.
 *  @param[in] pool_x   pool of null events (see nplm_test_calibrate()).
 *  @param pool_n       pool size.
 *  @param d            features.
 *  @param[in] pool_w   pool weights or NULL.
 *  @param[in] centers  n_centers values of M, each 1 .. 2^24.
 *  @param n_centers    >= 1.
 *  @param[in] lambdas  n_lambdas values of lambda, each in [0, 1e6].
 *  @param n_lambdas    >= 1.
 *  @param n_toys       toys per point, >= 2.
 *  @param seed         the calibration seed.
 *  @param[out] rows    n_centers x n_lambdas rows, row (a, b) at byte offset
 *                      (a * n_lambdas + b) * row_size.
 *  @param row_size     sizeof(nplm_kernel_scan_row_t) as the caller compiled it (>= the size of
 *                      the first release's row).
 *  @retval NPLM_OK, NPLM_EINVAL, NPLM_ESTATE, NPLM_ENOMEM, NPLM_ENUMERIC, NPLM_ECANCELED
 *  @since 0.1 */
NPLM_API NPLM_WARN_UNUSED nplm_status_t nplm_test_kernel_scan(
    nplm_test_t *t, const double *pool_x, size_t pool_n, size_t d, const double *pool_w,
    const size_t *centers, size_t n_centers, const double *lambdas, size_t n_lambdas,
    size_t n_toys, uint64_t seed, nplm_kernel_scan_row_t *rows, size_t row_size);

/** The message of the last failing call that changes this handle (calls on a const handle
 *  report through nplm_last_error() only, so that they can run concurrently).
 *  @param t the test (NULL gives a fixed message).
 *  @return a string owned by the handle, "" if no call failed; valid until the next call on t.
 *  @since 0.1 */
NPLM_API const char *nplm_test_last_error(const nplm_test_t *t);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NPLM_TEST_H */
