/* modelinspect, run as users run it: exit codes (0 ok, 1 files differ,
 * 2 invalid file, 64 usage), messages on stderr, every subcommand on files
 * ckeras writes and on real Keras files (with unknown custom classes,
 * weights only), golden summaries as tf.keras 2.15 prints them, --json
 * outputs parsed and checked, and broken files (never a crash). */
#define _DEFAULT_SOURCE /* popen */
#include "keras_ref.h"
#include "saving_util.h"
#include "seed_classes.h"

#include <hdf5.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

static char out_text[1 << 18];

/* Run "modelinspect ARGS", stderr joined to stdout unless quiet (JSON and
 * goldens want stdout alone); returns the exit code. */
static int run_cmd(const char *args, bool quiet)
{
    const char *build = getenv("CKERAS_BUILD_ROOT");
    ck_assert_msg(build != NULL, "CKERAS_BUILD_ROOT is not set (run through meson test)");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s/tools/modelinspect' %s %s", build, args, quiet ? "2>/dev/null" : "2>&1");
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(out_text, 1, sizeof out_text - 1, p);
    out_text[len] = '\0';
    int st = pclose(p);
    ck_assert_msg(WIFEXITED(st), "modelinspect %s did not exit normally:\n%s", args, out_text);
    return WEXITSTATUS(st);
}
static int run(const char *args) { return run_cmd(args, false); }

#define EXPECT(args, code, needle)                                                                 \
    do {                                                                                           \
        int rc_ = run(args);                                                                       \
        ck_assert_msg(rc_ == (code), "modelinspect %s: exit %d, wanted %d:\n%s", args, rc_, code, out_text); \
        ck_assert_msg(strstr(out_text, needle), "modelinspect %s: output lacks '%s':\n%s", args, needle, out_text); \
    } while (0)

/* Run with --json (stdout only), expect code, parse the output. */
static json_t *run_json(const char *args, int code)
{
    char full[16384];
    snprintf(full, sizeof full, "%s --json", args);
    int rc = run_cmd(full, true);
    ck_assert_msg(rc == code, "modelinspect %s: exit %d, wanted %d:\n%s", full, rc, code, out_text);
    json_error_t je;
    json_t *j = json_loads(out_text, 0, &je);
    ck_assert_msg(j != NULL, "modelinspect %s: not JSON (%s, line %d):\n%s", full, je.text, je.line, out_text);
    return j;
}

/* The output must be exactly want: a format whose %s (or %1$s) is path,
 * or, when path is NULL, the text itself. */
static void expect_golden(const char *args, const char *path, const char *want_fmt)
{
    int rc = run_cmd(args, true);
    ck_assert_msg(rc == 0, "modelinspect %s: exit %d:\n%s", args, rc, out_text);
    static char want[1 << 16];
    if (path) snprintf(want, sizeof want, want_fmt, path);
    else snprintf(want, sizeof want, "%s", want_fmt);
    ck_assert_msg(strcmp(out_text, want) == 0, "modelinspect %s printed\n%s\nwanted\n%s", args, out_text, want);
}

/* A JSON value at a path of object keys / array indexes, e.g. jget(j, "model", "layers", "#1", NULL). */
static json_t *jget(json_t *j, ...)
{
    va_list ap;
    va_start(ap, j);
    for (const char *k; j && (k = va_arg(ap, const char *));)
        j = k[0] == '#' ? json_array_get(j, (size_t)atoi(k + 1)) : json_object_get(j, k);
    va_end(ap);
    return j;
}
#define JSTR(j, ...) json_string_value(jget(j, __VA_ARGS__, NULL))
#define JINT(j, ...) json_integer_value(jget(j, __VA_ARGS__, NULL))

static const char *fixture_path(const char *name);

/* The fixture's path, quoted for the shell. */
static const char *fixture(const char *name)
{
    static char buf[4][8192];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "'%s'", fixture_path(name));
    return b;
}

START_TEST(usage_errors_exit_64)
{
    EXPECT("", 64, "usage: modelinspect COMMAND");
    EXPECT("frobnicate x.h5", 64, "unknown command 'frobnicate'");
    EXPECT("verify", 64, "missing FILE");
    EXPECT("verify --bogus x.h5", 64, "unknown option '--bogus'");
    EXPECT("predict a.h5 in.json", 64, "need FILE, INPUT.json and OUTPUT.json");
    EXPECT("predict a.h5 in.json out.json --batch-size 0", 64, "--batch-size");
    EXPECT("resave a.h5", 64, "need IN and OUT");
    EXPECT("--help", 0, "verify FILE");
    EXPECT("verify --help", 0, "ckeras_plugin_init");
}
END_TEST

START_TEST(verify_reports_what_is_wrong)
{
    char args[16384];
    snprintf(args, sizeof args, "verify %s", fixture("seq_dense_nadam_k2.0.9.h5"));
    EXPECT(args, 0, "OK: Sequential");
    snprintf(args, sizeof args, "verify %s", fixture("func_garnet_multiin_k2.2.4-tf_custom.h5"));
    EXPECT(args, 2, "modelinspect: Unknown layer class 'GarNet'");
    snprintf(args, sizeof args, "verify %s", fixture("weightsonly_dense_k2.0.0.h5"));
    EXPECT(args, 2, "only weights");
    snprintf(args, sizeof args, "verify '%s'", su_path("missing.h5"));
    EXPECT(args, 2, "cannot open");
    FILE *f = fopen(su_path("not.h5"), "w");
    fputs("hello", f);
    fclose(f);
    snprintf(args, sizeof args, "verify '%s'", su_path("not.h5"));
    EXPECT(args, 2, "is not an HDF5 file");
}
END_TEST

/* Sequential "seedy": Input(4) -> the seed's MyDense(3, my_softplus)
 * "mine", compiled with SGD and the custom loss huber_fn, saved as name. */
static void save_seed_model(const char *name)
{
    kc_custom_objects *co = seed_custom_objects(2.0f, &err);
    kc_object *m = kc_sequential_new("seedy", &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){4}, NULL, &err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object_unref(in);
    json_t *cfg = json_pack("{s:s, s:{s:i, s:s, s:s}}", "class_name", "MyDense", "config", "units", 3, "activation",
                            "my_softplus", "name", "mine");
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "x", co);
    kc_object *my = NULL;
    CK_OK(kc_deserialize(KC_KIND_LAYER, cfg, &ctx, &my, &err));
    json_decref(cfg);
    CK_OK(kc_sequential_add(m, my, &err));
    kc_object_unref(my);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": \"huber_fn\"}", co, &err));
    CK_OK(kc_model_save(m, su_path(name), NULL, &err));
    kc_object_unref(m);
    kc_custom_objects_free(co);
}

/* A file with the seed's custom classes verifies only with the plugin
 * that registers them. */
START_TEST(verify_with_a_custom_library)
{
    save_seed_model("seed.h5");
    char args[16384];
    snprintf(args, sizeof args, "verify '%s'", su_path("seed.h5"));
    EXPECT(args, 2, "Unknown layer class 'MyDense'");
    const char *plugin = getenv("CKERAS_TEST_PLUGIN");
    ck_assert_msg(plugin != NULL, "CKERAS_TEST_PLUGIN is not set");
    snprintf(args, sizeof args, "verify '%s' --custom-lib '%s'", su_path("seed.h5"), plugin);
    EXPECT(args, 0, "OK: Sequential");
    EXPECT(args, 0, "compiled");
    snprintf(args, sizeof args, "verify '%s' --custom-lib '%s'", su_path("seed.h5"), su_path("no_such.so"));
    EXPECT(args, 2, "cannot load custom library");
}
END_TEST

START_TEST(predict_reproduces_the_goldens)
{
    const char *names[] = {"seq_dense_k1.2.2", "seq_dense_nadam_k2.0.9"};
    for (int i = 0; i < 2; i++) {
        char h5[256], io[256], args[16384];
        snprintf(h5, sizeof h5, "%s.h5", names[i]);
        snprintf(io, sizeof io, "%s.io.json", names[i]);
        snprintf(args, sizeof args, "predict %s %s '%s' --batch-size 2", fixture(h5), fixture(io), su_path("out.json"));
        EXPECT(args, 0, "");
        json_error_t je;
        char rel[300];
        snprintf(rel, sizeof rel, "keras/%s", io);
        json_t *want = json_load_file(tu_data(rel), 0, &je), *got = json_load_file(su_path("out.json"), 0, &je);
        ck_assert_ptr_nonnull(want);
        ck_assert_ptr_nonnull(got);
        json_t *wo = json_object_get(want, "outputs"), *go = json_object_get(got, "outputs");
        ck_assert_int_eq(json_array_size(wo), json_array_size(go));
        for (size_t k = 0; k < json_array_size(wo); k++) {
            kc_tensor *a, *b;
            CK_OK(kc_tensor_from_json(json_array_get(go, k), &a, &err));
            CK_OK(kc_tensor_from_json(json_array_get(wo, k), &b, &err));
            tu_assert_tensors_close(a, b, 1e-4, 1e-5, names[i]);
            ck_assert_ptr_nonnull(json_object_get(json_array_get(go, k), "name"));
            kc_tensor_unref(a);
            kc_tensor_unref(b);
        }
        json_decref(want);
        json_decref(got);
    }
    /* inputs that do not fit the model */
    FILE *f = fopen(su_path("bad_in.json"), "w");
    fputs("{\"inputs\": [{\"shape\": [2, 3], \"data\": [1, 2, 3, 4, 5, 6]}]}", f);
    fclose(f);
    char args[16384];
    snprintf(args, sizeof args, "predict %s '%s' '%s'", fixture("seq_dense_nadam_k2.0.9.h5"), su_path("bad_in.json"),
             su_path("out2.json"));
    EXPECT(args, 2, "modelinspect:");
    f = fopen(su_path("bad_json.json"), "w");
    fputs("{\"inputs\": [{\"shape\": [2, 3], \"data\": [1, 2, 3, ", f);
    fclose(f);
    snprintf(args, sizeof args, "predict %s '%s' '%s'", fixture("seq_dense_nadam_k2.0.9.h5"), su_path("bad_json.json"),
             su_path("out3.json"));
    EXPECT(args, 2, "bad_json.json");
}
END_TEST

START_TEST(resave_keeps_weights_bit_for_bit)
{
    const char *names[] = {"seq_dense_k1.2.2.h5", "seq_dense_nadam_k2.0.9.h5"};
    for (int i = 0; i < 2; i++) {
        char args[16384];
        snprintf(args, sizeof args, "resave %s '%s'", fixture(names[i]), su_path("resaved.h5"));
        EXPECT(args, 0, "");
        char rel[256];
        snprintf(rel, sizeof rel, "keras/%s", names[i]);
        /* Keras 2.0 wrote no Sequential name: loads name it "sequential", as
         * the first model of a session */
        kc_clear_session();
        kc_object *a = kc_model_load(tu_data(rel), NULL, &err);
        CK_NN(a, err);
        kc_clear_session();
        kc_object *b = kc_model_load(su_path("resaved.h5"), NULL, &err);
        CK_NN(b, err);
        su_assert_same_weights(a, b);
        su_assert_same_config(a, b);
        ck_assert(kc_model_is_compiled(b));
        kc_object_unref(a);
        kc_object_unref(b);
    }
}
END_TEST

