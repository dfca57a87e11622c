/* Attention layers: MultiHeadAttention, EinsumDense, Attention,
 * AdditiveAttention; and GroupNormalization, UnitNormalization, Identity.
 *
 * Forward passes against references computed here with plain loops in
 * double precision (written from the Keras source, independently of the
 * library's GEMM formulation), every gradient against finite differences,
 * Keras' weight names, shapes and order, config round trips in tf.keras
 * 2.15's form, masks as Keras combines them, keyword arguments of calls,
 * and errors that name what is wrong. Whole models against numpy-predict
 * live in the `transformer` suite. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define D(...) ((int64_t[]){__VA_ARGS__})
#define F(...) ((float[]){__VA_ARGS__})

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    kc_clear_session();
    kc_set_random_seed(1);
}

/* Give every weight of l random values in [-0.6, 0.6) (seeded). */
static void randomize(kc_object *l, uint64_t seed)
{
    for (int i = 0; i < kc_layer_num_weights(l); i++) {
        kc_tensor *v = kc_variable_value(kc_layer_weight(l, i));
        kc_tensor *r = tu_random(kc_tensor_ndim(v), kc_tensor_dims(v), -0.6f, 0.6f, seed + (uint64_t)i);
        CK_OK(kc_variable_assign(kc_layer_weight(l, i), r, &err));
        kc_tensor_unref(r);
    }
}

static const float *wdata(kc_object *l, int i) { return kc_tensor_cdata(kc_variable_value(kc_layer_weight(l, i))); }

/* ---- a loop reference of MultiHeadAttention (rank-3 inputs) ------------------------------------------------- */

typedef struct mha_dims {
    int64_t B, T, S, dq, dv, dk, H, kd, vd, dout;
} mha_dims;

/* Keras' MultiHeadAttention.call on [B, T, dq] / [B, S, dv] / [B, S, dk]
 * with a [B, T, S] 0/1 mask (NULL: none), from weights in Keras' order. The
 * masked adder is applied in float32, as Keras does, so that a fully masked
 * row is uniform. Returns out [B, T, dout] and probs [B, H, T, S]. */
static void mha_reference(kc_object *l, const mha_dims *d, const float *q, const float *v, const float *k,
                          const float *mask, double *out, double *probs)
{
    const float *wq = wdata(l, 0), *bq = wdata(l, 1), *wk = wdata(l, 2), *bk = wdata(l, 3);
    const float *wv = wdata(l, 4), *bv = wdata(l, 5), *wo = wdata(l, 6), *bo = wdata(l, 7);
    int64_t H = d->H, kd = d->kd, vd = d->vd;
    double *qp = calloc((size_t)(d->T * H * kd), sizeof(double)), *kp = calloc((size_t)(d->S * H * kd), sizeof(double));
    double *vp = calloc((size_t)(d->S * H * vd), sizeof(double)), *z = calloc((size_t)d->S, sizeof(double));
    double *ctx = calloc((size_t)(H * vd), sizeof(double));
    for (int64_t b = 0; b < d->B; b++) {
        for (int64_t t = 0; t < d->T; t++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t e = 0; e < kd; e++) {
                    double s = bq[h * kd + e];
                    for (int64_t c = 0; c < d->dq; c++) s += (double)q[(b * d->T + t) * d->dq + c] * wq[(c * H + h) * kd + e];
                    qp[(t * H + h) * kd + e] = s;
                }
        for (int64_t j = 0; j < d->S; j++)
            for (int64_t h = 0; h < H; h++) {
                for (int64_t e = 0; e < kd; e++) {
                    double s = bk[h * kd + e];
                    for (int64_t c = 0; c < d->dk; c++) s += (double)k[(b * d->S + j) * d->dk + c] * wk[(c * H + h) * kd + e];
                    kp[(j * H + h) * kd + e] = s;
                }
                for (int64_t e = 0; e < vd; e++) {
                    double s = bv[h * vd + e];
                    for (int64_t c = 0; c < d->dv; c++) s += (double)v[(b * d->S + j) * d->dv + c] * wv[(c * H + h) * vd + e];
                    vp[(j * H + h) * vd + e] = s;
                }
            }
        for (int64_t t = 0; t < d->T; t++) {
            for (int64_t h = 0; h < H; h++) {
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < d->S; j++) {
                    double s = 0;
                    for (int64_t e = 0; e < kd; e++) s += qp[(t * H + h) * kd + e] * kp[(j * H + h) * kd + e];
                    s /= sqrt((double)kd);
                    if (mask && mask[(b * d->T + t) * d->S + j] == 0) s = (double)((float)s + -1e9f);
                    z[j] = s;
                    if (s > mx) mx = s;
                }
                for (int64_t j = 0; j < d->S; j++) sum += (z[j] = exp(z[j] - mx));
                for (int64_t e = 0; e < vd; e++) ctx[h * vd + e] = 0;
                for (int64_t j = 0; j < d->S; j++) {
                    double p = z[j] / sum;
                    if (probs) probs[((b * H + h) * d->T + t) * d->S + j] = p;
                    for (int64_t e = 0; e < vd; e++) ctx[h * vd + e] += p * vp[(j * H + h) * vd + e];
                }
            }
            for (int64_t o = 0; o < d->dout; o++) {
                double s = bo[o];
                for (int64_t h = 0; h < H; h++)
                    for (int64_t e = 0; e < vd; e++) s += ctx[h * vd + e] * wo[(h * vd + e) * d->dout + o];
                out[(b * d->T + t) * d->dout + o] = s;
            }
        }
    }
    free(qp), free(kp), free(vp), free(z), free(ctx);
}

static void assert_close_d(const kc_tensor *got, const double *want, double rtol, double atol, const char *what)
{
    const float *g = kc_tensor_cdata(got);
    for (int64_t i = 0; i < kc_tensor_size(got); i++)
        ck_assert_msg(fabs(g[i] - want[i]) <= atol + rtol * fabs(want[i]), "%s: [%lld] got %.8g, want %.8g", what,
                      (long long)i, g[i], want[i]);
}

static const mha_dims small = {.B = 2, .T = 4, .S = 5, .dq = 3, .dv = 2, .dk = 4, .H = 2, .kd = 2, .vd = 3, .dout = 3};

static kc_object *small_mha(void)
{
    kc_object *l = tu_layer("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 2, \"value_dim\": 3}");
    return l;
}

START_TEST(mha_weights_have_keras_names_shapes_and_order)
{
    kc_object *l = small_mha();
    kc_tensor *q = tu_random(3, D(2, 4, 3), -1, 1, 1), *v = tu_random(3, D(2, 5, 2), -1, 1, 2);
    kc_tensor *k = tu_random(3, D(2, 5, 4), -1, 1, 3);
    kc_tensor *out[2];
    int n = 0;
    CK_OK(kc_layer_call(l, (kc_tensor *[]){q, v, k}, 3, NULL, false, out, NULL, &n, &err));
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(kc_layer_num_weights(l), 8);
    static const char *const names[8] = {
        "multi_head_attention/query/kernel:0", "multi_head_attention/query/bias:0",
        "multi_head_attention/key/kernel:0",   "multi_head_attention/key/bias:0",
        "multi_head_attention/value/kernel:0", "multi_head_attention/value/bias:0",
        "multi_head_attention/attention_output/kernel:0", "multi_head_attention/attention_output/bias:0"};
    const int64_t shapes[8][3] = {{3, 2, 2}, {2, 2}, {4, 2, 2}, {2, 2}, {2, 2, 3}, {2, 3}, {2, 3, 3}, {3}};
    const int ranks[8] = {3, 2, 3, 2, 3, 2, 3, 1};
    for (int i = 0; i < 8; i++) {
        kc_tensor *w = kc_variable_value(kc_layer_weight(l, i));
        ck_assert_str_eq(kc_variable_name(kc_layer_weight(l, i)), names[i]);
        ck_assert_int_eq(kc_tensor_ndim(w), ranks[i]);
        for (int j = 0; j < ranks[i]; j++) ck_assert_int_eq(kc_tensor_dim(w, j), shapes[i][j]);
    }
    /* the config tf.keras 2.15 writes once built */
    json_t *cfg;
    CK_OK(kc_object_get_config(l, &cfg, &err));
    char *t = kc_json_dump(json_object_get(cfg, "attention_axes"), &err);
    ck_assert_str_eq(t, "[1]");
    kc_json_free(t);
    t = kc_json_dump(json_object_get(cfg, "key_shape"), &err);
    ck_assert_str_eq(t, "[2, 5, 4]"); /* built eagerly: concrete shapes, as Keras */
    kc_json_free(t);
    ck_assert_int_eq(json_integer_value(json_object_get(cfg, "value_dim")), 3);
    ck_assert(json_is_null(json_object_get(cfg, "output_shape")));
    /* from that config: built at once, same weights shapes */
    kc_object *l2 = kc_object_from_config(kc_object_class(l), cfg, NULL, &err);
    CK_NN(l2, err);
    ck_assert_int_eq(kc_layer_num_weights(l2), 8);
    json_t *cfg2;
    CK_OK(kc_object_get_config(l2, &cfg2, &err));
    ck_assert(json_equal(cfg, cfg2));
    json_decref(cfg), json_decref(cfg2);
    kc_tensor_unref(out[0]), kc_tensor_unref(q), kc_tensor_unref(v), kc_tensor_unref(k);
    kc_object_unref(l), kc_object_unref(l2);
}
END_TEST

