/* Where Keras 3 keeps a model's weights (doc/keras3-format.md, rules L1-L6).
 *
 * Keras 3's saving_lib walks the model as a tree of saveable objects: a
 * Sequential or Functional model first visits the container "layers"
 * (model.layers), where a child's group is its snake_case class name with
 * _1, _2, ... for later children of the same class -- not its layer name;
 * then each object stores its own variables as "<path>/vars/<i>" and visits
 * the objects it owns by attribute name ("cell", "forward_layer", ...).
 * This file turns a built ckeras model into that tree: a list of objects,
 * each a path and the variables it stores, in Keras' walk order. It touches
 * no file, so the reader, the writer and an isolated loader (which only
 * sees named arrays) share it.
 *
 * A layer that owns sub-objects says where its weights go with its class's
 * keras3_layout hook; the calls it makes (kc_keras3_tree_add_vars,
 * kc_keras3_tree_add_layer) are the public half of this file. Every weight
 * must be placed exactly once: a hook that forgets one is a ckeras bug,
 * reported as such rather than written as a file Keras cannot read. */
#include "keras3.h"

#include <ctype.h>
#include <string.h>

struct kc_keras3_tree {
    kc__k3_layout *out;
    const char *path;        /* this object's path */
    const char *name;        /* its name (the vars group's attribute) */
    const char *top;         /* the model.layers entry it belongs to */
    kc_variable **w;         /* the weights it places, creation order */
    const bool *w_trainable; /* trainable by nature (created trainable) */
    bool *placed;            /* one flag per weight, shared with enclosing trees */
    int n;
    size_t own;              /* index of its own object in out */
};

/* ---- the output list ------------------------------------------------------------------- */

