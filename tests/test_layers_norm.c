/* BatchNormalization, LayerNormalization, Embedding, Masking and Lambda;
 * and whole models read from Keras configs, checked against TensorFlow.js
 * (tests/data/models, tests/data/grad). */
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

START_TEST(models_match_tensorflow_js)
{
    tu_check_golden("models/dense_bn.json", 1e-5, 1e-6);
    tu_check_golden("models/layernorm.json", 1e-5, 1e-6);
    tu_check_golden("models/embedding.json", 1e-5, 1e-6);
    tu_check_golden("models/masking.json", 1e-5, 1e-6);
    tu_check_golden("grad/mlp.json", 1e-5, 1e-6);
}
END_TEST

START_TEST(batchnorm_training_uses_batch_stats_and_moves_averages)
{
    kc_object *bn = kc_layer_create("BatchNormalization", "{\"momentum\": 0.5, \"epsilon\": 0.0001}", &err);
    CK_NN(bn, err);
    kc_tensor *x = TU_T2(4, 2, 1, 10, 2, 20, 3, 30, 4, 40);
    kc_tensor *y = kc_layer_call1(bn, x, true, &err);
    CK_NN(y, err);
    /* column means 2.5 and 25, biased variances 1.25 and 125 */
    float s0 = 1.0f / sqrtf(1.25f + 1e-4f), s1 = 1.0f / sqrtf(125.0f + 1e-4f);
    tu_assert_close(y, 2, D(4, 2), F(-1.5f * s0, -15 * s1, -0.5f * s0, -5 * s1, 0.5f * s0, 5 * s1, 1.5f * s0, 15 * s1), 1e-5, 1e-6, "batch stats");
    ck_assert_int_eq(kc_layer_num_trainable_weights(bn), 2);
    ck_assert_int_eq(kc_layer_num_non_trainable_weights(bn), 2);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(bn, 2)), "batch_normalization/moving_mean:0");
    /* moving = 0.5 * moving + 0.5 * batch */
    tu_assert_close(kc_variable_value(kc_layer_weight(bn, 2)), 1, D(2), F(1.25f, 12.5f), 1e-6, 0, "moving mean");
    tu_assert_close(kc_variable_value(kc_layer_weight(bn, 3)), 1, D(2), F(1.125f, 63.0f), 1e-6, 0, "moving variance");
    /* inference: moving statistics */
    kc_tensor *yi = kc_layer_call1(bn, x, false, &err);
    float m0 = 1.25f, v0 = 1.125f;
    ck_assert(fabsf(kc_tensor_f32(yi)[0] - (1 - m0) / sqrtf(v0 + 1e-4f)) < 1e-5f);
    /* frozen: inference mode even when training (tf.keras 2) */
    kc_layer_set_trainable(bn, false);
    kc_tensor *yf = kc_layer_call1(bn, x, true, &err);
    tu_assert_tensors_close(yf, yi, 0, 0, "frozen BN");
    ck_assert_int_eq(kc_layer_num_trainable_weights(bn), 0);
    ck_assert_int_eq(kc_layer_num_non_trainable_weights(bn), 4);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(bn, 0)), "batch_normalization/gamma:0");
    /* config: axis written as tf.keras does after build */
    json_t *cfg;
    CK_OK(kc_object_get_config(bn, &cfg, &err));
    char *t = kc_json_dump(json_object_get(cfg, "axis"), &err);
    ck_assert_str_eq(t, "[1]");
    kc_json_free(t);
    json_decref(cfg);
    kc_tensor_unref(x), kc_tensor_unref(y), kc_tensor_unref(yi), kc_tensor_unref(yf);
    kc_object_unref(bn);
}
END_TEST

/* Keras 2: moving <- moving - (moving - batch) * (1 - momentum), i.e.
 * momentum * moving + (1 - momentum) * batch. At momentum 0.5 both weights
 * are equal and a swap goes unseen; at 0.9 over two batches it does not.
 * Moving statistics start at 0 and 1; batch variances are biased (/ n). */
