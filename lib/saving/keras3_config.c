/* Keras 3's config dialect (doc/keras3-format.md, C1-C9).
 *
 * Reading needs little here: the object reader (serialize.c) accepts
 * module / registered_name, layers read DTypePolicy dtypes and batch_shape,
 * Functional reads node dicts, and the registry knows Keras 3.0-3.6's
 * class name OrthogonalInitializer. What is left is compile_config, the
 * compile arguments a .keras file stores instead of a training_config.
 *
 * Writing turns ckeras' configs (Keras 2's form, which every Keras reads in
 * an .h5 file) into what Keras 3's saving_lib writes into config.json:
 * every object gets "module" and "registered_name" (Keras 3 finds built-in
 * classes by module, custom ones by registered_name), an InputLayer's
 * batch_input_shape is batch_shape, a Sequential starts with its
 * InputLayer, Functional nodes are {"args", "kwargs"} dicts whose tensors
 * are __keras_tensor__ objects (node indices of nested models counted as
 * Keras 3 counts them), built layers carry build_config, and the model
 * carries compile_config. */
#include "keras3.h"

#include <ctype.h>
#include <string.h>

/* ---- reading: compile_config -------------------------------------------------------------- */

json_t *kc__keras3_compile_spec(const json_t *compile_config, const char *optimizer_name, kc_error *err)
{
    json_t *spec = json_deep_copy(compile_config);
    if (!spec) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    const json_t *opt = json_object_get(spec, "optimizer");
    if ((!opt || json_is_null(opt)) && optimizer_name && optimizer_name[0]) {
        /* C9: Keras names an optimizer after its class ("adam", "adam_1") */
        char base[128];
        snprintf(base, sizeof base, "%s", optimizer_name);
        char *us = strrchr(base, '_');
        if (us && us[1]) {
            bool digits = true;
            for (const char *p = us + 1; *p; p++) digits &= isdigit((unsigned char)*p) != 0;
            if (digits) *us = '\0';
        }
        kc_object *probe = kc_optimizer_get(base, NULL);
        if (probe && json_object_set_new(spec, "optimizer", json_string(base))) {
            json_decref(spec);
            spec = NULL;
            kc__errf(err, KC_ENOMEM, "out of memory");
        }
        kc_object_unref(probe);
    }
    return spec;
}

