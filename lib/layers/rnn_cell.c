/* Recurrent cells: SimpleRNNCell, LSTMCell, GRUCell.
 *
 * A cell holds what one step of a recurrent layer needs: its config (units,
 * activations, initializers, regularizers, constraints, dropout rates) and
 * its weights, kernel (in, G u), recurrent_kernel (u, G u) and bias. The
 * RNN layers (layer_rnn.c) own a cell and build it into themselves, so the
 * weights are the layer's and are named as tf.keras names them
 * ("lstm/lstm_cell/kernel:0"). The step math itself is not here: a layer
 * call runs all steps at once in the fused recurrence (op_rnn.c), which
 * computes the activations itself; so a cell accepts only activations that
 * kernel knows, and says so when it is given another.
 *
 * A cell is also a layer of its own, as in Keras: called on [x, h] (LSTM:
 * [x, h, c]) it returns [output, h'] (LSTM: [output, h', c']). */
#include "rnn_int.h"

#include <string.h>

static const char *const cell_names[] = {"simple_rnn_cell", "lstm_cell", "gru_cell"};

static kc_status cell_init(kc_object *self, kc__rcell kind)
{
    kc__rnn_cell *c = (kc__rnn_cell *)self;
    c->kind = kind;
    c->use_bias = true;
    c->unit_forget_bias = true;
    c->reset_after = true;
    c->implementation = 2;
    c->act = KC__RACT_TANH;
    c->rec_act = KC__RACT_SIGMOID;
    return KC_OK;
}

static kc_status simple_init(kc_object *self, kc_error *err)
{
    (void)err;
    return cell_init(self, KC__RCELL_SIMPLE);
}
static kc_status lstm_init(kc_object *self, kc_error *err)
{
    (void)err;
    return cell_init(self, KC__RCELL_LSTM);
}
static kc_status gru_init(kc_object *self, kc_error *err)
{
    (void)err;
    return cell_init(self, KC__RCELL_GRU);
}

static void cell_fini(kc_object *self)
{
    kc__rnn_cell *c = (kc__rnn_cell *)self;
    kc_object *objs[] = {c->activation, c->recurrent_activation, c->kernel_init, c->recurrent_init,
                         c->bias_init, c->kernel_reg, c->recurrent_reg, c->bias_reg,
                         c->kernel_con, c->recurrent_con, c->bias_con};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) kc_object_unref(objs[i]);
}

/* ---- config ---------------------------------------------------------------------------- */

/* The kernel computes activations itself: find which built-in this is (by
 * its C function, so a custom object that reuses a built-in's name is not
 * mistaken for it). */
static kc_status resolve_activation(kc_object *act, const char *key, const kc_config_ctx *ctx,
                                    kc__ract *out, kc_error *err)
{
    kc_fn fn = NULL;
    void *params = NULL;
    if (kc_object_is_function(act) && kc_function_get(act, &fn, &params, NULL) == KC_OK && !params) {
        for (int r = 0; r < KC__RACT_COUNT; r++) {
            kc_object *ref = kc_activation_get(kc__ract_names[r], NULL);
            kc_fn rfn = NULL;
            if (ref && kc_function_get(ref, &rfn, NULL, NULL) == KC_OK && rfn == fn) {
                kc_object_unref(ref);
                *out = (kc__ract)r;
                return KC_OK;
            }
            kc_object_unref(ref);
        }
    }
    kc__errf(err, KC_EUNSUPPORTED,
             "%s.%s: activation '%s' is not supported in recurrent layers (ckeras' recurrent "
             "kernel computes linear, tanh, sigmoid, hard_sigmoid, relu, softsign, elu, selu, "
             "exponential, softplus, relu6 and leaky_relu)",
             ctx->path, key, kc_object_name(act));
    kc__error_context(err, "%s.%s", ctx->path, key);
    return KC_EUNSUPPORTED;
}

/* An activation key: null means linear, as keras.activations.get(None). */
static kc_status read_activation(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                                 const char *dflt, kc_object **obj, kc__ract *kind, kc_error *err)
{
    kc_object_unref(*obj);
    *obj = NULL;
    kc_status rc = kc_cfg_object(ctx, cfg, key, KC_KIND_ACTIVATION, dflt, obj, err);
    if (rc == KC_OK && !*obj) {
        json_t *lin = json_string("linear");
        rc = lin ? kc_deserialize(KC_KIND_ACTIVATION, lin, ctx, obj, err) : kc__errf(err, KC_ENOMEM, "out of memory");
        json_decref(lin);
    }
    if (rc == KC_OK) rc = resolve_activation(*obj, key, ctx, kind, err);
    return rc;
}

