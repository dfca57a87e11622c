/* Chunked bump allocator; see arena.h. */
#include "arena.h"
#include "internal.h"

#include <string.h>

#define CHUNK_SIZE ((size_t)64 << 10)

struct kc__arena_chunk {
    kc__arena_chunk *next;
    size_t size; /* usable bytes after the header */
    _Alignas(16) unsigned char data[];
};

void kc__arena_init(kc__arena *a) { memset(a, 0, sizeof(*a)); }

void *kc__arena_alloc(kc__arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (!a->head || a->head->size - a->used < size) {
        size_t csize = size > CHUNK_SIZE ? size : CHUNK_SIZE;
        kc__arena_chunk *c = kc__malloc(sizeof(*c) + csize);
        if (!c) return NULL;
        c->next = a->head;
        c->size = csize;
        a->head = c;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += size;
    return p;
}

void kc__arena_fini(kc__arena *a)
{
    while (a->head) {
        kc__arena_chunk *next = a->head->next;
        kc__free(a->head);
        a->head = next;
    }
    a->used = 0;
}
