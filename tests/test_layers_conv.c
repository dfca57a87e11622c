/* Convolution, pooling, padding, cropping, upsampling and spatial dropout
 * layers: against TensorFlow.js (tests/data/conv goldens, keras-ref
 * fixtures), against values computed by hand where TensorFlow.js lacks the
 * layer or differs from Keras, against finite differences, and the real
 * Keras files that use them (tests/data/keras). */
#include "keras_ref.h"
#include "golden.h"

#include <jansson.h>
#include <string.h>

#define D(...) ((int64_t[]){__VA_ARGS__})
#define F(...) ((float[]){__VA_ARGS__})

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    kc_clear_session();
}

static const char *const goldens[] = {
    "conv/conv2d.json",      "conv/conv2d_cf.json",    "conv/conv1d.json",
    "conv/conv1d_gmax.json", "conv/conv3d.json",       "conv/conv3d_cf.json",
    "conv/transpose.json",   "conv/transpose_cf.json", "conv/transpose3d.json",
    "conv/depthwise.json",   "conv/depthwise_cf.json", "conv/reshaping.json",
    "conv/reshaping_cf.json",
};
#define N_GOLDENS ((int)(sizeof(goldens) / sizeof(goldens[0])))

START_TEST(models_match_tensorflow_js)
{
    for (int i = 0; i < N_GOLDENS; i++) tu_check_golden(goldens[i], 1e-5, 1e-6);
}
END_TEST

/* The other direction: a model ckeras writes (its config as ckeras writes
 * it, the golden's weights) loads in TensorFlow.js and predicts the
 * golden's outputs (keras-ref check; skipped when keras-ref is absent). */
START_TEST(ckeras_written_models_load_in_tensorflow_js)
{
    KR_REQUIRE();
    const char *file = goldens[_i];
    json_t *root = tu_load_json(file);
    kc_object *m = tu_golden_model(root, file);
    char h5[4200], args[12000], out[8192];
    snprintf(h5, sizeof(h5), "%s/written_%d.h5", tu_tmpdir(), _i);
    CK_OK(kc_model_save(m, h5, NULL, &err));
    snprintf(args, sizeof(args), "check '%s' '%s'", h5, tu_data(file));
    int rc = kr_run(args, out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, ": OK:"), "%s: keras-ref check exit %d:\n%s", file, rc, out);
    kc_object_unref(m);
    json_decref(root);
}
END_TEST

/* Load a Keras .h5 file and reproduce its .io.json outputs. */
static void check_h5(const char *stem, double rtol, double atol)
{
    char h5[256], io[256];
    snprintf(h5, sizeof(h5), "%s.h5", stem);
    snprintf(io, sizeof(io), "%s.io.json", stem);
    kc_clear_session();
    kc_object *m = kc_model_load(tu_data(h5), NULL, &err);
    ck_assert_msg(m != NULL, "%s: %s (%s)", h5, err.message, err.context);
    json_t *root = tu_load_json(io);
    tu_check_io(m, root, h5, rtol, atol);
    json_decref(root);
    kc_object_unref(m);
}

START_TEST(keras_ref_fixtures_load_and_match)
{
    /* keras-ref make-fixture conv1d / cnn (seed 1), written by TensorFlow.js */
    check_h5("conv/conv1d_fixture", 1e-5, 1e-6);
    check_h5("conv/cnn", 1e-5, 1e-6);
}
END_TEST

/* Real Keras files (tests/data/keras) that use these layers. */
START_TEST(real_keras_files_load_and_match)
{
    static const char *const stems[] = {
        "keras/func_conv1d_k2.11.0",
        "keras/seq_sepconv2d_k2.1.3",
        "keras/seq_conv2d_bn_k2.1.3",
        "keras/func_conv2d_bn_avgpool_k2.10.0",
        "keras/seq_cnn_maxpool_dropout_k1.1.2",
        "keras/func_resnet8_add_k2.4.0",
        "keras/func_conv2d_prelu_k2.2.0",
        "keras/func_dscnn_depthwise_k2.13.1", /* its BatchNormalization says "scale": 1 */
    };
    for (size_t i = 0; i < sizeof(stems) / sizeof(stems[0]); i++) check_h5(stems[i], 1e-4, 1e-5);
}
END_TEST

static kc_tensor *layer_fn(kc_tensor *const *in, const void *ctx, kc_error *e)
{
    return kc_layer_call1((kc_object *)ctx, in[0], true, e);
}

/* Finite-difference check of a layer's input and weight gradients. */
static void grad_check_layer(const char *cls, const char *cfg, int nd, const int64_t *dims)
{
    kc_clear_session();
    kc_object *l = kc_layer_create(cls, cfg, &err);
    ck_assert_msg(l != NULL, "%s %s: %s (%s)", cls, cfg, err.message, err.context);
    kc_tensor *x = tu_random(nd, dims, -1, 1, 3);
    kc_tensor *y = kc_layer_call1(l, x, true, &err);
    ck_assert_msg(y != NULL, "%s %s: %s (%s)", cls, cfg, err.message, err.context);
    kc_tensor_unref(y);
    kc_tensor *in[8] = {x};
    int n = 1;
    for (int i = 0; i < kc_layer_num_weights(l) && n < 8; i++) {
        /* random weights (biases start at zero) */
        kc_tensor *v = kc_variable_value(kc_layer_weight(l, i));
        kc_tensor *r = tu_random(kc_tensor_ndim(v), kc_tensor_dims(v), -1, 1, 10 + (uint64_t)i);
        CK_OK(kc_tensor_assign(v, r, &err));
        kc_tensor_unref(r);
        in[n++] = v;
    }
    char what[256];
    snprintf(what, sizeof(what), "%s %s", cls, cfg);
    tu_grad_check(what, layer_fn, l, in, n, 1e-3, 1e-2, 1e-3);
    kc_tensor_unref(x);
    kc_object_unref(l);
}

