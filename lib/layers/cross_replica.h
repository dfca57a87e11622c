/* ckeras private: sums over the replicas of a data-parallel training step,
 * for layers whose training-time statistics span the whole batch
 * (BatchNormalization). A distributed step (lib/training/replica.c) enters
 * a context on its thread; outside one, layers compute on their own batch
 * as always. Layers know nothing of how replicas are reached. */
#ifndef CKERAS_CROSS_REPLICA_H
#define CKERAS_CROSS_REPLICA_H

#include "../core/internal.h"

typedef struct kc__cross_replica {
    /* Collective: sum buf[0..n) over the replicas, in place. */
    kc_status (*sum)(void *ctx, float *buf, int64_t n, kc_error *err);
    void *ctx;
    int64_t local_rows;  /* samples of this replica's share of the batch */
    int64_t global_rows; /* samples of the whole batch */
} kc__cross_replica;

/* Make cr (NULL: none) this thread's context; returns the previous one.
 * cr must outlive the tapes recorded while it is entered. */
const kc__cross_replica *kc__cross_replica_enter(const kc__cross_replica *cr);
/* This thread's context, or NULL. */
const kc__cross_replica *kc__cross_replica_current(void);
/* Sum t over the replicas of the current context, differentiably (the
 * gradient is summed the same way). Returns: new reference, or NULL. */
kc_tensor *kc__cross_replica_sum(kc_tensor *t, kc_error *err);

#endif /* CKERAS_CROSS_REPLICA_H */
