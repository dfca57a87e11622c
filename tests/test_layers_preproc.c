/* Preprocessing layers: Rescaling, Resizing, CenterCrop, Normalization and
 * the augmentation layers RandomFlip, RandomRotation, RandomZoom,
 * RandomTranslation, RandomCrop, RandomContrast, RandomBrightness;
 * CategoryEncoding and Discretization; the named error of the text
 * preprocessing layers.
 *
 * References (tests/data/preproc, see tests/data/README.md):
 *   - TensorFlow.js: a Rescaling / CenterCrop model, tf.image.resizeBilinear
 *     and resizeNearestNeighbor with half-pixel centers, tf.image.transform
 *     in the reflect / wrap / nearest fill modes (make-goldens.js);
 *   - numpy, for the resize methods TensorFlow.js lacks (make-refs.py,
 *     itself checked against the values TensorFlow's own tests publish);
 *   - a model with an adapted Normalization (int64 count) and the other
 *     layers as tf.keras 2.15 (.h5) and Keras 3.7 (.keras) save it, and
 *     numpy's outputs (make-files.py);
 *   - small hand-computed cases: exact flips, quarter turns, shifts with
 *     every fill mode, zooms, crops, statistics.
 * Augmentations are checked for identity in inference, determinism per
 * seed, geometry with fixed factors, value ranges; every layer's gradient
 * against finite differences; configs round trip in both Keras dialects;
 * models with these layers round trip through .h5. */
#include "golden.h"
#include "saving_util.h"

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

static kc_tensor *call(kc_object *l, kc_tensor *x, bool training)
{
    kc_tensor *y = kc_layer_call1(l, x, training, &err);
    ck_assert_msg(y != NULL, "%s: %s (%s)", kc_layer_name(l), err.message, err.context);
    return y;
}

/* A layer made from cfg applied once to x. */
static kc_tensor *apply(const char *cls, const char *cfg, kc_tensor *x, bool training)
{
    kc_object *l = make(cls, cfg);
    kc_tensor *y = call(l, x, training);
    kc_object_unref(l);
    return y;
}

/* 0, 1, 2, ... as a float32 tensor. */
static kc_tensor *iota(int ndim, const int64_t *dims)
{
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, ndim, dims, &err);
    CK_NN(t, err);
    float *p = kc_tensor_f32(t);
    for (int64_t i = 0; i < kc_tensor_size(t); i++) p[i] = (float)i;
    return t;
}

static float at4(const kc_tensor *t, int64_t b, int64_t y, int64_t x, int64_t c)
{
    const int64_t *d = kc_tensor_dims(t);
    return ((const float *)kc_tensor_cdata(t))[((b * d[1] + y) * d[2] + x) * d[3] + c];
}

static bool same_values(const kc_tensor *a, const kc_tensor *b)
{
    return kc_tensor_same_shape(a, b) &&
           memcmp(kc_tensor_cdata(a), kc_tensor_cdata(b), kc_tensor_nbytes(a)) == 0;
}

/* ---- names and configs ------------------------------------------------------------------- */

