/* Losses: every built-in against hand-computed values (double-precision
 * evaluations of Keras' formulas, and the numbers in Keras' docstrings),
 * reductions and sample weights, gradients against finite differences,
 * configs, errors, the seed's two Huber losses as user code, and
 * TensorFlow.js' values and gradients (tests/data/losses/tfjs.json). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define D(...) ((int64_t[]){__VA_ARGS__})
#define F(...) ((float[]){__VA_ARGS__})

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
}

static kc_object *loss_of(const char *spec)
{
    kc_object *l = kc_object_create(KC_KIND_LOSS, spec, &err);
    ck_assert_msg(l != NULL, "%s: %s (%s)", spec, err.message, err.context);
    return l;
}

/* Per-sample losses of `spec` (kc_loss_call) against want; takes yt, yp. */
static void check_call(const char *spec, kc_tensor *yt, kc_tensor *yp, int ndim,
                       const int64_t *dims, const float *want, double rtol)
{
    kc_object *l = loss_of(spec);
    kc_tensor *got = kc_loss_call(l, yt, yp, &err);
    ck_assert_msg(got != NULL, "%s: %s (%s)", spec, err.message, err.context);
    tu_assert_close(got, ndim, dims, want, rtol, 1e-6, spec);
    kc_tensor_unref(got);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_object_unref(l);
}
#define CALL1(spec, yt, yp, n, rtol, ...) check_call(spec, yt, yp, 1, D(n), F(__VA_ARGS__), rtol)

/* The reduced loss (kc_loss_compute) against want; takes yt, yp, sw. */
static void check_compute(const char *spec, kc_tensor *yt, kc_tensor *yp, kc_tensor *sw, int ndim,
                          const int64_t *dims, const float *want, double rtol)
{
    kc_object *l = loss_of(spec);
    kc_tensor *got = kc_loss_compute(l, yt, yp, sw, &err);
    ck_assert_msg(got != NULL, "%s: %s (%s)", spec, err.message, err.context);
    tu_assert_close(got, ndim, dims, want, rtol, 1e-6, spec);
    kc_tensor_unref(got);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_tensor_unref(sw);
    kc_object_unref(l);
}
#define SCALAR(spec, yt, yp, sw, rtol, want) check_compute(spec, yt, yp, sw, 0, NULL, F(want), rtol)

/* ---- values ------------------------------------------------------------------------ */

START_TEST(regression_losses_match_hand_values)
{
    /* y_true [[0,1,2],[1,1,1]], y_pred [[1,1,0],[0.5,2,1]] */
#define YT TU_T2(2, 3, 0, 1, 2, 1, 1, 1)
#define YP TU_T2(2, 3, 1, 1, 0, 0.5f, 2, 1)
    CALL1("mse", YT, YP, 2, 1e-6, 5.0f / 3, 5.0f / 12);
    CALL1("MeanSquaredError", YT, YP, 2, 1e-6, 5.0f / 3, 5.0f / 12);
    CALL1("mae", YT, YP, 2, 1e-6, 1.0f, 0.5f);
    CALL1("MeanAbsoluteError", YT, YP, 2, 1e-6, 1.0f, 0.5f);
    /* a zero target divides by eps = 1e-7: 100 * (1 / 1e-7 + 0 + 1) / 3 */
    CALL1("mape", YT, YP, 2, 1e-5, 333333367.0f, 50.0f);
    CALL1("MeanAbsolutePercentageError", YT, YP, 2, 1e-5, 333333367.0f, 50.0f);
#undef YT
#undef YP
    /* msle clips negative predictions to eps: log(eps + 1) ~ 0 */
    CALL1("msle", TU_T2(2, 3, 0, 1, 3, 2, 0.5f, 0), TU_T2(2, 3, -1, 1.5f, 2, 2, 0, 0.25f), 2, 1e-5,
          0.0441846731f, 0.0713982909f);
    /* Huber: errors 0.5, 1 (exactly delta: quadratic), 1.5, 3 | 2, 0.25, 2.5, 4 */
#define YT TU_T2(2, 4, 0, 0, 0, 0, 0, 0, 0, 0)
#define YP TU_T2(2, 4, 0.5f, -1, 1.5f, -3, 2, 0.25f, -2.5f, 4)
    CALL1("huber", YT, YP, 2, 1e-6, 1.03125f, 1.7578125f);
    CALL1("Huber", YT, YP, 2, 1e-6, 1.03125f, 1.7578125f);
    CALL1("{\"class_name\": \"Huber\", \"config\": {\"delta\": 2.0}}", YT, YP, 2, 1e-6, 1.4375f,
          2.7578125f);
#undef YT
#undef YP
    /* log-cosh stays finite for errors of 100 and -30 (cosh overflows there) */
    CALL1("log_cosh", TU_T2(2, 3, 0, 1, 0, 0, 0, 0), TU_T2(2, 3, 0.5f, -1, 100, 0, 2, -30), 2, 1e-6,
          33.58399f, 10.2106185f);
    CALL1("logcosh", TU_T2(2, 3, 0, 0, 0, 0, 0, 0), TU_T2(2, 3, 0, 0, 0, 0, 0, 0), 2, 0, 0, 0);
    /* cosine: -cos; a zero vector gives 0, not NaN */
    CALL1("cosine_similarity", TU_T2(3, 3, 1, 0, 0, 1, 1, 0, 0, 0, 0),
          TU_T2(3, 3, 1, 1, 0, -2, -2, 0, 1, 2, 3), 3, 1e-6, -0.707106781f, 1.0f, 0.0f);
    CALL1("{\"class_name\": \"CosineSimilarity\", \"config\": {\"axis\": 0}}",
          TU_T2(3, 2, 1, 0, 2, 1, 0, 1), TU_T2(3, 2, 1, 1, 1, -1, 1, 2), 2, 1e-6, -0.774596669f,
          -0.288675135f);
    /* integer targets are cast to float, as Keras does */
    int32_t yi[] = {0, 1, 2, 1, 1, 1};
    CALL1("MeanSquaredError", kc_tensor_from_data(KC_INT32, 2, D(2, 3), yi, &err),
          TU_T2(2, 3, 1, 1, 0, 0.5f, 2, 1), 2, 1e-6, 5.0f / 3, 5.0f / 12);
}
END_TEST

