/* ckeras: saving and loading models in Keras' HDF5 (.h5) format.
 *
 * Files are written in the Keras 2 legacy layout (spec §11): tf.keras 2.x,
 * Keras 3 (load_model("x.h5")), TensorFlow.js, h5py and h5dump read them
 * unchanged. Files written by Keras 1.x, 2.x and 3.x load: model_config in
 * the Keras 2 and Keras 3 forms, Keras 1 configs translated, weights matched
 * by position as Keras does.
 *
 * Saving is atomic: the file is written next to the target under a
 * temporary name, flushed, fsync'ed and renamed over the target; if
 * anything fails the previous file is untouched and the temporary removed.
 *
 * Files are untrusted input: no code is ever loaded from them (Lambda
 * layers name registered C functions), only hard links are followed,
 * external storage and virtual datasets are refused, JSON size and depth
 * are capped, and every dataset's shape is checked against the model built
 * from the config before anything is read; a weight larger than the file
 * could hold is refused before it is allocated. Errors name the file,
 * the layer and the weight.
 *
 * One limit is not ckeras': the HDF5 library (1.10) parses the file's own
 * structures (superblock, object headers, B-trees), and a deliberately
 * corrupted structure can crash it or worse. For files you did not make,
 * set `untrusted` in the options: the file is then opened and parsed in a
 * sandboxed child process (sandbox.h) that sends back the config and the
 * weights, and this process builds the model from those alone; a crash, a
 * hang or a limit reached in the child is an error here (KC_EFORMAT or
 * KC_ELIMIT), never a crash. Weights stored as plain float32 blocks (as
 * Keras and ckeras write them) are read by this process straight from the
 * file at the offsets the child found, so isolation costs no extra copy.
 * README.md ("Loading files you did not make") says what is protected.
 *
 * FIFOs, devices and directories are refused before anything opens them.
 *
 * Before writing, a save reserves the file's size on disk (fallocate), so
 * that a full disk or `ulimit -f` fails cleanly at the start. */
#ifndef CKERAS_IO_H
#define CKERAS_IO_H

#include "defs.h"
#include "error.h"
#include "object.h"

#include <stdbool.h>
#include <stdint.h>

KC_BEGIN_DECLS

/* Warnings a load reports (optimizer state not restored, weights skipped
 * with skip_mismatch). The library never prints them itself. */
typedef void (*kc_warning_fn)(void *user, const char *message);

/* Zero-initialized options are Keras' defaults. */
typedef struct kc_save_options {
    bool exclude_optimizer;    /* include_optimizer=False: no training_config / optimizer_weights */
    bool no_sync;              /* skip fsync (faster, not durable across power loss) */
    const char *keras_version; /* written as keras_version; NULL: "2.15.0" */
} kc_save_options;

typedef struct kc_load_options {
    const kc_custom_objects *custom_objects; /* consulted before the registry; may be NULL */
    bool no_compile;           /* compile=False: ignore training_config */
    kc_warning_fn warn;        /* may be NULL */
    void *warn_user;
    int64_t max_weight_bytes;  /* refuse models with more weight bytes; 0: 16 x the file's size (min 64 MiB) */
    bool untrusted;            /* load in a sandboxed child process (see above) */
    double timeout_seconds;    /* untrusted: the child's wall-clock (and CPU) limit; 0: 60 s */
    int64_t max_memory_bytes;  /* untrusted: address space the child may add; 0: 1 GiB + 4 x the weight budget */
} kc_load_options;

typedef struct kc_weights_options {
    bool by_name;              /* match layers by name instead of position */
    bool skip_mismatch;        /* skip weights whose shape (or, by name, count) differs, with a warning */
    kc_warning_fn warn;
    void *warn_user;
    bool untrusted;            /* read the file in a sandboxed child process (see above) */
    double timeout_seconds;    /* untrusted: the child's wall-clock (and CPU) limit; 0: 60 s */
    int64_t max_memory_bytes;  /* untrusted: address space the child may add; 0: 1 GiB + 4 x the model's weights */
} kc_weights_options;

/* Save a whole model (config, weights, and when compiled the training
 * config and optimizer state). opts may be NULL. */
KC_API KC_NODISCARD kc_status kc_model_save(kc_object *model, const char *path,
                                            const kc_save_options *opts, kc_error *err);
/* Load a model saved by kc_model_save or by Keras. opts may be NULL.
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_model_load(const char *path, const kc_load_options *opts,
                                             kc_error *err);
/* Weights only, in Keras' save_weights layout (the model_weights tree at
 * the root of the file). */
KC_API KC_NODISCARD kc_status kc_model_save_weights(kc_object *model, const char *path,
                                                    const kc_save_options *opts, kc_error *err);
/* Load weights into a built model, from a weights-only file or a full model
 * file. Count and shape mismatches are errors naming the layer, the weight
 * and both shapes (warnings with skip_mismatch). opts may be NULL. */
KC_API KC_NODISCARD kc_status kc_model_load_weights(kc_object *model, const char *path,
                                                    const kc_weights_options *opts,
                                                    kc_error *err);

KC_END_DECLS

#endif /* CKERAS_IO_H */
