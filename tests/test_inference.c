/* The inference path (kc_set_inference_plans, lib/inference): predict and
 * inference calls through compiled plans give what the layer-by-layer path
 * gives -- the same bits, or within rtol 1e-5 where BatchNormalization was
 * folded into a kernel -- for every layer kind and every real fixture with
 * a golden; folding follows weight changes; layer changes rebuild; steady
 * state predict allocates nothing; and models a plan cannot cover keep the
 * layer-by-layer path. */
#include "testutil.h"
#include "golden.h"

#include <stdlib.h>
#include <string.h>

#define D(...) ((int64_t[]){__VA_ARGS__})

static kc_error err;

/* Every allocation is counted (a plan that runs allocates nothing once
 * warm: how these tests know the plan ran, and did not fall back). */
static long n_allocs;
static size_t largest_alloc;
static void *counting_malloc(size_t n)
{
    n_allocs++;
    largest_alloc = n > largest_alloc ? n : largest_alloc;
    return malloc(n);
}

/* Models made only of layers with inference kernels: their second
 * predict must allocate nothing. Cleared by tests with CALL steps. */
static bool kernels_only;

static void setup(void)
{
    kc_error_clear(&err);
    kc_set_alloc_funcs(counting_malloc, free);
    kernels_only = true;
    kc_set_inference_plans(true);
    kc_set_num_threads(1);
}

static void teardown(void)
{
    kc_set_alloc_funcs(NULL, NULL);
    kc_set_inference_plans(true);
    kc_set_num_threads(0);
}

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct lspec {
    const char *cls, *cfg;
} lspec;

/* Weights from a fixed stream; BatchNormalization statistics as a trained
 * model has them (variances around 1, means and offsets around 0). */
static void randomize(kc_object *m, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int i = 0; i < kc_layer_num_weights(m); i++) {
        kc_variable *v = kc_layer_weight(m, i);
        kc_tensor *t = kc_variable_value(v);
        if (kc_tensor_dtype(t) != KC_FLOAT32) continue;
        const char *name = kc_variable_name(v);
        float *p = kc_tensor_f32(t);
        for (int64_t j = 0; j < kc_tensor_size(t); j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            float r = (float)(s >> 40) / 16777216.0f; /* [0, 1) */
            if (strstr(name, "variance")) p[j] = 0.5f + r;
            else if (strstr(name, "gamma")) p[j] = 0.75f + 0.5f * r;
            else p[j] = r - 0.5f;
        }
    }
}

static kc_object *layer(const char *cls, const char *cfg)
{
    kc_object *l = kc_layer_create(cls, cfg, &err);
    CK_NN(l, err);
    return l;
}

static kc_object *sequential(int ndim, const int64_t *shape, const lspec *ls, int n)
{
    kc_object *m = kc_sequential_new(NULL, &err), *in = kc_input_layer(ndim, shape, NULL, &err);
    CK_NN(m, err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object_unref(in);
    for (int i = 0; i < n; i++) {
        kc_object *l = layer(ls[i].cls, ls[i].cfg);
        kc_status rc = kc_sequential_add(m, l, &err);
        ck_assert_msg(rc == KC_OK, "%s %s: %s (%s)", ls[i].cls, ls[i].cfg ? ls[i].cfg : "", err.message, err.context);
        kc_object_unref(l);
    }
    return m;
}

static int predict(kc_object *m, kc_tensor *const *x, int n_x, int64_t batch, bool plans, kc_tensor **out)
{
    int n = 0;
    kc_set_inference_plans(plans);
    kc_status rc = kc_model_predict(m, x, n_x, batch, out, &n, &err);
    kc_set_inference_plans(true);
    ck_assert_msg(rc == KC_OK, "predict: %s (%s)", err.message, err.context);
    return n;
}

/* got == want elementwise (-0 == 0, NaN == NaN) when exact, else within
 * rtol 1e-5 (atol 1e-6 for values near zero). */
static void compare(kc_tensor *got, kc_tensor *want, bool exact, const char *what)
{
    ck_assert_msg(kc_tensor_same_shape(got, want), "%s: shapes differ", what);
    if (!exact) {
        tu_assert_tensors_close(got, want, 1e-5, 1e-6, what);
        return;
    }
    const float *a = kc_tensor_cdata(got), *b = kc_tensor_cdata(want);
    for (int64_t i = 0; i < kc_tensor_size(got); i++)
        ck_assert_msg(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])), "%s: element %lld is %.9g, expected %.9g",
                      what, (long long)i, (double)a[i], (double)b[i]);
}

/* The plan's predict against the layer-by-layer one, twice (the second
 * run reuses the plan). */