static double clip01(double v) { return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

/* The cell keys (a cell's config, or a flat layer's). */
static kc_status cell_read(kc__rnn_cell *c, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    bool gated = c->kind != KC__RCELL_SIMPLE;
    kc_status rc = kc_cfg_int(ctx, cfg, "units", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &c->units, err);
    if (rc == KC_OK) rc = read_activation(ctx, cfg, "activation", "tanh", &c->activation, &c->act, err);
    if (rc == KC_OK && gated)
        rc = read_activation(ctx, cfg, "recurrent_activation", "sigmoid", &c->recurrent_activation, &c->rec_act, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "use_bias", KC_CFG_NULLABLE, true, &c->use_bias, err);
    struct {
        const char *key;
        kc_kind kind;
        const char *dflt;
        kc_object **slot;
    } objs[] = {
        {"kernel_initializer", KC_KIND_INITIALIZER, "glorot_uniform", &c->kernel_init},
        {"recurrent_initializer", KC_KIND_INITIALIZER, "orthogonal", &c->recurrent_init},
        {"bias_initializer", KC_KIND_INITIALIZER, "zeros", &c->bias_init},
        {"kernel_regularizer", KC_KIND_REGULARIZER, NULL, &c->kernel_reg},
        {"recurrent_regularizer", KC_KIND_REGULARIZER, NULL, &c->recurrent_reg},
        {"bias_regularizer", KC_KIND_REGULARIZER, NULL, &c->bias_reg},
        {"kernel_constraint", KC_KIND_CONSTRAINT, NULL, &c->kernel_con},
        {"recurrent_constraint", KC_KIND_CONSTRAINT, NULL, &c->recurrent_con},
        {"bias_constraint", KC_KIND_CONSTRAINT, NULL, &c->bias_con},
    };
    for (size_t i = 0; rc == KC_OK && i < sizeof(objs) / sizeof(objs[0]); i++) {
        kc_object_unref(*objs[i].slot);
        *objs[i].slot = NULL;
        rc = kc_cfg_object(ctx, cfg, objs[i].key, objs[i].kind, objs[i].dflt, objs[i].slot, err);
    }
    if (rc == KC_OK && c->kind == KC__RCELL_LSTM)
        rc = kc_cfg_bool(ctx, cfg, "unit_forget_bias", KC_CFG_NULLABLE, true, &c->unit_forget_bias, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "dropout", KC_CFG_NULLABLE, 0.0, &c->dropout, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "recurrent_dropout", KC_CFG_NULLABLE, 0.0, &c->recurrent_dropout, err);
    c->dropout = clip01(c->dropout);
    c->recurrent_dropout = clip01(c->recurrent_dropout);
    if (rc == KC_OK && gated) {
        rc = kc_cfg_int(ctx, cfg, "implementation", KC_CFG_NULLABLE, 2, &c->implementation, err);
        if (rc == KC_OK && (c->implementation < 0 || c->implementation > 2)) {
            rc = kc__errf(err, KC_EFORMAT, "%s.implementation: expected 1 or 2, got %lld", ctx->path,
                          (long long)c->implementation);
            kc__error_context(err, "%s.implementation", ctx->path);
        }
        /* Keras 2 turned the deprecated 0 into 1, and uses 1 whenever
         * recurrent_dropout is set */
        if (c->implementation == 0 || c->recurrent_dropout != 0.0) c->implementation = 1;
    }
    if (rc == KC_OK && c->kind == KC__RCELL_GRU) {
        /* A config written by a Keras without reset_after (Keras 1, Keras 2
         * before 2.1.5) lists every argument of its time but not this one:
         * those versions computed reset_after = false. */
        bool legacy = !json_object_get(cfg, "reset_after") && json_object_get(cfg, "implementation");
        rc = kc_cfg_bool(ctx, cfg, "reset_after", KC_CFG_NULLABLE, !legacy, &c->reset_after, err);
    }
    if (rc == KC_OK) rc = kc_cfg_seed(ctx, cfg, "seed", &c->has_seed, &c->seed, err);
    if (rc == KC_OK && c->has_seed) kc_rng_seed(&c->rng, c->seed);
    return rc;
}

static kc_status set_json(json_t *cfg, const char *key, json_t *v, kc_error *err)
{
    if (!v || json_object_set_new(cfg, key, v)) return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

kc_status kc__rnn_cell_write(const kc__rnn_cell *c, json_t *cfg, const kc_object *activity_owner,
                             kc_error *err)
{
    bool gated = c->kind != KC__RCELL_SIMPLE;
    kc_status rc = set_json(cfg, "units", json_integer(c->units), err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "activation", c->activation, err);
    if (rc == KC_OK && gated) rc = kc_cfg_set_object(cfg, "recurrent_activation", c->recurrent_activation, err);
    if (rc == KC_OK) rc = set_json(cfg, "use_bias", json_boolean(c->use_bias), err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_initializer", c->kernel_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "recurrent_initializer", c->recurrent_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_initializer", c->bias_init, err);
    if (rc == KC_OK && c->kind == KC__RCELL_LSTM)
        rc = set_json(cfg, "unit_forget_bias", json_boolean(c->unit_forget_bias), err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_regularizer", c->kernel_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "recurrent_regularizer", c->recurrent_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_regularizer", c->bias_reg, err);
    if (rc == KC_OK && activity_owner) rc = kc__layer_write_activity_regularizer(activity_owner, cfg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_constraint", c->kernel_con, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "recurrent_constraint", c->recurrent_con, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_constraint", c->bias_con, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "dropout", c->dropout, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "recurrent_dropout", c->recurrent_dropout, err);
    if (rc == KC_OK && gated) rc = set_json(cfg, "implementation", json_integer(c->implementation), err);
    if (rc == KC_OK && c->kind == KC__RCELL_GRU) rc = set_json(cfg, "reset_after", json_boolean(c->reset_after), err);
    if (rc == KC_OK && c->has_seed) rc = set_json(cfg, "seed", json_integer((json_int_t)c->seed), err);
    return rc;
}

static kc_status cell_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    return cell_read((kc__rnn_cell *)self, cfg, ctx, err);
}

static kc_status cell_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    return kc__rnn_cell_write((const kc__rnn_cell *)self, cfg, NULL, err);
}

