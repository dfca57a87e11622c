/* The numeric categorical preprocessing layers: CategoryEncoding and
 * Discretization (their string and vocabulary cousins, StringLookup,
 * IntegerLookup, Hashing, TextVectorization, are refused by name: see
 * builtins.c).
 *
 *   CategoryEncoding(num_tokens, output_mode = "multi_hot", sparse):
 *     integer ids in [0, num_tokens) become float32 vectors of num_tokens:
 *     "one_hot" one vector per id (a last axis of size 1 is replaced, any
 *     other gets a new axis), "multi_hot" (also "binary") 1 where an id of
 *     the last axis occurs, "count" how many times. An id outside the range
 *     is KC_EINVAL, as tf.keras 2.15 raises (Keras 3 drops it silently).
 *   Discretization(bin_boundaries, output_mode = "int", ...): the index of
 *     each value's bin, upper_bound in the float32 boundaries as
 *     tf.raw_ops.Bucketize (a value on a boundary goes to the bin above),
 *     as int64 (tf.keras 2.15's dtype; Keras 3 uses int32), or encoded as
 *     CategoryEncoding does with len(bin_boundaries) + 1 tokens. The
 *     boundaries must be in the config, where Keras 3 and a tf.keras layer
 *     made with them store them; a tf.keras 2.x layer adapted from data
 *     keeps them in a weight of data-dependent size instead, which is
 *     refused (KC_EUNSUPPORTED).
 * `sparse` is accepted and written back; outputs are dense tensors with
 * the values the sparse ones would hold. Neither layer has a gradient
 * (their outputs are piecewise constant): outputs are not recorded. */
#include "preproc_int.h"

#include <math.h>
#include <string.h>

typedef enum { ENC_INT, ENC_ONE_HOT, ENC_MULTI_HOT, ENC_COUNT } encoding;
static const char *const encodings[] = {"int", "one_hot", "multi_hot", "count", "binary"};

/* Keras 3's output shape for depth categories (CategoryEncoding and
 * Discretization alike). */
static kc_status encoded_shape(const char *cls, encoding e, int64_t depth, const kc_shape *in,
                               kc_shape *out, kc_error *err)
{
    *out = *in;
    if (e == ENC_INT) return KC_OK;
    int nd = in->ndim;
    bool append = nd == 0 || (e == ENC_ONE_HOT && (nd == 1 || in->dims[nd - 1] != 1));
    if (append && nd + 1 > KC_MAX_DIMS)
        return kc__errf(err, KC_ESHAPE, "%s cannot one-hot encode inputs of rank %d", cls, nd);
    out->dims[append ? nd : nd - 1] = depth;
    out->ndim = append ? nd + 1 : nd;
    return KC_OK;
}

/* Encode integer ids (ids[i], the input's layout) into out (zeroed, the
 * shape encoded_shape gave). */
static kc_status encode(const char *cls, encoding e, int64_t depth, const int64_t *ids,
                        const kc_shape *in, kc_tensor *out, kc_error *err)
{
    int64_t n = kc_shape_size(in);
    /* one_hot: one row per value; multi_hot / count: one row per run of the
     * last axis (the whole input when it is a scalar or a vector) */
    int64_t run = e == ENC_ONE_HOT || in->ndim == 0 ? 1 : in->dims[in->ndim - 1];
    float *o = kc_tensor_f32(out);
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= depth)
            return kc__errf(err, KC_EINVAL, "%s: input value %lld is outside [0, %lld)", cls,
                            (long long)ids[i], (long long)depth);
        float *row = o + (run ? i / run : 0) * depth;
        row[ids[i]] = e == ENC_COUNT ? row[ids[i]] + 1 : 1;
    }
    return KC_OK;
}

/* ---- CategoryEncoding ------------------------------------------------------------------------- */

typedef struct category_encoding {
    kc_layer base;
    int64_t num_tokens;
    encoding mode;
    bool sparse;
} category_encoding;

