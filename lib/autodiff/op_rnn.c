/* The recurrence of SimpleRNN, LSTM and GRU layers as one differentiable op.
 *
 * Built from generic ops, a sequence of T steps would record some ten ops
 * per step on the tape, allocate their results, and run T small matrix
 * products where one large one does. Here a layer call is one custom op
 * (kc_custom_call) whose context keeps, in one buffer, what backward needs:
 *
 *   xt   (T, B, in)  the inputs in step order (go_backwards reverses them)
 *   g    (T, B, G u) gate activations (LSTM i f c o; GRU z r h; SimpleRNN h)
 *   h, c (T+1, B, u) the states before and after every step
 *   aux  (T, B, u)   LSTM: act(c); GRU reset_after: h @ U_h + b_h;
 *                    GRU reset_before: r * h (the input of its U_h product)
 *   hm   (T, B, u)   h times the recurrent dropout mask, when there is one
 *   m    (T, B)      the step mask
 *
 * How it works. Forward: one GEMM computes x @ W for all steps at once
 * (time-major, so that each step's block is contiguous), then each step adds
 * h @ U with one GEMM (two for GRU reset_before, whose U_h product needs the
 * reset gate first), adds the bias and applies the activations in place,
 * row by row while the block is in cache. Backward walks
 * the steps in reverse, turning the gradient reaching h (and c) into the
 * gradients of the gates' pre-activations dz, kept for all steps, and into
 * the gradient of the previous state with one GEMM per step (dz @ U^T).
 * The weight and input gradients are then three large GEMMs over all
 * steps: dW = xt^T dz, dU = h^T dz, dx = dz W^T. No step allocates.
 *
 * Masks follow Keras' backend.rnn: at a masked step the states carry over
 * unchanged and the output is the previous output (zeros before the first
 * step), or zeros with zero_output_for_mask. */
#include "op_rnn.h"
#include "kernels.h"
#include "vmath.h"

#include "../core/blas_int.h"

#include <math.h>
#include <string.h>

const char *const kc__ract_names[KC__RACT_COUNT] = {
#define X(id, name) name,
    KC__RACT_LIST(X)
#undef X
};

#define SELU_ALPHA 1.6732632423543772848170429916717f
#define SELU_SCALE 1.0507009873554804934193349852946f

/* ---- activations ------------------------------------------------------------
 * The gates' activations are the unary ops' kernels (vectorized at the
 * widest width the CPU has, vmath.h): the same values as kc_sigmoid,
 * kc_tanh, ... on the same inputs. */

/* x <- f(x), in place. */
static void act_forward(kc__ract a, float *restrict x, int64_t n)
{
    static const struct {
        kc__op op;
        double f[4];
    } ops[KC__RACT_COUNT] = {
        [KC__RACT_LINEAR] = {KC__OP_COUNT, {0}},
        [KC__RACT_TANH] = {KC__OP_TANH, {0}},
        [KC__RACT_SIGMOID] = {KC__OP_SIGMOID, {0}},
        [KC__RACT_HARD_SIGMOID] = {KC__OP_HARD_SIGMOID, {0}},
        [KC__RACT_RELU] = {KC__OP_RELU, {0}},
        [KC__RACT_SOFTSIGN] = {KC__OP_SOFTSIGN, {0}},
        [KC__RACT_ELU] = {KC__OP_ELU, {1.0}},
        [KC__RACT_SELU] = {KC__OP_SELU, {0}},
        [KC__RACT_EXPONENTIAL] = {KC__OP_EXP, {0}},
        [KC__RACT_SOFTPLUS] = {KC__OP_SOFTPLUS, {0}},
        [KC__RACT_RELU6] = {KC__OP_RELU_EX, {0.0, 6.0, 0.0}},
        [KC__RACT_LEAKY_RELU] = {KC__OP_RELU_EX, {0.2f, INFINITY, 0.0}},
    };
    if (a >= KC__RACT_COUNT || ops[a].op == KC__OP_COUNT) return;
    kc__unary_inplace(ops[a].op, x, n, ops[a].f);
}

/* g <- g * f'(x), where y = f(x): every derivative here is a function of y. */
KC__VECTORIZE static void act_backward(kc__ract a, const float *restrict y, float *restrict g, int64_t n)
{
    switch (a) {
    case KC__RACT_LINEAR:
    case KC__RACT_COUNT:
        return;
    case KC__RACT_TANH:
        for (int64_t i = 0; i < n; i++) g[i] *= 1.0f - y[i] * y[i];
        return;
    case KC__RACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) g[i] *= y[i] * (1.0f - y[i]);
        return;
    case KC__RACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++) g[i] = (y[i] > 0.0f && y[i] < 1.0f) ? 0.2f * g[i] : 0.0f;
        return;
    case KC__RACT_RELU:
        for (int64_t i = 0; i < n; i++) g[i] = y[i] > 0.0f ? g[i] : 0.0f;
        return;
    case KC__RACT_SOFTSIGN:
        for (int64_t i = 0; i < n; i++) {
            float t = 1.0f - fabsf(y[i]);
            g[i] *= t * t;
        }
        return;
    case KC__RACT_ELU:
        for (int64_t i = 0; i < n; i++) g[i] = y[i] > 0.0f ? g[i] : g[i] * (y[i] + 1.0f);
        return;
    case KC__RACT_SELU:
        for (int64_t i = 0; i < n; i++)
            g[i] = y[i] > 0.0f ? g[i] * SELU_SCALE : g[i] * (y[i] + SELU_SCALE * SELU_ALPHA);
        return;
    case KC__RACT_EXPONENTIAL:
        for (int64_t i = 0; i < n; i++) g[i] *= y[i];
        return;
    case KC__RACT_SOFTPLUS: /* sigmoid(x) = 1 - e^-y */
        for (int64_t i = 0; i < n; i++) g[i] *= -kc__expm1f(-y[i]);
        return;
    case KC__RACT_RELU6:
        for (int64_t i = 0; i < n; i++) g[i] = (y[i] > 0.0f && y[i] < 6.0f) ? g[i] : 0.0f;
        return;
    case KC__RACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) g[i] = y[i] > 0.0f ? g[i] : 0.2f * g[i];
        return;
    }
}

