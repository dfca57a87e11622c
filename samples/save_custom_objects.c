/* Sample 2: saving and loading models that use custom objects.
 *
 * Part 1, a function with a parameter (the seed's create_huber(threshold)):
 * a function is saved by its name only ("huber_fn"), so the threshold is
 * lost and must be given again through custom_objects at load time
 * (custom_objects={"huber_fn": create_huber(2.0)}). Without custom_objects
 * the load fails, naming the unknown loss. In C a closure is a function
 * plus bound parameters: kc_function_new_copy keeps a copy of the
 * threshold, and the function reads it through `params`.
 *
 * Part 2, a loss class (the seed's HuberLoss(keras.losses.Loss)) saves its
 * threshold in its config (get_config), so custom_objects only needs the
 * class: from_config restores the threshold. Its constructor,
 * huber_loss_new, goes through from_config too (kc_object_from_args), so
 * the two cannot disagree.
 *
 * Lines: create_huber C 15, Python 8 (1.9x)
 * Lines: huber_loss_class C 23, Python 14 (1.6x)
 * (The constructor HuberLoss(threshold=2.0) adds 10 lines in C, the args
 * struct, its field table and huber_loss_new: 33 lines, 2.4x, with them.
 * Python's keyword arguments come with the class; C spells them out.)
 *
 * Run: save_custom_objects DATA_DIR OUT_DIR */
#include <ckeras.h>

#include "common/check.h"
#include "common/datasets.h"

/* ---- part 1: create_huber(threshold) ----------------------------------------------------------- */

/* seed: create_huber */
static kc_tensor *huber_fn(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *e)
{
    float threshold = *(const float *)params;
    kc_scope *s = kc_scope_new(e);
    kc_tensor *error = kc_s_sub(s, y_true, y_pred);
    kc_tensor *se = kc_s_less_scalar(s, kc_s_abs(s, error), threshold);
    kc_tensor *sq_loss = kc_s_div_scalar(s, kc_s_square(s, error), 2);
    kc_tensor *linear_loss = kc_s_sub_scalar(s, kc_s_mul_scalar(s, kc_s_abs(s, error), threshold),
                                             threshold * threshold / 2);
    return kc_scope_return(s, kc_s_where(s, se, sq_loss, linear_loss));
}

static kc_object *create_huber(float threshold, kc_error *e)
{
    return kc_function_new_copy(KC_KIND_LOSS, "huber_fn", KC_FN(huber_fn), &threshold, sizeof threshold, e);
}
/* seed: end */

/* ---- part 2: class HuberLoss(keras.losses.Loss) -------------------------------------------- */

/* seed: huber_loss_class */
typedef struct huber_loss {
    kc_loss base; /* the Loss base first: reduction and name */
    double threshold;
} huber_loss;

/* __init__(self, threshold=1.0, **kwargs) */
static kc_status huber_loss_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx,
                                        kc_error *e)
{
    return kc_cfg_float(ctx, config, "threshold", KC_CFG_POSITIVE, 1.0, &((huber_loss *)self)->threshold, e);
}
static kc_status huber_loss_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    return kc_cfg_set_float(config, "threshold", ((const huber_loss *)self)->threshold, e);
}
static kc_tensor *huber_loss_call(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred, kc_error *e)
{
    float threshold = (float)((huber_loss *)self)->threshold;
    return huber_fn(y_true, y_pred, &threshold, e); /* the same computation as part 1 */
}
static const kc_loss_methods huber_loss_methods = {.call = huber_loss_call};
static const kc_class huber_loss_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_LOSS, .name = "HuberLoss", .size = sizeof(huber_loss),
    .config_version = 1, .get_config = huber_loss_get_config, .from_config = huber_loss_from_config,
    .methods = &huber_loss_methods};
/* seed: end */

/* HuberLoss(threshold=2.0): the arguments, written as the config from_config reads */
typedef struct huber_loss_args {
    KC_LOSS_ARGS; /* reduction, name */
    double threshold;
} huber_loss_args;
static const kc_arg_field huber_loss_fields[] = {KC_ARG(huber_loss_args, reduction), KC_ARG(huber_loss_args, name),
                                                 KC_ARG(huber_loss_args, threshold)};

static kc_object *huber_loss_new(const huber_loss_args *args, kc_error *e)
{
    return kc_object_from_args(&huber_loss_class, huber_loss_fields, KC_ARRAY_SIZE(huber_loss_fields), args, e);
}

/* ---- a model to save ----------------------------------------------------------------------- */

