/* Transformer models end to end, and layer calls with several tensor
 * arguments in Functional configs.
 *
 * The model is the Keras example "Timeseries classification with a
 * Transformer model" (keras-io examples/timeseries/timeseries_classification
 * _transformer.py): two encoder blocks of LayerNormalization ->
 * MultiHeadAttention(x, x) (4 heads, key_dim 64) -> Dropout -> Add ->
 * LayerNormalization -> Conv1D(4, 1, relu) -> Dropout -> Conv1D(features, 1)
 * -> Add, then GlobalAveragePooling1D(channels_first) -> Dense(128, relu) ->
 * Dropout -> Dense(10, softmax); `x + inputs` is written as Add layers. It is
 * trained on the UCI digits, each 8x8 image read as a sequence of 8 rows of
 * 8 pixels, saved, loaded back, and compared with numpy-predict
 * (../shared/conformance/tools/keras_h5.py, an independent numpy forward
 * pass) with and without an attention_mask, with use_causal_mask and with
 * a key that is not the value:
 *   - always: the models and numpy outputs committed in tests/data/attention
 *     (tests/data/attention/make-goldens);
 *   - `transformer_numpy` (this program with --numpy-live): the same on
 *     freshly built and trained models, saved as .h5 and as .keras, when
 *     python3 with h5py and numpy ($PYTHON) and ../shared/conformance are
 *     there; exit 77 (skipped) otherwise, except that in CI (CI=true) a
 *     missing ../shared/conformance fails. */
#define _DEFAULT_SOURCE /* popen */
#include "../samples/common/datasets.h"
#include "testutil.h"

#include <hdf5.h>

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define D(...) ((int64_t[]){__VA_ARGS__})

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    kc_clear_session();
    kc_set_random_seed(1);
}

/* layer(inputs...), consuming the layer reference; the first output. */
static kc_symbol *call(kc_object *layer, kc_symbol *const *in, int n, const char *const *names, const char *options)
{
    kc_symbol *outs[KC_MAX_LAYER_OUTPUTS];
    int n_out = 0;
    kc_status rc = kc_apply_kw(layer, in, names, n, options, outs, &n_out, &err);
    ck_assert_msg(rc == KC_OK, "%s: %s (%s)", kc_layer_name(layer), err.message, err.context);
    for (int i = 1; i < n_out; i++) kc_symbol_unref(outs[i]);
    kc_object_unref(layer);
    return outs[0];
}

static kc_symbol *call1(kc_object *layer, kc_symbol *x) { return call(layer, &x, 1, NULL, NULL); }

/* ---- the Keras example's model ------------------------------------------------------------------ */

typedef enum { PLAIN, MASKED, CAUSAL, KEYED } variant;

typedef struct spec {
    variant v;
    double dropout, mlp_dropout;
} spec;

/* One encoder block on x (the attention's extra inputs in mask / key). */
static kc_symbol *encoder(kc_symbol *x, const spec *s, kc_symbol *mask, kc_symbol *key)
{
    char cfg[160];
    kc_symbol *ln = call1(tu_layer("LayerNormalization", "{\"epsilon\": 1e-6}"), x), *att;
    snprintf(cfg, sizeof cfg, "{\"num_heads\": 4, \"key_dim\": 64, \"dropout\": %g}", s->dropout);
    kc_object *mha = tu_layer("MultiHeadAttention", cfg);
    switch (s->v) { /* mha(x, x), as the example; the variants add one argument */
    case PLAIN: att = call(mha, (kc_symbol *[]){ln, ln}, 2, NULL, NULL); break;
    case MASKED: att = call(mha, (kc_symbol *[]){ln, ln, mask}, 3, (const char *[]){NULL, NULL, "attention_mask"}, NULL); break;
    case CAUSAL: att = call(mha, (kc_symbol *[]){ln, ln}, 2, NULL, "{\"use_causal_mask\": true}"); break;
    default: att = call(mha, (kc_symbol *[]){ln, ln, key}, 3, (const char *[]){NULL, "value", "key"}, NULL); break;
    }
    snprintf(cfg, sizeof cfg, "{\"rate\": %g}", s->dropout);
    kc_symbol *d = call1(tu_layer("Dropout", cfg), att);
    kc_symbol *res = call(tu_layer("Add", NULL), (kc_symbol *[]){d, x}, 2, NULL, NULL);
    kc_symbol *ln2 = call1(tu_layer("LayerNormalization", "{\"epsilon\": 1e-6}"), res);
    kc_symbol *c1 = call1(tu_layer("Conv1D", "{\"filters\": 4, \"kernel_size\": 1, \"activation\": \"relu\"}"), ln2);
    kc_symbol *d2 = call1(tu_layer("Dropout", cfg), c1);
    snprintf(cfg, sizeof cfg, "{\"filters\": %lld, \"kernel_size\": 1}", (long long)kc_symbol_shape(x).dims[2]);
    kc_symbol *c2 = call1(tu_layer("Conv1D", cfg), d2);
    kc_symbol *out = call(tu_layer("Add", NULL), (kc_symbol *[]){c2, res}, 2, NULL, NULL);
    kc_symbol *all[] = {ln, att, d, res, ln2, c1, d2, c2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) kc_symbol_unref(all[i]);
    return out;
}

