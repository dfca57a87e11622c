/* Regularization layers: Dropout, GaussianNoise, GaussianDropout and
 * ActivityRegularization (Keras' keras.layers.regularization package).
 *
 * The first three act only in training calls and pass the input through
 * otherwise; all four keep the shape and pass masks through.
 *   Dropout(rate, noise_shape, seed): inverted dropout, as tf.nn.dropout:
 *     each unit is kept when a uniform draw is >= rate and then scaled by
 *     1 / (1 - rate), so the expected value is unchanged. noise_shape (a
 *     list whose nulls take the input's size) draws one decision per cell of
 *     that shape and broadcasts it, e.g. (batch, 1, features) drops the same
 *     features at every timestep. rate 0 is the identity; rate 1 drops
 *     everything (TensorFlow refuses rate 1 at call time).
 *   GaussianNoise(stddev, seed): adds normal(0, stddev) noise.
 *   GaussianDropout(rate, seed): multiplies by normal(1, sqrt(rate / (1 -
 *     rate))) noise when 0 < rate < 1 (tf.keras 2.15 passes the input
 *     through for rate 0 or 1).
 * The noise is a constant for gradient purposes: gradients flow through the
 * kept units scaled (Dropout, GaussianDropout) or unchanged (GaussianNoise).
 * A seeded layer draws from its own stream (kc__layer_rng), so the same
 * config gives the same sequence of masks; unseeded layers use the global
 * generator. ckeras' random numbers are not TensorFlow's: only the
 * statistics match Keras, not the individual masks.
 *
 * ActivityRegularization(l1, l2) is the identity with an L1L2 activity
 * regularizer, which is how Keras builds it: the layer base then adds
 * l1 * sum|y| + l2 * sum(y^2), divided by the batch size (tf.keras 2's
 * activity regularization), to the layer's losses on every call. */
#include "layer_util.h"

#include <ckeras/ops.h>

#include <math.h>

/* A rate in [0, 1], required (the first positional argument in Keras). */
static kc_status read_rate(const kc_config_ctx *ctx, const json_t *cfg, double *rate, kc_error *err)
{
    kc_status rc = kc_cfg_float(ctx, cfg, "rate", KC_CFG_REQUIRED | KC_CFG_NONNEG, 0.0, rate, err);
    if (rc == KC_OK && !(*rate <= 1.0)) {
        kc_config_ctx c = kc_config_ctx_child(ctx, "rate", 0);
        kc__errf(err, KC_EFORMAT, "%s: expected a number between 0 and 1, got %g", c.path, *rate);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    return rc;
}

static kc_status masking_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

/* The input itself: what these layers return outside training. */
static kc_status pass_through(const kc_call_args *a, kc_tensor **out)
{
    out[0] = kc_tensor_ref(a->inputs[0]);
    return KC_OK;
}

/* ---- Dropout ---------------------------------------------------------------------------- */

typedef struct dropout {
    kc_layer base;
    double rate;          /* in [0, 1] */
    bool has_noise_shape; /* noise_shape not null */
    kc_shape noise_shape; /* -1 where the input's size is used */
    kc__layer_rng rng;
} dropout;

static kc_status dropout_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const dropout *d = (const dropout *)self;
    kc_status rc = kc_cfg_set_float(cfg, "rate", d->rate, err);
    if (rc != KC_OK) return rc;
    json_t *ns = d->has_noise_shape ? kc__shape_to_json(&d->noise_shape) : json_null();
    if (!ns || json_object_set_new(cfg, "noise_shape", ns))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return kc__layer_rng_write(&d->rng, cfg, err);
}

static kc_status dropout_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err)
{
    dropout *d = (dropout *)self;
    kc_status rc = read_rate(ctx, cfg, &d->rate, err);
    if (rc == KC_OK)
        rc = kc__cfg_shape(ctx, cfg, "noise_shape", &d->has_noise_shape, &d->noise_shape, err);
    if (rc == KC_OK) rc = kc__layer_rng_read(&d->rng, ctx, cfg, err);
    return rc;
}

