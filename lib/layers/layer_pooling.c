/* Pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and the
 * global ones, GlobalMaxPooling1D/2D/3D and GlobalAveragePooling1D/2D/3D.
 *
 * Config keys (tf.keras 2.15 / Keras 3): pool_size (default 2 per axis),
 * strides (null: pool_size), padding ("valid" or "same"), data_format;
 * global layers: data_format and keepdims. Windows go through
 * lib/autodiff/op_pool.c; average pooling with "same" padding divides by
 * the number of real values in each window, as TensorFlow does. Global
 * pooling is a mean or max over the spatial axes (kc_reduce_*), and
 * GlobalAveragePooling1D honours a mask as Keras does: masked steps are
 * left out of the mean, and no mask goes further. */
#include "conv_layers_int.h"
#include "layer_infer.h"

#include <string.h>

typedef struct pool_layer {
    kc_layer base;
    kc__pool_kind kind;
    bool global;
    int rank;                      /* spatial axes, 1..3 */
    int64_t pool_size[3], strides[3];
    kc__padding padding;
    bool channels_first;
    bool keepdims;                 /* global */
} pool_layer;

static kc_status pool_init(kc_object *self, kc__pool_kind kind, bool global, int rank)
{
    pool_layer *p = (pool_layer *)self;
    p->kind = kind;
    p->global = global;
    p->rank = rank;
    /* Keras: only GlobalAveragePooling1D takes masks (and drops them) */
    p->base.supports_masking = global && kind == KC__POOL_AVG && rank == 1;
    for (int i = 0; i < 3; i++) p->pool_size[i] = p->strides[i] = 2;
    return KC_OK;
}

#define POOL_INIT(fn, kind, global, rank)                                                          \
    static kc_status fn(kc_object *self, kc_error *err)                                            \
    {                                                                                              \
        (void)err;                                                                                 \
        return pool_init(self, kind, global, rank);                                                \
    }
POOL_INIT(max1_init, KC__POOL_MAX, false, 1)
POOL_INIT(max2_init, KC__POOL_MAX, false, 2)
POOL_INIT(max3_init, KC__POOL_MAX, false, 3)
POOL_INIT(avg1_init, KC__POOL_AVG, false, 1)
POOL_INIT(avg2_init, KC__POOL_AVG, false, 2)
POOL_INIT(avg3_init, KC__POOL_AVG, false, 3)
POOL_INIT(gmax1_init, KC__POOL_MAX, true, 1)
POOL_INIT(gmax2_init, KC__POOL_MAX, true, 2)
POOL_INIT(gmax3_init, KC__POOL_MAX, true, 3)
POOL_INIT(gavg1_init, KC__POOL_AVG, true, 1)
POOL_INIT(gavg2_init, KC__POOL_AVG, true, 2)
POOL_INIT(gavg3_init, KC__POOL_AVG, true, 3)

static const char *cls_name(const pool_layer *p) { return p->base.base.cls->name; }

static kc_status pool_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    pool_layer *p = (pool_layer *)self;
    kc_status rc = kc__cfg_data_format(ctx, cfg, &p->channels_first, err);
    if (p->global) {
        if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "keepdims", KC_CFG_NULLABLE, false, &p->keepdims, err);
        return rc;
    }
    if (rc == KC_OK) rc = kc_cfg_int_tuple(ctx, cfg, "pool_size", KC_CFG_POSITIVE | KC_CFG_NULLABLE, p->rank, 2, p->pool_size, err);
    const json_t *s = json_object_get(cfg, "strides");
    if (rc == KC_OK && s && !json_is_null(s))
        rc = kc_cfg_int_tuple(ctx, cfg, "strides", KC_CFG_POSITIVE, p->rank, 1, p->strides, err);
    else
        memcpy(p->strides, p->pool_size, sizeof(p->strides));
    if (rc == KC_OK) rc = kc__cfg_padding(ctx, cfg, false, &p->padding, err);
    return rc;
}

