/* modelinspect weights: every stored weight, read from the HDF5 file
 * itself (kc_h5file), so it works for files whose classes are unknown and
 * for weights-only files; --stats reads the values, --dump prints one. */
#include "inspect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int run_weights(int argc, char **argv);

const inspect_command cmd_weights = {
    .name = "weights",
    .synopsis = "weights FILE [--stats] [--dump NAME] [--json]",
    .help = "List every weight stored in FILE (the /model_weights tree of a model, the root\n"
            "of a weights-only file): layer group, weight name, shape, stored dtype, bytes.\n"
            "The classes of the model are not needed.\n\n"
            "  --stats      add min, max, mean and standard deviation (over the finite\n"
            "               values) and the counts of NaN and infinite values\n"
            "  --dump NAME  print the values of one weight instead: NAME is LAYER/WEIGHT\n"
            "               (e.g. dense/dense/kernel:0), the weight name alone when only\n"
            "               one layer has it, or the dataset's HDF5 path; one line per\n"
            "               row of the last axis, values as float32 prints exactly\n"
            "  --json       machine-readable output\n\n"
            "Exit 0, or 2 when the file cannot be read or NAME names no weight.\n",
    .run = run_weights,
    .isolation = ISOLATE_WHOLE,
};

typedef struct stats {
    double min, max, mean, std;
    int64_t finite, nan, inf;
} stats;

static stats compute_stats(const kc_tensor *t)
{
    stats s = {0};
    double sum = 0;
    int64_t n = kc_tensor_size(t);
    for (int64_t i = 0; i < n; i++) {
        double v = kc_tensor_get(t, i);
        if (isnan(v)) {
            s.nan++;
            continue;
        }
        if (isinf(v)) {
            s.inf++;
            continue;
        }
        if (s.finite == 0 || v < s.min) s.min = v;
        if (s.finite == 0 || v > s.max) s.max = v;
        sum += v;
        s.finite++;
    }
    if (s.finite == 0) return s;
    s.mean = sum / (double)s.finite;
    double sq = 0; /* two passes: no cancellation (numpy's std, ddof 0) */
    for (int64_t i = 0; i < n; i++) {
        double v = kc_tensor_get(t, i);
        if (isfinite(v)) sq += (v - s.mean) * (v - s.mean);
    }
    s.std = sqrt(sq / (double)s.finite);
    return s;
}

static json_t *stats_json(const stats *s)
{
    bool any = s->finite > 0;
    return json_pack("{s:o, s:o, s:o, s:o, s:I, s:I}", "min", any ? json_real(s->min) : json_null(), "max",
                     any ? json_real(s->max) : json_null(), "mean", any ? json_real(s->mean) : json_null(), "std",
                     any ? json_real(s->std) : json_null(), "nan", (json_int_t)s->nan, "inf", (json_int_t)s->inf);
}

/* The weight NAME names; prints why not and returns NULL. */
static const kc_h5file_weight *find(const kc_h5file_weight *w, size_t n, const char *name, const char *file)
{
    const kc_h5file_weight *hit = NULL;
    int by_name = 0;
    for (size_t i = 0; i < n; i++) {
        size_t ll = strlen(w[i].layer);
        bool layer_and_name = strncmp(name, w[i].layer, ll) == 0 && name[ll] == '/' && strcmp(name + ll + 1, w[i].name) == 0;
        if (layer_and_name || strcmp(name, w[i].path) == 0) return &w[i];
        if (strcmp(name, w[i].name) == 0) {
            hit = &w[i];
            by_name++;
        }
    }
    if (by_name == 1) return hit;
    if (by_name > 1)
        inspect_fail(EXIT_INVALID, "%d layers store a weight named '%s': say which, as LAYER/%s (%s)", by_name, name,
                     name, file);
    else
        inspect_fail(EXIT_INVALID, "no weight '%s' (`modelinspect weights %s` lists them)", name, file);
    return NULL;
}

