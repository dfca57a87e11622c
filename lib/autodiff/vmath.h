/* ckeras private: float math functions that vectorize.
 *
 * libm's expf, tanhf, erff, ... are opaque calls, so a loop that calls one
 * per element stays scalar. These are branch-free inline versions (range
 * reduction, a polynomial, bit manipulation of the exponent, and selects
 * for the special cases) that GCC turns into SIMD code in any loop, at
 * every vector width the kernels are cloned for (SSE2, AVX2, AVX-512).
 *
 * Determinism: each function is a fixed sequence of IEEE operations, and
 * C11 mode compiles a * b + c as two rounded operations (no FMA
 * contraction), so a value is the same whether the loop that computes it
 * runs vectorized, in its scalar tail, on another vector width or in
 * another thread's chunk. That is what lets the inference path fuse an
 * activation into a convolution's output loop and still produce the same
 * bits as the op-by-op path.
 *
 * Accuracy (checked against libm in double over dense sweeps, in the ops
 * suite): exp, log, pow (which works in double inside) within 1 ulp;
 * expm1, tanh within 2 ulp; log1p, sigmoid, softplus, erf within 3 ulp. Coefficients: exp and tanh's small-argument polynomial
 * are Cephes' (as in the recurrent kernels); the others are fitted here
 * (weighted least squares toward minimax on Chebyshev nodes). */
#ifndef CKERAS_VMATH_H
#define CKERAS_VMATH_H

#include <stdint.h>
#include <string.h>

/* Kernel loops built for three vector widths (AVX-512, AVX2 + FMA
 * hardware, the x86-64 baseline), one chosen at load time by the CPU
 * (GCC's function multi-versioning); elsewhere the plain build. The
 * clones compute the same values: no contraction into FMA happens in C11
 * mode, so only the speed differs. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(KC_NO_CLONES)
#define KC__VECTORIZE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KC__VECTORIZE
#endif

static inline float kc__f_from_bits(int32_t i)
{
    float f;
    memcpy(&f, &i, sizeof(f));
    return f;
}

static inline int32_t kc__f_bits(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof(i));
    return i;
}

static inline float kc__fabs(float x) { return kc__f_from_bits(kc__f_bits(x) & 0x7fffffff); }

/* 2^e for an exponent e the caller keeps in [-126, 127]; shifted as
 * unsigned, so that the garbage exponents a NaN input leads to give
 * garbage (then discarded) rather than undefined behaviour. */
static inline float kc__pow2i(int32_t e) { return kc__f_from_bits((int32_t)((uint32_t)(e + 127) << 23)); }

/* x with the sign of s. */
static inline float kc__copysign(float x, float s)
{
    return kc__f_from_bits((kc__f_bits(x) & 0x7fffffff) | (kc__f_bits(s) & (int32_t)0x80000000));
}

/* The nearest integer of x as a float, for |x| < 2^22 (adding 1.5 * 2^23
 * leaves it in the low mantissa bits). */
#define KC__ROUND_MAGIC 12582912.0f

/* 2^n for integer n in [-252, 254] as the product of two powers of two,
 * so that results in the subnormal range and 2^128 (exp near 88.72) are
 * reached without an out-of-range exponent field. */
static inline float kc__exp2i_split(int32_t n, float p)
{
    int32_t n1 = n >> 1, n2 = n - n1;
    return p * kc__pow2i(n1) * kc__pow2i(n2);
}

/* x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so r is exact
 * enough), for |x| < 2^22. Returns r; *n receives n. */
static inline float kc__exp_reduce(float x, int32_t *n)
{
    float t = x * 1.44269504088896341f + KC__ROUND_MAGIC;
    float nf = t - KC__ROUND_MAGIC;
    *n = kc__f_bits(t) - kc__f_bits(KC__ROUND_MAGIC);
    return x - nf * 0.693359375f + nf * 2.12194440e-4f;
}

/* e^x: e^r by Cephes' polynomial, times 2^n. */
static inline float kc__expf(float x)
{
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 88.8f ? 88.8f : xc;
    int32_t ni;
    float r = kc__exp_reduce(xc, &ni);
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    float y = kc__exp2i_split(ni, p);
    y = x > 88.8f ? __builtin_inff() : y;
    y = x < -104.0f ? 0.0f : y;
    return x != x ? x : y;
}

/* e^x - 1 without cancellation near 0: with x = n ln2 + r,
 * e^x - 1 = 2^n (e^r - 1) + (2^n - 1), exact in float for |n| <= 24. */
