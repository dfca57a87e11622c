/* fit / evaluate / train_on_batch / test_on_batch / predict_on_batch, as
 * Keras 2.15's Model methods: batches of batch_size samples in order or
 * shuffled with the global generator (kc_set_random_seed), the last batch
 * partial; one train step per batch (the model class's train_step slot, or
 * kc_model_train_step); epoch logs are the running means the trackers and
 * metrics hold after the last batch; validation after each epoch adds the
 * "val_" logs; callbacks around everything (progress bar first, History
 * last, as Keras orders them).
 *
 * With a strategy (kc_strategy_fit, <ckeras/distributed.h>; held in the
 * compile state while it runs), every replica (process) runs this same loop
 * over the same data: each takes its share of every batch, and replica.c
 * makes the step's gradients and metrics global, so all replicas hold the
 * same weights and logs; callbacks that write (the progress bar,
 * CSVLogger) run on the chief only, the others everywhere (they decide
 * from the same logs), and the replicas agree on stopping after every
 * batch and epoch. */
#include "replica.h"
#include "training_int.h"

#include <ckeras/random.h>

#include <math.h>
#include <string.h>

/* ---- data ----------------------------------------------------------------------------------------- */

typedef struct dataset {
    kc_tensor *const *x, *const *y, *const *sw;
    int n_x, n_y;
    int64_t n;      /* samples */
    int64_t offset; /* first sample used (validation_split keeps the tail) */
} dataset;

static kc_status check_data(kc_object *model, const dataset *d, const char *what, kc_error *err)
{
    if (d->n_x < 1 || !d->x) return kc__errf(err, KC_EINVAL, "%s: no inputs given", what);
    int want = kc_model_num_inputs(model);
    if (want > 0 && d->n_x != want)
        return kc__errf(err, KC_EINVAL, "%s: %d inputs given, model '%s' takes %d", what, d->n_x, kc_layer_name(model), want);
    int64_t n = -1;
    for (int s = 0; s < 3; s++) {
        kc_tensor *const *list = s == 0 ? d->x : s == 1 ? d->y : d->sw;
        int count = s == 0 ? d->n_x : d->n_y;
        for (int i = 0; list && i < count; i++) {
            const kc_tensor *t = list[i];
            if (!t) return kc__errf(err, KC_EINVAL, "%s: %s %d is NULL", what, s == 0 ? "input" : s == 1 ? "target" : "sample weight", i);
            if (kc_tensor_ndim(t) < 1) return kc__errf(err, KC_ESHAPE, "%s: a scalar cannot be batched", what);
            if (s == 2 && kc_tensor_ndim(t) != 1)
                return kc__errf(err, KC_ESHAPE, "%s: sample weights must have shape (samples,)", what);
            int64_t rows = kc_tensor_dim(t, 0);
            if (n < 0) n = rows;
            else if (rows != n)
                return kc__errf(err, KC_ESHAPE,
                                "%s: all inputs, targets and sample weights need the same number of samples "
                                "(%lld and %lld)", what, (long long)n, (long long)rows);
        }
    }
    if (n <= 0) return kc__errf(err, KC_EINVAL, "%s: no samples", what);
    return KC_OK;
}

/* The tensors of one batch: views when the order is natural, copies of the
 * chosen rows when shuffled. */
typedef struct batch {
    kc_tensor *x[KC_MAX_LAYER_OUTPUTS * 4], *y[KC_MAX_LAYER_OUTPUTS], *sw[KC_MAX_LAYER_OUTPUTS];
    int n_x, n_y;
    bool has_sw;
} batch;

static void batch_free(batch *b)
{
    for (int i = 0; i < b->n_x; i++) kc_tensor_unref(b->x[i]);
    for (int i = 0; i < b->n_y; i++) {
        kc_tensor_unref(b->y[i]);
        kc_tensor_unref(b->sw[i]);
    }
    memset(b, 0, sizeof(*b));
}

static kc_tensor *take(kc_tensor *t, int64_t offset, const int64_t *order, int64_t start, int64_t count, kc_error *err)
{
    if (!order) return kc__tensor_rows(t, offset + start, count, err);
    return kc__tensor_gather_rows(t, order + start, count, err);
}

/* Per-sample weights from class_weight (Keras: single-output models;
 * classes from one-hot rows or integer labels), times the given ones. */
