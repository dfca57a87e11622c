/* Sample 6: custom models and layers made of layers.
 *
 * The seed's custom-model section is prose; this sample writes the two
 * classic examples it describes (from the book the seed follows):
 *
 *  - ResidualBlock(n_layers, n_neurons), a layer that owns layers: its
 *    Dense layers are tracked (kc_layer_track_layer, Keras' `self.hidden =
 *    [...]`), so their weights are the block's (saved in its group, named
 *    "residual_block/dense/kernel:0"), and it computes inputs + hidden(inputs).
 *    A Sequential with two blocks trains, saves to .h5 and .keras and loads
 *    back (the block rebuilds its layers from its own config).
 *  - ReconstructingRegressor(output_dim), a subclassed model: hidden Dense
 *    layers made in its from_config (__init__) and a reconstruction layer
 *    made in build (its size is the input's, known only then); call adds
 *    0.05 * mean((reconstruction - inputs)^2) to the model's losses
 *    (self.add_loss) and reports the reconstruction error as a metric
 *    (self.add_metric), so fit minimises loss + that term and logs the
 *    error per epoch. Saved (class name and get_config in the file),
 *    loaded through custom_objects, and its weights alone saved with
 *    save_weights and loaded into a new instance with load_weights.
 * Exit 1 if a check fails.
 *
 * Lines: not a seed part (the seed describes custom models in prose only).
 *
 * Run: custom_model DATA_DIR OUT_DIR */
#include <ckeras.h>

#include "common/check.h"
#include "common/datasets.h"

#include <math.h>
#include <string.h>

/* ---- ResidualBlock: a layer that owns layers --------------------------------------------------- */

#define MAX_BLOCK_LAYERS 8

typedef struct residual_block {
    kc_layer base;
    int64_t n_layers, n_neurons;
    kc_object *hidden[MAX_BLOCK_LAYERS]; /* borrowed: the block tracks (owns) them */
} residual_block;

/* __init__(self, n_layers, n_neurons): self.hidden = [Dense(n_neurons, "elu", "he_normal"), ...] */
static kc_status block_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx, kc_error *e)
{
    residual_block *b = (residual_block *)self;
    kc_status rc = kc_cfg_int(ctx, config, "n_layers", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &b->n_layers, e);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, config, "n_neurons", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &b->n_neurons, e);
    if (rc == KC_OK && b->n_layers > MAX_BLOCK_LAYERS) rc = kc_error_set(e, KC_ELIMIT, "at most 8 layers");
    for (int i = 0; rc == KC_OK && i < b->n_layers; i++) {
        char attr[32];
        snprintf(attr, sizeof attr, "hidden_%d", i); /* Keras 3 files keep each under its attribute */
        b->hidden[i] = kc_layer_track_layer_take(
            self, attr,
            kc_layers_dense(&(kc_layers_dense_args){.units = b->n_neurons, .activation = KC_NAME("elu"),
                                                    .kernel_initializer = KC_NAME("he_normal")},
                            e),
            e);
        if (!b->hidden[i]) rc = e->code;
    }
    return rc;
}
static kc_status block_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    const residual_block *b = (const residual_block *)self;
    kc_status rc = kc_cfg_set_int(config, "n_layers", b->n_layers, e);
    return rc ? rc : kc_cfg_set_int(config, "n_neurons", b->n_neurons, e);
}
/* The tracked layers are built here, so a loaded model has all its weights before they are read. */
static kc_status block_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    residual_block *b = (residual_block *)self;
    kc_status rc = KC_OK;
    for (int i = 0; rc == KC_OK && i < b->n_layers; i++) rc = kc_layer_build(b->hidden[i], in, 1, e);
    return rc;
}
/* call(self, inputs): Z = inputs; for layer in self.hidden: Z = layer(Z); return inputs + Z */
static kc_status block_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out, kc_error *e)
{
    residual_block *b = (residual_block *)self;
    kc_scope *s = kc_scope_new(e);
    kc_tensor *z = args->inputs[0];
    for (int i = 0; i < b->n_layers; i++) z = kc_s_layer_call1(s, b->hidden[i], z, args->training);
    out[0] = kc_scope_return(s, kc_s_add(s, args->inputs[0], z));
    return out[0] ? KC_OK : e->code;
}
static const kc_layer_methods block_methods = {.build = block_build, .call = block_call}; /* output: the input's shape */
static const kc_class block_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "ResidualBlock", .size = sizeof(residual_block),
    .config_version = 1, .get_config = block_get_config, .from_config = block_from_config, .methods = &block_methods};

typedef struct block_args {
    KC_LAYER_ARGS;
    int64_t n_layers, n_neurons;
} block_args;
static const kc_arg_field block_fields[] = {KC_ARG_LAYER(block_args), KC_ARG(block_args, n_layers),
                                            KC_ARG(block_args, n_neurons)};

/* ResidualBlock(n_layers, n_neurons) */
static kc_object *residual_block_new(const block_args *args, kc_error *e)
{
    return kc_object_from_args(&block_class, block_fields, KC_ARRAY_SIZE(block_fields), args, e);
}

