/* Running an inference plan: each step's kernel on raw buffers. The
 * kernels are the op-by-op path's own (conv_forward.c, the unary kernels,
 * softmax, pooling, sgemm) or loops that do the same float operations in
 * the same order (BatchNormalization's four, a merge's left-to-right
 * fold, global average pooling's double sums), so a step gives the bits
 * the layer's call gives, except where fold.c changed the weights. Work
 * is spread over the worker pool inside the steps; nothing here allocates
 * except CALL steps, which run the layer's own call. */
#include "plan_int.h"
#include "../autodiff/vmath.h"
#include "../core/blas_int.h"

#include <math.h>
#include <string.h>

typedef struct run_ctx {
    const kc__plan *p;
    const void *const *in;
    void *const *out;
} run_ctx;

static void *ptr(const run_ctx *r, int v)
{
    const kc__pvalue *x = &r->p->values[kc__plan_root(r->p, v)];
    switch (x->loc) {
    case KC__LOC_INPUT: return (void *)r->in[x->io];
    case KC__LOC_OUTPUT: return r->out[x->io];
    default: return r->p->arena + x->offset;
    }
}

/* ---- elementwise kernels (y may be x: the in-place forms) ----------------------------------- */

/* BatchNormalization over a row of channels: ((x - m) * inv) * g + b, each
 * operation rounded as the layer's four ops round it. */
KC__VECTORIZE static void affine_row(const float *restrict x, float *restrict y, int64_t n, const float *m,
                                     const float *inv, const float *g, const float *b)
{
    for (int64_t i = 0; i < n; i++) {
        float t = (x[i] - m[i]) * inv[i];
        t = g ? t * g[i] : t;
        y[i] = b ? t + b[i] : t;
    }
}

KC__VECTORIZE static void affine_row_inplace(float *y, int64_t n, const float *m, const float *inv, const float *g,
                                             const float *b)
{
    for (int64_t i = 0; i < n; i++) {
        float t = (y[i] - m[i]) * inv[i];
        t = g ? t * g[i] : t;
        y[i] = b ? t + b[i] : t;
    }
}

/* One channel over `inner` values (channels not last). */
KC__VECTORIZE static void affine_span(const float *x, float *y, int64_t n, float m, float inv, const float *g,
                                      const float *b)
{
    float gv = g ? *g : 1.0f, bv = b ? *b : 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float t = (x[i] - m) * inv;
        t = g ? t * gv : t;
        y[i] = b ? t + bv : t;
    }
}

/* o = a op b, and a op= b; ties and NaNs of maximum / minimum as the ops. */
#define MERGE_LOOP(expr)                                                                           \
    switch (op) {                                                                                  \
    case KC__MERGE_ADD:                                                                            \
    case KC__MERGE_AVG: for (int64_t i = 0; i < n; i++) { float x = A, y = b[i]; expr = x + y; } break; \
    case KC__MERGE_SUB: for (int64_t i = 0; i < n; i++) { float x = A, y = b[i]; expr = x - y; } break; \
    case KC__MERGE_MUL: for (int64_t i = 0; i < n; i++) { float x = A, y = b[i]; expr = x * y; } break; \
    case KC__MERGE_MAX:                                                                            \
        for (int64_t i = 0; i < n; i++) { float x = A, y = b[i]; expr = (x >= y || x != x) ? x : y; } break; \
    case KC__MERGE_MIN:                                                                            \
        for (int64_t i = 0; i < n; i++) { float x = A, y = b[i]; expr = (x <= y || x != x) ? x : y; } break; \
    }

KC__VECTORIZE static void merge2(kc__merge_op op, const float *restrict a, const float *restrict b,
                                 float *restrict o, int64_t n)
{
#define A a[i]
    MERGE_LOOP(o[i])
#undef A
}

KC__VECTORIZE static void merge_into(kc__merge_op op, float *a, const float *restrict b, int64_t n)
{
#define A a[i]
    MERGE_LOOP(a[i])
#undef A
}

KC__VECTORIZE static void div_scalar(float *a, float d, int64_t n)
{
    for (int64_t i = 0; i < n; i++) a[i] = a[i] / d;
}

