/* Saving: the Keras 2 legacy HDF5 layout, written atomically.
 *
 *   /                      keras_version, backend, model_config[, training_config]
 *   /model_weights         layer_names (split past 64512 bytes), backend, keras_version
 *   /model_weights/<layer> weight_names, and a dataset at each name
 *   /model_weights/top_level_model_weights   (empty, as tf.keras >= 2.7)
 *   /optimizer_weights     weight_names + datasets (compiled models)
 * Attributes are fixed-length NULLPAD ASCII strings (old Keras with h5py 3
 * reads those too); model_config and training_config switch to variable
 * length past 60 KiB, where fixed strings no longer fit an object header.
 * Weights are written straight from the tensors' buffers.
 *
 * Atomicity: everything goes to "<path>.tmp-<pid>-<n>" in the same folder,
 * which is flushed, fsync'ed and renamed over path (then the folder is
 * fsync'ed). Any failure removes the temporary file and leaves an existing
 * file at path untouched; the temporary of a save that was killed is
 * removed by the next save of the same path (stale_temporaries.c). */
#define _POSIX_C_SOURCE 200809L
#include "keras3.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_VERSION "2.15.0"
#define FIXED_LIMIT (60u << 10)

int kc__file_layer_count(const kc_object *model) { return kc_model_num_layers(model); }
kc_object *kc__file_layer(const kc_object *model, int i) { return kc_model_layer(model, i); }

kc_status kc__write_name_list(kc__h5 *h, const char *obj, const char *name, char *const *items, size_t n,
                              kc_error *err)
{
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(items[i]);
        if (l > KC__H5_HEADER_LIMIT)
            return kc__errf(err, KC_ELIMIT, "the name '%.40s...' (%zu bytes) is longer than HDF5 attributes allow", items[i], l);
        if (l > maxlen) maxlen = l;
    }
    /* Keras: the fewest parts (numpy.array_split) of at most 64512 bytes */
    size_t k = 1;
    while (maxlen && ((n + k - 1) / k) * maxlen > KC__H5_HEADER_LIMIT) k++;
    if (k == 1) return kc__h5_write_attr_strings(h, obj, name, items, n, err);
    size_t start = 0;
    for (size_t part = 0; part < k; part++) {
        size_t len = n / k + (part < n % k ? 1 : 0);
        char pname[256];
        snprintf(pname, sizeof(pname), "%s%zu", name, part);
        kc_status rc = kc__h5_write_attr_strings(h, obj, pname, items + start, len, err);
        if (rc != KC_OK) return rc;
        start += len;
    }
    return KC_OK;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = kc__malloc(n);
    if (s) snprintf(s, n, "%s%s%s", a, (a[0] && a[strlen(a) - 1] == '/') ? "" : "/", b);
    return s;
}

