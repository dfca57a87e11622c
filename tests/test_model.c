/* Layer machinery and models: Sequential, Functional (shared layers,
 * nested models, several inputs and outputs), configs in both Keras
 * forms, weights order, summary, errors. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "testutil.h"

#include <string.h>
#include <time.h>

#define D(...) ((int64_t[]){__VA_ARGS__})
#define F(...) ((float[]){__VA_ARGS__})

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    kc_clear_session();
    kc_set_random_seed(1);
}

static kc_object *dense(const char *cfg)
{
    kc_object *l = kc_layer_create("Dense", cfg, &err);
    ck_assert_msg(l != NULL, "Dense %s: %s (%s)", cfg, err.message, err.context);
    return l;
}

static void set_weights(kc_object *layer, kc_tensor *k, kc_tensor *b)
{
    kc_tensor *w[2] = {k, b};
    CK_OK(kc_layer_set_weights(layer, w, b ? 2 : 1, &err));
    kc_tensor_unref(k);
    kc_tensor_unref(b);
}

START_TEST(layers_get_keras_names)
{
    kc_object *a = dense("{\"units\": 2}"), *b = dense("{\"units\": 2}"), *c = dense("{\"units\": 2, \"name\": \"out\"}");
    ck_assert_str_eq(kc_layer_name(a), "dense");
    ck_assert_str_eq(kc_layer_name(b), "dense_1");
    ck_assert_str_eq(kc_layer_name(c), "out");
    kc_object *s = kc_sequential_new(NULL, &err), *s2 = kc_sequential_new(NULL, &err);
    ck_assert_str_eq(kc_layer_name(s), "sequential");
    ck_assert_str_eq(kc_layer_name(s2), "sequential_1");
    kc_symbol *x = kc_input(1, D(3), NULL, &err), *y = kc_input(1, D(3), NULL, &err);
    ck_assert_str_eq(kc_layer_name(kc_symbol_layer(x)), "input_1");
    ck_assert_str_eq(kc_layer_name(kc_symbol_layer(y)), "input_2");
    kc_object_unref(a), kc_object_unref(b), kc_object_unref(c), kc_object_unref(s), kc_object_unref(s2);
    kc_symbol_unref(x), kc_symbol_unref(y);
}
END_TEST

START_TEST(dense_forward_matches_hand_values_and_checks_shapes)
{
    kc_object *d = dense("{\"units\": 2, \"activation\": \"relu\"}");
    kc_tensor *x = TU_T2(2, 3, 1, 2, 3, -1, -2, -3);
    kc_tensor *y = kc_layer_call1(d, x, false, &err); /* builds (3 -> 2) */
    CK_NN(y, err);
    ck_assert_int_eq(kc_layer_num_weights(d), 2);
    set_weights(d, TU_T2(3, 2, 1, 0, 0, 1, 1, -1), TU_T1(2, 0.5f, 0));
    kc_tensor_unref(y);
    y = kc_layer_call1(d, x, false, &err);
    /* [1,2,3] -> (4 + .5, 2 - 3) = (4.5, -1) -> relu (4.5, 0); [-1,-2,-3] -> (-3.5, 1) -> (0, 1) */
    tu_assert_close(y, 2, D(2, 2), F(4.5f, 0, 0, 1), 1e-6, 0, "dense");
    kc_tensor_unref(y);
    /* rank 3 input: applied on the last axis */
    kc_tensor *x3 = tu_tensor(3, D(1, 2, 3), F(1, 2, 3, -1, -2, -3));
    y = kc_layer_call1(d, x3, false, &err);
    tu_assert_close(y, 3, D(1, 2, 2), F(4.5f, 0, 0, 1), 1e-6, 0, "dense on rank 3");
    kc_tensor_unref(y);
    /* wrong feature count: names the layer and the shapes */
    kc_tensor *bad = TU_T2(1, 4, 1, 2, 3, 4);
    ck_assert_ptr_null(kc_layer_call1(d, bad, false, &err));
    CK_ERR(err, KC_ESHAPE, "expects 3 input features");
    CK_ERR(err, KC_ESHAPE, "layer 'dense' (Dense) on input shape (1, 4)");
    kc_error_clear(&err);
    /* set_weights shape mismatch */
    kc_tensor *w[2] = {TU_T2(2, 2, 1, 1, 1, 1), TU_T1(2, 0, 0)};
    ck_assert_int_eq(kc_layer_set_weights(d, w, 2, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "dense/kernel:0");
    CK_ERR(err, KC_ESHAPE, "(3, 2)");
    kc_tensor_unref(w[0]), kc_tensor_unref(w[1]);
    kc_tensor_unref(x), kc_tensor_unref(x3), kc_tensor_unref(bad);
    kc_object_unref(d);
}
END_TEST

START_TEST(bad_dense_configs_are_named_errors)
{
    ck_assert_ptr_null(kc_layer_create("Dense", "{\"units\": -2}", &err));
    ck_assert_str_eq(err.message, "Dense.units: expected a positive integer, got -2");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_layer_create("Dense", "{}", &err));
    CK_ERR(err, KC_EFORMAT, "units: missing");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_layer_create("Dense", "{\"units\": 2, \"activation\": \"nope\"}", &err));
    CK_ERR(err, KC_ENOTFOUND, "Unknown activation 'nope'");
    CK_ERR(err, KC_ENOTFOUND, "Dense.activation");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_layer_create("MyDense", "{}", &err));
    CK_ERR(err, KC_ENOTFOUND, "Unknown layer class 'MyDense'");
}
END_TEST

