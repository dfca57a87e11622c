/* AUC: the area under the ROC or precision-recall curve, approximated from
 * confusion matrices at fixed thresholds (tf.keras 2.15's AUC).
 *
 * State: true_positives, true_negatives, false_positives, false_negatives,
 * each [num_thresholds] (or [num_thresholds, num_labels] with multi_label).
 * The thresholds are -1e-7, (i + 1) / (num_thresholds - 1) for i < n - 2,
 * and 1 + 1e-7: the end points sit just outside [0, 1] so that predictions
 * of exactly 0 or 1 fall on the right side. With `thresholds` given, those
 * (sorted) replace the inner ones and num_thresholds becomes their count
 * plus 2.
 *
 * The result is a Riemann sum over consecutive thresholds i, i + 1 of
 * (x_i - x_{i+1}) * height, with x the false positive rate (ROC) or the
 * recall (PR) and the height from the y values (recall for ROC, precision
 * for PR) by summation_method: their mean ("interpolation"), minimum
 * ("minoring") or maximum ("majoring"). PR with interpolation instead uses
 * Keras' closed form of Davis & Goadrich's interpolation, which lets true
 * and false positives, not the precision, vary linearly between thresholds:
 *     slope = dTP / max(dP, 0),  P = TP + FP,  intercept = TP_{i+1} - slope P_{i+1}
 *     area_i = slope (dTP + intercept log(P_i / P_{i+1})) / (TP_{i+1} + FN_{i+1})
 * (divisions by zero give 0; the log term is 0 unless both P are > 0).
 * With multi_label, one AUC per label is averaged, weighted by
 * label_weights when given; without, label_weights weight the flattened
 * predictions. from_logits applies a sigmoid to y_pred first. */
#include "metric_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ROC, PR };
enum { INTERPOLATION, MINORING, MAJORING };

typedef struct auc_metric {
    kc_metric base;
    int64_t num_thresholds;
    int curve;
    int summation;
    double *given; /* owned: the sorted `thresholds` of the config, or NULL */
    int n_given;
    float *thresholds; /* owned: the num_thresholds thresholds in use */
    bool evenly;
    bool multi_label;
    int64_t num_labels;   /* as configured; 0 = null */
    int64_t built_labels; /* labels of the variables (multi_label), 0 before building */
    float *label_weights; /* owned, or NULL */
    int64_t n_label_weights;
    bool from_logits;
    bool built;
} auc_metric;

static const char *const curve_names[] = {"ROC", "PR"};
static const char *const summation_names[] = {"interpolation", "minoring", "majoring"};

static kc_status auc_build(kc_object *self, int64_t n_labels, kc_error *err)
{
    auc_metric *a = (auc_metric *)self;
    kc__metric_drop_variables(self);
    a->built = false;
    int64_t dims[2] = {a->num_thresholds, n_labels};
    static const char *const names[] = {"true_positives", "true_negatives", "false_positives",
                                        "false_negatives"};
    for (int i = 0; i < 4; i++)
        if (!kc_metric_add_variable(self, names[i], a->multi_label ? 2 : 1, dims, err))
            return kc__error_code(err, KC_ENOMEM);
    a->built_labels = a->multi_label ? n_labels : 0;
    a->built = true;
    return KC_OK;
}

/* Thresholds in use from num_thresholds or the given ones. */
static kc_status auc_thresholds(auc_metric *a, kc_error *err)
{
    int64_t n = a->given ? a->n_given + 2 : a->num_thresholds;
    float *t = kc__malloc_array((size_t)n, sizeof(float));
    double *even = kc__malloc_array((size_t)n, sizeof(double));
    if (!t || !even) {
        kc__free(t);
        kc__free(even);
        return kc__errf(err, KC_ENOMEM, "out of memory building AUC thresholds");
    }
    for (int64_t i = 1; i + 1 < n; i++)
        even[i] = a->given ? a->given[i - 1] : (double)i * 1.0 / (double)(n - 1);
    even[0] = 0.0;
    even[n - 1] = 1.0;
    a->evenly = a->given ? kc__thresholds_evenly(even, (int)n) : true;
    /* end points just outside [0, 1] (backend.epsilon() = 1e-7) */
    even[0] = 0.0 - 1e-7;
    even[n - 1] = 1.0 + 1e-7;
    for (int64_t i = 0; i < n; i++)
        t[i] = (float)even[i];
    kc__free(even);
    kc__free(a->thresholds);
    a->thresholds = t;
    a->num_thresholds = n;
    return KC_OK;
}

