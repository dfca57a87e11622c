/* Files ckeras writes load in TensorFlow.js and predict what ckeras
 * predicted (issue 6, acceptance 2): a model of every built-in layer kind
 * TensorFlow.js knows is built, given seeded weights, run, saved, and
 * handed to `keras-ref check` with its inputs and ckeras' outputs. Also:
 * h5dump -A shows model_config as readable JSON.
 *
 * The TensorFlow.js cases skip (exit 77, with the reason) when keras-ref or
 * Node.js is absent, and fail then in CI (CI=true). */
#include "keras_ref.h"
#include "saving_util.h"

#include <stdlib.h>
#include <string.h>

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

/* ---- builders ---------------------------------------------------------------------------------- */


/* A Sequential from an input shape (without batch) and layer configs. */
static kc_object *sequential(const char *input_shape, const char *const *layers, int n)
{
    char json[8192];
    int len = snprintf(json, sizeof json,
                       "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"seq\", \"layers\": ["
                       "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, %s]%s}}",
                       input_shape, strstr(layers[0], "Embedding") ? ", \"dtype\": \"int32\"" : "");
    for (int i = 0; i < n; i++) len += snprintf(json + len, sizeof json - (size_t)len, ", %s", layers[i]);
    snprintf(json + len, sizeof json - (size_t)len, "]}}");
    return su_model_from_json(json);
}

#define SEQ(shape, ...)                                                                            \
    sequential(shape, (const char *const[]){__VA_ARGS__},                                         \
               (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))
#define L(cls, cfg) "{\"class_name\": \"" cls "\", \"config\": " cfg "}"

static kc_object *dense_activations(void)
{
    return SEQ("5", L("Dense", "{\"units\": 6, \"activation\": \"relu\"}"),
               L("Dense", "{\"units\": 6, \"activation\": \"elu\"}"),
               L("Dense", "{\"units\": 6, \"activation\": \"selu\"}"),
               L("Dense", "{\"units\": 6, \"activation\": \"sigmoid\"}"),
               L("Dense", "{\"units\": 6, \"activation\": \"hard_sigmoid\"}"),
               L("Dense", "{\"units\": 6, \"activation\": \"tanh\"}"),
               L("Dense", "{\"units\": 6, \"activation\": \"softplus\"}"),
               L("Dense", "{\"units\": 6, \"activation\": \"softsign\"}"),
               L("Dense", "{\"units\": 6, \"activation\": \"swish\"}"),
               L("Dense", "{\"units\": 6, \"activation\": \"mish\"}"),
               L("Dense", "{\"units\": 6, \"activation\": \"linear\", \"use_bias\": false}"),
               L("Dense", "{\"units\": 4, \"activation\": \"softmax\"}"));
}

static kc_object *normalization(void)
{
    return SEQ("6", L("Dense", "{\"units\": 8}"),
               L("BatchNormalization", "{\"momentum\": 0.9, \"epsilon\": 0.01}"),
               L("BatchNormalization", "{\"center\": false, \"scale\": false}"),
               L("LayerNormalization", "{\"epsilon\": 0.001}"),
               L("Dense", "{\"units\": 3, \"activation\": \"tanh\"}"));
}

static kc_object *embedding(void)
{
    return SEQ("5", L("Embedding", "{\"input_dim\": 12, \"output_dim\": 4}"), L("Flatten", "{}"),
               L("Dense", "{\"units\": 3}"));
}

static kc_object *masking(void)
{
    return SEQ("4, 3", L("Masking", "{\"mask_value\": 0.0}"), L("Dense", "{\"units\": 2}"),
               L("Flatten", "{}"), L("Dense", "{\"units\": 2}"));
}

static kc_object *activation_layers(void)
{
    return SEQ("6", L("Dense", "{\"units\": 6}"), L("Activation", "{\"activation\": \"tanh\"}"),
               L("Dense", "{\"units\": 6}"), L("ReLU", "{\"max_value\": 0.5}"),
               L("Dense", "{\"units\": 6}"), L("LeakyReLU", "{\"alpha\": 0.2}"),
               L("Dense", "{\"units\": 6}"), L("ELU", "{\"alpha\": 1.0}"),
               L("Dense", "{\"units\": 6}"), L("PReLU", "{}"),
               L("Dense", "{\"units\": 6}"), L("Softmax", "{\"axis\": -1}"));
}

static kc_object *noise_layers(void)
{
    return SEQ("6", L("Dropout", "{\"rate\": 0.5}"), L("Dense", "{\"units\": 5}"),
               L("GaussianNoise", "{\"stddev\": 0.3}"), L("GaussianDropout", "{\"rate\": 0.2}"),
               L("Dense", "{\"units\": 2}"));
}

