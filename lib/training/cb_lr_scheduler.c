/* LearningRateScheduler (Keras 2.15): before each epoch the optimizer's
 * learning rate becomes schedule(epoch, lr); "lr" joins the epoch logs.
 * verbose > 0 prints Keras 2.15's line ("Epoch 3: ... to 0.025."). */
#include "training_int.h"

#include <math.h>

typedef struct lr_scheduler {
    kc_callback *self;
    kc_lr_schedule_fn schedule;
    void *user;
    int verbose;
} lr_scheduler;

static kc_status ls_epoch_begin(void *user, kc_object *model, int epoch, const kc_logs *logs, kc_error *err)
{
    (void)logs;
    lr_scheduler *s = user;
    kc_object *opt = kc_model_optimizer(model);
    if (!opt) return kc__errf(err, KC_ESTATE, "LearningRateScheduler: the model has no optimizer");
    double lr = s->schedule(epoch, kc_optimizer_current_lr(opt), s->user);
    if (!isfinite(lr))
        return kc__errf(err, KC_EINVAL, "LearningRateScheduler: the schedule returned %g for epoch %d", lr, epoch);
    kc_status rc = kc_optimizer_set_learning_rate(opt, lr, err);
    if (rc == KC_OK && s->verbose > 0 && kc__callback_prints(model)) {
        char text[64]; /* Keras prints the schedule's float as Python does */
        kc__py_repr(lr, text, sizeof text);
        fprintf(s->self->out ? s->self->out : stdout, "\nEpoch %d: LearningRateScheduler setting learning rate to %s.\n",
                epoch + 1, text);
    }
    return rc;
}

static kc_status ls_epoch_end(void *user, kc_object *model, int epoch, kc_logs *logs, kc_error *err)
{
    (void)user, (void)epoch;
    return kc_logs_set(logs, "lr", kc_optimizer_current_lr(kc_model_optimizer(model)), err);
}

static void ls_destroy(void *user) { kc__free(user); }

static const kc_callback_methods ls_methods = {
    .on_epoch_begin = ls_epoch_begin, .on_epoch_end = ls_epoch_end, .destroy = ls_destroy};

kc_callback *kc_lr_scheduler_new(kc_lr_schedule_fn schedule, void *user, int verbose, FILE *out, kc_error *err)
{
    if (!schedule) {
        kc__errf(err, KC_EINVAL, "kc_lr_scheduler_new: schedule is NULL");
        return NULL;
    }
    lr_scheduler *s = kc__calloc(1, sizeof(*s));
    if (!s) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    s->schedule = schedule;
    s->user = user;
    s->verbose = verbose;
    kc_callback *cb = kc__callback_wrap(&ls_methods, s, err);
    if (cb) {
        s->self = cb;
        cb->out = out;
    }
    return cb;
}