START_TEST(convolution_gradients_match_finite_differences)
{
    grad_check_layer("Conv1D", "{\"filters\": 3, \"kernel_size\": 3, \"padding\": \"causal\", \"dilation_rate\": 2}", 3, D(2, 7, 2));
    grad_check_layer("Conv1D", "{\"filters\": 4, \"kernel_size\": 2, \"strides\": 2, \"padding\": \"same\", \"groups\": 2}", 3, D(2, 7, 4));
    grad_check_layer("Conv1D", "{\"filters\": 2, \"kernel_size\": 3, \"data_format\": \"channels_first\"}", 3, D(2, 3, 6));
    grad_check_layer("Conv2D", "{\"filters\": 3, \"kernel_size\": [3, 2], \"strides\": [2, 1], \"padding\": \"same\"}", 4, D(2, 5, 4, 2));
    grad_check_layer("Conv2D", "{\"filters\": 2, \"kernel_size\": 2, \"strides\": 2, \"dilation_rate\": 2, \"padding\": \"same\"}", 4, D(1, 6, 5, 2));
    grad_check_layer("Conv2D", "{\"filters\": 4, \"kernel_size\": 2, \"groups\": 2, \"data_format\": \"channels_first\", \"activation\": \"tanh\"}", 4, D(2, 4, 3, 4));
    grad_check_layer("Conv2D", "{\"filters\": 3, \"kernel_size\": 1}", 4, D(2, 3, 2, 4));
    grad_check_layer("Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\"}", 4, D(1, 4, 4, 1));
    grad_check_layer("Conv3D", "{\"filters\": 2, \"kernel_size\": [2, 3, 2], \"padding\": \"same\"}", 5, D(2, 3, 4, 3, 2));
    grad_check_layer("Conv3D", "{\"filters\": 2, \"kernel_size\": 2, \"strides\": [1, 2, 1], \"data_format\": \"channels_first\"}", 5, D(1, 2, 3, 4, 3));
    grad_check_layer("Conv1DTranspose", "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"output_padding\": 1, \"padding\": \"same\"}", 3, D(2, 4, 3));
    grad_check_layer("Conv2DTranspose", "{\"filters\": 3, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\"}", 4, D(2, 3, 2, 2));
    grad_check_layer("Conv2DTranspose", "{\"filters\": 2, \"kernel_size\": 2, \"dilation_rate\": 2, \"data_format\": \"channels_first\"}", 4, D(1, 2, 3, 3));
    grad_check_layer("Conv3DTranspose", "{\"filters\": 2, \"kernel_size\": 2, \"strides\": [2, 1, 2]}", 5, D(1, 2, 2, 3, 2));
    grad_check_layer("DepthwiseConv1D", "{\"kernel_size\": 3, \"depth_multiplier\": 2, \"padding\": \"same\"}", 3, D(2, 5, 3));
    grad_check_layer("DepthwiseConv2D", "{\"kernel_size\": 2, \"dilation_rate\": 2, \"depth_multiplier\": 3, \"data_format\": \"channels_first\"}", 4, D(2, 2, 5, 4));
    grad_check_layer("DepthwiseConv2D", "{\"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\"}", 4, D(2, 5, 4, 3));
    grad_check_layer("SeparableConv1D", "{\"filters\": 2, \"kernel_size\": 2, \"padding\": \"causal\", \"depth_multiplier\": 2}", 3, D(2, 5, 3));
    grad_check_layer("SeparableConv2D", "{\"filters\": 3, \"kernel_size\": 2, \"strides\": 2, \"padding\": \"same\"}", 4, D(2, 5, 4, 2));
}
END_TEST

START_TEST(pooling_and_reshaping_gradients_match_finite_differences)
{
    grad_check_layer("MaxPooling1D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\"}", 3, D(2, 7, 2));
    grad_check_layer("MaxPooling2D", "{\"pool_size\": 2, \"padding\": \"valid\", \"data_format\": \"channels_first\"}", 4, D(2, 2, 5, 4));
    grad_check_layer("MaxPooling3D", "{\"pool_size\": 2, \"padding\": \"same\"}", 5, D(2, 3, 4, 3, 2));
    grad_check_layer("AveragePooling1D", "{\"pool_size\": 2, \"strides\": 1}", 3, D(2, 5, 2));
    grad_check_layer("AveragePooling2D", "{\"pool_size\": [2, 3], \"strides\": 2, \"padding\": \"same\"}", 4, D(2, 5, 4, 2));
    grad_check_layer("AveragePooling3D", "{\"pool_size\": 2, \"padding\": \"same\", \"data_format\": \"channels_first\"}", 5, D(1, 2, 3, 3, 2));
    grad_check_layer("GlobalMaxPooling1D", "{}", 3, D(2, 5, 3));
    grad_check_layer("GlobalAveragePooling1D", "{\"data_format\": \"channels_first\"}", 3, D(2, 3, 5));
    grad_check_layer("GlobalMaxPooling2D", "{\"keepdims\": true}", 4, D(2, 3, 4, 2));
    grad_check_layer("GlobalAveragePooling2D", "{}", 4, D(2, 3, 4, 2));
    grad_check_layer("GlobalMaxPooling3D", "{\"data_format\": \"channels_first\"}", 5, D(2, 2, 2, 3, 2));
    grad_check_layer("GlobalAveragePooling3D", "{\"keepdims\": true}", 5, D(2, 2, 2, 3, 2));
    grad_check_layer("ZeroPadding1D", "{\"padding\": [1, 2]}", 3, D(2, 3, 2));
    grad_check_layer("ZeroPadding2D", "{\"padding\": [[1, 0], [2, 1]], \"data_format\": \"channels_first\"}", 4, D(2, 2, 3, 2));
    grad_check_layer("ZeroPadding3D", "{\"padding\": [1, 0, 2]}", 5, D(1, 2, 2, 2, 2));
    grad_check_layer("Cropping1D", "{\"cropping\": [1, 2]}", 3, D(2, 5, 2));
    grad_check_layer("Cropping2D", "{\"cropping\": [[1, 0], [0, 2]]}", 4, D(2, 4, 4, 2));
    grad_check_layer("Cropping3D", "{\"cropping\": 1, \"data_format\": \"channels_first\"}", 5, D(1, 2, 3, 4, 3));
    grad_check_layer("UpSampling1D", "{\"size\": 3}", 3, D(2, 3, 2));
    grad_check_layer("UpSampling2D", "{\"size\": [2, 3], \"data_format\": \"channels_first\"}", 4, D(2, 2, 3, 2));
    grad_check_layer("UpSampling2D", "{\"size\": [3, 2], \"interpolation\": \"bilinear\"}", 4, D(2, 3, 2, 2));
    grad_check_layer("UpSampling3D", "{\"size\": [1, 2, 2]}", 5, D(1, 2, 2, 3, 2));
}
END_TEST

/* --- values computed by hand ------------------------------------------------------ */

static kc_object *layer_with(const char *cls, const char *cfg, const kc_shape *in, kc_tensor *const *w, int nw)
{
    kc_object *l = kc_layer_create(cls, cfg, &err);
    ck_assert_msg(l != NULL, "%s: %s (%s)", cls, err.message, err.context);
    CK_OK(kc_layer_build(l, in, 1, &err));
    if (nw) CK_OK(kc_layer_set_weights(l, w, nw, &err));
    return l;
}

static void expect(kc_object *l, kc_tensor *x, int nd, const int64_t *dims, const float *want, const char *what)
{
    kc_tensor *y = kc_layer_call1(l, x, false, &err);
    ck_assert_msg(y != NULL, "%s: %s (%s)", what, err.message, err.context);
    tu_assert_close(y, nd, dims, want, 1e-6, 1e-6, what);
    kc_tensor_unref(y);
}

