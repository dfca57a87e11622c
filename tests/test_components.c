/* Built-in activations, initializers, regularizers and constraints:
 * numerics, statistics, gradients and config round trips. */
#include "testutil.h"

#include <string.h>

#define D(...) ((int64_t[]){__VA_ARGS__})
#define F(...) ((float[]){__VA_ARGS__})

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

/* ---- config round trips of every built-in class ----------------------------- */

static bool is_component(kc_kind k)
{
    return k == KC_KIND_ACTIVATION || k == KC_KIND_INITIALIZER || k == KC_KIND_REGULARIZER ||
           k == KC_KIND_CONSTRAINT;
}

/* Same behaviour: both objects produce the same tensor on the same input. */
static void same_behaviour(kc_object *a, kc_object *b, const char *what)
{
    kc_tensor *w = tu_random(4, D(3, 3, 2, 2), -2, 2, 7);
    kc_tensor *ya = NULL, *yb = NULL;
    switch (kc_object_kind(a)) {
    case KC_KIND_INITIALIZER:
        /* unseeded initializers draw fresh numbers: compare seeded copies */
        ya = kc_initializer_make(a, 2, D(6, 6), &err);
        yb = kc_initializer_make(b, 2, D(6, 6), &err);
        break;
    case KC_KIND_REGULARIZER:
        ya = kc_regularizer_penalty(a, w, &err);
        yb = kc_regularizer_penalty(b, w, &err);
        break;
    case KC_KIND_CONSTRAINT:
        ya = kc_constraint_apply(a, w, &err);
        yb = kc_constraint_apply(b, w, &err);
        break;
    case KC_KIND_ACTIVATION:
        ya = kc_activation_call(a, w, &err);
        yb = kc_activation_call(b, w, &err);
        break;
    default: break;
    }
    ck_assert_msg(ya && yb, "%s: %s", what, err.message);
    tu_assert_tensors_close(ya, yb, 0, 0, what);
    kc_tensor_unref(ya);
    kc_tensor_unref(yb);
    kc_tensor_unref(w);
}

START_TEST(every_builtin_component_class_round_trips)
{
    int n = 0;
    for (size_t i = 0; i < kc_registry_size(); i++) {
        kc_kind kind;
        const char *name;
        const kc_class *cls;
        ck_assert(kc_registry_entry(i, &kind, &name, &cls, NULL));
        if (!cls || !is_component(kind)) continue;
        kc_object *a = kc_object_new(cls, &err);
        CK_NN(a, err);
        json_t *c1;
        CK_OK(kc_object_get_config(a, &c1, &err));
        if (json_object_get(c1, "seed")) json_object_set_new(c1, "seed", json_integer(1234));
        kc_object *b = kc_object_from_config(cls, c1, NULL, &err);
        ck_assert_msg(b != NULL, "%s: %s (%s)", name, err.message, err.context);
        json_t *c2;
        CK_OK(kc_object_get_config(b, &c2, &err));
        char *t1 = kc_json_dump(c1, &err), *t2 = kc_json_dump(c2, &err);
        ck_assert_msg(json_equal(c1, c2), "%s: config %s became %s", name, t1, t2);
        /* serialize -> deserialize through the registry */
        json_t *ser;
        CK_OK(kc_serialize(b, &ser, &err));
        kc_object *c;
        CK_OK(kc_deserialize(kind, ser, NULL, &c, &err));
        ck_assert_str_eq(kc_object_name(c), name);
        if (strcmp(name, "RadialConstraint") != 0) same_behaviour(b, c, name);
        n++;
        kc_json_free(t1);
        kc_json_free(t2);
        json_decref(ser);
        json_decref(c1);
        json_decref(c2);
        kc_object_unref(a);
        kc_object_unref(b);
        kc_object_unref(c);
    }
    ck_assert_int_ge(n, 23);
}
END_TEST

