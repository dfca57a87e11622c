/* ckeras private: layer machinery shared by lib/layers and lib/models. */
#ifndef CKERAS_LAYERS_INT_H
#define CKERAS_LAYERS_INT_H

#include "../autodiff/autodiff_int.h"
#include "../objects/objects_int.h"
#include <ckeras/activation.h>
#include <ckeras/config.h>
#include <ckeras/constraint.h>
#include <ckeras/initializer.h>
#include <ckeras/layer.h>
#include <ckeras/model.h>
#include <ckeras/regularizer.h>

/* A layer a plain layer owns, under the attribute name it was tracked as. */
typedef struct kc__child {
    kc_object *layer; /* owned reference */
    char *attr;       /* owned */
} kc__child;

struct kc__layer_state {
    /* weights in creation order, with their regularizers and whether each
     * is trainable by nature (BatchNormalization's moving statistics are not) */
    kc_variable **w;
    kc_object **w_reg;
    bool *w_trainable;
    int n_w, cap_w;
    /* the last call's add_loss terms and add_metric values */
    kc_tensor **losses;
    size_t n_losses, cap_losses;
    kc_tensor **mvals;
    char **mnames;
    size_t n_mvals, cap_mvals, cap_mnames; /* grown apart: either grow may fail */
    /* weight lists in legacy order, recomputed when kc__layers_generation moves */
    kc_variable **cache_tr, **cache_ntr;
    int n_tr, n_ntr, cap_cache;
    unsigned long cache_gen;
    /* calls made symbolically (functional nodes), numbering nodes per layer */
    int n_nodes;
    /* the input shapes the layer was built for (Keras' build_config) */
    kc_shape *build_shapes;
    int n_build_shapes;
    /* layers a plain layer owns (kc_layer_track_layer; models keep theirs in
     * kc__model_state), and the layer that tracks this one (borrowed) */
    kc__child *children;
    int n_children, cap_children;
    kc_object *parent;
};

/* Bumped on any change of weight lists or trainability anywhere. */
extern unsigned long kc__layers_generation;
void kc__layers_changed(void);

/* The layer method table of a layer or model class (models put theirs
 * first in kc_model_methods). */
static inline const kc_layer_methods *kc__layer_methods(const kc_object *o)
{
    return (const kc_layer_methods *)o->cls->methods;
}
static inline kc_layer *kc__as_layer(const kc_object *o) { return (kc_layer *)o; }

/* Kind hooks of layers, reused by the model kind. */
kc_status kc__layer_base_init(kc_object *self, kc_error *err);
void kc__layer_base_fini(kc_object *self);
kc_status kc__layer_base_get_config(const kc_object *self, json_t *cfg, kc_error *err);
kc_status kc__layer_base_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err);
kc_status kc__layer_check_methods(const kc_class *cls, const kc_layer_methods *m, kc_error *err);

/* The input shapes the layer was built for (0 before build). */
int kc__layer_build_shapes(const kc_object *layer, const kc_shape **shapes);

/* Give the layer an automatic unique name if it has none. */
kc_status kc__layer_ensure_name(kc_object *layer, kc_error *err);
/* Keras' unique_object_name(to_snake_case(class name)): "dense", "dense_1". */
char *kc__unique_name(const char *base, kc_error *err);
/* The automatic-name counters as text, one "base next" per line
 * (kc__malloc'd; NULL when out of memory), and raising one to at least
 * next: an isolated load's child names layers from its copy of the
 * counters, and the parent takes the counts over so that later names stay
 * unique, as after an in-process load. */
char *kc__name_counters_text(void);
void kc__name_counter_raise(const char *base, long next);
/* Keras' to_snake_case. Returns malloc'd (kc) string. */
char *kc__snake_case(const char *class_name);
/* Rename (used by Sequential for its automatic InputLayer). */
kc_status kc__layer_set_name(kc_object *layer, const char *name, kc_error *err);

/* Write "activity_regularizer" (classes whose Keras config lists it). */
kc_status kc__layer_write_activity_regularizer(const kc_object *self, json_t *cfg, kc_error *err);

/* Read a shape: a list of integers or nulls (None -> -1). */
kc_status kc__cfg_shape(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                        bool *present, kc_shape *out, kc_error *err);
json_t *kc__shape_to_json(const kc_shape *s);

/* Symbolic call support for lib/models: input checks and output shapes. */
kc_status kc__layer_output_shapes(kc_object *layer, const kc_shape *in, int n_in, kc_shape *out,
                                  int *n_out, kc_error *err);

/* Sub-layers of a model (model.layers order) or of a plain layer (tracking
 * order), for weight lists, freezing and loss collection. */
int kc__sublayer_count(const kc_object *layer);
kc_object *kc__sublayer(const kc_object *layer, int i);

/* sublayers.c: drop a plain layer's tracked layers (its base fini). */
void kc__layer_children_release(kc__layer_state *s);
/* The attribute name a plain layer's i-th tracked layer was given. */
const char *kc__layer_child_attr(const kc_object *layer, int i);
/* The full name of a new weight: "<owner>/.../<layer>/<name>:0", the
 * layer's owners first, as Keras names a nested layer's variables.
 * Returns: kc-malloc'd string, or NULL (KC_ENOMEM). */
char *kc__layer_weight_name(const kc_object *layer, const char *name, kc_error *err);

/* Bound on the bytes of weights created from now on (< 0: none). */
void kc__weight_budget_set(int64_t bytes);
/* While on, new weights are left uninitialized: the loader fills them all. */
void kc__weights_from_file(bool on);

/* Call depth on this thread: the outermost call clears call losses. */
extern _Thread_local int kc__call_depth;

/* "(None, 8)" style text of shapes for messages. */
const char *kc__shapes_format(const kc_shape *s, int n, char *buf, size_t size);

#endif /* CKERAS_LAYERS_INT_H */