START_TEST(conv1d_causal_transpose_and_dilation_by_hand)
{
    kc_tensor *x = tu_tensor(3, D(1, 4, 1), F(1, 2, 3, 4));
    kc_shape s = kc_tensor_shape(x);
    kc_tensor *w2[1] = {tu_tensor(3, D(2, 1, 1), F(1, 10))};
    /* causal: y[t] = x[t-1] + 10 x[t] */
    kc_object *c = layer_with("Conv1D", "{\"filters\": 1, \"kernel_size\": 2, \"padding\": \"causal\", \"use_bias\": false}", &s, w2, 1);
    expect(c, x, 3, D(1, 4, 1), F(10, 21, 32, 43), "Conv1D causal");
    kc_object_unref(c);
    /* dilation 2, valid: y[t] = x[t] + 10 x[t+2] */
    c = layer_with("Conv1D", "{\"filters\": 1, \"kernel_size\": 2, \"dilation_rate\": 2, \"use_bias\": false}", &s, w2, 1);
    expect(c, x, 3, D(1, 2, 1), F(31, 42), "Conv1D dilated");
    kc_object_unref(c);
    /* Conv1DTranspose, stride 2: y[2i + k] += x[i] w[k] */
    kc_tensor *x2 = tu_tensor(3, D(1, 2, 1), F(1, 2));
    kc_shape s2 = kc_tensor_shape(x2);
    kc_tensor *w3[2] = {tu_tensor(3, D(3, 1, 1), F(1, 10, 100)), TU_T1(1, 0.5f)};
    c = layer_with("Conv1DTranspose", "{\"filters\": 1, \"kernel_size\": 3, \"strides\": 2}", &s2, w3, 2);
    expect(c, x2, 3, D(1, 5, 1), F(1.5f, 10.5f, 102.5f, 20.5f, 200.5f), "Conv1DTranspose valid");
    kc_object_unref(c);
    /* same: TensorFlow's padding (0 before) keeps the first 4 */
    c = layer_with("Conv1DTranspose", "{\"filters\": 1, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\"}", &s2, w3, 2);
    expect(c, x2, 3, D(1, 4, 1), F(1.5f, 10.5f, 102.5f, 20.5f), "Conv1DTranspose same");
    kc_object_unref(c);
    /* output_padding 1 with valid: one more step (zero plus the bias) */
    c = layer_with("Conv1DTranspose", "{\"filters\": 1, \"kernel_size\": 3, \"strides\": 2, \"output_padding\": 1}", &s2, w3, 2);
    expect(c, x2, 3, D(1, 6, 1), F(1.5f, 10.5f, 102.5f, 20.5f, 200.5f, 0.5f), "Conv1DTranspose output_padding");
    kc_object_unref(c);
    /* DepthwiseConv1D, two channels, depth_multiplier 2: (k, in, dm) */
    kc_tensor *x3 = tu_tensor(3, D(1, 3, 2), F(1, 2, 3, 4, 5, 6));
    kc_shape s3 = kc_tensor_shape(x3);
    kc_tensor *wd[1] = {tu_tensor(3, D(2, 2, 2), F(1, 2, 3, 4, 10, 20, 30, 40))};
    c = layer_with("DepthwiseConv1D", "{\"kernel_size\": 2, \"depth_multiplier\": 2, \"use_bias\": false}", &s3, wd, 1);
    /* out[t, c*2+m] = x[t, c] w[0, c, m] + x[t+1, c] w[1, c, m] */
    expect(c, x3, 3, D(1, 2, 4), F(31, 62, 126, 168, 53, 106, 192, 256), "DepthwiseConv1D");
    kc_object_unref(c);
    /* SeparableConv1D: that depthwise step, then a 1x1 (4 -> 1) */
    kc_tensor *ws[2] = {wd[0], tu_tensor(3, D(1, 4, 1), F(1, 0, 0, 1))};
    c = layer_with("SeparableConv1D", "{\"filters\": 1, \"kernel_size\": 2, \"depth_multiplier\": 2, \"use_bias\": false}", &s3, ws, 2);
    expect(c, x3, 3, D(1, 2, 1), F(31 + 168, 53 + 256), "SeparableConv1D");
    kc_object_unref(c);
    kc_tensor_unref(x), kc_tensor_unref(x2), kc_tensor_unref(x3);
    kc_tensor_unref(w2[0]), kc_tensor_unref(w3[0]), kc_tensor_unref(w3[1]), kc_tensor_unref(wd[0]), kc_tensor_unref(ws[1]);
}
END_TEST

/* The 1-D layers TensorFlow.js lacks against their 2-D forms (checked
 * there) on images one row high. */
static void same_as_2d(const char *cls1, const char *cls2, const char *cfg1, const char *cfg2)
{
    kc_clear_session();
    kc_tensor *x = tu_random(3, D(2, 7, 3), -1, 1, 21);
    kc_tensor *x2 = kc_reshape(x, 4, D(2, 1, 7, 3), &err);
    kc_object *a = kc_layer_create(cls1, cfg1, &err), *b = kc_layer_create(cls2, cfg2, &err);
    CK_NN(a, err);
    CK_NN(b, err);
    kc_tensor *ya = kc_layer_call1(a, x, false, &err);
    CK_NN(ya, err);
    kc_tensor *yb0 = kc_layer_call1(b, x2, false, &err);
    CK_NN(yb0, err);
    /* the 2-D layer's weights are the 1-D ones with a leading axis of 1 */
    ck_assert_int_eq(kc_layer_num_weights(a), kc_layer_num_weights(b));
    for (int i = 0; i < kc_layer_num_weights(a); i++) {
        kc_tensor *wa = kc_variable_value(kc_layer_weight(a, i)), *wb = kc_variable_value(kc_layer_weight(b, i));
        ck_assert_int_eq(kc_tensor_size(wa), kc_tensor_size(wb));
        kc_tensor *r = tu_random(kc_tensor_ndim(wb), kc_tensor_dims(wb), -1, 1, 30 + (uint64_t)i);
        CK_OK(kc_tensor_assign(wb, r, &err));
        memcpy(kc_tensor_f32(wa), kc_tensor_cdata(r), kc_tensor_nbytes(r));
        kc_tensor_unref(r);
    }
    kc_tensor_unref(ya), kc_tensor_unref(yb0);
    ya = kc_layer_call1(a, x, false, &err);
    kc_tensor *yb = kc_layer_call1(b, x2, false, &err);
    CK_NN(yb, err);
    kc_tensor *yb1 = kc_reshape(yb, kc_tensor_ndim(ya), kc_tensor_dims(ya), &err);
    CK_NN(yb1, err);
    tu_assert_tensors_close(ya, yb1, 1e-5, 1e-6, cls1);
    kc_tensor_unref(ya), kc_tensor_unref(yb), kc_tensor_unref(yb1), kc_tensor_unref(x), kc_tensor_unref(x2);
    kc_object_unref(a), kc_object_unref(b);
}

START_TEST(one_d_layers_agree_with_their_2d_forms)
{
    same_as_2d("Conv1DTranspose", "Conv2DTranspose", "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\"}",
               "{\"filters\": 2, \"kernel_size\": [1, 3], \"strides\": [1, 2], \"padding\": \"same\"}");
    same_as_2d("SeparableConv1D", "SeparableConv2D", "{\"filters\": 4, \"kernel_size\": 3, \"depth_multiplier\": 2}",
               "{\"filters\": 4, \"kernel_size\": [1, 3], \"depth_multiplier\": 2}");
    same_as_2d("DepthwiseConv1D", "DepthwiseConv2D", "{\"kernel_size\": 2, \"strides\": 2, \"padding\": \"same\"}",
               "{\"kernel_size\": [1, 2], \"strides\": [1, 2], \"padding\": \"same\"}");
    same_as_2d("Conv1D", "Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"dilation_rate\": 2, \"groups\": 3}",
               "{\"filters\": 3, \"kernel_size\": [1, 3], \"dilation_rate\": [1, 2], \"groups\": 3}");
}
END_TEST

