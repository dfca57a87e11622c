/* Saving and loading when things go wrong (issue 6): saves that fail
 * halfway (injected write error, a full disk, a missing folder) keep the
 * previous file and leave no temporary behind; hostile or broken files
 * (truncated, not HDF5, wrong attribute types, datasets disagreeing with
 * the config, absurd sizes, external links and storage, virtual datasets,
 * deep JSON) give named errors -- never a crash, never a leak. Files are
 * crafted with HDF5 directly. */
#define _GNU_SOURCE /* SIGXFSZ, setrlimit, unshare */
#include "saving_util.h"

#include <dirent.h>
#include <hdf5.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* lib/saving/h5io.c's test hook: fail the n-th dataset write from now. */
void kc__h5_fail_write_after(int n);

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our own HDF5 calls may fail on purpose */
}

/* ---- files ------------------------------------------------------------------------------------- */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_all(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    char *buf = read_all(from, &len);
    write_all(to, buf, len);
    free(buf);
}

/* Entries of the scratch folder whose name contains `part`. */
static int count_entries(const char *part)
{
    DIR *d = opendir(tu_tmpdir());
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

/* Sequential: Input(3) -> Dense(units, name "dense"). */
static kc_object *small_model(int64_t units, uint64_t seed)
{
    kc_object *m = kc_sequential_new("small", &err);
    CK_NN(m, err);
    kc_object *in = kc_input_layer(1, (int64_t[]){3}, NULL, &err);
    char cfg[100];
    snprintf(cfg, sizeof cfg, "{\"units\": %lld, \"name\": \"dense\"}", (long long)units);
    kc_object *d = kc_layer_create("Dense", cfg, &err);
    CK_NN(d, err);
    CK_OK(kc_sequential_add(m, in, &err));
    CK_OK(kc_sequential_add(m, d, &err));
    kc_object_unref(in);
    kc_object_unref(d);
    su_randomize_weights(m, seed);
    return m;
}

/* A valid model file to break: its path. */
static const char *base_file(void)
{
    const char *path = su_path("base.h5");
    kc_object *m = small_model(2, 1);
    CK_OK(kc_model_save(m, path, NULL, &err));
    kc_object_unref(m);
    return path;
}

/* Copy base.h5 to name and open the copy for writing. */
static hid_t open_copy(const char *name)
{
    copy_file(base_file(), su_path(name));
    hid_t f = H5Fopen(su_path(name), H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    return f;
}

/* Replace the string attribute `name` of obj with text (vlen string). */
static void set_string_attr(hid_t f, const char *obj, const char *name, const char *text)
{
    if (H5Aexists_by_name(f, obj, name, H5P_DEFAULT) > 0) H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f, obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(H5Awrite(a, t, &text), 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
}

/* Replace attribute `name` of obj with an int array of n values. */
static void set_int_attr(hid_t f, const char *obj, const char *name, int n)
{
    if (H5Aexists_by_name(f, obj, name, H5P_DEFAULT) > 0) H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t s = n ? H5Screate_simple(1, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f, obj, name, H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int vals[4] = {1, 2, 3, 4};
    ck_assert_int_ge(H5Awrite(a, H5T_NATIVE_INT, vals), 0);
    H5Aclose(a);
    H5Sclose(s);
}

static const char *KERNEL = "/model_weights/dense/dense/kernel:0";

/* Replace the kernel dataset with one made by `dcpl` of the given shape. */
static void replace_kernel(hid_t f, int ndim, const hsize_t *dims, hid_t dcpl, bool write)
{
    ck_assert_int_ge(H5Ldelete(f, KERNEL, H5P_DEFAULT), 0);
    hid_t s = H5Screate_simple(ndim, dims, NULL);
    hid_t d = H5Dcreate2(f, KERNEL, H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    if (write) {
        hsize_t n = 1;
        for (int i = 0; i < ndim; i++) n *= dims[i];
        float *zeros = calloc(n, sizeof(float));
        ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros), 0);
        free(zeros);
    }
    H5Dclose(d);
    H5Sclose(s);
}

/* Load must fail with code and a message or context containing needle. */
static void expect_load_error(const char *name, kc_status code, const char *needle)
{
    kc_error_clear(&err);
    kc_object *m = kc_model_load(su_path(name), NULL, &err);
    ck_assert_msg(m == NULL, "%s loaded", name);
    CK_ERR(err, code, needle);
    /* loading only its weights must fail the same way, or load them correctly */
    kc_object *target = small_model(2, 9);
    kc_error_clear(&err);
    kc_status rc = kc_model_load_weights(target, su_path(name), NULL, &err);
    ck_assert_msg(rc == KC_OK ? err.code == KC_OK : err.message[0] != '\0', "%s: load_weights", name);
    kc_object_unref(target);
}

/* ---- saves that fail halfway --------------------------------------------------------------------- */

START_TEST(injected_write_failure_keeps_the_previous_file)
{
    const char *path = su_path("keep.h5");
    kc_object *old = small_model(4, 2), *new_model = small_model(4, 3);
    CK_OK(kc_model_save(old, path, NULL, &err));
    size_t len0;
    char *before = read_all(path, &len0);
    for (int n = 1; n <= 2; n++) { /* the kernel write, then the bias write */
        kc__h5_fail_write_after(n);
        kc_error_clear(&err);
        ck_assert_int_eq(kc_model_save(new_model, path, NULL, &err), KC_EIO);
        CK_ERR(err, KC_EIO, "injected");
        CK_ERR(err, KC_EIO, "keep.h5");
        size_t len1;
        char *after = read_all(path, &len1);
        ck_assert(len0 == len1 && memcmp(before, after, len0) == 0);
        free(after);
        ck_assert_int_eq(count_entries("keep.h5"), 1); /* no temporary left behind */
    }
    kc__h5_fail_write_after(0);
    /* the old file still loads with the old weights; a clean save replaces it */
    kc_object *back = kc_model_load(path, NULL, &err);
    CK_NN(back, err);
    su_assert_same_weights(old, back);
    kc_object_unref(back);
    CK_OK(kc_model_save(new_model, path, NULL, &err));
    back = kc_model_load(path, NULL, &err);
    su_assert_same_weights(new_model, back);
    kc_object_unref(back);
    free(before);
    kc_object_unref(old);
    kc_object_unref(new_model);
}
END_TEST

/* A full disk, simulated with RLIMIT_FSIZE (writes past the limit fail
 * with EFBIG, as ENOSPC would): the save fails, the old file survives. */
START_TEST(full_disk_keeps_the_previous_file)
{
    const char *path = su_path("full.h5");
    kc_object *small = small_model(2, 4), *big = small_model(20000, 5); /* 320 kB of weights */
    CK_OK(kc_model_save(small, path, NULL, &err));
    size_t len0;
    char *before = read_all(path, &len0);

    struct rlimit old_lim, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old_lim;
    lim.rlim_cur = 64 * 1024;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    kc_status rc = kc_model_save(big, path, NULL, &err);
    setrlimit(RLIMIT_FSIZE, &old_lim);
    signal(SIGXFSZ, old_handler);

    ck_assert_int_eq(rc, KC_EIO);
    CK_ERR(err, KC_EIO, "full.h5");
    size_t len1;
    char *after = read_all(path, &len1);
    ck_assert(len0 == len1 && memcmp(before, after, len0) == 0);
    ck_assert_int_eq(count_entries("full.h5"), 1);
    free(before);
    free(after);
    kc_object_unref(small);
    kc_object_unref(big);
}
END_TEST

/* A real full disk: a 256 KiB tmpfs, mounted in a private mount namespace
 * (needs CAP_SYS_ADMIN or user namespaces; skipped with a message if not). */
START_TEST(full_tmpfs_keeps_the_previous_file)
{
    const char *dir = su_path("tmpfs");
    mkdir(dir, 0700);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=256k") != 0) {
        TU_SKIP("cannot mount a tmpfs here (needs CAP_SYS_ADMIN or user namespaces)");
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/m.h5", dir);
    kc_object *small = small_model(2, 4), *big = small_model(20000, 5);
    CK_OK(kc_model_save(small, path, NULL, &err));
    size_t len0;
    char *before = read_all(path, &len0);
    ck_assert_int_eq(kc_model_save(big, path, NULL, &err), KC_EIO);
    CK_ERR(err, KC_EIO, "m.h5");
    CK_ERR(err, KC_EIO, "No space left on device");
    size_t len1;
    char *after = read_all(path, &len1);
    ck_assert(len0 == len1 && memcmp(before, after, len0) == 0);
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));) entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 1);
    kc_object *back = kc_model_load(path, NULL, &err);
    CK_NN(back, err);
    su_assert_same_weights(small, back);
    kc_object_unref(back);
    free(before);
    free(after);
    kc_object_unref(small);
    kc_object_unref(big);
    umount(dir);
}
END_TEST

