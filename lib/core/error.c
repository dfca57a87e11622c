/* Errors: a code, a one-sentence message, and where it happened.
 *
 * The first error recorded in a kc_error wins, as in Jansson's json_error_t:
 * cleanup code that fails after the real cause must not overwrite it. Callers
 * add context on the way up (kc__error_context), so a message raised deep in
 * a weight reader ends up as "m.h5: /model_weights/dense_1: kernel:0". */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {
#define X(name, msg) "KC_" #name,
    KC_STATUS_LIST(X)
#undef X
};
static const char *const status_messages[] = {
#define X(name, msg) msg,
    KC_STATUS_LIST(X)
#undef X
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == KC_STATUS_COUNT,
               "status name table out of sync");

const char *kc_status_name(kc_status code)
{
    if ((unsigned)code >= KC_STATUS_COUNT) return "KC_UNKNOWN";
    return status_names[code];
}

const char *kc_strerror(kc_status code)
{
    if ((unsigned)code >= KC_STATUS_COUNT) return "unknown status";
    return status_messages[code];
}

void kc_error_clear(kc_error *err)
{
    if (!err) return;
    memset(err, 0, sizeof(*err));
}

const char *kc_error_format(const kc_error *err, char *buf, size_t size)
{
    if (!buf || size == 0) return buf;
    if (!err || err->code == KC_OK) {
        snprintf(buf, size, "no error");
    } else if (err->context[0]) {
        snprintf(buf, size, "%s (%s)", err->message[0] ? err->message : kc_strerror(err->code),
                 err->context);
    } else {
        snprintf(buf, size, "%s", err->message[0] ? err->message : kc_strerror(err->code));
    }
    return buf;
}

kc_status kc__error_set(kc_error *err, kc_status code, const char *file, int line,
                        const char *fmt, ...)
{
    if (!err || err->code != KC_OK || code == KC_OK) return code;
    err->code = code;
    err->src_file = file;
    err->src_line = line;
    err->context[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

void kc__error_context(kc_error *err, const char *fmt, ...)
{
    if (!err || err->code == KC_OK) return;
    char head[sizeof(err->context)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    if (!head[0]) return;
    /* "head: old context", truncated to fit */
    char joined[sizeof(err->context)];
    size_t cap = sizeof(joined) - 1, n = strlen(head);
    if (n > cap) n = cap;
    memcpy(joined, head, n);
    if (err->context[0] && n + 2 <= cap) {
        memcpy(joined + n, ": ", 2);
        n += 2;
        size_t m = strlen(err->context);
        if (m > cap - n) m = cap - n;
        memcpy(joined + n, err->context, m);
        n += m;
    }
    joined[n] = '\0';
    memcpy(err->context, joined, n + 1);
}

kc_status kc_error_set(kc_error *err, kc_status code, const char *fmt, ...)
{
    if (!err || err->code != KC_OK) return code;
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kc__error_set(err, code, "user code", 0, "%s", msg);
}

const char *kc__short_path(const char *path, char buf[KC__SHORT_PATH])
{
    if (!path) return "(null)";
    size_t n = strlen(path);
    if (n < KC__SHORT_PATH) return path;
    const size_t head = 40, tail = KC__SHORT_PATH - head - 4; /* "..." and the NUL */
    memcpy(buf, path, head);
    memcpy(buf + head, "...", 3);
    memcpy(buf + head + 3, path + n - tail, tail);
    buf[KC__SHORT_PATH - 1] = '\0';
    return buf;
}