static kc_object *mlp(void)
{
    kc_object *m = kc_sequential_new(NULL, &err);
    kc_object *in = kc_input_layer(1, D(4), NULL, &err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object_unref(in);
    kc_object *a = dense("{\"units\": 8, \"activation\": \"relu\"}"), *b = dense("{\"units\": 3, \"activation\": \"softmax\"}");
    CK_OK(kc_sequential_add(m, a, &err));
    CK_OK(kc_sequential_add(m, b, &err));
    kc_object_unref(a);
    kc_object_unref(b);
    return m;
}

START_TEST(sequential_builds_predicts_and_round_trips)
{
    kc_object *m = mlp();
    ck_assert_int_eq(kc_model_num_layers(m), 2); /* the InputLayer is not in model.layers */
    kc_shape os = kc_model_output_shape(m, 0);
    char buf[64];
    ck_assert_str_eq(kc_shape_format(&os, buf, sizeof(buf)), "(None, 3)");
    ck_assert_int_eq(kc_layer_num_weights(m), 4);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(m, 2)), "dense_1/kernel:0");
    ck_assert_int_eq(kc_layer_count_params(m), 4 * 8 + 8 + 8 * 3 + 3);
    kc_tensor *x = tu_random(2, D(70, 4), -1, 1, 3);
    kc_tensor *outs[4];
    int n = 0;
    CK_OK(kc_model_predict(m, &x, 1, 32, outs, &n, &err)); /* 3 batches, the last partial */
    ck_assert_int_eq(n, 1);
    kc_tensor *direct = kc_layer_call1(m, x, false, &err);
    tu_assert_tensors_close(outs[0], direct, 1e-6, 1e-7, "predict == call");
    /* config round trip: same config, same predictions with the same weights */
    json_t *cfg;
    CK_OK(kc_serialize(m, &cfg, &err));
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "class_name")), "Sequential");
    json_t *layers = json_object_get(json_object_get(cfg, "config"), "layers");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(layers, 0), "class_name")), "InputLayer");
    kc_object *m2;
    CK_OK(kc_deserialize(KC_KIND_MODEL, cfg, NULL, &m2, &err));
    json_t *cfg2;
    CK_OK(kc_serialize(m2, &cfg2, &err));
    char *t1 = kc_json_dump(cfg, &err), *t2 = kc_json_dump(cfg2, &err);
    ck_assert_str_eq(t1, t2);
    kc_tensor *w[4];
    CK_OK(kc_layer_get_weights(m, w, &err));
    CK_OK(kc_layer_set_weights(m2, w, 4, &err));
    kc_tensor *y2 = kc_layer_call1(m2, x, false, &err);
    tu_assert_tensors_close(y2, direct, 0, 0, "round-tripped model");
    for (int i = 0; i < 4; i++) kc_tensor_unref(w[i]);
    kc_json_free(t1), kc_json_free(t2);
    json_decref(cfg), json_decref(cfg2);
    kc_tensor_unref(outs[0]), kc_tensor_unref(direct), kc_tensor_unref(y2), kc_tensor_unref(x);
    kc_object_unref(m), kc_object_unref(m2);
}
END_TEST

/* A model saved with a fixed batch size (input_shape=(32, 4) given to the first layer, as
 * a popular tutorial has it) predicts on any batch in Keras: a model's input_spec drops
 * the batch dimension. The other dimensions are still checked. */
START_TEST(fixed_batch_input_accepts_other_batch_sizes)
{
    static const char *const cfgs[] = {
        /* Keras 2 */
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": [{\"class_name\": "
        "\"InputLayer\", \"config\": {\"batch_input_shape\": [32, 4], \"dtype\": \"float32\", \"name\": \"in\"}}, "
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 2}}]}}",
        /* Keras 3 functional */
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"f\", \"layers\": [{\"class_name\": "
        "\"InputLayer\", \"config\": {\"batch_shape\": [32, 4], \"dtype\": \"float32\", \"name\": \"in\"}, "
        "\"name\": \"in\", \"inbound_nodes\": []}, {\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", "
        "\"units\": 2}, \"name\": \"d\", \"inbound_nodes\": [{\"args\": [{\"class_name\": \"__keras_tensor__\", "
        "\"config\": {\"shape\": [32, 4], \"dtype\": \"float32\", \"keras_history\": [\"in\", 0, 0]}}], "
        "\"kwargs\": {}}]}], \"input_layers\": [[\"in\", 0, 0]], \"output_layers\": [[\"d\", 0, 0]]}}",
    };
    for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; c++) {
        json_t *j = json_loads(cfgs[c], 0, NULL);
        ck_assert_ptr_nonnull(j);
        kc_object *m;
        CK_OK(kc_deserialize(KC_KIND_MODEL, j, NULL, &m, &err));
        json_decref(j);
        kc_shape is = kc_model_input_shape(m, 0);
        ck_assert_int_eq(is.dims[0], 32); /* the declared batch stays in the model */
        kc_tensor *x = tu_random(2, D(3, 4), -1, 1, 7), *outs[1];
        int n = 0;
        CK_OK(kc_model_predict(m, &x, 1, 32, outs, &n, &err));
        ck_assert_int_eq(kc_tensor_dims(outs[0])[0], 3);
        kc_tensor *direct = kc_layer_call1(m, x, false, &err);
        CK_NN(direct, err);
        tu_assert_tensors_close(outs[0], direct, 0, 0, "predict == call");
        kc_tensor_unref(outs[0]), kc_tensor_unref(direct), kc_tensor_unref(x);
        /* a wrong feature size is still refused, naming both shapes */
        x = tu_random(2, D(3, 5), -1, 1, 7);
        kc_error_clear(&err);
        ck_assert_ptr_null(kc_layer_call1(m, x, false, &err));
        CK_ERR(err, KC_ESHAPE, "does not fit the declared shape (32, 4)");
        kc_tensor_unref(x);
        kc_object_unref(m);
    }
}
END_TEST

