/* The seed's custom components in C (see seed_classes.h). */
#include "seed_classes.h"

#include <stdlib.h>
#include <string.h>

/* ---- huber, the building block ---------------------------------------------------------- */

kc_tensor *seed_huber_elementwise(kc_tensor *y_true, kc_tensor *y_pred, float t, kc_error *err)
{
    kc_scope *s = kc_scope_new(err);
    if (!s) return NULL;
    kc_tensor *d = kc_scope_take(s, kc_sub(y_true, y_pred, err));
    kc_tensor *a = kc_scope_take(s, kc_abs(d, err));
    kc_tensor *small = kc_scope_take(s, kc_less_scalar(a, t, err));
    kc_tensor *sq = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_square(d, err)), 0.5f, err));
    kc_tensor *lin = kc_scope_take(s, kc_sub_scalar(kc_scope_take(s, kc_mul_scalar(a, t, err)), 0.5f * t * t, err));
    kc_tensor *loss = kc_where(small, sq, lin, err);
    kc_scope_free(s);
    return loss;
}

static kc_tensor *huber_per_sample(kc_tensor *y_true, kc_tensor *y_pred, float t, kc_error *err)
{
    kc_tensor *e = seed_huber_elementwise(y_true, y_pred, t, err);
    if (!e) return NULL;
    int last = -1;
    kc_tensor *m = kc_reduce_mean(e, &last, 1, false, err);
    kc_tensor_unref(e);
    return m;
}

/* create_huber(threshold)'s huber_fn: params points to the float threshold
 * (NULL: 1.0, what the seed's create_huber() defaults to). */
kc_tensor *seed_huber_fn(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    return huber_per_sample(y_true, y_pred, params ? *(float *)params : 1.0f, err);
}

/* ---- my_softplus ---------------------------------------------------------------------- */

kc_tensor *seed_my_softplus(kc_tensor *x, void *params, kc_error *err)
{
    (void)params;
    kc_tensor *ex = kc_exp(x, err), *p = kc_add_scalar(ex, 1.0f, err), *y = kc_log(p, err);
    kc_tensor_unref(ex);
    kc_tensor_unref(p);
    return y;
}

/* ---- HuberLoss -------------------------------------------------------------------------- */

typedef struct huber_loss {
    kc_loss base;
    double threshold;
} huber_loss;

static kc_status huber_loss_init(kc_object *self, kc_error *err)
{
    (void)err;
    ((huber_loss *)self)->threshold = 1.0;
    return KC_OK;
}
static kc_status huber_loss_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    return kc_cfg_set_float(cfg, "threshold", ((const huber_loss *)self)->threshold, err);
}
static kc_status huber_loss_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                        kc_error *err)
{
    return kc_cfg_float(ctx, cfg, "threshold", KC_CFG_POSITIVE, 1.0, &((huber_loss *)self)->threshold, err);
}
static kc_tensor *huber_loss_call(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred, kc_error *err)
{
    return huber_per_sample(y_true, y_pred, (float)((huber_loss *)self)->threshold, err);
}
static const kc_loss_methods huber_loss_methods = {huber_loss_call};
const kc_class seed_huber_loss_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_LOSS, .name = "HuberLoss", .size = sizeof(huber_loss),
    .config_version = 1, .init = huber_loss_init, .get_config = huber_loss_get_config,
    .from_config = huber_loss_from_config, .methods = &huber_loss_methods};

/* ---- HuberMetric ------------------------------------------------------------------------ */

typedef struct huber_metric {
    kc_metric base;
    double threshold;
    kc_variable *total, *count; /* borrowed from base */
} huber_metric;

static kc_status huber_metric_init(kc_object *self, kc_error *err)
{
    huber_metric *h = (huber_metric *)self;
    h->threshold = 1.0;
    h->total = kc_metric_add_variable(self, "total", 0, NULL, err);
    h->count = h->total ? kc_metric_add_variable(self, "count", 0, NULL, err) : NULL;
    return h->count ? KC_OK : KC_ENOMEM;
}
static kc_status huber_metric_update(kc_object *self, kc_tensor *yt, kc_tensor *yp, kc_tensor *sw,
                                     kc_error *err)
{
    (void)sw;
    huber_metric *h = (huber_metric *)self;
    kc_tensor *e = seed_huber_elementwise(yt, yp, (float)h->threshold, err);
    kc_tensor *sum = e ? kc_reduce_sum(e, NULL, 0, false, err) : NULL;
    kc_tensor_unref(e);
    if (!sum) return err->code ? err->code : KC_ENOMEM;
    kc_tensor_f32(kc_variable_value(h->total))[0] += kc_tensor_item(sum);
    kc_tensor_f32(kc_variable_value(h->count))[0] += (float)kc_tensor_size(yt);
    kc_tensor_unref(sum);
    return KC_OK;
}
static kc_tensor *huber_metric_result(kc_object *self, kc_error *err)
{
    huber_metric *h = (huber_metric *)self;
    float n = kc_tensor_item(kc_variable_value(h->count));
    return kc_tensor_scalar(n > 0 ? kc_tensor_item(kc_variable_value(h->total)) / n : 0.0f, err);
}
static kc_status huber_metric_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    return kc_cfg_set_float(cfg, "threshold", ((const huber_metric *)self)->threshold, err);
}
static kc_status huber_metric_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                          kc_error *err)
{
    return kc_cfg_float(ctx, cfg, "threshold", KC_CFG_POSITIVE, 1.0, &((huber_metric *)self)->threshold, err);
}
static const kc_metric_methods huber_metric_methods = {huber_metric_update, huber_metric_result, NULL};
const kc_class seed_huber_metric_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_METRIC, .name = "HuberMetric", .size = sizeof(huber_metric),
    .config_version = 1, .init = huber_metric_init, .get_config = huber_metric_get_config,
    .from_config = huber_metric_from_config, .methods = &huber_metric_methods};