/* ---- the saved state ---------------------------------------------------------------- */

typedef struct rnn_ctx {
    kc__rnn_spec spec;
    int64_t B, T, in, u, gu; /* gu: gates times units */
    /* positions of the optional inputs in the op's input list, -1 if absent */
    int i_bias, i_h0, i_c0, i_mask, i_rdp;
    void *mem; /* one buffer (kc__buffer_alloc) holding all arrays below */
    size_t cap;
    float *xt, *g, *h, *c, *aux, *hm, *m, *rs; /* see the file comment; rs: (B, G u) scratch */
} rnn_ctx;

static void ctx_free(void *p)
{
    rnn_ctx *c = p;
    if (!c) return;
    kc__buffer_free(c->mem, c->cap);
    kc__free(c);
}

/* Lay out n arrays of sizes[i] floats in one buffer, each 64-byte aligned.
 * Returns the buffer (NULL when out of memory or too large). */
static void *carve(const int64_t *sizes, float **const *outs, int n, size_t *cap)
{
    size_t total = 16;
    for (int i = 0; i < n; i++) {
        size_t sz = (size_t)sizes[i];
        size_t rounded = (sz + 15) & ~(size_t)15;
        if (rounded < sz || total + rounded < total) return NULL;
        total += rounded;
    }
    size_t bytes;
    if (!kc__mul_size(total, sizeof(float), &bytes)) return NULL;
    float *base = kc__buffer_alloc(bytes, cap);
    if (!base) return NULL;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        *outs[i] = sizes[i] > 0 ? base + off : NULL;
        off += ((size_t)sizes[i] + 15) & ~(size_t)15;
    }
    return base;
}

static inline float *hin_at(const rnn_ctx *c, int64_t s)
{
    return (c->hm ? c->hm : c->h) + s * c->B * c->u;
}
static inline bool step_on(const rnn_ctx *c, int64_t s, int64_t b)
{
    return !c->m || c->m[s * c->B + b] != 0.0f;
}
static inline int64_t time_of(const rnn_ctx *c, int64_t s)
{
    return c->spec.go_backwards ? c->T - 1 - s : s;
}

/* ---- forward ------------------------------------------------------------------------ */

/* Masked rows keep the previous states. */
static void carry_states(const rnn_ctx *c, int64_t s, int64_t b)
{
    int64_t B = c->B, u = c->u;
    memcpy(c->h + ((s + 1) * B + b) * u, c->h + (s * B + b) * u, sizeof(float) * (size_t)u);
    if (c->c) memcpy(c->c + ((s + 1) * B + b) * u, c->c + (s * B + b) * u, sizeof(float) * (size_t)u);
}

static void add_to(float *restrict z, const float *restrict v, int64_t n)
{
    for (int64_t j = 0; j < n; j++) z[j] += v[j];
}

static void step_simple(rnn_ctx *c, int64_t s, const float *U, const float *bias)
{
    int64_t B = c->B, u = c->u;
    float *gs = c->g + s * B * u;
    kc__sgemm(false, false, B, u, u, 1.0f, hin_at(c, s), u, U, u, 1.0f, gs, u);
    for (int64_t b = 0; b < B; b++) {
        if (!step_on(c, s, b)) {
            carry_states(c, s, b);
            continue;
        }
        float *z = gs + b * u;
        if (bias) add_to(z, bias, u);
        act_forward(c->spec.activation, z, u);
        memcpy(c->h + ((s + 1) * B + b) * u, z, sizeof(float) * (size_t)u);
    }
}

/* c = f * c_prev + i * g; h = o * act(c) */
static void lstm_cell_row(int64_t u, kc__ract a, const float *restrict z, const float *restrict cp,
                          float *restrict cn, float *restrict ac, float *restrict hn)
{
    for (int64_t j = 0; j < u; j++) cn[j] = ac[j] = z[u + j] * cp[j] + z[j] * z[2 * u + j];
    act_forward(a, ac, u);
    for (int64_t j = 0; j < u; j++) hn[j] = z[3 * u + j] * ac[j];
}

