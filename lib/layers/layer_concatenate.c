/* Concatenate(axis=-1): joins its inputs (at least one) along axis.
 *
 * Inputs have the same rank and the same sizes except on the axis (unknown
 * sizes match anything, as Keras' build check skips None); the output's
 * axis size is the sum, unknown if any input's is. The other sizes are the
 * known ones among the inputs (Keras copies the first input's, which may be
 * None where a later input knows the size).
 *
 * Masks (Keras' Concatenate.compute_mask): if any input has a mask, each
 * input contributes a mask shaped like itself -- all true when it has none,
 * its mask with a trailing axis added (and broadcast to the input's shape)
 * when the mask has one axis less -- these are concatenated along axis, and
 * the output mask is "all true over the last axis": masks (batch, time)
 * over (batch, time, features) joined on the features give the AND of the
 * masks per timestep, joined on time the masks one after the other.
 * tf.keras 2.15 does not broadcast, so it fails to join on time unless the
 * inputs have one feature; Keras 3 broadcasts but then takes any(), which
 * turns the AND into an OR. We broadcast (Keras 3) and take all() (tf.keras
 * 2.15, and what the brief of this layer asks): where tf.keras 2.15 gives a
 * result, it is the same. */
#include "layer_infer.h"
#include "layer_util.h"

#include <ckeras/ops.h>

typedef struct concatenate {
    kc_layer base;
    int64_t axis; /* may be negative */
} concatenate;

static kc_status concatenate_init(kc_object *self, kc_error *err)
{
    (void)err;
    ((concatenate *)self)->axis = -1;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static kc_status concatenate_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    if (json_object_set_new(cfg, "axis",
                            json_integer((json_int_t)((const concatenate *)self)->axis)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status concatenate_from_config(kc_object *self, const json_t *cfg,
                                         const kc_config_ctx *ctx, kc_error *err)
{
    return kc_cfg_int(ctx, cfg, "axis", 0, -1, &((concatenate *)self)->axis, err);
}

/* The axis for inputs of rank ndim, or an error. */
static kc_status concat_axis(const concatenate *c, int ndim, int *axis, kc_error *err)
{
    int64_t a = c->axis < 0 ? c->axis + ndim : c->axis;
    if (a < 0 || a >= ndim)
        return kc__errf(err, KC_ESHAPE,
                        "Concatenate axis %lld is out of range for inputs of rank %d",
                        (long long)c->axis, ndim);
    *axis = (int)a;
    return KC_OK;
}

static kc_status concatenate_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                          kc_shape *out, int *n_out, kc_error *err)
{
    int axis = 0;
    kc_status rc = concat_axis((const concatenate *)self, in[0].ndim, &axis, err);
    if (rc != KC_OK) return rc;
    kc_shape o = in[0];
    for (int k = 1; k < n_in; k++) {
        bool ok = in[k].ndim == o.ndim;
        for (int i = 0; ok && i < o.ndim; i++) {
            int64_t d = in[k].dims[i];
            if (i == axis)
                o.dims[i] = o.dims[i] < 0 || d < 0 ? -1 : o.dims[i] + d;
            else if (o.dims[i] < 0)
                o.dims[i] = d;
            else
                ok = d < 0 || d == o.dims[i];
        }
        if (!ok) {
            char a[160], b[160];
            return kc__errf(err, KC_ESHAPE,
                            "Concatenate needs inputs with matching shapes except on the "
                            "concatenation axis (axis %lld): got %s and %s",
                            (long long)((const concatenate *)self)->axis,
                            kc_shape_format(&in[0], a, sizeof(a)),
                            kc_shape_format(&in[k], b, sizeof(b)));
        }
    }
    out[0] = o;
    *n_out = 1;
    return KC_OK;
}

static kc_status concatenate_call(kc_object *self, const kc_call_args *a, kc_tensor **out,
                                  int n_out, kc_error *err)
{
    (void)n_out;
    int axis = 0;
    kc_status rc = concat_axis((const concatenate *)self, kc_tensor_ndim(a->inputs[0]), &axis, err);
    if (rc != KC_OK) return rc;
    out[0] = kc_concat(a->inputs, a->n_inputs, axis, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

/* The mask input i contributes: shaped like the input, 0/1 values. */
static kc_tensor *input_mask(kc_tensor *x, kc_tensor *mask, kc_error *err)
{
    int r = kc_tensor_ndim(x);
    if (!mask) return kc_tensor_ones(KC_FLOAT32, r, kc_tensor_dims(x), err);
    kc_tensor *m = kc__mask_bool(mask, err);
    if (m && kc_tensor_ndim(m) == r - 1) {
        kc_tensor *e = kc_expand_dims(m, -1, err);
        kc_tensor_unref(m);
        m = e ? kc_broadcast_to(e, r, kc_tensor_dims(x), err) : NULL;
        kc_tensor_unref(e);
    }
    if (m && kc_tensor_ndim(m) != r) {
        char a[160], b[160];
        kc_shape ms = kc_tensor_shape(mask), xs = kc_tensor_shape(x);
        kc__errf(err, KC_ESHAPE,
                 "Concatenate cannot combine a mask of shape %s with an input of shape %s",
                 kc_shape_format(&ms, a, sizeof(a)), kc_shape_format(&xs, b, sizeof(b)));
        kc_tensor_unref(m);
        return NULL;
    }
    return m;
}

static kc_status concatenate_compute_mask(kc_object *self, const kc_call_args *a,
                                          kc_tensor *const *out, int n_out, kc_tensor **out_masks,
                                          kc_error *err)
{
    (void)out;
    (void)n_out;
    out_masks[0] = NULL;
    bool any = false;
    for (int i = 0; a->masks && i < a->n_inputs; i++)
        any |= a->masks[i] != NULL;
    if (!any) return KC_OK;
    int axis = 0;
    kc_status rc = concat_axis((const concatenate *)self, kc_tensor_ndim(a->inputs[0]), &axis, err);
    if (rc != KC_OK) return rc;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *ms[64];
    for (int i = 0; i < a->n_inputs; i++)
        ms[i] = kc_scope_take(s, input_mask(a->inputs[i], a->masks[i], err));
    kc_tensor *cat = kc_scope_take(s, kc_concat(ms, a->n_inputs, axis, err));
    out_masks[0] = kc_reduce_min(cat, (int[]){-1}, 1, false, err); /* all() of 0/1 values */
    kc_scope_free(s);
    return out_masks[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods concatenate_methods = {
    .min_inputs = 1,
    .max_inputs = 64,
    .call = concatenate_call,
    .compute_output_shape = concatenate_output_shape,
    .compute_mask = concatenate_compute_mask,
};

KC__LAYER_CLASS(kc__concatenate_class, "Concatenate", concatenate, concatenate_init, NULL,
                concatenate_get_config, concatenate_from_config, &concatenate_methods);

void kc__concatenate_describe(const kc_object *self, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    int axis = 0;
    kc_error ignore = {0};
    if (n_in < 1 || concat_axis((const concatenate *)self, in[0].ndim, &axis, &ignore) != KC_OK || axis < 1) return;
    out->kind = KC__LI_CONCAT;
    out->axis = axis;
}
