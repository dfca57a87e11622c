/* The object model: classes, registry, custom objects, serialization
 * forms, config getters and JSON text. */
#define _GNU_SOURCE /* malloc_usable_size */
#include "testutil.h"

#include <malloc.h>
#include <stdlib.h>

#include <string.h>

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

/* ---- a user class: a scaled activation with a saved parameter ------------- */

typedef struct scaled_act {
    kc_object base;
    double scale;
} scaled_act;

static kc_tensor *scaled_call(kc_object *self, kc_tensor *x, kc_error *e)
{
    return kc_mul_scalar(x, (float)((scaled_act *)self)->scale, e);
}
static kc_status scaled_init(kc_object *self, kc_error *e)
{
    (void)e;
    ((scaled_act *)self)->scale = 1.0;
    return KC_OK;
}
static kc_status scaled_get_config(const kc_object *self, json_t *cfg, kc_error *e)
{
    return kc_cfg_set_float(cfg, "scale", ((const scaled_act *)self)->scale, e);
}
static kc_status scaled_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                    kc_error *e)
{
    return kc_cfg_float(ctx, cfg, "scale", KC_CFG_REQUIRED, 0, &((scaled_act *)self)->scale, e);
}
static const kc_activation_methods scaled_methods = {scaled_call};
static const kc_class scaled_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_ACTIVATION, .name = "Tests>Scaled",
    .size = sizeof(scaled_act), .config_version = 1, .init = scaled_init,
    .get_config = scaled_get_config, .from_config = scaled_from_config, .methods = &scaled_methods};

/* a different class under the same name */
static const kc_class scaled_impostor = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_ACTIVATION, .name = "Tests>Scaled",
    .size = sizeof(scaled_act), .config_version = 1, .methods = &scaled_methods};

static kc_tensor *cube(kc_tensor *x, void *params, kc_error *e)
{
    (void)params;
    kc_tensor *s = kc_square(x, e);
    kc_tensor *c = kc_mul(s, x, e);
    kc_tensor_unref(s);
    return c;
}
static kc_tensor *times_param(kc_tensor *x, void *params, kc_error *e)
{
    return kc_mul_scalar(x, *(float *)params, e);
}

START_TEST(register_and_find_classes)
{
    CK_OK(kc_init(&err));
    CK_OK(kc_init(&err)); /* idempotent */
    CK_OK(kc_register_class(&scaled_class, &err));
    CK_OK(kc_register_class(&scaled_class, &err)); /* same descriptor: no-op */
    ck_assert_int_eq(kc_register_class(&scaled_impostor, &err), KC_EEXIST);
    CK_ERR(err, KC_EEXIST, "Tests>Scaled");
    ck_assert_ptr_eq(kc_find_class(KC_KIND_ACTIVATION, "Tests>Scaled"), &scaled_class);
    ck_assert_ptr_null(kc_find_class(KC_KIND_LAYER, "Tests>Scaled"));
    ck_assert_ptr_nonnull(kc_find_class(KC_KIND_INITIALIZER, "GlorotUniform"));
    ck_assert_ptr_nonnull(kc_find_class(KC_KIND_INITIALIZER, "glorot_uniform")); /* alias */
}
END_TEST

