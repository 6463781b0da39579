/* A small persistent thread pool: the caller plus (n - 1) workers run tasks 0..n_tasks-1, each
 * thread first its own contiguous range (the same range pass after pass, so its events stay in
 * its cache), then what is left of the others'. Which thread runs a task never changes a
 * result: tasks write to their own slots and the caller reduces slots in task order. */
#ifndef NPLM_CORE_POOL_H
#define NPLM_CORE_POOL_H

#include <stddef.h>

#include "core/core.h"

typedef struct nplm__pool nplm__pool_t;
typedef void (*nplm__task_fn)(void *ctx, size_t task, int worker);

/* n_threads >= 1 (1: no worker threads are started). */
nplm_status_t nplm__pool_create(int n_threads, nplm__pool_t **out);
void nplm__pool_free(nplm__pool_t *p);
int nplm__pool_threads(const nplm__pool_t *p);
/* Run fn(ctx, task, worker) for every task; worker is in [0, n_threads). Returns when all are
 * done. p may be NULL: then everything runs on the caller as worker 0. */
void nplm__pool_run(nplm__pool_t *p, size_t n_tasks, nplm__task_fn fn, void *ctx);

#endif
