/* modelinspect diff: how two model files differ, as a reviewer wants it:
 * config values path by path (model_config.config.layers[2].config.units:
 * 8 -> 16), and weights by name with the largest absolute and relative
 * difference, shape and dtype changes, and weights only one file has.
 * Both files are read with kc_h5file only, so any two Keras files compare,
 * whether or not their classes are known, weights-only ones included.
 *
 * Weights pair by layer group and weight name (what the file says), not by
 * position as loading does: a diff reports what changed in the file. */
#include "inspect.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int run_diff(int argc, char **argv);

const inspect_command cmd_diff = {
    .name = "diff",
    .synopsis = "diff A B [--rtol R] [--atol A] [--json]",
    .help = "Compare two Keras files. Config: model_config and training_config value by\n"
            "value, one line per difference, e.g.\n"
            "    config: model_config.config.layers[2].config.units: 8 -> 16\n"
            "Weights (model and optimizer), paired by layer group and name:\n"
            "    weight: dense/dense/kernel:0: max abs diff 0.5, max rel diff 0.25 (3 of 32 values differ)\n"
            "    weight: dense/dense/bias:0: shape (8,) -> (16,)\n"
            "    weight: extra/extra/kernel:0: only in B\n"
            "Two values a (in A) and b (in B) are equal when |a - b| <= atol + rtol * |b|\n"
            "(NaN equals NaN); the relative difference is |a - b| / max(|a|, |b|).\n"
            "keras_version and backend changes are printed as notes and do not count.\n\n"
            "  --rtol R   relative tolerance (default 0: values must be identical)\n"
            "  --atol A   absolute tolerance (default 0)\n"
            "  --json     machine-readable output\n\n"
            "Exit 0 when the files are equal within the tolerances, 1 when they differ,\n"
            "2 when a file cannot be read.\n",
    .run = run_diff,
    .isolation = ISOLATE_WHOLE,
};

typedef struct diff_ctx {
    double rtol, atol;
    bool as_json;
    json_t *config, *weights, *notes; /* what --json reports */
    int n_config, n_weights;
} diff_ctx;

/* ---- config ------------------------------------------------------------------------------------- */

/* Compact JSON of v, cut at 80 characters. */
static void short_text(const json_t *v, char *buf, size_t size)
{
    if (!v) {
        snprintf(buf, size, "(absent)");
        return;
    }
    char *t = inspect_json_text(v);
    if (t && strlen(t) > 80) snprintf(buf, size, "%.77s...", t);
    else snprintf(buf, size, "%s", t ? t : "?");
    free(t);
}

static void config_diff(diff_ctx *d, const char *path, const json_t *a, const json_t *b)
{
    d->n_config++;
    if (d->as_json) {
        json_t *e = json_pack("{s:s}", "path", path);
        if (a) json_object_set_new(e, "a", json_deep_copy(a));
        if (b) json_object_set_new(e, "b", json_deep_copy(b));
        json_array_append_new(d->config, e);
        return;
    }
    char ta[128], tb[128];
    short_text(a, ta, sizeof ta);
    short_text(b, tb, sizeof tb);
    printf("config: %s: %s -> %s\n", path, ta, tb);
}

/* 1 and 1.0 are the same number (Keras writes one, ckeras may write the other). */
static bool same_scalar(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    return json_equal((json_t *)a, (json_t *)b);
}

/* path + ".key", or + "[\"key\"]" when the key is not a plain name. */
static char *child(const char *path, const char *key, size_t index, bool is_index)
{
    size_t n = strlen(path) + (key ? 2 * strlen(key) : 0) + 32;
    char *s = malloc(n);
    if (!s) return NULL;
    bool plain = key && key[0] && !isdigit((unsigned char)key[0]);
    for (const char *k = key; plain && *k; k++) plain = isalnum((unsigned char)*k) || *k == '_';
    if (is_index) {
        snprintf(s, n, "%s[%zu]", path, index);
    } else if (plain) {
        snprintf(s, n, "%s.%s", path, key);
    } else {
        json_t *j = json_string(key);
        char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
        snprintf(s, n, "%s[%s]", path, q ? q : "?");
        free(q);
        json_decref(j);
    }
    return s;
}

