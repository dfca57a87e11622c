/* The typed constructors (args.h, layers.h, losses.h, ...): for every
 * built-in class, the object a constructor makes from C arguments has
 * the get_config of the object made from the same arguments written as
 * Keras' JSON config (one row per constructor, each setting several
 * fields of every kind: numbers, KC_ZERO, kc_bool, strings, shapes,
 * tuples, objects by name, by KC_OBJECT and by KC_FUNCTION); with NULL
 * arguments it equals the class with Keras' defaults; the registry holds
 * no class without a row; and the conventions' error paths. */
#include "testutil.h"
#include "../lib/training/training_int.h"

#include <string.h>

static kc_error err;

/* Objects the rows pass with KC_OBJECT; the JSON side names them "g_<x>"
 * through custom objects (so both share the very instance), or "@g_<x>"
 * for their serialized config. */
static kc_object *g_l2, *g_cell, *g_lstm, *g_dense, *g_sched;

static kc_tensor *test_act(kc_tensor *x, void *params, kc_error *e)
{
    (void)params;
    return kc_relu(x, e);
}
static kc_tensor *test_lambda(kc_tensor *const *in, int n, void *params, kc_error *e)
{
    (void)n, (void)params;
    return kc_exp(in[0], e);
}

static void setup(void)
{
    kc_error_clear(&err);
    g_l2 = kc_regularizer_l2(0.05, &err);
    g_cell = kc_layers_lstm_cell(&(kc_layers_lstm_args){.units = 3, .name = "cell_g"}, &err);
    g_lstm = kc_layers_lstm(&(kc_layers_lstm_args){.units = 2, .return_sequences = KC_TRUE, .name = "lstm_g"}, &err);
    g_dense = kc_layers_dense(&(kc_layers_dense_args){.units = 2, .name = "dense_g"}, &err);
    g_sched = kc_schedules_exponential_decay(
        &(kc_schedules_exponential_decay_args){.initial_learning_rate = 0.1, .decay_steps = 10, .decay_rate = 0.5},
        &err);
    CK_NN(g_sched, err);
}

static void teardown(void)
{
    kc_object *all[] = {g_l2, g_cell, g_lstm, g_dense, g_sched};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) kc_object_unref(all[i]);
}

