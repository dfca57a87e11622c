/* What a sandboxed child may do (see include/ckeras/sandbox.h).
 *
 * In order, in the child, before it touches the untrusted input:
 *   1. die with the parent; report fatal signals (crash_site.c);
 *   2. descriptors: stdin (and unless kept, stdout and stderr) from
 *      /dev/null, every inherited descriptor closed but the ones the
 *      sandbox names -- an application's sockets, logs and databases must
 *      not be reachable from code a file may have taken over;
 *   3. resource limits: CPU seconds, address space, bytes written to files,
 *      no core dumps;
 *   4. no_new_privs, then Landlock (the kernel's filesystem sandbox) to
 *      make the named files the only ones it may open, then a seccomp
 *      allow-list.
 *
 * Why seccomp through libseccomp, and Landlock as well: the threat is a
 * file that takes control of the parser (libhdf5 1.10 has known memory
 * errors on corrupted files). Such code could read the user's files, send
 * them out, write or execute files, or attack the parent (ptrace,
 * process_vm_writev, signals). The seccomp allow-list removes every system
 * call a loader does not need -- sockets, exec, ptrace, process_vm_*,
 * fork, opening files for writing, executable mappings -- which works on
 * every kernel since 3.5; libseccomp writes the BPF program for each
 * architecture and checks arguments (open flags, mmap protections, the
 * target of kill), where a hand-written filter would have to encode
 * syscall numbers per architecture. Seccomp cannot look at paths, so it
 * cannot stop reading other files; Landlock (Linux 5.13+) can, and is used
 * where the kernel offers it. no_new_privs is required by both and also
 * keeps a setuid program from gaining privileges. Denied calls fail with
 * EPERM rather than killing the child, so that a legitimate code path that
 * tries one gets an error it can report.
 *
 * The address-space limit is not set under AddressSanitizer: its shadow
 * memory reserves terabytes of address space up front. */
#define _GNU_SOURCE /* close_range, prctl */
#include "isolation_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef KC_HAVE_SECCOMP
#include <seccomp.h>
#endif
#ifdef KC_HAVE_LANDLOCK
#include <linux/landlock.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- descriptors -------------------------------------------------------------------------------- */

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void close_from(int lo, int hi)
{
    if (lo > hi) return;
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0u) == 0) return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (long fd = lo; fd <= hi && fd < max; fd++) close((int)fd);
}

/* stdio from /dev/null (stdout/stderr only unless kept); close every other
 * descriptor except keep[0..n). */
static int set_descriptors(const kc__sandbox *sb, int report_fd, const char **step)
{
    *step = "stdio";
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul < 0) return errno;
    if (dup2(nul, 0) < 0 || (!sb->keep_stdio && (dup2(nul, 1) < 0 || dup2(nul, 2) < 0))) return errno;
    if (nul > 2) close(nul);
    *step = "closing descriptors";
    int keep[64];
    int n = 0;
    keep[n++] = report_fd;
    for (int i = 0; i < sb->n_keep_fds && n < 64; i++) keep[n++] = sb->keep_fds[i];
    qsort(keep, (size_t)n, sizeof(int), cmp_int);
    int lo = 3;
    for (int i = 0; i < n; i++) {
        if (keep[i] < lo) continue;
        close_from(lo, keep[i] - 1);
        lo = keep[i] + 1;
    }
    close_from(lo, INT32_MAX);
    return 0;
}

/* ---- resource limits ---------------------------------------------------------------------------- */

/* The address space the process has now (0 when unknown). */
static int64_t address_space_now(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (int64_t)pages * (int64_t)sysconf(_SC_PAGESIZE);
}

