/* Every op's gradient against central finite differences.
 *
 * tu_grad_check compares the tape's gradient of sum(op(x) * R), R random,
 * with (f(x + h) - f(x - h)) / 2h evaluated in double from float32 outputs.
 * Tolerances, per op: smooth ops use h = 1e-2 and rtol 2e-2 / atol 2e-3
 * (float32 rounding of the outputs divided by 2h dominates); ops with kinks
 * (relu, abs, max, clip, ...) are probed at points at least 0.1 away from
 * the kink, where the same tolerance holds. Large-output ops (matmul,
 * reductions over many elements) use h = 1e-2 as well: their outputs are
 * linear in each input, so truncation error is zero. */
#include "testutil.h"

#define D(...) ((int64_t[]){__VA_ARGS__})
#define EPS 1e-2
#define RTOL 2e-2
#define ATOL 2e-3

typedef kc_tensor *(*unary_api)(kc_tensor *, kc_error *);
typedef kc_tensor *(*binary_api)(kc_tensor *, kc_tensor *, kc_error *);

static kc_tensor *call_unary(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    return (*(const unary_api *)ctx)(in[0], err);
}
static kc_tensor *call_binary(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    return (*(const binary_api *)ctx)(in[0], in[1], err);
}

static void check_unary(const char *name, unary_api fn, kc_tensor *x)
{
    tu_grad_check(name, call_unary, &fn, &x, 1, EPS, RTOL, ATOL);
    kc_tensor_unref(x);
}

START_TEST(unary_math_gradients)
{
    int64_t *d = D(3, 4);
    check_unary("neg", kc_neg, tu_random(2, d, -2, 2, 1));
    check_unary("abs", kc_abs, tu_random_away(2, d, 0.1f, 2, 2));
    check_unary("square", kc_square, tu_random(2, d, -2, 2, 3));
    check_unary("sqrt", kc_sqrt, tu_random(2, d, 0.5f, 3, 4));
    check_unary("rsqrt", kc_rsqrt, tu_random(2, d, 0.5f, 3, 5));
    check_unary("exp", kc_exp, tu_random(2, d, -2, 2, 6));
    check_unary("log", kc_log, tu_random(2, d, 0.5f, 3, 7));
    check_unary("log1p", kc_log1p, tu_random(2, d, -0.4f, 3, 8));
}
END_TEST

START_TEST(sign_has_zero_gradient)
{
    kc_error err = {0};
    kc_tensor *x = TU_T1(3, -1, 0.5f, 2);
    kc_tape *tape = kc_tape_begin(0, &err);
    CK_OK(kc_tape_watch(tape, x, &err));
    kc_tensor *y = kc_sign(x, &err);
    kc_tape_end(tape);
    kc_tensor *g;
    CK_OK(kc_tape_gradient(tape, y, &x, 1, &g, &err));
    float zeros[3] = {0, 0, 0};
    tu_assert_close(g, 1, D(3), zeros, 0, 0, "sign'");
    kc_tensor_unref(g);
    kc_tensor_unref(y);
    kc_tensor_unref(x);
    kc_tape_free(tape);
}
END_TEST

static kc_tensor *elu_half(kc_tensor *x, kc_error *e) { return kc_elu(x, 0.5f, e); }
static kc_tensor *elu_one(kc_tensor *x, kc_error *e) { return kc_elu(x, 1.0f, e); }
static kc_tensor *gelu_exact(kc_tensor *x, kc_error *e) { return kc_gelu(x, false, e); }
static kc_tensor *gelu_tanh(kc_tensor *x, kc_error *e) { return kc_gelu(x, true, e); }
static kc_tensor *leaky(kc_tensor *x, kc_error *e) { return kc_leaky_relu(x, 0.3f, e); }
static kc_tensor *relu_ex(kc_tensor *x, kc_error *e) { return kc_relu_ex(x, 0.1f, 1.5f, 0.5f, e); }
static kc_tensor *clip(kc_tensor *x, kc_error *e) { return kc_clip(x, -1.0f, 1.0f, e); }
static kc_tensor *softmax_last(kc_tensor *x, kc_error *e) { return kc_softmax(x, -1, e); }
static kc_tensor *softmax_first(kc_tensor *x, kc_error *e) { return kc_softmax(x, 0, e); }
static kc_tensor *log_softmax_mid(kc_tensor *x, kc_error *e) { return kc_log_softmax(x, 1, e); }