/* ---- weights ----------------------------------------------------------------------------- */

/* LSTM with unit_forget_bias: [init(u), ones(u), init(2u)], as Keras. */
static kc_status forget_bias(kc__rnn_cell *c, kc_error *err)
{
    int64_t u = c->units, two = 2 * u;
    kc_tensor *a = kc_initializer_make(c->bias_init, 1, &u, err);
    kc_tensor *b = a ? kc_initializer_make(c->bias_init, 1, &two, err) : NULL;
    if (!b) {
        kc_tensor_unref(a);
        return kc__error_code(err, KC_ENOMEM);
    }
    float *dst = kc_tensor_f32(kc_variable_value(c->bias));
    memcpy(dst, kc_tensor_cdata(a), sizeof(float) * (size_t)u);
    for (int64_t j = 0; j < u; j++) dst[u + j] = 1.0f;
    memcpy(dst + 2 * u, kc_tensor_cdata(b), sizeof(float) * (size_t)two);
    kc_tensor_unref(a);
    kc_tensor_unref(b);
    return KC_OK;
}

static kc_status cell_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    kc__rnn_cell *c = (kc__rnn_cell *)self;
    int64_t u = c->units, gu = kc__rcell_gates(c->kind) * u;
    int64_t kd[2] = {in[0].dims[in[0].ndim - 1], gu}, rd[2] = {u, gu};
    c->kernel = kc_layer_add_weight(self, "kernel", 2, kd, c->kernel_init, c->kernel_reg, c->kernel_con, true, err);
    if (!c->kernel) return kc__error_code(err, KC_ENOMEM);
    c->recurrent_kernel = kc_layer_add_weight(self, "recurrent_kernel", 2, rd, c->recurrent_init,
                                              c->recurrent_reg, c->recurrent_con, true, err);
    if (!c->recurrent_kernel) return kc__error_code(err, KC_ENOMEM);
    if (!c->use_bias) return KC_OK;
    bool after = c->kind == KC__RCELL_GRU && c->reset_after;
    bool ufb = c->kind == KC__RCELL_LSTM && c->unit_forget_bias;
    int64_t bd[2] = {2, gu};
    c->bias = kc_layer_add_weight(self, "bias", after ? 2 : 1, after ? bd : &gu, ufb ? NULL : c->bias_init,
                                  c->bias_reg, c->bias_con, true, err);
    if (!c->bias) return kc__error_code(err, KC_ENOMEM);
    return ufb ? forget_bias(c, err) : KC_OK;
}

