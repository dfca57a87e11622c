/* Keras 3 files (issue 14): the real files of tests/data/keras-wild
 * (STATUS.md is the table of what loads), the Keras 3 weights layout as
 * Keras writes it, round trips through .keras and .weights.h5 for every
 * layer kind, optimizer state in its three layouts, and hostile archives.
 *
 * Expected values are read here on their own -- with HDF5 and libzip, by
 * the names or positions each layout gives them (doc/keras3-format.md) --
 * not through the code under test. */
#define _DEFAULT_SOURCE /* mkfifo, usleep */
#include "saving_util.h"
#include "seed_classes.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

static kc_error err;
/* Every test starts a session: automatic layer names (which some tests
 * check in the files) do not depend on the tests before it. */
static void setup(void)
{
    kc_error_clear(&err);
    kc_clear_session();
}

/* ---- warnings -------------------------------------------------------------------------------- */

typedef struct warnings {
    int n;
    char last[1024];
} warnings;

static void collect(void *user, const char *message)
{
    warnings *w = user;
    w->n++;
    snprintf(w->last, sizeof w->last, "%s", message);
}

/* ---- reading a file on our own: HDF5, and libzip for archives ------------------------------ */

/* model.weights.h5 of an archive, opened from memory (a copy HDF5 owns). */
static hid_t open_archive_weights(const char *path)
{
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
    ck_assert_msg(z != NULL, "%s: libzip error %d", path, zerr);
    zip_stat_t st;
    ck_assert_int_eq(zip_stat(z, "model.weights.h5", 0, &st), 0);
    char *buf = malloc(st.size);
    zip_file_t *f = zip_fopen(z, "model.weights.h5", 0);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(zip_fread(f, buf, st.size), (zip_int64_t)st.size);
    zip_fclose(f);
    zip_close(z);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 20, 0);
    H5Pset_file_image(fapl, buf, st.size);
    hid_t h = H5Fopen("weights-image", H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    free(buf);
    ck_assert_int_ge(h, 0);
    return h;
}

static hid_t open_any(const char *path)
{
    size_t n = strlen(path);
    if (n > 6 && strcmp(path + n - 6, ".keras") == 0) return open_archive_weights(path);
    hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(h >= 0, "cannot open %s", path);
    return h;
}

/* A dataset as a tensor (float32, or int64 for integer datasets). */
static kc_tensor *read_dataset(hid_t file, const char *path)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "no dataset %s", path);
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    int nd = H5Sget_simple_extent_ndims(s);
    hsize_t hd[8];
    H5Sget_simple_extent_dims(s, hd, NULL);
    int64_t dims[8];
    for (int i = 0; i < nd; i++) dims[i] = (int64_t)hd[i];
    bool is_int = H5Tget_class(t) == H5T_INTEGER;
    kc_tensor *out = kc_tensor_empty(is_int ? KC_INT64 : KC_FLOAT32, nd, dims, &err);
    CK_NN(out, err);
    ck_assert_int_ge(H5Dread(d, is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                             kc_tensor_data(out)), 0);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    return out;
}

/* The strings of attribute name of obj (fixed or variable length). */
static int read_names(hid_t file, const char *obj, const char *name, char names[][256], int max)
{
    hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    int n = (int)H5Sget_simple_extent_npoints(s);
    ck_assert_int_le(n, max);
    if (H5Tis_variable_str(t) > 0) {
        char **raw = calloc((size_t)n, sizeof(char *));
        hid_t m = H5Tcopy(H5T_C_S1);
        H5Tset_size(m, H5T_VARIABLE);
        H5Tset_cset(m, H5Tget_cset(t));
        ck_assert_int_ge(H5Aread(a, m, raw), 0);
        for (int i = 0; i < n; i++) snprintf(names[i], 256, "%s", raw[i]);
        H5Dvlen_reclaim(m, s, H5P_DEFAULT, raw);
        H5Tclose(m);
        free(raw);
    } else {
        size_t sz = H5Tget_size(t);
        char *raw = calloc((size_t)n, sz + 1);
        H5Aread(a, t, raw);
        for (int i = 0; i < n; i++) snprintf(names[i], 256, "%.*s", (int)sz, raw + (size_t)i * sz);
        free(raw);
    }
    H5Tclose(t);
    H5Sclose(s);
    H5Aclose(a);
    return n;
}

/* ---- optimizer state, checked against the file ------------------------------------------------ */

/* "conv2d/kernel:0" from the ckeras optimizer weight "Adam/conv2d/kernel/m:0"
 * and its slot ("m"). */
static void split_slot_name(const char *name, char *var, size_t n, char *slot, size_t m)
{
    const char *first = strchr(name, '/'), *last = strrchr(name, '/');
    ck_assert_ptr_nonnull(first);
    snprintf(var, n, "%.*s:0", (int)(last - first - 1), first + 1);
    snprintf(slot, m, "%.*s", (int)(strcspn(last + 1, ":")), last + 1);
}

/* Every optimizer weight of the loaded model equals what the file holds:
 *   tf211   by name: iteration:0, Adam/m/<variable>:0, Adam/v/<variable>:0
 *   keras3  .h5 by name: [adam/]iteration, <path with _>_momentum / _velocity
 *   keras3  .keras by position: vars/0 iteration, 1 learning rate, then
 *           2 + 2i momentum and 3 + 2i velocity of trainable variable i */
static void assert_optimizer_matches_file(kc_object *m, const char *path, const char *layout)
{
    kc_object *opt = kc_model_optimizer(m);
    ck_assert_ptr_nonnull(opt);
    int n = kc_optimizer_num_weights(opt);
    ck_assert_int_gt(n, 1);
    hid_t h = open_any(path);
    bool keras = strstr(path, ".keras") != NULL;
    static char names[4096][256];
    int n_file = keras ? 0 : read_names(h, "/optimizer_weights", "weight_names", names, 4096);
    int checked = 0;
    for (int i = 0; i < n; i++) {
        char name[512], var[512], slot[64], want[1024] = "";
        kc_tensor *got = kc_optimizer_weight(opt, i, name, sizeof name);
        if (i == 0) {
            snprintf(want, sizeof want, "%s", keras ? "/optimizer/vars/0" : "");
            for (int k = 0; !keras && k < n_file; k++) {
                const char *slash = strrchr(names[k], '/');
                const char *last = slash ? slash + 1 : names[k];
                if (strcmp(last, "iteration:0") == 0 || strcmp(last, "iteration") == 0)
                    snprintf(want, sizeof want, "/optimizer_weights/%s", names[k]);
            }
        } else {
            split_slot_name(name, var, sizeof var, slot, sizeof slot);
            bool is_m = strcmp(slot, "m") == 0;
            ck_assert_msg(is_m || strcmp(slot, "v") == 0, "unexpected slot %s", name);
            int vi = -1;
            for (int k = 0; k < kc_layer_num_trainable_weights(m); k++)
                if (strcmp(kc_variable_name(kc_layer_trainable_weight(m, k)), var) == 0) vi = k;
            ck_assert_int_ge(vi, 0);
            if (keras) {
                snprintf(want, sizeof want, "/optimizer/vars/%d", 2 + 2 * vi + (is_m ? 0 : 1));
            } else if (strcmp(layout, "tf211") == 0) {
                snprintf(want, sizeof want, "/optimizer_weights/Adam/%s/%s", slot, var);
            } else {
                char tail[512];
                snprintf(tail, sizeof tail, "_%.*s_%s", (int)strlen(var) - 2, var, is_m ? "momentum" : "velocity");
                for (char *p = tail; *p; p++)
                    if (*p == '/') *p = '_';
                for (int k = 0; k < n_file; k++) {
                    size_t a = strlen(names[k]), b = strlen(tail);
                    if (a >= b && strcmp(names[k] + a - b, tail) == 0)
                        snprintf(want, sizeof want, "/optimizer_weights/%s", names[k]);
                }
            }
        }
        ck_assert_msg(want[0], "%s: no stored value found for %s", path, name);
        kc_tensor *stored = read_dataset(h, want);
        if (i == 0) {
            ck_assert_int_eq(kc_optimizer_iterations(opt), *(int64_t *)kc_tensor_data(stored));
            ck_assert_int_gt(kc_optimizer_iterations(opt), 0);
        } else {
            su_assert_bit_identical(got, stored, name);
        }
        kc_tensor_unref(stored);
        checked++;
    }
    ck_assert_int_eq(checked, n);
    H5Fclose(h);
}

/* ---- the table of real files ------------------------------------------------------------------ */

