/* Layers: the base every layer class shares (Keras' Layer).
 *
 * The base owns what Keras' Layer owns: the name, trainable and dtype
 * config keys, the weights (with regularizers and constraints), the losses
 * and metric values added during the last call, and the call protocol:
 * check the inputs, compute the output shapes (which validates them),
 * build on first use, run the class's call, check what came back, add the
 * activity regularization, and propagate masks. Classes only write build,
 * call and compute_output_shape.
 *
 * Weight lists follow Keras' legacy order (trainable weights, then
 * non-trainable; for models, all sub-layers' trainable weights then all
 * non-trainable ones), because that order is how .h5 files match weights.
 * They are cached per layer and recomputed when any structure changes (a
 * global generation counter), so reading them in a loop costs nothing. */
#include "../core/idmap.h"
#include "layers_int.h"

#include <string.h>

unsigned long kc__layers_generation = 1;
void kc__layers_changed(void) { __atomic_add_fetch(&kc__layers_generation, 1, __ATOMIC_RELAXED); }
_Thread_local int kc__call_depth;

/* ---- kind hooks ------------------------------------------------------------------ */

kc_status kc__layer_base_init(kc_object *self, kc_error *err)
{
    kc_layer *l = kc__as_layer(self);
    l->state = kc__calloc(1, sizeof(kc__layer_state));
    l->dtype = kc__strdup("float32");
    if (!l->state || !l->dtype) return kc__errf(err, KC_ENOMEM, "out of memory creating a layer");
    l->trainable = true;
    return KC_OK;
}

static void clear_call_outputs(kc__layer_state *s)
{
    for (size_t i = 0; i < s->n_losses; i++) kc_tensor_unref(s->losses[i]);
    s->n_losses = 0;
    for (size_t i = 0; i < s->n_mvals; i++) {
        kc_tensor_unref(s->mvals[i]);
        kc__free(s->mnames[i]);
    }
    s->n_mvals = 0;
}

void kc__layer_base_fini(kc_object *self)
{
    kc_layer *l = kc__as_layer(self);
    kc__layer_state *s = l->state;
    if (s) {
        for (int i = 0; i < s->n_w; i++) {
            kc_variable_unref(s->w[i]);
            kc_object_unref(s->w_reg[i]);
        }
        kc__free(s->w);
        kc__free(s->w_reg);
        kc__free(s->w_trainable);
        clear_call_outputs(s);
        kc__free(s->losses);
        kc__free(s->mvals);
        kc__free(s->mnames);
        kc__free(s->cache_tr);
        kc__free(s->cache_ntr);
        kc__free(s->build_shapes);
        kc__layer_children_release(s);
        kc__free(s);
    }
    kc_object_unref(l->activity_regularizer);
    kc__free(l->name);
    kc__free(l->dtype);
    if (l->built) kc__layers_changed();
}

