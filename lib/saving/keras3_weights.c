/* The Keras 3 weights tree in an HDF5 file: a .weights.h5 (save_weights)
 * or a .keras archive's model.weights.h5 (doc/keras3-format.md, W1-W5).
 *
 *   /vars                       the model's own variables (attribute name)
 *   /layers/<group>/vars/0, 1   each layer's (keras3_layout.c says where)
 *   /optimizer/vars/0, 1, ...   the optimizer's, in Keras 3's order
 *
 * Loading builds the list of objects from the model and reads each one's
 * "vars" group: as Keras' load_own_variables, the group must hold exactly
 * as many datasets as the object has variables, each of the variable's
 * shape; everything is checked before the first value is read, so a model
 * is never half loaded. Groups for objects the model does not have are
 * ignored, as Keras ignores them. Files written by Keras 2.13-2.15 on
 * Windows join paths with backslashes, and Keras 2.13 wrote its container
 * as "_layer_checkpoint_dependencies": both are read (W4). */
#include "keras3.h"

#include <string.h>

bool kc__keras3_is_weights_tree(kc__h5 *h)
{
    return kc__h5_is_group(h, "/layers") || kc__h5_is_group(h, "/vars") ||
           kc__h5_is_group(h, "/_layer_checkpoint_dependencies");
}

static void warnf(const kc_weights_options *o, const char *fmt, ...) KC_PRINTF(2, 3);
static void warnf(const kc_weights_options *o, const char *fmt, ...)
{
    if (!o || !o->warn) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o->warn(o->warn_user, msg);
}

/* "/<path>/vars" (root: "/vars"), kc__malloc'd. */
static char *vars_group(const char *path)
{
    size_t n = strlen(path) + 8;
    char *s = kc__malloc(n);
    if (s) snprintf(s, n, "%s%s/vars", path[0] ? "/" : "", path);
    return s;
}

char *kc__keras3_find_vars(kc__h5 *h, const char *path, bool *oom)
{
    char *g = vars_group(path);
    *oom = !g;
    if (!g || kc__h5_is_group(h, g)) return g;
    kc__free(g);
    static const char k3[] = "layers", k213[] = "_layer_checkpoint_dependencies";
    size_t n = strlen(path) + sizeof k213 + 8;
    char *alt = kc__malloc(n);
    if (!alt) {
        *oom = true;
        return NULL;
    }
    if (strncmp(path, k3, sizeof k3 - 1) == 0 && (path[sizeof k3 - 1] == '/' || !path[sizeof k3 - 1])) {
        snprintf(alt, n, "/%s%s/vars", k213, path + sizeof k3 - 1);
        if (kc__h5_is_group(h, alt)) return alt;
    }
    snprintf(alt, n, "/%s/vars", path);
    for (char *p = alt + 1; *p && strcmp(p, "/vars") != 0; p++)
        if (*p == '/') *p = '\\';
    if (path[0] && kc__h5_is_group(h, alt)) return alt;
    kc__free(alt);
    return NULL;
}

static const char *shape_text(int nd, const int64_t *d, char *buf, size_t n)
{
    kc_shape s = kc_shape_make(nd, d);
    return kc_shape_format(&s, buf, n);
}

/* Check one object's stored variables against the model's (no values
 * read). *skip: skip_mismatch said to leave it alone. */
