/* Gradient tape semantics, with the seed's examples (tf.GradientTape). */
#include "testutil.h"

#define D(...) ((int64_t[]){__VA_ARGS__})

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

/* f(w1, w2) = 3 w1^2 + 2 w1 w2, written with ops */
static kc_tensor *seed_f(kc_tensor *w1, kc_tensor *w2, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *a = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_square(w1, e)), 3, e));
    kc_tensor *b = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_mul(w1, w2, e)), 2, e));
    kc_tensor *z = kc_add(a, b, e);
    kc_scope_free(s);
    return z;
}

static kc_status seed_scalar(void *ud, kc_tensor *const *in, int n, double *value, kc_error *e)
{
    (void)ud;
    (void)n;
    kc_tensor *z = seed_f(in[0], in[1], e);
    if (!z) return e->code;
    *value = kc_tensor_item(z);
    kc_tensor_unref(z);
    return KC_OK;
}

START_TEST(seed_numeric_gradient_is_about_36_and_10)
{
    kc_tensor *w[2] = {kc_tensor_scalar(5, &err), kc_tensor_scalar(3, &err)};
    kc_tensor *g[2];
    CK_OK(kc_numeric_gradient(seed_scalar, NULL, w, 2, 1e-2, g, &err));
    ck_assert_msg(fabs(kc_tensor_item(g[0]) - 36.0) < 0.05, "dz/dw1 = %g", kc_tensor_item(g[0]));
    ck_assert_msg(fabs(kc_tensor_item(g[1]) - 10.0) < 0.05, "dz/dw2 = %g", kc_tensor_item(g[1]));
    for (int i = 0; i < 2; i++) {
        kc_tensor_unref(g[i]);
        kc_tensor_unref(w[i]);
    }
}
END_TEST

static kc_variable *var(const char *name, float v)
{
    kc_tensor *t = kc_tensor_scalar(v, &err);
    kc_variable *x = kc_variable_new_take(name, t, true, &err);
    CK_NN(x, err);
    return x;
}

START_TEST(seed_tape_gives_36_and_10)
{
    kc_variable *w1 = var("w1", 5), *w2 = var("w2", 3);
    kc_tape *tape = kc_tape_begin(0, &err);
    CK_NN(tape, err);
    kc_tensor *z = seed_f(kc_variable_value(w1), kc_variable_value(w2), &err);
    kc_tape_end(tape);
    CK_NN(z, err);
    ck_assert(kc_tensor_item(z) == 105.0f);
    kc_tensor *src[2] = {kc_variable_value(w1), kc_variable_value(w2)}, *g[2];
    CK_OK(kc_tape_gradient(tape, z, src, 2, g, &err));
    ck_assert(kc_tensor_item(g[0]) == 36.0f);
    ck_assert(kc_tensor_item(g[1]) == 10.0f);
    kc_tensor_unref(g[0]);
    kc_tensor_unref(g[1]);
    /* a non-persistent tape answers once */
    ck_assert_int_eq(kc_tape_gradient(tape, z, src, 2, g, &err), KC_ESTATE);
    CK_ERR(err, KC_ESTATE, "PERSISTENT");
    ck_assert_ptr_null(g[0]);
    ck_assert_ptr_null(g[1]);
    kc_tape_free(tape);
    kc_tensor_unref(z);
    kc_variable_unref(w1);
    kc_variable_unref(w2);
}
END_TEST

START_TEST(seed_persistent_tape_answers_36_then_10)
{
    kc_variable *w1 = var("w1", 5), *w2 = var("w2", 3);
    kc_tape *tape = kc_tape_begin(KC_TAPE_PERSISTENT, &err);
    kc_tensor *z = seed_f(kc_variable_value(w1), kc_variable_value(w2), &err);
    kc_tape_end(tape);
    kc_tensor *s1 = kc_variable_value(w1), *s2 = kc_variable_value(w2), *g1, *g2;
    CK_OK(kc_tape_gradient(tape, z, &s1, 1, &g1, &err));
    CK_OK(kc_tape_gradient(tape, z, &s2, 1, &g2, &err));
    ck_assert(kc_tensor_item(g1) == 36.0f);
    ck_assert(kc_tensor_item(g2) == 10.0f);
    kc_tensor_unref(g1);
    kc_tensor_unref(g2);
    kc_tape_free(tape); /* frees everything it holds: ASan checks */
    kc_tensor_unref(z);
    kc_variable_unref(w1);
    kc_variable_unref(w2);
}
END_TEST