/* The fixture's path, unquoted (the tool prints it as given). */
static const char *fixture_path(const char *name)
{
    static char buf[4][8192];
    static int k;
    char rel[256];
    snprintf(rel, sizeof rel, "keras/%.200s", name);
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s", tu_data(rel));
    return b;
}

/* "modelinspect CMD 'fixture' EXTRA" into a static buffer. */
static const char *cmd_on(const char *cmd, const char *name, const char *extra)
{
    static char buf[16384];
    snprintf(buf, sizeof buf, "%s %s %s", cmd, fixture(name), extra ? extra : "");
    return buf;
}

/* ---- summary ------------------------------------------------------------------------------------ */

/* Where the tables below come from: they were written by hand with the
 * code that prints them (commit e7ed72c), not printed by a tf.keras run (no
 * tf.keras exists on these machines, and TensorFlow.js's summary is another
 * table). Their layout follows keras 2.15's keras/utils/layer_utils.py
 * print_summary and print_row: 65 columns at positions 0.45, 0.85, 1.0 and
 * three fields for sequential-like models, else 98 columns at 0.3, 0.6,
 * 0.7, 1.0 with "Connected to"; cells wrapped at those positions;
 * InputLayer shapes as lists; totals with readable_memory_size of float32
 * bytes. Their contents -- each layer's name, class and parameter count and
 * the model's output shapes -- are checked against TensorFlow.js reading
 * the same files (summary_contents_agree_with_tensorflow_js). Before and
 * after the table, modelinspect's own lines: file, keras_version, backend,
 * and the compile state. */
START_TEST(summary_prints_what_keras_prints)
{
    /* Keras 2.0.9 wrote no Sequential name: tf.keras names it "sequential" */
    expect_golden(cmd_on("summary", "seq_dense_nadam_k2.0.9.h5", NULL), fixture_path("seq_dense_nadam_k2.0.9.h5"),
                  "file: %s\n"
                  "keras_version: 2.0.9\n"
                  "backend: tensorflow\n"
                  "Model: \"sequential\"\n"
                  "_________________________________________________________________\n"
                  " Layer (type)                Output Shape              Param #   \n"
                  "=================================================================\n"
                  " dense_1 (Dense)             (None, 64)                6464      \n"
                  "                                                                 \n"
                  " dense_2 (Dense)             (None, 10)                650       \n"
                  "                                                                 \n"
                  "=================================================================\n"
                  "Total params: 7114 (27.79 KB)\n"
                  "Trainable params: 7114 (27.79 KB)\n"
                  "Non-trainable params: 0 (0.00 Byte)\n"
                  "_________________________________________________________________\n"
                  "optimizer: Nadam (beta_1=0.9, epsilon=1e-08, schedule_decay=0.004, beta_2=0.999, lr=0.002)\n"
                  "loss: categorical_crossentropy\n"
                  "metrics: [accuracy]\n");

    /* a Functional chain is sequential-like: 65 columns, InputLayer listed */
    expect_golden(cmd_on("summary", "func_conv2d_bn_avgpool_k2.10.0.h5", NULL),
                  fixture_path("func_conv2d_bn_avgpool_k2.10.0.h5"),
                  "file: %s\n"
                  "keras_version: 2.10.0\n"
                  "backend: tensorflow\n"
                  "Model: \"model\"\n"
                  "_________________________________________________________________\n"
                  " Layer (type)                Output Shape              Param #   \n"
                  "=================================================================\n"
                  " input_1 (InputLayer)        [(None, 28, 28, 1)]       0         \n"
                  "                                                                 \n"
                  " conv2d (Conv2D)             (None, 13, 13, 4)         36        \n"
                  "                                                                 \n"
                  " batch_normalization (Batch  (None, 13, 13, 4)         16        \n"
                  " Normalization)                                                  \n"
                  "                                                                 \n"
                  " activation (Activation)     (None, 13, 13, 4)         0         \n"
                  "                                                                 \n"
                  " max_pooling2d (MaxPooling2  (None, 6, 6, 4)           0         \n"
                  " D)                                                              \n"
                  "                                                                 \n"
                  " conv2d_1 (Conv2D)           (None, 4, 4, 8)           296       \n"
                  "                                                                 \n"
                  " re_lu (ReLU)                (None, 4, 4, 8)           0         \n"
                  "                                                                 \n"
                  " average_pooling2d (Average  (None, 2, 2, 8)           0         \n"
                  " Pooling2D)                                                      \n"
                  "                                                                 \n"
                  " flatten (Flatten)           (None, 32)                0         \n"
                  "                                                                 \n"
                  " dropout (Dropout)           (None, 32)                0         \n"
                  "                                                                 \n"
                  " dense (Dense)               (None, 10)                330       \n"
                  "                                                                 \n"
                  "=================================================================\n"
                  "Total params: 678 (2.65 KB)\n"
                  "Trainable params: 670 (2.62 KB)\n"
                  "Non-trainable params: 8 (32.00 Byte)\n"
                  "_________________________________________________________________\n"
                  "optimizer: Adam (learning_rate=0.001, decay=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=false)\n"
                  "loss: categorical_crossentropy\n"
                  "metrics: [[acc]]\n");

    /* two heads on PReLU3: not sequential-like, 98 columns with "Connected to" */
    expect_golden(cmd_on("summary", "func_conv2d_prelu_k2.2.0.h5", NULL), fixture_path("func_conv2d_prelu_k2.2.0.h5"),
                  "file: %s\n"
                  "keras_version: 2.2.0\n"
                  "backend: tensorflow\n"
                  "Model: \"model_2\"\n"
                  "__________________________________________________________________________________________________\n"
                  " Layer (type)                Output Shape                 Param #   Connected to                  \n"
                  "==================================================================================================\n"
                  " input_2 (InputLayer)        [(None, None, None, 3)]      0         []                            \n"
                  "                                                                                                  \n"
                  " conv1 (Conv2D)              (None, None, None, 10)       280       ['input_2[0][0]']             \n"
                  "                                                                                                  \n"
                  " PReLU1 (PReLU)              (None, None, None, 10)       10        ['conv1[0][0]']               \n"
                  "                                                                                                  \n"
                  " max_pooling2d_2 (MaxPoolin  (None, None, None, 10)       0         ['PReLU1[0][0]']              \n"
                  " g2D)                                                                                             \n"
                  "                                                                                                  \n"
                  " conv2 (Conv2D)              (None, None, None, 16)       1456      ['max_pooling2d_2[0][0]']     \n"
                  "                                                                                                  \n"
                  " PReLU2 (PReLU)              (None, None, None, 16)       16        ['conv2[0][0]']               \n"
                  "                                                                                                  \n"
                  " conv3 (Conv2D)              (None, None, None, 32)       4640      ['PReLU2[0][0]']              \n"
                  "                                                                                                  \n"
                  " PReLU3 (PReLU)              (None, None, None, 32)       32        ['conv3[0][0]']               \n"
                  "                                                                                                  \n"
                  " conv4-1 (Conv2D)            (None, None, None, 2)        66        ['PReLU3[0][0]']              \n"
                  "                                                                                                  \n"
                  " conv4-2 (Conv2D)            (None, None, None, 4)        132       ['PReLU3[0][0]']              \n"
                  "                                                                                                  \n"
                  "==================================================================================================\n"
                  "Total params: 6632 (25.91 KB)\n"
                  "Trainable params: 6632 (25.91 KB)\n"
                  "Non-trainable params: 0 (0.00 Byte)\n"
                  "__________________________________________________________________________________________________\n"
                  "not compiled: the file has no training_config\n");
}
END_TEST

/* The summaries' contents against TensorFlow.js (keras-ref info): the
 * same layers in the same order, with the same classes and parameter
 * counts (from the weight shapes TensorFlow.js reads), and the model's
 * output shapes. */
START_TEST(summary_contents_agree_with_tensorflow_js)
{
    KR_REQUIRE();
    const char *files[] = {"seq_dense_nadam_k2.0.9.h5", "func_conv2d_bn_avgpool_k2.10.0.h5", "func_conv2d_prelu_k2.2.0.h5"};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        json_t *j = run_json(cmd_on("summary", files[f], "--json"), 0);
        json_t *layers = jget(j, "model", "layers", NULL);
        char args[8400], out[65536];
        snprintf(args, sizeof args, "info %s", fixture(files[f]));
        ck_assert_msg(kr_run(args, out, sizeof out) == 0, "keras-ref info %s:\n%s", files[f], out);
        /* "layer  NAME (CLASS)" then "         WEIGHT <f [d0,d1,...]" lines;
         * "output NAME [None,...]" */
        size_t li = 0;
        long params = -1;
        int outputs = 0;
        const char *name = NULL;
        char *lines_at = NULL;
        for (char *line = strtok_r(out, "\n", &lines_at);; line = strtok_r(NULL, "\n", &lines_at)) {
            bool layer_line = line && strncmp(line, "layer  ", 7) == 0;
            if ((!line || layer_line) && params >= 0) { /* close the previous layer */
                json_t *l = json_array_get(layers, li++);
                ck_assert_msg(l != NULL, "%s: TensorFlow.js has more layers", files[f]);
                ck_assert_str_eq(json_string_value(json_object_get(l, "name")), name);
                ck_assert_msg(json_integer_value(json_object_get(l, "params")) == params,
                              "%s: layer %s has %lld params, TensorFlow.js %ld", files[f], name,
                              (long long)json_integer_value(json_object_get(l, "params")), params);
            }
            if (!line) break;
            char lname[256], lclass[256], dims[256];
            if (layer_line && sscanf(line, "layer  %255s (%255[^)])", lname, lclass) == 2) {
                json_t *l = json_array_get(layers, li);
                ck_assert_msg(l != NULL, "%s: TensorFlow.js has more layers", files[f]);
                ck_assert_str_eq(json_string_value(json_object_get(l, "class_name")), lclass);
                name = json_string_value(json_object_get(l, "name"));
                ck_assert_str_eq(name, lname);
                params = 0;
            } else if (sscanf(line, " %*s <f [%255[^]]]", dims) == 1) {
                long size = 1;
                char *dims_at = NULL;
                for (char *d = strtok_r(dims, ",", &dims_at); d; d = strtok_r(NULL, ",", &dims_at)) size *= atol(d);
                params += size;
            } else if (sscanf(line, "output %255s [%255[^]]]", lname, dims) == 2) {
                outputs++;
            }
        }
        ck_assert_msg(li == json_array_size(layers), "%s: %zu layers in TensorFlow.js, %zu in the summary", files[f], li,
                      json_array_size(layers));
        ck_assert_int_gt(outputs, 0);
        json_decref(j);
    }
}
END_TEST

