/* The collective operations a distributed fit needs: sums of floats,
 * broadcasts of bytes, and the check that every process was given the
 * same settings (gradients: gradients.c). Each starts with the status header
 * (agreement.c); payloads larger than MPI's int counts go in chunks. */
#include "distributed_int.h"

#include <string.h>

#define CHUNK ((int64_t)1 << 28) /* elements per MPI call: far below INT_MAX */

/* Sum without the header (the caller entered). */
kc_status kc__dist_allreduce_floats(kc__mpi_strategy *m, float *buf, int64_t n, kc_error *err)
{
    double t0 = kc__dist_now();
    int mrc = MPI_SUCCESS;
    for (int64_t off = 0; off < n && mrc == MPI_SUCCESS; off += CHUNK) {
        int64_t k = n - off < CHUNK ? n - off : CHUNK;
        mrc = MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, MPI_SUM, m->comm);
    }
    m->stats.seconds += kc__dist_now() - t0;
    m->stats.bytes_reduced += n * (int64_t)sizeof(float);
    return mrc == MPI_SUCCESS ? KC_OK : kc__dist_mpi_failed(mrc, "an all-reduce", err);
}

kc_status kc__dist_sum(kc_strategy *s, float *buf, int64_t n, kc_error *err)
{
    kc__mpi_strategy *m = kc__mpi(s);
    kc_status rc = kc__dist_enter(m, n, err);
    return rc == KC_OK ? kc__dist_allreduce_floats(m, buf, n, err) : rc;
}

kc_status kc__dist_broadcast(kc__mpi_strategy *m, void *buf, int64_t bytes, kc_error *err)
{
    kc_status rc = kc__dist_enter(m, bytes, err);
    if (rc != KC_OK) return rc;
    double t0 = kc__dist_now();
    int mrc = MPI_SUCCESS;
    for (int64_t off = 0; off < bytes && mrc == MPI_SUCCESS; off += CHUNK) {
        int64_t k = bytes - off < CHUNK ? bytes - off : CHUNK;
        mrc = MPI_Bcast((char *)buf + off, (int)k, MPI_BYTE, 0, m->comm);
    }
    m->stats.seconds += kc__dist_now() - t0;
    return mrc == MPI_SUCCESS ? KC_OK : kc__dist_mpi_failed(mrc, "a broadcast", err);
}

kc_status kc__dist_check_same(kc_strategy *s, const int64_t *values, const char *const *names, int n, kc_error *err)
{
    kc__mpi_strategy *m = kc__mpi(s);
    kc_status rc = kc__dist_enter(m, n, err);
    if (rc != KC_OK) return rc;
    int64_t *v = kc__malloc_array((size_t)(2 * n) + 1, sizeof(int64_t));
    if (!v) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        v[i] = values[i];
        v[n + i] = -values[i];
    }
    double t0 = kc__dist_now();
    int mrc = MPI_Allreduce(MPI_IN_PLACE, v, 2 * n, MPI_INT64_T, MPI_MAX, m->comm);
    m->stats.seconds += kc__dist_now() - t0;
    if (mrc != MPI_SUCCESS) rc = kc__dist_mpi_failed(mrc, "a consistency check", err);
    for (int i = 0; rc == KC_OK && i < n; i++)
        if (v[i] != -v[n + i])
            rc = kc__errf(err, KC_EINVAL, "the processes were given different %s (%lld to %lld): every process "
                          "must call with the same arguments and data", names[i], (long long)-v[n + i], (long long)v[i]);
    kc__free(v);
    return rc;
}
