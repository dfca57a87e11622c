/* The description an isolated loader's child sends back.
 *
 * A sequence of records, each a 16-byte header (kind, reserved, payload
 * length) and its payload, after an 8-byte magic:
 *
 *   ERROR      int32 code, then message and context, NUL-terminated
 *   WARNING    text                  CONFIG / TRAINING   JSON text
 *   NAMES      "base next" lines: the automatic-name counters
 *   WEIGHT, OPT_WEIGHT   kc__array_header, then its bytes -- unless they
 *              are at `offset` of the loaded file (in_file), where the
 *              parent reads them itself
 *   END        nothing: the description is complete
 *
 * The child writes them with write(2) to a memfd the parent created; the
 * parent seals it once the child is gone and reads it with pread. The
 * child may have been taken over by the file, so the reader trusts
 * nothing: every length is checked against what is left of the
 * description, every array's dtype, rank, dimensions and byte count
 * against each other (with overflow checks), texts against a size limit,
 * and in-file arrays against the file's size, before anything is
 * allocated or read. Numbers are native (parent and child are the same
 * program on the same machine). */
#define _GNU_SOURCE
#include "isolation_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static const char MAGIC[8] = {'K', 'C', 'D', 'E', 'S', 'C', '1', '\0'};
#define MAX_TEXT ((int64_t)256 << 20) /* as an HDF5 attribute's text (KC__H5_MAX_STRING) */

typedef struct record_header {
    uint32_t kind;
    uint32_t reserved;
    int64_t length;
} record_header;

/* ---- writing (child) -------------------------------------------------------------------------------- */

