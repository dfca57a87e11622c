/* Sample 2: saving and loading models that use custom objects.
 *
 * Part 1, a function with a parameter (the seed's create_huber):
 *
 *     def create_huber(threshold=1.0):
 *         def huber_fn(y_true, y_pred): ...uses threshold...
 *         return huber_fn
 *     model.compile(loss=create_huber(2.0), optimizer="nadam")
 *     model.save("my_model_with_a_custom_loss_threshold_2.h5")
 *     model = keras.models.load_model("...",
 *         custom_objects={"huber_fn": create_huber(2.0)})
 *
 * A function is saved by its name only ("huber_fn"): the threshold is lost,
 * and must be given again through custom_objects at load time. Without
 * custom_objects the load fails, naming the unknown loss.
 *
 * Part 2, a loss class (the seed's HuberLoss(keras.losses.Loss)) saves its
 * threshold in its config (get_config), so custom_objects only needs the
 * class: from_config restores the threshold.
 *
 * Run: save_custom_objects DATA_DIR OUT_DIR */
#include <ckeras.h>

#include "common/datasets.h"

#include <stdio.h>
#include <stdlib.h>

static kc_error err;

static void die(const char *where)
{
    char buf[1024];
    fprintf(stderr, "save_custom_objects: %s: %s\n", where, kc_error_format(&err, buf, sizeof buf));
    exit(1);
}
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) != KC_OK) die(#call);                                                           \
    } while (0)
/* Returns p, or stops the program when p is NULL (the call failed). */
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

/* ---- the Huber loss, elementwise, for any threshold ---------------------------------------- */

static kc_tensor *huber(kc_tensor *y_true, kc_tensor *y_pred, float threshold, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *error = kc_scope_take(s, kc_sub(y_true, y_pred, e));
    kc_tensor *abs_error = kc_scope_take(s, kc_abs(error, e));
    kc_tensor *is_small = kc_scope_take(s, kc_less_scalar(abs_error, threshold, e));
    kc_tensor *squared = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_square(error, e)), 0.5f, e));
    kc_tensor *linear = kc_scope_take(
        s, kc_sub_scalar(kc_scope_take(s, kc_mul_scalar(abs_error, threshold, e)), 0.5f * threshold * threshold, e));
    kc_tensor *loss = kc_scope_take(s, kc_where(is_small, squared, linear, e));
    int last = -1;
    kc_tensor *per_sample = kc_reduce_mean(loss, &last, 1, false, e);
    kc_scope_free(s);
    return per_sample;
}

/* ---- part 1: create_huber(threshold) ---------------------------------------------------------
 * A closure in C is a function plus bound parameters: here a malloc'd float
 * holding the threshold, freed with the function object. */
static kc_tensor *huber_fn(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *e)
{
    return huber(y_true, y_pred, *(const float *)params, e);
}

static float *threshold_param(float threshold)
{
    float *p = malloc(sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    *p = threshold;
    return p;
}

/* create_huber(threshold): a loss function object saved as "huber_fn" */
static kc_object *create_huber(float threshold)
{
    return NN(kc_function_new(KC_KIND_LOSS, "huber_fn", KC_FN(huber_fn), threshold_param(threshold), free, &err));
}

/* ---- part 2: class HuberLoss(keras.losses.Loss) -------------------------------------------- */

typedef struct huber_loss {
    kc_loss base; /* the Loss base first: reduction and name */
    double threshold;
} huber_loss;

static kc_status huber_loss_init(kc_object *self, kc_error *e) /* __init__ defaults */
{
    (void)e;
    ((huber_loss *)self)->threshold = 1.0;
    return KC_OK;
}
static kc_status huber_loss_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    /* {**base_config, "threshold": self.threshold} */
    return kc_cfg_set_float(config, "threshold", ((const huber_loss *)self)->threshold, e);
}
static kc_status huber_loss_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx,
                                        kc_error *e)
{
    return kc_cfg_float(ctx, config, "threshold", KC_CFG_POSITIVE, 1.0, &((huber_loss *)self)->threshold, e);
}
static kc_tensor *huber_loss_call(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred, kc_error *e)
{
    return huber(y_true, y_pred, (float)((huber_loss *)self)->threshold, e);
}
static const kc_loss_methods huber_loss_methods = {.call = huber_loss_call};
static const kc_class huber_loss_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_LOSS, .name = "HuberLoss", .size = sizeof(huber_loss),
    .config_version = 1, .init = huber_loss_init, .get_config = huber_loss_get_config,
    .from_config = huber_loss_from_config, .methods = &huber_loss_methods};

/* HuberLoss(threshold) */
static kc_object *huber_loss_new(double threshold)
{
    kc_object *loss = NN(kc_object_new(&huber_loss_class, &err));
    ((huber_loss *)loss)->threshold = threshold;
    return loss;
}

/* ---- a model to save ----------------------------------------------------------------------- */

static kc_object *trained_model(kc_object *loss, kc_tensor *x, kc_tensor *y)
{
    kc_object *model = NN(kc_sequential_new(NULL, &err));
    kc_object *layers[3] = {kc_input_layer(1, (int64_t[]){10}, NULL, &err),
                            kc_layer_create("Dense", "{\"units\": 30, \"activation\": \"relu\"}", &err),
                            kc_layer_create("Dense", "{\"units\": 1}", &err)};
    for (int i = 0; i < 3; i++) {
        TRY(kc_sequential_add(model, NN(layers[i]), &err));
        kc_object_unref(layers[i]);
    }
    /* compile with objects made in C: the optimizer and our loss object */
    kc_object *optimizer = NN(kc_optimizer_get("nadam", &err));
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
    kc_object *fn = create_huber(2.0f);
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

    /* custom_objects={"huber_fn": create_huber(2.0)}: the threshold comes back from here */
    kc_custom_objects *custom = NN(kc_custom_objects_new(&err));
    TRY(kc_custom_objects_add_function(custom, KC_KIND_LOSS, "huber_fn", KC_FN(huber_fn), threshold_param(2.0f),
                                       free, &err));
    kc_load_options load = {.custom_objects = custom};
    model = NN(kc_model_load(path1, &load, &err));
    kc_custom_objects_free(custom); /* the loaded model keeps what it uses */
    void *params;
    TRY(kc_function_get(compiled_loss(model), NULL, &params, &err));
    printf("  loaded loss: %s, threshold %.1f\n", kc_object_name(compiled_loss(model)), *(float *)params);
    check(*(float *)params == 2.0f, "the loaded huber_fn has the threshold given at load time (2.0)");
    /* and it trains on */
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 1};
    TRY(kc_model_fit(model, &fit, NULL, &err));
    kc_object_unref(model);

    /* ---- part 2 ---- */
    printf("part 2: HuberLoss(2.0), a class with get_config\n");
    kc_object *loss = huber_loss_new(2.0);
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

    kc_tensor_unref(x);
    kc_tensor_unref(y);
    return failed;
}
