/* Keras 3 operations recorded as nodes of a functional model.
 *
 * Keras 3 records an operation applied to a symbolic tensor -- x + y,
 * x * 0.5, keras.ops.max(x) -- as a node of the functional model: the
 * operation's class from keras.src.ops ("module": "keras.src.ops.numpy",
 * "class_name": "Multiply", "registered_name": "Multiply") with every
 * argument, tensors and constants alike, in the node's "args". Several of
 * those class names are also layer names (Add, Multiply, Concatenate, Dot,
 * Average, Reshape, Softmax, ...) with other arguments and meanings: read
 * as the layer, x * 0.5 would be the Multiply layer of x alone, x
 * unchanged. ckeras has no operation nodes, so such an entry is refused,
 * naming the operation, except where the layer computes exactly what the
 * operation does: the elementwise Add, Subtract, Multiply, Maximum and
 * Minimum of tensors only (x + y), which are kept as those layers. A class
 * the user registered or passed in custom_objects under the name is theirs
 * to interpret. */
#include "models_int.h"

#include <string.h>

static bool is_operation_module(const char *m)
{
    return strncmp(m, "keras.src.ops.", 14) == 0 || strncmp(m, "keras.ops", 9) == 0;
}

static bool is_keras_tensor(const json_t *v)
{
    const json_t *cn = json_object_get(v, "class_name");
    return json_is_string(cn) && strcmp(json_string_value(cn), "__keras_tensor__") == 0;
}

/* Every call of the operation takes tensors only: two or more positional
 * arguments, no keyword arguments. */
static bool tensors_only(const json_t *nodes)
{
    if (!json_is_array(nodes)) return false;
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        const json_t *node = json_array_get(nodes, i), *args = json_object_get(node, "args");
        const json_t *kwargs = json_object_get(node, "kwargs");
        if (!json_is_array(args) || json_array_size(args) < 2) return false;
        if (kwargs && !(json_is_object(kwargs) && json_object_size(kwargs) == 0)) return false;
        for (size_t k = 0; k < json_array_size(args); k++)
            if (!is_keras_tensor(json_array_get(args, k))) return false;
    }
    return true;
}

static bool same_as_layer(const char *name)
{
    static const char *const merges[] = {"Add", "Subtract", "Multiply", "Maximum", "Minimum"};
    for (size_t i = 0; i < sizeof merges / sizeof *merges; i++)
        if (strcmp(name, merges[i]) == 0) return true;
    return false;
}

static bool user_class(const kc_config_ctx *ctx, const char *name)
{
    const kc_class *cls = NULL;
    kc_object *obj = NULL;
    if (kc__custom_lookup(ctx->custom, KC_KIND_LAYER, name, &cls, &obj)) return true;
    return kc__registry_lookup(KC_KIND_LAYER, name, &cls, &obj) == KC_OK && cls && !kc__class_is_builtin(cls);
}

kc_status kc__check_operation_node(const json_t *entry, const kc_config_ctx *ctx, kc_error *err)
{
    const json_t *mod = json_object_get(entry, "module"), *cn = json_object_get(entry, "class_name");
    if (!json_is_string(mod) || !json_is_string(cn) || !is_operation_module(json_string_value(mod)))
        return KC_OK;
    const char *name = json_string_value(cn);
    if (user_class(ctx, name)) return KC_OK;
    if (same_as_layer(name) && tensors_only(json_object_get(entry, "inbound_nodes"))) return KC_OK;
    /* within kc_error's 256 characters */
    kc__errf(err, KC_ENOTFOUND,
             "'%s' (%.40s) is a Keras 3 operation on a symbolic tensor (%s), not a layer; ckeras "
             "runs layers only. Register a layer class named '%s' or do the operation in a Keras layer.",
             name, json_string_value(mod), same_as_layer(name) ? "with a constant, e.g. x * 0.5" : "e.g. keras.ops.max(x)",
             name);
    kc__error_context(err, "%s", ctx->path);
    return KC_ENOTFOUND;
}