/* Without GarNet's class the model does not load: the table comes from
 * model_config and the datasets (format in cmd_summary.c). */
START_TEST(summary_without_the_classes)
{
    const char *garnet = "func_garnet_multiin_k2.2.4-tf_custom.h5";
    expect_golden(cmd_on("summary", garnet, NULL), fixture_path(garnet),
                  "file: %1$s\n"
                  "keras_version: 2.2.4-tf\n"
                  "backend: tensorflow\n"
                  "not loaded: Unknown layer class 'GarNet'. Register it (kc_register_class) or pass it in "
                  "custom_objects. (%1$s: model_config.config.layers[2])\n"
                  "Model: \"model\" (Model; table from model_config and the stored weights)\n"
                  "Layer (type)          Param #  Stored weights                        Connected to\n"
                  "-------------------------------------------------------------------------------------------------------\n"
                  "input_1 (InputLayer)        0                                        []\n"
                  "input_2 (InputLayer)        0                                        []\n"
                  "gar_1 (GarNet)            108  (4, 4) (4,) (4, 4) (4,) (16, 4) (4,)  ['input_1[0][0]', 'input_2[0][0]']\n"
                  "    (unknown class: register it or use --custom-lib)\n"
                  "dense (Dense)              40  (4, 8) (8,)                           ['gar_1[0][0]']\n"
                  "dense_1 (Dense)             9  (8, 1) (1,)                           ['dense[0][0]']\n"
                  "Total params: 157 (628.00 Byte), counted from the stored weights\n"
                  "unknown classes: GarNet (register them, or load a library that does with --custom-lib)\n"
                  "not compiled: the file has no training_config\n");

    /* QKeras: every Q layer flagged, params from the file, compile state still shown */
    EXPECT(cmd_on("summary", "func_qkeras_dense_k2.2.4-tf_custom.h5", NULL), 0,
           "fc1 (QDense)             1088  (16, 64) (64,)  ['input_1[0][0]']\n"
           "    (unknown class: register it or use --custom-lib)\n"
           "relu1 (QActivation)         0                  ['fc1[0][0]']\n"
           "    (unknown class: register it or use --custom-lib)\n");
    ck_assert_msg(strstr(out_text, "softmax (Activation)        0                  ['output[0][0]']\nTotal params: 4389 (17.14 KB)"),
                  "%s", out_text);
    ck_assert_msg(strstr(out_text, "unknown classes: QDense, QActivation (register"), "%s", out_text);
    ck_assert_msg(strstr(out_text, "optimizer: Adam (learning_rate=0.0001, decay=0.0, beta_1=0.9"), "%s", out_text);
    ck_assert_msg(strstr(out_text, "loss: [categorical_crossentropy]\nmetrics: [accuracy]\n"), "%s", out_text);

    json_t *j = run_json(cmd_on("summary", "func_qkeras_dense_k2.2.4-tf_custom.h5", NULL), 0);
    ck_assert(json_is_false(jget(j, "loaded", NULL)));
    ck_assert_str_eq(JSTR(j, "load_error", "code"), "KC_ENOTFOUND");
    ck_assert_str_eq(JSTR(j, "keras_version"), "2.2.4-tf");
    ck_assert_str_eq(JSTR(j, "unknown_classes", "#0"), "QDense");
    ck_assert_str_eq(JSTR(j, "unknown_classes", "#1"), "QActivation");
    ck_assert_int_eq(json_array_size(jget(j, "unknown_classes", NULL)), 2);
    ck_assert_int_eq(json_array_size(jget(j, "model", "layers", NULL)), 9);
    ck_assert_str_eq(JSTR(j, "model", "layers", "#1", "class_name"), "QDense");
    ck_assert(json_is_false(jget(j, "model", "layers", "#1", "known", NULL)));
    ck_assert(json_is_true(jget(j, "model", "layers", "#8", "known", NULL)));
    ck_assert_int_eq(JINT(j, "model", "layers", "#1", "params"), 1088);
    ck_assert_str_eq(JSTR(j, "model", "layers", "#1", "connected_to", "#0"), "input_1[0][0]");
    ck_assert_int_eq(JINT(j, "model", "layers", "#1", "stored_weights", "#0", "shape", "#1"), 64);
    ck_assert_int_eq(JINT(j, "model", "total_params"), 4389);
    ck_assert(json_is_null(jget(j, "model", "trainable_params", NULL)));
    ck_assert_str_eq(JSTR(j, "compile", "optimizer", "class_name"), "Adam");
    json_decref(j);
}
END_TEST

/* The seed's model: a custom layer (MyDense) and a subclassed model
 * (ReconstructingRegressor). Without the plugin they are unknown; with it
 * the model loads and the table is Keras'. */
START_TEST(summary_of_custom_models_with_and_without_the_plugin)
{
    save_seed_model("seed.h5");
    kc_custom_objects *co = seed_custom_objects(2.0f, &err);
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "x", co);
    const char *plugin = getenv("CKERAS_TEST_PLUGIN");
    ck_assert_msg(plugin != NULL, "CKERAS_TEST_PLUGIN is not set");

    char args[16384];
    snprintf(args, sizeof args, "summary '%s'", su_path("seed.h5"));
    EXPECT(args, 0, "mine (MyDense)             15  (4, 3) (3,)     ['input_1[0][0]']\n"
                    "    (unknown class: register it or use --custom-lib)\n");
    ck_assert_msg(strstr(out_text, "loss: huber_fn\n"), "%s", out_text);
    snprintf(args, sizeof args, "summary '%s' --custom-lib '%s'", su_path("seed.h5"), plugin);
    EXPECT(args, 0, "Model: \"seedy\"\n"
                    "_________________________________________________________________\n"
                    " Layer (type)                Output Shape              Param #   \n"
                    "=================================================================\n"
                    " mine (MyDense)              (None, 3)                 15        \n");
    ck_assert_msg(strstr(out_text, "optimizer: SGD ("), "%s", out_text);

    /* the subclassed model's config lists no layers: its stored groups are shown */
    json_t *rc = json_pack("{s:s, s:{s:s, s:i, s:i}}", "class_name", "ReconstructingRegressor", "config", "name",
                           "regressor", "units", 7, "outputs", 3);
    kc_object *reg = NULL;
    CK_OK(kc_deserialize(KC_KIND_MODEL, rc, &ctx, &reg, &err));
    json_decref(rc);
    kc_shape shape = kc_shape_make(2, (int64_t[]){-1, 5});
    CK_OK(kc_model_build(reg, &shape, 1, &err));
    CK_OK(kc_model_save(reg, su_path("regressor.h5"), NULL, &err));
    snprintf(args, sizeof args, "summary '%s'", su_path("regressor.h5"));
    EXPECT(args, 0, "its config lists no layers (a subclassed model): the stored layer groups follow\n"
                    "Layer group  Param #  Stored weights\n");
    ck_assert_msg(strstr(out_text, "hidden            42  (5, 7) (7,)\n"), "%s", out_text);
    ck_assert_msg(strstr(out_text, "unknown classes: ReconstructingRegressor (register"), "%s", out_text);
    snprintf(args, sizeof args, "summary '%s' --custom-lib '%s'", su_path("regressor.h5"), plugin);
    EXPECT(args, 0, " reconstruct (Dense)         multiple                  40        \n");
    kc_object_unref(reg);
    kc_custom_objects_free(co);
}
END_TEST

START_TEST(summary_json_of_a_model_that_loads)
{
    json_t *j = run_json(cmd_on("summary", "func_conv2d_bn_avgpool_k2.10.0.h5", NULL), 0);
    ck_assert(json_is_true(jget(j, "loaded", NULL)));
    ck_assert_str_eq(JSTR(j, "contents"), "model");
    ck_assert_str_eq(JSTR(j, "backend"), "tensorflow");
    ck_assert_str_eq(JSTR(j, "model", "name"), "model");
    ck_assert_str_eq(JSTR(j, "model", "class_name"), "Functional");
    ck_assert_int_eq(json_array_size(jget(j, "model", "layers", NULL)), 11);
    ck_assert_int_eq(JINT(j, "model", "total_params"), 678);
    ck_assert_int_eq(JINT(j, "model", "trainable_params"), 670);
    ck_assert_int_eq(JINT(j, "model", "non_trainable_params"), 8);
    /* batch_normalization: 16 parameters, 8 of them trainable (gamma, beta) */
    ck_assert_str_eq(JSTR(j, "model", "layers", "#2", "name"), "batch_normalization");
    ck_assert_int_eq(JINT(j, "model", "layers", "#2", "params"), 16);
    ck_assert_int_eq(JINT(j, "model", "layers", "#2", "trainable_params"), 8);
    /* output shapes as [[null, ...]] (one per output), input layers too */
    ck_assert(json_is_null(jget(j, "model", "layers", "#0", "output_shape", "#0", "#0", NULL)));
    ck_assert_int_eq(JINT(j, "model", "layers", "#0", "output_shape", "#0", "#1"), 28);
    ck_assert_int_eq(JINT(j, "model", "layers", "#10", "output_shape", "#0", "#1"), 10);
    ck_assert_str_eq(JSTR(j, "model", "layers", "#10", "connected_to", "#0"), "dropout[0][0]");
    ck_assert_int_eq(json_array_size(jget(j, "unknown_classes", NULL)), 0);
    ck_assert_str_eq(JSTR(j, "compile", "loss"), "categorical_crossentropy");
    ck_assert_str_eq(JSTR(j, "compile", "optimizer", "class_name"), "Adam");
    json_decref(j);
}
END_TEST

START_TEST(summary_of_weights_only_files)
{
    expect_golden(cmd_on("summary", "weightsonly_dense_k2.0.0.h5", NULL), fixture_path("weightsonly_dense_k2.0.0.h5"),
                  "file: %s\n"
                  "keras_version: 2.0.0\n"
                  "backend: tensorflow\n"
                  "weights only (model.save_weights): no model_config, 5 layer groups\n"
                  "Layer group     Param #  Stored weights\n"
                  "---------------------------------------\n"
                  "input_1               0\n"
                  "fc1_relu           1088  (16, 64) (64,)\n"
                  "fc2_relu           2080  (64, 32) (32,)\n"
                  "fc3_relu           1056  (32, 32) (32,)\n"
                  "output_softmax      165  (32, 5) (5,)\n"
                  "Total params: 4389 (17.14 KB)\n");
    json_t *j = run_json(cmd_on("summary", "weightsonly_cnn_k1_noversion.h5", NULL), 0);
    ck_assert_str_eq(JSTR(j, "contents"), "weights");
    ck_assert(json_is_null(jget(j, "keras_version", NULL)) || !jget(j, "keras_version", NULL));
    ck_assert_int_eq(json_array_size(jget(j, "layers", NULL)), 10);
    ck_assert_int_eq(JINT(j, "total_params"), 64);
    ck_assert_str_eq(JSTR(j, "layers", "#0", "name"), "convolution2d_1");
    ck_assert_int_eq(JINT(j, "layers", "#0", "params"), 38);
    ck_assert_str_eq(JSTR(j, "layers", "#0", "weights", "#0", "name"), "convolution2d_1_W:0");
    json_decref(j);
}
END_TEST