START_TEST(probabilistic_losses_match_hand_values)
{
    /* exact 0 and 1 probabilities are clipped to [1e-7, 1 - 1e-7] */
#define YT TU_T2(2, 3, 1, 0, 1, 0, 1, 0.5f)
    CALL1("binary_crossentropy", YT, TU_T2(2, 3, 1, 0, 0, 0.3f, 0.6f, 1), 2, 1e-5, 5.37269862f,
          2.94623107f);
    CALL1("{\"class_name\": \"BinaryCrossentropy\", \"config\": {\"label_smoothing\": 0.2}}", YT,
          TU_T2(2, 3, 0.9f, 0.2f, 0.7f, 0.3f, 0.6f, 0.5f), 2, 1e-5, 0.376086897f, 0.561974682f);
    CALL1("{\"class_name\": \"BinaryCrossentropy\", \"config\": {\"from_logits\": true}}", YT,
          TU_T2(2, 3, 2, -1, 0, -30, 40, 0.5f), 2, 1e-5, 0.37777896f, 0.241358995f);
    CALL1("{\"class_name\": \"BinaryCrossentropy\", \"config\": {\"axis\": 0}}", YT,
          TU_T2(2, 3, 0.9f, 0.2f, 0.7f, 0.3f, 0.6f, 0.5f), 3, 1e-5, 0.23101773f, 0.366984588f,
          0.524911062f);
#undef YT
    /* categorical: probabilities renormalized ([1, 1, 2] / 4), then clipped */
#define YT TU_T2(3, 3, 0, 1, 0, 0, 0, 1, 1, 0, 0)
    CALL1("categorical_crossentropy", YT, TU_T2(3, 3, 0.2f, 0.6f, 0.2f, 1, 1, 2, 0, 1, 0), 3, 1e-5,
          0.510825624f, 0.693147181f, 16.1180957f);
    CALL1("{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"label_smoothing\": 0.3}}",
          YT, TU_T2(3, 3, 0.2f, 0.6f, 0.2f, 1, 1, 2, 0, 1, 0), 3, 1e-5, 0.730548081f, 0.831776617f,
          14.5062861f);
    CALL1("{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"from_logits\": true}}", YT,
          TU_T2(3, 3, 1, 2, 3, -50, 0, 50, 0, 0, 0), 3, 1e-5, 1.40760596f, 0.0f, 1.09861229f);
#undef YT
    CALL1("{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"axis\": 0}}",
          TU_T2(3, 2, 1, 0, 0, 1, 0, 0), TU_T2(3, 2, 0.5f, 0.1f, 0.25f, 0.6f, 0.25f, 0.3f), 2, 1e-5,
          0.693147181f, 0.510825624f);
    /* sparse: int32 [N], int64 [N, 1] and float labels give the same */
    int32_t l32[] = {1, 2, 0};
    int64_t l64[] = {1, 2, 0};
#define YP TU_T2(3, 3, 0.2f, 0.6f, 0.2f, 1, 1, 2, 0, 1, 0)
    CALL1("sparse_categorical_crossentropy", kc_tensor_from_data(KC_INT32, 1, D(3), l32, &err), YP,
          3, 1e-5, 0.510825624f, 1.09861229f, 16.1180957f);
    CALL1("SparseCategoricalCrossentropy", kc_tensor_from_data(KC_INT64, 2, D(3, 1), l64, &err), YP,
          3, 1e-5, 0.510825624f, 1.09861229f, 16.1180957f);
    CALL1("sparse_categorical_crossentropy", TU_T1(3, 1, 2, 0), YP, 3, 1e-5, 0.510825624f,
          1.09861229f, 16.1180957f);
#undef YP
    CALL1(
        "{\"class_name\": \"SparseCategoricalCrossentropy\", \"config\": {\"from_logits\": true}}",
        kc_tensor_from_data(KC_INT32, 1, D(3), l32, &err),
        TU_T2(3, 3, 1, 2, 3, -50, 0, 50, 0, 0, 0), 3, 1e-5, 1.40760596f, 0.0f, 1.09861229f);
    /* KL divergence clips both sides to [eps, 1]; zeros contribute 0 */
    CALL1("kld", TU_T2(2, 3, 0.2f, 0.8f, 0, 0, 0, 1), TU_T2(2, 3, 0.5f, 0.5f, 0, 0.3f, 0.7f, 0), 2,
          1e-5, 0.192744757f, 16.1180926f);
    CALL1("KLDivergence", TU_T2(2, 3, 0.2f, 0.8f, 0, 0, 0, 1),
          TU_T2(2, 3, 0.5f, 0.5f, 0, 0.3f, 0.7f, 0), 2, 1e-5, 0.192744757f, 16.1180926f);
    /* Poisson: y_pred - y_true log(y_pred + eps); a zero prediction stays finite */
    CALL1("poisson", TU_T2(2, 3, 0, 1, 2, 3, 0, 1), TU_T2(2, 3, 0.5f, 1, 0, 2, 0.1f, 4), 2, 1e-5,
          11.2453971f, 0.878087974f);
}
END_TEST

START_TEST(hinge_losses_match_hand_values)
{
    /* {0, 1} labels become {-1, 1} */
#define YP TU_T2(2, 3, 0.3f, -0.5f, 2, 0.8f, -0.2f, 0.6f)
    CALL1("hinge", TU_T2(2, 3, 0, 1, 1, 1, 0, 0), YP, 2, 1e-6, 0.933333333f, 0.866666667f);
    CALL1("SquaredHinge", TU_T2(2, 3, 0, 1, 1, 1, 0, 0), YP, 2, 1e-6, 1.31333333f, 1.08f);
    /* other labels are used as given */
    CALL1("Hinge", TU_T2(2, 3, -1, 1, 0.5f, 1, -1, 0), YP, 2, 1e-6, 0.933333333f, 0.666666667f);
#undef YP
    CALL1("categorical_hinge", TU_T2(2, 3, 0, 1, 0, 1, 0, 0),
          TU_T2(2, 3, 0.3f, 0.9f, 0.5f, -0.2f, 0.4f, 1.5f), 2, 1e-6, 0.6f, 2.7f);
}
END_TEST

/* Numbers from the docstrings of tf.keras 2.15's loss classes. */
START_TEST(keras_docstring_examples)
{
#define YT TU_T2(2, 2, 0, 1, 0, 0)
#define YP TU_T2(2, 2, 1, 1, 1, 0)
    SCALAR("mse", YT, YP, NULL, 1e-6, 0.5f);
    SCALAR("mse", YT, YP, TU_T1(2, 0.7f, 0.3f), 1e-6, 0.25f);
    SCALAR("{\"class_name\": \"MeanSquaredError\", \"config\": {\"reduction\": \"sum\"}}", YT, YP,
           NULL, 1e-6, 1.0f);
    check_compute("{\"class_name\": \"MeanSquaredError\", \"config\": {\"reduction\": \"none\"}}",
                  YT, YP, NULL, 1, D(2), F(0.5f, 0.5f), 1e-6);
    SCALAR("MeanAbsoluteError", YT, YP, TU_T1(2, 0.7f, 0.3f), 1e-6, 0.25f);
#undef YT
#undef YP
#define YT TU_T2(2, 3, 0, 1, 0, 0, 0, 1)
#define YP TU_T2(2, 3, 0.05f, 0.95f, 0, 0.1f, 0.8f, 0.1f)
    SCALAR("CategoricalCrossentropy", YT, YP, NULL, 1e-3, 1.177f);
    SCALAR("CategoricalCrossentropy", YT, YP, TU_T1(2, 0.3f, 0.7f), 1e-3, 0.814f);
    SCALAR("{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"reduction\": \"sum\"}}",
           YT, YP, NULL, 1e-3, 2.354f);
    SCALAR("SparseCategoricalCrossentropy", TU_T1(2, 1, 2), YP, TU_T1(2, 0.3f, 0.7f), 1e-3, 0.814f);
#undef YT
#undef YP
    SCALAR("{\"class_name\": \"CosineSimilarity\", \"config\": {\"axis\": 1}}",
           TU_T2(2, 2, 0, 1, 1, 1), TU_T2(2, 2, 1, 0, 1, 1), NULL, 1e-3, -0.5f);
    SCALAR("{\"class_name\": \"CosineSimilarity\", \"config\": {\"axis\": 1}}",
           TU_T2(2, 2, 0, 1, 1, 1), TU_T2(2, 2, 1, 0, 1, 1), TU_T1(2, 0.8f, 0.2f), 1e-2, -0.0999f);
    /* binary_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]) */
    CALL1("binary_crossentropy", TU_T2(2, 2, 0, 1, 0, 0), TU_T2(2, 2, 0.6f, 0.4f, 0.4f, 0.6f), 2,
          1e-3, 0.916f, 0.714f);
}
END_TEST

/* ---- reductions, sample weights, masks ------------------------------------------------ */

