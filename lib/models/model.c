/* Models: the base every model shares (Keras' Model is a Layer made of
 * layers): the list of sub-layers, input and output shapes, building,
 * batched prediction, and the kind hooks. Sequential, Functional and
 * subclassed models differ only in how they call their layers. */
#include "models_int.h"
#include "../inference/inference.h"

#include <string.h>

static kc_status model_base_init(kc_object *self, kc_error *err)
{
    kc_status rc = kc__layer_base_init(self, err);
    if (rc != KC_OK) return rc;
    kc_model *m = (kc_model *)self;
    m->state = kc__calloc(1, sizeof(kc__model_state));
    if (!m->state) return kc__errf(err, KC_ENOMEM, "out of memory creating a model");
    kc__idmap_init(&m->state->members);
    return KC_OK;
}

static void model_base_fini(kc_object *self)
{
    kc__model_state *s = ((kc_model *)self)->state;
    if (s) {
        if (s->trainer && s->trainer_free) s->trainer_free(s->trainer);
        if (s->inference && s->inference_free) s->inference_free(s->inference);
        kc__graph_free(s->graph);
        for (int i = 0; i < s->n_layers; i++) kc_object_unref(s->layers[i]);
        kc__free(s->layers);
        kc__idmap_fini(&s->members);
        kc_object_unref(s->input_layer);
        kc__free(s);
    }
    kc__layer_base_fini(self);
}

