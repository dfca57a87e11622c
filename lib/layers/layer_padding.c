/* ZeroPadding1D/2D/3D and Cropping1D/2D/3D: add zeros around, or cut
 * values off, the spatial axes (kc_pad, kc_slice; both on the tape).
 *
 * Config keys: "padding" / "cropping" and data_format (not for the 1D
 * layers, which are channels last). As in Keras, the amount may be one
 * integer (every side), one integer per spatial axis (both sides), or a
 * (before, after) pair per axis; 1D layers take an integer or one pair.
 * It is written back in Keras' canonical form: [before, after] for 1D,
 * [[before, after], ...] otherwise. */
#include "conv_layers_int.h"
#include "layer_infer.h"

#include <string.h>

typedef struct pad_layer {
    kc_layer base;
    bool crop;                   /* Cropping (else ZeroPadding) */
    int rank;                    /* spatial axes, 1..3 */
    int64_t amount[3][2];        /* before, after per spatial axis */
    bool channels_first;
} pad_layer;

static kc_status pad_init(kc_object *self, bool crop, int rank)
{
    pad_layer *p = (pad_layer *)self;
    p->crop = crop;
    p->rank = rank;
    for (int i = 0; i < 3; i++) p->amount[i][0] = p->amount[i][1] = crop ? 0 : 1;
    return KC_OK;
}

#define PAD_INIT(fn, crop, rank)                                                                   \
    static kc_status fn(kc_object *self, kc_error *err)                                            \
    {                                                                                              \
        (void)err;                                                                                 \
        return pad_init(self, crop, rank);                                                         \
    }
PAD_INIT(zp1_init, false, 1)
PAD_INIT(zp2_init, false, 2)
PAD_INIT(zp3_init, false, 3)
PAD_INIT(cr1_init, true, 1)
PAD_INIT(cr2_init, true, 2)
PAD_INIT(cr3_init, true, 3)

static const char *cls_name(const pad_layer *p) { return p->base.base.cls->name; }
static const char *key_of(const pad_layer *p) { return p->crop ? "cropping" : "padding"; }

static bool nonneg_int(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == (double)(int64_t)json_real_value(v)) {
        *out = (int64_t)json_real_value(v);
    } else {
        return false;
    }
    return *out >= 0;
}

static kc_status read_amount(pad_layer *p, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    const char *key = key_of(p);
    const json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return KC_OK;
    int n = p->rank;
    int64_t x;
    if (nonneg_int(v, &x)) {
        for (int i = 0; i < n; i++) p->amount[i][0] = p->amount[i][1] = x;
        return KC_OK;
    }
    bool ok = json_is_array(v);
    if (ok && n == 1) {
        /* 1D: (before, after) */
        ok = json_array_size(v) == 2 && nonneg_int(json_array_get(v, 0), &p->amount[0][0]) &&
             nonneg_int(json_array_get(v, 1), &p->amount[0][1]);
    } else if (ok) {
        ok = (int)json_array_size(v) == n;
        for (int i = 0; ok && i < n; i++) {
            const json_t *e = json_array_get(v, (size_t)i);
            if (nonneg_int(e, &x)) {
                p->amount[i][0] = p->amount[i][1] = x;
            } else {
                ok = json_is_array(e) && json_array_size(e) == 2 && nonneg_int(json_array_get(e, 0), &p->amount[i][0]) &&
                     nonneg_int(json_array_get(e, 1), &p->amount[i][1]);
            }
        }
    }
    if (!ok) {
        kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
        kc__errf(err, KC_EFORMAT,
                 n == 1 ? "%s: expected a non-negative integer or a list of 2 (before, after)"
                        : "%s: expected a non-negative integer, a list of %d, or a list of %d (before, after) pairs",
                 c.path, n, n);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    return KC_OK;
}

static kc_status pad_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                 kc_error *err)
{
    pad_layer *p = (pad_layer *)self;
    kc_status rc = read_amount(p, cfg, ctx, err);
    if (rc == KC_OK && p->rank > 1) rc = kc__cfg_data_format(ctx, cfg, &p->channels_first, err);
    return rc;
}

