/* Layers that own layers (Keras' nested layers: a layer that keeps Dense
 * layers in attributes).
 *
 * kc_layer_track_layer makes a plain layer the owner of another, as
 * assigning a layer to an attribute does in Keras: the owner's weight lists
 * include the tracked layers' weights after its own (Layer.weights), so
 * they are saved in the owner's group of an .h5 file and matched by
 * position on load; Keras 3 files keep them under the attribute name
 * (keras3_layout.c walks them); freezing the owner freezes them; their
 * add_loss terms, activity penalties and weight regularizers count as the
 * owner's; and the weights they create from then on are named under the
 * owner ("residual_block/dense/kernel:0"), as Keras' name scopes name them.
 * Models keep their layers in their own list (kc_model_track_layer); both
 * paths meet in kc__sublayer_count / kc__sublayer (model.c).
 *
 * Ownership points one way: the owner holds references to its tracked
 * layers; a tracked layer's `parent` is a borrowed back-pointer used only
 * for names, cleared when the owner goes away. */
#include "layers_int.h"

#include <string.h>

void kc__layer_children_release(kc__layer_state *s)
{
    for (int i = 0; i < s->n_children; i++) {
        kc__layer_state *cs = kc__as_layer(s->children[i].layer)->state;
        if (cs) cs->parent = NULL;
        kc_object_unref(s->children[i].layer);
        kc__free(s->children[i].attr);
    }
    kc__free(s->children);
    s->children = NULL;
    s->n_children = s->cap_children = 0;
}

static bool owns(const kc_object *owner, const kc_object *layer)
{
    for (int i = 0; i < kc__sublayer_count(owner); i++) {
        const kc_object *c = kc__sublayer(owner, i);
        if (c == layer || owns(c, layer)) return true;
    }
    return false;
}

const char *kc__layer_child_attr(const kc_object *layer, int i) { return kc__as_layer(layer)->state->children[i].attr; }

kc_status kc_layer_track_layer(kc_object *layer, const char *attr, kc_object *sublayer, kc_error *err)
{
    if (!kc_is_layer(layer) || !kc_is_layer(sublayer)) {
        if (err && err->code != KC_OK) return err->code; /* a failed constructor's NULL */
        return kc__errf(err, KC_EINVAL, "kc_layer_track_layer: needs a layer and a layer to track");
    }
    if (kc_is_model(layer)) return kc_model_track_layer(layer, sublayer, err); /* no attributes */
    if (layer == sublayer || owns(sublayer, layer))
        return kc__errf(err, KC_EINVAL, "layer '%s' cannot track '%s': a layer cannot contain itself",
                        kc_layer_name(layer), kc_layer_name(sublayer));
    kc__layer_state *s = kc__as_layer(layer)->state;
    for (int i = 0; i < s->n_children; i++)
        if (s->children[i].layer == sublayer) return KC_OK;
    kc_status rc = kc__layer_ensure_name(sublayer, err);
    if (rc != KC_OK) return rc;
    if (!attr) attr = kc_layer_name(sublayer);
    if (!kc__valid_name(attr) || strchr(attr, '/'))
        return kc__errf(err, KC_EINVAL, "layer '%s': '%s' is not an attribute name", kc_layer_name(layer), attr);
    for (int i = 0; i < s->n_children; i++)
        if (strcmp(s->children[i].attr, attr) == 0)
            return kc__errf(err, KC_EEXIST, "layer '%s' already tracks a layer as '%s'", kc_layer_name(layer), attr);
    size_t cap = (size_t)s->cap_children;
    char *name = kc__strdup(attr);
    if (!name || !kc__grow((void **)&s->children, &cap, (size_t)s->n_children + 1, sizeof(kc__child))) {
        kc__free(name);
        return kc__errf(err, KC_ENOMEM, "out of memory tracking layer '%s'", kc_layer_name(sublayer));
    }
    s->cap_children = (int)cap;
    s->children[s->n_children++] = (kc__child){kc_object_ref(sublayer), name};
    kc__layer_state *cs = kc__as_layer(sublayer)->state;
    if (!cs->parent) cs->parent = layer;
    kc__layers_changed();
    return KC_OK;
}

kc_object *kc_layer_track_layer_take(kc_object *layer, const char *attr, kc_object *sublayer, kc_error *err)
{
    kc_status rc = kc_layer_track_layer(layer, attr, sublayer, err);
    kc_object_unref(sublayer);
    return rc == KC_OK ? sublayer : NULL;
}

/* "<owner>/" prefixes, outermost first, written at p; returns the length
 * (also when buf is NULL, to measure). */
static size_t scope_prefix(const kc_object *layer, char *buf)
{
    const kc_object *owner = kc__as_layer(layer)->state->parent;
    if (!owner) return 0;
    size_t n = scope_prefix(owner, buf);
    const char *name = kc_layer_name(owner);
    size_t k = strlen(name);
    if (buf) {
        memcpy(buf + n, name, k);
        buf[n + k] = '/';
    }
    return n + k + 1;
}

char *kc__layer_weight_name(const kc_object *layer, const char *name, kc_error *err)
{
    const char *lname = kc__as_layer(layer)->name;
    size_t prefix = scope_prefix(layer, NULL);
    size_t n = prefix + strlen(lname) + strlen(name) + 4;
    char *full = kc__malloc(n);
    if (!full) {
        kc__errf(err, KC_ENOMEM, "out of memory naming weight '%s'", name);
        return NULL;
    }
    scope_prefix(layer, full);
    snprintf(full + prefix, n - prefix, "%s/%s:0", lname, name);
    return full;
}
