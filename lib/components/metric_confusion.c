/* Threshold metrics: TruePositives, FalsePositives, TrueNegatives,
 * FalseNegatives, Precision and Recall.
 *
 * The seed's point about Precision is why they keep counts, not rates:
 * precision over two batches is TP / (TP + FP) of everything seen, which is
 * not the mean of the two batch precisions. Each metric keeps Keras' state
 * variables, one value per threshold ([n_thresholds]):
 *     TruePositives ... FalseNegatives   accumulator
 *     Precision                          true_positives, false_positives
 *     Recall                             true_positives, false_negatives
 * and returns one value per threshold (a scalar for a single threshold).
 *
 * `thresholds` is saved as configured (null, a number or a list) and
 * defaults to 0.5, or to -1e10 when Precision / Recall have top_k (every
 * prediction left in the top k counts as positive). Thresholds must lie in
 * [0, 1], as Keras checks. */
#include "metric_int.h"

enum { COUNT_TP, COUNT_FP, COUNT_TN, COUNT_FN, PRECISION, RECALL };

typedef struct confusion_metric {
    kc_metric base;
    kc__thresholds init; /* thresholds as configured, for get_config */
    float *thresholds;   /* owned; those in use */
    int n_thresholds;
    bool evenly;      /* evenly spaced: Keras' bucket algorithm */
    int64_t top_k;    /* 0: none (Precision, Recall) */
    int64_t class_id; /* -1: none (Precision, Recall) */
} confusion_metric;

typedef struct confusion_methods {
    kc_metric_methods m; /* must stay first */
    int what;            /* COUNT_*, PRECISION or RECALL */
} confusion_methods;

static int what_of(const kc_object *self)
{
    return ((const confusion_methods *)self->cls->methods)->what;
}

/* Thresholds in use and fresh variables of their count. */
static kc_status confusion_build(kc_object *self, kc_error *err)
{
    confusion_metric *c = (confusion_metric *)self;
    int what = what_of(self);
    int n = c->init.form ? c->init.n : 1;
    float *thr = kc__malloc_array((size_t)n, sizeof(float));
    double *dthr = kc__malloc_array((size_t)n, sizeof(double));
    if (!thr || !dthr) {
        kc__free(thr);
        kc__free(dthr);
        return kc__errf(err, KC_ENOMEM, "out of memory building %s", self->cls->name);
    }
    for (int i = 0; i < n; i++)
        dthr[i] = c->init.form ? c->init.values[i] : c->top_k > 0 ? -1e10 : 0.5;
    for (int i = 0; i < n; i++)
        thr[i] = (float)dthr[i];
    c->evenly = kc__thresholds_evenly(dthr, n);
    kc__free(dthr);
    kc__free(c->thresholds);
    c->thresholds = thr;
    c->n_thresholds = n;
    kc__metric_drop_variables(self);
    int64_t dims[1] = {n};
    static const char *const names[][2] = {
        [COUNT_TP] = {"accumulator", NULL},
        [COUNT_FP] = {"accumulator", NULL},
        [COUNT_TN] = {"accumulator", NULL},
        [COUNT_FN] = {"accumulator", NULL},
        [PRECISION] = {"true_positives", "false_positives"},
        [RECALL] = {"true_positives", "false_negatives"},
    };
    for (int i = 0; i < 2 && names[what][i]; i++)
        if (!kc_metric_add_variable(self, names[what][i], 1, dims, err))
            return kc__error_code(err, KC_ENOMEM);
    return KC_OK;
}

static kc_status confusion_init(kc_object *self, kc_error *err)
{
    confusion_metric *c = (confusion_metric *)self;
    c->class_id = -1;
    return confusion_build(self, err);
}

static void confusion_fini(kc_object *self)
{
    confusion_metric *c = (confusion_metric *)self;
    kc__thresholds_fini(&c->init);
    kc__free(c->thresholds);
}