START_TEST(seed_constants_give_null_unless_watched)
{
    kc_tensor *c1 = kc_tensor_scalar(5, &err), *c2 = kc_tensor_scalar(3, &err);
    kc_tensor *src[2] = {c1, c2}, *g[2];
    kc_tape *tape = kc_tape_begin(0, &err);
    kc_tensor *z = seed_f(c1, c2, &err);
    kc_tape_end(tape);
    ck_assert_uint_eq(kc_tape_size(tape), 0);
    CK_OK(kc_tape_gradient(tape, z, src, 2, g, &err));
    ck_assert_ptr_null(g[0]);
    ck_assert_ptr_null(g[1]);
    kc_tape_free(tape);
    kc_tensor_unref(z);

    tape = kc_tape_begin(0, &err);
    CK_OK(kc_tape_watch(tape, c1, &err));
    CK_OK(kc_tape_watch(tape, c2, &err));
    ck_assert(kc_tape_is_watching(tape, c1));
    z = seed_f(c1, c2, &err);
    kc_tape_end(tape);
    CK_OK(kc_tape_gradient(tape, z, src, 2, g, &err));
    ck_assert(kc_tensor_item(g[0]) == 36.0f);
    ck_assert(kc_tensor_item(g[1]) == 10.0f);
    kc_tensor_unref(g[0]);
    kc_tensor_unref(g[1]);
    kc_tape_free(tape);
    kc_tensor_unref(z);
    kc_tensor_unref(c1);
    kc_tensor_unref(c2);
}
END_TEST

START_TEST(seed_stop_gradient_gives_30_and_null)
{
    kc_variable *w1 = var("w1", 5), *w2 = var("w2", 3);
    kc_tensor *a = kc_variable_value(w1), *b = kc_variable_value(w2);
    kc_tape *tape = kc_tape_begin(0, &err);
    kc_scope *s = kc_scope_new(&err);
    kc_tensor *t1 = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_square(a, &err)), 3, &err));
    kc_tensor *t2 = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_mul(a, b, &err)), 2, &err));
    kc_tensor *z = kc_scope_take(s, kc_add(t1, kc_scope_take(s, kc_stop_gradient(t2, &err)), &err));
    kc_tape_end(tape);
    CK_NN(z, err);
    ck_assert(kc_tensor_item(z) == 105.0f); /* forward unchanged */
    kc_tensor *src[2] = {a, b}, *g[2];
    CK_OK(kc_tape_gradient(tape, z, src, 2, g, &err));
    ck_assert(kc_tensor_item(g[0]) == 30.0f);
    ck_assert_ptr_null(g[1]);
    kc_tensor_unref(g[0]);
    kc_scope_free(s);
    kc_tape_free(tape);
    kc_variable_unref(w1);
    kc_variable_unref(w2);
}
END_TEST

/* ---- custom gradient: the seed's softplus fix ------------------------------------ */

static kc_status naive_softplus_fwd(void *ctx, kc_tensor *const *in, int n_in, kc_tensor **out,
                                    int n_out, kc_error *e)
{
    (void)ctx, (void)n_in, (void)n_out;
    /* log(exp(z) + 1), computed naively as in the seed */
    kc_tensor *ex = kc_exp(in[0], e);
    kc_tensor *p = kc_add_scalar(ex, 1.0f, e);
    out[0] = kc_log(p, e);
    kc_tensor_unref(ex);
    kc_tensor_unref(p);
    return out[0] ? KC_OK : e->code;
}