/* ---- MyDense ---------------------------------------------------------------------------- */

typedef struct my_dense {
    kc_layer base;
    int64_t units;
    kc_object *activation;
    kc_variable *kernel, *bias; /* borrowed from the base */
} my_dense;

static void my_dense_fini(kc_object *self) { kc_object_unref(((my_dense *)self)->activation); }

static kc_status my_dense_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const my_dense *d = (const my_dense *)self;
    if (json_object_set_new(cfg, "units", json_integer(d->units))) return KC_ENOMEM;
    return kc_cfg_set_object(cfg, "activation", d->activation, err);
}
static kc_status my_dense_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                      kc_error *err)
{
    my_dense *d = (my_dense *)self;
    kc_status rc = kc_cfg_int(ctx, cfg, "units", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &d->units, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "activation", KC_KIND_ACTIVATION, "linear", &d->activation, err);
    return rc;
}
static kc_status my_dense_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    my_dense *d = (my_dense *)self;
    kc_object *glorot = kc_object_create(KC_KIND_INITIALIZER, "glorot_normal", err);
    if (!glorot) return err->code;
    int64_t kdims[2] = {in[0].dims[in[0].ndim - 1], d->units};
    d->kernel = kc_layer_add_weight(self, "kernel", 2, kdims, glorot, NULL, NULL, true, err);
    kc_object_unref(glorot);
    if (d->kernel) d->bias = kc_layer_add_weight(self, "bias", 1, &d->units, NULL, NULL, NULL, true, err);
    return d->bias ? KC_OK : err->code;
}
static kc_status my_dense_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                               kc_error *err)
{
    (void)n_out;
    my_dense *d = (my_dense *)self;
    kc_tensor *xw = kc_matmul(a->inputs[0], kc_variable_value(d->kernel), false, false, err);
    kc_tensor *z = xw ? kc_add(xw, kc_variable_value(d->bias), err) : NULL;
    kc_tensor_unref(xw);
    out[0] = z ? kc_activation_call(d->activation, z, err) : NULL;
    kc_tensor_unref(z);
    return out[0] ? KC_OK : err->code;
}
static kc_status my_dense_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                       int *n_out, kc_error *err)
{
    (void)n_in;
    (void)err;
    out[0] = in[0];
    out[0].dims[in[0].ndim - 1] = ((const my_dense *)self)->units;
    *n_out = 1;
    return KC_OK;
}
static const kc_layer_methods my_dense_methods = {
    .build = my_dense_build, .call = my_dense_call, .compute_output_shape = my_dense_output_shape};
const kc_class seed_my_dense_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "MyDense", .size = sizeof(my_dense),
    .config_version = 1, .fini = my_dense_fini, .get_config = my_dense_get_config,
    .from_config = my_dense_from_config, .methods = &my_dense_methods};

/* ---- ReconstructingRegressor (subclassed) ------------------------------------------------------------ */

/* The seed's custom model: hidden Dense layers, an output layer, and a
 * reconstruction layer created in build (its size is the input's), whose
 * mean squared reconstruction error joins the loss through add_loss. */
typedef struct regressor {
    kc_model base;
    int64_t units, outputs;
    kc_object *hidden[2], *out, *reconstruct; /* owned references; also tracked */
} regressor;