static kc_tensor *class_weights(const kc_fit_args *a, kc_tensor *y, kc_tensor *sw, kc_error *err)
{
    int64_t n = kc_tensor_dim(y, 0), width = kc_tensor_size(y) / (n ? n : 1);
    kc_tensor *w = kc_tensor_empty(KC_FLOAT32, 1, &n, err);
    if (!w) return NULL;
    float *pw = kc_tensor_f32(w);
    for (int64_t i = 0; i < n; i++) {
        int64_t cls = 0;
        if (width > 1) {
            double best = -INFINITY;
            for (int64_t k = 0; k < width; k++) {
                double v = kc_tensor_get(y, i * width + k);
                if (v > best) {
                    best = v;
                    cls = k;
                }
            }
        } else {
            cls = (int64_t)llround(kc_tensor_get(y, i));
        }
        if (cls < 0 || cls >= a->n_class_weight) {
            kc_tensor_unref(w);
            kc__errf(err, KC_EINVAL, "class_weight has %d entries but sample %lld is of class %lld",
                     a->n_class_weight, (long long)i, (long long)cls);
            return NULL;
        }
        pw[i] = (float)a->class_weight[cls] * (sw ? (float)kc_tensor_get(sw, i) : 1.0f);
    }
    return w;
}

static kc_status make_batch(const kc_fit_args *a, const dataset *d, const int64_t *order, int64_t start, int64_t count,
                            batch *b, kc_error *err)
{
    memset(b, 0, sizeof(*b));
    kc_status rc = KC_OK;
    for (int i = 0; i < d->n_x && rc == KC_OK; i++, b->n_x++)
        if (!(b->x[i] = take(d->x[i], d->offset, order, start, count, err))) rc = kc__error_code(err, KC_ENOMEM);
    for (int i = 0; d->y && i < d->n_y && rc == KC_OK; i++, b->n_y++) {
        if (!(b->y[i] = take(d->y[i], d->offset, order, start, count, err))) rc = kc__error_code(err, KC_ENOMEM);
        if (rc == KC_OK && d->sw && !(b->sw[i] = take(d->sw[i], d->offset, order, start, count, err)))
            rc = kc__error_code(err, KC_ENOMEM);
    }
    if (rc == KC_OK && a && a->class_weight && b->n_y == 1) {
        kc_tensor *w = class_weights(a, b->y[0], b->sw[0], err);
        if (!w) rc = kc__error_code(err, KC_EINVAL);
        kc_tensor_unref(b->sw[0]);
        b->sw[0] = w;
    }
    b->has_sw = rc == KC_OK && b->n_y > 0 && b->sw[0];
    if (rc != KC_OK) batch_free(b);
    return rc;
}

/* ---- steps ----------------------------------------------------------------------------------------- */

static kc_status need_compiled(kc_object *model, kc__compiled **c, kc_error *err)
{
    *c = NULL;
    kc_status rc = kc__need_model(model, err);
    if (rc != KC_OK) return rc;
    *c = kc__model_compiled(model);
    if (!*c)
        return kc__errf(err, KC_ESTATE, "model '%s' must be compiled before training or evaluation (kc_model_compile)",
                        kc_layer_name(model));
    return KC_OK;
}

static kc_status run_train_step(kc_object *model, batch *b, kc_logs *logs, kc_error *err)
{
    kc_train_step step = {b->x, b->n_x, b->n_y ? b->y : NULL, b->n_y, b->has_sw ? b->sw : NULL, logs};
    const kc_model_methods *mm = model->cls->methods;
    kc_status rc = mm && mm->train_step ? mm->train_step(model, &step, err) : kc_model_train_step(model, &step, err);
    return rc;
}

static kc_status run_test_step(kc_object *model, batch *b, kc_logs *logs, kc_error *err)
{
    kc_tensor *out[KC_MAX_LAYER_OUTPUTS] = {0}, *loss = NULL;
    int n_out = 0;
    kc__recording_pause(); /* nothing to differentiate */
    kc_status rc = kc_layer_call(model, b->x, b->n_x, NULL, false, out, NULL, &n_out, err);
    kc_tensor *const *y = b->n_y ? b->y : NULL, *const *sw = b->has_sw ? b->sw : NULL;
    if (rc == KC_OK) rc = kc_model_compute_loss(model, y, b->n_y, out, n_out, sw, &loss, err);
    kc__recording_resume();
    if (rc == KC_OK) rc = kc_model_update_metrics(model, y, b->n_y, out, n_out, sw, err);
    if (rc == KC_OK) rc = kc_model_metric_results(model, logs, err);
    kc_tensor_unref(loss);
    for (int i = 0; i < n_out; i++) kc_tensor_unref(out[i]);
    return rc;
}

