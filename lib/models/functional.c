/* Functional models: a graph of layer calls (nodes) from input symbols to
 * output symbols, built with kc_apply or read from a Keras model_config.
 *
 * The graph is mapped the way Keras' _map_graph_network maps it, because
 * model.layers' order is the order of the weight file:
 *   1. a depth-first walk from each output, in order, lists nodes in
 *      post-order (a valid execution order) and numbers layers by first
 *      visit;
 *   2. depths: a node feeding a node at depth d is at least d + 1 (inputs
 *      are deepest), a layer takes the depth of its deepest node;
 *   3. model.layers = layers by decreasing depth, ties by visit order
 *      (inputs not connected to any output come first at depth 0).
 * Node indices written to the config are renumbered per layer to count only
 * this model's nodes (Keras' node_conversion_map). Executing the graph
 * frees each intermediate tensor after its last use. */
#include "models_int.h"
#include "../core/idmap.h"
#include "../inference/inference.h"

#include <string.h>

struct kc__graph {
    kc__gnode **nodes; /* execution order, owned references */
    int n_nodes;
    int *in_start;    /* node p's inputs: src_pos/src_t[in_start[p] ...] */
    int *src_pos, *src_t;
    int *depth;
    int *model_index; /* renumbered node index within the model */
    int *uses;        /* consumers of (p, t), at p * KC_MAX_LAYER_OUTPUTS + t */
    kc_symbol **inputs, **outputs; /* owned */
    int n_inputs, n_outputs;
    int *input_pos, *output_pos, *output_t;
};

bool kc__is_functional(const kc_object *m)
{
    return m && (m->cls == &kc__functional_class);
}

void kc__graph_free(kc__graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) kc__gnode_unref(g->nodes[i]);
    for (int i = 0; i < g->n_inputs; i++) kc_symbol_unref(g->inputs[i]);
    for (int i = 0; i < g->n_outputs; i++) kc_symbol_unref(g->outputs[i]);
    kc__free(g->nodes);
    kc__free(g->in_start);
    kc__free(g->src_pos);
    kc__free(g->src_t);
    kc__free(g->depth);
    kc__free(g->model_index);
    kc__free(g->uses);
    kc__free(g->inputs);
    kc__free(g->outputs);
    kc__free(g->input_pos);
    kc__free(g->output_pos);
    kc__free(g->output_t);
    kc__free(g);
}

int kc__graph_num_nodes(const kc__graph *g) { return g ? g->n_nodes : 0; }
const kc__gnode *kc__graph_node(const kc__graph *g, int i) { return g->nodes[i]; }

static int node_pos(const kc__graph *g, const kc__gnode *n)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i] == n) return i;
    return -1;
}

/* Keras' _should_skip_first_node: a nested Functional or Sequential model
 * with inputs owns a node 0 linking its inputs to its outputs, so the nodes
 * of its calls in the outer model are numbered from 1 (Keras 2 and
 * TensorFlow.js; Keras 3 numbers a nested Sequential's from 0, which the
 * reader tells apart from the references themselves). */
int kc__first_node_index(const kc_object *layer)
{
    return kc_is_model(layer) && (kc__is_functional(layer) || kc__is_sequential(layer)) &&
           kc__mstate(layer)->io_known;
}

int kc__graph_node_index(const kc__graph *g, const kc__gnode *n)
{
    int p = node_pos(g, n);
    return p < 0 ? -1 : g->model_index[p];
}

/* ---- mapping the graph ---------------------------------------------------------------- */

typedef struct walk {
    kc__idmap finished, in_progress, layer_index;
    kc__gnode **post;
    size_t n_post, cap_post;
    kc_object **layers; /* by first visit */
    size_t n_layers, cap_layers;
    kc_error *err;
    kc_status rc;
} walk;

