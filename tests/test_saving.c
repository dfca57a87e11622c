/* Saving and loading (issue 6): round trips through the Keras 2 legacy .h5
 * layout, the real Keras fixtures of tests/data/keras (STATUS.md is the
 * table of what loads), the seed's custom objects through the registry and
 * custom_objects, and weights-only files. Faults and hostile files are in
 * test_saving_faults.c; TensorFlow.js conformance in test_conformance.c. */
#include "saving_util.h"
#include "seed_classes.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

/* ---- small builders ---------------------------------------------------------------------------- */

static kc_object *layer(const char *cls, const char *cfg)
{
    kc_object *l = kc_layer_create(cls, cfg, &err);
    CK_NN(l, err);
    return l;
}

/* Add a layer to a Sequential and drop our reference. */
static void add(kc_object *seq, kc_object *l)
{
    ck_assert_msg(kc_sequential_add(seq, l, &err) == KC_OK, "add: %s (%s)", err.message, err.context);
    kc_object_unref(l);
}

/* Apply a layer to symbols and drop our reference to the layer. */
static kc_symbol *apply(kc_object *l, kc_symbol *const *in, int n)
{
    kc_symbol *s = kc_apply(l, in, n, &err);
    CK_NN(s, err);
    kc_object_unref(l);
    return s;
}

static void free_tensors(kc_tensor **t, int n)
{
    for (int i = 0; i < n; i++) kc_tensor_unref(t[i]);
}

/* One optimizer step with random gradients, so that slots and the
 * iteration count exist and are non-trivial. */
static void optimizer_step(kc_object *model, uint64_t seed)
{
    kc_object *opt = kc_model_optimizer(model);
    int n = kc_layer_num_trainable_weights(model);
    kc_variable *vars[64];
    kc_tensor *grads[64];
    ck_assert_int_le(n, 64);
    for (int i = 0; i < n; i++) {
        vars[i] = kc_layer_trainable_weight(model, i);
        kc_tensor *v = kc_variable_value(vars[i]);
        grads[i] = tu_random(kc_tensor_ndim(v), kc_tensor_dims(v), -1, 1, seed + (uint64_t)i);
    }
    CK_OK(kc_optimizer_apply_gradients(opt, grads, vars, n, &err));
    free_tensors(grads, n);
}

static void assert_same_optimizer_state(kc_object *a, kc_object *b)
{
    kc_object *oa = kc_model_optimizer(a), *ob = kc_model_optimizer(b);
    ck_assert_ptr_nonnull(oa);
    ck_assert_ptr_nonnull(ob);
    ck_assert_str_eq(kc_object_name(oa), kc_object_name(ob));
    ck_assert_int_eq(kc_optimizer_iterations(oa), kc_optimizer_iterations(ob));
    ck_assert_int_eq(kc_optimizer_num_weights(oa), kc_optimizer_num_weights(ob));
    for (int i = 0; i < kc_optimizer_num_weights(oa); i++) {
        char na[256], nb[256];
        kc_tensor *ta = kc_optimizer_weight(oa, i, na, sizeof na), *tb = kc_optimizer_weight(ob, i, nb, sizeof nb);
        ck_assert_str_eq(na, nb);
        su_assert_bit_identical(ta, tb, na);
    }
    json_t *ca, *cb;
    CK_OK(kc_model_training_config(a, &ca, &err));
    CK_OK(kc_model_training_config(b, &cb, &err));
    ck_assert_msg(json_equal(ca, cb), "training_config differs");
    json_decref(ca);
    json_decref(cb);
}

/* The two formats whole models are saved in: the round trips run in
 * each (the test's loop index picks one). */
static const char *const formats[] = {".h5", ".keras"};
#define N_FORMATS 2

/* stem + the loop's extension, in one of a few rotating buffers. */
static const char *fmt_name(const char *stem, int i)
{
    static char bufs[4][256];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s%s", stem, formats[i]);
    return b;
}
#define F(stem) fmt_name(stem, _i)

/* ---- round trips ------------------------------------------------------------------------------- */

static kc_object *mlp_with_bn(void)
{
    kc_object *m = kc_sequential_new("mlp", &err);
    CK_NN(m, err);
    add(m, kc_input_layer(1, (int64_t[]){6}, NULL, &err));
    add(m, layer("Dense", "{\"units\": 8, \"activation\": \"relu\", \"kernel_regularizer\": "
                          "{\"class_name\": \"L2\", \"config\": {\"l2\": 0.01}}}"));
    add(m, layer("BatchNormalization", "{\"momentum\": 0.9, \"epsilon\": 0.01}"));
    add(m, layer("Dropout", "{\"rate\": 0.3}"));
    add(m, layer("Dense", "{\"units\": 3, \"activation\": \"softmax\"}"));
    su_randomize_weights(m, 11);
    return m;
}

START_TEST(sequential_compiled_round_trip_is_bit_identical)
{
    kc_object *m = mlp_with_bn();
    CK_OK(kc_model_compile(m, "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.005}},"
                              " \"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\"]}",
                           NULL, &err));
    optimizer_step(m, 5);
    optimizer_step(m, 6);
    kc_tensor *x = tu_random(2, (int64_t[]){5, 6}, -2, 2, 3);
    kc_object *back = su_round_trip(m, F("mlp"), NULL, &x);
    ck_assert(kc_model_is_compiled(back));
    ck_assert_int_eq(kc_optimizer_iterations(kc_model_optimizer(back)), 2);
    assert_same_optimizer_state(m, back);

    /* and once more: a file ckeras wrote, loaded and saved again, is the same */
    kc_object *again = su_round_trip(back, F("mlp2"), NULL, &x);
    assert_same_optimizer_state(m, again);

    /* include_optimizer=False: no training_config, a model that is not compiled */
    kc_save_options so = {.exclude_optimizer = true};
    CK_OK(kc_model_save(m, su_path(F("mlp_noopt")), &so, &err));
    kc_object *plain = kc_model_load(su_path(F("mlp_noopt")), NULL, &err);
    CK_NN(plain, err);
    ck_assert(!kc_model_is_compiled(plain));
    su_assert_same_weights(m, plain);

    /* compile=False ignores a stored training_config */
    kc_load_options lo = {.no_compile = true};
    kc_object *nc = kc_model_load(su_path(F("mlp")), &lo, &err);
    CK_NN(nc, err);
    ck_assert(!kc_model_is_compiled(nc));

    kc_object_unref(nc);
    kc_object_unref(plain);
    kc_object_unref(again);
    kc_object_unref(back);
    kc_object_unref(m);
    kc_tensor_unref(x);
}
END_TEST