START_TEST(missing_folder_and_directory_targets_are_errors)
{
    kc_object *m = small_model(2, 6);
    ck_assert_int_eq(kc_model_save(m, su_path("no/such/folder/m.h5"), NULL, &err), KC_EIO);
    CK_ERR(err, KC_EIO, "no/such/folder/m.h5");
    kc_error_clear(&err);
    mkdir(su_path("a_folder"), 0700);
    ck_assert_int_ne(kc_model_save(m, su_path("a_folder"), NULL, &err), KC_OK);
    CK_ERR(err, KC_EIO, "a_folder");
    ck_assert_int_eq(count_entries("a_folder"), 1); /* no temporary left behind */
    kc_error_clear(&err);
    ck_assert_int_ne(kc_model_save(m, NULL, NULL, &err), KC_OK);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_model_load(su_path("missing.h5"), NULL, &err));
    CK_ERR(err, KC_EIO, "missing.h5");
    kc_object_unref(m);
}
END_TEST

/* ---- broken and hostile files ---------------------------------------------------------------------- */

START_TEST(truncated_files_are_errors)
{
    size_t len;
    char *full = read_all(base_file(), &len);
    size_t cuts[] = {0, 7, 512, 2048, len / 3, len / 2, len - 4096, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        if (cuts[i] >= len) continue;
        write_all(su_path("cut.h5"), full, cuts[i]);
        kc_error_clear(&err);
        kc_object *m = kc_model_load(su_path("cut.h5"), NULL, &err);
        ck_assert_msg(m == NULL, "truncated at %zu of %zu bytes and loaded", cuts[i], len);
        ck_assert_msg(err.code == KC_EIO || err.code == KC_EFORMAT, "cut %zu: %s", cuts[i], kc_status_name(err.code));
        CK_ERR(err, err.code, "cut.h5");
    }
    free(full);
}
END_TEST

