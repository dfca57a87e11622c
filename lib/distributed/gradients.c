/* Gradients summed over the processes in fused buckets, sent while the
 * backward pass is still running.
 *
 * The variables are taken last first -- the order in which the backward
 * pass finishes their gradients -- and cut into buckets of at most
 * bucket_bytes (a larger variable is a bucket alone): one all-reduce per
 * bucket instead of one per variable. The tape tells each gradient as soon
 * as nothing more will add to it (kc__grad_listen); when a bucket is
 * complete, and every bucket before it has been sent, it is sent with
 * MPI_Iallreduce and the backward pass goes on: the sum of the last layers'
 * gradients travels while the first layers' are being computed (MPI moves
 * it along inside the calls made here as later gradients arrive, and in the
 * final waits). The last bucket completes when the pass ends and goes out
 * with a blocking MPI_Allreduce (MPI's faster algorithms, nothing left to
 * overlap). Buckets are sent in the same order on every process, each
 * after the status header (agreement.c), so a failure elsewhere stops the
 * sending everywhere at the same bucket.
 *
 * A bucket is {one presence flag per variable, then the values}: a
 * variable without a gradient here sends zeros and flag 0, and keeps no
 * gradient where no process had one (Keras skips None gradients: an
 * optimizer step with a zero gradient would still move momentum). */
#include "distributed_int.h"

#include <limits.h>
#include <string.h>

typedef struct bucket {
    int first, k;     /* its variables: order[first .. first + k) */
    float *buf;       /* k presence flags, then the values */
    int64_t len;      /* floats in buf */
    int ready;        /* variables told so far */
    bool sent, done;
    MPI_Request req;
} bucket;

struct kc__grad_stream {
    kc__mpi_strategy *m;
    kc_variable *const *vars;
    int n;
    int *order;         /* variable indices, last first */
    int *bucket_of;     /* per variable: its bucket */
    int *slot_of;       /* per variable: its flag's index in the bucket */
    int64_t *offset_of; /* per variable: where its values start in the bucket */
    bucket *b;
    int n_buckets, next; /* buckets; the next one to send */
    kc_status rc;       /* the first failure while sending */
    kc_error err;
};

static void stream_free(kc__grad_stream *g)
{
    for (int i = 0; g->b && i < g->n_buckets; i++) kc__free(g->b[i].buf);
    kc__free(g->b);
    kc__free(g->order);
    kc__free(g->bucket_of);
    kc__free(g->slot_of);
    kc__free(g->offset_of);
    kc__free(g);
}

static int64_t size_of(const kc__grad_stream *g, int i) { return kc_tensor_size(kc_variable_value(g->vars[i])); }

/* Cut the variables, last first, into buckets. */
static kc_status plan(kc__grad_stream *g, kc_error *err)
{
    int64_t cap = g->m->bucket_bytes / (int64_t)sizeof(float);
    for (int j = 0; j < g->n; j++) g->order[j] = g->n - 1 - j;
    for (int j = 0; j < g->n;) {
        bucket *b = &g->b[g->n_buckets];
        b->first = j;
        b->len = 0;
        while (j < g->n) {
            int i = g->order[j];
            int64_t sz = size_of(g, i) + 1;
            if (b->k > 0 && b->len + sz > cap) break;
            g->bucket_of[i] = g->n_buckets;
            g->slot_of[i] = b->k++;
            b->len += sz;
            j++;
        }
        if (b->len > INT_MAX) return kc__errf(err, KC_ELIMIT, "a variable of more than %d values cannot be all-reduced", INT_MAX);
        int64_t off = b->k;
        for (int q = b->first; q < b->first + b->k; q++) {
            g->offset_of[g->order[q]] = off;
            off += size_of(g, g->order[q]);
        }
        if (!(b->buf = kc__calloc((size_t)b->len, sizeof(float)))) return kc__errf(err, KC_ENOMEM, "out of memory");
        g->n_buckets++;
    }
    return KC_OK;
}

kc__grad_stream *kc__dist_grads_begin(kc_strategy *s, kc_variable *const *vars, int n, kc_error *err)
{
    for (int i = 0; i < n; i++)
        if (!vars[i] || kc_tensor_dtype(kc_variable_value(vars[i])) != KC_FLOAT32) {
            kc__errf(err, KC_ETYPE, "gradient %d: only float32 variables can be all-reduced", i);
            return NULL;
        }
    kc__grad_stream *g = kc__calloc(1, sizeof(*g));
    if (!g) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    g->m = kc__mpi(s);
    g->vars = vars;
    g->n = n;
    size_t m = (size_t)n + 1;
    g->order = kc__calloc(m, sizeof(int));
    g->bucket_of = kc__calloc(m, sizeof(int));
    g->slot_of = kc__calloc(m, sizeof(int));
    g->offset_of = kc__calloc(m, sizeof(int64_t));
    g->b = kc__calloc(m, sizeof(bucket));
    kc_status rc = g->order && g->bucket_of && g->slot_of && g->offset_of && g->b ? plan(g, err)
                                                                                : kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc != KC_OK) {
        stream_free(g);
        return NULL;
    }
    return g;
}

