/* modelinspect: command lines, messages, opening files, the sandbox and
 * plugin loading shared by subcommands. */
#define _GNU_SOURCE /* memfd_create */
#include "inspect.h"

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int inspect_parse(const inspect_command *cmd, int argc, char **argv, const inspect_opt *opts, int n_opts,
                  const char **files, int min_files, int max_files, const char *files_msg)
{
    int n_files = 0;
    for (int i = 1; i < argc; i++) {
        const inspect_opt *o = NULL;
        for (int k = 0; k < n_opts && !o; k++)
            if (strcmp(argv[i], opts[k].name) == 0) o = &opts[k];
        if (!o) {
            if (argv[i][0] == '-' && argv[i][1]) return inspect_usage(cmd, "unknown option '%s'", argv[i]);
            if (n_files == max_files) return inspect_usage(cmd, "too many files");
            files[n_files++] = argv[i];
            continue;
        }
        if (o->type == OPT_FLAG) {
            *(bool *)o->target = true;
            continue;
        }
        if (++i == argc) return inspect_usage(cmd, "%s needs a value", o->name);
        if (o->type == OPT_STRING) {
            *(const char **)o->target = argv[i];
        } else if (o->type == OPT_NUMBER) {
            char *end;
            double v = strtod(argv[i], &end);
            if (end == argv[i] || *end || !isfinite(v)) return inspect_usage(cmd, "%s needs a number, not '%s'", o->name, argv[i]);
            *(double *)o->target = v;
        } else {
            kc_error err = {0};
            if (inspect_load_plugin(argv[i], &err) != KC_OK) {
                inspect_print_error(&err);
                return EXIT_INVALID;
            }
        }
    }
    if (n_files < min_files) return inspect_usage(cmd, "%s", files_msg);
    return -1;
}

void inspect_print_error(const kc_error *err)
{
    if (err->context[0]) fprintf(stderr, "modelinspect: %s (%s)\n", err->message, err->context);
    else fprintf(stderr, "modelinspect: %s\n", err->message[0] ? err->message : kc_strerror(err->code));
}

int inspect_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("modelinspect: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

kc_status inspect_errf(kc_error *err, kc_status code, const char *context, const char *fmt, ...)
{
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    snprintf(err->context, sizeof err->context, "%s", context ? context : "");
    err->code = code;
    return code;
}

int inspect_usage(const inspect_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("modelinspect: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nusage: modelinspect %s\n", cmd->synopsis);
    va_end(ap);
    return EXIT_USAGE;
}

bool inspect_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return true;
    return false;
}

int inspect_print_help(const inspect_command *cmd)
{
    printf("usage: modelinspect %s\n\n%s", cmd->synopsis, cmd->help);
    return EXIT_OK;
}

kc_status inspect_load_plugin(const char *path, kc_error *err)
{
    /* The handle stays open for the life of the process: the classes it
     * registers point into it. */
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(err->message, sizeof err->message, "cannot load custom library: %s", dlerror());
        err->code = KC_EIO;
        return KC_EIO;
    }
    kc_status (*init)(kc_error *) = NULL;
    *(void **)&init = dlsym(handle, "ckeras_plugin_init");
    if (!init) {
        snprintf(err->message, sizeof err->message,
                 "custom library has no ckeras_plugin_init(kc_error *) entry point");
        snprintf(err->context, sizeof err->context, "%s", path);
        err->code = KC_ENOTFOUND;
        return KC_ENOTFOUND;
    }
    kc_status rc = init(err);
    if (rc != KC_OK && err->code == KC_OK) {
        snprintf(err->message, sizeof err->message, "ckeras_plugin_init failed: %s", kc_strerror(rc));
        err->code = rc;
    }
    return rc;
}

void inspect_warn(void *user, const char *message)
{
    (void)user;
    fprintf(stderr, "modelinspect: warning: %s\n", message);
}

bool inspect_trusted;
double inspect_timeout;

int inspect_isolated(int (*fn)(void *), void *ctx, const char *const *files, char **captured, size_t *n)
{
    if (captured) *captured = NULL;
    if (n) *n = 0;
    int out = -1, saved = -1;
    if (captured) { /* the child's standard output goes to a memfd */
        fflush(stdout);
        out = memfd_create("modelinspect-output", MFD_CLOEXEC);
        saved = out >= 0 ? dup(1) : -1;
        if (saved < 0 || dup2(out, 1) < 0) return inspect_fail(EXIT_INVALID, "cannot capture the sandbox's output");
    }
    kc_sandbox_options so = {.readable_files = files, .keep_stdio = true, .timeout_seconds = inspect_timeout};
    kc_error err = {0};
    int code = EXIT_INVALID;
    kc_status rc = kc_sandbox_run(fn, ctx, &so, &code, &err);
    if (captured) {
        dup2(saved, 1);
        close(saved);
        off_t size = lseek(out, 0, SEEK_END);
        char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
        if (buf && pread(out, buf, (size_t)size, 0) == (ssize_t)size) {
            buf[size] = '\0';
            *captured = buf;
            *n = (size_t)size;
        } else {
            free(buf);
            if (rc == KC_OK) rc = kc_error_set(&err, KC_ENOMEM, "cannot read the sandbox's output");
        }
        close(out);
    }
    if (rc != KC_OK) {
        inspect_print_error(&err);
        return EXIT_INVALID;
    }
    return code;
}

kc_object *inspect_load_model(const char *path, const kc_load_options *opts, kc_error *err)
{
    kc_untrusted_limits lim = {.timeout_seconds = inspect_timeout};
    return inspect_trusted ? kc_model_load(path, opts, err) : kc_model_load_untrusted(path, opts, &lim, err);
}

kc_h5file *inspect_open(const char *path)
{
    kc_error err = {0};
    kc_h5file *f = kc_h5file_open(path, &err);
    if (!f) inspect_print_error(&err);
    return f;
}

int inspect_tree(kc_h5file *f, const kc_h5file_layer **layers, size_t *n_layers, const kc_h5file_weight **weights,
                 size_t *n_weights)
{
    kc_error err = {0};
    if (kc_h5file_layers(f, layers, n_layers, &err) == KC_OK && kc_h5file_weights(f, weights, n_weights, &err) == KC_OK)
        return EXIT_OK;
    inspect_print_error(&err);
    return EXIT_INVALID;
}