static void check_model(kc_object *m, kc_tensor *const *x, int n_x, bool exact, const char *what)
{
    kc_tensor *want[KC_MAX_LAYER_OUTPUTS], *got[KC_MAX_LAYER_OUTPUTS];
    int nw = predict(m, x, n_x, 0, false, want);
    for (int round = 0; round < 2; round++) {
        long before = n_allocs;
        int ng = predict(m, x, n_x, 0, true, got);
        if (round == 1 && kernels_only)
            ck_assert_msg(n_allocs == before, "%s: the plan did not run (%ld allocations)", what, n_allocs - before);
        ck_assert_int_eq(ng, nw);
        for (int i = 0; i < nw; i++) {
            compare(got[i], want[i], exact, what);
            kc_tensor_unref(got[i]);
        }
    }
    for (int i = 0; i < nw; i++) kc_tensor_unref(want[i]);
}

static void check_seq(const char *what, int ndim, const int64_t *shape, const lspec *ls, int n, bool exact)
{
    kc_object *m = sequential(ndim, shape, ls, n);
    randomize(m, 7);
    int64_t dims[KC_MAX_DIMS] = {3};
    memcpy(dims + 1, shape, sizeof(int64_t) * (size_t)ndim);
    kc_tensor *x = tu_random(ndim + 1, dims, -2, 2, 11);
    check_model(m, &x, 1, exact, what);
    kc_tensor_unref(x);
    kc_object_unref(m);
}

/* ---- every layer kind ------------------------------------------------------------------------ */

#define SEQ(what, exact, shape, ...)                                                               \
    do {                                                                                           \
        static const lspec ls_[] = {__VA_ARGS__};                                                  \
        int64_t sh_[] = shape;                                                                     \
        check_seq(what, (int)(sizeof(sh_) / sizeof(sh_[0])), sh_, ls_, (int)(sizeof(ls_) / sizeof(ls_[0])), exact); \
    } while (0)
#define S(...) {__VA_ARGS__}

START_TEST(dense_and_activations_match)
{
    static const char *const acts[] = {"relu", "sigmoid", "tanh", "softplus", "softsign", "elu", "selu",
                                       "exponential", "swish", "gelu", "leaky_relu", "relu6", "mish", "hard_silu",
                                       "hard_sigmoid", "linear", "softmax", "log_softmax"};
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
        char cfg[100];
        snprintf(cfg, sizeof cfg, "{\"units\": 7, \"activation\": \"%s\"}", acts[i]);
        lspec ls[] = {{"Dense", cfg}, {"Dense", "{\"units\": 5}"}};
        check_seq(acts[i], 1, D(6), ls, 2, true);
    }
    SEQ("Dense on sequences", true, S(4, 6), {"Dense", "{\"units\": 3, \"activation\": \"relu\"}"});
    SEQ("activation layers", true, S(10),
        {"Activation", "{\"activation\": \"tanh\"}"}, {"ReLU", "{\"max_value\": 1.5, \"negative_slope\": 0.1, \"threshold\": 0.2}"},
        {"LeakyReLU", "{\"alpha\": 0.3}"}, {"ELU", "{\"alpha\": 0.7}"}, {"Activation", "{\"activation\": \"linear\"}"},
        {"Softmax", "{\"axis\": -1}"});
    SEQ("Softmax on another axis", true, S(3, 4), {"Softmax", "{\"axis\": 1}"});
    SEQ("identities", true, S(5), {"Dropout", "{\"rate\": 0.5}"}, {"GaussianNoise", "{\"stddev\": 1.0}"},
        {"GaussianDropout", "{\"rate\": 0.3}"}, {"ActivityRegularization", "{\"l1\": 0.1}"}, {"Dense", "{\"units\": 2}"});
    SEQ("augmentations (the identity outside training)", true, S(6, 5, 3), {"RandomFlip", NULL},
        {"RandomRotation", "{\"factor\": 0.2}"}, {"RandomZoom", "{\"height_factor\": 0.2}"},
        {"RandomTranslation", "{\"height_factor\": 0.1, \"width_factor\": 0.1}"},
        {"RandomContrast", "{\"factor\": 0.5}"}, {"RandomBrightness", "{\"factor\": 0.3}"},
        {"Conv2D", "{\"filters\": 2, \"kernel_size\": 3}"});
    SEQ("views", true, S(2, 3, 4), {"Flatten", NULL}, {"Reshape", "{\"target_shape\": [4, 6]}"},
        {"Dense", "{\"units\": 2}"}, {"Flatten", NULL});
}
END_TEST

