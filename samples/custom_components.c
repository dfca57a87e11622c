/* Sample 3: custom activation, initializer, regularizer and constraint.
 *
 * The seed's four functions on a Dense layer, in C:
 *
 *     Dense(30, activation=my_softplus, kernel_initializer=my_glorot_initial,
 *           kernel_regularizer=my_l1_regular, kernel_constraint=my_positive_weights)
 *
 * KC_FUNCTION(f) gives a C function to a layer argument, saved under its
 * name ("my_softplus"); and the class form of the regularizer, whose
 * factor is saved in its config (class MyL1Regularizer(
 * keras.regularizers.Regularizer) with get_config). Functions are saved by
 * name, the class as {"class_name", "config"}; both come back at load time
 * through custom_objects.
 *
 * The program trains a little on diabetes, checks that the constraint kept
 * the kernel non-negative and that the regularizers' penalty is what the
 * formulas give, saves, loads, and checks the configs and predictions are
 * unchanged. Exit 1 if a check fails.
 *
 * Lines: components C 26, Python 13 (2.0x)
 *
 * Run: custom_components DATA_DIR OUT_DIR */
#include <ckeras.h>

#include "common/check.h"
#include "common/datasets.h"

#include <math.h>
#include <string.h>

/* ---- the four functions ----------------------------------------------------------------------- */

/* seed: components */
static kc_tensor *my_softplus(kc_tensor *z, void *params, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    return kc_scope_return(s, kc_s_log(s, kc_s_add_scalar(s, kc_s_exp(s, z), 1)));
}

/* An initializer fills the weight's tensor (shape [fan_in, fan_out] here). */
static kc_status my_glorot_initial(kc_tensor *out, void *params, kc_error *e)
{
    double stddev = sqrt(2.0 / (double)(kc_tensor_dim(out, 0) + kc_tensor_dim(out, 1)));
    kc_rng_fill_normal(kc_global_rng(), kc_tensor_f32(out), (size_t)kc_tensor_size(out), 0, (float)stddev);
    return KC_OK;
}

static kc_tensor *my_l1_regular(kc_tensor *w, void *params, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    return kc_scope_return(s, kc_s_reduce_sum(s, kc_s_abs(s, kc_s_mul_scalar(s, w, 0.01f)), NULL, 0, false));
}

/* Optimizers apply it after every update. */
static kc_tensor *my_positive_weights(kc_tensor *w, void *params, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    return kc_scope_return(s, kc_s_where(s, kc_s_less_scalar(s, w, 0), kc_s_zeros_like(s, w), w));
}
/* seed: end */

/* ---- the regularizer as a class with a config --------------------------------------------------- */

typedef struct my_l1_regularizer {
    kc_object base;
    double factor;
} my_l1_regularizer;

static kc_status l1_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx, kc_error *e)
{
    return kc_cfg_float(ctx, config, "factor", KC_CFG_NONNEG, 0.01, &((my_l1_regularizer *)self)->factor, e);
}
static kc_status l1_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    return kc_cfg_set_float(config, "factor", ((const my_l1_regularizer *)self)->factor, e);
}
static kc_tensor *l1_call(kc_object *self, kc_tensor *w, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *scaled = kc_s_mul_scalar(s, w, (float)((my_l1_regularizer *)self)->factor);
    return kc_scope_return(s, kc_s_reduce_sum(s, kc_s_abs(s, scaled), NULL, 0, false));
}
static const kc_regularizer_methods l1_methods = {.penalty = l1_call};
static const kc_class my_l1_regularizer_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_REGULARIZER, .name = "MyL1Regularizer", .size = sizeof(my_l1_regularizer),
    .config_version = 1, .get_config = l1_get_config, .from_config = l1_from_config, .methods = &l1_methods};

/* ---- custom_objects ----------------------------------------------------------------------------- */

static kc_custom_objects *custom_objects(void)
{
    kc_custom_objects *co = NN(kc_custom_objects_new(&err));
    TRY(kc_custom_objects_add_function(co, KC_KIND_ACTIVATION, "my_softplus", KC_FN(my_softplus), NULL, NULL, &err));
    TRY(kc_custom_objects_add_function(co, KC_KIND_INITIALIZER, "my_glorot_initial", KC_FN(my_glorot_initial), NULL,
                                       NULL, &err));
    TRY(kc_custom_objects_add_function(co, KC_KIND_REGULARIZER, "my_l1_regular", KC_FN(my_l1_regular), NULL, NULL,
                                       &err));
    TRY(kc_custom_objects_add_function(co, KC_KIND_CONSTRAINT, "my_positive_weights", KC_FN(my_positive_weights), NULL,
                                       NULL, &err));
    TRY(kc_custom_objects_add_class(co, NULL, &my_l1_regularizer_class, &err));
    return co;
}

static char *config_text(kc_object *obj)
{
    json_t *config;
    TRY(kc_object_get_config(obj, &config, &err));
    char *text = NN(kc_json_dump(config, &err));
    json_decref(config);
    return text;
}

static int same_config(kc_object *a, kc_object *b)
{
    char *ta = config_text(a), *tb = config_text(b);
    int same = strcmp(ta, tb) == 0;
    kc_json_free(ta);
    kc_json_free(tb);
    return same;
}