kc_status kc__write_weights_tree(kc__h5 *h, const char *g, kc_object *model, const char *version, kc_error *err)
{
    kc_status rc = strcmp(g, "/") ? kc__h5_create_group(h, g, err) : KC_OK;
    int nl = kc__file_layer_count(model);
    char **names = kc__calloc((size_t)nl + 1, sizeof(char *));
    if (!names) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; i < nl; i++) names[i] = (char *)kc_layer_name(kc__file_layer(model, i));
    if (rc == KC_OK) rc = kc__write_name_list(h, g, "layer_names", names, (size_t)nl, err);
    kc__free(names);
    if (rc == KC_OK) rc = kc__h5_write_attr_string(h, g, "backend", "tensorflow", false, err);
    if (rc == KC_OK) rc = kc__h5_write_attr_string(h, g, "keras_version", version, false, err);
    for (int i = 0; rc == KC_OK && i < nl; i++) {
        kc_object *layer = kc__file_layer(model, i);
        char *lg = join(g, kc_layer_name(layer));
        int nw = kc_layer_num_weights(layer);
        char **wn = kc__calloc((size_t)nw + 1, sizeof(char *));
        if (!lg || !wn) {
            kc__free(lg);
            kc__free(wn);
            return kc__errf(err, KC_ENOMEM, "out of memory");
        }
        rc = kc__h5_create_group(h, lg, err);
        for (int w = 0; rc == KC_OK && w < nw; w++) {
            wn[w] = (char *)kc_variable_name(kc_layer_weight(layer, w));
            for (int q = 0; q < w; q++)
                if (!strcmp(wn[q], wn[w]))
                    rc = kc__errf(err, KC_EINVAL, "layer '%s' has two weights named '%s'", kc_layer_name(layer), wn[w]);
        }
        if (rc == KC_OK) rc = kc__write_name_list(h, lg, "weight_names", wn, (size_t)nw, err);
        for (int w = 0; rc == KC_OK && w < nw; w++) {
            kc_tensor *v = kc_variable_value(kc_layer_weight(layer, w));
            char *dp = join(lg, wn[w]);
            if (!dp) rc = kc__errf(err, KC_ENOMEM, "out of memory");
            else rc = kc__h5_write(h, dp, KC_FLOAT32, kc_tensor_ndim(v), kc_tensor_dims(v), kc_tensor_cdata(v), err);
            kc__free(dp);
        }
        if (rc != KC_OK) kc__error_context(err, "layer '%s'", kc_layer_name(layer));
        kc__free(lg);
        kc__free(wn);
    }
    if (rc == KC_OK) {
        char *tl = join(g, "top_level_model_weights");
        rc = tl ? kc__h5_create_group(h, tl, err) : kc__errf(err, KC_ENOMEM, "out of memory");
        if (rc == KC_OK) rc = kc__write_name_list(h, tl, "weight_names", NULL, 0, err);
        kc__free(tl);
    }
    return rc;
}

static kc_status write_optimizer(kc__h5 *h, kc_object *opt, kc_error *err)
{
    int n = kc_optimizer_num_weights(opt);
    if (n == 0) return KC_OK; /* not built (never stepped): Keras writes no optimizer_weights */
    kc_status rc = kc__h5_create_group(h, "/optimizer_weights", err);
    char **names = kc__calloc((size_t)n, sizeof(char *));
    if (!names) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; rc == KC_OK && i < n; i++) {
        char name[1024];
        kc_tensor *t = kc_optimizer_weight(opt, i, name, sizeof(name));
        if (!t) {
            rc = kc__errf(err, KC_EINTERNAL, "optimizer weight %d is missing", i);
            break;
        }
        names[i] = kc__strdup(name);
        char *dp = names[i] ? join("/optimizer_weights", name) : NULL;
        if (!dp) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        else rc = kc__h5_write(h, dp, kc_tensor_dtype(t), kc_tensor_ndim(t), kc_tensor_dims(t), kc_tensor_cdata(t), err);
        kc__free(dp);
    }
    if (rc == KC_OK) rc = kc__write_name_list(h, "/optimizer_weights", "weight_names", names, (size_t)n, err);
    for (int i = 0; i < n; i++) kc__free(names[i]);
    kc__free(names);
    if (rc != KC_OK) kc__error_context(err, "optimizer state");
    return rc;
}

kc_status kc__model_config_json(kc_object *model, json_t **out, kc_error *err)
{
    json_t *cfg = NULL, *build_config = NULL;
    kc_status rc = kc_serialize(model, &cfg, err);
    /* a subclassed model carries the shapes it was built for (Keras 3's
     * build_config), so a loader can create its weights before any call */
    if (rc == KC_OK) rc = kc__model_build_config(model, &build_config, err);
    if (rc == KC_OK && build_config && json_object_set_new(cfg, "build_config", build_config))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc != KC_OK) {
        json_decref(cfg);
        cfg = NULL;
    }
    *out = cfg;
    return rc;
}

static kc_status write_json_attr(kc__h5 *h, const char *name, const json_t *j, kc_error *err)
{
    char *text = kc_json_dump(j, err);
    if (!text) return kc__error_code(err, KC_ENOMEM);
    kc_status rc = kc__h5_write_attr_string(h, "/", name, text, strlen(text) > FIXED_LIMIT, err);
    kc_json_free(text);
    return rc;
}

/* ---- atomic files ---------------------------------------------------------------- */