static kc_object *transformer(const spec *s)
{
    kc_symbol *in[3];
    int n_in = 1;
    in[0] = kc_input(2, D(8, 8), "sequence", &err);
    CK_NN(in[0], err);
    if (s->v == MASKED) CK_NN(in[n_in++] = kc_input(2, D(8, 8), "attention_mask", &err), err);
    if (s->v == KEYED) CK_NN(in[n_in++] = kc_input(2, D(8, 5), "key", &err), err);
    kc_symbol *x = kc_symbol_ref(in[0]);
    for (int b = 0; b < 2; b++) {
        kc_symbol *y = encoder(x, s, n_in > 1 ? in[1] : NULL, n_in > 1 ? in[1] : NULL);
        kc_symbol_unref(x);
        x = y;
    }
    char cfg[64];
    snprintf(cfg, sizeof cfg, "{\"rate\": %g}", s->mlp_dropout);
    kc_symbol *g = call1(tu_layer("GlobalAveragePooling1D", "{\"data_format\": \"channels_first\"}"), x);
    kc_symbol *h = call1(tu_layer("Dense", "{\"units\": 128, \"activation\": \"relu\"}"), g);
    kc_symbol *hd = call1(tu_layer("Dropout", cfg), h);
    kc_symbol *out = call1(tu_layer("Dense", "{\"units\": 10, \"activation\": \"softmax\"}"), hd);
    kc_object *m = kc_functional_new(in, n_in, &out, 1, "transformer", &err);
    CK_NN(m, err);
    kc_symbol *all[] = {x, g, h, hd, out};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) kc_symbol_unref(all[i]);
    for (int i = 0; i < n_in; i++) kc_symbol_unref(in[i]);
    return m;
}

static const char *data_dir(void)
{
    static char dir[4096];
    const char *root = getenv("CKERAS_SOURCE_ROOT");
    snprintf(dir, sizeof dir, "%s/samples/data", root ? root : "..");
    return dir;
}

/* Inputs for a variant: n digits as 8x8 sequences, plus a mask (every
 * query keeps itself and some others) or a key. */
static int variant_inputs(variant v, kc_tensor *digits, int64_t n, kc_tensor **in)
{
    int64_t rows = kc_tensor_dim(digits, 0) < n ? kc_tensor_dim(digits, 0) : n;
    in[0] = kc_tensor_from_data(KC_FLOAT32, 3, D(rows, 8, 8), kc_tensor_cdata(digits), &err);
    CK_NN(in[0], err);
    if (v == MASKED) {
        in[1] = kc_tensor_empty(KC_FLOAT32, 3, D(rows, 8, 8), &err);
        float *m = kc_tensor_f32(in[1]);
        for (int64_t b = 0; b < rows; b++)
            for (int t = 0; t < 8; t++)
                for (int s = 0; s < 8; s++) m[(b * 8 + t) * 8 + s] = s == t || (b * 7 + t * 3 + s * 5) % 3 != 0;
        return 2;
    }
    if (v == KEYED) {
        in[1] = tu_random(3, D(rows, 8, 5), -1, 1, 77);
        return 2;
    }
    return 1;
}

/* ---- numpy-predict -------------------------------------------------------------------------------- */

/* The Python that runs numpy-predict: $PYTHON, else /usr/bin/python3. */
static const char *python(void)
{
    const char *py = getenv("PYTHON");
    return py && *py ? py : "/usr/bin/python3";
}

/* The numpy-predict tool, or NULL with the reason; *required says whether
 * its absence must fail (CI=true: ../shared/conformance must be there;
 * h5py and numpy are optional packages, as for conformance_keras3). */
static const char *numpy_tool(char *why, size_t n, bool *required)
{
    static char tool[4096];
    const char *dir = getenv("CKERAS_CONFORMANCE_DIR"), *root = getenv("CKERAS_SOURCE_ROOT");
    if (dir) snprintf(tool, sizeof tool, "%.3000s/tools/keras_h5.py", dir);
    else snprintf(tool, sizeof tool, "%.3000s/../shared/conformance/tools/keras_h5.py", root ? root : "..");
    *required = false;
    if (access(tool, R_OK) != 0) {
        snprintf(why, n, "numpy-predict not found at %s", tool);
        *required = tu_in_ci();
        return NULL;
    }
    char probe[4200];
    snprintf(probe, sizeof probe, "'%s' -c 'import h5py, numpy' >/dev/null 2>&1", python());
    if (system(probe) != 0) {
        snprintf(why, n, "%s lacks h5py or numpy (Debian: python3-h5py python3-numpy)", python());
        return NULL;
    }
    return tool;
}

static void write_inputs(kc_tensor *const *in, int n, const char *path)
{
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        json_t *t;
        CK_OK(kc_tensor_to_json(in[i], NULL, &t, &err));
        json_array_append_new(list, t);
    }
    json_t *root = json_pack("{so}", "inputs", list);
    ck_assert(json_dump_file(root, path, JSON_COMPACT) == 0);
    json_decref(root);
}

/* numpy-predict MODEL on IN, written to OUT (attention_mask through
 * tests/numpy_predict_masked.py). */
