/* Typed constructors of the built-in layers (layers.h): one field table per
 * args struct, one line per constructor. Each table lists exactly the
 * config keys the class reads (its from_config), under Keras' names, so a
 * constructor is `kc_object_from_config` of the config its arguments stand
 * for. The cells' tables leave out the sequence keys their layers add. */
#include "api_int.h"

#include <ckeras/layers.h>

#define L KC_KIND_LAYER
#define OBJ KC_ARG_OBJECT

/* kernel/bias initializers, regularizers and constraints under a prefix */
#define WEIGHT_SPECS(T, w) OBJ(T, w##_initializer, KC_KIND_INITIALIZER), OBJ(T, w##_regularizer, KC_KIND_REGULARIZER), \
                               OBJ(T, w##_constraint, KC_KIND_CONSTRAINT)

static const kc_arg_field base_fields[] = {KC_ARG_LAYER(kc_layers_args)};

KC__CONSTRUCTOR(kc_layers_input_layer, kc_layers_input_layer_args, L, "InputLayer", base_fields)
KC__CONSTRUCTOR(kc_layers_add, kc_layers_args, L, "Add", base_fields)
KC__CONSTRUCTOR(kc_layers_subtract, kc_layers_args, L, "Subtract", base_fields)
KC__CONSTRUCTOR(kc_layers_multiply, kc_layers_args, L, "Multiply", base_fields)
KC__CONSTRUCTOR(kc_layers_average, kc_layers_args, L, "Average", base_fields)
KC__CONSTRUCTOR(kc_layers_maximum, kc_layers_args, L, "Maximum", base_fields)
KC__CONSTRUCTOR(kc_layers_minimum, kc_layers_args, L, "Minimum", base_fields)

#define T kc_layers_dense_args
static const kc_arg_field dense_fields[] = {
    KC_ARG_LAYER(T), KC_ARG(T, units), OBJ(T, activation, KC_KIND_ACTIVATION), KC_ARG(T, use_bias),
    WEIGHT_SPECS(T, kernel), WEIGHT_SPECS(T, bias), OBJ(T, activity_regularizer, KC_KIND_REGULARIZER)};
KC__CONSTRUCTOR(kc_layers_dense, T, L, "Dense", dense_fields)
#undef T

#define T kc_layers_activation_args
static const kc_arg_field activation_fields[] = {KC_ARG_LAYER(T), OBJ(T, activation, KC_KIND_ACTIVATION)};
KC__CONSTRUCTOR(kc_layers_activation, T, L, "Activation", activation_fields)
#undef T

#define T kc_layers_embedding_args
static const kc_arg_field embedding_fields[] = {
    KC_ARG_LAYER(T),          KC_ARG(T, input_dim),  KC_ARG(T, output_dim), WEIGHT_SPECS(T, embeddings),
    OBJ(T, activity_regularizer, KC_KIND_REGULARIZER), KC_ARG(T, mask_zero), KC_ARG(T, input_length)};
KC__CONSTRUCTOR(kc_layers_embedding, T, L, "Embedding", embedding_fields)
#undef T

#define T kc_layers_masking_args
static const kc_arg_field masking_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, mask_value)};
KC__CONSTRUCTOR(kc_layers_masking, T, L, "Masking", masking_fields)
#undef T

#define T kc_layers_lambda_args
static const kc_arg_field lambda_fields[] = {KC_ARG_LAYER(T), OBJ(T, function, KC_KIND_LAMBDA),
                                             KC_ARG_KEY(T, output_shape, "output_shape", KC_ARG_NULL_DIMS)};
KC__CONSTRUCTOR(kc_layers_lambda, T, L, "Lambda", lambda_fields)
#undef T

#define T kc_layers_relu_args
static const kc_arg_field relu_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, max_value), KC_ARG(T, negative_slope),
                                           KC_ARG(T, threshold)};
KC__CONSTRUCTOR(kc_layers_relu, T, L, "ReLU", relu_fields)
#undef T

#define T kc_layers_alpha_args
static const kc_arg_field alpha_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, alpha)};
KC__CONSTRUCTOR(kc_layers_leaky_relu, T, L, "LeakyReLU", alpha_fields)
KC__CONSTRUCTOR(kc_layers_elu, T, L, "ELU", alpha_fields)
#undef T

