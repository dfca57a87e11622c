/* The read-only file inspection API (include/ckeras/h5file.h): what
 * kc_model_save writes is listed exactly (names, shapes, dtypes, values
 * bit for bit, optimizer state), real Keras files with unknown classes and
 * weights-only files are read, stored dtypes are named, and hostile files
 * (links, missing groups, huge declared shapes, bad JSON, no Keras
 * attributes) give named errors, never crashes; allocation failures leak
 * nothing. */
#include "saving_util.h"

#include <hdf5.h>
#include <string.h>

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* crafting files may fail on purpose */
}

/* Sequential "net": Input(4) -> Dense(3, "hidden") -> Dense(2, "out"),
 * seeded weights, compiled with Adam; `steps` optimizer steps. */
static kc_object *net(int steps)
{
    kc_object *m = kc_sequential_new("net", &err);
    CK_NN(m, err);
    kc_object *in = kc_input_layer(1, (int64_t[]){4}, NULL, &err);
    kc_object *h = kc_layer_create("Dense", "{\"units\": 3, \"name\": \"hidden\", \"activation\": \"relu\"}", &err);
    kc_object *o = kc_layer_create("Dense", "{\"units\": 2, \"name\": \"out\"}", &err);
    CK_NN(h, err);
    CK_NN(o, err);
    CK_OK(kc_sequential_add(m, in, &err));
    CK_OK(kc_sequential_add(m, h, &err));
    CK_OK(kc_sequential_add(m, o, &err));
    kc_object_unref(in), kc_object_unref(h), kc_object_unref(o);
    su_randomize_weights(m, 7);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"adam\", \"loss\": \"mse\"}", NULL, &err));
    kc_object *opt = kc_model_optimizer(m);
    int n = kc_layer_num_trainable_weights(m);
    kc_variable *vars[8];
    kc_tensor *grads[8];
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < n; i++) {
            vars[i] = kc_layer_trainable_weight(m, i);
            kc_tensor *v = kc_variable_value(vars[i]);
            grads[i] = tu_random(kc_tensor_ndim(v), kc_tensor_dims(v), -1, 1, 100u + (uint64_t)(s * n + i));
        }
        CK_OK(kc_optimizer_apply_gradients(opt, grads, vars, n, &err));
        for (int i = 0; i < n; i++) kc_tensor_unref(grads[i]);
    }
    return m;
}

static kc_h5file *open_ok(const char *path)
{
    kc_h5file *f = kc_h5file_open(path, &err);
    CK_NN(f, err);
    return f;
}

static void assert_weight(const kc_h5file_weight *w, const char *layer, const char *name, const char *path, int ndim,
                          const int64_t *dims, const char *dtype)
{
    ck_assert_str_eq(w->layer, layer);
    ck_assert_str_eq(w->name, name);
    ck_assert_str_eq(w->path, path);
    ck_assert_int_eq(w->ndim, ndim);
    int64_t size = 1;
    for (int d = 0; d < ndim; d++) {
        ck_assert_int_eq(w->dims[d], dims[d]);
        size *= dims[d];
    }
    ck_assert_int_eq(w->size, size);
    ck_assert_str_eq(w->dtype, dtype);
}

/* ---- files ckeras writes ------------------------------------------------------------------------- */