START_TEST(functional_shared_nested_multi_output_round_trip)
{
    kc_symbol *a = kc_input(1, (int64_t[]){4}, "left_in", &err), *b = kc_input(1, (int64_t[]){4}, "right_in", &err);
    CK_NN(a, err);
    CK_NN(b, err);
    kc_object *shared = layer("Dense", "{\"units\": 5, \"activation\": \"tanh\", \"name\": \"shared\"}");
    kc_symbol *ha = kc_apply(shared, &a, 1, &err), *hb = kc_apply(shared, &b, 1, &err);
    kc_object_unref(shared);
    kc_symbol *both[2] = {ha, hb};
    kc_symbol *cat = apply(layer("Concatenate", NULL), both, 2);
    kc_symbol *norm = apply(layer("LayerNormalization", NULL), &cat, 1);
    kc_symbol *sum = apply(layer("Add", NULL), both, 2);

    kc_object *inner = kc_sequential_new("inner", &err);
    add(inner, kc_input_layer(1, (int64_t[]){10}, NULL, &err));
    add(inner, layer("Dense", "{\"units\": 3, \"activation\": \"elu\"}"));
    add(inner, layer("Dense", "{\"units\": 2}"));
    kc_symbol *o1 = apply(inner, &norm, 1);
    kc_symbol *o2 = apply(layer("Dense", "{\"units\": 1, \"name\": \"regress\"}"), &sum, 1);
    kc_symbol *o3 = apply(layer("Softmax", NULL), &o1, 1);
    kc_symbol *ins[2] = {a, b}, *outs[3] = {o1, o2, o3};
    kc_object *m = kc_functional_new(ins, 2, outs, 3, "two_heads", &err);
    CK_NN(m, err);
    kc_symbol *all[] = {a, b, ha, hb, cat, norm, sum, o1, o2, o3};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) kc_symbol_unref(all[i]);
    su_randomize_weights(m, 21);

    kc_tensor *x[2];
    su_model_inputs(m, 7, 0, 9, x);
    kc_object *back = su_round_trip(m, F("two_heads"), NULL, x);
    ck_assert_int_eq(kc_model_num_outputs(back), 3);
    ck_assert_str_eq(kc_model_input_name(back, 1), "right_in");

    /* the nested model's call is node 1 (Keras 2, TensorFlow.js); Keras 3
     * numbers a nested Sequential's calls from 0: both read the same */
    json_t *cfg;
    CK_OK(kc_serialize(m, &cfg, &err));
    json_t *outs_cfg = json_object_get(json_object_get(cfg, "config"), "output_layers");
    ck_assert_str_eq(json_string_value(json_array_get(json_array_get(outs_cfg, 0), 0)), "inner");
    ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(outs_cfg, 0), 1)), 1);
    json_array_set_new(json_array_get(outs_cfg, 0), 1, json_integer(0));
    json_t *layers_cfg = json_object_get(json_object_get(cfg, "config"), "layers");
    for (size_t i = 0; i < json_array_size(layers_cfg); i++) {
        json_t *nodes = json_object_get(json_array_get(layers_cfg, i), "inbound_nodes");
        for (size_t k = 0; k < json_array_size(nodes); k++)
            for (size_t t = 0; t < json_array_size(json_array_get(nodes, k)); t++) {
                json_t *ref = json_array_get(json_array_get(nodes, k), t);
                if (strcmp(json_string_value(json_array_get(ref, 0)), "inner") == 0)
                    json_array_set_new(ref, 1, json_integer(0));
            }
    }
    kc_object *k3 = NULL;
    CK_OK(kc_deserialize(KC_KIND_MODEL, cfg, NULL, &k3, &err));
    json_decref(cfg);
    ck_assert_int_eq(kc_model_num_outputs(k3), 3);
    kc_object_unref(k3);
    kc_object_unref(back);
    kc_object_unref(m);
    free_tensors(x, 2);
}
END_TEST

START_TEST(embedding_masking_and_frozen_layers_round_trip)
{
    kc_object *m = kc_sequential_new(NULL, &err);
    add(m, kc_input_layer(1, (int64_t[]){5}, NULL, &err));
    add(m, layer("Embedding", "{\"input_dim\": 12, \"output_dim\": 4, \"mask_zero\": true}"));
    add(m, layer("Flatten", NULL));
    kc_object *frozen = layer("Dense", "{\"units\": 6, \"activation\": \"swish\"}");
    kc_layer_set_trainable(frozen, false);
    add(m, frozen);
    add(m, layer("PReLU", NULL));
    add(m, layer("Dense", "{\"units\": 2, \"activation\": \"sigmoid\"}"));
    su_randomize_weights(m, 31);
    kc_tensor *x;
    su_model_inputs(m, 4, 12, 2, &x);
    kc_object *back = su_round_trip(m, F("embed"), NULL, &x);
    ck_assert(!kc_layer_trainable(kc_model_layer(back, 2)));
    ck_assert_int_eq(kc_layer_num_trainable_weights(back), kc_layer_num_trainable_weights(m));
    kc_object_unref(back);
    kc_object_unref(m);
    kc_tensor_unref(x);
}
END_TEST

/* ---- Lambda layers ----------------------------------------------------------------------------- */

static kc_tensor *times3(kc_tensor *const *in, int n, void *params, kc_error *e)
{
    (void)n;
    (void)params;
    return kc_mul_scalar(in[0], 3.0f, e);
}
static kc_tensor *square(kc_tensor *const *in, int n, void *params, kc_error *e)
{
    (void)n;
    (void)params;
    return kc_square(in[0], e);
}
static kc_tensor *scale_by(kc_tensor *const *in, int n, void *params, kc_error *e)
{
    (void)n;
    return kc_mul_scalar(in[0], *(float *)params, e);
}

START_TEST(lambda_layers_save_by_function_name)
{
    kc_custom_objects *co = kc_custom_objects_new(&err);
    float *k = malloc(sizeof *k);
    *k = 2.5f;
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LAMBDA, "scale_by", (kc_fn)scale_by, k, free, &err));
    kc_object *m = kc_sequential_new(NULL, &err);
    add(m, kc_input_layer(1, (int64_t[]){3}, NULL, &err));
    /* a Lambda's function comes from custom_objects when the layer is made from config */
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "lambda", co);
    json_t *cfg = json_pack("{s:s, s:{s:s}}", "class_name", "Lambda", "config", "function", "scale_by");
    kc_object *lam = NULL;
    CK_OK(kc_deserialize(KC_KIND_LAYER, cfg, &ctx, &lam, &err));
    json_decref(cfg);
    add(m, lam);
    add(m, layer("Dense", "{\"units\": 2}"));
    su_randomize_weights(m, 41);
    kc_tensor *x = tu_random(2, (int64_t[]){3, 3}, -1, 1, 4);
    kc_object *back = su_round_trip(m, "lambda.h5", co, &x);

    /* without the function: the unknown-name error naming it */
    ck_assert_ptr_null(kc_model_load(su_path("lambda.h5"), NULL, &err));
    CK_ERR(err, KC_ENOTFOUND, "scale_by");
    kc_object_unref(back);
    kc_object_unref(m);
    kc_tensor_unref(x);
    kc_custom_objects_free(co);
}
END_TEST

