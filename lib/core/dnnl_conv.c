/* The convolution door through oneDNN (conv_backend.h): the only file that
 * includes dnnl.h.
 *
 * Threads: one pool decides. oneDNN's CPU runtime in Debian is OpenMP,
 * whose idle threads spin after each parallel region; next to ckeras'
 * worker pool they took half the time (measured at 2 threads). So oneDNN
 * runs on one thread (every thread that calls it sets OpenMP's count to 1
 * for itself), and a convolution is cut into slices that ckeras' pool runs
 * in parallel, each slice a oneDNN primitive on a contiguous part of the
 * data: groups of images, or for few images, bands of output rows (the
 * input rows they read, with the padding that falls in them). The slices
 * depend on the geometry only, never on the number of threads, and the
 * op-by-op path and the inference plans run the same slices, so results
 * are the same bits for any thread count and on both paths.
 *
 * A kc__conv_backend holds the distinct slice geometries (at most three:
 * first, middle and last band), one forward-inference primitive each with
 * the kernel layout oneDNN picks for it, and per slice the memory objects
 * and stream it runs with (buffers set per run: a run allocates nothing).
 * Without oneDNN this file compiles to the no-backend versions at the end
 * (every geometry declined: ckeras' own kernels run). */
#include "conv_backend.h"

#ifdef KC_HAVE_ONEDNN

#include "dnnl_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

void omp_set_num_threads(int n); /* libgomp, which oneDNN links */

#define MAX_SLICES 8
#define MAX_KINDS 4
/* How many slices: one below SLICE_MIN_MACS (a slice costs a primitive
 * call), two below SLICE_FOUR_MACS, else four. Most convolutions of a
 * MobileNet at batch 1 are 0.1-4 M MACs: as one slice they left the
 * second thread idle (2 threads predicted no faster than 1); cut in two,
 * 2 threads take 1.4-1.7 ms instead of 2.2-2.7 (measured in blocks
 * alternating the thread count in one process), 1 thread no slower. */
#define SLICE_MIN_MACS 100000.0
#define SLICE_FOUR_MACS 4000000.0

typedef struct kind {            /* one slice geometry */
    dnnl_primitive_t conv, reorder;
    size_t w_offset, w_bytes;    /* its kernel within the reordered weights */
} kind;

typedef struct slice {
    int kind;
    int64_t x_off, y_off, y_len; /* floats into x and y; floats it writes */
    dnnl_memory_t src, wei, wei_user, bias, dst, scratch;
    dnnl_stream_t stream;
    void *scratch_buf;           /* this slice's own scratchpad */
    size_t scratch_cap;
} slice;

struct kc__conv_backend {
    kind kinds[MAX_KINDS];
    int n_kinds;
    slice slices[MAX_SLICES];
    int n_slices;
    size_t weights_bytes;
    bool bias;
    bool relu;                   /* the primitives apply the kc__conv_relu */
};

typedef struct run_job {
    kc__conv_backend *b;
    const float *x, *bias;
    const char *w;
    float *y;
    kc__slice_fn after;
    void *after_ctx;
    atomic_int failed;
} run_job;

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static _Thread_local bool omp_single; /* this thread told OpenMP: one thread */

void kc__dnnl_one_thread(void)
{
    if (!omp_single) {
        omp_set_num_threads(1);
        omp_single = true;
    }
}

static dnnl_primitive_attr_t attr;

static void make_engine(void)
{
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success ||
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success)
        engine = NULL; /* no safe way to run slices at once: no backend */
}

dnnl_primitive_attr_t kc__dnnl_attr(void)
{
    pthread_once(&engine_once, make_engine);
    return attr;
}

size_t kc__dnnl_scratch_bytes(dnnl_primitive_t p)
{
    const_dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_get_primitive_desc(p, &pd) != dnnl_success) return 0;
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}

dnnl_engine_t kc__dnnl_engine(void)
{
    pthread_once(&engine_once, make_engine);
    return engine;
}

bool kc__conv_backend_available(void) { return true; }

