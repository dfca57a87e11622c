/* Sample 5: custom layers.
 *
 *  - A layer without weights: a Lambda calling a registered C function
 *    (the seed's keras.layers.Lambda(lambda x: tf.exp(x))). Files never
 *    carry code: the Lambda is saved with the function's name, and the
 *    function is registered (kc_register_function, KC_KIND_LAMBDA) or given
 *    in custom_objects when the file is loaded.
 *  - The seed's MyDense(keras.layers.Layer): build creates the kernel and
 *    bias from the input shape, call computes activation(X @ kernel + bias),
 *    compute_output_shape and get_config (units and the full activation).
 *  - A layer with two inputs: MyWeightedAdd([a, b]) = a + w * b, w a
 *    trainable scalar.
 *  - A layer that behaves differently in training: MyGaussianNoise adds
 *    noise only when called with training=true (fit), not in predict.
 *
 * A Functional model uses all four; it trains a little on diabetes, is
 * saved, and loads back (classes through custom_objects) with the same
 * predictions. Exit 1 if a check fails.
 *
 * Run: custom_layers DATA_DIR OUT_DIR */
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
    fprintf(stderr, "custom_layers: %s: %s\n", where, kc_error_format(&err, buf, sizeof buf));
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

/* ---- the Lambda's function --------------------------------------------------------------------- */

static kc_tensor *exp_fn(kc_tensor *const *inputs, int n_inputs, void *params, kc_error *e)
{
    (void)n_inputs, (void)params;
    return kc_exp(inputs[0], e);
}

/* ---- MyDense ---------------------------------------------------------------------------------------- */

typedef struct my_dense {
    kc_layer base; /* the Layer base first: name, trainable, weights */
    int64_t units;
    kc_object *activation;      /* keras.activations.get(activation) */
    kc_variable *kernel, *bias; /* created in build; owned by the base */
} my_dense;

static void my_dense_fini(kc_object *self) { kc_object_unref(((my_dense *)self)->activation); }

static kc_status my_dense_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    const my_dense *d = (const my_dense *)self;
    if (json_object_set_new(config, "units", json_integer(d->units))) return KC_ENOMEM;
    return kc_cfg_set_object(config, "activation", d->activation, e); /* keras.activations.serialize */
}
static kc_status my_dense_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx, kc_error *e)
{
    my_dense *d = (my_dense *)self;
    kc_status rc = kc_cfg_int(ctx, config, "units", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &d->units, e);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, config, "activation", KC_KIND_ACTIVATION, "linear", &d->activation, e);
    return rc;
}
static kc_status my_dense_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    (void)n_in;
    my_dense *d = (my_dense *)self;
    kc_object *glorot = kc_object_create(KC_KIND_INITIALIZER, "glorot_normal", e);
    if (!glorot) return e->code;
    int64_t kernel_dims[2] = {in[0].dims[in[0].ndim - 1], d->units}; /* [batch_input_shape[-1], units] */
    d->kernel = kc_layer_add_weight(self, "kernel", 2, kernel_dims, glorot, NULL, NULL, true, e);
    kc_object_unref(glorot);
    if (d->kernel) d->bias = kc_layer_add_weight(self, "bias", 1, &d->units, NULL, NULL, NULL, true, e); /* zeros */
    return d->bias ? KC_OK : e->code;
}
static kc_status my_dense_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out, kc_error *e)
{
    (void)n_out;
    my_dense *d = (my_dense *)self;
    kc_scope *s = kc_scope_new(e);
    kc_tensor *xw = kc_scope_take(s, kc_matmul(args->inputs[0], kc_variable_value(d->kernel), false, false, e));
    kc_tensor *z = kc_scope_take(s, kc_add(xw, kc_variable_value(d->bias), e));
    out[0] = z ? kc_activation_call(d->activation, z, e) : NULL;
    kc_scope_free(s);
    return out[0] ? KC_OK : e->code;
}
static kc_status my_dense_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                       kc_error *e)
{
    (void)n_in, (void)e;
    out[0] = in[0]; /* batch_input_shape[:-1] + [units] */
    out[0].dims[in[0].ndim - 1] = ((const my_dense *)self)->units;
    *n_out = 1;
    return KC_OK;
}
static const kc_layer_methods my_dense_methods = {
    .build = my_dense_build, .call = my_dense_call, .compute_output_shape = my_dense_output_shape};
