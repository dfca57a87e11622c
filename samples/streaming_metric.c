/* Sample 4: streaming metrics.
 *
 * keras.metrics.Precision keeps counts across batches, so its result is the
 * precision of everything seen so far, not the mean of per-batch values:
 * after [0, 1, 1, 1] / [1, 1, 1, 0] it is 0.6666667 (2 true positives, 1
 * false), after [0, 0, 0] / [1, 1, 1] too it is 0.33333334 (3 more false
 * positives); then its variables and reset_state.
 *
 * Then a custom streaming metric, HuberMetric (the seed describes it in
 * prose: "subclass keras.metrics.Metric"): a class whose state is two
 * variables (total Huber loss and number of values), updated per batch
 * with assign_add; used standalone and as a compiled metric during fit.
 * Exit 1 if a value is not the expected one.
 *
 * Lines: precision C 10, Python 6 (1.7x)
 *
 * Run: streaming_metric DATA_DIR */
#include <ckeras.h>

#include "common/check.h"
#include "common/datasets.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A float32 as numpy shows it: the fewest digits that read back as the
 * same float32 (0.33333334, not 0.333333343). */
static const char *float_repr(double v, char *buf, size_t size)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtof(buf, NULL) == (float)v) break;
    }
    return buf;
}

/* ---- HuberMetric(keras.metrics.Metric) ------------------------------------------------------- */

static kc_tensor *huber(kc_scope *s, kc_tensor *y_true, kc_tensor *y_pred, float threshold)
{
    kc_tensor *error = kc_s_sub(s, y_true, y_pred);
    kc_tensor *se = kc_s_less_scalar(s, kc_s_abs(s, error), threshold);
    kc_tensor *sq_loss = kc_s_div_scalar(s, kc_s_square(s, error), 2);
    kc_tensor *linear_loss =
        kc_s_sub_scalar(s, kc_s_mul_scalar(s, kc_s_abs(s, error), threshold), threshold * threshold / 2);
    return kc_s_where(s, se, sq_loss, linear_loss);
}

typedef struct huber_metric {
    kc_metric base;     /* the Metric base first: name, state variables */
    double threshold;
    kc_variable *total; /* self.total = self.add_weight("total", initializer="zeros") */
    kc_variable *count; /* self.count = self.add_weight("count", initializer="zeros") */
} huber_metric;

static kc_status huber_metric_init(kc_object *self, kc_error *e)
{
    huber_metric *m = (huber_metric *)self;
    m->total = kc_metric_add_variable(self, "total", 0, NULL, e); /* scalars; owned by the base */
    m->count = m->total ? kc_metric_add_variable(self, "count", 0, NULL, e) : NULL;
    return m->count ? KC_OK : e->code;
}
/* update_state: total += sum(huber(y_true, y_pred)); count += size(y_true) */
static kc_status huber_metric_update(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred, kc_tensor *sample_weight,
                                     kc_error *e)
{
    huber_metric *m = (huber_metric *)self;
    kc_scope *s = kc_scope_new(e);
    kc_tensor *loss = huber(s, y_true, y_pred, (float)m->threshold);
    kc_status rc = kc_variable_assign_add(m->total, kc_s_reduce_sum(s, loss, NULL, 0, false), e);
    if (rc == KC_OK) rc = kc_variable_assign_add(m->count, kc_s_scalar(s, (float)kc_tensor_size(y_true)), e);
    kc_scope_free(s);
    return rc;
}
/* result: total / count */
static kc_tensor *huber_metric_result(kc_object *self, kc_error *e)
{
    huber_metric *m = (huber_metric *)self;
    float count = kc_tensor_item(kc_variable_value(m->count));
    return kc_tensor_scalar(count > 0 ? kc_tensor_item(kc_variable_value(m->total)) / count : 0.0f, e);
}
static kc_status huber_metric_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    return kc_cfg_set_float(config, "threshold", ((const huber_metric *)self)->threshold, e);
}
static kc_status huber_metric_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx,
                                          kc_error *e)
{
    return kc_cfg_float(ctx, config, "threshold", KC_CFG_POSITIVE, 1.0, &((huber_metric *)self)->threshold, e);
}
/* reset_state: NULL means "set every state variable to zero" */
static const kc_metric_methods huber_metric_methods = {.update_state = huber_metric_update,
                                                       .result = huber_metric_result};
static const kc_class huber_metric_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_METRIC, .name = "HuberMetric", .size = sizeof(huber_metric),
    .config_version = 1, .init = huber_metric_init, .get_config = huber_metric_get_config,
    .from_config = huber_metric_from_config, .methods = &huber_metric_methods};