START_TEST(batchnorm_moving_averages_weigh_old_values_by_momentum)
{
    kc_object *bn = kc_layer_create("BatchNormalization", "{\"momentum\": 0.9}", &err);
    CK_NN(bn, err);
    kc_tensor *x1 = TU_T2(4, 2, 1, 10, 2, 20, 3, 30, 4, 40), *x2 = TU_T2(2, 2, 0, -2, 2, 2);
    kc_tensor *y = kc_layer_call1(bn, x1, true, &err);
    CK_NN(y, err);
    kc_tensor_unref(y);
    /* batch 1: means (2.5, 25), variances (1.25, 125) */
    tu_assert_close(kc_variable_value(kc_layer_weight(bn, 2)), 1, D(2), F(0.25f, 2.5f), 1e-6, 0, "moving mean 1");
    tu_assert_close(kc_variable_value(kc_layer_weight(bn, 3)), 1, D(2), F(1.025f, 13.4f), 1e-6, 0, "moving variance 1");
    y = kc_layer_call1(bn, x2, true, &err);
    CK_NN(y, err);
    /* batch 2: means (1, 0), variances (1, 4) */
    tu_assert_close(kc_variable_value(kc_layer_weight(bn, 2)), 1, D(2), F(0.325f, 2.25f), 1e-6, 0, "moving mean 2");
    tu_assert_close(kc_variable_value(kc_layer_weight(bn, 3)), 1, D(2), F(1.0225f, 12.46f), 1e-6, 0, "moving variance 2");
    /* inference mode leaves them alone */
    kc_tensor *yi = kc_layer_call1(bn, x2, false, &err);
    CK_NN(yi, err);
    tu_assert_close(kc_variable_value(kc_layer_weight(bn, 2)), 1, D(2), F(0.325f, 2.25f), 1e-6, 0, "after inference");
    kc_tensor_unref(x1), kc_tensor_unref(x2), kc_tensor_unref(y), kc_tensor_unref(yi);
    kc_object_unref(bn);
}
END_TEST

static kc_tensor *layer_fn(kc_tensor *const *in, const void *ctx, kc_error *e)
{
    return kc_layer_call1((kc_object *)ctx, in[0], true, e);
}

START_TEST(normalization_gradients_vs_finite_differences)
{
    kc_object *bn = kc_layer_create("BatchNormalization", "{\"axis\": 1}", &err);
    kc_object *ln = kc_layer_create("LayerNormalization", "{\"axis\": [1, 2]}", &err);
    kc_tensor *x = tu_random(3, D(4, 3, 2), -1, 1, 5);
    /* the gradient w.r.t. the input, through batch statistics */
    tu_grad_check("BatchNormalization (training)", layer_fn, bn, &x, 1, 1e-2, 3e-2, 3e-3);
    tu_grad_check("LayerNormalization", layer_fn, ln, &x, 1, 1e-2, 3e-2, 3e-3);
    ck_assert_int_eq(kc_tensor_size(kc_variable_value(kc_layer_weight(ln, 0))), 6);
    kc_tensor_unref(x);
    kc_object_unref(bn), kc_object_unref(ln);
}
END_TEST

