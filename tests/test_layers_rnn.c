/* Recurrent layers (SimpleRNN, LSTM, GRU, RNN with cells), Bidirectional
 * and TimeDistributed: against TensorFlow.js (fixtures from keras-ref and
 * model goldens in tests/data/rnn), against hand-written references of
 * Keras' equations (GRU reset_after, masks, states), finite differences,
 * config round trips, weight conversions and the real Keras files. */
#include "keras_ref.h"
#include "golden.h"

#include <ckeras/recurrent.h>
#include <hdf5.h>
#include <jansson.h>
#include <string.h>

#define D(...) ((int64_t[]){__VA_ARGS__})
#define F(...) ((float[]){__VA_ARGS__})

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    kc_clear_session();
    kc_set_random_seed(1234);
}

/* ---- JSON helpers ------------------------------------------------------------------------ */

/* Load an .h5 and compare with its .io.json. */
static kc_object *check_h5(const char *stem, double rtol, double atol, const kc_load_options *opts)
{
    char h5[256], io[256];
    snprintf(h5, sizeof(h5), "%s.h5", stem);
    snprintf(io, sizeof(io), "%s.io.json", stem);
    kc_object *m = kc_model_load(tu_data(h5), opts, &err);
    ck_assert_msg(m != NULL, "%s: %s (%s)", h5, err.message, err.context);
    json_t *root = tu_load_json(io);
    tu_check_io(m, root, stem, rtol, atol);
    json_decref(root);
    return m;
}

START_TEST(tfjs_fixtures_load_and_match)
{
    static const char *const stems[] = {"keras-ref/embedding_lstm", "keras-ref/gru", "keras-ref/simple_rnn"};
    for (size_t i = 0; i < sizeof(stems) / sizeof(stems[0]); i++) kc_object_unref(check_h5(stems[i], 1e-5, 1e-6, NULL));
}
END_TEST


static const char *const goldens[] = {"rnn/lstm_states.json", "rnn/simple_gru.json", "rnn/masking_gru_lstm.json",
                                      "rnn/embedding_mask.json", "rnn/bidirectional.json",
                                      "rnn/bidirectional_states.json", "rnn/rnn_cells.json",
                                      "rnn/time_distributed.json"};
#define N_GOLDENS ((int)(sizeof(goldens) / sizeof(goldens[0])))

START_TEST(models_match_tensorflow_js)
{
    tu_check_golden(goldens[_i], 1e-5, 1e-6);
}
END_TEST

/* The other direction: a model ckeras writes (its config as ckeras writes
 * it, the golden's weights) loads in TensorFlow.js and predicts the
 * golden's outputs (keras-ref check; skipped when keras-ref is absent). */
START_TEST(ckeras_written_models_load_in_tensorflow_js)
{
    KR_REQUIRE();
    json_t *root = tu_load_json(goldens[_i]);
    kc_object *m = tu_golden_model(root, goldens[_i]);
    char h5[4200], args[12000], out[8192];
    snprintf(h5, sizeof(h5), "%s/rnn_written_%d.h5", tu_tmpdir(), _i);
    CK_OK(kc_model_save(m, h5, NULL, &err));
    snprintf(args, sizeof(args), "check '%s' '%s'", h5, tu_data(goldens[_i]));
    int rc = kr_run(args, out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, ": OK:"), "%s: keras-ref check exit %d:\n%s", goldens[_i], rc, out);
    kc_object_unref(m);
    json_decref(root);
}
END_TEST

START_TEST(stateful_golden_carries_states_between_calls)
{
    json_t *root = tu_load_json("rnn/stateful.json");
    kc_object *m = tu_golden_model(root, "rnn/stateful.json");
    json_t *calls = json_object_get(root, "calls");
    for (size_t c = 0; c < json_array_size(calls); c++) {
        char label[64];
        snprintf(label, sizeof(label), "stateful call %zu", c);
        tu_check_io(m, json_array_get(calls, c), label, 1e-5, 1e-6);
    }
    /* reset: the first call's outputs again */
    CK_OK(kc_rnn_reset_states(m, NULL, 0, &err));
    tu_check_io(m, json_array_get(calls, 0), "stateful call 0 after reset", 1e-5, 1e-6);
    kc_object_unref(m);
    json_decref(root);
}
END_TEST

/* ---- a reference of Keras' equations, in double --------------------------------------------
 * keras/layers/rnn/{simple_rnn,lstm,gru}.py (cells, implementation 2) and
 * keras/backend.py rnn(): masked steps keep the states, and output the
 * previous output (zeros before the first step) or zeros with
 * zero_output_for_mask. */

typedef double (*ref_act)(double);
static double r_tanh(double x) { return tanh(x); }
static double r_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
/* in float, as Keras 2 and TensorFlow.js evaluate it (0.2 x + 0.5 cancels near -2.5) */
static double r_hard_sigmoid(double x) { return fminf(fmaxf(0.2f * (float)x + 0.5f, 0.0f), 1.0f); }
static double r_linear(double x) { return x; }
static double r_relu(double x) { return x > 0 ? x : 0; }

typedef struct ref_spec {
    int kind; /* 0 SimpleRNN, 1 LSTM, 2 GRU */
    bool reset_after, go_backwards, return_sequences, zero_output;
    ref_act act, rec_act;
} ref_spec;

/* x (B, T, in); W (in, G u); U (u, G u); bias (G u) or (2, G u) or NULL;
 * h0, c0 (B, u) or NULL (zeros); mask (B, T) or NULL. y: (B, T, u) or
 * (B, u); hT, cT: (B, u). */
static void ref_run(const ref_spec *sp, int B, int T, int in, int u, const float *x, const float *W, const float *U,
                    const float *bias, const float *h0, const float *c0, const float *mask, float *y, float *hT,
                    float *cT)
{
    int G = sp->kind == 1 ? 4 : sp->kind == 2 ? 3 : 1, gu = G * u;
    double *h = calloc((size_t)u, sizeof(double)), *c = calloc((size_t)u, sizeof(double));
    double *out = calloc((size_t)u, sizeof(double)), *mx = calloc((size_t)gu, sizeof(double));
    double *mh = calloc((size_t)gu, sizeof(double)), *hn = calloc((size_t)u, sizeof(double)), *cn = calloc((size_t)u, sizeof(double));
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < u; j++) {
            h[j] = h0 ? h0[b * u + j] : 0;
            c[j] = c0 ? c0[b * u + j] : 0;
            out[j] = 0;
        }
        for (int s = 0; s < T; s++) {
            int t = sp->go_backwards ? T - 1 - s : s;
            bool on = !mask || mask[b * T + t] != 0;
            /* matrix_x = x W + b_in; matrix_inner = h U (+ b_rec for GRU reset_after) */
            for (int k = 0; k < gu; k++) {
                double ax = bias ? bias[k] : 0, ah = sp->kind == 2 && sp->reset_after && bias ? bias[gu + k] : 0;
                for (int i = 0; i < in; i++) ax += (double)x[(b * T + t) * in + i] * W[i * gu + k];
                for (int i = 0; i < u; i++) ah += h[i] * U[i * gu + k];
                mx[k] = ax;
                mh[k] = ah;
            }
            for (int j = 0; j < u; j++) {
                if (sp->kind == 0) {
                    hn[j] = sp->act(mx[j] + mh[j]);
                } else if (sp->kind == 1) {
                    double ig = sp->rec_act(mx[j] + mh[j]), fg = sp->rec_act(mx[u + j] + mh[u + j]);
                    double cc = fg * c[j] + ig * sp->act(mx[2 * u + j] + mh[2 * u + j]);
                    double og = sp->rec_act(mx[3 * u + j] + mh[3 * u + j]);
                    cn[j] = cc;
                    hn[j] = og * sp->act(cc);
                } else {
                    double z = sp->rec_act(mx[j] + mh[j]), r = sp->rec_act(mx[u + j] + mh[u + j]), hh;
                    if (sp->reset_after) {
                        hh = sp->act(mx[2 * u + j] + r * mh[2 * u + j]);
                    } else {
                        double rh = 0; /* (r * h) @ U_h */
                        for (int i = 0; i < u; i++) {
                            double ri = sp->rec_act(mx[u + i] + mh[u + i]);
                            rh += ri * h[i] * U[i * gu + 2 * u + j];
                        }
                        hh = sp->act(mx[2 * u + j] + rh);
                    }
                    hn[j] = z * h[j] + (1 - z) * hh;
                }
            }
            for (int j = 0; j < u; j++) {
                if (on) {
                    h[j] = hn[j];
                    if (sp->kind == 1) c[j] = cn[j];
                }
                out[j] = on ? hn[j] : sp->zero_output ? 0 : out[j];
                if (sp->return_sequences) y[(b * T + s) * u + j] = (float)out[j];
            }
        }
        for (int j = 0; j < u; j++) {
            if (!sp->return_sequences) y[b * u + j] = (float)out[j];
            if (hT) hT[b * u + j] = (float)h[j];
            if (cT) cT[b * u + j] = (float)c[j];
        }
    }
    free(h), free(c), free(out), free(mx), free(mh), free(hn), free(cn);
}

/* Run `layer` on x (and states) and compare with ref_run on its weights. */
static void check_against_ref(kc_object *layer, const ref_spec *sp, kc_tensor *x, kc_tensor *const *states, int ns,
                              kc_tensor *mask, const char *what)
{
    int B = (int)kc_tensor_dim(x, 0), T = (int)kc_tensor_dim(x, 1), in = (int)kc_tensor_dim(x, 2);
    kc_tensor *ins[3] = {x, ns > 0 ? states[0] : NULL, ns > 1 ? states[1] : NULL};
    kc_tensor *masks[3] = {mask, NULL, NULL};
    kc_tensor *out[4] = {0};
    int n = 0;
    CK_OK(kc_layer_call(layer, ins, 1 + ns, mask ? masks : NULL, false, out, NULL, &n, &err));
    int u = (int)kc_tensor_dim(out[0], kc_tensor_ndim(out[0]) - 1);
    float *y = calloc((size_t)kc_tensor_size(out[0]), sizeof(float)), *hT = calloc((size_t)(B * u), sizeof(float));
    float *cT = calloc((size_t)(B * u), sizeof(float));
    const kc_tensor *bias = kc_layer_num_weights(layer) > 2 ? kc_variable_value(kc_layer_weight(layer, 2)) : NULL;
    ref_run(sp, B, T, in, u, kc_tensor_cdata(x), kc_tensor_cdata(kc_variable_value(kc_layer_weight(layer, 0))),
            kc_tensor_cdata(kc_variable_value(kc_layer_weight(layer, 1))), bias ? kc_tensor_cdata(bias) : NULL,
            ns > 0 ? kc_tensor_cdata(states[0]) : NULL, ns > 1 ? kc_tensor_cdata(states[1]) : NULL,
            mask ? kc_tensor_cdata(mask) : NULL, y, hT, cT);
    char label[200];
    snprintf(label, sizeof(label), "%s: output", what);
    tu_assert_close(out[0], kc_tensor_ndim(out[0]), kc_tensor_dims(out[0]), y, 1e-5, 1e-6, label);
    if (n > 1) {
        snprintf(label, sizeof(label), "%s: final h", what);
        tu_assert_close(out[1], 2, D(B, u), hT, 1e-5, 1e-6, label);
    }
    if (n > 2) {
        snprintf(label, sizeof(label), "%s: final c", what);
        tu_assert_close(out[2], 2, D(B, u), cT, 1e-5, 1e-6, label);
    }
    for (int i = 0; i < n; i++) kc_tensor_unref(out[i]);
    free(y), free(hT), free(cT);
}