static kc_status auc_init(kc_object *self, kc_error *err)
{
    auc_metric *a = (auc_metric *)self;
    a->num_thresholds = 200;
    kc_status rc = auc_thresholds(a, err);
    return rc == KC_OK ? auc_build(self, 0, err) : rc;
}

static void auc_fini(kc_object *self)
{
    auc_metric *a = (auc_metric *)self;
    kc__free(a->given);
    kc__free(a->thresholds);
    kc__free(a->label_weights);
}

static kc_status auc_update(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred,
                            kc_tensor *sample_weight, kc_error *err)
{
    auc_metric *a = (auc_metric *)self;
    if (!y_pred) return kc__errf(err, KC_EINVAL, "AUC needs y_pred");
    if (!a->built) { /* multi_label without num_labels: the first batch decides */
        if (kc_tensor_ndim(y_pred) != 2) {
            char b[96];
            return kc__errf(err, KC_ESHAPE,
                            "AUC: y_pred must have rank 2 with multi_label, got shape %s",
                            kc__metric_shape(y_pred, b, sizeof(b)));
        }
        kc_status rc = auc_build(self, kc_tensor_dim(y_pred, 1), err);
        if (rc != KC_OK) return rc;
    }
    if (a->label_weights &&
        (kc_tensor_ndim(y_true) != 2 || kc_tensor_dim(y_true, 1) != a->n_label_weights)) {
        char b[96];
        return kc__errf(err, KC_ESHAPE,
                        "AUC: number of labels is not consistent: y_true of shape %s "
                        "with %lld label_weights",
                        kc__metric_shape(y_true, b, sizeof(b)), (long long)a->n_label_weights);
    }
    if (a->multi_label && a->label_weights && a->n_label_weights != a->built_labels)
        return kc__errf(err, KC_ESHAPE, "AUC: %lld label_weights for %lld labels",
                        (long long)a->n_label_weights, (long long)a->built_labels);
    kc_tensor *p = kc__metric_f32(y_pred, err);
    if (p && a->from_logits) {
        kc_tensor *s = kc_sigmoid(p, err);
        kc_tensor_unref(p);
        p = s;
    }
    if (!p) return kc__error_code(err, KC_ENOMEM);
    kc__cm_args args = {.who = "AUC",
                        .thresholds = a->thresholds,
                        .n_thresholds = (int)a->num_thresholds,
                        .evenly = a->evenly,
                        .class_id = -1,
                        .multi_label = a->multi_label,
                        .label_weights = a->multi_label ? NULL : a->label_weights,
                        .n_labels = a->multi_label ? a->built_labels : a->n_label_weights};
    kc_metric *m = &a->base;
    kc__cm_vars v = {kc__var_f32(m->vars[0]), kc__var_f32(m->vars[2]), kc__var_f32(m->vars[1]),
                     kc__var_f32(m->vars[3])};
    kc_status rc = kc__cm_update(&args, &v, y_true, p, sample_weight, err);
    kc_tensor_unref(p);
    return rc;
}

static double no_nan(double a, double b)
{
    return b == 0 ? 0 : a / b;
}

/* The AUC of one label: column col of [T, L] variables (stride L). */
static double auc_of(const auc_metric *a, const float *tp, const float *tn, const float *fp,
                     const float *fn, int64_t col, int64_t stride)
{
    int64_t T = a->num_thresholds;
#define AT(v, i) ((double)(v)[(i)*stride + col])
    double sum = 0;
    if (a->curve == PR && a->summation == INTERPOLATION) {
        for (int64_t i = 0; i + 1 < T; i++) {
            double dtp = AT(tp, i) - AT(tp, i + 1);
            double p0 = AT(tp, i) + AT(fp, i), p1 = AT(tp, i + 1) + AT(fp, i + 1);
            double slope = no_nan(dtp, fmax(p0 - p1, 0));
            double intercept = AT(tp, i + 1) - slope * p1;
            double ratio = p0 > 0 && p1 > 0 ? no_nan(p0, fmax(p1, 0)) : 1.0;
            sum += no_nan(slope * (dtp + intercept * log(ratio)),
                          fmax(AT(tp, i + 1) + AT(fn, i + 1), 0));
        }
        return sum;
    }
    for (int64_t i = 0; i + 1 < T; i++) {
        double x[2], y[2];
        for (int j = 0; j < 2; j++) {
            int64_t k = i + j;
            double recall = no_nan(AT(tp, k), AT(tp, k) + AT(fn, k));
            if (a->curve == ROC) {
                x[j] = no_nan(AT(fp, k), AT(fp, k) + AT(tn, k));
                y[j] = recall;
            } else {
                x[j] = recall;
                y[j] = no_nan(AT(tp, k), AT(tp, k) + AT(fp, k));
            }
        }
        double h = a->summation == INTERPOLATION ? (y[0] + y[1]) / 2.0
                   : a->summation == MINORING    ? fmin(y[0], y[1])
                                                 : fmax(y[0], y[1]);
        sum += (x[0] - x[1]) * h;
    }
#undef AT
    return sum;
}

