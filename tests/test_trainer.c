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
    kc_set_num_threads(tu_test_threads()); /* meson runs the suite on 1 and on 2 threads */
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
 * which cancels it) moves by rounding noise, which adaptive optimizers
 * scale to steps of order lr (the conformance README), and the moving mean
 * behind it follows. Instead of one loose tolerance these get bounds
 * derived from the case: T = epochs x steps_per_epoch steps (checked
 * against the optimizer's iterations), each moving such a weight by at most
 * B = lr x the optimizer's largest step ratio (Adam: (1 - beta_1) /
 * sqrt(1 - beta_2) when that is above 1, Kingma & Ba 2.1; RMSprop:
 * 1 / sqrt(1 - rho)). So the bias moves at most T B from its start in
 * ckeras and in TensorFlow.js (2 T B apart), and a moving mean with
 * momentum m, which takes (1 - m) of each batch mean, at most
 * (1 - m^T) 2 T B apart. */
static bool noise_driven(const char *kind, const char *opt, const char *name)
{
    return !strcmp(kind, "bn") && strcmp(opt, "sgd") != 0 &&
           (!strcmp(name, "conv2d/bias:0") || !strcmp(name, "dense/bias:0") || strstr(name, "moving_mean"));
}

static double max_step(const json_t *optimizer)
{
    const char *cls = json_string_value(json_object_get(optimizer, "class_name"));
    const json_t *cfg = json_object_get(optimizer, "config");
    double lr = json_number_value(json_object_get(cfg, "learning_rate")), ratio = 1;
    if (!strcmp(cls, "Adam")) {
        double b1 = json_number_value(json_object_get(cfg, "beta_1")), b2 = json_number_value(json_object_get(cfg, "beta_2"));
        ratio = (1 - b1) / sqrt(1 - b2) > 1 ? (1 - b1) / sqrt(1 - b2) : 1;
    } else if (!strcmp(cls, "RMSprop")) {
        ratio = 1 / sqrt(1 - json_number_value(json_object_get(cfg, "rho")));
    } else {
        ck_abort_msg("no step bound for %s", cls);
    }
    ck_assert(lr > 0 && ratio >= 1);
    return lr * ratio;
}

/* The momentum of the BatchNormalization owning weight `name`. */
static double bn_momentum(kc_object *m, const char *name)
{
    char layer[128];
    snprintf(layer, sizeof layer, "%.*s", (int)strcspn(name, "/"), name);
    kc_object *bn = kc_model_get_layer(m, layer);
    ck_assert_msg(bn != NULL, "no layer '%s'", layer);
    json_t *cfg;
    CK_OK(kc_object_get_config(bn, &cfg, &err));
    double mom = json_number_value(json_object_get(cfg, "momentum"));
    json_decref(cfg);
    ck_assert(mom > 0 && mom < 1);
    return mom;
}

static void check_noise_driven(kc_object *m, kc_object *start, const char *name, const kc_tensor *want,
                               const json_t *args, int steps)
{
    double b = max_step(json_object_get(args, "optimizer"));
    kc_tensor *got = kc_variable_value(weight_by_name(m, name));
    kc_tensor *init = kc_variable_value(weight_by_name(start, name));
    if (strstr(name, "moving_mean")) {
        double bound = (1 - pow(bn_momentum(m, name), steps)) * 2 * steps * b;
        tu_assert_tensors_close(got, want, 0, bound, name);
        return;
    }
    tu_assert_tensors_close(got, init, 0, steps * b, "a zero-gradient bias in ckeras");
    tu_assert_tensors_close(want, init, 0, steps * b, "a zero-gradient bias in TensorFlow.js");
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
    /* the steps the case took, which the noise bounds count */
    int steps = (int)(json_integer_value(json_object_get(want, "steps_per_epoch")) * fa.epochs);
    int64_t samples = json_integer_value(json_object_get(want, "samples"));
    ck_assert_int_eq(json_integer_value(json_object_get(want, "steps_per_epoch")),
                     (samples + fa.batch_size - 1) / fa.batch_size);
    ck_assert_int_eq(kc_optimizer_iterations(kc_model_optimizer(m)), steps);
    snprintf(rel, sizeof rel, "fit/%s/model.h5", kind);
    kc_object *start = kc_model_load(tu_data(rel), NULL, &err);
    CK_NN(start, err);
    /* weights */
    json_t *ws = json_object_get(want, "weights");
    for (size_t i = 0; i < json_array_size(ws); i++) {
        json_t *wj = json_array_get(ws, i);
        const char *name = json_string_value(json_object_get(wj, "name"));
        kc_variable *v = weight_by_name(m, name);
        ck_assert_msg(v != NULL, "%s: no weight '%s'", kind, name);
        kc_tensor *expect;
        CK_OK(kc_tensor_from_json(wj, &expect, &err));
        if (noise_driven(kind, opt, name))
            check_noise_driven(m, start, name, expect, args, steps);
        else
            tu_assert_tensors_close(kc_variable_value(v), expect, rtol, atol, name);
        kc_tensor_unref(expect);
    }
    kc_object_unref(start);
    kc_history_free(h);
    free_tensors(x, nx);
    free_tensors(y, ny);
    json_decref(data);
    json_decref(want);
    kc_object_unref(m);
}
END_TEST

