/* The convolution layers: Conv1D/2D/3D, Conv1D/2D/3DTranspose,
 * DepthwiseConv1D/2D and SeparableConv1D/2D.
 *
 * They share one instance struct and one set of methods: Keras builds them
 * on one base class (Conv) too, and their configs differ only in a few
 * keys. Config keys (tf.keras 2.15 / Keras 3):
 *   Conv:       filters, kernel_size, strides, padding ("valid", "same",
 *               "causal" for Conv1D), data_format, dilation_rate, groups,
 *               activation, use_bias, kernel_/bias_ initializer,
 *               regularizer, constraint, activity_regularizer
 *   Transpose:  as Conv without groups (1 is accepted), plus output_padding
 *   Depthwise:  as Conv without filters and kernel_*, plus
 *               depth_multiplier and depthwise_initializer/regularizer/
 *               constraint (tf.keras also writes groups: read, ignored)
 *   Separable:  filters, depth_multiplier, depthwise_* and pointwise_*
 *               (padding "causal" for SeparableConv1D)
 * Weights (spec §4), with in = input channels, f = filters, dm =
 * depth_multiplier:
 *   Conv       kernel (k..., in / groups, f), bias (f,)
 *   Transpose  kernel (k..., f, in), bias (f,)
 *   Depthwise  depthwise_kernel (k..., in, dm), bias (in * dm,)
 *   Separable  depthwise_kernel (k..., in, dm), pointwise_kernel (1...,
 *              in * dm, f), bias (f,)
 * The arithmetic is lib/autodiff/op_conv.c (im2col + sgemm). A depthwise
 * kernel (k..., in, dm) has the memory layout of a grouped kernel (k...,
 * 1, in * dm) with groups = in, so depthwise convolutions are grouped
 * convolutions on a reshaped view; a separable one is a depthwise
 * convolution followed by a 1x1 convolution.
 *
 * Loading (convert_weights) follows Keras' preprocess_weights_for_loading:
 * Keras 1 kernel layouts (Theano-ordered channels_first kernels, Keras 1's
 * 4-D Conv1D kernels), the kernel flip of files saved with the Theano
 * backend, and the silent (3, 2, 0, 1) transpose of a 4-D kernel whose
 * shape does not match. */
#include "conv_layers_int.h"
#include "layer_infer.h"

#include <string.h>

typedef enum { CONV, CONV_T, DEPTHWISE, SEPARABLE } conv_kind;

typedef struct conv_layer {
    kc_layer base;
    conv_kind kind;
    int rank;                 /* spatial axes, 1..3 */
    int64_t filters;          /* not DEPTHWISE */
    int64_t kernel_size[3], strides[3], dilation[3];
    int64_t output_padding[3];
    bool has_output_padding;  /* CONV_T: output_padding given */
    kc__padding padding;
    bool channels_first;
    int64_t groups;           /* CONV */
    int64_t depth_multiplier; /* DEPTHWISE, SEPARABLE */
    bool use_bias;
    kc_object *activation;
    kc_object *k_init, *k_reg, *k_con; /* kernel_* (depthwise_* for DEPTHWISE, SEPARABLE) */
    kc_object *p_init, *p_reg, *p_con; /* pointwise_* (SEPARABLE) */
    kc_object *b_init, *b_reg, *b_con;
    int64_t built_channels;   /* input channels at build */
    kc_variable *kernel, *pointwise, *bias; /* borrowed: owned by the layer base */
} conv_layer;

static const char *cls_name(const conv_layer *c) { return c->base.base.cls->name; }

static kc_status conv_init(kc_object *self, conv_kind kind, int rank)
{
    conv_layer *c = (conv_layer *)self;
    c->kind = kind;
    c->rank = rank;
    c->use_bias = true;
    c->groups = 1;
    c->depth_multiplier = 1;
    for (int i = 0; i < 3; i++) c->kernel_size[i] = c->strides[i] = c->dilation[i] = 1;
    return KC_OK;
}

