/* The built-in layer and model classes registered by kc_init(). */
#include "../models/models_int.h"

extern const kc_class kc__dense_class, kc__batchnorm_class, kc__layernorm_class, kc__embedding_class,
    kc__masking_class, kc__lambda_class;
extern const kc_class kc__rnn_class, kc__simple_rnn_class, kc__lstm_class, kc__gru_class,
    kc__simple_rnn_cell_class, kc__lstm_cell_class, kc__gru_cell_class, kc__bidirectional_class,
    kc__time_distributed_class;

static const kc_class *const layer_classes[] = {
    &kc__input_layer_class,
    &kc__dense_class,
    &kc__batchnorm_class,
    &kc__layernorm_class,
    &kc__embedding_class,
    &kc__masking_class,
    &kc__lambda_class,
    &kc__rnn_class,
    &kc__simple_rnn_class,
    &kc__lstm_class,
    &kc__gru_class,
    &kc__simple_rnn_cell_class,
    &kc__lstm_cell_class,
    &kc__gru_cell_class,
    &kc__bidirectional_class,
    &kc__time_distributed_class,
};

const kc__builtins kc__layer_builtins = {
    .classes = layer_classes,
    .n_classes = sizeof(layer_classes) / sizeof(layer_classes[0]),
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
