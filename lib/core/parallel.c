/* kc__parallel_for: ckeras' own loops (elementwise kernels, optimizer
 * updates) split over a small pool of worker threads, as many as
 * kc_set_num_threads allows (the calling thread works too). Work below two
 * grains, a single configured thread, a call from inside a worker (nested)
 * or a pool busy with another thread's loop all run inline: the pool never
 * waits on itself. Workers are created on first use and live for the
 * process; each chunk writes its own range, so results do not depend on
 * the number of threads. Between loops a worker spins for about 0.1 ms
 * before it sleeps, and so does the caller waiting for its helpers: loops
 * that follow each other closely (the steps of an inference plan) then do
 * not pay a sleep and a wake-up each.
 *
 * fork(): only the forking thread exists in the child, so the workers the
 * parent started are gone while the bookkeeping still counts them, and the
 * child's first loop would wait forever for helpers that never come. As
 * libuv does for its thread pool, a pthread_atfork handler (installed with
 * the first worker) makes fork wait for a running loop to finish (prepare
 * takes both locks), and in the child forgets the workers and re-creates the
 * locks and condition variables; the child starts new workers on its first
 * parallel loop. */
#define _DEFAULT_SOURCE
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Pauses a thread spins before sleeping, waiting for the next loop (a
 * worker) or for the helpers to finish (the caller): an inference plan
 * runs one loop per step, back to back, and a condition-variable wake-up
 * costs tens of microseconds, more than a small step. About 0.1 ms. */
#define SPIN_ROUNDS 2000

#define MAX_WORKERS 63

typedef struct job {
    kc__range_fn fn;
    kc__slot_range_fn slot_fn; /* instead of fn: also told the thread's slot */
    void *ctx;
    int64_t n, chunk;
    atomic_llong next;  /* next chunk start */
    atomic_int pending; /* workers still inside this job */
} job;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER; /* one loop at a time */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static job *current;          /* guarded by wake_lock */
static unsigned long generation;
static atomic_ulong published; /* generation, readable without the lock */
static int n_workers, wanted; /* workers alive; how many join the current job */
static _Thread_local bool in_worker;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    pthread_mutex_lock(&pool_lock);
    pthread_mutex_lock(&wake_lock);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&wake_lock);
    pthread_mutex_unlock(&pool_lock);
}

/* The child's only thread is the one that forked, and it holds both locks
 * (before_fork): no loop is running, no worker exists. */
static void after_fork_child(void)
{
    n_workers = 0;
    wanted = 0;
    current = NULL;
    /* no thread waits on them in the child: fresh ones are safe */
    pthread_cond_init(&wake, NULL);
    pthread_cond_init(&done, NULL);
    pthread_mutex_unlock(&wake_lock);
    pthread_mutex_unlock(&pool_lock);
}

static bool atfork_installed;

/* Without the handler (pthread_atfork failed: ENOMEM) no worker is ever
 * started, and every loop runs inline: slower, never stuck after a fork. */
static void install_atfork(void)
{
    atfork_installed = pthread_atfork(before_fork, after_fork_parent, after_fork_child) == 0;
}

static void run_chunks(job *j, int slot)
{
    for (;;) {
        int64_t b = atomic_fetch_add(&j->next, j->chunk);
        if (b >= j->n) break;
        int64_t e = b + j->chunk < j->n ? b + j->chunk : j->n;
        if (j->slot_fn)
            j->slot_fn(j->ctx, b, e, slot);
        else
            j->fn(j->ctx, b, e);
    }
}