#define CONV_INIT(fn, kind, rank)                                                                  \
    static kc_status fn(kc_object *self, kc_error *err)                                            \
    {                                                                                              \
        (void)err;                                                                                 \
        return conv_init(self, kind, rank);                                                        \
    }
CONV_INIT(conv1d_init, CONV, 1)
CONV_INIT(conv2d_init, CONV, 2)
CONV_INIT(conv3d_init, CONV, 3)
CONV_INIT(conv1dt_init, CONV_T, 1)
CONV_INIT(conv2dt_init, CONV_T, 2)
CONV_INIT(conv3dt_init, CONV_T, 3)
CONV_INIT(dw1d_init, DEPTHWISE, 1)
CONV_INIT(dw2d_init, DEPTHWISE, 2)
CONV_INIT(sep1d_init, SEPARABLE, 1)
CONV_INIT(sep2d_init, SEPARABLE, 2)

static void conv_fini(kc_object *self)
{
    conv_layer *c = (conv_layer *)self;
    kc_object *objs[] = {c->activation, c->k_init, c->k_reg, c->k_con, c->p_init,
                         c->p_reg,      c->p_con,  c->b_init, c->b_reg, c->b_con};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) kc_object_unref(objs[i]);
}

/* ---- config ---------------------------------------------------------------------------------- */

static kc_status read_components(conv_layer *c, const json_t *cfg, const kc_config_ctx *ctx,
                                 kc_error *err)
{
    bool dw = c->kind == DEPTHWISE || c->kind == SEPARABLE;
    const char *ki = dw ? "depthwise_initializer" : "kernel_initializer";
    const char *kr = dw ? "depthwise_regularizer" : "kernel_regularizer";
    const char *kk = dw ? "depthwise_constraint" : "kernel_constraint";
    kc_status rc = kc_cfg_object(ctx, cfg, "activation", KC_KIND_ACTIVATION, "linear", &c->activation, err);
    if (rc == KC_OK && !c->activation)
        rc = kc_cfg_object(ctx, json_null(), "activation", KC_KIND_ACTIVATION, "linear", &c->activation, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "use_bias", 0, true, &c->use_bias, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, ki, KC_KIND_INITIALIZER, "glorot_uniform", &c->k_init, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_initializer", KC_KIND_INITIALIZER, "zeros", &c->b_init, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, kr, KC_KIND_REGULARIZER, NULL, &c->k_reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_regularizer", KC_KIND_REGULARIZER, NULL, &c->b_reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, kk, KC_KIND_CONSTRAINT, NULL, &c->k_con, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_constraint", KC_KIND_CONSTRAINT, NULL, &c->b_con, err);
    if (rc == KC_OK && c->kind == SEPARABLE) {
        rc = kc_cfg_object(ctx, cfg, "pointwise_initializer", KC_KIND_INITIALIZER, "glorot_uniform", &c->p_init, err);
        if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "pointwise_regularizer", KC_KIND_REGULARIZER, NULL, &c->p_reg, err);
        if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "pointwise_constraint", KC_KIND_CONSTRAINT, NULL, &c->p_con, err);
    }
    return rc;
}