static int set_limit(int resource, uint64_t soft, uint64_t hard)
{
    struct rlimit old, lim;
    if (getrlimit(resource, &old) != 0) return errno;
    lim.rlim_cur = (rlim_t)soft;
    lim.rlim_max = (rlim_t)hard;
    /* never above what the process may already use */
    if (old.rlim_max != RLIM_INFINITY && (lim.rlim_max == RLIM_INFINITY || lim.rlim_max > old.rlim_max))
        lim.rlim_max = old.rlim_max;
    if (lim.rlim_cur > lim.rlim_max) lim.rlim_cur = lim.rlim_max;
    return setrlimit(resource, &lim) == 0 ? 0 : errno;
}

static int set_limits(const kc__sandbox *sb, const char **step)
{
    int e;
    *step = "core limit";
    if ((e = set_limit(RLIMIT_CORE, 0, 0))) return e;
    *step = "CPU limit";
    uint64_t cpu = (uint64_t)ceil(sb->timeout);
    if ((e = set_limit(RLIMIT_CPU, cpu, cpu + 1))) return e;
    if (sb->memory > 0 && !UNDER_ASAN) {
        int64_t now = address_space_now();
        *step = "address-space limit";
        if (now > 0 && (e = set_limit(RLIMIT_AS, (uint64_t)(now + sb->memory), (uint64_t)(now + sb->memory))))
            return e;
    }
    if (sb->file_bytes > 0) {
        *step = "file-size limit";
        signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG */
        if ((e = set_limit(RLIMIT_FSIZE, (uint64_t)sb->file_bytes, (uint64_t)sb->file_bytes))) return e;
    }
    return 0;
}

/* ---- Landlock ------------------------------------------------------------------------------------- */

#ifdef KC_HAVE_LANDLOCK
static int landlock_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : (int)v;
}

/* Every filesystem right Landlock knows at `abi`, handled (so denied unless a rule allows it). */
static uint64_t all_fs_rights(int abi)
{
    uint64_t r = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                 LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                 LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2) r |= 1ull << 13; /* LANDLOCK_ACCESS_FS_REFER */
    if (abi >= 3) r |= 1ull << 14; /* LANDLOCK_ACCESS_FS_TRUNCATE */
    return r;
}

/* Make readable[] the only files the process may open (read only). */
static int restrict_files(const char *const *readable, const char **step)
{
    int abi = landlock_abi();
    if (abi <= 0 || !readable) return 0; /* no Landlock here: seccomp alone */
    *step = "Landlock";
    struct landlock_ruleset_attr attr = {.handled_access_fs = all_fs_rights(abi)};
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rs < 0) return errno;
    int e = 0;
    for (size_t i = 0; readable[i] && !e; i++) {
        int fd = open(readable[i], O_PATH | O_CLOEXEC);
        if (fd < 0) continue; /* a file that is not there cannot be read anyway */
        struct landlock_path_beneath_attr pb = {.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE, .parent_fd = fd};
        if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0) e = errno;
        close(fd);
    }
    if (!e && syscall(SYS_landlock_restrict_self, rs, 0) != 0) e = errno;
    close(rs);
    return e;
}
#else
static int restrict_files(const char *const *readable, const char **step)
{
    (void)readable, (void)step;
    return 0;
}
#endif

/* ---- seccomp -------------------------------------------------------------------------------------- */

#ifdef KC_HAVE_SECCOMP
/* System calls a loader needs, allowed whatever their arguments. */
static const char *const allowed[] = {
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "lseek", "_llseek", "close",
    "fstat", "fstat64", "newfstatat", "fstatat64", "stat", "stat64", "lstat", "lstat64", "statx", "fstatfs",
    "statfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getcwd", "fcntl", "fcntl64",
    "flock", "dup", "munmap", "mremap", "madvise", "brk", "futex", "futex_time64", "set_robust_list",
    "get_robust_list", "rseq", "sched_yield", "sched_getaffinity", "getpid", "gettid", "getppid", "getuid",
    "geteuid", "getgid", "getegid", "clock_gettime", "clock_gettime64", "clock_getres", "clock_nanosleep",
    "clock_nanosleep_time64", "nanosleep", "gettimeofday", "time", "getrandom", "rt_sigaction",
    "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "exit", "exit_group", "getrusage", "getrlimit",
    "ugetrlimit", "uname", "sysinfo", "mincore", "membarrier", "sched_getparam", "sched_getscheduler",
};

