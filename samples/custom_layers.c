/* Sample 5: custom layers.
 *
 *  - A layer without weights: a Lambda calling a C function (the seed's
 *    keras.layers.Lambda(lambda x: tf.exp(x))). Files never carry code:
 *    the Lambda is saved with the function's name, and the function is
 *    registered (kc_register_function, KC_KIND_LAMBDA) or given in
 *    custom_objects when the file is loaded.
 *  - The seed's MyDense(keras.layers.Layer): build creates the kernel and
 *    bias from the input shape, call computes activation(X @ kernel +
 *    bias), compute_output_shape and get_config (units and the full
 *    activation). Its from_config is its __init__; my_dense_new, the
 *    constructor MyDense(units, activation=...), goes through it
 *    (kc_object_from_args), so the C constructor and a loaded file cannot
 *    disagree.
 *  - A layer with two inputs: MyWeightedAdd([a, b]) = a + w * b, w a
 *    trainable scalar.
 *  - A layer that behaves differently in training: MyGaussianNoise adds
 *    noise only when called with training=true (fit), not in predict; its
 *    output has its input's shape, so it needs no compute_output_shape.
 *
 * A Functional model uses all four; it trains a little on diabetes, is
 * saved, and loads back (classes through custom_objects) with the same
 * predictions. Exit 1 if a check fails.
 *
 * Lines: lambda_layer C 5, Python 1 (5.0x) -- C has no lambdas: the function is named and defined apart
 * Lines: my_dense C 50, Python 22 (2.3x) -- C spells out what a Python class gives: a struct for the attributes, a signature and braces per method, the class table
 *
 * Run: custom_layers DATA_DIR OUT_DIR */
#include <ckeras.h>

#include "common/check.h"
#include "common/datasets.h"

#include <math.h>
#include <string.h>

/* ---- the Lambda's function --------------------------------------------------------------------- */

/* seed: lambda_layer */
static kc_tensor *exp_fn(kc_tensor *const *inputs, int n_inputs, void *params, kc_error *e)
{
    return kc_exp(inputs[0], e);
}
/* seed: end */

/* ---- MyDense ---------------------------------------------------------------------------------------- */

/* seed: my_dense */
typedef struct my_dense {
    kc_layer base;      /* the Layer base first: name, trainable, weights */
    int64_t units;
    kc_object *activation;      /* keras.activations.get(activation) */
    kc_variable *kernel, *bias; /* created in build; owned by the base */
} my_dense;

/* __init__(self, units, activation=None, **kwargs) */
static kc_status my_dense_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx, kc_error *e)
{
    my_dense *d = (my_dense *)self;
    kc_status rc = kc_cfg_int(ctx, config, "units", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &d->units, e);
    return rc ? rc : kc_cfg_object(ctx, config, "activation", KC_KIND_ACTIVATION, "linear", &d->activation, e);
}
static void my_dense_fini(kc_object *self) { kc_object_unref(((my_dense *)self)->activation); }

static kc_status my_dense_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    my_dense *d = (my_dense *)self;
    d->kernel = kc_layer_add_weight_ex(self, "kernel", KC_SHAPE(in[0].dims[in[0].ndim - 1], d->units),
                                       &(kc_weight_args){.initializer = KC_NAME("glorot_normal")}, e);
    d->bias = kc_layer_add_weight_ex(self, "bias", KC_SHAPE(d->units),
                                     &(kc_weight_args){.initializer = KC_NAME("zeros")}, e);
    return d->kernel && d->bias ? KC_OK : e->code;
}
static kc_status my_dense_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out, kc_error *e)
{
    my_dense *d = (my_dense *)self;
    kc_scope *s = kc_scope_new(e);
    kc_tensor *xw = kc_s_matmul(s, args->inputs[0], kc_variable_value(d->kernel), false, false);
    out[0] = kc_scope_return(s, kc_s_activation(s, d->activation, kc_s_add(s, xw, kc_variable_value(d->bias))));
    return out[0] ? KC_OK : e->code;
}
static kc_status my_dense_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                       kc_error *e)
{
    out[0] = in[0]; /* batch_input_shape[:-1] + [units] */
    out[0].dims[in[0].ndim - 1] = ((const my_dense *)self)->units;
    *n_out = 1;
    return KC_OK;
}
static kc_status my_dense_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    const my_dense *d = (const my_dense *)self;
    kc_status rc = kc_cfg_set_int(config, "units", d->units, e);
    return rc ? rc : kc_cfg_set_object(config, "activation", d->activation, e); /* activations.serialize */
}
static const kc_layer_methods my_dense_methods = {
    .build = my_dense_build, .call = my_dense_call, .compute_output_shape = my_dense_output_shape};
static const kc_class my_dense_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "MyDense", .size = sizeof(my_dense), .config_version = 1,
    .fini = my_dense_fini, .get_config = my_dense_get_config, .from_config = my_dense_from_config,
    .methods = &my_dense_methods};
