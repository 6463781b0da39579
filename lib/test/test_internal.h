/* Internal view of nplm_test_t. */
#ifndef NPLM_TEST_TEST_INTERNAL_H
#define NPLM_TEST_TEST_INTERNAL_H

#include "core/core.h"
#include "core/pool.h"
#include "model/model.h"

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

/* Every option, in a fixed order; NPLM__N_OPTIONS entries. */
#define NPLM__N_OPTIONS 17
extern const nplm__option_info_t nplm__options[NPLM__N_OPTIONS];
/* Index of a key in nplm__options, or -1. */
int nplm__option_index(nplm_option_t key);

struct nplm_test {
  nplm_model_t *family;
  nplm_model_t *fitted;
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

  char msg[NPLM__MSG_SIZE];
};

/* Current value of an option. */
double nplm__test_opt(const nplm_test_t *t, nplm_option_t key);

#endif
