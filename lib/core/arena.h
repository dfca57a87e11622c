/* A bump allocator freed in one call: tapes put their node arrays here, so
 * recording an op costs no allocator call once a chunk has room. */
#ifndef CKERAS_ARENA_H
#define CKERAS_ARENA_H

#include <stddef.h>

typedef struct kc__arena_chunk kc__arena_chunk;
typedef struct kc__arena {
    kc__arena_chunk *head;
    size_t used; /* bytes used in head */
} kc__arena;

void kc__arena_init(kc__arena *a);
/* size bytes aligned to 16, or NULL when out of memory. */
void *kc__arena_alloc(kc__arena *a, size_t size);
void kc__arena_fini(kc__arena *a);

#endif /* CKERAS_ARENA_H */