static void value_text(const kc_tensor *t, int64_t i, char *buf, size_t size)
{
    if (kc_tensor_dtype(t) == KC_FLOAT32) snprintf(buf, size, "%.9g", kc_tensor_get(t, i));
    else snprintf(buf, size, "%lld", (long long)kc_tensor_get(t, i));
}

static int dump(kc_h5file *f, const kc_h5file_weight *w, bool as_json)
{
    kc_tensor *t = NULL;
    kc_error err = {0};
    if (kc_h5file_read(f, w, &t, &err) != KC_OK) {
        inspect_print_error(&err);
        return EXIT_INVALID;
    }
    int64_t n = kc_tensor_size(t);
    char shape[256], v[64];
    inspect_shape_text(w->ndim, w->dims, shape, sizeof shape);
    if (as_json) {
        json_t *data = json_array();
        for (int64_t i = 0; i < n; i++) {
            double x = kc_tensor_get(t, i);
            if (kc_tensor_dtype(t) != KC_FLOAT32) json_array_append_new(data, json_integer((json_int_t)x));
            else if (isnan(x)) json_array_append_new(data, json_string("NaN"));
            else if (isinf(x)) json_array_append_new(data, json_string(x > 0 ? "Infinity" : "-Infinity"));
            else json_array_append_new(data, json_real(x));
        }
        kc_tensor_unref(t);
        return inspect_emit_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "file", kc_h5file_path(f), "layer",
                                           w->layer, "name", w->name, "path", w->path, "dtype", w->dtype, "shape",
                                           inspect_shape_json(w->ndim, w->dims), "data", data));
    }
    printf("%s/%s  shape %s  %s\n", w->layer, w->name, shape, w->dtype);
    /* one line per row of the last axis, led by the row's index */
    int64_t row = w->ndim > 0 ? w->dims[w->ndim - 1] : 1;
    for (int64_t start = 0; start < n && row > 0; start += row) {
        if (w->ndim > 1) {
            int64_t rest = start / row, idx[KC_MAX_DIMS];
            for (int d = w->ndim - 2; d >= 0; d--) {
                idx[d] = rest % w->dims[d];
                rest /= w->dims[d];
            }
            for (int d = 0; d < w->ndim - 1; d++) printf("%s%lld", d ? ", " : "[", (long long)idx[d]);
            putchar(']');
        }
        for (int64_t i = start; i < start + row; i++) {
            value_text(t, i, v, sizeof v);
            printf("%s%s", (i == start && w->ndim <= 1) ? "" : " ", v);
        }
        putchar('\n');
    }
    kc_tensor_unref(t);
    return EXIT_OK;
}

static void stats_cells(const stats *s, char cells[6][32])
{
    if (s->finite) {
        snprintf(cells[0], 32, "%.6g", s->min);
        snprintf(cells[1], 32, "%.6g", s->max);
        snprintf(cells[2], 32, "%.6g", s->mean);
        snprintf(cells[3], 32, "%.6g", s->std);
    } else {
        for (int k = 0; k < 4; k++) snprintf(cells[k], 32, "-");
    }
    snprintf(cells[4], 32, "%lld", (long long)s->nan);
    snprintf(cells[5], 32, "%lld", (long long)s->inf);
}

