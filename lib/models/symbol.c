/* Symbolic tensors and nodes: how the Functional API records layer calls.
 *
 * kc_apply(layer, inputs) checks the inputs' shapes with the layer's
 * compute_output_shape, builds the layer, and records a node: the layer
 * plus the input symbols. The output symbols point to the node. Ownership
 * runs one way only (symbol -> node -> layer and input symbols), so the
 * graph a user builds has no reference cycles, even when a layer is
 * applied to its own output. */
#include "models_int.h"

kc__gnode *kc__gnode_ref(kc__gnode *n)
{
    if (n) __atomic_add_fetch(&n->refcount, 1, __ATOMIC_RELAXED);
    return n;
}

/* Freeing a node drops its input symbols, whose nodes may go too: done
 * by recursion, freeing a chain of 100,000 calls would need as many C
 * frames. The nodes to free wait on a list instead. */
static void free_nodes(kc__gnode *n)
{
    n->next_dead = NULL;
    kc__gnode *dead = n;
    while (dead) {
        kc__gnode *d = dead;
        dead = d->next_dead;
        for (int i = 0; i < d->n_inputs; i++) {
            kc_symbol *s = d->inputs[i];
            if (__atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) != 0) continue;
            kc__gnode *sn = s->node;
            kc__free(s);
            if (__atomic_sub_fetch(&sn->refcount, 1, __ATOMIC_ACQ_REL) != 0) continue;
            sn->next_dead = dead;
            dead = sn;
        }
        kc__free(d->inputs);
        kc_object_unref(d->layer);
        kc__free(d);
    }
}

void kc__gnode_unref(kc__gnode *n)
{
    if (!n || __atomic_sub_fetch(&n->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    free_nodes(n);
}

kc_symbol *kc_symbol_ref(kc_symbol *s)
{
    if (s) __atomic_add_fetch(&s->refcount, 1, __ATOMIC_RELAXED);
    return s;
}

void kc_symbol_unref(kc_symbol *s)
{
    if (!s || __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    kc__gnode *n = s->node;
    kc__free(s);
    kc__gnode_unref(n);
}

kc_shape kc_symbol_shape(const kc_symbol *s) { return s ? s->shape : kc_shape_make(0, NULL); }
kc_object *kc_symbol_layer(const kc_symbol *s) { return s ? s->node->layer : NULL; }

/* A node of layer on inputs with the given output shapes; out receives
 * n_out symbols. */
static kc_status make_node(kc_object *layer, kc_symbol *const *inputs, int n_inputs,
                           const kc_shape *oshape, int n_out, kc_symbol **out, kc_error *err)
{
    kc__gnode *node = kc__calloc(1, sizeof(*node));
    if (!node) return kc__errf(err, KC_ENOMEM, "out of memory");
    node->refcount = 1;
    if (n_inputs > 0) {
        node->inputs = kc__calloc((size_t)n_inputs, sizeof(kc_symbol *));
        if (!node->inputs) {
            kc__free(node);
            return kc__errf(err, KC_ENOMEM, "out of memory");
        }
    }
    for (int i = 0; i < n_inputs; i++) node->inputs[i] = kc_symbol_ref(inputs[i]);
    node->n_inputs = n_inputs;
    node->layer = kc_object_ref(layer);
    node->n_outputs = n_out;
    for (int i = 0; i < n_out; i++) node->out_shapes[i] = oshape[i];
    kc__layer_state *ls = kc__as_layer(layer)->state;
    node->index_in_layer = ls->n_nodes++;
    for (int i = 0; i < n_out; i++) out[i] = NULL;
    for (int i = 0; i < n_out; i++) {
        kc_symbol *s = kc__calloc(1, sizeof(*s));
        if (!s) {
            for (int j = 0; j < i; j++) kc_symbol_unref(out[j]);
            kc__gnode_unref(node);
            return kc__errf(err, KC_ENOMEM, "out of memory");
        }
        s->refcount = 1;
        s->node = kc__gnode_ref(node);
        s->tensor_index = i;
        s->shape = oshape[i];
        out[i] = s;
    }
    kc__gnode_unref(node); /* the symbols hold it */
    return KC_OK;
}

kc_status kc_apply_multi(kc_object *layer, kc_symbol *const *inputs, int n_inputs,
                         kc_symbol **outs, int *n_out, kc_error *err)
{
    *n_out = 0;
    if (!kc_is_layer(layer)) return kc__errf(err, KC_EINVAL, "kc_apply: not a layer");
    if (n_inputs < 1 || n_inputs > KC__MAX_MODEL_IO || !inputs)
        return kc__errf(err, KC_EINVAL, "kc_apply: layer '%s' needs 1 to %d inputs",
                        kc_layer_name(layer), KC__MAX_MODEL_IO);
    kc_shape in[KC__MAX_MODEL_IO], out[KC_MAX_LAYER_OUTPUTS];
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]) {
            if (err && err->code != KC_OK) return err->code;
            return kc__errf(err, KC_EINVAL, "kc_apply: input %d of layer '%s' is NULL", i,
                            kc_layer_name(layer));
        }
        in[i] = inputs[i]->shape;
    }
    int no = 0;
    kc_status rc = kc__layer_output_shapes(layer, in, n_inputs, out, &no, err);
    if (rc == KC_OK) rc = kc_layer_build(layer, in, n_inputs, err);
    if (rc == KC_OK) rc = make_node(layer, inputs, n_inputs, out, no, outs, err);
    if (rc == KC_OK) *n_out = no;
    return rc;
}

