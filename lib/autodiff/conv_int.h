/* ckeras private: convolution, pooling and resizing ops for the
 * convolutional layers (lib/layers/layer_conv.c, layer_pooling.c,
 * layer_upsampling.c).
 *
 * All of them work on channels-last tensors (batch, spatial..., channels)
 * with 1 to 3 spatial axes; layers with data_format "channels_first"
 * transpose around them, as TensorFlow does on CPU. Each op is recorded on
 * active tapes as one node (a custom op), whose backward computes the input
 * gradient and, for convolutions, the kernel and bias gradients. */
#ifndef CKERAS_CONV_INT_H
#define CKERAS_CONV_INT_H

#include "autodiff_int.h"

#define KC__CONV_MAX_SPATIAL 3

/* Geometry of a convolution (or pooling window) over nsp spatial axes.
 * Sizes are filled by kc__conv_geom_init from the input and the window. */
typedef struct kc__conv_geom {
    int nsp;                                /* spatial axes, 1..3 */
    int64_t batch;                          /* leading axis */
    int64_t in[KC__CONV_MAX_SPATIAL];       /* input spatial sizes */
    int64_t out[KC__CONV_MAX_SPATIAL];      /* output spatial sizes */
    int64_t k[KC__CONV_MAX_SPATIAL];        /* window (kernel) sizes */
    int64_t stride[KC__CONV_MAX_SPATIAL];   /* steps between windows */
    int64_t dilation[KC__CONV_MAX_SPATIAL]; /* steps between window taps */
    int64_t pad[KC__CONV_MAX_SPATIAL];      /* implicit zeros before each axis */
    int64_t cin, cout;                      /* channels in and out */
    int64_t groups;                         /* cin and cout split in this many groups */
} kc__conv_geom;

/* Padding modes of Keras: "valid" (none), "same" (TensorFlow's: output =
 * ceil(in / stride), the extra zero goes after) and "causal" (Conv1D:
 * (k - 1) * dilation zeros before). */
typedef enum { KC__PAD_VALID, KC__PAD_SAME, KC__PAD_CAUSAL } kc__padding;

/* Output length of a window sweep (conv_utils.conv_output_length); -1 for
 * an unknown (-1) input. May be <= 0 when the window does not fit. */
int64_t kc__conv_out_length(int64_t in, int64_t k, kc__padding padding, int64_t stride,
                            int64_t dilation);
/* Output length of a transposed convolution
 * (conv_utils.deconv_output_length); output_padding < 0 means none. */
int64_t kc__deconv_out_length(int64_t in, int64_t k, kc__padding padding, int64_t output_padding,
                              int64_t stride, int64_t dilation);

/* Fill in, out and pad of g for a forward sweep over an input of spatial
 * sizes `in` (g->nsp, k, stride, dilation already set). KC_ESHAPE when
 * the window does not fit. */
kc_status kc__conv_geom_init(kc__conv_geom *g, const int64_t *in, kc__padding padding,
                             kc_error *err);

/* The geometry with spatial axes right-aligned in three (leading axes of
 * size 1) and derived sizes: what the kernels loop over. */
typedef struct kc__conv_plan {
    int nsp;                              /* spatial axes of the geometry */
    int64_t n, in[3], out[3], k[3], s[3], d[3], p[3];
    int64_t cin, cout, groups, cg, coutg; /* channels per group: cg in, coutg out */
    int64_t taps, kg, m;                  /* taps = prod(k); kg = taps * cg; m = n * prod(out) */
    bool direct;                          /* 1x1, stride 1, no padding: x is its own im2col */
} kc__conv_plan;
void kc__conv_plan_init(const kc__conv_geom *g, kc__conv_plan *t);
/* toff[i] = element offset into the input of the first channel of the
 * pixel that tap i of output row r (row-major over batch and out) reads,
 * or -1 where it reads padding. */
void kc__conv_row_taps(const kc__conv_plan *t, int64_t r, int64_t *toff);

/* The forward kernel behind kc__conv (conv_forward.c), shared with the
 * inference path: y = conv(x, w) + b (b may be NULL), then act (NULL:
 * none), over the worker pool. scratch: kc__parallel_slots() times
 * kc__conv_scratch_bytes(t) bytes. The same values for any thread count. */
struct kc__act;
void kc__conv_forward(const kc__conv_plan *t, const float *x, const float *w, const float *b, float *y,
                      const struct kc__act *act, void *scratch);
size_t kc__conv_scratch_bytes(const kc__conv_plan *t);
/* The geometry as the compute backend takes it (core/conv_backend.h). */
struct kc__conv_shape;
void kc__conv_shape_of(const kc__conv_plan *t, struct kc__conv_shape *s);
/* Rows of the output per block (depends on the geometry only). */
int64_t kc__conv_block_rows(const kc__conv_plan *t);
/* im2col rows r0 .. r0 + nr of channels c0 .. c0 + cg of every tap into
 * col (nr x kg); toff: scratch for t->taps offsets. */
void kc__im2col(const kc__conv_plan *t, const float *x, int64_t r0, int64_t nr, int64_t c0, float *col,
                int64_t *toff);

/* Convolution y = conv(x, w) + b. x: (batch, in..., cin); w: (k..., cin /
 * groups, cout), Keras' kernel layout; b: (cout,) or NULL. g describes the
 * sweep (g->cin, g->cout, g->groups set by the caller). Returns: new
 * reference (batch, out..., cout) or NULL. */
kc_tensor *kc__conv(kc_tensor *x, kc_tensor *w, kc_tensor *b, const kc__conv_geom *g,
                    kc_error *err);

/* Transposed convolution: the gradient of a convolution of geometry g
 * (from y-space of size g->in, g->cin channels to x-space of size g->out,
 * g->cout channels) applied to x. x: (batch, g->out..., g->cout); w: (k...,
 * g->cin, g->cout), Keras' Conv2DTranspose layout (k..., filters, in); b:
 * (g->cin,) or NULL. Returns: new reference (batch, g->in..., g->cin). */
kc_tensor *kc__conv_transpose(kc_tensor *x, kc_tensor *w, kc_tensor *b, const kc__conv_geom *g,
                              kc_error *err);

/* Pooling over windows of g (g->cin = g->cout = channels). Max pooling
 * ignores padding; average pooling divides by the number of real (not
 * padded) values in each window, as TensorFlow does. */
typedef enum { KC__POOL_MAX, KC__POOL_AVG } kc__pool_kind;
kc_tensor *kc__pool(kc_tensor *x, kc__pool_kind kind, const kc__conv_geom *g, kc_error *err);
/* Its forward kernel (shared with the inference path): y from x over the
 * windows of t; toff: scratch for t->taps offsets. */
void kc__pool_forward(const kc__conv_plan *t, kc__pool_kind kind, const float *x, float *y, int64_t *toff);

/* Bilinear resize of (batch, h, w, c) to (batch, out_h, out_w, c) with
 * half-pixel centers (tf.image.resize, method "bilinear", no antialias). */
kc_tensor *kc__resize_bilinear(kc_tensor *x, int64_t out_h, int64_t out_w, kc_error *err);

#endif /* CKERAS_CONV_INT_H */