/* ---- config ------------------------------------------------------------------------------------ */

/* Replace the root's model_config of path with text (as a vlen string). */
static void set_model_config(const char *path, const char *text)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    if (H5Aexists(f, "model_config") > 0) H5Adelete(f, "model_config");
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "model_config", t, s, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(H5Awrite(a, t, &text), 0);
    H5Aclose(a), H5Sclose(s), H5Tclose(t), H5Fclose(f);
}

/* A small compiled Sequential saved at path: Input(4) -> Dense(3, relu,
 * "hidden") -> Dense(units, "mid") -> Dense(2, "out"), seeded weights. */
static kc_object *small_net(int units, const char *activation)
{
    kc_object *m = kc_sequential_new("small", &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){4}, "x", &err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object_unref(in);
    char cfg[256];
    const char *specs[3][2] = {{"hidden", "relu"}, {"mid", activation}, {"out", "linear"}};
    int sizes[3] = {3, units, 2};
    for (int i = 0; i < 3; i++) {
        snprintf(cfg, sizeof cfg, "{\"units\": %d, \"name\": \"%s\", \"activation\": \"%s\"}", sizes[i], specs[i][0],
                 specs[i][1]);
        kc_object *d = kc_layer_create("Dense", cfg, &err);
        CK_NN(d, err);
        CK_OK(kc_sequential_add(m, d, &err));
        kc_object_unref(d);
    }
    su_randomize_weights(m, 5);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"adam\", \"loss\": \"mse\"}", NULL, &err));
    return m;
}

START_TEST(config_prints_the_json_and_resolves_pointers)
{
    const char *q = "func_qkeras_dense_k2.2.4-tf_custom.h5";
    /* the whole config, as JSON equal to the attribute */
    ck_assert_int_eq(run_cmd(cmd_on("config", q, NULL), true), 0);
    json_error_t je;
    json_t *printed = json_loads(out_text, 0, &je);
    ck_assert_msg(printed != NULL, "%s", out_text);
    kc_h5file *f = kc_h5file_open(fixture_path(q), &err);
    CK_NN(f, err);
    json_t *attr;
    CK_OK(kc_h5file_attr_json(f, "model_config", &attr, &err));
    kc_h5file_close(f);
    ck_assert(json_equal(printed, attr));
    /* indented, numbers as Python writes them */
    ck_assert_msg(strstr(out_text, "{\n  \"class_name\": \"Model\",\n  \"config\": {\n    \"name\": \"model\",\n"), "%s", out_text);
    ck_assert_msg(strstr(out_text, "\"l1\": 9.999999747378752e-05,\n"), "%s", out_text);
    ck_assert_msg(strstr(out_text, "\"scale\": 1.0,\n"), "%s", out_text);
    json_decref(printed), json_decref(attr);

    EXPECT(cmd_on("config", q, "--pointer /config/layers/1/config/units"), 0, "64\n");
    EXPECT(cmd_on("config", q, "--pointer /config/layers/1/config/kernel_quantizer"), 0,
           "{\n  \"class_name\": \"quantized_bits\",\n  \"config\": {\n    \"bits\": 6,\n");
    EXPECT(cmd_on("config", q, "--training --pointer /optimizer_config/class_name"), 0, "\"Adam\"\n");
    EXPECT(cmd_on("config", q, "--training"), 0, "\"loss\": [\n    \"categorical_crossentropy\"\n  ],\n");
    json_t *j = run_json(cmd_on("config", q, "--pointer /config/output_layers/0"), 0);
    ck_assert_str_eq(JSTR(j, "attribute"), "model_config");
    ck_assert_str_eq(JSTR(j, "pointer"), "/config/output_layers/0");
    ck_assert_str_eq(JSTR(j, "value", "#0"), "softmax");
    json_decref(j);

    /* pointers that do not resolve: exit 2 naming them; malformed ones: 64 */
    EXPECT(cmd_on("config", q, "--pointer /config/layers/9"), 2,
           "modelinspect: JSON pointer '/config/layers/9' does not resolve in model_config: index 9 is past the end of the 9 items at /config/layers");
    EXPECT(cmd_on("config", q, "--pointer /config/nope/x"), 2, "no key \"nope\" at /config");
    EXPECT(cmd_on("config", q, "--pointer /config/layers/01"), 2, "\"01\" is not an array index");
    EXPECT(cmd_on("config", q, "--pointer /class_name/x"), 2, "/class_name is not an object or an array");
    EXPECT(cmd_on("config", q, "--pointer config"), 64, "bad JSON pointer 'config'");
    EXPECT(cmd_on("config", q, "--pointer /a~2b"), 64, "'~' must be followed by 0 or 1");
    EXPECT(cmd_on("config", q, "--pointer"), 64, "--pointer needs a value");

    /* ~1 and ~0 stand for '/' and '~' (RFC 6901) */
    kc_object *m = small_net(8, "tanh");
    CK_OK(kc_model_save(m, su_path("escape.h5"), NULL, &err));
    set_model_config(su_path("escape.h5"),
                     "{\"class_name\": \"Sequential\", \"config\": {\"a/b\": {\"c~d\": [5, 6.5]}, \"\": 1, \"layers\": []}}");
    char args[16384];
    snprintf(args, sizeof args, "config '%s' --pointer '/config/a~1b/c~0d/1'", su_path("escape.h5"));
    EXPECT(args, 0, "6.5\n");
    snprintf(args, sizeof args, "config '%s' --pointer /config/", su_path("escape.h5"));
    EXPECT(args, 0, "1\n");

    /* a file without what was asked for */
    EXPECT(cmd_on("config", "weightsonly_dense_k2.0.0.h5", NULL), 2, "holds only weights (model.save_weights)");
    EXPECT(cmd_on("config", "func_conv2d_prelu_k2.2.0.h5", "--training"), 2, "has no training_config");
    kc_object_unref(m);
}
END_TEST

/* ---- weights ------------------------------------------------------------------------------------ */