/* ---- running ------------------------------------------------------------------------------ */

/* Keras' dropout mask: 1 / (1 - rate) with probability 1 - rate, else 0. */
static kc_tensor *dropout_mask(kc__rnn_cell *c, double rate, int ndim, const int64_t *dims, kc_error *err)
{
    kc_tensor *m = kc_tensor_empty(KC_FLOAT32, ndim, dims, err);
    if (!m) return NULL;
    kc_rng *rng = c->has_seed ? &c->rng : kc_global_rng();
    float keep = (float)(1.0 / (1.0 - rate));
    float *p = kc_tensor_f32(m);
    for (int64_t i = 0; i < kc_tensor_size(m); i++) p[i] = kc_rng_uniform(rng) >= rate ? keep : 0.0f;
    return m;
}

kc_status kc__rnn_cell_run(kc__rnn_cell *c, kc__rnn_spec spec, kc_tensor *x, kc_tensor *const *states,
                           kc_tensor *mask, bool training, kc_tensor **out, kc_error *err)
{
    if (!c->kernel) return kc__errf(err, KC_ESTATE, "cell '%s' is not built", kc_layer_name(&c->base.base));
    spec.cell = c->kind;
    spec.units = c->units;
    spec.activation = c->act;
    spec.recurrent_activation = c->rec_act;
    spec.reset_after = c->reset_after;
    int64_t B = kc_tensor_dim(x, 0);
    kc_scope *sc = kc_scope_new(err);
    kc_tensor *xin = x, *rdp = NULL, *m = mask;
    if (training && c->dropout > 0.0 && c->dropout < 1.0) {
        int64_t d[3] = {B, 1, kc_tensor_dim(x, 2)};
        xin = kc_scope_take(sc, kc_mul(x, kc_scope_take(sc, dropout_mask(c, c->dropout, 3, d, err)), err));
    }
    if (training && c->recurrent_dropout > 0.0 && c->recurrent_dropout < 1.0)
        rdp = kc_scope_take(sc, dropout_mask(c, c->recurrent_dropout, 2, (int64_t[]){B, c->units}, err));
    /* masks are (batch, timesteps); accept any shape with those elements */
    if (m && kc_tensor_ndim(m) != 2 && kc_tensor_size(m) == B * kc_tensor_dim(x, 1))
        m = kc_scope_take(sc, kc_reshape(m, 2, (int64_t[]){B, kc_tensor_dim(x, 1)}, err));
    if (m && kc_tensor_dtype(m) != KC_FLOAT32) m = kc_scope_take(sc, kc_cast(m, KC_FLOAT32, err));
    kc_status rc = KC_OK;
    if (!xin || ((training && c->recurrent_dropout > 0.0 && c->recurrent_dropout < 1.0) && !rdp) || (mask && !m))
        rc = kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK) {
        kc__rnn_args args = {
            .x = xin,
            .kernel = kc_variable_value(c->kernel),
            .recurrent_kernel = kc_variable_value(c->recurrent_kernel),
            .bias = c->bias ? kc_variable_value(c->bias) : NULL,
            .h0 = states[0],
            .c0 = c->kind == KC__RCELL_LSTM ? states[1] : NULL,
            .mask = m,
            .rec_dropout = rdp,
        };
        rc = kc__rnn_run(&spec, &args, out, err);
    }
    kc_scope_free(sc);
    return rc;
}

/* ---- the cell as a layer ------------------------------------------------------------------- */

