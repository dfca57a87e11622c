/* ModelCheckpoint (Keras 2.15, save_freq="epoch"): after each epoch, save
 * the model (or only its weights) to filepath with "{epoch}" and log keys
 * filled in; with save_best_only, only when the monitored value improved.
 * Saves go through kc_model_save, so a checkpoint is replaced atomically.
 * In a data-parallel fit every replica runs it (they decide from the same
 * logs) and the strategy saves: collectively with parallel HDF5, else on
 * the chief, every replica returning the same status; only the chief
 * prints. */
#include "replica.h"
#include "training_int.h"

#include <ckeras/io.h>

#include <math.h>
#include <string.h>

typedef struct checkpoint {
    kc_callback *self;
    char *filepath;
    kc__monitor mon;
    bool best_only, weights_only;
    int64_t verbose;
} checkpoint;

static kc_status ck_train_begin(void *user, kc_object *model, const kc_logs *logs, kc_error *err)
{
    (void)model, (void)logs, (void)user, (void)err;
    return KC_OK;
}

static kc_status ck_epoch_end(void *user, kc_object *model, int epoch, kc_logs *logs, kc_error *err)
{
    checkpoint *c = user;
    kc__compiled *cc = kc__model_compiled(model);
    kc_strategy *st = cc ? cc->strategy : NULL;
    int64_t verbose = kc__replica_is_chief(st) ? c->verbose : 0;
    FILE *out = c->self->out ? c->self->out : stdout;
    char path[4096];
    kc_status rc = kc__py_format_path(c->filepath, epoch + 1, logs, path, sizeof path, err);
    if (rc != KC_OK) {
        kc__error_context(err, "ModelCheckpoint filepath");
        return rc;
    }
    if (c->best_only) {
        double current;
        if (!kc_logs_get(logs, c->mon.key, &current)) return KC_OK; /* Keras warns and skips */
        if (!kc__monitor_improved(&c->mon, current, c->self->best)) {
            if (verbose > 0)
                fprintf(out, "\nEpoch %d: %s did not improve from %.5f\n", epoch + 1, c->mon.key, c->self->best);
            return KC_OK;
        }
        if (verbose > 0) {
            if (isnan(c->self->best))
                fprintf(out, "\nEpoch %d: %s improved from %s to %.5f, saving model to %s\n", epoch + 1, c->mon.key,
                        c->mon.maximize ? "-inf" : "inf", current, path);
            else
                fprintf(out, "\nEpoch %d: %s improved from %.5f to %.5f, saving model to %s\n", epoch + 1, c->mon.key,
                        c->self->best, current, path);
        }
        c->self->best = current;
    } else if (verbose > 0) {
        fprintf(out, "\nEpoch %d: saving model to %s\n", epoch + 1, path);
    }
    if (st) rc = st->ops->save(st, model, path, c->weights_only, err);
    else rc = c->weights_only ? kc_model_save_weights(model, path, NULL, err) : kc_model_save(model, path, NULL, err);
    if (rc != KC_OK) kc__error_context(err, "ModelCheckpoint");
    return rc;
}

static void ck_destroy(void *user)
{
    checkpoint *c = user;
    kc__free(c->filepath);
    kc__monitor_free(&c->mon);
    kc__free(c);
}

static const kc_callback_methods ck_methods = {
    .on_train_begin = ck_train_begin, .on_epoch_end = ck_epoch_end, .destroy = ck_destroy};

kc_callback *kc__model_checkpoint_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    checkpoint *c = kc__calloc(1, sizeof(*c));
    if (!c) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    const char *fp = NULL, *freq = NULL;
    kc_status rc = kc_cfg_string(ctx, cfg, "filepath", KC_CFG_REQUIRED, NULL, &fp, err);
    if (rc == KC_OK && !(c->filepath = kc__strdup(fp))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc__monitor_read(&c->mon, cfg, ctx, "val_loss", 0.0, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "save_best_only", 0, false, &c->best_only, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "save_weights_only", 0, false, &c->weights_only, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "verbose", KC_CFG_NONNEG, 0, &c->verbose, err);
    if (rc == KC_OK) rc = kc_cfg_string(ctx, cfg, "save_freq", KC_CFG_NULLABLE, "epoch", &freq, err);
    if (rc == KC_OK && strcmp(freq, "epoch") != 0)
        rc = kc__errf(err, KC_EUNSUPPORTED, "%s.save_freq: only \"epoch\" is supported", ctx->path);
    double threshold = NAN;
    const json_t *t = rc == KC_OK ? json_object_get(cfg, "initial_value_threshold") : NULL;
    if (t && !json_is_null(t)) rc = kc_cfg_float(ctx, cfg, "initial_value_threshold", 0, 0, &threshold, err);
    if (rc != KC_OK) {
        ck_destroy(c);
        return NULL;
    }
    kc_callback *cb = kc__callback_wrap(&ck_methods, c, err);
    if (cb) {
        c->self = cb;
        cb->best = threshold;
    }
    return cb;
}