static void run_numpy(const char *tool, const char *model, const char *in, const char *out)
{
    char cmd[16384];
    const char *root = getenv("CKERAS_SOURCE_ROOT");
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/numpy_predict_masked.py' '%s' '%s' '%s' '%s' >/dev/null", python(),
             root ? root : "..", tool, model, in, out);
    ck_assert_msg(system(cmd) == 0, "numpy-predict failed: %s", cmd);
}

/* The model's predictions on the io file's inputs equal its outputs. */
static void check_io(kc_object *m, const char *io_path, double rtol, double atol, const char *what)
{
    json_error_t je;
    json_t *root = json_load_file(io_path, 0, &je);
    ck_assert_msg(root != NULL, "%s: %s", io_path, je.text);
    json_t *ins = json_object_get(root, "inputs"), *outs = json_object_get(root, "outputs");
    kc_tensor *x[4], *y = NULL, *want = NULL;
    int n = (int)json_array_size(ins);
    ck_assert(n >= 1 && n <= 4 && json_array_size(outs) == 1);
    for (int i = 0; i < n; i++) CK_OK(kc_tensor_from_json(json_array_get(ins, i), &x[i], &err));
    CK_OK(kc_tensor_from_json(json_array_get(outs, 0), &want, &err));
    int no = 0;
    CK_OK(kc_model_predict(m, x, n, 32, &y, &no, &err));
    tu_assert_tensors_close(y, want, rtol, atol, what);
    for (int i = 0; i < n; i++) kc_tensor_unref(x[i]);
    kc_tensor_unref(y), kc_tensor_unref(want);
    json_decref(root);
}

/* ---- tests ---------------------------------------------------------------------------------------- */

static kc_tensor *xtr, *ytr, *xte, *yte;

static void load_digits(void)
{
    if (!xtr) CK_OK(ds_digits(data_dir(), 1437, &xtr, &ytr, &xte, &yte, &err));
}

static void free_digits(void)
{
    kc_tensor_unref(xtr), kc_tensor_unref(ytr), kc_tensor_unref(xte), kc_tensor_unref(yte);
    xtr = ytr = xte = yte = NULL;
}

static kc_tensor *as_sequences(kc_tensor *x)
{
    kc_tensor *s = kc_reshape(x, 3, D(kc_tensor_dim(x, 0), 8, 8), &err);
    CK_NN(s, err);
    return s;
}

/* Test accuracy the trained transformer reaches (kept by the test that
 * trains it, for the live numpy check). */
#define TRAINED_ACCURACY 0.90

START_TEST(transformer_trains_on_digits_saves_and_reloads)
{
    load_digits();
    kc_set_random_seed(3);
    spec s = {.v = PLAIN, .dropout = 0.1, .mlp_dropout = 0.2};
    kc_object *m = transformer(&s);
    CK_OK(kc_model_compile(m, "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.003}},"
                              " \"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\"]}", NULL, &err));
    kc_tensor *xs = as_sequences(xtr), *xt = as_sequences(xte);
    kc_fit_args fa = {.x = &xs, .n_x = 1, .y = &ytr, .n_y = 1, .batch_size = 32, .epochs = 12};
    CK_OK(kc_model_fit(m, &fa, NULL, &err));
    kc_fit_args ea = {.x = &xt, .n_x = 1, .y = &yte, .n_y = 1};
    kc_logs *logs;
    CK_OK(kc_model_evaluate(m, &ea, &logs, &err));
    double acc = 0;
    ck_assert(kc_logs_get(logs, "accuracy", &acc));
    fprintf(stderr, "transformer: digits test accuracy %.4f after 12 epochs\n", acc);
    ck_assert_msg(acc >= TRAINED_ACCURACY, "test accuracy %.4f", acc);
    kc_logs_free(logs);
    /* .h5 round trip: the same predictions, bit for bit */
    char path[4200];
    snprintf(path, sizeof path, "%s/transformer.h5", tu_tmpdir());
    CK_OK(kc_model_save(m, path, NULL, &err));
    kc_object *back = kc_model_load(path, NULL, &err);
    CK_NN(back, err);
    kc_tensor *p1, *p2;
    int n;
    CK_OK(kc_model_predict(m, &xt, 1, 32, &p1, &n, &err));
    CK_OK(kc_model_predict(back, &xt, 1, 32, &p2, &n, &err));
    ck_assert(memcmp(kc_tensor_cdata(p1), kc_tensor_cdata(p2), kc_tensor_nbytes(p1)) == 0);
    ck_assert_int_eq(kc_layer_num_weights(back), kc_layer_num_weights(m));
    /* .keras round trip (Keras 3's layout), also bit for bit */
    snprintf(path, sizeof path, "%s/transformer.keras", tu_tmpdir());
    CK_OK(kc_model_save(m, path, NULL, &err));
    kc_object *back3 = kc_model_load(path, NULL, &err);
    CK_NN(back3, err);
    kc_tensor *p3;
    CK_OK(kc_model_predict(back3, &xt, 1, 32, &p3, &n, &err));
    ck_assert(memcmp(kc_tensor_cdata(p1), kc_tensor_cdata(p3), kc_tensor_nbytes(p1)) == 0);
    kc_tensor_unref(p3);
    kc_object_unref(back3);
    /* where Keras 3 keeps MultiHeadAttention's weights: its EinsumDense
     * sub-objects, kernel then bias */
    snprintf(path, sizeof path, "%s/transformer.weights.h5", tu_tmpdir());
    CK_OK(kc_model_save_weights(m, path, NULL, &err));
    hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(h >= 0);
    static const struct {
        const char *path;
        int ndim;
        hsize_t dims[3];
    } where[] = {{"/layers/multi_head_attention/query_dense/vars/0", 3, {8, 4, 64}},
                 {"/layers/multi_head_attention/query_dense/vars/1", 2, {4, 64}},
                 {"/layers/multi_head_attention/value_dense/vars/0", 3, {8, 4, 64}},
                 {"/layers/multi_head_attention/output_dense/vars/0", 3, {4, 64, 8}},
                 {"/layers/multi_head_attention_1/key_dense/vars/1", 2, {4, 64}},
                 {"/layers/multi_head_attention_1/output_dense/vars/1", 1, {8}}};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        hid_t d = H5Dopen2(h, where[i].path, H5P_DEFAULT);
        ck_assert_msg(d >= 0, "%s is missing", where[i].path);
        hid_t sp = H5Dget_space(d);
        hsize_t dims[3] = {0};
        ck_assert_int_eq(H5Sget_simple_extent_dims(sp, dims, NULL), where[i].ndim);
        for (int k = 0; k < where[i].ndim; k++) ck_assert_int_eq(dims[k], where[i].dims[k]);
        H5Sclose(sp);
        H5Dclose(d);
    }
    H5Fclose(h);
    /* the config of the attention calls, as Keras 2 writes mha(x, x) */
    json_t *cfg;
    CK_OK(kc_object_get_config(back, &cfg, &err));
    json_t *layers = json_object_get(cfg, "layers");
    int found = 0;
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *l = json_array_get(layers, i);
        if (strcmp(json_string_value(json_object_get(l, "class_name")), "MultiHeadAttention") != 0) continue;
        char *t = kc_json_dump(json_object_get(l, "inbound_nodes"), &err);
        const char *name = json_string_value(json_object_get(l, "name"));
        char want[256];
        const char *ln = found == 0 ? "layer_normalization" : "layer_normalization_2";
        snprintf(want, sizeof want, "[[[\"%s\", 0, 0, {\"value\": [\"%s\", 0, 0]}]]]", ln, ln);
        ck_assert_msg(strcmp(t, want) == 0, "%s: %s", name, t);
        kc_json_free(t);
        found++;
    }
    ck_assert_int_eq(found, 2);
    json_decref(cfg);
    kc_tensor_unref(p1), kc_tensor_unref(p2), kc_tensor_unref(xs), kc_tensor_unref(xt);
    kc_object_unref(m), kc_object_unref(back);
    free_digits();
}
END_TEST

