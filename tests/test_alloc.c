/* Allocation failures: fail the Nth allocation for N = 1, 2, ... until a
 * whole scenario succeeds. Every failure must surface as KC_ENOMEM and leak
 * nothing (checked by counting live blocks here and by LeakSanitizer in the
 * asan run). */
#include "testutil.h"

#include <stdlib.h>

static long fail_at;  /* 1-based allocation number to fail; 0 = never */
static long n_calls;  /* allocations so far */
static long live;     /* blocks allocated and not yet freed */

static void *counting_malloc(size_t size)
{
    n_calls++;
    if (fail_at && n_calls == fail_at) return NULL;
    void *p = malloc(size);
    if (p) live++;
    return p;
}

static void counting_free(void *p)
{
    if (!p) return;
    live--;
    free(p);
}

#define D(...) ((int64_t[]){__VA_ARGS__})

/* A training-step-like scenario through the public API. */
static kc_status scenario(kc_error *err)
{
    kc_status rc = KC_OK;
    kc_tensor *x = NULL, *w0 = NULL, *xb = NULL, *g[2] = {NULL, NULL};
    kc_variable *w = NULL;
    kc_tape *tape = NULL;
    kc_scope *s = NULL;
    x = kc_tensor_full(KC_FLOAT32, 2, D(4, 3), 0.5, err);
    w0 = kc_tensor_full(KC_FLOAT32, 2, D(3, 2), 0.25, err);
    if (!x || !w0) goto out;
    w = kc_variable_new("w", w0, true, err);
    if (!w) goto out;
    tape = kc_tape_begin(KC_TAPE_PERSISTENT, err);
    if (!tape) goto out;
    if (kc_tape_watch(tape, x, err) != KC_OK) goto out;
    s = kc_scope_new(err);
    if (!s) {
        rc = KC_ENOMEM;
        goto out;
    }
    kc_tensor *h = kc_scope_take(s, kc_matmul(x, kc_variable_value(w), false, false, err));
    kc_tensor *a = kc_scope_take(s, kc_softmax(h, -1, err));
    kc_tensor *parts[2] = {a, h};
    kc_tensor *c = kc_scope_take(s, kc_concat(parts, 2, 1, err));
    kc_tensor *t = kc_scope_take(s, kc_transpose(c, NULL, err));
    kc_tensor *r = kc_scope_take(s, kc_reduce_max(t, (int[]){0}, 1, false, err));
    kc_tensor *loss = kc_scope_take(s, kc_reduce_sum(r, NULL, 0, false, err));
    kc_tape_end(tape);
    if (!loss) goto out;
    kc_tensor *src[2] = {kc_variable_value(w), x};
    if (kc_tape_gradient(tape, loss, src, 2, g, err) != KC_OK) goto out;
    xb = kc_broadcast_to(g[0], 3, D(2, 3, 2), err);
    if (!xb) goto out;
out:
    if (err->code != KC_OK) rc = err->code;
    kc_tensor_unref(xb);
    kc_tensor_unref(g[0]);
    kc_tensor_unref(g[1]);
    kc_scope_free(s);
    kc_tape_free(tape);
    kc_variable_unref(w);
    kc_tensor_unref(x);
    kc_tensor_unref(w0);
    return rc;
}

START_TEST(every_allocation_failure_is_enomem_without_leaks)
{
    int failures = 0;
    for (long n = 1; n < 10000; n++) {
        kc_error err = {0};
        fail_at = n;
        n_calls = 0;
        live = 0;
        kc_set_alloc_funcs(counting_malloc, counting_free);
        kc_status rc = scenario(&err);
        kc_release_caches();
        kc_set_alloc_funcs(NULL, NULL);
        ck_assert_msg(live == 0, "failing allocation %ld leaked %ld blocks", n, live);
        if (rc == KC_OK) {
            ck_assert_msg(n_calls < n, "scenario succeeded although allocation %ld failed", n);
            break;
        }
        ck_assert_msg(rc == KC_ENOMEM, "failing allocation %ld gave %s: %s (%s)", n,
                      kc_status_name(rc), err.message, err.context);
        failures++;
    }
    ck_assert_msg(failures > 20, "only %d allocation points were exercised", failures);
}
END_TEST

