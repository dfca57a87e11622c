/* Streaming metrics: every built-in class over several batches against
 * hand-computed values (the arithmetic is in the comments), sample weights,
 * thresholds / top_k / class_id, AUC curves, resets, configs, errors, the
 * metric functions and keras.metrics.get, a custom metric class (the seed's
 * keras.metrics.Metric subclass), and TensorFlow.js goldens. */
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

/* ---- helpers ------------------------------------------------------------------------ */

static kc_object *mk(const char *spec)
{
    kc_object *m = kc_object_create(KC_KIND_METRIC, spec, &err);
    ck_assert_msg(m != NULL, "%s: %s (%s)", spec, err.message, err.context);
    return m;
}

static kc_tensor *ints(int ndim, const int64_t *dims, const int32_t *v)
{
    kc_tensor *t = kc_tensor_from_data(KC_INT32, ndim, dims, v, &err);
    CK_NN(t, err);
    return t;
}

/* Update, then drop the tensors (the metric keeps none of them). */
static kc_status try_update(kc_object *m, kc_tensor *yt, kc_tensor *yp, kc_tensor *sw)
{
    kc_error_clear(&err);
    kc_status rc = kc_metric_update(m, yt, yp, sw, &err);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_tensor_unref(sw);
    return rc;
}

static void update(kc_object *m, kc_tensor *yt, kc_tensor *yp, kc_tensor *sw)
{
    kc_status rc = try_update(m, yt, yp, sw);
    ck_assert_msg(rc == KC_OK, "%s: %s (%s)", kc_metric_name(m), err.message, err.context);
}

static float result(kc_object *m)
{
    kc_tensor *r = kc_metric_result(m, &err);
    ck_assert_msg(r != NULL, "%s: %s (%s)", kc_metric_name(m), err.message, err.context);
    ck_assert_msg(kc_tensor_ndim(r) == 0, "%s: result is not a scalar", kc_metric_name(m));
    float v = kc_tensor_item(r);
    kc_tensor_unref(r);
    return v;
}

#define RESULT_IS(m, want, tol)                                                                    \
    do {                                                                                           \
        float got_ = result(m);                                                                    \
        ck_assert_msg(fabsf(got_ - (float)(want)) <= (tol), "%s: got %.9g, want %.9g [line %d]",   \
                      kc_metric_name(m), got_, (double)(want), __LINE__);                          \
    } while (0)

static void result_vec(kc_object *m, int64_t n, const float *want, double tol)
{
    kc_tensor *r = kc_metric_result(m, &err);
    CK_NN(r, err);
    tu_assert_close(r, 1, D(n), want, 0, tol, kc_metric_name(m));
    kc_tensor_unref(r);
}

static void reset(kc_object *m)
{
    CK_OK(kc_metric_reset(m, &err));
}

/* ---- the seed: Precision streams counts ------------------------------------------ */

START_TEST(seed_precision_counts_over_batches)
{
    kc_object *p = mk("Precision");
    ck_assert_str_eq(kc_metric_name(p), "precision");
    /* batch 1: y_true [0 1 1 1], y_pred [1 1 1 0] -> TP 2 (items 1, 2), FP 1 (item 0) */
    update(p, TU_T1(4, 0, 1, 1, 1), TU_T1(4, 1, 1, 1, 0), NULL);
    RESULT_IS(p, 2.0f / 3.0f, 0);
    /* batch 2: y_true [0 0 0], y_pred [1 1 1] -> FP 3; total TP 2, FP 4 -> 2 / 6 */
    update(p, TU_T1(3, 0, 0, 0), TU_T1(3, 1, 1, 1), NULL);
    float r = result(p);
    ck_assert_msg(r == 0.33333334f, "precision %.9g", r);
    /* Keras' variables: true_positives and false_positives, one value per threshold */
    ck_assert_int_eq(kc_metric_num_variables(p), 2);
    kc_variable *tp = kc_metric_variable(p, 0), *fp = kc_metric_variable(p, 1);
    ck_assert_str_eq(kc_variable_name(tp), "true_positives");
    ck_assert_str_eq(kc_variable_name(fp), "false_positives");
    ck_assert(!kc_variable_trainable(tp) && !kc_variable_trainable(fp));
    tu_assert_close(kc_variable_value(tp), 1, D(1), F(2), 0, 0, "true_positives");
    tu_assert_close(kc_variable_value(fp), 1, D(1), F(4), 0, 0, "false_positives");
    ck_assert_ptr_null(kc_metric_variable(p, 2));
    reset(p);
    ck_assert(result(p) == 0.0f);
    tu_assert_close(kc_variable_value(tp), 1, D(1), F(0), 0, 0, "reset true_positives");
    tu_assert_close(kc_variable_value(fp), 1, D(1), F(0), 0, 0, "reset false_positives");
    kc_object_unref(p);
}
END_TEST

START_TEST(precision_is_not_the_mean_of_batch_precisions)
{
    kc_object *p = mk("Precision");
    /* batch 1: TP 2, FP 1 (2/3); batch 2: y_true [0 0 0 1 1 1], y_pred [1 0 0 1 1 1]:
     * TP 3, FP 1 (3/4). Streaming: 5 / 7 = 0.71428573; the mean of the batch
     * precisions would be 0.7083. */
    update(p, TU_T1(4, 0, 1, 1, 1), TU_T1(4, 1, 1, 1, 0), NULL);
    update(p, TU_T1(6, 0, 0, 0, 1, 1, 1), TU_T1(6, 1, 0, 0, 1, 1, 1), NULL);
    RESULT_IS(p, 5.0f / 7.0f, 0);
    kc_object_unref(p);
}
END_TEST

/* ---- Mean and Sum ------------------------------------------------------------------ */

START_TEST(mean_and_sum_weight_samples)
{
    kc_object *m = mk("Mean"), *s = mk("Sum");
    ck_assert_str_eq(kc_metric_name(m), "mean");
    ck_assert_str_eq(kc_metric_name(s), "sum");
    ck_assert_int_eq(kc_metric_num_variables(m), 2);
    ck_assert_str_eq(kc_variable_name(kc_metric_variable(m, 0)), "total");
    ck_assert_str_eq(kc_variable_name(kc_metric_variable(m, 1)), "count");
    ck_assert_int_eq(kc_metric_num_variables(s), 1);
    /* values come from y_true; y_pred may be NULL (Keras' update_state(values)) */
    update(m, TU_T1(4, 1, 3, 5, 7), NULL, NULL); /* 16 / 4 */
    update(s, TU_T1(4, 1, 3, 5, 7), NULL, NULL);
    RESULT_IS(m, 4, 0);
    RESULT_IS(s, 16, 0);
    /* second batch [2, 10] weighted [0.5, 1.5]: total 16 + 1 + 15 = 32, count 4 + 2 */
    update(m, TU_T1(2, 2, 10), NULL, TU_T1(2, 0.5f, 1.5f));
    update(s, TU_T1(2, 2, 10), NULL, TU_T1(2, 0.5f, 1.5f));
    RESULT_IS(m, 32.0f / 6.0f, 0);
    RESULT_IS(s, 32, 0);
    reset(m);
    reset(s);
    RESULT_IS(m, 0, 0);
    /* Keras' docstring: [1 3 5 7] weighted [1 1 0 0] -> mean 2, sum 4 */
    update(m, TU_T1(4, 1, 3, 5, 7), NULL, TU_T1(4, 1, 1, 0, 0));
    update(s, TU_T1(4, 1, 3, 5, 7), NULL, TU_T1(4, 1, 1, 0, 0));
    RESULT_IS(m, 2, 0);
    RESULT_IS(s, 4, 0);
    reset(m);
    /* per-sample weights against per-element values: weights (2,) become
     * (2, 1): [[1 2 3] [4 5 6]] weighted [1 0] -> 6 / 3 */
    update(m, TU_T2(2, 3, 1, 2, 3, 4, 5, 6), NULL, TU_T1(2, 1, 0));
    RESULT_IS(m, 2, 0);
    reset(m);
    reset(s);
    /* weights of rank 1 against values of rank 3: Keras reduces the values to
     * the weights' rank (mean for Mean, sum for Sum): sample means 2.5, 6.5,
     * sums 10, 26; weights [1 3] -> mean (2.5 + 19.5) / 4, sum 10 + 78 */
    update(m, tu_tensor(3, D(2, 2, 2), F(1, 2, 3, 4, 5, 6, 7, 8)), NULL, TU_T1(2, 1, 3));
    update(s, tu_tensor(3, D(2, 2, 2), F(1, 2, 3, 4, 5, 6, 7, 8)), NULL, TU_T1(2, 1, 3));
    RESULT_IS(m, 5.5f, 0);
    RESULT_IS(s, 88, 0);
    /* a scalar weight scales everything */
    reset(m);
    update(m, TU_T1(2, 1, 3), NULL, kc_tensor_scalar(2, &err));
    RESULT_IS(m, 2, 0);
    /* weights that fit nothing: KC_ESHAPE with both shapes */
    ck_assert_int_eq(try_update(m, TU_T1(2, 1, 3), NULL, TU_T1(3, 1, 1, 1)), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "(3,)");
    CK_ERR(err, KC_ESHAPE, "(2,)");
    RESULT_IS(m, 2, 0); /* a failed batch adds nothing */
    kc_object_unref(m);
    kc_object_unref(s);
}
END_TEST

/* One batch without weights (want), then after a reset with weights w
 * (want_w). Takes yt, yp and w. */
static void unweighted_then_weighted(kc_object *m, kc_tensor *yt, kc_tensor *yp, kc_tensor *w,
                                     float want, float want_w)
{
    update(m, kc_tensor_ref(yt), kc_tensor_ref(yp), NULL);
    RESULT_IS(m, want, 1e-7f);
    reset(m);
    update(m, yt, yp, w);
    RESULT_IS(m, want_w, 1e-7f);
}

/* ---- accuracies ------------------------------------------------------------------- */

