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
 * is reported too. */
#define _GNU_SOURCE /* dl_iterate_phdr, REG_RIP */
#include "isolation_int.h"

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

static void on_fatal_signal(int sig, siginfo_t *info, void *uc)
{
    (void)info;
    uintptr_t pc = faulting_pc(uc);
    const char *where = "";
    /* abort() and a denied system call stop in libc, which is not where the
     * trouble is: they are reported without a place */
    for (int i = 0; i < n_modules && sig != SIGABRT && sig != SIGSYS; i++)
        if (pc >= modules[i].start && pc < modules[i].end) where = modules[i].name;
    char line[96];
    size_t n = 0;
    line[n++] = 'C';
    put_int(line, &n, sig);
    line[n++] = ' ';
    for (const char *p = where; *p && n < sizeof line - 1; p++) line[n++] = *p;
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

void kc__crash_reporter_install(int fd)
{
    report_fd = fd;
    n_modules = 0;
    dl_iterate_phdr(note_module, NULL);
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) sigaction(fatal[i], &sa, NULL);
}
