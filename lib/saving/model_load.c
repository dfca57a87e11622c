/* Loading Keras HDF5 files: whole models and weights.
 *
 * A whole model: model_config (Keras 2 or 3 JSON; Keras 1 translated
 * first) builds the model, /model_weights fills it, training_config
 * compiles it and /optimizer_weights restores the optimizer (a failure
 * there is a warning, as in Keras). Weights are matched by position, as
 * Keras does (spec §3.2): the model's layers that have weights pair with
 * the file's layers whose weight_names is not empty, in order; names are
 * never compared. by_name loading pairs layers by name instead.
 *
 * Every dataset's shape is checked against the weight it fills before it is
 * read, and each is read straight into the weight's buffer (HDF5 converts
 * float64 / float16 / integers to float32 on the way). Layers with a
 * convert_weights hook (Keras 1 and Theano layouts) get the stored arrays
 * first and hand back their own weights. */
#define _POSIX_C_SOURCE 200809L
#include "keras3.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_JSON_DEPTH 512

static void warnf(kc_warning_fn fn, void *user, const char *fmt, ...) KC_PRINTF(3, 4);
static void warnf(kc_warning_fn fn, void *user, const char *fmt, ...)
{
    if (!fn) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fn(user, msg);
}

kc_status kc__read_name_list(kc__h5 *h, const char *obj, const char *name, char ***items, size_t *n,
                             bool *present, kc_error *err)
{
    kc_status rc = kc__h5_read_attr_strings(h, obj, name, items, n, present, err);
    if (rc != KC_OK || *present) return rc;
    /* split lists: name0, name1, ... until the first missing one */
    char **all = NULL;
    size_t total = 0;
    for (int part = 0;; part++) {
        char pname[256];
        snprintf(pname, sizeof(pname), "%s%d", name, part);
        char **p;
        size_t pn;
        bool pp;
        rc = kc__h5_read_attr_strings(h, obj, pname, &p, &pn, &pp, err);
        if (rc != KC_OK) {
            kc__free_strings(all, total);
            return rc;
        }
        if (!pp) break;
        if (total + pn > KC__H5_MAX_LIST) {
            kc__free_strings(p, pn);
            kc__free_strings(all, total);
            return kc__errf(err, KC_ELIMIT, "'%s' of '%s' lists too many names", name, obj);
        }
        char **grown = kc__realloc(all, total * sizeof(char *), (total + pn + 1) * sizeof(char *));
        if (!grown) {
            kc__free_strings(p, pn);
            kc__free_strings(all, total);
            return kc__errf(err, KC_ENOMEM, "out of memory");
        }
        all = grown;
        memcpy(all + total, p, pn * sizeof(char *));
        total += pn;
        kc__free(p);
        *present = true;
    }
    *items = all;
    *n = total;
    return KC_OK;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = kc__malloc(n);
    if (s) snprintf(s, n, "%s%s%s", a, (a[0] && a[strlen(a) - 1] == '/') ? "" : "/", b);
    return s;
}

/* ---- weights ---------------------------------------------------------------------------- */

typedef struct file_layer {
    char *name;
    char **wnames;
    size_t n_w;
} file_layer;

typedef struct weights_file {
    const char *g;       /* the weights tree's group */
    file_layer *layers;  /* layers with at least one weight, in layer_names order */
    size_t n;
    char *version, *backend;
} weights_file;

static void wf_free(weights_file *wf)
{
    for (size_t i = 0; i < wf->n; i++) {
        kc__free(wf->layers[i].name);
        kc__free_strings(wf->layers[i].wnames, wf->layers[i].n_w);
    }
    kc__free(wf->layers);
    kc__free(wf->version);
    kc__free(wf->backend);
}

