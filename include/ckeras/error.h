/* ckeras: status codes and the error record every fallible call fills.
 *
 * Functions return a kc_status (KC_OK on success) or a pointer (NULL on
 * failure); both fill an optional `kc_error *err` with what failed and where.
 * The first error recorded wins: later failures during cleanup never hide the
 * cause. Callers may pass NULL when they only need the code. */
#ifndef CKERAS_ERROR_H
#define CKERAS_ERROR_H

#include "defs.h"

#include <stddef.h>

KC_BEGIN_DECLS

/* Append only: the numeric values are part of the ABI. */
#define KC_STATUS_LIST(X)                                                      \
    X(OK, "success")                                                           \
    X(ENOMEM, "out of memory")                                                 \
    X(EINVAL, "invalid argument")                                              \
    X(EIO, "I/O error")                                                        \
    X(EFORMAT, "malformed file or config")                                     \
    X(EVERSION, "unsupported version")                                         \
    X(ENOTFOUND, "unknown class or name")                                      \
    X(EEXIST, "already registered")                                            \
    X(ESHAPE, "incompatible shapes")                                           \
    X(EINTERNAL, "internal error (a ckeras bug)")                              \
    X(ETYPE, "wrong data type")                                                \
    X(ESTATE, "operation not valid in this state")                             \
    X(ELIMIT, "size or depth limit exceeded")                                  \
    X(EUNSUPPORTED, "valid but not supported by ckeras")

typedef enum kc_status {
#define KC_STATUS_ENUM_(name, msg) KC_##name,
    KC_STATUS_LIST(KC_STATUS_ENUM_)
#undef KC_STATUS_ENUM_
    KC_STATUS_COUNT
} kc_status;

/* Filled by failing calls. Zero-initialize it (`kc_error err = {0};`) or call
 * kc_error_clear(). All fields are read-only for callers. */
typedef struct kc_error {
    kc_status code;       /* KC_OK until something fails */
    char message[256];    /* what failed, one sentence */
    char context[512];    /* where: "m.h5: /model_weights/dense_1: kernel:0" */
    const char *src_file; /* ckeras source file that raised it */
    int src_line;         /* ... and its line */
} kc_error;

/* For user classes (layers, losses, callbacks, ...): record an error with
 * a printf-style message, unless err already holds one (the first error
 * wins). err may be NULL. Returns code, so that
 *     return kc_error_set(err, KC_ESHAPE, "expected %d inputs", n);
 * reads naturally. */
KC_API kc_status kc_error_set(kc_error *err, kc_status code, const char *fmt, ...) KC_PRINTF(3, 4);

/* Name of a status code, e.g. "KC_ESHAPE". Returns: static string. */
KC_API const char *kc_status_name(kc_status code);

/* Generic description of a status code, e.g. "incompatible shapes".
 * Returns: static string ("unknown status" for out-of-range values). */
KC_API const char *kc_strerror(kc_status code);

/* Reset err to "no error". err may be NULL. */
KC_API void kc_error_clear(kc_error *err);

/* Format "message (context)" into buf (always NUL-terminated when size > 0).
 * Returns: buf. */
KC_API const char *kc_error_format(const kc_error *err, char *buf, size_t size);

KC_END_DECLS

#endif /* CKERAS_ERROR_H */