static kc_status ce_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                kc_error *err)
{
    category_encoding *c = (category_encoding *)self;
    int mode = ENC_MULTI_HOT;
    kc_status rc = kc_cfg_int(ctx, cfg, "num_tokens", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &c->num_tokens, err);
    if (rc == KC_OK)
        rc = kc_cfg_choice(ctx, cfg, "output_mode", KC_CFG_NULLABLE, encodings + 1, 4, ENC_MULTI_HOT - 1, &mode, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "sparse", KC_CFG_NULLABLE, false, &c->sparse, err);
    mode += 1;
    c->mode = mode == 4 ? ENC_MULTI_HOT : (encoding)mode; /* "binary" is multi_hot */
    return rc;
}

static kc_status ce_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const category_encoding *c = (const category_encoding *)self;
    if (json_object_set_new(cfg, "num_tokens", json_integer(c->num_tokens)) ||
        json_object_set_new(cfg, "output_mode", json_string(encodings[c->mode])) ||
        json_object_set_new(cfg, "sparse", json_boolean(c->sparse)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status ce_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                 int *n_out, kc_error *err)
{
    (void)n_in;
    const category_encoding *c = (const category_encoding *)self;
    *n_out = 1;
    return encoded_shape(self->cls->name, c->mode, c->num_tokens, &in[0], out, err);
}

/* The input's values as integer ids (floats truncated, as a cast does). */
static int64_t *as_ids(kc_tensor *x, kc_error *err)
{
    int64_t n = kc_tensor_size(x);
    int64_t *ids = kc__malloc_array((size_t)(n ? n : 1), sizeof(int64_t));
    if (!ids) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = kc_tensor_get(x, i);
        ids[i] = isfinite(v) && fabs(v) < 9.0e18 ? (int64_t)v : -1;
    }
    return ids;
}

static kc_status ce_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                         kc_error *err)
{
    (void)n_out;
    category_encoding *c = (category_encoding *)self;
    kc_shape in = kc_tensor_shape(a->inputs[0]), os;
    kc_status rc = encoded_shape(self->cls->name, c->mode, c->num_tokens, &in, &os, err);
    if (rc != KC_OK) return rc;
    int64_t *ids = as_ids(a->inputs[0], err);
    kc_tensor *y = ids ? kc_tensor_zeros(KC_FLOAT32, os.ndim, os.dims, err) : NULL;
    rc = y ? encode(self->cls->name, c->mode, c->num_tokens, ids, &in, y, err) : kc__error_code(err, KC_ENOMEM);
    kc__free(ids);
    if (rc != KC_OK) {
        kc_tensor_unref(y);
        return rc;
    }
    out[0] = y;
    return KC_OK;
}

static const kc_layer_methods ce_methods = {
    .call = ce_call,
    .compute_output_shape = ce_output_shape,
};

KC__LAYER_CLASS(kc__category_encoding_class, "CategoryEncoding", category_encoding, NULL, NULL,
                ce_get_config, ce_from_config, &ce_methods);

/* ---- Discretization -------------------------------------------------------------------------- */

typedef struct discretization {
    kc_layer base;
    json_t *boundaries_raw; /* as written */
    float *boundaries;      /* float32, as Bucketize compares */
    int64_t n_boundaries;
    json_t *num_bins_raw;   /* null or the integer, written back */
    double epsilon;
    encoding mode;
    bool sparse;
} discretization;

static void disc_fini(kc_object *self)
{
    discretization *d = (discretization *)self;
    json_decref(d->boundaries_raw);
    json_decref(d->num_bins_raw);
    kc__free(d->boundaries);
}

static kc_status disc_boundaries(discretization *d, const json_t *cfg, const kc_config_ctx *ctx,
                                 kc_error *err)
{
    kc_tensor *b = NULL;
    kc_status rc = kc__cfg_array(ctx, cfg, "bin_boundaries", false, &d->boundaries_raw, &b, err);
    if (rc != KC_OK) return rc;
    if (!b)
        return kc__errf(err, KC_EUNSUPPORTED,
                        "%s: Discretization without bin_boundaries in its config is not supported "
                        "(tf.keras 2.x keeps adapted boundaries in a weight of data-dependent size): "
                        "give the boundaries in the config",
                        ctx->path);
    if (kc_tensor_ndim(b) != 1) {
        kc_tensor_unref(b);
        return kc__errf(err, KC_EFORMAT, "%s.bin_boundaries: expected a list of numbers", ctx->path);
    }
    d->n_boundaries = kc_tensor_size(b);
    d->boundaries = kc__malloc_array((size_t)(d->n_boundaries ? d->n_boundaries : 1), sizeof(float));
    if (d->boundaries) memcpy(d->boundaries, kc_tensor_cdata(b), sizeof(float) * (size_t)d->n_boundaries);
    kc_tensor_unref(b);
    if (!d->boundaries) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int64_t i = 1; i < d->n_boundaries; i++)
        if (!(d->boundaries[i - 1] <= d->boundaries[i]))
            return kc__errf(err, KC_EFORMAT, "%s.bin_boundaries: expected sorted numbers", ctx->path);
    return KC_OK;
}

