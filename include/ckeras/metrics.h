/* ckeras: typed constructors of the built-in metrics (keras.metrics.*).
 *
 *     keras.metrics.Precision(thresholds=0.7)
 *     kc_metrics_precision(&(kc_metrics_precision_args){.thresholds = KC_FLOATS(0.7)}, &err)
 *
 * Conventions in args.h (a zero field is Keras' default, kc_bool, KC_ZERO).
 * Every constructor returns a new reference or NULL with err filled; args
 * may be NULL unless a field is required (MeanIoU's num_classes).
 * metric.h has what metrics do. */
#ifndef CKERAS_METRICS_H
#define CKERAS_METRICS_H

#include "args.h"
#include "defs.h"
#include "error.h"
#include "object.h"

KC_BEGIN_DECLS

/* What every metric takes. */
#define KC_METRIC_ARGS                                                                             \
    const char *name; /* the class's snake_case name, e.g. "precision" */                          \
    const char *dtype /* "float32" */

/* The metrics without arguments of their own. */
typedef struct kc_metrics_args {
    KC_METRIC_ARGS;
} kc_metrics_args;
KC_API KC_NODISCARD kc_object *kc_metrics_mean(const kc_metrics_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_sum(const kc_metrics_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_accuracy(const kc_metrics_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_categorical_accuracy(const kc_metrics_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_sparse_categorical_accuracy(const kc_metrics_args *args,
                                                                      kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_mean_squared_error(const kc_metrics_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_mean_absolute_error(const kc_metrics_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_root_mean_squared_error(const kc_metrics_args *args,
                                                                  kc_error *err);

/* MeanMetricWrapper(fn): the mean of a metric or loss function's values
 * (kc_metric_mean_wrapper does the same from an object). */
typedef struct kc_metrics_mean_metric_wrapper_args {
    KC_METRIC_ARGS;
    kc_spec fn; /* a metric or loss function (KC_NAME("mae"), KC_FUNCTION(f), ...) */
} kc_metrics_mean_metric_wrapper_args;
KC_API KC_NODISCARD kc_object *
kc_metrics_mean_metric_wrapper(const kc_metrics_mean_metric_wrapper_args *args, kc_error *err);

typedef struct kc_metrics_binary_accuracy_args {
    KC_METRIC_ARGS;
    double threshold; /* 0.5 (KC_ZERO for 0) */
} kc_metrics_binary_accuracy_args;
KC_API KC_NODISCARD kc_object *kc_metrics_binary_accuracy(const kc_metrics_binary_accuracy_args *args,
                                                          kc_error *err);

/* TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy. */
typedef struct kc_metrics_top_k_args {
    KC_METRIC_ARGS;
    int64_t k; /* 5 */
} kc_metrics_top_k_args;
KC_API KC_NODISCARD kc_object *kc_metrics_top_k_categorical_accuracy(const kc_metrics_top_k_args *args,
                                                                     kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_sparse_top_k_categorical_accuracy(const kc_metrics_top_k_args *args,
                                                                            kc_error *err);

/* Precision, Recall. */
typedef struct kc_metrics_precision_args {
    KC_METRIC_ARGS;
    kc_floats thresholds; /* 0.5 */
    int64_t top_k;        /* none */
    int64_t class_id;     /* none (KC_ZERO for class 0) */
} kc_metrics_precision_args;
typedef kc_metrics_precision_args kc_metrics_recall_args;
KC_API KC_NODISCARD kc_object *kc_metrics_precision(const kc_metrics_precision_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_recall(const kc_metrics_recall_args *args, kc_error *err);

/* TruePositives, FalsePositives, TrueNegatives, FalseNegatives. */
typedef struct kc_metrics_thresholds_args {
    KC_METRIC_ARGS;
    kc_floats thresholds; /* 0.5 */
} kc_metrics_thresholds_args;
KC_API KC_NODISCARD kc_object *kc_metrics_true_positives(const kc_metrics_thresholds_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_false_positives(const kc_metrics_thresholds_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_true_negatives(const kc_metrics_thresholds_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_metrics_false_negatives(const kc_metrics_thresholds_args *args, kc_error *err);

typedef struct kc_metrics_auc_args {
    KC_METRIC_ARGS;
    int64_t num_thresholds;       /* 200 */
    const char *curve;            /* "ROC"; "PR" */
    const char *summation_method; /* "interpolation"; "minoring", "majoring" */
    kc_floats thresholds;         /* none: num_thresholds evenly spaced */
    kc_bool multi_label;          /* false */
    int64_t num_labels;           /* none */
    kc_floats label_weights;      /* none */
    kc_bool from_logits;          /* false */
} kc_metrics_auc_args;
KC_API KC_NODISCARD kc_object *kc_metrics_auc(const kc_metrics_auc_args *args, kc_error *err);

typedef struct kc_metrics_mean_iou_args {
    KC_METRIC_ARGS;
    int64_t num_classes;   /* required */
    int64_t ignore_class;  /* none (KC_ZERO ignores class 0) */
    kc_bool sparse_y_true; /* true */
    kc_bool sparse_y_pred; /* true */
    int axis;              /* -1 */
} kc_metrics_mean_iou_args;
KC_API KC_NODISCARD kc_object *kc_metrics_mean_iou(const kc_metrics_mean_iou_args *args, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_METRICS_H */
