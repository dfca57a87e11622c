/* Recurrent layers: RNN (with a cell config), SimpleRNN, LSTM and GRU.
 *
 * All four are one structure: an RNN layer owning a cell (rnn_cell.c).
 * SimpleRNN, LSTM and GRU differ from RNN only in their config, which
 * lists the cell's keys next to the layer's (tf.keras' flat form) instead
 * of nesting them under "cell". The layer handles what Keras' RNN base
 * handles: input checks and output shapes, initial states given as extra
 * inputs, the timestep mask, time_major, return_sequences / return_state,
 * go_backwards, and stateful layers, whose final states become the next
 * call's initial states. The steps themselves run in one fused op
 * (op_rnn.c).
 *
 * Stateful layers keep their states as plain tensors (Keras keeps
 * non-weight variables): they are not weights, are not saved, and carry no
 * gradient from one call to the next. As Keras, a stateful layer given
 * initial states uses them only while its own states are all zeros. Keras
 * needs the batch size up front; here zero states take the batch of the
 * first call, and a different batch afterwards is an error until the
 * states are reset. */
#include "rnn_int.h"

#include <string.h>

extern const kc_class kc__simple_rnn_cell_class, kc__lstm_cell_class, kc__gru_cell_class;

static kc_status rnn_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__rnn *r = (kc__rnn *)self;
    r->base.supports_masking = true;
    r->state_batch = -1;
    return KC_OK;
}

static void rnn_fini(kc_object *self)
{
    kc__rnn *r = (kc__rnn *)self;
    kc_object_unref((kc_object *)r->cell);
    kc_tensor_unref(r->states[0]);
    kc_tensor_unref(r->states[1]);
}

int kc__rnn_num_states(const kc__rnn *r) { return kc__rcell_states(r->cell->kind); }

/* ---- config ------------------------------------------------------------------------------- */

static kc_status read_rnn_keys(kc__rnn *r, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    struct {
        const char *key;
        bool *slot;
    } flags[] = {
        {"return_sequences", &r->return_sequences}, {"return_state", &r->return_state},
        {"go_backwards", &r->go_backwards},         {"stateful", &r->stateful},
        {"unroll", &r->unroll},                     {"time_major", &r->time_major},
        {"zero_output_for_mask", &r->zero_output_for_mask},
    };
    kc_status rc = KC_OK;
    for (size_t i = 0; rc == KC_OK && i < sizeof(flags) / sizeof(flags[0]); i++)
        rc = kc_cfg_bool(ctx, cfg, flags[i].key, KC_CFG_NULLABLE, false, flags[i].slot, err);
    int64_t nc = 0;
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "num_constants", KC_CFG_NULLABLE | KC_CFG_NONNEG, 0, &nc, err);
    if (rc == KC_OK && nc > 0) {
        rc = kc__errf(err, KC_EUNSUPPORTED, "%s.num_constants: RNN constants are not supported", ctx->path);
        kc__error_context(err, "%s.num_constants", ctx->path);
    }
    /* Keras' RNN turns input_dim / input_length into input_shape */
    kc_layer *l = &r->base;
    if (rc == KC_OK && !json_object_get(cfg, "batch_input_shape") && !json_object_get(cfg, "batch_shape") &&
        !json_object_get(cfg, "input_shape")) {
        int64_t dim = -1, len = -1;
        rc = kc_cfg_int(ctx, cfg, "input_dim", KC_CFG_NULLABLE | KC_CFG_POSITIVE, -1, &dim, err);
        if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "input_length", KC_CFG_NULLABLE | KC_CFG_POSITIVE, -1, &len, err);
        if (rc == KC_OK && (dim > 0 || len > 0)) {
            l->has_batch_input_shape = true;
            l->batch_input_shape = kc_shape_make(3, (int64_t[]){-1, len, dim});
        }
    }
    return rc;
}