START_TEST(registration_validates_classes)
{
    kc_class bad = scaled_class;
    bad.name = "has space";
    ck_assert_int_eq(kc_register_class(&bad, &err), KC_EINVAL);
    kc_error_clear(&err);
    bad = scaled_class;
    bad.name = "Tests>Other";
    bad.abi = KC_CLASS_ABI + 1;
    ck_assert_int_eq(kc_register_class(&bad, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "ABI");
    kc_error_clear(&err);
    bad = scaled_class;
    bad.name = "Tests>NoMethods";
    bad.methods = NULL;
    ck_assert_int_eq(kc_register_class(&bad, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "call");
    kc_error_clear(&err);
    bad = scaled_class;
    bad.name = "Tests>Tiny";
    bad.size = 4;
    ck_assert_int_eq(kc_register_class(&bad, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "smaller");
}
END_TEST

START_TEST(functions_register_and_serialize_by_name)
{
    CK_OK(kc_register_function(KC_KIND_ACTIVATION, "Tests>cube", KC_FN(cube), &err));
    CK_OK(kc_register_function(KC_KIND_ACTIVATION, "Tests>cube", KC_FN(cube), &err));
    ck_assert_int_eq(kc_register_function(KC_KIND_ACTIVATION, "Tests>cube", KC_FN(times_param), &err),
                     KC_EEXIST);
    kc_error_clear(&err);
    kc_object *a = kc_activation_get("Tests>cube", &err);
    CK_NN(a, err);
    ck_assert(kc_object_is_function(a));
    json_t *j;
    CK_OK(kc_serialize(a, &j, &err));
    ck_assert_str_eq(json_string_value(j), "Tests>cube");
    json_decref(j);
    kc_tensor *x = TU_T1(2, 2, -1);
    kc_tensor *y = kc_activation_call(a, x, &err);
    tu_assert_close(y, 1, (int64_t[]){2}, (float[]){8, -1}, 0, 0, "cube");
    kc_tensor_unref(y);
    /* Keras 3 function form and the unpackaged name both resolve */
    json_t *k3 = json_pack("{s:s, s:s, s:s, s:s}", "module", "builtins", "class_name", "function",
                           "config", "Tests>cube", "registered_name", "function");
    kc_object *b;
    CK_OK(kc_deserialize(KC_KIND_ACTIVATION, k3, NULL, &b, &err));
    ck_assert_ptr_eq(b, a);
    kc_object_unref(b);
    json_decref(k3);
    kc_object *c = kc_activation_get("cube", &err);
    ck_assert_ptr_eq(c, a);
    kc_object_unref(c);
    kc_object_unref(a);
    kc_tensor_unref(x);
}
END_TEST

START_TEST(class_instances_round_trip_in_both_forms)
{
    CK_OK(kc_register_class(&scaled_class, &err));
    json_t *k2 = json_pack("{s:s, s:{s:f}}", "class_name", "Tests>Scaled", "config", "scale", 2.5);
    kc_object *o;
    CK_OK(kc_deserialize(KC_KIND_ACTIVATION, k2, NULL, &o, &err));
    ck_assert(((scaled_act *)o)->scale == 2.5);
    json_t *back;
    CK_OK(kc_serialize(o, &back, &err));
    ck_assert_msg(json_equal(back, k2), "round trip differs");
    json_decref(back);
    kc_object_unref(o);
    /* Keras 3 form: module + registered_name */
    json_t *k3 = json_pack("{s:n, s:s, s:{s:f}, s:s}", "module", "class_name", "Scaled", "config",
                           "scale", 0.5, "registered_name", "Tests>Scaled");
    CK_OK(kc_deserialize(KC_KIND_ACTIVATION, k3, NULL, &o, &err));
    ck_assert(((scaled_act *)o)->scale == 0.5);
    kc_tensor *x = TU_T1(2, 2, 4);
    kc_tensor *y = kc_activation_call(o, x, &err);
    tu_assert_close(y, 1, (int64_t[]){2}, (float[]){1, 2}, 0, 0, "scaled");
    kc_tensor_unref(y);
    kc_tensor_unref(x);
    kc_object_unref(o);
    json_decref(k2);
    json_decref(k3);
}
END_TEST

START_TEST(unknown_names_are_named_errors_with_paths)
{
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "model_config.config.layers[3].config.activation", NULL);
    json_t *j = json_string("my_softplus");
    kc_object *o;
    ck_assert_int_eq(kc_deserialize(KC_KIND_ACTIVATION, j, &ctx, &o, &err), KC_ENOTFOUND);
    ck_assert_ptr_null(o);
    CK_ERR(err, KC_ENOTFOUND, "Unknown activation 'my_softplus'");
    CK_ERR(err, KC_ENOTFOUND, "custom_objects");
    CK_ERR(err, KC_ENOTFOUND, "layers[3].config.activation");
    json_decref(j);
    kc_error_clear(&err);
    j = json_pack("{s:s, s:{}}", "class_name", "MyInit", "config");
    ck_assert_int_eq(kc_deserialize(KC_KIND_INITIALIZER, j, NULL, &o, &err), KC_ENOTFOUND);
    CK_ERR(err, KC_ENOTFOUND, "Unknown initializer class 'MyInit'. Register it (kc_register_class)");
    json_decref(j);
    kc_error_clear(&err);
    j = json_integer(3);
    ck_assert_int_eq(kc_deserialize(KC_KIND_INITIALIZER, j, NULL, &o, &err), KC_EFORMAT);
    json_decref(j);
    kc_error_clear(&err);
    j = json_pack("{s:i}", "config", 1);
    ck_assert_int_eq(kc_deserialize(KC_KIND_INITIALIZER, j, NULL, &o, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "class_name");
    json_decref(j);
    /* null means "none" */
    kc_error_clear(&err);
    CK_OK(kc_deserialize(KC_KIND_REGULARIZER, json_null(), NULL, &o, &err));
    ck_assert_ptr_null(o);
}
END_TEST

START_TEST(custom_objects_win_and_keep_bound_parameters)
{
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_NN(co, err);
    float *factor = malloc(sizeof(float));
    *factor = 3.0f;
    /* "relu" from custom_objects beats the built-in relu */
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_ACTIVATION, "relu", KC_FN(times_param),
                                         factor, free, &err));
    CK_OK(kc_custom_objects_add_class(co, "Scaled", &scaled_class, &err));
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "config", co);
    json_t *j = json_string("relu");
    kc_object *o;
    CK_OK(kc_deserialize(KC_KIND_ACTIVATION, j, &ctx, &o, &err));
    json_decref(j);
    kc_custom_objects_free(co); /* the loaded object keeps its parameters */
    kc_tensor *x = TU_T1(2, -1, 2);
    kc_tensor *y = kc_activation_call(o, x, &err);
    tu_assert_close(y, 1, (int64_t[]){2}, (float[]){-3, 6}, 0, 0, "bound parameter");
    kc_tensor_unref(y);
    kc_tensor_unref(x);
    json_t *name;
    CK_OK(kc_serialize(o, &name, &err));
    ck_assert_str_eq(json_string_value(name), "relu"); /* saved by name only */
    json_decref(name);
    kc_object_unref(o);
}
END_TEST