/* A real Keras 2.0.9 file whose Lambdas are Python bytecode (x ** 2, then
 * 3 * x): loads when C functions are given under the layer names, and
 * computes dense_2(3 * relu(x W1 + b1)^2) as Keras did. */
START_TEST(bytecode_lambda_fixture_loads_with_c_functions)
{
    const char *path = tu_data("keras/seq_dense_lambda_k2.0.9.h5");
    ck_assert_ptr_null(kc_model_load(path, NULL, &err));
    CK_ERR(err, KC_EUNSUPPORTED, "lambda_1");
    kc_error_clear(&err);

    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LAMBDA, "lambda_1", (kc_fn)square, NULL, NULL, &err));
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LAMBDA, "lambda_2", (kc_fn)times3, NULL, NULL, &err));
    kc_load_options lo = {.custom_objects = co};
    kc_object *m = kc_model_load(path, &lo, &err);
    CK_NN(m, err);

    kc_tensor *x = tu_random(2, (int64_t[]){3, 100}, -1, 1, 8), *y;
    ck_assert_int_eq(su_predict(m, &x, &y), 1);
    const float *w1 = kc_tensor_cdata(kc_variable_value(kc_layer_weight(kc_model_get_layer(m, "dense_1"), 0)));
    const float *b1 = kc_tensor_cdata(kc_variable_value(kc_layer_weight(kc_model_get_layer(m, "dense_1"), 1)));
    const float *w2 = kc_tensor_cdata(kc_variable_value(kc_layer_weight(kc_model_get_layer(m, "dense_2"), 0)));
    const float *b2 = kc_tensor_cdata(kc_variable_value(kc_layer_weight(kc_model_get_layer(m, "dense_2"), 1)));
    const float *xv = kc_tensor_cdata(x);
    float want[3 * 32];
    for (int r = 0; r < 3; r++) {
        double h[64];
        for (int j = 0; j < 64; j++) {
            double s = b1[j];
            for (int i = 0; i < 100; i++) s += (double)xv[r * 100 + i] * w1[i * 64 + j];
            s = s > 0 ? s : 0;
            h[j] = 3.0 * s * s;
        }
        for (int j = 0; j < 32; j++) {
            double s = b2[j];
            for (int i = 0; i < 64; i++) s += h[i] * w2[i * 32 + j];
            want[r * 32 + j] = (float)s;
        }
    }
    tu_assert_close(y, 2, (int64_t[]){3, 32}, want, 1e-4, 1e-4, "bytecode lambda model");

    /* saved again, the Lambdas name their C functions */
    kc_object *back = su_round_trip(m, "lambda_fixture.h5", co, &x);
    kc_object_unref(back);
    kc_tensor_unref(y);
    kc_tensor_unref(x);
    kc_object_unref(m);
    kc_custom_objects_free(co);
}
END_TEST

/* ---- the real Keras fixtures, as STATUS.md describes them ------------------------------------ */

typedef enum { ST_LOADS, ST_UNKNOWN, ST_WEIGHTS_ONLY } fixture_status;

typedef struct fixture_row {
    char file[128];
    fixture_status status;
    char unknown_class[64];
    bool golden;       /* "matches": the golden must be reproduced */
    bool has_golden;   /* anything but "—" */
} fixture_row;

static int read_status_table(fixture_row *rows, int max)
{
    FILE *f = fopen(tu_data("keras/STATUS.md"), "r");
    ck_assert_msg(f != NULL, "cannot open STATUS.md");
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char *cols[6] = {0};
        int nc = su_table_row(line, cols, 6);
        if (nc == 0) continue;
        ck_assert_int_lt(n, max);
        fixture_row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        ck_assert_int_ge(nc, 5);
        ck_assert_int_eq(sscanf(cols[0], " `%127[^`]`", r->file), 1);
        const char *st = cols[2] + strspn(cols[2], " ");
        if (strncmp(st, "loads", 5) == 0) {
            r->status = ST_LOADS;
        } else if (strncmp(st, "weights only", 12) == 0) {
            r->status = ST_WEIGHTS_ONLY;
        } else {
            r->status = ST_UNKNOWN;
            ck_assert_msg(sscanf(st, "unknown class `%63[^`]`", r->unknown_class) == 1, "bad status '%s'", st);
        }
        const char *g = cols[3] + strspn(cols[3], " ");
        r->golden = strncmp(g, "matches", 7) == 0;
        r->has_golden = r->golden || strncmp(g, "pending", 7) == 0;
        ck_assert_msg(r->has_golden || strncmp(g, "—", strlen("—")) == 0, "bad golden column '%s'", g);
        ck_assert_msg(!r->golden || r->status == ST_LOADS, "%s: a golden can only match when it loads", r->file);
    }
    fclose(f);
    return n;
}


static kc_tensor *hinge_mse(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *e)
{
    return seed_huber_fn(y_true, y_pred, params, e); /* never run: only its name is needed */
}

/* What loading the fixtures may need: the two bytecode Lambdas' stand-ins
 * and the custom loss and metrics one file was compiled with. */
static kc_custom_objects *fixture_custom_objects(void)
{
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_NN(co, err);
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LAMBDA, "lambda_1", (kc_fn)square, NULL, NULL, &err));
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LAMBDA, "lambda_2", (kc_fn)times3, NULL, NULL, &err));
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LOSS, "hinge_mse", (kc_fn)hinge_mse, NULL, NULL, &err));
    static const char *const metrics[] = {"denorm_MAE", "sgn_acc", "perBLMAE"};
    for (int i = 0; i < 3; i++)
        CK_OK(kc_custom_objects_add_function(co, KC_KIND_METRIC, metrics[i], (kc_fn)hinge_mse, NULL, NULL, &err));
    return co;
}

/* The README's sentence "ckeras loads N of the 25 real Keras files ... M of
 * the 17 TensorFlow.js goldens" must match the table. */
