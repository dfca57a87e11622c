/* Reading a Functional model_config (Keras 2 node lists and Keras 3
 * {"args", "kwargs"} nodes).
 *
 * Keras creates every layer, then replays each layer's inbound nodes,
 * sweeping the layer list again and again and deferring a node until every
 * tensor it reads exists (functional.from_config's process_node loop), so
 * the list need not be in topological order. Done literally that is
 * quadratic (a reversed chain takes one sweep per layer), cubic with name
 * lookups by scanning, and a hostile config of a few thousand layers hangs
 * the loader. Here:
 *   1. layers are created in list order; names go into a hash table;
 *   2. every reference of every node is parsed and resolved once, to a
 *      global node number (a nested model's calls are numbered from 1 when
 *      some reference goes past its listed nodes, else from 0). A missing
 *      layer, a node index out of range and a node reading its own output
 *      are errors at the JSON path of the reference;
 *   3. Kahn's algorithm orders the nodes, a layer's nodes in their listed
 *      order (that order numbers its calls); nodes it cannot order lie on
 *      or behind a cycle, which is reported with its layers. Each node also
 *      gets the sweep in which Keras' loop replays it: a node runs in the
 *      sweep of its latest input, one later if that input's layer comes
 *      after it in the list. Replaying by (sweep, list position, node) is
 *      Keras' order exactly, so layers are built (and their weights
 *      initialized) in the same order;
 *   4. input_layers and output_layers name the model's symbols.
 * Cost: linear in layers + nodes + references (the sweeps are bucketed, not
 * sorted); memory likewise. */
#include "models_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One layer of the list. */
typedef struct cfg_layer {
    kc_object *layer;    /* owned */
    const json_t *nodes; /* inbound_nodes (NULL for an InputLayer) */
    int n_nodes;         /* nodes to make (an InputLayer's own: 1) */
    int first;           /* the index references give its first listed node */
    int node0;           /* global number of its first node */
    int max_ref;         /* highest node index a reference gives it, -1 if none */
} cfg_layer;

/* A reference [layer, node index, tensor index] read from the config. */
typedef struct cfg_ref {
    int layer;  /* position in the layer list */
    int index;  /* node index as written */
    int tensor; /* output index */
    int node;   /* global number of the node it reads (once resolved) */
} cfg_ref;

typedef struct reader {
    kc_config_ctx lctx; /* the "layers" list */
    cfg_layer *layers;
    size_t n_layers; /* created so far */
    int *names;      /* hash table: layer position + 1, 0 = empty */
    size_t names_cap;
    int n_nodes;     /* all nodes of all layers */
    int *node_layer; /* per node: its layer's position */
    int *ref_start;  /* per node: refs[ref_start[g] .. ref_start[g + 1]) */
    cfg_ref *refs;
    size_t n_refs, cap_refs;
    int *order;       /* nodes in replay order */
    kc_symbol **made; /* symbols made by the nodes: made[made_start[g] + t] */
    int *made_start, *made_n;
    size_t n_made, cap_made;
    cfg_ref io[2][KC__MAX_MODEL_IO]; /* input_layers, output_layers */
    int n_io[2];
} reader;

/* Fail with the JSON path c->path starting the message and as the context. */
#define CFG_FAIL(err, code, c, ...) cfg_fail((err), (code), (c), __LINE__, __VA_ARGS__)
static kc_status cfg_fail(kc_error *err, kc_status code, const kc_config_ctx *c, int line,
                          const char *fmt, ...) KC_PRINTF(5, 6);
static kc_status cfg_fail(kc_error *err, kc_status code, const kc_config_ctx *c, int line,
                          const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kc__error_set(err, code, __FILE__, line, "%s: %s", c->path, msg);
    kc__error_context(err, "%s", c->path);
    return code;
}

static kc_status oom(kc_error *err)
{
    return kc__errf(err, KC_ENOMEM, "out of memory reading a model config");
}

static bool is_input_layer(const kc_object *layer)
{
    return layer->cls == &kc__input_layer_class;
}

/* ---- paths ------------------------------------------------------------------------------ */

