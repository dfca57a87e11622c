/* modelinspect: look inside Keras .h5 model files (ckeras' or Keras').
 *
 *     modelinspect COMMAND [ARGS...]     modelinspect COMMAND --help
 *
 * Each command lives in its own cmd_*.c file and is listed here. */
#include "inspect.h"

#include <string.h>

static const inspect_command *const commands[] = {
    &cmd_summary,
    &cmd_config,
    &cmd_weights,
    &cmd_diff,
    &cmd_verify,
    &cmd_graph,
    &cmd_optimizer,
    &cmd_predict,
    &cmd_resave,
    &cmd_history,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *out)
{
    fprintf(out, "usage: modelinspect COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(out, "  %s\n", commands[i]->synopsis);
    fprintf(out, "\n'modelinspect COMMAND --help' describes a command.\n"
                 "exit status: 0 ok, 1 files differ (diff), 2 invalid or unreadable file, "
                 "64 usage error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("modelinspect (ckeras %s)\n", kc_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i]->name) != 0) continue;
        kc_error err = {0};
        if (kc_init(&err) != KC_OK) {
            inspect_print_error(&err);
            return EXIT_INVALID;
        }
        if (inspect_wants_help(argc - 1, argv + 1)) return inspect_print_help(commands[i]);
        int rc = commands[i]->run(argc - 1, argv + 1);
        kc_release_caches();
        return rc;
    }
    fprintf(stderr, "modelinspect: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return EXIT_USAGE;
}
