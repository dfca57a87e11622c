/* Open-addressing id map; see idmap.h. */
#include "idmap.h"
#include "internal.h"

#include <string.h>

void kc__idmap_init(kc__idmap *m) { memset(m, 0, sizeof(*m)); }

void kc__idmap_fini(kc__idmap *m)
{
    kc__free(m->keys);
    kc__free(m->vals);
    memset(m, 0, sizeof(*m));
}

static size_t hash_id(uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t)id;
}

static size_t find(const kc__idmap *m, uint64_t id)
{
    size_t mask = m->cap - 1, i = hash_id(id) & mask;
    while (m->keys[i] && m->keys[i] != id) i = (i + 1) & mask;
    return i;
}

void **kc__idmap_slot(kc__idmap *m, uint64_t id)
{
    if (!m->cap) return NULL;
    size_t i = find(m, id);
    return m->keys[i] ? &m->vals[i] : NULL;
}

void *kc__idmap_get(const kc__idmap *m, uint64_t id)
{
    if (!m->cap) return NULL;
    size_t i = find(m, id);
    return m->keys[i] ? m->vals[i] : NULL;
}

bool kc__idmap_has(const kc__idmap *m, uint64_t id)
{
    if (!m->cap) return false;
    return m->keys[find(m, id)] != 0;
}

static bool rehash(kc__idmap *m, size_t ncap)
{
    uint64_t *keys = kc__calloc(ncap, sizeof(*keys));
    void **vals = kc__calloc(ncap, sizeof(*vals));
    if (!keys || !vals) {
        kc__free(keys);
        kc__free(vals);
        return false;
    }
    kc__idmap old = *m;
    m->keys = keys;
    m->vals = vals;
    m->cap = ncap;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.keys[i]) continue;
        size_t j = find(m, old.keys[i]);
        m->keys[j] = old.keys[i];
        m->vals[j] = old.vals[i];
    }
    kc__free(old.keys);
    kc__free(old.vals);
    return true;
}

bool kc__idmap_put(kc__idmap *m, uint64_t id, void *val)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        if (!rehash(m, ncap)) return false;
    }
    size_t i = find(m, id);
    if (!m->keys[i]) {
        m->keys[i] = id;
        m->n++;
    }
    m->vals[i] = val;
    return true;
}