static kc_status wf_read(kc__h5 *h, const char *g, weights_file *wf, kc_error *err)
{
    memset(wf, 0, sizeof(*wf));
    wf->g = g;
    char **names = NULL;
    size_t n = 0;
    bool present;
    kc_status rc = kc__read_name_list(h, g, "layer_names", &names, &n, &present, err);
    if (rc != KC_OK) return rc;
    if (!present) return kc__errf(err, KC_EFORMAT, "'%s' has no layer_names: not a Keras weights tree", g);
    wf->layers = kc__calloc(n + 1, sizeof(file_layer));
    if (!wf->layers) {
        kc__free_strings(names, n);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && rc == KC_OK; i++) {
        char *lg = join(g, names[i]);
        char **wn = NULL;
        size_t nw = 0;
        bool wp = false;
        if (!lg) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        else if (!kc__h5_is_group(h, lg))
            rc = kc__errf(err, KC_EFORMAT, "layer_names lists '%s' but group '%s' is missing", names[i], lg);
        else
            rc = kc__read_name_list(h, lg, "weight_names", &wn, &nw, &wp, err);
        if (rc == KC_OK && !wp) rc = kc__errf(err, KC_EFORMAT, "group '%s' has no weight_names", lg);
        kc__free(lg);
        if (rc != KC_OK) {
            kc__free_strings(wn, nw);
            break;
        }
        if (nw == 0) {
            kc__free_strings(wn, nw);
            continue;
        }
        wf->layers[wf->n].name = names[i];
        names[i] = NULL;
        wf->layers[wf->n].wnames = wn;
        wf->layers[wf->n].n_w = nw;
        wf->n++;
    }
    kc__free_strings(names, n);
    bool vp, bp;
    if (rc == KC_OK) rc = kc__h5_read_attr_string(h, g, "keras_version", &wf->version, &vp, err);
    if (rc == KC_OK) rc = kc__h5_read_attr_string(h, g, "backend", &wf->backend, &bp, err);
    if (rc == KC_OK && !wf->version) wf->version = kc__strdup("1"); /* Keras: a missing version means Keras 1 */
    if (rc == KC_OK && !wf->backend) wf->backend = kc__strdup("");
    if (rc == KC_OK && (!wf->version || !wf->backend)) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc != KC_OK) wf_free(wf);
    return rc;
}

static const char *shape_text(int nd, const int64_t *d, char *buf, size_t n)
{
    kc_shape s = kc_shape_make(nd, d);
    return kc_shape_format(&s, buf, n);
}