START_TEST(mha_forward_matches_loops_with_key_and_masks)
{
    kc_object *l = small_mha();
    const mha_dims *d = &small;
    kc_tensor *q = tu_random(3, D(2, 4, 3), -1, 1, 1), *v = tu_random(3, D(2, 5, 2), -1, 1, 2);
    kc_tensor *k = tu_random(3, D(2, 5, 4), -1, 1, 3);
    kc_tensor *out[2];
    int n = 0;
    CK_OK(kc_layer_call(l, (kc_tensor *[]){q, v, k}, 3, NULL, false, out, NULL, &n, &err));
    kc_tensor_unref(out[0]);
    randomize(l, 10);
    double want[2 * 4 * 3], probs[2 * 2 * 4 * 5];
    /* key != value, no mask, with the scores */
    CK_OK(kc_layer_call_kw(l, (kc_tensor *[]){q, v, k}, NULL, 3, "{\"return_attention_scores\": true}", NULL, false,
                           out, NULL, &n, &err));
    ck_assert_int_eq(n, 2);
    mha_reference(l, d, kc_tensor_cdata(q), kc_tensor_cdata(v), kc_tensor_cdata(k), NULL, want, probs);
    assert_close_d(out[0], want, 1e-5, 1e-6, "MHA(q, v, k)");
    ck_assert_int_eq(kc_tensor_ndim(out[1]), 4);
    ck_assert_int_eq(kc_tensor_dim(out[1], 1), 2);
    assert_close_d(out[1], probs, 1e-5, 1e-6, "attention scores");
    kc_tensor_unref(out[0]), kc_tensor_unref(out[1]);
    /* an attention_mask given by name, without a key: key = value */
    float m[2 * 4 * 5];
    for (int i = 0; i < 40; i++) m[i] = (i * 7 + 3) % 5 != 0;
    for (int s = 0; s < 5; s++) m[2 * 5 + s] = 0; /* one fully masked row: uniform */
    kc_tensor *mask = tu_tensor(3, D(2, 4, 5), m);
    /* without a key, the key is the value: a layer built that way */
    kc_object *l2 = tu_layer("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 2, \"value_dim\": 3}");
    kc_tensor *v4 = tu_random(3, D(2, 5, 4), -1, 1, 4);
    CK_OK(kc_layer_call_kw(l2, (kc_tensor *[]){q, v4, mask}, (const char *[]){NULL, "value", "attention_mask"}, 3,
                           NULL, NULL, false, out, NULL, &n, &err));
    kc_tensor_unref(out[0]);
    randomize(l2, 20);
    CK_OK(kc_layer_call_kw(l2, (kc_tensor *[]){q, v4, mask}, (const char *[]){NULL, "value", "attention_mask"}, 3,
                           NULL, NULL, false, out, NULL, &n, &err));
    mha_dims d2 = *d;
    d2.dv = 4;
    mha_reference(l2, &d2, kc_tensor_cdata(q), kc_tensor_cdata(v4), kc_tensor_cdata(v4), m, want, NULL);
    assert_close_d(out[0], want, 1e-5, 1e-6, "MHA(q, v, attention_mask=m)");
    kc_tensor_unref(out[0]);
    /* use_causal_mask, and masks carried by the inputs: all combined */
    kc_tensor *qmask = tu_tensor(2, D(2, 4), F(1, 1, 0, 1, 1, 1, 1, 1));
    kc_tensor *vmask = tu_tensor(2, D(2, 5), F(1, 0, 1, 1, 1, 1, 1, 1, 0, 1));
    kc_tensor *om[2];
    CK_OK(kc_layer_call_kw(l2, (kc_tensor *[]){q, v4, mask}, (const char *[]){NULL, "value", "attention_mask"}, 3,
                           "{\"use_causal_mask\": true}", (kc_tensor *[]){qmask, vmask, NULL}, false, out, om, &n,
                           &err));
    float cm[40];
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 4; t++)
            for (int s = 0; s < 5; s++) {
                int i = (b * 4 + t) * 5 + s;
                cm[i] = m[i] * (s <= t) * kc_tensor_f32(qmask)[b * 4 + t] * kc_tensor_f32(vmask)[b * 5 + s];
            }
    mha_reference(l2, &d2, kc_tensor_cdata(q), kc_tensor_cdata(v4), kc_tensor_cdata(v4), cm, want, NULL);
    assert_close_d(out[0], want, 1e-5, 1e-6, "MHA causal + input masks + attention_mask");
    ck_assert_ptr_eq(om[0], qmask); /* the output carries the query's mask */
    kc_tensor_unref(out[0]), kc_tensor_unref(om[0]);
    kc_tensor_unref(q), kc_tensor_unref(v), kc_tensor_unref(k), kc_tensor_unref(v4), kc_tensor_unref(mask);
    kc_tensor_unref(qmask), kc_tensor_unref(vmask);
    kc_object_unref(l), kc_object_unref(l2);
}
END_TEST

/* ---- gradients ------------------------------------------------------------------------------------------------- */

typedef struct mha_case {
    kc_object *layer;
    kc_tensor *mask;  /* attention_mask, or NULL */
    const char *options;
    bool training;
    int n_data;       /* inputs[0..n_data) are q, v[, k]; the rest are weights (assigned) */
} mha_case;

static kc_tensor *mha_fn(kc_tensor *const *in, const void *p, kc_error *e)
{
    const mha_case *c = p;
    kc_set_random_seed(7); /* the same dropout decisions at every evaluation */
    kc_tensor *xs[4];
    const char *names[4] = {NULL, NULL, NULL, NULL};
    int n = c->n_data;
    for (int i = 0; i < n; i++) xs[i] = in[i];
    if (c->mask) {
        xs[n] = c->mask;
        names[n++] = "attention_mask";
    }
    kc_tensor *out[2];
    int no = 0;
    if (kc_layer_call_kw(c->layer, xs, names, n, c->options, NULL, c->training, out, NULL, &no, e) != KC_OK)
        return NULL;
    for (int i = 1; i < no; i++) kc_tensor_unref(out[i]);
    return out[0];
}

static kc_tensor *mha_scores_fn(kc_tensor *const *in, const void *p, kc_error *e)
{
    const mha_case *c = p;
    kc_tensor *out[2];
    int no = 0;
    if (kc_layer_call_kw(c->layer, in, NULL, c->n_data, "{\"return_attention_scores\": true}", NULL, false, out, NULL,
                         &no, e) != KC_OK)
        return NULL;
    /* both outputs reach the loss */
    kc_tensor *s = kc_reduce_sum(out[1], (int[]){1}, 1, false, e); /* [B, T, S] */
    kc_tensor *sm = kc_reduce_mean(s, (int[]){2}, 1, true, e);     /* [B, T, 1] */
    kc_tensor *y = kc_mul(out[0], sm, e);
    kc_tensor_unref(out[0]), kc_tensor_unref(out[1]), kc_tensor_unref(s), kc_tensor_unref(sm);
    return y;
}

