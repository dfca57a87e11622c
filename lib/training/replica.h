/* ckeras private: the replicas of a data-parallel run, as training sees
 * them. A kc_strategy is a table of collective operations; lib/distributed
 * implements it on MPI, and training calls it at the few points where the
 * replicas must meet (the gradient all-reduce, the metric states, agreeing
 * on failures and on stopping, saving) without knowing how they are
 * reached. A replica is one process: it holds a full copy of the model and
 * trains on its share of every batch.
 *
 * Every operation is collective: all replicas call the same operations in
 * the same order. Each one may fail because another replica failed; the
 * caller then unwinds and ends with kc__replica_finish, which tells every
 * replica the same error. */
#ifndef CKERAS_REPLICA_H
#define CKERAS_REPLICA_H

#include "../layers/cross_replica.h"
#include "training_int.h"

typedef struct kc__grad_stream kc__grad_stream; /* the implementation's */

typedef struct kc__replica_ops {
    /* Agree on the outcome of the work since the last operation: every
     * replica passes its own status and receives KC_OK when all succeeded,
     * else the error of the lowest-ranked replica that failed (in err).
     * *stop (may be NULL) becomes true everywhere when any replica set it. */
    kc_status (*agree)(kc_strategy *s, kc_status local, bool *stop, kc_error *err);
    /* Sum buf[0..n) over the replicas, in place. */
    kc_status (*sum)(kc_strategy *s, float *buf, int64_t n, kc_error *err);
    /* Sum the gradients of vars over the replicas, in place, in fused
     * buckets; grads[i] may be NULL (no gradient here) and becomes a new
     * tensor when another replica had one. */
    kc_status (*sum_gradients)(kc_strategy *s, kc_tensor **grads, kc_variable *const *vars, int n,
                               kc_error *err);
    /* The same, sent while the backward pass runs: begin before it (vars:
     * what the gradients are of), ready as it finishes each gradient (any
     * order; the ones never told have no gradient here), end after it
     * with the sums in grads (new tensors). end(ok = false), after a
     * failure, only waits for what was sent. */
    kc__grad_stream *(*grads_begin)(kc_strategy *s, kc_variable *const *vars, int n, kc_error *err);
    void (*grads_ready)(kc__grad_stream *g, int i, const kc_tensor *grad);
    kc_status (*grads_end)(kc__grad_stream *g, bool ok, kc_tensor **grads, kc_error *err);
    /* Make every replica's model equal to the chief's: build it (input
     * shapes of x), then copy weights, optimizer state and the global
     * random generator (shuffling) from the chief. */
    kc_status (*replicate)(kc_strategy *s, kc_object *model, kc_tensor *const *x, int n_x, kc_error *err);
    /* Check that every replica has the same values[0..n) (names[i] for
     * the message). */
    kc_status (*check_same)(kc_strategy *s, const int64_t *values, const char *const *names, int n,
                            kc_error *err);
    /* Save a checkpoint: collectively with parallel HDF5, else on the
     * chief; every replica returns the same status. */
    kc_status (*save)(kc_strategy *s, kc_object *model, const char *path, bool weights_only, kc_error *err);
} kc__replica_ops;

/* The head of every strategy (an implementation embeds it first). */
struct kc_strategy {
    const kc__replica_ops *ops;
    int rank; /* this replica; 0 is the chief */
    int size; /* replicas */
};

/* fit and evaluate on the replicas of st (NULL: this process alone, as
 * kc_model_fit and kc_model_evaluate). */
kc_status kc__model_fit(kc_object *model, const kc_fit_args *a, kc_strategy *st, kc_history **history, kc_error *err);
kc_status kc__model_evaluate(kc_object *model, const kc_fit_args *a, kc_strategy *st, kc_logs **logs, kc_error *err);

/* This replica's share of a batch of `count` samples: rows [*offset,
 * *offset + *n) of it (near-equal shares, the first replicas one more). */
void kc__replica_shard(const kc_strategy *s, int64_t count, int64_t *offset, int64_t *n);
static inline bool kc__replica_is_chief(const kc_strategy *s) { return !s || s->rank == 0; }

/* The end of a distributed operation: agree on its status (see agree). */
kc_status kc__replica_finish(kc_strategy *s, kc_status local, kc_error *err);

/* One step of a data-parallel fit or evaluation on this replica's share
 * (local_rows of global_rows samples): begin saves the streaming metric
 * states and starts them from zero, and makes the step's layers and
 * gradients collective; end sums what the metrics added over the replicas
 * onto the saved states, so that every replica then holds (and logs) the
 * global metrics. end must follow begin, also after a failure. */
typedef struct kc__replica_step kc__replica_step;
kc__replica_step *kc__replica_step_begin(kc_strategy *s, kc_object *model, int64_t local_rows, int64_t global_rows,
                                         kc_error *err);
kc_status kc__replica_step_end(kc__replica_step *st, kc_status rc, kc_logs *logs, kc_error *err);

/* The gradients of a train step: of loss with respect to vars (src are
 * their values) from tape. Inside a data-parallel step, this replica
 * differentiates its share of the global loss and the gradients are summed
 * over the replicas, bucket by bucket while the backward pass runs;
 * outside one, kc_tape_gradient. */
kc_status kc__replica_gradients(kc_tape *tape, kc_tensor *loss, kc_tensor *const *src, kc_variable *const *vars,
                                int n, kc_tensor **grads, kc_error *err);

#endif /* CKERAS_REPLICA_H */