START_TEST(activation_gradients)
{
    int64_t *d = D(4, 5);
    check_unary("relu", kc_relu, tu_random_away(2, d, 0.1f, 2, 11));
    check_unary("sigmoid", kc_sigmoid, tu_random(2, d, -4, 4, 12));
    check_unary("tanh", kc_tanh, tu_random(2, d, -2, 2, 13));
    check_unary("softplus", kc_softplus, tu_random(2, d, -4, 4, 14));
    check_unary("softsign", kc_softsign, tu_random_away(2, d, 0.1f, 3, 15));
    check_unary("elu(0.5)", elu_half, tu_random_away(2, d, 0.1f, 3, 16));
    check_unary("elu(1)", elu_one, tu_random_away(2, d, 0.1f, 3, 17));
    check_unary("selu", kc_selu, tu_random_away(2, d, 0.1f, 3, 18));
    check_unary("gelu exact", gelu_exact, tu_random(2, d, -3, 3, 19));
    check_unary("gelu tanh", gelu_tanh, tu_random(2, d, -3, 3, 20));
    check_unary("swish", kc_swish, tu_random(2, d, -4, 4, 21));
    check_unary("mish", kc_mish, tu_random(2, d, -3, 3, 22));
    check_unary("hard_sigmoid", kc_hard_sigmoid, tu_random(2, d, -2.3f, 2.3f, 23));
    check_unary("relu6", kc_relu6, tu_random(2, d, 0.1f, 5.8f, 24));
    /* hard_swish: away from its kinks at -3 and 3 */
    kc_tensor *hs = tu_random(2, d, -4.5f, 4.5f, 31);
    float *hp = kc_tensor_f32(hs);
    for (int i = 0; i < 20; i++)
        if (fabsf(fabsf(hp[i]) - 3.0f) < 0.1f) hp[i] *= 0.9f;
    check_unary("hard_swish", kc_hard_swish, hs);
    check_unary("leaky_relu", leaky, tu_random_away(2, d, 0.1f, 3, 25));
    /* away from the kinks at 0.5 and 1.5 */
    kc_tensor *x = tu_random(2, d, -1, 2, 26);
    float *p = kc_tensor_f32(x);
    for (int i = 0; i < 20; i++)
        if (fabsf(p[i] - 0.5f) < 0.1f || fabsf(p[i] - 1.5f) < 0.1f) p[i] += 0.25f;
    check_unary("relu(slope, max, threshold)", relu_ex, x);
    kc_tensor *c = tu_random(2, d, -2, 2, 27);
    p = kc_tensor_f32(c);
    for (int i = 0; i < 20; i++)
        if (fabsf(fabsf(p[i]) - 1.0f) < 0.1f) p[i] *= 0.8f;
    check_unary("clip", clip, c);
    check_unary("softmax(-1)", softmax_last, tu_random(2, d, -3, 3, 28));
    check_unary("softmax(0)", softmax_first, tu_random(2, d, -3, 3, 29));
    check_unary("log_softmax(1)", log_softmax_mid, tu_random(3, D(2, 3, 4), -3, 3, 30));
}
END_TEST

static void check_binary(const char *name, binary_api fn, kc_tensor *a, kc_tensor *b)
{
    kc_tensor *in[2] = {a, b};
    tu_grad_check(name, call_binary, &fn, in, 2, EPS, RTOL, ATOL);
    kc_tensor_unref(a);
    kc_tensor_unref(b);
}

