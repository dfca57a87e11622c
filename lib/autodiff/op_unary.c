/* Unary elementwise ops: math functions and activations.
 *
 * Each op is a pair of loops: forward y = f(x) and backward gx = g * f'(x),
 * where f' may use the saved output y (sigmoid, tanh, exp, sqrt) to avoid
 * recomputing. Numerically delicate functions use their stable forms:
 * softplus = max(x, 0) + log1p(exp(-|x|)), sigmoid through exp(-|x|), so
 * that neither overflows for large |x|. Keras' hard_sigmoid is the Keras 2 /
 * TensorFlow.js one, clip(0.2 x + 0.5, 0, 1) (Keras 3 changed the slope). */
#include "autodiff_int.h"

#include <math.h>

typedef void (*fwd_fn)(const float *restrict x, float *restrict y, int64_t n, const double *f);
typedef void (*bwd_fn)(const float *restrict x, const float *restrict y, const float *restrict g,
                       float *restrict gx, int64_t n, const double *f);

#define SELU_ALPHA 1.6732632423543772848170429916717f
#define SELU_SCALE 1.0507009873554804934193349852946f
#define SQRT_2_OVER_PI 0.7978845608028654f
#define INV_SQRT_2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

static inline float sigmoidf(float x)
{
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static inline float softplusf(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

#define UNARY(name, fexpr, bexpr)                                                                  \
    static void f_##name(const float *restrict xp, float *restrict yp, int64_t n, const double *f) \
    {                                                                                              \
        (void)f;                                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                          \
            float x = xp[i];                                                                       \
            yp[i] = (fexpr);                                                                       \
        }                                                                                          \
    }                                                                                              \
    static void b_##name(const float *restrict xp, const float *restrict yp,                       \
                         const float *restrict gp, float *restrict gx, int64_t n, const double *f) \
    {                                                                                              \
        (void)f;                                                                                   \
        (void)xp;                                                                                  \
        (void)yp;                                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                          \
            float x = xp[i], y = yp[i], g = gp[i];                                                 \
            (void)x;                                                                               \
            (void)y;                                                                               \
            (void)g;                                                                               \
            gx[i] = (bexpr);                                                                       \
        }                                                                                          \
    }

UNARY(neg, -x, -g)
UNARY(abs, fabsf(x), x > 0.0f ? g : x < 0.0f ? -g : 0.0f)
UNARY(sign, x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x, 0.0f)
UNARY(square, x *x, 2.0f * x * g)
UNARY(sqrt, sqrtf(x), g * 0.5f / y)
UNARY(rsqrt, 1.0f / sqrtf(x), -0.5f * g * y * y * y)
UNARY(exp, expf(x), g *y)
UNARY(log, logf(x), g / x)
UNARY(log1p, log1pf(x), g / (1.0f + x))
UNARY(relu, x > 0.0f ? x : 0.0f, x > 0.0f ? g : 0.0f)
UNARY(sigmoid, sigmoidf(x), g *y *(1.0f - y))
UNARY(tanh, tanhf(x), g *(1.0f - y * y))
UNARY(softplus, softplusf(x), g *sigmoidf(x))
UNARY(softsign, x / (1.0f + fabsf(x)), g / ((1.0f + fabsf(x)) * (1.0f + fabsf(x))))
UNARY(selu, x > 0.0f ? SELU_SCALE * x : SELU_SCALE * SELU_ALPHA * expm1f(x),
      x > 0.0f ? g * SELU_SCALE : g * (y + SELU_SCALE * SELU_ALPHA))
UNARY(swish, x *sigmoidf(x), g *sigmoidf(x) * (1.0f + x * (1.0f - sigmoidf(x))))
UNARY(hard_sigmoid, fminf(fmaxf(0.2f * x + 0.5f, 0.0f), 1.0f),
      (x > -2.5f && x < 2.5f) ? 0.2f * g : 0.0f)
