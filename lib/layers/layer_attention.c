/* Attention (Luong, dot-product) and AdditiveAttention (Bahdanau): Keras'
 * BaseDenseAttention layers.
 *
 * call([query, value] or [query, value, key], mask=[query_mask,
 * value_mask], training, return_attention_scores, use_causal_mask) on
 * query [B, Tq, dim], value [B, Tv, dv], key [B, Tv, dim] (key defaults to
 * value):
 *   scores  = Attention "dot":    q k^T, times the scalar weight `scale`
 *                                 when use_scale;
 *             Attention "concat": concat_score_weight * sum(tanh(scale *
 *                                 (q_i + k_j))) (scale only when use_scale);
 *             AdditiveAttention:  sum(scale * tanh(q_i + k_j)), `scale` a
 *                                 [dv] weight when use_scale (default);
 *   weights = softmax(scores - 1e9 where the value mask or the causal mask
 *             is off), then dropout (training);
 *   result  = weights v, zeroed at masked queries.
 * The output carries the query's mask; return_attention_scores adds the
 * weights [B, Tq, Tv] (before dropout) as a second output.
 *
 * Config keys: dropout, use_scale, score_mode (Attention), Keras 3's seed,
 * and the deprecated `causal` (tf.keras < 2.10), read and written back only
 * when true.
 *
 * The dot form is the attention op with one head (two GEMMs per sample,
 * fused mask and softmax: op_attention.c); the other score forms are
 * differentiable ops over [B, Tq, Tv, dim]. */
#include "attention_int.h"

#include "../autodiff/op_attention.h"

#include <string.h>

typedef struct dense_attention {
    kc_layer base;
    bool additive;  /* AdditiveAttention */
    bool use_scale;
    bool concat;    /* Attention score_mode "concat" */
    double dropout;
    bool causal;    /* the deprecated constructor argument */
    kc__layer_rng rng;
    kc_variable *scale, *concat_score_weight; /* borrowed */
} dense_attention;

static const char *const options[] = {"use_causal_mask", "return_attention_scores", NULL};

static kc_status att_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static kc_status additive_init(kc_object *self, kc_error *err)
{
    dense_attention *a = (dense_attention *)self;
    a->additive = true;
    a->use_scale = true;
    return att_init(self, err);
}

static kc_status att_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    dense_attention *a = (dense_attention *)self;
    kc_status rc = kc_cfg_float(ctx, cfg, "dropout", KC_CFG_NULLABLE | KC_CFG_NONNEG, 0.0, &a->dropout, err);
    if (rc == KC_OK && !(a->dropout < 1.0))
        rc = kc__errf(err, KC_EFORMAT, "%s.dropout: expected a rate in [0, 1), got %g", ctx->path, a->dropout);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "use_scale", KC_CFG_NULLABLE, a->additive, &a->use_scale, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "causal", KC_CFG_NULLABLE, false, &a->causal, err);
    if (rc == KC_OK && !a->additive) {
        static const char *const modes[] = {"dot", "concat"};
        int mode = 0;
        rc = kc_cfg_choice(ctx, cfg, "score_mode", KC_CFG_NULLABLE, modes, 2, 0, &mode, err);
        a->concat = mode == 1;
    }
    if (rc == KC_OK) rc = kc__layer_rng_read(&a->rng, ctx, cfg, err);
    return rc;
}

static kc_status att_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const dense_attention *a = (const dense_attention *)self;
    kc_status rc = kc_cfg_set_float(cfg, "dropout", a->dropout, err);
    if (rc == KC_OK && json_object_set_new(cfg, "use_scale", json_boolean(a->use_scale)))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK && !a->additive && json_object_set_new(cfg, "score_mode", json_string(a->concat ? "concat" : "dot")))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK && a->causal && json_object_set_new(cfg, "causal", json_true()))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    return rc;
}

static kc_status att_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                  kc_error *err)
{
    kc_status rc = kc__call_options(self, options, err);
    bool scores = false;
    if (rc == KC_OK) rc = kc__call_option_bool(self, "return_attention_scores", &scores, err);
    if (rc != KC_OK) return rc;
    const kc_shape *q = &in[0], *v = &in[1], *k = n_in > 2 ? &in[2] : v;
    const char *cls = self->cls->name;
    if (q->ndim != 3 || v->ndim != 3 || k->ndim != 3)
        return kc__errf(err, KC_ESHAPE, "%s needs query, value and key of rank 3 (batch, steps, features)", cls);
    if (q->dims[2] >= 0 && k->dims[2] >= 0 && q->dims[2] != k->dims[2])
        return kc__errf(err, KC_ESHAPE, "%s: query and key must have the same number of features", cls);
    if (v->dims[1] >= 0 && k->dims[1] >= 0 && v->dims[1] != k->dims[1])
        return kc__errf(err, KC_ESHAPE, "%s: value and key must have the same number of steps", cls);
    if (((const dense_attention *)self)->additive && ((const dense_attention *)self)->use_scale && q->dims[2] >= 0 &&
        v->dims[2] >= 0 && q->dims[2] != v->dims[2])
        return kc__errf(err, KC_ESHAPE,
                        "AdditiveAttention: its scale has the value's %lld features, the query has %lld",
                        (long long)v->dims[2], (long long)q->dims[2]);
    out[0] = kc_shape_make(3, (int64_t[]){q->dims[0], q->dims[1], v->dims[2]});
    *n_out = 1;
    if (scores) {
        out[1] = kc_shape_make(3, (int64_t[]){q->dims[0], q->dims[1], v->dims[1]});
        *n_out = 2;
    }
    return KC_OK;
}

