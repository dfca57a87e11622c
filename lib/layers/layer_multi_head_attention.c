/* MultiHeadAttention (keras.layers.MultiHeadAttention).
 *
 * call(query, value, key=None, attention_mask=None,
 *      return_attention_scores=False, training=None, use_causal_mask=False)
 * and Keras 3's query_mask / value_mask / key_mask: the tensors arrive as
 * inputs bound by name (kc_call_kwargs), the flags as call options.
 *
 * Config keys: num_heads, key_dim, value_dim (null: key_dim), dropout,
 * use_bias, output_shape (null: the query's last size; an integer or a
 * list), attention_axes (null: every axis between the batch and the last),
 * kernel_/bias_initializer, _regularizer, _constraint,
 * activity_regularizer, and tf.keras' query_shape / key_shape /
 * value_shape, from which the layer is built at load time as Keras does.
 *
 * Weights, in Keras 2's order and names (its four EinsumDense sublayers
 * query, key, value, attention_output, each kernel then bias):
 *   query/kernel (dq, H, key_dim)      query/bias (H, key_dim)
 *   key/kernel   (dk, H, key_dim)      key/bias   (H, key_dim)
 *   value/kernel (dv, H, value_dim)    value/bias (H, value_dim)
 *   attention_output/kernel (H, value_dim, *output_shape)
 *   attention_output/bias   (*output_shape)
 * so a layer named multi_head_attention saves multi_head_attention/query/
 * kernel:0 and so on, as tf.keras 2.15 does; Keras 3 keeps them in the
 * sub-objects query_dense, key_dense, value_dense and output_dense.
 *
 * How it computes. Each projection is one GEMM over all positions
 * (x [..., d] times the kernel viewed as [d, H k]), and its result viewed
 * as [..., H, k] is already the layout the attention op reads (Keras'
 * einsum layout), so with the default attention axes nothing is copied;
 * other attention axes cost one transpose of q, k, v and of the context.
 * The attention op (op_attention.c) computes the scores, the mask, the
 * softmax, dropout and the context per head with two GEMMs; the output
 * projection is one more GEMM over [positions, H value_dim].
 *
 * Masks: the query's mask masks its rows, the value's and key's masks
 * their positions, use_causal_mask adds the lower triangle, and all of them
 * are combined with attention_mask (which broadcasts from the head axis on,
 * as Keras expands it). The output carries the query's mask. As Keras' sub-
 * layers, each projection's output gets the activity regularizer. */
#include "attention_int.h"

#include "../autodiff/op_attention.h"

#include <math.h>
#include <string.h>

typedef struct mha {
    kc_layer base;
    int64_t num_heads, key_dim, value_dim;
    double dropout;
    bool use_bias;
    bool has_output_shape, output_shape_scalar;
    kc_shape output_shape;          /* of the configured output_shape */
    bool has_axes;                  /* attention_axes given, or resolved by build */
    int64_t axes[KC_MAX_DIMS];      /* as configured; non-negative once built */
    int n_axes;
    kc_object *kernel_init, *bias_init, *kernel_reg, *bias_reg, *kernel_con, *bias_con;
    kc_object *activity_reg;        /* applied to each projection, not to the output */
    kc__layer_rng rng;
    int rank;                       /* the query's rank once built */
    kc_shape query_shape, key_shape, value_shape;
    kc_variable *w[8];              /* wq bq wk bk wv bv wo bo (biases NULL without use_bias) */
} mha;

enum { WQ, BQ, WK, BK, WV, BV, WO, BO };
/* input slots of kc__call_bind: 0 is the query */
enum { A_QUERY, A_VALUE, A_KEY, A_ATTENTION_MASK, A_QUERY_MASK, A_VALUE_MASK, A_KEY_MASK, A_COUNT };
static const char *const tensor_args[] = {"value", "key", "attention_mask", "query_mask", "value_mask",
                                          "key_mask", NULL};
static const char *const positional_args[] = {"value", "key", NULL};
static const char *const options[] = {"use_causal_mask", "return_attention_scores", NULL};

/* Where each argument of the current call is (input index or -1) and its
 * flags. */
typedef struct bound {
    int at[A_COUNT];
    bool causal, scores;
} bound;

