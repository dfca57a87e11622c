/* The seed's autodiff walkthrough in its shortest form:
 * f(w1, w2) = 3 w1^2 + 2 w1 w2 at (5, 3).
 *
 *   - finite differences give about (36, 10);
 *   - a gradient tape gives exactly (36, 10);
 *   - a persistent tape can be asked twice;
 *   - constants get no gradient unless watched;
 *   - stop_gradient blocks the second term: (30, NULL).
 *
 * Each tape below is begun, recorded, asked and freed in one place; the
 * gradients go into a scope, freed with it.
 *
 * Lines: tape C 34, Python 30 (1.1x)
 *
 * (check-install.sh and check-deb.sh build this file against installed
 * packages and look for its "tape:" line.) */
#include <ckeras.h>

#include <stdio.h>

static kc_error err;

/* seed: tape */
static kc_tensor *f(kc_tensor *w1, kc_tensor *w2, bool stop, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *b = kc_s_mul_scalar(s, kc_s_mul(s, w1, w2), 2);
    if (stop) b = kc_s_stop_gradient(s, b);
    return kc_scope_return(s, kc_s_add(s, kc_s_mul_scalar(s, kc_s_square(s, w1), 3), b));
}

/* with tf.GradientTape(persistent) as tape: [tape.watch(w)]; z = f(w1, w2)
 * then print tape.gradient(z, w1) and tape.gradient(z, w2) */
static void gradients(const char *what, kc_tensor *const *w, unsigned flags, bool watch, bool stop)
{
    kc_scope *s = kc_scope_new(&err);
    kc_tape *tape = kc_tape_begin(flags, &err);
    kc_status rc = tape ? KC_OK : err.code;
    for (int i = 0; watch && i < 2 && rc == KC_OK; i++) rc = kc_tape_watch(tape, w[i], &err);
    kc_tensor *z = kc_scope_take(s, f(w[0], w[1], stop, &err)), *g[2] = {NULL, NULL};
    kc_tape_end(tape);
    if (flags & KC_TAPE_PERSISTENT) /* asked twice */
        for (int i = 0; i < 2 && rc == KC_OK; i++) rc = kc_tape_gradient(tape, z, &w[i], 1, &g[i], &err);
    else if (rc == KC_OK)
        rc = kc_tape_gradient(tape, z, w, 2, g, &err);
    printf("%-34s", what);
    for (int i = 0; i < 2; i++) g[i] ? printf(" %10.6f", kc_tensor_item(kc_scope_take(s, g[i]))) : printf("       NULL");
    printf("\n");
    kc_tape_free(tape);
    kc_scope_free(s);
}
/* seed: end */

static kc_status f_scalar(void *ud, kc_tensor *const *in, int n, double *value, kc_error *e)
{
    kc_tensor *z = f(in[0], in[1], false, e);
    if (!z) return e->code;
    *value = kc_tensor_item(z);
    kc_tensor_unref(z);
    return KC_OK;
}

int main(void)
{
    /* seed: tape */
    kc_variable *w1 = kc_variable_new_take("w1", kc_tensor_scalar(5, &err), true, &err);
    kc_variable *w2 = kc_variable_new_take("w2", kc_tensor_scalar(3, &err), true, &err);
    kc_tensor *w[2] = {kc_variable_value(w1), kc_variable_value(w2)};
    kc_tensor *c[2] = {kc_tensor_scalar(5, &err), kc_tensor_scalar(3, &err)};
    /* seed: end */
    kc_tensor *g[2] = {NULL, NULL};
    if (kc_numeric_gradient(f_scalar, NULL, w, 2, 1e-3, g, &err) == KC_OK)
        printf("%-34s %10.6f %10.6f\n", "finite differences:", kc_tensor_item(g[0]), kc_tensor_item(g[1]));
    kc_tensor_unref(g[0]), kc_tensor_unref(g[1]);
    /* seed: tape */
    gradients("tape:", w, 0, false, false);
    gradients("persistent tape, asked twice:", w, KC_TAPE_PERSISTENT, false, false);
    gradients("constants, not watched:", c, 0, false, false);
    gradients("constants, watched:", c, 0, true, false);
    gradients("with stop_gradient:", w, 0, false, true);
    /* seed: end */
    kc_tensor_unref(c[0]), kc_tensor_unref(c[1]);
    kc_variable_unref(w1);
    kc_variable_unref(w2);
    if (err.code == KC_OK) return 0;
    char buf[1024];
    fprintf(stderr, "tape_demo: %s\n", kc_error_format(&err, buf, sizeof(buf)));
    return 1;
}
