/* Running a function in a sandboxed child process (include/ckeras/sandbox.h).
 *
 * fork() without exec: the child is a copy of the caller, so it already has
 * the caller's registered classes and custom objects, and the code it runs
 * is exactly the code the caller would have run in-process. The child
 * confines itself (confine.c) before calling fn; the parent waits, with a
 * deadline, and turns what became of the child into a status.
 *
 * How the parent waits: the child holds the write end of a pipe, on which
 * it reports a fatal signal (crash_site.c) or a failed set-up, and a pidfd
 * tells the parent the moment the child is gone. The parent polls both in
 * short slices and asks waitpid(WNOHANG) in between, so that neither a
 * child that closes the pipe early nor a stray copy of the pipe (another
 * thread forking at the same moment) can make it wait past the deadline.
 * waitpid names our child's pid only: other children of the application
 * are never reaped here. (An application that ignores SIGCHLD has its
 * children reaped by the kernel; then the exit status is lost and only
 * the report on the pipe tells a crash from success.) */
#define _GNU_SOURCE /* pipe2, sigabbrev_np */
#include "isolation_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT 60.0
#define DEFAULT_MEMORY ((int64_t)1 << 30)
#define SETUP_FAILED 127 /* the child's exit status when it could not confine itself */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The child: confine, run, exit. Never returns. */
static void child_main(const kc__sandbox *sb, kc_sandbox_fn fn, void *ctx, pid_t parent, int report_fd)
{
    const char *step = "";
    int e = kc__sandbox_confine(sb, parent, report_fd, &step);
    if (e != 0) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "S%s: %s\n", step, strerror(e));
        if (n > 0 && write(report_fd, msg, (size_t)n) < 0) _exit(SETUP_FAILED);
        _exit(SETUP_FAILED);
    }
    int code = fn(ctx);
    if (sb->keep_stdio) {
        fflush(stdout);
        fflush(stderr);
    }
    _exit(code & 255); /* no atexit handlers, no flushing of the caller's buffers */
}

/* Read what the child reported into out (one line: a crash or a failed set-up). */
static void take_report(const char *report, kc__sandbox_outcome *out)
{
    if (report[0] == 'C') {
        const char *sp = strchr(report, ' ');
        out->crashed = true;
        if (sp) snprintf(out->crash_site, sizeof out->crash_site, "%.*s", (int)strcspn(sp + 1, "\n"), sp + 1);
    } else if (report[0] == 'S') {
        snprintf(out->setup_error, sizeof out->setup_error, "%.*s", (int)strcspn(report + 1, "\n"), report + 1);
    }
}

/* A descriptor that becomes readable when pid exits (Linux 5.3+), or -1. */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

/* Wait for pid until deadline, reading its report pipe. The child's exit
 * wakes the wait at once through a pidfd; without one (older kernels) the
 * wait naps, in short steps, once the pipe has closed. */
