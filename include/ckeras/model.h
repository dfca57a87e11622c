/* ckeras: models (keras.Model): Sequential, Functional and subclassed.
 *
 * A model is a layer made of layers (its instance starts with kc_model,
 * which starts with kc_layer), so it can be called, nested in other models,
 * frozen, and saved like any layer.
 *
 * - Sequential: a stack; kc_sequential_add / kc_sequential_pop. Its input
 *   shape comes from an InputLayer (kc_input_layer), from the first layer's
 *   batch_input_shape, or from kc_model_build.
 * - Functional: a graph built with symbolic tensors, as with keras.Input:
 *       kc_symbol *x = kc_input(1, (int64_t[]){8}, NULL, &err);
 *       kc_symbol *h = kc_apply(dense, &x, 1, &err);
 *       kc_object *m = kc_functional_new(&x, 1, &h, 1, "model", &err);
 *   with several inputs and outputs, layers shared between calls (each call
 *   is a node) and models used as layers.
 * - Subclassed: a user class of kind KC_KIND_MODEL with kc_model_methods
 *   (at least `layer.call`); it tracks its sub-layers with
 *   kc_model_track_layer, and saves through its get_config.
 *
 * model_config JSON: written in the Keras 2 form (spec §5, §11); read in the
 * Keras 2 and Keras 3 forms (both node formats, batch_input_shape and
 * batch_shape, "Model" and "Functional"). */
#ifndef CKERAS_MODEL_H
#define CKERAS_MODEL_H

#include "defs.h"
#include "error.h"
#include "layer.h"
#include "object.h"
#include "tensor.h"

KC_BEGIN_DECLS

typedef struct kc__model_state kc__model_state;
struct kc_train_step; /* trainer.h */

/* Base of every model instance (embed first). */
typedef struct kc_model {
    kc_layer base;          /* must stay first: a model is a layer */
    kc__model_state *state; /* private: layers, graph, compile state */
} kc_model;

typedef struct kc_model_methods {
    /* How the model computes: call is required for subclassed models. */
    kc_layer_methods layer;
    /* Optional: replace the trainer's default train step (Keras'
     * Model.train_step); see trainer.h. */
    kc_status (*train_step)(kc_object *self, struct kc_train_step *step, kc_error *err);
} kc_model_methods;

/* --- Sequential ------------------------------------------------------------- */

/* An empty Sequential (name NULL: "sequential", "sequential_1", ...).
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_sequential_new(const char *name, kc_error *err);
/* Append a layer; the model adds a reference (the caller keeps and
 * releases its own: kc_sequential_add_take takes it instead). Adding an InputLayer first
 * sets the input shape. When the input shape is known the new layer is
 * built at once, so shape errors surface here, naming the layer. */
KC_API KC_NODISCARD kc_status kc_sequential_add(kc_object *model, kc_object *layer,
                                                kc_error *err);
/* The same, taking the caller's reference to layer on every path (so
 * `kc_sequential_add_take(m, kc_layers_dense(...), &err)` leaks nothing,
 * even when the constructor failed and passed NULL: err keeps its error). */
KC_API KC_NODISCARD kc_status kc_sequential_add_take(kc_object *model, kc_object *layer,
                                                     kc_error *err);
/* keras.Sequential(layers, name): a Sequential of n_layers layers, taking
 * the caller's reference to each on every path. A NULL entry (a failed
 * constructor) fails the call with the error err already holds.
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_sequential_new_take(const char *name, kc_object *const *layers,
                                                      int n_layers, kc_error *err);
/* Remove the last layer. KC_ESTATE when there is none. */
KC_API KC_NODISCARD kc_status kc_sequential_pop(kc_object *model, kc_error *err);
/* An InputLayer for a Sequential (shape without the batch dimension, -1 for
 * unknown). Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_input_layer(int ndim, const int64_t *shape, const char *name,
                                              kc_error *err);

/* --- Functional ---------------------------------------------------------------- */

/* A symbolic tensor: a shape and the layer call that produces it. */
typedef struct kc_symbol kc_symbol;

/* keras.Input(shape): a symbol fed by a new InputLayer. shape excludes the
 * batch dimension (-1 = unknown). Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_symbol *kc_input(int ndim, const int64_t *shape, const char *name,
                                        kc_error *err);
/* The same with the batch dimension given (a fixed batch size). */
KC_API KC_NODISCARD kc_symbol *kc_input_batch(int ndim, const int64_t *batch_shape,
                                              const char *name, kc_error *err);