static kc_status bind(const kc_object *self, int n_in, bound *b, kc_error *err)
{
    int slot[64];
    if (n_in > 64) return kc__errf(err, KC_EINVAL, "too many inputs");
    for (int k = 0; k < A_COUNT; k++) b->at[k] = -1;
    b->causal = b->scores = false;
    kc_status rc = kc__call_bind(self, n_in, positional_args, tensor_args, slot, err);
    for (int i = 0; rc == KC_OK && i < n_in; i++) {
        if (b->at[slot[i]] >= 0)
            return kc__errf(err, KC_EINVAL, "MultiHeadAttention takes one query tensor, got several");
        b->at[slot[i]] = i;
    }
    if (rc == KC_OK && (b->at[A_QUERY] < 0 || b->at[A_VALUE] < 0))
        rc = kc__errf(err, KC_EINVAL, "MultiHeadAttention needs a query and a value");
    if (rc == KC_OK) rc = kc__call_options(self, options, err);
    if (rc == KC_OK) rc = kc__call_option_bool(self, "use_causal_mask", &b->causal, err);
    if (rc == KC_OK) rc = kc__call_option_bool(self, "return_attention_scores", &b->scores, err);
    return rc;
}

/* ---- config --------------------------------------------------------------------------------- */

static void mha_fini(kc_object *self)
{
    mha *m = (mha *)self;
    kc_object *objs[] = {m->kernel_init, m->bias_init, m->kernel_reg, m->bias_reg,
                         m->kernel_con,  m->bias_con,  m->activity_reg};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) kc_object_unref(objs[i]);
}

static kc_status mha_init(kc_object *self, kc_error *err)
{
    (void)err;
    mha *m = (mha *)self;
    m->base.supports_masking = true;
    m->use_bias = true;
    return KC_OK;
}

static kc_status read_shape_key(const kc_config_ctx *ctx, const json_t *cfg, const char *key, bool *has,
                                kc_shape *out, bool *scalar, kc_error *err)
{
    int64_t d[KC_MAX_DIMS];
    int n = 0;
    kc_status rc = kc__cfg_int_list(ctx, cfg, key, false, true, KC_MAX_DIMS, d, &n, has, scalar, err);
    if (rc == KC_OK) *out = kc_shape_make(n, d);
    for (int i = 0; rc == KC_OK && i < n; i++)
        if (d[i] < 1) rc = kc__errf(err, KC_EFORMAT, "%s.%s: sizes must be positive", ctx->path, key);
    return rc;
}

static kc_status build_from_config_shapes(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                          kc_error *err);

static kc_status mha_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    mha *m = (mha *)self;
    /* Keras hands the activity regularizer to the four projections */
    m->activity_reg = m->base.activity_regularizer;
    m->base.activity_regularizer = NULL;
    kc_status rc = kc_cfg_int(ctx, cfg, "num_heads", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &m->num_heads, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "key_dim", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &m->key_dim, err);
    if (rc == KC_OK)
        rc = kc_cfg_int(ctx, cfg, "value_dim", KC_CFG_NULLABLE | KC_CFG_NONNEG, 0, &m->value_dim, err);
    if (rc == KC_OK && m->value_dim == 0) m->value_dim = m->key_dim; /* Keras: value_dim or key_dim */
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "dropout", KC_CFG_NULLABLE | KC_CFG_NONNEG, 0.0, &m->dropout, err);
    if (rc == KC_OK && !(m->dropout < 1.0))
        rc = kc__errf(err, KC_EFORMAT, "%s.dropout: expected a rate in [0, 1), got %g", ctx->path, m->dropout);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "use_bias", KC_CFG_NULLABLE, true, &m->use_bias, err);
    if (rc == KC_OK)
        rc = read_shape_key(ctx, cfg, "output_shape", &m->has_output_shape, &m->output_shape,
                            &m->output_shape_scalar, err);
    if (rc == KC_OK) {
        rc = kc__cfg_int_list(ctx, cfg, "attention_axes", false, true, KC_MAX_DIMS, m->axes, &m->n_axes,
                              &m->has_axes, NULL, err);
        if (rc == KC_OK && m->has_axes && m->n_axes == 0) m->has_axes = false; /* () is None */
    }
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "kernel_initializer", KC_KIND_INITIALIZER, "glorot_uniform", &m->kernel_init, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_initializer", KC_KIND_INITIALIZER, "zeros", &m->bias_init, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "kernel_regularizer", KC_KIND_REGULARIZER, NULL, &m->kernel_reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_regularizer", KC_KIND_REGULARIZER, NULL, &m->bias_reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "kernel_constraint", KC_KIND_CONSTRAINT, NULL, &m->kernel_con, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_constraint", KC_KIND_CONSTRAINT, NULL, &m->bias_con, err);
    if (rc == KC_OK) rc = kc__layer_rng_read(&m->rng, ctx, cfg, err); /* Keras 3's seed */
    if (rc == KC_OK) rc = build_from_config_shapes(self, cfg, ctx, err);
    return rc;
}

