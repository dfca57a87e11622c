/* ckeras private: what a layer does at inference, for the inference plans
 * of lib/inference. This is the layers' optional "inference kernel" slot:
 * a class that has one describes a call (for given input shapes, with
 * training off) as one of a few kernel kinds with its weights and
 * parameters, and the plan runs that kernel on its own buffers, folds it
 * with its neighbours, or skips it. A class without one (or a call it does
 * not cover, such as channels_first data) is run by the plan through its
 * ordinary call. The slots are a table keyed by class (layer_infer.c), so
 * that kc_class and kc_layer_methods, which user classes compile against,
 * keep their layout. */
#ifndef CKERAS_LAYER_INFER_H
#define CKERAS_LAYER_INFER_H

#include "../autodiff/conv_int.h"
#include "../autodiff/kernels.h"
#include "../components/activation_int.h"
#include "layers_int.h"

typedef enum kc__li_kind {
    KC__LI_CALL,     /* no kernel: the plan runs the layer's call */
    KC__LI_IDENTITY, /* output 0 is input 0 (Dropout, noise, InputLayer) */
    KC__LI_IDENTITY_F32, /* the identity on float32 inputs (augmentations; they cast others) */
    KC__LI_VIEW,     /* output 0 is input 0 with the output shape (Flatten, Reshape) */
    KC__LI_CONV,     /* convolution, channels last (a separable one has a pointwise part) */
    KC__LI_DENSE,    /* x @ kernel + bias over the last axis */
    KC__LI_AFFINE,   /* BatchNormalization with its moving statistics */
    KC__LI_ACT,      /* an elementwise activation */
    KC__LI_SOFTMAX,  /* softmax or log_softmax along an axis */
    KC__LI_MERGE,    /* Add, Subtract, Multiply, Average, Maximum, Minimum of same-shaped inputs */
    KC__LI_CONCAT,   /* Concatenate along an axis */
    KC__LI_POOL,     /* max / average pooling windows, channels last */
    KC__LI_GPOOL,    /* global max / average pooling, channels last */
    KC__LI_PAD,      /* zero padding of the spatial axes, channels last */
    KC__LI_MASKS,    /* makes masks: the model must run op by op */
} kc__li_kind;

typedef enum kc__merge_op { KC__MERGE_ADD, KC__MERGE_SUB, KC__MERGE_MUL, KC__MERGE_AVG, KC__MERGE_MAX, KC__MERGE_MIN } kc__merge_op;

/* The softmax an activation may end with (CONV, DENSE, ACT). */
typedef enum kc__li_softmax { KC__LI_NO_SOFTMAX, KC__LI_SOFTMAX_LAST, KC__LI_LOG_SOFTMAX_LAST } kc__li_softmax;

typedef struct kc__layer_infer {
    kc__li_kind kind;
    kc__act act;            /* CONV, DENSE, ACT: the elementwise activation (none: KC__OP_COUNT) */
    kc__li_softmax softmax; /* CONV, DENSE, ACT: a softmax over the last axis instead */
    /* weights, borrowed from the layer */
    kc_variable *kernel, *bias; /* CONV (the depthwise kernel for DEPTHWISE / separable), DENSE */
    kc_variable *pointwise;     /* CONV: a separable convolution's 1x1 kernel */
    kc_variable *gamma, *beta, *mean, *var; /* AFFINE (gamma, beta may be NULL) */
    double epsilon;             /* AFFINE */
    int axis;                   /* AFFINE, CONCAT, SOFTMAX: non-negative */
    /* CONV, POOL: the window (padding computed by the plan from the input) */
    int nsp;
    int64_t k[KC__CONV_MAX_SPATIAL], stride[KC__CONV_MAX_SPATIAL], dilation[KC__CONV_MAX_SPATIAL];
    kc__padding padding;
    int64_t groups;           /* CONV: groups of a regular convolution */
    bool depthwise;           /* CONV: DepthwiseConv / the depthwise part of a separable one */
    int64_t depth_multiplier; /* CONV, depthwise */
    kc__pool_kind pool;       /* POOL, GPOOL */
    int64_t pads[KC__CONV_MAX_SPATIAL][2]; /* PAD: zeros before and after each spatial axis */
    kc__merge_op merge;       /* MERGE */
} kc__layer_infer;

/* Describe a call of `layer` on inputs of these shapes (batch included,
 * all known) with training off. Sets out->kind to KC__LI_CALL when the
 * class has no slot or the slot does not cover the call. */
void kc__layer_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);

/* The activation of a layer into out->act / out->softmax; false when it
 * has no kernel (a user function or class). */
bool kc__describe_activation(const kc_object *activation, kc__layer_infer *out);

/* The slots of the layer classes (in their files). Each fills out (kind
 * already KC__LI_CALL, act none) for the call, or leaves it. */
typedef void (*kc__describe_fn)(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);
void kc__dense_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);
void kc__conv_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);
void kc__batchnorm_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);
void kc__activation_layer_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);
void kc__merge_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);
void kc__concatenate_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);
void kc__pool_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);
void kc__padding_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);
void kc__flatten_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);
void kc__embedding_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out);

#endif /* CKERAS_LAYER_INFER_H */
