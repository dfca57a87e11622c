/* ckeras private: scaled dot-product attention over several heads as one
 * differentiable op (op_attention.c), the core of MultiHeadAttention and of
 * the dot-product Attention layer. */
#ifndef CKERAS_OP_ATTENTION_H
#define CKERAS_OP_ATTENTION_H

#include "autodiff_int.h"

#include <ckeras/random.h>

/* What Keras adds to the scores of masked positions before the softmax
 * (Softmax's _large_compatible_negative for float32, and the 1e9 of
 * BaseDenseAttention._apply_scores). A row with every position masked gets
 * the plain softmax of its scores shifted by this constant: in float32 that
 * is a uniform distribution, as in Keras 2. */
#define KC__ATTENTION_MASKED (-1e9f)

typedef struct kc__attention_args {
    /* Layouts are Keras' einsum layouts, so projections feed the op with
     * reshapes only (views, no copies): O independent "batch" slots (the
     * batch and any non-attention axes), T queries, S keys, H heads. */
    kc_tensor *q;    /* [O, T, H, dk] */
    kc_tensor *k;    /* [O, S, H, dk] */
    kc_tensor *v;    /* [O, S, H, dv] */
    /* Optional, constant (never differentiated): float32 0/1 of shape
     * [Om, Hm, T, S] with Om 1 or O and Hm 1 or H; 0 masks a position. */
    kc_tensor *mask;
    float scale;     /* multiplies q . k (Keras: 1 / sqrt(key_dim)) */
    double dropout;  /* rate applied to the probabilities; 0 = none */
    kc_rng *rng;     /* draws the dropout decisions (when dropout > 0) */
} kc__attention_args;

/* out[0]: context [O, T, H, dv] = dropout(softmax(scale q k^T + mask)) v;
 * out[1]: the probabilities [O, H, T, S] before dropout (Keras'
 * attention_scores). Both are new references; recorded on active tapes as
 * one node, differentiable w.r.t. q, k and v (also through out[1]). */
kc_status kc__attention(const kc__attention_args *a, kc_tensor **out, kc_error *err);

#endif /* CKERAS_OP_ATTENTION_H */
