/* Gradient tapes (tf.GradientTape semantics).
 *
 * Each thread has a stack of active tapes. An op calls kc__record() after
 * computing its output; every active, unpaused tape that tracks one of the
 * op's inputs appends a node holding references to inputs and outputs and
 * starts tracking the outputs. Nodes are therefore in topological order.
 *
 * How kc_tape_gradient works:
 * 1. Forward sweep: mark the ids reachable from the sources through recorded
 *    nodes; only those nodes matter, and an input needs a gradient only if it
 *    is reachable (so no gradient is computed for data inputs or frozen
 *    weights: the first layer's input gradient is never formed).
 * 2. Backward sweep, newest node first: look up the gradients of the node's
 *    outputs in an id -> tensor map, call the op's backward function, and add
 *    the input gradients into the map. A node's output gradients are dropped
 *    once used (unless they belong to a source), bounding peak memory.
 * 3. Sources read their gradient from the map, NULL when none arrived.
 * Recording is paused during the computation: gradients are plain tensors.
 * A listener (kc__grad_listen) hears of each source's gradient when the
 * sweep passes the oldest node using that source: nothing adds to it after. */
#include "autodiff_int.h"
#include "variable_int.h"
#include "../core/arena.h"
#include "../core/idmap.h"

#include <string.h>

#define MAX_ACTIVE 64

struct kc_tape {
    unsigned flags;
    bool active; /* between begin and end */
    bool paused;
    bool used;   /* non-persistent tape that already answered */
    kc__idmap tracked;
    kc__node *nodes;
    size_t n_nodes, cap_nodes;
    kc__arena arena;
};

static _Thread_local kc_tape *active_tapes[MAX_ACTIVE];
static _Thread_local const kc__grad_listener *listener;

const kc__grad_listener *kc__grad_listen(const kc__grad_listener *l)
{
    const kc__grad_listener *prev = listener;
    listener = l;
    return prev;
}
static _Thread_local int n_active;
static _Thread_local int pause_depth;
_Thread_local int kc__tapes_recording;

static void update_recording(void)
{
    int n = 0;
    if (pause_depth == 0)
        for (int i = 0; i < n_active; i++) n += !active_tapes[i]->paused;
    kc__tapes_recording = n;
}

void kc__recording_pause(void)
{
    pause_depth++;
    update_recording();
}

void kc__recording_resume(void)
{
    if (pause_depth > 0) pause_depth--;
    update_recording();
}

kc_tape *kc_tape_begin(unsigned flags, kc_error *err)
{
    if (n_active >= MAX_ACTIVE) {
        kc__errf(err, KC_ELIMIT, "more than %d gradient tapes active on one thread", MAX_ACTIVE);
        return NULL;
    }
    kc_tape *t = kc__calloc(1, sizeof(*t));
    if (!t) {
        kc__errf(err, KC_ENOMEM, "out of memory creating a gradient tape");
        return NULL;
    }
    t->flags = flags;
    kc__idmap_init(&t->tracked);
    kc__arena_init(&t->arena);
    t->active = true;
    active_tapes[n_active++] = t;
    update_recording();
    return t;
}

void kc_tape_end(kc_tape *tape)
{
    if (!tape || !tape->active) return;
    for (int i = 0; i < n_active; i++) {
        if (active_tapes[i] != tape) continue;
        memmove(&active_tapes[i], &active_tapes[i + 1],
                (size_t)(n_active - i - 1) * sizeof(active_tapes[0]));
        n_active--;
        break;
    }
    tape->active = false;
    update_recording();
}

void kc_tape_pause(kc_tape *tape)
{
    if (!tape) return;
    tape->paused = true;
    update_recording();
}

void kc_tape_resume(kc_tape *tape)
{
    if (!tape) return;
    tape->paused = false;
    update_recording();
}

static bool auto_watched(const kc_tape *tape, const kc_tensor *t)
{
    return !(tape->flags & KC_TAPE_NO_AUTO_WATCH) && t->variable && t->variable->trainable;
}

bool kc_tape_is_watching(const kc_tape *tape, const kc_tensor *t)
{
    if (!tape || !t) return false;
    return kc__idmap_has(&tape->tracked, t->id) || auto_watched(tape, t);
}

