/* The .keras archive (doc/keras3-format.md, A1-A6): a zip of
 *
 *   metadata.json      {"keras_version", "date_saved"}
 *   config.json        the model in Keras 3's config dialect (keras3_config.c)
 *   model.weights.h5   the Keras 3 weights tree (keras3_weights.c)
 *
 * Loading is Keras' load_model: the config builds the model, the weights
 * fill it, compile_config compiles it and optimizer/vars restores the
 * optimizer. The archive is untrusted (zip_archive.c checks its directory);
 * here every entry is read into memory with a bound set before anything is
 * allocated -- config.json as large as an .h5 file's model_config may be,
 * model.weights.h5 as large as the load's weight budget allows with
 * optimizer state -- and the weights file is opened in place from memory,
 * never extracted under a name taken from the archive. What Keras 3 itself
 * refuses is refused here with a named error: no config.json, no
 * model.weights.h5 (or the .npz weights ckeras does not read).
 *
 * Saving writes the three entries as Keras does (stored, in that order),
 * the weights file built in memory, into a temporary archive beside the
 * target that is renamed over it once complete. */
#define _POSIX_C_SOURCE 200809L
#include "keras3.h"
#include "zip_archive.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONFIG_JSON "config.json"
#define METADATA_JSON "metadata.json"
#define WEIGHTS_H5 "model.weights.h5"
#define MAX_JSON_DEPTH 512
#define MAX_CONFIG ((int64_t)KC__H5_MAX_STRING) /* an .h5 model_config's bound */
#define MAX_METADATA ((int64_t)1 << 20)
#define DEFAULT_VERSION "3.10.0"

typedef kc__archive archive;

void kc__archive_close(kc__archive *a)
{
    kc__zip_close(a->z);
    json_decref(a->config);
    kc__free(a->keras_version);
    kc__h5_close(a->weights, NULL);
    memset(a, 0, sizeof(*a));
}

static kc_status read_json(archive *a, const char *name, int64_t max, json_t **out, kc_error *err)
{
    void *text;
    size_t n;
    *out = NULL;
    kc_status rc = kc__zip_read(a->z, name, max, &text, &n, err);
    if (rc != KC_OK) return rc;
    *out = kc_json_parse(text, n, MAX_JSON_DEPTH, err);
    kc__free(text);
    if (!*out) {
        kc__error_context(err, "%s", name);
        return kc__error_code(err, KC_EFORMAT);
    }
    return KC_OK;
}