static void check_mha_grads(const char *what, mha_case *c, kc_tensor **data)
{
    kc_tensor *in[8 + 3];
    int n = 0;
    for (int i = 0; i < c->n_data; i++) in[n++] = data[i];
    tu_grad_check(what, mha_fn, c, in, n, 1e-2, 2e-2, 2e-3);
    /* the weights, 4 at a time (the harness takes 8 inputs) */
    for (int w0 = 0; w0 < kc_layer_num_weights(c->layer); w0 += 4) {
        n = 0;
        for (int i = 0; i < c->n_data; i++) in[n++] = data[i];
        for (int w = w0; w < w0 + 4 && w < kc_layer_num_weights(c->layer); w++)
            in[n++] = kc_variable_value(kc_layer_weight(c->layer, w));
        char label[200];
        snprintf(label, sizeof label, "%s (weights %d..)", what, w0);
        tu_grad_check(label, mha_fn, c, in, n, 1e-2, 2e-2, 2e-3);
    }
}

START_TEST(mha_gradients_vs_finite_differences)
{
    kc_object *l = small_mha();
    kc_tensor *q = tu_random(3, D(2, 4, 3), -1, 1, 1), *v = tu_random(3, D(2, 5, 2), -1, 1, 2);
    kc_tensor *k = tu_random(3, D(2, 5, 4), -1, 1, 3);
    kc_tensor *data[3] = {q, v, k};
    kc_tensor *out[2];
    int n;
    CK_OK(kc_layer_call(l, data, 3, NULL, false, out, NULL, &n, &err));
    kc_tensor_unref(out[0]);
    randomize(l, 30);
    mha_case c = {.layer = l, .n_data = 3};
    check_mha_grads("MHA(q, v, k)", &c, data);
    /* masked and causal */
    float m[40];
    for (int i = 0; i < 40; i++) m[i] = (i * 3 + 1) % 4 != 0;
    c.mask = tu_tensor(3, D(2, 4, 5), m);
    c.options = "{\"use_causal_mask\": true}";
    check_mha_grads("MHA masked, causal", &c, data);
    kc_tensor_unref(c.mask);
    /* through the attention scores too */
    c.mask = NULL;
    c.options = NULL;
    tu_grad_check("MHA, loss on output and scores", mha_scores_fn, &c, data, 3, 1e-2, 2e-2, 2e-3);
    kc_tensor_unref(q), kc_tensor_unref(v), kc_tensor_unref(k);
    kc_object_unref(l);
}
END_TEST

START_TEST(mha_dropout_trains_and_differentiates)
{
    kc_object *l = tu_layer("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 3, \"dropout\": 0.3}");
    kc_tensor *x = tu_random(3, D(2, 6, 4), -1, 1, 5);
    kc_tensor *data[2] = {x, x};
    mha_case c = {.layer = l, .n_data = 2, .training = true};
    kc_tensor *a = mha_fn(data, &c, &err), *b;
    CK_NN(a, err);
    c.training = false;
    b = mha_fn(data, &c, &err);
    CK_NN(b, err);
    double diff = 0;
    for (int64_t i = 0; i < kc_tensor_size(a); i++) diff += fabs(kc_tensor_f32(a)[i] - kc_tensor_f32(b)[i]);
    ck_assert_msg(diff > 1e-3, "dropout changed nothing in training");
    kc_tensor_unref(a), kc_tensor_unref(b);
    c.training = true;
    check_mha_grads("MHA with dropout (fixed decisions)", &c, data);
    kc_tensor_unref(x);
    kc_object_unref(l);
}
END_TEST


/* ---- Attention and AdditiveAttention ------------------------------------------------------------------------------- */

typedef enum { DOT, CONCAT, ADDITIVE } score_form;

/* BaseDenseAttention.call with loops: q [B, Tq, d], v [B, Tv, dv],
 * k [B, Tv, d]; masks [B, Tq] / [B, Tv] or NULL; out [B, Tq, dv] and the
 * weights [B, Tq, Tv]. */
static void dense_attention_reference(score_form form, const float *scale, int64_t n_scale, float csw, int64_t B,
                                      int64_t Tq, int64_t Tv, int64_t d, int64_t dv, const float *q, const float *v,
                                      const float *k, const float *qm, const float *vm, bool causal, double *out,
                                      double *weights)
{
    double z[16];
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < Tq; i++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < Tv; j++) {
                double s = 0;
                for (int64_t e = 0; e < d; e++) {
                    double qe = q[(b * Tq + i) * d + e], ke = k[(b * Tv + j) * d + e];
                    double sc = scale ? scale[n_scale > 1 ? e : 0] : 1.0;
                    if (form == DOT) s += qe * ke;
                    else if (form == CONCAT) s += tanh(sc * (qe + ke));
                    else s += sc * tanh(qe + ke);
                }
                if (form == DOT && scale) s *= scale[0];
                if (form == CONCAT) s *= csw;
                if ((vm && vm[b * Tv + j] == 0) || (causal && j > i)) s = (double)((float)s - 1e9f);
                z[j] = s;
                if (s > mx) mx = s;
            }
            for (int64_t j = 0; j < Tv; j++) sum += (z[j] = exp(z[j] - mx));
            for (int64_t e = 0; e < dv; e++) {
                double acc = 0;
                for (int64_t j = 0; j < Tv; j++) acc += z[j] / sum * v[(b * Tv + j) * dv + e];
                out[(b * Tq + i) * dv + e] = qm && qm[b * Tq + i] == 0 ? 0 : acc;
            }
            for (int64_t j = 0; j < Tv; j++) weights[(b * Tq + i) * Tv + j] = z[j] / sum;
        }
}

static void check_dense_attention(const char *cls, const char *cfg, score_form form, bool with_key, bool masks,
                                  bool causal)
{
    kc_object *l = tu_layer(cls, cfg);
    int64_t B = 2, Tq = 3, Tv = 4, d = 3, dv = with_key && form != ADDITIVE ? 2 : 3; /* the key is the value, or the scale's size */
    kc_tensor *q = tu_random(3, D(B, Tq, d), -1, 1, 41), *v = tu_random(3, D(B, Tv, dv), -1, 1, 42);
    kc_tensor *k = with_key ? tu_random(3, D(B, Tv, d), -1, 1, 43) : NULL;
    kc_tensor *qm = tu_tensor(2, D(2, 3), F(1, 0, 1, 1, 1, 1)), *vm = tu_tensor(2, D(2, 4), F(1, 1, 0, 1, 0, 1, 1, 1));
    kc_tensor *xs[3] = {q, v, k}, *out[2], *om[2];
    int n;
    /* build, then give the weights values away from their initial ones */
    ck_assert_msg(kc_layer_call(l, xs, with_key ? 3 : 2, NULL, false, out, NULL, &n, &err) == KC_OK, "%s %s: %s (%s)",
                  cls, cfg, err.message, err.context);
    kc_tensor_unref(out[0]);
    randomize(l, 50);
    char opts[128];
    snprintf(opts, sizeof opts, "{\"return_attention_scores\": true, \"use_causal_mask\": %s}", causal ? "true" : "false");
    CK_OK(kc_layer_call_kw(l, xs, NULL, with_key ? 3 : 2, opts, masks ? (kc_tensor *[]){qm, vm, NULL} : NULL, false,
                           out, om, &n, &err));
    ck_assert_int_eq(n, 2);
    const float *scale = NULL;
    int64_t n_scale = 0;
    float csw = 1;
    if (kc_layer_num_weights(l) > 0 && strcmp(kc_variable_name(kc_layer_weight(l, 0)) + strlen(kc_layer_name(l)) + 1, "scale:0") == 0) {
        scale = wdata(l, 0);
        n_scale = kc_tensor_size(kc_variable_value(kc_layer_weight(l, 0)));
    }
    if (form == CONCAT) csw = wdata(l, kc_layer_num_weights(l) - 1)[0];
    double want[2 * 3 * 3], w[2 * 3 * 4];
    dense_attention_reference(form, scale, n_scale, csw, B, Tq, Tv, d, dv, kc_tensor_cdata(q), kc_tensor_cdata(v),
                              kc_tensor_cdata(with_key ? k : v), masks ? kc_tensor_cdata(qm) : NULL,
                              masks ? kc_tensor_cdata(vm) : NULL, causal, want, w);
    char what[256];
    snprintf(what, sizeof what, "%s %s%s%s%s", cls, cfg, with_key ? " with key" : "", masks ? " masked" : "",
             causal ? " causal" : "");
    assert_close_d(out[0], want, 1e-5, 1e-6, what);
    assert_close_d(out[1], w, 1e-5, 1e-6, what);
    if (masks) ck_assert_ptr_eq(om[0], qm);
    ck_assert_ptr_null(om[1]);
    kc_tensor_unref(out[0]), kc_tensor_unref(out[1]), kc_tensor_unref(om[0]);
    kc_tensor_unref(q), kc_tensor_unref(v), kc_tensor_unref(k), kc_tensor_unref(qm), kc_tensor_unref(vm);
    kc_object_unref(l);
}

