/* Scaled dot-product attention over heads, as one differentiable op.
 *
 * Built from generic ops, MultiHeadAttention would transpose the projected
 * query, key and value into head-major copies, form the scores with a
 * batched matmul, scale them, add the mask, take the softmax, apply dropout
 * and multiply again: seven recorded ops and as many full-size temporaries.
 * Here the whole core is one custom op:
 *
 *   for every batch slot o and head h:
 *     P  = softmax(scale * Q_oh K_oh^T + mask_oh)     one GEMM, then rows
 *     C_oh = dropout(P) V_oh                          one GEMM
 *
 * How it works. Q_oh is the [T, dk] block of q [O, T, H, dk] at (o, :, h, :):
 * row t starts at ((o T + t) H + h) dk, so consecutive rows are H dk floats
 * apart. BLAS takes that as the matrix's leading dimension, so each head is
 * read in place from the projection's output (Keras' einsum layout) and the
 * context is written in place into [O, T, H, dv], ready for the output
 * projection: no transposes at all. The scale is the GEMM's alpha, and the
 * mask, the max subtraction, exp and the normalization run row by row on
 * the score block while it is in cache. The probabilities are an output
 * (Keras' attention_scores) and are what backward needs; dropout decisions
 * are kept as bytes. Backward, per (o, h), with G = dL/dC and R = dL/dP
 * from the second output:
 *   dV = dropout(P)^T G                       one GEMM
 *   dP = dropout'(G V^T) + R                  one GEMM
 *   dZ = P * (dP - rowsum(dP * P))            the softmax, row by row
 *   dQ = scale dZ K,  dK = scale dZ^T Q       two GEMMs
 * Each gradient block is written once (beta 0): no zeroing, no
 * accumulation. Four GEMMs backward and two forward are the unavoidable
 * products; everything else is one pass over each score block. */
#include "op_attention.h"

#include "../core/blas_int.h"

#include <math.h>
#include <string.h>

typedef struct att_ctx {
    int64_t O, T, S, H, dk, dv;
    kc_tensor *mask;            /* reference, or NULL */
    int64_t mask_o, mask_h;     /* strides of the mask's o and h (0: broadcast) */
    float scale;
    double rate;                /* dropout rate */
    kc_rng *rng;                /* borrowed, forward only */
    float keep_scale;           /* 1 / (1 - rate) */
    uint8_t *keep;              /* O H T S dropout decisions, or NULL */
} att_ctx;

static void ctx_free(void *p)
{
    att_ctx *c = p;
    if (!c) return;
    kc_tensor_unref(c->mask);
    kc__free(c->keep);
    kc__free(c);
}

static const float *mask_block(const att_ctx *c, int64_t o, int64_t h)
{
    if (!c->mask) return NULL;
    return (const float *)c->mask->data + o * c->mask_o + h * c->mask_h;
}

/* Rows of the score block z [T, S] become probabilities, in place. Masked
 * positions get KC__ATTENTION_MASKED added first, as Keras' Softmax does. */
static void softmax_rows(float *z, const float *mask, int64_t T, int64_t S)
{
    for (int64_t t = 0; t < T; t++) {
        float *r = z + t * S;
        const float *m = mask ? mask + t * S : NULL;
        if (m)
            for (int64_t j = 0; j < S; j++) r[j] += m[j] == 0.0f ? KC__ATTENTION_MASKED : 0.0f;
        float mx = -INFINITY;
        for (int64_t j = 0; j < S; j++) mx = r[j] > mx ? r[j] : mx; /* NaN never wins: it propagates through exp */
        if (isinf(mx) && mx < 0) mx = 0.0f; /* all -inf: avoid inf - inf */
        double s = 0.0;
        for (int64_t j = 0; j < S; j++) {
            r[j] = expf(r[j] - mx);
            s += r[j];
        }
        float inv = (float)(1.0 / s);
        for (int64_t j = 0; j < S; j++) r[j] *= inv;
    }
}

/* dst = P * keep * keep_scale (the dropped probabilities of one block). */
static void apply_keep(const att_ctx *c, const float *P, const uint8_t *keep, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = keep[i] ? P[i] * c->keep_scale : 0.0f;
}