static kc_status write_rnn_keys(const kc__rnn *r, json_t *cfg, kc_error *err)
{
    if (json_object_set_new(cfg, "return_sequences", json_boolean(r->return_sequences)) ||
        json_object_set_new(cfg, "return_state", json_boolean(r->return_state)) ||
        json_object_set_new(cfg, "go_backwards", json_boolean(r->go_backwards)) ||
        json_object_set_new(cfg, "stateful", json_boolean(r->stateful)) ||
        json_object_set_new(cfg, "unroll", json_boolean(r->unroll)) ||
        json_object_set_new(cfg, "time_major", json_boolean(r->time_major)) ||
        (r->zero_output_for_mask && json_object_set_new(cfg, "zero_output_for_mask", json_true())))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status flat_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc__rcell kind, kc_error *err)
{
    kc__rnn *r = (kc__rnn *)self;
    r->flat = true;
    kc_status rc = read_rnn_keys(r, cfg, ctx, err);
    if (rc != KC_OK) return rc;
    kc_object_unref((kc_object *)r->cell);
    r->cell = kc__rnn_cell_from_layer_config(kind, cfg, ctx, r->base.trainable, err);
    return r->cell ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_status simple_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    return flat_from_config(self, cfg, ctx, KC__RCELL_SIMPLE, err);
}
static kc_status lstm_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    return flat_from_config(self, cfg, ctx, KC__RCELL_LSTM, err);
}
static kc_status gru_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    return flat_from_config(self, cfg, ctx, KC__RCELL_GRU, err);
}

static kc_status generic_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    kc__rnn *r = (kc__rnn *)self;
    kc_status rc = read_rnn_keys(r, cfg, ctx, err);
    if (rc != KC_OK) return rc;
    const json_t *jc = json_object_get(cfg, "cell");
    kc_config_ctx cc = kc_config_ctx_child(ctx, "cell", 0);
    if (!jc || json_is_null(jc)) {
        kc__errf(err, KC_EFORMAT, "%s: an RNN layer needs a cell", cc.path);
        kc__error_context(err, "%s", cc.path);
        return KC_EFORMAT;
    }
    if (json_is_array(jc)) {
        kc__errf(err, KC_EUNSUPPORTED, "%s: stacked cells (a list of cells) are not supported", cc.path);
        kc__error_context(err, "%s", cc.path);
        return KC_EUNSUPPORTED;
    }
    kc_object *cell = NULL;
    rc = kc_deserialize(KC_KIND_LAYER, jc, &cc, &cell, err);
    if (rc != KC_OK) return rc;
    if (!kc__is_rnn_cell(cell)) {
        kc__errf(err, KC_EUNSUPPORTED, "%s: cell class '%s' is not supported (SimpleRNNCell, LSTMCell and GRUCell are)",
                 cc.path, cell ? kc_object_name(cell) : "null");
        kc__error_context(err, "%s", cc.path);
        kc_object_unref(cell);
        return KC_EUNSUPPORTED;
    }
    kc_object_unref((kc_object *)r->cell);
    r->cell = (kc__rnn_cell *)cell;
    return KC_OK;
}

static kc_status rnn_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const kc__rnn *r = (const kc__rnn *)self;
    kc_status rc = write_rnn_keys(r, cfg, err);
    if (rc != KC_OK) return rc;
    if (r->flat) return kc__rnn_cell_write(r->cell, cfg, self, err);
    return kc_cfg_set_object(cfg, "cell", (const kc_object *)r->cell, err);
}

/* ---- shapes and build -------------------------------------------------------------------- */

