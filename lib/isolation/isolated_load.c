/* Loading a model file in a sandboxed child (kc_model_load_untrusted,
 * kc_model_load_weights_untrusted).
 *
 * The child runs the ordinary loader -- kc_model_load or
 * kc_model_load_weights, whatever the file's format --
 * so its code path is the in-process one, and the tests of either test
 * both. It then describes what it loaded (description.c): the model's
 * config as kc_model_save writes it, the training config, every weight in
 * kc_layer_weight order and the optimizer's weights. The parent rebuilds
 * the model from that description alone: from_config, compile, the
 * weights, the optimizer state. The parent never runs HDF5 on the file.
 *
 * No extra copy of the weights: the HDF5 door (h5io.c) resolves a weight
 * stored as plain float32 to its extent in the file, and in the child an
 * extent sink takes the read instead of doing it. The child sends the
 * extent (offset and size), and the parent reads those bytes from the
 * file -- which it opened itself, before the child started -- with pread,
 * straight into its own weights: the same bytes, read once, as an
 * in-process load would. Other weights (converted from float64 or
 * float16, chunked, or from formats read from memory) travel in the
 * description.
 *
 * The description goes through a memfd: the child writes it, the parent
 * seals it once the child is gone (nothing can change it any more) and
 * checks every record before using it (description.c). */
#define _GNU_SOURCE /* memfd_create, F_ADD_SEALS */
#include "isolated_load.h"
#include "isolation_int.h"

#include "../layers/layers_int.h"
#include "../saving/h5io.h"
#include "../saving/saving_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT 60.0
#define BASE_MEMORY ((int64_t)1 << 30)
#define MAX_JSON_DEPTH 512

/* A weight read the child left for the parent. */
typedef struct extent_note {
    const float *dst;
    int64_t count, offset;
    bool used;
} extent_note;

/* Everything the child needs; filled by the parent before the fork. */
typedef struct child_job {
    const char *path;
    bool weights_only;
    kc_load_options lo;   /* the caller's, warnings to the description */
    kc_weights_options wo;
    kc_object *model;     /* weights only: the model to fill (the child's copy) */
    dev_t dev;            /* the file the parent opened */
    ino_t ino;
    kc__desc_writer w;
    extent_note *notes;
    size_t n_notes, cap_notes;
} child_job;

/* ---- the child ------------------------------------------------------------------------------------ */

static bool take_extent(void *ctx, float *dst, int64_t count, int64_t offset, dev_t dev, ino_t ino)
{
    child_job *job = ctx;
    if (dev != job->dev || ino != job->ino) return false; /* another file: read it now */
    if (!kc__grow((void **)&job->notes, &job->cap_notes, job->n_notes + 1, sizeof(extent_note))) return false;
    job->notes[job->n_notes++] = (extent_note){dst, count, offset, false};
    return true;
}

static void child_warn(void *user, const char *message)
{
    kc__desc_text(&((child_job *)user)->w, KC__DESC_WARNING, message);
}

static kc_status describe_text(child_job *job, kc__desc_kind kind, const json_t *j, kc_error *err)
{
    char *text = kc_json_dump(j, err);
    if (!text) return kc__error_code(err, KC_ENOMEM);
    kc__desc_text(&job->w, kind, text);
    kc_json_free(text);
    return KC_OK;
}

/* The extent the child left for weight t, or NULL (its bytes are in t). */
static extent_note *extent_of(child_job *job, const kc_tensor *t)
{
    if (kc_tensor_dtype(t) != KC_FLOAT32) return NULL;
    for (size_t i = 0; i < job->n_notes; i++) {
        extent_note *n = &job->notes[i];
        if (!n->used && n->dst == kc_tensor_cdata(t) && n->count == kc_tensor_size(t)) return n;
    }
    return NULL;
}

static kc_status describe_weights(child_job *job, kc_object *model, kc_error *err)
{
    for (int i = 0; i < kc_layer_num_weights(model); i++) {
        const kc_tensor *t = kc_variable_value(kc_layer_weight(model, i));
        extent_note *n = extent_of(job, t);
        if (n) {
            n->used = true;
            kc__desc_array_in_file(&job->w, t, n->offset);
        } else {
            kc__desc_array(&job->w, KC__DESC_WEIGHT, t);
        }
    }
    /* a read left for the parent must have been a weight's: anything else
     * would have used bytes nobody read */
    for (size_t i = 0; i < job->n_notes; i++)
        if (!job->notes[i].used)
            return kc__errf(err, KC_EINTERNAL, "a deferred weight read did not end in a weight");
    return KC_OK;
}

