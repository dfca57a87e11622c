/* .keras archives ckeras writes follow Keras 3's layout so closely that the
 * conformance converter (../shared/conformance/tools/keras_h5.py
 * from-keras3, an independent reading of Keras 3's formats written from
 * Keras' source) turns them into Keras 2 files that TensorFlow.js loads
 * and that predict what ckeras predicted (issue 14, the oracle): for each
 * model, save .keras, convert, `keras-ref check` against ckeras' own
 * inputs and outputs.
 *
 * Skips (exit 77, with the reason) when keras-ref, Node.js, or python3
 * with h5py and numpy is absent; fails without keras-ref when CI=true. */
#define _DEFAULT_SOURCE /* popen */
#include "keras_ref.h"
#include "saving_util.h"

#include <stdlib.h>
#include <string.h>

static kc_error err;
static void setup(void) { kc_error_clear(&err); }
static char converter[4200], python[1024];

#define SEQ(input, ...) "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"seq\", \"layers\": [" \
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, " input "]}}, " __VA_ARGS__ "]}}"
#define L(cls, cfg) "{\"class_name\": \"" cls "\", \"config\": " cfg "}"

/* Apply a Sequential made of these layer configs to x, keeping x's reference. */
static kc_symbol *chain(kc_symbol *x, const char *const *layers, int n)
{
    kc_symbol *cur = kc_symbol_ref(x);
    for (int i = 0; i < n; i++) {
        json_error_t je;
        json_t *j = json_loads(layers[i], 0, &je);
        ck_assert_msg(j != NULL, "%s", je.text);
        kc_object *l = NULL;
        CK_OK(kc_deserialize(KC_KIND_LAYER, j, NULL, &l, &err));
        json_decref(j);
        kc_symbol *next = su_apply(l, &cur, 1);
        kc_symbol_unref(cur);
        cur = next;
    }
    return cur;
}
#define CHAIN(x, ...) chain(x, (const char *const[]){__VA_ARGS__}, \
                            (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

/* One model of every kind TensorFlow.js has, so that one conversion and one
 * keras-ref run check them all: Dense under an odd name, BatchNormalization
 * without beta, a frozen layer, PReLU, LayerNormalization; LSTM, GRU,
 * SimpleRNN, Bidirectional, TimeDistributed; convolutions; a shared layer,
 * a nested Sequential called twice and a nested Functional model (Keras 3
 * numbers their calls from 0). Five outputs. TensorFlow.js refuses GRU's
 * reset_after=True, Flatten of a rank-2 tensor and the Random* layers. */
static kc_object *everything(void)
{
    kc_symbol *a = kc_input(1, (int64_t[]){6}, "a", &err), *b = kc_input(1, (int64_t[]){6}, "b", &err);
    kc_symbol *seq = kc_input(2, (int64_t[]){5, 3}, "sequence", &err), *img = kc_input(3, (int64_t[]){8, 8, 3}, "img", &err);
    kc_symbol *o1 = CHAIN(a, L("Dense", "{\"name\": \"dense_17\", \"units\": 8, \"activation\": \"relu\"}"),
                          L("BatchNormalization", "{\"center\": false, \"momentum\": 0.9}"),
                          L("Dense", "{\"units\": 5, \"trainable\": false}"), L("PReLU", "{}"),
                          L("LayerNormalization", "{}"), L("Dense", "{\"units\": 3, \"activation\": \"softmax\"}"));
    kc_symbol *o2 = CHAIN(seq, L("Bidirectional", "{\"layer\": " L("LSTM", "{\"units\": 3, \"return_sequences\": true}") "}"),
                          L("TimeDistributed", "{\"layer\": " L("Dense", "{\"units\": 4, \"activation\": \"tanh\"}") "}"),
                          L("LSTM", "{\"units\": 4, \"return_sequences\": true}"),
                          L("GRU", "{\"units\": 4, \"return_sequences\": true, \"reset_after\": false}"),
                          L("SimpleRNN", "{\"units\": 3, \"return_sequences\": true}"),
                          L("Bidirectional", "{\"layer\": " L("GRU", "{\"units\": 2, \"reset_after\": false}") ", "
                                             "\"merge_mode\": \"sum\"}"),
                          L("Dense", "{\"units\": 2}"));
    kc_symbol *o3 = CHAIN(img, L("Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\"}"),
                          L("DepthwiseConv2D", "{\"kernel_size\": 3, \"depth_multiplier\": 2}"),
                          L("SeparableConv2D", "{\"filters\": 5, \"kernel_size\": 3, \"padding\": \"same\"}"),
                          L("MaxPooling2D", "{\"pool_size\": 2}"),
                          L("Conv2DTranspose", "{\"filters\": 3, \"kernel_size\": 2, \"strides\": 2}"),
                          L("GlobalAveragePooling2D", "{}"), L("Dense", "{\"units\": 2}"));
    kc_object *shared = su_layer("Dense", "{\"units\": 5, \"activation\": \"tanh\", \"name\": \"shared\"}");
    kc_symbol *ha = kc_apply(shared, &a, 1, &err), *hb = kc_apply(shared, &b, 1, &err);
    kc_object_unref(shared);
    kc_object *inner = su_model_from_json(SEQ("5", L("Dense", "{\"units\": 3, \"activation\": \"elu\"}")));
    kc_symbol *ia = kc_apply(inner, &ha, 1, &err), *ib = kc_apply(inner, &hb, 1, &err);
    kc_object_unref(inner);
    kc_symbol *fi = kc_input(1, (int64_t[]){3}, "f_in", &err);
    kc_symbol *fo = su_apply(su_layer("Dense", "{\"units\": 2, \"name\": \"f_dense\"}"), &fi, 1);
    kc_object *f = kc_functional_new(&fi, 1, &fo, 1, "sub", &err);
    CK_NN(f, err);
    kc_symbol *o5 = kc_apply(f, &ib, 1, &err);
    kc_object_unref(f);
    kc_symbol *both[2] = {ia, ib};
    kc_symbol *cat = su_apply(su_layer("Concatenate", "{}"), both, 2);
    kc_symbol *o4 = su_apply(su_layer("Dense", "{\"units\": 1, \"name\": \"head\"}"), &cat, 1);
    kc_symbol *ins[4] = {a, b, seq, img}, *outs[5] = {o1, o2, o3, o4, o5};
    kc_object *m = kc_functional_new(ins, 4, outs, 5, "everything", &err);
    CK_NN(m, err);
    kc_symbol *all[] = {a, b, seq, img, o1, o2, o3, ha, hb, ia, ib, fi, fo, o5, cat, o4};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) kc_symbol_unref(all[i]);
    return m;
}

