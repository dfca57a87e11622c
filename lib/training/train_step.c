/* One training step and its parts, as Keras 2's Model.train_step,
 * compute_loss and compute_metrics: the loss is the weighted sum of the
 * outputs' losses plus every regularization penalty and add_loss term;
 * "loss" and "<output>_loss" are Mean trackers weighted by batch size, so
 * an epoch's value is the running mean over its samples; metrics are the
 * compiled streaming metrics. These are public so that a custom train step
 * or a hand-written loop uses exactly what fit uses. */
#include "replica.h"
#include "training_int.h"

#include <string.h>

static kc_status need_compiled(kc_object *model, kc__compiled **c, kc_error *err)
{
    *c = NULL;
    kc_status rc = kc__need_model(model, err);
    if (rc != KC_OK) return rc;
    *c = kc__model_compiled(model);
    if (!*c)
        return kc__errf(err, KC_ESTATE, "model '%s' is not compiled: call kc_model_compile first",
                        kc_layer_name(model));
    return KC_OK;
}

static kc_object *new_mean(kc_error *err) { return kc_metric_get("Mean", err); }

/* Trackers exist once the number of outputs is known. */
static kc_status ensure_trackers(kc__compiled *c, kc_error *err)
{
    if (!c->loss_tracker && !(c->loss_tracker = new_mean(err))) return kc__error_code(err, KC_ENOMEM);
    if (c->n_outputs > 1 && !c->output_loss_trackers) {
        c->output_loss_trackers = kc__calloc((size_t)c->n_outputs, sizeof(kc_object *));
        if (!c->output_loss_trackers) return kc__errf(err, KC_ENOMEM, "out of memory");
        for (int i = 0; i < c->n_outputs; i++)
            if (c->losses[i] && !(c->output_loss_trackers[i] = new_mean(err))) return kc__error_code(err, KC_ENOMEM);
    }
    return KC_OK;
}

/* A Mean tracker update with value v weighted by n (Keras passes the batch
 * size as sample_weight). */
static kc_status track(kc_object *mean, kc_tensor *v, int64_t n, kc_error *err)
{
    kc_tensor *w = kc_tensor_scalar((float)n, err);
    if (!w) return kc__error_code(err, KC_ENOMEM);
    kc_status rc = kc_metric_update(mean, v, NULL, w, err);
    kc_tensor_unref(w);
    return rc;
}

static kc_status check_count(const char *what, int got, int want, kc_error *err)
{
    if (got != want) return kc__errf(err, KC_EINVAL, "%d %s given, the model has %d outputs", got, what, want);
    return KC_OK;
}

