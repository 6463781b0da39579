/* Core services: status table, version, Philox known answers, streams, thread pool, allocator. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "core/pool.h"
#include "core/rng.h"
#include "nplm/nplm.h"

#if defined(__has_include)
#if __has_include(<Random123/philox.h>)
#include <Random123/philox.h>
#define HAVE_RANDOM123 1
#endif
#endif

#include "../common/leak_check.h"

NPLM_LEAK_CHECKED_SUITE(status);
NPLM_LEAK_CHECKED_SUITE(version);
NPLM_LEAK_CHECKED_SUITE(rng);
NPLM_LEAK_CHECKED_SUITE(pool);
NPLM_LEAK_CHECKED_SUITE(alloc);
NPLM_LEAK_CHECKED_SUITE(system);


Test(status, every_code_has_a_name_and_text) {
  const char *names[] = {"NPLM_OK",      "NPLM_EINVAL",  "NPLM_ENOMEM",    "NPLM_ESTATE",
                         "NPLM_ENOCONV", "NPLM_ENUMERIC", "NPLM_ECANCELED", "NPLM_EIO",
                         "NPLM_EFORMAT", "NPLM_EINTERNAL"};
  for (int s = 0; s <= 9; s++) {
    cr_assert_str_eq(nplm_status_name((nplm_status_t)s), names[s]);
    cr_assert(strlen(nplm_strerror((nplm_status_t)s)) > 3);
    cr_assert_str_neq(nplm_strerror((nplm_status_t)s), "unknown status");
  }
  cr_assert_eq(NPLM_OK, 0);
  cr_assert_str_eq(nplm_status_name((nplm_status_t)77), "NPLM_UNKNOWN");
  cr_assert_str_eq(nplm_strerror((nplm_status_t)-1), "unknown status");
}

Test(status, messages_are_per_thread_and_cleared) {
  cr_assert_eq(nplm__fail(NPLM_EINVAL, "f: x[%d] is bad", 3), NPLM_EINVAL);
  cr_assert_str_eq(nplm_last_error(), "f: x[3] is bad");
  nplm__clear_error();
  cr_assert_str_eq(nplm_last_error(), "");
}

Test(version, header_matches_library) {
  cr_assert_str_eq(nplm_version_string(), NPLM_VERSION_STRING);
  cr_assert_eq(nplm_version_number(), (unsigned)NPLM_VERSION_NUMBER);
  cr_assert_eq(NPLM_VERSION_NUMBER,
               NPLM_VERSION_MAJOR * 10000 + NPLM_VERSION_MINOR * 100 + NPLM_VERSION_PATCH);
}

/* Known-answer vectors of Philox4x32-10 published with Random123 (kat_vectors). */
Test(rng, philox_known_answers) {
  const uint32_t ctr0[4] = {0, 0, 0, 0}, key0[2] = {0, 0};
  const uint32_t want0[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
  const uint32_t ctr1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
  const uint32_t key1[2] = {0xffffffffu, 0xffffffffu};
  const uint32_t want1[4] = {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu};
  uint32_t out[4];
  nplm__philox4x32_10(ctr0, key0, out);
  for (int i = 0; i < 4; i++) cr_assert_eq(out[i], want0[i], "word %d: %08x", i, out[i]);
  nplm__philox4x32_10(ctr1, key1, out);
  for (int i = 0; i < 4; i++) cr_assert_eq(out[i], want1[i], "word %d: %08x", i, out[i]);
}

#ifdef HAVE_RANDOM123
static uint32_t lcg32(uint64_t *z) {
  *z = *z * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(*z >> 32);
}

/* An independent implementation: Random123's own header, on many counters and keys. */
Test(rng, philox_matches_random123) {
  uint64_t z = 12345;
  for (int k = 0; k < 10000; k++) {
    uint32_t c[4], key[2], out[4];
    for (int i = 0; i < 4; i++) c[i] = lcg32(&z);
    for (int i = 0; i < 2; i++) key[i] = lcg32(&z);
    philox4x32_ctr_t rc = {{c[0], c[1], c[2], c[3]}};
    philox4x32_key_t rk = {{key[0], key[1]}};
    philox4x32_ctr_t r = philox4x32(rc, rk);
    nplm__philox4x32_10(c, key, out);
    for (int i = 0; i < 4; i++) cr_assert_eq(out[i], r.v[i]);
  }
}
#endif

Test(rng, streams_are_reproducible_and_distinct) {
  nplm__rng_t a, b, c;
  nplm__rng_init(&a, 42, nplm__rng_stream(NPLM__RNG_TOY, 5));
  nplm__rng_init(&b, 42, nplm__rng_stream(NPLM__RNG_TOY, 5));
  nplm__rng_init(&c, 42, nplm__rng_stream(NPLM__RNG_TOY, 6));
  int same_c = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = nplm__rng_u64(&a), y = nplm__rng_u64(&b), z = nplm__rng_u64(&c);
    cr_assert_eq(x, y);
    same_c += x == z;
  }
  cr_assert_eq(same_c, 0);
  cr_assert_neq(nplm__rng_stream(NPLM__RNG_INIT, 0), nplm__rng_stream(NPLM__RNG_TOY, 0));
}