START_TEST(grouped_convolution_is_per_group_convolutions)
{
    /* groups = 2: the first 2 filters see channels 0-1, the last 2 see 2-3 */
    kc_tensor *x = tu_random(4, D(2, 5, 4, 4), -1, 1, 41);
    kc_object *g = kc_layer_create("Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"groups\": 2, \"padding\": \"same\"}", &err);
    kc_tensor *y = kc_layer_call1(g, x, false, &err);
    CK_NN(y, err);
    kc_tensor *k = kc_variable_value(kc_layer_weight(g, 0));
    ck_assert_int_eq(kc_tensor_dim(k, 2), 2);
    kc_tensor *bias = TU_T1(4, 0.1f, 0.2f, 0.3f, 0.4f);
    CK_OK(kc_tensor_assign(kc_variable_value(kc_layer_weight(g, 1)), bias, &err));
    kc_tensor_unref(bias);
    kc_tensor_unref(y);
    y = kc_layer_call1(g, x, false, &err);
    for (int grp = 0; grp < 2; grp++) {
        kc_object *c = kc_layer_create("Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"padding\": \"same\"}", &err);
        kc_tensor *xs = kc_slice(x, D(0, 0, 0, 2 * grp), D(-1, -1, -1, 2), &err);
        kc_tensor *ks = kc_slice(k, D(0, 0, 0, 2 * grp), D(-1, -1, -1, 2), &err);
        kc_tensor *bs = TU_T1(2, 0.1f + 0.2f * grp, 0.2f + 0.2f * grp);
        kc_shape sh = kc_tensor_shape(xs);
        CK_OK(kc_layer_build(c, &sh, 1, &err));
        kc_tensor *w[2] = {ks, bs};
        CK_OK(kc_layer_set_weights(c, w, 2, &err));
        kc_tensor *yc = kc_layer_call1(c, xs, false, &err);
        kc_tensor *ys = kc_slice(y, D(0, 0, 0, 2 * grp), D(-1, -1, -1, 2), &err);
        tu_assert_tensors_close(ys, yc, 1e-5, 1e-6, "group vs separate convolution");
        kc_tensor_unref(xs), kc_tensor_unref(ks), kc_tensor_unref(bs), kc_tensor_unref(yc), kc_tensor_unref(ys);
        kc_object_unref(c);
    }
    kc_tensor_unref(x), kc_tensor_unref(y);
    kc_object_unref(g);
}
END_TEST

START_TEST(padding_cropping_upsampling_by_hand)
{
    kc_tensor *x = tu_tensor(3, D(1, 3, 1), F(1, 2, 3));
    kc_shape s = kc_tensor_shape(x);
    kc_object *l = layer_with("ZeroPadding1D", "{\"padding\": [2, 1]}", &s, NULL, 0);
    expect(l, x, 3, D(1, 6, 1), F(0, 0, 1, 2, 3, 0), "ZeroPadding1D");
    kc_object_unref(l);
    l = layer_with("Cropping1D", "{\"cropping\": [1, 0]}", &s, NULL, 0);
    expect(l, x, 3, D(1, 2, 1), F(2, 3), "Cropping1D");
    kc_object_unref(l);
    l = layer_with("UpSampling1D", "{\"size\": 2}", &s, NULL, 0);
    expect(l, x, 3, D(1, 6, 1), F(1, 1, 2, 2, 3, 3), "UpSampling1D");
    kc_object_unref(l);
    /* 3-D, channels last: (1, 2, 1, 2, 1) */
    kc_tensor *v = tu_tensor(5, D(1, 2, 1, 2, 1), F(1, 2, 3, 4));
    kc_shape sv = kc_tensor_shape(v);
    l = layer_with("ZeroPadding3D", "{\"padding\": [[0, 1], [0, 0], [1, 0]]}", &sv, NULL, 0);
    expect(l, v, 5, D(1, 3, 1, 3, 1), F(0, 1, 2, 0, 3, 4, 0, 0, 0), "ZeroPadding3D");
    kc_object_unref(l);
    l = layer_with("Cropping3D", "{\"cropping\": [[1, 0], [0, 0], [0, 1]]}", &sv, NULL, 0);
    expect(l, v, 5, D(1, 1, 1, 1, 1), F(3), "Cropping3D");
    kc_object_unref(l);
    l = layer_with("UpSampling3D", "{\"size\": [1, 2, 2]}", &sv, NULL, 0);
    expect(l, v, 5, D(1, 2, 2, 4, 1), F(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4), "UpSampling3D");
    kc_object_unref(l);
    /* channels first: (1, 1, 2, 2) */
    kc_tensor *img = tu_tensor(4, D(1, 1, 2, 2), F(1, 2, 3, 4));
    kc_shape si = kc_tensor_shape(img);
    l = layer_with("UpSampling2D", "{\"size\": [2, 1], \"data_format\": \"channels_first\"}", &si, NULL, 0);
    expect(l, img, 4, D(1, 1, 4, 2), F(1, 2, 1, 2, 3, 4, 3, 4), "UpSampling2D channels_first");
    kc_object_unref(l);
    /* bilinear, half-pixel centers (tf.image.resize): a row [0, 1] widened
     * 2x gives [0, 0.25, 0.75, 1] (TensorFlow.js would give [0, 0.5, 1, 1]) */
    kc_tensor *row = tu_tensor(4, D(1, 1, 2, 1), F(0, 1));
    kc_shape sr = kc_tensor_shape(row);
    l = layer_with("UpSampling2D", "{\"size\": [1, 2], \"interpolation\": \"bilinear\"}", &sr, NULL, 0);
    expect(l, row, 4, D(1, 1, 4, 1), F(0, 0.25f, 0.75f, 1), "UpSampling2D bilinear");
    kc_object_unref(l);
    /* 2x2 -> 4x4: rows and columns both interpolated */
    kc_tensor *sq = tu_tensor(4, D(1, 2, 2, 1), F(0, 4, 8, 12));
    kc_shape ss = kc_tensor_shape(sq);
    l = layer_with("UpSampling2D", "{\"size\": 2, \"interpolation\": \"bilinear\"}", &ss, NULL, 0);
    expect(l, sq, 4, D(1, 4, 4, 1), F(0, 1, 3, 4, 2, 3, 5, 6, 6, 7, 9, 10, 8, 9, 11, 12), "UpSampling2D bilinear 2x2");
    kc_object_unref(l);
    kc_tensor_unref(x), kc_tensor_unref(v), kc_tensor_unref(img), kc_tensor_unref(row), kc_tensor_unref(sq);
}
END_TEST

START_TEST(global_pooling_3d_keepdims_and_masks_by_hand)
{
    kc_tensor *v = tu_tensor(5, D(1, 2, 1, 2, 2), F(1, -1, 2, -2, 3, -3, 6, -6));
    kc_shape sv = kc_tensor_shape(v);
    kc_object *l = layer_with("GlobalAveragePooling3D", "{}", &sv, NULL, 0);
    expect(l, v, 2, D(1, 2), F(3, -3), "GlobalAveragePooling3D");
    kc_object_unref(l);
    l = layer_with("GlobalMaxPooling3D", "{\"keepdims\": true}", &sv, NULL, 0);
    expect(l, v, 5, D(1, 1, 1, 1, 2), F(6, -1), "GlobalMaxPooling3D keepdims");
    kc_object_unref(l);
    l = layer_with("GlobalAveragePooling3D", "{\"data_format\": \"channels_first\", \"keepdims\": true}", &sv, NULL, 0);
    expect(l, v, 5, D(1, 2, 1, 1, 1), F(0, 0), "GlobalAveragePooling3D channels_first");
    kc_object_unref(l);
    /* GlobalAveragePooling1D leaves masked steps out of the mean and passes
     * no mask on */
    kc_tensor *x = tu_tensor(3, D(2, 3, 1), F(1, 2, 4, 10, 20, 40));
    kc_tensor *mask = TU_T2(2, 3, 1, 0, 1, 0, 1, 1);
    kc_object *g = kc_layer_create("GlobalAveragePooling1D", NULL, &err);
    kc_tensor *out[1], *om[1];
    int n;
    CK_OK(kc_layer_call(g, &x, 1, &mask, false, out, om, &n, &err));
    tu_assert_close(out[0], 2, D(2, 1), F(2.5f, 30), 1e-6, 0, "masked mean");
    ck_assert_ptr_null(om[0]);
    kc_tensor_unref(out[0]);
    CK_OK(kc_layer_call(g, &x, 1, NULL, false, out, NULL, &n, &err));
    tu_assert_close(out[0], 2, D(2, 1), F(7.0f / 3, 70.0f / 3), 1e-6, 0, "unmasked mean");
    kc_tensor_unref(out[0]);
    kc_object_unref(g);
    /* average pooling with "same" padding divides by the real values */
    kc_tensor *r = tu_tensor(3, D(1, 3, 1), F(1, 2, 3));
    kc_shape sr = kc_tensor_shape(r);
    l = layer_with("AveragePooling1D", "{\"pool_size\": 2, \"padding\": \"same\"}", &sr, NULL, 0);
    expect(l, r, 3, D(1, 2, 1), F(1.5f, 3), "AveragePooling1D same");
    kc_object_unref(l);
    l = layer_with("MaxPooling1D", "{\"pool_size\": 2, \"strides\": 1, \"padding\": \"same\"}", &sr, NULL, 0);
    expect(l, r, 3, D(1, 3, 1), F(2, 3, 3), "MaxPooling1D same");
    kc_object_unref(l);
    kc_tensor_unref(v), kc_tensor_unref(x), kc_tensor_unref(mask), kc_tensor_unref(r);
}
END_TEST