START_TEST(preprocessing_layers_get_keras_names)
{
    static const char *const cases[][3] = {
        {"Rescaling", "{\"scale\": 2}", "rescaling"},
        {"Resizing", "{\"height\": 2, \"width\": 2}", "resizing"},
        {"CenterCrop", "{\"height\": 2, \"width\": 2}", "center_crop"},
        {"Normalization", NULL, "normalization"},
        {"RandomFlip", NULL, "random_flip"},
        {"RandomRotation", "{\"factor\": 0.1}", "random_rotation"},
        {"RandomZoom", "{\"height_factor\": 0.1}", "random_zoom"},
        {"RandomTranslation", "{\"height_factor\": 0.1, \"width_factor\": 0.1}", "random_translation"},
        {"RandomCrop", "{\"height\": 2, \"width\": 2}", "random_crop"},
        {"RandomContrast", "{\"factor\": 0.1}", "random_contrast"},
        {"RandomBrightness", "{\"factor\": 0.1}", "random_brightness"},
        {"RandomBrightness", "{\"factor\": 0.1}", "random_brightness_1"},
        {"CategoryEncoding", "{\"num_tokens\": 3}", "category_encoding"},
        {"Discretization", "{\"bin_boundaries\": [0]}", "discretization"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_object *l = make(cases[i][0], cases[i][1]);
        ck_assert_str_eq(kc_layer_name(l), cases[i][2]);
        kc_object_unref(l);
    }
}
END_TEST

/* Configs that must come back unchanged, in tf.keras 2.15's form and in
 * Keras 3's (data_format and the Resizing keys only Keras 3 has). */
static const char *const round_trips[][2] = {
    {"Rescaling", "{\"name\": \"r\", \"trainable\": true, \"dtype\": \"float32\", \"scale\": 0.00392156862745098, \"offset\": 0.0}"},
    {"Rescaling", "{\"name\": \"r\", \"trainable\": true, \"dtype\": \"float32\", \"scale\": [0.5, 0.25, 2], \"offset\": -1}"},
    {"Rescaling", "{\"name\": \"r\", \"trainable\": true, \"dtype\": \"float32\", \"scale\": {\"class_name\": \"__numpy__\", \"config\": {\"value\": [1.0, 2.0], \"dtype\": \"float32\"}}, \"offset\": [[0.5, 0.25]]}"},
    {"Resizing", "{\"name\": \"z\", \"trainable\": true, \"dtype\": \"float32\", \"height\": 4, \"width\": 5, \"interpolation\": \"lanczos3\", \"crop_to_aspect_ratio\": true}"},
    {"Resizing", "{\"name\": \"z\", \"trainable\": true, \"dtype\": \"float32\", \"height\": 4, \"width\": 5, \"interpolation\": \"bicubic\", \"crop_to_aspect_ratio\": false, \"pad_to_aspect_ratio\": true, \"fill_mode\": \"constant\", \"fill_value\": 0.5, \"antialias\": true, \"data_format\": \"channels_last\"}"},
    {"Resizing", "{\"name\": \"z\", \"trainable\": true, \"dtype\": \"float32\", \"height\": 4, \"width\": 5, \"interpolation\": \"mitchellcubic\", \"crop_to_aspect_ratio\": false, \"pad_to_aspect_ratio\": false, \"fill_mode\": \"constant\", \"fill_value\": 0.0, \"antialias\": false, \"data_format\": \"channels_first\"}"},
    {"CenterCrop", "{\"name\": \"c\", \"trainable\": true, \"dtype\": \"float32\", \"height\": 3, \"width\": 7}"},
    {"CenterCrop", "{\"name\": \"c\", \"trainable\": true, \"dtype\": \"float32\", \"height\": 3, \"width\": 7, \"data_format\": \"channels_last\"}"},
    {"Normalization", "{\"name\": \"n\", \"trainable\": true, \"dtype\": \"float32\", \"axis\": [-1], \"invert\": false, \"mean\": null, \"variance\": null}"},
    {"Normalization", "{\"name\": \"n\", \"trainable\": true, \"dtype\": \"float32\", \"axis\": [1, 2], \"invert\": true, \"mean\": [[1.0, 2.0]], \"variance\": [[3.0, 4.0]]}"},
    {"Normalization", "{\"name\": \"n\", \"trainable\": true, \"dtype\": \"float32\", \"axis\": [], \"invert\": false, \"mean\": 0.5, \"variance\": 2.0}"},
    {"RandomFlip", "{\"name\": \"f\", \"trainable\": true, \"dtype\": \"float32\", \"mode\": \"vertical\", \"seed\": 12}"},
    {"RandomFlip", "{\"name\": \"f\", \"trainable\": true, \"dtype\": \"float32\", \"mode\": \"horizontal\", \"seed\": null, \"data_format\": \"channels_first\"}"},
    {"RandomRotation", "{\"name\": \"o\", \"trainable\": true, \"dtype\": \"float32\", \"factor\": 0.2, \"fill_mode\": \"reflect\", \"fill_value\": 0.0, \"interpolation\": \"bilinear\", \"seed\": null}"},
    {"RandomRotation", "{\"name\": \"o\", \"trainable\": true, \"dtype\": \"float32\", \"factor\": [-0.1, 0.3], \"fill_mode\": \"constant\", \"fill_value\": 1.5, \"interpolation\": \"nearest\", \"value_range\": [0, 255], \"seed\": 3, \"data_format\": \"channels_last\"}"},
    {"RandomZoom", "{\"name\": \"z\", \"trainable\": true, \"dtype\": \"float32\", \"height_factor\": [-0.3, 0.2], \"width_factor\": null, \"fill_mode\": \"wrap\", \"fill_value\": 0.0, \"interpolation\": \"bilinear\", \"seed\": 1}"},
    {"RandomZoom", "{\"name\": \"z\", \"trainable\": true, \"dtype\": \"float32\", \"height_factor\": 0.5, \"width_factor\": 0.25, \"fill_mode\": \"nearest\", \"fill_value\": 0.0, \"interpolation\": \"nearest\", \"seed\": null}"},
    {"RandomTranslation", "{\"name\": \"t\", \"trainable\": true, \"dtype\": \"float32\", \"height_factor\": 0.1, \"width_factor\": [-0.2, 0.3], \"fill_mode\": \"constant\", \"fill_value\": -1.0, \"interpolation\": \"bilinear\", \"seed\": 99}"},
    {"RandomCrop", "{\"name\": \"rc\", \"trainable\": true, \"dtype\": \"float32\", \"height\": 5, \"width\": 6, \"seed\": 1337}"},
    {"RandomCrop", "{\"name\": \"rc\", \"trainable\": true, \"dtype\": \"float32\", \"height\": 5, \"width\": 6, \"seed\": 4, \"data_format\": \"channels_last\"}"},
    {"RandomContrast", "{\"name\": \"k\", \"trainable\": true, \"dtype\": \"float32\", \"factor\": 0.3, \"seed\": null}"},
    {"RandomContrast", "{\"name\": \"k\", \"trainable\": true, \"dtype\": \"float32\", \"factor\": [0.1, 0.4], \"value_range\": [0, 1], \"seed\": 5, \"data_format\": \"channels_last\"}"},
    {"RandomBrightness", "{\"name\": \"b\", \"trainable\": true, \"dtype\": \"float32\", \"factor\": [-0.2, 0.2], \"value_range\": [0, 255], \"seed\": null}"},
    {"RandomBrightness", "{\"name\": \"b\", \"trainable\": true, \"dtype\": \"float32\", \"factor\": 0.5, \"value_range\": [-1.0, 1.0], \"seed\": 8}"},
    {"CategoryEncoding", "{\"name\": \"e\", \"trainable\": true, \"dtype\": \"float32\", \"num_tokens\": 5, \"output_mode\": \"count\", \"sparse\": true}"},
    {"Discretization", "{\"name\": \"d\", \"trainable\": true, \"dtype\": \"float32\", \"bin_boundaries\": [0.0, 1.5], \"num_bins\": null, \"epsilon\": 0.01, \"output_mode\": \"int\", \"sparse\": false}"},
    {"Discretization", "{\"name\": \"d\", \"trainable\": true, \"dtype\": \"float32\", \"bin_boundaries\": [-1, 0, 1], \"num_bins\": 4, \"epsilon\": 0.001, \"output_mode\": \"one_hot\", \"sparse\": false}"},
};

START_TEST(configs_round_trip_in_both_dialects)
{
    for (size_t i = 0; i < sizeof(round_trips) / sizeof(round_trips[0]); i++) {
        json_error_t je;
        json_t *want = json_loads(round_trips[i][1], 0, &je);
        ck_assert_msg(want != NULL, "case %zu: %s", i, je.text);
        kc_object *l = make(round_trips[i][0], round_trips[i][1]);
        json_t *got = NULL;
        CK_OK(kc_object_get_config(l, &got, &err));
        char *a = json_dumps(got, JSON_SORT_KEYS), *b = json_dumps(want, JSON_SORT_KEYS);
        ck_assert_msg(json_equal(got, want), "%s round trip:\n got  %s\n want %s", round_trips[i][0], a, b);
        free(a), free(b);
        json_decref(got), json_decref(want);
        kc_object_unref(l);
    }
}
END_TEST

START_TEST(default_configs_are_tf_keras_2_15s)
{
    static const char *const cases[][3] = {
        {"Resizing", "{\"height\": 2, \"width\": 3}",
         "{\"name\": \"resizing\", \"trainable\": true, \"dtype\": \"float32\", \"height\": 2, \"width\": 3, \"interpolation\": \"bilinear\", \"crop_to_aspect_ratio\": false}"},
        {"Normalization", NULL,
         "{\"name\": \"normalization\", \"trainable\": true, \"dtype\": \"float32\", \"axis\": [-1], \"invert\": false, \"mean\": null, \"variance\": null}"},
        {"RandomFlip", NULL,
         "{\"name\": \"random_flip\", \"trainable\": true, \"dtype\": \"float32\", \"mode\": \"horizontal_and_vertical\", \"seed\": null}"},
        {"RandomZoom", "{\"height_factor\": 0.2}",
         "{\"name\": \"random_zoom\", \"trainable\": true, \"dtype\": \"float32\", \"height_factor\": 0.2, \"width_factor\": null, \"fill_mode\": \"reflect\", \"fill_value\": 0.0, \"interpolation\": \"bilinear\", \"seed\": null}"},
        {"RandomBrightness", "{\"factor\": 0.2}",
         "{\"name\": \"random_brightness\", \"trainable\": true, \"dtype\": \"float32\", \"factor\": 0.2, \"value_range\": [0.0, 255.0], \"seed\": null}"},
        {"Rescaling", "{\"scale\": 2}",
         "{\"name\": \"rescaling\", \"trainable\": true, \"dtype\": \"float32\", \"scale\": 2, \"offset\": 0.0}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_object *l = make(cases[i][0], cases[i][1]);
        json_t *got = NULL, *want = json_loads(cases[i][2], 0, NULL);
        CK_OK(kc_object_get_config(l, &got, &err));
        char *a = json_dumps(got, JSON_SORT_KEYS);
        ck_assert_msg(want && json_equal(got, want), "%s default config: %s", cases[i][0], a);
        free(a);
        json_decref(got), json_decref(want);
        kc_object_unref(l);
        kc_clear_session();
    }
}
END_TEST

START_TEST(bad_configs_are_named_errors)
{
    static const struct { const char *cls, *cfg, *needle; } cases[] = {
        {"Rescaling", "{}", "scale: missing"},
        {"Rescaling", "{\"scale\": \"big\"}", "scale: expected a number"},
        {"Rescaling", "{\"scale\": [[1, 2], [3]]}", "rectangular list"},
        {"Rescaling", "{\"scale\": {\"class_name\": \"Constant\", \"config\": {}}}", "numpy array"},
        {"Resizing", "{\"height\": 4}", "width: missing"},
        {"Resizing", "{\"height\": 0, \"width\": 4}", "height: expected a positive integer"},
        {"Resizing", "{\"height\": 4, \"width\": 4, \"interpolation\": \"cubic\"}", "interpolation: expected one of"},
        {"Resizing", "{\"height\": 4, \"width\": 4, \"crop_to_aspect_ratio\": true, \"pad_to_aspect_ratio\": true}", "only one of"},
        {"Resizing", "{\"height\": 4, \"width\": 4, \"fill_mode\": \"reflect\"}", "fill_mode: expected one of \"constant\""},
        {"CenterCrop", "{\"height\": 4, \"width\": -1}", "width: expected a positive integer"},
        {"CenterCrop", "{\"height\": 4, \"width\": 4, \"data_format\": \"nchw\"}", "data_format"},
        {"Normalization", "{\"mean\": [1, 2]}", "mean and variance must be given together"},
        {"Normalization", "{\"mean\": [1, 2], \"variance\": [1]}", "same shape"},
        {"Normalization", "{\"axis\": -1, \"mean\": [[1]], \"variance\": [[1]]}", "more than the 1 kept axes"},
        {"Normalization", "{\"axis\": \"last\"}", "axis"},
        {"RandomFlip", "{\"mode\": \"diagonal\"}", "mode: expected one of"},
        {"RandomRotation", "{}", "factor: missing"},
        {"RandomRotation", "{\"factor\": [0.1, 0.2, 0.3]}", "factor: expected a finite number or a list of two"},
        {"RandomRotation", "{\"factor\": 0.1, \"fill_mode\": \"mirror\"}", "fill_mode: expected one of"},
        {"RandomRotation", "{\"factor\": 0.1, \"interpolation\": \"bicubic\"}", "interpolation: expected one of"},
        {"RandomZoom", "{\"height_factor\": 1.5}", "height_factor: expected values in [-1, 1], got 1.5"},
        {"RandomZoom", "{\"height_factor\": 0.5, \"width_factor\": [-2, 0]}", "width_factor: expected values of at least -1"},
        {"RandomTranslation", "{\"height_factor\": 0.1}", "width_factor: missing"},
        {"RandomTranslation", "{\"height_factor\": 0.1, \"width_factor\": [0, 1.2]}", "width_factor: expected values in [-1, 1]"},
        {"RandomCrop", "{\"height\": 3}", "width: missing"},
        {"RandomCrop", "{\"height\": 3, \"width\": 3, \"seed\": \"x\"}", "seed"},
        {"RandomContrast", "{\"factor\": -0.1}", "factor: expected non-negative values"},
        {"RandomContrast", "{\"factor\": [1.5, 0.1]}", "the first at most 1"},
        {"RandomBrightness", "{\"factor\": 1.5}", "factor: expected values in [-1, 1]"},
        {"RandomBrightness", "{\"factor\": 0.1, \"value_range\": 255}", "value_range: expected a list of two numbers"},
        {"RandomBrightness", "{\"factor\": \"NaN\"}", "finite"},
        {"CategoryEncoding", "{}", "num_tokens: missing"},
        {"CategoryEncoding", "{\"num_tokens\": 3, \"output_mode\": \"tf_idf\"}", "output_mode: expected one of"},
        {"Discretization", "{\"bin_boundaries\": [1, 0]}", "expected sorted numbers"},
        {"Discretization", "{\"bin_boundaries\": [[1], [0]]}", "expected a list of numbers"},
        {"Discretization", "{\"bin_boundaries\": [0], \"output_mode\": \"binary\"}", "output_mode"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_error_clear(&err);
        kc_object *l = kc_layer_create(cases[i].cls, cases[i].cfg, &err);
        ck_assert_msg(l == NULL, "%s %s: accepted", cases[i].cls, cases[i].cfg);
        CK_ERR(err, KC_EFORMAT, cases[i].needle);
    }
}
END_TEST

START_TEST(bad_input_shapes_are_named_errors)
{
    static const struct { const char *cls, *cfg; int ndim; int64_t dims[5]; const char *needle; } cases[] = {
        {"Resizing", "{\"height\": 2, \"width\": 2}", 2, {3, 4}, "expects images of rank 3"},
        {"CenterCrop", "{\"height\": 2, \"width\": 2}", 5, {1, 2, 3, 4, 5}, "CenterCrop expects images"},
        {"RandomFlip", NULL, 2, {3, 4}, "RandomFlip expects images"},
        {"RandomContrast", "{\"factor\": 0.1}", 5, {1, 1, 1, 1, 1}, "RandomContrast expects images"},
        {"Rescaling", "{\"scale\": [1, 2, 3]}", 2, {3, 4}, "scale of shape (3,) does not broadcast"},
        {"Rescaling", "{\"scale\": 1, \"offset\": [[1], [2]]}", 2, {3, 4}, "offset of shape (2, 1)"},
        {"Normalization", "{\"axis\": 3}", 2, {3, 4}, "axis 3 is out of range"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_error_clear(&err);
        kc_object *l = make(cases[i].cls, cases[i].cfg);
        kc_tensor *x = kc_tensor_zeros(KC_FLOAT32, cases[i].ndim, cases[i].dims, &err);
        kc_tensor *y = kc_layer_call1(l, x, false, &err);
        ck_assert_msg(y == NULL, "%s: accepted", cases[i].cls);
        CK_ERR(err, KC_ESHAPE, cases[i].needle);
        kc_tensor_unref(x);
        kc_object_unref(l);
    }
    /* a built Normalization keeps its kept sizes */
    kc_error_clear(&err);
    kc_object *n = make("Normalization", NULL);
    kc_tensor *a = kc_tensor_ones(KC_FLOAT32, 2, D(2, 3), &err), *b = kc_tensor_ones(KC_FLOAT32, 2, D(2, 4), &err);
    kc_tensor *y = call(n, a, false);
    ck_assert_ptr_null(kc_layer_call1(n, b, false, &err));
    CK_ERR(err, KC_ESHAPE, "was built for inputs");
    kc_tensor_unref(y), kc_tensor_unref(a), kc_tensor_unref(b);
    kc_object_unref(n);
}
END_TEST

/* ---- Rescaling ---------------------------------------------------------------------------- */

START_TEST(rescaling_multiplies_then_adds)
{
    kc_tensor *x = TU_T2(2, 3, 0, 127.5f, 255, 10, 20, 30);
    kc_tensor *y = apply("Rescaling", "{\"scale\": 0.00784313725490196, \"offset\": -1}", x, false);
    float s = 0.00784313725490196f;
    tu_assert_close(y, 2, D(2, 3), F(0 * s - 1, 127.5f * s - 1, 255 * s - 1, 10 * s - 1, 20 * s - 1, 30 * s - 1),
                    0, 0, "Rescaling(1/127.5, -1)");
    kc_tensor_unref(y);
    /* per-channel lists broadcast along the last axis; numpy arrays alike */
    y = apply("Rescaling", "{\"scale\": [1, 2, 3], \"offset\": [0.5, 0, -0.5]}", x, true);
    tu_assert_close(y, 2, D(2, 3), F(0.5f, 255, 764.5f, 10.5f, 40, 89.5f), 0, 0, "per-channel Rescaling");
    kc_tensor_unref(y);
    y = apply("Rescaling",
              "{\"scale\": {\"class_name\": \"__numpy__\", \"config\": {\"value\": [[2], [3]], \"dtype\": \"float32\"}}}",
              x, false);
    tu_assert_close(y, 2, D(2, 3), F(0, 255, 510, 30, 60, 90), 0, 0, "numpy-array Rescaling");
    kc_tensor_unref(y);
    kc_tensor_unref(x);
    /* integer images become float32 */
    kc_tensor *xi = kc_tensor_from_data(KC_INT32, 1, D(3), (const int32_t[]){0, 128, 255}, &err);
    CK_NN(xi, err);
    y = apply("Rescaling", "{\"scale\": 0.5}", xi, false);
    ck_assert_int_eq(kc_tensor_dtype(y), KC_FLOAT32);
    tu_assert_close(y, 1, D(3), F(0, 64, 127.5f), 0, 0, "int32 input");
    kc_tensor_unref(y), kc_tensor_unref(xi);
}
END_TEST

/* ---- Resizing ----------------------------------------------------------------------------- */

/* Every case of a reference file through a Resizing layer. */
static int check_resize_cases(const char *rel, double rtol, double atol)
{
    json_t *root = tu_load_json(rel);
    const json_t *cases = json_object_get(root, "cases");
    int n = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i);
        const char *op = json_string_value(json_object_get(c, "op"));
        if (op && strcmp(op, "resize") != 0) continue;
        const json_t *size = json_object_get(c, "size");
        char cfg[256];
        snprintf(cfg, sizeof(cfg), "{\"height\": %lld, \"width\": %lld, \"interpolation\": \"%s\", \"antialias\": %s}",
                 (long long)json_integer_value(json_array_get(size, 0)),
                 (long long)json_integer_value(json_array_get(size, 1)),
                 json_string_value(json_object_get(c, "method")),
                 json_is_true(json_object_get(c, "antialias")) ? "true" : "false");
        kc_tensor *x = tu_json_tensor(json_object_get(c, "input"));
        kc_tensor *want = tu_json_tensor(json_object_get(c, "output"));
        kc_tensor *y = apply("Resizing", cfg, x, false);
        char what[512];
        snprintf(what, sizeof(what), "%s: case %zu, Resizing %s on %lld x %lld", rel, i, cfg,
                 (long long)kc_tensor_dim(x, 1), (long long)kc_tensor_dim(x, 2));
        tu_assert_tensors_close(y, want, rtol, atol, what);
        kc_tensor_unref(x), kc_tensor_unref(want), kc_tensor_unref(y);
        n++;
    }
    json_decref(root);
    return n;
}

START_TEST(resizing_matches_tensorflow_for_every_method)
{
    /* nearest, bicubic (TensorFlow's table), area, lanczos3/5, gaussian,
     * mitchellcubic; antialiased downscales of all the others */
    ck_assert_int_eq(check_resize_cases("preproc/resize_refs.json", 1e-5, 2e-6), 53);
    /* bilinear and nearest against TensorFlow.js' kernels */
    ck_assert_int_eq(check_resize_cases("preproc/image_ops.json", 1e-5, 1e-6), 10);
}
END_TEST

START_TEST(resizing_published_tensorflow_values)
{
    /* tensorflow/python/ops/image_ops_test.py, ResizeImagesV2Test.testResizeUp:
     * the 3 x 2 image [64, 32; 32, 64; 50, 100] to 6 x 4 (atol 1e-4 there) */
    static const struct { const char *method; float want[24]; } cases[] = {
        {"bilinear", {64.0f, 56.0f, 40.0f, 32.0f, 56.0f, 52.0f, 44.0f, 40.0f, 40.0f, 44.0f, 52.0f, 56.0f,
                      36.5f, 45.625f, 63.875f, 73.0f, 45.5f, 56.875f, 79.625f, 91.0f, 50.0f, 62.5f, 87.5f, 100.0f}},
        {"bicubic", {70.1453f, 59.0252f, 36.9748f, 25.8547f, 59.3195f, 53.3386f, 41.4789f, 35.4981f,
                     36.383f, 41.285f, 51.0051f, 55.9071f, 30.2232f, 42.151f, 65.8032f, 77.731f,
                     41.6492f, 55.823f, 83.9288f, 98.1026f, 47.0363f, 62.2744f, 92.4903f, 107.7284f}},
        {"lanczos3", {75.8294f, 59.6281f, 38.4313f, 22.23f, 60.6851f, 52.0037f, 40.6454f, 31.964f,
                      35.8344f, 41.0779f, 47.9383f, 53.1818f, 24.6968f, 43.0769f, 67.1244f, 85.5045f,
                      35.7939f, 56.4713f, 83.5243f, 104.2017f, 44.8138f, 65.1949f, 91.8603f, 112.2413f}},
        {"gaussian", {61.1087f, 54.6926f, 41.3074f, 34.8913f, 54.6926f, 51.4168f, 44.5832f, 41.3074f,
                      41.696f, 45.2456f, 52.6508f, 56.2004f, 39.4273f, 47.0526f, 62.9602f, 70.5855f,
                      47.3008f, 57.3042f, 78.173f, 88.1764f, 51.4771f, 62.3638f, 85.0752f, 95.9619f}},
    };
    kc_tensor *x = tu_tensor(4, D(1, 3, 2, 1), F(64, 32, 32, 64, 50, 100));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cfg[128];
        snprintf(cfg, sizeof(cfg), "{\"height\": 6, \"width\": 4, \"interpolation\": \"%s\"}", cases[i].method);
        kc_tensor *y = apply("Resizing", cfg, x, false);
        tu_assert_close(y, 4, D(1, 6, 4, 1), cases[i].want, 0, 1e-4, cases[i].method);
        kc_tensor_unref(y);
    }
    kc_tensor_unref(x);
}
END_TEST

START_TEST(resizing_crops_or_pads_to_the_aspect_ratio)
{
    /* 4 x 6 to 2 x 2 with crop_to_aspect_ratio: the centred 4 x 4 window
     * (columns 1-4), then bilinear 4 -> 2 averages pairs of rows and columns */
    kc_tensor *x = iota(4, D(1, 4, 6, 1));
    kc_tensor *y = apply("Resizing", "{\"height\": 2, \"width\": 2, \"crop_to_aspect_ratio\": true}", x, false);
    float want[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            want[i * 2 + j] = (at4(x, 0, 2 * i, 1 + 2 * j, 0) + at4(x, 0, 2 * i, 2 + 2 * j, 0) +
                               at4(x, 0, 2 * i + 1, 1 + 2 * j, 0) + at4(x, 0, 2 * i + 1, 2 + 2 * j, 0)) / 4;
    tu_assert_close(y, 4, D(1, 2, 2, 1), want, 1e-6, 1e-6, "crop_to_aspect_ratio");
    kc_tensor_unref(y);
    /* 2 x 4 to 4 x 4 with pad_to_aspect_ratio: one row of fill_value above
     * and below, then an identity resize */
    kc_tensor *x2 = iota(4, D(1, 2, 4, 1));
    y = apply("Resizing", "{\"height\": 4, \"width\": 4, \"pad_to_aspect_ratio\": true, \"fill_value\": -3}", x2, false);
    tu_assert_close(y, 4, D(1, 4, 4, 1), F(-3, -3, -3, -3, 0, 1, 2, 3, 4, 5, 6, 7, -3, -3, -3, -3), 0, 0,
                    "pad_to_aspect_ratio");
    kc_tensor_unref(y);
    /* channels_first and one unbatched image give the same numbers */
    kc_tensor *img = tu_random(3, D(5, 7, 2), 0, 1, 3);
    kc_tensor *batch = kc_reshape(img, 4, D(1, 5, 7, 2), &err);
    kc_tensor *want3 = apply("Resizing", "{\"height\": 3, \"width\": 4, \"interpolation\": \"bicubic\"}", batch, false);
    y = apply("Resizing", "{\"height\": 3, \"width\": 4, \"interpolation\": \"bicubic\"}", img, false);
    kc_tensor *w3 = kc_reshape(want3, 3, D(3, 4, 2), &err);
    tu_assert_tensors_close(y, w3, 0, 0, "unbatched image");
    kc_tensor_unref(y);
    kc_tensor *cf = kc_transpose(batch, (const int[]){0, 3, 1, 2}, &err);
    y = apply("Resizing", "{\"height\": 3, \"width\": 4, \"interpolation\": \"bicubic\", \"data_format\": \"channels_first\"}", cf, false);
    kc_tensor *back = kc_transpose(y, (const int[]){0, 2, 3, 1}, &err);
    tu_assert_tensors_close(back, want3, 0, 0, "channels_first");
    kc_tensor_unref(back), kc_tensor_unref(y), kc_tensor_unref(cf), kc_tensor_unref(w3);
    kc_tensor_unref(want3), kc_tensor_unref(batch), kc_tensor_unref(img), kc_tensor_unref(x2), kc_tensor_unref(x);
}
END_TEST

/* ---- CenterCrop -------------------------------------------------------------------------- */

START_TEST(center_crop_cuts_the_centre_or_smart_resizes)
{
    kc_tensor *x = iota(4, D(2, 5, 7, 2));
    kc_tensor *y = apply("CenterCrop", "{\"height\": 2, \"width\": 4}", x, false);
    ck_assert_int_eq(kc_tensor_dim(y, 1), 2);
    /* offsets (5 - 2) // 2 = 1 and (7 - 4) // 2 = 1 */
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++)
                for (int c = 0; c < 2; c++)
                    ck_assert_float_eq(at4(y, b, i, j, c), at4(x, b, 1 + i, 1 + j, c));
    kc_tensor_unref(y);
    /* the same size is the identity */
    y = apply("CenterCrop", "{\"height\": 5, \"width\": 7}", x, false);
    ck_assert(same_values(x, y));
    kc_tensor_unref(y);
    /* smaller on one axis: smart_resize (crop to the aspect ratio, bilinear) */
    y = apply("CenterCrop", "{\"height\": 6, \"width\": 3}", x, false);
    kc_tensor *want = apply("Resizing", "{\"height\": 6, \"width\": 3, \"crop_to_aspect_ratio\": true}", x, false);
    tu_assert_tensors_close(y, want, 0, 0, "CenterCrop upsizing");
    kc_tensor_unref(want), kc_tensor_unref(y), kc_tensor_unref(x);
}
END_TEST

START_TEST(rescaling_and_center_crop_match_tensorflow_js)
{
    tu_check_golden("preproc/rescale_crop.json", 1e-5, 1e-6);
}
END_TEST

/* ---- Normalization ----------------------------------------------------------------------- */

START_TEST(normalization_uses_config_statistics)
{
    kc_tensor *x = TU_T2(2, 3, 1, 2, 3, 4, 5, 6);
    kc_tensor *y = apply("Normalization", "{\"mean\": [1, 2, 3], \"variance\": [4, 1, 0.25]}", x, false);
    tu_assert_close(y, 2, D(2, 3), F(0, 0, 0, 1.5f, 3, 6), 1e-6, 0, "per-feature statistics");
    kc_tensor_unref(y);
    y = apply("Normalization", "{\"mean\": 2, \"variance\": 4}", x, false);
    tu_assert_close(y, 2, D(2, 3), F(-0.5f, 0, 0.5f, 1, 1.5f, 2), 1e-6, 0, "scalar statistics");
    kc_tensor_unref(y);
    y = apply("Normalization", "{\"mean\": [1, 2, 3], \"variance\": [4, 1, 0.25], \"invert\": true}", x, false);
    tu_assert_close(y, 2, D(2, 3), F(3, 4, 4.5f, 9, 7, 6), 1e-6, 0, "invert");
    kc_tensor_unref(y);
    /* a zero variance divides by keras.backend.epsilon() */
    y = apply("Normalization", "{\"mean\": 0, \"variance\": 0}", x, false);
    tu_assert_close(y, 2, D(2, 3), F(1e7f, 2e7f, 3e7f, 4e7f, 5e7f, 6e7f), 1e-6, 0, "epsilon");
    kc_tensor_unref(y), kc_tensor_unref(x);
    /* axis [1, 2] of (1, 2, 2, 1); mean right-aligned onto the kept axes */
    kc_tensor *im = tu_tensor(4, D(1, 2, 2, 1), F(1, 2, 3, 4));
    y = apply("Normalization", "{\"axis\": [1, 2], \"mean\": [1, 2], \"variance\": [1, 4]}", im, false);
    tu_assert_close(y, 4, D(1, 2, 2, 1), F(0, 0, 2, 1), 1e-6, 0, "axis [1, 2]");
    kc_tensor_unref(y);
    /* axis null: one statistic for everything */
    y = apply("Normalization", "{\"axis\": null, \"mean\": 1, \"variance\": 1}", im, false);
    tu_assert_close(y, 4, D(1, 2, 2, 1), F(0, 1, 2, 3), 1e-6, 0, "axis null");
    kc_tensor_unref(y), kc_tensor_unref(im);
}
END_TEST

START_TEST(normalization_weights_are_mean_variance_count)
{
    kc_object *n = make("Normalization", "{\"axis\": -1}");
    kc_tensor *x = tu_random(4, D(2, 3, 3, 2), -1, 1, 5);
    kc_tensor *y = call(n, x, false);
    /* created in Keras' order, all non-trainable; the initial statistics are
     * zeros and ones: the identity */
    ck_assert_int_eq(kc_layer_num_weights(n), 3);
    ck_assert_int_eq(kc_layer_num_trainable_weights(n), 0);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(n, 0)), "normalization/mean:0");
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(n, 1)), "normalization/variance:0");
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(n, 2)), "normalization/count:0");
    ck_assert_int_eq(kc_tensor_ndim(kc_variable_value(kc_layer_weight(n, 2))), 0);
    tu_assert_tensors_close(y, x, 0, 0, "fresh Normalization");
    kc_tensor_unref(y);
    /* statistics set later (as a loader does) are used */
    kc_tensor *w[3] = {TU_T1(2, 1, -1), TU_T1(2, 4, 0.25f), tu_tensor(0, NULL, F(10))};
    CK_OK(kc_layer_set_weights(n, w, 3, &err));
    y = call(n, x, false);
    const float *xv = kc_tensor_cdata(x), *yv = kc_tensor_cdata(y);
    for (int64_t i = 0; i < kc_tensor_size(x); i++) {
        float want = i % 2 == 0 ? (xv[i] - 1) / 2 : (xv[i] + 1) / 0.5f;
        ck_assert_msg(fabsf(yv[i] - want) <= 1e-6f * fabsf(want) + 1e-7f, "value %lld", (long long)i);
    }
    for (int i = 0; i < 3; i++) kc_tensor_unref(w[i]);
    kc_tensor_unref(y), kc_tensor_unref(x);
    kc_object_unref(n);
}
END_TEST

