/* Unary elementwise ops: math functions and activations.
 *
 * Each op is a forward loop y = f(x) (and its in-place twin) and a
 * backward loop gx = g * f'(x), where f' may use the saved output y
 * (sigmoid, tanh, exp, sqrt) to avoid recomputing. The math functions are
 * vmath.h's, so every loop vectorizes and gives the same bits on any vector
 * width. Numerically delicate functions use their stable forms:
 * softplus = max(x, 0) + log1p(exp(-|x|)), sigmoid through exp(-|x|), so
 * that neither overflows for large |x|. Keras' hard_sigmoid is the Keras 2 /
 * TensorFlow.js one, clip(0.2 x + 0.5, 0, 1) (Keras 3 changed the slope). */
#include "autodiff_int.h"
#include "kernels.h"
#include "vmath.h"

#include <math.h>

typedef void (*fwd_fn)(const float *restrict x, float *restrict y, int64_t n, const double *f);
typedef void (*inplace_fn)(float *y, int64_t n, const double *f);
typedef void (*bwd_fn)(const float *restrict x, const float *restrict y, const float *restrict g,
                       float *restrict gx, int64_t n, const double *f);

#define SELU_ALPHA 1.6732632423543772848170429916717f
#define SELU_SCALE 1.0507009873554804934193349852946f
#define SQRT_2_OVER_PI 0.7978845608028654f
#define INV_SQRT_2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

/* Each op is three loops over one expression of x (and of the parameters
 * f[], read as float p0..p3): forward, forward in place (the inference
 * path applies activations to a producer's output where it lies), and
 * backward gx = g * f'(x), which may use the saved output y. All of them
 * vectorize (vmath.h); the parameters are loop invariants, so conditions
 * on them are hoisted out of the loops. */
#define UNARY(name, fexpr, bexpr)                                                                  \
    KC__VECTORIZE static void f_##name(const float *restrict xp, float *restrict yp, int64_t n,   \
                                       const double *f)                                            \
    {                                                                                              \
        const float p0 = (float)f[0], p1 = (float)f[1], p2 = (float)f[2];                           \
        (void)p0, (void)p1, (void)p2;                                                              \
        for (int64_t i = 0; i < n; i++) {                                                          \
            float x = xp[i];                                                                       \
            yp[i] = (fexpr);                                                                       \
        }                                                                                          \
    }                                                                                              \
    KC__VECTORIZE static void i_##name(float *yp, int64_t n, const double *f)                     \
    {                                                                                              \
        const float p0 = (float)f[0], p1 = (float)f[1], p2 = (float)f[2];                           \
        (void)p0, (void)p1, (void)p2;                                                              \
        for (int64_t i = 0; i < n; i++) {                                                          \
            float x = yp[i];                                                                       \
            yp[i] = (fexpr);                                                                       \
        }                                                                                          \
    }                                                                                              \
    KC__VECTORIZE static void b_##name(const float *restrict xp, const float *restrict yp,        \
                                       const float *restrict gp, float *restrict gx, int64_t n,    \
                                       const double *f)                                            \
    {                                                                                              \
        const float p0 = (float)f[0], p1 = (float)f[1], p2 = (float)f[2];                           \
        (void)p0, (void)p1, (void)p2, (void)xp, (void)yp;                                          \
        for (int64_t i = 0; i < n; i++) {                                                          \
            float x = xp[i], y = yp[i], g = gp[i];                                                 \
            (void)x, (void)y, (void)g;                                                             \
            gx[i] = (bexpr);                                                                       \
        }                                                                                          \
    }

/* Selects written out (fmaxf / fminf are calls that keep loops scalar);
 * like the libm forms they replace, a NaN input to relu, relu_ex,
 * hard_sigmoid and clip gives the lower bound. */
static inline float pos_part(float v) { return v > 0.0f ? v : 0.0f; }
static inline float cap(float v, float hi) { return v < hi ? v : hi; }

static inline float swishf(float x) { return x * kc__sigmoidf(x); }
static inline float mishf(float x) { return x * kc__tanhf(kc__softplusf(x)); }
static inline float mish_grad(float x)
{
    float t = kc__tanhf(kc__softplusf(x));
    return t + x * (1.0f - t * t) * kc__sigmoidf(x);
}
static inline float gelu_tanh(float x)
{
    return 0.5f * x * (1.0f + kc__tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
}
static inline float gelu_tanh_grad(float x)
{
    float t = kc__tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x));
    float dt = (1.0f - t * t) * SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * dt;
}
static inline float gelu_erf(float x) { return 0.5f * x * (1.0f + kc__erff(x * INV_SQRT_2)); }
static inline float gelu_erf_grad(float x)
{
    float cdf = 0.5f * (1.0f + kc__erff(x * INV_SQRT_2));
    float pdf = INV_SQRT_2PI * kc__expf(-0.5f * x * x);
    return cdf + x * pdf;
}
/* Keras' relu(x, negative_slope p0, max_value p1, threshold p2), step by
 * step as keras.backend.relu computes it. */