kc_status kc__archive_open(const char *path, bool want_config, int64_t max_weights, kc__archive *a, kc_error *err)
{
    memset(a, 0, sizeof(*a));
    int fd;
    kc_status rc = kc__open_regular(path, &fd, &a->file_bytes, err);
    if (rc != KC_OK) return rc;
    if (!(a->z = kc__zip_open_fd(fd, path, err))) return kc__error_code(err, KC_EFORMAT);
    if (!kc__zip_find(a->z, CONFIG_JSON, NULL, NULL))
        return kc__errf(err, KC_EFORMAT, "a zip archive without config.json is not a Keras model archive (.keras)");
    int64_t size, stored;
    if (!kc__zip_find(a->z, WEIGHTS_H5, &size, &stored)) {
        if (kc__zip_find(a->z, "model.weights.npz", NULL, NULL))
            return kc__errf(err, KC_EUNSUPPORTED, "the archive keeps its weights as model.weights.npz (Keras' npz "
                            "format); ckeras reads model.weights.h5");
        return kc__errf(err, KC_EFORMAT, "the archive has no model.weights.h5: it holds no weights");
    }
    if (stored > max_weights)
        return kc__errf(err, KC_ELIMIT, "model.weights.h5 is stored in %lld bytes, over the load's budget of %lld "
                        "bytes (see max_weight_bytes)", (long long)stored, (long long)max_weights);
    if (want_config) {
        rc = read_json(a, CONFIG_JSON, MAX_CONFIG, &a->config, err);
        if (rc != KC_OK) return rc;
    }
    json_t *meta = NULL;
    rc = read_json(a, METADATA_JSON, MAX_METADATA, &meta, err);
    if (rc == KC_ENOTFOUND) rc = KC_OK; /* Keras does not need it either */
    const char *v = json_string_value(json_object_get(meta, "keras_version"));
    if (rc == KC_OK && v && !(a->keras_version = kc__strdup(v))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    json_decref(meta);
    if (rc != KC_OK) return rc;
    void *image;
    size_t n;
    rc = kc__zip_read(a->z, WEIGHTS_H5, max_weights, &image, &n, err);
    if (rc != KC_OK) return rc;
    char label[4200];
    snprintf(label, sizeof label, "%s: %s", path, WEIGHTS_H5);
    a->weights = kc__h5_open_image(image, n, label, err);
    return a->weights ? KC_OK : kc__error_code(err, KC_EFORMAT);
}

int64_t kc__archive_weights_limit(int64_t weight_budget)
{
    return weight_budget > INT64_MAX / 8 ? INT64_MAX / 2 : 4 * weight_budget + ((int64_t)4 << 20);
}

char *kc__archive_optimizer_name(kc__h5 *h)
{
    char *name = NULL;
    bool present;
    if (kc__h5_is_group(h, "/optimizer/vars") &&
        kc__h5_read_attr_string(h, "/optimizer/vars", "name", &name, &present, NULL) != KC_OK)
        name = NULL;
    return name;
}

static kc_status compile_from_archive(kc_object *model, archive *a, const kc_load_options *o, int64_t budget,
                                      kc_error *err)
{
    const json_t *cc = json_object_get(a->config, "compile_config");
    if (!json_is_object(cc)) return KC_OK; /* not compiled when saved */
    char *opt_name = kc__archive_optimizer_name(a->weights);
    json_t *spec = kc__keras3_compile_spec(cc, opt_name, err);
    kc__free(opt_name);
    kc_status rc = spec ? kc_model_compile_json(model, spec, o ? o->custom_objects : NULL, err)
                        : kc__error_code(err, KC_ENOMEM);
    json_decref(spec);
    if (rc != KC_OK) {
        kc__error_context(err, "config.json: compile_config");
        return rc;
    }
    if (kc__h5_is_group(a->weights, "/optimizer/vars")) {
        kc_error werr = {0};
        if (kc__keras3_restore_optimizer(a->weights, model, a->keras_version, budget, &werr) != KC_OK)
            kc__warn_optimizer_not_restored(o ? o->warn : NULL, o ? o->warn_user : NULL, &werr);
    }
    return KC_OK;
}

kc_object *kc__keras_archive_load(const char *path, const kc_load_options *o, kc_error *err)
{
    archive a;
    int64_t size = 0;
    int fd;
    /* the budget depends on the file's size: look before opening the archive */
    kc_status rc = kc__open_regular(path, &fd, &size, err);
    if (rc != KC_OK) return NULL;
    close(fd);
    int64_t budget = kc__load_budget(o, size);
    rc = kc__archive_open(path, true, kc__archive_weights_limit(budget), &a, err);
    kc_object *model = NULL;
    if (rc == KC_OK) rc = kc__model_from_json(a.config, "config.json", o, budget, true, &model, err);
    if (rc == KC_OK) {
        rc = kc__keras3_read_weights(a.weights, model, NULL, err);
        if (rc != KC_OK) kc__error_context(err, "%s", WEIGHTS_H5);
    }
    if (rc == KC_OK && !(o && o->no_compile)) {
        int64_t used = 0;
        for (int i = 0; i < kc_layer_num_weights(model); i++)
            used += (int64_t)kc_tensor_nbytes(kc_variable_value(kc_layer_weight(model, i)));
        rc = compile_from_archive(model, &a, o, budget - used, err);
    }
    kc__archive_close(&a);
    if (rc != KC_OK) {
        kc_object_unref(model);
        return NULL;
    }
    return model;
}

kc_status kc__keras_archive_load_weights(kc_object *model, const char *path, const kc_weights_options *o,
                                         kc_error *err)
{
    int64_t bytes = 0;
    for (int i = 0; i < kc_layer_num_weights(model); i++)
        bytes += (int64_t)kc_tensor_nbytes(kc_variable_value(kc_layer_weight(model, i)));
    archive a;
    kc_status rc = kc__archive_open(path, false, kc__archive_weights_limit(bytes), &a, err);
    if (rc == KC_OK) rc = kc__keras3_read_weights(a.weights, model, o, err);
    if (rc == KC_OK && kc_model_optimizer(model) && kc__h5_is_group(a.weights, "/optimizer/vars")) {
        kc_error werr = {0};
        if (kc__keras3_restore_optimizer(a.weights, model, a.keras_version, -1, &werr) != KC_OK)
            kc__warn_optimizer_not_restored(o ? o->warn : NULL, o ? o->warn_user : NULL, &werr);
    }
    kc__archive_close(&a);
    return rc;
}

/* ---- saving -------------------------------------------------------------------------------------- */

/* {"keras_version": ..., "date_saved": "2025-01-03@12:42:26"}, as Keras. */
static char *metadata_text(const char *version, kc_error *err)
{
    char date[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm)) strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", &tm);
    json_t *m = json_pack("{s:s, s:s}", "keras_version", version, "date_saved", date);
    char *text = m ? kc_json_dump(m, err) : NULL;
    json_decref(m);
    if (!text) kc__errf(err, KC_ENOMEM, "out of memory");
    return text;
}

