/* ckeras: streaming metrics (keras.metrics).
 *
 * A metric accumulates state over batches: update_state(y_true, y_pred,
 * sample_weight) adds a batch, result() reads the value so far,
 * reset_state() starts over. State lives in non-trainable kc_variables
 * (the `variables` of a Keras metric). Metric computations are never
 * recorded on gradient tapes.
 *
 * A metric is a kc_object of kind KC_KIND_METRIC whose instance struct
 * starts with kc_metric; its config is {"name", "dtype"} plus its own keys.
 * Plain metric functions (kind KC_KIND_METRIC function objects, signature
 * kc_loss_fn: per-sample values) are used through MeanMetricWrapper, which
 * saves them by name in its "fn" key.
 *
 * Built-in classes (own config keys): Mean, Sum, MeanMetricWrapper (fn),
 * Accuracy, BinaryAccuracy (threshold=0.5), CategoricalAccuracy,
 * SparseCategoricalAccuracy, TopKCategoricalAccuracy (k=5),
 * SparseTopKCategoricalAccuracy (k=5), Precision and Recall (thresholds,
 * top_k, class_id), AUC (num_thresholds=200, curve "ROC"|"PR",
 * summation_method "interpolation"|"minoring"|"majoring", thresholds,
 * multi_label=false, num_labels, label_weights, from_logits),
 * TruePositives / FalsePositives / TrueNegatives / FalseNegatives
 * (thresholds), MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError,
 * MeanIoU (num_classes, ignore_class, sparse_y_true, sparse_y_pred, axis).
 * Built-in functions: accuracy, binary_accuracy, categorical_accuracy,
 * sparse_categorical_accuracy, top_k_categorical_accuracy,
 * sparse_top_k_categorical_accuracy, and every loss function name. */
#ifndef CKERAS_METRIC_H
#define CKERAS_METRIC_H

#include "autodiff.h"
#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

KC_BEGIN_DECLS

/* Base of every metric instance (embed first). */
typedef struct kc_metric {
    kc_object base;     /* must stay first */
    char *name;         /* owned; e.g. "precision" */
    kc_variable **vars; /* private: state variables, in creation order */
    int n_vars;         /* private */
    int cap_vars;       /* private */
} kc_metric;

typedef struct kc_metric_methods {
    /* Add one batch. sample_weight may be NULL; so may y_pred, when the
     * caller has none (see kc_metric_update). Runs with tapes paused. */
    kc_status (*update_state)(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred,
                              kc_tensor *sample_weight, kc_error *err);
    /* The value so far (new reference; a scalar for most metrics). */
    kc_tensor *(*result)(kc_object *self, kc_error *err);
    /* Optional: start over; NULL sets every state variable to zero. */
    kc_status (*reset_state)(kc_object *self, kc_error *err);
} kc_metric_methods;

/* Add one batch (Keras' update_state). sample_weight may be NULL. Mean and
 * Sum take their values from y_true (Keras' update_state(values, ...)) and
 * accept y_pred == NULL; the other built-ins need both. Never recorded on
 * gradient tapes. */
KC_API KC_NODISCARD kc_status kc_metric_update(kc_object *metric, kc_tensor *y_true,
                                               kc_tensor *y_pred, kc_tensor *sample_weight,
                                               kc_error *err);
/* Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_metric_result(kc_object *metric, kc_error *err);
/* The result as a number, for the metrics whose result is one (most):
 * NaN with err filled on failure, KC_ESHAPE for a result of another shape
 * (kc_metric_result gives those). */
KC_API double kc_metric_result_value(kc_object *metric, kc_error *err);
KC_API KC_NODISCARD kc_status kc_metric_reset(kc_object *metric, kc_error *err);
/* Borrowed. */
KC_API const char *kc_metric_name(const kc_object *metric);
/* State variables (Keras' metric.variables). Borrowed. */
KC_API int kc_metric_num_variables(const kc_object *metric);
KC_API kc_variable *kc_metric_variable(const kc_object *metric, int i);
/* For metric classes: create a zero-filled, non-trainable state variable
 * (call from init or from_config). Returns: borrowed pointer or NULL. */
KC_API kc_variable *kc_metric_add_variable(kc_object *metric, const char *name, int ndim,
                                           const int64_t *dims, kc_error *err);
/* keras.metrics.get: a class name ("Precision"), a registered class, or a
 * function name, which is wrapped in a MeanMetricWrapper named after it.
 * Returns: new reference or NULL (KC_ENOTFOUND). */
KC_API KC_NODISCARD kc_object *kc_metric_get(const char *name, kc_error *err);
/* Wrap a loss or metric function object (or a loss class instance) in a
 * MeanMetricWrapper called `name` (NULL: the function's name); the wrapper
 * adds a reference to fn. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_metric_mean_wrapper(kc_object *fn, const char *name,
                                                      kc_error *err);

KC_END_DECLS

#endif /* CKERAS_METRIC_H */
