/* ckeras private: what the oneDNN door's files (dnnl_conv.c, the forward;
 * dnnl_conv_grad.c, the gradients) share: the engine, OpenMP kept to one
 * thread, and a convolution geometry as oneDNN descriptors. Only the
 * dnnl_*.c files include this (and dnnl.h). */
#ifndef CKERAS_DNNL_INT_H
#define CKERAS_DNNL_INT_H

#include "conv_backend.h"

#include <oneapi/dnnl/dnnl.h>

/* The CPU engine (NULL when oneDNN could not make one). */
dnnl_engine_t kc__dnnl_engine(void);
/* oneDNN sizes its work for the threads OpenMP would give the calling
 * thread, when a primitive is made and when it runs: one, always. Call
 * before either. */
void kc__dnnl_one_thread(void);

/* The geometry's data (channels last), Keras kernel (wei_user), any-layout
 * kernel and bias descriptors, in oneDNN's dimension order. */
bool kc__dnnl_describe(const kc__conv_shape *s, dnnl_memory_desc_t *src, dnnl_memory_desc_t *wei_user,
                       dnnl_memory_desc_t *wei_any, dnnl_memory_desc_t *bias, dnnl_memory_desc_t *dst);
/* Attributes for every primitive made here: scratchpad memory given by the
 * caller. oneDNN's own scratchpad is shared by all executions of a
 * primitive in this build (OpenMP runtime, no concurrent execution), and
 * ckeras runs slices of one primitive at once on several threads: each
 * slice brings its own. NULL when it cannot be made. */
dnnl_primitive_attr_t kc__dnnl_attr(void);
/* The scratchpad bytes a primitive wants (0: none). */
size_t kc__dnnl_scratch_bytes(dnnl_primitive_t p);

/* Strides, dilations (oneDNN counts from 0) and paddings of a geometry. */
void kc__dnnl_window(const kc__conv_shape *s, dnnl_dims_t strides, dnnl_dims_t dilates, dnnl_dims_t pad_l,
                     dnnl_dims_t pad_r);

#endif /* CKERAS_DNNL_INT_H */
