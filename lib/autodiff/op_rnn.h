/* ckeras private: the fused recurrence of SimpleRNN, LSTM and GRU layers
 * (op_rnn.c), one differentiable op per layer call. */
#ifndef CKERAS_OP_RNN_H
#define CKERAS_OP_RNN_H

#include "autodiff_int.h"

/* Elementwise activations the recurrence computes itself. Each has a
 * derivative that its output alone determines, so backward needs only the
 * saved activations. */
#define KC__RACT_LIST(X)                                                                           \
    X(LINEAR, "linear") X(TANH, "tanh") X(SIGMOID, "sigmoid") X(HARD_SIGMOID, "hard_sigmoid")     \
    X(RELU, "relu") X(SOFTSIGN, "softsign") X(ELU, "elu") X(SELU, "selu")                          \
    X(EXPONENTIAL, "exponential") X(SOFTPLUS, "softplus") X(RELU6, "relu6")                        \
    X(LEAKY_RELU, "leaky_relu")

typedef enum kc__ract {
#define X(id, name) KC__RACT_##id,
    KC__RACT_LIST(X)
#undef X
        KC__RACT_COUNT
} kc__ract;

/* Keras' names of the activations above, indexed by kc__ract. */
extern const char *const kc__ract_names[KC__RACT_COUNT];

typedef enum kc__rcell { KC__RCELL_SIMPLE, KC__RCELL_LSTM, KC__RCELL_GRU } kc__rcell;

/* Gate blocks along the kernels' last axis: 1, 4 (i f c o) or 3 (z r h). */
static inline int kc__rcell_gates(kc__rcell c)
{
    return c == KC__RCELL_LSTM ? 4 : c == KC__RCELL_GRU ? 3 : 1;
}
/* Recurrent states: h (and c for LSTM). */
static inline int kc__rcell_states(kc__rcell c) { return c == KC__RCELL_LSTM ? 2 : 1; }

typedef struct kc__rnn_spec {
    kc__rcell cell;
    int64_t units;
    kc__ract activation;           /* SimpleRNN's, LSTM's and GRU's candidate */
    kc__ract recurrent_activation; /* LSTM / GRU gates */
    bool reset_after;              /* GRU: the reset gate multiplies h @ U + b_rec */
    bool go_backwards;             /* read the steps from last to first */
    bool return_sequences;         /* y is (B, T, u) in step order, else (B, u) */
    bool zero_output_for_mask;     /* a masked step outputs zeros, else the previous output */
} kc__rnn_spec;

typedef struct kc__rnn_args {
    kc_tensor *x;                /* (B, T, in) */
    kc_tensor *kernel;           /* (in, G u) */
    kc_tensor *recurrent_kernel; /* (u, G u) */
    kc_tensor *bias;             /* (G u,), (2, G u) for GRU reset_after, or NULL */
    kc_tensor *h0, *c0;          /* (B, u); c0 only for LSTM */
    kc_tensor *mask;             /* (B, T) of 0 / 1, or NULL: no gradient */
    kc_tensor *rec_dropout;      /* (B, u) multipliers of h in h @ U, or NULL: no gradient */
} kc__rnn_args;

/* Run the recurrence: out receives y, h_T (and c_T for LSTM), new
 * references, recorded on active tapes as one op whose backward runs the
 * whole backpropagation through time. Shapes are checked (KC_ESHAPE). */
kc_status kc__rnn_run(const kc__rnn_spec *spec, const kc__rnn_args *args, kc_tensor **out,
                      kc_error *err);

#endif /* CKERAS_OP_RNN_H */
