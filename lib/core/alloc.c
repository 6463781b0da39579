/* Allocation with an injection hook for out-of-memory tests, and small system helpers. */
#define _GNU_SOURCE
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

static atomic_long fail_after; /* 0: never fail; k: the k-th allocation fails */
static atomic_long alloc_counter;

void nplm__alloc_fail_after(long k) {
  atomic_store(&alloc_counter, 0);
  atomic_store(&fail_after, k);
}

long nplm__alloc_count(void) { return atomic_load(&alloc_counter); }

static int should_fail(void) {
  long k = atomic_load_explicit(&fail_after, memory_order_relaxed);
  long c = atomic_fetch_add(&alloc_counter, 1) + 1;
  return k > 0 && c == k;
}

void *nplm__malloc(size_t size) {
  if (should_fail()) return NULL;
  return malloc(size ? size : 1);
}

void *nplm__calloc(size_t count, size_t size) {
  if (should_fail()) return NULL;
  if (count == 0 || size == 0) return calloc(1, 1);
  return calloc(count, size);
}

void nplm__free(void *p) { free(p); }

int nplm__mul_size(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return -1;
  *out = a * b;
  return 0;
}

void *nplm__malloc_array(size_t count, size_t size) {
  size_t bytes;
  if (nplm__mul_size(count, size, &bytes) != 0) return NULL;
  return nplm__malloc(bytes);
}

void *nplm__malloc_aligned(size_t count, size_t size) {
  size_t bytes;
  if (nplm__mul_size(count, size, &bytes) != 0) return NULL;
  if (should_fail()) return NULL;
  void *p = NULL;
  if (posix_memalign(&p, NPLM__ALIGN, bytes ? bytes : 1) != 0) return NULL;
  return p;
}

double nplm__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int nplm__cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int c = CPU_COUNT(&set);
    if (c >= 1) return c;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n >= 1 ? (int)n : 1;
}

size_t nplm__first_nonfinite(const double *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return i;
  return n;
}