START_TEST(keras_files_with_preprocessing_load_and_predict)
{
    /* the same model as tf.keras 2.15 (legacy .h5: Normalization's weights
     * named mean:0, variance:0, count:0, count an int64 scalar; tf.keras'
     * config keys) and Keras 3.7 save it (.keras: vars/0..2, Keras 3's
     * config forms and keys) */
    static const char *const files[] = {"preproc/preproc_k2.15.h5", "preproc/preproc_k3.keras"};
    json_t *io = tu_load_json("preproc/preproc.io.json");
    for (int i = 0; i < 2; i++) {
        kc_object *m = kc_model_load(tu_data(files[i]), NULL, &err);
        CK_NN(m, err);
        kc_object *n = kc_model_get_layer(m, "normalization");
        ck_assert_ptr_nonnull(n);
        ck_assert_float_eq(kc_tensor_item(kc_variable_value(kc_layer_weight(n, 2))), 1234.0f);
        tu_check_io(m, io, files[i], 1e-5, 1e-5);
        kc_object_unref(m);
    }
    json_decref(io);
}
END_TEST

/* ---- augmentation: inference, seeds ----------------------------------------------------------- */

static const char *const augmenters[][2] = {
    {"RandomFlip", NULL},
    {"RandomRotation", "{\"factor\": 0.3}"},
    {"RandomZoom", "{\"height_factor\": [-0.5, 0.5], \"width_factor\": 0.3}"},
    {"RandomTranslation", "{\"height_factor\": 0.3, \"width_factor\": 0.2}"},
    {"RandomContrast", "{\"factor\": 0.5}"},
    {"RandomBrightness", "{\"factor\": 0.5}"},
};

