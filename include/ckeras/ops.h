/* ckeras: eager tensor operations.
 *
 * Each op computes its result immediately and returns a new reference (the
 * caller unrefs it). While a gradient tape is recording (autodiff.h), ops on
 * tensors it tracks are recorded so that kc_tape_gradient() can
 * differentiate them.
 *
 * Conventions shared by every op:
 * - Math ops take float32 tensors; shape ops (reshape, transpose, concat,
 *   slice, gather, pad, broadcast_to) take any dtype.
 * - Binary ops broadcast like NumPy/TensorFlow: shapes are aligned on the
 *   right and each pair of dims must be equal or one of them 1.
 * - Comparisons return float32 masks of 0 and 1 (ckeras has no bool dtype);
 *   `kc_where` treats any nonzero condition as true.
 * - Axes may be negative (counted from the end).
 * - NULL inputs propagate: an op given a NULL input returns NULL and keeps
 *   the error already in err (or sets KC_EINVAL if there was none), so a
 *   chain of ops can be checked once at the end.
 * - On failure (bad shapes: KC_ESHAPE with both shapes in the message; wrong
 *   dtype: KC_ETYPE; bad axis or argument: KC_EINVAL; KC_ENOMEM) an op
 *   returns NULL and fills err.
 * - Gradients follow TensorFlow's conventions where functions are not
 *   differentiable: relu'(0) = 0, abs'(0) = 0, maximum/minimum send ties to
 *   the first argument, clip passes the gradient for lo <= x <= hi,
 *   reduce_max/min split it equally between tied maxima. */
#ifndef CKERAS_OPS_H
#define CKERAS_OPS_H

#include "defs.h"
#include "error.h"
#include "tensor.h"

#include <stdbool.h>
#include <stdint.h>

KC_BEGIN_DECLS

