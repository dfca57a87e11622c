/* Sums over replicas as a differentiable op: the forward pass sums a
 * tensor over the replicas of a data-parallel step, the backward pass sums
 * the incoming gradients the same way. That is the whole calculus of a
 * synchronized statistic: when every replica differentiates its share of
 * the global loss (lib/training/replica.c seeds the gradient with that
 * share), the gradient reaching a replica's input of the sum is the sum of
 * what every replica's loss share sends back through the sum's output. */
#include "cross_replica.h"

#include <ckeras/autodiff.h>

#include <string.h>

static _Thread_local const kc__cross_replica *current;

const kc__cross_replica *kc__cross_replica_enter(const kc__cross_replica *cr)
{
    const kc__cross_replica *prev = current;
    current = cr;
    return prev;
}

const kc__cross_replica *kc__cross_replica_current(void) { return current; }

/* A contiguous float32 copy of t, summed over the replicas. */
static kc_status summed_copy(const kc__cross_replica *cr, kc_tensor *t, kc_tensor **out, kc_error *err)
{
    *out = kc_tensor_copy(t, err);
    if (!*out) return kc__error_code(err, KC_ENOMEM);
    kc_status rc = cr->sum(cr->ctx, kc_tensor_f32(*out), kc_tensor_size(*out), err);
    if (rc != KC_OK) {
        kc_tensor_unref(*out);
        *out = NULL;
    }
    return rc;
}

static kc_status sum_forward(void *ctx, kc_tensor *const *inputs, int n_inputs, kc_tensor **outputs,
                             int n_outputs, kc_error *err)
{
    (void)n_inputs, (void)n_outputs;
    return summed_copy(ctx, inputs[0], &outputs[0], err);
}

static kc_status sum_backward(void *ctx, kc_tensor *const *inputs, int n_inputs, kc_tensor *const *outputs,
                              int n_outputs, kc_tensor *const *grad_outputs, const bool *needs,
                              kc_tensor **grad_inputs, kc_error *err)
{
    (void)inputs, (void)n_inputs, (void)outputs, (void)n_outputs;
    /* Collective even when this replica needs no input gradient: every
     * replica must take part in the same sums in the same order. */
    kc_tensor *g = NULL;
    kc_status rc = summed_copy(ctx, grad_outputs[0], &g, err);
    if (rc == KC_OK && needs[0]) grad_inputs[0] = g;
    else kc_tensor_unref(g);
    return rc;
}

static const kc_custom_op cross_replica_sum_op = {
    .name = "cross_replica_sum",
    .forward = sum_forward,
    .backward = sum_backward,
};

kc_tensor *kc__cross_replica_sum(kc_tensor *t, kc_error *err)
{
    if (!current) return kc_tensor_ref(t);
    if (kc_tensor_dtype(t) != KC_FLOAT32) {
        kc__errf(err, KC_ETYPE, "a cross-replica sum needs float32 values");
        return NULL;
    }
    return kc_custom_call1(&cross_replica_sum_op, (void *)current, &t, 1, err);
}