START_TEST(binary_gradients_with_broadcasting)
{
    int64_t *d = D(3, 4);
    check_binary("add", kc_add, tu_random(2, d, -2, 2, 31), tu_random(2, d, -2, 2, 32));
    check_binary("add bias", kc_add, tu_random(2, d, -2, 2, 33), tu_random(1, D(4), -2, 2, 34));
    check_binary("sub column", kc_sub, tu_random(2, D(3, 1), -2, 2, 35), tu_random(2, d, -2, 2, 36));
    check_binary("mul outer", kc_mul, tu_random(2, D(3, 1), -2, 2, 37), tu_random(2, D(1, 4), -2, 2, 38));
    check_binary("mul scalar", kc_mul, tu_random(0, NULL, -2, 2, 39), tu_random(3, D(2, 3, 4), -2, 2, 40));
    check_binary("div", kc_div, tu_random(2, d, -2, 2, 41), tu_random_away(2, d, 0.5f, 2, 42));
    check_binary("div broadcast", kc_div, tu_random(1, D(4), -2, 2, 43), tu_random_away(2, d, 0.5f, 2, 44));
    check_binary("pow", kc_pow, tu_random(2, d, 0.5f, 2, 45), tu_random(2, d, -2, 2, 46));
    /* maximum/minimum: keep the two sides at least 0.2 apart */
    kc_tensor *a = tu_random(2, d, -2, 2, 47), *b = tu_random(2, d, -2, 2, 48);
    float *pa = kc_tensor_f32(a), *pb = kc_tensor_f32(b);
    for (int i = 0; i < 12; i++)
        if (fabsf(pa[i] - pb[i]) < 0.2f) pa[i] = pb[i] + 0.5f;
    check_binary("maximum", kc_maximum, kc_tensor_ref(a), kc_tensor_ref(b));
    check_binary("minimum", kc_minimum, a, b);
    check_binary("maximum broadcast", kc_maximum, tu_random(2, D(3, 1), 0.5f, 1, 49), tu_random(1, D(4), -1, 0.3f, 50));
}
END_TEST

START_TEST(maximum_sends_ties_to_the_first_argument)
{
    kc_error err = {0};
    kc_tensor *a = TU_T1(2, 1, 2), *b = TU_T1(2, 1, 3);
    kc_tape *tape = kc_tape_begin(0, &err);
    CK_OK(kc_tape_watch(tape, a, &err));
    CK_OK(kc_tape_watch(tape, b, &err));
    kc_tensor *m = kc_maximum(a, b, &err);
    kc_tape_end(tape);
    kc_tensor *src[2] = {a, b}, *g[2];
    CK_OK(kc_tape_gradient(tape, m, src, 2, g, &err));
    tu_assert_close(g[0], 1, D(2), (float[]){1, 0}, 0, 0, "d max / d a");
    tu_assert_close(g[1], 1, D(2), (float[]){0, 1}, 0, 0, "d max / d b");
    kc_tensor_unref(g[0]);
    kc_tensor_unref(g[1]);
    kc_tensor_unref(m);
    kc_tensor_unref(a);
    kc_tensor_unref(b);
    kc_tape_free(tape);
}
END_TEST

static kc_tensor *where_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    return kc_where((kc_tensor *)ctx, in[0], in[1], err);
}

START_TEST(where_gradient_goes_to_the_chosen_side)
{
    kc_tensor *cond = TU_T2(2, 3, 1, 0, 1, 0, 0, 1);
    kc_tensor *in[2] = {tu_random(2, D(2, 3), -1, 1, 51), tu_random(1, D(3), -1, 1, 52)};
    tu_grad_check("where", where_fn, cond, in, 2, EPS, RTOL, ATOL);
    kc_tensor_unref(in[0]);
    kc_tensor_unref(in[1]);
    kc_tensor_unref(cond);
}
END_TEST

typedef struct {
    bool ta, tb;
} mm_ctx;

static kc_tensor *mm_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    const mm_ctx *c = ctx;
    return kc_matmul(in[0], in[1], c->ta, c->tb, err);
}

START_TEST(matmul_gradients_all_transposes_and_batches)
{
    for (int t = 0; t < 4; t++) {
        mm_ctx c = {t & 1, (t >> 1) & 1};
        int64_t *da = c.ta ? D(4, 3) : D(3, 4), *db = c.tb ? D(5, 4) : D(4, 5);
        kc_tensor *in[2] = {tu_random(2, da, -1, 1, 60 + t), tu_random(2, db, -1, 1, 70 + t)};
        char name[64];
        snprintf(name, sizeof(name), "matmul ta=%d tb=%d", c.ta, c.tb);
        tu_grad_check(name, mm_fn, &c, in, 2, EPS, RTOL, ATOL);
        /* batched with broadcast: a [2,1,3,4] (or transposed), b [3,4,5] */
        kc_tensor *ba = tu_random(4, c.ta ? D(2, 1, 4, 3) : D(2, 1, 3, 4), -1, 1, 80 + t);
        kc_tensor *bb = tu_random(3, c.tb ? D(3, 5, 4) : D(3, 4, 5), -1, 1, 90 + t);
        kc_tensor *bin[2] = {ba, bb};
        snprintf(name, sizeof(name), "batched matmul ta=%d tb=%d", c.ta, c.tb);
        tu_grad_check(name, mm_fn, &c, bin, 2, EPS, RTOL, ATOL);
        /* folded: a [2,3,4] @ b [4,5] */
        kc_tensor *fa = tu_random(3, c.ta ? D(2, 4, 3) : D(2, 3, 4), -1, 1, 100 + t);
        kc_tensor *fin[2] = {fa, in[1]};
        snprintf(name, sizeof(name), "rank-3 @ matrix ta=%d tb=%d", c.ta, c.tb);
        tu_grad_check(name, mm_fn, &c, fin, 2, EPS, RTOL, ATOL);
        kc_tensor_unref(in[0]);
        kc_tensor_unref(in[1]);
        kc_tensor_unref(ba);
        kc_tensor_unref(bb);
        kc_tensor_unref(fa);
    }
}
END_TEST