kc_status kc_tape_watch(kc_tape *tape, kc_tensor *t, kc_error *err)
{
    if (!tape || !t) return kc__errf(err, KC_EINVAL, "kc_tape_watch: tape or tensor is NULL");
    if (t->dtype != KC_FLOAT32) return KC_OK; /* integers never get gradients (as TF) */
    if (!kc__idmap_put(&tape->tracked, t->id, (void *)1))
        return kc__errf(err, KC_ENOMEM, "out of memory watching a tensor");
    return KC_OK;
}

size_t kc_tape_size(const kc_tape *tape) { return tape ? tape->n_nodes : 0; }

static void node_release(kc__node *n)
{
    for (int i = 0; i < n->n_in; i++) kc_tensor_unref(n->in[i]);
    for (int i = 0; i < n->n_out; i++) kc_tensor_unref(n->out[i]);
    for (int i = 0; i < KC__MAX_SAVED; i++) kc_tensor_unref(n->saved[i]);
    if (n->custom) kc__custom_ref_release(n->custom);
}

static void tape_release_nodes(kc_tape *tape)
{
    for (size_t i = 0; i < tape->n_nodes; i++) node_release(&tape->nodes[i]);
    kc__free(tape->nodes);
    tape->nodes = NULL;
    tape->n_nodes = tape->cap_nodes = 0;
    kc__arena_fini(&tape->arena);
    kc__idmap_fini(&tape->tracked);
}

void kc_tape_free(kc_tape *tape)
{
    if (!tape) return;
    kc_tape_end(tape);
    tape_release_nodes(tape);
    kc__free(tape);
}

/* ---- recording ---------------------------------------------------------- */

static kc_status tape_add_node(kc_tape *tape, kc__op op, kc_tensor *const *in, int n_in,
                               kc_tensor *const *out, int n_out, const kc__attrs *attrs,
                               kc_tensor *const *saved, int n_saved, kc__custom_ref *custom,
                               kc_error *err)
{
    if (!kc__grow((void **)&tape->nodes, &tape->cap_nodes, tape->n_nodes + 1, sizeof(kc__node)))
        return kc__errf(err, KC_ENOMEM, "out of memory recording op '%s'",
                        kc__op_table[op].name);
    kc_tensor **ins = kc__arena_alloc(&tape->arena, sizeof(kc_tensor *) * (size_t)(n_in + n_out));
    if (!ins)
        return kc__errf(err, KC_ENOMEM, "out of memory recording op '%s'",
                        kc__op_table[op].name);
    for (int i = 0; i < n_out; i++) {
        if (out[i]->dtype == KC_FLOAT32 && !kc__idmap_put(&tape->tracked, out[i]->id, (void *)1))
            return kc__errf(err, KC_ENOMEM, "out of memory recording op '%s'",
                            kc__op_table[op].name);
    }
    for (int i = 0; i < n_in; i++) {
        /* remember auto-watched variables, as TF's watched_variables() */
        if (auto_watched(tape, in[i]) && !kc__idmap_put(&tape->tracked, in[i]->id, (void *)1))
            return kc__errf(err, KC_ENOMEM, "out of memory recording op '%s'",
                            kc__op_table[op].name);
    }
    kc__node *n = &tape->nodes[tape->n_nodes++];
    memset(n, 0, sizeof(*n));
    n->op = op;
    n->n_in = n_in;
    n->n_out = n_out;
    n->in = ins;
    n->out = ins + n_in;
    for (int i = 0; i < n_in; i++) n->in[i] = kc_tensor_ref(in[i]);
    for (int i = 0; i < n_out; i++) n->out[i] = kc_tensor_ref(out[i]);
    for (int i = 0; i < n_saved && i < KC__MAX_SAVED; i++) n->saved[i] = kc_tensor_ref(saved[i]);
    if (attrs) n->attrs = *attrs;
    if (custom) {
        kc__custom_ref_retain(custom);
        n->custom = custom;
    }
    return KC_OK;
}

