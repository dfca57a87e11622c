/* Convolution, pooling, padding, cropping, upsampling and spatial dropout
 * layers: against TensorFlow.js (tests/data/conv goldens, keras-ref
 * fixtures), against values computed by hand where TensorFlow.js lacks the
 * layer or differs from Keras, against finite differences, and the real
 * Keras files that use them (tests/data/keras). */
#include "testutil.h"

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

static kc_tensor *from_json(json_t *j)
{
    json_t *shape = json_object_get(j, "shape"), *data = json_object_get(j, "data");
    int64_t dims[KC_MAX_DIMS];
    int nd = (int)json_array_size(shape);
    for (int i = 0; i < nd; i++) dims[i] = json_integer_value(json_array_get(shape, i));
    const char *dt = json_string_value(json_object_get(j, "dtype"));
    bool ints = dt && strcmp(dt, "int32") == 0;
    kc_tensor *t = kc_tensor_empty(ints ? KC_INT32 : KC_FLOAT32, nd, dims, &err);
    CK_NN(t, err);
    for (size_t i = 0; i < json_array_size(data); i++) {
        double v = json_number_value(json_array_get(data, i));
        if (ints)
            ((int32_t *)kc_tensor_data(t))[i] = (int32_t)v;
        else
            kc_tensor_f32(t)[i] = (float)v;
    }
    return t;
}

/* Load model_config + weights from a golden, predict, and (when the golden
 * has grads) compare the training-mode loss gradients. */
static void check_golden(const char *file, double rtol, double atol)
{
    json_error_t je;
    json_t *root = json_load_file(tu_data(file), 0, &je);
    ck_assert_msg(root != NULL, "%s: %s", file, je.text);
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "model_config", NULL);
    kc_object *m = NULL;
    kc_status rc = kc_deserialize(KC_KIND_MODEL, json_object_get(root, "model_config"), &ctx, &m, &err);
    ck_assert_msg(rc == KC_OK, "%s: %s (%s)", file, err.message, err.context);
    json_t *jw = json_object_get(root, "weights");
    int nw = (int)json_array_size(jw);
    ck_assert_int_eq(nw, kc_layer_num_weights(m));
    kc_tensor *w[64];
    for (int i = 0; i < nw; i++) w[i] = from_json(json_array_get(jw, (size_t)i));
    rc = kc_layer_set_weights(m, w, nw, &err);
    ck_assert_msg(rc == KC_OK, "%s: %s", file, err.message);
    for (int i = 0; i < nw; i++) kc_tensor_unref(w[i]);
    json_t *jin = json_object_get(root, "inputs"), *jout = json_object_get(root, "outputs");
    kc_tensor *ins[8], *outs[8];
    int n_in = (int)json_array_size(jin), n_out = 0;
    for (int i = 0; i < n_in; i++) ins[i] = from_json(json_array_get(jin, (size_t)i));
    rc = kc_model_predict(m, ins, n_in, 32, outs, &n_out, &err);
    ck_assert_msg(rc == KC_OK, "%s: %s (%s)", file, err.message, err.context);
    ck_assert_int_eq(n_out, (int)json_array_size(jout));
    for (int i = 0; i < n_out; i++) {
        kc_tensor *want = from_json(json_array_get(jout, (size_t)i));
        char label[128];
        snprintf(label, sizeof(label), "%s output %d vs TensorFlow.js", file, i);
        tu_assert_tensors_close(outs[i], want, rtol, atol, label);
        kc_tensor_unref(want);
        kc_tensor_unref(outs[i]);
    }
    json_t *jg = json_object_get(root, "grads");
    if (jg) {
        json_t *jt = json_object_get(root, "targets");
        kc_tensor *tg[8];
        for (int i = 0; i < n_out; i++) tg[i] = from_json(json_array_get(jt, (size_t)i));
        kc_tape *tape = kc_tape_begin(0, &err);
        kc_tensor *ys[8];
        int ny = 0;
        CK_OK(kc_layer_call(m, ins, n_in, NULL, true, ys, NULL, &ny, &err));
        kc_scope *s = kc_scope_new(&err);
        kc_tensor *total = NULL;
        for (int i = 0; i < ny; i++) {
            kc_tensor *d = kc_scope_take(s, kc_sub(ys[i], tg[i], &err));
            kc_tensor *t = kc_scope_take(s, kc_reduce_mean(kc_scope_take(s, kc_square(d, &err)), NULL, 0, false, &err));
            total = total ? kc_scope_take(s, kc_add(total, t, &err)) : t;
        }
        kc_tape_end(tape);
        CK_NN(total, err);
        double want_loss = json_number_value(json_object_get(root, "loss"));
        ck_assert_msg(fabs(kc_tensor_item(total) - want_loss) <= 1e-5 * fabs(want_loss) + 1e-6,
                      "%s: training loss %.9g, TensorFlow.js %.9g", file, kc_tensor_item(total), want_loss);
        int nt = kc_layer_num_trainable_weights(m);
        ck_assert_int_eq(nt, (int)json_array_size(jg));
        kc_tensor *src[64], *g[64];
        for (int i = 0; i < nt; i++) src[i] = kc_variable_value(kc_layer_trainable_weight(m, i));
        CK_OK(kc_tape_gradient(tape, total, src, nt, g, &err));
        for (int i = 0; i < nt; i++) {
            kc_tensor *want = from_json(json_array_get(jg, (size_t)i));
            char label[160];
            snprintf(label, sizeof(label), "%s gradient of %s vs TensorFlow.js", file,
                     kc_variable_name(kc_layer_trainable_weight(m, i)));
            tu_assert_tensors_close(g[i], want, 1e-4, 1e-6, label);
            kc_tensor_unref(want);
            kc_tensor_unref(g[i]);
        }
        for (int i = 0; i < ny; i++) kc_tensor_unref(ys[i]);
        for (int i = 0; i < n_out; i++) kc_tensor_unref(tg[i]);
        kc_scope_free(s);
        kc_tape_free(tape);
    }
    for (int i = 0; i < n_in; i++) kc_tensor_unref(ins[i]);
    kc_object_unref(m);
    json_decref(root);
}