START_TEST(spatial_dropout_drops_whole_channels)
{
    const char *cls[3] = {"SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"};
    for (int r = 1; r <= 3; r++) {
        int64_t dims[5] = {8, 3, 3, 3, 16};
        dims[r + 1] = 16;
        kc_tensor *x = tu_random_away(r + 2, dims, 0.5f, 1.0f, 50);
        kc_object *l = kc_layer_create(cls[r - 1], "{\"rate\": 0.5, \"seed\": 3}", &err);
        CK_NN(l, err);
        kc_tensor *y = kc_layer_call1(l, x, true, &err);
        CK_NN(y, err);
        const float *xv = kc_tensor_cdata(x), *yv = kc_tensor_cdata(y);
        int64_t sp = kc_tensor_size(x) / (8 * 16), dropped = 0;
        for (int64_t b = 0; b < 8; b++) {
            for (int64_t c = 0; c < 16; c++) {
                /* every position of a (sample, channel) shares one fate */
                bool zero = yv[(b * sp) * 16 + c] == 0.0f;
                dropped += zero;
                for (int64_t p = 0; p < sp; p++) {
                    int64_t i = (b * sp + p) * 16 + c;
                    ck_assert(zero ? yv[i] == 0.0f : fabsf(yv[i] - 2 * xv[i]) < 1e-6f);
                }
            }
        }
        ck_assert_msg(dropped > 30 && dropped < 98, "%s dropped %lld of 128 maps", cls[r - 1], (long long)dropped);
        /* inference: identity */
        kc_tensor *yi = kc_layer_call1(l, x, false, &err);
        tu_assert_tensors_close(yi, x, 0, 0, "inference");
        kc_tensor_unref(x), kc_tensor_unref(y), kc_tensor_unref(yi);
        kc_object_unref(l);
    }
    /* channels first: the maps are axis 1 */
    kc_tensor *x = tu_random_away(4, D(4, 8, 3, 3), 0.5f, 1.0f, 51);
    kc_object *l = kc_layer_create("SpatialDropout2D", "{\"rate\": 0.5, \"data_format\": \"channels_first\"}", &err);
    kc_tensor *y = kc_layer_call1(l, x, true, &err);
    CK_NN(y, err);
    const float *yv = kc_tensor_cdata(y);
    for (int64_t m = 0; m < 32; m++)
        for (int64_t p = 1; p < 9; p++) ck_assert((yv[m * 9] == 0.0f) == (yv[m * 9 + p] == 0.0f));
    kc_tensor_unref(x), kc_tensor_unref(y);
    kc_object_unref(l);
}
END_TEST

/* --- configs ------------------------------------------------------------------------ */

