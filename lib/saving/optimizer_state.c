/* Optimizer state in the three layouts real files hold (doc/keras3-format.md,
 * rules O1-O5), mapped to and from ckeras' own order.
 *
 * ckeras keeps an optimizer's weights in Keras 2's optimizer_v2 order: the
 * iteration count, optimizer-level states (Nadam's momentum_cache), then
 * each slot kind for all variables ("m" of every variable, then "v"). The
 * optimizers of tf.keras 2.11-2.15 and Keras 3 create their slots in loops
 * over the variables, some loops creating several kinds per variable (Adam:
 * m0, v0, m1, v1, ...; then vhat for all with amsgrad); Keras 3 stores the
 * learning rate as a variable after the iteration count. A table of those
 * loops per class (taken from each class's build()) gives the permutation.
 *
 * Restoring is all or nothing, and untrusted: the file's list is checked
 * against what the model's trainable variables require -- the count, then
 * every shape and element class -- before anything is allocated, and what
 * the restore allocates (the slots, and one copy of the values while they
 * are read) counts against the load's weight budget, so a small file that
 * declares huge arrays is refused at once. */
#include "keras3.h"

#include "../components/optimizer_int.h"

#include <string.h>

/* The slot-creating loops of build() in tf.keras 2.11+ and Keras 3 (the
 * same in both; Keras 3.10 moved them into add_optimizer_variables, which
 * keeps the interleaving): each string is one loop over the variables and
 * lists the ckeras slot kinds it creates per variable. Kinds a
 * configuration lacks (Adam without amsgrad: 2) are skipped. */
typedef struct slot_loops {
    const char *cls;
    const char *loops[3];
} slot_loops;

static const slot_loops builtin_loops[] = {
    {"Adam", {"01", "2"}},     /* momentum, velocity per variable; velocity_hat (amsgrad) */
    {"AdamW", {"01", "2"}},
    {"Nadam", {"01"}},         /* momentum, velocity (+ u_product, see O4) */
    {"Adamax", {"01"}},        /* momentum (m), norm (u) */
    {"Adadelta", {"01"}},      /* accumulated_grad, accumulated_delta_var */
    {"RMSprop", {"0", "1", "2"}}, /* velocity; momentum (momentum > 0); average_gradient (centered) */
    {"SGD", {"0"}},            /* momentum (momentum != 0) */
    {"Adagrad", {"0"}},        /* accumulator */
};

/* One stored array: where its value goes in ckeras' order (-1: the
 * learning rate; -2: read and dropped), and its expected shape. */
typedef struct planned {
    int dst;
    int ndim;
    const int64_t *dims; /* borrowed from a variable, or NULL for a scalar */
    bool is_int;         /* the iteration count */
} planned;

#define DST_LR (-1)
#define DST_DROP (-2)

typedef struct plan {
    planned *items;
    int n;
    size_t cap;
    int n_vars;          /* the model's trainable variables */
    int n_slots, n_states;
    bool replay_states;  /* the file lacks the optimizer-level states: recompute them */
} plan;

