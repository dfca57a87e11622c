/* Embedding: rows of an (input_dim, output_dim) table looked up by
 * integer ids; output shape = input shape + (output_dim,). With mask_zero,
 * id 0 is padding: the output mask is (inputs != 0), as Keras. Float ids
 * are truncated to integers (Keras casts inputs to int32); an id outside
 * [0, input_dim) is an error naming it (TensorFlow on CPU fails too). */
#include "layer_infer.h"

typedef struct embedding {
    kc_layer base;
    int64_t input_dim, output_dim, input_length; /* input_length -1: null */
    bool mask_zero;
    kc_object *init, *reg, *con;
    kc_variable *table;
} embedding;

static kc_status emb_init(kc_object *self, kc_error *err)
{
    (void)err;
    ((embedding *)self)->input_length = -1;
    return KC_OK;
}

static void emb_fini(kc_object *self)
{
    embedding *e = (embedding *)self;
    kc_object_unref(e->init);
    kc_object_unref(e->reg);
    kc_object_unref(e->con);
}

static kc_status emb_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    embedding *e = (embedding *)self;
    kc_status rc = kc_cfg_int(ctx, cfg, "input_dim", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &e->input_dim, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "output_dim", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &e->output_dim, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "embeddings_initializer", KC_KIND_INITIALIZER, "uniform", &e->init, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "embeddings_regularizer", KC_KIND_REGULARIZER, NULL, &e->reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "embeddings_constraint", KC_KIND_CONSTRAINT, NULL, &e->con, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "mask_zero", KC_CFG_NULLABLE, false, &e->mask_zero, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "input_length", KC_CFG_NULLABLE | KC_CFG_POSITIVE, -1, &e->input_length, err);
    return rc;
}

static kc_status emb_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const embedding *e = (const embedding *)self;
    if (json_object_set_new(cfg, "input_dim", json_integer(e->input_dim)) ||
        json_object_set_new(cfg, "output_dim", json_integer(e->output_dim)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = kc_cfg_set_object(cfg, "embeddings_initializer", e->init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "embeddings_regularizer", e->reg, err);
    if (rc == KC_OK) rc = kc__layer_write_activity_regularizer(self, cfg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "embeddings_constraint", e->con, err);
    if (rc == KC_OK && (json_object_set_new(cfg, "mask_zero", json_boolean(e->mask_zero)) ||
                        json_object_set_new(cfg, "input_length",
                                            e->input_length > 0 ? json_integer(e->input_length) : json_null())))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    return rc;
}

static kc_status emb_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                  int *n_out, kc_error *err)
{
    (void)n_in;
    const embedding *e = (const embedding *)self;
    if (in[0].ndim >= KC_MAX_DIMS) return kc__errf(err, KC_ESHAPE, "Embedding inputs of rank %d are too deep", in[0].ndim);
    if (e->input_length > 0 && in[0].ndim >= 2 && in[0].dims[1] >= 0 && in[0].dims[1] != e->input_length)
        return kc__errf(err, KC_ESHAPE, "input_length is %lld, but the input has %lld steps",
                        (long long)e->input_length, (long long)in[0].dims[1]);
    out[0] = in[0];
    out[0].dims[out[0].ndim++] = e->output_dim;
    *n_out = 1;
    return KC_OK;
}

static kc_status emb_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)in, (void)n_in;
    embedding *e = (embedding *)self;
    int64_t dims[2] = {e->input_dim, e->output_dim};
    e->table = kc_layer_add_weight(self, "embeddings", 2, dims, e->init, e->reg, e->con, true, err);
    return e->table ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_tensor *ids_of(kc_tensor *x, kc_error *err)
{
    return kc_tensor_dtype(x) == KC_FLOAT32 ? kc_cast(x, KC_INT64, err) : kc_tensor_ref(x);
}