START_TEST(model_file_lists_what_kc_model_save_wrote)
{
    kc_object *m = net(3);
    CK_OK(kc_model_save(m, su_path("net.h5"), NULL, &err));
    kc_h5file *f = open_ok(su_path("net.h5"));
    ck_assert_int_eq(kc_h5file_contents(f), KC_H5FILE_MODEL);
    ck_assert_str_eq(kc_h5file_path(f), su_path("net.h5"));
    ck_assert_str_eq(kc_h5file_keras_version(f), "2.15.0");
    ck_assert_str_eq(kc_h5file_backend(f), "tensorflow");
    ck_assert_str_eq(kc_h5file_weights_group(f), "/model_weights");

    /* layer groups: a Sequential's model.layers (no InputLayer) */
    const kc_h5file_layer *layers;
    size_t nl;
    CK_OK(kc_h5file_layers(f, &layers, &nl, &err));
    ck_assert_uint_eq(nl, 2);
    ck_assert_str_eq(layers[0].name, "hidden");
    ck_assert_str_eq(layers[1].name, "out");
    ck_assert_uint_eq(layers[0].first_weight, 0);
    ck_assert_uint_eq(layers[0].n_weights, 2);
    ck_assert_uint_eq(layers[1].first_weight, 2);

    const kc_h5file_weight *w;
    size_t n;
    CK_OK(kc_h5file_weights(f, &w, &n, &err));
    ck_assert_uint_eq(n, 4);
    assert_weight(&w[0], "hidden", "hidden/kernel:0", "/model_weights/hidden/hidden/kernel:0", 2, (int64_t[]){4, 3}, "float32");
    assert_weight(&w[1], "hidden", "hidden/bias:0", "/model_weights/hidden/hidden/bias:0", 1, (int64_t[]){3}, "float32");
    assert_weight(&w[2], "out", "out/kernel:0", "/model_weights/out/out/kernel:0", 2, (int64_t[]){3, 2}, "float32");
    ck_assert_int_eq(w[0].nbytes, 48);
    /* the values, bit for bit */
    for (int i = 0; i < 4; i++) {
        kc_tensor *t;
        CK_OK(kc_h5file_read(f, &w[i], &t, &err));
        ck_assert_int_eq(kc_tensor_dtype(t), KC_FLOAT32);
        su_assert_bit_identical(t, kc_variable_value(kc_layer_weight(m, i)), w[i].name);
        kc_tensor_unref(t);
    }
    /* a second listing is the same (kept with the handle) */
    const kc_h5file_weight *w2;
    size_t n2;
    CK_OK(kc_h5file_weights(f, &w2, &n2, &err));
    ck_assert_ptr_eq(w, w2);
    ck_assert_ptr_eq(kc_h5file_find_weight(f, "out", "out/bias:0"), &w[3]);
    ck_assert_ptr_null(kc_h5file_find_weight(f, "out", "hidden/bias:0"));
    ck_assert_ptr_null(kc_h5file_find_weight(f, "nope", "out/bias:0"));

    /* the optimizer state: the iteration count and Adam's slots, as the optimizer holds them */
    kc_object *opt = kc_model_optimizer(m);
    const kc_h5file_weight *ow;
    size_t no;
    CK_OK(kc_h5file_optimizer_weights(f, &ow, &no, &err));
    ck_assert_int_eq((int)no, kc_optimizer_num_weights(opt));
    for (size_t i = 0; i < no; i++) {
        char name[256];
        kc_tensor *want = kc_optimizer_weight(opt, (int)i, name, sizeof name), *got;
        ck_assert_str_eq(ow[i].name, name);
        ck_assert_str_eq(ow[i].layer, "");
        CK_OK(kc_h5file_read(f, &ow[i], &got, &err));
        ck_assert_int_eq(kc_tensor_dtype(got), i == 0 ? KC_INT64 : KC_FLOAT32);
        ck_assert_str_eq(ow[i].dtype, i == 0 ? "int64" : "float32");
        if (i == 0) ck_assert_int_eq((int64_t)kc_tensor_get(got, 0), 3);
        else su_assert_bit_identical(got, want, name);
        kc_tensor_unref(got);
    }

    /* JSON attributes */
    json_t *mc, *tc, *none;
    CK_OK(kc_h5file_attr_json(f, "model_config", &mc, &err));
    CK_OK(kc_h5file_attr_json(f, "training_config", &tc, &err));
    CK_OK(kc_h5file_attr_json(f, "no_such_attribute", &none, &err));
    ck_assert_ptr_null(none);
    json_t *want_cfg;
    CK_OK(kc_serialize(m, &want_cfg, &err));
    ck_assert_msg(json_equal(mc, want_cfg), "model_config differs from kc_serialize");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(tc, "optimizer_config"), "class_name")), "Adam");
    ck_assert_str_eq(json_string_value(json_object_get(tc, "loss")), "mse");
    json_decref(mc), json_decref(tc), json_decref(want_cfg);
    ck_assert_int_eq(kc_h5file_attr_json(f, "", &none, &err), KC_EINVAL);
    kc_h5file_close(f);
    kc_h5file_close(NULL);
    kc_object_unref(m);
}
END_TEST

