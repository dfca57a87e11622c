/* Mapping a Functional model's graph from its input and output symbols,
 * the way Keras' _map_graph_network does, because model.layers' order is
 * the order of the weight file:
 *   1. a depth-first walk from each output, in order, lists nodes in
 *      post-order (a valid execution order) and numbers layers by first
 *      visit;
 *   2. depths: a node feeding a node at depth d is at least d + 1 (inputs
 *      are deepest), a layer takes the depth of its deepest node;
 *   3. model.layers = layers by decreasing depth, ties by visit order
 *      (inputs not connected to any output come first at depth 0).
 * Node indices written to the config are renumbered per layer to count only
 * this model's nodes (Keras' node_conversion_map).
 *
 * Cost: each step is linear in nodes + node inputs (maps keyed by address,
 * an explicit stack for the walk, so a chain of any length needs no deep C
 * recursion) except two sorts, a layer's nodes by call index and the layers
 * by (depth, visit order): O(n log n) in all. A config of 10,000 layers maps
 * in milliseconds. */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

static uint64_t addr(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

static bool is_input_node(const kc__gnode *n)
{
    return n->n_inputs == 0;
}

void kc__graph_free(kc__graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++)
        kc__gnode_unref(g->nodes[i]);
    for (int i = 0; i < g->n_inputs; i++)
        kc_symbol_unref(g->inputs[i]);
    for (int i = 0; i < g->n_outputs; i++)
        kc_symbol_unref(g->outputs[i]);
    kc__free(g->nodes);
    kc__free(g->in_start);
    kc__free(g->src_pos);
    kc__free(g->src_t);
    kc__free(g->depth);
    kc__free(g->model_index);
    kc__free(g->uses);
    kc__idmap_fini(&g->pos_of);
    kc__free(g->group_start);
    kc__free(g->by_layer);
    kc__idmap_fini(&g->group_of);
    kc__free(g->inputs);
    kc__free(g->outputs);
    kc__free(g->input_pos);
    kc__free(g->output_pos);
    kc__free(g->output_t);
    kc__free(g);
}

int kc__graph_num_nodes(const kc__graph *g)
{
    return g ? g->n_nodes : 0;
}
const kc__gnode *kc__graph_node(const kc__graph *g, int i)
{
    return g->nodes[i];
}

static int node_pos(const kc__graph *g, const kc__gnode *n)
{
    return (int)(intptr_t)kc__idmap_get(&g->pos_of, addr(n)) - 1;
}

int kc__graph_node_index(const kc__graph *g, const kc__gnode *n)
{
    int p = node_pos(g, n);
    return p < 0 ? -1 : g->model_index[p];
}