/* cfg[key] = value, consuming value on every path (NULL: out of memory). */
static void put(json_t *cfg, const char *key, json_t *value, kc_status *rc, kc_error *err)
{
    if (*rc != KC_OK) {
        json_decref(value);
        return;
    }
    if (!value || json_object_set_new(cfg, key, value)) *rc = kc__errf(err, KC_ENOMEM, "out of memory");
}

static kc_status mha_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const mha *m = (const mha *)self;
    kc_status rc = KC_OK;
    put(cfg, "num_heads", json_integer(m->num_heads), &rc, err);
    put(cfg, "key_dim", json_integer(m->key_dim), &rc, err);
    put(cfg, "value_dim", json_integer(m->value_dim), &rc, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "dropout", m->dropout, err);
    put(cfg, "use_bias", json_boolean(m->use_bias), &rc, err);
    put(cfg, "output_shape",
        !m->has_output_shape      ? json_null()
        : m->output_shape_scalar ? json_integer(m->output_shape.dims[0])
                                 : kc__shape_to_json(&m->output_shape),
        &rc, err);
    put(cfg, "attention_axes", m->has_axes ? kc__int_list_json(m->axes, m->n_axes) : json_null(), &rc, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_initializer", m->kernel_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_initializer", m->bias_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_regularizer", m->kernel_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_regularizer", m->bias_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "activity_regularizer", m->activity_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_constraint", m->kernel_con, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_constraint", m->bias_con, err);
    put(cfg, "query_shape", m->rank ? kc__shape_to_json(&m->query_shape) : json_null(), &rc, err);
    put(cfg, "key_shape", m->rank ? kc__shape_to_json(&m->key_shape) : json_null(), &rc, err);
    put(cfg, "value_shape", m->rank ? kc__shape_to_json(&m->value_shape) : json_null(), &rc, err);
    return rc;
}

/* ---- shapes ------------------------------------------------------------------------------------ */

/* Attention axes of an input of rank r: is_attn[i] for the axes between
 * the batch and the last one. Keras 3 reads a negative axis from the end of
 * the input. */
static kc_status resolve_axes(const mha *m, int r, bool *is_attn, kc_error *err)
{
    for (int i = 0; i < r; i++) is_attn[i] = !m->has_axes && i >= 1 && i <= r - 2;
    if (!m->has_axes) return KC_OK;
    for (int i = 0; i < m->n_axes; i++) {
        int64_t a = m->axes[i] < 0 ? m->axes[i] + r : m->axes[i];
        if (a < 1 || a > r - 2)
            return kc__errf(err, KC_ESHAPE,
                            "MultiHeadAttention: attention axis %lld is not between the batch axis and the last "
                            "axis of inputs of rank %d", (long long)m->axes[i], r);
        if (is_attn[a]) return kc__errf(err, KC_ESHAPE, "MultiHeadAttention: attention axis %lld is given twice",
                                        (long long)m->axes[i]);
        is_attn[a] = true;
    }
    return KC_OK;
}

static int64_t out_size(const mha *m, const kc_shape *q)
{
    int64_t n = 1;
    if (!m->has_output_shape) return q->dims[q->ndim - 1];
    for (int i = 0; i < m->output_shape.ndim; i++) n *= m->output_shape.dims[i];
    return n;
}

