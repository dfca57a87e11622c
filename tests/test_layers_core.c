/* Core layer classes: Activation, ReLU, LeakyReLU, ELU, Softmax, PReLU,
 * Dropout, GaussianNoise, GaussianDropout, ActivityRegularization, Flatten,
 * Reshape, Permute, RepeatVector, Add, Subtract, Multiply, Average, Maximum,
 * Minimum, Concatenate, Dot.
 *
 * Forward passes against hand values (Keras docstring examples where there
 * are some), gradients against finite differences, config round trips and
 * tf.keras 2.15 config forms, named errors for bad configs and shapes,
 * masks, automatic names, a Functional model with merge layers, and three
 * models against TensorFlow.js predictions (tests/data/layers/). */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define D(...) ((int64_t[]){__VA_ARGS__})
#define F(...) ((float[]){__VA_ARGS__})

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    kc_clear_session();
    kc_set_random_seed(1);
}

static kc_object *make(const char *cls, const char *cfg)
{
    kc_object *l = kc_layer_create(cls, cfg, &err);
    ck_assert_msg(l != NULL, "%s %s: %s (%s)", cls, cfg ? cfg : "", err.message, err.context);
    return l;
}

/* One call; out[0] (others dropped), its mask in *mask when mask != NULL. */
static kc_tensor *call_ex(kc_object *l, kc_tensor **xs, int n, kc_tensor **masks, bool training,
                          kc_tensor **mask)
{
    kc_tensor *out[KC_MAX_LAYER_OUTPUTS], *om[KC_MAX_LAYER_OUTPUTS] = {0};
    int n_out = 0;
    kc_status rc = kc_layer_call(l, xs, n, masks, training, out, mask ? om : NULL, &n_out, &err);
    ck_assert_msg(rc == KC_OK, "%s: %s (%s)", kc_layer_name(l), err.message, err.context);
    for (int i = 1; i < n_out; i++) {
        kc_tensor_unref(out[i]);
        if (mask) kc_tensor_unref(om[i]);
    }
    if (mask) *mask = om[0];
    return out[0];
}

static kc_tensor *call1(kc_object *l, kc_tensor *x, bool training)
{
    return call_ex(l, &x, 1, NULL, training, NULL);
}

/* Layer `cls` from `cfg` on x: the output must equal want (shape dims). */
static void check_forward(const char *cls, const char *cfg, kc_tensor *x, int ndim,
                          const int64_t *dims, const float *want)
{
    kc_object *l = make(cls, cfg);
    kc_tensor *y = call1(l, x, false);
    char what[256];
    snprintf(what, sizeof(what), "%s %s", cls, cfg ? cfg : "");
    tu_assert_close(y, ndim, dims, want, 1e-6, 1e-7, what);
    kc_tensor_unref(y);
    kc_object_unref(l);
}

/* The same for a layer of several inputs. */
static void check_merge(const char *cls, const char *cfg, kc_tensor **xs, int n, int ndim,
                        const int64_t *dims, const float *want)
{
    kc_object *l = make(cls, cfg);
    kc_tensor *y = call_ex(l, xs, n, NULL, false, NULL);
    char what[256];
    snprintf(what, sizeof(what), "%s %s", cls, cfg ? cfg : "");
    tu_assert_close(y, ndim, dims, want, 1e-6, 1e-7, what);
    kc_tensor_unref(y);
    kc_object_unref(l);
}

/* ---- names ----------------------------------------------------------------------------- */

/* Keras' activation layers given as a layer's activation (Conv2D(activation=LeakyReLU(0.2))),
 * in tf.keras 2's and Keras 3's config forms: the layer's numerics, and the same config back. */
START_TEST(activation_layers_as_activations)
{
    static const char *const cases[][2] = {
        {"{\"class_name\": \"LeakyReLU\", \"config\": {\"name\": \"leaky_re_lu\", \"trainable\": true, "
         "\"dtype\": \"float32\", \"alpha\": 0.2}}", "LeakyReLU"},
        {"{\"module\": \"keras.layers\", \"class_name\": \"LeakyReLU\", \"config\": {\"name\": \"leaky_re_lu_1\", "
         "\"trainable\": true, \"dtype\": \"float32\", \"negative_slope\": 0.1}, \"registered_name\": null, "
         "\"build_config\": {\"input_shape\": [8, 5]}}", "LeakyReLU"},
        {"{\"class_name\": \"ReLU\", \"config\": {\"max_value\": 0.5, \"negative_slope\": 0.1, \"threshold\": 0.2}}",
         "ReLU"},
        {"{\"class_name\": \"ELU\", \"config\": {\"alpha\": 0.5}}", "ELU"},
        {"{\"class_name\": \"Softmax\", \"config\": {\"axis\": -1}}", "Softmax"},
    };
    kc_tensor *x = tu_tensor(2, D(2, 3), F(0.3f, -0.7f, 1.1f, -2.0f, 0.05f, 0.9f));
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *spec = json_loads(cases[i][0], 0, NULL);
        /* Dense(5, activation=<the layer>) against Dense(5) then the layer */
        json_t *dcfg = json_pack("{s:i, s:O, s:s}", "units", 5, "activation", spec, "kernel_initializer", "ones");
        char *dtext = json_dumps(dcfg, 0);
        kc_object *d = make("Dense", dtext);
        kc_object *plain = make("Dense", "{\"units\": 5, \"kernel_initializer\": \"ones\"}");
        char *atext = json_dumps(json_object_get(spec, "config"), 0);
        kc_object *act = make(cases[i][1], atext);
        free(atext);
        kc_tensor *y = kc_layer_call1(d, x, false, &err);
        CK_NN(y, err);
        kc_tensor *z0 = kc_layer_call1(plain, x, false, &err);
        kc_tensor *z = kc_layer_call1(act, z0, false, &err);
        CK_NN(z, err);
        tu_assert_tensors_close(y, z, 0, 0, cases[i][1]);
        /* the activation's config is the layer's: saved and read back the same */
        json_t *c1, *c2;
        CK_OK(kc_object_get_config(d, &c1, &err));
        const json_t *a1 = json_object_get(c1, "activation");
        ck_assert_str_eq(json_string_value(json_object_get(a1, "class_name")), cases[i][1]);
        char *c1text = json_dumps(c1, 0);
        kc_object *d2 = make("Dense", c1text);
        free(c1text);
        CK_OK(kc_object_get_config(d2, &c2, &err));
        ck_assert_msg(json_equal(c1, c2), "%s: config changed in a round trip", cases[i][0]);
        json_decref(c1), json_decref(c2), json_decref(dcfg), json_decref(spec);
        free(dtext);
        kc_tensor_unref(y), kc_tensor_unref(z0), kc_tensor_unref(z);
        kc_object_unref(d), kc_object_unref(d2), kc_object_unref(plain), kc_object_unref(act);
    }
    /* a bad config is the layer's named error */
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_layer_create("Dense", "{\"units\": 2, \"activation\": {\"class_name\": \"LeakyReLU\", "
                                                "\"config\": {\"alpha\": -1}}}", &err));
    ck_assert_int_ne(err.code, KC_OK);
    ck_assert_msg(strstr(err.context, "activation") != NULL, "context: %s", err.context);
    kc_tensor_unref(x);
}
END_TEST

