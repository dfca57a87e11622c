/* The seed's autodiff walkthrough in C: f(w1, w2) = 3 w1^2 + 2 w1 w2.
 *
 *   - finite differences give about (36, 10) at (5, 3);
 *   - a gradient tape gives exactly (36, 10);
 *   - a persistent tape can be asked twice;
 *   - constants get no gradient unless watched;
 *   - stop_gradient blocks the second term: (30, NULL). */
#include <ckeras.h>

#include <stdio.h>

static kc_tensor *f(kc_tensor *w1, kc_tensor *w2, kc_error *err)
{
    kc_scope *s = kc_scope_new(err);
    kc_tensor *a = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_square(w1, err)), 3, err));
    kc_tensor *b = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_mul(w1, w2, err)), 2, err));
    kc_tensor *z = kc_add(a, b, err); /* NULL if anything above failed */
    kc_scope_free(s);
    return z;
}

static kc_status f_scalar(void *ud, kc_tensor *const *in, int n, double *value, kc_error *err)
{
    (void)ud, (void)n;
    kc_tensor *z = f(in[0], in[1], err);
    if (!z) return err->code;
    *value = kc_tensor_item(z);
    kc_tensor_unref(z);
    return KC_OK;
}

static void show(const char *what, kc_tensor *const *g)
{
    printf("%-34s", what);
    for (int i = 0; i < 2; i++) {
        if (g[i])
            printf(" %10.6f", kc_tensor_item(g[i]));
        else
            printf("       NULL");
    }
    printf("\n");
}

int main(void)
{
    kc_error err = {0};
    kc_variable *w1 = kc_variable_new_take("w1", kc_tensor_scalar(5, &err), true, &err);
    kc_variable *w2 = kc_variable_new_take("w2", kc_tensor_scalar(3, &err), true, &err);
    if (!w1 || !w2) goto fail;
    kc_tensor *w[2] = {kc_variable_value(w1), kc_variable_value(w2)}, *g[2];

    if (kc_numeric_gradient(f_scalar, NULL, w, 2, 1e-3, g, &err) != KC_OK) goto fail;
    show("finite differences:", g);
    kc_tensor_unref(g[0]), kc_tensor_unref(g[1]);

    kc_tape *tape = kc_tape_begin(0, &err);
    kc_tensor *z = f(w[0], w[1], &err);
    kc_tape_end(tape);
    if (!z || kc_tape_gradient(tape, z, w, 2, g, &err) != KC_OK) goto fail;
    show("tape:", g);
    kc_tensor_unref(g[0]), kc_tensor_unref(g[1]);
    kc_tensor_unref(z);
    kc_tape_free(tape);

    tape = kc_tape_begin(KC_TAPE_PERSISTENT, &err);
    z = f(w[0], w[1], &err);
    kc_tape_end(tape);
    if (!z || kc_tape_gradient(tape, z, &w[0], 1, &g[0], &err) != KC_OK ||
        kc_tape_gradient(tape, z, &w[1], 1, &g[1], &err) != KC_OK)
        goto fail;
    show("persistent tape, asked twice:", g);
    kc_tensor_unref(g[0]), kc_tensor_unref(g[1]);
    kc_tensor_unref(z);
    kc_tape_free(tape);

    kc_tensor *c[2] = {kc_tensor_scalar(5, &err), kc_tensor_scalar(3, &err)};
    tape = kc_tape_begin(0, &err);
    z = f(c[0], c[1], &err);
    kc_tape_end(tape);
    if (!z || kc_tape_gradient(tape, z, c, 2, g, &err) != KC_OK) goto fail;
    show("constants, not watched:", g);
    kc_tensor_unref(z);
    kc_tape_free(tape);
    kc_tensor_unref(c[0]), kc_tensor_unref(c[1]);

    /* 3 w1^2 + stop_gradient(2 w1 w2) */
    tape = kc_tape_begin(0, &err);
    kc_scope *s = kc_scope_new(&err);
    kc_tensor *t1 = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_square(w[0], &err)), 3, &err));
    kc_tensor *t2 = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_mul(w[0], w[1], &err)), 2, &err));
    z = kc_scope_take(s, kc_add(t1, kc_scope_take(s, kc_stop_gradient(t2, &err)), &err));
    kc_tape_end(tape);
    if (!z || kc_tape_gradient(tape, z, w, 2, g, &err) != KC_OK) goto fail;
    show("with stop_gradient:", g);
    kc_tensor_unref(g[0]), kc_tensor_unref(g[1]);
    kc_scope_free(s);
    kc_tape_free(tape);

    kc_variable_unref(w1);
    kc_variable_unref(w2);
    return 0;
fail: {
    char buf[1024];
    fprintf(stderr, "tape_demo: %s\n", kc_error_format(&err, buf, sizeof(buf)));
    return 1;
}
}
