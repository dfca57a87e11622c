/* Keras 1 configs, translated to Keras 2 the way Keras 2 reads them
 * (keras/legacy/interfaces.py renames the constructor arguments; a few
 * classes were renamed). Only layers whose Keras 1 weights Keras 2 loads
 * are listed; conversions of the weights themselves (per-gate LSTM arrays,
 * Theano kernels) are the layers' convert_weights hooks.
 *
 * Keras 1 serialized regularizers and constraints as {"name": ..., ...}
 * dicts; they become L1L2 / MaxNorm / NonNeg / UnitNorm configs. */
#include "saving_int.h"

#include <string.h>

typedef struct rename {
    const char *from, *to;
} rename_t;

static const rename_t common[] = {
    {"init", "kernel_initializer"},       {"W_regularizer", "kernel_regularizer"},
    {"b_regularizer", "bias_regularizer"}, {"W_constraint", "kernel_constraint"},
    {"b_constraint", "bias_constraint"},   {"bias", "use_bias"},
    {"input_dtype", "dtype"},              {NULL, NULL},
};

static const rename_t dense_r[] = {{"output_dim", "units"}, {NULL, NULL}};
static const rename_t dropout_r[] = {{"p", "rate"}, {NULL, NULL}};
static const rename_t embedding_r[] = {{"init", "embeddings_initializer"},
                                       {"W_regularizer", "embeddings_regularizer"},
                                       {"W_constraint", "embeddings_constraint"},
                                       {NULL, NULL}};
static const rename_t conv_r[] = {{"nb_filter", "filters"}, {"subsample", "strides"},
                                  {"subsample_length", "strides"}, {"filter_length", "kernel_size"},
                                  {"border_mode", "padding"}, {"dim_ordering", "data_format"},
                                  {"atrous_rate", "dilation_rate"}, {NULL, NULL}};
static const rename_t pool_r[] = {{"border_mode", "padding"}, {"dim_ordering", "data_format"},
                                  {"pool_length", "pool_size"}, {"stride", "strides"}, {NULL, NULL}};
static const rename_t rnn_r[] = {{"output_dim", "units"},
                                 {"inner_init", "recurrent_initializer"},
                                 {"inner_activation", "recurrent_activation"},
                                 {"U_regularizer", "recurrent_regularizer"},
                                 {"U_constraint", "recurrent_constraint"},
                                 {"dropout_W", "dropout"},
                                 {"dropout_U", "recurrent_dropout"},
                                 {"consume_less", "implementation"},
                                 {NULL, NULL}};

typedef struct k1_class {
    const char *k1, *k2;
    const rename_t *renames;
} k1_class;

static const k1_class classes[] = {
    {"Dense", "Dense", dense_r},
    {"Dropout", "Dropout", dropout_r},
    {"Activation", "Activation", NULL},
    {"Flatten", "Flatten", NULL},
    {"Reshape", "Reshape", NULL},
    {"Permute", "Permute", NULL},
    {"RepeatVector", "RepeatVector", NULL},
    {"Embedding", "Embedding", embedding_r},
    {"Masking", "Masking", NULL},
    {"InputLayer", "InputLayer", NULL},
    {"Convolution1D", "Conv1D", conv_r},
    {"Convolution2D", "Conv2D", conv_r},
    {"Convolution3D", "Conv3D", conv_r},
    {"AtrousConvolution2D", "Conv2D", conv_r},
    {"MaxPooling1D", "MaxPooling1D", pool_r},
    {"MaxPooling2D", "MaxPooling2D", pool_r},
    {"AveragePooling1D", "AveragePooling1D", pool_r},
    {"AveragePooling2D", "AveragePooling2D", pool_r},
    {"GlobalMaxPooling1D", "GlobalMaxPooling1D", NULL},
    {"GlobalAveragePooling1D", "GlobalAveragePooling1D", NULL},
    {"GlobalMaxPooling2D", "GlobalMaxPooling2D", pool_r},
    {"GlobalAveragePooling2D", "GlobalAveragePooling2D", pool_r},
    {"ZeroPadding2D", "ZeroPadding2D", pool_r},
    {"UpSampling2D", "UpSampling2D", pool_r},
    {"LSTM", "LSTM", rnn_r},
    {"GRU", "GRU", rnn_r},
    {"SimpleRNN", "SimpleRNN", rnn_r},
};

