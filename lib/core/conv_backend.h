/* ckeras private: the compute door for convolutions, next to the BLAS one
 * (blas_int.h). With oneDNN (the meson feature `onednn`, on when
 * libdnnl-dev is found) forward convolutions of every kind the layers
 * make (1 to 3 spatial axes, strides, dilation, groups, depthwise) run as
 * oneDNN primitives; without it, or for a geometry it refuses, callers use
 * ckeras' own kernels (conv_forward.c). dnnl_conv.c is the only file that
 * includes dnnl.h. Measured (bench_infer, README): oneDNN's convolutions
 * are faster than im2col + OpenBLAS and ckeras' direct loops for every
 * shape of MobileNetV2 and the ResNet blocks; its backward passes are not
 * used (see README). */
#ifndef CKERAS_CONV_BACKEND_H
#define CKERAS_CONV_BACKEND_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A convolution's geometry, channels last, with a Keras kernel
 * (k..., cin / groups, cout): what the door needs to know. */
typedef struct kc__conv_shape {
    int nsp;                      /* spatial axes, 1..3 */
    bool bias;                    /* a bias is added (passed to every run) */
    int64_t n, cin, cout, groups;
    int64_t in[3], out[3], k[3], stride[3], dilation[3], pad[3]; /* first nsp used */
} kc__conv_shape;

/* A ReLU-family activation (Keras' relu with negative_slope, or with
 * max_value: ReLU6) the backend can apply to its output as it writes it,
 * exactly (the same comparisons as kc_relu / kc_relu_ex, no rounding), so
 * the output never makes a second trip through memory. */
typedef struct kc__conv_relu {
    float negative_slope;         /* used when max_value is infinite */
    float max_value;              /* INFINITY: no cap (then slope may be set) */
} kc__conv_relu;

/* A forward convolution bound to the backend: its slices (run in parallel
 * on ckeras' pool, the backend itself on one thread) with their
 * primitives, layouts and streams. One owner. */
typedef struct kc__conv_backend kc__conv_backend;

/* True when ckeras was built with a backend. */
bool kc__conv_backend_available(void);
/* The backend's forward for this geometry, or NULL (no backend, or it
 * refuses it; err is not touched then). With `relu` (may be NULL) the
 * backend applies that activation itself when it can: see
 * kc__conv_backend_applies_relu. */
kc__conv_backend *kc__conv_backend_new(const kc__conv_shape *s, const kc__conv_relu *relu);
/* True when the backend's output already has the kc__conv_relu applied. */
bool kc__conv_backend_applies_relu(const kc__conv_backend *b);
void kc__conv_backend_free(kc__conv_backend *b);
/* Bytes of the kernel in the backend's layout. */
size_t kc__conv_backend_weights_bytes(const kc__conv_backend *b);
/* Reorder a Keras kernel into `out` (weights_bytes, 64-byte aligned). */
kc_status kc__conv_backend_weights(kc__conv_backend *b, const float *keras_w, void *out, kc_error *err);
/* y = conv(x, w) + bias (bias: when the shape says so), w from
 * kc__conv_backend_weights. `after` (may be NULL) runs on each slice's
 * output by the thread that computed it, while it is in cache (the
 * inference plans' fused activation). */
typedef void (*kc__slice_fn)(void *ctx, float *y, int64_t n);
kc_status kc__conv_backend_run(kc__conv_backend *b, const float *x, const void *w, const float *bias, float *y,
                               kc__slice_fn after, void *after_ctx, kc_error *err);
/* One convolution through a backend kept for its geometry (a few are kept,
 * behind a lock: the op-by-op path, which has no plan to hold one): the
 * kernel reordered, then run. *done false (KC_OK) when there is no
 * backend or it declines the geometry. */
kc_status kc__conv_backend_run_once(const kc__conv_shape *s, const float *x, const float *keras_w, const float *bias,
                                    float *y, bool *done, kc_error *err);
/* The gradients of y = conv(x, w) (+ bias) for output gradient dy: dx,
 * dw (Keras layout) and db, each written when not NULL. *done false
 * (KC_OK) when there is no backend or it declines the geometry. */
kc_status kc__conv_backend_gradients(const kc__conv_shape *s, const float *x, const float *keras_w, const float *dy,
                                     float *dx, float *dw, float *db, bool *done, kc_error *err);
/* The backend's name ("oneDNN 2.6.3", or "none"). Returns: static string. */
const char *kc__conv_backend_name(void);

#endif /* CKERAS_CONV_BACKEND_H */