START_TEST(accuracy_classes_match_keras)
{
    /* Accuracy: [[1] [2] [3] [4]] vs [[0] [2] [3] [4]] -> 3 / 4 */
    kc_object *a = mk("Accuracy");
    ck_assert_str_eq(kc_metric_name(a), "accuracy");
    update(a, TU_T2(4, 1, 1, 2, 3, 4), TU_T2(4, 1, 0, 2, 3, 4), NULL);
    RESULT_IS(a, 0.75f, 0);
    /* next batch [[5] [6]] vs [[5] [0]]: 4 / 6 */
    update(a, TU_T2(2, 1, 5, 6), TU_T2(2, 1, 5, 0), NULL);
    RESULT_IS(a, 4.0f / 6.0f, 1e-7f);
    reset(a);
    update(a, TU_T2(4, 1, 1, 2, 3, 4), TU_T2(4, 1, 0, 2, 3, 4), TU_T1(4, 1, 1, 0, 0));
    RESULT_IS(a, 0.5f, 0);
    kc_object_unref(a);

    /* BinaryAccuracy: [[1] [1] [0] [0]] vs [[0.98] [1] [0] [0.6]] -> 0.75;
     * weights [1 0 0 1] -> (1 + 0) / 2 */
    kc_object *b = mk("BinaryAccuracy");
    unweighted_then_weighted(b, TU_T2(4, 1, 1, 1, 0, 0), TU_T2(4, 1, 0.98f, 1, 0, 0.6f),
                             TU_T1(4, 1, 0, 0, 1), 0.75f, 0.5f);
    kc_object_unref(b);
    /* threshold 0.7: 0.6 is now a 0, every prediction matches */
    b = mk("{\"class_name\": \"BinaryAccuracy\", \"config\": {\"threshold\": 0.7}}");
    update(b, TU_T2(4, 1, 1, 1, 0, 0), TU_T2(4, 1, 0.98f, 1, 0, 0.6f), NULL);
    RESULT_IS(b, 1, 0);
    kc_object_unref(b);

    /* Keras' docstring data for CategoricalAccuracy (argmax [2 1] vs [1 1])
     * and TopKCategoricalAccuracy(k=1): 0.5; weights [0.7 0.3] -> 0.3 */
    static const char *const categorical[] = {
        "CategoricalAccuracy",
        "{\"class_name\": \"TopKCategoricalAccuracy\", \"config\": {\"k\": 1}}"};
    for (int i = 0; i < 2; i++) {
        kc_object *c = mk(categorical[i]);
        unweighted_then_weighted(c, TU_T2(2, 3, 0, 0, 1, 0, 1, 0),
                                 TU_T2(2, 3, 0.1f, 0.9f, 0.8f, 0.05f, 0.95f, 0),
                                 TU_T1(2, 0.7f, 0.3f), 0.5f, 0.3f);
        kc_object_unref(c);
    }

    /* SparseCategoricalAccuracy: labels (N, 1) or (N,), int or float */
    kc_object *sc = mk("SparseCategoricalAccuracy");
    unweighted_then_weighted(sc, ints(1, D(2), (int32_t[]){2, 1}),
                             TU_T2(2, 3, 0.1f, 0.6f, 0.3f, 0.05f, 0.95f, 0), TU_T1(2, 0.7f, 0.3f),
                             0.5f, 0.3f);
    reset(sc);
    update(sc, TU_T2(2, 1, 2, 1), TU_T2(2, 3, 0.1f, 0.6f, 0.3f, 0.05f, 0.95f, 0),
           TU_T1(2, 0.7f, 0.3f));
    /* a third sample, label 0 predicted 0, weight 1: (0.3 + 1) / 2 */
    update(sc, ints(2, D(1, 1), (int32_t[]){0}), TU_T2(1, 3, 0.9f, 0.05f, 0.05f), TU_T1(1, 1));
    RESULT_IS(sc, 0.65f, 1e-7f);
    kc_object_unref(sc);

    /* TopKCategoricalAccuracy's default k=5 covers all 3 classes: 1 */
    kc_object *tk = mk("TopKCategoricalAccuracy");
    update(tk, TU_T2(2, 3, 0, 0, 1, 0, 1, 0), TU_T2(2, 3, 0.1f, 0.9f, 0.8f, 0.05f, 0.95f, 0), NULL);
    RESULT_IS(tk, 1, 0);
    kc_object_unref(tk);

    /* SparseTopKCategoricalAccuracy(k=1): labels [2 1] -> 0.5 / 0.3; in_top_k
     * ties count for the target, non-finite rows never do */
    kc_object *stk =
        mk("{\"class_name\": \"SparseTopKCategoricalAccuracy\", \"config\": {\"k\": 1}}");
    update(stk, TU_T1(2, 2, 1), TU_T2(2, 3, 0.1f, 0.9f, 0.8f, 0.05f, 0.95f, 0), NULL);
    RESULT_IS(stk, 0.5f, 0);
    reset(stk);
    /* row 0: tie 0.5 / 0.5, target 1 -> in; row 1: NaN in the row -> out;
     * row 2: label 3 out of range -> out */
    update(stk, TU_T1(3, 1, 1, 3), TU_T2(3, 3, 0.5f, 0.5f, 0, NAN, 1, 0, 0.2f, 0.3f, 0.5f), NULL);
    RESULT_IS(stk, 1.0f / 3.0f, 1e-7f);
    kc_object_unref(stk);
}
END_TEST

/* ---- regression metrics ------------------------------------------------------------ */

START_TEST(regression_metrics_average_per_sample_errors)
{
    /* y_true [[0 1] [0 0]], y_pred [[1 1] [0 0]]: per-sample squared errors
     * [0.5, 0], absolute [0.5, 0] */
    kc_object *mse = mk("MeanSquaredError"), *mae = mk("MeanAbsoluteError");
    kc_object *rmse = mk("RootMeanSquaredError");
    ck_assert_str_eq(kc_metric_name(mse), "mean_squared_error");
    ck_assert_str_eq(kc_metric_name(rmse), "root_mean_squared_error");
    kc_object *all[3] = {mse, mae, rmse};
    for (int i = 0; i < 3; i++)
        update(all[i], TU_T2(2, 2, 0, 1, 0, 0), TU_T2(2, 2, 1, 1, 0, 0), NULL);
    RESULT_IS(mse, 0.25f, 0);
    RESULT_IS(mae, 0.25f, 0);
    RESULT_IS(rmse, 0.5f, 0); /* sqrt(1 / 4) */
    /* a second batch of one sample [[2 2]] vs [[0 1]]: squared (4 + 1) / 2 =
     * 2.5, absolute 1.5 -> mse (0.5 + 2.5) / 3 = 1, mae (0.5 + 1.5) / 3;
     * rmse sqrt((1 + 4 + 1) / 6) */
    for (int i = 0; i < 3; i++)
        update(all[i], TU_T2(1, 2, 2, 2), TU_T2(1, 2, 0, 1), NULL);
    RESULT_IS(mse, 1, 1e-7f);
    RESULT_IS(mae, 2.0f / 3.0f, 1e-7f);
    RESULT_IS(rmse, 1, 1e-7f);
    /* weights [1 0] keep the first sample: mse 0.5, mae 0.5, rmse sqrt(1 / 2) */
    for (int i = 0; i < 3; i++) {
        reset(all[i]);
        update(all[i], TU_T2(2, 2, 0, 1, 0, 0), TU_T2(2, 2, 1, 1, 0, 0), TU_T1(2, 1, 0));
    }
    RESULT_IS(mse, 0.5f, 0);
    RESULT_IS(mae, 0.5f, 0);
    RESULT_IS(rmse, 0.70710677f, 1e-7f);
    /* labels (N,) against predictions (N, 1) are aligned, as Keras does */
    reset(mse);
    update(mse, TU_T1(2, 1, 2), TU_T2(2, 1, 2, 4), NULL); /* (1 + 4) / 2 */
    RESULT_IS(mse, 2.5f, 0);
    for (int i = 0; i < 3; i++)
        kc_object_unref(all[i]);
}
END_TEST

/* ---- Precision / Recall options ------------------------------------------------------ */

/* Precision and Recall with the config keys `keys` on 3 x 3 data. */
static void precision_and_recall(const char *keys, const float *yt, const float *yp, float want_p,
                                 float want_r)
{
    static const char *const cls[2] = {"Precision", "Recall"};
    for (int i = 0; i < 2; i++) {
        char spec[256];
        snprintf(spec, sizeof(spec), "{\"class_name\": \"%s\", \"config\": {%s}}", cls[i], keys);
        kc_object *m = mk(spec);
        update(m, tu_tensor(2, D(3, 3), yt), tu_tensor(2, D(3, 3), yp), NULL);
        RESULT_IS(m, i ? want_r : want_p, 0);
        kc_object_unref(m);
    }
}

START_TEST(precision_recall_thresholds_weights_top_k_class_id)
{
    /* y_true [0 1 1 1], y_pred [0.9 0.2 0.6 0.85]
     * t = 0.5: positives 0.9 (FP), 0.6 (TP), 0.85 (TP) -> P 2/3, R 2/3
     * t = 0.8: positives 0.9 (FP), 0.85 (TP)            -> P 1/2, R 1/3 */
    kc_object *p = mk("{\"class_name\": \"Precision\", \"config\": {\"thresholds\": [0.5, 0.8]}}");
    kc_object *r = mk("{\"class_name\": \"Recall\", \"config\": {\"thresholds\": [0.5, 0.8]}}");
    update(p, TU_T1(4, 0, 1, 1, 1), TU_T1(4, 0.9f, 0.2f, 0.6f, 0.85f), NULL);
    update(r, TU_T1(4, 0, 1, 1, 1), TU_T1(4, 0.9f, 0.2f, 0.6f, 0.85f), NULL);
    result_vec(p, 2, F(2.0f / 3, 0.5f), 1e-7);
    result_vec(r, 2, F(2.0f / 3, 1.0f / 3), 1e-7);
    ck_assert_str_eq(kc_variable_name(kc_metric_variable(r, 1)), "false_negatives");
    tu_assert_close(kc_variable_value(kc_metric_variable(r, 0)), 1, D(2), F(2, 1), 0, 0,
                    "recall tp");
    /* weights [1 2 3 4] at t = 0.5: TP 3 + 4, FP 1, FN 2 -> P 7/8, R 7/9 */
    reset(p);
    reset(r);
    update(p, TU_T1(4, 0, 1, 1, 1), TU_T1(4, 0.9f, 0.2f, 0.6f, 0.85f), TU_T1(4, 1, 2, 3, 4));
    update(r, TU_T1(4, 0, 1, 1, 1), TU_T1(4, 0.9f, 0.2f, 0.6f, 0.85f), TU_T1(4, 1, 2, 3, 4));
    result_vec(p, 2, F(7.0f / 8, 4.0f / 5), 1e-7); /* t = 0.8: TP 4, FP 1 */
    result_vec(r, 2, F(7.0f / 9, 4.0f / 9), 1e-7);
    kc_object_unref(p);
    kc_object_unref(r);

    /* top_k (Keras' docstring): y_true [0 0 1 1], y_pred [1 1 1 1]; top 2 are
     * items 0 and 1 (ties: lower index) -> 0; top 4 -> 2 / 4 */
    p = mk("{\"class_name\": \"Precision\", \"config\": {\"top_k\": 2}}");
    update(p, TU_T1(4, 0, 0, 1, 1), TU_T1(4, 1, 1, 1, 1), NULL);
    RESULT_IS(p, 0, 0);
    kc_object_unref(p);
    p = mk("{\"class_name\": \"Precision\", \"config\": {\"top_k\": 4}}");
    update(p, TU_T1(4, 0, 0, 1, 1), TU_T1(4, 1, 1, 1, 1), NULL);
    RESULT_IS(p, 0.5f, 0);
    kc_object_unref(p);

    /* class_id 1: column 1, labels [1 0 1], predictions [0.6 0.7 0.4]:
     * TP (0.6), FP (0.7), FN (0.4) -> P 1/2, R 1/2 */
    const float yt[] = {0, 1, 0, 0, 0, 1, 0, 1, 0};
    const float yp[] = {0.1f, 0.6f, 0.3f, 0.2f, 0.7f, 0.1f, 0.3f, 0.4f, 0.3f};
    precision_and_recall("\"class_id\": 1", yt, yp, 0.5f, 0.5f);
    /* top_k 1 and class_id 2: rows keep only their largest score; column 2 is
     * [0.6 (top, label 1: TP), -1e10, 0.7 (top, label 0: FP)], threshold -1e10
     * -> P 1/2; the label of row 1 is missed -> R 1/2 */
    const float yt2[] = {0, 0, 1, 0, 0, 1, 0, 1, 0};
    const float yp2[] = {0.1f, 0.3f, 0.6f, 0.2f, 0.7f, 0.1f, 0.1f, 0.2f, 0.7f};
    precision_and_recall("\"top_k\": 1, \"class_id\": 2", yt2, yp2, 0.5f, 0.5f);
    /* class_id outside the classes is an error */
    kc_object *bad = mk("{\"class_name\": \"Precision\", \"config\": {\"class_id\": 3}}");
    ck_assert_int_eq(try_update(bad, tu_tensor(2, D(3, 3), yt2), tu_tensor(2, D(3, 3), yp2), NULL),
                     KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "class_id 3");
    kc_object_unref(bad);
    bad = mk("{\"class_name\": \"Recall\", \"config\": {\"top_k\": 4}}");
    ck_assert_int_eq(try_update(bad, tu_tensor(2, D(3, 3), yt2), tu_tensor(2, D(3, 3), yp2), NULL),
                     KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "top_k=4");
    kc_object_unref(bad);
}
END_TEST

