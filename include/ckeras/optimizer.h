/* ckeras: optimizers (keras.optimizers).
 *
 * ckeras' optimizers follow tf.keras' optimizer_v2 ("legacy") classes, the
 * generation whose config and weights the Keras 2 .h5 format stores:
 *   config   {"name", "learning_rate" (a number or a schedule dict),
 *             "decay", algorithm keys, and clipnorm / clipvalue /
 *             global_clipnorm when set}
 *   weights  [iterations ("<name>/iter:0", int64 scalar), optimizer-level
 *             state (Nadam's "momentum_cache"), then each slot kind for all
 *             variables in order: Adam's m for every variable, then v, then
 *             vhat ("<name>/<variable path>/m:0")].
 * Update rules are Keras' (e.g. Adam with Keras' epsilon placement, see
 * tests/data for how they were checked against TensorFlow.js).
 *
 * Built-in classes, defaults and aliases (names match case-insensitively,
 * as Keras' optimizers.get does; TensorFlow.js' "RMSProp" is accepted):
 *   SGD (learning_rate=0.01, momentum=0, nesterov=false)
 *   Adam (0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=false)
 *   AdamW (0.001, weight_decay=0.004, beta_1, beta_2, epsilon, amsgrad)
 *   Nadam (0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7; the momentum schedule of
 *     tf.keras 2.11+ and Keras 3, or the legacy one for a config with decay /
 *     schedule_decay, as Keras <= 2.10 wrote)
 *   RMSprop (0.001, rho=0.9, momentum=0, epsilon=1e-7, centered=false)
 *   Adagrad (0.001, initial_accumulator_value=0.1, epsilon=1e-7)
 *   Adadelta (0.001, rho=0.95, epsilon=1e-7)
 *   Adamax (0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
 * Every optimizer accepts clipnorm (each gradient's norm), global_clipnorm
 * (all gradients' joint norm) and clipvalue (elementwise), and applies a
 * variable's constraint after updating it. */
#ifndef CKERAS_OPTIMIZER_H
#define CKERAS_OPTIMIZER_H

#include "autodiff.h"
#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

#include <stdbool.h>
#include <stdint.h>

KC_BEGIN_DECLS

typedef struct kc__optimizer_state kc__optimizer_state;

/* Base of every optimizer instance (embed first). */
typedef struct kc_optimizer {
    kc_object base;             /* must stay first */
    char *name;                 /* owned; config "name", prefix of weight names */
    double learning_rate;       /* read-only; unused when schedule is set */
    kc_object *schedule;        /* owned; a learning-rate schedule, or NULL */
    double decay;               /* Keras 2 "decay": lr / (1 + decay * iterations) */
    bool has_clipnorm, has_clipvalue, has_global_clipnorm;
    double clipnorm, clipvalue, global_clipnorm;
    kc__optimizer_state *state; /* private: iterations, slots, tracked variables */
} kc_optimizer;

typedef struct kc_optimizer_methods {
    /* Slot kinds per variable, in creation order (Adam: "m", "v"[, "vhat"]). */
    int (*n_slots)(const kc_object *self);
    const char *(*slot_name)(const kc_object *self, int k);
    /* Optional: initial value of slot kind k (default 0; Adagrad's
     * accumulator starts at initial_accumulator_value). */
    double (*slot_init)(const kc_object *self, int k);
    /* Optional: once per apply_gradients before the updates, with the step
     * number t (1 for the first update) and this step's learning rate. */
    kc_status (*begin_step)(kc_object *self, int64_t t, double lr, kc_error *err);
    /* Update one variable in place: w and g have n elements, slots[k] the
     * slot tensors' data. Must be elementwise (element i reads and writes
     * only index i of w, g and the slots): a variable is updated in ranges,
     * on several threads when kc_set_num_threads allows. */
    void (*update)(kc_object *self, float *w, const float *g, float *const *slots, int64_t n,
                   double lr, int64_t t);
} kc_optimizer_methods;

/* Apply one step: for each i with grads[i] != NULL (Keras skips None),
 * update vars[i]. The optimizer adds a reference to each variable it sees
 * for the first time (its slots follow it); grads are borrowed. Creates
 * slots for variables seen for the first time,
 * clips gradients, increments the iteration count, applies constraints.
 * grads[i] must have vars[i]'s shape (KC_ESHAPE naming the variable). */
KC_API KC_NODISCARD kc_status kc_optimizer_apply_gradients(kc_object *opt,
                                                           kc_tensor *const *grads,
                                                           kc_variable *const *vars, int n,
                                                           kc_error *err);
/* Create the slots of vars in this order without updating anything (Keras'
 * optimizer.build): needed before set_weights when loading a saved state. */
KC_API KC_NODISCARD kc_status kc_optimizer_build(kc_object *opt, kc_variable *const *vars,
                                                 int n, kc_error *err);
/* The learning rate of the next update (schedule and decay applied). */
KC_API double kc_optimizer_current_lr(const kc_object *opt);
/* Set a constant learning rate (ReduceLROnPlateau). KC_ESTATE when the
 * optimizer uses a schedule, as in Keras. */
KC_API KC_NODISCARD kc_status kc_optimizer_set_learning_rate(kc_object *opt, double lr,
                                                             kc_error *err);
KC_API int64_t kc_optimizer_iterations(const kc_object *opt);
/* The optimizer's weights in Keras' legacy order (see above). */
KC_API int kc_optimizer_num_weights(const kc_object *opt);
/* Weight i (borrowed; int64 for the iteration count, float32 otherwise)
 * and its name written into name[0..name_size). NULL when out of range. */
KC_API kc_tensor *kc_optimizer_weight(const kc_object *opt, int i, char *name, size_t name_size);
/* Restore weights saved by Keras or ckeras after kc_optimizer_build: the
 * count and every shape must match (KC_ESHAPE naming the weight). */
KC_API KC_NODISCARD kc_status kc_optimizer_set_weights(kc_object *opt, kc_tensor *const *weights,
                                                       int n, kc_error *err);
/* For optimizer classes: add an optimizer-level scalar state weight
 * (e.g. Nadam's momentum_cache), saved after the iteration count. Call
 * from init. Returns: the value's storage (borrowed) or NULL. */
KC_API float *kc_optimizer_add_state(kc_object *opt, const char *name, double initial,
                                     kc_error *err);
/* keras.optimizers.get: a name ("adam", "SGD", "RMSProp") with Keras'
 * defaults. Returns: new reference or NULL (KC_ENOTFOUND). */
KC_API KC_NODISCARD kc_object *kc_optimizer_get(const char *name, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_OPTIMIZER_H */
