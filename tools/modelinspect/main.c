/* modelinspect: look inside Keras .h5 model files (ckeras' or Keras').
 *
 *     modelinspect COMMAND [ARGS...] [--trusted | --timeout SECONDS]
 *     modelinspect COMMAND --help
 *
 * Each command lives in its own cmd_*.c file and is listed here.
 *
 * Model files may come from anyone, and the HDF5 library that parses them
 * can be crashed or taken over by a corrupted one; so unless --trusted,
 * every command that opens a model file does it in ckeras' sandbox
 * (kc_sandbox_run, kc_model_load_untrusted): the commands that only read
 * and print run there whole, the others (graph, predict, resave) isolate
 * their own reading and write their output here. A file that crashes or
 * hangs the parser is then an error message and exit status 2. */
#include "inspect.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
                 "Model files are read in a sandboxed process (--timeout SECONDS, default 60);\n"
                 "--trusted reads them in this one.\n"
                 "exit status: 0 ok, 1 files differ (diff), 2 invalid or unreadable file, "
                 "64 usage error\n");
}

/* A command run in the sandbox: the command and its arguments. */
typedef struct sandboxed {
    const inspect_command *cmd;
    int argc;
    char **argv;
} sandboxed;

static int run_sandboxed(void *ctx)
{
    const sandboxed *s = ctx;
    return s->cmd->run(s->argc, s->argv);
}

/* Run cmd in the sandbox: its --custom-lib libraries are loaded here
 * first (the sandbox maps no new code), and the arguments that name
 * regular files are the only files it may open. */
static int run_isolated(const inspect_command *cmd, int argc, char **argv)
{
    const char **files = calloc((size_t)argc + 1, sizeof(char *));
    if (!files) return inspect_fail(EXIT_INVALID, "out of memory");
    int n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (strcmp(argv[i], "--custom-lib") == 0 && i + 1 < argc) {
            kc_error err = {0};
            if (inspect_load_plugin(argv[++i], &err) != KC_OK) {
                inspect_print_error(&err);
                free(files);
                return EXIT_INVALID;
            }
        } else if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode)) {
            files[n++] = argv[i];
        }
    }
    sandboxed s = {cmd, argc, argv};
    int rc = inspect_isolated(run_sandboxed, &s, files, NULL, NULL);
    free(files);
    return rc;
}

/* Take --trusted and --timeout SECONDS out of argv (they may stand
 * anywhere after the command). Returns the new argc, or -1 after a usage
 * error. */
static int take_isolation_options(int argc, char **argv)
{
    int out = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--trusted") == 0) {
            inspect_trusted = true;
        } else if (i > 0 && strcmp(argv[i], "--timeout") == 0) {
            char *end = NULL;
            double t = i + 1 < argc ? strtod(argv[i + 1], &end) : 0;
            if (!end || *end || !(t > 0) || t > 86400) {
                fprintf(stderr, "modelinspect: --timeout needs a number of seconds (0 < S <= 86400)\n");
                return -1;
            }
            inspect_timeout = t;
            i++;
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    argc = take_isolation_options(argc, argv);
    if (argc < 0) return EXIT_USAGE;
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
        int rc = commands[i]->isolation == ISOLATE_WHOLE && !inspect_trusted
                     ? run_isolated(commands[i], argc - 1, argv + 1)
                     : commands[i]->run(argc - 1, argv + 1);
        kc_release_caches();
        return rc;
    }
    fprintf(stderr, "modelinspect: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return EXIT_USAGE;
}
