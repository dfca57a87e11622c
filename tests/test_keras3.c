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
static void setup(void) { kc_error_clear(&err); }

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
        H5Aread(a, m, raw);
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


static void assert_same_optimizer_state(kc_object *a, kc_object *b)
{
    kc_object *oa = kc_model_optimizer(a), *ob = kc_model_optimizer(b);
    ck_assert_ptr_nonnull(oa);
    ck_assert_ptr_nonnull(ob);
    ck_assert_str_eq(kc_object_name(oa), kc_object_name(ob));
    ck_assert_int_eq(kc_optimizer_iterations(oa), kc_optimizer_iterations(ob));
    ck_assert(kc_optimizer_current_lr(oa) == kc_optimizer_current_lr(ob));
    ck_assert_int_eq(kc_optimizer_num_weights(oa), kc_optimizer_num_weights(ob));
    for (int i = 0; i < kc_optimizer_num_weights(oa); i++) {
        char na[256], nb[256];
        kc_tensor *ta = kc_optimizer_weight(oa, i, na, sizeof na), *tb = kc_optimizer_weight(ob, i, nb, sizeof nb);
        ck_assert_str_eq(na, nb);
        su_assert_bit_identical(ta, tb, na);
    }
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
        } else {
            n_in = kc_model_num_inputs(m);
            su_model_inputs(m, 3, 0, 77, ins);
        }
        bool has_opt = strcmp(r->optimizer, "—") != 0;
        ck_assert(has_opt == kc_model_is_compiled(m));
        if (has_opt) assert_optimizer_matches_file(m, path, r->optimizer);
        /* both formats keep every weight, prediction and optimizer weight */
        static const char *const out[] = {"wild_resave.keras", "wild_resave.h5"};
        for (int k = 0; k < 2; k++) {
            kc_object *back = su_round_trip(m, out[k], NULL, ins);
            if (has_opt) assert_same_optimizer_state(m, back);
            kc_object_unref(back);
        }
        for (int k = 0; k < n_in; k++) kc_tensor_unref(ins[k]);
        kc_object_unref(m);
    }
    check_readme_counts(n, loads, goldens, matched);
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
    return s;
}

TU_MAIN(keras3_suite)