/* Keras 3 saves operations on symbolic tensors (x + y, x * 0.5, keras.ops.max(x)) as
 * functional nodes of classes from keras.src.ops, some named like layers. Only the
 * elementwise merges of tensors are the layers of the same name; the rest is refused by
 * name -- never read as a layer that drops the constant (x * 0.5 == x). */
static const char *op_model(const char *cls, const char *cfg, const char *second_arg)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"module\": \"keras.src.models.functional\", \"class_name\": \"Functional\", \"config\": {\"name\": "
             "\"f\", \"layers\": [{\"module\": \"keras.layers\", \"class_name\": \"InputLayer\", \"config\": "
             "{\"batch_shape\": [null, 4], \"dtype\": \"float32\", \"name\": \"in\"}, \"name\": \"in\", "
             "\"inbound_nodes\": []}, {\"module\": \"keras.src.ops.numpy\", \"class_name\": \"%s\", \"config\": %s, "
             "\"registered_name\": \"%s\", \"name\": \"op\", \"inbound_nodes\": [{\"args\": [{\"class_name\": "
             "\"__keras_tensor__\", \"config\": {\"shape\": [null, 4], \"dtype\": \"float32\", \"keras_history\": "
             "[\"in\", 0, 0]}}%s], \"kwargs\": {}}]}], \"input_layers\": [[\"in\", 0, 0]], \"output_layers\": "
             "[[\"op\", 0, 0]]}, \"registered_name\": \"Functional\"}",
             cls, cfg, cls, second_arg);
    return buf;
}

START_TEST(keras3_operation_nodes_are_layers_only_when_equal)
{
    static const char *const tensor_arg =
        ", {\"class_name\": \"__keras_tensor__\", \"config\": {\"shape\": [null, 4], \"dtype\": \"float32\", "
        "\"keras_history\": [\"in\", 0, 0]}}";
    /* x + x and x * x: the Add and Multiply layers compute them */
    static const struct {
        const char *cls;
        float want[4];
    } ok[] = {{"Add", {2, -4, 6, 1}}, {"Multiply", {1, 4, 9, 0.25f}}};
    for (size_t i = 0; i < 2; i++) {
        json_t *j = json_loads(op_model(ok[i].cls, "{\"name\": \"op\"}", tensor_arg), 0, NULL);
        kc_object *m;
        CK_OK(kc_deserialize(KC_KIND_MODEL, j, NULL, &m, &err));
        kc_tensor *x = tu_tensor(2, D(1, 4), F(1, -2, 3, 0.5f));
        kc_tensor *y = kc_layer_call1(m, x, false, &err);
        CK_NN(y, err);
        tu_assert_close(y, 2, D(1, 4), ok[i].want, 0, 0, ok[i].cls);
        kc_tensor_unref(x), kc_tensor_unref(y);
        kc_object_unref(m);
        json_decref(j);
    }
    /* x * 0.5 and keras.ops.max(x): refused, naming the operation */
    static const char *const bad[][3] = {
        {"Multiply", "{\"name\": \"op\"}", ", 0.5"},
        {"Max", "{\"axis\": null, \"keepdims\": false, \"initial\": null}", ""},
        {"Concatenate", "{\"axis\": 0}", tensor_arg}, /* ops.concatenate: axis 0, the layer's -1 */
    };
    for (size_t i = 0; i < 3; i++) {
        json_t *j = json_loads(op_model(bad[i][0], bad[i][1], bad[i][2]), 0, NULL);
        kc_object *m = NULL;
        kc_error_clear(&err);
        ck_assert_int_eq(kc_deserialize(KC_KIND_MODEL, j, NULL, &m, &err), KC_ENOTFOUND);
        ck_assert_ptr_null(m);
        CK_ERR(err, KC_ENOTFOUND, "Keras 3 operation");
        ck_assert_msg(strstr(err.message, bad[i][0]) && strstr(err.message, "keras.src.ops.numpy"), "%s",
                      err.message);
        ck_assert_msg(strstr(err.context, "layers[1]") != NULL, "context: %s", err.context);
        json_decref(j);
    }
    /* tf.keras 2's form of the same: TFOpLambda, refused with its reason */
    json_t *j = json_loads(
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"model\", \"layers\": [{\"class_name\": "
        "\"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4], \"name\": \"input_1\"}, \"name\": "
        "\"input_1\", \"inbound_nodes\": []}, {\"class_name\": \"TFOpLambda\", \"config\": {\"name\": "
        "\"tf.math.multiply\", \"function\": \"math.multiply\"}, \"name\": \"tf.math.multiply\", "
        "\"inbound_nodes\": [[\"input_1\", 0, 0, {\"y\": 0.5, \"name\": null}]]}], \"input_layers\": "
        "[[\"input_1\", 0, 0]], \"output_layers\": [[\"tf.math.multiply\", 0, 0]]}}",
        0, NULL);
    kc_object *m = NULL;
    kc_error_clear(&err);
    ck_assert_int_eq(kc_deserialize(KC_KIND_MODEL, j, NULL, &m, &err), KC_ENOTFOUND);
    CK_ERR(err, KC_ENOTFOUND, "'TFOpLambda' is not supported by ckeras: tf.keras recorded a TensorFlow function");
    json_decref(j);
}
END_TEST