static void step_lstm(rnn_ctx *c, int64_t s, const float *U, const float *bias)
{
    int64_t B = c->B, u = c->u, gu = c->gu;
    float *gs = c->g + s * B * gu;
    kc__sgemm(false, false, B, gu, u, 1.0f, hin_at(c, s), u, U, gu, 1.0f, gs, gu);
    kc__ract a = c->spec.activation, ra = c->spec.recurrent_activation;
    for (int64_t b = 0; b < B; b++) {
        if (!step_on(c, s, b)) {
            carry_states(c, s, b);
            continue;
        }
        float *z = gs + b * gu;
        if (bias) add_to(z, bias, gu);
        act_forward(ra, z, 2 * u);
        act_forward(a, z + 2 * u, u);
        act_forward(ra, z + 3 * u, u);
        lstm_cell_row(u, a, z, c->c + (s * B + b) * u, c->c + ((s + 1) * B + b) * u, c->aux + (s * B + b) * u,
                      c->h + ((s + 1) * B + b) * u);
    }
}

/* h = z * h_prev + (1 - z) * hh, with the candidate hh in z[2u..] */
static void gru_blend(int64_t u, const float *restrict z, const float *restrict hp, float *restrict hn)
{
    for (int64_t j = 0; j < u; j++) hn[j] = z[j] * hp[j] + (1.0f - z[j]) * z[2 * u + j];
}

/* z += the recurrent part r (z, r gates); aux = r_h; z_h += r * r_h */
static void gru_after_row(int64_t u, kc__ract ra, float *restrict z, const float *restrict r, float *restrict ax)
{
    for (int64_t j = 0; j < 2 * u; j++) z[j] += r[j];
    act_forward(ra, z, 2 * u);
    for (int64_t j = 0; j < u; j++) {
        ax[j] = r[2 * u + j];
        z[2 * u + j] += z[u + j] * r[2 * u + j];
    }
}

static void step_gru_after(rnn_ctx *c, int64_t s, const float *U, const float *bias)
{
    int64_t B = c->B, u = c->u, gu = c->gu;
    float *gs = c->g + s * B * gu, *rs = c->rs;
    const float *brec = bias ? bias + gu : NULL;
    for (int64_t b = 0; brec && b < B; b++) memcpy(rs + b * gu, brec, sizeof(float) * (size_t)gu);
    kc__sgemm(false, false, B, gu, u, 1.0f, hin_at(c, s), u, U, gu, brec ? 1.0f : 0.0f, rs, gu);
    for (int64_t b = 0; b < B; b++) {
        if (!step_on(c, s, b)) {
            carry_states(c, s, b);
            continue;
        }
        float *z = gs + b * gu;
        if (bias) add_to(z, bias, gu);
        gru_after_row(u, c->spec.recurrent_activation, z, rs + b * gu, c->aux + (s * B + b) * u);
        act_forward(c->spec.activation, z + 2 * u, u);
        gru_blend(u, z, c->h + (s * B + b) * u, c->h + ((s + 1) * B + b) * u);
    }
}

static void mul_rows(float *restrict out, const float *restrict a, const float *restrict b, int64_t n)
{
    for (int64_t j = 0; j < n; j++) out[j] = a[j] * b[j];
}

static void scale_by(float *restrict x, const float *restrict v, int64_t n)
{
    for (int64_t j = 0; j < n; j++) x[j] *= v[j];
}

static void step_gru_before(rnn_ctx *c, int64_t s, const float *U, const float *bias)
{
    int64_t B = c->B, u = c->u, gu = c->gu;
    float *gs = c->g + s * B * gu, *ax = c->aux + s * B * u;
    const float *hin = hin_at(c, s);
    kc__sgemm(false, false, B, 2 * u, u, 1.0f, hin, u, U, gu, 1.0f, gs, gu);
    for (int64_t b = 0; b < B; b++) {
        float *z = gs + b * gu, *rh = ax + b * u;
        if (!step_on(c, s, b)) {
            memset(rh, 0, sizeof(float) * (size_t)u);
            continue;
        }
        if (bias) add_to(z, bias, gu);
        act_forward(c->spec.recurrent_activation, z, 2 * u);
        mul_rows(rh, z + u, hin + b * u, u);
    }
    kc__sgemm(false, false, B, u, u, 1.0f, ax, u, U + 2 * u, gu, 1.0f, gs + 2 * u, gu);
    for (int64_t b = 0; b < B; b++) {
        if (!step_on(c, s, b)) {
            carry_states(c, s, b);
            continue;
        }
        float *z = gs + b * gu;
        act_forward(c->spec.activation, z + 2 * u, u);
        gru_blend(u, z, c->h + (s * B + b) * u, c->h + ((s + 1) * B + b) * u);
    }
}

/* The step's outputs y[:, s] (return_sequences). */
static void write_step_output(const rnn_ctx *c, int64_t s, float *y)
{
    int64_t B = c->B, T = c->T, u = c->u;
    for (int64_t b = 0; b < B; b++) {
        float *dst = y + (b * T + s) * u;
        if (step_on(c, s, b))
            memcpy(dst, c->h + ((s + 1) * B + b) * u, sizeof(float) * (size_t)u);
        else if (c->spec.zero_output_for_mask || s == 0)
            memset(dst, 0, sizeof(float) * (size_t)u);
        else
            memmove(dst, dst - u, sizeof(float) * (size_t)u);
    }
}

/* The last output: the state after the last unmasked step (zeros if none,
 * or if the last step is masked and masked outputs are zeros). */