static kc_status conv_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    conv_layer *c = (conv_layer *)self;
    int n = c->rank;
    kc_status rc = KC_OK;
    if (c->kind != DEPTHWISE)
        rc = kc_cfg_int(ctx, cfg, "filters", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &c->filters, err);
    if (rc == KC_OK)
        rc = kc_cfg_int_tuple(ctx, cfg, "kernel_size", KC_CFG_REQUIRED | KC_CFG_POSITIVE, n, 0, c->kernel_size, err);
    if (rc == KC_OK) rc = kc_cfg_int_tuple(ctx, cfg, "strides", KC_CFG_POSITIVE, n, 1, c->strides, err);
    bool causal_ok = n == 1 && (c->kind == CONV || c->kind == SEPARABLE);
    if (rc == KC_OK) rc = kc__cfg_padding(ctx, cfg, causal_ok, &c->padding, err);
    if (rc == KC_OK) rc = kc__cfg_data_format(ctx, cfg, &c->channels_first, err);
    if (rc == KC_OK) rc = kc_cfg_int_tuple(ctx, cfg, "dilation_rate", KC_CFG_POSITIVE, n, 1, c->dilation, err);
    if (rc == KC_OK && c->kind != DEPTHWISE) {
        int64_t groups = 1;
        rc = kc_cfg_int(ctx, cfg, "groups", KC_CFG_POSITIVE | KC_CFG_NULLABLE, 1, &groups, err);
        if (rc == KC_OK && c->kind == CONV) {
            c->groups = groups;
            if (c->filters % groups)
                rc = kc__errf(err, KC_EFORMAT,
                              "%s.groups: the number of filters (%lld) must be evenly divisible by the number of groups (%lld)",
                              ctx->path, (long long)c->filters, (long long)groups);
        } else if (rc == KC_OK && groups != 1) {
            rc = kc__errf(err, KC_EUNSUPPORTED, "%s.groups: %s supports only groups = 1, got %lld", ctx->path,
                          cls_name(c), (long long)groups);
        }
    }
    if (rc == KC_OK && c->kind == CONV_T) {
        const json_t *op = json_object_get(cfg, "output_padding");
        c->has_output_padding = op && !json_is_null(op);
        if (c->has_output_padding)
            rc = kc_cfg_int_tuple(ctx, cfg, "output_padding", KC_CFG_NONNEG, n, 0, c->output_padding, err);
        for (int i = 0; rc == KC_OK && c->has_output_padding && i < n; i++)
            if (c->output_padding[i] >= c->strides[i])
                rc = kc__errf(err, KC_EFORMAT,
                              "%s.output_padding: strides %lld must be greater than output padding %lld (axis %d)",
                              ctx->path, (long long)c->strides[i], (long long)c->output_padding[i], i);
    }
    if (rc == KC_OK && (c->kind == DEPTHWISE || c->kind == SEPARABLE))
        rc = kc_cfg_int(ctx, cfg, "depth_multiplier", KC_CFG_POSITIVE, 1, &c->depth_multiplier, err);
    if (rc == KC_OK) rc = read_components(c, cfg, ctx, err);
    return rc;
}

static kc_status set_bool(json_t *cfg, const char *key, bool v, kc_error *err)
{
    return json_object_set_new(cfg, key, json_boolean(v)) ? kc__errf(err, KC_ENOMEM, "out of memory") : KC_OK;
}

static kc_status set_int(json_t *cfg, const char *key, int64_t v, kc_error *err)
{
    return json_object_set_new(cfg, key, json_integer(v)) ? kc__errf(err, KC_ENOMEM, "out of memory") : KC_OK;
}

