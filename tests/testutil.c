/* Test helpers; see testutil.h. */
#define _DEFAULT_SOURCE
#include "testutil.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void tu_check_error(const kc_error *err, kc_status code, const char *needle, const char *file,
                    int line)
{
    ck_assert_msg(err->code == code, "[%s:%d] expected %s, got %s: %s (%s)", file, line,
                  kc_status_name(code), kc_status_name(err->code), err->message, err->context);
    if (needle) {
        ck_assert_msg(strstr(err->message, needle) || strstr(err->context, needle),
                      "[%s:%d] error text lacks '%s': %s (%s)", file, line, needle, err->message,
                      err->context);
    }
}

kc_tensor *tu_tensor(int ndim, const int64_t *dims, const float *vals)
{
    kc_error err = {0};
    kc_tensor *t = kc_tensor_from_data(KC_FLOAT32, ndim, dims, vals, &err);
    ck_assert_msg(t != NULL, "tu_tensor: %s", err.message);
    return t;
}

kc_tensor *tu_random(int ndim, const int64_t *dims, float lo, float hi, uint64_t seed)
{
    kc_error err = {0};
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, ndim, dims, &err);
    ck_assert_msg(t != NULL, "tu_random: %s", err.message);
    kc_rng rng;
    kc_rng_seed(&rng, seed);
    kc_rng_fill_uniform(&rng, kc_tensor_f32(t), (size_t)kc_tensor_size(t), lo, hi);
    return t;
}

kc_tensor *tu_random_away(int ndim, const int64_t *dims, float min_abs, float max_abs,
                          uint64_t seed)
{
    kc_tensor *t = tu_random(ndim, dims, min_abs, max_abs, seed);
    kc_rng rng;
    kc_rng_seed(&rng, seed ^ 0x5a5a5a5aULL);
    float *p = kc_tensor_f32(t);
    for (int64_t i = 0; i < kc_tensor_size(t); i++)
        if (kc_rng_next(&rng) & 1) p[i] = -p[i];
    return t;
}

static int close_enough(double got, double want, double rtol, double atol)
{
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

void tu_assert_close(const kc_tensor *got, int ndim, const int64_t *dims, const float *want,
                     double rtol, double atol, const char *what)
{
    ck_assert_msg(got != NULL, "%s: tensor is NULL", what);
    ck_assert_msg(kc_tensor_ndim(got) == ndim, "%s: rank %d, expected %d", what,
                  kc_tensor_ndim(got), ndim);
    for (int i = 0; i < ndim; i++)
        ck_assert_msg(kc_tensor_dims(got)[i] == dims[i], "%s: dim %d is %lld, expected %lld", what,
                      i, (long long)kc_tensor_dims(got)[i], (long long)dims[i]);
    for (int64_t i = 0; i < kc_tensor_size(got); i++) {
        double g = kc_tensor_get(got, i);
        ck_assert_msg(close_enough(g, want[i], rtol, atol), "%s: [%lld] = %.9g, expected %.9g",
                      what, (long long)i, g, (double)want[i]);
    }
}

void tu_assert_tensors_close(const kc_tensor *got, const kc_tensor *want, double rtol, double atol,
                             const char *what)
{
    ck_assert_msg(want != NULL, "%s: expected tensor is NULL", what);
    int64_t n = kc_tensor_size(want);
    float *w = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) w[i] = (float)kc_tensor_get(want, i);
    tu_assert_close(got, kc_tensor_ndim(want), kc_tensor_dims(want), w, rtol, atol, what);
    free(w);
}

/* ---- gradient harness -------------------------------------------------------- */

typedef struct {
    tu_op_fn fn;
    const void *ctx;
    const kc_tensor *r;
} probe_ctx;

/* sum(fn(x) * R) in double, for the numeric side */
static kc_status probe(void *ud, kc_tensor *const *in, int n, double *value, kc_error *err)
{
    (void)n;
    probe_ctx *p = ud;
    kc_tensor *y = p->fn(in, p->ctx, err);
    if (!y) return err->code;
    double s = 0.0;
    for (int64_t i = 0; i < kc_tensor_size(y); i++) s += kc_tensor_get(y, i) * kc_tensor_get(p->r, i);
    kc_tensor_unref(y);
    *value = s;
    return KC_OK;
}

void tu_grad_check(const char *what, tu_op_fn fn, const void *ctx, kc_tensor *const *inputs,
                   int n_inputs, double eps, double rtol, double atol)
{
    kc_error err = {0};
    kc_tape *tape = kc_tape_begin(0, &err);
    CK_NN(tape, err);
    for (int i = 0; i < n_inputs; i++) ck_assert(kc_tape_watch(tape, inputs[i], &err) == KC_OK);
    kc_tensor *y = fn(inputs, ctx, &err);
    kc_tape_end(tape);
    ck_assert_msg(y != NULL, "%s: forward failed: %s (%s)", what, err.message, err.context);
    kc_tensor *r = tu_random(kc_tensor_ndim(y), kc_tensor_dims(y), -1.0f, 1.0f, 99);
    kc_tensor *analytic[8] = {0}, *numeric[8] = {0};
    ck_assert(n_inputs <= 8);
    kc_status rc = kc_tape_gradient_ex(tape, &y, 1, &r, inputs, n_inputs, analytic, &err);
    ck_assert_msg(rc == KC_OK, "%s: gradient failed: %s (%s)", what, err.message, err.context);
    probe_ctx pc = {fn, ctx, r};
    rc = kc_numeric_gradient(probe, &pc, inputs, n_inputs, eps, numeric, &err);
    ck_assert_msg(rc == KC_OK, "%s: numeric gradient failed: %s", what, err.message);
    for (int i = 0; i < n_inputs; i++) {
        ck_assert_msg(analytic[i] != NULL, "%s: no gradient for input %d", what, i);
        char label[200];
        snprintf(label, sizeof(label), "%s: d/d input %d (tape vs finite differences)", what, i);
        tu_assert_tensors_close(analytic[i], numeric[i], rtol, atol, label);
        kc_tensor_unref(analytic[i]);
        kc_tensor_unref(numeric[i]);
    }
    kc_tensor_unref(r);
    kc_tensor_unref(y);
    kc_tape_free(tape);
}