START_TEST(dense_attention_layers_match_loops)
{
    check_dense_attention("Attention", "{}", DOT, false, false, false);
    check_dense_attention("Attention", "{\"use_scale\": true}", DOT, true, true, false);
    check_dense_attention("Attention", "{\"use_scale\": true}", DOT, false, true, true);
    check_dense_attention("Attention", "{\"score_mode\": \"concat\"}", CONCAT, true, true, true);
    check_dense_attention("Attention", "{\"score_mode\": \"concat\", \"use_scale\": true}", CONCAT, false, false, false);
    check_dense_attention("AdditiveAttention", "{}", ADDITIVE, true, true, false);
    check_dense_attention("AdditiveAttention", "{\"use_scale\": false}", ADDITIVE, false, true, true);
    /* the deprecated constructor argument causal=True */
    check_dense_attention("Attention", "{\"causal\": true}", DOT, false, false, true);
}
END_TEST

typedef struct layer_case {
    kc_object *layer;
    int n_data;
    bool training;
} layer_case;

static kc_tensor *layer_fn(kc_tensor *const *in, const void *p, kc_error *e)
{
    const layer_case *c = p;
    kc_set_random_seed(3);
    kc_tensor *out[KC_MAX_LAYER_OUTPUTS];
    int n = 0;
    if (kc_layer_call(c->layer, in, c->n_data, NULL, c->training, out, NULL, &n, e) != KC_OK) return NULL;
    for (int i = 1; i < n; i++) kc_tensor_unref(out[i]);
    return out[0];
}

/* Gradients w.r.t. the n data inputs and every weight of the layer. */
static void check_layer_grads(const char *what, kc_object *l, kc_tensor **data, int n, bool training)
{
    layer_case c = {.layer = l, .n_data = n, .training = training};
    kc_tensor *out = layer_fn(data, &c, &err);
    CK_NN(out, err);
    kc_tensor_unref(out);
    kc_tensor *in[8];
    for (int i = 0; i < n; i++) in[i] = data[i];
    int nw = kc_layer_num_weights(l);
    ck_assert(n + nw <= 8);
    for (int i = 0; i < nw; i++) in[n + i] = kc_variable_value(kc_layer_weight(l, i));
    tu_grad_check(what, layer_fn, &c, in, n + nw, 1e-2, 2e-2, 2e-3);
}

START_TEST(dense_attention_gradients_vs_finite_differences)
{
    kc_tensor *q = tu_random(3, D(2, 3, 3), -1, 1, 61), *v = tu_random(3, D(2, 4, 3), -1, 1, 62);
    kc_tensor *k = tu_random(3, D(2, 4, 3), -1, 1, 63);
    const char *cfgs[][2] = {{"Attention", "{\"use_scale\": true}"},
                             {"Attention", "{\"score_mode\": \"concat\", \"use_scale\": true}"},
                             {"AdditiveAttention", "{}"},
                             {"Attention", "{\"use_scale\": true, \"dropout\": 0.4}"},
                             {"AdditiveAttention", "{\"dropout\": 0.4}"}};
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        kc_object *l = tu_layer(cfgs[i][0], cfgs[i][1]);
        char what[200];
        snprintf(what, sizeof what, "%s %s", cfgs[i][0], cfgs[i][1]);
        check_layer_grads(what, l, (kc_tensor *[]){q, v, k}, 3, i >= 3);
        kc_object_unref(l);
    }
    kc_tensor_unref(q), kc_tensor_unref(v), kc_tensor_unref(k);
}
END_TEST

START_TEST(dense_attention_configs_and_weights)
{
    kc_object *a = tu_layer("Attention", "{\"use_scale\": true, \"score_mode\": \"concat\", \"dropout\": 0.1}");
    kc_object *b = tu_layer("AdditiveAttention", NULL);
    kc_tensor *q = tu_random(3, D(1, 2, 4), -1, 1, 1), *v = tu_random(3, D(1, 3, 4), -1, 1, 2);
    kc_tensor *y = NULL, *out[2];
    int n;
    CK_OK(kc_layer_call(a, (kc_tensor *[]){q, v}, 2, NULL, false, out, NULL, &n, &err));
    kc_tensor_unref(out[0]);
    CK_OK(kc_layer_call(b, (kc_tensor *[]){q, v}, 2, NULL, false, out, NULL, &n, &err));
    kc_tensor_unref(out[0]);
    ck_assert_int_eq(kc_layer_num_weights(a), 2);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(a, 0)), "attention/scale:0");
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(a, 1)), "attention/concat_score_weight:0");
    ck_assert_int_eq(kc_tensor_ndim(kc_variable_value(kc_layer_weight(a, 0))), 0);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(b, 0)), "additive_attention/scale:0");
    ck_assert_int_eq(kc_tensor_dim(kc_variable_value(kc_layer_weight(b, 0)), 0), 4);
    json_t *cfg;
    CK_OK(kc_object_get_config(a, &cfg, &err));
    ck_assert(json_is_true(json_object_get(cfg, "use_scale")));
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "score_mode")), "concat");
    ck_assert(json_object_get(cfg, "causal") == NULL);
    json_decref(cfg);
    CK_OK(kc_object_get_config(b, &cfg, &err));
    ck_assert(json_is_true(json_object_get(cfg, "use_scale")));
    ck_assert(json_object_get(cfg, "score_mode") == NULL);
    json_decref(cfg);
    /* errors name the layer */
    ck_assert_ptr_null(kc_layer_create("Attention", "{\"score_mode\": \"sum\"}", &err));
    CK_ERR(err, KC_EFORMAT, "score_mode");
    kc_error_clear(&err);
    kc_tensor *bad = tu_random(3, D(1, 3, 5), -1, 1, 3);
    ck_assert_int_eq(kc_layer_call(a, (kc_tensor *[]){q, v, bad}, 3, NULL, false, out, NULL, &n, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "attention");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_layer_call_kw(a, (kc_tensor *[]){q, v}, NULL, 2, "{\"use_causal_masks\": true}", NULL, false,
                                      out, NULL, &n, &err),
                     KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "use_causal_masks");
    kc_tensor_unref(y), kc_tensor_unref(q), kc_tensor_unref(v), kc_tensor_unref(bad);
    kc_object_unref(a), kc_object_unref(b);
}
END_TEST

/* ---- GroupNormalization, UnitNormalization, Identity --------------------------------------------------------- */

