/* Which library a sandboxed child crashed in.
 *
 * "The loader crashed (signal 11)" tells the user little; "the file
 * crashed libhdf5_serial.so.103 (signal 11, SIGSEGV)" tells them it is the
 * HDF5 parser that the file broke, not ckeras. Before the child touches the
 * file it notes the address ranges of the code of every loaded library
 * (dl_iterate_phdr); a handler for the fatal signals looks the faulting
 * instruction up in that table -- plain memory reads, safe in a signal
 * handler -- writes "C<signal> <library>\n" to the report pipe with
 * write(2), and lets the signal kill the process as it would have. It runs
 * on its own stack, so that a stack overflow (deep recursion in a parser)
 * is reported too.
 *
 * A fault inside the C library (memcpy, strlen) is the caller's doing: the
 * handler walks the stack (backtrace, whose unwinder is loaded before the
 * child is confined) to the first frame outside libc and names that
 * library, "libhdf5_serial.so.103 (via libc.so.6)".
 *
 * Under AddressSanitizer a bad access is reported by ASan, which then
 * aborts: its report is read instead (the library of the first frame that
 * is not ASan's own, and the kind of error), so that the isolated load
 * still says where the file broke something -- and a ckeras bug shows as
 * one. */
#define _GNU_SOURCE /* dl_iterate_phdr, REG_RIP, memmem */
#include "isolation_int.h"

#include <execinfo.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#define MAX_MODULES 256

typedef struct module_range {
    uintptr_t start, end; /* executable code */
    char name[64];        /* file name without its folder */
} module_range;

static module_range modules[MAX_MODULES];
static int n_modules;
static int report_fd = -1;
static char alt_stack[64 * 1024];

static int note_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size, (void)data;
    const char *name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : "the program";
    const char *slash = strrchr(name, '/');
    if (slash) name = slash + 1;
    for (int i = 0; i < info->dlpi_phnum && n_modules < MAX_MODULES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        module_range *m = &modules[n_modules++];
        m->start = info->dlpi_addr + ph->p_vaddr;
        m->end = m->start + ph->p_memsz;
        strncpy(m->name, name, sizeof m->name - 1);
        m->name[sizeof m->name - 1] = '\0';
    }
    return 0;
}

static uintptr_t faulting_pc(void *uc)
{
    const ucontext_t *u = uc;
#if defined(__x86_64__)
    return (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)u->uc_mcontext.pc;
#elif defined(__i386__)
    return (uintptr_t)u->uc_mcontext.gregs[REG_EIP];
#else
    (void)u;
    return 0;
#endif
}

/* Append the decimal form of v to buf at *n. */
static void put_int(char *buf, size_t *n, int v)
{
    char digits[12];
    int k = 0;
    if (v < 0) v = 0;
    do digits[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < 11);
    while (k) buf[(*n)++] = digits[--k];
}

static const module_range *module_of(uintptr_t pc)
{
    for (int i = 0; i < n_modules; i++)
        if (pc >= modules[i].start && pc < modules[i].end) return &modules[i];
    return NULL;
}

static bool is_libc(const module_range *m) { return m && strncmp(m->name, "libc.so", 7) == 0; }

/* Append s to line (at *n, of size cap). */
static void put_str(char *line, size_t *n, size_t cap, const char *s)
{
    for (; *s && *n < cap - 1; s++) line[(*n)++] = *s;
}

static void on_fatal_signal(int sig, siginfo_t *info, void *uc)
{
    (void)info;
    uintptr_t pc = faulting_pc(uc);
    const module_range *at = module_of(pc), *caller = NULL;
    if (is_libc(at)) { /* find who called into libc */
        void *frames[32];
        int n = backtrace(frames, 32), k = 0;
        while (k < n && (uintptr_t)frames[k] != pc) k++;
        for (k++; k < n && !caller; k++) {
            const module_range *m = module_of((uintptr_t)frames[k] - 1);
            if (m && !is_libc(m)) caller = m;
        }
    }
    char line[160];
    size_t n = 0;
    line[n++] = 'C';
    put_int(line, &n, sig);
    line[n++] = ' ';
    /* abort() and a denied system call stop in libc, which is not where the
     * trouble is: they are reported without a place */
    if (at && sig != SIGABRT && sig != SIGSYS) {
        put_str(line, &n, sizeof line - 1, caller ? caller->name : at->name);
        if (caller) {
            put_str(line, &n, sizeof line - 1, " (via ");
            put_str(line, &n, sizeof line - 1, at->name);
            put_str(line, &n, sizeof line - 1, ")");
        }
    }
    line[n++] = '\n';
    if (write(report_fd, line, n) < 0) { /* nothing more to do: the signal still ends the process */
    }
    /* die of the signal as if no handler had been there */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifdef UNDER_ASAN
void __asan_set_error_report_callback(void (*callback)(const char *));

/* The library in a report frame "    #1 0x7f.. in f (/lib/libhdf5.so.103+0x167b8d)". */
static const char *frame_library(const char *line, const char *end, size_t *len)
{
    const char *open = NULL;
    for (const char *p = line; p < end; p++)
        if (*p == '(') open = p;
    if (!open) return NULL;
    const char *close = open;
    while (close < end && *close != '+' && *close != ')') close++;
    const char *name = open + 1;
    for (const char *p = name; p < close; p++)
        if (*p == '/') name = p + 1;
    *len = (size_t)(close - name);
    return *len ? name : NULL;
}

static void on_asan_report(const char *report)
{
    char line[160];
    size_t n = 0;
    put_str(line, &n, sizeof line, "C6 ");
    for (const char *p = report; *p;) { /* the first frame outside ASan */
        const char *end = strchr(p, '\n');
        if (!end) end = p + strlen(p);
        size_t len;
        const char *lib = strncmp(p, "    #", 5) == 0 ? frame_library(p, end, &len) : NULL;
        if (lib && !memmem(p, (size_t)(end - p), "libsanitizer", 12) && !(len >= 7 && memcmp(lib, "libasan", 7) == 0)) {
            for (size_t i = 0; i < len && n < sizeof line - 64; i++) line[n++] = lib[i];
            break;
        }
        p = *end ? end + 1 : end;
    }
    const char *kind = strstr(report, "AddressSanitizer: ");
    if (kind) { /* "(AddressSanitizer: heap-buffer-overflow)" */
        put_str(line, &n, sizeof line - 2, " (");
        for (const char *p = kind; *p && *p != '\n' && (p < kind + 18 || (*p != ' ' && *p != ':')) && n < sizeof line - 3; p++)
            line[n++] = *p;
        line[n++] = ')';
    }
    line[n++] = '\n';
    if (write(report_fd, line, n) < 0) { /* ASan aborts next either way */
    }
}
#endif

void kc__crash_reporter_prepare(void)
{
    /* backtrace() loads its unwinder (libgcc_s) on first use: done once,
     * in the parent, every child inherits it -- and a confined child could
     * not map new code anyway */
    static atomic_bool done;
    if (atomic_exchange(&done, true)) return;
    void *warm[2];
    backtrace(warm, 2);
}

void kc__crash_reporter_install(int fd)
{
    report_fd = fd;
    n_modules = 0;
    dl_iterate_phdr(note_module, NULL);
    kc__crash_reporter_prepare(); /* the parent did this already: nothing to load here */
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) sigaction(fatal[i], &sa, NULL);
#ifdef UNDER_ASAN
    __asan_set_error_report_callback(on_asan_report);
#endif
}