typedef struct wild_row {
    char file[128], version[32], format[16], optimizer[16];
    bool loads, golden;
} wild_row;

static int read_wild_table(wild_row *rows, int max)
{
    FILE *f = fopen(tu_data("keras-wild/STATUS.md"), "r");
    ck_assert_msg(f != NULL, "cannot open keras-wild/STATUS.md");
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char *cols[8] = {0};
        int nc = su_table_row(line, cols, 8);
        if (nc == 0) continue;
        ck_assert_int_lt(n, max);
        wild_row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        ck_assert_int_ge(nc, 7);
        ck_assert_int_eq(sscanf(cols[0], " `%127[^`]`", r->file), 1);
        ck_assert_int_eq(sscanf(cols[1], " %31s", r->version), 1);
        ck_assert_int_eq(sscanf(cols[2], " %15s", r->format), 1);
        r->loads = strncmp(cols[3] + strspn(cols[3], " "), "loads", 5) == 0;
        r->golden = strncmp(cols[4] + strspn(cols[4], " "), "matches", 7) == 0;
        ck_assert_int_eq(sscanf(cols[5], " %15s", r->optimizer), 1);
    }
    fclose(f);
    return n;
}


/* The README's sentence on Keras 3 files must match the table. */
static void check_readme_counts(int n_files, int loads, int goldens, int matched)
{
    char want[256];
    snprintf(want, sizeof want, "loads %d of the %d real Keras 3 and tf.keras 2.11+ files", loads, n_files);
    su_assert_readme_says(want);
    snprintf(want, sizeof want, "reproduces %d of their %d TensorFlow.js goldens", matched, goldens);
    su_assert_readme_says(want);
}

START_TEST(keras_wild_files_load_with_optimizer_state)
{
    wild_row rows[32];
    int n = read_wild_table(rows, 32), loads = 0, goldens = 0, matched = 0;
    ck_assert_int_eq(n, 6);
    for (int i = 0; i < n; i++) {
        const wild_row *r = &rows[i];
        char rel[256], io_rel[256];
        snprintf(rel, sizeof rel, "keras-wild/%.127s", r->file);
        const char *dot = strrchr(r->file, '.');
        snprintf(io_rel, sizeof io_rel, "keras-wild/%.*s.io.json", (int)(dot - r->file) & 127, r->file);
        static char path[16384], io_path[16384];
        snprintf(path, sizeof path, "%s", tu_data(rel));
        snprintf(io_path, sizeof io_path, "%s", tu_data(io_rel));
        FILE *probe = fopen(io_path, "r");
        ck_assert_msg((probe != NULL) == r->golden, "%s: the golden column disagrees with the files", r->file);
        if (probe) fclose(probe);
        goldens += r->golden;

        warnings w = {0};
        kc_load_options lo = {.warn = collect, .warn_user = &w};
        kc_error_clear(&err);
        kc_object *m = kc_model_load(path, &lo, &err);
        ck_assert_msg(r->loads == (m != NULL), "%s: %s (%s)", r->file, err.message, err.context);
        if (!m) continue;
        loads++;
        ck_assert_msg(w.n == 0, "%s: %d warnings, the last: %s", r->file, w.n, w.last);
        kc_tensor *ins[KC_MAX_LAYER_OUTPUTS];
        int n_in = 0;
        if (r->golden) {
            su_check_golden(m, io_path, ins, &n_in);
            matched++;
        }
        bool has_opt = strcmp(r->optimizer, "—") != 0;
        ck_assert(has_opt == kc_model_is_compiled(m));
        if (has_opt) assert_optimizer_matches_file(m, path, r->optimizer);
        for (int k = 0; k < n_in; k++) kc_tensor_unref(ins[k]);
        /* both formats keep the config, every weight and optimizer weight
         * bit for bit (so the predictions too: the image models would take
         * seconds each to show it in a debug build) */
        static const char *const out[] = {"wild_resave.keras", "wild_resave.h5"};
        for (int k = 0; k < 2; k++) {
            kc_object *back = su_save_load(m, out[k], NULL);
            if (has_opt) su_assert_same_optimizer_state(m, back);
            kc_object_unref(back);
        }
        kc_object_unref(m);
    }
    check_readme_counts(n, loads, goldens, matched);
}
END_TEST


/* ---- round trips for every layer kind ----------------------------------------------------------- */


#define SEQ(input, ...) "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"seq\", \"layers\": [" \
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, " input "]}}, " __VA_ARGS__ "]}}"
#define SEQ_NOINPUT(...) "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"outer\", \"layers\": [" __VA_ARGS__ "]}}"
#define L(cls, cfg) "{\"class_name\": \"" cls "\", \"config\": " cfg "}"

/* Dense under an unusual name, BatchNormalization without beta, a frozen
 * layer, PReLU, LayerNormalization, regularizers and constraints. */
static const char dense_bn[] = SEQ("6",
    L("Dense", "{\"name\": \"dense_17\", \"units\": 8, \"activation\": \"relu\", \"kernel_regularizer\": "
               "{\"class_name\": \"L2\", \"config\": {\"l2\": 0.01}}, \"kernel_constraint\": "
               "{\"class_name\": \"MaxNorm\", \"config\": {\"max_value\": 2.0}}}") ", "
    L("BatchNormalization", "{\"center\": false, \"momentum\": 0.9}") ", " L("Dropout", "{\"rate\": 0.3}") ", "
    L("Dense", "{\"units\": 5, \"trainable\": false}") ", " L("PReLU", "{}") ", "
    L("LayerNormalization", "{}") ", " L("Dense", "{\"units\": 3, \"activation\": \"softmax\"}"));

/* Each recurrent layer, and RNN with each cell. */
static const char recurrent[] = SEQ("5, 3",
    L("LSTM", "{\"units\": 4, \"return_sequences\": true}") ", "
    L("GRU", "{\"units\": 4, \"return_sequences\": true, \"reset_after\": true}") ", "
    L("SimpleRNN", "{\"units\": 3, \"return_sequences\": true}") ", "
    L("RNN", "{\"cell\": " L("LSTMCell", "{\"units\": 3}") ", \"return_sequences\": true}") ", "
    L("RNN", "{\"cell\": " L("GRUCell", "{\"units\": 2, \"reset_after\": false}") "}") ", "
    L("Dense", "{\"units\": 2}"));

/* Bidirectional and TimeDistributed. */
static const char wrappers[] = SEQ("5, 3",
    L("Bidirectional", "{\"layer\": " L("LSTM", "{\"units\": 3, \"return_sequences\": true}") "}") ", "
    L("TimeDistributed", "{\"layer\": " L("Dense", "{\"units\": 4, \"activation\": \"tanh\"}") "}") ", "
    L("Bidirectional", "{\"layer\": " L("GRU", "{\"units\": 2}") ", \"merge_mode\": \"sum\"}") ", "
    L("Dense", "{\"units\": 2}"));

/* Convolutions, pooling, Embedding. */
static const char convolutions[] = SEQ("8, 8, 3",
    L("Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}") ", "
    L("DepthwiseConv2D", "{\"kernel_size\": 3, \"depth_multiplier\": 2}") ", "
    L("SeparableConv2D", "{\"filters\": 5, \"kernel_size\": 3, \"padding\": \"same\"}") ", "
    L("MaxPooling2D", "{\"pool_size\": 2}") ", "
    L("Conv2DTranspose", "{\"filters\": 3, \"kernel_size\": 2, \"strides\": 2}") ", "
    L("GlobalAveragePooling2D", "{}") ", " L("Dense", "{\"units\": 2}"));

static const char embedding[] = SEQ("7",
    L("Embedding", "{\"input_dim\": 10, \"output_dim\": 4}") ", " L("SpatialDropout1D", "{\"rate\": 0.2}") ", "
    L("Conv1D", "{\"filters\": 3, \"kernel_size\": 2}") ", " L("GlobalMaxPooling1D", "{}") ", "
    L("Dense", "{\"units\": 2}"));



/* Two inputs, a shared layer, a nested Sequential called twice, a nested
 * Functional model, two outputs. */
