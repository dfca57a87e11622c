/* Reshaping layers: Flatten, Reshape, Permute and RepeatVector.
 *
 * They move values without computing any: Flatten and Reshape keep the
 * row-major order (views of the input's buffer), Permute transposes the
 * non-batch axes, RepeatVector broadcasts (batch, features) to (batch, n,
 * features). The batch axis is never touched. As in tf.keras 2.15 none of
 * them supports masking, so an incoming mask stops here.
 *   Flatten(data_format): "channels_first" inputs are first transposed to
 *     channels last, so the flattened order is the channels-last one;
 *     (batch,) inputs become (batch, 1).
 *   Reshape(target_shape): a list without the batch axis, with at most one
 *     -1 inferred from the input's size.
 *   Permute(dims): 1-based, a permutation of 1..len(dims); inputs have rank
 *     len(dims) + 1.
 *   RepeatVector(n): inputs of rank 2. */
#include "layer_infer.h"
#include "layer_util.h"

#include <ckeras/ops.h>

/* Product of dims[from..ndim), or -1 when one is unknown. KC_ESHAPE on
 * overflow. */
static kc_status product(const int64_t *dims, int from, int ndim, int64_t *out, kc_error *err)
{
    int64_t p = 1;
    bool unknown = false;
    for (int i = from; i < ndim; i++) {
        if (dims[i] < 0)
            unknown = true;
        else if (!kc__mul_i64(p, dims[i], &p))
            return kc__errf(err, KC_ESHAPE, "the number of elements overflows");
    }
    *out = unknown ? -1 : p;
    return KC_OK;
}

/* ---- Flatten ------------------------------------------------------------------------------- */

static const char *const data_formats[] = {"channels_last", "channels_first"};

typedef struct flatten {
    kc_layer base;
    int data_format; /* index in data_formats */
} flatten;

static kc_status flatten_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const char *f = data_formats[((const flatten *)self)->data_format];
    if (json_object_set_new(cfg, "data_format", json_string(f)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status flatten_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err)
{
    /* null is Keras' image_data_format(), which defaults to channels_last */
    return kc_cfg_choice(ctx, cfg, "data_format", KC_CFG_NULLABLE, data_formats, 2, 0,
                         &((flatten *)self)->data_format, err);
}

static kc_status flatten_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                      kc_shape *out, int *n_out, kc_error *err)
{
    (void)self;
    (void)n_in;
    if (in[0].ndim < 1)
        return kc__errf(err, KC_ESHAPE,
                        "Flatten needs inputs of rank >= 1 (batch, ...), got a scalar");
    int64_t p = 0;
    kc_status rc = product(in[0].dims, 1, in[0].ndim, &p, err);
    if (rc != KC_OK) return rc;
    out[0] = kc_shape_make(2, (int64_t[]){in[0].dims[0], p});
    *n_out = 1;
    return KC_OK;
}

static kc_status flatten_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                              kc_error *err)
{
    (void)n_out;
    kc_tensor *x = a->inputs[0], *t = NULL;
    int r = kc_tensor_ndim(x);
    if (((flatten *)self)->data_format == 1 && r > 2) {
        /* channels first -> channels last: (0, 2, ..., r-1, 1) */
        int perm[KC_MAX_DIMS];
        perm[0] = 0;
        for (int i = 2; i < r; i++)
            perm[i - 1] = i;
        perm[r - 1] = 1;
        t = kc_transpose(x, perm, err);
        if (!t) return kc__error_code(err, KC_ENOMEM);
        x = t;
    }
    int64_t p = 1;
    for (int i = 1; i < r; i++)
        p *= kc_tensor_dim(x, i); /* bounded by the element count */
    out[0] = kc_reshape(x, 2, (int64_t[]){kc_tensor_dim(x, 0), p}, err);
    kc_tensor_unref(t);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods flatten_methods = {
    .call = flatten_call,
    .compute_output_shape = flatten_output_shape,
};

KC__LAYER_CLASS(kc__flatten_class, "Flatten", flatten, NULL, NULL, flatten_get_config,
                flatten_from_config, &flatten_methods);

/* ---- Reshape ------------------------------------------------------------------------------ */

typedef struct reshape {
    kc_layer base;
    int64_t target[KC_MAX_DIMS - 1]; /* sizes >= 0, at most one -1 */
    int n;
} reshape;

static kc_status reshape_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const reshape *r = (const reshape *)self;
    return kc__cfg_set_int_list(cfg, "target_shape", r->target, r->n, false, err);
}

