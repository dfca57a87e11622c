/* modelinspect summary: what a model file holds, as Keras' model.summary()
 * shows it, with the file's Keras version and backend and the compile state.
 *
 * When the model loads, the table is kc_model_summary's (tf.keras 2.15's
 * format). When it does not because a class is not registered (a custom
 * layer of the user's, QKeras, ...), the tool still answers: the table is
 * built from model_config and the weights stored in the file, every layer
 * with its class, "unknown class" where the registry lacks it, parameters
 * counted from the datasets and connections from inbound_nodes. That
 * table's format is our own (Keras cannot print a model it cannot load):
 *
 *     Layer (type)          Param #  Stored weights   Connected to
 *     --------------------------------------------------------------
 *     input_1 (InputLayer)        0                   []
 *     fc1 (QDense)             1088  (16, 64) (64,)   ['input_1[0][0]']
 *         (unknown class: register it or use --custom-lib)
 *
 * Weights-only files list their layer groups and weights instead. */
#include "arch.h"
#include "inspect.h"
#include "training.h"

#include <stdlib.h>
#include <string.h>

static int run_summary(int argc, char **argv);

const inspect_command cmd_summary = {
    .name = "summary",
    .synopsis = "summary FILE [--custom-lib LIB.so]... [--json]",
    .help = "Print the file's Keras version and backend, the model's table as Keras'\n"
            "model.summary() prints it (tf.keras 2.15 format: layers, output shapes,\n"
            "parameters, connections, totals), and the compile state from training_config\n"
            "(optimizer and its hyperparameters, loss, metrics).\n\n"
            "When a class of the model is not registered, the model cannot be loaded; the\n"
            "table is then built from model_config and the stored weights:\n"
            "    Layer (type)  Param #  Stored weights  Connected to\n"
            "with parameters counted from the datasets, each layer of an unknown class\n"
            "followed by the line \"    (unknown class: register it or use --custom-lib)\",\n"
            "and the list of unknown classes after the totals. Weights-only files\n"
            "(model.save_weights) list their layer groups and weights.\n\n"
            "  --custom-lib LIB.so  register custom classes first (see verify --help)\n"
            "  --json               machine-readable output\n\n"
            "Exit 0, or 2 when the file cannot be read.\n",
    .run = run_summary,
    .isolation = ISOLATE_WHOLE,
};

static const char *const UNKNOWN_NOTE = "    (unknown class: register it or use --custom-lib)";

static bool class_known(const char *cls)
{
    return kc_find_class(KC_KIND_LAYER, cls) || kc_find_class(KC_KIND_MODEL, cls);
}

static void add_unknown(json_t *names, const char *cls)
{
    if (class_known(cls)) return;
    for (size_t k = 0; k < json_array_size(names); k++)
        if (strcmp(json_string_value(json_array_get(names, k)), cls) == 0) return;
    json_array_append_new(names, json_string(cls));
}

/* Unknown class names of a (possibly nested) architecture, once each, in order. */
static void collect_unknown(const arch_model *a, json_t *names)
{
    add_unknown(names, a->class_name);
    for (int i = 0; i < a->n_layers; i++) {
        if (a->layers[i].inner) collect_unknown(a->layers[i].inner, names);
        else add_unknown(names, a->layers[i].class_name);
    }
}

static void print_header(kc_h5file *f)
{
    const char *v = kc_h5file_keras_version(f), *b = kc_h5file_backend(f);
    printf("file: %s\nkeras_version: %s\nbackend: %s\n", kc_h5file_path(f), v ? v : "(none)", b ? b : "(none)");
}

static json_t *header_json(kc_h5file *f)
{
    return json_pack("{s:s, s:s, s:s?, s:s?}", "file", kc_h5file_path(f), "contents",
                     kc_h5file_contents(f) == KC_H5FILE_WEIGHTS ? "weights" : "model", "keras_version",
                     kc_h5file_keras_version(f), "backend", kc_h5file_backend(f));
}