static kc_config_ctx layer_ctx(const reader *r, int li)
{
    return kc_config_ctx_child(&r->lctx, NULL, (size_t)li);
}

static kc_config_ctx node_ctx(const reader *r, int g)
{
    int li = r->node_layer[g];
    kc_config_ctx c = layer_ctx(r, li);
    c = kc_config_ctx_child(&c, "inbound_nodes", 0);
    return kc_config_ctx_child(&c, NULL, (size_t)(g - r->layers[li].node0));
}

/* The path of reference m of node g: Keras 2 nodes are lists of references. */
static kc_config_ctx ref_ctx(const reader *r, int g, size_t m)
{
    kc_config_ctx c = node_ctx(r, g);
    const cfg_layer *l = &r->layers[r->node_layer[g]];
    if (json_is_array(json_array_get(l->nodes, (size_t)(g - l->node0))))
        c = kc_config_ctx_child(&c, NULL, m);
    return c;
}

static const char *layer_name(const reader *r, int li)
{
    return kc_layer_name(r->layers[li].layer);
}

/* ---- 1. layers and their names ------------------------------------------------------------ */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot of name: holding its layer, or the empty slot where it goes. */
static size_t name_slot(const reader *r, const char *name)
{
    size_t mask = r->names_cap - 1, i = (size_t)hash_name(name) & mask;
    while (r->names[i] && strcmp(layer_name(r, r->names[i] - 1), name) != 0)
        i = (i + 1) & mask;
    return i;
}

static int find_layer(const reader *r, const char *name)
{
    return r->names_cap ? r->names[name_slot(r, name)] - 1 : -1;
}

static kc_status create_layer(reader *r, const json_t *entry, int li, kc_error *err)
{
    cfg_layer *l = &r->layers[li];
    kc_config_ctx c = layer_ctx(r, li);
    kc_status rc = kc__deserialize_layer(entry, &c, &l->layer, err);
    if (rc != KC_OK) return rc;
    r->n_layers = (size_t)li + 1;
    l->max_ref = -1;
    size_t slot = name_slot(r, kc_layer_name(l->layer));
    if (r->names[slot])
        return CFG_FAIL(err, KC_EFORMAT, &c, "two layers are named '%s'", kc_layer_name(l->layer));
    r->names[slot] = li + 1;
    l->nodes = json_object_get(entry, "inbound_nodes");
    if (is_input_layer(l->layer)) {
        l->nodes = NULL;
        l->n_nodes = 1;
    } else if (l->nodes && !json_is_array(l->nodes)) {
        kc_config_ctx nc = kc_config_ctx_child(&c, "inbound_nodes", 0);
        return CFG_FAIL(err, KC_EFORMAT, &nc, "expected a list of nodes");
    } else {
        size_t n = json_array_size(l->nodes);
        if (n > (size_t)(INT_MAX / 2 - r->n_nodes))
            return CFG_FAIL(err, KC_ELIMIT, &c, "too many nodes (%zu)", n);
        l->n_nodes = (int)n;
    }
    l->node0 = r->n_nodes;
    r->n_nodes += l->n_nodes;
    return KC_OK;
}

