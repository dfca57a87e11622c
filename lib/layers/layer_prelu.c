/* PReLU: relu(x) - alpha * relu(-x) with a learned alpha (Keras' PReLU).
 *
 * The weight "alpha" has the input's shape without the batch axis, with
 * every axis of shared_axes (1-based, as Keras counts them with the batch
 * axis at 0) set to 1 so that alpha broadcasts along it: inputs (None, H, W,
 * C) with shared_axes [1, 2] give alpha (1, 1, C). The axes not shared must
 * have known sizes when the layer is built, and later inputs must keep them
 * (Keras' InputSpec). Config keys: alpha_initializer ("zeros"),
 * alpha_regularizer, alpha_constraint, shared_axes (null or a list; a
 * single integer is read as a one-item list, and written as a list, as
 * tf.keras stores it). */
#include "layer_util.h"

#include <ckeras/ops.h>

typedef struct prelu {
    kc_layer base;
    kc_object *alpha_initializer, *alpha_regularizer, *alpha_constraint;
    int64_t shared[KC_MAX_DIMS]; /* shared_axes as configured */
    int n_shared;
    bool has_shared;    /* shared_axes not null */
    kc_variable *alpha; /* borrowed: owned by the layer base */
} prelu;

static kc_status prelu_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static void prelu_fini(kc_object *self)
{
    prelu *p = (prelu *)self;
    kc_object_unref(p->alpha_initializer);
    kc_object_unref(p->alpha_regularizer);
    kc_object_unref(p->alpha_constraint);
}

static kc_status prelu_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const prelu *p = (const prelu *)self;
    kc_status rc = kc_cfg_set_object(cfg, "alpha_initializer", p->alpha_initializer, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "alpha_regularizer", p->alpha_regularizer, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "alpha_constraint", p->alpha_constraint, err);
    if (rc != KC_OK) return rc;
    if (p->has_shared)
        return kc__cfg_set_int_list(cfg, "shared_axes", p->shared, p->n_shared, false, err);
    return kc_cfg_set_object(cfg, "shared_axes", NULL, err); /* null */
}

static kc_status prelu_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                   kc_error *err)
{
    prelu *p = (prelu *)self;
    kc_status rc = kc_cfg_object(ctx, cfg, "alpha_initializer", KC_KIND_INITIALIZER, "zeros",
                                 &p->alpha_initializer, err);
    if (rc == KC_OK)
        rc = kc_cfg_object(ctx, cfg, "alpha_regularizer", KC_KIND_REGULARIZER, NULL,
                           &p->alpha_regularizer, err);
    if (rc == KC_OK)
        rc = kc_cfg_object(ctx, cfg, "alpha_constraint", KC_KIND_CONSTRAINT, NULL,
                           &p->alpha_constraint, err);
    if (rc == KC_OK)
        rc = kc__cfg_int_list(ctx, cfg, "shared_axes", false, true, KC_MAX_DIMS, p->shared,
                              &p->n_shared, &p->has_shared, NULL, err);
    return rc;
}

static bool is_shared(const prelu *p, int axis)
{
    for (int i = 0; i < p->n_shared; i++)
        if (p->shared[i] == axis) return true;
    return false;
}

static kc_status prelu_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                    kc_shape *out, int *n_out, kc_error *err)
{
    const prelu *p = (const prelu *)self;
    int r = in[0].ndim;
    if (r < 2)
        return kc__errf(err, KC_ESHAPE, "PReLU needs inputs of rank >= 2 (batch, ...), got rank %d",
                        r);
    for (int i = 0; i < p->n_shared; i++)
        if (p->shared[i] < 1 || p->shared[i] >= r)
            return kc__errf(err, KC_ESHAPE,
                            "PReLU shared_axes entry %lld is out of range for inputs of rank %d "
                            "(axes count from 1, after the batch axis)",
                            (long long)p->shared[i], r);
    if (p->alpha) {
        /* built: the rank and every axis not shared are fixed */
        kc_tensor *a = kc_variable_value(p->alpha);
        char buf[160];
        kc_shape as = kc_tensor_shape(a);
        if (kc_tensor_ndim(a) != r - 1)
            return kc__errf(err, KC_ESHAPE,
                            "PReLU with alpha of shape %s needs inputs of rank %d, got rank %d",
                            kc_shape_format(&as, buf, sizeof(buf)), kc_tensor_ndim(a) + 1, r);
        for (int i = 1; i < r; i++)
            if (!is_shared(p, i) && in[0].dims[i] >= 0 && in[0].dims[i] != kc_tensor_dim(a, i - 1))
                return kc__errf(
                    err, KC_ESHAPE,
                    "PReLU with alpha of shape %s expects size %lld on axis %d, got %lld",
                    kc_shape_format(&as, buf, sizeof(buf)), (long long)kc_tensor_dim(a, i - 1), i,
                    (long long)in[0].dims[i]);
    } else {
        for (int i = 1; i < r; i++)
            if (!is_shared(p, i) && in[0].dims[i] < 0)
                return kc__errf(err, KC_ESHAPE,
                                "PReLU needs a known size on axis %d to create alpha (list it in "
                                "shared_axes to share alpha along it)",
                                i);
    }
    return kc__same_shape(self, in, n_in, out, n_out, err);
}

static kc_status prelu_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    prelu *p = (prelu *)self;
    int64_t dims[KC_MAX_DIMS];
    for (int i = 1; i < in[0].ndim; i++)
        dims[i - 1] = is_shared(p, i) ? 1 : in[0].dims[i];
    p->alpha = kc_layer_add_weight(self, "alpha", in[0].ndim - 1, dims, p->alpha_initializer,
                                   p->alpha_regularizer, p->alpha_constraint, true, err);
    return p->alpha ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_status prelu_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                            kc_error *err)
{
    (void)n_out;
    prelu *p = (prelu *)self;
    kc_tensor *x = a->inputs[0];
    kc_scope *s = kc_scope_new(err);
    /* Keras: pos = relu(x); neg = -alpha * relu(-x); pos + neg */
    kc_tensor *pos = kc_scope_take(s, kc_relu(x, err));
    kc_tensor *rn = kc_scope_take(s, kc_relu(kc_scope_take(s, kc_neg(x, err)), err));
    kc_tensor *na = kc_scope_take(s, kc_neg(kc_variable_value(p->alpha), err));
    out[0] = kc_add(pos, kc_scope_take(s, kc_mul(na, rn, err)), err);
    kc_scope_free(s);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods prelu_methods = {
    .build = prelu_build,
    .call = prelu_call,
    .compute_output_shape = prelu_output_shape,
};

KC__LAYER_CLASS(kc__prelu_class, "PReLU", prelu, prelu_init, prelu_fini, prelu_get_config,
                prelu_from_config, &prelu_methods);