START_TEST(keras_written_configs_round_trip)
{
    static const char *const cfgs[][2] = {
        {"initializer", "{\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": 2.0, \"mode\": \"fan_out\", \"distribution\": \"uniform\", \"seed\": 5}}"},
        {"initializer", "{\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": 1.0, \"mode\": \"fan_avg\", \"distribution\": \"normal\", \"seed\": null}}"},
        {"initializer", "{\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}"},
        {"initializer", "{\"class_name\": \"RandomNormal\", \"config\": {\"mean\": 0.0, \"stddev\": 0.05000000074505806, \"seed\": 3}}"},
        {"initializer", "{\"class_name\": \"Constant\", \"config\": {\"value\": 0.5}}"},
        {"initializer", "{\"class_name\": \"Orthogonal\", \"config\": {\"gain\": 1.0, \"seed\": null}}"},
        {"regularizer", "{\"class_name\": \"L2\", \"config\": {\"l2\": 0.009999999776482582}}"},
        {"regularizer", "{\"class_name\": \"L1L2\", \"config\": {\"l1\": 0.0, \"l2\": 0.0005}}"},
        {"constraint", "{\"class_name\": \"MaxNorm\", \"config\": {\"max_value\": 3.0, \"axis\": [0, 1, 2]}}"},
        {"constraint", "{\"class_name\": \"MinMaxNorm\", \"config\": {\"min_value\": 0.0, \"max_value\": 1.0, \"rate\": 1.0, \"axis\": 0}}"},
    };
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        kc_kind kind = cfgs[i][0][0] == 'i' ? KC_KIND_INITIALIZER : cfgs[i][0][0] == 'r' ? KC_KIND_REGULARIZER : KC_KIND_CONSTRAINT;
        json_t *in = kc_json_parse(cfgs[i][1], strlen(cfgs[i][1]), 0, &err);
        kc_object *o;
        CK_OK(kc_deserialize(kind, in, NULL, &o, &err));
        json_t *out;
        CK_OK(kc_serialize(o, &out, &err));
        char *t = kc_json_dump(out, &err);
        ck_assert_msg(json_equal(in, out), "%s came back as %s", cfgs[i][1], t);
        ck_assert_str_eq(t, cfgs[i][1]); /* same text, Python-style */
        kc_json_free(t);
        json_decref(in);
        json_decref(out);
        kc_object_unref(o);
    }
}
END_TEST

START_TEST(bad_component_configs_are_errors)
{
    static const char *const bad[][3] = {
        {"i", "{\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": -1.0}}", "expected a positive number, got -1"},
        {"i", "{\"class_name\": \"VarianceScaling\", \"config\": {\"mode\": \"fan_sideways\"}}", "one of \"fan_in\""},
        {"i", "{\"class_name\": \"RandomUniform\", \"config\": {\"minval\": 1.0, \"maxval\": 0.0}}", "above maxval"},
        {"i", "{\"class_name\": \"RandomNormal\", \"config\": {\"seed\": \"x\"}}", "seed: expected an integer"},
        {"r", "{\"class_name\": \"L2\", \"config\": {\"l2\": -0.1}}", "non-negative"},
        {"c", "{\"class_name\": \"MaxNorm\", \"config\": {\"axis\": [\"a\"]}}", "axis[0]"},
        {"c", "{\"class_name\": \"MinMaxNorm\", \"config\": {\"min_value\": 2.0, \"max_value\": 1.0}}", "above max_value"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kc_error_clear(&err);
        kc_kind kind = bad[i][0][0] == 'i' ? KC_KIND_INITIALIZER : bad[i][0][0] == 'r' ? KC_KIND_REGULARIZER : KC_KIND_CONSTRAINT;
        ck_assert_msg(kc_object_create(kind, bad[i][1], &err) == NULL, "%s was accepted", bad[i][1]);
        CK_ERR(err, KC_EFORMAT, bad[i][2]);
    }
}
END_TEST

/* ---- activations --------------------------------------------------------------- */

static kc_tensor *act_fn(kc_tensor *const *in, const void *ctx, kc_error *e)
{
    return kc_activation_call((kc_object *)ctx, in[0], e);
}

