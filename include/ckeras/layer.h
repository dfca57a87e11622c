/* ckeras: layers (keras.layers.Layer).
 *
 * A layer is a kc_object of kind KC_KIND_LAYER whose instance struct starts
 * with kc_layer (models are layers too: kc_model starts with kc_layer).
 * The base handles what every Keras layer has:
 *   - config keys "name" (automatic unique names as Keras: dense, dense_1,
 *     ...), "trainable", "dtype" and "batch_input_shape" (also read:
 *     "batch_shape", "input_shape", "input_dim", DTypePolicy dicts);
 *     "activity_regularizer" is read by the base and written by classes
 *     that list it (Dense, Conv*).
 *   - weights created in build with kc_layer_add_weight, listed trainable
 *     first then non-trainable (Keras' legacy order, used by the .h5 file);
 *     freezing (trainable = false) takes them out of the trainable list and
 *     out of gradient tapes;
 *   - built on first call from the input shapes (unknown dims are -1);
 *   - losses and metric values added during a call (kc_layer_add_loss /
 *     kc_layer_add_metric), kept until the next call;
 *   - masks: a mask tensor per input (or NULL) enters call, and
 *     compute_mask gives the outputs' masks (default: pass the first input's
 *     mask through when the layer supports masking, else none).
 * A class provides kc_layer_methods: call, and optionally build,
 * compute_output_shape (default: the first input's shape) and
 * compute_mask. */
#ifndef CKERAS_LAYER_H
#define CKERAS_LAYER_H

#include "args.h"
#include "autodiff.h"
#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

#include <stdbool.h>

KC_BEGIN_DECLS

/* Most outputs a layer call may produce (RNNs with states, ...). */
#define KC_MAX_LAYER_OUTPUTS 32
/* Most weights convert_weights may return for one layer. */
#define KC_MAX_LAYER_WEIGHTS 64

typedef struct kc__layer_state kc__layer_state;

/* Base of every layer instance (embed first). */
typedef struct kc_layer {
    kc_object base;               /* must stay first */
    char *name;                   /* read-only: unique name */
    bool trainable;               /* read-only: use kc_layer_set_trainable */
    bool built;                   /* read-only */
    bool supports_masking;        /* set by the class (init): passes masks through */
    char *dtype;                  /* read-only: config dtype name ("float32") */
    bool has_batch_input_shape;   /* read-only: config batch_input_shape given */
    kc_shape batch_input_shape;   /* read-only */
    kc_object *activity_regularizer; /* owned; may be NULL */
    kc__layer_state *state;       /* private: weights, call losses, metrics */
} kc_layer;

/* Arguments of a call. */
typedef struct kc_call_args {
    kc_tensor *const *inputs; /* n_inputs tensors */
    kc_tensor *const *masks;  /* NULL, or n_inputs masks (entries may be NULL) */
    int n_inputs;
    bool training;            /* Dropout, BatchNormalization, noise layers */
} kc_call_args;

typedef struct kc_layer_methods {
    /* Fewest and most inputs a call takes (0 means 1). */
    int min_inputs, max_inputs;
    /* Optional: create weights for these input shapes (batch dim first,
     * -1 where unknown). Called once, before the first call. */
    kc_status (*build)(kc_object *self, const kc_shape *in, int n_in, kc_error *err);
    /* The forward pass: store n_out new references in out (n_out is what
     * compute_output_shape gives). Ops run here are recorded on active
     * tapes. */
    kc_status (*call)(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out,
                      kc_error *err);
    /* Output shapes for input shapes (-1 = unknown), at most
     * KC_MAX_LAYER_OUTPUTS; *n_out receives the count. Check the inputs
     * here: it runs on symbolic and real shapes, before build, and its
     * errors name the layer and both shapes. Optional: NULL means one
     * output shaped like the first input (elementwise layers); a call
     * that returns another shape then fails naming both. */
    kc_status (*compute_output_shape)(const kc_object *self, const kc_shape *in, int n_in,
                                      kc_shape *out, int *n_out, kc_error *err);
    /* Optional: masks of the outputs (new references, or NULL entries). */
    kc_status (*compute_mask)(kc_object *self, const kc_call_args *args, kc_tensor *const *out,
                              int n_out, kc_tensor **out_masks, kc_error *err);
    /* Optional: Keras' preprocess_weights_for_loading for this layer. Given
     * the n_in arrays a file stores for it (float32, the file's order) and
     * the file's keras_version ("1.2.2", "2.15.0"; "1" when absent) and
     * backend ("" when absent), store this layer's weights in out (new
     * references, at most KC_MAX_LAYER_WEIGHTS) and their count in *n_out,
     * or leave *n_out at 0 to use the stored arrays unchanged. Keras 1
     * layouts, Theano kernels and cuDNN biases are converted here. */
    kc_status (*convert_weights)(kc_object *self, kc_tensor *const *in, int n_in,
                                 const char *keras_version, const char *backend, kc_tensor **out,
                                 int *n_out, kc_error *err);
} kc_layer_methods;