static int list(kc_h5file *f, bool with_stats, bool as_json)
{
    const kc_h5file_layer *layers;
    const kc_h5file_weight *w;
    size_t n_layers, n;
    kc_error err = {0};
    if (inspect_tree(f, &layers, &n_layers, &w, &n) != EXIT_OK) return EXIT_INVALID;
    static const char *const headers[] = {"layer", "weight", "shape", "dtype", "bytes", "min", "max", "mean", "std", "nan", "inf"};
    inspect_table t;
    table_init(&t, with_stats ? 11 : 5, headers);
    t.right[4] = true;
    for (int c = 5; c < 11; c++) t.right[c] = true;
    json_t *jl = json_array();
    int64_t params = 0, bytes = 0;
    size_t with_weights = 0;
    int status = EXIT_OK;
    for (size_t li = 0; li < n_layers; li++) {
        json_t *jw = json_array();
        json_array_append_new(jl, json_pack("{s:s, s:o}", "name", layers[li].name, "weights", jw));
        with_weights += layers[li].n_weights > 0;
        for (size_t k = layers[li].first_weight; k < layers[li].first_weight + layers[li].n_weights; k++) {
            char shape[256], nbytes[32], cells[6][32] = {""};
            inspect_shape_text(w[k].ndim, w[k].dims, shape, sizeof shape);
            snprintf(nbytes, sizeof nbytes, "%lld", (long long)w[k].nbytes);
            json_t *entry = json_pack("{s:s, s:s, s:o, s:s, s:I, s:I}", "name", w[k].name, "path", w[k].path, "shape",
                                      inspect_shape_json(w[k].ndim, w[k].dims), "dtype", w[k].dtype, "size",
                                      (json_int_t)w[k].size, "bytes", (json_int_t)w[k].nbytes);
            json_array_append_new(jw, entry);
            params += w[k].size;
            bytes += w[k].nbytes;
            if (with_stats) {
                kc_tensor *v = NULL;
                if (kc_h5file_read(f, &w[k], &v, &err) != KC_OK) {
                    inspect_print_error(&err);
                    status = EXIT_INVALID;
                    break;
                }
                stats s = compute_stats(v);
                kc_tensor_unref(v);
                json_object_set_new(entry, "stats", stats_json(&s));
                stats_cells(&s, cells);
            }
            const char *row[11] = {layers[li].name, w[k].name, shape, w[k].dtype, nbytes,
                                   cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]};
            table_row(&t, row);
        }
        if (status != EXIT_OK) break;
    }
    if (status == EXIT_OK && as_json) {
        json_t *root = json_pack("{s:s, s:s, s:s?, s:o, s:I, s:I}", "file", kc_h5file_path(f), "contents",
                                 kc_h5file_contents(f) == KC_H5FILE_WEIGHTS ? "weights" : "model", "group",
                                 kc_h5file_weights_group(f), "layers", jl, "total_params", (json_int_t)params,
                                 "total_bytes", (json_int_t)bytes);
        jl = NULL;
        status = inspect_emit_json(root);
    } else if (status == EXIT_OK) {
        char size[32];
        const char *g = kc_h5file_weights_group(f);
        bool only = kc_h5file_contents(f) == KC_H5FILE_WEIGHTS;
        printf("%s: %s %s: %zu layer group%s (%zu with weights), %zu weight%s, %lld parameters, %s stored\n",
               kc_h5file_path(f), only ? "weights only (model.save_weights), in" : "model weights in",
               g ? g : "(no /model_weights group)", n_layers, n_layers == 1 ? "" : "s", with_weights, n,
               n == 1 ? "" : "s", (long long)params, inspect_bytes_text((double)bytes, size, sizeof size));
        if (n) table_print(&t, stdout);
    }
    json_decref(jl);
    table_free(&t);
    return status;
}

static int run_weights(int argc, char **argv)
{
    const char *file = NULL, *name = NULL;
    bool with_stats = false, as_json = false;
    const inspect_opt opts[] = {
        {"--stats", OPT_FLAG, &with_stats},
        {"--dump", OPT_STRING, &name},
        {"--json", OPT_FLAG, &as_json},
    };
    int rc = inspect_parse(&cmd_weights, argc, argv, opts, 3, &file, 1, 1, "missing FILE");
    if (rc >= 0) return rc;
    kc_h5file *f = inspect_open(file);
    if (!f) return EXIT_INVALID;
    if (name) {
        const kc_h5file_weight *w;
        size_t n;
        kc_error err = {0};
        if (kc_h5file_weights(f, &w, &n, &err) != KC_OK) {
            inspect_print_error(&err);
            rc = EXIT_INVALID;
        } else {
            const kc_h5file_weight *hit = find(w, n, name, file);
            rc = hit ? dump(f, hit, as_json) : EXIT_INVALID;
        }
    } else {
        rc = list(f, with_stats, as_json);
    }
    kc_h5file_close(f);
    return rc;
}