static int add_rule(scmp_filter_ctx f, const char *name, unsigned n, const struct scmp_arg_cmp *cmp)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return 0; /* not on this architecture */
    int r = n ? seccomp_rule_add_array(f, SCMP_ACT_ALLOW, nr, n, cmp) : seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
    return r == -EEXIST ? 0 : r;
}

static int load_filter(const char **step)
{
    *step = "seccomp";
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!f) return ENOMEM;
    int r = 0;
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed && r == 0; i++) r = add_rule(f, allowed[i], 0, NULL);
    /* open only to read: no O_WRONLY / O_RDWR, O_CREAT, O_TRUNC, O_APPEND */
    const scmp_datum_t write_bits = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
    struct scmp_arg_cmp ro1 = SCMP_A1(SCMP_CMP_MASKED_EQ, write_bits, 0);
    struct scmp_arg_cmp ro2 = SCMP_A2(SCMP_CMP_MASKED_EQ, write_bits, 0);
    if (r == 0) r = add_rule(f, "open", 1, &ro1);
    if (r == 0) r = add_rule(f, "openat", 1, &ro2);
    /* memory, never executable */
    struct scmp_arg_cmp noexec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
    if (r == 0) r = add_rule(f, "mmap", 1, &noexec);
    if (r == 0) r = add_rule(f, "mmap2", 1, &noexec);
    if (r == 0) r = add_rule(f, "mprotect", 1, &noexec);
    /* threads only (clone3's flags cannot be inspected: ENOSYS makes glibc use clone) */
    struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
    if (r == 0) r = add_rule(f, "clone", 1, &thread);
    if (r == 0 && seccomp_syscall_resolve_name("clone3") != __NR_SCMP_ERROR)
        r = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), seccomp_syscall_resolve_name("clone3"), 0);
    /* signals to itself only (raise, abort) */
    struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0);
    if (r == 0) r = add_rule(f, "kill", 1, &self);
    if (r == 0) r = add_rule(f, "tgkill", 1, &self);
    /* resource limits may be read, not changed */
    struct scmp_arg_cmp get_only = SCMP_A2(SCMP_CMP_EQ, 0, 0);
    if (r == 0) r = add_rule(f, "prlimit64", 1, &get_only);
    if (r == 0) r = seccomp_load(f);
    seccomp_release(f);
    return r < 0 ? -r : r;
}
#else
static int load_filter(const char **step)
{
    (void)step;
    return 0;
}
#endif

/* ---- the whole ------------------------------------------------------------------------------------ */

int kc__sandbox_confine(const kc__sandbox *sb, pid_t parent, int report_fd, const char **step)
{
    *step = "parent death signal";
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return errno;
    if (getppid() != parent) _exit(1); /* the parent is already gone */
    kc__crash_reporter_install(report_fd);
    int e = set_descriptors(sb, report_fd, step);
    if (!e) e = set_limits(sb, step);
    if (!e) {
        *step = "no_new_privs";
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) e = errno;
    }
    if (!e) e = restrict_files(sb->readable, step);
    if (!e) e = load_filter(step);
    return e;
}

unsigned kc__sandbox_confine_features(void)
{
    unsigned f = KC_SANDBOX_PROCESS;
    if (!UNDER_ASAN) f |= KC_SANDBOX_ADDRESS_SPACE;
#ifdef KC_HAVE_SECCOMP
    f |= KC_SANDBOX_SECCOMP;
#endif
#ifdef KC_HAVE_LANDLOCK
    if (landlock_abi() > 0) f |= KC_SANDBOX_LANDLOCK;
#endif
    return f;
}