START_TEST(activation_names_compute_and_differentiate)
{
    static const struct {
        const char *name;
        float want[4]; /* at -2, -0.5, 0.5, 2 */
    } cases[] = {
        {"linear", {-2, -0.5f, 0.5f, 2}},
        {"relu", {0, 0, 0.5f, 2}},
        {"sigmoid", {0.11920292f, 0.37754067f, 0.62245933f, 0.88079708f}},
        {"hard_sigmoid", {0.1f, 0.4f, 0.6f, 0.9f}},
        {"tanh", {-0.96402758f, -0.46211716f, 0.46211716f, 0.96402758f}},
        {"softplus", {0.12692801f, 0.47407698f, 0.97407698f, 2.12692801f}},
        {"softsign", {-0.66666667f, -0.33333333f, 0.33333333f, 0.66666667f}},
        {"elu", {-0.86466472f, -0.39346934f, 0.5f, 2}},
        {"selu", {-1.52016647f, -0.69175819f, 0.52535049f, 2.10140197f}},
        {"exponential", {0.13533528f, 0.60653066f, 1.64872127f, 7.3890561f}},
        {"swish", {-0.23840584f, -0.18877033f, 0.31122967f, 1.76159416f}},
        {"silu", {-0.23840584f, -0.18877033f, 0.31122967f, 1.76159416f}},
        {"gelu", {-0.04550026f, -0.15426877f, 0.34573123f, 1.95449974f}},
        {"leaky_relu", {-0.4f, -0.1f, 0.5f, 2}},
        {"relu6", {0, 0, 0.5f, 2}},
        {"mish", {-0.25250148f, -0.22074377f, 0.37524521f, 1.94395896f}},
        {"hard_silu", {-0.33333333f, -0.20833333f, 0.29166667f, 1.66666667f}},
        {"hard_swish", {-0.33333333f, -0.20833333f, 0.29166667f, 1.66666667f}},
        {"softmax", {0.01383847f, 0.06201971f, 0.16858706f, 0.75555476f}},
        {"log_softmax", {-4.28030301f, -2.78030301f, -1.78030301f, -0.28030301f}},
    };
    kc_tensor *x = TU_T1(4, -2, -0.5f, 0.5f, 2);
    kc_tensor *xs = tu_random_away(2, D(3, 4), 0.15f, 2.5f, 3); /* away from kinks */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_object *a = kc_activation_get(cases[i].name, &err);
        ck_assert_msg(a != NULL, "%s: %s", cases[i].name, err.message);
        kc_tensor *y = kc_activation_call(a, x, &err);
        tu_assert_close(y, 1, D(4), cases[i].want, 1e-5, 1e-6, cases[i].name);
        kc_tensor_unref(y);
        tu_grad_check(cases[i].name, act_fn, a, &xs, 1, 1e-2, 2e-2, 2e-3);
        kc_object_unref(a);
    }
    kc_object *s = kc_activation_get("silu", &err);
    ck_assert_str_eq(kc_object_name(s), "swish"); /* saved under the tf.keras name */
    kc_object_unref(s);
    s = kc_activation_get("hard_swish", &err);
    ck_assert_str_eq(kc_object_name(s), "hard_silu"); /* Keras 3's name */
    kc_object_unref(s);
    ck_assert_ptr_null(kc_activation_get("not_an_activation", &err));
    CK_ERR(err, KC_ENOTFOUND, "not_an_activation");
    kc_tensor_unref(x);
    kc_tensor_unref(xs);
}
END_TEST

/* ---- initializers ------------------------------------------------------------------ */

static void stats(const kc_tensor *t, double *mean, double *std, double *lo, double *hi)
{
    const float *p = kc_tensor_cdata(t);
    int64_t n = kc_tensor_size(t);
    double s = 0, s2 = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        s += p[i];
        s2 += (double)p[i] * p[i];
        if (p[i] < *lo) *lo = p[i];
        if (p[i] > *hi) *hi = p[i];
    }
    *mean = s / (double)n;
    *std = sqrt(s2 / (double)n - *mean * *mean);
}

static kc_tensor *init_make(const char *spec, int nd, const int64_t *dims)
{
    kc_object *o = kc_object_create(KC_KIND_INITIALIZER, spec, &err);
    ck_assert_msg(o != NULL, "%s: %s", spec, err.message);
    kc_tensor *t = kc_initializer_make(o, nd, dims, &err);
    CK_NN(t, err);
    kc_object_unref(o);
    return t;
}