static void regressor_fini(kc_object *self)
{
    regressor *m = (regressor *)self;
    kc_object_unref(m->hidden[0]);
    kc_object_unref(m->hidden[1]);
    kc_object_unref(m->out);
    kc_object_unref(m->reconstruct);
}
static kc_status regressor_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    (void)err;
    const regressor *m = (const regressor *)self;
    if (json_object_set_new(cfg, "units", json_integer(m->units)) ||
        json_object_set_new(cfg, "outputs", json_integer(m->outputs)))
        return KC_ENOMEM;
    return KC_OK;
}
static kc_object *make_dense(const char *name, int64_t units, const char *act, kc_error *err)
{
    char cfg[160];
    snprintf(cfg, sizeof cfg, "{\"name\": \"%s\", \"units\": %lld, \"activation\": \"%s\"}", name,
             (long long)units, act);
    return kc_layer_create("Dense", cfg, err);
}
static kc_status regressor_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                       kc_error *err)
{
    regressor *m = (regressor *)self;
    kc_status rc = kc_cfg_int(ctx, cfg, "units", KC_CFG_POSITIVE, 8, &m->units, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "outputs", KC_CFG_POSITIVE, 1, &m->outputs, err);
    const char *names[2] = {"hidden", "hidden_1"};
    for (int i = 0; i < 2 && rc == KC_OK; i++)
        if (!(m->hidden[i] = make_dense(names[i], m->units, "selu", err))) rc = err->code;
    if (rc == KC_OK && !(m->out = make_dense("out", m->outputs, "linear", err))) rc = err->code;
    for (int i = 0; i < 2 && rc == KC_OK; i++) rc = kc_model_track_layer(self, m->hidden[i], err);
    if (rc == KC_OK) rc = kc_model_track_layer(self, m->out, err);
    return rc;
}
static kc_status regressor_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    regressor *m = (regressor *)self;
    m->reconstruct = make_dense("reconstruct", in[0].dims[in[0].ndim - 1], "linear", err);
    return m->reconstruct ? kc_model_track_layer(self, m->reconstruct, err) : err->code;
}
static kc_status regressor_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                                kc_error *err)
{
    (void)n_out;
    regressor *m = (regressor *)self;
    kc_scope *s = kc_scope_new(err);
    if (!s) return err->code;
    kc_tensor *z = a->inputs[0];
    for (int i = 0; i < 2; i++) z = kc_scope_take(s, kc_layer_call1(m->hidden[i], z, a->training, err));
    kc_tensor *recon = kc_scope_take(s, kc_layer_call1(m->reconstruct, z, a->training, err));
    kc_tensor *diff = kc_scope_take(s, kc_sub(recon, a->inputs[0], err));
    kc_tensor *mse = kc_scope_take(s, kc_reduce_mean(kc_scope_take(s, kc_square(diff, err)), NULL, 0, false, err));
    kc_tensor *pen = kc_scope_take(s, kc_mul_scalar(mse, 0.05f, err));
    kc_status rc = pen ? kc_layer_add_loss(self, pen, err) : err->code;
    if (rc == KC_OK && !(out[0] = kc_layer_call1(m->out, z, a->training, err))) rc = err->code;
    kc_scope_free(s);
    return rc;
}
static kc_status regressor_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                        int *n_out, kc_error *err)
{
    (void)n_in;
    (void)err;
    out[0] = in[0];
    out[0].dims[in[0].ndim - 1] = ((const regressor *)self)->outputs;
    *n_out = 1;
    return KC_OK;
}
static const kc_model_methods regressor_methods = {
    .layer = {.build = regressor_build, .call = regressor_call, .compute_output_shape = regressor_output_shape}};
const kc_class seed_regressor_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_MODEL, .name = "ReconstructingRegressor", .size = sizeof(regressor),
    .config_version = 1, .fini = regressor_fini, .get_config = regressor_get_config,
    .from_config = regressor_from_config, .methods = &regressor_methods};

/* ---- all of it as custom_objects ------------------------------------------------------------ */

kc_custom_objects *seed_custom_objects(float threshold, kc_error *err)
{
    kc_custom_objects *co = kc_custom_objects_new(err);
    float *t = malloc(sizeof *t);
    if (!co || !t) {
        free(t);
        kc_custom_objects_free(co);
        return NULL;
    }
    *t = threshold;
    const kc_class *classes[] = {&seed_my_dense_class, &seed_huber_loss_class, &seed_huber_metric_class,
                                 &seed_regressor_class};
    kc_status rc = KC_OK;
    for (size_t i = 0; rc == KC_OK && i < sizeof classes / sizeof *classes; i++)
        rc = kc_custom_objects_add_class(co, NULL, classes[i], err);
    if (rc == KC_OK)
        rc = kc_custom_objects_add_function(co, KC_KIND_LOSS, "huber_fn", (kc_fn)seed_huber_fn, t, free, err);
    else
        free(t);
    if (rc == KC_OK)
        rc = kc_custom_objects_add_function(co, KC_KIND_ACTIVATION, "my_softplus", (kc_fn)seed_my_softplus, NULL,
                                            NULL, err);
    if (rc != KC_OK) {
        kc_custom_objects_free(co);
        return NULL;
    }
    return co;
}