static char *join_path(const char *a, const char *b)
{
    if (!b || !b[0]) return kc__strdup(a);
    if (!a[0]) return kc__strdup(b);
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = kc__malloc(n);
    if (s) snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* Append an object with no variables yet; *index receives its position. */
static kc_status add_object(kc__k3_layout *l, const char *path, const char *name, const char *top, size_t *index,
                            kc_error *err)
{
    if (!kc__grow((void **)&l->objects, &l->cap, l->n + 1, sizeof(kc__k3_object)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    kc__k3_object *o = &l->objects[l->n];
    memset(o, 0, sizeof(*o));
    o->path = kc__strdup(path);
    o->name = kc__strdup(name ? name : "");
    o->layer = kc__strdup(top ? top : "");
    if (!o->path || !o->name || !o->layer) {
        kc__free(o->path);
        kc__free(o->name);
        kc__free(o->layer);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    *index = l->n++;
    return KC_OK;
}

void kc__keras3_layout_free(kc__k3_layout *l)
{
    for (size_t i = 0; i < l->n; i++) {
        kc__free(l->objects[i].path);
        kc__free(l->objects[i].name);
        kc__free(l->objects[i].layer);
        kc__free(l->objects[i].vars);
    }
    kc__free(l->objects);
    memset(l, 0, sizeof(*l));
}

/* ---- the public calls ----------------------------------------------------------------- */

int kc_keras3_tree_num_weights(const kc_keras3_tree *tree) { return tree ? tree->n : 0; }

kc_variable *kc_keras3_tree_weight(const kc_keras3_tree *tree, int i)
{
    return tree && i >= 0 && i < tree->n ? tree->w[i] : NULL;
}

static kc_status check_range(const kc_keras3_tree *t, int first, int n, const char *fn, kc_error *err)
{
    if (!t) return kc__errf(err, KC_EINVAL, "%s: tree is NULL", fn);
    if (first < 0 || n < 0 || first > t->n || n > t->n - first)
        return kc__errf(err, KC_EINVAL, "%s: weights [%d, %d) of layer '%s', which places %d", fn, first, first + n,
                        t->name, t->n);
    for (int i = first; i < first + n; i++)
        if (t->placed[i])
            return kc__errf(err, KC_EINVAL, "%s: weight '%s' of layer '%s' is placed twice", fn,
                            kc_variable_name(t->w[i]), t->name);
    return KC_OK;
}

kc_status kc_keras3_tree_add_vars(kc_keras3_tree *tree, const char *sub, int first, int n, kc_error *err)
{
    kc_status rc = check_range(tree, first, n, "kc_keras3_tree_add_vars", err);
    if (rc != KC_OK) return rc;
    size_t index = tree->own;
    if (sub && sub[0]) {
        char *path = join_path(tree->path, sub);
        const char *slash = strrchr(sub, '/');
        rc = path ? add_object(tree->out, path, slash ? slash + 1 : sub, tree->top, &index, err)
                  : kc__errf(err, KC_ENOMEM, "out of memory");
        kc__free(path);
        if (rc != KC_OK) return rc;
    }
    kc__k3_object *o = &tree->out->objects[index];
    if (o->n_vars > 0)
        return kc__errf(err, KC_EINVAL, "kc_keras3_tree_add_vars: '%s' of layer '%s' already has its variables",
                        o->path, tree->name);
    if (n == 0) return KC_OK;
    o->vars = kc__calloc((size_t)n, sizeof(kc_variable *));
    if (!o->vars) return kc__errf(err, KC_ENOMEM, "out of memory");
    /* Layer.save_own_variables: _trainable_variables + _non_trainable_variables */
    for (int pass = 0; pass < 2; pass++)
        for (int i = first; i < first + n; i++)
            if (tree->w_trainable[i] == (pass == 0)) o->vars[o->n_vars++] = tree->w[i];
    for (int i = first; i < first + n; i++) tree->placed[i] = true;
    return KC_OK;
}

static kc_status lay_out_layer(kc_keras3_tree *t, kc_object *layer, kc_error *err);

kc_status kc_keras3_tree_add_layer(kc_keras3_tree *tree, const char *sub, kc_object *layer, int first, int n,
                                   kc_error *err)
{
    kc_status rc = check_range(tree, first, n, "kc_keras3_tree_add_layer", err);
    if (rc != KC_OK) return rc;
    if (!kc_is_layer(layer)) return kc__errf(err, KC_EINVAL, "kc_keras3_tree_add_layer: not a layer");
    char *path = join_path(tree->path, sub);
    if (!path) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_keras3_tree child = {.out = tree->out, .path = path, .name = kc_layer_name(layer), .top = tree->top,
                            .w = tree->w + first, .w_trainable = tree->w_trainable + first,
                            .placed = tree->placed + first, .n = n};
    rc = add_object(tree->out, path, child.name, child.top, &child.own, err);
    if (rc == KC_OK) rc = lay_out_layer(&child, layer, err);
    kc__free(path);
    return rc;
}

/* ---- layers and models -------------------------------------------------------------------- */

/* A layer's own object is already in out: its hook (or its vars) places
 * its weights. */
static kc_status lay_out_layer(kc_keras3_tree *t, kc_object *layer, kc_error *err)
{
    const kc_class *cls = layer->cls;
    kc_status rc = cls->abi >= 2 && cls->keras3_layout ? cls->keras3_layout(layer, t, err)
                                                        : kc_keras3_tree_add_vars(t, NULL, 0, t->n, err);
    if (rc != KC_OK) {
        kc__error_context(err, "layer '%s' (Keras 3 layout)", t->name);
        return rc;
    }
    for (int i = 0; i < t->n; i++)
        if (!t->placed[i])
            return kc__errf(err, KC_EINTERNAL, "the Keras 3 layout of layer '%s' (%s) leaves its weight '%s' unplaced",
                            t->name, cls->name, kc_variable_name(t->w[i]));
    return KC_OK;
}

/* Keras 3's naming.to_snake_case of a class name (Keras 2's differs on
 * digits after capitals): drop non-word characters, "(.)([A-Z][a-z]+)" ->
 * "\1_\2", then "([a-z])([A-Z])" -> "\1_\2", lower case. A registered
 * "Package>Name" is the Python class Name. */
static char *keras3_snake_case(const char *class_name)
{
    const char *gt = strrchr(class_name, '>');
    const char *s = gt ? gt + 1 : class_name;
    size_t n = 0, len = strlen(s);
    char *w = kc__malloc(len + 1), *a = kc__malloc(2 * len + 1), *b = kc__malloc(4 * len + 1);
    if (!w || !a || !b) {
        kc__free(w);
        kc__free(a);
        kc__free(b);
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        if (isalnum((unsigned char)s[i]) || s[i] == '_') w[n++] = s[i];
    w[n] = '\0';
    size_t o = 0;
    for (size_t i = 0; i < n;) { /* non-overlapping matches of (.)([A-Z][a-z]+) */
        if (i + 2 < n && isupper((unsigned char)w[i + 1]) && islower((unsigned char)w[i + 2])) {
            a[o++] = w[i];
            a[o++] = '_';
            i++;
            a[o++] = w[i++];
            while (i < n && islower((unsigned char)w[i])) a[o++] = w[i++];
        } else {
            a[o++] = w[i++];
        }
    }
    a[o] = '\0';
    size_t p = 0;
    for (size_t i = 0; i < o; i++) {
        b[p++] = (char)tolower((unsigned char)a[i]);
        if (i + 1 < o && islower((unsigned char)a[i]) && isupper((unsigned char)a[i + 1])) b[p++] = '_';
    }
    b[p] = '\0';
    kc__free(w);
    kc__free(a);
    return b;
}

typedef struct walk_ctx {
    kc__k3_layout *out;
    const kc_object **visited; /* layers already laid out (shared ones are stored once) */
    size_t n_visited, cap_visited;
} walk_ctx;

static bool visited(walk_ctx *c, const kc_object *o)
{
    for (size_t i = 0; i < c->n_visited; i++)
        if (c->visited[i] == o) return true;
    return false;
}

static kc_status lay_out_object(walk_ctx *c, kc_object *obj, const char *path, const char *top, kc_error *err);

/* The container "layers" of a model at path: model.layers (a Sequential's
 * InputLayer is not one of them in Keras 3 either). top: the model.layers
 * entry of the whole model it is in (NULL: this is the whole model). */
static kc_status lay_out_container(walk_ctx *c, kc_object *model, const char *path, const char *top, kc_error *err)
{
    int n = kc_model_num_layers(model);
    char **groups = kc__calloc((size_t)n + 1, sizeof(char *));
    kc_status rc = groups ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; rc == KC_OK && i < n; i++) {
        kc_object *child = kc_model_layer(model, i);
        groups[i] = keras3_snake_case(kc_object_name(child));
        if (!groups[i]) {
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
            break;
        }
        /* the k-th child of a class is <class>_<k> (k > 0), counted
         * before the visited check, as _save_container_state does */
        int seen = 0;
        for (int k = 0; k < i; k++) seen += strcmp(groups[k], groups[i]) == 0;
        if (visited(c, child)) continue;
        char group[512];
        if (seen) snprintf(group, sizeof group, "%s_%d", groups[i], seen);
        else snprintf(group, sizeof group, "%s", groups[i]);
        char *inner = join_path(path, "layers");
        char *child_path = inner ? join_path(inner, group) : NULL;
        rc = child_path ? lay_out_object(c, child, child_path, top ? top : kc_layer_name(child), err)
                        : kc__errf(err, KC_ENOMEM, "out of memory");
        kc__free(inner);
        kc__free(child_path);
    }
    for (int i = 0; groups && i < n; i++) kc__free(groups[i]);
    kc__free(groups);
    return rc;
}

/* The layers a plain layer tracks (kc_layer_track_layer), each at
 * "<path>/<attribute>", in sorted attribute order as Keras' _walk_saveable
 * visits sorted(dir(layer)). */
static kc_status lay_out_tracked(walk_ctx *c, kc_object *layer, const char *path, const char *top, kc_error *err)
{
    int n = kc__sublayer_count(layer);
    int *order = n > 0 ? kc__malloc_array((size_t)n, sizeof(int)) : NULL;
    if (n > 0 && !order) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) { /* insertion sort: a layer tracks a handful */
        int j = i;
        while (j > 0 && strcmp(kc__layer_child_attr(layer, order[j - 1]), kc__layer_child_attr(layer, i)) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    kc_status rc = KC_OK;
    for (int k = 0; rc == KC_OK && k < n; k++) {
        kc_object *child = kc__sublayer(layer, order[k]);
        if (visited(c, child)) continue;
        char *child_path = join_path(path, kc__layer_child_attr(layer, order[k]));
        rc = child_path ? lay_out_object(c, child, child_path, top, err) : kc__errf(err, KC_ENOMEM, "out of memory");
        kc__free(child_path);
    }
    kc__free(order);
    return rc;
}

/* A layer or model at path: its own object, then (models) its container,
 * or (plain layers) the layers it tracks. */
static kc_status lay_out_object(walk_ctx *c, kc_object *obj, const char *path, const char *top, kc_error *err)
{
    if (!kc__grow((void **)&c->visited, &c->cap_visited, c->n_visited + 1, sizeof(*c->visited)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    c->visited[c->n_visited++] = obj;
    kc__layer_state *s = kc__as_layer(obj)->state;
    bool *placed = kc__calloc((size_t)s->n_w + 1, sizeof(bool));
    if (!placed) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_keras3_tree t = {.out = c->out, .path = path, .name = kc_layer_name(obj), .top = top ? top : "", .w = s->w,
                        .w_trainable = s->w_trainable, .placed = placed, .n = s->n_w};
    kc_status rc = add_object(c->out, path, t.name, t.top, &t.own, err);
    if (rc == KC_OK) {
        if (kc_is_model(obj))
            rc = kc_keras3_tree_add_vars(&t, NULL, 0, t.n, err); /* a model's own weights (subclassed ones) */
        else
            rc = lay_out_layer(&t, obj, err);
    }
    kc__free(placed);
    if (rc == KC_OK && kc_is_model(obj)) rc = lay_out_container(c, obj, path, top, err);
    else if (rc == KC_OK && kc__sublayer_count(obj) > 0) rc = lay_out_tracked(c, obj, path, top, err);
    return rc;
}

kc_status kc__keras3_layout(kc_object *model, kc__k3_layout *out, kc_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!kc_is_model(model)) return kc__errf(err, KC_EINVAL, "only models have a Keras 3 weights layout");
    walk_ctx c = {.out = out};
    kc_status rc = lay_out_object(&c, model, "", NULL, err);
    kc__free(c.visited);
    if (rc != KC_OK) kc__keras3_layout_free(out);
    return rc;
}