START_TEST(models_match_tensorflow_js)
{
    static const char *const files[] = {
        "conv/conv2d.json",      "conv/conv2d_cf.json",    "conv/conv1d.json",
        "conv/conv1d_gmax.json", "conv/conv3d.json",       "conv/conv3d_cf.json",
        "conv/transpose.json",   "conv/transpose_cf.json", "conv/transpose3d.json",
        "conv/depthwise.json",   "conv/depthwise_cf.json", "conv/reshaping.json",
        "conv/reshaping_cf.json",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) check_golden(files[i], 1e-5, 1e-6);
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
    json_error_t je;
    json_t *root = json_load_file(tu_data(io), 0, &je);
    ck_assert_msg(root != NULL, "%s: %s", io, je.text);
    json_t *jin = json_object_get(root, "inputs"), *jout = json_object_get(root, "outputs");
    kc_tensor *ins[16], *outs[32];
    int n_in = (int)json_array_size(jin), n_out = 0;
    for (int i = 0; i < n_in; i++) ins[i] = from_json(json_array_get(jin, (size_t)i));
    kc_status rc = kc_model_predict(m, ins, n_in, 32, outs, &n_out, &err);
    ck_assert_msg(rc == KC_OK, "%s: %s (%s)", h5, err.message, err.context);
    ck_assert_int_eq(n_out, (int)json_array_size(jout));
    for (int i = 0; i < n_out; i++) {
        kc_tensor *want = from_json(json_array_get(jout, (size_t)i));
        char label[400];
        snprintf(label, sizeof(label), "%s output %d vs its golden", h5, i);
        tu_assert_tensors_close(outs[i], want, rtol, atol, label);
        kc_tensor_unref(want);
        kc_tensor_unref(outs[i]);
    }
    for (int i = 0; i < n_in; i++) kc_tensor_unref(ins[i]);
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
    CK_NN(l, err);
    kc_tensor *x = tu_random(nd, dims, -1, 1, 3);
    kc_tensor *y = kc_layer_call1(l, x, true, &err);
    ck_assert_msg(y != NULL, "%s %s: %s (%s)", cls, cfg, err.message, err.context);
    kc_tensor_unref(y);
    kc_tensor *in[8] = {x};
    int n = 1;
    for (int i = 0; i < kc_layer_num_weights(l) && n < 8; i++) in[n++] = kc_variable_value(kc_layer_weight(l, i));
    /* keep biases away from zero so that pooling maxima are unique */
    char what[256];
    snprintf(what, sizeof(what), "%s %s", cls, cfg);
    tu_grad_check(what, layer_fn, l, in, n, 1e-2, 2e-2, 2e-3);
    kc_tensor_unref(x);
    kc_object_unref(l);
}

START_TEST(gradients_match_finite_differences)
{
    grad_check_layer("Conv3D", "{\"filters\": 2, \"kernel_size\": [2, 3, 2], \"padding\": \"same\"}", 5, D(2, 3, 4, 3, 2));
    grad_check_layer("MaxPooling3D", "{\"pool_size\": 2, \"padding\": \"same\"}", 5, D(2, 3, 4, 3, 2));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("layers_conv");
    TCase *tc = tcase_create("layers");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, models_match_tensorflow_js);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, keras_ref_fixtures_load_and_match);
    tcase_add_test(tc, real_keras_files_load_and_match);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