/* A layer whose weights are random in [-0.7, 0.7). */
static kc_object *random_layer(const char *cls, const char *cfg, kc_tensor *x, uint64_t seed)
{
    kc_object *l = kc_layer_create(cls, cfg, &err);
    CK_NN(l, err);
    kc_shape s = kc_tensor_shape(x);
    CK_OK(kc_layer_build(l, &s, 1, &err));
    for (int i = 0; i < kc_layer_num_weights(l); i++) {
        kc_tensor *v = kc_variable_value(kc_layer_weight(l, i));
        kc_tensor *r = tu_random(kc_tensor_ndim(v), kc_tensor_dims(v), -0.7f, 0.7f, seed + (uint64_t)i);
        CK_OK(kc_variable_assign(kc_layer_weight(l, i), r, &err));
        kc_tensor_unref(r);
    }
    return l;
}

/* Masks: sample 1 loses its last two steps, sample 2 its first and third. */
static kc_tensor *test_mask(int B, int T)
{
    kc_tensor *m = kc_tensor_ones(KC_FLOAT32, 2, D(B, T), &err);
    float *p = kc_tensor_f32(m);
    if (B > 1) p[1 * T + T - 1] = p[1 * T + T - 2] = 0;
    if (B > 2) p[2 * T + 0] = p[2 * T + 2] = 0;
    return m;
}

START_TEST(gru_reset_after_matches_keras_equations)
{
    kc_tensor *x = tu_random(3, D(3, 5, 4), -1, 1, 21);
    kc_tensor *h0 = tu_random(2, D(3, 3), -1, 1, 22), *mask = test_mask(3, 5);
    static const struct {
        const char *cfg;
        bool back, seq;
    } cases[] = {
        {"{\"units\": 3, \"return_sequences\": true, \"return_state\": true}", false, true},
        {"{\"units\": 3, \"go_backwards\": true, \"return_state\": true, \"activation\": \"relu\"}", true, false},
        {"{\"units\": 3, \"return_sequences\": true, \"go_backwards\": true, \"recurrent_activation\": \"hard_sigmoid\"}", true, true},
        {"{\"units\": 3, \"use_bias\": false, \"return_state\": true}", false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_object *gru = random_layer("GRU", cases[i].cfg, x, 30 + i);
        ck_assert_int_eq(kc_layer_num_weights(gru), i == 3 ? 2 : 3);
        if (i != 3) ck_assert_int_eq(kc_tensor_ndim(kc_variable_value(kc_layer_weight(gru, 2))), 2); /* (2, 3u) */
        ref_spec sp = {.kind = 2, .reset_after = true, .go_backwards = cases[i].back, .return_sequences = cases[i].seq,
                       .act = i == 1 ? r_relu : r_tanh, .rec_act = i == 2 ? r_hard_sigmoid : r_sigmoid};
        char what[64];
        snprintf(what, sizeof(what), "GRU reset_after case %zu", i);
        check_against_ref(gru, &sp, x, NULL, 0, NULL, what);
        check_against_ref(gru, &sp, x, &h0, 1, NULL, what);
        check_against_ref(gru, &sp, x, &h0, 1, mask, what);
        kc_object_unref(gru);
    }
    kc_tensor_unref(x), kc_tensor_unref(h0), kc_tensor_unref(mask);
}
END_TEST

START_TEST(lstm_gru_simple_rnn_match_keras_equations_with_masks)
{
    kc_tensor *x = tu_random(3, D(3, 6, 2), -1, 1, 41), *mask = test_mask(3, 6);
    kc_tensor *s0[2] = {tu_random(2, D(3, 4), -1, 1, 42), tu_random(2, D(3, 4), -1, 1, 43)};
    static const struct {
        const char *cls, *cfg;
        int kind, ns;
        bool back, seq, zero;
    } cases[] = {
        {"LSTM", "{\"units\": 4, \"return_sequences\": true, \"return_state\": true}", 1, 2, false, true, false},
        {"LSTM", "{\"units\": 4, \"go_backwards\": true, \"return_state\": true, \"zero_output_for_mask\": true}", 1, 2, true, false, true},
        {"LSTM", "{\"units\": 4, \"return_sequences\": true, \"zero_output_for_mask\": true, \"go_backwards\": true}", 1, 2, true, true, true},
        {"GRU", "{\"units\": 4, \"reset_after\": false, \"return_sequences\": true, \"return_state\": true}", 2, 1, false, true, false},
        {"GRU", "{\"units\": 4, \"reset_after\": false, \"go_backwards\": true}", 2, 1, true, false, false},
        {"SimpleRNN", "{\"units\": 4, \"return_sequences\": true, \"return_state\": true}", 0, 1, false, true, false},
        {"SimpleRNN", "{\"units\": 4, \"go_backwards\": true, \"return_sequences\": true, \"zero_output_for_mask\": true}", 0, 1, true, true, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_object *l = random_layer(cases[i].cls, cases[i].cfg, x, 50 + 10 * i);
        ref_spec sp = {.kind = cases[i].kind, .go_backwards = cases[i].back, .return_sequences = cases[i].seq,
                       .zero_output = cases[i].zero, .act = r_tanh, .rec_act = r_sigmoid};
        char what[96];
        snprintf(what, sizeof(what), "%s case %zu", cases[i].cls, i);
        check_against_ref(l, &sp, x, NULL, 0, mask, what);
        check_against_ref(l, &sp, x, s0, cases[i].ns, mask, what);
        kc_object_unref(l);
    }
    kc_tensor_unref(x), kc_tensor_unref(mask), kc_tensor_unref(s0[0]), kc_tensor_unref(s0[1]);
}
END_TEST
/* ---- real Keras files ------------------------------------------------------------------------- */

START_TEST(real_keras_files_match_their_goldens)
{
    /* the golden check tolerances of the task: rtol 1e-4, atol 1e-5 */
    static const char *const stems[] = {"keras/func_bidir_lstm_multiio_k2.2.5", "keras/func_dense_lstm_k2.2.4_adam",
                                        "keras/seq_embedding_lstm_k2.1.3_theano", "keras/seq_masking_lstm_k2.2.0",
                                        "keras/func_gru_dense_dropout_k2.1.3_optw", "keras/seq_simplernn_flatten_k2.1.3_optw",
                                        "keras/func_multiio_conv1d_lstm_concat_k2.2.4_customloss"};
    /* the last one's training_config names a custom loss: load without compiling */
    kc_load_options o = {.no_compile = true};
    for (size_t i = 0; i < sizeof(stems) / sizeof(stems[0]); i++) kc_object_unref(check_h5(stems[i], 1e-4, 1e-5, &o));
}
END_TEST

/* GRU(1, reset_after=True, linear, stateful, no bias) of tf.keras 2.2.4,
 * with its initial state as a second input: no TensorFlow.js golden
 * exists, so Keras' equations decide. */
START_TEST(gru_stateful_file_matches_keras_equations)
{
    kc_object *m = kc_model_load(tu_data("keras/func_gru_stateful_k2.2.4-tf.h5"), NULL, &err);
    CK_NN(m, err);
    kc_object *gru = kc_model_get_layer(m, "gru_1");
    CK_NN(gru, err);
    ck_assert_int_eq(kc_layer_num_weights(gru), 2);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(gru, 0)), "gru_1/gru_cell/kernel:0"); /* tf.keras 2 names */
    const float *W = kc_tensor_cdata(kc_variable_value(kc_layer_weight(gru, 0)));
    const float *U = kc_tensor_cdata(kc_variable_value(kc_layer_weight(gru, 1)));
    ref_spec sp = {.kind = 2, .reset_after = true, .return_sequences = true, .act = r_linear, .rec_act = r_sigmoid};
    static const float xs[3][3] = {{0.5f, -1.0f, 0.25f}, {1.5f, 0.0f, -0.75f}, {-0.3f, 0.9f, 0.2f}};
    kc_tensor *state = TU_T2(1, 1, 0.8f);
    float h[1] = {0.8f}, y[3];
    for (int call = 0; call < 3; call++) {
        if (call == 2) { /* reset: the given initial state counts again */
            CK_OK(kc_rnn_reset_states(m, NULL, 0, &err));
            h[0] = 0.8f;
        }
        kc_tensor *x = tu_tensor(3, D(1, 3, 1), xs[call]), *ins[2] = {x, state}, *out[1];
        int n = 0;
        CK_OK(kc_model_predict(m, ins, 2, 1, out, &n, &err));
        float hT[1];
        ref_run(&sp, 1, 3, 1, 1, xs[call], W, U, NULL, h, NULL, NULL, y, hT, NULL);
        tu_assert_close(out[0], 3, D(1, 3, 1), y, 1e-5, 1e-6, "stateful GRU(reset_after) file");
        /* a stateful layer keeps its states: the given initial state only
         * counts while they are zeros (Keras) */
        h[0] = hT[0];
        kc_tensor_unref(out[0]);
        kc_tensor_unref(x);
    }
    kc_tensor *st[1];
    CK_OK(kc_rnn_get_states(gru, st, &err));
    tu_assert_close(st[0], 2, D(1, 1), h, 1e-5, 1e-6, "carried state");
    kc_tensor_unref(st[0]);
    kc_tensor_unref(state);
    kc_object_unref(m);
}
END_TEST

/* Read one dataset of an .h5 file (float32). */
static float *read_h5(const char *file, const char *path, int64_t n)
{
    hid_t f = H5Fopen(tu_data(file), H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "%s: no dataset %s", file, path);
    float *buf = malloc(sizeof(float) * (size_t)n);
    ck_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
    H5Fclose(f);
    return buf;
}

/* Keras 1.2.2 LSTM: 12 per-gate arrays re-packed into kernel,
 * recurrent_kernel and bias with gates i f c o (the file's order is
 * i c f o), as Keras 2 loads them; the loaded model then computes Keras'
 * LSTM (hard_sigmoid gates) with the file's arrays. */
