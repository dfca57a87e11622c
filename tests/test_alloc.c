#define _DEFAULT_SOURCE /* pthread barriers */
/* Allocation failures: fail the Nth allocation for N = 1, 2, ... until a
 * whole scenario succeeds. Every failure must surface as KC_ENOMEM and leak
 * nothing (checked by counting live blocks here and by LeakSanitizer in the
 * asan run). */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- tensor buffer caches across threads -------------------------------------------------
 *
 * A thread-safe allocator that tags its blocks: `tag` says which of two
 * allocators a block came from, so a free by the wrong one is seen. */
typedef struct tagged {
    unsigned tag;
    atomic_long live, wrong_frees;
    atomic_llong live_bytes;
} tagged;
static tagged alloc_a = {.tag = 0xA110CA7Au}, alloc_b = {.tag = 0xB10CB10Cu};

#define TAG_HEADER 32 /* keeps the caller's block 16-byte aligned */

static void *tagged_malloc(tagged *t, size_t size)
{
    unsigned char *p = malloc(size + TAG_HEADER);
    if (!p) return NULL;
    memcpy(p, &t->tag, sizeof t->tag);
    memcpy(p + 8, &size, sizeof size);
    atomic_fetch_add(&t->live, 1);
    atomic_fetch_add(&t->live_bytes, (long long)size);
    return p + TAG_HEADER;
}

static void tagged_free(tagged *t, void *ptr)
{
    if (!ptr) return;
    unsigned char *p = (unsigned char *)ptr - TAG_HEADER;
    unsigned tag;
    size_t size;
    memcpy(&tag, p, sizeof tag);
    memcpy(&size, p + 8, sizeof size);
    if (tag != t->tag) { /* not ours: count it and leave it (its owner's free is unknown here) */
        atomic_fetch_add(&t->wrong_frees, 1);
        return;
    }
    memset(p, 0, sizeof tag);
    atomic_fetch_sub(&t->live, 1);
    atomic_fetch_sub(&t->live_bytes, (long long)size);
    free(p);
}

static void *malloc_a(size_t n) { return tagged_malloc(&alloc_a, n); }
static void free_a(void *p) { tagged_free(&alloc_a, p); }
static void *malloc_b(size_t n) { return tagged_malloc(&alloc_b, n); }
static void free_b(void *p) { tagged_free(&alloc_b, p); }

static void tagged_reset(void)
{
    tagged *all[2] = {&alloc_a, &alloc_b};
    for (int i = 0; i < 2; i++) {
        atomic_store(&all[i]->live, 0);
        atomic_store(&all[i]->wrong_frees, 0);
        atomic_store(&all[i]->live_bytes, 0);
    }
}

/* A tensor made and dropped: its buffer goes to the calling thread's cache. */
static void churn(int64_t n_floats)
{
    kc_error err = {0};
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, 1, &n_floats, &err);
    ck_assert_ptr_nonnull(t);
    kc_tensor_unref(t);
}

static void *churn_and_exit(void *arg)
{
    (void)arg;
    churn(1000);
    churn(70000);
    return NULL;
}

/* A thread that exits gives its cached buffers back (they leaked: the
 * cache had no thread-exit destructor). */
START_TEST(exiting_thread_returns_its_cached_buffers)
{
    tagged_reset();
    kc_set_alloc_funcs(malloc_a, free_a);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, churn_and_exit, NULL), 0);
    pthread_join(t, NULL);
    long left = atomic_load(&alloc_a.live);
    kc_set_alloc_funcs(NULL, NULL);
    ck_assert_msg(left == 0, "%ld blocks of an exited thread are still allocated", left);
}
END_TEST

typedef struct stepper {
    pthread_barrier_t *bar;
    int64_t n_floats, n_blocks;
} stepper;

/* Cache blocks, wait while the main thread acts, then churn again, give
 * back what it cached (kc_release_caches) and exit. */
