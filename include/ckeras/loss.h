/* ckeras: losses (keras.losses).
 *
 * A loss is a kc_object of kind KC_KIND_LOSS: either a class instance whose
 * instance struct starts with kc_loss (Keras' Loss subclasses: their config
 * is {"reduction", "name"} plus their own keys) or a function object (a
 * plain loss function, saved by its name, e.g. "mse" or the seed's "huber").
 *
 * Computing a loss follows Keras' Loss.__call__:
 *   1. per-sample losses = call(y_true, y_pred): the loss reduced over the
 *      last axis (shape y_pred.shape[:-1]);
 *   2. times sample_weight when given (broadcast to the per-sample shape);
 *   3. reduced: "sum_over_batch_size" (the default: sum / number of
 *      per-sample elements, not the sum of the weights), "sum", or "none".
 * Everything is built from ops, so tapes differentiate losses.
 * Probabilities are clipped to [1e-7, 1 - 1e-7] as Keras does.
 *
 * Built-in classes (config keys besides reduction and name; default name):
 *   MeanSquaredError ("mean_squared_error"), MeanAbsoluteError,
 *   MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
 *   Huber (delta=1.0; "huber_loss"), LogCosh ("log_cosh"),
 *   BinaryCrossentropy (from_logits=false, label_smoothing=0, axis=-1),
 *   CategoricalCrossentropy (from_logits=false, label_smoothing=0, axis=-1),
 *   SparseCategoricalCrossentropy (from_logits=false, ignore_class=null),
 *   Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
 *   CosineSimilarity (axis=-1).
 * Built-in functions (names as Keras accepts them in compile): mse /
 *   mean_squared_error, mae / mean_absolute_error, mape /
 *   mean_absolute_percentage_error, msle / mean_squared_logarithmic_error,
 *   huber, log_cosh / logcosh, binary_crossentropy, categorical_crossentropy,
 *   sparse_categorical_crossentropy, hinge, squared_hinge, categorical_hinge,
 *   kld / kl_divergence / kullback_leibler_divergence, poisson,
 *   cosine_similarity. A function's name is what is saved ("mse" stays
 *   "mse"). */
#ifndef CKERAS_LOSS_H
#define CKERAS_LOSS_H

#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

KC_BEGIN_DECLS

typedef enum kc_reduction {
    KC_REDUCTION_SUM_OVER_BATCH_SIZE, /* "sum_over_batch_size" (also read: "auto") */
    KC_REDUCTION_SUM,                 /* "sum" */
    KC_REDUCTION_NONE                 /* "none" */
} kc_reduction;

/* Base of every loss class instance (embed first). */
typedef struct kc_loss {
    kc_object base;         /* must stay first */
    kc_reduction reduction; /* read-only after configuration */
    char *name;             /* owned; Keras' loss name, e.g. "huber_loss" */
} kc_loss;

typedef struct kc_loss_methods {
    /* Keras' Loss.call: per-sample losses (new reference), normally of shape
     * y_pred.shape[:-1]. y_true may be int32/int64 for sparse losses. */
    kc_tensor *(*call)(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred, kc_error *err);
} kc_loss_methods;

/* Signature of plain loss functions (kc_register_function, custom objects). */
typedef kc_tensor *(*kc_loss_fn)(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                 kc_error *err);

/* Per-sample losses of any loss (class or function). A function (and a
 * built-in class) gets what Keras' LossFunctionWrapper hands it: when the
 * ranks of y_true and y_pred differ by one and the longer ends in a 1, that
 * axis is squeezed (or a rank-1 shorter one gets a trailing 1), and a
 * function gets y_true as float32. A user class's call gets its inputs as
 * given. Returns: new reference. */
KC_API KC_NODISCARD kc_tensor *kc_loss_call(kc_object *loss, kc_tensor *y_true, kc_tensor *y_pred,
                                            kc_error *err);
/* The full computation (Loss.__call__): per-sample losses, weighted by
 * sample_weight (may be NULL; one extra trailing 1 is squeezed, one missing
 * axis is added at the end, then it must broadcast to the per-sample
 * shape: KC_ESHAPE otherwise), reduced with the loss's reduction
 * (functions: sum_over_batch_size). SparseCategoricalCrossentropy's
 * ignored samples count for nothing: loss 0, and left out of the
 * sum_over_batch_size denominator (0 when all are ignored).
 * Returns: new reference (a scalar unless "none"). */
KC_API KC_NODISCARD kc_tensor *kc_loss_compute(kc_object *loss, kc_tensor *y_true,
                                               kc_tensor *y_pred, kc_tensor *sample_weight,
                                               kc_error *err);
/* keras.losses.get: a name ("mse", "categorical_crossentropy", a class name
 * or a registered one). Returns: new reference or NULL (KC_ENOTFOUND). */
KC_API KC_NODISCARD kc_object *kc_loss_get(const char *name, kc_error *err);
/* The loss's name: a class's configured name, or a function's name. Borrowed. */
KC_API const char *kc_loss_name(const kc_object *loss);
/* "sum_over_batch_size", "sum", "none". Returns: static string. */
KC_API const char *kc_reduction_name(kc_reduction r);

KC_END_DECLS

#endif /* CKERAS_LOSS_H */
