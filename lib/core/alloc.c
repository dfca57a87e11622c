/* Memory: one swappable malloc/free pair, overflow-checked helpers, and the
 * aligned tensor buffers with their per-thread caches.
 *
 * The pair has no realloc on purpose (as in Jansson's json_set_alloc_funcs):
 * a custom allocator then needs only two functions, and fault-injection tests
 * can count every allocation. kc__realloc is malloc + copy + free. */
#define _DEFAULT_SOURCE /* madvise */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Atomic so that threads allocating while another one switches never read
 * a torn pointer; switching while others allocate is still the caller's
 * mistake (a block could be freed by the other allocator), see alloc.h. */
static _Atomic(kc_malloc_fn) user_malloc = malloc;
static _Atomic(kc_free_fn) user_free = free;

static void drain_all_caches(void);

void kc_set_alloc_funcs(kc_malloc_fn malloc_fn, kc_free_fn free_fn)
{
    /* every thread's cached blocks go back to the allocator they came from */
    drain_all_caches();
    atomic_store_explicit(&user_malloc, malloc_fn ? malloc_fn : malloc, memory_order_relaxed);
    atomic_store_explicit(&user_free, free_fn ? free_fn : free, memory_order_relaxed);
}

void kc_get_alloc_funcs(kc_malloc_fn *malloc_fn, kc_free_fn *free_fn)
{
    if (malloc_fn) *malloc_fn = atomic_load_explicit(&user_malloc, memory_order_relaxed);
    if (free_fn) *free_fn = atomic_load_explicit(&user_free, memory_order_relaxed);
}

void *kc__malloc(size_t size)
{
    return atomic_load_explicit(&user_malloc, memory_order_relaxed)(size ? size : 1);
}

void kc__free(void *ptr)
{
    if (ptr) atomic_load_explicit(&user_free, memory_order_relaxed)(ptr);
}

void *kc__malloc_array(size_t n, size_t size)
{
    size_t total;
    if (!kc__mul_size(n, size, &total)) return NULL;
    return kc__malloc(total);
}

void *kc__calloc(size_t n, size_t size)
{
    size_t total;
    if (!kc__mul_size(n, size, &total)) return NULL;
    void *p = kc__malloc(total);
    if (p) memset(p, 0, total);
    return p;
}

void *kc__realloc(void *ptr, size_t old_size, size_t new_size)
{
    void *p = kc__malloc(new_size);
    if (!p) return NULL;
    if (ptr) {
        memcpy(p, ptr, old_size < new_size ? old_size : new_size);
        kc__free(ptr);
    }
    return p;
}

char *kc__strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = kc__malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

bool kc__grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) return false;
        ncap *= 2;
    }
    size_t old_bytes, new_bytes;
    if (!kc__mul_size(*cap, elem, &old_bytes) || !kc__mul_size(ncap, elem, &new_bytes))
        return false;
    void *p = kc__realloc(*arr, old_bytes, new_bytes);
    if (!p) return false;
    *arr = p;
    *cap = ncap;
    return true;
}

/* ---- aligned buffers ------------------------------------------------------
 *
 * Layout: [raw ... pad][header: raw pointer][data, aligned]. Blocks of 16 MiB
 * and more are aligned to 2 MiB and advised as huge pages: weights streamed
 * from HDF5 then fill whole huge pages, which is what lets h5py (NumPy's
 * allocator does the same) read faster than plain malloc'd C. */

#define SMALL_ALIGN 64u
#define HUGE_ALIGN (2u << 20)
#define HUGE_MIN (16u << 20)

static void *aligned_alloc_raw(size_t nbytes)
{
    size_t align = nbytes >= HUGE_MIN ? HUGE_ALIGN : SMALL_ALIGN;
    size_t total = nbytes + align + sizeof(void *);
    if (total < nbytes) return NULL;
    unsigned char *raw = kc__malloc(total);
    if (!raw) return NULL;
    uintptr_t p = (uintptr_t)(raw + sizeof(void *));
    p = (p + align - 1) & ~(uintptr_t)(align - 1);
    ((void **)p)[-1] = raw;
#ifdef MADV_HUGEPAGE
    if (align == HUGE_ALIGN)
        (void)madvise((void *)p, nbytes & ~(size_t)(HUGE_ALIGN - 1), MADV_HUGEPAGE);
#endif
    return (void *)p;
}

static void aligned_free_raw(void *p)
{
    if (p) kc__free(((void **)p)[-1]);
}

/* ---- per-thread caches -------------------------------------------------------
 *
 * Freed buffers are kept in size classes (four per power of two, so at most
 * 25% slack) by the thread that freed them and handed out again to it: a
 * training loop then does not call malloc per operation. Blocks above
 * BIG_LIMIT go straight back to the allocator, and all threads' caches
 * together hold at most CACHE_LIMIT bytes (one atomic count).
 *
 * Each thread's cache is thread-local storage with a lock of its own
 * (uncontended but for the moments below) and sits in a registry, so that:
 *   - a thread that exits gives its blocks back (a pthread key destructor);
 *   - kc_release_caches and kc_set_alloc_funcs drain every thread's cache,
 *     so no cached block outlives the allocator it came from;
 *   - fork() finds no lock held (an atfork handler takes them all, and the
 *     child keeps the caches of threads that do not exist there until the
 *     next kc_release_caches).
 * Locks are taken registry first, then a cache. Under AddressSanitizer the
 * cache is off so that use-after-free is caught. */

#if defined(__SANITIZE_ADDRESS__)
#define KC_BUFFER_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KC_BUFFER_CACHE 0
#endif
#endif
#ifndef KC_BUFFER_CACHE
#define KC_BUFFER_CACHE 1
#endif