START_TEST(augmentations_are_identity_in_inference)
{
    kc_tensor *x = tu_random(4, D(3, 6, 5, 3), 0, 255, 7);
    for (size_t i = 0; i < sizeof(augmenters) / sizeof(augmenters[0]); i++) {
        kc_tensor *y = apply(augmenters[i][0], augmenters[i][1], x, false);
        ck_assert_msg(same_values(x, y), "%s changed its input in inference", augmenters[i][0]);
        kc_tensor_unref(y);
        y = apply(augmenters[i][0], augmenters[i][1], x, true);
        ck_assert_msg(kc_tensor_same_shape(x, y) && !same_values(x, y), "%s did nothing in training",
                      augmenters[i][0]);
        kc_tensor_unref(y);
    }
    kc_tensor_unref(x);
    /* integer images come out as float32, as Keras casts them */
    kc_tensor *xi = kc_tensor_from_data(KC_INT32, 4, D(1, 1, 2, 1), (const int32_t[]){7, 250}, &err);
    for (size_t i = 0; i < sizeof(augmenters) / sizeof(augmenters[0]); i++) {
        kc_tensor *y = apply(augmenters[i][0], augmenters[i][1], xi, false);
        ck_assert_int_eq(kc_tensor_dtype(y), KC_FLOAT32);
        tu_assert_close(y, 4, D(1, 1, 2, 1), F(7, 250), 0, 0, augmenters[i][0]);
        kc_tensor_unref(y);
    }
    kc_tensor_unref(xi);
}
END_TEST

START_TEST(seeded_augmentations_repeat_unseeded_follow_the_global_seed)
{
    kc_tensor *x = tu_random(4, D(4, 6, 6, 2), 0, 255, 8);
    kc_tensor *y0 = tu_random(4, D(4, 6, 6, 2), 0, 255, 8);
    for (size_t i = 0; i < sizeof(augmenters) / sizeof(augmenters[0]); i++) {
        char cfg[256];
        const char *c = augmenters[i][1] ? augmenters[i][1] : "{}";
        snprintf(cfg, sizeof(cfg), "%.*s%s\"seed\": 42}", (int)(strlen(c) - 1), c, strlen(c) > 2 ? ", " : "");
        kc_object *a = make(augmenters[i][0], cfg), *b = make(augmenters[i][0], cfg);
        kc_tensor *a1 = call(a, x, true), *a2 = call(a, x, true), *b1 = call(b, x, true);
        ck_assert_msg(same_values(a1, b1), "%s: same seed, different transforms", augmenters[i][0]);
        ck_assert_msg(!same_values(a1, a2), "%s: two calls drew the same transforms", augmenters[i][0]);
        kc_tensor_unref(a1), kc_tensor_unref(a2), kc_tensor_unref(b1);
        kc_object_unref(a), kc_object_unref(b);
        /* seed null: the global generator, reproducible with kc_set_random_seed */
        kc_object *u = make(augmenters[i][0], augmenters[i][1]);
        kc_set_random_seed(77);
        kc_tensor *u1 = call(u, x, true);
        kc_set_random_seed(77);
        kc_tensor *u2 = call(u, x, true);
        ck_assert_msg(same_values(u1, u2), "%s: global seed not followed", augmenters[i][0]);
        kc_tensor_unref(u1), kc_tensor_unref(u2);
        kc_object_unref(u);
    }
    ck_assert(same_values(x, y0)); /* inputs untouched */
    kc_tensor_unref(x), kc_tensor_unref(y0);
}
END_TEST