static const kc_class my_dense_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "MyDense", .size = sizeof(my_dense), .config_version = 1,
    .fini = my_dense_fini, .get_config = my_dense_get_config, .from_config = my_dense_from_config,
    .methods = &my_dense_methods};

/* ---- MyWeightedAdd: two inputs ------------------------------------------------------------------ */

typedef struct weighted_add {
    kc_layer base;
    kc_variable *w;
} weighted_add;

static kc_status weighted_add_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    (void)in, (void)n_in;
    kc_object *ones = kc_object_create(KC_KIND_INITIALIZER, "ones", e);
    if (!ones) return e->code;
    ((weighted_add *)self)->w = kc_layer_add_weight(self, "w", 1, (int64_t[]){1}, ones, NULL, NULL, true, e);
    kc_object_unref(ones);
    return ((weighted_add *)self)->w ? KC_OK : e->code;
}
static kc_status weighted_add_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out,
                                   kc_error *e)
{
    (void)n_out;
    kc_tensor *wb = kc_mul(args->inputs[1], kc_variable_value(((weighted_add *)self)->w), e);
    out[0] = kc_add(args->inputs[0], wb, e);
    kc_tensor_unref(wb);
    return out[0] ? KC_OK : e->code;
}
/* Both inputs must have the same shape: say so here, where errors name the layer. */
static kc_status weighted_add_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                           int *n_out, kc_error *e)
{
    (void)self, (void)n_in;
    if (!kc_shape_equal(&in[0], &in[1])) {
        e->code = KC_ESHAPE;
        snprintf(e->message, sizeof e->message, "MyWeightedAdd needs two inputs of the same shape");
        return KC_ESHAPE;
    }
    out[0] = in[0];
    *n_out = 1;
    return KC_OK;
}
static const kc_layer_methods weighted_add_methods = {.min_inputs = 2,
                                                      .max_inputs = 2,
                                                      .build = weighted_add_build,
                                                      .call = weighted_add_call,
                                                      .compute_output_shape = weighted_add_output_shape};
static const kc_class weighted_add_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "MyWeightedAdd", .size = sizeof(weighted_add),
    .config_version = 1, .methods = &weighted_add_methods};

/* ---- MyGaussianNoise: different in training ----------------------------------------------------- */

typedef struct gaussian_noise {
    kc_layer base;
    double stddev;
} gaussian_noise;

static kc_status noise_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    return kc_cfg_set_float(config, "stddev", ((const gaussian_noise *)self)->stddev, e);
}
static kc_status noise_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx, kc_error *e)
{
    return kc_cfg_float(ctx, config, "stddev", KC_CFG_REQUIRED | KC_CFG_NONNEG, 0, &((gaussian_noise *)self)->stddev,
                        e);
}
static kc_status noise_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out, kc_error *e)
{
    (void)n_out;
    kc_tensor *x = args->inputs[0];
    if (!args->training) { /* inference: the identity */
        out[0] = kc_tensor_ref(x);
        return KC_OK;
    }
    kc_tensor *noise = kc_tensor_zeros(KC_FLOAT32, kc_tensor_ndim(x), kc_tensor_dims(x), e);
    if (!noise) return e->code;
    kc_rng_fill_normal(kc_global_rng(), kc_tensor_f32(noise), (size_t)kc_tensor_size(noise), 0.0f,
                       (float)((gaussian_noise *)self)->stddev);
    out[0] = kc_add(x, noise, e);
    kc_tensor_unref(noise);
    return out[0] ? KC_OK : e->code;
}
static kc_status same_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                            kc_error *e)
{
    (void)self, (void)n_in, (void)e;
    out[0] = in[0];
    *n_out = 1;
    return KC_OK;
}
static const kc_layer_methods noise_methods = {.call = noise_call, .compute_output_shape = same_shape};
static const kc_class gaussian_noise_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "MyGaussianNoise", .size = sizeof(gaussian_noise),
    .config_version = 1, .get_config = noise_get_config, .from_config = noise_from_config,
    .methods = &noise_methods};