START_TEST(files_that_are_not_keras_models)
{
    write_all(su_path("text.h5"), "{\"class_name\": \"Sequential\"}\n", 29);
    expect_load_error("text.h5", KC_EFORMAT, "not an HDF5 file");
    /* HDF5 without Keras attributes */
    hid_t f = H5Fcreate(su_path("plain.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    expect_load_error("plain.h5", KC_EFORMAT, "model_config");
}
END_TEST

START_TEST(wrong_attribute_types_are_named)
{
    hid_t f = open_copy("attr1.h5");
    set_int_attr(f, "/", "model_config", 0);
    H5Fclose(f);
    expect_load_error("attr1.h5", KC_EFORMAT, "model_config");

    f = open_copy("attr2.h5");
    set_int_attr(f, "/model_weights", "layer_names", 2);
    H5Fclose(f);
    expect_load_error("attr2.h5", KC_EFORMAT, "layer_names");

    f = open_copy("attr3.h5");
    set_int_attr(f, "/model_weights/dense", "weight_names", 2);
    H5Fclose(f);
    expect_load_error("attr3.h5", KC_EFORMAT, "weight_names");

    f = open_copy("attr4.h5");
    set_string_attr(f, "/", "model_config", "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{]}}");
    H5Fclose(f);
    expect_load_error("attr4.h5", KC_EFORMAT, "model_config");

    f = open_copy("attr5.h5");
    set_string_attr(f, "/", "model_config", "[1, 2, 3]");
    H5Fclose(f);
    expect_load_error("attr5.h5", KC_EFORMAT, "model_config");

    /* a layer name list naming a group that is not there */
    f = open_copy("attr6.h5");
    H5Ldelete(f, "/model_weights/dense", H5P_DEFAULT);
    H5Fclose(f);
    expect_load_error("attr6.h5", KC_EFORMAT, "dense");

    /* a config value of the wrong type, with its JSON path */
    f = open_copy("attr7.h5");
    set_string_attr(f, "/", "model_config",
                    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3]}},"
                    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": \"two\"}}]}}");
    H5Fclose(f);
    expect_load_error("attr7.h5", KC_EFORMAT, "layers[1].config.units");
}
END_TEST

