/* Confusion-matrix accumulation at thresholds: tf.keras 2.15's
 * metrics_utils.update_confusion_matrix_variables, which Precision, Recall,
 * the TruePositives family and AUC share.
 *
 * For each threshold t and each (label, prediction) pair, weighted by
 * sample_weight (and label_weights):
 *     true positive   label != 0 and prediction > t
 *     false negative  label != 0 and prediction <= t
 *     false positive  label == 0 and prediction > t
 *     true negative   label == 0 and prediction <= t
 * Before that, labels and predictions are aligned ((N,) against (N, 1)),
 * must have the same shape (KC_ESHAPE otherwise), predictions outside the
 * top k of their row become -1e10 (top_k), and only column class_id is
 * kept (class_id).
 *
 * How it works: like Keras there are two paths that agree except for
 * rounding at bucket edges. Arbitrary thresholds compare every prediction
 * with every threshold (T x N). Evenly spaced thresholds (AUC's 200, or any
 * list equal to linspace(0, 1, n)) use Keras' bucket algorithm: prediction
 * p, clipped to [0, 1], falls in bucket ceil(p (n - 1)) - 1, so that it
 * counts for the thresholds strictly below it; true and false positives per
 * threshold are then reverse cumulative sums of the bucket weights, and the
 * negatives are the totals minus them (O(T + N)). When the end thresholds
 * are -epsilon and 1 + epsilon (AUC), bucket -1 (p = 0) joins bucket 0.
 * Both paths are Keras' own, so ckeras counts exactly what Keras counts at
 * the edges (a prediction of exactly 0.5 is not above the threshold 0.5). */
#include "metric_int.h"

#include <math.h>
#include <string.h>

#define NEG_INF (-1e10f) /* metrics_utils.NEG_INF */

bool kc__thresholds_evenly(const double *t, int n)
{
    if (n < 3) return false;
    for (int i = 0; i < n; i++) {
        /* np.arange(n, dtype=float32) / (n - 1) is float32 */
        double even = (double)((float)i / (float)(n - 1));
        if (!(fabs(t[i] - even) <= 1e-7 + 1e-5 * fabs(even))) return false;
    }
    return true;
}

/* _filter_top_k: keep the k largest values of each row (ties: the lower
 * index, as tf.math.top_k), set the others to -1e10. */
static kc_tensor *filter_top_k(kc_tensor *x, int64_t k, const char *who, kc_error *err)
{
    if (kc_tensor_ndim(x) == 0 || kc_tensor_dim(x, -1) < k) {
        char b[96];
        kc__errf(err, KC_EINVAL,
                 "%s: top_k=%lld needs predictions with at least %lld classes, got shape %s", who,
                 (long long)k, (long long)k, kc__metric_shape(x, b, sizeof(b)));
        return NULL;
    }
    kc_tensor *y = kc_tensor_copy(x, err);
    bool *keep = kc__calloc((size_t)kc_tensor_dim(x, -1) + 1, sizeof(bool));
    if (!y || !keep) {
        kc_tensor_unref(y);
        kc__free(keep);
        kc__errf(err, KC_ENOMEM, "out of memory filtering the top k");
        return NULL;
    }
    int64_t c = kc_tensor_dim(x, -1), rows = c ? kc_tensor_size(x) / c : 0;
    float *d = kc_tensor_f32(y);
    for (int64_t r = 0; r < rows; r++) {
        float *row = d + r * c;
        memset(keep, 0, (size_t)c * sizeof(bool));
        for (int64_t j = 0; j < k; j++) {
            int64_t best = -1;
            for (int64_t i = 0; i < c; i++)
                if (!keep[i] && (best < 0 || row[i] > row[best])) best = i;
            keep[best] = true;
        }
        for (int64_t i = 0; i < c; i++)
            row[i] = keep[i] ? row[i] * 1.0f + NEG_INF * 0.0f : row[i] * 0.0f + NEG_INF * 1.0f;
    }
    kc__free(keep);
    return y;
}