START_TEST(weights_lists_stats_and_dumps)
{
    /* a model with known values: hidden's kernel holds 0..11 with a NaN and an infinity */
    kc_object *m = small_net(8, "tanh");
    kc_variable *k = kc_layer_weight(m, 0);
    float vals[12];
    for (int i = 0; i < 12; i++) vals[i] = (float)i;
    vals[5] = NAN;
    vals[7] = -INFINITY;
    kc_tensor *t = tu_tensor(2, (int64_t[]){4, 3}, vals);
    CK_OK(kc_variable_assign(k, t, &err));
    kc_tensor_unref(t);
    CK_OK(kc_model_save(m, su_path("w.h5"), NULL, &err));
    char args[16384];
    snprintf(args, sizeof args, "weights '%s'", su_path("w.h5"));
    /* 4 x 3 + 3, 3 x 8 + 8, 8 x 2 + 2 */
    EXPECT(args, 0, "w.h5: model weights in /model_weights: 3 layer groups (3 with weights), 6 weights, 65 parameters, 260.00 Byte stored\n"
                    "layer   weight           shape   dtype    bytes\n"
                    "-----------------------------------------------\n"
                    "hidden  hidden/kernel:0  (4, 3)  float32     48\n"
                    "hidden  hidden/bias:0    (3,)    float32     12\n"
                    "mid     mid/kernel:0     (3, 8)  float32     96\n");

    /* finite values 0 1 2 3 4 6 8 9 10 11: mean 5.4, population std sqrt(140.4 / 10) */
    json_t *j = NULL;
    snprintf(args, sizeof args, "weights '%s' --stats", su_path("w.h5"));
    j = run_json(args, 0);
    json_t *stats = jget(j, "layers", "#0", "weights", "#0", "stats", NULL);
    ck_assert_double_eq(json_real_value(json_object_get(stats, "min")), 0);
    ck_assert_double_eq(json_real_value(json_object_get(stats, "max")), 11);
    ck_assert_double_eq_tol(json_real_value(json_object_get(stats, "mean")), 5.4, 1e-12);
    ck_assert_double_eq_tol(json_real_value(json_object_get(stats, "std")), sqrt(14.04), 1e-12);
    ck_assert_int_eq(JINT(stats, "nan"), 1);
    ck_assert_int_eq(JINT(stats, "inf"), 1);
    ck_assert_int_eq(JINT(j, "total_params"), 65);
    ck_assert_int_eq(JINT(j, "total_bytes"), 260);
    ck_assert_str_eq(JSTR(j, "group"), "/model_weights");
    ck_assert_str_eq(JSTR(j, "layers", "#2", "weights", "#1", "path"), "/model_weights/out/out/bias:0");
    json_decref(j);
    EXPECT(args, 0, "layer   weight           shape   dtype    bytes        min        max        mean        std  nan  inf\n");
    ck_assert_msg(strstr(out_text, "hidden  hidden/kernel:0  (4, 3)  float32     48          0         11         5.4      3.747    1    1\n"),
                  "%s", out_text);

    /* --dump: by LAYER/WEIGHT, by weight name alone, by HDF5 path */
    snprintf(args, sizeof args, "weights '%s' --dump hidden/hidden/kernel:0", su_path("w.h5"));
    EXPECT(args, 0, "hidden/hidden/kernel:0  shape (4, 3)  float32\n[0] 0 1 2\n[1] 3 4 nan\n[2] 6 -inf 8\n[3] 9 10 11\n");
    snprintf(args, sizeof args, "weights '%s' --dump hidden/kernel:0", su_path("w.h5"));
    EXPECT(args, 0, "[3] 9 10 11\n");
    snprintf(args, sizeof args, "weights '%s' --dump /model_weights/hidden/hidden/kernel:0 --json", su_path("w.h5"));
    j = run_json(args, 0);
    ck_assert_str_eq(JSTR(j, "layer"), "hidden");
    ck_assert_int_eq(JINT(j, "shape", "#0"), 4);
    ck_assert_str_eq(JSTR(j, "data", "#5"), "NaN");
    ck_assert_str_eq(JSTR(j, "data", "#7"), "-Infinity");
    ck_assert_double_eq(json_number_value(jget(j, "data", "#11", NULL)), 11);
    json_decref(j);
    /* NaN equals NaN and -inf equals -inf for diff */
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("w.h5"), su_path("w.h5"));
    EXPECT(args, 0, "are equal");
    /* ... and differs from any number, whatever the tolerance */
    kc_tensor_f32(kc_variable_value(k))[5] = 5.0f;
    CK_OK(kc_model_save(m, su_path("w5.h5"), NULL, &err));
    snprintf(args, sizeof args, "diff '%s' '%s' --atol 1e30 --rtol 1", su_path("w.h5"), su_path("w5.h5"));
    EXPECT(args, 1, "weight: hidden/hidden/kernel:0: max abs diff inf, max rel diff inf (1 of 12 values differ)\n");
    snprintf(args, sizeof args, "weights '%s' --dump hidden/nope:0", su_path("w.h5"));
    EXPECT(args, 2, "modelinspect: no weight 'hidden/nope:0'");

    /* a scalar and an ambiguous name: two layers storing the same name */
    kc_object *opt_m = small_net(8, "tanh");
    CK_OK(kc_model_save(opt_m, su_path("dup.h5"), NULL, &err));
    set_model_config(su_path("dup.h5"), "{\"class_name\": \"Sequential\", \"config\": {\"layers\": []}}");
    hid_t f = H5Fopen(su_path("dup.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t t2 = H5Tcopy(H5T_C_S1);
    H5Tset_size(t2, H5T_VARIABLE);
    hid_t s1 = H5Screate_simple(1, (hsize_t[]){1}, NULL);
    H5Adelete_by_name(f, "/model_weights/out", "weight_names", H5P_DEFAULT);
    hid_t a = H5Acreate_by_name(f, "/model_weights/out", "weight_names", t2, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *same[] = {"bias:0"};
    H5Awrite(a, t2, same);
    H5Aclose(a);
    H5Adelete_by_name(f, "/model_weights/mid", "weight_names", H5P_DEFAULT);
    a = H5Acreate_by_name(f, "/model_weights/mid", "weight_names", t2, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t2, same);
    H5Aclose(a);
    hid_t sc = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f, "/model_weights/out/bias:0", H5T_IEEE_F64LE, sc, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, (const double[]){2.5});
    H5Dclose(d);
    d = H5Dcreate2(f, "/model_weights/mid/bias:0", H5T_STD_I32LE, sc, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, (const int[]){-7});
    H5Dclose(d);
    H5Sclose(sc), H5Sclose(s1), H5Tclose(t2), H5Fclose(f);
    snprintf(args, sizeof args, "weights '%s' --dump bias:0", su_path("dup.h5"));
    EXPECT(args, 2, "2 layers store a weight named 'bias:0': say which, as LAYER/bias:0");
    snprintf(args, sizeof args, "weights '%s' --dump out/bias:0", su_path("dup.h5"));
    EXPECT(args, 0, "out/bias:0  shape ()  float64\n2.5\n");
    snprintf(args, sizeof args, "weights '%s' --dump mid/bias:0", su_path("dup.h5"));
    EXPECT(args, 0, "mid/bias:0  shape ()  int32\n-7\n");
    snprintf(args, sizeof args, "weights '%s'", su_path("dup.h5"));
    EXPECT(args, 0, "mid     bias:0           ()      int32        4\n");

    /* real files: unknown classes and weights only */
    j = run_json(cmd_on("weights", "func_garnet_multiin_k2.2.4-tf_custom.h5", "--stats"), 0);
    ck_assert_str_eq(JSTR(j, "contents"), "model");
    ck_assert_str_eq(JSTR(j, "layers", "#2", "name"), "gar_1");
    ck_assert_str_eq(JSTR(j, "layers", "#2", "weights", "#4", "name"), "gar_1/Fout_kernel:0");
    ck_assert_int_eq(JINT(j, "layers", "#2", "weights", "#4", "bytes"), 256);
    ck_assert_int_eq(JINT(j, "total_params"), 157);
    /* dense_1's bias holds one value: min = max = mean, std 0 */
    json_t *b = jget(j, "layers", "#4", "weights", "#1", "stats", NULL);
    ck_assert_double_eq(json_real_value(json_object_get(b, "min")), json_real_value(json_object_get(b, "max")));
    ck_assert_double_eq(json_real_value(json_object_get(b, "std")), 0);
    json_decref(j);
    EXPECT(cmd_on("weights", "weightsonly_dense_k2.0.0.h5", NULL), 0,
           "weights only (model.save_weights), in /: 5 layer groups (4 with weights), 8 weights, 4389 parameters, 17.14 KB stored\n");
    ck_assert_msg(strstr(out_text, "fc1_relu        fc1_relu/kernel:0        (16, 64)  float32   4096\n"), "%s", out_text);
    kc_object_unref(opt_m);
    kc_object_unref(m);
}
END_TEST

/* ---- diff --------------------------------------------------------------------------------------- */

START_TEST(diff_names_what_changed)
{
    kc_object *a = small_net(8, "tanh");
    CK_OK(kc_model_save(a, su_path("a.h5"), NULL, &err));
    char args[16384];
    /* a file against itself, and against the same model saved again */
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("a.h5"), su_path("a.h5"));
    EXPECT(args, 0, "are equal (rtol 0, atol 0)\n");
    CK_OK(kc_model_save(a, su_path("a2.h5"), NULL, &err));
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("a.h5"), su_path("a2.h5"));
    EXPECT(args, 0, "are equal");

    /* one config value (mid's activation) and one weight value (mid's kernel[1][2] + 0.5) */
    kc_object *b = small_net(8, "sigmoid");
    kc_tensor *mk = kc_variable_value(kc_layer_weight(b, 2));
    kc_tensor_f32(mk)[1 * 8 + 2] += 0.5f;
    CK_OK(kc_model_save(b, su_path("b.h5"), NULL, &err));
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("a.h5"), su_path("b.h5"));
    /* x + 0.5f - x in float32: 0.49999994 */
    EXPECT(args, 1, "config: model_config.config.layers[2].config.activation: \"tanh\" -> \"sigmoid\"\n"
                    "weight: mid/mid/kernel:0: max abs diff 0.49999994, max rel diff ");
    ck_assert_msg(strstr(out_text, "(1 of 24 values differ)\n"), "%s", out_text);
    ck_assert_msg(strstr(out_text, "differ: 1 config value, 1 weight\n"), "%s", out_text);
    ck_assert_msg(!strstr(out_text, "hidden/kernel"), "%s", out_text);
    /* a tolerance larger than the change: only the config differs */
    snprintf(args, sizeof args, "diff '%s' '%s' --atol 0.6", su_path("a.h5"), su_path("b.h5"));
    EXPECT(args, 1, "differ: 1 config value, 0 weights\n");
    snprintf(args, sizeof args, "diff '%s' '%s' --json --rtol 1e-3", su_path("a.h5"), su_path("b.h5"));
    json_t *j = run_json(args, 1);
    ck_assert(json_is_false(jget(j, "equal", NULL)));
    ck_assert_int_eq(JINT(j, "config_differences"), 1);
    ck_assert_int_eq(JINT(j, "weight_differences"), 1);
    ck_assert_str_eq(JSTR(j, "config", "#0", "path"), "model_config.config.layers[2].config.activation");
    ck_assert_str_eq(JSTR(j, "config", "#0", "a"), "tanh");
    ck_assert_str_eq(JSTR(j, "config", "#0", "b"), "sigmoid");
    ck_assert_str_eq(JSTR(j, "weights", "#2", "name"), "mid/mid/kernel:0");
    ck_assert_str_eq(JSTR(j, "weights", "#2", "status"), "different");
    ck_assert_double_eq_tol(json_real_value(jget(j, "weights", "#2", "max_abs", NULL)), 0.5, 1e-6);
    ck_assert_int_eq(JINT(j, "weights", "#2", "n_different"), 1);
    ck_assert_str_eq(JSTR(j, "weights", "#0", "status"), "equal");
    json_decref(j);

    /* a wider layer: the config path, and the shapes that follow from it */
    kc_object *c = small_net(16, "tanh");
    CK_OK(kc_model_save(c, su_path("c.h5"), NULL, &err));
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("a.h5"), su_path("c.h5"));
    EXPECT(args, 1, "config: model_config.config.layers[2].config.units: 8 -> 16\n");
    ck_assert_msg(strstr(out_text, "weight: mid/mid/kernel:0: shape (3, 8) -> (3, 16)\n"
                                   "weight: mid/mid/bias:0: shape (8,) -> (16,)\n"
                                   "weight: out/out/kernel:0: shape (8, 2) -> (16, 2)\n"),
                  "%s", out_text);

    /* weights only one file has; a weights-only file against a model */
    CK_OK(kc_model_save_weights(a, su_path("a_weights.h5"), NULL, &err));
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("a.h5"), su_path("a_weights.h5"));
    EXPECT(args, 1, "note: contents: \"model\" -> \"weights\"\n");
    ck_assert_msg(strstr(out_text, "config: model_config: {\"class_name\": \"Sequential\""), "%s", out_text);
    ck_assert_msg(strstr(out_text, " -> (absent)\n"), "%s", out_text);
    ck_assert_msg(!strstr(out_text, "weight: hidden"), "%s", out_text); /* same weights */
    hid_t f = H5Fopen(su_path("a_weights.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(H5Ldelete(f, "/out/out/bias:0", H5P_DEFAULT), 0);
    H5Adelete_by_name(f, "/out", "weight_names", H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t s = H5Screate_simple(1, (hsize_t[]){2}, NULL);
    hid_t at = H5Acreate_by_name(f, "/out", "weight_names", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *names[] = {"out/kernel:0", "out/extra:0"};
    H5Awrite(at, t, names);
    H5Aclose(at), H5Sclose(s), H5Tclose(t);
    s = H5Screate_simple(1, (hsize_t[]){2}, NULL);
    hid_t d = H5Dcreate2(f, "/out/out/extra:0", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, (const float[]){1, 2});
    H5Dclose(d), H5Sclose(s), H5Fclose(f);
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("a.h5"), su_path("a_weights.h5"));
    EXPECT(args, 1, "weight: out/out/bias:0: only in A\nweight: out/out/extra:0: only in B\n");

    /* a real Keras file against its resave: the config is rewritten, the weights are the same */
    snprintf(args, sizeof args, "resave %s '%s'", fixture("func_conv2d_bn_avgpool_k2.10.0.h5"), su_path("re.h5"));
    EXPECT(args, 0, "");
    snprintf(args, sizeof args, "diff %s '%s'", fixture("func_conv2d_bn_avgpool_k2.10.0.h5"), su_path("re.h5"));
    j = run_json(args, 1);
    ck_assert_int_eq(JINT(j, "weight_differences"), 0);
    ck_assert_int_gt(JINT(j, "config_differences"), 0);
    ck_assert_str_eq(JSTR(j, "notes", "#0", "attribute"), "keras_version");
    ck_assert_str_eq(JSTR(j, "notes", "#0", "a"), "2.10.0");
    ck_assert_str_eq(JSTR(j, "notes", "#0", "b"), "2.15.0");
    json_decref(j);

    EXPECT("diff onlyone.h5", 64, "need two files A and B");
    EXPECT("diff a.h5 b.h5 --atol x", 64, "--atol needs a number, not 'x'");
    EXPECT("diff a.h5 b.h5 --rtol -1", 64, "tolerances must not be negative");
    kc_object_unref(a), kc_object_unref(b), kc_object_unref(c);
}
END_TEST

/* ---- graph -------------------------------------------------------------------------------------- */

START_TEST(graph_draws_the_architecture)
{
    /* from model_config alone (GarNet is unknown), with plot_model's defaults:
     * a node per layer showing its class, Keras' graph attributes */
#define GRAPH_HEAD                                                                                 \
    "digraph \"model\" {\n"                                                                        \
    "  rankdir=TB;\n"                                                                              \
    "  concentrate=true;\n"                                                                        \
    "  dpi=200;\n"                                                                                 \
    "  splines=ortho;\n"                                                                           \
    "  node [shape=record, fontname=\"Helvetica\", margin=0];\n"                                   \
    "  edge [penwidth=2];\n"
#define TABLE "<<table border=\"0\" cellborder=\"1\" bgcolor=\"black\" cellpadding=\"10\">"
#define TITLE(span) "<tr><td colspan=\"" #span "\" bgcolor=\"black\"><font point-size=\"16\" color=\"white\">"
#define CELL(what) "<td bgcolor=\"white\"><font point-size=\"14\">" what "</font></td>"
    expect_golden(cmd_on("graph", "func_garnet_multiin_k2.2.4-tf_custom.h5", NULL), NULL,
                  GRAPH_HEAD
                  "  \"input_1\" [label=" TABLE TITLE(1) "<b>InputLayer</b></font></td></tr></table>>];\n"
                  "  \"input_2\" [label=" TABLE TITLE(1) "<b>InputLayer</b></font></td></tr></table>>];\n"
                  "  \"gar_1\" [label=" TABLE TITLE(1) "<b>GarNet</b></font></td></tr></table>>];\n"
                  "  \"dense\" [label=" TABLE TITLE(1) "<b>Dense</b></font></td></tr></table>>];\n"
                  "  \"dense_1\" [label=" TABLE TITLE(1) "<b>Dense</b></font></td></tr></table>>];\n"
                  "  \"input_1\" -> \"gar_1\";\n"
                  "  \"input_2\" -> \"gar_1\";\n"
                  "  \"gar_1\" -> \"dense\";\n"
                  "  \"dense\" -> \"dense_1\";\n"
                  "}\n");
    /* the switches: names, shapes (only the inputs' are known here), dtypes, direction */
    EXPECT(cmd_on("graph", "func_garnet_multiin_k2.2.4-tf_custom.h5",
                  "--show-layer-names --show-shapes --show-dtype --rankdir LR"), 0,
           "  \"gar_1\" [label=" TABLE TITLE(3) "<b>gar_1</b> (GarNet)</font></td></tr><tr>"
           CELL("Input shape: <b>[(None, 128, 4), (None, 1)]</b>") CELL("Output shape: <b>?</b>")
           CELL("Output dtype: <b>float32</b>") "</tr></table>>];\n");
    ck_assert_msg(strstr(out_text, "  rankdir=LR;\n"), "%s", out_text);
    /* an InputLayer has no input cell; its dtype is the input's */
    ck_assert_msg(strstr(out_text, "  \"input_2\" [label=" TABLE TITLE(2) "<b>input_2</b> (InputLayer)</font></td></tr><tr>"
                                   CELL("Output shape: <b>(None, 1)</b>") CELL("Output dtype: <b>int32</b>")),
                  "%s", out_text);
    /* a model that loads: shapes on every node; Add joins two branches */
    EXPECT(cmd_on("graph", "func_resnet8_add_k2.4.0.h5", "--show-shapes --show-layer-names"), 0,
           "  \"add\" [label=" TABLE TITLE(2) "<b>add</b> (Add)</font></td></tr><tr>"
           CELL("Input shape: <b>[(None, 32, 32, 16), (None, 32, 32, 16)]</b>")
           CELL("Output shape: <b>(None, 32, 32, 16)</b>") "</tr></table>>];\n");
    ck_assert_msg(strstr(out_text, "  \"batch_normalization_2\" -> \"add\";\n"), "%s", out_text);
    /* an activation row for layers that have one */
    EXPECT(cmd_on("graph", "func_resnet8_add_k2.4.0.h5", "--show-layer-activations"), 0,
           "  \"activation\" [label=" TABLE TITLE(1) "<b>Activation</b></font></td></tr>"
           "<tr><td bgcolor=\"white\" colspan=\"1\"><font point-size=\"14\">Activation: <b>relu</b></font></td></tr></table>>];\n");
    json_t *j = run_json(cmd_on("graph", "func_resnet8_add_k2.4.0.h5", NULL), 0);
    json_t *nodes = jget(j, "nodes", NULL), *edges = jget(j, "edges", NULL);
    int adds = 0, into_add = 0;
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        const char *cls = json_string_value(json_object_get(json_array_get(nodes, i), "class_name"));
        adds += cls && strcmp(cls, "Add") == 0;
    }
    for (size_t i = 0; i < json_array_size(edges); i++)
        into_add += strcmp(json_string_value(json_object_get(json_array_get(edges, i), "to")), "add") == 0;
    ck_assert_int_eq(adds, 3);   /* three residual blocks */
    ck_assert_int_eq(into_add, 2);
    ck_assert_str_eq(JSTR(nodes, "#0", "output_shape"), "(None, 32, 32, 3)");
    json_decref(j);

    /* a nested model: one node; with --expand-nested a dashed cluster whose
     * input and output the edges enter and leave */
    kc_object *inner = small_net(8, "tanh");
    kc_symbol *x = kc_input(1, (int64_t[]){4}, "outer_in", &err);
    kc_symbol *y = kc_apply(inner, &x, 1, &err);
    CK_NN(y, err);
    kc_object *head = kc_layer_create("Dense", "{\"units\": 1, \"name\": \"head\"}", &err);
    kc_symbol *z = kc_apply(head, &y, 1, &err);
    CK_NN(z, err);
    kc_object *outer = kc_functional_new(&x, 1, &z, 1, "outer", &err);
    CK_NN(outer, err);
    CK_OK(kc_model_save(outer, su_path("nested.h5"), NULL, &err));
    char args[16384];
    snprintf(args, sizeof args, "graph '%s' --show-layer-names --show-shapes", su_path("nested.h5"));
    EXPECT(args, 0, "  \"small\" [label=" TABLE TITLE(2) "<b>small</b> (Sequential)</font></td></tr><tr>"
                    CELL("Input shape: <b>(None, 4)</b>") CELL("Output shape: <b>(None, 2)</b>") "</tr></table>>];\n");
    ck_assert_msg(strstr(out_text, "  \"outer_in\" -> \"small\";\n  \"small\" -> \"head\";\n"), "%s", out_text);
    snprintf(args, sizeof args, "graph '%s' --show-layer-names --show-shapes --expand-nested", su_path("nested.h5"));
    EXPECT(args, 0, "  subgraph \"cluster_small\" {\n    style=dashed;\n    label=\"small\";\n    labeljust=l;\n");
    ck_assert_msg(strstr(out_text, "    \"small/mid\" [label=" TABLE TITLE(2) "<b>mid</b> (Dense)</font></td></tr><tr>"
                                   CELL("Input shape: <b>(None, 3)</b>") CELL("Output shape: <b>(None, 8)</b>")),
                  "%s", out_text);
    ck_assert_msg(strstr(out_text, "    \"small/hidden\" -> \"small/mid\";\n"), "%s", out_text);
    ck_assert_msg(strstr(out_text, "  \"outer_in\" -> \"small/x\";\n"), "%s", out_text);
    ck_assert_msg(strstr(out_text, "  \"small/out\" -> \"head\";\n"), "%s", out_text);
    /* Keras numbers the nested model's calls from 1 (call 0 built it): head's input is small[1][0] */
    ck_assert_msg(strstr(out_text, "  \"head\" [label=" TABLE TITLE(2) "<b>head</b> (Dense)</font></td></tr><tr>"
                                   CELL("Input shape: <b>(None, 2)</b>") CELL("Output shape: <b>(None, 1)</b>")),
                  "%s", out_text);
    kc_symbol_unref(x), kc_symbol_unref(y), kc_symbol_unref(z);
    kc_object_unref(head), kc_object_unref(outer), kc_object_unref(inner);

    /* the nested model's "mid" of an unknown class: the outer table flags the nested model */
    kc_h5file *f = kc_h5file_open(su_path("nested.h5"), &err);
    CK_NN(f, err);
    json_t *mc;
    CK_OK(kc_h5file_attr_json(f, "model_config", &mc, &err));
    kc_h5file_close(f);
    json_t *mid = jget(mc, "config", "layers", "#1", "config", "layers", "#2", NULL);
    ck_assert_str_eq(JSTR(mid, "config", "name"), "mid");
    json_object_set_new(mid, "class_name", json_string("Mystery"));
    char *text = json_dumps(mc, 0);
    set_model_config(su_path("nested.h5"), text);
    free(text);
    json_decref(mc);
    snprintf(args, sizeof args, "summary '%s'", su_path("nested.h5"));
    EXPECT(args, 0, "small (Sequential)          65  (4, 3) (3,) (3, 8) (8,) (8, 2) (2,)  ['outer_in[0][0]']\n"
                    "    (a nested model with unknown classes: Mystery)\n"
                    "head (Dense)                 3  (2, 1) (1,)                          ['small[1][0]']\n");
    ck_assert_msg(strstr(out_text, "unknown classes: Mystery (register"), "%s", out_text);
    snprintf(args, sizeof args, "graph '%s' --expand-nested --show-layer-names", su_path("nested.h5"));
    EXPECT(args, 0, "    \"small/mid\" [label=" TABLE TITLE(1) "<b>mid</b> (Mystery)</font></td></tr></table>>];\n");

    /* HTML markup in a name is escaped, in the label and in the id */
    set_model_config(su_path("nested.h5"),
                     "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"m\", \"layers\": ["
                     "{\"class_name\": \"Dense\", \"config\": {\"name\": \"a<b>&\\\"c\", \"units\": 1}}]}}");
    snprintf(args, sizeof args, "graph '%s' --show-layer-names", su_path("nested.h5"));
    EXPECT(args, 0, "  \"a<b>&\\\"c\" [label=" TABLE TITLE(1) "<b>a&lt;b&gt;&amp;&quot;c</b> (Dense)</font></td></tr></table>>];\n");

    /* a subclassed model (no layer list) is one node, as in Keras */
    set_model_config(su_path("nested.h5"), "{\"class_name\": \"MyModel\", \"config\": {\"name\": \"custom\", \"units\": 3}}");
    snprintf(args, sizeof args, "graph '%s' --show-layer-names", su_path("nested.h5"));
    EXPECT(args, 0, "  \"custom\" [label=" TABLE TITLE(1) "<b>custom</b> (MyModel)</font></td></tr></table>>];\n}\n");

    EXPECT(cmd_on("graph", "weightsonly_dense_k2.0.0.h5", NULL), 2, "holds only weights (model.save_weights)");
#undef GRAPH_HEAD
#undef TABLE
#undef TITLE
#undef CELL
}
END_TEST

/* Keras 3 writes inbound nodes as {"args": [...], "kwargs": {...}} with
 * __keras_tensor__ objects; the graph and the fallback table read them. */
START_TEST(keras3_inbound_nodes_are_read)
{
    kc_object *m = small_net(8, "tanh");
    CK_OK(kc_model_save(m, su_path("k3.h5"), NULL, &err));
    set_model_config(
        su_path("k3.h5"),
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"k3\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"name\": \"a\", \"config\": {\"batch_shape\": [null, 4], \"name\": \"a\"}, \"inbound_nodes\": []},"
        "{\"class_name\": \"InputLayer\", \"name\": \"b\", \"config\": {\"batch_shape\": [null, 4], \"name\": \"b\"}, \"inbound_nodes\": []},"
        "{\"class_name\": \"Fancy\", \"name\": \"hidden\", \"config\": {\"name\": \"hidden\"}, \"inbound_nodes\": [{\"args\": [["
        "{\"class_name\": \"__keras_tensor__\", \"config\": {\"shape\": [null, 4], \"keras_history\": [\"a\", 0, 0]}},"
        "{\"class_name\": \"__keras_tensor__\", \"config\": {\"shape\": [null, 4], \"keras_history\": [\"b\", 0, 0]}}]],"
        " \"kwargs\": {\"mask\": null}}]},"
        "{\"class_name\": \"Dense\", \"name\": \"mid\", \"config\": {\"name\": \"mid\", \"units\": 8}, \"inbound_nodes\": [{\"args\": ["
        "{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"hidden\", 0, 0]}}], \"kwargs\": {}}]},"
        "{\"class_name\": \"Dense\", \"name\": \"out\", \"config\": {\"name\": \"out\", \"units\": 2}, \"inbound_nodes\": [{\"args\": ["
        "{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"mid\", 0, 0]}}], \"kwargs\": {}}]}],"
        " \"input_layers\": [[\"a\", 0, 0], [\"b\", 0, 0]], \"output_layers\": [\"out\", 0, 0]}}");
    char args[16384];
    snprintf(args, sizeof args, "summary '%s'", su_path("k3.h5"));
    EXPECT(args, 0, "hidden (Fancy)       15  (4, 3) (3,)     ['a[0][0]', 'b[0][0]']\n"
                    "    (unknown class: register it or use --custom-lib)\n"
                    "mid (Dense)          32  (3, 8) (8,)     ['hidden[0][0]']\n");
    snprintf(args, sizeof args, "graph '%s'", su_path("k3.h5"));
    EXPECT(args, 0, "  \"a\" -> \"hidden\";\n  \"b\" -> \"hidden\";\n  \"hidden\" -> \"mid\";\n  \"mid\" -> \"out\";\n");
    kc_object_unref(m);
}
END_TEST

/* ---- optimizer ---------------------------------------------------------------------------------- */

START_TEST(optimizer_shows_config_and_state)
{
    EXPECT(cmd_on("optimizer", "func_qkeras_dense_k2.2.4-tf_custom.h5", NULL), 0,
           "optimizer: Adam (learning_rate=0.0001, decay=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=false)\n"
           "state: 17 weights in /optimizer_weights, 8779 values\n"
           "iterations: ");
    ck_assert_msg(strstr(out_text, "Adam/iter:0               ()        int64\n"
                                   "Adam/fc1_1/kernel/m:0     (16, 64)  float32\n"),
                  "%s", out_text);
    json_t *j = run_json(cmd_on("optimizer", "func_qkeras_dense_k2.2.4-tf_custom.h5", NULL), 0);
    ck_assert(json_is_true(jget(j, "compiled", NULL)));
    ck_assert_str_eq(JSTR(j, "optimizer", "class_name"), "Adam");
    ck_assert_int_gt(JINT(j, "state", "iterations"), 0);
    ck_assert_int_eq(json_array_size(jget(j, "state", "weights", NULL)), 17);
    ck_assert_str_eq(JSTR(j, "state", "weights", "#16", "name"), "Adam/output_1/bias/v:0");
    ck_assert_int_eq(JINT(j, "state", "weights", "#16", "shape", "#0"), 5);
    ck_assert_int_eq(JINT(j, "state", "total_values"), 8779);
    json_decref(j);

    /* ckeras' own file after three Adam steps */
    kc_object *m = small_net(8, "tanh");
    kc_object *opt = kc_model_optimizer(m);
    int n = kc_layer_num_trainable_weights(m);
    for (int step = 0; step < 3; step++) {
        kc_variable *vars[16];
        kc_tensor *grads[16];
        for (int i = 0; i < n; i++) {
            vars[i] = kc_layer_trainable_weight(m, i);
            kc_tensor *v = kc_variable_value(vars[i]);
            grads[i] = tu_random(kc_tensor_ndim(v), kc_tensor_dims(v), -1, 1, 40u + (uint64_t)i);
        }
        CK_OK(kc_optimizer_apply_gradients(opt, grads, vars, n, &err));
        for (int i = 0; i < n; i++) kc_tensor_unref(grads[i]);
    }
    CK_OK(kc_model_save(m, su_path("trained.h5"), NULL, &err));
    char args[16384];
    snprintf(args, sizeof args, "optimizer '%s'", su_path("trained.h5"));
    EXPECT(args, 0, "optimizer: Adam (");
    ck_assert_msg(strstr(out_text, "\niterations: 3\n"), "%s", out_text);
    char name[256];
    kc_tensor *w1 = kc_optimizer_weight(opt, 1, name, sizeof name);
    char row[512];
    snprintf(row, sizeof row, "\n%s", name);
    ck_assert_msg(strstr(out_text, row) && kc_tensor_size(w1) == 12, "%s", out_text);

    /* Adam's m and v for each of the 670 trainable values, and the counter */
    EXPECT(cmd_on("optimizer", "func_conv2d_bn_avgpool_k2.10.0.h5", NULL), 0,
           "state: 15 weights in /optimizer_weights, 1341 values\niterations: 7035\n");
    /* Keras 1 saved no counter */
    EXPECT(cmd_on("optimizer", "seq_lstm_dense_k1.2.2_optw.h5", NULL), 0,
           "optimizer: RMSprop (epsilon=1e-08, lr=0.001, rho=0.9, decay=0.0)\n"
           "state: 14 weights in /optimizer_weights, 10451 values\niterations: not saved\n");
    /* no state, no compile */
    EXPECT(cmd_on("optimizer", "seq_dense_nadam_k2.0.9.h5", NULL), 0,
           "optimizer: Nadam (beta_1=0.9, epsilon=1e-08, schedule_decay=0.004, beta_2=0.999, lr=0.002)\n"
           "no optimizer state (the file has no /optimizer_weights)\n");
    EXPECT(cmd_on("optimizer", "func_conv2d_prelu_k2.2.0.h5", NULL), 0,
           "not compiled: the file has no training_config\nno optimizer state");
    j = run_json(cmd_on("optimizer", "weightsonly_dense_k2.0.0.h5", NULL), 0);
    ck_assert(json_is_false(jget(j, "compiled", NULL)));
    ck_assert(json_is_null(jget(j, "state", NULL)));
    json_decref(j);
    kc_object_unref(m);
}
END_TEST

/* ---- broken files and the command line ---------------------------------------------------------- */

START_TEST(broken_files_exit_2_with_a_message)
{
    FILE *f = fopen(su_path("text.h5"), "w");
    fputs("this is not HDF5", f);
    fclose(f);
    /* a real file cut in half */
    FILE *in = fopen(tu_data("keras/func_resnet8_add_k2.4.0.h5"), "rb");
    static char buf[1 << 19];
    size_t len = fread(buf, 1, sizeof buf, in);
    fclose(in);
    f = fopen(su_path("cut.h5"), "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    /* HDF5 without Keras attributes */
    hid_t h = H5Fcreate(su_path("plain.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(h, "/stuff", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g), H5Fclose(h);
    struct {
        const char *file, *needle;
    } broken[] = {
        {"text.h5", "is not an HDF5 file"},
        {"cut.h5", "damaged or truncated"},
        {"plain.h5", "HDF5 but not a Keras file"},
        {"missing.h5", "cannot open"},
    };
    const char *cmds[] = {"summary", "config", "weights", "weights --stats", "graph", "optimizer", "verify"};
    for (size_t c = 0; c < sizeof cmds / sizeof *cmds; c++)
        for (size_t b = 0; b < sizeof broken / sizeof *broken; b++) {
            char args[16384];
            snprintf(args, sizeof args, "%s '%s'", cmds[c], su_path(broken[b].file));
            /* verify goes through kc_model_load: same file errors, its own wording for plain.h5 */
            EXPECT(args, 2, strcmp(cmds[c], "verify") == 0 && b == 2 ? "not a Keras model file" : broken[b].needle);
            ck_assert_msg(strncmp(out_text, "modelinspect: ", 14) == 0, "%s", out_text);
            snprintf(args, sizeof args, "diff %s '%s'", fixture("seq_dense_k1.2.2.h5"), su_path(broken[b].file));
            EXPECT(args, 2, broken[b].needle);
        }
}
END_TEST

START_TEST(every_command_has_help_and_usage_errors)
{
    const char *cmds[] = {"summary", "config", "weights", "diff", "verify", "graph", "optimizer", "predict", "resave"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char args[256], want[256];
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        snprintf(want, sizeof want, "usage: modelinspect %s ", cmds[i]);
        EXPECT(args, 0, want);
        snprintf(args, sizeof args, "%s --frobnicate x.h5 y.h5 z.h5", cmds[i]);
        EXPECT(args, 64, "unknown option '--frobnicate'");
        EXPECT(cmds[i], 64, want);
    }
    EXPECT("--help", 0, "  summary FILE");
    EXPECT("--help", 0, "  optimizer FILE [--json]");
    EXPECT("summary a.h5 b.h5", 64, "too many files");
    EXPECT("weights a.h5 --dump", 64, "--dump needs a value");
}
END_TEST

/* ---- Keras 3 files ---------------------------------------------------------------------------------- */

/* Every command on a real .keras archive; resave converts it to .h5 and
 * back, and diff finds the three files equal across formats. */
START_TEST(keras3_archives_work_with_every_command)
{
    char keras[4096], io[4096], args[16384];
    snprintf(keras, sizeof keras, "%s", tu_data("keras-wild/seq_dense_k3.7.0.keras"));
    snprintf(io, sizeof io, "%s", tu_data("keras-wild/seq_dense_k3.7.0.io.json"));
    snprintf(args, sizeof args, "summary '%s'", keras);
    EXPECT(args, 0, "keras_version: 3.7.0");
    ck_assert_msg(strstr(out_text, "Model: \"sequential\"") && strstr(out_text, "Total params: 12929"), "%s", out_text);
    snprintf(args, sizeof args, "config '%s' --pointer /config/layers/1/class_name", keras);
    EXPECT(args, 0, "\"Dense\"");
    snprintf(args, sizeof args, "config '%s' --training", keras);
    EXPECT(args, 0, "\"binary_crossentropy\"");
    snprintf(args, sizeof args, "weights '%s'", keras);
    EXPECT(args, 0, "dense_3  dense_3/kernel:0  (32, 1)");
    snprintf(args, sizeof args, "weights '%s' --dump dense_3/bias:0", keras);
    EXPECT(args, 0, "dense_3/dense_3/bias:0  shape (1,)  float32\n");
    snprintf(args, sizeof args, "graph '%s'", keras);
    EXPECT(args, 0, "digraph");
    snprintf(args, sizeof args, "optimizer '%s'", keras);
    EXPECT(args, 0, "state: 18 weights in /optimizer/vars");
    ck_assert_msg(strstr(out_text, "iterations: 6500") && strstr(out_text, "optimizer: adam"), "%s", out_text);
    snprintf(args, sizeof args, "verify '%s'", keras);
    EXPECT(args, 0, "OK: Sequential 'sequential', 4 layers, 12929 parameters, 1 input, 1 output, compiled");
    snprintf(args, sizeof args, "predict '%s' '%s' '%s'", keras, io, su_path("k3_out.json"));
    EXPECT(args, 0, "");
    json_t *want = su_load_json(io), *got = su_load_json(su_path("k3_out.json"));
    kc_tensor *a, *b;
    CK_OK(kc_tensor_from_json(json_array_get(json_object_get(got, "outputs"), 0), &a, &err));
    CK_OK(kc_tensor_from_json(json_array_get(json_object_get(want, "outputs"), 0), &b, &err));
    tu_assert_tensors_close(a, b, 1e-4, 1e-5, "predict on a .keras");
    kc_tensor_unref(a);
    kc_tensor_unref(b);
    json_decref(want);
    json_decref(got);

    /* .keras -> .h5 -> .keras, by OUT's extension; all three the same */
    snprintf(args, sizeof args, "resave '%s' '%s'", keras, su_path("k3.h5"));
    EXPECT(args, 0, "");
    snprintf(args, sizeof args, "resave '%s' '%s'", su_path("k3.h5"), su_path("k3_back.keras"));
    EXPECT(args, 0, "");
    kc_h5file *f = kc_h5file_open(su_path("k3.h5"), &err);
    CK_NN(f, err);
    ck_assert_str_eq(kc_h5file_format(f), "h5");
    kc_h5file_close(f);
    f = kc_h5file_open(su_path("k3_back.keras"), &err);
    CK_NN(f, err);
    ck_assert_str_eq(kc_h5file_format(f), "keras");
    kc_h5file_close(f);
    snprintf(args, sizeof args, "diff '%s' '%s'", keras, su_path("k3.h5"));
    EXPECT(args, 0, "are equal");
    ck_assert_msg(strstr(out_text, "note: model_config: \"Keras 3 form, compared by what it builds\""), "%s", out_text);
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("k3.h5"), su_path("k3_back.keras"));
    EXPECT(args, 0, "are equal");
    /* a changed optimizer moment is found across formats, under ckeras' name */
    kc_object *m = kc_model_load(su_path("k3.h5"), NULL, &err);
    CK_NN(m, err);
    char name[256];
    kc_tensor *moment = kc_optimizer_weight(kc_model_optimizer(m), 3, name, sizeof name);
    kc_tensor_f32(moment)[0] += 1.0f;
    CK_OK(kc_model_save(m, su_path("k3_changed.keras"), NULL, &err));
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("k3.h5"), su_path("k3_changed.keras"));
    char needle[300];
    snprintf(needle, sizeof needle, "weight: optimizer/%s: max abs diff 1", name);
    EXPECT(args, 1, needle);
    kc_object_unref(m);
    /* a compiled model that never trained: the .keras stores the iteration count and the
     * learning rate, the .h5 no optimizer weights; the same fresh optimizer either way */
    m = small_net(3, "tanh");
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"adam\", \"loss\": \"mse\"}", NULL, &err));
    CK_OK(kc_model_save(m, su_path("fresh.keras"), NULL, &err));
    CK_OK(kc_model_save(m, su_path("fresh.h5"), NULL, &err));
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("fresh.keras"), su_path("fresh.h5"));
    EXPECT(args, 0, "are equal");
    kc_object_unref(m);
}
END_TEST

