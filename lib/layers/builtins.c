/* The built-in layer and model classes registered by kc_init(). */
#include "../models/models_int.h"

extern const kc_class kc__dense_class, kc__batchnorm_class, kc__layernorm_class, kc__embedding_class,
    kc__masking_class, kc__lambda_class;
/* core layers (layer_activations.c, layer_prelu.c, layer_regularization.c,
 * layer_reshaping.c, layer_merge.c, layer_concatenate.c, layer_dot.c) */
extern const kc_class kc__activation_layer_class, kc__relu_layer_class, kc__leaky_relu_layer_class,
    kc__elu_layer_class, kc__softmax_layer_class, kc__prelu_class;
extern const kc_class kc__dropout_class, kc__gaussian_noise_class, kc__gaussian_dropout_class,
    kc__activity_regularization_class;
extern const kc_class kc__flatten_class, kc__reshape_class, kc__permute_class, kc__repeat_vector_class;
extern const kc_class kc__add_class, kc__subtract_class, kc__multiply_class, kc__average_class,
    kc__maximum_class, kc__minimum_class, kc__concatenate_class, kc__dot_class;

/* convolutional layers (layer_conv.c, layer_pooling.c, layer_padding.c,
 * layer_upsampling.c, layer_spatial_dropout.c) */
extern const kc_class kc__conv1d_class, kc__conv2d_class, kc__conv3d_class,
    kc__conv1d_transpose_class, kc__conv2d_transpose_class, kc__conv3d_transpose_class,
    kc__depthwise_conv1d_class, kc__depthwise_conv2d_class, kc__separable_conv1d_class,
    kc__separable_conv2d_class, kc__max_pooling1d_class, kc__max_pooling2d_class,
    kc__max_pooling3d_class, kc__average_pooling1d_class, kc__average_pooling2d_class,
    kc__average_pooling3d_class, kc__global_max_pooling1d_class, kc__global_max_pooling2d_class,
    kc__global_max_pooling3d_class, kc__global_average_pooling1d_class,
    kc__global_average_pooling2d_class, kc__global_average_pooling3d_class,
    kc__zero_padding1d_class, kc__zero_padding2d_class, kc__zero_padding3d_class,
    kc__cropping1d_class, kc__cropping2d_class, kc__cropping3d_class, kc__upsampling1d_class,
    kc__upsampling2d_class, kc__upsampling3d_class, kc__spatial_dropout1d_class,
    kc__spatial_dropout2d_class, kc__spatial_dropout3d_class;
extern const kc_class kc__rnn_class, kc__simple_rnn_class, kc__lstm_class, kc__gru_class,
    kc__simple_rnn_cell_class, kc__lstm_cell_class, kc__gru_cell_class, kc__bidirectional_class,
    kc__time_distributed_class;

/* preprocessing layers (layer_rescaling.c, layer_resizing.c,
 * layer_normalization_pre.c, layer_augment_geometry.c, layer_augment_color.c,
 * layer_category.c) */
extern const kc_class kc__rescaling_class, kc__resizing_class, kc__center_crop_class,
    kc__normalization_class, kc__random_flip_class, kc__random_rotation_class,
    kc__random_zoom_class, kc__random_translation_class, kc__random_crop_class,
    kc__random_contrast_class, kc__random_brightness_class, kc__category_encoding_class,
    kc__discretization_class;

