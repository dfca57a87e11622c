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

/* The first place where two JSON values differ, as a path, into buf. */
static bool first_difference(const json_t *a, const json_t *b, char *buf, size_t n, size_t at)
{
    if (json_equal((json_t *)a, (json_t *)b)) return false;
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            snprintf(buf + at, n - at, ".%s", k);
            if (first_difference(v, json_object_get(b, k), buf, n, strlen(buf))) return true;
        }
        json_object_foreach((json_t *)b, k, v) {
            snprintf(buf + at, n - at, ".%s", k);
            if (!json_object_get(a, k)) return true;
        }
    } else if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(buf + at, n - at, "[%zu]", i);
            if (first_difference(json_array_get(a, i), json_array_get(b, i), buf, n, strlen(buf))) return true;
        }
    }
    buf[at] = '\0';
    char *ta = a ? json_dumps(a, JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL, *tb = b ? json_dumps(b, JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
    snprintf(buf + at, n - at, ": %.300s -> %.300s", ta ? ta : "(absent)", tb ? tb : "(absent)");
    free(ta);
    free(tb);
    return true;
}

/* A Keras 3 config has no batch_input_shape on layers other than an
 * InputLayer (the model's InputLayer carries the shape): drop those. */
static void drop_layer_input_shapes(json_t *j)
{
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) drop_layer_input_shapes(json_array_get(j, i));
        return;
    }
    if (!json_is_object(j)) return;
    const char *cls = json_string_value(json_object_get(j, "class_name"));
    json_t *cfg = json_object_get(j, "config");
    if (cls && strcmp(cls, "InputLayer") != 0 && json_is_object(cfg)) json_object_del(cfg, "batch_input_shape");
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) drop_layer_input_shapes(v);
}

static void assert_same_config(const kc_object *a, const kc_object *b, bool keras3)
{
    kc_error err = {0};
    json_t *ja = NULL, *jb = NULL;
    ck_assert_int_eq(kc_serialize(a, &ja, &err), KC_OK);
    ck_assert_int_eq(kc_serialize(b, &jb, &err), KC_OK);
    if (keras3) {
        drop_layer_input_shapes(ja);
        drop_layer_input_shapes(jb);
    }
    char where[2048] = "config";
    if (first_difference(ja, jb, where, sizeof where, strlen(where))) ck_abort_msg("configs differ at %s", where);
    json_decref(ja);
    json_decref(jb);
}

void su_assert_same_config(const kc_object *a, const kc_object *b) { assert_same_config(a, b, false); }

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

kc_object *su_save_load(kc_object *model, const char *file, const kc_custom_objects *co)
{
    kc_error err = {0};
    const char *path = su_path(file);
    kc_status rc = kc_model_save(model, path, NULL, &err);
    ck_assert_msg(rc == KC_OK, "save: %s (%s)", err.message, err.context);
    kc_load_options lo = {.custom_objects = co};
    kc_object *back = kc_model_load(path, &lo, &err);
    CK_NN(back, err);
    size_t len = strlen(path);
    assert_same_config(model, back, len > 6 && strcmp(path + len - 6, ".keras") == 0);
    su_assert_same_weights(model, back);
    return back;
}

kc_object *su_round_trip(kc_object *model, const char *file, const kc_custom_objects *co,
                         kc_tensor *const *ins)
{
    kc_object *back = su_save_load(model, file, co);
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

json_t *su_load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &je);
    ck_assert_msg(j != NULL, "%s: %s", path, je.text);
    return j;
}

void su_check_golden(kc_object *m, const char *io_path, kc_tensor **ins, int *n_in)
{
    kc_error err = {0};
    json_t *io = su_load_json(io_path);
    json_t *jin = json_object_get(io, "inputs"), *jout = json_object_get(io, "outputs");
    *n_in = (int)json_array_size(jin);
    ck_assert_int_eq(*n_in, kc_model_num_inputs(m));
    for (int i = 0; i < *n_in; i++)
        ck_assert_int_eq(kc_tensor_from_json(json_array_get(jin, (size_t)i), &ins[i], &err), KC_OK);
    kc_tensor *outs[KC_MAX_LAYER_OUTPUTS];
    int n_out = su_predict(m, ins, outs);
    ck_assert_int_eq(n_out, (int)json_array_size(jout));
    for (int i = 0; i < n_out; i++) {
        kc_tensor *want;
        ck_assert_int_eq(kc_tensor_from_json(json_array_get(jout, (size_t)i), &want, &err), KC_OK);
        tu_assert_tensors_close(outs[i], want, 1e-4, 1e-5, io_path);
        kc_tensor_unref(want);
        kc_tensor_unref(outs[i]);
    }
    json_decref(io);
}

int su_table_row(char *line, char **cols, int max)
{
    if (strncmp(line, "| `", 3) != 0) return 0;
    int n = 0;
    for (char *p = line + 1; n < max && p && *p; n++) {
        cols[n] = p;
        p = strchr(p, '|');
        if (p) *p++ = '\0';
    }
    return n;
}

void su_assert_readme_says(const char *sentence)
{
    const char *root = getenv("CKERAS_SOURCE_ROOT");
    if (!root) return;
    char path[4096];
    static char text[1 << 18];
    snprintf(path, sizeof path, "%s/README.md", root);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    ck_assert_msg(strstr(text, sentence), "README.md should say \"%s\"", sentence);
}

kc_object *su_model_from_json(const char *json)
{
    kc_error err = {0};
    json_t *j = kc_json_parse(json, strlen(json), 0, &err);
    CK_NN(j, err);
    kc_object *m = NULL;
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "model", NULL);
    kc_status rc = kc_deserialize(KC_KIND_MODEL, j, &ctx, &m, &err);
    json_decref(j);
    ck_assert_msg(rc == KC_OK, "%s (%s)", err.message, err.context);
    return m;
}

kc_object *su_layer(const char *cls, const char *cfg)
{
    kc_error err = {0};
    kc_object *l = kc_layer_create(cls, cfg, &err);
    CK_NN(l, err);
    return l;
}

kc_symbol *su_apply(kc_object *l, kc_symbol *const *in, int n)
{
    kc_error err = {0};
    kc_symbol *s = kc_apply(l, in, n, &err);
    CK_NN(s, err);
    kc_object_unref(l);
    return s;
}

void su_write_io(const char *path, kc_object *m, kc_tensor *const *ins, int n_in, kc_tensor *const *outs,
                     int n_out)
{
    kc_error err = {0};
    json_t *root = json_object(), *ji = json_array(), *jo = json_array();
    for (int i = 0; i < n_in; i++) {
        json_t *t;
        ck_assert_int_eq(kc_tensor_to_json(ins[i], kc_model_input_name(m, i), &t, &err), KC_OK);
        json_array_append_new(ji, t);
    }
    for (int i = 0; i < n_out; i++) {
        json_t *t;
        ck_assert_int_eq(kc_tensor_to_json(outs[i], kc_model_output_name(m, i), &t, &err), KC_OK);
        json_array_append_new(jo, t);
    }
    json_object_set_new(root, "inputs", ji);
    json_object_set_new(root, "outputs", jo);
    ck_assert_int_eq(json_dump_file(root, path, JSON_REAL_PRECISION(9)), 0);
    json_decref(root);
}

void su_assert_same_optimizer_state(kc_object *a, kc_object *b)
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