static void compare_json(diff_ctx *d, const char *path, const json_t *a, const json_t *b)
{
    if (a && b && json_is_object(a) && json_is_object(b)) {
        const char *key;
        const json_t *va;
        json_object_foreach((json_t *)a, key, va) {
            char *p = child(path, key, 0, false);
            if (p) compare_json(d, p, va, json_object_get(b, key));
            free(p);
        }
        json_object_foreach((json_t *)b, key, va) {
            if (json_object_get(a, key)) continue;
            char *p = child(path, key, 0, false);
            if (p) compare_json(d, p, NULL, va);
            free(p);
        }
        return;
    }
    if (a && b && json_is_array(a) && json_is_array(b)) {
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na || i < nb; i++) {
            char *p = child(path, NULL, i, true);
            if (p) compare_json(d, p, json_array_get(a, i), json_array_get(b, i));
            free(p);
        }
        return;
    }
    if (!a || !b || !same_scalar(a, b)) config_diff(d, path, a, b);
}

static void note_string(diff_ctx *d, const char *what, const char *a, const char *b);

/* ---- configs across dialects ------------------------------------------------------------------- */

/* Keys that say how Keras 3 finds a class or rebuilds a model, not what
 * the model is; and a layer's batch_input_shape, which Keras 3 keeps on the
 * model's InputLayer only. Removed in place, recursively. */
static void drop_dialect_keys(json_t *v)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) drop_dialect_keys(json_array_get(v, i));
        return;
    }
    if (!json_is_object(v)) return;
    static const char *const keys[] = {"module", "registered_name", "shared_object_id", "build_config",
                                       "compile_config"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) json_object_del(v, keys[i]);
    const char *cls = json_string_value(json_object_get(v, "class_name"));
    json_t *cfg = json_object_get(v, "config");
    if (cls && strcmp(cls, "InputLayer") != 0 && json_is_object(cfg)) json_object_del(cfg, "batch_input_shape");
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) drop_dialect_keys(x);
}

/* A config in one dialect: the model it builds, serialized again (Keras
 * 2's form, as ckeras writes .h5 files), less the dialect keys. NULL when
 * its classes are unknown. */
static json_t *normalized_model_config(const json_t *cfg)
{
    kc_error err = {0};
    kc_object *m = NULL;
    json_t *out = NULL;
    if (kc_deserialize(KC_KIND_MODEL, cfg, NULL, &m, &err) == KC_OK && m && kc_serialize(m, &out, &err) == KC_OK)
        drop_dialect_keys(out);
    kc_object_unref(m);
    return out;
}

/* training_config: the optimizer as its class writes it (Keras 3's "adam"
 * is Adam with its defaults), the rest less the dialect keys. */
static json_t *normalized_training_config(const json_t *tc)
{
    json_t *out = json_deep_copy(tc);
    drop_dialect_keys(out);
    kc_error err = {0};
    kc_object *opt = NULL;
    json_t *oc = NULL;
    if (kc_deserialize(KC_KIND_OPTIMIZER, json_object_get(out, "optimizer_config"), NULL, &opt, &err) == KC_OK && opt &&
        kc_serialize(opt, &oc, &err) == KC_OK)
        json_object_set_new(out, "optimizer_config", oc);
    kc_object_unref(opt);
    return out;
}