START_TEST(sequential_add_reports_shape_errors_and_pop_works)
{
    kc_object *m = mlp();
    kc_object *bad = kc_input_layer(1, D(2), NULL, &err);
    ck_assert_int_eq(kc_sequential_add(m, bad, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "first layer");
    kc_error_clear(&err);
    CK_OK(kc_sequential_pop(m, &err));
    ck_assert_int_eq(kc_model_num_layers(m), 1);
    kc_shape os = kc_model_output_shape(m, 0);
    ck_assert_int_eq(os.dims[1], 8);
    CK_OK(kc_sequential_pop(m, &err));
    ck_assert_int_eq(kc_sequential_pop(m, &err), KC_ESTATE);
    kc_object_unref(bad);
    kc_object_unref(m);
}
END_TEST

START_TEST(functional_shared_layer_nested_model_two_outputs)
{
    kc_symbol *a = kc_input(1, D(4), "in_a", &err), *b = kc_input(1, D(4), "in_b", &err);
    kc_object *shared = dense("{\"units\": 3, \"name\": \"shared\"}");
    kc_symbol *sa = kc_apply(shared, &a, 1, &err), *sb = kc_apply(shared, &b, 1, &err);
    /* nested: a small Sequential applied to the shared output */
    kc_object *inner = kc_sequential_new("inner", &err);
    kc_object *il = kc_input_layer(1, D(3), NULL, &err);
    CK_OK(kc_sequential_add(inner, il, &err));
    kc_object *d2 = dense("{\"units\": 2, \"activation\": \"tanh\"}");
    CK_OK(kc_sequential_add(inner, d2, &err));
    kc_symbol *oa = kc_apply(inner, &sa, 1, &err);
    kc_symbol *ob = kc_apply(d2, &sb, 1, &err); /* d2 shared too: inside inner and directly */
    CK_NN(oa, err);
    CK_NN(ob, err);
    kc_symbol *ins[2] = {a, b}, *outs[2] = {oa, ob};
    kc_object *m = kc_functional_new(ins, 2, outs, 2, NULL, &err);
    CK_NN(m, err);
    ck_assert_str_eq(kc_layer_name(m), "model");
    ck_assert_int_eq(kc_model_num_inputs(m), 2);
    ck_assert_int_eq(kc_model_num_outputs(m), 2);
    /* model.layers: inputs, shared, inner, dense */
    ck_assert_int_eq(kc_model_num_layers(m), 5);
    kc_tensor *xa = tu_random(2, D(5, 4), -1, 1, 1), *xb = tu_random(2, D(5, 4), -1, 1, 2);
    kc_tensor *xs[2] = {xa, xb}, *ys[4];
    int n = 0;
    CK_OK(kc_layer_call(m, xs, 2, NULL, false, ys, NULL, &n, &err));
    ck_assert_int_eq(n, 2);
    /* by hand */
    kc_tensor *ha = kc_layer_call1(shared, xa, false, &err), *want_a = kc_layer_call1(inner, ha, false, &err);
    kc_tensor *hb = kc_layer_call1(shared, xb, false, &err), *want_b = kc_layer_call1(d2, hb, false, &err);
    tu_assert_tensors_close(ys[0], want_a, 0, 0, "output a");
    tu_assert_tensors_close(ys[1], want_b, 0, 0, "output b");
    /* config round trip */
    json_t *cfg;
    CK_OK(kc_serialize(m, &cfg, &err));
    kc_object *m2;
    CK_OK(kc_deserialize(KC_KIND_MODEL, cfg, NULL, &m2, &err));
    json_t *cfg2;
    CK_OK(kc_serialize(m2, &cfg2, &err));
    char *t1 = kc_json_dump(cfg, &err), *t2 = kc_json_dump(cfg2, &err);
    ck_assert_str_eq(t1, t2);
    /* as in Keras, a layer shared between a nested model and the outer graph
     * is two layers after a config round trip: 3 layers with weights */
    ck_assert_int_eq(kc_layer_num_weights(m2), 6);
    kc_json_free(t1), kc_json_free(t2);
    json_decref(cfg), json_decref(cfg2);
    kc_tensor_unref(ys[0]), kc_tensor_unref(ys[1]);
    kc_tensor_unref(ha), kc_tensor_unref(hb), kc_tensor_unref(want_a), kc_tensor_unref(want_b);
    kc_tensor_unref(xa), kc_tensor_unref(xb);
    kc_symbol_unref(a), kc_symbol_unref(b), kc_symbol_unref(sa), kc_symbol_unref(sb);
    kc_symbol_unref(oa), kc_symbol_unref(ob);
    kc_object_unref(shared), kc_object_unref(inner), kc_object_unref(il), kc_object_unref(d2);
    kc_object_unref(m), kc_object_unref(m2);
}
END_TEST

START_TEST(graph_disconnected_is_an_error)
{
    kc_symbol *a = kc_input(1, D(2), NULL, &err), *b = kc_input(1, D(2), NULL, &err);
    kc_object *d = dense("{\"units\": 1}");
    kc_symbol *o = kc_apply(d, &b, 1, &err);
    ck_assert_ptr_null(kc_functional_new(&a, 1, &o, 1, NULL, &err));
    CK_ERR(err, KC_EINVAL, "Graph disconnected");
    CK_ERR(err, KC_EINVAL, "input_2");
    kc_symbol_unref(a), kc_symbol_unref(b), kc_symbol_unref(o);
    kc_object_unref(d);
}
END_TEST

START_TEST(summary_matches_keras)
{
    kc_object *m = kc_sequential_new(NULL, &err);
    kc_object *in = kc_input_layer(1, D(8), NULL, &err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object *a = dense("{\"units\": 4, \"activation\": \"relu\"}"), *b = dense("{\"units\": 1}");
    CK_OK(kc_sequential_add(m, a, &err));
    CK_OK(kc_sequential_add(m, b, &err));
    char *s = kc_model_summary(m, &err);
    CK_NN(s, err);
    /* tf.keras 2.15 prints, for this model: */
    const char *want =
        "Model: \"sequential\"\n"
        "_________________________________________________________________\n"
        " Layer (type)                Output Shape              Param #   \n"
        "=================================================================\n"
        " dense (Dense)               (None, 4)                 36        \n"
        "                                                                 \n"
        " dense_1 (Dense)             (None, 1)                 5         \n"
        "                                                                 \n"
        "=================================================================\n"
        "Total params: 41 (164.00 Byte)\n"
        "Trainable params: 41 (164.00 Byte)\n"
        "Non-trainable params: 0 (0.00 Byte)\n"
        "_________________________________________________________________\n";
    ck_assert_str_eq(s, want);
    kc_string_free(s);
    kc_object_unref(in), kc_object_unref(a), kc_object_unref(b), kc_object_unref(m);
}
END_TEST

/* A failing call inside a Sequential must not release the caller's
 * (uninitialized) output-mask slots: regression for a crash. */
START_TEST(failing_masked_call_leaves_out_masks_clean)
{
    kc_object *m = kc_sequential_new(NULL, &err);
    CK_NN(m, err);
    kc_object *in = kc_input_layer(1, (int64_t[]){3}, NULL, &err);
    CK_NN(in, err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object_unref(in);
    kc_object *sm = kc_layer_create("Softmax", NULL, &err);
    CK_NN(sm, err);
    CK_OK(kc_sequential_add(m, sm, &err));
    kc_object_unref(sm);
    kc_tensor *x = tu_random(2, (int64_t[]){2, 3}, -1, 1, 1);
    kc_tensor *mask = kc_tensor_ones(KC_FLOAT32, 2, (int64_t[]){2, 2}, &err);
    kc_tensor *out[KC_MAX_LAYER_OUTPUTS], *omask[KC_MAX_LAYER_OUTPUTS];
    memset(omask, 0xA5, sizeof omask); /* garbage, as a caller's stack would hold */
    int n = 0;
    ck_assert_int_ne(kc_layer_call(m, &x, 1, &mask, false, out, omask, &n, &err), KC_OK);
    ck_assert_int_eq(n, 0);
    kc_tensor_unref(x);
    kc_tensor_unref(mask);
    kc_object_unref(m);
}
END_TEST

/* ---- reading Functional configs: errors, and cost in the number of layers ------------------ */

/* A Functional config from layer entries written as
 * "name:Class:inbound_nodes JSON" (InputLayers take no nodes). */
static kc_object *functional_from(const char *const *entries, int n, const char *outputs, kc_error *e)
{
    json_t *layers = json_array();
    for (int i = 0; i < n; i++) {
        char name[64], cls[64];
        const char *rest = strchr(strchr(entries[i], ':') + 1, ':') + 1;
        sscanf(entries[i], "%63[^:]:%63[^:]", name, cls);
        json_t *cfg = strcmp(cls, "InputLayer") == 0 ? json_pack("{s:[ni]}", "batch_input_shape", 2)
                      : strcmp(cls, "Dense") == 0    ? json_pack("{s:i}", "units", 2)
                                                     : json_object();
        json_object_set_new(cfg, "name", json_string(name));
        json_error_t je;
        json_t *nodes = json_loads(rest, 0, &je);
        ck_assert_msg(nodes != NULL, "%s: %s", rest, je.text);
        json_array_append_new(layers, json_pack("{s:s,s:o,s:s,s:o}", "class_name", cls, "config", cfg,
                                                "name", name, "inbound_nodes", nodes));
    }
    json_error_t je;
    json_t *outs = json_loads(outputs, 0, &je);
    json_t *spec = json_pack("{s:s,s:{s:s,s:o,s:[[sii]],s:o}}", "class_name", "Functional", "config", "name",
                             "m", "layers", layers, "input_layers", "in", 0, 0, "output_layers", outs);
    kc_object *m = NULL;
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "model_config", NULL);
    kc_status rc = kc_deserialize(KC_KIND_MODEL, spec, &ctx, &m, e);
    json_decref(spec);
    ck_assert(rc == KC_OK || m == NULL);
    return m;
}

static void expect_config_error(const char *const *entries, int n, const char *outputs, const char *what,
                                const char *path)
{
    kc_error e = {0};
    kc_clear_session();
    kc_object *m = functional_from(entries, n, outputs, &e);
    ck_assert_msg(m == NULL, "%s: the config was accepted", what);
    CK_ERR(e, KC_EFORMAT, what);
    ck_assert_msg(strstr(e.context, path), "%s: context '%s' lacks '%s'", what, e.context, path);
}

/* Four mistakes that all used to read "its input tensors are never
 * produced by the model", each now named, at the JSON path of the
 * reference or node. */
START_TEST(functional_config_errors_are_distinct)
{
    const char *missing[] = {"in:InputLayer:[]", "a:Dense:[[[\"in\", 0, 0, {}]]]",
                             "b:Dense:[[[\"a\", 0, 0, {}], [\"nowhere\", 0, 0, {}]]]"};
    expect_config_error(missing, 3, "[[\"b\", 0, 0]]", "layer 'nowhere' is not in the model",
                        "model_config.config.layers[2].inbound_nodes[0][1]");
    const char *missing_out[] = {"in:InputLayer:[]", "a:Dense:[[[\"in\", 0, 0, {}]]]"};
    expect_config_error(missing_out, 2, "[[\"z\", 0, 0]]", "layer 'z' is not in the model",
                        "model_config.config.output_layers[0]");
    const char *cycle[] = {"in:InputLayer:[]", "a:Dense:[[[\"c\", 0, 0, {}]]]", "b:Dense:[[[\"a\", 0, 0, {}]]]",
                           "c:Dense:[[[\"b\", 0, 0, {}]]]", "d:Dense:[[[\"in\", 0, 0, {}]]]"};
    expect_config_error(cycle, 5, "[[\"d\", 0, 0]]", "cycle: 'a'[0] -> 'b'[0] -> 'c'[0] -> 'a'[0]",
                        "model_config.config.layers[1].inbound_nodes[0]");
    /* a shared layer's second call reading its first is fine; reading itself is not */
    const char *self[] = {"in:InputLayer:[]", "a:Dense:[[[\"in\", 0, 0, {}]], [[\"a\", 1, 0, {}]]]"};
    expect_config_error(self, 2, "[[\"a\", 1, 0]]", "call 1 of layer 'a' takes its own output",
                        "model_config.config.layers[1].inbound_nodes[1][0]");
    const char *later[] = {"in:InputLayer:[]", "a:Dense:[[[\"a\", 1, 0, {}]], [[\"in\", 0, 0, {}]]]"};
    expect_config_error(later, 2, "[[\"a\", 0, 0]]", "cycle", "model_config.config.layers[1].inbound_nodes[");
    const char *range[] = {"in:InputLayer:[]", "a:Dense:[[[\"in\", 0, 0, {}]]]", "b:Dense:[[[\"a\", 3, 0, {}]]]"};
    expect_config_error(range, 3, "[[\"b\", 0, 0]]", "node index 3 is out of range: layer 'a' has nodes 0 to 0",
                        "model_config.config.layers[2].inbound_nodes[0][0]");
    const char *never[] = {"in:InputLayer:[]", "a:Dense:[]", "b:Dense:[[[\"a\", 0, 0, {}]]]"};
    expect_config_error(never, 3, "[[\"b\", 0, 0]]", "layer 'a' is never called",
                        "model_config.config.layers[2].inbound_nodes[0][0]");
    const char *tensor[] = {"in:InputLayer:[]", "a:Dense:[[[\"in\", 0, 0, {}]]]", "b:Dense:[[[\"a\", 0, 2, {}]]]"};
    expect_config_error(tensor, 3, "[[\"b\", 0, 0]]", "tensor index 2 is out of range: call 0 of layer 'a' has 1 output",
                        "model_config.config.layers[2].inbound_nodes[0][0]");
    const char *empty[] = {"in:InputLayer:[]", "a:Dense:[[]]"};
    expect_config_error(empty, 2, "[[\"a\", 0, 0]]", "without input tensors", "model_config.config.layers[1].inbound_nodes[0]");
    /* and the good cases read: listed out of order, a shared layer called twice in a row */
    const char *good[] = {"b:Dense:[[[\"a\", 1, 0, {}]]]", "a:Dense:[[[\"in\", 0, 0, {}]], [[\"a\", 0, 0, {}]]]",
                          "in:InputLayer:[]"};
    kc_error e = {0};
    kc_object *m = functional_from(good, 3, "[[\"b\", 0, 0]]", &e);
    CK_NN(m, e);
    ck_assert_int_eq(kc_model_num_layers(m), 3);
    ck_assert_str_eq(kc_layer_name(kc_model_layer(m, 1)), "a");
    kc_object_unref(m);
}
END_TEST

/* Generated configs: a chain of n Dense layers (listed in order or
 * reversed, which Keras' replay loop needs n sweeps for) and a wide graph
 * (n/2 Dense layers on the input, summed by a binary tree of Adds, listed
 * in a shuffled order). */
static char *chain_config(int n, bool reversed)
{
    json_t *layers = json_array(), *body = json_array();
    json_array_append_new(layers, json_pack("{s:s,s:{s:s,s:[ni]},s:s,s:[]}", "class_name", "InputLayer", "config",
                                            "name", "in", "batch_input_shape", 2, "name", "in", "inbound_nodes"));
    char name[32], prev[32] = "in";
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "d%d", i);
        json_array_append_new(body, json_pack("{s:s,s:{s:s,s:i},s:s,s:[[[sii{}]]]}", "class_name", "Dense", "config",
                                              "name", name, "units", 2, "name", name, "inbound_nodes", prev, 0, 0));
        snprintf(prev, sizeof prev, "%s", name);
    }
    for (int i = 0; i < n; i++) json_array_append(layers, json_array_get(body, reversed ? (size_t)(n - 1 - i) : (size_t)i));
    json_decref(body);
    json_t *spec = json_pack("{s:s,s:{s:s,s:o,s:[[sii]],s:[[sii]]}}", "class_name", "Functional", "config", "name",
                             "chain", "layers", layers, "input_layers", "in", 0, 0, "output_layers", prev, 0, 0);
    char *text = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    return text;
}

