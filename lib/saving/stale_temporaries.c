/* Temporaries a killed save left behind.
 *
 * A save writes "<target>.tmp-<pid>-<n>" and renames it over the target;
 * kill -9 in between leaves the temporary, forever. The next save of the
 * same target removes such files, and only when all of these hold: the
 * name is exactly ckeras' pattern for this target, it is a regular file
 * (not a link), the process named in it is gone, and it was last written
 * before the running process started (so a save still in progress, in
 * this or another process, is never touched -- whatever the pid says).
 * Without /proc (no start time) nothing is removed. */
#define _GNU_SOURCE /* CLOCK_BOOTTIME */
#include "saving_int.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* When this process started, in CLOCK_REALTIME seconds (0: unknown). */
static double process_start(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return 0;
    char line[1024];
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* field 22 (starttime, clock ticks after boot) follows the ")" that
     * closes the command name, which may itself hold spaces */
    char *p = strrchr(line, ')');
    if (!p) return 0;
    unsigned long long ticks = 0;
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &ticks) != 1)
        return 0;
    long hz = sysconf(_SC_CLK_TCK);
    struct timespec real, boot;
    if (hz <= 0 || clock_gettime(CLOCK_REALTIME, &real) != 0 || clock_gettime(CLOCK_BOOTTIME, &boot) != 0) return 0;
    double since_boot = (double)boot.tv_sec + 1e-9 * (double)boot.tv_nsec;
    return (double)real.tv_sec + 1e-9 * (double)real.tv_nsec - since_boot + (double)ticks / (double)hz;
}

/* name is "<base>.tmp-<pid>-<n>": *pid receives the pid. */
static bool is_our_temporary(const char *name, const char *base, long *pid)
{
    size_t k = strlen(base);
    if (strncmp(name, base, k) != 0 || strncmp(name + k, ".tmp-", 5) != 0) return false;
    const char *p = name + k + 5;
    char *end;
    if (*p < '1' || *p > '9') return false;
    *pid = strtol(p, &end, 10);
    if (*end != '-' || end[1] < '0' || end[1] > '9') return false;
    for (p = end + 1; *p; p++)
        if (*p < '0' || *p > '9') return false;
    return *pid > 0;
}

void kc__remove_stale_temporaries(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t n_dir = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *folder = kc__malloc(n_dir + 1);
    if (!folder || !*base) {
        kc__free(folder);
        return;
    }
    memcpy(folder, slash ? path : ".", n_dir);
    folder[n_dir] = '\0';
    double started = process_start();
    DIR *d = started > 0 ? opendir(folder) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        long pid;
        if (!is_our_temporary(e->d_name, base, &pid) || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its process may still be writing it */
        size_t n = n_dir + strlen(e->d_name) + 2;
        char *full = kc__malloc(n);
        if (!full) break;
        snprintf(full, n, "%s/%s", folder, e->d_name);
        struct stat st;
        if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) &&
            (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec < started)
            unlink(full);
        kc__free(full);
    }
    if (d) closedir(d);
    kc__free(folder);
}
