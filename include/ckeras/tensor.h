/* ckeras: tensors.
 *
 * A kc_tensor is an n-dimensional (0 to KC_MAX_DIMS dims), row-major,
 * contiguous array of float32, int32 or int64 values. Tensors are reference
 * counted: constructors return a new reference, kc_tensor_unref() drops one,
 * and kc_tensor_unref(NULL) does nothing. Several tensors may share one
 * buffer (a reshape is a view); ops never modify their inputs.
 *
 * Element counts are checked for overflow, and dimensions must be >= 0. */
#ifndef CKERAS_TENSOR_H
#define CKERAS_TENSOR_H

#include "defs.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

KC_BEGIN_DECLS

#define KC_MAX_DIMS 8

/* Element types, with their Keras/NumPy names and sizes. Append only. */
#define KC_DTYPE_LIST(X)                                                       \
    X(FLOAT32, "float32", 4)                                                   \
    X(INT32, "int32", 4)                                                       \
    X(INT64, "int64", 8)

typedef enum kc_dtype {
#define KC_DTYPE_ENUM_(name, str, size) KC_##name,
    KC_DTYPE_LIST(KC_DTYPE_ENUM_)
#undef KC_DTYPE_ENUM_
    KC_DTYPE_COUNT
} kc_dtype;

/* A shape whose dimensions may be unknown (-1, Keras' None): used for layer
 * input/output shapes. Callers allocate it. */
typedef struct kc_shape {
    int ndim;                   /* 0..KC_MAX_DIMS */
    int64_t dims[KC_MAX_DIMS];  /* -1 = unknown */
} kc_shape;

typedef struct kc_tensor kc_tensor;

/* --- dtypes ------------------------------------------------------------- */

/* "float32", "int32", "int64". Returns: static string ("?" if invalid). */
KC_API const char *kc_dtype_name(kc_dtype dtype);
/* Bytes per element (0 if invalid). */
KC_API size_t kc_dtype_size(kc_dtype dtype);
/* Parse a dtype name. Returns KC_OK, or KC_ENOTFOUND for names ckeras has no
 * type for. out is written only on success. */
KC_API KC_NODISCARD kc_status kc_dtype_from_name(const char *name, kc_dtype *out,
                                                 kc_error *err);

/* --- shapes ------------------------------------------------------------- */

/* Build a shape from ndim dims (-1 for unknown). ndim is clamped to
 * [0, KC_MAX_DIMS]; use kc_shape_check() to validate untrusted input. */
KC_API kc_shape kc_shape_make(int ndim, const int64_t *dims);
/* True when both shapes have the same rank and dims (-1 equals only -1). */
KC_API bool kc_shape_equal(const kc_shape *a, const kc_shape *b);
/* Element count, or -1 if a dim is unknown or the count overflows. */
KC_API int64_t kc_shape_size(const kc_shape *shape);
/* Keras-style text: "(None, 8)", "()" for a scalar, "(3,)" for rank 1.
 * Returns: buf (always NUL-terminated when size > 0). */
KC_API const char *kc_shape_format(const kc_shape *shape, char *buf, size_t size);

/* --- construction ------------------------------------------------------- */

/* Uninitialized tensor. Returns: new reference, or NULL (KC_EINVAL for a bad
 * rank or dtype, KC_ESHAPE for negative dims, KC_ELIMIT on overflow,
 * KC_ENOMEM). */
KC_API KC_NODISCARD kc_tensor *kc_tensor_empty(kc_dtype dtype, int ndim, const int64_t *dims,
                                               kc_error *err);
/* Tensor filled with zeros / ones / value. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_tensor_zeros(kc_dtype dtype, int ndim, const int64_t *dims,
                                               kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_tensor_ones(kc_dtype dtype, int ndim, const int64_t *dims,
                                              kc_error *err);
KC_API KC_NODISCARD kc_tensor *kc_tensor_full(kc_dtype dtype, int ndim, const int64_t *dims,
                                              double value, kc_error *err);
/* Copy of `data` (kc_dtype_size(dtype) * element count bytes, row-major).
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_tensor_from_data(kc_dtype dtype, int ndim,
                                                   const int64_t *dims, const void *data,
                                                   kc_error *err);
/* A tensor over caller memory, without copying. `release(ctx)` is called
 * when the last tensor using the memory is freed; with release == NULL the
 * caller must keep the memory alive longer than every tensor made from it.
 * data must be aligned to the element size. Returns: new reference or NULL
 * (release is not called on failure). */
KC_API KC_NODISCARD kc_tensor *kc_tensor_wrap(kc_dtype dtype, int ndim, const int64_t *dims,
                                              void *data, void (*release)(void *ctx),
                                              void *ctx, kc_error *err);
/* A 0-d float32 tensor. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_tensor_scalar(float value, kc_error *err);
/* A deep copy with its own buffer. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_tensor_copy(const kc_tensor *t, kc_error *err);

/* Take one more reference. Returns: t. NULL-safe. */
KC_API kc_tensor *kc_tensor_ref(kc_tensor *t);
/* Drop one reference; the last one frees the tensor. NULL-safe. */
KC_API void kc_tensor_unref(kc_tensor *t);

/* --- inspection (all borrowed, t must not be NULL) ---------------------- */

KC_API kc_dtype kc_tensor_dtype(const kc_tensor *t);
KC_API int kc_tensor_ndim(const kc_tensor *t);
/* Borrowed array of ndim dims, valid while t lives. */
KC_API const int64_t *kc_tensor_dims(const kc_tensor *t);
/* Size of one axis; negative axes count from the end. -1 if out of range. */
KC_API int64_t kc_tensor_dim(const kc_tensor *t, int axis);
KC_API kc_shape kc_tensor_shape(const kc_tensor *t);
/* Number of elements (1 for a 0-d tensor). */
KC_API int64_t kc_tensor_size(const kc_tensor *t);
KC_API size_t kc_tensor_nbytes(const kc_tensor *t);
/* The buffer (row-major). Writing through it changes every tensor sharing the
 * buffer; do not write to a tensor a tape has recorded. */
KC_API void *kc_tensor_data(kc_tensor *t);
KC_API const void *kc_tensor_cdata(const kc_tensor *t);
/* The buffer as floats, or NULL when the tensor is not float32. */
KC_API float *kc_tensor_f32(kc_tensor *t);
/* Element i (flat index) converted to double; 0 if out of range. */
KC_API double kc_tensor_get(const kc_tensor *t, int64_t i);
/* The value of a one-element tensor, converted to float (NaN otherwise). */
KC_API float kc_tensor_item(const kc_tensor *t);
/* True when the shapes are equal. */
KC_API bool kc_tensor_same_shape(const kc_tensor *a, const kc_tensor *b);

/* --- in-place updates (not recorded by tapes) ---------------------------- */

/* Copy src's values into dst (same shape and dtype). Fails with KC_ESHAPE
 * naming both shapes, or KC_ETYPE. */
KC_API KC_NODISCARD kc_status kc_tensor_assign(kc_tensor *dst, const kc_tensor *src,
                                               kc_error *err);
/* Set every element to value. */
KC_API void kc_tensor_fill(kc_tensor *t, double value);

KC_END_DECLS

#endif /* CKERAS_TENSOR_H */