static kc_status model_base_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const kc_layer *l = kc__as_layer(self);
    if (json_object_set_new(cfg, "name", json_string(l->name ? l->name : "")))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    if (!kc__is_sequential(self) &&
        json_object_set_new(cfg, "trainable", json_boolean(l->trainable)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status check_model_class(const kc_class *cls, kc_error *err)
{
    const kc_model_methods *m = cls->methods;
    if (!m || !m->layer.call || !m->layer.compute_output_shape)
        return kc__errf(err, KC_EINVAL,
                        "model class '%s' needs kc_model_methods with layer.call and "
                        "layer.compute_output_shape", cls->name);
    return kc__layer_check_methods(cls, &m->layer, err);
}

const kc__kind_info kc__model_kind = {
    .name = "model",
    .base_size = sizeof(kc_model),
    .base_init = model_base_init,
    .base_fini = model_base_fini,
    .base_get_config = model_base_get_config,
    .base_from_config = kc__layer_base_from_config,
    .check_class = check_model_class,
    .function_class = &kc__function_classes[KC_KIND_MODEL],
};

bool kc_is_model(const kc_object *obj)
{
    return obj && !kc_object_is_function(obj) && obj->cls->kind == KC_KIND_MODEL;
}

int kc__sublayer_count(const kc_object *layer)
{
    return kc_is_model(layer) ? kc__mstate(layer)->n_layers : kc__as_layer(layer)->state->n_children;
}

kc_object *kc__sublayer(const kc_object *layer, int i)
{
    return kc_is_model(layer) ? kc__mstate(layer)->layers[i] : kc__as_layer(layer)->state->children[i].layer;
}

kc_status kc__model_append_layer(kc_object *model, kc_object *layer, kc_error *err)
{
    kc__model_state *s = kc__mstate(model);
    size_t cap = (size_t)s->cap_layers;
    if (!kc__grow((void **)&s->layers, &cap, (size_t)s->n_layers + 1, sizeof(kc_object *)) ||
        !kc__idmap_put(&s->members, (uint64_t)(uintptr_t)layer, (void *)1))
        return kc__errf(err, KC_ENOMEM, "out of memory adding a layer");
    s->cap_layers = (int)cap;
    s->layers[s->n_layers++] = kc_object_ref(layer);
    kc__layers_changed();
    return KC_OK;
}

void kc__model_pop_layer(kc_object *model)
{
    kc__model_state *s = kc__mstate(model);
    kc_object *layer = s->layers[--s->n_layers];
    *kc__idmap_slot(&s->members, (uint64_t)(uintptr_t)layer) = NULL; /* entries are never removed */
    kc_object_unref(layer);
    kc__layers_changed();
}

bool kc__model_has_layer(const kc_object *model, const kc_object *layer)
{
    return kc__idmap_get(&kc__mstate(model)->members, (uint64_t)(uintptr_t)layer) != NULL;
}

kc_status kc_model_track_layer(kc_object *model, kc_object *layer, kc_error *err)
{
    if (!kc_is_model(model) || !kc_is_layer(layer))
        return kc__errf(err, KC_EINVAL, "kc_model_track_layer: needs a model and a layer");
    if (layer == model) return kc__errf(err, KC_EINVAL, "a model cannot contain itself");
    if (kc__model_has_layer(model, layer)) return KC_OK;
    kc_status rc = kc__layer_ensure_name(layer, err);
    if (rc != KC_OK) return rc;
    return kc__model_append_layer(model, layer, err);
}

int kc_model_num_layers(const kc_object *model)
{
    return kc_is_model(model) ? kc__mstate(model)->n_layers : 0;
}

kc_object *kc_model_layer(const kc_object *model, int i)
{
    if (!kc_is_model(model) || i < 0 || i >= kc__mstate(model)->n_layers) return NULL;
    return kc__mstate(model)->layers[i];
}

kc_object *kc_model_get_layer(const kc_object *model, const char *name)
{
    if (!kc_is_model(model) || !name) return NULL;
    const kc__model_state *s = kc__mstate(model);
    for (int i = 0; i < s->n_layers; i++)
        if (strcmp(kc_layer_name(s->layers[i]), name) == 0) return s->layers[i];
    if (s->input_layer && strcmp(kc_layer_name(s->input_layer), name) == 0) return s->input_layer;
    return NULL;
}

int kc_model_num_inputs(const kc_object *model)
{
    return kc_is_model(model) && kc__mstate(model)->io_known ? kc__mstate(model)->n_inputs : 0;
}

int kc_model_num_outputs(const kc_object *model)
{
    return kc_is_model(model) && kc__mstate(model)->io_known ? kc__mstate(model)->n_outputs : 0;
}

kc_shape kc_model_input_shape(const kc_object *model, int i)
{
    if (i < 0 || i >= kc_model_num_inputs(model)) return kc_shape_make(0, NULL);
    return kc__mstate(model)->in_shapes[i];
}

kc_shape kc_model_output_shape(const kc_object *model, int i)
{
    if (i < 0 || i >= kc_model_num_outputs(model)) return kc_shape_make(0, NULL);
    return kc__mstate(model)->out_shapes[i];
}

bool kc__is_subclassed(const kc_object *m)
{
    return !kc__is_sequential(m) && !kc__is_functional(m);
}

/* Keras builds a subclassed model by calling it on symbolic inputs, which
 * builds every sub-layer it uses; ckeras calls it once, in inference mode
 * and unrecorded, on zeros (unknown dimensions as 1). */
static kc_status build_by_calling(kc_object *model, const kc_shape *in, int n_in, kc_error *err)
{
    kc_tensor *x[KC__MAX_MODEL_IO] = {0}, *out[KC_MAX_LAYER_OUTPUTS];
    int n_out = 0;
    kc_status rc =
        n_in <= KC__MAX_MODEL_IO ? KC_OK : kc__errf(err, KC_ELIMIT, "too many model inputs");
    for (int i = 0; i < n_in && rc == KC_OK; i++) {
        int64_t dims[KC_MAX_DIMS];
        for (int d = 0; d < in[i].ndim; d++) dims[d] = in[i].dims[d] < 0 ? 1 : in[i].dims[d];
        x[i] = kc_tensor_zeros(KC_FLOAT32, in[i].ndim, dims, err);
        if (!x[i]) rc = kc__error_code(err, KC_ENOMEM);
    }
    if (rc == KC_OK) {
        kc__recording_pause();
        rc = kc_layer_call(model, x, n_in, NULL, false, out, NULL, &n_out, err);
        kc__recording_resume();
    }
    for (int i = 0; i < n_out; i++) kc_tensor_unref(out[i]);
    for (int i = 0; i < n_in; i++) kc_tensor_unref(x[i]);
    if (rc == KC_OK) kc_layer_clear_call_losses(model);
    return rc;
}

kc_status kc_model_build(kc_object *model, const kc_shape *in, int n_in, kc_error *err)
{
    if (!kc_is_model(model)) return kc__errf(err, KC_EINVAL, "kc_model_build: not a model");
    kc_shape out[KC_MAX_LAYER_OUTPUTS];
    int n_out;
    kc_status rc = kc__layer_output_shapes(model, in, n_in, out, &n_out, err);
    if (rc == KC_OK && kc__is_subclassed(model) && !kc__as_layer(model)->built)
        rc = build_by_calling(model, in, n_in, err);
    if (rc == KC_OK) rc = kc_layer_build(model, in, n_in, err);
    if (rc != KC_OK) return rc;
    kc__model_state *s = kc__mstate(model);
    if (!s->io_known && n_in <= KC__MAX_MODEL_IO) {
        s->n_inputs = n_in;
        for (int i = 0; i < n_in; i++) s->in_shapes[i] = in[i];
        s->n_outputs = n_out;
        for (int i = 0; i < n_out; i++) s->out_shapes[i] = out[i];
        s->io_known = true;
    }
    return KC_OK;
}

/* ---- prediction ------------------------------------------------------------------------ */

kc_status kc_model_predict(kc_object *model, kc_tensor *const *inputs, int n_inputs,
                           int64_t batch_size, kc_tensor **outputs, int *n_out, kc_error *err)
{
    *n_out = 0;
    if (!kc_is_layer(model)) return kc__errf(err, KC_EINVAL, "kc_model_predict: not a model");
    if (n_inputs < 1 || n_inputs > KC__MAX_MODEL_IO || !inputs)
        return kc__errf(err, KC_EINVAL, "kc_model_predict: needs 1 to %d inputs", KC__MAX_MODEL_IO);
    if (batch_size <= 0) batch_size = 32;
    int64_t n = -1;
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i] || kc_tensor_ndim(inputs[i]) < 1)
            return kc__errf(err, KC_EINVAL, "predict: input %d must be a tensor with a batch axis",
                            i);
        int64_t b = kc_tensor_dim(inputs[i], 0);
        if (n >= 0 && b != n)
            return kc__errf(err, KC_ESHAPE, "predict: input %d has %lld samples, input 0 has %lld",
                            i, (long long)b, (long long)n);
        n = b;
    }
    bool planned = false; /* the inference path; else layer by layer */
    kc_status prc = kc__infer_predict(model, inputs, n_inputs, batch_size, outputs, n_out, &planned, err);
    if (prc != KC_OK) kc__error_context(err, "predict of '%s'", kc_layer_name(model));
    if (prc != KC_OK || planned) return prc;
    int64_t n_batches = n == 0 ? 0 : (n + batch_size - 1) / batch_size;
    kc_tensor **parts = NULL; /* [n_batches][n_heads] */
    int heads = 0;
    kc_status rc = KC_OK;
    kc__recording_pause(); /* inference: nothing to differentiate */
    for (int64_t b = 0; b < n_batches && rc == KC_OK; b++) {
        int64_t start = b * batch_size, count = n - start < batch_size ? n - start : batch_size;
        kc_tensor *views[KC__MAX_MODEL_IO] = {0}, *res[KC_MAX_LAYER_OUTPUTS];
        int k = 0;
        for (int i = 0; i < n_inputs && rc == KC_OK; i++) {
            views[i] = kc__tensor_rows(inputs[i], start, count, err);
            if (!views[i]) rc = kc__error_code(err, KC_ENOMEM);
        }
        if (rc == KC_OK)
            rc = kc_layer_call(model, views, n_inputs, NULL, false, res, NULL, &k, err);
        for (int i = 0; i < n_inputs; i++) kc_tensor_unref(views[i]);
        if (rc != KC_OK) break;
        if (!parts) {
            heads = k;
            parts = kc__calloc((size_t)(n_batches * heads), sizeof(kc_tensor *));
            if (!parts) {
                for (int j = 0; j < k; j++) kc_tensor_unref(res[j]);
                rc = kc__errf(err, KC_ENOMEM, "out of memory in predict");
                break;
            }
        }
        for (int j = 0; j < k; j++) parts[b * heads + j] = res[j];
    }
    kc__recording_resume();
    if (rc == KC_OK && n_batches > 0) {
        kc_tensor **col = kc__malloc(sizeof(kc_tensor *) * (size_t)n_batches);
        if (!col) rc = kc__errf(err, KC_ENOMEM, "out of memory in predict");
        for (int j = 0; j < heads && rc == KC_OK; j++) {
            for (int64_t b = 0; b < n_batches; b++) col[b] = parts[b * heads + j];
            outputs[j] =
                n_batches == 1 ? kc_tensor_ref(col[0]) : kc_concat(col, (int)n_batches, 0, err);
            if (!outputs[j]) {
                rc = kc__error_code(err, KC_ENOMEM);
                for (int q = 0; q < j; q++) {
                    kc_tensor_unref(outputs[q]);
                    outputs[q] = NULL;
                }
            }
        }
        kc__free(col);
        if (rc == KC_OK) *n_out = heads;
    } else if (rc == KC_OK) {
        rc = kc__errf(err, KC_EINVAL, "predict: no samples");
    }
    if (parts)
        for (int64_t i = 0; i < n_batches * heads; i++) kc_tensor_unref(parts[i]);
    kc__free(parts);
    if (rc != KC_OK) kc__error_context(err, "predict of '%s'", kc_layer_name(model));
    return rc;
}

