/* Custom gradients (tf.custom_gradient): an op given by a forward and a
 * backward function.
 *
 * The forward function runs with recording paused, so the ops it uses leave
 * no trace; the call is then recorded as one KC__OP_CUSTOM node. Several
 * tapes may record the same call, so the (op, ctx) pair lives in a small
 * reference-counted holder and ctx_free runs when the last tape lets go. */
#include "autodiff_int.h"

struct kc__custom_ref {
    atomic_long refcount;
    const kc_custom_op *op;
    void *ctx;
};

void kc__custom_ref_retain(kc__custom_ref *r)
{
    atomic_fetch_add_explicit(&r->refcount, 1, memory_order_relaxed);
}

void kc__custom_ref_release(kc__custom_ref *r)
{
    if (!r || atomic_fetch_sub_explicit(&r->refcount, 1, memory_order_acq_rel) != 1) return;
    if (r->op->ctx_free) r->op->ctx_free(r->ctx);
    kc__free(r);
}

kc_status kc__custom_backward(const kc__node *node, kc_tensor *const *grad_out, const bool *needs,
                              kc_tensor **grad_in, kc_error *err)
{
    const kc__custom_ref *r = node->custom;
    kc_status rc = r->op->backward(r->ctx, node->in, node->n_in, node->out, node->n_out, grad_out,
                                   needs, grad_in, err);
    if (rc != KC_OK) {
        kc__error_context(err, "custom op '%s'", r->op->name ? r->op->name : "?");
        return rc;
    }
    for (int i = 0; i < node->n_in; i++) {
        if (grad_in[i] && grad_in[i]->dtype != KC_FLOAT32)
            return kc__errf(err, KC_ETYPE, "custom op '%s' returned a %s gradient for input %d",
                            r->op->name ? r->op->name : "?", kc_dtype_name(grad_in[i]->dtype), i);
        if (grad_in[i] && !kc_tensor_same_shape(grad_in[i], node->in[i])) {
            char a[160], b[160];
            return kc__errf(err, KC_ESHAPE,
                            "custom op '%s' returned a gradient of shape %s for input %d of shape %s",
                            r->op->name ? r->op->name : "?",
                            kc__dims_format(grad_in[i]->ndim, grad_in[i]->dims, a, sizeof(a)), i,
                            kc__dims_format(node->in[i]->ndim, node->in[i]->dims, b, sizeof(b)));
        }
    }
    return KC_OK;
}

kc_status kc_custom_call(const kc_custom_op *op, void *ctx, kc_tensor *const *inputs,
                         int n_inputs, kc_tensor **outputs, int n_outputs, kc_error *err)
{
    if (outputs)
        for (int j = 0; j < n_outputs; j++) outputs[j] = NULL;
    if (!op || !op->forward || !op->backward || n_inputs < 0 || n_outputs < 1 || !outputs ||
        (n_inputs && !inputs)) {
        if (op && op->ctx_free) op->ctx_free(ctx);
        return kc__errf(err, KC_EINVAL, "kc_custom_call: bad op definition or arguments");
    }
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]) {
            if (op->ctx_free) op->ctx_free(ctx);
            return kc__errf(err, KC_EINVAL, "custom op '%s': input %d is NULL",
                            op->name ? op->name : "?", i);
        }
    }
    kc__recording_pause();
    kc_status rc = op->forward(ctx, inputs, n_inputs, outputs, n_outputs, err);
    kc__recording_resume();
    for (int j = 0; rc == KC_OK && j < n_outputs; j++)
        if (!outputs[j])
            rc = kc__errf(err, KC_EINVAL, "custom op '%s' produced no output %d",
                          op->name ? op->name : "?", j);
    if (rc != KC_OK) {
        kc__error_context(err, "custom op '%s'", op->name ? op->name : "?");
        goto fail;
    }
    if (kc__recording()) {
        kc__custom_ref *r = kc__calloc(1, sizeof(*r));
        if (!r) {
            rc = kc__errf(err, KC_ENOMEM, "out of memory recording custom op");
            goto fail;
        }
        atomic_init(&r->refcount, 1);
        r->op = op;
        r->ctx = ctx;
        rc = kc__record(KC__OP_CUSTOM, inputs, n_inputs, outputs, n_outputs, NULL, NULL, 0, r,
                        err);
        kc__custom_ref_release(r); /* tapes hold their own references */
        if (rc != KC_OK) {
            for (int j = 0; j < n_outputs; j++) {
                kc_tensor_unref(outputs[j]);
                outputs[j] = NULL;
            }
        }
        return rc;
    }
    if (op->ctx_free) op->ctx_free(ctx);
    return KC_OK;
fail:
    for (int j = 0; j < n_outputs; j++) {
        kc_tensor_unref(outputs[j]);
        outputs[j] = NULL;
    }
    if (op->ctx_free) op->ctx_free(ctx);
    return rc;
}

kc_tensor *kc_custom_call1(const kc_custom_op *op, void *ctx, kc_tensor *const *inputs,
                           int n_inputs, kc_error *err)
{
    kc_tensor *out = NULL;
    if (kc_custom_call(op, ctx, inputs, n_inputs, &out, 1, err) != KC_OK) return NULL;
    return out;
}