/* id, constructor, args type, kind, Keras class, NULL args allowed, JSON config, C arguments */
#define ROWS(X)                                                                                                    \
    X(input_layer, kc_layers_input_layer, kc_layers_input_layer_args, KC_KIND_LAYER, "InputLayer", 0,              \
      "{\"batch_input_shape\": [null, 4, null]}", .input_shape = KC_SHAPE(4, -1))                                  \
    X(dense, kc_layers_dense, kc_layers_dense_args, KC_KIND_LAYER, "Dense", 0,                                     \
      "{\"name\": \"d1\", \"trainable\": false, \"batch_input_shape\": [null, 5], \"units\": 3, \"activation\": "  \
      "\"relu\", \"use_bias\": false, \"kernel_initializer\": \"he_normal\", \"kernel_regularizer\": \"g_l2\", "    \
      "\"bias_constraint\": \"non_neg\", \"activity_regularizer\": {\"class_name\": \"L1\", \"config\": {\"l1\": " \
      "0.5}}}",                                                                                                    \
      .name = "d1", .trainable = KC_FALSE, .input_shape = KC_SHAPE(5), .units = 3, .activation = KC_NAME("relu"),   \
      .use_bias = KC_FALSE, .kernel_initializer = KC_NAME("he_normal"), .kernel_regularizer = KC_OBJECT(g_l2),     \
      .bias_constraint = KC_NAME("non_neg"),                                                                       \
      .activity_regularizer = KC_NAME("{\"class_name\": \"L1\", \"config\": {\"l1\": 0.5}}"))                      \
    X(activation, kc_layers_activation, kc_layers_activation_args, KC_KIND_LAYER, "Activation", 0,                 \
      "{\"activation\": \"test_act\"}", .activation = KC_FUNCTION(test_act))                                       \
    X(embedding, kc_layers_embedding, kc_layers_embedding_args, KC_KIND_LAYER, "Embedding", 0,                     \
      "{\"input_dim\": 10, \"output_dim\": 4, \"mask_zero\": true, \"input_length\": 7, "                           \
      "\"embeddings_initializer\": \"ones\", \"dtype\": \"float64\"}",                                             \
      .input_dim = 10, .output_dim = 4, .mask_zero = KC_TRUE, .input_length = 7,                                  \
      .embeddings_initializer = KC_NAME("ones"), .dtype = "float64")                                               \
    X(masking, kc_layers_masking, kc_layers_masking_args, KC_KIND_LAYER, "Masking", 1, "{\"mask_value\": -1.0}",   \
      .mask_value = -1)                                                                                            \
    X(lambda, kc_layers_lambda, kc_layers_lambda_args, KC_KIND_LAYER, "Lambda", 0,                                 \
      "{\"function\": \"test_lambda\", \"output_shape\": [3, null]}", .function = KC_FUNCTION(test_lambda),        \
      .output_shape = KC_SHAPE(3, -1))                                                                             \
    X(relu, kc_layers_relu, kc_layers_relu_args, KC_KIND_LAYER, "ReLU", 1,                                         \
      "{\"max_value\": 6.0, \"negative_slope\": 0.1, \"threshold\": 0.5}", .max_value = 6, .negative_slope = 0.1,  \
      .threshold = 0.5)                                                                                            \
    X(leaky_relu, kc_layers_leaky_relu, kc_layers_leaky_relu_args, KC_KIND_LAYER, "LeakyReLU", 1,                  \
      "{\"alpha\": 0.0}", .alpha = KC_ZERO)                                                                        \
    X(elu, kc_layers_elu, kc_layers_elu_args, KC_KIND_LAYER, "ELU", 1, "{\"alpha\": 0.5}", .alpha = 0.5)           \
    X(softmax, kc_layers_softmax, kc_layers_softmax_args, KC_KIND_LAYER, "Softmax", 1, "{\"axis\": 1}", .axis = 1) \
    X(prelu, kc_layers_prelu, kc_layers_prelu_args, KC_KIND_LAYER, "PReLU", 1,                                     \
      "{\"alpha_initializer\": \"ones\", \"shared_axes\": [1, 2]}", .alpha_initializer = KC_NAME("ones"),          \
      .shared_axes = KC_SHAPE(1, 2))                                                                               \
    X(dropout, kc_layers_dropout, kc_layers_dropout_args, KC_KIND_LAYER, "Dropout", 0,                             \
      "{\"rate\": 0.25, \"noise_shape\": [null, 1, 4], \"seed\": 0}", .rate = 0.25,                                 \
      .noise_shape = KC_SHAPE(-1, 1, 4), .seed = KC_ZERO)                                                          \
    X(gaussian_noise, kc_layers_gaussian_noise, kc_layers_gaussian_noise_args, KC_KIND_LAYER, "GaussianNoise", 0,  \
      "{\"stddev\": 0.3, \"seed\": 7}", .stddev = 0.3, .seed = 7)                                                  \
    X(gaussian_dropout, kc_layers_gaussian_dropout, kc_layers_gaussian_dropout_args, KC_KIND_LAYER,                \
      "GaussianDropout", 0, "{\"rate\": 0.2}", .rate = 0.2)                                                        \
    X(spatial_dropout1d, kc_layers_spatial_dropout1d, kc_layers_spatial_dropout_args, KC_KIND_LAYER,               \
      "SpatialDropout1D", 0, "{\"rate\": 0.1, \"seed\": 3}", .rate = 0.1, .seed = 3)                               \
    X(spatial_dropout2d, kc_layers_spatial_dropout2d, kc_layers_spatial_dropout_args, KC_KIND_LAYER,               \
      "SpatialDropout2D", 0, "{\"rate\": 0.1}", .rate = 0.1)                                                       \
    X(spatial_dropout3d, kc_layers_spatial_dropout3d, kc_layers_spatial_dropout_args, KC_KIND_LAYER,               \
      "SpatialDropout3D", 0, "{\"rate\": 0.3}", .rate = 0.3)                                                       \
    X(activity_regularization, kc_layers_activity_regularization, kc_layers_activity_regularization_args,          \
      KC_KIND_LAYER, "ActivityRegularization", 1, "{\"l1\": 0.01, \"l2\": 0.02}", .l1 = 0.01, .l2 = 0.02)          \
    X(flatten, kc_layers_flatten, kc_layers_flatten_args, KC_KIND_LAYER, "Flatten", 1,                             \
      "{\"data_format\": \"channels_first\"}", .data_format = "channels_first")                                   \
    X(reshape, kc_layers_reshape, kc_layers_reshape_args, KC_KIND_LAYER, "Reshape", 0,                             \
      "{\"target_shape\": [2, -1]}", .target_shape = KC_SHAPE(2, -1))                                              \
    X(permute, kc_layers_permute, kc_layers_permute_args, KC_KIND_LAYER, "Permute", 0, "{\"dims\": [2, 1]}",       \
      .dims = KC_SHAPE(2, 1))                                                                                      \
    X(repeat_vector, kc_layers_repeat_vector, kc_layers_repeat_vector_args, KC_KIND_LAYER, "RepeatVector", 0,      \
      "{\"n\": 3}", .n = 3)                                                                                        \
    X(add, kc_layers_add, kc_layers_args, KC_KIND_LAYER, "Add", 1, "{\"name\": \"m_add\"}", .name = "m_add")       \
    X(subtract, kc_layers_subtract, kc_layers_args, KC_KIND_LAYER, "Subtract", 1, "{\"trainable\": false}",        \
      .trainable = KC_FALSE)                                                                                       \
    X(multiply, kc_layers_multiply, kc_layers_args, KC_KIND_LAYER, "Multiply", 1, "{\"name\": \"m_mul\"}",         \
      .name = "m_mul")                                                                                             \
    X(average, kc_layers_average, kc_layers_args, KC_KIND_LAYER, "Average", 1, "{\"name\": \"m_avg\"}",            \
      .name = "m_avg")                                                                                             \
    X(maximum, kc_layers_maximum, kc_layers_args, KC_KIND_LAYER, "Maximum", 1, "{\"name\": \"m_max\"}",            \
      .name = "m_max")                                                                                             \
    X(minimum, kc_layers_minimum, kc_layers_args, KC_KIND_LAYER, "Minimum", 1, "{\"name\": \"m_min\"}",            \
      .name = "m_min")                                                                                             \
    X(concatenate, kc_layers_concatenate, kc_layers_concatenate_args, KC_KIND_LAYER, "Concatenate", 1,             \
      "{\"axis\": 1}", .axis = 1)                                                                                  \
    X(dot, kc_layers_dot, kc_layers_dot_args, KC_KIND_LAYER, "Dot", 0, "{\"axes\": [1, 2], \"normalize\": true}", \
      .axes = {1, 2}, .normalize = KC_TRUE)                                                                        \
    X(batch_normalization, kc_layers_batch_normalization, kc_layers_batch_normalization_args, KC_KIND_LAYER,      \
      "BatchNormalization", 1,                                                                                     \
      "{\"axis\": 1, \"momentum\": 0.9, \"epsilon\": 0.01, \"center\": false, \"scale\": false, "                  \
      "\"gamma_regularizer\": \"l2\", \"moving_variance_initializer\": \"zeros\"}",                                \
      .axis = 1, .momentum = 0.9, .epsilon = 0.01, .center = KC_FALSE, .scale = KC_FALSE,                          \
      .gamma_regularizer = KC_NAME("l2"), .moving_variance_initializer = KC_NAME("zeros"))                         \
    X(layer_normalization, kc_layers_layer_normalization, kc_layers_layer_normalization_args, KC_KIND_LAYER,      \
      "LayerNormalization", 1, "{\"axis\": 2, \"epsilon\": 1e-05, \"beta_initializer\": \"ones\"}", .axis = 2,     \
      .epsilon = 1e-5, .beta_initializer = KC_NAME("ones"))                                                        \
    X(conv1d, kc_layers_conv1d, kc_layers_conv1d_args, KC_KIND_LAYER, "Conv1D", 0,                                 \
      "{\"filters\": 4, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"causal\", \"activation\": \"tanh\"}",   \
      .filters = 4, .kernel_size = {3}, .strides = {2}, .padding = "causal", .activation = KC_NAME("tanh"))        \
    X(conv2d, kc_layers_conv2d, kc_layers_conv2d_args, KC_KIND_LAYER, "Conv2D", 0,                                 \
      "{\"filters\": 4, \"kernel_size\": [3, 5], \"padding\": \"same\", \"groups\": 2, \"use_bias\": false, "      \
      "\"dilation_rate\": [2, 1]}",                                                                                \
      .filters = 4, .kernel_size = {3, 5}, .padding = "same", .groups = 2, .use_bias = KC_FALSE,                   \
      .dilation_rate = {2, 1})                                                                                     \
    X(conv3d, kc_layers_conv3d, kc_layers_conv3d_args, KC_KIND_LAYER, "Conv3D", 0,                                 \
      "{\"filters\": 2, \"kernel_size\": 3, \"data_format\": \"channels_first\"}", .filters = 2,                  \
      .kernel_size = {3}, .data_format = "channels_first")                                                         \
    X(conv1d_transpose, kc_layers_conv1d_transpose, kc_layers_conv1d_transpose_args, KC_KIND_LAYER,                \
      "Conv1DTranspose", 0, "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"output_padding\": 1}",         \
      .filters = 2, .kernel_size = {3}, .strides = {2}, .output_padding = {1})                                     \
    X(conv2d_transpose, kc_layers_conv2d_transpose, kc_layers_conv2d_transpose_args, KC_KIND_LAYER,                \
      "Conv2DTranspose", 0,                                                                                        \
      "{\"filters\": 2, \"kernel_size\": [3, 3], \"strides\": 2, \"output_padding\": [0, 1]}", .filters = 2,       \
      .kernel_size = {3, 3}, .strides = {2}, .output_padding = {KC_ZERO, 1})                                       \
    X(conv3d_transpose, kc_layers_conv3d_transpose, kc_layers_conv3d_transpose_args, KC_KIND_LAYER,                \
      "Conv3DTranspose", 0, "{\"filters\": 2, \"kernel_size\": 2}", .filters = 2, .kernel_size = {2})              \
    X(depthwise_conv1d, kc_layers_depthwise_conv1d, kc_layers_depthwise_conv1d_args, KC_KIND_LAYER,                \
      "DepthwiseConv1D", 0, "{\"kernel_size\": 3, \"depth_multiplier\": 2}", .kernel_size = {3},                   \
      .depth_multiplier = 2)                                                                                       \
    X(depthwise_conv2d, kc_layers_depthwise_conv2d, kc_layers_depthwise_conv2d_args, KC_KIND_LAYER,                \
      "DepthwiseConv2D", 0,                                                                                        \
      "{\"kernel_size\": [3, 3], \"strides\": [2, 2], \"depthwise_initializer\": \"he_uniform\"}",                 \
      .kernel_size = {3, 3}, .strides = {2, 2}, .depthwise_initializer = KC_NAME("he_uniform"))                    \
    X(separable_conv1d, kc_layers_separable_conv1d, kc_layers_separable_conv1d_args, KC_KIND_LAYER,                \
      "SeparableConv1D", 0, "{\"filters\": 4, \"kernel_size\": 3, \"pointwise_initializer\": \"ones\"}",           \
      .filters = 4, .kernel_size = {3}, .pointwise_initializer = KC_NAME("ones"))                                  \
    X(separable_conv2d, kc_layers_separable_conv2d, kc_layers_separable_conv2d_args, KC_KIND_LAYER,                \
      "SeparableConv2D", 0, "{\"filters\": 4, \"kernel_size\": 3, \"depth_multiplier\": 2, \"padding\": \"same\"}", \
      .filters = 4, .kernel_size = {3}, .depth_multiplier = 2, .padding = "same")                                  \
    X(max_pooling1d, kc_layers_max_pooling1d, kc_layers_pooling_args, KC_KIND_LAYER, "MaxPooling1D", 1,            \
      "{\"pool_size\": 3, \"strides\": 1}", .pool_size = {3}, .strides = {1})                                      \
    X(max_pooling2d, kc_layers_max_pooling2d, kc_layers_pooling_args, KC_KIND_LAYER, "MaxPooling2D", 1,            \
      "{\"pool_size\": [2, 3], \"padding\": \"same\"}", .pool_size = {2, 3}, .padding = "same")                    \
    X(max_pooling3d, kc_layers_max_pooling3d, kc_layers_pooling_args, KC_KIND_LAYER, "MaxPooling3D", 1,            \
      "{\"pool_size\": 3}", .pool_size = {3})                                                                      \
    X(average_pooling1d, kc_layers_average_pooling1d, kc_layers_pooling_args, KC_KIND_LAYER, "AveragePooling1D",  \
      1, "{\"pool_size\": 4}", .pool_size = {4})                                                                   \
    X(average_pooling2d, kc_layers_average_pooling2d, kc_layers_pooling_args, KC_KIND_LAYER, "AveragePooling2D",  \
      1, "{\"strides\": [1, 2], \"data_format\": \"channels_first\"}", .strides = {1, 2},                          \
      .data_format = "channels_first")                                                                             \
    X(average_pooling3d, kc_layers_average_pooling3d, kc_layers_pooling_args, KC_KIND_LAYER, "AveragePooling3D",  \
      1, "{\"pool_size\": [1, 2, 2]}", .pool_size = {1, 2, 2})                                                     \
    X(global_max_pooling1d, kc_layers_global_max_pooling1d, kc_layers_global_pooling_args, KC_KIND_LAYER,         \
      "GlobalMaxPooling1D", 1, "{\"keepdims\": true}", .keepdims = KC_TRUE)                                        \
    X(global_max_pooling2d, kc_layers_global_max_pooling2d, kc_layers_global_pooling_args, KC_KIND_LAYER,         \
      "GlobalMaxPooling2D", 1, "{\"data_format\": \"channels_first\"}", .data_format = "channels_first")         \
    X(global_max_pooling3d, kc_layers_global_max_pooling3d, kc_layers_global_pooling_args, KC_KIND_LAYER,         \
      "GlobalMaxPooling3D", 1, "{\"keepdims\": true}", .keepdims = KC_TRUE)                                        \
    X(global_average_pooling1d, kc_layers_global_average_pooling1d, kc_layers_global_pooling_args, KC_KIND_LAYER, \
      "GlobalAveragePooling1D", 1, "{\"keepdims\": false}", .keepdims = KC_FALSE)                                  \
    X(global_average_pooling2d, kc_layers_global_average_pooling2d, kc_layers_global_pooling_args, KC_KIND_LAYER, \
      "GlobalAveragePooling2D", 1, "{\"keepdims\": true}", .keepdims = KC_TRUE)                                    \
    X(global_average_pooling3d, kc_layers_global_average_pooling3d, kc_layers_global_pooling_args, KC_KIND_LAYER, \
      "GlobalAveragePooling3D", 1, "{\"data_format\": \"channels_first\"}", .data_format = "channels_first")     \
    X(zero_padding1d, kc_layers_zero_padding1d, kc_layers_zero_padding1d_args, KC_KIND_LAYER, "ZeroPadding1D", 1, \
      "{\"padding\": [1, 0]}", .padding = {1, KC_ZERO})                                                            \
    X(zero_padding2d, kc_layers_zero_padding2d, kc_layers_zero_padding2d_args, KC_KIND_LAYER, "ZeroPadding2D", 1, \
      "{\"padding\": [[1, 1], [2, 0]]}", .padding = {{1, 1}, {2, 0}})                                              \
    X(zero_padding3d, kc_layers_zero_padding3d, kc_layers_zero_padding3d_args, KC_KIND_LAYER, "ZeroPadding3D", 1, \
      "{\"padding\": [[1, 1], [1, 1], [0, 2]], \"data_format\": \"channels_first\"}",                              \
      .padding = {{1, 1}, {1, 1}, {0, 2}}, .data_format = "channels_first")                                        \
    X(cropping1d, kc_layers_cropping1d, kc_layers_cropping1d_args, KC_KIND_LAYER, "Cropping1D", 1,                 \
      "{\"cropping\": 2}", .cropping = {2})                                                                        \
    X(cropping2d, kc_layers_cropping2d, kc_layers_cropping2d_args, KC_KIND_LAYER, "Cropping2D", 1,                 \
      "{\"cropping\": [[0, 1], [1, 0]]}", .cropping = {{0, 1}, {1, 0}})                                            \
    X(cropping3d, kc_layers_cropping3d, kc_layers_cropping3d_args, KC_KIND_LAYER, "Cropping3D", 1,                 \
      "{\"cropping\": [[1, 1], [0, 0], [1, 0]]}", .cropping = {{1, 1}, {0, 0}, {1, 0}})                            \
    X(up_sampling1d, kc_layers_up_sampling1d, kc_layers_up_sampling1d_args, KC_KIND_LAYER, "UpSampling1D", 1,      \
      "{\"size\": 3}", .size = 3)                                                                                  \
    X(up_sampling2d, kc_layers_up_sampling2d, kc_layers_up_sampling2d_args, KC_KIND_LAYER, "UpSampling2D", 1,      \
      "{\"size\": [2, 3], \"interpolation\": \"bilinear\"}", .size = {2, 3}, .interpolation = "bilinear")          \
    X(up_sampling3d, kc_layers_up_sampling3d, kc_layers_up_sampling3d_args, KC_KIND_LAYER, "UpSampling3D", 1,      \
      "{\"size\": 3}", .size = {3})                                                                                \
    X(simple_rnn, kc_layers_simple_rnn, kc_layers_simple_rnn_args, KC_KIND_LAYER, "SimpleRNN", 0,                  \
      "{\"units\": 4, \"activation\": \"relu\", \"return_sequences\": true, \"dropout\": 0.1, \"seed\": 5}",        \
      .units = 4, .activation = KC_NAME("relu"), .return_sequences = KC_TRUE, .dropout = 0.1, .seed = 5)           \
    X(lstm, kc_layers_lstm, kc_layers_lstm_args, KC_KIND_LAYER, "LSTM", 0,                                         \
      "{\"units\": 4, \"unit_forget_bias\": false, \"recurrent_activation\": \"hard_sigmoid\", "                   \
      "\"go_backwards\": true, \"unroll\": true}",                                                                 \
      .units = 4, .unit_forget_bias = KC_FALSE, .recurrent_activation = KC_NAME("hard_sigmoid"),                   \
      .go_backwards = KC_TRUE, .unroll = KC_TRUE)                                                                  \
    X(gru, kc_layers_gru, kc_layers_gru_args, KC_KIND_LAYER, "GRU", 0,                                             \
      "{\"units\": 3, \"reset_after\": false, \"return_state\": true, \"stateful\": true}", .units = 3,            \
      .reset_after = KC_FALSE, .return_state = KC_TRUE, .stateful = KC_TRUE)                                       \
    X(simple_rnn_cell, kc_layers_simple_rnn_cell, kc_layers_simple_rnn_args, KC_KIND_LAYER, "SimpleRNNCell", 0,    \
      "{\"units\": 2, \"use_bias\": false}", .units = 2, .use_bias = KC_FALSE)                                     \
    X(lstm_cell, kc_layers_lstm_cell, kc_layers_lstm_args, KC_KIND_LAYER, "LSTMCell", 0,                           \
      "{\"units\": 2, \"recurrent_dropout\": 0.2}", .units = 2, .recurrent_dropout = 0.2)                          \
    X(gru_cell, kc_layers_gru_cell, kc_layers_gru_args, KC_KIND_LAYER, "GRUCell", 0,                               \
      "{\"units\": 2, \"recurrent_initializer\": \"glorot_uniform\"}", .units = 2,                                \
      .recurrent_initializer = KC_NAME("glorot_uniform"))                                                          \
    X(rnn, kc_layers_rnn, kc_layers_rnn_args, KC_KIND_LAYER, "RNN", 0,                                             \
      "{\"cell\": \"g_cell\", \"return_sequences\": true}", .cell = KC_OBJECT(g_cell),                             \
      .return_sequences = KC_TRUE)                                                                                 \
    X(bidirectional, kc_layers_bidirectional, kc_layers_bidirectional_args, KC_KIND_LAYER, "Bidirectional", 0,     \
      "{\"layer\": \"g_lstm\", \"merge_mode\": null}", .layer = KC_OBJECT(g_lstm), .merge_mode = "")               \
    X(time_distributed, kc_layers_time_distributed, kc_layers_time_distributed_args, KC_KIND_LAYER,                \
      "TimeDistributed", 0, "{\"layer\": \"g_dense\"}", .layer = KC_OBJECT(g_dense))                               \
    X(rescaling, kc_layers_rescaling, kc_layers_rescaling_args, KC_KIND_LAYER, "Rescaling", 0,                     \
      "{\"scale\": 0.00392, \"offset\": -1.0}", .scale = 0.00392, .offset = -1)                                    \
    X(resizing, kc_layers_resizing, kc_layers_resizing_args, KC_KIND_LAYER, "Resizing", 0,                         \
      "{\"height\": 4, \"width\": 6, \"interpolation\": \"nearest\", \"crop_to_aspect_ratio\": true}",             \
      .height = 4, .width = 6, .interpolation = "nearest", .crop_to_aspect_ratio = KC_TRUE)                        \
    X(center_crop, kc_layers_center_crop, kc_layers_crop_args, KC_KIND_LAYER, "CenterCrop", 0,                     \
      "{\"height\": 2, \"width\": 3}", .height = 2, .width = 3)                                                    \
    X(random_crop, kc_layers_random_crop, kc_layers_crop_args, KC_KIND_LAYER, "RandomCrop", 0,                     \
      "{\"height\": 2, \"width\": 3, \"seed\": 4}", .height = 2, .width = 3, .seed = 4)                            \
    X(normalization, kc_layers_normalization, kc_layers_normalization_args, KC_KIND_LAYER, "Normalization", 1,    \
      "{\"axis\": [-1], \"mean\": [1.0, 2.0], \"variance\": [4.0, 9.0], \"invert\": true}",                        \
      .axis = KC_SHAPE(-1), .mean = KC_FLOATS(1, 2), .variance = KC_FLOATS(4, 9), .invert = KC_TRUE)              \
    X(random_flip, kc_layers_random_flip, kc_layers_random_flip_args, KC_KIND_LAYER, "RandomFlip", 1,              \
      "{\"mode\": \"horizontal\", \"seed\": 1}", .mode = "horizontal", .seed = 1)                                  \
    X(random_rotation, kc_layers_random_rotation, kc_layers_random_transform_args, KC_KIND_LAYER,                  \
      "RandomRotation", 0, "{\"factor\": 0.2, \"fill_mode\": \"constant\", \"fill_value\": 1.0}", .factor = 0.2,   \
      .fill_mode = "constant", .fill_value = 1)                                                                    \
    X(random_zoom, kc_layers_random_zoom, kc_layers_random_transform_args, KC_KIND_LAYER, "RandomZoom", 0,         \
      "{\"height_factor\": 0.1, \"width_factor\": 0.3, \"interpolation\": \"nearest\"}", .height_factor = 0.1,     \
      .width_factor = 0.3, .interpolation = "nearest")                                                             \
    X(random_translation, kc_layers_random_translation, kc_layers_random_transform_args, KC_KIND_LAYER,            \
      "RandomTranslation", 0, "{\"height_factor\": 0.1, \"width_factor\": 0.2, \"seed\": 9}",                       \
      .height_factor = 0.1, .width_factor = 0.2, .seed = 9)                                                        \
    X(random_contrast, kc_layers_random_contrast, kc_layers_random_color_args, KC_KIND_LAYER, "RandomContrast", 0, \
      "{\"factor\": 0.5}", .factor = 0.5)                                                                          \
    X(random_brightness, kc_layers_random_brightness, kc_layers_random_color_args, KC_KIND_LAYER,                  \
      "RandomBrightness", 0, "{\"factor\": 0.2, \"value_range\": [0.0, 1.0]}", .factor = 0.2,                      \
      .value_range = KC_FLOATS(KC_ZERO, 1))                                                                        \
    X(category_encoding, kc_layers_category_encoding, kc_layers_category_encoding_args, KC_KIND_LAYER,             \
      "CategoryEncoding", 0, "{\"num_tokens\": 5, \"output_mode\": \"count\"}", .num_tokens = 5,                   \
      .output_mode = "count")                                                                                      \
    X(discretization, kc_layers_discretization, kc_layers_discretization_args, KC_KIND_LAYER, "Discretization", 0, \
      "{\"bin_boundaries\": [0.0, 1.0, 2.5], \"output_mode\": \"one_hot\"}",                                       \
      .bin_boundaries = KC_FLOATS(KC_ZERO, 1, 2.5), .output_mode = "one_hot")                                      \
    X(l_mse, kc_losses_mean_squared_error, kc_losses_args, KC_KIND_LOSS, "MeanSquaredError", 1,                    \
      "{\"reduction\": \"sum\", \"name\": \"my_mse\"}", .reduction = "sum", .name = "my_mse")                      \
    X(l_mae, kc_losses_mean_absolute_error, kc_losses_args, KC_KIND_LOSS, "MeanAbsoluteError", 1,                  \
      "{\"reduction\": \"none\"}", .reduction = "none")                                                            \
    X(l_mape, kc_losses_mean_absolute_percentage_error, kc_losses_args, KC_KIND_LOSS,                              \
      "MeanAbsolutePercentageError", 1, "{\"name\": \"p\"}", .name = "p")                                          \
    X(l_msle, kc_losses_mean_squared_logarithmic_error, kc_losses_args, KC_KIND_LOSS,                              \
      "MeanSquaredLogarithmicError", 1, "{\"reduction\": \"sum\"}", .reduction = "sum")                            \
    X(l_log_cosh, kc_losses_log_cosh, kc_losses_args, KC_KIND_LOSS, "LogCosh", 1, "{\"name\": \"lc\"}",            \
      .name = "lc")                                                                                                \
    X(l_hinge, kc_losses_hinge, kc_losses_args, KC_KIND_LOSS, "Hinge", 1, "{\"reduction\": \"sum\"}",              \
      .reduction = "sum")                                                                                          \
    X(l_squared_hinge, kc_losses_squared_hinge, kc_losses_args, KC_KIND_LOSS, "SquaredHinge", 1,                   \
      "{\"name\": \"sh\"}", .name = "sh")                                                                          \
    X(l_categorical_hinge, kc_losses_categorical_hinge, kc_losses_args, KC_KIND_LOSS, "CategoricalHinge", 1,       \
      "{\"name\": \"ch\"}", .name = "ch")                                                                          \
    X(l_kld, kc_losses_kl_divergence, kc_losses_args, KC_KIND_LOSS, "KLDivergence", 1,                             \
      "{\"reduction\": \"sum_over_batch_size\"}", .reduction = "sum_over_batch_size")                              \
    X(l_poisson, kc_losses_poisson, kc_losses_args, KC_KIND_LOSS, "Poisson", 1, "{\"name\": \"po\"}",              \
      .name = "po")                                                                                                \
    X(l_huber, kc_losses_huber, kc_losses_huber_args, KC_KIND_LOSS, "Huber", 1, "{\"delta\": 2.0}", .delta = 2)    \
    X(l_bce, kc_losses_binary_crossentropy, kc_losses_crossentropy_args, KC_KIND_LOSS, "BinaryCrossentropy", 1,    \
      "{\"from_logits\": true, \"label_smoothing\": 0.1}", .from_logits = KC_TRUE, .label_smoothing = 0.1)         \
    X(l_cce, kc_losses_categorical_crossentropy, kc_losses_crossentropy_args, KC_KIND_LOSS,                        \
      "CategoricalCrossentropy", 1, "{\"axis\": 1, \"from_logits\": true}", .axis = 1, .from_logits = KC_TRUE)     \
    X(l_scce, kc_losses_sparse_categorical_crossentropy, kc_losses_sparse_categorical_crossentropy_args,           \
      KC_KIND_LOSS, "SparseCategoricalCrossentropy", 1, "{\"ignore_class\": 0}", .ignore_class = KC_ZERO)          \
    X(l_cosine, kc_losses_cosine_similarity, kc_losses_cosine_similarity_args, KC_KIND_LOSS, "CosineSimilarity",  \
      1, "{\"axis\": 0}", .axis = KC_ZERO)                                                                         \
    X(m_mean, kc_metrics_mean, kc_metrics_args, KC_KIND_METRIC, "Mean", 1, "{\"name\": \"avg\"}", .name = "avg")   \
    X(m_sum, kc_metrics_sum, kc_metrics_args, KC_KIND_METRIC, "Sum", 1, "{\"name\": \"total\"}", .name = "total")  \
    X(m_accuracy, kc_metrics_accuracy, kc_metrics_args, KC_KIND_METRIC, "Accuracy", 1,                             \
      "{\"dtype\": \"float32\", \"name\": \"acc\"}", .dtype = "float32", .name = "acc")                           \
    X(m_cat_acc, kc_metrics_categorical_accuracy, kc_metrics_args, KC_KIND_METRIC, "CategoricalAccuracy", 1,       \
      "{\"name\": \"ca\"}", .name = "ca")                                                                          \
    X(m_sparse_cat_acc, kc_metrics_sparse_categorical_accuracy, kc_metrics_args, KC_KIND_METRIC,                   \
      "SparseCategoricalAccuracy", 1, "{\"name\": \"sca\"}", .name = "sca")                                        \
    X(m_mse, kc_metrics_mean_squared_error, kc_metrics_args, KC_KIND_METRIC, "MeanSquaredError", 1,                \
      "{\"name\": \"m1\"}", .name = "m1")                                                                          \
    X(m_mae, kc_metrics_mean_absolute_error, kc_metrics_args, KC_KIND_METRIC, "MeanAbsoluteError", 1,              \
      "{\"name\": \"m2\"}", .name = "m2")                                                                          \
    X(m_rmse, kc_metrics_root_mean_squared_error, kc_metrics_args, KC_KIND_METRIC, "RootMeanSquaredError", 1,      \
      "{\"name\": \"m3\"}", .name = "m3")                                                                          \
    X(m_wrapper, kc_metrics_mean_metric_wrapper, kc_metrics_mean_metric_wrapper_args, KC_KIND_METRIC,              \
      "MeanMetricWrapper", 1, "{\"fn\": \"mae\", \"name\": \"w\"}", .fn = KC_NAME("mae"), .name = "w")             \
    X(m_binary_acc, kc_metrics_binary_accuracy, kc_metrics_binary_accuracy_args, KC_KIND_METRIC, "BinaryAccuracy", \
      1, "{\"threshold\": 0.0}", .threshold = KC_ZERO)                                                             \
    X(m_top_k, kc_metrics_top_k_categorical_accuracy, kc_metrics_top_k_args, KC_KIND_METRIC,                       \
      "TopKCategoricalAccuracy", 1, "{\"k\": 3}", .k = 3)                                                          \
    X(m_sparse_top_k, kc_metrics_sparse_top_k_categorical_accuracy, kc_metrics_top_k_args, KC_KIND_METRIC,         \
      "SparseTopKCategoricalAccuracy", 1, "{\"k\": 2}", .k = 2)                                                    \
    X(m_precision, kc_metrics_precision, kc_metrics_precision_args, KC_KIND_METRIC, "Precision", 1,                \
      "{\"thresholds\": [0.3, 0.6], \"class_id\": 0}", .thresholds = KC_FLOATS(0.3, 0.6), .class_id = KC_ZERO)     \
    X(m_recall, kc_metrics_recall, kc_metrics_recall_args, KC_KIND_METRIC, "Recall", 1, "{\"top_k\": 2}",          \
      .top_k = 2)                                                                                                  \
    X(m_tp, kc_metrics_true_positives, kc_metrics_thresholds_args, KC_KIND_METRIC, "TruePositives", 1,             \
      "{\"thresholds\": [0.5]}", .thresholds = KC_FLOATS(0.5))                                                     \
    X(m_fp, kc_metrics_false_positives, kc_metrics_thresholds_args, KC_KIND_METRIC, "FalsePositives", 1,           \
      "{\"thresholds\": [0.2, 0.8]}", .thresholds = KC_FLOATS(0.2, 0.8))                                           \
    X(m_tn, kc_metrics_true_negatives, kc_metrics_thresholds_args, KC_KIND_METRIC, "TrueNegatives", 1,             \
      "{\"name\": \"tn\"}", .name = "tn")                                                                          \
    X(m_fn, kc_metrics_false_negatives, kc_metrics_thresholds_args, KC_KIND_METRIC, "FalseNegatives", 1,           \
      "{\"thresholds\": [0.7]}", .thresholds = KC_FLOATS(0.7))                                                     \
    X(m_auc, kc_metrics_auc, kc_metrics_auc_args, KC_KIND_METRIC, "AUC", 1,                                        \
      "{\"num_thresholds\": 50, \"curve\": \"PR\", \"summation_method\": \"minoring\", \"multi_label\": true, "    \
      "\"num_labels\": 3, \"label_weights\": [1.0, 2.0, 3.0], \"from_logits\": true}",                             \
      .num_thresholds = 50, .curve = "PR", .summation_method = "minoring", .multi_label = KC_TRUE,                 \
      .num_labels = 3, .label_weights = KC_FLOATS(1, 2, 3), .from_logits = KC_TRUE)                                \
    X(m_mean_iou, kc_metrics_mean_iou, kc_metrics_mean_iou_args, KC_KIND_METRIC, "MeanIoU", 0,                     \
      "{\"num_classes\": 3, \"ignore_class\": 0, \"sparse_y_pred\": false, \"axis\": 1}", .num_classes = 3,        \
      .ignore_class = KC_ZERO, .sparse_y_pred = KC_FALSE, .axis = 1)                                               \
    X(o_sgd, kc_optimizers_sgd, kc_optimizers_sgd_args, KC_KIND_OPTIMIZER, "SGD", 1,                               \
      "{\"learning_rate\": 0.1, \"momentum\": 0.9, \"nesterov\": true, \"clipnorm\": 1.0}", .learning_rate = 0.1,  \
      .momentum = 0.9, .nesterov = KC_TRUE, .clipnorm = 1)                                                         \
    X(o_sgd_schedule, kc_optimizers_sgd, kc_optimizers_sgd_args, KC_KIND_OPTIMIZER, "SGD", 1,                      \
      "{\"learning_rate\": \"@g_sched\", \"decay\": 0.01}", .schedule = KC_OBJECT(g_sched), .decay = 0.01)         \
    X(o_adam, kc_optimizers_adam, kc_optimizers_adam_args, KC_KIND_OPTIMIZER, "Adam", 1,                           \
      "{\"learning_rate\": 0.01, \"beta_1\": 0.8, \"amsgrad\": true, \"name\": \"opt\"}", .learning_rate = 0.01,    \
      .beta_1 = 0.8, .amsgrad = KC_TRUE, .name = "opt")                                                            \
    X(o_adamax, kc_optimizers_adamax, kc_optimizers_adamax_args, KC_KIND_OPTIMIZER, "Adamax", 1,                   \
      "{\"epsilon\": 1e-06}", .epsilon = 1e-6)                                                                     \
    X(o_nadam, kc_optimizers_nadam, kc_optimizers_nadam_args, KC_KIND_OPTIMIZER, "Nadam", 1, "{\"beta_2\": 0.99}", \
      .beta_2 = 0.99)                                                                                              \
    X(o_adamw, kc_optimizers_adamw, kc_optimizers_adamw_args, KC_KIND_OPTIMIZER, "AdamW", 1,                       \
      "{\"weight_decay\": 0.01, \"clipvalue\": 0.5}", .weight_decay = 0.01, .clipvalue = 0.5)                      \
    X(o_rmsprop, kc_optimizers_rmsprop, kc_optimizers_rmsprop_args, KC_KIND_OPTIMIZER, "RMSprop", 1,               \
      "{\"rho\": 0.8, \"centered\": true, \"momentum\": 0.5}", .rho = 0.8, .centered = KC_TRUE, .momentum = 0.5)   \
    X(o_adagrad, kc_optimizers_adagrad, kc_optimizers_adagrad_args, KC_KIND_OPTIMIZER, "Adagrad", 1,               \
      "{\"initial_accumulator_value\": 0.2}", .initial_accumulator_value = 0.2)                                    \
    X(o_adadelta, kc_optimizers_adadelta, kc_optimizers_adadelta_args, KC_KIND_OPTIMIZER, "Adadelta", 1,           \
      "{\"rho\": 0.9, \"global_clipnorm\": 2.0}", .rho = 0.9, .global_clipnorm = 2)                                \
    X(s_exp, kc_schedules_exponential_decay, kc_schedules_exponential_decay_args, KC_KIND_SCHEDULE,                \
      "ExponentialDecay", 0,                                                                                       \
      "{\"initial_learning_rate\": 0.1, \"decay_steps\": 100, \"decay_rate\": 0.9, \"staircase\": true}",          \
      .initial_learning_rate = 0.1, .decay_steps = 100, .decay_rate = 0.9, .staircase = KC_TRUE)                   \
    X(s_inverse, kc_schedules_inverse_time_decay, kc_schedules_inverse_time_decay_args, KC_KIND_SCHEDULE,          \
      "InverseTimeDecay", 0,                                                                                       \
      "{\"initial_learning_rate\": 0.1, \"decay_steps\": 10, \"decay_rate\": 0.5, \"name\": \"itd\"}",             \
      .initial_learning_rate = 0.1, .decay_steps = 10, .decay_rate = 0.5, .name = "itd")                           \
    X(s_piecewise, kc_schedules_piecewise_constant_decay, kc_schedules_piecewise_constant_decay_args,              \
      KC_KIND_SCHEDULE, "PiecewiseConstantDecay", 0, "{\"boundaries\": [10, 20], \"values\": [0.1, 0.05, 0.01]}", \
      .boundaries = KC_FLOATS(10, 20), .values = KC_FLOATS(0.1, 0.05, 0.01))                                       \
    X(s_polynomial, kc_schedules_polynomial_decay, kc_schedules_polynomial_decay_args, KC_KIND_SCHEDULE,           \
      "PolynomialDecay", 0,                                                                                        \
      "{\"initial_learning_rate\": 0.1, \"decay_steps\": 100, \"end_learning_rate\": 0.001, \"power\": 2.0, "      \
      "\"cycle\": true}",                                                                                          \
      .initial_learning_rate = 0.1, .decay_steps = 100, .end_learning_rate = 0.001, .power = 2,                    \
      .cycle = KC_TRUE)                                                                                            \
    X(s_cosine, kc_schedules_cosine_decay, kc_schedules_cosine_decay_args, KC_KIND_SCHEDULE, "CosineDecay", 0,     \
      "{\"initial_learning_rate\": 0.1, \"decay_steps\": 100, \"alpha\": 0.1, \"warmup_target\": 0.2, "            \
      "\"warmup_steps\": 5}",                                                                                      \
      .initial_learning_rate = 0.1, .decay_steps = 100, .alpha = 0.1, .warmup_target = 0.2, .warmup_steps = 5)     \
    X(s_restarts, kc_schedules_cosine_decay_restarts, kc_schedules_cosine_decay_restarts_args, KC_KIND_SCHEDULE,   \
      "CosineDecayRestarts", 0,                                                                                    \
      "{\"initial_learning_rate\": 0.1, \"first_decay_steps\": 10, \"t_mul\": 1.5, \"m_mul\": 0.9, \"alpha\": "    \
      "0.01}",                                                                                                     \
      .initial_learning_rate = 0.1, .first_decay_steps = 10, .t_mul = 1.5, .m_mul = 0.9, .alpha = 0.01)            \
    X(i_zeros, kc_initializers_zeros, kc_no_args, KC_KIND_INITIALIZER, "Zeros", 1, "{}", .unused_ = 0)            \
    X(i_ones, kc_initializers_ones, kc_no_args, KC_KIND_INITIALIZER, "Ones", 1, "{}", .unused_ = 0)               \
    X(i_constant, kc_initializers_constant, kc_initializers_constant_args, KC_KIND_INITIALIZER, "Constant", 1,    \
      "{\"value\": 2.5}", .value = 2.5)                                                                            \
    X(i_identity, kc_initializers_identity, kc_initializers_identity_args, KC_KIND_INITIALIZER, "Identity", 1,    \
      "{\"gain\": 2.0}", .gain = 2)                                                                                \
    X(i_normal, kc_initializers_random_normal, kc_initializers_normal_args, KC_KIND_INITIALIZER, "RandomNormal",  \
      1, "{\"mean\": 1.0, \"stddev\": 0.2, \"seed\": 3}", .mean = 1, .stddev = 0.2, .seed = 3)                     \
    X(i_truncated, kc_initializers_truncated_normal, kc_initializers_normal_args, KC_KIND_INITIALIZER,             \
      "TruncatedNormal", 1, "{\"stddev\": 0.1}", .stddev = 0.1)                                                    \
    X(i_uniform, kc_initializers_random_uniform, kc_initializers_random_uniform_args, KC_KIND_INITIALIZER,         \
      "RandomUniform", 1, "{\"minval\": 0.0, \"maxval\": 1.0, \"seed\": 0}", .minval = KC_ZERO, .maxval = 1,        \
      .seed = KC_ZERO)                                                                                             \
    X(i_variance, kc_initializers_variance_scaling, kc_initializers_variance_scaling_args, KC_KIND_INITIALIZER,    \
      "VarianceScaling", 1,                                                                                        \
      "{\"scale\": 2.0, \"mode\": \"fan_avg\", \"distribution\": \"uniform\", \"seed\": 1}", .scale = 2,           \
      .mode = "fan_avg", .distribution = "uniform", .seed = 1)                                                     \
    X(i_glorot_normal, kc_initializers_glorot_normal, kc_initializers_seed_args, KC_KIND_INITIALIZER,              \
      "GlorotNormal", 1, "{\"seed\": 11}", .seed = 11)                                                             \
    X(i_glorot_uniform, kc_initializers_glorot_uniform, kc_initializers_seed_args, KC_KIND_INITIALIZER,            \
      "GlorotUniform", 1, "{\"seed\": 12}", .seed = 12)                                                            \
    X(i_he_normal, kc_initializers_he_normal, kc_initializers_seed_args, KC_KIND_INITIALIZER, "HeNormal", 1,       \
      "{\"seed\": 13}", .seed = 13)                                                                                \
    X(i_he_uniform, kc_initializers_he_uniform, kc_initializers_seed_args, KC_KIND_INITIALIZER, "HeUniform", 1,    \
      "{\"seed\": 14}", .seed = 14)                                                                                \
    X(i_lecun_normal, kc_initializers_lecun_normal, kc_initializers_seed_args, KC_KIND_INITIALIZER,                \
      "LecunNormal", 1, "{\"seed\": 15}", .seed = 15)                                                              \
    X(i_lecun_uniform, kc_initializers_lecun_uniform, kc_initializers_seed_args, KC_KIND_INITIALIZER,              \
      "LecunUniform", 1, "{\"seed\": 16}", .seed = 16)                                                             \
    X(i_orthogonal, kc_initializers_orthogonal, kc_initializers_orthogonal_args, KC_KIND_INITIALIZER,              \
      "Orthogonal", 1, "{\"gain\": 0.5, \"seed\": 2}", .gain = 0.5, .seed = 2)                                     \
    X(r_l1, kc_regularizers_l1, kc_regularizers_l1_args, KC_KIND_REGULARIZER, "L1", 1, "{\"l1\": 0.1}", .l1 = 0.1) \
    X(r_l2, kc_regularizers_l2, kc_regularizers_l2_args, KC_KIND_REGULARIZER, "L2", 1, "{\"l2\": 0.0}",            \
      .l2 = KC_ZERO)                                                                                               \
    X(r_l1l2, kc_regularizers_l1l2, kc_regularizers_l1l2_args, KC_KIND_REGULARIZER, "L1L2", 1,                     \
      "{\"l1\": 0.1, \"l2\": 0.2}", .l1 = 0.1, .l2 = 0.2)                                                          \
    X(c_non_neg, kc_constraints_non_neg, kc_no_args, KC_KIND_CONSTRAINT, "NonNeg", 1, "{}", .unused_ = 0)         \
    X(c_radial, kc_constraints_radial_constraint, kc_no_args, KC_KIND_CONSTRAINT, "RadialConstraint", 1, "{}",     \
      .unused_ = 0)                                                                                                \
    X(c_max_norm, kc_constraints_max_norm, kc_constraints_max_norm_args, KC_KIND_CONSTRAINT, "MaxNorm", 1,         \
      "{\"max_value\": 3.0, \"axis\": 1}", .max_value = 3, .axis = 1)                                              \
    X(c_min_max_norm, kc_constraints_min_max_norm, kc_constraints_min_max_norm_args, KC_KIND_CONSTRAINT,           \
      "MinMaxNorm", 1, "{\"min_value\": 0.5, \"max_value\": 2.0, \"rate\": 0.5, \"axis\": -1}", .min_value = 0.5,  \
      .max_value = 2, .rate = 0.5, .axis = -1)                                                                     \
    X(c_unit_norm, kc_constraints_unit_norm, kc_constraints_unit_norm_args, KC_KIND_CONSTRAINT, "UnitNorm", 1,     \
      "{\"axis\": 1}", .axis = 1)

