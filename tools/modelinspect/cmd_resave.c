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
    int n_files = 0;
    bool no_optimizer = false;
    kc_error err = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--custom-lib") == 0) {
            if (++i == argc) return inspect_usage(&cmd_resave, "--custom-lib needs a library path");
            if (inspect_load_plugin(argv[i], &err) != KC_OK) {
                inspect_print_error(&err);
                return EXIT_INVALID;
            }
        } else if (strcmp(argv[i], "--no-optimizer") == 0) {
            no_optimizer = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return inspect_usage(&cmd_resave, "unknown option '%s'", argv[i]);
        } else if (n_files == 2) {
            return inspect_usage(&cmd_resave, "too many files");
        } else {
            files[n_files++] = argv[i];
        }
    }
    if (n_files != 2) return inspect_usage(&cmd_resave, "need IN.h5 and OUT.h5");

    kc_load_options lopts = {.warn = inspect_warn, .no_compile = no_optimizer};
    kc_object *model = kc_model_load(files[0], &lopts, &err);
    if (!model) {
        inspect_print_error(&err);
        return EXIT_INVALID;
    }
    kc_save_options sopts = {.exclude_optimizer = no_optimizer};
    kc_status rc = kc_model_save(model, files[1], &sopts, &err);
    kc_object_unref(model);
    if (rc != KC_OK) {
        inspect_print_error(&err);
        return EXIT_INVALID;
    }
    return EXIT_OK;
}
