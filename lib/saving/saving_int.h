/* ckeras private: pieces shared by the saver and the loader. */
#ifndef CKERAS_SAVING_INT_H
#define CKERAS_SAVING_INT_H

#include "../training/training_int.h"
#include "h5io.h"
#include <ckeras/io.h>

/* Keras' HDF5_OBJECT_HEADER_LIMIT: longer name lists are split. */
#define KC__H5_HEADER_LIMIT 64512

/* The layers whose groups a weights tree has: model.layers. */
int kc__file_layer_count(const kc_object *model);
kc_object *kc__file_layer(const kc_object *model, int i);

/* Name lists, split as Keras splits them (name0, name1, ...). */
kc_status kc__write_name_list(kc__h5 *h, const char *obj, const char *name, char *const *items,
                              size_t n, kc_error *err);
kc_status kc__read_name_list(kc__h5 *h, const char *obj, const char *name, char ***items,
                             size_t *n, bool *present, kc_error *err);

/* Write the model_weights tree of model at group g ("/" for weights-only files). */
kc_status kc__write_weights_tree(kc__h5 *h, const char *g, kc_object *model, const char *version,
                                 kc_error *err);

/* ---- the formats' functions (format.c dispatches to them) ---- */

/* The Keras 2 legacy .h5 layout (model_load.c, model_save.c); its
 * load_weights also reads Keras 3 weights trees (.weights.h5). */
kc_object *kc__h5_load(const char *path, const kc_load_options *o, kc_error *err);
kc_status kc__h5_load_weights(kc_object *model, const char *path, const kc_weights_options *o, kc_error *err);
kc_status kc__h5_save(kc_object *model, const char *path, const kc_save_options *o, kc_error *err);
kc_status kc__h5_save_weights(kc_object *model, const char *path, const kc_save_options *o, kc_error *err);
/* Keras 3's save_weights layout in an .h5 file (model_save.c). */
kc_status kc__keras3_save_weights(kc_object *model, const char *path, const kc_save_options *o, kc_error *err);

/* Open path for reading if it is a regular file (FIFOs, devices and
 * directories are refused before they can block); *size its bytes. */
kc_status kc__open_regular(const char *path, int *fd, int64_t *size, kc_error *err);

/* The weight budget of a load (max_weight_bytes, else 16 x the file's
 * size, at least 64 MiB). */
int64_t kc__load_budget(const kc_load_options *o, int64_t file_bytes);
/* Build a model from its config JSON (in place: Keras <= 2.0's bare list
 * is wrapped), creating at most budget bytes of weights, uninitialized
 * when weights_from_file; where names the JSON in messages. */
kc_status kc__model_from_json(json_t *cfg, const char *where, const kc_load_options *o, int64_t budget,
                              bool weights_from_file, kc_object **out, kc_error *err);
/* The warning of a failed optimizer restore, naming why. */
void kc__warn_optimizer_not_restored(kc_warning_fn warn, void *user, const kc_error *why);

/* Atomic saves: a temporary name beside path (one candidate per call;
 * callers create it exclusively, retrying on a clash), then, once written,
 * fsync it, rename it over path and fsync the folder. */
void kc__save_temp_name(const char *path, char *buf, size_t size);
kc_status kc__save_commit(const char *tmp, const char *path, bool sync, kc_error *err);

/* Remove the temporaries that killed saves of `path` left behind
 * (stale_temporaries.c; see there for what counts as stale).
 * kc__save_temp_name calls it. */
void kc__remove_stale_temporaries(const char *path);

/* The model's config as kc_model_save writes it: kc_serialize plus, for
 * a subclassed model, the build_config it was built with. New reference. */
kc_status kc__model_config_json(kc_object *model, json_t **out, kc_error *err);

/* Whether kc_model_save (weights_only: kc_model_save_weights) writes path
 * in the Keras 2 legacy .h5 layout, the one kc__model_write writes. */
bool kc__saves_legacy_h5(const char *path, bool weights_only);
/* What kc_model_save (or kc_model_save_weights) writes, into a file opened
 * by the caller: for writers that make the file themselves (lib/distributed
 * writes one file from several processes). The caller makes it atomic. */
kc_status kc__model_write(kc__h5 *h, kc_object *model, const kc_save_options *opts, bool weights_only,
                          kc_error *err);
/* The disk space such a save reserves (generous). */
int64_t kc__model_save_size(kc_object *model, bool weights_only, const kc_save_options *opts);

/* Translate a Keras 1 model_config in place (keras1.c). */
kc_status kc__keras1_translate(json_t *model_config, kc_error *err);

#endif /* CKERAS_SAVING_INT_H */