static kc_status dropout_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                      kc_shape *out, int *n_out, kc_error *err)
{
    const dropout *d = (const dropout *)self;
    if (d->has_noise_shape) {
        const kc_shape *ns = &d->noise_shape;
        bool ok = ns->ndim == in[0].ndim;
        for (int i = 0; ok && i < ns->ndim; i++)
            ok = ns->dims[i] < 0 || ns->dims[i] == 1 || in[0].dims[i] < 0 ||
                 ns->dims[i] == in[0].dims[i];
        if (!ok) {
            char a[160], b[160];
            return kc__errf(err, KC_ESHAPE,
                            "Dropout noise_shape %s does not broadcast to inputs of shape %s (same "
                            "rank; each size 1, null or the input's)",
                            kc_shape_format(ns, a, sizeof(a)),
                            kc_shape_format(&in[0], b, sizeof(b)));
        }
    }
    return kc__same_shape(self, in, n_in, out, n_out, err);
}

static kc_status dropout_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                              kc_error *err)
{
    (void)n_out;
    dropout *d = (dropout *)self;
    kc_tensor *x = a->inputs[0];
    if (!a->training || d->rate <= 0.0) return pass_through(a, out);
    int nd = kc_tensor_ndim(x);
    int64_t dims[KC_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        dims[i] = d->has_noise_shape && d->noise_shape.dims[i] >= 0 ? d->noise_shape.dims[i]
                                                                    : kc_tensor_dim(x, i);
    kc_tensor *mask = kc_tensor_empty(KC_FLOAT32, nd, dims, err);
    if (!mask) return kc__error_code(err, KC_ENOMEM);
    /* keep where uniform >= rate, scaled by 1 / (1 - rate) (float32, as TF) */
    float *m = kc_tensor_f32(mask);
    float scale = d->rate < 1.0 ? (float)(1.0 / (1.0 - d->rate)) : 0.0f;
    kc_rng *rng = kc__layer_rng_get(&d->rng);
    for (int64_t i = 0; i < kc_tensor_size(mask); i++)
        m[i] = kc_rng_uniform(rng) >= d->rate ? scale : 0.0f;
    out[0] = kc_mul(x, mask, err);
    kc_tensor_unref(mask);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods dropout_methods = {
    .call = dropout_call,
    .compute_output_shape = dropout_output_shape,
};

KC__LAYER_CLASS(kc__dropout_class, "Dropout", dropout, masking_init, NULL, dropout_get_config,
                dropout_from_config, &dropout_methods);

/* ---- GaussianNoise and GaussianDropout ------------------------------------------------------ */

typedef struct noise {
    kc_layer base;
    double param; /* GaussianNoise: stddev (>= 0); GaussianDropout: rate in [0, 1] */
    kc__layer_rng rng;
} noise;

static kc_status gaussian_noise_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const noise *n = (const noise *)self;
    kc_status rc = kc_cfg_set_float(cfg, "stddev", n->param, err);
    return rc == KC_OK ? kc__layer_rng_write(&n->rng, cfg, err) : rc;
}

static kc_status gaussian_noise_from_config(kc_object *self, const json_t *cfg,
                                            const kc_config_ctx *ctx, kc_error *err)
{
    noise *n = (noise *)self;
    /* tf.keras takes any stddev; Keras 3 also refuses stddev > 1, which
     * has no reason we know of, so only negatives are refused here */
    kc_status rc =
        kc__cfg_finite(ctx, cfg, "stddev", KC_CFG_REQUIRED | KC_CFG_NONNEG, 0.0, &n->param, err);
    return rc == KC_OK ? kc__layer_rng_read(&n->rng, ctx, cfg, err) : rc;
}

/* x + noise (GaussianNoise) or x * noise (GaussianDropout), the noise drawn
 * from normal(mean, stddev) with x's shape. */
static kc_status add_noise(noise *n, kc_tensor *x, float mean, float stddev, bool multiply,
                           kc_tensor **out, kc_error *err)
{
    kc_tensor *z =
        kc__layer_rng_normal(&n->rng, kc_tensor_ndim(x), kc_tensor_dims(x), mean, stddev, err);
    out[0] = multiply ? kc_mul(x, z, err) : kc_add(x, z, err);
    kc_tensor_unref(z);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_status gaussian_noise_call(kc_object *self, const kc_call_args *a, kc_tensor **out,
                                     int n_out, kc_error *err)
{
    (void)n_out;
    noise *n = (noise *)self;
    if (!a->training) return pass_through(a, out);
    return add_noise(n, a->inputs[0], 0.0f, (float)n->param, false, out, err);
}

static const kc_layer_methods gaussian_noise_methods = {
    .call = gaussian_noise_call,
    .compute_output_shape = kc__same_shape,
};

KC__LAYER_CLASS(kc__gaussian_noise_class, "GaussianNoise", noise, masking_init, NULL,
                gaussian_noise_get_config, gaussian_noise_from_config, &gaussian_noise_methods);

static kc_status gaussian_dropout_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const noise *n = (const noise *)self;
    kc_status rc = kc_cfg_set_float(cfg, "rate", n->param, err);
    return rc == KC_OK ? kc__layer_rng_write(&n->rng, cfg, err) : rc;
}

static kc_status gaussian_dropout_from_config(kc_object *self, const json_t *cfg,
                                              const kc_config_ctx *ctx, kc_error *err)
{
    noise *n = (noise *)self;
    kc_status rc = read_rate(ctx, cfg, &n->param, err);
    return rc == KC_OK ? kc__layer_rng_read(&n->rng, ctx, cfg, err) : rc;
}

static kc_status gaussian_dropout_call(kc_object *self, const kc_call_args *a, kc_tensor **out,
                                       int n_out, kc_error *err)
{
    (void)n_out;
    noise *n = (noise *)self;
    if (!a->training || !(n->param > 0.0 && n->param < 1.0)) return pass_through(a, out);
    return add_noise(n, a->inputs[0], 1.0f, (float)sqrt(n->param / (1.0 - n->param)), true, out,
                     err);
}

static const kc_layer_methods gaussian_dropout_methods = {
    .call = gaussian_dropout_call,
    .compute_output_shape = kc__same_shape,
};

KC__LAYER_CLASS(kc__gaussian_dropout_class, "GaussianDropout", noise, masking_init, NULL,
                gaussian_dropout_get_config, gaussian_dropout_from_config,
                &gaussian_dropout_methods);

/* ---- ActivityRegularization ------------------------------------------------------------------ */

typedef struct activity_regularization {
    kc_layer base;
    double l1, l2; /* >= 0, as configured */
} activity_regularization;

/* A fresh layer regularizes with L1L2(0, 0), as Keras' defaults: a zero
 * loss term on every call. */
static kc_status activity_regularization_init(kc_object *self, kc_error *err)
{
    kc_layer *l = kc__as_layer(self);
    l->supports_masking = true;
    l->activity_regularizer = kc_regularizer_l1l2(0.0, 0.0, err);
    return l->activity_regularizer ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_status activity_regularization_get_config(const kc_object *self, json_t *cfg,
                                                    kc_error *err)
{
    const activity_regularization *r = (const activity_regularization *)self;
    kc_status rc = kc_cfg_set_float(cfg, "l1", r->l1, err);
    return rc == KC_OK ? kc_cfg_set_float(cfg, "l2", r->l2, err) : rc;
}

static kc_status activity_regularization_from_config(kc_object *self, const json_t *cfg,
                                                     const kc_config_ctx *ctx, kc_error *err)
{
    activity_regularization *r = (activity_regularization *)self;
    kc_status rc = kc__cfg_finite(ctx, cfg, "l1", KC_CFG_NONNEG, 0.0, &r->l1, err);
    if (rc == KC_OK) rc = kc__cfg_finite(ctx, cfg, "l2", KC_CFG_NONNEG, 0.0, &r->l2, err);
    if (rc != KC_OK) return rc;
    /* the layer's own L1L2 replaces any activity_regularizer key, as the
     * Keras constructor passes it to the base */
    kc_object *reg = kc_regularizer_l1l2(r->l1, r->l2, err);
    if (!reg) return kc__error_code(err, KC_ENOMEM);
    kc_object_unref(r->base.activity_regularizer);
    r->base.activity_regularizer = reg;
    return KC_OK;
}

static kc_status activity_regularization_call(kc_object *self, const kc_call_args *a,
                                              kc_tensor **out, int n_out, kc_error *err)
{
    (void)self;
    (void)n_out;
    (void)err;
    return pass_through(a, out);
}

static const kc_layer_methods activity_regularization_methods = {
    .call = activity_regularization_call,
    .compute_output_shape = kc__same_shape,
};

KC__LAYER_CLASS(kc__activity_regularization_class, "ActivityRegularization",
                activity_regularization, activity_regularization_init, NULL,
                activity_regularization_get_config, activity_regularization_from_config,
                &activity_regularization_methods);