START_TEST(convolutions_and_pooling_match)
{
    SEQ("Conv2D same, strided, relu", true, S(9, 8, 3),
        {"Conv2D", "{\"filters\": 5, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", \"activation\": \"relu\"}"});
    /* relu, leaky and capped ReLUs go into oneDNN's primitive as it writes
     * (exactly: the same comparisons); a threshold, or a slope with a cap,
     * is applied after the convolution */
    SEQ("Conv2D with the ReLU family", true, S(9, 8, 3), {"Conv2D", "{\"filters\": 5, \"kernel_size\": 3}"},
        {"LeakyReLU", "{\"alpha\": 0.2}"}, {"Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"activation\": \"relu6\"}"},
        {"Conv2D", "{\"filters\": 4, \"kernel_size\": 1}"}, {"ReLU", "{\"threshold\": 0.1}"},
        {"Conv2D", "{\"filters\": 3, \"kernel_size\": 1}"}, {"ReLU", "{\"max_value\": 1.0, \"negative_slope\": 0.1}"});
    SEQ("Conv2D valid, dilated, groups", true, S(9, 8, 4),
        {"Conv2D", "{\"filters\": 6, \"kernel_size\": [3, 2], \"dilation_rate\": 2, \"groups\": 2}"});
    SEQ("Conv2D 1x1", true, S(5, 5, 8), {"Conv2D", "{\"filters\": 3, \"kernel_size\": 1, \"activation\": \"swish\"}"});
    SEQ("Conv1D causal", true, S(12, 3), {"Conv1D", "{\"filters\": 4, \"kernel_size\": 3, \"padding\": \"causal\", \"dilation_rate\": 2}"});
    SEQ("Conv3D", true, S(5, 6, 4, 2), {"Conv3D", "{\"filters\": 3, \"kernel_size\": 2, \"padding\": \"same\"}"});
    SEQ("DepthwiseConv2D", true, S(9, 7, 5),
        {"DepthwiseConv2D", "{\"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", \"activation\": \"relu6\"}"},
        {"DepthwiseConv2D", "{\"kernel_size\": [3, 1], \"depth_multiplier\": 2}"});
    SEQ("DepthwiseConv1D", true, S(10, 4), {"DepthwiseConv1D", "{\"kernel_size\": 3, \"depth_multiplier\": 3, \"padding\": \"same\"}"});
    SEQ("SeparableConv2D", true, S(8, 8, 3),
        {"SeparableConv2D", "{\"filters\": 4, \"kernel_size\": 3, \"depth_multiplier\": 2, \"padding\": \"same\", \"activation\": \"elu\"}"});
    SEQ("SeparableConv1D", true, S(9, 3), {"SeparableConv1D", "{\"filters\": 2, \"kernel_size\": 2}"});
    /* folded into the convolutions' padding: exact with ckeras' kernels, a
     * rounding apart through oneDNN (another primitive for another shape) */
    SEQ("ZeroPadding into convolutions", false, S(7, 6, 3), {"ZeroPadding2D", "{\"padding\": [[1, 2], [0, 1]]}"},
        {"DepthwiseConv2D", "{\"kernel_size\": 3, \"strides\": 2}"}, {"ZeroPadding2D", "{\"padding\": 1}"},
        {"Conv2D", "{\"filters\": 2, \"kernel_size\": 2}"});
    SEQ("ZeroPadding alone", true, S(6, 3), {"ZeroPadding1D", "{\"padding\": [2, 1]}"}, {"MaxPooling1D", NULL});
    SEQ("pooling 2D", true, S(9, 7, 3), {"MaxPooling2D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\"}"},
        {"AveragePooling2D", "{\"pool_size\": 2, \"padding\": \"same\"}"});
    SEQ("pooling 1D and 3D", true, S(6, 5, 4, 2), {"AveragePooling3D", "{\"pool_size\": 2}"},
        {"MaxPooling3D", "{\"pool_size\": [1, 2, 1], \"padding\": \"same\"}"});
    SEQ("global pooling", true, S(5, 4, 3), {"GlobalAveragePooling2D", "{\"keepdims\": true}"},
        {"GlobalMaxPooling2D", NULL});
    SEQ("global pooling 1D", true, S(7, 3), {"GlobalMaxPooling1D", "{\"keepdims\": true}"}, {"GlobalAveragePooling1D", NULL});
}
END_TEST

START_TEST(batch_normalization_matches)
{
    /* folded into the kernel before it: rtol 1e-5 */
    SEQ("Conv2D + BN + ReLU", false, S(8, 8, 3), {"Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"use_bias\": false}"},
        {"BatchNormalization", NULL}, {"ReLU", "{\"max_value\": 6}"});
    SEQ("Depthwise + BN", false, S(8, 8, 3), {"DepthwiseConv2D", "{\"kernel_size\": 3, \"padding\": \"same\"}"},
        {"BatchNormalization", "{\"epsilon\": 0.01}"}, {"Activation", "{\"activation\": \"relu\"}"});
    SEQ("Separable + BN", false, S(6, 6, 2), {"SeparableConv2D", "{\"filters\": 3, \"kernel_size\": 3}"},
        {"BatchNormalization", "{\"center\": false}"});
    SEQ("Dense + BN", false, S(6), {"Dense", "{\"units\": 5}"}, {"BatchNormalization", "{\"scale\": false}"});
    /* not foldable: the same four operations as the layer, exactly */
    SEQ("BN after an activation", true, S(6, 6, 2), {"Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"activation\": \"relu\"}"},
        {"BatchNormalization", NULL}, {"Activation", "{\"activation\": \"tanh\"}"});
    SEQ("BN first, on axis 1", true, S(4, 5), {"BatchNormalization", "{\"axis\": 1}"}, {"BatchNormalization", NULL});
}
END_TEST

/* A functional model of merges, concatenation and a nested Sequential,
 * with two outputs and an output that is also read further on. */