/* Fill layer from file layer fl. check_only: validate shapes, read nothing. */
static kc_status fill_layer(kc__h5 *h, const weights_file *wf, const file_layer *fl, kc_object *layer, int pos,
                            bool check_only, bool skip_mismatch, const kc_weights_options *o, kc_error *err)
{
    const kc_layer_methods *m = kc__layer_methods(layer);
    int nw = kc_layer_num_weights(layer);
    char *lg = join(wf->g, fl->name);
    if (!lg) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = KC_OK;
    if (m->convert_weights) {
        if (check_only) goto out; /* shapes are known only after conversion */
        kc_tensor *stored[KC_MAX_LAYER_WEIGHTS] = {0}, *conv[KC_MAX_LAYER_WEIGHTS] = {0};
        int n_conv = 0;
        if (fl->n_w > KC_MAX_LAYER_WEIGHTS) rc = kc__errf(err, KC_ELIMIT, "layer '%s' stores %zu arrays", fl->name, fl->n_w);
        for (size_t i = 0; rc == KC_OK && i < fl->n_w; i++) {
            char *dp = join(lg, fl->wnames[i]);
            int nd;
            int64_t dims[KC_MAX_DIMS];
            kc__h5_class cls;
            rc = dp ? kc__h5_dataset_info(h, dp, &nd, dims, &cls, err) : kc__errf(err, KC_ENOMEM, "out of memory");
            if (rc == KC_OK) {
                int64_t cnt = 1;
                for (int d = 0; d < nd; d++) cnt *= dims[d];
                int64_t have = 0;
                for (int w = 0; w < nw; w++) have += kc_tensor_size(kc_variable_value(kc_layer_weight(layer, w)));
                if (cnt > 4 * have + 1024) /* no conversion makes a layer 4x smaller */
                    rc = kc__errf(err, KC_ESHAPE, "dataset '%s' is far larger than layer '%s'", dp, kc_layer_name(layer));
            }
            if (rc == KC_OK && !(stored[i] = kc_tensor_empty(KC_FLOAT32, nd, dims, err))) rc = kc__error_code(err, KC_ENOMEM);
            if (rc == KC_OK) rc = kc__h5_read_f32(h, dp, kc_tensor_f32(stored[i]), kc_tensor_size(stored[i]), err);
            kc__free(dp);
        }
        if (rc == KC_OK)
            rc = m->convert_weights(layer, stored, (int)fl->n_w, wf->version, wf->backend, conv, &n_conv, err);
        kc_tensor *const *use = n_conv ? conv : stored;
        int n_use = n_conv ? n_conv : (int)fl->n_w;
        if (rc == KC_OK && n_use != nw)
            rc = kc__errf(err, KC_ESHAPE, "Weight count mismatch for layer #%d ('%s' in the model, '%s' in the file): the model has %d weights, the file %d",
                          pos, kc_layer_name(layer), fl->name, nw, n_use);
        for (int w = 0; rc == KC_OK && w < nw; w++) {
            kc_variable *v = kc_layer_weight(layer, w);
            if (!kc_tensor_same_shape(kc_variable_value(v), use[w])) {
                char a[160], b[160];
                kc_shape sa = kc_tensor_shape(kc_variable_value(v)), sb = kc_tensor_shape(use[w]);
                if (skip_mismatch) {
                    warnf(o ? o->warn : NULL, o ? o->warn_user : NULL, "skipped weight '%s' of layer '%s': shape %s in the model, %s in the file",
                          kc_variable_name(v), kc_layer_name(layer), kc_shape_format(&sa, a, sizeof(a)), kc_shape_format(&sb, b, sizeof(b)));
                    continue;
                }
                rc = kc__errf(err, KC_ESHAPE, "Shape mismatch in layer #%d ('%s'), weight '%s': the model has %s, the file %s",
                              pos, kc_layer_name(layer), kc_variable_name(v), kc_shape_format(&sa, a, sizeof(a)),
                              kc_shape_format(&sb, b, sizeof(b)));
            } else {
                rc = kc_variable_assign(v, use[w], err);
            }
        }
        for (int i = 0; i < KC_MAX_LAYER_WEIGHTS; i++) {
            kc_tensor_unref(stored[i]);
            kc_tensor_unref(conv[i]);
        }
        goto out;
    }
    if ((int)fl->n_w != nw) {
        rc = kc__errf(err, KC_ESHAPE, "Weight count mismatch for layer #%d ('%s' in the model, '%s' in the file): the model has %d weights, the file %zu",
                      pos, kc_layer_name(layer), fl->name, nw, fl->n_w);
        goto out;
    }
    for (int w = 0; rc == KC_OK && w < nw; w++) {
        kc_variable *v = kc_layer_weight(layer, w);
        kc_tensor *t = kc_variable_value(v);
        char *dp = join(lg, fl->wnames[w]);
        int nd;
        int64_t dims[KC_MAX_DIMS];
        kc__h5_class cls;
        if (!dp) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        /* the check pass saw every shape; the read checks the size again */
        if (rc == KC_OK && !check_only && !skip_mismatch) {
            rc = kc__h5_read_weight(h, dp, kc_tensor_f32(t), kc_tensor_size(t), err);
            if (rc != KC_OK) kc__error_context(err, "%s", dp);
            kc__free(dp);
            continue;
        }
        if (rc == KC_OK) rc = kc__h5_dataset_info(h, dp, &nd, dims, &cls, err);
        if (rc == KC_OK && cls == KC__H5_OTHER) rc = kc__errf(err, KC_EFORMAT, "dataset '%s' does not hold numbers", dp);
        if (rc == KC_OK) {
            bool same = nd == kc_tensor_ndim(t);
            for (int d = 0; same && d < nd; d++) same = dims[d] == kc_tensor_dims(t)[d];
            if (!same) {
                char a[160], b[160];
                if (skip_mismatch) {
                    if (check_only)
                        warnf(o ? o->warn : NULL, o ? o->warn_user : NULL,
                              "skipped weight '%s' of layer '%s': shape %s in the model, %s in the file", kc_variable_name(v),
                              kc_layer_name(layer), shape_text(kc_tensor_ndim(t), kc_tensor_dims(t), a, sizeof(a)),
                              shape_text(nd, dims, b, sizeof(b)));
                    kc__free(dp);
                    continue;
                }
                rc = kc__errf(err, KC_ESHAPE, "Shape mismatch in layer #%d ('%s'), weight '%s': the model has %s, the file %s",
                              pos, kc_layer_name(layer), kc_variable_name(v), shape_text(kc_tensor_ndim(t), kc_tensor_dims(t), a, sizeof(a)),
                              shape_text(nd, dims, b, sizeof(b)));
            }
        }
        if (rc == KC_OK && !check_only) rc = kc__h5_read_weight(h, dp, kc_tensor_f32(t), kc_tensor_size(t), err);
        if (rc != KC_OK && dp) kc__error_context(err, "%s", dp);
        kc__free(dp);
    }
out:
    kc__free(lg);
    return rc;
}