/* Keep column class_id of the last axis (as y[..., class_id, None]). */
static kc_tensor *take_class(kc_tensor *x, int64_t class_id, const char *who, kc_error *err)
{
    int nd = kc_tensor_ndim(x);
    if (nd == 0 || class_id >= kc_tensor_dim(x, -1)) {
        char b[96];
        kc__errf(err, KC_EINVAL, "%s: class_id %lld is out of range for predictions of shape %s",
                 who, (long long)class_id, kc__metric_shape(x, b, sizeof(b)));
        return NULL;
    }
    int64_t begin[KC_MAX_DIMS] = {0}, size[KC_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        size[i] = -1;
    begin[nd - 1] = class_id;
    size[nd - 1] = 1;
    return kc_slice(x, begin, size, err);
}

/* Replace *t by f(*t) (f returns a new reference or NULL). */
#define REPLACE(t, expr)                                                                           \
    do {                                                                                           \
        kc_tensor *r_ = (expr);                                                                    \
        kc_tensor_unref(t);                                                                        \
        (t) = r_;                                                                                  \
    } while (0)

/* The update's inputs as float32 tensors of one shape, after Keras'
 * squeeze/expand, top_k filtering, class_id slicing and weight
 * broadcasting, with the shape checks of multi_label and label_weights. */
static kc_status prepare(const kc__cm_args *a, kc_tensor *y_true, kc_tensor *y_pred,
                         kc_tensor *sample_weight, kc_tensor **t_out, kc_tensor **p_out,
                         kc_tensor **w_out, kc_error *err)
{
    kc_tensor *t = kc__metric_f32(y_true, err);
    kc_tensor *p = kc__metric_f32(y_pred, err);
    kc_tensor *w = sample_weight ? kc__metric_f32(sample_weight, err) : NULL;
    kc_status rc = t && p && (w || !sample_weight) ? KC_OK : kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK) rc = kc__metric_squeeze_or_expand(&p, &t, sample_weight ? &w : NULL, err);
    if (rc == KC_OK && !kc_tensor_same_shape(t, p))
        rc = kc__metric_shape_error(err, a->who, "y_true", y_true, "y_pred", y_pred);
    if (rc == KC_OK && a->top_k > 0) {
        REPLACE(p, filter_top_k(p, a->top_k, a->who, err));
        if (!p) rc = kc__error_code(err, KC_ENOMEM);
    }
    if (rc == KC_OK && a->class_id >= 0) {
        REPLACE(p, take_class(p, a->class_id, a->who, err));
        REPLACE(t, p ? take_class(t, a->class_id, a->who, err) : NULL);
        if (!p || !t) rc = kc__error_code(err, KC_ENOMEM);
    }
    if (rc == KC_OK && w) {
        REPLACE(w, kc__metric_broadcast_weights(a->who, w, p, err));
        if (!w) rc = kc__error_code(err, KC_ESHAPE);
    }
    int64_t last = rc == KC_OK && kc_tensor_ndim(p) ? kc_tensor_dim(p, -1) : 1;
    char b[96];
    if (rc == KC_OK && a->multi_label && (kc_tensor_ndim(p) != 2 || last != a->n_labels))
        rc = kc__errf(err, KC_ESHAPE,
                      "%s: multi-label predictions must have shape (N, %lld), got %s", a->who,
                      (long long)a->n_labels, kc__metric_shape(p, b, sizeof(b)));
    if (rc == KC_OK && a->label_weights &&
        (kc_tensor_ndim(p) != 2 || (last != a->n_labels && a->n_labels != 1)))
        rc = kc__errf(err, KC_ESHAPE, "%s: %lld label_weights do not fit predictions of shape %s",
                      a->who, (long long)a->n_labels, kc__metric_shape(p, b, sizeof(b)));
    if (rc != KC_OK) {
        kc_tensor_unref(t);
        kc_tensor_unref(p);
        kc_tensor_unref(w);
        t = p = w = NULL;
    }
    *t_out = t;
    *p_out = p;
    *w_out = w;
    return rc;
}

/* One update's confusion counts, in double: [T][n_cols] each, and the
 * weights of true and false labels per column. */
typedef struct counts {
    double *tp, *fp, *tn, *fn, *tot_true, *tot_false;
    int64_t n_cols;
} counts;

/* Count each prediction: against every threshold (`>`, as Keras'
 * update_confusion_matrix_variables), or, for evenly spaced thresholds, in
 * the one bucket ceil(p (T - 1)) - 1 it falls into (Keras' optimized path,
 * in float32), left for cumulate_buckets to sum up. */