static kc_status set(json_t *obj, const char *key, json_t *v, kc_error *err)
{
    if (!v || json_object_set_new(obj, key, v)) return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

/* {"name": "WeightRegularizer", "l1": a, "l2": b} -> L1L2, and constraints */
static kc_status component(json_t *cfg, const char *key, kc_error *err)
{
    json_t *v = json_object_get(cfg, key);
    if (!json_is_object(v) || json_object_get(v, "class_name")) return KC_OK;
    const char *name = json_string_value(json_object_get(v, "name"));
    if (!name) return KC_OK;
    json_t *out = NULL;
    if (!strcmp(name, "WeightRegularizer") || !strcmp(name, "ActivityRegularizer") || !strcmp(name, "L1L2Regularizer")) {
        json_t *l1 = json_object_get(v, "l1"), *l2 = json_object_get(v, "l2");
        /* "o" takes the reference: the file's values are borrowed, the defaults new */
        out = json_pack("{s:s, s:{s:o, s:o}}", "class_name", "L1L2", "config", "l1", l1 ? json_incref(l1) : json_real(0),
                        "l2", l2 ? json_incref(l2) : json_real(0));
    } else if (!strcmp(name, "MaxNorm")) {
        json_t *m = json_object_get(v, "m"), *axis = json_object_get(v, "axis");
        out = json_pack("{s:s, s:{s:o, s:o}}", "class_name", "MaxNorm", "config", "max_value",
                        m ? json_incref(m) : json_real(2), "axis", axis ? json_incref(axis) : json_integer(0));
    } else if (!strcmp(name, "NonNeg")) {
        out = json_pack("{s:s, s:{}}", "class_name", "NonNeg", "config");
    } else if (!strcmp(name, "UnitNorm")) {
        json_t *axis = json_object_get(v, "axis");
        out = json_pack("{s:s, s:{s:o}}", "class_name", "UnitNorm", "config", "axis",
                        axis ? json_incref(axis) : json_integer(0));
    } else {
        return kc__errf(err, KC_EUNSUPPORTED, "Keras 1 %s '%s' is not supported", key, name);
    }
    return set(cfg, key, out, err);
}

static void rename_keys(json_t *cfg, const rename_t *r)
{
    for (; r && r->from; r++) {
        json_t *v = json_object_get(cfg, r->from);
        if (!v || json_object_get(cfg, r->to)) continue;
        json_object_set(cfg, r->to, v);
        json_object_del(cfg, r->from);
    }
}

static kc_status translate_layer(json_t *layer, kc_error *err);

/* Keras 1's TimeDistributedDense(output_dim) is TimeDistributed(Dense(units))
 * in Keras 2: the Dense arguments translate as Dense's, the input shape
 * (batch_input_shape, or input_length and input_dim) goes to the wrapper,
 * and the stored W and b are the wrapped kernel and bias, in that order. */
static kc_status time_distributed_dense(json_t *layer, kc_error *err)
{
    json_t *cfg = json_object_get(layer, "config");
    json_t *inner = json_pack("{s:s, s:O}", "class_name", "Dense", "config", cfg);
    if (!inner) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = translate_layer(inner, err);
    json_t *icfg = json_object_get(inner, "config");
    const char *name = json_string_value(json_object_get(cfg, "name"));
    json_t *outer = json_object();
    if (rc == KC_OK && !outer) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK && name) {
        char inner_name[512];
        snprintf(inner_name, sizeof inner_name, "%s_dense", name);
        rc = set(outer, "name", json_string(name), err);
        if (rc == KC_OK) rc = set(icfg, "name", json_string(inner_name), err);
    }
    json_t *trainable = json_object_get(icfg, "trainable");
    if (rc == KC_OK && trainable) rc = set(outer, "trainable", json_incref(trainable), err);
    json_t *bis = json_object_get(icfg, "batch_input_shape");
    json_t *len = json_object_get(icfg, "input_length"), *dim = json_object_get(icfg, "input_dim");
    if (rc == KC_OK && bis) rc = set(outer, "batch_input_shape", json_incref(bis), err);
    else if (rc == KC_OK && json_is_integer(dim))
        rc = set(outer, "batch_input_shape", json_pack("[n, O, O]", len && !json_is_null(len) ? len : json_null(), dim),
                 err);
    static const char *const moved[] = {"batch_input_shape", "input_length", "input_dim", "input_shape"};
    for (size_t i = 0; i < sizeof moved / sizeof *moved; i++) json_object_del(icfg, moved[i]);
    if (rc == KC_OK) rc = set(outer, "layer", json_incref(inner), err);
    if (rc == KC_OK) rc = set(layer, "class_name", json_string("TimeDistributed"), err);
    if (rc == KC_OK) rc = set(layer, "config", json_incref(outer), err);
    json_decref(outer);
    json_decref(inner);
    return rc;
}

