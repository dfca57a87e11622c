/* The `_take` twins of the functions that keep a layer: they consume the
 * caller's reference on every path, failure included (STYLE.md: `_take`
 * consumes), so a freshly made layer can be passed inline without a
 * variable to unref:
 *
 *     kc_sequential_add_take(model, kc_layers_dense(&(kc_layers_dense_args){.units = 8}, &err), &err);
 *
 * A NULL layer (its constructor failed) is reported as that failure: err
 * already holds it, and the first error wins. */
#include "models_int.h"

kc_status kc_sequential_add_take(kc_object *model, kc_object *layer, kc_error *err)
{
    kc_status rc = layer ? kc_sequential_add(model, layer, err) : kc__error_code(err, KC_EINVAL);
    if (!layer) kc__errf(err, KC_EINVAL, "kc_sequential_add_take: layer is NULL");
    kc_object_unref(layer);
    return rc;
}

kc_object *kc_sequential_new_take(const char *name, kc_object *const *layers, int n_layers, kc_error *err)
{
    kc_object *model = kc_sequential_new(name, err);
    kc_status rc = model ? KC_OK : kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK && (n_layers < 0 || (n_layers > 0 && !layers)))
        rc = kc__errf(err, KC_EINVAL, "kc_sequential_new_take: %d layers at %p", n_layers, (const void *)layers);
    for (int i = 0; i < n_layers && layers; i++) {
        if (rc == KC_OK) rc = kc_sequential_add_take(model, layers[i], err);
        else kc_object_unref(layers[i]);
    }
    if (rc != KC_OK) {
        kc_object_unref(model);
        return NULL;
    }
    return model;
}

kc_symbol *kc_apply_take(kc_object *layer, kc_symbol *const *inputs, int n_inputs, kc_error *err)
{
    kc_symbol *out = NULL;
    if (layer) out = kc_apply(layer, inputs, n_inputs, err);
    else kc__errf(err, KC_EINVAL, "kc_apply_take: layer is NULL");
    kc_object_unref(layer);
    return out;
}