static kc_status check_object(kc__h5 *h, const kc__k3_object *ob, const char *g, const kc_weights_options *o,
                              bool *skip, kc_error *err)
{
    *skip = false;
    bool tolerant = o && o->skip_mismatch;
    char **names = NULL;
    size_t n = 0;
    kc_status rc = g ? kc__h5_list_group(h, g, &names, &n, err) : KC_OK;
    if (rc != KC_OK) return rc;
    if ((int)n != ob->n_vars) {
        kc__free_strings(names, n);
        if (tolerant) {
            warnf(o, "skipped '%s' (layer '%s'): %d variables in the model, %zu in the file", ob->path, ob->name,
                  ob->n_vars, n);
            *skip = true;
            return KC_OK;
        }
        return kc__errf(err, KC_ESHAPE, "'%s' (layer '%s') expects %d variables, the file has %zu%s", ob->path[0] ? ob->path : "the model",
                        ob->name, ob->n_vars, n, g ? "" : " (no vars group)");
    }
    kc__free_strings(names, n);
    for (int i = 0; i < ob->n_vars; i++) {
        char dp[4200];
        snprintf(dp, sizeof dp, "%s/%d", g, i);
        int nd;
        int64_t dims[KC_MAX_DIMS];
        kc__h5_class cls;
        rc = kc__h5_dataset_info(h, dp, &nd, dims, &cls, err);
        if (rc != KC_OK) {
            kc__error_context(err, "weight '%s'", kc_variable_name(ob->vars[i]));
            return rc;
        }
        const kc_tensor *t = kc_variable_value(ob->vars[i]);
        if (cls == KC__H5_OTHER) return kc__errf(err, KC_EFORMAT, "dataset '%s' does not hold numbers", dp);
        if (kc_tensor_dtype(t) != KC_FLOAT32 && kc_tensor_dtype(t) != KC_INT64)
            return kc__errf(err, KC_ETYPE, "weight '%s' is %s; Keras 3 files hold float32 and int64 variables",
                            kc_variable_name(ob->vars[i]), kc_dtype_name(kc_tensor_dtype(t)));
        bool same = nd == kc_tensor_ndim(t);
        for (int d = 0; same && d < nd; d++) same = dims[d] == kc_tensor_dims(t)[d];
        if (!same) {
            char a[160], b[160];
            shape_text(kc_tensor_ndim(t), kc_tensor_dims(t), a, sizeof a);
            shape_text(nd, dims, b, sizeof b);
            if (tolerant) {
                warnf(o, "skipped '%s' (layer '%s'): weight '%s' has shape %s in the model, %s in the file", ob->path,
                      ob->name, kc_variable_name(ob->vars[i]), a, b);
                *skip = true;
                return KC_OK;
            }
            return kc__errf(err, KC_ESHAPE, "Shape mismatch in '%s' (layer '%s'), weight '%s': the model has %s, the "
                            "file %s", dp, ob->name, kc_variable_name(ob->vars[i]), a, b);
        }
    }
    return KC_OK;
}

static kc_status read_object(kc__h5 *h, const kc__k3_object *ob, const char *g, kc_error *err)
{
    for (int i = 0; i < ob->n_vars; i++) {
        char dp[4200];
        snprintf(dp, sizeof dp, "%s/%d", g, i);
        kc_tensor *t = kc_variable_value(ob->vars[i]);
        /* W5: float variables, and integer ones (Normalization's count);
         * float ones straight into the variable (kc__h5_read_weight: an
         * isolated load reads their bytes in the parent) */
        kc_status rc = kc_tensor_dtype(t) == KC_INT64 ? kc__h5_read_i64(h, dp, kc_tensor_data(t), kc_tensor_size(t), err)
                                                      : kc__h5_read_weight(h, dp, kc_tensor_f32(t), kc_tensor_size(t), err);
        if (rc != KC_OK) {
            kc__error_context(err, "weight '%s'", kc_variable_name(ob->vars[i]));
            return rc;
        }
    }
    return KC_OK;
}