static kc_status pool_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const pool_layer *p = (const pool_layer *)self;
    kc_status rc = KC_OK;
    if (!p->global) {
        rc = kc__cfg_set_tuple(cfg, "pool_size", p->pool_size, p->rank, err);
        if (rc == KC_OK && json_object_set_new(cfg, "padding", json_string(kc__padding_name(p->padding))))
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
        if (rc == KC_OK) rc = kc__cfg_set_tuple(cfg, "strides", p->strides, p->rank, err);
    }
    if (rc == KC_OK) rc = kc__cfg_set_data_format(cfg, p->channels_first, err);
    if (rc == KC_OK && p->global && json_object_set_new(cfg, "keepdims", json_boolean(p->keepdims)))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    return rc;
}

static kc_status pool_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                   int *n_out, kc_error *err)
{
    (void)n_in;
    const pool_layer *p = (const pool_layer *)self;
    kc_status rc = kc__check_spatial_rank(&in[0], p->rank, p->channels_first, cls_name(p), err);
    if (rc != KC_OK) return rc;
    int64_t sp[3], c, osp[3];
    kc__spatial_dims(&in[0], p->rank, p->channels_first, sp, &c);
    *n_out = 1;
    if (p->global) {
        if (p->keepdims) {
            for (int i = 0; i < p->rank; i++) osp[i] = 1;
            out[0] = kc__spatial_shape(in[0].dims[0], osp, p->rank, c, p->channels_first);
        } else {
            out[0] = kc_shape_make(2, (int64_t[]){in[0].dims[0], c});
        }
        return KC_OK;
    }
    for (int i = 0; i < p->rank; i++) {
        osp[i] = kc__conv_out_length(sp[i], p->pool_size[i], p->padding, p->strides[i], 1);
        if (sp[i] >= 0 && osp[i] <= 0) {
            char buf[96];
            return kc__errf(err, KC_ESHAPE, "%s: the input %s is smaller than pool_size %lld on spatial axis %d (padding 'valid')",
                            cls_name(p), kc_shape_format(&in[0], buf, sizeof(buf)), (long long)p->pool_size[i], i + 1);
        }
    }
    out[0] = kc__spatial_shape(in[0].dims[0], osp, p->rank, c, p->channels_first);
    return KC_OK;
}

/* Keras' GlobalAveragePooling1D with a mask: sum(x * m) / sum(m) over the
 * steps. */
static kc_tensor *masked_mean(const pool_layer *p, kc_tensor *x, kc_tensor *mask, kc_error *err)
{
    int steps = p->channels_first ? 2 : 1;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *m = kc_scope_take(s, kc_cast(mask, KC_FLOAT32, err));
    m = kc_scope_take(s, kc_expand_dims(m, p->channels_first ? 1 : 2, err));
    kc_tensor *num = kc_scope_take(s, kc_reduce_sum(kc_scope_take(s, kc_mul(x, m, err)), &steps, 1, p->keepdims, err));
    kc_tensor *den = kc_scope_take(s, kc_reduce_sum(m, &steps, 1, p->keepdims, err));
    kc_tensor *y = kc_div(num, den, err);
    kc_scope_free(s);
    return y;
}