static kc_status rnn_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                  int *n_out, kc_error *err)
{
    const kc__rnn *r = (const kc__rnn *)self;
    int ns = kc__rnn_num_states(r);
    int64_t u = r->cell->units;
    if (in[0].ndim != 3)
        return kc__errf(err, KC_ESHAPE, "%s expects inputs of rank 3 (batch, timesteps, features), found rank %d",
                        self->cls->name, in[0].ndim);
    if (in[0].dims[2] < 0) return kc__errf(err, KC_ESHAPE, "the last dimension of %s inputs must be known", self->cls->name);
    const kc_variable *k = r->cell->kernel;
    if (k && kc_tensor_dim(kc_variable_value(k), 0) != in[0].dims[2])
        return kc__errf(err, KC_ESHAPE, "%s was built for %lld input features, got %lld", self->cls->name,
                        (long long)kc_tensor_dim(kc_variable_value(k), 0), (long long)in[0].dims[2]);
    if (n_in != 1 && n_in != 1 + ns)
        return kc__errf(err, KC_EINVAL, "Layer has %d state%s but was passed %d initial state%s", ns,
                        ns == 1 ? "" : "s", n_in - 1, n_in == 2 ? "" : "s");
    int64_t batch = in[0].dims[r->time_major ? 1 : 0], steps = in[0].dims[r->time_major ? 0 : 1];
    for (int i = 1; i < n_in; i++) {
        if (in[i].ndim != 2 || (in[i].dims[1] >= 0 && in[i].dims[1] != u))
            return kc__errf(err, KC_ESHAPE, "initial state %d must have shape (batch, %lld)", i - 1, (long long)u);
    }
    if (r->return_sequences)
        out[0] = r->time_major ? kc_shape_make(3, (int64_t[]){steps, batch, u})
                               : kc_shape_make(3, (int64_t[]){batch, steps, u});
    else
        out[0] = kc_shape_make(2, (int64_t[]){batch, u});
    *n_out = 1;
    if (r->return_state)
        for (int i = 0; i < ns; i++) out[(*n_out)++] = kc_shape_make(2, (int64_t[]){batch, u});
    return KC_OK;
}

static kc_status rnn_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    kc__rnn *r = (kc__rnn *)self;
    kc_shape step = kc_shape_make(2, (int64_t[]){in[0].dims[r->time_major ? 1 : 0], in[0].dims[2]});
    char *scope = kc__scope_join(self, kc_layer_name((kc_object *)r->cell), err);
    if (!scope) return kc__error_code(err, KC_ENOMEM);
    kc_status rc = kc__layer_build_nested((kc_object *)r->cell, self, scope, &step, 1, err);
    kc__free(scope);
    if (rc == KC_OK && step.dims[0] > 0) r->state_batch = step.dims[0];
    return rc;
}

/* ---- calling ---------------------------------------------------------------------------------- */

static bool all_zero(kc_tensor *const *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (!s[i]) continue;
        const float *p = kc_tensor_cdata(s[i]);
        for (int64_t j = 0; j < kc_tensor_size(s[i]); j++)
            if (p[j] != 0.0f) return false;
    }
    return true;
}

/* The initial states of this call: given ones, a stateful layer's own
 * (Keras: a stateful layer uses given states only while its own are all
 * zeros), or zeros. */
static kc_status initial_states(kc__rnn *r, const kc_call_args *a, int64_t B, kc_scope *sc, kc_tensor **init,
                                kc_error *err)
{
    int ns = kc__rnn_num_states(r);
    int64_t dims[2] = {B, r->cell->units};
    bool given = a->n_inputs > 1;
    if (r->stateful && r->states[0] && kc_tensor_dim(r->states[0], 0) != B)
        return kc__errf(err, KC_ESHAPE,
                        "stateful layer '%s' carries states for a batch of %lld, but got a batch of %lld "
                        "(reset its states to change the batch size)",
                        kc_layer_name(&r->base.base), (long long)kc_tensor_dim(r->states[0], 0), (long long)B);
    bool own = r->stateful && r->states[0] && !(given && all_zero(r->states, ns));
    for (int i = 0; i < ns; i++) {
        if (own)
            init[i] = r->states[i];
        else if (given)
            init[i] = a->inputs[1 + i];
        else
            init[i] = kc_scope_take(sc, kc_tensor_zeros(KC_FLOAT32, 2, dims, err));
        if (!init[i]) return kc__error_code(err, KC_ENOMEM);
        if (kc_tensor_dtype(init[i]) != KC_FLOAT32)
            init[i] = kc_scope_take(sc, kc_cast(init[i], KC_FLOAT32, err));
        if (!init[i]) return kc__error_code(err, KC_ENOMEM);
    }
    return KC_OK;
}

static kc_status keep_states(kc__rnn *r, kc_tensor *const *final, kc_error *err)
{
    int ns = kc__rnn_num_states(r);
    kc_tensor *copies[2] = {0};
    for (int i = 0; i < ns; i++) {
        copies[i] = kc_tensor_copy(final[i], err);
        if (!copies[i]) {
            kc_tensor_unref(copies[0]);
            return kc__error_code(err, KC_ENOMEM);
        }
    }
    for (int i = 0; i < ns; i++) {
        kc_tensor_unref(r->states[i]);
        r->states[i] = copies[i];
    }
    r->state_batch = kc_tensor_dim(final[0], 0);
    return KC_OK;
}

