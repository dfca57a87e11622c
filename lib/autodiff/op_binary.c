/* Binary elementwise ops with NumPy broadcasting: arithmetic, maximum /
 * minimum, comparisons and where.
 *
 * Forward kernels see the innermost axis of a broadcast plan (op_util.c),
 * where each operand's stride is 0 or 1; writing the three stride cases out
 * lets the compiler vectorize the common same-shape and bias-add loops.
 * Backward computes the elementwise gradient at the output's shape and sums
 * it back to each input's shape (kc__sum_to), which is exactly how
 * TensorFlow undoes broadcasting. */
#include "autodiff_int.h"
#include "vmath.h"

#include <math.h>

typedef void (*bin_fn)(const float *a, int64_t sa, const float *b, int64_t sb, float *o,
                       int64_t n);
typedef void (*tri_fn)(const float *x, int64_t sx, const float *y, int64_t sy, const float *z,
                       int64_t sz, float *o, int64_t n);

#define BIN_KERNEL(fname, expr)                                                                    \
    KC__VECTORIZE static void fname(const float *restrict a, int64_t sa, const float *restrict b, int64_t sb,    \
                      float *restrict o, int64_t n)                                                \
    {                                                                                              \
        if (sa && sb) {                                                                            \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float x = a[i], y = b[i];                                                          \
                o[i] = (expr);                                                                     \
            }                                                                                      \
        } else if (sa) {                                                                           \
            float y = b[0];                                                                        \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float x = a[i];                                                                    \
                o[i] = (expr);                                                                     \
            }                                                                                      \
        } else if (sb) {                                                                           \
            float x = a[0];                                                                        \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float y = b[i];                                                                    \
                o[i] = (expr);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            float x = a[0], y = b[0];                                                              \
            float v = (expr);                                                                      \
            for (int64_t i = 0; i < n; i++) o[i] = v;                                              \
        }                                                                                          \
    }

BIN_KERNEL(k_add, x + y)
BIN_KERNEL(k_sub, x - y)
BIN_KERNEL(k_mul, x *y)
BIN_KERNEL(k_div, x / y)
BIN_KERNEL(k_pow, kc__powf(x, y))
BIN_KERNEL(k_max, (x >= y || isnan(x)) ? x : y)
BIN_KERNEL(k_min, (x <= y || isnan(x)) ? x : y)
BIN_KERNEL(k_lt, x < y ? 1.0f : 0.0f)
BIN_KERNEL(k_le, x <= y ? 1.0f : 0.0f)
BIN_KERNEL(k_gt, x > y ? 1.0f : 0.0f)
BIN_KERNEL(k_ge, x >= y ? 1.0f : 0.0f)
BIN_KERNEL(k_eq, x == y ? 1.0f : 0.0f)
BIN_KERNEL(k_ne, x != y ? 1.0f : 0.0f)

static void run3(const kc__bcast *p, const float *x, const float *y, const float *z, float *o,
                 tri_fn fn)
{
    int nd = p->nd;
    int64_t inner = p->dims[nd - 1];
    int64_t sx = p->strides[0][nd - 1], sy = p->strides[1][nd - 1], sz = p->strides[2][nd - 1];
    int64_t outer = 1;
    for (int i = 0; i < nd - 1; i++) outer *= p->dims[i];
    int64_t idx[KC_MAX_DIMS] = {0};
    int64_t ox = 0, oy = 0, oz = 0;
    for (int64_t q = 0; q < outer; q++) {
        fn(x + ox, sx, y + oy, sy, z + oz, sz, o + q * inner, inner);
        for (int i = nd - 2; i >= 0; i--) {
            if (++idx[i] < p->dims[i]) {
                ox += p->strides[0][i];
                oy += p->strides[1][i];
                oz += p->strides[2][i];
                break;
            }
            ox -= p->strides[0][i] * (p->dims[i] - 1);
            oy -= p->strides[1][i] * (p->dims[i] - 1);
            oz -= p->strides[2][i] * (p->dims[i] - 1);
            idx[i] = 0;
        }
    }
}

/* Walk a plan's outer axes (the output is contiguous), split over worker
 * threads: by rows of the outer axes, or -- one flat axis -- by ranges. */
typedef struct run2_job {
    const kc__bcast *p;
    const float *a, *b;
    float *o;
    bin_fn fn;
    int64_t inner;
} run2_job;

