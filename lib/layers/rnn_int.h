/* ckeras private: recurrent cells, the RNN layer, and the helpers that let a
 * layer own the weights of the layers it wraps (RNN -> cell, Bidirectional
 * -> RNNs, TimeDistributed -> any layer). */
#ifndef CKERAS_RNN_INT_H
#define CKERAS_RNN_INT_H

#include "../autodiff/op_rnn.h"
#include "layers_int.h"

#include <ckeras/random.h>
#include <ckeras/recurrent.h>

/* ---- cells (rnn_cell.c) ------------------------------------------------------------ */

/* SimpleRNNCell, LSTMCell and GRUCell: the per-step math and its weights. */
typedef struct kc__rnn_cell {
    kc_layer base; /* must stay first */
    kc__rcell kind;
    int64_t units;
    kc_object *activation, *recurrent_activation; /* owned; recurrent: NULL for SimpleRNN */
    kc__ract act, rec_act;                        /* what the fused kernel computes */
    bool use_bias;
    bool unit_forget_bias;                        /* LSTM: forget-gate bias starts at 1 */
    bool reset_after;                             /* GRU */
    kc_object *kernel_init, *recurrent_init, *bias_init;
    kc_object *kernel_reg, *recurrent_reg, *bias_reg;
    kc_object *kernel_con, *recurrent_con, *bias_con;
    double dropout, recurrent_dropout;            /* clipped to [0, 1] as Keras */
    int64_t implementation;                       /* LSTM / GRU: 1 or 2 (written back only) */
    bool has_seed;                                /* Keras 3 "seed": the dropout stream */
    uint64_t seed;
    kc_rng rng;
    /* borrowed: owned by the layer that built the cell (itself, or its RNN) */
    kc_variable *kernel, *recurrent_kernel, *bias;
} kc__rnn_cell;

bool kc__is_rnn_cell(const kc_object *o);
/* The cell of a flat layer (SimpleRNN, LSTM, GRU): a new cell of `kind`
 * named as tf.keras names it ("lstm_cell"), configured from the layer's
 * own config. Returns: new reference or NULL. */
kc__rnn_cell *kc__rnn_cell_from_layer_config(kc__rcell kind, const json_t *cfg,
                                             const kc_config_ctx *ctx, bool trainable,
                                             kc_error *err);
/* Write the cell keys in Keras' order; a flat layer passes itself as
 * activity_owner, whose activity_regularizer goes where tf.keras lists it
 * (cells have none: NULL). */
kc_status kc__rnn_cell_write(const kc__rnn_cell *c, json_t *cfg, const kc_object *activity_owner,
                             kc_error *err);
/* Run the recurrence with this cell's weights over x (B, T, in): dropout
 * masks in training, then kc__rnn_run. spec gives the RNN-level flags (its
 * cell fields are filled here); states has kc__rcell_states entries. */
kc_status kc__rnn_cell_run(kc__rnn_cell *c, kc__rnn_spec spec, kc_tensor *x,
                           kc_tensor *const *states, kc_tensor *mask, bool training,
                           kc_tensor **out, kc_error *err);
/* Keras' preprocess_weights_for_loading for this cell's layer: Keras 1
 * per-gate arrays and cuDNN layouts (rnn_weights.c). *n_out = 0: unchanged. */
kc_status kc__rnn_convert_weights(const kc__rnn_cell *c, kc_tensor *const *in, int n_in,
                                  kc_tensor **out, int *n_out, kc_error *err);

/* ---- the RNN layer (layer_rnn.c) ---------------------------------------------------- */

typedef struct kc__rnn {
    kc_layer base;        /* must stay first */
    kc__rnn_cell *cell;   /* owned */
    bool flat;            /* SimpleRNN / LSTM / GRU: cell keys live in the layer's config */
    bool return_sequences, return_state, go_backwards, stateful, unroll, time_major;
    bool zero_output_for_mask;
    kc_tensor *states[2]; /* stateful: states for the next call (NULL: zeros) */
    int64_t state_batch;  /* batch of the last call (-1: unknown) */
} kc__rnn;

bool kc__is_rnn(const kc_object *o);
/* Number of state tensors of the layer's cell (1 or 2). */
int kc__rnn_num_states(const kc__rnn *r);
/* A copy of an RNN layer from its config, renamed and optionally with
 * go_backwards flipped (Bidirectional's forward and backward layers).
 * Returns: new reference or NULL. */
kc_object *kc__rnn_recreate(const kc_object *rnn, const char *prefix, bool flip_backwards,
                            const kc_config_ctx *ctx, kc_error *err);
kc_status kc__rnn_reset(kc__rnn *r, kc_tensor *const *states, int n, kc_error *err);
kc_status kc__rnn_states(const kc__rnn *r, kc_tensor **out, kc_error *err);

/* Bidirectional (layer_bidirectional.c), for recurrent.h. */
bool kc__is_bidirectional(const kc_object *o);
kc__rnn *kc__bidirectional_half(const kc_object *o, int i);

/* ---- nesting (layer_wrapper.c) --------------------------------------------------------- */

/* Build `inner` so that its weights belong to `owner` and are named
 * "<scope>/<weight>:0", the way Keras names the variables of a layer
 * built inside another (lstm/lstm_cell/kernel:0,
 * bidirectional/forward_lstm/lstm_cell/kernel:0, time_distributed/kernel:0).
 * inner keeps borrowed pointers to them; owner must outlive its use. */
kc_status kc__layer_build_nested(kc_object *inner, kc_object *owner, const char *scope,
                                 const kc_shape *in, int n_in, kc_error *err);
/* "<owner's name>/<name>" (malloc'd), for scopes. */
char *kc__scope_join(const kc_object *owner, const char *name, kc_error *err);
/* Call a wrapped layer and hand its call losses and metric values to the
 * owner (a wrapped layer is not one of the model's layers, so they would
 * not be seen otherwise). Arguments as kc_layer_call. */
kc_status kc__layer_call_nested(kc_object *inner, kc_object *owner, kc_tensor *const *inputs,
                                int n_inputs, kc_tensor *const *masks, bool training,
                                kc_tensor **out, kc_tensor **out_masks, int *n_out,
                                kc_error *err);

#endif /* CKERAS_RNN_INT_H */