UNARY(mish, x *tanhf(softplusf(x)),
      g *(tanhf(softplusf(x)) +
          x * (1.0f - tanhf(softplusf(x)) * tanhf(softplusf(x))) * sigmoidf(x)))

/* Ops with parameters read f[]: elu alpha; gelu approximate; relu_ex
 * (negative_slope, max_value, threshold); clip (lo, hi). */
static void f_elu(const float *restrict xp, float *restrict yp, int64_t n, const double *f)
{
    float a = (float)f[0];
    for (int64_t i = 0; i < n; i++) yp[i] = xp[i] > 0.0f ? xp[i] : a * expm1f(xp[i]);
}
static void b_elu(const float *restrict xp, const float *restrict yp, const float *restrict gp,
                  float *restrict gx, int64_t n, const double *f)
{
    float a = (float)f[0];
    for (int64_t i = 0; i < n; i++) gx[i] = xp[i] > 0.0f ? gp[i] : gp[i] * (yp[i] + a);
}

static void f_gelu(const float *restrict xp, float *restrict yp, int64_t n, const double *f)
{
    if (f[0] != 0.0) {
        for (int64_t i = 0; i < n; i++) {
            float x = xp[i];
            yp[i] = 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
        }
    } else {
        for (int64_t i = 0; i < n; i++) yp[i] = 0.5f * xp[i] * (1.0f + erff(xp[i] * INV_SQRT_2));
    }
}
static void b_gelu(const float *restrict xp, const float *restrict yp, const float *restrict gp,
                   float *restrict gx, int64_t n, const double *f)
{
    (void)yp;
    if (f[0] != 0.0) {
        for (int64_t i = 0; i < n; i++) {
            float x = xp[i];
            float t = tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x));
            float dt = (1.0f - t * t) * SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * x * x);
            gx[i] = gp[i] * (0.5f * (1.0f + t) + 0.5f * x * dt);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            float x = xp[i];
            float cdf = 0.5f * (1.0f + erff(x * INV_SQRT_2));
            float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
            gx[i] = gp[i] * (cdf + x * pdf);
        }
    }
}

/* Keras' relu(x, negative_slope, max_value, threshold), step by step as
 * keras.backend.relu computes it. */
static void f_relu_ex(const float *restrict xp, float *restrict yp, int64_t n, const double *f)
{
    float a = (float)f[0], m = (float)f[1], t = (float)f[2];
    bool cap = isfinite(m);
    for (int64_t i = 0; i < n; i++) {
        float x = xp[i];
        float pos = t != 0.0f ? (x > t ? x : 0.0f) : (x > 0.0f ? x : 0.0f);
        if (cap) pos = fminf(fmaxf(pos, 0.0f), m);
        float neg = a != 0.0f ? a * fmaxf(t - x, 0.0f) : 0.0f;
        yp[i] = pos - neg;
    }
}
static void b_relu_ex(const float *restrict xp, const float *restrict yp, const float *restrict gp,
                      float *restrict gx, int64_t n, const double *f)
{
    (void)yp;
    float a = (float)f[0], m = (float)f[1], t = (float)f[2];
    bool cap = isfinite(m);
    for (int64_t i = 0; i < n; i++) {
        float x = xp[i];
        float d = (x > t && (!cap || (x >= 0.0f && x <= m))) ? 1.0f : 0.0f;
        if (x < t) d += a;
        gx[i] = gp[i] * d;
    }
}

static void f_clip(const float *restrict xp, float *restrict yp, int64_t n, const double *f)
{
    float lo = (float)f[0], hi = (float)f[1];
    for (int64_t i = 0; i < n; i++) yp[i] = fminf(fmaxf(xp[i], lo), hi);
}
static void b_clip(const float *restrict xp, const float *restrict yp, const float *restrict gp,
                   float *restrict gx, int64_t n, const double *f)
{
    (void)yp;
    float lo = (float)f[0], hi = (float)f[1];
    for (int64_t i = 0; i < n; i++) gx[i] = (xp[i] >= lo && xp[i] <= hi) ? gp[i] : 0.0f;
}