static kc_status emb_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    (void)n_out;
    embedding *e = (embedding *)self;
    kc_tensor *ids = ids_of(a->inputs[0], err);
    out[0] = kc_gather(kc_variable_value(e->table), ids, 0, err);
    kc_tensor_unref(ids);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_status emb_mask(kc_object *self, const kc_call_args *a, kc_tensor *const *out, int n_out,
                          kc_tensor **out_masks, kc_error *err)
{
    (void)out, (void)n_out;
    if (!((embedding *)self)->mask_zero) return KC_OK;
    kc_tensor *x = a->inputs[0];
    kc_tensor *m = kc_tensor_empty(KC_FLOAT32, kc_tensor_ndim(x), kc_tensor_dims(x), err);
    if (!m) return kc__error_code(err, KC_ENOMEM);
    float *p = kc_tensor_f32(m);
    for (int64_t i = 0; i < kc_tensor_size(x); i++) p[i] = kc_tensor_get(x, i) != 0.0 ? 1.0f : 0.0f;
    out_masks[0] = m;
    return KC_OK;
}

static const kc_layer_methods emb_methods = {
    .build = emb_build,
    .call = emb_call,
    .compute_output_shape = emb_output_shape,
    .compute_mask = emb_mask,
};

const kc_class kc__embedding_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LAYER,
    .name = "Embedding",
    .size = sizeof(embedding),
    .config_version = 1,
    .init = emb_init,
    .fini = emb_fini,
    .get_config = emb_get_config,
    .from_config = emb_from_config,
    .methods = &emb_methods,
};

/* ---- Masking ------------------------------------------------------------------
 * Masking(mask_value): a timestep whose features all equal mask_value is
 * masked: the output mask is any(x != mask_value, axis=-1), and the output
 * is x times that mask (so masked steps are zero), as Keras computes it. */

typedef struct masking {
    kc_layer base;
    double mask_value;
} masking;

static kc_status masking_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static kc_status masking_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    return kc_cfg_float(ctx, cfg, "mask_value", 0, 0.0, &((masking *)self)->mask_value, err);
}

static kc_status masking_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    return kc_cfg_set_float(cfg, "mask_value", ((const masking *)self)->mask_value, err);
}

static kc_status masking_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                               int *n_out, kc_error *err)
{
    (void)self, (void)n_in;
    if (in[0].ndim < 2) return kc__errf(err, KC_ESHAPE, "Masking needs inputs of rank >= 2");
    out[0] = in[0];
    *n_out = 1;
    return KC_OK;
}

/* keep[i] over all but the last axis: 1 when some feature differs */
static kc_tensor *keep_mask(const masking *m, kc_tensor *x, bool keepdims, kc_error *err)
{
    kc_tensor *v = kc_tensor_scalar((float)m->mask_value, err);
    kc_tensor *ne = kc_not_equal(x, v, err);
    int last = -1;
    kc_tensor *k = kc_reduce_max(ne, &last, 1, keepdims, err);
    kc_tensor_unref(v);
    kc_tensor_unref(ne);
    return k;
}

static kc_status masking_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    (void)n_out;
    kc_tensor *k = keep_mask((const masking *)self, a->inputs[0], true, err);
    out[0] = kc_mul(a->inputs[0], k, err);
    kc_tensor_unref(k);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_status masking_mask(kc_object *self, const kc_call_args *a, kc_tensor *const *out, int n_out,
                              kc_tensor **out_masks, kc_error *err)
{
    (void)out, (void)n_out;
    out_masks[0] = keep_mask((const masking *)self, a->inputs[0], false, err);
    return out_masks[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods masking_methods = {
    .call = masking_call,
    .compute_output_shape = masking_shape,
    .compute_mask = masking_mask,
};

const kc_class kc__masking_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LAYER,
    .name = "Masking",
    .size = sizeof(masking),
    .config_version = 1,
    .init = masking_init,
    .get_config = masking_get_config,
    .from_config = masking_from_config,
    .methods = &masking_methods,
};

/* Inference slot: the plan calls the layer, unless it makes masks. */
void kc__embedding_describe(const kc_object *self, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    (void)in, (void)n_in;
    if (((const embedding *)self)->mask_zero) out->kind = KC__LI_MASKS;
}