START_TEST(core_layers_get_keras_names)
{
    static const char *const cases[][3] = {
        {"Activation", "{\"activation\": \"relu\"}", "activation"},
        {"ReLU", NULL, "re_lu"},
        {"ReLU", NULL, "re_lu_1"},
        {"LeakyReLU", NULL, "leaky_re_lu"},
        {"ELU", NULL, "elu"},
        {"Softmax", NULL, "softmax"},
        {"PReLU", NULL, "p_re_lu"},
        {"Dropout", "{\"rate\": 0.5}", "dropout"},
        {"GaussianNoise", "{\"stddev\": 0.1}", "gaussian_noise"},
        {"GaussianDropout", "{\"rate\": 0.1}", "gaussian_dropout"},
        {"ActivityRegularization", NULL, "activity_regularization"},
        {"Flatten", NULL, "flatten"},
        {"Reshape", "{\"target_shape\": [2]}", "reshape"},
        {"Permute", "{\"dims\": [1]}", "permute"},
        {"RepeatVector", "{\"n\": 2}", "repeat_vector"},
        {"Add", NULL, "add"},
        {"Subtract", NULL, "subtract"},
        {"Multiply", NULL, "multiply"},
        {"Average", NULL, "average"},
        {"Maximum", NULL, "maximum"},
        {"Minimum", NULL, "minimum"},
        {"Concatenate", NULL, "concatenate"},
        {"Dot", "{\"axes\": 1}", "dot"},
        {"Dot", "{\"axes\": 1}", "dot_1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_object *l = make(cases[i][0], cases[i][1]);
        ck_assert_str_eq(kc_layer_name(l), cases[i][2]);
        kc_object_unref(l);
    }
}
END_TEST

/* ---- configs ---------------------------------------------------------------------------- */

/* Layer configs that must come back unchanged through config -> object ->
 * config, including every class's non-default forms. */
static const char *const round_trips[][2] = {
    {"Activation",
     "{\"name\": \"a\", \"trainable\": true, \"dtype\": \"float32\", \"activation\": \"tanh\"}"},
    {"ReLU", "{\"name\": \"r\", \"trainable\": true, \"dtype\": \"float32\", \"max_value\": 6.0, "
             "\"negative_slope\": 0.5, \"threshold\": 1.5}"},
    {"ReLU", "{\"name\": \"r\", \"trainable\": false, \"dtype\": \"float32\", \"max_value\": null, "
             "\"negative_slope\": 0.0, \"threshold\": 0.0}"},
    {"LeakyReLU", "{\"name\": \"l\", \"trainable\": true, \"dtype\": \"float32\", \"alpha\": 0.1}"},
    {"ELU", "{\"name\": \"e\", \"trainable\": true, \"dtype\": \"float32\", \"alpha\": -0.5}"},
    {"Softmax", "{\"name\": \"s\", \"trainable\": true, \"dtype\": \"float32\", \"axis\": 1}"},
    {"Softmax", "{\"name\": \"s\", \"trainable\": true, \"dtype\": \"float32\", \"axis\": [1, 2]}"},
    {"PReLU",
     "{\"name\": \"p\", \"trainable\": true, \"dtype\": \"float32\", "
     "\"alpha_initializer\": {\"class_name\": \"Constant\", \"config\": {\"value\": 0.25}}, "
     "\"alpha_regularizer\": {\"class_name\": \"L2\", \"config\": {\"l2\": 0.01}}, "
     "\"alpha_constraint\": {\"class_name\": \"NonNeg\", \"config\": {}}, \"shared_axes\": [1, "
     "2]}"},
    {"Dropout", "{\"name\": \"d\", \"trainable\": true, \"dtype\": \"float32\", \"rate\": 0.25, "
                "\"noise_shape\": [null, 1, 4], \"seed\": 42}"},
    {"GaussianNoise", "{\"name\": \"g\", \"trainable\": true, \"dtype\": \"float32\", \"stddev\": "
                      "0.5, \"seed\": null}"},
    {"GaussianDropout",
     "{\"name\": \"g\", \"trainable\": true, \"dtype\": \"float32\", \"rate\": 0.3, \"seed\": 7}"},
    {"ActivityRegularization", "{\"name\": \"ar\", \"trainable\": true, \"dtype\": \"float32\", "
                               "\"l1\": 0.01, \"l2\": 0.002}"},
    {"Flatten", "{\"name\": \"f\", \"trainable\": true, \"dtype\": \"float32\", \"data_format\": "
                "\"channels_first\"}"},
    {"Reshape", "{\"name\": \"r\", \"trainable\": true, \"dtype\": \"float32\", \"target_shape\": "
                "[3, -1, 2]}"},
    {"Permute",
     "{\"name\": \"p\", \"trainable\": true, \"dtype\": \"float32\", \"dims\": [3, 1, 2]}"},
    {"RepeatVector", "{\"name\": \"r\", \"trainable\": true, \"dtype\": \"float32\", \"n\": 4}"},
    {"Add", "{\"name\": \"m\", \"trainable\": true, \"dtype\": \"float32\"}"},
    {"Subtract", "{\"name\": \"m\", \"trainable\": true, \"dtype\": \"float32\"}"},
    {"Multiply", "{\"name\": \"m\", \"trainable\": true, \"dtype\": \"float32\"}"},
    {"Average", "{\"name\": \"m\", \"trainable\": true, \"dtype\": \"float32\"}"},
    {"Maximum", "{\"name\": \"m\", \"trainable\": true, \"dtype\": \"float32\"}"},
    {"Minimum", "{\"name\": \"m\", \"trainable\": true, \"dtype\": \"float32\"}"},
    {"Concatenate", "{\"name\": \"c\", \"trainable\": true, \"dtype\": \"float32\", \"axis\": 1}"},
    {"Dot", "{\"name\": \"d\", \"trainable\": true, \"dtype\": \"float32\", \"axes\": [2, 1], "
            "\"normalize\": true}"},
    {"Dot", "{\"name\": \"d\", \"trainable\": true, \"dtype\": \"float32\", \"axes\": -1, "
            "\"normalize\": false}"},
    {"Dropout",
     "{\"name\": \"d\", \"trainable\": true, \"dtype\": \"float32\", \"batch_input_shape\": [null, "
     "3], \"rate\": 0.5, \"noise_shape\": null, \"seed\": null}"},
};

START_TEST(configs_round_trip_for_every_class)
{
    for (size_t i = 0; i < sizeof(round_trips) / sizeof(round_trips[0]); i++) {
        const char *cls = round_trips[i][0], *text = round_trips[i][1];
        json_t *want = kc_json_parse(text, strlen(text), 0, &err);
        CK_NN(want, err);
        kc_object *l = make(cls, text);
        json_t *got;
        CK_OK(kc_object_get_config(l, &got, &err));
        char *t = kc_json_dump(got, &err);
        ck_assert_msg(json_equal(want, got), "%s: %s came back as %s", cls, text, t);
        /* and once more through the serialized form */
        json_t *ser, *got2;
        CK_OK(kc_serialize(l, &ser, &err));
        kc_object *l2;
        CK_OK(kc_deserialize(KC_KIND_LAYER, ser, NULL, &l2, &err));
        CK_OK(kc_object_get_config(l2, &got2, &err));
        ck_assert_msg(json_equal(got, got2), "%s: second round trip differs", cls);
        kc_json_free(t);
        json_decref(want), json_decref(got), json_decref(got2), json_decref(ser);
        kc_object_unref(l), kc_object_unref(l2);
    }
}
END_TEST

/* Defaults are written the way tf.keras 2.15 writes them. */
START_TEST(default_configs_match_tf_keras)
{
    static const char *const cases[][3] = {
        {"ReLU", NULL,
         "{\"name\": \"re_lu\", \"trainable\": true, \"dtype\": \"float32\", \"max_value\": null, "
         "\"negative_slope\": 0.0, \"threshold\": 0.0}"},
        {"LeakyReLU", NULL,
         "{\"name\": \"leaky_re_lu\", \"trainable\": true, \"dtype\": \"float32\", \"alpha\": "
         "0.3}"},
        /* Keras 3's key is read; alpha is written (tf.keras 2, TensorFlow.js) */
        {"LeakyReLU", "{\"name\": \"k3\", \"negative_slope\": 0.2}",
         "{\"name\": \"k3\", \"trainable\": true, \"dtype\": \"float32\", \"alpha\": 0.2}"},
        {"ELU", NULL,
         "{\"name\": \"elu\", \"trainable\": true, \"dtype\": \"float32\", \"alpha\": 1.0}"},
        {"Softmax", NULL,
         "{\"name\": \"softmax\", \"trainable\": true, \"dtype\": \"float32\", \"axis\": -1}"},
        {"PReLU", "{\"shared_axes\": 1}",
         "{\"name\": \"p_re_lu\", \"trainable\": true, \"dtype\": \"float32\", "
         "\"alpha_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, "
         "\"alpha_regularizer\": null, "
         "\"alpha_constraint\": null, \"shared_axes\": [1]}"},
        {"Dropout", "{\"rate\": 0.5}",
         "{\"name\": \"dropout\", \"trainable\": true, \"dtype\": \"float32\", \"rate\": 0.5, "
         "\"noise_shape\": null, \"seed\": null}"},
        {"ActivityRegularization", NULL,
         "{\"name\": \"activity_regularization\", \"trainable\": true, \"dtype\": \"float32\", "
         "\"l1\": 0.0, \"l2\": 0.0}"},
        {"Flatten", "{\"data_format\": null}",
         "{\"name\": \"flatten\", \"trainable\": true, \"dtype\": \"float32\", \"data_format\": "
         "\"channels_last\"}"},
        {"Concatenate", NULL,
         "{\"name\": \"concatenate\", \"trainable\": true, \"dtype\": \"float32\", \"axis\": -1}"},
        {"Dot", "{\"axes\": [1, 1]}",
         "{\"name\": \"dot\", \"trainable\": true, \"dtype\": \"float32\", \"axes\": [1, 1], "
         "\"normalize\": false}"},
        {"Add", NULL, "{\"name\": \"add\", \"trainable\": true, \"dtype\": \"float32\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_object *l = make(cases[i][0], cases[i][1]);
        json_t *got, *want = kc_json_parse(cases[i][2], strlen(cases[i][2]), 0, &err);
        CK_NN(want, err);
        CK_OK(kc_object_get_config(l, &got, &err));
        char *t = kc_json_dump(got, &err);
        ck_assert_msg(json_equal(want, got), "%s: expected %s, got %s", cases[i][0], cases[i][2],
                      t);
        kc_json_free(t);
        json_decref(want), json_decref(got);
        kc_object_unref(l);
    }
}
END_TEST

START_TEST(bad_configs_are_named_errors)
{
    static const struct {
        const char *cls, *cfg;
        kc_status code;
        const char *needle;
    } cases[] = {
        {"Activation", "{}", KC_EFORMAT, "Activation.activation: missing"},
        {"Activation", "{\"activation\": \"nope\"}", KC_ENOTFOUND, "Unknown activation 'nope'"},
        {"ReLU", "{\"max_value\": -1}", KC_EFORMAT,
         "ReLU.max_value: expected a non-negative number"},
        {"ReLU", "{\"negative_slope\": null}", KC_EFORMAT, "ReLU.negative_slope"},
        {"ReLU", "{\"threshold\": -0.5}", KC_EFORMAT, "ReLU.threshold"},
        {"ReLU", "{\"negative_slope\": Infinity}", KC_EFORMAT, "expected a finite number"},
        {"LeakyReLU", "{\"alpha\": null}", KC_EFORMAT, "LeakyReLU.alpha"},
        {"LeakyReLU", "{\"negative_slope\": -0.1}", KC_EFORMAT, "LeakyReLU.negative_slope"},
        {"ELU", "{\"alpha\": null}", KC_EFORMAT, "ELU.alpha: expected a number"},
        {"Softmax", "{\"axis\": []}", KC_EFORMAT,
         "Softmax.axis: expected an integer or a non-empty list"},
        {"Softmax", "{\"axis\": \"last\"}", KC_EFORMAT, "Softmax.axis"},
        {"PReLU", "{\"shared_axes\": [1, \"x\"]}", KC_EFORMAT, "PReLU.shared_axes"},
        {"PReLU", "{\"alpha_initializer\": \"nope\"}", KC_ENOTFOUND, "PReLU.alpha_initializer"},
        {"Dropout", "{}", KC_EFORMAT, "Dropout.rate: missing"},
        {"Dropout", "{\"rate\": 1.5}", KC_EFORMAT,
         "Dropout.rate: expected a number between 0 and 1"},
        {"Dropout", "{\"rate\": 0.5, \"noise_shape\": [null, -3]}", KC_EFORMAT,
         "Dropout.noise_shape"},
        {"Dropout", "{\"rate\": 0.5, \"seed\": \"s\"}", KC_EFORMAT, "Dropout.seed"},
        {"GaussianNoise", "{}", KC_EFORMAT, "GaussianNoise.stddev: missing"},
        {"GaussianNoise", "{\"stddev\": -1}", KC_EFORMAT, "GaussianNoise.stddev"},
        {"GaussianDropout", "{\"rate\": -0.1}", KC_EFORMAT, "GaussianDropout.rate"},
        {"ActivityRegularization", "{\"l1\": -1}", KC_EFORMAT, "ActivityRegularization.l1"},
        {"Flatten", "{\"data_format\": \"channels_middle\"}", KC_EFORMAT, "Flatten.data_format"},
        {"Reshape", "{}", KC_EFORMAT, "Reshape.target_shape"},
        {"Reshape", "{\"target_shape\": [-1, 2, -1]}", KC_EFORMAT, "at most one -1"},
        {"Reshape", "{\"target_shape\": [2, -3]}", KC_EFORMAT, "got -3 at index 1"},
        {"Reshape", "{\"target_shape\": [1, 2, 3, 4, 5, 6, 7, 8]}", KC_EFORMAT,
         "at most 7 integers"},
        {"Permute", "{\"dims\": [1, 3]}", KC_EFORMAT, "Permute.dims: invalid permutation"},
        {"Permute", "{\"dims\": [2, 2]}", KC_EFORMAT, "Permute.dims: invalid permutation"},
        {"Permute", "{}", KC_EFORMAT, "Permute.dims"},
        {"RepeatVector", "{}", KC_EFORMAT, "RepeatVector.n: missing"},
        {"RepeatVector", "{\"n\": 2.5}", KC_EFORMAT,
         "RepeatVector.n: expected a non-negative integer"},
        {"Concatenate", "{\"axis\": \"x\"}", KC_EFORMAT, "Concatenate.axis"},
        {"Dot", "{}", KC_EFORMAT, "Dot.axes"},
        {"Dot", "{\"axes\": [1]}", KC_EFORMAT,
         "Dot.axes: expected an integer or a list of two integers"},
        {"Dot", "{\"axes\": [1, 2, 3]}", KC_EFORMAT, "Dot.axes"},
        {"Dot", "{\"axes\": 1, \"normalize\": \"yes\"}", KC_EFORMAT, "Dot.normalize"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_error_clear(&err);
        kc_object *l = kc_layer_create(cases[i].cls, cases[i].cfg, &err);
        ck_assert_msg(l == NULL, "%s %s was accepted", cases[i].cls, cases[i].cfg);
        CK_ERR(err, cases[i].code, cases[i].needle);
    }
}
END_TEST

/* compute_output_shape refuses what Keras refuses, naming the shapes. */
static void shape_error(const char *cls, const char *cfg, const kc_shape *in, int n, kc_status code,
                        const char *needle)
{
    kc_object *l = make(cls, cfg);
    kc_shape out[KC_MAX_LAYER_OUTPUTS];
    int n_out = 0;
    kc_error_clear(&err);
    ck_assert_msg(kc_layer_compute_output_shape(l, in, n, out, &n_out, &err) != KC_OK,
                  "%s %s accepted the shapes", cls, cfg ? cfg : "");
    CK_ERR(err, code, needle);
    kc_error_clear(&err);
    kc_object_unref(l);
}

#define S(...)                                                                                     \
    kc_shape_make(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})

START_TEST(bad_input_shapes_are_named_errors)
{
    kc_shape two[2], three[3];
    shape_error("Softmax", "{\"axis\": 2}", (kc_shape[]){S(-1, 3)}, 1, KC_ESHAPE,
                "Softmax axis 2 is out of range for inputs of rank 2");
    shape_error("Softmax", "{\"axis\": [1, -2]}", (kc_shape[]){S(-1, 3, 4)}, 1, KC_ESHAPE,
                "repeat axis 1");
    shape_error("PReLU", NULL, (kc_shape[]){S(-1)}, 1, KC_ESHAPE,
                "PReLU needs inputs of rank >= 2");
    shape_error("PReLU", NULL, (kc_shape[]){S(-1, -1, 4)}, 1, KC_ESHAPE, "known size on axis 1");
    shape_error("PReLU", "{\"shared_axes\": [3]}", (kc_shape[]){S(-1, 2, 4)}, 1, KC_ESHAPE,
                "shared_axes entry 3 is out of range");
    shape_error("Dropout", "{\"rate\": 0.5, \"noise_shape\": [null, 2]}", (kc_shape[]){S(-1, 3)}, 1,
                KC_ESHAPE,
                "Dropout noise_shape (None, 2) does not broadcast to inputs of shape (None, 3)");
    shape_error("Dropout", "{\"rate\": 0.5, \"noise_shape\": [1, 1, 1]}", (kc_shape[]){S(-1, 3)}, 1,
                KC_ESHAPE, "noise_shape");
    shape_error("Flatten", NULL, (kc_shape[]){kc_shape_make(0, NULL)}, 1, KC_ESHAPE,
                "Flatten needs inputs of rank >= 1");
    shape_error(
        "Reshape", "{\"target_shape\": [4]}", (kc_shape[]){S(-1, 2, 3)}, 1, KC_ESHAPE,
        "total size of new array must be unchanged, input_shape = (2, 3), output_shape = (4,)");
    shape_error("Reshape", "{\"target_shape\": [4, -1]}", (kc_shape[]){S(-1, 6)}, 1, KC_ESHAPE,
                "total size");
    shape_error("Permute", "{\"dims\": [2, 1]}", (kc_shape[]){S(-1, 3)}, 1, KC_ESHAPE,
                "Permute with 2 dims needs inputs of rank 3, got rank 2");
    shape_error("RepeatVector", "{\"n\": 2}", (kc_shape[]){S(-1, 3, 4)}, 1, KC_ESHAPE,
                "RepeatVector needs inputs of rank 2");
    two[0] = S(-1, 3), two[1] = S(-1, 4);
    shape_error("Add", NULL, two, 2, KC_ESHAPE, "Add needs inputs of compatible shapes");
    shape_error("Add", NULL, two, 2, KC_ESHAPE, "got (None, 3) and (None, 4)");
    two[0] = S(2, 3), two[1] = S(5, 3);
    shape_error("Maximum", NULL, two, 2, KC_ESHAPE,
                "Maximum cannot merge tensors with different batch sizes: (2, 3), (5, 3)");
    three[0] = S(-1, 3), three[1] = S(-1, 3), three[2] = S(-1, 3);
    shape_error("Subtract", NULL, three, 3, KC_EINVAL, "takes 2 inputs, got 3");
    shape_error("Dot", "{\"axes\": 1}", three, 3, KC_EINVAL, "takes 2 inputs, got 3");
    two[0] = S(-1, 3, 4), two[1] = S(-1, 5, 4);
    shape_error("Concatenate", NULL, two, 2, KC_ESHAPE,
                "Concatenate needs inputs with matching shapes except on the concatenation axis "
                "(axis -1): got (None, 3, 4) and (None, 5, 4)");
    two[0] = S(-1, 3, 4), two[1] = S(-1, 3);
    shape_error("Concatenate", NULL, two, 2, KC_ESHAPE, "matching shapes");
    shape_error("Concatenate", "{\"axis\": 3}", two, 2, KC_ESHAPE,
                "Concatenate axis 3 is out of range for inputs of rank 3");
    two[0] = S(-1, 3), two[1] = S(-1, 4);
    shape_error("Dot", "{\"axes\": 1}", two, 2, KC_ESHAPE,
                "Dot needs equal sizes on the dot axes: 3 (axis 1 of (None, 3)) != 4 (axis 1 of "
                "(None, 4))");
    two[0] = S(-1, 3), two[1] = S(-1, 3);
    shape_error("Dot", "{\"axes\": 0}", two, 2, KC_ESHAPE, "over the batch axis");
    shape_error("Dot", "{\"axes\": [1, 2]}", two, 2, KC_ESHAPE,
                "Dot axis 2 is out of range for input 1");
    two[0] = S(-1), two[1] = S(-1, 3);
    shape_error("Dot", "{\"axes\": -1}", two, 2, KC_ESHAPE, "Dot needs inputs of rank >= 2");
}
END_TEST

START_TEST(call_errors_name_the_layer_and_shapes)
{
    /* PReLU keeps the sizes it was built for (Keras' InputSpec) */
    kc_object *p = make("PReLU", "{\"shared_axes\": [1]}");
    kc_tensor *x = tu_random(3, D(2, 3, 4), -1, 1, 1), *y = call1(p, x, false);
    ck_assert_int_eq(kc_layer_num_weights(p), 1);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(p, 0)), "p_re_lu/alpha:0");
    kc_shape as = kc_tensor_shape(kc_variable_value(kc_layer_weight(p, 0)));
    char buf[64];
    ck_assert_str_eq(kc_shape_format(&as, buf, sizeof(buf)), "(1, 4)");
    kc_tensor *x2 = tu_random(3, D(2, 7, 4), -1, 1, 2),
              *y2 = call1(p, x2, false); /* axis 1 is shared */
    kc_tensor *bad = tu_random(3, D(2, 3, 5), -1, 1, 3);
    ck_assert_ptr_null(kc_layer_call1(p, bad, false, &err));
    CK_ERR(err, KC_ESHAPE, "PReLU with alpha of shape (1, 4) expects size 4 on axis 2, got 5");
    CK_ERR(err, KC_ESHAPE, "layer 'p_re_lu' (PReLU) on input shape (2, 3, 5)");
    kc_error_clear(&err);
    kc_tensor *bad2 = tu_random(2, D(2, 4), -1, 1, 3);
    ck_assert_ptr_null(kc_layer_call1(p, bad2, false, &err));
    CK_ERR(err, KC_ESHAPE, "needs inputs of rank 3, got rank 2");
    kc_error_clear(&err);
    /* a merge layer called on tensors: the shapes of both */
    kc_object *add = make("Add", NULL);
    kc_tensor *a = tu_random(2, D(2, 3), -1, 1, 4), *b = tu_random(2, D(2, 4), -1, 1, 5),
              *ab[2] = {a, b};
    kc_tensor *out[2];
    int n = 0;
    ck_assert_int_eq(kc_layer_call(add, ab, 2, NULL, false, out, NULL, &n, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "got (2, 3) and (2, 4)");
    CK_ERR(err, KC_ESHAPE, "layer 'add' (Add) on input shapes (2, 3), (2, 4)");
    kc_tensor_unref(x), kc_tensor_unref(y), kc_tensor_unref(x2), kc_tensor_unref(y2);
    kc_tensor_unref(bad), kc_tensor_unref(bad2), kc_tensor_unref(a), kc_tensor_unref(b);
    kc_object_unref(p), kc_object_unref(add);
}
END_TEST

/* ---- forward passes ------------------------------------------------------------------------ */

START_TEST(activation_layers_match_keras_examples)
{
    kc_tensor *x = TU_T2(1, 4, -3, -1, 0, 2);
    /* tf.keras 2.15 docstrings */
    check_forward("ReLU", NULL, x, 2, D(1, 4), F(0, 0, 0, 2));
    check_forward("ReLU", "{\"max_value\": 1.0}", x, 2, D(1, 4), F(0, 0, 0, 1));
    check_forward("ReLU", "{\"negative_slope\": 1.0}", x, 2, D(1, 4), F(-3, -1, 0, 2));
    kc_tensor *xt = TU_T2(1, 4, -3, -1, 1, 2);
    check_forward("ReLU", "{\"threshold\": 1.5}", xt, 2, D(1, 4), F(0, 0, 0, 2));
    /* all three: x > 1 kept then capped at 2; below 1, 0.5 * (x - 1) */
    kc_tensor *xr = TU_T2(1, 4, -1, 0.5f, 1.5f, 3);
    check_forward("ReLU", "{\"negative_slope\": 0.5, \"max_value\": 2, \"threshold\": 1}", xr, 2,
                  D(1, 4), F(-1, -0.25f, 1.5f, 2));
    check_forward("LeakyReLU", NULL, x, 2, D(1, 4), F(-0.9f, -0.3f, 0, 2));
    check_forward("LeakyReLU", "{\"alpha\": 0.1}", x, 2, D(1, 4), F(-0.3f, -0.1f, 0, 2));
    float e1 = expm1f(-1.0f), e3 = expm1f(-3.0f);
    check_forward("ELU", NULL, x, 2, D(1, 4), F(e3, e1, 0, 2));
    check_forward("ELU", "{\"alpha\": 0.5}", x, 2, D(1, 4), F(0.5f * e3, 0.5f * e1, 0, 2));
    check_forward("Activation", "{\"activation\": \"relu\"}", x, 2, D(1, 4), F(0, 0, 0, 2));
    check_forward("Activation", "{\"activation\": null}", x, 2, D(1, 4), F(-3, -1, 0, 2));
    check_forward("Activation", "{\"activation\": \"tanh\"}", x, 2, D(1, 4),
                  F(tanhf(-3), tanhf(-1), 0, tanhf(2)));
    kc_tensor_unref(x), kc_tensor_unref(xt), kc_tensor_unref(xr);
}
END_TEST

START_TEST(softmax_layer_axes_and_mask)
{
    /* Keras docstring: [[1, 2, 1]] -> [0.21194157, 0.5761169, 0.21194157];
     * with mask [[True, False, True]] -> [0.5, 0, 0.5] */
    kc_tensor *x = TU_T2(1, 3, 1, 2, 1);
    check_forward("Softmax", NULL, x, 2, D(1, 3), F(0.21194157f, 0.5761169f, 0.21194157f));
    kc_object *s = make("Softmax", NULL);
    kc_tensor *mask = TU_T2(1, 3, 1, 0, 1), *om = NULL;
    kc_tensor *y = call_ex(s, &x, 1, &mask, false, &om);
    tu_assert_close(y, 2, D(1, 3), F(0.5f, 0, 0.5f), 1e-6, 1e-7, "masked softmax");
    ck_assert_ptr_eq(om, mask); /* the mask passes through */
    /* axis 1 of (1, 2, 2): per column; axes [1, 2]: over all four values */
    kc_tensor *x3 = tu_tensor(3, D(1, 2, 2), F(1, 2, 3, 5));
    float a = 1 / (1 + expf(2)), b = 1 / (1 + expf(3));
    check_forward("Softmax", "{\"axis\": 1}", x3, 3, D(1, 2, 2), F(a, b, 1 - a, 1 - b));
    double z = exp(1) + exp(2) + exp(3) + exp(5);
    check_forward(
        "Softmax", "{\"axis\": [1, 2]}", x3, 3, D(1, 2, 2),
        F((float)(exp(1) / z), (float)(exp(2) / z), (float)(exp(3) / z), (float)(exp(5) / z)));
    check_forward("Softmax", "{\"axis\": [-1]}", x3, 3, D(1, 2, 2),
                  F(1 / (1 + expf(1)), 1 / (1 + expf(-1)), 1 / (1 + expf(2)), 1 / (1 + expf(-2))));
    kc_tensor_unref(x), kc_tensor_unref(mask), kc_tensor_unref(om), kc_tensor_unref(y),
        kc_tensor_unref(x3);
    kc_object_unref(s);
}
END_TEST

START_TEST(prelu_uses_its_alpha_per_position_or_shared)
{
    kc_object *p = make("PReLU", NULL);
    kc_tensor *x = TU_T2(2, 2, -1, 2, 3, -4);
    kc_tensor *y = call1(p, x, false);
    tu_assert_close(y, 2, D(2, 2), F(0, 2, 3, 0), 0, 0, "alpha initialized to zeros");
    kc_tensor_unref(y);
    kc_tensor *alpha = TU_T1(2, 0.1f, 0.2f);
    CK_OK(kc_layer_set_weights(p, &alpha, 1, &err));
    y = call1(p, x, false);
    tu_assert_close(y, 2, D(2, 2), F(-0.1f, 2, 3, -0.8f), 1e-6, 0, "PReLU");
    kc_tensor_unref(y);
    /* shared over axis 1 of (1, 2, 3): alpha (1, 3) */
    kc_object *ps = make("PReLU", "{\"shared_axes\": 1, \"alpha_initializer\": {\"class_name\": "
                                  "\"Constant\", \"config\": {\"value\": 0.5}}}");
    kc_tensor *x3 = tu_tensor(3, D(1, 2, 3), F(-2, 1, -4, 3, -6, 5));
    y = call1(ps, x3, false);
    tu_assert_close(y, 3, D(1, 2, 3), F(-1, 1, -2, 3, -3, 5), 1e-6, 0, "PReLU with shared axis");
    kc_shape as = kc_tensor_shape(kc_variable_value(kc_layer_weight(ps, 0)));
    ck_assert_int_eq(as.ndim, 2);
    ck_assert_int_eq(as.dims[0], 1);
    ck_assert_int_eq(as.dims[1], 3);
    ck_assert(kc_variable_trainable(kc_layer_weight(ps, 0)));
    kc_tensor_unref(y), kc_tensor_unref(x), kc_tensor_unref(x3), kc_tensor_unref(alpha);
    kc_object_unref(p), kc_object_unref(ps);
}
END_TEST

/* Fraction of zeros, and the value the non-zeros take. */
static void dropped_stats(const kc_tensor *y, double *zero_frac, float *kept_value)
{
    int64_t n = kc_tensor_size(y), zeros = 0;
    *kept_value = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = (float)kc_tensor_get(y, i);
        if (v == 0)
            zeros++;
        else if (*kept_value == 0)
            *kept_value = v;
        else
            ck_assert_msg(v == *kept_value, "kept values differ: %g vs %g", v, *kept_value);
    }
    *zero_frac = (double)zeros / (double)n;
}

