/* ckeras private: the inference path, for lib/models.
 *
 * predict, predict_on_batch and calls of a Sequential or Functional model
 * with training off and no tape recording run the model's inference plan
 * for the input shapes (lib/inference/plan_int.h): built on first use,
 * kept per model (a few shapes), folded again when weights it folded
 * change, rebuilt when layers change. Models a plan cannot cover (masks, a
 * subclassed model at the top) say so through *ran = false, and the
 * caller takes the op-by-op path, which also reports every error. */
#ifndef CKERAS_INFERENCE_H
#define CKERAS_INFERENCE_H

#include "../models/models_int.h"

/* A call of model (Sequential or Functional) as its call method sees it:
 * runs the plan when the call qualifies (training off, no recording tape,
 * no masks, the outermost call, no layer adding losses). out receives
 * n_out new references when *ran. */
kc_status kc__infer_call(kc_object *model, const kc_call_args *args, kc_tensor **out, int n_out, bool *ran,
                         kc_error *err);

/* Model.predict over inputs already checked by kc_model_predict (equal
 * sample counts, batch_size > 0): outputs receives *n_out new references
 * when *ran. */
kc_status kc__infer_predict(kc_object *model, kc_tensor *const *inputs, int n_inputs, int64_t batch_size,
                            kc_tensor **outputs, int *n_out, bool *ran, kc_error *err);

#endif /* CKERAS_INFERENCE_H */