static kc_status create_layers(reader *r, const json_t *list, kc_error *err)
{
    size_t n = json_array_size(list);
    if (n > INT_MAX / 2) return CFG_FAIL(err, KC_ELIMIT, &r->lctx, "too many layers (%zu)", n);
    r->layers = kc__calloc(n ? n : 1, sizeof(cfg_layer));
    r->names_cap = 16;
    while (r->names_cap < 2 * n)
        r->names_cap *= 2;
    r->names = kc__calloc(r->names_cap, sizeof(int));
    if (!r->layers || !r->names) return oom(err);
    for (size_t i = 0; i < n; i++) {
        kc_status rc = create_layer(r, json_array_get(list, i), (int)i, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

/* ---- 2. references ---------------------------------------------------------------------- */

typedef struct ref3 {
    const char *layer;
    int node, tensor;
} ref3;

static kc_status collect_k3(const json_t *v, ref3 *refs, int *n, const kc_config_ctx *ctx,
                            kc_error *err)
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
            return CFG_FAIL(err, KC_EFORMAT, ctx,
                            "a __keras_tensor__ without a valid keras_history");
        if (*n >= KC__MAX_MODEL_IO)
            return CFG_FAIL(err, KC_ELIMIT, ctx, "more than %d node inputs", KC__MAX_MODEL_IO);
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

/* The input references of one node, in either form. */
static kc_status node_refs(const json_t *node, const kc_config_ctx *ctx, ref3 *refs, int *n,
                           kc_error *err)
{
    *n = 0;
    if (json_is_object(node)) /* Keras 3: {"args": [...], "kwargs": {...}} */
        return collect_k3(node, refs, n, ctx, err);
    if (!json_is_array(node))
        return CFG_FAIL(err, KC_EFORMAT, ctx, "a node must be a list or an object");
    for (size_t i = 0; i < json_array_size(node); i++) {
        const json_t *d = json_array_get(node, i);
        kc_config_ctx c = kc_config_ctx_child(ctx, NULL, i);
        if (!json_is_array(d) || json_array_size(d) < 3 || !json_is_string(json_array_get(d, 0)) ||
            !json_is_integer(json_array_get(d, 1)) || !json_is_integer(json_array_get(d, 2)))
            return CFG_FAIL(err, KC_EFORMAT, &c,
                            "expected [layer name, node index, tensor index, kwargs]");
        if (strcmp(json_string_value(json_array_get(d, 0)), "_CONSTANT_VALUE") == 0)
            return CFG_FAIL(err, KC_EUNSUPPORTED, &c, "constant node inputs are not supported");
        if (*n >= KC__MAX_MODEL_IO)
            return CFG_FAIL(err, KC_ELIMIT, ctx, "more than %d node inputs", KC__MAX_MODEL_IO);
        refs[*n].layer = json_string_value(json_array_get(d, 0));
        refs[*n].node = (int)json_integer_value(json_array_get(d, 1));
        refs[*n].tensor = (int)json_integer_value(json_array_get(d, 2));
        (*n)++;
    }
    return KC_OK;
}

/* A parsed reference, its layer found by name (false: no such layer; the
 * caller reports it at its path, made only then: paths cost snprintf). */
static bool to_ref(reader *r, const ref3 *in, bool counts, cfg_ref *out)
{
    int li = find_layer(r, in->layer);
    if (li < 0) return false;
    *out = (cfg_ref){li, in->node, in->tensor, -1};
    if (counts && in->node > r->layers[li].max_ref) r->layers[li].max_ref = in->node;
    return true;
}

static kc_status parse_node(reader *r, int g, kc_error *err)
{
    const cfg_layer *l = &r->layers[r->node_layer[g]];
    kc_config_ctx nc = node_ctx(r, g);
    ref3 tmp[KC__MAX_MODEL_IO];
    int nr = 0;
    kc_status rc = node_refs(json_array_get(l->nodes, (size_t)(g - l->node0)), &nc, tmp, &nr, err);
    if (rc != KC_OK) return rc;
    if (nr == 0)
        return CFG_FAIL(err, KC_EFORMAT, &nc, "a call of layer '%s' without input tensors",
                        kc_layer_name(l->layer));
    if (!kc__grow((void **)&r->refs, &r->cap_refs, r->n_refs + (size_t)nr, sizeof(cfg_ref)))
        return oom(err);
    for (int m = 0; m < nr; m++) {
        if (!to_ref(r, &tmp[m], true, &r->refs[r->n_refs++])) {
            kc_config_ctx c = ref_ctx(r, g, (size_t)m);
            return CFG_FAIL(err, KC_EFORMAT, &c, "layer '%s' is not in the model", tmp[m].layer);
        }
    }
    return KC_OK;
}

/* input_layers / output_layers (k = 0 / 1): a list of triples, one flat
 * triple (Keras 3) or a dict of them (Keras 3 named inputs). */
static kc_status parse_io(reader *r, const json_t *v, const kc_config_ctx *ctx, int k,
                          kc_error *err)
{
    const json_t *items[KC__MAX_MODEL_IO];
    int count = 0;
    if (json_is_array(v) && json_array_size(v) > 0 && json_is_string(json_array_get(v, 0))) {
        items[count++] = v;
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && count < KC__MAX_MODEL_IO; i++)
            items[count++] = json_array_get(v, i);
    } else if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) if (count < KC__MAX_MODEL_IO) items[count++] =
            val;
    }
    if (count < 1)
        return CFG_FAIL(err, KC_EFORMAT, ctx,
                        "expected a list of [layer name, node index, tensor index]");
    for (int i = 0; i < count; i++) {
        const json_t *t = items[i];
        kc_config_ctx c = kc_config_ctx_child(ctx, NULL, (size_t)i);
        if (!json_is_array(t) || json_array_size(t) < 3 || !json_is_string(json_array_get(t, 0)))
            return CFG_FAIL(err, KC_EFORMAT, &c, "expected [layer name, node index, tensor index]");
        ref3 in = {json_string_value(json_array_get(t, 0)),
                   (int)json_integer_value(json_array_get(t, 1)),
                   (int)json_integer_value(json_array_get(t, 2))};
        cfg_ref *out = &r->io[k][i];
        /* only calls and outputs decide a nested model's `first` (as Keras) */
        if (!to_ref(r, &in, k == 1, out))
            return CFG_FAIL(err, KC_EFORMAT, &c, "layer '%s' is not in the model", in.layer);
    }
    r->n_io[k] = count;
    return KC_OK;
}