/* Keras 2 node forms, read and written back the same. */
START_TEST(keras2_nodes_with_keyword_arguments_round_trip)
{
    kc_symbol *q = kc_input(2, D(4, 3), "q", &err), *v = kc_input(2, D(5, 2), "v", &err), *k = kc_input(2, D(5, 4), "k", &err);
    kc_symbol *m = kc_input(2, D(4, 5), "m", &err);
    kc_object *mha = tu_layer("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 2}");
    kc_symbol *outs[2];
    int n;
    CK_OK(kc_apply_kw(mha, (kc_symbol *[]){q, v, k, m}, (const char *[]){NULL, NULL, "key", "attention_mask"}, 4,
                      "{\"use_causal_mask\": true, \"return_attention_scores\": true}", outs, &n, &err));
    ck_assert_int_eq(n, 2);
    kc_symbol *sum = call(tu_layer("Add", NULL), (kc_symbol *[]){outs[0], q}, 2, NULL, NULL);
    kc_object *model = kc_functional_new((kc_symbol *[]){q, v, k, m}, 4, (kc_symbol *[]){sum, outs[1]}, 2, "model", &err);
    CK_NN(model, err);
    json_t *cfg;
    CK_OK(kc_object_get_config(model, &cfg, &err));
    json_t *layers = json_object_get(cfg, "layers");
    char *t = NULL;
    for (size_t i = 0; i < json_array_size(layers); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(layers, i), "name")), "multi_head_attention"))
            t = kc_json_dump(json_object_get(json_array_get(layers, i), "inbound_nodes"), &err);
    ck_assert_ptr_nonnull(t);
    /* Keras 2: the positional value by its name, tensors as triples, the
     * flags beside them, in every entry of the first argument */
    json_t *got = json_loads(t, 0, NULL);
    json_t *want = json_loads("[[[\"q\", 0, 0, {\"value\": [\"v\", 0, 0], \"key\": [\"k\", 0, 0], \"attention_mask\": "
                              "[\"m\", 0, 0], \"use_causal_mask\": true, \"return_attention_scores\": true}]]]",
                              0, NULL);
    ck_assert_msg(json_equal(got, want), "nodes: %s", t);
    json_decref(got), json_decref(want);
    kc_json_free(t);
    /* back from the config: the same config, the same predictions */
    kc_object *again = kc_object_from_config(kc_object_class(model), cfg, NULL, &err);
    CK_NN(again, err);
    json_t *cfg2;
    CK_OK(kc_object_get_config(again, &cfg2, &err));
    ck_assert(json_equal(cfg, cfg2));
    kc_tensor *w[8];
    CK_OK(kc_layer_get_weights(mha, w, &err));
    CK_OK(kc_layer_set_weights(kc_model_get_layer(again, "multi_head_attention"), w, 8, &err));
    for (int i = 0; i < 8; i++) kc_tensor_unref(w[i]);
    kc_tensor *x[4] = {tu_random(3, D(2, 4, 3), -1, 1, 1), tu_random(3, D(2, 5, 2), -1, 1, 2),
                       tu_random(3, D(2, 5, 4), -1, 1, 3), tu_random(3, D(2, 4, 5), 0, 2, 4)};
    kc_tensor *y1[2], *y2[2];
    CK_OK(kc_model_predict(model, x, 4, 32, y1, &n, &err));
    CK_OK(kc_model_predict(again, x, 4, 32, y2, &n, &err));
    for (int i = 0; i < 2; i++) {
        tu_assert_tensors_close(y2[i], y1[i], 0, 0, "reloaded");
        kc_tensor_unref(y1[i]), kc_tensor_unref(y2[i]);
    }
    /* eager call with the same arguments gives the model's output */
    for (int i = 0; i < 4; i++) kc_tensor_unref(x[i]);
    json_decref(cfg), json_decref(cfg2);
    kc_symbol *all[] = {q, v, k, m, outs[0], outs[1], sum};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) kc_symbol_unref(all[i]);
    kc_object_unref(mha), kc_object_unref(model), kc_object_unref(again);
}
END_TEST

