/* Functional models: a graph of layer calls (nodes) from input symbols to
 * output symbols, built with kc_apply or read from a Keras model_config
 * (functional_config.c). graph.c maps the graph (execution order, depths,
 * model.layers); this file makes the model from it, runs it (each
 * intermediate tensor is freed after its last use) and writes its config,
 * with node indices renumbered to count only this model's nodes. */
#include "graph.h"
#include "../inference/inference.h"

#include <string.h>

bool kc__is_functional(const kc_object *m)
{
    return m && (m->cls == &kc__functional_class);
}

static bool is_input_node(const kc__gnode *n)
{
    return n->n_inputs == 0;
}

static kc_status check_io(kc_symbol *const *inputs, int n_in, kc_symbol *const *outputs, int n_out,
                          kc_error *err)
{
    if (n_in < 1 || n_in > KC__MAX_MODEL_IO || n_out < 1 || n_out > KC__MAX_MODEL_IO || !inputs ||
        !outputs)
        return kc__errf(err, KC_EINVAL, "a Functional model needs 1 to %d inputs and outputs",
                        KC__MAX_MODEL_IO);
    for (int i = 0; i < n_in; i++) {
        if (!inputs[i] || !is_input_node(inputs[i]->node) ||
            inputs[i]->node->layer->cls != &kc__input_layer_class)
            return kc__errf(err, KC_EINVAL,
                            "model input %d must be a symbol from kc_input (an InputLayer)", i);
    }
    for (int i = 0; i < n_out; i++)
        if (!outputs[i]) return kc__errf(err, KC_EINVAL, "model output %d is NULL", i);
    return KC_OK;
}

/* Give the model its graph, its layers and its input and output shapes. */
kc_status kc__functional_setup(kc_object *model, kc_symbol *const *inputs, int n_in,
                               kc_symbol *const *outputs, int n_out, kc_error *err)
{
    kc_status rc = check_io(inputs, n_in, outputs, n_out, err);
    if (rc != KC_OK) return rc;
    kc__graph *g = NULL;
    kc_object **layers = NULL;
    int n_layers = 0;
    rc = kc__graph_map(inputs, n_in, outputs, n_out, &g, &layers, &n_layers, err);
    for (int i = 0; i < n_layers && rc == KC_OK; i++)
        rc = kc__model_append_layer(model, layers[i], err);
    kc__free(layers);
    if (rc != KC_OK) {
        kc__graph_free(g);
        return rc;
    }
    kc__model_state *ms = kc__mstate(model);
    ms->graph = g;
    ms->n_inputs = n_in;
    ms->n_outputs = n_out;
    for (int i = 0; i < n_in; i++) {
        ms->in_shapes[i] = inputs[i]->shape;
        ms->in_layer[i] = inputs[i]->node->layer;
    }
    for (int i = 0; i < n_out; i++) {
        ms->out_shapes[i] = outputs[i]->shape;
        ms->out_layer[i] = outputs[i]->node->layer;
    }
    ms->io_known = true;
    kc__as_layer(model)->built = true;
    return KC_OK;
}

kc_object *kc_functional_new(kc_symbol *const *inputs, int n_inputs, kc_symbol *const *outputs,
                             int n_outputs, const char *name, kc_error *err)
{
    kc_object *m = kc_object_new(&kc__functional_class, err);
    if (!m) return NULL;
    kc_status rc = name ? kc__layer_set_name(m, name, err) : kc__layer_ensure_name(m, err);
    if (rc == KC_OK) rc = kc__functional_setup(m, inputs, n_inputs, outputs, n_outputs, err);
    if (rc != KC_OK) {
        kc_object_unref(m);
        return NULL;
    }
    return m;
}

/* ---- running the graph -------------------------------------------------------------------- */

