/* Sample 6: a subclassed model with a loss and a metric of its own.
 *
 * The seed's ReconstructingRegressor(keras.Model): two hidden Dense layers
 * and an output layer made in __init__, plus a reconstruction layer made in
 * build (its size is the input's, known only then). call adds
 * 0.05 * mean((reconstruction - inputs)^2) to the model's losses
 * (self.add_loss) and reports the reconstruction error as a metric
 * (self.add_metric) and in a keras.metrics.Mean it owns (updated in
 * training calls), so fit minimises loss + that term and we can follow the
 * reconstruction error epoch by epoch.
 *
 * The model trains on diabetes, then is saved (its class name and
 * get_config go in the file), loaded back through custom_objects (the
 * class's from_config rebuilds the layers, the input shape stored with the
 * model builds it), and its weights alone are saved with save_weights and
 * loaded into a new instance with load_weights. Exit 1 if a check fails.
 *
 * Run: custom_model DATA_DIR OUT_DIR */
#include <ckeras.h>

#include "common/datasets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kc_error err;

static void die(const char *where)
{
    char buf[1024];
    fprintf(stderr, "custom_model: %s: %s\n", where, kc_error_format(&err, buf, sizeof buf));
    exit(1);
}
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) != KC_OK) die(#call);                                                           \
    } while (0)
static void *nn(void *p, const char *where)
{
    if (!p) die(where);
    return p;
}
#define NN(call) nn((call), #call)

static int failed;
static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    failed |= !ok;
}

/* ---- ReconstructingRegressor -------------------------------------------------------------------- */

typedef struct regressor {
    kc_model base; /* the Model base first */
    int64_t output_dim;
    kc_object *hidden[2], *out, *reconstruct; /* our references; the model tracks them too */
    kc_object *reconstruction_mean;           /* keras.metrics.Mean(name="reconstruction_error") */
} regressor;

static kc_object *dense(const char *name, int64_t units, const char *activation, kc_error *e)
{
    char config[200];
    snprintf(config, sizeof config, "{\"name\": \"%s\", \"units\": %lld, \"activation\": \"%s\"}", name,
             (long long)units, activation);
    return kc_layer_create("Dense", config, e);
}