/* The file keras_h5.py numpy-ref writes as tf.keras 2.15 does
 * (MultiHeadAttention(query, value, key) + Add; outputs by explicit
 * loops), read by ckeras. */
START_TEST(keras_style_mha_file_loads_and_predicts)
{
    kc_object *m = kc_model_load(tu_data("attention/mha_numpy_ref.h5"), NULL, &err);
    CK_NN(m, err);
    check_io(m, tu_data("attention/mha_numpy_ref.io.json"), 1e-5, 1e-6, "numpy-ref mha");
    kc_object_unref(m);
}
END_TEST

/* Keras 3's node form: {"args": [...], "kwargs": {...}}. */
START_TEST(keras3_nodes_read)
{
    const char *tensor = "{\"class_name\": \"__keras_tensor__\", \"config\": {\"shape\": [null, 4, 3], "
                         "\"dtype\": \"float32\", \"keras_history\": [\"%s\", 0, 0]}}";
    char q[300], v[300], k[300], cfg[8000];
    snprintf(q, sizeof q, tensor, "q");
    snprintf(v, sizeof v, tensor, "v");
    snprintf(k, sizeof k, tensor, "k");
    snprintf(cfg, sizeof cfg,
             "{\"name\": \"m\", \"layers\": ["
             "{\"class_name\": \"InputLayer\", \"name\": \"q\", \"config\": {\"name\": \"q\", \"batch_shape\": [null, 4, 3]}, \"inbound_nodes\": []},"
             "{\"class_name\": \"InputLayer\", \"name\": \"v\", \"config\": {\"name\": \"v\", \"batch_shape\": [null, 5, 2]}, \"inbound_nodes\": []},"
             "{\"class_name\": \"InputLayer\", \"name\": \"k\", \"config\": {\"name\": \"k\", \"batch_shape\": [null, 5, 4]}, \"inbound_nodes\": []},"
             "{\"class_name\": \"MultiHeadAttention\", \"name\": \"a1\", \"config\": {\"name\": \"a1\", \"num_heads\": 2, \"key_dim\": 2},"
             " \"inbound_nodes\": [{\"args\": [%s, %s], \"kwargs\": {\"key\": %s, \"use_causal_mask\": true}}]},"
             "{\"class_name\": \"MultiHeadAttention\", \"name\": \"a2\", \"config\": {\"name\": \"a2\", \"num_heads\": 1, \"key_dim\": 3},"
             " \"inbound_nodes\": [{\"args\": [%s], \"kwargs\": {\"value\": %s, \"return_attention_scores\": false, \"training\": null}}]},"
             "{\"class_name\": \"Add\", \"name\": \"add\", \"config\": {\"name\": \"add\"},"
             " \"inbound_nodes\": [{\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"a1\", 0, 0]}},"
             " {\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"a2\", 0, 0]}}], \"kwargs\": {}}]}],"
             " \"input_layers\": [[\"q\", 0, 0], [\"v\", 0, 0], [\"k\", 0, 0]], \"output_layers\": [[\"add\", 0, 0]]}",
             q, v, k, q, v);
    json_t *c = kc_json_parse(cfg, strlen(cfg), 0, &err);
    CK_NN(c, err);
    kc_object *m = kc_object_from_config(kc_find_class(KC_KIND_MODEL, "Functional"), c, NULL, &err);
    ck_assert_msg(m != NULL, "%s (%s)", err.message, err.context);
    /* written back in Keras 2's form */
    json_t *out;
    CK_OK(kc_object_get_config(m, &out, &err));
    json_t *layers = json_object_get(out, "layers");
    const char *want[] = {"[[[\"q\", 0, 0, {\"value\": [\"v\", 0, 0], \"key\": [\"k\", 0, 0], \"use_causal_mask\": true}]]]",
                          "[[[\"q\", 0, 0, {\"value\": [\"v\", 0, 0], \"return_attention_scores\": false}]]]",
                          "[[[\"a1\", 0, 0, {}], [\"a2\", 0, 0, {}]]]"};
    for (int i = 0; i < 3; i++) {
        json_t *nodes = json_object_get(json_array_get(layers, (size_t)(3 + i)), "inbound_nodes");
        json_t *w = json_loads(want[i], 0, NULL);
        char *t = kc_json_dump(nodes, &err);
        ck_assert_msg(json_equal(nodes, w), "layer %d: %s", 3 + i, t);
        kc_json_free(t);
        json_decref(w);
    }
    json_decref(out), json_decref(c);
    kc_object_unref(m);
}
END_TEST

