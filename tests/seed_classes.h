/* The seed's custom Keras components, written in C with the public API, for
 * the saving and training suites:
 *   MyDense           custom layer class (units, activation)
 *   HuberLoss         custom loss class (threshold, saved in its config)
 *   huber_fn          custom loss function; its threshold is bound at load
 *                     time through custom_objects (create_huber(2.0))
 *   my_softplus       custom activation function
 *   HuberMetric       custom streaming metric class (threshold)
 *   ReconstructingRegressor
 *                     subclassed model: two Dense(units, selu) "hidden",
 *                     "hidden_1" -> Dense(outputs) "out", and a
 *                     Dense(n_inputs) "reconstruct" made in build whose
 *                     0.05 * mean((reconstruction - inputs)^2) joins the
 *                     loss with add_loss on every call */
#ifndef CKERAS_TESTS_SEED_CLASSES_H
#define CKERAS_TESTS_SEED_CLASSES_H

#include <ckeras.h>

extern const kc_class seed_my_dense_class, seed_huber_loss_class, seed_huber_metric_class,
    seed_regressor_class;

kc_tensor *seed_huber_fn(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err);
kc_tensor *seed_my_softplus(kc_tensor *x, void *params, kc_error *err);

/* Elementwise Huber loss with threshold t (0.5 d^2 when |d| < t, else
 * t |d| - t^2 / 2), built from ops. */
kc_tensor *seed_huber_elementwise(kc_tensor *y_true, kc_tensor *y_pred, float t, kc_error *err);

/* custom_objects holding all of the above; huber_fn bound to `threshold`. */
kc_custom_objects *seed_custom_objects(float threshold, kc_error *err);

#endif