/* y[r, :] += b over rows (Dense's bias, as the op adds it). */
KC__VECTORIZE static void add_row(float *restrict y, const float *restrict b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = y[i] + b[i];
}

/* ---- steps spread over the pool -------------------------------------------------------------- */

typedef struct step_job {
    const kc__pstep *s;
    const float *const *x; /* inputs */
    float *y;
    int64_t row;           /* elements per unit of the range */
    int n_in;
} step_job;

static void act_range(void *ctx, int64_t b, int64_t e)
{
    const step_job *j = ctx;
    if (j->x[0] == j->y)
        kc__unary_inplace(j->s->act.op, j->y + b, e - b, j->s->act.f);
    else
        kc__unary_forward(j->s->act.op, j->x[0] + b, j->y + b, e - b, j->s->act.f);
}

static void merge_range(void *ctx, int64_t b, int64_t e)
{
    const step_job *j = ctx;
    const kc__pstep *s = j->s;
    float *o = j->y + b;
    int64_t n = e - b;
    if (j->n_in == 1) {
        if (j->x[0] != j->y) memcpy(o, j->x[0] + b, sizeof(float) * (size_t)n);
    } else if (j->x[0] == j->y) {
        merge_into(s->d.merge, o, j->x[1] + b, n);
    } else {
        merge2(s->d.merge, j->x[0] + b, j->x[1] + b, o, n);
    }
    for (int k = 2; k < j->n_in; k++) merge_into(s->d.merge, o, j->x[k] + b, n);
    if (s->d.merge == KC__MERGE_AVG) div_scalar(o, (float)j->n_in, n);
    kc__act_apply(&s->act, o, n);
}

static void affine_rows(void *ctx, int64_t b, int64_t e)
{
    const step_job *j = ctx;
    const kc__pstep *s = j->s;
    for (int64_t r = b; r < e; r++) { /* r: a row of [outer, channels, inner] */
        const float *x = j->x[0] + r * j->row;
        float *y = j->y + r * j->row;
        if (s->inner == 1) {
            if (x == y)
                affine_row_inplace(y, s->channels, s->mean, s->inv, s->gamma, s->beta);
            else
                affine_row(x, y, s->channels, s->mean, s->inv, s->gamma, s->beta);
        } else {
            for (int64_t c = 0; c < s->channels; c++)
                affine_span(x + c * s->inner, y + c * s->inner, s->inner, s->mean[c], s->inv[c],
                            s->gamma ? s->gamma + c : NULL, s->beta ? s->beta + c : NULL);
        }
        kc__act_apply(&s->act, y, j->row);
    }
}

static void dense_rows(void *ctx, int64_t b, int64_t e)
{
    const step_job *j = ctx;
    for (int64_t r = b; r < e; r++) {
        float *y = j->y + r * j->row;
        if (j->s->b) add_row(y, j->s->b, j->row);
        kc__act_apply(&j->s->act, y, j->row);
    }
}

static int64_t rows_grain(int64_t row) { return 1 + KC__GRAIN / (row > 0 ? row : 1); }

static void slice_act(void *act, float *y, int64_t n) { kc__act_apply(act, y, n); }

/* ---- global pooling and the rest ---------------------------------------------------------------- */

/* As kc_reduce_mean / kc_reduce_max over the positions: double sums in
 * position order, rounded to float, then divided by the count in double;
 * a NaN wins the max. */
static void gpool_rows(void *ctx, int64_t b, int64_t e, int slot)
{
    const step_job *j = ctx;
    const kc__pstep *s = j->s;
    int64_t c = s->channels, n = s->inner;
    double *acc = (double *)((char *)j->x[1] + (size_t)slot * (size_t)j->row);
    for (int64_t q = b; q < e; q++) {
        const float *x = j->x[0] + q * n * c;
        float *y = j->y + q * c;
        if (s->d.pool == KC__POOL_MAX) {
            for (int64_t k = 0; k < c; k++) y[k] = -INFINITY;
            for (int64_t i = 0; i < n; i++)
                for (int64_t k = 0; k < c; k++) y[k] = x[i * c + k] > y[k] || isnan(x[i * c + k]) ? x[i * c + k] : y[k];
        } else {
            for (int64_t k = 0; k < c; k++) acc[k] = 0.0;
            for (int64_t i = 0; i < n; i++)
                for (int64_t k = 0; k < c; k++) acc[k] += x[i * c + k];
            for (int64_t k = 0; k < c; k++) y[k] = n ? (float)((double)(float)acc[k] / (double)n) : NAN;
        }
    }
}