/* grad / (1 + 1 / exp(z)): finite even when exp(z) overflows */
static kc_status better_softplus_bwd(void *ctx, kc_tensor *const *in, int n_in,
                                     kc_tensor *const *out, int n_out, kc_tensor *const *gout,
                                     const bool *needs, kc_tensor **gin, kc_error *e)
{
    (void)ctx, (void)n_in, (void)out, (void)n_out;
    if (!needs[0]) return KC_OK;
    kc_tensor *ex = kc_exp(in[0], e);
    kc_tensor *one = kc_tensor_scalar(1.0f, e);
    kc_tensor *r = kc_div(one, ex, e);
    kc_tensor *d = kc_add_scalar(r, 1.0f, e);
    gin[0] = kc_div(gout[0], d, e);
    kc_tensor_unref(ex);
    kc_tensor_unref(one);
    kc_tensor_unref(r);
    kc_tensor_unref(d);
    return gin[0] ? KC_OK : e->code;
}

static int ctx_frees;
static void count_free(void *ctx)
{
    (void)ctx;
    ctx_frees++;
}

static const kc_custom_op better_softplus = {
    "my_better_softplus", naive_softplus_fwd, better_softplus_bwd, count_free};

START_TEST(seed_custom_gradient_is_finite_where_naive_is_nan)
{
    kc_tensor *z = kc_tensor_scalar(100.0f, &err);
    /* naive: d/dz log(exp(z) + 1) through the ops is inf/inf = NaN */
    kc_tape *tape = kc_tape_begin(0, &err);
    CK_OK(kc_tape_watch(tape, z, &err));
    kc_tensor *y = NULL;
    CK_OK(naive_softplus_fwd(NULL, &z, 1, &y, 1, &err));
    kc_tape_end(tape);
    kc_tensor *g;
    CK_OK(kc_tape_gradient(tape, y, &z, 1, &g, &err));
    ck_assert_msg(isnan(kc_tensor_item(g)), "naive gradient %g", kc_tensor_item(g));
    kc_tensor_unref(g);
    kc_tensor_unref(y);
    kc_tape_free(tape);

    /* custom gradient: 1.0 */
    ctx_frees = 0;
    tape = kc_tape_begin(0, &err);
    CK_OK(kc_tape_watch(tape, z, &err));
    y = kc_custom_call1(&better_softplus, NULL, &z, 1, &err);
    CK_NN(y, err);
    kc_tape_end(tape);
    ck_assert_uint_eq(kc_tape_size(tape), 1); /* the forward's ops were not recorded */
    CK_OK(kc_tape_gradient(tape, y, &z, 1, &g, &err));
    ck_assert_msg(kc_tensor_item(g) == 1.0f, "custom gradient %g", kc_tensor_item(g));
    kc_tensor_unref(g);
    kc_tensor_unref(y);
    ck_assert_int_eq(ctx_frees, 1); /* released with the non-persistent tape's answer */
    kc_tape_free(tape);
    ck_assert_int_eq(ctx_frees, 1);
    /* not recorded at all: ctx freed at once */
    y = kc_custom_call1(&better_softplus, NULL, &z, 1, &err);
    kc_tensor_unref(y);
    ck_assert_int_eq(ctx_frees, 2);
    kc_tensor_unref(z);
}
END_TEST

START_TEST(custom_op_errors_are_reported_and_ctx_freed)
{
    ctx_frees = 0;
    kc_custom_op bad = {"bad", NULL, better_softplus_bwd, count_free};
    kc_tensor *z = kc_tensor_scalar(1, &err);
    ck_assert_ptr_null(kc_custom_call1(&bad, NULL, &z, 1, &err));
    CK_ERR(err, KC_EINVAL, "custom");
    ck_assert_int_eq(ctx_frees, 1);
    kc_tensor_unref(z);
}
END_TEST

/* ---- the seed's Huber loss written with ops ------------------------------------------ */

static kc_tensor *huber(kc_tensor *y_true, kc_tensor *y_pred, float threshold, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *error = kc_scope_take(s, kc_sub(y_true, y_pred, e));
    kc_tensor *abs_err = kc_scope_take(s, kc_abs(error, e));
    kc_tensor *small = kc_scope_take(s, kc_less_scalar(abs_err, threshold, e));
    kc_tensor *sq = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_square(error, e)), 0.5f, e));
    kc_tensor *lin = kc_scope_take(
        s, kc_sub_scalar(kc_scope_take(s, kc_mul_scalar(abs_err, threshold, e)),
                         threshold * threshold / 2, e));
    kc_tensor *out = kc_where(small, sq, lin, e);
    kc_scope_free(s);
    return out;
}

