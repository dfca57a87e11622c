/* modelinspect resave: load a file and save it again with ckeras' writer,
 * in the format OUT's extension names (.keras, .h5): a conversion both
 * ways between Keras 2's .h5 layout and Keras 3's archive. */
#include "inspect.h"

#include <string.h>

static int run_resave(int argc, char **argv);

const inspect_command cmd_resave = {
    .name = "resave",
    .synopsis = "resave IN OUT [--no-optimizer] [--custom-lib LIB.so]...",
    .help = "Load IN (.h5 or .keras, told by its content) and save it as OUT, in the format\n"
            "OUT's extension names: OUT.keras as a Keras 3 archive (config.json,\n"
            "metadata.json, model.weights.h5), anything else (OUT.h5) in the Keras 2 legacy\n"
            "layout ckeras writes (readable by Keras, TensorFlow.js and h5dump). Weights are\n"
            "kept bit for bit; the training config and optimizer state are kept unless\n"
            "--no-optimizer. OUT is replaced atomically. Exit 0, or 2 with the error.\n",
    .run = run_resave,
    .isolation = ISOLATE_ITSELF,
};

static int run_resave(int argc, char **argv)
{
    const char *files[2] = {NULL, NULL};
    bool no_optimizer = false;
    kc_error err = {0};
    const inspect_opt opts[] = {
        {"--custom-lib", OPT_PLUGIN, NULL},
        {"--no-optimizer", OPT_FLAG, &no_optimizer},
    };
    int rc = inspect_parse(&cmd_resave, argc, argv, opts, 2, files, 2, 2, "need IN and OUT");
    if (rc >= 0) return rc;

    kc_load_options lopts = {.warn = inspect_warn, .no_compile = no_optimizer};
    kc_object *model = inspect_load_model(files[0], &lopts, &err);
    if (!model) {
        inspect_print_error(&err);
        return EXIT_INVALID;
    }
    kc_save_options sopts = {.exclude_optimizer = no_optimizer};
    kc_status st = kc_model_save(model, files[1], &sopts, &err);
    kc_object_unref(model);
    if (st != KC_OK) {
        inspect_print_error(&err);
        return EXIT_INVALID;
    }
    return EXIT_OK;
}