static void write_last_output(const rnn_ctx *c, float *y)
{
    int64_t B = c->B, T = c->T, u = c->u;
    for (int64_t b = 0; b < B; b++) {
        int64_t s = T - 1;
        if (!c->spec.zero_output_for_mask)
            while (s >= 0 && !step_on(c, s, b)) s--;
        if (s >= 0 && step_on(c, s, b))
            memcpy(y + b * u, c->h + ((s + 1) * B + b) * u, sizeof(float) * (size_t)u);
        else
            memset(y + b * u, 0, sizeof(float) * (size_t)u);
    }
}

static kc_status rnn_forward(void *vctx, kc_tensor *const *in, int n_in, kc_tensor **out, int n_out,
                             kc_error *err)
{
    (void)n_in;
    rnn_ctx *c = vctx;
    int64_t B = c->B, T = c->T, ni = c->in, u = c->u, gu = c->gu;
    const kc__rnn_spec *sp = &c->spec;
    const float *x = kc_tensor_cdata(in[0]), *W = kc_tensor_cdata(in[1]), *U = kc_tensor_cdata(in[2]);
    const float *bias = c->i_bias >= 0 ? kc_tensor_cdata(in[c->i_bias]) : NULL;
    const float *rdp = c->i_rdp >= 0 ? kc_tensor_cdata(in[c->i_rdp]) : NULL;
    int64_t ydims[3] = {B, T, u}, sdims[2] = {B, u};
    if (sp->return_sequences)
        out[0] = kc_tensor_empty(KC_FLOAT32, 3, ydims, err);
    else
        out[0] = kc_tensor_empty(KC_FLOAT32, 2, sdims, err);
    for (int j = 1; j < n_out; j++) out[j] = kc_tensor_empty(KC_FLOAT32, 2, sdims, err);
    for (int j = 0; j < n_out; j++)
        if (!out[j]) return kc__error_code(err, KC_ENOMEM);

    /* inputs in step order, time-major, times the kernel for all steps at
     * once (the input bias is added step by step, in cache) */
    for (int64_t s = 0; s < T; s++)
        for (int64_t b = 0; b < B; b++)
            memcpy(c->xt + (s * B + b) * ni, x + (b * T + time_of(c, s)) * ni, sizeof(float) * (size_t)ni);
    kc__sgemm(false, false, T * B, gu, ni, 1.0f, c->xt, ni, W, gu, 0.0f, c->g, gu);
    memcpy(c->h, kc_tensor_cdata(in[c->i_h0]), sizeof(float) * (size_t)(B * u));
    if (c->c) memcpy(c->c, kc_tensor_cdata(in[c->i_c0]), sizeof(float) * (size_t)(B * u));
    if (c->m) {
        const float *mk = kc_tensor_cdata(in[c->i_mask]);
        for (int64_t s = 0; s < T; s++)
            for (int64_t b = 0; b < B; b++) c->m[s * B + b] = mk[b * T + time_of(c, s)] != 0.0f;
    }

    float *y = kc_tensor_f32(out[0]);
    for (int64_t s = 0; s < T; s++) {
        if (rdp) mul_rows(c->hm + s * B * u, c->h + s * B * u, rdp, B * u);
        switch (sp->cell) {
        case KC__RCELL_SIMPLE:
            step_simple(c, s, U, bias);
            break;
        case KC__RCELL_LSTM:
            step_lstm(c, s, U, bias);
            break;
        case KC__RCELL_GRU:
            if (sp->reset_after)
                step_gru_after(c, s, U, bias);
            else
                step_gru_before(c, s, U, bias);
            break;
        }
        if (sp->return_sequences) write_step_output(c, s, y);
    }
    if (!sp->return_sequences) write_last_output(c, y);
    memcpy(kc_tensor_f32(out[1]), c->h + T * B * u, sizeof(float) * (size_t)(B * u));
    if (c->c) memcpy(kc_tensor_f32(out[2]), c->c + T * B * u, sizeof(float) * (size_t)(B * u));
    return KC_OK;
}

/* ---- backward ------------------------------------------------------------------------ */

/* Working arrays of one backward pass. */
typedef struct bwd {
    float *dz;     /* (T, B, G u) gradients of the gates' pre-activations (x side) */
    float *dzr;    /* GRU reset_after: the same for the recurrent side (h @ U + b_rec) */
    float *dh, *ndh, *dc, *ndc; /* (B, u) gradients reaching the states, this step and the previous */
    float *carry;  /* (B, u) output gradient not yet delivered (masked steps pass it back) */
    float *t1, *t2; /* (B, u) scratch */
    float *dxt;    /* (T, B, in) input gradient in step order */
    float *part;   /* (2 G u) per-step bias gradient sums */
    double *db;    /* (2 G u) bias gradient, accumulated in double */
} bwd;

/* Masked rows: the states' gradients pass through, no gate gradient;
 * others: times the recurrent dropout mask. */
static void finish_rows(const rnn_ctx *c, int64_t s, bwd *w, const float *rdp)
{
    int64_t B = c->B, u = c->u;
    for (int64_t b = 0; b < B; b++) {
        float *nd = w->ndh + b * u;
        if (!step_on(c, s, b)) {
            memcpy(nd, w->dh + b * u, sizeof(float) * (size_t)u);
            if (w->dc) memcpy(w->ndc + b * u, w->dc + b * u, sizeof(float) * (size_t)u);
        } else if (rdp) {
            scale_by(nd, rdp + b * u, u);
        }
    }
}