/* ---- real data ------------------------------------------------------------------------------------ */

static const char *data_dir(void)
{
    static char dir[4096];
    const char *root = getenv("CKERAS_SOURCE_ROOT");
    snprintf(dir, sizeof dir, "%s/samples/data", root ? root : "..");
    return dir;
}

static kc_object *mlp(int in, const char *hidden_act, int hidden, int out, const char *out_act)
{
    kc_object *m = kc_sequential_new(NULL, &err);
    kc_object *i = kc_input_layer(1, (int64_t[]){in}, NULL, &err);
    char c1[128], c2[128];
    snprintf(c1, sizeof c1, "{\"units\": %d, \"activation\": \"%s\"}", hidden, hidden_act);
    snprintf(c2, sizeof c2, "{\"units\": %d, \"activation\": \"%s\"}", out, out_act);
    kc_object *d1 = kc_layer_create("Dense", c1, &err), *d2 = kc_layer_create("Dense", c2, &err);
    CK_NN(d2, err);
    CK_OK(kc_sequential_add(m, i, &err));
    CK_OK(kc_sequential_add(m, d1, &err));
    CK_OK(kc_sequential_add(m, d2, &err));
    kc_object_unref(i);
    kc_object_unref(d1);
    kc_object_unref(d2);
    return m;
}

/* UCI digits: a small MLP reaches >= 95% test accuracy in a few seconds. */
START_TEST(digits_mlp_reaches_95_percent)
{
    kc_set_random_seed(42);
    kc_tensor *xtr, *ytr, *xte, *yte;
    CK_OK(ds_digits(data_dir(), 1300, &xtr, &ytr, &xte, &yte, &err));
    kc_object *m = mlp(64, "relu", 64, 10, "softmax");
    CK_OK(kc_model_compile(m, "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.005}},"
                              " \"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\"]}", NULL, &err));
    kc_fit_args fa = {.x = &xtr, .n_x = 1, .y = &ytr, .n_y = 1, .batch_size = 32, .epochs = 30, .validation_split = 0.1};
    kc_history *h;
    CK_OK(kc_model_fit(m, &fa, &h, &err));
    ck_assert_int_eq(kc_history_num_epochs(h), 30);
    ck_assert_ptr_nonnull(kc_history_values(h, "val_accuracy"));
    kc_fit_args ea = {.x = &xte, .n_x = 1, .y = &yte, .n_y = 1};
    kc_logs *logs;
    CK_OK(kc_model_evaluate(m, &ea, &logs, &err));
    double acc = 0;
    ck_assert(kc_logs_get(logs, "accuracy", &acc));
    ck_assert_msg(acc >= 0.95, "test accuracy %.4f", acc);
    /* evaluate's accuracy is the fraction of argmax hits */
    kc_tensor *p;
    CK_OK(kc_model_predict_on_batch(m, &xte, 1, &p, &(int){0}, &err));
    int hits = 0;
    int64_t n = kc_tensor_dim(xte, 0);
    for (int64_t r = 0; r < n; r++) {
        int bp = 0, by = 0;
        for (int k = 1; k < 10; k++) {
            if (kc_tensor_get(p, r * 10 + k) > kc_tensor_get(p, r * 10 + bp)) bp = k;
            if (kc_tensor_get(yte, r * 10 + k) > kc_tensor_get(yte, r * 10 + by)) by = k;
        }
        hits += bp == by;
    }
    ck_assert_double_eq_tol(acc, (double)hits / (double)n, 1e-6);
    kc_tensor_unref(p);
    kc_logs_free(logs);
    kc_history_free(h);
    kc_object_unref(m);
    kc_tensor *t[4] = {xtr, ytr, xte, yte};
    free_tensors(t, 4);
}
END_TEST