static inline float kc__expm1f(float x)
{
    float xc = x < -18.0f ? -18.0f : x;
    xc = xc > 88.8f ? 88.8f : xc;
    int32_t ni;
    float r = kc__exp_reduce(xc, &ni);
    float p = (((1.98619309e-4f * r + 1.39261538e-3f) * r + 8.33334588e-3f) * r + 4.16665561e-2f) * r +
              1.66666672e-1f;
    float q = p * (r * r * r) + r * r * 0.5f + r; /* e^r - 1 */
    int32_t nc = ni > 24 ? 24 : ni;
    float s = kc__pow2i(nc);
    float small = s * q + (s - 1.0f);
    float big = kc__exp2i_split(ni, q + 1.0f) - 1.0f;
    float y = ni > 24 ? big : small;
    y = x > 88.8f ? __builtin_inff() : y;
    y = x < -18.0f ? -1.0f : y;
    y = x == 0.0f ? x : y; /* keeps -0 */
    return x != x ? x : y;
}

/* ln x: x = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = f - f^2/2 + f^3 P(f)
 * with f = m - 1; subnormals are scaled up by 2^23 first. */
static inline float kc__logf(float x)
{
    int32_t sub = x < 1.17549435e-38f;
    float xs = sub ? x * 8388608.0f : x;
    int32_t i = kc__f_bits(xs);
    int32_t e = ((i >> 23) & 0xff) - 127 - (sub ? 23 : 0);
    float m = kc__f_from_bits((i & 0x007fffff) | 0x3f800000);
    int32_t hi = m > 1.41421356f;
    m = hi ? m * 0.5f : m;
    e = hi ? e + 1 : e;
    float f = m - 1.0f, fe = (float)e;
    float z = f * f;
    float p = (((((((7.03746304e-2f * f - 1.15144990e-1f) * f + 1.16770297e-1f) * f - 1.24201588e-1f) * f +
                  1.42493218e-1f) * f - 1.66680574e-1f) * f + 2.00007141e-1f) * f - 2.49999940e-1f) * f +
              3.33333313e-1f;
    float y = f * z * p + fe * -2.12194440e-4f - 0.5f * z;
    y = f + y + fe * 0.693359375f;
    y = x == __builtin_inff() ? x : y;
    y = x == 0.0f ? -__builtin_inff() : y;
    y = x < 0.0f ? __builtin_nanf("") : y;
    return x != x ? x : y;
}

/* ln(1 + x): with u = 1 + x rounded, ln(u) * x / (u - 1) corrects the
 * rounding of u (Goldberg); x itself where u rounds to 1. */
static inline float kc__log1pf(float x)
{
    float u = 1.0f + x;
    float d = u - 1.0f;
    float y = kc__logf(u) * (x / (d == 0.0f ? 1.0f : d));
    y = d == 0.0f ? x : y;
    y = u == __builtin_inff() ? u : y;
    return x != x ? x : y;
}

/* Logistic sigmoid through e^-|x|, mirrored for x < 0: nothing overflows. */
static inline float kc__sigmoidf(float x)
{
    float e = kc__expf(-kc__fabs(x));
    float s = 1.0f / (1.0f + e);
    return x >= 0.0f ? s : e * s;
}

/* tanh: Cephes' odd polynomial below 0.625, (1 - e) / (1 + e) with
 * e = e^-2|x| above (no cancellation there). */
static inline float kc__tanhf(float x)
{
    float ax = kc__fabs(x);
    float e = kc__expf(-2.0f * ax);
    float big = (1.0f - e) / (1.0f + e);
    float z = x * x;
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                    1.33314422036e-1f) * z - 3.33332819422e-1f) * z * ax + ax;
    float t = ax < 0.625f ? small : big;
    return x != x ? x : kc__copysign(t, x);
}

/* log(1 + e^x) as max(x, 0) + log1p(e^-|x|): finite for any finite x. */
static inline float kc__softplusf(float x)
{
    float pos = x > 0.0f ? x : 0.0f;
    return pos + kc__log1pf(kc__expf(-kc__fabs(x)));
}

/* erf: x P(x^2) below 0.75; above, 1 - erfc with erfc(z) = e^-z^2 Q(t),
 * t = 1 / (1 + z / 2). */