/* Check the shapes of a call and give the outputs'. */
static kc_status check_shapes(const mha *m, const kc_shape *in, const bound *b, kc_shape *out, int *n_out,
                              kc_error *err)
{
    const kc_shape *q = &in[b->at[A_QUERY]], *v = &in[b->at[A_VALUE]];
    const kc_shape *k = b->at[A_KEY] >= 0 ? &in[b->at[A_KEY]] : v;
    int r = q->ndim;
    if (r < 3 || v->ndim != r || k->ndim != r)
        return kc__errf(err, KC_ESHAPE,
                        "MultiHeadAttention needs query, value and key of the same rank >= 3 (batch, ..., features)");
    if (q->dims[r - 1] < 0 || v->dims[r - 1] < 0 || k->dims[r - 1] < 0)
        return kc__errf(err, KC_ESHAPE, "MultiHeadAttention: the last axis of query, value and key must be known");
    for (int i = 1; i < r - 1; i++)
        if (v->dims[i] >= 0 && k->dims[i] >= 0 && v->dims[i] != k->dims[i])
            return kc__errf(err, KC_ESHAPE,
                            "MultiHeadAttention: all axes of value and key but the last must be equal");
    if (m->rank) {
        const int64_t want[3] = {m->query_shape.dims[m->rank - 1], m->value_shape.dims[m->rank - 1],
                                 m->key_shape.dims[m->rank - 1]};
        if (r != m->rank || q->dims[r - 1] != want[0] || v->dims[r - 1] != want[1] || k->dims[r - 1] != want[2])
            return kc__errf(err, KC_ESHAPE,
                            "MultiHeadAttention was built for query, value and key of rank %d with %lld, %lld and "
                            "%lld features", m->rank, (long long)want[0], (long long)want[1], (long long)want[2]);
    }
    bool is_attn[KC_MAX_DIMS];
    kc_status rc = resolve_axes(m, r, is_attn, err);
    if (rc != KC_OK) return rc;
    for (int i = 1; i < r - 1; i++)
        if (!is_attn[i] && q->dims[i] >= 0 && v->dims[i] >= 0 && q->dims[i] != v->dims[i])
            return kc__errf(err, KC_ESHAPE,
                            "MultiHeadAttention: axis %d is not an attention axis, so query and value must have the "
                            "same size there", i);
    if (b->causal && r != 3)
        return kc__errf(err, KC_ESHAPE, "MultiHeadAttention: use_causal_mask needs inputs of rank 3");
    out[0].ndim = r - 1;
    memcpy(out[0].dims, q->dims, sizeof(int64_t) * (size_t)(r - 1));
    if (m->has_output_shape) {
        if (r - 1 + m->output_shape.ndim > KC_MAX_DIMS)
            return kc__errf(err, KC_ESHAPE, "MultiHeadAttention: the output would have more than %d axes", KC_MAX_DIMS);
        for (int i = 0; i < m->output_shape.ndim; i++) out[0].dims[out[0].ndim++] = m->output_shape.dims[i];
    } else {
        out[0].dims[out[0].ndim++] = q->dims[r - 1];
    }
    *n_out = 1;
    if (b->scores) { /* (batch, non-attention axes, heads, query attention axes, key attention axes) */
        kc_shape *s = &out[1];
        s->ndim = 0;
        s->dims[s->ndim++] = q->dims[0];
        for (int i = 1; i < r - 1; i++)
            if (!is_attn[i]) s->dims[s->ndim++] = q->dims[i];
        int na = 0;
        for (int i = 1; i < r - 1; i++) na += is_attn[i];
        if (s->ndim + 1 + 2 * na > KC_MAX_DIMS)
            return kc__errf(err, KC_ESHAPE, "MultiHeadAttention: the scores would have more than %d axes", KC_MAX_DIMS);
        s->dims[s->ndim++] = m->num_heads;
        for (int i = 1; i < r - 1; i++)
            if (is_attn[i]) s->dims[s->ndim++] = q->dims[i];
        for (int i = 1; i < r - 1; i++)
            if (is_attn[i]) s->dims[s->ndim++] = v->dims[i];
        *n_out = 2;
    }
    return KC_OK;
}

static kc_status mha_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                  kc_error *err)
{
    bound b;
    kc_status rc = bind(self, n_in, &b, err);
    return rc == KC_OK ? check_shapes((const mha *)self, in, &b, out, n_out, err) : rc;
}

/* ---- weights ------------------------------------------------------------------------------------ */