typedef struct {
    int kind;   /* 0 sum 1 mean 2 max 3 min 4 prod */
    int axes[3];
    int n_axes;
    bool keep;
} red_ctx;

static kc_tensor *red_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    const red_ctx *c = ctx;
    typedef kc_tensor *(*rf)(kc_tensor *, const int *, int, bool, kc_error *);
    static const rf fns[5] = {kc_reduce_sum, kc_reduce_mean, kc_reduce_max, kc_reduce_min,
                              kc_reduce_prod};
    return fns[c->kind](in[0], c->n_axes ? c->axes : NULL, c->n_axes, c->keep, err);
}

START_TEST(reduction_gradients)
{
    static const char *names[5] = {"sum", "mean", "max", "min", "prod"};
    red_ctx cases[] = {
        {0, {0}, 0, false}, {0, {1}, 1, true}, {0, {0, 2}, 2, false},
        {1, {-1}, 1, false}, {1, {0}, 0, true},
        {2, {1}, 1, false}, {2, {0, 2}, 2, true},
        {3, {2}, 1, false}, {3, {0}, 0, false},
        {4, {1}, 1, false}, {4, {0, 2}, 2, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* distinct values so max/min have no ties; magnitudes near 1 for prod */
        kc_tensor *x = tu_random_away(3, D(2, 3, 4), 0.6f, 1.4f, 200 + i);
        char name[64];
        snprintf(name, sizeof(name), "reduce_%s case %zu", names[cases[i].kind], i);
        tu_grad_check(name, red_fn, &cases[i], &x, 1, EPS, RTOL, ATOL);
        kc_tensor_unref(x);
    }
}
END_TEST

START_TEST(reduce_max_splits_ties_and_prod_handles_zeros)
{
    kc_error err = {0};
    kc_tensor *x = TU_T1(4, 3, 1, 3, 0);
    kc_tape *tape = kc_tape_begin(KC_TAPE_PERSISTENT, &err);
    CK_OK(kc_tape_watch(tape, x, &err));
    kc_tensor *m = kc_reduce_max(x, NULL, 0, false, &err);
    kc_tensor *p = kc_reduce_prod(x, NULL, 0, false, &err);
    kc_tape_end(tape);
    kc_tensor *g;
    CK_OK(kc_tape_gradient(tape, m, &x, 1, &g, &err));
    tu_assert_close(g, 1, D(4), (float[]){0.5f, 0, 0.5f, 0}, 0, 0, "max ties");
    kc_tensor_unref(g);
    CK_OK(kc_tape_gradient(tape, p, &x, 1, &g, &err));
    tu_assert_close(g, 1, D(4), (float[]){0, 0, 0, 9}, 0, 0, "prod with a zero");
    kc_tensor_unref(g);
    kc_tensor_unref(m);
    kc_tensor_unref(p);
    kc_tensor_unref(x);
    kc_tape_free(tape);
}
END_TEST

static kc_tensor *reshape_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    (void)ctx;
    /* reshape then scale so the gradient is not trivially ones */
    kc_tensor *r = kc_reshape(in[0], 2, D(4, -1), err);
    kc_tensor *s = kc_square(r, err);
    kc_tensor_unref(r);
    return s;
}
static kc_tensor *transpose_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    return kc_transpose(in[0], ctx, err);
}
static kc_tensor *concat_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    return kc_concat(in, 3, *(const int *)ctx, err);
}
static kc_tensor *slice_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    (void)ctx;
    return kc_slice(in[0], D(1, 0, 1), D(1, -1, 2), err);
}
static kc_tensor *split_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    (void)ctx;
    kc_tensor *parts[2];
    if (kc_split(in[0], 2, D(1, 3), 2, parts, err) != KC_OK) return NULL;
    kc_tensor *sq = kc_square(parts[1], err);
    kc_tensor *r0 = kc_reshape(parts[0], 2, D(-1, 1), err), *r1 = kc_reshape(sq, 2, D(-1, 1), err);
    kc_tensor *both[2] = {r0, r1};
    kc_tensor *out = kc_concat(both, 2, 0, err);
    kc_tensor_unref(parts[0]);
    kc_tensor_unref(parts[1]);
    kc_tensor_unref(sq);
    kc_tensor_unref(r0);
    kc_tensor_unref(r1);
    return out;
}
static kc_tensor *gather_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    return kc_gather(in[0], (kc_tensor *)ctx, 0, err);
}
static kc_tensor *gather1_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    return kc_gather(in[0], (kc_tensor *)ctx, 1, err);
}
static kc_tensor *pad_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    (void)ctx;
    return kc_pad(in[0], D(1, 0, 0, 2, 1, 1), 0.5f, err);
}
static kc_tensor *bcast_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    (void)ctx;
    return kc_broadcast_to(in[0], 3, D(2, 3, 4), err);
}
static kc_tensor *expand_squeeze_fn(kc_tensor *const *in, const void *ctx, kc_error *err)
{
    (void)ctx;
    kc_tensor *e = kc_expand_dims(in[0], 1, err);
    kc_tensor *m = kc_mul(e, e, err);
    kc_tensor *s = kc_squeeze(m, 1, err);
    kc_tensor_unref(e);
    kc_tensor_unref(m);
    return s;
}