static kc_status reshape_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err)
{
    reshape *r = (reshape *)self;
    bool present;
    kc_status rc = kc__cfg_int_list(ctx, cfg, "target_shape", true, false, KC_MAX_DIMS - 1,
                                    r->target, &r->n, &present, NULL, err);
    if (rc != KC_OK) return rc;
    int unknown = 0;
    for (int i = 0; i < r->n; i++) {
        unknown += r->target[i] == -1;
        if (r->target[i] < -1 || unknown > 1) {
            kc_config_ctx c = kc_config_ctx_child(ctx, "target_shape", 0);
            kc__errf(err, KC_EFORMAT,
                     "%s: expected sizes >= 0 with at most one -1 (inferred), got %lld at index %d",
                     c.path, (long long)r->target[i], i);
            kc__error_context(err, "%s", c.path);
            return KC_EFORMAT;
        }
    }
    return KC_OK;
}

/* Keras' _fix_unknown_dimension: the output shape for a known input. */
static kc_status reshape_target(const reshape *r, const kc_shape *in, kc_shape *out, kc_error *err)
{
    out->ndim = r->n + 1;
    out->dims[0] = in->dims[0];
    int64_t original = 0, known = 1;
    kc_status rc = product(in->dims, 1, in->ndim, &original, err);
    if (rc != KC_OK) return rc;
    int unknown = -1;
    for (int i = 0; i < r->n; i++) {
        out->dims[i + 1] = r->target[i];
        if (r->target[i] < 0)
            unknown = i;
        else if (!kc__mul_i64(known, r->target[i], &known))
            return kc__errf(err, KC_ESHAPE, "Reshape target_shape overflows");
    }
    if (original < 0) return KC_OK; /* unknown input sizes: -1 stays unknown */
    if (unknown >= 0 && known != 0 && original % known == 0) {
        out->dims[unknown + 1] = original / known;
        return KC_OK;
    }
    if (unknown < 0 && original == known) return KC_OK;
    kc_shape want = kc_shape_make(r->n, r->target);
    kc_shape have = kc_shape_make(in->ndim - 1, in->dims + 1);
    char a[160], b[160];
    return kc__errf(err, KC_ESHAPE,
                    "Reshape: total size of new array must be unchanged, input_shape = %s, "
                    "output_shape = %s",
                    kc_shape_format(&have, a, sizeof(a)), kc_shape_format(&want, b, sizeof(b)));
}

static kc_status reshape_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                      kc_shape *out, int *n_out, kc_error *err)
{
    (void)n_in;
    if (in[0].ndim < 1)
        return kc__errf(err, KC_ESHAPE,
                        "Reshape needs inputs of rank >= 1 (batch, ...), got a scalar");
    *n_out = 1;
    return reshape_target((const reshape *)self, &in[0], &out[0], err);
}

static kc_status reshape_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                              kc_error *err)
{
    (void)n_out;
    kc_shape in = kc_tensor_shape(a->inputs[0]), o;
    kc_status rc = reshape_target((const reshape *)self, &in, &o, err);
    if (rc != KC_OK) return rc;
    out[0] = kc_reshape(a->inputs[0], o.ndim, o.dims, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods reshape_methods = {
    .call = reshape_call,
    .compute_output_shape = reshape_output_shape,
};

KC__LAYER_CLASS(kc__reshape_class, "Reshape", reshape, NULL, NULL, reshape_get_config,
                reshape_from_config, &reshape_methods);

/* ---- Permute ----------------------------------------------------------------------------- */

typedef struct permute {
    kc_layer base;
    int64_t dims[KC_MAX_DIMS - 1]; /* a permutation of 1..n */
    int n;
} permute;

static kc_status permute_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const permute *p = (const permute *)self;
    return kc__cfg_set_int_list(cfg, "dims", p->dims, p->n, false, err);
}

static kc_status permute_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err)
{
    permute *p = (permute *)self;
    bool present, seen[KC_MAX_DIMS] = {false};
    kc_status rc = kc__cfg_int_list(ctx, cfg, "dims", true, false, KC_MAX_DIMS - 1, p->dims, &p->n,
                                    &present, NULL, err);
    if (rc != KC_OK) return rc;
    for (int i = 0; i < p->n; i++) {
        if (p->dims[i] < 1 || p->dims[i] > p->n || seen[p->dims[i]]) {
            kc_config_ctx c = kc_config_ctx_child(ctx, "dims", 0);
            kc__errf(err, KC_EFORMAT,
                     "%s: invalid permutation: the indices must be 1..%d, each once (indexing "
                     "starts at 1, after the batch axis); got %lld at index %d",
                     c.path, p->n, (long long)p->dims[i], i);
            kc__error_context(err, "%s", c.path);
            return KC_EFORMAT;
        }
        seen[p->dims[i]] = true;
    }
    return KC_OK;
}