START_TEST(dropout_is_inverted_and_only_in_training)
{
    kc_tensor *ones = kc_tensor_ones(KC_FLOAT32, 2, D(100, 200), &err);
    kc_object *d = make("Dropout", "{\"rate\": 0.25, \"seed\": 3}");
    kc_tensor *y = call1(d, ones, false);
    ck_assert_ptr_eq(y, ones); /* inference: the input itself */
    kc_tensor_unref(y);
    y = call1(d, ones, true);
    double zf;
    float kept;
    dropped_stats(y, &zf, &kept);
    ck_assert_msg(fabs(zf - 0.25) < 0.015, "dropped %.4f, expected 0.25", zf);
    ck_assert_float_eq(kept, (float)(1.0 / 0.75)); /* kept units scaled by 1 / (1 - rate) */
    /* a seeded layer repeats its sequence; its next call draws a new mask */
    kc_object *d2 = make("Dropout", "{\"rate\": 0.25, \"seed\": 3}");
    kc_tensor *y2 = call1(d2, ones, true), *y3 = call1(d2, ones, true);
    tu_assert_tensors_close(y2, y, 0, 0, "same seed, same mask");
    int64_t differ = 0;
    for (int64_t i = 0; i < kc_tensor_size(y); i++)
        differ += kc_tensor_get(y2, i) != kc_tensor_get(y3, i);
    ck_assert_msg(differ > 1000, "second call reused the mask (%lld differences)",
                  (long long)differ);
    /* rate 0: identity; rate 1: everything dropped */
    kc_object *d0 = make("Dropout", "{\"rate\": 0}"), *d1 = make("Dropout", "{\"rate\": 1}");
    kc_tensor *y0 = call1(d0, ones, true), *y1 = call1(d1, ones, true);
    tu_assert_tensors_close(y0, ones, 0, 0, "rate 0");
    dropped_stats(y1, &zf, &kept);
    ck_assert(zf == 1.0);
    kc_tensor_unref(y), kc_tensor_unref(y2), kc_tensor_unref(y3), kc_tensor_unref(y0),
        kc_tensor_unref(y1);
    kc_object_unref(d), kc_object_unref(d2), kc_object_unref(d0), kc_object_unref(d1);
    kc_tensor_unref(ones);
}
END_TEST