static kc_status functional_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                                 kc_error *err)
{
    bool planned = false; /* the inference path; else node by node */
    kc_status prc = kc__infer_call(self, a, out, n_out, &planned, err);
    if (prc != KC_OK || planned) return prc;
    kc__graph *g = kc__mstate(self)->graph;
    size_t slots = (size_t)g->n_nodes * KC_MAX_LAYER_OUTPUTS;
    kc_tensor **val = kc__calloc(slots, sizeof(kc_tensor *)),
              **msk = kc__calloc(slots, sizeof(kc_tensor *));
    int *left = kc__malloc(slots * sizeof(int));
    kc_status rc = KC_OK;
    if (!val || !msk || !left) {
        rc = kc__errf(err, KC_ENOMEM, "out of memory running model '%s'", kc_layer_name(self));
        goto out;
    }
    memcpy(left, g->uses, slots * sizeof(int));
    for (int i = 0; i < g->n_outputs; i++)
        left[g->output_pos[i] * KC_MAX_LAYER_OUTPUTS + g->output_t[i]]++;
    for (int p = 0; p < g->n_nodes && rc == KC_OK; p++) {
        kc__gnode *node = g->nodes[p];
        kc_tensor **v = val + (size_t)p * KC_MAX_LAYER_OUTPUTS,
                  **m = msk + (size_t)p * KC_MAX_LAYER_OUTPUTS;
        if (is_input_node(node)) {
            int i = 0;
            while (i < g->n_inputs && g->input_pos[i] != p)
                i++;
            kc_shape s = kc_tensor_shape(a->inputs[i]), o[1];
            int n;
            rc = kc__layer_output_shapes(node->layer, &s, 1, o, &n, err);
            if (rc != KC_OK) {
                kc__error_context(err, "input %d of model '%s'", i, kc_layer_name(self));
                break;
            }
            v[0] = kc_tensor_ref(a->inputs[i]);
            m[0] = a->masks ? kc_tensor_ref(a->masks[i]) : NULL;
            continue;
        }
        kc_tensor *ins[KC__MAX_MODEL_IO], *ims[KC__MAX_MODEL_IO];
        bool any_mask = false;
        int k = 0;
        for (int j = g->in_start[p]; j < g->in_start[p + 1]; j++, k++) {
            size_t src = (size_t)g->src_pos[j] * KC_MAX_LAYER_OUTPUTS + (size_t)g->src_t[j];
            ins[k] = val[src];
            ims[k] = msk[src];
            any_mask |= ims[k] != NULL;
        }
        int n = 0;
        kc_call_kwargs kw;
        kc__gnode_kwargs(node, &kw);
        rc = kc__layer_call_kw(node->layer, ins, k, &kw, any_mask ? ims : NULL, a->training, v, m, &n,
                               err);
        if (rc != KC_OK) break;
        /* free inputs after their last use */
        for (int j = g->in_start[p]; j < g->in_start[p + 1]; j++) {
            size_t src = (size_t)g->src_pos[j] * KC_MAX_LAYER_OUTPUTS + (size_t)g->src_t[j];
            if (--left[src] == 0) {
                kc_tensor_unref(val[src]);
                kc_tensor_unref(msk[src]);
                val[src] = msk[src] = NULL;
            }
        }
    }
    if (rc == KC_OK)
        for (int i = 0; i < n_out; i++) {
            size_t src = (size_t)g->output_pos[i] * KC_MAX_LAYER_OUTPUTS + (size_t)g->output_t[i];
            out[i] = kc_tensor_ref(val[src]);
        }
out:
    for (size_t i = 0; i < slots; i++) {
        if (val) kc_tensor_unref(val[i]);
        if (msk) kc_tensor_unref(msk[i]);
    }
    kc__free(val);
    kc__free(msk);
    kc__free(left);
    return rc;
}

static kc_status functional_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                         kc_shape *out, int *n_out, kc_error *err)
{
    kc__graph *g = kc__mstate(self)->graph;
    if (!g) return kc__errf(err, KC_ESTATE, "model '%s' has no graph", kc_layer_name(self));
    if (n_in != g->n_inputs)
        return kc__errf(err, KC_EINVAL, "model '%s' takes %d inputs, got %d", kc_layer_name(self),
                        g->n_inputs, n_in);
    kc_shape *sh = kc__malloc(sizeof(kc_shape) * (size_t)g->n_nodes * KC_MAX_LAYER_OUTPUTS);
    if (!sh) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = KC_OK;
    for (int p = 0; p < g->n_nodes && rc == KC_OK; p++) {
        kc__gnode *node = g->nodes[p];
        kc_shape *o = sh + (size_t)p * KC_MAX_LAYER_OUTPUTS, ins[KC__MAX_MODEL_IO];
        int n = 0, k = 0;
        if (is_input_node(node)) {
            int i = 0;
            while (i < g->n_inputs && g->input_pos[i] != p)
                i++;
            ins[0] = in[i];
            k = 1;
        } else {
            for (int j = g->in_start[p]; j < g->in_start[p + 1]; j++)
                ins[k++] = sh[(size_t)g->src_pos[j] * KC_MAX_LAYER_OUTPUTS + (size_t)g->src_t[j]];
        }
        kc_call_kwargs kw;
        kc__call_frame f;
        kc__gnode_kwargs(node, &kw);
        kc__call_frame_push(&f, node->layer, &kw, NULL);
        rc = kc__layer_output_shapes(node->layer, ins, k, o, &n, err);
        kc__call_frame_pop(&f);
    }
    if (rc == KC_OK) {
        for (int i = 0; i < g->n_outputs; i++)
            out[i] = sh[(size_t)g->output_pos[i] * KC_MAX_LAYER_OUTPUTS + (size_t)g->output_t[i]];
        *n_out = g->n_outputs;
    }
    kc__free(sh);
    return rc;
}

