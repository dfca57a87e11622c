/* ckeras: the memory allocator.
 *
 * Every allocation ckeras makes goes through one pair of functions, so a
 * program can route it to its own allocator and tests can inject failures.
 * Set them before any other ckeras call; memory must be freed by the
 * free function of the pair that allocated it. */
#ifndef CKERAS_ALLOC_H
#define CKERAS_ALLOC_H

#include "defs.h"

#include <stddef.h>

KC_BEGIN_DECLS

typedef void *(*kc_malloc_fn)(size_t size);
typedef void (*kc_free_fn)(void *ptr);

/* Replace malloc/free for all later allocations. Passing NULL for either
 * restores the C library's functions. Also drops every thread's tensor
 * buffer cache (kc_release_caches) so that no cached block outlives its
 * allocator. Call it while no other thread is using ckeras: a block
 * allocated before the switch must not be freed after it. */
KC_API void kc_set_alloc_funcs(kc_malloc_fn malloc_fn, kc_free_fn free_fn);

/* The current pair (never NULL). Outputs may be NULL. */
KC_API void kc_get_alloc_funcs(kc_malloc_fn *malloc_fn, kc_free_fn *free_fn);

/* Return the cached tensor buffers of every thread to the allocator.
 * ckeras keeps freed tensor buffers for reuse so that a training loop does not
 * call malloc per operation: each thread keeps its own, all together at most
 * 512 MiB, and a thread that exits gives its cache back. Call this to give
 * the memory back earlier. Safe to call from any thread at any time. */
KC_API void kc_release_caches(void);

KC_END_DECLS

#endif /* CKERAS_ALLOC_H */