START_TEST(ckeras_archives_convert_like_keras3_files)
{
    kc_object *m = everything();
    su_randomize_weights(m, 500);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"adam\", \"loss\": \"mse\"}", NULL, &err));
    kc_tensor *ins[4], *outs[8];
    su_model_inputs(m, 3, 0, 17, ins);
    int n_in = kc_model_num_inputs(m), n_out = su_predict(m, ins, outs);
    ck_assert_int_eq(n_out, 5);
    char cmd[16384], out[8192];
    const char *keras = su_path("oracle.keras"), *h5 = su_path("oracle.h5"), *io = su_path("oracle.io.json");
    CK_OK(kc_model_save(m, keras, NULL, &err));
    su_write_io(io, m, ins, n_in, outs, n_out);
    snprintf(cmd, sizeof cmd, "'%s' '%s' from-keras3 '%s' '%s' 2>&1", python, converter, keras, h5);
    FILE *p = popen(cmd, "r");
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    ck_assert_msg(pclose(p) == 0, "from-keras3 failed:\n%s", out);
    ck_assert_msg(strstr(out, "Keras 3.10.0 .keras, Functional"), "%s", out);
    snprintf(cmd, sizeof cmd, "check '%s' '%s' --rtol 1e-4 --atol 1e-5", h5, io);
    int rc = kr_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, ": OK:"), "keras-ref check exit %d:\n%s", rc, out);
    for (int i = 0; i < n_in; i++) kc_tensor_unref(ins[i]);
    for (int i = 0; i < n_out; i++) kc_tensor_unref(outs[i]);
    kc_object_unref(m);
}
END_TEST

static Suite *oracle_suite(void)
{
    Suite *s = suite_create("conformance_keras3");
    TCase *tc = tcase_create("from_keras3");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ckeras_archives_convert_like_keras3_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    char why[512];
    const char *script = kr_find(why, sizeof why);
    if (!script) {
        printf("%s: %s\n", tu_in_ci() ? "conformance_keras3: keras-ref must run in CI (CI=true)" : "SKIPPED conformance_keras3", why);
        return tu_in_ci() ? 1 : KR_SKIP;
    }
    /* the converter sits beside keras-ref, in tools/ */
    snprintf(converter, sizeof converter, "%.*s/tools/keras_h5.py", (int)(strrchr(script, '/') - script), script);
    const char *py = getenv("PYTHON");
    snprintf(python, sizeof python, "%s", py && *py ? py : "/usr/bin/python3");
    char probe[2048];
    snprintf(probe, sizeof probe, "'%s' -c 'import h5py, numpy' >/dev/null 2>&1", python);
    if (system(probe) != 0) {
        printf("SKIPPED conformance_keras3: %s lacks h5py or numpy (Debian: python3-h5py python3-numpy)\n", python);
        return KR_SKIP;
    }
    return tu_run_suite(oracle_suite()); /* counts the TensorFlow.js checks */
}