/* One step, or with a strategy this replica's share of a global batch of
 * global_rows samples, its metrics summed over the replicas. */
static kc_status step(kc_object *model, batch *b, kc_logs *logs, bool train, kc_strategy *st, int64_t global_rows,
                      kc_error *err)
{
    kc__replica_step *rs = NULL;
    if (st && !(rs = kc__replica_step_begin(st, model, kc_tensor_dim(b->x[0], 0), global_rows, err)))
        return kc__error_code(err, KC_ENOMEM);
    kc_status rc = train ? run_train_step(model, b, logs, err) : run_test_step(model, b, logs, err);
    return st ? kc__replica_step_end(rs, rc, logs, err) : rc;
}

static kc_status evaluate_dataset(kc_object *model, const dataset *d, int64_t batch_size, const kc__callback_list *cbs,
                                  kc_logs *logs, kc_strategy *st, kc_error *err)
{
    kc_status rc = kc_model_reset_metrics(model, err);
    if (rc == KC_OK && cbs) rc = kc__cbs_test_begin(cbs, model, logs, err);
    for (int64_t start = 0, b = 0; rc == KC_OK && start < d->n; start += batch_size, b++) {
        int64_t count = d->n - start < batch_size ? d->n - start : batch_size, off, n;
        kc__replica_shard(st, count, &off, &n);
        batch bt;
        if (cbs) rc = kc__cbs_test_batch_begin(cbs, model, b, logs, err);
        if (rc == KC_OK) rc = make_batch(NULL, d, NULL, start + off, n, &bt, err);
        if (rc == KC_OK) rc = step(model, &bt, logs, false, st, count, err);
        batch_free(&bt);
        if (rc == KC_OK && cbs) rc = kc__cbs_test_batch_end(cbs, model, b, logs, err);
    }
    if (rc == KC_OK && cbs) rc = kc__cbs_test_end(cbs, model, logs, err);
    return rc;
}

/* ---- fit ----------------------------------------------------------------------------------------------- */

void kc_model_stop_training(kc_object *model)
{
    kc__compiled *c = kc_is_model(model) ? kc__model_compiled(model) : NULL;
    if (c) c->stop_training = true;
}

bool kc_model_stopping(const kc_object *model)
{
    kc__compiled *c = kc_is_model(model) ? kc__model_compiled(model) : NULL;
    return c && c->stop_training;
}

/* A fresh permutation of 0..n-1 (Keras shuffles the identity each epoch,
 * so a resumed fit draws the same orders as an uninterrupted one). */
static void shuffle(int64_t *order, int64_t n)
{
    kc_rng *rng = kc_global_rng();
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)kc_rng_below(rng, (uint64_t)(i + 1));
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

typedef struct fit_state {
    kc_callback *history_cb, *progbar;
    kc__callback_list cbs;
    kc_logs *logs, *val_logs;
    int64_t *order;
    FILE **saved_out; /* the callbacks' own outputs, put back after fit */
} fit_state;

static void fit_state_free(fit_state *s)
{
    for (int i = 0; s->saved_out && i < s->cbs.n; i++) s->cbs.items[i]->out = s->saved_out[i];
    kc__free(s->saved_out);
    kc_callback_free(s->history_cb);
    kc_callback_free(s->progbar);
    kc__free(s->cbs.items);
    kc_logs_free(s->logs);
    kc_logs_free(s->val_logs);
    kc__free(s->order);
}

/* Keras 2.15's CallbackList: the user's callbacks, then History, then the
 * progress bar (unless the list has one), so the bar shows what the
 * others add to the epoch logs ("lr"). */