START_TEST(evenly_spaced_thresholds_use_buckets_with_the_same_counts)
{
    /* [0, 0.5, 1] is linspace(0, 1, 3): Keras' bucket algorithm. y_true
     * [0 1 1 1 1], y_pred [0.9 0.2 0.6 0.85 0.5]:
     *   t = 0:   all five are > 0     -> TP 4, FP 1 -> 4/5
     *   t = 0.5: 0.9, 0.6, 0.85 (0.5 is not > 0.5) -> 2/3
     *   t = 1:   none                 -> 0 */
    kc_object *p =
        mk("{\"class_name\": \"Precision\", \"config\": {\"thresholds\": [0.0, 0.5, 1.0]}}");
    update(p, TU_T1(5, 0, 1, 1, 1, 1), TU_T1(5, 0.9f, 0.2f, 0.6f, 0.85f, 0.5f), NULL);
    result_vec(p, 3, F(0.8f, 2.0f / 3, 0), 1e-7);
    kc_object_unref(p);
    /* both algorithms agree on random data: Recall at [0, 0.25, 0.5, 0.75, 1]
     * (buckets) against the same thresholds one by one (comparisons) */
    kc_object *even =
        mk("{\"class_name\": \"Recall\", \"config\": {\"thresholds\": [0, 0.25, 0.5, 0.75, 1]}}");
    kc_object *single[5];
    const char *spec[5] = {"0", "0.25", "0.5", "0.75", "1"};
    for (int i = 0; i < 5; i++) {
        char buf[128];
        snprintf(buf, sizeof(buf), "{\"class_name\": \"Recall\", \"config\": {\"thresholds\": %s}}",
                 spec[i]);
        single[i] = mk(buf);
    }
    for (int batch = 0; batch < 3; batch++) {
        kc_tensor *yt = tu_random(2, D(16, 3), 0, 1, 10 + batch),
                  *yp = tu_random(2, D(16, 3), 0, 1, 20 + batch);
        kc_tensor *w = tu_random(1, D(16), 0, 2, 30 + batch);
        float *t = kc_tensor_f32(yt);
        for (int i = 0; i < 48; i++)
            t[i] = t[i] > 0.6f ? 1.0f : 0.0f;
        update(even, kc_tensor_ref(yt), kc_tensor_ref(yp), kc_tensor_ref(w));
        for (int i = 0; i < 5; i++)
            update(single[i], kc_tensor_ref(yt), kc_tensor_ref(yp), kc_tensor_ref(w));
        kc_tensor_unref(yt);
        kc_tensor_unref(yp);
        kc_tensor_unref(w);
    }
    kc_tensor *r = kc_metric_result(even, &err);
    CK_NN(r, err);
    for (int i = 0; i < 5; i++) {
        float want = result(single[i]);
        ck_assert_msg(fabsf(kc_tensor_f32(r)[i] - want) <= 1e-6f, "threshold %s: %g vs %g", spec[i],
                      kc_tensor_f32(r)[i], want);
        kc_object_unref(single[i]);
    }
    ck_assert(kc_tensor_f32(r)[0] > kc_tensor_f32(r)[3]); /* recall falls with the threshold */
    kc_tensor_unref(r);
    kc_object_unref(even);
}
END_TEST

START_TEST(confusion_counts_match_keras)
{
    /* Keras' docstrings: each count 2, with weights [0 0 1 0] 1 */
    static const struct {
        const char *cls;
        float yt[4], yp[4];
    } cases[] = {
        {"TruePositives", {0, 1, 1, 1}, {1, 0, 1, 1}},
        {"FalsePositives", {0, 1, 0, 0}, {0, 0, 1, 1}},
        {"TrueNegatives", {0, 1, 0, 0}, {1, 1, 0, 0}},
        {"FalseNegatives", {0, 1, 1, 1}, {0, 1, 0, 0}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_object *m = mk(cases[i].cls);
        ck_assert_int_eq(kc_metric_num_variables(m), 1);
        ck_assert_str_eq(kc_variable_name(kc_metric_variable(m, 0)), "accumulator");
        update(m, tu_tensor(1, D(4), cases[i].yt), tu_tensor(1, D(4), cases[i].yp), NULL);
        RESULT_IS(m, 2, 0);
        update(m, tu_tensor(1, D(4), cases[i].yt), tu_tensor(1, D(4), cases[i].yp),
               TU_T1(4, 0, 0, 1, 0));
        RESULT_IS(m, 3, 0); /* streams: 2 + 1 */
        reset(m);
        RESULT_IS(m, 0, 0);
        kc_object_unref(m);
    }
    /* several thresholds give one count each: y_pred [0.1 0.4 0.6 0.9], all
     * labels 1: > 0.3 three, > 0.7 one */
    kc_object *tp =
        mk("{\"class_name\": \"TruePositives\", \"config\": {\"thresholds\": [0.3, 0.7]}}");
    update(tp, TU_T1(4, 1, 1, 1, 1), TU_T1(4, 0.1f, 0.4f, 0.6f, 0.9f), NULL);
    result_vec(tp, 2, F(3, 1), 0);
    kc_object_unref(tp);
}
END_TEST

/* ---- AUC -------------------------------------------------------------------------- */

static kc_object *auc_on_docstring_case(const char *spec, kc_tensor *sw)
{
    kc_object *m = mk(spec);
    update(m, TU_T1(4, 0, 0, 1, 1), TU_T1(4, 0, 0.5f, 0.3f, 0.9f), sw);
    return m;
}

START_TEST(auc_roc_and_pr_by_hand)
{
    /* Keras' docstring, num_thresholds 3: thresholds [-1e-7, 0.5, 1 + 1e-7];
     * y_true [0 0 1 1], y_pred [0 0.5 0.3 0.9]:
     *   tp [2 1 0], fp [2 0 0], fn [0 1 2], tn [0 2 2]
     *   recall [1 0.5 0], fp rate [1 0 0], precision [0.5 1 0]
     * ROC interpolation: (1 - 0) (1 + 0.5) / 2 + 0 = 0.75 */
    kc_object *m = auc_on_docstring_case(
        "{\"class_name\": \"AUC\", \"config\": {\"num_thresholds\": 3}}", NULL);
    ck_assert_str_eq(kc_metric_name(m), "auc");
    RESULT_IS(m, 0.75f, 1e-7f);
    ck_assert_int_eq(kc_metric_num_variables(m), 4);
    const char *names[] = {"true_positives", "true_negatives", "false_positives",
                           "false_negatives"};
    const float want[4][3] = {{2, 1, 0}, {0, 2, 2}, {2, 0, 0}, {0, 1, 2}};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(kc_variable_name(kc_metric_variable(m, i)), names[i]);
        tu_assert_close(kc_variable_value(kc_metric_variable(m, i)), 1, D(3), want[i], 0, 0,
                        names[i]);
    }
    reset(m);
    RESULT_IS(m, 0, 0);
    /* weights [1 0 0 1] keep (0, 0) and (1, 0.9): a perfect ranking */
    update(m, TU_T1(4, 0, 0, 1, 1), TU_T1(4, 0, 0.5f, 0.3f, 0.9f), TU_T1(4, 1, 0, 0, 1));
    RESULT_IS(m, 1, 1e-7f);
    kc_object_unref(m);

    /* the docstring case with other curves, summations and thresholds */
    static const struct {
        const char *cfg;
        float want;
    } cases[] = {
        /* ROC minoring: 1 * min(1, 0.5) = 0.5; majoring: 1 * max(1, 0.5) = 1 */
        {"\"num_thresholds\": 3, \"summation_method\": \"minoring\"", 0.5f},
        {"\"num_thresholds\": 3, \"summation_method\": \"majoring\"", 1},
        /* PR, x = recall [1 0.5 0], y = precision [0.5 1 0]: minoring
         * 0.5 * min(0.5, 1) + 0.5 * min(1, 0) = 0.25; majoring 0.5 + 0.5 */
        {"\"num_thresholds\": 3, \"curve\": \"PR\", \"summation_method\": \"minoring\"", 0.25f},
        {"\"num_thresholds\": 3, \"curve\": \"pr\", \"summation_method\": \"Majoring\"", 1},
        /* PR interpolation (Davis & Goadrich), P = tp + fp = [4 1 0]:
         *   i = 0: dtp 1, dp 3, slope 1/3, intercept 1 - 1/3 = 2/3, P ratio 4:
         *          (1/3) (1 + (2/3) ln 4) / (tp1 + fn1 = 2) = 0.32069936
         *   i = 1: dtp 1, dp 1, slope 1, intercept 0 - 0 = 0, P ratio 1 (P2 = 0):
         *          1 * (1 + 0) / 2 = 0.5
         * total 0.82069936 */
        {"\"num_thresholds\": 3, \"curve\": \"PR\"", 0.82069936f},
        /* thresholds [0.4, 0.2] (sorted, not evenly spaced): [-1e-7 0.2 0.4 1+1e-7]
         *   tp [2 2 1 0], fp [2 1 1 0] -> recall [1 1 0.5 0], fp rate [1 0.5 0.5 0]
         *   ROC: 0.5 * (1 + 1) / 2 + 0 + 0.5 * (0.5 + 0) / 2 = 0.625 */
        {"\"thresholds\": [0.4, 0.2]", 0.625f},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char spec[256];
        snprintf(spec, sizeof(spec), "{\"class_name\": \"AUC\", \"config\": {%s}}", cases[i].cfg);
        m = auc_on_docstring_case(spec, NULL);
        RESULT_IS(m, cases[i].want, 1e-6f);
        kc_object_unref(m);
    }
    m = auc_on_docstring_case("{\"class_name\": \"AUC\", \"config\": {\"thresholds\": [0.4, 0.2]}}",
                              NULL);
    ck_assert_int_eq(kc_tensor_dim(kc_variable_value(kc_metric_variable(m, 0)), 0), 4);
    kc_object_unref(m);
    /* from_logits: sigmoid of [-5 0 -0.8473 2.1972] is about [0.007 0.5 0.3
     * 0.9]: the same buckets as the docstring case */
    m = mk("{\"class_name\": \"AUC\", \"config\": {\"num_thresholds\": 3, \"from_logits\": true}}");
    update(m, TU_T1(4, 0, 0, 1, 1), TU_T1(4, -5, 0, -0.8473f, 2.1972f), NULL);
    RESULT_IS(m, 0.75f, 1e-7f);
    kc_object_unref(m);
    /* 200 thresholds, predictions in separate buckets: the exact ROC AUC of
     * y_true [0 0 1 1], y_pred [0.1 0.4 0.35 0.8]: 3 of 4 pairs ranked right */
    m = mk("AUC");
    update(m, TU_T1(2, 0, 1), TU_T1(2, 0.1f, 0.35f), NULL);
    update(m, TU_T1(2, 0, 1), TU_T1(2, 0.4f, 0.8f), NULL);
    RESULT_IS(m, 0.75f, 1e-6f);
    kc_object_unref(m);
}
END_TEST