static int compare_attr(diff_ctx *d, kc_h5file *fa, kc_h5file *fb, const char *name)
{
    json_t *a = NULL, *b = NULL;
    kc_error err = {0};
    if (kc_h5file_attr_json(fa, name, &a, &err) != KC_OK || kc_h5file_attr_json(fb, name, &b, &err) != KC_OK) {
        inspect_print_error(&err);
        json_decref(a);
        return EXIT_INVALID;
    }
    /* an .h5 and a .keras say the same model in two dialects: compare what
     * they describe, when the classes are known to build it */
    bool archive_a = strcmp(kc_h5file_format(fa), "keras") == 0, archive_b = strcmp(kc_h5file_format(fb), "keras") == 0;
    if (a && b && archive_a != archive_b) {
        bool model = strcmp(name, "model_config") == 0;
        json_t *na = model ? normalized_model_config(a) : normalized_training_config(a);
        json_t *nb = model ? normalized_model_config(b) : normalized_training_config(b);
        bool normalized = na && nb;
        if (normalized) {
            json_decref(a);
            json_decref(b);
            a = na, b = nb;
        } else {
            json_decref(na);
            json_decref(nb);
        }
        const char *how = normalized ? "compared by what it builds" : "compared as written: unknown classes";
        char ta[96], tb[96];
        snprintf(ta, sizeof ta, "Keras %d form, %s", archive_a ? 3 : 2, how);
        snprintf(tb, sizeof tb, "Keras %d form, %s", archive_b ? 3 : 2, how);
        note_string(d, name, ta, tb);
    }
    if (a || b) compare_json(d, name, a, b);
    json_decref(a);
    json_decref(b);
    return EXIT_OK;
}

static void note_string(diff_ctx *d, const char *what, const char *a, const char *b)
{
    if ((a && b && strcmp(a, b) == 0) || (!a && !b)) return;
    if (d->as_json) {
        json_array_append_new(d->notes, json_pack("{s:s, s:s?, s:s?}", "attribute", what, "a", a, "b", b));
        return;
    }
    printf("note: %s: %s%s%s -> %s%s%s\n", what, a ? "\"" : "", a ? a : "(absent)", a ? "\"" : "", b ? "\"" : "",
           b ? b : "(absent)", b ? "\"" : "");
}

/* ---- weights ---------------------------------------------------------------------------------------- */

typedef struct value_diff {
    double max_abs, max_rel;
    int64_t n_different; /* values outside the tolerance */
} value_diff;

static value_diff compare_values(const diff_ctx *d, const kc_tensor *a, const kc_tensor *b)
{
    value_diff r = {0};
    int64_t n = kc_tensor_size(a);
    for (int64_t i = 0; i < n; i++) {
        double x = kc_tensor_get(a, i), y = kc_tensor_get(b, i);
        if (x == y || (isnan(x) && isnan(y))) continue; /* also inf == inf */
        /* a NaN or an infinity against anything else differs beyond any tolerance (numpy.isclose) */
        bool finite = isfinite(x) && isfinite(y);
        double abs_d = finite ? fabs(x - y) : INFINITY;
        double rel = finite ? abs_d / fmax(fabs(x), fabs(y)) : INFINITY;
        if (abs_d > r.max_abs) r.max_abs = abs_d;
        if (rel > r.max_rel) r.max_rel = rel;
        if (!finite || !(abs_d <= d->atol + d->rtol * fabs(y))) r.n_different++;
    }
    return r;
}

static json_t *number_json(double v)
{
    return isfinite(v) ? json_real(v) : json_string(v > 0 ? "Infinity" : "-Infinity");
}

/* Compare one weight key present in one or both files, given as listed
 * (a, b: shape and dtype) and, when both are there with one shape, their
 * values (ta, tb). */
