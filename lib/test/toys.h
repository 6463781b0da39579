/* Toy generation for calibrations. */
#ifndef NPLM_TEST_TOYS_H
#define NPLM_TEST_TOYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/rng.h"

typedef struct nplm__toy_pool {
  const double *x; /* n x d, borrowed */
  size_t n, d;
  const double *cum; /* cumulative weights (n), or NULL for a uniform draw */
} nplm__toy_pool_t;

/* Poisson(mu) from the stream. */
uint64_t nplm__poisson(nplm__rng_t *r, double mu);
/* Toy `toy`: Poisson(mu) events drawn with replacement from the pool, from the stream
 * (seed, (toy, toy)). *x_out (n_out x d) is allocated with nplm__malloc. */
nplm_status_t nplm__toy_draw(const nplm__toy_pool_t *pool, uint64_t seed, uint64_t toy,
                             double mu, double **x_out, size_t *n_out);

#endif