static void run2_rows(void *ctx, int64_t q0, int64_t q1)
{
    const run2_job *j = ctx;
    const kc__bcast *p = j->p;
    int nd = p->nd;
    int64_t sa = p->strides[0][nd - 1], sb = p->strides[1][nd - 1];
    int64_t idx[KC_MAX_DIMS] = {0}, oa = 0, ob = 0, rest = q0;
    for (int i = nd - 2; i >= 0; i--) { /* the outer index of row q0 */
        idx[i] = rest % p->dims[i];
        rest /= p->dims[i];
        oa += idx[i] * p->strides[0][i];
        ob += idx[i] * p->strides[1][i];
    }
    for (int64_t q = q0; q < q1; q++) {
        j->fn(j->a + oa, sa, j->b + ob, sb, j->o + q * j->inner, j->inner);
        for (int i = nd - 2; i >= 0; i--) {
            if (++idx[i] < p->dims[i]) {
                oa += p->strides[0][i];
                ob += p->strides[1][i];
                break;
            }
            oa -= p->strides[0][i] * (p->dims[i] - 1);
            ob -= p->strides[1][i] * (p->dims[i] - 1);
            idx[i] = 0;
        }
    }
}

static void run2_flat(void *ctx, int64_t b, int64_t e)
{
    const run2_job *j = ctx;
    int64_t sa = j->p->strides[0][0], sb = j->p->strides[1][0];
    j->fn(j->a + b * sa, sa, j->b + b * sb, sb, j->o + b, e - b);
}

static void run2_parallel(const kc__bcast *p, const float *a, const float *b, float *o, bin_fn fn)
{
    int64_t inner = p->dims[p->nd - 1], outer = 1;
    for (int i = 0; i < p->nd - 1; i++) outer *= p->dims[i];
    run2_job j = {p, a, b, o, fn, inner};
    if (outer == 1) kc__parallel_for(inner, KC__GRAIN, run2_flat, &j);
    else kc__parallel_for(outer, inner >= KC__GRAIN ? 1 : KC__GRAIN / inner, run2_rows, &j);
}

/* Compute fn over the broadcast of a and b; no recording. */
static kc_tensor *binary_raw(const char *name, kc_tensor *a, kc_tensor *b, bin_fn fn,
                             kc_error *err)
{
    kc_tensor *in[2] = {a, b};
    if (kc__check_f32(name, in, 2, err) != KC_OK) return NULL;
    int nd;
    int64_t dims[KC_MAX_DIMS];
    if (kc__broadcast_shape(name, a->ndim, a->dims, b->ndim, b->dims, &nd, dims, err) != KC_OK)
        return NULL;
    kc_tensor *out = kc_tensor_empty(KC_FLOAT32, nd, dims, err);
    if (!out) return NULL;
    if (out->size) {
        kc__bcast plan;
        kc__bcast_init(&plan, nd, dims, 2, (const kc_tensor *const *)in);
        run2_parallel(&plan, a->data, b->data, out->data, fn);
    }
    return out;
}

/* fn(x, y, z) over the broadcast of three tensors whose broadcast shape is
 * (nd, dims); no recording. */
static kc_tensor *ternary_raw(kc_tensor *x, kc_tensor *y, kc_tensor *z, int nd,
                              const int64_t *dims, tri_fn fn, kc_error *err)
{
    kc_tensor *out = kc_tensor_empty(KC_FLOAT32, nd, dims, err);
    if (!out) return NULL;
    if (out->size) {
        const kc_tensor *ops[3] = {x, y, z};
        kc__bcast plan;
        kc__bcast_init(&plan, nd, dims, 3, ops);
        run3(&plan, x->data, y->data, z->data, out->data, fn);
    }
    return out;
}

static kc_tensor *binary_op(kc__op op, const char *name, kc_tensor *a, kc_tensor *b, bin_fn fn,
                            kc_error *err)
{
    kc_tensor *out = binary_raw(name, a, b, fn, err);
    kc_tensor *in[2] = {a, b};
    return kc__finish(op, out, in, 2, NULL, err);
}

kc_tensor *kc_add(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_op(KC__OP_ADD, "add", a, b, k_add, err); }
kc_tensor *kc_sub(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_op(KC__OP_SUB, "sub", a, b, k_sub, err); }
kc_tensor *kc_mul(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_op(KC__OP_MUL, "mul", a, b, k_mul, err); }
kc_tensor *kc_div(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_op(KC__OP_DIV, "div", a, b, k_div, err); }
kc_tensor *kc_pow(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_op(KC__OP_POW, "pow", a, b, k_pow, err); }
kc_tensor *kc_maximum(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_op(KC__OP_MAXIMUM, "maximum", a, b, k_max, err); }
kc_tensor *kc_minimum(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_op(KC__OP_MINIMUM, "minimum", a, b, k_min, err); }

