/* Sample 4: streaming metrics.
 *
 * keras.metrics.Precision keeps counts across batches, so its result is the
 * precision of everything seen so far, not the mean of per-batch values:
 *
 *     precision = keras.metrics.Precision()
 *     precision([0, 1, 1, 1], [1, 1, 1, 0])   # 2 true positives, 1 false -> 0.6666667
 *     precision([0, 0, 0], [1, 1, 1])         # 3 more false positives    -> 0.33333334
 *     precision.result(); precision.variables; precision.reset_state()
 *
 * Then a custom streaming metric, the seed's HuberMetric: a class whose
 * state is two variables (total Huber loss and number of values), updated
 * per batch; used standalone and as a compiled metric during fit.
 * Exit 1 if a value is not the expected one.
 *
 * Run: streaming_metric DATA_DIR */
#include <ckeras.h>

#include "common/datasets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kc_error err;

static void die(const char *where)
{
    char buf[1024];
    fprintf(stderr, "streaming_metric: %s: %s\n", where, kc_error_format(&err, buf, sizeof buf));
    exit(1);
}
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) != KC_OK) die(#call);                                                           \
    } while (0)
static void *nn(void *p, const char *where)
{
    if (!p) die(where);
    return p;
}
#define NN(call) nn((call), #call)

static int failed;
static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    failed |= !ok;
}

static kc_tensor *vector(int n, const float *values)
{
    return NN(kc_tensor_from_data(KC_FLOAT32, 1, (int64_t[]){n}, values, &err));
}

/* A float32 as numpy shows it: the fewest digits that read back as the
 * same float32 (0.33333334, not 0.333333343). */
static const char *float_repr(float v, char *buf, size_t size)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

/* Update with one batch and print the result the way Keras shows it.
 * Returns the printed text in buf. */
static const char *update_and_show(kc_object *metric, int n, const float *y_true, const float *y_pred, char *buf,
                                   size_t size)
{
    kc_tensor *t = vector(n, y_true), *p = vector(n, y_pred);
    TRY(kc_metric_update(metric, t, p, NULL, &err));
    kc_tensor *r = NN(kc_metric_result(metric, &err));
    float_repr(kc_tensor_item(r), buf, size);
    printf("  %s -> %s\n", kc_metric_name(metric), buf);
    kc_tensor_unref(r);
    kc_tensor_unref(t);
    kc_tensor_unref(p);
    return buf;
}

/* ---- HuberMetric(keras.metrics.Metric) ------------------------------------------------------- */