static void count_predictions(const kc__cm_args *a, const kc_tensor *t, const kc_tensor *p,
                              const kc_tensor *w, counts *c)
{
    int T = a->n_thresholds;
    int64_t n = kc_tensor_size(p), last = kc_tensor_ndim(p) ? kc_tensor_dim(p, -1) : 1;
    const float *pd = kc_tensor_cdata(p), *td = kc_tensor_cdata(t),
                *wd = w ? kc_tensor_cdata(w) : NULL;
    bool with_eps = T > 0 && (a->thresholds[0] < 0.0f || a->thresholds[T - 1] > 1.0f);
    for (int64_t i = 0; i < n; i++) {
        double wt = wd ? wd[i] : 1.0;
        if (a->label_weights) wt *= a->label_weights[a->n_labels == 1 ? 0 : i % last];
        int64_t col = a->multi_label ? i % c->n_cols : 0;
        bool label = td[i] != 0.0f;
        float pr = pd[i];
        (label ? c->tot_true : c->tot_false)[col] += wt;
        if (a->evenly) {
            float cl = pr < 0.0f ? 0.0f : pr > 1.0f ? 1.0f : pr;
            float b = ceilf(cl * (float)(T - 1)) - 1.0f;
            if (with_eps && b < 0.0f) b = 0.0f;
            if (!(b >= 0.0f && b < (float)T)) continue; /* dropped, as unsorted_segment_sum */
            size_t idx = (size_t)b * (size_t)c->n_cols + (size_t)col;
            (label ? c->tp : c->fp)[idx] += wt;
            continue;
        }
        for (int th = 0; th < T; th++) {
            size_t idx = (size_t)th * (size_t)c->n_cols + (size_t)col;
            bool pos = pr > a->thresholds[th];
            if (label)
                (pos ? c->tp : c->fn)[idx] += wt;
            else
                (pos ? c->fp : c->tn)[idx] += wt;
        }
    }
}

/* Evenly spaced thresholds: C(t_i) = the buckets j >= i; fn and tn from the
 * label totals. */
static void cumulate_buckets(int T, counts *c)
{
    size_t cols = (size_t)c->n_cols, cells = (size_t)T * cols;
    for (size_t col = 0; col < cols; col++)
        for (int th = T - 2; th >= 0; th--) {
            size_t idx = (size_t)th * cols + col, up = idx + cols;
            c->tp[idx] += c->tp[up];
            c->fp[idx] += c->fp[up];
        }
    for (size_t idx = 0; idx < cells; idx++) {
        c->fn[idx] = c->tot_true[idx % cols] - c->tp[idx];
        c->tn[idx] = c->tot_false[idx % cols] - c->fp[idx];
    }
}

kc_status kc__cm_update(const kc__cm_args *a, const kc__cm_vars *v, kc_tensor *y_true,
                        kc_tensor *y_pred, kc_tensor *sample_weight, kc_error *err)
{
    kc_tensor *t, *p, *w;
    kc_status rc = prepare(a, y_true, y_pred, sample_weight, &t, &p, &w, err);
    if (rc != KC_OK) return rc;
    counts c = {.n_cols = a->multi_label ? a->n_labels : 1};
    size_t cells = (size_t)a->n_thresholds * (size_t)c.n_cols;
    double *acc = kc__calloc(4 * cells + 2 * (size_t)c.n_cols, sizeof(double));
    if (!acc) {
        rc = kc__errf(err, KC_ENOMEM, "out of memory updating %s", a->who);
    } else {
        c.tp = acc, c.fp = acc + cells, c.tn = acc + 2 * cells, c.fn = acc + 3 * cells;
        c.tot_true = acc + 4 * cells, c.tot_false = c.tot_true + c.n_cols;
        count_predictions(a, t, p, w, &c);
        if (a->evenly) cumulate_buckets(a->n_thresholds, &c);
        for (size_t idx = 0; idx < cells; idx++) {
            if (v->tp) v->tp[idx] += (float)c.tp[idx];
            if (v->fp) v->fp[idx] += (float)c.fp[idx];
            if (v->tn) v->tn[idx] += (float)c.tn[idx];
            if (v->fn) v->fn[idx] += (float)c.fn[idx];
        }
    }
    kc__free(acc);
    kc_tensor_unref(t);
    kc_tensor_unref(p);
    kc_tensor_unref(w);
    return rc;
}