/* Signature of the C functions a Lambda layer calls (register them with
 * kc_register_function(KC_KIND_LAMBDA, name, (kc_fn)f, ...) or give them in
 * custom_objects); the layer's config names the function. Returns a new
 * reference. */
typedef kc_tensor *(*kc_lambda_fn)(kc_tensor *const *inputs, int n_inputs, void *params,
                                   kc_error *err);

/* --- using layers ---------------------------------------------------------- */

/* A layer of a registered class configured from JSON text or a name, e.g.
 *   kc_layer_create("Dense", "{\"units\": 8, \"activation\": \"relu\"}", &err)
 * config may be NULL (defaults; fails when a key is required).
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_layer_create(const char *class_name, const char *config,
                                               kc_error *err);
/* The same with custom objects (may be NULL): the class and every name in
 * the config (activations, initializers, ...) are looked up there first,
 * then in the registry, as when a file is loaded. custom is only read
 * during the call. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_layer_create_ex(const char *class_name, const char *config,
                                                  const kc_custom_objects *custom, kc_error *err);
/* Eager call: builds on first use, checks input counts and shapes (errors
 * name the layer and the shapes), computes outputs (and their masks when
 * out_masks is not NULL). out receives *n_out new references.
 * masks may be NULL. */
KC_API KC_NODISCARD kc_status kc_layer_call(kc_object *layer, kc_tensor *const *inputs,
                                            int n_inputs, kc_tensor *const *masks, bool training,
                                            kc_tensor **out, kc_tensor **out_masks, int *n_out,
                                            kc_error *err);
/* One input, one output. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_layer_call1(kc_object *layer, kc_tensor *x, bool training,
                                              kc_error *err);
/* Build for these input shapes (batch dim first; -1 unknown). Idempotent. */
KC_API KC_NODISCARD kc_status kc_layer_build(kc_object *layer, const kc_shape *in, int n_in,
                                             kc_error *err);
KC_API KC_NODISCARD kc_status kc_layer_compute_output_shape(const kc_object *layer,
                                                            const kc_shape *in, int n_in,
                                                            kc_shape *out, int *n_out,
                                                            kc_error *err);
/* True for objects of kind layer or model. */
KC_API bool kc_is_layer(const kc_object *obj);
/* Borrowed. */
KC_API const char *kc_layer_name(const kc_object *layer);
KC_API bool kc_layer_trainable(const kc_object *layer);
/* Freeze or unfreeze (models: every sub-layer too, as Keras). */
KC_API void kc_layer_set_trainable(kc_object *layer, bool trainable);

/* --- weights ---------------------------------------------------------------- */

/* All weights in Keras' legacy order (trainable first, then non-trainable;
 * models: all sub-layers' trainable weights, then non-trainable).
 * Borrowed; index < kc_layer_num_weights. */
KC_API int kc_layer_num_weights(const kc_object *layer);
KC_API kc_variable *kc_layer_weight(const kc_object *layer, int i);
KC_API int kc_layer_num_trainable_weights(const kc_object *layer);
KC_API kc_variable *kc_layer_trainable_weight(const kc_object *layer, int i);
KC_API int kc_layer_num_non_trainable_weights(const kc_object *layer);
KC_API kc_variable *kc_layer_non_trainable_weight(const kc_object *layer, int i);
/* Number of scalars in all weights. */
KC_API int64_t kc_layer_count_params(const kc_object *layer);
/* Copy new values into the weights (legacy order; values are borrowed). The count and every
 * shape must match: KC_ESHAPE names the layer, the weight and both shapes. */
