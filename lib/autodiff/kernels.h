/* ckeras private: the raw kernels behind the elementwise ops, shared by
 * the ops (which add shapes, broadcasting and tapes) and by the inference
 * path (lib/inference), which runs them on its own buffers. One kernel,
 * two callers: that is why the inference path gives the same bits as the
 * op-by-op one. */
#ifndef CKERAS_KERNELS_H
#define CKERAS_KERNELS_H

#include "autodiff_int.h"

/* An activation fused into a kernel's output loop: a unary op and its
 * parameters, as kc__unary_forward takes them; op KC__OP_COUNT is none. */
typedef struct kc__act {
    kc__op op;
    double f[4];
} kc__act;

static inline bool kc__act_none(const kc__act *a) { return !a || a->op == KC__OP_COUNT; }
/* y[0..n) = act(y) (nothing for none). */
void kc__act_apply(const kc__act *act, float *y, int64_t n);

/* True for the ops with an elementwise unary kernel (NEG .. CLIP). */
bool kc__unary_op(kc__op op);
/* y[0..n) = op(x) with the op's parameters f (NULL: none); the kernels of
 * kc_relu_ex, kc_elu, ... read f as those functions store it. x and y
 * must not overlap; use the in-place form for y = op(y). */
void kc__unary_forward(kc__op op, const float *x, float *y, int64_t n, const double *f);
void kc__unary_inplace(kc__op op, float *y, int64_t n, const double *f);

/* softmax (or log_softmax) of x seen as [outer, n, inner] along n. */
void kc__softmax_rows(const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool log_form);

#endif /* CKERAS_KERNELS_H */