START_TEST(dataset_shape_disagreeing_with_config)
{
    hid_t f = open_copy("shape.h5");
    replace_kernel(f, 2, (hsize_t[]){3, 5}, H5P_DEFAULT, true);
    H5Fclose(f);
    expect_load_error("shape.h5", KC_ESHAPE, "(3, 2)");
    CK_ERR(err, KC_ESHAPE, "(3, 5)");
    CK_ERR(err, KC_ESHAPE, "dense");
    CK_ERR(err, KC_ESHAPE, "kernel");
    kc_error_clear(&err);

    /* a string dataset where floats are expected */
    f = open_copy("dtype.h5");
    H5Ldelete(f, KERNEL, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 4);
    hid_t s = H5Screate_simple(2, (hsize_t[]){3, 2}, NULL);
    hid_t d = H5Dcreate2(f, KERNEL, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(s);
    H5Tclose(t);
    H5Fclose(f);
    expect_load_error("dtype.h5", KC_EFORMAT, "does not hold numbers");
}
END_TEST

/* 10^9 elements: declared by a dataset (chunked, nothing stored) or by the
 * config; refused before anything that size is allocated. */
START_TEST(billion_element_shapes_are_refused_before_allocation)
{
    hid_t f = open_copy("huge_ds.h5");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, (hsize_t[]){1, 1000});
    replace_kernel(f, 2, (hsize_t[]){1000000, 1000}, dcpl, false);
    H5Pclose(dcpl);
    H5Fclose(f);
    expect_load_error("huge_ds.h5", KC_ESHAPE, "(1000000, 1000)");

    f = open_copy("huge_cfg.h5");
    set_string_attr(f, "/", "model_config",
                    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 1000]}},"
                    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 1000000}}]}}");
    H5Fclose(f);
    expect_load_error("huge_cfg.h5", KC_ELIMIT, "dense");

    /* and a caller's tighter budget */
    kc_load_options lo = {.max_weight_bytes = 16};
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_model_load(base_file(), &lo, &err));
    CK_ERR(err, KC_ELIMIT, "dense");
}
END_TEST

START_TEST(links_and_storage_outside_the_file_are_refused)
{
    /* an external link to another file's group */
    copy_file(base_file(), su_path("other.h5"));
    hid_t f = open_copy("extlink.h5");
    H5Ldelete(f, "/model_weights/dense", H5P_DEFAULT);
    ck_assert_int_ge(H5Lcreate_external(su_path("other.h5"), "/model_weights/dense", f, "/model_weights/dense",
                                        H5P_DEFAULT, H5P_DEFAULT), 0);
    H5Fclose(f);
    expect_load_error("extlink.h5", KC_EFORMAT, "link");

    /* a soft link */
    f = open_copy("softlink.h5");
    H5Lmove(f, "/model_weights/dense", f, "/model_weights/elsewhere", H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Lcreate_soft("/model_weights/elsewhere", f, "/model_weights/dense", H5P_DEFAULT, H5P_DEFAULT), 0);
    H5Fclose(f);
    expect_load_error("softlink.h5", KC_EFORMAT, "link");

    /* a dataset stored in an external raw file */
    write_all(su_path("raw.bin"), (const char[24]){0}, 24);
    f = open_copy("extstore.h5");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_external(dcpl, su_path("raw.bin"), 0, 24);
    replace_kernel(f, 2, (hsize_t[]){3, 2}, dcpl, false);
    H5Pclose(dcpl);
    H5Fclose(f);
    expect_load_error("extstore.h5", KC_EFORMAT, "external");

    /* a virtual dataset mapping another file */
    f = open_copy("virtual.h5");
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t vspace = H5Screate_simple(2, (hsize_t[]){3, 2}, NULL);
    H5Pset_virtual(dcpl, vspace, su_path("other.h5"), KERNEL, vspace);
    replace_kernel(f, 2, (hsize_t[]){3, 2}, dcpl, false);
    H5Sclose(vspace);
    H5Pclose(dcpl);
    H5Fclose(f);
    expect_load_error("virtual.h5", KC_EFORMAT, "virtual");
}
END_TEST

START_TEST(deep_json_is_refused)
{
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    hid_t f = open_copy("deep.h5");
    set_string_attr(f, "/", "model_config", deep);
    H5Fclose(f);
    expect_load_error("deep.h5", KC_ELIMIT, "model_config");

    /* inside a valid model: a nested config object 10000 levels deep */
    char *cfg = malloc(20 * 10000 + 400);
    strcpy(cfg, "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": [], \"x\": ");
    char *p = cfg + strlen(cfg);
    for (int i = 0; i < 10000; i++) p += sprintf(p, "{\"a\": ");
    *p++ = '1';
    for (int i = 0; i < 10000; i++) *p++ = '}';
    strcpy(p, "}}");
    f = open_copy("deep2.h5");
    set_string_attr(f, "/", "model_config", cfg);
    H5Fclose(f);
    expect_load_error("deep2.h5", KC_ELIMIT, "model_config");

    /* and in training_config */
    f = open_copy("deep3.h5");
    set_string_attr(f, "/", "training_config", deep);
    H5Fclose(f);
    expect_load_error("deep3.h5", KC_ELIMIT, "training_config");
    free(cfg);
    free(deep);
}
END_TEST