static void check_readme_counts(int n_files, int loads, int goldens, int matched)
{
    char want[200];
    snprintf(want, sizeof want, "loads %d of the %d real Keras files", loads, n_files);
    su_assert_readme_says(want);
    snprintf(want, sizeof want, "reproduces %d of the %d TensorFlow.js goldens", matched, goldens);
    su_assert_readme_says(want);
}

START_TEST(real_keras_fixtures_match_status_table)
{
    fixture_row rows[64];
    int n = read_status_table(rows, 64), loads = 0, goldens = 0, matched = 0;
    ck_assert_int_eq(n, 25);
    kc_custom_objects *co = fixture_custom_objects();
    for (int i = 0; i < n; i++) {
        const fixture_row *r = &rows[i];
        char rel[256], io_rel[256];
        snprintf(rel, sizeof rel, "keras/%.127s", r->file);
        snprintf(io_rel, sizeof io_rel, "keras/%.*s.io.json", (int)strlen(r->file) - 3, r->file);
        static char path[16384], io_path[16384];
        snprintf(path, sizeof path, "%s", tu_data(rel));
        snprintf(io_path, sizeof io_path, "%s", tu_data(io_rel));
        FILE *probe = fopen(io_path, "r");
        ck_assert_msg((probe != NULL) == r->has_golden, "%s: the golden column disagrees with the files", r->file);
        if (probe) fclose(probe);
        goldens += r->has_golden;

        kc_error_clear(&err);
        kc_load_options lo = {.custom_objects = co};
        kc_object *m = kc_model_load(path, &lo, &err);
        if (r->status == ST_UNKNOWN) {
            ck_assert_msg(m == NULL, "%s loads: update STATUS.md", r->file);
            char needle[100];
            snprintf(needle, sizeof needle, "'%s'", r->unknown_class);
            CK_ERR(err, KC_ENOTFOUND, needle);
            continue;
        }
        if (r->status == ST_WEIGHTS_ONLY) {
            ck_assert_ptr_null(m);
            CK_ERR(err, KC_EFORMAT, "only weights");
            continue;
        }
        ck_assert_msg(m != NULL, "%s: %s (%s)", r->file, err.message, err.context);
        loads++;
        kc_tensor *ins[KC_MAX_LAYER_OUTPUTS];
        int n_in = 0;
        if (r->golden) {
            su_check_golden(m, io_path, ins, &n_in);
            matched++;
        } else {
            n_in = kc_model_num_inputs(m);
            su_model_inputs(m, 3, 0, 77, ins);
        }
        /* resave keeps every weight and prediction bit for bit */
        kc_object *back = su_round_trip(m, "fixture_resave.h5", co, ins);
        free_tensors(ins, n_in);
        kc_object_unref(back);
        kc_object_unref(m);
    }
    check_readme_counts(n, loads, goldens, matched);
    kc_custom_objects_free(co);
}
END_TEST

/* keras-ref's fixture kinds (TensorFlow.js-written Keras 2 files, weights
 * after a few SGD steps so BatchNormalization statistics are non-trivial):
 * each loads, reproduces TensorFlow.js within rtol 1e-4 / atol 1e-5, and
 * resaves bit for bit. `pending` names the class a kind still waits for. */
static const struct {
    const char *kind, *pending;
} ref_kinds[] = {
    {"mlp", NULL},        {"bn", NULL},         {"functional", NULL},     {"linear", NULL},  {"cnn", NULL},
    {"conv1d", NULL},     {"gru", NULL},        {"embedding_lstm", NULL}, {"simple_rnn", NULL},
};

START_TEST(keras_ref_fixtures_reproduce_tensorflow_js)
{
    char rel[128], io_rel[128];
    snprintf(rel, sizeof rel, "keras-ref/%s.h5", ref_kinds[_i].kind);
    snprintf(io_rel, sizeof io_rel, "keras-ref/%s.io.json", ref_kinds[_i].kind);
    kc_object *m = kc_model_load(tu_data(rel), NULL, &err);
    if (ref_kinds[_i].pending) {
        ck_assert_msg(m == NULL, "%s loads now: drop its pending mark", ref_kinds[_i].kind);
        char needle[80];
        snprintf(needle, sizeof needle, "'%s'", ref_kinds[_i].pending);
        CK_ERR(err, KC_ENOTFOUND, needle);
        return;
    }
    CK_NN(m, err);
    static char io_path[16384];
    snprintf(io_path, sizeof io_path, "%s", tu_data(io_rel));
    kc_tensor *ins[KC_MAX_LAYER_OUTPUTS];
    int n_in = 0;
    su_check_golden(m, io_path, ins, &n_in);
    kc_object *back = su_round_trip(m, "ref_resave.h5", NULL, ins);
    free_tensors(ins, n_in);
    kc_object_unref(back);
    kc_object_unref(m);
}
END_TEST

/* Keras 1.2.2's file has no optimizer_weights and a Keras 1 training_config:
 * it loads compiled, with its optimizer and loss. */
START_TEST(fixture_training_config_compiles)
{
    kc_object *m = kc_model_load(tu_data("keras/seq_dense_nadam_k2.0.9.h5"), NULL, &err);
    CK_NN(m, err);
    ck_assert(kc_model_is_compiled(m));
    ck_assert_str_eq(kc_object_name(kc_model_optimizer(m)), "Nadam");
    kc_object *loss;
    CK_OK(kc_model_compiled_loss(m, 0, &loss, &err));
    ck_assert_ptr_nonnull(loss);
    kc_object_unref(m);
}
END_TEST

/* ---- the seed's custom objects --------------------------------------------------------------- */

static kc_object *seed_model(const kc_custom_objects *co)
{
    kc_object *m = kc_sequential_new("seed", &err);
    CK_NN(m, err);
    add(m, kc_input_layer(1, (int64_t[]){4}, NULL, &err));
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "seed", co);
    json_t *cfg = json_pack("{s:s, s:{s:i, s:s}}", "class_name", "MyDense", "config", "units", 6, "activation",
                            "my_softplus");
    kc_object *my = NULL;
    CK_OK(kc_deserialize(KC_KIND_LAYER, cfg, &ctx, &my, &err));
    json_decref(cfg);
    add(m, my);
    add(m, layer("Dense", "{\"units\": 2}"));
    su_randomize_weights(m, 51);
    return m;
}

