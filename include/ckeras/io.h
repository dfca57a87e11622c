/* ckeras: saving and loading models in Keras' files.
 *
 * Three formats, told apart by content when loading (a zip archive is a
 * .keras file whatever its name) and by the path's extension when saving
 * (or by name, with kc_model_save_format):
 *   .keras        Keras 3's archive: config.json, metadata.json and
 *                 model.weights.h5 (Keras 3's weights layout, optimizer
 *                 state included). Archives written by Keras 2.13-2.15
 *                 and 3.x load.
 *   .weights.h5   Keras 3's save_weights: the same weights layout alone
 *                 (kc_model_save_weights; kc_model_load_weights).
 *   .h5           Keras 2's legacy layout (spec §11): tf.keras 2.x, Keras 3
 *                 (load_model("x.h5")), TensorFlow.js, h5py and h5dump read
 *                 what ckeras writes unchanged. Files written by Keras 1.x,
 *                 2.x and 3.x load: Keras 1 configs translated, weights
 *                 matched by position as Keras does.
 * Every model config form loads (Keras 1, 2 and 3's dialect), and optimizer
 * state in its three layouts (Keras 2's optimizer_v2, tf.keras 2.11+, Keras
 * 3). doc/keras3-format.md describes the Keras 3 layouts.
 *
 * Saving is atomic: the file is written next to the target under a
 * temporary name, flushed, fsync'ed and renamed over the target; if
 * anything fails the previous file is untouched and the temporary removed.
 *
 * Files are untrusted input: no code is ever loaded from them (Lambda
 * layers name registered C functions), only regular files are opened,
 * only hard links are followed, external storage and virtual datasets are
 * refused, JSON size and depth are capped, archives are checked entry by
 * entry (no absolute or ".." names, sizes that agree with the central
 * directory, nothing that expands past the load's budget: zip bombs), and
 * every dataset's shape -- optimizer state included -- is checked against
 * the model built from the config before anything is read or allocated; a
 * weight larger than the file could hold is refused before it is
 * allocated. Errors name the file, the layer and the weight.
 *
 * One limit is not ckeras': the HDF5 library (1.10) parses the file's own
 * structures (superblock, object headers, B-trees), and a deliberately
 * corrupted structure can crash it or worse. For files you did not make,
 * load with kc_model_load_untrusted (kc_model_load_weights_untrusted): the
 * file is then opened and parsed in a sandboxed child process (sandbox.h)
 * that sends back the config and the weights, and this process builds the
 * model from those alone; a crash, a hang or a limit reached in the child
 * is an error here (KC_EFORMAT or KC_ELIMIT), never a crash. Weights
 * stored as plain float32 blocks (as Keras and ckeras write them) are read
 * by this process straight from the file at the offsets the child found,
 * so isolation costs no extra copy. README.md ("Loading files you did not
 * make") says what is protected.
 *
 * FIFOs, devices and directories are refused before anything opens them.
 *
 * Before writing, an .h5 save reserves the file's size on disk (fallocate),
 * so that a full disk or `ulimit -f` fails cleanly at the start. */
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
    const char *keras_version; /* written as keras_version; NULL: "2.15.0" (.h5), "3.10.0" (.keras) */
} kc_save_options;

typedef struct kc_load_options {
    const kc_custom_objects *custom_objects; /* consulted before the registry; may be NULL */
    bool no_compile;           /* compile=False: ignore training_config */
    kc_warning_fn warn;        /* may be NULL */
    void *warn_user;
    int64_t max_weight_bytes;  /* refuse models with more weight bytes; 0: 16 x the file's size (min 64 MiB) */
} kc_load_options;

typedef struct kc_weights_options {
    bool by_name;              /* match layers by name instead of position */
    bool skip_mismatch;        /* skip weights whose shape (or, by name, count) differs, with a warning */
    kc_warning_fn warn;
    void *warn_user;
} kc_weights_options;

/* The limits of an untrusted load's child process. Zero-initialized: the
 * defaults. */
typedef struct kc_untrusted_limits {
    double timeout_seconds;    /* wall-clock (and CPU) limit; 0: 60 s */
    int64_t max_memory_bytes;  /* address space the child may add; 0: 1 GiB + 4 x the weight budget
                                * (a model load) or the model's weights (a weights load) */
} kc_untrusted_limits;

/* Save a whole model (config, weights, and when compiled the training
 * config and optimizer state): "m.keras" as a Keras 3 archive, anything
 * else in the Keras 2 .h5 layout. opts may be NULL. */
KC_API KC_NODISCARD kc_status kc_model_save(kc_object *model, const char *path,
                                            const kc_save_options *opts, kc_error *err);
/* kc_model_save in the format named, whatever path's extension: "keras"
 * (a Keras 3 archive), "h5" (Keras 2's layout) or "weights.h5" (which, as
 * in Keras, saves a whole model in the .h5 layout). KC_EINVAL for another
 * name. */
KC_API KC_NODISCARD kc_status kc_model_save_format(kc_object *model, const char *path, const char *format,
                                                   const kc_save_options *opts, kc_error *err);
/* Load a model saved by kc_model_save or by Keras. opts may be NULL.
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_model_load(const char *path, const kc_load_options *opts,
                                             kc_error *err);
/* Weights only: "m.weights.h5" in Keras 3's layout (with a compiled
 * model's optimizer state, as Keras 3 saves it), anything else in Keras
 * 2's (the model_weights tree at the root of the file). */
KC_API KC_NODISCARD kc_status kc_model_save_weights(kc_object *model, const char *path,
                                                    const kc_save_options *opts, kc_error *err);
/* kc_model_save_weights in the layout named, whatever path's extension:
 * "weights.h5" (Keras 3's) or "h5" (Keras 2's); "keras" is KC_EINVAL (an
 * archive holds a whole model). */
KC_API KC_NODISCARD kc_status kc_model_save_weights_format(kc_object *model, const char *path,
                                                           const char *format,
                                                           const kc_save_options *opts, kc_error *err);
/* Load weights into a built model, from a weights-only file (either
 * layout) or a full model file (.h5 or .keras). Count and shape mismatches
 * are errors naming the layer, the weight and both shapes (warnings with
 * skip_mismatch). A Keras 3 weights file restores a compiled model's
 * optimizer state too, as Keras 3 does. opts may be NULL. */
KC_API KC_NODISCARD kc_status kc_model_load_weights(kc_object *model, const char *path,
                                                    const kc_weights_options *opts,
                                                    kc_error *err);

/* kc_model_load for a file you did not make: the same load, run in a
 * sandboxed child process (see above), the model rebuilt here from what
 * the child sends back -- the same model, compile state, optimizer state,
 * warnings and errors as kc_model_load gives, or, when the file crashes
 * the parser, hangs it or makes it reach a limit, KC_EFORMAT ("the file
 * crashed libhdf5_serial.so.103 in the isolated loader (signal 11,
 * SIGSEGV)") or KC_ELIMIT. Custom classes and functions must round-trip
 * through their configs (as kc_model_save needs). opts and limits may be
 * NULL. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_model_load_untrusted(const char *path, const kc_load_options *opts,
                                                       const kc_untrusted_limits *limits, kc_error *err);
/* kc_model_load_weights for a file you did not make, in the same way:
 * every weight is checked before any is set (no half-loaded model). */
KC_API KC_NODISCARD kc_status kc_model_load_weights_untrusted(kc_object *model, const char *path,
                                                              const kc_weights_options *opts,
                                                              const kc_untrusted_limits *limits, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_IO_H */
