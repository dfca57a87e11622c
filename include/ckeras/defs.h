/* ckeras: export and attribute macros shared by every public header. */
#ifndef CKERAS_DEFS_H
#define CKERAS_DEFS_H

#if defined(_WIN32) && defined(CKERAS_BUILDING)
#define KC_API __declspec(dllexport)
#elif defined(__GNUC__)
#define KC_API __attribute__((visibility("default")))
#else
#define KC_API
#endif

/* Constructors and status-returning functions: ignoring the result is a bug. */
#if defined(__GNUC__)
#define KC_NODISCARD __attribute__((warn_unused_result))
#define KC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define KC_NODISCARD
#define KC_PRINTF(fmt, args)
#endif

#ifdef __cplusplus
#define KC_BEGIN_DECLS extern "C" {
#define KC_END_DECLS }
#else
#define KC_BEGIN_DECLS
#define KC_END_DECLS
#endif

#endif /* CKERAS_DEFS_H */