START_TEST(reductions_and_sample_weights)
{
    /* per-sample mse: [5/3, 5/12] */
#define YT TU_T2(2, 3, 0, 1, 2, 1, 1, 1)
#define YP TU_T2(2, 3, 1, 1, 0, 0.5f, 2, 1)
    SCALAR("mse", YT, YP, NULL, 1e-6, (5.0f / 3 + 5.0f / 12) / 2);
    /* sum_over_batch_size divides by the number of losses, not by sum(w) */
    SCALAR("mse", YT, YP, TU_T1(2, 0.5f, 2), 1e-6, (5.0f / 6 + 5.0f / 6) / 2);
    SCALAR("mse", YT, YP, TU_T2(2, 1, 0.5f, 2), 1e-6, (5.0f / 6 + 5.0f / 6) / 2); /* [N, 1] */
    SCALAR("mse", YT, YP, tu_tensor(0, NULL, F(3)), 1e-6, 3 * (5.0f / 3 + 5.0f / 12) / 2);
    SCALAR("{\"class_name\": \"MeanSquaredError\", \"config\": {\"reduction\": \"sum\"}}", YT, YP,
           TU_T1(2, 0.5f, 2), 1e-6, 5.0f / 3);
    check_compute("{\"class_name\": \"MeanSquaredError\", \"config\": {\"reduction\": \"none\"}}",
                  YT, YP, TU_T1(2, 0.5f, 2), 1, D(2), F(5.0f / 6, 5.0f / 6), 1e-6);
    /* zero weights: the average is still over both samples */
    SCALAR("mse", YT, YP, TU_T1(2, 0, 0), 0, 0.0f);
#undef YT
#undef YP
    /* [N] targets with [N, 1] predictions line up (no [N, N] broadcast) */
    check_compute("{\"class_name\": \"MeanAbsoluteError\", \"config\": {\"reduction\": \"none\"}}",
                  TU_T1(3, 1, 2, 3), TU_T2(3, 1, 1.5f, 2, 2), NULL, 1, D(3), F(0.5f, 0, 1), 1e-6);
    check_compute("{\"class_name\": \"MeanAbsoluteError\", \"config\": {\"reduction\": \"none\"}}",
                  TU_T2(3, 1, 1, 2, 3), TU_T1(3, 1.5f, 2, 2), NULL, 1, D(3), F(0.5f, 0, 1), 1e-6);
    /* rank-3 outputs: losses [2, 2]; weights [2] apply per sample */
    kc_tensor *yt = tu_tensor(3, D(2, 2, 2), F(0, 0, 0, 0, 0, 0, 0, 0));
    kc_tensor *yp = tu_tensor(3, D(2, 2, 2), F(1, 1, 2, 2, 3, 3, 4, 4));
    kc_tensor_ref(yt);
    kc_tensor_ref(yp);
    check_compute("{\"class_name\": \"MeanAbsoluteError\", \"config\": {\"reduction\": \"none\"}}",
                  yt, yp, TU_T1(2, 1, 10), 2, D(2, 2), F(1, 2, 30, 40), 1e-6);
    SCALAR("mae", yt, yp, TU_T2(2, 2, 1, 0, 0, 1), 1e-6, (1 + 4) / 4.0f);
}
END_TEST

START_TEST(ignore_class_masks_samples_out)
{
    int32_t lab[] = {1, -1, 2, -1};
    const float p[] = {0.2f, 0.6f, 0.2f, 0.3f, 0.3f, 0.4f, 1, 1, 2, 0.1f, 0.1f, 0.8f};
    const char *ign =
        "{\"class_name\": \"SparseCategoricalCrossentropy\", \"config\": {\"ignore_class\": -1%s}}";
    char spec[200];
    /* row 2 is clipped to [1 - eps, 1 - eps, 1 - eps] before the log, so
     * (like Keras, unlike the renormalizing categorical loss) it gives log 3 */
    float l0 = 0.510825624f, l2 = 1.09861229f;
    snprintf(spec, sizeof(spec), ign, ", \"reduction\": \"none\"");
    check_compute(spec, kc_tensor_from_data(KC_INT32, 1, D(4), lab, &err), tu_tensor(2, D(4, 3), p),
                  NULL, 1, D(4), F(l0, 0, l2, 0), 1e-5);
    snprintf(spec, sizeof(spec), ign, "");
    /* the average is over the 2 kept samples, weighted */
    SCALAR(spec, kc_tensor_from_data(KC_INT32, 1, D(4), lab, &err), tu_tensor(2, D(4, 3), p), NULL,
           1e-5, (l0 + l2) / 2);
    SCALAR(spec, kc_tensor_from_data(KC_INT32, 1, D(4), lab, &err), tu_tensor(2, D(4, 3), p),
           TU_T1(4, 2, 5, 1, 5), 1e-5, (2 * l0 + l2) / 2);
    snprintf(spec, sizeof(spec), ign, ", \"reduction\": \"sum\"");
    SCALAR(spec, kc_tensor_from_data(KC_INT32, 1, D(4), lab, &err), tu_tensor(2, D(4, 3), p), NULL,
           1e-5, l0 + l2);
    /* all ignored: 0, not NaN */
    int32_t none[] = {-1, -1, -1, -1};
    snprintf(spec, sizeof(spec), ign, "");
    SCALAR(spec, kc_tensor_from_data(KC_INT32, 1, D(4), none, &err), tu_tensor(2, D(4, 3), p), NULL,
           0, 0.0f);
    /* without ignore_class, -1 is an invalid label */
    kc_object *l = loss_of("SparseCategoricalCrossentropy");
    kc_tensor *yt = kc_tensor_from_data(KC_INT32, 1, D(4), lab, &err),
              *yp = tu_tensor(2, D(4, 3), p);
    ck_assert_ptr_null(kc_loss_compute(l, yt, yp, NULL, &err));
    CK_ERR(err, KC_EINVAL, "label -1 is outside the valid range [0, 3)");
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_object_unref(l);
}
END_TEST

/* ---- gradients ------------------------------------------------------------------- */

typedef struct grad_ctx {
    kc_object *loss;
    kc_tensor *y_true; /* fixed labels, or NULL: inputs are (y_true, y_pred) */
    kc_tensor *weight; /* kc_loss_compute with these weights, or NULL: kc_loss_call */
} grad_ctx;

static kc_tensor *loss_fn(kc_tensor *const *in, const void *vctx, kc_error *e)
{
    const grad_ctx *c = vctx;
    kc_tensor *yt = c->y_true ? c->y_true : in[0], *yp = c->y_true ? in[0] : in[1];
    return c->weight ? kc_loss_compute(c->loss, yt, yp, c->weight, e)
                     : kc_loss_call(c->loss, yt, yp, e);
}

typedef struct grad_case {
    const char *spec;
    float t_lo, t_hi; /* y_true range, or t_lo > t_hi: fixed labels */
    float p_lo, p_hi; /* y_pred range */
    const float *labels;
} grad_case;