/* Random byte flips in the text a file carries -- the model_config JSON
 * and the layer and weight names -- give a load that succeeds or an error
 * with a message, never a crash (under ASan: never a bad access or leak).
 * Flips in HDF5's own structures are not tried: libhdf5 1.10 itself is not
 * memory-safe on corrupted metadata (see io.h). */
static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t from)
{
    size_t k = strlen(needle);
    for (size_t i = from; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return hay + i;
    return NULL;
}

START_TEST(corrupted_text_never_crashes)
{
    size_t len;
    char *orig = read_all(base_file(), &len);
    /* the spans to corrupt: the JSON text and every name */
    size_t span_at[64], span_len[64];
    int n_spans = 0;
    const char *json = find_bytes(orig, len, "{\"class_name\"", 0);
    ck_assert_ptr_nonnull(json);
    span_at[n_spans] = (size_t)(json - orig);
    span_len[n_spans++] = strnlen(json, len - span_at[0]);
    const char *names[] = {"dense/kernel:0", "dense/bias:0", "dense", "input_1"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        for (const char *p = orig; (p = find_bytes(orig, len, names[k], (size_t)(p - orig))) && n_spans < 64; p++) {
            span_at[n_spans] = (size_t)(p - orig);
            span_len[n_spans++] = strlen(names[k]);
        }
    kc_rng rng;
    kc_rng_seed(&rng, 2026);
    int failed = 0, loaded = 0;
    for (int trial = 0; trial < 300; trial++) {
        char *buf = malloc(len);
        memcpy(buf, orig, len);
        int flips = 1 + (int)kc_rng_below(&rng, 4);
        for (int k = 0; k < flips; k++) {
            int sp = (int)kc_rng_below(&rng, (uint64_t)n_spans);
            size_t at = span_at[sp] + kc_rng_below(&rng, span_len[sp]);
            buf[at] = kc_rng_below(&rng, 4) == 0 ? (char)kc_rng_below(&rng, 256) : buf[at] ^ (char)(1u << kc_rng_below(&rng, 7));
        }
        write_all(su_path("flip.h5"), buf, len);
        free(buf);
        kc_error_clear(&err);
        kc_object *m = kc_model_load(su_path("flip.h5"), NULL, &err);
        if (m) {
            loaded++;
            kc_object_unref(m);
        } else {
            ck_assert_int_ne(err.code, KC_OK);
            ck_assert_msg(err.message[0] != '\0', "an error without a message");
            failed++;
        }
    }
    ck_assert_int_gt(failed, 100); /* most corruptions are caught */
    free(orig);
}
END_TEST


/* ---- issue 15: loader bugs and rough edges ------------------------------------------------------- */

/* Conv2D(2, 1x1) on 3 channels: its layer converts weights on load
 * (convert_weights), the path that multiplied file dimensions unchecked. */
static kc_object *conv_model(void)
{
    kc_object *m = kc_sequential_new("conv", &err);
    CK_NN(m, err);
    kc_object *in = kc_input_layer(3, (int64_t[]){4, 4, 3}, NULL, &err);
    kc_object *c = kc_layer_create("Conv2D", "{\"filters\": 2, \"kernel_size\": 1, \"name\": \"conv\"}", &err);
    CK_NN(c, err);
    CK_OK(kc_sequential_add(m, in, &err));
    CK_OK(kc_sequential_add(m, c, &err));
    kc_object_unref(in);
    kc_object_unref(c);
    return m;
}

/* Bug 2 (UBSan: signed overflow in model_load.c): a dataset whose
 * dimensions are each small enough but whose product overflows int64. */
START_TEST(dimension_products_that_overflow_are_refused)
{
    kc_object *m = conv_model();
    const char *path = su_path("overflow.h5");
    CK_OK(kc_model_save(m, path, NULL, &err));
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    const char *kernel = "/model_weights/conv/conv/kernel:0";
    ck_assert_int_ge(H5Ldelete(f, kernel, H5P_DEFAULT), 0);
    hsize_t dims[4] = {(hsize_t)1 << 32, (hsize_t)1 << 32, 3, 2}, chunk[4] = {1, 1, 1, 1};
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 4, chunk);
    hid_t s = H5Screate_simple(4, dims, NULL);
    hid_t d = H5Dcreate2(f, kernel, H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    H5Dclose(d);
    H5Sclose(s);
    H5Pclose(dcpl);
    H5Fclose(f);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_model_load(path, NULL, &err));
    CK_ERR(err, KC_ELIMIT, "kernel:0");
    /* the inspection API reads the same shape */
    kc_error_clear(&err);
    kc_h5file *hf = kc_h5file_open(path, &err);
    CK_NN(hf, err);
    const kc_h5file_weight *w;
    size_t n;
    ck_assert_int_eq(kc_h5file_weights(hf, &w, &n, &err), KC_ELIMIT);
    kc_h5file_close(hf);
    kc_object_unref(m);
}
END_TEST

/* HDF5 prints errors through a process-wide handler. ckeras silences it
 * during its own calls and leaves the application's handler in place. */
static int app_handler_calls;
static herr_t app_handler(hid_t stack, void *data)
{
    (void)stack, (void)data;
    app_handler_calls++;
    return 0;
}

START_TEST(the_applications_hdf5_error_handler_is_kept)
{
    int marker;
    H5Eset_auto2(H5E_DEFAULT, app_handler, &marker);
    write_all(su_path("junk.h5"), "\x89HDF\r\n\x1a\n not really", 19);
    ck_assert_ptr_null(kc_model_load(su_path("junk.h5"), NULL, &err));
    kc_error_clear(&err);
    kc_object *m = small_model(2, 1);
    CK_OK(kc_model_save(m, su_path("handler.h5"), NULL, &err));
    kc_object *back = kc_model_load(su_path("handler.h5"), NULL, &err);
    CK_NN(back, err);
    H5E_auto2_t fn = NULL;
    void *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    ck_assert_msg(fn == app_handler && data == &marker, "ckeras replaced the application's HDF5 error handler");
    ck_assert_int_eq(app_handler_calls, 0); /* and HDF5 printed nothing during ckeras' calls */
    /* the application's own failing call still reaches its handler */
    ck_assert_int_lt(H5Fopen(su_path("no-such-file.h5"), H5F_ACC_RDONLY, H5P_DEFAULT), 0);
    ck_assert_int_gt(app_handler_calls, 0);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    kc_object_unref(back);
    kc_object_unref(m);
}
END_TEST

/* Bug 3: reading a list of variable-length strings that fails halfway is a
 * clean error. (The strings HDF5 converted before the damage stay in its
 * own conversion buffer -- see h5io.c; the isolation suite checks that an
 * isolated load leaks nothing.) This reader runs in a child process so
 * that HDF5's own leak does not count against this suite. */
START_TEST(a_damaged_vlen_string_list_is_a_clean_error)
{
    copy_file(base_file(), su_path("vlen_damaged.h5"));
    const char *path = su_path("vlen_damaged.h5");
    su_damage_vlen_layer_names(path, "dense");
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        kc_error e = {0};
        kc_object *m = kc_model_load(path, NULL, &e);
        char line[1024];
        int n = snprintf(line, sizeof line, "%d %s (%s)", m ? -1 : (int)e.code, e.message, e.context);
        ssize_t w = write(fds[1], line, (size_t)n);
        _exit(w == n ? 0 : 1);
    }
    close(fds[1]);
    char line[1024] = "";
    ssize_t got = read(fds[0], line, sizeof line - 1);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && got > 0, "the load crashed");
    ck_assert_msg(atoi(line) == KC_EFORMAT, "%s", line);
    ck_assert_msg(strstr(line, "layer_names") && strstr(line, "global heap"), "%s", line);
}
END_TEST