const char *kc__conv_backend_name(void)
{
    static char name[64];
    const dnnl_version_t *v = dnnl_version();
    snprintf(name, sizeof(name), "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
    return name;
}

static const dnnl_format_tag_t data_tags[3] = {dnnl_nwc, dnnl_nhwc, dnnl_ndhwc};
static const dnnl_format_tag_t kernel_tags[3] = {dnnl_wio, dnnl_hwio, dnnl_dhwio};
static const dnnl_format_tag_t grouped_tags[3] = {dnnl_wigo, dnnl_hwigo, dnnl_dhwigo};

void kc__conv_backend_free(kc__conv_backend *b)
{
    if (!b) return;
    for (int i = 0; i < b->n_kinds; i++) {
        if (b->kinds[i].conv) dnnl_primitive_destroy(b->kinds[i].conv);
        if (b->kinds[i].reorder) dnnl_primitive_destroy(b->kinds[i].reorder);
    }
    for (int i = 0; i < b->n_slices; i++) {
        slice *s = &b->slices[i];
        dnnl_memory_t mems[] = {s->src, s->wei, s->wei_user, s->bias, s->dst, s->scratch};
        for (size_t k = 0; k < sizeof(mems) / sizeof(mems[0]); k++)
            if (mems[k]) dnnl_memory_destroy(mems[k]);
        if (s->stream) dnnl_stream_destroy(s->stream);
        if (s->scratch_buf) kc__buffer_free(s->scratch_buf, s->scratch_cap);
    }
    kc__free(b);
}

bool kc__dnnl_describe(const kc__conv_shape *s, dnnl_memory_desc_t *src, dnnl_memory_desc_t *wei_user,
                       dnnl_memory_desc_t *wei_any, dnnl_memory_desc_t *bias, dnnl_memory_desc_t *dst)
{
    int nsp = s->nsp;
    dnnl_dims_t sd, dd, wd, bd = {s->cout};
    sd[0] = dd[0] = s->n;
    sd[1] = s->cin;
    dd[1] = s->cout;
    for (int i = 0; i < nsp; i++) {
        sd[2 + i] = s->in[i];
        dd[2 + i] = s->out[i];
    }
    int wn;
    if (s->groups == 1) {
        wd[0] = s->cout;
        wd[1] = s->cin;
        for (int i = 0; i < nsp; i++) wd[2 + i] = s->k[i];
        wn = nsp + 2;
    } else {
        wd[0] = s->groups;
        wd[1] = s->cout / s->groups;
        wd[2] = s->cin / s->groups;
        for (int i = 0; i < nsp; i++) wd[3 + i] = s->k[i];
        wn = nsp + 3;
    }
    dnnl_format_tag_t wtag = s->groups == 1 ? kernel_tags[nsp - 1] : grouped_tags[nsp - 1];
    return dnnl_memory_desc_init_by_tag(src, nsp + 2, sd, dnnl_f32, data_tags[nsp - 1]) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(dst, nsp + 2, dd, dnnl_f32, data_tags[nsp - 1]) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(wei_user, wn, wd, dnnl_f32, wtag) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(wei_any, wn, wd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(bias, 1, bd, dnnl_f32, dnnl_x) == dnnl_success;
}

void kc__dnnl_window(const kc__conv_shape *s, dnnl_dims_t strides, dnnl_dims_t dilates, dnnl_dims_t pad_l,
                     dnnl_dims_t pad_r)
{
    for (int i = 0; i < s->nsp; i++) {
        int64_t span = (s->k[i] - 1) * s->dilation[i] + 1;
        int64_t right = (s->out[i] - 1) * s->stride[i] + span - s->in[i] - s->pad[i];
        strides[i] = s->stride[i];
        dilates[i] = s->dilation[i] - 1;
        pad_l[i] = s->pad[i];
        pad_r[i] = right > 0 ? right : 0; /* the last window may stop short of the end */
    }
}

/* The attributes of a primitive: the shared ones (a user scratchpad),
 * plus the activation as an eltwise post-op (bounded_relu for a cap,
 * relu with its slope otherwise), or NULL. Owned by the caller. */
static dnnl_primitive_attr_t attr_with_relu(const kc__conv_relu *relu)
{
    dnnl_primitive_attr_t a = NULL;
    dnnl_post_ops_t po = NULL;
    bool capped = relu->max_value < INFINITY;
    bool ok = dnnl_primitive_attr_clone(&a, kc__dnnl_attr()) == dnnl_success &&
              dnnl_post_ops_create(&po) == dnnl_success &&
              dnnl_post_ops_append_eltwise(po, 1.0f, capped ? dnnl_eltwise_bounded_relu : dnnl_eltwise_relu,
                                           capped ? relu->max_value : relu->negative_slope, 0.0f) == dnnl_success &&
              dnnl_primitive_attr_set_post_ops(a, po) == dnnl_success;
    if (po) dnnl_post_ops_destroy(po);
    if (!ok && a) {
        dnnl_primitive_attr_destroy(a);
        a = NULL;
    }
    return a;
}

/* The primitives of a slice geometry, with the activation when `relu`. */
static bool make_kind(kind *k, const kc__conv_shape *s, const kc__conv_relu *relu)
{
    dnnl_memory_desc_t src, wei_user, wei_any, bias, dst;
    if (!kc__dnnl_describe(s, &src, &wei_user, &wei_any, &bias, &dst)) return false;
    dnnl_dims_t strides, dilates, pad_l, pad_r;
    kc__dnnl_window(s, strides, dilates, pad_l, pad_r);
    dnnl_convolution_desc_t cd;
    if (dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei_any,
                                                   s->bias ? &bias : NULL, &dst, strides, dilates, pad_l, pad_r) !=
        dnnl_success)
        return false;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_attr_t a = relu ? attr_with_relu(relu) : NULL;
    bool ok = (a || !relu) && dnnl_primitive_desc_create(&pd, &cd, a ? a : kc__dnnl_attr(), engine, NULL) == dnnl_success;
    if (a) dnnl_primitive_attr_destroy(a);
    const dnnl_memory_desc_t *wq = ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) : NULL;
    const dnnl_memory_desc_t *dq = ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0) : NULL;
    const dnnl_memory_desc_t *sq = ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0) : NULL;
    /* data must stay channels last: ckeras' layout */
    ok = ok && wq && dq && sq && dnnl_memory_desc_equal(dq, &dst) && dnnl_memory_desc_equal(sq, &src);
    ok = ok && dnnl_primitive_create(&k->conv, pd) == dnnl_success;
    ok = ok && dnnl_reorder_primitive_desc_create(&rpd, &wei_user, engine, wq, engine, NULL) == dnnl_success &&
         dnnl_primitive_create(&k->reorder, rpd) == dnnl_success;
    if (ok) k->w_bytes = (dnnl_memory_desc_get_size(wq) + 63) & ~(size_t)63;
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* The kernel layout a primitive runs with (owned by the primitive). */
static const dnnl_memory_desc_t *weights_md(dnnl_primitive_t conv)
{
    const_dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_get_primitive_desc(conv, &pd) != dnnl_success) return NULL;
    return dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
}