START_TEST(merges_and_graphs_match)
{
    kc_symbol *x = kc_input(2, D(4, 3), NULL, &err), *y = kc_input(2, D(4, 3), NULL, &err);
    CK_NN(x, err);
    static const char *const merges[] = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"};
    kc_symbol *m[6], *xy[2] = {x, y};
    for (int i = 0; i < 6; i++) {
        kc_object *l = layer(merges[i], NULL);
        CK_NN(m[i] = kc_apply(l, xy, 2, &err), err);
        kc_object_unref(l);
    }
    kc_object *cat = layer("Concatenate", "{\"axis\": 1}"), *cat2 = layer("Concatenate", NULL);
    kc_symbol *c1 = kc_apply(cat, m, 6, &err), *c2 = kc_apply(cat2, m, 3, &err);
    CK_NN(c1, err);
    kc_object *relu = layer("ReLU", NULL), *add3 = layer("Add", NULL);
    kc_symbol *three[3] = {x, y, m[0]};
    kc_symbol *s3 = kc_apply(add3, three, 3, &err), *r = kc_apply(relu, &s3, 1, &err);
    static const lspec inner[] = {{"Dense", "{\"units\": 4, \"activation\": \"tanh\"}"}, {"Dropout", "{\"rate\": 0.2}"}};
    kc_object *nested = sequential(2, D(4, 3), inner, 2);
    kc_symbol *n = kc_apply(nested, &r, 1, &err);
    CK_NN(n, err);
    kc_symbol *outs[4] = {c1, c2, n, r};
    kc_object *model = kc_functional_new(xy, 2, outs, 4, "graph", &err);
    CK_NN(model, err);
    randomize(model, 3);
    kc_tensor *in[2] = {tu_random(3, D(2, 4, 3), -1, 1, 1), tu_random(3, D(2, 4, 3), -1, 1, 2)};
    check_model(model, in, 2, true, "merges and graph");
    /* an output that is the model's input, and one output twice */
    kc_symbol *o2[3] = {x, c2, c2};
    kc_object *echo = kc_functional_new(xy, 2, o2, 3, "echo", &err);
    CK_NN(echo, err);
    check_model(echo, in, 2, true, "outputs that are inputs or repeated");
    kc_symbol *syms[] = {x, y, c1, c2, s3, r, n, m[0], m[1], m[2], m[3], m[4], m[5]};
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) kc_symbol_unref(syms[i]);
    kc_object *objs[] = {cat, cat2, relu, add3, nested, model, echo};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) kc_object_unref(objs[i]);
    kc_tensor_unref(in[0]);
    kc_tensor_unref(in[1]);
}
END_TEST

/* Layers without a kernel of their own run through their call inside the
 * plan: recurrent layers, transposed and channels_first convolutions,
 * Embedding without masks, Permute, Lambda. */
static kc_tensor *double_it(kc_tensor *const *in, int n, void *params, kc_error *e)
{
    (void)n, (void)params;
    return kc_mul_scalar(in[0], 2.0f, e);
}