static void pool_rows(void *ctx, int64_t b, int64_t e, int slot)
{
    const step_job *j = ctx;
    kc__conv_plan t = j->s->conv;
    int64_t *toff = (int64_t *)((char *)j->x[1] + (size_t)slot * (size_t)j->row);
    /* rows b..e of the output: a plan over those output rows alone */
    int64_t per = t.out[0] * t.out[1] * t.out[2];
    for (int64_t q = b; q < e; q++) {
        kc__conv_plan one = t;
        one.n = 1;
        one.m = per;
        kc__pool_forward(&one, j->s->d.pool, j->x[0] + q * t.in[0] * t.in[1] * t.in[2] * t.cin, j->y + q * per * t.cout,
                         toff);
    }
}

static void run_concat(const kc__plan *p, const kc__pstep *s, const float *const *x, float *y)
{
    int64_t inner = s->inner, offset = 0, total = s->channels * inner;
    for (int k = 0; k < s->n_in; k++) {
        const kc__pvalue *v = &p->values[s->in[k]];
        int64_t chunk = v->dims[s->d.axis] * inner;
        for (int64_t o = 0; o < s->outer; o++)
            memcpy(y + o * total + offset, x[k] + o * chunk, sizeof(float) * (size_t)chunk);
        offset += chunk;
    }
}

/* Zeros around the spatial axes (channels last), right-aligned in three. */
static void run_pad(const kc__plan *p, const kc__pstep *s, const float *x, float *y)
{
    const kc__pvalue *xv = &p->values[s->in[0]], *yv = &p->values[s->out[0]];
    int nsp = s->d.nsp, off = 3 - nsp;
    int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, before[3] = {0, 0, 0}, c = xv->dims[nsp + 1];
    for (int i = 0; i < nsp; i++) {
        in[i + off] = xv->dims[i + 1];
        out[i + off] = yv->dims[i + 1];
        before[i + off] = s->d.pads[i][0];
    }
    memset(y, 0, sizeof(float) * (size_t)yv->size);
    for (int64_t b = 0; b < xv->dims[0]; b++)
        for (int64_t z = 0; z < in[0]; z++)
            for (int64_t r = 0; r < in[1]; r++) {
                const float *src = x + (((b * in[0] + z) * in[1] + r) * in[2]) * c;
                float *dst = y + (((b * out[0] + z + before[0]) * out[1] + r + before[1]) * out[2] + before[2]) * c;
                memcpy(dst, src, sizeof(float) * (size_t)(in[2] * c));
            }
}

/* The layer's own call on tensors over the plan's buffers. */
static kc_status run_call(const run_ctx *r, const kc__pstep *s, bool *fallback, kc_error *err)
{
    const kc__plan *p = r->p;
    kc_tensor *ins[KC__MAX_MODEL_IO] = {0}, *outs[KC_MAX_LAYER_OUTPUTS] = {0};
    kc_status rc = KC_OK;
    int n = 0;
    for (int i = 0; i < s->n_in && rc == KC_OK; i++) {
        const kc__pvalue *v = &p->values[s->in[i]];
        ins[i] = kc_tensor_wrap(v->dtype, v->ndim, v->dims, ptr(r, s->in[i]), NULL, NULL, err);
        if (!ins[i]) rc = kc__error_code(err, KC_ENOMEM);
    }
    if (rc == KC_OK) rc = kc_layer_call(s->layer, ins, s->n_in, NULL, false, outs, NULL, &n, err);
    for (int i = 0; rc == KC_OK && i < s->n_out; i++) {
        const kc__pvalue *v = &p->values[s->out[i]];
        if (i >= n || kc_tensor_dtype(outs[i]) != v->dtype || kc_tensor_size(outs[i]) != v->size) {
            *fallback = true; /* not what the plan expected (a dtype it could not know) */
            break;
        }
        memcpy(ptr(r, s->out[i]), kc_tensor_cdata(outs[i]), kc_tensor_nbytes(outs[i]));
    }
    for (int i = 0; i < n; i++) kc_tensor_unref(outs[i]);
    for (int i = 0; i < s->n_in; i++) kc_tensor_unref(ins[i]);
    return rc;
}