START_TEST(configs_round_trip)
{
    static const char *const cases[][2] = {
        {"Conv1D", "{\"filters\": 3, \"kernel_size\": 5, \"padding\": \"causal\", \"dilation_rate\": 2, \"groups\": 3, \"activation\": \"relu\", \"kernel_regularizer\": {\"class_name\": \"L2\", \"config\": {\"l2\": 0.01}}}"},
        {"Conv2D", "{\"filters\": 8, \"kernel_size\": [3, 1], \"strides\": [2, 1], \"padding\": \"same\", \"data_format\": \"channels_first\", \"use_bias\": false}"},
        {"Conv3D", "{\"filters\": 2, \"kernel_size\": 2, \"bias_constraint\": {\"class_name\": \"NonNeg\", \"config\": {}}}"},
        {"Conv1DTranspose", "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"output_padding\": 1}"},
        {"Conv2DTranspose", "{\"filters\": 2, \"kernel_size\": 3, \"groups\": 1}"},
        {"Conv3DTranspose", "{\"filters\": 2, \"kernel_size\": [1, 2, 3], \"padding\": \"same\"}"},
        {"DepthwiseConv1D", "{\"kernel_size\": 3, \"depth_multiplier\": 4}"},
        {"DepthwiseConv2D", "{\"kernel_size\": 3, \"depthwise_initializer\": \"he_normal\", \"groups\": 1}"},
        {"SeparableConv1D", "{\"filters\": 4, \"kernel_size\": 3, \"padding\": \"causal\"}"},
        {"SeparableConv2D", "{\"filters\": 4, \"kernel_size\": 3, \"pointwise_regularizer\": {\"class_name\": \"L1\", \"config\": {\"l1\": 0.1}}}"},
        {"MaxPooling1D", "{\"pool_size\": 3}"},
        {"MaxPooling2D", "{\"pool_size\": [2, 3], \"strides\": 1, \"padding\": \"same\"}"},
        {"MaxPooling3D", "{}"},
        {"AveragePooling1D", "{\"strides\": null}"},
        {"AveragePooling2D", "{\"data_format\": \"channels_first\"}"},
        {"AveragePooling3D", "{\"pool_size\": [1, 2, 2]}"},
        {"GlobalMaxPooling1D", "{\"keepdims\": true}"},
        {"GlobalMaxPooling2D", "{}"},
        {"GlobalMaxPooling3D", "{\"data_format\": \"channels_first\"}"},
        {"GlobalAveragePooling1D", "{}"},
        {"GlobalAveragePooling2D", "{\"keepdims\": true}"},
        {"GlobalAveragePooling3D", "{}"},
        {"ZeroPadding1D", "{\"padding\": 2}"},
        {"ZeroPadding2D", "{\"padding\": [1, 2]}"},
        {"ZeroPadding3D", "{\"padding\": [[1, 0], [0, 2], [3, 3]]}"},
        {"Cropping1D", "{\"cropping\": [0, 2]}"},
        {"Cropping2D", "{\"cropping\": 1, \"data_format\": \"channels_first\"}"},
        {"Cropping3D", "{}"},
        {"UpSampling1D", "{\"size\": 3}"},
        {"UpSampling2D", "{\"size\": [2, 3], \"interpolation\": \"bilinear\"}"},
        {"UpSampling3D", "{\"size\": 2}"},
        {"SpatialDropout1D", "{\"rate\": 0.3, \"seed\": 5}"},
        {"SpatialDropout2D", "{\"rate\": 0.1, \"data_format\": \"channels_first\"}"},
        {"SpatialDropout3D", "{\"rate\": 0.2}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_clear_session();
        kc_object *a = kc_layer_create(cases[i][0], cases[i][1], &err);
        ck_assert_msg(a != NULL, "%s: %s (%s)", cases[i][0], err.message, err.context);
        json_t *ca, *cb;
        CK_OK(kc_object_get_config(a, &ca, &err));
        char *text = kc_json_dump(ca, &err);
        kc_object *b = kc_layer_create(cases[i][0], text, &err);
        ck_assert_msg(b != NULL, "%s: %s", cases[i][0], err.message);
        CK_OK(kc_object_get_config(b, &cb, &err));
        ck_assert_msg(json_equal(ca, cb), "%s: config changed in a round trip: %s", cases[i][0], text);
        kc_json_free(text);
        json_decref(ca), json_decref(cb);
        kc_object_unref(a), kc_object_unref(b);
    }
}
END_TEST

static const char *dump_key(kc_object *l, const char *key)
{
    static char buf[256];
    json_t *c;
    CK_OK(kc_object_get_config(l, &c, &err));
    json_t *v = json_object_get(c, key);
    char *t = v ? kc_json_dump(v, &err) : NULL;
    snprintf(buf, sizeof(buf), "%s", t ? t : "(absent)");
    kc_json_free(t);
    json_decref(c);
    return buf;
}

START_TEST(configs_are_written_as_keras_writes_them)
{
    kc_object *c = kc_layer_create("Conv2D", "{\"filters\": 8, \"kernel_size\": 3}", &err);
    ck_assert_str_eq(dump_key(c, "kernel_size"), "[3, 3]");
    ck_assert_str_eq(dump_key(c, "strides"), "[1, 1]");
    ck_assert_str_eq(dump_key(c, "dilation_rate"), "[1, 1]");
    ck_assert_str_eq(dump_key(c, "padding"), "\"valid\"");
    ck_assert_str_eq(dump_key(c, "data_format"), "\"channels_last\"");
    ck_assert_str_eq(dump_key(c, "groups"), "1");
    ck_assert_str_eq(dump_key(c, "activation"), "\"linear\"");
    ck_assert_str_eq(dump_key(c, "kernel_initializer"), "{\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}");
    kc_object_unref(c);
    /* DepthwiseConv2D: no filters, kernel_* nor groups (spec §11) */
    c = kc_layer_create("DepthwiseConv2D", "{\"kernel_size\": 3, \"groups\": 1}", &err);
    ck_assert_str_eq(dump_key(c, "filters"), "(absent)");
    ck_assert_str_eq(dump_key(c, "groups"), "(absent)");
    ck_assert_str_eq(dump_key(c, "kernel_initializer"), "(absent)");
    ck_assert_str_eq(dump_key(c, "depth_multiplier"), "1");
    ck_assert_str_eq(dump_key(c, "depthwise_initializer"), "{\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}");
    kc_object_unref(c);
    c = kc_layer_create("Conv2DTranspose", "{\"filters\": 2, \"kernel_size\": 2}", &err);
    ck_assert_str_eq(dump_key(c, "output_padding"), "null");
    ck_assert_str_eq(dump_key(c, "groups"), "(absent)");
    kc_object_unref(c);
    c = kc_layer_create("MaxPooling2D", "{\"pool_size\": 3}", &err);
    ck_assert_str_eq(dump_key(c, "strides"), "[3, 3]");
    kc_object_unref(c);
    c = kc_layer_create("ZeroPadding2D", "{\"padding\": [1, 2]}", &err);
    ck_assert_str_eq(dump_key(c, "padding"), "[[1, 1], [2, 2]]");
    kc_object_unref(c);
    c = kc_layer_create("Cropping1D", "{\"cropping\": 2}", &err);
    ck_assert_str_eq(dump_key(c, "cropping"), "[2, 2]");
    kc_object_unref(c);
    c = kc_layer_create("UpSampling1D", NULL, &err);
    ck_assert_str_eq(dump_key(c, "size"), "2");
    kc_object_unref(c);
    /* weight names and shapes, spec §4 */
    kc_object *s = kc_layer_create("SeparableConv2D", "{\"filters\": 5, \"kernel_size\": [3, 2], \"depth_multiplier\": 2}", &err);
    CK_OK(kc_layer_build(s, &(kc_shape){.ndim = 4, .dims = {-1, 8, 8, 3}}, 1, &err));
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(s, 0)), "separable_conv2d/depthwise_kernel:0");
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(s, 1)), "separable_conv2d/pointwise_kernel:0");
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(s, 2)), "separable_conv2d/bias:0");
    kc_shape k0 = kc_tensor_shape(kc_variable_value(kc_layer_weight(s, 0)));
    kc_shape k1 = kc_tensor_shape(kc_variable_value(kc_layer_weight(s, 1)));
    char b0[64], b1[64];
    ck_assert_str_eq(kc_shape_format(&k0, b0, sizeof(b0)), "(3, 2, 3, 2)");
    ck_assert_str_eq(kc_shape_format(&k1, b1, sizeof(b1)), "(1, 1, 6, 5)");
    kc_object_unref(s);
    kc_object *t = kc_layer_create("Conv2DTranspose", "{\"filters\": 5, \"kernel_size\": 3}", &err);
    CK_OK(kc_layer_build(t, &(kc_shape){.ndim = 4, .dims = {-1, 8, 8, 3}}, 1, &err));
    k0 = kc_tensor_shape(kc_variable_value(kc_layer_weight(t, 0)));
    ck_assert_str_eq(kc_shape_format(&k0, b0, sizeof(b0)), "(3, 3, 5, 3)");
    kc_object_unref(t);
    kc_object *g = kc_layer_create("Conv1D", "{\"filters\": 6, \"kernel_size\": 3, \"groups\": 2}", &err);
    CK_OK(kc_layer_build(g, &(kc_shape){.ndim = 3, .dims = {-1, 8, 4}}, 1, &err));
    k0 = kc_tensor_shape(kc_variable_value(kc_layer_weight(g, 0)));
    ck_assert_str_eq(kc_shape_format(&k0, b0, sizeof(b0)), "(3, 2, 6)");
    kc_object_unref(g);
}
END_TEST

/* --- errors ------------------------------------------------------------------------------ */

