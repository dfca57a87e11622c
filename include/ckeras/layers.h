/* ckeras: typed constructors of the built-in layers (keras.layers.*).
 *
 *     keras.layers.Dense(30, activation="relu", input_shape=[10])
 *     kc_layers_dense(&(kc_layers_dense_args){.units = 30, .activation = KC_NAME("relu"),
 *                                             .input_shape = KC_SHAPE(10)}, &err)
 *
 * Conventions (args.h): a field left at zero is Keras' default; kc_bool
 * fields take KC_TRUE / KC_FALSE; objects are kc_spec (KC_NAME,
 * KC_OBJECT, KC_FUNCTION; objects are referenced, not stolen); every
 * struct starts with KC_LAYER_ARGS (name, trainable, dtype, input_shape).
 * Every constructor returns a new reference, or NULL with err filled (a
 * required argument missing or a value out of range names the field:
 * "kc_layers_dense.units: missing (expected a positive integer)"). args
 * may be NULL when no argument is required.
 *
 * Defaults are Keras 2.15's; the comment of a field gives the default
 * when it is not "none". Layers whose class takes no argument of its own
 * use kc_layers_args. */
#ifndef CKERAS_LAYERS_H
#define CKERAS_LAYERS_H

#include "args.h"
#include "defs.h"
#include "error.h"
#include "object.h"

KC_BEGIN_DECLS

/* --- core ------------------------------------------------------------------------ */

/* InputLayer (input_shape is required). Sequential models take one first. */
typedef kc_layers_args kc_layers_input_layer_args;
KC_API KC_NODISCARD kc_object *kc_layers_input_layer(const kc_layers_input_layer_args *args, kc_error *err);

typedef struct kc_layers_dense_args {
    KC_LAYER_ARGS;
    int64_t units;              /* required */
    kc_spec activation;         /* linear */
    kc_bool use_bias;           /* true */
    kc_spec kernel_initializer; /* glorot_uniform */
    kc_spec bias_initializer;   /* zeros */
    kc_spec kernel_regularizer;
    kc_spec bias_regularizer;
    kc_spec activity_regularizer;
    kc_spec kernel_constraint;
    kc_spec bias_constraint;
} kc_layers_dense_args;
KC_API KC_NODISCARD kc_object *kc_layers_dense(const kc_layers_dense_args *args, kc_error *err);

typedef struct kc_layers_activation_args {
    KC_LAYER_ARGS;
    kc_spec activation; /* required */
} kc_layers_activation_args;
KC_API KC_NODISCARD kc_object *kc_layers_activation(const kc_layers_activation_args *args, kc_error *err);

typedef struct kc_layers_embedding_args {
    KC_LAYER_ARGS;
    int64_t input_dim;              /* required: vocabulary size */
    int64_t output_dim;             /* required */
    kc_spec embeddings_initializer; /* uniform */
    kc_spec embeddings_regularizer;
    kc_spec activity_regularizer;
    kc_spec embeddings_constraint;
    kc_bool mask_zero;    /* false */
    int64_t input_length; /* none */
} kc_layers_embedding_args;
KC_API KC_NODISCARD kc_object *kc_layers_embedding(const kc_layers_embedding_args *args, kc_error *err);

typedef struct kc_layers_masking_args {
    KC_LAYER_ARGS;
    double mask_value; /* 0 */
} kc_layers_masking_args;
KC_API KC_NODISCARD kc_object *kc_layers_masking(const kc_layers_masking_args *args, kc_error *err);

/* Lambda: calls a registered C function of kind KC_KIND_LAMBDA (layer.h). */
typedef struct kc_layers_lambda_args {
    KC_LAYER_ARGS;
    kc_spec function;      /* required: KC_NAME("registered_fn") or KC_FUNCTION(fn) */
    kc_shape output_shape; /* without the batch axis; default: found by calling on zeros */
} kc_layers_lambda_args;
KC_API KC_NODISCARD kc_object *kc_layers_lambda(const kc_layers_lambda_args *args, kc_error *err);

/* --- activation layers ---------------------------------------------------------------- */