static kc_status disc_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    discretization *d = (discretization *)self;
    int mode = ENC_INT;
    int64_t bins = -1;
    kc_status rc = disc_boundaries(d, cfg, ctx, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "num_bins", KC_CFG_NULLABLE | KC_CFG_NONNEG, -1, &bins, err);
    if (rc == KC_OK) rc = kc__cfg_finite(ctx, cfg, "epsilon", KC_CFG_NULLABLE, 0.01, &d->epsilon, err);
    if (rc == KC_OK) rc = kc_cfg_choice(ctx, cfg, "output_mode", KC_CFG_NULLABLE, encodings, 4, ENC_INT, &mode, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "sparse", KC_CFG_NULLABLE, false, &d->sparse, err);
    d->mode = (encoding)mode;
    d->num_bins_raw = bins >= 0 ? json_integer(bins) : json_null();
    if (rc == KC_OK && !d->num_bins_raw) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    return rc;
}

static kc_status disc_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const discretization *d = (const discretization *)self;
    kc_status rc = kc__cfg_set_raw(cfg, "bin_boundaries", d->boundaries_raw, err);
    if (rc == KC_OK) rc = kc__cfg_set_raw(cfg, "num_bins", d->num_bins_raw, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "epsilon", d->epsilon, err);
    if (rc == KC_OK && (json_object_set_new(cfg, "output_mode", json_string(encodings[d->mode])) ||
                        json_object_set_new(cfg, "sparse", json_boolean(d->sparse))))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    return rc;
}

static kc_status disc_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                   kc_shape *out, int *n_out, kc_error *err)
{
    (void)n_in;
    const discretization *d = (const discretization *)self;
    *n_out = 1;
    return encoded_shape(self->cls->name, d->mode, d->n_boundaries + 1, &in[0], out, err);
}

static kc_status disc_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                           kc_error *err)
{
    (void)n_out;
    discretization *d = (discretization *)self;
    kc_tensor *x = a->inputs[0];
    kc_shape in = kc_tensor_shape(x), os;
    kc_status rc = encoded_shape(self->cls->name, d->mode, d->n_boundaries + 1, &in, &os, err);
    if (rc != KC_OK) return rc;
    int64_t n = kc_tensor_size(x);
    int64_t *ids = kc__malloc_array((size_t)(n ? n : 1), sizeof(int64_t));
    if (!ids) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        float v = (float)kc_tensor_get(x, i);
        int64_t lo = 0, hi = d->n_boundaries; /* upper_bound: first boundary > v */
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (v < d->boundaries[mid]) hi = mid;
            else lo = mid + 1;
        }
        ids[i] = lo;
    }
    kc_tensor *y;
    if (d->mode == ENC_INT) {
        y = kc_tensor_from_data(KC_INT64, in.ndim, in.dims, ids, err);
    } else {
        y = kc_tensor_zeros(KC_FLOAT32, os.ndim, os.dims, err);
        rc = y ? encode(self->cls->name, d->mode, d->n_boundaries + 1, ids, &in, y, err) : KC_OK;
    }
    kc__free(ids);
    if (!y || rc != KC_OK) {
        kc_tensor_unref(y);
        return kc__error_code(err, KC_ENOMEM);
    }
    out[0] = y;
    return KC_OK;
}

static const kc_layer_methods disc_methods = {
    .call = disc_call,
    .compute_output_shape = disc_output_shape,
};

KC__LAYER_CLASS(kc__discretization_class, "Discretization", discretization, NULL, disc_fini,
                disc_get_config, disc_from_config, &disc_methods);