START_TEST(bad_configs_give_named_errors)
{
    static const struct {
        const char *cls, *cfg;
        kc_status code;
        const char *needle;
    } cases[] = {
        {"Conv2D", "{\"kernel_size\": 3}", KC_EFORMAT, "filters"},
        {"Conv2D", "{\"filters\": 0, \"kernel_size\": 3}", KC_EFORMAT, "filters: expected a positive integer"},
        {"Conv2D", "{\"filters\": 2, \"kernel_size\": [3, 3, 3]}", KC_EFORMAT, "kernel_size"},
        {"Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"padding\": \"causal\"}", KC_EFORMAT, "padding"},
        {"Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"groups\": 2}", KC_EFORMAT, "evenly divisible"},
        {"Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"data_format\": \"NHWC\"}", KC_EFORMAT, "data_format"},
        {"Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"strides\": [1, 0]}", KC_EFORMAT, "strides"},
        {"Conv1DTranspose", "{\"filters\": 2, \"kernel_size\": 3, \"padding\": \"causal\"}", KC_EFORMAT, "padding"},
        {"Conv2DTranspose", "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"output_padding\": 2}", KC_EFORMAT, "must be greater than output padding"},
        {"Conv2DTranspose", "{\"filters\": 2, \"kernel_size\": 3, \"groups\": 2}", KC_EUNSUPPORTED, "groups"},
        {"DepthwiseConv2D", "{\"kernel_size\": 3, \"depth_multiplier\": -1}", KC_EFORMAT, "depth_multiplier"},
        {"DepthwiseConv1D", "{\"kernel_size\": 3, \"padding\": \"causal\"}", KC_EFORMAT, "padding"},
        {"MaxPooling2D", "{\"pool_size\": [2, -2]}", KC_EFORMAT, "pool_size"},
        {"AveragePooling1D", "{\"padding\": \"full\"}", KC_EFORMAT, "padding"},
        {"ZeroPadding2D", "{\"padding\": [[1, 2], [3]]}", KC_EFORMAT, "padding: expected a non-negative integer"},
        {"Cropping1D", "{\"cropping\": [1, 2, 3]}", KC_EFORMAT, "cropping"},
        {"ZeroPadding3D", "{\"padding\": -1}", KC_EFORMAT, "padding"},
        {"UpSampling2D", "{\"interpolation\": \"bicubic\"}", KC_EUNSUPPORTED, "bicubic"},
        {"UpSampling2D", "{\"interpolation\": \"cubic\"}", KC_EFORMAT, "interpolation"},
        {"UpSampling1D", "{\"size\": 0}", KC_EFORMAT, "size"},
        {"SpatialDropout2D", "{\"rate\": 1.5}", KC_EFORMAT, "rate"},
        {"SpatialDropout1D", "{}", KC_EFORMAT, "rate"},
        {"GlobalMaxPooling2D", "{\"keepdims\": \"yes\"}", KC_EFORMAT, "keepdims"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_error_clear(&err);
        kc_object *l = kc_layer_create(cases[i].cls, cases[i].cfg, &err);
        ck_assert_msg(l == NULL, "%s %s was accepted", cases[i].cls, cases[i].cfg);
        CK_ERR(err, cases[i].code, cases[i].needle);
    }
}
END_TEST

static void call_fails(const char *cls, const char *cfg, int nd, const int64_t *dims, const char *needle)
{
    kc_clear_session();
    kc_error_clear(&err);
    kc_object *l = kc_layer_create(cls, cfg, &err);
    CK_NN(l, err);
    kc_tensor *x = kc_tensor_zeros(KC_FLOAT32, nd, dims, &err);
    kc_tensor *y = kc_layer_call1(l, x, false, &err);
    ck_assert_msg(y == NULL, "%s %s accepted the input", cls, cfg);
    CK_ERR(err, KC_ESHAPE, needle);
    kc_tensor_unref(x);
    kc_object_unref(l);
}

START_TEST(bad_shapes_give_named_errors)
{
    call_fails("Conv2D", "{\"filters\": 2, \"kernel_size\": 3}", 3, D(1, 5, 5), "Conv2D expects inputs of rank 4 (batch, rows, cols, channels)");
    call_fails("Conv2D", "{\"filters\": 2, \"kernel_size\": 3}", 4, D(1, 2, 5, 1), "too small for kernel_size 3");
    call_fails("Conv1D", "{\"filters\": 2, \"kernel_size\": 3, \"groups\": 2}", 3, D(1, 5, 3), "number of input channels (3) must be evenly divisible");
    call_fails("MaxPooling2D", "{\"pool_size\": 3}", 4, D(1, 2, 5, 1), "smaller than pool_size 3");
    call_fails("Cropping2D", "{\"cropping\": [[2, 2], [0, 0]]}", 4, D(1, 4, 5, 1), "leaves nothing");
    call_fails("UpSampling3D", "{}", 4, D(1, 2, 2, 1), "rank 5");
    call_fails("GlobalAveragePooling1D", "{}", 2, D(1, 2), "rank 3");
    /* built for 3 channels, called with 4 */
    kc_error_clear(&err);
    kc_object *c = kc_layer_create("Conv2D", "{\"filters\": 2, \"kernel_size\": 1}", &err);
    kc_tensor *a = kc_tensor_zeros(KC_FLOAT32, 4, D(1, 2, 2, 3), &err), *b = kc_tensor_zeros(KC_FLOAT32, 4, D(1, 2, 2, 4), &err);
    kc_tensor *y = kc_layer_call1(c, a, false, &err);
    CK_NN(y, err);
    ck_assert_ptr_null(kc_layer_call1(c, b, false, &err));
    CK_ERR(err, KC_ESHAPE, "built for inputs with 3 channels, got 4");
    kc_tensor_unref(a), kc_tensor_unref(b), kc_tensor_unref(y);
    kc_object_unref(c);
}
END_TEST

/* --- loading: Keras' preprocess_weights_for_loading ------------------------------------------- */

static void convert(kc_object *l, kc_tensor *stored, const char *version, const char *backend, kc_tensor **out, int *n)
{
    const kc_layer_methods *m = (const kc_layer_methods *)l->cls->methods;
    ck_assert(m->convert_weights != NULL);
    CK_OK(m->convert_weights(l, &stored, 1, version, backend, out, n, &err));
}

START_TEST(keras1_and_theano_kernels_are_converted)
{
    kc_tensor *out[4];
    int n;
    /* Keras 1 channels_first Conv2D kernel (f, in, rows, cols) */
    kc_object *c = kc_layer_create("Conv2D", "{\"filters\": 2, \"kernel_size\": [2, 1], \"data_format\": \"channels_first\", \"use_bias\": false}", &err);
    CK_OK(kc_layer_build(c, &(kc_shape){.ndim = 4, .dims = {-1, 3, 4, 4}}, 1, &err));
    kc_tensor *th = kc_tensor_empty(KC_FLOAT32, 4, D(2, 3, 2, 1), &err);
    for (int i = 0; i < 12; i++) kc_tensor_f32(th)[i] = (float)i; /* value = ((f*3 + in)*2 + row) */
    convert(c, th, "1", "", out, &n);
    ck_assert_int_eq(n, 1);
    /* new[row][0][in][f] = old[f][in][row][0] */
    tu_assert_close(out[0], 4, D(2, 1, 3, 2), F(0, 6, 2, 8, 4, 10, 1, 7, 3, 9, 5, 11), 0, 0, "Keras 1 th kernel");
    kc_tensor_unref(out[0]);
    /* a Keras 2 file: unchanged */
    kc_tensor *k2 = kc_tensor_zeros(KC_FLOAT32, 4, D(2, 1, 3, 2), &err);
    convert(c, k2, "2.15.0", "tensorflow", out, &n);
    ck_assert_int_eq(n, 0);
    /* Theano backend: spatial axes flipped */
    kc_tensor *fl = tu_tensor(4, D(2, 1, 3, 2), F(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    convert(c, fl, "2.1.3", "theano", out, &n);
    tu_assert_close(out[0], 4, D(2, 1, 3, 2), F(6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5), 0, 0, "Theano flip");
    kc_tensor_unref(out[0]);
    /* a mismatched 4-D kernel is transposed (3, 2, 0, 1), as Keras does silently */
    kc_tensor *mm = kc_tensor_zeros(KC_FLOAT32, 4, D(1, 2, 3, 2), &err);
    convert(c, mm, "2.15.0", "tensorflow", out, &n);
    kc_shape so = kc_tensor_shape(out[0]);
    char buf[64];
    ck_assert_str_eq(kc_shape_format(&so, buf, sizeof(buf)), "(2, 3, 1, 2)");
    kc_tensor_unref(out[0]);
    kc_object_unref(c);
    /* Keras 1 Conv1D: 4-D kernels (k, 1, in, f), or (f, in, k, 1) in Keras 1.1 */
    kc_object *c1 = kc_layer_create("Conv1D", "{\"filters\": 2, \"kernel_size\": 3}", &err);
    CK_OK(kc_layer_build(c1, &(kc_shape){.ndim = 3, .dims = {-1, 5, 1}}, 1, &err));
    kc_tensor *k1 = tu_tensor(4, D(3, 1, 1, 2), F(1, 2, 3, 4, 5, 6));
    convert(c1, k1, "1", "", out, &n);
    tu_assert_close(out[0], 3, D(3, 1, 2), F(1, 2, 3, 4, 5, 6), 0, 0, "Keras 1 Conv1D");
    kc_tensor_unref(out[0]);
    kc_tensor *k11 = tu_tensor(4, D(2, 1, 3, 1), F(1, 3, 5, 2, 4, 6));
    convert(c1, k11, "1", "", out, &n);
    tu_assert_close(out[0], 3, D(3, 1, 2), F(1, 2, 3, 4, 5, 6), 0, 0, "Keras 1.1 Conv1D");
    kc_tensor_unref(out[0]);
    kc_tensor *bad = kc_tensor_zeros(KC_FLOAT32, 4, D(5, 5, 5, 5), &err);
    const kc_layer_methods *m = (const kc_layer_methods *)c1->cls->methods;
    ck_assert_int_eq(m->convert_weights(c1, &bad, 1, "1", "", out, &n, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "Keras 1 Conv1D kernel");
    kc_object_unref(c1);
    /* Keras 1 Conv2DTranspose, channels last: (rows, cols, in, f) -> (rows, cols, f, in) */
    kc_object *t = kc_layer_create("Conv2DTranspose", "{\"filters\": 2, \"kernel_size\": 1}", &err);
    CK_OK(kc_layer_build(t, &(kc_shape){.ndim = 4, .dims = {-1, 2, 2, 3}}, 1, &err));
    kc_tensor *kt = tu_tensor(4, D(1, 1, 3, 2), F(0, 1, 2, 3, 4, 5));
    convert(t, kt, "1", "", out, &n);
    tu_assert_close(out[0], 4, D(1, 1, 2, 3), F(0, 2, 4, 1, 3, 5), 0, 0, "Keras 1 Conv2DTranspose");
    kc_tensor_unref(out[0]);
    kc_object_unref(t);
    kc_tensor_unref(th), kc_tensor_unref(k2), kc_tensor_unref(fl), kc_tensor_unref(mm), kc_tensor_unref(k1), kc_tensor_unref(k11), kc_tensor_unref(bad), kc_tensor_unref(kt);
}
END_TEST

START_TEST(keras1_weights_only_file_loads_into_its_model)
{
    /* weightsonly_cnn_k1_noversion.h5 holds the weights of
     * seq_cnn_maxpool_dropout_k1.1.2.h5, without a keras_version: Keras
     * reads it as Keras 1 */
    kc_object *m = kc_model_load(tu_data("keras/seq_cnn_maxpool_dropout_k1.1.2.h5"), NULL, &err);
    CK_NN(m, err);
    for (int i = 0; i < kc_layer_num_weights(m); i++) kc_tensor_fill(kc_variable_value(kc_layer_weight(m, i)), 0.0);
    CK_OK(kc_model_load_weights(m, tu_data("keras/weightsonly_cnn_k1_noversion.h5"), NULL, &err));
    json_error_t je;
    json_t *io = json_load_file(tu_data("keras/seq_cnn_maxpool_dropout_k1.1.2.io.json"), 0, &je);
    kc_tensor *x = tu_json_tensor(json_array_get(json_object_get(io, "inputs"), 0));
    kc_tensor *want = tu_json_tensor(json_array_get(json_object_get(io, "outputs"), 0));
    kc_tensor *y[1];
    int n;
    CK_OK(kc_model_predict(m, &x, 1, 32, y, &n, &err));
    tu_assert_tensors_close(y[0], want, 1e-4, 1e-5, "weights-only Keras 1 file");
    kc_tensor_unref(x), kc_tensor_unref(want), kc_tensor_unref(y[0]);
    json_decref(io);
    kc_object_unref(m);
}
END_TEST

START_TEST(conv_model_saves_and_reloads)
{
    /* a model of these layers through kc_model_save / kc_model_load */
    kc_object *m = NULL;
    json_error_t je;
    json_t *root = json_load_file(tu_data("conv/depthwise.json"), 0, &je);
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "model_config", NULL);
    CK_OK(kc_deserialize(KC_KIND_MODEL, json_object_get(root, "model_config"), &ctx, &m, &err));
    kc_tensor *x = tu_json_tensor(json_array_get(json_object_get(root, "inputs"), 0));
    kc_tensor *y0[1], *y1[1];
    int n;
    CK_OK(kc_model_predict(m, &x, 1, 32, y0, &n, &err));
    char path[4200];
    snprintf(path, sizeof(path), "%s/conv_model.h5", tu_tmpdir());
    CK_OK(kc_model_save(m, path, NULL, &err));
    kc_clear_session();
    kc_object *back = kc_model_load(path, NULL, &err);
    CK_NN(back, err);
    CK_OK(kc_model_predict(back, &x, 1, 32, y1, &n, &err));
    tu_assert_tensors_close(y1[0], y0[0], 0, 0, "reloaded model");
    kc_tensor_unref(x), kc_tensor_unref(y0[0]), kc_tensor_unref(y1[0]);
    kc_object_unref(m), kc_object_unref(back);
    json_decref(root);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("layers_conv");
    TCase *tc = tcase_create("layers");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, models_match_tensorflow_js);
    tcase_add_test(tc, convolution_gradients_match_finite_differences);
    tcase_add_test(tc, pooling_and_reshaping_gradients_match_finite_differences);
    tcase_add_test(tc, conv1d_causal_transpose_and_dilation_by_hand);
    tcase_add_test(tc, one_d_layers_agree_with_their_2d_forms);
    tcase_add_test(tc, grouped_convolution_is_per_group_convolutions);
    tcase_add_test(tc, padding_cropping_upsampling_by_hand);
    tcase_add_test(tc, global_pooling_3d_keepdims_and_masks_by_hand);
    tcase_add_test(tc, spatial_dropout_drops_whole_channels);
    tcase_add_test(tc, configs_round_trip);
    tcase_add_test(tc, configs_are_written_as_keras_writes_them);
    tcase_add_test(tc, bad_configs_give_named_errors);
    tcase_add_test(tc, bad_shapes_give_named_errors);
    tcase_add_test(tc, keras1_and_theano_kernels_are_converted);
    tcase_add_test(tc, keras1_weights_only_file_loads_into_its_model);
    tcase_add_test(tc, conv_model_saves_and_reloads);
    tcase_add_test(tc, keras_ref_fixtures_load_and_match);
    tcase_add_test(tc, real_keras_files_load_and_match);
    suite_add_tcase(s, tc);
    tc = tcase_create("tfjs"); /* needs keras-ref: a meson test of its own */
    tcase_set_tags(tc, "tfjs");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, ckeras_written_models_load_in_tensorflow_js, 0, N_GOLDENS);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