static kc_status att_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    dense_attention *a = (dense_attention *)self;
    kc_object *ones = NULL, *glorot = NULL;
    kc_status rc = KC_OK;
    if (a->additive) {
        if (a->use_scale) {
            int64_t dim = in[1].dims[2]; /* Keras: the value's last size */
            if (dim < 0) return kc__errf(err, KC_ESHAPE, "AdditiveAttention: the value's last axis must be known");
            glorot = kc_object_create(KC_KIND_INITIALIZER, "glorot_uniform", err);
            a->scale = glorot ? kc_layer_add_weight(self, "scale", 1, &dim, glorot, NULL, NULL, true, err) : NULL;
            if (!a->scale) rc = kc__error_code(err, KC_ENOMEM);
        }
    } else if (a->use_scale || a->concat) {
        ones = kc_object_create(KC_KIND_INITIALIZER, "ones", err);
        if (!ones) rc = kc__error_code(err, KC_ENOMEM);
        if (rc == KC_OK && a->use_scale && !(a->scale = kc_layer_add_weight(self, "scale", 0, NULL, ones, NULL, NULL, true, err)))
            rc = kc__error_code(err, KC_ENOMEM);
        if (rc == KC_OK && a->concat &&
            !(a->concat_score_weight = kc_layer_add_weight(self, "concat_score_weight", 0, NULL, ones, NULL, NULL, true, err)))
            rc = kc__error_code(err, KC_ENOMEM);
    }
    kc_object_unref(ones);
    kc_object_unref(glorot);
    return rc;
}

/* Scores of the additive and concat forms: [B, Tq, Tv]. */
static kc_tensor *tanh_scores(dense_attention *a, kc_scope *s, kc_tensor *q, kc_tensor *k, kc_error *err)
{
    kc_tensor *qe = kc_scope_take(s, kc_expand_dims(q, 2, err)); /* [B, Tq, 1, d] */
    kc_tensor *ke = kc_scope_take(s, kc_expand_dims(k, 1, err)); /* [B, 1, Tv, d] */
    kc_tensor *sum = kc_scope_take(s, kc_add(qe, ke, err));
    kc_tensor *scale = a->scale ? kc_variable_value(a->scale) : NULL;
    if (a->additive) {
        kc_tensor *t = kc_scope_take(s, kc_tanh(sum, err));
        if (scale) t = kc_scope_take(s, kc_mul(t, scale, err));
        return kc_scope_take(s, kc_reduce_sum(t, (int[]){-1}, 1, false, err));
    }
    if (scale) sum = kc_scope_take(s, kc_mul(sum, scale, err));
    kc_tensor *r = kc_scope_take(s, kc_reduce_sum(kc_scope_take(s, kc_tanh(sum, err)), (int[]){-1}, 1, false, err));
    return kc_scope_take(s, kc_mul(r, kc_variable_value(a->concat_score_weight), err));
}

/* softmax(scores + masked adder), dropout, weights v: Keras' _apply_scores
 * with ops. *weights receives the pre-dropout weights (borrowed from s). */
static kc_tensor *apply_scores(dense_attention *a, kc_scope *s, kc_tensor *scores, kc_tensor *mask, kc_tensor *v,
                               bool training, kc_tensor **weights, kc_error *err)
{
    if (mask) { /* [B or 1, 1, Tq, Tv] 0/1: scores - 1e9 where 0 */
        kc_tensor *m3 = kc_scope_take(s, kc_squeeze(mask, 1, err));
        kc_tensor *adder = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_scalar_sub(1.0f, m3, err)),
                                                          KC__ATTENTION_MASKED, err));
        scores = kc_scope_take(s, kc_add(scores, adder, err));
    }
    kc_tensor *w = *weights = kc_scope_take(s, kc_softmax(scores, -1, err));
    if (w && training && a->dropout > 0.0) {
        kc_tensor *keep = kc_scope_take(s, kc_tensor_empty(KC_FLOAT32, kc_tensor_ndim(w), kc_tensor_dims(w), err));
        if (!keep) return NULL;
        float *kp = kc_tensor_f32(keep), ks = (float)(1.0 / (1.0 - a->dropout));
        kc_rng *rng = kc__layer_rng_get(&a->rng);
        for (int64_t i = 0; i < kc_tensor_size(keep); i++) kp[i] = kc_rng_uniform(rng) >= a->dropout ? ks : 0.0f;
        w = kc_scope_take(s, kc_mul(w, keep, err));
    }
    return kc_scope_take(s, kc_matmul(w, v, false, false, err));
}