START_TEST(weights_only_file_has_its_tree_at_the_root)
{
    kc_object *m = net(0);
    CK_OK(kc_model_save_weights(m, su_path("net_weights.h5"), NULL, &err));
    kc_h5file *f = open_ok(su_path("net_weights.h5"));
    ck_assert_int_eq(kc_h5file_contents(f), KC_H5FILE_WEIGHTS);
    ck_assert_str_eq(kc_h5file_weights_group(f), "/");
    ck_assert_str_eq(kc_h5file_keras_version(f), "2.15.0");
    json_t *mc = (json_t *)1;
    CK_OK(kc_h5file_attr_json(f, "model_config", &mc, &err));
    ck_assert_ptr_null(mc);
    const kc_h5file_weight *w;
    size_t n;
    CK_OK(kc_h5file_weights(f, &w, &n, &err));
    ck_assert_uint_eq(n, 4);
    assert_weight(&w[3], "out", "out/bias:0", "/out/out/bias:0", 1, (int64_t[]){2}, "float32");
    kc_tensor *t;
    CK_OK(kc_h5file_read(f, &w[3], &t, &err));
    su_assert_bit_identical(t, kc_variable_value(kc_layer_weight(m, 3)), "out/bias:0");
    kc_tensor_unref(t);
    const kc_h5file_weight *ow;
    size_t no = 99;
    CK_OK(kc_h5file_optimizer_weights(f, &ow, &no, &err));
    ck_assert_uint_eq(no, 0);
    kc_h5file_close(f);

    /* an uncompiled model file has neither training_config nor optimizer state */
    kc_object *plain = kc_sequential_new("plain", &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){2}, NULL, &err), *d = kc_layer_create("Dense", "{\"units\": 1}", &err);
    CK_OK(kc_sequential_add(plain, in, &err));
    CK_OK(kc_sequential_add(plain, d, &err));
    kc_object_unref(in), kc_object_unref(d);
    CK_OK(kc_model_save(plain, su_path("plain.h5"), NULL, &err));
    f = open_ok(su_path("plain.h5"));
    json_t *tc = (json_t *)1;
    CK_OK(kc_h5file_attr_json(f, "training_config", &tc, &err));
    ck_assert_ptr_null(tc);
    CK_OK(kc_h5file_optimizer_weights(f, &ow, &no, &err));
    ck_assert_uint_eq(no, 0);
    kc_h5file_close(f);
    kc_object_unref(plain);
    kc_object_unref(m);
}
END_TEST

/* ---- real Keras files ------------------------------------------------------------------------------- */

START_TEST(keras_file_with_unknown_classes_is_listed)
{
    /* QDense / QActivation are not registered: kc_model_load fails, the file still reads */
    kc_h5file *f = open_ok(tu_data("keras/func_qkeras_dense_k2.2.4-tf_custom.h5"));
    ck_assert_str_eq(kc_h5file_keras_version(f), "2.2.4-tf");
    const kc_h5file_layer *layers;
    size_t nl;
    CK_OK(kc_h5file_layers(f, &layers, &nl, &err));
    const char *names[] = {"input_1", "fc1", "relu1", "fc2", "relu2", "fc3", "relu3", "output", "softmax"};
    ck_assert_uint_eq(nl, 9);
    for (size_t i = 0; i < nl; i++) ck_assert_str_eq(layers[i].name, names[i]);
    ck_assert_uint_eq(layers[0].n_weights, 0);
    ck_assert_uint_eq(layers[1].n_weights, 2);
    const kc_h5file_weight *w;
    size_t n;
    CK_OK(kc_h5file_weights(f, &w, &n, &err));
    ck_assert_uint_eq(n, 8);
    assert_weight(&w[0], "fc1", "fc1_1/kernel:0", "/model_weights/fc1/fc1_1/kernel:0", 2, (int64_t[]){16, 64}, "float32");
    int64_t params = 0;
    for (size_t i = 0; i < n; i++) params += w[i].size;
    ck_assert_int_eq(params, 4389);
    const kc_h5file_weight *ow;
    size_t no;
    CK_OK(kc_h5file_optimizer_weights(f, &ow, &no, &err));
    ck_assert_uint_eq(no, 17);
    assert_weight(&ow[0], "", "Adam/iter:0", "/optimizer_weights/Adam/iter:0", 0, NULL, "int64");
    kc_tensor *it;
    CK_OK(kc_h5file_read(f, &ow[0], &it, &err));
    ck_assert_int_eq(kc_tensor_dtype(it), KC_INT64);
    ck_assert_int_eq(kc_tensor_ndim(it), 0);
    ck_assert_int_gt((int64_t)kc_tensor_get(it, 0), 0);
    kc_tensor_unref(it);
    kc_h5file_close(f);

    /* Keras 1: the version only at the root, no backend; a weights-only file without a version */
    f = open_ok(tu_data("keras/seq_dense_k1.2.2.h5"));
    ck_assert_str_eq(kc_h5file_keras_version(f), "1.2.2");
    ck_assert_ptr_null(kc_h5file_backend(f));
    CK_OK(kc_h5file_weights(f, &w, &n, &err));
    ck_assert_uint_eq(n, 2);
    assert_weight(&w[0], "dense_1", "dense_1_W:0", "/model_weights/dense_1/dense_1_W:0", 2, (int64_t[]){4, 6}, "float32");
    kc_h5file_close(f);
    f = open_ok(tu_data("keras/weightsonly_cnn_k1_noversion.h5"));
    ck_assert_int_eq(kc_h5file_contents(f), KC_H5FILE_WEIGHTS);
    ck_assert_ptr_null(kc_h5file_keras_version(f));
    CK_OK(kc_h5file_layers(f, &layers, &nl, &err));
    ck_assert_uint_eq(nl, 10);
    CK_OK(kc_h5file_weights(f, &w, &n, &err));
    ck_assert_uint_eq(n, 8);
    kc_h5file_close(f);
}
END_TEST

