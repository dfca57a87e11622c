/* Sequential: a stack of single-input, single-output layers.
 *
 * As in tf.keras, the InputLayer is kept apart from model.layers (and from
 * the weight file) but written first in the config; a first layer given a
 * batch_input_shape, or a nested model with one input, gets an InputLayer
 * named "<layer>_input". Once the input
 * shape is known every added layer is built at once, so a wrong shape is
 * reported by the add that causes it. */
#include "models_int.h"
#include "../inference/inference.h"

#include <string.h>

bool kc__is_sequential(const kc_object *m) { return m && m->cls == &kc__sequential_class; }

static kc_status chain_shapes(kc_object *model, const kc_shape *in, int upto, kc_shape *out,
                              kc_error *err)
{
    kc__model_state *s = kc__mstate(model);
    kc_shape cur = *in;
    for (int i = 0; i < upto; i++) {
        kc_shape o[KC_MAX_LAYER_OUTPUTS];
        int n;
        kc_status rc = kc__layer_output_shapes(s->layers[i], &cur, 1, o, &n, err);
        if (rc != KC_OK) return rc;
        if (n != 1)
            return kc__errf(err, KC_EINVAL,
                            "layer '%s' has %d outputs; every layer in a Sequential model must "
                            "have one (use the Functional API)",
                            kc_layer_name(s->layers[i]), n);
        cur = o[0];
    }
    *out = cur;
    return KC_OK;
}

/* The input shape is known: build every layer, record the io shapes. */
static kc_status build_stack(kc_object *model, const kc_shape *in, kc_error *err)
{
    kc__model_state *s = kc__mstate(model);
    kc_shape cur = *in;
    for (int i = 0; i < s->n_layers; i++) {
        kc_shape o[KC_MAX_LAYER_OUTPUTS];
        int n;
        kc_status rc = kc__layer_output_shapes(s->layers[i], &cur, 1, o, &n, err);
        if (rc == KC_OK && n != 1)
            rc = kc__errf(err, KC_EINVAL, "layer '%s' has %d outputs; every layer in a Sequential "
                          "model must have one", kc_layer_name(s->layers[i]), n);
        if (rc == KC_OK) rc = kc_layer_build(s->layers[i], &cur, 1, err);
        if (rc != KC_OK) return rc;
        cur = o[0];
    }
    s->n_inputs = s->n_outputs = 1;
    s->in_shapes[0] = *in;
    s->out_shapes[0] = cur;
    s->in_layer[0] = s->input_layer;
    s->out_layer[0] = s->n_layers ? s->layers[s->n_layers - 1] : s->input_layer;
    s->io_known = true;
    kc__as_layer(model)->built = true;
    return KC_OK;
}

/* The layers below the top one are built and out_shapes[0] is what they
 * give: build the top layer on it. */
static kc_status build_top(kc_object *model, kc_error *err)
{
    kc__model_state *s = kc__mstate(model);
    kc_object *top = s->layers[s->n_layers - 1];
    kc_shape cur = s->out_shapes[0], o[KC_MAX_LAYER_OUTPUTS];
    int n;
    kc_status rc = kc__layer_output_shapes(top, &cur, 1, o, &n, err);
    if (rc == KC_OK && n != 1)
        rc = kc__errf(err, KC_EINVAL,
                      "layer '%s' has %d outputs; every layer in a Sequential "
                      "model must have one",
                      kc_layer_name(top), n);
    if (rc == KC_OK) rc = kc_layer_build(top, &cur, 1, err);
    if (rc != KC_OK) return rc;
    s->out_shapes[0] = o[0];
    s->out_layer[0] = top;
    return KC_OK;
}

static kc_status set_input(kc_object *model, kc_object *input_layer, kc_error *err)
{
    kc__model_state *s = kc__mstate(model);
    kc_object_unref(s->input_layer);
    s->input_layer = kc_object_ref(input_layer);
    kc__as_layer(input_layer)->built = true;
    kc_shape in = kc__input_layer_shape(input_layer);
    return build_stack(model, &in, err);
}

kc_object *kc_sequential_new(const char *name, kc_error *err)
{
    kc_object *m = kc_object_new(&kc__sequential_class, err);
    if (!m) return NULL;
    kc_status rc = name ? kc__layer_set_name(m, name, err) : kc__layer_ensure_name(m, err);
    if (rc != KC_OK) {
        kc_object_unref(m);
        return NULL;
    }
    return m;
}