static kc_tensor *huber_fn(kc_tensor *const *in, const void *ctx, kc_error *e)
{
    return huber(in[0], in[1], *(const float *)ctx, e);
}

START_TEST(seed_huber_with_ops_and_its_gradient)
{
    kc_tensor *yt = TU_T1(4, 0, 0, 0, 0), *yp = TU_T1(4, 0.5f, -0.5f, 3, -2);
    kc_tensor *l = huber(yt, yp, 1.0f, &err);
    tu_assert_close(l, 1, D(4), (float[]){0.125f, 0.125f, 2.5f, 1.5f}, 1e-6, 0, "huber(1)");
    kc_tensor_unref(l);
    l = huber(yt, yp, 2.0f, &err);
    tu_assert_close(l, 1, D(4), (float[]){0.125f, 0.125f, 4.0f, 2.0f}, 1e-6, 0, "huber(2)");
    kc_tensor_unref(l);
    /* gradient w.r.t. y_pred: error inside the threshold, +-threshold outside */
    kc_tape *tape = kc_tape_begin(0, &err);
    CK_OK(kc_tape_watch(tape, yp, &err));
    l = huber(yt, yp, 1.0f, &err);
    kc_tape_end(tape);
    kc_tensor *g;
    CK_OK(kc_tape_gradient(tape, l, &yp, 1, &g, &err));
    tu_assert_close(g, 1, D(4), (float[]){0.5f, -0.5f, 1, -1}, 1e-6, 0, "huber'");
    kc_tensor_unref(g);
    kc_tensor_unref(l);
    kc_tape_free(tape);
    float th = 1.0f;
    kc_tensor *in[2] = {tu_random_away(2, D(3, 4), 0.1f, 0.8f, 5), tu_random_away(2, D(3, 4), 1.3f, 3, 6)};
    tu_grad_check("huber", huber_fn, &th, in, 2, 1e-2, 2e-2, 2e-3);
    kc_tensor_unref(in[0]);
    kc_tensor_unref(in[1]);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
}
END_TEST

/* ---- more semantics ---------------------------------------------------------------- */

START_TEST(nested_tapes_both_record)
{
    kc_variable *w = var("w", 3);
    kc_tensor *x = kc_variable_value(w);
    kc_tape *outer = kc_tape_begin(0, &err);
    kc_tensor *a = kc_square(x, &err); /* only the outer tape sees this */
    kc_tape *inner = kc_tape_begin(0, &err);
    kc_tensor *b = kc_mul(a, x, &err); /* both tapes */
    kc_tape_end(inner);
    kc_tape_end(outer);
    ck_assert_uint_eq(kc_tape_size(outer), 2);
    ck_assert_uint_eq(kc_tape_size(inner), 1);
    kc_tensor *g;
    CK_OK(kc_tape_gradient(inner, b, &x, 1, &g, &err));
    ck_assert(kc_tensor_item(g) == 9.0f); /* inner sees a as a constant: d(a x)/dx = a */
    kc_tensor_unref(g);
    CK_OK(kc_tape_gradient(outer, b, &x, 1, &g, &err));
    ck_assert(kc_tensor_item(g) == 27.0f); /* d x^3 / dx */
    kc_tensor_unref(g);
    kc_tape_free(inner);
    kc_tape_free(outer);
    kc_tensor_unref(a);
    kc_tensor_unref(b);
    kc_variable_unref(w);
}
END_TEST

