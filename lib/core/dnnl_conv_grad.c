/* The gradients of a convolution through oneDNN (conv_backend.h): the
 * input gradient (backward data) and the kernel and bias gradients
 * (backward weights), for the conv op's backward pass.
 *
 * As for the forward pass (dnnl_conv.c), oneDNN runs on one thread per
 * call and ckeras' pool runs slices in parallel: groups of images, fixed
 * by the geometry (at most four). The input gradient of a group is its own
 * part of dx; the kernel and bias gradients are sums over the images, so
 * each group's are computed apart and added in group order in Keras'
 * layout: the same values for any number of threads. A one-image batch is
 * one slice. A few geometries keep their primitives and buffers (behind a
 * lock), as the forward one-off path does. */
#include "conv_backend.h"

#ifdef KC_HAVE_ONEDNN

#include "dnnl_int.h"

#include <pthread.h>
#include <string.h>

#define MAX_GROUPS 4
#define SLOTS 8

typedef struct gkind { /* one group size */
    dnnl_primitive_t data, weights;         /* backward data, backward weights */
    dnnl_primitive_t w_to_data, dw_to_user; /* Keras kernel -> data's layout; kernel gradient -> Keras */
    size_t w_bytes, dw_bytes;               /* in the primitives' layouts */
} gkind;

typedef struct group {
    int kind;
    int64_t x_off, y_off; /* floats into x / dx and into dy */
    dnnl_memory_t src, diff_src, diff_dst, wei, diff_wei, diff_wei_user, diff_bias, wei_user;
    dnnl_memory_t scratch_data, scratch_weights; /* its own scratchpad, for each primitive */
    void *scratch_buf;
    size_t scratch_cap;
    dnnl_stream_t stream;
    float *dw, *db;       /* this group's kernel and bias gradients (Keras layout) */
} group;

typedef struct grad {
    kc__conv_shape shape;
    gkind kinds[2];
    int n_kinds;
    group groups[MAX_GROUPS];
    int n_groups;
    char *w, *dw_raw;     /* the kernel in data's layout(s); raw kernel gradients per group */
    size_t w_cap, dw_raw_cap;
    float *partial;       /* per group: dw then db (Keras layout) */
    size_t partial_cap;
    unsigned long used;
} grad;

static grad *slots[SLOTS];
static unsigned long tick;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void grad_free(grad *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_kinds; i++) {
        dnnl_primitive_t ps[] = {g->kinds[i].data, g->kinds[i].weights, g->kinds[i].w_to_data, g->kinds[i].dw_to_user};
        for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++)
            if (ps[k]) dnnl_primitive_destroy(ps[k]);
    }
    for (int i = 0; i < g->n_groups; i++) {
        group *q = &g->groups[i];
        dnnl_memory_t ms[] = {q->src,       q->diff_src, q->diff_dst,     q->wei,           q->diff_wei,
                              q->diff_wei_user, q->diff_bias, q->wei_user, q->scratch_data, q->scratch_weights};
        for (size_t k = 0; k < sizeof(ms) / sizeof(ms[0]); k++)
            if (ms[k]) dnnl_memory_destroy(ms[k]);
        if (q->stream) dnnl_stream_destroy(q->stream);
        if (q->scratch_buf) kc__buffer_free(q->scratch_buf, q->scratch_cap);
    }
    if (g->w) kc__buffer_free(g->w, g->w_cap);
    if (g->dw_raw) kc__buffer_free(g->dw_raw, g->dw_raw_cap);
    if (g->partial) kc__buffer_free(g->partial, g->partial_cap);
    kc__free(g);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static const dnnl_memory_desc_t *md_of(dnnl_primitive_t p, dnnl_query_t what)
{
    const_dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_get_primitive_desc(p, &pd) != dnnl_success) return NULL;
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

/* The two gradient primitives of a group geometry (with the forward one as
 * their hint, as oneDNN requires) and the reorders around them. */