START_TEST(keras1_lstm_weights_are_repacked)
{
    const char *file = "keras/seq_lstm_dense_k1.2.2_optw.h5";
    kc_object *m = kc_model_load(tu_data(file), NULL, &err);
    CK_NN(m, err);
    kc_object *lstm = kc_model_get_layer(m, "lstm_1");
    CK_NN(lstm, err);
    ck_assert_int_eq(kc_layer_num_weights(lstm), 3);
    const int u = 50;
    static const char *const gates[4] = {"i", "f", "c", "o"};
    const float *K = kc_tensor_cdata(kc_variable_value(kc_layer_weight(lstm, 0)));
    const float *R = kc_tensor_cdata(kc_variable_value(kc_layer_weight(lstm, 1)));
    const float *Bv = kc_tensor_cdata(kc_variable_value(kc_layer_weight(lstm, 2)));
    for (int g = 0; g < 4; g++) {
        char path[128];
        snprintf(path, sizeof(path), "/model_weights/lstm_1/lstm_1_W_%s:0", gates[g]);
        float *w = read_h5(file, path, u);
        snprintf(path, sizeof(path), "/model_weights/lstm_1/lstm_1_U_%s:0", gates[g]);
        float *r = read_h5(file, path, u * u);
        snprintf(path, sizeof(path), "/model_weights/lstm_1/lstm_1_b_%s:0", gates[g]);
        float *b = read_h5(file, path, u);
        for (int j = 0; j < u; j++) {
            ck_assert_msg(K[g * u + j] == w[j], "kernel gate %s", gates[g]);
            ck_assert_msg(Bv[g * u + j] == b[j], "bias gate %s", gates[g]);
            for (int i = 0; i < u; i++) ck_assert_msg(R[i * 4 * u + g * u + j] == r[i * u + j], "recurrent gate %s", gates[g]);
        }
        free(w), free(r), free(b);
    }
    /* the model: LSTM(50, hard_sigmoid) -> Dense(1) on (batch, 1, 1) */
    kc_tensor *x = TU_T2(3, 1, 0.5f, -0.25f, 1.0f), *x3 = kc_reshape(x, 3, D(3, 1, 1), &err), *out[1];
    int n = 0;
    CK_OK(kc_model_predict(m, &x3, 1, 8, out, &n, &err));
    ref_spec sp = {.kind = 1, .act = r_tanh, .rec_act = r_hard_sigmoid};
    float hT[150], yl[150];
    ref_run(&sp, 3, 1, 1, u, kc_tensor_cdata(x3), K, R, Bv, NULL, NULL, NULL, yl, hT, NULL);
    kc_object *dense = kc_model_get_layer(m, "dense_1");
    const float *dk = kc_tensor_cdata(kc_variable_value(kc_layer_weight(dense, 0)));
    float db = kc_tensor_f32(kc_variable_value(kc_layer_weight(dense, 1)))[0], want[3];
    for (int b = 0; b < 3; b++) {
        double acc = db;
        for (int j = 0; j < u; j++) acc += (double)yl[b * u + j] * dk[j];
        want[b] = (float)acc;
    }
    tu_assert_close(out[0], 2, D(3, 1), want, 1e-5, 1e-6, "Keras 1 LSTM model");
    kc_tensor_unref(out[0]), kc_tensor_unref(x3), kc_tensor_unref(x);
    kc_object_unref(m);
}
END_TEST

/* ---- activations --------------------------------------------------------------------------------- */

/* SimpleRNN(1) with kernel 1, recurrent kernel 0 and no bias outputs
 * act(x): the recurrent kernel's activations against libm in double. */
START_TEST(fused_activations_match_libm)
{
    static const struct {
        const char *name;
        double (*f)(double);
    } acts[] = {
        {"tanh", r_tanh}, {"sigmoid", r_sigmoid}, {"hard_sigmoid", r_hard_sigmoid}, {"linear", r_linear}, {"relu", r_relu},
    };
    enum { N = 4001 };
    kc_tensor *x = kc_tensor_empty(KC_FLOAT32, 3, D(N, 1, 1), &err);
    for (int i = 0; i < N; i++) kc_tensor_f32(x)[i] = (float)(i - N / 2) * 0.01f; /* -20 .. 20 */
    kc_tensor_f32(x)[0] = -100.0f;
    kc_tensor_f32(x)[N - 1] = 100.0f;
    for (size_t a = 0; a < sizeof(acts) / sizeof(acts[0]); a++) {
        char cfg[160];
        snprintf(cfg, sizeof(cfg), "{\"units\": 1, \"use_bias\": false, \"activation\": \"%s\"}", acts[a].name);
        kc_object *l = kc_layer_create("SimpleRNN", cfg, &err);
        CK_NN(l, err);
        kc_shape s = kc_tensor_shape(x);
        CK_OK(kc_layer_build(l, &s, 1, &err));
        kc_tensor *one = TU_T2(1, 1, 1.0f), *zero = TU_T2(1, 1, 0.0f);
        CK_OK(kc_variable_assign(kc_layer_weight(l, 0), one, &err));
        CK_OK(kc_variable_assign(kc_layer_weight(l, 1), zero, &err));
        kc_tensor *y = kc_layer_call1(l, x, false, &err);
        CK_NN(y, err);
        for (int i = 0; i < N; i++) {
            double xi = kc_tensor_f32(x)[i], want = acts[a].f(xi), got = kc_tensor_f32(y)[i];
            ck_assert_msg(fabs(got - want) <= 2e-7 * fabs(want) + 1e-30 + (fabs(want) < 1e-37 ? 1e-37 : 0),
                          "%s(%g) = %.9g, libm %.9g", acts[a].name, xi, got, want);
        }
        kc_tensor_unref(y), kc_tensor_unref(one), kc_tensor_unref(zero);
        kc_object_unref(l);
    }
    /* NaN propagates through the vector code */
    kc_object *l = kc_layer_create("LSTM", "{\"units\": 2}", &err);
    kc_tensor *xn = TU_T1(1, 0.0f), *x3 = kc_reshape(xn, 3, D(1, 1, 1), &err);
    kc_tensor_f32(x3)[0] = NAN;
    kc_tensor *y = kc_layer_call1(l, x3, false, &err);
    CK_NN(y, err);
    ck_assert(isnan(kc_tensor_f32(y)[0]) && isnan(kc_tensor_f32(y)[1]));
    kc_tensor_unref(y), kc_tensor_unref(x3), kc_tensor_unref(xn), kc_tensor_unref(x);
    kc_object_unref(l);
}
END_TEST

START_TEST(unsupported_activation_is_a_named_error)
{
    kc_object *l = kc_layer_create("LSTM", "{\"units\": 2, \"recurrent_activation\": \"swish\"}", &err);
    ck_assert(l == NULL);
    CK_ERR(err, KC_EUNSUPPORTED, "recurrent_activation");
    CK_ERR(err, KC_EUNSUPPORTED, "swish");
}
END_TEST

/* ---- gradients ------------------------------------------------------------------------------------ */

typedef struct grad_case {
    kc_object *layer;
    int n_states;        /* initial states among the inputs */
    kc_tensor *mask;     /* or NULL */
    bool training;
    uint64_t seed;       /* re-seeded before each call: the same dropout masks */
    bool concat_states;  /* return [output, states...] flattened and joined */
} grad_case;

static kc_tensor *layer_fn(kc_tensor *const *in, const void *ctx, kc_error *e)
{
    const grad_case *g = ctx;
    kc_tensor *ins[3] = {in[0], in[1], in[2]}, *masks[3] = {g->mask, NULL, NULL}, *out[4] = {0};
    int n = 0;
    if (g->seed) kc_set_random_seed(g->seed);
    if (kc_layer_call(g->layer, ins, 1 + g->n_states, g->mask ? masks : NULL, g->training, out, NULL, &n, e) != KC_OK)
        return NULL;
    if (!g->concat_states || n == 1) {
        for (int i = 1; i < n; i++) kc_tensor_unref(out[i]);
        return out[0];
    }
    kc_tensor *flat[4];
    for (int i = 0; i < n; i++) {
        flat[i] = kc_reshape(out[i], 1, D(-1), e);
        kc_tensor_unref(out[i]);
    }
    kc_tensor *y = kc_concat(flat, n, 0, e);
    for (int i = 0; i < n; i++) kc_tensor_unref(flat[i]);
    return y;
}

/* d output / d (x, states, kernel, recurrent kernel, bias) */
static void grad_check_layer_eps(const char *what, const char *cls, const char *cfg, int n_states, bool masked,
                                 bool training, bool concat, double eps)
{
    kc_tensor *x = tu_random(3, D(3, 4, 3), -1, 1, 71);
    kc_object *l = random_layer(cls, cfg, x, 72);
    kc_tensor *mask = masked ? test_mask(3, 4) : NULL;
    int64_t u = kc_tensor_dim(kc_variable_value(kc_layer_weight(l, 1)), 0);
    kc_tensor *in[8] = {x};
    int n = 1;
    for (int i = 0; i < n_states; i++) in[n++] = tu_random(2, D(3, u), -1, 1, 80 + (uint64_t)i);
    for (int i = 0; i < kc_layer_num_weights(l); i++) in[n++] = kc_variable_value(kc_layer_weight(l, i));
    grad_case g = {l, n_states, mask, training, training ? 5 : 0, concat};
    tu_grad_check(what, layer_fn, &g, in, n, eps, 3e-2, 3e-3);
    for (int i = 1; i <= n_states; i++) kc_tensor_unref(in[i]);
    kc_tensor_unref(x), kc_tensor_unref(mask);
    kc_object_unref(l);
}

static void grad_check_layer(const char *what, const char *cls, const char *cfg, int n_states, bool masked,
                             bool training, bool concat)
{
    grad_check_layer_eps(what, cls, cfg, n_states, masked, training, concat, 1e-2);
}

START_TEST(gradients_match_finite_differences)
{
    grad_check_layer("SimpleRNN", "SimpleRNN", "{\"units\": 3, \"return_sequences\": true}", 1, false, false, false);
    grad_check_layer("SimpleRNN masked, backwards, states", "SimpleRNN",
                     "{\"units\": 3, \"go_backwards\": true, \"return_state\": true}", 1, true, false, true);
    grad_check_layer("LSTM", "LSTM", "{\"units\": 3, \"return_sequences\": true, \"return_state\": true}", 2, false, false, true);
    grad_check_layer("LSTM masked", "LSTM", "{\"units\": 3, \"return_sequences\": true}", 2, true, false, false);
    grad_check_layer("LSTM masked, last output, zeros", "LSTM",
                     "{\"units\": 3, \"zero_output_for_mask\": true, \"return_state\": true}", 2, true, false, true);
    grad_check_layer("LSTM backwards", "LSTM", "{\"units\": 3, \"go_backwards\": true, \"return_state\": true}", 2, true,
                     false, true);
    grad_check_layer("GRU reset_after", "GRU", "{\"units\": 3, \"return_sequences\": true, \"return_state\": true}", 1,
                     false, false, true);
    grad_check_layer("GRU reset_after masked backwards", "GRU", "{\"units\": 3, \"go_backwards\": true}", 1, true, false,
                     false);
    grad_check_layer("GRU reset_before", "GRU",
                     "{\"units\": 3, \"reset_after\": false, \"return_sequences\": true, \"return_state\": true}", 1, true,
                     false, true);
    grad_check_layer("GRU no bias", "GRU", "{\"units\": 3, \"use_bias\": false}", 1, false, false, false);
    /* dropout masks (seeded, so every evaluation uses the same ones) */
    grad_check_layer("LSTM dropout", "LSTM",
                     "{\"units\": 3, \"dropout\": 0.3, \"recurrent_dropout\": 0.4, \"return_sequences\": true}", 2, false,
                     true, false);
    grad_check_layer("GRU reset_before recurrent dropout", "GRU",
                     "{\"units\": 3, \"reset_after\": false, \"recurrent_dropout\": 0.4, \"return_state\": true}", 1, true,
                     true, true);
    grad_check_layer("GRU reset_after dropout", "GRU", "{\"units\": 3, \"dropout\": 0.2, \"recurrent_dropout\": 0.3}", 1,
                     false, true, false);
    grad_check_layer("SimpleRNN dropout", "SimpleRNN",
                     "{\"units\": 3, \"dropout\": 0.5, \"recurrent_dropout\": 0.5, \"activation\": \"softsign\"}", 1,
                     false, true, false);
    /* other activations of the fused kernel */
    grad_check_layer("SimpleRNN selu", "SimpleRNN", "{\"units\": 3, \"activation\": \"selu\", \"return_sequences\": true}",
                     0, false, false, false);
    grad_check_layer("SimpleRNN elu", "SimpleRNN", "{\"units\": 3, \"activation\": \"elu\"}", 0, false, false, false);
    /* exp compounds over the steps: a smaller step keeps the differences' error down */
    grad_check_layer_eps("SimpleRNN exponential", "SimpleRNN", "{\"units\": 3, \"activation\": \"exponential\"}", 0,
                         false, false, false, 2e-3);
    grad_check_layer("SimpleRNN softplus", "SimpleRNN", "{\"units\": 3, \"activation\": \"softplus\"}", 0, false, false, false);
}
END_TEST