static kc_status rnn_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    kc__rnn *r = (kc__rnn *)self;
    int ns = kc__rnn_num_states(r);
    kc_scope *sc = kc_scope_new(err);
    kc_tensor *x = a->inputs[0], *mask = a->masks ? a->masks[0] : NULL;
    static const int swap[3] = {1, 0, 2};
    if (r->time_major) {
        x = kc_scope_take(sc, kc_transpose(x, swap, err));
        if (mask && kc_tensor_ndim(mask) == 2) mask = kc_scope_take(sc, kc_transpose(mask, NULL, err));
    }
    kc_tensor *init[2] = {0}, *res[3] = {0};
    kc_status rc = x ? initial_states(r, a, kc_tensor_dim(x, 0), sc, init, err) : kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK) {
        kc__rnn_spec spec = {
            .go_backwards = r->go_backwards,
            .return_sequences = r->return_sequences,
            .zero_output_for_mask = r->zero_output_for_mask,
        };
        rc = kc__rnn_cell_run(r->cell, spec, x, init, mask, a->training, res, err);
    }
    if (rc == KC_OK && r->stateful) rc = keep_states(r, res + 1, err);
    if (rc == KC_OK && r->time_major && r->return_sequences) {
        kc_tensor *t = kc_transpose(res[0], swap, err);
        kc_tensor_unref(res[0]);
        res[0] = t;
        if (!t) rc = kc__error_code(err, KC_ENOMEM);
    }
    if (rc == KC_OK) {
        out[0] = res[0];
        res[0] = NULL;
        for (int i = 1; i < n_out && i <= ns; i++) {
            out[i] = res[i];
            res[i] = NULL;
        }
    }
    for (int i = 0; i < 3; i++) kc_tensor_unref(res[i]);
    kc_scope_free(sc);
    return rc;
}

/* Keras: the output keeps the timestep mask when it is a sequence; the
 * states have none. */
static kc_status rnn_mask(kc_object *self, const kc_call_args *a, kc_tensor *const *out, int n_out,
                          kc_tensor **out_masks, kc_error *err)
{
    (void)out, (void)n_out, (void)err;
    const kc__rnn *r = (const kc__rnn *)self;
    if (r->return_sequences && a->masks && a->masks[0]) out_masks[0] = kc_tensor_ref(a->masks[0]);
    return KC_OK;
}

static kc_status rnn_convert(kc_object *self, kc_tensor *const *in, int n_in, const char *version,
                             const char *backend, kc_tensor **out, int *n_out, kc_error *err)
{
    (void)version, (void)backend;
    return kc__rnn_convert_weights(((kc__rnn *)self)->cell, in, n_in, out, n_out, err);
}

static const kc_layer_methods rnn_methods = {
    .min_inputs = 1,
    .max_inputs = 3,
    .build = rnn_build,
    .call = rnn_call,
    .compute_output_shape = rnn_output_shape,
    .compute_mask = rnn_mask,
    .convert_weights = rnn_convert,
};

/* Keras 3 files keep an RNN layer's weights with its cell (rnn.py: the
 * attribute "cell"): <path>/cell/vars/0.. = kernel, recurrent_kernel, bias. */
static kc_status rnn_keras3_layout(kc_object *self, kc_keras3_tree *tree, kc_error *err)
{
    return kc_keras3_tree_add_layer(tree, "cell", &((kc__rnn *)self)->cell->base.base, 0,
                                    kc_keras3_tree_num_weights(tree), err);
}

#define RNN_CLASS(var, cname, fc)                                                                  \
    const kc_class var = {                                                                         \
        .abi = KC_CLASS_ABI,                                                                       \
        .kind = KC_KIND_LAYER,                                                                     \
        .name = cname,                                                                             \
        .size = sizeof(kc__rnn),                                                                   \
        .config_version = 1,                                                                       \
        .init = rnn_init,                                                                          \
        .fini = rnn_fini,                                                                          \
        .get_config = rnn_get_config,                                                              \
        .from_config = fc,                                                                         \
        .methods = &rnn_methods,                                                                   \
        .keras3_layout = rnn_keras3_layout,                                                        \
    }
