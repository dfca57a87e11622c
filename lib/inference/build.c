/* Building an inference plan: the model's graph walked in execution order,
 * nested Sequential and Functional models inlined, each layer call turned
 * into a step by its inference slot (or a CALL step), with the shapes the
 * layers compute for these inputs. Then folding, weights and buffers
 * (fold.c, memory.c). A model that makes masks, or whose top is a
 * subclassed model, gets no plan: it keeps the op-by-op path. */
#include "plan_int.h"
#include "../core/idmap.h"

#include <string.h>

int kc__plan_value(kc__plan *p, kc_dtype dtype, int ndim, const int64_t *dims)
{
    size_t cap = (size_t)p->cap_values;
    if (!kc__grow((void **)&p->values, &cap, (size_t)p->n_values + 1, sizeof(kc__pvalue))) return -1;
    p->cap_values = (int)cap;
    int v = p->n_values++;
    kc__pvalue *x = &p->values[v];
    memset(x, 0, sizeof(*x));
    x->dtype = dtype;
    x->ndim = ndim;
    x->size = 1;
    for (int i = 0; i < ndim; i++) {
        x->dims[i] = dims[i];
        x->size *= dims[i];
    }
    x->root = v;
    x->producer = -1;
    x->last_read = -1;
    x->loc = KC__LOC_ARENA;
    return v;
}

int kc__plan_step(kc__plan *p, kc__step_kind kind, kc_object *layer, const int *in, int n_in, const int *out,
                  int n_out)
{
    size_t cap = (size_t)p->cap_steps;
    if (!kc__grow((void **)&p->steps, &cap, (size_t)p->n_steps + 1, sizeof(kc__pstep))) return -1;
    p->cap_steps = (int)cap;
    kc__pstep *s = &p->steps[p->n_steps];
    memset(s, 0, sizeof(*s));
    s->in = kc__malloc_array((size_t)(n_in > 0 ? n_in : 1), sizeof(int));
    s->out = kc__malloc_array((size_t)(n_out > 0 ? n_out : 1), sizeof(int));
    if (!s->in || !s->out) {
        kc__free(s->in);
        kc__free(s->out);
        return -1;
    }
    s->kind = kind;
    s->layer = layer;
    s->act.op = KC__OP_COUNT;
    s->d.act.op = KC__OP_COUNT;
    memcpy(s->in, in, sizeof(int) * (size_t)n_in);
    memcpy(s->out, out, sizeof(int) * (size_t)n_out);
    s->n_in = n_in;
    s->n_out = n_out;
    int id = p->n_steps++;
    for (int i = 0; i < n_out; i++) p->values[out[i]].producer = id;
    return id;
}

void kc__plan_free(kc__plan *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_steps; i++) {
        kc__pstep *s = &p->steps[i];
        kc__free(s->in);
        kc__free(s->out);
        kc__free(s->folded_w);
        kc__free(s->folded_b);
        kc__free(s->inv);
        kc__conv_backend_free(s->backend);
        if (s->backend_w) kc__buffer_free(s->backend_w, s->backend_w_cap);
    }
    kc__free(p->steps);
    kc__free(p->values);
    kc__free(p->watch);
    kc__free(p->watch_version);
    if (p->arena) kc__buffer_free(p->arena, p->arena_cap);
    if (p->scratch) kc__buffer_free(p->scratch, p->scratch_cap);
    kc__free(p);
}

/* ---- walking the model -------------------------------------------------------------------- */

typedef struct builder {
    kc__plan *p;
    kc_error *err;
    bool refused;
} builder;

static kc_status oom(builder *b) { return kc__errf(b->err, KC_ENOMEM, "out of memory building an inference plan"); }

static kc_status add_model(builder *b, kc_object *model, const int *ins, int n_in, int *outs, int *n_out);

/* A new float32 value of shape s. */
static int new_value(builder *b, const kc_shape *s) { return kc__plan_value(b->p, KC_FLOAT32, s->ndim, s->dims); }

/* One step reading ins and writing a new value of shape s (*out). */
static kc_status simple_step(builder *b, kc__step_kind kind, kc_object *layer, const kc__layer_infer *d,
                             const int *ins, int n_in, const kc_shape *s, int *out)
{
    int v = new_value(b, s);
    int st = v < 0 ? -1 : kc__plan_step(b->p, kind, layer, ins, n_in, &v, 1);
    if (st < 0) return oom(b);
    b->p->steps[st].d = *d;
    *out = v;
    return KC_OK;
}