static kc_tensor *auc_result(kc_object *self, kc_error *err)
{
    auc_metric *a = (auc_metric *)self;
    if (!a->built) return kc_tensor_scalar(0.0f, err); /* no batch seen yet */
    const kc_metric *m = &a->base;
    const float *tp = kc__var_f32(m->vars[0]), *tn = kc__var_f32(m->vars[1]);
    const float *fp = kc__var_f32(m->vars[2]), *fn = kc__var_f32(m->vars[3]);
    if (!a->multi_label) return kc_tensor_scalar((float)auc_of(a, tp, tn, fp, fn, 0, 1), err);
    double total = 0, wsum = 0;
    for (int64_t l = 0; l < a->built_labels; l++) {
        double w = a->label_weights ? a->label_weights[l] : 1.0;
        total += w * auc_of(a, tp, tn, fp, fn, l, a->built_labels);
        wsum += w;
    }
    /* the mean over labels, or their label_weights-weighted mean */
    return kc_tensor_scalar((float)no_nan(total, wsum), err);
}

static kc_status auc_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const auc_metric *a = (const auc_metric *)self;
    json_t *lw = json_null();
    if (a->label_weights) {
        json_decref(lw);
        lw = json_array();
        for (int64_t i = 0; lw && i < a->n_label_weights; i++)
            if (json_array_append_new(lw, kc__json_float(a->label_weights[i]))) {
                json_decref(lw);
                lw = NULL;
            }
    }
    json_t *given = NULL;
    if (a->given) {
        given = json_array();
        for (int i = 0; given && i < a->n_given; i++)
            if (json_array_append_new(given, kc__json_float(a->given[i]))) {
                json_decref(given);
                given = NULL;
            }
    }
    if (!lw || (a->given && !given) ||
        json_object_set_new(cfg, "num_thresholds", json_integer(a->num_thresholds)) ||
        json_object_set_new(cfg, "curve", json_string(curve_names[a->curve])) ||
        json_object_set_new(cfg, "summation_method", json_string(summation_names[a->summation])) ||
        json_object_set_new(cfg, "multi_label", json_boolean(a->multi_label)) ||
        json_object_set_new(cfg, "num_labels",
                            a->num_labels ? json_integer(a->num_labels) : json_null()) ||
        json_object_set_new(cfg, "label_weights", json_incref(lw)) ||
        json_object_set_new(cfg, "from_logits", json_boolean(a->from_logits)) ||
        (given && json_object_set_new(cfg, "thresholds", json_incref(given)))) {
        json_decref(lw);
        json_decref(given);
        return kc__errf(err, KC_ENOMEM, "out of memory writing an AUC config");
    }
    json_decref(lw);
    json_decref(given);
    return KC_OK;
}

/* The spellings Keras' AUCCurve / AUCSummationMethod.from_str accept. */
typedef struct spelling {
    const char *name;
    int value;
} spelling;
static const spelling curves[] = {{"ROC", ROC}, {"roc", ROC}, {"PR", PR}, {"pr", PR}};
static const spelling summations[] = {
    {"interpolation", INTERPOLATION}, {"Interpolation", INTERPOLATION}, {"minoring", MINORING},
    {"Minoring", MINORING},           {"majoring", MAJORING},           {"Majoring", MAJORING}};

