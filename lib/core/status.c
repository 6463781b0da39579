/* Status table, error messages, version. One X-macro list generates every name. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "nplm/version.h"
#define NPLM_H_INSIDE
#include "nplm/version_api.h"
#undef NPLM_H_INSIDE

#define NPLM__STATUS_MAP(X)                                                  \
  X(NPLM_OK, 0, "success")                                                   \
  X(NPLM_EINVAL, 1, "invalid argument")                                      \
  X(NPLM_ENOMEM, 2, "out of memory")                                         \
  X(NPLM_ESTATE, 3, "call out of order")                                     \
  X(NPLM_ENOCONV, 4, "did not converge within the iteration limit")          \
  X(NPLM_ENUMERIC, 5, "non-finite value during the computation")            \
  X(NPLM_ECANCELED, 6, "canceled by the progress callback")                  \
  X(NPLM_EIO, 7, "input/output error")                                       \
  X(NPLM_EFORMAT, 8, "invalid file format")                                  \
  X(NPLM_EINTERNAL, 9, "internal error")

#define NPLM__CHECK(name, value, text) _Static_assert(name == value, #name " is pinned");
NPLM__STATUS_MAP(NPLM__CHECK)
#undef NPLM__CHECK

const char *nplm_strerror(nplm_status_t s) {
  switch (s) {
#define NPLM__CASE(name, value, text) \
  case name:                          \
    return text;
    NPLM__STATUS_MAP(NPLM__CASE)
#undef NPLM__CASE
  }
  return "unknown status";
}

const char *nplm_status_name(nplm_status_t s) {
  switch (s) {
#define NPLM__CASE(name, value, text) \
  case name:                          \
    return #name;
    NPLM__STATUS_MAP(NPLM__CASE)
#undef NPLM__CASE
  }
  return "NPLM_UNKNOWN";
}

static _Thread_local char last_error[NPLM__MSG_SIZE];

nplm_status_t nplm__fail(nplm_status_t s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return s;
}

nplm_status_t nplm__prefix_error(nplm_status_t s, const char *fn) {
  char inner[NPLM__MSG_SIZE];
  memcpy(inner, last_error, sizeof inner);
  size_t k = strlen(fn);
  if (k + 2 >= sizeof last_error) return s;
  memcpy(last_error, fn, k);
  memcpy(last_error + k, ": ", 2);
  size_t rest = sizeof last_error - k - 3;
  size_t m = strnlen(inner, rest);
  memcpy(last_error + k + 2, inner, m);
  last_error[k + 2 + m] = '\0';
  return s;
}

void nplm__clear_error(void) { last_error[0] = '\0'; }

void nplm__copy_error(char *dst) { memcpy(dst, last_error, NPLM__MSG_SIZE); }

const char *nplm_last_error(void) { return last_error; }

const char *nplm_version_string(void) { return NPLM_VERSION_STRING; }

unsigned nplm_version_number(void) { return (unsigned)NPLM_VERSION_NUMBER; }