static void report_weight(diff_ctx *d, const char *key, const kc_h5file_weight *a, const kc_h5file_weight *b,
                          const kc_tensor *ta, const kc_tensor *tb)
{
    char sa[256], sb[256];
    if (a) inspect_shape_text(a->ndim, a->dims, sa, sizeof sa);
    if (b) inspect_shape_text(b->ndim, b->dims, sb, sizeof sb);
    const char *status = "equal";
    value_diff v = {0};
    bool same_shape = a && b && a->ndim == b->ndim && memcmp(a->dims, b->dims, (size_t)a->ndim * sizeof(int64_t)) == 0;
    if (!a || !b) {
        status = a ? "only_a" : "only_b";
    } else if (!same_shape) {
        status = "shape";
    } else {
        v = compare_values(d, ta, tb);
        if (v.n_different) status = "different";
        else if (strcmp(a->dtype, b->dtype) != 0) status = "dtype";
    }
    bool differs = strcmp(status, "equal") != 0;
    d->n_weights += differs;
    if (d->as_json) {
        json_t *e = json_pack("{s:s, s:s}", "name", key, "status", status);
        if (a) json_object_set_new(e, "shape_a", inspect_shape_json(a->ndim, a->dims));
        if (b) json_object_set_new(e, "shape_b", inspect_shape_json(b->ndim, b->dims));
        if (a) json_object_set_new(e, "dtype_a", json_string(a->dtype));
        if (b) json_object_set_new(e, "dtype_b", json_string(b->dtype));
        if (same_shape) {
            json_object_set_new(e, "max_abs", number_json(v.max_abs));
            json_object_set_new(e, "max_rel", number_json(v.max_rel));
            json_object_set_new(e, "n_different", json_integer(v.n_different));
        }
        json_array_append_new(d->weights, e);
        return;
    }
    if (!differs) return;
    if (!a || !b) printf("weight: %s: only in %s\n", key, a ? "A" : "B");
    else if (!same_shape) printf("weight: %s: shape %s -> %s\n", key, sa, sb);
    else if (!v.n_different) printf("weight: %s: dtype %s -> %s (values equal)\n", key, a->dtype, b->dtype);
    else
        printf("weight: %s: max abs diff %.9g, max rel diff %.9g (%lld of %lld values differ)\n", key, v.max_abs,
               v.max_rel, (long long)v.n_different, (long long)a->size);
}

static int compare_weight(diff_ctx *d, const char *key, kc_h5file *fa, const kc_h5file_weight *a, kc_h5file *fb,
                          const kc_h5file_weight *b)
{
    kc_tensor *ta = NULL, *tb = NULL;
    bool same_shape = a && b && a->ndim == b->ndim && memcmp(a->dims, b->dims, (size_t)a->ndim * sizeof(int64_t)) == 0;
    if (same_shape) {
        kc_error err = {0};
        if (kc_h5file_read(fa, a, &ta, &err) != KC_OK || kc_h5file_read(fb, b, &tb, &err) != KC_OK) {
            inspect_print_error(&err);
            kc_tensor_unref(ta);
            return EXIT_INVALID;
        }
    }
    report_weight(d, key, a, b, ta, tb);
    kc_tensor_unref(ta);
    kc_tensor_unref(tb);
    return EXIT_OK;
}

/* The listing of one loaded optimizer weight, for report_weight. */
static kc_h5file_weight loaded_weight(const kc_tensor *t)
{
    kc_h5file_weight w = {.ndim = kc_tensor_ndim(t), .size = kc_tensor_size(t),
                          .dtype = kc_tensor_dtype(t) == KC_INT64 ? "int64" : "float32"};
    memcpy(w.dims, kc_tensor_dims(t), (size_t)w.ndim * sizeof(int64_t));
    return w;
}

/* An .h5 and a .keras store optimizer state in different layouts and
 * names (doc/keras3-format.md, O1-O3): compare the states the two files
 * load into, under ckeras' names. *done false when either does not load
 * (unknown classes) or is not compiled. */