/* seed: end */

/* MyDense(units, activation=...): the constructor's arguments, read by from_config */
typedef struct my_dense_args {
    KC_LAYER_ARGS; /* name, trainable, dtype, input_shape */
    int64_t units;
    kc_spec activation;
} my_dense_args;
static const kc_arg_field my_dense_fields[] = {KC_ARG_LAYER(my_dense_args), KC_ARG(my_dense_args, units),
                                               KC_ARG_OBJECT(my_dense_args, activation, KC_KIND_ACTIVATION)};

static kc_object *my_dense_new(const my_dense_args *args, kc_error *e)
{
    return kc_object_from_args(&my_dense_class, my_dense_fields, KC_ARRAY_SIZE(my_dense_fields), args, e);
}

/* ---- MyWeightedAdd: two inputs ------------------------------------------------------------------ */

typedef struct weighted_add {
    kc_layer base;
    kc_variable *w;
} weighted_add;

static kc_status weighted_add_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    ((weighted_add *)self)->w =
        kc_layer_add_weight_ex(self, "w", KC_SHAPE(1), &(kc_weight_args){.initializer = KC_NAME("ones")}, e);
    return ((weighted_add *)self)->w ? KC_OK : e->code;
}
static kc_status weighted_add_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out,
                                   kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *wb = kc_s_mul(s, args->inputs[1], kc_variable_value(((weighted_add *)self)->w));
    out[0] = kc_scope_return(s, kc_s_add(s, args->inputs[0], wb));
    return out[0] ? KC_OK : e->code;
}
/* Both inputs must have the same shape: say so here, where errors name the layer. */
static kc_status weighted_add_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                           int *n_out, kc_error *e)
{
    if (!kc_shape_equal(&in[0], &in[1]))
        return kc_error_set(e, KC_ESHAPE, "MyWeightedAdd needs two inputs of the same shape");
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
    kc_tensor *x = args->inputs[0];
    if (!args->training) { /* inference: the identity */
        out[0] = kc_tensor_ref(x);
        return KC_OK;
    }
    kc_scope *s = kc_scope_new(e);
    kc_tensor *noise = kc_s_zeros_like(s, x);
    if (noise)
        kc_rng_fill_normal(kc_global_rng(), kc_tensor_f32(noise), (size_t)kc_tensor_size(noise), 0.0f,
                           (float)((gaussian_noise *)self)->stddev);
    out[0] = kc_scope_return(s, kc_s_add(s, x, noise));
    return out[0] ? KC_OK : e->code;
}
static const kc_layer_methods noise_methods = {.call = noise_call}; /* output shaped like the input */
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

    /* exp_fn is registered once, by name: files name it, and any load finds it */
    TRY(kc_register_function(KC_KIND_LAMBDA, "exp_fn", KC_FN(exp_fn), &err));
    kc_custom_objects *co = custom_objects();

    /* a = Input([10]); b = Input([10])
     * h = MyWeightedAdd()([a, b]); h = MyGaussianNoise(0.1)(h)
     * h = MyDense(16, "relu")(h); out = Lambda(exp_fn)(MyDense(1)(h)) */
    kc_symbol *in[2] = {NN(kc_input(1, (int64_t[]){10}, "a", &err)), NN(kc_input(1, (int64_t[]){10}, "b", &err))};
    kc_symbol *h1 = NN(kc_apply_take(kc_layer_create_ex("MyWeightedAdd", NULL, co, &err), in, 2, &err));
    kc_symbol *h2 = NN(kc_apply_take(kc_layer_create_ex("MyGaussianNoise", "{\"stddev\": 0.1}", co, &err), &h1, 1, &err));
    kc_symbol *h3 = NN(kc_apply_take(my_dense_new(&(my_dense_args){.units = 16, .activation = KC_NAME("relu")}, &err),
                                     &h2, 1, &err));
    kc_symbol *h4 = NN(kc_apply_take(my_dense_new(&(my_dense_args){.units = 1}, &err), &h3, 1, &err));
    /* seed: lambda_layer */
    kc_object *exp_layer = NN(kc_layers_lambda(&(kc_layers_lambda_args){.function = KC_NAME("exp_fn")}, &err));
    /* seed: end */
    kc_symbol *out = NN(kc_apply_take(exp_layer, &h4, 1, &err));
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

    /* the constructor is from_config: a bad argument is refused the same way */
    check(my_dense_new(&(my_dense_args){.units = -16}, &err) == NULL && err.code == KC_EFORMAT,
          "MyDense(-16) is refused, as from_config refuses it");
    printf("  error: %s\n", err.message);
    kc_error_clear(&err);

    kc_tensor *tmp[] = {p1, p2, p3, x, x2, y};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) kc_tensor_unref(tmp[i]);
    kc_object_unref(loaded);
    kc_object_unref(model);
    kc_custom_objects_free(co);
    return failed;
}