START_TEST(auc_multi_label_and_label_weights)
{
    /* labels (4, 2), num_thresholds 3:
     * label 0: y [0 0 1 1], p [0 0.5 0.3 0.9] -> 0.75 (as the docstring case)
     * label 1: y [1 0 1 0], p [0.9 0.7 0.8 0.6] -> all in bucket 1:
     *          tp [2 2 0], fp [2 2 0]: recall [1 1 0], fp rate [1 1 0] -> 0.5 */
    const float yt[] = {0, 1, 0, 0, 1, 1, 1, 0};
    const float yp[] = {0, 0.9f, 0.5f, 0.7f, 0.3f, 0.8f, 0.9f, 0.6f};
    kc_object *m =
        mk("{\"class_name\": \"AUC\", \"config\": {\"num_thresholds\": 3, \"multi_label\": true}}");
    ck_assert_int_eq(kc_metric_num_variables(m), 0); /* built by the first batch */
    update(m, tu_tensor(2, D(4, 2), yt), tu_tensor(2, D(4, 2), yp), NULL);
    ck_assert_int_eq(kc_metric_num_variables(m), 4);
    kc_shape s = kc_tensor_shape(kc_variable_value(kc_metric_variable(m, 0)));
    ck_assert(s.ndim == 2 && s.dims[0] == 3 && s.dims[1] == 2);
    RESULT_IS(m, 0.625f, 1e-7f); /* (0.75 + 0.5) / 2 */
    /* a batch with 3 labels no longer fits */
    ck_assert_int_eq(try_update(m, tu_tensor(2, D(2, 3), F(0, 1, 0, 1, 0, 1)),
                                tu_tensor(2, D(2, 3), F(0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f)), NULL),
                     KC_ESHAPE);
    kc_object_unref(m);
    /* label_weights [1 3]: (0.75 + 3 * 0.5) / 4 */
    m = mk("{\"class_name\": \"AUC\", \"config\": {\"num_thresholds\": 3, \"multi_label\": true, "
           "\"num_labels\": 2, \"label_weights\": [1, 3]}}");
    ck_assert_int_eq(kc_metric_num_variables(m), 4);
    update(m, tu_tensor(2, D(4, 2), yt), tu_tensor(2, D(4, 2), yp), NULL);
    RESULT_IS(m, 0.5625f, 1e-7f);
    kc_object_unref(m);
    /* without multi_label, label_weights weight the flattened pairs:
     * (label, pred, weight): (0 0 1) (1 .9 3) (0 .5 1) (0 .7 3) (1 .3 1) (1 .8 3) (1 .9 1) (0 .6 3)
     * bucket 0: TP 1 (0.3), FP 2 (0, 0.5); bucket 1: TP 3 + 3 + 1, FP 3 + 3
     * tp [8 7 0], fp [8 6 0] -> recall [1 7/8 0], fp rate [1 3/4 0]
     * ROC: 0.25 (1 + 0.875) / 2 + 0.75 (0.875 + 0) / 2 = 0.5625 */
    m = mk("{\"class_name\": \"AUC\", \"config\": {\"num_thresholds\": 3, \"label_weights\": [1, "
           "3]}}");
    update(m, tu_tensor(2, D(4, 2), yt), tu_tensor(2, D(4, 2), yp), NULL);
    RESULT_IS(m, 0.5625f, 1e-7f);
    /* y_true must have one column per label weight */
    ck_assert_int_eq(try_update(m, TU_T1(4, 0, 0, 1, 1), TU_T1(4, 0, 0.5f, 0.3f, 0.9f), NULL),
                     KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "label_weights");
    kc_object_unref(m);
    /* multi_label needs rank-2 predictions */
    m = mk("{\"class_name\": \"AUC\", \"config\": {\"multi_label\": true}}");
    ck_assert_int_eq(try_update(m, TU_T1(4, 0, 0, 1, 1), TU_T1(4, 0, 0.5f, 0.3f, 0.9f), NULL),
                     KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "rank 2");
    RESULT_IS(m, 0, 0);
    kc_object_unref(m);
}
END_TEST

/* ---- MeanIoU ------------------------------------------------------------------------- */

START_TEST(mean_iou_from_the_confusion_matrix)
{
    /* Keras' docstring: cm [[1 1] [1 1]] -> IoU 1/3 per class */
    kc_object *m = mk("{\"class_name\": \"MeanIoU\", \"config\": {\"num_classes\": 2}}");
    ck_assert_str_eq(kc_metric_name(m), "mean_io_u");
    ck_assert_str_eq(kc_variable_name(kc_metric_variable(m, 0)), "total_confusion_matrix");
    update(m, TU_T1(4, 0, 0, 1, 1), TU_T1(4, 0, 1, 0, 1), NULL);
    RESULT_IS(m, 1.0f / 3.0f, 1e-7f);
    /* weights [0.3 0.3 0.3 0.1]: cm [[0.3 0.3] [0.3 0.1]]
     * IoU 0.3 / (0.6 + 0.6 - 0.3), 0.1 / (0.4 + 0.4 - 0.1) -> mean 0.23809524 */
    reset(m);
    update(m, TU_T1(4, 0, 0, 1, 1), TU_T1(4, 0, 1, 0, 1), TU_T1(4, 0.3f, 0.3f, 0.3f, 0.1f));
    RESULT_IS(m, 0.23809524f, 1e-7f);
    tu_assert_close(kc_variable_value(kc_metric_variable(m, 0)), 2, D(2, 2),
                    F(0.3f, 0.3f, 0.3f, 0.1f), 0, 1e-7, "weighted confusion matrix");
    kc_object_unref(m);
    /* ignore_class 255 drops that sample; class 2 never seen nor predicted
     * does not count: classes 0 and 1 are perfect -> 1 */
    m = mk(
        "{\"class_name\": \"MeanIoU\", \"config\": {\"num_classes\": 3, \"ignore_class\": 255}}");
    update(m, TU_T1(3, 0, 255, 1), TU_T1(3, 0, 2, 1), NULL);
    RESULT_IS(m, 1, 0);
    /* another batch, dense predictions reduced with argmax elsewhere */
    kc_object_unref(m);
    m = mk("{\"class_name\": \"MeanIoU\", \"config\": {\"num_classes\": 3, \"sparse_y_pred\": "
           "false}}");
    /* argmax [2 0 1 1] vs labels [2 0 0 1]: cm[2][2], cm[0][0], cm[0][1], cm[1][1]
     * IoU0 1/(2+1-1) = 1/2, IoU1 1/(1+2-1) = 1/2, IoU2 1 -> 2/3 */
    update(m, ints(2, D(2, 2), (int32_t[]){2, 0, 0, 1}),
           tu_tensor(3, D(2, 2, 3), F(0, 0, 1, 1, 0, 0, 0, 1, 0, 0.2f, 0.7f, 0.1f)), NULL);
    RESULT_IS(m, 2.0f / 3.0f, 1e-7f);
    /* out-of-range classes are errors and change nothing */
    ck_assert_int_eq(
        try_update(m, TU_T1(2, 0, 3), tu_tensor(2, D(2, 3), F(1, 0, 0, 0, 1, 0)), NULL), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "[0, 3)");
    RESULT_IS(m, 2.0f / 3.0f, 1e-7f);
    ck_assert_int_eq(
        try_update(m, TU_T1(3, 0, 1, 2), tu_tensor(2, D(2, 3), F(1, 0, 0, 0, 1, 0)), NULL),
        KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "(3,)");
    kc_object_unref(m);
}
END_TEST

/* ---- functions, wrappers, keras.metrics.get ------------------------------------------- */

/* A loss registered by the test: mean over the last axis of (p - t)^2. */
static kc_tensor *test_sq_err(kc_tensor *yt, kc_tensor *yp, void *params, kc_error *e)
{
    (void)params;
    kc_tensor *d = kc_sub(yp, yt, e);
    kc_tensor *q = kc_square(d, e);
    kc_tensor *m = kc_reduce_mean(q, (int[]){-1}, 1, false, e);
    kc_tensor_unref(d);
    kc_tensor_unref(q);
    return m;
}

/* A metric function with a bound parameter: |p - t| <= *tol per element. */
static kc_tensor *within_tol(kc_tensor *yt, kc_tensor *yp, void *params, kc_error *e)
{
    kc_tensor *d = kc_sub(yp, yt, e);
    kc_tensor *a = kc_abs(d, e);
    kc_tensor *r = kc_less_scalar(a, *(float *)params, e);
    kc_tensor_unref(d);
    kc_tensor_unref(a);
    return r;
}

static void check_config(kc_object *m, const char *want_json)
{
    json_t *cfg, *want = kc_json_parse(want_json, strlen(want_json), 0, &err);
    CK_NN(want, err);
    CK_OK(kc_object_get_config(m, &cfg, &err));
    char *got = kc_json_dump(cfg, &err);
    ck_assert_msg(json_equal(cfg, want), "config %s, want %s", got, want_json);
    kc_json_free(got);
    json_decref(cfg);
    json_decref(want);
}

START_TEST(metric_get_wraps_functions_and_losses)
{
    /* a function is wrapped in a MeanMetricWrapper named as written */
    kc_object *a = kc_metric_get("accuracy", &err);
    CK_NN(a, err);
    ck_assert_str_eq(kc_object_name(a), "MeanMetricWrapper");
    check_config(a, "{\"name\": \"accuracy\", \"dtype\": \"float32\", \"fn\": \"accuracy\"}");
    kc_object_unref(a);
    a = kc_metric_get("acc", &err);
    CK_NN(a, err);
    check_config(a, "{\"name\": \"acc\", \"dtype\": \"float32\", \"fn\": \"accuracy\"}");
    kc_object_unref(a);
    /* binary_accuracy averages each sample's last axis: [1 1 1 0] -> 0.75 */
    a = kc_metric_get("binary_accuracy", &err);
    CK_NN(a, err);
    update(a, TU_T2(4, 1, 1, 1, 0, 0), TU_T2(4, 1, 0.98f, 1, 0, 0.6f), NULL);
    RESULT_IS(a, 0.75f, 0);
    kc_object_unref(a);
    /* a class name gives the class with its defaults */
    a = kc_metric_get("Precision", &err);
    CK_NN(a, err);
    ck_assert_str_eq(kc_object_name(a), "Precision");
    kc_object_unref(a);
    /* each built-in function through the wrapper, on Keras' docstring data */
    static const struct {
        const char *fn;
        float want;
    } fns[] = {{"categorical_accuracy", 0.5f}, {"top_k_categorical_accuracy", 1.0f}};
    for (size_t i = 0; i < 2; i++) {
        a = kc_metric_get(fns[i].fn, &err);
        CK_NN(a, err);
        update(a, TU_T2(2, 3, 0, 0, 1, 0, 1, 0), TU_T2(2, 3, 0.1f, 0.9f, 0.8f, 0.05f, 0.95f, 0),
               NULL);
        RESULT_IS(a, fns[i].want, 0);
        kc_object_unref(a);
    }
    a = kc_metric_get("sparse_categorical_accuracy", &err);
    CK_NN(a, err);
    update(a, TU_T2(2, 1, 2, 1), TU_T2(2, 3, 0.1f, 0.6f, 0.3f, 0.05f, 0.95f, 0),
           TU_T1(2, 0.7f, 0.3f));
    RESULT_IS(a, 0.3f, 1e-7f);
    kc_object_unref(a);
    a = kc_metric_get("sparse_top_k_categorical_accuracy", &err);
    CK_NN(a, err);
    update(a, TU_T1(2, 2, 1), TU_T2(2, 3, 0.1f, 0.9f, 0.8f, 0.05f, 0.95f, 0), NULL);
    RESULT_IS(a, 1, 0);
    kc_object_unref(a);

    /* not a metric: a loss of that name, wrapped (every loss is a metric) */
    CK_OK(kc_register_function(KC_KIND_LOSS, "metrics_test_sq_err", KC_FN(test_sq_err), &err));
    kc_object *l = kc_metric_get("metrics_test_sq_err", &err);
    CK_NN(l, err);
    ck_assert_str_eq(kc_metric_name(l), "metrics_test_sq_err");
    /* per-sample [(1 + 0) / 2, (4 + 4) / 2] = [0.5, 4], weights [3 1] -> (1.5 + 4) / 4 */
    update(l, TU_T2(2, 2, 0, 1, 0, 0), TU_T2(2, 2, 1, 1, 2, 2), TU_T1(2, 3, 1));
    RESULT_IS(l, 1.375f, 0);
    /* saved by name, restored through the loss registry */
    json_t *ser;
    CK_OK(kc_serialize(l, &ser, &err));
    char *text = kc_json_dump(ser, &err);
    ck_assert_str_eq(
        text, "{\"class_name\": \"MeanMetricWrapper\", \"config\": {\"name\": "
              "\"metrics_test_sq_err\", \"dtype\": \"float32\", \"fn\": \"metrics_test_sq_err\"}}");
    kc_json_free(text);
    kc_object *back;
    CK_OK(kc_deserialize(KC_KIND_METRIC, ser, NULL, &back, &err));
    update(back, TU_T2(2, 2, 0, 1, 0, 0), TU_T2(2, 2, 1, 1, 2, 2), TU_T1(2, 3, 1));
    RESULT_IS(back, 1.375f, 0);
    json_decref(ser);
    kc_object_unref(back);
    kc_object_unref(l);

    /* unknown everywhere */
    ck_assert_ptr_null(kc_metric_get("no_such_metric_anywhere", &err));
    CK_ERR(err, KC_ENOTFOUND, "no_such_metric_anywhere");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_metric_get("", &err));
    CK_ERR(err, KC_EINVAL, NULL);
}
END_TEST