START_TEST(dropout_noise_shape_broadcasts_one_decision)
{
    kc_tensor *x = tu_random(3, D(8, 5, 6), 1, 2, 4);
    kc_object *d =
        make("Dropout", "{\"rate\": 0.5, \"noise_shape\": [null, 1, null], \"seed\": 11}");
    kc_tensor *y = call1(d, x, true);
    int64_t zeros = 0;
    for (int64_t b = 0; b < 8; b++)
        for (int64_t f = 0; f < 6; f++) {
            bool dropped = kc_tensor_get(y, (b * 5) * 6 + f) == 0;
            zeros += dropped;
            for (int64_t t = 0; t < 5; t++) {
                int64_t i = (b * 5 + t) * 6 + f;
                double want = dropped ? 0.0 : (double)((float)kc_tensor_get(x, i) * 2.0f);
                ck_assert_msg(kc_tensor_get(y, i) == want, "[%lld,%lld,%lld] = %g, expected %g",
                              (long long)b, (long long)t, (long long)f, kc_tensor_get(y, i), want);
            }
        }
    ck_assert_msg(zeros > 8 && zeros < 40, "%lld of 48 (batch, feature) cells dropped",
                  (long long)zeros);
    kc_tensor_unref(x), kc_tensor_unref(y);
    kc_object_unref(d);
}
END_TEST

static void mean_std(const kc_tensor *t, double *mean, double *std)
{
    int64_t n = kc_tensor_size(t);
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; i++)
        s += kc_tensor_get(t, i);
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++)
        q += (kc_tensor_get(t, i) - *mean) * (kc_tensor_get(t, i) - *mean);
    *std = sqrt(q / (double)n);
}

START_TEST(gaussian_noise_layers_have_keras_statistics)
{
    kc_tensor *ones = kc_tensor_ones(KC_FLOAT32, 2, D(200, 200), &err);
    kc_object *gn = make("GaussianNoise", "{\"stddev\": 0.5, \"seed\": 5}");
    kc_tensor *y = call1(gn, ones, false);
    ck_assert_ptr_eq(y, ones);
    kc_tensor_unref(y);
    y = call1(gn, ones, true);
    double m, s;
    mean_std(y, &m, &s);
    ck_assert_msg(fabs(m - 1.0) < 0.01 && fabs(s - 0.5) < 0.01, "GaussianNoise: mean %g std %g", m,
                  s);
    kc_tensor_unref(y);
    kc_object *gd = make("GaussianDropout", "{\"rate\": 0.2}"); /* unseeded: the global stream */
    y = call1(gd, ones, false);
    ck_assert_ptr_eq(y, ones);
    kc_tensor_unref(y);
    y = call1(gd, ones, true);
    mean_std(y, &m, &s);
    ck_assert_msg(fabs(m - 1.0) < 0.01 && fabs(s - 0.5) < 0.01,
                  "GaussianDropout: mean %g std %g (want 1, 0.5)", m, s);
    kc_tensor_unref(y);
    /* the global stream follows kc_set_random_seed */
    kc_set_random_seed(9);
    kc_tensor *a = call1(gd, ones, true);
    kc_set_random_seed(9);
    kc_tensor *b = call1(gd, ones, true);
    tu_assert_tensors_close(a, b, 0, 0, "same global seed");
    kc_object *gd1 = make("GaussianDropout", "{\"rate\": 1}");
    y = call1(gd1, ones, true);
    ck_assert_ptr_eq(y, ones); /* tf.keras 2.15 passes rate 0 and 1 through */
    kc_tensor_unref(y), kc_tensor_unref(a), kc_tensor_unref(b), kc_tensor_unref(ones);
    kc_object_unref(gn), kc_object_unref(gd), kc_object_unref(gd1);
}
END_TEST

START_TEST(activity_regularization_adds_its_penalty_per_sample)
{
    kc_object *ar = make("ActivityRegularization", "{\"l1\": 0.1, \"l2\": 0.01}");
    kc_tensor *x = TU_T2(2, 2, 1, -2, 3, 0);
    kc_tensor *y = call1(ar, x, false);
    ck_assert_ptr_eq(y, x);
    /* (0.1 * 6 + 0.01 * 14) / batch 2 */
    ck_assert_int_eq(kc_layer_num_losses(ar), 1);
    ck_assert_float_eq_tol(kc_tensor_item(kc_layer_loss(ar, 0)), 0.37f, 1e-6f);
    kc_tensor_unref(y);
    /* Keras' defaults add a zero term */
    kc_object *ar0 = make("ActivityRegularization", NULL);
    y = call1(ar0, x, true);
    ck_assert_int_eq(kc_layer_num_losses(ar0), 1);
    ck_assert_float_eq(kc_tensor_item(kc_layer_loss(ar0, 0)), 0.0f);
    kc_tensor_unref(y), kc_tensor_unref(x);
    kc_object_unref(ar), kc_object_unref(ar0);
}
END_TEST

