/* InputLayer: where a model's inputs enter (keras.Input creates one).
 * Config (Keras 2): {"batch_input_shape", "dtype", "sparse", "ragged",
 * "name"} -- no "trainable"; Keras 3's "batch_shape" is read too. In a
 * model's forward pass it passes its input through, after checking that
 * the input fits the declared shape (all but the batch size). */
#include "../models/models_int.h"

#include <string.h>

kc_shape kc__input_layer_shape(const kc_object *input_layer)
{
    const kc_layer *l = kc__as_layer(input_layer);
    return l->has_batch_input_shape ? l->batch_input_shape : kc_shape_make(1, (int64_t[]){-1});
}

static kc_status input_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    (void)self;
    json_object_del(cfg, "trainable");
    if (!json_object_get(cfg, "batch_input_shape")) {
        kc_shape s = kc__input_layer_shape(self);
        if (json_object_set_new(cfg, "batch_input_shape", kc__shape_to_json(&s)))
            return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    if (json_object_set_new(cfg, "sparse", json_false()) ||
        json_object_set_new(cfg, "ragged", json_false()))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status input_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                   kc_error *err)
{
    bool sparse = false, ragged = false;
    kc_status rc = kc_cfg_bool(ctx, cfg, "sparse", KC_CFG_NULLABLE, false, &sparse, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "ragged", KC_CFG_NULLABLE, false, &ragged, err);
    if (rc == KC_OK && (sparse || ragged))
        rc = kc__errf(err, KC_EUNSUPPORTED, "%s: sparse and ragged inputs are not supported", ctx->path);
    if (rc == KC_OK && !kc__as_layer(self)->has_batch_input_shape)
        rc = kc__errf(err, KC_EFORMAT, "%s: an InputLayer needs batch_input_shape (or batch_shape)",
                      ctx->path);
    if (rc != KC_OK) kc__error_context(err, "%s", ctx->path);
    return rc;
}

static kc_status input_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                             int *n_out, kc_error *err)
{
    (void)n_in;
    kc_shape want = kc__input_layer_shape(self);
    bool ok = in[0].ndim == want.ndim;
    /* The batch size is not checked: a model's input_spec drops it (Keras
     * 2 and 3 functional.py, shape_with_no_batch_size), so a model saved
     * with a fixed batch -- input_shape=(BATCH, 256, 256, 3), as a popular
     * tutorial has it -- predicts on any batch in Keras. */
    for (int i = 1; ok && i < want.ndim; i++)
        ok = want.dims[i] < 0 || in[0].dims[i] < 0 || want.dims[i] == in[0].dims[i];
    if (!ok) {
        char a[160], b[160];
        return kc__errf(err, KC_ESHAPE, "input of shape %s does not fit the declared shape %s",
                        kc_shape_format(&in[0], a, sizeof(a)), kc_shape_format(&want, b, sizeof(b)));
    }
    out[0] = in[0];
    for (int i = 0; i < want.ndim; i++)
        if (out[0].dims[i] < 0) out[0].dims[i] = want.dims[i];
    *n_out = 1;
    return KC_OK;
}

static kc_status input_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                            kc_error *err)
{
    (void)self, (void)n_out, (void)err;
    out[0] = kc_tensor_ref(a->inputs[0]);
    return KC_OK;
}

static kc_status input_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static const kc_layer_methods input_methods = {
    .call = input_call,
    .compute_output_shape = input_shape,
};

const kc_class kc__input_layer_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LAYER,
    .name = "InputLayer",
    .size = sizeof(kc_layer),
    .config_version = 1,
    .init = input_init,
    .get_config = input_get_config,
    .from_config = input_from_config,
    .methods = &input_methods,
};

kc_object *kc_input_layer(int ndim, const int64_t *shape, const char *name, kc_error *err)
{
    if (ndim < 0 || ndim >= KC_MAX_DIMS || (ndim && !shape)) {
        kc__errf(err, KC_EINVAL, "kc_input_layer: a shape of rank 0 to %d is needed", KC_MAX_DIMS - 1);
        return NULL;
    }
    kc_object *layer = kc_object_new(&kc__input_layer_class, err);
    if (!layer) return NULL;
    kc_layer *l = kc__as_layer(layer);
    l->has_batch_input_shape = true;
    l->batch_input_shape.ndim = ndim + 1;
    l->batch_input_shape.dims[0] = -1;
    for (int i = 0; i < ndim; i++) l->batch_input_shape.dims[i + 1] = shape[i] < 0 ? -1 : shape[i];
    kc_status rc = name ? kc__layer_set_name(layer, name, err) : kc__layer_ensure_name(layer, err);
    if (rc != KC_OK) {
        kc_object_unref(layer);
        return NULL;
    }
    return layer;
}