static kc_status att_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out, kc_error *err)
{
    dense_attention *a = (dense_attention *)self;
    kc_tensor *q = args->inputs[0], *v = args->inputs[1], *k = args->n_inputs > 2 ? args->inputs[2] : v;
    bool causal = a->causal;
    kc_status rc = kc__call_option_bool(self, "use_causal_mask", &causal, err);
    if (rc != KC_OK) return rc;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *qm = args->masks && args->masks[0] ? kc_scope_take(s, kc__mask_bool(args->masks[0], err)) : NULL;
    kc_tensor *vm = args->masks && args->masks[1] ? kc_scope_take(s, kc__mask_bool(args->masks[1], err)) : NULL;
    int64_t B = kc_tensor_dim(q, 0), Tq = kc_tensor_dim(q, 1), Tv = kc_tensor_dim(v, 1);
    kc_tensor *mask = NULL, *result = NULL, *weights = NULL;
    rc = kc__attention_auto_mask(B, Tq, Tv, NULL, vm, NULL, causal, &mask, err);
    kc_scope_take(s, mask);
    if (rc == KC_OK && !a->additive && !a->concat) {
        /* the attention op with one head: [B, T, 1, d] views */
        kc_tensor *att[2] = {NULL, NULL};
        kc_tensor *qs = a->scale ? kc_scope_take(s, kc_mul(q, kc_variable_value(a->scale), err)) : q;
        kc__attention_args aa = {
            .q = kc_scope_take(s, kc_expand_dims(qs, 2, err)), .k = kc_scope_take(s, kc_expand_dims(k, 2, err)),
            .v = kc_scope_take(s, kc_expand_dims(v, 2, err)), .mask = mask, .scale = 1.0f,
            .dropout = args->training ? a->dropout : 0.0, .rng = kc__layer_rng_get(&a->rng)};
        rc = aa.q && aa.k && aa.v ? kc__attention(&aa, att, err) : kc__error_code(err, KC_ENOMEM);
        kc_scope_take(s, att[0]);
        kc_scope_take(s, att[1]);
        result = rc == KC_OK ? kc_scope_take(s, kc_squeeze(att[0], 2, err)) : NULL;
        weights = rc == KC_OK ? kc_scope_take(s, kc_squeeze(att[1], 1, err)) : NULL;
    } else if (rc == KC_OK) {
        kc_tensor *scores = tanh_scores(a, s, q, k, err);
        result = scores ? apply_scores(a, s, scores, mask, v, args->training, &weights, err) : NULL;
    }
    if (rc == KC_OK && result && qm) /* zero the rows of masked queries */
        result = kc_scope_take(s, kc_mul(result, kc_scope_take(s, kc_expand_dims(qm, -1, err)), err));
    if (rc == KC_OK && (!result || !weights)) rc = kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK) {
        out[0] = kc_tensor_ref(result);
        if (n_out > 1) out[1] = kc_tensor_ref(weights);
    }
    kc_scope_free(s);
    return rc;
}

/* Keras' compute_mask: the query's mask, for the output only. */
static kc_status att_compute_mask(kc_object *self, const kc_call_args *args, kc_tensor *const *out, int n_out,
                                  kc_tensor **out_masks, kc_error *err)
{
    (void)self, (void)out, (void)err;
    out_masks[0] = args->masks ? kc_tensor_ref(args->masks[0]) : NULL;
    for (int i = 1; i < n_out; i++) out_masks[i] = NULL;
    return KC_OK;
}

static const kc_layer_methods att_methods = {
    .min_inputs = 2,
    .max_inputs = 3,
    .build = att_build,
    .call = att_call,
    .compute_output_shape = att_output_shape,
    .compute_mask = att_compute_mask,
};

KC__LAYER_CLASS(kc__attention_class, "Attention", dense_attention, att_init, NULL, att_get_config, att_from_config,
                &att_methods);
KC__LAYER_CLASS(kc__additive_attention_class, "AdditiveAttention", dense_attention, additive_init, NULL,
                att_get_config, att_from_config, &att_methods);
