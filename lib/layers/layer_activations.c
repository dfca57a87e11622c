/* Activation layers: Activation, ReLU, LeakyReLU, ELU and Softmax.
 *
 * Each applies one element-wise function (Softmax: along axes) and keeps the
 * input's shape; all support masking (the mask passes through). Numerics are
 * tf.keras 2.15's backend functions:
 *   ReLU:      relu(x) above threshold, else negative_slope * (x - threshold),
 *              the positive part capped at max_value (kc_relu_ex);
 *   LeakyReLU: x for x > 0, alpha * x below;
 *   ELU:       x for x > 0, alpha * (exp(x) - 1) below;
 *   Softmax:   with a mask, masked positions get -1e9 added to their logits
 *              first; several axes normalize jointly, exp(x - logsumexp(x)).
 * Config keys are tf.keras 2.15's. LeakyReLU writes "alpha" (tf.keras 2,
 * TensorFlow.js) and also reads Keras 3's "negative_slope". Negative slopes
 * are refused as in Keras 3 and tf.keras' ReLU (tf.keras 2 let LeakyReLU
 * take a negative alpha, which its docs exclude). */
#include "layer_util.h"

#include <ckeras/ops.h>

#include "layer_infer.h"

#include <math.h>

/* ---- Activation ------------------------------------------------------------------ */

typedef struct activation_layer {
    kc_layer base;
    kc_object *activation; /* never NULL once configured */
} activation_layer;

static kc_status masking_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static void activation_fini(kc_object *self)
{
    kc_object_unref(((activation_layer *)self)->activation);
}

static kc_status activation_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    return kc_cfg_set_object(cfg, "activation", ((const activation_layer *)self)->activation, err);
}

static kc_status activation_from_config(kc_object *self, const json_t *cfg,
                                        const kc_config_ctx *ctx, kc_error *err)
{
    activation_layer *a = (activation_layer *)self;
    /* required, as the positional argument of keras.layers.Activation;
     * null means linear (activations.get(None)) */
    if (!json_object_get(cfg, "activation")) {
        kc_config_ctx c = kc_config_ctx_child(ctx, "activation", 0);
        kc__errf(err, KC_EFORMAT, "%s: missing (expected an activation)", c.path);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    kc_object_unref(a->activation);
    kc_status rc =
        kc_cfg_object(ctx, cfg, "activation", KC_KIND_ACTIVATION, "linear", &a->activation, err);
    if (rc == KC_OK && !a->activation)
        rc = kc_cfg_object(ctx, json_null(), "activation", KC_KIND_ACTIVATION, "linear",
                           &a->activation, err);
    return rc;
}

static kc_status activation_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                                 kc_error *err)
{
    (void)n_out;
    out[0] = kc_activation_call(((activation_layer *)self)->activation, a->inputs[0], err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods activation_methods = {
    .call = activation_call,
    .compute_output_shape = kc__same_shape,
};

KC__LAYER_CLASS(kc__activation_layer_class, "Activation", activation_layer, masking_init,
                activation_fini, activation_get_config, activation_from_config,
                &activation_methods);

/* ---- ReLU ---------------------------------------------------------------------------- */

typedef struct relu_layer {
    kc_layer base;
    bool has_max;          /* max_value given (not null) */
    double max_value;      /* >= 0 */
    double negative_slope; /* >= 0 */
    double threshold;      /* >= 0 */
} relu_layer;

static kc_status relu_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const relu_layer *r = (const relu_layer *)self;
    /* kc_cfg_set_object with no object writes null (no cap) */
    kc_status rc = r->has_max ? kc_cfg_set_float(cfg, "max_value", r->max_value, err)
                              : kc_cfg_set_object(cfg, "max_value", NULL, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "negative_slope", r->negative_slope, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "threshold", r->threshold, err);
    return rc;
}

static kc_status relu_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    relu_layer *r = (relu_layer *)self;
    kc_status rc = kc_cfg_float(ctx, cfg, "max_value", KC_CFG_NULLABLE | KC_CFG_NONNEG, INFINITY,
                                &r->max_value, err);
    r->has_max = rc == KC_OK && isfinite(r->max_value);
    if (rc == KC_OK)
        rc =
            kc__cfg_finite(ctx, cfg, "negative_slope", KC_CFG_NONNEG, 0.0, &r->negative_slope, err);
    if (rc == KC_OK)
        rc = kc__cfg_finite(ctx, cfg, "threshold", KC_CFG_NONNEG, 0.0, &r->threshold, err);
    return rc;
}