/* Update with one batch and show the result the way Keras prints it. */
static const char *update_and_show(kc_object *metric, kc_floats y_true, kc_floats y_pred, char *buf, size_t size)
{
    kc_scope *s = NN(kc_scope_new(&err));
    TRY(kc_metric_update(metric, kc_s_from_floats(s, y_true), kc_s_from_floats(s, y_pred), NULL, &err));
    float_repr(kc_metric_result_value(metric, &err), buf, size);
    printf("  %s -> %s\n", kc_metric_name(metric), buf);
    kc_scope_free(s);
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    char shown[64], shown2[64];

    /* ---- Precision over the seed's two batches ---- */
    printf("keras.metrics.Precision over two batches:\n");
    /* seed: precision */
    kc_scope *s = NN(kc_scope_new(&err));
    kc_object *pre = NN(kc_metrics_precision(NULL, &err));
    TRY(kc_metric_update(pre, KC_S_FLOATS(s, 0, 1, 1, 1), KC_S_FLOATS(s, 1, 1, 1, 0), NULL, &err));
    printf("  precision -> %s\n", float_repr(kc_metric_result_value(pre, &err), shown, sizeof shown));
    TRY(kc_metric_update(pre, KC_S_FLOATS(s, 0, 0, 0), KC_S_FLOATS(s, 1, 1, 1), NULL, &err));
    printf("  precision -> %s\n", float_repr(kc_metric_result_value(pre, &err), shown2, sizeof shown2));
    for (int i = 0; i < kc_metric_num_variables(pre); i++) /* pre.variables */
        printf("  %s = %g\n", kc_variable_name(kc_metric_variable(pre, i)),
               kc_tensor_item(kc_variable_value(kc_metric_variable(pre, i))));
    TRY(kc_metric_reset(pre, &err)); /* pre.reset_states() */
    /* seed: end */
    check(strcmp(shown, "0.6666667") == 0, "after batch 1: 2 / (2 + 1)");
    check(strcmp(shown2, "0.33333334") == 0, "after batch 2: 2 / (2 + 4) = 0.33333334, as Keras prints it");
    double after_reset = kc_metric_result_value(pre, &err);
    printf("  after reset_state: %g\n", after_reset);
    check(after_reset == 0.0, "reset_state starts over");
    kc_object_unref(pre);
    kc_scope_free(s);

    /* ---- HuberMetric, standalone ---- */
    printf("HuberMetric, a custom streaming metric:\n");
    kc_object *hm = NN(kc_object_from_config(&huber_metric_class, NULL, NULL, &err));
    update_and_show(hm, KC_FLOATS(1, 2, 3), KC_FLOATS(1.5, 0, 3), shown, sizeof shown);
    update_and_show(hm, KC_FLOATS(0, 10), KC_FLOATS(0.2, 7), shown, sizeof shown);
    /* by hand: 0.125 + 1.5 + 0 + 0.02 + 2.5 over 5 values */
    double want = (0.125 + 1.5 + 0.0 + 0.02 + 2.5) / 5;
    check(fabs(atof(shown) - want) < 1e-6, "the mean over both batches (0.829), not the mean of batch means");
    kc_object_unref(hm);

    /* ---- HuberMetric in compile / fit / evaluate ---- */
    kc_set_random_seed(42);
    kc_tensor *x, *y;
    TRY(ds_diabetes(argv[1], &x, &y, &err));
    kc_object *model = NN(kc_sequential_new_take(
        NULL,
        (kc_object *[]){kc_layers_dense(&(kc_layers_dense_args){.units = 30, .activation = KC_NAME("relu"),
                                                                .input_shape = KC_SHAPE(10)},
                                        &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 1}, &err)},
        2, &err));
    kc_object *optimizer = NN(kc_optimizers_nadam(NULL, &err)), *loss = NN(kc_losses_mean_squared_error(NULL, &err));
    hm = NN(kc_object_from_config(&huber_metric_class, NULL, NULL, &err));
    kc_compile_args compile = {.optimizer = optimizer, .losses = &loss, .n_losses = 1, .metrics = &hm, .n_metrics = 1};
    TRY(kc_model_compile_objects(model, &compile, &err));
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 3};
    kc_history *history;
    TRY(kc_model_fit(model, &fit, &history, &err));
    const char *key = kc_history_key(history, 1); /* "loss", then the metric's name */
    const double *values = kc_history_values(history, key);
    for (int e = 0; e < kc_history_num_epochs(history); e++) printf("  epoch %d - %s: %.4f\n", e + 1, key, values[e]);
    kc_logs *logs;
    TRY(kc_model_evaluate(model, &fit, &logs, &err));
    double got = 0;
    kc_logs_get(logs, key, &got);
    kc_tensor *pred;
    TRY(kc_model_predict_on_batch(model, &x, 1, &pred, &(int){0}, &err));
    s = NN(kc_scope_new(&err));
    want = kc_tensor_item(NN(kc_s_reduce_mean(s, huber(s, y, pred, 1.0f), NULL, 0, false)));
    kc_scope_free(s);
    printf("  evaluate: %s = %.6f (by hand: %.6f)\n", key, got, want);
    check(fabs(got - want) <= 1e-5 * want, "evaluate's HuberMetric is the mean Huber loss over all samples");

    kc_tensor_unref(pred);
    kc_logs_free(logs);
    kc_history_free(history);
    kc_object_unref(hm);
    kc_object_unref(loss);
    kc_object_unref(optimizer);
    kc_object_unref(model);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    return failed;
}
