/* Sample 9: load a model file written by Keras, predict, save it back.
 *
 * The file (by default tests/data/keras/seq_dense_nadam_k2.0.9.h5, written
 * by Keras 2.0.9 with a Nadam optimizer) loads as it is:
 *
 *     model = keras.models.load_model("seq_dense_nadam_k2.0.9.h5")
 *
 * Next to it, FILE.io.json holds inputs and the outputs Keras' reference
 * (TensorFlow.js) predicted for them. The program predicts on those inputs
 * and checks the outputs (relative tolerance 1e-4), saves the model with
 * ckeras (Keras 2 layout: Keras and TensorFlow.js read it back), loads that
 * file and checks the predictions are identical. Exit 1 if a check fails.
 *
 * Lines: not a seed part (loading a Keras file; the seed saves and loads its
 * own models, sample 2).
 *
 * Run: load_keras_file FILE.h5 OUT_DIR */
#include <ckeras.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kc_error err;

static void die(const char *where)
{
    char buf[1024];
    fprintf(stderr, "load_keras_file: %s: %s\n", where, kc_error_format(&err, buf, sizeof buf));
    exit(1);
}
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) != KC_OK) die(#call);                                                           \
    } while (0)
static void *nn(void *p, const char *where)
{
    if (!p) die(where);
    return p;
}
#define NN(call) nn((call), #call)

static int failed;
static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    failed |= !ok;
}

/* Warnings a load reports (e.g. optimizer state it could not restore). */
static void warn(void *user, const char *message)
{
    (void)user;
    printf("  warning: %s\n", message);
}

static json_t *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "load_keras_file: cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "load_keras_file: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    json_t *json = NN(kc_json_parse(text, (size_t)size, 0, &err));
    free(text);
    return json;
}

/* A list of {"name", "shape", "data"} as tensors. Returns the count. */
static int tensors(const json_t *list, kc_tensor **out, int max)
{
    int n = (int)json_array_size(list);
    if (n > max) n = max;
    for (int i = 0; i < n; i++) TRY(kc_tensor_from_json(json_array_get(list, (size_t)i), &out[i], &err));
    return n;
}

static void print_tensor(const char *what, const kc_tensor *t)
{
    char shape[64];
    kc_shape s = kc_tensor_shape(t);
    printf("%s %s:", what, kc_shape_format(&s, shape, sizeof shape));
    int64_t n = kc_tensor_size(t);
    for (int64_t i = 0; i < n && i < 8; i++) printf(" %.6g", kc_tensor_get(t, i));
    printf("%s\n", n > 8 ? " ..." : "");
}

static void predict(kc_object *model, kc_tensor **in, int n_in, kc_tensor **out, int *n_out)
{
    TRY(kc_model_predict(model, in, n_in, 0, out, n_out, &err));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE.h5 OUT_DIR\n", argv[0]);
        return 2;
    }
    /* FILE.h5 -> FILE.io.json */
    char io_path[4096], saved[4096];
    size_t len = strlen(argv[1]);
    if (len < 3 || strcmp(argv[1] + len - 3, ".h5") != 0 || len + 6 > sizeof io_path) {
        fprintf(stderr, "load_keras_file: %s: expected a .h5 file\n", argv[1]);
        return 2;
    }
    snprintf(io_path, sizeof io_path, "%.*s.io.json", (int)(len - 3), argv[1]);
    const char *base = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
    snprintf(saved, sizeof saved, "%s/resaved_%s", argv[2], base);

    /* model = keras.models.load_model(FILE) */
    kc_load_options opts = {.warn = warn};
    kc_object *model = NN(kc_model_load(argv[1], &opts, &err));
    char *summary = NN(kc_model_summary(model, &err));
    fputs(summary, stdout);
    kc_string_free(summary);

    /* the golden inputs and outputs */
    json_t *io = read_json(io_path);
    kc_tensor *in[16], *want[16], *got[16], *again[16];
    int n_in = tensors(json_object_get(io, "inputs"), in, 16);
    int n_want = tensors(json_object_get(io, "outputs"), want, 16), n_got = 0, n_again = 0;
    json_decref(io);

    /* model.predict(inputs) */
    predict(model, in, n_in, got, &n_got);
    check(n_got == n_want, "as many outputs as the golden file");
    int close = n_got == n_want;
    double worst = 0;
    for (int o = 0; o < n_got && o < n_want; o++) {
        print_tensor("predicted", got[o]);
        print_tensor("expected ", want[o]);
        close &= kc_tensor_size(got[o]) == kc_tensor_size(want[o]);
        for (int64_t i = 0; close && i < kc_tensor_size(got[o]); i++) {
            double g = kc_tensor_get(got[o], i), w = kc_tensor_get(want[o], i);
            double rel = fabs(g - w) / fmax(fabs(w), 1e-6);
            if (rel > worst) worst = rel;
            close &= fabs(g - w) <= 1e-4 * fabs(w) + 1e-6;
        }
    }
    printf("largest relative difference: %.3g\n", worst);
    check(close, "the predictions match Keras' (rtol 1e-4)");

    /* model.save(...); then load what we wrote */
    TRY(kc_model_save(model, saved, NULL, &err));
    kc_object *reloaded = NN(kc_model_load(saved, &opts, &err));
    predict(reloaded, in, n_in, again, &n_again);
    int same = n_again == n_got;
    for (int o = 0; same && o < n_got; o++)
        for (int64_t i = 0; i < kc_tensor_size(got[o]); i++) same &= kc_tensor_get(got[o], i) == kc_tensor_get(again[o], i);
    printf("saved as %s\n", saved);
    check(same, "the re-saved file predicts identically");
    check(kc_model_is_compiled(reloaded) == kc_model_is_compiled(model), "the training config survives the round trip");

    for (int i = 0; i < n_in; i++) kc_tensor_unref(in[i]);
    for (int i = 0; i < n_want; i++) kc_tensor_unref(want[i]);
    for (int i = 0; i < n_got; i++) kc_tensor_unref(got[i]);
    for (int i = 0; i < n_again; i++) kc_tensor_unref(again[i]);
    kc_object_unref(reloaded);
    kc_object_unref(model);
    return failed;
}