static kc_status pad_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const pad_layer *p = (const pad_layer *)self;
    json_t *a = json_array();
    for (int i = 0; a && i < p->rank; i++) {
        json_t *pair = json_pack("[II]", (json_int_t)p->amount[i][0], (json_int_t)p->amount[i][1]);
        if (p->rank == 1) {
            json_decref(a);
            a = pair;
        } else if (!pair || json_array_append_new(a, pair)) {
            json_decref(a);
            a = NULL;
        }
    }
    if (!a || json_object_set_new(cfg, key_of(p), a)) return kc__errf(err, KC_ENOMEM, "out of memory");
    return p->rank > 1 ? kc__cfg_set_data_format(cfg, p->channels_first, err) : KC_OK;
}

static kc_status pad_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                  int *n_out, kc_error *err)
{
    (void)n_in;
    const pad_layer *p = (const pad_layer *)self;
    kc_status rc = kc__check_spatial_rank(&in[0], p->rank, p->channels_first, cls_name(p), err);
    if (rc != KC_OK) return rc;
    int64_t sp[3], c;
    kc__spatial_dims(&in[0], p->rank, p->channels_first, sp, &c);
    for (int i = 0; i < p->rank; i++) {
        if (sp[i] < 0) continue;
        int64_t both = p->amount[i][0] + p->amount[i][1];
        if (p->crop && both >= sp[i]) {
            char buf[96];
            return kc__errf(err, KC_ESHAPE, "%s: cropping (%lld, %lld) leaves nothing of spatial axis %d of the input %s",
                            cls_name(p), (long long)p->amount[i][0], (long long)p->amount[i][1], i + 1,
                            kc_shape_format(&in[0], buf, sizeof(buf)));
        }
        sp[i] = p->crop ? sp[i] - both : sp[i] + both;
    }
    out[0] = kc__spatial_shape(in[0].dims[0], sp, p->rank, c, p->channels_first);
    *n_out = 1;
    return KC_OK;
}

static kc_status pad_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                          kc_error *err)
{
    (void)n_out;
    pad_layer *p = (pad_layer *)self;
    kc_tensor *x = a->inputs[0];
    int nd = p->rank + 2, first = p->channels_first ? 2 : 1;
    if (p->crop) {
        int64_t begin[KC_MAX_DIMS], size[KC_MAX_DIMS];
        for (int i = 0; i < nd; i++) {
            begin[i] = 0;
            size[i] = -1;
        }
        for (int i = 0; i < p->rank; i++) {
            begin[first + i] = p->amount[i][0];
            size[first + i] = kc_tensor_dim(x, first + i) - p->amount[i][0] - p->amount[i][1];
        }
        out[0] = kc_slice(x, begin, size, err);
    } else {
        int64_t pads[2 * KC_MAX_DIMS] = {0};
        for (int i = 0; i < p->rank; i++) {
            pads[2 * (first + i)] = p->amount[i][0];
            pads[2 * (first + i) + 1] = p->amount[i][1];
        }
        out[0] = kc_pad(x, pads, 0.0f, err);
    }
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods pad_methods = {
    .call = pad_call,
    .compute_output_shape = pad_output_shape,
};

#define PAD_CLASS(var, cname, initfn)                                                              \
    const kc_class var = {                                                                         \
        .abi = KC_CLASS_ABI,                                                                       \
        .kind = KC_KIND_LAYER,                                                                     \
        .name = cname,                                                                             \
        .size = sizeof(pad_layer),                                                                 \
        .config_version = 1,                                                                       \
        .init = initfn,                                                                            \
        .get_config = pad_get_config,                                                              \
        .from_config = pad_from_config,                                                            \
        .methods = &pad_methods,                                                                   \
    };

PAD_CLASS(kc__zero_padding1d_class, "ZeroPadding1D", zp1_init)
PAD_CLASS(kc__zero_padding2d_class, "ZeroPadding2D", zp2_init)
PAD_CLASS(kc__zero_padding3d_class, "ZeroPadding3D", zp3_init)
PAD_CLASS(kc__cropping1d_class, "Cropping1D", cr1_init)
PAD_CLASS(kc__cropping2d_class, "Cropping2D", cr2_init)
PAD_CLASS(kc__cropping3d_class, "Cropping3D", cr3_init)

/* Inference slot: ZeroPadding of channels-last data (the plan folds it into
 * a convolution that follows). */
void kc__padding_describe(const kc_object *self, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    const pad_layer *p = (const pad_layer *)self;
    (void)in;
    if (n_in != 1 || p->crop || p->channels_first) return;
    out->kind = KC__LI_PAD;
    out->nsp = p->rank;
    for (int i = 0; i < p->rank; i++) {
        out->pads[i][0] = p->amount[i][0];
        out->pads[i][1] = p->amount[i][1];
    }
}