START_TEST(gradients_match_finite_differences)
{
    const float onehot[] = {0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0};
    const float pm1[] = {1, -1, 1, -1, 1, 1, 1, 1, -1, -1, -1, 1};
    const float binary[] = {1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0};
    const grad_case cases[] = {
        {"mse", -2, 2, -2, 2, NULL},
        {"mae", -2, -1, 1, 2, NULL}, /* away from the kink at y_pred = y_true */
        {"mape", 0.5f, 2, -2, -1, NULL},
        {"msle", 0.1f, 2, 0.1f, 3, NULL},
        {"huber", -0.2f, 0.2f, -3, 3, NULL},
        {"{\"class_name\": \"Huber\", \"config\": {\"delta\": 0.5}}", -0.1f, 0.1f, -2, 2, NULL},
        {"log_cosh", -2, 2, -3, 3, NULL},
        {"binary_crossentropy", 0, 1, 0.2f, 0.8f, NULL},
        {"{\"class_name\": \"BinaryCrossentropy\", \"config\": {\"from_logits\": true, "
         "\"label_smoothing\": 0.1}}",
         0, 1, -4, 4, NULL},
        {"categorical_crossentropy", 0, 1, 0.2f, 0.8f, NULL},
        {"{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"from_logits\": true, "
         "\"label_smoothing\": 0.2}}",
         0, 1, -3, 3, NULL},
        {"{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"axis\": 0}}", 0, 1, 0.2f,
         0.8f, NULL},
        {"kld", 0.1f, 0.9f, 0.2f, 0.8f, NULL},
        {"poisson", 0, 3, 0.5f, 3, NULL},
        {"cosine_similarity", -2, 2, -2, 2, NULL},
        {"{\"class_name\": \"CosineSimilarity\", \"config\": {\"axis\": 0}}", -2, 2, -2, 2, NULL},
        {"hinge", 1, 0, 1.2f, 3, pm1},
        {"squared_hinge", 1, 0, -0.8f, 0.8f, binary},
        {"categorical_hinge", 1, 0, -2, 2, onehot},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const grad_case *c = &cases[i];
        kc_object *l = loss_of(c->spec);
        kc_tensor *yp = tu_random(2, D(4, 3), c->p_lo, c->p_hi, 10 + i);
        if (c->t_lo <= c->t_hi) {
            kc_tensor *yt = tu_random(2, D(4, 3), c->t_lo, c->t_hi, 20 + i);
            grad_ctx g = {l, NULL, NULL};
            kc_tensor *in[] = {yt, yp};
            tu_grad_check(c->spec, loss_fn, &g, in, 2, 1e-3, 2e-2, 2e-3);
            /* and through the reduction with per-sample weights (with
             * axis 0 the "samples" are the 3 columns) */
            g.weight = strstr(c->spec, "\"axis\": 0") ? TU_T1(3, 0.5f, 2, 0.25f)
                                                      : TU_T1(4, 0.5f, 1, 2, 0.25f);
            tu_grad_check(c->spec, loss_fn, &g, in, 2, 1e-3, 2e-2, 2e-3);
            kc_tensor_unref(g.weight);
            kc_tensor_unref(yt);
        } else {
            grad_ctx g = {l, tu_tensor(2, D(4, 3), c->labels), NULL};
            tu_grad_check(c->spec, loss_fn, &g, &yp, 1, 1e-3, 2e-2, 2e-3);
            kc_tensor_unref(g.y_true);
        }
        kc_tensor_unref(yp);
        kc_object_unref(l);
    }
    /* sparse labels, with an ignored sample (its gradient is 0) */
    const char *sparse[] = {
        "sparse_categorical_crossentropy",
        "{\"class_name\": \"SparseCategoricalCrossentropy\", \"config\": {\"from_logits\": true, "
        "\"ignore_class\": 7}}",
    };
    /* 7 is a valid label only as the ignored class */
    const int64_t labels[2][4] = {{2, 1, 0, 1}, {2, 7, 0, 1}};
    for (int i = 0; i < 2; i++) {
        kc_object *l = loss_of(sparse[i]);
        grad_ctx g = {l, kc_tensor_from_data(KC_INT64, 1, D(4), labels[i], &err), NULL};
        kc_tensor *yp = tu_random(2, D(4, 3), 0.2f, 0.8f, 30 + i);
        tu_grad_check(sparse[i], loss_fn, &g, &yp, 1, 1e-3, 2e-2, 2e-3);
        g.weight = TU_T1(4, 1, 2, 3, 4);
        tu_grad_check(sparse[i], loss_fn, &g, &yp, 1, 1e-3, 2e-2, 2e-3);
        kc_tensor_unref(g.weight);
        kc_tensor_unref(g.y_true);
        kc_tensor_unref(yp);
        kc_object_unref(l);
    }
}
END_TEST

START_TEST(clipped_probabilities_have_zero_gradient)
{
    /* Keras' clip cuts the gradient outside [eps, 1 - eps]: an exact 0 gives
     * a finite loss and no NaN anywhere */
    kc_object *l = loss_of("binary_crossentropy");
    kc_tensor *yt = TU_T1(3, 1, 0, 1), *yp = TU_T1(3, 0, 1, 0.5f);
    kc_tape *tape = kc_tape_begin(0, &err);
    CK_OK(kc_tape_watch(tape, yp, &err));
    kc_tensor *v = kc_loss_compute(l, yt, yp, NULL, &err);
    kc_tape_end(tape);
    CK_NN(v, err);
    kc_tensor *g;
    CK_OK(kc_tape_gradient(tape, v, &yp, 1, &g, &err));
    tu_assert_close(g, 1, D(3), F(0, 0, -2.0f / 3), 1e-5, 1e-7, "d bce / d y_pred");
    kc_tensor_unref(g);
    kc_tensor_unref(v);
    kc_tape_free(tape);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_object_unref(l);
}
END_TEST

/* ---- configs ------------------------------------------------------------------------ */

/* Both losses give the same values on data every loss accepts. */
static void same_values(kc_object *a, kc_object *b, const char *what)
{
    bool sparse = strcmp(kc_object_name(a), "SparseCategoricalCrossentropy") == 0;
    int64_t lab[] = {0, 2, 1, 1};
    kc_tensor *yt = sparse ? kc_tensor_from_data(KC_INT64, 1, D(4), lab, &err)
                           : tu_random(2, D(4, 3), 0.1f, 0.9f, 3);
    kc_tensor *yp = tu_random(2, D(4, 3), 0.1f, 0.9f, 4);
    kc_tensor *va = kc_loss_compute(a, yt, yp, NULL, &err),
              *vb = kc_loss_compute(b, yt, yp, NULL, &err);
    kc_tensor *ca = kc_loss_call(a, yt, yp, &err), *cb = kc_loss_call(b, yt, yp, &err);
    ck_assert_msg(va && vb && ca && cb, "%s: %s (%s)", what, err.message, err.context);
    tu_assert_tensors_close(va, vb, 0, 0, what);
    tu_assert_tensors_close(ca, cb, 0, 0, what);
    kc_tensor_unref(va);
    kc_tensor_unref(vb);
    kc_tensor_unref(ca);
    kc_tensor_unref(cb);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
}

static void check_round_trip(const kc_class *cls, const json_t *c1, const char *what)
{
    kc_object *a = kc_object_from_config(cls, c1, NULL, &err);
    ck_assert_msg(a != NULL, "%s: %s (%s)", what, err.message, err.context);
    json_t *c2;
    CK_OK(kc_object_get_config(a, &c2, &err));
    char *t1 = kc_json_dump(c1, &err), *t2 = kc_json_dump(c2, &err);
    ck_assert_msg(json_equal(c1, c2), "%s: config %s became %s", what, t1, t2);
    kc_json_free(t1);
    kc_json_free(t2);
    /* serialize -> deserialize through the registry */
    json_t *ser;
    CK_OK(kc_serialize(a, &ser, &err));
    kc_object *b;
    CK_OK(kc_deserialize(KC_KIND_LOSS, ser, NULL, &b, &err));
    ck_assert_str_eq(kc_object_name(b), cls->name);
    ck_assert_str_eq(kc_loss_name(b), kc_loss_name(a));
    same_values(a, b, what);
    json_decref(ser);
    json_decref(c2);
    kc_object_unref(a);
    kc_object_unref(b);
}

static const kc_class huber_loss_class; /* the seed's HuberLoss, below */

START_TEST(every_builtin_loss_class_round_trips)
{
    int n = 0;
    for (size_t i = 0; i < kc_registry_size(); i++) {
        kc_kind kind;
        const char *name;
        const kc_class *cls;
        ck_assert(kc_registry_entry(i, &kind, &name, &cls, NULL));
        if (kind != KC_KIND_LOSS || !cls || cls == &huber_loss_class) continue; /* built-ins only */
        kc_object *a = kc_object_new(cls, &err);
        CK_NN(a, err);
        json_t *c1;
        CK_OK(kc_object_get_config(a, &c1, &err));
        ck_assert_str_eq(json_string_value(json_object_get(c1, "reduction")),
                         "sum_over_batch_size");
        check_round_trip(cls, c1, name);
        json_decref(c1);
        kc_object_unref(a);
        n++;
    }
    ck_assert_int_eq(n, 15);
}
END_TEST