START_TEST(augmentations_take_channels_first_and_single_images)
{
    /* the same seed draws the same transform whatever the layout */
    kc_tensor *x = tu_random(4, D(3, 5, 6, 2), 0, 255, 19);
    kc_tensor *cf = kc_transpose(x, (const int[]){0, 3, 1, 2}, &err);
    kc_tensor *one = kc_slice(x, D(0, 0, 0, 0), D(1, -1, -1, -1), &err);
    kc_tensor *img = kc_reshape(one, 3, D(5, 6, 2), &err);
    for (size_t i = 0; i < sizeof(augmenters) / sizeof(augmenters[0]); i++) {
        char cfg[256], cfg_cf[256];
        const char *c = augmenters[i][1] ? augmenters[i][1] : "{}";
        snprintf(cfg, sizeof(cfg), "%.*s%s\"seed\": 5}", (int)(strlen(c) - 1), c, strlen(c) > 2 ? ", " : "");
        snprintf(cfg_cf, sizeof(cfg_cf), "%.*s, \"data_format\": \"channels_first\"}", (int)(strlen(cfg) - 1), cfg);
        kc_tensor *want = apply(augmenters[i][0], cfg, x, true);
        kc_tensor *got = apply(augmenters[i][0], cfg_cf, cf, true);
        kc_tensor *back = kc_transpose(got, (const int[]){0, 2, 3, 1}, &err);
        ck_assert_msg(same_values(want, back), "%s: channels_first differs", augmenters[i][0]);
        kc_tensor_unref(back), kc_tensor_unref(got), kc_tensor_unref(want);
        /* one image of rank 3 is a batch of one */
        want = apply(augmenters[i][0], cfg, one, true);
        got = apply(augmenters[i][0], cfg, img, true);
        ck_assert_int_eq(kc_tensor_ndim(got), 3);
        ck_assert_msg(memcmp(kc_tensor_cdata(want), kc_tensor_cdata(got), kc_tensor_nbytes(got)) == 0,
                      "%s: a single image differs from a batch of one", augmenters[i][0]);
        kc_tensor_unref(got), kc_tensor_unref(want);
    }
    kc_tensor *y = apply("RandomCrop", "{\"height\": 3, \"width\": 4, \"seed\": 1}", img, true);
    ck_assert_int_eq(kc_tensor_ndim(y), 3);
    ck_assert_int_eq(kc_tensor_dim(y, 0), 3);
    ck_assert_int_eq(kc_tensor_dim(y, 1), 4);
    kc_tensor_unref(y);
    kc_tensor_unref(img), kc_tensor_unref(one), kc_tensor_unref(cf), kc_tensor_unref(x);
}
END_TEST

/* ---- augmentation geometry ------------------------------------------------------------------- */

/* Image b of y equals image b of x under a pixel map (or the fill value). */
typedef bool (*pixel_map)(int64_t h, int64_t w, int64_t y, int64_t x, int64_t *sy, int64_t *sx);

static bool map_lr(int64_t h, int64_t w, int64_t y, int64_t x, int64_t *sy, int64_t *sx)
{
    (void)h;
    *sy = y, *sx = w - 1 - x;
    return true;
}
static bool map_ud(int64_t h, int64_t w, int64_t y, int64_t x, int64_t *sy, int64_t *sx)
{
    (void)w;
    *sy = h - 1 - y, *sx = x;
    return true;
}
static bool map_both(int64_t h, int64_t w, int64_t y, int64_t x, int64_t *sy, int64_t *sx)
{
    *sy = h - 1 - y, *sx = w - 1 - x;
    return true;
}
static bool map_id(int64_t h, int64_t w, int64_t y, int64_t x, int64_t *sy, int64_t *sx)
{
    (void)h, (void)w;
    *sy = y, *sx = x;
    return true;
}
/* numpy.rot90: a quarter turn counter-clockwise */
static bool map_rot90(int64_t h, int64_t w, int64_t y, int64_t x, int64_t *sy, int64_t *sx)
{
    (void)h;
    *sy = x, *sx = w - 1 - y;
    return true;
}

static bool image_matches(const kc_tensor *y, const kc_tensor *x, int64_t b, pixel_map m, double atol)
{
    const int64_t *d = kc_tensor_dims(x);
    for (int64_t i = 0; i < d[1]; i++)
        for (int64_t j = 0; j < d[2]; j++) {
            int64_t si, sj;
            m(d[1], d[2], i, j, &si, &sj);
            for (int64_t c = 0; c < d[3]; c++)
                if (fabs(at4(y, b, i, j, c) - at4(x, b, si, sj, c)) > atol) return false;
        }
    return true;
}

START_TEST(random_flip_flips_whole_images_by_mode)
{
    kc_tensor *x = tu_random(4, D(64, 3, 4, 2), -1, 1, 9);
    static const struct { const char *mode; pixel_map maps[4]; int n; } modes[] = {
        {"horizontal", {map_id, map_lr}, 2},
        {"vertical", {map_id, map_ud}, 2},
        {"horizontal_and_vertical", {map_id, map_lr, map_ud, map_both}, 4},
    };
    for (size_t k = 0; k < 3; k++) {
        char cfg[96];
        snprintf(cfg, sizeof(cfg), "{\"mode\": \"%s\", \"seed\": 3}", modes[k].mode);
        kc_tensor *y = apply("RandomFlip", cfg, x, true);
        int seen[4] = {0};
        for (int64_t b = 0; b < 64; b++) {
            int which = -1;
            for (int m = 0; m < modes[k].n && which < 0; m++)
                if (image_matches(y, x, b, modes[k].maps[m], 0)) which = m;
            ck_assert_msg(which >= 0, "%s: image %lld is not a flip of its input", modes[k].mode, (long long)b);
            seen[which]++;
        }
        /* each outcome is drawn with probability 1 / n: all of them occur */
        for (int m = 0; m < modes[k].n; m++)
            ck_assert_msg(seen[m] >= 64 / modes[k].n / 3, "%s: outcome %d seen %d times", modes[k].mode, m, seen[m]);
        kc_tensor_unref(y);
    }
    kc_tensor_unref(x);
}
END_TEST

START_TEST(random_rotation_quarter_turns_are_permutations)
{
    kc_tensor *x = tu_random(4, D(2, 4, 4, 3), -1, 1, 10);
    /* factor 0.25: +90 degrees, counter-clockwise (numpy.rot90). cos(pi / 2)
     * is -4e-8 in float32, so border pixels map a hair outside the image:
     * the constant fill mode would (as in TensorFlow) fill them */
    kc_tensor *y = apply("RandomRotation", "{\"factor\": [0.25, 0.25], \"interpolation\": \"nearest\"}", x, true);
    for (int b = 0; b < 2; b++) ck_assert(image_matches(y, x, b, map_rot90, 0));
    kc_tensor_unref(y);
    y = apply("RandomRotation", "{\"factor\": [0.25, 0.25]}", x, true);
    for (int b = 0; b < 2; b++) ck_assert(image_matches(y, x, b, map_rot90, 1e-5));
    kc_tensor_unref(y);
    /* half a turn is both flips */
    y = apply("RandomRotation", "{\"factor\": [-0.5, -0.5], \"interpolation\": \"nearest\"}", x, true);
    for (int b = 0; b < 2; b++) ck_assert(image_matches(y, x, b, map_both, 0));
    kc_tensor_unref(y);
    /* a random factor stays within [-f, f]: the mean of |rotation| over
     * many images is about f / 2 of a turn; here only check it varies */
    kc_tensor_unref(x);
}
END_TEST

START_TEST(random_translation_fills_borders_by_mode)
{
    /* one row down (height 4 x 0.25), two columns left (width 4 x -0.5) */
    kc_tensor *x = iota(4, D(1, 4, 4, 1));
    static const struct { const char *fill; int64_t row_above; int64_t right[2]; } cases[] = {
        {"reflect", 0, {3, 2}}, /* (d c b a | a b c d | d c b a) */
        {"wrap", 3, {0, 1}},    /* (a b c d | a b c d | a b c d) */
        {"nearest", 0, {3, 3}}, /* (a a a a | a b c d | d d d d) */
        {"constant", -1, {-1, -1}},
    };
    for (size_t k = 0; k < 4; k++) {
        for (int interp = 0; interp < 2; interp++) {
            char cfg[256];
            snprintf(cfg, sizeof(cfg),
                     "{\"height_factor\": [0.25, 0.25], \"width_factor\": [-0.5, -0.5], \"fill_mode\": "
                     "\"%s\", \"fill_value\": 9.5, \"interpolation\": \"%s\"}",
                     cases[k].fill, interp ? "bilinear" : "nearest");
            kc_tensor *y = apply("RandomTranslation", cfg, x, true);
            for (int64_t i = 0; i < 4; i++)
                for (int64_t j = 0; j < 4; j++) {
                    int64_t si = i == 0 ? cases[k].row_above : i - 1;
                    int64_t sj = j + 2 < 4 ? j + 2 : cases[k].right[j + 2 - 4];
                    float want = si < 0 || sj < 0 ? 9.5f : at4(x, 0, si, sj, 0);
                    ck_assert_msg(at4(y, 0, i, j, 0) == want, "%s %s: (%lld, %lld) = %g, want %g", cases[k].fill,
                                  interp ? "bilinear" : "nearest", (long long)i, (long long)j,
                                  at4(y, 0, i, j, 0), want);
                }
            kc_tensor_unref(y);
        }
    }
    kc_tensor_unref(x);
}
END_TEST