static kc_status parse_refs(reader *r, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    r->node_layer = kc__malloc_array((size_t)r->n_nodes + 1, sizeof(int));
    r->ref_start = kc__malloc_array((size_t)r->n_nodes + 1, sizeof(int));
    if (!r->node_layer || !r->ref_start) return oom(err);
    for (size_t li = 0; li < r->n_layers; li++)
        for (int k = 0; k < r->layers[li].n_nodes; k++)
            r->node_layer[r->layers[li].node0 + k] = (int)li;
    kc_status rc = KC_OK;
    for (int g = 0; g < r->n_nodes && rc == KC_OK; g++) {
        r->ref_start[g] = (int)r->n_refs;
        if (r->layers[r->node_layer[g]].nodes) rc = parse_node(r, g, err);
    }
    r->ref_start[r->n_nodes] = (int)r->n_refs;
    static const char *const keys[2] = {"input_layers", "output_layers"};
    for (int k = 0; k < 2 && rc == KC_OK; k++) {
        kc_config_ctx c = kc_config_ctx_child(ctx, keys[k], 0);
        rc = parse_io(r, json_object_get(cfg, keys[k]), &c, k, err);
    }
    return rc;
}

/* A nested model's calls are numbered from 1 when some reference goes past
 * its listed nodes (Keras 2, TensorFlow.js: its own node 0 comes first),
 * else from 0 (Keras 3). */
static void number_nested_calls(reader *r)
{
    for (size_t li = 0; li < r->n_layers; li++) {
        cfg_layer *l = &r->layers[li];
        if (kc_is_model(l->layer) && l->nodes) l->first = l->max_ref >= l->n_nodes ? 1 : 0;
    }
}

/* The node a reference reads (false: its index is out of range). */
static bool resolve_index(const reader *r, cfg_ref *ref)
{
    const cfg_layer *l = &r->layers[ref->layer];
    int local = ref->index - l->first;
    if (local < 0 || local >= l->n_nodes) return false;
    ref->node = l->node0 + local;
    return true;
}

/* The node a reference reads, checked against the layer's nodes. */
static kc_status resolve(const reader *r, cfg_ref *ref, const kc_config_ctx *c, kc_error *err)
{
    const cfg_layer *l = &r->layers[ref->layer];
    if (!resolve_index(r, ref)) {
        if (l->n_nodes == 0)
            return CFG_FAIL(err, KC_EFORMAT, c,
                            "node index %d is out of range: layer '%s' is never called", ref->index,
                            kc_layer_name(l->layer));
        return CFG_FAIL(err, KC_EFORMAT, c,
                        "node index %d is out of range: layer '%s' has nodes %d to %d", ref->index,
                        kc_layer_name(l->layer), l->first, l->first + l->n_nodes - 1);
    }
    return KC_OK;
}