static kc_status add(mha *m, int slot, const char *name, int ndim, const int64_t *dims, bool bias, kc_error *err)
{
    m->w[slot] = kc_layer_add_weight((kc_object *)m, name, ndim, dims, bias ? m->bias_init : m->kernel_init,
                                     bias ? m->bias_reg : m->kernel_reg, bias ? m->bias_con : m->kernel_con, true,
                                     err);
    return m->w[slot] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

/* Keras' _build_from_signature: the four projections from the shapes. */
static kc_status build_shapes(mha *m, const kc_shape *q, const kc_shape *v, const kc_shape *k, kc_error *err)
{
    int r = q->ndim;
    bool is_attn[KC_MAX_DIMS];
    kc_status rc = resolve_axes(m, r, is_attn, err);
    if (rc != KC_OK) return rc;
    int64_t H = m->num_heads, kd = m->key_dim, vd = m->value_dim;
    int64_t dq = q->dims[r - 1], dv = v->dims[r - 1], dk = k->dims[r - 1];
    int64_t wo[KC_MAX_DIMS] = {H, vd};
    int no = 2;
    if (m->has_output_shape)
        for (int i = 0; i < m->output_shape.ndim; i++) wo[no++] = m->output_shape.dims[i];
    else
        wo[no++] = dq;
    bool bias = m->use_bias;
    if ((rc = add(m, WQ, "query/kernel", 3, (int64_t[]){dq, H, kd}, false, err)) != KC_OK) return rc;
    if (bias && (rc = add(m, BQ, "query/bias", 2, (int64_t[]){H, kd}, true, err)) != KC_OK) return rc;
    if ((rc = add(m, WK, "key/kernel", 3, (int64_t[]){dk, H, kd}, false, err)) != KC_OK) return rc;
    if (bias && (rc = add(m, BK, "key/bias", 2, (int64_t[]){H, kd}, true, err)) != KC_OK) return rc;
    if ((rc = add(m, WV, "value/kernel", 3, (int64_t[]){dv, H, vd}, false, err)) != KC_OK) return rc;
    if (bias && (rc = add(m, BV, "value/bias", 2, (int64_t[]){H, vd}, true, err)) != KC_OK) return rc;
    if ((rc = add(m, WO, "attention_output/kernel", no, wo, false, err)) != KC_OK) return rc;
    if (bias && (rc = add(m, BO, "attention_output/bias", no - 2, wo + 2, true, err)) != KC_OK) return rc;
    /* what tf.keras writes back once built: the shapes and the axes */
    m->rank = r;
    m->query_shape = *q, m->value_shape = *v, m->key_shape = *k;
    m->has_axes = true;
    m->n_axes = 0;
    for (int i = 1; i < r - 1; i++)
        if (is_attn[i]) m->axes[m->n_axes++] = i;
    return KC_OK;
}

static kc_status mha_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    bound b;
    kc_status rc = bind(self, n_in, &b, err);
    if (rc != KC_OK) return rc;
    const kc_shape *v = &in[b.at[A_VALUE]];
    return build_shapes((mha *)self, &in[b.at[A_QUERY]], v, b.at[A_KEY] >= 0 ? &in[b.at[A_KEY]] : v, err);
}

/* tf.keras' from_config builds the layer from the stored shapes, so its
 * weights exist (and load) before any call. */
static kc_status build_from_config_shapes(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                          kc_error *err)
{
    kc_shape s[3];
    bool has[3];
    static const char *const keys[3] = {"query_shape", "value_shape", "key_shape"};
    for (int i = 0; i < 3; i++) {
        kc_status rc = kc__cfg_shape(ctx, cfg, keys[i], &has[i], &s[i], err);
        if (rc != KC_OK) return rc;
    }
    if (!has[0] || !has[1] || !has[2]) return KC_OK;
    bound b = {.at = {0, 1, 2, -1, -1, -1, -1}};
    kc_shape out[2];
    int n = 0;
    kc_status rc = check_shapes((mha *)self, s, &b, out, &n, err);
    if (rc == KC_OK) rc = kc_layer_build(self, s, 3, err); /* positional: query, value, key */
    if (rc != KC_OK) kc__error_context(err, "%s.query_shape", ctx->path);
    return rc;
}

/* ---- call ------------------------------------------------------------------------------------------ */

/* The activity regularizer's penalty of a projection, per sample. */
static kc_status activity(mha *m, kc_tensor *y, kc_error *err)
{
    if (!m->activity_reg || !y) return KC_OK;
    kc_tensor *p = kc_regularizer_penalty(m->activity_reg, y, err);
    float batch = (float)kc_tensor_dim(y, 0);
    kc_tensor *mean = kc_div_scalar(p, batch > 0 ? batch : 1.0f, err);
    kc_tensor_unref(p);
    if (!mean) return kc__error_code(err, KC_ENOMEM);
    kc_status rc = kc_layer_add_loss((kc_object *)m, mean, err);
    kc_tensor_unref(mean);
    return rc;
}

/* x [..., d] projected to [..., H, size]: one GEMM with the kernel viewed
 * as [d, H size]. New reference. */
