/* ckeras: Keras models in C, with the Keras HDF5 file as the native format.
 * This umbrella header includes the whole public API.
 *
 * Ownership, stated once (every header follows it):
 *   - Objects (kc_tensor, kc_object -- layers, models, losses, ... --,
 *     kc_variable, kc_symbol) are reference counted. A function that returns
 *     one says "Returns: new reference": the caller releases it
 *     (kc_tensor_unref, kc_object_unref, ...). "Borrowed" results are valid
 *     while their owner lives and are not released.
 *   - An object argument is borrowed for the call unless the function's
 *     comment says otherwise: the function neither keeps nor releases it.
 *   - A function that keeps an argument says so: it "adds a reference"
 *     (kc_sequential_add, kc_layer_track_layer, KC_OBJECT arguments of the
 *     typed constructors, ...); the caller still releases its own.
 *   - A function whose name ends in _take (kc_sequential_add_take,
 *     kc_apply_take, kc_scope_take, kc_variable_new_take, ...) takes the
 *     caller's reference instead, on every path, failure included, so a
 *     fresh object can be passed inline; a NULL argument (a failed
 *     constructor) fails with the error err already holds.
 *   - One-owner things (kc_tape, kc_scope, kc_custom_objects, kc_callback,
 *     kc_history, kc_logs, ...) are freed by their _free function. */
#ifndef CKERAS_H
#define CKERAS_H

#include "ckeras/defs.h"
#include "ckeras/version.h"
#include "ckeras/error.h"
#include "ckeras/alloc.h"
#include "ckeras/runtime.h"
#include "ckeras/tensor.h"
#include "ckeras/tensor_json.h"
#include "ckeras/random.h"
#include "ckeras/ops.h"
#include "ckeras/autodiff.h"
#include "ckeras/scoped_ops.h"
#include "ckeras/object.h"
#include "ckeras/config.h"
#include "ckeras/activation.h"
#include "ckeras/initializer.h"
#include "ckeras/regularizer.h"
#include "ckeras/constraint.h"
#include "ckeras/layer.h"
#include "ckeras/model.h"
#include "ckeras/recurrent.h"
#include "ckeras/loss.h"
#include "ckeras/metric.h"
#include "ckeras/schedule.h"
#include "ckeras/optimizer.h"
#include "ckeras/trainer.h"
#include "ckeras/callbacks.h"
#include "ckeras/io.h"
#include "ckeras/h5file.h"
#include "ckeras/args.h"
#include "ckeras/layers.h"
#include "ckeras/losses.h"
#include "ckeras/metrics.h"
#include "ckeras/optimizers.h"
#include "ckeras/initializers.h"
#include "ckeras/regularizers.h"
#include "ckeras/constraints.h"
#include "ckeras/sandbox.h"

#endif /* CKERAS_H */