static kc_status att_forward(void *p, kc_tensor *const *in, int n_in, kc_tensor **out, int n_out,
                             kc_error *err)
{
    (void)n_in, (void)n_out;
    att_ctx *c = p;
    const int64_t O = c->O, T = c->T, S = c->S, H = c->H, dk = c->dk, dv = c->dv, TS = T * S;
    out[0] = kc_tensor_empty(KC_FLOAT32, 4, (int64_t[]){O, T, H, dv}, err);
    out[1] = kc_tensor_empty(KC_FLOAT32, 4, (int64_t[]){O, H, T, S}, err);
    if (!out[0] || !out[1]) return kc__error_code(err, KC_ENOMEM);
    size_t cap = 0;
    float *dropped = NULL;
    if (c->rate > 0.0) {
        c->keep = kc__malloc_array((size_t)(O * H), (size_t)TS);
        dropped = kc__buffer_alloc(sizeof(float) * (size_t)(TS ? TS : 1), &cap);
        if (!c->keep || !dropped) {
            if (dropped) kc__buffer_free(dropped, cap);
            return kc__errf(err, KC_ENOMEM, "out of memory for attention dropout");
        }
        for (int64_t i = 0; i < O * H * TS; i++) c->keep[i] = kc_rng_uniform(c->rng) >= c->rate;
    }
    const float *q = in[0]->data, *k = in[1]->data, *v = in[2]->data;
    float *ctxv = out[0]->data, *probs = out[1]->data;
    for (int64_t o = 0; o < O; o++) {
        for (int64_t h = 0; h < H; h++) {
            float *P = probs + (o * H + h) * TS;
            kc__sgemm(false, true, T, S, dk, c->scale, q + (o * T * H + h) * dk, H * dk,
                      k + (o * S * H + h) * dk, H * dk, 0.0f, P, S);
            softmax_rows(P, mask_block(c, o, h), T, S);
            const float *Pd = P;
            if (dropped) {
                apply_keep(c, P, c->keep + (o * H + h) * TS, dropped, TS);
                Pd = dropped;
            }
            kc__sgemm(false, false, T, dv, S, 1.0f, Pd, S, v + (o * S * H + h) * dv, H * dv, 0.0f,
                      ctxv + (o * T * H + h) * dv, H * dv);
        }
    }
    if (dropped) kc__buffer_free(dropped, cap);
    c->rng = NULL;
    return KC_OK;
}

static kc_status att_backward(void *p, kc_tensor *const *in, int n_in, kc_tensor *const *out,
                              int n_out, kc_tensor *const *gout, const bool *needs,
                              kc_tensor **gin, kc_error *err)
{
    (void)n_in, (void)n_out;
    const att_ctx *c = p;
    const int64_t O = c->O, T = c->T, S = c->S, H = c->H, dk = c->dk, dv = c->dv, TS = T * S;
    for (int i = 0; i < 3; i++)
        if (needs[i] && !(gin[i] = kc__tensor_like(in[i], err))) return kc__error_code(err, KC_ENOMEM);
    if (!needs[0] && !needs[1] && !needs[2]) return KC_OK;
    size_t cap = 0;
    /* dP, and the dropped probabilities when there is dropout */
    float *work = kc__buffer_alloc(sizeof(float) * (size_t)(2 * TS + 1), &cap);
    if (!work) return kc__errf(err, KC_ENOMEM, "out of memory in attention backward");
    float *dP = work, *Pd_buf = work + TS;
    const float *q = in[0]->data, *k = in[1]->data, *v = in[2]->data;
    const float *probs = out[1]->data, *G = gout[0]->data, *R = gout[1]->data;
    float *gq = needs[0] ? gin[0]->data : NULL, *gk = needs[1] ? gin[1]->data : NULL;
    float *gv = needs[2] ? gin[2]->data : NULL;
    for (int64_t o = 0; o < O; o++) {
        for (int64_t h = 0; h < H; h++) {
            const int64_t blk = (o * H + h) * TS;
            const float *P = probs + blk, *Pd = P;
            const float *Gb = G + (o * T * H + h) * dv, *Vb = v + (o * S * H + h) * dv;
            if (c->keep) {
                apply_keep(c, P, c->keep + blk, Pd_buf, TS);
                Pd = Pd_buf;
            }
            if (gv)
                kc__sgemm(true, false, S, dv, T, 1.0f, Pd, S, Gb, H * dv, 0.0f,
                          gv + (o * S * H + h) * dv, H * dv);
            if (!gq && !gk) continue;
            kc__sgemm(false, true, T, S, dv, 1.0f, Gb, H * dv, Vb, H * dv, 0.0f, dP, S);
            const uint8_t *keep = c->keep ? c->keep + blk : NULL;
            for (int64_t t = 0; t < T; t++) {
                float *d = dP + t * S;
                const float *pr = P + t * S, *rr = R + blk + t * S;
                double s = 0.0;
                for (int64_t j = 0; j < S; j++) {
                    float g = keep ? (keep[t * S + j] ? d[j] * c->keep_scale : 0.0f) : d[j];
                    d[j] = g + rr[j];
                    s += (double)d[j] * pr[j];
                }
                for (int64_t j = 0; j < S; j++) d[j] = pr[j] * (d[j] - (float)s);
            }
            if (gq)
                kc__sgemm(false, false, T, dk, S, c->scale, dP, S, k + (o * S * H + h) * dk, H * dk,
                          0.0f, gq + (o * T * H + h) * dk, H * dk);
            if (gk)
                kc__sgemm(true, false, S, dk, T, c->scale, dP, S, q + (o * T * H + h) * dk, H * dk,
                          0.0f, gk + (o * S * H + h) * dk, H * dk);
        }
    }
    kc__buffer_free(work, cap);
    return KC_OK;
}