START_TEST(wrapper_gradients_match_finite_differences)
{
    kc_tensor *x = tu_random(3, D(2, 4, 3), -1, 1, 91);
    static const char *const cfgs[] = {
        "{\"layer\": {\"class_name\": \"LSTM\", \"config\": {\"units\": 2, \"return_sequences\": true}}}",
        "{\"layer\": {\"class_name\": \"GRU\", \"config\": {\"units\": 2}}, \"merge_mode\": \"mul\"}",
        "{\"layer\": {\"class_name\": \"SimpleRNN\", \"config\": {\"units\": 2, \"return_sequences\": true}}, \"merge_mode\": \"ave\"}",
    };
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        kc_object *b = random_layer("Bidirectional", cfgs[i], x, 92 + i);
        kc_tensor *in[8] = {x};
        int n = 1;
        for (int w = 0; w < kc_layer_num_weights(b); w++) in[n++] = kc_variable_value(kc_layer_weight(b, w));
        grad_case g = {b, 0, NULL, false, 0, false};
        tu_grad_check(cfgs[i], layer_fn, &g, in, n, 1e-2, 3e-2, 3e-3);
        kc_object_unref(b);
    }
    kc_object *td = random_layer("TimeDistributed",
                                 "{\"layer\": {\"class_name\": \"Dense\", \"config\": {\"units\": 2, \"activation\": \"tanh\"}}}", x, 99);
    kc_tensor *in[3] = {x, kc_variable_value(kc_layer_weight(td, 0)), kc_variable_value(kc_layer_weight(td, 1))};
    grad_case g = {td, 0, NULL, false, 0, false};
    tu_grad_check("TimeDistributed(Dense)", layer_fn, &g, in, 3, 1e-2, 3e-2, 3e-3);
    kc_object_unref(td);
    kc_tensor_unref(x);
}
END_TEST

/* ---- masks ------------------------------------------------------------------------------------------ */

/* A sequence whose last steps are masked gives the same states and last
 * output as the sequence cut before them; with return_sequences the masked
 * steps repeat the last output (Keras), or are zeros with
 * zero_output_for_mask. */
START_TEST(masked_steps_carry_states_and_outputs)
{
    kc_tensor *x = tu_random(3, D(1, 5, 2), -1, 1, 101), *xc = kc_tensor_empty(KC_FLOAT32, 3, D(1, 3, 2), &err);
    memcpy(kc_tensor_f32(xc), kc_tensor_cdata(x), sizeof(float) * 6);
    kc_tensor *mask = TU_T2(1, 5, 1, 1, 1, 0, 0);
    kc_object *l = random_layer("LSTM", "{\"units\": 3, \"return_sequences\": true, \"return_state\": true}", x, 102);
    kc_tensor *ins[1] = {x}, *masks[1] = {mask}, *full[3], *cut[3], *om[3];
    int n = 0;
    CK_OK(kc_layer_call(l, ins, 1, masks, false, full, om, &n, &err));
    ck_assert_int_eq(n, 3);
    ck_assert(om[0] == mask && om[1] == NULL && om[2] == NULL); /* the sequence keeps the mask */
    kc_tensor_unref(om[0]);
    CK_OK(kc_layer_call(l, &xc, 1, NULL, false, cut, NULL, &n, &err));
    const float *yf = kc_tensor_cdata(full[0]), *yc = kc_tensor_cdata(cut[0]);
    for (int t = 0; t < 5; t++)
        for (int j = 0; j < 3; j++) ck_assert_float_eq_tol(yf[t * 3 + j], yc[(t < 3 ? t : 2) * 3 + j], 1e-6);
    tu_assert_tensors_close(full[1], cut[1], 1e-6, 1e-7, "h after masked steps");
    tu_assert_tensors_close(full[2], cut[2], 1e-6, 1e-7, "c after masked steps");
    for (int i = 0; i < 3; i++) kc_tensor_unref(full[i]), kc_tensor_unref(cut[i]);
    kc_object_unref(l);

    /* Bidirectional returning sequences: masked steps are zeros in both
     * directions (Keras forces zero_output_for_mask there) */
    kc_object *b = random_layer("Bidirectional",
                                "{\"layer\": {\"class_name\": \"GRU\", \"config\": {\"units\": 2, \"return_sequences\": true}}}", x, 103);
    kc_tensor *y[2];
    CK_OK(kc_layer_call(b, ins, 1, masks, false, y, om, &n, &err));
    ck_assert(om[0] == mask);
    kc_tensor_unref(om[0]);
    for (int t = 3; t < 5; t++)
        for (int j = 0; j < 4; j++) ck_assert_float_eq(kc_tensor_f32(y[0])[t * 4 + j], 0.0f);
    /* unmasked steps: the cut sequence, forwards and backwards */
    kc_tensor *yc2 = kc_layer_call1(b, xc, false, &err);
    CK_NN(yc2, err);
    for (int t = 0; t < 3; t++)
        for (int j = 0; j < 4; j++)
            ck_assert_float_eq_tol(kc_tensor_f32(y[0])[t * 4 + j], kc_tensor_f32(yc2)[t * 4 + j], 1e-6);
    kc_tensor_unref(yc2), kc_tensor_unref(y[0]);
    kc_object_unref(b);
    kc_tensor_unref(x), kc_tensor_unref(xc), kc_tensor_unref(mask);
}
END_TEST

/* ---- stateful layers ------------------------------------------------------------------------------ */

START_TEST(stateful_layers_carry_and_reset_states)
{
    kc_tensor *x1 = tu_random(3, D(2, 3, 2), -1, 1, 111), *x2 = tu_random(3, D(2, 3, 2), -1, 1, 112);
    kc_tensor *x12 = kc_concat((kc_tensor *[]){x1, x2}, 2, 1, &err);
    kc_object *l = random_layer("LSTM", "{\"units\": 3, \"stateful\": true}", x1, 113);
    kc_object *ref = random_layer("LSTM", "{\"units\": 3}", x1, 113); /* the same weights, not stateful */
    ck_assert_int_eq(kc_rnn_num_states(l), 2);
    /* two calls = one call on the joined sequence */
    kc_tensor *y1 = kc_layer_call1(l, x1, false, &err), *y2 = kc_layer_call1(l, x2, false, &err);
    kc_tensor *y12 = kc_layer_call1(ref, x12, false, &err);
    CK_NN(y2, err);
    tu_assert_tensors_close(y2, y12, 1e-5, 1e-6, "state carried to the next call");
    kc_tensor *st[2];
    CK_OK(kc_rnn_get_states(l, st, &err));
    ck_assert_int_eq(kc_tensor_dim(st[1], 1), 3);
    /* reset: zeros again */
    CK_OK(kc_rnn_reset_states(l, NULL, 0, &err));
    kc_tensor *y1b = kc_layer_call1(l, x1, false, &err);
    tu_assert_tensors_close(y1b, y1, 0, 0, "after reset_states");
    /* reset to given values: they are the next initial states */
    CK_OK(kc_rnn_reset_states(l, st, 2, &err));
    kc_tensor *y2b = kc_layer_call1(l, x2, false, &err);
    kc_tensor *ins[3] = {x2, st[0], st[1]}, *y2c[1];
    int n = 0;
    CK_OK(kc_layer_call(ref, ins, 3, NULL, false, y2c, NULL, &n, &err));
    tu_assert_tensors_close(y2b, y2c[0], 1e-6, 1e-7, "reset_states(values)");
    /* a batch of another size needs a reset first */
    kc_tensor *x3 = tu_random(3, D(1, 3, 2), -1, 1, 114);
    ck_assert(kc_layer_call1(l, x3, false, &err) == NULL);
    CK_ERR(err, KC_ESHAPE, "reset its states");
    kc_error_clear(&err);
    CK_OK(kc_rnn_reset_states(l, NULL, 0, &err));
    kc_tensor *y3 = kc_layer_call1(l, x3, false, &err);
    CK_NN(y3, err);
    /* errors */
    ck_assert(kc_rnn_reset_states(l, st, 1, &err) == KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "expects 2 states");
    kc_error_clear(&err);
    kc_tensor *bad = tu_random(2, D(1, 4), 0, 1, 1);
    kc_tensor *bads[2] = {bad, bad};
    ck_assert(kc_rnn_reset_states(l, bads, 2, &err) == KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "incompatible");
    kc_error_clear(&err);
    ck_assert(kc_rnn_reset_states(ref, NULL, 0, &err) == KC_ESTATE);
    CK_ERR(err, KC_ESTATE, "Layer must be stateful");
    kc_error_clear(&err);
    kc_tensor *none[2];
    ck_assert(kc_rnn_get_states(ref, none, &err) == KC_ESTATE);
    ck_assert(none[0] == NULL && none[1] == NULL);
    kc_error_clear(&err);
    kc_object *dense = kc_layer_create("Dense", "{\"units\": 2}", &err);
    ck_assert(kc_rnn_reset_states(dense, NULL, 0, &err) == KC_EINVAL);
    ck_assert_int_eq(kc_rnn_num_states(dense), 0);
    kc_error_clear(&err);
    /* a fresh stateful layer whose batch is unknown has no states to give */
    kc_object *fresh = kc_layer_create("GRU", "{\"units\": 2, \"stateful\": true}", &err);
    ck_assert(kc_rnn_get_states(fresh, none, &err) == KC_ESTATE);
    CK_ERR(err, KC_ESTATE, "batch size is unknown");
    kc_object_unref(fresh), kc_object_unref(dense);
    kc_tensor_unref(bad);
    kc_tensor *tensors[] = {x1, x2, x12, y1, y2, y12, st[0], st[1], y1b, y2b, y2c[0], x3, y3};
    for (size_t i = 0; i < sizeof(tensors) / sizeof(tensors[0]); i++) kc_tensor_unref(tensors[i]);
    kc_object_unref(l), kc_object_unref(ref);
}
END_TEST

START_TEST(bidirectional_states_and_model_reset)
{
    kc_tensor *x = tu_random(3, D(2, 3, 2), -1, 1, 121);
    kc_object *b = random_layer("Bidirectional",
                                "{\"layer\": {\"class_name\": \"GRU\", \"config\": {\"units\": 2, \"stateful\": true, \"reset_after\": false}}}",
                                x, 122);
    ck_assert_int_eq(kc_rnn_num_states(b), 2);
    kc_tensor *y1 = kc_layer_call1(b, x, false, &err), *st[2];
    CK_OK(kc_rnn_get_states(b, st, &err));
    kc_tensor *y2 = kc_layer_call1(b, x, false, &err);
    CK_NN(y2, err);
    /* the second call starts from the first call's states */
    int differ = 0;
    for (int i = 0; i < kc_tensor_size(y1); i++) differ += kc_tensor_f32(y1)[i] != kc_tensor_f32(y2)[i];
    ck_assert_int_gt(differ, 0);
    /* a model resets every stateful layer */
    kc_object *m = kc_sequential_new("m", &err);
    CK_OK(kc_sequential_add(m, b, &err));
    CK_OK(kc_rnn_reset_states(m, NULL, 0, &err));
    ck_assert(kc_rnn_reset_states(m, st, 2, &err) == KC_EINVAL);
    kc_error_clear(&err);
    kc_tensor *y3 = kc_layer_call1(b, x, false, &err);
    tu_assert_tensors_close(y3, y1, 0, 0, "Bidirectional after the model's reset");
    CK_OK(kc_rnn_reset_states(b, st, 2, &err));
    kc_tensor *y4 = kc_layer_call1(b, x, false, &err);
    tu_assert_tensors_close(y4, y2, 1e-6, 0, "Bidirectional reset to given states");
    kc_tensor *tensors[] = {x, y1, y2, y3, y4, st[0], st[1]};
    for (size_t i = 0; i < sizeof(tensors) / sizeof(tensors[0]); i++) kc_tensor_unref(tensors[i]);
    kc_object_unref(m), kc_object_unref(b);
}
END_TEST