/* The direct path of GRU (dh_prev += dh * z) on unmasked rows. */
static void add_direct(const rnn_ctx *c, int64_t s, bwd *w)
{
    for (int64_t b = 0; b < c->B; b++)
        if (step_on(c, s, b)) add_to(w->ndh + b * c->u, w->t1 + b * c->u, c->u);
}

static void bwd_simple(const rnn_ctx *c, int64_t s, const float *U, const float *rdp, bwd *w)
{
    int64_t B = c->B, u = c->u;
    float *dz = w->dz + s * B * u;
    for (int64_t b = 0; b < B; b++) {
        if (!step_on(c, s, b)) {
            memset(dz + b * u, 0, sizeof(float) * (size_t)u);
            continue;
        }
        memcpy(dz + b * u, w->dh + b * u, sizeof(float) * (size_t)u);
        act_backward(c->spec.activation, c->h + ((s + 1) * B + b) * u, dz + b * u, u);
    }
    kc__sgemm(false, true, B, u, u, 1.0f, dz, u, U, u, 0.0f, w->ndh, u);
    finish_rows(c, s, w, rdp);
}

/* One LSTM row: e reaches h, dc reaches c; d receives the raw gate
 * gradients (di, df, dg, do), ndc the gradient of c_prev; t: scratch. */
static void lstm_grad_row(int64_t u, kc__ract a, const float *restrict z, const float *restrict ac,
                          const float *restrict cp, const float *restrict e, const float *restrict dc,
                          float *restrict t, float *restrict d, float *restrict ndc)
{
    for (int64_t j = 0; j < u; j++) t[j] = e[j] * z[3 * u + j];
    act_backward(a, ac, t, u);
    for (int64_t j = 0; j < u; j++) {
        float dct = dc[j] + t[j];
        d[j] = dct * z[2 * u + j];
        d[u + j] = dct * cp[j];
        d[2 * u + j] = dct * z[j];
        d[3 * u + j] = e[j] * ac[j];
        ndc[j] = dct * z[u + j];
    }
}

static void bwd_lstm(const rnn_ctx *c, int64_t s, const float *U, const float *rdp, bwd *w)
{
    int64_t B = c->B, u = c->u, gu = c->gu;
    kc__ract a = c->spec.activation, ra = c->spec.recurrent_activation;
    float *dzs = w->dz + s * B * gu;
    for (int64_t b = 0; b < B; b++) {
        float *d = dzs + b * gu;
        if (!step_on(c, s, b)) {
            memset(d, 0, sizeof(float) * (size_t)gu);
            continue;
        }
        const float *z = c->g + (s * B + b) * gu;
        lstm_grad_row(u, a, z, c->aux + (s * B + b) * u, c->c + (s * B + b) * u, w->dh + b * u, w->dc + b * u,
                      w->t1 + b * u, d, w->ndc + b * u);
        act_backward(ra, z, d, 2 * u);
        act_backward(a, z + 2 * u, d + 2 * u, u);
        act_backward(ra, z + 3 * u, d + 3 * u, u);
    }
    kc__sgemm(false, true, B, u, gu, 1.0f, dzs, gu, U, gu, 0.0f, w->ndh, u);
    finish_rows(c, s, w, rdp);
}

/* GRU, both variants: dz (update gate, raw), the candidate's
 * pre-activation gradient, and the direct path dh_prev = dh * z. */
static void gru_common(int64_t u, kc__ract a, const float *restrict z, const float *restrict hp,
                       const float *restrict e, float *restrict d, float *restrict direct)
{
    for (int64_t j = 0; j < u; j++) {
        d[j] = e[j] * (hp[j] - z[2 * u + j]);
        d[2 * u + j] = e[j] * (1.0f - z[j]);
        direct[j] = e[j] * z[j];
    }
    act_backward(a, z + 2 * u, d + 2 * u, u);
}

static void gru_after_grad_row(int64_t u, const float *restrict z, const float *restrict rh, float *restrict d,
                               float *restrict dr)
{
    for (int64_t j = 0; j < u; j++) {
        d[u + j] = d[2 * u + j] * rh[j];
        dr[2 * u + j] = d[2 * u + j] * z[u + j];
    }
}

static void bwd_gru_after(const rnn_ctx *c, int64_t s, const float *U, const float *rdp, bwd *w)
{
    int64_t B = c->B, u = c->u, gu = c->gu;
    float *dzs = w->dz + s * B * gu, *dzr = w->dzr + s * B * gu;
    for (int64_t b = 0; b < B; b++) {
        float *d = dzs + b * gu, *dr = dzr + b * gu;
        if (!step_on(c, s, b)) {
            memset(d, 0, sizeof(float) * (size_t)gu);
            memset(dr, 0, sizeof(float) * (size_t)gu);
            continue;
        }
        const float *z = c->g + (s * B + b) * gu;
        gru_common(u, c->spec.activation, z, c->h + (s * B + b) * u, w->dh + b * u, d, w->t1 + b * u);
        gru_after_grad_row(u, z, c->aux + (s * B + b) * u, d, dr);
        act_backward(c->spec.recurrent_activation, z, d, 2 * u);
        memcpy(dr, d, sizeof(float) * (size_t)(2 * u));
    }
    kc__sgemm(false, true, B, u, gu, 1.0f, dzr, gu, U, gu, 0.0f, w->ndh, u);
    finish_rows(c, s, w, rdp);
    add_direct(c, s, w);
}