static void compile_seed(kc_object *m, const kc_custom_objects *co)
{
    json_t *lc = json_pack("{s:f}", "threshold", 2.5), *mc = json_pack("{s:f}", "threshold", 0.5);
    kc_object *loss = kc_object_from_config(&seed_huber_loss_class, lc, NULL, &err);
    kc_object *metric = kc_object_from_config(&seed_huber_metric_class, mc, NULL, &err);
    json_decref(lc);
    json_decref(mc);
    CK_NN(loss, err);
    CK_NN(metric, err);
    kc_object *opt = kc_optimizer_get("sgd", &err);
    kc_compile_args args = {.optimizer = opt, .losses = &loss, .n_losses = 1, .metrics = &metric, .n_metrics = 1};
    CK_OK(kc_model_compile_objects(m, &args, &err));
    kc_object_unref(opt);
    kc_object_unref(loss);
    kc_object_unref(metric);
    (void)co;
}

static double config_float(const kc_object *o, const char *key)
{
    json_t *cfg;
    CK_OK(kc_object_get_config(o, &cfg, &err));
    double v = json_number_value(json_object_get(cfg, key));
    json_decref(cfg);
    return v;
}

START_TEST(seed_custom_classes_survive_through_custom_objects)
{
    kc_custom_objects *co = seed_custom_objects(2.0f, &err);
    CK_NN(co, err);
    kc_object *m = seed_model(co);
    compile_seed(m, co);
    kc_tensor *x = tu_random(2, (int64_t[]){5, 4}, -3, 3, 6);
    kc_object *back = su_round_trip(m, F("seed"), co, &x);

    /* the loss class kept its threshold, the metric class its own */
    kc_object *loss, *metrics[4];
    int nm;
    CK_OK(kc_model_compiled_loss(back, 0, &loss, &err));
    ck_assert_str_eq(kc_object_name(loss), "HuberLoss");
    ck_assert_double_eq_tol(config_float(loss, "threshold"), 2.5, 1e-12);
    CK_OK(kc_model_compiled_metrics(back, 0, metrics, 4, &nm, &err));
    ck_assert_int_eq(nm, 1);
    ck_assert_str_eq(kc_object_name(metrics[0]), "HuberMetric");
    ck_assert_double_eq_tol(config_float(metrics[0], "threshold"), 0.5, 1e-12);

    /* without custom_objects: the unknown-class error names the class */
    ck_assert_ptr_null(kc_model_load(su_path(F("seed")), NULL, &err));
    CK_ERR(err, KC_ENOTFOUND, "'MyDense'");
    /* the custom activation is needed as well */
    kc_custom_objects *partial = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_class(partial, NULL, &seed_my_dense_class, &err));
    kc_load_options lo = {.custom_objects = partial};
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_model_load(su_path(F("seed")), &lo, &err));
    CK_ERR(err, KC_ENOTFOUND, "my_softplus");
    /* and the loss class, found while compiling from training_config */
    CK_OK(kc_custom_objects_add_function(partial, KC_KIND_ACTIVATION, "my_softplus", (kc_fn)seed_my_softplus, NULL,
                                         NULL, &err));
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_model_load(su_path(F("seed")), &lo, &err));
    CK_ERR(err, KC_ENOTFOUND, "HuberLoss");
    /* compile=False does not need the training objects */
    lo.no_compile = true;
    kc_object *nc = kc_model_load(su_path(F("seed")), &lo, &err);
    CK_NN(nc, err);
    kc_object_unref(nc);

    kc_custom_objects_free(partial);
    kc_object_unref(back);
    kc_object_unref(m);
    kc_tensor_unref(x);
    kc_custom_objects_free(co);
}
END_TEST

/* create_huber(2.0): the threshold is not saved, only the name huber_fn;
 * at load time custom_objects binds it again. */
START_TEST(bound_loss_function_is_rebound_at_load)
{
    kc_custom_objects *co2 = seed_custom_objects(2.0f, &err), *co3 = seed_custom_objects(3.0f, &err);
    kc_object *m = seed_model(co2);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": \"huber_fn\"}", co2, &err));
    CK_OK(kc_model_save(m, su_path(F("huber_fn")), NULL, &err));

    kc_load_options lo = {.custom_objects = co3};
    kc_object *back = kc_model_load(su_path(F("huber_fn")), &lo, &err);
    CK_NN(back, err);
    kc_object *loss;
    CK_OK(kc_model_compiled_loss(back, 0, &loss, &err));
    ck_assert(kc_object_is_function(loss));
    ck_assert_str_eq(kc_object_name(loss), "huber_fn");
    void *params;
    kc_fn fn;
    CK_OK(kc_function_get(loss, &fn, &params, &err));
    ck_assert(fn == (kc_fn)seed_huber_fn);
    ck_assert_float_eq(*(float *)params, 3.0f); /* what this load bound, not what was compiled */
    /* the loss computes with that threshold: |d| = 2.5 is linear at t = 3? no: 2.5 < 3 -> 0.5 d^2 */
    kc_tensor *yt = TU_T2(1, 1, 0.0f), *yp = TU_T2(1, 1, 2.5f);
    kc_tensor *l = kc_loss_compute(loss, yt, yp, NULL, &err);
    CK_NN(l, err);
    ck_assert_float_eq_tol(kc_tensor_item(l), 3.125f, 1e-6f);
    kc_tensor_unref(l);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);

    kc_custom_objects *no_loss = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_class(no_loss, NULL, &seed_my_dense_class, &err));
    CK_OK(kc_custom_objects_add_function(no_loss, KC_KIND_ACTIVATION, "my_softplus", (kc_fn)seed_my_softplus, NULL,
                                         NULL, &err));
    lo.custom_objects = no_loss;
    ck_assert_ptr_null(kc_model_load(su_path(F("huber_fn")), &lo, &err));
    CK_ERR(err, KC_ENOTFOUND, "huber_fn");

    kc_custom_objects_free(no_loss);
    kc_object_unref(back);
    kc_object_unref(m);
    kc_custom_objects_free(co2);
    kc_custom_objects_free(co3);
}
END_TEST

static kc_object *regressor(const kc_custom_objects *co)
{
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "regressor", co);
    json_t *cfg = json_pack("{s:s, s:{s:s, s:i, s:i}}", "class_name", "ReconstructingRegressor", "config", "name", "regressor",
                            "units", 7, "outputs", 3);
    kc_object *m = NULL;
    kc_status rc = kc_deserialize(KC_KIND_MODEL, cfg, &ctx, &m, &err);
    json_decref(cfg);
    ck_assert_msg(rc == KC_OK, "%s (%s)", err.message, err.context);
    return m;
}