static bool make_kind(gkind *k, const kc__conv_shape *s)
{
    dnnl_engine_t eng = kc__dnnl_engine();
    dnnl_memory_desc_t src, wei_user, wei_any, bias, dst;
    if (!kc__dnnl_describe(s, &src, &wei_user, &wei_any, &bias, &dst)) return false;
    dnnl_dims_t strides, dilates, pad_l, pad_r;
    kc__dnnl_window(s, strides, dilates, pad_l, pad_r);
    dnnl_convolution_desc_t fd, dd, wd;
    dnnl_primitive_desc_t fpd = NULL, dpd = NULL, wpd = NULL, r1 = NULL, r2 = NULL;
    bool ok = dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &src,
                                                         &wei_any, &bias, &dst, strides, dilates, pad_l, pad_r) ==
                  dnnl_success &&
              dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL) == dnnl_success;
    ok = ok &&
         dnnl_dilated_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &src, &wei_any, &dst, strides,
                                                          dilates, pad_l, pad_r) == dnnl_success &&
         dnnl_primitive_desc_create(&dpd, &dd, kc__dnnl_attr(), eng, fpd) == dnnl_success;
    ok = ok &&
         dnnl_dilated_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &src, &wei_any, &bias, &dst,
                                                             strides, dilates, pad_l, pad_r) == dnnl_success &&
         dnnl_primitive_desc_create(&wpd, &wd, kc__dnnl_attr(), eng, fpd) == dnnl_success;
    const dnnl_memory_desc_t *w_data = ok ? dnnl_primitive_desc_query_md(dpd, dnnl_query_weights_md, 0) : NULL;
    const dnnl_memory_desc_t *dw = ok ? dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0) : NULL;
    const dnnl_memory_desc_t *ds = ok ? dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_src_md, 0) : NULL;
    const dnnl_memory_desc_t *dd_md = ok ? dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_dst_md, 0) : NULL;
    const dnnl_memory_desc_t *sw = ok ? dnnl_primitive_desc_query_md(wpd, dnnl_query_src_md, 0) : NULL;
    /* data stays channels last: ckeras' layout */
    ok = ok && w_data && dw && ds && dd_md && sw && dnnl_memory_desc_equal(ds, &src) &&
         dnnl_memory_desc_equal(dd_md, &dst) && dnnl_memory_desc_equal(sw, &src);
    ok = ok && dnnl_primitive_create(&k->data, dpd) == dnnl_success &&
         dnnl_primitive_create(&k->weights, wpd) == dnnl_success;
    ok = ok && dnnl_reorder_primitive_desc_create(&r1, &wei_user, eng, w_data, eng, NULL) == dnnl_success &&
         dnnl_primitive_create(&k->w_to_data, r1) == dnnl_success;
    ok = ok && dnnl_reorder_primitive_desc_create(&r2, dw, eng, &wei_user, eng, NULL) == dnnl_success &&
         dnnl_primitive_create(&k->dw_to_user, r2) == dnnl_success;
    if (ok) {
        k->w_bytes = align64(dnnl_memory_desc_get_size(w_data));
        k->dw_bytes = align64(dnnl_memory_desc_get_size(dw));
    }
    dnnl_primitive_desc_t pds[] = {fpd, dpd, wpd, r1, r2};
    for (size_t i = 0; i < sizeof(pds) / sizeof(pds[0]); i++)
        if (pds[i]) dnnl_primitive_desc_destroy(pds[i]);
    return ok;
}