static char *wide_config(int n)
{
    int leaves = n / 2, made = 0, head = 0;
    char (*names)[16] = calloc((size_t)n + 2, sizeof *names);
    json_t *body = json_array();
    for (; made < leaves; made++) {
        snprintf(names[made], sizeof names[made], "l%d", made);
        json_array_append_new(body, json_pack("{s:s,s:{s:s,s:i},s:s,s:[[[sii{}]]]}", "class_name", "Dense", "config",
                                              "name", names[made], "units", 2, "name", names[made], "inbound_nodes",
                                              "in", 0, 0));
    }
    for (int a = 0; made - head > 1; a++, head += 2, made++) {
        snprintf(names[made], sizeof names[made], "a%d", a);
        json_array_append_new(body, json_pack("{s:s,s:{s:s},s:s,s:[[[sii{}],[sii{}]]]}", "class_name", "Add", "config",
                                              "name", names[made], "name", names[made], "inbound_nodes", names[head],
                                              0, 0, names[head + 1], 0, 0));
    }
    uint64_t seed = 12345;
    for (size_t i = json_array_size(body) - 1; i > 0; i--) { /* Fisher-Yates */
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t j = (size_t)(seed >> 33) % (i + 1);
        json_t *x = json_incref(json_array_get(body, i)), *y = json_incref(json_array_get(body, j));
        json_array_set_new(body, i, y);
        json_array_set_new(body, j, x);
    }
    json_t *layers = json_pack("[{s:s,s:{s:s,s:[ni]},s:s,s:[]}]", "class_name", "InputLayer", "config", "name", "in",
                               "batch_input_shape", 2, "name", "in", "inbound_nodes");
    json_array_extend(layers, body);
    json_decref(body);
    json_t *spec = json_pack("{s:s,s:{s:s,s:o,s:[[sii]],s:[[sii]]}}", "class_name", "Functional", "config", "name",
                             "wide", "layers", layers, "input_layers", "in", 0, 0, "output_layers", names[head], 0, 0);
    free(names);
    char *text = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    return text;
}

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The model's weight lists, recomputed (kc_layer_set_trainable changes
 * what they hold, so the cached lists go) ten times, as a multiple of ten
 * walks over the same layers and weights without the lists: both touch the
 * same memory, so the ratio is free of the cache effects that make pointer
 * walks over 10,000 layers more than 10 times slower than over 1,000. */
