/* ckeras: learning-rate schedules (keras.optimizers.schedules).
 *
 * A schedule maps the optimizer's step count (iterations before the
 * update) to a learning rate. Built-in classes with Keras' config keys:
 *   ExponentialDecay (initial_learning_rate, decay_steps, decay_rate,
 *     staircase=false, name=null): lr0 * rate^(step / steps), floored
 *     exponent when staircase;
 *   InverseTimeDecay (initial_learning_rate, decay_steps, decay_rate,
 *     staircase=false, name=null): lr0 / (1 + rate * step / steps);
 *   PiecewiseConstantDecay (boundaries, values, name=null);
 *   PolynomialDecay (initial_learning_rate, decay_steps,
 *     end_learning_rate=0.0001, power=1.0, cycle=false, name=null);
 *   CosineDecay (initial_learning_rate, decay_steps, alpha=0.0, name=null,
 *     warmup_target=null, warmup_steps=0);
 *   CosineDecayRestarts (initial_learning_rate, first_decay_steps,
 *     t_mul=2.0, m_mul=1.0, alpha=0.0, name=null).
 * Schedules are not differentiable ops: they are evaluated in double. */
#ifndef CKERAS_SCHEDULE_H
#define CKERAS_SCHEDULE_H

#include "defs.h"
#include "error.h"
#include "object.h"

#include <stdint.h>

KC_BEGIN_DECLS

typedef struct kc_schedule_methods {
    /* The learning rate at `step` (0 for the first update). */
    double (*value)(const kc_object *self, int64_t step);
} kc_schedule_methods;

/* The learning rate a schedule gives at step (NaN for a non-schedule). */
KC_API double kc_schedule_value(const kc_object *schedule, int64_t step);

KC_END_DECLS

#endif /* CKERAS_SCHEDULE_H */