#define T kc_layers_axis_args
static const kc_arg_field axis_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, axis)};
KC__CONSTRUCTOR(kc_layers_softmax, T, L, "Softmax", axis_fields)
KC__CONSTRUCTOR(kc_layers_concatenate, T, L, "Concatenate", axis_fields)
#undef T

#define T kc_layers_prelu_args
static const kc_arg_field prelu_fields[] = {KC_ARG_LAYER(T), WEIGHT_SPECS(T, alpha), KC_ARG(T, shared_axes)};
KC__CONSTRUCTOR(kc_layers_prelu, T, L, "PReLU", prelu_fields)
#undef T

#define T kc_layers_dropout_args
static const kc_arg_field dropout_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, rate),
                                              KC_ARG_KEY(T, noise_shape, "noise_shape", KC_ARG_NULL_DIMS),
                                              KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_layers_dropout, T, L, "Dropout", dropout_fields)
#undef T

#define T kc_layers_gaussian_noise_args
static const kc_arg_field noise_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, stddev), KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_layers_gaussian_noise, T, L, "GaussianNoise", noise_fields)
#undef T

#define T kc_layers_rate_args
static const kc_arg_field rate_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, rate), KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_layers_gaussian_dropout, T, L, "GaussianDropout", rate_fields)
KC__CONSTRUCTOR(kc_layers_spatial_dropout1d, T, L, "SpatialDropout1D", rate_fields)
KC__CONSTRUCTOR(kc_layers_spatial_dropout2d, T, L, "SpatialDropout2D", rate_fields)
KC__CONSTRUCTOR(kc_layers_spatial_dropout3d, T, L, "SpatialDropout3D", rate_fields)
#undef T

#define T kc_layers_activity_regularization_args
static const kc_arg_field actreg_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, l1), KC_ARG(T, l2)};
KC__CONSTRUCTOR(kc_layers_activity_regularization, T, L, "ActivityRegularization", actreg_fields)
#undef T

#define T kc_layers_flatten_args
static const kc_arg_field flatten_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, data_format)};
KC__CONSTRUCTOR(kc_layers_flatten, T, L, "Flatten", flatten_fields)
#undef T

#define T kc_layers_reshape_args
static const kc_arg_field reshape_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, target_shape)};
KC__CONSTRUCTOR(kc_layers_reshape, T, L, "Reshape", reshape_fields)
#undef T

#define T kc_layers_permute_args
static const kc_arg_field permute_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, dims)};
KC__CONSTRUCTOR(kc_layers_permute, T, L, "Permute", permute_fields)
#undef T

#define T kc_layers_repeat_vector_args
static const kc_arg_field repeat_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, n)};
KC__CONSTRUCTOR(kc_layers_repeat_vector, T, L, "RepeatVector", repeat_fields)
#undef T

#define T kc_layers_dot_args
static const kc_arg_field dot_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, axes), KC_ARG(T, normalize)};
KC__CONSTRUCTOR(kc_layers_dot, T, L, "Dot", dot_fields)
#undef T

#define T kc_layers_batch_normalization_args
static const kc_arg_field bn_fields[] = {
    KC_ARG_LAYER(T),
    KC_ARG(T, axis),
    KC_ARG(T, momentum),
    KC_ARG(T, epsilon),
    KC_ARG(T, center),
    KC_ARG(T, scale),
    OBJ(T, beta_initializer, KC_KIND_INITIALIZER),
    OBJ(T, gamma_initializer, KC_KIND_INITIALIZER),
    OBJ(T, moving_mean_initializer, KC_KIND_INITIALIZER),
    OBJ(T, moving_variance_initializer, KC_KIND_INITIALIZER),
    OBJ(T, beta_regularizer, KC_KIND_REGULARIZER),
    OBJ(T, gamma_regularizer, KC_KIND_REGULARIZER),
    OBJ(T, beta_constraint, KC_KIND_CONSTRAINT),
    OBJ(T, gamma_constraint, KC_KIND_CONSTRAINT)};
KC__CONSTRUCTOR(kc_layers_batch_normalization, T, L, "BatchNormalization", bn_fields)
#undef T

