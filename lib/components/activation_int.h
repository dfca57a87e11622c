/* ckeras private: activations as kernels, for the inference path. */
#ifndef CKERAS_ACTIVATION_INT_H
#define CKERAS_ACTIVATION_INT_H

#include "../autodiff/kernels.h"
#include <ckeras/object.h>

typedef enum kc__act_kernel_kind {
    KC__ACTK_NONE,        /* no kernel: a user function or class */
    KC__ACTK_LINEAR,      /* the identity */
    KC__ACTK_ELEMENTWISE, /* *act holds the op and its parameters */
    KC__ACTK_SOFTMAX,     /* softmax over the last axis */
    KC__ACTK_LOG_SOFTMAX, /* log_softmax over the last axis */
} kc__act_kernel_kind;

/* What a built-in activation computes, as the op its function calls. */
kc__act_kernel_kind kc__activation_kernel(const kc_object *activation, kc__act *act);

#endif /* CKERAS_ACTIVATION_INT_H */