#define THUNKS(id, ctor, T, kind, cls, null_ok, json, ...)                                        \
    static kc_object *make_##id(kc_error *e) { return ctor(&(T){__VA_ARGS__}, e); }                \
    static kc_object *make0_##id(kc_error *e) { return ctor(NULL, e); }
ROWS(THUNKS)

typedef struct row {
    const char *id;
    kc_kind kind;
    const char *cls;
    bool null_ok;
    const char *json;
    kc_object *(*make)(kc_error *);
    kc_object *(*make_defaults)(kc_error *);
} row;

#define ROW_ENTRY(id, ctor, T, kind, cls, null_ok, json, ...) {#id, kind, cls, null_ok, json, make_##id, make0_##id},
static const row rows[] = {ROWS(ROW_ENTRY)};
#define N_ROWS ((int)(sizeof rows / sizeof rows[0]))

/* "@g_x" string values become g_x's serialized form. */
static void substitute(json_t *j)
{
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), "@g_sched") == 0) {
            json_t *s;
            ck_assert_int_eq(kc_serialize(g_sched, &s, &err), KC_OK);
            json_object_set_new(j, key, s);
        }
    }
}

static kc_custom_objects *row_objects(void)
{
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_NN(co, err);
    ck_assert_int_eq(kc_custom_objects_add_object(co, "g_l2", g_l2, &err), KC_OK);
    ck_assert_int_eq(kc_custom_objects_add_object(co, "g_cell", g_cell, &err), KC_OK);
    ck_assert_int_eq(kc_custom_objects_add_object(co, "g_lstm", g_lstm, &err), KC_OK);
    ck_assert_int_eq(kc_custom_objects_add_object(co, "g_dense", g_dense, &err), KC_OK);
    ck_assert_int_eq(kc_custom_objects_add_function(co, KC_KIND_ACTIVATION, "test_act", KC_FN(test_act), NULL, NULL,
                                                    &err),
                     KC_OK);
    ck_assert_int_eq(kc_custom_objects_add_function(co, KC_KIND_LAMBDA, "test_lambda", KC_FN(test_lambda), NULL,
                                                    NULL, &err),
                     KC_OK);
    return co;
}