/* A Keras 3 .weights.h5 lists its tree as stored (no config names its
 * layers); a model that loads but has no inputs fails verify. */
START_TEST(keras3_weights_files_and_models_without_inputs)
{
    kc_object *m = small_net(3, "tanh");
    CK_OK(kc_model_save_weights(m, su_path("small.weights.h5"), NULL, &err));
    char args[16384];
    snprintf(args, sizeof args, "weights '%s'", su_path("small.weights.h5"));
    EXPECT(args, 0, "layers/dense_1  vars/0");
    snprintf(args, sizeof args, "summary '%s'", su_path("small.weights.h5"));
    EXPECT(args, 0, "weights only");
    snprintf(args, sizeof args, "diff '%s' '%s'", su_path("small.weights.h5"), su_path("small.weights.h5"));
    EXPECT(args, 0, "are equal");
    snprintf(args, sizeof args, "verify '%s'", su_path("small.weights.h5"));
    EXPECT(args, 2, "Keras 3 save_weights");
    kc_object_unref(m);

    /* Input(4) -> Dropout, saved, then its config stripped of the input */
    kc_object *d = kc_sequential_new("noin", &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){4}, NULL, &err), *drop = kc_layer_create("Dropout", "{\"rate\": 0.5}", &err);
    CK_OK(kc_sequential_add(d, in, &err));
    CK_OK(kc_sequential_add(d, drop, &err));
    kc_object_unref(in);
    kc_object_unref(drop);
    CK_OK(kc_model_save(d, su_path("noin.h5"), NULL, &err));
    kc_object_unref(d);
    set_model_config(su_path("noin.h5"), "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"noin\", \"layers\": "
                                         "[{\"class_name\": \"Dropout\", \"config\": {\"rate\": 0.5}}]}}");
    snprintf(args, sizeof args, "verify '%s'", su_path("noin.h5"));
    EXPECT(args, 2, "Sequential 'noin' has no inputs");
}
END_TEST