/* Bad nodes name their JSON path. */
START_TEST(bad_keyword_nodes_are_refused)
{
    static const struct {
        const char *node;
        kc_status code;
        const char *needle;
    } bad[] = {
        {"[[[\"q\", 0, 0, {\"values\": [\"q\", 0, 0]}]]]", KC_EINVAL, "no tensor argument 'values'"},
        {"[[[\"q\", 0, 0, {\"value\": [\"q\", 0, 0], \"use_causal_masks\": true}]]]", KC_EINVAL, "use_causal_masks"},
        {"[[[\"q\", 0, 0, {\"value\": [[\"q\", 0, 0], [\"q\", 0, 0]]}]]]", KC_EUNSUPPORTED, "several tensors"},
        {"[[[\"q\", 0, 0, 7]]]", KC_EFORMAT, "kwargs must be an object"},
        {"[{\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"q\", 0, 0]}}, 1, 2, 3]}]",
         KC_EUNSUPPORTED, "positional call argument that is not a tensor"},
        {"[{\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"q\", 0, 0]}},"
         " {\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"q\", 0, 0]}},"
         " {\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"q\", 0, 0]}},"
         " {\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"q\", 0, 0]}}]}]",
         KC_EINVAL, "at most 3 positional tensor arguments"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cfg[2000];
        snprintf(cfg, sizeof cfg,
                 "{\"name\": \"m\", \"layers\": ["
                 "{\"class_name\": \"InputLayer\", \"name\": \"q\", \"config\": {\"name\": \"q\", \"batch_input_shape\": [null, 4, 3]}, \"inbound_nodes\": []},"
                 "{\"class_name\": \"MultiHeadAttention\", \"name\": \"a\", \"config\": {\"name\": \"a\", \"num_heads\": 2, \"key_dim\": 2},"
                 " \"inbound_nodes\": %s}], \"input_layers\": [[\"q\", 0, 0]], \"output_layers\": [[\"a\", 0, 0]]}",
                 bad[i].node);
        json_t *c = kc_json_parse(cfg, strlen(cfg), 0, &err);
        CK_NN(c, err);
        kc_error_clear(&err);
        kc_object *m = kc_object_from_config(kc_find_class(KC_KIND_MODEL, "Functional"), c, NULL, &err);
        ck_assert_msg(m == NULL, "node %s was accepted", bad[i].node);
        CK_ERR(err, bad[i].code, bad[i].needle);
        CK_ERR(err, bad[i].code, "layers[1].inbound_nodes[0]");
        json_decref(c);
    }
}
END_TEST

/* Other layers' keyword arguments: training is applied and kept; one a
 * layer cannot take is refused by name. */
START_TEST(keras2_training_kwarg_and_refused_kwargs)
{
    const char *cfg_fmt =
        "{\"name\": \"m\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"name\": \"x\", \"config\": {\"name\": \"x\", \"batch_input_shape\": [null, 50]}, \"inbound_nodes\": []},"
        "{\"class_name\": \"Dropout\", \"name\": \"d\", \"config\": {\"name\": \"d\", \"rate\": 0.5}, \"inbound_nodes\": %s}],"
        " \"input_layers\": [[\"x\", 0, 0]], \"output_layers\": [[\"d\", 0, 0]]}";
    char cfg[1200];
    snprintf(cfg, sizeof cfg, cfg_fmt, "[[[\"x\", 0, 0, {\"training\": true}]]]");
    json_t *c = kc_json_parse(cfg, strlen(cfg), 0, &err);
    kc_object *m = kc_object_from_config(kc_find_class(KC_KIND_MODEL, "Functional"), c, NULL, &err);
    CK_NN(m, err);
    /* Monte Carlo dropout: active in predict */
    kc_tensor *x = kc_tensor_ones(KC_FLOAT32, 2, D(4, 50), &err), *y;
    int n;
    CK_OK(kc_model_predict(m, &x, 1, 32, &y, &n, &err));
    int zeros = 0;
    for (int64_t i = 0; i < kc_tensor_size(y); i++) zeros += kc_tensor_f32(y)[i] == 0.0f;
    ck_assert_msg(zeros > 20 && zeros < 180, "%d of 200 dropped", zeros);
    json_t *out;
    CK_OK(kc_object_get_config(m, &out, &err));
    char *t = kc_json_dump(json_object_get(json_array_get(json_object_get(out, "layers"), 1), "inbound_nodes"), &err);
    ck_assert_str_eq(t, "[[[\"x\", 0, 0, {\"training\": true}]]]");
    kc_json_free(t);
    json_decref(out), json_decref(c);
    kc_tensor_unref(x), kc_tensor_unref(y);
    kc_object_unref(m);
    snprintf(cfg, sizeof cfg, cfg_fmt, "[[[\"x\", 0, 0, {\"mask\": [\"x\", 0, 0]}]]]");
    c = kc_json_parse(cfg, strlen(cfg), 0, &err);
    ck_assert_ptr_null(kc_object_from_config(kc_find_class(KC_KIND_MODEL, "Functional"), c, NULL, &err));
    CK_ERR(err, KC_EINVAL, "takes 1 input, got 2");
    CK_ERR(err, KC_EINVAL, "the call gave the keyword argument 'mask'");
    json_decref(c);
}
END_TEST

/* Masks reach MultiHeadAttention through a model as Keras propagates them:
 * Embedding(mask_zero=True) -> mha(x, x) uses the padding as query and
 * value masks, and the output carries the query's mask on to the next
 * layer (here a masked GlobalAveragePooling1D). */
START_TEST(embedding_masks_flow_through_attention)
{
    kc_symbol *ids = kc_input(1, D(5), "ids", &err);
    kc_object *emb = tu_layer("Embedding", "{\"input_dim\": 7, \"output_dim\": 4, \"mask_zero\": true}");
    kc_object *mha = tu_layer("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 3}");
    kc_object *gap = tu_layer("GlobalAveragePooling1D", NULL);
    kc_object_ref(emb), kc_object_ref(mha);
    kc_symbol *e = call1(emb, ids), *a = call(mha, (kc_symbol *[]){e, e}, 2, NULL, NULL), *g = call1(gap, a);
    kc_object *m = kc_functional_new(&ids, 1, &g, 1, "masked", &err);
    CK_NN(m, err);
    int32_t idv[10] = {3, 1, 0, 0, 0, 2, 5, 6, 4, 0};
    kc_tensor *x = kc_tensor_from_data(KC_INT32, 2, D(2, 5), idv, &err), *y, *ye, *out[2], *om[2];
    int n;
    CK_OK(kc_model_predict(m, &x, 1, 32, &y, &n, &err));
    /* the same by hand: embed, attention with the masks, masked mean */
    kc_tensor *em = NULL, *mask = NULL;
    CK_OK(kc_layer_call(emb, &x, 1, NULL, false, &em, &mask, &n, &err));
    CK_OK(kc_layer_call(mha, (kc_tensor *[]){em, em}, 2, (kc_tensor *[]){mask, mask}, false, out, om, &n, &err));
    ck_assert_ptr_eq(om[0], mask);
    float want[8] = {0};
    for (int b = 0; b < 2; b++) {
        int cnt = 0;
        for (int t = 0; t < 5; t++)
            if (idv[b * 5 + t]) {
                cnt++;
                for (int c = 0; c < 4; c++) want[b * 4 + c] += kc_tensor_f32(out[0])[(b * 5 + t) * 4 + c];
            }
        for (int c = 0; c < 4; c++) want[b * 4 + c] /= (float)cnt;
    }
    tu_assert_close(y, 2, D(2, 4), want, 1e-5, 1e-6, "masked attention then masked pooling");
    /* without the masks the result differs: they were used */
    CK_OK(kc_layer_call(mha, (kc_tensor *[]){em, em}, 2, NULL, false, &ye, NULL, &n, &err));
    double diff = 0;
    for (int i = 0; i < 20; i++) diff += fabs(kc_tensor_f32(ye)[i] - kc_tensor_f32(out[0])[i]);
    ck_assert_msg(diff > 1e-4, "the padding mask changed nothing");
    kc_tensor_unref(x), kc_tensor_unref(y), kc_tensor_unref(ye), kc_tensor_unref(em), kc_tensor_unref(mask);
    kc_tensor_unref(out[0]), kc_tensor_unref(om[0]);
    kc_symbol_unref(ids), kc_symbol_unref(e), kc_symbol_unref(a), kc_symbol_unref(g);
    kc_object_unref(emb), kc_object_unref(mha), kc_object_unref(m);
}
END_TEST

/* The committed models (tests/data/attention, written by ckeras) predict
 * what numpy-predict computed on them. */
START_TEST(committed_transformers_match_numpy_predict)
{
    static const char *const names[] = {"transformer_plain", "transformer_masked", "transformer_causal",
                                        "transformer_keyed"};
    for (int i = 0; i < 4; i++) {
        char h5[256], io[256];
        snprintf(h5, sizeof h5, "attention/%s.h5", names[i]);
        snprintf(io, sizeof io, "attention/%s.io.json", names[i]);
        kc_object *m = kc_model_load(tu_data(h5), NULL, &err);
        ck_assert_msg(m != NULL, "%s: %s (%s)", h5, err.message, err.context);
        check_io(m, tu_data(io), 1e-4, 1e-5, names[i]);
        kc_object_unref(m);
    }
}
END_TEST

/* ---- live numpy-predict and the golden files ---------------------------------------------------------- */

static const spec variants[4] = {{.v = PLAIN, .dropout = 0.1, .mlp_dropout = 0.2},
                                 {.v = MASKED, .dropout = 0.1, .mlp_dropout = 0.2},
                                 {.v = CAUSAL, .dropout = 0.1, .mlp_dropout = 0.2},
                                 {.v = KEYED, .dropout = 0.1, .mlp_dropout = 0.2}};
static const char *const variant_names[4] = {"transformer_plain", "transformer_masked", "transformer_causal",
                                             "transformer_keyed"};

/* Build variant i, train it two epochs (so that no weight keeps its
 * initial value), and write DIR/<name>.h5 and DIR/<name>.in.json (16 test
 * digits). */
static kc_object *make_variant(int i, const char *dir)
{
    load_digits();
    kc_clear_session();
    kc_set_random_seed(10 + (uint64_t)i);
    kc_object *m = transformer(&variants[i]);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"adam\", \"loss\": \"categorical_crossentropy\"}", NULL, &err));
    kc_tensor *x[2], *xt[2];
    int n = variant_inputs(variants[i].v, xtr, 1437, x);
    kc_fit_args fa = {.x = x, .n_x = n, .y = &ytr, .n_y = 1, .batch_size = 64, .epochs = 2};
    CK_OK(kc_model_fit(m, &fa, NULL, &err));
    variant_inputs(variants[i].v, xte, 16, xt);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.h5", dir, variant_names[i]);
    kc_save_options so = {.exclude_optimizer = true}; /* small files: the weights are what is checked */
    CK_OK(kc_model_save(m, path, &so, &err));
    snprintf(path, sizeof path, "%s/%s.in.json", dir, variant_names[i]);
    write_inputs(xt, n, path);
    for (int k = 0; k < n; k++) kc_tensor_unref(x[k]), kc_tensor_unref(xt[k]);
    return m;
}

