/* modelinspect: messages, usage and plugin loading shared by subcommands. */
#include "inspect.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <string.h>

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