static void visit(walk *w, kc__gnode *node)
{
    if (w->rc != KC_OK || kc__idmap_has(&w->finished, (uint64_t)(uintptr_t)node)) return;
    if (kc__idmap_get(&w->in_progress, (uint64_t)(uintptr_t)node)) {
        w->rc = kc__errf(w->err, KC_EINVAL, "the graph has a cycle at layer '%s'", kc_layer_name(node->layer));
        return;
    }
    uint64_t lk = (uint64_t)(uintptr_t)node->layer;
    if (!kc__idmap_has(&w->layer_index, lk)) {
        if (!kc__idmap_put(&w->layer_index, lk, (void *)(uintptr_t)(w->n_layers + 1)) ||
            !kc__grow((void **)&w->layers, &w->cap_layers, w->n_layers + 1, sizeof(kc_object *))) {
            w->rc = kc__errf(w->err, KC_ENOMEM, "out of memory mapping the graph");
            return;
        }
        w->layers[w->n_layers++] = node->layer;
    }
    if (!kc__idmap_put(&w->in_progress, (uint64_t)(uintptr_t)node, (void *)1)) {
        w->rc = kc__errf(w->err, KC_ENOMEM, "out of memory mapping the graph");
        return;
    }
    for (int i = 0; i < node->n_inputs; i++) visit(w, node->inputs[i]->node);
    kc__idmap_put(&w->in_progress, (uint64_t)(uintptr_t)node, NULL); /* done: NULL value */
    if (w->rc != KC_OK) return;
    if (!kc__idmap_put(&w->finished, (uint64_t)(uintptr_t)node, (void *)1) ||
        !kc__grow((void **)&w->post, &w->cap_post, w->n_post + 1, sizeof(kc__gnode *))) {
        w->rc = kc__errf(w->err, KC_ENOMEM, "out of memory mapping the graph");
        return;
    }
    w->post[w->n_post++] = node;
}

static bool is_input_node(const kc__gnode *n) { return n->n_inputs == 0; }

