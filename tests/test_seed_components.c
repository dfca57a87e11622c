/* The seed's custom components in C: my_softplus, my_glorot_initial,
 * my_l1_regular and my_positive_weights, used on a Dense-like weight --
 * once as plain registered functions (saved by name only) and once as
 * classes with config (their parameters saved). */
#include "testutil.h"

#include <string.h>

#define D(...) ((int64_t[]){__VA_ARGS__})

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

/* ---- plain functions, as in the seed ---------------------------------------- */

/* log(exp(z) + 1) */
static kc_tensor *my_softplus(kc_tensor *z, void *params, kc_error *e)
{
    (void)params;
    kc_tensor *ex = kc_exp(z, e), *p = kc_add_scalar(ex, 1.0f, e), *y = kc_log(p, e);
    kc_tensor_unref(ex);
    kc_tensor_unref(p);
    return y;
}

/* normal(0, sqrt(2 / (fan_in + fan_out))) */
static kc_status my_glorot_initial(kc_tensor *out, void *params, kc_error *e)
{
    (void)params;
    if (kc_tensor_ndim(out) != 2) return KC_ESHAPE;
    (void)e;
    double stddev = sqrt(2.0 / (double)(kc_tensor_dim(out, 0) + kc_tensor_dim(out, 1)));
    kc_rng_fill_normal(kc_global_rng(), kc_tensor_f32(out), (size_t)kc_tensor_size(out), 0.0f, (float)stddev);
    return KC_OK;
}

/* sum(|factor * w|); factor 0.01 unless bound (custom_objects) */
static kc_tensor *my_l1_regular(kc_tensor *w, void *params, kc_error *e)
{
    float factor = params ? *(float *)params : 0.01f;
    kc_tensor *s = kc_mul_scalar(w, factor, e), *a = kc_abs(s, e);
    kc_tensor *r = kc_reduce_sum(a, NULL, 0, false, e);
    kc_tensor_unref(s);
    kc_tensor_unref(a);
    return r;
}

/* where(w < 0, 0, w) */
static kc_tensor *my_positive_weights(kc_tensor *w, void *params, kc_error *e)
{
    (void)params;
    kc_tensor *neg = kc_less_scalar(w, 0.0f, e);
    kc_tensor *zero = kc_tensor_scalar(0.0f, e);
    kc_tensor *r = kc_where(neg, zero, w, e);
    kc_tensor_unref(neg);
    kc_tensor_unref(zero);
    return r;
}

/* ---- the same as classes with config -------------------------------------------- */

typedef struct param_obj {
    kc_object base;
    double p; /* beta / scale / factor / min_value */
} param_obj;

static const char *param_key(const kc_object *o)
{
    const char *n = kc_object_name(o);
    return strstr(n, "Softplus") ? "beta" : strstr(n, "Glorot") ? "scale" : strstr(n, "L1") ? "factor" : "min_value";
}
static kc_status param_init(kc_object *self, kc_error *e)
{
    (void)e;
    const char *k = param_key(self);
    ((param_obj *)self)->p = !strcmp(k, "beta") ? 1.0 : !strcmp(k, "scale") ? 2.0 : !strcmp(k, "factor") ? 0.01 : 0.0;
    return KC_OK;
}
static kc_status param_get(const kc_object *self, json_t *cfg, kc_error *e)
{
    return kc_cfg_set_float(cfg, param_key(self), ((const param_obj *)self)->p, e);
}
static kc_status param_set(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *e)
{
    param_obj *o = (param_obj *)self;
    return kc_cfg_float(ctx, cfg, param_key(self), 0, o->p, &o->p, e);
}

static kc_tensor *softplus_call(kc_object *self, kc_tensor *z, kc_error *e)
{
    float beta = (float)((param_obj *)self)->p;
    kc_tensor *bz = kc_mul_scalar(z, beta, e), *sp = my_softplus(bz, NULL, e);
    kc_tensor *y = kc_div_scalar(sp, beta, e);
    kc_tensor_unref(bz);
    kc_tensor_unref(sp);
    return y;
}
static kc_status glorot_fill(kc_object *self, kc_tensor *out, kc_error *e)
{
    (void)e;
    double fi, fo;
    kc_compute_fans(kc_tensor_ndim(out), kc_tensor_dims(out), &fi, &fo);
    double stddev = sqrt(((param_obj *)self)->p / (fi + fo));
    kc_rng_fill_normal(kc_global_rng(), kc_tensor_f32(out), (size_t)kc_tensor_size(out), 0.0f, (float)stddev);
    return KC_OK;
}
static kc_tensor *l1_penalty(kc_object *self, kc_tensor *w, kc_error *e)
{
    float f = (float)((param_obj *)self)->p;
    return my_l1_regular(w, &f, e);
}
static kc_tensor *positive_apply(kc_object *self, kc_tensor *w, kc_error *e)
{
    return kc_maximum_scalar(w, (float)((param_obj *)self)->p, e);
}

