/* kc__parallel_for: ckeras' own loops (elementwise kernels, optimizer
 * updates) split over a small pool of worker threads, as many as
 * kc_set_num_threads allows (the calling thread works too). Work below two
 * grains, a single configured thread, a call from inside a worker (nested)
 * or a pool busy with another thread's loop all run inline: the pool never
 * waits on itself. Workers are created on first use and live for the
 * process; each chunk writes its own range, so results do not depend on
 * the number of threads. */
#define _DEFAULT_SOURCE
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

#define MAX_WORKERS 63

typedef struct job {
    kc__range_fn fn;
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
static int n_workers, wanted; /* workers alive; how many join the current job */
static _Thread_local bool in_worker;

static void run_chunks(job *j)
{
    for (;;) {
        int64_t b = atomic_fetch_add(&j->next, j->chunk);
        if (b >= j->n) break;
        int64_t e = b + j->chunk < j->n ? b + j->chunk : j->n;
        j->fn(j->ctx, b, e);
    }
}

static void *worker_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    in_worker = true;
    unsigned long seen = 0;
    pthread_mutex_lock(&wake_lock);
    for (;;) {
        /* a new job for this worker: published, not seen yet, and it is
         * one of the `wanted` helpers counted in pending */
        while (!current || generation == seen || id >= wanted) {
            if (current && id >= wanted) seen = generation;
            pthread_cond_wait(&wake, &wake_lock);
        }
        seen = generation;
        job *j = current;
        pthread_mutex_unlock(&wake_lock);
        run_chunks(j);
        pthread_mutex_lock(&wake_lock);
        if (atomic_fetch_sub(&j->pending, 1) == 1) pthread_cond_signal(&done);
    }
    return NULL;
}

/* Make sure `count` workers exist (as many as could be started). */
static int ensure_workers(int count)
{
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

void kc__parallel_for(int64_t n, int64_t grain, kc__range_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int threads = kc__num_threads();
    if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
    if (threads < 2 || n < 2 * grain || in_worker || pthread_mutex_trylock(&pool_lock) != 0) {
        fn(ctx, 0, n);
        return;
    }
    int64_t chunks = n / grain;
    int helpers = (int)(chunks - 1 < threads - 1 ? chunks - 1 : threads - 1);
    pthread_mutex_lock(&wake_lock);
    helpers = ensure_workers(helpers);
    pthread_mutex_unlock(&wake_lock);
    if (helpers < 1) {
        pthread_mutex_unlock(&pool_lock);
        fn(ctx, 0, n);
        return;
    }
    job j = {.fn = fn, .ctx = ctx, .n = n};
    /* a few chunks per thread, each at least a grain, evens out the load */
    int64_t per = n / ((int64_t)(helpers + 1) * 4);
    j.chunk = per > grain ? per : grain;
    atomic_init(&j.next, 0);
    atomic_init(&j.pending, helpers);
    pthread_mutex_lock(&wake_lock);
    current = &j;
    wanted = helpers;
    generation++;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&wake_lock);
    run_chunks(&j);
    pthread_mutex_lock(&wake_lock);
    while (atomic_load(&j.pending) > 0) pthread_cond_wait(&done, &wake_lock);
    current = NULL;
    pthread_mutex_unlock(&wake_lock);
    pthread_mutex_unlock(&pool_lock);
}
