/* modelinspect: the architecture in model_config, without the classes.
 *
 * Keras writes the graph three ways: Sequential configs list layers that
 * chain in order (Keras <= 2.0 wrote the bare list); Keras 1 and 2
 * Functional configs give each layer "inbound_nodes" as lists of
 * [layer, node, tensor(, kwargs)] descriptors; Keras 3 writes each node as
 * {"args": [...], "kwargs": {...}} holding __keras_tensor__ objects whose
 * keras_history is that triple, at any depth. All three become arch_refs.
 * Shapes come only from a loaded model (arch_infer_shapes): a config alone
 * does not say what an unknown class computes. */
#include "arch.h"
#include "inspect.h"

#include <stdlib.h>
#include <string.h>

/* ---- parsing -------------------------------------------------------------------------------- */

typedef struct refs {
    arch_ref *items;
    int n, cap;
    bool oom;
} refs;

static void refs_add(refs *r, const char *layer, int node, int tensor)
{
    if (r->oom) return;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 4;
        arch_ref *grown = realloc(r->items, (size_t)cap * sizeof(*grown));
        if (!grown) {
            r->oom = true;
            return;
        }
        r->items = grown;
        r->cap = cap;
    }
    r->items[r->n++] = (arch_ref){layer, node, tensor};
}

static int int_or(const json_t *v, int dflt)
{
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

/* [name, node, tensor, ...]; false when v is not such a triple. */
static bool add_triple(refs *r, const json_t *v)
{
    if (!json_is_array(v) || !json_is_string(json_array_get(v, 0))) return false;
    const char *name = json_string_value(json_array_get(v, 0));
    if (strcmp(name, "_CONSTANT_VALUE") != 0) /* a constant call argument, no tensor */
        refs_add(r, name, int_or(json_array_get(v, 1), 0), int_or(json_array_get(v, 2), 0));
    return true;
}

/* input_layers / output_layers: a triple, or lists / dicts of them. */
static void add_triples(refs *r, const json_t *v)
{
    if (add_triple(r, v)) return;
    size_t i;
    const char *key;
    const json_t *item;
    if (json_is_array(v)) json_array_foreach(v, i, item) add_triples(r, item);
    else if (json_is_object(v)) json_object_foreach((json_t *)v, key, item) add_triples(r, item);
}

/* Keras 3: every __keras_tensor__ in a node's args and kwargs. */
static void add_keras_tensors(refs *r, const json_t *v)
{
    size_t i;
    const char *key;
    const json_t *item;
    if (json_is_object(v)) {
        const char *cls = json_string_value(json_object_get(v, "class_name"));
        if (cls && strcmp(cls, "__keras_tensor__") == 0) {
            add_triple(r, json_object_get(json_object_get(v, "config"), "keras_history"));
            return;
        }
        json_object_foreach((json_t *)v, key, item) add_keras_tensors(r, item);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item) add_keras_tensors(r, item);
    }
}

static bool add_node(arch_layer *l, refs *r)
{
    arch_node *grown = realloc(l->nodes, (size_t)(l->n_nodes + 1) * sizeof(*grown));
    if (!grown) return false;
    l->nodes = grown;
    l->nodes[l->n_nodes++] = (arch_node){.in = r->items, .n_in = r->n};
    *r = (refs){0};
    return true;
}

bool arch_is_input(const arch_layer *l) { return strcmp(l->class_name, "InputLayer") == 0; }

static arch_model *parse_at(const json_t *mc, const char *path, kc_error *err);