START_TEST(non_scalar_targets_are_summed_or_weighted)
{
    kc_tensor *x = TU_T1(3, 1, 2, 3);
    kc_tape *tape = kc_tape_begin(KC_TAPE_PERSISTENT, &err);
    CK_OK(kc_tape_watch(tape, x, &err));
    kc_tensor *y = kc_square(x, &err);
    kc_tape_end(tape);
    kc_tensor *g;
    CK_OK(kc_tape_gradient(tape, y, &x, 1, &g, &err));
    tu_assert_close(g, 1, D(3), (float[]){2, 4, 6}, 0, 0, "sum of squares");
    kc_tensor_unref(g);
    kc_tensor *w = TU_T1(3, 1, 0, -1);
    CK_OK(kc_tape_gradient_ex(tape, &y, 1, &w, &x, 1, &g, &err));
    tu_assert_close(g, 1, D(3), (float[]){2, 0, -6}, 0, 0, "weighted");
    kc_tensor_unref(g);
    kc_tensor *bad = TU_T1(2, 1, 1);
    ck_assert_int_eq(kc_tape_gradient_ex(tape, &y, 1, &bad, &x, 1, &g, &err), KC_ESHAPE);
    /* gradient of a tensor w.r.t. itself is ones */
    kc_error_clear(&err);
    CK_OK(kc_tape_gradient(tape, x, &x, 1, &g, &err));
    tu_assert_close(g, 1, D(3), (float[]){1, 1, 1}, 0, 0, "dx/dx");
    kc_tensor_unref(g);
    kc_tensor_unref(bad);
    kc_tensor_unref(w);
    kc_tensor_unref(y);
    kc_tensor_unref(x);
    kc_tape_free(tape);
}
END_TEST