static void bwd_gru_before(const rnn_ctx *c, int64_t s, const float *U, const float *rdp, bwd *w)
{
    int64_t B = c->B, u = c->u, gu = c->gu;
    float *dzs = w->dz + s * B * gu, *drh = w->t2;
    const float *hin = hin_at(c, s);
    for (int64_t b = 0; b < B; b++) {
        if (!step_on(c, s, b)) {
            memset(dzs + b * gu, 0, sizeof(float) * (size_t)gu);
            continue;
        }
        gru_common(u, c->spec.activation, c->g + (s * B + b) * gu, c->h + (s * B + b) * u, w->dh + b * u,
                   dzs + b * gu, w->t1 + b * u);
    }
    /* d(r * h) = d(candidate) @ U_h^T */
    kc__sgemm(false, true, B, u, u, 1.0f, dzs + 2 * u, gu, U + 2 * u, gu, 0.0f, drh, u);
    for (int64_t b = 0; b < B; b++) {
        if (!step_on(c, s, b)) continue;
        float *d = dzs + b * gu;
        const float *z = c->g + (s * B + b) * gu;
        mul_rows(d + u, drh + b * u, hin + b * u, u);
        scale_by(drh + b * u, z + u, u);
        act_backward(c->spec.recurrent_activation, z, d, 2 * u);
    }
    kc__sgemm(false, true, B, u, 2 * u, 1.0f, dzs, gu, U, gu, 0.0f, w->ndh, u);
    for (int64_t b = 0; b < B; b++)
        if (step_on(c, s, b)) add_to(w->ndh + b * u, drh + b * u, u);
    finish_rows(c, s, w, rdp);
    add_direct(c, s, w);
}

/* acc += the column sums of a (rows, n) block: in float within the block,
 * then in double. */
static void add_column_sums(const float *a, int64_t rows, int64_t n, float *restrict part, double *restrict acc)
{
    memset(part, 0, sizeof(float) * (size_t)n);
    for (int64_t r = 0; r < rows; r++) add_to(part, a + r * n, n);
    for (int64_t j = 0; j < n; j++) acc[j] += part[j];
}

/* The gradient of the outputs that reaches this step's new h: dh gets the
 * step's output gradient (directly, or carried back across masked steps
 * whose outputs repeat it); masked rows pass dh through untouched. */
static void take_output_grad(const rnn_ctx *c, int64_t s, const float *gy, bwd *w)
{
    int64_t B = c->B, T = c->T, u = c->u;
    const kc__rnn_spec *sp = &c->spec;
    if (!sp->return_sequences && s != T - 1 && !c->m) return;
    for (int64_t b = 0; b < B; b++) {
        const float *g = sp->return_sequences ? gy + (b * T + s) * u : s == T - 1 ? gy + b * u : NULL;
        float *dh = w->dh + b * u, *cr = w->carry + b * u;
        if (!c->m) { /* nothing is ever carried */
            add_to(dh, g, u);
            continue;
        }
        if (g) add_to(cr, g, u);
        if (step_on(c, s, b)) {
            add_to(dh, cr, u);
            memset(cr, 0, sizeof(float) * (size_t)u);
        } else if (sp->zero_output_for_mask) {
            memset(cr, 0, sizeof(float) * (size_t)u);
        }
    }
}

static kc_tensor *grad_like(kc_tensor *t, kc_error *err)
{
    return kc_tensor_empty(KC_FLOAT32, kc_tensor_ndim(t), kc_tensor_dims(t), err);
}