KC_API KC_NODISCARD kc_status kc_layer_set_weights(kc_object *layer, kc_tensor *const *values,
                                                   int n, kc_error *err);
/* Copies of the weights' values (legacy order): out receives n new
 * references (n = kc_layer_num_weights). */
KC_API KC_NODISCARD kc_status kc_layer_get_weights(const kc_object *layer, kc_tensor **out,
                                                   kc_error *err);

/* For layer classes, in build: create a weight named "<layer>/<name>:0"
 * initialized by `initializer` (NULL: zeros; used during the call only),
 * with an optional regularizer (its penalty joins the layer's losses) and
 * constraint (applied by optimizers), to which the layer and the variable
 * add references. Returns: the variable (borrowed, owned by the layer) or
 * NULL. */
KC_API kc_variable *kc_layer_add_weight(kc_object *layer, const char *name, int ndim,
                                        const int64_t *dims, kc_object *initializer,
                                        kc_object *regularizer, kc_object *constraint,
                                        bool trainable, kc_error *err);

/* Keras' add_weight with named arguments (args.h conventions; args may be
 * NULL): objects are kc_spec, so a built-in is named rather than made and
 * released, and a field left out is Keras' default.
 *     d->kernel = kc_layer_add_weight_ex(self, "kernel", KC_SHAPE(in_dim, d->units),
 *                                        &(kc_weight_args){.initializer = KC_NAME("glorot_normal")}, err);
 * The layer keeps references to the objects. Returns: the variable
 * (borrowed, owned by the layer) or NULL. */
typedef struct kc_weight_args {
    kc_spec initializer; /* glorot_uniform, as Keras' add_weight for float weights */
    kc_spec regularizer; /* none */
    kc_spec constraint;  /* none */
    kc_bool trainable;   /* true */
} kc_weight_args;
KC_API kc_variable *kc_layer_add_weight_ex(kc_object *layer, const char *name, kc_shape shape,
                                           const kc_weight_args *args, kc_error *err);

/* --- layers that own layers ----------------------------------------------------------
 * A layer class may own other layers, as a Keras layer owns the layers it
 * keeps in attributes (`self.dense_1 = Dense(...)`): track them under that
 * attribute name. Tracked layers' weights come after the owner's own in
 * its weight lists (so a legacy .h5 file stores them in the owner's group,
 * matched by position, as Keras' nested layers), Keras 3 files keep them
 * at "<owner>/<attribute>" (visited in sorted attribute order, as Keras'
 * saving_lib does), freezing the owner freezes them, their losses and
 * penalties are the owner's, and weights they create once tracked are
 * named under the owner ("block/dense/kernel:0"). Build them in the
 * owner's build (kc_layer_build), so that a loaded model has every weight
 * before its weights are read. To save the owner, write in get_config what
 * from_config needs to make them again: its own arguments, or a tracked
 * layer's whole config (kc_cfg_set_object / kc_cfg_object, which nest it as
 * {"class_name", "config"}, as Keras' serialize_keras_object does). */

/* Make `layer` own `sublayer` under the attribute name attr (NULL: the
 * sublayer's name): adds a reference (the caller keeps its own). Tracking
 * the same layer twice is a no-op; another layer under a taken attribute
 * is KC_EEXIST; a layer cannot contain itself (KC_EINVAL). On a model this
 * is kc_model_track_layer (models have no attribute names). */
KC_API KC_NODISCARD kc_status kc_layer_track_layer(kc_object *layer, const char *attr,
                                                   kc_object *sublayer, kc_error *err);
/* The same, taking the caller's reference to sublayer (on failure too):
 *     d->dense = kc_layer_track_layer_take(self, "dense", kc_layers_dense(&a, err), err);
 * Returns: sublayer, borrowed (the owner holds it), or NULL on failure
 * (including a NULL sublayer, whose constructor's error err keeps). */
KC_API kc_object *kc_layer_track_layer_take(kc_object *layer, const char *attr,
                                            kc_object *sublayer, kc_error *err);

/* --- losses and metrics added during a call ------------------------------------- */

/* Add a scalar loss term (Keras' add_loss) for the current call; the layer
 * adds a reference to it (the caller keeps its own). Training adds it to
 * the total loss. */