#define T kc_layers_layer_normalization_args
static const kc_arg_field ln_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, axis), KC_ARG(T, epsilon), KC_ARG(T, center),
                                         KC_ARG(T, scale), WEIGHT_SPECS(T, beta), WEIGHT_SPECS(T, gamma)};
KC__CONSTRUCTOR(kc_layers_layer_normalization, T, L, "LayerNormalization", ln_fields)
#undef T

/* ---- convolutions: each rank writes as many tuple entries as it has axes ---- */

#define CONV_TUPLES(T, n)                                                                          \
    {"kernel_size", KC_ARG_TUPLE, offsetof(T, kernel_size), sizeof(int64_t[3]), KC_KIND_COUNT, 0u, n},         \
        {"strides", KC_ARG_TUPLE, offsetof(T, strides), sizeof(int64_t[3]), KC_KIND_COUNT, 0u, n},             \
        {"dilation_rate", KC_ARG_TUPLE, offsetof(T, dilation_rate), sizeof(int64_t[3]), KC_KIND_COUNT, 0u, n}

#define T kc_layers_conv_args
#define CONV_FIELDS(n)                                                                             \
    KC_ARG_LAYER(T), KC_ARG(T, filters), CONV_TUPLES(T, n), KC_ARG(T, padding), KC_ARG(T, data_format),   \
        KC_ARG(T, groups), OBJ(T, activation, KC_KIND_ACTIVATION), KC_ARG(T, use_bias), WEIGHT_SPECS(T, kernel), \
        WEIGHT_SPECS(T, bias), OBJ(T, activity_regularizer, KC_KIND_REGULARIZER)
static const kc_arg_field conv1d_fields[] = {CONV_FIELDS(1)};
static const kc_arg_field conv2d_fields[] = {CONV_FIELDS(2)};
static const kc_arg_field conv3d_fields[] = {CONV_FIELDS(3)};
KC__CONSTRUCTOR(kc_layers_conv1d, T, L, "Conv1D", conv1d_fields)
KC__CONSTRUCTOR(kc_layers_conv2d, T, L, "Conv2D", conv2d_fields)
KC__CONSTRUCTOR(kc_layers_conv3d, T, L, "Conv3D", conv3d_fields)
#undef T

#define T kc_layers_conv_transpose_args
#define CONVT_FIELDS(n)                                                                            \
    KC_ARG_LAYER(T), KC_ARG(T, filters), CONV_TUPLES(T, n), KC_ARG(T, padding), KC_ARG(T, data_format),   \
        {"output_padding", KC_ARG_TUPLE, offsetof(T, output_padding), sizeof(int64_t[3]), KC_KIND_COUNT, 0u, n}, \
        OBJ(T, activation, KC_KIND_ACTIVATION), KC_ARG(T, use_bias), WEIGHT_SPECS(T, kernel), WEIGHT_SPECS(T, bias), \
        OBJ(T, activity_regularizer, KC_KIND_REGULARIZER)
static const kc_arg_field conv1dt_fields[] = {CONVT_FIELDS(1)};
static const kc_arg_field conv2dt_fields[] = {CONVT_FIELDS(2)};
static const kc_arg_field conv3dt_fields[] = {CONVT_FIELDS(3)};
KC__CONSTRUCTOR(kc_layers_conv1d_transpose, T, L, "Conv1DTranspose", conv1dt_fields)
KC__CONSTRUCTOR(kc_layers_conv2d_transpose, T, L, "Conv2DTranspose", conv2dt_fields)
KC__CONSTRUCTOR(kc_layers_conv3d_transpose, T, L, "Conv3DTranspose", conv3dt_fields)
#undef T

#define T kc_layers_depthwise_conv_args
#define DEPTHWISE_FIELDS(n)                                                                        \
    KC_ARG_LAYER(T), CONV_TUPLES(T, n), KC_ARG(T, padding), KC_ARG(T, depth_multiplier), KC_ARG(T, data_format), \
        OBJ(T, activation, KC_KIND_ACTIVATION), KC_ARG(T, use_bias), WEIGHT_SPECS(T, depthwise),          \
        WEIGHT_SPECS(T, bias), OBJ(T, activity_regularizer, KC_KIND_REGULARIZER)