void kc_string_free(char *s) { kc__free(s); }

const char *kc_model_input_name(const kc_object *model, int i)
{
    if (i < 0 || i >= kc_model_num_inputs(model) || !kc__mstate(model)->in_layer[i]) return NULL;
    return kc_layer_name(kc__mstate(model)->in_layer[i]);
}

const char *kc_model_output_name(const kc_object *model, int i)
{
    if (i < 0 || i >= kc_model_num_outputs(model) || !kc__mstate(model)->out_layer[i]) return NULL;
    return kc_layer_name(kc__mstate(model)->out_layer[i]);
}

/* ---- build_config (Keras 3's build_from_config, for subclassed models) ------------------- */

kc_status kc__model_build_config(kc_object *model, json_t **out, kc_error *err)
{
    *out = NULL;
    if (!kc__is_subclassed(model)) return KC_OK;
    const kc_shape *shapes = NULL;
    int n = kc__layer_build_shapes(model, &shapes);
    if (!kc__as_layer(model)->built || n <= 0)
        return kc__errf(
            err, KC_ESTATE,
            "subclassed model '%s' is not built: call it or kc_model_build it before saving",
            kc_layer_name(model));
    json_t *shape = NULL;
    if (n == 1) {
        shape = kc__shape_to_json(&shapes[0]);
    } else if ((shape = json_array())) {
        for (int i = 0; i < n; i++)
            if (json_array_append_new(shape, kc__shape_to_json(&shapes[i]))) {
                json_decref(shape);
                shape = NULL;
                break;
            }
    }
    *out = shape ? json_pack("{s:o}", "input_shape", shape) : NULL;
    return *out ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
}

