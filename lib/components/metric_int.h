/* ckeras private: helpers shared by the metric modules (metric*.c).
 *
 * Metrics compute on plain float buffers rather than through ops: nothing
 * here is ever differentiated, and Keras' metric arithmetic (thresholds,
 * buckets, confusion matrices) is clearer as loops. Batch sums are taken in
 * double and added to the float32 state variables, which is where Keras
 * keeps its float32 accumulators. */
#ifndef CKERAS_METRIC_INT_H
#define CKERAS_METRIC_INT_H

#include "../objects/objects_int.h"
#include <ckeras/config.h>
#include <ckeras/loss.h>
#include <ckeras/metric.h>
#include <ckeras/ops.h>

#include <stdbool.h>
#include <stdint.h>

/* Drop every state variable of a metric (a config changed their shapes;
 * the class then adds them again). */
void kc__metric_drop_variables(kc_object *self);

/* The float32 data of a state variable (variables are float32). */
static inline float *kc__var_f32(kc_variable *v)
{
    return kc_tensor_f32(kc_variable_value(v));
}

/* A float32 version of t: a new reference to t itself, or a cast of an
 * integer tensor (labels). NULL propagates. */
kc_tensor *kc__metric_f32(kc_tensor *t, kc_error *err);

/* "(2, 3)" of a tensor, for messages. */
const char *kc__metric_shape(const kc_tensor *t, char *buf, size_t size);

/* KC_ESHAPE naming both shapes: "<who>: <a_name> shape (4,) and <b_name>
 * shape (3,) are incompatible". Returns KC_ESHAPE. */
kc_status kc__metric_shape_error(kc_error *err, const char *who, const char *a_name,
                                 const kc_tensor *a, const char *b_name, const kc_tensor *b);

/* Keras' losses_utils.squeeze_or_expand_dimensions, in place on new
 * references: y_true loses a trailing 1 to match y_pred's rank (or y_pred
 * does), and sample_weight (may be NULL or point to NULL) is squeezed or
 * expanded by one axis to y_pred's rank. y_true may be NULL. */
kc_status kc__metric_squeeze_or_expand(kc_tensor **y_pred, kc_tensor **y_true,
                                       kc_tensor **sample_weight, kc_error *err);

/* TensorFlow's broadcast_weights: weights are a scalar or have values'
 * rank with every dim 1 or equal. Returns a new float32 tensor shaped like
 * values, or NULL with KC_ESHAPE. */
kc_tensor *kc__metric_broadcast_weights(const char *who, kc_tensor *weights, kc_tensor *values,
                                        kc_error *err);

/* Keras' Reduce.update_state (Mean and Sum): add sum(values * weights) to
 * total and, for a mean, the weight sum (or the value count) to count
 * (count NULL: a sum). sample_weight may be NULL. */
kc_status kc__metric_reduce_update(const char *who, kc_variable *total, kc_variable *count,
                                   kc_tensor *values, kc_tensor *sample_weight, kc_error *err);

/* divide_no_nan in float32: 0 where the denominator is 0. */
static inline float kc__div_no_nan(float a, float b)
{
    return b == 0.0f ? 0.0f : a / b;
}

/* A 1-D float32 tensor of n values, or the scalar v[0] when scalar_if_one
 * and n == 1 (Keras returns result[0] for one threshold). */
kc_tensor *kc__metric_vector(const float *v, int64_t n, bool scalar_if_one, kc_error *err);

/* ---- thresholds in configs ------------------------------------------------
 * Keras stores `thresholds` as given: null, a number or a list. */
typedef struct kc__thresholds {
    int form;       /* 0: null, 1: a number, 2: a list */
    double *values; /* owned; n values as configured (list order) */
    int n;
} kc__thresholds;

void kc__thresholds_fini(kc__thresholds *t);
/* Read `key`; list entries must be numbers in [lo, hi] (check_range) and a
 * list may not be empty. */
kc_status kc__thresholds_read(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                              bool check_range, kc__thresholds *out, kc_error *err);
kc_status kc__thresholds_write(json_t *cfg, const char *key, const kc__thresholds *t,
                               kc_error *err);
/* KC_EFORMAT "<path>.<key>: <message>" with the key's path in the context. */
kc_status kc__metric_cfg_error(const kc_config_ctx *ctx, const char *key, kc_error *err,
                               const char *fmt, ...) KC_PRINTF(4, 5);

/* ---- confusion matrices (metric_cmatrix.c) -----------------------------------
 * Keras' metrics_utils.update_confusion_matrix_variables. */
typedef struct kc__cm_args {
    const char *who;         /* class name, for messages */
    const float *thresholds; /* n_thresholds values, ascending when evenly */
    int n_thresholds;
    bool evenly;                /* thresholds_distributed_evenly: the bucket algorithm */
    int64_t top_k;              /* 0: none */
    int64_t class_id;           /* -1: none */
    bool multi_label;           /* keep the label axis: variables are [T, L] */
    const float *label_weights; /* NULL, or n_labels weights (not with multi_label) */
    int64_t n_labels;           /* multi_label: L; with label_weights: their count */
} kc__cm_args;

/* Variables' data to add to ([T] or [T, L] row-major); NULL = not kept. */
typedef struct kc__cm_vars {
    float *tp, *fp, *tn, *fn;
} kc__cm_vars;

kc_status kc__cm_update(const kc__cm_args *a, const kc__cm_vars *v, kc_tensor *y_true,
                        kc_tensor *y_pred, kc_tensor *sample_weight, kc_error *err);
/* metrics_utils.is_evenly_distributed_thresholds. */
bool kc__thresholds_evenly(const double *t, int n);

/* ---- metric functions (metric_accuracy.c), also used by the classes ---- */
/* Keras' metrics_utils.binary_matches: 1 where y_true == (y_pred > t). */
kc_tensor *kc__binary_matches(kc_tensor *y_true, kc_tensor *y_pred, float threshold, kc_error *err);
/* metrics_utils.sparse_categorical_matches: y_true integer labels. */
kc_tensor *kc__sparse_categorical_matches(kc_tensor *y_true, kc_tensor *y_pred, kc_error *err);
/* metrics_utils.sparse_top_k_categorical_matches (tf.math.in_top_k). */
kc_tensor *kc__sparse_top_k_matches(kc_tensor *y_true, kc_tensor *y_pred, int64_t k, kc_error *err);
/* The accuracy function (elementwise equality of same-shaped tensors). */
kc_tensor *kc__accuracy_matches(kc_tensor *y_true, kc_tensor *y_pred, kc_error *err);

/* The built-in metric functions (kc_loss_fn signature). */
/* clang-format off */
#define KC__METRIC_FN_LIST(X)                                                                      \
    X(accuracy)                                                                                    \
    X(binary_accuracy)                                                                             \
    X(categorical_accuracy)                                                                        \
    X(sparse_categorical_accuracy)                                                                 \
    X(top_k_categorical_accuracy)                                                                  \
    X(sparse_top_k_categorical_accuracy)
/* clang-format on */
#define KC__METRIC_FN_PROTO_(n)                                                                    \
    kc_tensor *kc__metric_fn_##n(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err);
KC__METRIC_FN_LIST(KC__METRIC_FN_PROTO_)
#undef KC__METRIC_FN_PROTO_

#endif /* CKERAS_METRIC_INT_H */
