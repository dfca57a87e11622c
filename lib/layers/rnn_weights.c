/* Recurrent weights stored in older layouts, converted on load as Keras'
 * preprocess_weights_for_loading converts them (spec §3.6):
 *
 *   - Keras 1 stored one array per gate: LSTM 12 (W_i U_i b_i W_c U_c b_c
 *     W_f U_f b_f W_o U_o b_o, old gate order i c f o), GRU 9 (W_z U_z b_z
 *     W_r U_r b_r W_h U_h b_h). They are concatenated along the last axis
 *     into kernel, recurrent_kernel and bias, LSTM gates reordered to
 *     i f c o. (Keras decides by keras_version == "1"; the array count says
 *     the same thing unambiguously, also for files that carry "1.2.2".)
 *   - cuDNN layers (CuDNNLSTM, CuDNNGRU) stored each gate's input kernel
 *     in Fortran order, its recurrent kernel transposed, and separate input
 *     and recurrent biases. The bias shape says which layout a file holds:
 *     LSTM (8u,) is cuDNN (biases summed), (4u,) plain; GRU (6u,) is
 *     cuDNN, which is GRU(reset_after=True) once reshaped to (2, 3u),
 *     (2, 3u) reset_after=True, (3u,) reset_after=False. reset_after=False
 *     and the others compute different things, so loading one into the
 *     other is an error, as in Keras. */
#include "rnn_int.h"

#include <string.h>

static kc_tensor *cat3or4(kc_tensor *const *in, const int *idx, int n, kc_error *err)
{
    kc_tensor *parts[4];
    for (int i = 0; i < n; i++) parts[i] = in[idx[i]];
    return kc_concat(parts, n, -1, err);
}

/* Keras 1 per-gate arrays -> kernel, recurrent_kernel, bias. */
static kc_status repack_keras1(const kc__rnn_cell *c, kc_tensor *const *in, kc_tensor **w, kc_error *err)
{
    static const int lstm_order[4] = {0, 6, 3, 9}; /* i, f, c, o from i, c, f, o */
    static const int gru_order[3] = {0, 3, 6};
    const int *order = c->kind == KC__RCELL_LSTM ? lstm_order : gru_order;
    int g = kc__rcell_gates(c->kind);
    for (int k = 0; k < 3; k++) {
        int idx[4];
        for (int i = 0; i < g; i++) idx[i] = order[i] + k;
        w[k] = cat3or4(in, idx, g, err);
        if (!w[k]) {
            for (int j = 0; j < k; j++) kc_tensor_unref(w[j]), w[j] = NULL;
            kc__error_context(err, "re-packing the Keras 1 weights of layer '%s'", kc_layer_name(&c->base.base));
            return kc__error_code(err, KC_ENOMEM);
        }
    }
    return KC_OK;
}

/* cuDNN kernels -> Keras: per gate block (in, u), the block's values read
 * as a (u, in) matrix, transposed (numpy's k.T.reshape(k.shape, order='F'));
 * recurrent blocks (u, u) transposed. */
static kc_status from_cudnn_kernels(kc_tensor **w, int gates, kc_error *err)
{
    for (int k = 0; k < 2; k++) {
        kc_tensor *src = w[k];
        int64_t rows = kc_tensor_dim(src, 0), cols = kc_tensor_dim(src, 1), u = cols / gates;
        kc_tensor *dst = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){rows, cols}, err);
        if (!dst) return kc__error_code(err, KC_ENOMEM);
        const float *s = kc_tensor_cdata(src);
        float *d = kc_tensor_f32(dst);
        for (int g = 0; g < gates; g++) {
            for (int64_t i = 0; i < rows; i++) {
                for (int64_t j = 0; j < u; j++) {
                    /* element n of the block in C order sits at (n / u, n % u) */
                    int64_t n = k == 0 ? j * rows + i : j * u + i;
                    d[i * cols + g * u + j] = s[(n / u) * cols + g * u + n % u];
                }
            }
        }
        kc_tensor_unref(src);
        w[k] = dst;
    }
    return KC_OK;
}

