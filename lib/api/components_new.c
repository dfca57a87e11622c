/* Typed constructors of the built-in components (losses.h, metrics.h,
 * optimizers.h, initializers.h, regularizers.h, constraints.h): one field
 * table per args struct, one line per constructor, as in layers_new.c.
 * Fields a shared struct has but a class does not take are refused
 * (KC_ARG_REFUSED) rather than dropped. */
#include "api_int.h"

#include <ckeras/constraints.h>
#include <ckeras/initializers.h>
#include <ckeras/losses.h>
#include <ckeras/metrics.h>
#include <ckeras/optimizers.h>
#include <ckeras/regularizers.h>

static const kc_arg_field no_fields[1] = {{"unused_", KC_ARG_INT, 0, sizeof(int), KC_KIND_COUNT, KC_ARG_REFUSED, 0}};

/* ---- losses ---- */

#define LOSS KC_KIND_LOSS
#define LOSS_FIELDS(T) KC_ARG(T, reduction), KC_ARG(T, name)

static const kc_arg_field loss_fields[] = {LOSS_FIELDS(kc_losses_args)};
KC__CONSTRUCTOR(kc_losses_mean_squared_error, kc_losses_args, LOSS, "MeanSquaredError", loss_fields)
KC__CONSTRUCTOR(kc_losses_mean_absolute_error, kc_losses_args, LOSS, "MeanAbsoluteError", loss_fields)
KC__CONSTRUCTOR(kc_losses_mean_absolute_percentage_error, kc_losses_args, LOSS, "MeanAbsolutePercentageError",
                loss_fields)
KC__CONSTRUCTOR(kc_losses_mean_squared_logarithmic_error, kc_losses_args, LOSS, "MeanSquaredLogarithmicError",
                loss_fields)
KC__CONSTRUCTOR(kc_losses_log_cosh, kc_losses_args, LOSS, "LogCosh", loss_fields)
KC__CONSTRUCTOR(kc_losses_hinge, kc_losses_args, LOSS, "Hinge", loss_fields)
KC__CONSTRUCTOR(kc_losses_squared_hinge, kc_losses_args, LOSS, "SquaredHinge", loss_fields)
KC__CONSTRUCTOR(kc_losses_categorical_hinge, kc_losses_args, LOSS, "CategoricalHinge", loss_fields)
KC__CONSTRUCTOR(kc_losses_kl_divergence, kc_losses_args, LOSS, "KLDivergence", loss_fields)
KC__CONSTRUCTOR(kc_losses_poisson, kc_losses_args, LOSS, "Poisson", loss_fields)

#define T kc_losses_huber_args
static const kc_arg_field huber_fields[] = {LOSS_FIELDS(T), KC_ARG(T, delta)};
KC__CONSTRUCTOR(kc_losses_huber, T, LOSS, "Huber", huber_fields)
#undef T

#define T kc_losses_crossentropy_args
static const kc_arg_field crossentropy_fields[] = {LOSS_FIELDS(T), KC_ARG(T, from_logits), KC_ARG(T, label_smoothing),
                                                   KC_ARG(T, axis)};
KC__CONSTRUCTOR(kc_losses_binary_crossentropy, T, LOSS, "BinaryCrossentropy", crossentropy_fields)
KC__CONSTRUCTOR(kc_losses_categorical_crossentropy, T, LOSS, "CategoricalCrossentropy", crossentropy_fields)
#undef T

#define T kc_losses_sparse_categorical_crossentropy_args
static const kc_arg_field sparse_ce_fields[] = {LOSS_FIELDS(T), KC_ARG(T, from_logits), KC_ARG(T, ignore_class)};
KC__CONSTRUCTOR(kc_losses_sparse_categorical_crossentropy, T, LOSS, "SparseCategoricalCrossentropy",
                sparse_ce_fields)
#undef T

#define T kc_losses_cosine_similarity_args
static const kc_arg_field cosine_fields[] = {LOSS_FIELDS(T), KC_ARG(T, axis)};
KC__CONSTRUCTOR(kc_losses_cosine_similarity, T, LOSS, "CosineSimilarity", cosine_fields)
#undef T