START_TEST(reshaping_layers_move_values_as_keras)
{
    kc_tensor *x = tu_tensor(3, D(2, 2, 3), F(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    check_forward("Flatten", NULL, x, 2, D(2, 6), F(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    /* channels first: (2, 2, 3) read as (batch, channels, width) -> channels last first */
    check_forward("Flatten", "{\"data_format\": \"channels_first\"}", x, 2, D(2, 6),
                  F(0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11));
    kc_tensor *v = TU_T1(3, 1, 2, 3);
    check_forward("Flatten", NULL, v, 2, D(3, 1), F(1, 2, 3));
    check_forward("Reshape", "{\"target_shape\": [3, -1]}", x, 3, D(2, 3, 2),
                  F(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    check_forward("Reshape", "{\"target_shape\": [6]}", x, 2, D(2, 6),
                  F(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    check_forward("Permute", "{\"dims\": [2, 1]}", x, 3, D(2, 3, 2),
                  F(0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11));
    kc_tensor *m = TU_T2(2, 2, 1, 2, 3, 4);
    check_forward("RepeatVector", "{\"n\": 3}", m, 3, D(2, 3, 2),
                  F(1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4));
    check_forward("RepeatVector", "{\"n\": 0}", m, 3, D(2, 0, 2), F(0));
    /* symbolic shapes: unknown sizes stay unknown, -1 is inferred when it can be */
    kc_object *r = make("Reshape", "{\"target_shape\": [-1, 2]}");
    kc_shape out[1];
    int n = 0;
    CK_OK(kc_layer_compute_output_shape(r, (kc_shape[]){S(-1, 4, 6)}, 1, out, &n, &err));
    char buf[64];
    ck_assert_str_eq(kc_shape_format(&out[0], buf, sizeof(buf)), "(None, 12, 2)");
    CK_OK(kc_layer_compute_output_shape(r, (kc_shape[]){S(-1, -1, 6)}, 1, out, &n, &err));
    ck_assert_str_eq(kc_shape_format(&out[0], buf, sizeof(buf)), "(None, None, 2)");
    kc_object *f = make("Flatten", NULL);
    CK_OK(kc_layer_compute_output_shape(f, (kc_shape[]){S(-1, -1, 6)}, 1, out, &n, &err));
    ck_assert_str_eq(kc_shape_format(&out[0], buf, sizeof(buf)), "(None, None)");
    CK_OK(kc_layer_compute_output_shape(f, (kc_shape[]){S(5, 2, 6)}, 1, out, &n, &err));
    ck_assert_str_eq(kc_shape_format(&out[0], buf, sizeof(buf)), "(5, 12)");
    kc_object *p = make("Permute", "{\"dims\": [3, 1, 2]}");
    CK_OK(kc_layer_compute_output_shape(p, (kc_shape[]){S(-1, 2, -1, 4)}, 1, out, &n, &err));
    ck_assert_str_eq(kc_shape_format(&out[0], buf, sizeof(buf)), "(None, 4, 2, None)");
    kc_tensor_unref(x), kc_tensor_unref(v), kc_tensor_unref(m);
    kc_object_unref(r), kc_object_unref(f), kc_object_unref(p);
}
END_TEST

START_TEST(merge_layers_fold_their_inputs)
{
    kc_tensor *a = TU_T2(2, 2, 1, -2, 3, 4), *b = TU_T2(2, 2, 2, 2, -1, 4),
              *c = TU_T2(2, 2, 0.5f, 1, 2, -1);
    kc_tensor *ab[2] = {a, b}, *abc[3] = {a, b, c};
    check_merge("Add", NULL, abc, 3, 2, D(2, 2), F(3.5f, 1, 4, 7));
    check_merge("Subtract", NULL, ab, 2, 2, D(2, 2), F(-1, -4, 4, 0));
    check_merge("Multiply", NULL, abc, 3, 2, D(2, 2), F(1, -4, -6, -16));
    check_merge("Average", NULL, abc, 3, 2, D(2, 2), F(3.5f / 3, 1.0f / 3, 4.0f / 3, 7.0f / 3));
    check_merge("Maximum", NULL, abc, 3, 2, D(2, 2), F(2, 2, 3, 4));
    check_merge("Minimum", NULL, abc, 3, 2, D(2, 2), F(0.5f, -2, -1, -1));
    check_merge("Add", NULL, &a, 1, 2, D(2, 2), F(1, -2, 3, 4)); /* one input: itself, as Keras */
    /* ranks differ: (2, 2) joins (2, 3, 2) as (2, 1, 2) */
    kc_tensor *t = tu_tensor(3, D(2, 3, 2), F(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)),
              *ta[2] = {t, a};
    check_merge("Add", NULL, ta, 2, 3, D(2, 3, 2), F(1, -1, 3, 1, 5, 3, 9, 11, 11, 13, 13, 15));
    /* size-1 axes broadcast: (2, 1) with (2, 2) */
    kc_tensor *col = TU_T2(2, 1, 10, 20), *ca[2] = {col, a};
    check_merge("Multiply", NULL, ca, 2, 2, D(2, 2), F(10, -20, 60, 80));
    kc_object *add = make("Add", NULL);
    kc_shape out[1];
    int n = 0;
    char buf[64];
    CK_OK(kc_layer_compute_output_shape(add, (kc_shape[]){S(-1, 3, 1), S(4, -1, 5)}, 2, out, &n,
                                        &err));
    ck_assert_str_eq(kc_shape_format(&out[0], buf, sizeof(buf)), "(4, None, 5)");
    CK_OK(
        kc_layer_compute_output_shape(add, (kc_shape[]){S(-1, 3, 5), S(-1, 5)}, 2, out, &n, &err));
    ck_assert_str_eq(kc_shape_format(&out[0], buf, sizeof(buf)), "(None, 3, 5)");
    kc_tensor_unref(a), kc_tensor_unref(b), kc_tensor_unref(c), kc_tensor_unref(t),
        kc_tensor_unref(col);
    kc_object_unref(add);
}
END_TEST

START_TEST(concatenate_joins_along_its_axis)
{
    kc_tensor *a = TU_T2(2, 2, 1, 2, 3, 4), *b = TU_T2(2, 1, 5, 6), *ab[2] = {a, b};
    check_merge("Concatenate", NULL, ab, 2, 2, D(2, 3), F(1, 2, 5, 3, 4, 6));
    kc_tensor *c = TU_T2(1, 2, 7, 8), *ac[2] = {a, c};
    check_merge("Concatenate", "{\"axis\": 0}", ac, 2, 2, D(3, 2), F(1, 2, 3, 4, 7, 8));
    kc_tensor *x = tu_tensor(3, D(1, 2, 2), F(1, 2, 3, 4)), *y = tu_tensor(3, D(1, 1, 2), F(5, 6)),
              *xy[2] = {x, y};
    check_merge("Concatenate", "{\"axis\": 1}", xy, 2, 3, D(1, 3, 2), F(1, 2, 3, 4, 5, 6));
    check_merge("Concatenate", "{\"axis\": -2}", xy, 2, 3, D(1, 3, 2), F(1, 2, 3, 4, 5, 6));
    /* symbolic: the axis sums (unknown if one is), other sizes from whichever input knows them */
    kc_object *cat = make("Concatenate", NULL);
    kc_shape out[1];
    int n = 0;
    char buf[64];
    CK_OK(kc_layer_compute_output_shape(cat, (kc_shape[]){S(-1, -1, 3), S(-1, 4, 2)}, 2, out, &n,
                                        &err));
    ck_assert_str_eq(kc_shape_format(&out[0], buf, sizeof(buf)), "(None, 4, 5)");
    CK_OK(kc_layer_compute_output_shape(cat, (kc_shape[]){S(-1, 4, -1), S(-1, 4, 2)}, 2, out, &n,
                                        &err));
    ck_assert_str_eq(kc_shape_format(&out[0], buf, sizeof(buf)), "(None, 4, None)");
    kc_tensor_unref(a), kc_tensor_unref(b), kc_tensor_unref(c), kc_tensor_unref(x),
        kc_tensor_unref(y);
    kc_object_unref(cat);
}
END_TEST

/* batch_dot by definition: out[b, i..., j...] = sum_k x[b, i.., k @ ax0] y[b, j.., k @ ax1]. */
static void naive_dot(const kc_tensor *x, const kc_tensor *y, int a0, int a1, float *out)
{
    int rx = kc_tensor_ndim(x), ry = kc_tensor_ndim(y);
    const int64_t *dx = kc_tensor_dims(x), *dy = kc_tensor_dims(y);
    int64_t B = dx[0], K = dx[a0], nx = kc_tensor_size(x) / (B * K),
            ny = kc_tensor_size(y) / (B * K);
    int64_t o = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < nx; i++)
            for (int64_t j = 0; j < ny; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++) {
                    /* unravel i over x's axes without 0 and a0, j over y's without 0 and a1 */
                    int64_t ix[KC_MAX_DIMS], iy[KC_MAX_DIMS], r = i;
                    for (int d = rx - 1; d >= 1; d--)
                        if (d != a0) ix[d] = r % dx[d], r /= dx[d];
                    r = j;
                    for (int d = ry - 1; d >= 1; d--)
                        if (d != a1) iy[d] = r % dy[d], r /= dy[d];
                    ix[0] = iy[0] = b;
                    ix[a0] = iy[a1] = k;
                    int64_t fx = 0, fy = 0;
                    for (int d = 0; d < rx; d++)
                        fx = fx * dx[d] + ix[d];
                    for (int d = 0; d < ry; d++)
                        fy = fy * dy[d] + iy[d];
                    s += kc_tensor_get(x, fx) * kc_tensor_get(y, fy);
                }
                out[o++] = (float)s;
            }
}

START_TEST(dot_is_keras_batch_dot)
{
    kc_tensor *a = TU_T2(2, 3, 1, 2, 3, 4, 5, 6), *b = TU_T2(2, 3, 1, 0, -1, 2, 2, 2),
              *ab[2] = {a, b};
    check_merge("Dot", "{\"axes\": 1}", ab, 2, 2, D(2, 1), F(-2, 30));
    check_merge("Dot", "{\"axes\": -1}", ab, 2, 2, D(2, 1), F(-2, 30));
    /* normalize: cosine similarity */
    float c0 = -2 / (sqrtf(14) * sqrtf(2)), c1 = 30 / (sqrtf(77) * sqrtf(12));
    check_merge("Dot", "{\"axes\": 1, \"normalize\": true}", ab, 2, 2, D(2, 1), F(c0, c1));
    /* Keras docstring shapes: x (2, 3, 5), y (2, 10, 3), axes (1, 2) -> (2, 5, 10) */
    kc_tensor *x = tu_random(3, D(2, 3, 5), -1, 1, 1), *y = tu_random(3, D(2, 10, 3), -1, 1, 2),
              *xy[2] = {x, y};
    float want[100];
    naive_dot(x, y, 1, 2, want);
    check_merge("Dot", "{\"axes\": [1, 2]}", xy, 2, 3, D(2, 5, 10), want);
    /* rank 2 with rank 3, and rank 4 (beyond TensorFlow.js) */
    kc_tensor *v = tu_random(2, D(2, 5), -1, 1, 3), *xv[2] = {x, v};
    naive_dot(x, v, 2, 1, want);
    check_merge("Dot", "{\"axes\": [2, 1]}", xv, 2, 2, D(2, 3), want);
    kc_tensor *p = tu_random(4, D(2, 3, 4, 5), -1, 1, 4), *q = tu_random(3, D(2, 4, 3), -1, 1, 5),
              *pq[2] = {p, q};
    float w4[2 * 3 * 5 * 3];
    naive_dot(p, q, 2, 1, w4);
    check_merge("Dot", "{\"axes\": [2, 1]}", pq, 2, 4, D(2, 3, 5, 3), w4);
    kc_tensor_unref(a), kc_tensor_unref(b), kc_tensor_unref(x), kc_tensor_unref(y);
    kc_tensor_unref(v), kc_tensor_unref(p), kc_tensor_unref(q);
}
END_TEST

/* ---- gradients ------------------------------------------------------------------------------ */

typedef struct grad_ctx {
    kc_object *layer;      /* the layer called, or NULL: make one from cls/cfg each time */
    const char *cls, *cfg; /* a fresh (seeded) layer per evaluation keeps the noise fixed */
    int n_layer_inputs;    /* the first inputs go to the layer; the rest are its weights */
    bool training;
    kc_tensor **masks;
    bool loss; /* return the layer's first loss instead of its output */
} grad_ctx;

static kc_tensor *layer_fn(kc_tensor *const *in, const void *ctx, kc_error *e)
{
    const grad_ctx *g = ctx;
    kc_object *l = g->layer ? kc_object_ref(g->layer) : kc_layer_create(g->cls, g->cfg, e);
    if (!l) return NULL;
    kc_tensor *out[KC_MAX_LAYER_OUTPUTS], *res = NULL;
    int n = 0;
    if (kc_layer_call(l, in, g->n_layer_inputs, g->masks, g->training, out, NULL, &n, e) == KC_OK) {
        res = g->loss ? kc_tensor_ref(kc_layer_loss(l, 0)) : kc_tensor_ref(out[0]);
        for (int i = 0; i < n; i++)
            kc_tensor_unref(out[i]);
    }
    kc_object_unref(l);
    return res;
}

/* Gradient check of `cls` (config cfg) on inputs xs. */
static void grad_layer(const char *cls, const char *cfg, kc_tensor **xs, int n, bool training)
{
    kc_object *l = make(cls, cfg);
    grad_ctx g = {.layer = l, .n_layer_inputs = n, .training = training};
    char what[256];
    snprintf(what, sizeof(what), "%s %s", cls, cfg ? cfg : "");
    tu_grad_check(what, layer_fn, &g, xs, n, 1e-3, 2e-3, 2e-4);
    kc_object_unref(l);
}

/* Gradients flow through an activation layer given as an activation. */
START_TEST(activation_layers_as_activations_have_gradients)
{
    kc_tensor *x = tu_random_away(2, D(3, 4), 0.05f, 1.0f, 11);
    grad_layer("Dense", "{\"units\": 3, \"activation\": {\"class_name\": \"LeakyReLU\", \"config\": {\"alpha\": 0.2}}}",
               &x, 1, true);
    grad_layer("Dense", "{\"units\": 3, \"activation\": {\"class_name\": \"ELU\", \"config\": {\"alpha\": 0.7}}}", &x,
               1, true);
    kc_tensor_unref(x);
}
END_TEST

START_TEST(activation_layer_gradients_match_finite_differences)
{
    kc_tensor *x = tu_random_away(2, D(3, 4), 0.1f, 2.0f, 1);
    grad_layer("Activation", "{\"activation\": \"tanh\"}", &x, 1, false);
    grad_layer("ReLU", NULL, &x, 1, false);
    grad_layer("LeakyReLU", "{\"alpha\": 0.2}", &x, 1, false);
    grad_layer("ELU", "{\"alpha\": 0.7}", &x, 1, false);
    grad_layer("Softmax", NULL, &x, 1, false);
    kc_tensor *x3 = tu_random(3, D(2, 3, 4), -2, 2, 2);
    grad_layer("Softmax", "{\"axis\": [1, 2]}", &x3, 1, false);
    grad_layer("Softmax", "{\"axis\": 1}", &x3, 1, false);
    /* ReLU with all parameters: points away from 0, the threshold 0.5 and the cap 1.5 */
    kc_tensor *xr = TU_T2(2, 4, -1.2f, -0.3f, 0.2f, 0.8f, 1.1f, 1.9f, 2.5f, 0.35f);
    grad_layer("ReLU", "{\"negative_slope\": 0.3, \"threshold\": 0.5, \"max_value\": 1.5}", &xr, 1,
               false);
    /* masked Softmax: the mask is a constant */
    kc_object *s = make("Softmax", NULL);
    kc_tensor *mask = TU_T2(3, 4, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1);
    grad_ctx g = {.layer = s, .n_layer_inputs = 1, .masks = &mask};
    tu_grad_check("masked Softmax", layer_fn, &g, &x, 1, 1e-3, 2e-3, 2e-4);
    /* PReLU: the input and alpha */
    kc_object *p = make("PReLU", "{\"shared_axes\": [1]}");
    kc_tensor *y = call1(p, x3, false);
    kc_tensor *alpha = kc_variable_value(kc_layer_weight(p, 0));
    kc_tensor *av = TU_T2(1, 4, 0.1f, -0.3f, 0.5f, 0.25f);
    CK_OK(kc_tensor_assign(alpha, av, &err));
    kc_tensor *x3a = tu_random_away(3, D(2, 3, 4), 0.1f, 2.0f, 3), *pin[2] = {x3a, alpha};
    grad_ctx gp = {.layer = p, .n_layer_inputs = 1};
    tu_grad_check("PReLU d/dx and d/dalpha", layer_fn, &gp, pin, 2, 1e-3, 2e-3, 2e-4);
    kc_tensor_unref(x), kc_tensor_unref(x3), kc_tensor_unref(xr), kc_tensor_unref(mask);
    kc_tensor_unref(y), kc_tensor_unref(av), kc_tensor_unref(x3a);
    kc_object_unref(s), kc_object_unref(p);
}
END_TEST

START_TEST(regularization_layer_gradients_match_finite_differences)
{
    kc_tensor *x = tu_random_away(3, D(2, 3, 4), 0.1f, 2.0f, 5);
    /* training mode with a fresh seeded layer per evaluation: fixed noise */
    static const char *const noisy[][2] = {
        {"Dropout", "{\"rate\": 0.4, \"seed\": 1}"},
        {"Dropout", "{\"rate\": 0.4, \"noise_shape\": [null, 1, null], \"seed\": 2}"},
        {"GaussianNoise", "{\"stddev\": 0.3, \"seed\": 3}"},
        {"GaussianDropout", "{\"rate\": 0.3, \"seed\": 4}"},
    };
    for (size_t i = 0; i < sizeof(noisy) / sizeof(noisy[0]); i++) {
        grad_ctx g = {
            .cls = noisy[i][0], .cfg = noisy[i][1], .n_layer_inputs = 1, .training = true};
        tu_grad_check(noisy[i][1], layer_fn, &g, &x, 1, 1e-3, 2e-3, 2e-4);
        grad_layer(noisy[i][0], noisy[i][1], &x, 1, false); /* inference: identity */
    }
    /* the activity penalty: d/dx (l1 sum|x| + l2 sum x^2) / batch */
    grad_ctx g = {.cls = "ActivityRegularization",
                  .cfg = "{\"l1\": 0.1, \"l2\": 0.05}",
                  .n_layer_inputs = 1,
                  .loss = true};
    tu_grad_check("ActivityRegularization loss", layer_fn, &g, &x, 1, 1e-3, 2e-3, 2e-4);
    grad_layer("ActivityRegularization", "{\"l1\": 0.1}", &x, 1, true);
    kc_tensor_unref(x);
}
END_TEST

START_TEST(reshaping_and_merge_gradients_match_finite_differences)
{
    kc_tensor *x = tu_random(3, D(2, 3, 4), -1, 1, 6);
    grad_layer("Flatten", "{\"data_format\": \"channels_first\"}", &x, 1, false);
    grad_layer("Reshape", "{\"target_shape\": [2, -1]}", &x, 1, false);
    grad_layer("Permute", "{\"dims\": [2, 1]}", &x, 1, false);
    kc_tensor *m = tu_random(2, D(2, 3), -1, 1, 7);
    grad_layer("RepeatVector", "{\"n\": 3}", &m, 1, false);
    /* merges: distinct values so Maximum / Minimum have no ties */
    kc_tensor *a = tu_random(3, D(2, 3, 4), -1, 1, 8), *b = tu_random(2, D(2, 4), -1, 1, 9);
    kc_tensor *c = tu_random(3, D(2, 3, 4), -1, 1, 10);
    kc_tensor *abc[3] = {a, b, c}, *ac[2] = {a, c};
    static const char *const merges[] = {"Add", "Multiply", "Average", "Maximum", "Minimum"};
    for (size_t i = 0; i < sizeof(merges) / sizeof(merges[0]); i++)
        grad_layer(merges[i], NULL, abc, 3, false);
    grad_layer("Subtract", NULL, ac, 2, false);
    grad_layer("Concatenate", "{\"axis\": 1}", ac, 2, false);
    kc_tensor *d = tu_random(3, D(2, 5, 3), -1, 1, 11), *ad[2] = {a, d};
    grad_layer("Dot", "{\"axes\": [1, 2]}", ad, 2, false);
    grad_layer("Dot", "{\"axes\": [1, 2], \"normalize\": true}", ad, 2, false);
    kc_tensor *e = tu_random(4, D(2, 2, 3, 4), -1, 1, 12), *eb[2] = {e, b};
    grad_layer("Dot", "{\"axes\": -1}", eb, 2, false);
    kc_tensor_unref(x), kc_tensor_unref(m), kc_tensor_unref(a), kc_tensor_unref(b);
    kc_tensor_unref(c), kc_tensor_unref(d), kc_tensor_unref(e);
}
END_TEST

/* ---- masks ------------------------------------------------------------------------------------
 */

START_TEST(masks_pass_through_element_wise_layers)
{
    kc_tensor *x = tu_random(3, D(2, 3, 4), -1, 1, 1);
    kc_tensor *mask = TU_T2(2, 3, 1, 1, 0, 1, 0, 0);
    static const char *const keep[][2] = {
        {"Activation", "{\"activation\": \"relu\"}"},
        {"ReLU", NULL},
        {"LeakyReLU", NULL},
        {"ELU", NULL},
        {"PReLU", NULL},
        {"Dropout", "{\"rate\": 0.5}"},
        {"GaussianNoise", "{\"stddev\": 0.1}"},
        {"GaussianDropout", "{\"rate\": 0.1}"},
        {"ActivityRegularization", NULL},
    };
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        for (int training = 0; training < 2; training++) {
            kc_object *l = make(keep[i][0], keep[i][1]);
            kc_tensor *om = NULL, *y = call_ex(l, &x, 1, &mask, training, &om);
            ck_assert_msg(om == mask, "%s (training %d) did not pass the mask on", keep[i][0],
                          training);
            kc_tensor_unref(y), kc_tensor_unref(om);
            kc_object_unref(l);
        }
    }
    /* reshaping layers do not support masking (tf.keras 2.15): no mask out */
    static const char *const drop[][2] = {{"Flatten", NULL},
                                          {"Reshape", "{\"target_shape\": [12]}"},
                                          {"Permute", "{\"dims\": [2, 1]}"}};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
        kc_object *l = make(drop[i][0], drop[i][1]);
        kc_tensor *om = x, *y = call_ex(l, &x, 1, &mask, false, &om);
        ck_assert_msg(om == NULL, "%s produced a mask", drop[i][0]);
        kc_tensor_unref(y);
        kc_object_unref(l);
    }
    kc_tensor_unref(x), kc_tensor_unref(mask);
}
END_TEST

START_TEST(merge_masks_combine_as_keras)
{
    kc_tensor *a = tu_random(3, D(2, 3, 4), -1, 1, 1), *b = tu_random(3, D(2, 3, 4), -1, 1, 2);
    kc_tensor *ab[2] = {a, b};
    kc_tensor *ma = TU_T2(2, 3, 1, 1, 0, 1, 0, 1), *mb = TU_T2(2, 3, 1, 0, 1, 1, 1, 1);
    kc_object *add = make("Add", NULL);
    kc_tensor *om, *y;
    /* no masks: none */
    y = call_ex(add, ab, 2, NULL, false, &om);
    ck_assert_ptr_null(om);
    kc_tensor_unref(y);
    y = call_ex(add, ab, 2, (kc_tensor *[]){NULL, NULL}, false, &om);
    ck_assert_ptr_null(om);
    kc_tensor_unref(y);
    /* one mask: that mask; two: their AND */
    y = call_ex(add, ab, 2, (kc_tensor *[]){NULL, mb}, false, &om);
    tu_assert_close(om, 2, D(2, 3), F(1, 0, 1, 1, 1, 1), 0, 0, "Add mask of one input");
    kc_tensor_unref(y), kc_tensor_unref(om);
    y = call_ex(add, ab, 2, (kc_tensor *[]){ma, mb}, false, &om);
    tu_assert_close(om, 2, D(2, 3), F(1, 0, 0, 1, 0, 1), 0, 0, "Add mask AND");
    kc_tensor_unref(y), kc_tensor_unref(om);
    /* Concatenate on the feature axis: masks (2, 3) over inputs (2, 3, 4) and (2, 3, 5) */
    kc_tensor *c = tu_random(3, D(2, 3, 5), -1, 1, 3), *ac[2] = {a, c};
    kc_object *cat = make("Concatenate", NULL);
    y = call_ex(cat, ac, 2, (kc_tensor *[]){ma, NULL}, false, &om);
    tu_assert_close(om, 2, D(2, 3), F(1, 1, 0, 1, 0, 1), 0, 0,
                    "Concatenate mask, one input masked");
    kc_tensor_unref(y), kc_tensor_unref(om);
    y = call_ex(cat, ac, 2, (kc_tensor *[]){ma, mb}, false, &om);
    tu_assert_close(om, 2, D(2, 3), F(1, 0, 0, 1, 0, 1), 0, 0, "Concatenate mask, both masked");
    kc_tensor_unref(y), kc_tensor_unref(om);
    /* on the time axis: the masks are joined along time, unmasked steps true */
    kc_tensor *t1 = tu_random(3, D(2, 3, 1), -1, 1, 4), *t2 = tu_random(3, D(2, 2, 1), -1, 1, 5),
              *tt[2] = {t1, t2};
    kc_object *cat1 = make("Concatenate", "{\"axis\": 1}");
    y = call_ex(cat1, tt, 2, (kc_tensor *[]){ma, NULL}, false, &om);
    tu_assert_close(om, 2, D(2, 5), F(1, 1, 0, 1, 1, 1, 0, 1, 1, 1), 0, 0,
                    "Concatenate mask along time");
    kc_tensor_unref(y), kc_tensor_unref(om);
    /* the same with 4 features (tf.keras 2.15 fails here; the mask is broadcast as Keras 3) */
    kc_tensor *u2 = tu_random(3, D(2, 2, 4), -1, 1, 6), *au[2] = {a, u2},
              *mu = TU_T2(2, 2, 0, 1, 1, 1);
    y = call_ex(cat1, au, 2, (kc_tensor *[]){ma, mu}, false, &om);
    tu_assert_close(om, 2, D(2, 5), F(1, 1, 0, 0, 1, 1, 0, 1, 1, 1), 0, 0,
                    "Concatenate masks along time, 4 features");
    kc_tensor_unref(y), kc_tensor_unref(om), kc_tensor_unref(u2), kc_tensor_unref(mu);
    /* Dot drops masks */
    kc_object *dot = make("Dot", "{\"axes\": 2}");
    y = call_ex(dot, ab, 2, (kc_tensor *[]){ma, mb}, false, &om);
    ck_assert_ptr_null(om);
    kc_tensor_unref(y);
    kc_tensor_unref(a), kc_tensor_unref(b), kc_tensor_unref(c), kc_tensor_unref(ma),
        kc_tensor_unref(mb);
    kc_tensor_unref(t1), kc_tensor_unref(t2);
    kc_object_unref(add), kc_object_unref(cat), kc_object_unref(cat1), kc_object_unref(dot);
}
END_TEST

/* ---- a Functional model with merge layers
 * -------------------------------------------------------- */

START_TEST(functional_model_with_merge_layers_matches_hand_computation)
{
    kc_symbol *xa = kc_input(1, D(2), "a", &err), *xb = kc_input(1, D(3), "b", &err);
    kc_object *da = make("Dense", "{\"units\": 2, \"name\": \"da\"}"),
              *db = make("Dense", "{\"units\": 1, \"name\": \"db\"}");
    kc_object *cat = make("Concatenate", NULL),
              *out = make("Dense", "{\"units\": 1, \"name\": \"out\"}");
    kc_symbol *ha = kc_apply(da, &xa, 1, &err), *hb = kc_apply(db, &xb, 1, &err);
    kc_symbol *hab[2] = {ha, hb};
    kc_symbol *h = kc_apply(cat, hab, 2, &err);
    CK_NN(h, err);
    kc_shape hs = kc_symbol_shape(h);
    ck_assert_int_eq(hs.dims[1], 3);
    kc_symbol *y = kc_apply(out, &h, 1, &err);
    kc_symbol *ins[2] = {xa, xb};
    kc_object *m = kc_functional_new(ins, 2, &y, 1, NULL, &err);
    CK_NN(m, err);
    ck_assert_int_eq(kc_layer_num_weights(m), 6);
    kc_tensor *w[6] = {
        TU_T2(2, 2, 1, 2, 3, 4), TU_T1(2, 0.5f, -0.5f), /* da */
        TU_T2(3, 1, 1, -1, 2),   TU_T1(1, 1),           /* db */
        TU_T2(3, 1, 1, 2, 3),    TU_T1(1, -1),          /* out */
    };
    CK_OK(kc_layer_set_weights(m, w, 6, &err));
    kc_tensor *va = TU_T2(2, 2, 1, 1, 0, -1), *vb = TU_T2(2, 3, 1, 2, 3, -1, 0, 1),
              *vs[2] = {va, vb}, *res[1];
    int n = 0;
    CK_OK(kc_model_predict(m, vs, 2, 0, res, &n, &err));
    /* sample 0: da = (1 + 3 + .5, 2 + 4 - .5) = (4.5, 5.5); db = 1 - 2 + 6 + 1 = 6;
     *           out = 4.5 + 11 + 18 - 1 = 32.5
     * sample 1: da = (-3 + .5, -4 - .5) = (-2.5, -4.5); db = -1 + 0 + 2 + 1 = 2;
     *           out = -2.5 - 9 + 6 - 1 = -6.5 */
    tu_assert_close(res[0], 2, D(2, 1), F(32.5f, -6.5f), 1e-6, 0, "functional with Concatenate");
    /* round trip through the model config */
    json_t *cfg;
    CK_OK(kc_serialize(m, &cfg, &err));
    kc_object *m2;
    CK_OK(kc_deserialize(KC_KIND_MODEL, cfg, NULL, &m2, &err));
    CK_OK(kc_layer_set_weights(m2, w, 6, &err));
    kc_tensor *res2[1];
    CK_OK(kc_model_predict(m2, vs, 2, 0, res2, &n, &err));
    tu_assert_tensors_close(res2[0], res[0], 0, 0, "round-tripped model");
    json_t *cfg2;
    CK_OK(kc_serialize(m2, &cfg2, &err));
    ck_assert(json_equal(cfg, cfg2));
    for (int i = 0; i < 6; i++)
        kc_tensor_unref(w[i]);
    kc_tensor_unref(va), kc_tensor_unref(vb), kc_tensor_unref(res[0]), kc_tensor_unref(res2[0]);
    json_decref(cfg), json_decref(cfg2);
    kc_symbol_unref(xa), kc_symbol_unref(xb), kc_symbol_unref(ha), kc_symbol_unref(hb);
    kc_symbol_unref(h), kc_symbol_unref(y);
    kc_object_unref(da), kc_object_unref(db), kc_object_unref(cat), kc_object_unref(out);
    kc_object_unref(m), kc_object_unref(m2);
}
END_TEST

/* ---- TensorFlow.js goldens
 * ---------------------------------------------------------------------------- */

static kc_tensor *tensor_from_json(json_t *j)
{
    json_t *shape = json_object_get(j, "shape"), *data = json_object_get(j, "data");
    ck_assert(json_is_array(shape) && json_is_array(data));
    int64_t dims[KC_MAX_DIMS];
    int nd = (int)json_array_size(shape);
    for (int i = 0; i < nd; i++)
        dims[i] = json_integer_value(json_array_get(shape, i));
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, nd, dims, &err);
    CK_NN(t, err);
    ck_assert_int_eq((int64_t)json_array_size(data), kc_tensor_size(t));
    float *p = kc_tensor_f32(t);
    for (size_t i = 0; i < json_array_size(data); i++)
        p[i] = (float)json_number_value(json_array_get(data, i));
    return t;
}

/* JSON equality where numbers compare by value (2 == 2.0). */
static bool same_json(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_json(json_array_get(a, i), json_array_get(b, i))) return false;
        return true;
    }
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k,
                            v) if (!same_json(v, json_object_get(b, k))) return false;
        return true;
    }
    return json_equal(a, b);
}

