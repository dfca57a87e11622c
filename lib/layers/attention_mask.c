/* The attention mask Keras builds from the inputs' masks and the causal
 * flag (MultiHeadAttention._compute_attention_mask, BaseDenseAttention's
 * v_mask and causal mask): [B, T, 1] & [B, 1, S] & [B, 1, S] & [1, T, S],
 * written out directly as one float32 0/1 tensor with a head axis of 1, the
 * form the attention op reads. Masks are data, never differentiated, so no
 * op is recorded. */
#include "attention_int.h"

static kc_status check_mask(const char *what, const kc_tensor *m, int64_t B, int64_t n, kc_error *err)
{
    if (!m) return KC_OK;
    if (kc_tensor_ndim(m) == 2 && kc_tensor_dim(m, 0) == B && kc_tensor_dim(m, 1) == n) return KC_OK;
    char buf[160];
    kc_shape s = kc_tensor_shape(m);
    return kc__errf(err, KC_ESHAPE, "the %s has shape %s, expected (%lld, %lld)", what,
                    kc_shape_format(&s, buf, sizeof(buf)), (long long)B, (long long)n);
}

static bool on(const kc_tensor *m, int64_t i) { return kc_tensor_get(m, i) != 0.0; }

kc_status kc__attention_auto_mask(int64_t B, int64_t T, int64_t S, kc_tensor *query_mask,
                                  kc_tensor *value_mask, kc_tensor *key_mask, bool causal,
                                  kc_tensor **out, kc_error *err)
{
    *out = NULL;
    kc_status rc = check_mask("query mask", query_mask, B, T, err);
    if (rc == KC_OK) rc = check_mask("value mask", value_mask, B, S, err);
    if (rc == KC_OK) rc = check_mask("key mask", key_mask, B, S, err);
    if (rc != KC_OK || (!query_mask && !value_mask && !key_mask && !causal)) return rc;
    int64_t Bm = query_mask || value_mask || key_mask ? B : 1;
    kc_tensor *m = kc_tensor_empty(KC_FLOAT32, 4, (int64_t[]){Bm, 1, T, S}, err);
    if (!m) return kc__error_code(err, KC_ENOMEM);
    float *p = kc_tensor_f32(m);
    for (int64_t b = 0; b < Bm; b++)
        for (int64_t t = 0; t < T; t++) {
            bool qt = !query_mask || on(query_mask, b * T + t);
            for (int64_t s = 0; s < S; s++) {
                bool keep = qt && (!causal || s <= t) && (!value_mask || on(value_mask, b * S + s)) &&
                            (!key_mask || on(key_mask, b * S + s));
                p[(b * T + t) * S + s] = keep ? 1.0f : 0.0f;
            }
        }
    *out = m;
    return KC_OK;
}