static const kc_activation_methods softplus_m = {softplus_call};
static const kc_initializer_methods glorot_m = {glorot_fill};
static const kc_regularizer_methods l1_m = {l1_penalty};
static const kc_constraint_methods positive_m = {positive_apply};
#define SEED_CLASS(var, k, nm, m)                                                                  \
    static const kc_class var = {.abi = KC_CLASS_ABI, .kind = k, .name = nm,                       \
                                 .size = sizeof(param_obj), .config_version = 1,                   \
                                 .init = param_init, .get_config = param_get,                      \
                                 .from_config = param_set, .methods = &m};
SEED_CLASS(my_softplus_class, KC_KIND_ACTIVATION, "Seed>MySoftplus", softplus_m)
SEED_CLASS(my_glorot_class, KC_KIND_INITIALIZER, "Seed>MyGlorotInitial", glorot_m)
SEED_CLASS(my_l1_class, KC_KIND_REGULARIZER, "Seed>MyL1Regular", l1_m)
SEED_CLASS(my_positive_class, KC_KIND_CONSTRAINT, "Seed>MyPositiveWeights", positive_m)

/* ---- a Dense-like weight using the four components ----------------------------------- */

typedef struct dense_like {
    kc_object *act, *init, *reg, *con;
} dense_like;

static kc_status dense_from_json(dense_like *d, const json_t *cfg, const kc_custom_objects *co)
{
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "config", co);
    kc_status rc = kc_cfg_object(&ctx, cfg, "activation", KC_KIND_ACTIVATION, "linear", &d->act, &err);
    if (rc == KC_OK) rc = kc_cfg_object(&ctx, cfg, "kernel_initializer", KC_KIND_INITIALIZER, "glorot_uniform", &d->init, &err);
    if (rc == KC_OK) rc = kc_cfg_object(&ctx, cfg, "kernel_regularizer", KC_KIND_REGULARIZER, NULL, &d->reg, &err);
    if (rc == KC_OK) rc = kc_cfg_object(&ctx, cfg, "kernel_constraint", KC_KIND_CONSTRAINT, NULL, &d->con, &err);
    return rc;
}

static json_t *dense_to_json(const dense_like *d)
{
    json_t *cfg = json_object();
    CK_OK(kc_cfg_set_object(cfg, "activation", d->act, &err));
    CK_OK(kc_cfg_set_object(cfg, "kernel_initializer", d->init, &err));
    CK_OK(kc_cfg_set_object(cfg, "kernel_regularizer", d->reg, &err));
    CK_OK(kc_cfg_set_object(cfg, "kernel_constraint", d->con, &err));
    return cfg;
}

static void dense_free(dense_like *d)
{
    kc_object_unref(d->act);
    kc_object_unref(d->init);
    kc_object_unref(d->reg);
    kc_object_unref(d->con);
}

/* One training step: loss = mean(act(x W)^2) + reg(W); W -= 0.5 grad;
 * W = constraint(W). Returns the loss; W is updated in place. */
static float train_step(const dense_like *d, kc_variable *w, kc_tensor *x)
{
    kc_scope *s = kc_scope_new(&err);
    kc_tape *tape = kc_tape_begin(0, &err);
    kc_tensor *z = kc_scope_take(s, kc_matmul(x, kc_variable_value(w), false, false, &err));
    kc_tensor *y = kc_scope_take(s, kc_activation_call(d->act, z, &err));
    kc_tensor *l = kc_scope_take(s, kc_reduce_mean(kc_scope_take(s, kc_square(y, &err)), NULL, 0, false, &err));
    kc_tensor *pen = kc_scope_take(s, kc_regularizer_penalty(d->reg, kc_variable_value(w), &err));
    kc_tensor *total = kc_scope_take(s, kc_add(l, pen, &err));
    kc_tape_end(tape);
    CK_NN(total, err);
    kc_tensor *src = kc_variable_value(w), *g;
    CK_OK(kc_tape_gradient(tape, total, &src, 1, &g, &err));
    float *wv = kc_tensor_f32(src), *gv = kc_tensor_f32(g);
    for (int64_t i = 0; i < kc_tensor_size(src); i++) wv[i] -= 0.5f * gv[i];
    kc_variable_set_constraint(w, d->con);
    CK_OK(kc_variable_apply_constraint(w, &err));
    float loss = kc_tensor_item(total);
    kc_tensor_unref(g);
    kc_tape_free(tape);
    kc_scope_free(s);
    return loss;
}

static void exercise(const dense_like *d, float floor_value)
{
    kc_set_random_seed(7);
    kc_variable *w = kc_variable_new_take("kernel", kc_initializer_make(d->init, 2, D(4, 3), &err), true, &err);
    CK_NN(w, err);
    kc_tensor *x = tu_random(2, D(8, 4), -1, 1, 5);
    float l0 = train_step(d, w, x);
    float l1 = train_step(d, w, x);
    ck_assert_msg(l1 < l0, "loss did not decrease: %g -> %g", l0, l1);
    const float *wv = kc_tensor_cdata(kc_variable_value(w));
    for (int i = 0; i < 12; i++) ck_assert_msg(wv[i] >= floor_value, "weight %d = %g below %g", i, wv[i], floor_value);
    kc_variable_unref(w);
    kc_tensor_unref(x);
}