static kc_status push(plan *p, int dst, int ndim, const int64_t *dims, bool is_int, kc_error *err)
{
    if (!kc__grow((void **)&p->items, &p->cap, (size_t)p->n + 1, sizeof(planned)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    p->items[p->n++] = (planned){dst, ndim, dims, is_int};
    return KC_OK;
}

static int slot_index(const plan *p, int var, int kind) { return 1 + p->n_states + kind * p->n_vars + var; }

/* The slots as tf.keras 2.11+ and Keras 3 create them (O2): (variable,
 * kind) pairs in order, n_vars * n_slots of them, into var[] and kind[].
 * A custom class with several kinds has no known interleaving: each kind
 * for all variables in turn (ckeras' own order), which ckeras reads back. */
static void slot_order(const kc_object *opt, int n_slots, int n_vars, int *var, int *kind)
{
    const slot_loops *l = NULL;
    for (size_t i = 0; i < sizeof builtin_loops / sizeof *builtin_loops && !l; i++)
        if (kc_find_class(KC_KIND_OPTIMIZER, builtin_loops[i].cls) == opt->cls) l = &builtin_loops[i];
    int n = 0;
    if (!l) {
        for (int k = 0; k < n_slots; k++)
            for (int v = 0; v < n_vars; v++) var[n] = v, kind[n++] = k;
        return;
    }
    for (int k = 0; k < 3 && l->loops[k]; k++)
        for (int v = 0; v < n_vars; v++)
            for (const char *c = l->loops[k]; *c; c++)
                if (*c - '0' < n_slots) var[n] = v, kind[n++] = *c - '0';
}

/* Push the slots of the plan in slot_order; shapes from vars (or none). */
static kc_status plan_slots(plan *p, const kc_object *opt, kc_variable *const *vars, kc_error *err)
{
    size_t n = (size_t)p->n_slots * (size_t)p->n_vars;
    int *var = kc__calloc(n + 1, sizeof(int)), *kind = kc__calloc(n + 1, sizeof(int));
    kc_status rc = var && kind ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) slot_order(opt, p->n_slots, p->n_vars, var, kind);
    for (size_t i = 0; rc == KC_OK && i < n; i++) {
        const kc_tensor *t = vars ? kc_variable_value(vars[var[i]]) : NULL;
        rc = push(p, slot_index(p, var[i], kind[i]), t ? kc_tensor_ndim(t) : 0, t ? kc_tensor_dims(t) : NULL, false,
                  err);
    }
    kc__free(var);
    kc__free(kind);
    return rc;
}

/* Keras 3.0-3.9 tracked Nadam's u_product before its slots, 3.10 after. */
static bool u_product_first(const char *version)
{
    int major = 0, minor = 0;
    if (!version || sscanf(version, "%d.%d", &major, &minor) != 2) return false;
    return major == 3 && minor < 10;
}


/* The arrays a file of `layout` stores for this optimizer, n_file of them,
 * in its order. */
static kc_status make_plan(plan *p, const kc_object *opt, kc_variable *const *vars, const kc__opt_source *src,
                           kc_error *err)
{
    kc_status rc = KC_OK;
    const kc_optimizer *o = (const kc_optimizer *)opt;
    if (src->layout == KC__OPT_LEGACY) {
        int legacy = 1 + p->n_states + p->n_slots * p->n_vars;
        /* Keras 1 lists: no iteration count (RMSprop, Adagrad, Adadelta:
         * their set_weights prepends 0), or Adam's vhat saved without amsgrad */
        bool no_iter = (int)src->n == legacy - 1;
        bool extra_vhat = (int)src->n == legacy + p->n_vars && p->n_slots == 2 && !strcmp(kc_object_name(opt), "Adam");
        if (!no_iter) rc = push(p, 0, 0, NULL, true, err);
        for (int s = 0; s < p->n_states && rc == KC_OK; s++) rc = push(p, 1 + s, 0, NULL, false, err);
        for (int k = 0; k < p->n_slots + (extra_vhat ? 1 : 0) && rc == KC_OK; k++)
            for (int v = 0; v < p->n_vars && rc == KC_OK; v++) {
                const kc_tensor *t = kc_variable_value(vars[v]);
                rc = push(p, k < p->n_slots ? slot_index(p, v, k) : DST_DROP, kc_tensor_ndim(t), kc_tensor_dims(t),
                          false, err);
            }
        return rc;
    }
    rc = push(p, 0, 0, NULL, true, err);
    if (rc == KC_OK && src->layout == KC__OPT_KERAS3 && !o->schedule) rc = push(p, DST_LR, 0, NULL, false, err);
    /* O4: Nadam's u_product (our momentum_cache) is a Keras 3 variable,
     * before the slots up to 3.9, after them from 3.10; tf.keras 2.11-2.15
     * kept it untracked. Without it the states are replayed (O5). */
    bool stored = false, first = false;
    if (rc == KC_OK && p->n_states > 0) {
        int without = p->n + p->n_slots * p->n_vars;
        stored = src->layout == KC__OPT_KERAS3 && (int)src->n == without + p->n_states;
        first = stored && u_product_first(src->keras_version);
        p->replay_states = !stored;
    }
    for (int s = 0; first && s < p->n_states && rc == KC_OK; s++) rc = push(p, 1 + s, 0, NULL, false, err);
    if (rc == KC_OK) rc = plan_slots(p, opt, vars, err);
    for (int s = 0; stored && !first && s < p->n_states && rc == KC_OK; s++) rc = push(p, 1 + s, 0, NULL, false, err);
    return rc;
}

static const char *layout_name(kc__opt_layout l)
{
    return l == KC__OPT_LEGACY ? "Keras 2 (optimizer_v2)" : l == KC__OPT_TF211 ? "tf.keras 2.11+" : "Keras 3";
}

/* Every stored array against the plan: count, shapes, element classes. */
static kc_status check_plan(const plan *p, const kc__opt_source *src, int64_t *bytes, kc_error *err)
{
    if ((int)src->n != p->n)
        return kc__errf(err, KC_ESHAPE, "the file stores %zu optimizer weights (%s layout); the optimizer with the "
                        "model's %d trainable variables has %d", src->n, layout_name(src->layout), p->n_vars, p->n);
    *bytes = 0;
    for (int i = 0; i < p->n; i++) {
        int nd;
        int64_t dims[KC_MAX_DIMS];
        kc__h5_class cls;
        kc_status rc = kc__h5_dataset_info(src->h, src->paths[i], &nd, dims, &cls, err);
        if (rc != KC_OK) return rc;
        const planned *w = &p->items[i];
        bool same = nd == w->ndim;
        for (int d = 0; same && d < nd; d++) same = dims[d] == w->dims[d];
        if (!same) {
            char a[160], b[160];
            kc_shape sa = kc_shape_make(w->ndim, w->dims), sb = kc_shape_make(nd, dims);
            return kc__errf(err, KC_ESHAPE, "optimizer weight '%s' has shape %s; the model's variable needs %s",
                            src->paths[i], kc_shape_format(&sb, b, sizeof b), kc_shape_format(&sa, a, sizeof a));
        }
        if (cls == KC__H5_OTHER || (w->is_int && cls != KC__H5_INT))
            return kc__errf(err, KC_ETYPE, "optimizer weight '%s' must hold %s", src->paths[i],
                            w->is_int ? "an integer (the iteration count)" : "numbers");
        int64_t size = 1;
        for (int d = 0; d < nd; d++) size *= dims[d]; /* equal to a variable's: cannot overflow */
        *bytes += size * (w->is_int ? 8 : 4);
    }
    return KC_OK;
}

/* O5: states that the file lacks are functions of the step count (Nadam's
 * momentum_cache is the product of its per-step factors): replay them.
 * Past a few thousand steps the product is 0 in float32 anyway. */
static kc_status replay_states(kc_object *opt, int64_t iterations, int n_states, kc_error *err)
{
    const kc_optimizer_methods *m = opt->cls->methods;
    for (int s = 0; s < n_states; s++) {
        kc_tensor *t = kc_optimizer_weight(opt, 1 + s, NULL, 0);
        if (t) *kc_tensor_f32(t) = 1.0f;
    }
    int64_t steps = iterations < 100000 ? iterations : 100000;
    for (int64_t t = 1; m && m->begin_step && t <= steps; t++) {
        kc_status rc = m->begin_step(opt, t, kc_optimizer_current_lr(opt), err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

static kc_status read_all(const plan *p, const kc__opt_source *src, kc_tensor **vals, double *lr, kc_error *err)
{
    kc_status rc = KC_OK;
    for (int i = 0; i < p->n && rc == KC_OK; i++) {
        const planned *w = &p->items[i];
        kc_tensor *t = kc_tensor_empty(w->is_int ? KC_INT64 : KC_FLOAT32, w->ndim, w->dims, err);
        if (!t) return kc__error_code(err, KC_ENOMEM);
        rc = w->is_int ? kc__h5_read_i64(src->h, src->paths[i], kc_tensor_data(t), kc_tensor_size(t), err)
                       : kc__h5_read_f32(src->h, src->paths[i], kc_tensor_f32(t), kc_tensor_size(t), err);
        if (rc == KC_OK && w->dst == DST_LR) *lr = *kc_tensor_f32(t);
        if (rc == KC_OK && w->dst >= 0) {
            kc_tensor_unref(vals[w->dst]);
            vals[w->dst] = t;
        } else {
            kc_tensor_unref(t);
        }
    }
    return rc;
}

/* Keras 3 keeps the learning rate as a float32 variable, and the stored
 * value wins over the config's (ReduceLROnPlateau changed it); when it is
 * the config's, rounded, the config's exact value stays. */
static kc_status set_stored_lr(kc_object *opt, double stored, kc_error *err)
{
    const kc_optimizer *o = (const kc_optimizer *)opt;
    if ((float)o->learning_rate == (float)stored) return KC_OK;
    return kc_optimizer_set_learning_rate(opt, stored, err);
}

/* O6: an optimizer that never stepped stores only its iteration count (0)
 * and, in Keras 3, its learning rate: the state of a fresh optimizer, so
 * only the learning rate is taken. */
static kc_status restore_unbuilt(kc_object *opt, const kc__opt_source *src, bool *done, kc_error *err)
{
    const kc_optimizer *o = (const kc_optimizer *)opt;
    *done = false;
    size_t head = src->layout == KC__OPT_KERAS3 && !o->schedule ? 2 : 1;
    if (src->layout == KC__OPT_LEGACY || src->n != head) return KC_OK;
    int nd;
    int64_t dims[KC_MAX_DIMS], it = -1;
    kc__h5_class cls;
    kc_status rc = kc__h5_dataset_info(src->h, src->paths[0], &nd, dims, &cls, err);
    if (rc == KC_OK && (nd != 0 || cls != KC__H5_INT))
        return kc__errf(err, KC_ESHAPE, "optimizer weight '%s' must be the iteration count (an integer scalar)",
                        src->paths[0]);
    if (rc == KC_OK) rc = kc__h5_read_i64(src->h, src->paths[0], &it, 1, err);
    if (rc == KC_OK && it != 0) return KC_OK; /* stepped, yet no slots: let the plan say what is missing */
    float lr = -1;
    if (rc == KC_OK && head == 2) {
        rc = kc__h5_dataset_info(src->h, src->paths[1], &nd, dims, &cls, err);
        if (rc == KC_OK && (nd != 0 || cls != KC__H5_FLOAT))
            return kc__errf(err, KC_ESHAPE, "optimizer weight '%s' must be the learning rate (a float scalar)",
                            src->paths[1]);
        if (rc == KC_OK) rc = kc__h5_read_f32(src->h, src->paths[1], &lr, 1, err);
        if (rc == KC_OK) rc = set_stored_lr(opt, lr, err);
    }
    *done = rc == KC_OK;
    return rc;
}

kc_status kc__optimizer_restore(kc_object *model, const kc__opt_source *src, int64_t budget, kc_error *err)
{
    kc_object *opt = kc_model_optimizer(model);
    if (!opt) return kc__errf(err, KC_ESTATE, "the model is not compiled");
    bool done;
    kc_status hrc = restore_unbuilt(opt, src, &done, err);
    if (hrc != KC_OK || done) return hrc;
    int nt = kc_layer_num_trainable_weights(model);
    kc_variable **vars = kc__calloc((size_t)nt + 1, sizeof(kc_variable *));
    plan p = {.n_vars = nt, .n_slots = kc__optimizer_num_slot_kinds(opt), .n_states = kc__optimizer_num_states(opt)};
    kc_status rc = vars ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; rc == KC_OK && i < nt; i++) vars[i] = kc_layer_trainable_weight(model, i);
    if (rc == KC_OK) rc = make_plan(&p, opt, vars, src, err);
    int64_t bytes = 0;
    if (rc == KC_OK) rc = check_plan(&p, src, &bytes, err);
    /* the slots built below and the values read into them */
    if (rc == KC_OK && budget >= 0 && 2 * bytes > budget)
        rc = kc__errf(err, KC_ELIMIT, "the optimizer state takes %lld bytes, over what is left of the load's "
                      "budget (%lld bytes; see max_weight_bytes)", (long long)(2 * bytes), (long long)budget);
    int num = 1 + p.n_states + p.n_slots * nt;
    kc_tensor **vals = rc == KC_OK ? kc__calloc((size_t)num, sizeof(kc_tensor *)) : NULL;
    if (rc == KC_OK && !vals) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    double lr = -1;
    if (rc == KC_OK) rc = kc_optimizer_build(opt, vars, nt, err);
    if (rc == KC_OK && kc_optimizer_num_weights(opt) != num)
        rc = kc__errf(err, KC_EINTERNAL, "optimizer '%s' built %d weights, %d were planned", kc_object_name(opt),
                      kc_optimizer_num_weights(opt), num);
    if (rc == KC_OK) rc = read_all(&p, src, vals, &lr, err);
    /* states the file lacks keep their current values until replayed */
    for (int i = 0; rc == KC_OK && i < num; i++)
        if (!vals[i]) {
            kc_tensor *cur = kc_optimizer_weight(opt, i, NULL, 0);
            vals[i] = cur ? kc_tensor_copy(cur, err) : NULL;
            if (!vals[i]) rc = kc__error_code(err, KC_ENOMEM);
        }
    if (rc == KC_OK) rc = kc_optimizer_set_weights(opt, vals, num, err);
    if (rc == KC_OK && p.replay_states) rc = replay_states(opt, kc_optimizer_iterations(opt), p.n_states, err);
    if (rc == KC_OK && lr >= 0) rc = set_stored_lr(opt, lr, err);
    for (int i = 0; vals && i < num; i++) kc_tensor_unref(vals[i]);
    kc__free(vals);
    kc__free(p.items);
    kc__free(vars);
    return rc;
}

kc__opt_layout kc__optimizer_layout_of(char *const *names, size_t n)
{
    if (n == 0) return KC__OPT_LEGACY;
    const char *slash = strrchr(names[0], '/');
    const char *last = slash ? slash + 1 : names[0];
    if (strcmp(last, "iteration:0") == 0) return KC__OPT_TF211;
    if (strcmp(last, "iteration") == 0) return KC__OPT_KERAS3;
    return KC__OPT_LEGACY;
}

kc_status kc__optimizer_keras3_weights(kc_object *opt, kc_tensor ***out, int *n, kc_error *err)
{
    *out = NULL;
    *n = 0;
    int num = kc_optimizer_num_weights(opt);
    const kc_optimizer *o = (const kc_optimizer *)opt;
    if (num == 0) { /* O6: never stepped: Keras 3 still has its iteration count and learning rate */
        kc_tensor **t = kc__calloc(2, sizeof(kc_tensor *));
        int k = 0;
        if (t && (t[k] = kc_tensor_full(KC_INT64, 0, NULL, 0, err))) k++;
        if (t && k == 1 && !o->schedule && (t[k] = kc_tensor_full(KC_FLOAT32, 0, NULL, o->learning_rate, err))) k++;
        if (!t || k != (o->schedule ? 1 : 2)) {
            for (int i = 0; t && i < k; i++) kc_tensor_unref(t[i]);
            kc__free(t);
            return kc__errf(err, KC_ENOMEM, "out of memory");
        }
        *out = t;
        *n = k;
        return KC_OK;
    }
    plan p = {.n_slots = kc__optimizer_num_slot_kinds(opt), .n_states = kc__optimizer_num_states(opt)};
    p.n_vars = (num - 1 - p.n_states) / (p.n_slots ? p.n_slots : 1);
    if (p.n_slots == 0) p.n_vars = 0;
    /* the variables themselves are not needed: shapes come from the slots */
    kc_status rc = push(&p, 0, 0, NULL, true, err);
    if (rc == KC_OK && !o->schedule) rc = push(&p, DST_LR, 0, NULL, false, err);
    if (rc == KC_OK) rc = plan_slots(&p, opt, NULL, err);
    /* O4: Keras 3.10+ tracks Nadam's u_product last */
    for (int s = 0; rc == KC_OK && s < p.n_states; s++) rc = push(&p, 1 + s, 0, NULL, false, err);
    kc_tensor **t = rc == KC_OK ? kc__calloc((size_t)p.n + 1, sizeof(kc_tensor *)) : NULL;
    if (rc == KC_OK && !t) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; rc == KC_OK && i < p.n; i++) {
        int dst = p.items[i].dst;
        t[i] = dst == DST_LR ? kc_tensor_full(KC_FLOAT32, 0, NULL, o->learning_rate, err)
                             : kc_tensor_ref(kc_optimizer_weight(opt, dst, NULL, 0));
        if (!t[i]) rc = kc__error_code(err, KC_ENOMEM);
    }
    kc__free(p.items);
    if (rc != KC_OK) {
        for (int i = 0; t && i < p.n; i++) kc_tensor_unref(t[i]);
        kc__free(t);
        return rc;
    }
    *out = t;
    *n = p.n;
    return KC_OK;
}
