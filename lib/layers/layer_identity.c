/* Identity (keras.layers.Identity): returns its inputs, one or several,
 * unchanged, and their masks. No config keys of its own. (Not to be
 * confused with the Identity initializer, a different kind.) */
#include "layer_util.h"

static kc_status identity_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                kc_error *err)
{
    (void)self, (void)err;
    for (int i = 0; i < n_in; i++) out[i] = in[i];
    *n_out = n_in;
    return KC_OK;
}

static kc_status identity_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    (void)self, (void)n_out, (void)err;
    for (int i = 0; i < a->n_inputs; i++) out[i] = kc_tensor_ref(a->inputs[i]);
    return KC_OK;
}

static kc_status identity_mask(kc_object *self, const kc_call_args *a, kc_tensor *const *out, int n_out,
                               kc_tensor **out_masks, kc_error *err)
{
    (void)self, (void)out, (void)err;
    for (int i = 0; i < n_out; i++) out_masks[i] = a->masks ? kc_tensor_ref(a->masks[i]) : NULL;
    return KC_OK;
}

static kc_status identity_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static const kc_layer_methods identity_methods = {
    .min_inputs = 1,
    .max_inputs = KC_MAX_LAYER_OUTPUTS,
    .call = identity_call,
    .compute_output_shape = identity_shape,
    .compute_mask = identity_mask,
};

KC__LAYER_CLASS(kc__identity_layer_class, "Identity", kc_layer, identity_init, NULL, NULL, NULL, &identity_methods);