static kc_status rnn_backward(void *vctx, kc_tensor *const *in, int n_in, kc_tensor *const *out,
                              int n_out, kc_tensor *const *gout, const bool *needs,
                              kc_tensor **gin, kc_error *err)
{
    (void)out;
    rnn_ctx *c = vctx;
    const kc__rnn_spec *sp = &c->spec;
    int64_t B = c->B, T = c->T, ni = c->in, u = c->u, gu = c->gu;
    bool any = false;
    for (int i = 0; i < n_in; i++) any |= needs[i] && i != c->i_mask && i != c->i_rdp;
    if (!any) return KC_OK;
    bool lstm = sp->cell == KC__RCELL_LSTM, after = sp->cell == KC__RCELL_GRU && sp->reset_after;
    bool want_bias = c->i_bias >= 0 && needs[c->i_bias];
    bwd w = {0};
    float *dbl = NULL;
    int64_t sizes[11] = {T * B * gu, after ? T * B * gu : 0, B * u, B * u, lstm ? B * u : 0, lstm ? B * u : 0,
                         c->m ? B * u : 0, B * u, B * u, needs[0] ? T * B * ni : 0, 6 * gu};
    float **slots[11] = {&w.dz, &w.dzr, &w.dh, &w.ndh, &w.dc, &w.ndc, &w.carry, &w.t1, &w.t2, &w.dxt, &dbl};
    size_t cap = 0;
    void *mem = carve(sizes, slots, 11, &cap);
    if (!mem) return kc__errf(err, KC_ENOMEM, "out of memory in the backward pass of a recurrent layer");
    w.part = dbl;
    w.db = (double *)(dbl + 2 * gu); /* 8 gu bytes in: aligned for doubles */
    const float *U = kc_tensor_cdata(in[2]);
    const float *rdp = c->i_rdp >= 0 ? kc_tensor_cdata(in[c->i_rdp]) : NULL;
    const float *gy = kc_tensor_cdata(gout[0]);
    memcpy(w.dh, kc_tensor_cdata(gout[1]), sizeof(float) * (size_t)(B * u));
    if (lstm && n_out > 2) memcpy(w.dc, kc_tensor_cdata(gout[2]), sizeof(float) * (size_t)(B * u));
    if (w.carry) memset(w.carry, 0, sizeof(float) * (size_t)(B * u));
    for (int64_t j = 0; j < 2 * gu; j++) w.db[j] = 0.0;

    for (int64_t s = T - 1; s >= 0; s--) {
        take_output_grad(c, s, gy, &w);
        switch (sp->cell) {
        case KC__RCELL_SIMPLE:
            bwd_simple(c, s, U, rdp, &w);
            break;
        case KC__RCELL_LSTM:
            bwd_lstm(c, s, U, rdp, &w);
            break;
        case KC__RCELL_GRU:
            if (sp->reset_after)
                bwd_gru_after(c, s, U, rdp, &w);
            else
                bwd_gru_before(c, s, U, rdp, &w);
            break;
        }
        if (want_bias) {
            add_column_sums(w.dz + s * B * gu, B, gu, w.part, w.db);
            if (after) add_column_sums(w.dzr + s * B * gu, B, gu, w.part, w.db + gu);
        }
        float *t = w.dh;
        w.dh = w.ndh;
        w.ndh = t;
        t = w.dc;
        w.dc = w.ndc;
        w.ndc = t;
    }

    kc_status rc = KC_OK;
    const float *dzx = w.dz, *dzr = after ? w.dzr : w.dz;
    for (int i = 0; i < n_in && rc == KC_OK; i++) {
        if (!needs[i] || i == c->i_mask || i == c->i_rdp) continue;
        if (!(gin[i] = grad_like(in[i], err))) rc = kc__error_code(err, KC_ENOMEM);
    }
    if (rc != KC_OK) goto out;
    if (needs[0]) {
        kc__sgemm(false, true, T * B, ni, gu, 1.0f, dzx, gu, kc_tensor_cdata(in[1]), gu, 0.0f, w.dxt, ni);
        float *gx = kc_tensor_f32(gin[0]);
        for (int64_t s = 0; s < T; s++)
            for (int64_t b = 0; b < B; b++)
                memcpy(gx + (b * T + time_of(c, s)) * ni, w.dxt + (s * B + b) * ni, sizeof(float) * (size_t)ni);
    }
    if (needs[1])
        kc__sgemm(true, false, ni, gu, T * B, 1.0f, c->xt, ni, dzx, gu, 0.0f, kc_tensor_f32(gin[1]), gu);
    if (needs[2]) {
        const float *hin = c->hm ? c->hm : c->h;
        float *gU = kc_tensor_f32(gin[2]);
        if (sp->cell == KC__RCELL_GRU && !sp->reset_after) {
            kc__sgemm(true, false, u, 2 * u, T * B, 1.0f, hin, u, dzx, gu, 0.0f, gU, gu);
            kc__sgemm(true, false, u, u, T * B, 1.0f, c->aux, u, dzx + 2 * u, gu, 0.0f, gU + 2 * u, gu);
        } else {
            kc__sgemm(true, false, u, gu, T * B, 1.0f, hin, u, dzr, gu, 0.0f, gU, gu);
        }
    }
    if (want_bias) {
        float *gb = kc_tensor_f32(gin[c->i_bias]);
        for (int64_t j = 0; j < (after ? 2 * gu : gu); j++) gb[j] = (float)w.db[j];
    }
    if (needs[c->i_h0]) memcpy(kc_tensor_f32(gin[c->i_h0]), w.dh, sizeof(float) * (size_t)(B * u));
    if (c->i_c0 >= 0 && needs[c->i_c0])
        memcpy(kc_tensor_f32(gin[c->i_c0]), w.dc, sizeof(float) * (size_t)(B * u));
out:
    kc__buffer_free(mem, cap);
    return rc;
}

static const kc_custom_op rnn_op = {
    .name = "rnn",
    .forward = rnn_forward,
    .backward = rnn_backward,
    .ctx_free = ctx_free,
};

/* ---- entry ------------------------------------------------------------------------------ */

static kc_status shape_error(kc_error *err, const char *what, const kc_tensor *t, int ndim,
                             const int64_t *want)
{
    char a[160], b[160];
    kc_shape got = kc_tensor_shape(t), w = kc_shape_make(ndim, want);
    return kc__errf(err, KC_ESHAPE, "recurrent layer: %s has shape %s, expected %s", what,
                    kc_shape_format(&got, a, sizeof(a)), kc_shape_format(&w, b, sizeof(b)));
}