static kc_object *reshaping(void)
{
    return SEQ("12", L("Reshape", "{\"target_shape\": [3, 4]}"), L("Permute", "{\"dims\": [2, 1]}"),
               L("Dense", "{\"units\": 2}"), L("Flatten", "{}"), L("RepeatVector", "{\"n\": 3}"),
               L("Flatten", "{}"), L("Dense", "{\"units\": 2}"));
}

static kc_object *conv2d_stack(void)
{
    return SEQ("8, 8, 3", L("Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}"),
               L("DepthwiseConv2D", "{\"kernel_size\": 3, \"depth_multiplier\": 2}"),
               L("SeparableConv2D", "{\"filters\": 5, \"kernel_size\": 3, \"padding\": \"same\"}"),
               L("MaxPooling2D", "{\"pool_size\": 2}"), L("ZeroPadding2D", "{\"padding\": 1}"),
               L("Cropping2D", "{\"cropping\": [[1, 0], [0, 1]]}"), L("UpSampling2D", "{\"size\": 2}"),
               L("AveragePooling2D", "{\"pool_size\": 2, \"strides\": 1}"),
               L("Conv2DTranspose", "{\"filters\": 3, \"kernel_size\": 2, \"strides\": 2}"),
               L("GlobalAveragePooling2D", "{}"), L("Dense", "{\"units\": 2}"));
}

static kc_object *conv1d_stack(void)
{
    return SEQ("12, 3", L("Conv1D", "{\"filters\": 4, \"kernel_size\": 3, \"strides\": 1, \"activation\": \"tanh\"}"),
               L("MaxPooling1D", "{\"pool_size\": 2}"), L("Conv1D", "{\"filters\": 3, \"kernel_size\": 2, \"padding\": \"same\"}"),
               L("AveragePooling1D", "{\"pool_size\": 2}"), L("GlobalMaxPooling1D", "{}"), L("Dense", "{\"units\": 2}"));
}



/* Two inputs, every merge layer TensorFlow.js has, a nested Sequential and a
 * shared layer; two outputs. */
static kc_object *merges_and_nesting(void)
{
    kc_symbol *a = kc_input(1, (int64_t[]){4}, "a", &err), *b = kc_input(1, (int64_t[]){4}, "b", &err);
    kc_object *shared = su_layer("Dense", "{\"units\": 5, \"activation\": \"tanh\", \"name\": \"shared\"}");
    kc_symbol *ha = kc_apply(shared, &a, 1, &err), *hb = kc_apply(shared, &b, 1, &err);
    kc_object_unref(shared);
    kc_symbol *ab[2] = {ha, hb};
    kc_symbol *m[7] = {su_apply(su_layer("Add", "{}"), ab, 2), su_apply(su_layer("Multiply", "{}"), ab, 2),
                       su_apply(su_layer("Average", "{}"), ab, 2), su_apply(su_layer("Maximum", "{}"), ab, 2),
                       su_apply(su_layer("Minimum", "{}"), ab, 2), su_apply(su_layer("Concatenate", "{}"), ab, 2),
                       su_apply(su_layer("Dot", "{\"axes\": 1, \"normalize\": false}"), ab, 2)};
    kc_symbol *all = su_apply(su_layer("Concatenate", "{\"axis\": -1}"), m, 7);
    kc_object *inner = kc_sequential_new("inner", &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){36}, NULL, &err), *d1 = su_layer("Dense", "{\"units\": 4, \"activation\": \"elu\"}"),
              *d2 = su_layer("Dense", "{\"units\": 3}");
    CK_OK(kc_sequential_add(inner, in, &err));
    CK_OK(kc_sequential_add(inner, d1, &err));
    CK_OK(kc_sequential_add(inner, d2, &err));
    kc_object_unref(in);
    kc_object_unref(d1);
    kc_object_unref(d2);
    kc_symbol *o1 = su_apply(inner, &all, 1);
    kc_symbol *o2 = su_apply(su_layer("Dense", "{\"units\": 2, \"activation\": \"softmax\"}"), &hb, 1);
    kc_symbol *ins[2] = {a, b}, *outs[2] = {o1, o2};
    kc_object *model = kc_functional_new(ins, 2, outs, 2, "merges", &err);
    CK_NN(model, err);
    kc_symbol *syms[] = {a, b, ha, hb, all, o1, o2};
    for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) kc_symbol_unref(syms[i]);
    for (int i = 0; i < 7; i++) kc_symbol_unref(m[i]);
    return model;
}

/* The preprocessing layers TensorFlow.js computes as Keras does: Rescaling
 * (per-channel lists) and CenterCrop for sizes where its crop (a nearest
 * cropAndResize on normalized boxes) picks Keras' pixels. The identity
 * Permute gives CenterCrop a fresh shape array: TensorFlow.js' CenterCrop
 * writes into the one it gets, which would otherwise be the model input's. */
