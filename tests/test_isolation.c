/* Isolated loading (issue 15): kc_model_load_untrusted and
 * kc_model_load_weights_untrusted load in a sandboxed child process, and the
 * caller gets exactly what an in-process load gives -- the same model,
 * weights, compile state, optimizer state, warnings and errors -- while a
 * crash, a hang or a limit in the child is a named error. Also the
 * sandbox itself (kc_sandbox_run): its limits and its walls. */
#define _GNU_SOURCE /* ptrace, memfd */
#include "saving_util.h"
#include "seed_classes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- warnings -------------------------------------------------------------------------------------- */

typedef struct warnings {
    char all[4096];
    int n;
} warnings;

static void collect(void *user, const char *message)
{
    warnings *w = user;
    size_t k = strlen(w->all);
    snprintf(w->all + k, sizeof w->all - k, "%s\n", message);
    w->n++;
}

/* ---- comparing two loads ------------------------------------------------------------------------------ */

static void assert_same_compile_state(kc_object *a, kc_object *b, const char *what)
{
    ck_assert_msg(kc_model_is_compiled(a) == kc_model_is_compiled(b), "%s: compiled differs", what);
    if (!kc_model_is_compiled(a)) return;
    json_t *ca, *cb;
    CK_OK(kc_model_training_config(a, &ca, &err));
    CK_OK(kc_model_training_config(b, &cb, &err));
    ck_assert_msg(json_equal(ca, cb), "%s: training_config differs", what);
    json_decref(ca);
    json_decref(cb);
    kc_object *oa = kc_model_optimizer(a), *ob = kc_model_optimizer(b);
    ck_assert_int_eq(kc_optimizer_num_weights(oa), kc_optimizer_num_weights(ob));
    for (int i = 0; i < kc_optimizer_num_weights(oa); i++) {
        char na[256], nb[256];
        kc_tensor *ta = kc_optimizer_weight(oa, i, na, sizeof na), *tb = kc_optimizer_weight(ob, i, nb, sizeof nb);
        ck_assert_str_eq(na, nb);
        su_assert_bit_identical(ta, tb, na);
    }
}

/* Load path both ways (opts: the in-process options) and check that the
 * results agree. Returns true when both loaded. */
static bool same_both_ways(const char *path, const kc_load_options *opts)
{
    kc_load_options in = opts ? *opts : (kc_load_options){0}, iso = in;
    warnings wi = {0}, wo = {0};
    in.warn = collect;
    in.warn_user = &wi;
    iso.warn = collect;
    iso.warn_user = &wo;
    kc_error ei = {0}, eo = {0};
    /* both name unnamed layers from fresh counters */
    kc_clear_session();
    kc_object *a = kc_model_load(path, &in, &ei);
    kc_clear_session();
    kc_object *b = kc_model_load_untrusted(path, &iso, NULL, &eo);
    ck_assert_msg(!a == !b, "%s: in-process %s (%s), isolated %s (%s)", path, a ? "loads" : ei.message, ei.context,
                  b ? "loads" : eo.message, eo.context);
    ck_assert_msg(strcmp(wi.all, wo.all) == 0, "%s: warnings differ:\n%s---\n%s", path, wi.all, wo.all);
    if (!a) {
        ck_assert_msg(ei.code == eo.code && strcmp(ei.message, eo.message) == 0, "%s: errors differ: %s / %s", path,
                      ei.message, eo.message);
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        ck_assert_msg(strstr(eo.context, base), "%s: the isolated error does not name the file: %s", path, eo.context);
        return false;
    }
    su_assert_same_config(a, b);
    su_assert_same_weights(a, b);
    assert_same_compile_state(a, b, path);
    kc_object_unref(a);
    kc_object_unref(b);
    return true;
}

/* Every .h5 file of a test data folder. */
static int for_each_fixture(const char *folder, const kc_load_options *opts, int *loaded)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", TEST_DATA_DIR, folder);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t k = strlen(e->d_name);
        bool h5 = k > 3 && strcmp(e->d_name + k - 3, ".h5") == 0, keras = k > 6 && strcmp(e->d_name + k - 6, ".keras") == 0;
        if (!h5 && !keras) continue;
        char path[8200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        *loaded += same_both_ways(path, opts);
        n++;
    }
    closedir(d);
    return n;
}

/* ---- loads that agree ----------------------------------------------------------------------------------- */

