/* ckeras: ops that put their results in a scope (generated from ops.h by
 * scripts/gen_scoped_ops.py; do not edit by hand).
 *
 * kc_s_<op>(s, ...) is kc_<op>(..., err) whose result the scope s keeps
 * (kc_scope_take) and whose failures go to the err s was created with, so
 * a computation is written without an unref per intermediate and checked
 * once, at the end (a NULL input propagates, as ops.h says). The seed's
 * huber(y_true, y_pred), line for line:
 *
 *     kc_scope *s = kc_scope_new(err);
 *     kc_tensor *error = kc_s_sub(s, y_true, y_pred);             error = y_true - y_pred
 *     kc_tensor *se = kc_s_less_scalar(s, kc_s_abs(s, error), 1);  se = tf.abs(error) < 1
 *     kc_tensor *sq = kc_s_div_scalar(s, kc_s_square(s, error), 2); sq_loss = tf.square(error) / 2
 *     kc_tensor *lin = kc_s_sub_scalar(s, kc_s_abs(s, error), 0.5f); linear_loss = tf.abs(error) - 0.5
 *     return kc_scope_return(s, kc_s_where(s, se, sq, lin));       return tf.where(se, sq_loss, linear_loss)
 *
 * The returned tensors are borrowed: valid until the scope is freed
 * (kc_scope_free, or kc_scope_return, which keeps one). These are inline
 * functions over the exported ops: they add nothing to the ABI. */
#ifndef CKERAS_SCOPED_OPS_H
#define CKERAS_SCOPED_OPS_H

#include "activation.h"
#include "args.h"
#include "autodiff.h"
#include "layer.h"
#include "ops.h"
#include "tensor.h"

KC_BEGIN_DECLS

