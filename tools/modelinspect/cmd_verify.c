/* modelinspect verify: load a file completely, as a program would. */
#include "inspect.h"

#include <string.h>

static int run_verify(int argc, char **argv);

const inspect_command cmd_verify = {
    .name = "verify",
    .synopsis = "verify FILE [--custom-lib LIB.so]...",
    .help = "Load FILE completely: model config, every layer, every weight (shapes checked\n"
            "against the config), the training config and optimizer state. Prints one line\n"
            "describing the model and exits 0, or prints the error with its context (file,\n"
            "layer, weight, JSON path) and exits 2. A model without inputs (its input shape\n"
            "unknown) loads but cannot run: exit 2.\n\n"
            "  --custom-lib LIB.so  a shared library of custom classes and functions: it is\n"
            "                       loaded first and its entry point\n"
            "                           kc_status ckeras_plugin_init(kc_error *err)\n"
            "                       registers them (kc_register_class, ...). Repeatable.\n",
    .run = run_verify,
    .isolation = ISOLATE_WHOLE,
};

static int run_verify(int argc, char **argv)
{
    const char *file = NULL;
    kc_error err = {0};
    const inspect_opt options[] = {{"--custom-lib", OPT_PLUGIN, NULL}};
    int rc = inspect_parse(&cmd_verify, argc, argv, options, 1, &file, 1, 1, "missing FILE");
    if (rc >= 0) return rc;

    int warnings = 0;
    kc_load_options opts = {.warn = inspect_warn, .warn_user = &warnings};
    kc_object *model = kc_model_load(file, &opts, &err);
    if (!model) {
        inspect_print_error(&err);
        return EXIT_INVALID;
    }
    if (kc_model_num_inputs(model) == 0) {
        /* loads, but cannot run: nothing says what it takes (a Sequential
         * without an input shape, a subclassed model never built) */
        fprintf(stderr, "modelinspect: %s: %s '%s' has no inputs: its input shape is unknown, so it cannot be "
                        "built or run (give its first layer an input shape)\n",
                file, kc_object_name(model), kc_layer_name(model));
        kc_object_unref(model);
        return EXIT_INVALID;
    }
    int64_t params = kc_layer_count_params(model);
    printf("%s: OK: %s '%s', %d layers, %lld parameters, %d input%s, %d output%s%s\n", file,
           kc_object_name(model), kc_layer_name(model), kc_model_num_layers(model),
           (long long)params, kc_model_num_inputs(model), kc_model_num_inputs(model) == 1 ? "" : "s",
           kc_model_num_outputs(model), kc_model_num_outputs(model) == 1 ? "" : "s",
           kc_model_is_compiled(model) ? ", compiled" : "");
    kc_object_unref(model);
    return EXIT_OK;
}