static bool make_slice_memory(slice *sl, const kc__conv_shape *s, const dnnl_memory_desc_t *wq, dnnl_primitive_t conv)
{
    dnnl_memory_desc_t src, wei_user, wei_any, bias, dst;
    const_dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_get_primitive_desc(conv, &pd) != dnnl_success) return false;
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t sp_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (sp_bytes && !(sl->scratch_buf = kc__buffer_alloc(sp_bytes, &sl->scratch_cap))) return false;
    return (!sp_bytes || dnnl_memory_create(&sl->scratch, sp, engine, sl->scratch_buf) == dnnl_success) &&
           kc__dnnl_describe(s, &src, &wei_user, &wei_any, &bias, &dst) &&
           dnnl_memory_create(&sl->src, &src, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&sl->dst, &dst, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&sl->wei, wq, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&sl->wei_user, &wei_user, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_memory_create(&sl->bias, &bias, engine, DNNL_MEMORY_NONE) == dnnl_success &&
           dnnl_stream_create(&sl->stream, engine, dnnl_stream_default_flags) == dnnl_success;
}

/* Cut the geometry: images in groups, or bands of output rows along the
 * first spatial axis (sub[i], with where each starts in x and y). */
static int cut(const kc__conv_shape *s, kc__conv_shape *sub, int64_t *x_off, int64_t *y_off, int64_t *y_len)
{
    int64_t in_px = s->cin, out_px = s->cout;
    for (int i = 0; i < s->nsp; i++) {
        in_px *= s->in[i];
        out_px *= s->out[i];
    }
    double macs = (double)s->n * (double)out_px * (double)(s->cin / s->groups);
    for (int i = 0; i < s->nsp; i++) macs *= (double)s->k[i];
    int parts = macs < SLICE_MIN_MACS ? 1 : macs < SLICE_FOUR_MACS ? 2 : s->n >= 4 ? 4 : s->n >= 2 ? (int)s->n : 4;
    if (parts == 1 || s->n >= 2) { /* groups of images */
        int64_t per = (s->n + parts - 1) / parts;
        int n = 0;
        for (int64_t i0 = 0; i0 < s->n; i0 += per, n++) {
            sub[n] = *s;
            sub[n].n = s->n - i0 < per ? s->n - i0 : per;
            x_off[n] = i0 * in_px;
            y_off[n] = i0 * out_px;
            y_len[n] = sub[n].n * out_px;
        }
        return n;
    }
    /* bands of output rows of each image */
    int64_t rows = s->out[0], band = (rows + parts - 1) / parts;
    int64_t in_row = in_px / s->in[0], out_row = out_px / s->out[0];
    int64_t span = (s->k[0] - 1) * s->dilation[0] + 1;
    int n = 0;
    for (int64_t img = 0; img < s->n; img++) {
        for (int64_t r0 = 0; r0 < rows; r0 += band) {
            int64_t r1 = r0 + band < rows ? r0 + band : rows;
            int64_t first = r0 * s->stride[0] - s->pad[0], last = (r1 - 1) * s->stride[0] - s->pad[0] + span;
            int64_t a = first > 0 ? first : 0, e = last < s->in[0] ? last : s->in[0];
            sub[n] = *s;
            sub[n].n = 1;
            sub[n].out[0] = r1 - r0;
            sub[n].in[0] = e - a;
            sub[n].pad[0] = a - first;
            x_off[n] = img * in_px + a * in_row;
            y_off[n] = img * out_px + r0 * out_row;
            y_len[n] = (r1 - r0) * out_row;
            n++;
        }
    }
    return n;
}