/* ---- config ---------------------------------------------------------------------------------- */

static json_t *triple(const char *name, int node, int tensor, bool with_kwargs)
{
    json_t *t = json_pack("[sii]", name, node, tensor);
    if (t && with_kwargs && json_array_append_new(t, json_object())) {
        json_decref(t);
        return NULL;
    }
    return t;
}

static kc_status functional_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const kc__model_state *ms = kc__mstate(self);
    const kc__graph *g = ms->graph;
    json_t *layers = json_array(), *ins = json_array(), *outs = json_array();
    if (!layers || !ins || !outs || json_object_set_new(cfg, "layers", layers)) {
        json_decref(ins);
        json_decref(outs);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    if (json_object_set_new(cfg, "input_layers", ins) ||
        json_object_set_new(cfg, "output_layers", outs)) {
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    for (int li = 0; li < ms->n_layers; li++) {
        kc_object *layer = ms->layers[li];
        json_t *entry = NULL;
        kc_status rc = kc_serialize(layer, &entry, err);
        if (rc != KC_OK) return rc;
        json_t *nodes = json_array();
        if (json_object_set_new(entry, "name", json_string(kc_layer_name(layer))) ||
            json_object_set_new(entry, "inbound_nodes", nodes) ||
            json_array_append_new(layers, entry))
            return kc__errf(err, KC_ENOMEM, "out of memory");
        /* this layer's nodes in model order */
        const int *pos;
        int n_pos = kc__graph_layer_nodes(g, layer, &pos);
        for (int k = 0; k < n_pos; k++) {
            int p = pos[k];
            if (is_input_node(g->nodes[p])) continue;
            /* the call's tensors, then its arguments in Keras 2's form (node_args.c) */
            json_t *refs[KC__MAX_MODEL_IO] = {NULL};
            int nr = 0;
            bool ok = true;
            for (int j = g->in_start[p]; j < g->in_start[p + 1]; j++, nr++) {
                const kc__gnode *src = g->nodes[g->src_pos[j]];
                ok &= (refs[nr] = triple(kc_layer_name(src->layer), g->model_index[g->src_pos[j]],
                                         g->src_t[j], false)) != NULL;
            }
            json_t *node = ok ? kc__node_args_write(g->nodes[p], refs, err) : NULL;
            for (int j = 0; j < nr; j++) json_decref(refs[j]);
            if (!node || json_array_append_new(nodes, node))
                return kc__errf(err, KC_ENOMEM, "out of memory");
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        json_t *t = triple(kc_layer_name(g->nodes[g->input_pos[i]]->layer),
                           g->model_index[g->input_pos[i]], 0, false);
        if (!t || json_array_append_new(ins, t)) return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_outputs; i++) {
        json_t *t = triple(kc_layer_name(g->nodes[g->output_pos[i]]->layer),
                           g->model_index[g->output_pos[i]], g->output_t[i], false);
        if (!t || json_array_append_new(outs, t)) return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    return KC_OK;
}

static const kc_model_methods functional_methods = {
    .layer = {.min_inputs = 1,
              .max_inputs = KC__MAX_MODEL_IO,
              .call = functional_call,
              .compute_output_shape = functional_output_shape},
};

const kc_class kc__functional_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_MODEL,
    .name = "Functional",
    .size = sizeof(kc_model),
    .config_version = 1,
    .get_config = functional_get_config,
    .from_config = kc__functional_from_config,
    .methods = &functional_methods,
};
