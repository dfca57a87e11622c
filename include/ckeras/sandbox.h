/* ckeras: running code on untrusted input in a sandboxed child process.
 *
 * A model file from a stranger is parsed by libhdf5, which is not
 * memory-safe on deliberately corrupted files (see io.h). The library's own
 * answer is kc_model_load_untrusted (io.h): the load runs in a child
 * process and the caller gets a model or an error, never a crash. This
 * header exposes the sandbox that isolated loading is built on, for
 * programs that want to do something else with an untrusted file in the
 * same conditions -- `modelinspect` runs each of its read-only commands
 * this way.
 *
 * kc_sandbox_run forks (no exec: the child is a copy of the caller, with
 * its classes and custom objects) and, in the child, before calling fn:
 *   - keeps only stdin/stdout/stderr (redirected to /dev/null unless
 *     keep_stdio) and closes every other descriptor it inherited;
 *   - dies with its parent (PR_SET_PDEATHSIG);
 *   - sets resource limits: CPU seconds (the timeout), address space (what
 *     it inherited plus max_memory_bytes; not under AddressSanitizer, whose
 *     shadow memory makes the limit unusable), bytes written to files, no
 *     core dumps;
 *   - sets no_new_privs and a seccomp system-call allow-list (libseccomp):
 *     reading, memory management, threads, time, signals to itself and
 *     write(2) to descriptors it already has are allowed; opening files for
 *     writing, executing programs, sockets, ptrace, process_vm_*, fork
 *     (other than threads), memfd_create and executable mappings are not
 *     (they fail with EPERM);
 *   - where the kernel has Landlock, restricts the filesystem to reading
 *     readable_files (when given).
 * The parent waits at most timeout_seconds (then kills the child). A child
 * killed by a signal becomes an error naming the signal and, for a crash,
 * the library it crashed in ("the file crashed libhdf5_serial.so.103 (signal
 * 11, SIGSEGV)"): KC_EFORMAT for crashes, KC_ELIMIT for the timeout and the
 * CPU and memory limits.
 *
 * What this does not protect is stated in README.md ("Loading files you did
 * not make"). It uses Linux's system calls, as ckeras does elsewhere. */
#ifndef CKERAS_SANDBOX_H
#define CKERAS_SANDBOX_H

#include "defs.h"
#include "error.h"

#include <stdbool.h>
#include <stdint.h>

KC_BEGIN_DECLS

/* Zero-initialized options are the defaults. */
typedef struct kc_sandbox_options {
    double timeout_seconds;             /* wall clock (and CPU) limit; 0: 60 s */
    int64_t max_memory_bytes;           /* address space the child may add; 0: 1 GiB */
    const char *const *readable_files;  /* NULL-terminated: the only files the child may
                                         * open (with Landlock); NULL: any readable file */
    bool keep_stdio;                    /* the child writes to the caller's stdout and
                                         * stderr; false: both go to /dev/null */
} kc_sandbox_options;

/* The code to run in the child. Its return value (0..255) is the child's
 * exit status. */
typedef int (*kc_sandbox_fn)(void *ctx);

/* Run fn(ctx) in a sandboxed child and wait for it. On KC_OK, *exit_code
 * receives fn's return value; a child that did not return (killed by a
 * signal, a limit or the timeout) is an error as described above. opts
 * may be NULL. Standard I/O buffers are flushed before the fork. */
KC_API KC_NODISCARD kc_status kc_sandbox_run(kc_sandbox_fn fn, void *ctx, const kc_sandbox_options *opts,
                                             int *exit_code, kc_error *err);

/* What the sandbox enforces in this build on this kernel. */
typedef enum kc_sandbox_feature {
    KC_SANDBOX_PROCESS = 1,       /* a separate process with CPU and wall-clock limits */
    KC_SANDBOX_ADDRESS_SPACE = 2, /* the address-space limit (off under AddressSanitizer) */
    KC_SANDBOX_SECCOMP = 4,       /* the system-call allow-list (built with libseccomp) */
    KC_SANDBOX_LANDLOCK = 8       /* the filesystem restriction (kernel with Landlock) */
} kc_sandbox_feature;

/* A mask of kc_sandbox_feature. */
KC_API unsigned kc_sandbox_features(void);

KC_END_DECLS

#endif /* CKERAS_SANDBOX_H */
