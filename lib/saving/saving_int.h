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

/* Remove the temporaries that killed saves of `path` left behind
 * (stale_temporaries.c; see there for what counts as stale). */
void kc__remove_stale_temporaries(const char *path);

/* Translate a Keras 1 model_config in place (keras1.c). */
kc_status kc__keras1_translate(json_t *model_config, kc_error *err);

#endif /* CKERAS_SAVING_INT_H */
