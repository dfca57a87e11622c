/* ReduceLROnPlateau (Keras 2.15): when the monitored value has not
 * improved by min_delta for `patience` epochs, multiply the learning rate
 * by factor (not below min_lr), then wait `cooldown` epochs. Adds "lr" to
 * the epoch logs, as Keras. */
#include "training_int.h"

#include <math.h>
#include <stdlib.h>

typedef struct reduce_lr {
    kc_callback *self;
    kc__monitor mon;
    double factor, min_lr;
    int64_t patience, cooldown, verbose;
    int wait, cooldown_counter;
} reduce_lr;

/* Keras prints the new rate as a NumPy float32 (the optimizer's variable
 * times factor): the shortest digits that read back to the same float32,
 * written as Python writes that number. */
static void float32_str(double v, char *buf, size_t n)
{
    float f = (float)v;
    char digits[64];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(digits, sizeof digits, "%.*e", prec - 1, (double)f);
        if (strtof(digits, NULL) == f) break;
    }
    kc__py_repr(strtod(digits, NULL), buf, n);
}

static kc_status rl_train_begin(void *user, kc_object *model, const kc_logs *logs, kc_error *err)
{
    (void)model, (void)logs, (void)err;
    reduce_lr *r = user;
    r->self->best = NAN;
    r->wait = 0;
    r->cooldown_counter = 0;
    return KC_OK;
}

static kc_status rl_epoch_end(void *user, kc_object *model, int epoch, kc_logs *logs, kc_error *err)
{
    reduce_lr *r = user;
    kc_object *opt = kc_model_optimizer(model);
    if (!opt) return kc__errf(err, KC_ESTATE, "ReduceLROnPlateau: the model has no optimizer");
    kc_status rc = kc_logs_set(logs, "lr", kc_optimizer_current_lr(opt), err);
    double current;
    if (rc != KC_OK || !kc_logs_get(logs, r->mon.key, &current)) return rc;
    if (r->cooldown_counter > 0) {
        r->cooldown_counter--;
        r->wait = 0;
    }
    if (kc__monitor_improved(&r->mon, current, r->self->best)) {
        r->self->best = current;
        r->wait = 0;
    } else if (r->cooldown_counter <= 0 && ++r->wait >= r->patience) {
        double old_lr = kc_optimizer_current_lr(opt);
        if (old_lr > r->min_lr) {
            double new_lr = fmax(old_lr * r->factor, r->min_lr);
            rc = kc_optimizer_set_learning_rate(opt, new_lr, err);
            if (rc != KC_OK) return rc;
            if (r->verbose > 0 && kc__callback_prints(model)) {
                char text[64];
                float32_str(new_lr, text, sizeof text);
                fprintf(r->self->out ? r->self->out : stdout,
                        "\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s.\n", epoch + 1, text);
            }
            r->cooldown_counter = (int)r->cooldown;
            r->wait = 0;
        }
    }
    return KC_OK;
}

static void rl_destroy(void *user)
{
    reduce_lr *r = user;
    kc__monitor_free(&r->mon);
    kc__free(r);
}

static const kc_callback_methods rl_methods = {
    .on_train_begin = rl_train_begin, .on_epoch_end = rl_epoch_end, .destroy = rl_destroy};

kc_callback *kc__reduce_lr_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    reduce_lr *r = kc__calloc(1, sizeof(*r));
    if (!r) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    kc_status rc = kc__monitor_read(&r->mon, cfg, ctx, "val_loss", 1e-4, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "factor", 0, 0.1, &r->factor, err);
    if (rc == KC_OK && !(r->factor < 1.0 && r->factor >= 0))
        rc = kc__errf(err, KC_EINVAL, "%s.factor: ReduceLROnPlateau does not support a factor >= 1.0 (got %g)", ctx->path,
                      r->factor);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "patience", KC_CFG_NONNEG, 10, &r->patience, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "cooldown", KC_CFG_NONNEG, 0, &r->cooldown, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "min_lr", KC_CFG_NONNEG, 0.0, &r->min_lr, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "verbose", KC_CFG_NONNEG, 0, &r->verbose, err);
    if (rc != KC_OK) {
        rl_destroy(r);
        return NULL;
    }
    kc_callback *cb = kc__callback_wrap(&rl_methods, r, err);
    if (cb) r->self = cb;
    return cb;
}