RNN_CLASS(kc__rnn_class, "RNN", generic_from_config);
RNN_CLASS(kc__simple_rnn_class, "SimpleRNN", simple_from_config);
RNN_CLASS(kc__lstm_class, "LSTM", lstm_from_config);
RNN_CLASS(kc__gru_class, "GRU", gru_from_config);
#undef RNN_CLASS

bool kc__is_rnn(const kc_object *o)
{
    return o && (o->cls == &kc__rnn_class || o->cls == &kc__simple_rnn_class || o->cls == &kc__lstm_class ||
                 o->cls == &kc__gru_class);
}

kc_object *kc__rnn_recreate(const kc_object *rnn, const char *prefix, bool flip_backwards,
                            const kc_config_ctx *ctx, kc_error *err)
{
    json_t *cfg = NULL;
    if (kc_object_get_config(rnn, &cfg, err) != KC_OK) return NULL;
    const kc__rnn *r = (const kc__rnn *)rnn;
    /* prefix + the name without that prefix (Keras 3's removeprefix: a
     * layer saved as "backward_lstm" does not become "backward_backward_lstm") */
    const char *base = kc_layer_name(rnn);
    if (strncmp(base, prefix, strlen(prefix)) == 0) base += strlen(prefix);
    size_t n = strlen(prefix) + strlen(base) + 1;
    char *name = kc__malloc(n);
    kc_object *o = NULL;
    if (name) {
        snprintf(name, n, "%s%s", prefix, base);
        if (json_object_set_new(cfg, "name", json_string(name)) ||
            (flip_backwards && json_object_set_new(cfg, "go_backwards", json_boolean(!r->go_backwards))))
            kc__errf(err, KC_ENOMEM, "out of memory");
        else
            o = kc_object_from_config(rnn->cls, cfg, ctx, err);
    } else {
        kc__errf(err, KC_ENOMEM, "out of memory");
    }
    kc__free(name);
    json_decref(cfg);
    return o;
}

/* ---- states (recurrent.h) --------------------------------------------------------------------- */

kc_status kc__rnn_reset(kc__rnn *r, kc_tensor *const *states, int n, kc_error *err)
{
    const char *name = kc_layer_name(&r->base.base);
    if (!r->stateful) return kc__errf(err, KC_ESTATE, "layer '%s': Layer must be stateful.", name);
    int ns = kc__rnn_num_states(r);
    if (!states) {
        for (int i = 0; i < 2; i++) {
            kc_tensor_unref(r->states[i]);
            r->states[i] = NULL;
        }
        return KC_OK;
    }
    if (n != ns)
        return kc__errf(err, KC_EINVAL, "Layer %s expects %d states, but it received %d state values.", name, ns, n);
    kc_tensor *copies[2] = {0};
    for (int i = 0; i < ns; i++) {
        const kc_tensor *s = states[i];
        if (!s || kc_tensor_dtype(s) != KC_FLOAT32 || kc_tensor_ndim(s) != 2 ||
            kc_tensor_dim(s, 1) != r->cell->units || kc_tensor_dim(s, 0) != kc_tensor_dim(states[0], 0) ||
            (r->state_batch >= 0 && kc_tensor_dim(s, 0) != r->state_batch)) {
            kc_tensor_unref(copies[0]);
            return kc__errf(err, KC_ESHAPE, "State %d is incompatible with layer %s: expected a float32 shape (%lld, %lld)",
                            i, name, (long long)(r->state_batch >= 0 ? r->state_batch : s ? kc_tensor_dim(s, 0) : -1),
                            (long long)r->cell->units);
        }
        if (!(copies[i] = kc_tensor_copy(s, err))) {
            kc_tensor_unref(copies[0]);
            return kc__error_code(err, KC_ENOMEM);
        }
    }
    for (int i = 0; i < ns; i++) {
        kc_tensor_unref(r->states[i]);
        r->states[i] = copies[i];
    }
    return KC_OK;
}

