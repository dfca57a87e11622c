/* BatchNormalization: normalize over every axis but `axis` (the channels).
 *
 * Weights, in Keras' order: gamma (if scale), beta (if center),
 * moving_mean and moving_variance (non-trainable), each of shape (C,).
 * Training: y = (x - mean_b) / sqrt(var_b + epsilon) * gamma + beta with
 * the batch mean and biased batch variance, and the moving statistics move
 * toward them: moving -= (moving - batch) * (1 - momentum). Inference (or a
 * frozen layer, as tf.keras 2 does) uses the moving statistics.
 *
 * The moving variance is updated with the biased batch variance, as Keras 3
 * and TensorFlow.js do. tf.keras 2's fused kernel (4-D inputs) folds in an
 * n/(n-1) factor there (tensorflow/tensorflow#55545); predictions are not
 * affected, only the statistics after training steps.
 *
 * `axis` is written back as tf.keras writes it after building: a list of
 * non-negative axes ([3] for channels-last images).
 *
 * In a data-parallel fit (kc_strategy_fit) the batch statistics are
 * those of the whole global batch, summed over the replicas (Keras'
 * BatchNormalization(synchronized=True), tf.keras' SyncBatchNormalization),
 * whatever `synchronized` says: Keras' MirroredStrategy normalizes each
 * replica by its own share unless asked, which makes the result depend on
 * the number of processes; ckeras promises N processes train as one does
 * with the same global batch, and only global statistics (and their
 * gradients, which the cross-replica sum carries) give that. The price is
 * two small all-reduces per layer in the forward pass and two in the
 * backward pass. */
#include "cross_replica.h"
#include "layer_infer.h"
#include "layers_int.h"

#include <string.h>

typedef struct batchnorm {
    kc_layer base;
    int64_t axes[KC_MAX_DIMS]; /* as configured (may be negative before build) */
    int n_axes;
    double momentum, epsilon;
    bool center, scale;
    kc_object *beta_init, *gamma_init, *mean_init, *var_init;
    kc_object *beta_reg, *gamma_reg, *beta_con, *gamma_con;
    kc_variable *gamma, *beta, *moving_mean, *moving_var; /* borrowed */
    int rank;                  /* input rank seen at build */
    bool normalize_layer;      /* LayerNormalization: statistics over `axes` */
} batchnorm;

static kc_status bn_init(kc_object *self, kc_error *err)
{
    (void)err;
    batchnorm *b = (batchnorm *)self;
    b->base.supports_masking = true;
    b->axes[0] = -1;
    b->n_axes = 1;
    b->momentum = 0.99;
    b->epsilon = 1e-3;
    b->center = b->scale = true;
    return KC_OK;
}

static void bn_fini(kc_object *self)
{
    batchnorm *b = (batchnorm *)self;
    kc_object *objs[] = {b->beta_init, b->gamma_init, b->mean_init, b->var_init,
                         b->beta_reg, b->gamma_reg, b->beta_con, b->gamma_con};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) kc_object_unref(objs[i]);
}

static kc_status read_axes(batchnorm *b, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    const json_t *v = json_object_get(cfg, "axis");
    if (!v || json_is_null(v)) return KC_OK;
    kc_config_ctx c = kc_config_ctx_child(ctx, "axis", 0);
    if (json_is_integer(v)) {
        b->axes[0] = json_integer_value(v);
        b->n_axes = 1;
        return KC_OK;
    }
    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > KC_MAX_DIMS) {
        kc__errf(err, KC_EFORMAT, "%s: expected an integer or a list of integers", c.path);
        return KC_EFORMAT;
    }
    b->n_axes = (int)json_array_size(v);
    for (int i = 0; i < b->n_axes; i++) {
        const json_t *a = json_array_get(v, (size_t)i);
        if (!json_is_integer(a)) {
            kc__errf(err, KC_EFORMAT, "%s[%d]: expected an integer", c.path, i);
            return KC_EFORMAT;
        }
        b->axes[i] = json_integer_value(a);
    }
    return KC_OK;
}

/* center / scale: booleans, or the integers 0 / 1 that Python takes for
 * them (func_dscnn_depthwise_k2.13.1.h5, written by tf.keras 2.13, stores
 * "scale": 1). */
static kc_status flag(const kc_config_ctx *ctx, const json_t *cfg, const char *key, bool *out, kc_error *err)
{
    const json_t *v = json_object_get(cfg, key);
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = json_integer_value(v) == 1;
        return KC_OK;
    }
    return kc_cfg_bool(ctx, cfg, key, 0, true, out, err);
}