START_TEST(random_zoom_scales_about_the_centre)
{
    /* zoom out 1.5x (width_factor null: both axes): input x = 1.5 x - 0.5;
     * only the centre of a 3 x 3 image stays inside, the rest is fill */
    kc_tensor *x = iota(4, D(1, 3, 3, 1));
    kc_tensor *y = apply("RandomZoom", "{\"height_factor\": [0.5, 0.5], \"fill_mode\": \"constant\", \"fill_value\": 7, \"interpolation\": \"nearest\"}", x, true);
    tu_assert_close(y, 4, D(1, 3, 3, 1), F(7, 7, 7, 7, 4, 7, 7, 7, 7), 0, 0, "zoom out");
    kc_tensor_unref(y), kc_tensor_unref(x);
    /* zoom in 2x on 5 x 5: input x = 0.5 x + 1 = 1, 1.5, 2, 2.5, 3 */
    x = iota(4, D(1, 5, 5, 1));
    y = apply("RandomZoom", "{\"height_factor\": [-0.5, -0.5], \"width_factor\": [-0.5, -0.5], \"interpolation\": \"nearest\"}", x, true);
    static const int64_t near[5] = {1, 2, 2, 3, 3}; /* round half away from zero */
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) ck_assert_float_eq(at4(y, 0, i, j, 0), at4(x, 0, near[i], near[j], 0));
    kc_tensor_unref(y);
    y = apply("RandomZoom", "{\"height_factor\": [-0.5, -0.5], \"width_factor\": [-0.5, -0.5]}", x, true);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) /* iota: bilinear is linear in the coordinates */
            ck_assert_float_eq_tol(at4(y, 0, i, j, 0), (0.5f * i + 1) * 5 + (0.5f * j + 1), 1e-5f);
    kc_tensor_unref(y);
    /* a different zoom per axis: height 0.5 x, width 1 x */
    y = apply("RandomZoom", "{\"height_factor\": [-0.5, -0.5], \"width_factor\": [0, 0], \"interpolation\": \"nearest\"}", x, true);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) ck_assert_float_eq(at4(y, 0, i, j, 0), at4(x, 0, near[i], j, 0));
    kc_tensor_unref(y), kc_tensor_unref(x);
}
END_TEST

/* The TensorFlow.js transform cases, through the layer that builds that
 * matrix with a fixed factor. */
START_TEST(geometric_layers_match_tensorflow_js)
{
    json_t *root = tu_load_json("preproc/image_ops.json");
    const json_t *cases = json_object_get(root, "cases");
    int n = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i);
        if (strcmp(json_string_value(json_object_get(c, "op")), "transform") != 0) continue;
        const json_t *p = json_object_get(c, "params");
        const char *kind = json_string_value(json_object_get(p, "kind"));
        kc_tensor *x = tu_json_tensor(json_object_get(c, "input"));
        double h = (double)kc_tensor_dim(x, 1), w = (double)kc_tensor_dim(x, 2);
        char cfg[512], common[160];
        snprintf(common, sizeof(common), "\"fill_mode\": \"%s\", \"interpolation\": \"%s\"",
                 json_string_value(json_object_get(c, "fill_mode")),
                 json_string_value(json_object_get(c, "interpolation")));
        const char *cls;
        if (strcmp(kind, "rotation") == 0) {
            double f = json_real_value(json_object_get(p, "angle")) / 6.283185307179586;
            snprintf(cfg, sizeof(cfg), "{\"factor\": [%.17g, %.17g], %s}", f, f, common);
            cls = "RandomRotation";
        } else if (strcmp(kind, "zoom") == 0) {
            double zx = json_number_value(json_object_get(p, "zx")) - 1, zy = json_number_value(json_object_get(p, "zy")) - 1;
            snprintf(cfg, sizeof(cfg), "{\"height_factor\": [%.17g, %.17g], \"width_factor\": [%.17g, %.17g], %s}",
                     zy, zy, zx, zx, common);
            cls = "RandomZoom";
        } else {
            double dx = json_number_value(json_object_get(p, "dx")) / w, dy = json_number_value(json_object_get(p, "dy")) / h;
            snprintf(cfg, sizeof(cfg), "{\"height_factor\": [%.17g, %.17g], \"width_factor\": [%.17g, %.17g], %s}",
                     dy, dy, dx, dx, common);
            cls = "RandomTranslation";
        }
        kc_tensor *want = tu_json_tensor(json_object_get(c, "output"));
        kc_tensor *y = apply(cls, cfg, x, true);
        char what[700];
        snprintf(what, sizeof(what), "case %zu: %s %s", i, cls, cfg);
        tu_assert_tensors_close(y, want, 1e-5, 1e-5, what);
        kc_tensor_unref(x), kc_tensor_unref(want), kc_tensor_unref(y);
        n++;
    }
    ck_assert_int_eq(n, 42);
    json_decref(root);
}
END_TEST

START_TEST(random_crop_takes_one_window_per_batch)
{
    kc_tensor *x = iota(4, D(3, 6, 7, 2));
    kc_object *l = make("RandomCrop", "{\"height\": 3, \"width\": 4, \"seed\": 11}");
    bool seen_top[4] = {0}, seen_left[4] = {0};
    for (int k = 0; k < 40; k++) {
        kc_tensor *y = call(l, x, true);
        ck_assert_int_eq(kc_tensor_dim(y, 1), 3);
        ck_assert_int_eq(kc_tensor_dim(y, 2), 4);
        /* iota: the first value gives the window's corner */
        float v = at4(y, 0, 0, 0, 0);
        int64_t top = (int64_t)v / (7 * 2), left = ((int64_t)v / 2) % 7;
        ck_assert(top <= 3 && left <= 3);
        seen_top[top] = seen_left[left] = true;
        for (int b = 0; b < 3; b++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++)
                    for (int c = 0; c < 2; c++)
                        ck_assert_float_eq(at4(y, b, i, j, c), at4(x, b, top + i, left + j, c));
        kc_tensor_unref(y);
    }
    for (int i = 0; i < 4; i++) ck_assert_msg(seen_top[i] && seen_left[i], "offset %d never drawn", i);
    /* inference, or an image smaller than the window: smart_resize */
    kc_tensor *y = call(l, x, false);
    kc_tensor *want = apply("Resizing", "{\"height\": 3, \"width\": 4, \"crop_to_aspect_ratio\": true}", x, false);
    tu_assert_tensors_close(y, want, 0, 0, "RandomCrop in inference");
    kc_tensor_unref(y), kc_tensor_unref(want);
    kc_object *big = make("RandomCrop", "{\"height\": 8, \"width\": 4, \"seed\": 1}");
    y = call(big, x, true);
    want = apply("Resizing", "{\"height\": 8, \"width\": 4, \"crop_to_aspect_ratio\": true}", x, false);
    tu_assert_tensors_close(y, want, 0, 0, "RandomCrop of a smaller image");
    kc_tensor_unref(y), kc_tensor_unref(want);
    kc_object_unref(big), kc_object_unref(l), kc_tensor_unref(x);
}
END_TEST

/* Per image: y = clip((x - mean) * c + mean) for one c in [lo, hi]. */
static void check_contrast(const kc_tensor *x, const kc_tensor *y, double lo, double hi, double vmin,
                           double vmax, double *cmin, double *cmax)
{
    const int64_t *d = kc_tensor_dims(x);
    for (int64_t b = 0; b < d[0]; b++) {
        double c_est = NAN;
        for (int64_t ch = 0; ch < d[3]; ch++) {
            double mean = 0;
            for (int64_t i = 0; i < d[1]; i++)
                for (int64_t j = 0; j < d[2]; j++) mean += at4(x, b, i, j, ch);
            mean /= (double)(d[1] * d[2]);
            for (int64_t i = 0; i < d[1]; i++)
                for (int64_t j = 0; j < d[2]; j++) {
                    double v = at4(x, b, i, j, ch), o = at4(y, b, i, j, ch);
                    ck_assert(o >= vmin && o <= vmax);
                    if (isnan(c_est) && fabs(v - mean) > 10 && o > vmin && o < vmax) c_est = (o - mean) / (v - mean);
                }
            for (int64_t i = 0; i < d[1]; i++)
                for (int64_t j = 0; j < d[2]; j++) {
                    double v = at4(x, b, i, j, ch), want = (v - mean) * c_est + mean;
                    want = want < vmin ? vmin : want > vmax ? vmax : want;
                    ck_assert_msg(fabs(at4(y, b, i, j, ch) - want) < 1e-3, "contrast image %lld", (long long)b);
                }
        }
        ck_assert_msg(c_est >= lo - 1e-6 && c_est <= hi + 1e-6, "contrast factor %g outside [%g, %g]", c_est, lo, hi);
        *cmin = fmin(*cmin, c_est);
        *cmax = fmax(*cmax, c_est);
    }
}

START_TEST(random_contrast_and_brightness_keep_keras_ranges)
{
    kc_tensor *x = tu_random(4, D(48, 4, 5, 3), 0, 255, 12);
    double cmin = INFINITY, cmax = -INFINITY;
    /* factor 0.4: c in [0.6, 1.4], clipped to [0, 255] */
    kc_tensor *y = apply("RandomContrast", "{\"factor\": 0.4, \"seed\": 2}", x, true);
    check_contrast(x, y, 0.6, 1.4, 0, 255, &cmin, &cmax);
    ck_assert(cmin < 0.7 && cmax > 1.3);
    kc_tensor_unref(y);
    /* [lower, upper] as written: c in [1 - 0.1, 1 + 0.5]; Keras 3's value_range */
    cmin = INFINITY, cmax = -INFINITY;
    y = apply("RandomContrast", "{\"factor\": [0.1, 0.5], \"value_range\": [20, 200], \"seed\": 2}", x, true);
    check_contrast(x, y, 0.9, 1.5, 20, 200, &cmin, &cmax);
    ck_assert(cmin < 1.0 && cmax > 1.4);
    kc_tensor_unref(y);
    /* brightness: one delta per image in [-0.2, 0.2] * 255, then the clip */
    y = apply("RandomBrightness", "{\"factor\": 0.2, \"seed\": 4}", x, true);
    double dmin = INFINITY, dmax = -INFINITY;
    const int64_t *d = kc_tensor_dims(x);
    for (int64_t b = 0; b < d[0]; b++) {
        double delta = NAN;
        for (int64_t i = 0; i < d[1] * d[2] * d[3]; i++) {
            float v = ((const float *)kc_tensor_cdata(x))[b * d[1] * d[2] * d[3] + i];
            float o = ((const float *)kc_tensor_cdata(y))[b * d[1] * d[2] * d[3] + i];
            ck_assert(o >= 0 && o <= 255);
            if (o > 0 && o < 255) {
                if (isnan(delta)) delta = o - v;
                ck_assert_msg(fabs(o - v - delta) < 1e-3, "brightness: one delta per image");
            } else {
                ck_assert(o == 0 ? v + delta <= 1e-3 || isnan(delta) : v + delta >= 255 - 1e-3 || isnan(delta));
            }
        }
        ck_assert(delta >= -0.2 * 255 - 1e-3 && delta <= 0.2 * 255 + 1e-3);
        dmin = fmin(dmin, delta), dmax = fmax(dmax, delta);
    }
    ck_assert(dmin < -0.15 * 255 && dmax > 0.15 * 255);
    kc_tensor_unref(y);
    /* value_range scales the delta: [0, 1] images, factor [0.5, 0.5] adds 0.5 */
    kc_tensor *small = tu_random(4, D(2, 2, 2, 1), 0, 1, 13);
    y = apply("RandomBrightness", "{\"factor\": [0.5, 0.5], \"value_range\": [0, 1]}", small, true);
    const float *sv = kc_tensor_cdata(small), *yv = kc_tensor_cdata(y);
    for (int i = 0; i < 8; i++) ck_assert_float_eq(yv[i], fminf(sv[i] + 0.5f, 1.0f));
    kc_tensor_unref(y), kc_tensor_unref(small), kc_tensor_unref(x);
}
END_TEST