START_TEST(group_normalization_matches_loops)
{
    /* x [2, 3, 4] with 4 channels in 2 groups on the last axis; and
     * channels first (axis 1, 3 channels, 3 groups = instance norm) */
    kc_object *l = tu_layer("GroupNormalization", "{\"groups\": 2, \"epsilon\": 0.01}");
    kc_tensor *x = tu_random(3, D(2, 3, 4), -2, 2, 71);
    kc_tensor *y = kc_layer_call1(l, x, false, &err);
    CK_NN(y, err);
    randomize(l, 72);
    kc_tensor_unref(y);
    y = kc_layer_call1(l, x, false, &err);
    const float *xv = kc_tensor_cdata(x), *g = wdata(l, 0), *be = wdata(l, 1);
    double want[24];
    for (int b = 0; b < 2; b++)
        for (int gr = 0; gr < 2; gr++) {
            double m = 0, v = 0;
            for (int t = 0; t < 3; t++)
                for (int c = 2 * gr; c < 2 * gr + 2; c++) m += xv[(b * 3 + t) * 4 + c] / 6.0;
            for (int t = 0; t < 3; t++)
                for (int c = 2 * gr; c < 2 * gr + 2; c++) v += pow(xv[(b * 3 + t) * 4 + c] - m, 2) / 6.0;
            for (int t = 0; t < 3; t++)
                for (int c = 2 * gr; c < 2 * gr + 2; c++)
                    want[(b * 3 + t) * 4 + c] = (xv[(b * 3 + t) * 4 + c] - m) / sqrt(v + 0.01) * g[c] + be[c];
        }
    assert_close_d(y, want, 1e-5, 1e-5, "GroupNormalization(groups=2)");
    kc_tensor_unref(y);
    ck_assert_str_eq(kc_variable_name(kc_layer_weight(l, 0)), "group_normalization/gamma:0");
    kc_object *inst = tu_layer("GroupNormalization", "{\"groups\": -1, \"axis\": 1, \"center\": false}");
    y = kc_layer_call1(inst, x, false, &err);
    CK_NN(y, err);
    ck_assert_int_eq(kc_layer_num_weights(inst), 1);
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 3; t++) {
            double m = 0, v = 0;
            for (int c = 0; c < 4; c++) m += xv[(b * 3 + t) * 4 + c] / 4.0;
            for (int c = 0; c < 4; c++) v += pow(xv[(b * 3 + t) * 4 + c] - m, 2) / 4.0;
            for (int c = 0; c < 4; c++) want[(b * 3 + t) * 4 + c] = (xv[(b * 3 + t) * 4 + c] - m) / sqrt(v + 1e-3);
        }
    assert_close_d(y, want, 1e-5, 1e-5, "GroupNormalization(groups=-1, axis=1)");
    json_t *cfg;
    CK_OK(kc_object_get_config(inst, &cfg, &err));
    ck_assert_int_eq(json_integer_value(json_object_get(cfg, "groups")), 3); /* resolved, as Keras */
    json_decref(cfg);
    check_layer_grads("GroupNormalization", l, &x, 1, false);
    check_layer_grads("GroupNormalization(axis=1)", inst, &x, 1, false);
    kc_object *bad = tu_layer("GroupNormalization", "{\"groups\": 3}");
    ck_assert_ptr_null(kc_layer_call1(bad, x, false, &err));
    CK_ERR(err, KC_ESHAPE, "must be a multiple");
    kc_tensor_unref(y), kc_tensor_unref(x);
    kc_object_unref(l), kc_object_unref(inst), kc_object_unref(bad);
}
END_TEST

START_TEST(unit_normalization_and_identity)
{
    /* the Keras docstring: rows of arange(6).reshape(2, 3) get unit norm */
    kc_object *u = tu_layer("UnitNormalization", NULL);
    kc_tensor *x = TU_T2(2, 3, 0, 1, 2, 3, 4, 5), *zero = TU_T2(1, 3, 0, 0, 0);
    kc_tensor *y = kc_layer_call1(u, x, false, &err);
    CK_NN(y, err);
    float n1 = sqrtf(5.0f), n2 = sqrtf(50.0f);
    tu_assert_close(y, 2, D(2, 3), F(0, 1 / n1, 2 / n1, 3 / n2, 4 / n2, 5 / n2), 1e-6, 1e-7, "UnitNormalization");
    kc_tensor *y0 = kc_layer_call1(u, zero, false, &err);
    tu_assert_close(y0, 2, D(1, 3), F(0, 0, 0), 0, 0, "a zero row stays zero");
    json_t *cfg;
    CK_OK(kc_object_get_config(u, &cfg, &err));
    char *t = kc_json_dump(json_object_get(cfg, "axis"), &err);
    ck_assert_str_eq(t, "[1]"); /* validate_axis: a list once built */
    kc_json_free(t);
    json_decref(cfg);
    kc_object *u2 = tu_layer("UnitNormalization", "{\"axis\": [1, 2]}");
    kc_tensor *x3 = tu_random(3, D(2, 3, 2), -1, 1, 81);
    check_layer_grads("UnitNormalization(axis=[1, 2])", u2, &x3, 1, false);
    kc_tensor *y3 = kc_layer_call1(u2, x3, false, &err);
    for (int b = 0; b < 2; b++) {
        double ss = 0;
        for (int i = 0; i < 6; i++) ss += pow(kc_tensor_f32(y3)[b * 6 + i], 2);
        ck_assert_msg(fabs(ss - 1) < 1e-5, "sample %d has norm^2 %g", b, ss);
    }
    /* Identity: inputs and masks through */
    kc_object *id = tu_layer("Identity", NULL);
    kc_tensor *m = TU_T1(2, 1, 0), *out[2], *om[2];
    int n;
    CK_OK(kc_layer_call(id, (kc_tensor *[]){x, x3}, 2, (kc_tensor *[]){m, NULL}, false, out, om, &n, &err));
    ck_assert_int_eq(n, 2);
    ck_assert_ptr_eq(out[0], x);
    ck_assert_ptr_eq(out[1], x3);
    ck_assert_ptr_eq(om[0], m);
    ck_assert_ptr_null(om[1]);
    for (int i = 0; i < 2; i++) kc_tensor_unref(out[i]), kc_tensor_unref(om[i]);
    kc_tensor_unref(x), kc_tensor_unref(zero), kc_tensor_unref(y), kc_tensor_unref(y0), kc_tensor_unref(x3);
    kc_tensor_unref(y3), kc_tensor_unref(m);
    kc_object_unref(u), kc_object_unref(u2), kc_object_unref(id);
}
END_TEST

/* ---- EinsumDense ------------------------------------------------------------------------------------------------ */

/* out = einsum(eq, x, kernel) + bias by enumerating every assignment of
 * the letters (eq without ellipses). */
static void einsum_reference(const char *eq, const kc_tensor *x, const kc_tensor *k, const kc_tensor *bias,
                             const kc_tensor *like, double *out)
{
    char in[9] = {0}, ker[9] = {0}, o[9] = {0}, all[27] = {0};
    ck_assert(sscanf(eq, "%8[a-z],%8[a-z]->%8[a-z]", in, ker, o) == 3);
    int64_t size[128] = {0};
    int n_all = 0;
    for (int i = 0; in[i]; i++) size[(int)in[i]] = kc_tensor_dim(x, i);
    for (int i = 0; ker[i]; i++) size[(int)ker[i]] = kc_tensor_dim(k, i);
    for (int i = 0; o[i]; i++) size[(int)o[i]] = kc_tensor_dim(like, i);
    for (int c = 'a'; c <= 'z'; c++)
        if (size[c]) all[n_all++] = (char)c;
    int64_t n_out = kc_tensor_size(like), idx[128] = {0};
    for (int64_t i = 0; i < n_out; i++) out[i] = 0;
    const float *xv = kc_tensor_cdata(x), *kv = kc_tensor_cdata(k);
    for (;;) {
        int64_t xi = 0, ki = 0, oi = 0;
        for (int i = 0; in[i]; i++) xi = xi * size[(int)in[i]] + idx[(int)in[i]];
        for (int i = 0; ker[i]; i++) ki = ki * size[(int)ker[i]] + idx[(int)ker[i]];
        for (int i = 0; o[i]; i++) oi = oi * size[(int)o[i]] + idx[(int)o[i]];
        out[oi] += (double)xv[xi] * kv[ki];
        int j = n_all - 1;
        while (j >= 0 && ++idx[(int)all[j]] == size[(int)all[j]]) idx[(int)all[j--]] = 0;
        if (j < 0) break;
    }
    if (!bias) return;
    int64_t nb = kc_tensor_size(bias), rb = kc_tensor_ndim(bias), ro = kc_tensor_ndim(like);
    for (int64_t i = 0; i < n_out; i++) { /* bias aligned with the output's last axes */
        int64_t rem = i, bi = 0, stride = 1;
        for (int a = (int)ro - 1; a >= 0; a--) {
            int64_t d = kc_tensor_dim(like, a), c = rem % d;
            rem /= d;
            int ba = a - (int)(ro - rb);
            if (ba >= 0) {
                int64_t bd = kc_tensor_dim(bias, ba);
                bi += (bd == 1 ? 0 : c) * stride;
                stride *= bd;
            }
        }
        ck_assert(bi < nb);
        out[i] += kc_tensor_cdata(bias) == NULL ? 0 : ((const float *)kc_tensor_cdata(bias))[bi];
    }
}