START_TEST(non_default_configs_round_trip)
{
    static const char *const configs[][2] = {
        {"MeanSquaredError", "{\"reduction\": \"sum\", \"name\": \"my_mse\"}"},
        {"MeanAbsoluteError", "{\"reduction\": \"none\", \"name\": \"mae\"}"},
        {"MeanAbsolutePercentageError", "{\"reduction\": \"sum\", \"name\": \"p\"}"},
        {"MeanSquaredLogarithmicError", "{\"reduction\": \"none\", \"name\": \"l\"}"},
        {"Huber", "{\"reduction\": \"sum\", \"name\": \"h\", \"delta\": 0.25}"},
        {"LogCosh", "{\"reduction\": \"sum\", \"name\": \"lc\"}"},
        {"BinaryCrossentropy", "{\"reduction\": \"sum\", \"name\": \"b\", \"from_logits\": true, "
                               "\"label_smoothing\": 0.1, \"axis\": 0}"},
        {"CategoricalCrossentropy",
         "{\"reduction\": \"none\", \"name\": \"c\", \"from_logits\": true, "
         "\"label_smoothing\": 0.2, \"axis\": -1}"},
        {"SparseCategoricalCrossentropy",
         "{\"reduction\": \"sum\", \"name\": \"s\", \"from_logits\": "
         "true, \"ignore_class\": 1}"},
        {"Hinge", "{\"reduction\": \"sum\", \"name\": \"hi\"}"},
        {"SquaredHinge", "{\"reduction\": \"none\", \"name\": \"sh\"}"},
        {"CategoricalHinge", "{\"reduction\": \"sum\", \"name\": \"ch\"}"},
        {"KLDivergence", "{\"reduction\": \"sum\", \"name\": \"k\"}"},
        {"Poisson", "{\"reduction\": \"none\", \"name\": \"po\"}"},
        {"CosineSimilarity", "{\"reduction\": \"sum\", \"name\": \"cs\", \"axis\": 0}"},
    };
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        const kc_class *cls = kc_find_class(KC_KIND_LOSS, configs[i][0]);
        ck_assert_msg(cls != NULL, "%s is not registered", configs[i][0]);
        json_t *c1 = kc_json_parse(configs[i][1], strlen(configs[i][1]), 0, &err);
        CK_NN(c1, err);
        check_round_trip(cls, c1, configs[i][0]);
        json_decref(c1);
    }
}
END_TEST

/* kc_serialize(obj) equals the JSON `text`. */
static void assert_serializes_as(const kc_object *obj, const char *text)
{
    json_t *ser, *want = kc_json_parse(text, strlen(text), 0, &err);
    CK_NN(want, err);
    CK_OK(kc_serialize(obj, &ser, &err));
    char *got = kc_json_dump(ser, &err);
    ck_assert_msg(json_equal(ser, want), "serialized as %s, expected %s", got, text);
    kc_json_free(got);
    json_decref(ser);
    json_decref(want);
}

/* Keras 2's legacy serialization, and what tf.keras / Keras 3 wrote. */
START_TEST(keras_serialized_forms)
{
    kc_object *h = loss_of("Huber");
    assert_serializes_as(h, "{\"class_name\": \"Huber\", \"config\": {\"reduction\": "
                            "\"sum_over_batch_size\", \"name\": \"huber_loss\", \"delta\": 1.0}}");
    kc_object_unref(h);

    /* tf.keras wrote "auto" (read as sum_over_batch_size, never written) */
    kc_object *c =
        loss_of("{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"reduction\": "
                "\"auto\", \"name\": \"categorical_crossentropy\", \"from_logits\": true, "
                "\"label_smoothing\": 0.0, \"axis\": -1}}");
    ck_assert_int_eq(((kc_loss *)c)->reduction, KC_REDUCTION_SUM_OVER_BATCH_SIZE);
    json_t *cfg;
    CK_OK(kc_object_get_config(c, &cfg, &err));
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "reduction")), "sum_over_batch_size");
    ck_assert(json_is_true(json_object_get(cfg, "from_logits")));
    json_decref(cfg);
    kc_object_unref(c);

    /* Keras 3: module/registered_name, reduction null (= none), name null
     * (= the default), extra keys such as dtype ignored */
    kc_object *k3 =
        loss_of("{\"module\": \"keras.losses\", \"class_name\": \"MeanSquaredError\", "
                "\"config\": {\"name\": null, \"reduction\": null, \"dtype\": \"float32\"}, "
                "\"registered_name\": null}");
    ck_assert_int_eq(((kc_loss *)k3)->reduction, KC_REDUCTION_NONE);
    ck_assert_str_eq(kc_loss_name(k3), "mean_squared_error");
    kc_object_unref(k3);
    kc_object *mean =
        loss_of("{\"class_name\": \"Poisson\", \"config\": {\"reduction\": \"mean\"}}");
    ck_assert_int_eq(((kc_loss *)mean)->reduction, KC_REDUCTION_SUM_OVER_BATCH_SIZE);
    kc_object_unref(mean);

    ck_assert_str_eq(kc_reduction_name(KC_REDUCTION_SUM_OVER_BATCH_SIZE), "sum_over_batch_size");
    ck_assert_str_eq(kc_reduction_name(KC_REDUCTION_SUM), "sum");
    ck_assert_str_eq(kc_reduction_name(KC_REDUCTION_NONE), "none");
}
END_TEST

/* compile(loss="mse") saves "mse": each name is saved as given. */
START_TEST(function_names_are_saved_as_given)
{
    static const char *const names[] = {
        "mse",
        "mean_squared_error",
        "MSE",
        "mae",
        "MAE",
        "mean_absolute_error",
        "mape",
        "MAPE",
        "mean_absolute_percentage_error",
        "msle",
        "MSLE",
        "mean_squared_logarithmic_error",
        "huber",
        "huber_loss",
        "log_cosh",
        "logcosh",
        "binary_crossentropy",
        "bce",
        "BCE",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "hinge",
        "squared_hinge",
        "categorical_hinge",
        "kld",
        "KLD",
        "kl_divergence",
        "kullback_leibler_divergence",
        "poisson",
        "cosine_similarity",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        kc_object *l = kc_loss_get(names[i], &err);
        ck_assert_msg(l != NULL, "%s: %s", names[i], err.message);
        ck_assert(kc_object_is_function(l));
        ck_assert_str_eq(kc_loss_name(l), names[i]);
        json_t *ser;
        CK_OK(kc_serialize(l, &ser, &err));
        ck_assert_str_eq(json_string_value(ser), names[i]);
        json_decref(ser);
        kc_object_unref(l);
    }
    /* TensorFlow.js' names resolve to Keras' functions and are saved as those */
    kc_object *t = kc_loss_get("meanSquaredError", &err);
    CK_NN(t, err);
    ck_assert_str_eq(kc_loss_name(t), "mean_squared_error");
    kc_object_unref(t);
    /* class names give instances with default configs */
    kc_object *c = kc_loss_get("BinaryCrossentropy", &err);
    CK_NN(c, err);
    ck_assert(!kc_object_is_function(c));
    ck_assert_str_eq(kc_loss_name(c), "binary_crossentropy");
    ck_assert_str_eq(kc_object_name(c), "BinaryCrossentropy");
    kc_object_unref(c);
    /* a function and its class compute the same */
    kc_object *f = kc_loss_get("kl_divergence", &err), *k = kc_loss_get("KLDivergence", &err);
    same_values(f, k, "kl_divergence vs KLDivergence");
    kc_object_unref(f);
    kc_object_unref(k);
}
END_TEST

/* ---- errors ------------------------------------------------------------------------ */