/* Issue 15: model files are read in ckeras' sandbox unless --trusted. A
 * file that crashes libhdf5 or hangs it is exit 2 and a message, for the
 * commands that read (run whole in the sandbox), the ones that write
 * (graph -o, resave, predict: their reading is isolated), and --trusted
 * still reads good files in this process. */
START_TEST(hostile_files_are_read_in_the_sandbox)
{
    char crash[4200], hang[4200];
    snprintf(crash, sizeof crash, "%s/tests/fuzz/regressions/h5_file/hdf5-segv-global-heap.h5", getenv("CKERAS_SOURCE_ROOT"));
    snprintf(hang, sizeof hang, "%s/tests/fuzz/regressions/h5_file/hdf5-hang-global-heap.h5", getenv("CKERAS_SOURCE_ROOT"));
    /* the commands that reach the damaged string crash the parser: exit 2 */
    const char *crashing[] = {"summary", "verify", "graph"};
    char args[9000];
    for (size_t i = 0; i < sizeof crashing / sizeof *crashing; i++) {
        snprintf(args, sizeof args, "%s '%s'", crashing[i], crash);
        EXPECT(args, 2, "crashed libhdf5");
    }
    /* the others end normally too (run_cmd checks that each exits) */
    const char *others[] = {"config", "weights", "optimizer"};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        snprintf(args, sizeof args, "%s '%s'", others[i], crash);
        int rc = run(args);
        ck_assert_msg(rc == 0 || rc == 2, "%s: exit %d", args, rc);
    }
    snprintf(args, sizeof args, "diff '%s' '%s'", crash, crash);
    ck_assert_int_eq(run(args), 2);
    const char *out = su_path("crash.svg");
    snprintf(args, sizeof args, "graph '%s' -o '%s'", crash, out);
    EXPECT(args, 2, "crashed libhdf5");
    ck_assert_int_ne(access(out, F_OK), 0); /* nothing written */
    snprintf(args, sizeof args, "resave '%s' '%s'", crash, su_path("resaved_hostile.h5"));
    EXPECT(args, 2, "crashed libhdf5");
    ck_assert_int_ne(access(su_path("resaved_hostile.h5"), F_OK), 0);
    /* a hang: the timeout, then exit 2 */
    snprintf(args, sizeof args, "weights '%s' --timeout 1", hang);
    EXPECT(args, 2, "did not finish within 1 s");
    snprintf(args, sizeof args, "resave '%s' '%s' --timeout 1", hang, su_path("resaved_hostile.h5"));
    EXPECT(args, 2, "did not finish within 1 s");
    /* good files work both ways */
    char good[4200];
    snprintf(good, sizeof good, "%s/keras-ref/mlp.h5", TEST_DATA_DIR);
    snprintf(args, sizeof args, "verify '%s'", good);
    EXPECT(args, 0, "OK");
    snprintf(args, sizeof args, "verify --trusted '%s'", good);
    EXPECT(args, 0, "OK");
    snprintf(args, sizeof args, "summary '%s' --timeout x", good);
    EXPECT(args, 64, "--timeout needs");
}
END_TEST