typedef struct kc_layers_relu_args {
    KC_LAYER_ARGS;
    double max_value;      /* none (no cap) */
    double negative_slope; /* 0 */
    double threshold;      /* 0 */
} kc_layers_relu_args;
KC_API KC_NODISCARD kc_object *kc_layers_relu(const kc_layers_relu_args *args, kc_error *err);

typedef struct kc_layers_alpha_args {
    KC_LAYER_ARGS;
    double alpha; /* LeakyReLU 0.3, ELU 1.0 (KC_ZERO for 0) */
} kc_layers_alpha_args;
typedef kc_layers_alpha_args kc_layers_leaky_relu_args;
typedef kc_layers_alpha_args kc_layers_elu_args;
KC_API KC_NODISCARD kc_object *kc_layers_leaky_relu(const kc_layers_leaky_relu_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_elu(const kc_layers_elu_args *args, kc_error *err);

typedef struct kc_layers_axis_args {
    KC_LAYER_ARGS;
    int axis; /* -1 (KC_ZERO for axis 0) */
} kc_layers_axis_args;
typedef kc_layers_axis_args kc_layers_softmax_args;
KC_API KC_NODISCARD kc_object *kc_layers_softmax(const kc_layers_softmax_args *args, kc_error *err);

typedef struct kc_layers_prelu_args {
    KC_LAYER_ARGS;
    kc_spec alpha_initializer; /* zeros */
    kc_spec alpha_regularizer;
    kc_spec alpha_constraint;
    kc_shape shared_axes; /* none: KC_SHAPE(1, 2) shares alpha over axes 1 and 2 */
} kc_layers_prelu_args;
KC_API KC_NODISCARD kc_object *kc_layers_prelu(const kc_layers_prelu_args *args, kc_error *err);

/* --- regularization --------------------------------------------------------------------- */

typedef struct kc_layers_dropout_args {
    KC_LAYER_ARGS;
    double rate;          /* required (KC_ZERO for 0) */
    kc_shape noise_shape; /* none; -1 for the input's dimension */
    int64_t seed;         /* none: the global generator (KC_ZERO for seed 0) */
} kc_layers_dropout_args;
KC_API KC_NODISCARD kc_object *kc_layers_dropout(const kc_layers_dropout_args *args, kc_error *err);

typedef struct kc_layers_gaussian_noise_args {
    KC_LAYER_ARGS;
    double stddev; /* required */
    int64_t seed;  /* none */
} kc_layers_gaussian_noise_args;
KC_API KC_NODISCARD kc_object *kc_layers_gaussian_noise(const kc_layers_gaussian_noise_args *args,
                                                        kc_error *err);

/* GaussianDropout and SpatialDropout1D/2D/3D. */
typedef struct kc_layers_rate_args {
    KC_LAYER_ARGS;
    double rate;  /* required */
    int64_t seed; /* none */
} kc_layers_rate_args;
typedef kc_layers_rate_args kc_layers_gaussian_dropout_args;
typedef kc_layers_rate_args kc_layers_spatial_dropout_args;
KC_API KC_NODISCARD kc_object *kc_layers_gaussian_dropout(const kc_layers_gaussian_dropout_args *args,
                                                          kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_spatial_dropout1d(const kc_layers_spatial_dropout_args *args,
                                                           kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_spatial_dropout2d(const kc_layers_spatial_dropout_args *args,
                                                           kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_spatial_dropout3d(const kc_layers_spatial_dropout_args *args,
                                                           kc_error *err);

typedef struct kc_layers_activity_regularization_args {
    KC_LAYER_ARGS;
    double l1; /* 0 */
    double l2; /* 0 */
} kc_layers_activity_regularization_args;
KC_API KC_NODISCARD kc_object *
kc_layers_activity_regularization(const kc_layers_activity_regularization_args *args, kc_error *err);

/* --- reshaping --------------------------------------------------------------------------- */

/* Flatten, GlobalMax/AveragePooling1D/2D/3D's data_format. */
typedef struct kc_layers_flatten_args {
    KC_LAYER_ARGS;
    const char *data_format; /* "channels_last" */
} kc_layers_flatten_args;
KC_API KC_NODISCARD kc_object *kc_layers_flatten(const kc_layers_flatten_args *args, kc_error *err);

typedef struct kc_layers_reshape_args {
    KC_LAYER_ARGS;
    kc_shape target_shape; /* required, without the batch axis; one -1 is inferred */
} kc_layers_reshape_args;
KC_API KC_NODISCARD kc_object *kc_layers_reshape(const kc_layers_reshape_args *args, kc_error *err);

typedef struct kc_layers_permute_args {
    KC_LAYER_ARGS;
    kc_shape dims; /* required: a permutation of 1..rank, e.g. KC_SHAPE(2, 1) */
} kc_layers_permute_args;
KC_API KC_NODISCARD kc_object *kc_layers_permute(const kc_layers_permute_args *args, kc_error *err);

typedef struct kc_layers_repeat_vector_args {
    KC_LAYER_ARGS;
    int64_t n; /* required */
} kc_layers_repeat_vector_args;
KC_API KC_NODISCARD kc_object *kc_layers_repeat_vector(const kc_layers_repeat_vector_args *args,
                                                       kc_error *err);

/* --- merging (several inputs) ----------------------------------------------------------- */

KC_API KC_NODISCARD kc_object *kc_layers_add(const kc_layers_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_subtract(const kc_layers_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_multiply(const kc_layers_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_average(const kc_layers_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_maximum(const kc_layers_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_minimum(const kc_layers_args *args, kc_error *err);

typedef kc_layers_axis_args kc_layers_concatenate_args; /* axis -1 */
KC_API KC_NODISCARD kc_object *kc_layers_concatenate(const kc_layers_concatenate_args *args, kc_error *err);

typedef struct kc_layers_dot_args {
    KC_LAYER_ARGS;
    int64_t axes[2];   /* required: {1} for both inputs, {1, 2} one per input */
    kc_bool normalize; /* false */
} kc_layers_dot_args;
KC_API KC_NODISCARD kc_object *kc_layers_dot(const kc_layers_dot_args *args, kc_error *err);

/* --- normalization ----------------------------------------------------------------------- */

typedef struct kc_layers_batch_normalization_args {
    KC_LAYER_ARGS;
    int axis;        /* -1 */
    double momentum; /* 0.99 */
    double epsilon;  /* 0.001 */
    kc_bool center;  /* true */
    kc_bool scale;   /* true */
    kc_spec beta_initializer;            /* zeros */
    kc_spec gamma_initializer;           /* ones */
    kc_spec moving_mean_initializer;     /* zeros */
    kc_spec moving_variance_initializer; /* ones */
    kc_spec beta_regularizer;
    kc_spec gamma_regularizer;
    kc_spec beta_constraint;
    kc_spec gamma_constraint;
} kc_layers_batch_normalization_args;
KC_API KC_NODISCARD kc_object *kc_layers_batch_normalization(const kc_layers_batch_normalization_args *args,
                                                             kc_error *err);

typedef struct kc_layers_layer_normalization_args {
    KC_LAYER_ARGS;
    int axis;       /* -1 */
    double epsilon; /* 0.001 */
    kc_bool center; /* true */
    kc_bool scale;  /* true */
    kc_spec beta_initializer;  /* zeros */
    kc_spec gamma_initializer; /* ones */
    kc_spec beta_regularizer;
    kc_spec gamma_regularizer;
    kc_spec beta_constraint;
    kc_spec gamma_constraint;
} kc_layers_layer_normalization_args;
KC_API KC_NODISCARD kc_object *kc_layers_layer_normalization(const kc_layers_layer_normalization_args *args,
                                                             kc_error *err);

/* --- convolutions (tuples: {3} is 3 on every axis) ----------------------------------------- */

/* Conv1D, Conv2D, Conv3D. */
typedef struct kc_layers_conv_args {
    KC_LAYER_ARGS;
    int64_t filters;          /* required */
    int64_t kernel_size[3];   /* required */
    int64_t strides[3];       /* 1 */
    const char *padding;      /* "valid"; "same" ("causal": Conv1D) */
    const char *data_format;  /* "channels_last" */
    int64_t dilation_rate[3]; /* 1 */
    int64_t groups;           /* 1 */
    kc_spec activation;       /* linear */
    kc_bool use_bias;         /* true */
    kc_spec kernel_initializer; /* glorot_uniform */
    kc_spec bias_initializer;   /* zeros */
    kc_spec kernel_regularizer;
    kc_spec bias_regularizer;
    kc_spec activity_regularizer;
    kc_spec kernel_constraint;
    kc_spec bias_constraint;
} kc_layers_conv_args;
typedef kc_layers_conv_args kc_layers_conv1d_args;
typedef kc_layers_conv_args kc_layers_conv2d_args;
typedef kc_layers_conv_args kc_layers_conv3d_args;
KC_API KC_NODISCARD kc_object *kc_layers_conv1d(const kc_layers_conv1d_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_conv2d(const kc_layers_conv2d_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_conv3d(const kc_layers_conv3d_args *args, kc_error *err);

/* Conv1DTranspose, Conv2DTranspose, Conv3DTranspose. */
typedef struct kc_layers_conv_transpose_args {
    KC_LAYER_ARGS;
    int64_t filters;           /* required */
    int64_t kernel_size[3];    /* required */
    int64_t strides[3];        /* 1 */
    const char *padding;       /* "valid" */
    int64_t output_padding[3]; /* none (KC_ZERO entries for 0) */
    const char *data_format;   /* "channels_last" */
    int64_t dilation_rate[3];  /* 1 */
    kc_spec activation;        /* linear */
    kc_bool use_bias;          /* true */
    kc_spec kernel_initializer; /* glorot_uniform */
    kc_spec bias_initializer;   /* zeros */
    kc_spec kernel_regularizer;
    kc_spec bias_regularizer;
    kc_spec activity_regularizer;
    kc_spec kernel_constraint;
    kc_spec bias_constraint;
} kc_layers_conv_transpose_args;
typedef kc_layers_conv_transpose_args kc_layers_conv1d_transpose_args;
typedef kc_layers_conv_transpose_args kc_layers_conv2d_transpose_args;
typedef kc_layers_conv_transpose_args kc_layers_conv3d_transpose_args;
KC_API KC_NODISCARD kc_object *kc_layers_conv1d_transpose(const kc_layers_conv1d_transpose_args *args,
                                                          kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_conv2d_transpose(const kc_layers_conv2d_transpose_args *args,
                                                          kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_conv3d_transpose(const kc_layers_conv3d_transpose_args *args,
                                                          kc_error *err);

/* DepthwiseConv1D, DepthwiseConv2D. */
typedef struct kc_layers_depthwise_conv_args {
    KC_LAYER_ARGS;
    int64_t kernel_size[3];   /* required */
    int64_t strides[3];       /* 1 */
    const char *padding;      /* "valid" */
    int64_t depth_multiplier; /* 1 */
    const char *data_format;  /* "channels_last" */
    int64_t dilation_rate[3]; /* 1 */
    kc_spec activation;       /* linear */
    kc_bool use_bias;         /* true */
    kc_spec depthwise_initializer; /* glorot_uniform */
    kc_spec bias_initializer;      /* zeros */
    kc_spec depthwise_regularizer;
    kc_spec bias_regularizer;
    kc_spec activity_regularizer;
    kc_spec depthwise_constraint;
    kc_spec bias_constraint;
} kc_layers_depthwise_conv_args;
typedef kc_layers_depthwise_conv_args kc_layers_depthwise_conv1d_args;
typedef kc_layers_depthwise_conv_args kc_layers_depthwise_conv2d_args;
KC_API KC_NODISCARD kc_object *kc_layers_depthwise_conv1d(const kc_layers_depthwise_conv1d_args *args,
                                                          kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_depthwise_conv2d(const kc_layers_depthwise_conv2d_args *args,
                                                          kc_error *err);

/* SeparableConv1D, SeparableConv2D. */
typedef struct kc_layers_separable_conv_args {
    KC_LAYER_ARGS;
    int64_t filters;          /* required */
    int64_t kernel_size[3];   /* required */
    int64_t strides[3];       /* 1 */
    const char *padding;      /* "valid" */
    const char *data_format;  /* "channels_last" */
    int64_t dilation_rate[3]; /* 1 */
    int64_t depth_multiplier; /* 1 */
    kc_spec activation;       /* linear */
    kc_bool use_bias;         /* true */
    kc_spec depthwise_initializer; /* glorot_uniform */
    kc_spec pointwise_initializer; /* glorot_uniform */
    kc_spec bias_initializer;      /* zeros */
    kc_spec depthwise_regularizer;
    kc_spec pointwise_regularizer;
    kc_spec bias_regularizer;
    kc_spec activity_regularizer;
    kc_spec depthwise_constraint;
    kc_spec pointwise_constraint;
    kc_spec bias_constraint;
} kc_layers_separable_conv_args;
typedef kc_layers_separable_conv_args kc_layers_separable_conv1d_args;
typedef kc_layers_separable_conv_args kc_layers_separable_conv2d_args;
KC_API KC_NODISCARD kc_object *kc_layers_separable_conv1d(const kc_layers_separable_conv1d_args *args,
                                                          kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_separable_conv2d(const kc_layers_separable_conv2d_args *args,
                                                          kc_error *err);

/* --- pooling ---------------------------------------------------------------------------- */

/* MaxPooling1D/2D/3D, AveragePooling1D/2D/3D. */
typedef struct kc_layers_pooling_args {
    KC_LAYER_ARGS;
    int64_t pool_size[3];    /* 2 */
    int64_t strides[3];      /* pool_size */
    const char *padding;     /* "valid" */
    const char *data_format; /* "channels_last" */
} kc_layers_pooling_args;
typedef kc_layers_pooling_args kc_layers_max_pooling_args;
typedef kc_layers_pooling_args kc_layers_average_pooling_args;
KC_API KC_NODISCARD kc_object *kc_layers_max_pooling1d(const kc_layers_pooling_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_max_pooling2d(const kc_layers_pooling_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_max_pooling3d(const kc_layers_pooling_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_average_pooling1d(const kc_layers_pooling_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_average_pooling2d(const kc_layers_pooling_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_average_pooling3d(const kc_layers_pooling_args *args, kc_error *err);

/* GlobalMaxPooling1D/2D/3D, GlobalAveragePooling1D/2D/3D. */
typedef struct kc_layers_global_pooling_args {
    KC_LAYER_ARGS;
    const char *data_format; /* "channels_last" */
    kc_bool keepdims;        /* false */
} kc_layers_global_pooling_args;
KC_API KC_NODISCARD kc_object *kc_layers_global_max_pooling1d(const kc_layers_global_pooling_args *args,
                                                              kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_global_max_pooling2d(const kc_layers_global_pooling_args *args,
                                                              kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_global_max_pooling3d(const kc_layers_global_pooling_args *args,
                                                              kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_global_average_pooling1d(const kc_layers_global_pooling_args *args,
                                                                  kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_global_average_pooling2d(const kc_layers_global_pooling_args *args,
                                                                  kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_global_average_pooling3d(const kc_layers_global_pooling_args *args,
                                                                  kc_error *err);

/* --- padding, cropping, upsampling ------------------------------------------------------------ */

/* ZeroPadding1D: padding {n} on both sides, or {left, right} (KC_ZERO for a
 * zero side); Cropping1D: cropping likewise. */
typedef struct kc_layers_zero_padding1d_args {
    KC_LAYER_ARGS;
    int64_t padding[2]; /* {1, 1} */
} kc_layers_zero_padding1d_args;
KC_API KC_NODISCARD kc_object *kc_layers_zero_padding1d(const kc_layers_zero_padding1d_args *args,
                                                        kc_error *err);

/* ZeroPadding2D / 3D: one {before, after} pair per spatial axis, written
 * as given unless all zero, e.g. {{1, 1}, {2, 0}}. */
typedef struct kc_layers_zero_padding2d_args {
    KC_LAYER_ARGS;
    int64_t padding[2][2];   /* {{1, 1}, {1, 1}} */
    const char *data_format; /* "channels_last" */
} kc_layers_zero_padding2d_args;
KC_API KC_NODISCARD kc_object *kc_layers_zero_padding2d(const kc_layers_zero_padding2d_args *args,
                                                        kc_error *err);
typedef struct kc_layers_zero_padding3d_args {
    KC_LAYER_ARGS;
    int64_t padding[3][2];   /* 1 everywhere */
    const char *data_format; /* "channels_last" */
} kc_layers_zero_padding3d_args;
KC_API KC_NODISCARD kc_object *kc_layers_zero_padding3d(const kc_layers_zero_padding3d_args *args,
                                                        kc_error *err);

typedef struct kc_layers_cropping1d_args {
    KC_LAYER_ARGS;
    int64_t cropping[2]; /* {0, 0} */
} kc_layers_cropping1d_args;
KC_API KC_NODISCARD kc_object *kc_layers_cropping1d(const kc_layers_cropping1d_args *args, kc_error *err);
typedef struct kc_layers_cropping2d_args {
    KC_LAYER_ARGS;
    int64_t cropping[2][2];  /* 0 everywhere */
    const char *data_format; /* "channels_last" */
} kc_layers_cropping2d_args;
KC_API KC_NODISCARD kc_object *kc_layers_cropping2d(const kc_layers_cropping2d_args *args, kc_error *err);
typedef struct kc_layers_cropping3d_args {
    KC_LAYER_ARGS;
    int64_t cropping[3][2];  /* 0 everywhere */
    const char *data_format; /* "channels_last" */
} kc_layers_cropping3d_args;
KC_API KC_NODISCARD kc_object *kc_layers_cropping3d(const kc_layers_cropping3d_args *args, kc_error *err);

typedef struct kc_layers_up_sampling1d_args {
    KC_LAYER_ARGS;
    int64_t size; /* 2 */
} kc_layers_up_sampling1d_args;
KC_API KC_NODISCARD kc_object *kc_layers_up_sampling1d(const kc_layers_up_sampling1d_args *args,
                                                       kc_error *err);
typedef struct kc_layers_up_sampling2d_args {
    KC_LAYER_ARGS;
    int64_t size[2];           /* 2 */
    const char *data_format;   /* "channels_last" */
    const char *interpolation; /* "nearest"; "bilinear" */
} kc_layers_up_sampling2d_args;
KC_API KC_NODISCARD kc_object *kc_layers_up_sampling2d(const kc_layers_up_sampling2d_args *args,
                                                       kc_error *err);
typedef struct kc_layers_up_sampling3d_args {
    KC_LAYER_ARGS;
    int64_t size[3];         /* 2 */
    const char *data_format; /* "channels_last" */
} kc_layers_up_sampling3d_args;
KC_API KC_NODISCARD kc_object *kc_layers_up_sampling3d(const kc_layers_up_sampling3d_args *args,
                                                       kc_error *err);

/* --- recurrent (recurrent.h has the details) ------------------------------------------------ */

/* SimpleRNN, LSTM, GRU (and their cells): one struct; a field a class does
 * not have (SimpleRNN's recurrent_activation, ...) is refused when set. */
typedef struct kc_layers_recurrent_args {
    KC_LAYER_ARGS;
    int64_t units;                /* required */
    kc_spec activation;           /* tanh */
    kc_spec recurrent_activation; /* sigmoid (LSTM, GRU) */
    kc_bool use_bias;             /* true */
    kc_spec kernel_initializer;    /* glorot_uniform */
    kc_spec recurrent_initializer; /* orthogonal */
    kc_spec bias_initializer;      /* zeros */
    kc_bool unit_forget_bias;      /* true (LSTM) */
    kc_spec kernel_regularizer;
    kc_spec recurrent_regularizer;
    kc_spec bias_regularizer;
    kc_spec activity_regularizer;
    kc_spec kernel_constraint;
    kc_spec recurrent_constraint;
    kc_spec bias_constraint;
    double dropout;           /* 0 */
    double recurrent_dropout; /* 0 */
    int64_t seed;             /* none: the dropout masks' generator */
    kc_bool reset_after;      /* true (GRU) */
    kc_bool return_sequences; /* false */
    kc_bool return_state;     /* false */
    kc_bool go_backwards;     /* false */
    kc_bool stateful;         /* false */
    kc_bool unroll;           /* false */
} kc_layers_recurrent_args;
typedef kc_layers_recurrent_args kc_layers_simple_rnn_args;
typedef kc_layers_recurrent_args kc_layers_lstm_args;
typedef kc_layers_recurrent_args kc_layers_gru_args;
KC_API KC_NODISCARD kc_object *kc_layers_simple_rnn(const kc_layers_simple_rnn_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_lstm(const kc_layers_lstm_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_gru(const kc_layers_gru_args *args, kc_error *err);

/* The cells take their layer's arguments but the sequence ones
 * (return_sequences .. unroll) and activity_regularizer: setting one of
 * those is an error naming it. */
KC_API KC_NODISCARD kc_object *kc_layers_simple_rnn_cell(const kc_layers_simple_rnn_args *args,
                                                         kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_lstm_cell(const kc_layers_lstm_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_gru_cell(const kc_layers_gru_args *args, kc_error *err);

/* RNN(cell): the generic recurrent layer over a cell. */
typedef struct kc_layers_rnn_args {
    KC_LAYER_ARGS;
    kc_spec cell;             /* required: a SimpleRNNCell, LSTMCell or GRUCell (shared) */
    kc_bool return_sequences; /* false */
    kc_bool return_state;     /* false */
    kc_bool go_backwards;     /* false */
    kc_bool stateful;         /* false */
    kc_bool unroll;           /* false */
} kc_layers_rnn_args;
KC_API KC_NODISCARD kc_object *kc_layers_rnn(const kc_layers_rnn_args *args, kc_error *err);

typedef struct kc_layers_bidirectional_args {
    KC_LAYER_ARGS;
    kc_spec layer;          /* required: a SimpleRNN, LSTM, GRU or RNN (its config is used, as Keras
                               recreates both halves from it) */
    const char *merge_mode; /* "concat"; "sum", "mul", "ave", or "" for none (a list) */
    kc_spec backward_layer; /* none: layer with go_backwards flipped */
} kc_layers_bidirectional_args;
KC_API KC_NODISCARD kc_object *kc_layers_bidirectional(const kc_layers_bidirectional_args *args,
                                                       kc_error *err);

typedef struct kc_layers_time_distributed_args {
    KC_LAYER_ARGS;
    kc_spec layer; /* required: any single-input layer (shared, as Keras keeps it) */
} kc_layers_time_distributed_args;
KC_API KC_NODISCARD kc_object *kc_layers_time_distributed(const kc_layers_time_distributed_args *args,
                                                          kc_error *err);

/* --- preprocessing (keras.layers.Rescaling, ...; per-channel lists: the JSON form) ------ */

typedef struct kc_layers_rescaling_args {
    KC_LAYER_ARGS;
    double scale;  /* required (KC_ZERO for 0) */
    double offset; /* 0 */
} kc_layers_rescaling_args;
KC_API KC_NODISCARD kc_object *kc_layers_rescaling(const kc_layers_rescaling_args *args, kc_error *err);

typedef struct kc_layers_resizing_args {
    KC_LAYER_ARGS;
    int64_t height;               /* required */
    int64_t width;                /* required */
    const char *interpolation;    /* "bilinear" */
    kc_bool crop_to_aspect_ratio; /* false */
    kc_bool pad_to_aspect_ratio;  /* false */
    const char *fill_mode;        /* "constant" */
    double fill_value;            /* 0 */
    kc_bool antialias;            /* false */
    const char *data_format;      /* "channels_last" */
} kc_layers_resizing_args;
KC_API KC_NODISCARD kc_object *kc_layers_resizing(const kc_layers_resizing_args *args, kc_error *err);

/* CenterCrop, RandomCrop (seed: RandomCrop only). */
typedef struct kc_layers_crop_args {
    KC_LAYER_ARGS;
    int64_t height;          /* required */
    int64_t width;           /* required */
    const char *data_format; /* "channels_last" */
    int64_t seed;            /* none */
} kc_layers_crop_args;
KC_API KC_NODISCARD kc_object *kc_layers_center_crop(const kc_layers_crop_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_random_crop(const kc_layers_crop_args *args, kc_error *err);

typedef struct kc_layers_normalization_args {
    KC_LAYER_ARGS;
    kc_shape axis;      /* -1: KC_SHAPE(-1); the axes kept (one mean per index) */
    kc_floats mean;     /* none: adapt-less Normalization needs mean and variance */
    kc_floats variance; /* none */
    kc_bool invert;     /* false */
} kc_layers_normalization_args;
KC_API KC_NODISCARD kc_object *kc_layers_normalization(const kc_layers_normalization_args *args,
                                                       kc_error *err);

typedef struct kc_layers_random_flip_args {
    KC_LAYER_ARGS;
    const char *mode; /* "horizontal_and_vertical"; "horizontal", "vertical" */
    int64_t seed;     /* none */
} kc_layers_random_flip_args;
KC_API KC_NODISCARD kc_object *kc_layers_random_flip(const kc_layers_random_flip_args *args, kc_error *err);

/* RandomRotation (factor), RandomZoom and RandomTranslation (height_factor,
 * width_factor): a factor f means [-f, f]; pairs are the JSON form's. */
typedef struct kc_layers_random_transform_args {
    KC_LAYER_ARGS;
    double factor;             /* RandomRotation: required */
    double height_factor;      /* RandomZoom, RandomTranslation: required */
    double width_factor;       /* RandomZoom: none (height_factor's); RandomTranslation: required */
    const char *fill_mode;     /* "reflect"; "wrap", "constant", "nearest" */
    double fill_value;         /* 0 */
    const char *interpolation; /* "bilinear"; "nearest" */
    int64_t seed;              /* none */
    const char *data_format;   /* "channels_last" */
} kc_layers_random_transform_args;
KC_API KC_NODISCARD kc_object *kc_layers_random_rotation(const kc_layers_random_transform_args *args,
                                                         kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_random_zoom(const kc_layers_random_transform_args *args,
                                                     kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_random_translation(const kc_layers_random_transform_args *args,
                                                            kc_error *err);

/* RandomContrast, RandomBrightness (value_range: RandomBrightness only). */
typedef struct kc_layers_random_color_args {
    KC_LAYER_ARGS;
    double factor;         /* required */
    kc_floats value_range; /* [0, 255] */
    int64_t seed;          /* none */
} kc_layers_random_color_args;
KC_API KC_NODISCARD kc_object *kc_layers_random_contrast(const kc_layers_random_color_args *args,
                                                         kc_error *err);
KC_API KC_NODISCARD kc_object *kc_layers_random_brightness(const kc_layers_random_color_args *args,
                                                           kc_error *err);

typedef struct kc_layers_category_encoding_args {
    KC_LAYER_ARGS;
    int64_t num_tokens;      /* required */
    const char *output_mode; /* "multi_hot"; "one_hot", "count" */
    kc_bool sparse;          /* false */
} kc_layers_category_encoding_args;
KC_API KC_NODISCARD kc_object *kc_layers_category_encoding(const kc_layers_category_encoding_args *args,
                                                           kc_error *err);

typedef struct kc_layers_discretization_args {
    KC_LAYER_ARGS;
    kc_floats bin_boundaries; /* the bins' edges (or num_bins for an adapted layer) */
    int64_t num_bins;         /* none */
    double epsilon;           /* 0.01 */
    const char *output_mode;  /* "int"; "one_hot", "multi_hot", "count" */
    kc_bool sparse;           /* false */
} kc_layers_discretization_args;
KC_API KC_NODISCARD kc_object *kc_layers_discretization(const kc_layers_discretization_args *args,
                                                        kc_error *err);

KC_END_DECLS

#endif /* CKERAS_LAYERS_H */