static const struct {
    fwd_fn fwd;
    bwd_fn bwd;
} kernels[KC__OP_COUNT] = {
    [KC__OP_NEG] = {f_neg, b_neg},
    [KC__OP_ABS] = {f_abs, b_abs},
    [KC__OP_SIGN] = {f_sign, b_sign},
    [KC__OP_SQUARE] = {f_square, b_square},
    [KC__OP_SQRT] = {f_sqrt, b_sqrt},
    [KC__OP_RSQRT] = {f_rsqrt, b_rsqrt},
    [KC__OP_EXP] = {f_exp, b_exp},
    [KC__OP_LOG] = {f_log, b_log},
    [KC__OP_LOG1P] = {f_log1p, b_log1p},
    [KC__OP_RELU] = {f_relu, b_relu},
    [KC__OP_SIGMOID] = {f_sigmoid, b_sigmoid},
    [KC__OP_TANH] = {f_tanh, b_tanh},
    [KC__OP_SOFTPLUS] = {f_softplus, b_softplus},
    [KC__OP_SOFTSIGN] = {f_softsign, b_softsign},
    [KC__OP_ELU] = {f_elu, b_elu},
    [KC__OP_SELU] = {f_selu, b_selu},
    [KC__OP_GELU] = {f_gelu, b_gelu},
    [KC__OP_SWISH] = {f_swish, b_swish},
    [KC__OP_HARD_SIGMOID] = {f_hard_sigmoid, b_hard_sigmoid},
    [KC__OP_MISH] = {f_mish, b_mish},
    [KC__OP_RELU_EX] = {f_relu_ex, b_relu_ex},
    [KC__OP_CLIP] = {f_clip, b_clip},
};

/* The kernels are elementwise: ranges of a tensor go to worker threads. */
typedef struct unary_job {
    const kc__op op;
    const float *x, *y, *g;
    float *out;
    const double *f;
} unary_job;

static void fwd_range(void *ctx, int64_t b, int64_t e)
{
    const unary_job *j = ctx;
    kernels[j->op].fwd(j->x + b, j->out + b, e - b, j->f);
}

static void bwd_range(void *ctx, int64_t b, int64_t e)
{
    const unary_job *j = ctx;
    kernels[j->op].bwd(j->x + b, j->y + b, j->g + b, j->out + b, e - b, j->f);
}

static kc_tensor *unary(kc__op op, kc_tensor *x, const kc__attrs *attrs, kc_error *err)
{
    if (kc__check_f32(kc__op_table[op].name, &x, 1, err) != KC_OK) return NULL;
    kc_tensor *y = kc__tensor_like(x, err);
    if (!y) return NULL;
    static const double no_f[4];
    unary_job j = {op, x->data, NULL, NULL, y->data, attrs ? attrs->f : no_f};
    kc__parallel_for(x->size, KC__GRAIN, fwd_range, &j);
    return kc__finish(op, y, &x, 1, attrs, err);
}

kc_status kc__unary_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                             kc_tensor **gin, kc_error *err)
{
    if (!needs[0]) return KC_OK;
    kc_tensor *x = node->in[0];
    gin[0] = kc__tensor_like(x, err);
    if (!gin[0]) return kc__error_code(err, KC_ENOMEM);
    unary_job j = {node->op, x->data, node->out[0]->data, gout[0]->data, gin[0]->data, node->attrs.f};
    kc__parallel_for(x->size, KC__GRAIN, bwd_range, &j);
    return KC_OK;
}