/* The config without the automatic name (layers count them), unless the
 * row set one. */
static json_t *config_of(kc_object *obj, bool keep_name)
{
    json_t *cfg;
    ck_assert_msg(kc_object_get_config(obj, &cfg, &err) == KC_OK, "%s", err.message);
    if (!keep_name && kc_is_layer(obj)) json_object_del(cfg, "name");
    return cfg;
}

static void assert_same_config(const char *what, kc_object *a, kc_object *b, bool keep_name)
{
    json_t *ca = config_of(a, keep_name), *cb = config_of(b, keep_name);
    char *ta = kc_json_dump(ca, &err), *tb = kc_json_dump(cb, &err);
    ck_assert_msg(json_equal(ca, cb), "%s: typed %s\n  json %s", what, ta, tb);
    ck_assert_msg(!strstr(ta, "kc_arg:"), "%s: a private name leaked into the config: %s", what, ta);
    kc_json_free(ta);
    kc_json_free(tb);
    json_decref(ca);
    json_decref(cb);
}

START_TEST(typed_constructor_equals_json_config)
{
    const row *r = &rows[_i];
    kc_object *typed = r->make(&err);
    ck_assert_msg(typed != NULL, "%s: %s (%s)", r->id, err.message, err.context);
    ck_assert_str_eq(kc_object_class(typed)->name, r->cls);
    json_t *cfg = kc_json_parse(r->json, strlen(r->json), 0, &err);
    CK_NN(cfg, err);
    substitute(cfg);
    json_t *spec = json_pack("{s:s, s:o}", "class_name", r->cls, "config", cfg);
    kc_custom_objects *co = row_objects();
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, r->id, co);
    kc_object *from_json = NULL;
    ck_assert_msg(kc_deserialize(r->kind, spec, &ctx, &from_json, &err) == KC_OK, "%s: %s (%s)", r->id,
                  err.message, err.context);
    assert_same_config(r->id, typed, from_json, json_object_get(cfg, "name") != NULL);
    json_decref(spec);
    kc_custom_objects_free(co);
    kc_object_unref(typed);
    kc_object_unref(from_json);
}
END_TEST