/* Model-side layers with weights, in model.layers order. */
static int model_layers_with_weights(kc_object *model, kc_object **out, int max)
{
    int n = 0;
    for (int i = 0; i < kc__file_layer_count(model); i++) {
        kc_object *l = kc__file_layer(model, i);
        if (kc_layer_num_weights(l) > 0 && n < max) out[n++] = l;
    }
    return n;
}

static kc_status load_tree(kc__h5 *h, const char *g, kc_object *model, const kc_weights_options *o, kc_error *err)
{
    weights_file wf;
    kc_status rc = wf_read(h, g, &wf, err);
    if (rc != KC_OK) return rc;
    bool by_name = o && o->by_name, skip = o && o->skip_mismatch;
    int nl = kc__file_layer_count(model);
    kc_object **ml = kc__calloc((size_t)nl + 1, sizeof(kc_object *));
    if (!ml) {
        wf_free(&wf);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    if (!by_name) {
        int n = model_layers_with_weights(model, ml, nl);
        if ((size_t)n != wf.n) {
            rc = kc__errf(err, KC_ESHAPE,
                          "Layer count mismatch: the model has %d layers with weights, the file %zu", n, wf.n);
        } else {
            /* check everything first, then read: no half-loaded model */
            for (int pass = 0; pass < 2 && rc == KC_OK; pass++)
                for (int i = 0; i < n && rc == KC_OK; i++)
                    rc = fill_layer(h, &wf, &wf.layers[i], ml[i], i, pass == 0, skip, o, err);
        }
    } else {
        for (int pass = 0; pass < 2 && rc == KC_OK; pass++) {
            for (size_t i = 0; i < wf.n && rc == KC_OK; i++) {
                for (int k = 0; k < nl && rc == KC_OK; k++) {
                    kc_object *layer = kc__file_layer(model, k);
                    if (strcmp(kc_layer_name(layer), wf.layers[i].name) != 0) continue;
                    if (!kc__layer_methods(layer)->convert_weights &&
                        (size_t)kc_layer_num_weights(layer) != wf.layers[i].n_w) {
                        if (skip) {
                            if (pass == 0)
                                warnf(o->warn, o->warn_user, "skipped layer '%s': %d weights in the model, %zu in the file",
                                      kc_layer_name(layer), kc_layer_num_weights(layer), wf.layers[i].n_w);
                            continue;
                        }
                        rc = kc__errf(err, KC_ESHAPE,
                                      "Weight count mismatch for layer '%s': the model has %d weights, the file %zu",
                                      kc_layer_name(layer), kc_layer_num_weights(layer), wf.layers[i].n_w);
                        break;
                    }
                    rc = fill_layer(h, &wf, &wf.layers[i], layer, (int)i, pass == 0, skip, o, err);
                }
            }
        }
    }
    kc__free(ml);
    wf_free(&wf);
    return rc;
}

/* ---- optimizer state ------------------------------------------------------------------------------ */

/* /optimizer_weights in whichever of the three layouts wrote it (O1-O3):
 * the names say which. */
static kc_status restore_optimizer(kc__h5 *h, kc_object *model, const char *version, int64_t budget, kc_error *err)
{
    char **names = NULL;
    size_t n = 0;
    bool present;
    kc_status rc = kc__read_name_list(h, "/optimizer_weights", "weight_names", &names, &n, &present, err);
    if (rc != KC_OK || !present || n == 0) {
        kc__free_strings(names, n);
        return rc;
    }
    kc__opt_source src = {.h = h, .n = n, .layout = kc__optimizer_layout_of(names, n), .keras_version = version};
    src.paths = kc__calloc(n, sizeof(char *));
    if (!src.paths) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    for (size_t i = 0; rc == KC_OK && i < n; i++)
        if (!(src.paths[i] = join("/optimizer_weights", names[i]))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc__optimizer_restore(model, &src, budget, err);
    kc__free_strings(src.paths, src.paths ? n : 0);
    kc__free_strings(names, n);
    return rc;
}

void kc__warn_optimizer_not_restored(kc_warning_fn warn, void *user, const kc_error *why)
{
    char buf[800];
    warnf(warn, user, "the optimizer state could not be restored, the optimizer starts fresh: %s",
          kc_error_format(why, buf, sizeof(buf)));
}

/* ---- entry points ----------------------------------------------------------------------------------- */

int64_t kc__load_budget(const kc_load_options *o, int64_t file_bytes)
{
    if (o && o->max_weight_bytes > 0) return o->max_weight_bytes;
    int64_t budget = file_bytes > INT64_MAX / 16 ? INT64_MAX : 16 * file_bytes;
    return budget < ((int64_t)64 << 20) ? (int64_t)64 << 20 : budget;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* Read and parse a JSON attribute of the root. */
static kc_status json_attr(kc__h5 *h, const char *name, json_t **out, bool *present, kc_error *err)
{
    char *text = NULL;
    *out = NULL;
    kc_status rc = kc__h5_read_attr_string(h, "/", name, &text, present, err);
    if (rc != KC_OK || !*present) return rc;
    *out = kc_json_parse(text, strlen(text), MAX_JSON_DEPTH, err);
    kc__free(text);
    if (!*out) {
        kc__error_context(err, "attribute '%s'", name);
        return kc__error_code(err, KC_EFORMAT);
    }
    return KC_OK;
}

kc_status kc__model_from_json(json_t *cfg, const char *where, const kc_load_options *o, int64_t budget,
                              bool weights_from_file, kc_object **out, kc_error *err)
{
    *out = NULL;
    if (!json_is_object(cfg) || !json_is_string(json_object_get(cfg, "class_name")))
        return kc__errf(err, KC_EFORMAT, "%s must be a JSON object with class_name and config", where);
    /* Keras <= 2.0 wrote a Sequential's config as the bare list of layers */
    json_t *inner = json_object_get(cfg, "config");
    if (json_is_array(inner)) {
        json_t *wrapped = json_pack("{s:O}", "layers", inner);
        if (!wrapped || json_object_set_new(cfg, "config", wrapped)) return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, where, o ? o->custom_objects : NULL);
    kc__weight_budget_set(budget);
    /* every weight the config creates is read from the file below (or the
     * load fails); a subclassed model's build runs it, so its weights are
     * initialized */
    kc__weights_from_file(weights_from_file);
    kc_object *model = NULL;
    kc_status rc = kc_deserialize(KC_KIND_MODEL, cfg, &ctx, &model, err);
    kc__weights_from_file(false);
    if (rc == KC_OK && !model) rc = kc__errf(err, KC_EFORMAT, "%s is null", where);
    if (rc == KC_OK && !kc_is_model(model)) rc = kc__errf(err, KC_EFORMAT, "%s does not describe a model", where);
    if (rc == KC_OK) rc = kc__model_build_from_config(model, json_object_get(cfg, "build_config"), &ctx, err);
    kc__weight_budget_set(-1);
    if (rc != KC_OK) {
        kc_object_unref(model);
        return rc;
    }
    *out = model;
    return KC_OK;
}

/* Bytes of the model's weights, against a budget. */
static int64_t weight_bytes(const kc_object *model)
{
    int64_t b = 0;
    for (int i = 0; i < kc_layer_num_weights(model); i++) b += (int64_t)kc_tensor_nbytes(kc_variable_value(kc_layer_weight(model, i)));
    return b;
}

kc_object *kc__h5_load(const char *path, const kc_load_options *o, kc_error *err)
{
    kc__h5 *h = kc__h5_open_read(path, err);
    if (!h) return NULL;
    kc_object *model = NULL;
    json_t *cfg = NULL, *tc = NULL;
    bool present;
    kc_status rc = json_attr(h, "model_config", &cfg, &present, err);
    if (rc == KC_OK && !present) {
        if (kc__h5_has_attr(h, "/", "layer_names") || kc__h5_has_attr(h, "/", "layer_names0"))
            rc = kc__errf(err, KC_EFORMAT, "the file holds only weights (save_weights): build the model and use kc_model_load_weights");
        else if (kc__keras3_is_weights_tree(h))
            rc = kc__errf(err, KC_EFORMAT, "the file holds only weights (Keras 3 save_weights, .weights.h5): build the "
                          "model and use kc_model_load_weights");
        else
            rc = kc__errf(err, KC_EFORMAT, "HDF5 but not a Keras model file: the root attribute model_config is missing");
    }
    char *version = NULL;
    if (rc == KC_OK) rc = kc__h5_read_attr_string(h, "/", "keras_version", &version, &present, err);
    if (rc == KC_OK && !version && kc__h5_is_group(h, "/model_weights"))
        rc = kc__h5_read_attr_string(h, "/model_weights", "keras_version", &version, &present, err);
    if (rc == KC_OK && version && version[0] == '1' && json_is_object(cfg)) rc = kc__keras1_translate(cfg, err);
    int64_t budget = kc__load_budget(o, file_size(path));
    if (rc == KC_OK)
        rc = kc__model_from_json(cfg, "model_config", o, budget, kc__h5_is_group(h, "/model_weights"), &model, err);
    if (rc == KC_OK) {
        if (kc__h5_is_group(h, "/model_weights"))
            rc = load_tree(h, "/model_weights", model, NULL, err);
        else if (kc_layer_num_weights(model) > 0)
            rc = kc__errf(err, KC_EFORMAT, "the file has no /model_weights group, the model has weights");
    }
    if (rc == KC_OK && !(o && o->no_compile)) {
        rc = json_attr(h, "training_config", &tc, &present, err);
        if (rc == KC_OK && tc) {
            rc = kc_model_compile_json(model, tc, o ? o->custom_objects : NULL, err);
            if (rc != KC_OK) kc__error_context(err, "training_config");
        }
        if (rc == KC_OK && tc && kc__h5_is_group(h, "/optimizer_weights")) {
            kc_error werr = {0};
            if (restore_optimizer(h, model, version, budget - weight_bytes(model), &werr) != KC_OK)
                kc__warn_optimizer_not_restored(o ? o->warn : NULL, o ? o->warn_user : NULL, &werr);
        }
    }
    kc__free(version);
    json_decref(cfg);
    json_decref(tc);
    kc_status crc = kc__h5_close(h, rc == KC_OK ? err : NULL);
    if (rc == KC_OK) rc = crc;
    if (rc != KC_OK) {
        kc_object_unref(model);
        return NULL;
    }
    return model;
}

kc_status kc__h5_load_weights(kc_object *model, const char *path, const kc_weights_options *opts, kc_error *err)
{
    kc__h5 *h = kc__h5_open_read(path, err);
    if (!h) return kc__error_code(err, KC_EIO);
    const char *g = NULL;
    bool keras3 = false;
    if (kc__h5_has_attr(h, "/", "layer_names") || kc__h5_has_attr(h, "/", "layer_names0"))
        g = "/";
    else if (kc__h5_is_group(h, "/model_weights"))
        g = "/model_weights";
    else
        keras3 = kc__keras3_is_weights_tree(h);
    kc_status rc = g ? load_tree(h, g, model, opts, err)
                 : keras3 ? kc__keras3_read_weights(h, model, opts, err)
                          : kc__errf(err, KC_EFORMAT, "HDF5 but not a Keras weights file: no layer_names (Keras 2) and "
                                     "no layers or vars group (Keras 3)");
    /* Keras 3's save_weights keeps a compiled model's optimizer too */
    if (rc == KC_OK && keras3 && kc_model_optimizer(model) && kc__h5_is_group(h, "/optimizer/vars")) {
        kc_error werr = {0};
        if (kc__keras3_restore_optimizer(h, model, NULL, -1, &werr) != KC_OK)
            kc__warn_optimizer_not_restored(opts ? opts->warn : NULL, opts ? opts->warn_user : NULL, &werr);
    }
    kc__h5_close(h, NULL);
    return rc;
}