START_TEST(custom_class_without_registration)
{
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_class(co, "Local>Scaled", &scaled_class, &err));
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "config", co);
    json_t *j = json_pack("{s:s, s:{s:f}}", "class_name", "Local>Scaled", "config", "scale", 4.0);
    kc_object *o;
    CK_OK(kc_deserialize(KC_KIND_ACTIVATION, j, &ctx, &o, &err));
    ck_assert(((scaled_act *)o)->scale == 4.0);
    kc_object_unref(o);
    /* without the map: unknown */
    ck_assert_int_eq(kc_deserialize(KC_KIND_ACTIVATION, j, NULL, &o, &err), KC_ENOTFOUND);
    json_decref(j);
    kc_custom_objects_free(co);
}
END_TEST

START_TEST(missing_required_key_and_wrong_types)
{
    CK_OK(kc_register_class(&scaled_class, &err));
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "model_config.config.layers[1].config.activation", NULL);
    json_t *j = json_pack("{s:s, s:{}}", "class_name", "Tests>Scaled", "config");
    kc_object *o;
    ck_assert_int_eq(kc_deserialize(KC_KIND_ACTIVATION, j, &ctx, &o, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "layers[1].config.activation.config.scale: missing");
    json_decref(j);
    kc_error_clear(&err);
    j = json_pack("{s:s, s:{s:s}}", "class_name", "Tests>Scaled", "config", "scale", "big");
    ck_assert_int_eq(kc_deserialize(KC_KIND_ACTIVATION, j, &ctx, &o, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "expected a number, got \"big\"");
    json_decref(j);
}
END_TEST

START_TEST(config_getters_report_paths)
{
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "config.layers[3].config", NULL);
    json_t *cfg = json_pack("{s:i, s:f, s:b, s:s, s:[i,i], s:n, s:f}", "units", -2, "rate", 0.5,
                            "flag", 1, "mode", "fan_in", "ks", 3, 4, "seed", "int_as_real", 4.0);
    int64_t i;
    ck_assert_int_eq(kc_cfg_int(&ctx, cfg, "units", KC_CFG_POSITIVE, 1, &i, &err), KC_EFORMAT);
    ck_assert_str_eq(err.message, "config.layers[3].config.units: expected a positive integer, got -2");
    CK_ERR(err, KC_EFORMAT, "config.layers[3].config.units");
    kc_error_clear(&err);
    CK_OK(kc_cfg_int(&ctx, cfg, "int_as_real", KC_CFG_POSITIVE, 1, &i, &err));
    ck_assert_int_eq(i, 4);
    CK_OK(kc_cfg_int(&ctx, cfg, "absent", 0, 7, &i, &err));
    ck_assert_int_eq(i, 7);
    ck_assert_int_eq(kc_cfg_int(&ctx, cfg, "absent", KC_CFG_REQUIRED, 7, &i, &err), KC_EFORMAT);
    kc_error_clear(&err);
    ck_assert_int_eq(kc_cfg_int(&ctx, cfg, "rate", 0, 0, &i, &err), KC_EFORMAT);
    kc_error_clear(&err);
    double d;
    CK_OK(kc_cfg_float(&ctx, cfg, "rate", KC_CFG_POSITIVE, 0, &d, &err));
    ck_assert(d == 0.5);
    bool b;
    CK_OK(kc_cfg_bool(&ctx, cfg, "flag", 0, false, &b, &err));
    ck_assert(b);
    ck_assert_int_eq(kc_cfg_bool(&ctx, cfg, "units", 0, false, &b, &err), KC_EFORMAT);
    kc_error_clear(&err);
    static const char *const modes[] = {"fan_in", "fan_out"};
    int m;
    CK_OK(kc_cfg_choice(&ctx, cfg, "mode", 0, modes, 2, 1, &m, &err));
    ck_assert_int_eq(m, 0);
    static const char *const other[] = {"a", "b"};
    ck_assert_int_eq(kc_cfg_choice(&ctx, cfg, "mode", 0, other, 2, 0, &m, &err), KC_EFORMAT);
    CK_ERR(err, KC_EFORMAT, "one of \"a\", \"b\"");
    kc_error_clear(&err);
    int64_t ks[2];
    CK_OK(kc_cfg_int_tuple(&ctx, cfg, "ks", KC_CFG_POSITIVE, 2, 1, ks, &err));
    ck_assert(ks[0] == 3 && ks[1] == 4);
    CK_OK(kc_cfg_int_tuple(&ctx, cfg, "int_as_real", KC_CFG_POSITIVE, 2, 1, ks, &err));
    ck_assert(ks[0] == 4 && ks[1] == 4);
    ck_assert_int_eq(kc_cfg_int_tuple(&ctx, cfg, "ks", 0, 3, 1, ks, &err), KC_EFORMAT);
    kc_error_clear(&err);
    bool has;
    uint64_t seed;
    CK_OK(kc_cfg_seed(&ctx, cfg, "seed", &has, &seed, &err));
    ck_assert(!has);
    json_decref(cfg);
}
END_TEST