/* Diabetes with the seed's Huber loss (a function built from ops): the
 * loss goes down on average, epoch after epoch. */
START_TEST(diabetes_huber_regression_decreases)
{
    kc_set_random_seed(7);
    kc_tensor *x, *y;
    CK_OK(ds_diabetes(data_dir(), &x, &y, &err));
    kc_object *m = mlp(10, "relu", 16, 1, "linear");
    kc_custom_objects *co = seed_custom_objects(1.0f, &err);
    CK_OK(kc_model_compile(m, "{\"optimizer\": {\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 0.01}},"
                              " \"loss\": \"huber_fn\", \"metrics\": [\"mae\"]}", co, &err));
    kc_fit_args fa = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 32, .epochs = 20};
    kc_history *h;
    CK_OK(kc_model_fit(m, &fa, &h, &err));
    const double *loss = kc_history_values(h, "loss");
    ck_assert_ptr_nonnull(kc_history_values(h, "mae"));
    int down = 0;
    for (int e = 1; e < 20; e++) down += loss[e] < loss[e - 1];
    ck_assert_msg(down >= 15, "the loss went down in only %d of 19 epochs", down);
    ck_assert_msg(loss[19] < 0.6 * loss[0], "loss %.4f -> %.4f", loss[0], loss[19]);
    /* the reported loss is the Huber loss of the predictions (no penalty terms here) */
    kc_fit_args ea = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 1000};
    kc_logs *logs;
    CK_OK(kc_model_evaluate(m, &ea, &logs, &err));
    kc_tensor *p;
    CK_OK(kc_model_predict_on_batch(m, &x, 1, &p, &(int){0}, &err));
    kc_tensor *hl = seed_huber_elementwise(y, p, 1.0f, &err);
    double mean = 0, got;
    for (int64_t i = 0; i < kc_tensor_size(hl); i++) mean += kc_tensor_get(hl, i);
    mean /= (double)kc_tensor_size(hl);
    ck_assert(kc_logs_get(logs, "loss", &got));
    ck_assert_double_eq_tol(got, mean, 1e-5 * mean);
    kc_tensor_unref(hl);
    kc_tensor_unref(p);
    kc_logs_free(logs);
    kc_history_free(h);
    kc_custom_objects_free(co);
    kc_object_unref(m);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
}
END_TEST

/* ---- resuming ------------------------------------------------------------------------------------ */

/* fit 2 epochs, save with the optimizer, load, fit 2 more == fit 4 epochs,
 * bit for bit (same seed: the shuffles continue the same stream); through
 * an .h5 file (Keras 2's layout) and a .keras archive (Keras 3's). */
