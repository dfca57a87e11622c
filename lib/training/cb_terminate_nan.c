/* TerminateOnNaN: stop as soon as a batch's loss is NaN or infinite. */
#include "training_int.h"

#include <math.h>

static kc_status tn_batch_end(void *user, kc_object *model, int64_t batch, const kc_logs *logs, kc_error *err)
{
    (void)err;
    kc_callback *self = user;
    double loss;
    if (kc_logs_get(logs, "loss", &loss) && !isfinite(loss)) {
        if (kc__callback_prints(model))
            fprintf(self->out ? self->out : stdout, "Batch %lld: Invalid loss, terminating training\n", (long long)batch);
        kc_model_stop_training(model);
    }
    return KC_OK;
}

static const kc_callback_methods tn_methods = {.on_train_batch_end = tn_batch_end};

kc_callback *kc__terminate_on_nan_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    (void)cfg, (void)ctx; /* no arguments: kc_callback_create refuses any */
    kc_callback *cb = kc__callback_wrap(&tn_methods, NULL, err);
    if (cb) cb->user = cb;
    return cb;
}