static kc_status fsync_path(const char *path, bool dir, kc_error *err)
{
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    char shortp[KC__SHORT_PATH];
    if (fd < 0) return kc__errf(err, KC_EIO, "cannot open '%s' to sync it: %s", kc__short_path(path, shortp), strerror(errno));
    int r = fsync(fd);
    int e = errno;
    close(fd);
    if (r != 0 && !(dir && (e == EINVAL || e == EBADF)))
        return kc__errf(err, KC_EIO, "cannot sync '%s': %s", kc__short_path(path, shortp), strerror(e));
    return KC_OK;
}

void kc__save_temp_name(const char *path, char *buf, size_t size)
{
    static unsigned long counter;
    unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    kc__remove_stale_temporaries(path);
    snprintf(buf, size, "%s.tmp-%ld-%lu", path, (long)getpid(), n);
}

kc_status kc__save_commit(const char *tmp, const char *path, bool sync, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    kc_status rc = sync ? fsync_path(tmp, false, err) : KC_OK;
    if (rc == KC_OK && rename(tmp, path) != 0)
        rc = kc__errf(err, KC_EIO, "cannot replace '%s': %s", kc__short_path(path, shortp), strerror(errno));
    if (rc == KC_OK && sync) {
        char *dir = kc__strdup(path);
        if (dir) {
            char *slash = strrchr(dir, '/');
            if (slash == dir) slash[1] = '\0';
            else if (slash) *slash = '\0';
            else strcpy(dir, ".");
            rc = fsync_path(dir, true, err);
            kc__free(dir);
        }
    }
    return rc;
}

typedef kc_status (*write_fn)(kc__h5 *h, kc_object *model, const kc_save_options *o, const char *version, kc_error *err);

static kc_status save_atomic(kc_object *model, const char *path, const kc_save_options *o, write_fn fn, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    if (!kc_is_model(model)) return kc__errf(err, KC_EINVAL, "only models can be saved (got '%s')", model ? kc_object_name(model) : "NULL");
    if (!path || !*path) return kc__errf(err, KC_EINVAL, "no file path given");
    kc_status rc = kc_init(err);
    if (rc != KC_OK) return rc;
    size_t n = strlen(path) + 64;
    char *tmp = kc__malloc(n);
    if (!tmp) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc__h5 *h = NULL;
    for (int attempt = 0; attempt < 100 && !h; attempt++) {
        kc__save_temp_name(path, tmp, n);
        if (access(tmp, F_OK) == 0) continue;
        h = kc__h5_create(tmp, err);
        if (!h) break;
    }
    if (!h) {
        kc__error_context(err, "saving '%s'", kc__short_path(path, shortp));
        kc__free(tmp);
        return kc__error_code(err, KC_EIO);
    }
    const char *version = o && o->keras_version ? o->keras_version : DEFAULT_VERSION;
    rc = fn(h, model, o, version, err);
    kc_status crc = kc__h5_close(h, err);
    if (rc == KC_OK) rc = crc;
    if (rc == KC_OK) rc = kc__save_commit(tmp, path, !(o && o->no_sync), err);
    if (rc != KC_OK) {
        remove(tmp); /* the previous file at path, if any, is untouched */
        kc__error_context(err, "saving '%s'", kc__short_path(path, shortp));
    }
    kc__free(tmp);
    return rc;
}

/* Reserve what the file will take (weights + optimizer state + configs +
 * per-object metadata, generously): a full disk then fails before HDF5
 * has anything it cannot flush. */
static int64_t file_bytes(kc_object *model, bool with_opt, size_t text_bytes)
{
    int64_t bytes = (64 << 10) + 4 * (int64_t)text_bytes;
    int n = kc_layer_num_weights(model);
    for (int i = 0; i < n; i++) bytes += (int64_t)kc_tensor_nbytes(kc_variable_value(kc_layer_weight(model, i))) + 8192;
    bytes += 8192 * (int64_t)kc__file_layer_count(model);
    kc_object *opt = with_opt ? kc_model_optimizer(model) : NULL;
    for (int i = 0; opt && i < kc_optimizer_num_weights(opt); i++) {
        char name[8];
        bytes += (int64_t)kc_tensor_nbytes(kc_optimizer_weight(opt, i, name, sizeof name)) + 8192;
    }
    return bytes;
}

