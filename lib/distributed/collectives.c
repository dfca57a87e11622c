/* The collective operations a distributed fit needs, and the public
 * building blocks made of them: sums of floats, broadcasts of bytes,
 * gradients summed in fused buckets, and the check that every process was
 * given the same settings. Each starts with the status header
 * (agreement.c); payloads larger than MPI's int counts go in chunks. */
#include "distributed_int.h"

#include <string.h>

#define CHUNK ((int64_t)1 << 28) /* elements per MPI call: far below INT_MAX */

/* Sum without the header (the caller entered). */
static kc_status allreduce_floats(kc__mpi_strategy *m, float *buf, int64_t n, kc_error *err)
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
    return rc == KC_OK ? allreduce_floats(m, buf, n, err) : rc;
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

/* ---- gradients in fused buckets ------------------------------------------------------------------ */

/* A bucket holds consecutive variables (last first: the backward pass
 * finishes them in that order) as {one presence flag per variable, then
 * their values}: a variable without a gradient on a process sends zeros
 * and flag 0, and keeps no gradient where no process had one (Keras skips
 * None gradients: an optimizer step with a zero gradient would still move
 * momentum). */
static kc_status reduce_bucket(kc__mpi_strategy *m, kc_tensor **grads, kc_variable *const *vars, const int *idx,
                               int k, float *buf, int64_t len, kc_error *err)
{
    float *p = buf + k;
    for (int j = 0; j < k; j++) {
        kc_tensor *g = grads[idx[j]];
        int64_t n = kc_tensor_size(kc_variable_value(vars[idx[j]]));
        buf[j] = g ? 1.0f : 0.0f;
        if (g) memcpy(p, kc_tensor_cdata(g), (size_t)n * sizeof(float));
        else memset(p, 0, (size_t)n * sizeof(float));
        p += n;
    }
    kc_status rc = kc__dist_enter(m, len, err);
    if (rc == KC_OK) rc = allreduce_floats(m, buf, len, err);
    p = buf + k;
    for (int j = 0; rc == KC_OK && j < k; j++) {
        kc_tensor *value = kc_variable_value(vars[idx[j]]);
        int64_t n = kc_tensor_size(value);
        kc_tensor *out = NULL;
        if (buf[j] > 0) {
            kc_shape shape = kc_tensor_shape(value);
            if (!(out = kc_tensor_empty(KC_FLOAT32, shape.ndim, shape.dims, err))) return kc__error_code(err, KC_ENOMEM);
            memcpy(kc_tensor_f32(out), p, (size_t)n * sizeof(float));
        }
        kc_tensor_unref(grads[idx[j]]);
        grads[idx[j]] = out;
        p += n;
    }
    return rc;
}

kc_status kc__dist_sum_gradients(kc_strategy *s, kc_tensor **grads, kc_variable *const *vars, int n, kc_error *err)
{
    kc__mpi_strategy *m = kc__mpi(s);
    for (int i = 0; i < n; i++) {
        if (!vars[i] || kc_tensor_dtype(kc_variable_value(vars[i])) != KC_FLOAT32)
            return kc__errf(err, KC_ETYPE, "gradient %d: only float32 variables can be reduced", i);
        if (grads[i] && !kc_tensor_same_shape(grads[i], kc_variable_value(vars[i])))
            return kc__errf(err, KC_ESHAPE, "the gradient of '%s' does not have its variable's shape",
                            kc_variable_name(vars[i]));
    }
    int *idx = kc__malloc_array((size_t)n + 1, sizeof(int));
    int64_t cap = m->bucket_bytes / (int64_t)sizeof(float);
    int64_t biggest = 0;
    for (int i = 0; i < n; i++) {
        int64_t sz = kc_tensor_size(kc_variable_value(vars[i])) + 1;
        if (sz > biggest) biggest = sz;
    }
    float *buf = kc__malloc_array((size_t)(cap > biggest ? cap : biggest) + 1, sizeof(float));
    kc_status rc = idx && buf ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
    for (int end = n; rc == KC_OK && end > 0;) {
        int k = 0;
        int64_t len = 0;
        while (end - k > 0) {
            int64_t sz = kc_tensor_size(kc_variable_value(vars[end - 1 - k])) + 1;
            if (k > 0 && len + sz > cap) break;
            idx[k] = end - 1 - k;
            k++;
            len += sz;
        }
        rc = reduce_bucket(m, grads, vars, idx, k, buf, len, err);
        end -= k;
    }
    kc__free(buf);
    kc__free(idx);
    return rc;
}