START_TEST(json_reads_and_writes_python_style)
{
    const char *text = "{\"a\": NaN, \"b\": [Infinity, -Infinity, 1e-07], \"c\": \"NaN inside\", "
                       "\"d\": 0.1, \"e\": \"\\u00e9\", \"f\": 1.0, \"g\": 100000000000000000.0}";
    json_t *j = kc_json_parse(text, strlen(text), 0, &err);
    CK_NN(j, err);
    ck_assert_str_eq(json_string_value(json_object_get(j, "c")), "NaN inside");
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "config", NULL);
    double d;
    CK_OK(kc_cfg_float(&ctx, j, "a", 0, 0, &d, &err));
    ck_assert(isnan(d));
    char *out = kc_json_dump(j, &err);
    CK_NN(out, err);
    ck_assert_str_eq(out, "{\"a\": NaN, \"b\": [Infinity, -Infinity, 1e-07], \"c\": \"NaN inside\", "
                          "\"d\": 0.1, \"e\": \"\\u00e9\", \"f\": 1.0, \"g\": 1e+17}");
    kc_json_free(out);
    json_decref(j);
    /* float32-rounded numbers as tf.keras writes them survive exactly */
    json_t *r = json_real((double)0.001f);
    out = kc_json_dump(r, &err);
    ck_assert_str_eq(out, "0.0010000000474974513");
    kc_json_free(out);
    json_decref(r);
    /* errors: bad JSON names line and column; deep nesting is refused */
    ck_assert_ptr_null(kc_json_parse("{\"a\": }", 7, 0, &err));
    CK_ERR(err, KC_EFORMAT, "line 1");
    kc_error_clear(&err);
    char deep[2100];
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = 0;
    ck_assert_ptr_null(kc_json_parse(deep, 2000, 100, &err));
    CK_ERR(err, KC_ELIMIT, "deeper than 100");
}
END_TEST