START_TEST(fifo_device_and_directory_are_refused_without_opening)
{
    const char *fifo = su_path("a_fifo.h5");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    /* a FIFO with no writer: HDF5 would wait forever for one */
    kc_object *m = small_model(2, 1);
    ck_assert_ptr_null(kc_model_load(fifo, NULL, &err));
    CK_ERR(err, KC_EFORMAT, "a FIFO");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_model_load_weights(m, fifo, NULL, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "a FIFO");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_h5file_open(fifo, &err));
    CK_ERR(err, KC_EFORMAT, "a FIFO");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_model_load("/dev/null", NULL, &err));
    CK_ERR(err, KC_EFORMAT, "character device");
    kc_error_clear(&err);
    mkdir(su_path("saved_model_dir"), 0700);
    ck_assert_ptr_null(kc_model_load(su_path("saved_model_dir"), NULL, &err));
    CK_ERR(err, KC_EFORMAT, "is a directory");
    kc_object_unref(m);
}
END_TEST

/* A path near PATH_MAX: the message keeps its reason (and the file name). */
START_TEST(long_paths_keep_their_reason)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s", tu_tmpdir());
    char part[201];
    memset(part, 'd', 200);
    part[200] = '\0';
    while (n + 202 < 3900) {
        n += snprintf(path + n, sizeof path - (size_t)n, "/%s", part);
        mkdir(path, 0700);
    }
    snprintf(path + n, sizeof path - (size_t)n, "/the_model_file.h5");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_model_load(path, NULL, &err));
    CK_ERR(err, KC_EIO, "No such file or directory");
    CK_ERR(err, KC_EIO, "the_model_file.h5");
    /* not HDF5 */
    write_all(path, "text, not a model", 17);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_model_load(path, NULL, &err));
    CK_ERR(err, KC_EFORMAT, "is not an HDF5 file");
    /* a save into a folder that does not exist */
    snprintf(path + n, sizeof path - (size_t)n, "/missing/the_model_file.h5");
    kc_object *m = small_model(2, 1);
    kc_error_clear(&err);
    ck_assert_int_eq(kc_model_save(m, path, NULL, &err), KC_EIO);
    CK_ERR(err, KC_EIO, "No such file or directory");
    kc_object_unref(m);
}
END_TEST

