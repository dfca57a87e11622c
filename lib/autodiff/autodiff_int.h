/* ckeras private: the op table, tape nodes and helpers shared by the op
 * families (op_*.c) and the tape (tape.c).
 *
 * An op runs eagerly: its public function checks shapes, allocates the
 * output, computes it, then calls kc__finish(), which records a node on every
 * active tape that tracks one of the inputs. The node keeps references to
 * inputs and outputs (and up to KC__MAX_SAVED extra tensors) so that the op's
 * backward function, found through the table below, can run later. */
#ifndef CKERAS_AUTODIFF_INT_H
#define CKERAS_AUTODIFF_INT_H

#include "../core/internal.h"
#include <ckeras/autodiff.h>
#include <ckeras/ops.h>

/* Every differentiable op: id, name, backward function. Ops that produce no
 * gradient (comparisons, argmax, one_hot, integer casts) are not recorded
 * and not listed. */
#define KC__OP_LIST(X) \
    X(ADD, "add", kc__binary_backward) \
    X(SUB, "sub", kc__binary_backward) \
    X(MUL, "mul", kc__binary_backward) \
    X(DIV, "div", kc__binary_backward) \
    X(POW, "pow", kc__binary_backward) \
    X(MAXIMUM, "maximum", kc__binary_backward) \
    X(MINIMUM, "minimum", kc__binary_backward) \
    X(NEG, "neg", kc__unary_backward) \
    X(ABS, "abs", kc__unary_backward) \
    X(SIGN, "sign", kc__unary_backward) \
    X(SQUARE, "square", kc__unary_backward) \
    X(SQRT, "sqrt", kc__unary_backward) \
    X(RSQRT, "rsqrt", kc__unary_backward) \
    X(EXP, "exp", kc__unary_backward) \
    X(LOG, "log", kc__unary_backward) \
    X(LOG1P, "log1p", kc__unary_backward) \
    X(RELU, "relu", kc__unary_backward) \
    X(SIGMOID, "sigmoid", kc__unary_backward) \
    X(TANH, "tanh", kc__unary_backward) \
    X(SOFTPLUS, "softplus", kc__unary_backward) \
    X(SOFTSIGN, "softsign", kc__unary_backward) \
    X(ELU, "elu", kc__unary_backward) \
    X(SELU, "selu", kc__unary_backward) \
    X(GELU, "gelu", kc__unary_backward) \
    X(SWISH, "swish", kc__unary_backward) \
    X(HARD_SIGMOID, "hard_sigmoid", kc__unary_backward) \
    X(HARD_SWISH, "hard_swish", kc__unary_backward) \
    X(MISH, "mish", kc__unary_backward) \
    X(RELU_EX, "relu_ex", kc__unary_backward) \
    X(CLIP, "clip", kc__unary_backward) \
    X(WHERE, "where", kc__where_backward) \
    X(SOFTMAX, "softmax", kc__softmax_backward) \
    X(LOG_SOFTMAX, "log_softmax", kc__softmax_backward) \
    X(MATMUL, "matmul", kc__matmul_backward) \
    X(RESHAPE, "reshape", kc__reshape_backward) \
    X(TRANSPOSE, "transpose", kc__transpose_backward) \
    X(CONCAT, "concat", kc__concat_backward) \
    X(SLICE, "slice", kc__slice_backward) \
    X(GATHER, "gather", kc__gather_backward) \
    X(PAD, "pad", kc__pad_backward) \
    X(BROADCAST_TO, "broadcast_to", kc__broadcast_to_backward) \
    X(REDUCE_SUM, "reduce_sum", kc__reduce_backward) \
    X(REDUCE_MEAN, "reduce_mean", kc__reduce_backward) \
    X(REDUCE_MAX, "reduce_max", kc__reduce_backward) \
    X(REDUCE_MIN, "reduce_min", kc__reduce_backward) \
    X(REDUCE_PROD, "reduce_prod", kc__reduce_backward) \
    X(CUSTOM, "custom", kc__custom_backward)

typedef enum kc__op {
#define KC__OP_ENUM_(id, name, backward) KC__OP_##id,
    KC__OP_LIST(KC__OP_ENUM_)
#undef KC__OP_ENUM_
    KC__OP_COUNT
} kc__op;

/* Op parameters kept for backward (axes, flags, slopes, ...). */
typedef struct kc__attrs {
    int64_t i[2 * KC_MAX_DIMS + 4];
    double f[4];
} kc__attrs;

#define KC__MAX_SAVED 2

typedef struct kc__custom_ref kc__custom_ref; /* custom op + ctx, refcounted */

typedef struct kc__node {
    kc__op op;
    int n_in, n_out;
    kc_tensor **in;  /* references */
    kc_tensor **out; /* references */
    kc_tensor *saved[KC__MAX_SAVED];
    kc__attrs attrs;
    kc__custom_ref *custom; /* KC__OP_CUSTOM only */
} kc__node;

/* Backward: for each i with needs[i], store in grad_in[i] a new tensor shaped
 * like node->in[i] (or NULL for "no gradient"). grad_out[j] is never NULL. */