static kc_tensor *project(mha *m, kc_scope *s, kc_tensor *x, int wslot, int64_t size, kc_error *err)
{
    int r = kc_tensor_ndim(x);
    int64_t d = kc_tensor_dim(x, -1), hs = m->num_heads * size, dims[KC_MAX_DIMS + 1];
    kc_tensor *w = kc_scope_take(s, kc_reshape(kc_variable_value(m->w[wslot]), 2, (int64_t[]){d, hs}, err));
    kc_tensor *y = kc_scope_take(s, kc_matmul(x, w, false, false, err));
    if (m->w[wslot + 1])
        y = kc_scope_take(s, kc_add(y, kc_scope_take(s, kc_reshape(kc_variable_value(m->w[wslot + 1]), 1, &hs, err)), err));
    memcpy(dims, kc_tensor_dims(x), sizeof(int64_t) * (size_t)(r - 1));
    dims[r - 1] = m->num_heads;
    dims[r] = size;
    y = kc_scope_take(s, kc_reshape(y, r + 1, dims, err));
    if (activity(m, y, err) != KC_OK) return NULL;
    return y;
}

/* The attention layout: x [B, a..., H, d] as [O, T, H, d] with O the batch
 * and non-attention axes, T the attention axes. perm is that axis order. */
typedef struct layout {
    int perm[KC_MAX_DIMS + 1], n; /* over the projected rank */
    bool identity;
} layout;

static layout make_layout(const bool *is_attn, int r)
{
    layout l = {.n = r + 1, .identity = true};
    int k = 0;
    l.perm[k++] = 0;
    for (int i = 1; i < r - 1; i++)
        if (!is_attn[i]) l.perm[k++] = i;
    for (int i = 1; i < r - 1; i++)
        if (is_attn[i]) l.perm[k++] = i;
    l.perm[k++] = r - 1;
    l.perm[k++] = r;
    for (int i = 0; i < l.n; i++) l.identity &= l.perm[i] == i;
    return l;
}

static kc_tensor *to_layout(kc_scope *s, kc_tensor *x, const layout *l, int n_others, kc_error *err)
{
    kc_tensor *t = l->identity ? x : kc_scope_take(s, kc_transpose(x, l->perm, err));
    if (!t) return NULL;
    int64_t O = 1, T = 1;
    const int64_t *d = kc_tensor_dims(t);
    for (int i = 0; i < n_others; i++) O *= d[i];
    for (int i = n_others; i < l->n - 2; i++) T *= d[i];
    return kc_scope_take(s, kc_reshape(t, 4, (int64_t[]){O, T, d[l->n - 2], d[l->n - 1]}, err));
}

/* attention_mask as float32 0/1 [O or 1, Hm, T, S]: Keras inserts axes
 * before the last 2 n_attn ones (from the head axis on) until it has the
 * scores' rank, then broadcasts. */
static kc_tensor *user_mask(kc_scope *s, kc_tensor *am, const kc_shape *scores, int n_attn, int64_t O, int64_t T,
                            int64_t S, kc_error *err)
{
    int mr = kc_tensor_ndim(am), sr = scores->ndim;
    if (mr < 2 * n_attn || mr > sr) {
        char a[160], b[160];
        kc_shape ms = kc_tensor_shape(am);
        kc__errf(err, KC_ESHAPE, "MultiHeadAttention: attention_mask of shape %s does not broadcast to the scores %s",
                 kc_shape_format(&ms, a, sizeof(a)), kc_shape_format(scores, b, sizeof(b)));
        return NULL;
    }
    int64_t dims[KC_MAX_DIMS], target[KC_MAX_DIMS];
    int at = mr - 2 * n_attn, k = 0;
    for (int i = 0; i < at; i++) dims[k++] = kc_tensor_dim(am, i);
    for (int i = 0; i < sr - mr; i++) dims[k++] = 1;
    for (int i = at; i < mr; i++) dims[k++] = kc_tensor_dim(am, i);
    int h_axis = sr - 2 * n_attn - 1;
    for (int i = 0; i < sr; i++) target[i] = i == h_axis && dims[i] == 1 ? 1 : scores->dims[i];
    kc_tensor *b = kc_scope_take(s, kc__mask_bool(am, err));
    b = kc_scope_take(s, kc_reshape(b, sr, dims, err));
    b = kc_scope_take(s, kc_broadcast_to(b, sr, target, err));
    if (!b) {
        kc__error_context(err, "MultiHeadAttention attention_mask");
        return NULL;
    }
    return kc_scope_take(s, kc_reshape(b, 4, (int64_t[]){O, target[h_axis], T, S}, err));
}