/* A ReLU oneDNN computes as ckeras does: a cap without a slope, or a
 * slope without a cap (both at once would take two post-ops). */
static bool relu_exact(const kc__conv_relu *r)
{
    return r && (r->max_value < INFINITY ? r->negative_slope == 0.0f && r->max_value >= 0.0f
                                         : isfinite(r->negative_slope));
}

static kc__conv_backend *backend_new(const kc__conv_shape *s, const kc__conv_relu *relu);

kc__conv_backend *kc__conv_backend_new(const kc__conv_shape *s, const kc__conv_relu *relu)
{
    kc__conv_backend *b = relu_exact(relu) ? backend_new(s, relu) : NULL;
    return b ? b : backend_new(s, NULL); /* declined with the activation: apply it after */
}

bool kc__conv_backend_applies_relu(const kc__conv_backend *b) { return b && b->relu; }

static kc__conv_backend *backend_new(const kc__conv_shape *s, const kc__conv_relu *relu)
{
    kc__dnnl_one_thread();
    if (!kc__dnnl_engine() || s->nsp < 1 || s->nsp > 3 || s->groups < 1 || s->cin % s->groups || s->cout % s->groups || s->n < 1)
        return NULL;
    kc__conv_shape sub[MAX_SLICES];
    int64_t x_off[MAX_SLICES], y_off[MAX_SLICES], y_len[MAX_SLICES];
    int n = cut(s, sub, x_off, y_off, y_len);
    kc__conv_backend *b = n > 0 ? kc__calloc(1, sizeof(*b)) : NULL;
    if (!b) return NULL;
    b->bias = s->bias;
    b->relu = relu != NULL;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        slice *sl = &b->slices[i];
        sl->x_off = x_off[i];
        sl->y_off = y_off[i];
        sl->y_len = y_len[i];
        sl->kind = -1;
        for (int k = 0; k < i && sl->kind < 0; k++)
            if (memcmp(&sub[k], &sub[i], sizeof(sub[i])) == 0) sl->kind = b->slices[k].kind;
        if (sl->kind < 0) {
            if (b->n_kinds == MAX_KINDS) {
                ok = false;
                break;
            }
            kind *k = &b->kinds[b->n_kinds];
            if (!(ok = make_kind(k, &sub[i], relu))) break;
            k->w_offset = b->weights_bytes;
            b->weights_bytes += k->w_bytes;
            sl->kind = b->n_kinds++;
        }
        const dnnl_memory_desc_t *wq = weights_md(b->kinds[sl->kind].conv);
        ok = wq && make_slice_memory(sl, &sub[i], wq, b->kinds[sl->kind].conv);
        b->n_slices = i + 1;
    }
    if (!ok) {
        kc__conv_backend_free(b);
        return NULL;
    }
    return b;
}

