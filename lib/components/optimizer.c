/* The optimizer kind: the base every optimizer class shares, following
 * tf.keras' optimizer_v2 (keras/optimizers/optimizer_v2/optimizer_v2.py, the
 * "legacy" optimizers whose config and weights Keras 2 .h5 files store).
 *
 * A class supplies only its hyperparameters, its slot kinds and a
 * per-element update; this file does everything around it the way
 * optimizer_v2.apply_gradients does:
 *   1. drop variables whose gradient is NULL (filter_empty_gradients; all
 *      NULL is an error, as in Keras);
 *   2. create the slots of variables seen for the first time, each slot
 *      kind for all new variables before the next kind (_create_slots'
 *      "separate for-loops"), so that weights come out in Keras' order;
 *   3. clip: clipvalue, then clipnorm, then global_clipnorm
 *      (_transform_gradients), with TensorFlow's clip_by_value,
 *      clip_by_norm and clip_by_global_norm formulas;
 *   4. lr_t = learning_rate, or schedule(iterations), divided by
 *      (1 + decay * iterations) (_decayed_lr);
 *   5. update each variable, then apply its constraint (_distributed_apply);
 *   6. iterations += 1.
 * State lives here, not in the classes: the iteration count (an int64
 * scalar, Keras' "iter"), optimizer-level scalars (Nadam's momentum_cache),
 * the tracked variables in first-seen order (references held), their slot
 * tensors, and the slot weights in creation order. */
#include "../autodiff/autodiff_int.h"
#include "../core/idmap.h"
#include "optimizer_int.h"

#include <ckeras/constraint.h>
#include <ckeras/schedule.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct tracked {
    kc_variable *var; /* reference held */
    kc_tensor **slots; /* n_slots float32 tensors shaped like var */
} tracked;

typedef struct slot_ref {
    size_t var;  /* index into vars */
    int kind;    /* slot kind */
} slot_ref;

typedef struct state_weight {
    char *name;       /* "momentum_cache" */
    kc_tensor *value; /* float32 scalar */
} state_weight;

struct kc__optimizer_state {
    kc_tensor *iterations;  /* int64 scalar: updates applied so far */
    bool built;             /* weights exist (Keras creates them lazily) */
    int n_slots;            /* slot kinds, fixed by the first tracked variable */
    tracked *vars;          /* tracked variables, first-seen order */
    size_t n_vars, cap_vars;
    kc__idmap index;        /* variable address -> index + 1 in vars */
    slot_ref *order;        /* slot weights in creation order */
    size_t n_order, cap_order;
    state_weight *states;   /* optimizer-level scalars, in kc_optimizer_add_state order */
    size_t n_states, cap_states;
    float **slot_ptrs;      /* scratch: one step's slot data for one variable */
    size_t cap_slot_ptrs;
};

/* ---- the kind ------------------------------------------------------------------ */

static const kc_optimizer_methods *methods_of(const kc_object *obj)
{
    return (const kc_optimizer_methods *)obj->cls->methods;
}

static int class_n_slots(const kc_object *obj)
{
    const kc_optimizer_methods *m = methods_of(obj);
    return m->n_slots ? m->n_slots(obj) : 0;
}

static kc_status check_optimizer_class(const kc_class *cls, kc_error *err)
{
    const kc_optimizer_methods *m = cls->methods;
    if (!m || !m->update)
        return kc__errf(err, KC_EINVAL, "optimizer class '%s' needs methods with an update slot",
                        cls->name);
    if (!m->n_slots != !m->slot_name)
        return kc__errf(err, KC_EINVAL,
                        "optimizer class '%s' must give both n_slots and slot_name, or neither",
                        cls->name);
    return KC_OK;
}

/* Keras names an optimizer after its class (for a registered "Package>Name"
 * class, the Python class name is the part after '>'). */
static const char *default_name(const kc_class *cls)
{
    const char *gt = strrchr(cls->name, '>');
    return gt ? gt + 1 : cls->name;
}

