/* The MPI strategy: a duplicate of the caller's communicator (its errors
 * returned, not fatal, so that a failing MPI call becomes a kc_error) and
 * the table of collective operations training calls (replica.h). */
#include "distributed_int.h"

#include <string.h>

#define DEFAULT_BUCKET_BYTES ((int64_t)4 << 20)

static kc_status ops_save(kc_strategy *s, kc_object *model, const char *path, bool weights_only, kc_error *err)
{
    return kc__dist_save(s, model, path, weights_only, err);
}

static const kc__replica_ops mpi_ops = {
    .agree = kc__dist_agree,
    .sum = kc__dist_sum,
    .sum_gradients = kc__dist_sum_gradients,
    .grads_begin = kc__dist_grads_begin,
    .grads_ready = kc__dist_grads_ready,
    .grads_end = kc__dist_grads_end,
    .replicate = kc__dist_replicate,
    .check_same = kc__dist_check_same,
    .save = ops_save,
};

kc_strategy *kc_strategy_new(MPI_Comm comm, kc_error *err)
{
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited || finalized) {
        kc__errf(err, KC_ESTATE, "kc_strategy_new: MPI is not initialized (call MPI_Init first)");
        return NULL;
    }
    if (comm == MPI_COMM_NULL) {
        kc__errf(err, KC_EINVAL, "kc_strategy_new: the communicator is MPI_COMM_NULL");
        return NULL;
    }
    kc__mpi_strategy *m = kc__calloc(1, sizeof(*m));
    if (!m) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    int mrc = MPI_Comm_dup(comm, &m->comm);
    if (mrc != MPI_SUCCESS) {
        kc__dist_mpi_failed(mrc, "MPI_Comm_dup", err);
        kc__free(m);
        return NULL;
    }
    MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m->comm, &m->base.rank);
    MPI_Comm_size(m->comm, &m->base.size);
    m->base.ops = &mpi_ops;
    m->bucket_bytes = DEFAULT_BUCKET_BYTES;
    return &m->base;
}

void kc_strategy_free(kc_strategy *s)
{
    if (!s) return;
    kc__mpi_strategy *m = kc__mpi(s);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&m->comm);
    kc__free(m);
}

int kc_strategy_rank(const kc_strategy *s) { return s ? s->rank : 0; }
int kc_strategy_num_replicas(const kc_strategy *s) { return s ? s->size : 1; }
MPI_Comm kc_strategy_comm(const kc_strategy *s) { return s ? ((const kc__mpi_strategy *)s)->comm : MPI_COMM_NULL; }

void kc_strategy_set_bucket_bytes(kc_strategy *s, int64_t bytes)
{
    if (s) kc__mpi(s)->bucket_bytes = bytes < (int64_t)sizeof(float) ? (int64_t)sizeof(float) : bytes;
}

kc_status kc_strategy_fit(kc_strategy *s, kc_object *model, const kc_fit_args *args, kc_history **history,
                          kc_error *err)
{
    if (history) *history = NULL;
    if (!s) return kc__errf(err, KC_EINVAL, "kc_strategy_fit: strategy is NULL");
    return kc__model_fit(model, args, s, history, err);
}

kc_status kc_strategy_evaluate(kc_strategy *s, kc_object *model, const kc_fit_args *args, kc_logs **logs,
                               kc_error *err)
{
    if (logs) *logs = NULL;
    if (!s) return kc__errf(err, KC_EINVAL, "kc_strategy_evaluate: strategy is NULL");
    return kc__model_evaluate(model, args, s, logs, err);
}

void kc_strategy_shard(const kc_strategy *s, int64_t count, int64_t *offset, int64_t *n)
{
    kc__replica_shard(s, count, offset, n);
}

kc_status kc_strategy_agree(kc_strategy *s, kc_status local, kc_error *err)
{
    if (!s) return kc__errf(err, KC_EINVAL, "kc_strategy_agree: strategy is NULL");
    return kc__dist_agree(s, local, NULL, err);
}

kc_strategy_stats kc_strategy_get_stats(const kc_strategy *s)
{
    kc_strategy_stats z = {0};
    return s ? ((const kc__mpi_strategy *)s)->stats : z;
}