static kc_status permute_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                      kc_shape *out, int *n_out, kc_error *err)
{
    (void)n_in;
    const permute *p = (const permute *)self;
    if (in[0].ndim != p->n + 1)
        return kc__errf(err, KC_ESHAPE, "Permute with %d dims needs inputs of rank %d, got rank %d",
                        p->n, p->n + 1, in[0].ndim);
    out[0] = in[0];
    for (int i = 0; i < p->n; i++)
        out[0].dims[i + 1] = in[0].dims[p->dims[i]];
    *n_out = 1;
    return KC_OK;
}

static kc_status permute_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                              kc_error *err)
{
    (void)n_out;
    const permute *p = (const permute *)self;
    int perm[KC_MAX_DIMS] = {0};
    for (int i = 0; i < p->n; i++)
        perm[i + 1] = (int)p->dims[i];
    out[0] = kc_transpose(a->inputs[0], perm, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods permute_methods = {
    .call = permute_call,
    .compute_output_shape = permute_output_shape,
};

KC__LAYER_CLASS(kc__permute_class, "Permute", permute, NULL, NULL, permute_get_config,
                permute_from_config, &permute_methods);

/* ---- RepeatVector --------------------------------------------------------------------------- */

typedef struct repeat_vector {
    kc_layer base;
    int64_t n; /* >= 0 */
} repeat_vector;

static kc_status repeat_vector_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    if (json_object_set_new(cfg, "n", json_integer((json_int_t)((const repeat_vector *)self)->n)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status repeat_vector_from_config(kc_object *self, const json_t *cfg,
                                           const kc_config_ctx *ctx, kc_error *err)
{
    return kc_cfg_int(ctx, cfg, "n", KC_CFG_REQUIRED | KC_CFG_NONNEG, 0,
                      &((repeat_vector *)self)->n, err);
}

static kc_status repeat_vector_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                            kc_shape *out, int *n_out, kc_error *err)
{
    (void)n_in;
    if (in[0].ndim != 2)
        return kc__errf(err, KC_ESHAPE,
                        "RepeatVector needs inputs of rank 2 (batch, features), got rank %d",
                        in[0].ndim);
    out[0] = kc_shape_make(
        3, (int64_t[]){in[0].dims[0], ((const repeat_vector *)self)->n, in[0].dims[1]});
    *n_out = 1;
    return KC_OK;
}

static kc_status repeat_vector_call(kc_object *self, const kc_call_args *a, kc_tensor **out,
                                    int n_out, kc_error *err)
{
    (void)n_out;
    kc_tensor *x = a->inputs[0];
    kc_tensor *e = kc_expand_dims(x, 1, err);
    int64_t dims[3] = {kc_tensor_dim(x, 0), ((repeat_vector *)self)->n, kc_tensor_dim(x, 1)};
    out[0] = kc_broadcast_to(e, 3, dims, err);
    kc_tensor_unref(e);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods repeat_vector_methods = {
    .call = repeat_vector_call,
    .compute_output_shape = repeat_vector_output_shape,
};

KC__LAYER_CLASS(kc__repeat_vector_class, "RepeatVector", repeat_vector, NULL, NULL,
                repeat_vector_get_config, repeat_vector_from_config, &repeat_vector_methods);

/* Inference slot: a channels-last Flatten only renames the shape. */
void kc__flatten_describe(const kc_object *self, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    if (n_in == 1 && (((const flatten *)self)->data_format == 0 || in[0].ndim <= 2)) out->kind = KC__LI_VIEW;
}