static kc_status optimizer_base_init(kc_object *self, kc_error *err)
{
    kc_optimizer *o = (kc_optimizer *)self;
    o->learning_rate = 0.001;
    o->name = kc__strdup(default_name(self->cls));
    o->state = kc__calloc(1, sizeof(*o->state));
    if (!o->name || !o->state) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc__idmap_init(&o->state->index);
    o->state->iterations = kc_tensor_zeros(KC_INT64, 0, NULL, err);
    return o->state->iterations ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static void free_tracked(tracked *t, int n_slots)
{
    if (t->slots)
        for (int k = 0; k < n_slots; k++) kc_tensor_unref(t->slots[k]);
    kc__free(t->slots);
    kc_variable_unref(t->var);
}

static void optimizer_base_fini(kc_object *self)
{
    kc_optimizer *o = (kc_optimizer *)self;
    kc__optimizer_state *st = o->state;
    if (st) {
        for (size_t i = 0; i < st->n_vars; i++) free_tracked(&st->vars[i], st->n_slots);
        for (size_t i = 0; i < st->n_states; i++) {
            kc__free(st->states[i].name);
            kc_tensor_unref(st->states[i].value);
        }
        kc__free(st->vars);
        kc__free(st->order);
        kc__free(st->states);
        kc__free(st->slot_ptrs);
        kc__idmap_fini(&st->index);
        kc_tensor_unref(st->iterations);
        kc__free(st);
    }
    kc_object_unref(o->schedule);
    kc__free(o->name);
}

void kc__opt_put_float(json_t *cfg, const char *key, double v, kc_status *rc, kc_error *err)
{
    if (*rc == KC_OK) *rc = kc_cfg_set_float(cfg, key, v, err);
}

void kc__opt_put_bool(json_t *cfg, const char *key, bool v, kc_status *rc, kc_error *err)
{
    if (*rc == KC_OK && json_object_set_new(cfg, key, json_boolean(v)))
        *rc = kc__errf(err, KC_ENOMEM, "out of memory");
}

/* optimizer_v2.get_config: {"name", clipnorm / clipvalue / global_clipnorm
 * when set, "learning_rate" (a number or the schedule's dict), "decay"};
 * the class appends its own keys. */
static kc_status optimizer_base_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const kc_optimizer *o = (const kc_optimizer *)self;
    kc_status rc = KC_OK;
    if (json_object_set_new(cfg, "name", json_string(o->name)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    if (o->has_clipnorm) kc__opt_put_float(cfg, "clipnorm", o->clipnorm, &rc, err);
    if (o->has_clipvalue) kc__opt_put_float(cfg, "clipvalue", o->clipvalue, &rc, err);
    if (o->has_global_clipnorm)
        kc__opt_put_float(cfg, "global_clipnorm", o->global_clipnorm, &rc, err);
    if (rc != KC_OK) return rc;
    if (o->schedule)
        rc = kc_cfg_set_object(cfg, "learning_rate", o->schedule, err);
    else
        rc = kc_cfg_set_float(cfg, "learning_rate", o->learning_rate, err);
    kc__opt_put_float(cfg, "decay", o->decay, &rc, err);
    return rc;
}

/* learning_rate: a number, or a schedule dict (optimizer_v2.from_config
 * deserializes dicts). Keras 1/2 wrote "lr", which wins over learning_rate
 * as in from_config's config["learning_rate"] = config.pop("lr"). */
static kc_status read_learning_rate(kc_optimizer *o, const json_t *cfg, const kc_config_ctx *ctx,
                                    kc_error *err)
{
    const char *key = json_object_get(cfg, "lr") ? "lr" : "learning_rate";
    const json_t *v = json_object_get(cfg, key);
    if (!v) return KC_OK;
    if (!json_is_object(v))
        return kc_cfg_float(ctx, cfg, key, KC_CFG_NONNEG, o->learning_rate, &o->learning_rate, err);
    kc_object *s = NULL;
    kc_status rc = kc_cfg_object(ctx, cfg, key, KC_KIND_SCHEDULE, NULL, &s, err);
    if (rc != KC_OK) return rc;
    if (s && kc_object_is_function(s)) {
        kc_object_unref(s);
        kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
        kc__errf(err, KC_ETYPE,
                 "a learning-rate schedule must be a schedule class instance, not a function");
        kc__error_context(err, "%s", c.path);
        return KC_ETYPE;
    }
    kc_object_unref(o->schedule);
    o->schedule = s;
    return KC_OK;
}

/* A key of a newer Keras that ckeras cannot honour unless it is null. */
static kc_status refuse_unless_null(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                                    kc_error *err)
{
    const json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return KC_OK;
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    kc__errf(err, KC_EUNSUPPORTED,
             "%s: optimizer option '%s' is not supported by ckeras (only null)", c.path, key);
    kc__error_context(err, "%s", c.path);
    return KC_EUNSUPPORTED;
}

static kc_status read_clip(const kc_config_ctx *ctx, const json_t *cfg, const char *key, bool *has,
                           double *value, kc_error *err)
{
    const json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return KC_OK; /* unset, as Keras' None */
    *has = true;
    return kc_cfg_float(ctx, cfg, key, KC_CFG_NONNEG, 0, value, err);
}

static kc_status optimizer_base_from_config(kc_object *self, const json_t *cfg,
                                            const kc_config_ctx *ctx, kc_error *err)
{
    kc_optimizer *o = (kc_optimizer *)self;
    const char *name;
    kc_status rc = kc_cfg_string(ctx, cfg, "name", KC_CFG_NULLABLE, NULL, &name, err);
    if (rc != KC_OK) return rc;
    if (name) {
        if (!*name) {
            kc__errf(err, KC_EFORMAT, "%s.name: an optimizer name must not be empty", ctx->path);
            kc__error_context(err, "%s.name", ctx->path);
            return KC_EFORMAT;
        }
        char *copy = kc__strdup(name);
        if (!copy) return kc__errf(err, KC_ENOMEM, "out of memory");
        kc__free(o->name);
        o->name = copy;
    }
    rc = read_learning_rate(o, cfg, ctx, err);
    if (rc == KC_OK)
        rc = kc_cfg_float(ctx, cfg, "decay", KC_CFG_NONNEG | KC_CFG_NULLABLE, o->decay, &o->decay,
                          err);
    if (rc == KC_OK) rc = read_clip(ctx, cfg, "clipnorm", &o->has_clipnorm, &o->clipnorm, err);
    if (rc == KC_OK) rc = read_clip(ctx, cfg, "clipvalue", &o->has_clipvalue, &o->clipvalue, err);
    if (rc == KC_OK)
        rc = read_clip(ctx, cfg, "global_clipnorm", &o->has_global_clipnorm, &o->global_clipnorm,
                       err);
    if (rc == KC_OK && o->has_clipnorm && o->has_global_clipnorm) {
        kc__errf(err, KC_EFORMAT,
                 "%s: cannot accept both clipnorm and global_clipnorm (got %g and %g)", ctx->path,
                 o->clipnorm, o->global_clipnorm);
        kc__error_context(err, "%s", ctx->path);
        return KC_EFORMAT;
    }
    /* Keys of tf.keras >= 2.11 / Keras 3 optimizers that do not change
     * ckeras' numbers are read (so that a wrong type is reported) and
     * ignored: jit_compile, is_legacy_optimizer, the EMA settings (an EMA
     * only replaces the weights at the end of fit, which ckeras leaves to
     * the trainer). Options that would change the steps must be null. */
    bool b;
    double d;
    int64_t i;
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "jit_compile", KC_CFG_NULLABLE, false, &b, err);
    if (rc == KC_OK)
        rc = kc_cfg_bool(ctx, cfg, "is_legacy_optimizer", KC_CFG_NULLABLE, false, &b, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "use_ema", KC_CFG_NULLABLE, false, &b, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "ema_momentum", KC_CFG_NULLABLE, 0, &d, err);
    if (rc == KC_OK)
        rc = kc_cfg_int(ctx, cfg, "ema_overwrite_frequency", KC_CFG_NULLABLE, 0, &i, err);
    if (rc == KC_OK) rc = refuse_unless_null(ctx, cfg, "loss_scale_factor", err);
    if (rc == KC_OK) rc = refuse_unless_null(ctx, cfg, "gradient_accumulation_steps", err);
    return rc;
}

const kc__kind_info kc__optimizer_kind = {
    .name = "optimizer",
    .base_size = sizeof(kc_optimizer),
    .base_init = optimizer_base_init,
    .base_fini = optimizer_base_fini,
    .base_get_config = optimizer_base_get_config,
    .base_from_config = optimizer_base_from_config,
    .check_class = check_optimizer_class,
    .function_class = &kc__function_classes[KC_KIND_OPTIMIZER],
};

/* ---- helpers for the families ---------------------------------------------------- */

kc_status kc__opt_read_epsilon(const kc_config_ctx *ctx, const json_t *cfg, double *eps,
                               kc_error *err)
{
    kc_status rc = kc_cfg_float(ctx, cfg, "epsilon", KC_CFG_NONNEG | KC_CFG_NULLABLE, 0, eps, err);
    if (rc == KC_OK && *eps == 0) *eps = KC__OPT_EPSILON;
    return rc;
}

kc_status kc__opt_read_unit(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                            bool upper_open, double *out, kc_error *err)
{
    double v;
    kc_status rc = kc_cfg_float(ctx, cfg, key, 0, *out, &v, err);
    if (rc != KC_OK) return rc;
    if (!(v >= 0 && (upper_open ? v < 1 : v <= 1))) {
        kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
        kc__errf(err, KC_EFORMAT, "%s: `%s` must be between [0, 1%s, got %g", c.path, key,
                 upper_open ? ")" : "]", v);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    *out = v;
    return KC_OK;
}

kc_status kc__opt_refuse_weight_decay(const kc_config_ctx *ctx, const json_t *cfg, kc_error *err)
{
    double wd;
    kc_status rc = kc_cfg_float(ctx, cfg, "weight_decay", KC_CFG_NULLABLE, 0, &wd, err);
    if (rc != KC_OK || wd == 0) return rc;
    kc_config_ctx c = kc_config_ctx_child(ctx, "weight_decay", 0);
    kc__errf(err, KC_EUNSUPPORTED,
             "%s: weight_decay=%g is not supported by this optimizer class (use AdamW)", c.path,
             wd);
    kc__error_context(err, "%s", c.path);
    return KC_EUNSUPPORTED;
}

/* ---- argument checks --------------------------------------------------------------- */

static kc_optimizer *as_optimizer(kc_object *obj, const char *fn, kc_error *err)
{
    if (!obj) {
        kc__errf(err, KC_EINVAL, "%s: optimizer is NULL", fn);
        return NULL;
    }
    if (kc_object_kind(obj) != KC_KIND_OPTIMIZER || kc_object_is_function(obj)) {
        kc__errf(err, KC_ETYPE, "%s: '%s' is a %s%s, not an optimizer", fn, kc_object_name(obj),
                 kc_kind_name(kc_object_kind(obj)),
                 kc_object_is_function(obj) ? " function" : "");
        return NULL;
    }
    return (kc_optimizer *)obj;
}

/* For the const getters, which report no errors. */
static const kc_optimizer *peek(const kc_object *obj)
{
    if (!obj || kc_object_kind(obj) != KC_KIND_OPTIMIZER || kc_object_is_function(obj)) return NULL;
    return (const kc_optimizer *)obj;
}

/* ---- tracking variables and creating slots ---------------------------------------- */

static uint64_t var_key(const kc_variable *v) { return (uint64_t)(uintptr_t)v; }

static long find_var(const kc__optimizer_state *st, const kc_variable *v)
{
    return (long)(uintptr_t)kc__idmap_get(&st->index, var_key(v)) - 1;
}

/* Forget variables [first, n_vars) and slot weights [first_order, n_order):
 * undoes a failed track(). */
static void untrack_from(kc__optimizer_state *st, size_t first, size_t first_order)
{
    for (size_t i = first; i < st->n_vars; i++) {
        void **slot = kc__idmap_slot(&st->index, var_key(st->vars[i].var));
        if (slot) *slot = NULL;
        free_tracked(&st->vars[i], st->n_slots);
    }
    st->n_vars = first;
    st->n_order = first_order;
}

/* Start tracking the variables of vars[0..n) not tracked yet (those with
 * use[i] when use is given), creating their slots kind by kind as Keras'
 * _create_slots does. All or nothing. */
static kc_status track(kc_optimizer *o, kc_variable *const *vars, int n, kc_tensor *const *use,
                       kc_error *err)
{
    kc__optimizer_state *st = o->state;
    const kc_object *self = &o->base;
    int n_slots = class_n_slots(self);
    if (n_slots < 0 || (st->n_vars > 0 && n_slots != st->n_slots))
        return kc__errf(err, KC_ESTATE,
                        "optimizer '%s' changed its number of slot kinds from %d to %d after "
                        "creating slots",
                        o->name, st->n_slots, n_slots);
    st->n_slots = n_slots;
    if (!kc__grow((void **)&st->slot_ptrs, &st->cap_slot_ptrs, (size_t)n_slots + 1,
                  sizeof(float *)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    size_t first = st->n_vars, first_order = st->n_order;
    kc_status rc = KC_OK;
    for (int i = 0; i < n && rc == KC_OK; i++) {
        if ((use && !use[i]) || find_var(st, vars[i]) >= 0) continue;
        if (!kc__grow((void **)&st->vars, &st->cap_vars, st->n_vars + 1, sizeof(tracked))) {
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
            break;
        }
        tracked t = {kc_variable_ref(vars[i]), NULL};
        t.slots = n_slots ? kc__calloc((size_t)n_slots, sizeof(kc_tensor *)) : NULL;
        if ((n_slots && !t.slots) ||
            !kc__idmap_put(&st->index, var_key(vars[i]), (void *)(uintptr_t)(st->n_vars + 1))) {
            free_tracked(&t, n_slots);
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
            break;
        }
        st->vars[st->n_vars++] = t;
    }
    const kc_optimizer_methods *m = methods_of(self);
    for (int k = 0; k < n_slots && rc == KC_OK; k++) {
        double init = m->slot_init ? m->slot_init(self, k) : 0.0;
        for (size_t v = first; v < st->n_vars && rc == KC_OK; v++) {
            const kc_tensor *value = kc_variable_value(st->vars[v].var);
            kc_tensor *s = kc_tensor_full(KC_FLOAT32, kc_tensor_ndim(value), kc_tensor_dims(value),
                                          init, err);
            if (!s ||
                !kc__grow((void **)&st->order, &st->cap_order, st->n_order + 1, sizeof(slot_ref))) {
                kc_tensor_unref(s);
                rc = kc__errf(err, KC_ENOMEM, "out of memory");
                break;
            }
            st->vars[v].slots[k] = s;
            st->order[st->n_order++] = (slot_ref){v, k};
        }
    }
    if (rc != KC_OK) untrack_from(st, first, first_order);
    return rc;
}

static kc_status check_variable(const kc_optimizer *o, kc_variable *const *vars, int i,
                                kc_error *err)
{
    if (!vars[i])
        return kc__errf(err, KC_EINVAL, "optimizer '%s': variable %d is NULL", o->name, i);
    if (kc_tensor_dtype(kc_variable_value(vars[i])) != KC_FLOAT32)
        return kc__errf(err, KC_ETYPE,
                        "optimizer '%s': variable '%s' is %s; optimizers update float32 variables",
                        o->name, kc_variable_name(vars[i]),
                        kc_dtype_name(kc_tensor_dtype(kc_variable_value(vars[i]))));
    return KC_OK;
}

kc_status kc_optimizer_build(kc_object *opt, kc_variable *const *vars, int n, kc_error *err)
{
    kc_optimizer *o = as_optimizer(opt, "kc_optimizer_build", err);
    if (!o) return kc__error_code(err, KC_EINVAL);
    if (n < 0 || (n > 0 && !vars))
        return kc__errf(err, KC_EINVAL, "kc_optimizer_build: bad variable list (n = %d)", n);
    for (int i = 0; i < n; i++) {
        kc_status rc = check_variable(o, vars, i, err);
        if (rc != KC_OK) return rc;
    }
    kc_status rc = track(o, vars, n, NULL, err);
    if (rc == KC_OK) o->state->built = true;
    return rc;
}

/* ---- gradient clipping ---------------------------------------------------------------- */

static double sum_squares(const float *g, int64_t n)
{
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += (double)g[j] * g[j];
    return s;
}

/* The gradients to apply: out[i] is a clipped copy of grads[i], or NULL
 * when grads[i] is used as it is (no clipping, or no gradient). */
static kc_status clip_gradients(const kc_optimizer *o, kc_tensor *const *grads, int n, float **out,
                                kc_error *err)
{
    for (int i = 0; i < n; i++) out[i] = NULL;
    if (!o->has_clipvalue && !o->has_clipnorm && !o->has_global_clipnorm) return KC_OK;
    for (int i = 0; i < n; i++) {
        if (!grads[i]) continue;
        int64_t size = kc_tensor_size(grads[i]);
        out[i] = kc__malloc_array((size_t)size, sizeof(float));
        if (!out[i] && size > 0)
            return kc__errf(err, KC_ENOMEM, "out of memory clipping gradients");
        if (size > 0) memcpy(out[i], kc_tensor_cdata(grads[i]), (size_t)size * sizeof(float));
    }
    /* tf.clip_by_value(g, -c, c): minimum then maximum (NaN stays NaN) */
    if (o->has_clipvalue) {
        float c = (float)o->clipvalue;
        for (int i = 0; i < n; i++) {
            if (!grads[i]) continue;
            float *g = out[i];
            for (int64_t j = 0; j < kc_tensor_size(grads[i]); j++)
                g[j] = g[j] > c ? c : (g[j] < -c ? -c : g[j]);
        }
    }
    /* tf.clip_by_norm(g, c) = g * c / max(||g||_2, c), per gradient */
    if (o->has_clipnorm) {
        float c = (float)o->clipnorm;
        for (int i = 0; i < n; i++) {
            if (!grads[i]) continue;
            int64_t size = kc_tensor_size(grads[i]);
            float norm = (float)sqrt(sum_squares(out[i], size));
            float denom = norm > c ? norm : c;
            for (int64_t j = 0; j < size; j++) out[i][j] = out[i][j] * c / denom;
        }
    }
    /* tf.clip_by_global_norm(gs, c): scale = c * min(1 / norm, 1 / c) with
     * norm over all gradients; a non-finite norm makes every value NaN. */
    if (o->has_global_clipnorm) {
        double ss = 0;
        for (int i = 0; i < n; i++)
            if (grads[i]) ss += sum_squares(out[i], kc_tensor_size(grads[i]));
        float norm = (float)sqrt(ss), c = (float)o->global_clipnorm;
        float inv_norm = 1.0f / norm, inv_c = 1.0f / c;
        float scale = isfinite(norm) ? c * (inv_norm < inv_c ? inv_norm : inv_c) : NAN;
        for (int i = 0; i < n; i++) {
            if (!grads[i]) continue;
            for (int64_t j = 0; j < kc_tensor_size(grads[i]); j++) out[i][j] *= scale;
        }
    }
    return KC_OK;
}

/* ---- applying gradients --------------------------------------------------------------- */

static int64_t *iterations_of(const kc_optimizer *o)
{
    return (int64_t *)kc_tensor_data(o->state->iterations);
}

/* Keras' "No gradients provided for any variable: [...]". */
static kc_status no_gradients(const kc_optimizer *o, kc_variable *const *vars, int n, kc_error *err)
{
    char names[200];
    size_t len = 0;
    names[0] = '\0';
    for (int i = 0; i < n && len < sizeof(names); i++)
        len += (size_t)snprintf(names + len, sizeof(names) - len, "%s'%s'", i ? ", " : "",
                                kc_variable_name(vars[i]));
    return kc__errf(err, KC_EINVAL, "optimizer '%s': no gradients provided for any variable: [%s]",
                    o->name, names);
}

static kc_status check_gradients(const kc_optimizer *o, kc_tensor *const *grads,
                                 kc_variable *const *vars, int n, int *n_used, kc_error *err)
{
    *n_used = 0;
    for (int i = 0; i < n; i++) {
        kc_status rc = check_variable(o, vars, i, err);
        if (rc != KC_OK) return rc;
        if (!grads[i]) continue;
        const kc_tensor *w = kc_variable_value(vars[i]);
        if (kc_tensor_dtype(grads[i]) != KC_FLOAT32)
            return kc__errf(err, KC_ETYPE,
                            "optimizer '%s': the gradient of '%s' is %s, not float32", o->name,
                            kc_variable_name(vars[i]), kc_dtype_name(kc_tensor_dtype(grads[i])));
        if (!kc_tensor_same_shape(grads[i], w)) {
            char a[96], b[96];
            kc_shape gs = kc_tensor_shape(grads[i]), ws = kc_tensor_shape(w);
            return kc__errf(err, KC_ESHAPE,
                            "optimizer '%s': the gradient of variable '%s' has shape %s, the "
                            "variable %s",
                            o->name, kc_variable_name(vars[i]), kc_shape_format(&gs, a, sizeof(a)),
                            kc_shape_format(&ws, b, sizeof(b)));
        }
        (*n_used)++;
    }
    if (n > 0 && *n_used == 0) return no_gradients(o, vars, n, err);
    return KC_OK;
}

/* One variable's update, in ranges on worker threads (updates are
 * elementwise: slot k of element i belongs to element i). */
#define MAX_SLOTS 8
typedef struct update_job {
    kc_object *opt;
    const kc_optimizer_methods *m;
    float *w;
    const float *g;
    float *const *slots;
    int n_slots;
    double lr;
    int64_t t;
} update_job;

static void update_range(void *ctx, int64_t b, int64_t e)
{
    const update_job *j = ctx;
    float *slots[MAX_SLOTS];
    for (int k = 0; k < j->n_slots; k++) slots[k] = j->slots[k] + b;
    j->m->update(j->opt, j->w + b, j->g + b, slots, e - b, j->lr, j->t);
}

static void update_in_place(kc_optimizer *o, float *w, const float *g, float *const *slots,
                            int64_t size, double lr, int64_t t)
{
    const kc_optimizer_methods *m = methods_of(&o->base);
    int n_slots = o->state->n_slots;
    update_job j = {&o->base, m, w, g, slots, n_slots, lr, t};
    if (n_slots <= MAX_SLOTS)
        kc__parallel_for(size, KC__GRAIN, update_range, &j);
    else
        m->update(&o->base, w, g, slots, size, lr, t);
}

/* A constrained variable's step computed aside: the projected new value
 * and the new slots, copied in only once every constraint of the step has
 * succeeded. */
typedef struct staged {
    kc_tensor *value; /* the constraint's projection of the updated weight */
    float *slots;     /* n_slots blocks of the weight's size */
} staged;

static kc_status stage_constrained(kc_optimizer *o, const float *g, kc_variable *var, tracked *tv,
                                   double lr, int64_t t, staged *out, kc_error *err)
{
    kc__optimizer_state *st = o->state;
    kc_tensor *w = kc_tensor_copy(kc_variable_value(var), err);
    int64_t size = kc_tensor_size(kc_variable_value(var));
    float *slots = st->n_slots ? kc__malloc_array((size_t)(size ? size : 1) * (size_t)st->n_slots,
                                                  sizeof(float))
                               : NULL;
    if (!w || (st->n_slots && !slots)) {
        kc_tensor_unref(w);
        kc__free(slots);
        return kc__errf(err, KC_ENOMEM, "out of memory updating '%s'", kc_variable_name(var));
    }
    for (int k = 0; k < st->n_slots; k++) {
        st->slot_ptrs[k] = slots + (size_t)k * (size_t)size;
        memcpy(st->slot_ptrs[k], kc_tensor_cdata(tv->slots[k]), (size_t)size * sizeof(float));
    }
    update_in_place(o, kc_tensor_f32(w), g, st->slot_ptrs, size, lr, t);
    /* Constraints are built from ops: keep them off any active tape, as
     * Keras assigns var.constraint(var) outside the gradient. */
    kc__recording_pause();
    kc_tensor *p = kc_constraint_apply(kc_variable_constraint(var), w, err);
    kc__recording_resume();
    kc_tensor_unref(w);
    if (p && kc_tensor_dtype(p) != KC_FLOAT32) {
        kc__errf(err, KC_ETYPE, "constraint '%s' returned %s values",
                 kc_object_name(kc_variable_constraint(var)), kc_dtype_name(kc_tensor_dtype(p)));
        kc_tensor_unref(p);
        p = NULL;
    }
    if (!p) {
        kc__free(slots);
        kc__error_context(err, "variable '%s'", kc_variable_name(var));
        return kc__error_code(err, KC_EINTERNAL);
    }
    out->value = p;
    out->slots = slots;
    return KC_OK;
}

/* Update every variable with a gradient, then apply its constraint, all or
 * nothing: the constrained variables' steps (the only part that can fail)
 * are computed aside first; then every variable is written, which cannot
 * fail. */
static kc_status update_all(kc_optimizer *o, kc_tensor *const *grads, kc_variable *const *vars,
                            int n, float *const *clipped, double lr, int64_t t, kc_error *err)
{
    kc__optimizer_state *st = o->state;
    staged *stage = kc__calloc((size_t)n, sizeof(staged));
    if (!stage) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = KC_OK;
    for (int i = 0; i < n && rc == KC_OK; i++) {
        if (!grads[i] || !kc_variable_constraint(vars[i])) continue;
        const float *g = clipped[i] ? clipped[i] : (const float *)kc_tensor_cdata(grads[i]);
        rc = stage_constrained(o, g, vars[i], &st->vars[find_var(st, vars[i])], lr, t, &stage[i],
                               err);
    }
    for (int i = 0; i < n && rc == KC_OK; i++) {
        if (!grads[i]) continue;
        tracked *tv = &st->vars[find_var(st, vars[i])];
        kc_tensor *w = kc_variable_value(vars[i]);
        int64_t size = kc_tensor_size(w);
        if (stage[i].value) {
            memcpy(kc_tensor_f32(w), kc_tensor_cdata(stage[i].value), (size_t)size * sizeof(float));
            for (int k = 0; k < st->n_slots; k++)
                memcpy(kc_tensor_f32(tv->slots[k]), stage[i].slots + (size_t)k * (size_t)size,
                       (size_t)size * sizeof(float));
            continue;
        }
        for (int k = 0; k < st->n_slots; k++)
            st->slot_ptrs[k] = kc_tensor_f32(tv->slots[k]);
        const float *g = clipped[i] ? clipped[i] : (const float *)kc_tensor_cdata(grads[i]);
        update_in_place(o, kc_tensor_f32(w), g, st->slot_ptrs, size, lr, t);
    }
    for (int i = 0; i < n; i++) {
        kc_tensor_unref(stage[i].value);
        kc__free(stage[i].slots);
    }
    kc__free(stage);
    return rc;
}

/* Optimizer-level scalars (Nadam's momentum_cache) change in begin_step:
 * saved before it so that a failed step can put them back. */
static float *save_states(const kc__optimizer_state *st, kc_error *err)
{
    float *saved = kc__malloc_array(st->n_states ? st->n_states : 1, sizeof(float));
    if (!saved) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < st->n_states; i++)
        saved[i] = kc_tensor_f32(st->states[i].value)[0];
    return saved;
}

static void restore_states(kc__optimizer_state *st, const float *saved)
{
    for (size_t i = 0; i < st->n_states; i++)
        kc_tensor_f32(st->states[i].value)[0] = saved[i];
}

kc_status kc_optimizer_apply_gradients(kc_object *opt, kc_tensor *const *grads,
                                       kc_variable *const *vars, int n, kc_error *err)
{
    kc_optimizer *o = as_optimizer(opt, "kc_optimizer_apply_gradients", err);
    if (!o) return kc__error_code(err, KC_EINVAL);
    if (n < 0 || (n > 0 && (!grads || !vars)))
        return kc__errf(err, KC_EINVAL, "kc_optimizer_apply_gradients: bad gradient list (n = %d)",
                        n);
    int n_used;
    kc_status rc = check_gradients(o, grads, vars, n, &n_used, err);
    if (rc != KC_OK) return rc;
    o->state->built = true;
    if (n_used == 0) return KC_OK; /* Keras: an empty list is a no-op */
    rc = track(o, vars, n, grads, err);
    if (rc != KC_OK) return rc;
    float **clipped = kc__calloc((size_t)n, sizeof(float *));
    float *saved = save_states(o->state, err);
    if (!clipped || !saved) {
        kc__free(clipped);
        kc__free(saved);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    rc = clip_gradients(o, grads, n, clipped, err);
    if (rc == KC_OK) {
        int64_t t = *iterations_of(o) + 1;
        double lr = kc_optimizer_current_lr(opt);
        const kc_optimizer_methods *m = methods_of(opt);
        if (m->begin_step) rc = m->begin_step(opt, t, lr, err);
        if (rc == KC_OK) rc = update_all(o, grads, vars, n, clipped, lr, t, err);
        if (rc == KC_OK) *iterations_of(o) = t;
        else
            restore_states(o->state, saved);
    }
    for (int i = 0; i < n; i++) kc__free(clipped[i]);
    kc__free(clipped);
    kc__free(saved);
    if (rc != KC_OK) kc__error_context(err, "optimizer '%s'", o->name);
    return rc;
}

/* ---- learning rate and iterations ------------------------------------------------------ */

double kc_optimizer_current_lr(const kc_object *opt)
{
    const kc_optimizer *o = peek(opt);
    if (!o) return NAN;
    int64_t it = *(const int64_t *)kc_tensor_cdata(o->state->iterations);
    double lr = o->schedule ? kc_schedule_value(o->schedule, it) : o->learning_rate;
    if (o->decay > 0) lr = lr / (1.0 + o->decay * (double)it);
    return lr;
}

kc_status kc_optimizer_set_learning_rate(kc_object *opt, double lr, kc_error *err)
{
    kc_optimizer *o = as_optimizer(opt, "kc_optimizer_set_learning_rate", err);
    if (!o) return kc__error_code(err, KC_EINVAL);
    if (o->schedule)
        return kc__errf(err, KC_ESTATE,
                        "optimizer '%s' uses a learning-rate schedule ('%s'); its learning rate "
                        "cannot be set",
                        o->name, kc_object_name(o->schedule));
    if (!(lr >= 0) || isinf(lr))
        return kc__errf(err, KC_EINVAL,
                        "optimizer '%s': learning rate must be a finite number >= 0, got %g",
                        o->name, lr);
    o->learning_rate = lr;
    return KC_OK;
}

int64_t kc_optimizer_iterations(const kc_object *opt)
{
    const kc_optimizer *o = peek(opt);
    return o ? *(const int64_t *)kc_tensor_cdata(o->state->iterations) : 0;
}

/* ---- weights ---------------------------------------------------------------------------- */

float *kc_optimizer_add_state(kc_object *opt, const char *name, double initial, kc_error *err)
{
    kc_optimizer *o = as_optimizer(opt, "kc_optimizer_add_state", err);
    if (!o) return NULL;
    kc__optimizer_state *st = o->state;
    if (!kc__valid_name(name)) {
        kc__errf(err, KC_EINVAL, "kc_optimizer_add_state: invalid state name '%s'",
                 name ? name : "(null)");
        return NULL;
    }
    if (st->built) {
        kc__errf(err, KC_ESTATE,
                 "optimizer '%s': state '%s' must be added before the optimizer is built", o->name,
                 name);
        return NULL;
    }
    for (size_t i = 0; i < st->n_states; i++)
        if (strcmp(st->states[i].name, name) == 0) {
            kc__errf(err, KC_EEXIST, "optimizer '%s' already has a state '%s'", o->name, name);
            return NULL;
        }
    if (!kc__grow((void **)&st->states, &st->cap_states, st->n_states + 1, sizeof(state_weight))) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    state_weight s = {kc__strdup(name), kc_tensor_full(KC_FLOAT32, 0, NULL, initial, err)};
    if (!s.name || !s.value) {
        kc__free(s.name);
        kc_tensor_unref(s.value);
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    st->states[st->n_states++] = s;
    return kc_tensor_f32(s.value);
}

int kc_optimizer_num_weights(const kc_object *opt)
{
    const kc_optimizer *o = peek(opt);
    if (!o || !o->state->built) return 0;
    return 1 + (int)o->state->n_states + (int)o->state->n_order;
}

/* "dense/kernel:0" -> "dense/kernel" (length of the name without ":<n>"). */
static size_t var_path_len(const char *name)
{
    const char *colon = strrchr(name, ':');
    if (!colon || !colon[1]) return strlen(name);
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9') return strlen(name);
    return (size_t)(colon - name);
}

kc_tensor *kc_optimizer_weight(const kc_object *opt, int i, char *name, size_t name_size)
{
    const kc_optimizer *o = peek(opt);
    if (name && name_size) name[0] = '\0';
    if (!o || i < 0 || i >= kc_optimizer_num_weights(opt)) return NULL;
    const kc__optimizer_state *st = o->state;
    kc_tensor *t;
    if (i == 0) {
        t = st->iterations;
        if (name && name_size) snprintf(name, name_size, "%s/iter:0", o->name);
    } else if ((size_t)i <= st->n_states) {
        t = st->states[i - 1].value;
        if (name && name_size)
            snprintf(name, name_size, "%s/%s:0", o->name, st->states[i - 1].name);
    } else {
        slot_ref r = st->order[(size_t)i - 1 - st->n_states];
        const char *vname = kc_variable_name(st->vars[r.var].var);
        t = st->vars[r.var].slots[r.kind];
        if (name && name_size)
            snprintf(name, name_size, "%s/%.*s/%s:0", o->name, (int)var_path_len(vname), vname,
                     methods_of(opt)->slot_name(opt, r.kind));
    }
    return t;
}

/* optimizer_v2 subclasses that accept Keras 1 weight lists, which lack the
 * iteration count (their set_weights prepends 0). */
static bool accepts_lists_without_iterations(const kc_class *cls)
{
    return cls == &kc__rmsprop_class || cls == &kc__adagrad_class || cls == &kc__adadelta_class;
}

static kc_status check_weight(const kc_tensor *dst, const kc_tensor *src, const char *name,
                              kc_error *err)
{
    if (!src) return kc__errf(err, KC_EINVAL, "no value given for optimizer weight '%s'", name);
    if (!kc_tensor_same_shape(dst, src)) {
        char a[96], b[96];
        kc_shape ds = kc_tensor_shape(dst), ss = kc_tensor_shape(src);
        return kc__errf(err, KC_ESHAPE,
                        "optimizer weight '%s' has shape %s, got a value of shape %s", name,
                        kc_shape_format(&ds, a, sizeof(a)), kc_shape_format(&ss, b, sizeof(b)));
    }
    return KC_OK;
}

static void copy_weight(kc_tensor *dst, const kc_tensor *src)
{
    if (kc_tensor_dtype(dst) == kc_tensor_dtype(src)) {
        memcpy(kc_tensor_data(dst), kc_tensor_cdata(src), kc_tensor_nbytes(dst));
        return;
    }
    for (int64_t j = 0; j < kc_tensor_size(dst); j++) {
        double v = kc_tensor_get(src, j);
        if (kc_tensor_dtype(dst) == KC_INT64)
            ((int64_t *)kc_tensor_data(dst))[j] = (int64_t)v;
        else
            ((float *)kc_tensor_data(dst))[j] = (float)v;
    }
}

kc_status kc_optimizer_set_weights(kc_object *opt, kc_tensor *const *weights, int n, kc_error *err)
{
    kc_optimizer *o = as_optimizer(opt, "kc_optimizer_set_weights", err);
    if (!o) return kc__error_code(err, KC_EINVAL);
    int num = kc_optimizer_num_weights(opt);
    if (n < 0 || (n > 0 && !weights))
        return kc__errf(err, KC_EINVAL, "kc_optimizer_set_weights: bad weight list (n = %d)", n);
    int shift = 0; /* 1: the list lacks the iteration count (Keras 1) */
    if (n != num) {
        if (n == num - 1 && num > 0 && accepts_lists_without_iterations(opt->cls)) {
            shift = 1;
        } else if (!(opt->cls == &kc__adam_class && num > 0 && n == 3 * ((num - 1) / 2) + 1 &&
                     n > num)) {
            /* (Adam drops the vhat slots that Keras 1 saved without amsgrad) */
            return kc__errf(err, KC_ESHAPE,
                            "optimizer '%s' has %d weights%s, got a list of %d", o->name, num,
                            o->state->built ? "" : " (call kc_optimizer_build first)", n);
        }
    }
    char name[256];
    for (int j = shift; j < num; j++) {
        kc_tensor *dst = kc_optimizer_weight(opt, j, name, sizeof(name));
        kc_status rc = check_weight(dst, weights[j - shift], name, err);
        if (rc != KC_OK) return rc;
    }
    if (shift) *iterations_of(o) = 0;
    for (int j = shift; j < num; j++)
        copy_weight(kc_optimizer_weight(opt, j, NULL, 0), weights[j - shift]);
    return KC_OK;
}

/* ---- keras.optimizers.get ------------------------------------------------------------------ */

static bool equal_ignoring_case(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;
        if (x != y) return false;
    }
    return *a == *b;
}

/* A class registered under a name equal to `name` ignoring case (Keras
 * lower-cases built-in class names before looking them up). */
static const kc_class *find_ignoring_case(const char *name)
{
    for (size_t i = 0; i < kc_registry_size(); i++) {
        kc_kind kind;
        const char *entry;
        if (!kc_registry_entry(i, &kind, &entry, NULL, NULL) || kind != KC_KIND_OPTIMIZER) continue;
        if (equal_ignoring_case(entry, name)) return kc_find_class(KC_KIND_OPTIMIZER, entry);
    }
    return NULL;
}

kc_object *kc_optimizer_get(const char *name, kc_error *err)
{
    if (!name) {
        kc__errf(err, KC_EINVAL, "kc_optimizer_get: name is NULL");
        return NULL;
    }
    if (kc_init(err) != KC_OK) return NULL;
    const kc_class *cls = kc_find_class(KC_KIND_OPTIMIZER, name);
    if (!cls) cls = find_ignoring_case(name);
    if (!cls) {
        kc__errf(err, KC_ENOTFOUND,
                 "Unknown optimizer '%s'. Register it (kc_register_class) or use a built-in one "
                 "(SGD, Adam, AdamW, Nadam, RMSprop, Adagrad, Adadelta, Adamax)",
                 name);
        return NULL;
    }
    return kc_object_new(cls, err);
}

/* ---- built-ins ------------------------------------------------------------------------------ */

static const kc_class *const classes[] = {
    &kc__sgd_class,     &kc__adam_class,    &kc__adamw_class,   &kc__nadam_class,
    &kc__rmsprop_class, &kc__adagrad_class, &kc__adadelta_class, &kc__adamax_class,
};

/* Keras' lower-case names, TensorFlow.js' "RMSProp", and tf.keras 2.11+'s
 * "Custom>Adam" (its new optimizers are registered under the default
 * package; their configs read as the legacy classes' do). */
#define A(alias, target) {KC_KIND_OPTIMIZER, alias, target}
static const kc__builtin_alias aliases[] = {
    A("sgd", "SGD"),           A("adam", "Adam"),           A("adamw", "AdamW"),
    A("nadam", "Nadam"),       A("rmsprop", "RMSprop"),     A("adagrad", "Adagrad"),
    A("adadelta", "Adadelta"), A("adamax", "Adamax"),       A("RMSProp", "RMSprop"),
    A("Custom>SGD", "SGD"),    A("Custom>Adam", "Adam"),    A("Custom>AdamW", "AdamW"),
    A("Custom>Nadam", "Nadam"), A("Custom>RMSprop", "RMSprop"), A("Custom>Adagrad", "Adagrad"),
    A("Custom>Adadelta", "Adadelta"), A("Custom>Adamax", "Adamax"),
};
#undef A

const kc__builtins kc__optimizer_builtins = {
    .classes = classes,
    .n_classes = sizeof(classes) / sizeof(classes[0]),
    .aliases = aliases,
    .n_aliases = sizeof(aliases) / sizeof(aliases[0]),
};

/* ---- for the savers (lib/saving/optimizer_state.c) ------------------------------------------ */

int kc__optimizer_num_slot_kinds(const kc_object *opt) { return peek(opt) ? class_n_slots(opt) : 0; }

int kc__optimizer_num_states(const kc_object *opt)
{
    const kc_optimizer *o = peek(opt);
    return o ? (int)o->state->n_states : 0;
}