/* ---- metrics ---- */

#define METRIC KC_KIND_METRIC
#define METRIC_FIELDS(T) KC_ARG(T, name), KC_ARG(T, dtype)

static const kc_arg_field metric_fields[] = {METRIC_FIELDS(kc_metrics_args)};
KC__CONSTRUCTOR(kc_metrics_mean, kc_metrics_args, METRIC, "Mean", metric_fields)
KC__CONSTRUCTOR(kc_metrics_sum, kc_metrics_args, METRIC, "Sum", metric_fields)
KC__CONSTRUCTOR(kc_metrics_accuracy, kc_metrics_args, METRIC, "Accuracy", metric_fields)
KC__CONSTRUCTOR(kc_metrics_categorical_accuracy, kc_metrics_args, METRIC, "CategoricalAccuracy", metric_fields)
KC__CONSTRUCTOR(kc_metrics_sparse_categorical_accuracy, kc_metrics_args, METRIC, "SparseCategoricalAccuracy",
                metric_fields)
KC__CONSTRUCTOR(kc_metrics_mean_squared_error, kc_metrics_args, METRIC, "MeanSquaredError", metric_fields)
KC__CONSTRUCTOR(kc_metrics_mean_absolute_error, kc_metrics_args, METRIC, "MeanAbsoluteError", metric_fields)
KC__CONSTRUCTOR(kc_metrics_root_mean_squared_error, kc_metrics_args, METRIC, "RootMeanSquaredError", metric_fields)

#define T kc_metrics_mean_metric_wrapper_args
static const kc_arg_field wrapper_fields[] = {METRIC_FIELDS(T), KC_ARG_OBJECT(T, fn, KC_KIND_METRIC)};
KC__CONSTRUCTOR(kc_metrics_mean_metric_wrapper, T, METRIC, "MeanMetricWrapper", wrapper_fields)
#undef T

#define T kc_metrics_binary_accuracy_args
static const kc_arg_field binary_accuracy_fields[] = {METRIC_FIELDS(T), KC_ARG(T, threshold)};
KC__CONSTRUCTOR(kc_metrics_binary_accuracy, T, METRIC, "BinaryAccuracy", binary_accuracy_fields)
#undef T

#define T kc_metrics_top_k_args
static const kc_arg_field top_k_fields[] = {METRIC_FIELDS(T), KC_ARG(T, k)};
KC__CONSTRUCTOR(kc_metrics_top_k_categorical_accuracy, T, METRIC, "TopKCategoricalAccuracy", top_k_fields)
KC__CONSTRUCTOR(kc_metrics_sparse_top_k_categorical_accuracy, T, METRIC, "SparseTopKCategoricalAccuracy",
                top_k_fields)
#undef T

#define T kc_metrics_precision_args
static const kc_arg_field precision_fields[] = {METRIC_FIELDS(T), KC_ARG(T, thresholds), KC_ARG(T, top_k),
                                                KC_ARG(T, class_id)};
KC__CONSTRUCTOR(kc_metrics_precision, T, METRIC, "Precision", precision_fields)
KC__CONSTRUCTOR(kc_metrics_recall, T, METRIC, "Recall", precision_fields)
#undef T

#define T kc_metrics_thresholds_args
static const kc_arg_field thresholds_fields[] = {METRIC_FIELDS(T), KC_ARG(T, thresholds)};
KC__CONSTRUCTOR(kc_metrics_true_positives, T, METRIC, "TruePositives", thresholds_fields)
KC__CONSTRUCTOR(kc_metrics_false_positives, T, METRIC, "FalsePositives", thresholds_fields)
KC__CONSTRUCTOR(kc_metrics_true_negatives, T, METRIC, "TrueNegatives", thresholds_fields)
KC__CONSTRUCTOR(kc_metrics_false_negatives, T, METRIC, "FalseNegatives", thresholds_fields)
#undef T