/* The stored layer group called name, or NULL. */
static const kc_h5file_layer *group(const kc_h5file_layer *groups, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(groups[i].name, name) == 0) return &groups[i];
    return NULL;
}

/* "(16, 64) (64,)" and the parameter count of a layer group (g may be NULL). */
static int64_t group_weights(const kc_h5file_layer *g, const kc_h5file_weight *w, char *buf, size_t size)
{
    int64_t params = 0;
    buf[0] = '\0';
    for (size_t k = 0; g && k < g->n_weights; k++) {
        const kc_h5file_weight *x = &w[g->first_weight + k];
        char shape[256];
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", k ? " " : "", inspect_shape_text(x->ndim, x->dims, shape, sizeof shape));
        params += x->size;
    }
    return params;
}

static json_t *group_weights_json(const kc_h5file_layer *g, const kc_h5file_weight *w)
{
    json_t *list = json_array();
    for (size_t k = 0; g && k < g->n_weights; k++) {
        const kc_h5file_weight *x = &w[g->first_weight + k];
        json_array_append_new(list, json_pack("{s:s, s:o, s:s}", "name", x->name, "shape",
                                              inspect_shape_json(x->ndim, x->dims), "dtype", x->dtype));
    }
    return list;
}

/* ---- weights only --------------------------------------------------------------------------------- */

/* Rows "group  params  shapes" for every stored layer group. */
static int64_t groups_table(const kc_h5file_layer *groups, size_t n_groups, const kc_h5file_weight *w,
                            inspect_table *t, json_t *jl)
{
    int64_t total = 0;
    for (size_t i = 0; i < n_groups; i++) {
        char shapes[2048], params[32];
        int64_t p = group_weights(&groups[i], w, shapes, sizeof shapes);
        snprintf(params, sizeof params, "%lld", (long long)p);
        const char *row[3] = {groups[i].name, params, shapes};
        table_row(t, row);
        json_array_append_new(jl, json_pack("{s:s, s:I, s:o}", "name", groups[i].name, "params", (json_int_t)p,
                                            "weights", group_weights_json(&groups[i], w)));
        total += p;
    }
    return total;
}

static int weights_only(kc_h5file *f, bool as_json)
{
    const kc_h5file_layer *groups;
    const kc_h5file_weight *w;
    size_t n_groups, n;
    if (inspect_tree(f, &groups, &n_groups, &w, &n) != EXIT_OK) return EXIT_INVALID;
    static const char *const headers[] = {"Layer group", "Param #", "Stored weights"};
    inspect_table t;
    table_init(&t, 3, headers);
    t.right[1] = true;
    json_t *jl = json_array();
    int64_t total = groups_table(groups, n_groups, w, &t, jl);
    if (as_json) {
        table_free(&t);
        json_t *root = header_json(f);
        json_object_set_new(root, "layers", jl);
        json_object_set_new(root, "total_params", json_integer(total));
        return inspect_emit_json(root);
    }
    json_decref(jl);
    char size[32];
    print_header(f);
    printf("weights only (model.save_weights): no model_config, %zu layer groups\n", n_groups);
    table_print(&t, stdout);
    printf("Total params: %lld (%s)\n", (long long)total, inspect_bytes_text(4.0 * (double)total, size, sizeof size));
    table_free(&t);
    return EXIT_OK;
}

/* ---- a model that loads --------------------------------------------------------------------------- */

static int64_t count(const kc_object *layer, bool trainable)
{
    int64_t n = 0;
    int k = trainable ? kc_layer_num_trainable_weights(layer) : kc_layer_num_non_trainable_weights(layer);
    for (int i = 0; i < k; i++)
        n += kc_tensor_size(kc_variable_value(trainable ? kc_layer_trainable_weight(layer, i)
                                                        : kc_layer_non_trainable_weight(layer, i)));
    return n;
}

