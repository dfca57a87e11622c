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

/* The model's config as kc_model_save writes it: kc_serialize plus, for
 * a subclassed model, the build_config it was built with. New reference. */
kc_status kc__model_config_json(kc_object *model, json_t **out, kc_error *err);
/* Build a model from such a config (and build it from build_config), its
 * weights counted against budget bytes; weights_follow: every weight will
 * be filled by the caller, so initializers are skipped. */
kc_status kc__model_from_config(const json_t *cfg, const kc_custom_objects *co, int64_t budget, bool weights_follow,
                                kc_object **out, kc_error *err);
/* The weight budget of a load: max_weight_bytes, or 16 x the file's size
 * (at least 64 MiB). */
int64_t kc__load_budget(const kc_load_options *o, int64_t file_bytes);

/* Translate a Keras 1 model_config in place (keras1.c). */
kc_status kc__keras1_translate(json_t *model_config, kc_error *err);

#endif /* CKERAS_SAVING_INT_H */