/* ---- dropout ---------------------------------------------------------------------------------------- */

/* SimpleRNN(3, linear) with kernel I, recurrent kernel 0, no bias outputs
 * x * mask: each value is 0 or x / (1 - rate), and the mask is the same at
 * every step (Keras draws one per call). */
START_TEST(dropout_masks_are_per_call_and_seeded)
{
    kc_object *l = kc_layer_create("SimpleRNN", "{\"units\": 3, \"activation\": \"linear\", \"use_bias\": false, "
                                                "\"dropout\": 0.5, \"return_sequences\": true}", &err);
    kc_tensor *x = kc_tensor_ones(KC_FLOAT32, 3, D(8, 4, 3), &err);
    kc_shape s = kc_tensor_shape(x);
    CK_OK(kc_layer_build(l, &s, 1, &err));
    kc_tensor *eye = TU_T2(3, 3, 1, 0, 0, 0, 1, 0, 0, 0, 1), *zero = kc_tensor_zeros(KC_FLOAT32, 2, D(3, 3), &err);
    CK_OK(kc_variable_assign(kc_layer_weight(l, 0), eye, &err));
    CK_OK(kc_variable_assign(kc_layer_weight(l, 1), zero, &err));
    kc_set_random_seed(7);
    kc_tensor *y = kc_layer_call1(l, x, true, &err);
    CK_NN(y, err);
    int zeros = 0;
    for (int b = 0; b < 8; b++)
        for (int t = 0; t < 4; t++)
            for (int j = 0; j < 3; j++) {
                float v = kc_tensor_f32(y)[(b * 4 + t) * 3 + j];
                ck_assert_msg(v == 0.0f || v == 2.0f, "dropout value %g", v);
                ck_assert(v == kc_tensor_f32(y)[(b * 4) * 3 + j]); /* one mask per call */
                zeros += t == 0 && v == 0.0f;
            }
    ck_assert(zeros > 0 && zeros < 24);
    /* seeded: the same seed, the same masks; inference: no dropout */
    kc_set_random_seed(7);
    kc_tensor *y2 = kc_layer_call1(l, x, true, &err), *yi = kc_layer_call1(l, x, false, &err);
    tu_assert_tensors_close(y2, y, 0, 0, "seeded dropout");
    tu_assert_tensors_close(yi, x, 0, 0, "inference");
    kc_tensor_unref(y), kc_tensor_unref(y2), kc_tensor_unref(yi), kc_tensor_unref(x);
    kc_object_unref(l);

    /* recurrent dropout: kernel 0, recurrent kernel I: h_t = h_{t-1} * mask */
    l = kc_layer_create("SimpleRNN", "{\"units\": 4, \"activation\": \"linear\", \"use_bias\": false, "
                                      "\"recurrent_dropout\": 0.25, \"return_sequences\": true, \"seed\": 3}", &err);
    CK_NN(l, err);
    x = kc_tensor_ones(KC_FLOAT32, 3, D(5, 3, 1), &err);
    s = kc_tensor_shape(x);
    CK_OK(kc_layer_build(l, &s, 1, &err));
    kc_tensor *eye4 = kc_tensor_zeros(KC_FLOAT32, 2, D(4, 4), &err), *zk = kc_tensor_zeros(KC_FLOAT32, 2, D(1, 4), &err);
    for (int i = 0; i < 4; i++) kc_tensor_f32(eye4)[i * 5] = 1.0f;
    CK_OK(kc_variable_assign(kc_layer_weight(l, 0), zk, &err));
    CK_OK(kc_variable_assign(kc_layer_weight(l, 1), eye4, &err));
    kc_tensor *h0 = kc_tensor_ones(KC_FLOAT32, 2, D(5, 4), &err), *ins[2] = {x, h0}, *out[1];
    int n = 0;
    CK_OK(kc_layer_call(l, ins, 2, NULL, true, out, NULL, &n, &err));
    const float keep = 1.0f / 0.75f;
    for (int b = 0; b < 5; b++)
        for (int j = 0; j < 4; j++) {
            float m = kc_tensor_f32(out[0])[(b * 3) * 4 + j];
            ck_assert(m == 0.0f || fabsf(m - keep) < 1e-6f);
            for (int t = 1; t < 3; t++) ck_assert_float_eq_tol(kc_tensor_f32(out[0])[(b * 3 + t) * 4 + j], powf(m, (float)t + 1), 1e-5);
        }
    kc_tensor_unref(out[0]), kc_tensor_unref(x), kc_tensor_unref(h0), kc_tensor_unref(eye4), kc_tensor_unref(zk);
    kc_tensor_unref(eye), kc_tensor_unref(zero);
    kc_object_unref(l);
}
END_TEST

/* ---- layout options -------------------------------------------------------------------------------- */

START_TEST(time_major_and_unroll_match_batch_major)
{
    kc_tensor *x = tu_random(3, D(2, 5, 3), -1, 1, 131);
    kc_tensor *xt = kc_transpose(x, (int[]){1, 0, 2}, &err);
    kc_object *a = random_layer("GRU", "{\"units\": 2, \"return_sequences\": true}", x, 132);
    kc_object *b = random_layer("GRU", "{\"units\": 2, \"return_sequences\": true, \"time_major\": true, \"unroll\": true}", xt, 132);
    kc_tensor *ya = kc_layer_call1(a, x, false, &err), *yb = kc_layer_call1(b, xt, false, &err);
    CK_NN(yb, err);
    kc_tensor *yat = kc_transpose(ya, (int[]){1, 0, 2}, &err);
    tu_assert_tensors_close(yb, yat, 1e-6, 1e-7, "time_major");
    kc_shape in = kc_shape_make(3, D(5, -1, 3)), out[3];
    int n = 0;
    CK_OK(kc_layer_compute_output_shape(b, &in, 1, out, &n, &err));
    ck_assert(n == 1 && out[0].dims[0] == 5 && out[0].dims[1] == -1 && out[0].dims[2] == 2);
    kc_tensor_unref(x), kc_tensor_unref(xt), kc_tensor_unref(ya), kc_tensor_unref(yb), kc_tensor_unref(yat);
    kc_object_unref(a), kc_object_unref(b);
}
END_TEST

/* ---- configs ---------------------------------------------------------------------------------------- */

/* tf.keras 2.15's LSTM(4).get_config(), keys in its order */
START_TEST(configs_follow_keras)
{
    kc_object *l = kc_layer_create("LSTM", "{\"units\": 4}", &err);
    CK_NN(l, err);
    json_t *cfg = NULL;
    CK_OK(kc_object_get_config(l, &cfg, &err));
    static const char *const keys[] = {
        "name", "trainable", "dtype", "return_sequences", "return_state", "go_backwards", "stateful", "unroll",
        "time_major", "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
        "recurrent_initializer", "bias_initializer", "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
        "bias_regularizer", "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
        "dropout", "recurrent_dropout", "implementation"};
    ck_assert_int_eq(json_object_size(cfg), sizeof(keys) / sizeof(keys[0]));
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(cfg, key, v) ck_assert_str_eq(key, keys[k++]);
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "recurrent_activation")), "sigmoid");
    ck_assert_int_eq(json_integer_value(json_object_get(cfg, "implementation")), 2);
    json_t *init = json_object_get(cfg, "recurrent_initializer");
    ck_assert_str_eq(json_string_value(json_object_get(init, "class_name")), "Orthogonal");
    json_decref(cfg);
    kc_object_unref(l);
    /* GRU: reset_after true by default (tf.keras 2); false for configs
     * written before the key existed (they carry "implementation") */
    static const struct {
        const char *cfg;
        bool after;
    } grus[] = {{"{\"units\": 2}", true}, {"{\"units\": 2, \"implementation\": 1}", false},
                {"{\"units\": 2, \"implementation\": 1, \"reset_after\": true}", true}};
    for (size_t i = 0; i < sizeof(grus) / sizeof(grus[0]); i++) {
        kc_object *g = kc_layer_create("GRU", grus[i].cfg, &err);
        CK_OK(kc_object_get_config(g, &cfg, &err));
        ck_assert_msg(json_is_true(json_object_get(cfg, "reset_after")) == grus[i].after, "%s", grus[i].cfg);
        json_decref(cfg);
        kc_object_unref(g);
    }
    /* Keras 2: recurrent_dropout makes implementation 1; rates are clipped */
    l = kc_layer_create("LSTM", "{\"units\": 2, \"recurrent_dropout\": 0.5, \"dropout\": 1.5}", &err);
    CK_OK(kc_object_get_config(l, &cfg, &err));
    ck_assert_int_eq(json_integer_value(json_object_get(cfg, "implementation")), 1);
    ck_assert(json_real_value(json_object_get(cfg, "dropout")) == 1.0);
    json_decref(cfg);
    kc_object_unref(l);
}
END_TEST

START_TEST(configs_round_trip)
{
    static const char *const cfgs[][2] = {
        {"SimpleRNN", "{\"units\": 3, \"activation\": \"relu\", \"return_sequences\": true, \"go_backwards\": true, "
                      "\"kernel_regularizer\": {\"class_name\": \"L2\", \"config\": {\"l2\": 0.01}}, \"dropout\": 0.25}"},
        {"LSTM", "{\"units\": 5, \"recurrent_activation\": \"hard_sigmoid\", \"unit_forget_bias\": false, "
                 "\"return_state\": true, \"stateful\": true, \"zero_output_for_mask\": true, \"implementation\": 1, "
                 "\"batch_input_shape\": [4, 7, 3]}"},
        {"GRU", "{\"units\": 2, \"reset_after\": false, \"use_bias\": false, \"time_major\": true, \"unroll\": true, \"seed\": 12}"},
        {"RNN", "{\"cell\": {\"class_name\": \"LSTMCell\", \"config\": {\"name\": \"my_cell\", \"units\": 3}}, "
                "\"return_sequences\": true}"},
        {"LSTMCell", "{\"units\": 3, \"activation\": \"softsign\"}"},
        {"GRUCell", "{\"units\": 3, \"recurrent_dropout\": 0.1}"},
        {"SimpleRNNCell", "{\"units\": 3}"},
        {"Bidirectional", "{\"layer\": {\"class_name\": \"GRU\", \"config\": {\"units\": 2, \"return_sequences\": true}}, "
                          "\"merge_mode\": null}"},
        {"Bidirectional", "{\"layer\": {\"class_name\": \"LSTM\", \"config\": {\"name\": \"f\", \"units\": 2}}, "
                          "\"merge_mode\": \"ave\", \"backward_layer\": {\"class_name\": \"LSTM\", \"config\": "
                          "{\"name\": \"b\", \"units\": 2, \"go_backwards\": true, \"activation\": \"relu\"}}}"},
        {"TimeDistributed", "{\"layer\": {\"class_name\": \"Dense\", \"config\": {\"units\": 4}}}"},
    };
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        kc_object *a = kc_layer_create(cfgs[i][0], cfgs[i][1], &err);
        ck_assert_msg(a != NULL, "%s: %s (%s)", cfgs[i][1], err.message, err.context);
        json_t *c1 = NULL, *c2 = NULL;
        CK_OK(kc_object_get_config(a, &c1, &err));
        kc_object *b = kc_object_from_config(kc_object_class(a), c1, NULL, &err);
        CK_NN(b, err);
        CK_OK(kc_object_get_config(b, &c2, &err));
        char *t1 = kc_json_dump(c1, &err), *t2 = kc_json_dump(c2, &err);
        ck_assert_msg(json_equal(c1, c2), "%s: config %s became %s", cfgs[i][0], t1, t2);
        kc_json_free(t1), kc_json_free(t2);
        json_decref(c1), json_decref(c2);
        kc_object_unref(a), kc_object_unref(b);
    }
}
END_TEST

