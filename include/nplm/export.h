/** @file export.h
 *  @brief Symbol-visibility and attribute macros used by every libnplm declaration.
 *
 *  Each macro is guarded by an ifndef test so that tools (cffi, cling) or users can predefine it. */
#ifndef NPLM_EXPORT_H
#define NPLM_EXPORT_H

/** @cond NPLM_PLUMBING */
#ifndef NPLM_API
#  if defined(_WIN32)
#    define NPLM_API
#  elif defined(__GNUC__) && __GNUC__ >= 4
#    define NPLM_API __attribute__((visibility("default")))
#  else
#    define NPLM_API
#  endif
#endif

#ifndef NPLM_WARN_UNUSED
#  if defined(__GNUC__) && __GNUC__ >= 4
#    define NPLM_WARN_UNUSED __attribute__((warn_unused_result))
#  else
#    define NPLM_WARN_UNUSED
#  endif
#endif

#ifndef NPLM_DEPRECATED
#  if defined(__GNUC__) && __GNUC__ >= 5
#    define NPLM_DEPRECATED(msg) __attribute__((deprecated(msg)))
#  else
#    define NPLM_DEPRECATED(msg)
#  endif
#endif
/** @endcond */

#endif /* NPLM_EXPORT_H */