static kc_status bn_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    batchnorm *b = (batchnorm *)self;
    kc_status rc = read_axes(b, cfg, ctx, err);
    if (rc == KC_OK && !b->normalize_layer)
        rc = kc_cfg_float(ctx, cfg, "momentum", KC_CFG_NONNEG, 0.99, &b->momentum, err);
    if (rc == KC_OK && b->momentum > 1.0)
        rc = kc__errf(err, KC_EFORMAT, "%s.momentum: expected a number in [0, 1], got %g", ctx->path, b->momentum);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "epsilon", KC_CFG_POSITIVE, 1e-3, &b->epsilon, err);
    if (rc == KC_OK) rc = flag(ctx, cfg, "center", &b->center, err);
    if (rc == KC_OK) rc = flag(ctx, cfg, "scale", &b->scale, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "beta_initializer", KC_KIND_INITIALIZER, "zeros", &b->beta_init, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "gamma_initializer", KC_KIND_INITIALIZER, "ones", &b->gamma_init, err);
    if (rc == KC_OK && !b->normalize_layer) {
        rc = kc_cfg_object(ctx, cfg, "moving_mean_initializer", KC_KIND_INITIALIZER, "zeros", &b->mean_init, err);
        if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "moving_variance_initializer", KC_KIND_INITIALIZER, "ones", &b->var_init, err);
    }
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "beta_regularizer", KC_KIND_REGULARIZER, NULL, &b->beta_reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "gamma_regularizer", KC_KIND_REGULARIZER, NULL, &b->gamma_reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "beta_constraint", KC_KIND_CONSTRAINT, NULL, &b->beta_con, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "gamma_constraint", KC_KIND_CONSTRAINT, NULL, &b->gamma_con, err);
    bool renorm = false;
    int64_t vbs = -1;
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "renorm", KC_CFG_NULLABLE, false, &renorm, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "virtual_batch_size", KC_CFG_NULLABLE, -1, &vbs, err);
    if (rc == KC_OK && (renorm || vbs > 0))
        rc = kc__errf(err, KC_EUNSUPPORTED, "%s: batch renormalization and virtual batches are not supported", ctx->path);
    return rc;
}

static kc_status bn_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const batchnorm *b = (const batchnorm *)self;
    json_t *axis;
    if (b->rank > 0 || b->n_axes > 1) { /* tf.keras: a list of non-negative axes once built */
        axis = json_array();
        for (int i = 0; axis && i < b->n_axes; i++)
            json_array_append_new(axis, json_integer(b->axes[i] < 0 && b->rank > 0 ? b->axes[i] + b->rank : b->axes[i]));
    } else {
        axis = json_integer(b->axes[0]);
    }
    kc_status rc = KC_OK;
    if (!axis || json_object_set_new(cfg, "axis", axis)) return kc__errf(err, KC_ENOMEM, "out of memory");
    if (!b->normalize_layer) rc = kc_cfg_set_float(cfg, "momentum", b->momentum, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "epsilon", b->epsilon, err);
    if (rc == KC_OK && (json_object_set_new(cfg, "center", json_boolean(b->center)) ||
                        json_object_set_new(cfg, "scale", json_boolean(b->scale))))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "beta_initializer", b->beta_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "gamma_initializer", b->gamma_init, err);
    if (rc == KC_OK && !b->normalize_layer) {
        rc = kc_cfg_set_object(cfg, "moving_mean_initializer", b->mean_init, err);
        if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "moving_variance_initializer", b->var_init, err);
    }
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "beta_regularizer", b->beta_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "gamma_regularizer", b->gamma_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "beta_constraint", b->beta_con, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "gamma_constraint", b->gamma_con, err);
    return rc;
}

/* Normalized axes for an input of this rank; false if out of range. */
static bool resolve_axes(const batchnorm *b, int rank, bool *is_axis)
{
    for (int i = 0; i < rank; i++) is_axis[i] = false;
    for (int i = 0; i < b->n_axes; i++) {
        int64_t a = b->axes[i] < 0 ? b->axes[i] + rank : b->axes[i];
        if (a < 0 || a >= rank || (!b->normalize_layer && a == 0 && rank > 1)) return false;
        is_axis[a] = true;
    }
    return true;
}

