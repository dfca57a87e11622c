/* Keyword arguments of layer calls: mha(query, value, key=k,
 * use_causal_mask=True).
 *
 * Keras passes them to call(), compute_output_shape() and build() as Python
 * arguments. ckeras keeps the layer method signatures (inputs and shapes
 * only) and makes the keyword arguments of the call in progress available
 * to the layer through kc_layer_call_kwargs(), the way Keras' own call
 * context (base_layer_utils.call_context) carries the training flag: the
 * caller pushes a frame naming the layer and its arguments for the
 * duration of the call, and only that layer sees it, so sub-layers called
 * plainly from inside see none.
 *
 * The frame carries two answers back to the caller. Whether the layer
 * looked at its arguments: a class that never does (Dense) cannot have
 * honoured them, so a call that gave it some fails instead of silently
 * dropping them. And, for a class that binds positional inputs to the
 * names of its call() signature (kc__call_bind), what each input was: a
 * Functional node records mha(q, v) as query plus value=v, which is how
 * Keras 2 writes it. The class knows its signature; no table has to. */
#include "layer_util.h"

#include <string.h>

static _Thread_local kc__call_frame *top;

void kc__call_frame_push(kc__call_frame *f, const kc_object *layer, const kc_call_kwargs *kw, const char **bound)
{
    f->layer = layer;
    f->kw = kw;
    f->consulted = false;
    f->bound = bound;
    f->has_bound = false;
    f->prev = top;
    top = f;
}

void kc__call_frame_pop(kc__call_frame *f) { top = f->prev; }

const kc_call_kwargs *kc_layer_call_kwargs(const kc_object *layer)
{
    if (!top || top->layer != layer) return NULL;
    top->consulted = true;
    return top->kw;
}

/* The first argument a class must act on itself (a named input, or an
 * option other than "training", which the caller applies), or NULL. */
static const char *first_argument(const kc_call_kwargs *kw)
{
    if (!kw) return NULL;
    for (int i = 0; kw->names && i < kw->n_inputs; i++)
        if (kw->names[i]) return kw->names[i];
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)kw->options, key, v)
    {
        if (strcmp(key, "training") != 0) return key;
    }
    return NULL;
}

void kc__call_frame_explain(const kc__call_frame *f, kc_error *err)
{
    const char *arg = f->consulted ? NULL : first_argument(f->kw);
    if (arg) kc__error_context(err, "the call gave the keyword argument '%s'", arg);
}

kc_status kc__call_frame_check(const kc__call_frame *f, kc_error *err)
{
    const char *arg = f->consulted ? NULL : first_argument(f->kw);
    if (!arg) return KC_OK;
    const kc_object *layer = f->layer;
    return kc__errf(err, KC_EINVAL, "layer '%s' (%s) takes no keyword arguments, but the call gave '%s'",
                    kc_layer_name(layer), layer->cls->name, arg);
}

bool kc__call_training(const kc_call_kwargs *kw, bool training)
{
    const json_t *t = kw && kw->options ? json_object_get(kw->options, "training") : NULL;
    return json_is_boolean(t) ? json_is_true(t) : training;
}

kc_status kc__call_bind(const kc_object *layer, int n_inputs, const char *const *positional,
                        const char *const *accepted, int *slot, kc_error *err)
{
    const kc_call_kwargs *kw = kc_layer_call_kwargs(layer);
    int n_acc = 0, n_pos = 0;
    while (accepted && accepted[n_acc]) n_acc++;
    while (positional && positional[n_pos]) n_pos++;
    if (n_inputs > 64 || n_acc > 63)
        return kc__errf(err, KC_EINVAL, "layer '%s': too many inputs", kc_layer_name(layer));
    bool taken[64] = {false};
    int next_pos = 0;
    for (int i = 0; i < n_inputs; i++) {
        const char *name = kw && kw->names && i < kw->n_inputs ? kw->names[i] : NULL;
        if (!name && i == 0) {
            slot[i] = 0;
            continue;
        }
        if (!name) {
            if (next_pos >= n_pos)
                return kc__errf(err, KC_EINVAL, "layer '%s' (%s) takes at most %d positional tensor arguments, got %d",
                                kc_layer_name(layer), layer->cls->name, n_pos + 1, n_inputs);
            name = positional[next_pos++];
        }
        int k = 0;
        while (k < n_acc && strcmp(accepted[k], name) != 0) k++;
        if (k == n_acc)
            return kc__errf(err, KC_EINVAL, "layer '%s' (%s) has no tensor argument '%s'", kc_layer_name(layer),
                            layer->cls->name, name);
        if (taken[k])
            return kc__errf(err, KC_EINVAL, "layer '%s' (%s): argument '%s' is given twice", kc_layer_name(layer),
                            layer->cls->name, name);
        taken[k] = true;
        slot[i] = k + 1;
    }
    /* tell the caller (a node being recorded) what each input was */
    if (top && top->layer == layer && top->bound && (!top->kw || top->kw->n_inputs == n_inputs)) {
        for (int i = 0; i < n_inputs; i++) top->bound[i] = slot[i] ? accepted[slot[i] - 1] : NULL;
        top->has_bound = true;
    }
    return KC_OK;
}