static kc_status describe_model(child_job *job, kc_object *model, kc_error *err)
{
    json_t *cfg = NULL, *tc = NULL;
    kc_status rc = kc__model_config_json(model, &cfg, err);
    if (rc == KC_OK) rc = describe_text(job, KC__DESC_CONFIG, cfg, err);
    bool compiled = !job->lo.no_compile && kc_model_is_compiled(model);
    if (rc == KC_OK && compiled) rc = kc_model_training_config(model, &tc, err);
    if (rc == KC_OK && tc) rc = describe_text(job, KC__DESC_TRAINING, tc, err);
    if (rc == KC_OK) rc = describe_weights(job, model, err);
    kc_object *opt = compiled ? kc_model_optimizer(model) : NULL;
    int n_opt = opt ? kc_optimizer_num_weights(opt) : 0;
    /* a state with only the iteration count is no state (as kc_model_save) */
    for (int i = 0; rc == KC_OK && n_opt > 1 && i < n_opt; i++)
        kc__desc_array(&job->w, KC__DESC_OPT_WEIGHT, kc_optimizer_weight(opt, i, NULL, 0));
    json_decref(cfg);
    json_decref(tc);
    return rc;
}

static int child_load(void *ctx)
{
    child_job *job = ctx;
    kc_error e = {0};
    kc_status rc;
    kc_object *model = NULL;
    kc__h5_set_extent_sink(take_extent, job);
    if (job->weights_only) {
        rc = kc_model_load_weights(job->model, job->path, &job->wo, &e);
    } else {
        model = kc_model_load(job->path, &job->lo, &e);
        rc = model ? KC_OK : kc__error_code(&e, KC_EINTERNAL);
    }
    kc__h5_set_extent_sink(NULL, NULL);
    if (rc == KC_OK) rc = job->weights_only ? describe_weights(job, job->model, &e) : describe_model(job, model, &e);
    if (rc != KC_OK) kc__desc_error(&job->w, &e);
    char *names = job->weights_only ? NULL : kc__name_counters_text();
    if (names) kc__desc_text(&job->w, KC__DESC_NAMES, names);
    kc__desc_end(&job->w);
    kc__free(names);
    kc_object_unref(model);
    return job->w.rc == KC_OK ? 0 : (int)job->w.rc;
}

/* ---- the parent: running the child --------------------------------------------------------------------- */

/* A descriptor above 0-2, so that the child's stdio redirection cannot
 * clobber it. */