START_TEST(null_args_are_keras_defaults)
{
    const row *r = &rows[_i];
    kc_object *typed = r->make_defaults(&err);
    if (!r->null_ok) {
        ck_assert_msg(typed == NULL, "%s: made without its required arguments", r->id);
        ck_assert_msg(err.code == KC_EFORMAT || err.code == KC_EINVAL || err.code == KC_EUNSUPPORTED, "%s: %s", r->id,
                      kc_status_name(err.code));
        ck_assert_msg(strstr(err.message, "kc_"), "%s: the message names the constructor: %s", r->id, err.message);
        return;
    }
    ck_assert_msg(typed != NULL, "%s: %s (%s)", r->id, err.message, err.context);
    kc_object *dflt = kc_object_create(r->kind, r->cls, &err);
    ck_assert_msg(dflt != NULL, "%s: %s", r->id, err.message);
    assert_same_config(r->id, typed, dflt, false);
    kc_object_unref(typed);
    kc_object_unref(dflt);
}
END_TEST

/* Every class the registry holds that users make by hand has a row. */
START_TEST(every_builtin_class_has_a_typed_constructor)
{
    ck_assert_int_eq(kc_init(&err), KC_OK);
    int missing = 0;
    for (size_t i = 0; i < kc_registry_size(); i++) {
        kc_kind kind;
        const char *name;
        const kc_class *cls;
        kc_registry_entry(i, &kind, &name, &cls, NULL);
        if (!cls || kind == KC_KIND_MODEL || kind == KC_KIND_ACTIVATION || kind == KC_KIND_LAMBDA) continue;
        bool found = false;
        for (int r = 0; r < N_ROWS && !found; r++) found = rows[r].kind == kind && strcmp(rows[r].cls, name) == 0;
        if (!found) fprintf(stderr, "no typed constructor row for %s '%s' (add one to ROWS)\n", kc_kind_name(kind), name);
        missing += !found;
    }
    ck_assert_int_eq(missing, 0);
}
END_TEST

