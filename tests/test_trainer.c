/* The trainer (issue 7): fit / evaluate / train_on_batch against
 * TensorFlow.js training runs (tests/data/fit, made by keras-ref), Keras'
 * log names and History, class and sample weights, validation, resuming
 * bit for bit, convergence on real data (UCI digits, diabetes), the
 * building blocks of custom train steps and loops, and errors. Callbacks
 * are in test_callbacks.c. */
#include "saving_util.h"
#include "seed_classes.h"

#include "../samples/common/datasets.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    kc_set_num_threads(1);
}

static json_t *load_json(const char *rel)
{
    json_error_t je;
    json_t *j = json_load_file(tu_data(rel), 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", rel, je.text);
    return j;
}

static int tensors_from_json(const json_t *list, kc_tensor **out)
{
    int n = (int)json_array_size(list);
    for (int i = 0; i < n; i++) CK_OK(kc_tensor_from_json(json_array_get(list, (size_t)i), &out[i], &err));
    return n;
}

static void free_tensors(kc_tensor **t, int n)
{
    for (int i = 0; i < n; i++) kc_tensor_unref(t[i]);
}

static kc_variable *weight_by_name(kc_object *m, const char *name)
{
    for (int i = 0; i < kc_layer_num_weights(m); i++)
        if (strcmp(kc_variable_name(kc_layer_weight(m, i)), name) == 0) return kc_layer_weight(m, i);
    return NULL;
}

/* ---- TensorFlow.js training runs ------------------------------------------------------------------- */

static const struct {
    const char *kind, *opt;
} fit_cases[] = {
    {"mlp", "sgd"},     {"mlp", "adam_e12"},       {"mlp", "rmsprop"},       {"mlp", "adagrad"},
    {"mlp", "adamax"},  {"bn", "sgd"},             {"bn", "adam_e12"},       {"bn", "rmsprop"},
    {"functional", "sgd"}, {"functional", "adam_e12"}, {"functional", "rmsprop"},
};

/* A weight whose true gradient is 0 (a bias feeding BatchNormalization,
 * or the moving mean behind it) moves by rounding noise, which adaptive
 * optimizers scale to steps of order lr (the conformance README). */
static bool noise_driven(const char *kind, const char *opt, const char *name)
{
    return !strcmp(kind, "bn") && strcmp(opt, "sgd") != 0 &&
           (!strcmp(name, "conv2d/bias:0") || !strcmp(name, "dense/bias:0") || strstr(name, "moving_mean"));
}

START_TEST(fit_matches_tensorflow_js_runs)
{
    const char *kind = fit_cases[_i].kind, *opt = fit_cases[_i].opt;
    char rel[256];
    snprintf(rel, sizeof rel, "fit/%s/model.h5", kind);
    kc_object *m = kc_model_load(tu_data(rel), NULL, &err);
    CK_NN(m, err);
    snprintf(rel, sizeof rel, "fit/%s/data.json", kind);
    json_t *data = load_json(rel);
    snprintf(rel, sizeof rel, "fit/%s/%s.json", kind, opt);
    json_t *want = load_json(rel);
    json_t *args = json_object_get(want, "args");

    /* the README's tolerance for fit. Adam runs with epsilon 1e-12:
     * Keras (and ckeras) put epsilon after the bias correction,
     * TensorFlow.js before it, which matters where gradients are small */
    double atol = 1e-6, rtol = 1e-5;
    json_t *spec = json_pack("{s:O, s:O, s:O}", "optimizer", json_object_get(args, "optimizer"), "loss",
                             json_object_get(args, "loss"), "metrics", json_object_get(args, "metrics"));
    CK_OK(kc_model_compile_json(m, spec, NULL, &err));
    json_decref(spec);

    kc_tensor *x[4], *y[4];
    int nx = tensors_from_json(json_object_get(data, "x"), x), ny = tensors_from_json(json_object_get(data, "y"), y);
    kc_fit_args fa = {.x = x, .n_x = nx, .y = y, .n_y = ny, .batch_size = json_integer_value(json_object_get(args, "batch_size")),
                      .epochs = (int)json_integer_value(json_object_get(args, "epochs")), .no_shuffle = true};
    kc_history *h = NULL;
    kc_status rc = kc_model_fit(m, &fa, &h, &err);
    ck_assert_msg(rc == KC_OK, "%s/%s: %s (%s)", kind, opt, err.message, err.context);

    /* history: the same keys, per epoch */
    json_t *hist = json_object_get(want, "history");
    const char *key;
    json_t *vals;
    ck_assert_int_eq(kc_history_num_keys(h), (int)json_object_size(hist));
    json_object_foreach(hist, key, vals)
    {
        const double *got = kc_history_values(h, key);
        ck_assert_msg(got != NULL, "%s/%s: no '%s' in the history", kind, opt, key);
        for (size_t e = 0; e < json_array_size(vals); e++) {
            double w = json_number_value(json_array_get(vals, e));
            ck_assert_msg(fabs(got[e] - w) <= 1e-5 + 1e-5 * fabs(w), "%s/%s: %s[%zu] = %.9g, TensorFlow.js %.9g", kind,
                          opt, key, e, got[e], w);
        }
    }
    /* weights */
    json_t *ws = json_object_get(want, "weights");
    for (size_t i = 0; i < json_array_size(ws); i++) {
        json_t *wj = json_array_get(ws, i);
        const char *name = json_string_value(json_object_get(wj, "name"));
        kc_variable *v = weight_by_name(m, name);
        ck_assert_msg(v != NULL, "%s: no weight '%s'", kind, name);
        kc_tensor *expect;
        CK_OK(kc_tensor_from_json(wj, &expect, &err));
        double a = noise_driven(kind, opt, name) ? 2 * 6 * 0.01 : atol; /* 6 steps of lr 0.01, either way */
        tu_assert_tensors_close(kc_variable_value(v), expect, rtol, a, name);
        kc_tensor_unref(expect);
    }
    kc_history_free(h);
    free_tensors(x, nx);
    free_tensors(y, ny);
    json_decref(data);
    json_decref(want);
    kc_object_unref(m);
}
END_TEST

static Suite *trainer_suite(void)
{
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("fit");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, fit_matches_tensorflow_js_runs, 0, (int)(sizeof fit_cases / sizeof fit_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(trainer_suite)