static kc_object *preprocessing(void)
{
    return SEQ("8, 10, 3", L("Rescaling", "{\"scale\": [0.5, 0.25, 2.0], \"offset\": [-1.0, 0.0, 0.5]}"),
               L("Permute", "{\"dims\": [1, 2, 3]}"), L("CenterCrop", "{\"height\": 6, \"width\": 6}"),
               L("Rescaling", "{\"scale\": 0.5}"), L("Flatten", "{}"), L("Dense", "{\"units\": 3}"));
}

typedef struct kind {
    const char *name;
    kc_object *(*build)(void);
    int int_range; /* > 0: integer inputs (Embedding) */
} kind;

static const kind kinds[] = {
    {"dense_activations", dense_activations, 0},
    {"normalization", normalization, 0},
    {"embedding", embedding, 12},
    {"masking", masking, 0},
    {"activation_layers", activation_layers, 0},
    {"noise_layers", noise_layers, 0},
    {"reshaping", reshaping, 0},
    {"merges_and_nesting", merges_and_nesting, 0},
    {"conv2d_stack", conv2d_stack, 0},
    {"conv1d_stack", conv1d_stack, 0},
    {"preprocessing", preprocessing, 0},
};
#define N_KINDS ((int)(sizeof kinds / sizeof kinds[0]))

/* ---- the check ----------------------------------------------------------------------------------- */


START_TEST(ckeras_files_load_in_tensorflow_js)
{
    KR_REQUIRE();
    const kind *k = &kinds[_i];
    kc_object *m = k->build();
    su_randomize_weights(m, 100 + (uint64_t)_i);
    kc_tensor *ins[4], *outs[4];
    su_model_inputs(m, 5, k->int_range, 7, ins);
    if (strcmp(k->name, "masking") == 0) { /* whole masked timesteps */
        float *x = kc_tensor_f32(ins[0]);
        for (int c = 0; c < 3; c++) x[1 * 12 + 3 * 3 + c] = x[2 * 12 + 0 * 3 + c] = 0.0f;
    }
    int n_in = kc_model_num_inputs(m), n_out = su_predict(m, ins, outs);
    char h5[64], io[64], args[12000], out[8192];
    snprintf(h5, sizeof h5, "conf_%s.h5", k->name);
    snprintf(io, sizeof io, "conf_%s.io.json", k->name);
    CK_OK(kc_model_save(m, su_path(h5), NULL, &err));
    su_write_io(su_path(io), m, ins, n_in, outs, n_out);
    snprintf(args, sizeof args, "check '%s' '%s' --rtol 1e-4 --atol 1e-5", su_path(h5), su_path(io));
    int rc = kr_run(args, out, sizeof out);
    ck_assert_msg(rc == 0, "%s: keras-ref check exit %d:\n%s", k->name, rc, out);
    ck_assert_msg(strstr(out, ": OK:"), "%s: %s", k->name, out);
    for (int i = 0; i < n_in; i++) kc_tensor_unref(ins[i]);
    for (int i = 0; i < n_out; i++) kc_tensor_unref(outs[i]);
    kc_object_unref(m);
}
END_TEST

START_TEST(h5dump_shows_model_config_as_json)
{
    if (system("command -v h5dump >/dev/null 2>&1") != 0) TU_SKIP("h5dump is not installed (Debian: hdf5-tools)");
    kc_object *m = normalization();
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"adam\", \"loss\": \"mse\"}", NULL, &err));
    CK_OK(kc_model_save(m, su_path("dump.h5"), NULL, &err));
    char cmd[8192], out[65536];
    snprintf(cmd, sizeof cmd, "h5dump -A '%s' 2>&1", su_path("dump.h5"));
    FILE *p = popen(cmd, "r");
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_msg(strstr(out, "ATTRIBUTE \"model_config\""), "%s", out);
    ck_assert_msg(strstr(out, "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"seq\""), "%s", out);
    ck_assert_msg(strstr(out, "ATTRIBUTE \"training_config\""), "%s", out);
    ck_assert_msg(strstr(out, "\"keras_version\"") && strstr(out, "\"2.15.0\""), "%s", out);
    ck_assert_msg(strstr(out, "ATTRIBUTE \"layer_names\""), "%s", out);
    kc_object_unref(m);
}
END_TEST

static Suite *conformance_suite(void)
{
    Suite *s = suite_create("conformance");
    TCase *tc = tcase_create("tfjs");
    tcase_set_tags(tc, "tfjs");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, ckeras_files_load_in_tensorflow_js, 0, N_KINDS);
    suite_add_tcase(s, tc);
    tc = tcase_create("h5dump");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, h5dump_shows_model_config_as_json);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(conformance_suite)