static kc_status resolve_refs(reader *r, kc_error *err)
{
    for (int g = 0; g < r->n_nodes; g++) {
        for (int m = r->ref_start[g]; m < r->ref_start[g + 1]; m++) {
            if (resolve_index(r, &r->refs[m]) && r->refs[m].node != g) continue;
            kc_config_ctx c = ref_ctx(r, g, (size_t)(m - r->ref_start[g]));
            kc_status rc = resolve(r, &r->refs[m], &c, err);
            if (rc != KC_OK) return rc;
            if (r->refs[m].node == g) {
                int li = r->node_layer[g];
                return CFG_FAIL(err, KC_EFORMAT, &c,
                                "call %d of layer '%s' takes its own output as input",
                                g - r->layers[li].node0 + r->layers[li].first, layer_name(r, li));
            }
        }
    }
    return KC_OK;
}

/* ---- 3. replay order --------------------------------------------------------------------- */

/* Edges producer -> consumer: each reference, and each node to the layer's
 * next node. */
typedef struct edges {
    int *start, *to; /* consumers of g: to[start[g] .. start[g + 1]) */
    int *indegree;
} edges;

static bool has_prev(const reader *r, int g)
{
    return g > r->layers[r->node_layer[g]].node0;
}

static kc_status build_edges(const reader *r, edges *e, kc_error *err)
{
    int n = r->n_nodes;
    size_t n_edges = r->n_refs + (size_t)n;
    e->start = kc__calloc((size_t)n + 2, sizeof(int));
    e->to = kc__malloc_array(n_edges + 1, sizeof(int));
    e->indegree = kc__calloc((size_t)n + 1, sizeof(int));
    if (!e->start || !e->to || !e->indegree) return oom(err);
    for (int g = 0; g < n; g++) {
        for (int m = r->ref_start[g]; m < r->ref_start[g + 1]; m++)
            e->start[r->refs[m].node + 2]++;
        if (has_prev(r, g)) e->start[g - 1 + 2]++;
        e->indegree[g] = r->ref_start[g + 1] - r->ref_start[g] + has_prev(r, g);
    }
    for (int g = 0; g < n; g++)
        e->start[g + 2] += e->start[g + 1];
    for (int g = 0; g < n; g++) { /* start[p + 1] runs as the fill cursor of p */
        for (int m = r->ref_start[g]; m < r->ref_start[g + 1]; m++)
            e->to[e->start[r->refs[m].node + 1]++] = g;
        if (has_prev(r, g)) e->to[e->start[g - 1 + 1]++] = g;
    }
    return KC_OK;
}

static void edges_fini(edges *e)
{
    kc__free(e->start);
    kc__free(e->to);
    kc__free(e->indegree);
}

/* Nodes Kahn's algorithm could not order: follow unordered inputs back
 * from the first of them until a node repeats; the nodes since its first
 * visit are a cycle, reported in the order data flows (the first few). */
static kc_status report_cycle(const reader *r, const int *indegree, kc_error *err)
{
    int n = r->n_nodes, g = 0;
    while (indegree[g] == 0)
        g++;
    int *seen = kc__calloc((size_t)n, sizeof(int)); /* step of the walk that met the node, from 1 */
    int *path = kc__malloc_array((size_t)n + 1, sizeof(int));
    if (!seen || !path) {
        kc__free(seen);
        kc__free(path);
        return oom(err);
    }
    int step = 0;
    while (!seen[g]) {
        seen[g] = ++step;
        path[step - 1] = g;
        int next = has_prev(r, g) && indegree[g - 1] ? g - 1 : -1;
        for (int m = r->ref_start[g]; m < r->ref_start[g + 1] && next < 0; m++)
            if (indegree[r->refs[m].node]) next = r->refs[m].node; /* one always is */
        g = next;
    }
    /* path[from .. step) is the cycle, each node an input of the one before
     * and path[step - 1] reading path[from]: in data-flow order it runs
     * path[from], path[step - 1], ..., path[from + 1], back to path[from] */
    int from = seen[g] - 1, len = step - from;
    char text[400];
    size_t used = 0;
    for (int i = 0; i <= len && i <= 6 && used < sizeof text; i++) {
        int v = i == 0 || i == len || i == 6 ? path[from] : path[step - i];
        const cfg_layer *l = &r->layers[r->node_layer[v]];
        int k = snprintf(text + used, sizeof text - used, "%s'%s'[%d]",
                         i == 0              ? ""
                         : i == 6 && len > 6 ? " -> ... -> "
                                             : " -> ",
                         kc_layer_name(l->layer), v - l->node0 + l->first);
        used += k > 0 ? (size_t)k : 0;
    }
    kc_config_ctx c = node_ctx(r, path[from]);
    kc__free(seen);
    kc__free(path);
    return CFG_FAIL(err, KC_EFORMAT, &c, "the layer calls form a cycle: %s", text);
}

