/* The arguments of a node: a layer call with several tensor arguments and
 * keyword arguments, as a Functional config stores it.
 *
 * Keras 2 (engine/node.py serialize) writes a node as the entries of its
 * first argument, [layer, node index, tensor index, kwargs], where kwargs
 * holds every other argument by name (the positional ones named after
 * call()'s signature) and a tensor there is [layer, node index, tensor
 * index]:
 *     mha(x, x)                      [["ln", 0, 0, {"value": ["ln", 0, 0]}]]
 *     mha(q, v, use_causal_mask=True) [["q", 0, 0, {"value": ["v", 0, 0],
 *                                                  "use_causal_mask": true}]]
 * Keras 3 (models/functional.py serialize_node) writes {"args": [...],
 * "kwargs": {...}} with tensors as {"class_name": "__keras_tensor__",
 * "config": {"keras_history": [layer, node index, tensor index]}}.
 * Both read into one form: the referenced tensors, the argument each is
 * bound to (NULL for the first argument) and the other arguments as a JSON
 * object; ckeras writes Keras 2's form, which Keras 2, Keras 3 and
 * TensorFlow.js read. */
#include "models_int.h"

#include <string.h>

void kc__gnode_kwargs(const kc__gnode *node, kc_call_kwargs *kw)
{
    kw->names = (const char *const *)node->arg_names;
    kw->n_inputs = node->n_inputs;
    kw->options = node->options;
}

kc_status kc_apply_kw(kc_object *layer, kc_symbol *const *inputs, const char *const *names, int n_inputs,
                      const char *options, kc_symbol **outs, int *n_out, kc_error *err)
{
    *n_out = 0;
    json_t *opts;
    kc_status prc = kc__call_options_parse(options, "kc_apply_kw", &opts, err);
    if (prc != KC_OK) return prc;
    kc_call_kwargs kw = {.names = names, .n_inputs = n_inputs, .options = opts};
    kc_status rc = kc__apply_kw(layer, inputs, n_inputs, &kw, outs, n_out, err);
    json_decref(opts);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------------- */

static bool is_k2_ref(const json_t *v)
{
    return json_is_array(v) && json_array_size(v) == 3 && json_is_string(json_array_get(v, 0)) &&
           json_is_integer(json_array_get(v, 1)) && json_is_integer(json_array_get(v, 2));
}

/* A Keras 3 __keras_tensor__'s keras_history, or NULL. */
static const json_t *k3_history(const json_t *v)
{
    const json_t *cn = json_object_get(v, "class_name");
    if (!json_is_string(cn) || strcmp(json_string_value(cn), "__keras_tensor__") != 0) return NULL;
    const json_t *h = json_object_get(json_object_get(v, "config"), "keras_history");
    return is_k2_ref(h) ? h : json_null(); /* json_null: a malformed one */
}

static kc_status add_ref(kc__node_args *a, const json_t *triple, const char *name, const kc_config_ctx *ctx,
                         kc_error *err)
{
    if (a->n >= KC__MAX_MODEL_IO) return kc__errf(err, KC_ELIMIT, "%s: more than %d node inputs", ctx->path, KC__MAX_MODEL_IO);
    a->refs[a->n].layer = json_string_value(json_array_get(triple, 0));
    a->refs[a->n].node = (int)json_integer_value(json_array_get(triple, 1));
    a->refs[a->n].tensor = (int)json_integer_value(json_array_get(triple, 2));
    a->names[a->n++] = name;
    return KC_OK;
}

static kc_status set_option(kc__node_args *a, const char *key, const json_t *v, kc_error *err)
{
    if (json_is_null(v)) return KC_OK; /* None: the argument's default */
    if (!a->options && !(a->options = json_object())) return kc__errf(err, KC_ENOMEM, "out of memory");
    if (json_object_set_new(a->options, key, json_deep_copy(v))) return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status unsupported_list(const kc_config_ctx *ctx, const char *key, kc_error *err)
{
    return kc__errf(err, KC_EUNSUPPORTED, "%s: keyword argument '%s' holds several tensors: not supported", ctx->path,
                    key);
}

static kc_status read_k2(const json_t *node, kc__node_args *a, const kc_config_ctx *ctx, kc_error *err)
{
    for (size_t i = 0; i < json_array_size(node); i++) {
        const json_t *d = json_array_get(node, i);
        if (!json_is_array(d) || json_array_size(d) < 3 || !json_is_string(json_array_get(d, 0)) ||
            !json_is_integer(json_array_get(d, 1)) || !json_is_integer(json_array_get(d, 2)))
            return kc__errf(err, KC_EFORMAT, "%s[%zu]: expected [layer name, node index, tensor index, kwargs]",
                            ctx->path, i);
        if (strcmp(json_string_value(json_array_get(d, 0)), "_CONSTANT_VALUE") == 0)
            return kc__errf(err, KC_EUNSUPPORTED, "%s[%zu]: constant node inputs are not supported", ctx->path, i);
        kc_status rc = add_ref(a, d, NULL, ctx, err);
        if (rc != KC_OK) return rc;
    }
    /* the kwargs: the same object in every entry (Keras reads the last) */
    const json_t *kw = json_array_size(node) ? json_array_get(json_array_get(node, json_array_size(node) - 1), 3) : NULL;
    if (kw && !json_is_object(kw) && !json_is_null(kw))
        return kc__errf(err, KC_EFORMAT, "%s: a node's kwargs must be an object", ctx->path);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)kw, key, v)
    {
        kc_status rc;
        if (is_k2_ref(v)) rc = add_ref(a, v, key, ctx, err);
        else if (json_is_array(v) && json_array_size(v) > 0 && is_k2_ref(json_array_get(v, 0)))
            rc = unsupported_list(ctx, key, err);
        else rc = set_option(a, key, v, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

/* Every tensor of a Keras 3 first argument (a tensor or nested lists). */
static kc_status read_k3_first(const json_t *v, kc__node_args *a, const kc_config_ctx *ctx, kc_error *err)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            kc_status rc = read_k3_first(json_array_get(v, i), a, ctx, err);
            if (rc != KC_OK) return rc;
        }
        return KC_OK;
    }
    const json_t *h = k3_history(v);
    if (!h || json_is_null(h))
        return kc__errf(err, h ? KC_EFORMAT : KC_EUNSUPPORTED,
                        h ? "%s: a __keras_tensor__ without a valid keras_history"
                          : "%s: a positional call argument that is not a tensor is not supported",
                        ctx->path);
    return add_ref(a, h, NULL, ctx, err);
}

