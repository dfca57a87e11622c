/* ckeras private: image kernels for the preprocessing layers
 * (lib/layers/layer_resizing.c, layer_augment*.c): tf.image.resize with
 * every method Keras names, the projective transform behind Keras'
 * RandomRotation / RandomZoom / RandomTranslation
 * (ImageProjectiveTransformV3), and per-image flips.
 *
 * All of them take channels-last images (batch, height, width, channels)
 * in float32 and are recorded on active tapes as one custom op each: every
 * one is a linear map of its input, so the backward pass applies the
 * transposed map to the output gradient. */
#ifndef CKERAS_IMAGE_INT_H
#define CKERAS_IMAGE_INT_H

#include "autodiff_int.h"

/* tf.image.resize's methods, in Keras' spelling (kc__resize_method_names). */
typedef enum kc__resize_method {
    KC__RESIZE_BILINEAR,
    KC__RESIZE_NEAREST,
    KC__RESIZE_BICUBIC,
    KC__RESIZE_AREA,
    KC__RESIZE_LANCZOS3,
    KC__RESIZE_LANCZOS5,
    KC__RESIZE_GAUSSIAN,
    KC__RESIZE_MITCHELLCUBIC,
    KC__RESIZE_COUNT
} kc__resize_method;

extern const char *const kc__resize_method_names[KC__RESIZE_COUNT];

/* tf.image.resize(x, (out_h, out_w), method, antialias) on (batch, h, w,
 * c), half-pixel centers, as TensorFlow computes it on CPU: bilinear and
 * nearest without antialias are ResizeBilinear / ResizeNearestNeighbor,
 * bicubic without antialias is ResizeBicubic (Keys' a = -0.5, weights from
 * its 1024-entry table, taps outside the image dropped and the rest
 * renormalized), area is ResizeArea (no antialias), and the others are
 * ScaleAndTranslate with their kernels (bilinear -> triangle and bicubic ->
 * Keys cubic when antialias; lanczos3/5, gaussian, mitchellcubic always;
 * antialias widens the kernel by the downscaling factor).
 * Returns: new reference (batch, out_h, out_w, c) or NULL. */
kc_tensor *kc__resize_image(kc_tensor *x, int64_t out_h, int64_t out_w, kc__resize_method method,
                            bool antialias, kc_error *err);

/* Fill modes and interpolations of ImageProjectiveTransformV3. */
typedef enum kc__fill_mode {
    KC__FILL_REFLECT, /* (d c b a | a b c d | d c b a) */
    KC__FILL_WRAP,    /* (a b c d | a b c d | a b c d) */
    KC__FILL_CONSTANT,/* (k k k k | a b c d | k k k k) */
    KC__FILL_NEAREST, /* (a a a a | a b c d | d d d d) */
} kc__fill_mode;
typedef enum kc__interpolation { KC__INTERP_NEAREST, KC__INTERP_BILINEAR } kc__interpolation;

/* Projective transform of each image of x (batch, h, w, c): transforms
 * holds 8 floats per image [a0 a1 a2 b0 b1 b2 c0 c1] mapping an output
 * pixel (x, y) to the input point ((a0 x + a1 y + a2) / k, (b0 x + b1 y +
 * b2) / k), k = c0 x + c1 y + 1, as tf.raw_ops.ImageProjectiveTransformV3
 * (same float arithmetic, same border rules: in "constant" mode any point
 * outside [0, size - 1] takes fill_value). The transforms are copied.
 * Returns: new reference shaped like x, or NULL. */
kc_tensor *kc__image_transform(kc_tensor *x, const float *transforms, kc__interpolation interp,
                               kc__fill_mode fill, float fill_value, kc_error *err);

/* Reverse the columns (flip_lr[b]) and/or the rows (flip_ud[b]) of each
 * image b of x (batch, h, w, c). The flags are copied.
 * Returns: new reference shaped like x, or NULL. */
kc_tensor *kc__image_flip(kc_tensor *x, const bool *flip_lr, const bool *flip_ud, kc_error *err);

#endif /* CKERAS_IMAGE_INT_H */