static const kc_arg_field depthwise1d_fields[] = {DEPTHWISE_FIELDS(1)};
static const kc_arg_field depthwise2d_fields[] = {DEPTHWISE_FIELDS(2)};
KC__CONSTRUCTOR(kc_layers_depthwise_conv1d, T, L, "DepthwiseConv1D", depthwise1d_fields)
KC__CONSTRUCTOR(kc_layers_depthwise_conv2d, T, L, "DepthwiseConv2D", depthwise2d_fields)
#undef T

#define T kc_layers_separable_conv_args
#define SEPARABLE_FIELDS(n)                                                                        \
    KC_ARG_LAYER(T), KC_ARG(T, filters), CONV_TUPLES(T, n), KC_ARG(T, padding), KC_ARG(T, data_format),   \
        KC_ARG(T, depth_multiplier), OBJ(T, activation, KC_KIND_ACTIVATION), KC_ARG(T, use_bias),          \
        WEIGHT_SPECS(T, depthwise), WEIGHT_SPECS(T, pointwise), WEIGHT_SPECS(T, bias),                     \
        OBJ(T, activity_regularizer, KC_KIND_REGULARIZER)
static const kc_arg_field separable1d_fields[] = {SEPARABLE_FIELDS(1)};
static const kc_arg_field separable2d_fields[] = {SEPARABLE_FIELDS(2)};
KC__CONSTRUCTOR(kc_layers_separable_conv1d, T, L, "SeparableConv1D", separable1d_fields)
KC__CONSTRUCTOR(kc_layers_separable_conv2d, T, L, "SeparableConv2D", separable2d_fields)
#undef T

/* ---- pooling ---- */

#define T kc_layers_pooling_args
#define POOL_FIELDS(n)                                                                             \
    KC_ARG_LAYER(T), {"pool_size", KC_ARG_TUPLE, offsetof(T, pool_size), sizeof(int64_t[3]), KC_KIND_COUNT, 0u, n}, \
        {"strides", KC_ARG_TUPLE, offsetof(T, strides), sizeof(int64_t[3]), KC_KIND_COUNT, 0u, n},             \
        KC_ARG(T, padding), KC_ARG(T, data_format)
static const kc_arg_field pool1d_fields[] = {POOL_FIELDS(1)};
static const kc_arg_field pool2d_fields[] = {POOL_FIELDS(2)};
static const kc_arg_field pool3d_fields[] = {POOL_FIELDS(3)};
KC__CONSTRUCTOR(kc_layers_max_pooling1d, T, L, "MaxPooling1D", pool1d_fields)
KC__CONSTRUCTOR(kc_layers_max_pooling2d, T, L, "MaxPooling2D", pool2d_fields)
KC__CONSTRUCTOR(kc_layers_max_pooling3d, T, L, "MaxPooling3D", pool3d_fields)
KC__CONSTRUCTOR(kc_layers_average_pooling1d, T, L, "AveragePooling1D", pool1d_fields)
KC__CONSTRUCTOR(kc_layers_average_pooling2d, T, L, "AveragePooling2D", pool2d_fields)
KC__CONSTRUCTOR(kc_layers_average_pooling3d, T, L, "AveragePooling3D", pool3d_fields)
#undef T

#define T kc_layers_global_pooling_args
static const kc_arg_field global_pool_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, data_format), KC_ARG(T, keepdims)};
KC__CONSTRUCTOR(kc_layers_global_max_pooling1d, T, L, "GlobalMaxPooling1D", global_pool_fields)
KC__CONSTRUCTOR(kc_layers_global_max_pooling2d, T, L, "GlobalMaxPooling2D", global_pool_fields)
KC__CONSTRUCTOR(kc_layers_global_max_pooling3d, T, L, "GlobalMaxPooling3D", global_pool_fields)
KC__CONSTRUCTOR(kc_layers_global_average_pooling1d, T, L, "GlobalAveragePooling1D", global_pool_fields)
KC__CONSTRUCTOR(kc_layers_global_average_pooling2d, T, L, "GlobalAveragePooling2D", global_pool_fields)
KC__CONSTRUCTOR(kc_layers_global_average_pooling3d, T, L, "GlobalAveragePooling3D", global_pool_fields)
#undef T