/* Fill the model's graph and layers from input and output symbols. */
static kc_status functional_setup(kc_object *model, kc_symbol *const *inputs, int n_in,
                                  kc_symbol *const *outputs, int n_out, kc_error *err)
{
    kc__model_state *ms = kc__mstate(model);
    if (n_in < 1 || n_in > KC__MAX_MODEL_IO || n_out < 1 || n_out > KC__MAX_MODEL_IO || !inputs || !outputs)
        return kc__errf(err, KC_EINVAL, "a Functional model needs 1 to %d inputs and outputs", KC__MAX_MODEL_IO);
    for (int i = 0; i < n_in; i++) {
        if (!inputs[i] || !is_input_node(inputs[i]->node) || inputs[i]->node->layer->cls != &kc__input_layer_class)
            return kc__errf(err, KC_EINVAL, "model input %d must be a symbol from kc_input (an InputLayer)", i);
    }
    for (int i = 0; i < n_out; i++)
        if (!outputs[i]) return kc__errf(err, KC_EINVAL, "model output %d is NULL", i);

    walk w = {.err = err, .rc = KC_OK};
    kc__idmap_init(&w.finished);
    kc__idmap_init(&w.in_progress);
    kc__idmap_init(&w.layer_index);
    for (int i = 0; i < n_out; i++) visit(&w, outputs[i]->node);
    kc_status rc = w.rc;
    kc__graph *g = NULL;
    int *ldepth = NULL;
    if (rc != KC_OK) goto out;
    /* every input node reached must be a model input */
    for (size_t k = 0; k < w.n_post; k++) {
        kc__gnode *n = w.post[k];
        if (!is_input_node(n)) continue;
        bool given = false;
        for (int i = 0; i < n_in && !given; i++) given = inputs[i]->node == n;
        if (!given) {
            rc = kc__errf(err, KC_EINVAL,
                          "Graph disconnected: an output depends on input layer '%s', which is not "
                          "among the model's inputs",
                          kc_layer_name(n->layer));
            goto out;
        }
    }
    /* inputs not connected to any output still run (depth 0) */
    for (int i = 0; i < n_in; i++) {
        kc__gnode *n = inputs[i]->node;
        if (kc__idmap_has(&w.finished, (uint64_t)(uintptr_t)n)) continue;
        if (!kc__grow((void **)&w.post, &w.cap_post, w.n_post + 1, sizeof(kc__gnode *)) ||
            !kc__idmap_put(&w.finished, (uint64_t)(uintptr_t)n, (void *)1)) {
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
            goto out;
        }
        memmove(w.post + 1, w.post, w.n_post * sizeof(kc__gnode *));
        w.post[0] = n;
        w.n_post++;
        /* layer index -1: first among depth-0 layers */
        kc__idmap_put(&w.layer_index, (uint64_t)(uintptr_t)n->layer, (void *)(uintptr_t)0);
        if (!kc__grow((void **)&w.layers, &w.cap_layers, w.n_layers + 1, sizeof(kc_object *))) {
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
            goto out;
        }
        w.layers[w.n_layers++] = n->layer;
    }

    int nn = (int)w.n_post;
    g = kc__calloc(1, sizeof(*g));
    if (!g) {
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
        goto out;
    }
    int n_src = 0;
    for (int p = 0; p < nn; p++) n_src += w.post[p]->n_inputs;
    g->nodes = kc__calloc((size_t)nn, sizeof(kc__gnode *));
    g->in_start = kc__calloc((size_t)nn + 1, sizeof(int));
    g->src_pos = kc__calloc((size_t)n_src + 1, sizeof(int));
    g->src_t = kc__calloc((size_t)n_src + 1, sizeof(int));
    g->depth = kc__calloc((size_t)nn, sizeof(int));
    g->model_index = kc__calloc((size_t)nn, sizeof(int));
    g->uses = kc__calloc((size_t)nn * KC_MAX_LAYER_OUTPUTS, sizeof(int));
    g->inputs = kc__calloc((size_t)n_in, sizeof(kc_symbol *));
    g->outputs = kc__calloc((size_t)n_out, sizeof(kc_symbol *));
    g->input_pos = kc__calloc((size_t)n_in, sizeof(int));
    g->output_pos = kc__calloc((size_t)n_out, sizeof(int));
    g->output_t = kc__calloc((size_t)n_out, sizeof(int));
    ldepth = kc__calloc(w.n_layers + 1, sizeof(int));
    if (!g->nodes || !g->in_start || !g->src_pos || !g->src_t || !g->depth || !g->model_index ||
        !g->uses || !g->inputs || !g->outputs || !g->input_pos || !g->output_pos || !g->output_t || !ldepth) {
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
        goto out;
    }
    g->n_nodes = nn;
    for (int p = 0; p < nn; p++) g->nodes[p] = kc__gnode_ref(w.post[p]);
    for (int i = 0; i < n_in; i++) g->inputs[i] = kc_symbol_ref(inputs[i]);
    for (int i = 0; i < n_out; i++) g->outputs[i] = kc_symbol_ref(outputs[i]);
    g->n_inputs = n_in;
    g->n_outputs = n_out;
    /* sources of every node input */
    int q = 0;
    for (int p = 0; p < nn; p++) {
        g->in_start[p] = q;
        for (int j = 0; j < g->nodes[p]->n_inputs; j++, q++) {
            kc_symbol *s = g->nodes[p]->inputs[j];
            g->src_pos[q] = node_pos(g, s->node);
            g->src_t[q] = s->tensor_index;
            g->uses[g->src_pos[q] * KC_MAX_LAYER_OUTPUTS + s->tensor_index]++;
        }
    }
    g->in_start[nn] = q;
    for (int i = 0; i < n_in; i++) g->input_pos[i] = node_pos(g, inputs[i]->node);
    for (int i = 0; i < n_out; i++) {
        g->output_pos[i] = node_pos(g, outputs[i]->node);
        g->output_t[i] = outputs[i]->tensor_index;
    }
    /* depths (Keras): walk nodes from the outputs back */
    for (int p = nn - 1; p >= 0; p--) {
        int d = g->depth[p];
        int li = (int)(uintptr_t)kc__idmap_get(&w.layer_index, (uint64_t)(uintptr_t)g->nodes[p]->layer);
        if (ldepth[li] > d) d = ldepth[li];
        ldepth[li] = d;
        g->depth[p] = d;
        for (int j = g->in_start[p]; j < g->in_start[p + 1]; j++)
            if (g->depth[g->src_pos[j]] < d + 1) g->depth[g->src_pos[j]] = d + 1;
    }
    /* renumber each layer's nodes within the model */
    for (int p = 0; p < nn; p++) {
        int k = kc__first_node_index(g->nodes[p]->layer);
        for (int r = 0; r < nn; r++)
            if (g->nodes[r]->layer == g->nodes[p]->layer &&
                g->nodes[r]->index_in_layer < g->nodes[p]->index_in_layer)
                k++;
        g->model_index[p] = k;
    }
    /* model.layers: by decreasing depth, then visit order */
    int max_depth = 0;
    for (size_t i = 1; i <= w.n_layers; i++)
        if (ldepth[i] > max_depth) max_depth = ldepth[i];
    for (int d = max_depth; d >= 0; d--) {
        /* visit order: index 0 (unconnected inputs) first, then 1, 2, ... */
        for (size_t idx = 0; idx <= w.n_layers; idx++) {
            for (size_t i = 0; i < w.n_layers; i++) {
                kc_object *l = w.layers[i];
                size_t li = (size_t)(uintptr_t)kc__idmap_get(&w.layer_index, (uint64_t)(uintptr_t)l);
                bool unconnected_input = li == 0;
                size_t key = unconnected_input ? 0 : li;
                int dep = unconnected_input ? 0 : ldepth[li];
                if (key != idx || dep != d) continue;
                rc = kc__model_append_layer(model, l, err);
                if (rc != KC_OK) goto out;
            }
        }
    }
    ms->graph = g;
    g = NULL;
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
out:
    kc__graph_free(g);
    kc__free(ldepth);
    kc__free(w.post);
    kc__free(w.layers);
    kc__idmap_fini(&w.finished);
    kc__idmap_fini(&w.in_progress);
    kc__idmap_fini(&w.layer_index);
    return rc;
}