static kc_status read_name(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                           const spelling *sp, int n, int *out, kc_error *err)
{
    const char *s;
    kc_status rc = kc_cfg_string(ctx, cfg, key, KC_CFG_NULLABLE, sp[0].name, &s, err);
    if (rc != KC_OK) return rc;
    for (int i = 0; i < n; i++)
        if (strcmp(s, sp[i].name) == 0) {
            *out = sp[i].value;
            return KC_OK;
        }
    return kc__metric_cfg_error(ctx, key, err, "invalid value \"%s\"; expected one of %s", s,
                                n == 4 ? "\"ROC\", \"PR\""
                                       : "\"interpolation\", \"minoring\", \"majoring\"");
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* A list of finite numbers (label_weights, thresholds). */
static kc_status read_numbers(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                              double **out, int *n_out, kc_error *err)
{
    *out = NULL;
    *n_out = 0;
    const json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return KC_OK;
    if (!json_is_array(v) || json_array_size(v) > 100000)
        return kc__metric_cfg_error(ctx, key, err, "expected a list of numbers");
    size_t n = json_array_size(v);
    double *d = kc__malloc_array(n ? n : 1, sizeof(double));
    if (!d) return kc__errf(err, KC_ENOMEM, "out of memory reading '%s'", key);
    for (size_t i = 0; i < n; i++)
        if (!kc__json_to_double(json_array_get(v, i), &d[i]) || !isfinite(d[i])) {
            kc__free(d);
            return kc__metric_cfg_error(ctx, key, err, "item %zu is not a finite number", i);
        }
    *out = d;
    *n_out = (int)n;
    return KC_OK;
}

static kc_status auc_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                 kc_error *err)
{
    auc_metric *a = (auc_metric *)self;
    double *given = NULL, *lw = NULL;
    int n_given = 0, n_lw = 0;
    int64_t num_thresholds;
    kc_status rc =
        kc_cfg_int(ctx, cfg, "num_thresholds", KC_CFG_NULLABLE, 200, &num_thresholds, err);
    if (rc == KC_OK) rc = read_name(ctx, cfg, "curve", curves, 4, &a->curve, err);
    if (rc == KC_OK)
        rc = read_name(ctx, cfg, "summation_method", summations, 6, &a->summation, err);
    if (rc == KC_OK)
        rc = kc_cfg_bool(ctx, cfg, "multi_label", KC_CFG_NULLABLE, false, &a->multi_label, err);
    if (rc == KC_OK)
        rc = kc_cfg_int(ctx, cfg, "num_labels", KC_CFG_NULLABLE | KC_CFG_POSITIVE, 0,
                        &a->num_labels, err);
    if (rc == KC_OK)
        rc = kc_cfg_bool(ctx, cfg, "from_logits", KC_CFG_NULLABLE, false, &a->from_logits, err);
    if (rc == KC_OK) rc = read_numbers(ctx, cfg, "thresholds", &given, &n_given, err);
    if (rc == KC_OK) rc = read_numbers(ctx, cfg, "label_weights", &lw, &n_lw, err);
    if (rc == KC_OK && !given && num_thresholds <= 1)
        rc = kc__metric_cfg_error(ctx, "num_thresholds", err, "must be an integer > 1, got %lld",
                                  (long long)num_thresholds);
    if (rc == KC_OK && a->num_labels && !a->multi_label)
        rc =
            kc__metric_cfg_error(ctx, "num_labels", err, "is needed only when multi_label is true");
    for (int i = 0; rc == KC_OK && i < n_lw; i++)
        if (lw[i] < 0)
            rc = kc__metric_cfg_error(ctx, "label_weights", err,
                                      "all values must be non-negative, got %g", lw[i]);
    if (rc == KC_OK && lw && n_lw == 0)
        rc = kc__metric_cfg_error(ctx, "label_weights", err, "expected at least one weight");
    if (rc == KC_OK && a->num_labels && lw && n_lw != a->num_labels)
        rc = kc__metric_cfg_error(ctx, "label_weights", err, "%d weights for num_labels %lld", n_lw,
                                  (long long)a->num_labels);
    if (rc != KC_OK) {
        kc__free(given);
        kc__free(lw);
        return rc;
    }
    if (given) qsort(given, (size_t)n_given, sizeof(double), cmp_double);
    kc__free(a->given);
    a->given = given;
    a->n_given = n_given;
    a->num_thresholds = num_thresholds;
    kc__free(a->label_weights);
    a->label_weights = NULL;
    a->n_label_weights = n_lw;
    if (lw) {
        a->label_weights = kc__malloc_array((size_t)n_lw, sizeof(float));
        if (!a->label_weights) rc = kc__errf(err, KC_ENOMEM, "out of memory reading label_weights");
        for (int i = 0; rc == KC_OK && i < n_lw; i++)
            a->label_weights[i] = (float)lw[i];
        kc__free(lw);
        if (rc != KC_OK) return rc;
    }
    rc = auc_thresholds(a, err);
    if (rc != KC_OK) return rc;
    if (a->multi_label && !a->num_labels) { /* built at the first update */
        kc__metric_drop_variables(self);
        a->built = false;
        a->built_labels = 0;
        return KC_OK;
    }
    return auc_build(self, a->num_labels, err);
}

static const kc_metric_methods auc_methods = {auc_update, auc_result, NULL};
const kc_class kc__auc_class = {.abi = KC_CLASS_ABI,
                                .kind = KC_KIND_METRIC,
                                .name = "AUC",
                                .size = sizeof(auc_metric),
                                .config_version = 1,
                                .init = auc_init,
                                .fini = auc_fini,
                                .get_config = auc_get_config,
                                .from_config = auc_from_config,
                                .methods = &auc_methods};
