/* Memory: one swappable malloc/free pair, overflow-checked helpers, and the
 * aligned tensor buffers.
 *
 * The pair has no realloc on purpose (as in Jansson's json_set_alloc_funcs):
 * a custom allocator then needs only two functions, and fault-injection tests
 * can count every allocation. kc__realloc is malloc + copy + free. */
#define _DEFAULT_SOURCE /* madvise */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static kc_malloc_fn user_malloc = malloc;
static kc_free_fn user_free = free;

void kc_set_alloc_funcs(kc_malloc_fn malloc_fn, kc_free_fn free_fn)
{
    kc_release_caches();
    user_malloc = malloc_fn ? malloc_fn : malloc;
    user_free = free_fn ? free_fn : free;
}

void kc_get_alloc_funcs(kc_malloc_fn *malloc_fn, kc_free_fn *free_fn)
{
    if (malloc_fn) *malloc_fn = user_malloc;
    if (free_fn) *free_fn = user_free;
}

void *kc__malloc(size_t size) { return user_malloc(size ? size : 1); }

void kc__free(void *ptr)
{
    if (ptr) user_free(ptr);
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
    if (align == HUGE_ALIGN) (void)madvise((void *)p, nbytes & ~(size_t)(HUGE_ALIGN - 1), MADV_HUGEPAGE);
#endif
    return (void *)p;
}

static void aligned_free_raw(void *p)
{
    if (p) kc__free(((void **)p)[-1]);
}

/* ---- per-thread cache -------------------------------------------------------
 *
 * Freed buffers are kept in size classes (four per power of two, so at most
 * 25% slack) and handed out again. The cache holds at most CACHE_LIMIT bytes
 * and never blocks above BIG_LIMIT, which go straight back to the allocator.
 * Under AddressSanitizer the cache is off so that use-after-free is caught. */

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

static _Thread_local cached_block *cache_lists[N_CLASSES];
static _Thread_local size_t cache_bytes;

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

void *kc__buffer_alloc(size_t nbytes, size_t *capacity)
{
    int cls;
    size_t cap = size_class(nbytes, &cls);
    if (cap < nbytes) return NULL;
    if (KC_BUFFER_CACHE && cls < N_CLASSES && cache_lists[cls]) {
        cached_block *b = cache_lists[cls];
        cache_lists[cls] = b->next;
        cache_bytes -= cap;
        *capacity = cap;
        return b;
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
    if (KC_BUFFER_CACHE && cap == capacity && cls < N_CLASSES && capacity <= BIG_LIMIT &&
        cache_bytes + capacity <= CACHE_LIMIT) {
        cached_block *b = ptr;
        b->next = cache_lists[cls];
        cache_lists[cls] = b;
        cache_bytes += capacity;
        return;
    }
    aligned_free_raw(ptr);
}

void kc_release_caches(void)
{
    for (int i = 0; i < N_CLASSES; i++) {
        while (cache_lists[i]) {
            cached_block *b = cache_lists[i];
            cache_lists[i] = b->next;
            aligned_free_raw(b);
        }
    }
    cache_bytes = 0;
}