START_TEST(mean_metric_wrapper_functions_and_custom_objects)
{
    /* a metric function bound to a parameter, through custom objects */
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_NN(co, err);
    float *tol = malloc(sizeof(float));
    *tol = 0.5f;
    CK_OK(kc_custom_objects_add_function(co, KC_KIND_METRIC, "within_tol", KC_FN(within_tol), tol,
                                         free, &err));
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "metrics[0]", co);
    const char *spec = "{\"class_name\": \"MeanMetricWrapper\", \"config\": {\"name\": \"close\", "
                       "\"dtype\": \"float32\", \"fn\": \"within_tol\"}}";
    json_t *j = kc_json_parse(spec, strlen(spec), 0, &err);
    kc_object *m;
    CK_OK(kc_deserialize(KC_KIND_METRIC, j, &ctx, &m, &err));
    kc_custom_objects_free(co); /* the wrapper keeps its function */
    ck_assert_str_eq(kc_metric_name(m), "close");
    /* |p - t| = [0.1 0.7 0.4 2] < 0.5 -> [1 0 1 0] */
    update(m, TU_T1(4, 1, 1, 1, 1), TU_T1(4, 1.1f, 0.3f, 1.4f, 3), NULL);
    RESULT_IS(m, 0.5f, 0);
    kc_object_unref(m);
    /* without the custom objects the function is unknown: the path says where */
    kc_config_ctx_init(&ctx, "metrics[0]", NULL);
    ck_assert_int_eq(kc_deserialize(KC_KIND_METRIC, j, &ctx, &m, &err), KC_ENOTFOUND);
    CK_ERR(err, KC_ENOTFOUND, "metrics[0].config.fn");
    json_decref(j);

    /* kc_metric_mean_wrapper of a function object */
    float *tol2 = malloc(sizeof(float));
    *tol2 = 2.0f;
    kc_object *fn =
        kc_function_new(KC_KIND_METRIC, "within_tol", KC_FN(within_tol), tol2, free, &err);
    CK_NN(fn, err);
    m = kc_metric_mean_wrapper(fn, NULL, &err);
    CK_NN(m, err);
    ck_assert_str_eq(kc_metric_name(m), "within_tol");
    update(m, TU_T1(4, 1, 1, 1, 1), TU_T1(4, 1.1f, 0.3f, 1.4f, 3), NULL);
    RESULT_IS(m, 0.75f, 0);
    kc_object_unref(m);
    /* a function object is stateless: it is not itself a metric to update */
    kc_error_clear(&err);
    ck_assert_int_eq(kc_metric_update(fn, NULL, NULL, NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "kc_metric_mean_wrapper");
    kc_object_unref(fn);

    /* a metric class instance is not something to wrap */
    kc_object *p = mk("Precision");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_metric_mean_wrapper(p, "x", &err));
    CK_ERR(err, KC_ETYPE, "Precision");
    kc_object_unref(p);

    /* "fn": null (what Keras' from_config accepts) builds, but cannot update */
    m = mk("{\"class_name\": \"MeanMetricWrapper\", \"config\": {\"name\": \"w\", \"fn\": null}}");
    ck_assert_int_eq(try_update(m, TU_T1(1, 1), TU_T1(1, 1), NULL), KC_ESTATE);
    CK_ERR(err, KC_ESTATE, "no function");
    kc_object_unref(m);
}
END_TEST

/* A loss class of the test (kind loss): per-sample mean of |p - t| * scale. */
typedef struct scaled_abs_loss {
    kc_loss base;
    double scale;
} scaled_abs_loss;

static kc_tensor *scaled_abs_call(kc_object *self, kc_tensor *yt, kc_tensor *yp, kc_error *e)
{
    kc_tensor *d = kc_sub(yp, yt, e);
    kc_tensor *a = kc_abs(d, e);
    kc_tensor *m = kc_reduce_mean(a, (int[]){-1}, 1, false, e);
    kc_tensor *r = kc_mul_scalar(m, (float)((scaled_abs_loss *)self)->scale, e);
    kc_tensor_unref(d);
    kc_tensor_unref(a);
    kc_tensor_unref(m);
    return r;
}

static kc_status scaled_abs_init(kc_object *self, kc_error *e)
{
    (void)e;
    ((scaled_abs_loss *)self)->scale = 1.0;
    return KC_OK;
}

static kc_status scaled_abs_get_config(const kc_object *self, json_t *cfg, kc_error *e)
{
    return kc_cfg_set_float(cfg, "scale", ((const scaled_abs_loss *)self)->scale, e);
}

static kc_status scaled_abs_from_config(kc_object *self, const json_t *cfg,
                                        const kc_config_ctx *ctx, kc_error *e)
{
    return kc_cfg_float(ctx, cfg, "scale", 0, 1.0, &((scaled_abs_loss *)self)->scale, e);
}

static const kc_loss_methods scaled_abs_methods = {scaled_abs_call};
static const kc_class scaled_abs_class = {.abi = KC_CLASS_ABI,
                                          .kind = KC_KIND_LOSS,
                                          .name = "MetricsTest>ScaledAbs",
                                          .size = sizeof(scaled_abs_loss),
                                          .config_version = 1,
                                          .init = scaled_abs_init,
                                          .get_config = scaled_abs_get_config,
                                          .from_config = scaled_abs_from_config,
                                          .methods = &scaled_abs_methods};

START_TEST(mean_metric_wrapper_of_a_loss_instance)
{
    CK_OK(kc_register_class(&scaled_abs_class, &err));
    kc_object *loss = kc_object_create(
        KC_KIND_LOSS, "{\"class_name\": \"MetricsTest>ScaledAbs\", \"config\": {\"scale\": 2.0}}",
        &err);
    CK_NN(loss, err);
    kc_object *m = kc_metric_mean_wrapper(loss, "scaled_abs", &err);
    CK_NN(m, err);
    kc_object_unref(loss); /* the wrapper keeps it */
    /* per-sample 2 * mean|p - t|: [2 * 0.5, 2 * 2] = [1, 4] -> 2.5 */
    update(m, TU_T2(2, 2, 0, 0, 0, 0), TU_T2(2, 2, 1, 0, 2, 2), NULL);
    RESULT_IS(m, 2.5f, 0);
    /* the loss is saved with its config and comes back through the registry */
    json_t *ser;
    CK_OK(kc_serialize(m, &ser, &err));
    json_t *fn = json_object_get(json_object_get(ser, "config"), "fn");
    ck_assert_str_eq(json_string_value(json_object_get(fn, "class_name")), "MetricsTest>ScaledAbs");
    kc_object *back;
    CK_OK(kc_deserialize(KC_KIND_METRIC, ser, NULL, &back, &err));
    update(back, TU_T2(2, 2, 0, 0, 0, 0), TU_T2(2, 2, 1, 0, 2, 2), NULL);
    RESULT_IS(back, 2.5f, 0);
    json_decref(ser);
    kc_object_unref(back);
    kc_object_unref(m);
}
END_TEST

/* A prediction exactly at the threshold is negative: Keras compares with
 * `>` everywhere a threshold decides (binary_matches for BinaryAccuracy and
 * binary_accuracy; tf.greater in metrics_utils.update_confusion_matrix_
 * variables for TruePositives ... FalseNegatives, Precision, Recall and AUC
 * with explicit thresholds; ceil(p * (n - 1)) - 1 buckets for AUC with evenly
 * spaced thresholds, which put p = i / (n - 1) below threshold i). Each case
 * gives another value with `>=`. */
START_TEST(thresholded_metrics_count_a_tie_as_negative)
{
    /* y_true 0, 0; y_pred at and above 0.5: strict 1 match of 2, >= none */
    const char *acc[] = {"{\"class_name\": \"BinaryAccuracy\", \"config\": {}}",
                         "{\"class_name\": \"BinaryAccuracy\", \"config\": {\"threshold\": 0.25}}"};
    for (int i = 0; i < 2; i++) {
        kc_object *m = mk(acc[i]);
        float t = i ? 0.25f : 0.5f;
        update(m, TU_T2(2, 1, 0, 0), TU_T2(2, 1, t, 0.7f), NULL);
        RESULT_IS(m, 0.5, 0);
        kc_object_unref(m);
    }
    kc_object *fn = kc_object_create(KC_KIND_METRIC, "binary_accuracy", &err);
    CK_NN(fn, err);
    kc_fn f;
    CK_OK(kc_function_get(fn, &f, NULL, &err));
    kc_tensor *yt = TU_T2(1, 2, 0, 0), *yp = TU_T2(1, 2, 0.5f, 0.7f);
    kc_tensor *v = ((kc_loss_fn)f)(yt, yp, NULL, &err);
    tu_assert_close(v, 1, D(1), F(0.5f), 0, 0, "binary_accuracy at the threshold");
    kc_tensor_unref(v), kc_tensor_unref(yt), kc_tensor_unref(yp);
    kc_object_unref(fn);
    /* confusion counts: a positive and a negative label, both predicted 0.5 */
    static const struct {
        const char *cls;
        float want;
    } counts[] = {{"TruePositives", 0}, {"FalsePositives", 0}, {"TrueNegatives", 1}, {"FalseNegatives", 1}};
    for (int i = 0; i < 4; i++) {
        char spec[160];
        snprintf(spec, sizeof spec, "{\"class_name\": \"%s\", \"config\": {\"thresholds\": 0.5}}", counts[i].cls);
        kc_object *m = mk(spec);
        update(m, TU_T1(2, 1, 0), TU_T1(2, 0.5f, 0.5f), NULL);
        RESULT_IS(m, counts[i].want, 0);
        kc_object_unref(m);
    }
    /* labels 1, 0, 1 predicted 0.5, 0.5, 0.9: strict TP 1, FP 0, FN 1 */
    kc_object *p = mk("{\"class_name\": \"Precision\", \"config\": {}}");
    kc_object *r = mk("{\"class_name\": \"Recall\", \"config\": {}}");
    kc_object *p3 = mk("{\"class_name\": \"Precision\", \"config\": {\"thresholds\": [0.3, 0.5, 0.9]}}");
    update(p, TU_T1(3, 1, 0, 1), TU_T1(3, 0.5f, 0.5f, 0.9f), NULL);
    update(r, TU_T1(3, 1, 0, 1), TU_T1(3, 0.5f, 0.5f, 0.9f), NULL);
    update(p3, TU_T1(3, 1, 0, 1), TU_T1(3, 0.5f, 0.5f, 0.9f), NULL);
    RESULT_IS(p, 1.0, 0);   /* >=: 2/3 */
    RESULT_IS(r, 0.5, 0);   /* >=: 1 */
    result_vec(p3, 3, F(2.0f / 3.0f, 1.0f, 0.0f), 1e-7); /* at 0.9 nothing is above */
    kc_object_unref(p), kc_object_unref(r), kc_object_unref(p3);
    /* AUC (ROC, interpolated): a positive at 0.9 and a negative exactly at a
     * threshold: strict FPR (1, 0, 0) gives 1, >= (1, 1, 0) gives 0.5 */
    const char *aucs[] = {"{\"class_name\": \"AUC\", \"config\": {\"num_thresholds\": 3}}",
                          "{\"class_name\": \"AUC\", \"config\": {\"thresholds\": [0.4, 0.5]}}"};
    for (int i = 0; i < 2; i++) {
        kc_object *m = mk(aucs[i]);
        update(m, TU_T1(2, 1, 0), TU_T1(2, 0.9f, 0.5f), NULL);
        RESULT_IS(m, 1.0, 1e-7);
        kc_object_unref(m);
    }
}
END_TEST