static kc_status conv_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const conv_layer *c = (const conv_layer *)self;
    int n = c->rank;
    bool dw = c->kind == DEPTHWISE || c->kind == SEPARABLE;
    kc_status rc = KC_OK;
    if (c->kind != DEPTHWISE) rc = set_int(cfg, "filters", c->filters, err);
    if (rc == KC_OK) rc = kc__cfg_set_tuple(cfg, "kernel_size", c->kernel_size, n, err);
    if (rc == KC_OK) rc = kc__cfg_set_tuple(cfg, "strides", c->strides, n, err);
    if (rc == KC_OK && json_object_set_new(cfg, "padding", json_string(kc__padding_name(c->padding))))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc__cfg_set_data_format(cfg, c->channels_first, err);
    if (rc == KC_OK && dw) rc = set_int(cfg, "depth_multiplier", c->depth_multiplier, err);
    if (rc == KC_OK) rc = kc__cfg_set_tuple(cfg, "dilation_rate", c->dilation, n, err);
    if (rc == KC_OK && c->kind == CONV) rc = set_int(cfg, "groups", c->groups, err);
    if (rc == KC_OK && c->kind == CONV_T) {
        if (c->has_output_padding)
            rc = kc__cfg_set_tuple(cfg, "output_padding", c->output_padding, n, err);
        else if (json_object_set_new(cfg, "output_padding", json_null()))
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
    }
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "activation", c->activation, err);
    if (rc == KC_OK) rc = set_bool(cfg, "use_bias", c->use_bias, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, dw ? "depthwise_initializer" : "kernel_initializer", c->k_init, err);
    if (rc == KC_OK && c->kind == SEPARABLE) rc = kc_cfg_set_object(cfg, "pointwise_initializer", c->p_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_initializer", c->b_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, dw ? "depthwise_regularizer" : "kernel_regularizer", c->k_reg, err);
    if (rc == KC_OK && c->kind == SEPARABLE) rc = kc_cfg_set_object(cfg, "pointwise_regularizer", c->p_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_regularizer", c->b_reg, err);
    if (rc == KC_OK) rc = kc__layer_write_activity_regularizer(self, cfg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, dw ? "depthwise_constraint" : "kernel_constraint", c->k_con, err);
    if (rc == KC_OK && c->kind == SEPARABLE) rc = kc_cfg_set_object(cfg, "pointwise_constraint", c->p_con, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_constraint", c->b_con, err);
    return rc;
}

/* ---- shapes ----------------------------------------------------------------------------------- */

static int64_t out_channels(const conv_layer *c, int64_t cin)
{
    return c->kind == DEPTHWISE ? cin * c->depth_multiplier : c->filters;
}

static kc_status conv_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                   int *n_out, kc_error *err)
{
    (void)n_in;
    const conv_layer *c = (const conv_layer *)self;
    kc_status rc = kc__check_spatial_rank(&in[0], c->rank, c->channels_first, cls_name(c), err);
    if (rc != KC_OK) return rc;
    int64_t sp[3], cin, osp[3];
    kc__spatial_dims(&in[0], c->rank, c->channels_first, sp, &cin);
    if (cin < 0) return kc__errf(err, KC_ESHAPE, "the channel dimension of the inputs of %s must be known", cls_name(c));
    if (c->built_channels && cin != c->built_channels)
        return kc__errf(err, KC_ESHAPE, "%s was built for inputs with %lld channels, got %lld", cls_name(c),
                        (long long)c->built_channels, (long long)cin);
    if (c->kind == CONV && cin % c->groups)
        return kc__errf(err, KC_ESHAPE,
                        "the number of input channels (%lld) must be evenly divisible by the number of groups (%lld)",
                        (long long)cin, (long long)c->groups);
    for (int i = 0; i < c->rank; i++) {
        if (c->kind == CONV_T) {
            osp[i] = kc__deconv_out_length(sp[i], c->kernel_size[i], c->padding,
                                           c->has_output_padding ? c->output_padding[i] : -1, c->strides[i], c->dilation[i]);
        } else {
            osp[i] = kc__conv_out_length(sp[i], c->kernel_size[i], c->padding, c->strides[i], c->dilation[i]);
        }
        if (sp[i] >= 0 && osp[i] <= 0) {
            char buf[96];
            return kc__errf(err, KC_ESHAPE,
                            "%s: the input %s is too small for kernel_size %lld with dilation_rate %lld on spatial axis %d (padding 'valid')",
                            cls_name(c), kc_shape_format(&in[0], buf, sizeof(buf)), (long long)c->kernel_size[i],
                            (long long)c->dilation[i], i + 1);
        }
    }
    out[0] = kc__spatial_shape(in[0].dims[0], osp, c->rank, out_channels(c, cin), c->channels_first);
    *n_out = 1;
    return KC_OK;
}

static kc_status conv_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    conv_layer *c = (conv_layer *)self;
    int64_t sp[3], cin, kd[KC_MAX_DIMS];
    kc__spatial_dims(&in[0], c->rank, c->channels_first, sp, &cin);
    int n = c->rank;
    for (int i = 0; i < n; i++) kd[i] = c->kernel_size[i];
    const char *kname = "kernel";
    switch (c->kind) {
    case CONV:
        kd[n] = cin / c->groups;
        kd[n + 1] = c->filters;
        break;
    case CONV_T:
        kd[n] = c->filters;
        kd[n + 1] = cin;
        break;
    case DEPTHWISE:
    case SEPARABLE:
        kd[n] = cin;
        kd[n + 1] = c->depth_multiplier;
        kname = "depthwise_kernel";
        break;
    }
    c->kernel = kc_layer_add_weight(self, kname, n + 2, kd, c->k_init, c->k_reg, c->k_con, true, err);
    if (!c->kernel) return kc__error_code(err, KC_ENOMEM);
    if (c->kind == SEPARABLE) {
        int64_t pd[KC_MAX_DIMS];
        for (int i = 0; i < n; i++) pd[i] = 1;
        pd[n] = cin * c->depth_multiplier;
        pd[n + 1] = c->filters;
        c->pointwise = kc_layer_add_weight(self, "pointwise_kernel", n + 2, pd, c->p_init, c->p_reg, c->p_con, true, err);
        if (!c->pointwise) return kc__error_code(err, KC_ENOMEM);
    }
    if (c->use_bias) {
        int64_t nb = out_channels(c, cin);
        c->bias = kc_layer_add_weight(self, "bias", 1, &nb, c->b_init, c->b_reg, c->b_con, true, err);
        if (!c->bias) return kc__error_code(err, KC_ENOMEM);
    }
    c->built_channels = cin;
    return KC_OK;
}