START_TEST(initializer_statistics_on_100k_samples)
{
    static const struct {
        const char *spec;
        int64_t dims[4];
        int nd;
        double mean, std, lo, hi; /* lo/hi: bounds every value must respect */
    } cases[] = {
        {"{\"class_name\": \"RandomNormal\", \"config\": {\"mean\": 1.0, \"stddev\": 2.0}}", {100000}, 1, 1.0, 2.0, -INFINITY, INFINITY},
        {"{\"class_name\": \"RandomUniform\", \"config\": {\"minval\": -1.0, \"maxval\": 3.0}}", {100000}, 1, 1.0, 1.1547005, -1.0, 3.0},
        {"{\"class_name\": \"TruncatedNormal\", \"config\": {\"mean\": 0.0, \"stddev\": 1.0}}", {100000}, 1, 0.0, 0.8796257, -2.0, 2.0},
        /* (200, 500): fan_in 200, fan_out 500 */
        {"glorot_uniform", {200, 500}, 2, 0.0, 0.0534522, -0.0925820, 0.0925820},
        {"glorot_normal", {200, 500}, 2, 0.0, 0.0534522, -2 * 0.0534522 / 0.8796257, 2 * 0.0534522 / 0.8796257},
        {"he_normal", {200, 500}, 2, 0.0, 0.1, -0.2 / 0.8796257, 0.2 / 0.8796257},
        {"he_uniform", {200, 500}, 2, 0.0, 0.1, -0.1732051, 0.1732051},
        {"lecun_normal", {200, 500}, 2, 0.0, 0.0707107, -INFINITY, INFINITY},
        {"lecun_uniform", {200, 500}, 2, 0.0, 0.0707107, -0.1224745, 0.1224745},
        {"{\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": 3.0, \"mode\": \"fan_out\", \"distribution\": \"untruncated_normal\"}}", {200, 500}, 2, 0.0, 0.0774597, -INFINITY, INFINITY},
        /* conv kernel (3, 3, 40, 30): fan_in 360, fan_out 270 */
        {"{\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": 1.0, \"mode\": \"fan_avg\", \"distribution\": \"uniform\"}}", {3, 3, 40, 30}, 4, 0.0, 0.0563436, -0.0975900, 0.0975900},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_tensor *t = init_make(cases[i].spec, cases[i].nd, cases[i].dims);
        double m, s, lo, hi;
        stats(t, &m, &s, &lo, &hi);
        double tol = 0.015 * cases[i].std + 1e-6;
        ck_assert_msg(fabs(m - cases[i].mean) < 3 * tol + 0.005 * fabs(cases[i].mean), "%s: mean %g", cases[i].spec, m);
        ck_assert_msg(fabs(s - cases[i].std) < tol * 1.5, "%s: std %g, expected %g", cases[i].spec, s, cases[i].std);
        ck_assert_msg(lo >= cases[i].lo - 1e-6 && hi <= cases[i].hi + 1e-6, "%s: range [%g, %g]", cases[i].spec, lo, hi);
        kc_tensor_unref(t);
    }
}
END_TEST

START_TEST(seeds_repeat_and_unseeded_draws_differ)
{
    const char *seeded = "{\"class_name\": \"GlorotNormal\", \"config\": {\"seed\": 42}}";
    kc_object *o = kc_object_create(KC_KIND_INITIALIZER, seeded, &err);
    kc_tensor *a = kc_initializer_make(o, 2, D(20, 30), &err);
    kc_tensor *b = kc_initializer_make(o, 2, D(20, 30), &err);
    tu_assert_tensors_close(a, b, 0, 0, "same seed, same values");
    kc_tensor *c = init_make(seeded, 2, D(20, 30)); /* a second instance with the seed */
    tu_assert_tensors_close(a, c, 0, 0, "same seed in another instance");
    kc_tensor *u1 = init_make("glorot_normal", 2, D(20, 30)), *u2 = init_make("glorot_normal", 2, D(20, 30));
    ck_assert(memcmp(kc_tensor_cdata(u1), kc_tensor_cdata(u2), 600 * sizeof(float)) != 0);
    kc_object_unref(o);
    kc_tensor_unref(a);
    kc_tensor_unref(b);
    kc_tensor_unref(c);
    kc_tensor_unref(u1);
    kc_tensor_unref(u2);
}
END_TEST

static void check_orthonormal(const kc_tensor *t, int64_t rows, int64_t cols, double gain)
{
    const float *p = kc_tensor_cdata(t);
    bool by_cols = rows >= cols; /* the smaller side is orthonormal */
    int64_t n = by_cols ? cols : rows, len = by_cols ? rows : cols;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double d = 0;
            for (int64_t k = 0; k < len; k++) {
                double a = by_cols ? p[k * cols + i] : p[i * cols + k];
                double b = by_cols ? p[k * cols + j] : p[j * cols + k];
                d += a * b;
            }
            double want = i == j ? gain * gain : 0.0;
            ck_assert_msg(fabs(d - want) < 1e-5 * gain * gain + 1e-6, "Q^T Q [%lld][%lld] = %g", (long long)i, (long long)j, d);
        }
}

