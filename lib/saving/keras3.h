/* ckeras private: Keras 3's files (.keras archives, .weights.h5), their
 * weights layout, their config dialect and optimizer state. The rules are
 * written down in doc/keras3-format.md; each file here cites them. */
#ifndef CKERAS_KERAS3_H
#define CKERAS_KERAS3_H

#include "saving_int.h"

/* ---- the weights layout (keras3_layout.c): no HDF5, only where things go ---- */

/* One saveable object of the tree: its variables are "<path>/vars/<i>". */
typedef struct kc__k3_object {
    char *path;         /* relative to the root, no leading '/'; "" is the model itself */
    char *name;         /* the object's name, written as the vars group's "name" attribute */
    char *layer;        /* the model.layers entry it belongs to ("" for the model itself) */
    kc_variable **vars; /* borrowed from the model, in vars/<i> order */
    int n_vars;
} kc__k3_object;

typedef struct kc__k3_layout {
    kc__k3_object *objects; /* in Keras' walk order */
    size_t n, cap;
} kc__k3_layout;

/* Where Keras 3 keeps every weight of model (rules L1-L6 of the note). */
kc_status kc__keras3_layout(kc_object *model, kc__k3_layout *out, kc_error *err);
void kc__keras3_layout_free(kc__k3_layout *l);

/* ---- the weights tree in an HDF5 file (keras3_weights.c) ---- */

/* Does h hold a Keras 3 weights tree at its root ("layers", "vars",
 * Keras 2.13's "_layer_checkpoint_dependencies")? */
bool kc__keras3_is_weights_tree(kc__h5 *h);
/* The vars group of the object at path ("layers/dense") in h, or NULL
 * (absent; or out of memory: *oom). W4: Keras 2.13's container name and
 * Windows' joins are found too. Returns: kc__malloc'd. */
char *kc__keras3_find_vars(kc__h5 *h, const char *path, bool *oom);
/* Fill model's weights from it: every object's shapes checked first, then
 * read (all or nothing). */
kc_status kc__keras3_read_weights(kc__h5 *h, kc_object *model, const kc_weights_options *o, kc_error *err);
/* Write model's weights, and optimizer/vars when with_optimizer and the
 * model is compiled with a built optimizer. */
kc_status kc__keras3_write_weights(kc__h5 *h, kc_object *model, bool with_optimizer, kc_error *err);

/* Restore the compiled model's optimizer from /optimizer/vars (Keras 3's
 * layout; tf.keras 2.13-2.15's when keras_version starts with "2"). */
kc_status kc__keras3_restore_optimizer(kc__h5 *h, kc_object *model, const char *keras_version, int64_t budget,
                                       kc_error *err);

/* ---- optimizer state in its three layouts (optimizer_state.c) ---- */

typedef enum kc__opt_layout {
    KC__OPT_LEGACY,  /* Keras 2 optimizer_v2: iter, states, then each slot kind for all variables */
    KC__OPT_TF211,   /* tf.keras 2.11-2.15: iteration, then each build loop's slots per variable */
    KC__OPT_KERAS3   /* Keras 3: iteration, learning_rate, then as tf.keras 2.11 */
} kc__opt_layout;

/* The stored arrays of an optimizer state: paths of datasets in h, in
 * the file's order. */
typedef struct kc__opt_source {
    kc__h5 *h;
    char **paths;
    size_t n;
    kc__opt_layout layout;
    const char *keras_version; /* the file's (Nadam's Keras 3 u_product moved in 3.10) */
} kc__opt_source;

/* Restore model's optimizer from src, all or nothing: counts, shapes and
 * dtypes are checked against the model's trainable variables before
 * anything is allocated, and what it allocates counts against budget
 * (bytes; < 0: none). On failure the optimizer is as fresh and err says
 * why. */
kc_status kc__optimizer_restore(kc_object *model, const kc__opt_source *src, int64_t budget, kc_error *err);
/* The layout of /optimizer_weights' names in a legacy-layout .h5 file. */
kc__opt_layout kc__optimizer_layout_of(char *const *names, size_t n);
/* The optimizer's weights in Keras 3's order (iteration, learning_rate
 * unless a schedule, slots; O3, O4): n new references in *out (kc__free
 * the array after unref'ing them). An optimizer not built yet gives its
 * iteration count and learning rate (O6). */
kc_status kc__optimizer_keras3_weights(kc_object *opt, kc_tensor ***out, int *n, kc_error *err);

/* ---- the config dialect (keras3_config.c) ---- */

/* Keras 3's form of a model (config.json): module / registered_name on
 * every object, InputLayer batch_shape, node dicts, build_config and
 * compile_config. Returns: new JSON or NULL. */
json_t *kc__keras3_model_json(kc_object *model, bool with_compile, kc_error *err);
/* compile_config of a .keras as a spec for kc_model_compile_json (a
 * missing optimizer: optimizer_name, the name Keras gave the optimizer's
 * vars group, when it names a known class; else Keras' rmsprop). */
json_t *kc__keras3_compile_spec(const json_t *compile_config, const char *optimizer_name, kc_error *err);
/* The same in the form of an .h5 file's training_config (optimizer under
 * "optimizer_config", as {"class_name", "config"}), for inspection. */
json_t *kc__keras3_training_config(const json_t *compile_config, const char *optimizer_name, kc_error *err);

/* ---- the .keras archive (keras_archive.c) ---- */

/* What an archive holds, read and checked (A1-A5). */
typedef struct kc__archive {
    struct kc__zip *z;
    int64_t file_bytes;
    json_t *config;      /* config.json (NULL when not asked for) */
    char *keras_version; /* metadata.json's, or NULL */
    kc__h5 *weights;     /* model.weights.h5, opened in memory */
} kc__archive;

/* Open path's archive: its config (when want_config), its version, and
 * its weights file, no larger than max_weights bytes. The caller may take
 * config, keras_version and weights (set them to NULL) before closing. */
kc_status kc__archive_open(const char *path, bool want_config, int64_t max_weights, kc__archive *a, kc_error *err);
void kc__archive_close(kc__archive *a);
/* The most bytes a weights file may take for a weight budget: the weights,
 * up to three optimizer slots per weight, and HDF5's own structures. */
int64_t kc__archive_weights_limit(int64_t weight_budget);
/* The name Keras gave the optimizer's vars group ("adam"), or NULL. */
char *kc__archive_optimizer_name(kc__h5 *h);

kc_object *kc__keras_archive_load(const char *path, const kc_load_options *o, kc_error *err);
kc_status kc__keras_archive_load_weights(kc_object *model, const char *path, const kc_weights_options *o,
                                         kc_error *err);
kc_status kc__keras_archive_save(kc_object *model, const char *path, const kc_save_options *o, kc_error *err);

#endif /* CKERAS_KERAS3_H */