START_TEST(bad_configs_are_errors)
{
    static const struct {
        const char *spec;
        kc_status code;
        const char *needle;
    } cases[] = {
        {"{\"class_name\": \"Huber\", \"config\": {\"reduction\": \"average\"}}", KC_EFORMAT,
         "reduction: expected one of \"sum_over_batch_size\""},
        {"{\"class_name\": \"Huber\", \"config\": {\"reduction\": \"mean_with_sample_weight\"}}",
         KC_EFORMAT, "got \"mean_with_sample_weight\""},
        {"{\"class_name\": \"Huber\", \"config\": {\"reduction\": 1}}", KC_EFORMAT, "reduction"},
        {"{\"class_name\": \"Huber\", \"config\": {\"delta\": -1.0}}", KC_EFORMAT,
         "delta: expected a non-negative number, got -1"},
        {"{\"class_name\": \"Huber\", \"config\": {\"delta\": \"big\"}}", KC_EFORMAT,
         "config.delta"},
        {"{\"class_name\": \"Huber\", \"config\": {\"name\": 3}}", KC_EFORMAT,
         "name: expected a string"},
        {"{\"class_name\": \"BinaryCrossentropy\", \"config\": {\"from_logits\": \"yes\"}}",
         KC_EFORMAT, "from_logits: expected true or false"},
        {"{\"class_name\": \"BinaryCrossentropy\", \"config\": {\"label_smoothing\": 1.5}}",
         KC_EFORMAT, "label_smoothing: expected a number in [0, 1], got 1.5"},
        {"{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"label_smoothing\": -0.1}}",
         KC_EFORMAT, "label_smoothing"},
        {"{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"axis\": true}}", KC_EFORMAT,
         "axis: expected an integer, got true"},
        {"{\"class_name\": \"CosineSimilarity\", \"config\": {\"axis\": 99}}", KC_EFORMAT,
         "config.axis"},
        {"{\"class_name\": \"SparseCategoricalCrossentropy\", \"config\": {\"ignore_class\": 1.5}}",
         KC_EFORMAT, "ignore_class: expected an integer, got 1.5"},
        {"{\"class_name\": \"Huber\", \"config\": [1]}", KC_EFORMAT, "must be a JSON object"},
        {"{\"class_name\": \"NoSuchLoss\", \"config\": {}}", KC_ENOTFOUND,
         "Unknown loss class 'NoSuchLoss'"},
        {"no_such_loss", KC_ENOTFOUND, "Unknown loss 'no_such_loss'"},
        {"relu", KC_ENOTFOUND, "Unknown loss 'relu'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_error_clear(&err);
        kc_object *l = kc_object_create(KC_KIND_LOSS, cases[i].spec, &err);
        ck_assert_msg(l == NULL, "%s was accepted", cases[i].spec);
        CK_ERR(err, cases[i].code, cases[i].needle);
    }
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_loss_get("", &err));
    CK_ERR(err, KC_ENOTFOUND, "empty loss name");
}
END_TEST

START_TEST(bad_inputs_are_errors)
{
    kc_object *bce = loss_of("binary_crossentropy"),
              *scce = loss_of("sparse_categorical_crossentropy");
    kc_object *mse = loss_of("mse"), *relu = kc_object_create(KC_KIND_ACTIVATION, "relu", &err);
    kc_tensor *a = TU_T2(2, 3, 0, 1, 0, 1, 0, 1),
              *b = TU_T2(3, 2, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f);
    ck_assert_ptr_null(kc_loss_call(bce, a, b, &err));
    CK_ERR(err, KC_ESHAPE,
           "binary crossentropy needs y_true and y_pred of the same shape, got (2, 3) and (3, 2)");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_loss_call(bce, a, b, &err));
    CK_ERR(err, KC_ESHAPE, "loss 'binary_crossentropy'");

    kc_tensor *lab = TU_T1(2, 0, 3);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_loss_call(scce, lab, a, &err));
    CK_ERR(err, KC_EINVAL, "label 3 is outside the valid range [0, 3)");
    kc_tensor *lab3 = TU_T1(3, 0, 1, 2);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_loss_call(scce, lab3, a, &err));
    CK_ERR(err, KC_ESHAPE, "got labels (3,) for y_pred (2, 3)");

    kc_error_clear(&err);
    ck_assert_ptr_null(kc_loss_call(mse, NULL, a, &err));
    CK_ERR(err, KC_EINVAL, "y_true or y_pred is NULL");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_loss_compute(NULL, a, a, NULL, &err));
    CK_ERR(err, KC_EINVAL, "loss is NULL");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_loss_call(relu, a, a, &err));
    CK_ERR(err, KC_ETYPE, "'relu' is not a loss (it is an activation)");

    kc_tensor *sw = TU_T1(3, 1, 1, 1);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_loss_compute(mse, a, a, sw, &err));
    CK_ERR(err, KC_ESHAPE,
           "sample_weight of shape (3,) does not broadcast to the per-sample losses' shape (2,)");
    kc_tensor *sw2 = TU_T2(2, 2, 1, 1, 1, 1);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_loss_compute(mse, a, a, sw2, &err));
    CK_ERR(err, KC_ESHAPE, "sample_weight of shape (2, 2)");

    kc_tensor_unref(a);
    kc_tensor_unref(b);
    kc_tensor_unref(lab);
    kc_tensor_unref(lab3);
    kc_tensor_unref(sw);
    kc_tensor_unref(sw2);
    kc_object_unref(bce);
    kc_object_unref(scce);
    kc_object_unref(mse);
    kc_object_unref(relu);
}
END_TEST

/* ---- the seed's Huber losses, as user code ------------------------------------------- */

/* The seed's huber(y_true, y_pred) from create_huber(threshold): the
 * threshold is bound to the function, not saved with it. */
typedef struct huber_params {
    float threshold;
} huber_params;

static kc_tensor *huber_with(kc_tensor *yt, kc_tensor *yp, float thr, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *error = kc_scope_take(s, kc_sub(yt, yp, e));
    kc_tensor *abs_e = kc_scope_take(s, kc_abs(error, e));
    kc_tensor *is_small = kc_scope_take(s, kc_less_scalar(abs_e, thr, e));
    kc_tensor *squared =
        kc_scope_take(s, kc_div_scalar(kc_scope_take(s, kc_square(error, e)), 2, e));
    kc_tensor *linear = kc_scope_take(
        s, kc_sub_scalar(kc_scope_take(s, kc_mul_scalar(abs_e, thr, e)), thr * thr / 2, e));
    kc_tensor *r = kc_where(is_small, squared, linear, e);
    kc_scope_free(s);
    return r;
}

static kc_tensor *huber_fn(kc_tensor *yt, kc_tensor *yp, void *params, kc_error *e)
{
    return huber_with(yt, yp, params ? ((huber_params *)params)->threshold : 1.0f, e);
}

static void *bind_threshold(float t)
{
    huber_params *p = malloc(sizeof(*p));
    ck_assert(p != NULL);
    p->threshold = t;
    return p;
}

/* errors 0.5 and 1.5: threshold 2 -> (0.125 + 1.125) / 2, threshold 1 ->
 * (0.125 + (1.5 - 0.5)) / 2 */
static float seed_loss(kc_object *l)
{
    kc_tensor *yt = TU_T2(2, 1, 1, 2), *yp = TU_T2(2, 1, 1.5f, 0.5f);
    kc_tensor *v = kc_loss_compute(l, yt, yp, NULL, &err);
    ck_assert_msg(v != NULL, "%s (%s)", err.message, err.context);
    float r = kc_tensor_item(v);
    kc_tensor_unref(v);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    return r;
}

START_TEST(seed_huber_function_needs_its_threshold_at_load)
{
    kc_object *fn = kc_function_new(KC_KIND_LOSS, "huber_fn", KC_FN(huber_fn), bind_threshold(2.0f),
                                    free, &err);
    CK_NN(fn, err);
    ck_assert_float_eq_tol(seed_loss(fn), 0.625f, 1e-6);
    json_t *saved;
    CK_OK(kc_serialize(fn, &saved, &err));
    ck_assert_str_eq(json_string_value(saved), "huber_fn"); /* the name only */

    kc_object *loaded = NULL;
    ck_assert_int_eq(kc_deserialize(KC_KIND_LOSS, saved, NULL, &loaded, &err), KC_ENOTFOUND);
    CK_ERR(err, KC_ENOTFOUND, "Unknown loss 'huber_fn'");

    /* custom_objects={"huber_fn": create_huber(2.0)} */
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LOSS, "huber_fn", KC_FN(huber_fn),
                                         bind_threshold(2.0f), free, &err));
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "loss", co);
    kc_error_clear(&err);
    CK_OK(kc_deserialize(KC_KIND_LOSS, saved, &ctx, &loaded, &err));
    ck_assert_float_eq_tol(seed_loss(loaded), 0.625f, 1e-6); /* threshold 2 is used */
    kc_object_unref(loaded);
    kc_custom_objects_free(co);

    /* bound to another threshold, the same file computes another loss */
    co = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_LOSS, "huber_fn", KC_FN(huber_fn),
                                         bind_threshold(1.0f), free, &err));
    kc_config_ctx_init(&ctx, "loss", co);
    CK_OK(kc_deserialize(KC_KIND_LOSS, saved, &ctx, &loaded, &err));
    ck_assert_float_eq_tol(seed_loss(loaded), 0.5625f, 1e-6);
    kc_object_unref(loaded);
    kc_custom_objects_free(co);
    json_decref(saved);
    kc_object_unref(fn);
}
END_TEST