#define T kc_metrics_auc_args
static const kc_arg_field auc_fields[] = {
    METRIC_FIELDS(T),      KC_ARG(T, num_thresholds), KC_ARG(T, curve),         KC_ARG(T, summation_method),
    KC_ARG(T, thresholds), KC_ARG(T, multi_label),    KC_ARG(T, num_labels),    KC_ARG(T, label_weights),
    KC_ARG(T, from_logits)};
KC__CONSTRUCTOR(kc_metrics_auc, T, METRIC, "AUC", auc_fields)
#undef T

#define T kc_metrics_mean_iou_args
static const kc_arg_field mean_iou_fields[] = {METRIC_FIELDS(T),         KC_ARG(T, num_classes),
                                               KC_ARG(T, ignore_class),  KC_ARG(T, sparse_y_true),
                                               KC_ARG(T, sparse_y_pred), KC_ARG(T, axis)};
KC__CONSTRUCTOR(kc_metrics_mean_iou, T, METRIC, "MeanIoU", mean_iou_fields)
#undef T

/* ---- optimizers: a schedule is written as its config, as Keras saves it ---- */

#define OPT KC_KIND_OPTIMIZER
#define OPTIMIZER_FIELDS(T)                                                                        \
    KC_ARG(T, name), KC_ARG(T, learning_rate),                                                     \
        {"learning_rate", KC_ARG_SPEC, offsetof(T, schedule), sizeof(kc_spec), KC_KIND_SCHEDULE, KC_ARG_EMBED, 0},    \
        KC_ARG(T, decay), KC_ARG(T, clipnorm), KC_ARG(T, clipvalue), KC_ARG(T, global_clipnorm)

#define T kc_optimizers_sgd_args
static const kc_arg_field sgd_fields[] = {OPTIMIZER_FIELDS(T), KC_ARG(T, momentum), KC_ARG(T, nesterov)};
KC__CONSTRUCTOR(kc_optimizers_sgd, T, OPT, "SGD", sgd_fields)
#undef T

#define T kc_optimizers_adam_args
#define ADAM_FIELDS(amsgrad_flags)                                                                 \
    OPTIMIZER_FIELDS(T), KC_ARG(T, beta_1), KC_ARG(T, beta_2), KC_ARG(T, epsilon),                 \
        KC_ARG_KEY(T, amsgrad, "amsgrad", amsgrad_flags)
static const kc_arg_field adam_fields[] = {ADAM_FIELDS(0u)};
static const kc_arg_field adamax_fields[] = {ADAM_FIELDS(KC_ARG_REFUSED)};
KC__CONSTRUCTOR(kc_optimizers_adam, T, OPT, "Adam", adam_fields)
KC__CONSTRUCTOR(kc_optimizers_adamax, T, OPT, "Adamax", adamax_fields)
KC__CONSTRUCTOR(kc_optimizers_nadam, T, OPT, "Nadam", adamax_fields)
#undef T

#define T kc_optimizers_adamw_args
static const kc_arg_field adamw_fields[] = {OPTIMIZER_FIELDS(T), KC_ARG(T, weight_decay), KC_ARG(T, beta_1),
                                            KC_ARG(T, beta_2),   KC_ARG(T, epsilon),      KC_ARG(T, amsgrad)};
KC__CONSTRUCTOR(kc_optimizers_adamw, T, OPT, "AdamW", adamw_fields)
#undef T

#define T kc_optimizers_rmsprop_args
static const kc_arg_field rmsprop_fields[] = {OPTIMIZER_FIELDS(T), KC_ARG(T, rho), KC_ARG(T, momentum),
                                              KC_ARG(T, epsilon), KC_ARG(T, centered)};
KC__CONSTRUCTOR(kc_optimizers_rmsprop, T, OPT, "RMSprop", rmsprop_fields)
#undef T

#define T kc_optimizers_adagrad_args
static const kc_arg_field adagrad_fields[] = {OPTIMIZER_FIELDS(T), KC_ARG(T, initial_accumulator_value),
                                              KC_ARG(T, epsilon)};
