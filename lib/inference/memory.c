/* Where an inference plan keeps its values: model inputs stay in the
 * caller's tensors, outputs are written straight into the output tensors,
 * and every intermediate gets an offset in one arena, reused as soon as
 * its last reader has run (views share their root's buffer). Walking the
 * steps in order, a step's outputs are placed before its inputs are freed,
 * so they never overlap, except that an elementwise step (activation,
 * BatchNormalization, merge) may write over an input it is the last
 * reader of. Per-thread scratch (im2col blocks, tap offsets) is a second
 * buffer. Both are allocated once per plan: a predict that reuses the plan
 * allocates nothing. */
#include "plan_int.h"

#include <string.h>

typedef struct block {
    size_t offset, size;
} block;

typedef struct arena_map {
    block *free;
    size_t n_free, cap_free;
    size_t end; /* high water */
} arena_map;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* First fit among the free blocks, else at the end. */
static bool take(arena_map *m, size_t size, size_t *offset)
{
    for (size_t i = 0; i < m->n_free; i++) {
        if (m->free[i].size < size) continue;
        *offset = m->free[i].offset;
        m->free[i].offset += size;
        m->free[i].size -= size;
        if (m->free[i].size == 0) {
            memmove(m->free + i, m->free + i + 1, (m->n_free - i - 1) * sizeof(block));
            m->n_free--;
        }
        return true;
    }
    *offset = m->end;
    m->end += size;
    return true;
}

/* Return a block, merging it with free neighbours (the list stays sorted). */
static bool give(arena_map *m, size_t offset, size_t size)
{
    size_t i = 0;
    while (i < m->n_free && m->free[i].offset < offset) i++;
    if (!kc__grow((void **)&m->free, &m->cap_free, m->n_free + 1, sizeof(block))) return false;
    memmove(m->free + i + 1, m->free + i, (m->n_free - i) * sizeof(block));
    m->free[i] = (block){offset, size};
    m->n_free++;
    if (i + 1 < m->n_free && m->free[i].offset + m->free[i].size == m->free[i + 1].offset) {
        m->free[i].size += m->free[i + 1].size;
        memmove(m->free + i + 1, m->free + i + 2, (m->n_free - i - 2) * sizeof(block));
        m->n_free--;
    }
    if (i > 0 && m->free[i - 1].offset + m->free[i - 1].size == m->free[i].offset) {
        m->free[i - 1].size += m->free[i].size;
        memmove(m->free + i, m->free + i + 1, (m->n_free - i - 1) * sizeof(block));
        m->n_free--;
    }
    /* a free block at the end lowers the high water */
    if (m->n_free && m->free[m->n_free - 1].offset + m->free[m->n_free - 1].size == m->end) {
        m->end = m->free[m->n_free - 1].offset;
        m->n_free--;
    }
    return true;
}

static size_t bytes_of(const kc__pvalue *v) { return align64((size_t)v->size * kc_dtype_size(v->dtype)); }

static bool elementwise(const kc__pstep *s)
{
    return s->kind == KC__ST_ACT || s->kind == KC__ST_AFFINE || s->kind == KC__ST_MERGE;
}

/* Outputs: an output's root gets the output buffer, unless it is a model
 * input or already another output's: then a copy step fills it. */
static kc_status place_outputs(kc__plan *p, kc_error *err)
{
    for (int i = 0; i < p->n_outputs; i++) {
        int o = p->output_value[i], r = kc__plan_root(p, o);
        kc__pvalue *rv = &p->values[r];
        if (rv->loc == KC__LOC_ARENA && rv->producer >= 0) {
            rv->loc = KC__LOC_OUTPUT;
            rv->io = i;
            continue;
        }
        const kc__pvalue *ov = &p->values[o];
        int c = kc__plan_value(p, ov->dtype, ov->ndim, ov->dims);
        if (c < 0 || kc__plan_step(p, KC__ST_COPY, NULL, &o, 1, &c, 1) < 0)
            return kc__errf(err, KC_ENOMEM, "out of memory placing an inference plan");
        p->values[c].loc = KC__LOC_OUTPUT;
        p->values[c].io = i;
        p->values[c].output = true;
        p->output_value[i] = c;
        kc__pvalue *r2 = &p->values[r];
        r2->readers++;
        r2->last_read = p->n_steps - 1;
    }
    return KC_OK;
}