size_t kc__conv_backend_weights_bytes(const kc__conv_backend *b) { return b->weights_bytes; }

static kc_status failed(kc_error *err, const char *what, dnnl_status_t st)
{
    return kc__errf(err, KC_EINTERNAL, "oneDNN %s failed (status %d)", what, (int)st);
}

kc_status kc__conv_backend_weights(kc__conv_backend *b, const float *keras_w, void *out, kc_error *err)
{
    kc__dnnl_one_thread();
    for (int i = 0; i < b->n_kinds; i++) { /* through the first slice of each geometry */
        slice *sl = NULL;
        for (int j = 0; j < b->n_slices && !sl; j++)
            if (b->slices[j].kind == i) sl = &b->slices[j];
        dnnl_status_t st = dnnl_memory_set_data_handle(sl->wei_user, (void *)keras_w);
        if (st == dnnl_success) st = dnnl_memory_set_data_handle(sl->wei, (char *)out + b->kinds[i].w_offset);
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, sl->wei_user}, {DNNL_ARG_TO, sl->wei}};
        if (st == dnnl_success) st = dnnl_primitive_execute(b->kinds[i].reorder, sl->stream, 2, args);
        if (st == dnnl_success) st = dnnl_stream_wait(sl->stream);
        if (st != dnnl_success) return failed(err, "kernel reorder", st);
    }
    return KC_OK;
}

static dnnl_status_t run_slice(kc__conv_backend *b, int i, const float *x, const char *w, const float *bias, float *y)
{
    kc__dnnl_one_thread();
    slice *sl = &b->slices[i];
    dnnl_status_t st = dnnl_memory_set_data_handle(sl->src, (void *)(x + sl->x_off));
    if (st == dnnl_success) st = dnnl_memory_set_data_handle(sl->wei, (void *)(w + b->kinds[sl->kind].w_offset));
    if (st == dnnl_success) st = dnnl_memory_set_data_handle(sl->dst, y + sl->y_off);
    if (st == dnnl_success && b->bias) st = dnnl_memory_set_data_handle(sl->bias, (void *)bias);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, sl->src}, {DNNL_ARG_WEIGHTS, sl->wei}, {DNNL_ARG_DST, sl->dst}};
    int n = 3;
    if (sl->scratch) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, sl->scratch};
    if (b->bias) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, sl->bias};
    if (st == dnnl_success) st = dnnl_primitive_execute(b->kinds[sl->kind].conv, sl->stream, n, args);
    if (st == dnnl_success) st = dnnl_stream_wait(sl->stream);
    return st;
}

static void run_slices(void *ctx, int64_t i0, int64_t i1)
{
    run_job *j = ctx;
    for (int64_t i = i0; i < i1; i++) {
        if (run_slice(j->b, (int)i, j->x, j->w, j->bias, j->y) != dnnl_success) atomic_store(&j->failed, 1);
        else if (j->after) j->after(j->after_ctx, j->y + j->b->slices[i].y_off, j->b->slices[i].y_len);
    }
}

kc_status kc__conv_backend_run(kc__conv_backend *b, const float *x, const void *w, const float *bias, float *y,
                               kc__slice_fn after, void *after_ctx, kc_error *err)
{
    run_job j = {b, x, bias, w, y, after, after_ctx, 0};
    atomic_init(&j.failed, 0);
    kc__parallel_for(b->n_slices, 1, run_slices, &j);
    return atomic_load(&j.failed) ? kc__errf(err, KC_EINTERNAL, "oneDNN convolution failed") : KC_OK;
}

