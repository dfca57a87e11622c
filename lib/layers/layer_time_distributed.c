/* TimeDistributed: apply a layer to every timestep of (batch, time, ...).
 *
 * The batch and time axes are merged, the layer runs once on
 * (batch * time, ...) (one GEMM for a Dense, not one per step), and the
 * result is split again. The inner layer's weights are the wrapper's, named
 * under its scope (time_distributed/kernel:0) as tf.keras names them. A
 * timestep mask reaches the inner layer reshaped to (batch * time,); the
 * output mask is the inner layer's mask reshaped back, or else the input
 * mask, as Keras' TimeDistributed.compute_mask. */
#include "rnn_int.h"

typedef struct timedist {
    kc_layer base;
    kc_object *layer; /* owned */
} timedist;

static kc_status td_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static void td_fini(kc_object *self) { kc_object_unref(((timedist *)self)->layer); }

static kc_status td_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    timedist *t = (timedist *)self;
    kc_config_ctx c = kc_config_ctx_child(ctx, "layer", 0);
    const json_t *jl = json_object_get(cfg, "layer");
    if (!jl || json_is_null(jl)) {
        kc__errf(err, KC_EFORMAT, "%s: TimeDistributed needs a layer", c.path);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    kc_status rc = kc_deserialize(KC_KIND_LAYER, jl, &c, &t->layer, err);
    if (rc == KC_OK && !kc_is_layer(t->layer)) {
        rc = kc__errf(err, KC_EFORMAT, "%s: expected a layer", c.path);
        kc__error_context(err, "%s", c.path);
    }
    return rc;
}

static kc_status td_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    json_t *layer = NULL;
    kc_status rc = kc_serialize(((const timedist *)self)->layer, &layer, err);
    if (rc == KC_OK && json_object_set_new(cfg, "layer", layer)) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    return rc;
}

/* (batch, time, rest...) -> (batch * time, rest...) */
static kc_shape inner_shape(const kc_shape *s)
{
    kc_shape r = *s;
    r.ndim = s->ndim - 1;
    r.dims[0] = s->dims[0] >= 0 && s->dims[1] >= 0 ? s->dims[0] * s->dims[1] : -1;
    for (int i = 1; i < r.ndim; i++) r.dims[i] = s->dims[i + 1];
    return r;
}

static kc_status td_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                 kc_error *err)
{
    (void)n_in;
    const timedist *t = (const timedist *)self;
    if (in[0].ndim < 3)
        return kc__errf(err, KC_ESHAPE, "TimeDistributed needs inputs of rank >= 3 (batch, time, ...), got rank %d",
                        in[0].ndim);
    kc_shape is = inner_shape(&in[0]), os[KC_MAX_LAYER_OUTPUTS];
    int no = 0;
    kc_status rc = kc_layer_compute_output_shape(t->layer, &is, 1, os, &no, err);
    if (rc != KC_OK) return rc;
    if (no != 1 || os[0].ndim < 1 || os[0].ndim >= KC_MAX_DIMS)
        return kc__errf(err, KC_EUNSUPPORTED, "TimeDistributed needs a layer with one output");
    out[0].ndim = os[0].ndim + 1;
    out[0].dims[0] = in[0].dims[0];
    out[0].dims[1] = in[0].dims[1];
    for (int i = 1; i < os[0].ndim; i++) out[0].dims[i + 1] = os[0].dims[i];
    *n_out = 1;
    return KC_OK;
}

static kc_status td_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    timedist *t = (timedist *)self;
    kc_shape is = inner_shape(&in[0]);
    return kc__layer_build_nested(t->layer, self, kc_layer_name(self), &is, 1, err);
}

static kc_tensor *merge_axes(kc_tensor *x, kc_error *err)
{
    kc_shape s = kc_tensor_shape(x), r = inner_shape(&s);
    return kc_reshape(x, r.ndim, r.dims, err);
}

static kc_tensor *split_axes(kc_tensor *y, int64_t batch, int64_t steps, kc_error *err)
{
    int64_t dims[KC_MAX_DIMS];
    int nd = kc_tensor_ndim(y) + 1;
    dims[0] = batch;
    dims[1] = steps;
    for (int i = 2; i < nd; i++) dims[i] = kc_tensor_dim(y, i - 1);
    return kc_reshape(y, nd, dims, err);
}