kc_status kc__plan_layout(kc__plan *p, kc_error *err)
{
    kc_status rc = place_outputs(p, err);
    if (rc != KC_OK) return rc;
    arena_map m = {0};
    bool *donated = kc__calloc((size_t)p->n_values + 1, sizeof(bool));
    if (!donated) return kc__errf(err, KC_ENOMEM, "out of memory placing an inference plan");
    size_t scratch = 0;
    for (int s = 0; s < p->n_steps && rc == KC_OK; s++) {
        kc__pstep *st = &p->steps[s];
        if (st->dead) continue;
        if (st->scratch > scratch) scratch = st->scratch;
        for (int k = 0; k < st->n_out && rc == KC_OK; k++) {
            kc__pvalue *o = &p->values[st->out[k]];
            if (o->root != st->out[k] || o->loc != KC__LOC_ARENA) continue;
            /* in place over input 0, when this step is its last reader */
            int r = kc__plan_root(p, st->in[0]);
            kc__pvalue *iv = &p->values[r];
            if (elementwise(st) && k == 0 && iv->loc == KC__LOC_ARENA && iv->last_read == s && !donated[r] &&
                bytes_of(iv) == bytes_of(o) && iv->dtype == o->dtype) {
                o->offset = iv->offset;
                donated[r] = true;
                continue;
            }
            if (!take(&m, bytes_of(o), &o->offset)) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        }
        for (int k = 0; k < st->n_in && rc == KC_OK; k++) {
            int r = kc__plan_root(p, st->in[k]);
            kc__pvalue *iv = &p->values[r];
            if (iv->loc != KC__LOC_ARENA || iv->last_read != s || donated[r]) continue;
            donated[r] = true; /* freed once, even when read twice by this step */
            if (!give(&m, iv->offset, bytes_of(iv))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        }
        for (int k = 0; k < st->n_out && rc == KC_OK; k++) { /* outputs nobody reads */
            int v = st->out[k];
            kc__pvalue *o = &p->values[v];
            if (o->root != v || o->loc != KC__LOC_ARENA || o->readers > 0 || donated[v]) continue;
            donated[v] = true;
            if (!give(&m, o->offset, bytes_of(o))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        }
    }
    kc__free(m.free);
    kc__free(donated);
    if (rc != KC_OK) return rc;
    size_t need = 0;
    for (int s = 0; s < p->n_steps; s++) { /* the high water, from what was placed */
        if (p->steps[s].dead) continue;
        for (int k = 0; k < p->steps[s].n_out; k++) {
            const kc__pvalue *x = &p->values[p->steps[s].out[k]];
            size_t end = x->offset + bytes_of(x);
            if (x->root == p->steps[s].out[k] && x->loc == KC__LOC_ARENA && end > need) need = end;
        }
    }
    p->arena_bytes = need;
    p->scratch_per_slot = align64(scratch);
    return KC_OK;
}

kc_status kc__plan_place(kc__plan *p, kc_error *err)
{
    kc_status rc = kc__plan_layout(p, err);
    if (rc != KC_OK) return rc;
    if (p->arena_bytes && !(p->arena = kc__buffer_alloc(p->arena_bytes, &p->arena_cap)))
        return kc__errf(err, KC_ENOMEM, "out of memory allocating %zu bytes for an inference plan", p->arena_bytes);
    return kc__plan_scratch(p, kc__parallel_slots(), err);
}

kc_status kc__plan_scratch(kc__plan *p, int slots, kc_error *err)
{
    if (slots <= p->scratch_slots || !p->scratch_per_slot) return KC_OK;
    size_t bytes;
    if (!kc__mul_size(p->scratch_per_slot, (size_t)slots, &bytes))
        return kc__errf(err, KC_ELIMIT, "inference scratch size overflows");
    if (p->scratch) kc__buffer_free(p->scratch, p->scratch_cap);
    p->scratch_slots = 0;
    if (!(p->scratch = kc__buffer_alloc(bytes, &p->scratch_cap)))
        return kc__errf(err, KC_ENOMEM, "out of memory allocating %zu bytes of inference scratch", bytes);
    p->scratch_slots = slots;
    return KC_OK;
}