int kc__graph_layer_nodes(const kc__graph *g, const kc_object *layer, const int **pos)
{
    int k = (int)(intptr_t)kc__idmap_get(&g->group_of, addr(layer)) - 1;
    if (k < 0) {
        *pos = NULL;
        return 0;
    }
    *pos = g->by_layer + g->group_start[k];
    return g->group_start[k + 1] - g->group_start[k];
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

int kc__graph_num_inputs(const kc__graph *g) { return g->n_inputs; }
int kc__graph_num_outputs(const kc__graph *g) { return g->n_outputs; }
kc_symbol *kc__graph_input(const kc__graph *g, int i) { return g->inputs[i]; }
kc_symbol *kc__graph_output(const kc__graph *g, int i) { return g->outputs[i]; }

bool kc__graph_sequential_like(const kc__graph *g)
{
    /* Keras: one node per depth with at most one input, and no layer with
     * two nodes in the model */
    for (int k = 0; k < g->n_groups; k++)
        if (g->group_start[k + 1] - g->group_start[k] > 1) return false;
    int max_depth = 0;
    for (int p = 0; p < g->n_nodes; p++) {
        if (g->nodes[p]->n_inputs > 1) return false;
        if (g->depth[p] > max_depth) max_depth = g->depth[p];
    }
    /* with one node per layer, more nodes than depths means a shared depth */
    if (g->n_nodes > max_depth + 1) return false;
    char *seen = kc__calloc((size_t)max_depth + 1, 1);
    bool ok = seen != NULL;
    for (int p = 0; ok && p < g->n_nodes; p++) {
        ok = !seen[g->depth[p]];
        seen[g->depth[p]] = 1;
    }
    kc__free(seen);
    return ok;
}

/* ---- 1. the walk ------------------------------------------------------------------------ */

#define WALK_ACTIVE ((void *)1) /* on the stack: meeting it again is a cycle */
#define WALK_DONE ((void *)2)   /* in post-order already */

typedef struct frame {
    kc__gnode *node;
    int next; /* next input to visit */
} frame;

typedef struct walk {
    kc__idmap state;       /* node -> WALK_ACTIVE / WALK_DONE */
    kc__idmap layer_index; /* layer -> index in layers + 1 */
    kc__gnode **post;      /* nodes in post-order */
    size_t n_post, cap_post;
    kc_object **layers; /* by first visit, then unconnected inputs */
    int *visit;         /* per layer: 1, 2, ... by first visit; 0 for an unconnected input */
    size_t n_layers, cap_layers, cap_visit;
    frame *stack;
    size_t n_stack, cap_stack;
} walk;

static kc_status oom(kc_error *err)
{
    return kc__errf(err, KC_ENOMEM, "out of memory mapping the graph");
}

static kc_status add_layer(walk *w, kc_object *layer, int visit, kc_error *err)
{
    if (kc__idmap_has(&w->layer_index, addr(layer))) return KC_OK;
    if (!kc__grow((void **)&w->layers, &w->cap_layers, w->n_layers + 1, sizeof(kc_object *)) ||
        !kc__grow((void **)&w->visit, &w->cap_visit, w->n_layers + 1, sizeof(int)) ||
        !kc__idmap_put(&w->layer_index, addr(layer), (void *)(uintptr_t)(w->n_layers + 1)))
        return oom(err);
    w->layers[w->n_layers] = layer;
    w->visit[w->n_layers] = visit;
    w->n_layers++;
    return KC_OK;
}

static int layer_of(const walk *w, const kc__gnode *n)
{
    return (int)(uintptr_t)kc__idmap_get(&w->layer_index, addr(n->layer)) - 1;
}

/* A node met for the first time: its layer is numbered, it goes on the stack. */
static kc_status enter(walk *w, kc__gnode *node, kc_error *err)
{
    kc_status rc = add_layer(w, node->layer, (int)w->n_layers + 1, err);
    if (rc != KC_OK) return rc;
    if (!kc__grow((void **)&w->stack, &w->cap_stack, w->n_stack + 1, sizeof(frame)) ||
        !kc__idmap_put(&w->state, addr(node), WALK_ACTIVE))
        return oom(err);
    w->stack[w->n_stack++] = (frame){node, 0};
    return KC_OK;
}

/* Keras' _build_map from one output: depth first, inputs in order. */
static kc_status walk_from(walk *w, kc__gnode *root, kc_error *err)
{
    if (kc__idmap_get(&w->state, addr(root))) return KC_OK;
    kc_status rc = enter(w, root, err);
    while (rc == KC_OK && w->n_stack > 0) {
        frame *f = &w->stack[w->n_stack - 1];
        if (f->next < f->node->n_inputs) {
            kc__gnode *child = f->node->inputs[f->next++]->node;
            void *st = kc__idmap_get(&w->state, addr(child));
            if (st == WALK_ACTIVE)
                return kc__errf(err, KC_EINVAL, "the graph has a cycle at layer '%s'",
                                kc_layer_name(child->layer));
            if (!st) rc = enter(w, child, err);
            continue;
        }
        kc__gnode *done = f->node;
        w->n_stack--;
        *kc__idmap_slot(&w->state, addr(done)) = WALK_DONE;
        if (!kc__grow((void **)&w->post, &w->cap_post, w->n_post + 1, sizeof(kc__gnode *)))
            return oom(err);
        w->post[w->n_post++] = done;
    }
    return rc;
}

/* Every input node the outputs depend on must be a model input; model
 * inputs not reached still run (first, at depth 0). */
static kc_status place_inputs(walk *w, kc_symbol *const *inputs, int n_in, kc_error *err)
{
    for (size_t k = 0; k < w->n_post; k++) {
        kc__gnode *n = w->post[k];
        if (!is_input_node(n)) continue;
        bool given = false;
        for (int i = 0; i < n_in && !given; i++)
            given = inputs[i]->node == n;
        if (!given)
            return kc__errf(
                err, KC_EINVAL,
                "Graph disconnected: an output depends on input layer '%s', which is not "
                "among the model's inputs",
                kc_layer_name(n->layer));
    }
    for (int i = 0; i < n_in; i++) {
        kc__gnode *n = inputs[i]->node;
        if (kc__idmap_has(&w->state, addr(n))) continue;
        if (!kc__grow((void **)&w->post, &w->cap_post, w->n_post + 1, sizeof(kc__gnode *)) ||
            !kc__idmap_put(&w->state, addr(n), WALK_DONE))
            return oom(err);
        memmove(w->post + 1, w->post, w->n_post * sizeof(kc__gnode *));
        w->post[0] = n;
        w->n_post++;
        kc_status rc = add_layer(w, n->layer, 0, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

static void walk_fini(walk *w)
{
    kc__idmap_fini(&w->state);
    kc__idmap_fini(&w->layer_index);
    kc__free(w->post);
    kc__free(w->layers);
    kc__free(w->visit);
    kc__free(w->stack);
}

/* ---- 2. the graph's arrays ------------------------------------------------------------- */

static kc_status graph_alloc(kc__graph **out, const walk *w, int n_in, int n_out, kc_error *err)
{
    size_t nn = w->n_post, n_src = 0;
    for (size_t p = 0; p < nn; p++)
        n_src += (size_t)w->post[p]->n_inputs;
    kc__graph *g = kc__calloc(1, sizeof(*g));
    *out = g;
    if (!g) return oom(err);
    kc__idmap_init(&g->pos_of);
    kc__idmap_init(&g->group_of);
    g->nodes = kc__calloc(nn, sizeof(kc__gnode *));
    g->in_start = kc__calloc(nn + 1, sizeof(int));
    g->src_pos = kc__calloc(n_src + 1, sizeof(int));
    g->src_t = kc__calloc(n_src + 1, sizeof(int));
    g->depth = kc__calloc(nn, sizeof(int));
    g->model_index = kc__calloc(nn, sizeof(int));
    g->uses = kc__calloc(nn * KC_MAX_LAYER_OUTPUTS, sizeof(int));
    g->group_start = kc__calloc(w->n_layers + 1, sizeof(int));
    g->by_layer = kc__calloc(nn + 1, sizeof(int));
    g->inputs = kc__calloc((size_t)n_in, sizeof(kc_symbol *));
    g->outputs = kc__calloc((size_t)n_out, sizeof(kc_symbol *));
    g->input_pos = kc__calloc((size_t)n_in, sizeof(int));
    g->output_pos = kc__calloc((size_t)n_out, sizeof(int));
    g->output_t = kc__calloc((size_t)n_out, sizeof(int));
    if (!g->nodes || !g->in_start || !g->src_pos || !g->src_t || !g->depth || !g->model_index ||
        !g->uses || !g->group_start || !g->by_layer || !g->inputs || !g->outputs || !g->input_pos ||
        !g->output_pos || !g->output_t)
        return oom(err);
    return KC_OK;
}

/* Nodes, their sources and the use counts that free intermediates early. */
static kc_status fill_nodes(kc__graph *g, const walk *w, kc_symbol *const *inputs, int n_in,
                            kc_symbol *const *outputs, int n_out, kc_error *err)
{
    int nn = (int)w->n_post;
    for (int p = 0; p < nn; p++) {
        if (!kc__idmap_put(&g->pos_of, addr(w->post[p]), (void *)(intptr_t)(p + 1)))
            return oom(err);
        g->nodes[p] = kc__gnode_ref(w->post[p]);
        g->n_nodes = p + 1;
    }
    for (int i = 0; i < n_in; i++)
        g->inputs[i] = kc_symbol_ref(inputs[i]);
    g->n_inputs = n_in;
    for (int i = 0; i < n_out; i++)
        g->outputs[i] = kc_symbol_ref(outputs[i]);
    g->n_outputs = n_out;
    int q = 0;
    for (int p = 0; p < nn; p++) {
        g->in_start[p] = q;
        for (int j = 0; j < g->nodes[p]->n_inputs; j++, q++) {
            const kc_symbol *s = g->nodes[p]->inputs[j];
            g->src_pos[q] = node_pos(g, s->node);
            g->src_t[q] = s->tensor_index;
            g->uses[g->src_pos[q] * KC_MAX_LAYER_OUTPUTS + s->tensor_index]++;
        }
    }
    g->in_start[nn] = q;
    for (int i = 0; i < n_in; i++)
        g->input_pos[i] = node_pos(g, inputs[i]->node);
    for (int i = 0; i < n_out; i++) {
        g->output_pos[i] = node_pos(g, outputs[i]->node);
        g->output_t[i] = outputs[i]->tensor_index;
    }
    return KC_OK;
}

/* Keras' depths, walking nodes from the outputs back; ldepth[layer] is
 * the depth of the layer's deepest node. */
static void compute_depths(kc__graph *g, const walk *w, int *ldepth)
{
    for (int p = g->n_nodes - 1; p >= 0; p--) {
        int li = layer_of(w, g->nodes[p]);
        int d = g->depth[p] > ldepth[li] ? g->depth[p] : ldepth[li];
        ldepth[li] = d;
        g->depth[p] = d;
        for (int j = g->in_start[p]; j < g->in_start[p + 1]; j++)
            if (g->depth[g->src_pos[j]] < d + 1) g->depth[g->src_pos[j]] = d + 1;
    }
}

/* ---- 3. numbering nodes per layer, ordering layers ------------------------------------- */

typedef struct sort_key {
    int a, b, c; /* compared in this order */
} sort_key;

static int by_key(const void *x, const void *y)
{
    const sort_key *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->b != q->b) return p->b < q->b ? -1 : 1;
    return (p->c > q->c) - (p->c < q->c);
}

/* Group nodes by layer in call order (index_in_layer): model_index counts
 * only this model's calls of the layer, from kc__first_node_index. */
static kc_status number_nodes(kc__graph *g, const walk *w, kc_error *err)
{
    int nn = g->n_nodes;
    sort_key *k = kc__malloc_array((size_t)nn + 1, sizeof(sort_key));
    if (!k) return oom(err);
    for (int p = 0; p < nn; p++)
        k[p] = (sort_key){layer_of(w, g->nodes[p]), g->nodes[p]->index_in_layer, p};
    qsort(k, (size_t)nn, sizeof(sort_key), by_key);
    g->n_groups = (int)w->n_layers;
    for (int i = 0; i < nn; i++) {
        int li = k[i].a, first = i == 0 || k[i - 1].a != li;
        g->by_layer[i] = k[i].c;
        g->group_start[li + 1] = i + 1;
        if (first) g->group_start[li] = i;
        g->model_index[k[i].c] =
            first ? kc__first_node_index(w->layers[li]) : g->model_index[k[i - 1].c] + 1;
    }
    kc__free(k);
    for (size_t li = 0; li < w->n_layers; li++)
        if (!kc__idmap_put(&g->group_of, addr(w->layers[li]), (void *)(intptr_t)(li + 1)))
            return oom(err);
    return KC_OK;
}

/* model.layers: by decreasing depth, then visit order (unconnected inputs,
 * visit 0, first among the depth-0 layers, in input order). */
static kc_status order_layers(const walk *w, const int *ldepth, kc_object ***layers, kc_error *err)
{
    size_t n = w->n_layers;
    sort_key *k = kc__malloc_array(n + 1, sizeof(sort_key));
    *layers = kc__malloc_array(n + 1, sizeof(kc_object *));
    if (!k || !*layers) {
        kc__free(k);
        return oom(err);
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (sort_key){-ldepth[i], w->visit[i], (int)i};
    qsort(k, n, sizeof(sort_key), by_key);
    for (size_t i = 0; i < n; i++)
        (*layers)[i] = w->layers[k[i].c];
    kc__free(k);
    return KC_OK;
}

kc_status kc__graph_map(kc_symbol *const *inputs, int n_in, kc_symbol *const *outputs, int n_out,
                        kc__graph **out, kc_object ***layers, int *n_layers, kc_error *err)
{
    *out = NULL;
    *layers = NULL;
    *n_layers = 0;
    walk w = {0};
    kc__idmap_init(&w.state);
    kc__idmap_init(&w.layer_index);
    kc__graph *g = NULL;
    int *ldepth = NULL;
    kc_status rc = KC_OK;
    for (int i = 0; i < n_out && rc == KC_OK; i++)
        rc = walk_from(&w, outputs[i]->node, err);
    if (rc == KC_OK) rc = place_inputs(&w, inputs, n_in, err);
    if (rc == KC_OK) rc = graph_alloc(&g, &w, n_in, n_out, err);
    if (rc == KC_OK) rc = fill_nodes(g, &w, inputs, n_in, outputs, n_out, err);
    if (rc == KC_OK && !(ldepth = kc__calloc(w.n_layers + 1, sizeof(int)))) rc = oom(err);
    if (rc == KC_OK) {
        compute_depths(g, &w, ldepth);
        rc = number_nodes(g, &w, err);
    }
    if (rc == KC_OK) rc = order_layers(&w, ldepth, layers, err);
    if (rc == KC_OK) {
        *out = g;
        *n_layers = (int)w.n_layers;
    } else {
        kc__graph_free(g);
    }
    kc__free(ldepth);
    walk_fini(&w);
    return rc;
}
