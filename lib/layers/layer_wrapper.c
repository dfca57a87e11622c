/* Layers inside layers: an RNN's cell, Bidirectional's two RNNs,
 * TimeDistributed's layer.
 *
 * Keras lists a wrapped layer's weights as the wrapper's own and names them
 * under the wrapper's scope (lstm/lstm_cell/kernel:0,
 * bidirectional/forward_lstm/lstm_cell/kernel:0, time_distributed/kernel:0),
 * and the .h5 file stores them in the wrapper's group. Only models have
 * sub-layers in ckeras' weight lists, so a wrapper builds its inner layer
 * into itself: for the duration of the build the inner layer holds the
 * owner's weight list and its name is the scope, so that every
 * kc_layer_add_weight the inner class makes lands, correctly named, in the
 * owner's list (trainable first, regularizers and constraints included),
 * while the inner layer keeps its usual borrowed pointers to them. The
 * rest of the inner layer's state (its build shapes, call losses) stays
 * its own. Nesting composes: an RNN built inside a Bidirectional builds
 * its cell into the Bidirectional. */
#include "rnn_int.h"

#include <string.h>

char *kc__scope_join(const kc_object *owner, const char *name, kc_error *err)
{
    const char *on = kc_layer_name(owner);
    size_t n = strlen(on) + strlen(name) + 2;
    char *s = kc__malloc(n);
    if (!s) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(s, n, "%s/%s", on, name);
    return s;
}

/* Exchange the weight lists of two layer states. */
static void swap_weights(kc__layer_state *a, kc__layer_state *b)
{
    kc__layer_state t = *a;
    a->w = b->w, a->w_reg = b->w_reg, a->w_trainable = b->w_trainable, a->n_w = b->n_w, a->cap_w = b->cap_w;
    b->w = t.w, b->w_reg = t.w_reg, b->w_trainable = t.w_trainable, b->n_w = t.n_w, b->cap_w = t.cap_w;
}

kc_status kc__layer_build_nested(kc_object *inner, kc_object *owner, const char *scope, const kc_shape *in,
                                 int n_in, kc_error *err)
{
    kc_layer *l = kc__as_layer(inner), *o = kc__as_layer(owner);
    if (l->built) return KC_OK;
    kc_status rc = kc__layer_ensure_name(inner, err);
    char *scoped = rc == KC_OK ? kc__strdup(scope) : NULL;
    if (!scoped) return rc != KC_OK ? rc : kc__errf(err, KC_ENOMEM, "out of memory");
    char *name = l->name;
    bool trainable = l->trainable;
    l->name = scoped;
    l->trainable = o->trainable;
    swap_weights(l->state, o->state);
    rc = kc_layer_build(inner, in, n_in, err);
    swap_weights(l->state, o->state);
    kc__layers_changed(); /* weight lists cached during the build are stale */
    l->name = name;
    l->trainable = trainable;
    kc__free(scoped);
    return rc;
}

kc_status kc__layer_call_nested(kc_object *inner, kc_object *owner, kc_tensor *const *inputs, int n_inputs,
                                kc_tensor *const *masks, bool training, kc_tensor **out, kc_tensor **out_masks,
                                int *n_out, kc_error *err)
{
    kc_layer_clear_call_losses(inner);
    kc__as_layer(inner)->trainable = kc__as_layer(owner)->trainable;
    kc_status rc = kc_layer_call(inner, inputs, n_inputs, masks, training, out, out_masks, n_out, err);
    for (int i = 0; rc == KC_OK && i < kc_layer_num_losses(inner); i++)
        rc = kc_layer_add_loss(owner, kc_layer_loss(inner, i), err);
    for (int i = 0; rc == KC_OK && i < kc_layer_num_metric_values(inner); i++) {
        const char *name = NULL;
        kc_tensor *v = kc_layer_metric_value(inner, i, &name);
        rc = kc_layer_add_metric(owner, v, name, err);
    }
    if (rc != KC_OK && *n_out) {
        for (int i = 0; i < *n_out; i++) {
            kc_tensor_unref(out[i]);
            out[i] = NULL;
            if (out_masks) {
                kc_tensor_unref(out_masks[i]);
                out_masks[i] = NULL;
            }
        }
        *n_out = 0;
    }
    return rc;
}
