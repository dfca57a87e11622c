/* Sample 7: automatic differentiation with gradient tapes.
 *
 * f(w1, w2) = 3 w1^2 + 2 w1 w2, whose gradient at (5, 3) is
 * (6 w1 + 2 w2, 2 w1) = (36, 10):
 *   - finite differences give about (36, 10), calling f twice per input
 *     (by hand, as the seed does, then kc_numeric_gradient on tensors);
 *   - a tape (tf.GradientTape) gives exactly (36, 10) from one pass;
 *   - a persistent tape can be asked several times;
 *   - constants are not tracked (None, None) unless watched (tape.watch);
 *   - stop_gradient blocks a term: 3 w1^2 + stop_gradient(2 w1 w2) -> (30, None).
 * Then a custom gradient (tf.custom_gradient; the seed describes it in
 * prose): softplus log(exp(z) + 1) overflows for large z (exp(100) is inf
 * in float32), so its value and its tape gradient are inf and NaN; a custom
 * op computes the value stably and gives the gradient 1 / (1 + 1 / exp(z)),
 * which is 1.0 there.
 * Exit 1 if a value is not the expected one.
 *
 * Lines: finite_differences C 4, Python 8 (0.5x)
 * Lines: tape C 50, Python 30 (1.7x)
 *
 * Run: autodiff */
#include <ckeras.h>

#include "common/check.h"

#include <math.h>

/* Print two gradients (NULL = None) and check them: a NAN expectation
 * means None; tol 0: exact. */
static void show(const char *what, kc_tensor *const *g, double want1, double want2, double tol)
{
    double want[2] = {want1, want2};
    int ok = 1;
    printf("%-36s", what);
    for (int i = 0; i < 2; i++) {
        if (g[i]) {
            printf(" %12.6f", kc_tensor_item(g[i]));
            ok &= !isnan(want[i]) && fabs(kc_tensor_item(g[i]) - want[i]) <= tol;
        } else {
            printf("         None");
            ok &= isnan(want[i]);
        }
    }
    printf("\n");
    check(ok, what);
}

static void drop(kc_tensor **g, int n)
{
    for (int i = 0; i < n; i++) kc_tensor_unref(g[i]);
}

/* seed: finite_differences */
static double f_number(double w1, double w2) { return 3 * w1 * w1 + 2 * w1 * w2; }
/* seed: end */

/* seed: tape */
/* 3 w1^2 + 2 w1 w2, or 3 w1^2 + tf.stop_gradient(2 w1 w2) */
static kc_tensor *f(kc_tensor *w1, kc_tensor *w2, bool stop, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *b = kc_s_mul_scalar(s, kc_s_mul(s, w1, w2), 2);
    if (stop) b = kc_s_stop_gradient(s, b);
    return kc_scope_return(s, kc_s_add(s, kc_s_mul_scalar(s, kc_s_square(s, w1), 3), b));
}
/* seed: end */

/* f as a plain number, for kc_numeric_gradient */
static kc_status f_value(void *ud, kc_tensor *const *in, int n, double *value, kc_error *e)
{
    kc_tensor *z = f(in[0], in[1], false, e);
    if (!z) return e->code;
    *value = kc_tensor_item(z);
    kc_tensor_unref(z);
    return KC_OK;
}

/* ---- softplus with a custom gradient ----------------------------------------------------------- */

static kc_tensor *my_softplus(kc_tensor *z, kc_error *e) /* log(exp(z) + 1): overflows */
{
    kc_scope *s = kc_scope_new(e);
    return kc_scope_return(s, kc_s_log(s, kc_s_add_scalar(s, kc_s_exp(s, z), 1)));
}

/* forward: where(z > 30, z, log(exp(z) + 1)) -- for z > 30, log(exp(z) + 1)
 * and z agree to float32 precision. Ops here are not recorded: the custom
 * op is one node. */
static kc_status better_softplus_forward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor **out, int n_out,
                                         kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    out[0] = kc_scope_return(s, kc_s_where(s, kc_s_greater_scalar(s, in[0], 30), in[0],
                                           kc_scope_take(s, my_softplus(in[0], e))));
    return out[0] ? KC_OK : e->code;
}
/* backward: grad / (1 + 1 / exp(z)), finite for every z (1 / inf = 0) */
static kc_status better_softplus_backward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor *const *out,
                                          int n_out, kc_tensor *const *grad_out, const bool *needs,
                                          kc_tensor **grad_in, kc_error *e)
{
    if (!needs[0]) return KC_OK;
    kc_scope *s = kc_scope_new(e);
    kc_tensor *inv = kc_s_div(s, kc_s_scalar(s, 1), kc_s_exp(s, in[0]));
    grad_in[0] = kc_scope_return(s, kc_s_div(s, grad_out[0], kc_s_add_scalar(s, inv, 1)));
    return grad_in[0] ? KC_OK : e->code;
}
static const kc_custom_op better_softplus_op = {
    .name = "my_better_softplus", .forward = better_softplus_forward, .backward = better_softplus_backward};

static kc_tensor *my_better_softplus(kc_tensor *z, kc_error *e)
{
    return kc_custom_call1(&better_softplus_op, NULL, &z, 1, e);
}