START_TEST(subclassed_model_with_add_loss_saves_and_loads)
{
    kc_custom_objects *co = seed_custom_objects(1.0f, &err);
    kc_object *m = regressor(co);
    /* not built yet: saving says so */
    ck_assert_int_eq(kc_model_save(m, su_path(F("unbuilt")), NULL, &err), KC_ESTATE);
    CK_ERR(err, KC_ESTATE, "not built");
    kc_error_clear(&err);
    kc_shape in = kc_shape_make(2, (int64_t[]){-1, 5});
    CK_OK(kc_model_build(m, &in, 1, &err));
    ck_assert_int_eq(kc_layer_num_weights(m), 8); /* hidden, hidden_1, out, reconstruct */
    ck_assert_ptr_nonnull(kc_model_get_layer(m, "reconstruct"));
    su_randomize_weights(m, 61);
    char *summary = kc_model_summary(m, &err);
    CK_NN(summary, err);
    ck_assert_msg(strstr(summary, "Model: \"regressor\"") && strstr(summary, "reconstruct (Dense)") &&
                      strstr(summary, "multiple") && strstr(summary, "Total params: 162"),
                  "%s", summary);
    kc_string_free(summary);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"adam\", \"loss\": \"mse\"}", co, &err));
    optimizer_step(m, 3);

    kc_tensor *x = tu_random(2, (int64_t[]){4, 5}, -1, 1, 12);
    kc_object *back = su_round_trip(m, F("regressor"), co, &x);
    assert_same_optimizer_state(m, back);
    /* add_loss runs again in the loaded model */
    kc_tensor *y = kc_layer_call1(back, x, false, &err);
    CK_NN(y, err);
    ck_assert_int_eq(kc_layer_num_losses(back), 1);
    /* 0.05 * mean((reconstruct(hidden_1(hidden(x))) - x)^2), recomputed layer by layer */
    kc_tensor *h1 = kc_layer_call1(kc_model_get_layer(back, "hidden"), x, false, &err);
    kc_tensor *h2 = kc_layer_call1(kc_model_get_layer(back, "hidden_1"), h1, false, &err);
    kc_tensor *r = kc_layer_call1(kc_model_get_layer(back, "reconstruct"), h2, false, &err);
    CK_NN(r, err);
    double sum = 0;
    for (int i = 0; i < 20; i++) {
        double d = kc_tensor_get(r, i) - kc_tensor_get(x, i);
        sum += d * d;
    }
    ck_assert_float_eq_tol(kc_tensor_item(kc_layer_loss(back, 0)), (float)(0.05 * sum / 20), 1e-6f);
    kc_tensor_unref(h1);
    kc_tensor_unref(h2);
    kc_tensor_unref(r);
    kc_tensor_unref(y);

    /* weights-only files work for subclassed models too, once built */
    const char *wfile = _i == 0 ? "regressor_w.h5" : "regressor_w.weights.h5"; /* Keras 2's layout, Keras 3's */
    CK_OK(kc_model_save_weights(m, su_path(wfile), NULL, &err));
    kc_object *fresh = regressor(co);
    ck_assert_int_eq(kc_model_load_weights(fresh, su_path(wfile), NULL, &err), KC_ESTATE);
    CK_ERR(err, KC_ESTATE, "not built");
    kc_error_clear(&err);
    CK_OK(kc_model_build(fresh, &in, 1, &err));
    CK_OK(kc_model_load_weights(fresh, su_path(wfile), NULL, &err));
    su_assert_same_weights(m, fresh);

    ck_assert_ptr_null(kc_model_load(su_path(F("regressor")), NULL, &err));
    CK_ERR(err, KC_ENOTFOUND, "'ReconstructingRegressor'");

    kc_object_unref(fresh);
    kc_object_unref(back);
    kc_object_unref(m);
    kc_tensor_unref(x);
    kc_custom_objects_free(co);
}
END_TEST

/* Registered classes and functions need no custom_objects (run last: the
 * registry is global). */
START_TEST(seed_classes_load_through_the_registry)
{
    kc_custom_objects *co = seed_custom_objects(2.0f, &err);
    kc_object *m = seed_model(co);
    compile_seed(m, co);
    CK_OK(kc_model_save(m, su_path("seed_reg.h5"), NULL, &err));
    kc_object *mm = regressor(co);
    kc_shape in = kc_shape_make(2, (int64_t[]){-1, 2});
    CK_OK(kc_model_build(mm, &in, 1, &err));
    CK_OK(kc_model_save(mm, su_path("regressor_reg.h5"), NULL, &err));

    CK_OK(kc_register_class(&seed_my_dense_class, &err));
    CK_OK(kc_register_class(&seed_huber_loss_class, &err));
    CK_OK(kc_register_class(&seed_huber_metric_class, &err));
    CK_OK(kc_register_class(&seed_regressor_class, &err));
    CK_OK(kc_register_function(KC_KIND_ACTIVATION, "my_softplus", (kc_fn)seed_my_softplus, &err));

    kc_object *back = kc_model_load(su_path("seed_reg.h5"), NULL, &err);
    CK_NN(back, err);
    su_assert_same_weights(m, back);
    su_assert_same_config(m, back);
    kc_object *back2 = kc_model_load(su_path("regressor_reg.h5"), NULL, &err);
    CK_NN(back2, err);
    su_assert_same_weights(mm, back2);

    kc_object_unref(back2);
    kc_object_unref(back);
    kc_object_unref(mm);
    kc_object_unref(m);
    kc_custom_objects_free(co);
}
END_TEST

/* ---- weights only ---------------------------------------------------------------------------- */

typedef struct warnings {
    int n;
    char all[4096]; /* every message, one per line */
} warnings;

static void collect(void *user, const char *message)
{
    warnings *w = user;
    w->n++;
    size_t used = strlen(w->all);
    snprintf(w->all + used, sizeof w->all - used, "%s\n", message);
}

/* Two branches from one input, joined; `reverse` joins them the other way
 * round, so that the model's layer order differs from the file's. */
static kc_object *two_branches(bool reverse, int64_t right_units)
{
    kc_symbol *x = kc_input(1, (int64_t[]){3}, "x", &err);
    char rc[100];
    snprintf(rc, sizeof rc, "{\"units\": %lld, \"name\": \"right\"}", (long long)right_units);
    kc_object *left = layer("Dense", "{\"units\": 4, \"name\": \"left\"}"), *right = layer("Dense", rc);
    kc_symbol *l = NULL, *r = NULL;
    if (reverse) {
        r = apply(right, &x, 1);
        l = apply(left, &x, 1);
    } else {
        l = apply(left, &x, 1);
        r = apply(right, &x, 1);
    }
    kc_symbol *lr[2] = {reverse ? r : l, reverse ? l : r}; /* Keras orders layers from the outputs back */
    kc_symbol *cat = apply(layer("Concatenate", "{\"name\": \"cat\"}"), lr, 2);
    kc_symbol *out = apply(layer("Dense", "{\"units\": 1, \"name\": \"head\"}"), &cat, 1);
    kc_object *m = kc_functional_new(&x, 1, &out, 1, NULL, &err);
    CK_NN(m, err);
    kc_symbol *all[] = {x, l, r, cat, out};
    for (int i = 0; i < 5; i++) kc_symbol_unref(all[i]);
    return m;
}