/* The mask of the whole call (NULL: none). */
static kc_status call_mask(mha *m, kc_scope *s, const kc_call_args *a, const bound *b, const kc_shape *scores,
                           int n_attn, int64_t O, int64_t T, int64_t S, kc_tensor **out, kc_error *err)
{
    *out = NULL;
    kc_tensor *qm = NULL, *vm = NULL, *km = NULL;
    /* explicit query_mask / value_mask / key_mask (Keras 3), else the
     * masks the inputs carry */
    int src[3][2] = {{A_QUERY_MASK, A_QUERY}, {A_VALUE_MASK, A_VALUE}, {A_KEY_MASK, A_KEY}};
    kc_tensor **dst[3] = {&qm, &vm, &km};
    for (int i = 0; i < 3; i++) {
        int e = b->at[src[i][0]], t = b->at[src[i][1]];
        kc_tensor *mk = e >= 0 ? a->inputs[e] : t >= 0 && a->masks ? a->masks[t] : NULL;
        if (mk) *dst[i] = kc_scope_take(s, kc__mask_bool(mk, err));
        if (mk && !*dst[i]) return kc__error_code(err, KC_ENOMEM);
    }
    if ((qm || vm || km) && m->rank != 3)
        return kc__errf(err, KC_ESHAPE, "MultiHeadAttention: input masks are supported for inputs of rank 3 only");
    kc_tensor *auto_mask = NULL;
    kc_status rc = kc__attention_auto_mask(O, T, S, qm, vm, km, b->causal, &auto_mask, err);
    if (rc != KC_OK) return rc;
    kc_scope_take(s, auto_mask);
    kc_tensor *um = NULL;
    if (b->at[A_ATTENTION_MASK] >= 0) {
        um = user_mask(s, a->inputs[b->at[A_ATTENTION_MASK]], scores, n_attn, O, T, S, err);
        if (!um) return kc__error_code(err, KC_ESHAPE);
    }
    *out = um && auto_mask ? kc_scope_take(s, kc_mul(um, auto_mask, err)) : um ? um : auto_mask;
    return *out || (!um && !auto_mask) ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_status mha_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    mha *m = (mha *)self;
    bound b;
    kc_shape in[64], oshape[2];
    for (int i = 0; i < a->n_inputs && i < 64; i++) in[i] = kc_tensor_shape(a->inputs[i]);
    int n = 0;
    kc_status rc = bind(self, a->n_inputs, &b, err);
    if (rc == KC_OK) rc = check_shapes(m, in, &b, oshape, &n, err);
    if (rc != KC_OK) return rc;
    kc_tensor *q = a->inputs[b.at[A_QUERY]], *v = a->inputs[b.at[A_VALUE]];
    kc_tensor *k = b.at[A_KEY] >= 0 ? a->inputs[b.at[A_KEY]] : v;
    int r = m->rank;
    bool is_attn[KC_MAX_DIMS];
    resolve_axes(m, r, is_attn, err);
    layout l = make_layout(is_attn, r);
    int n_attn = 0;
    for (int i = 1; i < r - 1; i++) n_attn += is_attn[i];
    int n_others = r - 1 - n_attn;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *qp = project(m, s, q, WQ, m->key_dim, err);
    kc_tensor *kp = qp ? project(m, s, k, WK, m->key_dim, err) : NULL;
    kc_tensor *vp = kp ? project(m, s, v, WV, m->value_dim, err) : NULL;
    kc_tensor *ql = vp ? to_layout(s, qp, &l, n_others, err) : NULL;
    kc_tensor *kl = ql ? to_layout(s, kp, &l, n_others, err) : NULL;
    kc_tensor *vl = kl ? to_layout(s, vp, &l, n_others, err) : NULL;
    kc_tensor *mask = NULL, *att[2] = {NULL, NULL};
    rc = vl ? KC_OK : kc__error_code(err, KC_ENOMEM);
    /* the scores' shape (an output, and what attention_mask broadcasts to) */
    bound bs = b;
    bs.scores = true;
    kc_shape with_scores[2] = {{0}};
    if (rc == KC_OK) rc = check_shapes(m, in, &bs, with_scores, &n, err);
    kc_shape scores = with_scores[1];
    int64_t O = vl ? kc_tensor_dim(ql, 0) : 0, T = vl ? kc_tensor_dim(ql, 1) : 0, S = vl ? kc_tensor_dim(kl, 1) : 0;
    if (rc == KC_OK) rc = call_mask(m, s, a, &b, &scores, n_attn, O, T, S, &mask, err);
    if (rc == KC_OK) {
        bool drop = a->training && m->dropout > 0.0;
        kc__attention_args aa = {.q = ql, .k = kl, .v = vl, .mask = mask,
                                 .scale = (float)(1.0 / sqrt((double)m->key_dim)),
                                 .dropout = drop ? m->dropout : 0.0, .rng = kc__layer_rng_get(&m->rng)};
        rc = kc__attention(&aa, att, err);
        kc_scope_take(s, att[0]);
        kc_scope_take(s, att[1]);
    }
    kc_tensor *y = NULL;
    if (rc == KC_OK) {
        /* the context back to [B, a..., H, vd], then the output projection */
        int64_t dims[KC_MAX_DIMS + 1], N = 1;
        const int64_t *qd = kc_tensor_dims(q);
        for (int i = 0; i < l.n - 2; i++) dims[i] = qd[l.perm[i]];
        dims[l.n - 2] = m->num_heads;
        dims[l.n - 1] = m->value_dim;
        kc_tensor *c = kc_scope_take(s, kc_reshape(att[0], l.n, dims, err));
        if (!l.identity) {
            int inv[KC_MAX_DIMS + 1];
            for (int i = 0; i < l.n; i++) inv[l.perm[i]] = i;
            c = kc_scope_take(s, kc_transpose(c, inv, err));
        }
        for (int i = 0; i < r - 1; i++) N *= qd[i];
        int64_t hv = m->num_heads * m->value_dim, P = out_size(m, &in[b.at[A_QUERY]]);
        kc_tensor *c2 = kc_scope_take(s, kc_reshape(c, 2, (int64_t[]){N, hv}, err));
        kc_tensor *wo = kc_scope_take(s, kc_reshape(kc_variable_value(m->w[WO]), 2, (int64_t[]){hv, P}, err));
        y = kc_scope_take(s, kc_matmul(c2, wo, false, false, err));
        if (m->w[BO]) y = kc_scope_take(s, kc_add(y, kc_scope_take(s, kc_reshape(kc_variable_value(m->w[BO]), 1, &P, err)), err));
        y = kc_scope_take(s, kc_reshape(y, oshape[0].ndim, oshape[0].dims, err));
        rc = y ? activity(m, y, err) : kc__error_code(err, KC_ENOMEM);
    }
    if (rc == KC_OK) {
        out[0] = kc_tensor_ref(y);
        if (n_out > 1) {
            out[1] = kc_reshape(att[1], scores.ndim, scores.dims, err);
            if (!out[1]) rc = kc__error_code(err, KC_ENOMEM);
        }
    }
    kc_scope_free(s);
    return rc;
}