static void send(kc__grad_stream *g, bucket *b)
{
    if (g->rc != KC_OK) return;
    g->rc = kc__dist_enter(g->m, b->len, &g->err);
    if (g->rc != KC_OK) return;
    double t0 = kc__dist_now();
    int mrc = MPI_Iallreduce(MPI_IN_PLACE, b->buf, (int)b->len, MPI_FLOAT, MPI_SUM, g->m->comm, &b->req);
    g->m->stats.seconds += kc__dist_now() - t0;
    g->m->stats.bytes_reduced += b->len * (int64_t)sizeof(float);
    if (mrc != MPI_SUCCESS) g->rc = kc__dist_mpi_failed(mrc, "an all-reduce of gradients", &g->err);
    else b->sent = true;
}

/* Let MPI move the buckets in flight along. */
static void progress(kc__grad_stream *g)
{
    for (int i = 0; i < g->next; i++) {
        bucket *b = &g->b[i];
        if (!b->sent || b->done) continue;
        int flag = 0;
        MPI_Test(&b->req, &flag, MPI_STATUS_IGNORE);
        b->done = flag != 0;
    }
}

void kc__dist_grads_ready(kc__grad_stream *g, int i, const kc_tensor *grad)
{
    if (g->rc != KC_OK || i < 0 || i >= g->n) return;
    bucket *b = &g->b[g->bucket_of[i]];
    if (b->sent || b->buf[g->slot_of[i]] != 0) return; /* told twice: keep the first */
    if (kc_tensor_dtype(grad) != KC_FLOAT32 || !kc_tensor_same_shape(grad, kc_variable_value(g->vars[i]))) {
        g->rc = kc__errf(&g->err, KC_ESHAPE, "the gradient of '%s' does not have its variable's shape",
                         kc_variable_name(g->vars[i]));
        return;
    }
    memcpy(b->buf + g->offset_of[i], kc_tensor_cdata(grad), kc_tensor_nbytes(grad));
    b->buf[g->slot_of[i]] = 1.0f;
    b->ready++;
    /* the last bucket holds the first layers, finished when the pass ends:
     * nothing is left to overlap it with, and grads_end sends it blocking */
    while (g->next < g->n_buckets - 1 && g->b[g->next].ready == g->b[g->next].k) send(g, &g->b[g->next++]);
    progress(g);
}

/* The sums, out of the buckets. */
static kc_status unpack(kc__grad_stream *g, kc_tensor **grads, kc_error *err)
{
    for (int i = 0; i < g->n; i++) {
        const bucket *b = &g->b[g->bucket_of[i]];
        kc_tensor *out = NULL;
        if (b->buf[g->slot_of[i]] > 0) {
            kc_shape shape = kc_tensor_shape(kc_variable_value(g->vars[i]));
            if (!(out = kc_tensor_empty(KC_FLOAT32, shape.ndim, shape.dims, err))) return kc__error_code(err, KC_ENOMEM);
            memcpy(kc_tensor_f32(out), b->buf + g->offset_of[i], (size_t)size_of(g, i) * sizeof(float));
        }
        kc_tensor_unref(grads[i]);
        grads[i] = out;
    }
    return KC_OK;
}

kc_status kc__dist_grads_end(kc__grad_stream *g, bool ok, kc_tensor **grads, kc_error *err)
{
    /* What is left goes now (what was never told has no gradient here: its
     * flag stays 0), with blocking all-reduces: nothing is left to overlap,
     * and MPI's blocking algorithms are the faster ones. */
    for (; ok && g->rc == KC_OK && g->next < g->n_buckets; g->next++) {
        bucket *b = &g->b[g->next];
        g->rc = kc__dist_enter(g->m, b->len, &g->err);
        if (g->rc == KC_OK) g->rc = kc__dist_allreduce_floats(g->m, b->buf, b->len, &g->err);
    }
    double t0 = kc__dist_now();
    for (int i = 0; i < g->next; i++) {
        bucket *b = &g->b[i];
        if (!b->sent || b->done) continue;
        int mrc = MPI_Wait(&b->req, MPI_STATUS_IGNORE);
        if (mrc != MPI_SUCCESS && g->rc == KC_OK) g->rc = kc__dist_mpi_failed(mrc, "an all-reduce of gradients", &g->err);
    }
    g->m->stats.seconds += kc__dist_now() - t0;
    kc_status rc = KC_OK;
    if (ok && g->rc != KC_OK) {
        if (err && err->code == KC_OK) *err = g->err;
        rc = g->rc;
    } else if (ok) {
        rc = unpack(g, grads, err);
    }
    stream_free(g);
    return rc;
}

kc_status kc__dist_sum_gradients(kc_strategy *s, kc_tensor **grads, kc_variable *const *vars, int n, kc_error *err)
{
    for (int i = 0; i < n; i++)
        if (grads[i] && vars[i] && !kc_tensor_same_shape(grads[i], kc_variable_value(vars[i])))
            return kc__errf(err, KC_ESHAPE, "the gradient of '%s' does not have its variable's shape",
                            kc_variable_name(vars[i]));
    kc__grad_stream *g = kc__dist_grads_begin(s, vars, n, err);
    if (!g) return kc__error_code(err, KC_ENOMEM);
    for (int i = n - 1; i >= 0; i--)
        if (grads[i]) kc__dist_grads_ready(g, i, grads[i]);
    return kc__dist_grads_end(g, true, grads, err);
}