/* ---- the conventions' edges ---- */

START_TEST(zero_markers_and_tuples)
{
    /* a tuple with more values than the class has axes is refused */
    kc_object *c = kc_layers_conv2d(&(kc_layers_conv2d_args){.filters = 2, .kernel_size = {3, 3, 3}}, &err);
    ck_assert_ptr_null(c);
    CK_ERR(err, KC_EINVAL, "kc_layers_conv2d.kernel_size");
    kc_error_clear(&err);
    /* a zero inside a tuple ends it; KC_ZERO is a zero value */
    c = kc_layers_conv2d(&(kc_layers_conv2d_args){.filters = 2, .kernel_size = {3, 0, 5}}, &err);
    ck_assert_ptr_null(c);
    CK_ERR(err, KC_EINVAL, "leading non-zero");
    kc_error_clear(&err);
    /* an argument a class does not take is refused, not dropped */
    c = kc_layers_lstm_cell(&(kc_layers_lstm_args){.units = 2, .return_sequences = KC_TRUE}, &err);
    ck_assert_ptr_null(c);
    CK_ERR(err, KC_EINVAL, "kc_layers_lstm_cell.return_sequences");
    kc_error_clear(&err);
    c = kc_layers_simple_rnn(&(kc_layers_simple_rnn_args){.units = 2, .recurrent_activation = KC_NAME("relu")}, &err);
    ck_assert_ptr_null(c);
    CK_ERR(err, KC_EINVAL, "kc_layers_simple_rnn.recurrent_activation");
    kc_error_clear(&err);
    c = kc_optimizers_nadam(&(kc_optimizers_nadam_args){.amsgrad = KC_TRUE}, &err);
    ck_assert_ptr_null(c);
    CK_ERR(err, KC_EINVAL, "amsgrad");
    kc_error_clear(&err);
    /* a kc_bool that is neither default, true nor false */
    c = kc_layers_dense(&(kc_layers_dense_args){.units = 2, .use_bias = {7}}, &err);
    ck_assert_ptr_null(c);
    CK_ERR(err, KC_EINVAL, "use_bias");
}
END_TEST

START_TEST(object_arguments_are_shared_and_checked)
{
    kc_object *reg = kc_regularizers_l2(&(kc_regularizers_l2_args){.l2 = 0.3}, &err);
    CK_NN(reg, err);
    long before = reg->refcount;
    kc_object *d = kc_layers_dense(&(kc_layers_dense_args){.units = 2, .kernel_regularizer = KC_OBJECT(reg)}, &err);
    CK_NN(d, err);
    ck_assert_int_eq(reg->refcount, before + 1); /* referenced, not stolen, not copied */
    kc_object_unref(d);
    ck_assert_int_eq(reg->refcount, before);
    /* the wrong kind names the field and both kinds */
    d = kc_layers_dense(&(kc_layers_dense_args){.units = 2, .kernel_initializer = KC_OBJECT(reg)}, &err);
    ck_assert_ptr_null(d);
    CK_ERR(err, KC_ETYPE, "kc_layers_dense.kernel_initializer: expected an initializer, got a regularizer");
    kc_error_clear(&err);
    /* a function needs its name; one spec, one way */
    d = kc_layers_dense(&(kc_layers_dense_args){.units = 2, .activation = {.fn = KC_FN(test_act)}}, &err);
    ck_assert_ptr_null(d);
    CK_ERR(err, KC_EINVAL, "name");
    kc_error_clear(&err);
    d = kc_layers_dense(&(kc_layers_dense_args){.units = 2, .activation = {.name = "relu", .object = reg}}, &err);
    ck_assert_ptr_null(d);
    CK_ERR(err, KC_EINVAL, "not several");
    kc_error_clear(&err);
    /* an unknown name is the loader's error, with the constructor's path */
    d = kc_layers_dense(&(kc_layers_dense_args){.units = 2, .activation = KC_NAME("nope")}, &err);
    ck_assert_ptr_null(d);
    CK_ERR(err, KC_ENOTFOUND, "kc_layers_dense.activation");
    kc_error_clear(&err);
    /* bad JSON text in a spec */
    d = kc_layers_dense(&(kc_layers_dense_args){.units = 2, .activation = KC_NAME("{oops")}, &err);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(err.code, KC_EFORMAT);
    kc_object_unref(reg);
}
END_TEST

/* A typed layer works like the JSON one: same outputs from the same weights. */
START_TEST(typed_layer_computes_like_json_layer)
{
    kc_object *a = kc_layers_dense(&(kc_layers_dense_args){.units = 3, .activation = KC_NAME("tanh"),
                                                           .kernel_initializer = KC_NAME("ones")},
                                   &err);
    kc_object *b = kc_layer_create("Dense", "{\"units\": 3, \"activation\": \"tanh\", \"kernel_initializer\": \"ones\"}",
                                   &err);
    CK_NN(a, err);
    CK_NN(b, err);
    kc_tensor *x = TU_T2(2, 2, 0.1f, -0.2f, 0.3f, 0.4f);
    kc_tensor *ya = kc_layer_call1(a, x, false, &err), *yb = kc_layer_call1(b, x, false, &err);
    CK_NN(ya, err);
    CK_NN(yb, err);
    tu_assert_tensors_close(ya, yb, 0, 0, "typed vs JSON Dense");
    kc_tensor_unref(x);
    kc_tensor_unref(ya);
    kc_tensor_unref(yb);
    kc_object_unref(a);
    kc_object_unref(b);
}
END_TEST

/* kc_layer_create_ex finds classes and names in custom objects. */
START_TEST(layer_create_ex_uses_custom_objects)
{
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_NN(co, err);
    ck_assert_int_eq(kc_custom_objects_add_function(co, KC_KIND_ACTIVATION, "test_act", KC_FN(test_act), NULL, NULL,
                                                    &err),
                     KC_OK);
    kc_object *d = kc_layer_create("Dense", "{\"units\": 2, \"activation\": \"test_act\"}", &err);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(err.code, KC_ENOTFOUND);
    kc_error_clear(&err);
    d = kc_layer_create_ex("Dense", "{\"units\": 2, \"activation\": \"test_act\"}", co, &err);
    CK_NN(d, err);
    kc_object_unref(d);
    kc_custom_objects_free(co);
}
END_TEST

/* ---- callbacks: the same arguments as kc_callback_create's JSON ---- */

static void assert_callback_args(kc_callback *cb, const char *json)
{
    ck_assert_msg(cb != NULL, "%s (%s)", err.message, err.context);
    json_t *want = kc_json_parse(json, strlen(json), 0, &err);
    kc_callback *ref = NULL;
    CK_NN(want, err);
    char *got = kc_json_dump(kc__callback_args(cb), &err);
    ck_assert_msg(json_equal(kc__callback_args(cb), want), "args %s, want %s", got, json);
    kc_json_free(got);
    json_decref(want);
    (void)ref;
    kc_callback_free(cb);
}