static bool has_shape(const kc_tensor *t, int ndim, const int64_t *dims)
{
    if (kc_tensor_ndim(t) != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (kc_tensor_dims(t)[i] != dims[i]) return false;
    return true;
}

kc_status kc__rnn_run(const kc__rnn_spec *spec, const kc__rnn_args *a, kc_tensor **out, kc_error *err)
{
    int n_out = 1 + kc__rcell_states(spec->cell);
    for (int j = 0; j < n_out; j++) out[j] = NULL;
    kc_tensor *ins[8] = {a->x, a->kernel, a->recurrent_kernel};
    kc_status rc = kc__check_f32("rnn", ins, 3, err);
    if (rc != KC_OK) return rc;
    if (kc_tensor_ndim(a->x) != 3)
        return kc__errf(err, KC_ESHAPE, "recurrent layer: inputs must have rank 3 (batch, timesteps, features), got rank %d",
                        kc_tensor_ndim(a->x));
    int64_t B = kc_tensor_dim(a->x, 0), T = kc_tensor_dim(a->x, 1), ni = kc_tensor_dim(a->x, 2);
    int64_t u = spec->units, gu = kc__rcell_gates(spec->cell) * u;
    if (T < 1) return kc__errf(err, KC_ESHAPE, "recurrent layer: the inputs have no timesteps");
    bool after = spec->cell == KC__RCELL_GRU && spec->reset_after;
    if (!has_shape(a->kernel, 2, (int64_t[]){ni, gu}))
        return shape_error(err, "the kernel", a->kernel, 2, (int64_t[]){ni, gu});
    if (!has_shape(a->recurrent_kernel, 2, (int64_t[]){u, gu}))
        return shape_error(err, "the recurrent kernel", a->recurrent_kernel, 2, (int64_t[]){u, gu});
    if (a->bias && !(after ? has_shape(a->bias, 2, (int64_t[]){2, gu}) : has_shape(a->bias, 1, &gu)))
        return after ? shape_error(err, "the bias", a->bias, 2, (int64_t[]){2, gu})
                     : shape_error(err, "the bias", a->bias, 1, &gu);
    const kc_tensor *states[2] = {a->h0, spec->cell == KC__RCELL_LSTM ? a->c0 : NULL};
    for (int i = 0; i < kc__rcell_states(spec->cell); i++) {
        if (!states[i]) return kc__errf(err, KC_EINVAL, "recurrent layer: initial state %d is missing", i);
        if (kc_tensor_dtype(states[i]) != KC_FLOAT32 || !has_shape(states[i], 2, (int64_t[]){B, u}))
            return shape_error(err, "an initial state", states[i], 2, (int64_t[]){B, u});
    }
    if (a->mask && (kc_tensor_dtype(a->mask) != KC_FLOAT32 || !has_shape(a->mask, 2, (int64_t[]){B, T})))
        return shape_error(err, "the mask", a->mask, 2, (int64_t[]){B, T});
    if (a->rec_dropout && !has_shape(a->rec_dropout, 2, (int64_t[]){B, u}))
        return shape_error(err, "the recurrent dropout mask", a->rec_dropout, 2, (int64_t[]){B, u});
    if (B == 0) { /* an empty batch: empty outputs, nothing to differentiate */
        int64_t yd[3] = {0, T, u}, sd[2] = {0, u};
        for (int j = 0; j < n_out; j++) {
            out[j] = j == 0 && spec->return_sequences ? kc_tensor_empty(KC_FLOAT32, 3, yd, err)
                                                      : kc_tensor_empty(KC_FLOAT32, 2, sd, err);
            if (!out[j]) {
                for (int k = 0; k < j; k++) kc_tensor_unref(out[k]), out[k] = NULL;
                return kc__error_code(err, KC_ENOMEM);
            }
        }
        return KC_OK;
    }

    rnn_ctx *c = kc__calloc(1, sizeof(*c));
    if (!c) return kc__errf(err, KC_ENOMEM, "out of memory");
    c->spec = *spec;
    c->B = B, c->T = T, c->in = ni, c->u = u, c->gu = gu;
    int n = 3;
    c->i_bias = a->bias ? n : -1;
    if (a->bias) ins[n++] = a->bias;
    c->i_h0 = n;
    ins[n++] = a->h0;
    c->i_c0 = spec->cell == KC__RCELL_LSTM ? n : -1;
    if (c->i_c0 >= 0) ins[n++] = a->c0;
    c->i_mask = a->mask ? n : -1;
    if (a->mask) ins[n++] = a->mask;
    c->i_rdp = a->rec_dropout ? n : -1;
    if (a->rec_dropout) ins[n++] = a->rec_dropout;
    int64_t tb, sizes[8];
    if (!kc__mul_i64(T, B, &tb) || !kc__mul_i64(tb, gu > ni ? gu : ni, &sizes[0])) {
        kc__free(c);
        return kc__errf(err, KC_ELIMIT, "recurrent layer: %lld steps of batch %lld are too many", (long long)T, (long long)B);
    }
    sizes[0] = tb * ni;
    sizes[1] = tb * gu;
    sizes[2] = (tb + B) * u;
    sizes[3] = spec->cell == KC__RCELL_LSTM ? (tb + B) * u : 0;
    sizes[4] = spec->cell != KC__RCELL_SIMPLE ? tb * u : 0;
    sizes[5] = a->rec_dropout ? tb * u : 0;
    sizes[6] = a->mask ? tb : 0;
    sizes[7] = after ? B * gu : 0;
    float **slots[8] = {&c->xt, &c->g, &c->h, &c->c, &c->aux, &c->hm, &c->m, &c->rs};
    c->mem = carve(sizes, slots, 8, &c->cap);
    if (!c->mem) {
        kc__free(c);
        return kc__errf(err, KC_ENOMEM, "out of memory running a recurrent layer (%lld steps, batch %lld)",
                        (long long)T, (long long)B);
    }
    return kc_custom_call(&rnn_op, c, ins, n, out, n_out, err);
}