kc_status kc_sequential_add(kc_object *model, kc_object *layer, kc_error *err)
{
    if (!kc__is_sequential(model) || !kc_is_layer(layer))
        return kc__errf(err, KC_EINVAL, "kc_sequential_add: needs a Sequential model and a layer");
    kc__model_state *s = kc__mstate(model);
    kc_status rc = kc__layer_ensure_name(layer, err);
    if (rc != KC_OK) return rc;
    if (layer->cls == &kc__input_layer_class) {
        if (s->n_layers || s->input_layer)
            return kc__errf(err, KC_EINVAL,
                            "an InputLayer can only be the first layer of Sequential '%s'",
                            kc_layer_name(model));
        return set_input(model, layer, err);
    }
    if (kc__model_has_layer(model, layer))
        return kc__errf(err, KC_EINVAL, "layer '%s' is already in Sequential '%s'",
                        kc_layer_name(layer), kc_layer_name(model));
    const kc_layer *l = kc__as_layer(layer);
    /* tf.keras: a first layer with an input shape brings an InputLayer; a
     * nested model with one input lends its shape (Keras 2's
     * get_input_shape_and_dtype, Keras 3's _maybe_rebuild) */
    const kc_shape *first = l->has_batch_input_shape ? &l->batch_input_shape : NULL;
    if (!first && kc_is_model(layer) && kc__mstate(layer)->io_known && kc__mstate(layer)->n_inputs == 1)
        first = &kc__mstate(layer)->in_shapes[0];
    if (!s->n_layers && !s->input_layer && first && first->ndim >= 1) {
        char name[300];
        snprintf(name, sizeof(name), "%s_input", kc_layer_name(layer));
        kc_object *in = kc_input_layer(first->ndim - 1, first->dims + 1, name, err);
        if (!in) return kc__error_code(err, KC_ENOMEM);
        kc__as_layer(in)->batch_input_shape = *first;
        kc_object_unref(s->input_layer);
        s->input_layer = in;
        kc__as_layer(in)->built = true;
    }
    rc = kc__model_append_layer(model, layer, err);
    if (rc != KC_OK) return rc;
    if (s->input_layer) {
        /* the stack below is built: only the new layer needs building, so
         * adding n layers costs O(n), not O(n^2) */
        kc_shape in = kc__input_layer_shape(s->input_layer);
        rc = s->io_known && s->n_layers > 1 ? build_top(model, err) : build_stack(model, &in, err);
        if (rc != KC_OK) { /* leave the model as it was */
            kc__error_context(err, "adding layer '%s' to Sequential '%s'", kc_layer_name(layer),
                              kc_layer_name(model));
            kc__model_pop_layer(model);
            kc_error ignore = {0};
            (void)build_stack(model, &in, &ignore);
            return rc;
        }
    }
    return KC_OK;
}

kc_status kc_sequential_pop(kc_object *model, kc_error *err)
{
    if (!kc__is_sequential(model))
        return kc__errf(err, KC_EINVAL, "kc_sequential_pop: not a Sequential model");
    kc__model_state *s = kc__mstate(model);
    if (!s->n_layers)
        return kc__errf(err, KC_ESTATE, "Sequential '%s' has no layers to pop",
                        kc_layer_name(model));
    kc__model_pop_layer(model);
    if (s->input_layer) {
        kc_shape in = kc__input_layer_shape(s->input_layer);
        return build_stack(model, &in, err);
    }
    return KC_OK;
}

/* ---- as a layer -------------------------------------------------------------------- */

static kc_status seq_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                  kc_shape *out, int *n_out, kc_error *err)
{
    (void)n_in;
    kc__model_state *s = kc__mstate(self);
    if (s->input_layer) {
        kc_shape o[1];
        int n;
        kc_status rc = kc__layer_output_shapes(s->input_layer, in, 1, o, &n, err);
        if (rc != KC_OK) return rc;
    }
    *n_out = 1;
    return chain_shapes((kc_object *)self, in, s->n_layers, out, err);
}

static kc_status seq_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    kc__model_state *s = kc__mstate(self);
    if (!s->input_layer) { /* built from a shape: give it an explicit InputLayer (spec §11) */
        char name[300];
        snprintf(name, sizeof(name), "%s_input",
                 s->n_layers ? kc_layer_name(s->layers[0]) : "input");
        kc_shape any = *in;
        any.dims[0] = -1;
        kc_object *il = kc_input_layer(any.ndim - 1, any.dims + 1, name, err);
        if (!il) return kc__error_code(err, KC_ENOMEM);
        kc_status rc = set_input(self, il, err);
        kc_object_unref(il);
        return rc;
    }
    return build_stack(self, in, err);
}