static int compare_loaded_optimizers(diff_ctx *d, const char *pa, const char *pb, bool *done)
{
    *done = false;
    kc_error err = {0};
    kc_object *ma = kc_model_load(pa, NULL, &err), *mb = ma ? kc_model_load(pb, NULL, &err) : NULL;
    kc_object *oa = ma ? kc_model_optimizer(ma) : NULL, *ob = mb ? kc_model_optimizer(mb) : NULL;
    if (oa && ob) {
        *done = true;
        int na = kc_optimizer_num_weights(oa), nb = kc_optimizer_num_weights(ob);
        bool *used = calloc((size_t)nb + 1, 1);
        for (int i = 0; used && i < na; i++) {
            char name[512], other[512], key[600];
            kc_tensor *ta = kc_optimizer_weight(oa, i, name, sizeof name), *tb = NULL;
            for (int j = 0; j < nb && !tb; j++) {
                kc_tensor *t = kc_optimizer_weight(ob, j, other, sizeof other);
                if (!used[j] && strcmp(name, other) == 0) tb = t, used[j] = true;
            }
            kc_h5file_weight wa = loaded_weight(ta), wb = tb ? loaded_weight(tb) : wa;
            snprintf(key, sizeof key, "optimizer/%s", name);
            report_weight(d, key, &wa, tb ? &wb : NULL, ta, tb);
        }
        for (int j = 0; used && j < nb; j++) {
            char name[512], key[600];
            kc_tensor *tb = kc_optimizer_weight(ob, j, name, sizeof name);
            kc_h5file_weight wb = loaded_weight(tb);
            snprintf(key, sizeof key, "optimizer/%s", name);
            if (!used[j]) report_weight(d, key, NULL, &wb, NULL, tb);
        }
        free(used);
    }
    kc_object_unref(ma);
    kc_object_unref(mb);
    return EXIT_OK;
}

/* "layer/name" for model weights, "optimizer_weights/name" for the others. */
static char *weight_key(const kc_h5file_weight *w)
{
    size_t n = strlen(w->layer) + strlen(w->name) + 32;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", w->layer[0] ? w->layer : "optimizer_weights", w->name);
    return s;
}

static int compare_lists(diff_ctx *d, kc_h5file *fa, const kc_h5file_weight *wa, size_t na, kc_h5file *fb,
                         const kc_h5file_weight *wb, size_t nb)
{
    int rc = EXIT_OK;
    /* B's keys, to pair in one pass each way */
    char **kb = calloc(nb + 1, sizeof(char *));
    bool *used = calloc(nb + 1, 1);
    for (size_t j = 0; kb && used && j < nb; j++)
        if (!(kb[j] = weight_key(&wb[j]))) rc = inspect_fail(EXIT_INVALID, "out of memory");
    if (!kb || !used) rc = inspect_fail(EXIT_INVALID, "out of memory");
    for (size_t i = 0; rc == EXIT_OK && i < na; i++) {
        char *key = weight_key(&wa[i]);
        if (!key) {
            rc = inspect_fail(EXIT_INVALID, "out of memory");
            break;
        }
        const kc_h5file_weight *match = NULL;
        for (size_t j = 0; j < nb && !match; j++)
            if (!used[j] && strcmp(kb[j], key) == 0) match = &wb[j], used[j] = true;
        rc = compare_weight(d, key, fa, &wa[i], fb, match);
        free(key);
    }
    for (size_t j = 0; rc == EXIT_OK && j < nb; j++)
        if (!used[j]) rc = compare_weight(d, kb[j], fa, NULL, fb, &wb[j]);
    for (size_t j = 0; kb && j < nb; j++) free(kb[j]);
    free(kb);
    free(used);
    return rc;
}