json_t *kc__keras3_training_config(const json_t *compile_config, const char *optimizer_name, kc_error *err)
{
    json_t *spec = kc__keras3_compile_spec(compile_config, optimizer_name, err);
    if (!spec) return NULL;
    json_t *opt = json_incref(json_object_get(spec, "optimizer"));
    if (!opt) opt = json_null();
    if (json_is_string(opt)) {
        json_t *obj = json_pack("{s:O, s:{}}", "class_name", opt, "config");
        json_decref(opt);
        opt = obj;
    }
    json_t *tc = json_object();
    static const char *const keys[] = {"loss", "metrics", "weighted_metrics", "loss_weights"};
    bool ok = tc && opt && !json_object_set_new(tc, "optimizer_config", opt);
    if (!ok) json_decref(opt);
    for (size_t i = 0; ok && i < sizeof keys / sizeof *keys; i++) {
        json_t *v = json_object_get(spec, keys[i]);
        ok = !json_object_set_new(tc, keys[i], v ? json_incref(v) : json_null());
    }
    json_decref(spec);
    if (!ok) {
        json_decref(tc);
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    return tc;
}

/* ---- writing: objects --------------------------------------------------------------------- */

/* C1: the module Keras 3 records for a built-in class of each kind (the
 * public package it is exported from; Functional is not exported, so
 * Keras writes its own module and registers it under its name). */
static const char *kind_module(kc_kind kind)
{
    switch (kind) {
    case KC_KIND_LAYER: return "keras.layers";
    case KC_KIND_INITIALIZER: return "keras.initializers";
    case KC_KIND_REGULARIZER: return "keras.regularizers";
    case KC_KIND_CONSTRAINT: return "keras.constraints";
    case KC_KIND_LOSS: return "keras.losses";
    case KC_KIND_METRIC: return "keras.metrics";
    case KC_KIND_OPTIMIZER: return "keras.optimizers";
    case KC_KIND_SCHEDULE: return "keras.optimizers.schedules";
    case KC_KIND_ACTIVATION: return "keras.activations";
    default: return "keras";
    }
}

/* The kind a config key holds (C1), or KC_KIND_COUNT when the key does not say. */
static kc_kind kind_of_key(const char *key)
{
    static const struct { const char *suffix; kc_kind kind; } by_suffix[] = {
        {"_initializer", KC_KIND_INITIALIZER}, {"_regularizer", KC_KIND_REGULARIZER},
        {"_constraint", KC_KIND_CONSTRAINT},   {"activation", KC_KIND_ACTIVATION},
        {"layer", KC_KIND_LAYER},              {"cell", KC_KIND_LAYER},
        {"cells", KC_KIND_LAYER},              {"layers", KC_KIND_LAYER},
        {"learning_rate", KC_KIND_SCHEDULE},   {"optimizer", KC_KIND_OPTIMIZER},
        {"loss", KC_KIND_LOSS},                {"metrics", KC_KIND_METRIC},
    };
    size_t n = key ? strlen(key) : 0;
    for (size_t i = 0; i < sizeof by_suffix / sizeof *by_suffix; i++) {
        size_t m = strlen(by_suffix[i].suffix);
        if (n >= m && strcmp(key + n - m, by_suffix[i].suffix) == 0) return by_suffix[i].kind;
    }
    return KC_KIND_COUNT;
}

/* A built-in class of the kind, or of any kind when kind says nothing. */
static const kc_class *builtin_class(kc_kind kind, const char *name, kc_kind *found)
{
    for (int k = 0; k < KC_KIND_COUNT; k++) {
        kc_kind kk = kind != KC_KIND_COUNT ? kind : (kc_kind)k;
        const kc_class *cls = kc_find_class(kk, name);
        if (cls && kc__class_is_builtin(cls)) {
            *found = kk;
            return cls;
        }
        if (kind != KC_KIND_COUNT) break;
    }
    return NULL;
}

typedef struct writer {
    kc_error *err;
    kc_status rc;
} writer;

static json_t *fail(writer *w, json_t *partial)
{
    json_decref(partial);
    if (w->rc == KC_OK) w->rc = kc__errf(w->err, KC_ENOMEM, "out of memory writing config.json");
    return NULL;
}

static json_t *convert_value(writer *w, const json_t *v, const char *key);
static kc_status adapt_layer_config(writer *w, const char *cls, json_t *cfg);

/* {"module", "class_name", "config", "registered_name"} for a serialized
 * object of the kind its key says (C1). Built-in classes are found by
 * module; other classes (custom objects) by registered_name, their Keras
 * class name, with no module to import. */
static json_t *convert_object(writer *w, const json_t *obj, kc_kind kind)
{
    const char *cls_name = json_string_value(json_object_get(obj, "class_name"));
    kc_kind found = kind;
    const kc_class *cls = builtin_class(kind, cls_name, &found);
    json_t *config = convert_value(w, json_object_get(obj, "config"), NULL);
    json_t *out = json_object();
    if (!out || !config) {
        json_decref(config);
        return fail(w, out);
    }
    /* an activation layer given as an activation (activation_layers.c) is
     * the layer to Keras 3: module keras.layers, a layer's config */
    if (cls && found == KC_KIND_ACTIVATION && builtin_class(KC_KIND_LAYER, cls_name, &found) == NULL)
        found = KC_KIND_ACTIVATION;
    const char *module = cls ? kind_module(found) : NULL;
    if (cls && found == KC_KIND_MODEL)
        module = strcmp(cls_name, "Sequential") == 0 ? "keras" : "keras.src.models.functional";
    bool functional = cls && found == KC_KIND_MODEL && strcmp(cls_name, "Sequential") != 0;
    if (json_object_set_new(out, "module", module ? json_string(module) : json_null()) ||
        json_object_set_new(out, "class_name", json_string(functional ? "Functional" : cls_name)) ||
        json_object_set_new(out, "config", config) ||
        json_object_set_new(out, "registered_name", cls && !functional ? json_null() : json_string(functional ? "Functional" : cls_name)))
        return fail(w, out);
    if (found == KC_KIND_LAYER && adapt_layer_config(w, cls_name, config) != KC_OK) return fail(w, out);
    /* everything else the source object carries (a Functional layer's
     * name and inbound_nodes) is handled by the caller */
    return out;
}

/* Any JSON value of a config: objects inside converted (C1), the rest as is. */
static json_t *convert_value(writer *w, const json_t *v, const char *key)
{
    if (!v) return json_null();
    if (json_is_array(v)) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < json_array_size(v); i++)
            if (json_array_append_new(a, convert_value(w, json_array_get(v, i), key))) return fail(w, a);
        return a ? a : fail(w, NULL);
    }
    if (!json_is_object(v)) return json_deep_copy(v);
    if (json_is_string(json_object_get(v, "class_name")) && json_object_get(v, "config"))
        return convert_object(w, v, kind_of_key(key));
    json_t *o = json_object();
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x)
        if (!o || json_object_set_new(o, k, convert_value(w, x, k))) return fail(w, o);
    return o ? o : fail(w, NULL);
}