static void assert_layer_weights_equal(kc_object *a, kc_object *b, const char *name, bool equal)
{
    kc_object *la = kc_model_get_layer(a, name), *lb = kc_model_get_layer(b, name);
    ck_assert_int_eq(kc_layer_num_weights(la), kc_layer_num_weights(lb));
    for (int i = 0; i < kc_layer_num_weights(la); i++) {
        const kc_tensor *ta = kc_variable_value(kc_layer_weight(la, i)), *tb = kc_variable_value(kc_layer_weight(lb, i));
        bool same = kc_tensor_same_shape(ta, tb) && memcmp(kc_tensor_cdata(ta), kc_tensor_cdata(tb), kc_tensor_nbytes(ta)) == 0;
        ck_assert_msg(same == equal, "%s weight %d: expected %s", name, i, equal ? "equal" : "different");
    }
}

START_TEST(weights_only_positional_by_name_and_skip_mismatch)
{
    kc_object *m = two_branches(false, 2);
    su_randomize_weights(m, 71);
    CK_OK(kc_model_save_weights(m, su_path("branches_w.h5"), NULL, &err));
    /* a weights-only file is not a model file */
    ck_assert_ptr_null(kc_model_load(su_path("branches_w.h5"), NULL, &err));
    CK_ERR(err, KC_EFORMAT, "only weights");
    kc_error_clear(&err);

    /* positional, into a freshly built identical model */
    kc_object *same = two_branches(false, 2);
    CK_OK(kc_model_load_weights(same, su_path("branches_w.h5"), NULL, &err));
    su_assert_same_weights(m, same);
    /* a full model file works as a weights source too */
    CK_OK(kc_model_save(m, su_path("branches.h5"), NULL, &err));
    kc_object *same2 = two_branches(false, 2);
    CK_OK(kc_model_load_weights(same2, su_path("branches.h5"), NULL, &err));
    su_assert_same_weights(m, same2);

    /* reordered: by position the shapes disagree (named error), by name it loads */
    kc_object *rev = two_branches(true, 2);
    ck_assert_int_eq(kc_model_load_weights(rev, su_path("branches_w.h5"), NULL, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "kernel");
    kc_error_clear(&err);
    kc_weights_options by_name = {.by_name = true};
    CK_OK(kc_model_load_weights(rev, su_path("branches_w.h5"), &by_name, &err));
    assert_layer_weights_equal(m, rev, "left", true);
    assert_layer_weights_equal(m, rev, "right", true);
    assert_layer_weights_equal(m, rev, "head", true);

    /* a changed layer: an error naming the layer, the weight and both shapes ... */
    kc_object *changed = two_branches(false, 5);
    su_randomize_weights(changed, 72);
    ck_assert_int_eq(kc_model_load_weights(changed, su_path("branches_w.h5"), &by_name, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "right");
    CK_ERR(err, KC_ESHAPE, "(3, 5)");
    CK_ERR(err, KC_ESHAPE, "(3, 2)");
    /* ... and nothing was loaded */
    assert_layer_weights_equal(m, changed, "left", false);
    kc_error_clear(&err);
    /* with skip_mismatch: a warning, the mismatched weights untouched, the others loaded */
    kc_object *before = two_branches(false, 5);
    su_randomize_weights(before, 72);
    warnings w = {0};
    kc_weights_options skip = {.by_name = true, .skip_mismatch = true, .warn = collect, .warn_user = &w};
    CK_OK(kc_model_load_weights(changed, su_path("branches_w.h5"), &skip, &err));
    /* right's kernel and bias, and head's kernel (9 inputs now) */
    ck_assert_int_eq(w.n, 3);
    ck_assert_msg(strstr(w.all, "'right/kernel:0'") && strstr(w.all, "(3, 5)") && strstr(w.all, "'head/kernel:0'"),
                  "warnings: %s", w.all);
    assert_layer_weights_equal(m, changed, "left", true);
    assert_layer_weights_equal(before, changed, "right", true);
    ck_assert(memcmp(kc_tensor_cdata(kc_variable_value(kc_layer_weight(kc_model_get_layer(changed, "head"), 1))),
                     kc_tensor_cdata(kc_variable_value(kc_layer_weight(kc_model_get_layer(m, "head"), 1))),
                     sizeof(float)) == 0); /* head's bias did fit */

    kc_object *objs[] = {m, same, same2, rev, changed, before};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) kc_object_unref(objs[i]);
}
END_TEST

/* Keras 2.0.0's save_weights of a functional model (fixed-length strings,
 * an InputLayer with an empty weight list). The values are read back
 * independently with HDF5 and compared. */
START_TEST(keras_weights_only_fixture_loads)
{
    kc_symbol *x = kc_input(1, (int64_t[]){16}, "input_1", &err), *h = x;
    kc_symbol_ref(h);
    const char *names[] = {"fc1_relu", "fc2_relu", "fc3_relu", "output_softmax"};
    int units[] = {64, 32, 32, 5};
    for (int i = 0; i < 4; i++) {
        char cfg[160];
        snprintf(cfg, sizeof cfg, "{\"units\": %d, \"name\": \"%s\", \"activation\": \"%s\"}", units[i], names[i],
                 i == 3 ? "softmax" : "relu");
        kc_symbol *next = apply(layer("Dense", cfg), &h, 1);
        kc_symbol_unref(h);
        h = next;
    }
    kc_object *m = kc_functional_new(&x, 1, &h, 1, NULL, &err);
    CK_NN(m, err);
    kc_symbol_unref(x);
    kc_symbol_unref(h);
    const char *path = tu_data("keras/weightsonly_dense_k2.0.0.h5");
    CK_OK(kc_model_load_weights(m, path, NULL, &err));

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    for (int i = 0; i < 4; i++) {
        kc_object *l = kc_model_get_layer(m, names[i]);
        const char *wn[2] = {"kernel:0", "bias:0"};
        for (int k = 0; k < 2; k++) {
            char dpath[200];
            snprintf(dpath, sizeof dpath, "/%s/%s/%s", names[i], names[i], wn[k]);
            const kc_tensor *t = kc_variable_value(kc_layer_weight(l, k));
            float *buf = malloc(kc_tensor_nbytes(t));
            hid_t d = H5Dopen2(f, dpath, H5P_DEFAULT);
            ck_assert_int_ge(d, 0);
            ck_assert_int_ge(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
            H5Dclose(d);
            ck_assert_msg(memcmp(buf, kc_tensor_cdata(t), kc_tensor_nbytes(t)) == 0, "%s differs", dpath);
            free(buf);
        }
    }
    H5Fclose(f);
    kc_object_unref(m);
}
END_TEST

/* ---- format details ----------------------------------------------------------------------------- */

/* More than 64 KiB of layer names: written split as layer_names0,
 * layer_names1, ... (an HDF5 object header holds at most 64 KiB of
 * attributes), and read back. */
START_TEST(long_name_lists_are_split_and_read)
{
    kc_object *m = kc_sequential_new(NULL, &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){2}, NULL, &err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object_unref(in);
    for (int i = 0; i < 1250; i++) { /* 1250 x 56 bytes > 64512 */
        char cfg[200];
        snprintf(cfg, sizeof cfg, "{\"units\": 2, \"name\": \"a_rather_long_layer_name_to_fill_the_header_number_%04d\"}", i);
        add(m, layer("Dense", cfg));
    }
    su_randomize_weights(m, 3);
    kc_tensor *x = tu_random(2, (int64_t[]){2, 2}, -1, 1, 5);
    kc_object *back = su_round_trip(m, "long_names.h5", NULL, &x);
    hid_t f = H5Fopen(su_path("long_names.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    ck_assert_int_gt(H5Aexists_by_name(f, "/model_weights", "layer_names0", H5P_DEFAULT), 0);
    ck_assert_int_gt(H5Aexists_by_name(f, "/model_weights", "layer_names1", H5P_DEFAULT), 0);
    ck_assert_int_eq(H5Aexists_by_name(f, "/model_weights", "layer_names", H5P_DEFAULT), 0);
    H5Fclose(f);
    kc_object_unref(back);
    kc_object_unref(m);
    kc_tensor_unref(x);
}
END_TEST

/* Weights stored as float64, float16 or integers (as h5py writes numpy
 * arrays of those types) are converted to the layer's float32. */
static void rewrite_kernel(const char *path, hid_t ftype, hid_t memtype, const void *vals)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    const char *k = "/model_weights/dense/dense/kernel:0";
    ck_assert_int_ge(H5Ldelete(f, k, H5P_DEFAULT), 0);
    hid_t s = H5Screate_simple(2, (hsize_t[]){2, 2}, NULL);
    hid_t d = H5Dcreate2(f, k, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, vals), 0);
    H5Dclose(d);
    H5Sclose(s);
    H5Fclose(f);
}

START_TEST(other_dataset_types_convert_to_float32)
{
    kc_object *m = kc_sequential_new(NULL, &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){2}, NULL, &err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object_unref(in);
    add(m, layer("Dense", "{\"units\": 2, \"name\": \"dense\"}"));
    CK_OK(kc_model_save(m, su_path("types.h5"), NULL, &err));
    const float want[4] = {0.5f, -1.25f, 3.0f, 65504.0f};

    const double f64[4] = {0.5, -1.25, 3.0, 65504.0};
    rewrite_kernel(su_path("types.h5"), H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, f64);
    kc_object *a = kc_model_load(su_path("types.h5"), NULL, &err);
    CK_NN(a, err);
    tu_assert_close(kc_variable_value(kc_layer_weight(a, 0)), 2, (int64_t[]){2, 2}, want, 0, 0, "float64");

    /* IEEE half, as numpy's float16 is stored: 1 sign, 5 exponent, 10 mantissa bits */
    hid_t half = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(half, 15, 10, 5, 0, 10);
    H5Tset_precision(half, 16);
    H5Tset_size(half, 2);
    H5Tset_ebias(half, 15);
    const unsigned short f16[4] = {0x3800, 0xBD00, 0x4200, 0x7BFF};
    rewrite_kernel(su_path("types.h5"), half, half, f16);
    H5Tclose(half);
    kc_object *b = kc_model_load(su_path("types.h5"), NULL, &err);
    CK_NN(b, err);
    tu_assert_close(kc_variable_value(kc_layer_weight(b, 0)), 2, (int64_t[]){2, 2}, want, 0, 0, "float16");

    const int ints[4] = {7, -3, 0, 100000};
    const float want_i[4] = {7, -3, 0, 100000};
    rewrite_kernel(su_path("types.h5"), H5T_STD_I32LE, H5T_NATIVE_INT, ints);
    kc_object *c = kc_model_load(su_path("types.h5"), NULL, &err);
    CK_NN(c, err);
    tu_assert_close(kc_variable_value(kc_layer_weight(c, 0)), 2, (int64_t[]){2, 2}, want_i, 0, 0, "int32");

    kc_object_unref(a);
    kc_object_unref(b);
    kc_object_unref(c);
    kc_object_unref(m);
}
END_TEST

static Suite *saving_suite(void)
{
    Suite *s = suite_create("saving");
    TCase *tc = tcase_create("round_trips");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, sequential_compiled_round_trip_is_bit_identical, 0, N_FORMATS);
    tcase_add_loop_test(tc, functional_shared_nested_multi_output_round_trip, 0, N_FORMATS);
    tcase_add_loop_test(tc, embedding_masking_and_frozen_layers_round_trip, 0, N_FORMATS);
    tcase_add_test(tc, lambda_layers_save_by_function_name);
    tcase_add_test(tc, bytecode_lambda_fixture_loads_with_c_functions);
    tcase_add_test(tc, real_keras_fixtures_match_status_table);
    tcase_add_test(tc, fixture_training_config_compiles);
    tcase_add_loop_test(tc, keras_ref_fixtures_reproduce_tensorflow_js, 0,
                        (int)(sizeof ref_kinds / sizeof ref_kinds[0]));
    tcase_add_loop_test(tc, seed_custom_classes_survive_through_custom_objects, 0, N_FORMATS);
    tcase_add_loop_test(tc, bound_loss_function_is_rebound_at_load, 0, N_FORMATS);
    tcase_add_loop_test(tc, subclassed_model_with_add_loss_saves_and_loads, 0, N_FORMATS);
    tcase_add_test(tc, weights_only_positional_by_name_and_skip_mismatch);
    tcase_add_test(tc, keras_weights_only_fixture_loads);
    tcase_add_test(tc, long_name_lists_are_split_and_read);
    tcase_add_test(tc, other_dataset_types_convert_to_float32);
    tcase_add_test(tc, seed_classes_load_through_the_registry); /* last: registers globally */
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(saving_suite)
