/* A hash map from 64-bit ids (tensor ids, never 0) to pointers, with open
 * addressing and linear probing. Used by tapes for "is this tensor tracked"
 * and "gradient so far of this tensor". Entries are never removed, only set
 * to NULL, which keeps probing simple; maps live for one tape or one
 * gradient computation. */
#ifndef CKERAS_IDMAP_H
#define CKERAS_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kc__idmap {
    uint64_t *keys; /* 0 = empty slot */
    void **vals;
    size_t cap;     /* power of two, or 0 */
    size_t n;       /* occupied slots */
} kc__idmap;

void kc__idmap_init(kc__idmap *m);
void kc__idmap_fini(kc__idmap *m);
/* The value stored for id, or NULL. */
void *kc__idmap_get(const kc__idmap *m, uint64_t id);
bool kc__idmap_has(const kc__idmap *m, uint64_t id);
/* Insert or replace. false when out of memory (the map is unchanged). */
bool kc__idmap_put(kc__idmap *m, uint64_t id, void *val);
/* Pointer to the value slot of id, or NULL when absent. */
void **kc__idmap_slot(kc__idmap *m, uint64_t id);

#endif /* CKERAS_IDMAP_H */