START_TEST(fresh_transformers_match_numpy_predict)
{
    char why[4200];
    bool required;
    const char *tool = numpy_tool(why, sizeof why, &required);
    ck_assert_msg(tool != NULL, "%s", why); /* main checked it before running this */
    for (int i = 0; i < 4; i++) {
        kc_object *m = make_variant(i, tu_tmpdir());
        char h5[4300], in[4300], out[4300];
        snprintf(h5, sizeof h5, "%s/%s.h5", tu_tmpdir(), variant_names[i]);
        snprintf(in, sizeof in, "%s/%s.in.json", tu_tmpdir(), variant_names[i]);
        snprintf(out, sizeof out, "%s/%s.io.json", tu_tmpdir(), variant_names[i]);
        run_numpy(tool, h5, in, out);
        check_io(m, out, 1e-4, 1e-5, variant_names[i]);
        kc_object *back = kc_model_load(h5, NULL, &err);
        CK_NN(back, err);
        check_io(back, out, 1e-4, 1e-5, variant_names[i]);
        /* the same model as a .keras archive: numpy-predict reads it
         * through keras_h5.py from-keras3 (Keras 3's nodes and weights
         * layout, independently of ckeras' reader) */
        char k3[4300], out3[4300];
        snprintf(k3, sizeof k3, "%s/%s.keras", tu_tmpdir(), variant_names[i]);
        snprintf(out3, sizeof out3, "%s/%s.k3.io.json", tu_tmpdir(), variant_names[i]);
        CK_OK(kc_model_save(m, k3, NULL, &err));
        run_numpy(tool, k3, in, out3);
        check_io(m, out3, 1e-4, 1e-5, variant_names[i]);
        kc_object_unref(m), kc_object_unref(back);
    }
    free_digits();
}
END_TEST