static kc_status bn_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                 int *n_out, kc_error *err)
{
    (void)n_in;
    const batchnorm *b = (const batchnorm *)self;
    bool is_axis[KC_MAX_DIMS];
    char buf[64];
    if (!resolve_axes(b, in[0].ndim, is_axis))
        return kc__errf(err, KC_ESHAPE, "axis %lld is out of range for inputs of rank %d", (long long)b->axes[0],
                        in[0].ndim);
    for (int i = 0; i < in[0].ndim; i++) {
        if (is_axis[i] && in[0].dims[i] < 0)
            return kc__errf(err, KC_ESHAPE, "axis %d of the input %s must be known", i, kc_shape_format(&in[0], buf, sizeof(buf)));
    }
    if (b->rank > 0 && in[0].ndim != b->rank && !b->normalize_layer)
        return kc__errf(err, KC_ESHAPE, "expected inputs of rank %d, got rank %d", b->rank, in[0].ndim);
    if (b->gamma || b->moving_mean) {
        const kc_tensor *p = kc_variable_value(b->gamma ? b->gamma : b->moving_mean);
        int64_t want = kc_tensor_size(p), got = 1;
        for (int i = 0; i < in[0].ndim; i++)
            if (is_axis[i]) got *= in[0].dims[i];
        if (want != got)
            return kc__errf(err, KC_ESHAPE, "the normalized axes hold %lld values, the layer was built for %lld",
                            (long long)got, (long long)want);
    }
    out[0] = in[0];
    *n_out = 1;
    return KC_OK;
}

static kc_status bn_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    batchnorm *b = (batchnorm *)self;
    bool is_axis[KC_MAX_DIMS];
    resolve_axes(b, in[0].ndim, is_axis);
    int64_t dims[KC_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < in[0].ndim; i++)
        if (is_axis[i]) dims[nd++] = in[0].dims[i];
    b->rank = in[0].ndim;
    /* canonical axes, as tf.keras stores them */
    for (int i = 0; i < b->n_axes; i++)
        if (b->axes[i] < 0) b->axes[i] += b->rank;
    if (b->scale && !(b->gamma = kc_layer_add_weight(self, "gamma", nd, dims, b->gamma_init, b->gamma_reg, b->gamma_con, true, err)))
        return kc__error_code(err, KC_ENOMEM);
    if (b->center && !(b->beta = kc_layer_add_weight(self, "beta", nd, dims, b->beta_init, b->beta_reg, b->beta_con, true, err)))
        return kc__error_code(err, KC_ENOMEM);
    if (!b->normalize_layer) {
        if (!(b->moving_mean = kc_layer_add_weight(self, "moving_mean", nd, dims, b->mean_init, NULL, NULL, false, err)) ||
            !(b->moving_var = kc_layer_add_weight(self, "moving_variance", nd, dims, b->var_init, NULL, NULL, false, err)))
            return kc__error_code(err, KC_ENOMEM);
    }
    return KC_OK;
}

/* A parameter (shape of the normalized axes) viewed for broadcasting. */
static kc_tensor *bview(kc_tensor *p, const kc_shape *x, const bool *is_axis, kc_error *err)
{
    int64_t dims[KC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) dims[i] = is_axis[i] ? x->dims[i] : 1;
    return kc_reshape(p, x->ndim, dims, err);
}

/* Mean and biased variance over the global batch of a data-parallel step:
 * sums over this replica's samples, added up over the replicas, divided by
 * the global count (two passes, as the single-process formula). */
static kc_tensor *global_moments(kc_scope *s, kc_tensor *x, const int *red, int n_red, const kc__cross_replica *cr,
                                 kc_tensor **var, kc_error *err)
{
    int64_t local = 1;
    for (int i = 0; i < n_red; i++) local *= kc_tensor_dim(x, red[i]);
    /* every replica's samples have the same shape: the count per sample is shared */
    int64_t per_sample = cr->local_rows > 0 ? local / cr->local_rows : 0;
    float inv_count = 1.0f / (float)(per_sample * cr->global_rows);
    kc_tensor *sum = kc_scope_take(s, kc_reduce_sum(x, red, n_red, true, err));
    kc_tensor *mean = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc__cross_replica_sum(sum, err)), inv_count, err));
    kc_tensor *d = kc_scope_take(s, kc_sub(x, mean, err));
    kc_tensor *sq = kc_scope_take(s, kc_reduce_sum(kc_scope_take(s, kc_square(d, err)), red, n_red, true, err));
    *var = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc__cross_replica_sum(sq, err)), inv_count, err));
    return mean;
}