/* ---- crafted files ---------------------------------------------------------------------------------- */

static hid_t create(const char *name)
{
    hid_t f = H5Fcreate(su_path(name), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    return f;
}

/* A vlen string attribute (scalar), or a list of n (n > 0) on obj. */
static void str_attr(hid_t f, const char *obj, const char *name, const char *const *items, int n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t s = n ? H5Screate_simple(1, (hsize_t[]){(hsize_t)n}, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f, obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(H5Awrite(a, t, items), 0);
    H5Aclose(a), H5Sclose(s), H5Tclose(t);
}

static void group(hid_t f, const char *path)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(f, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(g, 0);
    H5Gclose(g), H5Pclose(lcpl);
}

/* A dataset of type ftype; data (memtype) may be NULL: nothing written. */
static void dataset(hid_t f, const char *path, hid_t ftype, int ndim, const hsize_t *dims, hid_t memtype,
                    const void *data, hid_t dcpl)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t s = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f, path, ftype, s, lcpl, dcpl, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    if (data) ck_assert_int_ge(H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Dclose(d), H5Sclose(s), H5Pclose(lcpl);
}

/* A weights-only tree at the root: layer "d" storing "d/w:0" (kept for
 * the caller to create) under layer_names. */
static hid_t weights_file(const char *name)
{
    hid_t f = create(name);
    const char *layers[] = {"d"}, *weights[] = {"d/w:0"}, *version[] = {"2.15.0"};
    str_attr(f, "/", "layer_names", layers, 1);
    str_attr(f, "/", "keras_version", version, 0);
    group(f, "/d");
    str_attr(f, "/d", "weight_names", weights, 1);
    return f;
}

static const kc_h5file_weight *only_weight(kc_h5file *f)
{
    const kc_h5file_weight *w;
    size_t n;
    CK_OK(kc_h5file_weights(f, &w, &n, &err));
    ck_assert_uint_eq(n, 1);
    return w;
}

START_TEST(stored_dtypes_are_named_and_read_converted)
{
    struct {
        const char *dtype;
        hid_t ftype, memtype;
        const void *data;
        kc_dtype read_as;
    } cases[] = {
        {"float64", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (const double[]){0.5, -1.25, 3, 65504}, KC_FLOAT32},
        {"int32", H5T_STD_I32LE, H5T_NATIVE_INT, (const int[]){7, -3, 0, 100000}, KC_INT64},
        {"uint8", H5T_STD_U8LE, H5T_NATIVE_UCHAR, (const unsigned char[]){7, 3, 0, 255}, KC_INT64},
        {"float16", -1, -1, (const unsigned short[]){0x3800, 0xBD00, 0x4200, 0x7BFF}, KC_FLOAT32},
    };
    const double want[4][4] = {{0.5, -1.25, 3, 65504}, {7, -3, 0, 100000}, {7, 3, 0, 255}, {0.5, -1.25, 3, 65504}};
    for (int c = 0; c < 4; c++) {
        hid_t half = -1;
        if (cases[c].ftype < 0) { /* IEEE half, as numpy writes float16 */
            half = H5Tcopy(H5T_IEEE_F32LE);
            H5Tset_fields(half, 15, 10, 5, 0, 10);
            H5Tset_precision(half, 16);
            H5Tset_size(half, 2);
            H5Tset_ebias(half, 15);
        }
        hid_t f = weights_file("types.h5");
        dataset(f, "/d/d/w:0", half >= 0 ? half : cases[c].ftype, 2, (hsize_t[]){2, 2}, half >= 0 ? half : cases[c].memtype,
                cases[c].data, H5P_DEFAULT);
        if (half >= 0) H5Tclose(half);
        H5Fclose(f);
        kc_h5file *h = open_ok(su_path("types.h5"));
        const kc_h5file_weight *w = only_weight(h);
        ck_assert_str_eq(w->dtype, cases[c].dtype);
        ck_assert_int_eq(w->nbytes, 4 * (int64_t)H5Tget_size(cases[c].ftype < 0 ? H5T_STD_U16LE : cases[c].ftype));
        kc_tensor *t;
        CK_OK(kc_h5file_read(h, w, &t, &err));
        ck_assert_int_eq(kc_tensor_dtype(t), cases[c].read_as);
        for (int i = 0; i < 4; i++) ck_assert_double_eq(kc_tensor_get(t, i), want[c][i]);
        kc_tensor_unref(t);
        kc_h5file_close(h);
    }

    /* strings are listed, never read as numbers */
    hid_t f = weights_file("strings.h5");
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    dataset(f, "/d/d/w:0", st, 1, (hsize_t[]){2}, st, "abcdefgh", H5P_DEFAULT);
    H5Tclose(st);
    H5Fclose(f);
    kc_h5file *h = open_ok(su_path("strings.h5"));
    const kc_h5file_weight *w = only_weight(h);
    ck_assert_str_eq(w->dtype, "other");
    kc_tensor *t = (kc_tensor *)1;
    ck_assert_int_eq(kc_h5file_read(h, w, &t, &err), KC_EFORMAT);
    ck_assert_ptr_null(t);
    CK_ERR(err, KC_EFORMAT, "does not hold numbers");
    kc_h5file_close(h);
}
END_TEST

START_TEST(huge_declared_shapes_are_listed_but_not_read)
{
    /* 10^12 float32 values declared, nothing stored: a few KB on disk */
    hid_t f = weights_file("huge.h5");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, (hsize_t[]){1, 1000});
    dataset(f, "/d/d/w:0", H5T_IEEE_F32LE, 2, (hsize_t[]){1000000, 1000000}, -1, NULL, dcpl);
    H5Pclose(dcpl);
    H5Fclose(f);
    kc_h5file *h = open_ok(su_path("huge.h5"));
    const kc_h5file_weight *w = only_weight(h);
    ck_assert_int_eq(w->size, 1000000LL * 1000000LL);
    ck_assert_int_eq(w->nbytes, 4 * 1000000LL * 1000000LL);
    kc_tensor *t;
    ck_assert_int_eq(kc_h5file_read(h, w, &t, &err), KC_ELIMIT);
    CK_ERR(err, KC_ELIMIT, "/d/d/w:0");
    CK_ERR(err, KC_ELIMIT, "huge.h5");
    kc_h5file_close(h);

    /* more dimensions than a tensor has: refused when listed */
    f = weights_file("rank9.h5");
    hsize_t dims[9] = {1, 1, 1, 1, 1, 1, 1, 1, 2};
    dataset(f, "/d/d/w:0", H5T_IEEE_F32LE, 9, dims, H5T_NATIVE_FLOAT, (const float[]){1, 2}, H5P_DEFAULT);
    H5Fclose(f);
    h = open_ok(su_path("rank9.h5"));
    kc_error_clear(&err);
    const kc_h5file_weight *list;
    size_t n;
    ck_assert_int_eq(kc_h5file_weights(h, &list, &n, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "rank 9");
    ck_assert_ptr_null(kc_h5file_find_weight(h, "d", "d/w:0"));
    kc_h5file_close(h);
}
END_TEST

START_TEST(broken_trees_give_named_errors)
{
    const kc_h5file_weight *w;
    const kc_h5file_layer *l;
    size_t n;
    /* layer_names lists a group that is not there */
    hid_t f = create("nogroup.h5");
    const char *layers[] = {"d", "ghost"};
    str_attr(f, "/", "layer_names", layers, 2);
    group(f, "/d");
    str_attr(f, "/d", "weight_names", (const char *[]){"d/w:0"}, 1);
    dataset(f, "/d/d/w:0", H5T_IEEE_F32LE, 1, (hsize_t[]){2}, H5T_NATIVE_FLOAT, (const float[]){1, 2}, H5P_DEFAULT);
    H5Fclose(f);
    kc_h5file *h = open_ok(su_path("nogroup.h5"));
    ck_assert_int_eq(kc_h5file_layers(h, &l, &n, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "no group '/ghost'");
    ck_assert_ptr_null(l);
    ck_assert_uint_eq(n, 0);
    /* failures are not kept: asking again fails again */
    kc_error_clear(&err);
    ck_assert_int_eq(kc_h5file_weights(h, &w, &n, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "nogroup.h5");
    kc_h5file_close(h);

    /* weight_names names a dataset that is not there */
    f = weights_file("nodataset.h5");
    H5Fclose(f);
    h = open_ok(su_path("nodataset.h5"));
    kc_error_clear(&err);
    ck_assert_int_eq(kc_h5file_weights(h, &w, &n, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "d/w:0");
    kc_h5file_close(h);

    /* a layer group without weight_names */
    f = create("noweightnames.h5");
    str_attr(f, "/", "layer_names", (const char *[]){"d"}, 1);
    group(f, "/d");
    H5Fclose(f);
    h = open_ok(su_path("noweightnames.h5"));
    kc_error_clear(&err);
    ck_assert_int_eq(kc_h5file_weights(h, &w, &n, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "no weight_names");
    kc_h5file_close(h);

    /* a soft link and an external link in place of the layer group */
    f = create("target.h5");
    group(f, "/d");
    H5Fclose(f);
    const char *kinds[] = {"soft", "external"};
    for (int k = 0; k < 2; k++) {
        f = create("link.h5");
        str_attr(f, "/", "layer_names", (const char *[]){"d"}, 1);
        group(f, "/real");
        str_attr(f, "/real", "weight_names", (const char *[]){"d/w:0"}, 1);
        dataset(f, "/real/d/w:0", H5T_IEEE_F32LE, 1, (hsize_t[]){2}, H5T_NATIVE_FLOAT, (const float[]){1, 2}, H5P_DEFAULT);
        if (k == 0) ck_assert_int_ge(H5Lcreate_soft("/real", f, "/d", H5P_DEFAULT, H5P_DEFAULT), 0);
        else ck_assert_int_ge(H5Lcreate_external(su_path("target.h5"), "/d", f, "/d", H5P_DEFAULT, H5P_DEFAULT), 0);
        H5Fclose(f);
        h = open_ok(su_path("link.h5"));
        kc_error_clear(&err);
        ck_assert_int_eq(kc_h5file_weights(h, &w, &n, &err), KC_EFORMAT);
        CK_ERR(err, KC_EFORMAT, kinds[k]);
        kc_h5file_close(h);
    }
}
END_TEST

START_TEST(files_that_are_not_keras_files_do_not_open)
{
    ck_assert_ptr_null(kc_h5file_open(su_path("missing.h5"), &err));
    CK_ERR(err, KC_EIO, "cannot open");
    CK_ERR(err, KC_EIO, "missing.h5");

    FILE *t = fopen(su_path("text.h5"), "w");
    fputs("not an HDF5 file at all", t);
    fclose(t);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_h5file_open(su_path("text.h5"), &err));
    CK_ERR(err, KC_EFORMAT, "is not an HDF5 file");

    /* a real file cut short */
    FILE *in = fopen(tu_data("keras/seq_dense_nadam_k2.0.9.h5"), "rb");
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, in);
    fclose(in);
    FILE *out = fopen(su_path("cut.h5"), "wb");
    fwrite(buf, 1, len, out);
    fclose(out);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_h5file_open(su_path("cut.h5"), &err));
    CK_ERR(err, KC_EFORMAT, "cut.h5");

    /* HDF5 without Keras' root attributes */
    hid_t f = create("plain.h5");
    group(f, "/data");
    H5Fclose(f);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_h5file_open(su_path("plain.h5"), &err));
    CK_ERR(err, KC_EFORMAT, "not a Keras file");
    CK_ERR(err, KC_EFORMAT, "plain.h5");

    /* a keras_version that is not a string */
    f = create("badversion.h5");
    str_attr(f, "/", "model_config", (const char *[]){"{}"}, 0);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f, "/", "keras_version", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(a, H5T_NATIVE_INT, (const int[]){2}), 0);
    H5Aclose(a), H5Sclose(s), H5Fclose(f);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_h5file_open(su_path("badversion.h5"), &err));
    CK_ERR(err, KC_EFORMAT, "keras_version");

    /* model_config that is not JSON: the file opens, the attribute fails with its name */
    f = create("badjson.h5");
    str_attr(f, "/", "model_config", (const char *[]){"{\"class_name\": \"Sequential\", "}, 0);
    H5Fclose(f);
    kc_error_clear(&err);
    kc_h5file *h = open_ok(su_path("badjson.h5"));
    ck_assert_ptr_null(kc_h5file_weights_group(h));
    json_t *mc = (json_t *)1;
    ck_assert_int_eq(kc_h5file_attr_json(h, "model_config", &mc, &err), KC_EFORMAT);
    ck_assert_ptr_null(mc);
    CK_ERR(err, KC_EFORMAT, "model_config");
    const kc_h5file_weight *w;
    size_t n = 9;
    CK_OK(kc_h5file_weights(h, &w, &n, &err)); /* no /model_weights: nothing stored */
    ck_assert_uint_eq(n, 0);
    kc_h5file_close(h);
}
END_TEST