static void regressor_fini(kc_object *self)
{
    regressor *m = (regressor *)self;
    kc_object_unref(m->hidden[0]);
    kc_object_unref(m->hidden[1]);
    kc_object_unref(m->out);
    kc_object_unref(m->reconstruct);
    kc_object_unref(m->reconstruction_mean);
}
static kc_status regressor_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    (void)e;
    return json_object_set_new(config, "output_dim", json_integer(((const regressor *)self)->output_dim)) ? KC_ENOMEM
                                                                                                           : KC_OK;
}
/* __init__(self, output_dim): the layers whose sizes are known now */
static kc_status regressor_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx, kc_error *e)
{
    regressor *m = (regressor *)self;
    kc_status rc = kc_cfg_int(ctx, config, "output_dim", KC_CFG_POSITIVE, 1, &m->output_dim, e);
    const char *names[2] = {"hidden", "hidden_1"};
    for (int i = 0; i < 2 && rc == KC_OK; i++)
        if (!(m->hidden[i] = dense(names[i], 30, "selu", e))) rc = e->code;
    if (rc == KC_OK && !(m->out = dense("out", m->output_dim, "linear", e))) rc = e->code;
    for (int i = 0; i < 2 && rc == KC_OK; i++) rc = kc_model_track_layer(self, m->hidden[i], e);
    if (rc == KC_OK) rc = kc_model_track_layer(self, m->out, e);
    if (rc == KC_OK &&
        !(m->reconstruction_mean = kc_object_create(
              KC_KIND_METRIC, "{\"class_name\": \"Mean\", \"config\": {\"name\": \"reconstruction_error\"}}", e)))
        rc = e->code;
    return rc;
}
/* build(self, batch_input_shape): the reconstruction layer, as wide as the input */
static kc_status regressor_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    (void)n_in;
    regressor *m = (regressor *)self;
    m->reconstruct = dense("reconstruct", in[0].dims[in[0].ndim - 1], "linear", e);
    return m->reconstruct ? kc_model_track_layer(self, m->reconstruct, e) : e->code;
}
static kc_status regressor_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out, kc_error *e)
{
    (void)n_out;
    regressor *m = (regressor *)self;
    kc_scope *s = kc_scope_new(e);
    kc_tensor *inputs = args->inputs[0], *z = inputs;
    for (int i = 0; i < 2; i++) z = kc_scope_take(s, kc_layer_call1(m->hidden[i], z, args->training, e));
    kc_tensor *reconstruction = kc_scope_take(s, kc_layer_call1(m->reconstruct, z, args->training, e));
    kc_tensor *diff = kc_scope_take(s, kc_sub(reconstruction, inputs, e));
    kc_tensor *recon_loss = kc_scope_take(s, kc_reduce_mean(kc_scope_take(s, kc_square(diff, e)), NULL, 0, false, e));
    kc_tensor *weighted = kc_scope_take(s, kc_mul_scalar(recon_loss, 0.05f, e));
    kc_status rc = weighted ? kc_layer_add_loss(self, weighted, e) : e->code;           /* self.add_loss(0.05 * ...) */
    if (rc == KC_OK) rc = kc_layer_add_metric(self, recon_loss, "reconstruction_error", e); /* self.add_metric(...) */
    if (rc == KC_OK && args->training) rc = kc_metric_update(m->reconstruction_mean, recon_loss, NULL, NULL, e);
    if (rc == KC_OK && !(out[0] = kc_layer_call1(m->out, z, args->training, e))) rc = e->code;
    kc_scope_free(s);
    return rc;
}
static kc_status regressor_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                        int *n_out, kc_error *e)
{
    (void)n_in, (void)e;
    out[0] = in[0];
    out[0].dims[in[0].ndim - 1] = ((const regressor *)self)->output_dim;
    *n_out = 1;
    return KC_OK;
}
static const kc_model_methods regressor_methods = {
    .layer = {.build = regressor_build, .call = regressor_call, .compute_output_shape = regressor_output_shape}};
static const kc_class regressor_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_MODEL, .name = "ReconstructingRegressor", .size = sizeof(regressor),
    .config_version = 1, .fini = regressor_fini, .get_config = regressor_get_config,
    .from_config = regressor_from_config, .methods = &regressor_methods};

/* ReconstructingRegressor(output_dim) */
static kc_object *regressor_new(int64_t output_dim)
{
    char config[64];
    snprintf(config, sizeof config, "{\"output_dim\": %lld}", (long long)output_dim);
    json_t *json = NN(kc_json_parse(config, strlen(config), 0, &err));
    kc_object *model = NN(kc_object_from_config(&regressor_class, json, NULL, &err));
    json_decref(json);
    return model;
}

static int same_values(kc_tensor *a, kc_tensor *b)
{
    if (kc_tensor_size(a) != kc_tensor_size(b)) return 0;
    for (int64_t i = 0; i < kc_tensor_size(a); i++)
        if (kc_tensor_get(a, i) != kc_tensor_get(b, i)) return 0;
    return 1;
}

