/* MeanIoU: the mean over classes of intersection over union, from a
 * streaming confusion matrix (tf.keras 2.15's MeanIoU, an IoU over every
 * class).
 *
 * State: total_confusion_matrix [num_classes, num_classes], rows the true
 * class and columns the predicted one, each cell the sum of the sample
 * weights that landed there. For class c,
 *     IoU_c = cm[c][c] / (row_c + column_c - cm[c][c])
 * and the result is the mean of IoU_c over the classes whose denominator is
 * not 0 (classes never seen nor predicted do not count).
 *
 * Labels and predictions are class indices (float values are truncated, as
 * tf.math.confusion_matrix casts them to integers), or one-hot / scores
 * reduced with argmax over `axis` when sparse_y_true / sparse_y_pred are
 * false. Both are flattened. Samples whose label is ignore_class are left
 * out; any other index outside [0, num_classes) is an error, as in
 * TensorFlow. */
#include "metric_int.h"

#include <math.h>

typedef struct iou_metric {
    kc_metric base;
    int64_t num_classes;
    bool has_ignore;
    int64_t ignore_class;
    bool sparse_y_true, sparse_y_pred;
    int64_t axis;
} iou_metric;

static kc_status iou_build(kc_object *self, kc_error *err)
{
    iou_metric *m = (iou_metric *)self;
    kc__metric_drop_variables(self);
    int64_t dims[2] = {m->num_classes, m->num_classes};
    return kc_metric_add_variable(self, "total_confusion_matrix", 2, dims, err)
               ? KC_OK
               : kc__error_code(err, KC_ENOMEM);
}

static kc_status iou_init(kc_object *self, kc_error *err)
{
    iou_metric *m = (iou_metric *)self;
    /* Keras requires num_classes; a bare kc_object_new gets 2 */
    m->num_classes = 2;
    m->sparse_y_true = m->sparse_y_pred = true;
    m->axis = -1;
    return iou_build(self, err);
}

/* Class indices: argmax over axis unless sparse, then flattened floats. */
static kc_tensor *indices(kc_tensor *x, bool sparse, int64_t axis, kc_error *err)
{
    kc_tensor *a = sparse ? kc_tensor_ref(x) : kc_argmax(x, (int)axis, err);
    kc_tensor *f = kc__metric_f32(a, err);
    kc_tensor_unref(a);
    kc_tensor *r = f ? kc_reshape(f, 1, (int64_t[]){kc_tensor_size(f)}, err) : NULL;
    kc_tensor_unref(f);
    return r;
}

static kc_status iou_update(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred,
                            kc_tensor *sample_weight, kc_error *err)
{
    iou_metric *m = (iou_metric *)self;
    if (!y_pred) return kc__errf(err, KC_EINVAL, "MeanIoU needs y_pred");
    kc_tensor *t = indices(y_true, m->sparse_y_true, m->axis, err);
    kc_tensor *p = t ? indices(y_pred, m->sparse_y_pred, m->axis, err) : NULL;
    kc_tensor *w = p && sample_weight ? kc__metric_f32(sample_weight, err) : NULL;
    kc_status rc = KC_OK;
    if (!t || !p || (sample_weight && !w)) rc = kc__error_code(err, KC_ENOMEM);
    int64_t n = t ? kc_tensor_size(t) : 0;
    if (rc == KC_OK && kc_tensor_size(p) != n)
        rc = kc__metric_shape_error(err, "MeanIoU", "y_true", y_true, "y_pred", y_pred);
    if (rc == KC_OK && w && kc_tensor_size(w) != n && kc_tensor_ndim(w) != 0)
        rc = kc__metric_shape_error(err, "MeanIoU", "sample_weight", sample_weight, "y_true",
                                    y_true);
    if (rc != KC_OK) goto out;
    const float *td = kc_tensor_f32(t), *pd = kc_tensor_f32(p), *wd = w ? kc_tensor_f32(w) : NULL;
    int64_t C = m->num_classes;
    /* validate everything before touching the state: a failed batch adds nothing */
    for (int64_t i = 0; i < n; i++) {
        if (m->has_ignore && (double)td[i] == (double)m->ignore_class) continue;
        float lab = truncf(td[i]), pre = truncf(pd[i]);
        if (!(lab >= 0 && lab < (float)C) || !(pre >= 0 && pre < (float)C)) {
            rc = kc__errf(
                err, KC_EINVAL,
                "MeanIoU: sample %lld has label %g and prediction %g; both must be in [0, %lld)",
                (long long)i, (double)td[i], (double)pd[i], (long long)C);
            goto out;
        }
    }
    float *cm = kc__var_f32(m->base.vars[0]);
    for (int64_t i = 0; i < n; i++) {
        if (m->has_ignore && (double)td[i] == (double)m->ignore_class) continue;
        int64_t lab = (int64_t)td[i], pre = (int64_t)pd[i];
        cm[lab * C + pre] += wd ? (kc_tensor_ndim(w) == 0 ? wd[0] : wd[i]) : 1.0f;
    }
out:
    kc_tensor_unref(t);
    kc_tensor_unref(p);
    kc_tensor_unref(w);
    return rc;
}