static kc_status seq_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                          kc_error *err)
{
    bool planned = false; /* the inference path; else layer by layer */
    kc_status prc = kc__infer_call(self, a, out, n_out, &planned, err);
    if (prc != KC_OK || planned) return prc;
    kc__model_state *s = kc__mstate(self);
    kc_tensor *cur = kc_tensor_ref(a->inputs[0]);
    kc_tensor *mask = a->masks ? kc_tensor_ref(a->masks[0]) : NULL;
    for (int i = 0; i < s->n_layers; i++) {
        kc_tensor *o[KC_MAX_LAYER_OUTPUTS], *om[KC_MAX_LAYER_OUTPUTS];
        int n = 0;
        kc_status rc = kc_layer_call(s->layers[i], &cur, 1, mask ? &mask : NULL, a->training, o, om,
                                     &n, err);
        kc_tensor_unref(cur);
        kc_tensor_unref(mask);
        if (rc != KC_OK) return rc;
        cur = o[0];
        mask = om[0];
        for (int j = 1; j < n; j++) {
            kc_tensor_unref(o[j]);
            kc_tensor_unref(om[j]);
        }
    }
    kc_tensor_unref(mask);
    out[0] = cur;
    return KC_OK;
}

/* ---- config ------------------------------------------------------------------------ */

static json_t *serialize_layer(const kc_object *layer, kc_error *err)
{
    json_t *j = NULL;
    if (kc_serialize(layer, &j, err) != KC_OK) return NULL;
    return j;
}

static kc_status seq_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    kc__model_state *s = kc__mstate(self);
    json_t *layers = json_array();
    if (!layers || json_object_set_new(cfg, "layers", layers))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    if (s->input_layer) {
        json_t *j = serialize_layer(s->input_layer, err);
        if (!j || json_array_append_new(layers, j)) return kc__error_code(err, KC_ENOMEM);
    }
    for (int i = 0; i < s->n_layers; i++) {
        json_t *j = serialize_layer(s->layers[i], err);
        if (!j || json_array_append_new(layers, j)) return kc__error_code(err, KC_ENOMEM);
    }
    return KC_OK;
}

kc_status kc__deserialize_layer(const json_t *j, const kc_config_ctx *ctx, kc_object **out,
                                kc_error *err)
{
    *out = NULL;
    kc_status orc = kc__check_operation_node(j, ctx, err);
    if (orc != KC_OK) return orc;
    /* layers and nested models share the namespace in files */
    const json_t *cn = json_object_get(j, "class_name");
    if (json_is_string(cn)) {
        const char *name = json_string_value(cn);
        const kc_class *cls;
        kc_object *obj;
        if (!kc__custom_lookup(ctx->custom, KC_KIND_LAYER, name, &cls, &obj) &&
            kc__registry_lookup(KC_KIND_LAYER, name, &cls, &obj) != KC_OK &&
            (kc__custom_lookup(ctx->custom, KC_KIND_MODEL, name, &cls, &obj) ||
             kc__registry_lookup(KC_KIND_MODEL, name, &cls, &obj) == KC_OK))
            return kc_deserialize(KC_KIND_MODEL, j, ctx, out, err);
    }
    kc_status rc = kc_deserialize(KC_KIND_LAYER, j, ctx, out, err);
    if (rc == KC_OK && !*out)
        rc = kc__errf(err, KC_EFORMAT, "%s: a layer entry is null", ctx->path);
    if (rc == KC_OK && !kc_is_layer(*out)) {
        kc_object_unref(*out);
        *out = NULL;
        rc = kc__errf(err, KC_EFORMAT, "%s: names a function, not a layer class", ctx->path);
    }
    return rc;
}

static kc_status seq_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                 kc_error *err)
{
    const json_t *layers = json_object_get(cfg, "layers");
    kc_config_ctx lctx = kc_config_ctx_child(ctx, "layers", 0);
    if (!json_is_array(layers)) {
        kc__errf(err, KC_EFORMAT, "%s: expected a list of layers", lctx.path);
        kc__error_context(err, "%s", lctx.path);
        return KC_EFORMAT;
    }
    for (size_t i = 0; i < json_array_size(layers); i++) {
        kc_config_ctx c = kc_config_ctx_child(&lctx, NULL, i);
        kc_object *layer;
        kc_status rc = kc__deserialize_layer(json_array_get(layers, i), &c, &layer, err);
        if (rc != KC_OK) return rc;
        rc = kc_sequential_add(self, layer, err);
        kc_object_unref(layer);
        if (rc != KC_OK) {
            kc__error_context(err, "%s", c.path);
            return rc;
        }
    }
    bool has = false;
    kc_shape bis;
    kc_status rc = kc__cfg_shape(ctx, cfg, "build_input_shape", &has, &bis, err);
    if (rc == KC_OK && has && !kc__mstate(self)->io_known) rc = kc_model_build(self, &bis, 1, err);
    return rc;
}

static const kc_model_methods seq_methods = {
    .layer = {.min_inputs = 1, .max_inputs = 1, .build = seq_build, .call = seq_call,
              .compute_output_shape = seq_output_shape},
};

const kc_class kc__sequential_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_MODEL,
    .name = "Sequential",
    .size = sizeof(kc_model),
    .config_version = 1,
    .get_config = seq_get_config,
    .from_config = seq_from_config,
    .methods = &seq_methods,
};