START_TEST(layers_run_through_their_call_match)
{
    kernels_only = false;
    SEQ("LSTM and GRU", true, S(5, 3), {"LSTM", "{\"units\": 4, \"return_sequences\": true}"},
        {"GRU", "{\"units\": 3}"}, {"Dense", "{\"units\": 2}"});
    SEQ("Conv2DTranspose and channels_first", true, S(5, 5, 2),
        {"Conv2DTranspose", "{\"filters\": 3, \"kernel_size\": 3, \"strides\": 2}"},
        {"Permute", "{\"dims\": [3, 1, 2]}"},
        {"Conv2D", "{\"filters\": 2, \"kernel_size\": 2, \"data_format\": \"channels_first\"}"},
        {"Flatten", "{\"data_format\": \"channels_first\"}"});
    CK_OK(kc_register_function(KC_KIND_LAMBDA, "double_it", (kc_fn)double_it, &err));
    SEQ("Lambda and UpSampling", true, S(4, 2), {"Lambda", "{\"function\": \"double_it\"}"}, {"UpSampling1D", NULL},
        {"Cropping1D", "{\"cropping\": [1, 0]}"});
    /* integer inputs through Embedding (no mask) */
    kc_object *m = kc_sequential_new(NULL, &err), *in = kc_input_layer(1, D(4), NULL, &err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object *e = layer("Embedding", "{\"input_dim\": 10, \"output_dim\": 3}"), *d = layer("Dense", "{\"units\": 2}");
    CK_OK(kc_sequential_add(m, e, &err));
    CK_OK(kc_sequential_add(m, d, &err));
    randomize(m, 5);
    int32_t ids[8] = {1, 2, 3, 9, 0, 4, 4, 7};
    kc_tensor *x = kc_tensor_from_data(KC_INT32, 2, D(2, 4), ids, &err);
    check_model(m, &x, 1, true, "Embedding");
    kc_tensor_unref(x);
    kc_object_unref(in), kc_object_unref(e), kc_object_unref(d), kc_object_unref(m);
    SEQ("preprocessing", true, S(6, 8, 2), {"Rescaling", "{\"scale\": 0.5, \"offset\": -1.0}"},
        {"RandomCrop", "{\"height\": 4, \"width\": 6}"}, {"Resizing", "{\"height\": 3, \"width\": 3}"},
        {"Dense", "{\"units\": 2}"});
    /* an augmentation casts integer images to float32: through its call */
    m = kc_sequential_new(NULL, &err), in = kc_input_layer(3, D(2, 2, 1), NULL, &err);
    kc_object *flip = layer("RandomFlip", NULL);
    d = layer("Dense", "{\"units\": 2}");
    CK_OK(kc_sequential_add(m, in, &err));
    CK_OK(kc_sequential_add(m, flip, &err));
    CK_OK(kc_sequential_add(m, d, &err));
    randomize(m, 6);
    int32_t pixels[8] = {0, 255, 3, 17, 9, 4, 128, 64};
    x = kc_tensor_from_data(KC_INT32, 4, D(2, 2, 2, 1), pixels, &err);
    check_model(m, &x, 1, true, "integer images through RandomFlip");
    kc_tensor_unref(x);
    kc_object_unref(in), kc_object_unref(flip), kc_object_unref(d), kc_object_unref(m);
}
END_TEST

/* model(x) with training off and no tape runs the plan; on a tape it runs
 * layer by layer: the two agree. */
START_TEST(direct_calls_match_calls_on_a_tape)
{
    static const lspec ls[] = {{"Conv2D", "{\"filters\": 4, \"kernel_size\": 3}"}, {"BatchNormalization", NULL},
                               {"ReLU", NULL}, {"GlobalAveragePooling2D", NULL}, {"Dense", "{\"units\": 3, \"activation\": \"softmax\"}"}};
    kc_object *m = sequential(3, D(6, 6, 2), ls, 5);
    randomize(m, 9);
    kc_tensor *x = tu_random(4, D(2, 6, 6, 2), -1, 1, 4);
    kc_tensor *planned = kc_layer_call1(m, x, false, &err);
    CK_NN(planned, err);
    kc_tape *tape = kc_tape_begin(0, &err);
    kc_tensor *taped = kc_layer_call1(m, x, false, &err);
    ck_assert_uint_gt(kc_tape_size(tape), 0); /* recorded: the layer-by-layer path */
    kc_tape_free(tape);
    CK_NN(taped, err);
    compare(planned, taped, false, "direct call");
    kc_tensor_unref(planned), kc_tensor_unref(taped), kc_tensor_unref(x);
    kc_object_unref(m);
}
END_TEST

/* ---- real files -------------------------------------------------------------------------- */

static kc_tensor *square_fn(kc_tensor *const *in, int n, void *p, kc_error *e)
{
    (void)n, (void)p;
    return kc_square(in[0], e);
}
static kc_tensor *times3_fn(kc_tensor *const *in, int n, void *p, kc_error *e)
{
    (void)n, (void)p;
    return kc_mul_scalar(in[0], 3.0f, e);
}
static kc_tensor *stand_in_loss(kc_tensor *t, kc_tensor *y, void *p, kc_error *e)
{
    (void)p;
    return kc_sub(t, y, e);
}

/* Every file with a TensorFlow.js golden: the plan and the layer path agree
 * within rtol 1e-5, and the plan reproduces the golden as the saving suite
 * asks (rtol 1e-4, atol 1e-5). */
START_TEST(real_fixtures_match_with_and_without_plans)
{
    kernels_only = false;
    static const char *const files[] = {
        "keras-wild/seq_teachable_mobilenetv2_k2.4.0", "keras/seq_dense_k1.2.2", "keras/seq_cnn_maxpool_dropout_k1.1.2",
        "keras/seq_embedding_lstm_k2.1.3_theano", "keras/seq_simplernn_flatten_k2.1.3_optw", "keras/seq_conv2d_bn_k2.1.3",
        "keras/seq_sepconv2d_k2.1.3", "keras/seq_dense_nadam_k2.0.9", "keras/seq_masking_lstm_k2.2.0",
        "keras/func_conv2d_prelu_k2.2.0", "keras/func_dense_lstm_k2.2.4_adam",
        "keras/func_multiio_conv1d_lstm_concat_k2.2.4_customloss", "keras/func_bidir_lstm_multiio_k2.2.5",
        "keras/func_gru_dense_dropout_k2.1.3_optw", "keras/func_conv1d_k2.11.0", "keras/func_resnet8_add_k2.4.0",
        "keras/func_dscnn_depthwise_k2.13.1", "keras/func_conv2d_bn_avgpool_k2.10.0", "keras-ref/mlp", "keras-ref/bn",
        "keras-ref/functional", "keras-ref/linear", "keras-ref/cnn", "keras-ref/conv1d", "keras-ref/gru",
        "keras-ref/embedding_lstm", "keras-ref/simple_rnn"};
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LAMBDA, "lambda_1", (kc_fn)square_fn, NULL, NULL, &err));
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LAMBDA, "lambda_2", (kc_fn)times3_fn, NULL, NULL, &err));
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LOSS, "hinge_mse", (kc_fn)stand_in_loss, NULL, NULL, &err));
    static const char *const metrics[] = {"denorm_MAE", "sgn_acc", "perBLMAE"};
    for (int i = 0; i < 3; i++)
        CK_OK(kc_custom_objects_add_function(co, KC_KIND_METRIC, metrics[i], (kc_fn)stand_in_loss, NULL, NULL, &err));
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char h5[256], io[256];
        snprintf(h5, sizeof h5, "%s.h5", files[f]);
        snprintf(io, sizeof io, "%s.io.json", files[f]);
        kc_load_options lo = {.custom_objects = co};
        kc_object *m = kc_model_load(tu_data(h5), &lo, &err);
        ck_assert_msg(m != NULL, "%s: %s (%s)", files[f], err.message, err.context);
        json_t *j = tu_load_json(io);
        const json_t *jin = json_object_get(j, "inputs"), *jout = json_object_get(j, "outputs");
        kc_tensor *x[KC_MAX_LAYER_OUTPUTS], *want[KC_MAX_LAYER_OUTPUTS], *got[KC_MAX_LAYER_OUTPUTS];
        int n_in = (int)json_array_size(jin);
        for (int i = 0; i < n_in; i++) x[i] = tu_json_tensor(json_array_get(jin, (size_t)i));
        int n = predict(m, x, n_in, 0, false, want);
        ck_assert_int_eq(predict(m, x, n_in, 0, true, got), n);
        ck_assert_int_eq(n, (int)json_array_size(jout));
        for (int i = 0; i < n; i++) {
            compare(got[i], want[i], false, files[f]);
            kc_tensor *golden = tu_json_tensor(json_array_get(jout, (size_t)i));
            tu_assert_tensors_close(got[i], golden, 1e-4, 1e-5, files[f]);
            kc_tensor_unref(golden), kc_tensor_unref(got[i]), kc_tensor_unref(want[i]);
        }
        for (int i = 0; i < n_in; i++) kc_tensor_unref(x[i]);
        json_decref(j);
        kc_object_unref(m);
    }
    kc_custom_objects_free(co);
}
END_TEST