static void check_golden(const char *file)
{
    json_error_t je;
    json_t *root = json_load_file(tu_data(file), 0, &je);
    ck_assert_msg(root != NULL, "%s: %s (line %d)", file, je.text, je.line);
    json_t *mc = json_object_get(root, "model_config");
    kc_object *m;
    CK_OK(kc_deserialize(KC_KIND_MODEL, mc, NULL, &m, &err));
    /* weights in file order, names as Keras writes them */
    json_t *jw = json_object_get(root, "weights");
    int nw = (int)json_array_size(jw);
    ck_assert_int_eq(kc_layer_num_weights(m), nw);
    kc_tensor *w[16];
    ck_assert(nw <= 16);
    for (int i = 0; i < nw; i++) {
        json_t *wi = json_array_get(jw, i);
        char name[128];
        snprintf(name, sizeof(name), "%s:0", json_string_value(json_object_get(wi, "name")));
        ck_assert_str_eq(kc_variable_name(kc_layer_weight(m, i)), name);
        w[i] = tensor_from_json(wi);
    }
    CK_OK(kc_layer_set_weights(m, w, nw, &err));
    json_t *jin = json_object_get(root, "inputs"), *jout = json_object_get(root, "outputs");
    kc_tensor *ins[4], *outs[KC_MAX_LAYER_OUTPUTS];
    int n_in = (int)json_array_size(jin), n_out = 0;
    for (int i = 0; i < n_in; i++)
        ins[i] = tensor_from_json(json_array_get(jin, i));
    CK_OK(kc_model_predict(m, ins, n_in, 0, outs, &n_out, &err));
    ck_assert_int_eq(n_out, (int)json_array_size(jout));
    /* the model written back as config and rebuilt predicts the same */
    json_t *mc2;
    kc_object *m2;
    CK_OK(kc_serialize(m, &mc2, &err));
    CK_OK(kc_deserialize(KC_KIND_MODEL, mc2, NULL, &m2, &err));
    CK_OK(kc_layer_set_weights(m2, w, nw, &err));
    kc_tensor *outs2[KC_MAX_LAYER_OUTPUTS];
    int n_out2 = 0;
    CK_OK(kc_model_predict(m2, ins, n_in, 0, outs2, &n_out2, &err));
    ck_assert_int_eq(n_out2, n_out);
    for (int i = 0; i < n_out; i++) {
        kc_tensor *want = tensor_from_json(json_array_get(jout, i));
        char what[128];
        snprintf(what, sizeof(what), "%s output %d vs TensorFlow.js", file, i);
        tu_assert_tensors_close(outs[i], want, 1e-5, 1e-6, what);
        snprintf(what, sizeof(what), "%s output %d after a config round trip", file, i);
        tu_assert_tensors_close(outs2[i], outs[i], 0, 0, what);
        kc_tensor_unref(want);
        kc_tensor_unref(outs[i]);
        kc_tensor_unref(outs2[i]);
    }
    json_decref(mc2);
    kc_object_unref(m2);
    /* our configs of these layers are the Keras 2 configs the golden was built from */
    json_t *layers = json_object_get(json_object_get(mc, "config"), "layers");
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *jl = json_array_get(layers, i);
        const char *cls = json_string_value(json_object_get(jl, "class_name"));
        if (!strcmp(cls, "InputLayer") || !strcmp(cls, "Dense")) continue;
        json_t *want = json_object_get(jl, "config");
        kc_object *l = kc_model_get_layer(m, json_string_value(json_object_get(want, "name")));
        ck_assert_ptr_nonnull(l);
        json_t *got;
        CK_OK(kc_object_get_config(l, &got, &err));
        char *t1 = kc_json_dump(want, &err), *t2 = kc_json_dump(got, &err);
        ck_assert_msg(same_json(want, got), "%s: %s config %s written as %s", file, cls, t1, t2);
        kc_json_free(t1), kc_json_free(t2);
        json_decref(got);
    }
    for (int i = 0; i < nw; i++)
        kc_tensor_unref(w[i]);
    for (int i = 0; i < n_in; i++)
        kc_tensor_unref(ins[i]);
    kc_object_unref(m);
    json_decref(root);
}