static inline float kc__erff(float x)
{
    float ax = kc__fabs(x);
    float z = x * x;
    float small = (((((7.85384691e-5f * z - 8.01018905e-4f) * z + 5.18832728e-3f) * z - 2.68538110e-2f) * z +
                     1.12835854e-1f) * z - 3.76126260e-1f) * z + 1.12837911f;
    small = small * x;
    float zc = ax > 10.0f ? 10.0f : ax;
    float t = 1.0f / (1.0f + 0.5f * zc);
    float q = (((((((-6.02909306e-4f * t + 1.21583559e-1f) * t - 4.74741340e-1f) * t + 5.66384673e-1f) * t -
                   1.05261199e-1f) * t + 3.48331928e-1f) * t + 2.59590477e-1f) * t + 2.84921139e-1f) * t -
              1.54382520e-4f;
    float big = 1.0f - kc__expf(-zc * zc) * q;
    float y = ax < 0.75f ? small : kc__copysign(big, x);
    return x != x ? x : y;
}

/* x^y as IEEE pow: exp(y ln|x|) computed in double (so the float result is
 * within an ulp or two), with pow's special cases: x^0 = 1 and 1^y = 1
 * (even for NaN), a negative base only to integer powers, signed zeros
 * and infinities for odd integer powers. */
static inline float kc__powf(float x, float y)
{
    float ax = kc__fabs(x), ay = kc__fabs(y);
    /* ln|x| in double: |x| = 2^e m, m in [sqrt(1/2), sqrt(2)), and
     * ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172 */
    int32_t sub = ax < 1.17549435e-38f;
    float axs = sub ? ax * 8388608.0f : ax;
    int32_t i = kc__f_bits(axs);
    int32_t e = ((i >> 23) & 0xff) - 127 - (sub ? 23 : 0);
    double m = (double)kc__f_from_bits((i & 0x007fffff) | 0x3f800000);
    int32_t hi = m > 1.4142135623730951;
    m = hi ? m * 0.5 : m;
    e = hi ? e + 1 : e;
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double at = ((((((s2 / 15.0 + 1.0 / 13.0) * s2 + 1.0 / 11.0) * s2 + 1.0 / 9.0) * s2 + 1.0 / 7.0) * s2 +
                  1.0 / 5.0) * s2 + 1.0 / 3.0) * s2 + 1.0;
    double lnx = 2.0 * s * at + (double)e * 0.6931471805599453;
    /* e^t in double, t = k ln2 + r with |r| <= ln2 / 2; Taylor to r^12 */
    double t = (double)y * lnx;
    double tc = t < -200.0 ? -200.0 : (t > 200.0 ? 200.0 : t);
    double kd = tc * 1.4426950408889634 + 6755399441055744.0; /* 1.5 * 2^52 */
    double k = kd - 6755399441055744.0;
    double r = tc - k * 0.6931471805599453;
    double p = 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t kbits, magic = 0x4338000000000000LL; /* the bits of 1.5 * 2^52: k is the difference */
    memcpy(&kbits, &kd, sizeof(kbits));
    uint64_t sbits = ((uint64_t)kbits - (uint64_t)magic + 1023u) << 52; /* unsigned: no UB for NaN t */
    double scale;
    memcpy(&scale, &sbits, sizeof(scale));
    float mag = (float)(p * scale);
    /* exact cases the double path could blur; the tests are on the bits
     * (int32), so that the compiler does not move them onto the double
     * values and the selects keep one vector width */
    int32_t bx = kc__f_bits(x), by = kc__f_bits(y);
    int32_t abx = bx & 0x7fffffff, aby = by & 0x7fffffff;
    const int32_t inf = 0x7f800000, one = 0x3f800000;
    float zero_pow = by > 0 ? 0.0f : __builtin_inff(), inf_pow = by > 0 ? __builtin_inff() : 0.0f;
    mag = abx == 0 ? zero_pow : mag;
    mag = abx == inf ? inf_pow : mag;
    /* y an integer? odd? (every float of magnitude >= 2^24 is even);
     * conditions combined with & and |, which if-convert; y is zeroed on
     * the bits above 2^24 so that its conversion stays in range */
    int32_t yi = (int32_t)kc__f_from_bits(by & -(int32_t)(aby < 0x4b800000));
    int32_t is_int = ((float)yi == y) | (ay >= 16777216.0f);
    int32_t odd = (aby < 0x4b800000) & yi & 1;
    float res = (bx < 0) & odd ? -mag : mag;
    res = (bx < 0) & (abx != 0) & (abx < inf) & (is_int == 0) ? __builtin_nanf("") : res;
    res = (abx == one) & (aby == inf) ? 1.0f : res;
    res = (abx > inf) | (aby > inf) ? x + y : res;
    res = (aby == 0) | (bx == one) ? 1.0f : res;
    return res;
}

#endif /* CKERAS_VMATH_H */
