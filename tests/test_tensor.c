/* Tensors: construction, reference counts, shapes, limits, views. */
#include "testutil.h"

#include <stdint.h>
#include <string.h>

START_TEST(create_zeros_ones_full_and_from_data)
{
    kc_error err = {0};
    int64_t d[2] = {2, 3};
    kc_tensor *z = kc_tensor_zeros(KC_FLOAT32, 2, d, &err);
    kc_tensor *o = kc_tensor_ones(KC_INT32, 2, d, &err);
    kc_tensor *f = kc_tensor_full(KC_INT64, 2, d, 7, &err);
    CK_NN(z, err);
    CK_NN(o, err);
    CK_NN(f, err);
    for (int i = 0; i < 6; i++) {
        ck_assert(kc_tensor_get(z, i) == 0.0);
        ck_assert(((int32_t *)kc_tensor_data(o))[i] == 1);
        ck_assert(((int64_t *)kc_tensor_data(f))[i] == 7);
    }
    ck_assert_int_eq(kc_tensor_size(z), 6);
    ck_assert_uint_eq(kc_tensor_nbytes(f), 48);
    ck_assert_int_eq(kc_tensor_dim(z, -1), 3);
    ck_assert_int_eq(kc_tensor_dim(z, 2), -1);
    ck_assert_ptr_null(kc_tensor_f32(o));
    float vals[6] = {1, 2, 3, 4, 5, 6};
    kc_tensor *t = kc_tensor_from_data(KC_FLOAT32, 2, d, vals, &err);
    tu_assert_close(t, 2, d, vals, 0, 0, "from_data");
    vals[0] = 100; /* copied, not borrowed */
    ck_assert(kc_tensor_get(t, 0) == 1.0);
    kc_tensor *c = kc_tensor_copy(t, &err);
    kc_tensor_f32(c)[1] = -1;
    ck_assert(kc_tensor_get(t, 1) == 2.0);
    kc_tensor *s = kc_tensor_scalar(2.5f, &err);
    ck_assert_int_eq(kc_tensor_ndim(s), 0);
    ck_assert_int_eq(kc_tensor_size(s), 1);
    ck_assert(kc_tensor_item(s) == 2.5f);
    ck_assert(isnan(kc_tensor_item(t)));
    kc_tensor_unref(z);
    kc_tensor_unref(o);
    kc_tensor_unref(f);
    kc_tensor_unref(t);
    kc_tensor_unref(c);
    kc_tensor_unref(s);
    kc_tensor_unref(NULL);
}
END_TEST

static int released;
static void on_release(void *ctx) { released += *(int *)ctx; }

START_TEST(wrap_borrows_memory_and_releases_once)
{
    kc_error err = {0};
    float buf[4] = {1, 2, 3, 4};
    int one = 1;
    released = 0;
    kc_tensor *t = kc_tensor_wrap(KC_FLOAT32, 1, (int64_t[]){4}, buf, on_release, &one, &err);
    CK_NN(t, err);
    buf[2] = 9;
    ck_assert(kc_tensor_get(t, 2) == 9.0);
    /* a reshape is a view of the same memory: the release waits for both */
    kc_tensor *v = kc_reshape(t, 2, (int64_t[]){2, 2}, &err);
    CK_NN(v, err);
    kc_tensor_unref(t);
    ck_assert_int_eq(released, 0);
    ck_assert(kc_tensor_get(v, 3) == 4.0);
    kc_tensor_unref(v);
    ck_assert_int_eq(released, 1);
    /* misaligned data is refused, and release is not called */
    char raw[16];
    ck_assert_ptr_null(kc_tensor_wrap(KC_FLOAT32, 1, (int64_t[]){2}, raw + 1, on_release, &one, &err));
    CK_ERR(err, KC_EINVAL, "aligned");
    ck_assert_int_eq(released, 1);
}
END_TEST

START_TEST(reference_counting_shares_one_tensor)
{
    kc_error err = {0};
    kc_tensor *t = kc_tensor_zeros(KC_FLOAT32, 1, (int64_t[]){3}, &err);
    ck_assert_ptr_eq(kc_tensor_ref(t), t);
    kc_tensor_unref(t);
    kc_tensor_f32(t)[0] = 5; /* still alive */
    kc_tensor_unref(t);
    ck_assert_ptr_null(kc_tensor_ref(NULL));
}
END_TEST

START_TEST(bad_shapes_and_overflow_are_errors)
{
    kc_error err = {0};
    ck_assert_ptr_null(kc_tensor_empty(KC_FLOAT32, KC_MAX_DIMS + 1, (int64_t[9]){0}, &err));
    CK_ERR(err, KC_EINVAL, "rank 9");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){3, -1}, &err));
    CK_ERR(err, KC_ESHAPE, "(3, None)");
    kc_error_clear(&err);
    int64_t huge[3] = {INT64_C(1) << 31, INT64_C(1) << 31, INT64_C(1) << 31};
    ck_assert_ptr_null(kc_tensor_zeros(KC_FLOAT32, 3, huge, &err));
    CK_ERR(err, KC_ELIMIT, "overflows");
    kc_error_clear(&err);
    /* representable but not allocatable: out of memory, not a crash */
    int64_t big[2] = {INT64_C(1) << 30, INT64_C(1) << 30};
    ck_assert_ptr_null(kc_tensor_empty(KC_FLOAT32, 2, big, &err));
    ck_assert(err.code == KC_ENOMEM || err.code == KC_ELIMIT);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_tensor_empty((kc_dtype)42, 0, NULL, &err));
    CK_ERR(err, KC_EINVAL, "dtype");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_tensor_from_data(KC_FLOAT32, 1, (int64_t[]){2}, NULL, &err));
    CK_ERR(err, KC_EINVAL, "NULL");
}
END_TEST

