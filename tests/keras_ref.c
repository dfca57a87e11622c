/* Locating and running keras-ref (see keras_ref.h). */
#define _DEFAULT_SOURCE /* popen */
#include "keras_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char script[4096];

const char *kr_find(char *why, int n)
{
    static int state; /* 0 unknown, 1 ready, 2 unavailable */
    static char reason[4600];
    if (state == 0) {
        const char *dir = getenv("CKERAS_CONFORMANCE_DIR");
        const char *root = getenv("CKERAS_SOURCE_ROOT");
        char base[2048];
        if (dir) snprintf(base, sizeof base, "%.2000s", dir);
        else snprintf(base, sizeof base, "%.2000s/../shared/conformance", root ? root : "..");
        snprintf(script, sizeof script, "%s/keras-ref", base);
        state = 2;
        if (access(script, X_OK) != 0) {
            snprintf(reason, sizeof reason, "keras-ref not found at %s", script);
        } else if (system("command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1") != 0) {
            snprintf(reason, sizeof reason, "Node.js or npm is not installed");
        } else {
            char cmd[4200];
            snprintf(cmd, sizeof cmd, "'%s/setup' >/dev/null", base);
            if (system(cmd) != 0) snprintf(reason, sizeof reason, "keras-ref setup failed (%s)", cmd);
            else state = 1;
        }
    }
    if (state == 1) return script;
    snprintf(why, (size_t)n, "%s", reason);
    return NULL;
}

int kr_run(const char *args, char *out, int n)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", script, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    tu_count_reference_check();
    size_t len = fread(out, 1, (size_t)n - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