kc_status kc_model_compute_loss(kc_object *model, kc_tensor *const *y, int n_y, kc_tensor *const *y_pred,
                                int n_pred, kc_tensor *const *sample_weight, kc_tensor **loss, kc_error *err)
{
    *loss = NULL;
    kc__compiled *c;
    kc_status rc = need_compiled(model, &c, err);
    if (rc == KC_OK) rc = kc__compiled_resolve(model, n_pred, err);
    if (rc == KC_OK) rc = ensure_trackers(c, err);
    if (rc != KC_OK) return rc;
    bool any_loss = false;
    for (int i = 0; i < n_pred; i++) any_loss |= c->losses[i] != NULL;
    if (any_loss && (!y || (rc = check_count("targets", n_y, n_pred, err)) != KC_OK))
        return rc != KC_OK ? rc : kc__errf(err, KC_EINVAL, "the model has losses but no targets were given");
    int64_t batch = n_pred > 0 && kc_tensor_ndim(y_pred[0]) > 0 ? kc_tensor_dim(y_pred[0], 0) : 1;

    kc_tensor *total = NULL;
    for (int i = 0; i < n_pred && rc == KC_OK; i++) {
        if (!c->losses[i]) continue;
        kc_tensor *li = kc_loss_compute(c->losses[i], y[i], y_pred[i], sample_weight ? sample_weight[i] : NULL, err);
        if (!li) {
            rc = kc__error_code(err, KC_EINVAL);
            kc__error_context(err, "loss of output %d ('%s')", i, kc_model_output_name(model, i));
            break;
        }
        if (c->output_loss_trackers && c->output_loss_trackers[i]) rc = track(c->output_loss_trackers[i], li, batch, err);
        kc_tensor *weighted = c->loss_weights[i] == 1.0 ? kc_tensor_ref(li) : kc_mul_scalar(li, (float)c->loss_weights[i], err);
        kc_tensor_unref(li);
        kc_tensor *sum = total ? kc_add(total, weighted, err) : kc_tensor_ref(weighted);
        kc_tensor_unref(weighted);
        kc_tensor_unref(total);
        total = sum;
        if (!total) rc = kc__error_code(err, KC_ENOMEM);
    }
    /* model.losses: weight regularization penalties, then the last call's
     * add_loss terms and activity regularization */
    kc_tensor *reg = NULL;
    if (rc == KC_OK) rc = kc_layer_regularization_loss(model, &reg, err);
    for (int k = -1; rc == KC_OK && k < kc_layer_num_losses(model); k++) {
        kc_tensor *term = k < 0 ? reg : kc_layer_loss(model, k);
        if (!term) continue;
        kc_tensor *sum = total ? kc_add(total, term, err) : kc_tensor_ref(term);
        kc_tensor_unref(total);
        total = sum;
        if (!total) rc = kc__error_code(err, KC_ENOMEM);
    }
    kc_tensor_unref(reg);
    if (rc == KC_OK && !total) total = kc_tensor_scalar(0.0f, err);
    if (rc == KC_OK && !total) rc = kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK && kc_tensor_size(total) != 1)
        rc = kc__errf(err, KC_ESHAPE, "the total loss is not a scalar (a loss with reduction \"none\"?)");
    if (rc == KC_OK) rc = track(c->loss_tracker, total, batch, err);
    if (rc != KC_OK) {
        kc_tensor_unref(total);
        return rc;
    }
    *loss = total;
    return KC_OK;
}

/* ---- metrics ---------------------------------------------------------------------------------- */

static bool is_accuracy(const char *s) { return !strcmp(s, "accuracy") || !strcmp(s, "acc"); }

/* Keras 2's _get_metric_object for "accuracy"/"acc"/"crossentropy"/"ce":
 * binary when the prediction's last dimension is 1, sparse when the
 * targets have a lower rank or a last dimension of 1 against several
 * classes, else categorical. */
static kc_object *special_metric(const char *name, const kc_tensor *y, const kc_tensor *p, kc_error *err)
{
    int ry = kc_tensor_ndim(y), rp = kc_tensor_ndim(p);
    int64_t ly = ry ? kc_tensor_dim(y, ry - 1) : 1, lp = rp ? kc_tensor_dim(p, rp - 1) : 1;
    bool binary = lp == 1, sparse = ry < rp || (ly == 1 && lp > 1);
    const char *fn = is_accuracy(name) ? (binary ? "binary_accuracy" : sparse ? "sparse_categorical_accuracy" : "categorical_accuracy")
                                       : (binary ? "binary_crossentropy" : sparse ? "sparse_categorical_crossentropy" : "categorical_crossentropy");
    kc_object *f = kc_object_create(is_accuracy(name) ? KC_KIND_METRIC : KC_KIND_LOSS, fn, err);
    if (!f) return NULL;
    kc_object *w = kc_metric_mean_wrapper(f, name, err);
    kc_object_unref(f);
    return w;
}