START_TEST(typed_callbacks_pass_their_arguments)
{
    assert_callback_args(kc_callbacks_early_stopping(&(kc_callbacks_early_stopping_args){.monitor = "loss",
                                                                                         .patience = 3,
                                                                                         .baseline = KC_ZERO,
                                                                                         .restore_best_weights = KC_TRUE},
                                                     &err),
                         "{\"monitor\": \"loss\", \"patience\": 3, \"baseline\": 0.0, \"restore_best_weights\": true}");
    assert_callback_args(kc_callbacks_model_checkpoint(&(kc_callbacks_model_checkpoint_args){
                             .filepath = "m{epoch:02d}.h5", .save_best_only = KC_TRUE, .mode = "min"},
                                                       &err),
                         "{\"filepath\": \"m{epoch:02d}.h5\", \"save_best_only\": true, \"mode\": \"min\"}");
    assert_callback_args(kc_callbacks_csv_logger(&(kc_callbacks_csv_logger_args){.filename = "log.csv",
                                                                                  .separator = ";",
                                                                                  .append = KC_TRUE},
                                                 &err),
                         "{\"filename\": \"log.csv\", \"separator\": \";\", \"append\": true}");
    assert_callback_args(kc_callbacks_reduce_lr_on_plateau(&(kc_callbacks_reduce_lr_on_plateau_args){
                             .factor = 0.5, .patience = KC_ZERO, .min_lr = 1e-5, .cooldown = 2},
                                                           &err),
                         "{\"factor\": 0.5, \"patience\": 0, \"min_lr\": 1e-05, \"cooldown\": 2}");
    assert_callback_args(kc_callbacks_terminate_on_nan(NULL, &err), "{}");
    assert_callback_args(kc_callbacks_progbar_logger(&(kc_callbacks_progbar_logger_args){.verbose = 2}, &err),
                         "{\"verbose\": 2}");
    /* a required argument missing, named */
    ck_assert_ptr_null(kc_callbacks_csv_logger(NULL, &err));
    CK_ERR(err, KC_EFORMAT, "kc_callbacks_csv_logger.filename");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_callbacks_learning_rate_scheduler(NULL, &err));
    CK_ERR(err, KC_EINVAL, "schedule");
}
END_TEST

/* Behaviour, not only arguments: a typed EarlyStopping stops where the
 * JSON one does. */
static kc_status worse_every_epoch(void *user, kc_object *model, int epoch, kc_logs *logs, kc_error *e)
{
    (void)user, (void)model;
    return kc_logs_set(logs, "val_loss", 1.0 + epoch, e);
}
static const kc_callback_methods fake_val_loss = {.on_epoch_end = worse_every_epoch};

static int stopped_epoch(kc_callback *es)
{
    kc_object *m = kc_sequential_new(NULL, &err);
    kc_object *l = kc_layers_dense(&(kc_layers_dense_args){.units = 1, .input_shape = KC_SHAPE(2)}, &err);
    ck_assert_int_eq(kc_sequential_add_take(m, l, &err), KC_OK);
    ck_assert_int_eq(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": \"mse\"}", NULL, &err), KC_OK);
    kc_tensor *x = TU_T2(2, 2, 1, 2, 3, 4), *y = TU_T2(2, 1, 1, 2);
    kc_callback *fake = kc_callback_new(&fake_val_loss, NULL, &err);
    kc_callback *cbs[2] = {fake, es};
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 10, .callbacks = cbs, .n_callbacks = 2};
    ck_assert_msg(kc_model_fit(m, &fit, NULL, &err) == KC_OK, "%s", err.message);
    int e = kc_callback_stopped_epoch(es);
    kc_callback_free(fake);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    kc_object_unref(m);
    return e;
}

START_TEST(typed_early_stopping_behaves_like_json)
{
    kc_callback *a = kc_callbacks_early_stopping(&(kc_callbacks_early_stopping_args){.patience = 2}, &err);
    kc_callback *b = kc_callback_create("EarlyStopping", "{\"patience\": 2}", &err);
    CK_NN(a, err);
    CK_NN(b, err);
    int ea = stopped_epoch(a), eb = stopped_epoch(b);
    ck_assert_int_eq(ea, 2);
    ck_assert_int_eq(ea, eb);
    kc_callback_free(a);
    kc_callback_free(b);
}
END_TEST


/* ---- less lifetime noise: scoped ops, _take variants ---- */

/* the seed's huber(y_true, y_pred), as scoped_ops.h writes it */
static kc_tensor *huber_scoped(kc_tensor *y_true, kc_tensor *y_pred, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *error = kc_s_sub(s, y_true, y_pred);
    kc_tensor *se = kc_s_less_scalar(s, kc_s_abs(s, error), 1);
    kc_tensor *sq_loss = kc_s_div_scalar(s, kc_s_square(s, error), 2);
    kc_tensor *linear_loss = kc_s_sub_scalar(s, kc_s_abs(s, error), 0.5f);
    return kc_scope_return(s, kc_s_where(s, se, sq_loss, linear_loss));
}

START_TEST(scoped_ops_compute_and_differentiate)
{
    kc_tensor *t = TU_T1(4, 0, 1, 2, 3), *p = TU_T1(4, 0.5f, 3, 2, -1);
    kc_tape *tape = kc_tape_begin(0, &err);
    ck_assert_int_eq(kc_tape_watch(tape, p, &err), KC_OK);
    kc_tensor *h = huber_scoped(t, p, &err);
    kc_tape_end(tape);
    CK_NN(h, err);
    tu_assert_close(h, 1, (int64_t[]){4}, (float[]){0.125f, 1.5f, 0, 3.5f}, 1e-6, 0, "huber");
    kc_tensor *g;
    ck_assert_int_eq(kc_tape_gradient(tape, h, &p, 1, &g, &err), KC_OK);
    tu_assert_close(g, 1, (int64_t[]){4}, (float[]){0.5f, 1, 0, -1}, 1e-6, 0, "d huber / d y_pred");
    kc_tensor_unref(g);
    kc_tape_free(tape);
    kc_tensor_unref(h);
    /* a failure inside the chain surfaces once, at the end, in the scope's err */
    kc_tensor *bad = TU_T1(3, 1, 2, 3);
    h = huber_scoped(t, bad, &err);
    ck_assert_ptr_null(h);
    CK_ERR(err, KC_ESHAPE, "(4,)");
    kc_error_clear(&err);
    kc_tensor_unref(bad);
    /* constants in a scope */
    kc_scope *s = kc_scope_new(&err);
    kc_tensor *z = kc_s_add(s, kc_s_zeros_like(s, t), kc_s_scalar(s, 2));
    tu_assert_close(z, 1, (int64_t[]){4}, (float[]){2, 2, 2, 2}, 0, 0, "zeros_like + 2");
    ck_assert_ptr_eq(kc_scope_err(s), &err);
    kc_scope_free(s);
    kc_tensor_unref(t);
    kc_tensor_unref(p);
}
END_TEST

START_TEST(take_variants_leak_nothing_on_failure)
{
    /* the second constructor fails: the call fails with its error, the others are released (ASan checks) */
    kc_object *m = kc_sequential_new_take(
        "m",
        (kc_object *[]){kc_layers_dense(&(kc_layers_dense_args){.units = 2, .input_shape = KC_SHAPE(3)}, &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 0}, &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 1}, &err)},
        3, &err);
    ck_assert_ptr_null(m);
    CK_ERR(err, KC_EFORMAT, "kc_layers_dense.units");
    kc_error_clear(&err);
    /* a shape error while adding: named, and the layer released */
    m = kc_sequential_new_take("m2",
                               (kc_object *[]){kc_layers_input_layer(&(kc_layers_args){.input_shape = KC_SHAPE(3)}, &err),
                                               kc_layers_reshape(&(kc_layers_reshape_args){.target_shape = KC_SHAPE(2)},
                                                                 &err)},
                               2, &err);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(err.code, KC_ESHAPE);
    kc_error_clear(&err);
    m = kc_sequential_new_take("ok", (kc_object *[]){kc_layers_dense(&(kc_layers_dense_args){.units = 2}, &err)}, 1,
                               &err);
    CK_NN(m, err);
    ck_assert_int_eq(kc_sequential_add_take(m, kc_layers_dense(&(kc_layers_dense_args){.units = 1}, &err), &err),
                     KC_OK);
    ck_assert_int_eq(kc_model_num_layers(m), 2);
    ck_assert_int_eq(kc_sequential_add_take(m, NULL, &err), KC_EINVAL);
    kc_error_clear(&err);
    kc_object_unref(m);
    /* kc_apply_take */
    kc_symbol *x = kc_input(1, (int64_t[]){3}, NULL, &err);
    kc_symbol *h = kc_apply_take(kc_layers_dense(&(kc_layers_dense_args){.units = 4}, &err), &x, 1, &err);
    CK_NN(h, err);
    ck_assert_int_eq(kc_symbol_shape(h).dims[1], 4);
    kc_symbol *bad = kc_apply_take(kc_layers_dense(&(kc_layers_dense_args){.units = -4}, &err), &h, 1, &err);
    ck_assert_ptr_null(bad);
    CK_ERR(err, KC_EFORMAT, "units");
    kc_symbol_unref(h);
    kc_symbol_unref(x);
}
END_TEST

/* ---- the small gaps ---- */

START_TEST(variable_assign_add_and_sub)
{
    kc_variable *v = kc_variable_new_take("v", TU_T1(3, 1, 2, 3), true, &err);
    CK_NN(v, err);
    kc_tensor *before = kc_variable_value(v);
    kc_tensor *d = TU_T1(3, 1, 1, 1), *two = kc_tensor_scalar(2, &err);
    ck_assert_int_eq(kc_variable_assign_add(v, d, &err), KC_OK);
    ck_assert_int_eq(kc_variable_assign_sub(v, two, &err), KC_OK); /* a scalar broadcasts */
    ck_assert_ptr_eq(kc_variable_value(v), before);                  /* the same tensor, updated in place */
    tu_assert_close(kc_variable_value(v), 1, (int64_t[]){3}, (float[]){0, 1, 2}, 0, 0, "v + 1 - 2");
    kc_tensor *wide = TU_T2(2, 3, 1, 1, 1, 1, 1, 1);
    ck_assert_int_eq(kc_variable_assign_add(v, wide, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "variable 'v'");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_variable_assign_add(v, NULL, &err), KC_EINVAL);
    kc_tensor_unref(wide);
    kc_tensor_unref(d);
    kc_tensor_unref(two);
    kc_variable_unref(v);
}
END_TEST