/* Jansson's memory, counted (malloc_usable_size plus malloc's own header). */
static size_t json_now, json_peak;
static void *counting_malloc(size_t n)
{
    void *p = malloc(n);
    if (p) json_now += malloc_usable_size(p) + 16;
    if (json_now > json_peak) json_peak = json_now;
    return p;
}
static void counting_free(void *p)
{
    if (p) json_now -= malloc_usable_size(p) + 16;
    free(p);
}

/* text of n copies of item separated by ", " (Python's separator) in [...] */
static char *json_list(const char *item, size_t n, size_t *len)
{
    size_t k = strlen(item);
    char *t = malloc(n * (k + 2) + 3), *p = t;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ',', *p++ = ' ';
        memcpy(p, item, k);
        p += k;
    }
    *p++ = ']';
    *p = '\0';
    *len = (size_t)(p - t);
    return t;
}

/* Issue 15: 20 MB of "{}" took 1.6 GB. Memory is bounded by 24 times the
 * text (plus 1 MiB): such text is refused before Jansson allocates, and
 * whatever is accepted stays within the bound. */
START_TEST(json_memory_is_bounded_by_the_text)
{
    json_set_alloc_funcs(counting_malloc, counting_free);
    size_t len;
    char *bomb = json_list("{}", 5000000, &len); /* 20 MB */
    json_peak = json_now = 0;
    ck_assert_ptr_null(kc_json_parse(bomb, len, 0, &err));
    CK_ERR(err, KC_ELIMIT, "times its size");
    ck_assert_int_eq(json_peak, 0);
    free(bomb);
    kc_error_clear(&err);
    const char *refused[] = {"[]", "\"\"", "{\"a\": 1}", "[0, 1]"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char *t = json_list(refused[i], 1000000, &len);
        ck_assert_msg(kc_json_parse(t, len, 0, &err) == NULL, "%s accepted", refused[i]);
        CK_ERR(err, KC_ELIMIT, "times its size");
        kc_error_clear(&err);
        free(t);
    }
    /* what is accepted stays within 24x + 1 MiB: lists of numbers, of
     * strings, of small objects, and a real Keras config */
    const char *accepted[] = {"0", "0.0123456789", "-1.5e-07", "\"dense_1/kernel:0\"", "{\"units\": 32, \"name\": \"d\"}",
                              "{\"a\": 1, \"b\": 2, \"c\": 3, \"d\": 4, \"e\": 5, \"f\": 6, \"g\": 7, \"h\": 8, \"i\": 9}",
                              "[null, 224, 224, 3]", "true"};
    for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
        char *t = json_list(accepted[i], 50000, &len);
        json_peak = json_now = 0;
        json_t *j = kc_json_parse(t, len, 0, &err);
        ck_assert_msg(j != NULL, "%s refused: %s", accepted[i], err.message);
        ck_assert_msg(json_peak <= 24 * len + (1u << 20), "%s: %zu bytes of memory for %zu of text", accepted[i],
                      json_peak, len);
        json_decref(j);
        free(t);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/models/dense_bn.json", TEST_DATA_DIR);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *text = malloc(1 << 20);
    len = fread(text, 1, 1 << 20, f);
    fclose(f);
    json_peak = json_now = 0;
    json_t *j = kc_json_parse(text, len, 0, &err);
    CK_NN(j, err);
    ck_assert_uint_le(json_peak, 24 * len + (1u << 20));
    json_decref(j);
    free(text);
    json_set_alloc_funcs(malloc, free);
}
END_TEST