static const kc_custom_op attention_op = {
    .name = "attention",
    .forward = att_forward,
    .backward = att_backward,
    .ctx_free = ctx_free,
};

static kc_status shape_error(kc_error *err, const kc__attention_args *a)
{
    char sq[160], sk[160], sv[160];
    return kc__errf(err, KC_ESHAPE,
                    "attention: expected q [O, T, H, dk], k [O, S, H, dk], v [O, S, H, dv]; got "
                    "%s, %s, %s",
                    kc__dims_format(a->q->ndim, a->q->dims, sq, sizeof(sq)),
                    kc__dims_format(a->k->ndim, a->k->dims, sk, sizeof(sk)),
                    kc__dims_format(a->v->ndim, a->v->dims, sv, sizeof(sv)));
}

kc_status kc__attention(const kc__attention_args *a, kc_tensor **out, kc_error *err)
{
    out[0] = out[1] = NULL;
    kc_tensor *ins[3] = {a->q, a->k, a->v};
    if (kc__check_f32("attention", ins, 3, err) != KC_OK) return err->code;
    if (a->q->ndim != 4 || a->k->ndim != 4 || a->v->ndim != 4) return shape_error(err, a);
    const int64_t *qd = a->q->dims, *kd = a->k->dims, *vd = a->v->dims;
    if (kd[0] != qd[0] || vd[0] != qd[0] || kd[2] != qd[2] || vd[2] != qd[2] || kd[3] != qd[3] ||
        vd[1] != kd[1])
        return shape_error(err, a);
    if (!(a->dropout >= 0.0 && a->dropout < 1.0) || (a->dropout > 0.0 && !a->rng))
        return kc__errf(err, KC_EINVAL, "attention: dropout rate %g is not in [0, 1) or has no generator",
                        a->dropout);
    att_ctx *c = kc__calloc(1, sizeof(*c));
    if (!c) return kc__errf(err, KC_ENOMEM, "out of memory");
    c->O = qd[0], c->T = qd[1], c->H = qd[2], c->dk = qd[3], c->S = kd[1], c->dv = vd[3];
    c->scale = a->scale;
    c->rate = a->dropout;
    c->rng = a->rng;
    c->keep_scale = a->dropout > 0.0 ? (float)(1.0 / (1.0 - a->dropout)) : 1.0f;
    if (a->mask) {
        const kc_tensor *m = a->mask;
        bool ok = m->dtype == KC_FLOAT32 && m->ndim == 4 && (m->dims[0] == 1 || m->dims[0] == c->O) &&
                  (m->dims[1] == 1 || m->dims[1] == c->H) && m->dims[2] == c->T && m->dims[3] == c->S;
        if (!ok) {
            char sm[160];
            ctx_free(c);
            return kc__errf(err, KC_ESHAPE, "attention: the mask has shape %s, expected [1 or %lld, 1 or %lld, %lld, %lld]",
                            kc__dims_format(m->ndim, m->dims, sm, sizeof(sm)), (long long)qd[0],
                            (long long)qd[2], (long long)qd[1], (long long)kd[1]);
        }
        c->mask = kc_tensor_ref(a->mask);
        c->mask_h = m->dims[1] == 1 ? 0 : c->T * c->S;
        c->mask_o = m->dims[0] == 1 ? 0 : m->dims[1] * c->T * c->S;
    }
    return kc_custom_call(&attention_op, c, ins, 3, out, 2, err);
}