static double weight_lists_per_walk(kc_object *m)
{
    double t0 = cpu_seconds();
    for (int i = 0; i < 10; i++) kc_layer_set_trainable(m, i % 2 == 0);
    double walk = cpu_seconds() - t0;
    int n = 0;
    t0 = cpu_seconds();
    for (int i = 0; i < 10; i++) {
        kc_layer_set_trainable(m, i % 2 == 0);
        n += kc_layer_num_weights(m);
    }
    double lists = cpu_seconds() - t0;
    kc_layer_set_trainable(m, true);
    ck_assert_int_gt(n, 0);
    return lists / (walk > 1e-6 ? walk : 1e-6);
}

/* Config -> model, then what users do next: summary, config, weights. The
 * model is handed back (*keep) so that small ones can stay alive. */
static double time_config_to_model(const char *text, int want_layers, double *lists, kc_object **keep)
{
    double t0 = cpu_seconds();
    kc_object *m = kc_object_create(KC_KIND_MODEL, text, &err);
    CK_NN(m, err);
    char *summary = kc_model_summary(m, &err);
    CK_NN(summary, err);
    json_t *cfg = NULL;
    CK_OK(kc_serialize(m, &cfg, &err));
    int n_weights = kc_layer_num_weights(m);
    double t = cpu_seconds() - t0;
    ck_assert_int_eq(kc_model_num_layers(m), want_layers);
    ck_assert_int_gt(n_weights, 0);
    if (lists) *lists = weight_lists_per_walk(m);
    kc_string_free(summary);
    json_decref(cfg);
    *keep = m;
    return t;
}