static double sum_abs(kc_variable *v)
{
    kc_tensor *t = kc_variable_value(v);
    double s = 0;
    for (int64_t i = 0; i < kc_tensor_size(t); i++) s += fabs(kc_tensor_get(t, i));
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/my_model_with_many_custom_parts.h5", argv[2]);
    kc_set_random_seed(42);
    kc_tensor *x, *y;
    TRY(ds_diabetes(argv[1], &x, &y, &err));

    /* Dense(30, "selu", kernel_initializer="lecun_normal", kernel_regularizer=MyL1Regularizer(0.01)),
     * then the seed's Dense (with one unit: the model's output) */
    kc_object *reg = NN(kc_object_from_config(&my_l1_regularizer_class, NULL, NULL, &err)); /* factor 0.01 */
    kc_object *model = NN(kc_sequential_new_take(
        NULL,
        (kc_object *[]){
            kc_layers_dense(&(kc_layers_dense_args){.units = 30, .activation = KC_NAME("selu"),
                                                    .kernel_initializer = KC_NAME("lecun_normal"),
                                                    .kernel_regularizer = KC_OBJECT(reg), .input_shape = KC_SHAPE(10)},
                            &err),
            /* seed: components */
            kc_layers_dense(&(kc_layers_dense_args){.units = 1, .activation = KC_FUNCTION(my_softplus),
                                                    .kernel_initializer = KC_FUNCTION(my_glorot_initial),
                                                    .kernel_regularizer = KC_FUNCTION(my_l1_regular),
                                                    .kernel_constraint = KC_FUNCTION(my_positive_weights)},
                            &err)},
        /* seed: end */
        2, &err));
    kc_object_unref(reg); /* the layer keeps its own reference */
    kc_object *hidden = kc_model_layer(model, 0), *output = kc_model_layer(model, 1);
    char *text = config_text(output);
    printf("output layer config: %s\n", text);
    kc_json_free(text);

    TRY(kc_model_compile(model, "{\"optimizer\": \"nadam\", \"loss\": \"mse\"}", NULL, &err));
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 3};
    kc_history *history;
    TRY(kc_model_fit(model, &fit, &history, &err));
    const double *loss = kc_history_values(history, "loss");
    for (int e = 0; e < kc_history_num_epochs(history); e++) printf("epoch %d - loss: %.4f\n", e + 1, loss[e]);
    kc_history_free(history);

    /* the constraint: every kernel entry of the output layer is >= 0 */
    kc_tensor *kernel = kc_variable_value(kc_layer_weight(output, 0));
    int negative = 0, zero = 0;
    for (int64_t i = 0; i < kc_tensor_size(kernel); i++) {
        negative += kc_tensor_get(kernel, i) < 0;
        zero += kc_tensor_get(kernel, i) == 0;
    }
    printf("output kernel: %lld entries, %d negative, %d clipped to 0\n", (long long)kc_tensor_size(kernel), negative,
           zero);
    check(negative == 0 && zero > 0, "my_positive_weights kept the kernel non-negative");

    /* the regularizers: 0.01 * sum|hidden kernel| + 0.01 * sum|output kernel| */
    kc_tensor *penalty;
    TRY(kc_layer_regularization_loss(model, &penalty, &err));
    double want = 0.01 * sum_abs(kc_layer_weight(hidden, 0)) + 0.01 * sum_abs(kc_layer_weight(output, 0));
    printf("regularization penalty: %.6f (by hand: %.6f)\n", kc_tensor_item(penalty), want);
    check(fabs(kc_tensor_item(penalty) - want) <= 1e-5 * want, "the penalty is MyL1Regularizer's + my_l1_regular's");
    kc_tensor_unref(penalty);

    /* save, and load with custom_objects */
    TRY(kc_model_save(model, path, NULL, &err));
    kc_object *bad = kc_model_load(path, NULL, &err);
    check(bad == NULL && err.code == KC_ENOTFOUND, "without custom_objects the load fails (unknown my_softplus ...)");
    kc_object_unref(bad);
    kc_error_clear(&err);
    kc_custom_objects *co = custom_objects();
    kc_load_options load = {.custom_objects = co};
    kc_object *loaded = NN(kc_model_load(path, &load, &err));
    check(same_config(hidden, kc_model_layer(loaded, 0)) && same_config(output, kc_model_layer(loaded, 1)),
          "the loaded layers' configs equal the originals");

    kc_tensor *p1, *p2;
    TRY(kc_model_predict_on_batch(model, &x, 1, &p1, &(int){0}, &err));
    TRY(kc_model_predict_on_batch(loaded, &x, 1, &p2, &(int){0}, &err));
    int same = 1;
    for (int64_t i = 0; i < kc_tensor_size(p1); i++) same &= kc_tensor_get(p1, i) == kc_tensor_get(p2, i);
    check(same, "the loaded model predicts the same values");
    kc_tensor_unref(p1);
    kc_tensor_unref(p2);

    kc_object_unref(loaded);
    kc_object_unref(model);
    kc_custom_objects_free(co);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    return failed;
}