Test(rng, uniform_is_in_range_with_the_right_mean) {
  nplm__rng_t r;
  nplm__rng_init(&r, 7, 0);
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; i++) {
    double u = nplm__rng_uniform(&r);
    cr_assert(u >= 0.0 && u < 1.0);
    sum += u;
    sum2 += u * u;
  }
  double mean = sum / n, var = sum2 / n - mean * mean;
  cr_assert(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / n), "mean %g", mean);
  cr_assert(fabs(var - 1.0 / 12) < 0.002, "variance %g", var);
}

typedef struct {
  atomic_int hits[1000];
  atomic_int max_worker;
} pool_ctx_t;

static void count_task(void *arg, size_t task, int worker) {
  pool_ctx_t *c = arg;
  atomic_fetch_add(&c->hits[task], 1);
  int m = atomic_load(&c->max_worker);
  while (worker > m && !atomic_compare_exchange_weak(&c->max_worker, &m, worker)) {
  }
}

Test(pool, every_task_runs_exactly_once) {
  for (int threads = 1; threads <= 4; threads++) {
    nplm__pool_t *p = NULL;
    cr_assert_eq(nplm__pool_create(threads, &p), NPLM_OK);
    cr_assert_eq(nplm__pool_threads(p), threads);
    for (int round = 0; round < 50; round++) {
      static pool_ctx_t c;
      memset(&c, 0, sizeof c);
      size_t n = (size_t)(round * 20);
      nplm__pool_run(p, n, count_task, &c);
      for (size_t i = 0; i < 1000; i++) cr_assert_eq(atomic_load(&c.hits[i]), i < n ? 1 : 0);
      cr_assert(atomic_load(&c.max_worker) < threads);
    }
    nplm__pool_free(p);
  }
  nplm__pool_free(NULL);
}

/* A thread stuck in one task: the others must take the rest of its range. The task that sees
 * task 0 waits until every other task has run (or 10 s have passed), which can only end in time
 * if the other threads run the remaining tasks of its own range too. */
typedef struct {
  atomic_int done;
  atomic_int waited_out;
  int n;
} steal_ctx_t;

static void steal_task(void *arg, size_t task, int worker) {
  (void)worker;
  steal_ctx_t *c = arg;
  if (task == 0) {
    double t0 = nplm__now();
    while (atomic_load(&c->done) < c->n - 1)
      if (nplm__now() - t0 > 10.0) {
        atomic_store(&c->waited_out, 1);
        break;
      }
  }
  atomic_fetch_add(&c->done, 1);
}

Test(pool, idle_threads_take_over_a_stuck_threads_range) {
  for (int threads = 2; threads <= 3; threads++) {
    nplm__pool_t *p = NULL;
    cr_assert_eq(nplm__pool_create(threads, &p), NPLM_OK);
    steal_ctx_t c;
    atomic_init(&c.done, 0);
    atomic_init(&c.waited_out, 0);
    c.n = 90;
    nplm__pool_run(p, (size_t)c.n, steal_task, &c);
    cr_assert_eq(atomic_load(&c.done), c.n);
    cr_assert_eq(atomic_load(&c.waited_out), 0, "%d threads: nobody took the stuck range", threads);
    nplm__pool_free(p);
  }
}

Test(alloc, injected_failure_and_overflow) {
  nplm__alloc_fail_after(2);
  void *a = nplm__malloc(8);
  void *b = nplm__malloc(8);
  void *c = nplm__malloc(8);
  nplm__alloc_fail_after(0);
  cr_assert_not_null(a);
  cr_assert_null(b);
  cr_assert_not_null(c);
  nplm__free(a);
  nplm__free(c);
  size_t out;
  cr_assert_eq(nplm__mul_size(SIZE_MAX / 2, 3, &out), -1);
  cr_assert_eq(nplm__mul_size(1000, 1000, &out), 0);
  cr_assert_eq(out, 1000000u);
  cr_assert_null(nplm__malloc_array(SIZE_MAX / 4, 8));
}

/* Aligned allocations: every size lands on a 64-byte boundary (malloc's own large blocks sit
 * 16 bytes off one), injected failures and size overflow give NULL. */
Test(alloc, aligned_blocks) {
  const size_t sizes[] = {0, 1, 7, 8, 100, 4096, 1u << 20, 3u << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    double *a = nplm__malloc_aligned(sizes[i], sizeof *a);
    cr_assert_not_null(a);
    cr_assert_eq((uintptr_t)a % NPLM__ALIGN, 0u, "size %zu at %p", sizes[i], (void *)a);
    if (sizes[i]) a[sizes[i] - 1] = 1.0; /* the whole block is usable */
    nplm__free(a);
  }
  nplm__alloc_fail_after(1);
  cr_assert_null(nplm__malloc_aligned(16, 8));
  nplm__alloc_fail_after(0);
  cr_assert_null(nplm__malloc_aligned(SIZE_MAX / 4, 8));
}

Test(system, cpu_count_and_clock) {
  cr_assert(nplm__cpu_count() >= 1);
  double t0 = nplm__now(), t1 = nplm__now();
  cr_assert(t1 >= t0);
  double x[4] = {1, 2, NAN, 3};
  cr_assert_eq(nplm__first_nonfinite(x, 4), 2u);
  cr_assert_eq(nplm__first_nonfinite(x, 2), 2u);
}