static kc_status relu_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                           kc_error *err)
{
    (void)n_out;
    const relu_layer *r = (const relu_layer *)self;
    out[0] = kc_relu_ex(a->inputs[0], (float)r->negative_slope,
                        r->has_max ? (float)r->max_value : INFINITY, (float)r->threshold, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods relu_methods = {
    .call = relu_call,
    .compute_output_shape = kc__same_shape,
};

KC__LAYER_CLASS(kc__relu_layer_class, "ReLU", relu_layer, masking_init, NULL, relu_get_config,
                relu_from_config, &relu_methods);

/* ---- LeakyReLU and ELU: one parameter, "alpha" ------------------------------------------ */

typedef struct alpha_layer {
    kc_layer base;
    double alpha; /* LeakyReLU: the negative slope (>= 0); ELU: the scale */
} alpha_layer;

static kc_status alpha_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    return kc_cfg_set_float(cfg, "alpha", ((const alpha_layer *)self)->alpha, err);
}

static kc_status leaky_relu_init(kc_object *self, kc_error *err)
{
    ((alpha_layer *)self)->alpha = 0.3;
    return masking_init(self, err);
}

static kc_status leaky_relu_from_config(kc_object *self, const json_t *cfg,
                                        const kc_config_ctx *ctx, kc_error *err)
{
    alpha_layer *l = (alpha_layer *)self;
    /* Keras 3 names it negative_slope and still takes alpha (which wins) */
    const char *key = json_object_get(cfg, "alpha") ? "alpha" : "negative_slope";
    return kc__cfg_finite(ctx, cfg, key, KC_CFG_NONNEG, 0.3, &l->alpha, err);
}

static kc_status leaky_relu_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                                 kc_error *err)
{
    (void)n_out;
    out[0] = kc_leaky_relu(a->inputs[0], (float)((alpha_layer *)self)->alpha, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods leaky_relu_methods = {
    .call = leaky_relu_call,
    .compute_output_shape = kc__same_shape,
};

KC__LAYER_CLASS(kc__leaky_relu_layer_class, "LeakyReLU", alpha_layer, leaky_relu_init, NULL,
                alpha_get_config, leaky_relu_from_config, &leaky_relu_methods);

static kc_status elu_init(kc_object *self, kc_error *err)
{
    ((alpha_layer *)self)->alpha = 1.0;
    return masking_init(self, err);
}

static kc_status elu_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                 kc_error *err)
{
    return kc__cfg_finite(ctx, cfg, "alpha", 0, 1.0, &((alpha_layer *)self)->alpha, err);
}

static kc_status elu_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                          kc_error *err)
{
    (void)n_out;
    out[0] = kc_elu(a->inputs[0], (float)((alpha_layer *)self)->alpha, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods elu_methods = {
    .call = elu_call,
    .compute_output_shape = kc__same_shape,
};

KC__LAYER_CLASS(kc__elu_layer_class, "ELU", alpha_layer, elu_init, NULL, alpha_get_config,
                elu_from_config, &elu_methods);

/* ---- Softmax ----------------------------------------------------------------------------- */

typedef struct softmax_layer {
    kc_layer base;
    int64_t axes[KC_MAX_DIMS]; /* as configured (may be negative) */
    int n_axes;                /* >= 1 */
    bool scalar;               /* config axis was an integer, not a list */
} softmax_layer;

static kc_status softmax_init(kc_object *self, kc_error *err)
{
    softmax_layer *s = (softmax_layer *)self;
    s->axes[0] = -1;
    s->n_axes = 1;
    s->scalar = true;
    return masking_init(self, err);
}

static kc_status softmax_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const softmax_layer *s = (const softmax_layer *)self;
    return kc__cfg_set_int_list(cfg, "axis", s->axes, s->n_axes, s->scalar, err);
}

static kc_status softmax_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err)
{
    softmax_layer *s = (softmax_layer *)self;
    bool present = false, scalar = false;
    int64_t axes[KC_MAX_DIMS];
    int n = 0;
    kc_status rc = kc__cfg_int_list(ctx, cfg, "axis", false, true, KC_MAX_DIMS, axes, &n, &present,
                                    &scalar, err);
    if (rc != KC_OK || !present) return rc;
    if (n == 0) {
        kc_config_ctx c = kc_config_ctx_child(ctx, "axis", 0);
        kc__errf(err, KC_EFORMAT, "%s: expected an integer or a non-empty list of integers",
                 c.path);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    for (int i = 0; i < n; i++)
        s->axes[i] = axes[i];
    s->n_axes = n;
    s->scalar = scalar;
    return KC_OK;
}

/* The configured axes for rank ndim, normalized and checked. */
static kc_status softmax_axes(const softmax_layer *s, int ndim, int *axes, kc_error *err)
{
    for (int i = 0; i < s->n_axes; i++) {
        int64_t a = s->axes[i] < 0 ? s->axes[i] + ndim : s->axes[i];
        if (a < 0 || a >= ndim)
            return kc__errf(err, KC_ESHAPE,
                            "Softmax axis %lld is out of range for inputs of rank %d",
                            (long long)s->axes[i], ndim);
        for (int j = 0; j < i; j++)
            if (axes[j] == (int)a)
                return kc__errf(err, KC_ESHAPE, "Softmax axes repeat axis %lld (inputs of rank %d)",
                                (long long)a, ndim);
        axes[i] = (int)a;
    }
    return KC_OK;
}

static kc_status softmax_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                      kc_shape *out, int *n_out, kc_error *err)
{
    int axes[KC_MAX_DIMS];
    kc_status rc = softmax_axes((const softmax_layer *)self, in[0].ndim, axes, err);
    if (rc != KC_OK) return rc;
    return kc__same_shape(self, in, n_in, out, n_out, err);
}