static kc_status bias_error(const kc__rnn_cell *c, const kc_tensor *b, kc_error *err)
{
    char buf[160];
    kc_shape s = kc_tensor_shape(b);
    return kc__errf(err, KC_ESHAPE, "layer '%s': Invalid bias shape: %s", kc_layer_name(&c->base.base),
                    kc_shape_format(&s, buf, sizeof(buf)));
}

static bool is_vec(const kc_tensor *t, int64_t n) { return kc_tensor_ndim(t) == 1 && kc_tensor_dim(t, 0) == n; }

/* The cuDNN rules on three arrays; *changed tells whether w was replaced. */
static kc_status convert_cudnn(const kc__rnn_cell *c, kc_tensor **w, bool *changed, kc_error *err)
{
    *changed = false;
    if (kc_tensor_ndim(w[1]) != 2 || kc_tensor_ndim(w[0]) != 2) return KC_OK; /* the shape check reports it */
    int64_t u = kc_tensor_dim(w[1], 0);
    kc_tensor *b = w[2];
    if (c->kind == KC__RCELL_LSTM) {
        if (is_vec(b, 4 * u)) return KC_OK;
        if (!is_vec(b, 8 * u)) return bias_error(c, b, err);
        kc_tensor *nb = kc_tensor_empty(KC_FLOAT32, 1, (int64_t[]){4 * u}, err);
        if (!nb) return kc__error_code(err, KC_ENOMEM);
        const float *s = kc_tensor_cdata(b);
        for (int64_t j = 0; j < 4 * u; j++) kc_tensor_f32(nb)[j] = s[j] + s[4 * u + j];
        kc_tensor_unref(w[2]);
        w[2] = nb;
        *changed = true;
        return from_cudnn_kernels(w, 4, err);
    }
    if (c->kind != KC__RCELL_GRU) return KC_OK;
    bool cudnn = is_vec(b, 6 * u);
    bool after = kc_tensor_ndim(b) == 2 && kc_tensor_dim(b, 0) == 2 && kc_tensor_dim(b, 1) == 3 * u;
    bool before = is_vec(b, 3 * u);
    if (!cudnn && !after && !before) return bias_error(c, b, err);
    const char *source = cudnn ? "CuDNNGRU" : after ? "GRU(reset_after=True)" : "GRU(reset_after=False)";
    const char *target = c->reset_after ? "GRU(reset_after=True)" : "GRU(reset_after=False)";
    if (strcmp(source, target) == 0) return KC_OK;
    if (before || !c->reset_after)
        return kc__errf(err, KC_ESHAPE, "layer '%s': %s is not compatible with %s", kc_layer_name(&c->base.base),
                        source, target);
    kc_tensor *nb = kc_reshape(b, 2, (int64_t[]){2, 3 * u}, err);
    if (!nb) return kc__error_code(err, KC_ENOMEM);
    kc_tensor_unref(w[2]);
    w[2] = nb;
    *changed = true;
    return from_cudnn_kernels(w, 3, err);
}

kc_status kc__rnn_convert_weights(const kc__rnn_cell *c, kc_tensor *const *in, int n_in, kc_tensor **out,
                                  int *n_out, kc_error *err)
{
    *n_out = 0;
    kc_tensor *w[3] = {0};
    bool repacked = (c->kind == KC__RCELL_LSTM && n_in == 12) || (c->kind == KC__RCELL_GRU && n_in == 9);
    kc_status rc = KC_OK;
    if (repacked) {
        rc = repack_keras1(c, in, w, err);
    } else if (n_in == 3 && c->kind != KC__RCELL_SIMPLE) {
        for (int k = 0; k < 3; k++) w[k] = kc_tensor_ref(in[k]);
    } else {
        return KC_OK;
    }
    bool changed = false;
    if (rc == KC_OK) rc = convert_cudnn(c, w, &changed, err);
    if (rc != KC_OK || !(repacked || changed)) {
        for (int k = 0; k < 3; k++) kc_tensor_unref(w[k]);
        return rc;
    }
    for (int k = 0; k < 3; k++) out[k] = w[k];
    *n_out = 3;
    return KC_OK;
}
