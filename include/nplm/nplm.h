/** @file nplm.h
 *  @brief libnplm, the New Physics Learning Machine: the only header users include.
 *
 *  Conventions: every fallible call returns ::nplm_status_t (::NPLM_OK == 0) and writes its
 *  outputs through pointer arguments, untouched on failure. Events are row-major n x d arrays of
 *  doubles; weights are arrays of n doubles, NULL meaning all 1. The library copies what it
 *  keeps. Nothing in the library prints, exits, aborts or changes global state.
 *
 *  Thread safety: one thread at a time per non-const handle; calls on const handles may run
 *  concurrently. */
#ifndef NPLM_H
#define NPLM_H

/** @cond NPLM_PLUMBING */
#define NPLM_H_INSIDE
/** @endcond */

#include <stddef.h>
#include <stdint.h>

#include "nplm/export.h"
#include "nplm/version.h"
#include "nplm/status.h"
#include "nplm/version_api.h"
#include "nplm/model.h"
#include "nplm/nuisance.h"
#include "nplm/test.h"
#include "nplm/stats.h"
#include "nplm/preprocess.h"

#undef NPLM_H_INSIDE

#endif /* NPLM_H */
