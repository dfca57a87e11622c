/* Helpers of the saving suites (see saving_util.h). */
#define _GNU_SOURCE /* memmem */
#include "saving_util.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

const char *su_path(const char *name)
{
    static char bufs[4][4096];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", tu_tmpdir(), name);
    return b;
}

void su_randomize_weights(kc_object *model, uint64_t seed)
{
    kc_error err = {0};
    for (int i = 0; i < kc_layer_num_weights(model); i++) {
        kc_variable *v = kc_layer_weight(model, i);
        kc_tensor *cur = kc_variable_value(v);
        bool var = strstr(kc_variable_name(v), "variance") != NULL;
        kc_tensor *t = tu_random(kc_tensor_ndim(cur), kc_tensor_dims(cur), var ? 0.5f : -1.0f,
                                 var ? 1.5f : 1.0f, seed + (uint64_t)i * 7919u);
        ck_assert_int_eq(kc_variable_assign(v, t, &err), KC_OK);
        kc_tensor_unref(t);
    }
}

void su_assert_bit_identical(const kc_tensor *a, const kc_tensor *b, const char *what)
{
    ck_assert_msg(kc_tensor_same_shape(a, b) && kc_tensor_dtype(a) == kc_tensor_dtype(b),
                  "%s: shapes or dtypes differ", what);
    ck_assert_msg(memcmp(kc_tensor_cdata(a), kc_tensor_cdata(b), kc_tensor_nbytes(a)) == 0,
                  "%s: values differ", what);
}

void su_assert_same_weights(kc_object *a, kc_object *b)
{
    int n = kc_layer_num_weights(a);
    ck_assert_int_eq(n, kc_layer_num_weights(b));
    for (int i = 0; i < n; i++) {
        kc_variable *va = kc_layer_weight(a, i), *vb = kc_layer_weight(b, i);
        ck_assert_str_eq(kc_variable_name(va), kc_variable_name(vb));
        su_assert_bit_identical(kc_variable_value(va), kc_variable_value(vb), kc_variable_name(va));
    }
}

void su_assert_same_config(const kc_object *a, const kc_object *b)
{
    kc_error err = {0};
    json_t *ja = NULL, *jb = NULL;
    ck_assert_int_eq(kc_serialize(a, &ja, &err), KC_OK);
    ck_assert_int_eq(kc_serialize(b, &jb, &err), KC_OK);
    if (!json_equal(ja, jb)) {
        char *ta = json_dumps(ja, JSON_SORT_KEYS), *tb = json_dumps(jb, JSON_SORT_KEYS);
        ck_abort_msg("configs differ:\n%s\n%s", ta, tb);
    }
    json_decref(ja);
    json_decref(jb);
}

void su_model_inputs(kc_object *model, int64_t batch, int int_range, uint64_t seed, kc_tensor **ins)
{
    kc_error err = {0};
    for (int i = 0; i < kc_model_num_inputs(model); i++) {
        kc_shape s = kc_model_input_shape(model, i);
        int64_t dims[KC_MAX_DIMS];
        for (int d = 0; d < s.ndim; d++) dims[d] = s.dims[d] < 0 ? batch : s.dims[d];
        if (int_range <= 0) {
            ins[i] = tu_random(s.ndim, dims, -1.0f, 1.0f, seed + (uint64_t)i);
            continue;
        }
        ins[i] = kc_tensor_empty(KC_INT32, s.ndim, dims, &err);
        CK_NN(ins[i], err);
        kc_rng rng;
        kc_rng_seed(&rng, seed + (uint64_t)i);
        int32_t *p = kc_tensor_data(ins[i]);
        for (int64_t k = 0; k < kc_tensor_size(ins[i]); k++)
            p[k] = (int32_t)kc_rng_below(&rng, (uint64_t)int_range);
    }
}

int su_predict(kc_object *model, kc_tensor *const *ins, kc_tensor **outs)
{
    kc_error err = {0};
    int n = 0;
    kc_status rc = kc_model_predict(model, ins, kc_model_num_inputs(model), 32, outs, &n, &err);
    ck_assert_msg(rc == KC_OK, "predict: %s (%s)", err.message, err.context);
    return n;
}

kc_object *su_round_trip(kc_object *model, const char *file, const kc_custom_objects *co,
                         kc_tensor *const *ins)
{
    kc_error err = {0};
    const char *path = su_path(file);
    kc_status rc = kc_model_save(model, path, NULL, &err);
    ck_assert_msg(rc == KC_OK, "save: %s (%s)", err.message, err.context);
    kc_load_options lo = {.custom_objects = co};
    kc_object *back = kc_model_load(path, &lo, &err);
    CK_NN(back, err);
    su_assert_same_config(model, back);
    su_assert_same_weights(model, back);
    kc_tensor *a[KC_MAX_LAYER_OUTPUTS], *b[KC_MAX_LAYER_OUTPUTS];
    int na = su_predict(model, ins, a), nb = su_predict(back, ins, b);
    ck_assert_int_eq(na, nb);
    for (int i = 0; i < na; i++) {
        su_assert_bit_identical(a[i], b[i], "prediction after load");
        kc_tensor_unref(a[i]);
        kc_tensor_unref(b[i]);
    }
    return back;
}

void su_damage_vlen_layer_names(const char *path, const char *first)
{
    const char *items[2] = {first, "a_second_name"};
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t dim = 2;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    H5Adelete_by_name(f, "/model_weights", "layer_names", H5P_DEFAULT);
    hid_t a = H5Acreate_by_name(f, "/model_weights", "layer_names", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(H5Awrite(a, t, items), 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    H5Fclose(f);
    /* each element is stored as length (4 bytes), collection address (8), index (4) */
    FILE *fp = fopen(path, "r+b");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    char *buf = malloc((size_t)len);
    fseek(fp, 0, SEEK_SET);
    ck_assert_int_eq(fread(buf, 1, (size_t)len, fp), (size_t)len);
    char *gcol = memmem(buf, (size_t)len, "GCOL", 4);
    ck_assert_ptr_nonnull(gcol);
    uint64_t addr = (uint64_t)(gcol - buf), elsewhere = 8;
    long last = 0;
    for (long i = 4; i + 12 <= len; i++) {
        uint64_t v;
        uint32_t l;
        memcpy(&v, buf + i, 8);
        memcpy(&l, buf + i - 4, 4);
        if (v == addr && l == strlen(items[1])) last = i;
    }
    ck_assert_msg(last != 0, "the second string's heap reference was not found");
    fseek(fp, last, SEEK_SET);
    ck_assert_int_eq(fwrite(&elsewhere, 8, 1, fp), 1);
    fclose(fp);
    free(buf);
}