static int compare_weights(diff_ctx *d, kc_h5file *fa, kc_h5file *fb)
{
    bool done = false;
    const kc_h5file_weight *wa, *wb, *oa, *ob;
    size_t na, nb, noa, nob;
    kc_error err = {0};
    if (kc_h5file_weights(fa, &wa, &na, &err) != KC_OK || kc_h5file_weights(fb, &wb, &nb, &err) != KC_OK ||
        kc_h5file_optimizer_weights(fa, &oa, &noa, &err) != KC_OK ||
        kc_h5file_optimizer_weights(fb, &ob, &nob, &err) != KC_OK) {
        inspect_print_error(&err);
        return EXIT_INVALID;
    }
    int rc = compare_lists(d, fa, wa, na, fb, wb, nb);
    /* across formats also when one side stores none: a Keras 3 file keeps an
     * optimizer that never stepped as its iteration count and learning rate
     * (O6), an .h5 as nothing; loaded, both are the same fresh optimizer */
    if (rc == EXIT_OK && strcmp(kc_h5file_format(fa), kc_h5file_format(fb)) != 0 && (noa || nob))
        rc = compare_loaded_optimizers(d, kc_h5file_path(fa), kc_h5file_path(fb), &done);
    if (rc == EXIT_OK && !done) rc = compare_lists(d, fa, oa, noa, fb, ob, nob);
    return rc;
}

static int run_diff(int argc, char **argv)
{
    const char *files[2] = {NULL, NULL};
    diff_ctx d = {0};
    const inspect_opt opts[] = {
        {"--rtol", OPT_NUMBER, &d.rtol},
        {"--atol", OPT_NUMBER, &d.atol},
        {"--json", OPT_FLAG, &d.as_json},
    };
    int rc = inspect_parse(&cmd_diff, argc, argv, opts, 3, files, 2, 2, "need two files A and B");
    if (rc >= 0) return rc;
    if (d.rtol < 0 || d.atol < 0) return inspect_usage(&cmd_diff, "tolerances must not be negative");
    kc_h5file *fa = inspect_open(files[0]);
    kc_h5file *fb = fa ? inspect_open(files[1]) : NULL;
    if (!fa || !fb) {
        kc_h5file_close(fa);
        return EXIT_INVALID;
    }
    if (d.as_json) {
        d.config = json_array();
        d.weights = json_array();
        d.notes = json_array();
    }
    note_string(&d, "keras_version", kc_h5file_keras_version(fa), kc_h5file_keras_version(fb));
    note_string(&d, "backend", kc_h5file_backend(fa), kc_h5file_backend(fb));
    if (kc_h5file_contents(fa) != kc_h5file_contents(fb))
        note_string(&d, "contents", kc_h5file_contents(fa) == KC_H5FILE_MODEL ? "model" : "weights",
                    kc_h5file_contents(fb) == KC_H5FILE_MODEL ? "model" : "weights");
    rc = compare_attr(&d, fa, fb, "model_config");
    if (rc == EXIT_OK) rc = compare_attr(&d, fa, fb, "training_config");
    if (rc == EXIT_OK) rc = compare_weights(&d, fa, fb);
    bool equal = d.n_config == 0 && d.n_weights == 0;
    if (rc == EXIT_OK && d.as_json) {
        rc = inspect_emit_json(json_pack("{s:s, s:s, s:b, s:f, s:f, s:i, s:i, s:O, s:O, s:O}", "a", files[0], "b", files[1],
                                         "equal", equal, "rtol", d.rtol, "atol", d.atol, "config_differences", d.n_config,
                                         "weight_differences", d.n_weights, "config", d.config, "weights", d.weights,
                                         "notes", d.notes));
    } else if (rc == EXIT_OK && equal) {
        printf("%s and %s are equal (rtol %g, atol %g)\n", files[0], files[1], d.rtol, d.atol);
    } else if (rc == EXIT_OK) {
        printf("%s and %s differ: %d config value%s, %d weight%s\n", files[0], files[1], d.n_config,
               d.n_config == 1 ? "" : "s", d.n_weights, d.n_weights == 1 ? "" : "s");
    }
    json_decref(d.config);
    json_decref(d.weights);
    json_decref(d.notes);
    kc_h5file_close(fa);
    kc_h5file_close(fb);
    if (rc != EXIT_OK) return rc;
    return equal ? EXIT_OK : EXIT_DIFFERENT;
}