kc_tensor *kc_less(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_raw("less", a, b, k_lt, err); }
kc_tensor *kc_less_equal(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_raw("less_equal", a, b, k_le, err); }
kc_tensor *kc_greater(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_raw("greater", a, b, k_gt, err); }
kc_tensor *kc_greater_equal(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_raw("greater_equal", a, b, k_ge, err); }
kc_tensor *kc_equal(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_raw("equal", a, b, k_eq, err); }
kc_tensor *kc_not_equal(kc_tensor *a, kc_tensor *b, kc_error *err) { return binary_raw("not_equal", a, b, k_ne, err); }

/* ---- scalar right operands ------------------------------------------------- */

typedef kc_tensor *(*binary_api)(kc_tensor *, kc_tensor *, kc_error *);

static kc_tensor *with_scalar(binary_api fn, kc_tensor *a, float b, bool scalar_first,
                              kc_error *err)
{
    if (!a) return fn(NULL, NULL, err); /* propagates / reports the NULL input */
    kc_tensor *s = kc_tensor_scalar(b, err);
    if (!s) return NULL;
    kc_tensor *out = scalar_first ? fn(s, a, err) : fn(a, s, err);
    kc_tensor_unref(s);
    return out;
}

kc_tensor *kc_add_scalar(kc_tensor *a, float b, kc_error *err) { return with_scalar(kc_add, a, b, false, err); }
kc_tensor *kc_sub_scalar(kc_tensor *a, float b, kc_error *err) { return with_scalar(kc_sub, a, b, false, err); }
kc_tensor *kc_mul_scalar(kc_tensor *a, float b, kc_error *err) { return with_scalar(kc_mul, a, b, false, err); }
kc_tensor *kc_div_scalar(kc_tensor *a, float b, kc_error *err) { return with_scalar(kc_div, a, b, false, err); }
kc_tensor *kc_pow_scalar(kc_tensor *a, float b, kc_error *err) { return with_scalar(kc_pow, a, b, false, err); }
kc_tensor *kc_maximum_scalar(kc_tensor *a, float b, kc_error *err) { return with_scalar(kc_maximum, a, b, false, err); }
kc_tensor *kc_minimum_scalar(kc_tensor *a, float b, kc_error *err) { return with_scalar(kc_minimum, a, b, false, err); }
kc_tensor *kc_less_scalar(kc_tensor *a, float b, kc_error *err) { return with_scalar(kc_less, a, b, false, err); }
kc_tensor *kc_greater_scalar(kc_tensor *a, float b, kc_error *err) { return with_scalar(kc_greater, a, b, false, err); }
kc_tensor *kc_scalar_sub(float b, kc_tensor *a, kc_error *err) { return with_scalar(kc_sub, a, b, true, err); }

/* ---- where -------------------------------------------------------------------- */

KC__VECTORIZE static void k_where(const float *restrict c, int64_t sc, const float *restrict a, int64_t sa,
                    const float *restrict b, int64_t sb, float *restrict o, int64_t n)
{
    for (int64_t i = 0; i < n; i++) o[i] = c[i * sc] != 0.0f ? a[i * sa] : b[i * sb];
}

kc_tensor *kc_where(kc_tensor *cond, kc_tensor *a, kc_tensor *b, kc_error *err)
{
    kc_tensor *in[3] = {cond, a, b};
    if (kc__check_f32("where", in, 3, err) != KC_OK) return NULL;
    int nd1, nd;
    int64_t d1[KC_MAX_DIMS], dims[KC_MAX_DIMS];
    if (kc__broadcast_shape("where", cond->ndim, cond->dims, a->ndim, a->dims, &nd1, d1, err) ||
        kc__broadcast_shape("where", nd1, d1, b->ndim, b->dims, &nd, dims, err))
        return NULL;
    kc_tensor *out = ternary_raw(cond, a, b, nd, dims, k_where, err);
    return kc__finish(KC__OP_WHERE, out, in, 3, NULL, err);
}

/* ---- backward ----------------------------------------------------------------- */

/* Gradient kernels see g at the output's shape (stride 1) and the inputs
 * with stride 0 or 1; the four cases are written out so each loop is a
 * plain vector loop. */
#define TRI_LOOP(ia, ib, expr)                                                                     \
    for (int64_t i = 0; i < n; i++) {                                                              \
        float G = gp[i * sg], A = ap[ia], B = bp[ib];                                              \
        (void)A;                                                                                   \
        (void)B;                                                                                   \
        o[i] = (expr);                                                                             \
    }