START_TEST(activation_layers_match_tensorflow_js)
{
    check_golden("layers/activations.json");
}
END_TEST

START_TEST(reshaping_layers_match_tensorflow_js)
{
    check_golden("layers/reshaping.json");
}
END_TEST

START_TEST(merge_layers_match_tensorflow_js)
{
    check_golden("layers/merge.json");
}
END_TEST

/* ---- allocation failures
 * ------------------------------------------------------------------------------ */

/* Call `cls` on xs (with masks, in training); keep the output in *keep. */
static kc_status run_layer(const char *cls, const char *cfg, kc_tensor **xs, int n,
                           kc_tensor **masks, kc_tensor **keep, kc_error *e)
{
    kc_object *l = kc_layer_create(cls, cfg, e);
    if (!l) return e->code;
    /* zeroed: kc_layer_call unrefs out_masks entries when the call itself
     * fails (reported to the lead; layer.c is not ours to change) */
    kc_tensor *out[KC_MAX_LAYER_OUTPUTS], *om[KC_MAX_LAYER_OUTPUTS] = {0};
    int n_out = 0;
    kc_status rc = kc_layer_call(l, xs, n, masks, true, out, om, &n_out, e);
    if (rc == KC_OK) {
        *keep = out[0];
        kc_tensor_unref(om[0]);
    }
    kc_object_unref(l);
    return rc;
}