/* Call a layer on symbols: builds it, records a node, and returns the first
 * output symbol (new reference) or NULL (shape errors name the layer). The
 * node adds references to the layer and the input symbols. */
KC_API KC_NODISCARD kc_symbol *kc_apply(kc_object *layer, kc_symbol *const *inputs, int n_inputs,
                                        kc_error *err);
/* The same, taking the caller's reference to layer on every path (the
 * graph keeps its own): `h = kc_apply_take(kc_layers_dense(...), &x, 1, &err)`.
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_symbol *kc_apply_take(kc_object *layer, kc_symbol *const *inputs,
                                             int n_inputs, kc_error *err);
/* All outputs: outs receives *n_out new references (at most
 * KC_MAX_LAYER_OUTPUTS). References as kc_apply. */
KC_API KC_NODISCARD kc_status kc_apply_multi(kc_object *layer, kc_symbol *const *inputs,
                                             int n_inputs, kc_symbol **outs, int *n_out,
                                             kc_error *err);
KC_API kc_symbol *kc_symbol_ref(kc_symbol *s);
KC_API void kc_symbol_unref(kc_symbol *s);
/* The symbol's shape (batch dim first; -1 unknown). */
KC_API kc_shape kc_symbol_shape(const kc_symbol *s);
/* The layer that produces it. Borrowed. */
KC_API kc_object *kc_symbol_layer(const kc_symbol *s);
/* A model from input symbols to output symbols (name NULL: "model",
 * "model_1", ...). Every output must depend only on the inputs given
 * (KC_EINVAL naming the missing input otherwise). The model adds
 * references to the graph's layers; the symbols stay the caller's (release
 * them with kc_symbol_unref). Returns: new reference. */
KC_API KC_NODISCARD kc_object *kc_functional_new(kc_symbol *const *inputs, int n_inputs,
                                                 kc_symbol *const *outputs, int n_outputs,
                                                 const char *name, kc_error *err);

/* --- subclassed models ------------------------------------------------------------ */

/* For model classes: add a sub-layer; the model adds a reference (the
 * caller keeps its own; kc_layer_track_layer_take takes it). The
 * order of tracking is model.layers' order and the weight file's order. */
KC_API KC_NODISCARD kc_status kc_model_track_layer(kc_object *model, kc_object *layer,
                                                   kc_error *err);

/* --- any model ------------------------------------------------------------------------ */

KC_API bool kc_is_model(const kc_object *obj);
/* model.layers (Sequential and Functional include InputLayers only where
 * Keras does: Functional yes, Sequential no). Borrowed. */
KC_API int kc_model_num_layers(const kc_object *model);
KC_API kc_object *kc_model_layer(const kc_object *model, int i);
/* The layer called `name`, or NULL. Borrowed. */
KC_API kc_object *kc_model_get_layer(const kc_object *model, const char *name);
/* Inputs and outputs (known once the model has an input shape). */
KC_API int kc_model_num_inputs(const kc_object *model);
KC_API int kc_model_num_outputs(const kc_object *model);
KC_API kc_shape kc_model_input_shape(const kc_object *model, int i);
KC_API kc_shape kc_model_output_shape(const kc_object *model, int i);
/* Names of the input / output layers (Keras' output_names). Borrowed. */
KC_API const char *kc_model_input_name(const kc_object *model, int i);
KC_API const char *kc_model_output_name(const kc_object *model, int i);
/* Build with input shapes (batch dim first, -1 unknown). */
KC_API KC_NODISCARD kc_status kc_model_build(kc_object *model, const kc_shape *input_shapes,
                                             int n_inputs, kc_error *err);
/* Inference in batches of batch_size (<= 0: 32) along axis 0, as
 * Model.predict: outputs receives *n_out new references, one per output
 * head, each with all samples. */
KC_API KC_NODISCARD kc_status kc_model_predict(kc_object *model, kc_tensor *const *inputs,
                                               int n_inputs, int64_t batch_size,
                                               kc_tensor **outputs, int *n_out, kc_error *err);
/* The table Keras' model.summary() prints, as text (lines end with \n).
 * Returns: a string to free with kc_string_free, or NULL. */
KC_API KC_NODISCARD char *kc_model_summary(const kc_object *model, kc_error *err);
KC_API void kc_string_free(char *s);

KC_END_DECLS

#endif /* CKERAS_MODEL_H */
