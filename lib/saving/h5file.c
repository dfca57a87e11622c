/* Read-only inspection of Keras .h5 files (include/ckeras/h5file.h).
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
 * not kept, so asking again reports the same error. */
#define _POSIX_C_SOURCE 200809L
#include "saving_int.h"

#include <ckeras/h5file.h>

#include <string.h>
#include <sys/stat.h>

#define MAX_JSON_DEPTH 512
/* reads larger than this and 16 x the file are refused (see kc_h5file_read) */
#define MIN_READ_BUDGET ((int64_t)64 << 20)

/* One listing: weights with their strings, and for the weights tree the
 * layer groups. */
typedef struct listing {
    bool done;
    kc_h5file_layer *layers;
    size_t n_layers;
    kc_h5file_weight *weights;
    size_t n_weights, cap_weights;
    char **strings; /* every string the entries point to, owned here */
    size_t n_strings, cap_strings;
} listing;

struct kc_h5file {
    kc__h5 *h;
    char *path;
    kc_h5file_content content;
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

static kc_status list_tree(kc_h5file *f, kc_error *err)
{
    listing *l = &f->tree;
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

kc_h5file *kc_h5file_open(const char *path, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    kc__h5 *h = kc__h5_open_read(path, err);
    if (!h) {
        kc__error_context(err, "%s", kc__short_path(path, shortp));
        return NULL;
    }
    kc_h5file *f = kc__calloc(1, sizeof(*f));
    kc_status rc = KC_OK;
    if (!f || !(f->path = kc__strdup(path))) {
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
        goto out;
    }
    f->h = h;
    struct stat st;
    f->file_bytes = stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
    if (kc__h5_has_attr(h, "/", "model_config")) {
        f->content = KC_H5FILE_MODEL;
        f->wgroup = kc__h5_is_group(h, "/model_weights") ? "/model_weights" : NULL;
    } else if (kc__h5_has_attr(h, "/", "layer_names") || kc__h5_has_attr(h, "/", "layer_names0")) {
        f->content = KC_H5FILE_WEIGHTS;
        f->wgroup = "/";
    } else {
        rc = kc__errf(err, KC_EFORMAT,
                      "HDF5 but not a Keras file: the root has neither model_config (a model) nor layer_names (weights)");
        goto out;
    }
    rc = opt_string(h, "/", "keras_version", &f->keras_version, err);
    if (rc == KC_OK) rc = opt_string(h, "/", "backend", &f->backend, err);
    if (rc == KC_OK && !f->keras_version && f->wgroup)
        rc = opt_string(h, f->wgroup, "keras_version", &f->keras_version, err);
    if (rc == KC_OK && !f->backend && f->wgroup) rc = opt_string(h, f->wgroup, "backend", &f->backend, err);
out:
    if (rc != KC_OK) {
        if (f) f->h = NULL;
        kc_h5file_close(f);
        kc__h5_close(h, NULL);
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

kc_status kc_h5file_attr_json(kc_h5file *f, const char *name, json_t **out, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    *out = NULL;
    if (!name || !name[0]) return kc__errf(err, KC_EINVAL, "kc_h5file_attr_json: no attribute name");
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
