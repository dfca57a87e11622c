/* ckeras: typed constructors of the built-in optimizers and learning-rate
 * schedules (keras.optimizers.*, keras.optimizers.schedules.*).
 *
 *     keras.optimizers.Adam(learning_rate=0.01)
 *     kc_optimizers_adam(&(kc_optimizers_adam_args){.learning_rate = 0.01}, &err)
 *
 *     keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 100, 0.96))
 *     kc_object *s = kc_schedules_exponential_decay(&(kc_schedules_exponential_decay_args){
 *         .initial_learning_rate = 0.1, .decay_steps = 100, .decay_rate = 0.96}, &err);
 *     kc_object *sgd = kc_optimizers_sgd(&(kc_optimizers_sgd_args){.schedule = KC_OBJECT(s)}, &err);
 *
 * Conventions in args.h (a zero field is Keras' default, kc_bool, KC_ZERO).
 * Every constructor returns a new reference or NULL with err filled; args
 * may be NULL for the optimizers. optimizer.h and schedule.h have what
 * they compute. */
#ifndef CKERAS_OPTIMIZERS_H
#define CKERAS_OPTIMIZERS_H

#include "args.h"
#include "defs.h"
#include "error.h"
#include "object.h"

KC_BEGIN_DECLS

/* What every optimizer takes. */
#define KC_OPTIMIZER_ARGS                                                                          \
    const char *name;       /* the class name, e.g. "Adam" (prefix of its weights' names) */      \
    double learning_rate;   /* the class's default (0.01 SGD, 0.001 the others) */                 \
    kc_spec schedule;       /* a learning-rate schedule instead of learning_rate (copied) */       \
    double decay;           /* 0 (Nadam 0.004): lr / (1 + decay * iterations) */                   \
    double clipnorm;        /* none: each gradient's norm is clipped to it */                      \
    double clipvalue;       /* none: each gradient element is clipped to +-it */                   \
    double global_clipnorm  /* none: all gradients' joint norm is clipped to it */

typedef struct kc_optimizers_sgd_args {
    KC_OPTIMIZER_ARGS;
    double momentum;  /* 0 */
    kc_bool nesterov; /* false */
} kc_optimizers_sgd_args;
KC_API KC_NODISCARD kc_object *kc_optimizers_sgd(const kc_optimizers_sgd_args *args, kc_error *err);