static kc_tensor *huber(kc_tensor *y_true, kc_tensor *y_pred, float threshold, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *error = kc_scope_take(s, kc_sub(y_true, y_pred, e));
    kc_tensor *abs_error = kc_scope_take(s, kc_abs(error, e));
    kc_tensor *is_small = kc_scope_take(s, kc_less_scalar(abs_error, threshold, e));
    kc_tensor *squared = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_square(error, e)), 0.5f, e));
    kc_tensor *linear = kc_scope_take(
        s, kc_sub_scalar(kc_scope_take(s, kc_mul_scalar(abs_error, threshold, e)), 0.5f * threshold * threshold, e));
    kc_tensor *loss = kc_where(is_small, squared, linear, e);
    kc_scope_free(s);
    return loss;
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
    m->threshold = 1.0;
    m->total = kc_metric_add_variable(self, "total", 0, NULL, e); /* scalars; owned by the base */
    m->count = m->total ? kc_metric_add_variable(self, "count", 0, NULL, e) : NULL;
    return m->count ? KC_OK : e->code;
}
/* update_state: total += sum(huber(y_true, y_pred)); count += size(y_true) */
static kc_status huber_metric_update(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred, kc_tensor *sample_weight,
                                     kc_error *e)
{
    (void)sample_weight;
    huber_metric *m = (huber_metric *)self;
    kc_tensor *loss = huber(y_true, y_pred, (float)m->threshold, e);
    kc_tensor *sum = kc_reduce_sum(loss, NULL, 0, false, e);
    kc_tensor_unref(loss);
    if (!sum) return e->code;
    kc_tensor_f32(kc_variable_value(m->total))[0] += kc_tensor_item(sum);
    kc_tensor_f32(kc_variable_value(m->count))[0] += (float)kc_tensor_size(y_true);
    kc_tensor_unref(sum);
    return KC_OK;
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

static double mean_huber(kc_tensor *y_true, kc_tensor *y_pred)
{
    kc_tensor *h = NN(huber(y_true, y_pred, 1.0f, &err));
    double s = 0;
    for (int64_t i = 0; i < kc_tensor_size(h); i++) s += kc_tensor_get(h, i);
    s /= (double)kc_tensor_size(h);
    kc_tensor_unref(h);
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    char shown[64];

    /* ---- Precision over the seed's two batches ---- */
    printf("keras.metrics.Precision over two batches:\n");
    kc_object *precision = NN(kc_metric_get("Precision", &err));
    update_and_show(precision, 4, (float[]){0, 1, 1, 1}, (float[]){1, 1, 1, 0}, shown, sizeof shown);
    check(strcmp(shown, "0.6666667") == 0, "after batch 1: 2 / (2 + 1)");
    update_and_show(precision, 3, (float[]){0, 0, 0}, (float[]){1, 1, 1}, shown, sizeof shown);
    check(strcmp(shown, "0.33333334") == 0, "after batch 2: 2 / (2 + 4) = 0.33333334, as Keras prints it");
    /* precision.variables */
    for (int i = 0; i < kc_metric_num_variables(precision); i++) {
        kc_variable *v = kc_metric_variable(precision, i);
        printf("  variable %s = %g\n", kc_variable_name(v), kc_tensor_item(kc_variable_value(v)));
    }
    TRY(kc_metric_reset(precision, &err)); /* precision.reset_state() */
    kc_tensor *r = NN(kc_metric_result(precision, &err));
    printf("  after reset_state: %g\n", kc_tensor_item(r));
    check(kc_tensor_item(r) == 0.0f, "reset_state starts over");
    kc_tensor_unref(r);
    kc_object_unref(precision);

    /* ---- HuberMetric, standalone ---- */
    printf("HuberMetric, a custom streaming metric:\n");
    kc_object *hm = NN(kc_object_new(&huber_metric_class, &err));
    float t1[] = {1, 2, 3}, p1[] = {1.5f, 0, 3}, t2[] = {0, 10}, p2[] = {0.2f, 7};
    update_and_show(hm, 3, t1, p1, shown, sizeof shown);
    update_and_show(hm, 2, t2, p2, shown, sizeof shown);
    /* by hand: 0.125 + 1.5 + 0 + 0.02 + 2.5 over 5 values */
    double want = (0.125 + 1.5 + 0.0 + 0.02 + 2.5) / 5;
    check(fabs(atof(shown) - want) < 1e-6, "the mean over both batches (0.829), not the mean of batch means");
    kc_object_unref(hm);

    /* ---- HuberMetric in compile / fit / evaluate ---- */
    kc_set_random_seed(42);
    kc_tensor *x, *y;
    TRY(ds_diabetes(argv[1], &x, &y, &err));
    kc_object *model = NN(kc_sequential_new(NULL, &err));
    kc_object *layers[3] = {NN(kc_input_layer(1, (int64_t[]){10}, NULL, &err)),
                            NN(kc_layer_create("Dense", "{\"units\": 30, \"activation\": \"relu\"}", &err)),
                            NN(kc_layer_create("Dense", "{\"units\": 1}", &err))};
    for (int i = 0; i < 3; i++) {
        TRY(kc_sequential_add(model, layers[i], &err));
        kc_object_unref(layers[i]);
    }
    kc_object *optimizer = NN(kc_optimizer_get("nadam", &err)), *loss = NN(kc_loss_get("mse", &err));
    hm = NN(kc_object_new(&huber_metric_class, &err));
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
    want = mean_huber(y, pred);
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