kc_status kc__rnn_states(const kc__rnn *r, kc_tensor **out, kc_error *err)
{
    int ns = kc__rnn_num_states(r);
    for (int i = 0; i < ns; i++) out[i] = NULL;
    if (!r->stateful) return kc__errf(err, KC_ESTATE, "layer '%s' is not stateful", kc_layer_name(&r->base.base));
    if (!r->states[0] && r->state_batch < 0)
        return kc__errf(err, KC_ESTATE, "layer '%s' has no states yet and its batch size is unknown",
                        kc_layer_name(&r->base.base));
    for (int i = 0; i < ns; i++) {
        out[i] = r->states[i] ? kc_tensor_copy(r->states[i], err)
                              : kc_tensor_zeros(KC_FLOAT32, 2, (int64_t[]){r->state_batch, r->cell->units}, err);
        if (!out[i]) {
            for (int j = 0; j < i; j++) kc_tensor_unref(out[j]), out[j] = NULL;
            return kc__error_code(err, KC_ENOMEM);
        }
    }
    return KC_OK;
}

static kc_status reset_model(kc_object *model, kc_error *err)
{
    for (int i = 0; i < kc_model_num_layers(model); i++) {
        kc_object *l = kc_model_layer(model, i);
        kc_status rc = KC_OK;
        if (kc_is_model(l))
            rc = reset_model(l, err);
        else if (kc__is_rnn(l) && ((kc__rnn *)l)->stateful)
            rc = kc__rnn_reset((kc__rnn *)l, NULL, 0, err);
        else if (kc__is_bidirectional(l) && kc__bidirectional_half(l, 0)->stateful)
            rc = kc_rnn_reset_states(l, NULL, 0, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

kc_status kc_rnn_reset_states(kc_object *layer, kc_tensor *const *states, int n_states, kc_error *err)
{
    if (kc_is_model(layer)) {
        if (states) return kc__errf(err, KC_EINVAL, "kc_rnn_reset_states: a model's states can only be reset to zeros");
        return reset_model(layer, err);
    }
    if (kc__is_rnn(layer)) return kc__rnn_reset((kc__rnn *)layer, states, n_states, err);
    if (kc__is_bidirectional(layer)) {
        kc__rnn *f = kc__bidirectional_half(layer, 0), *b = kc__bidirectional_half(layer, 1);
        int half = kc__rnn_num_states(f);
        if (states && n_states != 2 * half)
            return kc__errf(err, KC_EINVAL, "Layer %s expects %d states, but it received %d state values.",
                            kc_layer_name(layer), 2 * half, n_states);
        kc_status rc = kc__rnn_reset(f, states, half, err);
        if (rc == KC_OK) rc = kc__rnn_reset(b, states ? states + half : NULL, half, err);
        return rc;
    }
    return kc__errf(err, KC_EINVAL, "kc_rnn_reset_states: '%s' is not a recurrent layer or a model",
                    layer ? kc_object_name(layer) : "NULL");
}

int kc_rnn_num_states(const kc_object *layer)
{
    if (kc__is_rnn(layer)) return kc__rnn_num_states((const kc__rnn *)layer);
    if (kc__is_bidirectional(layer)) return 2 * kc__rnn_num_states(kc__bidirectional_half(layer, 0));
    return 0;
}

kc_status kc_rnn_get_states(const kc_object *layer, kc_tensor **out, kc_error *err)
{
    if (kc__is_rnn(layer)) return kc__rnn_states((const kc__rnn *)layer, out, err);
    if (kc__is_bidirectional(layer)) {
        const kc__rnn *f = kc__bidirectional_half(layer, 0);
        int half = kc__rnn_num_states(f);
        kc_status rc = kc__rnn_states(f, out, err);
        if (rc == KC_OK && (rc = kc__rnn_states(kc__bidirectional_half(layer, 1), out + half, err)) != KC_OK)
            for (int i = 0; i < half; i++) kc_tensor_unref(out[i]), out[i] = NULL;
        return rc;
    }
    return kc__errf(err, KC_EINVAL, "kc_rnn_get_states: '%s' is not a recurrent layer",
                    layer ? kc_object_name(layer) : "NULL");
}