/* ---- validity ------------------------------------------------------------------------------- */

static kc_object *conv_bn_model(void)
{
    static const lspec ls[] = {{"Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\"}"},
                               {"BatchNormalization", NULL}, {"ReLU", NULL}, {"Flatten", NULL}, {"Dense", "{\"units\": 2}"},
                               {"BatchNormalization", NULL}};
    kc_object *m = sequential(3, D(5, 5, 2), ls, 6);
    randomize(m, 21);
    return m;
}

/* The plan's prediction equals the layer path's for the current weights. */
static void check_current(kc_object *m, kc_tensor *x, const char *what)
{
    kc_tensor *want, *got;
    predict(m, &x, 1, 0, false, &want);
    predict(m, &x, 1, 0, true, &got);
    compare(got, want, false, what);
    kc_tensor_unref(got), kc_tensor_unref(want);
}

/* Weights change after a predict, in every way a program changes them: the
 * next predict folds again. */
START_TEST(changed_weights_are_folded_again)
{
    kc_object *m = conv_bn_model();
    kc_tensor *x = tu_random(4, D(4, 5, 5, 2), -1, 1, 8);
    check_current(m, x, "first");
    /* set_weights */
    int nw = kc_layer_num_weights(m);
    kc_tensor *w[16];
    CK_OK(kc_layer_get_weights(m, w, &err));
    for (int i = 0; i < nw; i++) {
        float *p = kc_tensor_f32(w[i]);
        for (int64_t j = 0; j < kc_tensor_size(w[i]); j++) p[j] *= 1.5f;
    }
    kc_tensor *before;
    predict(m, &x, 1, 0, true, &before);
    CK_OK(kc_layer_set_weights(m, w, nw, &err));
    check_current(m, x, "after set_weights");
    kc_tensor *after;
    predict(m, &x, 1, 0, true, &after);
    ck_assert(kc_tensor_get(before, 0) != kc_tensor_get(after, 0));
    kc_tensor_unref(before), kc_tensor_unref(after);
    /* load_weights: the weights saved before the change come back */
    char path[4096];
    snprintf(path, sizeof path, "%s/w.h5", tu_tmpdir());
    CK_OK(kc_model_save_weights(m, path, NULL, &err));
    randomize(m, 99);
    check_current(m, x, "after writing through kc_tensor_f32");
    CK_OK(kc_model_load_weights(m, path, NULL, &err));
    check_current(m, x, "after load_weights");
    /* a training step moves the kernels and the moving statistics */
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": \"mse\"}", NULL, &err));
    kc_tensor *y = tu_random(2, D(4, 2), -1, 1, 9);
    CK_OK(kc_model_train_on_batch(m, &x, 1, &y, 1, NULL, NULL, &err));
    check_current(m, x, "after a training step");
    for (int i = 0; i < nw; i++) kc_tensor_unref(w[i]);
    kc_tensor_unref(x), kc_tensor_unref(y);
    kc_object_unref(m);
}
END_TEST