/* The step of a described layer; a softmax activation is a step of its own. */
static kc_status kernel_steps(builder *b, kc_object *layer, const kc__layer_infer *d, const int *ins, int n_in,
                              const kc_shape *oshape, int *out)
{
    kc__plan *p = b->p;
    static const kc__step_kind kinds[] = {
        [KC__LI_CONV] = KC__ST_CONV,   [KC__LI_DENSE] = KC__ST_DENSE,   [KC__LI_AFFINE] = KC__ST_AFFINE,
        [KC__LI_ACT] = KC__ST_ACT,     [KC__LI_SOFTMAX] = KC__ST_SOFTMAX, [KC__LI_MERGE] = KC__ST_MERGE,
        [KC__LI_CONCAT] = KC__ST_CONCAT, [KC__LI_POOL] = KC__ST_POOL,   [KC__LI_GPOOL] = KC__ST_GPOOL,
        [KC__LI_PAD] = KC__ST_PAD,
    };
    kc_status rc;
    int x = ins[0];
    if (d->kind == KC__LI_ACT && d->softmax != KC__LI_NO_SOFTMAX) {
        kc__layer_infer sd = *d;
        sd.kind = KC__LI_SOFTMAX;
        sd.axis = oshape->ndim - 1;
        return simple_step(b, KC__ST_SOFTMAX, layer, &sd, ins, n_in, oshape, out);
    }
    if (d->kind == KC__LI_CONV && d->pointwise) {
        /* a separable convolution: depthwise (no bias) into a 1x1 */
        kc_shape mid = *oshape;
        mid.dims[mid.ndim - 1] = p->values[x].dims[p->values[x].ndim - 1] * d->depth_multiplier;
        int m;
        if ((rc = simple_step(b, KC__ST_CONV, layer, d, ins, 1, &mid, &m)) != KC_OK) return rc;
        kc__pstep *dw = &p->steps[p->n_steps - 1];
        dw->d.pointwise = NULL;
        dw->d.bias = NULL;
        dw->d.act.op = KC__OP_COUNT;
        dw->d.softmax = KC__LI_NO_SOFTMAX;
        x = m;
        ins = &x;
    }
    int y;
    bool softmax = (d->kind == KC__LI_CONV || d->kind == KC__LI_DENSE) && d->softmax != KC__LI_NO_SOFTMAX;
    if ((rc = simple_step(b, kinds[d->kind], layer, d, ins, n_in, oshape, &y)) != KC_OK) return rc;
    kc__pstep *s = &p->steps[p->n_steps - 1];
    s->pointwise_part = d->kind == KC__LI_CONV && d->pointwise != NULL;
    s->act = d->kind == KC__LI_ACT || d->kind == KC__LI_CONV || d->kind == KC__LI_DENSE ? d->act : s->act;
    if (!softmax) {
        *out = y;
        return KC_OK;
    }
    kc__layer_infer sd = *d;
    sd.kind = KC__LI_SOFTMAX;
    sd.axis = oshape->ndim - 1;
    return simple_step(b, KC__ST_SOFTMAX, layer, &sd, &y, 1, oshape, out);
}

static kc_status add_layer(builder *b, kc_object *layer, const int *ins, int n_in, int *outs, int *n_out)
{
    if (kc__is_sequential(layer) || kc__is_functional(layer)) return add_model(b, layer, ins, n_in, outs, n_out);
    kc__plan *p = b->p;
    kc_shape in[KC__MAX_MODEL_IO], oshape[KC_MAX_LAYER_OUTPUTS];
    bool all_float = true;
    for (int i = 0; i < n_in; i++) {
        const kc__pvalue *v = &p->values[ins[i]];
        in[i] = kc_shape_make(v->ndim, v->dims);
        all_float &= v->dtype == KC_FLOAT32;
    }
    int no = 0;
    kc_status rc = kc__layer_output_shapes(layer, in, n_in, oshape, &no, b->err);
    if (rc == KC_OK) rc = kc_layer_build(layer, in, n_in, b->err);
    if (rc != KC_OK) return rc;
    if (kc__as_layer(layer)->activity_regularizer) p->call_losses = true;
    kc__layer_infer d;
    kc__layer_describe(layer, in, n_in, &d);
    if (d.kind == KC__LI_MASKS) {
        b->refused = true;
        return KC_OK;
    }
    if (d.kind == KC__LI_IDENTITY_F32) d.kind = all_float ? KC__LI_IDENTITY : KC__LI_CALL;
    if (!all_float && d.kind != KC__LI_IDENTITY && d.kind != KC__LI_VIEW) d.kind = KC__LI_CALL;
    if (no < 1 || (no > 1 && d.kind != KC__LI_CALL)) d.kind = KC__LI_CALL;
    *n_out = no;
    switch (d.kind) {
    case KC__LI_IDENTITY:
        outs[0] = ins[0];
        return KC_OK;
    case KC__LI_VIEW: {
        int v = kc__plan_value(p, p->values[ins[0]].dtype, oshape[0].ndim, oshape[0].dims);
        if (v < 0) return oom(b);
        if (p->values[v].size != p->values[ins[0]].size)
            return kc__errf(b->err, KC_EINTERNAL, "layer '%s': a view of another size", kc_layer_name(layer));
        p->values[v].root = kc__plan_root(p, ins[0]);
        outs[0] = v;
        return KC_OK;
    }
    case KC__LI_CALL: {
        for (int i = 0; i < no; i++)
            if ((outs[i] = new_value(b, &oshape[i])) < 0) return oom(b);
        return kc__plan_step(p, KC__ST_CALL, layer, ins, n_in, outs, no) < 0 ? oom(b) : KC_OK;
    }
    default:
        return kernel_steps(b, layer, &d, ins, n_in, &oshape[0], &outs[0]);
    }
}