/* ---- writing: layers and models --------------------------------------------------------------- */

static json_t *shape_json(const kc_shape *s) { return kc__shape_to_json(s); }

/* build_config (C6): the shapes the layer was built for. */
static json_t *build_config(const kc_object *layer)
{
    const kc_shape *shapes;
    int n = kc__layer_build_shapes(layer, &shapes);
    if (n <= 0) return NULL;
    json_t *in = n == 1 ? shape_json(&shapes[0]) : json_array();
    for (int i = 0; n > 1 && in && i < n; i++)
        if (json_array_append_new(in, shape_json(&shapes[i]))) {
            json_decref(in);
            return NULL;
        }
    return in ? json_pack("{s:o}", "input_shape", in) : NULL;
}

/* C3, C4: what Keras 3's layer constructors take that Keras 2 wrote
 * differently. */
static kc_status adapt_layer_config(writer *w, const char *cls, json_t *cfg)
{
    if (strcmp(cls, "InputLayer") == 0) {
        /* Keras 3's InputLayer config: batch_shape, dtype, sparse, name */
        json_t *shape = json_incref(json_object_get(cfg, "batch_input_shape"));
        json_object_del(cfg, "batch_input_shape");
        json_object_del(cfg, "ragged");
        json_object_del(cfg, "trainable");
        if (shape && json_object_set_new(cfg, "batch_shape", shape)) w->rc = kc__errf(w->err, KC_ENOMEM, "out of memory");
        return w->rc;
    }
    json_object_del(cfg, "batch_input_shape"); /* a Sequential starts with its InputLayer instead */
    /* keys Keras 2 wrote whose Keras 3 classes have no such argument and
     * refuse it (checked against every 3.x __init__ and get_config) */
    static const struct {
        const char *cls, *keys[2];
    } refused[] = {
        {"LSTM", {"time_major"}},      {"GRU", {"time_major"}},
        {"SimpleRNN", {"time_major"}}, {"RNN", {"time_major"}},
        {"Embedding", {"input_length"}},
        {"SpatialDropout1D", {"trainable", "noise_shape"}}, {"SpatialDropout2D", {"trainable", "noise_shape"}},
        {"SpatialDropout3D", {"trainable", "noise_shape"}},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (strcmp(cls, refused[i].cls) == 0)
            for (int k = 0; k < 2 && refused[i].keys[k]; k++) json_object_del(cfg, refused[i].keys[k]);
    /* legacy_h5_format's model_from_config: a one-element axis list is an int */
    json_t *axis = json_object_get(cfg, "axis");
    if (json_is_array(axis) && json_array_size(axis) == 1 && json_is_integer(json_array_get(axis, 0)) &&
        json_object_set_new(cfg, "axis", json_integer(json_integer_value(json_array_get(axis, 0)))))
        w->rc = kc__errf(w->err, KC_ENOMEM, "out of memory");
    return w->rc;
}

static json_t *model_json(writer *w, kc_object *model, const json_t *k2);

/* One layer of a model's config: its object form, its build_config, and
 * (Functional) its name and nodes, converted by the caller. */
static json_t *layer_json(writer *w, kc_object *layer, const json_t *k2)
{
    if (layer && kc_is_model(layer)) return model_json(w, layer, k2);
    json_t *out = convert_object(w, k2, KC_KIND_LAYER);
    if (!out) return NULL;
    json_t *bc = layer ? build_config(layer) : NULL;
    if (bc && json_object_set_new(out, "build_config", bc)) return fail(w, out);
    return out;
}

/* Where a tensor comes from, as Keras 3 numbers it (C5): a nested model's
 * calls count from 0, where Keras 2 (and ckeras' configs) give it a node 0
 * of its own. */
typedef struct source {
    const char *layer;
    int node, tensor;
} source;

static kc_shape node_shape(const kc__graph *g, const char *layer, int node, int tensor, bool *found)
{
    *found = false;
    for (int i = 0; g && i < kc__graph_num_nodes(g); i++) {
        const kc__gnode *n = kc__graph_node(g, i);
        if (strcmp(kc_layer_name(n->layer), layer) == 0 && kc__graph_node_index(g, n) == node &&
            tensor >= 0 && tensor < n->n_outputs) {
            *found = true;
            return n->out_shapes[tensor];
        }
    }
    return kc_shape_make(0, NULL);
}

static json_t *keras_tensor(writer *w, kc_object *model, const json_t *ref)
{
    const char *name = json_string_value(json_array_get(ref, 0));
    int node = (int)json_integer_value(json_array_get(ref, 1)), tensor = (int)json_integer_value(json_array_get(ref, 2));
    kc_object *src = name ? kc_model_get_layer(model, name) : NULL;
    bool found;
    kc_shape s = node_shape(kc__mstate(model)->graph, name ? name : "", node, tensor, &found);
    json_t *shape = found ? shape_json(&s) : json_null();
    int k3_node = node - (src ? kc__first_node_index(src) : 0);
    json_t *t = json_pack("{s:s, s:{s:o, s:s, s:[s, i, i]}}", "class_name", "__keras_tensor__", "config", "shape",
                          shape, "dtype", "float32", "keras_history", name ? name : "", k3_node, tensor);
    return t ? t : fail(w, NULL);
}

/* C5: a Keras 2 node [[layer, node, tensor, kwargs], ...] as Keras 3's
 * {"args": [tensor or [tensors]], "kwargs": kwargs}. */
static json_t *node_json(writer *w, kc_object *model, const json_t *node)
{
    if (!json_is_array(node)) return json_deep_copy(node); /* already Keras 3's */
    size_t n = json_array_size(node);
    json_t *tensors = json_array();
    for (size_t i = 0; tensors && i < n; i++)
        if (json_array_append_new(tensors, keras_tensor(w, model, json_array_get(node, i)))) return fail(w, tensors);
    if (!tensors) return fail(w, NULL);
    json_t *first = n == 1 ? json_incref(json_array_get(tensors, 0)) : json_incref(tensors);
    json_decref(tensors);
    const json_t *kw = json_array_get(json_array_get(node, 0), 3);
    json_t *kwargs = json_is_object(kw) ? convert_value(w, kw, NULL) : json_object();
    json_t *out = json_pack("{s:[o], s:o}", "args", first, "kwargs", kwargs);
    return out ? out : fail(w, NULL);
}

/* input_layers / output_layers (C5): a Sequential's endpoint node counts
 * from 0 in Keras 3, a Functional's keeps Keras 2's number. */
static json_t *endpoints_json(writer *w, kc_object *model, const json_t *list)
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        const char *name = json_string_value(json_array_get(e, 0));
        int node = (int)json_integer_value(json_array_get(e, 1));
        kc_object *src = name ? kc_model_get_layer(model, name) : NULL;
        if (src && kc_is_model(src) && kc__is_sequential(src)) node -= kc__first_node_index(src);
        if (json_array_append_new(out, json_pack("[s, i, I]", name ? name : "", node,
                                                 json_integer_value(json_array_get(e, 2)))))
            return fail(w, out);
    }
    return out ? out : fail(w, NULL);
}