static kc_status reserve(kc__h5 *h, kc_object *model, bool with_opt, size_t text_bytes, kc_error *err)
{
    return kc__h5_reserve(h, file_bytes(model, with_opt, text_bytes), err);
}

/* The configs' text, measured as write_model writes them. */
static size_t config_bytes(kc_object *model, bool with_opt)
{
    json_t *cfg = NULL, *tc = NULL;
    kc_error ignored = {0};
    size_t n = 0;
    if (kc_serialize(model, &cfg, &ignored) == KC_OK) n += json_dumpb(cfg, NULL, 0, 0);
    if (with_opt && kc_model_training_config(model, &tc, &ignored) == KC_OK && tc) n += json_dumpb(tc, NULL, 0, 0);
    json_decref(cfg);
    json_decref(tc);
    return n;
}

int64_t kc__model_save_size(kc_object *model, bool weights_only, const kc_save_options *o)
{
    bool with_opt = !weights_only && !(o && o->exclude_optimizer) && kc_model_is_compiled(model);
    return file_bytes(model, with_opt, weights_only ? 0 : config_bytes(model, with_opt));
}

static kc_status write_model(kc__h5 *h, kc_object *model, const kc_save_options *o, const char *version, kc_error *err)
{
    json_t *cfg = NULL, *tc = NULL;
    kc_status rc = kc__model_config_json(model, &cfg, err);
    bool with_opt = !(o && o->exclude_optimizer) && kc_model_is_compiled(model);
    if (rc == KC_OK && with_opt) rc = kc_model_training_config(model, &tc, err);
    if (rc == KC_OK)
        rc = reserve(h, model, with_opt, json_dumpb(cfg, NULL, 0, 0) + (tc ? json_dumpb(tc, NULL, 0, 0) : 0), err);
    if (rc == KC_OK) rc = kc__h5_write_attr_string(h, "/", "keras_version", version, false, err);
    if (rc == KC_OK) rc = kc__h5_write_attr_string(h, "/", "backend", "tensorflow", false, err);
    if (rc == KC_OK) rc = write_json_attr(h, "model_config", cfg, err);
    if (rc == KC_OK && tc) rc = write_json_attr(h, "training_config", tc, err);
    if (rc == KC_OK) rc = kc__write_weights_tree(h, "/model_weights", model, version, err);
    if (rc == KC_OK && with_opt) rc = write_optimizer(h, kc_model_optimizer(model), err);
    json_decref(cfg);
    json_decref(tc);
    return rc;
}

static kc_status write_weights_only(kc__h5 *h, kc_object *model, const kc_save_options *o, const char *version,
                                    kc_error *err)
{
    (void)o;
    kc_status rc = reserve(h, model, false, 0, err);
    return rc == KC_OK ? kc__write_weights_tree(h, "/", model, version, err) : rc;
}

kc_status kc__model_write(kc__h5 *h, kc_object *model, const kc_save_options *opts, bool weights_only, kc_error *err)
{
    const char *version = opts && opts->keras_version ? opts->keras_version : DEFAULT_VERSION;
    return (weights_only ? write_weights_only : write_model)(h, model, opts, version, err);
}

/* Keras 3's save_weights: the weights tree at the root, and a compiled
 * model's optimizer state (W1-W3). */
static kc_status write_keras3_weights(kc__h5 *h, kc_object *model, const kc_save_options *o, const char *version,
                                      kc_error *err)
{
    (void)version;
    bool with_opt = !(o && o->exclude_optimizer) && kc_model_is_compiled(model);
    kc_status rc = reserve(h, model, with_opt, 0, err);
    return rc == KC_OK ? kc__keras3_write_weights(h, model, with_opt, err) : rc;
}

kc_status kc__h5_save(kc_object *model, const char *path, const kc_save_options *opts, kc_error *err)
{
    return save_atomic(model, path, opts, write_model, err);
}

kc_status kc__h5_save_weights(kc_object *model, const char *path, const kc_save_options *opts, kc_error *err)
{
    return save_atomic(model, path, opts, write_weights_only, err);
}

kc_status kc__keras3_save_weights(kc_object *model, const char *path, const kc_save_options *opts, kc_error *err)
{
    return save_atomic(model, path, opts, write_keras3_weights, err);
}
