/* Read-only inspection of Keras files (include/ckeras/h5file.h): .h5 in
 * Keras 2's layout, and Keras 3's .keras archives and .weights.h5.
 *
 * The loader turns a file into a model and needs every class of it; this
 * reads what the file holds without interpreting it, so an inspector can
 * show files whose custom classes are missing, weights-only files, and the
 * optimizer state. It is built on the same HDF5 door (h5io.c) and the same
 * name-list reader (kc__read_name_list) as the loader, so it sees exactly
 * what the loader would read, under the same untrusted-input rules: hard
 * links only, bounded names and lists, no external or virtual storage.
 *
 * Listings are read once, on first use, and kept with the handle: tools
 * ask for them several times (summary, weights, diff). A failed listing is
 * not kept, so asking again reports the same error.
 *
 * Keras 3's weights tree names no layers (doc/keras3-format.md, L3): when
 * the archive's config builds with the classes at hand, the tree is listed
 * as the legacy layout lists it -- under each layer's name, each weight by
 * its Keras 2 name ("dense/kernel:0") -- so that files of both formats
 * compare; otherwise as stored, each "<owner path>" group with its
 * "vars/<i>" datasets. An archive's config.json is its model_config, and
 * its compile_config, in a training_config's form, its training_config. */
#define _POSIX_C_SOURCE 200809L
#include "keras3.h"

#include <ckeras/h5file.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_JSON_DEPTH 512
/* reads larger than this and 16 x the file are refused (see kc_h5file_read) */
#define MIN_READ_BUDGET ((int64_t)64 << 20)

/* One listing: weights with their strings, and for the weights tree the
 * layer groups. */
typedef struct listing {
    bool done;
    kc_h5file_layer *layers;
    size_t n_layers, cap_layers;
    kc_h5file_weight *weights;
    size_t n_weights, cap_weights;
    char **strings; /* every string the entries point to, owned here */
    size_t n_strings, cap_strings;
} listing;

struct kc_h5file {
    kc__h5 *h;
    char *path;
    kc_h5file_content content;
    const char *format;            /* "h5", "keras" or "weights.h5" */
    bool keras3;                   /* the weights tree is Keras 3's */
    json_t *config, *training;     /* archives: config.json, compile_config as a training_config */
    char *keras_version, *backend; /* NULL when absent */
    const char *wgroup;            /* "/model_weights", "/" or NULL */
    int64_t file_bytes;
    listing tree, opt;
};

static void listing_free(listing *l)
{
    kc__free_strings(l->strings, l->n_strings);
    kc__free(l->layers);
    kc__free(l->weights);
    memset(l, 0, sizeof(*l));
}

/* Keep s (kc__malloc'd) in l; frees it and returns NULL when out of memory. */
static const char *keep(listing *l, char *s)
{
    if (!s || !kc__grow((void **)&l->strings, &l->cap_strings, l->n_strings + 1, sizeof(char *))) {
        kc__free(s);
        return NULL;
    }
    l->strings[l->n_strings++] = s;
    return s;
}

/* "<group>/<name>" (a single '/' after the root). Returns kc__malloc'd. */
static char *child_path(const char *group, const char *name)
{
    size_t n = strlen(group) + strlen(name) + 2;
    char *s = kc__malloc(n);
    if (s) snprintf(s, n, "%s%s%s", group, strcmp(group, "/") == 0 ? "" : "/", name);
    return s;
}

static const char *dtype_name(kc__h5_class cls, size_t size, bool is_signed)
{
    if (cls == KC__H5_FLOAT) {
        switch (size) {
        case 2: return "float16";
        case 4: return "float32";
        case 8: return "float64";
        default: return "other";
        }
    }
    if (cls == KC__H5_INT) {
        switch (size) {
        case 1: return is_signed ? "int8" : "uint8";
        case 2: return is_signed ? "int16" : "uint16";
        case 4: return is_signed ? "int32" : "uint32";
        case 8: return is_signed ? "int64" : "uint64";
        default: return "other";
        }
    }
    return "other";
}

/* Describe dataset `path` (listed as `name` by layer group `layer`) and
 * append it to l. */