/* The three entries into a new archive at tmp (which must not exist). */
static kc_status write_archive(const char *tmp, const char *meta, const char *config, const void *weights, size_t n,
                               kc_error *err)
{
    kc__zip *z = kc__zip_create(tmp, err);
    if (!z) return kc__error_code(err, KC_EIO);
    kc_status rc = kc__zip_add(z, METADATA_JSON, meta, strlen(meta), err);
    if (rc == KC_OK) rc = kc__zip_add(z, CONFIG_JSON, config, strlen(config), err);
    if (rc == KC_OK) rc = kc__zip_add(z, WEIGHTS_H5, weights, n, err);
    if (rc != KC_OK) {
        kc__zip_discard(z);
        return rc;
    }
    return kc__zip_commit(z, err);
}

kc_status kc__keras_archive_save(kc_object *model, const char *path, const kc_save_options *o, kc_error *err)
{
    if (!kc_is_model(model))
        return kc__errf(err, KC_EINVAL, "only models can be saved (got '%s')", model ? kc_object_name(model) : "NULL");
    if (!path || !*path) return kc__errf(err, KC_EINVAL, "no file path given");
    kc_status rc = kc_init(err);
    if (rc != KC_OK) return rc;
    bool with_opt = !(o && o->exclude_optimizer) && kc_model_is_compiled(model);
    json_t *cfg = kc__keras3_model_json(model, with_opt, err);
    char *config = cfg ? kc_json_dump(cfg, err) : NULL;
    json_decref(cfg);
    char *meta = config ? metadata_text(o && o->keras_version ? o->keras_version : DEFAULT_VERSION, err) : NULL;
    void *weights = NULL;
    size_t n = 0;
    if (!meta) rc = kc__error_code(err, KC_ENOMEM);
    kc__h5 *h = NULL;
    if (rc == KC_OK && !(h = kc__h5_create_image(WEIGHTS_H5, err))) rc = kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK) {
        rc = kc__keras3_write_weights(h, model, with_opt, err);
        if (rc == KC_OK) rc = kc__h5_close_image(h, &weights, &n, err);
        else kc__h5_close(h, NULL);
    }
    char tmp[4200];
    bool written = false;
    for (int attempt = 0; rc == KC_OK && !written && attempt < 100; attempt++) {
        kc__save_temp_name(path, tmp, sizeof tmp);
        if (access(tmp, F_OK) == 0) continue;
        rc = write_archive(tmp, meta, config, weights, n, err);
        written = rc == KC_OK;
    }
    if (rc == KC_OK && !written) rc = kc__errf(err, KC_EIO, "cannot find a free temporary name beside '%s'", path);
    if (rc == KC_OK) rc = kc__save_commit(tmp, path, !(o && o->no_sync), err);
    if (rc != KC_OK && written) remove(tmp); /* the previous file at path, if any, is untouched */
    kc__free(weights);
    kc_json_free(meta);
    kc_json_free(config);
    if (rc != KC_OK) kc__error_context(err, "saving '%s'", path);
    return rc;
}