static inline kc_tensor *kc_s_add(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_add(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_sub(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_sub(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_mul(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_mul(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_div(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_div(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_pow(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_pow(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_maximum(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_maximum(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_minimum(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_minimum(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_less(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_less(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_less_equal(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_less_equal(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_greater(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_greater(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_greater_equal(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_greater_equal(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_equal(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_equal(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_not_equal(kc_scope *s, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_not_equal(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_add_scalar(kc_scope *s, kc_tensor *a, float b)
{
    return kc_scope_take(s, kc_add_scalar(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_sub_scalar(kc_scope *s, kc_tensor *a, float b)
{
    return kc_scope_take(s, kc_sub_scalar(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_mul_scalar(kc_scope *s, kc_tensor *a, float b)
{
    return kc_scope_take(s, kc_mul_scalar(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_div_scalar(kc_scope *s, kc_tensor *a, float b)
{
    return kc_scope_take(s, kc_div_scalar(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_pow_scalar(kc_scope *s, kc_tensor *a, float b)
{
    return kc_scope_take(s, kc_pow_scalar(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_maximum_scalar(kc_scope *s, kc_tensor *a, float b)
{
    return kc_scope_take(s, kc_maximum_scalar(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_minimum_scalar(kc_scope *s, kc_tensor *a, float b)
{
    return kc_scope_take(s, kc_minimum_scalar(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_less_scalar(kc_scope *s, kc_tensor *a, float b)
{
    return kc_scope_take(s, kc_less_scalar(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_greater_scalar(kc_scope *s, kc_tensor *a, float b)
{
    return kc_scope_take(s, kc_greater_scalar(a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_scalar_sub(kc_scope *s, float b, kc_tensor *a)
{
    return kc_scope_take(s, kc_scalar_sub(b, a, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_where(kc_scope *s, kc_tensor *cond, kc_tensor *a, kc_tensor *b)
{
    return kc_scope_take(s, kc_where(cond, a, b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_neg(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_neg(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_abs(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_abs(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_sign(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_sign(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_square(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_square(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_sqrt(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_sqrt(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_rsqrt(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_rsqrt(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_exp(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_exp(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_log(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_log(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_log1p(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_log1p(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_clip(kc_scope *s, kc_tensor *x, float lo, float hi)
{
    return kc_scope_take(s, kc_clip(x, lo, hi, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_relu(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_relu(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_relu_ex(kc_scope *s, kc_tensor *x, float negative_slope, float max_value, float threshold)
{
    return kc_scope_take(s, kc_relu_ex(x, negative_slope, max_value, threshold, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_leaky_relu(kc_scope *s, kc_tensor *x, float negative_slope)
{
    return kc_scope_take(s, kc_leaky_relu(x, negative_slope, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_relu6(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_relu6(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_sigmoid(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_sigmoid(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_hard_sigmoid(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_hard_sigmoid(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_hard_swish(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_hard_swish(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_tanh(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_tanh(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_softplus(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_softplus(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_softsign(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_softsign(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_elu(kc_scope *s, kc_tensor *x, float alpha)
{
    return kc_scope_take(s, kc_elu(x, alpha, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_selu(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_selu(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_gelu(kc_scope *s, kc_tensor *x, bool approximate)
{
    return kc_scope_take(s, kc_gelu(x, approximate, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_swish(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_swish(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_mish(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_mish(x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_softmax(kc_scope *s, kc_tensor *x, int axis)
{
    return kc_scope_take(s, kc_softmax(x, axis, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_log_softmax(kc_scope *s, kc_tensor *x, int axis)
{
    return kc_scope_take(s, kc_log_softmax(x, axis, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_matmul(kc_scope *s, kc_tensor *a, kc_tensor *b, bool transpose_a, bool transpose_b)
{
    return kc_scope_take(s, kc_matmul(a, b, transpose_a, transpose_b, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_reshape(kc_scope *s, kc_tensor *x, int ndim, const int64_t *dims)
{
    return kc_scope_take(s, kc_reshape(x, ndim, dims, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_expand_dims(kc_scope *s, kc_tensor *x, int axis)
{
    return kc_scope_take(s, kc_expand_dims(x, axis, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_squeeze(kc_scope *s, kc_tensor *x, int axis)
{
    return kc_scope_take(s, kc_squeeze(x, axis, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_transpose(kc_scope *s, kc_tensor *x, const int *perm)
{
    return kc_scope_take(s, kc_transpose(x, perm, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_concat(kc_scope *s, kc_tensor *const *xs, int n, int axis)
{
    return kc_scope_take(s, kc_concat(xs, n, axis, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_slice(kc_scope *s, kc_tensor *x, const int64_t *begin, const int64_t *size)
{
    return kc_scope_take(s, kc_slice(x, begin, size, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_gather(kc_scope *s, kc_tensor *params, kc_tensor *indices, int axis)
{
    return kc_scope_take(s, kc_gather(params, indices, axis, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_pad(kc_scope *s, kc_tensor *x, const int64_t *paddings, float value)
{
    return kc_scope_take(s, kc_pad(x, paddings, value, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_broadcast_to(kc_scope *s, kc_tensor *x, int ndim, const int64_t *dims)
{
    return kc_scope_take(s, kc_broadcast_to(x, ndim, dims, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_reduce_sum(kc_scope *s, kc_tensor *x, const int *axes, int n_axes, bool keepdims)
{
    return kc_scope_take(s, kc_reduce_sum(x, axes, n_axes, keepdims, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_reduce_mean(kc_scope *s, kc_tensor *x, const int *axes, int n_axes, bool keepdims)
{
    return kc_scope_take(s, kc_reduce_mean(x, axes, n_axes, keepdims, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_reduce_max(kc_scope *s, kc_tensor *x, const int *axes, int n_axes, bool keepdims)
{
    return kc_scope_take(s, kc_reduce_max(x, axes, n_axes, keepdims, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_reduce_min(kc_scope *s, kc_tensor *x, const int *axes, int n_axes, bool keepdims)
{
    return kc_scope_take(s, kc_reduce_min(x, axes, n_axes, keepdims, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_reduce_prod(kc_scope *s, kc_tensor *x, const int *axes, int n_axes, bool keepdims)
{
    return kc_scope_take(s, kc_reduce_prod(x, axes, n_axes, keepdims, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_argmax(kc_scope *s, kc_tensor *x, int axis)
{
    return kc_scope_take(s, kc_argmax(x, axis, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_argmin(kc_scope *s, kc_tensor *x, int axis)
{
    return kc_scope_take(s, kc_argmin(x, axis, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_one_hot(kc_scope *s, kc_tensor *indices, int64_t depth)
{
    return kc_scope_take(s, kc_one_hot(indices, depth, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_cast(kc_scope *s, kc_tensor *x, kc_dtype dtype)
{
    return kc_scope_take(s, kc_cast(x, dtype, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_stop_gradient(kc_scope *s, kc_tensor *x)
{
    return kc_scope_take(s, kc_stop_gradient(x, kc_scope_err(s)));
}

/* Constants made in the scope. */
static inline kc_tensor *kc_s_scalar(kc_scope *s, float value)
{
    return kc_scope_take(s, kc_tensor_scalar(value, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_zeros_like(kc_scope *s, const kc_tensor *t)
{
    return t ? kc_scope_take(s, kc_tensor_zeros(kc_tensor_dtype(t), kc_tensor_ndim(t),
                                                kc_tensor_dims(t), kc_scope_err(s)))
             : NULL;
}
static inline kc_tensor *kc_s_ones_like(kc_scope *s, const kc_tensor *t)
{
    return t ? kc_scope_take(s, kc_tensor_ones(kc_tensor_dtype(t), kc_tensor_ndim(t),
                                               kc_tensor_dims(t), kc_scope_err(s)))
             : NULL;
}

/* A 1-D float32 tensor of the values: kc_s_from_floats(s, KC_FLOATS(0, 1, 1, 1)),
 * or KC_S_FLOATS(s, 0, 1, 1, 1). */
static inline kc_tensor *kc_s_from_floats(kc_scope *s, kc_floats v)
{
    int64_t n = v.n;
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, 1, &n, kc_scope_err(s));
    for (int i = 0; t && i < v.n; i++) kc_tensor_f32(t)[i] = (float)v.values[i];
    return kc_scope_take(s, t);
}

#ifndef __cplusplus
#define KC_S_FLOATS(s, ...) kc_s_from_floats((s), KC_FLOATS(__VA_ARGS__))
#endif

/* Calls that return new references, kept in the scope. */
static inline kc_tensor *kc_s_activation(kc_scope *s, kc_object *activation, kc_tensor *x)
{
    return kc_scope_take(s, kc_activation_call(activation, x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_layer_call1(kc_scope *s, kc_object *layer, kc_tensor *x, bool training)
{
    return kc_scope_take(s, kc_layer_call1(layer, x, training, kc_scope_err(s)));
}

KC_END_DECLS

#endif /* CKERAS_SCOPED_OPS_H */