/* ---- CategoryEncoding, Discretization ------------------------------------------------------- */

START_TEST(categorical_layers_encode_as_keras)
{
    kc_tensor *ids = kc_tensor_from_data(KC_INT32, 2, D(3, 1), (const int32_t[]){0, 3, 1}, &err);
    kc_tensor *y = apply("CategoryEncoding", "{\"num_tokens\": 4, \"output_mode\": \"one_hot\"}", ids, false);
    tu_assert_close(y, 2, D(3, 4), F(1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0), 0, 0, "one_hot of (3, 1)");
    kc_tensor_unref(y), kc_tensor_unref(ids);
    ids = kc_tensor_from_data(KC_INT64, 1, D(2), (const int64_t[]){1, 2}, &err);
    y = apply("CategoryEncoding", "{\"num_tokens\": 3, \"output_mode\": \"one_hot\"}", ids, false);
    tu_assert_close(y, 2, D(2, 3), F(0, 1, 0, 0, 0, 1), 0, 0, "one_hot of (2,)");
    kc_tensor_unref(y);
    y = apply("CategoryEncoding", "{\"num_tokens\": 3}", ids, false); /* one sample of two ids */
    tu_assert_close(y, 1, D(3), F(0, 1, 1), 0, 0, "multi_hot of (2,)");
    kc_tensor_unref(y), kc_tensor_unref(ids);
    ids = TU_T2(2, 3, 0, 1, 1, 3, 3, 2);
    y = apply("CategoryEncoding", "{\"num_tokens\": 4, \"output_mode\": \"binary\"}", ids, false);
    tu_assert_close(y, 2, D(2, 4), F(1, 1, 0, 0, 0, 0, 1, 1), 0, 0, "multi_hot");
    kc_tensor_unref(y);
    y = apply("CategoryEncoding", "{\"num_tokens\": 4, \"output_mode\": \"count\"}", ids, false);
    tu_assert_close(y, 2, D(2, 4), F(1, 2, 0, 0, 0, 0, 1, 2), 0, 0, "count");
    kc_tensor_unref(y);
    kc_object *l = make("CategoryEncoding", "{\"num_tokens\": 3}");
    ck_assert_ptr_null(kc_layer_call1(l, ids, false, &err));
    CK_ERR(err, KC_EINVAL, "input value 3 is outside [0, 3)");
    kc_object_unref(l), kc_tensor_unref(ids);
    /* Discretization: Bucketize's bins, a boundary value goes up */
    kc_tensor *x = TU_T1(6, -1.5f, 0, 0.5f, 1, 2.5f, NAN);
    y = apply("Discretization", "{\"bin_boundaries\": [0, 1, 2]}", x, false);
    ck_assert_int_eq(kc_tensor_dtype(y), KC_INT64);
    const int64_t want[6] = {0, 1, 1, 2, 3, 3};
    for (int i = 0; i < 6; i++) ck_assert_int_eq(((const int64_t *)kc_tensor_cdata(y))[i], want[i]);
    kc_tensor_unref(y);
    y = apply("Discretization", "{\"bin_boundaries\": [0, 1, 2], \"output_mode\": \"one_hot\"}", x, false);
    ck_assert_int_eq(kc_tensor_dim(y, 1), 4);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++) ck_assert_float_eq(((const float *)kc_tensor_cdata(y))[i * 4 + j], j == want[i]);
    kc_tensor_unref(y), kc_tensor_unref(x);
    /* an adapted tf.keras 2.x Discretization keeps its boundaries in a weight */
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_layer_create("Discretization", "{\"bin_boundaries\": null, \"num_bins\": 4}", &err));
    CK_ERR(err, KC_EUNSUPPORTED, "without bin_boundaries");
    /* a model: Discretization -> CategoryEncoding -> Dense, through .h5 */
    kc_object *m = kc_sequential_new("cat", &err);
    kc_object *in = kc_input_layer(1, D(3), NULL, &err);
    kc_object *d = make("Discretization", "{\"bin_boundaries\": [-0.5, 0, 0.5]}");
    kc_object *e = make("CategoryEncoding", "{\"num_tokens\": 4, \"output_mode\": \"count\"}");
    kc_object *dense = make("Dense", "{\"units\": 2}");
    CK_OK(kc_sequential_add(m, in, &err));
    CK_OK(kc_sequential_add(m, d, &err));
    CK_OK(kc_sequential_add(m, e, &err));
    CK_OK(kc_sequential_add(m, dense, &err));
    su_randomize_weights(m, 4);
    kc_tensor *xs = tu_random(2, D(5, 3), -1, 1, 18);
    kc_object *back = su_round_trip(m, "categorical.h5", NULL, &xs);
    kc_object_unref(back);
    back = su_round_trip(m, "categorical.keras", NULL, &xs);
    kc_object_unref(back), kc_tensor_unref(xs);
    kc_object_unref(in), kc_object_unref(d), kc_object_unref(e), kc_object_unref(dense), kc_object_unref(m);
}
END_TEST

/* ---- gradients ------------------------------------------------------------------------------- */

typedef struct layer_spec {
    const char *cls, *cfg;
    bool training;
} layer_spec;

/* A fresh layer per evaluation: seeded augmentations then draw the same
 * transform every time, which finite differences need. */
static kc_tensor *layer_fn(kc_tensor *const *in, const void *ctx, kc_error *e)
{
    const layer_spec *s = ctx;
    kc_object *l = kc_layer_create(s->cls, s->cfg, e);
    kc_tensor *y = l ? kc_layer_call1(l, in[0], s->training, e) : NULL;
    kc_object_unref(l);
    return y;
}

START_TEST(preprocessing_gradients_match_finite_differences)
{
    static const layer_spec specs[] = {
        {"Rescaling", "{\"scale\": [0.5, -2, 3], \"offset\": 1}", false},
        {"Normalization", "{\"mean\": [0.1, 0.2, 0.3], \"variance\": [2, 0.5, 1]}", false},
        {"Normalization", "{\"mean\": [0.1, 0.2, 0.3], \"variance\": [2, 0.5, 1], \"invert\": true}", false},
        {"Resizing", "{\"height\": 3, \"width\": 5}", false},
        {"Resizing", "{\"height\": 7, \"width\": 2, \"interpolation\": \"nearest\"}", false},
        {"Resizing", "{\"height\": 7, \"width\": 3, \"interpolation\": \"bicubic\"}", false},
        {"Resizing", "{\"height\": 2, \"width\": 3, \"interpolation\": \"area\"}", false},
        {"Resizing", "{\"height\": 6, \"width\": 3, \"interpolation\": \"lanczos3\"}", false},
        {"Resizing", "{\"height\": 3, \"width\": 2, \"interpolation\": \"lanczos5\", \"antialias\": true}", false},
        {"Resizing", "{\"height\": 5, \"width\": 5, \"interpolation\": \"gaussian\"}", false},
        {"Resizing", "{\"height\": 2, \"width\": 6, \"interpolation\": \"mitchellcubic\", \"crop_to_aspect_ratio\": true}", false},
        {"Resizing", "{\"height\": 3, \"width\": 5, \"pad_to_aspect_ratio\": true, \"fill_value\": 2}", false},
        {"CenterCrop", "{\"height\": 2, \"width\": 3}", false},
        {"CenterCrop", "{\"height\": 5, \"width\": 3}", false},
        {"RandomFlip", "{\"seed\": 1}", true},
        {"RandomRotation", "{\"factor\": 0.2, \"seed\": 1, \"fill_mode\": \"reflect\"}", true},
        {"RandomRotation", "{\"factor\": 0.2, \"seed\": 2, \"fill_mode\": \"constant\", \"interpolation\": \"nearest\"}", true},
        {"RandomZoom", "{\"height_factor\": 0.3, \"seed\": 1, \"fill_mode\": \"wrap\"}", true},
        {"RandomTranslation", "{\"height_factor\": 0.3, \"width_factor\": 0.3, \"seed\": 1, \"fill_mode\": \"nearest\"}", true},
        {"RandomCrop", "{\"height\": 2, \"width\": 3, \"seed\": 1}", true},
        {"RandomContrast", "{\"factor\": 0.5, \"seed\": 1, \"value_range\": [-10, 10]}", true},
        {"RandomBrightness", "{\"factor\": 0.1, \"seed\": 1, \"value_range\": [-10, 10]}", true},
    };
    kc_tensor *x = tu_random(4, D(2, 4, 5, 3), -1, 1, 14);
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        char what[256];
        snprintf(what, sizeof(what), "%s %s", specs[i].cls, specs[i].cfg);
        tu_grad_check(what, layer_fn, &specs[i], &x, 1, 1e-2, 1e-3, 1e-3);
    }
    kc_tensor_unref(x);
}
END_TEST

/* ---- text preprocessing, models, files ----------------------------------------------------------- */