typedef struct einsum_case {
    const char *config;    /* EinsumDense config */
    const char *reference; /* the same equation with the ellipsis spelled out */
    int ndim;
    int64_t dims[4];       /* input */
    int out_ndim;
    int64_t out_dims[5];
    int kernel_ndim, bias_ndim;
    int64_t kernel_dims[4], bias_dims[4];
} einsum_case;

START_TEST(einsum_dense_equations_match_loops)
{
    static const einsum_case cases[] = {
        /* MultiHeadAttention's projections */
        {"{\"equation\": \"abc,cde->abde\", \"output_shape\": [null, 2, 3], \"bias_axes\": \"de\"}", "abc,cde->abde",
         3, {2, 4, 5}, 4, {2, 4, 2, 3}, 3, 2, {5, 2, 3}, {2, 3}},
        {"{\"equation\": \"abcd,cde->abe\", \"output_shape\": [4, 6], \"bias_axes\": \"e\"}", "abcd,cde->abe", 4,
         {2, 4, 2, 3}, 3, {2, 4, 6}, 3, 1, {2, 3, 6}, {6}},
        /* Dense, and Dense over any leading axes */
        {"{\"equation\": \"ab,bc->ac\", \"output_shape\": 5, \"bias_axes\": \"c\", \"activation\": \"tanh\"}", "ab,bc->ac",
         2, {3, 4}, 2, {3, 5}, 2, 1, {4, 5}, {5}},
        {"{\"equation\": \"...b,bc->...c\", \"output_shape\": 5, \"bias_axes\": \"c\"}", "xyb,bc->xyc", 3, {2, 3, 4}, 3,
         {2, 3, 5}, 2, 1, {4, 5}, {5}},
        /* a kernel stored the other way round, an output in another order */
        {"{\"equation\": \"abc,dc->abd\", \"output_shape\": [3, 6]}", "abc,dc->abd", 3, {2, 3, 4}, 3, {2, 3, 6}, 2, 0,
         {6, 4}, {0}},
        {"{\"equation\": \"abc,ce->aeb\", \"output_shape\": [4, 3], \"bias_axes\": \"e\"}", "abc,ce->aeb", 3, {2, 3, 5},
         3, {2, 4, 3}, 2, 2, {5, 4}, {4, 1}},
        /* everything contracted but the batch; the right-hand ellipsis */
        {"{\"equation\": \"abc,cb->a\", \"output_shape\": []}", "abc,cb->a", 3, {2, 3, 4}, 1, {2}, 2, 0, {4, 3}, {0}},
        {"{\"equation\": \"ab...,bc->ac...\", \"output_shape\": [4], \"bias_axes\": \"c\"}", "abx,bc->acx", 3,
         {2, 3, 5}, 3, {2, 4, 5}, 2, 2, {3, 4}, {4, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const einsum_case *c = &cases[i];
        kc_object *l = tu_layer("EinsumDense", c->config);
        kc_tensor *x = tu_random(c->ndim, c->dims, -1, 1, 90 + i);
        kc_tensor *y = kc_layer_call1(l, x, false, &err);
        ck_assert_msg(y != NULL, "%s: %s (%s)", c->config, err.message, err.context);
        randomize(l, 100 + i);
        kc_tensor_unref(y);
        y = kc_layer_call1(l, x, false, &err);
        ck_assert_int_eq(kc_tensor_ndim(y), c->out_ndim);
        for (int a = 0; a < c->out_ndim; a++) ck_assert_int_eq(kc_tensor_dim(y, a), c->out_dims[a]);
        kc_tensor *k = kc_variable_value(kc_layer_weight(l, 0));
        ck_assert_int_eq(kc_tensor_ndim(k), c->kernel_ndim);
        for (int a = 0; a < c->kernel_ndim; a++) ck_assert_int_eq(kc_tensor_dim(k, a), c->kernel_dims[a]);
        kc_tensor *b = kc_layer_num_weights(l) > 1 ? kc_variable_value(kc_layer_weight(l, 1)) : NULL;
        ck_assert_int_eq(b ? kc_tensor_ndim(b) : 0, c->bias_ndim);
        for (int a = 0; a < c->bias_ndim; a++) ck_assert_int_eq(kc_tensor_dim(b, a), c->bias_dims[a]);
        double want[256];
        ck_assert(kc_tensor_size(y) <= 256);
        einsum_reference(c->reference, x, k, b, y, want);
        if (strstr(c->config, "tanh"))
            for (int64_t j = 0; j < kc_tensor_size(y); j++) want[j] = tanh(want[j]);
        assert_close_d(y, want, 1e-5, 1e-6, c->config);
        check_layer_grads(c->config, l, &x, 1, false);
        /* config round trip */
        json_t *cfg, *cfg2;
        CK_OK(kc_object_get_config(l, &cfg, &err));
        kc_object *l2 = kc_object_from_config(kc_object_class(l), cfg, NULL, &err);
        CK_NN(l2, err);
        CK_OK(kc_object_get_config(l2, &cfg2, &err));
        ck_assert(json_equal(cfg, cfg2));
        json_decref(cfg), json_decref(cfg2);
        kc_tensor_unref(x), kc_tensor_unref(y);
        kc_object_unref(l), kc_object_unref(l2);
    }
}
END_TEST

START_TEST(einsum_dense_refuses_what_it_cannot_do)
{
    static const struct {
        const char *config;
        kc_status code;
        const char *needle;
    } bad[] = {
        {"{\"equation\": \"abc,bcd->abd\", \"output_shape\": [3, 4]}", KC_EUNSUPPORTED, "batched product"},
        {"{\"equation\": \"abc,cd->ad\", \"output_shape\": [4]}", KC_EUNSUPPORTED, "sums 'b'"},
        {"{\"equation\": \"ab,bc->acd\", \"output_shape\": [4, 2]}", KC_EFORMAT, "output letter 'd'"},
        {"{\"equation\": \"ab.c,cd->abd\", \"output_shape\": [4]}", KC_EFORMAT, "invalid equation"},
        {"{\"equation\": \"aab,bc->ac\", \"output_shape\": [4]}", KC_EFORMAT, "invalid equation"},
        {"{\"output_shape\": [4]}", KC_EFORMAT, "equation"},
        {"{\"equation\": \"ab,bc->ac\", \"output_shape\": 4, \"lora_rank\": 2}", KC_EUNSUPPORTED, "lora_rank"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kc_error_clear(&err);
        ck_assert_msg(kc_layer_create("EinsumDense", bad[i].config, &err) == NULL, "%s was accepted", bad[i].config);
        CK_ERR(err, bad[i].code, bad[i].needle);
    }
    /* shapes that do not fit: named at the call */
    kc_error_clear(&err);
    kc_object *l = tu_layer("EinsumDense", "{\"equation\": \"abc,cd->abd\", \"output_shape\": [3, 4], \"bias_axes\": \"d\"}");
    kc_tensor *x2 = tu_random(2, D(2, 5), -1, 1, 1), *x3 = tu_random(3, D(2, 4, 5), -1, 1, 2);
    ck_assert_ptr_null(kc_layer_call1(l, x2, false, &err));
    CK_ERR(err, KC_ESHAPE, "rank 2");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_layer_call1(l, x3, false, &err)); /* output_shape says 3 steps */
    CK_ERR(err, KC_ESHAPE, "output_shape gives 3");
    kc_tensor_unref(x2), kc_tensor_unref(x3);
    kc_object_unref(l);
    l = tu_layer("EinsumDense", "{\"equation\": \"abc,cd->abd\", \"output_shape\": [null, 4], \"bias_axes\": \"x\"}");
    x3 = tu_random(3, D(2, 4, 5), -1, 1, 2);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_layer_call1(l, x3, false, &err));
    CK_ERR(err, KC_EFORMAT, "bias axis 'x'");
    kc_tensor_unref(x3);
    kc_object_unref(l);
}
END_TEST

/* ---- MultiHeadAttention beyond sequences ----------------------------------------------------------------------- */

START_TEST(mha_attention_axes_and_output_shape)
{
    /* [B, X, Y, d] images attending over Y only: each row x is its own
     * sequence, so the result equals the rank-3 layer applied per row */
    kc_object *l = tu_layer("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 3, \"attention_axes\": [2], "
                                              "\"output_shape\": [2, 3]}");
    kc_tensor *q = tu_random(4, D(2, 3, 4, 5), -1, 1, 111), *v = tu_random(4, D(2, 3, 6, 4), -1, 1, 112);
    kc_tensor *out[2];
    int n;
    CK_OK(kc_layer_call_kw(l, (kc_tensor *[]){q, v}, NULL, 2, "{\"return_attention_scores\": true}", NULL, false, out,
                           NULL, &n, &err));
    ck_assert_int_eq(kc_tensor_ndim(out[0]), 5); /* (2, 3, 4, 2, 3) */
    ck_assert_int_eq(kc_tensor_dim(out[0], 3), 2);
    ck_assert_int_eq(kc_tensor_dim(out[0], 4), 3);
    ck_assert_int_eq(kc_tensor_ndim(out[1]), 5); /* (batch, X, heads, Y_q, Y_v) */
    ck_assert_int_eq(kc_tensor_dim(out[1], 1), 3);
    ck_assert_int_eq(kc_tensor_dim(out[1], 2), 2);
    ck_assert_int_eq(kc_tensor_dim(out[1], 4), 6);
    kc_tensor_unref(out[0]), kc_tensor_unref(out[1]);
    randomize(l, 120);
    kc_tensor *y = NULL;
    CK_OK(kc_layer_call(l, (kc_tensor *[]){q, v}, 2, NULL, false, &y, NULL, &n, &err));
    /* the same weights in a rank-3 layer, fed row x of every sample */
    kc_object *l3 = tu_layer("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 3, \"output_shape\": [2, 3]}");
    for (int x = 0; x < 3; x++) {
        kc_tensor *qx = kc_tensor_empty(KC_FLOAT32, 3, D(2, 4, 5), &err), *vx = kc_tensor_empty(KC_FLOAT32, 3, D(2, 6, 4), &err);
        for (int b = 0; b < 2; b++) {
            memcpy(kc_tensor_f32(qx) + b * 20, kc_tensor_f32(q) + (b * 3 + x) * 20, 20 * sizeof(float));
            memcpy(kc_tensor_f32(vx) + b * 24, kc_tensor_f32(v) + (b * 3 + x) * 24, 24 * sizeof(float));
        }
        kc_tensor *yx = NULL;
        CK_OK(kc_layer_call(l3, (kc_tensor *[]){qx, vx}, 2, NULL, false, &yx, NULL, &n, &err));
        if (x == 0) {
            kc_tensor *w[8];
            CK_OK(kc_layer_get_weights(l, w, &err));
            CK_OK(kc_layer_set_weights(l3, w, 8, &err));
            for (int i = 0; i < 8; i++) kc_tensor_unref(w[i]);
            kc_tensor_unref(yx);
            CK_OK(kc_layer_call(l3, (kc_tensor *[]){qx, vx}, 2, NULL, false, &yx, NULL, &n, &err));
        }
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 24; i++)
                ck_assert_msg(fabsf(kc_tensor_f32(yx)[b * 24 + i] - kc_tensor_f32(y)[(b * 3 + x) * 24 + i]) < 1e-5f,
                              "row %d sample %d value %d", x, b, i);
        kc_tensor_unref(qx), kc_tensor_unref(vx), kc_tensor_unref(yx);
    }
    /* gradients through the transposes of a non-default layout */
    kc_tensor *qs = tu_random(4, D(2, 3, 2, 4), -1, 1, 113), *vs = tu_random(4, D(2, 3, 3, 2), -1, 1, 114);
    kc_object *l2 = tu_layer("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 2, \"attention_axes\": 1}");
    mha_case c = {.layer = l2, .n_data = 2};
    kc_tensor *y2 = mha_fn((kc_tensor *[]){qs, vs}, &c, &err);
    ck_assert_msg(y2 == NULL, "query and value differ on a non-attention axis: must fail");
    CK_ERR(err, KC_ESHAPE, "not an attention axis");
    kc_error_clear(&err);
    kc_tensor_unref(vs);
    vs = tu_random(4, D(2, 3, 2, 2), -1, 1, 114);
    check_mha_grads("MHA attention_axes=1 on rank 4", &c, (kc_tensor *[]){qs, vs});
    kc_tensor_unref(q), kc_tensor_unref(v), kc_tensor_unref(y), kc_tensor_unref(qs), kc_tensor_unref(vs);
    kc_object_unref(l), kc_object_unref(l2), kc_object_unref(l3);
}
END_TEST