START_TEST(metric_functions_give_per_sample_values)
{
    kc_object *fn;
    /* binary_accuracy: mean over the last axis -> shape (2,) */
    fn = kc_object_create(KC_KIND_METRIC, "binary_accuracy", &err);
    CK_NN(fn, err);
    ck_assert(kc_object_is_function(fn));
    kc_fn f;
    CK_OK(kc_function_get(fn, &f, NULL, &err));
    kc_tensor *yt = TU_T2(2, 2, 1, 0, 1, 1), *yp = TU_T2(2, 2, 0.7f, 0.6f, 0.2f, 0.9f);
    kc_tensor *v = ((kc_loss_fn)f)(yt, yp, NULL, &err);
    tu_assert_close(v, 1, D(2), F(0.5f, 0.5f), 0, 0, "binary_accuracy");
    kc_tensor_unref(v);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_object_unref(fn);
    /* accuracy with integer labels: predictions are cast to the labels' type
     * (truncated), as Keras does; shapes must agree */
    fn = kc_object_create(KC_KIND_METRIC, "accuracy", &err);
    CK_NN(fn, err);
    CK_OK(kc_function_get(fn, &f, NULL, &err));
    yt = ints(1, D(3), (int32_t[]){1, 2, 3});
    yp = TU_T1(3, 1.2f, 2.9f, 0);
    v = ((kc_loss_fn)f)(yt, yp, NULL, &err);
    tu_assert_close(v, 1, D(3), F(1, 1, 0), 0, 0, "accuracy");
    kc_tensor_unref(v);
    kc_tensor_unref(yp);
    yp = TU_T1(2, 1, 2);
    ck_assert_ptr_null(((kc_loss_fn)f)(yt, yp, NULL, &err));
    CK_ERR(err, KC_ESHAPE, "(3,)");
    CK_ERR(err, KC_ESHAPE, "(2,)");
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_object_unref(fn);
    /* sparse_categorical_accuracy squeezes (N, 1) labels and matches */
    kc_error_clear(&err);
    fn = kc_object_create(KC_KIND_METRIC, "sparse_categorical_accuracy", &err);
    CK_NN(fn, err);
    CK_OK(kc_function_get(fn, &f, NULL, &err));
    yt = TU_T2(2, 1, 2, 1);
    yp = TU_T2(2, 3, 0.1f, 0.6f, 0.3f, 0.05f, 0.95f, 0);
    v = ((kc_loss_fn)f)(yt, yp, NULL, &err);
    tu_assert_close(v, 1, D(2), F(0, 1), 0, 0, "sparse_categorical_accuracy");
    kc_tensor_unref(v);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_object_unref(fn);
}
END_TEST

/* ---- configs ---------------------------------------------------------------------------- */

/* Feed the same batches to a and b and compare results (or errors). */
static void same_behaviour(kc_object *a, kc_object *b, const char *what)
{
    kc_tensor *onehot = TU_T2(4, 3, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0);
    kc_tensor *probs =
        TU_T2(4, 3, 0.2f, 0.7f, 0.1f, 0.3f, 0.4f, 0.3f, 0.1f, 0.1f, 0.8f, 0.6f, 0.3f, 0.1f);
    kc_tensor *labels = TU_T1(4, 1, 0, 2, 1);
    kc_tensor *w = TU_T1(4, 1, 0.5f, 2, 1);
    bool sparse = strstr(kc_object_name(a), "Sparse") != NULL;
    kc_object *ms[2] = {a, b};
    kc_tensor *res[2];
    kc_status rc[2];
    for (int i = 0; i < 2; i++) {
        kc_error e = {0};
        rc[i] = kc_metric_update(ms[i], sparse ? labels : onehot, probs, w, &e);
        if (rc[i] == KC_OK)
            rc[i] = kc_metric_update(ms[i], sparse ? labels : onehot, probs, NULL, &e);
        res[i] = rc[i] == KC_OK ? kc_metric_result(ms[i], &e) : NULL;
    }
    ck_assert_msg(rc[0] == rc[1], "%s: %s vs %s", what, kc_status_name(rc[0]),
                  kc_status_name(rc[1]));
    if (res[0]) tu_assert_tensors_close(res[1], res[0], 0, 0, what);
    kc_tensor_unref(res[0]);
    kc_tensor_unref(res[1]);
    kc_tensor_unref(onehot);
    kc_tensor_unref(probs);
    kc_tensor_unref(labels);
    kc_tensor_unref(w);
}

START_TEST(every_builtin_metric_class_round_trips)
{
    int n = 0;
    for (size_t i = 0; i < kc_registry_size(); i++) {
        kc_kind kind;
        const char *name;
        const kc_class *cls;
        ck_assert(kc_registry_entry(i, &kind, &name, &cls, NULL));
        if (kind != KC_KIND_METRIC || !cls) continue;
        kc_object *a = kc_object_new(cls, &err);
        ck_assert_msg(a != NULL, "%s: %s", name, err.message);
        json_t *c1, *c2;
        CK_OK(kc_object_get_config(a, &c1, &err));
        kc_object *b = kc_object_from_config(cls, c1, NULL, &err);
        ck_assert_msg(b != NULL, "%s: %s (%s)", name, err.message, err.context);
        CK_OK(kc_object_get_config(b, &c2, &err));
        char *t1 = kc_json_dump(c1, &err), *t2 = kc_json_dump(c2, &err);
        ck_assert_msg(json_equal(c1, c2), "%s: config %s became %s", name, t1, t2);
        /* serialize -> deserialize through the registry, then the same numbers */
        json_t *ser;
        CK_OK(kc_serialize(b, &ser, &err));
        kc_object *c;
        CK_OK(kc_deserialize(KC_KIND_METRIC, ser, NULL, &c, &err));
        ck_assert_str_eq(kc_object_name(c), name);
        ck_assert_int_eq(kc_metric_num_variables(c), kc_metric_num_variables(a));
        same_behaviour(a, c, name);
        n++;
        kc_json_free(t1);
        kc_json_free(t2);
        json_decref(ser);
        json_decref(c1);
        json_decref(c2);
        kc_object_unref(a);
        kc_object_unref(b);
        kc_object_unref(c);
    }
    ck_assert_int_ge(n, 20);
}
END_TEST

START_TEST(keras_written_metric_configs_round_trip)
{
    /* tf.keras 2.15 get_config() output, key order included */
    static const char *const cfgs[] = {
        "{\"class_name\": \"MeanMetricWrapper\", \"config\": {\"name\": \"accuracy\", \"dtype\": "
        "\"float32\", \"fn\": \"binary_accuracy\"}}",
        "{\"class_name\": \"Precision\", \"config\": {\"name\": \"precision\", \"dtype\": "
        "\"float32\", \"thresholds\": null, \"top_k\": null, \"class_id\": null}}",
        "{\"class_name\": \"Recall\", \"config\": {\"name\": \"recall_at_2\", \"dtype\": "
        "\"float32\", \"thresholds\": [0.25, 0.75], \"top_k\": 2, \"class_id\": 1}}",
        "{\"class_name\": \"TruePositives\", \"config\": {\"name\": \"tp\", \"dtype\": "
        "\"float32\", \"thresholds\": 0.3}}",
        "{\"class_name\": \"AUC\", \"config\": {\"name\": \"auc\", \"dtype\": \"float32\", "
        "\"num_thresholds\": 200, \"curve\": \"ROC\", \"summation_method\": \"interpolation\", "
        "\"multi_label\": false, \"num_labels\": null, \"label_weights\": null, \"from_logits\": "
        "false}}",
        "{\"class_name\": \"AUC\", \"config\": {\"name\": \"pr_auc\", \"dtype\": \"float32\", "
        "\"num_thresholds\": 4, \"curve\": \"PR\", \"summation_method\": \"majoring\", "
        "\"multi_label\": true, \"num_labels\": 2, \"label_weights\": [0.25, 0.75], "
        "\"from_logits\": true, \"thresholds\": [0.2, 0.6]}}",
        "{\"class_name\": \"BinaryAccuracy\", \"config\": {\"name\": \"binary_accuracy\", "
        "\"dtype\": \"float32\", \"threshold\": 0.5}}",
        "{\"class_name\": \"TopKCategoricalAccuracy\", \"config\": {\"name\": \"top3\", \"dtype\": "
        "\"float32\", \"k\": 3}}",
        "{\"class_name\": \"MeanIoU\", \"config\": {\"name\": \"mean_io_u\", \"dtype\": "
        "\"float32\", \"num_classes\": 4, \"ignore_class\": 0, \"sparse_y_true\": true, "
        "\"sparse_y_pred\": false, \"axis\": -1}}",
        "{\"class_name\": \"RootMeanSquaredError\", \"config\": {\"name\": "
        "\"root_mean_squared_error\", \"dtype\": \"float32\"}}",
    };
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        json_t *in = kc_json_parse(cfgs[i], strlen(cfgs[i]), 0, &err);
        kc_object *o;
        CK_OK(kc_deserialize(KC_KIND_METRIC, in, NULL, &o, &err));
        json_t *out;
        CK_OK(kc_serialize(o, &out, &err));
        char *t = kc_json_dump(out, &err);
        ck_assert_msg(json_equal(in, out), "%s came back as %s", cfgs[i], t);
        ck_assert_str_eq(t, cfgs[i]);
        kc_json_free(t);
        json_decref(in);
        json_decref(out);
        kc_object_unref(o);
    }
    /* a name and dtype read from the config; "num_thresholds" follows the
     * given thresholds (their count + 2) */
    kc_object *a = mk("{\"class_name\": \"AUC\", \"config\": {\"name\": \"my_auc\", \"dtype\": "
                      "null, \"num_thresholds\": 50, \"thresholds\": [0.7, 0.1, 0.4]}}");
    ck_assert_str_eq(kc_metric_name(a), "my_auc");
    check_config(
        a,
        "{\"name\": \"my_auc\", \"dtype\": \"float32\", \"num_thresholds\": 5, \"curve\": \"ROC\", "
        "\"summation_method\": \"interpolation\", \"multi_label\": false, \"num_labels\": null, "
        "\"label_weights\": null, \"from_logits\": false, \"thresholds\": [0.1, 0.4, 0.7]}");
    kc_object_unref(a);
}
END_TEST