static void *worker_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    in_worker = true;
    unsigned long seen = 0;
    for (;;) {
        for (int i = 0; i < SPIN_ROUNDS && atomic_load_explicit(&published, memory_order_acquire) == seen; i++)
            cpu_relax();
        pthread_mutex_lock(&wake_lock);
        /* a new job for this worker: published, not seen yet, and it is
         * one of the `wanted` helpers counted in pending */
        while (!current || generation == seen || id >= wanted) {
            if (current && id >= wanted) seen = generation;
            pthread_cond_wait(&wake, &wake_lock);
        }
        seen = generation;
        job *j = current;
        pthread_mutex_unlock(&wake_lock);
        run_chunks(j, id + 1);
        pthread_mutex_lock(&wake_lock);
        if (atomic_fetch_sub(&j->pending, 1) == 1) pthread_cond_signal(&done);
        pthread_mutex_unlock(&wake_lock);
    }
    return NULL;
}

/* Make sure `count` workers exist (as many as could be started). */
static int ensure_workers(int count)
{
    if (n_workers < count) pthread_once(&atfork_once, install_atfork);
    if (!atfork_installed) return 0;
    while (n_workers < count) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)n_workers);
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        n_workers++;
    }
    return n_workers < count ? n_workers : count;
}

/* Test hook: a smaller grain for every loop, so that test suites with small
 * tensors still run their loops on the pool (0: the callers' grains). */
static atomic_llong test_grain;
void kc__parallel_test_grain(int64_t grain);
void kc__parallel_test_grain(int64_t grain)
{
    atomic_store_explicit(&test_grain, grain, memory_order_relaxed);
}

static void run_inline(job *j)
{
    if (j->slot_fn)
        j->slot_fn(j->ctx, 0, j->n, 0);
    else
        j->fn(j->ctx, 0, j->n);
}

static void parallel_run(job *j, int64_t grain)
{
    int64_t n = j->n;
    if (n <= 0) return;
    int64_t small = atomic_load_explicit(&test_grain, memory_order_relaxed);
    if (small > 0 && small < grain) grain = small;
    if (grain < 1) grain = 1;
    int threads = kc__num_threads();
    if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
    if (threads < 2 || n < 2 * grain || in_worker || pthread_mutex_trylock(&pool_lock) != 0) {
        run_inline(j);
        return;
    }
    int64_t chunks = n / grain;
    int helpers = (int)(chunks - 1 < threads - 1 ? chunks - 1 : threads - 1);
    pthread_mutex_lock(&wake_lock);
    helpers = ensure_workers(helpers);
    pthread_mutex_unlock(&wake_lock);
    if (helpers < 1) {
        pthread_mutex_unlock(&pool_lock);
        run_inline(j);
        return;
    }
    /* a few chunks per thread, each at least a grain, evens out the load */
    int64_t per = n / ((int64_t)(helpers + 1) * 4);
    j->chunk = per > grain ? per : grain;
    atomic_init(&j->next, 0);
    atomic_init(&j->pending, helpers);
    pthread_mutex_lock(&wake_lock);
    current = j;
    wanted = helpers;
    generation++;
    atomic_store_explicit(&published, generation, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&wake_lock);
    run_chunks(j, 0);
    for (int i = 0; i < SPIN_ROUNDS && atomic_load(&j->pending) > 0; i++) cpu_relax();
    pthread_mutex_lock(&wake_lock);
    while (atomic_load(&j->pending) > 0) pthread_cond_wait(&done, &wake_lock);
    current = NULL;
    pthread_mutex_unlock(&wake_lock);
    pthread_mutex_unlock(&pool_lock);
}

void kc__parallel_for(int64_t n, int64_t grain, kc__range_fn fn, void *ctx)
{
    job j = {.fn = fn, .ctx = ctx, .n = n};
    parallel_run(&j, grain);
}

void kc__parallel_for_slots(int64_t n, int64_t grain, kc__slot_range_fn fn, void *ctx)
{
    job j = {.slot_fn = fn, .ctx = ctx, .n = n};
    parallel_run(&j, grain);
}

int kc__parallel_slots(void)
{
    int threads = kc__num_threads();
    return threads > MAX_WORKERS + 1 ? MAX_WORKERS + 1 : threads < 1 ? 1 : threads;
}
