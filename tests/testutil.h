/* Helpers shared by the Check suites: tensor builders, closeness checks with
 * messages, and the finite-difference gradient harness. */
#ifndef CKERAS_TESTUTIL_H
#define CKERAS_TESTUTIL_H

#include <ckeras.h>
#include <check.h>

#include <math.h>
#include <stdio.h>

/* Assert a kc_status is KC_OK, printing the error otherwise. */
#define CK_OK(expr)                                                                                \
    do {                                                                                           \
        kc_error ck_err_ = {0};                                                                    \
        (void)ck_err_;                                                                             \
        kc_status ck_rc_ = (expr);                                                                 \
        ck_assert_msg(ck_rc_ == KC_OK, "%s failed: %s", #expr, kc_status_name(ck_rc_));            \
    } while (0)

/* Assert err holds `code` and that its message or context contains `needle`. */
#define CK_ERR(err, code, needle) tu_check_error(&(err), (code), (needle), __FILE__, __LINE__)
void tu_check_error(const kc_error *err, kc_status code, const char *needle, const char *file,
                    int line);

/* Abort the test with the error's text when ptr is NULL. */
#define CK_NN(ptr, err)                                                                            \
    ck_assert_msg((ptr) != NULL, "%s is NULL: %s (%s) [%s:%d]", #ptr, (err).message,               \
                  (err).context, (err).src_file ? (err).src_file : "", (err).src_line)

/* float32 tensor from values; dims may be NULL when ndim == 0. */
kc_tensor *tu_tensor(int ndim, const int64_t *dims, const float *vals);
/* Shorthand for rank 1/2 literal tensors. */
#define TU_T1(n, ...) tu_tensor(1, (int64_t[]){n}, (float[]){__VA_ARGS__})
#define TU_T2(r, c, ...) tu_tensor(2, (int64_t[]){r, c}, (float[]){__VA_ARGS__})
/* Uniform random values in [lo, hi) from a fixed seed. */
kc_tensor *tu_random(int ndim, const int64_t *dims, float lo, float hi, uint64_t seed);
/* Random values whose magnitude is in [min_abs, max_abs), random sign:
 * keeps test points away from kinks at zero. */
kc_tensor *tu_random_away(int ndim, const int64_t *dims, float min_abs, float max_abs,
                          uint64_t seed);

/* Assert shape and values (|got - want| <= atol + rtol * |want|; NaN == NaN). */
void tu_assert_close(const kc_tensor *got, int ndim, const int64_t *dims, const float *want,
                     double rtol, double atol, const char *what);
void tu_assert_tensors_close(const kc_tensor *got, const kc_tensor *want, double rtol, double atol,
                             const char *what);

/* Finite-difference check of the gradients of fn w.r.t. inputs: the tape's
 * gradient of sum(fn(inputs) * R) (R random, fixed) against central
 * differences with step eps. */
typedef kc_tensor *(*tu_op_fn)(kc_tensor *const *in, const void *ctx, kc_error *err);
void tu_grad_check(const char *what, tu_op_fn fn, const void *ctx, kc_tensor *const *inputs,
                   int n_inputs, double eps, double rtol, double atol);

/* Allocation-failure sweep: run scenario with the n-th allocation failing,
 * for n = 1, 2, ... until it succeeds (at most max_points); every failing
 * run must return KC_ENOMEM and free every block it allocated. Returns the
 * number of failure points exercised. */
typedef kc_status (*tu_scenario_fn)(kc_error *err);
int tu_alloc_failure_sweep(tu_scenario_fn scenario, long max_points);

/* Path of a file under tests/data. Returns a static buffer. */
const char *tu_data(const char *rel);
/* A fresh scratch directory under the build tree for this test. */
const char *tu_tmpdir(void);

/* Skipping, honestly. A test that cannot run here (a tool or a permission
 * the machine lacks) calls TU_SKIP(reason): it prints "SKIPPED <test>:
 * <reason>", counts the skip and returns. The program then prints how many
 * of its tests skipped, and exits 77 (meson: SKIP) when all of them did.
 * Cases that may skip carry a Check tag and run as meson tests of their own
 * (tests/meson.build), so a skip shows in meson's summary instead of
 * passing among the other tests. */
#define TU_SKIP(...)                                                                               \
    do {                                                                                           \
        tu_skip_note(__func__, __VA_ARGS__);                                                       \
        return;                                                                                    \
    } while (0)
void tu_skip_note(const char *test, const char *fmt, ...) KC_PRINTF(2, 3);
/* True when the tests run in CI (CI=true), where every check must run. */
bool tu_in_ci(void);
/* Count one check against the reference (TensorFlow.js through keras-ref);
 * the program prints the total. */
void tu_count_reference_check(void);

/* Threads a suite that runs on several settings should use:
 * $CKERAS_TEST_THREADS (tests/meson.build sets it), else 1. */
int tu_test_threads(void);

/* Runs a suite (the test's processes share the counts above); returns the
 * exit status: 0, 1 on failures, 77 when every test skipped. */
int tu_run_suite(Suite *suite);

/* Standard main: runs the suite built by make_suite. */
#define TU_MAIN(make_suite)                                                                        \
    int main(void) { return tu_run_suite(make_suite()); }

#endif
