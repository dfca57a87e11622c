/* ckeras private: the variable record. */
#ifndef CKERAS_VARIABLE_INT_H
#define CKERAS_VARIABLE_INT_H

#include "../core/internal.h"
#include <ckeras/autodiff.h>

struct kc_variable {
    atomic_long refcount;
    char *name;        /* "dense/kernel:0" style, owned */
    kc_tensor *value;  /* owned; value->variable points back here */
    bool trainable;
    void *constraint;  /* kc_object * (a constraint), owned; NULL = none */
    void (*constraint_unref)(void *); /* how to drop it (objects layer) */
};

#endif /* CKERAS_VARIABLE_INT_H */
