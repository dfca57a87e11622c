/* ckeras: Keras models in C, with the Keras HDF5 file as the native format.
 * This umbrella header includes the whole public API. */
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
#include "ckeras/sandbox.h"

#endif /* CKERAS_H */