static kc_status add_sequential(builder *b, kc_object *model, const int *ins, int n_in, int *outs, int *n_out)
{
    kc__model_state *s = kc__mstate(model);
    if (n_in != 1) return kc__errf(b->err, KC_EINVAL, "a Sequential model takes one input");
    int cur = ins[0];
    for (int i = 0; i < s->n_layers && !b->refused; i++) {
        int o[KC_MAX_LAYER_OUTPUTS], n = 0;
        kc_status rc = add_layer(b, s->layers[i], &cur, 1, o, &n);
        if (rc != KC_OK) return rc;
        if (!b->refused && n != 1)
            return kc__errf(b->err, KC_EINVAL, "layer '%s' has %d outputs in a Sequential model",
                            kc_layer_name(s->layers[i]), n);
        cur = o[0];
    }
    outs[0] = cur;
    *n_out = 1;
    return KC_OK;
}

static kc_status add_functional(builder *b, kc_object *model, const int *ins, int n_in, int *outs, int *n_out)
{
    const kc__graph *g = kc__mstate(model)->graph;
    int nn = kc__graph_num_nodes(g);
    if (!g || n_in != kc__graph_num_inputs(g)) return kc__errf(b->err, KC_EINVAL, "model input count");
    int *vals = kc__malloc_array((size_t)nn * KC_MAX_LAYER_OUTPUTS, sizeof(int));
    kc__idmap pos;
    kc__idmap_init(&pos);
    kc_status rc = vals ? KC_OK : oom(b);
    for (int q = 0; rc == KC_OK && q < nn; q++)
        if (!kc__idmap_put(&pos, (uint64_t)(uintptr_t)kc__graph_node(g, q), (void *)(uintptr_t)(q + 1))) rc = oom(b);
    for (int q = 0; rc == KC_OK && q < nn * KC_MAX_LAYER_OUTPUTS; q++) vals[q] = -1;
#define POS(node) ((int)(uintptr_t)kc__idmap_get(&pos, (uint64_t)(uintptr_t)(node)) - 1)
    for (int i = 0; rc == KC_OK && i < n_in; i++) {
        const kc_symbol *sym = kc__graph_input(g, i);
        kc_shape s = kc_shape_make(b->p->values[ins[i]].ndim, b->p->values[ins[i]].dims), o[1];
        int n = 0;
        rc = kc__layer_output_shapes(sym->node->layer, &s, 1, o, &n, b->err); /* the input's shape check */
        if (rc == KC_OK) vals[POS(sym->node) * KC_MAX_LAYER_OUTPUTS] = ins[i];
    }
    for (int q = 0; rc == KC_OK && !b->refused && q < nn; q++) {
        const kc__gnode *node = kc__graph_node(g, q);
        if (node->arg_names || node->options) {
            /* a call with keyword arguments (MultiHeadAttention(query, value,
             * key), training=..., masks): its outputs depend on them, and the
             * node-by-node path binds them; the plan declines the model */
            b->refused = true;
            break;
        }
        if (node->n_inputs == 0) {
            if (vals[q * KC_MAX_LAYER_OUTPUTS] < 0) rc = kc__errf(b->err, KC_EINVAL, "an input layer without input");
            continue;
        }
        int src[KC__MAX_MODEL_IO], n = 0;
        for (int j = 0; j < node->n_inputs && j < KC__MAX_MODEL_IO; j++) {
            const kc_symbol *sym = node->inputs[j];
            src[j] = vals[POS(sym->node) * KC_MAX_LAYER_OUTPUTS + sym->tensor_index];
        }
        rc = add_layer(b, node->layer, src, node->n_inputs, vals + q * KC_MAX_LAYER_OUTPUTS, &n);
    }
    for (int i = 0; rc == KC_OK && !b->refused && i < kc__graph_num_outputs(g); i++) {
        const kc_symbol *sym = kc__graph_output(g, i);
        outs[i] = vals[POS(sym->node) * KC_MAX_LAYER_OUTPUTS + sym->tensor_index];
        if (outs[i] < 0) rc = kc__errf(b->err, KC_EINTERNAL, "model output %d was not computed", i);
    }
#undef POS
    *n_out = kc__graph_num_outputs(g);
    kc__idmap_fini(&pos);
    kc__free(vals);
    return rc;
}