static kc_object *nested_and_shared(void)
{
    kc_symbol *a = kc_input(1, (int64_t[]){4}, "left", &err), *b = kc_input(1, (int64_t[]){4}, "right", &err);
    kc_object *shared = su_layer("Dense", "{\"units\": 5, \"activation\": \"tanh\", \"name\": \"shared\"}");
    kc_symbol *ha = kc_apply(shared, &a, 1, &err), *hb = kc_apply(shared, &b, 1, &err);
    kc_object_unref(shared);
    kc_object *inner = kc_sequential_new("inner", &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){5}, NULL, &err), *d = su_layer("Dense", "{\"units\": 3}");
    CK_OK(kc_sequential_add(inner, in, &err));
    CK_OK(kc_sequential_add(inner, d, &err));
    kc_object_unref(in);
    kc_object_unref(d);
    kc_symbol *ia = kc_apply(inner, &ha, 1, &err), *ib = kc_apply(inner, &hb, 1, &err);
    kc_object_unref(inner);
    kc_symbol *fi = kc_input(1, (int64_t[]){3}, "f_in", &err);
    kc_symbol *fo = su_apply(su_layer("Dense", "{\"units\": 2, \"name\": \"f_dense\"}"), &fi, 1);
    kc_object *f = kc_functional_new(&fi, 1, &fo, 1, "sub", &err);
    CK_NN(f, err);
    kc_symbol *fa = kc_apply(f, &ia, 1, &err);
    kc_object_unref(f);
    kc_symbol *both[2] = {ia, ib};
    kc_symbol *cat = su_apply(su_layer("Concatenate", "{}"), both, 2);
    kc_symbol *out = su_apply(su_layer("Dense", "{\"units\": 1, \"name\": \"head\"}"), &cat, 1);
    kc_symbol *ins[2] = {a, b}, *outs[2] = {out, fa};
    kc_object *m = kc_functional_new(ins, 2, outs, 2, "nested", &err);
    CK_NN(m, err);
    kc_symbol *all[] = {a, b, ha, hb, ia, ib, fi, fo, fa, cat, out};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) kc_symbol_unref(all[i]);
    return m;
}

typedef struct zoo_entry {
    const char *name;
    const char *json; /* or NULL: built */
    kc_object *(*build)(void);
    int int_range;
} zoo_entry;

static const zoo_entry zoo[] = {
    {"dense_bn", dense_bn, NULL, 0},         {"recurrent", recurrent, NULL, 0},
    {"wrappers", wrappers, NULL, 0},         {"convolutions", convolutions, NULL, 0},
    {"embedding", embedding, NULL, 10},      {"nested_and_shared", NULL, nested_and_shared, 0},
};
#define N_ZOO ((int)(sizeof zoo / sizeof zoo[0]))

static kc_object *zoo_model(int i)
{
    return zoo[i].json ? su_model_from_json(zoo[i].json) : zoo[i].build();
}

/* Two optimizer steps with random gradients: slots and iterations exist. */
static void optimizer_steps(kc_object *model, int steps, uint64_t seed)
{
    kc_object *opt = kc_model_optimizer(model);
    int n = kc_layer_num_trainable_weights(model);
    kc_variable *vars[128];
    kc_tensor *grads[128];
    ck_assert_int_le(n, 128);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < n; i++) {
            vars[i] = kc_layer_trainable_weight(model, i);
            kc_tensor *v = kc_variable_value(vars[i]);
            grads[i] = tu_random(kc_tensor_ndim(v), kc_tensor_dims(v), -1, 1, seed + (uint64_t)(s * n + i));
        }
        CK_OK(kc_optimizer_apply_gradients(opt, grads, vars, n, &err));
        for (int i = 0; i < n; i++) kc_tensor_unref(grads[i]);
    }
}

static const char adam_spec[] = "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.01, "
                                "\"amsgrad\": true}}, \"loss\": \"mse\"}";

/* .keras keeps config, weights, predictions and optimizer state; a
 * .weights.h5 fills a fresh copy of the model with the same weights and,
 * compiled, the same optimizer state (Keras 3's save_weights keeps it). */
START_TEST(every_layer_kind_round_trips_through_keras3_files)
{
    kc_object *m = zoo_model(_i);
    su_randomize_weights(m, 300 + (uint64_t)_i);
    CK_OK(kc_model_compile(m, adam_spec, NULL, &err));
    optimizer_steps(m, 2, 40);
    kc_tensor *ins[4];
    su_model_inputs(m, 3, zoo[_i].int_range, 9, ins);
    char file[128];
    snprintf(file, sizeof file, "zoo_%s.keras", zoo[_i].name);
    warnings w = {0};
    kc_object *back = su_round_trip(m, file, NULL, ins);
    su_assert_same_optimizer_state(m, back);

    snprintf(file, sizeof file, "zoo_%s.weights.h5", zoo[_i].name);
    CK_OK(kc_model_save_weights(m, su_path(file), NULL, &err));
    json_t *cfg;
    CK_OK(kc_serialize(m, &cfg, &err));
    kc_object *fresh = NULL;
    CK_OK(kc_deserialize(KC_KIND_MODEL, cfg, NULL, &fresh, &err));
    json_decref(cfg);
    CK_OK(kc_model_compile(fresh, adam_spec, NULL, &err));
    kc_weights_options wo = {.warn = collect, .warn_user = &w};
    CK_OK(kc_model_load_weights(fresh, su_path(file), &wo, &err));
    ck_assert_msg(w.n == 0, "%s", w.last);
    su_assert_same_weights(m, fresh);
    su_assert_same_optimizer_state(m, fresh);
    kc_tensor *a[4], *b[4];
    int na = su_predict(m, ins, a), nb = su_predict(fresh, ins, b);
    ck_assert_int_eq(na, nb);
    for (int i = 0; i < na; i++) {
        su_assert_bit_identical(a[i], b[i], "prediction after load_weights");
        kc_tensor_unref(a[i]);
        kc_tensor_unref(b[i]);
    }
    for (int i = 0; i < kc_model_num_inputs(m); i++) kc_tensor_unref(ins[i]);
    kc_object_unref(fresh);
    kc_object_unref(back);
    kc_object_unref(m);
}
END_TEST

/* ---- the layout, as Keras 3 writes it ------------------------------------------------------------ */

/* The dataset at path holds weight `name` of layer `owner` in m. */
static void assert_stored(hid_t h, const char *path, kc_object *m, const char *name)
{
    kc_variable *v = NULL;
    for (int i = 0; i < kc_layer_num_weights(m); i++)
        if (strcmp(kc_variable_name(kc_layer_weight(m, i)), name) == 0) v = kc_layer_weight(m, i);
    ck_assert_msg(v != NULL, "the model has no weight %s", name);
    kc_tensor *t = read_dataset(h, path);
    su_assert_bit_identical(kc_variable_value(v), t, path);
    kc_tensor_unref(t);
}

static int count_members(hid_t h, const char *group)
{
    H5G_info_t info;
    ck_assert_msg(H5Gget_info_by_name(h, group, &info, H5P_DEFAULT) >= 0, "no group %s", group);
    return (int)info.nlinks;
}