START_TEST(seed_functions_registered_by_name)
{
    CK_OK(kc_register_function(KC_KIND_ACTIVATION, "my_softplus", KC_FN(my_softplus), &err));
    CK_OK(kc_register_function(KC_KIND_INITIALIZER, "my_glorot_initial", KC_FN(my_glorot_initial), &err));
    CK_OK(kc_register_function(KC_KIND_REGULARIZER, "my_l1_regular", KC_FN(my_l1_regular), &err));
    CK_OK(kc_register_function(KC_KIND_CONSTRAINT, "my_positive_weights", KC_FN(my_positive_weights), &err));
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s}", "activation", "my_softplus", "kernel_initializer",
                            "my_glorot_initial", "kernel_regularizer", "my_l1_regular", "kernel_constraint",
                            "my_positive_weights");
    dense_like d = {0};
    CK_OK(dense_from_json(&d, cfg, NULL));
    exercise(&d, 0.0f);
    /* saved: names only */
    json_t *back = dense_to_json(&d);
    ck_assert(json_equal(back, cfg));
    json_decref(back);
    dense_free(&d);
    json_decref(cfg);
}
END_TEST

START_TEST(seed_function_with_bound_parameter_through_custom_objects)
{
    /* the file names "my_l1_regular" only; the loader binds factor 0.5 */
    json_t *cfg = json_pack("{s:s}", "kernel_regularizer", "my_bound_l1");
    dense_like d = {0};
    ck_assert_int_eq(dense_from_json(&d, cfg, NULL), KC_ENOTFOUND);
    CK_ERR(err, KC_ENOTFOUND, "Unknown regularizer 'my_bound_l1'");
    CK_ERR(err, KC_ENOTFOUND, "config.kernel_regularizer");
    dense_free(&d);
    kc_error_clear(&err);
    kc_custom_objects *co = kc_custom_objects_new(&err);
    float *factor = malloc(sizeof(float));
    *factor = 0.5f;
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_REGULARIZER, "my_bound_l1", KC_FN(my_l1_regular), factor, free, &err));
    memset(&d, 0, sizeof(d));
    CK_OK(dense_from_json(&d, cfg, co));
    kc_custom_objects_free(co);
    kc_tensor *w = TU_T1(2, 1, -3);
    kc_tensor *p = kc_regularizer_penalty(d.reg, w, &err);
    ck_assert_msg(kc_tensor_item(p) == 2.0f, "penalty %g (factor 0.5 bound)", kc_tensor_item(p));
    kc_tensor_unref(p);
    kc_tensor_unref(w);
    dense_free(&d);
    json_decref(cfg);
}
END_TEST

START_TEST(seed_components_as_classes_keep_their_parameters)
{
    CK_OK(kc_register_class(&my_softplus_class, &err));
    CK_OK(kc_register_class(&my_glorot_class, &err));
    CK_OK(kc_register_class(&my_l1_class, &err));
    CK_OK(kc_register_class(&my_positive_class, &err));
    const char *text =
        "{\"activation\": {\"class_name\": \"Seed>MySoftplus\", \"config\": {\"beta\": 2.0}}, "
        "\"kernel_initializer\": {\"class_name\": \"Seed>MyGlorotInitial\", \"config\": {\"scale\": 1.0}}, "
        "\"kernel_regularizer\": {\"class_name\": \"Seed>MyL1Regular\", \"config\": {\"factor\": 0.02}}, "
        "\"kernel_constraint\": {\"class_name\": \"Seed>MyPositiveWeights\", \"config\": {\"min_value\": 0.01}}}";
    json_t *cfg = kc_json_parse(text, strlen(text), 0, &err);
    dense_like d = {0};
    CK_OK(dense_from_json(&d, cfg, NULL));
    exercise(&d, 0.01f);
    json_t *back = dense_to_json(&d);
    char *t = kc_json_dump(back, &err);
    ck_assert_str_eq(t, text); /* parameters saved, Keras 2 form */
    kc_json_free(t);
    json_decref(back);
    dense_free(&d);
    /* the same file through custom_objects instead of the registry */
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_class(co, NULL, &my_l1_class, &err));
    json_t *only = json_pack("{s:O}", "kernel_regularizer", json_object_get(cfg, "kernel_regularizer"));
    memset(&d, 0, sizeof(d));
    CK_OK(dense_from_json(&d, only, co));
    kc_tensor *w = TU_T1(2, 1, -3);
    kc_tensor *p = kc_regularizer_penalty(d.reg, w, &err);
    ck_assert(fabsf(kc_tensor_item(p) - 0.08f) < 1e-7f);
    kc_tensor_unref(p);
    kc_tensor_unref(w);
    dense_free(&d);
    kc_custom_objects_free(co);
    json_decref(only);
    json_decref(cfg);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("seed_components");
    TCase *tc = tcase_create("seed");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, seed_functions_registered_by_name);
    tcase_add_test(tc, seed_function_with_bound_parameter_through_custom_objects);
    tcase_add_test(tc, seed_components_as_classes_keep_their_parameters);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
