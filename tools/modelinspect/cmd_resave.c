/* modelinspect resave: load a file and save it again with ckeras' writer. */
#include "inspect.h"

#include <string.h>

static int run_resave(int argc, char **argv);

const inspect_command cmd_resave = {
    .name = "resave",
    .synopsis = "resave IN.h5 OUT.h5 [--no-optimizer] [--custom-lib LIB.so]...",
    .help = "Load IN.h5 and save it as OUT.h5 in the Keras 2 legacy layout ckeras writes\n"
            "(readable by Keras, TensorFlow.js and h5dump). Weights are kept bit for bit;\n"
            "the training config and optimizer state are kept unless --no-optimizer.\n"
            "OUT.h5 is replaced atomically. Exit 0, or 2 with the error.\n",
    .run = run_resave,
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
    int rc = inspect_parse(&cmd_resave, argc, argv, opts, 2, files, 2, 2, "need IN.h5 and OUT.h5");
    if (rc >= 0) return rc;

    kc_load_options lopts = {.warn = inspect_warn, .no_compile = no_optimizer};
    kc_object *model = kc_model_load(files[0], &lopts, &err);
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