static kc_status parse_layer(arch_model *a, int i, const json_t *entry, const char *path, kc_error *err)
{
    char where[512];
    snprintf(where, sizeof where, "%s.layers[%d]", path, i);
    arch_layer *l = &a->layers[i];
    const json_t *cfg = json_object_get(entry, "config");
    l->class_name = json_string_value(json_object_get(entry, "class_name"));
    l->name = json_string_value(json_object_get(entry, "name"));
    if (!l->name && json_is_object(cfg)) l->name = json_string_value(json_object_get(cfg, "name"));
    l->config = cfg;
    if (!json_is_object(entry)) return inspect_errf(err, KC_EFORMAT, where, "a layer must be a JSON object");
    if (!l->class_name) return inspect_errf(err, KC_EFORMAT, where, "a layer has no class_name");
    if (!l->name) return inspect_errf(err, KC_EFORMAT, where, "a layer of class %s has no name", l->class_name);
    if (json_is_array(cfg) || json_is_array(json_object_get(cfg, "layers"))) {
        char inner[sizeof where + 16];
        snprintf(inner, sizeof inner, "%s.config", where);
        if (!(l->inner = parse_at(entry, inner, err))) return KC_EFORMAT;
    }
    refs r = {0};
    if (a->sequential) {
        if (i > 0) refs_add(&r, a->layers[i - 1].name, 0, 0);
        if (!r.oom && add_node(l, &r)) return KC_OK;
        free(r.items);
        return inspect_errf(err, KC_ENOMEM, where, "out of memory");
    }
    const json_t *nodes = json_object_get(entry, "inbound_nodes"), *node;
    size_t k;
    json_array_foreach(nodes, k, node) {
        if (json_is_object(node)) {
            add_keras_tensors(&r, json_object_get(node, "args"));
            add_keras_tensors(&r, json_object_get(node, "kwargs"));
        } else if (json_is_array(node)) {
            size_t j;
            const json_t *d;
            json_array_foreach(node, j, d) add_triple(&r, d);
        } else {
            snprintf(where + strlen(where), sizeof where - strlen(where), ".inbound_nodes[%zu]", k);
            return inspect_errf(err, KC_EFORMAT, where, "a node must be a list or a dict");
        }
        if (r.oom || !add_node(l, &r)) {
            free(r.items);
            return inspect_errf(err, KC_ENOMEM, where, "out of memory");
        }
    }
    /* the input layer's own node, which the others' "input_1[0][0]" name */
    if (l->n_nodes == 0 && arch_is_input(l) && !add_node(l, &r))
        return inspect_errf(err, KC_ENOMEM, where, "out of memory");
    return KC_OK;
}

static arch_model *parse_at(const json_t *mc, const char *path, kc_error *err)
{
    const char *cls = json_string_value(json_object_get(mc, "class_name"));
    const json_t *cfg = json_object_get(mc, "config");
    if (!json_is_object(mc) || !cls) {
        inspect_errf(err, KC_EFORMAT, path, "a model config needs class_name and config");
        return NULL;
    }
    arch_model *a = calloc(1, sizeof(*a));
    if (!a) {
        inspect_errf(err, KC_ENOMEM, path, "out of memory");
        return NULL;
    }
    a->class_name = cls;
    a->name = json_string_value(json_object_get(cfg, "name"));
    if (!a->name) a->name = cls;
    const json_t *layers = json_is_array(cfg) ? cfg : json_object_get(cfg, "layers");
    a->listed = json_is_array(layers);
    if (!a->listed) return a; /* a subclassed model: its config is its own */
    /* Sequential: no input_layers and no layer with inbound_nodes */
    a->sequential = !json_object_get(cfg, "input_layers");
    size_t i;
    const json_t *entry;
    json_array_foreach(layers, i, entry) if (json_object_get(entry, "inbound_nodes")) a->sequential = false;
    size_t n = json_array_size(layers);
    if (n > 0 && !(a->layers = calloc(n, sizeof(arch_layer)))) {
        free(a);
        inspect_errf(err, KC_ENOMEM, path, "out of memory");
        return NULL;
    }
    a->n_layers = (int)n;
    json_array_foreach(layers, i, entry) {
        if (parse_layer(a, (int)i, entry, path, err) != KC_OK) {
            arch_free(a);
            return NULL;
        }
    }
    refs in = {0}, out = {0};
    add_triples(&in, json_object_get(cfg, "input_layers"));
    add_triples(&out, json_object_get(cfg, "output_layers"));
    a->inputs = in.items, a->n_inputs = in.n;
    a->outputs = out.items, a->n_outputs = out.n;
    if (in.oom || out.oom) {
        arch_free(a);
        inspect_errf(err, KC_ENOMEM, path, "out of memory");
        return NULL;
    }
    return a;
}

arch_model *arch_parse(const json_t *model_config, kc_error *err)
{
    return parse_at(model_config, "model_config", err);
}

arch_model *arch_load(kc_h5file *f, json_t **model_config)
{
    kc_error err = {0};
    arch_model *a = NULL;
    *model_config = NULL;
    if (kc_h5file_attr_json(f, "model_config", model_config, &err) != KC_OK) inspect_print_error(&err);
    else if (!*model_config) inspect_fail(EXIT_INVALID, WEIGHTS_ONLY_MESSAGE, kc_h5file_path(f));
    else if (!(a = arch_parse(*model_config, &err))) inspect_print_error(&err);
    if (!a) {
        json_decref(*model_config);
        *model_config = NULL;
    }
    return a;
}