/* The disk space a save reserves up front is given back: the file takes
 * about its own size on disk, not the reservation's. */
START_TEST(saved_files_give_back_their_reservation)
{
    kc_object *m = small_model(20000, 3); /* 320 kB of weights, a reservation of about 1.2 MB */
    const char *path = su_path("reserved.h5");
    CK_OK(kc_model_save(m, path, NULL, &err));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_msg((int64_t)st.st_blocks * 512 <= (int64_t)st.st_size + 64 * 1024,
                  "%lld bytes on disk for a %lld-byte file", (long long)st.st_blocks * 512, (long long)st.st_size);
    kc_object_unref(m);
}
END_TEST

/* Weights stored as plain float32 blocks are read at their offset in the
 * file: a file with a user block (its HDF5 data starts 512 bytes in) must
 * still give the same weights. */
static herr_t copy_root_attr(hid_t loc, const char *name, const H5A_info_t *info, void *dst_file)
{
    (void)info;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    size_t n = (size_t)H5Sget_simple_extent_npoints(s) * H5Tget_size(t);
    char *buf = calloc(1, n + 1);
    ck_assert_int_ge(H5Aread(a, t, buf), 0);
    hid_t b = H5Acreate2(*(hid_t *)dst_file, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(b, t, buf), 0);
    H5Aclose(b);
    free(buf);
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return 0;
}