/* ---- weights ----------------------------------------------------------------------------------------- */

static void expect_weights(kc_object *l, const char *const *names, const int64_t (*shapes)[3], int n)
{
    ck_assert_int_eq(kc_layer_num_weights(l), n);
    for (int i = 0; i < n; i++) {
        kc_variable *v = kc_layer_weight(l, i);
        ck_assert_str_eq(kc_variable_name(v), names[i]);
        kc_tensor *t = kc_variable_value(v);
        ck_assert_int_eq(kc_tensor_ndim(t), (int)shapes[i][0]);
        for (int d = 0; d < shapes[i][0]; d++) ck_assert_int_eq(kc_tensor_dim(t, d), shapes[i][1 + d]);
    }
}

START_TEST(weights_are_named_and_shaped_as_keras)
{
    kc_tensor *x = tu_random(3, D(2, 3, 5), -1, 1, 141);
    kc_object *lstm = random_layer("LSTM", "{\"units\": 4}", x, 1);
    expect_weights(lstm, (const char *[]){"lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0"},
                   (const int64_t[][3]){{2, 5, 16}, {2, 4, 16}, {1, 16}}, 3);
    kc_object *gru = random_layer("GRU", "{\"units\": 4}", x, 1), *gru0 = random_layer("GRU", "{\"units\": 4, \"reset_after\": false}", x, 1);
    expect_weights(gru, (const char *[]){"gru/gru_cell/kernel:0", "gru/gru_cell/recurrent_kernel:0", "gru/gru_cell/bias:0"},
                   (const int64_t[][3]){{2, 5, 12}, {2, 4, 12}, {2, 2, 12}}, 3);
    expect_weights(gru0, (const char *[]){"gru_1/gru_cell/kernel:0", "gru_1/gru_cell/recurrent_kernel:0", "gru_1/gru_cell/bias:0"},
                   (const int64_t[][3]){{2, 5, 12}, {2, 4, 12}, {1, 12}}, 3);
    kc_object *rnn = random_layer("RNN", "{\"cell\": {\"class_name\": \"SimpleRNNCell\", \"config\": {\"units\": 2}}}", x, 1);
    expect_weights(rnn, (const char *[]){"rnn/simple_rnn_cell/kernel:0", "rnn/simple_rnn_cell/recurrent_kernel:0", "rnn/simple_rnn_cell/bias:0"},
                   (const int64_t[][3]){{2, 5, 2}, {2, 2, 2}, {1, 2}}, 3);
    kc_object *bi = random_layer("Bidirectional", "{\"layer\": {\"class_name\": \"SimpleRNN\", \"config\": {\"units\": 2}}}", x, 1);
    expect_weights(bi, (const char *[]){"bidirectional/forward_simple_rnn/simple_rnn_cell/kernel:0",
                                        "bidirectional/forward_simple_rnn/simple_rnn_cell/recurrent_kernel:0",
                                        "bidirectional/forward_simple_rnn/simple_rnn_cell/bias:0",
                                        "bidirectional/backward_simple_rnn/simple_rnn_cell/kernel:0",
                                        "bidirectional/backward_simple_rnn/simple_rnn_cell/recurrent_kernel:0",
                                        "bidirectional/backward_simple_rnn/simple_rnn_cell/bias:0"},
                   (const int64_t[][3]){{2, 5, 2}, {2, 2, 2}, {1, 2}, {2, 5, 2}, {2, 2, 2}, {1, 2}}, 6);
    kc_object *td = random_layer("TimeDistributed", "{\"layer\": {\"class_name\": \"Dense\", \"config\": {\"units\": 3}}}", x, 1);
    expect_weights(td, (const char *[]){"time_distributed/kernel:0", "time_distributed/bias:0"},
                   (const int64_t[][3]){{2, 5, 3}, {1, 3}}, 2);
    /* LSTM's unit_forget_bias: the forget gate's bias starts at 1 */
    kc_object *fresh = kc_layer_create("LSTM", "{\"units\": 3}", &err);
    kc_shape s = kc_tensor_shape(x);
    CK_OK(kc_layer_build(fresh, &s, 1, &err));
    tu_assert_close(kc_variable_value(kc_layer_weight(fresh, 2)), 1, D(12), F(0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0), 0, 0,
                    "unit_forget_bias");
    /* freezing the wrapper freezes the wrapped layer's weights */
    kc_layer_set_trainable(bi, false);
    ck_assert_int_eq(kc_layer_num_trainable_weights(bi), 0);
    ck_assert(!kc_variable_trainable(kc_layer_weight(bi, 0)));
    kc_object *objs[] = {lstm, gru, gru0, rnn, bi, td, fresh};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) kc_object_unref(objs[i]);
    kc_tensor_unref(x);
}
END_TEST

/* A cell called alone is one step of its layer. */
START_TEST(cells_are_one_step_of_their_layer)
{
    kc_tensor *x = tu_random(2, D(3, 4), -1, 1, 151), *h = tu_random(2, D(3, 5), -1, 1, 152), *c = tu_random(2, D(3, 5), -1, 1, 153);
    kc_tensor *x3 = kc_reshape(x, 3, D(3, 1, 4), &err);
    static const char *const cells[] = {"LSTMCell", "GRUCell", "SimpleRNNCell"};
    static const char *const layers[] = {"LSTM", "GRU", "SimpleRNN"};
    for (int k = 0; k < 3; k++) {
        kc_object *cell = kc_layer_create(cells[k], "{\"units\": 5}", &err);
        CK_NN(cell, err);
        int ns = k == 0 ? 2 : 1;
        kc_tensor *ins[3] = {x, h, c}, *out[3];
        int n = 0;
        CK_OK(kc_layer_call(cell, ins, 1 + ns, NULL, false, out, NULL, &n, &err));
        ck_assert_int_eq(n, 1 + ns);
        ck_assert_str_eq(kc_variable_name(kc_layer_weight(cell, 0)), k == 0 ? "lstm_cell/kernel:0" : k == 1 ? "gru_cell/kernel:0" : "simple_rnn_cell/kernel:0");
        kc_object *l = kc_layer_create(layers[k], "{\"units\": 5, \"return_state\": true}", &err);
        kc_shape s = kc_tensor_shape(x3);
        CK_OK(kc_layer_build(l, &s, 1, &err));
        kc_tensor *w[3];
        CK_OK(kc_layer_get_weights(cell, w, &err));
        CK_OK(kc_layer_set_weights(l, w, 3, &err));
        kc_tensor *lins[3] = {x3, h, c}, *lout[3];
        int ln = 0;
        CK_OK(kc_layer_call(l, lins, 1 + ns, NULL, false, lout, NULL, &ln, &err));
        for (int i = 0; i < n; i++) {
            tu_assert_tensors_close(out[i], lout[i], 1e-6, 1e-7, cells[k]);
            kc_tensor_unref(out[i]), kc_tensor_unref(lout[i]);
        }
        for (int i = 0; i < 3; i++) kc_tensor_unref(w[i]);
        /* a cell needs its states */
        ck_assert(kc_layer_call(cell, ins, 1, NULL, false, out, NULL, &n, &err) == KC_EINVAL);
        kc_error_clear(&err);
        kc_object_unref(cell), kc_object_unref(l);
    }
    kc_tensor_unref(x), kc_tensor_unref(x3), kc_tensor_unref(h), kc_tensor_unref(c);
}
END_TEST

/* ---- errors ----------------------------------------------------------------------------------------- */

static void expect_config_error(const char *cls, const char *cfg, kc_status code, const char *needle)
{
    kc_error_clear(&err);
    kc_object *l = kc_layer_create(cls, cfg, &err);
    ck_assert_msg(l == NULL, "%s %s was accepted", cls, cfg);
    CK_ERR(err, code, needle);
}

START_TEST(bad_configs_and_inputs_are_named_errors)
{
    expect_config_error("LSTM", "{}", KC_EFORMAT, "units");
    expect_config_error("GRU", "{\"units\": 2, \"implementation\": 5}", KC_EFORMAT, "implementation");
    expect_config_error("RNN", "{}", KC_EFORMAT, "cell");
    expect_config_error("RNN", "{\"cell\": [{\"class_name\": \"LSTMCell\", \"config\": {\"units\": 2}}]}", KC_EUNSUPPORTED, "stacked");
    expect_config_error("RNN", "{\"cell\": {\"class_name\": \"Dense\", \"config\": {\"units\": 2}}}", KC_EUNSUPPORTED, "Dense");
    expect_config_error("RNN", "{\"cell\": {\"class_name\": \"LSTMCell\", \"config\": {\"units\": 2}}, \"num_constants\": 1}",
                        KC_EUNSUPPORTED, "num_constants");
    expect_config_error("Bidirectional", "{\"layer\": {\"class_name\": \"LSTM\", \"config\": {\"units\": 2}}, \"merge_mode\": \"max\"}",
                        KC_EFORMAT, "merge_mode");
    expect_config_error("Bidirectional", "{\"layer\": {\"class_name\": \"Dense\", \"config\": {\"units\": 2}}}", KC_EUNSUPPORTED, "Dense");
    expect_config_error("Bidirectional", "{\"layer\": {\"class_name\": \"LSTM\", \"config\": {\"units\": 2}}, \"backward_layer\": "
                                         "{\"class_name\": \"LSTM\", \"config\": {\"units\": 2}}}",
                        KC_EINVAL, "go_backwards");
    expect_config_error("Bidirectional", "{\"layer\": {\"class_name\": \"LSTM\", \"config\": {\"units\": 2}}, \"backward_layer\": "
                                         "{\"class_name\": \"LSTM\", \"config\": {\"units\": 2, \"go_backwards\": true, \"return_sequences\": true}}}",
                        KC_EINVAL, "return_sequences");
    expect_config_error("TimeDistributed", "{}", KC_EFORMAT, "layer");
    kc_error_clear(&err);

    kc_object *l = kc_layer_create("LSTM", "{\"units\": 2}", &err);
    kc_tensor *x2 = tu_random(2, D(2, 3), -1, 1, 1), *x = tu_random(3, D(2, 3, 4), -1, 1, 2), *out[3];
    ck_assert(kc_layer_call1(l, x2, false, &err) == NULL);
    CK_ERR(err, KC_ESHAPE, "rank 3");
    CK_ERR(err, KC_ESHAPE, "lstm");
    kc_error_clear(&err);
    kc_tensor *h = tu_random(2, D(2, 2), -1, 1, 3), *wide = tu_random(2, D(2, 5), -1, 1, 4);
    kc_tensor *ins[3] = {x, h, h};
    int n = 0;
    ck_assert(kc_layer_call(l, ins, 2, NULL, false, out, NULL, &n, &err) == KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "2 states but was passed 1");
    kc_error_clear(&err);
    ins[2] = wide;
    ck_assert(kc_layer_call(l, ins, 3, NULL, false, out, NULL, &n, &err) == KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "initial state 1");
    kc_error_clear(&err);
    kc_tensor *y = kc_layer_call1(l, x, false, &err); /* builds for 4 features */
    CK_NN(y, err);
    kc_tensor *x5 = tu_random(3, D(2, 3, 5), -1, 1, 5);
    ck_assert(kc_layer_call1(l, x5, false, &err) == NULL);
    CK_ERR(err, KC_ESHAPE, "built for 4 input features");
    kc_error_clear(&err);
    kc_object *td = kc_layer_create("TimeDistributed", "{\"layer\": {\"class_name\": \"Dense\", \"config\": {\"units\": 2}}}", &err);
    ck_assert(kc_layer_call1(td, x2, false, &err) == NULL);
    CK_ERR(err, KC_ESHAPE, "rank >= 3");
    kc_tensor *tensors[] = {x2, x, h, wide, y, x5};
    for (size_t i = 0; i < sizeof(tensors) / sizeof(tensors[0]); i++) kc_tensor_unref(tensors[i]);
    kc_object_unref(l), kc_object_unref(td);
}
END_TEST

