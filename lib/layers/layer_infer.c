/* The inference slots of the built-in layer classes (layer_infer.h): which
 * kernel a call of a layer is at inference time. Layers that only act in
 * training are the identity; a class missing from the table is run through
 * its call, unless it can make masks from unmasked inputs (a compute_mask
 * of a class this file does not know), which keeps the whole model on the
 * op-by-op path, where masks flow. */
#include "layer_infer.h"

#include <string.h>

extern const kc_class kc__input_layer_class, kc__dense_class, kc__batchnorm_class, kc__embedding_class,
    kc__masking_class, kc__activation_layer_class, kc__relu_layer_class, kc__leaky_relu_layer_class,
    kc__elu_layer_class, kc__softmax_layer_class, kc__dropout_class, kc__gaussian_noise_class,
    kc__gaussian_dropout_class, kc__activity_regularization_class, kc__flatten_class, kc__reshape_class,
    kc__add_class, kc__subtract_class, kc__multiply_class, kc__average_class, kc__maximum_class,
    kc__minimum_class, kc__concatenate_class, kc__dot_class, kc__conv1d_class, kc__conv2d_class,
    kc__conv3d_class, kc__depthwise_conv1d_class, kc__depthwise_conv2d_class, kc__separable_conv1d_class,
    kc__separable_conv2d_class, kc__max_pooling1d_class, kc__max_pooling2d_class, kc__max_pooling3d_class,
    kc__average_pooling1d_class, kc__average_pooling2d_class, kc__average_pooling3d_class,
    kc__global_max_pooling1d_class, kc__global_max_pooling2d_class, kc__global_max_pooling3d_class,
    kc__global_average_pooling1d_class, kc__global_average_pooling2d_class,
    kc__global_average_pooling3d_class, kc__zero_padding1d_class, kc__zero_padding2d_class,
    kc__zero_padding3d_class, kc__spatial_dropout1d_class, kc__spatial_dropout2d_class,
    kc__spatial_dropout3d_class, kc__rnn_class, kc__simple_rnn_class, kc__lstm_class, kc__gru_class,
    kc__bidirectional_class, kc__time_distributed_class, kc__random_contrast_class,
    kc__random_brightness_class, kc__random_flip_class, kc__random_rotation_class, kc__random_zoom_class,
    kc__random_translation_class;

static void identity(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    (void)layer, (void)in;
    if (n_in == 1) out->kind = KC__LI_IDENTITY;
}

/* The augmentation layers outside training: the input, cast to float32. */
static void augmentation(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    (void)layer, (void)in;
    if (n_in == 1) out->kind = KC__LI_IDENTITY_F32;
}

static void view(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    (void)layer, (void)in;
    if (n_in == 1) out->kind = KC__LI_VIEW;
}

/* Classes with a compute_mask that only passes on (or drops) the masks of
 * their inputs: without input masks they make none. */
static void call_no_masks(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    (void)layer, (void)in, (void)n_in, (void)out;
}

static void masks(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    (void)layer, (void)in, (void)n_in;
    out->kind = KC__LI_MASKS;
}

static const struct {
    const kc_class *cls;
    kc__describe_fn describe;
} slots[] = {
    {&kc__input_layer_class, identity},
    {&kc__dropout_class, identity},
    {&kc__gaussian_noise_class, identity},
    {&kc__gaussian_dropout_class, identity},
    {&kc__activity_regularization_class, identity},
    {&kc__spatial_dropout1d_class, identity},
    {&kc__spatial_dropout2d_class, identity},
    {&kc__spatial_dropout3d_class, identity},
    {&kc__random_contrast_class, augmentation},
    {&kc__random_brightness_class, augmentation},
    {&kc__random_flip_class, augmentation},
    {&kc__random_rotation_class, augmentation},
    {&kc__random_zoom_class, augmentation},
    {&kc__random_translation_class, augmentation},
    {&kc__reshape_class, view},
    {&kc__flatten_class, kc__flatten_describe},
    {&kc__dense_class, kc__dense_describe},
    {&kc__batchnorm_class, kc__batchnorm_describe},
    {&kc__activation_layer_class, kc__activation_layer_describe},
    {&kc__relu_layer_class, kc__activation_layer_describe},
    {&kc__leaky_relu_layer_class, kc__activation_layer_describe},
    {&kc__elu_layer_class, kc__activation_layer_describe},
    {&kc__softmax_layer_class, kc__activation_layer_describe},
    {&kc__add_class, kc__merge_describe},
    {&kc__subtract_class, kc__merge_describe},
    {&kc__multiply_class, kc__merge_describe},
    {&kc__average_class, kc__merge_describe},
    {&kc__maximum_class, kc__merge_describe},
    {&kc__minimum_class, kc__merge_describe},
    {&kc__concatenate_class, kc__concatenate_describe},
    {&kc__conv1d_class, kc__conv_describe},
    {&kc__conv2d_class, kc__conv_describe},
    {&kc__conv3d_class, kc__conv_describe},
    {&kc__depthwise_conv1d_class, kc__conv_describe},
    {&kc__depthwise_conv2d_class, kc__conv_describe},
    {&kc__separable_conv1d_class, kc__conv_describe},
    {&kc__separable_conv2d_class, kc__conv_describe},
    {&kc__max_pooling1d_class, kc__pool_describe},
    {&kc__max_pooling2d_class, kc__pool_describe},
    {&kc__max_pooling3d_class, kc__pool_describe},
    {&kc__average_pooling1d_class, kc__pool_describe},
    {&kc__average_pooling2d_class, kc__pool_describe},
    {&kc__average_pooling3d_class, kc__pool_describe},
    {&kc__global_max_pooling1d_class, kc__pool_describe},
    {&kc__global_max_pooling2d_class, kc__pool_describe},
    {&kc__global_max_pooling3d_class, kc__pool_describe},
    {&kc__global_average_pooling1d_class, kc__pool_describe},
    {&kc__global_average_pooling2d_class, kc__pool_describe},
    {&kc__global_average_pooling3d_class, kc__pool_describe},
    {&kc__zero_padding1d_class, kc__padding_describe},
    {&kc__zero_padding2d_class, kc__padding_describe},
    {&kc__zero_padding3d_class, kc__padding_describe},
    {&kc__embedding_class, kc__embedding_describe},
    {&kc__masking_class, masks},
    {&kc__dot_class, call_no_masks},
    {&kc__rnn_class, call_no_masks},
    {&kc__simple_rnn_class, call_no_masks},
    {&kc__lstm_class, call_no_masks},
    {&kc__gru_class, call_no_masks},
    {&kc__bidirectional_class, call_no_masks},
    {&kc__time_distributed_class, call_no_masks},
};

bool kc__describe_activation(const kc_object *activation, kc__layer_infer *out)
{
    switch (kc__activation_kernel(activation, &out->act)) {
    case KC__ACTK_NONE: return false;
    case KC__ACTK_SOFTMAX: out->softmax = KC__LI_SOFTMAX_LAST; return true;
    case KC__ACTK_LOG_SOFTMAX: out->softmax = KC__LI_LOG_SOFTMAX_LAST; return true;
    default: return true;
    }
}

void kc__layer_describe(const kc_object *layer, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = KC__LI_CALL;
    out->act.op = KC__OP_COUNT;
    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
        if (slots[i].cls == layer->cls) {
            slots[i].describe(layer, in, n_in, out);
            return;
        }
    }
    if (kc__layer_methods(layer)->compute_mask) out->kind = KC__LI_MASKS;
}