START_TEST(text_preprocessing_layers_are_named_errors)
{
    static const char *const names[] = {"TextVectorization", "StringLookup", "IntegerLookup", "Hashing",
                                        "HashedCrossing"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char cfg[512];
        snprintf(cfg, sizeof(cfg),
                 "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                 "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 1], \"dtype\": \"string\", \"name\": \"in\"}},"
                 "{\"class_name\": \"%s\", \"config\": {\"name\": \"pre\"}},"
                 "{\"class_name\": \"Dense\", \"config\": {\"units\": 1}}]}}",
                 names[i]);
        json_t *j = json_loads(cfg, 0, NULL);
        kc_object *m = NULL;
        kc_error_clear(&err);
        ck_assert_int_eq(kc_deserialize(KC_KIND_MODEL, j, NULL, &m, &err), KC_ENOTFOUND);
        ck_assert_ptr_null(m);
        CK_ERR(err, KC_ENOTFOUND, names[i]);
        CK_ERR(err, KC_ENOTFOUND, "is not supported by ckeras");
        CK_ERR(err, KC_ENOTFOUND, "without its preprocessing layers");
        CK_ERR(err, KC_ENOTFOUND, "layers[1]");
        json_decref(j);
    }
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_layer_create("TextVectorization", NULL, &err));
    CK_ERR(err, KC_ENOTFOUND, "TextVectorization");
    /* a user's own class under that name wins */
    kc_error_clear(&err);
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_NN(co, err);
    CK_OK(kc_custom_objects_add_class(co, "TextVectorization", kc_find_class(KC_KIND_LAYER, "Flatten"), &err));
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "model_config", co);
    json_t *j = json_loads("{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                           "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 2], \"name\": \"in\"}},"
                           "{\"class_name\": \"TextVectorization\", \"config\": {\"name\": \"pre\"}}]}}",
                           0, NULL);
    kc_object *m = NULL;
    CK_OK(kc_deserialize(KC_KIND_MODEL, j, &ctx, &m, &err));
    ck_assert_ptr_nonnull(m);
    kc_object_unref(m);
    json_decref(j);
    kc_custom_objects_free(co);
}
END_TEST

/* Sequential: every preprocessing layer (augmentations run only in fit). */
static kc_object *preprocessing_model(void)
{
    static const char *const layers[][2] = {
        {"Rescaling", "{\"scale\": [0.0078125, 0.00390625, 0.001953125], \"offset\": -1}"},
        {"Normalization", NULL},
        {"Resizing", "{\"height\": 6, \"width\": 7, \"interpolation\": \"bicubic\"}"},
        {"RandomFlip", "{\"seed\": 1}"},
        {"RandomRotation", "{\"factor\": 0.1, \"seed\": 2}"},
        {"RandomZoom", "{\"height_factor\": 0.1, \"seed\": 3}"},
        {"RandomTranslation", "{\"height_factor\": 0.1, \"width_factor\": 0.1, \"seed\": 4}"},
        {"RandomContrast", "{\"factor\": 0.1, \"seed\": 5}"},
        {"RandomBrightness", "{\"factor\": 0.1, \"value_range\": [-2, 2], \"seed\": 6}"},
        {"RandomCrop", "{\"height\": 5, \"width\": 6, \"seed\": 7}"},
        {"CenterCrop", "{\"height\": 4, \"width\": 4}"},
        {"Normalization", "{\"mean\": [0.1, 0.2, 0.3], \"variance\": [1, 2, 3], \"invert\": true}"},
        {"Flatten", NULL},
        {"Dense", "{\"units\": 2}"},
    };
    kc_object *m = kc_sequential_new("pre", &err);
    CK_NN(m, err);
    kc_object *in = kc_input_layer(3, D(8, 9, 3), NULL, &err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object_unref(in);
    for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
        kc_object *l = make(layers[i][0], layers[i][1]);
        CK_OK(kc_sequential_add(m, l, &err));
        kc_object_unref(l);
    }
    return m;
}

START_TEST(preprocessing_model_round_trips_through_h5_and_keras)
{
    kc_object *m = preprocessing_model();
    su_randomize_weights(m, 3);
    char *s = kc_model_summary(m, &err);
    CK_NN(s, err);
    ck_assert_msg(strstr(s, " resizing (Resizing)         (None, 6, 7, 3)           0") != NULL, "%s", s);
    ck_assert_msg(strstr(s, " random_crop (RandomCrop)    (None, 5, 6, 3)           0") != NULL, "%s", s);
    ck_assert_msg(strstr(s, " center_crop (CenterCrop)    (None, 4, 4, 3)           0") != NULL, "%s", s);
    ck_assert_msg(strstr(s, " normalization (Normalizati  (None, 8, 9, 3)           7") != NULL, "%s", s);
    ck_assert_msg(strstr(s, "Non-trainable params: 7 ") != NULL, "%s", s);
    kc_string_free(s);
    kc_tensor *x = tu_random(4, D(3, 8, 9, 3), 0, 255, 15);
    kc_object *back = su_round_trip(m, "preproc.h5", NULL, &x);
    kc_object_unref(back);
    /* Keras 3's archive: Normalization's mean, variance, count as vars/0..2 */
    back = su_round_trip(m, "preproc.keras", NULL, &x);
    kc_object_unref(back);
    kc_tensor_unref(x);
    kc_object_unref(m);
}
END_TEST

START_TEST(training_through_augmentations_is_reproducible)
{
    /* fit runs the augmentations in training mode: seeded layers make two
     * identical runs give identical weights */
    kc_tensor *x = tu_random(4, D(8, 8, 9, 3), 0, 255, 16), *y = tu_random(2, D(8, 2), -1, 1, 17);
    kc_tensor *w[2][8];
    int nw = 0;
    for (int run = 0; run < 2; run++) {
        kc_clear_session();
        kc_set_random_seed(5);
        kc_object *m = preprocessing_model();
        CK_OK(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": \"mse\"}", NULL, &err));
        kc_fit_args fa = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 2, .batch_size = 4};
        kc_history *h = NULL;
        CK_OK(kc_model_fit(m, &fa, &h, &err));
        kc_history_free(h);
        nw = kc_layer_num_weights(m);
        ck_assert_int_le(nw, 8);
        CK_OK(kc_layer_get_weights(m, w[run], &err));
        kc_object_unref(m);
    }
    for (int i = 0; i < nw; i++) {
        su_assert_bit_identical(w[0][i], w[1][i], "weights after two seeded runs");
        kc_tensor_unref(w[0][i]), kc_tensor_unref(w[1][i]);
    }
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

static const char *const alloc_specs[][3] = {
        {"Resizing", "{\"height\": 3, \"width\": 5, \"interpolation\": \"bicubic\", \"crop_to_aspect_ratio\": true}", "0"},
        {"RandomRotation", "{\"factor\": 0.2, \"seed\": 1}", "1"},
        {"RandomFlip", "{\"seed\": 1}", "1"},
        {"Normalization", "{\"mean\": 1, \"variance\": 2}", "0"},
        {"RandomContrast", "{\"factor\": 0.2, \"seed\": 1}", "1"},
};

static kc_status alloc_scenario(kc_error *e)
{
    kc_tensor *x = kc_tensor_ones(KC_FLOAT32, 4, D(2, 4, 6, 2), e);
    kc_status rc = x ? KC_OK : e->code;
    for (size_t i = 0; rc == KC_OK && i < sizeof(alloc_specs) / sizeof(alloc_specs[0]); i++) {
        kc_object *l = kc_layer_create(alloc_specs[i][0], alloc_specs[i][1], e);
        kc_tensor *y = l ? kc_layer_call1(l, x, alloc_specs[i][2][0] == '1', e) : NULL;
        if (!y) rc = e->code;
        kc_tensor_unref(y);
        kc_object_unref(l);
    }
    kc_tensor_unref(x);
    return rc;
}

START_TEST(allocation_failures_are_enomem_without_leaks)
{
    /* the automatic-name counters live for the process: made before the sweep */
    for (size_t i = 0; i < sizeof(alloc_specs) / sizeof(alloc_specs[0]); i++)
        kc_object_unref(make(alloc_specs[i][0], alloc_specs[i][1]));
    ck_assert_int_gt(tu_alloc_failure_sweep(alloc_scenario, 4000), 10);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("layers_preproc");
    TCase *tc = tcase_create("preproc");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, preprocessing_layers_get_keras_names);
    tcase_add_test(tc, configs_round_trip_in_both_dialects);
    tcase_add_test(tc, default_configs_are_tf_keras_2_15s);
    tcase_add_test(tc, bad_configs_are_named_errors);
    tcase_add_test(tc, bad_input_shapes_are_named_errors);
    tcase_add_test(tc, rescaling_multiplies_then_adds);
    tcase_add_test(tc, resizing_matches_tensorflow_for_every_method);
    tcase_add_test(tc, resizing_published_tensorflow_values);
    tcase_add_test(tc, resizing_crops_or_pads_to_the_aspect_ratio);
    tcase_add_test(tc, center_crop_cuts_the_centre_or_smart_resizes);
    tcase_add_test(tc, rescaling_and_center_crop_match_tensorflow_js);
    tcase_add_test(tc, normalization_uses_config_statistics);
    tcase_add_test(tc, normalization_weights_are_mean_variance_count);
    tcase_add_test(tc, keras_files_with_preprocessing_load_and_predict);
    tcase_add_test(tc, augmentations_are_identity_in_inference);
    tcase_add_test(tc, seeded_augmentations_repeat_unseeded_follow_the_global_seed);
    tcase_add_test(tc, augmentations_take_channels_first_and_single_images);
    tcase_add_test(tc, random_flip_flips_whole_images_by_mode);
    tcase_add_test(tc, random_rotation_quarter_turns_are_permutations);
    tcase_add_test(tc, random_translation_fills_borders_by_mode);
    tcase_add_test(tc, random_zoom_scales_about_the_centre);
    tcase_add_test(tc, geometric_layers_match_tensorflow_js);
    tcase_add_test(tc, random_crop_takes_one_window_per_batch);
    tcase_add_test(tc, random_contrast_and_brightness_keep_keras_ranges);
    tcase_add_test(tc, categorical_layers_encode_as_keras);
    tcase_add_test(tc, preprocessing_gradients_match_finite_differences);
    tcase_add_test(tc, text_preprocessing_layers_are_named_errors);
    tcase_add_test(tc, preprocessing_model_round_trips_through_h5_and_keras);
    tcase_add_test(tc, training_through_augmentations_is_reproducible);
    tcase_add_test(tc, allocation_failures_are_enomem_without_leaks);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