static kc_status td_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    (void)n_out;
    timedist *t = (timedist *)self;
    kc_tensor *x = a->inputs[0], *mask = a->masks ? a->masks[0] : NULL;
    kc_scope *sc = kc_scope_new(err);
    kc_tensor *xi = kc_scope_take(sc, merge_axes(x, err));
    kc_tensor *mi = mask ? kc_scope_take(sc, kc_reshape(mask, 1, (int64_t[]){kc_tensor_size(mask)}, err)) : NULL;
    kc_tensor *yo[KC_MAX_LAYER_OUTPUTS] = {0};
    int no = 0;
    kc_status rc = xi && (!mask || mi) ? kc__layer_call_nested(t->layer, self, &xi, 1, mi ? &mi : NULL, a->training,
                                                               yo, NULL, &no, err)
                                       : kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK) {
        out[0] = split_axes(yo[0], kc_tensor_dim(x, 0), kc_tensor_dim(x, 1), err);
        if (!out[0]) rc = kc__error_code(err, KC_ENOMEM);
    }
    for (int i = 0; i < no; i++) kc_tensor_unref(yo[i]);
    kc_scope_free(sc);
    return rc;
}

static kc_status td_mask(kc_object *self, const kc_call_args *a, kc_tensor *const *out, int n_out,
                         kc_tensor **out_masks, kc_error *err)
{
    (void)n_out;
    timedist *t = (timedist *)self;
    kc_tensor *x = a->inputs[0], *mask = a->masks ? a->masks[0] : NULL;
    const kc_layer_methods *m = kc__layer_methods(t->layer);
    kc_status rc = KC_OK;
    if (m->compute_mask) {
        kc_scope *sc = kc_scope_new(err);
        kc_tensor *xi = kc_scope_take(sc, merge_axes(x, err)), *yi = kc_scope_take(sc, merge_axes(out[0], err));
        kc_tensor *mi = mask ? kc_scope_take(sc, kc_reshape(mask, 1, (int64_t[]){kc_tensor_size(mask)}, err)) : NULL;
        kc_tensor *om = NULL;
        if (!xi || !yi || (mask && !mi)) {
            rc = kc__error_code(err, KC_ENOMEM);
        } else {
            kc_call_args ia = {&xi, mi ? &mi : NULL, 1, a->training};
            rc = m->compute_mask(t->layer, &ia, &yi, 1, &om, err);
        }
        if (rc == KC_OK && om) {
            out_masks[0] = split_axes(om, kc_tensor_dim(x, 0), kc_tensor_dim(x, 1), err);
            if (!out_masks[0]) rc = kc__error_code(err, KC_ENOMEM);
        }
        kc_tensor_unref(om);
        kc_scope_free(sc);
        if (rc != KC_OK || out_masks[0]) return rc;
    }
    if (mask) out_masks[0] = kc_tensor_ref(mask);
    return KC_OK;
}

static kc_status td_convert(kc_object *self, kc_tensor *const *in, int n_in, const char *version,
                            const char *backend, kc_tensor **out, int *n_out, kc_error *err)
{
    timedist *t = (timedist *)self;
    const kc_layer_methods *m = kc__layer_methods(t->layer);
    *n_out = 0;
    if (!m->convert_weights) return KC_OK;
    return m->convert_weights(t->layer, in, n_in, version, backend, out, n_out, err);
}

static const kc_layer_methods td_methods = {
    .build = td_build,
    .call = td_call,
    .compute_output_shape = td_output_shape,
    .compute_mask = td_mask,
    .convert_weights = td_convert,
};

/* Keras 3 files: the wrapped layer is the attribute "layer" (wrapper.py). */
static kc_status td_keras3_layout(kc_object *self, kc_keras3_tree *tree, kc_error *err)
{
    return kc_keras3_tree_add_layer(tree, "layer", ((timedist *)self)->layer, 0, kc_keras3_tree_num_weights(tree),
                                    err);
}

const kc_class kc__time_distributed_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LAYER,
    .name = "TimeDistributed",
    .size = sizeof(timedist),
    .config_version = 1,
    .init = td_init,
    .fini = td_fini,
    .get_config = td_get_config,
    .from_config = td_from_config,
    .methods = &td_methods,
    .keras3_layout = td_keras3_layout,
};