static kc_status add_model(builder *b, kc_object *model, const int *ins, int n_in, int *outs, int *n_out)
{
    if (kc__is_sequential(model)) {
        kc__model_state *s = kc__mstate(model);
        if (s->input_layer) { /* its shape check, as seq_output_shape does */
            kc_shape in = kc_shape_make(b->p->values[ins[0]].ndim, b->p->values[ins[0]].dims), o[1];
            int n;
            kc_status rc = kc__layer_output_shapes(s->input_layer, &in, 1, o, &n, b->err);
            if (rc != KC_OK) return rc;
        }
        return add_sequential(b, model, ins, n_in, outs, n_out);
    }
    return add_functional(b, model, ins, n_in, outs, n_out);
}

/* The plan's steps, folded; then either prepared and placed (a plan to
 * run) or only laid out (`layout_only`: for its arena size). */
static kc_status build(kc_object *model, const kc_shape *shapes, const kc_dtype *dtypes, int n_inputs,
                       bool layout_only, kc__plan **out, bool *refused, kc_error *err)
{
    *out = NULL;
    *refused = false;
    if (!kc__is_sequential(model) && !kc__is_functional(model)) {
        *refused = true;
        return KC_OK;
    }
    if (n_inputs < 1 || n_inputs > KC__MAX_MODEL_IO) return kc__errf(err, KC_EINVAL, "bad input count");
    kc__plan *p = kc__calloc(1, sizeof(*p));
    if (!p) return kc__errf(err, KC_ENOMEM, "out of memory building an inference plan");
    p->n_inputs = n_inputs;
    kc_status rc = KC_OK;
    for (int i = 0; i < n_inputs; i++) {
        p->in_shapes[i] = shapes[i];
        p->in_dtypes[i] = dtypes[i];
    }
    rc = kc_layer_build(model, p->in_shapes, n_inputs, err);
    p->generation = kc__layers_generation;
    for (int i = 0; rc == KC_OK && i < n_inputs; i++) {
        int v = kc__plan_value(p, p->in_dtypes[i], p->in_shapes[i].ndim, p->in_shapes[i].dims);
        if (v < 0) {
            rc = kc__errf(err, KC_ENOMEM, "out of memory building an inference plan");
            break;
        }
        p->values[v].loc = KC__LOC_INPUT;
        p->values[v].io = i;
        p->input_value[i] = v;
    }
    builder b = {p, err, false};
    int n_out = 0;
    if (rc == KC_OK) rc = add_model(&b, model, p->input_value, n_inputs, p->output_value, &n_out);
    if (rc == KC_OK && b.refused) {
        kc__plan_free(p);
        *refused = true;
        return KC_OK;
    }
    p->n_outputs = n_out;
    for (int i = 0; rc == KC_OK && i < n_out; i++) p->values[p->output_value[i]].output = true;
    if (rc == KC_OK) rc = kc__plan_fold(p, err);
    if (rc == KC_OK && !layout_only) rc = kc__plan_prepare(p, err);
    if (rc == KC_OK) rc = layout_only ? kc__plan_layout(p, err) : kc__plan_place(p, err);
    p->generation = kc__layers_generation; /* building may have built layers */
    if (rc != KC_OK) {
        kc__plan_free(p);
        return rc;
    }
    *out = p;
    return KC_OK;
}

kc_status kc__plan_build(kc_object *model, const kc_shape *shapes, const kc_dtype *dtypes, int n_inputs,
                         kc__plan **out, bool *refused, kc_error *err)
{
    return build(model, shapes, dtypes, n_inputs, false, out, refused, err);
}

kc_status kc__plan_arena_estimate(kc_object *model, const kc_shape *shapes, const kc_dtype *dtypes, int n_inputs,
                                  size_t *bytes, kc_error *err)
{
    kc__plan *p = NULL;
    bool refused = false;
    *bytes = 0;
    kc_status rc = build(model, shapes, dtypes, n_inputs, true, &p, &refused, err);
    if (p) *bytes = p->arena_bytes;
    kc__plan_free(p);
    return rc;
}