/* Adam, Adamax, Nadam (amsgrad: Adam only). */
typedef struct kc_optimizers_adam_args {
    KC_OPTIMIZER_ARGS;
    double beta_1;   /* 0.9 */
    double beta_2;   /* 0.999 */
    double epsilon;  /* 1e-7 */
    kc_bool amsgrad; /* false */
} kc_optimizers_adam_args;
typedef kc_optimizers_adam_args kc_optimizers_adamax_args;
typedef kc_optimizers_adam_args kc_optimizers_nadam_args;
KC_API KC_NODISCARD kc_object *kc_optimizers_adam(const kc_optimizers_adam_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_optimizers_adamax(const kc_optimizers_adamax_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_optimizers_nadam(const kc_optimizers_nadam_args *args, kc_error *err);

typedef struct kc_optimizers_adamw_args {
    KC_OPTIMIZER_ARGS;
    double weight_decay; /* 0.004 */
    double beta_1;       /* 0.9 */
    double beta_2;       /* 0.999 */
    double epsilon;      /* 1e-7 */
    kc_bool amsgrad;     /* false */
} kc_optimizers_adamw_args;
KC_API KC_NODISCARD kc_object *kc_optimizers_adamw(const kc_optimizers_adamw_args *args, kc_error *err);

typedef struct kc_optimizers_rmsprop_args {
    KC_OPTIMIZER_ARGS;
    double rho;       /* 0.9 */
    double momentum;  /* 0 */
    double epsilon;   /* 1e-7 */
    kc_bool centered; /* false */
} kc_optimizers_rmsprop_args;
KC_API KC_NODISCARD kc_object *kc_optimizers_rmsprop(const kc_optimizers_rmsprop_args *args, kc_error *err);

typedef struct kc_optimizers_adagrad_args {
    KC_OPTIMIZER_ARGS;
    double initial_accumulator_value; /* 0.1 */
    double epsilon;                   /* 1e-7 */
} kc_optimizers_adagrad_args;
KC_API KC_NODISCARD kc_object *kc_optimizers_adagrad(const kc_optimizers_adagrad_args *args, kc_error *err);

typedef struct kc_optimizers_adadelta_args {
    KC_OPTIMIZER_ARGS;
    double rho;     /* 0.95 */
    double epsilon; /* 1e-7 */
} kc_optimizers_adadelta_args;
KC_API KC_NODISCARD kc_object *kc_optimizers_adadelta(const kc_optimizers_adadelta_args *args, kc_error *err);

/* --- learning-rate schedules (keras.optimizers.schedules) ---------------------------- */

/* ExponentialDecay, InverseTimeDecay. */
typedef struct kc_schedules_decay_args {
    double initial_learning_rate; /* required */
    int64_t decay_steps;          /* required */
    double decay_rate;            /* required */
    kc_bool staircase;            /* false */
    const char *name;             /* none */
} kc_schedules_decay_args;
typedef kc_schedules_decay_args kc_schedules_exponential_decay_args;
typedef kc_schedules_decay_args kc_schedules_inverse_time_decay_args;
KC_API KC_NODISCARD kc_object *kc_schedules_exponential_decay(const kc_schedules_exponential_decay_args *args,
                                                              kc_error *err);
KC_API KC_NODISCARD kc_object *kc_schedules_inverse_time_decay(const kc_schedules_inverse_time_decay_args *args,
                                                               kc_error *err);

typedef struct kc_schedules_piecewise_constant_decay_args {
    kc_floats boundaries; /* required: the steps where the rate changes */
    kc_floats values;     /* required: one more than boundaries */
    const char *name;     /* none */
} kc_schedules_piecewise_constant_decay_args;
KC_API KC_NODISCARD kc_object *
kc_schedules_piecewise_constant_decay(const kc_schedules_piecewise_constant_decay_args *args, kc_error *err);

typedef struct kc_schedules_polynomial_decay_args {
    double initial_learning_rate; /* required */
    int64_t decay_steps;          /* required */
    double end_learning_rate;     /* 0.0001 */
    double power;                 /* 1.0 */
    kc_bool cycle;                /* false */
    const char *name;             /* none */
} kc_schedules_polynomial_decay_args;
KC_API KC_NODISCARD kc_object *kc_schedules_polynomial_decay(const kc_schedules_polynomial_decay_args *args,
                                                             kc_error *err);

typedef struct kc_schedules_cosine_decay_args {
    double initial_learning_rate; /* required */
    int64_t decay_steps;          /* required */
    double alpha;                 /* 0 */
    const char *name;             /* none */
    double warmup_target;         /* none */
    int64_t warmup_steps;         /* 0 */
} kc_schedules_cosine_decay_args;
KC_API KC_NODISCARD kc_object *kc_schedules_cosine_decay(const kc_schedules_cosine_decay_args *args,
                                                         kc_error *err);

typedef struct kc_schedules_cosine_decay_restarts_args {
    double initial_learning_rate; /* required */
    int64_t first_decay_steps;    /* required */
    double t_mul;                 /* 2.0 */
    double m_mul;                 /* 1.0 */
    double alpha;                 /* 0 */
    const char *name;             /* none */
} kc_schedules_cosine_decay_restarts_args;
KC_API KC_NODISCARD kc_object *
kc_schedules_cosine_decay_restarts(const kc_schedules_cosine_decay_restarts_args *args, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_OPTIMIZERS_H */