/* Kahn's algorithm, recording each node's Keras sweep, then the nodes
 * bucketed by sweep (in list order within one). */
static kc_status replay_order(reader *r, kc_error *err)
{
    int n = r->n_nodes;
    edges e = {0};
    int *queue = kc__malloc_array((size_t)n + 1, sizeof(int));
    int *sweep = kc__calloc((size_t)n + 1, sizeof(int));
    int *count = kc__calloc((size_t)n + 2, sizeof(int));
    r->order = kc__malloc_array((size_t)n + 1, sizeof(int));
    kc_status rc = queue && sweep && count && r->order ? build_edges(r, &e, err) : oom(err);
    int head = 0, tail = 0;
    for (int g = 0; rc == KC_OK && g < n; g++) {
        sweep[g] = r->layers[r->node_layer[g]].nodes ? 1 : 0; /* InputLayers come first */
        if (e.indegree[g] == 0) queue[tail++] = g;
    }
    while (rc == KC_OK && head < tail) {
        int p = queue[head++];
        for (int j = e.start[p]; j < e.start[p + 1]; j++) {
            int c = e.to[j];
            int s = sweep[p] + (r->node_layer[p] > r->node_layer[c] ? 1 : 0);
            if (s > sweep[c]) sweep[c] = s;
            if (--e.indegree[c] == 0) queue[tail++] = c;
        }
    }
    if (rc == KC_OK && tail < n) rc = report_cycle(r, e.indegree, err);
    if (rc == KC_OK) { /* counting sort by sweep (at most n + 1 sweeps) */
        for (int g = 0; g < n; g++)
            count[sweep[g] + 1]++;
        for (int s = 0; s <= n; s++)
            count[s + 1] += count[s];
        for (int g = 0; g < n; g++)
            r->order[count[sweep[g]]++] = g;
    }
    edges_fini(&e);
    kc__free(queue);
    kc__free(sweep);
    kc__free(count);
    return rc;
}

/* ---- replaying ------------------------------------------------------------------------------ */

static kc_status keep_symbols(reader *r, int g, kc_symbol **syms, int n, kc_error *err)
{
    if (!kc__grow((void **)&r->made, &r->cap_made, r->n_made + (size_t)n, sizeof(kc_symbol *))) {
        for (int i = 0; i < n; i++)
            kc_symbol_unref(syms[i]);
        return oom(err);
    }
    r->made_start[g] = (int)r->n_made;
    r->made_n[g] = n;
    memcpy(r->made + r->n_made, syms, (size_t)n * sizeof(kc_symbol *));
    r->n_made += (size_t)n;
    return KC_OK;
}

/* The symbol a resolved reference reads (its node was replayed). */
static kc_symbol *ref_symbol(const reader *r, const cfg_ref *ref)
{
    if (ref->tensor < 0 || ref->tensor >= r->made_n[ref->node]) return NULL;
    return r->made[r->made_start[ref->node] + ref->tensor];
}

