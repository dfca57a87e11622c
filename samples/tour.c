/* The README's five-minute tour, as a program the test suite runs: define
 * a model, train it, save it, load it back; a custom layer; custom_objects. */
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

/* --- a custom layer: y = x * scale, one trainable weight per feature --- */
typedef struct scale_layer {
    kc_layer base; /* first: a layer is a kc_layer */
    kc_variable *scale;
} scale_layer;

static kc_status scale_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    int64_t features = in[0].dims[in[0].ndim - 1];
    kc_object *ones = kc_object_create(KC_KIND_INITIALIZER, "ones", err);
    ((scale_layer *)self)->scale = kc_layer_add_weight(self, "scale", 1, &features, ones, NULL, NULL, true, err);
    kc_object_unref(ones);
    return ((scale_layer *)self)->scale ? KC_OK : err->code;
}

static kc_status scale_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out,
                            kc_error *err)
{
    (void)n_out;
    out[0] = kc_mul(args->inputs[0], kc_variable_value(((scale_layer *)self)->scale), err);
    return out[0] ? KC_OK : err->code;
}

static kc_status scale_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                             int *n_out, kc_error *err)
{
    (void)self, (void)n_in, (void)err;
    out[0] = in[0];
    *n_out = 1;
    return KC_OK;
}

static const kc_layer_methods scale_methods = {
    .build = scale_build, .call = scale_call, .compute_output_shape = scale_shape};
static const kc_class scale_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "Scale",
                                     .size = sizeof(scale_layer), .config_version = 1,
                                     .methods = &scale_methods};

int main(void)
{
    kc_error err = {0};
    kc_set_random_seed(1);

    /* 1. define: keras.Sequential([Input((4,)), Scale(), Dense(8, relu), Dense(1)]) */
    kc_object *model = kc_sequential_new("tour", &err);
    kc_object *layers[4] = {
        kc_input_layer(1, (int64_t[]){4}, NULL, &err),
        kc_object_new(&scale_class, &err),
        kc_layer_create("Dense", "{\"units\": 8, \"activation\": \"relu\"}", &err),
        kc_layer_create("Dense", "{\"units\": 1}", &err),
    };
    for (int i = 0; i < 4; i++) {
        CHECK(kc_sequential_add(model, layers[i], &err));
        kc_object_unref(layers[i]);
    }
    CHECK(kc_model_compile(model, "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.01}},"
                                  " \"loss\": \"mse\", \"metrics\": [\"mae\"]}", NULL, &err));

    /* 2. train on y = sum(x) */
    kc_tensor *x = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){256, 4}, &err);
    kc_tensor *y = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){256, 1}, &err);
    kc_rng_fill_uniform(kc_global_rng(), kc_tensor_f32(x), 1024, -1.0f, 1.0f);
    for (int i = 0; i < 256; i++) {
        float *r = kc_tensor_f32(x) + 4 * i;
        kc_tensor_f32(y)[i] = r[0] + r[1] + r[2] + r[3];
    }
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 20, .validation_split = 0.1, .verbose = 2};
    kc_history *h;
    CHECK(kc_model_fit(model, &fit, &h, &err));
    const double *loss = kc_history_values(h, "loss"), *val_loss = kc_history_values(h, "val_loss");
    printf("loss: epoch 1 %.4f, epoch 20 %.4f; val_loss %.4f\n", loss[0], loss[19], val_loss[19]);
    int ok = loss[19] < loss[0] / 4 && val_loss[19] < val_loss[0];
    kc_history_free(h);

    /* 3. save; load with the custom class given in custom_objects */
    CHECK(kc_model_save(model, "tour.h5", NULL, &err));
    kc_object *bad = kc_model_load("tour.h5", NULL, &err); /* without it: a named error */
    printf("without custom_objects: %s\n", bad ? "loaded?!" : err.message);
    ok &= !bad && err.code == KC_ENOTFOUND;
    kc_error_clear(&err);
    kc_custom_objects *custom = kc_custom_objects_new(&err);
    CHECK(kc_custom_objects_add_class(custom, NULL, &scale_class, &err));
    kc_load_options opts = {.custom_objects = custom};
    kc_object *loaded = kc_model_load("tour.h5", &opts, &err);
    if (!loaded) {
        fprintf(stderr, "load: %s (%s)\n", err.message, err.context);
        return 1;
    }

    /* 4. the same predictions */
    kc_tensor *p1, *p2;
    int n;
    CHECK(kc_model_predict(model, &x, 1, 32, &p1, &n, &err));
    CHECK(kc_model_predict(loaded, &x, 1, 32, &p2, &n, &err));
    int same = memcmp(kc_tensor_cdata(p1), kc_tensor_cdata(p2), kc_tensor_nbytes(p1)) == 0;
    printf("predictions after load: %s\n", same ? "identical" : "different");

    kc_tensor_unref(p1);
    kc_tensor_unref(p2);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    kc_object_unref(loaded);
    kc_object_unref(model);
    kc_custom_objects_free(custom);
    remove("tour.h5");
    return ok && same ? 0 : 1;
}