static kc_status mha_compute_mask(kc_object *self, const kc_call_args *a, kc_tensor *const *out, int n_out,
                                  kc_tensor **out_masks, kc_error *err)
{
    (void)out;
    bound b;
    kc_status rc = bind(self, a->n_inputs, &b, err);
    if (rc != KC_OK) return rc;
    kc_tensor *qm = a->masks ? a->masks[b.at[A_QUERY]] : NULL;
    out_masks[0] = kc_tensor_ref(qm);
    for (int i = 1; i < n_out; i++) out_masks[i] = NULL;
    return KC_OK;
}

static const kc_layer_methods mha_methods = {
    .min_inputs = 2,
    .max_inputs = 7,
    .build = mha_build,
    .call = mha_call,
    .compute_output_shape = mha_output_shape,
    .compute_mask = mha_compute_mask,
};

/* Keras 3 keeps the weights in the four EinsumDense sub-objects, each
 * kernel then bias: <path>/query_dense/vars/0, 1, ... output_dense. */
static kc_status mha_keras3_layout(kc_object *self, kc_keras3_tree *t, kc_error *err)
{
    static const char *const sub[] = {"query_dense", "key_dense", "value_dense", "output_dense"};
    int per = ((const mha *)self)->use_bias ? 2 : 1;
    if (kc_keras3_tree_num_weights(t) != 4 * per)
        return kc__errf(err, KC_EINTERNAL, "MultiHeadAttention '%s' has %d weights, not %d", kc_layer_name(self),
                        kc_keras3_tree_num_weights(t), 4 * per);
    for (int i = 0; i < 4; i++) {
        kc_status rc = kc_keras3_tree_add_vars(t, sub[i], i * per, per, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

const kc_class kc__multi_head_attention_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LAYER,
    .name = "MultiHeadAttention",
    .size = sizeof(mha),
    .config_version = 1,
    .init = mha_init,
    .fini = mha_fini,
    .get_config = mha_get_config,
    .from_config = mha_from_config,
    .methods = &mha_methods,
    .keras3_layout = mha_keras3_layout,
};