const char *tu_data(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s/%s", TEST_DATA_DIR, rel);
    return buf;
}

const char *tu_tmpdir(void)
{
    static char buf[4096];
    if (buf[0]) return buf;
    snprintf(buf, sizeof(buf), "%s/tmp-%ld", TEST_BUILD_DIR, (long)getpid());
    mkdir(buf, 0700);
    return buf;
}

/* ---- allocation failures ------------------------------------------------------------------ */

static long sweep_fail_at, sweep_calls, sweep_live;

static void *sweep_malloc(size_t size)
{
    sweep_calls++;
    if (sweep_fail_at && sweep_calls == sweep_fail_at) return NULL;
    void *p = malloc(size);
    if (p) sweep_live++;
    return p;
}

static void sweep_free(void *p)
{
    if (!p) return;
    sweep_live--;
    free(p);
}

int tu_alloc_failure_sweep(tu_scenario_fn scenario, long max_points)
{
    kc_error init = {0};
    ck_assert_int_eq(kc_init(&init), KC_OK); /* the registry lives for the process: built outside the count */
    int failures = 0;
    for (long n = 1; n <= max_points; n++) {
        kc_error e = {0};
        sweep_fail_at = n;
        sweep_calls = sweep_live = 0;
        kc_set_alloc_funcs(sweep_malloc, sweep_free);
        kc_status rc = scenario(&e);
        kc_release_caches();
        kc_set_alloc_funcs(NULL, NULL);
        ck_assert_msg(sweep_live == 0, "failing allocation %ld leaked %ld blocks", n, sweep_live);
        if (rc == KC_OK) {
            ck_assert_msg(sweep_calls < n, "scenario succeeded although allocation %ld failed", n);
            return failures;
        }
        ck_assert_msg(rc == KC_ENOMEM, "failing allocation %ld gave %s: %s (%s)", n, kc_status_name(rc), e.message,
                      e.context);
        failures++;
    }
    ck_abort_msg("the scenario still failed after %ld allocation points", max_points);
    return failures;
}

/* ---- skips and reference checks -------------------------------------------------------------
 *
 * Check runs each test in a child process: the counts live in memory shared
 * with the children, mapped by tu_run_suite before any test starts. */

typedef struct tu_counts {
    atomic_int skipped;          /* tests that called TU_SKIP */
    atomic_int reference_checks; /* keras-ref comparisons made */
} tu_counts;

static tu_counts *counts;

void tu_skip_note(const char *test, const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    size_t n = strlen(test); /* Check names the function of test t "t_fn" */
    if (n > 3 && strcmp(test + n - 3, "_fn") == 0) n -= 3;
    printf("SKIPPED %.*s: %s\n", (int)n, test, why);
    fflush(stdout);
    if (counts) atomic_fetch_add(&counts->skipped, 1);
}

bool tu_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

void tu_count_reference_check(void)
{
    if (counts) atomic_fetch_add(&counts->reference_checks, 1);
}

/* lib/core/parallel.c's test hook: split loops from this many elements. */
void kc__parallel_test_grain(int64_t grain);

int tu_test_threads(void)
{
    const char *v = getenv("CKERAS_TEST_THREADS");
    int n = v ? atoi(v) : 1;
    n = n >= 1 && n <= 64 ? n : 1;
    /* the suites' tensors are small: split loops of 8 elements and more,
     * so that several threads really share them */
    kc__parallel_test_grain(n > 1 ? 4 : 0);
    return n;
}

int tu_run_suite(Suite *suite)
{
    void *shared = mmap(NULL, sizeof(tu_counts), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    counts = shared == MAP_FAILED ? NULL : shared;
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr), ran = srunner_ntests_run(sr);
    srunner_free(sr);
    kc_release_caches();
    if (tu_test_threads() > 1) printf("threads: %d\n", tu_test_threads());
    int skipped = counts ? atomic_load(&counts->skipped) : 0;
    int checks = counts ? atomic_load(&counts->reference_checks) : 0;
    if (checks > 0) printf("TensorFlow.js checks: %d ran\n", checks);
    if (skipped > 0) printf("skipped: %d of %d tests (see SKIPPED above)\n", skipped, ran);
    if (counts) munmap(counts, sizeof(tu_counts));
    counts = NULL;
    if (failed) return 1;
    return ran > 0 && skipped == ran ? 77 : 0;
}