START_TEST(real_keras_files_load_the_same_isolated)
{
    int loaded = 0, n = for_each_fixture("keras", NULL, &loaded) + for_each_fixture("keras-ref", NULL, &loaded) +
                        for_each_fixture("keras-wild", NULL, &loaded);
    fprintf(stderr, "isolated vs in-process: %d files (.h5 and .keras), %d loaded both ways, the others failed the same way\n",
            n, loaded);
    ck_assert_int_ge(n, 40);
    ck_assert_int_ge(loaded, 31);
    kc_load_options nc = {.no_compile = true};
    for_each_fixture("keras", &nc, &loaded);
}
END_TEST

static void train_step(kc_object *model, uint64_t seed)
{
    kc_object *opt = kc_model_optimizer(model);
    int n = kc_layer_num_trainable_weights(model);
    kc_variable *vars[64];
    kc_tensor *grads[64];
    for (int i = 0; i < n; i++) {
        vars[i] = kc_layer_trainable_weight(model, i);
        kc_tensor *v = kc_variable_value(vars[i]);
        grads[i] = tu_random(kc_tensor_ndim(v), kc_tensor_dims(v), -1, 1, seed + (uint64_t)i);
    }
    CK_OK(kc_optimizer_apply_gradients(opt, grads, vars, n, &err));
    for (int i = 0; i < n; i++) kc_tensor_unref(grads[i]);
}

static kc_object *dense_model(const char *name, int64_t units)
{
    kc_object *m = kc_sequential_new(name, &err);
    CK_NN(m, err);
    kc_object *in = kc_input_layer(1, (int64_t[]){3}, NULL, &err);
    char cfg[120];
    snprintf(cfg, sizeof cfg, "{\"units\": %lld, \"name\": \"dense\"}", (long long)units);
    kc_object *d = kc_layer_create("Dense", cfg, &err), *d2 = kc_layer_create("Dense", "{\"units\": 2, \"name\": \"out\"}", &err);
    CK_NN(d, err);
    CK_OK(kc_sequential_add(m, in, &err));
    CK_OK(kc_sequential_add(m, d, &err));
    CK_OK(kc_sequential_add(m, d2, &err));
    kc_object_unref(in);
    kc_object_unref(d);
    kc_object_unref(d2);
    su_randomize_weights(m, 5);
    return m;
}

/* ckeras' own files: a compiled model with Adam's state, the seed's custom
 * classes (a custom layer, activation, loss class and metric class, and a
 * bound loss function rebound at load), a subclassed model built from its
 * build_config. */
