/* ckeras: variables, gradient tapes, custom gradients, numeric gradients.
 *
 * The semantics are TensorFlow's tf.GradientTape:
 *
 *     kc_tape *tape = kc_tape_begin(0, &err);      // starts recording
 *     kc_tensor *z = f(kc_variable_value(w1), kc_variable_value(w2));
 *     kc_tape_end(tape);                            // stops recording
 *     kc_tensor *src[2] = {kc_variable_value(w1), kc_variable_value(w2)};
 *     kc_tensor *grads[2];
 *     kc_tape_gradient(tape, z, src, 2, grads, &err); // (36, 10) at (5, 3)
 *     kc_tape_free(tape);
 *
 * - A tape records the ops run on this thread between kc_tape_begin and
 *   kc_tape_end whose inputs it tracks. It tracks the values of trainable
 *   variables automatically, other tensors after kc_tape_watch, and every
 *   output of an op it recorded. Tapes nest: all active tapes record.
 * - kc_tape_gradient gives NULL for a source the target does not depend on
 *   (Keras' None); a non-scalar target is summed (or weighted by the output
 *   gradients given).
 * - A tape without KC_TAPE_PERSISTENT answers one gradient call and then
 *   releases what it holds; a second call fails with KC_ESTATE. A persistent
 *   tape answers any number of calls. kc_tape_free frees either kind.
 * - Gradients are computed by ckeras' own kernels and are not recorded:
 *   higher-order derivatives (a tape over a gradient computation) are not
 *   supported.
 * - A tape keeps references to the tensors it recorded; free it (or let a
 *   non-persistent tape answer) to release them. Do not modify recorded
 *   tensors in place before asking for gradients. */
#ifndef CKERAS_AUTODIFF_H
#define CKERAS_AUTODIFF_H

#include "defs.h"
#include "error.h"
#include "tensor.h"

#include <stdbool.h>

KC_BEGIN_DECLS

/* --- variables --------------------------------------------------------------
 * A named tensor whose value is updated in place by optimizers. Its value
 * tensor keeps the same identity for the variable's life: pass it to ops and
 * use it as a gradient source. */
typedef struct kc_variable kc_variable;

/* Variable holding a copy of `value`. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_variable *kc_variable_new(const char *name, const kc_tensor *value,
                                                 bool trainable, kc_error *err);
/* Same, taking the caller's reference to value (no copy; also on failure).
 * value must not be shared with other tensors (a fresh tensor). */
KC_API KC_NODISCARD kc_variable *kc_variable_new_take(const char *name, kc_tensor *value,
                                                      bool trainable, kc_error *err);
KC_API kc_variable *kc_variable_ref(kc_variable *v);
KC_API void kc_variable_unref(kc_variable *v);
/* Borrowed. */
KC_API const char *kc_variable_name(const kc_variable *v);
/* Borrowed; valid while v lives. */
KC_API kc_tensor *kc_variable_value(const kc_variable *v);
KC_API bool kc_variable_trainable(const kc_variable *v);
KC_API void kc_variable_set_trainable(kc_variable *v, bool trainable);
/* Copy value into the variable (same shape and dtype). */
KC_API KC_NODISCARD kc_status kc_variable_assign(kc_variable *v, const kc_tensor *value,
                                                 kc_error *err);
/* v += delta / v -= delta in place (tf.Variable.assign_add / assign_sub):
 * delta (float32, borrowed) broadcasts to v's shape and must not change
 * it (KC_ESHAPE naming both). Not recorded on tapes. A NULL delta (a
 * failed op) fails with the error err already holds. */
KC_API KC_NODISCARD kc_status kc_variable_assign_add(kc_variable *v, const kc_tensor *delta,
                                                     kc_error *err);
KC_API KC_NODISCARD kc_status kc_variable_assign_sub(kc_variable *v, const kc_tensor *delta,
                                                     kc_error *err);
/* The variable whose value t is, or NULL. Borrowed. */
KC_API kc_variable *kc_tensor_variable(const kc_tensor *t);

/* --- tapes -------------------------------------------------------------------- */
typedef struct kc_tape kc_tape;

#define KC_TAPE_PERSISTENT 0x1u     /* answer several gradient calls */
#define KC_TAPE_NO_AUTO_WATCH 0x2u  /* do not track trainable variables by
                                       themselves (watch_accessed_variables=False) */

/* Create a tape and start recording on this thread. At most 64 tapes may be
 * active at once per thread. Returns: the tape (one owner), or NULL. */
KC_API KC_NODISCARD kc_tape *kc_tape_begin(unsigned flags, kc_error *err);
/* Stop recording (leave the "with" block). The tape keeps what it recorded.
 * Idempotent. */
KC_API void kc_tape_end(kc_tape *tape);
/* Temporarily stop / restart recording on this tape (tape.stop_recording()). */
KC_API void kc_tape_pause(kc_tape *tape);
KC_API void kc_tape_resume(kc_tape *tape);
/* Track t (a constant or any tensor) from now on; the tape adds a
 * reference to it, released when the tape is freed or has answered. */
KC_API KC_NODISCARD kc_status kc_tape_watch(kc_tape *tape, kc_tensor *t, kc_error *err);
/* True when the tape tracks t. */
KC_API bool kc_tape_is_watching(const kc_tape *tape, const kc_tensor *t);

/* d(sum of target)/d(sources[i]) into grads[i]: a new reference shaped like
 * sources[i], or NULL when target does not depend on it (or it is not
 * float32). grads is always fully written (all NULL on failure). */
