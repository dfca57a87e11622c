/* ckeras private: isolated loading (lib/isolation/).
 *
 *   sandbox.c       fork, wait with a deadline, and what became of the child
 *   confine.c       what the child may do: descriptors, limits, seccomp, Landlock
 *   crash_site.c    the child's fatal-signal handler, naming the library that crashed
 *   description.c   the records a child sends back (config, weights, optimizer state)
 *   isolated_load.c kc_model_load_untrusted / kc_model_load_weights_untrusted */
#ifndef CKERAS_ISOLATION_INT_H
#define CKERAS_ISOLATION_INT_H

#include "../core/internal.h"

#include <ckeras/io.h>
#include <ckeras/sandbox.h>

#include <sys/types.h>

/* How to run a child. */
typedef struct kc__sandbox {
    double timeout;               /* seconds of wall clock (and of CPU) */
    int64_t memory;               /* address space the child may add; <= 0: no limit */
    int64_t file_bytes;           /* bytes the child may write to files (its description); <= 0: no limit */
    const char *const *readable;  /* NULL-terminated files the child may open, or NULL: any */
    bool keep_stdio;              /* stdout and stderr stay the caller's */
    const int *keep_fds;          /* other descriptors the child keeps */
    int n_keep_fds;
} kc__sandbox;

/* What became of a child. */
typedef struct kc__sandbox_outcome {
    bool exited;          /* it returned from fn: exit_code is fn's value */
    int exit_code;
    int signal;           /* the signal that ended it, 0 when it exited */
    bool timed_out;       /* the parent killed it at the deadline */
    bool crashed;         /* it reported a fatal signal */
    char crash_site[160]; /* the library a fatal signal hit, "" when unknown */
    char setup_error[96]; /* the sandbox could not be set up: which step, why */
} kc__sandbox_outcome;

/* Run fn(ctx) in a child confined by sb; fill *out. Fails only when no
 * child could be started. */
kc_status kc__sandbox_run(const kc__sandbox *sb, kc_sandbox_fn fn, void *ctx, kc__sandbox_outcome *out,
                          kc_error *err);
/* KC_OK when the child returned normally, else the error that names what
 * happened ("the file crashed <library> in the isolated <what> (signal 11,
 * SIGSEGV)", the timeout, a limit). */
kc_status kc__sandbox_outcome_error(const kc__sandbox_outcome *o, const kc__sandbox *sb, const char *what,
                                    kc_error *err);

/* In the child: confine it (confine.c). Returns 0, or an errno with *step
 * naming what failed. */
int kc__sandbox_confine(const kc__sandbox *sb, pid_t parent, int report_fd, const char **step);
unsigned kc__sandbox_confine_features(void);

/* In the child: report fatal signals on report_fd as "C<signal> <library>\n"
 * before dying of them (crash_site.c). kc__crash_reporter_prepare, in the
 * parent before it forks, loads what the reporter needs once. */
void kc__crash_reporter_install(int report_fd);
void kc__crash_reporter_prepare(void);

/* ---- descriptions (description.c) ---- */

/* What a record holds. */
typedef enum kc__desc_kind {
    KC__DESC_END = 1,      /* the description is complete */
    KC__DESC_ERROR,        /* the load failed: code, message, context */
    KC__DESC_WARNING,      /* a warning of the load, in order */
    KC__DESC_CONFIG,       /* the model's config JSON (as kc_model_save writes it) */
    KC__DESC_TRAINING,     /* the training config JSON (compiled models) */
    KC__DESC_WEIGHT,       /* the next weight, in kc_layer_weight order */
    KC__DESC_OPT_WEIGHT,   /* the next optimizer weight, in kc_optimizer_weight order */
    KC__DESC_NAMES         /* the child's automatic-name counters, "base next" lines */
} kc__desc_kind;

/* An array record: inline bytes follow it, or they are at `offset` of the
 * loaded file (a plain extent the child found and left for the parent). */
typedef struct kc__array_header {
    uint32_t dtype;           /* KC_FLOAT32, KC_INT32 or KC_INT64 */
    uint32_t ndim;
    int64_t dims[KC_MAX_DIMS];
    uint32_t in_file;         /* 1: the bytes are at offset of the loaded file */
    uint32_t reserved;
    int64_t offset;
    int64_t nbytes;
} kc__array_header;

/* Writer (child): records go to fd one after another. Failures are
 * remembered (and the writer stops); kc__desc_writer_status reports them. */
typedef struct kc__desc_writer {
    int fd;
    kc_status rc;
    kc_error err;
} kc__desc_writer;

void kc__desc_begin(kc__desc_writer *w, int fd);
void kc__desc_text(kc__desc_writer *w, kc__desc_kind kind, const char *text);
void kc__desc_error(kc__desc_writer *w, const kc_error *e);
void kc__desc_array(kc__desc_writer *w, kc__desc_kind kind, const kc_tensor *t);
void kc__desc_array_in_file(kc__desc_writer *w, const kc_tensor *t, int64_t offset);
void kc__desc_end(kc__desc_writer *w);

/* Reader (parent): every length, count and size is checked against the
 * description's size and the limits before anything is allocated. */
typedef struct kc__desc_reader {
    int fd;          /* the sealed description */
    int64_t size;    /* its bytes */
    int64_t at, end; /* where reading is; where the current record ends */
    int file_fd;     /* the loaded file, for arrays left in it */
    int64_t file_size;
} kc__desc_reader;

/* The next record's kind and payload length. KC_EFORMAT at a bad record. */
kc_status kc__desc_next(kc__desc_reader *r, kc__desc_kind *kind, int64_t *length, kc_error *err);
/* The payload of a text record (kc__malloc'd, NUL-terminated). */
kc_status kc__desc_read_text(kc__desc_reader *r, int64_t length, char **text, kc_error *err);
/* The payload of an error record, into e. */
kc_status kc__desc_read_error(kc__desc_reader *r, int64_t length, kc_error *e, kc_error *err);
/* The header of an array record, checked. */
kc_status kc__desc_read_array_header(kc__desc_reader *r, int64_t length, kc__array_header *h, kc_error *err);
/* Its bytes, into dst (h->nbytes of them). `at`: where they are in the
 * description (r->at right after the header was read), for arrays read
 * after other records. */
kc_status kc__desc_read_array_data(kc__desc_reader *r, const kc__array_header *h, int64_t at, void *dst,
                                   kc_error *err);

#endif /* CKERAS_ISOLATION_INT_H */