static kc_status fit_setup(kc_object *model, const kc_fit_args *a, kc_history *h, int64_t steps, int64_t samples,
                           fit_state *s, kc_error *err)
{
    (void)model;
    bool chief = kc__replica_is_chief(kc__model_compiled(model)->strategy);
    int epochs = a->epochs > 0 ? a->epochs : 1;
    s->cbs.items = kc__calloc((size_t)a->n_callbacks + 2, sizeof(kc_callback *));
    s->saved_out = kc__calloc((size_t)a->n_callbacks + 2, sizeof(FILE *));
    s->logs = kc_logs_new(err);
    s->val_logs = kc_logs_new(err);
    if (!s->cbs.items || !s->saved_out || !s->logs || !s->val_logs) return kc__errf(err, KC_ENOMEM, "out of memory");
    bool has_bar = false;
    for (int i = 0; i < a->n_callbacks; i++) {
        if (!a->callbacks[i]) return kc__errf(err, KC_EINVAL, "callback %d is NULL", i);
        has_bar |= kc__is_progbar_logger(a->callbacks[i]);
        if (chief || !a->callbacks[i]->chief_only) s->cbs.items[s->cbs.n++] = a->callbacks[i];
    }
    if (h) {
        if (!(s->history_cb = kc__history_callback_new(h, err))) return kc__error_code(err, KC_ENOMEM);
        s->cbs.items[s->cbs.n++] = s->history_cb;
    }
    if (a->verbose > 0 && !has_bar && chief) {
        if (!(s->progbar = kc__progbar_logger_new(NULL, NULL, err))) return kc__error_code(err, KC_ENOMEM);
        s->cbs.items[s->cbs.n++] = s->progbar;
    }
    kc_train_params p = {epochs, steps, samples, a->verbose};
    for (int i = 0; i < s->cbs.n; i++) {
        s->cbs.items[i]->params = p;
        s->saved_out[i] = s->cbs.items[i]->out;
        if (!s->cbs.items[i]->out && a->out) s->cbs.items[i]->out = a->out;
    }
    return KC_OK;
}

/* Before a data-parallel fit or evaluation: the replicas must have been
 * given the same data sizes and settings (a mistake here would otherwise
 * surface as a hang or as silently different models), every batch must
 * give each replica at least one sample, and the replicas' models start
 * as the chief's. */
static kc_status replica_setup(kc_object *model, const kc_fit_args *a, const dataset *train, const dataset *val,
                               int64_t bs, int epochs, kc_error *err)
{
    kc_strategy *st = kc__model_compiled(model)->strategy;
    enum { N_FIXED = 8 };
    int64_t v[N_FIXED + KC_MAX_DIMS + 2];
    const char *names[N_FIXED + KC_MAX_DIMS + 2] = {"numbers of samples", "numbers of validation samples",
                                                    "batch sizes", "numbers of epochs", "initial epochs",
                                                    "shuffle settings", "numbers of inputs", "numbers of targets"};
    int n = 0;
    v[n++] = train->n, v[n++] = val ? val->n : 0, v[n++] = bs, v[n++] = epochs, v[n++] = a->initial_epoch;
    v[n++] = a->no_shuffle, v[n++] = train->n_x, v[n++] = train->n_y;
    const kc_tensor *x0 = train->x[0];
    v[n] = kc_tensor_ndim(x0), names[n++] = "ranks of input 0";
    for (int i = 1; i < kc_tensor_ndim(x0) && i <= KC_MAX_DIMS; i++)
        v[n] = kc_tensor_dim(x0, i), names[n++] = "shapes of input 0";
    kc_status rc = st->ops->check_same(st, v, names, n, err);
    if (rc != KC_OK) return rc;
    int64_t last = train->n % bs, val_last = val && val->n ? val->n % bs : 0;
    if (bs < st->size || (last && last < st->size) || (val_last && val_last < st->size))
        return kc__errf(err, KC_EINVAL,
                        "a data-parallel fit gives every process a share of each batch: with %d processes "
                        "every batch needs at least %d samples (batch_size %lld, last batch %lld%s)",
                        st->size, st->size, (long long)bs, (long long)(last ? last : bs),
                        val_last && val_last < st->size ? ", last validation batch too small" : "");
    rc = st->ops->replicate(st, model, a->x, a->n_x, err);
    if (rc != KC_OK) kc__error_context(err, "replicating the model from process 0");
    return rc;
}

/* The batches of one epoch: callbacks around each step, which takes this
 * replica's share of the batch; after each, the replicas agree on
 * stopping. */