kc_status kc__call_options(const kc_object *layer, const char *const *known, kc_error *err)
{
    const kc_call_kwargs *kw = kc_layer_call_kwargs(layer);
    if (!kw || !kw->options) return KC_OK;
    if (!json_is_object(kw->options))
        return kc__errf(err, KC_EINVAL, "layer '%s': call options must be a JSON object", kc_layer_name(layer));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)kw->options, key, v)
    {
        bool ok = strcmp(key, "training") == 0;
        for (int k = 0; !ok && known && known[k]; k++) ok = strcmp(key, known[k]) == 0;
        if (!ok)
            return kc__errf(err, KC_EINVAL, "layer '%s' (%s) does not take the call argument '%s'",
                            kc_layer_name(layer), layer->cls->name, key);
    }
    return KC_OK;
}

kc_status kc__call_option_bool(const kc_object *layer, const char *key, bool *out, kc_error *err)
{
    const kc_call_kwargs *kw = kc_layer_call_kwargs(layer);
    const json_t *v = kw && kw->options ? json_object_get(kw->options, key) : NULL;
    if (!v || json_is_null(v)) return KC_OK;
    if (!json_is_boolean(v))
        return kc__errf(err, KC_EINVAL, "layer '%s': call argument '%s' must be true or false", kc_layer_name(layer),
                        key);
    *out = json_is_true(v);
    return KC_OK;
}

kc_status kc__layer_call_kw(kc_object *layer, kc_tensor *const *inputs, int n_inputs,
                            const kc_call_kwargs *kw, kc_tensor *const *masks, bool training,
                            kc_tensor **out, kc_tensor **out_masks, int *n_out, kc_error *err)
{
    *n_out = 0;
    if (!kw) return kc_layer_call(layer, inputs, n_inputs, masks, training, out, out_masks, n_out, err);
    kc__call_frame f;
    kc__call_frame_push(&f, layer, kw, NULL);
    kc_status rc = kc_layer_call(layer, inputs, n_inputs, masks, kc__call_training(kw, training), out, out_masks,
                                 n_out, err);
    kc__call_frame_pop(&f);
    if (rc != KC_OK) kc__call_frame_explain(&f, err);
    if (rc == KC_OK && (rc = kc__call_frame_check(&f, err)) != KC_OK) {
        for (int i = 0; i < *n_out; i++) {
            kc_tensor_unref(out[i]);
            if (out_masks) kc_tensor_unref(out_masks[i]);
        }
        *n_out = 0;
    }
    return rc;
}

kc_status kc__call_options_parse(const char *options, const char *fn, json_t **opts, kc_error *err)
{
    *opts = NULL;
    if (!options) return KC_OK;
    json_t *o = kc_json_parse(options, strlen(options), 0, err);
    if (!o) return kc__error_code(err, KC_EFORMAT);
    if (!json_is_object(o)) {
        json_decref(o);
        return kc__errf(err, KC_EINVAL, "%s: options must be a JSON object", fn);
    }
    *opts = o;
    return KC_OK;
}

kc_status kc_layer_call_kw(kc_object *layer, kc_tensor *const *inputs, const char *const *names,
                           int n_inputs, const char *options, kc_tensor *const *masks, bool training,
                           kc_tensor **out, kc_tensor **out_masks, int *n_out, kc_error *err)
{
    *n_out = 0;
    if (!kc_is_layer(layer)) return kc__errf(err, KC_EINVAL, "kc_layer_call_kw: not a layer");
    json_t *opts;
    kc_status prc = kc__call_options_parse(options, "kc_layer_call_kw", &opts, err);
    if (prc != KC_OK) return prc;
    kc_call_kwargs kw = {.names = names, .n_inputs = n_inputs, .options = opts};
    kc_status rc = kc__layer_call_kw(layer, inputs, n_inputs, &kw, masks, training, out, out_masks, n_out, err);
    json_decref(opts);
    return rc;
}