START_TEST(ckeras_models_load_the_same_isolated)
{
    kc_object *m = dense_model("mlp", 64);
    CK_OK(kc_model_compile(m, "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.01}},"
                              " \"loss\": \"mse\", \"metrics\": [\"mae\"]}", NULL, &err));
    train_step(m, 3);
    train_step(m, 4);
    CK_OK(kc_model_save(m, su_path("adam.h5"), NULL, &err));
    ck_assert(same_both_ways(su_path("adam.h5"), NULL));
    kc_object *back = kc_model_load_untrusted(su_path("adam.h5"), NULL, NULL, &err);
    CK_NN(back, err);
    ck_assert_int_eq(kc_optimizer_iterations(kc_model_optimizer(back)), 2);
    /* the loaded model trains on */
    train_step(back, 5);
    kc_object_unref(back);
    kc_object_unref(m);

    kc_custom_objects *co = seed_custom_objects(2.0f, &err), *co3 = seed_custom_objects(3.0f, &err);
    CK_NN(co, err);
    kc_object *seq = kc_sequential_new("seed", &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){4}, NULL, &err);
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "seed", co);
    json_t *cfg = json_pack("{s:s, s:{s:i, s:s}}", "class_name", "MyDense", "config", "units", 6, "activation",
                            "my_softplus");
    kc_object *my = NULL;
    CK_OK(kc_deserialize(KC_KIND_LAYER, cfg, &ctx, &my, &err));
    json_decref(cfg);
    CK_OK(kc_sequential_add(seq, in, &err));
    CK_OK(kc_sequential_add(seq, my, &err));
    kc_object_unref(in);
    kc_object_unref(my);
    su_randomize_weights(seq, 9);
    CK_OK(kc_model_compile(seq, "{\"optimizer\": \"sgd\", \"loss\": \"huber_fn\"}", co, &err));
    CK_OK(kc_model_save(seq, su_path("seed.h5"), NULL, &err));
    kc_load_options with3 = {.custom_objects = co3};
    ck_assert(same_both_ways(su_path("seed.h5"), &with3));
    back = kc_model_load_untrusted(su_path("seed.h5"), &with3, NULL, &err);
    CK_NN(back, err);
    kc_object *loss;
    void *params;
    kc_fn fn;
    CK_OK(kc_model_compiled_loss(back, 0, &loss, &err));
    CK_OK(kc_function_get(loss, &fn, &params, &err));
    ck_assert_float_eq(*(float *)params, 3.0f); /* bound by this load's custom_objects */
    kc_object_unref(back);
    /* without the classes: the same unknown-class error */
    ck_assert(!same_both_ways(su_path("seed.h5"), NULL));
    kc_object_unref(seq);

    kc_config_ctx_init(&ctx, "regressor", co);
    cfg = json_pack("{s:s, s:{s:s, s:i, s:i}}", "class_name", "ReconstructingRegressor", "config", "name", "regressor",
                    "units", 7, "outputs", 3);
    kc_object *reg = NULL;
    CK_OK(kc_deserialize(KC_KIND_MODEL, cfg, &ctx, &reg, &err));
    json_decref(cfg);
    kc_shape shape = kc_shape_make(2, (int64_t[]){-1, 5});
    CK_OK(kc_model_build(reg, &shape, 1, &err));
    su_randomize_weights(reg, 10);
    CK_OK(kc_model_compile(reg, "{\"optimizer\": \"adam\", \"loss\": \"mse\"}", co, &err));
    train_step(reg, 11);
    CK_OK(kc_model_save(reg, su_path("regressor.h5"), NULL, &err));
    kc_load_options lco = {.custom_objects = co};
    ck_assert(same_both_ways(su_path("regressor.h5"), &lco));
    /* predictions agree */
    back = kc_model_load_untrusted(su_path("regressor.h5"), &lco, NULL, &err);
    CK_NN(back, err);
    kc_tensor *x = tu_random(2, (int64_t[]){4, 5}, -1, 1, 12);
    kc_tensor *ya = kc_layer_call1(reg, x, false, &err), *yb = kc_layer_call1(back, x, false, &err);
    CK_NN(yb, err);
    su_assert_bit_identical(ya, yb, "regressor prediction");
    kc_tensor_unref(x);
    kc_tensor_unref(ya);
    kc_tensor_unref(yb);
    kc_object_unref(back);
    kc_object_unref(reg);
    kc_custom_objects_free(co);
    kc_custom_objects_free(co3);
}
END_TEST

/* Weights that are not plain float32 blocks (float64, float16, chunked and
 * compressed) travel in the description instead of being read from the
 * file by the parent: same result. */
