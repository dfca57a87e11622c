/* Rescaling: y = x * scale + offset, in training and inference alike.
 *
 * Config keys: scale (required) and offset (default 0.0), each a number or
 * an array (a per-channel list such as [1/127.5, 1/127.5, 1/127.5], or
 * Keras 3's serialized numpy array) that broadcasts against the input the
 * way numpy does, which for a list is along the last axis (Keras uses its
 * global image_data_format for the channel axis; ckeras' is
 * channels_last). Both are written back exactly as read. The result must
 * keep the input's shape: an array that would broadcast the input to a
 * bigger shape is KC_ESHAPE.
 *
 * Keras computes in float32: the scale and offset are cast to float32
 * first, then one multiply and one add per value, which is what the two
 * ops below do (and the tape differentiates). */
#include "preproc_int.h"

typedef struct rescaling {
    kc_layer base;
    json_t *scale_raw, *offset_raw; /* as written in the config */
    kc_tensor *scale, *offset;      /* float32, rank 0 for numbers */
} rescaling;

static kc_status rescaling_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static void rescaling_fini(kc_object *self)
{
    rescaling *r = (rescaling *)self;
    json_decref(r->scale_raw);
    json_decref(r->offset_raw);
    kc_tensor_unref(r->scale);
    kc_tensor_unref(r->offset);
}

static kc_status rescaling_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                       kc_error *err)
{
    rescaling *r = (rescaling *)self;
    kc_status rc = kc__cfg_array(ctx, cfg, "scale", true, &r->scale_raw, &r->scale, err);
    if (rc == KC_OK) rc = kc__cfg_array(ctx, cfg, "offset", false, &r->offset_raw, &r->offset, err);
    if (rc == KC_OK && !r->offset) {
        r->offset_raw = json_real(0.0);
        r->offset = kc_tensor_scalar(0.0f, err);
        if (!r->offset_raw || !r->offset) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    }
    return rc;
}

static kc_status rescaling_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const rescaling *r = (const rescaling *)self;
    kc_status rc = kc__cfg_set_raw(cfg, "scale", r->scale_raw, err);
    return rc == KC_OK ? kc__cfg_set_raw(cfg, "offset", r->offset_raw, err) : rc;
}

/* An array broadcasts onto the input without changing its shape. */
static bool keeps_shape(const kc_tensor *a, const kc_shape *in)
{
    int nd = kc_tensor_ndim(a);
    if (nd > in->ndim) return false;
    for (int i = 0; i < nd; i++) {
        int64_t d = kc_tensor_dim(a, nd - 1 - i), x = in->dims[in->ndim - 1 - i];
        if (d != 1 && x >= 0 && d != x) return false; /* unknown sizes are checked when known */
    }
    return true;
}

static kc_status rescaling_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                        kc_shape *out, int *n_out, kc_error *err)
{
    const rescaling *r = (const rescaling *)self;
    bool scale_ok = keeps_shape(r->scale, &in[0]);
    if (!scale_ok || !keeps_shape(r->offset, &in[0])) {
        char a[160], b[160];
        kc_shape s = kc_tensor_shape(scale_ok ? r->offset : r->scale);
        return kc__errf(err, KC_ESHAPE,
                        "Rescaling %s of shape %s does not broadcast onto inputs of shape %s",
                        scale_ok ? "offset" : "scale", kc_shape_format(&s, a, sizeof(a)),
                        kc_shape_format(&in[0], b, sizeof(b)));
    }
    return kc__same_shape(self, in, n_in, out, n_out, err);
}

static kc_status rescaling_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                                kc_error *err)
{
    (void)n_out;
    rescaling *r = (rescaling *)self;
    kc_tensor *x = a->inputs[0];
    kc_tensor *cast = kc_tensor_dtype(x) == KC_FLOAT32 ? kc_tensor_ref(x) : kc_cast(x, KC_FLOAT32, err);
    kc_tensor *scaled = cast ? kc_mul(cast, r->scale, err) : NULL;
    out[0] = scaled ? kc_add(scaled, r->offset, err) : NULL;
    kc_tensor_unref(cast);
    kc_tensor_unref(scaled);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods rescaling_methods = {
    .call = rescaling_call,
    .compute_output_shape = rescaling_output_shape,
};

KC__LAYER_CLASS(kc__rescaling_class, "Rescaling", rescaling, rescaling_init, rescaling_fini,
                rescaling_get_config, rescaling_from_config, &rescaling_methods);