/* ---- padding, cropping, upsampling ---- */

#define T kc_layers_zero_padding1d_args
static const kc_arg_field zp1_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, padding)};
KC__CONSTRUCTOR(kc_layers_zero_padding1d, T, L, "ZeroPadding1D", zp1_fields)
#undef T
#define T kc_layers_zero_padding2d_args
static const kc_arg_field zp2_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, padding), KC_ARG(T, data_format)};
KC__CONSTRUCTOR(kc_layers_zero_padding2d, T, L, "ZeroPadding2D", zp2_fields)
#undef T
#define T kc_layers_zero_padding3d_args
static const kc_arg_field zp3_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, padding), KC_ARG(T, data_format)};
KC__CONSTRUCTOR(kc_layers_zero_padding3d, T, L, "ZeroPadding3D", zp3_fields)
#undef T
#define T kc_layers_cropping1d_args
static const kc_arg_field crop1_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, cropping)};
KC__CONSTRUCTOR(kc_layers_cropping1d, T, L, "Cropping1D", crop1_fields)
#undef T
#define T kc_layers_cropping2d_args
static const kc_arg_field crop2_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, cropping), KC_ARG(T, data_format)};
KC__CONSTRUCTOR(kc_layers_cropping2d, T, L, "Cropping2D", crop2_fields)
#undef T
#define T kc_layers_cropping3d_args
static const kc_arg_field crop3_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, cropping), KC_ARG(T, data_format)};
KC__CONSTRUCTOR(kc_layers_cropping3d, T, L, "Cropping3D", crop3_fields)
#undef T
#define T kc_layers_up_sampling1d_args
static const kc_arg_field up1_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, size)};
KC__CONSTRUCTOR(kc_layers_up_sampling1d, T, L, "UpSampling1D", up1_fields)
#undef T
#define T kc_layers_up_sampling2d_args
static const kc_arg_field up2_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, size), KC_ARG(T, data_format),
                                          KC_ARG(T, interpolation)};
KC__CONSTRUCTOR(kc_layers_up_sampling2d, T, L, "UpSampling2D", up2_fields)
#undef T
#define T kc_layers_up_sampling3d_args
static const kc_arg_field up3_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, size), KC_ARG(T, data_format)};
KC__CONSTRUCTOR(kc_layers_up_sampling3d, T, L, "UpSampling3D", up3_fields)
#undef T

/* ---- recurrent ---- */

#define SEQUENCE_FIELDS(T, flags)                                                                  \
    KC_ARG_KEY(T, return_sequences, "return_sequences", flags), KC_ARG_KEY(T, return_state, "return_state", flags), \
        KC_ARG_KEY(T, go_backwards, "go_backwards", flags), KC_ARG_KEY(T, stateful, "stateful", flags),          \
        KC_ARG_KEY(T, unroll, "unroll", flags)
/* what a cell refuses */
#define NOT_IN_CELL(T)                                                                             \
    SEQUENCE_FIELDS(T, KC_ARG_REFUSED),                                                            \
        {"activity_regularizer", KC_ARG_SPEC, offsetof(T, activity_regularizer), sizeof(kc_spec), KC_KIND_REGULARIZER, \
         KC_ARG_REFUSED, 0}
#define CELL_FIELDS(T)                                                                             \
    KC_ARG_LAYER(T), KC_ARG(T, units), OBJ(T, activation, KC_KIND_ACTIVATION), KC_ARG(T, use_bias),            \
        OBJ(T, kernel_initializer, KC_KIND_INITIALIZER), OBJ(T, recurrent_initializer, KC_KIND_INITIALIZER),  \
        OBJ(T, bias_initializer, KC_KIND_INITIALIZER), OBJ(T, kernel_regularizer, KC_KIND_REGULARIZER),       \
        OBJ(T, recurrent_regularizer, KC_KIND_REGULARIZER), OBJ(T, bias_regularizer, KC_KIND_REGULARIZER),    \
        OBJ(T, kernel_constraint, KC_KIND_CONSTRAINT), OBJ(T, recurrent_constraint, KC_KIND_CONSTRAINT),      \
        OBJ(T, bias_constraint, KC_KIND_CONSTRAINT), KC_ARG(T, dropout), KC_ARG(T, recurrent_dropout),        \
        KC_ARG(T, seed)