static const kc_class *const layer_classes[] = {
    &kc__input_layer_class,
    &kc__dense_class,
    &kc__batchnorm_class,
    &kc__layernorm_class,
    &kc__embedding_class,
    &kc__masking_class,
    &kc__lambda_class,
    &kc__activation_layer_class,
    &kc__relu_layer_class,
    &kc__leaky_relu_layer_class,
    &kc__elu_layer_class,
    &kc__softmax_layer_class,
    &kc__prelu_class,
    &kc__dropout_class,
    &kc__gaussian_noise_class,
    &kc__gaussian_dropout_class,
    &kc__activity_regularization_class,
    &kc__flatten_class,
    &kc__reshape_class,
    &kc__permute_class,
    &kc__repeat_vector_class,
    &kc__add_class,
    &kc__subtract_class,
    &kc__multiply_class,
    &kc__average_class,
    &kc__maximum_class,
    &kc__minimum_class,
    &kc__concatenate_class,
    &kc__dot_class,
    &kc__conv1d_class,
    &kc__conv2d_class,
    &kc__conv3d_class,
    &kc__conv1d_transpose_class,
    &kc__conv2d_transpose_class,
    &kc__conv3d_transpose_class,
    &kc__depthwise_conv1d_class,
    &kc__depthwise_conv2d_class,
    &kc__separable_conv1d_class,
    &kc__separable_conv2d_class,
    &kc__max_pooling1d_class,
    &kc__max_pooling2d_class,
    &kc__max_pooling3d_class,
    &kc__average_pooling1d_class,
    &kc__average_pooling2d_class,
    &kc__average_pooling3d_class,
    &kc__global_max_pooling1d_class,
    &kc__global_max_pooling2d_class,
    &kc__global_max_pooling3d_class,
    &kc__global_average_pooling1d_class,
    &kc__global_average_pooling2d_class,
    &kc__global_average_pooling3d_class,
    &kc__zero_padding1d_class,
    &kc__zero_padding2d_class,
    &kc__zero_padding3d_class,
    &kc__cropping1d_class,
    &kc__cropping2d_class,
    &kc__cropping3d_class,
    &kc__upsampling1d_class,
    &kc__upsampling2d_class,
    &kc__upsampling3d_class,
    &kc__spatial_dropout1d_class,
    &kc__spatial_dropout2d_class,
    &kc__spatial_dropout3d_class,
    &kc__rnn_class,
    &kc__simple_rnn_class,
    &kc__lstm_class,
    &kc__gru_class,
    &kc__simple_rnn_cell_class,
    &kc__lstm_cell_class,
    &kc__gru_cell_class,
    &kc__bidirectional_class,
    &kc__time_distributed_class,
    &kc__rescaling_class,
    &kc__resizing_class,
    &kc__center_crop_class,
    &kc__normalization_class,
    &kc__random_flip_class,
    &kc__random_rotation_class,
    &kc__random_zoom_class,
    &kc__random_translation_class,
    &kc__random_crop_class,
    &kc__random_contrast_class,
    &kc__random_brightness_class,
    &kc__category_encoding_class,
    &kc__discretization_class,
};

/* Keras preprocessing layers that work on strings or on vocabularies and
 * hash tables Keras keeps outside the model's weights: a model that
 * starts with one loads only without it. */
#define KC__NO_STRINGS                                                                             \
    "it preprocesses strings, and ckeras has no string tensors. Load the model without its "     \
    "preprocessing layers (in Keras, save the part of the model after them) and give it the "   \
    "preprocessed inputs"
#define KC__NO_TABLES                                                                              \
    "it maps values through a vocabulary or hash that Keras keeps outside the model's weights. " \
    "Load the model without its preprocessing layers (in Keras, save the part of the model "    \
    "after them) and give it the preprocessed inputs"
/* tf.keras 2.4+ records TensorFlow functions called on symbolic tensors in
 * a functional model as these layers (Keras 3's operation nodes:
 * models/operation_nodes.c). */
#define KC__TF_FUNCTION                                                                            \
    "tf.keras recorded a TensorFlow function (tf.math.multiply, x[:, 0], ...) applied in a "      \
    "functional model as this layer; ckeras has no TensorFlow functions. In Keras, use layers "   \
    "instead"
static const kc__builtin_unsupported layer_unsupported[] = {
    {KC_KIND_LAYER, "TFOpLambda", KC__TF_FUNCTION},
    {KC_KIND_LAYER, "SlicingOpLambda", KC__TF_FUNCTION},
    {KC_KIND_LAYER, "TextVectorization", KC__NO_STRINGS},
    {KC_KIND_LAYER, "StringLookup", KC__NO_STRINGS},
    {KC_KIND_LAYER, "Hashing", KC__NO_TABLES},
    {KC_KIND_LAYER, "HashedCrossing", KC__NO_TABLES},
    {KC_KIND_LAYER, "IntegerLookup", KC__NO_TABLES},
};

const kc__builtins kc__layer_builtins = {
    .classes = layer_classes,
    .n_classes = sizeof(layer_classes) / sizeof(layer_classes[0]),
    .unsupported = layer_unsupported,
    .n_unsupported = sizeof(layer_unsupported) / sizeof(layer_unsupported[0]),
};

static const kc_class *const model_classes[] = {
    &kc__sequential_class,
    &kc__functional_class,
};

static const kc__builtin_alias model_aliases[] = {
    /* tf.keras <= 2.2 and Keras 2 multi-backend wrote "Model" */
    {KC_KIND_MODEL, "Model", "Functional"},
};

const kc__builtins kc__model_builtins = {
    .classes = model_classes,
    .n_classes = sizeof(model_classes) / sizeof(model_classes[0]),
    .aliases = model_aliases,
    .n_aliases = sizeof(model_aliases) / sizeof(model_aliases[0]),
};