/* ---- allocation failures ---------------------------------------------------------------------------- */

static const char *sweep_file; /* the file inspect_all reads */

/* Open, list everything and read one weight. */
static kc_status inspect_all(kc_error *e)
{
    kc_h5file *f = kc_h5file_open(sweep_file, e);
    if (!f) return e->code;
    const kc_h5file_weight *w, *ow;
    size_t n, no;
    json_t *mc = NULL;
    kc_tensor *t = NULL;
    kc_status rc = kc_h5file_weights(f, &w, &n, e);
    if (rc == KC_OK) rc = kc_h5file_optimizer_weights(f, &ow, &no, e);
    if (rc == KC_OK) rc = kc_h5file_attr_json(f, "model_config", &mc, e);
    if (rc == KC_OK) rc = kc_h5file_read(f, &w[n - 1], &t, e);
    json_decref(mc);
    kc_tensor_unref(t);
    kc_h5file_close(f);
    return rc;
}

START_TEST(allocation_failures_fail_cleanly)
{
    kc_object *m = net(1);
    CK_OK(kc_model_save(m, su_path("oom.h5"), NULL, &err));
    kc_object_unref(m);
    sweep_file = su_path("oom.h5");
    ck_assert_int_gt(tu_alloc_failure_sweep(inspect_all, 5000), 10);
}
END_TEST