static kc_status train_epoch(kc_object *model, const kc_fit_args *a, const dataset *train, fit_state *s, int epoch,
                             int64_t bs, kc_error *err)
{
    kc_strategy *st = kc__model_compiled(model)->strategy;
    kc__compiled *c = kc__model_compiled(model);
    int64_t steps = (train->n + bs - 1) / bs;
    kc_status rc = KC_OK;
    for (int64_t b = 0; rc == KC_OK && b < steps; b++) {
        int64_t start = b * bs, count = train->n - start < bs ? train->n - start : bs, off, n;
        kc__replica_shard(st, count, &off, &n);
        batch bt;
        rc = kc__cbs_batch_begin(&s->cbs, model, b, s->logs, err);
        if (rc == KC_OK) rc = make_batch(a, train, s->order, start + off, n, &bt, err);
        if (rc == KC_OK) {
            rc = step(model, &bt, s->logs, true, st, count, err);
            batch_free(&bt);
            if (rc != KC_OK) kc__error_context(err, "epoch %d, batch %lld", epoch + 1, (long long)b);
        }
        if (rc == KC_OK) rc = kc__cbs_batch_end(&s->cbs, model, b, s->logs, err);
        if (rc == KC_OK && st) rc = st->ops->agree(st, KC_OK, &c->stop_training, err);
        if (c->stop_training) break;
    }
    return rc;
}

