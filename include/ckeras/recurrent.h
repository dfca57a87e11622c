/* ckeras: recurrent layers and wrappers.
 *
 * Layer classes (create them with kc_layer_create or from Keras configs):
 *   - SimpleRNN, LSTM, GRU: Keras' flat configs (units, activation, ...,
 *     return_sequences, return_state, go_backwards, stateful, unroll,
 *     time_major, zero_output_for_mask); weights kernel (in, G u),
 *     recurrent_kernel (u, G u), bias (G u,) with G = 1, 4 (gates i f c o)
 *     or 3 (z r h), named "lstm/lstm_cell/kernel:0" as tf.keras names them.
 *     GRU's bias is (2, 3u) with reset_after (the default; a config written
 *     by a Keras that predates the key, i.e. one with "implementation" but
 *     no "reset_after", means reset_after = false, as that Keras computed).
 *   - RNN: {"cell": SimpleRNNCell | LSTMCell | GRUCell config, ...}; the
 *     cells are layers too: called alone on [x, h (, c)] they return
 *     [output, h (, c)].
 *   - Bidirectional: {"layer": RNN config, "merge_mode": "concat" | "sum" |
 *     "mul" | "ave" | null, "backward_layer": optional}.
 *   - TimeDistributed: {"layer": any single-input layer config}.
 * A recurrent layer's inputs are the sequence, then optionally its initial
 * states (h, then c for LSTM; Bidirectional: the forward layer's, then the
 * backward layer's). Outputs: the output, then the final states when
 * return_state. A timestep mask (Embedding mask_zero, Masking) is honoured
 * as Keras does: masked steps carry the states over and repeat the previous
 * output (zeros with zero_output_for_mask, which Bidirectional forces when
 * it returns sequences). Dropout and recurrent_dropout act in training,
 * with one mask per call (shared by the gates, as Keras 3), drawn from the
 * cell's "seed" or else the global generator (kc_set_random_seed).
 * Activations: linear, tanh, sigmoid, hard_sigmoid, relu, softsign, elu,
 * selu, exponential, softplus, relu6, leaky_relu (the fused kernel needs a
 * derivative given by the output); others are KC_EUNSUPPORTED. */
#ifndef CKERAS_RECURRENT_H
#define CKERAS_RECURRENT_H

#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

KC_BEGIN_DECLS

/* Keras' reset_states. For a stateful SimpleRNN / LSTM / GRU / RNN or
 * Bidirectional layer: states NULL sets the carried states to zeros; else
 * n_states tensors (kc_rnn_num_states; (batch, units) each) become the
 * states of the next call (copied). For a model: every stateful layer is
 * reset to zeros (states must be NULL). A layer that is not stateful is
 * KC_ESTATE ("Layer must be stateful"), anything else KC_EINVAL. */
KC_API KC_NODISCARD kc_status kc_rnn_reset_states(kc_object *layer, kc_tensor *const *states,
                                                  int n_states, kc_error *err);
/* Number of state tensors of a recurrent layer: 1 (SimpleRNN, GRU), 2
 * (LSTM), twice that for Bidirectional; 0 for other objects. */
KC_API int kc_rnn_num_states(const kc_object *layer);
/* Copies of the states a stateful layer carries to its next call (zeros
 * after a reset): out receives kc_rnn_num_states new references. Fails
 * with KC_ESTATE when the layer is not stateful, or when its states were
 * never set and its batch size is unknown. */
KC_API KC_NODISCARD kc_status kc_rnn_get_states(const kc_object *layer, kc_tensor **out,
                                                kc_error *err);

KC_END_DECLS

#endif /* CKERAS_RECURRENT_H */