START_TEST(orthogonal_identity_and_constants)
{
    kc_tensor *t = init_make("{\"class_name\": \"Orthogonal\", \"config\": {\"gain\": 2.0, \"seed\": 1}}", 2, D(50, 30));
    check_orthonormal(t, 50, 30, 2.0);
    kc_tensor_unref(t);
    t = init_make("orthogonal", 2, D(30, 50));
    check_orthonormal(t, 30, 50, 1.0);
    kc_tensor_unref(t);
    t = init_make("orthogonal", 4, D(3, 3, 4, 8)); /* as a (36, 8) matrix */
    check_orthonormal(t, 36, 8, 1.0);
    kc_tensor_unref(t);
    kc_object *o = kc_object_create(KC_KIND_INITIALIZER, "orthogonal", &err);
    ck_assert_ptr_null(kc_initializer_make(o, 1, D(5), &err));
    CK_ERR(err, KC_ESHAPE, "rank >= 2");
    kc_object_unref(o);
    kc_error_clear(&err);
    t = init_make("{\"class_name\": \"Identity\", \"config\": {\"gain\": 2.0}}", 2, D(2, 3));
    tu_assert_close(t, 2, D(2, 3), F(2, 0, 0, 0, 2, 0), 0, 0, "Identity");
    kc_tensor_unref(t);
    t = init_make("{\"class_name\": \"Constant\", \"config\": {\"value\": 0.25}}", 1, D(3));
    tu_assert_close(t, 1, D(3), F(0.25f, 0.25f, 0.25f), 0, 0, "Constant");
    kc_tensor_unref(t);
    t = init_make("ones", 1, D(2));
    tu_assert_close(t, 1, D(2), F(1, 1), 0, 0, "Ones");
    kc_tensor_unref(t);
    t = init_make("zeros", 1, D(2));
    tu_assert_close(t, 1, D(2), F(0, 0), 0, 0, "Zeros");
    kc_tensor_unref(t);
    double fi, fo;
    kc_compute_fans(4, D(3, 3, 16, 32), &fi, &fo);
    ck_assert(fi == 144 && fo == 288);
}
END_TEST

/* ---- regularizers -------------------------------------------------------------------- */

static kc_tensor *penalty_fn(kc_tensor *const *in, const void *ctx, kc_error *e)
{
    return kc_regularizer_penalty((kc_object *)ctx, in[0], e);
}

START_TEST(regularizer_penalties_and_gradients)
{
    kc_tensor *w = TU_T1(3, 1, -2, 3);
    struct {
        kc_object *r;
        float want;
    } cases[] = {
        {kc_regularizer_l1(0.1, &err), 0.6f},
        {kc_regularizer_l2(0.1, &err), 1.4f},
        {kc_regularizer_l1l2(0.1, 0.2, &err), 3.4f},
        {kc_regularizer_l1l2(0.0, 0.0, &err), 0.0f},
        {kc_object_create(KC_KIND_REGULARIZER, "l2", &err), 0.14f},
        {kc_object_create(KC_KIND_REGULARIZER, "l1", &err), 0.06f},
    };
    kc_tensor *wg = tu_random_away(2, D(4, 5), 0.2f, 2, 9);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CK_NN(cases[i].r, err);
        kc_tensor *p = kc_regularizer_penalty(cases[i].r, w, &err);
        CK_NN(p, err);
        ck_assert_int_eq(kc_tensor_ndim(p), 0);
        ck_assert_msg(fabsf(kc_tensor_item(p) - cases[i].want) < 1e-6f, "%s: %g", kc_object_name(cases[i].r), kc_tensor_item(p));
        kc_tensor_unref(p);
        if (i < 3) tu_grad_check(kc_object_name(cases[i].r), penalty_fn, cases[i].r, &wg, 1, 1e-2, 2e-2, 2e-3);
        kc_object_unref(cases[i].r);
    }
    ck_assert_ptr_null(kc_regularizer_l2(-1, &err));
    CK_ERR(err, KC_EINVAL, ">= 0");
    kc_tensor_unref(w);
    kc_tensor_unref(wg);
}
END_TEST

/* ---- constraints ----------------------------------------------------------------------- */

static void check_constraint(const char *spec, kc_tensor *w, const float *want)
{
    kc_object *c = kc_object_create(KC_KIND_CONSTRAINT, spec, &err);
    ck_assert_msg(c != NULL, "%s: %s", spec, err.message);
    kc_tensor *p = kc_constraint_apply(c, w, &err);
    CK_NN(p, err);
    tu_assert_close(p, kc_tensor_ndim(w), kc_tensor_dims(w), want, 1e-6, 1e-6, spec);
    kc_tensor_unref(p);
    kc_object_unref(c);
}