#define TRI_KERNEL(fname, expr)                                                                    \
    KC__VECTORIZE static void fname(const float *restrict gp, int64_t sg, const float *restrict ap, \
                                    int64_t sa, const float *restrict bp, int64_t sb,              \
                                    float *restrict o, int64_t n)                                  \
    {                                                                                              \
        if (sg != 1) {                                                                             \
            TRI_LOOP(i * sa, i * sb, expr)                                                         \
        } else if (sa && sb) {                                                                     \
            sg = 1;                                                                                \
            TRI_LOOP(i, i, expr)                                                                   \
        } else if (sa) {                                                                           \
            sg = 1;                                                                                \
            TRI_LOOP(i, 0, expr)                                                                   \
        } else if (sb) {                                                                           \
            sg = 1;                                                                                \
            TRI_LOOP(0, i, expr)                                                                   \
        } else {                                                                                   \
            sg = 1;                                                                                \
            TRI_LOOP(0, 0, expr)                                                                   \
        }                                                                                          \
    }

TRI_KERNEL(t_neg_g, -G)
TRI_KERNEL(t_g_mul_b, G *B)
TRI_KERNEL(t_g_mul_a, G *A)
TRI_KERNEL(t_g_div_b, G / B)
TRI_KERNEL(t_div_b, -G * A / (B * B))
TRI_KERNEL(t_pow_a, G *B *kc__powf(A, B - 1.0f))
TRI_KERNEL(t_pow_b, A > 0.0f ? G * kc__powf(A, B) * kc__logf(A) : 0.0f)
TRI_KERNEL(t_max_a, (A >= B || isnan(A)) ? G : 0.0f)
TRI_KERNEL(t_max_b, (A >= B || isnan(A)) ? 0.0f : G)
TRI_KERNEL(t_min_a, (A <= B || isnan(A)) ? G : 0.0f)
TRI_KERNEL(t_min_b, (A <= B || isnan(A)) ? 0.0f : G)
TRI_KERNEL(t_where_a, A != 0.0f ? G : 0.0f) /* A = cond, B unused */
TRI_KERNEL(t_where_b, A != 0.0f ? 0.0f : G)

/* gradient for input `which` (a tensor of node->in) = sum_to(fn(g, x, y)). */
static kc_status grad_for(kc_tensor **slot, kc_tensor *g, kc_tensor *x, kc_tensor *y,
                          const kc_tensor *target, tri_fn fn, kc_error *err)
{
    kc_tensor *full = fn ? ternary_raw(g, x, y, g->ndim, g->dims, fn, err) : kc_tensor_ref(g);
    if (!full) return kc__error_code(err, KC_ENOMEM);
    *slot = kc__sum_to(full, target->ndim, target->dims, err);
    kc_tensor_unref(full);
    return *slot ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

kc_status kc__binary_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                                 kc_tensor **gin, kc_error *err)
{
    kc_tensor *a = node->in[0], *b = node->in[1], *g = gout[0];
    tri_fn fa = NULL, fb = NULL;
    switch (node->op) {
    case KC__OP_ADD: break;
    case KC__OP_SUB: fb = t_neg_g; break;
    case KC__OP_MUL: fa = t_g_mul_b; fb = t_g_mul_a; break;
    case KC__OP_DIV: fa = t_g_div_b; fb = t_div_b; break;
    case KC__OP_POW: fa = t_pow_a; fb = t_pow_b; break;
    case KC__OP_MAXIMUM: fa = t_max_a; fb = t_max_b; break;
    case KC__OP_MINIMUM: fa = t_min_a; fb = t_min_b; break;
    default: return kc__errf(err, KC_EINTERNAL, "binary_backward: unexpected op");
    }
    if (needs[0] && grad_for(&gin[0], g, a, b, a, fa, err) != KC_OK) return kc__error_code(err, KC_ENOMEM);
    if (needs[1] && grad_for(&gin[1], g, a, b, b, fb, err) != KC_OK) return kc__error_code(err, KC_ENOMEM);
    return KC_OK;
}

kc_status kc__where_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                                kc_tensor **gin, kc_error *err)
{
    kc_tensor *c = node->in[0], *g = gout[0];
    if (needs[1] && grad_for(&gin[1], g, c, c, node->in[1], t_where_a, err) != KC_OK)
        return kc__error_code(err, KC_ENOMEM);
    if (needs[2] && grad_for(&gin[2], g, c, c, node->in[2], t_where_b, err) != KC_OK)
        return kc__error_code(err, KC_ENOMEM);
    return KC_OK;
}