START_TEST(zero_sized_tensors_work)
{
    kc_error err = {0};
    kc_tensor *t = kc_tensor_zeros(KC_FLOAT32, 2, (int64_t[]){0, 4}, &err);
    CK_NN(t, err);
    ck_assert_int_eq(kc_tensor_size(t), 0);
    kc_tensor *s = kc_reduce_sum(t, NULL, 0, false, &err);
    CK_NN(s, err);
    ck_assert(kc_tensor_item(s) == 0.0f);
    kc_tensor *m = kc_reduce_max(t, (int[]){0}, 1, false, &err);
    CK_NN(m, err);
    ck_assert(isinf(kc_tensor_get(m, 0)) && kc_tensor_get(m, 0) < 0);
    kc_tensor_unref(t);
    kc_tensor_unref(s);
    kc_tensor_unref(m);
}
END_TEST

START_TEST(assign_checks_shape_and_dtype)
{
    kc_error err = {0};
    kc_tensor *a = TU_T2(2, 2, 1, 2, 3, 4), *b = TU_T1(4, 5, 6, 7, 8), *c = TU_T2(2, 2, 9, 9, 9, 9);
    ck_assert_int_eq(kc_tensor_assign(a, b, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "(4,)");
    CK_ERR(err, KC_ESHAPE, "(2, 2)");
    kc_error_clear(&err);
    CK_OK(kc_tensor_assign(a, c, &err));
    ck_assert(kc_tensor_get(a, 3) == 9.0);
    kc_tensor *i = kc_tensor_zeros(KC_INT32, 2, (int64_t[]){2, 2}, &err);
    ck_assert_int_eq(kc_tensor_assign(a, i, &err), KC_ETYPE);
    kc_tensor_fill(a, -1.5);
    ck_assert(kc_tensor_get(a, 2) == -1.5);
    kc_tensor_unref(a);
    kc_tensor_unref(b);
    kc_tensor_unref(c);
    kc_tensor_unref(i);
}
END_TEST

START_TEST(dtype_and_shape_helpers)
{
    kc_error err = {0};
    kc_dtype dt;
    CK_OK(kc_dtype_from_name("int64", &dt, &err));
    ck_assert_int_eq(dt, KC_INT64);
    ck_assert_str_eq(kc_dtype_name(KC_FLOAT32), "float32");
    ck_assert_uint_eq(kc_dtype_size(KC_INT32), 4);
    ck_assert_int_eq(kc_dtype_from_name("bfloat16", &dt, &err), KC_ENOTFOUND);
    CK_ERR(err, KC_ENOTFOUND, "bfloat16");
    char buf[64];
    kc_shape s = kc_shape_make(2, (int64_t[]){-1, 8});
    ck_assert_str_eq(kc_shape_format(&s, buf, sizeof(buf)), "(None, 8)");
    kc_shape s1 = kc_shape_make(1, (int64_t[]){3});
    ck_assert_str_eq(kc_shape_format(&s1, buf, sizeof(buf)), "(3,)");
    kc_shape s0 = kc_shape_make(0, NULL);
    ck_assert_str_eq(kc_shape_format(&s0, buf, sizeof(buf)), "()");
    ck_assert_int_eq(kc_shape_size(&s), -1);
    ck_assert_int_eq(kc_shape_size(&s1), 3);
    ck_assert(kc_shape_equal(&s, &s));
    ck_assert(!kc_shape_equal(&s, &s1));
}
END_TEST

START_TEST(rng_is_deterministic_and_well_distributed)
{
    kc_rng a, b;
    kc_rng_seed(&a, 42);
    kc_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) ck_assert(kc_rng_next(&a) == kc_rng_next(&b));
    double s = 0, s2 = 0;
    int n = 100000;
    for (int i = 0; i < n; i++) {
        double z = kc_rng_normal(&a);
        s += z;
        s2 += z * z;
    }
    ck_assert_msg(fabs(s / n) < 0.02, "normal mean %g", s / n);
    ck_assert_msg(fabs(s2 / n - 1.0) < 0.02, "normal variance %g", s2 / n);
    float buf[1000];
    kc_rng_fill_truncated_normal(&a, buf, 1000, 0.0f, 1.0f);
    for (int i = 0; i < 1000; i++) ck_assert(buf[i] >= -2.0f && buf[i] <= 2.0f);
    for (int i = 0; i < 1000; i++) ck_assert(kc_rng_below(&a, 7) < 7);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, create_zeros_ones_full_and_from_data);
    tcase_add_test(tc, wrap_borrows_memory_and_releases_once);
    tcase_add_test(tc, reference_counting_shares_one_tensor);
    tcase_add_test(tc, bad_shapes_and_overflow_are_errors);
    tcase_add_test(tc, zero_sized_tensors_work);
    tcase_add_test(tc, assign_checks_shape_and_dtype);
    tcase_add_test(tc, dtype_and_shape_helpers);
    tcase_add_test(tc, rng_is_deterministic_and_well_distributed);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