static kc_status softmax_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                              kc_error *err)
{
    (void)n_out;
    const softmax_layer *sl = (const softmax_layer *)self;
    int axes[KC_MAX_DIMS];
    kc_tensor *x = a->inputs[0];
    kc_status rc = softmax_axes(sl, kc_tensor_ndim(x), axes, err);
    if (rc != KC_OK) return rc;
    kc_scope *s = kc_scope_new(err);
    if (a->masks && a->masks[0]) {
        /* x + (1 - mask) * -1e9: masked logits drop out of the sum */
        kc_tensor *m = kc_scope_take(s, kc__mask_bool(a->masks[0], err));
        kc_tensor *adder = kc_scope_take(
            s, kc_mul_scalar(kc_scope_take(s, kc_scalar_sub(1.0f, m, err)), -1e9f, err));
        x = kc_scope_take(s, kc_add(x, adder, err));
    }
    if (sl->n_axes == 1) {
        out[0] = kc_softmax(x, axes[0], err);
    } else {
        /* exp(x - logsumexp(x)), logsumexp shifted by the (constant) max as TF does */
        kc_tensor *mx = kc_scope_take(s, kc_reduce_max(x, axes, sl->n_axes, true, err));
        mx = kc_scope_take(s, kc_stop_gradient(mx, err));
        kc_tensor *e = kc_scope_take(s, kc_exp(kc_scope_take(s, kc_sub(x, mx, err)), err));
        kc_tensor *sum = kc_scope_take(s, kc_reduce_sum(e, axes, sl->n_axes, true, err));
        kc_tensor *lse = kc_scope_take(s, kc_add(kc_scope_take(s, kc_log(sum, err)), mx, err));
        out[0] = kc_exp(kc_scope_take(s, kc_sub(x, lse, err)), err);
    }
    kc_scope_free(s);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods softmax_methods = {
    .call = softmax_call,
    .compute_output_shape = softmax_output_shape,
};

KC__LAYER_CLASS(kc__softmax_layer_class, "Softmax", softmax_layer, softmax_init, NULL,
                softmax_get_config, softmax_from_config, &softmax_methods);

/* ---- inference slots ------------------------------------------------------------------ */

/* The op each class's call runs, with the parameters it passes (as the
 * floats the call converts them to). */
static void set_act(kc__layer_infer *out, kc__op op, float f0, float f1, float f2)
{
    out->kind = KC__LI_ACT;
    out->act.op = op;
    out->act.f[0] = f0;
    out->act.f[1] = f1;
    out->act.f[2] = f2;
}

void kc__activation_layer_describe(const kc_object *self, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    if (n_in != 1) return;
    const kc_class *c = self->cls;
    if (c == &kc__activation_layer_class) {
        kc__layer_infer t = *out;
        if (!kc__describe_activation(((const activation_layer *)self)->activation, &t)) return;
        t.kind = kc__act_none(&t.act) && t.softmax == KC__LI_NO_SOFTMAX ? KC__LI_IDENTITY : KC__LI_ACT;
        *out = t;
    } else if (c == &kc__relu_layer_class) {
        const relu_layer *r = (const relu_layer *)self;
        set_act(out, KC__OP_RELU_EX, (float)r->negative_slope, r->has_max ? (float)r->max_value : INFINITY,
                (float)r->threshold);
    } else if (c == &kc__leaky_relu_layer_class) {
        set_act(out, KC__OP_RELU_EX, (float)((const alpha_layer *)self)->alpha, INFINITY, 0.0f);
    } else if (c == &kc__elu_layer_class) {
        set_act(out, KC__OP_ELU, (float)((const alpha_layer *)self)->alpha, 0.0f, 0.0f);
    } else if (c == &kc__softmax_layer_class) {
        const softmax_layer *s = (const softmax_layer *)self;
        int64_t a = s->axes[0] < 0 ? s->axes[0] + in[0].ndim : s->axes[0];
        if (s->n_axes != 1 || a < 0 || a >= in[0].ndim) return;
        out->kind = KC__LI_SOFTMAX;
        out->axis = (int)a;
    }
}