static kc_status fit(kc_object *model, const kc_fit_args *a, kc_history **history, kc_error *err)
{
    if (history) *history = NULL;
    kc__compiled *c;
    kc_status rc = need_compiled(model, &c, err);
    if (rc != KC_OK) return rc;
    if (!a) return kc__errf(err, KC_EINVAL, "kc_model_fit: no arguments");
    kc_strategy *st = kc__model_compiled(model)->strategy;
    if (a->n_x > KC_MAX_LAYER_OUTPUTS * 4 || a->n_y > KC_MAX_LAYER_OUTPUTS)
        return kc__errf(err, KC_ELIMIT, "fit: too many inputs or outputs");
    if (a->n_sample_weight && a->n_sample_weight != a->n_y)
        return kc__errf(err, KC_EINVAL, "fit: %d sample weights for %d targets", a->n_sample_weight, a->n_y);
    if (a->class_weight && a->n_y != 1)
        return kc__errf(err, KC_EINVAL, "class_weight is only supported for models with a single output");
    if (!(a->validation_split >= 0 && a->validation_split < 1))
        return kc__errf(err, KC_EINVAL, "validation_split must be in [0, 1), got %g", a->validation_split);
    if (a->batch_size < 0) return kc__errf(err, KC_EINVAL, "batch_size must be positive");
    int epochs = a->epochs > 0 ? a->epochs : 1;
    int64_t bs = a->batch_size > 0 ? a->batch_size : 32;

    dataset train = {a->x, a->y, a->n_sample_weight ? a->sample_weight : NULL, a->n_x, a->y ? a->n_y : 0, 0, 0};
    rc = check_data(model, &train, "fit", err);
    if (rc != KC_OK) return rc;
    int64_t all = kc_tensor_dim(a->x[0], 0);
    train.n = all;
    dataset val = {0};
    bool validate = false;
    if (a->val_x) {
        val = (dataset){a->val_x, a->val_y, a->val_sample_weight, a->n_val_x, a->val_y ? a->n_val_y : 0, 0, 0};
        rc = check_data(model, &val, "validation_data", err);
        val.n = rc == KC_OK ? kc_tensor_dim(a->val_x[0], 0) : 0;
        validate = true;
    } else if (a->validation_split > 0) {
        /* Keras: the last fraction of the data, before any shuffling */
        int64_t split_at = (int64_t)floor((double)all * (1.0 - a->validation_split));
        if (split_at <= 0 || split_at >= all)
            return kc__errf(err, KC_EINVAL, "validation_split %g leaves no training or no validation samples of %lld",
                            a->validation_split, (long long)all);
        val = train;
        val.offset = split_at;
        val.n = all - split_at;
        train.n = split_at;
        validate = true;
    }
    if (rc == KC_OK && st) rc = replica_setup(model, a, &train, validate ? &val : NULL, bs, epochs, err);
    if (rc != KC_OK) return rc;

    kc_history *h = history ? kc__history_new(err) : NULL;
    if (history && !h) return kc__error_code(err, KC_ENOMEM);
    int64_t steps = (train.n + bs - 1) / bs;
    fit_state s = {0};
    rc = fit_setup(model, a, h, steps, train.n, &s, err);
    if (rc == KC_OK && !a->no_shuffle) {
        if (!(s.order = kc__malloc_array((size_t)train.n, sizeof(int64_t)))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    }
    c->stop_training = false;
    if (rc == KC_OK) rc = kc__cbs_train_begin(&s.cbs, model, s.logs, err);
    /* as Keras: stop_training is looked at after each batch and each epoch */
    for (int epoch = a->initial_epoch; rc == KC_OK && epoch < epochs; epoch++) {
        kc_logs_clear(s.logs);
        rc = kc_model_reset_metrics(model, err);
        if (rc == KC_OK) rc = kc__cbs_epoch_begin(&s.cbs, model, epoch, s.logs, err);
        if (s.order) shuffle(s.order, train.n);
        if (rc == KC_OK) rc = train_epoch(model, a, &train, &s, epoch, bs, err);
        if (rc == KC_OK && validate) {
            kc_logs_clear(s.val_logs);
            bool stop = c->stop_training;
            rc = evaluate_dataset(model, &val, bs, &s.cbs, s.val_logs, st, err);
            c->stop_training = stop;
            if (rc == KC_OK) rc = kc__logs_copy(s.logs, s.val_logs, "val_", err);
            if (rc != KC_OK) kc__error_context(err, "validation after epoch %d", epoch + 1);
        }
        if (rc == KC_OK) rc = kc__cbs_epoch_end(&s.cbs, model, epoch, s.logs, err);
        if (rc == KC_OK && st) rc = st->ops->agree(st, KC_OK, &c->stop_training, err);
        if (c->stop_training) break;
    }
    if (rc == KC_OK) rc = kc__cbs_train_end(&s.cbs, model, s.logs, err);
    fit_state_free(&s);
    if (rc != KC_OK || !history) {
        kc_history_free(h);
        return rc;
    }
    *history = h;
    return KC_OK;
}

/* A data-parallel run ends with every replica agreeing on its outcome:
 * the first failure anywhere is every replica's error. The strategy is
 * known to the steps and callbacks (ModelCheckpoint) through the compile
 * state. */
kc_status kc__model_fit(kc_object *model, const kc_fit_args *a, kc_strategy *st, kc_history **history, kc_error *err)
{
    kc__compiled *c = st && kc_is_model(model) ? kc__model_compiled(model) : NULL;
    if (c) c->strategy = st;
    kc_status rc = fit(model, a, history, err);
    if (c) c->strategy = NULL;
    if (st) rc = kc__replica_finish(st, rc, err);
    if (rc != KC_OK && history) {
        kc_history_free(*history);
        *history = NULL;
    }
    return rc;
}

static kc_status evaluate(kc_object *model, const kc_fit_args *a, kc_logs **logs, kc_error *err)
{
    if (logs) *logs = NULL;
    kc__compiled *c;
    kc_status rc = need_compiled(model, &c, err);
    if (rc != KC_OK) return rc;
    if (!a) return kc__errf(err, KC_EINVAL, "kc_model_evaluate: no arguments");
    if (a->n_sample_weight && a->n_sample_weight != a->n_y)
        return kc__errf(err, KC_EINVAL, "evaluate: %d sample weights for %d targets", a->n_sample_weight, a->n_y);
    dataset d = {a->x, a->y, a->n_sample_weight ? a->sample_weight : NULL, a->n_x, a->y ? a->n_y : 0, 0, 0};
    rc = check_data(model, &d, "evaluate", err);
    if (rc != KC_OK) return rc;
    d.n = kc_tensor_dim(a->x[0], 0);
    int64_t bs = a->batch_size > 0 ? a->batch_size : 32;
    kc_strategy *st = c->strategy;
    if (st && (rc = replica_setup(model, a, &d, NULL, bs, 1, err)) != KC_OK) return rc;
    kc__callback_list cbs = {(kc_callback **)a->callbacks, a->n_callbacks};
    kc_logs *out = kc_logs_new(err);
    if (!out) return kc__error_code(err, KC_ENOMEM);
    /* Keras prints the evaluation as one bar, timed from the start */
    int64_t steps = (d.n + bs - 1) / bs;
    bool bar = a->verbose > 0 && kc__replica_is_chief(st);
    kc_progbar *pb = bar ? kc_progbar_new(steps, a->verbose, a->out, err) : NULL;
    if (bar && !pb) rc = kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK) rc = evaluate_dataset(model, &d, bs, &cbs, out, st, err);
    if (rc == KC_OK && pb) kc_progbar_update(pb, steps, out, true);
    kc_progbar_free(pb);
    if (rc != KC_OK || !logs) {
        kc_logs_free(out);
        return rc;
    }
    *logs = out;
    return KC_OK;
}