static kc_status functional_layers(writer *w, kc_object *model, const json_t *k2cfg, json_t *cfg)
{
    const json_t *layers = json_object_get(k2cfg, "layers");
    json_t *out = json_array();
    for (size_t i = 0; out && w->rc == KC_OK && i < json_array_size(layers); i++) {
        const json_t *l = json_array_get(layers, i);
        const char *name = json_string_value(json_object_get(l, "name"));
        if (!name) name = json_string_value(json_object_get(json_object_get(l, "config"), "name"));
        json_t *lj = layer_json(w, name ? kc_model_get_layer(model, name) : NULL, l);
        json_t *nodes = json_array();
        const json_t *k2nodes = json_object_get(l, "inbound_nodes");
        for (size_t k = 0; nodes && k < json_array_size(k2nodes); k++)
            if (json_array_append_new(nodes, node_json(w, model, json_array_get(k2nodes, k)))) {
                json_decref(nodes);
                nodes = NULL;
            }
        if (!lj || !nodes || json_object_set_new(lj, "name", json_string(name ? name : "")) ||
            json_object_set_new(lj, "inbound_nodes", nodes) || json_array_append_new(out, lj)) {
            if (!nodes) json_decref(lj);
            return fail(w, out), w->rc;
        }
    }
    if (!out) return fail(w, NULL), w->rc;
    if (json_object_set_new(cfg, "layers", out) ||
        json_object_set_new(cfg, "input_layers", endpoints_json(w, model, json_object_get(k2cfg, "input_layers"))) ||
        json_object_set_new(cfg, "output_layers", endpoints_json(w, model, json_object_get(k2cfg, "output_layers"))))
        return fail(w, NULL), w->rc;
    return w->rc;
}