kc_object *kc_functional_new(kc_symbol *const *inputs, int n_inputs, kc_symbol *const *outputs,
                             int n_outputs, const char *name, kc_error *err)
{
    kc_object *m = kc_object_new(&kc__functional_class, err);
    if (!m) return NULL;
    kc_status rc = name ? kc__layer_set_name(m, name, err) : kc__layer_ensure_name(m, err);
    if (rc == KC_OK) rc = functional_setup(m, inputs, n_inputs, outputs, n_outputs, err);
    if (rc != KC_OK) {
        kc_object_unref(m);
        return NULL;
    }
    return m;
}

int kc__graph_num_inputs(const kc__graph *g) { return g->n_inputs; }
int kc__graph_num_outputs(const kc__graph *g) { return g->n_outputs; }
kc_symbol *kc__graph_input(const kc__graph *g, int i) { return g->inputs[i]; }
kc_symbol *kc__graph_output(const kc__graph *g, int i) { return g->outputs[i]; }

bool kc__graph_sequential_like(const kc__graph *g)
{
    /* Keras: one node per depth with at most one input, and no layer with
     * two nodes in the model */
    int max_depth = 0;
    for (int p = 0; p < g->n_nodes; p++)
        if (g->depth[p] > max_depth) max_depth = g->depth[p];
    for (int d = 0; d <= max_depth; d++) {
        int count = 0;
        for (int p = 0; p < g->n_nodes; p++)
            if (g->depth[p] == d) {
                count++;
                if (g->nodes[p]->n_inputs > 1) return false;
            }
        if (count > 1) return false;
    }
    for (int p = 0; p < g->n_nodes; p++)
        for (int r = p + 1; r < g->n_nodes; r++)
            if (g->nodes[p]->layer == g->nodes[r]->layer) return false;
    return true;
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
    kc_tensor **val = kc__calloc(slots, sizeof(kc_tensor *)), **msk = kc__calloc(slots, sizeof(kc_tensor *));
    int *left = kc__malloc(slots * sizeof(int));
    kc_status rc = KC_OK;
    if (!val || !msk || !left) {
        rc = kc__errf(err, KC_ENOMEM, "out of memory running model '%s'", kc_layer_name(self));
        goto out;
    }
    memcpy(left, g->uses, slots * sizeof(int));
    for (int i = 0; i < g->n_outputs; i++) left[g->output_pos[i] * KC_MAX_LAYER_OUTPUTS + g->output_t[i]]++;
    for (int p = 0; p < g->n_nodes && rc == KC_OK; p++) {
        kc__gnode *node = g->nodes[p];
        kc_tensor **v = val + (size_t)p * KC_MAX_LAYER_OUTPUTS, **m = msk + (size_t)p * KC_MAX_LAYER_OUTPUTS;
        if (is_input_node(node)) {
            int i = 0;
            while (i < g->n_inputs && g->input_pos[i] != p) i++;
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
        rc = kc_layer_call(node->layer, ins, k, any_mask ? ims : NULL, a->training, v, m, &n, err);
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
    if (val)
        for (size_t i = 0; i < slots; i++) {
            kc_tensor_unref(val[i]);
            kc_tensor_unref(msk[i]);
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
            while (i < g->n_inputs && g->input_pos[i] != p) i++;
            ins[0] = in[i];
            k = 1;
        } else {
            for (int j = g->in_start[p]; j < g->in_start[p + 1]; j++)
                ins[k++] = sh[(size_t)g->src_pos[j] * KC_MAX_LAYER_OUTPUTS + (size_t)g->src_t[j]];
        }
        rc = kc__layer_output_shapes(node->layer, ins, k, o, &n, err);
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
    if (json_object_set_new(cfg, "input_layers", ins) || json_object_set_new(cfg, "output_layers", outs)) {
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    for (int li = 0; li < ms->n_layers; li++) {
        kc_object *layer = ms->layers[li];
        json_t *entry = NULL;
        kc_status rc = kc_serialize(layer, &entry, err);
        if (rc != KC_OK) return rc;
        json_t *nodes = json_array();
        if (json_object_set_new(entry, "name", json_string(kc_layer_name(layer))) ||
            json_object_set_new(entry, "inbound_nodes", nodes) || json_array_append_new(layers, entry))
            return kc__errf(err, KC_ENOMEM, "out of memory");
        /* this layer's nodes in model order */
        for (int k = kc__first_node_index(layer);; k++) {
            int p = -1;
            for (int q = 0; q < g->n_nodes; q++)
                if (g->nodes[q]->layer == layer && g->model_index[q] == k) p = q;
            if (p < 0) break;
            if (is_input_node(g->nodes[p])) continue;
            json_t *node = json_array();
            if (!node || json_array_append_new(nodes, node)) return kc__errf(err, KC_ENOMEM, "out of memory");
            for (int j = g->in_start[p]; j < g->in_start[p + 1]; j++) {
                const kc__gnode *src = g->nodes[g->src_pos[j]];
                json_t *d = triple(kc_layer_name(src->layer), g->model_index[g->src_pos[j]], g->src_t[j], true);
                if (!d || json_array_append_new(node, d)) return kc__errf(err, KC_ENOMEM, "out of memory");
            }
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        json_t *t = triple(kc_layer_name(g->nodes[g->input_pos[i]]->layer), g->model_index[g->input_pos[i]], 0, false);
        if (!t || json_array_append_new(ins, t)) return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_outputs; i++) {
        json_t *t = triple(kc_layer_name(g->nodes[g->output_pos[i]]->layer), g->model_index[g->output_pos[i]],
                           g->output_t[i], false);
        if (!t || json_array_append_new(outs, t)) return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    return KC_OK;
}

/* Reading: layers are created first, then their nodes are replayed in
 * order, deferring a node until every tensor it reads exists (Keras'
 * process_node loop), so the list need not be topologically sorted. */

typedef struct pending {
    kc_object *layer;
    const json_t *nodes; /* inbound_nodes */
    size_t next;         /* first node not replayed yet */
    int first;           /* index the config gives the first listed node (0, or 1 for nested models) */
    kc_symbol **made;    /* symbols per replayed node: [node][t] */
    int *made_n;
    size_t cap;
    kc_config_ctx ctx;
} pending;

typedef struct ref3 {
    const char *layer;
    int node, tensor;
} ref3;

/* Collect input references of one node, both formats. */
static kc_status node_refs(const json_t *node, const kc_config_ctx *ctx, ref3 *refs, int *n, kc_error *err);

static kc_status collect_k3(const json_t *v, ref3 *refs, int *n, const kc_config_ctx *ctx, kc_error *err)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            kc_status rc = collect_k3(json_array_get(v, i), refs, n, ctx, err);
            if (rc != KC_OK) return rc;
        }
        return KC_OK;
    }
    if (!json_is_object(v)) return KC_OK;
    const json_t *cn = json_object_get(v, "class_name");
    if (json_is_string(cn) && strcmp(json_string_value(cn), "__keras_tensor__") == 0) {
        const json_t *h = json_object_get(json_object_get(v, "config"), "keras_history");
        if (!json_is_array(h) || json_array_size(h) != 3 || !json_is_string(json_array_get(h, 0)))
            return kc__errf(err, KC_EFORMAT, "%s: a __keras_tensor__ without a valid keras_history", ctx->path);
        if (*n >= KC__MAX_MODEL_IO) return kc__errf(err, KC_ELIMIT, "%s: too many node inputs", ctx->path);
        refs[*n].layer = json_string_value(json_array_get(h, 0));
        refs[*n].node = (int)json_integer_value(json_array_get(h, 1));
        refs[*n].tensor = (int)json_integer_value(json_array_get(h, 2));
        (*n)++;
        return KC_OK;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        kc_status rc = collect_k3(val, refs, n, ctx, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

static kc_status node_refs(const json_t *node, const kc_config_ctx *ctx, ref3 *refs, int *n, kc_error *err)
{
    *n = 0;
    if (json_is_object(node)) /* Keras 3: {"args": [...], "kwargs": {...}} */
        return collect_k3(node, refs, n, ctx, err);
    if (!json_is_array(node)) return kc__errf(err, KC_EFORMAT, "%s: a node must be a list or an object", ctx->path);
    for (size_t i = 0; i < json_array_size(node); i++) {
        const json_t *d = json_array_get(node, i);
        if (!json_is_array(d) || json_array_size(d) < 3 || !json_is_string(json_array_get(d, 0)) ||
            !json_is_integer(json_array_get(d, 1)) || !json_is_integer(json_array_get(d, 2)))
            return kc__errf(err, KC_EFORMAT,
                            "%s[%zu]: expected [layer name, node index, tensor index, kwargs]", ctx->path, i);
        if (strcmp(json_string_value(json_array_get(d, 0)), "_CONSTANT_VALUE") == 0)
            return kc__errf(err, KC_EUNSUPPORTED, "%s[%zu]: constant node inputs are not supported", ctx->path, i);
        if (*n >= KC__MAX_MODEL_IO) return kc__errf(err, KC_ELIMIT, "%s: too many node inputs", ctx->path);
        refs[*n].layer = json_string_value(json_array_get(d, 0));
        refs[*n].node = (int)json_integer_value(json_array_get(d, 1));
        refs[*n].tensor = (int)json_integer_value(json_array_get(d, 2));
        (*n)++;
    }
    return KC_OK;
}

static pending *find_pending(pending *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kc_layer_name(p[i].layer), name) == 0) return &p[i];
    return NULL;
}

/* The symbol for a reference, or NULL if not created yet. */
static kc_symbol *lookup_symbol(pending *p, size_t n, const ref3 *r)
{
    pending *q = find_pending(p, n, r->layer);
    int node = q ? r->node - q->first : -1;
    if (!q || node < 0 || (size_t)node >= q->next) return NULL;
    if (r->tensor < 0 || r->tensor >= q->made_n[node]) return NULL;
    return q->made[(size_t)node * KC_MAX_LAYER_OUTPUTS + (size_t)r->tensor];
}

static kc_status grow_made(pending *q, kc_error *err)
{
    if (q->next < q->cap) return KC_OK;
    size_t ncap = q->cap ? q->cap * 2 : 4;
    kc_symbol **m = kc__calloc(ncap * KC_MAX_LAYER_OUTPUTS, sizeof(kc_symbol *));
    int *mn = kc__calloc(ncap, sizeof(int));
    if (!m || !mn) {
        kc__free(m);
        kc__free(mn);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    if (q->made) memcpy(m, q->made, q->cap * KC_MAX_LAYER_OUTPUTS * sizeof(kc_symbol *));
    if (q->made_n) memcpy(mn, q->made_n, q->cap * sizeof(int));
    kc__free(q->made);
    kc__free(q->made_n);
    q->made = m;
    q->made_n = mn;
    q->cap = ncap;
    return KC_OK;
}

/* The highest node index any reference in the config gives layer q. */
static void max_ref(const json_t *v, const char *name, int *max)
{
    if (json_is_array(v)) {
        if (json_array_size(v) >= 3 && json_is_string(json_array_get(v, 0)) && json_is_integer(json_array_get(v, 1))) {
            if (strcmp(json_string_value(json_array_get(v, 0)), name) == 0) {
                int k = (int)json_integer_value(json_array_get(v, 1));
                if (k > *max) *max = k;
            }
            return;
        }
        for (size_t i = 0; i < json_array_size(v); i++) max_ref(json_array_get(v, i), name, max);
    } else if (json_is_object(v)) {
        const json_t *h = json_object_get(json_object_get(v, "config"), "keras_history");
        if (h) {
            max_ref(h, name, max);
            return;
        }
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) max_ref(val, name, max);
    }
}

static kc_status scan_first_index(pending *p, size_t np, pending *q, const json_t *cfg, kc_error *err)
{
    (void)err;
    int max = -1;
    const char *name = kc_layer_name(q->layer);
    for (size_t i = 0; i < np; i++) max_ref(p[i].nodes, name, &max);
    max_ref(json_object_get(cfg, "output_layers"), name, &max);
    q->first = max >= (int)json_array_size(q->nodes) ? 1 : 0;
    return KC_OK;
}

kc_symbol *kc__input_symbol(kc_object *input_layer, kc_error *err);
kc_status kc__deserialize_layer(const json_t *j, const kc_config_ctx *ctx, kc_object **out, kc_error *err);

/* Read an input_layers / output_layers value into symbols. */
static kc_status read_io(const json_t *v, const kc_config_ctx *ctx, pending *p, size_t np,
                         kc_symbol **out, int *n, kc_error *err)
{
    *n = 0;
    const json_t *items[KC__MAX_MODEL_IO];
    int count = 0;
    if (json_is_array(v) && json_array_size(v) > 0 && json_is_string(json_array_get(v, 0))) {
        items[count++] = v; /* Keras 3: one flat triple */
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && count < KC__MAX_MODEL_IO; i++) items[count++] = json_array_get(v, i);
    } else if (json_is_object(v)) { /* Keras 3 dict of inputs */
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) if (count < KC__MAX_MODEL_IO) items[count++] = val;
    }
    if (count < 1) return kc__errf(err, KC_EFORMAT, "%s: expected a list of [layer name, node index, tensor index]", ctx->path);
    for (int i = 0; i < count; i++) {
        const json_t *t = items[i];
        if (!json_is_array(t) || json_array_size(t) < 3 || !json_is_string(json_array_get(t, 0)))
            return kc__errf(err, KC_EFORMAT, "%s[%d]: expected [layer name, node index, tensor index]", ctx->path, i);
        ref3 r = {json_string_value(json_array_get(t, 0)), (int)json_integer_value(json_array_get(t, 1)),
                  (int)json_integer_value(json_array_get(t, 2))};
        kc_symbol *s = lookup_symbol(p, np, &r);
        if (!s)
            return kc__errf(err, KC_EFORMAT, "%s[%d]: no tensor %s[%d][%d] in the model", ctx->path, i, r.layer,
                            r.node, r.tensor);
        out[(*n)++] = s;
    }
    return KC_OK;
}

static kc_status functional_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                        kc_error *err)
{
    const json_t *layers = json_object_get(cfg, "layers");
    kc_config_ctx lctx = kc_config_ctx_child(ctx, "layers", 0);
    if (!json_is_array(layers)) {
        kc__errf(err, KC_EFORMAT, "%s: expected a list of layers", lctx.path);
        return KC_EFORMAT;
    }
    size_t np = json_array_size(layers);
    pending *p = kc__calloc(np ? np : 1, sizeof(pending));
    if (!p) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = KC_OK;
    size_t created = 0;
    for (size_t i = 0; i < np && rc == KC_OK; i++, created++) {
        const json_t *entry = json_array_get(layers, i);
        p[i].ctx = kc_config_ctx_child(&lctx, NULL, i);
        rc = kc__deserialize_layer(entry, &p[i].ctx, &p[i].layer, err);
        if (rc != KC_OK) break;
        if (find_pending(p, i, kc_layer_name(p[i].layer))) {
            rc = kc__errf(err, KC_EFORMAT, "%s: two layers are named '%s'", p[i].ctx.path, kc_layer_name(p[i].layer));
            created++;
            break;
        }
        p[i].nodes = json_object_get(entry, "inbound_nodes");
        if (p[i].layer->cls == &kc__input_layer_class) {
            rc = grow_made(&p[i], err);
            if (rc == KC_OK) {
                kc_symbol *s = kc__input_symbol(p[i].layer, err);
                if (!s) rc = kc__error_code(err, KC_ENOMEM);
                else {
                    p[i].made[0] = s;
                    p[i].made_n[0] = 1;
                    p[i].next = 1;
                }
            }
            p[i].nodes = NULL;
        } else if (p[i].nodes && !json_is_array(p[i].nodes)) {
            kc_config_ctx c = kc_config_ctx_child(&p[i].ctx, "inbound_nodes", 0);
            rc = kc__errf(err, KC_EFORMAT, "%s: expected a list of nodes", c.path);
        }
    }
    /* a nested model's calls are numbered from 1 when some reference to it
     * goes past its listed nodes (Keras 2, TensorFlow.js), else from 0 */
    for (size_t i = 0; i < np && rc == KC_OK; i++)
        if (kc_is_model(p[i].layer) && p[i].nodes) rc = scan_first_index(p, np, &p[i], cfg, err);
    /* replay nodes until nothing moves */
    bool progress = true;
    while (rc == KC_OK && progress) {
        progress = false;
        for (size_t i = 0; i < np && rc == KC_OK; i++) {
            pending *q = &p[i];
            while (rc == KC_OK && q->nodes && q->next < json_array_size(q->nodes)) {
                kc_config_ctx nctx = kc_config_ctx_child(&q->ctx, "inbound_nodes", 0);
                nctx = kc_config_ctx_child(&nctx, NULL, q->next);
                ref3 refs[KC__MAX_MODEL_IO];
                int nr = 0;
                rc = node_refs(json_array_get(q->nodes, q->next), &nctx, refs, &nr, err);
                if (rc != KC_OK) break;
                kc_symbol *ins[KC__MAX_MODEL_IO];
                bool ready = nr > 0;
                for (int k = 0; k < nr && ready; k++) ready = (ins[k] = lookup_symbol(p, np, &refs[k])) != NULL;
                if (!ready) break;
                rc = grow_made(q, err);
                if (rc != KC_OK) break;
                int n_out = 0;
                rc = kc_apply_multi(q->layer, ins, nr, q->made + q->next * KC_MAX_LAYER_OUTPUTS, &n_out, err);
                if (rc != KC_OK) {
                    kc__error_context(err, "%s", nctx.path);
                    break;
                }
                q->made_n[q->next] = n_out;
                q->next++;
                progress = true;
            }
        }
    }
    for (size_t i = 0; rc == KC_OK && i < np; i++) {
        if (p[i].nodes && p[i].next < json_array_size(p[i].nodes)) {
            kc_config_ctx c = kc_config_ctx_child(&p[i].ctx, "inbound_nodes", 0);
            rc = kc__errf(err, KC_EFORMAT, "%s[%zu]: its input tensors are never produced by the model",
                          c.path, p[i].next);
        }
    }
    kc_symbol *ins[KC__MAX_MODEL_IO], *outs[KC__MAX_MODEL_IO];
    int n_in = 0, n_out = 0;
    if (rc == KC_OK) {
        kc_config_ctx c = kc_config_ctx_child(ctx, "input_layers", 0);
        rc = read_io(json_object_get(cfg, "input_layers"), &c, p, np, ins, &n_in, err);
    }
    if (rc == KC_OK) {
        kc_config_ctx c = kc_config_ctx_child(ctx, "output_layers", 0);
        rc = read_io(json_object_get(cfg, "output_layers"), &c, p, np, outs, &n_out, err);
    }
    if (rc == KC_OK) rc = functional_setup(self, ins, n_in, outs, n_out, err);
    for (size_t i = 0; i < created && i < np; i++) {
        for (size_t k = 0; k < p[i].next; k++)
            for (int t = 0; t < p[i].made_n[k]; t++) kc_symbol_unref(p[i].made[k * KC_MAX_LAYER_OUTPUTS + (size_t)t]);
        kc__free(p[i].made);
        kc__free(p[i].made_n);
        kc_object_unref(p[i].layer);
    }
    kc__free(p);
    return rc;
}

static const kc_model_methods functional_methods = {
    .layer = {.min_inputs = 1, .max_inputs = KC__MAX_MODEL_IO, .call = functional_call,
              .compute_output_shape = functional_output_shape},
};

const kc_class kc__functional_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_MODEL,
    .name = "Functional",
    .size = sizeof(kc_model),
    .config_version = 1,
    .get_config = functional_get_config,
    .from_config = functional_from_config,
    .methods = &functional_methods,
};