START_TEST(resume_from_a_checkpoint_is_bit_identical)
{
    static const char *const mid[] = {"resume_mid.h5", "resume_mid.keras"};
    kc_tensor *xtr, *ytr, *xte, *yte;
    CK_OK(ds_digits(data_dir(), 400, &xtr, &ytr, &xte, &yte, &err));
    kc_set_random_seed(5);
    kc_object *m0 = mlp(64, "tanh", 32, 10, "softmax");
    CK_OK(kc_model_save(m0, su_path("resume_init.h5"), NULL, &err));
    const char *spec = "{\"optimizer\": \"adam\", \"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\"]}";

    kc_set_random_seed(99);
    kc_object *a = kc_model_load(su_path("resume_init.h5"), NULL, &err);
    CK_OK(kc_model_compile(a, spec, NULL, &err));
    kc_fit_args fa = {.x = &xtr, .n_x = 1, .y = &ytr, .n_y = 1, .batch_size = 50, .epochs = 4};
    CK_OK(kc_model_fit(a, &fa, NULL, &err));

    kc_set_random_seed(99);
    kc_object *b = kc_model_load(su_path("resume_init.h5"), NULL, &err);
    CK_OK(kc_model_compile(b, spec, NULL, &err));
    fa.epochs = 2;
    CK_OK(kc_model_fit(b, &fa, NULL, &err));
    CK_OK(kc_model_save(b, su_path(mid[_i]), NULL, &err));
    kc_object *c = kc_model_load(su_path(mid[_i]), NULL, &err);
    CK_NN(c, err);
    ck_assert_int_eq(kc_optimizer_iterations(kc_model_optimizer(c)), 2 * 8);
    fa.initial_epoch = 2;
    fa.epochs = 4;
    kc_history *h;
    CK_OK(kc_model_fit(c, &fa, &h, &err));
    ck_assert_int_eq(kc_history_num_epochs(h), 2);
    ck_assert_int_eq(kc_history_epochs(h)[0], 2);
    su_assert_same_weights(a, c);
    kc_history_free(h);
    kc_object *objs[] = {m0, a, b, c};
    for (int i = 0; i < 4; i++) kc_object_unref(objs[i]);
    kc_tensor *t[4] = {xtr, ytr, xte, yte};
    free_tensors(t, 4);
}
END_TEST

/* ---- Keras' log names, weights and validation ------------------------------------------------------ */

static kc_object *two_head_model(void)
{
    kc_symbol *in = kc_input(1, (int64_t[]){4}, "inp", &err);
    kc_object *shared = kc_layer_create("Dense", "{\"units\": 6, \"activation\": \"tanh\"}", &err);
    kc_object *c = kc_layer_create("Dense", "{\"units\": 3, \"activation\": \"softmax\", \"name\": \"cls\"}", &err);
    kc_object *r = kc_layer_create("Dense", "{\"units\": 1, \"name\": \"reg\"}", &err);
    kc_symbol *h = kc_apply(shared, &in, 1, &err), *oc = kc_apply(c, &h, 1, &err), *orr = kc_apply(r, &h, 1, &err);
    kc_symbol *outs[2] = {oc, orr};
    kc_object *m = kc_functional_new(&in, 1, outs, 2, NULL, &err);
    CK_NN(m, err);
    kc_symbol *syms[] = {in, h, oc, orr};
    for (int i = 0; i < 4; i++) kc_symbol_unref(syms[i]);
    kc_object_unref(shared);
    kc_object_unref(c);
    kc_object_unref(r);
    return m;
}