static kc_status cell_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                   int *n_out, kc_error *err)
{
    const kc__rnn_cell *c = (const kc__rnn_cell *)self;
    int ns = kc__rcell_states(c->kind);
    if (n_in != 1 + ns)
        return kc__errf(err, KC_EINVAL, "%s takes the step input and %d state%s, got %d input%s",
                        self->cls->name, ns, ns == 1 ? "" : "s", n_in, n_in == 1 ? "" : "s");
    if (in[0].ndim != 2 || in[0].dims[1] < 0)
        return kc__errf(err, KC_ESHAPE, "%s needs step inputs of shape (batch, features)", self->cls->name);
    if (c->kernel && in[0].dims[1] != kc_tensor_dim(kc_variable_value(c->kernel), 0))
        return kc__errf(err, KC_ESHAPE, "%s was built for %lld input features, got %lld", self->cls->name,
                        (long long)kc_tensor_dim(kc_variable_value(c->kernel), 0), (long long)in[0].dims[1]);
    for (int i = 1; i < n_in; i++)
        if (in[i].ndim != 2 || (in[i].dims[1] >= 0 && in[i].dims[1] != c->units))
            return kc__errf(err, KC_ESHAPE, "%s: state %d must have shape (batch, %lld)", self->cls->name,
                            i - 1, (long long)c->units);
    kc_shape s = kc_shape_make(2, (int64_t[]){in[0].dims[0], c->units});
    for (int i = 0; i <= ns; i++) out[i] = s;
    *n_out = 1 + ns;
    return KC_OK;
}

static kc_status cell_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    kc__rnn_cell *c = (kc__rnn_cell *)self;
    kc_tensor *x = a->inputs[0];
    kc_tensor *x3 = kc_reshape(x, 3, (int64_t[]){kc_tensor_dim(x, 0), 1, kc_tensor_dim(x, 1)}, err);
    if (!x3) return kc__error_code(err, KC_ENOMEM);
    kc__rnn_spec spec = {.return_sequences = false};
    kc_tensor *res[3] = {0};
    kc_status rc = kc__rnn_cell_run(c, spec, x3, a->inputs + 1, NULL, a->training, res, err);
    kc_tensor_unref(x3);
    if (rc != KC_OK) return rc;
    for (int i = 0; i < n_out; i++) out[i] = res[i];
    return KC_OK;
}

static const kc_layer_methods cell_methods = {
    .min_inputs = 2,
    .max_inputs = 3,
    .build = cell_build,
    .call = cell_call,
    .compute_output_shape = cell_output_shape,
};

#define CELL_CLASS(var, cname, initfn)                                                             \
    const kc_class var = {                                                                         \
        .abi = KC_CLASS_ABI,                                                                       \
        .kind = KC_KIND_LAYER,                                                                     \
        .name = cname,                                                                             \
        .size = sizeof(kc__rnn_cell),                                                              \
        .config_version = 1,                                                                       \
        .init = initfn,                                                                            \
        .fini = cell_fini,                                                                         \
        .get_config = cell_get_config,                                                             \
        .from_config = cell_from_config,                                                           \
        .methods = &cell_methods,                                                                  \
    }
CELL_CLASS(kc__simple_rnn_cell_class, "SimpleRNNCell", simple_init);
CELL_CLASS(kc__lstm_cell_class, "LSTMCell", lstm_init);
CELL_CLASS(kc__gru_cell_class, "GRUCell", gru_init);
#undef CELL_CLASS

bool kc__is_rnn_cell(const kc_object *o)
{
    return o && (o->cls == &kc__simple_rnn_cell_class || o->cls == &kc__lstm_cell_class ||
                 o->cls == &kc__gru_cell_class);
}

kc__rnn_cell *kc__rnn_cell_from_layer_config(kc__rcell kind, const json_t *cfg, const kc_config_ctx *ctx,
                                             bool trainable, kc_error *err)
{
    static const kc_class *const classes[] = {&kc__simple_rnn_cell_class, &kc__lstm_cell_class,
                                              &kc__gru_cell_class};
    kc_object *o = kc_object_new(classes[kind], err);
    if (!o) return NULL;
    kc_status rc = kc__layer_set_name(o, cell_names[kind], err);
    if (rc == KC_OK) rc = cell_read((kc__rnn_cell *)o, cfg, ctx, err);
    if (rc != KC_OK) {
        kc_object_unref(o);
        return NULL;
    }
    kc__as_layer(o)->trainable = trainable;
    return (kc__rnn_cell *)o;
}