KC__CONSTRUCTOR(kc_optimizers_adagrad, T, OPT, "Adagrad", adagrad_fields)
#undef T

#define T kc_optimizers_adadelta_args
static const kc_arg_field adadelta_fields[] = {OPTIMIZER_FIELDS(T), KC_ARG(T, rho), KC_ARG(T, epsilon)};
KC__CONSTRUCTOR(kc_optimizers_adadelta, T, OPT, "Adadelta", adadelta_fields)
#undef T

/* ---- learning-rate schedules ---- */

#define SCHED KC_KIND_SCHEDULE

#define T kc_schedules_decay_args
static const kc_arg_field decay_fields[] = {KC_ARG(T, initial_learning_rate), KC_ARG(T, decay_steps),
                                            KC_ARG(T, decay_rate), KC_ARG(T, staircase), KC_ARG(T, name)};
KC__CONSTRUCTOR(kc_schedules_exponential_decay, T, SCHED, "ExponentialDecay", decay_fields)
KC__CONSTRUCTOR(kc_schedules_inverse_time_decay, T, SCHED, "InverseTimeDecay", decay_fields)
#undef T

#define T kc_schedules_piecewise_constant_decay_args
static const kc_arg_field piecewise_fields[] = {KC_ARG(T, boundaries), KC_ARG(T, values), KC_ARG(T, name)};
KC__CONSTRUCTOR(kc_schedules_piecewise_constant_decay, T, SCHED, "PiecewiseConstantDecay", piecewise_fields)
#undef T

#define T kc_schedules_polynomial_decay_args
static const kc_arg_field polynomial_fields[] = {KC_ARG(T, initial_learning_rate), KC_ARG(T, decay_steps),
                                                 KC_ARG(T, end_learning_rate),     KC_ARG(T, power),
                                                 KC_ARG(T, cycle),                 KC_ARG(T, name)};
KC__CONSTRUCTOR(kc_schedules_polynomial_decay, T, SCHED, "PolynomialDecay", polynomial_fields)
#undef T

#define T kc_schedules_cosine_decay_args
static const kc_arg_field cosine_decay_fields[] = {KC_ARG(T, initial_learning_rate), KC_ARG(T, decay_steps),
                                                   KC_ARG(T, alpha),         KC_ARG(T, name),
                                                   KC_ARG(T, warmup_target), KC_ARG(T, warmup_steps)};
KC__CONSTRUCTOR(kc_schedules_cosine_decay, T, SCHED, "CosineDecay", cosine_decay_fields)
#undef T

#define T kc_schedules_cosine_decay_restarts_args
static const kc_arg_field restarts_fields[] = {KC_ARG(T, initial_learning_rate), KC_ARG(T, first_decay_steps),
                                               KC_ARG(T, t_mul), KC_ARG(T, m_mul), KC_ARG(T, alpha),
                                               KC_ARG(T, name)};
KC__CONSTRUCTOR(kc_schedules_cosine_decay_restarts, T, SCHED, "CosineDecayRestarts", restarts_fields)
#undef T

/* ---- initializers ---- */

#define INIT KC_KIND_INITIALIZER

KC__CONSTRUCTOR(kc_initializers_zeros, kc_no_args, INIT, "Zeros", no_fields)
KC__CONSTRUCTOR(kc_initializers_ones, kc_no_args, INIT, "Ones", no_fields)

static const kc_arg_field constant_fields[] = {KC_ARG(kc_initializers_constant_args, value)};
KC__CONSTRUCTOR(kc_initializers_constant, kc_initializers_constant_args, INIT, "Constant", constant_fields)

static const kc_arg_field identity_fields[] = {KC_ARG(kc_initializers_identity_args, gain)};
KC__CONSTRUCTOR(kc_initializers_identity, kc_initializers_identity_args, INIT, "Identity", identity_fields)

#define T kc_initializers_normal_args
static const kc_arg_field normal_fields[] = {KC_ARG(T, mean), KC_ARG(T, stddev), KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_initializers_random_normal, T, INIT, "RandomNormal", normal_fields)
KC__CONSTRUCTOR(kc_initializers_truncated_normal, T, INIT, "TruncatedNormal", normal_fields)
#undef T