static void put(kc__desc_writer *w, const void *data, size_t n)
{
    const char *p = data;
    while (w->rc == KC_OK && n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            w->rc = kc__errf(&w->err, errno == EFBIG ? KC_ELIMIT : KC_EIO, "cannot write the load's description: %s",
                             k < 0 ? strerror(errno) : "short write");
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

static void put_header(kc__desc_writer *w, kc__desc_kind kind, int64_t length)
{
    record_header h = {(uint32_t)kind, 0, length};
    put(w, &h, sizeof h);
}

void kc__desc_begin(kc__desc_writer *w, int fd)
{
    memset(w, 0, sizeof(*w));
    w->fd = fd;
    put(w, MAGIC, sizeof MAGIC);
}

void kc__desc_text(kc__desc_writer *w, kc__desc_kind kind, const char *text)
{
    size_t n = strlen(text);
    put_header(w, kind, (int64_t)n);
    put(w, text, n);
}

void kc__desc_error(kc__desc_writer *w, const kc_error *e)
{
    int32_t code = (int32_t)e->code;
    size_t m = strnlen(e->message, sizeof e->message), c = strnlen(e->context, sizeof e->context);
    put_header(w, KC__DESC_ERROR, (int64_t)(sizeof code + m + 1 + c + 1));
    put(w, &code, sizeof code);
    put(w, e->message, m);
    put(w, "", 1);
    put(w, e->context, c);
    put(w, "", 1);
}

static kc__array_header array_header(const kc_tensor *t)
{
    kc__array_header h;
    memset(&h, 0, sizeof h);
    h.dtype = (uint32_t)kc_tensor_dtype(t);
    h.ndim = (uint32_t)kc_tensor_ndim(t);
    for (int i = 0; i < kc_tensor_ndim(t); i++) h.dims[i] = kc_tensor_dims(t)[i];
    h.nbytes = (int64_t)kc_tensor_nbytes(t);
    return h;
}

void kc__desc_array(kc__desc_writer *w, kc__desc_kind kind, const kc_tensor *t)
{
    kc__array_header h = array_header(t);
    put_header(w, kind, (int64_t)sizeof h + h.nbytes);
    put(w, &h, sizeof h);
    put(w, kc_tensor_cdata(t), (size_t)h.nbytes);
}

void kc__desc_array_in_file(kc__desc_writer *w, const kc_tensor *t, int64_t offset)
{
    kc__array_header h = array_header(t);
    h.in_file = 1;
    h.offset = offset;
    put_header(w, KC__DESC_WEIGHT, (int64_t)sizeof h);
    put(w, &h, sizeof h);
}

void kc__desc_end(kc__desc_writer *w) { put_header(w, KC__DESC_END, 0); }

/* ---- reading (parent) -------------------------------------------------------------------------------- */

static kc_status get(int fd, void *dst, int64_t n, int64_t at, const char *what, kc_error *err)
{
    char *p = dst;
    while (n > 0) {
        size_t chunk = n > (1 << 30) ? (size_t)1 << 30 : (size_t)n;
        ssize_t k = pread(fd, p, chunk, (off_t)at);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return kc__errf(err, KC_EIO, "cannot read %s: %s", what, strerror(errno));
        if (k == 0) return kc__errf(err, KC_EFORMAT, "%s ends early", what);
        p += k;
        at += k;
        n -= k;
    }
    return KC_OK;
}

kc_status kc__desc_next(kc__desc_reader *r, kc__desc_kind *kind, int64_t *length, kc_error *err)
{
    if (r->at == 0) {
        char magic[sizeof MAGIC];
        if (r->size < (int64_t)sizeof MAGIC || get(r->fd, magic, sizeof magic, 0, "the load's description", err) != KC_OK ||
            memcmp(magic, MAGIC, sizeof MAGIC) != 0)
            return kc__errf(err, KC_EFORMAT, "the isolated loader sent no description");
        r->at = sizeof MAGIC;
    }
    if (r->end > r->at) r->at = r->end; /* whatever was not read of the last record */
    record_header h;
    if (r->size - r->at < (int64_t)sizeof h)
        return kc__errf(err, KC_EFORMAT, "the isolated loader's description ends early (at byte %lld)", (long long)r->at);
    kc_status rc = get(r->fd, &h, sizeof h, r->at, "the load's description", err);
    if (rc != KC_OK) return rc;
    r->at += (int64_t)sizeof h;
    if (h.kind < KC__DESC_END || h.kind > KC__DESC_NAMES || h.length < 0 || h.length > r->size - r->at)
        return kc__errf(err, KC_EFORMAT, "the isolated loader's description has a bad record at byte %lld",
                        (long long)(r->at - (int64_t)sizeof h));
    r->end = r->at + h.length;
    *kind = (kc__desc_kind)h.kind;
    *length = h.length;
    return KC_OK;
}

kc_status kc__desc_read_text(kc__desc_reader *r, int64_t length, char **text, kc_error *err)
{
    *text = NULL;
    if (length > MAX_TEXT) return kc__errf(err, KC_ELIMIT, "a text of the load's description is %lld bytes", (long long)length);
    char *t = kc__malloc((size_t)length + 1);
    if (!t) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = get(r->fd, t, length, r->at, "the load's description", err);
    if (rc != KC_OK) {
        kc__free(t);
        return rc;
    }
    t[length] = '\0';
    if (strlen(t) != (size_t)length) { /* JSON and messages never hold NUL bytes */
        kc__free(t);
        return kc__errf(err, KC_EFORMAT, "a text of the load's description holds a NUL byte");
    }
    r->at += length;
    *text = t;
    return KC_OK;
}

kc_status kc__desc_read_error(kc__desc_reader *r, int64_t length, kc_error *e, kc_error *err)
{
    char buf[sizeof(int32_t) + sizeof e->message + sizeof e->context];
    int32_t code;
    if (length < (int64_t)sizeof code + 2 || length > (int64_t)sizeof buf)
        return kc__errf(err, KC_EFORMAT, "the load's description has a bad error record");
    kc_status rc = get(r->fd, buf, length, r->at, "the load's description", err);
    if (rc != KC_OK) return rc;
    memcpy(&code, buf, sizeof code);
    const char *msg = buf + sizeof code, *end = buf + length;
    const char *ctx = memchr(msg, '\0', (size_t)(end - msg));
    if (!ctx || ctx + 1 >= end || !memchr(ctx + 1, '\0', (size_t)(end - ctx - 1)) || code <= KC_OK || code >= KC_STATUS_COUNT)
        return kc__errf(err, KC_EFORMAT, "the load's description has a bad error record");
    ctx++;
    memset(e, 0, sizeof(*e));
    e->code = (kc_status)code;
    size_t m = strnlen(msg, sizeof e->message - 1), c = strnlen(ctx, sizeof e->context - 1);
    memcpy(e->message, msg, m);
    memcpy(e->context, ctx, c);
    r->at += length;
    return KC_OK;
}

kc_status kc__desc_read_array_header(kc__desc_reader *r, int64_t length, kc__array_header *h, kc_error *err)
{
    if (length < (int64_t)sizeof *h) return kc__errf(err, KC_EFORMAT, "the load's description has a bad array record");
    kc_status rc = get(r->fd, h, sizeof *h, r->at, "the load's description", err);
    if (rc != KC_OK) return rc;
    r->at += (int64_t)sizeof *h;
    int64_t count = 1, elem = h->dtype == KC_INT64 ? 8 : 4, nbytes;
    bool ok = (h->dtype == KC_FLOAT32 || h->dtype == KC_INT32 || h->dtype == KC_INT64) && h->ndim <= KC_MAX_DIMS &&
              h->in_file <= 1;
    for (uint32_t i = 0; ok && i < h->ndim; i++) ok = h->dims[i] >= 0 && kc__mul_i64(count, h->dims[i], &count);
    ok = ok && kc__mul_i64(count, elem, &nbytes) && nbytes == h->nbytes;
    if (ok && h->in_file) {
        ok = length == (int64_t)sizeof *h && h->offset >= 0 && h->offset <= r->file_size &&
             h->nbytes <= r->file_size - h->offset;
    } else if (ok) {
        ok = length - (int64_t)sizeof *h == h->nbytes;
    }
    /* an array in the file is a weight's extent: float32 only */
    ok = ok && (!h->in_file || h->dtype == KC_FLOAT32);
    if (!ok) return kc__errf(err, KC_EFORMAT, "the load's description has a bad array record");
    return KC_OK;
}

kc_status kc__desc_read_array_data(kc__desc_reader *r, const kc__array_header *h, int64_t at, void *dst,
                                   kc_error *err)
{
    if (h->in_file) return get(r->file_fd, dst, h->nbytes, h->offset, "the model file", err);
    if (at < 0 || at > r->size || h->nbytes > r->size - at)
        return kc__errf(err, KC_EFORMAT, "the load's description has a bad array record");
    return get(r->fd, dst, h->nbytes, at, "the load's description", err);
}