START_TEST(custom_allocator_sees_every_allocation)
{
    fail_at = 0;
    n_calls = 0;
    live = 0;
    kc_set_alloc_funcs(counting_malloc, counting_free);
    kc_malloc_fn m;
    kc_free_fn f;
    kc_get_alloc_funcs(&m, &f);
    ck_assert(m == counting_malloc && f == counting_free);
    kc_error err = {0};
    kc_tensor *t = kc_tensor_zeros(KC_FLOAT32, 1, D(10), &err);
    ck_assert_int_gt(n_calls, 0);
    kc_tensor_unref(t);
    kc_release_caches();
    ck_assert_int_eq(live, 0);
    kc_set_alloc_funcs(NULL, NULL);
}
END_TEST

/* kc_layer_add_metric keeps the values and the names in two arrays. When
 * growing the second failed after the first had grown, both shared one
 * capacity field, and the next call wrote a name past the end of the
 * names array (a heap overflow ASan reports). Every allocation of the
 * growing call fails in turn; then more metrics are added and read back. */
START_TEST(add_metric_survives_a_failed_grow)
{
    kc_error err = {0};
    kc_object *l = kc_layer_create("Dense", "{\"units\": 1}", &err);
    CK_NN(l, err);
    kc_tensor *v = kc_tensor_scalar(2.5f, &err);
    CK_NN(v, err);
    char name[32];
    int added = 0;
    for (; added < 8; added++) { /* the arrays' first capacity */
        snprintf(name, sizeof name, "m%d", added);
        CK_OK(kc_layer_add_metric(l, v, name, &err));
    }
    for (long k = 1; k < 10; k++) {
        fail_at = k;
        n_calls = 0;
        kc_set_alloc_funcs(counting_malloc, counting_free);
        snprintf(name, sizeof name, "m%d", added);
        kc_status rc = kc_layer_add_metric(l, v, name, &err);
        kc_set_alloc_funcs(NULL, NULL);
        fail_at = 0;
        if (rc == KC_OK) {
            added++;
            break;
        }
        ck_assert_int_eq(rc, KC_ENOMEM);
        ck_assert_int_eq(kc_layer_num_metric_values(l), added);
        kc_error_clear(&err);
    }
    for (; added < 40; added++) {
        snprintf(name, sizeof name, "m%d", added);
        CK_OK(kc_layer_add_metric(l, v, name, &err));
    }
    ck_assert_int_eq(kc_layer_num_metric_values(l), 40);
    for (int i = 0; i < 40; i++) {
        const char *got = NULL;
        kc_tensor *t = kc_layer_metric_value(l, i, &got);
        snprintf(name, sizeof name, "m%d", i);
        ck_assert_ptr_eq(t, v);
        ck_assert_str_eq(got, name);
    }
    kc_tensor_unref(v);
    kc_object_unref(l);
}
END_TEST

/* A build that fails (here: any of its allocations) leaves the layer as
 * it was, so the retry adds each weight once. The build shapes used to be
 * allocated after the class's build had added the weights: that failure
 * left kernel and bias in place, and the retry added them again. */
START_TEST(failed_build_adds_no_weights)
{
    kc_shape in = kc_shape_make(2, D(-1, 3));
    int points = 0;
    for (long k = 1; k < 200; k++) {
        kc_error err = {0};
        kc_object *l = kc_layer_create("Dense", "{\"units\": 2}", &err);
        CK_NN(l, err);
        fail_at = k;
        n_calls = 0;
        kc_set_alloc_funcs(counting_malloc, counting_free);
        kc_status rc = kc_layer_build(l, &in, 1, &err);
        kc_set_alloc_funcs(NULL, NULL);
        fail_at = 0;
        if (rc != KC_OK) {
            points++;
            ck_assert_int_eq(rc, KC_ENOMEM);
            ck_assert_int_eq(kc_layer_num_weights(l), 0);
            kc_error_clear(&err);
            CK_OK(kc_layer_build(l, &in, 1, &err));
        }
        ck_assert_msg(kc_layer_num_weights(l) == 2, "failing allocation %ld: %d weights", k,
                      kc_layer_num_weights(l));
        kc_object_unref(l);
        if (rc == KC_OK) break;
    }
    ck_assert_int_gt(points, 3);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("fault injection");
    tcase_add_test(tc, every_allocation_failure_is_enomem_without_leaks);
    tcase_add_test(tc, custom_allocator_sees_every_allocation);
    tcase_add_test(tc, add_metric_survives_a_failed_grow);
    tcase_add_test(tc, failed_build_adds_no_weights);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