kc_status kc__keras3_read_weights(kc__h5 *h, kc_object *model, const kc_weights_options *o, kc_error *err)
{
    if (o && o->by_name)
        return kc__errf(err, KC_EUNSUPPORTED, "by_name applies to the legacy .h5 layout: a Keras 3 weights file "
                        "places each variable by the layer's position in the model");
    kc__k3_layout l;
    kc_status rc = kc__keras3_layout(model, &l, err);
    if (rc != KC_OK) return rc;
    char **groups = kc__calloc(l.n + 1, sizeof(char *));
    bool *skip = kc__calloc(l.n + 1, sizeof(bool));
    if (!groups || !skip) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    for (size_t i = 0; rc == KC_OK && i < l.n; i++) {
        bool oom;
        groups[i] = kc__keras3_find_vars(h, l.objects[i].path, &oom);
        if (oom) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        else if (!groups[i] && l.objects[i].n_vars == 0) skip[i] = true; /* nothing to read, nothing stored */
        else rc = check_object(h, &l.objects[i], groups[i], o, &skip[i], err);
    }
    for (size_t i = 0; rc == KC_OK && i < l.n; i++)
        if (!skip[i]) rc = read_object(h, &l.objects[i], groups[i], err);
    for (size_t i = 0; groups && i < l.n; i++) kc__free(groups[i]);
    kc__free(groups);
    kc__free(skip);
    kc__keras3_layout_free(&l);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------------------- */

static kc_status write_group(kc__h5 *h, const char *g, const char *name, kc_tensor *const *values, int n,
                             kc_error *err)
{
    kc_status rc = kc__h5_create_group(h, g, err);
    /* h5py stores a Python str attribute as a variable-length UTF-8 string */
    if (rc == KC_OK && name && name[0]) rc = kc__h5_write_attr_string(h, g, "name", name, true, err);
    for (int i = 0; rc == KC_OK && i < n; i++) {
        char dp[4200];
        snprintf(dp, sizeof dp, "%s/%d", g, i);
        const kc_tensor *t = values[i];
        rc = kc__h5_write(h, dp, kc_tensor_dtype(t), kc_tensor_ndim(t), kc_tensor_dims(t), kc_tensor_cdata(t), err);
    }
    return rc;
}

static kc_status write_optimizer(kc__h5 *h, kc_object *opt, kc_error *err)
{
    kc_tensor **w;
    int n;
    kc_status rc = kc__optimizer_keras3_weights(opt, &w, &n, err);
    if (rc != KC_OK || n == 0) return rc;
    const kc_optimizer *o = (const kc_optimizer *)opt;
    rc = write_group(h, "/optimizer/vars", o->name, w, n, err);
    for (int i = 0; i < n; i++) kc_tensor_unref(w[i]);
    kc__free(w);
    if (rc != KC_OK) kc__error_context(err, "optimizer state");
    return rc;
}

kc_status kc__keras3_write_weights(kc__h5 *h, kc_object *model, bool with_optimizer, kc_error *err)
{
    kc__k3_layout l;
    kc_status rc = kc__keras3_layout(model, &l, err);
    if (rc != KC_OK) return rc;
    for (size_t i = 0; rc == KC_OK && i < l.n; i++) {
        const kc__k3_object *ob = &l.objects[i];
        char *g = vars_group(ob->path);
        kc_tensor **values = kc__calloc((size_t)ob->n_vars + 1, sizeof(kc_tensor *));
        if (!g || !values) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        for (int k = 0; rc == KC_OK && k < ob->n_vars; k++) values[k] = kc_variable_value(ob->vars[k]);
        if (rc == KC_OK) rc = write_group(h, g, ob->name, values, ob->n_vars, err);
        if (rc != KC_OK && g) kc__error_context(err, "%s", g);
        kc__free(g);
        kc__free(values);
    }
    kc__keras3_layout_free(&l);
    kc_object *opt = kc_model_optimizer(model);
    if (rc == KC_OK && with_optimizer && opt) rc = write_optimizer(h, opt, err);
    return rc;
}

/* ---- the optimizer's variables ------------------------------------------------------------------ */

kc_status kc__keras3_restore_optimizer(kc__h5 *h, kc_object *model, const char *keras_version, int64_t budget,
                                       kc_error *err)
{
    char **names = NULL;
    size_t n = 0;
    kc_status rc = kc__h5_list_group(h, "/optimizer/vars", &names, &n, err);
    if (rc != KC_OK) return rc;
    kc__opt_source src = {.h = h, .n = n, .keras_version = keras_version,
                          .layout = keras_version && keras_version[0] == '2' ? KC__OPT_TF211 : KC__OPT_KERAS3};
    src.paths = kc__calloc(n + 1, sizeof(char *));
    if (!src.paths) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    /* datasets 0 .. n-1, whatever order HDF5 lists them in */
    for (size_t i = 0; rc == KC_OK && i < n; i++) {
        char dp[64];
        snprintf(dp, sizeof dp, "/optimizer/vars/%zu", i);
        if (!kc__h5_exists(h, dp))
            rc = kc__errf(err, KC_EFORMAT, "/optimizer/vars holds %zu entries but no dataset '%zu'", n, i);
        else if (!(src.paths[i] = kc__strdup(dp)))
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
    }
    if (rc == KC_OK) rc = kc__optimizer_restore(model, &src, budget, err);
    kc__free_strings(src.paths, src.paths ? n : 0);
    kc__free_strings(names, n);
    return rc;
}