START_TEST(embedding_lookup_mask_and_errors)
{
    kc_object *e = kc_layer_create("Embedding", "{\"input_dim\": 4, \"output_dim\": 2, \"mask_zero\": true}", &err);
    CK_NN(e, err);
    kc_tensor *ids = kc_tensor_from_data(KC_INT32, 2, D(2, 3), (int32_t[]){1, 0, 3, 2, 2, 0}, &err);
    kc_tensor *out[2], *masks[2];
    int n;
    CK_OK(kc_layer_call(e, &ids, 1, NULL, false, out, masks, &n, &err));
    kc_tensor *t = kc_variable_value(kc_layer_weight(e, 0));
    const float *tab = kc_tensor_cdata(t);
    ck_assert(kc_tensor_f32(out[0])[0] == tab[2] && kc_tensor_f32(out[0])[5] == tab[7]);
    tu_assert_close(masks[0], 2, D(2, 3), F(1, 0, 1, 1, 1, 0), 0, 0, "mask_zero");
    kc_tensor_unref(out[0]), kc_tensor_unref(masks[0]);
    kc_tensor *bad = kc_tensor_from_data(KC_INT32, 2, D(1, 1), (int32_t[]){4}, &err);
    ck_assert_int_eq(kc_layer_call(e, &bad, 1, NULL, false, out, NULL, &n, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "index 4");
    CK_ERR(err, KC_EINVAL, "layer 'embedding'");
    kc_tensor_unref(ids), kc_tensor_unref(bad);
    kc_object_unref(e);
}
END_TEST

START_TEST(masking_zeroes_masked_steps)
{
    kc_object *m = kc_layer_create("Masking", "{\"mask_value\": -1.0}", &err);
    kc_tensor *x = tu_tensor(3, D(1, 3, 2), F(1, 2, -1, -1, -1, 3));
    kc_tensor *out[1], *masks[1];
    int n;
    CK_OK(kc_layer_call(m, &x, 1, NULL, false, out, masks, &n, &err));
    tu_assert_close(out[0], 3, D(1, 3, 2), F(1, 2, 0, 0, -1, 3), 0, 0, "masked output");
    tu_assert_close(masks[0], 2, D(1, 3), F(1, 0, 1), 0, 0, "mask");
    kc_tensor_unref(out[0]), kc_tensor_unref(masks[0]), kc_tensor_unref(x);
    kc_object_unref(m);
}
END_TEST

static kc_tensor *my_exp(kc_tensor *const *in, int n, void *params, kc_error *e)
{
    (void)n, (void)params;
    return kc_exp(in[0], e);
}

static kc_tensor *my_sum2(kc_tensor *const *in, int n, void *params, kc_error *e)
{
    (void)params;
    if (n != 2) return NULL;
    return kc_add(in[0], in[1], e);
}

START_TEST(lambda_calls_registered_functions_and_refuses_bytecode)
{
    CK_OK(kc_register_function(KC_KIND_LAMBDA, "Seed>my_exp", KC_FN(my_exp), &err));
    kc_object *l = kc_layer_create("Lambda", "{\"function\": \"Seed>my_exp\"}", &err);
    CK_NN(l, err);
    kc_tensor *x = TU_T2(1, 2, 0, 1);
    kc_tensor *y = kc_layer_call1(l, x, false, &err);
    tu_assert_close(y, 2, D(1, 2), F(1, 2.7182817f), 1e-6, 0, "exp");
    json_t *cfg;
    CK_OK(kc_object_get_config(l, &cfg, &err));
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "function")), "Seed>my_exp");
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "function_type")), "function");
    json_decref(cfg);
    /* output shape found by a dry run; in a model, from symbols */
    kc_symbol *in = kc_input(2, D(3, 2), NULL, &err);
    kc_symbol *o = kc_apply(l, &in, 1, &err);
    kc_shape s = kc_symbol_shape(o);
    char buf[64];
    ck_assert_str_eq(kc_shape_format(&s, buf, sizeof(buf)), "(None, 3, 2)");
    /* multi-input through custom objects */
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LAMBDA, "sum2", KC_FN(my_sum2), NULL, NULL, &err));
    json_t *j = json_pack("{s:s, s:{s:s, s:[i]}}", "class_name", "Lambda", "config", "function", "sum2", "output_shape", 2);
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "config", co);
    kc_object *l2;
    CK_OK(kc_deserialize(KC_KIND_LAYER, j, &ctx, &l2, &err));
    kc_tensor *xs[2] = {x, x}, *outs[1];
    int n;
    CK_OK(kc_layer_call(l2, xs, 2, NULL, false, outs, NULL, &n, &err));
    tu_assert_close(outs[0], 2, D(1, 2), F(0, 2), 0, 0, "sum2");
    kc_tensor_unref(outs[0]);
    kc_object_unref(l2);
    json_decref(j);
    /* without it: the unknown-function error */
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_layer_create("Lambda", "{\"function\": \"sum2\"}", &err));
    CK_ERR(err, KC_ENOTFOUND, "Unknown Lambda function 'sum2'");
    kc_error_clear(&err);
    /* Python bytecode is refused, never run */
    ck_assert_ptr_null(kc_layer_create("Lambda", "{\"function\": [\"4wEAAAAAAAAA\", null, null], \"function_type\": \"lambda\"}", &err));
    CK_ERR(err, KC_EUNSUPPORTED, "Python bytecode");
    kc_custom_objects_free(co);
    kc_symbol_unref(in), kc_symbol_unref(o);
    kc_tensor_unref(x), kc_tensor_unref(y);
    kc_object_unref(l);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("layers_norm");
    TCase *tc = tcase_create("layers");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, models_match_tensorflow_js);
    tcase_add_test(tc, batchnorm_training_uses_batch_stats_and_moves_averages);
    tcase_add_test(tc, batchnorm_moving_averages_weigh_old_values_by_momentum);
    tcase_add_test(tc, normalization_gradients_vs_finite_differences);
    tcase_add_test(tc, embedding_lookup_mask_and_errors);
    tcase_add_test(tc, masking_zeroes_masked_steps);
    tcase_add_test(tc, lambda_calls_registered_functions_and_refuses_bytecode);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