START_TEST(weights_stored_otherwise_load_the_same_isolated)
{
    kc_object *m = dense_model("kinds", 8);
    CK_OK(kc_model_save(m, su_path("kinds.h5"), NULL, &err));
    hid_t f = H5Fopen(su_path("kinds.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    const char *names[3] = {"/model_weights/dense/dense/kernel:0", "/model_weights/dense/dense/bias:0",
                            "/model_weights/out/out/kernel:0"};
    /* IEEE half, as numpy's float16 is stored: 1 sign, 5 exponent, 10 mantissa bits */
    hid_t half = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(half, 15, 10, 5, 0, 10);
    H5Tset_precision(half, 16);
    H5Tset_size(half, 2);
    H5Tset_ebias(half, 15);
    hid_t types[3] = {H5T_IEEE_F64LE, half, H5T_IEEE_F32BE};
    for (int i = 0; i < 3; i++) {
        hid_t d = H5Dopen2(f, names[i], H5P_DEFAULT), s = H5Dget_space(d);
        int nd = H5Sget_simple_extent_ndims(s);
        hsize_t dims[4];
        H5Sget_simple_extent_dims(s, dims, NULL);
        size_t n = (size_t)H5Sget_simple_extent_npoints(s);
        float *v = malloc(n * sizeof(float));
        ck_assert_int_ge(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
        H5Dclose(d);
        H5Ldelete(f, names[i], H5P_DEFAULT);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        if (i == 2) { /* chunked and compressed too */
            hsize_t chunk[4] = {1, 1, 1, 1};
            H5Pset_chunk(dcpl, nd, chunk);
            H5Pset_deflate(dcpl, 4);
        }
        d = H5Dcreate2(f, names[i], types[i], s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        ck_assert_int_ge(d, 0);
        ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
        H5Dclose(d);
        H5Pclose(dcpl);
        H5Sclose(s);
        free(v);
    }
    H5Tclose(half);
    H5Fclose(f);
    ck_assert(same_both_ways(su_path("kinds.h5"), NULL));
    kc_object_unref(m);
}
END_TEST

/* Inputs 3 -> left (4) and right (units) -> concat -> head (1). */
static kc_object *two_branches(bool reverse, int64_t right_units)
{
    kc_symbol *x = kc_input(1, (int64_t[]){3}, "x", &err);
    char rc[100];
    snprintf(rc, sizeof rc, "{\"units\": %lld, \"name\": \"right\"}", (long long)right_units);
    kc_object *left = kc_layer_create("Dense", "{\"units\": 4, \"name\": \"left\"}", &err);
    kc_object *right = kc_layer_create("Dense", rc, &err);
    kc_object *cat = kc_layer_create("Concatenate", "{\"name\": \"cat\"}", &err);
    kc_object *head = kc_layer_create("Dense", "{\"units\": 1, \"name\": \"head\"}", &err);
    kc_symbol *l, *r, *c, *out;
    if (reverse) {
        r = kc_apply(right, &x, 1, &err);
        l = kc_apply(left, &x, 1, &err);
    } else {
        l = kc_apply(left, &x, 1, &err);
        r = kc_apply(right, &x, 1, &err);
    }
    kc_symbol *lr[2] = {reverse ? r : l, reverse ? l : r};
    c = kc_apply(cat, lr, 2, &err);
    out = kc_apply(head, &c, 1, &err);
    CK_NN(out, err);
    kc_object *m = kc_functional_new(&x, 1, &out, 1, NULL, &err);
    CK_NN(m, err);
    kc_symbol *all[] = {x, l, r, c, out};
    for (int i = 0; i < 5; i++) kc_symbol_unref(all[i]);
    kc_object *layers[] = {left, right, cat, head};
    for (int i = 0; i < 4; i++) kc_object_unref(layers[i]);
    return m;
}

/* Load weights into a copy of `like` both ways; the two copies must end
 * equal, with the same warnings and status. */
static kc_status weights_both_ways(kc_object *(*make)(bool, int64_t), bool reverse, int64_t units, const char *path,
                                   const kc_weights_options *opts, uint64_t seed)
{
    kc_object *a = make(reverse, units), *b = make(reverse, units);
    su_randomize_weights(a, seed);
    su_randomize_weights(b, seed);
    kc_weights_options in = opts ? *opts : (kc_weights_options){0}, iso = in;
    warnings wi = {0}, wo = {0};
    in.warn = collect;
    in.warn_user = &wi;
    iso.warn = collect;
    iso.warn_user = &wo;
    kc_error ei = {0}, eo = {0};
    kc_status ra = kc_model_load_weights(a, path, &in, &ei), rb = kc_model_load_weights_untrusted(b, path, &iso, NULL, &eo);
    ck_assert_msg(ra == rb, "%s: in-process %s, isolated %s (%s)", path, kc_status_name(ra), kc_status_name(rb), eo.message);
    ck_assert_msg(ra == KC_OK || strcmp(ei.message, eo.message) == 0, "errors differ: %s / %s", ei.message, eo.message);
    ck_assert_msg(strcmp(wi.all, wo.all) == 0, "warnings differ:\n%s---\n%s", wi.all, wo.all);
    su_assert_same_weights(a, b); /* loaded the same, or (on error) untouched the same */
    kc_object_unref(a);
    kc_object_unref(b);
    return ra;
}

START_TEST(weights_only_loads_the_same_isolated)
{
    kc_object *m = two_branches(false, 2);
    su_randomize_weights(m, 71);
    CK_OK(kc_model_save_weights(m, su_path("branches_w.h5"), NULL, &err));
    CK_OK(kc_model_save(m, su_path("branches.h5"), NULL, &err));
    ck_assert_int_eq(weights_both_ways(two_branches, false, 2, su_path("branches_w.h5"), NULL, 1), KC_OK);
    ck_assert_int_eq(weights_both_ways(two_branches, false, 2, su_path("branches.h5"), NULL, 2), KC_OK);
    ck_assert_int_eq(weights_both_ways(two_branches, true, 2, su_path("branches_w.h5"), NULL, 3), KC_ESHAPE);
    kc_weights_options by_name = {.by_name = true};
    ck_assert_int_eq(weights_both_ways(two_branches, true, 2, su_path("branches_w.h5"), &by_name, 4), KC_OK);
    ck_assert_int_eq(weights_both_ways(two_branches, false, 5, su_path("branches_w.h5"), &by_name, 5), KC_ESHAPE);
    kc_weights_options skip = {.by_name = true, .skip_mismatch = true};
    ck_assert_int_eq(weights_both_ways(two_branches, false, 5, su_path("branches_w.h5"), &skip, 6), KC_OK);
    /* Keras 3 weights files and .keras archives as weight sources */
    CK_OK(kc_model_save_weights(m, su_path("branches.weights.h5"), NULL, &err));
    CK_OK(kc_model_save(m, su_path("branches.keras"), NULL, &err));
    ck_assert_int_eq(weights_both_ways(two_branches, false, 2, su_path("branches.weights.h5"), NULL, 7), KC_OK);
    ck_assert_int_eq(weights_both_ways(two_branches, false, 2, su_path("branches.keras"), NULL, 8), KC_OK);
    /* and the result is the file's weights */
    kc_object *b = two_branches(false, 2);
    CK_OK(kc_model_load_weights_untrusted(b, su_path("branches_w.h5"), NULL, NULL, &err));
    su_assert_same_weights(m, b);
    kc_object_unref(b);
    kc_object_unref(m);
    /* Keras' own weights-only files */
    char path[4200];
    snprintf(path, sizeof path, "%s/keras/weightsonly_dense_k2.0.0.h5", TEST_DATA_DIR);
    kc_object *k = kc_model_load(path, NULL, &err); /* not a model file: both ways say so */
    ck_assert_ptr_null(k);
    kc_error_clear(&err);
}
END_TEST

START_TEST(errors_of_the_child_are_the_callers)
{
    /* not HDF5, a config of the wrong type, a missing file: the same errors */
    FILE *f = fopen(su_path("text.h5"), "w");
    fputs("{\"class_name\": \"Sequential\"}", f);
    fclose(f);
    ck_assert(!same_both_ways(su_path("text.h5"), NULL));
    ck_assert(!same_both_ways(su_path("missing.h5"), NULL));
    ck_assert_ptr_null(kc_model_load_untrusted(su_path("text.h5"), NULL, NULL, &err));
    CK_ERR(err, KC_EFORMAT, "not an HDF5 file");
    kc_error_clear(&err);
    /* a model bigger than the caller's weight budget: KC_ELIMIT as in-process */
    kc_object *m = dense_model("big", 1000);
    CK_OK(kc_model_save(m, su_path("budget.h5"), NULL, &err));
    kc_load_options small = {.max_weight_bytes = 1000};
    ck_assert(!same_both_ways(su_path("budget.h5"), &small));
    ck_assert_ptr_null(kc_model_load_untrusted(su_path("budget.h5"), &small, NULL, &err));
    CK_ERR(err, KC_ELIMIT, "dense");
    kc_object_unref(m);
}
END_TEST

/* Layers without names in the file are named by the child, from its copy
 * of the session's counters; the parent takes the counts over, so the
 * next automatic name is the one after, as after an in-process load. */
START_TEST(automatic_names_continue_after_an_isolated_load)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/keras/seq_sepconv2d_k2.1.3.h5", TEST_DATA_DIR); /* an unnamed Sequential */
    kc_clear_session();
    kc_object *m = kc_model_load_untrusted(path, NULL, NULL, &err);
    CK_NN(m, err);
    ck_assert_str_eq(kc_layer_name(m), "sequential");
    kc_object *next = kc_sequential_new(NULL, &err);
    CK_NN(next, err);
    ck_assert_str_eq(kc_layer_name(next), "sequential_1");
    kc_object_unref(next);
    kc_object_unref(m);
}
END_TEST

/* ---- limits and walls ------------------------------------------------------------------------------------- */

/* The child's work for the tests below: ctx is an int naming it. */
enum { DO_RETURN, DO_SEGV, DO_ABORT, DO_SPIN, DO_SLEEP, DO_ALLOCATE, DO_ESCAPE, DO_READ_OTHER, DO_FD };
static int escape_fd = -1;
static const char *other_file;

/* Try what a taken-over loader would: each success sets a bit. */
static int try_to_escape(void)
{
    int got = 0;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s >= 0) got |= 1;
    int w = open(su_path("written-by-the-child"), O_WRONLY | O_CREAT, 0600);
    if (w >= 0) got |= 2;
    pid_t p = fork();
    if (p == 0) _exit(0);
    if (p > 0) got |= 4;
    if (ptrace(PTRACE_ATTACH, getppid(), NULL, NULL) == 0) got |= 8;
    if (kill(getppid(), SIGCONT) == 0) got |= 16;
    char *const argv[] = {"true", NULL};
    execv("/bin/true", argv); /* returns only when refused */
    void *x = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (x != MAP_FAILED) got |= 32;
    if (memfd_create("escape", 0) >= 0) got |= 64;
    return got;
}

static int child_work(void *ctx)
{
    switch (*(int *)ctx) {
    case DO_RETURN: return 42;
    case DO_SEGV: {
        volatile uintptr_t bad = 8; /* an address nothing is mapped at */
        return *(volatile int *)bad;
    }
    case DO_ABORT: abort();
    case DO_SPIN:
        for (volatile unsigned long i = 0;; i++) {
        }
    case DO_SLEEP:
        for (;;) sleep(100);
    case DO_ALLOCATE: {
        size_t total = 0;
        for (int i = 0; i < 64; i++) { /* up to 4 GiB, touched */
            char *p = malloc((size_t)64 << 20);
            if (!p) return total >= ((size_t)64 << 20) ? 1 : 2;
            memset(p, 1, (size_t)64 << 20);
            total += (size_t)64 << 20;
        }
        return 0;
    }
    case DO_ESCAPE: return try_to_escape();
    case DO_READ_OTHER: {
        int a = open(other_file, O_RDONLY), b = open(su_path("readable.h5"), O_RDONLY);
        return (a >= 0 ? 1 : 0) | (b >= 0 ? 2 : 0);
    }
    case DO_FD: return fcntl(escape_fd, F_GETFD) < 0 && errno == EBADF ? 0 : 1;
    }
    return 99;
}

static kc_status run_child(int what, double timeout, int *code)
{
    kc_sandbox_options o = {.timeout_seconds = timeout, .max_memory_bytes = (int64_t)256 << 20};
    kc_error_clear(&err);
    return kc_sandbox_run(child_work, &what, &o, code, &err);
}

START_TEST(crashes_and_hangs_are_named_errors)
{
    int code;
    CK_OK(run_child(DO_RETURN, 5, &code));
    ck_assert_int_eq(code, 42);
    ck_assert_int_eq(run_child(DO_SEGV, 5, &code), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "signal 11, SIGSEGV");
    CK_ERR(err, KC_EFORMAT, "crashed the program"); /* the test program's own code */
    ck_assert_int_eq(run_child(DO_ABORT, 5, &code), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "SIGABRT");
    double t = now();
    ck_assert_int_eq(run_child(DO_SPIN, 0.5, &code), KC_ELIMIT);
    CK_ERR(err, KC_ELIMIT, "did not finish within 0.5 s");
    ck_assert_double_lt(now() - t, 3.0);
    t = now();
    ck_assert_int_eq(run_child(DO_SLEEP, 0.5, &code), KC_ELIMIT);
    ck_assert_double_lt(now() - t, 3.0);
    ck_assert_int_eq(code, -1);
}
END_TEST

START_TEST(the_sandbox_walls_hold)
{
    unsigned f = kc_sandbox_features();
    fprintf(stderr, "sandbox: seccomp %s, Landlock %s, address-space limit %s\n", f & KC_SANDBOX_SECCOMP ? "on" : "OFF",
            f & KC_SANDBOX_LANDLOCK ? "on" : "OFF (kernel)", f & KC_SANDBOX_ADDRESS_SPACE ? "on" : "OFF (AddressSanitizer)");
    int code;
    /* inherited descriptors are closed */
    escape_fd = open(su_path("."), O_RDONLY);
    ck_assert_int_ge(escape_fd, 0);
    CK_OK(run_child(DO_FD, 5, &code));
    ck_assert_int_eq(code, 0);
    close(escape_fd);
    if (f & KC_SANDBOX_SECCOMP) {
        CK_OK(run_child(DO_ESCAPE, 5, &code));
        ck_assert_msg(code == 0, "the child could: %s%s%s%s%s%s%s", code & 1 ? "socket " : "", code & 2 ? "write a file " : "",
                      code & 4 ? "fork " : "", code & 8 ? "ptrace its parent " : "", code & 16 ? "signal its parent " : "",
                      code & 32 ? "map executable memory " : "", code & 64 ? "memfd_create" : "");
        ck_assert_int_ne(access(su_path("written-by-the-child"), F_OK), 0);
    } else {
        fprintf(stderr, "the_sandbox_walls_hold: SKIPPED the system-call checks (built without libseccomp)\n");
    }
    if (f & KC_SANDBOX_LANDLOCK) {
        FILE *r = fopen(su_path("readable.h5"), "w");
        fputs("x", r);
        fclose(r);
        other_file = su_path("other.h5");
        r = fopen(other_file, "w");
        fputs("x", r);
        fclose(r);
        const char *readable[] = {su_path("readable.h5"), NULL};
        kc_sandbox_options o = {.timeout_seconds = 5, .readable_files = readable};
        int what = DO_READ_OTHER;
        CK_OK(kc_sandbox_run(child_work, &what, &o, &code, &err));
        ck_assert_int_eq(code, 2); /* the named file only */
    } else {
        fprintf(stderr, "the_sandbox_walls_hold: SKIPPED the filesystem check (no Landlock in this kernel)\n");
    }
    if (f & KC_SANDBOX_ADDRESS_SPACE) {
        CK_OK(run_child(DO_ALLOCATE, 30, &code));
        ck_assert_int_eq(code, 1); /* malloc failed after some 64 MiB blocks, under the 256 MiB limit */
    } else {
        fprintf(stderr, "the_sandbox_walls_hold: SKIPPED the memory limit (AddressSanitizer build)\n");
    }
}
END_TEST

START_TEST(fifos_are_refused_at_once_isolated)
{
    const char *fifo = su_path("isolated_fifo.h5");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    kc_untrusted_limits lim = {.timeout_seconds = 30};
    double t = now();
    ck_assert_ptr_null(kc_model_load_untrusted(fifo, NULL, &lim, &err));
    CK_ERR(err, KC_EFORMAT, "a FIFO");
    kc_error_clear(&err);
    kc_object *m = dense_model("fifo", 2);
    ck_assert_int_eq(kc_model_load_weights_untrusted(m, fifo, NULL, &lim, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "a FIFO");
    ck_assert_double_lt(now() - t, 1.0);
    kc_object_unref(m);
}
END_TEST

/* A file whose vlen string list is damaged after its first string: HDF5
 * keeps the strings it converted before failing (h5io.c). Loaded
 * isolated, that stays in the child: the parent gets the error and (under
 * AddressSanitizer) leaks nothing. */
START_TEST(a_damaged_vlen_string_list_leaks_nothing_isolated)
{
    kc_object *m = dense_model("vlen", 2);
    CK_OK(kc_model_save(m, su_path("vlen.h5"), NULL, &err));
    su_damage_vlen_layer_names(su_path("vlen.h5"), "dense");
    ck_assert_ptr_null(kc_model_load_untrusted(su_path("vlen.h5"), NULL, NULL, &err));
    CK_ERR(err, KC_EFORMAT, "layer_names");
    kc_object_unref(m);
}
END_TEST

static Suite *isolation_suite(void)
{
    Suite *s = suite_create("isolation");
    TCase *tc = tcase_create("isolation");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, real_keras_files_load_the_same_isolated);
    tcase_add_test(tc, ckeras_models_load_the_same_isolated);
    tcase_add_test(tc, weights_stored_otherwise_load_the_same_isolated);
    tcase_add_test(tc, weights_only_loads_the_same_isolated);
    tcase_add_test(tc, errors_of_the_child_are_the_callers);
    tcase_add_test(tc, automatic_names_continue_after_an_isolated_load);
    tcase_add_test(tc, crashes_and_hangs_are_named_errors);
    tcase_add_test(tc, the_sandbox_walls_hold);
    tcase_add_test(tc, fifos_are_refused_at_once_isolated);
    tcase_add_test(tc, a_damaged_vlen_string_list_leaks_nothing_isolated);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(isolation_suite)
