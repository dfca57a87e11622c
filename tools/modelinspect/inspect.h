/* modelinspect: shared declarations of the subcommands.
 *
 * Exit codes (sysexits-like, as the issue fixes them): */
#ifndef MODELINSPECT_INSPECT_H
#define MODELINSPECT_INSPECT_H

#include <ckeras.h>

#include <stdbool.h>
#include <stdio.h>

enum {
    EXIT_OK = 0,        /* done; files equal (diff) */
    EXIT_DIFFERENT = 1, /* diff found a difference */
    EXIT_INVALID = 2,   /* unreadable or invalid file, failed load */
    EXIT_USAGE = 64     /* bad command line */
};

/* One subcommand: argv[0] is the subcommand's name. */
typedef struct inspect_command {
    const char *name;
    const char *synopsis; /* one line, after "modelinspect " */
    const char *help;     /* the --help text after the synopsis */
    int (*run)(int argc, char **argv);
} inspect_command;

extern const inspect_command cmd_verify, cmd_predict, cmd_resave;

/* "modelinspect: message (context)" on stderr. */
void inspect_print_error(const kc_error *err);
/* "modelinspect: <printf>" on stderr; returns code. */
int inspect_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error for a subcommand: message, synopsis, exit 64. */
int inspect_usage(const inspect_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True when argv holds -h/--help (the command then prints its help). */
bool inspect_wants_help(int argc, char **argv);
int inspect_print_help(const inspect_command *cmd);

/* dlopen a library of custom classes and run its registration entry point
 * `kc_status ckeras_plugin_init(kc_error *err)`. */
kc_status inspect_load_plugin(const char *path, kc_error *err);

/* Warnings of a load go to stderr as "modelinspect: warning: ...". */
void inspect_warn(void *user, const char *message);

#endif