void arch_free(arch_model *a)
{
    if (!a) return;
    for (int i = 0; i < a->n_layers; i++) {
        arch_layer *l = &a->layers[i];
        for (int k = 0; k < l->n_nodes; k++) {
            free(l->nodes[k].in);
            free(l->nodes[k].out);
        }
        free(l->nodes);
        arch_free(l->inner);
    }
    free(a->layers);
    free(a->inputs);
    free(a->outputs);
    free(a);
}

arch_layer *arch_find(const arch_model *a, const char *name)
{
    for (int i = 0; i < a->n_layers; i++)
        if (strcmp(a->layers[i].name, name) == 0) return &a->layers[i];
    return NULL;
}

/* Keras numbers the calls of a nested model that has its own InputLayer
 * from 1 in configs: its call 0 is the one that built it, which the outer
 * model does not own (functional.py, _should_skip_first_node). An
 * InputLayer's tensors are always its call 0. */
arch_node *arch_source(const arch_model *a, const arch_ref *r)
{
    arch_layer *l = arch_find(a, r->layer);
    if (!l || l->n_nodes == 0) return NULL;
    if (arch_is_input(l)) return &l->nodes[0];
    int base = l->inner && (l->inner->n_layers == 0 || arch_is_input(&l->inner->layers[0])) ? 1 : 0;
    int k = r->node - base;
    return k >= 0 && k < l->n_nodes ? &l->nodes[k] : NULL;
}

/* ---- shapes ---------------------------------------------------------------------------------- */

static bool set_out(arch_node *node, const kc_shape *s, int n)
{
    kc_shape *copy = malloc((size_t)(n > 0 ? n : 1) * sizeof(kc_shape));
    if (!copy) return false;
    memcpy(copy, s, (size_t)n * sizeof(kc_shape));
    free(node->out);
    node->out = copy;
    node->n_out = n;
    node->shaped = true;
    return true;
}

static void infer(arch_model *a, const kc_object *model, const kc_shape *ins, int n_ins);

/* Call `layer` (the loaded object of l) on `in`; nested models get their
 * own layers' shapes from their first call. */
static void shape_call(arch_layer *l, arch_node *node, const kc_object *obj, const kc_shape *in, int n_in)
{
    kc_shape out[KC_MAX_LAYER_OUTPUTS];
    int n_out = 0;
    kc_error e = {0};
    if (!obj || kc_layer_compute_output_shape(obj, in, n_in, out, &n_out, &e) != KC_OK) return;
    if (!set_out(node, out, n_out)) return;
    if (l->inner && node == &l->nodes[0] && kc_is_model(obj)) infer(l->inner, obj, in, n_in);
}

static void infer(arch_model *a, const kc_object *model, const kc_shape *ins, int n_ins)
{
    if (a->sequential) {
        const kc_shape *cur = n_ins > 0 ? &ins[0] : NULL;
        for (int i = 0; i < a->n_layers && a->layers[i].n_nodes > 0; i++) {
            arch_layer *l = &a->layers[i];
            if (arch_is_input(l)) {
                if (cur) set_out(&l->nodes[0], cur, 1);
            } else if (cur) {
                shape_call(l, &l->nodes[0], kc_model_get_layer(model, l->name), cur, 1);
            }
            cur = l->nodes[0].shaped && l->nodes[0].n_out == 1 ? &l->nodes[0].out[0] : NULL;
        }
        return;
    }
    /* inputs by position in input_layers */
    for (int k = 0; k < a->n_inputs && k < n_ins; k++) {
        arch_layer *l = arch_find(a, a->inputs[k].layer);
        if (l && arch_is_input(l) && l->n_nodes > 0) set_out(&l->nodes[0], &ins[k], 1);
    }
    /* then every call whose inputs are known, until nothing changes */
    for (bool progress = true; progress;) {
        progress = false;
        for (int i = 0; i < a->n_layers; i++) {
            arch_layer *l = &a->layers[i];
            for (int k = 0; k < l->n_nodes; k++) {
                arch_node *node = &l->nodes[k];
                if (node->tried || node->n_in == 0 || node->n_in > KC_MAX_LAYER_OUTPUTS) continue;
                kc_shape in[KC_MAX_LAYER_OUTPUTS];
                bool ready = true;
                for (int j = 0; ready && j < node->n_in; j++) {
                    const arch_ref *r = &node->in[j];
                    const arch_node *sn = arch_source(a, r);
                    ready = sn && sn->shaped && r->tensor >= 0 && r->tensor < sn->n_out;
                    if (ready) in[j] = sn->out[r->tensor];
                }
                if (!ready) continue;
                node->tried = true; /* a call that fails stays unshaped */
                shape_call(l, node, kc_model_get_layer(model, l->name), in, node->n_in);
                progress = true;
            }
        }
    }
}