START_TEST(multi_output_logs_use_keras_names)
{
    kc_set_random_seed(3);
    kc_object *m = two_head_model();
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": [\"categorical_crossentropy\", \"mse\"],"
                              " \"loss_weights\": [1.0, 0.5], \"metrics\": {\"cls\": [\"accuracy\"], \"reg\": [\"mae\"]}}",
                           NULL, &err));
    kc_tensor *x = tu_random(2, (int64_t[]){12, 4}, -1, 1, 1), *yr = tu_random(2, (int64_t[]){12, 1}, -1, 1, 2);
    kc_tensor *yc = kc_tensor_zeros(KC_FLOAT32, 2, (int64_t[]){12, 3}, &err);
    for (int i = 0; i < 12; i++) kc_tensor_f32(yc)[i * 3 + i % 3] = 1;
    kc_tensor *ys[2] = {yc, yr};
    kc_fit_args fa = {.x = &x, .n_x = 1, .y = ys, .n_y = 2, .batch_size = 5, .epochs = 2, .validation_split = 0.25};
    kc_history *h;
    CK_OK(kc_model_fit(m, &fa, &h, &err));
    const char *want[] = {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae",
                          "val_loss", "val_cls_loss", "val_reg_loss", "val_cls_accuracy", "val_reg_mae"};
    ck_assert_int_eq(kc_history_num_keys(h), 10);
    for (int i = 0; i < 10; i++) ck_assert_str_eq(kc_history_key(h, i), want[i]);
    /* loss = cls_loss + 0.5 * reg_loss (running means weighted alike) */
    for (int e = 0; e < 2; e++)
        ck_assert_double_eq_tol(kc_history_values(h, "loss")[e],
                                kc_history_values(h, "cls_loss")[e] + 0.5 * kc_history_values(h, "reg_loss")[e], 1e-5);
    /* validation_split takes the last 25% before shuffling: val_ logs equal evaluate on rows 9..11 */
    kc_tensor *xv = kc_tensor_copy(x, &err), *vx, *vy[2];
    (void)xv;
    kc_tensor_unref(xv);
    int64_t rows[3] = {9, 10, 11};
    vx = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){3, 4}, &err);
    vy[0] = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){3, 3}, &err);
    vy[1] = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){3, 1}, &err);
    for (int i = 0; i < 3; i++) {
        memcpy(kc_tensor_f32(vx) + i * 4, kc_tensor_f32(x) + rows[i] * 4, 4 * sizeof(float));
        memcpy(kc_tensor_f32(vy[0]) + i * 3, kc_tensor_f32(yc) + rows[i] * 3, 3 * sizeof(float));
        kc_tensor_f32(vy[1])[i] = kc_tensor_f32(yr)[rows[i]];
    }
    kc_fit_args ea = {.x = &vx, .n_x = 1, .y = vy, .n_y = 2, .batch_size = 5};
    kc_logs *logs;
    CK_OK(kc_model_evaluate(m, &ea, &logs, &err));
    double v;
    ck_assert(kc_logs_get(logs, "loss", &v));
    ck_assert_double_eq_tol(v, kc_history_values(h, "val_loss")[1], 1e-6);
    ck_assert(kc_logs_get(logs, "reg_mae", &v));
    ck_assert_double_eq_tol(v, kc_history_values(h, "val_reg_mae")[1], 1e-6);
    kc_logs_free(logs);
    kc_tensor_unref(vx);
    free_tensors(vy, 2);
    kc_history_free(h);
    kc_object_unref(m);
    kc_tensor_unref(x);
    free_tensors(ys, 2);
}
END_TEST

/* class_weight is per-sample weights from the labels; sample weights
 * scale each sample's loss (Keras' sum_over_batch_size keeps the batch
 * size as denominator). Checked by the weights after training. */
START_TEST(class_and_sample_weights_agree)
{
    kc_tensor *x = tu_random(2, (int64_t[]){8, 3}, -1, 1, 4);
    kc_tensor *y = kc_tensor_zeros(KC_FLOAT32, 2, (int64_t[]){8, 2}, &err);
    for (int i = 0; i < 8; i++) kc_tensor_f32(y)[i * 2 + (i % 3 == 0)] = 1;
    kc_tensor *sw = kc_tensor_empty(KC_FLOAT32, 1, (int64_t[]){8}, &err);
    double cw[2] = {0.5, 3.0};
    for (int i = 0; i < 8; i++) kc_tensor_f32(sw)[i] = (float)cw[i % 3 == 0];
    kc_object *a = mlp(3, "relu", 5, 2, "softmax");
    su_randomize_weights(a, 8);
    CK_OK(kc_model_save(a, su_path("cw.h5"), NULL, &err));
    kc_object *b = kc_model_load(su_path("cw.h5"), NULL, &err);
    const char *spec = "{\"optimizer\": \"sgd\", \"loss\": \"categorical_crossentropy\"}";
    CK_OK(kc_model_compile(a, spec, NULL, &err));
    CK_OK(kc_model_compile(b, spec, NULL, &err));
    kc_fit_args fa = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 3, .epochs = 2, .no_shuffle = true,
                      .class_weight = cw, .n_class_weight = 2};
    CK_OK(kc_model_fit(a, &fa, NULL, &err));
    kc_fit_args fb = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 3, .epochs = 2, .no_shuffle = true,
                      .sample_weight = &sw, .n_sample_weight = 1};
    CK_OK(kc_model_fit(b, &fb, NULL, &err));
    su_assert_same_weights(a, b);
    /* weights 0 on every sample: nothing moves */
    kc_object *c = kc_model_load(su_path("cw.h5"), NULL, &err);
    CK_OK(kc_model_compile(c, spec, NULL, &err));
    kc_tensor_fill(sw, 0.0);
    CK_OK(kc_model_fit(c, &fb, NULL, &err));
    kc_object *orig = kc_model_load(su_path("cw.h5"), NULL, &err);
    su_assert_same_weights(orig, c);
    kc_object *objs[] = {a, b, c, orig};
    for (int i = 0; i < 4; i++) kc_object_unref(objs[i]);
    kc_tensor *t[3] = {x, y, sw};
    free_tensors(t, 3);
}
END_TEST