kc_symbol *kc_apply(kc_object *layer, kc_symbol *const *inputs, int n_inputs, kc_error *err)
{
    kc_symbol *outs[KC_MAX_LAYER_OUTPUTS];
    int n = 0;
    if (kc_apply_multi(layer, inputs, n_inputs, outs, &n, err) != KC_OK) return NULL;
    for (int i = 1; i < n; i++) kc_symbol_unref(outs[i]);
    return outs[0];
}

/* The symbol an InputLayer feeds (its single node). */
kc_symbol *kc__input_symbol(kc_object *input_layer, kc_error *err)
{
    kc_shape s = kc__input_layer_shape(input_layer);
    kc_symbol *out = NULL;
    if (make_node(input_layer, NULL, 0, &s, 1, &out, err) != KC_OK) return NULL;
    kc__as_layer(input_layer)->built = true;
    return out;
}

kc_symbol *kc_input_batch(int ndim, const int64_t *batch_shape, const char *name, kc_error *err)
{
    if (ndim < 1 || ndim > KC_MAX_DIMS || !batch_shape) {
        kc__errf(err, KC_EINVAL, "kc_input: a shape of rank 1 to %d (batch included) is needed",
                 KC_MAX_DIMS);
        return NULL;
    }
    kc_object *layer = kc_object_new(&kc__input_layer_class, err);
    if (!layer) return NULL;
    kc_layer *l = kc__as_layer(layer);
    kc_status rc = name ? kc__layer_set_name(layer, name, err) : kc__layer_ensure_name(layer, err);
    l->has_batch_input_shape = true;
    l->batch_input_shape = kc_shape_make(ndim, batch_shape);
    kc_symbol *s = rc == KC_OK ? kc__input_symbol(layer, err) : NULL;
    kc_object_unref(layer); /* the symbol's node holds it */
    return s;
}

kc_symbol *kc_input(int ndim, const int64_t *shape, const char *name, kc_error *err)
{
    if (ndim < 0 || ndim >= KC_MAX_DIMS || (ndim && !shape)) {
        kc__errf(err, KC_EINVAL, "kc_input: a shape of rank 0 to %d (batch excluded) is needed",
                 KC_MAX_DIMS - 1);
        return NULL;
    }
    int64_t b[KC_MAX_DIMS];
    b[0] = -1;
    for (int i = 0; i < ndim; i++) b[i + 1] = shape[i] < 0 ? -1 : shape[i];
    return kc_input_batch(ndim + 1, b, name, err);
}