/* ---- ReconstructingRegressor: a subclassed model -------------------------------------------------- */

typedef struct regressor {
    kc_model base; /* the Model base first */
    int64_t output_dim;
    kc_object *hidden[2], *out, *reconstruct; /* borrowed: the model tracks (owns) them */
} regressor;

/* __init__(self, output_dim): the layers whose sizes are known now */
static kc_status regressor_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx, kc_error *e)
{
    regressor *m = (regressor *)self;
    kc_status rc = kc_cfg_int(ctx, config, "output_dim", KC_CFG_POSITIVE, 1, &m->output_dim, e);
    for (int i = 0; i < 2 && rc == KC_OK; i++) {
        m->hidden[i] = kc_layer_track_layer_take(
            self, NULL,
            kc_layers_dense(&(kc_layers_dense_args){.units = 30, .activation = KC_NAME("selu"),
                                                    .name = i ? "hidden_1" : "hidden"},
                            e),
            e);
        if (!m->hidden[i]) rc = e->code;
    }
    if (rc == KC_OK)
        m->out = kc_layer_track_layer_take(
            self, NULL, kc_layers_dense(&(kc_layers_dense_args){.units = m->output_dim, .name = "out"}, e), e);
    return rc == KC_OK && !m->out ? e->code : rc;
}
static kc_status regressor_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    return kc_cfg_set_int(config, "output_dim", ((const regressor *)self)->output_dim, e);
}
/* build(self, batch_input_shape): the reconstruction layer, as wide as the input */
static kc_status regressor_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    regressor *m = (regressor *)self;
    kc_object *dense = kc_layers_dense(
        &(kc_layers_dense_args){.units = in[0].dims[in[0].ndim - 1], .name = "reconstruct"}, e);
    m->reconstruct = kc_layer_track_layer_take(self, NULL, dense, e);
    return m->reconstruct ? KC_OK : e->code;
}
static kc_status regressor_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out, kc_error *e)
{
    regressor *m = (regressor *)self;
    kc_scope *s = kc_scope_new(e);
    kc_tensor *inputs = args->inputs[0], *z = inputs;
    for (int i = 0; i < 2; i++) z = kc_s_layer_call1(s, m->hidden[i], z, args->training);
    kc_tensor *reconstruction = kc_s_layer_call1(s, m->reconstruct, z, args->training);
    kc_tensor *recon_loss = kc_s_reduce_mean(s, kc_s_square(s, kc_s_sub(s, reconstruction, inputs)), NULL, 0, false);
    kc_tensor *weighted = kc_s_mul_scalar(s, recon_loss, 0.05f);
    kc_status rc = weighted ? kc_layer_add_loss(self, weighted, e) : e->code;           /* self.add_loss(0.05 * ...) */
    if (rc == KC_OK) rc = kc_layer_add_metric(self, recon_loss, "reconstruction_error", e); /* self.add_metric(...) */
    if (rc == KC_OK && !(out[0] = kc_layer_call1(m->out, z, args->training, e))) rc = e->code;
    kc_scope_free(s);
    return rc;
}
static kc_status regressor_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                        int *n_out, kc_error *e)
{
    out[0] = in[0];
    out[0].dims[in[0].ndim - 1] = ((const regressor *)self)->output_dim;
    *n_out = 1;
    return KC_OK;
}
static const kc_model_methods regressor_methods = {
    .layer = {.build = regressor_build, .call = regressor_call, .compute_output_shape = regressor_output_shape}};
static const kc_class regressor_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_MODEL, .name = "ReconstructingRegressor", .size = sizeof(regressor),
    .config_version = 1, .get_config = regressor_get_config, .from_config = regressor_from_config,
    .methods = &regressor_methods};

typedef struct regressor_args {
    KC_LAYER_ARGS;
    int64_t output_dim;
} regressor_args;
static const kc_arg_field regressor_fields[] = {KC_ARG_LAYER(regressor_args), KC_ARG(regressor_args, output_dim)};

/* ReconstructingRegressor(output_dim) */
static kc_object *regressor_new(const regressor_args *args, kc_error *e)
{
    return kc_object_from_args(&regressor_class, regressor_fields, KC_ARRAY_SIZE(regressor_fields), args, e);
}

/* ---- checks ---------------------------------------------------------------------------------------- */

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

