/** @file version_api.h
 *  @brief Run-time version of the library. */
#ifndef NPLM_VERSION_API_H
#define NPLM_VERSION_API_H

#if !defined(NPLM_H_INSIDE) && !defined(NPLM_NO_SINGLE_HEADER_ERROR)
#error "Include <nplm/nplm.h> instead."
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup version Version
 *  @{ */

/** The library's version string, e.g. "0.1.0".
 *  @return a static string, never NULL.
 *  @since 0.1 */
NPLM_API const char *nplm_version_string(void);

/** The library's version as MAJOR*10000 + MINOR*100 + PATCH.
 *
 *  Equal to NPLM_VERSION_NUMBER when headers and library match.
 *  @return the version number.
 *  @since 0.1 */
NPLM_API unsigned nplm_version_number(void);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NPLM_VERSION_API_H */