/* ---- call -------------------------------------------------------------------------------------- */

static void geom_base(const conv_layer *c, const kc_tensor *x, kc__conv_geom *g)
{
    memset(g, 0, sizeof(*g));
    g->nsp = c->rank;
    g->batch = kc_tensor_dim(x, 0);
    for (int i = 0; i < c->rank; i++) {
        g->k[i] = c->kernel_size[i];
        g->stride[i] = c->strides[i];
        g->dilation[i] = c->dilation[i];
    }
    g->groups = 1;
}

/* The depthwise part: x (channels last) with the (k..., in, dm) kernel
 * viewed as a grouped (k..., 1, in * dm) one. */
static kc_tensor *depthwise(const conv_layer *c, kc_tensor *x, kc_tensor *bias, kc__conv_geom *g,
                            kc_error *err)
{
    int64_t cin = kc_tensor_dim(x, c->rank + 1), kd[KC_MAX_DIMS];
    kc_tensor *k = kc_variable_value(c->kernel);
    for (int i = 0; i < c->rank; i++) kd[i] = c->kernel_size[i];
    kd[c->rank] = 1;
    kd[c->rank + 1] = cin * c->depth_multiplier;
    g->cin = cin;
    g->cout = cin * c->depth_multiplier;
    g->groups = cin;
    kc_tensor *kv = kc_reshape(k, c->rank + 2, kd, err);
    kc_tensor *y = kv ? kc__conv(x, kv, bias, g, err) : NULL;
    kc_tensor_unref(kv);
    return y;
}