KC_API KC_NODISCARD kc_status kc_layer_add_loss(kc_object *layer, kc_tensor *loss,
                                                kc_error *err);
/* Report a metric value (Keras' add_metric, aggregated as a mean); the
 * layer adds a reference to value. */
KC_API KC_NODISCARD kc_status kc_layer_add_metric(kc_object *layer, kc_tensor *value,
                                                  const char *name, kc_error *err);
/* Losses of the last call (activity regularization and add_loss terms) of
 * this layer and, for models, of every sub-layer. Borrowed. */
KC_API int kc_layer_num_losses(const kc_object *layer);
KC_API kc_tensor *kc_layer_loss(const kc_object *layer, int i);
/* Metric values of the last call (layer and sub-layers). Borrowed. */
KC_API int kc_layer_num_metric_values(const kc_object *layer);
KC_API kc_tensor *kc_layer_metric_value(const kc_object *layer, int i, const char **name);
/* Sum of the weight regularization penalties (recorded on active tapes),
 * or NULL with KC_OK when no weight has a regularizer. Returns: new
 * reference in *out. */
KC_API KC_NODISCARD kc_status kc_layer_regularization_loss(const kc_object *layer, kc_tensor **out,
                                                           kc_error *err);
/* Forget the losses and metric values of the last call (this layer and
 * sub-layers). Models do it at the start of every forward pass. */
KC_API void kc_layer_clear_call_losses(kc_object *layer);

/* --- Keras 3 files: where a layer's variables are stored --------------------------
 *
 * Keras 3 (.keras archives, .weights.h5) stores each saveable object's own
 * variables as datasets "<path>/vars/0", "1", ... (Layer.save_own_variables:
 * the variables created trainable first, then the others, each in creation
 * order), and the objects a layer owns under "<path>/<attribute>": an RNN
 * layer's cell under "cell", Bidirectional's under "forward_layer" and
 * "backward_layer", TimeDistributed's under "layer", MultiHeadAttention's
 * four projections under "query_dense", "key_dense", "value_dense",
 * "output_dense". A layer whose Keras class has such sub-objects gives its
 * class a keras3_layout hook (kc_class, ABI 2) that says where its weights
 * go, with the calls below; without a hook all its weights are its own
 * vars. The tree passed to the hook stands for the layer at its path and
 * for the weights it places: its own weights in creation order (for a
 * layer built inside a wrapper, the slice of the wrapper's weights that it
 * created). Every weight must be placed exactly once.
 *
 *     static kc_status lstm_keras3_layout(kc_object *self, kc_keras3_tree *t, kc_error *err)
 *     {   // all weights are the cell's: <path>/cell/vars/0..2
 *         return kc_keras3_tree_add_vars(t, "cell", 0, kc_keras3_tree_num_weights(t), err);
 *     }
 *
 * docs: doc/keras3-format.md has the whole layout. */

/* How many weights the tree's layer places (indices 0 .. n-1). */
KC_API int kc_keras3_tree_num_weights(const kc_keras3_tree *tree);
/* Weight i of them, in creation order. Borrowed. */
KC_API kc_variable *kc_keras3_tree_weight(const kc_keras3_tree *tree, int i);
/* Store weights [first, first + n) as the variables of the sub-object at
 * "<path>/<sub>" (sub NULL or "": the layer itself), in Keras 3's order
 * (those created trainable first). KC_EINVAL when the range is bad or a
 * weight was already placed. */
KC_API KC_NODISCARD kc_status kc_keras3_tree_add_vars(kc_keras3_tree *tree, const char *sub, int first,
                                                      int n, kc_error *err);
/* Lay out `layer`, a sub-object the tree's layer owns, at "<path>/<sub>"
 * by the layout of its own class (its hook, or its vars), placing weights
 * [first, first + n) of the tree's layer (the weights `layer` created). */
KC_API KC_NODISCARD kc_status kc_keras3_tree_add_layer(kc_keras3_tree *tree, const char *sub,
                                                       kc_object *layer, int first, int n,
                                                       kc_error *err);

/* Reset the automatic name counters (keras.backend.clear_session()): the
 * next Dense is "dense" again. */
KC_API void kc_clear_session(void);

KC_END_DECLS

#endif /* CKERAS_LAYER_H */
