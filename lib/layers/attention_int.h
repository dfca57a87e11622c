/* ckeras private: what the attention layers (MultiHeadAttention, Attention,
 * AdditiveAttention) share: the masks Keras derives from the inputs' own
 * masks and from use_causal_mask (attention_mask.c). */
#ifndef CKERAS_ATTENTION_INT_H
#define CKERAS_ATTENTION_INT_H

#include "layer_util.h"

/* The automatic attention mask of a call with B samples, T queries and S
 * keys, as float32 0/1 of shape [B, 1, T, S] ([1, 1, T, S] when only the
 * causal part is given): query_mask [B, T] (a masked query attends to
 * nothing), value_mask and key_mask [B, S] (a masked key is never attended
 * to), and, with causal, position t attends to s <= t only (Keras'
 * band_part(ones, -1, 0)). Any of the masks may be NULL; their values are
 * true when nonzero. *out is NULL when there is nothing to mask. Returns
 * KC_ESHAPE naming the mask whose shape does not fit. */
kc_status kc__attention_auto_mask(int64_t B, int64_t T, int64_t S, kc_tensor *query_mask,
                                  kc_tensor *value_mask, kc_tensor *key_mask, bool causal,
                                  kc_tensor **out, kc_error *err);

#endif /* CKERAS_ATTENTION_INT_H */