json_t *kc__shape_to_json(const kc_shape *s)
{
    json_t *a = json_array();
    for (int i = 0; a && i < s->ndim; i++) {
        if (json_array_append_new(a, s->dims[i] < 0 ? json_null() : json_integer(s->dims[i]))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

kc_status kc__layer_base_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const kc_layer *l = kc__as_layer(self);
    if (json_object_set_new(cfg, "name", json_string(l->name ? l->name : "")) ||
        json_object_set_new(cfg, "trainable", json_boolean(l->trainable)) ||
        json_object_set_new(cfg, "dtype", json_string(l->dtype)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    if (l->has_batch_input_shape &&
        json_object_set_new(cfg, "batch_input_shape", kc__shape_to_json(&l->batch_input_shape)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

kc_status kc__layer_write_activity_regularizer(const kc_object *self, json_t *cfg, kc_error *err)
{
    return kc_cfg_set_object(cfg, "activity_regularizer", kc__as_layer(self)->activity_regularizer,
                             err);
}

kc_status kc__cfg_shape(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                        bool *present, kc_shape *out, kc_error *err)
{
    const json_t *v = json_object_get(cfg, key);
    *present = false;
    if (!v || json_is_null(v)) return KC_OK;
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    if (!json_is_array(v) || json_array_size(v) > KC_MAX_DIMS) {
        kc__errf(err, KC_EFORMAT, "%s: expected a shape (a list of at most %d integers or nulls)",
                 c.path, KC_MAX_DIMS);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    out->ndim = (int)json_array_size(v);
    for (int i = 0; i < out->ndim; i++) {
        const json_t *d = json_array_get(v, (size_t)i);
        if (json_is_null(d)) {
            out->dims[i] = -1;
        } else if (json_is_integer(d) && json_integer_value(d) >= 0) {
            out->dims[i] = json_integer_value(d);
        } else if (json_is_real(d) && json_real_value(d) >= 0 &&
                   json_real_value(d) == (double)(int64_t)json_real_value(d)) {
            out->dims[i] = (int64_t)json_real_value(d);
        } else {
            kc__errf(err, KC_EFORMAT, "%s[%d]: expected a non-negative integer or null", c.path, i);
            kc__error_context(err, "%s", c.path);
            return KC_EFORMAT;
        }
    }
    *present = true;
    return KC_OK;
}

/* dtype: a string, or a Keras 3 / tf.keras mixed-precision policy dict. */
static kc_status read_dtype(kc_layer *l, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    const json_t *v = json_object_get(cfg, "dtype");
    const char *name = NULL;
    if (!v || json_is_null(v)) return KC_OK;
    if (json_is_string(v)) {
        name = json_string_value(v);
    } else if (json_is_object(v)) {
        const json_t *c = json_object_get(v, "config");
        name = json_string_value(json_object_get(c, "name"));
    }
    if (!name) {
        kc__errf(err, KC_EFORMAT, "%s.dtype: expected a dtype name or a DTypePolicy object",
                 ctx->path);
        kc__error_context(err, "%s.dtype", ctx->path);
        return KC_EFORMAT;
    }
    /* Computation is float32 whatever the policy: mixed precision keeps
     * float32 variables, and float16/64 weights are converted on load. */
    static const char *const known[] = {"float32", "float16", "float64", "bfloat16",
                                        "mixed_float16", "mixed_bfloat16", "int32", "int64",
                                        "uint8", "int8", "int16", "bool", "string"};
    bool ok = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++)
        ok = !strcmp(name, known[i]);
    if (!ok) {
        kc__errf(err, KC_EUNSUPPORTED, "%s.dtype: dtype '%s' is not supported", ctx->path, name);
        kc__error_context(err, "%s.dtype", ctx->path);
        return KC_EUNSUPPORTED;
    }
    char *d = kc__strdup(name);
    if (!d) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc__free(l->dtype);
    l->dtype = d;
    return KC_OK;
}

kc_status kc__layer_base_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err)
{
    kc_layer *l = kc__as_layer(self);
    const char *name = NULL;
    kc_status rc = kc_cfg_string(ctx, cfg, "name", KC_CFG_NULLABLE, NULL, &name, err);
    if (rc == KC_OK && name) rc = kc__layer_set_name(self, name, err);
    if (rc == KC_OK)
        rc = kc_cfg_bool(ctx, cfg, "trainable", KC_CFG_NULLABLE, true, &l->trainable, err);
    if (rc == KC_OK) rc = read_dtype(l, cfg, ctx, err);
    /* the input shape: batch_input_shape (Keras 2), batch_shape (Keras 3),
     * input_shape (+ batch_size) or input_dim (keyword arguments) */
    bool has = false;
    kc_shape s;
    if (rc == KC_OK) rc = kc__cfg_shape(ctx, cfg, "batch_input_shape", &has, &s, err);
    if (rc == KC_OK && !has) rc = kc__cfg_shape(ctx, cfg, "batch_shape", &has, &s, err);
    if (rc == KC_OK && !has) {
        kc_shape in;
        bool has_in = false;
        rc = kc__cfg_shape(ctx, cfg, "input_shape", &has_in, &in, err);
        int64_t batch = -1, dim = -1;
        if (rc == KC_OK)
            rc = kc_cfg_int(ctx, cfg, "batch_size", KC_CFG_NULLABLE | KC_CFG_POSITIVE, -1, &batch,
                            err);
        if (rc == KC_OK)
            rc =
                kc_cfg_int(ctx, cfg, "input_dim", KC_CFG_NULLABLE | KC_CFG_POSITIVE, -1, &dim, err);
        if (rc == KC_OK && has_in && in.ndim < KC_MAX_DIMS) {
            s.ndim = in.ndim + 1;
            s.dims[0] = batch;
            for (int i = 0; i < in.ndim; i++) s.dims[i + 1] = in.dims[i];
            has = true;
        } else if (rc == KC_OK && dim > 0) {
            s = kc_shape_make(2, (int64_t[]){batch, dim});
            has = true;
        }
    }
    if (rc == KC_OK && has) {
        l->has_batch_input_shape = true;
        l->batch_input_shape = s;
    }
    if (rc == KC_OK) {
        kc_object *reg = NULL;
        rc = kc_cfg_object(ctx, cfg, "activity_regularizer", KC_KIND_REGULARIZER, NULL, &reg, err);
        if (rc == KC_OK) {
            kc_object_unref(l->activity_regularizer);
            l->activity_regularizer = reg;
        }
    }
    if (rc == KC_OK) rc = kc__layer_ensure_name(self, err);
    return rc;
}

kc_status kc__layer_check_methods(const kc_class *cls, const kc_layer_methods *m, kc_error *err)
{
    if (!m || !m->call)
        return kc__errf(err, KC_EINVAL, "layer class '%s' needs methods with call", cls->name);
    if (m->max_inputs && m->min_inputs > m->max_inputs)
        return kc__errf(err, KC_EINVAL, "layer class '%s': min_inputs > max_inputs", cls->name);
    return KC_OK;
}

static kc_status check_layer_class(const kc_class *cls, kc_error *err)
{
    return kc__layer_check_methods(cls, cls->methods, err);
}

const kc__kind_info kc__layer_kind = {
    .name = "layer",
    .base_size = sizeof(kc_layer),
    .base_init = kc__layer_base_init,
    .base_fini = kc__layer_base_fini,
    .base_get_config = kc__layer_base_get_config,
    .base_from_config = kc__layer_base_from_config,
    .check_class = check_layer_class,
    .function_class = &kc__function_classes[KC_KIND_LAYER],
};

/* ---- identity --------------------------------------------------------------------- */

bool kc_is_layer(const kc_object *obj)
{
    return obj && !kc_object_is_function(obj) &&
           (obj->cls->kind == KC_KIND_LAYER || obj->cls->kind == KC_KIND_MODEL);
}

const char *kc_layer_name(const kc_object *layer)
{
    if (!kc_is_layer(layer)) return "";
    kc__layer_ensure_name((kc_object *)layer, NULL);
    const char *n = kc__as_layer(layer)->name;
    return n ? n : "";
}

bool kc_layer_trainable(const kc_object *layer)
{
    return kc_is_layer(layer) && kc__as_layer(layer)->trainable;
}

static void apply_trainable(kc_object *layer, bool trainable)
{
    kc_layer *l = kc__as_layer(layer);
    l->trainable = trainable;
    kc__layer_state *s = l->state;
    for (int i = 0; i < s->n_w; i++)
        kc_variable_set_trainable(s->w[i], trainable && s->w_trainable[i]);
    for (int i = 0; i < kc__sublayer_count(layer); i++)
        apply_trainable(kc__sublayer(layer, i), trainable);
}

void kc_layer_set_trainable(kc_object *layer, bool trainable)
{
    if (!kc_is_layer(layer)) return;
    apply_trainable(layer, trainable);
    kc__layers_changed();
}

/* ---- weights ------------------------------------------------------------------------- */

/* While a model is built from a file, weights may not add up to more than
 * the file could hold: a hostile config declaring a 10^12-element kernel
 * fails here, before anything is allocated. */
static _Thread_local int64_t weight_budget = -1;
void kc__weight_budget_set(int64_t bytes) { weight_budget = bytes; }

/* While a model is built from a file's config, every weight is about to be
 * read from the file: running initializers would only be thrown away (for
 * big models that is a second pass over every byte). */
static _Thread_local bool weights_from_file;
void kc__weights_from_file(bool on) { weights_from_file = on; }

kc_variable *kc_layer_add_weight(kc_object *layer, const char *name, int ndim, const int64_t *dims,
                                 kc_object *initializer, kc_object *regularizer,
                                 kc_object *constraint, bool trainable, kc_error *err)
{
    if (!kc_is_layer(layer) || !name) {
        kc__errf(err, KC_EINVAL, "kc_layer_add_weight: not a layer, or no name");
        return NULL;
    }
    kc_layer *l = kc__as_layer(layer);
    kc__layer_state *s = l->state;
    if (kc__layer_ensure_name(layer, err) != KC_OK) return NULL;
    if (weight_budget >= 0) {
        int64_t count;
        if (kc__check_dims(ndim, dims, &count, err) != KC_OK) return NULL;
        if (count > weight_budget / 4) {
            char buf[160];
            kc__errf(err, KC_ELIMIT,
                     "weight '%s' of layer '%s' has shape %s, more than the file could hold "
                     "(raise kc_load_options.max_weight_bytes to allow it)",
                     name, l->name, kc__dims_format(ndim, dims, buf, sizeof(buf)));
            return NULL;
        }
        weight_budget -= count * 4;
    }
    kc_tensor *value = weights_from_file ? kc_tensor_empty(KC_FLOAT32, ndim, dims, err)
                       : initializer     ? kc_initializer_make(initializer, ndim, dims, err)
                                         : kc_tensor_zeros(KC_FLOAT32, ndim, dims, err);
    if (!value) {
        kc__error_context(err, "layer '%s', weight '%s'", l->name, name);
        return NULL;
    }
    /* Keras names variables "<layer>/<weight>:0"; classes that nest (RNN
     * cells) pass "cell/kernel" and get "lstm/lstm_cell/kernel:0", and a
     * tracked layer's owners come first ("block/dense/kernel:0"). */
    char *full = kc__layer_weight_name(layer, name, err);
    if (!full) {
        kc_tensor_unref(value);
        return NULL;
    }
    kc_variable *v = kc_variable_new_take(full, value, trainable && l->trainable, err);
    kc__free(full);
    if (!v) return NULL;
    int need = s->n_w + 1;
    if (need > s->cap_w) {
        int ncap = s->cap_w ? 2 * s->cap_w : 4;
        kc_variable **nw =
            kc__realloc(s->w, sizeof(*nw) * (size_t)s->cap_w, sizeof(*nw) * (size_t)ncap);
        if (nw) s->w = nw;
        kc_object **nr =
            nw ? kc__realloc(s->w_reg, sizeof(*nr) * (size_t)s->cap_w, sizeof(*nr) * (size_t)ncap)
               : NULL;
        if (nr) s->w_reg = nr;
        bool *nt = nr ? kc__realloc(s->w_trainable, sizeof(*nt) * (size_t)s->cap_w,
                                    sizeof(*nt) * (size_t)ncap)
                      : NULL;
        if (!nt) {
            kc_variable_unref(v);
            kc__errf(err, KC_ENOMEM, "out of memory adding weight '%s'", name);
            return NULL;
        }
        s->w_trainable = nt;
        s->cap_w = ncap;
    }
    kc_variable_set_constraint(v, constraint);
    s->w[s->n_w] = v;
    s->w_reg[s->n_w] = kc_object_ref(regularizer);
    s->w_trainable[s->n_w] = trainable;
    s->n_w++;
    kc__layers_changed();
    return v;
}

typedef struct wlists {
    kc_variable **tr, **ntr;
    int n_tr, n_ntr, cap_tr, cap_ntr;
    kc__idmap seen; /* every variable in tr or ntr: a shared layer's weights count once */
    bool oom;
} wlists;

static void push(wlists *w, bool trainable, kc_variable *v)
{
    kc_variable ***arr = trainable ? &w->tr : &w->ntr;
    int *n = trainable ? &w->n_tr : &w->n_ntr, *cap = trainable ? &w->cap_tr : &w->cap_ntr;
    if (w->oom) return;
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        kc_variable **p = kc__realloc(*arr, sizeof(*p) * (size_t)*cap, sizeof(*p) * (size_t)ncap);
        if (!p) {
            w->oom = true;
            return;
        }
        *arr = p;
        *cap = ncap;
    }
    if (!kc__idmap_put(&w->seen, (uint64_t)(uintptr_t)v, (void *)1)) {
        w->oom = true;
        return;
    }
    (*arr)[(*n)++] = v;
}

static bool seen_var(const wlists *w, const kc_variable *v)
{
    return kc__idmap_has(&w->seen, (uint64_t)(uintptr_t)v);
}

static void wlists_fini(wlists *w)
{
    kc__free(w->tr);
    kc__free(w->ntr);
    kc__idmap_fini(&w->seen);
}

static void gather(const kc_object *layer, wlists *w);

/* The sub-layers' lists, in order: all their trainable weights, then all
 * non-trainable ones (a frozen owner lists both as non-trainable). Linear
 * in the weights (times the nesting depth): each variable is looked up in
 * a hash set, not in the lists. */
static void gather_children(const kc_object *layer, wlists *w)
{
    const kc_layer *l = kc__as_layer(layer);
    int n_sub = kc__sublayer_count(layer);
    wlists sub = {0};
    kc__idmap_init(&sub.seen);
    for (int i = 0; i < n_sub; i++) gather(kc__sublayer(layer, i), &sub);
    for (int i = 0; i < sub.n_tr; i++)
        if (!seen_var(w, sub.tr[i])) push(w, l->trainable, sub.tr[i]);
    for (int i = 0; i < sub.n_ntr; i++)
        if (!seen_var(w, sub.ntr[i])) push(w, false, sub.ntr[i]);
    w->oom |= sub.oom;
    wlists_fini(&sub);
}

/* The layer's own weights. */
static void gather_own(const kc_object *layer, wlists *w)
{
    const kc_layer *l = kc__as_layer(layer);
    const kc__layer_state *s = l->state;
    for (int i = 0; i < s->n_w; i++)
        if (s->w_trainable[i] && l->trainable) push(w, true, s->w[i]);
    for (int i = 0; i < s->n_w; i++)
        if (s->w_trainable[i] && !l->trainable) push(w, false, s->w[i]);
    for (int i = 0; i < s->n_w; i++)
        if (!s->w_trainable[i]) push(w, false, s->w[i]);
}

/* Keras' orders: a Model lists its sub-layers' weights before its own
 * (Model.trainable_weights), a plain Layer its own before its tracked
 * layers' (Layer.trainable_weights: self._trainable_weights +
 * children's), in each of the trainable and non-trainable lists. */
static void gather(const kc_object *layer, wlists *w)
{
    bool model = layer->cls->kind == KC_KIND_MODEL;
    if (model) gather_children(layer, w);
    gather_own(layer, w);
    if (!model && kc__sublayer_count(layer) > 0) gather_children(layer, w);
}

/* Bring the layer's cached lists up to date. false when out of memory. */
static bool refresh(const kc_object *layer)
{
    kc__layer_state *s = kc__as_layer(layer)->state;
    unsigned long gen = __atomic_load_n(&kc__layers_generation, __ATOMIC_RELAXED);
    if (s->cache_gen == gen) return true;
    wlists w = {0};
    kc__idmap_init(&w.seen);
    gather(layer, &w);
    kc__idmap_fini(&w.seen);
    if (w.oom) {
        wlists_fini(&w);
        return false;
    }
    kc__free(s->cache_tr);
    kc__free(s->cache_ntr);
    s->cache_tr = w.tr;
    s->cache_ntr = w.ntr;
    s->n_tr = w.n_tr;
    s->n_ntr = w.n_ntr;
    s->cache_gen = gen;
    return true;
}

int kc_layer_num_trainable_weights(const kc_object *layer)
{
    return kc_is_layer(layer) && refresh(layer) ? kc__as_layer(layer)->state->n_tr : 0;
}

int kc_layer_num_non_trainable_weights(const kc_object *layer)
{
    return kc_is_layer(layer) && refresh(layer) ? kc__as_layer(layer)->state->n_ntr : 0;
}

int kc_layer_num_weights(const kc_object *layer)
{
    return kc_layer_num_trainable_weights(layer) + kc_layer_num_non_trainable_weights(layer);
}

kc_variable *kc_layer_trainable_weight(const kc_object *layer, int i)
{
    if (i < 0 || i >= kc_layer_num_trainable_weights(layer)) return NULL;
    return kc__as_layer(layer)->state->cache_tr[i];
}

kc_variable *kc_layer_non_trainable_weight(const kc_object *layer, int i)
{
    if (i < 0 || i >= kc_layer_num_non_trainable_weights(layer)) return NULL;
    return kc__as_layer(layer)->state->cache_ntr[i];
}

kc_variable *kc_layer_weight(const kc_object *layer, int i)
{
    int nt = kc_layer_num_trainable_weights(layer);
    return i < nt ? kc_layer_trainable_weight(layer, i)
                  : kc_layer_non_trainable_weight(layer, i - nt);
}

int64_t kc_layer_count_params(const kc_object *layer)
{
    int64_t n = 0;
    for (int i = 0; i < kc_layer_num_weights(layer); i++)
        n += kc_tensor_size(kc_variable_value(kc_layer_weight(layer, i)));
    return n;
}

kc_status kc_layer_set_weights(kc_object *layer, kc_tensor *const *values, int n, kc_error *err)
{
    if (!kc_is_layer(layer)) return kc__errf(err, KC_EINVAL, "kc_layer_set_weights: not a layer");
    int want = kc_layer_num_weights(layer);
    if (n != want)
        return kc__errf(
            err, KC_ESHAPE,
            "layer '%s' has %d weights, but %d values were given (Weight count mismatch)",
            kc_layer_name(layer), want, n);
    /* check everything first: either all weights change or none */
    for (int i = 0; i < n; i++) {
        kc_variable *v = kc_layer_weight(layer, i);
        kc_tensor *cur = kc_variable_value(v);
        if (!values[i] || !kc_tensor_same_shape(cur, values[i]) ||
            kc_tensor_dtype(values[i]) != KC_FLOAT32) {
            char a[160], b[160];
            kc_shape sa = kc_tensor_shape(cur),
                     sb = values[i] ? kc_tensor_shape(values[i]) : kc_shape_make(0, NULL);
            return kc__errf(err, KC_ESHAPE,
                            "layer '%s', weight '%s': expected a float32 value of shape %s, got %s "
                            "(Shape mismatch)",
                            kc_layer_name(layer), kc_variable_name(v),
                            kc_shape_format(&sa, a, sizeof(a)),
                            values[i] ? kc_shape_format(&sb, b, sizeof(b)) : "NULL");
        }
    }
    for (int i = 0; i < n; i++) {
        kc_status rc = kc_variable_assign(kc_layer_weight(layer, i), values[i], err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

kc_status kc_layer_get_weights(const kc_object *layer, kc_tensor **out, kc_error *err)
{
    int n = kc_layer_num_weights(layer);
    for (int i = 0; i < n; i++) out[i] = NULL;
    for (int i = 0; i < n; i++) {
        out[i] = kc_tensor_copy(kc_variable_value(kc_layer_weight(layer, i)), err);
        if (!out[i]) {
            for (int j = 0; j < i; j++) {
                kc_tensor_unref(out[j]);
                out[j] = NULL;
            }
            return kc__error_code(err, KC_ENOMEM);
        }
    }
    return KC_OK;
}

/* ---- losses and metrics added during calls ---------------------------------------------- */

kc_status kc_layer_add_loss(kc_object *layer, kc_tensor *loss, kc_error *err)
{
    if (!kc_is_layer(layer) || !loss)
        return kc__errf(err, KC_EINVAL, "kc_layer_add_loss: bad argument");
    if (kc_tensor_size(loss) != 1 || kc_tensor_dtype(loss) != KC_FLOAT32)
        return kc__errf(err, KC_ESHAPE, "layer '%s': add_loss needs a float32 scalar",
                        kc_layer_name(layer));
    kc__layer_state *s = kc__as_layer(layer)->state;
    if (!kc__grow((void **)&s->losses, &s->cap_losses, s->n_losses + 1, sizeof(kc_tensor *)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    s->losses[s->n_losses++] = kc_tensor_ref(loss);
    return KC_OK;
}

kc_status kc_layer_add_metric(kc_object *layer, kc_tensor *value, const char *name, kc_error *err)
{
    if (!kc_is_layer(layer) || !value || !kc__valid_name(name))
        return kc__errf(err, KC_EINVAL, "kc_layer_add_metric: bad argument");
    kc__layer_state *s = kc__as_layer(layer)->state;
    if (!kc__grow((void **)&s->mvals, &s->cap_mvals, s->n_mvals + 1, sizeof(kc_tensor *)) ||
        !kc__grow((void **)&s->mnames, &s->cap_mnames, s->n_mvals + 1, sizeof(char *)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    char *nm = kc__strdup(name);
    if (!nm) return kc__errf(err, KC_ENOMEM, "out of memory");
    s->mvals[s->n_mvals] = kc_tensor_ref(value);
    s->mnames[s->n_mvals] = nm;
    s->n_mvals++;
    return KC_OK;
}

void kc_layer_clear_call_losses(kc_object *layer)
{
    if (!kc_is_layer(layer)) return;
    clear_call_outputs(kc__as_layer(layer)->state);
    for (int i = 0; i < kc__sublayer_count(layer); i++)
        kc_layer_clear_call_losses(kc__sublayer(layer, i));
}

/* Walk this layer then its sub-layers (depth first) to item i of a kind. */
static kc_tensor *nth(const kc_object *layer, int *i, bool metrics, const char **name)
{
    const kc__layer_state *s = kc__as_layer(layer)->state;
    size_t n = metrics ? s->n_mvals : s->n_losses;
    if ((size_t)*i < n) {
        if (name) *name = metrics ? s->mnames[*i] : NULL;
        return metrics ? s->mvals[*i] : s->losses[*i];
    }
    *i -= (int)n;
    for (int k = 0; k < kc__sublayer_count(layer); k++) {
        kc_tensor *t = nth(kc__sublayer(layer, k), i, metrics, name);
        if (t) return t;
    }
    return NULL;
}

static int count(const kc_object *layer, bool metrics)
{
    const kc__layer_state *s = kc__as_layer(layer)->state;
    int n = (int)(metrics ? s->n_mvals : s->n_losses);
    for (int k = 0; k < kc__sublayer_count(layer); k++) n += count(kc__sublayer(layer, k), metrics);
    return n;
}

int kc_layer_num_losses(const kc_object *layer)
{
    return kc_is_layer(layer) ? count(layer, false) : 0;
}
int kc_layer_num_metric_values(const kc_object *layer)
{
    return kc_is_layer(layer) ? count(layer, true) : 0;
}

kc_tensor *kc_layer_loss(const kc_object *layer, int i)
{
    if (!kc_is_layer(layer) || i < 0) return NULL;
    return nth(layer, &i, false, NULL);
}

kc_tensor *kc_layer_metric_value(const kc_object *layer, int i, const char **name)
{
    if (name) *name = NULL;
    if (!kc_is_layer(layer) || i < 0) return NULL;
    return nth(layer, &i, true, name);
}

static kc_status add_penalties(const kc_object *layer, kc_tensor **sum, kc_error *err)
{
    const kc__layer_state *s = kc__as_layer(layer)->state;
    for (int i = 0; i < s->n_w; i++) {
        if (!s->w_reg[i]) continue;
        kc_tensor *p = kc_regularizer_penalty(s->w_reg[i], kc_variable_value(s->w[i]), err);
        if (!p) {
            kc__error_context(err, "layer '%s'", kc_layer_name(layer));
            return kc__error_code(err, KC_ENOMEM);
        }
        if (*sum) {
            kc_tensor *t = kc_add(*sum, p, err);
            kc_tensor_unref(p);
            kc_tensor_unref(*sum);
            *sum = t;
            if (!t) return kc__error_code(err, KC_ENOMEM);
        } else {
            *sum = p;
        }
    }
    for (int k = 0; k < kc__sublayer_count(layer); k++) {
        kc_status rc = add_penalties(kc__sublayer(layer, k), sum, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

kc_status kc_layer_regularization_loss(const kc_object *layer, kc_tensor **out, kc_error *err)
{
    *out = NULL;
    if (!kc_is_layer(layer)) return kc__errf(err, KC_EINVAL, "not a layer");
    kc_status rc = add_penalties(layer, out, err);
    if (rc != KC_OK) {
        kc_tensor_unref(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- calling ------------------------------------------------------------------------------ */

const char *kc__shapes_format(const kc_shape *s, int n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used + 2 < size; i++) {
        char one[160];
        kc_shape_format(&s[i], one, sizeof(one));
        int k = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", one);
        if (k < 0) break;
        used += (size_t)k;
    }
    return buf;
}

kc_status kc__layer_output_shapes(kc_object *layer, const kc_shape *in, int n_in, kc_shape *out,
                                  int *n_out, kc_error *err)
{
    const kc_layer_methods *m = kc__layer_methods(layer);
    int lo = m->min_inputs ? m->min_inputs : 1, hi = m->max_inputs ? m->max_inputs : 1;
    if (n_in < lo || n_in > hi) {
        if (lo == hi)
            kc__errf(err, KC_EINVAL, "layer '%s' (%s) takes %d input%s, got %d",
                     kc_layer_name(layer), layer->cls->name, lo, lo == 1 ? "" : "s", n_in);
        else
            kc__errf(err, KC_EINVAL, "layer '%s' (%s) takes %d to %d inputs, got %d",
                     kc_layer_name(layer), layer->cls->name, lo, hi, n_in);
        return KC_EINVAL;
    }
    *n_out = 0;
    kc_status rc = KC_OK;
    if (m->compute_output_shape) {
        rc = m->compute_output_shape(layer, in, n_in, out, n_out, err);
    } else { /* the default: one output shaped like the first input */
        out[0] = in[0];
        *n_out = 1;
    }
    if (rc == KC_OK && (*n_out < 1 || *n_out > KC_MAX_LAYER_OUTPUTS))
        rc = kc__errf(err, KC_EINTERNAL, "layer '%s' reported %d outputs", kc_layer_name(layer),
                      *n_out);
    if (rc != KC_OK) {
        char buf[512];
        kc__error_context(err, "layer '%s' (%s) on input shape%s %s", kc_layer_name(layer),
                          layer->cls->name, n_in == 1 ? "" : "s",
                          kc__shapes_format(in, n_in, buf, sizeof(buf)));
    }
    return rc;
}

kc_status kc_layer_compute_output_shape(const kc_object *layer, const kc_shape *in, int n_in,
                                        kc_shape *out, int *n_out, kc_error *err)
{
    if (!kc_is_layer(layer)) return kc__errf(err, KC_EINVAL, "not a layer");
    return kc__layer_output_shapes((kc_object *)layer, in, n_in, out, n_out, err);
}

/* Release the weights from index `from` on (those a failed build added). */
static void drop_weights_from(kc__layer_state *s, int from)
{
    if (s->n_w == from) return;
    for (int i = from; i < s->n_w; i++) {
        kc_variable_unref(s->w[i]);
        kc_object_unref(s->w_reg[i]);
    }
    s->n_w = from;
    kc__layers_changed();
}

kc_status kc_layer_build(kc_object *layer, const kc_shape *in, int n_in, kc_error *err)
{
    if (!kc_is_layer(layer)) return kc__errf(err, KC_EINVAL, "kc_layer_build: not a layer");
    kc_layer *l = kc__as_layer(layer);
    if (l->built) return KC_OK;
    kc_status rc = kc__layer_ensure_name(layer, err);
    if (rc != KC_OK) return rc;
    /* Everything that can fail after the class's build is done before it,
     * and a failing build takes back the weights it added: a retry then
     * adds each weight once. */
    kc__layer_state *s = l->state;
    kc_shape *shapes = NULL;
    if (n_in > 0 && !(shapes = kc__malloc_array((size_t)n_in, sizeof(kc_shape))))
        return kc__errf(err, KC_ENOMEM, "out of memory building layer '%s'", l->name);
    int n_w_before = s->n_w;
    const kc_layer_methods *m = kc__layer_methods(layer);
    if (m->build) rc = m->build(layer, in, n_in, err);
    if (rc != KC_OK) {
        drop_weights_from(s, n_w_before);
        kc__free(shapes);
        char buf[512];
        kc__error_context(err, "building layer '%s' (%s) for input shape%s %s", l->name,
                          layer->cls->name, n_in == 1 ? "" : "s",
                          kc__shapes_format(in, n_in, buf, sizeof(buf)));
        return rc;
    }
    if (n_in > 0) memcpy(shapes, in, (size_t)n_in * sizeof(kc_shape));
    kc__free(s->build_shapes);
    s->build_shapes = shapes;
    s->n_build_shapes = n_in;
    l->built = true;
    kc__layers_changed();
    return KC_OK;
}

int kc__layer_build_shapes(const kc_object *layer, const kc_shape **shapes)
{
    const kc__layer_state *s = kc__as_layer(layer)->state;
    *shapes = s->build_shapes;
    return s->n_build_shapes;
}

static bool shape_fits(const kc_tensor *t, const kc_shape *want)
{
    if (kc_tensor_ndim(t) != want->ndim) return false;
    for (int i = 0; i < want->ndim; i++)
        if (want->dims[i] >= 0 && kc_tensor_dims(t)[i] != want->dims[i]) return false;
    return true;
}

/* Keras 2: the activity regularizer's penalty of each output, divided by
 * the batch size, joins the layer's losses. */
static kc_status activity_losses(kc_object *layer, kc_tensor **out, int n_out, kc_error *err)
{
    kc_object *reg = kc__as_layer(layer)->activity_regularizer;
    for (int i = 0; reg && i < n_out; i++) {
        if (kc_tensor_dtype(out[i]) != KC_FLOAT32) continue;
        kc_tensor *p = kc_regularizer_penalty(reg, out[i], err);
        float batch = kc_tensor_ndim(out[i]) ? (float)kc_tensor_dim(out[i], 0) : 1.0f;
        kc_tensor *mean = kc_div_scalar(p, batch > 0 ? batch : 1.0f, err);
        kc_tensor_unref(p);
        if (!mean) return kc__error_code(err, KC_ENOMEM);
        kc_status rc = kc_layer_add_loss(layer, mean, err);
        kc_tensor_unref(mean);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

kc_status kc_layer_call(kc_object *layer, kc_tensor *const *inputs, int n_inputs,
                        kc_tensor *const *masks, bool training, kc_tensor **out,
                        kc_tensor **out_masks, int *n_out, kc_error *err)
{
    *n_out = 0;
    if (!kc_is_layer(layer)) return kc__errf(err, KC_EINVAL, "kc_layer_call: not a layer");
    if (n_inputs < 0 || n_inputs > 64 || (n_inputs && !inputs))
        return kc__errf(err, KC_EINVAL, "kc_layer_call: bad inputs");
    kc_shape in[64], oshape[KC_MAX_LAYER_OUTPUTS];
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]) {
            if (err && err->code != KC_OK) return err->code;
            return kc__errf(err, KC_EINVAL, "layer '%s': input %d is NULL", kc_layer_name(layer),
                            i);
        }
        in[i] = kc_tensor_shape(inputs[i]);
    }
    int no = 0;
    kc_status rc = kc__layer_output_shapes(layer, in, n_inputs, oshape, &no, err);
    if (rc != KC_OK) return rc;
    /* the failure path below releases out_masks: never the caller's garbage */
    for (int i = 0; out_masks && i < no; i++) out_masks[i] = NULL;
    rc = kc_layer_build(layer, in, n_inputs, err);
    if (rc != KC_OK) return rc;
    if (kc__call_depth == 0) kc_layer_clear_call_losses(layer);
    kc_call_args args = {inputs, masks, n_inputs, training};
    kc_tensor *res[KC_MAX_LAYER_OUTPUTS] = {0};
    kc__call_depth++;
    rc = kc__layer_methods(layer)->call(layer, &args, res, no, err);
    kc__call_depth--;
    if (rc == KC_OK) {
        for (int i = 0; i < no && rc == KC_OK; i++) {
            if (!res[i]) {
                rc = kc__errf(err, KC_EINTERNAL, "layer '%s' produced no output %d",
                              kc_layer_name(layer), i);
            } else if (!shape_fits(res[i], &oshape[i])) {
                char a[160], b[160];
                kc_shape got = kc_tensor_shape(res[i]);
                rc = kc__errf(err, KC_EINTERNAL,
                              "layer '%s' (%s) produced output %d of shape %s where its "
                              "compute_output_shape said %s",
                              kc_layer_name(layer), layer->cls->name, i,
                              kc_shape_format(&got, a, sizeof(a)),
                              kc_shape_format(&oshape[i], b, sizeof(b)));
            }
        }
    }
    if (rc == KC_OK) rc = activity_losses(layer, res, no, err);
    if (rc == KC_OK && out_masks) {
        const kc_layer_methods *m = kc__layer_methods(layer);
        if (m->compute_mask) {
            rc = m->compute_mask(layer, &args, res, no, out_masks, err);
        } else if (kc__as_layer(layer)->supports_masking && masks) {
            for (int i = 0; i < no; i++) out_masks[i] = kc_tensor_ref(masks[0]);
        }
    }
    if (rc != KC_OK) {
        for (int i = 0; i < no; i++) {
            kc_tensor_unref(res[i]);
            if (out_masks) {
                kc_tensor_unref(out_masks[i]);
                out_masks[i] = NULL;
            }
        }
        kc__error_context(err, "layer '%s'", kc_layer_name(layer));
        return kc__error_code(err, KC_EINTERNAL);
    }
    for (int i = 0; i < no; i++) out[i] = res[i];
    *n_out = no;
    return KC_OK;
}

kc_tensor *kc_layer_call1(kc_object *layer, kc_tensor *x, bool training, kc_error *err)
{
    kc_tensor *out[KC_MAX_LAYER_OUTPUTS];
    int n = 0;
    if (kc_layer_call(layer, &x, 1, NULL, training, out, NULL, &n, err) != KC_OK) return NULL;
    for (int i = 1; i < n; i++) kc_tensor_unref(out[i]);
    return out[0];
}

kc_object *kc_layer_create(const char *class_name, const char *config, kc_error *err)
{
    return kc_layer_create_ex(class_name, config, NULL, err);
}