static int loaded(kc_h5file *f, kc_object *model, arch_model *a, const json_t *tc, bool as_json)
{
    arch_infer_shapes(a, model);
    if (as_json) {
        json_t *layers = json_array();
        for (int i = 0; i < kc_model_num_layers(model); i++) {
            const kc_object *l = kc_model_layer(model, i);
            const arch_layer *al = arch_find(a, kc_layer_name(l));
            json_array_append_new(layers, json_pack("{s:s, s:s, s:b, s:o, s:I, s:I, s:o}", "name", kc_layer_name(l),
                                                    "class_name", kc_object_name(l), "known", 1, "output_shape",
                                                    al ? arch_shape_json(al) : json_null(), "params",
                                                    (json_int_t)kc_layer_count_params(l), "trainable_params",
                                                    (json_int_t)count(l, true), "connected_to",
                                                    al ? arch_connections_json(al) : json_array()));
        }
        json_t *root = header_json(f);
        json_object_set_new(root, "loaded", json_true());
        json_object_set_new(root, "model", json_pack("{s:s, s:s, s:o, s:I, s:I, s:I}", "name", kc_layer_name(model),
                                                     "class_name", kc_object_name(model), "layers", layers,
                                                     "total_params", (json_int_t)(count(model, true) + count(model, false)),
                                                     "trainable_params", (json_int_t)count(model, true),
                                                     "non_trainable_params", (json_int_t)count(model, false)));
        json_object_set_new(root, "unknown_classes", json_array());
        json_object_set_new(root, "compile", training_json(tc));
        return inspect_emit_json(root);
    }
    kc_error err = {0};
    char *table = kc_model_summary(model, &err);
    if (!table) {
        inspect_print_error(&err);
        return EXIT_INVALID;
    }
    print_header(f);
    fputs(table, stdout);
    kc_string_free(table);
    training_print(stdout, tc);
    return EXIT_OK;
}

/* ---- a model that does not load --------------------------------------------------------------------- */