static kc_status run_step(const run_ctx *r, const kc__pstep *s, bool *fallback, kc_error *err)
{
    const kc__plan *p = r->p;
    const float *x[KC__MAX_MODEL_IO];
    int n_in = s->n_in < KC__MAX_MODEL_IO ? s->n_in : KC__MAX_MODEL_IO;
    for (int i = 0; i < n_in; i++) x[i] = ptr(r, s->in[i]);
    float *y = ptr(r, s->out[0]);
    const kc__pvalue *yv = &p->values[s->out[0]];
    step_job j = {s, x, y, 0, n_in};
    switch (s->kind) {
    case KC__ST_CONV:
        if (!s->backend) {
            kc__conv_forward(&s->conv, x[0], s->w, s->b, y, &s->act, p->scratch);
            break;
        }
        /* the backend's convolution (as the conv op's) with the activation
         * as it writes (ReLUs), or each slice then getting it from the
         * thread that computed it */
        if (kc__conv_backend_run(s->backend, x[0], s->backend_w, s->b, y,
                                 kc__act_none(&s->act) || kc__conv_backend_applies_relu(s->backend) ? NULL : slice_act,
                                 (void *)&s->act, err) != KC_OK)
            return kc__error_code(err, KC_EINTERNAL);
        break;
    case KC__ST_DENSE:
        kc__sgemm(false, false, s->outer, s->channels, s->inner, 1.0f, x[0], s->inner, s->w, s->channels, 0.0f, y,
                  s->channels);
        j.row = s->channels;
        if (s->b || !kc__act_none(&s->act)) kc__parallel_for(s->outer, rows_grain(j.row), dense_rows, &j);
        break;
    case KC__ST_AFFINE:
        j.row = s->channels * s->inner;
        kc__parallel_for(s->outer, rows_grain(j.row), affine_rows, &j);
        break;
    case KC__ST_ACT:
        kc__parallel_for(yv->size, KC__GRAIN, act_range, &j);
        break;
    case KC__ST_MERGE:
        kc__parallel_for(yv->size, KC__GRAIN, merge_range, &j);
        break;
    case KC__ST_SOFTMAX:
        kc__softmax_rows(x[0], y, s->outer, s->channels, s->inner, s->d.softmax == KC__LI_LOG_SOFTMAX_LAST);
        break;
    case KC__ST_CONCAT:
        run_concat(p, s, x, y);
        break;
    case KC__ST_POOL:
    case KC__ST_GPOOL: {
        const float *xs[2] = {x[0], (const float *)p->scratch};
        j.x = xs;
        j.row = (int64_t)p->scratch_per_slot;
        if (s->kind == KC__ST_GPOOL)
            kc__parallel_for_slots(s->outer, 1, gpool_rows, &j);
        else
            kc__parallel_for_slots(s->conv.n, 1, pool_rows, &j);
        break;
    }
    case KC__ST_PAD:
        run_pad(p, s, x[0], y);
        break;
    case KC__ST_COPY:
        memcpy(y, x[0], (size_t)yv->size * kc_dtype_size(yv->dtype));
        break;
    case KC__ST_CALL:
        return run_call(r, s, fallback, err);
    }
    return KC_OK;
}

kc_status kc__plan_run(kc__plan *p, const void *const *inputs, void *const *outputs, bool *fallback, kc_error *err)
{
    *fallback = false;
    kc_status rc = kc__plan_scratch(p, kc__parallel_slots(), err);
    run_ctx r = {p, inputs, outputs};
    for (int i = 0; rc == KC_OK && !*fallback && i < p->n_steps; i++)
        if (!p->steps[i].dead) rc = run_step(&r, &p->steps[i], fallback, err);
    return rc;
}