static double time_sequential(int n, kc_object **keep)
{
    double t0 = cpu_seconds();
    kc_object *m = kc_sequential_new("s", &err);
    kc_object *in = kc_input_layer(1, D(2), "s_in", &err);
    CK_OK(kc_sequential_add(m, in, &err));
    for (int i = 0; i < n; i++) {
        kc_object *d = dense("{\"units\": 2}");
        CK_OK(kc_sequential_add(m, d, &err));
        kc_object_unref(d);
    }
    char *summary = kc_model_summary(m, &err);
    CK_NN(summary, err);
    double t = cpu_seconds() - t0;
    kc_string_free(summary);
    kc_object_unref(in);
    *keep = m;
    return t;
}

/* Reading a Functional config was cubic in the layers (a chain of 1,000
 * took 2 s, of 5,000 minutes); every step is now linear or n log n, so 10
 * times the layers may cost at most 20 times the CPU time (a quadratic step
 * gives 100). Process CPU time, which other processes do not inflate. The
 * time of 1,000 layers is that of ten such models made one after another
 * and kept alive, a tenth each: the memory they fill is then the big
 * model's, so caches do not favour the small size (alone, a 1,000-layer
 * model stays in cache and the ratio swung from 10 to 19). Each size's
 * best of two runs counts (one under ASan). Measured: 6-13. */