kc_tensor *kc_neg(kc_tensor *x, kc_error *err) { return unary(KC__OP_NEG, x, NULL, err); }
kc_tensor *kc_abs(kc_tensor *x, kc_error *err) { return unary(KC__OP_ABS, x, NULL, err); }
kc_tensor *kc_sign(kc_tensor *x, kc_error *err) { return unary(KC__OP_SIGN, x, NULL, err); }
kc_tensor *kc_square(kc_tensor *x, kc_error *err) { return unary(KC__OP_SQUARE, x, NULL, err); }
kc_tensor *kc_sqrt(kc_tensor *x, kc_error *err) { return unary(KC__OP_SQRT, x, NULL, err); }
kc_tensor *kc_rsqrt(kc_tensor *x, kc_error *err) { return unary(KC__OP_RSQRT, x, NULL, err); }
kc_tensor *kc_exp(kc_tensor *x, kc_error *err) { return unary(KC__OP_EXP, x, NULL, err); }
kc_tensor *kc_log(kc_tensor *x, kc_error *err) { return unary(KC__OP_LOG, x, NULL, err); }
kc_tensor *kc_log1p(kc_tensor *x, kc_error *err) { return unary(KC__OP_LOG1P, x, NULL, err); }
kc_tensor *kc_relu(kc_tensor *x, kc_error *err) { return unary(KC__OP_RELU, x, NULL, err); }
kc_tensor *kc_sigmoid(kc_tensor *x, kc_error *err) { return unary(KC__OP_SIGMOID, x, NULL, err); }
kc_tensor *kc_tanh(kc_tensor *x, kc_error *err) { return unary(KC__OP_TANH, x, NULL, err); }
kc_tensor *kc_softplus(kc_tensor *x, kc_error *err) { return unary(KC__OP_SOFTPLUS, x, NULL, err); }
kc_tensor *kc_softsign(kc_tensor *x, kc_error *err) { return unary(KC__OP_SOFTSIGN, x, NULL, err); }
kc_tensor *kc_selu(kc_tensor *x, kc_error *err) { return unary(KC__OP_SELU, x, NULL, err); }
kc_tensor *kc_swish(kc_tensor *x, kc_error *err) { return unary(KC__OP_SWISH, x, NULL, err); }
kc_tensor *kc_hard_sigmoid(kc_tensor *x, kc_error *err) { return unary(KC__OP_HARD_SIGMOID, x, NULL, err); }
kc_tensor *kc_mish(kc_tensor *x, kc_error *err) { return unary(KC__OP_MISH, x, NULL, err); }

kc_tensor *kc_elu(kc_tensor *x, float alpha, kc_error *err)
{
    kc__attrs a = {.f = {alpha}};
    return unary(KC__OP_ELU, x, &a, err);
}

kc_tensor *kc_gelu(kc_tensor *x, bool approximate, kc_error *err)
{
    kc__attrs a = {.f = {approximate ? 1.0 : 0.0}};
    return unary(KC__OP_GELU, x, &a, err);
}

kc_tensor *kc_relu_ex(kc_tensor *x, float negative_slope, float max_value, float threshold,
                      kc_error *err)
{
    if (isnan(negative_slope) || isnan(max_value) || isnan(threshold)) {
        kc__errf(err, KC_EINVAL, "relu: parameters must not be NaN");
        return NULL;
    }
    if (max_value < 0.0f) {
        kc__errf(err, KC_EINVAL, "relu: max_value must be >= 0, got %g", (double)max_value);
        return NULL;
    }
    kc__attrs a = {.f = {negative_slope, max_value, threshold}};
    return unary(KC__OP_RELU_EX, x, &a, err);
}

kc_tensor *kc_leaky_relu(kc_tensor *x, float negative_slope, kc_error *err)
{
    return kc_relu_ex(x, negative_slope, INFINITY, 0.0f, err);
}

kc_tensor *kc_relu6(kc_tensor *x, kc_error *err) { return kc_relu_ex(x, 0.0f, 6.0f, 0.0f, err); }

kc_tensor *kc_clip(kc_tensor *x, float lo, float hi, kc_error *err)
{
    if (!(lo <= hi)) {
        kc__errf(err, KC_EINVAL, "clip: lower bound %g is above upper bound %g", (double)lo,
                 (double)hi);
        return NULL;
    }
    kc__attrs a = {.f = {lo, hi}};
    return unary(KC__OP_CLIP, x, &a, err);
}