START_TEST(frozen_and_unwatched_variables)
{
    kc_variable *w = var("w", 2), *frozen = var("f", 4);
    kc_variable_set_trainable(frozen, false);
    ck_assert(!kc_variable_trainable(frozen));
    ck_assert_str_eq(kc_variable_name(w), "w");
    ck_assert_ptr_eq(kc_tensor_variable(kc_variable_value(w)), w);
    kc_tensor *src[2] = {kc_variable_value(w), kc_variable_value(frozen)}, *g[2];
    kc_tape *tape = kc_tape_begin(0, &err);
    kc_tensor *z = kc_mul(src[0], src[1], &err);
    kc_tape_end(tape);
    CK_OK(kc_tape_gradient(tape, z, src, 2, g, &err));
    ck_assert(kc_tensor_item(g[0]) == 4.0f);
    ck_assert_ptr_null(g[1]); /* non-trainable variables are not watched by themselves */
    kc_tensor_unref(g[0]);
    kc_tape_free(tape);
    kc_tensor_unref(z);
    /* KC_TAPE_NO_AUTO_WATCH: nothing unless watched */
    tape = kc_tape_begin(KC_TAPE_NO_AUTO_WATCH, &err);
    z = kc_mul(src[0], src[1], &err);
    kc_tape_end(tape);
    CK_OK(kc_tape_gradient(tape, z, src, 2, g, &err));
    ck_assert_ptr_null(g[0]);
    kc_tape_free(tape);
    kc_tensor_unref(z);
    /* assignment keeps the value's identity */
    kc_tensor *nv = kc_tensor_scalar(7, &err);
    CK_OK(kc_variable_assign(w, nv, &err));
    ck_assert(kc_tensor_item(kc_variable_value(w)) == 7.0f);
    kc_tensor *wrong = TU_T1(2, 1, 2);
    ck_assert_int_eq(kc_variable_assign(w, wrong, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "variable 'w'");
    kc_tensor_unref(nv);
    kc_tensor_unref(wrong);
    kc_variable_unref(w);
    kc_variable_unref(frozen);
}
END_TEST

START_TEST(paused_tape_does_not_record)
{
    kc_tensor *x = TU_T1(2, 1, 2);
    kc_tape *tape = kc_tape_begin(0, &err);
    CK_OK(kc_tape_watch(tape, x, &err));
    kc_tape_pause(tape);
    kc_tensor *y = kc_square(x, &err);
    kc_tape_resume(tape);
    kc_tensor *z = kc_mul(y, x, &err);
    kc_tape_end(tape);
    ck_assert_uint_eq(kc_tape_size(tape), 1);
    kc_tensor *g;
    CK_OK(kc_tape_gradient(tape, z, &x, 1, &g, &err));
    tu_assert_close(g, 1, D(2), (float[]){1, 4}, 0, 0, "y treated as a constant");
    kc_tensor_unref(g);
    kc_tape_free(tape);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    kc_tensor_unref(z);
}
END_TEST

START_TEST(tape_outlives_a_freed_variable)
{
    /* the tape keeps the value tensor; the variable may go first */
    kc_variable *w = var("w", 2);
    kc_tensor *x = kc_variable_value(w);
    kc_tape *tape = kc_tape_begin(KC_TAPE_PERSISTENT, &err);
    kc_tensor *z = kc_square(x, &err);
    kc_tape_end(tape);
    kc_tensor *keep = kc_tensor_ref(x);
    kc_variable_unref(w);
    ck_assert_ptr_null(kc_tensor_variable(keep));
    kc_tensor *g;
    CK_OK(kc_tape_gradient(tape, z, &keep, 1, &g, &err));
    ck_assert(kc_tensor_item(g) == 4.0f);
    kc_tensor_unref(g);
    kc_tensor_unref(keep);
    kc_tensor_unref(z);
    kc_tape_free(tape);
}
END_TEST

START_TEST(too_many_tapes_is_an_error)
{
    kc_tape *tapes[70];
    int n = 0;
    for (; n < 70; n++) {
        tapes[n] = kc_tape_begin(0, &err);
        if (!tapes[n]) break;
    }
    ck_assert_int_eq(n, 64);
    CK_ERR(err, KC_ELIMIT, "64");
    for (int i = n - 1; i >= 0; i--) kc_tape_free(tapes[i]);
}
END_TEST

START_TEST(mlp_step_computes_no_data_gradient)
{
    /* a two-layer MLP: only weights are sources; the gradient algorithm must
     * not form d/d(input) (checked indirectly: the input is not watched and
     * asking for it gives NULL) */
    kc_tensor *x = tu_random(2, D(8, 5), -1, 1, 1);
    kc_variable *w1 = kc_variable_new_take("w1", tu_random(2, D(5, 4), -1, 1, 2), true, &err);
    kc_variable *w2 = kc_variable_new_take("w2", tu_random(2, D(4, 3), -1, 1, 3), true, &err);
    kc_tape *tape = kc_tape_begin(0, &err);
    kc_scope *s = kc_scope_new(&err);
    kc_tensor *h = kc_scope_take(s, kc_relu(kc_scope_take(s, kc_matmul(x, kc_variable_value(w1), false, false, &err)), &err));
    kc_tensor *o = kc_scope_take(s, kc_matmul(h, kc_variable_value(w2), false, false, &err));
    kc_tensor *loss = kc_scope_take(s, kc_reduce_mean(kc_scope_take(s, kc_square(o, &err)), NULL, 0, false, &err));
    kc_tape_end(tape);
    kc_tensor *src[3] = {kc_variable_value(w1), kc_variable_value(w2), x}, *g[3];
    CK_OK(kc_tape_gradient(tape, loss, src, 3, g, &err));
    ck_assert_ptr_nonnull(g[0]);
    ck_assert_ptr_nonnull(g[1]);
    ck_assert_ptr_null(g[2]);
    kc_tensor_unref(g[0]);
    kc_tensor_unref(g[1]);
    kc_scope_free(s);
    kc_tape_free(tape);
    kc_tensor_unref(x);
    kc_variable_unref(w1);
    kc_variable_unref(w2);
}
END_TEST

/* The internal gradient listener (lib/autodiff/autodiff_int.h), with
 * which data-parallel steps send gradients while the sweep goes on. */
typedef struct kc__grad_listener {
    void (*ready)(void *ctx, int source, const kc_tensor *grad);
    void *ctx;
} kc__grad_listener;
const kc__grad_listener *kc__grad_listen(const kc__grad_listener *l);

typedef struct heard {
    int order[4], n;
    kc_tensor *copy[4];
} heard;

static void hear(void *ctx, int source, const kc_tensor *grad)
{
    heard *h = ctx;
    h->order[h->n++] = source;
    h->copy[source] = kc_tensor_copy(grad, &err);
}

START_TEST(listener_hears_each_gradient_once_when_final)
{
    /* w1 is read first by the matmul and last by a penalty: its gradient
     * is final only when the sweep is back at the matmul, after w2's */
    kc_tensor *x = tu_random(2, D(6, 5), -1, 1, 1);
    kc_variable *w1 = kc_variable_new_take("w1", tu_random(2, D(5, 4), -1, 1, 2), true, &err);
    kc_variable *w2 = kc_variable_new_take("w2", tu_random(2, D(4, 3), -1, 1, 3), true, &err);
    kc_variable *unused = kc_variable_new_take("u", tu_random(1, D(2), -1, 1, 4), true, &err);
    kc_tape *tape = kc_tape_begin(0, &err);
    kc_scope *s = kc_scope_new(&err);
    kc_tensor *h = kc_scope_take(s, kc_tanh(kc_scope_take(s, kc_matmul(x, kc_variable_value(w1), false, false, &err)), &err));
    kc_tensor *o = kc_scope_take(s, kc_matmul(h, kc_variable_value(w2), false, false, &err));
    kc_tensor *loss = kc_scope_take(s, kc_reduce_mean(kc_scope_take(s, kc_square(o, &err)), NULL, 0, false, &err));
    kc_tensor *pen = kc_scope_take(s, kc_reduce_sum(kc_scope_take(s, kc_square(kc_variable_value(w1), &err)), NULL, 0, false, &err));
    kc_tensor *total = kc_scope_take(s, kc_add(loss, pen, &err));
    kc_tape_end(tape);
    kc_tensor *src[4] = {kc_variable_value(w1), kc_variable_value(w2), x, kc_variable_value(unused)}, *g[4];
    heard got = {0};
    kc__grad_listener l = {hear, &got};
    ck_assert_ptr_null(kc__grad_listen(&l));
    CK_OK(kc_tape_gradient(tape, total, src, 4, g, &err));
    ck_assert_ptr_eq(kc__grad_listen(NULL), &l);
    /* w2 then w1, each once, with its final value; x and u never */
    ck_assert_int_eq(got.n, 2);
    ck_assert_int_eq(got.order[0], 1);
    ck_assert_int_eq(got.order[1], 0);
    tu_assert_tensors_close(got.copy[0], g[0], 0, 0, "w1");
    tu_assert_tensors_close(got.copy[1], g[1], 0, 0, "w2");
    ck_assert_ptr_null(g[2]);
    ck_assert_ptr_null(g[3]);
    for (int i = 0; i < 2; i++) {
        kc_tensor_unref(g[i]);
        kc_tensor_unref(got.copy[i]);
    }
    kc_scope_free(s);
    kc_tape_free(tape);
    kc_tensor_unref(x);
    kc_variable_unref(w1);
    kc_variable_unref(w2);
    kc_variable_unref(unused);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("tape");
    TCase *tc = tcase_create("semantics");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, seed_numeric_gradient_is_about_36_and_10);
    tcase_add_test(tc, seed_tape_gives_36_and_10);
    tcase_add_test(tc, seed_persistent_tape_answers_36_then_10);
    tcase_add_test(tc, seed_constants_give_null_unless_watched);
    tcase_add_test(tc, seed_stop_gradient_gives_30_and_null);
    tcase_add_test(tc, seed_custom_gradient_is_finite_where_naive_is_nan);
    tcase_add_test(tc, custom_op_errors_are_reported_and_ctx_freed);
    tcase_add_test(tc, seed_huber_with_ops_and_its_gradient);
    tcase_add_test(tc, nested_tapes_both_record);
    tcase_add_test(tc, non_scalar_targets_are_summed_or_weighted);
    tcase_add_test(tc, frozen_and_unwatched_variables);
    tcase_add_test(tc, paused_tape_does_not_record);
    tcase_add_test(tc, tape_outlives_a_freed_variable);
    tcase_add_test(tc, too_many_tapes_is_an_error);
    tcase_add_test(tc, mlp_step_computes_no_data_gradient);
    tcase_add_test(tc, listener_hears_each_gradient_once_when_final);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