START_TEST(weights_are_found_in_files_with_a_user_block)
{
    kc_object *m = small_model(300, 7);
    CK_OK(kc_model_save(m, su_path("plain.h5"), NULL, &err));
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, 512);
    hid_t dst = H5Fcreate(su_path("userblock.h5"), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    hid_t src = H5Fopen(su_path("plain.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(dst, 0);
    ck_assert_int_ge(H5Ocopy(src, "/model_weights", dst, "/model_weights", H5P_DEFAULT, H5P_DEFAULT), 0);
    hsize_t idx = 0;
    H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_root_attr, &dst);
    H5Fclose(src);
    H5Fclose(dst);
    H5Pclose(fcpl);
    kc_object *back = kc_model_load(su_path("userblock.h5"), NULL, &err);
    CK_NN(back, err);
    su_assert_same_weights(m, back);
    kc_object_unref(back);
    kc_object_unref(m);
}
END_TEST

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool same_weights(kc_object *x, kc_object *y)
{
    if (kc_layer_num_weights(x) != kc_layer_num_weights(y)) return false;
    for (int i = 0; i < kc_layer_num_weights(x); i++) {
        const kc_tensor *a = kc_variable_value(kc_layer_weight(x, i)), *b = kc_variable_value(kc_layer_weight(y, i));
        if (!kc_tensor_same_shape(a, b) || memcmp(kc_tensor_cdata(a), kc_tensor_cdata(b), kc_tensor_nbytes(a)) != 0)
            return false;
    }
    return true;
}

/* Save `model` to path in a child process; kill it with SIGKILL after
 * delay seconds (never, when delay < 0). */
static void save_in_child(kc_object *model, const char *path, double delay)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        kc_error e = {0};
        _exit(kc_model_save(model, path, NULL, &e) == KC_OK ? 0 : 1);
    }
    if (delay >= 0) {
        struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

/* kill -9 at random points of 50 saves over an existing file: the file is
 * always the old or the new one, complete; the temporaries of the killed
 * saves are removed by the next save (in a process started after them). */
START_TEST(saves_killed_at_random_points_keep_a_whole_file)
{
    const char *path = su_path("killed.h5");
    kc_object *models[2] = {small_model(60000, 11), small_model(60000, 12)}; /* 720 kB of weights each */
    CK_OK(kc_model_save(models[0], path, NULL, &err));
    double t0 = seconds_now();
    CK_OK(kc_model_save(models[1], path, NULL, &err));
    double save_time = seconds_now() - t0;
    int current = 1, kept_old = 0, got_new = 0;
    kc_rng rng;
    kc_rng_seed(&rng, 15);
    for (int trial = 0; trial < 50; trial++) {
        int next = 1 - current;
        double delay = save_time * 1.5 * (double)kc_rng_below(&rng, 1000) / 1000.0;
        save_in_child(models[next], path, delay);
        kc_object *back = kc_model_load(path, NULL, &err);
        ck_assert_msg(back != NULL, "trial %d (kill after %.1f ms): %s (%s)", trial, delay * 1e3, err.message, err.context);
        if (same_weights(back, models[next])) {
            current = next;
            got_new++;
        } else {
            ck_assert_msg(same_weights(back, models[current]), "trial %d: neither the old nor the new model", trial);
            kept_old++;
        }
        kc_object_unref(back);
    }
    fprintf(stderr, "kill -9 during 50 saves: %d kept the old file, %d wrote the new one\n", kept_old, got_new);
    /* one more, killed once its temporary exists, so that one is surely
     * left; the save can finish between the look and the kill (its
     * temporary renamed, the next not made yet), then again */
    for (int attempt = 0; attempt < 20 && count_entries("killed.h5.tmp-") == 0; attempt++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            kc_error e = {0};
            for (;;)
                if (kc_model_save(models[current], path, NULL, &e) != KC_OK) _exit(1);
        }
        while (count_entries("killed.h5.tmp-") == 0) sched_yield();
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    ck_assert_int_ge(count_entries("killed.h5.tmp-"), 1);
    struct timespec pause = {0, 30 * 1000 * 1000};
    nanosleep(&pause, NULL); /* the next process starts after every temporary was last written */
    save_in_child(models[current], path, -1);
    ck_assert_int_eq(count_entries("killed.h5.tmp-"), 0);
    /* a temporary whose process is alive is never removed, nor a file that
     * merely looks like one */
    char other[4200];
    snprintf(other, sizeof other, "%s.tmp-%d-1", path, (int)getppid());
    write_all(other, "x", 1);
    snprintf(other, sizeof other, "%s.tmp-999999999-1x", path);
    write_all(other, "x", 1);
    nanosleep(&pause, NULL);
    save_in_child(models[current], path, -1);
    ck_assert_int_eq(count_entries("killed.h5.tmp-"), 2);
    kc_object_unref(models[0]);
    kc_object_unref(models[1]);
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *s = suite_create("saving_faults");
    TCase *tc = tcase_create("faults");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, injected_write_failure_keeps_the_previous_file);
    tcase_add_test(tc, full_disk_keeps_the_previous_file);
    tcase_add_test(tc, missing_folder_and_directory_targets_are_errors);
    tcase_add_test(tc, truncated_files_are_errors);
    tcase_add_test(tc, files_that_are_not_keras_models);
    tcase_add_test(tc, wrong_attribute_types_are_named);
    tcase_add_test(tc, dataset_shape_disagreeing_with_config);
    tcase_add_test(tc, billion_element_shapes_are_refused_before_allocation);
    tcase_add_test(tc, links_and_storage_outside_the_file_are_refused);
    tcase_add_test(tc, deep_json_is_refused);
    tcase_add_test(tc, corrupted_text_never_crashes);
    tcase_add_test(tc, dimension_products_that_overflow_are_refused);
    tcase_add_test(tc, the_applications_hdf5_error_handler_is_kept);
    tcase_add_test(tc, a_damaged_vlen_string_list_is_a_clean_error);
    tcase_add_test(tc, fifo_device_and_directory_are_refused_without_opening);
    tcase_add_test(tc, long_paths_keep_their_reason);
    tcase_add_test(tc, saved_files_give_back_their_reservation);
    tcase_add_test(tc, weights_are_found_in_files_with_a_user_block);
    tcase_add_test(tc, saves_killed_at_random_points_keep_a_whole_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("tmpfs"); /* may not be allowed: a meson test of its own */
    tcase_set_tags(tc, "tmpfs");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, full_tmpfs_keeps_the_previous_file);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(faults_suite)