START_TEST(shape_op_gradients)
{
    kc_error err = {0};
    kc_tensor *x = tu_random(3, D(2, 3, 4), -1, 1, 300);
    tu_grad_check("reshape", reshape_fn, NULL, &x, 1, EPS, RTOL, ATOL);
    static const int perm[3] = {2, 0, 1};
    tu_grad_check("transpose", transpose_fn, perm, &x, 1, EPS, RTOL, ATOL);
    tu_grad_check("slice", slice_fn, NULL, &x, 1, EPS, RTOL, ATOL);
    tu_grad_check("split", split_fn, NULL, &x, 1, EPS, RTOL, ATOL);
    tu_grad_check("pad", pad_fn, NULL, &x, 1, EPS, RTOL, ATOL);
    tu_grad_check("expand_dims/squeeze", expand_squeeze_fn, NULL, &x, 1, EPS, RTOL, ATOL);
    kc_tensor *cin[3] = {x, tu_random(3, D(2, 3, 2), -1, 1, 301), tu_random(3, D(2, 3, 1), -1, 1, 302)};
    int axis = -1;
    tu_grad_check("concat", concat_fn, &axis, cin, 3, EPS, RTOL, ATOL);
    kc_tensor *idx = kc_tensor_from_data(KC_INT64, 2, D(2, 2), (int64_t[]){1, 0, 1, 1}, &err);
    tu_grad_check("gather (repeated rows accumulate)", gather_fn, idx, &x, 1, EPS, RTOL, ATOL);
    tu_grad_check("gather axis 1", gather1_fn, idx, &x, 1, EPS, RTOL, ATOL);
    kc_tensor *small = tu_random(2, D(1, 4), -1, 1, 303);
    tu_grad_check("broadcast_to", bcast_fn, NULL, &small, 1, EPS, RTOL, ATOL);
    kc_tensor_unref(x);
    kc_tensor_unref(cin[1]);
    kc_tensor_unref(cin[2]);
    kc_tensor_unref(idx);
    kc_tensor_unref(small);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("grad");
    TCase *tc = tcase_create("finite differences");
    tcase_add_test(tc, unary_math_gradients);
    tcase_add_test(tc, sign_has_zero_gradient);
    tcase_add_test(tc, activation_gradients);
    tcase_add_test(tc, binary_gradients_with_broadcasting);
    tcase_add_test(tc, maximum_sends_ties_to_the_first_argument);
    tcase_add_test(tc, where_gradient_goes_to_the_chosen_side);
    tcase_add_test(tc, matmul_gradients_all_transposes_and_batches);
    tcase_add_test(tc, reduction_gradients);
    tcase_add_test(tc, reduce_max_splits_ties_and_prod_handles_zeros);
    tcase_add_test(tc, shape_op_gradients);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
