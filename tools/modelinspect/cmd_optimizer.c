/* modelinspect optimizer: the optimizer a file was compiled with
 * (training_config's optimizer_config; a .keras archive's compile_config)
 * and the state it saved (/optimizer_weights, or a Keras 3 file's
 * /optimizer/vars: the iteration counter and one slot variable per
 * trainable weight and slot kind, spec section 7.2). Read from the file,
 * so it works when the optimizer's or the model's classes are unknown. */
#include "inspect.h"
#include "training.h"

#include <string.h>

static int run_optimizer(int argc, char **argv);

const inspect_command cmd_optimizer = {
    .name = "optimizer",
    .synopsis = "optimizer FILE [--json]",
    .help = "Print the optimizer FILE was compiled with (class and hyperparameters, from\n"
            "training_config, or a .keras archive's compile_config) and the state saved in\n"
            "/optimizer_weights (Keras 3 files: /optimizer/vars): the iteration count and\n"
            "every slot variable with its shape and dtype, or \"no optimizer state\" when\n"
            "the file has none (not trained yet, or saved without it).\n\n"
            "  --json  machine-readable output\n\n"
            "Exit 0, or 2 when the file cannot be read.\n",
    .run = run_optimizer,
    .isolation = ISOLATE_WHOLE,
};

/* The counter: legacy optimizers name it "<Opt>/iter:0", tf.keras >= 2.11
 * "iteration:0", Keras 3 "<opt>/iteration"; Keras 2.0 "iterations". */
static bool is_counter(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t len = strcspn(base, ":");
    static const char *const names[] = {"iter", "iteration", "iterations"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == len && strncmp(base, names[i], len) == 0) return true;
    return false;
}

static int run_optimizer(int argc, char **argv)
{
    const char *file = NULL;
    bool as_json = false;
    const inspect_opt opts[] = {{"--json", OPT_FLAG, &as_json}};
    int rc = inspect_parse(&cmd_optimizer, argc, argv, opts, 1, &file, 1, 1, "missing FILE");
    if (rc >= 0) return rc;
    kc_h5file *f = inspect_open(file);
    if (!f) return EXIT_INVALID;
    json_t *tc = NULL;
    const kc_h5file_weight *w = NULL;
    size_t n = 0;
    kc_error err = {0};
    if (kc_h5file_attr_json(f, "training_config", &tc, &err) != KC_OK ||
        kc_h5file_optimizer_weights(f, &w, &n, &err) != KC_OK) {
        inspect_print_error(&err);
        json_decref(tc);
        kc_h5file_close(f);
        return EXIT_INVALID;
    }
    /* the counter's value */
    long long iterations = -1;
    for (size_t i = 0; i < n && iterations < 0; i++) {
        if (!is_counter(w[i].name) || w[i].size != 1) continue;
        kc_tensor *t = NULL;
        if (kc_h5file_read(f, &w[i], &t, &err) != KC_OK) {
            inspect_print_error(&err);
            json_decref(tc);
            kc_h5file_close(f);
            return EXIT_INVALID;
        }
        iterations = (long long)kc_tensor_get(t, 0);
        kc_tensor_unref(t);
    }
    int64_t values = 0;
    for (size_t i = 0; i < n; i++) values += w[i].size;
    const json_t *oc = training_optimizer(tc);
    if (as_json) {
        json_t *state = json_null();
        if (n) {
            json_t *list = json_array();
            for (size_t i = 0; i < n; i++)
                json_array_append_new(list, json_pack("{s:s, s:o, s:s, s:I}", "name", w[i].name, "shape",
                                                      inspect_shape_json(w[i].ndim, w[i].dims), "dtype", w[i].dtype,
                                                      "size", (json_int_t)w[i].size));
            state = json_pack("{s:o, s:o, s:I}", "iterations", iterations >= 0 ? json_integer(iterations) : json_null(),
                              "weights", list, "total_values", (json_int_t)values);
        }
        rc = inspect_emit_json(json_pack("{s:s, s:b, s:o, s:o}", "file", file, "compiled", tc != NULL, "optimizer",
                                         oc ? json_deep_copy(oc) : json_null(), "state", state));
    } else {
        char text[4096];
        if (!tc) printf("not compiled: the file has no training_config\n");
        else if (!oc) printf("optimizer: none in training_config\n");
        else {
            training_optimizer_text(oc, text, sizeof text);
            printf("optimizer: %s\n", text);
        }
        const char *group = strcmp(kc_h5file_format(f), "h5") == 0 ? "/optimizer_weights" : "/optimizer/vars";
        if (!n) {
            printf("no optimizer state (the file has no %s)\n", group);
        } else {
            printf("state: %zu weight%s in %s, %lld values\n", n, n == 1 ? "" : "s", group, (long long)values);
            if (iterations >= 0) printf("iterations: %lld\n", iterations);
            else printf("iterations: not saved\n");
            static const char *const headers[] = {"weight", "shape", "dtype"};
            inspect_table t;
            table_init(&t, 3, headers);
            for (size_t i = 0; i < n; i++) {
                char shape[256];
                const char *row[3] = {w[i].name, inspect_shape_text(w[i].ndim, w[i].dims, shape, sizeof shape), w[i].dtype};
                table_row(&t, row);
            }
            table_print(&t, stdout);
            table_free(&t);
        }
        rc = EXIT_OK;
    }
    json_decref(tc);
    kc_h5file_close(f);
    return rc;
}