kc_status kc__record(kc__op op, kc_tensor *const *in, int n_in, kc_tensor *const *out, int n_out,
                     const kc__attrs *attrs, kc_tensor *const *saved, int n_saved,
                     kc__custom_ref *custom, kc_error *err)
{
    if (!kc__recording()) return KC_OK;
    for (int k = 0; k < n_active; k++) {
        kc_tape *tape = active_tapes[k];
        if (tape->paused) continue;
        bool track = false;
        for (int i = 0; i < n_in && !track; i++)
            track = in[i]->dtype == KC_FLOAT32 &&
                    (kc__idmap_has(&tape->tracked, in[i]->id) || auto_watched(tape, in[i]));
        if (!track) continue;
        kc_status rc = tape_add_node(tape, op, in, n_in, out, n_out, attrs, saved, n_saved,
                                     custom, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

kc_tensor *kc__finish(kc__op op, kc_tensor *out, kc_tensor *const *in, int n_in,
                      const kc__attrs *attrs, kc_error *err)
{
    if (!out) return NULL;
    if (kc__recording() &&
        kc__record(op, in, n_in, &out, 1, attrs, NULL, 0, NULL, err) != KC_OK) {
        kc_tensor_unref(out);
        return NULL;
    }
    return out;
}

/* ---- gradients ------------------------------------------------------------ */

/* Add g into the map entry of id. Takes g's reference. */
static kc_status grad_accumulate(kc__idmap *gmap, uint64_t id, kc_tensor *g, kc_error *err)
{
    void **slot = kc__idmap_slot(gmap, id);
    kc_tensor *old = slot ? *slot : NULL;
    if (!old) {
        if (slot) {
            *slot = g;
            return KC_OK;
        }
        if (!kc__idmap_put(gmap, id, g)) {
            kc_tensor_unref(g);
            return kc__errf(err, KC_ENOMEM, "out of memory computing gradients");
        }
        return KC_OK;
    }
    /* In place only when nobody else can see the old buffer. */
    if (atomic_load(&old->refcount) == 1 && atomic_load(&old->storage->refcount) == 1 &&
        !old->storage->external) {
        kc__accumulate(old, g);
        kc_tensor_unref(g);
        return KC_OK;
    }
    kc_tensor *sum = kc__add_raw(old, g, err);
    kc_tensor_unref(g);
    if (!sum) return kc__error_code(err, KC_ENOMEM);
    kc_tensor_unref(old);
    *slot = sum;
    return KC_OK;
}

static void gmap_clear(kc__idmap *gmap)
{
    for (size_t i = 0; i < gmap->cap; i++)
        if (gmap->keys[i]) kc_tensor_unref(gmap->vals[i]);
    kc__idmap_fini(gmap);
}

static bool is_source(uint64_t id, kc_tensor *const *sources, int n)
{
    for (int i = 0; i < n; i++)
        if (sources[i]->id == id) return true;
    return false;
}

/* This node's outputs are done: their gradients can go (not the sources'). */
static void drop_output_grads(const kc__node *node, kc__idmap *gmap, kc_tensor *const *sources,
                              int n_sources)
{
    for (int j = 0; j < node->n_out; j++) {
        uint64_t id = node->out[j]->id;
        if (is_source(id, sources, n_sources)) continue;
        void **slot = kc__idmap_slot(gmap, id);
        if (slot && *slot) {
            kc_tensor_unref(*slot);
            *slot = NULL;
        }
    }
}

/* Add the op's input gradients into gmap (taking them from gin), checking
 * that each has its input's shape. */
static kc_status add_input_grads(const kc__node *node, const char *op, const bool *needs,
                                 kc_tensor **gin, kc__idmap *gmap, kc_error *err)
{
    for (int i = 0; i < node->n_in; i++) {
        kc_tensor *g = gin[i];
        gin[i] = NULL;
        if (!g || !needs[i]) {
            kc_tensor_unref(g);
            continue;
        }
        if (!kc_tensor_same_shape(g, node->in[i])) {
            char a[160], b[160];
            kc__errf(err, KC_EINTERNAL, "gradient of op '%s' input %d has shape %s, expected %s",
                     op, i, kc__dims_format(g->ndim, g->dims, a, sizeof(a)),
                     kc__dims_format(node->in[i]->ndim, node->in[i]->dims, b, sizeof(b)));
            kc_tensor_unref(g);
            return KC_EINTERNAL;
        }
        kc_status rc = grad_accumulate(gmap, node->in[i]->id, g, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

/* One node's step: its output gradients (zeros where none) through the
 * op's backward, into the inputs that lead back to a source. */
static kc_status backward_node(kc__node *node, kc__idmap *reach, kc__idmap *gmap,
                               kc_tensor *const *sources, int n_sources, kc_error *err)
{
    bool needs_buf[16];
    kc_tensor *gin_buf[16], *gout_buf[16];
    bool *needs = node->n_in <= 16 ? needs_buf : kc__calloc((size_t)node->n_in, sizeof(bool));
    kc_tensor **gin =
        node->n_in <= 16 ? gin_buf : kc__calloc((size_t)node->n_in, sizeof(kc_tensor *));
    kc_tensor **gout =
        node->n_out <= 16 ? gout_buf : kc__calloc((size_t)node->n_out, sizeof(kc_tensor *));
    kc_status rc = KC_OK;
    bool any_need = false;
    if (!needs || !gin || !gout) {
        rc = kc__errf(err, KC_ENOMEM, "out of memory computing gradients");
        goto out_free;
    }
    for (int i = 0; i < node->n_in; i++) {
        gin[i] = NULL;
        needs[i] = node->in[i]->dtype == KC_FLOAT32 && kc__idmap_has(reach, node->in[i]->id);
        any_need |= needs[i];
    }
    for (int j = 0; j < node->n_out; j++)
        gout[j] = NULL;
    if (!any_need) goto out_free;
    for (int j = 0; j < node->n_out && rc == KC_OK; j++) {
        kc_tensor *g = kc__idmap_get(gmap, node->out[j]->id);
        gout[j] = g ? kc_tensor_ref(g) : kc__tensor_zeros_like(node->out[j], err);
        if (!gout[j]) rc = kc__error_code(err, KC_ENOMEM);
    }
    const kc__op_info *info = &kc__op_table[node->op];
    if (rc == KC_OK && (rc = info->backward(node, gout, needs, gin, err)) != KC_OK)
        kc__error_context(err, "gradient of op '%s'", info->name);
    if (rc == KC_OK) {
        drop_output_grads(node, gmap, sources, n_sources);
        rc = add_input_grads(node, info->name, needs, gin, gmap, err);
    }
out_free:
    if (gin)
        for (int i = 0; i < node->n_in; i++)
            kc_tensor_unref(gin[i]);
    if (gout)
        for (int j = 0; j < node->n_out; j++)
            kc_tensor_unref(gout[j]);
    if (needs != needs_buf) kc__free(needs);
    if (gin != gin_buf) kc__free(gin);
    if (gout != gout_buf) kc__free(gout);
    return rc;
}

/* When each source's gradient is final: sources in the order the backward
 * sweep finishes them, with the index of the oldest node reading each. */
typedef struct ready_plan {
    int *order;        /* source indices, latest last use first */
    size_t *last_use;  /* per source: oldest node reading it */
    int n, next;       /* sources in order; the next one to tell */
} ready_plan;

static kc_status plan_ready(const kc_tape *tape, kc_tensor *const *sources, int n_sources, ready_plan *p,
                            kc_error *err)
{
    p->order = kc__calloc((size_t)n_sources + 1, sizeof(int));
    p->last_use = kc__calloc((size_t)n_sources + 1, sizeof(size_t));
    if (!p->order || !p->last_use) return kc__errf(err, KC_ENOMEM, "out of memory computing gradients");
    kc__idmap index;
    kc__idmap_init(&index);
    for (int i = 0; i < n_sources; i++) {
        p->last_use[i] = SIZE_MAX; /* read by no node: never told */
        if (!kc__idmap_put(&index, sources[i]->id, (void *)(uintptr_t)(i + 1))) {
            kc__idmap_fini(&index);
            return kc__errf(err, KC_ENOMEM, "out of memory computing gradients");
        }
    }
    for (size_t k = tape->n_nodes; k-- > 0;)
        for (int j = 0; j < tape->nodes[k].n_in; j++) {
            uintptr_t i = (uintptr_t)kc__idmap_get(&index, tape->nodes[k].in[j]->id);
            if (i) p->last_use[i - 1] = k;
        }
    kc__idmap_fini(&index);
    for (int i = 0; i < n_sources; i++)
        if (p->last_use[i] != SIZE_MAX) {
            int at = p->n++;
            while (at > 0 && p->last_use[p->order[at - 1]] < p->last_use[i]) {
                p->order[at] = p->order[at - 1];
                at--;
            }
            p->order[at] = i;
        }
    return KC_OK;
}

/* Tell the listener of the gradients final once node k is done. */
static void tell_ready(ready_plan *p, size_t k, kc__idmap *gmap, kc_tensor *const *sources)
{
    for (; p && p->next < p->n && p->last_use[p->order[p->next]] >= k; p->next++) {
        int i = p->order[p->next];
        const kc_tensor *g = kc__idmap_get(gmap, sources[i]->id);
        if (g) listener->ready(listener->ctx, i, g);
    }
}

/* Nodes in reverse order; a node none of whose outputs has a gradient is
 * skipped. plan (may be NULL) tells the listener of final gradients. */
static kc_status run_backward(kc_tape *tape, kc__idmap *reach, kc__idmap *gmap,
                              kc_tensor *const *sources, int n_sources, ready_plan *plan,
                              kc_error *err)
{
    for (size_t k = tape->n_nodes; k-- > 0;) {
        kc__node *node = &tape->nodes[k];
        bool any_out = false;
        for (int j = 0; j < node->n_out; j++)
            any_out |= kc__idmap_get(gmap, node->out[j]->id) != NULL;
        if (!any_out) continue;
        kc_status rc = backward_node(node, reach, gmap, sources, n_sources, err);
        if (rc != KC_OK) return rc;
        tell_ready(plan, k, gmap, sources);
    }
    tell_ready(plan, 0, gmap, sources);
    return KC_OK;
}

static kc_status check_gradient_args(const kc_tape *tape, kc_tensor *const *targets, int n_targets,
                                     kc_tensor *const *output_grads, kc_tensor *const *sources,
                                     int n_sources, kc_tensor **grads, kc_error *err)
{
    if (!tape) return kc__errf(err, KC_EINVAL, "kc_tape_gradient: tape is NULL");
    if (n_sources < 0 || n_targets < 0 || (n_sources && (!sources || !grads)) ||
        (n_targets && !targets))
        return kc__errf(err, KC_EINVAL, "kc_tape_gradient: bad source or target list");
    if (tape->used)
        return kc__errf(err, KC_ESTATE,
                        "this gradient tape was already used: a non-persistent tape answers "
                        "one gradient call; create it with KC_TAPE_PERSISTENT to ask again");
    for (int i = 0; i < n_sources; i++)
        if (!sources[i]) return kc__errf(err, KC_EINVAL, "kc_tape_gradient: source %d is NULL", i);
    for (int i = 0; i < n_targets; i++) {
        if (!targets[i]) return kc__errf(err, KC_EINVAL, "kc_tape_gradient: target %d is NULL", i);
        kc_tensor *og = output_grads ? output_grads[i] : NULL;
        if (og && (og->dtype != KC_FLOAT32 || !kc_tensor_same_shape(og, targets[i]))) {
            char a[160], b[160];
            return kc__errf(err, KC_ESHAPE,
                            "output gradient %d has shape %s, its target has shape %s", i,
                            kc__dims_format(og->ndim, og->dims, a, sizeof(a)),
                            kc__dims_format(targets[i]->ndim, targets[i]->dims, b, sizeof(b)));
        }
    }
    return KC_OK;
}

/* The forward sweep: every float32 tensor that depends on a watched source. */
static kc_status mark_reachable(const kc_tape *tape, kc_tensor *const *sources, int n_sources,
                                kc__idmap *reach, kc_error *err)
{
    for (int i = 0; i < n_sources; i++) {
        if (sources[i]->dtype != KC_FLOAT32) continue;
        if (!kc_tape_is_watching(tape, sources[i])) continue;
        if (!kc__idmap_put(reach, sources[i]->id, (void *)1))
            return kc__errf(err, KC_ENOMEM, "out of memory computing gradients");
    }
    for (size_t k = 0; k < tape->n_nodes; k++) {
        const kc__node *node = &tape->nodes[k];
        bool hit = false;
        for (int i = 0; i < node->n_in && !hit; i++)
            hit = kc__idmap_has(reach, node->in[i]->id);
        if (!hit) continue;
        for (int j = 0; j < node->n_out; j++) {
            if (node->out[j]->dtype == KC_FLOAT32 &&
                !kc__idmap_put(reach, node->out[j]->id, (void *)1))
                return kc__errf(err, KC_ENOMEM, "out of memory computing gradients");
        }
    }
    return KC_OK;
}

/* Each reachable target's gradient starts as its output gradient, or ones. */
static kc_status seed_targets(kc__idmap *reach, kc__idmap *gmap, kc_tensor *const *targets,
                              int n_targets, kc_tensor *const *output_grads, kc_error *err)
{
    for (int i = 0; i < n_targets; i++) {
        kc_tensor *t = targets[i];
        if (t->dtype != KC_FLOAT32 || !kc__idmap_has(reach, t->id)) continue;
        kc_tensor *og = output_grads ? output_grads[i] : NULL;
        kc_tensor *seed =
            og ? kc_tensor_ref(og) : kc_tensor_ones(KC_FLOAT32, t->ndim, t->dims, err);
        if (!seed) return kc__error_code(err, KC_ENOMEM);
        kc_status rc = grad_accumulate(gmap, t->id, seed, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

kc_status kc_tape_gradient_ex(kc_tape *tape, kc_tensor *const *targets, int n_targets,
                              kc_tensor *const *output_grads, kc_tensor *const *sources,
                              int n_sources, kc_tensor **grads, kc_error *err)
{
    if (grads)
        for (int i = 0; i < n_sources; i++)
            grads[i] = NULL;
    kc_status rc =
        check_gradient_args(tape, targets, n_targets, output_grads, sources, n_sources, grads, err);
    if (rc != KC_OK) return rc;

    kc__recording_pause();
    kc__idmap reach, gmap;
    kc__idmap_init(&reach);
    kc__idmap_init(&gmap);
    rc = mark_reachable(tape, sources, n_sources, &reach, err);
    if (rc == KC_OK) rc = seed_targets(&reach, &gmap, targets, n_targets, output_grads, err);
    ready_plan plan = {0};
    if (rc == KC_OK && listener) rc = plan_ready(tape, sources, n_sources, &plan, err);
    if (rc == KC_OK)
        rc = run_backward(tape, &reach, &gmap, sources, n_sources, listener ? &plan : NULL, err);
    kc__free(plan.order);
    kc__free(plan.last_use);
    for (int i = 0; i < n_sources; i++) {
        kc_tensor *g = rc == KC_OK ? kc__idmap_get(&gmap, sources[i]->id) : NULL;
        grads[i] = g ? kc_tensor_ref(g) : NULL;
    }
    gmap_clear(&gmap);
    kc__idmap_fini(&reach);
    kc__recording_resume();
    if (!(tape->flags & KC_TAPE_PERSISTENT)) {
        /* As TF: a non-persistent tape lets go of its resources after one call. */
        tape->used = true;
        kc_tape_end(tape);
        tape_release_nodes(tape);
    }
    return rc;
}

kc_status kc_tape_gradient(kc_tape *tape, kc_tensor *target, kc_tensor *const *sources,
                           int n_sources, kc_tensor **grads, kc_error *err)
{
    if (!target) {
        if (grads)
            for (int i = 0; i < n_sources; i++) grads[i] = NULL;
        return kc__errf(err, KC_EINVAL, "kc_tape_gradient: target is NULL");
    }
    return kc_tape_gradient_ex(tape, &target, 1, NULL, sources, n_sources, grads, err);
}