kc_status kc__compiled_prepare_metrics(kc_object *model, kc_tensor *const *y, kc_tensor *const *y_pred, int n,
                                       kc_error *err)
{
    kc__compiled *c = kc__model_compiled(model);
    kc_status rc = KC_OK;
    for (int i = 0; i < n && rc == KC_OK; i++) {
        for (int k = 0; k < c->n_metrics[i] && rc == KC_OK; k++) {
            kc__metric_entry *e = &c->metrics[i][k];
            if (e->log_name) continue;
            if (!e->metric) {
                if (!y) return kc__errf(err, KC_EINVAL, "metric '%s' needs targets", e->special);
                if (!(e->metric = special_metric(e->special, y[i], y_pred[i], err))) return kc__error_code(err, KC_ENOMEM);
            }
            const char *base = e->special ? e->special : kc_metric_name(e->metric);
            /* "weighted_" only where the plain list has the same name (Keras' _set_metric_names) */
            bool clash = false;
            for (int q = 0; e->weighted && q < c->n_metrics[i]; q++) {
                const kc__metric_entry *o = &c->metrics[i][q];
                const char *ob = o->special ? o->special : o->metric ? kc_metric_name(o->metric) : "";
                clash |= !o->weighted && !strcmp(ob, base);
            }
            char name[512];
            snprintf(name, sizeof name, "%s%s%s%s", n > 1 ? kc_model_output_name(model, i) : "", n > 1 ? "_" : "",
                     clash ? "weighted_" : "", base);
            if (!(e->log_name = kc__strdup(name))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        }
    }
    return rc;
}

/* Keras' add_metric(value, name): each forward pass's value joins a Mean
 * of that name, logged after the compiled metrics. */
static kc_status update_added_metrics(kc_object *model, kc__compiled *c, kc_error *err)
{
    for (int i = 0; i < kc_layer_num_metric_values(model); i++) {
        const char *name = NULL;
        kc_tensor *v = kc_layer_metric_value(model, i, &name);
        if (!v || !name) continue;
        int k = 0;
        while (k < c->n_added && strcmp(c->added_names[k], name) != 0) k++;
        if (k == c->n_added) {
            kc_object **m = kc__realloc(c->added_metrics, (size_t)k * sizeof(*m), (size_t)(k + 1) * sizeof(*m));
            if (!m) return kc__errf(err, KC_ENOMEM, "out of memory");
            c->added_metrics = m;
            char **n = kc__realloc(c->added_names, (size_t)k * sizeof(*n), (size_t)(k + 1) * sizeof(*n));
            if (!n) return kc__errf(err, KC_ENOMEM, "out of memory");
            c->added_names = n;
            c->added_metrics[k] = new_mean(err);
            c->added_names[k] = kc__strdup(name);
            if (!c->added_metrics[k] || !c->added_names[k]) {
                kc_object_unref(c->added_metrics[k]);
                kc__free(c->added_names[k]);
                return kc__errf(err, KC_ENOMEM, "out of memory");
            }
            c->n_added++;
        }
        kc_status rc = kc_metric_update(c->added_metrics[k], v, NULL, NULL, err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

kc_status kc_model_update_metrics(kc_object *model, kc_tensor *const *y, int n_y, kc_tensor *const *y_pred,
                                  int n_pred, kc_tensor *const *sample_weight, kc_error *err)
{
    kc__compiled *c;
    kc_status rc = need_compiled(model, &c, err);
    if (rc == KC_OK) rc = kc__compiled_resolve(model, n_pred, err);
    if (rc == KC_OK && y) rc = check_count("targets", n_y, n_pred, err);
    if (rc == KC_OK) rc = kc__compiled_prepare_metrics(model, y, y_pred, n_pred, err);
    for (int i = 0; i < n_pred && rc == KC_OK; i++) {
        for (int k = 0; k < c->n_metrics[i] && rc == KC_OK; k++) {
            kc__metric_entry *e = &c->metrics[i][k];
            rc = kc_metric_update(e->metric, y ? y[i] : NULL, y_pred[i],
                                  e->weighted && sample_weight ? sample_weight[i] : NULL, err);
            if (rc != KC_OK) kc__error_context(err, "metric '%s'", e->log_name);
        }
    }
    if (rc == KC_OK) rc = update_added_metrics(model, c, err);
    return rc;
}

static kc_status put_result(kc_logs *logs, const char *key, kc_object *metric, kc_error *err)
{
    kc_tensor *r = kc_metric_result(metric, err);
    if (!r) return kc__error_code(err, KC_ENOMEM);
    /* a metric with a vector result (MeanIoU's per class, ...) logs its mean */
    double v = 0;
    for (int64_t i = 0; i < kc_tensor_size(r); i++) v += kc_tensor_get(r, i);
    if (kc_tensor_size(r) > 1) v /= (double)kc_tensor_size(r);
    kc_tensor_unref(r);
    return kc_logs_set(logs, key, v, err);
}

kc_status kc_model_metric_results(kc_object *model, kc_logs *logs, kc_error *err)
{
    kc__compiled *c;
    kc_status rc = need_compiled(model, &c, err);
    if (rc != KC_OK || !logs) return rc;
    if (c->loss_tracker) rc = put_result(logs, "loss", c->loss_tracker, err);
    for (int i = 0; rc == KC_OK && c->output_loss_trackers && i < c->n_outputs; i++) {
        if (!c->output_loss_trackers[i]) continue;
        char key[512];
        snprintf(key, sizeof key, "%s_loss", kc_model_output_name(model, i));
        rc = put_result(logs, key, c->output_loss_trackers[i], err);
    }
    for (int i = 0; rc == KC_OK && i < c->n_outputs; i++)
        for (int k = 0; rc == KC_OK && k < c->n_metrics[i]; k++)
            if (c->metrics[i][k].log_name) rc = put_result(logs, c->metrics[i][k].log_name, c->metrics[i][k].metric, err);
    for (int k = 0; rc == KC_OK && k < c->n_added; k++) rc = put_result(logs, c->added_names[k], c->added_metrics[k], err);
    return rc;
}

kc_status kc_model_reset_metrics(kc_object *model, kc_error *err)
{
    kc__compiled *c;
    kc_status rc = need_compiled(model, &c, err);
    if (rc == KC_OK && c->loss_tracker) rc = kc_metric_reset(c->loss_tracker, err);
    for (int i = 0; rc == KC_OK && c->output_loss_trackers && i < c->n_outputs; i++)
        if (c->output_loss_trackers[i]) rc = kc_metric_reset(c->output_loss_trackers[i], err);
    for (int i = 0; rc == KC_OK && i < c->n_outputs; i++)
        for (int k = 0; rc == KC_OK && k < c->n_metrics[i]; k++)
            if (c->metrics[i][k].metric) rc = kc_metric_reset(c->metrics[i][k].metric, err);
    for (int k = 0; rc == KC_OK && k < c->n_added; k++) rc = kc_metric_reset(c->added_metrics[k], err);
    return rc;
}

/* ---- the step ------------------------------------------------------------------------------------ */

kc_status kc_model_train_step(kc_object *model, kc_train_step *step, kc_error *err)
{
    kc__compiled *c;
    kc_status rc = need_compiled(model, &c, err);
    if (rc != KC_OK) return rc;
    kc_tensor *out[KC_MAX_LAYER_OUTPUTS] = {0}, *loss = NULL;
    int n_out = 0;
    kc_tape *tape = kc_tape_begin(0, err);
    if (!tape) return kc__error_code(err, KC_ENOMEM);
    rc = kc_layer_call(model, step->x, step->n_x, NULL, true, out, NULL, &n_out, err);
    if (rc == KC_OK) rc = kc_model_compute_loss(model, step->y, step->n_y, out, n_out, step->sample_weight, &loss, err);
    kc_tape_end(tape);

    int nt = kc_layer_num_trainable_weights(model);
    kc_variable **vars = NULL;
    kc_tensor **src = NULL, **grads = NULL;
    if (rc == KC_OK && nt > 0) {
        vars = kc__calloc((size_t)nt, sizeof(*vars));
        src = kc__calloc((size_t)nt, sizeof(*src));
        grads = kc__calloc((size_t)nt, sizeof(*grads));
        if (!vars || !src || !grads) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        for (int i = 0; rc == KC_OK && i < nt; i++) {
            vars[i] = kc_layer_trainable_weight(model, i);
            src[i] = kc_variable_value(vars[i]);
        }
        /* summed over the processes in a data-parallel step (replica.c) */
        if (rc == KC_OK) rc = kc__replica_gradients(tape, loss, src, vars, nt, grads, err);
        if (rc == KC_OK) rc = kc_optimizer_apply_gradients(c->optimizer, grads, vars, nt, err);
        for (int i = 0; grads && i < nt; i++) kc_tensor_unref(grads[i]);
    }
    kc_tape_free(tape);
    kc__free(vars);
    kc__free(src);
    kc__free(grads);
    if (rc == KC_OK) rc = kc_model_update_metrics(model, step->y, step->n_y, out, n_out, step->sample_weight, err);
    if (rc == KC_OK) rc = kc_model_metric_results(model, step->logs, err);
    kc_tensor_unref(loss);
    for (int i = 0; i < n_out; i++) kc_tensor_unref(out[i]);
    return rc;
}