START_TEST(constraint_projections)
{
    kc_tensor *w = TU_T2(2, 2, 3, 0, 4, 1); /* column norms 5 and 1 */
    kc_tensor *v3 = TU_T1(3, -1, 0, 2);
    check_constraint("non_neg", v3, F(0, 0, 2));
    kc_tensor_unref(v3);
    check_constraint("{\"class_name\": \"MaxNorm\", \"config\": {\"max_value\": 2.0, \"axis\": 0}}", w, F(1.2f, 0, 1.6f, 1));
    check_constraint("unit_norm", w, F(0.6f, 0, 0.8f, 1));
    check_constraint("{\"class_name\": \"MinMaxNorm\", \"config\": {\"min_value\": 2.0, \"max_value\": 3.0, \"rate\": 1.0, \"axis\": 0}}", w, F(1.8f, 0, 2.4f, 2));
    check_constraint("{\"class_name\": \"MinMaxNorm\", \"config\": {\"min_value\": 2.0, \"max_value\": 3.0, \"rate\": 0.5, \"axis\": 0}}", w, F(2.4f, 0, 3.2f, 1.5f));
    /* axis 1: row norms 3 and sqrt(17) */
    check_constraint("{\"class_name\": \"MaxNorm\", \"config\": {\"max_value\": 1.0, \"axis\": 1}}", w, F(1, 0, 0.9701425f, 0.2425356f));
    /* axis list: the whole matrix, norm sqrt(26) */
    check_constraint("{\"class_name\": \"UnitNorm\", \"config\": {\"axis\": [0, 1]}}", w, F(0.5883484f, 0, 0.7844645f, 0.1961161f));
    /* RadialConstraint, as Keras' code computes it */
    kc_tensor *k3 = tu_tensor(4, D(3, 3, 1, 1), F(1, 2, 3, 4, 5, 6, 7, 8, 9));
    check_constraint("radial_constraint", k3, F(5, 5, 5, 5, 1, 5, 5, 5, 5));
    kc_tensor *k4 = tu_tensor(4, D(4, 4, 1, 1), F(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    check_constraint("radial_constraint", k4, F(15, 15, 15, 15, 15, 5, 5, 15, 15, 5, 5, 15, 15, 15, 15, 15));
    kc_object *r = kc_object_create(KC_KIND_CONSTRAINT, "radial_constraint", &err);
    ck_assert_ptr_null(kc_constraint_apply(r, w, &err));
    CK_ERR(err, KC_ESHAPE, "rows == cols");
    kc_object_unref(r);
    kc_tensor_unref(w);
    kc_tensor_unref(k3);
    kc_tensor_unref(k4);
}
END_TEST

START_TEST(variables_apply_their_constraint)
{
    kc_variable *v = kc_variable_new_take("k", TU_T1(3, -1, 2, -3), true, &err);
    kc_object *c = kc_object_create(KC_KIND_CONSTRAINT, "non_neg", &err);
    kc_variable_set_constraint(v, c);
    kc_object_unref(c); /* the variable holds its own reference */
    ck_assert_ptr_eq(kc_variable_constraint(v), c);
    CK_OK(kc_variable_apply_constraint(v, &err));
    tu_assert_close(kc_variable_value(v), 1, D(3), F(0, 2, 0), 0, 0, "projected in place");
    kc_variable_set_constraint(v, NULL);
    CK_OK(kc_variable_apply_constraint(v, &err));
    kc_variable_unref(v);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("components");
    TCase *tc = tcase_create("components");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, every_builtin_component_class_round_trips);
    tcase_add_test(tc, keras_written_configs_round_trip);
    tcase_add_test(tc, bad_component_configs_are_errors);
    tcase_add_test(tc, activation_names_compute_and_differentiate);
    tcase_add_test(tc, initializer_statistics_on_100k_samples);
    tcase_add_test(tc, seeds_repeat_and_unseeded_draws_differ);
    tcase_add_test(tc, orthogonal_identity_and_constants);
    tcase_add_test(tc, regularizer_penalties_and_gradients);
    tcase_add_test(tc, constraint_projections);
    tcase_add_test(tc, variables_apply_their_constraint);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