/* ---- using them ---------------------------------------------------------------------------------- */

static kc_custom_objects *custom_objects(void)
{
    kc_custom_objects *co = NN(kc_custom_objects_new(&err));
    TRY(kc_custom_objects_add_class(co, NULL, &my_dense_class, &err));
    TRY(kc_custom_objects_add_class(co, NULL, &weighted_add_class, &err));
    TRY(kc_custom_objects_add_class(co, NULL, &gaussian_noise_class, &err));
    return co;
}

/* A layer of one of our classes from its config (Python: MyDense(16, activation="relu")). */
static kc_object *make(const kc_class *cls, const char *config)
{
    json_t *json = NN(kc_json_parse(config, strlen(config), 0, &err));
    kc_object *layer = NN(kc_object_from_config(cls, json, NULL, &err));
    json_decref(json);
    return layer;
}

static kc_symbol *apply(kc_object *layer, kc_symbol *const *inputs, int n)
{
    kc_symbol *out = NN(kc_apply(layer, inputs, n, &err));
    kc_object_unref(layer); /* the model's graph keeps it */
    return out;
}

static int same_values(kc_tensor *a, kc_tensor *b)
{
    if (kc_tensor_size(a) != kc_tensor_size(b)) return 0;
    for (int64_t i = 0; i < kc_tensor_size(a); i++)
        if (kc_tensor_get(a, i) != kc_tensor_get(b, i)) return 0;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/my_model_with_custom_layers.h5", argv[2]);
    kc_set_random_seed(42);
    kc_tensor *x, *y;
    TRY(ds_diabetes(argv[1], &x, &y, &err));
    /* two inputs: the 10 features, and the same features squared */
    kc_tensor *x2 = NN(kc_square(x, &err));
    kc_tensor *inputs[2] = {x, x2};

    /* keras.layers.Lambda(exp_fn): the function is registered once, by name */
    TRY(kc_register_function(KC_KIND_LAMBDA, "exp_fn", KC_FN(exp_fn), &err));
    kc_custom_objects *co = custom_objects();

    /* a = Input([10]); b = Input([10])
     * h = MyWeightedAdd()([a, b]); h = MyGaussianNoise(0.1)(h)
     * h = MyDense(16, "relu")(h); out = Lambda(exp_fn)(MyDense(1)(h)) */
    kc_symbol *in[2] = {NN(kc_input(1, (int64_t[]){10}, "a", &err)), NN(kc_input(1, (int64_t[]){10}, "b", &err))};
    kc_symbol *h1 = apply(make(&weighted_add_class, "{}"), in, 2);
    kc_symbol *h2 = apply(make(&gaussian_noise_class, "{\"stddev\": 0.1}"), &h1, 1);
    kc_symbol *h3 = apply(make(&my_dense_class, "{\"units\": 16, \"activation\": \"relu\"}"), &h2, 1);
    kc_symbol *h4 = apply(make(&my_dense_class, "{\"units\": 1}"), &h3, 1);
    kc_symbol *out = apply(NN(kc_layer_create("Lambda", "{\"function\": \"exp_fn\"}", &err)), &h4, 1);
    char shape[64];
    kc_shape s3 = kc_symbol_shape(h3);
    printf("MyDense(16) output shape: %s\n", kc_shape_format(&s3, shape, sizeof shape));
    check(s3.ndim == 2 && s3.dims[0] == -1 && s3.dims[1] == 16, "compute_output_shape gives (None, 16)");
    kc_object *model = NN(kc_functional_new(in, 2, &out, 1, "custom_layers", &err));
    kc_symbol *symbols[] = {in[0], in[1], h1, h2, h3, h4, out};
    for (size_t i = 0; i < sizeof symbols / sizeof *symbols; i++) kc_symbol_unref(symbols[i]);
    char *summary = NN(kc_model_summary(model, &err));
    fputs(summary, stdout);
    kc_string_free(summary);

    /* The Lambda is exp: its output is exp of its input */
    kc_object *lambda = kc_model_layer(model, kc_model_num_layers(model) - 1);
    kc_tensor *t = NN(kc_tensor_scalar(1.0f, &err));
    kc_tensor *e1 = NN(kc_layer_call1(lambda, t, false, &err));
    printf("Lambda(exp_fn)(1.0) = %.7f\n", kc_tensor_item(e1));
    check(fabsf(kc_tensor_item(e1) - 2.7182817f) < 1e-6f, "the Lambda calls exp_fn");
    kc_tensor_unref(e1);
    kc_tensor_unref(t);

    /* The noise layer: identity in inference, noisy in training */
    kc_object *noise = NN(kc_model_get_layer(model, "my_gaussian_noise"));
    kc_tensor *n_inf = NN(kc_layer_call1(noise, x, false, &err)), *n_train = NN(kc_layer_call1(noise, x, true, &err));
    check(same_values(n_inf, x) && !same_values(n_train, x), "MyGaussianNoise adds noise only when training");
    kc_tensor_unref(n_inf);
    kc_tensor_unref(n_train);

    /* train (training=true inside fit: the noise is on) */
    TRY(kc_model_compile(model, "{\"optimizer\": \"nadam\", \"loss\": \"mse\"}", NULL, &err));
    kc_fit_args fit = {.x = inputs, .n_x = 2, .y = &y, .n_y = 1, .epochs = 5};
    kc_history *history;
    TRY(kc_model_fit(model, &fit, &history, &err));
    const double *loss = kc_history_values(history, "loss");
    for (int e = 0; e < 5; e++) printf("epoch %d - loss: %.4f\n", e + 1, loss[e]);
    check(loss[4] < loss[0], "the loss went down");
    kc_history_free(history);
    kc_object *wadd = kc_model_layer(model, 2);
    float w = kc_tensor_item(kc_variable_value(kc_layer_weight(wadd, 0)));
    printf("%s: w = %.6f after training\n", kc_layer_name(wadd), w);

    /* predict is inference (no noise): twice the same */
    kc_tensor *p1, *p2, *p3;
    TRY(kc_model_predict_on_batch(model, inputs, 2, &p1, &(int){0}, &err));
    TRY(kc_model_predict_on_batch(model, inputs, 2, &p2, &(int){0}, &err));
    check(same_values(p1, p2), "predict gives the same values twice (no noise in inference)");

    /* save, then load: the classes come from custom_objects, exp_fn from the registry */
    TRY(kc_model_save(model, path, NULL, &err));
    kc_load_options load = {.custom_objects = co};
    kc_object *loaded = NN(kc_model_load(path, &load, &err));
    TRY(kc_model_predict_on_batch(loaded, inputs, 2, &p3, &(int){0}, &err));
    check(same_values(p1, p3), "the loaded model predicts the same values");
    float w2 = kc_tensor_item(kc_variable_value(kc_layer_weight(kc_model_layer(loaded, 2), 0)));
    check(w2 == w, "MyWeightedAdd's w is restored");

    kc_tensor *tmp[] = {p1, p2, p3, x, x2, y};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) kc_tensor_unref(tmp[i]);
    kc_object_unref(loaded);
    kc_object_unref(model);
    kc_custom_objects_free(co);
    return failed;
}
