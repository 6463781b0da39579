#include "core/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* Spin this many rounds before sleeping on a condition variable: long enough to bridge the
 * short serial part between two passes of an optimiser, short enough not to burn a core
 * while the host program does something else. Every YIELD_EVERY rounds the spinning thread
 * yields, so that an oversubscribed machine still runs the thread that has work. */
#define SPIN_ROUNDS 8000
#define YIELD_EVERY 256

struct worker_arg {
  nplm__pool_t *pool;
  int index;
};

/* The tasks of one pass are cut into one contiguous range per thread; a thread takes its own
 * range from the front and, when that is empty, takes what is left of the others' ranges. The
 * same thread thus runs the same events pass after pass (they stay in its cache), the counters
 * are not shared while every thread has work, and a thread that falls behind is helped. */
struct range {
  _Alignas(NPLM__ALIGN) atomic_size_t next;
  size_t end;
};

struct nplm__pool {
  int n_threads;
  pthread_t *threads;
  struct worker_arg *args;
  pthread_mutex_t lock;
  pthread_cond_t start;
  pthread_cond_t done;
  atomic_uint generation;
  struct range *ranges; /* one per thread, on 64-byte boundaries */
  atomic_int active;
  atomic_int stop;
  nplm__task_fn fn;
  void *ctx;
};

static void run_tasks(nplm__pool_t *p, int worker) {
  for (int k = 0; k < p->n_threads; k++) {
    struct range *r = &p->ranges[(worker + k) % p->n_threads];
    size_t i;
    while ((i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed)) < r->end)
      p->fn(p->ctx, i, worker);
  }
}

static void *worker_main(void *arg) {
  struct worker_arg *wa = arg;
  nplm__pool_t *p = wa->pool;
  unsigned seen = 0;
  for (;;) {
    unsigned g = atomic_load(&p->generation);
    for (int s = 0; g == seen && s < SPIN_ROUNDS && !atomic_load(&p->stop); s++) {
      if (s % YIELD_EVERY == YIELD_EVERY - 1) sched_yield();
      else CPU_RELAX();
      g = atomic_load(&p->generation);
    }
    if (g == seen) {
      pthread_mutex_lock(&p->lock);
      while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->start, &p->lock);
      pthread_mutex_unlock(&p->lock);
    }
    if (atomic_load(&p->stop)) break;
    seen = g;
    run_tasks(p, wa->index);
    if (atomic_fetch_sub(&p->active, 1) == 1) {
      pthread_mutex_lock(&p->lock);
      pthread_cond_broadcast(&p->done);
      pthread_mutex_unlock(&p->lock);
    }
  }
  return NULL;
}

nplm_status_t nplm__pool_create(int n_threads, nplm__pool_t **out) {
  *out = NULL;
  if (n_threads < 1) n_threads = 1;
  nplm__pool_t *p = nplm__calloc(1, sizeof *p);
  if (!p) return nplm__fail(NPLM_ENOMEM, "thread pool: out of memory");
  p->n_threads = 1;
  atomic_init(&p->generation, 0);
  atomic_init(&p->active, 0);
  atomic_init(&p->stop, 0);
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->start, NULL);
  pthread_cond_init(&p->done, NULL);
  if (n_threads > 1) {
    p->threads = nplm__calloc((size_t)n_threads, sizeof *p->threads);
    p->args = nplm__calloc((size_t)n_threads, sizeof *p->args);
    p->ranges = nplm__malloc_aligned((size_t)n_threads, sizeof *p->ranges);
    if (!p->threads || !p->args || !p->ranges) {
      nplm__pool_free(p);
      return nplm__fail(NPLM_ENOMEM, "thread pool: out of memory");
    }
    for (int i = 0; i < n_threads; i++) {
      atomic_init(&p->ranges[i].next, 0);
      p->ranges[i].end = 0;
    }
    for (int i = 1; i < n_threads; i++) {
      p->args[i].pool = p;
      p->args[i].index = i;
      if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) break;
      p->n_threads = i + 1;
    }
  }
  *out = p;
  return NPLM_OK;
}

void nplm__pool_free(nplm__pool_t *p) {
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  atomic_store(&p->stop, 1);
  pthread_cond_broadcast(&p->start);
  pthread_mutex_unlock(&p->lock);
  for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->start);
  pthread_cond_destroy(&p->done);
  nplm__free(p->threads);
  nplm__free(p->args);
  nplm__free(p->ranges);
  nplm__free(p);
}

int nplm__pool_threads(const nplm__pool_t *p) { return p ? p->n_threads : 1; }

void nplm__pool_run(nplm__pool_t *p, size_t n_tasks, nplm__task_fn fn, void *ctx) {
  if (!p || p->n_threads == 1 || n_tasks <= 1) {
    for (size_t i = 0; i < n_tasks; i++) fn(ctx, i, 0);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  const size_t T = (size_t)p->n_threads;
  for (size_t w = 0; w < T; w++) {
    atomic_store_explicit(&p->ranges[w].next, n_tasks * w / T, memory_order_relaxed);
    p->ranges[w].end = n_tasks * (w + 1) / T;
  }
  atomic_store(&p->active, p->n_threads - 1);
  pthread_mutex_lock(&p->lock);
  atomic_fetch_add(&p->generation, 1);
  pthread_cond_broadcast(&p->start);
  pthread_mutex_unlock(&p->lock);
  run_tasks(p, 0);
  for (int s = 0; atomic_load(&p->active) != 0 && s < SPIN_ROUNDS; s++) {
    if (s % YIELD_EVERY == YIELD_EVERY - 1) sched_yield();
    else CPU_RELAX();
  }
  if (atomic_load(&p->active) != 0) {
    pthread_mutex_lock(&p->lock);
    while (atomic_load(&p->active) != 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
  }
}