/* ---- model losses, custom steps and loops ------------------------------------------------------------- */

/* One row through a Dense layer in double: out = act(in W + b), act selu
 * (Keras' constants) or linear. */
static void dense_row(kc_object *layer, const double *in, int n_in, double *out, int n_out, bool selu)
{
    ck_assert_ptr_nonnull(layer);
    const kc_tensor *w = kc_variable_value(kc_layer_weight(layer, 0)), *b = kc_variable_value(kc_layer_weight(layer, 1));
    ck_assert_int_eq(kc_tensor_size(w), n_in * n_out);
    for (int o = 0; o < n_out; o++) {
        double z = kc_tensor_get(b, o);
        for (int i = 0; i < n_in; i++) z += in[i] * kc_tensor_get(w, i * n_out + o);
        const double scale = 1.0507009873554804934193349852946, alpha = 1.6732632423543772848170429916717;
        out[o] = !selu ? z : z > 0 ? scale * z : scale * alpha * (exp(z) - 1);
    }
}

/* train_on_batch's loss is the compiled loss plus add_loss terms plus
 * weight regularization, as Keras' total loss. */
START_TEST(total_loss_adds_model_losses)
{
    kc_custom_objects *co = seed_custom_objects(1.0f, &err);
    json_t *cfg = json_pack("{s:s, s:{s:i, s:i}}", "class_name", "ReconstructingRegressor", "config", "units", 6, "outputs", 1);
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "m", co);
    kc_object *m = NULL;
    CK_OK(kc_deserialize(KC_KIND_MODEL, cfg, &ctx, &m, &err));
    json_decref(cfg);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": \"mse\"}", co, &err));
    kc_tensor *x = tu_random(2, (int64_t[]){6, 4}, -1, 1, 11), *y = tu_random(2, (int64_t[]){6, 1}, -1, 1, 12);
    kc_logs *logs = kc_logs_new(&err);
    CK_OK(kc_model_test_on_batch(m, &x, 1, &y, 1, NULL, logs, &err)); /* builds the model */
    /* expected, computed here in double from the layers' weights (not from
     * what the model added): mse(y, out(h)) + 0.05 * mean((reconstruct(h) -
     * x)^2), with h = selu(selu(x W0 + b0) W1 + b1) */
    double h[6][6], want_mse = 0, want_rec = 0, got;
    for (int r = 0; r < 6; r++) {
        double in[6] = {0};
        for (int j = 0; j < 4; j++) in[j] = kc_tensor_get(x, r * 4 + j);
        dense_row(kc_model_get_layer(m, "hidden"), in, 4, h[r], 6, true);
        double h2[6];
        dense_row(kc_model_get_layer(m, "hidden_1"), h[r], 6, h2, 6, true);
        double out, rec[4];
        dense_row(kc_model_get_layer(m, "out"), h2, 6, &out, 1, false);
        dense_row(kc_model_get_layer(m, "reconstruct"), h2, 6, rec, 4, false);
        want_mse += pow(out - kc_tensor_get(y, r), 2) / 6;
        for (int j = 0; j < 4; j++) want_rec += pow(rec[j] - in[j], 2) / 24;
    }
    double want = want_mse + 0.05 * want_rec;
    ck_assert(kc_logs_get(logs, "loss", &got));
    ck_assert_msg(fabs(got - want) <= 1e-5 * (1 + fabs(want)), "loss %.9g, want %.9g (mse %.9g + 0.05 * %.9g)", got,
                  want, want_mse, want_rec);
    ck_assert(want_rec > 0.01); /* the add_loss term counts */
    /* and training lowers it */
    kc_fit_args fa = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 30, .no_shuffle = true};
    kc_history *hist;
    CK_OK(kc_model_fit(m, &fa, &hist, &err));
    ck_assert_double_lt(kc_history_values(hist, "loss")[29], kc_history_values(hist, "loss")[0]);
    kc_history_free(hist);
    kc_logs_free(logs);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    kc_object_unref(m);
    kc_custom_objects_free(co);
}
END_TEST