#define N_CLASSES 160
#define CACHE_LIMIT ((size_t)512 << 20)
#define BIG_LIMIT ((size_t)128 << 20)

typedef struct cached_block {
    struct cached_block *next;
} cached_block;

typedef struct thread_cache {
    pthread_mutex_t lock;             /* the owner, drains from other threads, fork */
    cached_block *lists[N_CLASSES];   /* free blocks per size class */
    size_t bytes;                     /* what the lists hold */
    struct thread_cache *prev, *next; /* the registry, under registry_lock */
    bool registered;                  /* written by the owning thread only */
} thread_cache;

static _Thread_local thread_cache my_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static thread_cache *registry;
static atomic_size_t cached_total; /* bytes in all caches, <= CACHE_LIMIT */
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool caching_ready; /* key and atfork handler installed */

/* Round nbytes up to its size class; *cls receives the class index. */
static size_t size_class(size_t nbytes, int *cls)
{
    if (nbytes <= 256) {
        *cls = 0;
        return 256;
    }
    int lg = 63 - __builtin_clzll((unsigned long long)(nbytes - 1)); /* 2^lg < nbytes <= 2^(lg+1) */
    size_t base = (size_t)1 << lg;
    size_t step = base / 4;
    size_t k = (nbytes - base + step - 1) / step; /* 1..4 */
    *cls = (lg - 8) * 4 + (int)k;
    return base + k * step;
}

/* Give every block of c back to the allocator. */
static void drain(thread_cache *c)
{
    cached_block *lists[N_CLASSES];
    pthread_mutex_lock(&c->lock);
    memcpy(lists, c->lists, sizeof(lists));
    memset(c->lists, 0, sizeof(c->lists));
    size_t bytes = c->bytes;
    c->bytes = 0;
    pthread_mutex_unlock(&c->lock);
    atomic_fetch_sub_explicit(&cached_total, bytes, memory_order_relaxed);
    for (int i = 0; i < N_CLASSES; i++) {
        while (lists[i]) {
            cached_block *b = lists[i];
            lists[i] = b->next;
            aligned_free_raw(b);
        }
    }
}

static void drain_all_caches(void)
{
    pthread_mutex_lock(&registry_lock);
    for (thread_cache *c = registry; c; c = c->next)
        drain(c);
    pthread_mutex_unlock(&registry_lock);
}

/* The key's destructor: the thread is exiting, its cache leaves the registry. */
static void thread_exit(void *arg)
{
    thread_cache *c = arg;
    pthread_mutex_lock(&registry_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        registry = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&registry_lock);
    drain(c);
    c->registered = false;
}

static void before_fork(void)
{
    pthread_mutex_lock(&registry_lock);
    for (thread_cache *c = registry; c; c = c->next)
        pthread_mutex_lock(&c->lock);
}

static void after_fork(void)
{
    for (thread_cache *c = registry; c; c = c->next)
        pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&registry_lock);
}

static void setup_caching(void)
{
    if (pthread_key_create(&exit_key, thread_exit) != 0) return;
    caching_ready = pthread_atfork(before_fork, after_fork, after_fork) == 0;
}

/* The calling thread's cache, registered on first use; NULL when caching
 * cannot be set up (every free then goes to the allocator). */
static thread_cache *own_cache(void)
{
    thread_cache *c = &my_cache;
    if (c->registered) return c;
    pthread_once(&cache_once, setup_caching);
    if (!caching_ready || pthread_setspecific(exit_key, c) != 0) return NULL;
    pthread_mutex_lock(&registry_lock);
    c->prev = NULL;
    c->next = registry;
    if (registry) registry->prev = c;
    registry = c;
    c->registered = true;
    pthread_mutex_unlock(&registry_lock);
    return c;
}

/* Count `bytes` into the global total unless that would pass the cap. */
static bool reserve(size_t bytes)
{
    size_t cur = atomic_load_explicit(&cached_total, memory_order_relaxed);
    do {
        if (bytes > CACHE_LIMIT - cur) return false;
    } while (!atomic_compare_exchange_weak_explicit(&cached_total, &cur, cur + bytes,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

void *kc__buffer_alloc(size_t nbytes, size_t *capacity)
{
    int cls;
    size_t cap = size_class(nbytes, &cls);
    if (cap < nbytes) return NULL;
    thread_cache *c = &my_cache;
    if (KC_BUFFER_CACHE && cls < N_CLASSES && c->registered) {
        pthread_mutex_lock(&c->lock);
        cached_block *b = c->lists[cls];
        if (b) {
            c->lists[cls] = b->next;
            c->bytes -= cap;
        }
        pthread_mutex_unlock(&c->lock);
        if (b) {
            atomic_fetch_sub_explicit(&cached_total, cap, memory_order_relaxed);
            *capacity = cap;
            return b;
        }
    }
    void *p = aligned_alloc_raw(cap);
    if (p) *capacity = cap;
    return p;
}

void kc__buffer_free(void *ptr, size_t capacity)
{
    if (!ptr) return;
    int cls;
    size_t cap = size_class(capacity, &cls);
    thread_cache *c;
    if (KC_BUFFER_CACHE && cap == capacity && cls < N_CLASSES && capacity <= BIG_LIMIT &&
        (c = own_cache()) && reserve(capacity)) {
        cached_block *b = ptr;
        pthread_mutex_lock(&c->lock);
        b->next = c->lists[cls];
        c->lists[cls] = b;
        c->bytes += capacity;
        pthread_mutex_unlock(&c->lock);
        return;
    }
    aligned_free_raw(ptr);
}

void kc_release_caches(void)
{
    drain_all_caches();
}
