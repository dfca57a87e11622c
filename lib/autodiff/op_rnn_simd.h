/* ckeras private: the vectorized gate activations of op_rnn.c.
 *
 * Included by op_rnn.c once per vector width, with VEC_WIDTH (floats per
 * vector), VEC_ATTR (a function attribute: the target, or nothing) and
 * VEC_NAME(f) (a suffixed name) defined; it defines map_sigmoid, map_tanh,
 * map_hard_sigmoid and map_relu under VEC_NAME and undefines the three
 * macros. The code is written with GCC / Clang vector extensions, which
 * every target lowers to its SIMD registers (or to scalar code).
 *
 * The exp needs only non-positive arguments: Cephes' expf polynomial
 * (relative error below 1e-7), 0 below -87 where float would go
 * subnormal. tanh uses Cephes' tanhf polynomial below 0.625 and
 * (1 - e^-2|x|) / (1 + e^-2|x|) above, where nothing cancels; sigmoid is
 * 1 / (1 + e^-|x|), mirrored for x < 0. All agree with libm to a few ulps. */

typedef float VEC_NAME(vf) __attribute__((vector_size(VEC_WIDTH * 4)));
typedef int32_t VEC_NAME(vi) __attribute__((vector_size(VEC_WIDTH * 4)));
#define VF VEC_NAME(vf)
#define VI VEC_NAME(vi)

VEC_ATTR static inline VF VEC_NAME(vsel)(VI m, VF a, VF b) { return (VF)(((VI)a & m) | ((VI)b & ~m)); }

VEC_ATTR static inline VF VEC_NAME(vexp_neg)(VF x)
{
    VI ok = x >= -87.0f; /* false below -87 and for NaN, which are kept out of the integer part */
    VF y = VEC_NAME(vsel)(ok, x, (VF){0.0f});
    VI n = __builtin_convertvector(y * 1.44269504088896341f - 0.5f, VI); /* round(y log2 e), y <= 0 */
    VF fn = __builtin_convertvector(n, VF);
    VF r = y - fn * 0.693359375f + fn * 2.12194440e-4f; /* y - n ln 2, in two parts */
    VF p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
            1.6666665459e-1f) * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    VF e = (VF)((VI)(p * (VF)((n + 127) << 23)) & ok);
    return VEC_NAME(vsel)(x != x, x, e); /* NaN stays NaN */
}

VEC_ATTR static inline VF VEC_NAME(vsigmoid)(VF x)
{
    VF e = VEC_NAME(vexp_neg)((VF)((VI)x | (int32_t)0x80000000)), s = 1.0f / (1.0f + e);
    return VEC_NAME(vsel)(x >= 0.0f, s, e * s);
}

VEC_ATTR static inline VF VEC_NAME(vtanh)(VF x)
{
    VF ax = (VF)((VI)x & 0x7fffffff), e = VEC_NAME(vexp_neg)(-2.0f * ax), z = x * x;
    VF big = (1.0f - e) / (1.0f + e);
    VF small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
                3.33332819422e-1f) * z * ax + ax;
    VF t = VEC_NAME(vsel)(ax < 0.625f, small, big);
    return (VF)((VI)t | ((VI)x & (int32_t)0x80000000)); /* the sign of x */
}

VEC_ATTR static inline VF VEC_NAME(vhard_sigmoid)(VF x)
{
    VF y = 0.2f * x + 0.5f;
    y = VEC_NAME(vsel)(y < 0.0f, (VF){0.0f}, y);
    return VEC_NAME(vsel)(y > 1.0f, (VF){0.0f} + 1.0f, y);
}

VEC_ATTR static inline VF VEC_NAME(vrelu)(VF x) { return VEC_NAME(vsel)(x > 0.0f, x, (VF){0.0f}); }

/* x[0..n) <- f(x); the tail goes through a zero-padded vector */
#define VEC_MAP(f)                                                                                 \
    VEC_ATTR static void VEC_NAME(map_##f)(float *x, int64_t n)                                   \
    {                                                                                              \
        int64_t i = 0;                                                                             \
        for (; i + VEC_WIDTH <= n; i += VEC_WIDTH) {                                               \
            VF v;                                                                                  \
            memcpy(&v, x + i, sizeof(v));                                                          \
            v = VEC_NAME(v##f)(v);                                                                 \
            memcpy(x + i, &v, sizeof(v));                                                          \
        }                                                                                          \
        if (i < n) {                                                                               \
            VF v = {0.0f};                                                                         \
            memcpy(&v, x + i, sizeof(float) * (size_t)(n - i));                                    \
            v = VEC_NAME(v##f)(v);                                                                 \
            memcpy(x + i, &v, sizeof(float) * (size_t)(n - i));                                    \
        }                                                                                          \
    }
VEC_MAP(sigmoid)
VEC_MAP(tanh)
VEC_MAP(hard_sigmoid)
VEC_MAP(relu)
#undef VEC_MAP
#undef VF
#undef VI
#undef VEC_WIDTH
#undef VEC_ATTR
#undef VEC_NAME