static kc_tensor *convolve(const conv_layer *c, kc_tensor *x, kc_error *err)
{
    kc__conv_geom g;
    geom_base(c, x, &g);
    int n = c->rank;
    const int64_t *xd = kc_tensor_dims(x);
    int64_t cin = xd[n + 1];
    kc_tensor *bias = c->bias ? kc_variable_value(c->bias) : NULL;
    if (c->kind == CONV_T) {
        /* the convolution this one transposes goes from the output (g.in)
         * to x (g.out), with the padding TensorFlow derives for it */
        g.cin = c->filters;
        g.cout = cin;
        for (int i = 0; i < n; i++) {
            int64_t dk = (c->kernel_size[i] - 1) * c->dilation[i] + 1;
            g.out[i] = xd[i + 1];
            g.in[i] = kc__deconv_out_length(xd[i + 1], c->kernel_size[i], c->padding,
                                            c->has_output_padding ? c->output_padding[i] : -1, c->strides[i], c->dilation[i]);
            int64_t total = (g.out[i] - 1) * c->strides[i] + dk - g.in[i];
            g.pad[i] = c->padding == KC__PAD_SAME && total > 0 ? total / 2 : 0;
        }
        return kc__conv_transpose(x, kc_variable_value(c->kernel), bias, &g, err);
    }
    if (kc__conv_geom_init(&g, xd + 1, c->padding, err) != KC_OK) return NULL;
    if (c->kind == CONV) {
        g.cin = cin;
        g.cout = c->filters;
        g.groups = c->groups;
        return kc__conv(x, kc_variable_value(c->kernel), bias, &g, err);
    }
    if (c->kind == DEPTHWISE) return depthwise(c, x, bias, &g, err);
    /* SEPARABLE: depthwise, then a 1x1 convolution */
    kc_tensor *z = depthwise(c, x, NULL, &g, err);
    if (!z) return NULL;
    kc__conv_geom p;
    memset(&p, 0, sizeof(p));
    p.nsp = n;
    p.batch = g.batch;
    for (int i = 0; i < n; i++) {
        p.k[i] = p.stride[i] = p.dilation[i] = 1;
        p.in[i] = p.out[i] = g.out[i];
    }
    p.cin = g.cout;
    p.cout = c->filters;
    p.groups = 1;
    kc_tensor *y = kc__conv(z, kc_variable_value(c->pointwise), bias, &p, err);
    kc_tensor_unref(z);
    return y;
}