void kc_strategy_reset_stats(kc_strategy *s)
{
    if (s) memset(&kc__mpi(s)->stats, 0, sizeof(kc__mpi(s)->stats));
}

/* ---- tensors and metrics ---------------------------------------------------------------------- */

/* Tensors packed into buckets of at most bucket_bytes (a bigger tensor
 * alone), each summed in one all-reduce. */
static kc_status allreduce_tensors(kc_strategy *s, kc_tensor *const *ts, int n, bool average, kc_error *err)
{
    int64_t cap = kc__mpi(s)->bucket_bytes / (int64_t)sizeof(float), biggest = 0;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) continue;
        if (kc_tensor_dtype(ts[i]) != KC_FLOAT32) return kc__errf(err, KC_ETYPE, "tensor %d is not float32", i);
        if (kc_tensor_size(ts[i]) > biggest) biggest = kc_tensor_size(ts[i]);
    }
    float *buf = kc__malloc_array((size_t)(cap > biggest ? cap : biggest) + 1, sizeof(float));
    if (!buf) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = KC_OK;
    float scale = 1.0f / (float)s->size;
    for (int first = 0; rc == KC_OK && first < n;) {
        int last = first;
        int64_t len = 0;
        for (; last < n; last++) {
            int64_t sz = ts[last] ? kc_tensor_size(ts[last]) : 0;
            if (last > first && len + sz > cap) break;
            if (ts[last]) memcpy(buf + len, kc_tensor_cdata(ts[last]), (size_t)sz * sizeof(float));
            len += sz;
        }
        rc = kc__dist_sum(s, buf, len, err);
        const float *p = buf;
        for (int i = first; rc == KC_OK && i < last; i++) {
            if (!ts[i]) continue;
            float *dst = kc_tensor_f32(ts[i]);
            for (int64_t e = 0; e < kc_tensor_size(ts[i]); e++) dst[e] = average ? p[e] * scale : p[e];
            p += kc_tensor_size(ts[i]);
        }
        first = last;
    }
    kc__free(buf);
    return rc;
}

kc_status kc_strategy_allreduce(kc_strategy *s, kc_tensor *const *tensors, int n, bool average, kc_error *err)
{
    if (!s) return kc__errf(err, KC_EINVAL, "kc_strategy_allreduce: strategy is NULL");
    kc_status rc = n < 0 || (n > 0 && !tensors) ? kc__errf(err, KC_EINVAL, "bad tensor list (n = %d)", n) : KC_OK;
    if (rc == KC_OK) rc = allreduce_tensors(s, tensors, n, average, err);
    return kc__dist_agree(s, rc, NULL, err);
}

kc_status kc_strategy_allreduce_metrics(kc_strategy *s, kc_object *const *metrics, int n, kc_error *err)
{
    if (!s) return kc__errf(err, KC_EINVAL, "kc_strategy_allreduce_metrics: strategy is NULL");
    kc_status rc = n < 0 || (n > 0 && !metrics) ? kc__errf(err, KC_EINVAL, "bad metric list (n = %d)", n) : KC_OK;
    int total = 0;
    for (int i = 0; rc == KC_OK && i < n; i++) {
        if (!metrics[i] || kc_object_kind(metrics[i]) != KC_KIND_METRIC || kc_object_is_function(metrics[i]))
            rc = kc__errf(err, KC_EINVAL, "entry %d is not a metric with state", i);
        else total += kc_metric_num_variables(metrics[i]);
    }
    kc_tensor **ts = rc == KC_OK ? kc__calloc((size_t)total + 1, sizeof(kc_tensor *)) : NULL;
    if (rc == KC_OK && !ts) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    int k = 0;
    for (int i = 0; rc == KC_OK && i < n; i++)
        for (int j = 0; j < kc_metric_num_variables(metrics[i]); j++) ts[k++] = kc_variable_value(kc_metric_variable(metrics[i], j));
    if (rc == KC_OK) rc = allreduce_tensors(s, ts, k, false, err);
    kc__free(ts);
    return kc__dist_agree(s, rc, NULL, err);
}