static int not_loaded(kc_h5file *f, const arch_model *a, const json_t *tc, const kc_error *why, bool as_json)
{
    const kc_h5file_layer *groups;
    const kc_h5file_weight *w;
    size_t n_groups, n;
    if (inspect_tree(f, &groups, &n_groups, &w, &n) != EXIT_OK) return EXIT_INVALID;
    int64_t total = 0;
    for (size_t k = 0; k < n; k++) total += w[k].size;
    json_t *unknown = json_array(), *jl = json_array();
    collect_unknown(a, unknown);
    inspect_table t;
    if (a->listed) {
        static const char *const headers[] = {"Layer (type)", "Param #", "Stored weights", "Connected to"};
        table_init(&t, 4, headers);
        t.right[1] = true;
        for (int i = 0; i < a->n_layers; i++) {
            const arch_layer *l = &a->layers[i];
            const kc_h5file_layer *g = group(groups, n_groups, l->name);
            char name[512], shapes[2048], params[32], conn[4096];
            int64_t p = group_weights(g, w, shapes, sizeof shapes);
            snprintf(name, sizeof name, "%s (%s)", l->name, l->class_name);
            snprintf(params, sizeof params, "%lld", (long long)p);
            arch_connections_text(l, conn, sizeof conn);
            const char *row[4] = {name, params, shapes, conn};
            table_row(&t, row);
            bool known = l->inner ? true : class_known(l->class_name);
            json_t *inner_unknown = json_array();
            if (l->inner) collect_unknown(l->inner, inner_unknown);
            if (!known) table_note(&t, UNKNOWN_NOTE);
            if (json_array_size(inner_unknown)) {
                char note[1024] = "    (a nested model with unknown classes:";
                for (size_t k = 0; k < json_array_size(inner_unknown); k++) {
                    size_t used = strlen(note);
                    snprintf(note + used, sizeof note - used, " %s", json_string_value(json_array_get(inner_unknown, k)));
                }
                strncat(note, ")", sizeof note - strlen(note) - 1);
                table_note(&t, note);
            }
            json_array_append_new(jl, json_pack("{s:s, s:s, s:b, s:n, s:I, s:o, s:o, s:o}", "name", l->name, "class_name",
                                                l->class_name, "known", known && !json_array_size(inner_unknown),
                                                "output_shape", "params", (json_int_t)p, "connected_to",
                                                arch_connections_json(l), "stored_weights", group_weights_json(g, w),
                                                "unknown_inside", inner_unknown));
        }
    } else {
        /* a subclassed model: its config is its own, its weights are all we know */
        static const char *const headers[] = {"Layer group", "Param #", "Stored weights"};
        table_init(&t, 3, headers);
        t.right[1] = true;
        groups_table(groups, n_groups, w, &t, jl);
    }
    if (as_json) {
        table_free(&t);
        json_t *root = header_json(f);
        json_object_set_new(root, "loaded", json_false());
        json_object_set_new(root, "load_error", json_pack("{s:s, s:s, s:s}", "code", kc_status_name(why->code),
                                                          "message", why->message, "context", why->context));
        json_object_set_new(root, "model", json_pack("{s:s, s:s, s:b, s:o, s:I, s:n, s:n}", "name", a->name,
                                                     "class_name", a->class_name, "layers_listed", a->listed,
                                                     "layers", jl, "total_params", (json_int_t)total,
                                                     "trainable_params", "non_trainable_params"));
        json_object_set_new(root, "unknown_classes", unknown);
        json_object_set_new(root, "compile", training_json(tc));
        return inspect_emit_json(root);
    }
    json_decref(jl);
    char size[32];
    print_header(f);
    printf("not loaded: %s%s%s%s\n", why->message, why->context[0] ? " (" : "", why->context, why->context[0] ? ")" : "");
    printf("Model: \"%s\" (%s; table from model_config and the stored weights)\n", a->name, a->class_name);
    if (!a->listed) printf("its config lists no layers (a subclassed model): the stored layer groups follow\n");
    table_print(&t, stdout);
    table_free(&t);
    printf("Total params: %lld (%s), counted from the stored weights\n", (long long)total,
           inspect_bytes_text(4.0 * (double)total, size, sizeof size));
    if (json_array_size(unknown)) {
        printf("unknown classes:");
        for (size_t k = 0; k < json_array_size(unknown); k++)
            printf("%s %s", k ? "," : "", json_string_value(json_array_get(unknown, k)));
        printf(" (register them, or load a library that does with --custom-lib)\n");
    }
    json_decref(unknown);
    training_print(stdout, tc);
    return EXIT_OK;
}

static int run_summary(int argc, char **argv)
{
    const char *file = NULL;
    bool as_json = false;
    const inspect_opt opts[] = {
        {"--json", OPT_FLAG, &as_json},
        {"--custom-lib", OPT_PLUGIN, NULL},
    };
    int rc = inspect_parse(&cmd_summary, argc, argv, opts, 2, &file, 1, 1, "missing FILE");
    if (rc >= 0) return rc;
    kc_h5file *f = inspect_open(file);
    if (!f) return EXIT_INVALID;
    if (kc_h5file_contents(f) == KC_H5FILE_WEIGHTS) {
        rc = weights_only(f, as_json);
        kc_h5file_close(f);
        return rc;
    }
    kc_error err = {0};
    json_t *mc = NULL, *tc = NULL;
    kc_object *model = NULL;
    rc = EXIT_INVALID;
    arch_model *a = arch_load(f, &mc);
    if (!a) goto out;
    if (kc_h5file_attr_json(f, "training_config", &tc, &err) != KC_OK) {
        inspect_print_error(&err);
        goto out;
    }
    kc_load_options lo = {.no_compile = true, .warn = inspect_warn};
    model = kc_model_load(file, &lo, &err);
    if (model) rc = loaded(f, model, a, tc, as_json);
    else if (err.code == KC_ENOTFOUND || err.code == KC_EUNSUPPORTED) rc = not_loaded(f, a, tc, &err, as_json);
    else inspect_print_error(&err);
out:
    kc_object_unref(model);
    arch_free(a);
    json_decref(mc);
    json_decref(tc);
    kc_h5file_close(f);
    return rc;
}