static kc_tensor *predict(kc_object *model, kc_tensor *x)
{
    kc_tensor *p;
    TRY(kc_model_predict_on_batch(model, &x, 1, &p, &(int){0}, &err));
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    char model_path[4096], weights_path[4096];
    snprintf(model_path, sizeof model_path, "%s/reconstructing_regressor.h5", argv[2]);
    snprintf(weights_path, sizeof weights_path, "%s/reconstructing_regressor.weights.h5", argv[2]);
    kc_set_random_seed(42);
    kc_tensor *x, *y;
    TRY(ds_diabetes(argv[1], &x, &y, &err));

    /* model = ReconstructingRegressor(1); model.compile(loss="mse", optimizer="nadam") */
    kc_object *model = regressor_new(1);
    TRY(kc_model_compile(model, "{\"optimizer\": \"nadam\", \"loss\": \"mse\"}", NULL, &err));
    /* fit one epoch at a time, to print the Mean the model updates in call
     * (ckeras' fit does not log add_metric values yet) */
    regressor *r = (regressor *)model;
    double first = 0, last = 0;
    for (int epoch = 0; epoch < 5; epoch++) {
        kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .initial_epoch = epoch, .epochs = epoch + 1};
        kc_history *history;
        TRY(kc_metric_reset(r->reconstruction_mean, &err));
        TRY(kc_model_fit(model, &fit, &history, &err));
        kc_tensor *rec = NN(kc_metric_result(r->reconstruction_mean, &err));
        last = kc_history_values(history, "loss")[0];
        if (epoch == 0) first = last;
        printf("epoch %d - loss: %.4f - reconstruction_error: %.4f\n", epoch + 1, last, kc_tensor_item(rec));
        kc_tensor_unref(rec);
        kc_history_free(history);
    }
    check(last < first, "the loss went down");

    /* the loss is mse + 0.05 * reconstruction error (one batch of all samples) */
    kc_fit_args all = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 442};
    kc_logs *logs;
    TRY(kc_model_evaluate(model, &all, &logs, &err));
    double total = 0, mse = 0;
    kc_logs_get(logs, "loss", &total);
    kc_tensor *p = predict(model, x); /* the same call: its add_loss and add_metric values stay on the model */
    for (int64_t i = 0; i < 442; i++) mse += pow(kc_tensor_get(p, i) - kc_tensor_get(y, i), 2) / 442;
    const char *name = NULL;
    check(kc_layer_num_losses(model) == 1 && kc_layer_num_metric_values(model) == 1 &&
              kc_layer_metric_value(model, 0, &name) && strcmp(name, "reconstruction_error") == 0,
          "the call added one loss and one metric value, 'reconstruction_error'");
    double added = kc_tensor_item(kc_layer_loss(model, 0)), rec = kc_tensor_item(kc_layer_metric_value(model, 0, NULL));
    printf("evaluate: loss %.6f = mse %.6f + add_loss %.6f (0.05 * reconstruction_error %.6f)\n", total, mse, added,
           rec);
    check(fabs(added - 0.05 * rec) <= 1e-6 * rec, "add_loss is 0.05 * the reconstruction error");
    check(fabs(total - (mse + added)) <= 1e-5 * total, "add_loss joins the loss");
    kc_logs_free(logs);

    /* model.save(...); load_model(..., custom_objects={"ReconstructingRegressor": ...}) */
    TRY(kc_model_save(model, model_path, NULL, &err));
    kc_custom_objects *co = NN(kc_custom_objects_new(&err));
    TRY(kc_custom_objects_add_class(co, NULL, &regressor_class, &err));
    kc_load_options load = {.custom_objects = co};
    kc_object *loaded = NN(kc_model_load(model_path, &load, &err));
    kc_custom_objects_free(co);
    check(kc_object_class(loaded) == &regressor_class && kc_model_num_layers(loaded) == 4,
          "the file loads as a ReconstructingRegressor with its 4 layers");
    kc_tensor *p_loaded = predict(loaded, x);
    check(same_values(p, p_loaded), "the loaded model predicts the same values");
    check(kc_model_is_compiled(loaded), "the loaded model is compiled (training_config)");

    /* save_weights / load_weights into a new instance, built for [None, 10] */
    TRY(kc_model_save_weights(model, weights_path, NULL, &err));
    kc_object *fresh = regressor_new(1);
    kc_shape input = kc_shape_make(2, (int64_t[]){-1, 10});
    TRY(kc_model_build(fresh, &input, 1, &err));
    kc_tensor *p_fresh = predict(fresh, x);
    check(!same_values(p, p_fresh), "a new instance predicts differently before load_weights");
    kc_tensor_unref(p_fresh);
    TRY(kc_model_load_weights(fresh, weights_path, NULL, &err));
    p_fresh = predict(fresh, x);
    check(same_values(p, p_fresh), "after load_weights it predicts the same values");

    kc_tensor *tmp[] = {p, p_loaded, p_fresh, x, y};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) kc_tensor_unref(tmp[i]);
    kc_object_unref(fresh);
    kc_object_unref(loaded);
    kc_object_unref(model);
    return failed;
}