static inline float relu_ex(float x, float a, float m, float t)
{
    float pos = x > t ? x : 0.0f;
    pos = m < __builtin_inff() ? cap(pos_part(pos), m) : pos;
    float neg = a != 0.0f ? a * pos_part(t - x) : 0.0f;
    return pos - neg;
}
static inline float relu_ex_grad(float x, float a, float m, float t)
{
    float d = (x > t && (!(m < __builtin_inff()) || (x >= 0.0f && x <= m))) ? 1.0f : 0.0f;
    return x < t ? d + a : d;
}
/* Keras 3's hard_silu: x * relu6(x + 3) / 6. */
static inline float hard_swishf(float x) { return x * (cap(pos_part(x + 3.0f), 6.0f) / 6.0f); }
static inline float hard_swish_grad(float x)
{
    return x < -3.0f ? 0.0f : x > 3.0f ? 1.0f : (2.0f * x + 3.0f) / 6.0f;
}

UNARY(neg, -x, -g)
UNARY(abs, kc__fabs(x), x > 0.0f ? g : x < 0.0f ? -g : 0.0f)
UNARY(sign, x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x, 0.0f)
UNARY(square, x *x, 2.0f * x * g)
UNARY(sqrt, sqrtf(x), g * 0.5f / y)
UNARY(rsqrt, 1.0f / sqrtf(x), -0.5f * g * y * y * y)
UNARY(exp, kc__expf(x), g *y)
UNARY(log, kc__logf(x), g / x)
UNARY(log1p, kc__log1pf(x), g / (1.0f + x))
UNARY(relu, x > 0.0f ? x : 0.0f, x > 0.0f ? g : 0.0f)
UNARY(sigmoid, kc__sigmoidf(x), g *y *(1.0f - y))
UNARY(tanh, kc__tanhf(x), g *(1.0f - y * y))
UNARY(softplus, kc__softplusf(x), g *kc__sigmoidf(x))
UNARY(softsign, x / (1.0f + kc__fabs(x)), g / ((1.0f + kc__fabs(x)) * (1.0f + kc__fabs(x))))
UNARY(selu, x > 0.0f ? SELU_SCALE * x : SELU_SCALE * SELU_ALPHA * kc__expm1f(x),
      x > 0.0f ? g * SELU_SCALE : g * (y + SELU_SCALE * SELU_ALPHA))
UNARY(swish, swishf(x), g *kc__sigmoidf(x) * (1.0f + x * (1.0f - kc__sigmoidf(x))))
UNARY(hard_sigmoid, cap(pos_part(0.2f * x + 0.5f), 1.0f), (x > -2.5f && x < 2.5f) ? 0.2f * g : 0.0f)
UNARY(hard_swish, hard_swishf(x), g *hard_swish_grad(x))
UNARY(mish, mishf(x), g *mish_grad(x))
/* with parameters: elu alpha p0; gelu approximate p0 != 0; relu_ex; clip
 * bounds p0, p1 (NaN gives the lower one, as fmaxf did) */
UNARY(elu, x > 0.0f ? x : p0 * kc__expm1f(x), x > 0.0f ? g : g * (y + p0))
UNARY(gelu, p0 != 0.0f ? gelu_tanh(x) : gelu_erf(x), g *(p0 != 0.0f ? gelu_tanh_grad(x) : gelu_erf_grad(x)))
UNARY(relu_ex, relu_ex(x, p0, p1, p2), g *relu_ex_grad(x, p0, p1, p2))
UNARY(clip, cap(x > p0 ? x : p0, p1), (x >= p0 && x <= p1) ? g : 0.0f)

static const struct {
    fwd_fn fwd;
    inplace_fn inplace;
    bwd_fn bwd;
} kernels[KC__OP_COUNT] = {
#define K(OP, name) [KC__OP_##OP] = {f_##name, i_##name, b_##name}
    K(NEG, neg),           K(ABS, abs),       K(SIGN, sign),         K(SQUARE, square),
    K(SQRT, sqrt),         K(RSQRT, rsqrt),   K(EXP, exp),           K(LOG, log),
    K(LOG1P, log1p),       K(RELU, relu),     K(SIGMOID, sigmoid),   K(TANH, tanh),
    K(SOFTPLUS, softplus), K(SOFTSIGN, softsign), K(ELU, elu),       K(SELU, selu),
    K(GELU, gelu),         K(SWISH, swish),   K(HARD_SIGMOID, hard_sigmoid),
    K(HARD_SWISH, hard_swish), K(MISH, mish), K(RELU_EX, relu_ex),   K(CLIP, clip),
#undef K
};

bool kc__unary_op(kc__op op) { return (unsigned)op < KC__OP_COUNT && kernels[op].fwd != NULL; }

void kc__unary_forward(kc__op op, const float *x, float *y, int64_t n, const double *f)
{
    static const double no_f[4];
    kernels[op].fwd(x, y, n, f ? f : no_f);
}

void kc__unary_inplace(kc__op op, float *y, int64_t n, const double *f)
{
    static const double no_f[4];
    kernels[op].inplace(y, n, f ? f : no_f);
}

void kc__act_apply(const kc__act *act, float *y, int64_t n)
{
    if (!kc__act_none(act) && n > 0) kernels[act->op].inplace(y, n, act->f);
}

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
kc_tensor *kc_hard_swish(kc_tensor *x, kc_error *err) { return unary(KC__OP_HARD_SWISH, x, NULL, err); }

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
