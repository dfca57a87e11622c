/* ckeras private: the MPI strategy. lib/distributed is the only code that
 * calls MPI; it implements training's kc__replica_ops (lib/training/
 * replica.h) and the public building blocks of <ckeras/distributed.h>. */
#ifndef CKERAS_DISTRIBUTED_INT_H
#define CKERAS_DISTRIBUTED_INT_H

#include "../training/replica.h"

#include <ckeras/distributed.h>

#include <mpi.h>

typedef struct kc__mpi_strategy {
    struct kc_strategy base; /* must stay first */
    MPI_Comm comm;           /* owned duplicate, errors returned (not fatal) */
    bool failing;            /* a collective saw a failure: the error exchange comes next */
    bool agreed;             /* the last thing done was agreeing on a failure: the caller's
                                unwinding may ask again (it is the same failure) */
    int64_t bucket_bytes;    /* gradient fusion size */
    kc_strategy_stats stats;
} kc__mpi_strategy;

static inline kc__mpi_strategy *kc__mpi(kc_strategy *s) { return (kc__mpi_strategy *)s; }

/* agreement.c: the status protocol. Every collective operation begins with
 * kc__dist_enter(n): a tiny all-reduce of {failed, stop, n, -n}. KC_OK
 * means every process is healthy and about to send a payload of n elements,
 * which may follow; otherwise the process must unwind and end with
 * kc__dist_agree, which sends the failing process's error to all. */
kc_status kc__dist_enter(kc__mpi_strategy *m, int64_t n, kc_error *err);
kc_status kc__dist_agree(kc_strategy *s, kc_status local, bool *stop, kc_error *err);
/* An MPI call's failure as a kc_error (MPI's own text included). */
kc_status kc__dist_mpi_failed(int mpi_rc, const char *what, kc_error *err);
double kc__dist_now(void);

/* collectives.c */
kc_status kc__dist_sum(kc_strategy *s, float *buf, int64_t n, kc_error *err);
/* The same without the header (the caller entered). */
kc_status kc__dist_allreduce_floats(kc__mpi_strategy *m, float *buf, int64_t n, kc_error *err);
kc_status kc__dist_broadcast(kc__mpi_strategy *m, void *buf, int64_t bytes, kc_error *err);
kc_status kc__dist_check_same(kc_strategy *s, const int64_t *values, const char *const *names, int n, kc_error *err);

/* gradients.c: the gradient operations of kc__replica_ops */
kc__grad_stream *kc__dist_grads_begin(kc_strategy *s, kc_variable *const *vars, int n, kc_error *err);
void kc__dist_grads_ready(kc__grad_stream *g, int i, const kc_tensor *grad);
kc_status kc__dist_grads_end(kc__grad_stream *g, bool ok, kc_tensor **grads, kc_error *err);
kc_status kc__dist_sum_gradients(kc_strategy *s, kc_tensor **grads, kc_variable *const *vars, int n, kc_error *err);

/* replicate.c */
kc_status kc__dist_replicate(kc_strategy *s, kc_object *model, kc_tensor *const *x, int n_x, kc_error *err);

/* checkpoint.c */
kc_status kc__dist_save(kc_strategy *s, kc_object *model, const char *path, bool weights_only, kc_error *err);
/* h5_mpio.c (parallel HDF5 builds): every process writes the file. */
kc_status kc__dist_save_collective(kc__mpi_strategy *m, kc_object *model, const char *path, bool weights_only,
                                   const kc_save_options *opts, kc_error *err);

#endif /* CKERAS_DISTRIBUTED_INT_H */
