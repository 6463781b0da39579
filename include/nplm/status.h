/** @file status.h
 *  @brief Status codes, their names and the per-thread error message. */
#ifndef NPLM_STATUS_H
#define NPLM_STATUS_H

#if !defined(NPLM_H_INSIDE) && !defined(NPLM_NO_SINGLE_HEADER_ERROR)
#error "Include <nplm/nplm.h> instead."
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup status Status codes and error messages
 *  @{ */

/** Status returned by every fallible libnplm call.
 *
 *  Values never change; new codes are only appended. Bindings should map an unknown code to a
 *  generic error. */
typedef enum nplm_status {
  NPLM_OK = 0,        /**< Success. */
  NPLM_EINVAL = 1,    /**< Bad argument: NULL, size mismatch, NaN/Inf, out-of-range option. */
  NPLM_ENOMEM = 2,    /**< An allocation failed (or a size overflowed); nothing was changed. */
  NPLM_ESTATE = 3,    /**< Call out of order, e.g. nplm_test_run() before a reference is set. */
  NPLM_ENOCONV = 4,   /**< Stopped before its tolerance; the outputs ARE written (soft failure). */
  NPLM_ENUMERIC = 5,  /**< Non-finite loss or gradient (e.g. exp(f) overflow) met during the work. */
  NPLM_ECANCELED = 6, /**< The progress callback asked to stop. */
  NPLM_EIO = 7,       /**< A file could not be opened, read or written. */
  NPLM_EFORMAT = 8,   /**< File content is not valid (bad magic, version, checksum, truncation). */
  NPLM_EINTERNAL = 9  /**< A bug in libnplm; please report it with the message. */
} nplm_status_t;

/** Short English description of a status code.
 *  @param s a status code (unknown values are accepted).
 *  @return a static string, never NULL ("unknown status" for an unknown code).
 *  @since 0.1 */
NPLM_API const char *nplm_strerror(nplm_status_t s);

/** The enumerator name of a status code, e.g. "NPLM_EINVAL", for bindings' exception names.
 *  @param s a status code.
 *  @return a static string, never NULL ("NPLM_UNKNOWN" for an unknown code).
 *  @since 0.1 */
NPLM_API const char *nplm_status_name(nplm_status_t s);

/** The message of the last failing libnplm call made by the calling thread.
 *
 *  Works for every call, including creators, loaders and statistics functions that have no
 *  handle. The message names the function, the argument and, where relevant, the first bad index.
 *  @return a thread-local string owned by the library, valid until the thread's next libnplm
 *          call; "" if no call has failed yet.
 *  @since 0.1 */
NPLM_API const char *nplm_last_error(void);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NPLM_STATUS_H */