/* ---- one-off convolutions (the op-by-op path): a few backends kept ---- */

#define ONEOFF_SLOTS 16

typedef struct oneoff {
    kc__conv_shape shape;
    kc__conv_backend *b;
    void *w;            /* reordered kernel */
    size_t w_cap;
    unsigned long used;
} oneoff;

static oneoff oneoffs[ONEOFF_SLOTS];
static unsigned long oneoff_tick;
static pthread_mutex_t oneoff_lock = PTHREAD_MUTEX_INITIALIZER;

kc_status kc__conv_backend_run_once(const kc__conv_shape *s, const float *x, const float *keras_w, const float *bias,
                                    float *y, bool *done, kc_error *err)
{
    *done = false;
    pthread_mutex_lock(&oneoff_lock);
    oneoff *e = NULL;
    for (int i = 0; i < ONEOFF_SLOTS && !e; i++)
        if (oneoffs[i].b && memcmp(&oneoffs[i].shape, s, sizeof(*s)) == 0) e = &oneoffs[i];
    if (!e) {
        kc__conv_backend *b = kc__conv_backend_new(s, NULL);
        if (!b) {
            pthread_mutex_unlock(&oneoff_lock);
            return KC_OK; /* declined: the own kernels */
        }
        e = &oneoffs[0];
        for (int i = 1; i < ONEOFF_SLOTS; i++)
            if (oneoffs[i].used < e->used) e = &oneoffs[i];
        kc__conv_backend_free(e->b);
        e->b = b;
        e->shape = *s;
    }
    e->used = ++oneoff_tick;
    kc_status rc = KC_OK;
    size_t need = kc__conv_backend_weights_bytes(e->b);
    if (need > e->w_cap) {
        if (e->w) kc__buffer_free(e->w, e->w_cap);
        e->w_cap = 0;
        if (!(e->w = kc__buffer_alloc(need, &e->w_cap))) rc = kc__errf(err, KC_ENOMEM, "out of memory (convolution kernel)");
    }
    if (rc == KC_OK) rc = kc__conv_backend_weights(e->b, keras_w, e->w, err);
    if (rc == KC_OK) rc = kc__conv_backend_run(e->b, x, e->w, bias, y, NULL, NULL, err);
    pthread_mutex_unlock(&oneoff_lock);
    *done = rc == KC_OK;
    return rc;
}

#else /* no oneDNN: the own kernels do everything */

bool kc__conv_backend_available(void) { return false; }
const char *kc__conv_backend_name(void) { return "none"; }
kc__conv_backend *kc__conv_backend_new(const kc__conv_shape *s, const kc__conv_relu *relu)
{
    (void)s, (void)relu;
    return NULL;
}
bool kc__conv_backend_applies_relu(const kc__conv_backend *b)
{
    (void)b;
    return false;
}
void kc__conv_backend_free(kc__conv_backend *b) { (void)b; }
size_t kc__conv_backend_weights_bytes(const kc__conv_backend *b)
{
    (void)b;
    return 0;
}
kc_status kc__conv_backend_weights(kc__conv_backend *b, const float *keras_w, void *out, kc_error *err)
{
    (void)b, (void)keras_w, (void)out;
    return kc__errf(err, KC_EINTERNAL, "no convolution backend");
}
kc_status kc__conv_backend_run(kc__conv_backend *b, const float *x, const void *w, const float *bias, float *y,
                               kc__slice_fn after, void *after_ctx, kc_error *err)
{
    (void)b, (void)x, (void)w, (void)bias, (void)y, (void)after, (void)after_ctx;
    return kc__errf(err, KC_EINTERNAL, "no convolution backend");
}
kc_status kc__conv_backend_run_once(const kc__conv_shape *s, const float *x, const float *keras_w, const float *bias,
                                    float *y, bool *done, kc_error *err)
{
    (void)s, (void)x, (void)keras_w, (void)bias, (void)y, (void)err;
    *done = false;
    return KC_OK;
}

#endif