/* ---- weight conversions (preprocess_weights_for_loading) -------------------------------------------- */

static kc_status convert(kc_object *l, kc_tensor *const *in, int n, kc_tensor **out, int *n_out)
{
    const kc_layer_methods *m = kc_object_class(l)->methods;
    return m->convert_weights(l, in, n, "2.2.4", "tensorflow", out, n_out, &err);
}

/* CuDNNLSTM / CuDNNGRU weights against numpy applying Keras 2's
 * _convert_rnn_weights (tests/data/rnn/make-cudnn-reference): every element
 * of the three converted arrays, for LSTM and GRU(reset_after=True) of two
 * sizes. */
START_TEST(cudnn_weights_match_numpy_reference)
{
    json_t *root = tu_load_json("rnn/cudnn_conversion.json");
    json_t *cases = json_object_get(root, "cases");
    ck_assert_int_ge(json_array_size(cases), 3);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cj = json_array_get(cases, c);
        const char *source = json_string_value(json_object_get(cj, "source"));
        kc_tensor *in[3], *want[3], *out[3];
        for (int i = 0; i < 3; i++) {
            CK_OK(kc_tensor_from_json(json_array_get(json_object_get(cj, "cudnn"), (size_t)i), &in[i], &err));
            CK_OK(kc_tensor_from_json(json_array_get(json_object_get(cj, "keras"), (size_t)i), &want[i], &err));
        }
        char cfg[64];
        snprintf(cfg, sizeof cfg, "{\"units\": %lld}", (long long)json_integer_value(json_object_get(cj, "units")));
        kc_tensor *x = tu_random(3, D(1, 2, kc_tensor_dim(in[0], 0)), -1, 1, 160);
        kc_object *l = random_layer(strcmp(source, "CuDNNLSTM") == 0 ? "LSTM" : "GRU", cfg, x, 1);
        int n = -1;
        CK_OK(convert(l, in, 3, out, &n));
        ck_assert_int_eq(n, 3);
        for (int i = 0; i < 3; i++) {
            char what[96];
            snprintf(what, sizeof what, "%s (case %zu) weight %d", source, c, i);
            tu_assert_tensors_close(out[i], want[i], 0, 0, what);
            kc_tensor_unref(out[i]);
        }
        /* and the layer takes them */
        CK_OK(kc_layer_set_weights(l, want, 3, &err));
        for (int i = 0; i < 3; i++) kc_tensor_unref(in[i]), kc_tensor_unref(want[i]);
        kc_tensor_unref(x);
        kc_object_unref(l);
    }
    json_decref(root);
}
END_TEST

START_TEST(cudnn_and_keras1_weights_are_converted)
{
    kc_tensor *x = tu_random(3, D(1, 2, 3), -1, 1, 161);
    kc_object *lstm = random_layer("LSTM", "{\"units\": 2}", x, 1);
    kc_tensor *k = tu_random(2, D(3, 8), -1, 1, 162), *r = tu_random(2, D(2, 8), -1, 1, 163), *b = tu_random(1, D(16), -1, 1, 164);
    kc_tensor *in[3] = {k, r, b}, *out[3];
    int n = -1;
    CK_OK(convert(lstm, in, 3, out, &n)); /* cuDNN biases (16,): values in cudnn_weights_match_numpy_reference */
    ck_assert_int_eq(n, 3);
    for (int i = 0; i < 3; i++) kc_tensor_unref(out[i]);
    /* plain LSTM weights stay; other bias shapes are errors */
    kc_tensor *b4 = tu_random(1, D(8), -1, 1, 165), *b5 = tu_random(1, D(5), -1, 1, 166);
    in[2] = b4;
    CK_OK(convert(lstm, in, 3, out, &n));
    ck_assert_int_eq(n, 0);
    in[2] = b5;
    ck_assert(convert(lstm, in, 3, out, &n) == KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "Invalid bias shape");
    kc_error_clear(&err);

    /* CuDNNGRU -> GRU(reset_after=True); not into reset_after=False */
    kc_object *gru = random_layer("GRU", "{\"units\": 2}", x, 1), *gru0 = random_layer("GRU", "{\"units\": 2, \"reset_after\": false}", x, 1);
    kc_tensor *gk = tu_random(2, D(3, 6), -1, 1, 167), *gr = tu_random(2, D(2, 6), -1, 1, 168), *gb = tu_random(1, D(12), -1, 1, 169);
    kc_tensor *gin[3] = {gk, gr, gb};
    CK_OK(convert(gru, gin, 3, out, &n));
    ck_assert_int_eq(n, 3);
    ck_assert(kc_tensor_ndim(out[2]) == 2 && kc_tensor_dim(out[2], 0) == 2 && kc_tensor_dim(out[2], 1) == 6);
    for (int i = 0; i < 3; i++) kc_tensor_unref(out[i]);
    ck_assert(convert(gru0, gin, 3, out, &n) == KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "CuDNNGRU is not compatible with GRU(reset_after=False)");
    kc_error_clear(&err);
    kc_tensor *gb3 = tu_random(1, D(6), -1, 1, 170);
    gin[2] = gb3;
    ck_assert(convert(gru, gin, 3, out, &n) == KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "GRU(reset_after=False) is not compatible with GRU(reset_after=True)");
    kc_error_clear(&err);

    /* Keras 1 GRU: W_z U_z b_z W_r U_r b_r W_h U_h b_h */
    kc_tensor *k1[9];
    for (int i = 0; i < 9; i++) {
        int kind = i % 3;
        k1[i] = kind == 0 ? tu_random(2, D(3, 2), -1, 1, 200 + i) : kind == 1 ? tu_random(2, D(2, 2), -1, 1, 200 + i)
                                                                            : tu_random(1, D(2), -1, 1, 200 + i);
    }
    CK_OK(convert(gru0, k1, 9, out, &n));
    ck_assert_int_eq(n, 3);
    for (int g = 0; g < 3; g++)
        for (int j = 0; j < 2; j++) {
            ck_assert_float_eq(kc_tensor_f32(out[0])[1 * 6 + g * 2 + j], kc_tensor_f32(k1[3 * g])[1 * 2 + j]);
            ck_assert_float_eq(kc_tensor_f32(out[1])[1 * 6 + g * 2 + j], kc_tensor_f32(k1[3 * g + 1])[1 * 2 + j]);
            ck_assert_float_eq(kc_tensor_f32(out[2])[g * 2 + j], kc_tensor_f32(k1[3 * g + 2])[j]);
        }
    for (int i = 0; i < 3; i++) kc_tensor_unref(out[i]);

    /* Bidirectional converts each half as its layer */
    kc_object *bi = random_layer("Bidirectional", "{\"layer\": {\"class_name\": \"GRU\", \"config\": {\"units\": 2, \"reset_after\": false}}}", x, 1);
    kc_tensor *both[18], *bo[KC_MAX_LAYER_WEIGHTS];
    for (int i = 0; i < 18; i++) both[i] = k1[i % 9];
    const kc_layer_methods *bm = kc_object_class(bi)->methods;
    CK_OK(bm->convert_weights(bi, both, 18, "1", "", bo, &n, &err));
    ck_assert_int_eq(n, 6);
    tu_assert_tensors_close(bo[3], bo[0], 0, 0, "backward half");
    CK_OK(kc_layer_set_weights(bi, bo, 6, &err));
    for (int i = 0; i < 6; i++) kc_tensor_unref(bo[i]);

    for (int i = 0; i < 9; i++) kc_tensor_unref(k1[i]);
    kc_tensor *tensors[] = {x, k, r, b, b4, b5, gk, gr, gb, gb3};
    for (size_t i = 0; i < sizeof(tensors) / sizeof(tensors[0]); i++) kc_tensor_unref(tensors[i]);
    kc_object_unref(lstm), kc_object_unref(gru), kc_object_unref(gru0), kc_object_unref(bi);
}
END_TEST

/* ---- saving ------------------------------------------------------------------------------------------ */

/* A model with every recurrent class saved as .h5 and loaded back predicts
 * the same (TensorFlow.js loads such files too: see the report). */
START_TEST(models_save_and_load)
{
    json_t *root = tu_load_json("rnn/embedding_mask.json");
    kc_object *m = tu_golden_model(root, "rnn/embedding_mask.json");
    char path[4200];
    snprintf(path, sizeof(path), "%s/rnn_model.h5", tu_tmpdir());
    CK_OK(kc_model_save(m, path, NULL, &err));
    kc_object *back = kc_model_load(path, NULL, &err);
    CK_NN(back, err);
    tu_check_io(back, root, "embedding_mask saved and loaded", 1e-5, 1e-6);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(back, 1)), "lstm/lstm_cell/kernel:0");
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(back, 4)), "time_distributed/kernel:0");
    kc_object_unref(back), kc_object_unref(m);
    json_decref(root);

    root = tu_load_json("rnn/bidirectional_states.json");
    m = tu_golden_model(root, "rnn/bidirectional_states.json");
    CK_OK(kc_model_save(m, path, NULL, &err));
    back = kc_model_load(path, NULL, &err);
    CK_NN(back, err);
    tu_check_io(back, root, "bidirectional_states saved and loaded", 1e-5, 1e-6);
    kc_object_unref(back), kc_object_unref(m);
    json_decref(root);
}
END_TEST

/* backward_layer: the backward half is that layer (here with relu), named
 * "backward_" + its name (an existing prefix is not doubled, as Keras 3) */