/* Keras 3's files: an archive whose classes are known lists its weights
 * as an .h5 does; with a class unknown, by their place in the tree; a
 * .weights.h5 always by place. config.json is the model_config,
 * compile_config the training_config. */
START_TEST(keras3_files_are_listed_by_model_or_by_place)
{
    kc_object *m = kc_sequential_new("k3", &err);
    kc_object *in = kc_input_layer(1, (int64_t[]){3}, NULL, &err);
    kc_object *lstm = kc_layer_create("LSTM", "{\"units\": 2, \"name\": \"rec\"}", &err);
    kc_object *d = kc_layer_create("Dense", "{\"units\": 1, \"name\": \"head\"}", &err);
    kc_object *r = kc_layer_create("Reshape", "{\"target_shape\": [1, 3]}", &err);
    CK_OK(kc_sequential_add(m, in, &err));
    CK_OK(kc_sequential_add(m, r, &err));
    CK_OK(kc_sequential_add(m, lstm, &err));
    CK_OK(kc_sequential_add(m, d, &err));
    kc_object *objs[] = {in, lstm, d, r};
    for (int i = 0; i < 4; i++) kc_object_unref(objs[i]);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"adam\", \"loss\": \"mse\"}", NULL, &err));
    CK_OK(kc_model_save(m, su_path("k3.keras"), NULL, &err));
    kc_h5file *f = open_ok(su_path("k3.keras"));
    ck_assert_str_eq(kc_h5file_format(f), "keras");
    ck_assert_int_eq(kc_h5file_contents(f), KC_H5FILE_MODEL);
    ck_assert_str_eq(kc_h5file_keras_version(f), "3.10.0");
    json_t *mc, *tc;
    CK_OK(kc_h5file_attr_json(f, "model_config", &mc, &err));
    CK_OK(kc_h5file_attr_json(f, "training_config", &tc, &err));
    ck_assert_str_eq(json_string_value(json_object_get(mc, "module")), "keras");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(tc, "optimizer_config"), "class_name")), "Adam");
    json_decref(mc);
    json_decref(tc);
    const kc_h5file_layer *layers;
    const kc_h5file_weight *w;
    size_t nl, nw;
    CK_OK(kc_h5file_layers(f, &layers, &nl, &err));
    CK_OK(kc_h5file_weights(f, &w, &nw, &err));
    ck_assert_int_eq(nl, 3);
    ck_assert_str_eq(layers[1].name, "rec");
    ck_assert_int_eq(layers[1].n_weights, 3);
    assert_weight(&w[1], "rec", "rec/lstm_cell/recurrent_kernel:0", "/layers/lstm/cell/vars/1", 2, (int64_t[]){2, 8},
                  "float32");
    assert_weight(&w[3], "head", "head/kernel:0", "/layers/dense/vars/0", 2, (int64_t[]){2, 1}, "float32");
    const kc_h5file_weight *ow;
    size_t no;
    CK_OK(kc_h5file_optimizer_weights(f, &ow, &no, &err));
    ck_assert_int_eq(no, 2); /* never stepped: iteration and learning rate (O6) */
    ck_assert_str_eq(ow[0].name, "iteration");
    kc_h5file_close(f);

    /* as stored when the model cannot be built: a class name nobody knows */
    CK_OK(kc_model_save_weights(m, su_path("k3.weights.h5"), NULL, &err));
    f = open_ok(su_path("k3.weights.h5"));
    ck_assert_str_eq(kc_h5file_format(f), "weights.h5");
    ck_assert_int_eq(kc_h5file_contents(f), KC_H5FILE_WEIGHTS);
    CK_OK(kc_h5file_weights(f, &w, &nw, &err));
    ck_assert_int_eq(nw, 5);
    assert_weight(&w[0], "layers/dense", "vars/0", "/layers/dense/vars/0", 2, (int64_t[]){2, 1}, "float32");
    assert_weight(&w[2], "layers/lstm/cell", "vars/0", "/layers/lstm/cell/vars/0", 2, (int64_t[]){3, 8}, "float32");
    CK_OK(kc_h5file_optimizer_weights(f, &ow, &no, &err));
    ck_assert_int_eq(no, 2);
    kc_h5file_close(f);
    kc_object_unref(m);
}
END_TEST

static Suite *h5file_suite(void)
{
    Suite *s = suite_create("h5file");
    TCase *tc = tcase_create("h5file");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, model_file_lists_what_kc_model_save_wrote);
    tcase_add_test(tc, weights_only_file_has_its_tree_at_the_root);
    tcase_add_test(tc, keras_file_with_unknown_classes_is_listed);
    tcase_add_test(tc, keras3_files_are_listed_by_model_or_by_place);
    tcase_add_test(tc, stored_dtypes_are_named_and_read_converted);
    tcase_add_test(tc, huge_declared_shapes_are_listed_but_not_read);
    tcase_add_test(tc, broken_trees_give_named_errors);
    tcase_add_test(tc, files_that_are_not_keras_files_do_not_open);
    tcase_add_test(tc, allocation_failures_fail_cleanly);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(h5file_suite)