/* The seed's HuberLoss(keras.losses.Loss): the threshold is in its config. */
typedef struct huber_loss {
    kc_loss base; /* must stay first */
    double threshold;
} huber_loss;

static kc_status huber_loss_init(kc_object *self, kc_error *e)
{
    (void)e;
    ((huber_loss *)self)->threshold = 1.0;
    return KC_OK;
}
static kc_status huber_loss_get_config(const kc_object *self, json_t *cfg, kc_error *e)
{
    return kc_cfg_set_float(cfg, "threshold", ((const huber_loss *)self)->threshold, e);
}
static kc_status huber_loss_from_config(kc_object *self, const json_t *cfg,
                                        const kc_config_ctx *ctx, kc_error *e)
{
    huber_loss *h = (huber_loss *)self;
    return kc_cfg_float(ctx, cfg, "threshold", KC_CFG_POSITIVE, h->threshold, &h->threshold, e);
}
static kc_tensor *huber_loss_call(kc_object *self, kc_tensor *yt, kc_tensor *yp, kc_error *e)
{
    return huber_with(yt, yp, (float)((huber_loss *)self)->threshold, e);
}
static const kc_loss_methods huber_loss_methods = {huber_loss_call};
static const kc_class huber_loss_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LOSS,
    .name = "HuberLoss",
    .size = sizeof(huber_loss),
    .config_version = 1,
    .init = huber_loss_init,
    .get_config = huber_loss_get_config,
    .from_config = huber_loss_from_config,
    .methods = &huber_loss_methods,
};

START_TEST(seed_huber_class_saves_its_threshold)
{
    const char *text = "{\"threshold\": 2.0}";
    json_t *cfg = kc_json_parse(text, strlen(text), 0, &err);
    kc_object *h = kc_object_from_config(&huber_loss_class, cfg, NULL, &err);
    CK_NN(h, err);
    json_decref(cfg);
    ck_assert_str_eq(kc_loss_name(h), "huber_loss"); /* Keras 3's default: snake_case(class) */
    ck_assert_float_eq_tol(seed_loss(h), 0.625f, 1e-6);
    assert_serializes_as(h,
                         "{\"class_name\": \"HuberLoss\", \"config\": {\"reduction\": "
                         "\"sum_over_batch_size\", \"name\": \"huber_loss\", \"threshold\": 2.0}}");
    json_t *saved;
    CK_OK(kc_serialize(h, &saved, &err));

    /* without the class: KC_ENOTFOUND naming it */
    kc_object *loaded = NULL;
    ck_assert_int_eq(kc_deserialize(KC_KIND_LOSS, saved, NULL, &loaded, &err), KC_ENOTFOUND);
    CK_ERR(err, KC_ENOTFOUND, "Unknown loss class 'HuberLoss'");

    /* custom_objects={"HuberLoss": HuberLoss}: from_config restores 2.0 */
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_class(co, NULL, &huber_loss_class, &err));
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "loss", co);
    kc_error_clear(&err);
    CK_OK(kc_deserialize(KC_KIND_LOSS, saved, &ctx, &loaded, &err));
    ck_assert_double_eq(((huber_loss *)loaded)->threshold, 2.0);
    ck_assert_float_eq_tol(seed_loss(loaded), 0.625f, 1e-6);
    kc_object_unref(loaded);
    kc_custom_objects_free(co);

    /* registered: loads with no custom objects */
    CK_OK(kc_register_class(&huber_loss_class, &err));
    CK_OK(kc_deserialize(KC_KIND_LOSS, saved, NULL, &loaded, &err));
    ck_assert_double_eq(((huber_loss *)loaded)->threshold, 2.0);
    ck_assert_float_eq_tol(seed_loss(loaded), 0.625f, 1e-6);
    /* and its gradient flows through the tape */
    grad_ctx g = {loaded, NULL, NULL};
    kc_tensor *yt = tu_random(2, D(4, 2), -1, 1, 5), *yp = tu_random(2, D(4, 2), -4, 4, 6);
    kc_tensor *in[] = {yt, yp};
    tu_grad_check("HuberLoss", loss_fn, &g, in, 2, 1e-3, 2e-2, 2e-3);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_object_unref(loaded);
    json_decref(saved);
    kc_object_unref(h);

    /* a loss class needs a call */
    static const kc_loss_methods no_call = {NULL};
    static const kc_class broken = {.abi = KC_CLASS_ABI,
                                    .kind = KC_KIND_LOSS,
                                    .name = "Broken",
                                    .size = sizeof(kc_loss),
                                    .config_version = 1,
                                    .methods = &no_call};
    kc_error_clear(&err);
    ck_assert_int_eq(kc_register_class(&broken, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "loss class 'Broken' needs methods with a call slot");
}
END_TEST

START_TEST(user_class_default_names_are_snake_case)
{
    static const kc_class c1 = {.abi = KC_CLASS_ABI,
                                .kind = KC_KIND_LOSS,
                                .name = "Pkg>MyMSELoss",
                                .size = sizeof(huber_loss),
                                .config_version = 1,
                                .init = huber_loss_init,
                                .methods = &huber_loss_methods};
    kc_object *o = kc_object_new(&c1, &err);
    CK_NN(o, err);
    ck_assert_str_eq(kc_loss_name(o), "my_mse_loss");
    kc_object_unref(o);
}
END_TEST

/* ---- allocation failures ----------------------------------------------------------- */

/* Build three losses from configs, compute them with weights under a tape
 * and differentiate. */
static kc_status loss_scenario(kc_error *e)
{
    static const char *const specs[] = {
        "{\"class_name\": \"SparseCategoricalCrossentropy\", \"config\": {\"ignore_class\": 2}}",
        "{\"class_name\": \"CategoricalCrossentropy\", \"config\": {\"from_logits\": true, "
        "\"label_smoothing\": 0.1}}",
        "{\"class_name\": \"Huber\", \"config\": {\"delta\": 0.5, \"name\": \"h\"}}",
    };
    kc_status rc = KC_OK;
    kc_scope *s = kc_scope_new(e);
    kc_tape *tape = NULL;
    kc_object *l[3] = {NULL, NULL, NULL};
    kc_tensor *g = NULL;
    int32_t lab[] = {0, 2, 1};
    kc_tensor *yp = kc_scope_take(s, kc_tensor_full(KC_FLOAT32, 2, D(3, 3), 0.25, e));
    kc_tensor *yt = kc_scope_take(s, kc_tensor_from_data(KC_INT32, 1, D(3), lab, e));
    kc_tensor *oh = kc_scope_take(s, kc_one_hot(yt, 3, e));
    kc_tensor *sw = kc_scope_take(s, kc_tensor_full(KC_FLOAT32, 2, D(3, 1), 2.0, e));
    if (!yp || !oh || !sw) goto out;
    for (int i = 0; i < 3; i++)
        if (!(l[i] = kc_object_create(KC_KIND_LOSS, specs[i], e))) goto out;
    if (!(tape = kc_tape_begin(0, e)) || kc_tape_watch(tape, yp, e) != KC_OK) goto out;
    kc_tensor *a = kc_scope_take(s, kc_loss_compute(l[0], yt, yp, sw, e));
    kc_tensor *b = kc_scope_take(s, kc_loss_compute(l[1], oh, yp, sw, e));
    kc_tensor *c = kc_scope_take(s, kc_loss_compute(l[2], oh, yp, NULL, e));
    kc_tensor *total = kc_scope_take(s, kc_add(kc_scope_take(s, kc_add(a, b, e)), c, e));
    kc_tape_end(tape);
    if (!total || kc_tape_gradient(tape, total, &yp, 1, &g, e) != KC_OK) goto out;
out:
    if (e->code != KC_OK) rc = e->code;
    kc_tensor_unref(g);
    kc_tape_free(tape);
    for (int i = 0; i < 3; i++)
        kc_object_unref(l[i]);
    kc_scope_free(s);
    if (!s && rc == KC_OK) rc = KC_ENOMEM;
    return rc;
}