START_TEST(bad_metric_configs_are_errors)
{
    static const struct {
        const char *spec;
        kc_status code;
        const char *needle;
    } bad[] = {
        {"{\"class_name\": \"Precision\", \"config\": {\"thresholds\": 1.5}}", KC_EFORMAT,
         "[0, 1]"},
        {"{\"class_name\": \"Precision\", \"config\": {\"thresholds\": [0.5, \"x\"]}}", KC_EFORMAT,
         "config.thresholds"},
        {"{\"class_name\": \"Recall\", \"config\": {\"thresholds\": []}}", KC_EFORMAT, "non-empty"},
        {"{\"class_name\": \"Precision\", \"config\": {\"top_k\": 0}}", KC_EFORMAT,
         "top_k: expected a positive integer"},
        {"{\"class_name\": \"Recall\", \"config\": {\"class_id\": -2}}", KC_EFORMAT, "class_id"},
        {"{\"class_name\": \"Precision\", \"config\": {\"dtype\": \"float64\"}}", KC_EUNSUPPORTED,
         "float64"},
        {"{\"class_name\": \"Mean\", \"config\": {\"dtype\": 5}}", KC_EFORMAT, "dtype"},
        {"{\"class_name\": \"Mean\", \"config\": {\"name\": [1]}}", KC_EFORMAT, "config.name"},
        {"{\"class_name\": \"BinaryAccuracy\", \"config\": {\"threshold\": \"high\"}}", KC_EFORMAT,
         "threshold"},
        {"{\"class_name\": \"TopKCategoricalAccuracy\", \"config\": {\"k\": 0}}", KC_EFORMAT,
         "config.k"},
        {"{\"class_name\": \"MeanIoU\", \"config\": {\"name\": \"iou\"}}", KC_EFORMAT,
         "num_classes: missing"},
        {"{\"class_name\": \"MeanIoU\", \"config\": {\"num_classes\": 0}}", KC_EFORMAT,
         "num_classes"},
        {"{\"class_name\": \"AUC\", \"config\": {\"curve\": \"XYZ\"}}", KC_EFORMAT, "curve"},
        {"{\"class_name\": \"AUC\", \"config\": {\"summation_method\": \"trapezoid\"}}", KC_EFORMAT,
         "summation_method"},
        {"{\"class_name\": \"AUC\", \"config\": {\"num_thresholds\": 1}}", KC_EFORMAT,
         "num_thresholds"},
        {"{\"class_name\": \"AUC\", \"config\": {\"num_labels\": 3}}", KC_EFORMAT, "multi_label"},
        {"{\"class_name\": \"AUC\", \"config\": {\"label_weights\": [1, -1]}}", KC_EFORMAT,
         "non-negative"},
        {"{\"class_name\": \"AUC\", \"config\": {\"multi_label\": true, \"num_labels\": 2, "
         "\"label_weights\": [1]}}",
         KC_EFORMAT, "label_weights"},
        {"{\"class_name\": \"MeanMetricWrapper\", \"config\": {\"fn\": "
         "\"not_a_function_anywhere\"}}",
         KC_ENOTFOUND, "config.fn"},
        {"{\"class_name\": \"NoSuchMetric\", \"config\": {}}", KC_ENOTFOUND, "NoSuchMetric"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kc_error_clear(&err);
        kc_object *o = kc_object_create(KC_KIND_METRIC, bad[i].spec, &err);
        ck_assert_msg(o == NULL, "%s was accepted", bad[i].spec);
        CK_ERR(err, bad[i].code, bad[i].needle);
    }
}
END_TEST

/* ---- bad inputs ------------------------------------------------------------------------ */

START_TEST(bad_inputs_are_errors_naming_shapes)
{
    static const char *const specs[] = {"Precision",
                                        "Recall",
                                        "AUC",
                                        "TruePositives",
                                        "Accuracy",
                                        "BinaryAccuracy",
                                        "MeanSquaredError",
                                        "MeanAbsoluteError",
                                        "RootMeanSquaredError",
                                        "SparseCategoricalAccuracy"};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        kc_object *m = mk(specs[i]);
        bool sparse = specs[i][0] == 'S';
        kc_tensor *yt = sparse ? TU_T1(4, 0, 1, 1, 0) : TU_T1(4, 0, 1, 1, 0);
        kc_tensor *yp =
            sparse ? TU_T2(3, 2, 0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.7f) : TU_T1(3, 0.2f, 0.7f, 0.9f);
        ck_assert_int_eq(try_update(m, yt, yp, NULL), KC_ESHAPE);
        CK_ERR(err, KC_ESHAPE, sparse ? "(3, 2)" : "(3,)");
        CK_ERR(err, KC_ESHAPE, "(4,)");
        ck_assert_msg(strstr(err.context, kc_metric_name(m)) != NULL,
                      "context '%s' lacks the metric name", err.context);
        /* nothing was counted */
        kc_tensor *r = kc_metric_result(m, &err);
        CK_NN(r, err);
        ck_assert_msg(kc_tensor_item(r) == 0.0f, "%s counted a failed batch", specs[i]);
        kc_tensor_unref(r);
        /* sample weights that fit neither */
        if (!sparse) {
            ck_assert_int_eq(try_update(m, TU_T1(4, 0, 1, 1, 0), TU_T1(4, 0.1f, 0.6f, 0.7f, 0.2f),
                                        TU_T1(3, 1, 1, 1)),
                             KC_ESHAPE);
            CK_ERR(err, KC_ESHAPE, "(3,)");
        }
        kc_object_unref(m);
    }
    /* calls without a metric */
    kc_error_clear(&err);
    ck_assert_int_eq(kc_metric_update(NULL, NULL, NULL, NULL, &err), KC_EINVAL);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_metric_result(NULL, &err));
    CK_ERR(err, KC_EINVAL, NULL);
    kc_object *relu = kc_object_create(KC_KIND_ACTIVATION, "relu", &err);
    kc_error_clear(&err);
    ck_assert_int_eq(kc_metric_reset(relu, &err), KC_ETYPE);
    CK_ERR(err, KC_ETYPE, "not a metric");
    ck_assert_int_eq(kc_metric_num_variables(relu), 0);
    ck_assert_ptr_null(kc_metric_variable(relu, 0));
    kc_object_unref(relu);
    kc_object *p = mk("Precision");
    ck_assert_int_eq(try_update(p, TU_T1(2, 0, 1), NULL, NULL), KC_EINVAL); /* y_pred needed */
    CK_ERR(err, KC_EINVAL, "y_pred");
    ck_assert_int_eq(try_update(p, NULL, TU_T1(2, 0, 1), NULL), KC_EINVAL);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_metric_add_variable(p, "has space", 0, NULL, &err));
    CK_ERR(err, KC_EINVAL, "has space");
    kc_object_unref(p);
}
END_TEST

START_TEST(metrics_are_never_recorded_on_tapes)
{
    kc_tape *tape = kc_tape_begin(KC_TAPE_PERSISTENT, &err);
    CK_NN(tape, err);
    kc_tensor *yt = TU_T2(2, 3, 0, 1, 0, 1, 0, 0),
              *yp = TU_T2(2, 3, 0.2f, 0.7f, 0.1f, 0.3f, 0.4f, 0.3f);
    CK_OK(kc_tape_watch(tape, yp, &err));
    static const char *const specs[] = {"MeanSquaredError", "AUC", "Precision",
                                        "categorical_accuracy", "RootMeanSquaredError"};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        kc_object *m = kc_metric_get(specs[i], &err);
        CK_NN(m, err);
        CK_OK(kc_metric_update(m, yt, yp, NULL, &err));
        kc_tensor *r = kc_metric_result(m, &err);
        CK_NN(r, err);
        kc_tensor_unref(r);
        kc_object_unref(m);
    }
    ck_assert_int_eq((int)kc_tape_size(tape), 0);
    /* the tape still records ops outside the metrics */
    kc_tensor *s = kc_square(yp, &err);
    ck_assert_int_eq((int)kc_tape_size(tape), 1);
    kc_tensor_unref(s);
    kc_tape_free(tape);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
}
END_TEST

/* ---- a custom metric class (the seed's keras.metrics.Metric subclass) --------------------- */

/* HuberMetric(threshold): the mean Huber loss of every element seen. */
typedef struct huber_metric {
    kc_metric base;
    double threshold;
    kc_variable *total, *count; /* borrowed from base */
} huber_metric;

static kc_status huber_init(kc_object *self, kc_error *e)
{
    huber_metric *h = (huber_metric *)self;
    h->threshold = 1.0;
    h->total = kc_metric_add_variable(self, "total", 0, NULL, e);
    h->count = h->total ? kc_metric_add_variable(self, "count", 0, NULL, e) : NULL;
    return h->count ? KC_OK : KC_ENOMEM;
}

static kc_status huber_update(kc_object *self, kc_tensor *yt, kc_tensor *yp, kc_tensor *sw,
                              kc_error *e)
{
    (void)sw;
    huber_metric *h = (huber_metric *)self;
    float t = (float)h->threshold;
    /* built from ops: the seed's vectorized huber_fn */
    kc_scope *s = kc_scope_new(e);
    kc_tensor *d = kc_scope_take(s, kc_sub(yt, yp, e));
    kc_tensor *a = kc_scope_take(s, kc_abs(d, e));
    kc_tensor *small = kc_scope_take(s, kc_less_scalar(a, t, e));
    kc_tensor *sq = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_square(d, e)), 0.5f, e));
    kc_tensor *lin =
        kc_scope_take(s, kc_sub_scalar(kc_scope_take(s, kc_mul_scalar(a, t, e)), 0.5f * t * t, e));
    kc_tensor *loss = kc_scope_take(s, kc_where(small, sq, lin, e));
    kc_tensor *sum = kc_scope_take(s, kc_reduce_sum(loss, NULL, 0, false, e));
    kc_status rc = sum ? KC_OK : KC_EINVAL;
    if (sum) {
        kc_tensor_f32(kc_variable_value(h->total))[0] += kc_tensor_item(sum);
        kc_tensor_f32(kc_variable_value(h->count))[0] += (float)kc_tensor_size(yt);
    }
    kc_scope_free(s);
    return rc;
}

static kc_tensor *huber_result(kc_object *self, kc_error *e)
{
    huber_metric *h = (huber_metric *)self;
    return kc_tensor_scalar(kc_tensor_item(kc_variable_value(h->total)) /
                                kc_tensor_item(kc_variable_value(h->count)),
                            e);
}

static kc_status huber_get_config(const kc_object *self, json_t *cfg, kc_error *e)
{
    return kc_cfg_set_float(cfg, "threshold", ((const huber_metric *)self)->threshold, e);
}

static kc_status huber_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                   kc_error *e)
{
    huber_metric *h = (huber_metric *)self;
    return kc_cfg_float(ctx, cfg, "threshold", KC_CFG_POSITIVE, 1.0, &h->threshold, e);
}

static const kc_metric_methods huber_methods = {huber_update, huber_result, NULL};
static const kc_class huber_metric_class = {.abi = KC_CLASS_ABI,
                                            .kind = KC_KIND_METRIC,
                                            .name = "HuberMetric",
                                            .size = sizeof(huber_metric),
                                            .config_version = 1,
                                            .init = huber_init,
                                            .get_config = huber_get_config,
                                            .from_config = huber_from_config,
                                            .methods = &huber_methods};

/* Two batches; errors [-0.5, 2, 0] then [3]:
 *   threshold 1: 0.125 + (2 - 0.5) + 0 = 1.625, then 3 - 0.5 = 2.5 -> 4.125 / 4
 *   threshold 2: 0.125 + (4 - 2) + 0 = 2.125 (|2| is not < 2), then 6 - 2 = 4 -> 6.125 / 4 */
static float feed_huber(kc_object *m)
{
    update(m, TU_T2(3, 1, 1, 2, 3), TU_T2(3, 1, 1.5f, 0, 3), NULL);
    update(m, TU_T2(1, 1, 3), TU_T2(1, 1, 0), NULL);
    return result(m);
}

START_TEST(custom_metric_class_saves_and_restores)
{
    json_t *cfg = json_pack("{s:f}", "threshold", 2.0);
    kc_object *m = kc_object_from_config(&huber_metric_class, cfg, NULL, &err);
    json_decref(cfg);
    CK_NN(m, err);
    ck_assert_str_eq(kc_metric_name(m), "huber_metric"); /* Keras' default name */
    ck_assert_int_eq(kc_metric_num_variables(m), 2);
    ck_assert(fabsf(feed_huber(m) - 6.125f / 4) < 1e-6f);
    json_t *ser;
    CK_OK(kc_serialize(m, &ser, &err));
    char *text = kc_json_dump(ser, &err);
    ck_assert_str_eq(text,
                     "{\"class_name\": \"HuberMetric\", \"config\": {\"name\": \"huber_metric\", "
                     "\"dtype\": \"float32\", \"threshold\": 2.0}}");
    kc_json_free(text);
    /* unknown until the program says what HuberMetric is */
    kc_object *back = NULL;
    ck_assert_int_eq(kc_deserialize(KC_KIND_METRIC, ser, NULL, &back, &err), KC_ENOTFOUND);
    CK_ERR(err, KC_ENOTFOUND, "HuberMetric");
    /* through custom objects: the threshold comes back, the state starts fresh */
    kc_custom_objects *co = kc_custom_objects_new(&err);
    CK_OK(kc_custom_objects_add_class(co, NULL, &huber_metric_class, &err));
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "metrics", co);
    kc_error_clear(&err);
    CK_OK(kc_deserialize(KC_KIND_METRIC, ser, &ctx, &back, &err));
    kc_custom_objects_free(co);
    ck_assert(((huber_metric *)back)->threshold == 2.0);
    ck_assert(kc_tensor_item(kc_variable_value(kc_metric_variable(back, 0))) == 0.0f);
    ck_assert(fabsf(feed_huber(back) - 6.125f / 4) < 1e-6f);
    kc_object_unref(back);
    /* through the registry */
    CK_OK(kc_register_class(&huber_metric_class, &err));
    CK_OK(kc_deserialize(KC_KIND_METRIC, ser, NULL, &back, &err));
    ck_assert(fabsf(feed_huber(back) - 6.125f / 4) < 1e-6f);
    kc_object_unref(back);
    json_decref(ser);
    /* the default threshold 1 gives 4.125 / 4; reset starts over */
    kc_object *d = kc_metric_get("HuberMetric", &err);
    CK_NN(d, err);
    ck_assert(fabsf(feed_huber(d) - 4.125f / 4) < 1e-6f);
    reset(d);
    ck_assert(kc_tensor_item(kc_variable_value(kc_metric_variable(d, 1))) == 0.0f);
    kc_object_unref(d);
    /* not recorded on tapes either */
    kc_tape *tape = kc_tape_begin(0, &err);
    kc_tensor *yt = TU_T1(2, 1, 2), *yp = TU_T1(2, 0, 0);
    CK_OK(kc_tape_watch(tape, yp, &err));
    CK_OK(kc_metric_update(m, yt, yp, NULL, &err));
    ck_assert_int_eq((int)kc_tape_size(tape), 0);
    kc_tape_free(tape);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_object_unref(m);
}
END_TEST

