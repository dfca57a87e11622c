/* ckeras: looking inside a Keras file without building the model.
 *
 * kc_model_load needs every class of the model; a file inspector does not.
 * Besides .h5 files this reads Keras 3's .keras archives (config.json is
 * their model_config, compile_config their training_config) and
 * .weights.h5 files. Keras 3's weights tree does not name layers: when the
 * archive's config builds with the classes at hand, its weights are listed
 * as an .h5 lists them (by layer, with Keras 2 names such as
 * "dense/kernel:0"), so that files of both formats compare; otherwise by
 * their place in the tree (layer "layers/dense", weight "vars/0"). An
 * archive's optimizer weights are "iteration", "vars/1", "vars/2", ...
 * This read-only API gives what the file itself holds: the root attributes
 * (keras_version, backend, model_config and training_config as JSON), the
 * list of stored weights (layer group, weight name, shape, stored dtype,
 * bytes) of a whole-model file's /model_weights tree or of a weights-only
 * file's root, the datasets of /optimizer_weights, and the values of any
 * one of them. It works for files whose custom classes are not registered
 * and for weights-only files (model.save_weights), and it is what
 * `modelinspect` uses for everything a file holds beyond a loaded model.
 *
 * The same untrusted-input rules as kc_model_load apply: only hard links
 * are followed, external storage and virtual datasets are refused, name
 * lists, strings, ranks and sizes are bounded before anything is
 * allocated, and errors name the file, the group and the dataset.
 *
 *     kc_h5file *f = kc_h5file_open("model.h5", &err);
 *     const kc_h5file_weight *w;
 *     size_t n;
 *     if (f && kc_h5file_weights(f, &w, &n, &err) == KC_OK)
 *         for (size_t i = 0; i < n; i++) printf("%s %s\n", w[i].layer, w[i].name);
 *     kc_h5file_close(f);
 */
#ifndef CKERAS_H5FILE_H
#define CKERAS_H5FILE_H

#include "defs.h"
#include "error.h"
#include "tensor.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

KC_BEGIN_DECLS

typedef struct kc_h5file kc_h5file;

/* What a Keras file holds. */
typedef enum kc_h5file_content {
    KC_H5FILE_MODEL = 0,  /* a whole model (model.save): root attribute model_config */
    KC_H5FILE_WEIGHTS = 1 /* weights only (model.save_weights): layer_names at the root */
} kc_h5file_content;

/* One stored array: a weight of a layer group, or an optimizer weight.
 * All pointers are borrowed from the kc_h5file and live until it is closed. */
typedef struct kc_h5file_weight {
    const char *layer;        /* the layer group as listed in layer_names ("" for optimizer weights) */
    const char *name;         /* as listed in weight_names, e.g. "dense/kernel:0" */
    const char *path;         /* the dataset's HDF5 path, e.g. "/model_weights/dense/dense/kernel:0" */
    int ndim;                 /* 0 (scalar) .. KC_MAX_DIMS */
    int64_t dims[KC_MAX_DIMS];
    int64_t size;             /* elements: the product of dims */
    const char *dtype;        /* stored type: "float16", "float32", "float64", "int8".."int64",
                               * "uint8".."uint64", or "other" (not numbers). Static string. */
    int64_t nbytes;           /* stored bytes: size x bytes per element */
} kc_h5file_weight;

/* A layer group of the weights tree, in layer_names order (layers without
 * weights included; a non-empty top_level_model_weights group comes last). */
typedef struct kc_h5file_layer {
    const char *name;         /* borrowed */
    size_t first_weight;      /* index of its first weight in kc_h5file_weights() */
    size_t n_weights;         /* how many weights it stores */
} kc_h5file_layer;

/* Open a Keras file for reading. Fails with KC_EIO (cannot open), or
 * KC_EFORMAT when the file is not HDF5, is damaged, or is HDF5 without the
 * root attributes of a Keras file (model_config for a model, layer_names
 * for weights only). The context names the file.
 * Returns: a handle to close with kc_h5file_close, or NULL. */
KC_API KC_NODISCARD kc_h5file *kc_h5file_open(const char *path, kc_error *err);
/* NULL-safe. Invalidates every pointer the handle gave out. */
KC_API void kc_h5file_close(kc_h5file *f);

/* The path the file was opened with. Borrowed. */
KC_API const char *kc_h5file_path(const kc_h5file *f);
KC_API kc_h5file_content kc_h5file_contents(const kc_h5file *f);
/* The root's keras_version / backend attribute, else the weights tree's
 * (Keras 1 wrote them only there); NULL when the file has none. Borrowed. */
KC_API const char *kc_h5file_keras_version(const kc_h5file *f);
KC_API const char *kc_h5file_backend(const kc_h5file *f);
/* The group holding the weights tree: "/model_weights" for a model, "/"
 * for weights only and Keras 3's files; NULL when a model file has no
 * /model_weights group. */
KC_API const char *kc_h5file_weights_group(const kc_h5file *f);
/* The file's format, told by its content: "h5" (Keras 2's layout, any
 * Keras), "keras" (a .keras archive) or "weights.h5" (Keras 3's
 * save_weights). Static string. */
KC_API const char *kc_h5file_format(const kc_h5file *f);

/* Parse a root JSON attribute ("model_config", "training_config") as Keras
 * writes it (NaN / Infinity tokens accepted, depth capped). *out receives a
 * new JSON value, or NULL (and KC_OK) when the attribute is absent.
 * Fails with KC_EFORMAT naming the attribute and the JSON position. */
KC_API KC_NODISCARD kc_status kc_h5file_attr_json(kc_h5file *f, const char *name, json_t **out,
                                                  kc_error *err);

/* The layer groups and the weights of the weights tree, read on the first
 * call and kept: every group named by layer_names and every dataset named
 * by weight_names must exist (through hard links) with at most
 * KC_MAX_DIMS dims, else KC_EFORMAT naming it (a failed listing is not
 * kept). Non-numeric datasets are listed with dtype "other". Outputs are
 * borrowed arrays, empty when there is no weights tree. */
KC_API KC_NODISCARD kc_status kc_h5file_layers(kc_h5file *f, const kc_h5file_layer **layers,
                                               size_t *n, kc_error *err);
KC_API KC_NODISCARD kc_status kc_h5file_weights(kc_h5file *f, const kc_h5file_weight **weights,
                                                size_t *n, kc_error *err);
/* The datasets listed by /optimizer_weights' weight_names, in order
 * (layer ""); empty when the file has no optimizer state. Borrowed. */
KC_API KC_NODISCARD kc_status kc_h5file_optimizer_weights(kc_h5file *f,
                                                          const kc_h5file_weight **weights,
                                                          size_t *n, kc_error *err);
/* The model weight stored by layer group `layer` under weight name `name`
 * (as listed), or NULL. Lists the weights first if needed; a file whose
 * listing fails has none. Borrowed. */
KC_API const kc_h5file_weight *kc_h5file_find_weight(kc_h5file *f, const char *layer,
                                                     const char *name);

/* Read a weight listed by this file: float datasets (float16/32/64) as
 * KC_FLOAT32, integer datasets as KC_INT64, shaped as stored. Refuses
 * non-numeric datasets (KC_EFORMAT) and arrays whose values would take more
 * than 16 x the file's size or 64 MiB, whichever is larger (KC_ELIMIT: a
 * dataset may declare a huge shape without storing it).
 * Returns: *out a new tensor, NULL on failure. */
KC_API KC_NODISCARD kc_status kc_h5file_read(kc_h5file *f, const kc_h5file_weight *w,
                                             kc_tensor **out, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_H5FILE_H */