static Suite *modelinspect_suite(void)
{
    Suite *s = suite_create("modelinspect");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, usage_errors_exit_64);
    tcase_add_test(tc, verify_reports_what_is_wrong);
    tcase_add_test(tc, verify_with_a_custom_library);
    tcase_add_test(tc, predict_reproduces_the_goldens);
    tcase_add_test(tc, resave_keeps_weights_bit_for_bit);
    tcase_add_test(tc, every_command_has_help_and_usage_errors);
    tcase_add_test(tc, broken_files_exit_2_with_a_message);
    tcase_add_test(tc, hostile_files_are_read_in_the_sandbox);
    suite_add_tcase(s, tc);
    TCase *tv = tcase_create("views");
    tcase_add_checked_fixture(tv, setup, NULL);
    tcase_set_timeout(tv, 120);
    tcase_add_test(tv, summary_prints_what_keras_prints);
    tcase_add_test(tv, summary_without_the_classes);
    tcase_add_test(tv, summary_of_custom_models_with_and_without_the_plugin);
    tcase_add_test(tv, summary_json_of_a_model_that_loads);
    tcase_add_test(tv, summary_of_weights_only_files);
    tcase_add_test(tv, config_prints_the_json_and_resolves_pointers);
    tcase_add_test(tv, weights_lists_stats_and_dumps);
    tcase_add_test(tv, diff_names_what_changed);
    tcase_add_test(tv, graph_draws_the_architecture);
    tcase_add_test(tv, keras3_inbound_nodes_are_read);
    tcase_add_test(tv, optimizer_shows_config_and_state);
    tcase_add_test(tv, keras3_archives_work_with_every_command);
    tcase_add_test(tv, keras3_weights_files_and_models_without_inputs);
    suite_add_tcase(s, tv);
    TCase *tf = tcase_create("tfjs"); /* needs keras-ref: a meson test of its own */
    tcase_set_tags(tf, "tfjs");
    tcase_add_checked_fixture(tf, setup, NULL);
    tcase_set_timeout(tf, 120);
    tcase_add_test(tf, summary_contents_agree_with_tensorflow_js);
    suite_add_tcase(s, tf);
    return s;
}

TU_MAIN(modelinspect_suite)