/* A custom training loop made of the public blocks gives exactly what
 * fit gives (no shuffling, one thread). */
START_TEST(custom_loop_equals_fit)
{
    kc_tensor *x = tu_random(2, (int64_t[]){10, 5}, -1, 1, 21), *y = tu_random(2, (int64_t[]){10, 2}, -1, 1, 22);
    kc_object *a = mlp(5, "relu", 7, 2, "linear");
    su_randomize_weights(a, 3);
    CK_OK(kc_model_save(a, su_path("loop.h5"), NULL, &err));
    kc_object *b = kc_model_load(su_path("loop.h5"), NULL, &err);
    const char *spec = "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.01}}, "
                       "\"loss\": \"mse\", \"metrics\": [\"mae\"]}";
    CK_OK(kc_model_compile(a, spec, NULL, &err));
    CK_OK(kc_model_compile(b, spec, NULL, &err));
    kc_fit_args fa = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 4, .epochs = 3, .no_shuffle = true};
    kc_history *h;
    CK_OK(kc_model_fit(a, &fa, &h, &err));

    /* the loop: forward under a tape, the compiled loss, gradients, the
     * optimizer, the metrics */
    kc_object *opt = kc_model_optimizer(b);
    kc_logs *logs = kc_logs_new(&err);
    for (int epoch = 0; epoch < 3; epoch++) {
        CK_OK(kc_model_reset_metrics(b, &err));
        for (int64_t start = 0; start < 10; start += 4) {
            int64_t n = start + 4 <= 10 ? 4 : 10 - start;
            kc_tensor *xb = kc_slice(x, (int64_t[]){start, 0}, (int64_t[]){n, 5}, &err);
            kc_tensor *yb = kc_slice(y, (int64_t[]){start, 0}, (int64_t[]){n, 2}, &err);
            kc_tape *tape = kc_tape_begin(0, &err);
            kc_tensor *pred = kc_layer_call1(b, xb, true, &err), *loss;
            CK_OK(kc_model_compute_loss(b, &yb, 1, &pred, 1, NULL, &loss, &err));
            kc_tape_end(tape);
            int nt = kc_layer_num_trainable_weights(b);
            kc_variable *vars[8];
            kc_tensor *src[8], *grads[8];
            for (int i = 0; i < nt; i++) src[i] = kc_variable_value(vars[i] = kc_layer_trainable_weight(b, i));
            CK_OK(kc_tape_gradient(tape, loss, src, nt, grads, &err));
            CK_OK(kc_optimizer_apply_gradients(opt, grads, vars, nt, &err));
            CK_OK(kc_model_update_metrics(b, &yb, 1, &pred, 1, NULL, &err));
            CK_OK(kc_model_metric_results(b, logs, &err));
            for (int i = 0; i < nt; i++) kc_tensor_unref(grads[i]);
            kc_tape_free(tape);
            kc_tensor *tmp[4] = {xb, yb, pred, loss};
            free_tensors(tmp, 4);
        }
        double l, mae;
        ck_assert(kc_logs_get(logs, "loss", &l) && kc_logs_get(logs, "mae", &mae));
        ck_assert(l == kc_history_values(h, "loss")[epoch]);
        ck_assert(mae == kc_history_values(h, "mae")[epoch]);
    }
    su_assert_same_weights(a, b);
    kc_logs_free(logs);
    kc_history_free(h);
    kc_object_unref(a);
    kc_object_unref(b);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
}
END_TEST

/* A model class whose train_step slot replaces fit's step (Keras'
 * overridden Model.train_step): here it counts and delegates. */
static int custom_steps;
static kc_status counting_step(kc_object *self, kc_train_step *step, kc_error *e)
{
    custom_steps++;
    kc_status rc = kc_model_train_step(self, step, e);
    if (rc == KC_OK) rc = kc_logs_set(step->logs, "steps_seen", custom_steps, e);
    return rc;
}