kc_status kc__model_evaluate(kc_object *model, const kc_fit_args *a, kc_strategy *st, kc_logs **logs, kc_error *err)
{
    kc__compiled *c = st && kc_is_model(model) ? kc__model_compiled(model) : NULL;
    if (c) c->strategy = st;
    kc_status rc = evaluate(model, a, logs, err);
    if (c) c->strategy = NULL;
    if (st) rc = kc__replica_finish(st, rc, err);
    if (rc != KC_OK && logs) {
        kc_logs_free(*logs);
        *logs = NULL;
    }
    return rc;
}

/* ---- single batches -------------------------------------------------------------------------------- */

static kc_status one_batch(kc_object *model, kc_tensor *const *x, int n_x, kc_tensor *const *y, int n_y,
                           kc_tensor *const *sw, kc_logs *logs, bool train, kc_error *err)
{
    kc__compiled *c;
    kc_status rc = need_compiled(model, &c, err);
    if (rc != KC_OK) return rc;
    if (n_x > KC_MAX_LAYER_OUTPUTS * 4 || n_y > KC_MAX_LAYER_OUTPUTS)
        return kc__errf(err, KC_ELIMIT, "too many inputs or outputs");
    dataset d = {x, y, sw, n_x, y ? n_y : 0, 0, 0};
    rc = check_data(model, &d, train ? "train_on_batch" : "test_on_batch", err);
    if (rc != KC_OK) return rc;
    d.n = kc_tensor_dim(x[0], 0);
    kc_logs *tmp = logs ? NULL : kc_logs_new(err);
    if (!logs && !tmp) return kc__error_code(err, KC_ENOMEM);
    batch b;
    rc = make_batch(NULL, &d, NULL, 0, d.n, &b, err);
    if (rc == KC_OK) {
        rc = train ? run_train_step(model, &b, logs ? logs : tmp, err) : run_test_step(model, &b, logs ? logs : tmp, err);
        batch_free(&b);
    }
    /* Keras' reset_metrics=True: each call reports its own batch */
    if (rc == KC_OK) rc = kc_model_reset_metrics(model, err);
    kc_logs_free(tmp);
    return rc;
}

kc_status kc_model_train_on_batch(kc_object *model, kc_tensor *const *x, int n_x, kc_tensor *const *y, int n_y,
                                  kc_tensor *const *sample_weight, kc_logs *logs, kc_error *err)
{
    return one_batch(model, x, n_x, y, n_y, sample_weight, logs, true, err);
}

kc_status kc_model_test_on_batch(kc_object *model, kc_tensor *const *x, int n_x, kc_tensor *const *y, int n_y,
                                 kc_tensor *const *sample_weight, kc_logs *logs, kc_error *err)
{
    return one_batch(model, x, n_x, y, n_y, sample_weight, logs, false, err);
}

kc_status kc_model_predict_on_batch(kc_object *model, kc_tensor *const *x, int n_x, kc_tensor **outputs, int *n_out,
                                    kc_error *err)
{
    *n_out = 0;
    if (n_x < 1 || !x || !x[0] || kc_tensor_ndim(x[0]) < 1)
        return kc__errf(err, KC_EINVAL, "predict_on_batch: no batched inputs");
    return kc_model_predict(model, x, n_x, kc_tensor_dim(x[0], 0), outputs, n_out, err);
}

kc_status kc_model_fit(kc_object *model, const kc_fit_args *a, kc_history **history, kc_error *err)
{
    return kc__model_fit(model, a, NULL, history, err);
}

kc_status kc_model_evaluate(kc_object *model, const kc_fit_args *a, kc_logs **logs, kc_error *err)
{
    return kc__model_evaluate(model, a, NULL, logs, err);
}