static kc_object *trained_model(kc_object *loss, kc_tensor *x, kc_tensor *y)
{
    kc_object *model = NN(kc_sequential_new_take(
        NULL,
        (kc_object *[]){kc_layers_dense(&(kc_layers_dense_args){.units = 30, .activation = KC_NAME("relu"),
                                                                .input_shape = KC_SHAPE(10)},
                                        &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 1}, &err)},
        2, &err));
    /* model.compile(loss=loss, optimizer="nadam"): objects made in C, referenced by the model */
    kc_object *optimizer = NN(kc_optimizers_nadam(NULL, &err));
    kc_compile_args args = {.optimizer = optimizer, .losses = &loss, .n_losses = 1};
    TRY(kc_model_compile_objects(model, &args, &err));
    kc_object_unref(optimizer);
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 2};
    TRY(kc_model_fit(model, &fit, NULL, &err));
    return model;
}

/* The loss the loaded model was compiled with (borrowed). */
static kc_object *compiled_loss(kc_object *model)
{
    kc_object *loss;
    TRY(kc_model_compiled_loss(model, 0, &loss, &err));
    return NN(loss);
}

static void print_training_config(kc_object *model)
{
    json_t *tc;
    TRY(kc_model_training_config(model, &tc, &err));
    char *text = NN(kc_json_dump(json_object_get(tc, "loss"), &err));
    printf("  training_config.loss = %s\n", text);
    kc_json_free(text);
    json_decref(tc);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    char path1[4096], path2[4096];
    snprintf(path1, sizeof path1, "%s/my_model_with_a_custom_loss_threshold_2.h5", argv[2]);
    snprintf(path2, sizeof path2, "%s/my_model_with_a_custom_loss_class.h5", argv[2]);
    kc_set_random_seed(42);
    kc_tensor *x, *y;
    TRY(ds_diabetes(argv[1], &x, &y, &err));

    /* ---- part 1 ---- */
    printf("part 1: create_huber(2.0), a function\n");
    kc_object *fn = NN(create_huber(2.0f, &err));
    kc_object *model = trained_model(fn, x, y);
    kc_object_unref(fn);
    TRY(kc_model_save(model, path1, NULL, &err));
    print_training_config(model); /* "huber_fn": only the name */
    kc_object_unref(model);

    /* without custom_objects, "huber_fn" is unknown */
    kc_object *bad = kc_model_load(path1, NULL, &err);
    check(bad == NULL && err.code == KC_ENOTFOUND, "loading without custom_objects fails with KC_ENOTFOUND");
    if (bad == NULL) printf("  error: %s (%s)\n", err.message, err.context);
    kc_object_unref(bad);
    kc_error_clear(&err);

    /* load_model(..., custom_objects={"huber_fn": create_huber(2.0)}) */
    kc_custom_objects *custom = NN(kc_custom_objects_new(&err));
    TRY(kc_custom_objects_add_object_take(custom, NULL, create_huber(2.0f, &err), &err));
    kc_load_options load = {.custom_objects = custom};
    model = NN(kc_model_load(path1, &load, &err));
    kc_custom_objects_free(custom); /* the loaded model keeps what it uses */
    void *params;
    TRY(kc_function_get(compiled_loss(model), NULL, &params, &err));
    printf("  loaded loss: %s, threshold %.1f\n", kc_object_name(compiled_loss(model)), *(float *)params);
    check(*(float *)params == 2.0f, "the loaded huber_fn has the threshold given at load time (2.0)");
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 1}; /* and it trains on */
    TRY(kc_model_fit(model, &fit, NULL, &err));
    kc_object_unref(model);

    /* ---- part 2 ---- */
    printf("part 2: HuberLoss(2.0), a class with get_config\n");
    kc_object *loss = NN(huber_loss_new(&(huber_loss_args){.threshold = 2.0}, &err));
    model = trained_model(loss, x, y);
    kc_object_unref(loss);
    TRY(kc_model_save(model, path2, NULL, &err));
    print_training_config(model); /* {"class_name": "HuberLoss", "config": {..., "threshold": 2.0}} */
    kc_object_unref(model);

    /* custom_objects={"HuberLoss": HuberLoss}: only the class */
    custom = NN(kc_custom_objects_new(&err));
    TRY(kc_custom_objects_add_class(custom, NULL, &huber_loss_class, &err));
    load.custom_objects = custom;
    model = NN(kc_model_load(path2, &load, &err));
    kc_custom_objects_free(custom);
    loss = compiled_loss(model);
    check(kc_object_class(loss) == &huber_loss_class, "the loaded loss is a HuberLoss");
    double t = kc_object_class(loss) == &huber_loss_class ? ((huber_loss *)loss)->threshold : 0;
    printf("  loaded loss: %s, threshold %.1f\n", kc_object_name(loss), t);
    check(t == 2.0, "the loaded HuberLoss has the saved threshold (2.0)");
    TRY(kc_model_fit(model, &fit, NULL, &err));
    kc_object_unref(model);

    /* a bad argument is from_config's error, naming the key */
    check(huber_loss_new(&(huber_loss_args){.threshold = -1}, &err) == NULL && err.code == KC_EFORMAT,
          "HuberLoss(-1) is refused by from_config");
    printf("  error: %s\n", err.message);
    kc_error_clear(&err);

    kc_tensor_unref(x);
    kc_tensor_unref(y);
    return failed;
}