static bool make_group_memory(group *q, const gkind *k, const kc__conv_shape *s)
{
    dnnl_engine_t eng = kc__dnnl_engine();
    dnnl_memory_desc_t src, wei_user, wei_any, bias, dst;
    const dnnl_memory_desc_t *sd = md_of(k->data, dnnl_query_scratchpad_md),
                             *sw = md_of(k->weights, dnnl_query_scratchpad_md);
    size_t bd = sd ? dnnl_memory_desc_get_size(sd) : 0, bw = sw ? dnnl_memory_desc_get_size(sw) : 0;
    size_t need = bd > bw ? bd : bw; /* the two run one after the other */
    if (need && !(q->scratch_buf = kc__buffer_alloc(need, &q->scratch_cap))) return false;
    return (!bd || dnnl_memory_create(&q->scratch_data, sd, eng, q->scratch_buf) == dnnl_success) &&
           (!bw || dnnl_memory_create(&q->scratch_weights, sw, eng, q->scratch_buf) == dnnl_success) &&
           kc__dnnl_describe(s, &src, &wei_user, &wei_any, &bias, &dst) &&
           dnnl_memory_create(&q->src, &src, eng, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&q->diff_src, &src, eng, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&q->diff_dst, &dst, eng, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&q->wei, md_of(k->data, dnnl_query_weights_md), eng, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&q->diff_wei, md_of(k->weights, dnnl_query_diff_weights_md), eng, DNNL_MEMORY_NONE) ==
               dnnl_success &&
           dnnl_memory_create(&q->diff_wei_user, &wei_user, eng, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&q->wei_user, &wei_user, eng, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&q->diff_bias, &bias, eng, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_stream_create(&q->stream, eng, dnnl_stream_default_flags) == dnnl_success;
}

static grad *grad_new(const kc__conv_shape *s)
{
    kc__dnnl_one_thread();
    if (!kc__dnnl_engine() || s->nsp < 1 || s->nsp > 3 || s->groups < 1 || s->cin % s->groups ||
        s->cout % s->groups || s->n < 1)
        return NULL;
    grad *g = kc__calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->shape = *s;
    g->shape.bias = true; /* the bias gradient is always computed (cheap) */
    int64_t in_px = s->cin, out_px = s->cout;
    for (int i = 0; i < s->nsp; i++) {
        in_px *= s->in[i];
        out_px *= s->out[i];
    }
    int parts = s->n >= MAX_GROUPS ? MAX_GROUPS : (int)s->n;
    int64_t per = (s->n + parts - 1) / parts;
    kc__conv_shape sub[MAX_GROUPS];
    bool ok = true;
    for (int64_t i0 = 0; i0 < s->n && ok; i0 += per) {
        group *q = &g->groups[g->n_groups];
        sub[g->n_groups] = g->shape;
        sub[g->n_groups].n = s->n - i0 < per ? s->n - i0 : per;
        q->x_off = i0 * in_px;
        q->y_off = i0 * out_px;
        q->kind = -1;
        for (int k = 0; k < g->n_groups && q->kind < 0; k++)
            if (sub[k].n == sub[g->n_groups].n) q->kind = g->groups[k].kind;
        if (q->kind < 0) {
            ok = make_kind(&g->kinds[g->n_kinds], &sub[g->n_groups]);
            q->kind = g->n_kinds++;
        }
        ok = ok && make_group_memory(q, &g->kinds[q->kind], &sub[g->n_groups]);
        g->n_groups++;
    }
    if (!ok) {
        grad_free(g);
        return NULL;
    }
    return g;
}

/* Buffers: the kernel in each kind's data layout, every group's raw kernel
 * gradient, and every group's gradients in Keras' layout. */
static bool buffers(grad *g)
{
    size_t w = 0, dw = 0;
    for (int i = 0; i < g->n_kinds; i++) w += g->kinds[i].w_bytes;
    for (int i = 0; i < g->n_groups; i++) dw += g->kinds[g->groups[i].kind].dw_bytes;
    const kc__conv_shape *s = &g->shape;
    int64_t nw = s->cout * (s->cin / s->groups);
    for (int i = 0; i < s->nsp; i++) nw *= s->k[i];
    size_t part = (size_t)g->n_groups * align64(sizeof(float) * (size_t)(nw + s->cout));
    struct { char **p; size_t *cap; size_t need; } b[3] = {
        {&g->w, &g->w_cap, w}, {&g->dw_raw, &g->dw_raw_cap, dw}, {(char **)&g->partial, &g->partial_cap, part}};
    for (int i = 0; i < 3; i++) {
        if (*b[i].cap >= b[i].need) continue;
        if (*b[i].p) kc__buffer_free(*b[i].p, *b[i].cap);
        *b[i].cap = 0;
        if (!(*b[i].p = kc__buffer_alloc(b[i].need ? b[i].need : 64, b[i].cap))) return false;
    }
    size_t off = 0, stride = align64(sizeof(float) * (size_t)(nw + s->cout)) / sizeof(float);
    for (int i = 0; i < g->n_groups; i++) {
        g->groups[i].dw = g->partial + (size_t)i * stride;
        g->groups[i].db = g->groups[i].dw + nw;
        (void)off;
    }
    return true;
}

typedef struct grad_job {
    grad *g;
    const float *x, *dy;
    float *dx;
    bool want_w;
    atomic_int failed;
} grad_job;

static dnnl_status_t run_group(grad_job *j, int i)
{
    kc__dnnl_one_thread();
    grad *g = j->g;
    group *q = &g->groups[i];
    gkind *k = &g->kinds[q->kind];
    size_t w_off = 0, dw_off = 0;
    for (int t = 0; t < q->kind; t++) w_off += g->kinds[t].w_bytes;
    for (int t = 0; t < i; t++) dw_off += g->kinds[g->groups[t].kind].dw_bytes;
    dnnl_status_t st = dnnl_memory_set_data_handle(q->diff_dst, (void *)(j->dy + q->y_off));
    if (st == dnnl_success && j->dx) {
        st = dnnl_memory_set_data_handle(q->wei, g->w + w_off);
        if (st == dnnl_success) st = dnnl_memory_set_data_handle(q->diff_src, j->dx + q->x_off);
        dnnl_exec_arg_t a[4] = {{DNNL_ARG_DIFF_DST, q->diff_dst}, {DNNL_ARG_WEIGHTS, q->wei}, {DNNL_ARG_DIFF_SRC, q->diff_src},
                                {DNNL_ARG_SCRATCHPAD, q->scratch_data}};
        if (st == dnnl_success) st = dnnl_primitive_execute(k->data, q->stream, q->scratch_data ? 4 : 3, a);
        if (st == dnnl_success) st = dnnl_stream_wait(q->stream);
    }
    if (st == dnnl_success && j->want_w) {
        st = dnnl_memory_set_data_handle(q->src, (void *)(j->x + q->x_off));
        if (st == dnnl_success) st = dnnl_memory_set_data_handle(q->diff_wei, g->dw_raw + dw_off);
        if (st == dnnl_success) st = dnnl_memory_set_data_handle(q->diff_bias, q->db);
        dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, q->src}, {DNNL_ARG_DIFF_DST, q->diff_dst},
                                {DNNL_ARG_DIFF_WEIGHTS, q->diff_wei}, {DNNL_ARG_DIFF_BIAS, q->diff_bias},
                                {DNNL_ARG_SCRATCHPAD, q->scratch_weights}};
        if (st == dnnl_success) st = dnnl_primitive_execute(k->weights, q->stream, q->scratch_weights ? 5 : 4, a);
    }
    if (st == dnnl_success) st = dnnl_stream_wait(q->stream);
    return st;
}