#define T kc_layers_recurrent_args
/* what each class of the shared struct refuses */
#define ONLY(field, key, flags) KC_ARG_KEY(T, field, key, flags)
#define RECURRENT_FIELDS(ract, ufb, reset)                                                         \
    CELL_FIELDS(T),                                                                                \
        {"recurrent_activation", KC_ARG_SPEC, offsetof(T, recurrent_activation), sizeof(kc_spec),  \
         KC_KIND_ACTIVATION, ract, 0},                                                             \
        ONLY(unit_forget_bias, "unit_forget_bias", ufb), ONLY(reset_after, "reset_after", reset)
#define R KC_ARG_REFUSED
static const kc_arg_field simple_rnn_cell_fields[] = {RECURRENT_FIELDS(R, R, R), NOT_IN_CELL(T)};
static const kc_arg_field simple_rnn_fields[] = {RECURRENT_FIELDS(R, R, R), SEQUENCE_FIELDS(T, 0u),
                                                 OBJ(T, activity_regularizer, KC_KIND_REGULARIZER)};
static const kc_arg_field lstm_cell_fields[] = {RECURRENT_FIELDS(0u, 0u, R), NOT_IN_CELL(T)};
static const kc_arg_field lstm_fields[] = {RECURRENT_FIELDS(0u, 0u, R), SEQUENCE_FIELDS(T, 0u),
                                           OBJ(T, activity_regularizer, KC_KIND_REGULARIZER)};
static const kc_arg_field gru_cell_fields[] = {RECURRENT_FIELDS(0u, R, 0u), NOT_IN_CELL(T)};
static const kc_arg_field gru_fields[] = {RECURRENT_FIELDS(0u, R, 0u), SEQUENCE_FIELDS(T, 0u),
                                          OBJ(T, activity_regularizer, KC_KIND_REGULARIZER)};
#undef R
KC__CONSTRUCTOR(kc_layers_simple_rnn_cell, T, L, "SimpleRNNCell", simple_rnn_cell_fields)
KC__CONSTRUCTOR(kc_layers_simple_rnn, T, L, "SimpleRNN", simple_rnn_fields)
KC__CONSTRUCTOR(kc_layers_lstm_cell, T, L, "LSTMCell", lstm_cell_fields)
KC__CONSTRUCTOR(kc_layers_lstm, T, L, "LSTM", lstm_fields)
KC__CONSTRUCTOR(kc_layers_gru_cell, T, L, "GRUCell", gru_cell_fields)
KC__CONSTRUCTOR(kc_layers_gru, T, L, "GRU", gru_fields)
#undef T

#define T kc_layers_rnn_args
static const kc_arg_field rnn_fields[] = {KC_ARG_LAYER(T), OBJ(T, cell, KC_KIND_LAYER), SEQUENCE_FIELDS(T, 0u)};
KC__CONSTRUCTOR(kc_layers_rnn, T, L, "RNN", rnn_fields)
#undef T

#define T kc_layers_bidirectional_args
static const kc_arg_field bidirectional_fields[] = {KC_ARG_LAYER(T), OBJ(T, layer, KC_KIND_LAYER),
                                                    KC_ARG_KEY(T, merge_mode, "merge_mode", KC_ARG_EMPTY_NULL),
                                                    OBJ(T, backward_layer, KC_KIND_LAYER)};
KC__CONSTRUCTOR(kc_layers_bidirectional, T, L, "Bidirectional", bidirectional_fields)
#undef T

#define T kc_layers_time_distributed_args
static const kc_arg_field time_distributed_fields[] = {KC_ARG_LAYER(T), OBJ(T, layer, KC_KIND_LAYER)};
KC__CONSTRUCTOR(kc_layers_time_distributed, T, L, "TimeDistributed", time_distributed_fields)
#undef T

/* ---- preprocessing ---- */

#define T kc_layers_rescaling_args
static const kc_arg_field rescaling_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, scale), KC_ARG(T, offset)};
KC__CONSTRUCTOR(kc_layers_rescaling, T, L, "Rescaling", rescaling_fields)
#undef T

