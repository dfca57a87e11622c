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
    /* How it reads model files unless --trusted (README, "Loading files
     * you did not make"): */
    enum {
        ISOLATE_WHOLE,   /* it only reads files and prints: run entirely in the sandbox */
        ISOLATE_ITSELF,  /* it isolates its own reading (it writes files or draws) */
        ISOLATE_NOTHING  /* it opens no model file */
    } isolation;
} inspect_command;

/* --trusted: open model files in this process, as before (main.c);
 * --timeout: the sandbox's limit in seconds (0: ckeras' default, 60). */
extern bool inspect_trusted;
extern double inspect_timeout;

extern const inspect_command cmd_summary, cmd_config, cmd_weights, cmd_diff, cmd_graph, cmd_optimizer,
    cmd_verify, cmd_predict, cmd_resave;
extern const inspect_command cmd_history;

/* ---- command lines ---- */

typedef enum inspect_opt_type {
    OPT_FLAG,   /* bool *: set when present */
    OPT_STRING, /* const char **: the next argument */
    OPT_NUMBER, /* double *: the next argument, a finite number */
    OPT_PLUGIN  /* the next argument is a --custom-lib library: loaded at once */
} inspect_opt_type;

typedef struct inspect_opt {
    const char *name; /* "--json" */
    inspect_opt_type type;
    void *target;
} inspect_opt;

/* Parse argv[1..]: the options in opts (n_opts of them) and positional
 * FILE arguments into files[0..max_files). Fewer than min_files is a
 * usage error with files_msg. Returns -1 when the command may run, else
 * the exit code to return (usage errors print the synopsis). */
int inspect_parse(const inspect_command *cmd, int argc, char **argv, const inspect_opt *opts, int n_opts,
                  const char **files, int min_files, int max_files, const char *files_msg);

/* ---- messages ---- */

/* For files that hold no model_config; %s: the file. */
#define WEIGHTS_ONLY_MESSAGE "'%s' holds only weights (model.save_weights): it has no model_config"

/* "modelinspect: message (context)" on stderr. */
void inspect_print_error(const kc_error *err);
/* "modelinspect: <printf>" on stderr; returns code. */
int inspect_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fill err (code, context, message); returns code. */
kc_status inspect_errf(kc_error *err, kc_status code, const char *context, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
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

/* Run fn(ctx) in ckeras' sandbox (kc_sandbox_run): the files named in
 * `files` (NULL-terminated) are the only ones it may open. With `captured`,
 * what fn prints on standard output is returned there (malloc'd, *n
 * bytes) instead of being printed. Returns fn's exit code, or EXIT_INVALID
 * after printing why the sandbox did not let it finish (a crash, the
 * timeout, a limit). */
int inspect_isolated(int (*fn)(void *), void *ctx, const char *const *files, char **captured, size_t *n);
/* kc_model_load, through kc_model_load_untrusted unless --trusted. */
kc_object *inspect_load_model(const char *path, const kc_load_options *opts, kc_error *err);

/* kc_h5file_open, printing the error. NULL on failure. */
kc_h5file *inspect_open(const char *path);
/* The file's layer groups and weights (kc_h5file_layers / _weights),
 * printing the error. Returns EXIT_OK or EXIT_INVALID. */
int inspect_tree(kc_h5file *f, const kc_h5file_layer **layers, size_t *n_layers, const kc_h5file_weight **weights,
                 size_t *n_weights);

/* ---- output ---- */

/* snprintf that may truncate (labels and table cells): always terminated. */
void inspect_format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* JSON as Python prints it: numbers in their shortest exact form ("0.001",
 * "1.0", "1e-07"), indent spaces per level (0: compact on one line).
 * inspect_json_text returns a malloc'd string. */
void inspect_json_print(FILE *out, const json_t *v, int indent);
char *inspect_json_text(const json_t *v);
/* --json output: root printed with indent 2 and a newline, then released. */
int inspect_emit_json(json_t *root);
/* [null, 8] for (None, 8). New reference. */
json_t *inspect_shape_json(int ndim, const int64_t *dims);
/* "(16, 64)", "()" for scalars. Returns buf. */
const char *inspect_shape_text(int ndim, const int64_t *dims, char *buf, size_t size);
/* Keras' readable sizes: "164.00 Byte", "14.77 KB". Returns buf. */
const char *inspect_bytes_text(double bytes, char *buf, size_t size);

/* A text table: left-aligned columns two spaces apart (right-aligned
 * where asked), header underlined. */
#define TABLE_MAX_COLS 16
typedef struct inspect_table {
    int ncols; /* 1..TABLE_MAX_COLS */
    bool right[TABLE_MAX_COLS];
    char **cells; /* rows x ncols, malloc'd strings */
    size_t n_rows, cap;
    bool oom;
} inspect_table;
void table_init(inspect_table *t, int ncols, const char *const *headers);
/* Append a row of ncols cells (copied). */
void table_row(inspect_table *t, const char *const *cells);
/* A line of its own under the last row, e.g. "    (unknown class: ...)". */
void table_note(inspect_table *t, const char *text);
void table_print(const inspect_table *t, FILE *out);
void table_free(inspect_table *t);

#endif
