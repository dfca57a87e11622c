/* The file formats, as a table, and the public entry points that dispatch
 * through it (DESIGN.md, "Growing the house").
 *
 * Each row is one format: how to recognise it by content, and its load,
 * load_weights, save and save_weights (NULL where the format has none, as
 * in Keras: a .keras archive holds a whole model). Loading looks at the
 * file's first bytes -- a zip archive is a .keras file whatever its name,
 * an HDF5 file is read by the .h5 code, which tells a legacy model, legacy
 * weights and a Keras 3 weights tree apart by their root -- so names are
 * never trusted. Saving picks the row by the path's extension (the longest
 * that matches: "m.weights.h5" is Keras 3 weights, "m.h5" Keras 2); other
 * names get the .h5 layout, as ckeras always wrote; kc_model_save_format
 * names the row instead. A new format (SavedModel, safetensors, ...) is a
 * new row and the functions it names, not a change here.
 *
 * Only regular files are opened: a FIFO or a device would block or stream
 * forever, and a directory is no model.
 *
 * kc_model_load_untrusted hands the whole load to lib/isolation/, which
 * runs kc_model_load in a sandboxed child: isolation sits under the
 * formats and knows nothing of them. */
#define _POSIX_C_SOURCE 200809L
#include "keras3.h"
#include "file_kind.h"
#include "../isolation/isolated_load.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct kc__format {
    const char *name;      /* kc_model_save_format's name for it */
    const char *extension; /* saves to a path ending in it use this row */
    /* the first bytes say this format (NULL: never chosen by content) */
    bool (*probe)(const unsigned char *head, size_t n);
    kc_object *(*load)(const char *path, const kc_load_options *o, kc_error *err);
    kc_status (*load_weights)(kc_object *model, const char *path, const kc_weights_options *o, kc_error *err);
    kc_status (*save)(kc_object *model, const char *path, const kc_save_options *o, kc_error *err);
    kc_status (*save_weights)(kc_object *model, const char *path, const kc_save_options *o, kc_error *err);
} kc__format;

static bool is_zip(const unsigned char *head, size_t n)
{
    /* a local file header, or the end record of an empty archive */
    return n >= 4 && head[0] == 'P' && head[1] == 'K' &&
           ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6));
}

static bool is_hdf5(const unsigned char *head, size_t n)
{
    static const unsigned char magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    return n >= 8 && memcmp(head, magic, 8) == 0;
}

static kc_status no_weights_save(kc_object *model, const char *path, const kc_save_options *o, kc_error *err)
{
    (void)model, (void)o;
    return kc__errf(err, KC_EINVAL, "'%s': a .keras archive holds a whole model; save weights only as "
                    "NAME.weights.h5 (Keras 3) or NAME.h5 (Keras 2)", path);
}