#define T kc_layers_resizing_args
static const kc_arg_field resizing_fields[] = {
    KC_ARG_LAYER(T),          KC_ARG(T, height),     KC_ARG(T, width),      KC_ARG(T, interpolation),
    KC_ARG(T, crop_to_aspect_ratio), KC_ARG(T, pad_to_aspect_ratio), KC_ARG(T, fill_mode), KC_ARG(T, fill_value),
    KC_ARG(T, antialias),     KC_ARG(T, data_format)};
KC__CONSTRUCTOR(kc_layers_resizing, T, L, "Resizing", resizing_fields)
#undef T

#define T kc_layers_crop_args
static const kc_arg_field center_crop_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, height), KC_ARG(T, width),
                                                  KC_ARG(T, data_format), KC_ARG_KEY(T, seed, "seed", KC_ARG_REFUSED)};
static const kc_arg_field random_crop_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, height), KC_ARG(T, width),
                                                  KC_ARG(T, data_format), KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_layers_center_crop, T, L, "CenterCrop", center_crop_fields)
KC__CONSTRUCTOR(kc_layers_random_crop, T, L, "RandomCrop", random_crop_fields)
#undef T

#define T kc_layers_normalization_args
static const kc_arg_field normalization_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, axis), KC_ARG(T, mean),
                                                    KC_ARG(T, variance), KC_ARG(T, invert)};
KC__CONSTRUCTOR(kc_layers_normalization, T, L, "Normalization", normalization_fields)
#undef T

#define T kc_layers_random_flip_args
static const kc_arg_field flip_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, mode), KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_layers_random_flip, T, L, "RandomFlip", flip_fields)
#undef T

#define T kc_layers_random_transform_args
#define TRANSFORM_FIELDS(f, hf, wf)                                                                \
    KC_ARG_LAYER(T), KC_ARG_KEY(T, factor, "factor", f), KC_ARG_KEY(T, height_factor, "height_factor", hf), \
        KC_ARG_KEY(T, width_factor, "width_factor", wf), KC_ARG(T, fill_mode), KC_ARG(T, fill_value),       \
        KC_ARG(T, interpolation), KC_ARG(T, seed), KC_ARG(T, data_format)
static const kc_arg_field rotation_fields[] = {TRANSFORM_FIELDS(0u, KC_ARG_REFUSED, KC_ARG_REFUSED)};
static const kc_arg_field zoom_fields[] = {TRANSFORM_FIELDS(KC_ARG_REFUSED, 0u, 0u)};
KC__CONSTRUCTOR(kc_layers_random_rotation, T, L, "RandomRotation", rotation_fields)
KC__CONSTRUCTOR(kc_layers_random_zoom, T, L, "RandomZoom", zoom_fields)
KC__CONSTRUCTOR(kc_layers_random_translation, T, L, "RandomTranslation", zoom_fields)
#undef T

#define T kc_layers_random_color_args
static const kc_arg_field contrast_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, factor),
                                               KC_ARG_KEY(T, value_range, "value_range", KC_ARG_REFUSED),
                                               KC_ARG(T, seed)};
static const kc_arg_field brightness_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, factor), KC_ARG(T, value_range),
                                                 KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_layers_random_contrast, T, L, "RandomContrast", contrast_fields)
KC__CONSTRUCTOR(kc_layers_random_brightness, T, L, "RandomBrightness", brightness_fields)
#undef T

#define T kc_layers_category_encoding_args
static const kc_arg_field category_fields[] = {KC_ARG_LAYER(T), KC_ARG(T, num_tokens), KC_ARG(T, output_mode),
                                               KC_ARG(T, sparse)};
KC__CONSTRUCTOR(kc_layers_category_encoding, T, L, "CategoryEncoding", category_fields)
#undef T

#define T kc_layers_discretization_args
static const kc_arg_field discretization_fields[] = {KC_ARG_LAYER(T),      KC_ARG(T, bin_boundaries),
                                                     KC_ARG(T, num_bins),  KC_ARG(T, epsilon),
                                                     KC_ARG(T, output_mode), KC_ARG(T, sparse)};
KC__CONSTRUCTOR(kc_layers_discretization, T, L, "Discretization", discretization_fields)
#undef T