/* L1-L5 of doc/keras3-format.md on files ckeras writes. */
START_TEST(weights_are_where_keras3_puts_them)
{
    kc_object *m = su_model_from_json(dense_bn);
    su_randomize_weights(m, 5);
    CK_OK(kc_model_save_weights(m, su_path("layout_dense.weights.h5"), NULL, &err));
    hid_t h = H5Fopen(su_path("layout_dense.weights.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    /* the class name, not the layer name; _1, _2 in model.layers order */
    assert_stored(h, "/layers/dense/vars/0", m, "dense_17/kernel:0");
    assert_stored(h, "/layers/dense/vars/1", m, "dense_17/bias:0");
    /* BatchNormalization: gamma (no beta: center false), moving_mean, moving_variance */
    ck_assert_int_eq(count_members(h, "/layers/batch_normalization/vars"), 3);
    assert_stored(h, "/layers/batch_normalization/vars/0", m, "batch_normalization/gamma:0");
    assert_stored(h, "/layers/batch_normalization/vars/2", m, "batch_normalization/moving_variance:0");
    /* a frozen layer stores its variables in creation order all the same */
    const char *frozen = kc_layer_name(kc_model_layer(m, 3));
    char name[256];
    snprintf(name, sizeof name, "%s/kernel:0", frozen);
    assert_stored(h, "/layers/dense_1/vars/0", m, name);
    snprintf(name, sizeof name, "%s/bias:0", kc_layer_name(kc_model_layer(m, 6)));
    assert_stored(h, "/layers/dense_2/vars/1", m, name);
    ck_assert_int_eq(count_members(h, "/layers/p_re_lu/vars"), 1);
    ck_assert_int_eq(count_members(h, "/layers/layer_normalization/vars"), 2);
    ck_assert_int_eq(count_members(h, "/layers/dropout/vars"), 0);
    ck_assert_int_eq(count_members(h, "/vars"), 0);
    char names[1][256];
    read_names(h, "/layers/dense/vars", "name", names, 1);
    ck_assert_str_eq(names[0], "dense_17");
    H5Fclose(h);
    kc_object_unref(m);

    /* sub-objects: an RNN's cell, Bidirectional's halves, TimeDistributed's layer */
    m = su_model_from_json(wrappers);
    su_randomize_weights(m, 6);
    CK_OK(kc_model_save_weights(m, su_path("layout_wrap.weights.h5"), NULL, &err));
    h = H5Fopen(su_path("layout_wrap.weights.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    const char *bi = kc_layer_name(kc_model_layer(m, 0));
    char fwd[256], bwd[256];
    snprintf(fwd, sizeof fwd, "%s/forward_lstm/lstm_cell/recurrent_kernel:0", bi);
    snprintf(bwd, sizeof bwd, "%s/backward_lstm/lstm_cell/bias:0", bi);
    assert_stored(h, "/layers/bidirectional/forward_layer/cell/vars/1", m, fwd);
    assert_stored(h, "/layers/bidirectional/backward_layer/cell/vars/2", m, bwd);
    ck_assert_int_eq(count_members(h, "/layers/bidirectional/vars"), 0);
    const char *td = kc_layer_name(kc_model_layer(m, 1));
    snprintf(name, sizeof name, "%s/kernel:0", td);
    assert_stored(h, "/layers/time_distributed/layer/vars/0", m, name);
    ck_assert_int_eq(count_members(h, "/layers/bidirectional_1/forward_layer/cell/vars"), 3);
    H5Fclose(h);
    kc_object_unref(m);

    m = su_model_from_json(recurrent);
    CK_OK(kc_model_save_weights(m, su_path("layout_rnn.weights.h5"), NULL, &err));
    h = H5Fopen(su_path("layout_rnn.weights.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    static const char *const cells[] = {"/layers/lstm/cell/vars", "/layers/gru/cell/vars", "/layers/simple_rnn/cell/vars",
                                        "/layers/rnn/cell/vars", "/layers/rnn_1/cell/vars"};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(count_members(h, cells[i]), 3);
    ck_assert_int_eq(count_members(h, "/layers/lstm/vars"), 0);
    H5Fclose(h);
    kc_object_unref(m);

    /* nested models under their group's "layers"; a shared layer once */
    m = nested_and_shared();
    su_randomize_weights(m, 7);
    CK_OK(kc_model_save_weights(m, su_path("layout_nested.weights.h5"), NULL, &err));
    h = H5Fopen(su_path("layout_nested.weights.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_stored(h, "/layers/dense/vars/0", m, "shared/kernel:0");
    ck_assert_int_eq(count_members(h, "/layers/input_layer/vars"), 0);
    ck_assert_int_eq(count_members(h, "/layers/input_layer_1/vars"), 0);
    ck_assert_int_eq(count_members(h, "/layers/sequential/layers/dense/vars"), 2);
    ck_assert_int_eq(count_members(h, "/layers/functional/layers/dense/vars"), 2);
    assert_stored(h, "/layers/functional/layers/dense/vars/1", m, "f_dense/bias:0");
    assert_stored(h, "/layers/dense_1/vars/0", m, "head/kernel:0");
    ck_assert(H5Lexists(h, "/layers/dense_2", H5P_DEFAULT) <= 0);
    H5Fclose(h);
    kc_object_unref(m);
}
END_TEST

/* ---- optimizer state in each layout ------------------------------------------------------------ */

/* The slot loops of each class's build() in tf.keras 2.11+ and Keras 3,
 * written out here on their own (doc/keras3-format.md, O2): one string of
 * ckeras slot names per loop over the variables. */
typedef struct opt_case {
    const char *spec;        /* the optimizer's config */
    const char *loops[3][3]; /* per loop, the slots it creates per variable */
} opt_case;

static const opt_case opt_cases[] = {
    {"{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 0.05, \"momentum\": 0.9, \"nesterov\": true}}",
     {{"momentum"}}},
    {"{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 0.05}}", {{NULL}}},
    {"{\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.01}}", {{"m", "v"}}},
    {"{\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.01, \"amsgrad\": true}}", {{"m", "v"}, {"vhat"}}},
    {"{\"class_name\": \"AdamW\", \"config\": {\"learning_rate\": 0.01, \"weight_decay\": 0.1}}", {{"m", "v"}}},
    {"{\"class_name\": \"Nadam\", \"config\": {\"learning_rate\": 0.01}}", {{"m", "v"}}},
    {"{\"class_name\": \"Adamax\", \"config\": {\"learning_rate\": 0.01}}", {{"m", "v"}}},
    {"{\"class_name\": \"RMSprop\", \"config\": {\"learning_rate\": 0.01, \"momentum\": 0.5, \"centered\": true}}",
     {{"rms"}, {"momentum"}, {"mg"}}},
    {"{\"class_name\": \"RMSprop\", \"config\": {\"learning_rate\": 0.01}}", {{"rms"}}},
    {"{\"class_name\": \"Adagrad\", \"config\": {\"learning_rate\": 0.05}}", {{"accumulator"}}},
    {"{\"class_name\": \"Adadelta\", \"config\": {\"learning_rate\": 1.0}}", {{"accum_grad", "accum_var"}}},
};
#define N_OPT ((int)(sizeof opt_cases / sizeof opt_cases[0]))

static kc_object *small_model(const char *optimizer)
{
    kc_object *m = su_model_from_json(SEQ("3", L("Dense", "{\"units\": 4, \"activation\": \"tanh\"}") ", "
                                      L("BatchNormalization", "{}") ", " L("Dense", "{\"units\": 2}")));
    su_randomize_weights(m, 77);
    char spec[1024];
    snprintf(spec, sizeof spec, "{\"optimizer\": %s, \"loss\": \"mse\"}", optimizer);
    CK_OK(kc_model_compile(m, spec, NULL, &err));
    return m;
}

static void write_string_list(hid_t g, const char *attr, char names[][256], int n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate_simple(1, (hsize_t[]){(hsize_t)n}, NULL);
    const char *ptrs[512];
    for (int i = 0; i < n; i++) ptrs[i] = names[i];
    hid_t a = H5Acreate2(g, attr, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(a, t, ptrs), 0);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

static void write_tensor(hid_t g, const char *name, const kc_tensor *v)
{
    hsize_t dims[8];
    for (int d = 0; d < kc_tensor_ndim(v); d++) dims[d] = (hsize_t)kc_tensor_dims(v)[d];
    bool is_int = kc_tensor_dtype(v) == KC_INT64;
    hid_t sp = kc_tensor_ndim(v) ? H5Screate_simple(kc_tensor_ndim(v), dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(g, name, is_int ? H5T_STD_I64LE : H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    ck_assert_int_ge(H5Dwrite(d, is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                              kc_tensor_cdata(v)), 0);
    H5Dclose(d), H5Pclose(lcpl), H5Sclose(sp);
}

/* Rewrite the optimizer_weights of an .h5 ckeras wrote (Keras 2's layout)
 * in the tf.keras 2.11+ layout ("tf211") or Keras 3's ("keras3"), with
 * their names, as those versions write them; keras_version as given. */
static void rewrite_optimizer_weights(kc_object *m, const opt_case *c, const char *path, const char *layout,
                                      const char *version)
{
    kc_object *opt = kc_model_optimizer(m);
    const char *cls = kc_object_name(opt);
    bool k3 = strcmp(layout, "keras3") == 0;
    static char names[512][256];
    kc_tensor *vals[512];
    int n = 0;
    snprintf(names[n], 256, k3 ? "iteration" : "iteration:0");
    vals[n++] = kc_tensor_ref(kc_optimizer_weight(opt, 0, NULL, 0));
    if (k3) {
        snprintf(names[n], 256, "learning_rate");
        vals[n] = kc_tensor_full(KC_FLOAT32, 0, NULL, (float)kc_optimizer_current_lr(opt), &err);
        CK_NN(vals[n++], err);
    }
    bool nadam = strcmp(cls, "Nadam") == 0;
    if (nadam && k3) { /* Keras 3.0-3.9: u_product before the slots */
        snprintf(names[n], 256, "u_product");
        vals[n++] = kc_tensor_ref(kc_optimizer_weight(opt, 1, NULL, 0));
    }
    for (int l = 0; l < 3 && c->loops[l][0]; l++)
        for (int v = 0; v < kc_layer_num_trainable_weights(m); v++) {
            const char *var = kc_variable_name(kc_layer_trainable_weight(m, v));
            for (int k = 0; k < 3 && c->loops[l][k]; k++) {
                const char *slot = c->loops[l][k];
                char legacy[512];
                snprintf(legacy, sizeof legacy, "%s/%.*s/%s:0", opt ? ((kc_optimizer *)opt)->name : "", (int)strlen(var) - 2, var, slot);
                kc_tensor *t = NULL;
                for (int i = 0; i < kc_optimizer_num_weights(opt) && !t; i++) {
                    char nm[512];
                    kc_tensor *w = kc_optimizer_weight(opt, i, nm, sizeof nm);
                    if (strcmp(nm, legacy) == 0) t = w;
                }
                ck_assert_msg(t != NULL, "no optimizer weight %s", legacy);
                if (k3) {
                    snprintf(names[n], 256, "%.*s_%s", (int)strlen(var) - 2, var, slot);
                    for (char *p = names[n]; *p; p++)
                        if (*p == '/') *p = '_';
                } else {
                    snprintf(names[n], 256, "%s/%s/%s", cls, slot, var);
                }
                vals[n++] = kc_tensor_ref(t);
            }
        }
    hid_t h = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(h, 0);
    ck_assert_int_ge(H5Ldelete(h, "/optimizer_weights", H5P_DEFAULT), 0);
    hid_t g = H5Gcreate2(h, "/optimizer_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; i < n; i++) {
        write_tensor(g, names[i], vals[i]);
        kc_tensor_unref(vals[i]);
    }
    write_string_list(g, "weight_names", names, n);
    H5Gclose(g);
    H5Adelete(h, "keras_version");
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(version));
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(h, "keras_version", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, version);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
    H5Fclose(h);
}

static kc_object *load_quietly(const char *path)
{
    warnings w = {0};
    kc_load_options lo = {.warn = collect, .warn_user = &w};
    kc_object *m = kc_model_load(path, &lo, &err);
    CK_NN(m, err);
    ck_assert_msg(w.n == 0, "%s: %s", path, w.last);
    return m;
}

/* Every optimizer class's state survives each layout: a .keras archive
 * (Keras 3's), and .h5 files in the three layouts real files have. */
START_TEST(optimizer_state_round_trips_in_every_layout)
{
    const opt_case *c = &opt_cases[_i];
    kc_object *m = small_model(c->spec);
    optimizer_steps(m, 3, 90 + (uint64_t)_i);
    char file[64];
    snprintf(file, sizeof file, "opt_%d.keras", _i);
    CK_OK(kc_model_save(m, su_path(file), NULL, &err));
    kc_object *back = load_quietly(su_path(file));
    su_assert_same_optimizer_state(m, back);
    kc_object_unref(back);

    static const char *const layouts[][2] = {{"legacy", "2.15.0"}, {"tf211", "2.11.0"}, {"keras3", "3.5.0"}};
    for (int l = 0; l < 3; l++) {
        snprintf(file, sizeof file, "opt_%d_%s.h5", _i, layouts[l][0]);
        CK_OK(kc_model_save(m, su_path(file), NULL, &err));
        if (l > 0) rewrite_optimizer_weights(m, c, su_path(file), layouts[l][0], layouts[l][1]);
        back = load_quietly(su_path(file));
        su_assert_same_optimizer_state(m, back);
        kc_object_unref(back);
    }
    kc_object_unref(m);
}
END_TEST

/* A custom optimizer with two slot kinds: Keras' interleaving of its slots
 * is unknown, so ckeras writes and reads them kind after kind. */
typedef struct two_slots {
    kc_optimizer base;
} two_slots;

static int ts_n_slots(const kc_object *self)
{
    (void)self;
    return 2;
}

static const char *ts_slot_name(const kc_object *self, int k)
{
    (void)self;
    return k == 0 ? "a" : "b";
}

static void ts_update(kc_object *self, float *w, const float *g, float *const *slots, int64_t n, double lr, int64_t t)
{
    (void)self, (void)t;
    for (int64_t i = 0; i < n; i++) {
        slots[0][i] = 0.5f * slots[0][i] + g[i];
        slots[1][i] += g[i] * g[i];
        w[i] -= (float)lr * slots[0][i];
    }
}

static const kc_optimizer_methods ts_methods = {.n_slots = ts_n_slots, .slot_name = ts_slot_name, .update = ts_update};
static const kc_class two_slots_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_OPTIMIZER, .name = "Test>TwoSlots",
                                         .size = sizeof(two_slots), .config_version = 1, .methods = &ts_methods};

START_TEST(custom_optimizer_state_round_trips_through_keras_archives)
{
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_NN(co, err);
    CK_OK(kc_custom_objects_add_class(co, NULL, &two_slots_class, &err));
    kc_object *m = su_model_from_json(SEQ("3", L("Dense", "{\"units\": 2}")));
    CK_OK(kc_model_compile(m, "{\"optimizer\": {\"class_name\": \"Test>TwoSlots\", \"config\": {\"learning_rate\": 0.1}}, "
                              "\"loss\": \"mse\"}", co, &err));
    optimizer_steps(m, 2, 31);
    CK_OK(kc_model_save(m, su_path("two_slots.keras"), NULL, &err));
    warnings w = {0};
    kc_load_options lo = {.custom_objects = co, .warn = collect, .warn_user = &w};
    kc_object *back = kc_model_load(su_path("two_slots.keras"), &lo, &err);
    CK_NN(back, err);
    ck_assert_msg(w.n == 0, "%s", w.last);
    su_assert_same_optimizer_state(m, back);
    kc_object_unref(back);
    kc_object_unref(m);
    kc_custom_objects_free(co);
}
END_TEST

/* In a .keras file: vars/0 the iteration count, 1 the learning rate, then
 * Adam's momentum and velocity per variable; RMSprop's loops one after the
 * other (O2, O3). */
START_TEST(keras_archive_optimizer_vars_follow_keras3_order)
{
    for (int which = 0; which < 2; which++) {
        const opt_case *c = &opt_cases[which == 0 ? 3 : 7];
        kc_object *m = small_model(c->spec);
        optimizer_steps(m, 2, 5);
        CK_OK(kc_model_save(m, su_path("order.keras"), NULL, &err));
        hid_t h = open_archive_weights(su_path("order.keras"));
        kc_object *opt = kc_model_optimizer(m);
        kc_tensor *it = read_dataset(h, "/optimizer/vars/0"), *lr = read_dataset(h, "/optimizer/vars/1");
        ck_assert_int_eq(*(int64_t *)kc_tensor_data(it), 2);
        ck_assert_float_eq(*kc_tensor_f32(lr), 0.01f);
        int nv = kc_layer_num_trainable_weights(m), pos = 2;
        for (int l = 0; l < 3 && c->loops[l][0]; l++)
            for (int v = 0; v < nv; v++)
                for (int k = 0; k < 3 && c->loops[l][k]; k++) {
                    char legacy[512], ds[64];
                    const char *var = kc_variable_name(kc_layer_trainable_weight(m, v));
                    snprintf(legacy, sizeof legacy, "%s/%.*s/%s:0", ((kc_optimizer *)opt)->name, (int)strlen(var) - 2,
                             var, c->loops[l][k]);
                    for (int i = 0; i < kc_optimizer_num_weights(opt); i++) {
                        char nm[512];
                        kc_tensor *w = kc_optimizer_weight(opt, i, nm, sizeof nm);
                        if (strcmp(nm, legacy) != 0) continue;
                        snprintf(ds, sizeof ds, "/optimizer/vars/%d", pos);
                        kc_tensor *t = read_dataset(h, ds);
                        su_assert_bit_identical(w, t, legacy);
                        kc_tensor_unref(t);
                    }
                    pos++;
                }
        ck_assert_int_eq(count_members(h, "/optimizer/vars"), pos);
        char names[1][256];
        read_names(h, "/optimizer/vars", "name", names, 1);
        ck_assert_str_eq(names[0], ((kc_optimizer *)opt)->name);
        kc_tensor_unref(it);
        kc_tensor_unref(lr);
        H5Fclose(h);
        kc_object_unref(m);
    }
}
END_TEST

/* ---- hostile archives -------------------------------------------------------------------------- */

/* An entry: data, or n bytes of `fill` produced on the fly (huge entries
 * without huge buffers). */
typedef struct entry_spec {
    const char *name;
    const void *data;
    size_t n;
    int fill;       /* >= 0: n bytes of this value instead of data */
    bool deflate;
} entry_spec;

typedef struct fill_state {
    size_t left;
    int value;
    size_t total;
} fill_state;

static zip_int64_t fill_source(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    fill_state *f = ud;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        f->left = f->total;
        return 0;
    case ZIP_SOURCE_READ: {
        size_t n = len < f->left ? (size_t)len : f->left;
        memset(data, f->value, n);
        f->left -= n;
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;
        zip_stat_init(st);
        st->size = f->total;
        st->valid |= ZIP_STAT_SIZE;
        return sizeof(*st);
    }
    case ZIP_SOURCE_FREE:
        free(f);
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                              ZIP_SOURCE_FREE, -1);
    default:
        return -1;
    }
}

static void make_archive(const char *path, const entry_spec *e, int n)
{
    unlink(path);
    int zerr;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_EXCL, &zerr);
    ck_assert_ptr_nonnull(z);
    for (int i = 0; i < n; i++) {
        zip_source_t *src;
        if (e[i].fill >= 0) {
            fill_state *f = calloc(1, sizeof *f);
            f->total = e[i].n;
            f->value = e[i].fill;
            src = zip_source_function(z, fill_source, f);
        } else {
            src = zip_source_buffer(z, e[i].data, e[i].n, 0);
        }
        ck_assert_ptr_nonnull(src);
        zip_int64_t idx = zip_file_add(z, e[i].name, src, 0);
        ck_assert_int_ge(idx, 0);
        zip_set_file_compression(z, (zip_uint64_t)idx, e[i].deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 1);
    }
    ck_assert_int_eq(zip_close(z), 0);
}

/* Replace every occurrence of `from` in the file by `to` (same length). */
static void rename_in_place(const char *path, const char *from, const char *to)
{
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    char *b = malloc((size_t)n);
    fseek(f, 0, SEEK_SET);
    ck_assert_int_eq(fread(b, 1, (size_t)n, f), n);
    size_t len = strlen(from);
    int hits = 0;
    for (long i = 0; i + (long)len <= n; i++)
        if (memcmp(b + i, from, len) == 0) {
            memcpy(b + i, to, len);
            hits++;
        }
    ck_assert_int_gt(hits, 0);
    fseek(f, 0, SEEK_SET);
    ck_assert_int_eq(fwrite(b, 1, (size_t)n, f), n);
    fclose(f);
    free(b);
}

/* The three entries of a real archive ckeras wrote, as buffers. */
typedef struct parts {
    char *config, *metadata, *weights;
    size_t n_config, n_metadata, n_weights;
} parts;

static char *read_entry(zip_t *z, const char *name, size_t *n)
{
    zip_stat_t st;
    ck_assert_int_eq(zip_stat(z, name, 0, &st), 0);
    char *b = malloc(st.size + 1);
    zip_file_t *f = zip_fopen(z, name, 0);
    ck_assert_int_eq(zip_fread(f, b, st.size), (zip_int64_t)st.size);
    zip_fclose(f);
    *n = st.size;
    return b;
}

static parts valid_parts(void)
{
    kc_object *m = small_model("\"adam\"");
    CK_OK(kc_model_save(m, su_path("valid.keras"), NULL, &err));
    kc_object_unref(m);
    int zerr;
    zip_t *z = zip_open(su_path("valid.keras"), ZIP_RDONLY, &zerr);
    parts p;
    p.config = read_entry(z, "config.json", &p.n_config);
    p.metadata = read_entry(z, "metadata.json", &p.n_metadata);
    p.weights = read_entry(z, "model.weights.h5", &p.n_weights);
    zip_close(z);
    return p;
}

static void free_parts(parts *p)
{
    free(p->config);
    free(p->metadata);
    free(p->weights);
}

/* A load of path fails with code and a message or context holding needle,
 * leaves no file behind, and kc_model_load_weights says the same. */
static void expect_refused(const char *path, const kc_load_options *lo, kc_status code, const char *needle)
{
    kc_error_clear(&err);
    kc_object *m = kc_model_load(path, lo, &err);
    ck_assert_msg(m == NULL, "%s loaded", path);
    CK_ERR(err, code, needle);
}

START_TEST(hostile_archives_are_refused_by_name)
{
    parts p = valid_parts();
    const char *path = su_path("hostile.keras");
    entry_spec base[] = {{"metadata.json", p.metadata, p.n_metadata, -1, false},
                         {"config.json", p.config, p.n_config, -1, false},
                         {"model.weights.h5", p.weights, p.n_weights, -1, false}};
    /* the valid one loads */
    make_archive(path, base, 3);
    kc_object *ok = kc_model_load(path, NULL, &err);
    CK_NN(ok, err);

    /* names Keras never writes: absolute, climbing */
    static const char *const bad_names[] = {"../evil.txt", "/etc/evil", "assets/../../evil", "C:\\evil", "..\\evil"};
    for (int i = 0; i < 5; i++) {
        entry_spec e[4] = {base[0], base[1], base[2], {bad_names[i], "x", 1, -1, false}};
        make_archive(path, e, 4);
        expect_refused(path, NULL, KC_EFORMAT, "path traversal");
    }
    ck_assert_int_ne(access(su_path("../evil.txt"), F_OK), 0);

    /* what Keras 3 refuses: no config.json, no weights, .npz weights */
    make_archive(path, (entry_spec[]){base[0], base[2]}, 2);
    expect_refused(path, NULL, KC_EFORMAT, "without config.json");
    make_archive(path, base, 2);
    expect_refused(path, NULL, KC_EFORMAT, "no model.weights.h5");
    make_archive(path, (entry_spec[]){base[0], base[1], {"model.weights.npz", "x", 1, -1, false}}, 3);
    expect_refused(path, NULL, KC_EUNSUPPORTED, "npz");
    /* the weights entry is not HDF5 */
    make_archive(path, (entry_spec[]){base[0], base[1], {"model.weights.h5", "not hdf5 at all", 15, -1, false}}, 3);
    expect_refused(path, NULL, KC_EFORMAT, "not an HDF5 file");
    /* ... or HDF5's signature and then half a file */
    make_archive(path, (entry_spec[]){base[0], base[1], {"model.weights.h5", p.weights, p.n_weights / 3, -1, false}}, 3);
    expect_refused(path, NULL, KC_EFORMAT, "model.weights.h5");
    /* two entries with one name (libzip writes no such archive: rename
     * the fourth in place) */
    make_archive(path, (entry_spec[]){base[0], base[1], base[2], {"config.jsoX", "{}", 2, -1, false}}, 4);
    rename_in_place(path, "config.jsoX", "config.json");
    expect_refused(path, NULL, KC_EFORMAT, "two entries with one name");

    /* a zip bomb: 64 MiB of zeros in 64 kB, against a 1000-byte budget */
    kc_load_options small = {.max_weight_bytes = 1000};
    make_archive(path, (entry_spec[]){base[0], base[1], {"model.weights.h5", NULL, (size_t)64 << 20, 0, true}}, 3);
    expect_refused(path, &small, KC_ELIMIT, "zip bomb");
    /* stored bytes over the budget */
    make_archive(path, (entry_spec[]){base[0], base[1], {"model.weights.h5", NULL, (size_t)5 << 20, 7, false}}, 3);
    expect_refused(path, &small, KC_ELIMIT, "over the load's budget");
    /* a config.json of 300 MB (compressed to little): refused before it is read */
    struct timespec t0, t1;
    make_archive(path, (entry_spec[]){base[0], {"config.json", NULL, (size_t)300 << 20, ' ', true}, base[2]}, 3);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_refused(path, NULL, KC_ELIMIT, "'config.json'");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_double_lt((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), 1.0);

    /* a truncated central directory */
    make_archive(path, base, 3);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(truncate(path, st.st_size - 30), 0);
    expect_refused(path, NULL, KC_EFORMAT, "central directory is truncated");
    /* sizes that disagree with the central directory: config.json's
     * local header says one byte less */
    make_archive(path, base, 3);
    FILE *f = fopen(path, "r+b");
    unsigned char hdr[30];
    long at = 0;
    for (;;) { /* the local header whose name is config.json */
        ck_assert_int_eq(fseek(f, at, SEEK_SET), 0);
        ck_assert_int_eq(fread(hdr, 1, 30, f), 30);
        ck_assert(hdr[0] == 'P' && hdr[1] == 'K' && hdr[2] == 3 && hdr[3] == 4);
        unsigned nlen = hdr[26] | hdr[27] << 8, xlen = hdr[28] | hdr[29] << 8;
        unsigned csize = (unsigned)hdr[18] | (unsigned)hdr[19] << 8 | (unsigned)hdr[20] << 16 | (unsigned)hdr[21] << 24;
        char name[64] = "";
        ck_assert_int_eq(fread(name, 1, nlen < 63 ? nlen : 63, f), (int)(nlen < 63 ? nlen : 63));
        if (strcmp(name, "config.json") == 0) {
            unsigned usize = (unsigned)hdr[22] | (unsigned)hdr[23] << 8;
            usize -= 1;
            unsigned char b[2] = {(unsigned char)(usize & 255), (unsigned char)(usize >> 8)};
            fseek(f, at + 22, SEEK_SET);
            fwrite(b, 1, 2, f);
            break;
        }
        at += 30 + nlen + xlen + csize;
    }
    fclose(f);
    expect_refused(path, NULL, KC_EFORMAT, "disagree with the central directory");

    /* not files at all */
    const char *fifo = su_path("fifo.keras");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    expect_refused(fifo, NULL, KC_EFORMAT, "a FIFO");
    expect_refused(tu_tmpdir(), NULL, KC_EFORMAT, "a directory");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_model_load_weights(ok, fifo, NULL, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "a FIFO");
    unlink(fifo);

    /* nothing was written beside the archive */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | grep -c tmp) -eq 0", tu_tmpdir());
    ck_assert_int_eq(system(cmd), 0);
    kc_object_unref(ok);
    free_parts(&p);
}
END_TEST

/* ---- the optimizer bomb (issue 15) ---------------------------------------------------------------- */

static size_t live_bytes, peak_bytes;

static void *counting_malloc(size_t n)
{
    size_t *p = malloc(n + 16);
    if (!p) return NULL;
    p[0] = n;
    live_bytes += n;
    if (live_bytes > peak_bytes) peak_bytes = live_bytes;
    return (char *)p + 16;
}

static void counting_free(void *q)
{
    if (!q) return;
    size_t *p = (size_t *)((char *)q - 16);
    live_bytes -= p[0];
    free(p);
}

/* A 20 kB file whose optimizer_weights declare 2 GiB arrays (chunked, never
 * written): the load refuses the state at once, with a warning naming the
 * shape, and never allocates what the file claims. */
START_TEST(optimizer_bomb_is_refused_before_allocating)
{
    kc_object *m = small_model("\"adam\"");
    optimizer_steps(m, 1, 3);
    const char *path = su_path("bomb.h5");
    CK_OK(kc_model_save(m, path, NULL, &err));
    static char names[64][256];
    hid_t h = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    int n = read_names(h, "/optimizer_weights", "weight_names", names, 64);
    for (int i = 1; i < n; i++) {
        char ds[300];
        snprintf(ds, sizeof ds, "/optimizer_weights/%s", names[i]);
        ck_assert_int_ge(H5Ldelete(h, ds, H5P_DEFAULT), 0);
        hsize_t dims[2] = {(hsize_t)1 << 19, 1024}, chunk[2] = {1, 1024};
        hid_t sp = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 2, chunk);
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        hid_t d = H5Dcreate2(h, ds, H5T_IEEE_F32LE, sp, lcpl, dcpl, H5P_DEFAULT);
        ck_assert_int_ge(d, 0);
        H5Dclose(d), H5Pclose(dcpl), H5Pclose(lcpl), H5Sclose(sp);
    }
    H5Fclose(h);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_lt(st.st_size, 64 << 10);

    kc_release_caches();
    live_bytes = peak_bytes = 0;
    kc_set_alloc_funcs(counting_malloc, counting_free);
    warnings w = {0};
    kc_load_options lo = {.warn = collect, .warn_user = &w};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kc_object *back = kc_model_load(path, &lo, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    size_t peak = peak_bytes;
    kc_object_unref(back);
    kc_release_caches();
    kc_set_alloc_funcs(NULL, NULL);
    CK_NN(back, err);
    double ms = 1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec);
    ck_assert_msg(ms < 50, "the load took %.1f ms", ms);
    ck_assert_msg(peak < ((size_t)4 << 20), "the load allocated %zu bytes at its peak", peak);
    ck_assert_int_eq(w.n, 1);
    ck_assert_msg(strstr(w.last, "optimizer state could not be restored") && strstr(w.last, "(524288, 1024)"), "%s",
                  w.last);
    kc_object_unref(m);
}
END_TEST

/* ---- dialects, options, odd layouts ------------------------------------------------------------ */

void kc__h5_fail_write_after(int n); /* test hook of the HDF5 door */

/* Keras 2's get_input_shape_and_dtype and Keras 3's _maybe_rebuild: a
 * Sequential whose first layer is a model with an input takes it. */
START_TEST(sequential_takes_its_input_from_a_nested_model)
{
    static const char *const configs[] = {
        SEQ_NOINPUT(L("Sequential", "{\"name\": \"inner\", \"layers\": [" L("InputLayer", "{\"batch_input_shape\": [null, 4]}")
                                    ", " L("Dense", "{\"units\": 3}") "]}") ", " L("Dense", "{\"units\": 2}")),
        SEQ_NOINPUT(L("Sequential", "{\"name\": \"inner\", \"layers\": ["
                                    L("Dense", "{\"units\": 3, \"batch_input_shape\": [null, 4]}") "]}") ", "
                    L("Dense", "{\"units\": 2}")),
        SEQ_NOINPUT("{\"class_name\": \"Functional\", \"config\": {\"name\": \"f\", \"layers\": ["
                    "{\"class_name\": \"InputLayer\", \"name\": \"i\", \"config\": {\"name\": \"i\", \"batch_input_shape\": "
                    "[null, 4]}, \"inbound_nodes\": []}, {\"class_name\": \"Dense\", \"name\": \"d\", \"config\": {\"name\": "
                    "\"d\", \"units\": 3}, \"inbound_nodes\": [[[\"i\", 0, 0, {}]]]}], \"input_layers\": [[\"i\", 0, 0]], "
                    "\"output_layers\": [[\"d\", 0, 0]]}}, " L("Dense", "{\"units\": 2}")),
    };
    for (int i = 0; i < 3; i++) {
        kc_object *m = su_model_from_json(configs[i]);
        ck_assert_int_eq(kc_model_num_inputs(m), 1);
        kc_shape s = kc_model_input_shape(m, 0);
        ck_assert_int_eq(s.ndim, 2);
        ck_assert_int_eq(s.dims[1], 4);
        ck_assert_int_eq(kc_layer_num_weights(m), 4);
        su_randomize_weights(m, 10 + (uint64_t)i);
        kc_tensor *x = tu_random(2, (int64_t[]){3, 4}, -1, 1, 4);
        kc_object *a = su_round_trip(m, "nested_in.keras", NULL, &x);
        kc_object *b = su_round_trip(m, "nested_in.h5", NULL, &x);
        kc_object_unref(a);
        kc_object_unref(b);
        kc_tensor_unref(x);
        kc_object_unref(m);
    }
    /* without any input shape: no inputs, as in Keras */
    kc_object *m = su_model_from_json(SEQ_NOINPUT(L("Dense", "{\"units\": 2}")));
    ck_assert_int_eq(kc_model_num_inputs(m), 0);
    kc_object_unref(m);
}
END_TEST

static void set_string_attr(hid_t obj, const char *name, const char *value)
{
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(a, t, &value), 0);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

/* Keras 1's TimeDistributedDense(output_dim) is TimeDistributed(Dense): a
 * file saved with TimeDistributed(Dense), rewritten as Keras 1.2.2 wrote
 * it, loads and predicts the same. */
START_TEST(keras1_time_distributed_dense_is_translated)
{
    kc_object *m = su_model_from_json(SEQ("5, 3", L("TimeDistributed", "{\"name\": \"tdd\", \"layer\": "
                                                  L("Dense", "{\"units\": 4, \"activation\": \"tanh\"}") "}")));
    su_randomize_weights(m, 12);
    CK_OK(kc_model_save(m, su_path("tdd.h5"), NULL, &err));
    hid_t h = H5Fopen(su_path("tdd.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    set_string_attr(h, "model_config",
                    "{\"class_name\": \"Sequential\", \"config\": [{\"class_name\": \"TimeDistributedDense\", \"config\": "
                    "{\"name\": \"tdd\", \"output_dim\": 4, \"init\": \"glorot_uniform\", \"activation\": \"tanh\", "
                    "\"W_regularizer\": null, \"b_regularizer\": null, \"activity_regularizer\": null, \"W_constraint\": "
                    "null, \"b_constraint\": null, \"bias\": true, \"input_dim\": 3, \"input_length\": 5, "
                    "\"batch_input_shape\": [null, 5, 3], \"input_dtype\": \"float32\", \"trainable\": true}}]}");
    set_string_attr(h, "keras_version", "1.2.2");
    H5Fclose(h);
    kc_object *k1 = kc_model_load(su_path("tdd.h5"), NULL, &err);
    CK_NN(k1, err);
    ck_assert_str_eq(kc_object_name(kc_model_layer(k1, 0)), "TimeDistributed");
    su_assert_same_weights(m, k1);
    kc_tensor *x = tu_random(3, (int64_t[]){2, 5, 3}, -1, 1, 8), *a[2], *b[2];
    ck_assert_int_eq(su_predict(m, &x, a), 1);
    ck_assert_int_eq(su_predict(k1, &x, b), 1);
    su_assert_bit_identical(a[0], b[0], "TimeDistributedDense");
    kc_tensor *objs[] = {x, a[0], b[0]};
    for (int i = 0; i < 3; i++) kc_tensor_unref(objs[i]);
    kc_object_unref(k1);
    kc_object_unref(m);
}
END_TEST

/* kc_model_save_format overrides the extension; loading goes by
 * content; a weights-only save cannot be an archive. */
START_TEST(the_format_comes_from_content_or_option)
{
    kc_clear_session(); /* the same layer names in every model made here */
    kc_object *m = small_model("\"sgd\"");
    CK_OK(kc_model_save_format(m, su_path("archive.bin"), "keras", NULL, &err));
    CK_OK(kc_model_save_format(m, su_path("legacy.keras"), "h5", NULL, &err));
    kc_h5file *f = kc_h5file_open(su_path("archive.bin"), &err);
    CK_NN(f, err);
    ck_assert_str_eq(kc_h5file_format(f), "keras");
    kc_h5file_close(f);
    f = kc_h5file_open(su_path("legacy.keras"), &err);
    CK_NN(f, err);
    ck_assert_str_eq(kc_h5file_format(f), "h5");
    kc_h5file_close(f);
    kc_object *a = kc_model_load(su_path("archive.bin"), NULL, &err), *b = kc_model_load(su_path("legacy.keras"), NULL, &err);
    CK_NN(a, err);
    CK_NN(b, err);
    su_assert_same_weights(a, b);
    ck_assert_int_eq(kc_model_save_format(m, su_path("x.bin"), "pickle", NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "unknown file format 'pickle'");
    kc_error_clear(&err);
    CK_OK(kc_model_save_weights_format(m, su_path("w_k3.bin"), "weights.h5", NULL, &err));
    kc_h5file *wf = kc_h5file_open(su_path("w_k3.bin"), &err);
    CK_NN(wf, err);
    ck_assert_str_eq(kc_h5file_format(wf), "weights.h5");
    kc_h5file_close(wf);
    ck_assert_int_eq(kc_model_save_weights_format(m, su_path("w.bin"), "keras", NULL, &err), KC_EINVAL);
    kc_error_clear(&err);
    ck_assert_int_eq(kc_model_save_weights(m, su_path("w.keras"), NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "NAME.weights.h5");
    /* save_weights picks Keras 3's layout by name, Keras 2's otherwise */
    CK_OK(kc_model_save_weights(m, su_path("w_legacy.h5"), NULL, &err));
    f = kc_h5file_open(su_path("w_legacy.h5"), &err);
    CK_NN(f, err);
    ck_assert_str_eq(kc_h5file_format(f), "h5");
    kc_h5file_close(f);
    /* a .keras holds weights too: load_weights reads them */
    kc_clear_session();
    kc_object *c = small_model("\"sgd\"");
    su_randomize_weights(c, 99);
    CK_OK(kc_model_load_weights(c, su_path("archive.bin"), NULL, &err));
    su_assert_same_weights(m, c);
    kc_object *objs[] = {m, a, b, c};
    for (int i = 0; i < 4; i++) kc_object_unref(objs[i]);
}
END_TEST

/* W4: Keras 2.13 named the container _layer_checkpoint_dependencies, and
 * files saved on Windows joined paths with backslashes. */
START_TEST(keras_2_13_and_windows_weights_trees_load)
{
    kc_clear_session();
    kc_object *m = small_model("\"sgd\"");
    CK_OK(kc_model_save_weights(m, su_path("w213.weights.h5"), NULL, &err));
    CK_OK(kc_model_save_weights(m, su_path("wwin.weights.h5"), NULL, &err));
    hid_t h = H5Fopen(su_path("w213.weights.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(H5Lmove(h, "/layers", h, "/_layer_checkpoint_dependencies", H5P_DEFAULT, H5P_DEFAULT), 0);
    H5Fclose(h);
    h = H5Fopen(su_path("wwin.weights.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    static const char *const groups[] = {"dense", "dense_1", "batch_normalization"};
    for (int i = 0; i < 3; i++) {
        char from[64], to[64];
        snprintf(from, sizeof from, "/layers/%s", groups[i]);
        snprintf(to, sizeof to, "/layers\\%s", groups[i]);
        ck_assert_int_ge(H5Lmove(h, from, h, to, H5P_DEFAULT, H5P_DEFAULT), 0);
    }
    H5Fclose(h);
    static const char *const files[] = {"w213.weights.h5", "wwin.weights.h5"};
    for (int i = 0; i < 2; i++) {
        kc_clear_session();
        kc_object *fresh = small_model("\"sgd\"");
        su_randomize_weights(fresh, 123);
        CK_OK(kc_model_load_weights(fresh, su_path(files[i]), NULL, &err));
        su_assert_same_weights(m, fresh);
        kc_object_unref(fresh);
    }
    /* and a tree that does not fit: named, nothing loaded */
    kc_object *other = su_model_from_json(SEQ("3", L("Dense", "{\"units\": 5}")));
    ck_assert_int_eq(kc_model_load_weights(other, su_path("w213.weights.h5"), NULL, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "Shape mismatch in '/_layer_checkpoint_dependencies/dense/vars/0'");
    kc_weights_options skip = {.skip_mismatch = true, .warn = collect, .warn_user = &(warnings){0}};
    kc_error_clear(&err);
    CK_OK(kc_model_load_weights(other, su_path("w213.weights.h5"), &skip, &err));
    kc_weights_options by_name = {.by_name = true};
    ck_assert_int_eq(kc_model_load_weights(other, su_path("w213.weights.h5"), &by_name, &err), KC_EUNSUPPORTED);
    kc_object_unref(other);
    kc_object_unref(m);
}
END_TEST

/* A failing .keras save leaves the file it replaces untouched, and no
 * temporary behind. */
START_TEST(a_failed_archive_save_keeps_the_old_file)
{
    kc_object *m = small_model("\"adam\"");
    CK_OK(kc_model_save(m, su_path("keep.keras"), NULL, &err));
    kc_object *changed = small_model("\"adam\"");
    su_randomize_weights(changed, 4242);
    kc__h5_fail_write_after(2);
    ck_assert_int_eq(kc_model_save(changed, su_path("keep.keras"), NULL, &err), KC_EIO);
    kc__h5_fail_write_after(0);
    CK_ERR(err, KC_EIO, "injected write failure");
    kc_object *back = kc_model_load(su_path("keep.keras"), NULL, &err);
    CK_NN(back, err);
    su_assert_same_weights(m, back);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | grep -c tmp) -eq 0", tu_tmpdir());
    ck_assert_int_eq(system(cmd), 0);
    kc_object *objs[] = {m, changed, back};
    for (int i = 0; i < 3; i++) kc_object_unref(objs[i]);
}
END_TEST

static Suite *keras3_suite(void)
{
    Suite *s = suite_create("keras3");
    TCase *tc = tcase_create("real_files");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, keras_wild_files_load_with_optimizer_state);
    suite_add_tcase(s, tc);
    tc = tcase_create("layout");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, every_layer_kind_round_trips_through_keras3_files, 0, N_ZOO);
    tcase_add_test(tc, weights_are_where_keras3_puts_them);
    tcase_add_loop_test(tc, optimizer_state_round_trips_in_every_layout, 0, N_OPT);
    tcase_add_test(tc, keras_archive_optimizer_vars_follow_keras3_order);
    tcase_add_test(tc, custom_optimizer_state_round_trips_through_keras_archives);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hostile_archives_are_refused_by_name);
    tcase_add_test(tc, optimizer_bomb_is_refused_before_allocating);
    suite_add_tcase(s, tc);
    tc = tcase_create("dialects");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sequential_takes_its_input_from_a_nested_model);
    tcase_add_test(tc, keras1_time_distributed_dense_is_translated);
    tcase_add_test(tc, the_format_comes_from_content_or_option);
    tcase_add_test(tc, keras_2_13_and_windows_weights_trees_load);
    tcase_add_test(tc, a_failed_archive_save_keeps_the_old_file);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(keras3_suite)