KC_API KC_NODISCARD kc_status kc_tape_gradient(kc_tape *tape, kc_tensor *target,
                                               kc_tensor *const *sources, int n_sources,
                                               kc_tensor **grads, kc_error *err);
/* General form: several targets, each weighted by an output gradient
 * (output_grads may be NULL, or hold NULL entries, meaning ones). */
KC_API KC_NODISCARD kc_status kc_tape_gradient_ex(kc_tape *tape, kc_tensor *const *targets,
                                                  int n_targets,
                                                  kc_tensor *const *output_grads,
                                                  kc_tensor *const *sources, int n_sources,
                                                  kc_tensor **grads, kc_error *err);
/* Stop recording if needed and free the tape and everything it holds.
 * NULL-safe. */
KC_API void kc_tape_free(kc_tape *tape);
/* Number of ops recorded (for tests and diagnostics). */
KC_API size_t kc_tape_size(const kc_tape *tape);

/* --- custom gradients ----------------------------------------------------------
 * An op defined by the user: a forward function computing outputs from
 * inputs, and a backward function giving the gradients of the inputs from
 * the gradients of the outputs (tf.custom_gradient). Ops the forward function
 * runs are not recorded; the custom op is recorded as one node. */
typedef struct kc_custom_op {
    const char *name; /* for messages */
    /* Fill outputs[0..n_outputs) with new references. */
    kc_status (*forward)(void *ctx, kc_tensor *const *inputs, int n_inputs, kc_tensor **outputs,
                         int n_outputs, kc_error *err);
    /* For every i with needs[i], store a new tensor shaped like inputs[i] in
     * grad_inputs[i] (or leave NULL for "no gradient"). grad_outputs[j] is
     * never NULL (zeros when that output got no gradient). */
    kc_status (*backward)(void *ctx, kc_tensor *const *inputs, int n_inputs,
                          kc_tensor *const *outputs, int n_outputs,
                          kc_tensor *const *grad_outputs, const bool *needs,
                          kc_tensor **grad_inputs, kc_error *err);
    /* Optional: frees ctx once no tape needs it. */
    void (*ctx_free)(void *ctx);
} kc_custom_op;

/* Run a custom op. Takes ctx: op->ctx_free(ctx) is called exactly once,
 * on failure too. outputs receives n_outputs new references (all NULL on
 * failure). op must outlive every tape that records the call. */
KC_API KC_NODISCARD kc_status kc_custom_call(const kc_custom_op *op, void *ctx,
                                             kc_tensor *const *inputs, int n_inputs,
                                             kc_tensor **outputs, int n_outputs, kc_error *err);
/* Single-output form. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_custom_call1(const kc_custom_op *op, void *ctx,
                                               kc_tensor *const *inputs, int n_inputs,
                                               kc_error *err);

/* --- numeric gradients --------------------------------------------------------
 * Central differences, for checking gradients: grads[i][j] =
 * (f(x + e_j) - f(x - e_j)) / (x_j+ - x_j-) where x_j+- = x_j +- eps rounded
 * to float32. Inputs are perturbed in place and restored. */
typedef kc_status (*kc_scalar_fn)(void *ud, kc_tensor *const *inputs, int n_inputs,
                                  double *value, kc_error *err);
KC_API KC_NODISCARD kc_status kc_numeric_gradient(kc_scalar_fn f, void *ud,
                                                  kc_tensor *const *inputs, int n_inputs,
                                                  double eps, kc_tensor **grads, kc_error *err);

/* --- scopes ----------------------------------------------------------------------
 * A bag of tensor references freed together: lets C code written as a chain
 * of ops hold intermediates without unref'ing each one. The ops of
 * scoped_ops.h (kc_s_sub, kc_s_abs, ...) put their results in a scope and
 * report into its err, so numeric code reads like the Python:
 *
 *     kc_scope *s = kc_scope_new(err);
 *     kc_tensor *error = kc_s_sub(s, y_true, y_pred);
 *     kc_tensor *small = kc_s_less_scalar(s, kc_s_abs(s, error), 1);
 *     ...
 *     return kc_scope_return(s, kc_s_where(s, small, squared, linear));
 *
 * kc_scope_take(s, t) puts any other new reference in it.
 */
typedef struct kc_scope kc_scope;
/* A new scope that reports its own failures into err (which may be NULL and
 * must outlive the scope). Returns: the scope (one owner), or NULL when out
 * of memory (then kc_scope_take passes tensors through unkept: see below). */
KC_API KC_NODISCARD kc_scope *kc_scope_new(kc_error *err);
/* Takes t's reference and returns t (borrowed, valid until the scope is
 * freed). NULL passes through. If the scope is NULL or cannot grow, t is
 * unref'd, KC_ENOMEM is recorded in the scope's err, and NULL is returned,
 * so the next op in a chain fails with that error. */
KC_API kc_tensor *kc_scope_take(kc_scope *scope, kc_tensor *t);
/* Drop every reference the scope holds and free it. NULL-safe. */
KC_API void kc_scope_free(kc_scope *scope);
/* The err the scope was created with (scoped_ops.h reports into it). */
KC_API kc_error *kc_scope_err(const kc_scope *scope);
/* Keep t beyond the scope and free the scope: returns a new reference to
 * t (NULL passes through), so a function ends with
 *     return kc_scope_return(s, result);
 * t may be one of the scope's own tensors. */
KC_API kc_tensor *kc_scope_return(kc_scope *scope, kc_tensor *t);

KC_END_DECLS

#endif /* CKERAS_AUTODIFF_H */
