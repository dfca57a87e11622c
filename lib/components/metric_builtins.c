/* The built-in metric classes and functions that kc_init() registers.
 *
 * Functions carry Keras' names; "acc" / "ACC" are Keras' aliases of
 * "accuracy" (tf.keras metrics/__init__.py). Every loss is usable as a
 * metric too: kc_metric_get falls back to the loss registry. */
#include "metric_int.h"

extern const kc_class kc__mean_metric_class, kc__sum_metric_class, kc__mean_metric_wrapper_class,
    kc__accuracy_class, kc__binary_accuracy_class, kc__categorical_accuracy_class,
    kc__sparse_categorical_accuracy_class, kc__top_k_categorical_accuracy_class,
    kc__sparse_top_k_categorical_accuracy_class, kc__mean_squared_error_metric_class,
    kc__mean_absolute_error_metric_class, kc__root_mean_squared_error_class,
    kc__true_positives_class, kc__false_positives_class, kc__true_negatives_class,
    kc__false_negatives_class, kc__precision_class, kc__recall_class, kc__auc_class,
    kc__mean_iou_class;

static const kc_class *const classes[] = {
    &kc__mean_metric_class,
    &kc__sum_metric_class,
    &kc__mean_metric_wrapper_class,
    &kc__accuracy_class,
    &kc__binary_accuracy_class,
    &kc__categorical_accuracy_class,
    &kc__sparse_categorical_accuracy_class,
    &kc__top_k_categorical_accuracy_class,
    &kc__sparse_top_k_categorical_accuracy_class,
    &kc__mean_squared_error_metric_class,
    &kc__mean_absolute_error_metric_class,
    &kc__root_mean_squared_error_class,
    &kc__true_positives_class,
    &kc__false_positives_class,
    &kc__true_negatives_class,
    &kc__false_negatives_class,
    &kc__precision_class,
    &kc__recall_class,
    &kc__auc_class,
    &kc__mean_iou_class,
};

#define FN_ENTRY_(n) {KC_KIND_METRIC, #n, KC_FN(kc__metric_fn_##n)},
static const kc__builtin_fn functions[] = {KC__METRIC_FN_LIST(FN_ENTRY_)};
#undef FN_ENTRY_

static const kc__builtin_alias aliases[] = {
    {KC_KIND_METRIC, "acc", "accuracy"},
    {KC_KIND_METRIC, "ACC", "accuracy"},
};

const kc__builtins kc__metric_builtins = {
    .classes = classes,
    .n_classes = sizeof(classes) / sizeof(classes[0]),
    .functions = functions,
    .n_functions = sizeof(functions) / sizeof(functions[0]),
    .aliases = aliases,
    .n_aliases = sizeof(aliases) / sizeof(aliases[0]),
};