/* Save in both formats, load with the class in custom_objects: the same predictions. */
static void round_trip(kc_object *model, const kc_class *cls, kc_tensor *x, const char *dir, const char *stem)
{
    const char *formats[] = {"h5", "keras"};
    kc_custom_objects *co = NN(kc_custom_objects_new(&err));
    TRY(kc_custom_objects_add_class(co, NULL, cls, &err));
    kc_load_options load = {.custom_objects = co};
    kc_tensor *p = predict(model, x);
    for (int f = 0; f < 2; f++) {
        char path[4096], what[256];
        snprintf(path, sizeof path, "%s/%s.%s", dir, stem, formats[f]);
        TRY(kc_model_save(model, path, NULL, &err));
        kc_object *loaded = NN(kc_model_load(path, &load, &err));
        kc_tensor *p2 = predict(loaded, x);
        snprintf(what, sizeof what, "%s.%s loads as the same model: same predictions", stem, formats[f]);
        check(kc_object_class(loaded) == kc_object_class(model) && same_values(p, p2), what);
        kc_tensor_unref(p2);
        kc_object_unref(loaded);
    }
    kc_tensor_unref(p);
    kc_custom_objects_free(co);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    kc_set_random_seed(42);
    kc_tensor *x, *y;
    TRY(ds_diabetes(argv[1], &x, &y, &err));
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 5};

    /* ---- a Sequential with two ResidualBlocks ---- */
    printf("ResidualBlock, a layer that owns layers:\n");
    kc_object *model = NN(kc_sequential_new_take(
        "residual",
        (kc_object *[]){kc_layers_dense(&(kc_layers_dense_args){.units = 30, .activation = KC_NAME("elu"),
                                                                .input_shape = KC_SHAPE(10)},
                                        &err),
                        residual_block_new(&(block_args){.n_layers = 2, .n_neurons = 30}, &err),
                        residual_block_new(&(block_args){.n_layers = 2, .n_neurons = 30}, &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 1}, &err)},
        4, &err));
    kc_object *block = kc_model_layer(model, 1);
    printf("  %s: %d weights, %lld parameters; first: %s\n", kc_layer_name(block), kc_layer_num_weights(block),
           (long long)kc_layer_count_params(block), kc_variable_name(kc_layer_weight(block, 0)));
    check(kc_layer_num_weights(block) == 4 && kc_layer_count_params(block) == 2 * (30 * 30 + 30),
          "the block's weights are its two Dense layers'");
    check(strncmp(kc_variable_name(kc_layer_weight(block, 0)), "residual_block/", 15) == 0,
          "and they are named under the block");
    TRY(kc_model_compile(model, "{\"optimizer\": \"nadam\", \"loss\": \"mse\"}", NULL, &err));
    kc_history *history;
    TRY(kc_model_fit(model, &fit, &history, &err));
    const double *loss = kc_history_values(history, "loss");
    printf("  loss: %.4f -> %.4f\n", loss[0], loss[4]);
    check(loss[4] < loss[0], "the residual model trains");
    kc_history_free(history);
    round_trip(model, &block_class, x, argv[2], "residual_blocks");
    kc_object_unref(model);

    /* ---- ReconstructingRegressor ---- */
    printf("ReconstructingRegressor, a subclassed model:\n");
    model = NN(regressor_new(&(regressor_args){.output_dim = 1}, &err));
    TRY(kc_model_compile(model, "{\"optimizer\": \"nadam\", \"loss\": \"mse\"}", NULL, &err));
    TRY(kc_model_fit(model, &fit, &history, &err)); /* add_metric values are logged as Means, as Keras does */
    loss = kc_history_values(history, "loss");
    const double *rec = kc_history_values(history, "reconstruction_error");
    for (int e = 0; rec && e < kc_history_num_epochs(history); e++)
        printf("  epoch %d - loss: %.4f - reconstruction_error: %.4f\n", e + 1, loss[e], rec[e]);
    check(rec && loss[4] < loss[0], "the loss went down, the reconstruction error is logged");
    kc_history_free(history);

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
    double added = kc_tensor_item(kc_layer_loss(model, 0)), recon = kc_tensor_item(kc_layer_metric_value(model, 0, NULL));
    printf("  evaluate: loss %.6f = mse %.6f + add_loss %.6f (0.05 * reconstruction_error %.6f)\n", total, mse, added,
           recon);
    check(fabs(added - 0.05 * recon) <= 1e-6 * recon, "add_loss is 0.05 * the reconstruction error");
    check(fabs(total - (mse + added)) <= 1e-5 * total, "add_loss joins the loss");
    kc_logs_free(logs);
    kc_tensor_unref(p);

    /* model.save(...); load_model(..., custom_objects={"ReconstructingRegressor": ...}) */
    round_trip(model, &regressor_class, x, argv[2], "reconstructing_regressor");

    /* save_weights / load_weights into a new instance, built for [None, 10] */
    char weights_path[4096];
    snprintf(weights_path, sizeof weights_path, "%s/reconstructing_regressor.weights.h5", argv[2]);
    TRY(kc_model_save_weights(model, weights_path, NULL, &err));
    kc_object *fresh = NN(regressor_new(&(regressor_args){.output_dim = 1}, &err));
    kc_shape input = kc_shape_make(2, (int64_t[]){-1, 10});
    TRY(kc_model_build(fresh, &input, 1, &err));
    p = predict(model, x);
    kc_tensor *p_fresh = predict(fresh, x);
    check(!same_values(p, p_fresh), "a new instance predicts differently before load_weights");
    kc_tensor_unref(p_fresh);
    TRY(kc_model_load_weights(fresh, weights_path, NULL, &err));
    p_fresh = predict(fresh, x);
    check(same_values(p, p_fresh), "after load_weights it predicts the same values");

    kc_tensor *tmp[] = {p, p_fresh, x, y};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) kc_tensor_unref(tmp[i]);
    kc_object_unref(fresh);
    kc_object_unref(model);
    return failed;
}
