/* Status codes and the error record. */
#include "testutil.h"

#include <string.h>

START_TEST(status_names_and_messages_cover_every_code)
{
    for (int c = 0; c < KC_STATUS_COUNT; c++) {
        ck_assert_str_ne(kc_status_name((kc_status)c), "KC_UNKNOWN");
        ck_assert_str_ne(kc_strerror((kc_status)c), "unknown status");
    }
    ck_assert_str_eq(kc_status_name(KC_ESHAPE), "KC_ESHAPE");
    ck_assert_str_eq(kc_strerror(KC_ENOMEM), "out of memory");
    ck_assert_str_eq(kc_status_name((kc_status)999), "KC_UNKNOWN");
    ck_assert_str_eq(kc_strerror((kc_status)-1), "unknown status");
}
END_TEST

START_TEST(first_error_wins_and_context_prepends)
{
    kc_error err = {0};
    /* a failing op fills err; a later failure must not overwrite it */
    kc_tensor *a = TU_T1(2, 1, 2), *b = TU_T1(3, 1, 2, 3);
    kc_tensor *c = kc_add(a, b, &err);
    ck_assert_ptr_null(c);
    CK_ERR(err, KC_ESHAPE, "(2,)");
    CK_ERR(err, KC_ESHAPE, "(3,)");
    kc_tensor *d = kc_matmul(a, b, false, false, &err);
    ck_assert_ptr_null(d);
    CK_ERR(err, KC_ESHAPE, "broadcast"); /* still the add's message */
    ck_assert_ptr_nonnull(err.src_file);
    ck_assert_int_gt(err.src_line, 0);
    char buf[1024];
    kc_error_format(&err, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "cannot be broadcast"));
    kc_error_clear(&err);
    ck_assert_int_eq(err.code, KC_OK);
    kc_error_format(&err, buf, sizeof(buf));
    ck_assert_str_eq(buf, "no error");
    kc_tensor_unref(a);
    kc_tensor_unref(b);
}
END_TEST

START_TEST(null_error_pointer_is_accepted)
{
    kc_tensor *a = TU_T1(2, 1, 2), *b = TU_T1(3, 1, 2, 3);
    ck_assert_ptr_null(kc_add(a, b, NULL));
    ck_assert_ptr_null(kc_tensor_empty(KC_FLOAT32, 9, NULL, NULL));
    kc_tensor_unref(a);
    kc_tensor_unref(b);
}
END_TEST

START_TEST(version_is_reported)
{
    ck_assert_str_eq(kc_version(), KC_VERSION_STRING);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, status_names_and_messages_cover_every_code);
    tcase_add_test(tc, first_error_wins_and_context_prepends);
    tcase_add_test(tc, null_error_pointer_is_accepted);
    tcase_add_test(tc, version_is_reported);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