/* --- binary, broadcasting ---------------------------------------------- */
KC_API KC_NODISCARD kc_tensor *kc_add(kc_tensor *a, kc_tensor *b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_sub(kc_tensor *a, kc_tensor *b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_mul(kc_tensor *a, kc_tensor *b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_div(kc_tensor *a, kc_tensor *b, kc_error *err);
/* a^b. Gradient w.r.t. b uses log(a) where a > 0 and 0 elsewhere (as TF). */
KC_API KC_NODISCARD kc_tensor *kc_pow(kc_tensor *a, kc_tensor *b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_maximum(kc_tensor *a, kc_tensor *b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_minimum(kc_tensor *a, kc_tensor *b, kc_error *err);

/* Comparisons: float32 0/1 masks, never recorded (no gradient). */
KC_API KC_NODISCARD kc_tensor *kc_less(kc_tensor *a, kc_tensor *b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_less_equal(kc_tensor *a, kc_tensor *b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_greater(kc_tensor *a, kc_tensor *b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_greater_equal(kc_tensor *a, kc_tensor *b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_equal(kc_tensor *a, kc_tensor *b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_not_equal(kc_tensor *a, kc_tensor *b, kc_error *err);

/* The same with a scalar right operand (b is a float, not a tensor). */
KC_API KC_NODISCARD kc_tensor *kc_add_scalar(kc_tensor *a, float b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_sub_scalar(kc_tensor *a, float b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_mul_scalar(kc_tensor *a, float b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_div_scalar(kc_tensor *a, float b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_pow_scalar(kc_tensor *a, float b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_maximum_scalar(kc_tensor *a, float b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_minimum_scalar(kc_tensor *a, float b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_less_scalar(kc_tensor *a, float b, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_greater_scalar(kc_tensor *a, float b, kc_error *err);
/* b - a (scalar on the left). */
KC_API KC_NODISCARD kc_tensor *kc_scalar_sub(float b, kc_tensor *a, kc_error *err);

/* where(cond, a, b): a where cond != 0, else b; all three broadcast. The
 * condition gets no gradient. */
KC_API KC_NODISCARD kc_tensor *kc_where(kc_tensor *cond, kc_tensor *a, kc_tensor *b,
                                        kc_error *err);

/* --- unary --------------------------------------------------------------- */
KC_API KC_NODISCARD kc_tensor *kc_neg(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_abs(kc_tensor *x, kc_error *err);
/* -1, 0 or 1; its gradient is zero (as TF). */
KC_API KC_NODISCARD kc_tensor *kc_sign(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_square(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_sqrt(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_rsqrt(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_exp(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_log(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_log1p(kc_tensor *x, kc_error *err);
/* clip(x, lo, hi); requires lo <= hi. */
KC_API KC_NODISCARD kc_tensor *kc_clip(kc_tensor *x, float lo, float hi, kc_error *err);

/* --- activations (Keras semantics) --------------------------------------- */
KC_API KC_NODISCARD kc_tensor *kc_relu(kc_tensor *x, kc_error *err);
/* Keras' relu(x, negative_slope, max_value, threshold): x above threshold,
 * else negative_slope * (x - threshold); capped at max_value (pass INFINITY
 * for none). */
KC_API KC_NODISCARD kc_tensor *kc_relu_ex(kc_tensor *x, float negative_slope, float max_value,
                                          float threshold, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_leaky_relu(kc_tensor *x, float negative_slope, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_relu6(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_sigmoid(kc_tensor *x, kc_error *err);
/* Keras 2 / TensorFlow.js: clip(0.2 * x + 0.5, 0, 1). */
KC_API KC_NODISCARD kc_tensor *kc_hard_sigmoid(kc_tensor *x, kc_error *err);
/* Keras 3's hard_silu / hard_swish: x * relu6(x + 3) / 6. */
KC_API KC_NODISCARD kc_tensor *kc_hard_swish(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_tanh(kc_tensor *x, kc_error *err);
/* log(1 + exp(x)) computed as max(x, 0) + log1p(exp(-|x|)): finite for any x. */
KC_API KC_NODISCARD kc_tensor *kc_softplus(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_softsign(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_elu(kc_tensor *x, float alpha, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_selu(kc_tensor *x, kc_error *err);
/* approximate: the tanh form; else the exact erf form. */
KC_API KC_NODISCARD kc_tensor *kc_gelu(kc_tensor *x, bool approximate, kc_error *err);
/* x * sigmoid(x) (Keras swish / silu). */
KC_API KC_NODISCARD kc_tensor *kc_swish(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_mish(kc_tensor *x, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_softmax(kc_tensor *x, int axis, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_log_softmax(kc_tensor *x, int axis, kc_error *err);

/* --- linear algebra -------------------------------------------------------- */
/* Matrix product of the last two axes, op(a) @ op(b), with optional
 * transposes; leading (batch) axes broadcast. Both inputs have rank >= 2.
 * Computed with cblas_sgemm. */
KC_API KC_NODISCARD kc_tensor *kc_matmul(kc_tensor *a, kc_tensor *b, bool transpose_a,
                                         bool transpose_b, kc_error *err);

/* --- shape ------------------------------------------------------------------ */
/* New shape with the same element count; one dim may be -1 (inferred).
 * Shares the input's buffer (no copy). */
KC_API KC_NODISCARD kc_tensor *kc_reshape(kc_tensor *x, int ndim, const int64_t *dims,
                                          kc_error *err);
/* Insert a size-1 axis at `axis` (-1 appends). */
KC_API KC_NODISCARD kc_tensor *kc_expand_dims(kc_tensor *x, int axis, kc_error *err);
/* Remove axis `axis`, which must have size 1. */
KC_API KC_NODISCARD kc_tensor *kc_squeeze(kc_tensor *x, int axis, kc_error *err);
/* Permute axes: output axis i is input axis perm[i]; perm NULL reverses. */
KC_API KC_NODISCARD kc_tensor *kc_transpose(kc_tensor *x, const int *perm, kc_error *err);
/* Join n tensors (same dtype and rank; equal dims except on axis). */
KC_API KC_NODISCARD kc_tensor *kc_concat(kc_tensor *const *xs, int n, int axis, kc_error *err);
/* x[begin[i] : begin[i] + size[i]] on every axis; size -1 = to the end. */
KC_API KC_NODISCARD kc_tensor *kc_slice(kc_tensor *x, const int64_t *begin, const int64_t *size,
                                        kc_error *err);
/* Split along axis into n parts of sizes[i] (sizes NULL: n equal parts).
 * outs receives n new references; all NULL on failure. */
KC_API KC_NODISCARD kc_status kc_split(kc_tensor *x, int n, const int64_t *sizes, int axis,
                                       kc_tensor **outs, kc_error *err);
/* Select slices of params along axis by integer indices (int32 or int64):
 * output shape = params.shape[:axis] + indices.shape + params.shape[axis+1:].
 * An index outside [0, dim) is KC_EINVAL (as TF on CPU). */
KC_API KC_NODISCARD kc_tensor *kc_gather(kc_tensor *params, kc_tensor *indices, int axis,
                                         kc_error *err);
/* Constant padding: paddings[2*i], paddings[2*i+1] elements before and after
 * axis i (all >= 0). */
KC_API KC_NODISCARD kc_tensor *kc_pad(kc_tensor *x, const int64_t *paddings, float value,
                                      kc_error *err);
/* Broadcast x to a shape it is broadcast-compatible with. */
KC_API KC_NODISCARD kc_tensor *kc_broadcast_to(kc_tensor *x, int ndim, const int64_t *dims,
                                               kc_error *err);

/* --- reductions ------------------------------------------------------------- */
/* Reduce over n_axes axes (axes NULL or n_axes 0: every axis); keepdims
 * keeps reduced axes with size 1. Sums and means accumulate in double. */
KC_API KC_NODISCARD kc_tensor *kc_reduce_sum(kc_tensor *x, const int *axes, int n_axes,
                                             bool keepdims, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_reduce_mean(kc_tensor *x, const int *axes, int n_axes,
                                              bool keepdims, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_reduce_max(kc_tensor *x, const int *axes, int n_axes,
                                             bool keepdims, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_reduce_min(kc_tensor *x, const int *axes, int n_axes,
                                             bool keepdims, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_reduce_prod(kc_tensor *x, const int *axes, int n_axes,
                                              bool keepdims, kc_error *err);
/* Index of the largest value along axis (first one on ties): int64 tensor
 * without that axis. Not differentiable. */
KC_API KC_NODISCARD kc_tensor *kc_argmax(kc_tensor *x, int axis, kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_argmin(kc_tensor *x, int axis, kc_error *err);

/* --- types and constants --------------------------------------------------- */
/* One-hot float32 encoding: shape indices.shape + (depth,). Indices may be
 * int32, int64 or integral floats; out-of-range indices give a zero row (as
 * TF). Not differentiable. */
KC_API KC_NODISCARD kc_tensor *kc_one_hot(kc_tensor *indices, int64_t depth, kc_error *err);
/* Convert to dtype (float -> int truncates toward zero, as TF). Only
 * float32 -> float32 is differentiable. */
KC_API KC_NODISCARD kc_tensor *kc_cast(kc_tensor *x, kc_dtype dtype, kc_error *err);
/* The same values; tapes do not see through it (no gradient flows back). */
KC_API KC_NODISCARD kc_tensor *kc_stop_gradient(kc_tensor *x, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_OPS_H */