static kc_status bn_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    (void)n_out;
    batchnorm *b = (batchnorm *)self;
    kc_tensor *x = a->inputs[0];
    kc_shape xs = kc_tensor_shape(x);
    bool is_axis[KC_MAX_DIMS];
    resolve_axes(b, xs.ndim, is_axis);
    int red[KC_MAX_DIMS], n_red = 0;
    for (int i = 0; i < xs.ndim; i++)
        if (b->normalize_layer ? is_axis[i] : !is_axis[i]) red[n_red++] = i;
    bool batch_stats = b->normalize_layer || (a->training && b->base.trainable);
    kc_scope *s = kc_scope_new(err);
    kc_tensor *mean, *var;
    const kc__cross_replica *cr = b->normalize_layer ? NULL : kc__cross_replica_current();
    if (batch_stats && cr) {
        mean = global_moments(s, x, red, n_red, cr, &var, err);
    } else if (batch_stats) {
        mean = kc_scope_take(s, kc_reduce_mean(x, red, n_red, true, err));
        kc_tensor *d = kc_scope_take(s, kc_sub(x, mean, err));
        var = kc_scope_take(s, kc_reduce_mean(kc_scope_take(s, kc_square(d, err)), red, n_red, true, err));
    } else {
        mean = kc_scope_take(s, bview(kc_variable_value(b->moving_mean), &xs, is_axis, err));
        var = kc_scope_take(s, bview(kc_variable_value(b->moving_var), &xs, is_axis, err));
    }
    kc_tensor *inv = kc_scope_take(s, kc_rsqrt(kc_scope_take(s, kc_add_scalar(var, (float)b->epsilon, err)), err));
    kc_tensor *y = kc_scope_take(s, kc_mul(kc_scope_take(s, kc_sub(x, mean, err)), inv, err));
    if (b->gamma) y = kc_scope_take(s, kc_mul(y, kc_scope_take(s, bview(kc_variable_value(b->gamma), &xs, is_axis, err)), err));
    if (b->beta) y = kc_scope_take(s, kc_add(y, kc_scope_take(s, bview(kc_variable_value(b->beta), &xs, is_axis, err)), err));
    if (y && batch_stats && !b->normalize_layer) {
        /* moving -= (moving - batch) * (1 - momentum), outside any tape */
        float *mm = kc_tensor_f32(kc_variable_value(b->moving_mean));
        float *mv = kc_tensor_f32(kc_variable_value(b->moving_var));
        const float *bm = kc_tensor_cdata(mean), *bv = kc_tensor_cdata(var);
        float k = (float)(1.0 - b->momentum);
        for (int64_t i = 0; i < kc_tensor_size(kc_variable_value(b->moving_mean)); i++) {
            mm[i] -= (mm[i] - bm[i]) * k;
            mv[i] -= (mv[i] - bv[i]) * k;
        }
    }
    out[0] = kc_tensor_ref(y);
    kc_scope_free(s);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods bn_methods = {
    .build = bn_build,
    .call = bn_call,
    .compute_output_shape = bn_output_shape,
};

const kc_class kc__batchnorm_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LAYER,
    .name = "BatchNormalization",
    .size = sizeof(batchnorm),
    .config_version = 1,
    .init = bn_init,
    .fini = bn_fini,
    .get_config = bn_get_config,
    .from_config = bn_from_config,
    .methods = &bn_methods,
};

/* LayerNormalization: the same arithmetic with the statistics taken over
 * `axis` per sample (no moving statistics): weights gamma, beta. */
static kc_status ln_init(kc_object *self, kc_error *err)
{
    kc_status rc = bn_init(self, err);
    ((batchnorm *)self)->normalize_layer = true;
    return rc;
}

const kc_class kc__layernorm_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LAYER,
    .name = "LayerNormalization",
    .size = sizeof(batchnorm),
    .config_version = 1,
    .init = ln_init,
    .fini = bn_fini,
    .get_config = bn_get_config,
    .from_config = bn_from_config,
    .methods = &bn_methods,
};

/* Inference slot: BatchNormalization over one axis, with its moving
 * statistics (what a call with training off uses, frozen or not). */
void kc__batchnorm_describe(const kc_object *self, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    const batchnorm *b = (const batchnorm *)self;
    if (n_in != 1 || b->normalize_layer || b->n_axes != 1 || !b->moving_mean || !b->moving_var) return;
    int64_t a = b->axes[0] < 0 ? b->axes[0] + in[0].ndim : b->axes[0];
    if (a < 1 || a >= in[0].ndim) return;
    out->kind = KC__LI_AFFINE;
    out->axis = (int)a;
    out->gamma = b->gamma;
    out->beta = b->beta;
    out->mean = b->moving_mean;
    out->var = b->moving_var;
    out->epsilon = b->epsilon;
}