/* Layers added or removed after a predict: the plan is built again. */
START_TEST(changed_layers_rebuild_the_plan)
{
    static const lspec ls[] = {{"Dense", "{\"units\": 4, \"activation\": \"relu\"}"}, {"Dense", "{\"units\": 3}"}};
    kc_object *m = sequential(1, D(5), ls, 2);
    randomize(m, 2);
    kc_tensor *x = tu_random(2, D(2, 5), -1, 1, 3), *a, *b;
    predict(m, &x, 1, 0, true, &a);
    ck_assert_int_eq(kc_tensor_dim(a, 1), 3);
    CK_OK(kc_sequential_pop(m, &err));
    predict(m, &x, 1, 0, true, &b);
    ck_assert_int_eq(kc_tensor_dim(b, 1), 4);
    kc_tensor_unref(b);
    kc_object *l = layer("Dense", "{\"units\": 6}");
    CK_OK(kc_sequential_add(m, l, &err));
    check_current(m, x, "a new last layer");
    predict(m, &x, 1, 0, true, &b);
    ck_assert_int_eq(kc_tensor_dim(b, 1), 6);
    kc_tensor_unref(a), kc_tensor_unref(b), kc_tensor_unref(x);
    kc_object_unref(l), kc_object_unref(m);
}
END_TEST

/* ---- memory ---------------------------------------------------------------------------------- */

/* After the first predict with given shapes, predicts allocate nothing:
 * the plan's buffers are reused and so are the outputs, once released. */
START_TEST(steady_state_predict_allocates_nothing)
{
    kc_object *m = conv_bn_model();
    kc_tensor *x = tu_random(4, D(7, 5, 5, 2), -1, 1, 8), *out[2];
    for (int round = 0; round < 4; round++) {
        long before = n_allocs;
        int n = 0;
        /* batches of 3: two plans (3 and the last 1) */
        CK_OK(kc_model_predict(m, &x, 1, 3, out, &n, &err));
        if (round >= 1) ck_assert_msg(n_allocs == before, "predict %d allocated %ld times", round, n_allocs - before);
        kc_tensor_unref(out[0]);
        before = n_allocs;
        CK_OK(kc_model_predict_on_batch(m, &x, 1, out, &n, &err));
        if (round >= 1) ck_assert_msg(n_allocs == before, "predict_on_batch %d allocated %ld times", round, n_allocs - before);
        kc_tensor_unref(out[0]);
    }
    /* a caller keeping its output gets a fresh one next time, and keeps its values */
    int n = 0;
    CK_OK(kc_model_predict(m, &x, 1, 0, &out[0], &n, &err));
    CK_OK(kc_model_predict(m, &x, 1, 0, &out[1], &n, &err));
    ck_assert_ptr_ne(out[0], out[1]);
    compare(out[0], out[1], true, "kept output");
    kc_tensor_unref(out[0]), kc_tensor_unref(out[1]);
    kc_tensor_unref(x);
    kc_object_unref(m);
}
END_TEST

/* ---- threads ---------------------------------------------------------------------------------- */

/* A model whose intermediates take about 3 MiB a sample: predict runs its
 * plan on 8 samples at a time (one thread), so the arena stays near 24 MiB
 * instead of the 96 MiB 32 samples would take; the values are the same as
 * layer by layer, the last shorter run included, and a second predict
 * allocates nothing. */
START_TEST(predict_cuts_batches_with_large_intermediates)
{
    lspec ls[] = {{"Conv2D", "{\"filters\": 32, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}"},
                  {"Conv2D", "{\"filters\": 16, \"kernel_size\": 1}"}, {"GlobalAveragePooling2D", NULL}};
    kc_object *m = sequential(3, (int64_t[]){128, 128, 3}, ls, 3);
    randomize(m, 5);
    kc_tensor *x = tu_random(4, (int64_t[]){36, 128, 128, 3}, -1, 1, 9);
    kc_tensor *want, *got;
    predict(m, &x, 1, 32, false, &want);
    largest_alloc = 0;
    predict(m, &x, 1, 32, true, &got);
    ck_assert_msg(largest_alloc < ((size_t)48 << 20), "the plan's arena took %zu bytes at once", largest_alloc);
    compare(got, want, false, "36 samples in runs of 8");
    kc_tensor_unref(got);
    long before = n_allocs;
    predict(m, &x, 1, 32, true, &got);
    ck_assert_msg(n_allocs == before, "the second predict allocated %ld times", n_allocs - before);
    compare(got, want, false, "again");
    kc_tensor_unref(got);
    kc_tensor_unref(want);
    kc_tensor_unref(x);
    kc_object_unref(m);
}
END_TEST