START_TEST(metric_result_value_is_a_number)
{
    kc_object *p = kc_metrics_precision(NULL, &err);
    kc_tensor *t = TU_T1(4, 0, 1, 1, 1), *y = TU_T1(4, 1, 1, 1, 0);
    ck_assert_int_eq(kc_metric_update(p, t, y, NULL, &err), KC_OK);
    ck_assert_double_eq_tol(kc_metric_result_value(p, &err), 2.0 / 3.0, 1e-7);
    kc_object_unref(p);
    /* several thresholds: a vector result is not one number */
    p = kc_metrics_precision(&(kc_metrics_precision_args){.thresholds = KC_FLOATS(0.3, 0.6)}, &err);
    ck_assert_int_eq(kc_metric_update(p, t, y, NULL, &err), KC_OK);
    ck_assert(isnan(kc_metric_result_value(p, &err)));
    CK_ERR(err, KC_ESHAPE, "kc_metric_result");
    kc_error_clear(&err);
    ck_assert(isnan(kc_metric_result_value(NULL, &err)));
    kc_object_unref(p);
    kc_tensor_unref(t);
    kc_tensor_unref(y);
}
END_TEST

START_TEST(training_a_non_model_says_so)
{
    kc_fit_args fit = {0};
    ck_assert_int_eq(kc_model_fit(NULL, &fit, NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "not a model: the model is NULL");
    kc_error_clear(&err);
    kc_object *d = kc_layers_dense(&(kc_layers_dense_args){.units = 2, .name = "just_a_dense"}, &err);
    ck_assert_int_eq(kc_model_evaluate(d, &fit, NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "'just_a_dense' is a Dense layer");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_model_train_on_batch(d, NULL, 0, NULL, 0, NULL, NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "not a model");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_model_compile(d, "{\"loss\": \"mse\"}", NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "not a model");
    kc_error_clear(&err);
    kc_object *l2 = kc_regularizers_l2(NULL, &err);
    ck_assert_int_eq(kc_model_compute_loss(l2, NULL, 0, NULL, 0, NULL, &(kc_tensor *){NULL}, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "a regularizer ('L2')");
    kc_object_unref(l2);
    kc_object_unref(d);
}
END_TEST

/* ---- compile with specs; functions with copied parameters ---- */

static kc_tensor *scaled_mse(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *d = kc_s_square(s, kc_s_sub(s, y_true, y_pred));
    return kc_scope_return(s, kc_s_mul_scalar(s, kc_s_reduce_mean(s, d, (int[]){-1}, 1, false), *(float *)params));
}

START_TEST(compile_specs_matches_compile_json)
{
    kc_object *adam = kc_optimizers_adam(&(kc_optimizers_adam_args){.learning_rate = 0.02}, &err);
    kc_object *m = kc_sequential_new_take(
        NULL, (kc_object *[]){kc_layers_dense(&(kc_layers_dense_args){.units = 3, .input_shape = KC_SHAPE(2),
                                                                      .activation = KC_NAME("softmax")},
                                              &err)},
        1, &err);
    CK_NN(m, err);
    ck_assert_int_eq(kc_model_compile_specs(m,
                                            &(kc_compile_specs){.optimizer = KC_OBJECT(adam),
                                                                .loss = KC_NAME("categorical_crossentropy"),
                                                                .metrics = {KC_NAME("accuracy"), KC_NAME("mae")}},
                                            &err),
                     KC_OK);
    ck_assert_ptr_eq(kc_model_optimizer(m), adam); /* the very optimizer */
    json_t *tc;
    ck_assert_int_eq(kc_model_training_config(m, &tc, &err), KC_OK);
    ck_assert_str_eq(json_string_value(json_object_get(tc, "loss")), "categorical_crossentropy");
    ck_assert_int_eq((int)json_array_size(json_object_get(tc, "metrics")), 2);
    json_decref(tc);
    /* accuracy resolved from the shapes, as compile's JSON does: a fit logs it */
    kc_tensor *x = TU_T2(2, 2, 1, 0, 0, 1), *y = TU_T2(2, 3, 1, 0, 0, 0, 1, 0);
    kc_logs *logs = kc_logs_new(&err);
    ck_assert_int_eq(kc_model_train_on_batch(m, &x, 1, &y, 1, NULL, logs, &err), KC_OK);
    double v;
    ck_assert(kc_logs_get(logs, "accuracy", &v) && kc_logs_get(logs, "mae", &v));
    kc_logs_free(logs);
    /* a loss function with a copied parameter, by object; defaults: rmsprop */
    float factor = 3;
    kc_object *fn = kc_function_new_copy(KC_KIND_LOSS, "scaled_mse", KC_FN(scaled_mse), &factor, sizeof factor, &err);
    CK_NN(fn, err);
    factor = 0; /* the function keeps its copy */
    ck_assert_int_eq(kc_model_compile_specs(m, &(kc_compile_specs){.loss = KC_OBJECT(fn)}, &err), KC_OK);
    ck_assert_str_eq(kc_object_name(kc_model_optimizer(m)), "RMSprop");
    kc_object *loss;
    ck_assert_int_eq(kc_model_compiled_loss(m, 0, &loss, &err), KC_OK);
    void *params;
    ck_assert_int_eq(kc_function_get(loss, NULL, &params, &err), KC_OK);
    ck_assert_float_eq(*(float *)params, 3);
    /* an entry after an empty one; a metric of the wrong kind */
    ck_assert_int_eq(kc_model_compile_specs(m, &(kc_compile_specs){.metrics = {[1] = KC_NAME("mae")}}, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "metrics[1]");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_model_compile_specs(m, &(kc_compile_specs){.metrics = {KC_OBJECT(adam)}}, &err), KC_ETYPE);
    CK_ERR(err, KC_ETYPE, "expected a metric, got an optimizer");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_model_compile_specs(m, &(kc_compile_specs){.optimizer = KC_NAME("nope")}, &err),
                     KC_ENOTFOUND);
    kc_error_clear(&err);
    /* custom objects keep a function by reference, and _take consumes it */
    kc_custom_objects *co = kc_custom_objects_new(&err);
    long before = fn->refcount;
    ck_assert_int_eq(kc_custom_objects_add_object_take(co, NULL, kc_object_ref(fn), &err), KC_OK);
    ck_assert_int_eq(fn->refcount, before + 1);
    ck_assert_int_eq(kc_custom_objects_add_object_take(co, NULL, NULL, &err), KC_EINVAL);
    kc_error_clear(&err);
    kc_custom_objects_free(co);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    kc_object_unref(fn);
    kc_object_unref(adam);
    kc_object_unref(m);
}
END_TEST

START_TEST(config_setters_and_add_weight_ex)
{
    json_t *cfg = json_object();
    ck_assert_int_eq(kc_cfg_set_int(cfg, "n", 3, &err), KC_OK);
    ck_assert_int_eq(kc_cfg_set_bool(cfg, "b", true, &err), KC_OK);
    ck_assert_int_eq(kc_cfg_set_string(cfg, "s", "x", &err), KC_OK);
    ck_assert_int_eq(kc_cfg_set_string(cfg, "z", NULL, &err), KC_OK);
    char *t = kc_json_dump(cfg, &err);
    ck_assert_str_eq(t, "{\"n\": 3, \"b\": true, \"s\": \"x\", \"z\": null}");
    kc_json_free(t);
    ck_assert_int_eq(kc_cfg_set_string(cfg, "bad", "\xff", &err), KC_EINVAL);
    kc_error_clear(&err);
    json_decref(cfg);
    /* add_weight with named arguments: Keras' default glorot_uniform, a named regularizer, frozen */
    kc_object *l = kc_layers_dense(&(kc_layers_dense_args){.units = 2, .name = "w_ex"}, &err);
    kc_variable *a = kc_layer_add_weight_ex(l, "a", KC_SHAPE(3, 4),
                                            &(kc_weight_args){.regularizer = KC_NAME("l2"), .trainable = KC_FALSE}, &err);
    CK_NN(a, err);
    ck_assert_str_eq(kc_variable_name(a), "w_ex/a:0");
    ck_assert(!kc_variable_trainable(a));
    double sum = 0;
    for (int i = 0; i < 12; i++) sum += fabs(kc_tensor_get(kc_variable_value(a), i));
    ck_assert(sum > 0); /* not zeros */
    kc_tensor *pen;
    ck_assert_int_eq(kc_layer_regularization_loss(l, &pen, &err), KC_OK);
    CK_NN(pen, err);
    kc_tensor_unref(pen);
    ck_assert_ptr_null(kc_layer_add_weight_ex(l, "b", KC_SHAPE(2), &(kc_weight_args){.initializer = KC_NAME("l2")}, &err));
    ck_assert_int_eq(err.code, KC_ENOTFOUND);
    kc_object_unref(l);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("constructors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, typed_constructor_equals_json_config, 0, N_ROWS);
    tcase_add_loop_test(tc, null_args_are_keras_defaults, 0, N_ROWS);
    tcase_add_test(tc, every_builtin_class_has_a_typed_constructor);
    tcase_add_test(tc, zero_markers_and_tuples);
    tcase_add_test(tc, object_arguments_are_shared_and_checked);
    tcase_add_test(tc, typed_layer_computes_like_json_layer);
    tcase_add_test(tc, layer_create_ex_uses_custom_objects);
    tcase_add_test(tc, typed_callbacks_pass_their_arguments);
    tcase_add_test(tc, typed_early_stopping_behaves_like_json);
    suite_add_tcase(s, tc);
    TCase *more = tcase_create("lifetimes_and_gaps");
    tcase_add_checked_fixture(more, setup, teardown);
    tcase_add_test(more, scoped_ops_compute_and_differentiate);
    tcase_add_test(more, take_variants_leak_nothing_on_failure);
    tcase_add_test(more, variable_assign_add_and_sub);
    tcase_add_test(more, metric_result_value_is_a_number);
    tcase_add_test(more, training_a_non_model_says_so);
    tcase_add_test(more, compile_specs_matches_compile_json);
    tcase_add_test(more, config_setters_and_add_weight_ex);
    suite_add_tcase(s, more);
    return s;
}

TU_MAIN(api_suite)