static const char *goldens_dir; /* --write-goldens DIR */

START_TEST(write_goldens)
{
    for (int i = 0; i < 4; i++) kc_object_unref(make_variant(i, goldens_dir));
    free_digits();
}
END_TEST

static Suite *make_suite(bool live)
{
    Suite *s = suite_create(live ? "transformer_numpy" : "transformer");
    TCase *tc = tcase_create("transformer");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 600);
    if (goldens_dir) {
        tcase_add_test(tc, write_goldens);
    } else if (live) {
        tcase_add_test(tc, fresh_transformers_match_numpy_predict);
    } else {
        tcase_add_test(tc, transformer_trains_on_digits_saves_and_reloads);
        tcase_add_test(tc, keras2_nodes_with_keyword_arguments_round_trip);
        tcase_add_test(tc, keras_style_mha_file_loads_and_predicts);
        tcase_add_test(tc, keras3_nodes_read);
        tcase_add_test(tc, bad_keyword_nodes_are_refused);
        tcase_add_test(tc, keras2_training_kwarg_and_refused_kwargs);
        tcase_add_test(tc, embedding_masks_flow_through_attention);
        tcase_add_test(tc, committed_transformers_match_numpy_predict);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    bool live = argc > 1 && !strcmp(argv[1], "--numpy-live");
    if (argc > 2 && !strcmp(argv[1], "--write-goldens")) goldens_dir = argv[2]; /* tests/data/attention/make-goldens */
    if (live) {
        char why[4200];
        bool required;
        if (!numpy_tool(why, sizeof why, &required)) {
            printf("%s: %s\n", required ? "transformer_numpy: numpy-predict must run in CI (CI=true)"
                                        : "SKIPPED transformer_numpy", why);
            return required ? 1 : 77;
        }
    }
    return tu_run_suite(make_suite(live));
}