static kc_status conv_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                           kc_error *err)
{
    (void)n_out;
    conv_layer *c = (conv_layer *)self;
    kc_tensor *x = kc__to_channels_last(a->inputs[0], c->rank, c->channels_first, err);
    kc_tensor *y = x ? convolve(c, x, err) : NULL;
    kc_tensor_unref(x);
    y = kc__from_channels_last(y, c->rank, c->channels_first, err);
    if (!y) return kc__error_code(err, KC_ENOMEM);
    out[0] = kc_activation_call(c->activation, y, err);
    kc_tensor_unref(y);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

/* ---- loading (preprocess_weights_for_loading) ------------------------------------------------- */

/* Copy of t with axes permuted (out axis i = in axis perm[i]). */
static kc_tensor *permuted(kc_tensor *t, const int *perm, kc_error *err)
{
    kc__recording_pause();
    kc_tensor *r = kc_transpose(t, perm, err);
    kc__recording_resume();
    return r;
}

/* Theano's convert_kernel: every axis but the last two reversed. */
static kc_tensor *flipped(kc_tensor *t, kc_error *err)
{
    int nd = kc_tensor_ndim(t);
    const int64_t *d = kc_tensor_dims(t);
    kc_tensor *r = kc_tensor_empty(KC_FLOAT32, nd, d, err);
    if (!r) return NULL;
    int64_t inner = d[nd - 1] * d[nd - 2], nsp = 1;
    for (int i = 0; i < nd - 2; i++) nsp *= d[i];
    const float *src = kc_tensor_cdata(t);
    float *dst = kc_tensor_f32(r);
    for (int64_t p = 0; p < nsp; p++) {
        /* the reversed spatial index of p: reverse each coordinate */
        int64_t q = p, rp = 0, mul = 1;
        for (int i = nd - 3; i >= 0; i--) {
            int64_t coord = q % d[i];
            q /= d[i];
            rp += (d[i] - 1 - coord) * mul;
            mul *= d[i];
        }
        memcpy(dst + rp * inner, src + p * inner, sizeof(float) * (size_t)inner);
    }
    return r;
}

/* *k = t (dropping the old *k), or the error that made t NULL. */
static kc_status replace(kc_tensor **k, kc_tensor *t, kc_error *err)
{
    if (!t) return kc__error_code(err, KC_ENOMEM);
    kc_tensor_unref(*k);
    *k = t;
    return KC_OK;
}

static kc_status conv_convert_weights(kc_object *self, kc_tensor *const *in, int n_in,
                                      const char *keras_version, const char *backend, kc_tensor **out,
                                      int *n_out, kc_error *err)
{
    conv_layer *c = (conv_layer *)self;
    *n_out = 0;
    if (n_in < 1 || !c->kernel) return KC_OK;
    /* Keras lists the classes it converts by name */
    const char *name = cls_name(c);
    bool listed = !strcmp(name, "Conv1D") || !strcmp(name, "Conv2D") || !strcmp(name, "Conv3D") ||
                  !strcmp(name, "Conv2DTranspose");
    if (!listed) return KC_OK;
    bool keras1 = keras_version && (!strcmp(keras_version, "1") || !strncmp(keras_version, "1.", 2));
    kc_tensor *k = kc_tensor_ref(in[0]);
    const kc_tensor *want = kc_variable_value(c->kernel);
    int nd = kc_tensor_ndim(k);
    const int64_t *d = kc_tensor_dims(k);
    kc_status rc = KC_OK;
    if (keras1) {
        if (c->kind == CONV && c->rank == 1 && nd == 4) {
            /* Keras 1 Conv1D kernels are 4-D: (k, 1, in, f), or in Keras
             * 1.1 (f, in, k, 1); Keras 2 drops the axis of size 1 */
            int64_t kk = c->kernel_size[0];
            bool modern = d[0] == kk && d[1] == 1 && d[3] == c->filters;
            bool legacy = d[0] == c->filters && d[2] == kk && d[3] == 1;
            if (!modern && !legacy) {
                char buf[96];
                kc_shape s = kc_tensor_shape(k);
                kc_tensor_unref(k);
                return kc__errf(err, KC_ESHAPE, "layer '%s': Keras 1 Conv1D kernel of unexpected shape %s",
                                kc_layer_name(self), kc_shape_format(&s, buf, sizeof(buf)));
            }
            if (legacy && (rc = replace(&k, permuted(k, (int[]){2, 3, 1, 0}, err), err)) != KC_OK) {
                kc_tensor_unref(k);
                return rc;
            }
            const int64_t *e = kc_tensor_dims(k);
            int64_t d3[3] = {e[0], e[2], e[3]};
            kc_tensor *r = kc_tensor_empty(KC_FLOAT32, 3, d3, err);
            if (r) memcpy(kc_tensor_f32(r), kc_tensor_cdata(k), sizeof(float) * (size_t)kc_tensor_size(r));
            kc_tensor_unref(k);
            if (!(k = r)) return kc__error_code(err, KC_ENOMEM);
        } else if (c->kind == CONV && c->rank == 2 && c->channels_first && nd == 4) {
            /* (f, in, rows, cols) -> (rows, cols, in, f) */
            rc = replace(&k, permuted(k, (int[]){2, 3, 1, 0}, err), err);
        } else if (c->kind == CONV_T && c->rank == 2 && nd == 4) {
            /* (rows, cols, in, f) or (f, in, rows, cols) -> (rows, cols, f, in) */
            rc = replace(&k, permuted(k, c->channels_first ? (int[]){2, 3, 0, 1} : (int[]){0, 1, 3, 2}, err), err);
        } else if (c->kind == CONV && c->rank == 3 && c->channels_first && nd == 5) {
            rc = replace(&k, permuted(k, (int[]){2, 3, 4, 1, 0}, err), err);
        }
    }
    if (rc == KC_OK && backend && !strcmp(backend, "theano") && kc_tensor_ndim(k) >= 3)
        rc = replace(&k, flipped(k, err), err);
    if (rc == KC_OK && kc_tensor_ndim(k) == 4 && !kc_tensor_same_shape(k, want))
        rc = replace(&k, permuted(k, (int[]){3, 2, 0, 1}, err), err);
    if (rc != KC_OK || k == in[0]) {
        kc_tensor_unref(k);
        return rc; /* failed, or nothing changed */
    }
    if (n_in > KC_MAX_LAYER_WEIGHTS) n_in = KC_MAX_LAYER_WEIGHTS;
    out[0] = k;
    for (int i = 1; i < n_in; i++) out[i] = kc_tensor_ref(in[i]);
    *n_out = n_in;
    return KC_OK;
}

/* ---- classes ----------------------------------------------------------------------------------- */

static const kc_layer_methods conv_methods = {
    .build = conv_build,
    .call = conv_call,
    .compute_output_shape = conv_output_shape,
    .convert_weights = conv_convert_weights,
};

#define CONV_CLASS(var, cname, initfn)                                                             \
    const kc_class var = {                                                                         \
        .abi = KC_CLASS_ABI,                                                                       \
        .kind = KC_KIND_LAYER,                                                                     \
        .name = cname,                                                                             \
        .size = sizeof(conv_layer),                                                                \
        .config_version = 1,                                                                       \
        .init = initfn,                                                                            \
        .fini = conv_fini,                                                                         \
        .get_config = conv_get_config,                                                             \
        .from_config = conv_from_config,                                                           \
        .methods = &conv_methods,                                                                  \
    };

CONV_CLASS(kc__conv1d_class, "Conv1D", conv1d_init)
CONV_CLASS(kc__conv2d_class, "Conv2D", conv2d_init)
CONV_CLASS(kc__conv3d_class, "Conv3D", conv3d_init)
CONV_CLASS(kc__conv1d_transpose_class, "Conv1DTranspose", conv1dt_init)
CONV_CLASS(kc__conv2d_transpose_class, "Conv2DTranspose", conv2dt_init)
CONV_CLASS(kc__conv3d_transpose_class, "Conv3DTranspose", conv3dt_init)
CONV_CLASS(kc__depthwise_conv1d_class, "DepthwiseConv1D", dw1d_init)
CONV_CLASS(kc__depthwise_conv2d_class, "DepthwiseConv2D", dw2d_init)
CONV_CLASS(kc__separable_conv1d_class, "SeparableConv1D", sep1d_init)
CONV_CLASS(kc__separable_conv2d_class, "SeparableConv2D", sep2d_init)

/* ---- inference slot ----------------------------------------------------------------------------- */

/* Channels-last convolutions of every kind but the transposed ones; a
 * separable one is its depthwise part with the 1x1 kernel after it. */
void kc__conv_describe(const kc_object *self, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    const conv_layer *c = (const conv_layer *)self;
    (void)in;
    if (n_in != 1 || !c->kernel || c->channels_first || c->kind == CONV_T) return;
    kc__layer_infer t = *out;
    if (!kc__describe_activation(c->activation, &t)) return;
    t.kind = KC__LI_CONV;
    t.nsp = c->rank;
    for (int i = 0; i < c->rank; i++) {
        t.k[i] = c->kernel_size[i];
        t.stride[i] = c->strides[i];
        t.dilation[i] = c->dilation[i];
    }
    t.padding = c->padding;
    t.groups = c->groups;
    t.depthwise = c->kind == DEPTHWISE || c->kind == SEPARABLE;
    t.depth_multiplier = c->depth_multiplier;
    t.kernel = c->kernel;
    t.pointwise = c->pointwise;
    t.bias = c->bias;
    *out = t;
}