START_TEST(mha_errors_name_the_argument)
{
    kc_object *l = small_mha();
    kc_tensor *q = tu_random(3, D(2, 4, 3), -1, 1, 1), *v = tu_random(3, D(2, 5, 2), -1, 1, 2);
    kc_tensor *out[2];
    int n;
    ck_assert_int_eq(kc_layer_call_kw(l, (kc_tensor *[]){q, v}, (const char *[]){NULL, "values"}, 2, NULL, NULL, false,
                                      out, NULL, &n, &err),
                     KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "no tensor argument 'values'");
    CK_ERR(err, KC_EINVAL, "multi_head_attention");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_layer_call_kw(l, (kc_tensor *[]){q, v, v}, (const char *[]){NULL, "value", "value"}, 3, NULL,
                                      NULL, false, out, NULL, &n, &err),
                     KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "given twice");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_layer_call(l, &q, 1, NULL, false, out, NULL, &n, &err), KC_EINVAL);
    kc_error_clear(&err);
    ck_assert_int_eq(kc_layer_call_kw(l, (kc_tensor *[]){q, v}, NULL, 2, "{\"use_causal_mask\": 1}", NULL, false, out,
                                      NULL, &n, &err),
                     KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "use_causal_mask");
    kc_error_clear(&err);
    kc_tensor *bad_mask = tu_random(3, D(2, 3, 5), 0, 1, 3);
    ck_assert_int_eq(kc_layer_call_kw(l, (kc_tensor *[]){q, v, bad_mask}, (const char *[]){NULL, NULL, "attention_mask"},
                                      3, NULL, NULL, false, out, NULL, &n, &err),
                     KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "attention_mask");
    kc_error_clear(&err);
    /* the options text: JSON, and an object (both entry points) */
    ck_assert_int_eq(kc_layer_call_kw(l, (kc_tensor *[]){q, v}, NULL, 2, "{\"use_causal_mask\": tru", NULL, false, out,
                                      NULL, &n, &err),
                     KC_EFORMAT);
    kc_error_clear(&err);
    ck_assert_int_eq(kc_layer_call_kw(l, (kc_tensor *[]){q, v}, NULL, 2, "[true]", NULL, false, out, NULL, &n, &err),
                     KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "kc_layer_call_kw: options must be a JSON object");
    kc_error_clear(&err);
    kc_symbol *sq = kc_input(2, D(4, 3), NULL, &err), *sv = kc_input(2, D(5, 2), NULL, &err), *sy[2];
    CK_NN(sv, err);
    ck_assert_int_eq(kc_apply_kw(l, (kc_symbol *[]){sq, sv}, NULL, 2, "[7]", sy, &n, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "kc_apply_kw: options must be a JSON object");
    ck_assert_int_eq(n, 0);
    kc_error_clear(&err);
    ck_assert_int_eq(kc_apply_kw(l, (kc_symbol *[]){sq, sv}, NULL, 2, "{", sy, &n, &err), KC_EFORMAT);
    kc_error_clear(&err);
    kc_symbol_unref(sq), kc_symbol_unref(sv);
    /* a layer that takes no keyword arguments refuses them */
    kc_object *d = tu_layer("Dense", "{\"units\": 2}");
    ck_assert_int_eq(kc_layer_call_kw(d, &q, NULL, 1, "{\"use_causal_mask\": true}", NULL, false, out, NULL, &n, &err),
                     KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "takes no keyword arguments");
    kc_error_clear(&err);
    /* training as an option overrides the caller's flag */
    kc_object *drop = tu_layer("Dropout", "{\"rate\": 0.5}");
    CK_OK(kc_layer_call_kw(drop, &q, NULL, 1, "{\"training\": true}", NULL, false, out, NULL, &n, &err));
    int zeros = 0;
    for (int64_t i = 0; i < kc_tensor_size(out[0]); i++) zeros += kc_tensor_f32(out[0])[i] == 0.0f;
    ck_assert_msg(zeros > 0, "training=True in the call did not apply dropout");
    kc_tensor_unref(out[0]);
    ck_assert_ptr_null(kc_layer_create("MultiHeadAttention", "{\"num_heads\": 2}", &err));
    CK_ERR(err, KC_EFORMAT, "key_dim");
    kc_tensor_unref(q), kc_tensor_unref(v), kc_tensor_unref(bad_mask);
    kc_object_unref(l), kc_object_unref(d), kc_object_unref(drop);
}
END_TEST