static kc_status translate_layer(json_t *layer, kc_error *err)
{
    json_t *cn = json_object_get(layer, "class_name"), *cfg = json_object_get(layer, "config");
    if (!json_is_string(cn) || !json_is_object(cfg)) return kc__errf(err, KC_EFORMAT, "a Keras 1 layer needs class_name and config");
    const char *name = json_string_value(cn);
    if (!strcmp(name, "TimeDistributedDense")) return time_distributed_dense(layer, err);
    const k1_class *k = NULL;
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]) && !k; i++)
        if (!strcmp(classes[i].k1, name)) k = &classes[i];
    if (!k) return kc__errf(err, KC_EUNSUPPORTED, "Keras 1 layer class '%s' is not supported", name);
    kc_status rc = set(layer, "class_name", json_string(k->k2), err);
    if (rc != KC_OK) return rc;
    /* nb_row / nb_col (/ nb_depth) -> kernel_size */
    json_t *nr = json_object_get(cfg, "nb_row"), *nc = json_object_get(cfg, "nb_col");
    if (nr && nc) {
        json_t *d1 = json_object_get(cfg, "kernel_dim1"), *d2 = json_object_get(cfg, "kernel_dim2"),
               *d3 = json_object_get(cfg, "kernel_dim3");
        if (d1 && (!d2 || !d3))
            return kc__errf(err, KC_EFORMAT, "Keras 1 layer '%s' has kernel_dim1 without kernel_dim2 and kernel_dim3", name);
        rc = set(cfg, "kernel_size", d1 ? json_pack("[OOO]", d1, d2, d3) : json_pack("[OO]", nr, nc), err);
        json_object_del(cfg, "nb_row");
        json_object_del(cfg, "nb_col");
    }
    rename_keys(cfg, k->renames);
    rename_keys(cfg, common);
    /* dim_ordering "tf" / "th" -> data_format */
    json_t *df = json_object_get(cfg, "data_format");
    if (rc == KC_OK && json_is_string(df)) {
        const char *d = json_string_value(df);
        if (!strcmp(d, "tf")) rc = set(cfg, "data_format", json_string("channels_last"), err);
        else if (!strcmp(d, "th")) rc = set(cfg, "data_format", json_string("channels_first"), err);
        else if (!strcmp(d, "default")) json_object_del(cfg, "data_format");
    }
    /* consume_less -> implementation */
    json_t *impl = json_object_get(cfg, "implementation");
    if (rc == KC_OK && json_is_string(impl)) {
        const char *c = json_string_value(impl);
        rc = set(cfg, "implementation", json_integer(!strcmp(c, "gpu") ? 2 : !strcmp(c, "mem") ? 1 : 0), err);
    }
    /* forget_bias_init "one" -> unit_forget_bias */
    json_t *fb = json_object_get(cfg, "forget_bias_init");
    if (rc == KC_OK && fb) {
        rc = set(cfg, "unit_forget_bias", json_boolean(json_is_string(fb) && !strcmp(json_string_value(fb), "one")), err);
        json_object_del(cfg, "forget_bias_init");
    }
    static const char *const comps[] = {"kernel_regularizer", "bias_regularizer", "activity_regularizer",
                                        "recurrent_regularizer", "embeddings_regularizer", "kernel_constraint",
                                        "bias_constraint", "recurrent_constraint", "embeddings_constraint"};
    for (size_t i = 0; rc == KC_OK && i < sizeof(comps) / sizeof(comps[0]); i++) rc = component(cfg, comps[i], err);
    /* Keras 1 keys Keras 2 dropped: Embedding's dropout (it was never
     * applied at inference) */
    if (!strcmp(k->k2, "Embedding")) json_object_del(cfg, "dropout");
    return rc;
}

kc_status kc__keras1_translate(json_t *model_config, kc_error *err)
{
    json_t *cfg = json_object_get(model_config, "config");
    json_t *layers = json_is_array(cfg) ? cfg : json_object_get(cfg, "layers");
    if (!json_is_array(layers)) return KC_OK;
    for (size_t i = 0; i < json_array_size(layers); i++) {
        kc_status rc = translate_layer(json_array_get(layers, i), err);
        if (rc != KC_OK) {
            kc__error_context(err, "model_config layers[%zu] (Keras 1)", i);
            return rc;
        }
    }
    return KC_OK;
}