static int above_stdio(int fd)
{
    if (fd < 0 || fd > 2) return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

/* What the parent holds while a child loads. */
typedef struct isolation {
    int file_fd, desc_fd;
    struct stat st;
    kc__desc_reader reader;
} isolation;

static void isolation_close(isolation *iso)
{
    if (iso->file_fd >= 0) close(iso->file_fd);
    if (iso->desc_fd >= 0) close(iso->desc_fd);
}

/* Open the file (refusing what is not a regular file) and the memfd. */
static kc_status isolation_open(isolation *iso, const char *path, kc_error *err)
{
    iso->file_fd = iso->desc_fd = -1;
    int64_t size;
    kc_status rc = kc__open_regular(path, &iso->file_fd, &size, err);
    if (rc != KC_OK) return rc;
    iso->file_fd = above_stdio(iso->file_fd);
    if (iso->file_fd < 0 || fstat(iso->file_fd, &iso->st) != 0)
        return kc__errf(err, KC_EIO, "cannot read the file: %s", strerror(errno));
    iso->desc_fd = above_stdio(memfd_create("ckeras-isolated-load", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (iso->desc_fd < 0) return kc__errf(err, KC_EIO, "cannot create the isolated load's memfd: %s", strerror(errno));
    return KC_OK;
}

/* Run job in a child under the caller's limits, and prepare to read its description. */
static kc_status isolation_run(isolation *iso, child_job *job, double timeout, int64_t memory, kc_error *err)
{
    const char *readable[2] = {job->path, NULL};
    kc__sandbox sb = {
        .timeout = timeout > 0 ? timeout : DEFAULT_TIMEOUT,
        .memory = memory,
        .file_bytes = memory,
        .readable = readable,
        .keep_fds = &iso->desc_fd,
        .n_keep_fds = 1,
    };
    job->dev = iso->st.st_dev;
    job->ino = iso->st.st_ino;
    kc__desc_begin(&job->w, iso->desc_fd);
    kc__sandbox_outcome out;
    kc_status rc = kc__sandbox_run(&sb, child_load, job, &out, err);
    if (rc == KC_OK) rc = kc__sandbox_outcome_error(&out, &sb, "loader", err);
    if (rc == KC_OK && out.exit_code != 0)
        rc = out.exit_code == KC_ELIMIT
                 ? kc__errf(err, KC_ELIMIT, "the isolated loader's result is larger than its limit (%lld bytes)",
                            (long long)sb.file_bytes)
                 : kc__errf(err, KC_EFORMAT, "the isolated loader could not send its result (exit status %d)",
                            out.exit_code);
    if (rc != KC_OK) return rc;
    /* the child is gone: seal what it wrote, so nothing changes it while it is read */
    struct stat dst;
    if (fcntl(iso->desc_fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0 ||
        fstat(iso->desc_fd, &dst) != 0)
        return kc__errf(err, KC_EFORMAT, "cannot seal the isolated loader's result: %s", strerror(errno));
    iso->reader = (kc__desc_reader){.fd = iso->desc_fd, .size = (int64_t)dst.st_size,
                                    .file_fd = iso->file_fd, .file_size = (int64_t)iso->st.st_size};
    return KC_OK;
}

/* ---- the parent: rebuilding ---------------------------------------------------------------------------- */

/* The error the child reported becomes the caller's (*code: its status).
 * Running out of memory in the child means reaching its memory limit. */
static kc_status child_error(kc__desc_reader *r, int64_t length, kc_status *code, kc_error *err)
{
    kc_error e;
    kc_status rc = kc__desc_read_error(r, length, &e, err);
    if (rc != KC_OK) return rc;
    if (e.code == KC_ENOMEM) {
        *code = kc__errf(err, KC_ELIMIT, "the isolated loader reached its memory limit: %s", e.message);
    } else {
        *code = kc__error_set(err, e.code, __FILE__, __LINE__, "%s", e.message);
    }
    if (e.context[0]) kc__error_context(err, "%s", e.context);
    return KC_OK;
}

static kc_status warning(kc__desc_reader *r, int64_t length, kc_warning_fn warn, void *user, kc_error *err)
{
    char *text;
    kc_status rc = kc__desc_read_text(r, length, &text, err);
    if (rc == KC_OK && warn) warn(user, text);
    kc__free(text);
    return rc;
}

/* Take over the child's automatic-name counters ("base next" lines). */
static kc_status name_counters(kc__desc_reader *r, int64_t length, kc_error *err)
{
    char *text;
    kc_status rc = kc__desc_read_text(r, length, &text, err);
    for (char *line = text, *nl; rc == KC_OK && line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char *sp = strrchr(line, ' ');
        if (!sp || sp == line) continue;
        *sp = '\0';
        char *end;
        long next = strtol(sp + 1, &end, 10);
        if (*end == '\0' && next > 0) kc__name_counter_raise(line, next);
    }
    kc__free(text);
    return rc;
}

static kc_status read_json(kc__desc_reader *r, int64_t length, json_t **out, kc_error *err)
{
    char *text;
    *out = NULL;
    kc_status rc = kc__desc_read_text(r, length, &text, err);
    if (rc != KC_OK) return rc;
    *out = kc_json_parse(text, strlen(text), MAX_JSON_DEPTH, err);
    kc__free(text);
    return *out ? KC_OK : kc__error_code(err, KC_EFORMAT);
}

/* The array header of a record for weight v: checked against it. */
static kc_status weight_header(kc__desc_reader *r, int64_t length, const kc_variable *v, kc__array_header *h,
                               kc_error *err)
{
    kc_status rc = kc__desc_read_array_header(r, length, h, err);
    if (rc != KC_OK) return rc;
    const kc_tensor *t = kc_variable_value(v);
    bool same = h->dtype == (uint32_t)kc_tensor_dtype(t) && h->ndim == (uint32_t)kc_tensor_ndim(t);
    for (int d = 0; same && d < kc_tensor_ndim(t); d++) same = h->dims[d] == kc_tensor_dims(t)[d];
    if (!same)
        return kc__errf(err, KC_EFORMAT, "the isolated loader sent weight '%s' with another shape or type",
                        kc_variable_name(v));
    return KC_OK;
}

/* An optimizer weight record, as a new tensor appended to *list. */
static kc_status optimizer_weight(kc__desc_reader *r, int64_t length, kc_tensor ***list, int *n, size_t *cap,
                                  kc_error *err)
{
    kc__array_header h;
    kc_status rc = kc__desc_read_array_header(r, length, &h, err);
    if (rc == KC_OK && h.in_file) rc = kc__errf(err, KC_EFORMAT, "the isolated loader sent a bad optimizer weight");
    if (rc == KC_OK && !kc__grow((void **)list, cap, (size_t)*n + 1, sizeof(kc_tensor *)))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    kc_tensor *t = NULL;
    if (rc == KC_OK && !(t = kc_tensor_empty((kc_dtype)h.dtype, (int)h.ndim, h.dims, err))) rc = kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK) rc = kc__desc_read_array_data(r, &h, r->at, kc_tensor_data(t), err);
    if (rc != KC_OK) {
        kc_tensor_unref(t);
        return rc;
    }
    (*list)[(*n)++] = t;
    return KC_OK;
}

/* Compile model with training_config tc and restore the optimizer state. */
static kc_status compile_and_restore(kc_object *model, const json_t *tc, kc_tensor *const *state, int n_state,
                                     const kc_load_options *o, kc_error *err)
{
    kc_status rc = kc_model_compile_json(model, tc, o->custom_objects, err);
    if (rc != KC_OK) {
        kc__error_context(err, "training_config");
        return rc;
    }
    if (n_state == 0) return KC_OK;
    int nt = kc_layer_num_trainable_weights(model);
    kc_variable **vars = kc__calloc((size_t)nt + 1, sizeof(kc_variable *));
    if (!vars) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; i < nt; i++) vars[i] = kc_layer_trainable_weight(model, i);
    kc_object *opt = kc_model_optimizer(model);
    rc = kc_optimizer_build(opt, vars, nt, err);
    if (rc == KC_OK) rc = kc_optimizer_set_weights(opt, state, n_state, err);
    kc__free(vars);
    if (rc != KC_OK) kc__error_context(err, "the isolated loader's optimizer state");
    return rc;
}

/* Everything a model description holds, in the order it comes. */
typedef struct rebuild {
    kc_object *model;
    json_t *training;
    int n_weights;        /* weights filled so far */
    kc_tensor **state;    /* optimizer weights */
    int n_state;
    size_t cap_state;
} rebuild;

static kc_status rebuild_record(rebuild *b, kc__desc_reader *r, kc__desc_kind kind, int64_t length,
                                const kc_load_options *o, int64_t budget, kc_error *err)
{
    kc_status rc = KC_OK;
    json_t *cfg = NULL;
    kc__array_header h;
    switch (kind) {
    case KC__DESC_WARNING: return warning(r, length, o->warn, o->warn_user, err);
    case KC__DESC_ERROR: return kc__errf(err, KC_EINTERNAL, "child errors are read by the caller");
    case KC__DESC_CONFIG:
        if (b->model) return kc__errf(err, KC_EFORMAT, "the isolated loader sent two configs");
        rc = read_json(r, length, &cfg, err);
        if (rc == KC_OK) rc = kc__model_from_json(cfg, "model_config", o, budget, true, &b->model, err);
        json_decref(cfg);
        return rc;
    case KC__DESC_TRAINING:
        if (!b->model || b->training) return kc__errf(err, KC_EFORMAT, "the isolated loader sent a stray training config");
        return read_json(r, length, &b->training, err);
    case KC__DESC_WEIGHT:
        if (!b->model || b->n_weights >= kc_layer_num_weights(b->model))
            return kc__errf(err, KC_EFORMAT, "the isolated loader sent more weights than the model has");
        rc = weight_header(r, length, kc_layer_weight(b->model, b->n_weights), &h, err);
        if (rc == KC_OK)
            rc = kc__desc_read_array_data(r, &h, r->at, kc_tensor_data(kc_variable_value(kc_layer_weight(b->model, b->n_weights))), err);
        b->n_weights++;
        return rc;
    case KC__DESC_OPT_WEIGHT:
        if (!b->model) return kc__errf(err, KC_EFORMAT, "the isolated loader sent a stray optimizer weight");
        return optimizer_weight(r, length, &b->state, &b->n_state, &b->cap_state, err);
    case KC__DESC_NAMES: return name_counters(r, length, err);
    case KC__DESC_END: return KC_OK;
    }
    return kc__errf(err, KC_EFORMAT, "the isolated loader sent an unknown record");
}

static kc_object *rebuild_model(kc__desc_reader *r, const kc_load_options *o, int64_t budget, kc_error *err)
{
    rebuild b = {0};
    kc__desc_kind kind = 0;
    kc_status rc = KC_OK, child_rc = KC_OK;
    while (rc == KC_OK && kind != KC__DESC_END) {
        int64_t length;
        rc = kc__desc_next(r, &kind, &length, err);
        if (rc != KC_OK) break;
        if (kind == KC__DESC_ERROR && child_rc == KC_OK) rc = child_error(r, length, &child_rc, err);
        /* after the child's error only its name counters matter */
        else if (child_rc == KC_OK || kind == KC__DESC_NAMES) rc = rebuild_record(&b, r, kind, length, o, budget, err);
    }
    if (rc == KC_OK) rc = child_rc;
    if (rc == KC_OK && !b.model) rc = kc__errf(err, KC_EFORMAT, "the isolated loader sent no model");
    if (rc == KC_OK && b.n_weights != kc_layer_num_weights(b.model))
        rc = kc__errf(err, KC_EFORMAT, "the isolated loader sent %d weights, the model has %d", b.n_weights,
                      kc_layer_num_weights(b.model));
    if (rc == KC_OK && b.training && !o->no_compile)
        rc = compile_and_restore(b.model, b.training, b.state, b.n_state, o, err);
    for (int i = 0; i < b.n_state; i++) kc_tensor_unref(b.state[i]);
    kc__free(b.state);
    json_decref(b.training);
    if (rc != KC_OK) {
        kc_object_unref(b.model);
        return NULL;
    }
    return b.model;
}

kc_object *kc__model_load_isolated(const char *path, const kc_load_options *opts, const kc_untrusted_limits *limits,
                                   kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    kc_load_options none = {0};
    kc_untrusted_limits defaults = {0};
    if (!opts) opts = &none;
    if (!limits) limits = &defaults;
    isolation iso;
    kc_status rc = isolation_open(&iso, path, err);
    int64_t budget = kc__load_budget(opts, rc == KC_OK ? (int64_t)iso.st.st_size : 0);
    child_job job = {.path = path, .lo = *opts};
    job.lo.warn = child_warn;
    job.lo.warn_user = &job;
    int64_t memory = limits->max_memory_bytes > 0 ? limits->max_memory_bytes
                     : budget > (INT64_MAX - BASE_MEMORY) / 4 ? INT64_MAX
                                                              : BASE_MEMORY + 4 * budget;
    if (rc == KC_OK) rc = isolation_run(&iso, &job, limits->timeout_seconds, memory, err);
    kc_object *model = NULL;
    if (rc == KC_OK) model = rebuild_model(&iso.reader, opts, budget, err);
    isolation_close(&iso);
    /* errors the child reported name the file already */
    if (!model && err && !strstr(err->context, kc__short_path(path, shortp)))
        kc__error_context(err, "%s", kc__short_path(path, shortp));
    return model;
}

/* ---- weights only ---------------------------------------------------------------------------------------- */

/* A weight record checked, and where its bytes are. */
typedef struct pending_weight {
    kc__array_header h;
    int64_t at;
} pending_weight;

/* Read the description of a weights-only load: every record checked
 * first, then the weights filled (no half-loaded model). */
static kc_status apply_weights(kc__desc_reader *r, kc_object *model, const kc_weights_options *o, kc_error *err)
{
    int n = kc_layer_num_weights(model), got = 0;
    pending_weight *pw = kc__calloc((size_t)n + 1, sizeof(pending_weight));
    if (!pw) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc__desc_kind kind = 0;
    kc_status rc = KC_OK;
    while (rc == KC_OK && kind != KC__DESC_END) {
        int64_t length;
        rc = kc__desc_next(r, &kind, &length, err);
        if (rc != KC_OK) break;
        if (kind == KC__DESC_WARNING) rc = warning(r, length, o ? o->warn : NULL, o ? o->warn_user : NULL, err);
        else if (kind == KC__DESC_ERROR) {
            kc_status child_rc = KC_OK;
            rc = child_error(r, length, &child_rc, err);
            if (rc == KC_OK) rc = child_rc;
        }
        else if (kind == KC__DESC_WEIGHT && got < n) {
            rc = weight_header(r, length, kc_layer_weight(model, got), &pw[got].h, err);
            pw[got++].at = r->at;
        } else if (kind != KC__DESC_END)
            rc = kc__errf(err, KC_EFORMAT, "the isolated loader sent a record a weights load has not");
    }
    if (rc == KC_OK && got != n)
        rc = kc__errf(err, KC_EFORMAT, "the isolated loader sent %d weights, the model has %d", got, n);
    for (int i = 0; rc == KC_OK && i < n; i++)
        rc = kc__desc_read_array_data(r, &pw[i].h, pw[i].at, kc_tensor_data(kc_variable_value(kc_layer_weight(model, i))),
                                      err);
    kc__free(pw);
    return rc;
}

kc_status kc__model_load_weights_isolated(kc_object *model, const char *path, const kc_weights_options *opts,
                                          const kc_untrusted_limits *limits, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    kc_weights_options none = {0};
    kc_untrusted_limits defaults = {0};
    if (!opts) opts = &none;
    if (!limits) limits = &defaults;
    isolation iso;
    kc_status rc = isolation_open(&iso, path, err);
    child_job job = {.path = path, .weights_only = true, .wo = *opts, .model = model};
    job.wo.warn = child_warn;
    job.wo.warn_user = &job;
    int64_t bytes = 0;
    for (int i = 0; i < kc_layer_num_weights(model); i++)
        bytes += (int64_t)kc_tensor_nbytes(kc_variable_value(kc_layer_weight(model, i)));
    int64_t memory = limits->max_memory_bytes > 0 ? limits->max_memory_bytes : BASE_MEMORY + 4 * bytes;
    if (rc == KC_OK) rc = isolation_run(&iso, &job, limits->timeout_seconds, memory, err);
    if (rc == KC_OK) rc = apply_weights(&iso.reader, model, opts, err);
    isolation_close(&iso);
    if (rc != KC_OK && err && !strstr(err->context, kc__short_path(path, shortp)))
        kc__error_context(err, "%s", kc__short_path(path, shortp));
    return rc;
}

/* ---- for the fuzzers and their seeds ------------------------------------------------------------------------ */

/* A reader over an open description and file. */
static kc_status reader_for(int desc_fd, int file_fd, kc__desc_reader *r, kc_error *err)
{
    struct stat ds, fs;
    if (fstat(desc_fd, &ds) != 0 || fstat(file_fd, &fs) != 0) return kc__errf(err, KC_EIO, "fstat: %s", strerror(errno));
    *r = (kc__desc_reader){.fd = desc_fd, .size = (int64_t)ds.st_size, .file_fd = file_fd, .file_size = (int64_t)fs.st_size};
    return KC_OK;
}

kc_object *kc__model_from_description(int desc_fd, int file_fd, const kc_load_options *opts, kc_error *err)
{
    kc__desc_reader r;
    kc_load_options none = {0};
    if (!opts) opts = &none;
    if (reader_for(desc_fd, file_fd, &r, err) != KC_OK) return NULL;
    return rebuild_model(&r, opts, kc__load_budget(opts, r.file_size), err);
}

kc_status kc__weights_from_description(kc_object *model, int desc_fd, int file_fd, const kc_weights_options *opts,
                                       kc_error *err)
{
    kc__desc_reader r;
    kc_status rc = reader_for(desc_fd, file_fd, &r, err);
    return rc == KC_OK ? apply_weights(&r, model, opts, err) : rc;
}

kc_status kc__describe_load(const char *path, const kc_load_options *opts, int desc_fd, kc_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return kc__errf(err, KC_EIO, "cannot stat '%s': %s", path, strerror(errno));
    child_job job = {.path = path, .lo = opts ? *opts : (kc_load_options){0}, .dev = st.st_dev, .ino = st.st_ino};
    job.lo.warn = child_warn;
    job.lo.warn_user = &job;
    kc__desc_begin(&job.w, desc_fd);
    child_load(&job);
    kc__free(job.notes);
    return job.w.rc == KC_OK ? KC_OK : kc__errf(err, job.w.rc, "%s", job.w.err.message);
}