static const kc__format formats[] = {
    {"keras", ".keras", is_zip, kc__keras_archive_load, kc__keras_archive_load_weights, kc__keras_archive_save,
     no_weights_save},
    /* Keras 3 save_weights; model.save("m.weights.h5") is still an .h5 model, as in Keras */
    {"weights.h5", ".weights.h5", NULL, kc__h5_load, kc__h5_load_weights, kc__h5_save, kc__keras3_save_weights},
    /* last: what the content does not place otherwise (HDF5 with a user
     * block, or no model at all, which its loader names) */
    {"h5", ".h5", is_hdf5, kc__h5_load, kc__h5_load_weights, kc__h5_save, kc__h5_save_weights},
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

/* ---- choosing a row ----------------------------------------------------------------------- */

kc_status kc__open_regular(const char *path, int *fd, int64_t *size, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    *fd = -1;
    /* what the path names is looked at before opening it: opening a device
     * can have effects of its own (file_kind.c) */
    kc_status rc = kc__refuse_special_file(path, err);
    if (rc != KC_OK) return rc;
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (f < 0) return kc__errf(err, KC_EIO, "cannot open '%s': %s", kc__short_path(path, shortp), strerror(errno));
    struct stat st;
    if (fstat(f, &st) != 0) {
        int e = errno;
        close(f);
        return kc__errf(err, KC_EIO, "cannot read '%s': %s", kc__short_path(path, shortp), strerror(e));
    }
    if (!S_ISREG(st.st_mode)) { /* it changed since it was looked at */
        close(f);
        return kc__errf(err, KC_EFORMAT, "'%s' is %s, not a model file", kc__short_path(path, shortp),
                        S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : "not a regular file");
    }
    /* blocking again for the reads to come */
    int flags = fcntl(f, F_GETFL);
    if (flags >= 0) fcntl(f, F_SETFL, flags & ~O_NONBLOCK);
    *fd = f;
    if (size) *size = (int64_t)st.st_size;
    return KC_OK;
}

static const kc__format *by_content(const char *path, kc_error *err)
{
    int fd;
    kc_status rc = kc__open_regular(path, &fd, NULL, err);
    if (rc != KC_OK) return NULL;
    unsigned char head[16];
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n < 0) {
        kc__errf(err, KC_EIO, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    for (size_t i = 0; i < N_FORMATS; i++)
        if (formats[i].probe && formats[i].probe(head, (size_t)n)) return &formats[i];
    return &formats[N_FORMATS - 1];
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const kc__format *by_name(const char *format, kc_error *err)
{
    for (size_t i = 0; format && i < N_FORMATS; i++)
        if (strcmp(formats[i].name, format) == 0) return &formats[i];
    kc__errf(err, KC_EINVAL, "unknown file format '%s' (formats: keras, h5, weights.h5)", format ? format : "(null)");
    return NULL;
}

static const kc__format *for_saving(const char *path)
{
    const kc__format *best = NULL;
    for (size_t i = 0; path && i < N_FORMATS; i++)
        if (ends_with(path, formats[i].extension) && (!best || strlen(formats[i].extension) > strlen(best->extension)))
            best = &formats[i];
    return best ? best : &formats[N_FORMATS - 1];
}

bool kc__saves_legacy_h5(const char *path, bool weights_only)
{
    const kc__format *f = for_saving(path);
    return weights_only ? f->save_weights == kc__h5_save_weights : f->save == kc__h5_save;
}

/* ---- the public entry points -------------------------------------------------------------- */

kc_object *kc_model_load(const char *path, const kc_load_options *opts, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    if (kc_init(err) != KC_OK) return NULL;
    const kc__format *f = by_content(path, err);
    kc_object *m = f ? f->load(path, opts, err) : NULL;
    if (!m) kc__error_context(err, "%s", kc__short_path(path, shortp));
    return m;
}

/* A model weights can be loaded into. */
static kc_status weights_target(kc_object *model, kc_error *err)
{
    if (!kc_is_model(model)) return kc__errf(err, KC_EINVAL, "kc_model_load_weights: not a model");
    if (!kc__as_layer(model)->built && kc_layer_num_weights(model) == 0 && kc_model_num_layers(model) == 0)
        return kc__errf(err, KC_ESTATE, "model '%s' is empty", kc_layer_name(model));
    if (kc__is_subclassed(model) && !kc__as_layer(model)->built)
        return kc__errf(err, KC_ESTATE, "subclassed model '%s' is not built: call it or kc_model_build it "
                        "before loading weights", kc_layer_name(model));
    return kc_init(err);
}

kc_status kc_model_load_weights(kc_object *model, const char *path, const kc_weights_options *opts, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    kc_status rc = weights_target(model, err);
    const kc__format *f = rc == KC_OK ? by_content(path, err) : NULL;
    if (rc == KC_OK && !f) rc = kc__error_code(err, KC_EIO);
    if (rc == KC_OK) rc = f->load_weights(model, path, opts, err);
    if (rc != KC_OK) kc__error_context(err, "%s", kc__short_path(path, shortp));
    return rc;
}

/* Isolation is a layer under the formats: the child it starts runs the
 * entry points above (lib/isolation/isolated_load.c). */
kc_object *kc_model_load_untrusted(const char *path, const kc_load_options *opts, const kc_untrusted_limits *limits,
                                   kc_error *err)
{
    if (kc_init(err) != KC_OK) return NULL;
    return kc__model_load_isolated(path, opts, limits, err);
}

kc_status kc_model_load_weights_untrusted(kc_object *model, const char *path, const kc_weights_options *opts,
                                          const kc_untrusted_limits *limits, kc_error *err)
{
    kc_status rc = weights_target(model, err);
    return rc == KC_OK ? kc__model_load_weights_isolated(model, path, opts, limits, err) : rc;
}

kc_status kc_model_save(kc_object *model, const char *path, const kc_save_options *opts, kc_error *err)
{
    return for_saving(path)->save(model, path, opts, err);
}

kc_status kc_model_save_weights(kc_object *model, const char *path, const kc_save_options *opts, kc_error *err)
{
    return for_saving(path)->save_weights(model, path, opts, err);
}

kc_status kc_model_save_format(kc_object *model, const char *path, const char *format, const kc_save_options *opts,
                               kc_error *err)
{
    const kc__format *f = by_name(format, err);
    return f ? f->save(model, path, opts, err) : KC_EINVAL;
}

kc_status kc_model_save_weights_format(kc_object *model, const char *path, const char *format,
                                       const kc_save_options *opts, kc_error *err)
{
    const kc__format *f = by_name(format, err);
    return f ? f->save_weights(model, path, opts, err) : KC_EINVAL;
}