static void run_groups(void *ctx, int64_t i0, int64_t i1)
{
    grad_job *j = ctx;
    for (int64_t i = i0; i < i1; i++)
        if (run_group(j, (int)i) != dnnl_success) atomic_store(&j->failed, 1);
}

kc_status kc__conv_backend_gradients(const kc__conv_shape *s, const float *x, const float *keras_w, const float *dy,
                                     float *dx, float *dw, float *db, bool *done, kc_error *err)
{
    *done = false;
    kc__conv_shape key = *s;
    key.bias = true;
    pthread_mutex_lock(&lock);
    grad *g = NULL;
    for (int i = 0; i < SLOTS && !g; i++)
        if (slots[i] && memcmp(&slots[i]->shape, &key, sizeof(key)) == 0) g = slots[i];
    if (!g) {
        if (!(g = grad_new(s))) {
            pthread_mutex_unlock(&lock);
            return KC_OK; /* declined: the own kernels */
        }
        int v = 0;
        for (int i = 1; i < SLOTS; i++)
            if (!slots[i] || (slots[v] && slots[i]->used < slots[v]->used)) v = i;
        grad_free(slots[v]);
        slots[v] = g;
    }
    g->used = ++tick;
    kc_status rc = buffers(g) ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory (convolution gradients)");
    /* the kernel in each kind's backward-data layout */
    size_t w_off = 0;
    for (int i = 0; rc == KC_OK && dx && i < g->n_kinds; i++) {
        group *q = NULL;
        for (int t = 0; t < g->n_groups && !q; t++)
            if (g->groups[t].kind == i) q = &g->groups[t];
        dnnl_status_t st = dnnl_memory_set_data_handle(q->wei_user, (void *)keras_w);
        if (st == dnnl_success) st = dnnl_memory_set_data_handle(q->wei, g->w + w_off);
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, q->wei_user}, {DNNL_ARG_TO, q->wei}};
        if (st == dnnl_success) st = dnnl_primitive_execute(g->kinds[i].w_to_data, q->stream, 2, r);
        if (st == dnnl_success) st = dnnl_stream_wait(q->stream);
        if (st != dnnl_success) rc = kc__errf(err, KC_EINTERNAL, "oneDNN kernel reorder failed (status %d)", (int)st);
        w_off += g->kinds[i].w_bytes;
    }
    if (rc == KC_OK) {
        grad_job j = {g, x, dy, dx, dw || db, 0};
        atomic_init(&j.failed, 0);
        kc__parallel_for(g->n_groups, 1, run_groups, &j);
        if (atomic_load(&j.failed)) rc = kc__errf(err, KC_EINTERNAL, "oneDNN convolution gradient failed");
    }
    /* each group's kernel gradient in Keras' layout (reorders use oneDNN's
     * shared scratchpad: one at a time) */
    for (int i = 0; rc == KC_OK && (dw || db) && i < g->n_groups; i++) {
        group *q = &g->groups[i];
        dnnl_status_t st = dnnl_memory_set_data_handle(q->diff_wei_user, q->dw);
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, q->diff_wei}, {DNNL_ARG_TO, q->diff_wei_user}};
        if (st == dnnl_success) st = dnnl_primitive_execute(g->kinds[q->kind].dw_to_user, q->stream, 2, r);
        if (st == dnnl_success) st = dnnl_stream_wait(q->stream);
        if (st != dnnl_success) rc = kc__errf(err, KC_EINTERNAL, "oneDNN kernel gradient reorder failed (status %d)", (int)st);
    }
    if (rc == KC_OK && (dw || db)) { /* the groups' sums, in group order */
        int64_t nw = s->cout * (s->cin / s->groups);
        for (int i = 0; i < s->nsp; i++) nw *= s->k[i];
        if (dw) memcpy(dw, g->groups[0].dw, sizeof(float) * (size_t)nw);
        if (db) memcpy(db, g->groups[0].db, sizeof(float) * (size_t)s->cout);
        for (int i = 1; i < g->n_groups; i++) {
            for (int64_t e = 0; dw && e < nw; e++) dw[e] += g->groups[i].dw[e];
            for (int64_t e = 0; db && e < s->cout; e++) db[e] += g->groups[i].db[e];
        }
    }
    pthread_mutex_unlock(&lock);
    *done = rc == KC_OK;
    return rc;
}

#else

kc_status kc__conv_backend_gradients(const kc__conv_shape *s, const float *x, const float *keras_w, const float *dy,
                                     float *dx, float *dw, float *db, bool *done, kc_error *err)
{
    (void)s, (void)x, (void)keras_w, (void)dy, (void)dx, (void)dw, (void)db, (void)err;
    *done = false;
    return KC_OK;
}

#endif