/* ---- allocation failures ---------------------------------------------------------------------------------------- */

static kc_status run_kw(const char *cls, const char *cfg, kc_tensor *const *in, const char *const *names, int n,
                        const char *options, kc_tensor *const *masks, kc_tensor **out, kc_error *e)
{
    kc_object *l = kc_layer_create(cls, cfg, e);
    if (!l) return e->code;
    kc_tensor *o[KC_MAX_LAYER_OUTPUTS];
    int n_out = 0;
    kc_status rc = kc_layer_call_kw(l, in, names, n, options, masks, true, o, NULL, &n_out, e);
    for (int i = 1; i < n_out; i++) kc_tensor_unref(o[i]);
    *out = rc == KC_OK ? o[0] : NULL;
    kc_object_unref(l);
    return rc;
}

/* Every layer of this suite once under a tape, then a Functional model
 * with keyword-argument nodes through its config and back. */
static kc_status oom_scenario(kc_error *e)
{
    kc_status rc = KC_OK;
    kc_tensor *t[8] = {0}, *g[2] = {0}, *sum = NULL;
    kc_object *model = NULL, *again = NULL;
    json_t *cfg = NULL;
    kc_symbol *q = NULL, *v = NULL, *y = NULL;
    kc_tensor *x = kc_tensor_full(KC_FLOAT32, 3, D(2, 3, 4), 0.5, e);
    kc_tensor *mask = kc_tensor_ones(KC_FLOAT32, 3, D(2, 3, 3), e), *qm = kc_tensor_ones(KC_FLOAT32, 2, D(2, 3), e);
    kc_tape *tape = kc_tape_begin(0, e);
    if (!x || !mask || !qm || !tape || kc_tape_watch(tape, x, e) != KC_OK) goto out;
    if ((rc = run_kw("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 2, \"dropout\": 0.5}", (kc_tensor *[]){x, x, mask},
                     (const char *[]){NULL, NULL, "attention_mask"}, 3, "{\"use_causal_mask\": true}",
                     (kc_tensor *[]){qm, qm, NULL}, &t[0], e)))
        goto out;
    if ((rc = run_kw("Attention", "{\"use_scale\": true, \"dropout\": 0.5}", (kc_tensor *[]){x, x}, NULL, 2,
                     "{\"use_causal_mask\": true}", (kc_tensor *[]){qm, qm}, &t[1], e)))
        goto out;
    if ((rc = run_kw("AdditiveAttention", "{\"dropout\": 0.5}", (kc_tensor *[]){x, x}, NULL, 2, NULL,
                     (kc_tensor *[]){qm, qm}, &t[2], e)))
        goto out;
    if ((rc = run_kw("EinsumDense", "{\"equation\": \"abc,ce->aeb\", \"output_shape\": [2, 3], \"bias_axes\": \"e\"}", &x,
                     NULL, 1, NULL, NULL, &t[3], e)))
        goto out;
    if ((rc = run_kw("GroupNormalization", "{\"groups\": 2}", &x, NULL, 1, NULL, NULL, &t[4], e))) goto out;
    if ((rc = run_kw("UnitNormalization", NULL, &x, NULL, 1, NULL, NULL, &t[5], e))) goto out;
    if ((rc = run_kw("Identity", NULL, &t[5], NULL, 1, NULL, NULL, &t[6], e))) goto out;
    kc_tape_end(tape);
    if (!(sum = kc_add(t[0], t[1], e))) goto out;
    rc = kc_tape_gradient(tape, sum, &x, 1, g, e);
    if (rc != KC_OK) goto out;
    /* a model with mha(q, v, use_causal_mask=True), through its config */
    q = kc_input(2, D(3, 4), "q", e);
    v = kc_input(2, D(3, 4), "v", e);
    kc_object *mha = q && v ? kc_layer_create("MultiHeadAttention", "{\"num_heads\": 1, \"key_dim\": 2}", e) : NULL;
    int n = 0;
    if (mha) rc = kc_apply_kw(mha, (kc_symbol *[]){q, v}, NULL, 2, "{\"use_causal_mask\": true}", &y, &n, e);
    kc_object_unref(mha);
    if (!mha || rc != KC_OK) goto out;
    if (!(model = kc_functional_new((kc_symbol *[]){q, v}, 2, &y, 1, "m", e))) goto out;
    if ((rc = kc_object_get_config(model, &cfg, e)) != KC_OK) goto out;
    if (!(again = kc_object_from_config(kc_object_class(model), cfg, NULL, e))) goto out;
    rc = kc_model_predict(again, (kc_tensor *[]){x, x}, 2, 32, &g[1], &n, e);
out:
    if (rc == KC_OK && e->code != KC_OK) rc = e->code;
    for (int i = 0; i < 8; i++) kc_tensor_unref(t[i]);
    kc_tensor_unref(g[0]), kc_tensor_unref(g[1]), kc_tensor_unref(sum);
    kc_tensor_unref(x), kc_tensor_unref(mask), kc_tensor_unref(qm);
    kc_symbol_unref(q), kc_symbol_unref(v), kc_symbol_unref(y);
    json_decref(cfg);
    kc_object_unref(model), kc_object_unref(again);
    kc_tape_free(tape);
    kc_clear_session();
    return rc;
}

START_TEST(allocation_failures_are_enomem_without_leaks)
{
    int failures = tu_alloc_failure_sweep(oom_scenario, 100000);
    ck_assert_msg(failures > 100, "only %d allocation points were exercised", failures);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("layers_attention");
    TCase *tc = tcase_create("attention");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, mha_weights_have_keras_names_shapes_and_order);
    tcase_add_test(tc, mha_forward_matches_loops_with_key_and_masks);
    tcase_add_test(tc, mha_gradients_vs_finite_differences);
    tcase_add_test(tc, mha_dropout_trains_and_differentiates);
    tcase_add_test(tc, dense_attention_layers_match_loops);
    tcase_add_test(tc, dense_attention_gradients_vs_finite_differences);
    tcase_add_test(tc, dense_attention_configs_and_weights);
    tcase_add_test(tc, group_normalization_matches_loops);
    tcase_add_test(tc, unit_normalization_and_identity);
    tcase_add_test(tc, einsum_dense_equations_match_loops);
    tcase_add_test(tc, einsum_dense_refuses_what_it_cannot_do);
    tcase_add_test(tc, mha_attention_axes_and_output_shape);
    tcase_add_test(tc, mha_errors_name_the_argument);
    tcase_add_test(tc, allocation_failures_are_enomem_without_leaks);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
