/* ckeras private: what the loss files share.
 *
 * Every built-in loss is one C function of the kc_loss_fn signature whose
 * params point to a kc__loss_params (NULL: Keras' defaults). The function
 * objects ("mse", "huber", ...) call it with NULL; the classes (Huber,
 * BinaryCrossentropy, ...) with their configured parameters, so a class and
 * its function compute the same numbers by construction. */
#ifndef CKERAS_LOSS_INT_H
#define CKERAS_LOSS_INT_H

#include "../objects/objects_int.h"
#include <ckeras/autodiff.h>
#include <ckeras/loss.h>
#include <ckeras/ops.h>

/* Keras' backend.epsilon(): the clip bound of probabilities and the guard
 * of divisions and logarithms. */
#define KC__LOSS_EPS 1e-7f

/* Arguments of the built-in loss functions (Keras' keyword arguments). */
typedef struct kc__loss_params {
    double delta;           /* Huber: where the loss turns linear (1.0) */
    bool from_logits;       /* crossentropies: y_pred holds logits (false) */
    double label_smoothing; /* BinaryCrossentropy, CategoricalCrossentropy (0) */
    int axis;               /* BCE, CCE, CosineSimilarity: the reduced axis (-1) */
    bool has_ignore_class;  /* SparseCategoricalCrossentropy: ignore_class set? */
    int64_t ignore_class;   /* ... and its value */
} kc__loss_params;

extern const kc__loss_params kc__loss_defaults;

/* params of a loss function call: p, or the defaults when p is NULL. */
static inline const kc__loss_params *kc__loss_p(const void *p)
{
    return p ? (const kc__loss_params *)p : &kc__loss_defaults;
}

/* Keras' LossFunctionWrapper (Keras 3 squeeze_or_expand_to_same_rank):
 * when the ranks differ by one and the longer tensor ends in a 1, that axis
 * is squeezed -- or, when the shorter one has rank 1, the shorter one gets
 * a trailing 1 -- so that [N] targets and [N, 1] predictions line up
 * instead of broadcasting to [N, N]. Outputs are new references (NULL on
 * failure, both). */
kc_status kc__loss_align(kc_tensor *y_true, kc_tensor *y_pred, kc_tensor **yt_out,
                         kc_tensor **yp_out, kc_error *err);
/* y_true as float32 (Keras casts y_true to y_pred's dtype). New reference. */
kc_tensor *kc__loss_f32(kc_tensor *t, kc_error *err);
/* Check that y_true and y_pred have the same shape (Keras 3 requires it of
 * the crossentropies). `what` names the loss in the message. */
kc_status kc__loss_same_shape(const char *what, const kc_tensor *y_true, const kc_tensor *y_pred,
                              kc_error *err);

/* The built-in loss functions (kc_loss_fn). Each returns per-sample losses. */
kc_tensor *kc__loss_mse(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err);
kc_tensor *kc__loss_mae(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err);
kc_tensor *kc__loss_mape(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err);
kc_tensor *kc__loss_msle(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err);
kc_tensor *kc__loss_huber(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err);
kc_tensor *kc__loss_log_cosh(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err);
kc_tensor *kc__loss_cosine_similarity(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                      kc_error *err);
kc_tensor *kc__loss_binary_crossentropy(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                        kc_error *err);
kc_tensor *kc__loss_categorical_crossentropy(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                             kc_error *err);
kc_tensor *kc__loss_sparse_categorical_crossentropy(kc_tensor *y_true, kc_tensor *y_pred,
                                                    void *params, kc_error *err);
kc_tensor *kc__loss_kl_divergence(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                  kc_error *err);
kc_tensor *kc__loss_poisson(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err);
kc_tensor *kc__loss_hinge(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err);
kc_tensor *kc__loss_squared_hinge(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                  kc_error *err);
kc_tensor *kc__loss_categorical_hinge(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                      kc_error *err);

/* The sparse crossentropy's ignore_class of a loss object, if it has one:
 * Keras masks those samples out of the reduction (loss.c). */
bool kc__loss_ignore_class(const kc_object *loss, int64_t *ignore_class);

/* The built-in classes and functions (loss_builtins.c). */
extern const kc__builtins kc__loss_builtins;

#endif /* CKERAS_LOSS_INT_H */