/* value and tape gradient of softplus(z) at one point */
static void softplus_at(kc_tensor *(*fn)(kc_tensor *, kc_error *), float z0, float *value, float *grad)
{
    kc_variable *z = NN(kc_variable_new_take("z", kc_tensor_scalar(z0, &err), true, &err));
    kc_tensor *zv = kc_variable_value(z), *g;
    kc_tape *tape = NN(kc_tape_begin(0, &err));
    kc_tensor *y = NN(fn(zv, &err));
    kc_tape_end(tape);
    TRY(kc_tape_gradient(tape, y, &zv, 1, &g, &err));
    *value = kc_tensor_item(y);
    *grad = kc_tensor_item(g);
    kc_tensor_unref(g);
    kc_tensor_unref(y);
    kc_tape_free(tape);
    kc_variable_unref(z);
}

int main(void)
{
    /* seed: finite_differences */
    double w1 = 5, w2 = 3, eps = 1e-6;
    printf("w1: %.9f\n", (f_number(w1 + eps, w2) - f_number(w1, w2)) / eps);
    printf("w2: %.9f\n", (f_number(w1, w2 + eps) - f_number(w1, w2)) / eps);
    /* seed: end */
    check(fabs((f_number(w1 + eps, w2) - f_number(w1, w2)) / eps - 36) < 1e-4, "finite differences by hand: ~36");

    printf("gradient of 3 w1^2 + 2 w1 w2 at (5, 3):        d/dw1        d/dw2\n");
    /* seed: tape */
    /* w1, w2 = tf.Variable(5.), tf.Variable(3.) */
    kc_variable *v1 = NN(kc_variable_new_take("w1", kc_tensor_scalar(5, &err), true, &err));
    kc_variable *v2 = NN(kc_variable_new_take("w2", kc_tensor_scalar(3, &err), true, &err));
    kc_tensor *w[2] = {kc_variable_value(v1), kc_variable_value(v2)}, *g[2], *z;
    /* seed: end */

    /* finite differences on tensors: f is called twice per input */
    TRY(kc_numeric_gradient(f_value, NULL, w, 2, 1e-3, g, &err));
    show("finite differences", g, 36, 10, 0.05);
    drop(g, 2);

    /* seed: tape */
    /* with tf.GradientTape() as tape: z = f(w1, w2) */
    kc_tape *tape = NN(kc_tape_begin(0, &err));
    z = NN(f(w[0], w[1], false, &err));
    kc_tape_end(tape);
    TRY(kc_tape_gradient(tape, z, w, 2, g, &err));
    show("tape", g, 36, 10, 0);
    drop(g, 2);
    kc_tensor_unref(z);
    kc_tape_free(tape);

    /* GradientTape(persistent=True): ask for w1, then for w2 */
    tape = NN(kc_tape_begin(KC_TAPE_PERSISTENT, &err));
    z = NN(f(w[0], w[1], false, &err));
    kc_tape_end(tape);
    TRY(kc_tape_gradient(tape, z, &w[0], 1, &g[0], &err));
    TRY(kc_tape_gradient(tape, z, &w[1], 1, &g[1], &err));
    show("persistent tape, asked twice", g, 36, 10, 0);
    drop(g, 2);
    kc_tensor_unref(z);
    kc_tape_free(tape); /* del tape */

    /* constants: not tracked by themselves */
    kc_tensor *c[2] = {NN(kc_tensor_scalar(5, &err)), NN(kc_tensor_scalar(3, &err))};
    tape = NN(kc_tape_begin(0, &err));
    z = NN(f(c[0], c[1], false, &err));
    kc_tape_end(tape);
    TRY(kc_tape_gradient(tape, z, c, 2, g, &err));
    show("constants", g, NAN, NAN, 0);
    kc_tensor_unref(z);
    kc_tape_free(tape);

    /* tape.watch(w1); tape.watch(w2) */
    tape = NN(kc_tape_begin(0, &err));
    TRY(kc_tape_watch(tape, c[0], &err));
    TRY(kc_tape_watch(tape, c[1], &err));
    z = NN(f(c[0], c[1], false, &err));
    kc_tape_end(tape);
    TRY(kc_tape_gradient(tape, z, c, 2, g, &err));
    show("constants, watched", g, 36, 10, 0);
    drop(g, 2);
    kc_tensor_unref(z);
    kc_tape_free(tape);

    /* 3 w1^2 + tf.stop_gradient(2 w1 w2) */
    tape = NN(kc_tape_begin(0, &err));
    z = NN(f(w[0], w[1], true, &err));
    kc_tape_end(tape);
    TRY(kc_tape_gradient(tape, z, w, 2, g, &err));
    show("with stop_gradient", g, 30, NAN, 0);
    /* seed: end */
    drop(g, 2);
    drop(c, 2);
    kc_tensor_unref(z);
    kc_tape_free(tape);
    kc_variable_unref(v1);
    kc_variable_unref(v2);

    /* softplus: plain vs custom gradient */
    float v, d, vb, db;
    printf("\nsoftplus at z:            plain value / gradient    custom value / gradient\n");
    float points[] = {0.0f, 10.0f, 100.0f};
    for (int i = 0; i < 3; i++) {
        softplus_at(my_softplus, points[i], &v, &d);
        softplus_at(my_better_softplus, points[i], &vb, &db);
        printf("  z = %5.1f             %12.6g %12.6g    %12.6g %12.6g\n", points[i], v, d, vb, db);
    }
    check(isinf(v) && isnan(d), "log(exp(100) + 1) overflows: inf, and a NaN gradient");
    check(vb == 100.0f && db == 1.0f, "my_better_softplus(100) = 100 with gradient 1.0");
    softplus_at(my_better_softplus, 0.0f, &vb, &db);
    check(fabsf(vb - logf(2.0f)) < 1e-6f && fabsf(db - 0.5f) < 1e-6f, "at 0 both give log 2 and 0.5");
    return failed;
}
