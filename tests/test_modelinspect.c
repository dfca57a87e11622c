/* modelinspect, run as users run it: exit codes (0 ok, 2 invalid file,
 * 64 usage), messages on stderr, verify with and without a --custom-lib
 * plugin, predict against TensorFlow.js goldens, resave keeping weights bit
 * for bit. */
#define _DEFAULT_SOURCE /* popen */
#include "saving_util.h"
#include "seed_classes.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

static char out_text[1 << 16];

/* Run "modelinspect ARGS" (stderr joined to stdout); returns the exit code. */
static int run(const char *args)
{
    const char *build = getenv("CKERAS_BUILD_ROOT");
    ck_assert_msg(build != NULL, "CKERAS_BUILD_ROOT is not set (run through meson test)");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s/tools/modelinspect' %s 2>&1", build, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(out_text, 1, sizeof out_text - 1, p);
    out_text[len] = '\0';
    int st = pclose(p);
    ck_assert_msg(WIFEXITED(st), "modelinspect %s did not exit normally:\n%s", args, out_text);
    return WEXITSTATUS(st);
}

#define EXPECT(args, code, needle)                                                                 \
    do {                                                                                           \
        int rc_ = run(args);                                                                       \
        ck_assert_msg(rc_ == (code), "modelinspect %s: exit %d, wanted %d:\n%s", args, rc_, code, out_text); \
        ck_assert_msg(strstr(out_text, needle), "modelinspect %s: output lacks '%s':\n%s", args, needle, out_text); \
    } while (0)

static const char *fixture(const char *name)
{
    static char buf[4][8192];
    static int k;
    char rel[256];
    snprintf(rel, sizeof rel, "keras/%.200s", name);
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "'%s'", tu_data(rel));
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
    EXPECT("resave a.h5", 64, "need IN.h5 and OUT.h5");
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

/* A file with the seed's custom classes verifies only with the plugin
 * that registers them. */
START_TEST(verify_with_a_custom_library)
{
    kc_custom_objects *co = seed_custom_objects(2.0f, &err);
    kc_object *m = kc_sequential_new(NULL, &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){4}, NULL, &err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object_unref(in);
    json_t *cfg = json_pack("{s:s, s:{s:i, s:s}}", "class_name", "MyDense", "config", "units", 3, "activation",
                            "my_softplus");
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "x", co);
    kc_object *my = NULL;
    CK_OK(kc_deserialize(KC_KIND_LAYER, cfg, &ctx, &my, &err));
    json_decref(cfg);
    CK_OK(kc_sequential_add(m, my, &err));
    kc_object_unref(my);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"adam\", \"loss\": \"huber_fn\"}", co, &err));
    CK_OK(kc_model_save(m, su_path("seed.h5"), NULL, &err));

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
    kc_object_unref(m);
    kc_custom_objects_free(co);
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
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(modelinspect_suite)
