/* LeakSanitizer inside Criterion: test workers end without the at-exit leak check, so sanitizer
 * builds check explicitly at the end of each test (NPLM_LEAK_CHECKED_SUITE installs the check
 * as the suite's .fini). A no-op in other builds. */
#ifndef NPLM_TESTS_LEAK_CHECK_H
#define NPLM_TESTS_LEAK_CHECK_H

#include <criterion/criterion.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define NPLM_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NPLM_TEST_LSAN 1
#endif
#endif

#ifdef NPLM_TEST_LSAN
#include <sanitizer/lsan_interface.h>
/* Overwrite the dead stack below the caller so that stale pointers do not hide a leak. */
__attribute__((noinline)) static void nplm_test_scrub_stack(void) {
  volatile unsigned char buf[32768];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = 0;
}
static void nplm_test_assert_no_leaks(void) {
  nplm_test_scrub_stack();
  cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks (see stderr)");
}
#else
static void nplm_test_assert_no_leaks(void) {}
#endif

#define NPLM_LEAK_CHECKED_SUITE(name) TestSuite(name, .fini = nplm_test_assert_no_leaks)

#endif