START_TEST(plans_give_the_same_values_on_any_thread_count)
{
    static const lspec ls[] = {{"Conv2D", "{\"filters\": 16, \"kernel_size\": 3, \"padding\": \"same\"}"},
                               {"BatchNormalization", NULL}, {"ReLU", "{\"max_value\": 6}"},
                               {"DepthwiseConv2D", "{\"kernel_size\": 3, \"padding\": \"same\"}"},
                               {"Conv2D", "{\"filters\": 24, \"kernel_size\": 1}"}, {"GlobalAveragePooling2D", NULL},
                               {"Dense", "{\"units\": 300, \"activation\": \"relu\"}"}, {"Dense", "{\"units\": 10}"}};
    kc_object *m = sequential(3, D(40, 40, 3), ls, 8);
    randomize(m, 4);
    kc_tensor *x = tu_random(4, D(4, 40, 40, 3), -1, 1, 6), *one, *two;
    kc_set_num_threads(1);
    predict(m, &x, 1, 0, true, &one);
    kc_set_num_threads(2);
    predict(m, &x, 1, 0, true, &two);
    compare(two, one, true, "2 threads vs 1");
    kc_tensor_unref(one), kc_tensor_unref(two), kc_tensor_unref(x);
    kc_object_unref(m);
}
END_TEST

/* Slices of one convolution run at once on several threads: each has its
 * own scratch memory, so runs repeat bit for bit (they did not when
 * oneDNN's shared scratchpad was used), forward and backward. */
START_TEST(repeated_runs_on_two_threads_give_the_same_bits)
{
    static const lspec ls[] = {{"Conv2D", "{\"filters\": 16, \"kernel_size\": 3, \"padding\": \"same\"}"},
                               {"BatchNormalization", NULL}, {"ReLU", NULL},
                               {"Conv2D", "{\"filters\": 16, \"kernel_size\": 3, \"strides\": 2}"},
                               {"GlobalAveragePooling2D", NULL}, {"Dense", "{\"units\": 4}"}};
    kc_object *m = sequential(3, D(40, 40, 8), ls, 6);
    randomize(m, 12);
    kc_set_num_threads(2);
    kc_tensor *x = tu_random(4, D(5, 40, 40, 8), -1, 1, 13), *first, *again;
    predict(m, &x, 1, 0, true, &first);
    kc_tensor *src = kc_variable_value(kc_layer_weight(m, 0)), *g0 = NULL;
    for (int r = 0; r < 12; r++) {
        predict(m, &x, 1, 0, true, &again);
        compare(again, first, true, "the same predict again");
        kc_tensor_unref(again);
        kc_tape *tape = kc_tape_begin(0, &err);
        kc_tensor *y = kc_layer_call1(m, x, false, &err), *g;
        kc_tape_end(tape);
        CK_NN(y, err);
        CK_OK(kc_tape_gradient(tape, y, &src, 1, &g, &err));
        if (g0) compare(g, g0, true, "the same kernel gradient again");
        else g0 = kc_tensor_ref(g);
        kc_tensor_unref(g), kc_tensor_unref(y);
        kc_tape_free(tape);
    }
    kc_tensor_unref(g0), kc_tensor_unref(first), kc_tensor_unref(x);
    kc_object_unref(m);
}
END_TEST

/* ---- models without plans ---------------------------------------------------------------------- */

START_TEST(models_with_masks_keep_the_layer_path)
{
    kernels_only = false;
    /* Embedding(mask_zero) into an LSTM: masks flow, no plan */
    static const lspec ls[] = {{"Embedding", "{\"input_dim\": 10, \"output_dim\": 3, \"mask_zero\": true}"},
                               {"LSTM", "{\"units\": 2}"}};
    kc_object *m = sequential(1, D(5), ls, 2);
    randomize(m, 1);
    int32_t ids[10] = {1, 2, 0, 0, 0, 3, 4, 5, 6, 0};
    kc_tensor *x = kc_tensor_from_data(KC_INT32, 2, D(2, 5), ids, &err);
    check_model(m, &x, 1, true, "masked");
    kc_tensor_unref(x);
    kc_object_unref(m);
}
END_TEST

static Suite *inference_suite(void)
{
    Suite *s = suite_create("inference");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, dense_and_activations_match);
    tcase_add_test(tc, convolutions_and_pooling_match);
    tcase_add_test(tc, batch_normalization_matches);
    tcase_add_test(tc, merges_and_graphs_match);
    tcase_add_test(tc, layers_run_through_their_call_match);
    tcase_add_test(tc, direct_calls_match_calls_on_a_tape);
    tcase_add_test(tc, real_fixtures_match_with_and_without_plans);
    tcase_add_test(tc, changed_weights_are_folded_again);
    tcase_add_test(tc, changed_layers_rebuild_the_plan);
    tcase_add_test(tc, steady_state_predict_allocates_nothing);
    tcase_add_test(tc, predict_cuts_batches_with_large_intermediates);
    tcase_add_test(tc, plans_give_the_same_values_on_any_thread_count);
    tcase_add_test(tc, repeated_runs_on_two_threads_give_the_same_bits);
    tcase_add_test(tc, models_with_masks_keep_the_layer_path);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(inference_suite)