START_TEST(train_step_slot_replaces_the_step)
{
    kc_custom_objects *co = seed_custom_objects(1.0f, &err);
    /* a subclass of the seed's model class with the train_step slot set */
    static kc_model_methods methods;
    static kc_class cls;
    cls = seed_regressor_class;
    methods = *(const kc_model_methods *)seed_regressor_class.methods;
    methods.train_step = counting_step;
    cls.methods = &methods;
    cls.name = "CountingRegressor";
    json_t *cfg = json_pack("{s:i, s:i}", "units", 4, "outputs", 1);
    kc_object *m = kc_object_from_config(&cls, cfg, NULL, &err);
    json_decref(cfg);
    CK_NN(m, err);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": \"mse\"}", co, &err));
    kc_tensor *x = tu_random(2, (int64_t[]){7, 3}, -1, 1, 31), *y = tu_random(2, (int64_t[]){7, 1}, -1, 1, 32);
    kc_fit_args fa = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 2, .epochs = 2};
    kc_history *h;
    custom_steps = 0;
    CK_OK(kc_model_fit(m, &fa, &h, &err));
    ck_assert_int_eq(custom_steps, 8); /* 4 batches x 2 epochs */
    ck_assert_double_eq(kc_history_values(h, "steps_seen")[1], 8);
    kc_history_free(h);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    kc_object_unref(m);
    kc_custom_objects_free(co);
}
END_TEST

/* ---- errors ----------------------------------------------------------------------------------------------- */

START_TEST(bad_fit_calls_are_named_errors)
{
    kc_object *m = mlp(3, "relu", 4, 2, "softmax");
    kc_tensor *x = tu_random(2, (int64_t[]){6, 3}, -1, 1, 1), *y = tu_random(2, (int64_t[]){5, 2}, 0, 1, 2);
    kc_fit_args fa = {.x = &x, .n_x = 1, .y = &y, .n_y = 1};
    ck_assert_int_eq(kc_model_fit(m, &fa, NULL, &err), KC_ESTATE);
    CK_ERR(err, KC_ESTATE, "compiled");
    kc_error_clear(&err);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": \"categorical_crossentropy\"}", NULL, &err));
    ck_assert_int_eq(kc_model_fit(m, &fa, NULL, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "same number of samples");
    kc_error_clear(&err);
    kc_tensor *y6 = tu_random(2, (int64_t[]){6, 5}, 0, 1, 3);
    fa.y = &y6;
    ck_assert_int_ne(kc_model_fit(m, &fa, NULL, &err), KC_OK);
    CK_ERR(err, err.code, "epoch 1, batch 0");
    kc_error_clear(&err);
    kc_tensor *y2 = tu_random(2, (int64_t[]){6, 2}, 0, 1, 4);
    fa.y = &y2;
    fa.validation_split = 1.5;
    ck_assert_int_eq(kc_model_fit(m, &fa, NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "validation_split");
    kc_error_clear(&err);
    fa.validation_split = 0;
    double cw[1] = {1};
    fa.class_weight = cw;
    fa.n_class_weight = 1;
    ck_assert_int_eq(kc_model_fit(m, &fa, NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "class_weight");
    kc_error_clear(&err);
    fa.class_weight = NULL;
    kc_tensor *x2[2] = {x, x};
    fa.x = x2;
    fa.n_x = 2;
    ck_assert_int_eq(kc_model_fit(m, &fa, NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "2 inputs given");
    kc_tensor *t[4] = {x, y, y6, y2};
    free_tensors(t, 4);
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
    tcase_add_test(tc, digits_mlp_reaches_95_percent);
    tcase_add_test(tc, diabetes_huber_regression_decreases);
    tcase_add_loop_test(tc, resume_from_a_checkpoint_is_bit_identical, 0, 2);
    tcase_add_test(tc, multi_output_logs_use_keras_names);
    tcase_add_test(tc, class_and_sample_weights_agree);
    tcase_add_test(tc, total_loss_adds_model_losses);
    tcase_add_test(tc, custom_loop_equals_fit);
    tcase_add_test(tc, train_step_slot_replaces_the_step);
    tcase_add_test(tc, bad_fit_calls_are_named_errors);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(trainer_suite)