/* A Sequential's layers: its InputLayer first (Keras 3 has no
 * batch_input_shape on the first layer), then model.layers. */
static kc_status sequential_layers(writer *w, kc_object *model, const json_t *k2cfg, json_t *cfg)
{
    const json_t *layers = json_object_get(k2cfg, "layers");
    json_t *out = json_array();
    for (size_t i = 0; out && w->rc == KC_OK && i < json_array_size(layers); i++) {
        const json_t *l = json_array_get(layers, i);
        const char *name = json_string_value(json_object_get(json_object_get(l, "config"), "name"));
        const json_t *bis = json_object_get(json_object_get(l, "config"), "batch_input_shape");
        if (i == 0 && bis && strcmp(json_string_value(json_object_get(l, "class_name")), "InputLayer") != 0) {
            json_t *in = json_pack("{s:s, s:s, s:{s:O, s:s, s:b, s:s}, s:n}", "module", "keras.layers", "class_name",
                                   "InputLayer", "config", "batch_shape", bis, "dtype", "float32", "sparse", 0, "name",
                                   "input_layer", "registered_name");
            if (!in || json_array_append_new(out, in)) return fail(w, out), w->rc;
        }
        if (json_array_append_new(out, layer_json(w, name ? kc_model_get_layer(model, name) : NULL, l)))
            return fail(w, out), w->rc;
    }
    if (!out || json_object_set_new(cfg, "layers", out)) return fail(w, NULL), w->rc;
    if (kc__mstate(model)->io_known &&
        json_object_set_new(cfg, "build_input_shape", shape_json(&kc__mstate(model)->in_shapes[0])))
        return fail(w, NULL), w->rc;
    return w->rc;
}