static void wait_child(pid_t pid, int pipe_fd, double deadline, kc__sandbox_outcome *out)
{
    char report[256];
    size_t n_report = 0;
    bool eof = false;
    int status = 0;
    double nap = 1e-4;
    int pidfd = open_pidfd(pid);
    for (;;) {
        double left = deadline - now();
        if (!eof || pidfd >= 0) {
            struct pollfd p[2] = {{.fd = eof ? -1 : pipe_fd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
            int ms = left <= 0 ? 0 : left > 0.05 ? 50 : (int)(left * 1000) + 1;
            if (poll(p, 2, ms) > 0 && (p[0].revents & (POLLIN | POLLHUP))) {
                char buf[256];
                ssize_t got = read(pipe_fd, buf, sizeof buf);
                if (got > 0) {
                    size_t k = (size_t)got < sizeof report - 1 - n_report ? (size_t)got : sizeof report - 1 - n_report;
                    memcpy(report + n_report, buf, k);
                    n_report += k;
                } else if (got == 0 || errno != EINTR) {
                    eof = true;
                }
            }
        } else if (left > 0) {
            sleep_seconds(nap < left ? nap : left); /* the pipe closed: it is exiting */
            if (nap < 0.01) nap *= 2;
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno == ECHILD) { /* reaped by the kernel (SIGCHLD ignored): status lost */
            status = -1;
            break;
        }
        if (now() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            out->timed_out = true;
            break;
        }
    }
    if (pidfd >= 0) close(pidfd);
    /* what the child wrote just before it ended */
    for (ssize_t got; n_report < sizeof report - 1 && (got = read(pipe_fd, report + n_report, sizeof report - 1 - n_report)) > 0;)
        n_report += (size_t)got;
    report[n_report] = '\0';
    take_report(report, out);
    if (out->timed_out) {
        out->signal = SIGKILL;
    } else if (status == -1) {
        out->exited = !out->crashed && !out->setup_error[0];
        out->signal = out->crashed ? atoi(report + 1) : 0;
    } else if (WIFEXITED(status)) {
        /* a sanitizer reports, then exits: what it reported is what happened */
        out->exited = !out->crashed && (WEXITSTATUS(status) != SETUP_FAILED || !out->setup_error[0]);
        out->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        out->signal = WTERMSIG(status);
    }
}

kc_status kc__sandbox_run(const kc__sandbox *sb, kc_sandbox_fn fn, void *ctx, kc__sandbox_outcome *out,
                          kc_error *err)
{
    memset(out, 0, sizeof(*out));
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return kc__errf(err, KC_EIO, "cannot start an isolated process: pipe: %s", strerror(errno));
    fflush(NULL); /* the child must not write the caller's buffered output again */
    kc__crash_reporter_prepare();
    pid_t parent = getpid();
    double deadline = now() + sb->timeout;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return kc__errf(err, e == EAGAIN || e == ENOMEM ? KC_ELIMIT : KC_EIO,
                        "cannot start an isolated process: fork: %s", strerror(e));
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(sb, fn, ctx, parent, fds[1]);
    }
    close(fds[1]);
    wait_child(pid, fds[0], deadline, out);
    close(fds[0]);
    return KC_OK;
}

kc_status kc__sandbox_outcome_error(const kc__sandbox_outcome *o, const kc__sandbox *sb, const char *what,
                                    kc_error *err)
{
    if (o->exited) return KC_OK;
    if (o->setup_error[0])
        return kc__errf(err, KC_EINTERNAL, "the isolated %s could not be sandboxed (%s)", what, o->setup_error);
    if (o->timed_out)
        return kc__errf(err, KC_ELIMIT, "the isolated %s did not finish within %g s and was killed", what, sb->timeout);
    int sig = o->signal;
    const char *abbrev = sigabbrev_np(sig);
    if (sig == SIGXCPU)
        return kc__errf(err, KC_ELIMIT, "the isolated %s used more than its %g s of CPU time and was stopped", what,
                        ceil(sb->timeout));
    if (sig == SIGKILL)
        return kc__errf(err, KC_ELIMIT, "the isolated %s was killed (SIGKILL; out of memory?)", what);
    if (sig == SIGXFSZ)
        return kc__errf(err, KC_ELIMIT, "the isolated %s wrote more than it may", what);
    char how[48] = "";
    if (sig) snprintf(how, sizeof how, " (signal %d, SIG%s)", sig, abbrev ? abbrev : "?");
    if (o->crash_site[0]) return kc__errf(err, KC_EFORMAT, "the file crashed %s in the isolated %s%s", o->crash_site, what, how);
    return kc__errf(err, KC_EFORMAT, "the isolated %s crashed on the file%s", what, how);
}

/* ---- the public door ---------------------------------------------------------------------------- */

kc_status kc_sandbox_run(kc_sandbox_fn fn, void *ctx, const kc_sandbox_options *opts, int *exit_code, kc_error *err)
{
    if (exit_code) *exit_code = -1;
    if (!fn) return kc__errf(err, KC_EINVAL, "kc_sandbox_run: no function");
    if (opts && (!(opts->timeout_seconds >= 0) || opts->max_memory_bytes < 0))
        return kc__errf(err, KC_EINVAL, "kc_sandbox_run: negative timeout or memory limit");
    kc__sandbox sb = {
        .timeout = opts && opts->timeout_seconds > 0 ? opts->timeout_seconds : DEFAULT_TIMEOUT,
        .memory = opts && opts->max_memory_bytes > 0 ? opts->max_memory_bytes : DEFAULT_MEMORY,
        .file_bytes = opts && opts->max_memory_bytes > 0 ? opts->max_memory_bytes : DEFAULT_MEMORY,
        .readable = opts ? opts->readable_files : NULL,
        .keep_stdio = opts && opts->keep_stdio,
    };
    kc__sandbox_outcome o;
    kc_status rc = kc__sandbox_run(&sb, fn, ctx, &o, err);
    if (rc == KC_OK) rc = kc__sandbox_outcome_error(&o, &sb, "process", err);
    if (rc == KC_OK && exit_code) *exit_code = o.exit_code;
    return rc;
}

unsigned kc_sandbox_features(void) { return kc__sandbox_confine_features(); }