START_TEST(object_create_from_names_and_json)
{
    kc_object *o = kc_object_create(KC_KIND_REGULARIZER, "{\"class_name\": \"L2\", \"config\": {\"l2\": 0.5}}", &err);
    CK_NN(o, err);
    ck_assert_str_eq(kc_object_name(o), "L2");
    kc_object_unref(o);
    o = kc_object_create(KC_KIND_INITIALIZER, "he_normal", &err);
    CK_NN(o, err);
    ck_assert_str_eq(kc_object_name(o), "HeNormal");
    kc_object_unref(o);
    ck_assert_ptr_null(kc_object_create(KC_KIND_INITIALIZER, "{bad json", &err));
    CK_ERR(err, KC_EFORMAT, "invalid JSON");
}
END_TEST

static int freed;
static void count_free(void *p)
{
    (void)p;
    freed++;
}

START_TEST(function_objects_free_params_once)
{
    freed = 0;
    kc_object *f = kc_function_new(KC_KIND_ACTIVATION, "x", KC_FN(cube), &freed, count_free, &err);
    kc_object_ref(f);
    kc_object_unref(f);
    ck_assert_int_eq(freed, 0);
    kc_object_unref(f);
    ck_assert_int_eq(freed, 1);
    /* on failure too */
    ck_assert_ptr_null(kc_function_new(KC_KIND_ACTIVATION, "bad name", KC_FN(cube), &freed, count_free, &err));
    ck_assert_int_eq(freed, 2);
    kc_fn fn;
    void *params;
    kc_object *g = kc_activation_get("relu", &err);
    CK_OK(kc_function_get(g, &fn, &params, &err));
    ck_assert_ptr_null(params);
    json_t *cfg;
    ck_assert_int_eq(kc_object_get_config(g, &cfg, &err), KC_EINVAL);
    kc_object_unref(g);
    ck_assert_str_eq(kc_kind_name(KC_KIND_INITIALIZER), "initializer");
}
END_TEST

typedef struct versioned {
    kc_object base;
} versioned;
static const kc_activation_methods v_methods = {scaled_call};
static const kc_class v2_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_ACTIVATION,
                                  .name = "Tests>Versioned", .size = sizeof(scaled_act),
                                  .config_version = 2, .methods = &v_methods};

START_TEST(config_versions_newer_than_the_class_are_refused)
{
    kc_object *o = kc_object_new(&v2_class, &err);
    json_t *cfg;
    CK_OK(kc_object_get_config(o, &cfg, &err));
    ck_assert_int_eq(json_integer_value(json_object_get(cfg, "_config_version")), 2);
    kc_object *back = kc_object_from_config(&v2_class, cfg, NULL, &err);
    CK_NN(back, err);
    kc_object_unref(back);
    json_object_set_new(cfg, "_config_version", json_integer(3));
    ck_assert_ptr_null(kc_object_from_config(&v2_class, cfg, NULL, &err));
    CK_ERR(err, KC_EVERSION, "newer");
    json_decref(cfg);
    kc_object_unref(o);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("object");
    TCase *tc = tcase_create("object model");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, register_and_find_classes);
    tcase_add_test(tc, registration_validates_classes);
    tcase_add_test(tc, functions_register_and_serialize_by_name);
    tcase_add_test(tc, class_instances_round_trip_in_both_forms);
    tcase_add_test(tc, unknown_names_are_named_errors_with_paths);
    tcase_add_test(tc, custom_objects_win_and_keep_bound_parameters);
    tcase_add_test(tc, custom_class_without_registration);
    tcase_add_test(tc, missing_required_key_and_wrong_types);
    tcase_add_test(tc, config_getters_report_paths);
    tcase_add_test(tc, json_reads_and_writes_python_style);
    tcase_add_test(tc, json_memory_is_bounded_by_the_text);
    tcase_add_test(tc, object_create_from_names_and_json);
    tcase_add_test(tc, function_objects_free_params_once);
    tcase_add_test(tc, config_versions_newer_than_the_class_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