static void *cache_then_wait(void *arg)
{
    stepper *s = arg;
    kc_error err = {0};
    kc_tensor *t[8] = {0};
    for (int64_t i = 0; i < s->n_blocks; i++) t[i] = kc_tensor_empty(KC_FLOAT32, 1, &s->n_floats, &err);
    for (int64_t i = 0; i < s->n_blocks; i++) kc_tensor_unref(t[i]);
    pthread_barrier_wait(s->bar); /* cached */
    pthread_barrier_wait(s->bar); /* the main thread acted */
    churn(s->n_floats);
    kc_release_caches();
    pthread_barrier_wait(s->bar);
    return NULL;
}

/* kc_release_caches, from any thread, empties every thread's cache (it
 * emptied the caller's only). */
START_TEST(release_caches_drains_every_thread)
{
    tagged_reset();
    kc_set_alloc_funcs(malloc_a, free_a);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    stepper s = {&bar, 5000, 3};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, cache_then_wait, &s), 0);
    pthread_barrier_wait(&bar);
    long cached = atomic_load(&alloc_a.live);
    kc_release_caches();
    long left = atomic_load(&alloc_a.live);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&bar);
    kc_set_alloc_funcs(NULL, NULL);
    ck_assert_msg(left == 0, "%ld of %ld blocks still cached by a live thread", left, cached);
}
END_TEST

/* kc_set_alloc_funcs gives every thread's cached blocks back to the old
 * allocator: a thread that cached blocks under A and goes on after the
 * switch to B never hands B a block of A (it did: its cache kept A's
 * blocks, and B's free received them). */
START_TEST(switching_allocators_returns_blocks_to_their_allocator)
{
    tagged_reset();
    kc_set_alloc_funcs(malloc_a, free_a);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    stepper s = {&bar, 5000, 2};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, cache_then_wait, &s), 0);
    pthread_barrier_wait(&bar);
    kc_set_alloc_funcs(malloc_b, free_b);
    long a_left = atomic_load(&alloc_a.live);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar); /* the thread churned under B and released its cache */
    pthread_join(t, NULL);
    pthread_barrier_destroy(&bar);
    kc_release_caches();
    kc_set_alloc_funcs(NULL, NULL);
    ck_assert_msg(a_left == 0, "%ld blocks of A were still cached after the switch", a_left);
    ck_assert_int_eq(atomic_load(&alloc_b.wrong_frees), 0);
    ck_assert_int_eq(atomic_load(&alloc_a.wrong_frees), 0);
    ck_assert_int_eq(atomic_load(&alloc_b.live), 0);
}
END_TEST

/* All threads' caches together keep at most 512 MiB (each thread could
 * keep 512 MiB). Three threads each drop two 100 MiB tensors (112 MiB size
 * class: 672 MiB in all); the buffers are never written, so this costs
 * address space, not memory. */
START_TEST(caches_of_all_threads_share_one_cap)
{
    tagged_reset();
    kc_set_alloc_funcs(malloc_a, free_a);
    enum { N = 3 };
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N + 1);
    stepper s = {&bar, (int64_t)100 << 18, 2}; /* 100 MiB of floats */
    pthread_t t[N];
    for (int i = 0; i < N; i++) ck_assert_int_eq(pthread_create(&t[i], NULL, cache_then_wait, &s), 0);
    pthread_barrier_wait(&bar);
    long long bytes = atomic_load(&alloc_a.live_bytes);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    kc_release_caches();
    kc_set_alloc_funcs(NULL, NULL);
    /* each cached block carries up to 2 MiB of alignment */
    ck_assert_msg(bytes <= (512LL << 20) + 6 * (3LL << 20), "%lld MiB cached", bytes >> 20);
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
    tc = tcase_create("thread caches");
    tcase_add_test(tc, exiting_thread_returns_its_cached_buffers);
    tcase_add_test(tc, release_caches_drains_every_thread);
    tcase_add_test(tc, switching_allocators_returns_blocks_to_their_allocator);
    tcase_add_test(tc, caches_of_all_threads_share_one_cap);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