/* A model's object form: config with its layers (nested models likewise),
 * and build_config. */
static json_t *model_json(writer *w, kc_object *model, const json_t *k2)
{
    const char *cls = json_string_value(json_object_get(k2, "class_name"));
    const json_t *k2cfg = json_object_get(k2, "config");
    json_t *stripped = json_deep_copy(k2);
    if (!stripped) return fail(w, NULL);
    json_object_del(json_object_get(stripped, "config"), "layers");
    json_t *out = convert_object(w, stripped, KC_KIND_MODEL);
    json_decref(stripped);
    if (!out) return NULL;
    json_t *cfg = json_object_get(out, "config");
    json_object_del(cfg, "input_layers");
    json_object_del(cfg, "output_layers");
    if (json_is_array(json_object_get(k2cfg, "layers"))) {
        kc_status rc = cls && strcmp(cls, "Sequential") == 0 ? sequential_layers(w, model, k2cfg, cfg)
                                                              : functional_layers(w, model, k2cfg, cfg);
        if (rc != KC_OK) return fail(w, out);
    }
    kc__model_state *st = kc__mstate(model);
    if (st->io_known && st->n_inputs > 0) {
        json_t *in = st->n_inputs == 1 ? shape_json(&st->in_shapes[0]) : json_array();
        for (int i = 0; st->n_inputs > 1 && in && i < st->n_inputs; i++)
            if (json_array_append_new(in, shape_json(&st->in_shapes[i]))) in = fail(w, in);
        if (!in || json_object_set_new(out, "build_config", json_pack("{s:o}", "input_shape", in))) return fail(w, out);
    } else {
        json_t *bc = NULL;
        if (kc__model_build_config(model, &bc, w->err) != KC_OK) {
            w->rc = kc__error_code(w->err, KC_ENOMEM);
            return fail(w, out);
        }
        if (bc && json_object_set_new(out, "build_config", bc)) return fail(w, out);
    }
    return out;
}

/* C7: compile_config from ckeras' training config. */
static json_t *compile_json(writer *w, kc_object *model)
{
    json_t *tc = NULL;
    if (kc_model_training_config(model, &tc, w->err) != KC_OK) {
        w->rc = kc__error_code(w->err, KC_ENOMEM);
        return NULL;
    }
    if (!tc) return NULL;
    json_t *out = json_object();
    static const char *const keys[] = {"optimizer_config", "loss", "loss_weights", "metrics", "weighted_metrics"};
    for (size_t i = 0; out && i < sizeof keys / sizeof *keys; i++) {
        const char *key = i == 0 ? "optimizer" : keys[i];
        if (json_object_set_new(out, key, convert_value(w, json_object_get(tc, keys[i]), key))) out = fail(w, out);
    }
    json_decref(tc);
    if (out && (json_object_set_new(out, "run_eagerly", json_false()) ||
                json_object_set_new(out, "steps_per_execution", json_integer(1)) ||
                json_object_set_new(out, "jit_compile", json_false())))
        return fail(w, out);
    return out;
}

json_t *kc__keras3_model_json(kc_object *model, bool with_compile, kc_error *err)
{
    writer w = {err, KC_OK};
    json_t *k2 = NULL;
    if (kc_serialize(model, &k2, err) != KC_OK) return NULL;
    json_t *out = model_json(&w, model, k2);
    json_decref(k2);
    json_t *cc = out && with_compile ? compile_json(&w, model) : NULL;
    if (out && cc && json_object_set_new(out, "compile_config", cc)) out = fail(&w, out);
    if (w.rc != KC_OK) {
        json_decref(out);
        return NULL;
    }
    return out;
}