static kc_tensor *iou_result(kc_object *self, kc_error *err)
{
    iou_metric *m = (iou_metric *)self;
    const float *cm = kc__var_f32(m->base.vars[0]);
    int64_t C = m->num_classes;
    float sum_iou = 0, valid = 0;
    for (int64_t c = 0; c < C; c++) {
        float row = 0, col = 0;
        for (int64_t j = 0; j < C; j++) {
            row += cm[c * C + j];
            col += cm[j * C + c];
        }
        float tp = cm[c * C + c];
        float denom = col + row - tp;
        if (denom != 0) valid += 1;
        sum_iou += kc__div_no_nan(tp, denom);
    }
    return kc_tensor_scalar(kc__div_no_nan(sum_iou, valid), err);
}

static kc_status iou_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const iou_metric *m = (const iou_metric *)self;
    if (json_object_set_new(cfg, "num_classes", json_integer(m->num_classes)) ||
        json_object_set_new(cfg, "ignore_class",
                            m->has_ignore ? json_integer(m->ignore_class) : json_null()) ||
        json_object_set_new(cfg, "sparse_y_true", json_boolean(m->sparse_y_true)) ||
        json_object_set_new(cfg, "sparse_y_pred", json_boolean(m->sparse_y_pred)) ||
        json_object_set_new(cfg, "axis", json_integer(m->axis)))
        return kc__errf(err, KC_ENOMEM, "out of memory writing a MeanIoU config");
    return KC_OK;
}

static kc_status iou_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                 kc_error *err)
{
    iou_metric *m = (iou_metric *)self;
    kc_status rc = kc_cfg_int(ctx, cfg, "num_classes", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 2,
                              &m->num_classes, err);
    if (rc == KC_OK && m->num_classes > 65536)
        rc = kc__metric_cfg_error(ctx, "num_classes", err, "%lld classes is too many",
                                  (long long)m->num_classes);
    const json_t *ic = json_object_get(cfg, "ignore_class");
    m->has_ignore = ic && !json_is_null(ic);
    if (rc == KC_OK && m->has_ignore)
        rc = kc_cfg_int(ctx, cfg, "ignore_class", 0, 0, &m->ignore_class, err);
    if (rc == KC_OK)
        rc = kc_cfg_bool(ctx, cfg, "sparse_y_true", KC_CFG_NULLABLE, true, &m->sparse_y_true, err);
    if (rc == KC_OK)
        rc = kc_cfg_bool(ctx, cfg, "sparse_y_pred", KC_CFG_NULLABLE, true, &m->sparse_y_pred, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "axis", KC_CFG_NULLABLE, -1, &m->axis, err);
    if (rc == KC_OK && (m->axis < -KC_MAX_DIMS || m->axis >= KC_MAX_DIMS))
        rc =
            kc__metric_cfg_error(ctx, "axis", err, "axis %lld is out of range", (long long)m->axis);
    return rc == KC_OK ? iou_build(self, err) : rc;
}

static const kc_metric_methods iou_methods = {iou_update, iou_result, NULL};
const kc_class kc__mean_iou_class = {.abi = KC_CLASS_ABI,
                                     .kind = KC_KIND_METRIC,
                                     .name = "MeanIoU",
                                     .size = sizeof(iou_metric),
                                     .config_version = 1,
                                     .init = iou_init,
                                     .get_config = iou_get_config,
                                     .from_config = iou_from_config,
                                     .methods = &iou_methods};