#define T kc_initializers_random_uniform_args
static const kc_arg_field uniform_fields[] = {KC_ARG(T, minval), KC_ARG(T, maxval), KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_initializers_random_uniform, T, INIT, "RandomUniform", uniform_fields)
#undef T

#define T kc_initializers_variance_scaling_args
static const kc_arg_field variance_fields[] = {KC_ARG(T, scale), KC_ARG(T, mode), KC_ARG(T, distribution),
                                               KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_initializers_variance_scaling, T, INIT, "VarianceScaling", variance_fields)
#undef T

#define T kc_initializers_seed_args
static const kc_arg_field seed_fields[] = {KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_initializers_glorot_normal, T, INIT, "GlorotNormal", seed_fields)
KC__CONSTRUCTOR(kc_initializers_glorot_uniform, T, INIT, "GlorotUniform", seed_fields)
KC__CONSTRUCTOR(kc_initializers_he_normal, T, INIT, "HeNormal", seed_fields)
KC__CONSTRUCTOR(kc_initializers_he_uniform, T, INIT, "HeUniform", seed_fields)
KC__CONSTRUCTOR(kc_initializers_lecun_normal, T, INIT, "LecunNormal", seed_fields)
KC__CONSTRUCTOR(kc_initializers_lecun_uniform, T, INIT, "LecunUniform", seed_fields)
#undef T

#define T kc_initializers_orthogonal_args
static const kc_arg_field orthogonal_fields[] = {KC_ARG(T, gain), KC_ARG(T, seed)};
KC__CONSTRUCTOR(kc_initializers_orthogonal, T, INIT, "Orthogonal", orthogonal_fields)
#undef T

/* ---- regularizers and constraints ---- */

static const kc_arg_field l1_fields[] = {KC_ARG(kc_regularizers_l1_args, l1)};
static const kc_arg_field l2_fields[] = {KC_ARG(kc_regularizers_l2_args, l2)};
static const kc_arg_field l1l2_fields[] = {KC_ARG(kc_regularizers_l1l2_args, l1), KC_ARG(kc_regularizers_l1l2_args, l2)};
KC__CONSTRUCTOR(kc_regularizers_l1, kc_regularizers_l1_args, KC_KIND_REGULARIZER, "L1", l1_fields)
KC__CONSTRUCTOR(kc_regularizers_l2, kc_regularizers_l2_args, KC_KIND_REGULARIZER, "L2", l2_fields)
KC__CONSTRUCTOR(kc_regularizers_l1l2, kc_regularizers_l1l2_args, KC_KIND_REGULARIZER, "L1L2", l1l2_fields)

#define CON KC_KIND_CONSTRAINT
KC__CONSTRUCTOR(kc_constraints_non_neg, kc_no_args, CON, "NonNeg", no_fields)
KC__CONSTRUCTOR(kc_constraints_radial_constraint, kc_no_args, CON, "RadialConstraint", no_fields)

#define T kc_constraints_max_norm_args
static const kc_arg_field max_norm_fields[] = {KC_ARG(T, max_value), KC_ARG(T, axis)};
KC__CONSTRUCTOR(kc_constraints_max_norm, T, CON, "MaxNorm", max_norm_fields)
#undef T

#define T kc_constraints_min_max_norm_args
static const kc_arg_field min_max_fields[] = {KC_ARG(T, min_value), KC_ARG(T, max_value), KC_ARG(T, rate),
                                              KC_ARG(T, axis)};
KC__CONSTRUCTOR(kc_constraints_min_max_norm, T, CON, "MinMaxNorm", min_max_fields)
#undef T

static const kc_arg_field unit_norm_fields[] = {KC_ARG(kc_constraints_unit_norm_args, axis)};
KC__CONSTRUCTOR(kc_constraints_unit_norm, kc_constraints_unit_norm_args, CON, "UnitNorm", unit_norm_fields)
