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

/* What kc_model_save (or kc_model_save_weights) writes, into a file opened
 * by the caller: for writers that make the file themselves (lib/distributed
 * writes one file from several processes). The caller makes it atomic. */
kc_status kc__model_write(kc__h5 *h, kc_object *model, const kc_save_options *opts, bool weights_only,
                          kc_error *err);
/* Make a finished temporary file the file at path: fsync it (sync), rename
 * it over path, fsync the folder. */
kc_status kc__save_commit(const char *tmp, const char *path, bool sync, kc_error *err);
/* The disk space such a save reserves (generous). */
int64_t kc__model_save_size(kc_object *model, bool weights_only, const kc_save_options *opts);

/* Translate a Keras 1 model_config in place (keras1.c). */
kc_status kc__keras1_translate(json_t *model_config, kc_error *err);

#endif /* CKERAS_SAVING_INT_H */