START_TEST(every_allocation_failure_is_enomem_without_leaks)
{
    int failures = tu_alloc_failure_sweep(loss_scenario, 10000);
    ck_assert_msg(failures > 50, "only %d allocation points were exercised", failures);
}
END_TEST

/* ---- TensorFlow.js ------------------------------------------------------------------------ */

static kc_tensor *tensor_json(const json_t *j, kc_dtype dtype)
{
    const json_t *shape = json_object_get(j, "shape"), *data = json_object_get(j, "data");
    ck_assert(json_is_array(shape) && json_is_array(data));
    int64_t dims[KC_MAX_DIMS];
    int nd = (int)json_array_size(shape);
    for (int i = 0; i < nd; i++)
        dims[i] = json_integer_value(json_array_get(shape, i));
    kc_tensor *t = kc_tensor_empty(dtype, nd, dims, &err);
    CK_NN(t, err);
    ck_assert_int_eq((int64_t)json_array_size(data), kc_tensor_size(t));
    for (size_t i = 0; i < json_array_size(data); i++) {
        double v = json_number_value(json_array_get(data, i));
        if (dtype == KC_FLOAT32)
            kc_tensor_f32(t)[i] = (float)v;
        else
            ((int32_t *)kc_tensor_data(t))[i] = (int32_t)v;
    }
    return t;
}

/* The Keras class computing the same as each function name. */
static const char *class_of(const char *fn)
{
    static const char *const map[][2] = {
        {"mse", "MeanSquaredError"},
        {"mae", "MeanAbsoluteError"},
        {"mape", "MeanAbsolutePercentageError"},
        {"msle", "MeanSquaredLogarithmicError"},
        {"huber", "Huber"},
        {"logcosh", "LogCosh"},
        {"binary_crossentropy", "BinaryCrossentropy"},
        {"categorical_crossentropy", "CategoricalCrossentropy"},
        {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"},
        {"hinge", "Hinge"},
        {"squared_hinge", "SquaredHinge"},
        {"categorical_hinge", "CategoricalHinge"},
        {"kld", "KLDivergence"},
        {"poisson", "Poisson"},
        {"cosine_similarity", "CosineSimilarity"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i][0], fn) == 0) return map[i][1];
    ck_abort_msg("no class for %s", fn);
    return NULL;
}

/* Loss and gradients of a Dense(3) model's predictions, as TensorFlow.js
 * fit them (make-goldens.js). */
START_TEST(losses_and_gradients_match_tensorflow_js)
{
    json_error_t je;
    json_t *root = json_load_file(tu_data("losses/tfjs.json"), 0, &je);
    ck_assert_msg(root != NULL, "tfjs.json: %s", je.text);
    json_t *cases = json_object_get(root, "cases");
    ck_assert_int_eq((int)json_array_size(cases), 15);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "loss"));
        bool sparse = strcmp(name, "sparse_categorical_crossentropy") == 0;
        kc_variable *w = kc_variable_new_take(
            "kernel", tensor_json(json_object_get(root, "kernel"), KC_FLOAT32), true, &err);
        kc_variable *b = kc_variable_new_take(
            "bias", tensor_json(json_object_get(root, "bias"), KC_FLOAT32), true, &err);
        kc_tensor *x = tensor_json(json_object_get(c, "x"), KC_FLOAT32);
        /* sparse labels as float (as stored) and as int32 */
        kc_tensor *ys[2] = {tensor_json(json_object_get(c, "y"), KC_FLOAT32),
                            sparse ? tensor_json(json_object_get(c, "y"), KC_INT32) : NULL};
        json_t *jsw = json_object_get(c, "sample_weight");
        kc_tensor *sw = json_is_null(jsw) ? NULL : tensor_json(jsw, KC_FLOAT32);
        kc_tensor *want_gw = tensor_json(json_object_get(c, "grad_kernel"), KC_FLOAT32);
        kc_tensor *want_gb = tensor_json(json_object_get(c, "grad_bias"), KC_FLOAT32);
        float want = (float)json_number_value(json_object_get(c, "value"));
        const char *specs[2] = {name, class_of(name)};
        for (int k = 0; k < 2; k++) {
            for (int yi = 0; yi < (sparse ? 2 : 1); yi++) {
                char what[160];
                snprintf(what, sizeof(what), "%s%s", specs[k], yi ? " (int32 labels)" : "");
                kc_object *l = loss_of(specs[k]);
                kc_tape *tape = kc_tape_begin(0, &err);
                kc_tensor *xw = kc_matmul(x, kc_variable_value(w), false, false, &err);
                kc_tensor *p = kc_add(xw, kc_variable_value(b), &err);
                kc_tensor *v = kc_loss_compute(l, ys[yi], p, sw, &err);
                kc_tape_end(tape);
                ck_assert_msg(v != NULL, "%s: %s (%s)", what, err.message, err.context);
                tu_assert_close(v, 0, NULL, &want, 1e-5, 1e-6, what);
                kc_tensor *src[] = {kc_variable_value(w), kc_variable_value(b)}, *g[2];
                CK_OK(kc_tape_gradient(tape, v, src, 2, g, &err));
                char label[200];
                snprintf(label, sizeof(label), "%s: d/d kernel", what);
                tu_assert_tensors_close(g[0], want_gw, 1e-4, 2e-6, label);
                snprintf(label, sizeof(label), "%s: d/d bias", what);
                tu_assert_tensors_close(g[1], want_gb, 1e-4, 2e-6, label);
                kc_tensor_unref(g[0]);
                kc_tensor_unref(g[1]);
                kc_tensor_unref(v);
                kc_tensor_unref(p);
                kc_tensor_unref(xw);
                kc_tape_free(tape);
                kc_object_unref(l);
            }
        }
        kc_tensor_unref(x);
        kc_tensor_unref(ys[0]);
        kc_tensor_unref(ys[1]);
        kc_tensor_unref(sw);
        kc_tensor_unref(want_gw);
        kc_tensor_unref(want_gb);
        kc_variable_unref(w);
        kc_variable_unref(b);
    }
    json_decref(root);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("losses");
    TCase *tc = tcase_create("losses");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, regression_losses_match_hand_values);
    tcase_add_test(tc, probabilistic_losses_match_hand_values);
    tcase_add_test(tc, hinge_losses_match_hand_values);
    tcase_add_test(tc, keras_docstring_examples);
    tcase_add_test(tc, reductions_and_sample_weights);
    tcase_add_test(tc, ignore_class_masks_samples_out);
    tcase_add_test(tc, gradients_match_finite_differences);
    tcase_add_test(tc, clipped_probabilities_have_zero_gradient);
    tcase_add_test(tc, every_builtin_loss_class_round_trips);
    tcase_add_test(tc, non_default_configs_round_trip);
    tcase_add_test(tc, keras_serialized_forms);
    tcase_add_test(tc, function_names_are_saved_as_given);
    tcase_add_test(tc, bad_configs_are_errors);
    tcase_add_test(tc, bad_inputs_are_errors);
    tcase_add_test(tc, seed_huber_function_needs_its_threshold_at_load);
    tcase_add_test(tc, seed_huber_class_saves_its_threshold);
    tcase_add_test(tc, user_class_default_names_are_snake_case);
    tcase_add_test(tc, every_allocation_failure_is_enomem_without_leaks);
    tcase_add_test(tc, losses_and_gradients_match_tensorflow_js);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