static kc_status replay_node(reader *r, int g, kc_error *err)
{
    kc_object *layer = r->layers[r->node_layer[g]].layer;
    kc_symbol *outs[KC_MAX_LAYER_OUTPUTS];
    if (is_input_layer(layer)) {
        outs[0] = kc__input_symbol(layer, err);
        return outs[0] ? keep_symbols(r, g, outs, 1, err) : kc__error_code(err, KC_ENOMEM);
    }
    kc_symbol *ins[KC__MAX_MODEL_IO];
    int nr = r->ref_start[g + 1] - r->ref_start[g];
    for (int m = 0; m < nr; m++) {
        const cfg_ref *ref = &r->refs[r->ref_start[g] + m];
        if (!(ins[m] = ref_symbol(r, ref))) {
            kc_config_ctx c = ref_ctx(r, g, (size_t)m);
            return CFG_FAIL(
                err, KC_EFORMAT, &c,
                "tensor index %d is out of range: call %d of layer '%s' has %d output%s",
                ref->tensor, ref->index, layer_name(r, ref->layer), r->made_n[ref->node],
                r->made_n[ref->node] == 1 ? "" : "s");
        }
    }
    int n_out = 0;
    kc_status rc = kc_apply_multi(layer, ins, nr, outs, &n_out, err);
    if (rc != KC_OK) {
        kc_config_ctx c = node_ctx(r, g);
        kc__error_context(err, "%s", c.path);
        return rc;
    }
    return keep_symbols(r, g, outs, n_out, err);
}

static kc_status replay(reader *r, kc_error *err)
{
    r->made_start = kc__calloc((size_t)r->n_nodes + 1, sizeof(int));
    r->made_n = kc__calloc((size_t)r->n_nodes + 1, sizeof(int));
    if (!r->made_start || !r->made_n) return oom(err);
    kc_status rc = KC_OK;
    for (int i = 0; i < r->n_nodes && rc == KC_OK; i++)
        rc = replay_node(r, r->order[i], err);
    return rc;
}

/* ---- 4. the model's inputs and outputs ----------------------------------------------------- */

static kc_status io_symbols(reader *r, const kc_config_ctx *ctx, int k, kc_symbol **out,
                            kc_error *err)
{
    static const char *const keys[2] = {"input_layers", "output_layers"};
    kc_config_ctx list = kc_config_ctx_child(ctx, keys[k], 0);
    for (int i = 0; i < r->n_io[k]; i++) {
        kc_config_ctx c = kc_config_ctx_child(&list, NULL, (size_t)i);
        cfg_ref *ref = &r->io[k][i];
        kc_status rc = resolve(r, ref, &c, err);
        if (rc != KC_OK) return rc;
        if (!(out[i] = ref_symbol(r, ref)))
            return CFG_FAIL(err, KC_EFORMAT, &c, "no tensor %s[%d][%d] in the model",
                            layer_name(r, ref->layer), ref->index, ref->tensor);
    }
    return KC_OK;
}

static void reader_fini(reader *r)
{
    for (size_t i = 0; i < r->n_made; i++)
        kc_symbol_unref(r->made[i]);
    for (size_t i = 0; i < r->n_layers; i++)
        kc_object_unref(r->layers[i].layer);
    kc__free(r->layers);
    kc__free(r->names);
    kc__free(r->node_layer);
    kc__free(r->ref_start);
    kc__free(r->refs);
    kc__free(r->order);
    kc__free(r->made);
    kc__free(r->made_start);
    kc__free(r->made_n);
}

kc_status kc__functional_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err)
{
    reader r = {.lctx = kc_config_ctx_child(ctx, "layers", 0)};
    const json_t *layers = json_object_get(cfg, "layers");
    if (!json_is_array(layers))
        return CFG_FAIL(err, KC_EFORMAT, &r.lctx, "expected a list of layers");
    kc_status rc = create_layers(&r, layers, err);
    if (rc == KC_OK) rc = parse_refs(&r, cfg, ctx, err);
    if (rc == KC_OK) {
        number_nested_calls(&r);
        rc = resolve_refs(&r, err);
    }
    if (rc == KC_OK) rc = replay_order(&r, err);
    if (rc == KC_OK) rc = replay(&r, err);
    kc_symbol *ins[KC__MAX_MODEL_IO], *outs[KC__MAX_MODEL_IO];
    if (rc == KC_OK) rc = io_symbols(&r, ctx, 0, ins, err);
    if (rc == KC_OK) rc = io_symbols(&r, ctx, 1, outs, err);
    if (rc == KC_OK) rc = kc__functional_setup(self, ins, r.n_io[0], outs, r.n_io[1], err);
    reader_fini(&r);
    return rc;
}