static kc_status read_k3(const json_t *node, kc__node_args *a, const kc_config_ctx *ctx, kc_error *err)
{
    const json_t *args = json_object_get(node, "args"), *kwargs = json_object_get(node, "kwargs");
    if ((args && !json_is_array(args)) || (kwargs && !json_is_object(kwargs)))
        return kc__errf(err, KC_EFORMAT, "%s: expected {\"args\": [...], \"kwargs\": {...}}", ctx->path);
    size_t n_args = json_array_size(args);
    while (n_args > 1 && json_is_null(json_array_get(args, n_args - 1))) n_args--; /* trailing None: defaults */
    for (size_t i = 0; i < n_args; i++) {
        kc_status rc = read_k3_first(json_array_get(args, i), a, ctx, err);
        if (rc != KC_OK) return rc;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)kwargs, key, v)
    {
        const json_t *h = k3_history(v);
        kc_status rc;
        if (h && json_is_null(h)) rc = kc__errf(err, KC_EFORMAT, "%s.kwargs.%s: a __keras_tensor__ without a valid keras_history", ctx->path, key);
        else if (h) rc = add_ref(a, h, key, ctx, err);
        else if (json_is_array(v) && json_array_size(v) > 0 && k3_history(json_array_get(v, 0)))
            rc = unsupported_list(ctx, key, err);
        else rc = set_option(a, key, v, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

kc_status kc__node_args_read(const json_t *node, const kc_config_ctx *ctx, kc__node_args *out, kc_error *err)
{
    memset(out, 0, sizeof(*out));
    kc_status rc;
    if (json_is_object(node)) rc = read_k3(node, out, ctx, err);
    else if (json_is_array(node)) rc = read_k2(node, out, ctx, err);
    else rc = kc__errf(err, KC_EFORMAT, "%s: a node must be a list or an object", ctx->path);
    if (rc != KC_OK) kc__node_args_fini(out);
    return rc;
}

void kc__node_args_fini(kc__node_args *a)
{
    json_decref(a->options);
    a->options = NULL;
}

/* ---- writing ---------------------------------------------------------------------------------- */

json_t *kc__node_args_write(const kc__gnode *node, json_t *const *refs, kc_error *err)
{
    json_t *kwargs = node->options ? json_deep_copy(node->options) : json_object(), *entries = json_array();
    bool ok = kwargs && entries;
    for (int i = 0; ok && node->arg_names && i < node->n_inputs; i++)
        if (node->arg_names[i]) ok = json_object_set(kwargs, node->arg_names[i], refs[i]) == 0;
    for (int i = 0; ok && i < node->n_inputs; i++) {
        if (node->arg_names && node->arg_names[i]) continue;
        json_t *e = json_copy(refs[i]);
        if (!e || json_array_append_new(e, json_deep_copy(kwargs))) {
            json_decref(e);
            ok = false;
        } else {
            ok = json_array_append_new(entries, e) == 0;
        }
    }
    json_decref(kwargs);
    if (!ok) {
        json_decref(entries);
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    return entries;
}