/* A metric whose reset is not zero: the smallest y_true seen (starts at +inf). */
static kc_status min_init(kc_object *self, kc_error *e)
{
    kc_variable *v = kc_metric_add_variable(self, "minimum", 0, NULL, e);
    if (!v) return KC_ENOMEM;
    kc_tensor_fill(kc_variable_value(v), INFINITY);
    return KC_OK;
}

static kc_status min_update(kc_object *self, kc_tensor *yt, kc_tensor *yp, kc_tensor *sw,
                            kc_error *e)
{
    (void)yp;
    (void)sw;
    kc_tensor *m = kc_reduce_min(yt, NULL, 0, false, e);
    if (!m) return KC_EINVAL;
    float *v = kc_tensor_f32(kc_variable_value(kc_metric_variable(self, 0)));
    if (kc_tensor_item(m) < v[0]) v[0] = kc_tensor_item(m);
    kc_tensor_unref(m);
    return KC_OK;
}

static kc_tensor *min_result(kc_object *self, kc_error *e)
{
    return kc_tensor_copy(kc_variable_value(kc_metric_variable(self, 0)), e);
}

static kc_status min_reset(kc_object *self, kc_error *e)
{
    (void)e;
    kc_tensor_fill(kc_variable_value(kc_metric_variable(self, 0)), INFINITY);
    return KC_OK;
}

static const kc_metric_methods min_methods = {min_update, min_result, min_reset};
static const kc_class min_class = {.abi = KC_CLASS_ABI,
                                   .kind = KC_KIND_METRIC,
                                   .name = "Custom>MinSeen",
                                   .size = sizeof(kc_metric),
                                   .config_version = 1,
                                   .init = min_init,
                                   .methods = &min_methods};
static const kc_metric_methods no_result_methods = {min_update, NULL, NULL};
static const kc_class no_result_class = {.abi = KC_CLASS_ABI,
                                         .kind = KC_KIND_METRIC,
                                         .name = "NoResult",
                                         .size = sizeof(kc_metric),
                                         .config_version = 1,
                                         .methods = &no_result_methods};

START_TEST(custom_reset_slot_and_class_checks)
{
    kc_object *m = kc_object_new(&min_class, &err);
    CK_NN(m, err);
    ck_assert_str_eq(kc_metric_name(m), "min_seen"); /* the package is not part of the name */
    ck_assert(isinf(result(m)));
    update(m, TU_T1(3, 4, 2, 9), NULL, NULL);
    update(m, TU_T1(2, 5, 3), NULL, NULL);
    RESULT_IS(m, 2, 0);
    reset(m); /* the class's reset: back to +inf, not 0 */
    ck_assert(isinf(result(m)));
    kc_object_unref(m);
    /* a metric class needs update_state and result */
    kc_error_clear(&err);
    ck_assert_int_eq(kc_register_class(&no_result_class, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "update_state and result");
}
END_TEST

/* ---- TensorFlow.js goldens -------------------------------------------------------------- */

static kc_tensor *json_tensor(const json_t *j)
{
    const json_t *shape = json_object_get(j, "shape"), *data = json_object_get(j, "data");
    int64_t dims[KC_MAX_DIMS];
    int nd = (int)json_array_size(shape);
    for (int i = 0; i < nd; i++)
        dims[i] = json_integer_value(json_array_get(shape, (size_t)i));
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, nd, dims, &err);
    CK_NN(t, err);
    ck_assert_int_eq((int)json_array_size(data), (int)kc_tensor_size(t));
    for (size_t i = 0; i < json_array_size(data); i++)
        kc_tensor_f32(t)[i] = (float)json_number_value(json_array_get(data, i));
    return t;
}

/* Rows [begin, begin + n) of t. */
static kc_tensor *rows(kc_tensor *t, int64_t begin, int64_t n)
{
    int64_t b[KC_MAX_DIMS] = {begin}, s[KC_MAX_DIMS];
    for (int i = 0; i < KC_MAX_DIMS; i++)
        s[i] = -1;
    s[0] = n;
    kc_tensor *r = kc_slice(t, b, s, &err);
    CK_NN(r, err);
    return r;
}

static double mean_of(const json_t *a)
{
    double s = 0;
    for (size_t i = 0; i < json_array_size(a); i++)
        s += json_number_value(json_array_get(a, i));
    return s / (double)json_array_size(a);
}

/* Stream batches of 8, 8 and 7 samples. */
static float stream(kc_object *m, kc_tensor *yt, kc_tensor *yp)
{
    for (int64_t b = 0; b < 23; b += 8) {
        int64_t n = b + 8 <= 23 ? 8 : 23 - b;
        update(m, rows(yt, b, n), rows(yp, b, n), NULL);
    }
    return result(m);
}

START_TEST(streaming_results_match_tensorflow_js)
{
    FILE *f = fopen(tu_data("metrics/tfjs_metrics.json"), "rb");
    ck_assert_msg(f != NULL, "missing %s", tu_data("metrics/tfjs_metrics.json"));
    json_error_t je;
    json_t *g = json_loadf(f, 0, &je);
    fclose(f);
    ck_assert_msg(g != NULL, "tfjs_metrics.json: %s", je.text);
    const json_t *in = json_object_get(g, "inputs"), *ps = json_object_get(g, "per_sample");
    kc_tensor *bt = json_tensor(json_object_get(in, "binary_true"));
    kc_tensor *bp = json_tensor(json_object_get(in, "binary_pred"));
    kc_tensor *ct = json_tensor(json_object_get(in, "categorical_true"));
    kc_tensor *cp = json_tensor(json_object_get(in, "categorical_pred"));
    kc_tensor *st = json_tensor(json_object_get(in, "sparse_true"));
    kc_tensor *rt = json_tensor(json_object_get(in, "regression_true"));
    kc_tensor *rp = json_tensor(json_object_get(in, "regression_pred"));
    static const struct {
        const char *spec, *key;
        int data; /* 0 binary, 1 categorical, 2 sparse, 3 regression */
        bool sqrt;
    } cases[] = {
        {"BinaryAccuracy", "binary_accuracy", 0, false},
        {"binary_accuracy", "binary_accuracy", 0, false},
        {"CategoricalAccuracy", "categorical_accuracy", 1, false},
        {"categorical_accuracy", "categorical_accuracy", 1, false},
        {"SparseCategoricalAccuracy", "sparse_categorical_accuracy", 2, false},
        {"MeanSquaredError", "mean_squared_error", 3, false},
        {"MeanAbsoluteError", "mean_absolute_error", 3, false},
        {"RootMeanSquaredError", "mean_squared_error", 3, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kc_object *m = kc_metric_get(cases[i].spec, &err);
        CK_NN(m, err);
        kc_tensor *yt = cases[i].data == 0   ? bt
                        : cases[i].data == 1 ? ct
                        : cases[i].data == 2 ? st
                                             : rt;
        kc_tensor *yp = cases[i].data == 0 ? bp : cases[i].data <= 2 ? cp : rp;
        double want = mean_of(json_object_get(ps, cases[i].key));
        if (cases[i].sqrt) want = sqrt(want);
        float got = stream(m, yt, yp);
        ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want) + 1e-7,
                      "%s: %.9g vs TensorFlow.js %.9g", cases[i].spec, got, want);
        kc_object_unref(m);
    }
    /* Precision / Recall streamed over batches equal TensorFlow.js's on the
     * whole data at once */
    const json_t *whole = json_object_get(g, "whole");
    static const char *const pr[] = {"precision", "recall"};
    for (int i = 0; i < 2; i++) {
        kc_object *m = mk(i ? "Recall" : "Precision");
        float got = stream(m, bt, bp);
        float want = (float)json_number_value(json_object_get(whole, pr[i]));
        ck_assert_msg(got == want, "%s: %.9g vs TensorFlow.js %.9g", pr[i], got, want);
        kc_object_unref(m);
    }
    kc_tensor *all[] = {bt, bp, ct, cp, st, rt, rp};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        kc_tensor_unref(all[i]);
    json_decref(g);
}
END_TEST

/* ---- out of memory ------------------------------------------------------------------------ */

/* Build, update, read and save a few metrics; the first failure's code. */
static kc_status oom_scenario(kc_error *e)
{
    static const char *const specs[] = {
        "{\"class_name\": \"Precision\", \"config\": {\"thresholds\": [0.3, 0.6], \"top_k\": 2}}",
        "{\"class_name\": \"AUC\", \"config\": {\"num_thresholds\": 5, \"multi_label\": true, "
        "\"label_weights\": [1, 2, 3]}}",
        "binary_accuracy", "RootMeanSquaredError",
        "{\"class_name\": \"MeanIoU\", \"config\": {\"num_classes\": 3, \"sparse_y_true\": false, "
        "\"sparse_y_pred\": false}}"};
    kc_tensor *yt = kc_tensor_from_data(KC_FLOAT32, 2, D(2, 3), F(0, 1, 0, 1, 0, 2), e);
    kc_tensor *yp =
        kc_tensor_from_data(KC_FLOAT32, 2, D(2, 3), F(0.2f, 0.7f, 0.1f, 0.6f, 0.3f, 0.9f), e);
    kc_tensor *w = kc_tensor_from_data(KC_FLOAT32, 1, D(2), F(1, 0.5f), e);
    kc_status rc = yt && yp && w ? KC_OK : KC_ENOMEM;
    for (size_t i = 0; rc == KC_OK && i < sizeof(specs) / sizeof(specs[0]); i++) {
        kc_object *m = specs[i][0] == '{' ? kc_object_create(KC_KIND_METRIC, specs[i], e)
                                          : kc_metric_get(specs[i], e);
        if (!m) {
            rc = e->code;
            break;
        }
        rc = kc_metric_update(m, yt, yp, w, e);
        kc_tensor *r = rc == KC_OK ? kc_metric_result(m, e) : NULL;
        if (rc == KC_OK && !r) rc = e->code;
        json_t *cfg = NULL;
        if (rc == KC_OK) rc = kc_object_get_config(m, &cfg, e);
        json_decref(cfg);
        kc_tensor_unref(r);
        kc_object_unref(m);
    }
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    kc_tensor_unref(w);
    return rc;
}

START_TEST(allocation_failures_are_enomem_without_leaks)
{
    int failures = tu_alloc_failure_sweep(oom_scenario, 10000);
    ck_assert_msg(failures > 50, "only %d allocation points were exercised", failures);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, seed_precision_counts_over_batches);
    tcase_add_test(tc, precision_is_not_the_mean_of_batch_precisions);
    tcase_add_test(tc, mean_and_sum_weight_samples);
    tcase_add_test(tc, accuracy_classes_match_keras);
    tcase_add_test(tc, regression_metrics_average_per_sample_errors);
    tcase_add_test(tc, precision_recall_thresholds_weights_top_k_class_id);
    tcase_add_test(tc, evenly_spaced_thresholds_use_buckets_with_the_same_counts);
    tcase_add_test(tc, confusion_counts_match_keras);
    tcase_add_test(tc, auc_roc_and_pr_by_hand);
    tcase_add_test(tc, auc_multi_label_and_label_weights);
    tcase_add_test(tc, mean_iou_from_the_confusion_matrix);
    tcase_add_test(tc, metric_get_wraps_functions_and_losses);
    tcase_add_test(tc, mean_metric_wrapper_functions_and_custom_objects);
    tcase_add_test(tc, mean_metric_wrapper_of_a_loss_instance);
    tcase_add_test(tc, metric_functions_give_per_sample_values);
    tcase_add_test(tc, every_builtin_metric_class_round_trips);
    tcase_add_test(tc, keras_written_metric_configs_round_trip);
    tcase_add_test(tc, bad_metric_configs_are_errors);
    tcase_add_test(tc, bad_inputs_are_errors_naming_shapes);
    tcase_add_test(tc, metrics_are_never_recorded_on_tapes);
    tcase_add_test(tc, custom_metric_class_saves_and_restores);
    tcase_add_test(tc, custom_reset_slot_and_class_checks);
    tcase_add_test(tc, streaming_results_match_tensorflow_js);
    tcase_add_test(tc, allocation_failures_are_enomem_without_leaks);
    tcase_add_test(tc, thresholded_metrics_count_a_tie_as_negative);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(metrics_suite)