/* Every core layer kind once, with masks and noise, under a gradient tape. */
static kc_status scenario(kc_error *e)
{
    kc_status rc = KC_OK;
    kc_tensor *x = NULL, *mask = NULL, *mask3 = NULL, *t[12] = {0}, *g = NULL;
    kc_tape *tape = NULL;
    x = kc_tensor_full(KC_FLOAT32, 3, D(2, 3, 4), 0.5, e);
    mask = kc_tensor_ones(KC_FLOAT32, 2, D(2, 3), e);
    mask3 =
        kc_tensor_ones(KC_FLOAT32, 3, D(2, 3, 4), e); /* Softmax masks are shaped like the input */
    tape = kc_tape_begin(0, e);
    if (!x || !mask || !mask3 || !tape || kc_tape_watch(tape, x, e) != KC_OK) goto out;
    kc_tensor *xx[2] = {x, x}, *mm[2] = {mask, NULL};
    if ((rc = run_layer("Softmax", "{\"axis\": [1, 2]}", &x, 1, &mask3, &t[0], e))) goto out;
    if ((rc = run_layer("Softmax", NULL, &x, 1, &mask3, &t[1], e))) goto out;
    if ((rc = run_layer("PReLU", "{\"shared_axes\": 1}", &x, 1, &mask, &t[2], e))) goto out;
    if ((rc = run_layer("Dropout", "{\"rate\": 0.5, \"seed\": 1}", &x, 1, &mask, &t[3], e)))
        goto out;
    if ((rc = run_layer("GaussianDropout", "{\"rate\": 0.5}", &x, 1, &mask, &t[4], e))) goto out;
    if ((rc = run_layer("ActivityRegularization", "{\"l2\": 0.1}", &x, 1, &mask, &t[5], e)))
        goto out;
    if ((rc = run_layer("Flatten", "{\"data_format\": \"channels_first\"}", &x, 1, NULL, &t[6], e)))
        goto out;
    if ((rc = run_layer("Reshape", "{\"target_shape\": [-1, 2]}", &x, 1, NULL, &t[7], e))) goto out;
    if ((rc = run_layer("Average", NULL, xx, 2, mm, &t[8], e))) goto out;
    if ((rc = run_layer("Concatenate", "{\"axis\": 1}", xx, 2, mm, &t[9], e))) goto out;
    if ((rc = run_layer("Dot", "{\"axes\": [2, 2], \"normalize\": true}", xx, 2, mm, &t[10], e)))
        goto out;
    if ((rc = run_layer("RepeatVector", "{\"n\": 2}", &t[6], 1, NULL, &t[11], e))) goto out;
    kc_tape_end(tape);
    kc_tensor *sum = kc_reduce_sum(t[10], NULL, 0, false, e);
    if (!sum) goto out;
    rc = kc_tape_gradient(tape, sum, &x, 1, &g, e);
    kc_tensor_unref(sum);
out:
    if (rc == KC_OK && e->code != KC_OK) rc = e->code;
    for (int i = 0; i < 12; i++)
        kc_tensor_unref(t[i]);
    kc_tensor_unref(g), kc_tensor_unref(x), kc_tensor_unref(mask), kc_tensor_unref(mask3);
    kc_tape_free(tape);
    kc_clear_session();
    return rc;
}

START_TEST(allocation_failures_are_enomem_without_leaks)
{
    int failures = tu_alloc_failure_sweep(scenario, 100000);
    ck_assert_msg(failures > 100, "only %d allocation points were exercised", failures);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("layers_core");
    TCase *tc = tcase_create("core layers");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, core_layers_get_keras_names);
    tcase_add_test(tc, activation_layers_as_activations);
    tcase_add_test(tc, activation_layers_as_activations_have_gradients);
    tcase_add_test(tc, configs_round_trip_for_every_class);
    tcase_add_test(tc, default_configs_match_tf_keras);
    tcase_add_test(tc, bad_configs_are_named_errors);
    tcase_add_test(tc, bad_input_shapes_are_named_errors);
    tcase_add_test(tc, call_errors_name_the_layer_and_shapes);
    tcase_add_test(tc, activation_layers_match_keras_examples);
    tcase_add_test(tc, softmax_layer_axes_and_mask);
    tcase_add_test(tc, prelu_uses_its_alpha_per_position_or_shared);
    tcase_add_test(tc, dropout_is_inverted_and_only_in_training);
    tcase_add_test(tc, dropout_noise_shape_broadcasts_one_decision);
    tcase_add_test(tc, gaussian_noise_layers_have_keras_statistics);
    tcase_add_test(tc, activity_regularization_adds_its_penalty_per_sample);
    tcase_add_test(tc, reshaping_layers_move_values_as_keras);
    tcase_add_test(tc, merge_layers_fold_their_inputs);
    tcase_add_test(tc, concatenate_joins_along_its_axis);
    tcase_add_test(tc, dot_is_keras_batch_dot);
    tcase_add_test(tc, activation_layer_gradients_match_finite_differences);
    tcase_add_test(tc, regularization_layer_gradients_match_finite_differences);
    tcase_add_test(tc, reshaping_and_merge_gradients_match_finite_differences);
    tcase_add_test(tc, masks_pass_through_element_wise_layers);
    tcase_add_test(tc, merge_masks_combine_as_keras);
    tcase_add_test(tc, functional_model_with_merge_layers_matches_hand_computation);
    tcase_add_test(tc, activation_layers_match_tensorflow_js);
    tcase_add_test(tc, reshaping_layers_match_tensorflow_js);
    tcase_add_test(tc, merge_layers_match_tensorflow_js);
    tcase_add_test(tc, allocation_failures_are_enomem_without_leaks);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
