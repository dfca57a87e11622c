/* The README's five-minute tour, as a program the test suite runs (the
 * README's code is this file's tour, checked word for word): define a
 * model, train it, save it, load it back; a custom layer; custom_objects.
 * Every object made is released: the suite runs it under ASan.
 *
 * Lines: not a seed part (the README's tour). */
#include <ckeras.h>

#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) != KC_OK) {                                                                     \
            fprintf(stderr, "%s: %s (%s)\n", #call, err.message, err.context);                     \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* tour: layer */
/* A custom layer, Scale: y = x * scale, one trainable weight per feature. */
typedef struct scale_layer {
    kc_layer base; /* a layer is a kc_layer first */
    kc_variable *scale;
} scale_layer;

static kc_status scale_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    kc_shape features = KC_SHAPE(in[0].dims[in[0].ndim - 1]);
    ((scale_layer *)self)->scale =
        kc_layer_add_weight_ex(self, "scale", features, &(kc_weight_args){.initializer = KC_NAME("ones")}, err);
    return ((scale_layer *)self)->scale ? KC_OK : err->code;
}

static kc_status scale_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out, kc_error *err)
{
    out[0] = kc_mul(args->inputs[0], kc_variable_value(((scale_layer *)self)->scale), err);
    return out[0] ? KC_OK : err->code;
}

static const kc_layer_methods scale_methods = {.build = scale_build, .call = scale_call}; /* output: the input's shape */
static const kc_class scale_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "Scale",
                                     .size = sizeof(scale_layer), .config_version = 1, .methods = &scale_methods};
/* tour: end */

int main(void)
{
    kc_error err = {0};
    kc_set_random_seed(1);
    kc_tensor *x = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){256, 4}, &err);
    kc_tensor *y = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){256, 1}, &err);
    if (!x || !y) return 1;
    kc_rng_fill_uniform(kc_global_rng(), kc_tensor_f32(x), 1024, -1.0f, 1.0f);
    for (int i = 0; i < 256; i++) { /* y = sum(x) */
        float *r = kc_tensor_f32(x) + 4 * i;
        kc_tensor_f32(y)[i] = r[0] + r[1] + r[2] + r[3];
    }

    /* tour: model */
    /* keras.Sequential([Input((4,)), Scale(), Dense(8, activation="relu"), Dense(1)]) */
    kc_object *model = kc_sequential_new_take(
        "tour",
        (kc_object *[]){kc_layers_input_layer(&(kc_layers_args){.input_shape = KC_SHAPE(4)}, &err),
                        kc_object_new(&scale_class, &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 8, .activation = KC_NAME("relu")}, &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 1}, &err)},
        4, &err);
    if (!model) return 1;

    /* model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"]) */
    kc_object *adam = kc_optimizers_adam(&(kc_optimizers_adam_args){.learning_rate = 0.01}, &err);
    CHECK(kc_model_compile_specs(
        model, &(kc_compile_specs){.optimizer = KC_OBJECT(adam), .loss = KC_NAME("mse"), .metrics = {KC_NAME("mae")}},
        &err));
    kc_object_unref(adam); /* the model keeps its own reference */

    /* history = model.fit(x, y, epochs=20, validation_split=0.1, verbose=2) */
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 20, .validation_split = 0.1, .verbose = 2};
    kc_history *history;
    CHECK(kc_model_fit(model, &fit, &history, &err));
    const double *val_loss = kc_history_values(history, "val_loss");

    /* model.save("tour.h5"); keras.models.load_model("tour.h5", custom_objects={"Scale": Scale}) */
    CHECK(kc_model_save(model, "tour.h5", NULL, &err));
    kc_custom_objects *custom = kc_custom_objects_new(&err);
    CHECK(kc_custom_objects_add_class(custom, NULL, &scale_class, &err));
    kc_object *loaded = kc_model_load("tour.h5", &(kc_load_options){.custom_objects = custom}, &err);
    kc_custom_objects_free(custom); /* the loaded model keeps what it uses */
    /* tour: end */
    if (!loaded) {
        fprintf(stderr, "load: %s (%s)\n", err.message, err.context);
        return 1;
    }
    const double *loss = kc_history_values(history, "loss");
    printf("loss: epoch 1 %.4f, epoch 20 %.4f; val_loss %.4f\n", loss[0], loss[19], val_loss[19]);
    int ok = loss[19] < loss[0] / 4 && val_loss[19] < val_loss[0];

    /* without custom_objects: a named error */
    kc_object *bad = kc_model_load("tour.h5", NULL, &err);
    printf("without custom_objects: %s\n", bad ? "loaded?!" : err.message);
    ok &= !bad && err.code == KC_ENOTFOUND;
    kc_error_clear(&err);

    /* the same predictions */
    kc_tensor *p1, *p2;
    int n;
    CHECK(kc_model_predict(model, &x, 1, 32, &p1, &n, &err));
    CHECK(kc_model_predict(loaded, &x, 1, 32, &p2, &n, &err));
    int same = memcmp(kc_tensor_cdata(p1), kc_tensor_cdata(p2), kc_tensor_nbytes(p1)) == 0;
    printf("predictions after load: %s\n", same ? "identical" : "different");

    /* tour: release */
    kc_history_free(history);
    kc_object_unref(loaded);
    kc_object_unref(model);
    /* tour: end */
    kc_tensor_unref(p1);
    kc_tensor_unref(p2);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    remove("tour.h5");
    return ok && same ? 0 : 1;
}
