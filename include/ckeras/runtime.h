/* ckeras: library-wide settings: threads and the random seed. */
#ifndef CKERAS_RUNTIME_H
#define CKERAS_RUNTIME_H

#include "defs.h"

#include <stdbool.h>
#include <stdint.h>

KC_BEGIN_DECLS

/* Number of threads for matrix products and ckeras' own parallel loops,
 * which share one pool: ckeras cuts big products into blocks for its
 * threads and keeps OpenBLAS on one thread (openblas_set_num_threads(1)
 * at the first product), so the two never compete for the cores. n < 1
 * means "one per CPU core". Call it from the main thread, outside of any
 * running computation. */
KC_API void kc_set_num_threads(int n);
/* The current setting (>= 1). */
KC_API int kc_get_num_threads(void);

/* What computes: the BLAS (OpenBLAS' version and the kernels it chose for
 * this CPU) and the convolution backend (oneDNN when ckeras was built with
 * it, else ckeras' own kernels). Returns: static string. */
KC_API const char *kc_compute_backends(void);

/* Inference plans (on by default): kc_model_predict, predict_on_batch and
 * calls of Sequential and Functional models with training off, outside a
 * recording tape, run a plan compiled for the input shapes, with
 * BatchNormalization folded into the kernel before it and activations
 * fused into the kernels' output loops, and reused buffers. Off: such calls
 * run layer by layer, as in training (the results differ only where
 * BatchNormalization was folded, by float rounding). For comparisons and
 * debugging; call it outside any running computation. */
KC_API void kc_set_inference_plans(bool on);
KC_API bool kc_get_inference_plans(void);

KC_END_DECLS

#endif /* CKERAS_RUNTIME_H */
