/* Agreeing on failure, so that one failing process stops every process
 * with its error instead of leaving the others blocked in a collective.
 *
 * How it works. Every collective operation starts with the same tiny
 * all-reduce (MAX) of a header {failed, stop, n, -n}, n being the payload
 * size the process is about to send. A process that fails anywhere --
 * building its batch, in its forward pass, writing a checkpoint, in a
 * callback -- unwinds to kc__dist_agree, whose header carries failed = 1.
 * Whatever collective the others are in, their header all-reduce meets
 * that one (headers are the only thing every collective starts with, so
 * the k-th header of every process is the same MPI call): they all learn
 * of the failure at the same point, send no payload, unwind and reach
 * kc__dist_agree themselves, which then performs no header but only the
 * error exchange: the lowest failing rank is found (MIN) and broadcasts
 * its kc_error. Every process returns that error. n and -n catch processes
 * about to send payloads of different sizes (different models or data),
 * which MPI would otherwise turn into a hang or garbage: they fail with the
 * same message everywhere. The cost is one small all-reduce per
 * collective.
 *
 * A failure agreed inside an operation (a checkpoint in a callback, the
 * stop agreement after a batch) is passed up by the caller, who may agree
 * on it again on its way out while another process, which learnt of it in
 * its own final agreement, does not: so the first agreement on a failure
 * after an exchange is answered without communicating (`agreed`), until
 * the next collective starts. */
#include "distributed_int.h"

#include <limits.h>
#include <string.h>
#include <time.h>

double kc__dist_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

kc_status kc__dist_mpi_failed(int mpi_rc, const char *what, kc_error *err)
{
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(mpi_rc, text, &len);
    return kc__errf(err, KC_EIO, "MPI failed in %s: %s", what, text);
}

/* The header all-reduce. h = {failed, stop, n, -n} in, reduced out. */
static kc_status header(kc__mpi_strategy *m, int64_t *h, kc_error *err)
{
    double t0 = kc__dist_now();
    int mrc = MPI_Allreduce(MPI_IN_PLACE, h, 4, MPI_INT64_T, MPI_MAX, m->comm);
    double dt = kc__dist_now() - t0;
    m->stats.seconds += dt;
    m->stats.sync_seconds += dt;
    m->stats.collectives++;
    return mrc == MPI_SUCCESS ? KC_OK : kc__dist_mpi_failed(mrc, "a status agreement", err);
}

kc_status kc__dist_enter(kc__mpi_strategy *m, int64_t n, kc_error *err)
{
    if (m->failing) return kc__errf(err, KC_ESTATE, "another process failed");
    m->agreed = false;
    int64_t h[4] = {0, 0, n, -n};
    kc_status rc = header(m, h, err);
    if (rc != KC_OK) return rc;
    if (h[0]) {
        m->failing = true;
        return kc__errf(err, KC_ESTATE, "another process failed");
    }
    if (h[2] != -h[3]) {
        /* every process sees the same sizes: this error is everyone's */
        m->failing = true;
        return kc__errf(err, KC_EINVAL,
                        "the processes disagree on the size of a collective operation (%lld to %lld "
                        "elements): they must run the same model on data of the same shapes",
                        (long long)-h[3], (long long)h[2]);
    }
    return KC_OK;
}

/* What the failing process tells the others. */
typedef struct wire_error {
    int32_t code;
    int32_t rank;
    char message[sizeof(((kc_error *)0)->message)];
    char context[sizeof(((kc_error *)0)->context)];
} wire_error;

/* The error exchange, which every process reaches together once a failure
 * is known. origin: this process failed by itself (not because it learnt
 * of another's failure). */
static kc_status exchange_error(kc__mpi_strategy *m, bool origin, kc_status local, kc_error *err)
{
    kc_error own = {0};
    if (err) own = *err;
    int me = origin ? m->base.rank : INT_MAX, root = INT_MAX;
    m->failing = false; /* the strategy serves the next operation */
    int mrc = MPI_Allreduce(&me, &root, 1, MPI_INT, MPI_MIN, m->comm);
    if (mrc != MPI_SUCCESS) return kc__dist_mpi_failed(mrc, "an error exchange", err);
    m->agreed = true;
    if (root == INT_MAX) /* nobody failed alone (e.g. sizes disagreed): everyone has the same error */
        return local != KC_OK ? local : kc__error_code(err, KC_EINTERNAL);
    wire_error w;
    memset(&w, 0, sizeof(w));
    if (root == m->base.rank) {
        w.code = (int32_t)(local != KC_OK ? local : KC_EINTERNAL);
        w.rank = root;
        if (own.code != KC_OK) {
            memcpy(w.message, own.message, sizeof(w.message));
            memcpy(w.context, own.context, sizeof(w.context));
        } else {
            snprintf(w.message, sizeof(w.message), "process %d failed with %s and no message", root,
                     kc_status_name(local));
        }
    }
    mrc = MPI_Bcast(&w, (int)sizeof(w), MPI_BYTE, root, m->comm);
    if (mrc != MPI_SUCCESS) return kc__dist_mpi_failed(mrc, "an error exchange", err);
    if (w.code <= KC_OK || w.code >= KC_STATUS_COUNT) w.code = KC_EINTERNAL;
    if (err && root != m->base.rank) {
        /* the failing process's error replaces "another process failed" */
        kc_error_clear(err);
        kc__errf(err, (kc_status)w.code, "%s", w.message);
        if (w.context[0]) kc__error_context(err, "%s", w.context);
        kc__error_context(err, "process %d of %d", root, m->base.size);
    } else if (err) {
        kc__error_context(err, "process %d of %d", root, m->base.size);
    }
    return (kc_status)w.code;
}

kc_status kc__dist_agree(kc_strategy *s, kc_status local, bool *stop, kc_error *err)
{
    kc__mpi_strategy *m = kc__mpi(s);
    bool origin = false, again = m->agreed;
    m->agreed = false;
    if (again && local != KC_OK) return local; /* the failure just agreed on */
    if (!m->failing) {
        int64_t h[4] = {local != KC_OK, stop && *stop, 0, 0};
        kc_error herr = {0};
        if (header(m, h, &herr) != KC_OK) {
            if (err && err->code == KC_OK) *err = herr;
            return kc__error_code(err, KC_EIO);
        }
        if (!h[0]) {
            if (stop) *stop = h[1] != 0;
            return KC_OK;
        }
        origin = local != KC_OK; /* announced by this process, not learnt */
    }
    return exchange_error(m, origin, local != KC_OK ? local : KC_ESTATE, err);
}
