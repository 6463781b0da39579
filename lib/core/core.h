/* Internal core services: errors, allocation, time, CPU count. Not installed. */
#ifndef NPLM_CORE_CORE_H
#define NPLM_CORE_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NPLM_H_INSIDE
#include "nplm/export.h"
#include "nplm/status.h"
#undef NPLM_H_INSIDE

#if defined(__GNUC__)
#define NPLM__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NPLM__PRINTF(a, b)
#endif

/* Size of per-handle message buffers. */
#define NPLM__MSG_SIZE 256

/* Record a failure message for the calling thread and return the status (for tail calls):
 *   return nplm__fail(NPLM_EINVAL, "nplm_test_run: x[%zu] is NaN", i); */
nplm_status_t nplm__fail(nplm_status_t s, const char *fmt, ...) NPLM__PRINTF(2, 3);
/* Prefix the calling thread's current message with "fn: " (for failures reported by an
 * internal layer); returns s. */
nplm_status_t nplm__prefix_error(nplm_status_t s, const char *fn);
/* Clear the calling thread's message (called at the start of public entry points that succeed). */
void nplm__clear_error(void);
/* Copy the thread's current message into a handle's buffer. */
void nplm__copy_error(char *dst);

/* Allocation. All library memory goes through these so tests can inject failures. */
void *nplm__malloc(size_t size);
void *nplm__calloc(size_t count, size_t size);
void nplm__free(void *p);
/* Product a*b with overflow check: returns 0 on success, -1 on overflow. */
int nplm__mul_size(size_t a, size_t b, size_t *out);
/* malloc of count*size with overflow check (NULL on overflow). */
void *nplm__malloc_array(size_t count, size_t size);
/* The same, aligned to NPLM__ALIGN bytes (a cache line, one 8-lane vector), released by
 * nplm__free. Buffers the vector kernels stream through: an unaligned 512-bit load touches two
 * cache lines, which made a 5D pass 25% slower. */
#define NPLM__ALIGN 64
void *nplm__malloc_aligned(size_t count, size_t size);

/* Test hook: make the k-th allocation from now fail (k >= 1), 0 disables. Returns the number of
 * allocations counted since the hook was set. Process-global; for single-threaded tests only. */
void nplm__alloc_fail_after(long k);
long nplm__alloc_count(void);

/* Monotonic wall clock in seconds. */
double nplm__now(void);
/* Number of online CPU cores usable by this process (>= 1). */
int nplm__cpu_count(void);

/* First non-finite entry of an array, or n if all are finite. */
size_t nplm__first_nonfinite(const double *x, size_t n);

#endif