static kc_status add_weight(kc__h5 *h, listing *l, const char *layer, const char *name, const char *path,
                            kc_error *err)
{
    if (l->n_weights >= KC__H5_MAX_LIST)
        return kc__errf(err, KC_ELIMIT, "the file lists more than %zu weights", (size_t)KC__H5_MAX_LIST);
    kc_h5file_weight w = {.layer = layer};
    kc__h5_class cls;
    size_t elem = 0;
    bool is_signed = true;
    kc_status rc = kc__h5_dataset_describe(h, path, &w.ndim, w.dims, &cls, &elem, &is_signed, err);
    if (rc != KC_OK) {
        kc__error_context(err, "weight '%s' of layer '%s'", name, layer[0] ? layer : "(optimizer)");
        return rc;
    }
    w.size = 1;
    for (int d = 0; d < w.ndim; d++) {
        if (w.dims[d] != 0 && w.size > INT64_MAX / w.dims[d])
            return kc__errf(err, KC_ELIMIT, "dataset '%s' declares too many elements", path);
        w.size *= w.dims[d];
    }
    if (elem > 1 && w.size > INT64_MAX / (int64_t)elem)
        return kc__errf(err, KC_ELIMIT, "dataset '%s' declares too many bytes", path);
    w.nbytes = w.size * (int64_t)elem;
    w.dtype = dtype_name(cls, elem, is_signed);
    if (!(w.name = keep(l, kc__strdup(name))) || !(w.path = keep(l, kc__strdup(path))) ||
        !kc__grow((void **)&l->weights, &l->cap_weights, l->n_weights + 1, sizeof(w)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    l->weights[l->n_weights++] = w;
    return KC_OK;
}

/* The weights named by attribute weight_names of group g (required unless
 * `optional`), as datasets of layer `layer`. */
static kc_status add_group_weights(kc__h5 *h, listing *l, const char *layer, const char *g, bool optional,
                                   kc_error *err)
{
    char **names = NULL;
    size_t n = 0;
    bool present = false;
    kc_status rc = kc__read_name_list(h, g, "weight_names", &names, &n, &present, err);
    if (rc == KC_OK && !present && !optional) rc = kc__errf(err, KC_EFORMAT, "group '%s' has no weight_names", g);
    for (size_t i = 0; rc == KC_OK && i < n; i++) {
        char *dp = child_path(g, names[i]);
        rc = dp ? add_weight(h, l, layer, names[i], dp, err) : kc__errf(err, KC_ENOMEM, "out of memory");
        kc__free(dp);
    }
    kc__free_strings(names, n);
    return rc;
}

/* A listing is kept when complete; a failed one is dropped (and named). */
static kc_status finish(kc_h5file *f, listing *l, kc_status rc, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    if (rc != KC_OK) {
        listing_free(l);
        kc__error_context(err, "%s", kc__short_path(f->path, shortp));
        return rc;
    }
    l->done = true;
    return KC_OK;
}

/* Say why layer group lg is not a group: missing, a link, a dataset. */
static kc_status missing_group(kc__h5 *h, const char *name, const char *lg, kc_error *err)
{
    kc_error why = {0};
    char **items = NULL;
    size_t n = 0;
    if (kc__h5_list_group(h, lg, &items, &n, &why) == KC_OK) kc__free_strings(items, n);
    return kc__errf(err, KC_EFORMAT, "layer_names lists '%s' but there is no group '%s'%s%s", name, lg,
                    why.message[0] ? ": " : "", why.message);
}

/* ---- Keras 3's weights tree ------------------------------------------------------------------- */

static kc_status add_layer(listing *l, const char *name, size_t first, kc_error *err)
{
    if (!kc__grow((void **)&l->layers, &l->cap_layers, l->n_layers + 1, sizeof(kc_h5file_layer)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    l->layers[l->n_layers++] = (kc_h5file_layer){.name = name, .first_weight = first,
                                                  .n_weights = l->n_weights - first};
    return KC_OK;
}

/* The datasets 0 .. n-1 of a vars group g, named "vars/<i>". */
static kc_status add_vars_group(kc__h5 *h, listing *l, const char *layer, const char *g, kc_error *err)
{
    char **names = NULL;
    size_t n = 0;
    kc_status rc = kc__h5_list_group(h, g, &names, &n, err);
    kc__free_strings(names, n);
    for (size_t i = 0; rc == KC_OK && i < n; i++) {
        char dp[4200], name[32];
        snprintf(dp, sizeof dp, "%s/%zu", g, i);
        snprintf(name, sizeof name, "vars/%zu", i);
        rc = kc__h5_exists(h, dp) ? add_weight(h, l, layer, name, dp, err)
                                  : kc__errf(err, KC_EFORMAT, "'%s' holds %zu entries but no dataset '%zu'", g, n, i);
    }
    return rc;
}

/* As stored: every "<owner>/vars" group (but the optimizer's) is a layer
 * group named by its owner's path, depth first in HDF5's order. */
static kc_status walk_raw(kc_h5file *f, const char *group, int depth, kc_error *err)
{
    listing *l = &f->tree;
    if (depth > 64) return kc__errf(err, KC_ELIMIT, "the weights tree is nested more than 64 deep at '%s'", group);
    char **names = NULL;
    size_t n = 0;
    kc_status rc = kc__h5_list_group(f->h, group, &names, &n, err);
    for (size_t i = 0; rc == KC_OK && i < n; i++) {
        char *p = child_path(group, names[i]);
        if (!p) {
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
            break;
        }
        if (kc__h5_is_group(f->h, p) && !(depth == 0 && strcmp(names[i], "optimizer") == 0)) {
            if (strcmp(names[i], "vars") == 0) {
                const char *owner = group[1] ? keep(l, kc__strdup(group + 1)) : "(model)";
                size_t first = l->n_weights;
                rc = owner ? add_vars_group(f->h, l, owner, p, err) : kc__errf(err, KC_ENOMEM, "out of memory");
                if (rc == KC_OK) rc = add_layer(l, owner, first, err);
            } else {
                rc = walk_raw(f, p, depth + 1, err);
            }
        }
        kc__free(p);
    }
    kc__free_strings(names, n);
    return rc;
}

/* As the legacy tree: the model built from config.json places every
 * variable (L1-L6); each model.layers entry is a layer group, each weight
 * has its Keras 2 name. *built false (KC_OK) when the config does not
 * build with the classes at hand. */
static kc_status list_by_model(kc_h5file *f, bool *built, kc_error *err)
{
    *built = false;
    json_t *cfg = f->config ? json_deep_copy(f->config) : NULL;
    kc_object *model = NULL;
    kc_error ignore = {0};
    if (cfg) kc__model_from_json(cfg, "config.json", NULL, kc__load_budget(NULL, f->file_bytes), true, &model, &ignore);
    json_decref(cfg);
    kc__k3_layout lay;
    if (!model || kc__keras3_layout(model, &lay, &ignore) != KC_OK) {
        kc_object_unref(model);
        return KC_OK;
    }
    *built = true;
    listing *l = &f->tree;
    kc_status rc = KC_OK;
    int n = kc_model_num_layers(model);
    for (int k = -1; rc == KC_OK && k < n; k++) { /* k = -1: the model's own variables */
        const char *lname = k < 0 ? "" : kc_layer_name(kc_model_layer(model, k));
        const char *kept = k < 0 ? "top_level_model_weights" : keep(l, kc__strdup(lname));
        size_t first = l->n_weights;
        if (!kept) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        for (size_t o = 0; rc == KC_OK && o < lay.n; o++) {
            const kc__k3_object *ob = &lay.objects[o];
            if (strcmp(ob->layer, lname) != 0 || ob->n_vars == 0) continue;
            bool oom;
            char *g = kc__keras3_find_vars(f->h, ob->path, &oom);
            if (!g) rc = oom ? kc__errf(err, KC_ENOMEM, "out of memory")
                             : kc__errf(err, KC_EFORMAT, "the weights of '%s' (layer '%s') are missing: no group '%s/vars'",
                                        ob->path, ob->layer, ob->path);
            for (int v = 0; rc == KC_OK && v < ob->n_vars; v++) {
                char dp[4200];
                snprintf(dp, sizeof dp, "%s/%d", g, v);
                rc = add_weight(f->h, l, kept, kc_variable_name(ob->vars[v]), dp, err);
            }
            kc__free(g);
        }
        if (rc == KC_OK && (k >= 0 || l->n_weights > first)) rc = add_layer(l, kept, first, err);
    }
    kc__keras3_layout_free(&lay);
    kc_object_unref(model);
    return rc;
}

static kc_status list_keras3(kc_h5file *f, kc_error *err)
{
    bool built;
    kc_status rc = list_by_model(f, &built, err);
    if (rc == KC_OK && !built) rc = walk_raw(f, "/", 0, err);
    return finish(f, &f->tree, rc, err);
}

static kc_status list_tree(kc_h5file *f, kc_error *err)
{
    listing *l = &f->tree;
    if (f->keras3) return list_keras3(f, err);
    if (!f->wgroup) {
        l->done = true;
        return KC_OK;
    }
    const char *g = f->wgroup;
    char **names = NULL;
    size_t n = 0;
    bool present = false;
    kc_status rc = kc__read_name_list(f->h, g, "layer_names", &names, &n, &present, err);
    if (rc == KC_OK && !present)
        rc = kc__errf(err, KC_EFORMAT, "'%s' has no layer_names: not a Keras weights tree", g);
    bool top_listed = false;
    for (size_t i = 0; rc == KC_OK && i < n; i++) top_listed |= strcmp(names[i], "top_level_model_weights") == 0;
    char *top = rc == KC_OK ? child_path(g, "top_level_model_weights") : NULL;
    if (rc == KC_OK && !top) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    bool has_top = top && !top_listed && kc__h5_is_group(f->h, top);
    size_t n_groups = n + (has_top ? 1 : 0);
    if (rc == KC_OK && !(l->layers = kc__calloc(n_groups + 1, sizeof(kc_h5file_layer))))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    for (size_t i = 0; rc == KC_OK && i < n_groups; i++) {
        bool is_top = i == n;
        const char *name = is_top ? "top_level_model_weights" : keep(l, names[i]);
        if (!is_top) names[i] = NULL; /* kept */
        char *lg = name ? child_path(g, name) : NULL;
        if (!lg) {
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
            break;
        }
        size_t first = l->n_weights;
        if (!is_top && !kc__h5_is_group(f->h, lg))
            rc = missing_group(f->h, name, lg, err);
        else
            rc = add_group_weights(f->h, l, name, lg, is_top, err);
        kc__free(lg);
        /* tf.keras writes an empty top_level_model_weights: it is no layer */
        if (is_top && l->n_weights == first) break;
        l->layers[l->n_layers++] = (kc_h5file_layer){.name = name, .first_weight = first,
                                                      .n_weights = l->n_weights - first};
    }
    kc__free(top);
    kc__free_strings(names, n);
    return finish(f, l, rc, err);
}

static kc_status list_optimizer(kc_h5file *f, kc_error *err)
{
    listing *l = &f->opt;
    kc_status rc = KC_OK;
    if (f->keras3) { /* O3: optimizer/vars/0, 1, ...; 0 is the iteration count */
        char **names = NULL;
        size_t n = 0;
        if (kc__h5_is_group(f->h, "/optimizer/vars")) rc = kc__h5_list_group(f->h, "/optimizer/vars", &names, &n, err);
        for (size_t i = 0; rc == KC_OK && i < n; i++) {
            char dp[64], name[32];
            snprintf(dp, sizeof dp, "/optimizer/vars/%zu", i);
            snprintf(name, sizeof name, i == 0 ? "iteration" : "vars/%zu", i);
            rc = kc__h5_exists(f->h, dp) ? add_weight(f->h, l, "", name, dp, err)
                                         : kc__errf(err, KC_EFORMAT, "/optimizer/vars has no dataset '%zu'", i);
        }
        kc__free_strings(names, n);
        return finish(f, l, rc, err);
    }
    if (f->content == KC_H5FILE_MODEL && kc__h5_is_group(f->h, "/optimizer_weights"))
        rc = add_group_weights(f->h, l, "", "/optimizer_weights", true, err);
    return finish(f, l, rc, err);
}

/* ---- opening --------------------------------------------------------------------------------- */

/* Attribute `name` of obj, or NULL (absent). */
static kc_status opt_string(kc__h5 *h, const char *obj, const char *name, char **out, kc_error *err)
{
    bool present;
    return kc__h5_read_attr_string(h, obj, name, out, &present, err);
}

/* An archive: config.json, metadata.json's version, model.weights.h5. */
static kc_status open_archive(kc_h5file *f, int64_t file_bytes, kc_error *err)
{
    kc__archive a;
    kc_status rc = kc__archive_open(f->path, true, kc__archive_weights_limit(kc__load_budget(NULL, file_bytes)), &a, err);
    if (rc == KC_OK) {
        f->h = a.weights, a.weights = NULL;
        f->config = a.config, a.config = NULL;
        f->keras_version = a.keras_version, a.keras_version = NULL;
        f->content = KC_H5FILE_MODEL;
        f->format = "keras";
        f->keras3 = true;
        f->wgroup = "/";
        const json_t *cc = json_object_get(f->config, "compile_config");
        if (json_is_object(cc)) {
            char *opt = kc__archive_optimizer_name(f->h);
            f->training = kc__keras3_training_config(cc, opt, err);
            kc__free(opt);
            if (!f->training) rc = kc__error_code(err, KC_ENOMEM);
        }
    }
    kc__archive_close(&a);
    return rc;
}

static kc_status open_h5(kc_h5file *f, kc_error *err)
{
    kc__h5 *h = kc__h5_open_read(f->path, err);
    if (!h) return kc__error_code(err, KC_EFORMAT);
    f->h = h;
    f->format = "h5";
    kc_status rc = KC_OK;
    if (kc__h5_has_attr(h, "/", "model_config")) {
        f->content = KC_H5FILE_MODEL;
        f->wgroup = kc__h5_is_group(h, "/model_weights") ? "/model_weights" : NULL;
    } else if (kc__h5_has_attr(h, "/", "layer_names") || kc__h5_has_attr(h, "/", "layer_names0")) {
        f->content = KC_H5FILE_WEIGHTS;
        f->wgroup = "/";
    } else if (kc__keras3_is_weights_tree(h)) {
        f->content = KC_H5FILE_WEIGHTS;
        f->format = "weights.h5";
        f->keras3 = true;
        f->wgroup = "/";
        return KC_OK;
    } else {
        return kc__errf(err, KC_EFORMAT,
                        "HDF5 but not a Keras file: the root has neither model_config (a model) nor layer_names "
                        "(weights) nor a Keras 3 weights tree");
    }
    rc = opt_string(h, "/", "keras_version", &f->keras_version, err);
    if (rc == KC_OK) rc = opt_string(h, "/", "backend", &f->backend, err);
    if (rc == KC_OK && !f->keras_version && f->wgroup)
        rc = opt_string(h, f->wgroup, "keras_version", &f->keras_version, err);
    if (rc == KC_OK && !f->backend && f->wgroup) rc = opt_string(h, f->wgroup, "backend", &f->backend, err);
    return rc;
}

kc_h5file *kc_h5file_open(const char *path, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    int fd;
    int64_t size = 0;
    kc_status rc = kc__open_regular(path, &fd, &size, err);
    if (rc != KC_OK) {
        kc__error_context(err, "%s", kc__short_path(path, shortp));
        return NULL;
    }
    unsigned char head[4] = {0};
    ssize_t got = read(fd, head, sizeof head);
    close(fd);
    kc_h5file *f = kc__calloc(1, sizeof(*f));
    if (!f || !(f->path = kc__strdup(path))) {
        kc__free(f);
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    f->file_bytes = size;
    bool zip = got == 4 && head[0] == 'P' && head[1] == 'K' && ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6));
    rc = zip ? open_archive(f, size, err) : open_h5(f, err);
    if (rc != KC_OK) {
        kc_h5file_close(f);
        kc__error_context(err, "%s", kc__short_path(path, shortp));
        return NULL;
    }
    return f;
}

void kc_h5file_close(kc_h5file *f)
{
    if (!f) return;
    kc__h5_close(f->h, NULL); /* read-only: closing cannot lose data */
    listing_free(&f->tree);
    listing_free(&f->opt);
    json_decref(f->config);
    json_decref(f->training);
    kc__free(f->keras_version);
    kc__free(f->backend);
    kc__free(f->path);
    kc__free(f);
}

const char *kc_h5file_path(const kc_h5file *f) { return f->path; }
kc_h5file_content kc_h5file_contents(const kc_h5file *f) { return f->content; }
const char *kc_h5file_keras_version(const kc_h5file *f) { return f->keras_version; }
const char *kc_h5file_backend(const kc_h5file *f) { return f->backend; }
const char *kc_h5file_weights_group(const kc_h5file *f) { return f->wgroup; }
const char *kc_h5file_format(const kc_h5file *f) { return f->format; }

kc_status kc_h5file_attr_json(kc_h5file *f, const char *name, json_t **out, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    *out = NULL;
    if (!name || !name[0]) return kc__errf(err, KC_EINVAL, "kc_h5file_attr_json: no attribute name");
    if (strcmp(f->format, "h5") != 0) { /* archives: config.json and compile_config */
        const json_t *v = strcmp(name, "model_config") == 0 ? f->config
                        : strcmp(name, "training_config") == 0 ? f->training : NULL;
        if (v && !(*out = json_deep_copy(v))) return kc__errf(err, KC_ENOMEM, "out of memory");
        return KC_OK;
    }
    char *text = NULL;
    bool present;
    kc_status rc = kc__h5_read_attr_string(f->h, "/", name, &text, &present, err);
    if (rc == KC_OK && present) {
        *out = kc_json_parse(text, strlen(text), MAX_JSON_DEPTH, err);
        if (!*out) {
            rc = kc__error_code(err, KC_EFORMAT);
            kc__error_context(err, "attribute '%s'", name);
        }
    }
    kc__free(text);
    if (rc != KC_OK) kc__error_context(err, "%s", kc__short_path(f->path, shortp));
    return rc;
}

/* ---- listings ---------------------------------------------------------------------------------- */

kc_status kc_h5file_layers(kc_h5file *f, const kc_h5file_layer **layers, size_t *n, kc_error *err)
{
    *layers = NULL;
    *n = 0;
    kc_status rc = f->tree.done ? KC_OK : list_tree(f, err);
    if (rc != KC_OK) return rc;
    *layers = f->tree.layers;
    *n = f->tree.n_layers;
    return KC_OK;
}

kc_status kc_h5file_weights(kc_h5file *f, const kc_h5file_weight **weights, size_t *n, kc_error *err)
{
    *weights = NULL;
    *n = 0;
    kc_status rc = f->tree.done ? KC_OK : list_tree(f, err);
    if (rc != KC_OK) return rc;
    *weights = f->tree.weights;
    *n = f->tree.n_weights;
    return KC_OK;
}

kc_status kc_h5file_optimizer_weights(kc_h5file *f, const kc_h5file_weight **weights, size_t *n, kc_error *err)
{
    *weights = NULL;
    *n = 0;
    kc_status rc = f->opt.done ? KC_OK : list_optimizer(f, err);
    if (rc != KC_OK) return rc;
    *weights = f->opt.weights;
    *n = f->opt.n_weights;
    return KC_OK;
}

const kc_h5file_weight *kc_h5file_find_weight(kc_h5file *f, const char *layer, const char *name)
{
    if (!layer || !name || (!f->tree.done && list_tree(f, NULL) != KC_OK)) return NULL;
    for (size_t i = 0; i < f->tree.n_weights; i++) {
        const kc_h5file_weight *w = &f->tree.weights[i];
        if (strcmp(w->layer, layer) == 0 && strcmp(w->name, name) == 0) return w;
    }
    return NULL;
}

/* ---- values -------------------------------------------------------------------------------------- */

kc_status kc_h5file_read(kc_h5file *f, const kc_h5file_weight *w, kc_tensor **out, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    *out = NULL;
    if (!w) return kc__errf(err, KC_EINVAL, "kc_h5file_read: no weight");
    bool is_float = strncmp(w->dtype, "float", 5) == 0;
    bool is_int = strncmp(w->dtype, "int", 3) == 0 || strncmp(w->dtype, "uint", 4) == 0;
    kc_status rc = KC_OK;
    int64_t budget = 16 * f->file_bytes > MIN_READ_BUDGET ? 16 * f->file_bytes : MIN_READ_BUDGET;
    int64_t elem = is_float ? 4 : 8;
    if (!is_float && !is_int)
        rc = kc__errf(err, KC_EFORMAT, "dataset '%s' does not hold numbers (%s)", w->path, w->dtype);
    else if (w->size > budget / elem)
        rc = kc__errf(err, KC_ELIMIT, "dataset '%s' declares %lld values, more than the file could hold",
                      w->path, (long long)w->size);
    kc_tensor *t = NULL;
    if (rc == KC_OK && !(t = kc_tensor_empty(is_float ? KC_FLOAT32 : KC_INT64, w->ndim, w->dims, err)))
        rc = kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK)
        rc = is_float ? kc__h5_read_f32(f->h, w->path, kc_tensor_f32(t), w->size, err)
                      : kc__h5_read_i64(f->h, w->path, kc_tensor_data(t), w->size, err);
    if (rc != KC_OK) {
        kc_tensor_unref(t);
        kc__error_context(err, "%s", kc__short_path(f->path, shortp));
        return rc;
    }
    *out = t;
    return KC_OK;
}