#if defined(__SANITIZE_ADDRESS__)
#define RUNS 1 /* ASan: 4 times slower, and CPU time is steady enough */
#else
#define RUNS 2
#endif

START_TEST(config_to_model_time_is_linear_in_layers)
{
    enum { SMALL = 1000, BIG = 10000, COPIES = BIG / SMALL };
    const char *names[5] = {"chain", "reversed chain", "wide shuffled graph", "weight lists (chain)",
                            "Sequential adds"};
    double lists[2] = {1e30, 1e30};
    for (int k = 0; k < 5; k++) {
        double best[2] = {1e30, 1e30};
        for (int size = 0; size < 2 && k != 3; size++) {
            int n = size ? BIG : SMALL, copies = size ? 1 : COPIES;
            char *text = k == 0 ? chain_config(n, false) : k == 1 ? chain_config(n, true) : k == 2 ? wide_config(n) : NULL;
            int layers = k == 2 ? n / 2 + (n / 2 - 1) + 1 : n + 1;
            for (int run = 0; run < RUNS; run++) {
                kc_object *keep[COPIES];
                double t = 0, tl = 1e30;
                kc_clear_session();
                for (int c = 0; c < copies; c++) {
                    double *want_lists = k == 0 && c == 0 ? &tl : NULL;
                    t += text ? time_config_to_model(text, layers, want_lists, &keep[c]) : time_sequential(n, &keep[c]);
                }
                for (int c = 0; c < copies; c++) kc_object_unref(keep[c]);
                t /= copies;
                if (t < best[size]) best[size] = t;
                if (k == 0 && tl < lists[size]) lists[size] = tl;
            }
            free(text);
        }
        if (k == 3) { /* the chain's weight lists, relative to walks over its layers */
            printf("%s: %d layers %.1f walks, %d layers %.1f walks\n", names[k], SMALL, lists[0], BIG, lists[1]);
            ck_assert_msg(lists[1] <= 20, "weight lists of %d layers cost %.1f walks over them (O(n^2)?)", BIG,
                          lists[1]);
            continue;
        }
        double ratio = best[1] / (best[0] > 1e-4 ? best[0] : 1e-4);
        printf("%s: %d layers %.3f s, %d layers %.3f s CPU: ratio %.1f\n", names[k], SMALL, best[0], BIG,
               best[1], ratio);
        ck_assert_msg(ratio <= 20, "%s: %d layers took %.1f times the CPU time of %d (%.3f s, %.3f s)", names[k],
                      BIG, ratio, SMALL, best[1], best[0]);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("models");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, layers_get_keras_names);
    tcase_add_test(tc, fixed_batch_input_accepts_other_batch_sizes);
    tcase_add_test(tc, keras3_operation_nodes_are_layers_only_when_equal);
    tcase_add_test(tc, dense_forward_matches_hand_values_and_checks_shapes);
    tcase_add_test(tc, bad_dense_configs_are_named_errors);
    tcase_add_test(tc, sequential_builds_predicts_and_round_trips);
    tcase_add_test(tc, sequential_add_reports_shape_errors_and_pop_works);
    tcase_add_test(tc, functional_shared_layer_nested_model_two_outputs);
    tcase_add_test(tc, graph_disconnected_is_an_error);
    tcase_add_test(tc, summary_matches_keras);
    tcase_add_test(tc, failing_masked_call_leaves_out_masks_clean);
    tcase_add_test(tc, functional_config_errors_are_distinct);
    suite_add_tcase(s, tc);
    tc = tcase_create("scale");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, config_to_model_time_is_linear_in_layers);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