kc_status kc__model_build_from_config(kc_object *model, const json_t *bc, const kc_config_ctx *ctx,
                                      kc_error *err)
{
    if (kc__as_layer(model)->built || !bc || json_is_null(bc)) return KC_OK;
    const json_t *shape = json_object_get(bc, "input_shape");
    if (!json_is_array(shape))
        return kc__errf(err, KC_EFORMAT,
                        "%s.build_config.input_shape: expected a shape or a list of shapes",
                        ctx->path);
    kc_shape in[KC__MAX_MODEL_IO];
    int n = 0;
    bool nested = json_array_size(shape) > 0 && json_is_array(json_array_get(shape, 0));
    json_t *wrap = json_object();
    if (!wrap) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = KC_OK;
    kc_config_ctx bctx = kc_config_ctx_child(ctx, "build_config", 0);
    for (size_t i = 0; rc == KC_OK && i < (nested ? json_array_size(shape) : 1); i++) {
        if (n == KC__MAX_MODEL_IO) {
            rc = kc__errf(err, KC_ELIMIT, "%s: more than %d inputs", bctx.path, KC__MAX_MODEL_IO);
            break;
        }
        json_object_set(wrap, "input_shape", (json_t *)(nested ? json_array_get(shape, i) : shape));
        bool present;
        rc = kc__cfg_shape(&bctx, wrap, "input_shape", &present, &in[n++], err);
    }
    json_decref(wrap);
    if (rc == KC_OK) rc = kc_model_build(model, in, n, err);
    return rc;
}