/* [null, 8] -> (-1, 8); false unless a list of at most KC_MAX_DIMS ints / nulls. */
static bool shape_from_json(const json_t *v, kc_shape *s)
{
    if (!json_is_array(v) || json_array_size(v) > KC_MAX_DIMS) return false;
    s->ndim = (int)json_array_size(v);
    for (int d = 0; d < s->ndim; d++) {
        const json_t *x = json_array_get(v, (size_t)d);
        if (!json_is_null(x) && !json_is_integer(x)) return false;
        s->dims[d] = json_is_integer(x) ? (int64_t)json_integer_value(x) : -1;
    }
    return true;
}

void arch_input_shapes_from_config(arch_model *a)
{
    for (int i = 0; i < a->n_layers; i++) {
        arch_layer *l = &a->layers[i];
        kc_shape s;
        if (l->inner) arch_input_shapes_from_config(l->inner);
        else if (arch_is_input(l) && l->n_nodes > 0 && !l->nodes[0].shaped &&
                 (shape_from_json(json_object_get(l->config, "batch_input_shape"), &s) ||
                  shape_from_json(json_object_get(l->config, "batch_shape"), &s)))
            set_out(&l->nodes[0], &s, 1);
    }
}

void arch_infer_shapes(arch_model *a, const kc_object *model)
{
    int n = kc_model_num_inputs(model);
    kc_shape ins[KC_MAX_LAYER_OUTPUTS];
    if (n > KC_MAX_LAYER_OUTPUTS) n = KC_MAX_LAYER_OUTPUTS;
    for (int i = 0; i < n; i++) ins[i] = kc_model_input_shape(model, i);
    infer(a, model, ins, n);
}

/* ---- text ------------------------------------------------------------------------------------ */

static bool same_outputs(const arch_node *x, const arch_node *y)
{
    if (!x->shaped || !y->shaped || x->n_out != y->n_out) return false;
    for (int t = 0; t < x->n_out; t++)
        if (!kc_shape_equal(&x->out[t], &y->out[t])) return false;
    return true;
}

/* 0: unknown, 1: node 0's shapes stand for the layer, 2: "multiple" */
static int shape_state(const arch_layer *l)
{
    if (l->n_nodes == 0 || !l->nodes[0].shaped) return 0;
    for (int k = 1; k < l->n_nodes; k++)
        if (!same_outputs(&l->nodes[0], &l->nodes[k])) return 2;
    return 1;
}

bool arch_shape_text(const arch_layer *l, bool plain, char *buf, size_t size)
{
    int st = shape_state(l);
    if (st == 0) return false;
    if (st == 2) {
        snprintf(buf, size, "multiple");
        return true;
    }
    const arch_node *n = &l->nodes[0];
    bool as_list = !plain && (n->n_out > 1 || n->n_in == 0);
    size_t used = (size_t)snprintf(buf, size, "%s", as_list ? "[" : "");
    for (int t = 0; t < n->n_out && used < size; t++) {
        char one[256];
        used += (size_t)snprintf(buf + used, size - used, "%s%s", t ? ", " : "", kc_shape_format(&n->out[t], one, sizeof one));
    }
    if (as_list && used < size) snprintf(buf + used, size - used, "]");
    return true;
}

json_t *arch_shape_json(const arch_layer *l)
{
    int st = shape_state(l);
    if (st == 0) return json_null();
    if (st == 2) return json_string("multiple");
    json_t *list = json_array();
    for (int t = 0; t < l->nodes[0].n_out; t++)
        json_array_append_new(list, inspect_shape_json(l->nodes[0].out[t].ndim, l->nodes[0].out[t].dims));
    return list;
}

void arch_connections_text(const arch_layer *l, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    bool first = true;
    for (int k = 0; k < l->n_nodes; k++)
        for (int j = 0; j < l->nodes[k].n_in && used < size; j++) {
            const arch_ref *r = &l->nodes[k].in[j];
            used += (size_t)snprintf(buf + used, size - used, "%s'%s[%d][%d]'", first ? "" : ", ", r->layer, r->node, r->tensor);
            first = false;
        }
    if (used < size) snprintf(buf + used, size - used, "]");
}

json_t *arch_connections_json(const arch_layer *l)
{
    json_t *list = json_array();
    for (int k = 0; k < l->n_nodes; k++)
        for (int j = 0; j < l->nodes[k].n_in; j++) {
            const arch_ref *r = &l->nodes[k].in[j];
            json_array_append_new(list, json_sprintf("%s[%d][%d]", r->layer, r->node, r->tensor));
        }
    return list;
}