typedef kc_status (*kc__backward_fn)(const kc__node *node, kc_tensor *const *grad_out,
                                     const bool *needs, kc_tensor **grad_in, kc_error *err);

/* Prototypes of every backward function named in KC__OP_LIST. */
#define KC__OP_PROTO_(id, name, backward)                                                          \
    kc_status backward(const kc__node *node, kc_tensor *const *grad_out, const bool *needs,         \
                       kc_tensor **grad_in, kc_error *err);
KC__OP_LIST(KC__OP_PROTO_)
#undef KC__OP_PROTO_

typedef struct kc__op_info {
    const char *name;
    kc__backward_fn backward;
} kc__op_info;

extern const kc__op_info kc__op_table[KC__OP_COUNT];

/* --- recording ---------------------------------------------------------- */

/* Nonzero when some tape of this thread may record (cheap, inline test). */
extern _Thread_local int kc__tapes_recording;
static inline bool kc__recording(void) { return kc__tapes_recording > 0; }

/* Record a node on every active tape that tracks one of `in`. */
kc_status kc__record(kc__op op, kc_tensor *const *in, int n_in, kc_tensor *const *out, int n_out,
                     const kc__attrs *attrs, kc_tensor *const *saved, int n_saved,
                     kc__custom_ref *custom, kc_error *err);

/* Finish a single-output op: record it when needed and return out, or drop
 * out and return NULL if recording failed. attrs may be NULL. */
kc_tensor *kc__finish(kc__op op, kc_tensor *out, kc_tensor *const *in, int n_in,
                      const kc__attrs *attrs, kc_error *err);

/* Stop / restart all recording on this thread (nested calls counted): used
 * while computing gradients and inside custom forward functions. */
void kc__recording_pause(void);
void kc__recording_resume(void);

/* Told, during the next gradient calls on this thread, each source's
 * gradient as soon as the backward sweep has finished it (no later node
 * adds to it): a data-parallel step starts summing gradients over its
 * processes while the sweep goes on. Sources without a gradient are not
 * told. grad is borrowed for the call. */
typedef struct kc__grad_listener {
    void (*ready)(void *ctx, int source, const kc_tensor *grad);
    void *ctx;
} kc__grad_listener;
/* Set (NULL: none) this thread's listener; returns the previous one. */
const kc__grad_listener *kc__grad_listen(const kc__grad_listener *l);

/* Custom op holders (custom.c). */
void kc__custom_ref_retain(kc__custom_ref *r);
void kc__custom_ref_release(kc__custom_ref *r);


/* --- shared kernels ------------------------------------------------------- */

/* Check that inputs are non-NULL float32 tensors; name is the op, for messages. */
kc_status kc__check_f32(const char *name, kc_tensor *const *in, int n, kc_error *err);

/* NumPy broadcast of two shapes. */
kc_status kc__broadcast_shape(const char *op, int nda, const int64_t *da, int ndb,
                              const int64_t *db, int *nd, int64_t *dims, kc_error *err);

/* Broadcast iteration plan over up to 3 operands (element strides, 0 on
 * broadcast axes) with adjacent compatible axes merged. */
typedef struct kc__bcast {
    int nd;
    int n_ops;
    int64_t dims[KC_MAX_DIMS];
    int64_t strides[3][KC_MAX_DIMS];
} kc__bcast;
void kc__bcast_init(kc__bcast *p, int nd, const int64_t *dims, int n_ops,
                    const kc_tensor *const *ops);

/* Sum `g` (of a broadcast shape) down to ndim/dims. Returns: new reference
 * (possibly g itself with one more reference when shapes already match). */
kc_tensor *kc__sum_to(kc_tensor *g, int ndim, const int64_t *dims, kc_error *err);

/* Generic strided copy of an nd block (element strides; may be negative
 * free: only >= 0 used). elem = element size in bytes. */
void kc__strided_copy(int nd, const int64_t *dims, const char *src, const int64_t *src_strides,
                      char *dst, const int64_t *dst_strides, size_t elem);
/* Row-major strides of dims (in elements). */
void kc__contig_strides(int nd, const int64_t *dims, int64_t *strides);

/* Elementwise helpers used by backward functions (not recorded). */
kc_tensor *kc__mul_raw(kc_tensor *a, kc_tensor *b, kc_error *err);
kc_tensor *kc__add_raw(kc_tensor *a, kc_tensor *b, kc_error *err);
/* dst += src (same shape), in place. */
void kc__accumulate(kc_tensor *dst, const kc_tensor *src);

/* Reductions over a mask of axes into a keepdims-shaped output (no record). */
typedef enum { KC__RED_SUM, KC__RED_MAX, KC__RED_MIN, KC__RED_PROD } kc__red_kind;
kc_tensor *kc__reduce_raw(kc_tensor *x, const bool *axes_mask, kc__red_kind kind,
                          kc_error *err);


#endif /* CKERAS_AUTODIFF_INT_H */