static kc_status pool_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                           kc_error *err)
{
    (void)n_out;
    pool_layer *p = (pool_layer *)self;
    kc_tensor *x = a->inputs[0];
    if (p->global) {
        kc_tensor *mask = a->masks ? a->masks[0] : NULL;
        if (mask && p->base.supports_masking) {
            out[0] = masked_mean(p, x, mask, err);
        } else {
            int axes[3], first = p->channels_first ? 2 : 1;
            for (int i = 0; i < p->rank; i++) axes[i] = first + i;
            out[0] = p->kind == KC__POOL_MAX ? kc_reduce_max(x, axes, p->rank, p->keepdims, err)
                                             : kc_reduce_mean(x, axes, p->rank, p->keepdims, err);
        }
        return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
    }
    kc_tensor *xl = kc__to_channels_last(x, p->rank, p->channels_first, err);
    kc_tensor *y = NULL;
    if (xl) {
        kc__conv_geom g;
        memset(&g, 0, sizeof(g));
        g.nsp = p->rank;
        g.batch = kc_tensor_dim(xl, 0);
        for (int i = 0; i < p->rank; i++) {
            g.k[i] = p->pool_size[i];
            g.stride[i] = p->strides[i];
            g.dilation[i] = 1;
        }
        g.cin = g.cout = kc_tensor_dim(xl, p->rank + 1);
        g.groups = 1;
        if (kc__conv_geom_init(&g, kc_tensor_dims(xl) + 1, p->padding, err) == KC_OK) y = kc__pool(xl, p->kind, &g, err);
        kc_tensor_unref(xl);
    }
    out[0] = kc__from_channels_last(y, p->rank, p->channels_first, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

/* GlobalAveragePooling1D consumes its mask. */
static kc_status pool_compute_mask(kc_object *self, const kc_call_args *a, kc_tensor *const *out,
                                   int n_out, kc_tensor **out_masks, kc_error *err)
{
    (void)self, (void)a, (void)out, (void)err;
    for (int i = 0; i < n_out; i++) out_masks[i] = NULL;
    return KC_OK;
}

static const kc_layer_methods pool_methods = {
    .call = pool_call,
    .compute_output_shape = pool_output_shape,
    .compute_mask = pool_compute_mask,
};

#define POOL_CLASS(var, cname, initfn)                                                             \
    const kc_class var = {                                                                         \
        .abi = KC_CLASS_ABI,                                                                       \
        .kind = KC_KIND_LAYER,                                                                     \
        .name = cname,                                                                             \
        .size = sizeof(pool_layer),                                                                \
        .config_version = 1,                                                                       \
        .init = initfn,                                                                            \
        .get_config = pool_get_config,                                                             \
        .from_config = pool_from_config,                                                           \
        .methods = &pool_methods,                                                                  \
    };

POOL_CLASS(kc__max_pooling1d_class, "MaxPooling1D", max1_init)
POOL_CLASS(kc__max_pooling2d_class, "MaxPooling2D", max2_init)
POOL_CLASS(kc__max_pooling3d_class, "MaxPooling3D", max3_init)
POOL_CLASS(kc__average_pooling1d_class, "AveragePooling1D", avg1_init)
POOL_CLASS(kc__average_pooling2d_class, "AveragePooling2D", avg2_init)
POOL_CLASS(kc__average_pooling3d_class, "AveragePooling3D", avg3_init)
POOL_CLASS(kc__global_max_pooling1d_class, "GlobalMaxPooling1D", gmax1_init)
POOL_CLASS(kc__global_max_pooling2d_class, "GlobalMaxPooling2D", gmax2_init)
POOL_CLASS(kc__global_max_pooling3d_class, "GlobalMaxPooling3D", gmax3_init)
POOL_CLASS(kc__global_average_pooling1d_class, "GlobalAveragePooling1D", gavg1_init)
POOL_CLASS(kc__global_average_pooling2d_class, "GlobalAveragePooling2D", gavg2_init)
POOL_CLASS(kc__global_average_pooling3d_class, "GlobalAveragePooling3D", gavg3_init)

/* Inference slot: channels-last pooling windows and global pooling. */
void kc__pool_describe(const kc_object *self, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    const pool_layer *p = (const pool_layer *)self;
    (void)in;
    if (n_in != 1 || p->channels_first) return;
    out->kind = p->global ? KC__LI_GPOOL : KC__LI_POOL;
    out->pool = p->kind;
    out->nsp = p->rank;
    out->padding = p->padding;
    for (int i = 0; i < p->rank; i++) {
        out->k[i] = p->pool_size[i];
        out->stride[i] = p->strides[i];
        out->dilation[i] = 1;
    }
}
