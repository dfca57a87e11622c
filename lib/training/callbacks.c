/* Callbacks: the wrapper every callback shares, dispatch over a list,
 * construction by Keras class name, the History callback, and the
 * monitor logic three built-ins share. */
#include "replica.h"
#include "training_int.h"

#include <math.h>
#include <string.h>

bool kc__callback_prints(const kc_object *model)
{
    const kc__compiled *c = kc_is_model(model) ? kc__model_compiled(model) : NULL;
    return !c || !c->strategy || c->strategy->rank == 0;
}

kc_callback *kc__callback_wrap(const kc_callback_methods *m, void *user, kc_error *err)
{
    kc_callback *cb = kc__calloc(1, sizeof(*cb));
    if (!cb) {
        if (m && m->destroy && user) m->destroy(user);
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    cb->methods = m;
    cb->user = user;
    cb->best = NAN;
    return cb;
}

kc_callback *kc_callback_new(const kc_callback_methods *methods, void *user, kc_error *err)
{
    if (!methods) {
        kc__errf(err, KC_EINVAL, "kc_callback_new: methods is NULL");
        return NULL;
    }
    kc_callback *cb = kc__calloc(1, sizeof(*cb));
    if (!cb) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    cb->methods = methods;
    cb->user = user;
    cb->best = NAN;
    return cb;
}

void kc_callback_free(kc_callback *cb)
{
    if (!cb) return;
    if (cb->methods && cb->methods->destroy) cb->methods->destroy(cb->user);
    json_decref(cb->args);
    kc__free(cb);
}

const kc_train_params *kc_callback_params(const kc_callback *cb) { return cb ? &cb->params : NULL; }
const json_t *kc__callback_args(const kc_callback *cb) { return cb ? cb->args : NULL; }
void kc_callback_set_output(kc_callback *cb, FILE *out)
{
    if (cb) cb->out = out;
}
int kc_callback_stopped_epoch(const kc_callback *cb) { return cb ? cb->stopped_epoch : 0; }
double kc_callback_best(const kc_callback *cb) { return cb ? cb->best : NAN; }

/* ---- dispatch ----------------------------------------------------------------------------------- */

/* A hook's failure, with the hook named. A user hook may return a code
 * without filling err: the error then says which hook failed, so that fit
 * never returns a failure with an empty err. */
static kc_status hook_failed(kc_error *err, kc_status rc, const char *hook)
{
    if (err && err->code == KC_OK)
        kc__errf(err, rc, "callback %s returned %s without an error message", hook, kc_status_name(rc));
    kc__error_context(err, "callback %s", hook);
    return kc__error_code(err, rc);
}

#define DISPATCH(hook, ...)                                                                        \
    for (int i_ = 0; i_ < l->n; i_++) {                                                            \
        const kc_callback *cb_ = l->items[i_];                                                     \
        if (!cb_->methods->hook) continue;                                                         \
        kc_status rc_ = cb_->methods->hook(cb_->user, m, __VA_ARGS__, err);                        \
        if (rc_ != KC_OK) return hook_failed(err, rc_, #hook);                                     \
    }                                                                                              \
    return KC_OK

kc_status kc__cbs_train_begin(const kc__callback_list *l, kc_object *m, const kc_logs *logs, kc_error *err)
{
    DISPATCH(on_train_begin, logs);
}
kc_status kc__cbs_train_end(const kc__callback_list *l, kc_object *m, const kc_logs *logs, kc_error *err)
{
    DISPATCH(on_train_end, logs);
}
kc_status kc__cbs_epoch_begin(const kc__callback_list *l, kc_object *m, int epoch, const kc_logs *logs, kc_error *err)
{
    DISPATCH(on_epoch_begin, epoch, logs);
}
kc_status kc__cbs_epoch_end(const kc__callback_list *l, kc_object *m, int epoch, kc_logs *logs, kc_error *err)
{
    DISPATCH(on_epoch_end, epoch, logs);
}
kc_status kc__cbs_batch_begin(const kc__callback_list *l, kc_object *m, int64_t batch, const kc_logs *logs, kc_error *err)
{
    DISPATCH(on_train_batch_begin, batch, logs);
}
kc_status kc__cbs_batch_end(const kc__callback_list *l, kc_object *m, int64_t batch, const kc_logs *logs, kc_error *err)
{
    DISPATCH(on_train_batch_end, batch, logs);
}
kc_status kc__cbs_test_begin(const kc__callback_list *l, kc_object *m, const kc_logs *logs, kc_error *err)
{
    DISPATCH(on_test_begin, logs);
}
kc_status kc__cbs_test_end(const kc__callback_list *l, kc_object *m, const kc_logs *logs, kc_error *err)
{
    DISPATCH(on_test_end, logs);
}
kc_status kc__cbs_test_batch_begin(const kc__callback_list *l, kc_object *m, int64_t batch, const kc_logs *logs, kc_error *err)
{
    DISPATCH(on_test_batch_begin, batch, logs);
}
kc_status kc__cbs_test_batch_end(const kc__callback_list *l, kc_object *m, int64_t batch, const kc_logs *logs, kc_error *err)
{
    DISPATCH(on_test_batch_end, batch, logs);
}

/* ---- History ------------------------------------------------------------------------------------------ */

static kc_status history_epoch_end(void *user, kc_object *model, int epoch, kc_logs *logs, kc_error *err)
{
    (void)model;
    return kc__history_append(user, epoch, logs, err);
}

static const kc_callback_methods history_methods = {.on_epoch_end = history_epoch_end};

kc_callback *kc__history_callback_new(kc_history *h, kc_error *err)
{
    return kc__callback_wrap(&history_methods, h, err); /* h stays fit's */
}

/* ---- by name ----------------------------------------------------------------------------------------- */

typedef kc_callback *(*maker_fn)(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err);

/* Each built-in with the constructor arguments it reads. The arguments are
 * Python keyword arguments in Keras, where a misspelt one is a TypeError;
 * here too an unknown key is refused rather than silently ignored. */
static const struct {
    const char *name;
    maker_fn make;
    const char *args; /* space-separated */
} makers[] = {
    {"EarlyStopping", kc__early_stopping_new,
     "monitor min_delta patience verbose mode baseline restore_best_weights start_from_epoch"},
    {"ModelCheckpoint", kc__model_checkpoint_new,
     "filepath monitor verbose save_best_only save_weights_only mode save_freq initial_value_threshold"},
    {"CSVLogger", kc__csv_logger_new, "filename separator append"},
    {"ReduceLROnPlateau", kc__reduce_lr_new, "monitor factor patience verbose mode min_delta cooldown min_lr"},
    {"TerminateOnNaN", kc__terminate_on_nan_new, ""},
    {"ProgbarLogger", kc__progbar_logger_new, "verbose"},
};

static bool is_word_of(const char *key, const char *words)
{
    size_t n = strlen(key);
    for (const char *p = words; n > 0 && (p = strstr(p, key)); p += n)
        if ((p == words || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
    return false;
}

static kc_status check_args(const json_t *cfg, const char *class_name, const char *args, kc_error *err)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)cfg, key, value)
    {
        (void)value;
        if (is_word_of(key, args)) continue;
        kc__errf(err, KC_EINVAL, "%s got an unexpected argument '%s' (it takes: %s)", class_name, key,
                 *args ? args : "no arguments");
        kc__error_context(err, "%s.%s", class_name, key);
        return KC_EINVAL;
    }
    return KC_OK;
}

kc_callback *kc__callback_create_json(const char *class_name, const json_t *cfg, const char *where,
                                     kc_error *err)
{
    if (!class_name) {
        kc__errf(err, KC_EINVAL, "kc_callback_create: class name is NULL");
        return NULL;
    }
    for (size_t i = 0; i < sizeof makers / sizeof makers[0]; i++) {
        if (strcmp(makers[i].name, class_name) != 0) continue;
        kc_callback *cb = NULL;
        if (!json_is_object(cfg)) {
            kc__errf(err, KC_EFORMAT, "%s: the arguments must be a JSON object", class_name);
        } else if (check_args(cfg, class_name, makers[i].args, err) == KC_OK) {
            kc_config_ctx ctx;
            kc_config_ctx_init(&ctx, where ? where : class_name, NULL);
            cb = makers[i].make(cfg, &ctx, err);
        }
        if (cb && !(cb->args = json_deep_copy(cfg))) {
            kc_callback_free(cb);
            cb = NULL;
            kc__errf(err, KC_ENOMEM, "out of memory");
        }
        return cb;
    }
    kc__errf(err, KC_ENOTFOUND,
             "Unknown callback '%s' (built-ins: EarlyStopping, ModelCheckpoint, CSVLogger, "
             "ReduceLROnPlateau, TerminateOnNaN, ProgbarLogger; LearningRateScheduler: "
             "kc_lr_scheduler_new; your own: kc_callback_new)",
             class_name);
    return NULL;
}

kc_callback *kc_callback_create(const char *class_name, const char *config, kc_error *err)
{
    json_t *cfg = config ? kc_json_parse(config, strlen(config), 0, err) : json_object();
    if (!cfg) {
        if (!config) kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    kc_callback *cb = kc__callback_create_json(class_name, cfg, NULL, err);
    json_decref(cfg);
    return cb;
}

/* ---- monitoring ------------------------------------------------------------------------------------- */

kc_status kc__monitor_read(kc__monitor *m, const json_t *cfg, const kc_config_ctx *ctx, const char *dflt_key,
                           double dflt_delta, kc_error *err)
{
    memset(m, 0, sizeof(*m));
    const char *key = NULL;
    static const char *const modes[] = {"auto", "min", "max"};
    int mode = 0;
    kc_status rc = kc_cfg_string(ctx, cfg, "monitor", 0, dflt_key, &key, err);
    if (rc == KC_OK) rc = kc_cfg_choice(ctx, cfg, "mode", 0, modes, 3, 0, &mode, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "min_delta", 0, dflt_delta, &m->min_delta, err);
    if (rc != KC_OK) return rc;
    m->min_delta = fabs(m->min_delta);
    if (!(m->key = kc__strdup(key))) return kc__errf(err, KC_ENOMEM, "out of memory");
    /* auto is max for accuracy-like names and AUC, else min. Keras 2.15's
     * three callbacks each spell this differently (EarlyStopping: names
     * ending in acc/accuracy/auc; ModelCheckpoint: containing "acc" or
     * starting with "fmeasure"; ReduceLROnPlateau: containing "acc"); one
     * rule here agrees with all of them on Keras' metric names, and
     * maximizes AUC everywhere, as Keras 3 does from the metric itself. */
    m->maximize = mode == 2 || (mode == 0 && (strstr(key, "acc") || strstr(key, "auc") || !strncmp(key, "fmeasure", 8)));
    return KC_OK;
}

bool kc__monitor_improved(const kc__monitor *m, double value, double best)
{
    if (isnan(value)) return false;
    if (isnan(best)) return true;
    return m->maximize ? value - m->min_delta > best : value + m->min_delta < best;
}

void kc__monitor_free(kc__monitor *m) { kc__free(m->key); }