START_TEST(bidirectional_uses_the_given_backward_layer)
{
    kc_tensor *x = tu_random(3, D(2, 4, 3), -1, 1, 171);
    kc_object *b = random_layer("Bidirectional",
                                "{\"layer\": {\"class_name\": \"SimpleRNN\", \"config\": {\"name\": \"fw\", \"units\": 2}}, "
                                "\"backward_layer\": {\"class_name\": \"SimpleRNN\", \"config\": {\"name\": \"backward_bw\", "
                                "\"units\": 2, \"go_backwards\": true, \"activation\": \"relu\"}}}",
                                x, 172);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(b, 0)), "bidirectional/forward_fw/simple_rnn_cell/kernel:0");
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(b, 3)), "bidirectional/backward_bw/simple_rnn_cell/kernel:0");
    kc_object *bw = random_layer("SimpleRNN", "{\"units\": 2, \"go_backwards\": true, \"activation\": \"relu\"}", x, 1);
    kc_tensor *w[3];
    for (int i = 0; i < 3; i++) w[i] = kc_variable_value(kc_layer_weight(b, 3 + i));
    CK_OK(kc_layer_set_weights(bw, w, 3, &err));
    kc_tensor *y = kc_layer_call1(b, x, false, &err), *yb = kc_layer_call1(bw, x, false, &err);
    CK_NN(y, err);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) ck_assert_float_eq_tol(kc_tensor_f32(y)[i * 4 + 2 + j], kc_tensor_f32(yb)[i * 2 + j], 1e-6);
    /* an empty batch gives empty outputs */
    kc_tensor *x0 = kc_tensor_empty(KC_FLOAT32, 3, D(0, 4, 3), &err), *y0 = kc_layer_call1(b, x0, false, &err);
    CK_NN(y0, err);
    ck_assert(kc_tensor_dim(y0, 0) == 0 && kc_tensor_dim(y0, 1) == 4);
    kc_tensor_unref(x), kc_tensor_unref(y), kc_tensor_unref(yb), kc_tensor_unref(x0), kc_tensor_unref(y0);
    kc_object_unref(b), kc_object_unref(bw);
}
END_TEST

/* ---- training ----------------------------------------------------------------------------------------- */

/* keras-ref's recurrent fixtures trained by TensorFlow.js (rnn/fit, made by
 * rnn/make-fit-cases): 2 epochs of batch-4 steps; ckeras' fit must give the
 * same history and weights (the conformance README's tolerance). */
static const struct {
    const char *kind, *opt;
} fit_cases[] = {
    {"gru", "sgd"},        {"gru", "rmsprop"},        {"gru", "adam_e12"},
    {"embedding_lstm", "sgd"}, {"embedding_lstm", "rmsprop"}, {"embedding_lstm", "adam_e12"},
    {"simple_rnn", "sgd"}, {"simple_rnn", "rmsprop"}, {"simple_rnn", "adam_e12"},
};

START_TEST(fit_matches_tensorflow_js_runs)
{
    const char *kind = fit_cases[_i].kind, *opt = fit_cases[_i].opt;
    char rel[256];
    snprintf(rel, sizeof rel, "keras-ref/%s.h5", kind);
    kc_object *m = kc_model_load(tu_data(rel), NULL, &err);
    CK_NN(m, err);
    snprintf(rel, sizeof rel, "rnn/fit/%s/data.json", kind);
    json_t *data = tu_load_json(rel);
    snprintf(rel, sizeof rel, "rnn/fit/%s/%s.json", kind, opt);
    json_t *want = tu_load_json(rel), *args = json_object_get(want, "args");
    json_t *spec = json_pack("{s:O, s:O, s:O}", "optimizer", json_object_get(args, "optimizer"), "loss",
                             json_object_get(args, "loss"), "metrics", json_object_get(args, "metrics"));
    CK_OK(kc_model_compile_json(m, spec, NULL, &err));
    json_decref(spec);
    json_t *jx = json_object_get(data, "x"), *jy = json_object_get(data, "y");
    kc_tensor *x[4], *y[4];
    int nx = (int)json_array_size(jx), ny = (int)json_array_size(jy);
    for (int i = 0; i < nx; i++) x[i] = tu_json_tensor(json_array_get(jx, (size_t)i));
    for (int i = 0; i < ny; i++) y[i] = tu_json_tensor(json_array_get(jy, (size_t)i));
    kc_fit_args fa = {.x = x, .n_x = nx, .y = y, .n_y = ny,
                      .batch_size = json_integer_value(json_object_get(args, "batch_size")),
                      .epochs = (int)json_integer_value(json_object_get(args, "epochs")), .no_shuffle = true};
    kc_history *h = NULL;
    kc_status rc = kc_model_fit(m, &fa, &h, &err);
    ck_assert_msg(rc == KC_OK, "%s/%s: %s (%s)", kind, opt, err.message, err.context);
    const char *key;
    json_t *vals, *hist = json_object_get(want, "history");
    json_object_foreach(hist, key, vals)
    {
        const double *got = kc_history_values(h, key);
        ck_assert_msg(got != NULL, "%s/%s: no '%s' in the history", kind, opt, key);
        for (size_t e = 0; e < json_array_size(vals); e++) {
            double w = json_number_value(json_array_get(vals, e));
            ck_assert_msg(fabs(got[e] - w) <= 1e-5 + 1e-5 * fabs(w), "%s/%s: %s[%zu] = %.9g, TensorFlow.js %.9g", kind,
                          opt, key, e, got[e], w);
        }
    }
    /* Adam divides each step by the gradient's own size, so a weight whose
     * gradient is near zero (one of embedding_lstm's recurrent weights:
     * 1e-7 where the others are 1e-4) moves by its rounding noise,
     * amplified: a few 1e-6 after 6 steps of lr 0.01 */
    double atol = strcmp(opt, "adam_e12") == 0 ? 1e-5 : 1e-6;
    json_t *ws = json_object_get(want, "weights");
    ck_assert_int_eq((int)json_array_size(ws), kc_layer_num_weights(m));
    for (size_t i = 0; i < json_array_size(ws); i++) {
        kc_tensor *expect = tu_json_tensor(json_array_get(ws, i));
        char label[200];
        snprintf(label, sizeof label, "%s/%s: %s after fit", kind, opt, kc_variable_name(kc_layer_weight(m, (int)i)));
        tu_assert_tensors_close(kc_variable_value(kc_layer_weight(m, (int)i)), expect, 1e-5, atol, label);
        kc_tensor_unref(expect);
    }
    kc_history_free(h);
    for (int i = 0; i < nx; i++) kc_tensor_unref(x[i]);
    for (int i = 0; i < ny; i++) kc_tensor_unref(y[i]);
    json_decref(data), json_decref(want);
    kc_object_unref(m);
}
END_TEST

/* ---- allocation failures -------------------------------------------------------------------------- */

/* Every recurrent class once: configured, built, called with masks,
 * states and dropout on a tape, differentiated, saved in a config. */
static kc_status rnn_scenario(kc_error *e)
{
    static const char *const layers[][2] = {
        {"LSTM", "{\"units\": 2, \"return_sequences\": true, \"return_state\": true, \"recurrent_dropout\": 0.5}"},
        {"GRU", "{\"units\": 2, \"go_backwards\": true, \"dropout\": 0.5}"},
        {"GRU", "{\"units\": 2, \"reset_after\": false, \"stateful\": true, \"return_sequences\": true}"},
        {"RNN", "{\"cell\": {\"class_name\": \"SimpleRNNCell\", \"config\": {\"units\": 2}}, \"time_major\": true}"},
        {"Bidirectional", "{\"layer\": {\"class_name\": \"LSTM\", \"config\": {\"units\": 2, \"return_sequences\": true}}, \"merge_mode\": \"ave\"}"},
        {"TimeDistributed", "{\"layer\": {\"class_name\": \"Dense\", \"config\": {\"units\": 2}}}"},
    };
    kc_status rc = KC_OK;
    kc_tensor *x = kc_tensor_full(KC_FLOAT32, 3, D(2, 3, 2), 0.5, e), *mask = kc_tensor_ones(KC_FLOAT32, 2, D(2, 3), e);
    kc_tape *tape = kc_tape_begin(0, e);
    if (!x || !mask || !tape || kc_tape_watch(tape, x, e) != KC_OK) goto out;
    kc_tensor_f32(mask)[5] = 0.0f;
    for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
        kc_object *l = kc_layer_create(layers[i][0], layers[i][1], e);
        if (!l) goto out;
        kc_tensor *out[4] = {0}, *om[4] = {0}, *masks[1] = {mask}, *g = NULL, *sum = NULL;
        json_t *cfg = NULL;
        int n = 0;
        rc = kc_layer_call(l, &x, 1, masks, true, out, om, &n, e);
        if (rc == KC_OK) sum = kc_reduce_sum(out[0], NULL, 0, false, e);
        if (sum) rc = kc_tape_gradient(tape, sum, &x, 1, &g, e);
        if (rc == KC_OK && e->code == KC_OK) rc = kc_object_get_config(l, &cfg, e);
        json_decref(cfg);
        kc_tensor_unref(sum), kc_tensor_unref(g);
        for (int j = 0; j < 4; j++) kc_tensor_unref(out[j]), kc_tensor_unref(om[j]);
        kc_object_unref(l);
        kc_tape_free(tape);
        tape = NULL;
        if (rc != KC_OK || e->code != KC_OK) goto out;
        tape = kc_tape_begin(KC_TAPE_PERSISTENT, e);
        if (!tape || kc_tape_watch(tape, x, e) != KC_OK) goto out;
    }
out:
    if (rc == KC_OK && e->code != KC_OK) rc = e->code;
    kc_tape_free(tape);
    kc_tensor_unref(x), kc_tensor_unref(mask);
    kc_clear_session();
    return rc;
}

START_TEST(allocation_failures_are_enomem_without_leaks)
{
    int failures = tu_alloc_failure_sweep(rnn_scenario, 100000);
    ck_assert_msg(failures > 100, "only %d allocation points were exercised", failures);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("layers_rnn");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, tfjs_fixtures_load_and_match);
    tcase_add_loop_test(tc, models_match_tensorflow_js, 0, N_GOLDENS);
    tcase_add_test(tc, stateful_golden_carries_states_between_calls);
    tcase_add_test(tc, gru_reset_after_matches_keras_equations);
    tcase_add_test(tc, lstm_gru_simple_rnn_match_keras_equations_with_masks);
    tcase_add_test(tc, real_keras_files_match_their_goldens);
    tcase_add_test(tc, gru_stateful_file_matches_keras_equations);
    tcase_add_test(tc, keras1_lstm_weights_are_repacked);
    tcase_add_test(tc, fused_activations_match_libm);
    tcase_add_test(tc, unsupported_activation_is_a_named_error);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, wrapper_gradients_match_finite_differences);
    tcase_add_test(tc, masked_steps_carry_states_and_outputs);
    tcase_add_test(tc, stateful_layers_carry_and_reset_states);
    tcase_add_test(tc, bidirectional_states_and_model_reset);
    tcase_add_test(tc, dropout_masks_are_per_call_and_seeded);
    tcase_add_test(tc, time_major_and_unroll_match_batch_major);
    tcase_add_test(tc, configs_follow_keras);
    tcase_add_test(tc, configs_round_trip);
    tcase_add_test(tc, weights_are_named_and_shaped_as_keras);
    tcase_add_test(tc, cells_are_one_step_of_their_layer);
    tcase_add_test(tc, bad_configs_and_inputs_are_named_errors);
    tcase_add_test(tc, cudnn_and_keras1_weights_are_converted);
    tcase_add_test(tc, cudnn_weights_match_numpy_reference);
    tcase_add_test(tc, models_save_and_load);
    tcase_add_test(tc, bidirectional_uses_the_given_backward_layer);
    tcase_add_loop_test(tc, fit_matches_tensorflow_js_runs, 0, (int)(sizeof fit_cases / sizeof fit_cases[0]));
    tcase_add_test(tc, allocation_failures_are_enomem_without_leaks);
    suite_add_tcase(s, tc);
    tc = tcase_create("tfjs"); /* needs keras-ref: a meson test of its own */
    tcase_set_tags(tc, "tfjs");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, ckeras_written_models_load_in_tensorflow_js, 0, N_GOLDENS);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