static kc_status confusion_update(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred,
                                  kc_tensor *sample_weight, kc_error *err)
{
    confusion_metric *c = (confusion_metric *)self;
    int what = what_of(self);
    if (!y_pred) return kc__errf(err, KC_EINVAL, "%s needs y_pred", self->cls->name);
    kc__cm_args a = {.who = self->cls->name,
                     .thresholds = c->thresholds,
                     .n_thresholds = c->n_thresholds,
                     .evenly = c->evenly,
                     .top_k = c->top_k,
                     .class_id = c->class_id};
    float *v0 = kc__var_f32(c->base.vars[0]);
    float *v1 = c->base.n_vars > 1 ? kc__var_f32(c->base.vars[1]) : NULL;
    kc__cm_vars v = {0};
    switch (what) {
    case COUNT_TP:
        v.tp = v0;
        break;
    case COUNT_FP:
        v.fp = v0;
        break;
    case COUNT_TN:
        v.tn = v0;
        break;
    case COUNT_FN:
        v.fn = v0;
        break;
    case PRECISION:
        v.tp = v0;
        v.fp = v1;
        break;
    default:
        v.tp = v0;
        v.fn = v1;
        break;
    }
    return kc__cm_update(&a, &v, y_true, y_pred, sample_weight, err);
}

static kc_tensor *confusion_result(kc_object *self, kc_error *err)
{
    confusion_metric *c = (confusion_metric *)self;
    int what = what_of(self), n = c->n_thresholds;
    const float *v0 = kc__var_f32(c->base.vars[0]);
    if (what <= COUNT_FN) return kc__metric_vector(v0, n, true, err);
    const float *v1 = kc__var_f32(c->base.vars[1]);
    float *r = kc__malloc_array((size_t)n, sizeof(float));
    if (!r) {
        kc__errf(err, KC_ENOMEM, "out of memory computing %s", self->cls->name);
        return NULL;
    }
    /* precision = tp / (tp + fp), recall = tp / (tp + fn) */
    for (int i = 0; i < n; i++)
        r[i] = kc__div_no_nan(v0[i], v0[i] + v1[i]);
    kc_tensor *t = kc__metric_vector(r, n, true, err);
    kc__free(r);
    return t;
}

static kc_status set_optional_int(json_t *cfg, const char *key, int64_t v, bool present,
                                  kc_error *err)
{
    if (json_object_set_new(cfg, key, present ? json_integer(v) : json_null()))
        return kc__errf(err, KC_ENOMEM, "out of memory writing '%s'", key);
    return KC_OK;
}

static kc_status confusion_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const confusion_metric *c = (const confusion_metric *)self;
    kc_status rc = kc__thresholds_write(cfg, "thresholds", &c->init, err);
    if (rc == KC_OK && what_of(self) >= PRECISION) {
        rc = set_optional_int(cfg, "top_k", c->top_k, c->top_k > 0, err);
        if (rc == KC_OK) rc = set_optional_int(cfg, "class_id", c->class_id, c->class_id >= 0, err);
    }
    return rc;
}

static kc_status confusion_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                       kc_error *err)
{
    confusion_metric *c = (confusion_metric *)self;
    kc_status rc = kc__thresholds_read(ctx, cfg, "thresholds", true, &c->init, err);
    if (rc == KC_OK && what_of(self) >= PRECISION) {
        rc = kc_cfg_int(ctx, cfg, "top_k", KC_CFG_NULLABLE | KC_CFG_POSITIVE, 0, &c->top_k, err);
        if (rc == KC_OK)
            rc = kc_cfg_int(ctx, cfg, "class_id", KC_CFG_NULLABLE | KC_CFG_NONNEG, -1, &c->class_id,
                            err);
    }
    if (rc == KC_OK) rc = confusion_build(self, err);
    return rc;
}

#define CONFUSION_CLASS(var, kname, what_)                                                         \
    static const confusion_methods var##_methods = {{confusion_update, confusion_result, NULL},    \
                                                    what_};                                        \
    const kc_class var = {.abi = KC_CLASS_ABI,                                                     \
                          .kind = KC_KIND_METRIC,                                                  \
                          .name = kname,                                                           \
                          .size = sizeof(confusion_metric),                                        \
                          .config_version = 1,                                                     \
                          .init = confusion_init,                                                  \
                          .fini = confusion_fini,                                                  \
                          .get_config = confusion_get_config,                                      \
                          .from_config = confusion_from_config,                                    \
                          .methods = &var##_methods};
CONFUSION_CLASS(kc__true_positives_class, "TruePositives", COUNT_TP)
CONFUSION_CLASS(kc__false_positives_class, "FalsePositives", COUNT_FP)
CONFUSION_CLASS(kc__true_negatives_class, "TrueNegatives", COUNT_TN)
CONFUSION_CLASS(kc__false_negatives_class, "FalseNegatives", COUNT_FN)
CONFUSION_CLASS(kc__precision_class, "Precision", PRECISION)
CONFUSION_CLASS(kc__recall_class, "Recall", RECALL)
#undef CONFUSION_CLASS
