/* Dense: activation(x @ kernel + bias), kernel (in, units), bias (units,).
 * Keras config keys: units, activation, use_bias, kernel_initializer,
 * bias_initializer, kernel_regularizer, bias_regularizer,
 * activity_regularizer, kernel_constraint, bias_constraint. Inputs of rank
 * > 2 multiply along their last axis (one GEMM over all leading axes). */
#include "layer_infer.h"

typedef struct dense {
    kc_layer base;
    int64_t units;
    bool use_bias;
    kc_object *activation;
    kc_object *kernel_initializer, *bias_initializer;
    kc_object *kernel_regularizer, *bias_regularizer;
    kc_object *kernel_constraint, *bias_constraint;
    kc_variable *kernel, *bias; /* borrowed: owned by the layer base */
} dense;

static kc_status dense_init(kc_object *self, kc_error *err)
{
    (void)err;
    dense *d = (dense *)self;
    d->base.supports_masking = true;
    d->use_bias = true;
    return KC_OK;
}

static void dense_fini(kc_object *self)
{
    dense *d = (dense *)self;
    kc_object_unref(d->activation);
    kc_object_unref(d->kernel_initializer);
    kc_object_unref(d->bias_initializer);
    kc_object_unref(d->kernel_regularizer);
    kc_object_unref(d->bias_regularizer);
    kc_object_unref(d->kernel_constraint);
    kc_object_unref(d->bias_constraint);
}

static kc_status dense_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const dense *d = (const dense *)self;
    kc_status rc = KC_OK;
    if (json_object_set_new(cfg, "units", json_integer(d->units)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    rc = kc_cfg_set_object(cfg, "activation", d->activation, err);
    if (rc == KC_OK && json_object_set_new(cfg, "use_bias", json_boolean(d->use_bias)))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_initializer", d->kernel_initializer, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_initializer", d->bias_initializer, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_regularizer", d->kernel_regularizer, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_regularizer", d->bias_regularizer, err);
    if (rc == KC_OK) rc = kc__layer_write_activity_regularizer(self, cfg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_constraint", d->kernel_constraint, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_constraint", d->bias_constraint, err);
    return rc;
}

static kc_status dense_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                   kc_error *err)
{
    dense *d = (dense *)self;
    kc_status rc = kc_cfg_int(ctx, cfg, "units", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &d->units, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "activation", KC_KIND_ACTIVATION, "linear", &d->activation, err);
    if (rc == KC_OK && !d->activation) rc = kc_cfg_object(ctx, json_null(), "activation", KC_KIND_ACTIVATION, "linear", &d->activation, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "use_bias", 0, true, &d->use_bias, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "kernel_initializer", KC_KIND_INITIALIZER, "glorot_uniform", &d->kernel_initializer, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_initializer", KC_KIND_INITIALIZER, "zeros", &d->bias_initializer, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "kernel_regularizer", KC_KIND_REGULARIZER, NULL, &d->kernel_regularizer, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_regularizer", KC_KIND_REGULARIZER, NULL, &d->bias_regularizer, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "kernel_constraint", KC_KIND_CONSTRAINT, NULL, &d->kernel_constraint, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_constraint", KC_KIND_CONSTRAINT, NULL, &d->bias_constraint, err);
    return rc;
}

static kc_status dense_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                    int *n_out, kc_error *err)
{
    (void)n_in;
    const dense *d = (const dense *)self;
    if (in[0].ndim < 2)
        return kc__errf(err, KC_ESHAPE, "Dense needs inputs of rank >= 2 (batch, ..., features)");
    int64_t last = in[0].dims[in[0].ndim - 1];
    if (last < 0) return kc__errf(err, KC_ESHAPE, "the last dimension of Dense inputs must be known");
    if (d->kernel) {
        int64_t rows = kc_tensor_dim(kc_variable_value(d->kernel), 0);
        if (last != rows)
            return kc__errf(err, KC_ESHAPE, "Dense expects %lld input features (its kernel is (%lld, %lld)), got %lld",
                            (long long)rows, (long long)rows, (long long)d->units, (long long)last);
    }
    out[0] = in[0];
    out[0].dims[in[0].ndim - 1] = d->units;
    *n_out = 1;
    return KC_OK;
}

static kc_status dense_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    dense *d = (dense *)self;
    int64_t kdims[2] = {in[0].dims[in[0].ndim - 1], d->units};
    d->kernel = kc_layer_add_weight(self, "kernel", 2, kdims, d->kernel_initializer, d->kernel_regularizer,
                                    d->kernel_constraint, true, err);
    if (!d->kernel) return kc__error_code(err, KC_ENOMEM);
    if (d->use_bias) {
        d->bias = kc_layer_add_weight(self, "bias", 1, &d->units, d->bias_initializer, d->bias_regularizer,
                                      d->bias_constraint, true, err);
        if (!d->bias) return kc__error_code(err, KC_ENOMEM);
    }
    return KC_OK;
}

static kc_status dense_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                            kc_error *err)
{
    (void)n_out;
    dense *d = (dense *)self;
    kc_tensor *z = kc_matmul(a->inputs[0], kc_variable_value(d->kernel), false, false, err);
    if (z && d->bias) {
        kc_tensor *zb = kc_add(z, kc_variable_value(d->bias), err);
        kc_tensor_unref(z);
        z = zb;
    }
    if (!z) return kc__error_code(err, KC_ENOMEM);
    out[0] = kc_activation_call(d->activation, z, err);
    kc_tensor_unref(z);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods dense_methods = {
    .build = dense_build,
    .call = dense_call,
    .compute_output_shape = dense_output_shape,
};

const kc_class kc__dense_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LAYER,
    .name = "Dense",
    .size = sizeof(dense),
    .config_version = 1,
    .init = dense_init,
    .fini = dense_fini,
    .get_config = dense_get_config,
    .from_config = dense_from_config,
    .methods = &dense_methods,
};

void kc__dense_describe(const kc_object *self, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    const dense *d = (const dense *)self;
    if (n_in != 1 || !d->kernel || in[0].ndim < 2) return;
    kc__layer_infer t = *out;
    if (!kc__describe_activation(d->activation, &t)) return;
    t.kind = KC__LI_DENSE;
    t.kernel = d->kernel;
    t.bias = d->bias;
    *out = t;
}
