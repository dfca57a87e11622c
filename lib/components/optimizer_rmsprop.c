/* RMSprop (Hinton 2012), per element in float32:
 *     rms += (g^2 - rms) * (1 - rho)
 *     centered: mg += (g - mg) * (1 - rho); denom = rms - mg^2 + epsilon
 *     else:     denom = rms + epsilon
 *     inc = lr * g / sqrt(denom)
 *     momentum > 0: mom = momentum * mom + inc; w -= mom
 *     else:         w -= inc
 * This is TensorFlow's ResourceApplyRMSProp / ResourceApplyCenteredRMSProp
 * kernels, which tf.keras' optimizer_v2 RMSprop runs when momentum > 0, and
 * the whole update of tf.keras >= 2.11's and Keras 3's RMSprop and of
 * TensorFlow.js (epsilon inside the square root). optimizer_v2 alone, with
 * momentum == 0, puts epsilon outside: lr * g / (sqrt(rms) + epsilon); ckeras
 * keeps one rule, the one of current Keras (see the optimizers report).
 * Slots, in Keras' order: "rms", then "momentum" when momentum > 0, then
 * "mg" when centered. */
#include "optimizer_int.h"

#include <math.h>

typedef struct rmsprop {
    kc_optimizer base;
    double rho;      /* in [0, 1] */
    double momentum; /* in [0, 1] */
    double epsilon;
    bool centered;
} rmsprop;

static int rmsprop_n_slots(const kc_object *self)
{
    const rmsprop *r = (const rmsprop *)self;
    return 1 + (r->momentum > 0) + r->centered;
}

static const char *rmsprop_slot_name(const kc_object *self, int k)
{
    const rmsprop *r = (const rmsprop *)self;
    if (k == 0) return "rms";
    return (k == 1 && r->momentum > 0) ? "momentum" : "mg";
}

static void rmsprop_update(kc_object *self, float *w, const float *g, float *const *slots,
                           int64_t n, double lr, int64_t t)
{
    (void)t;
    const rmsprop *r = (const rmsprop *)self;
    const float c = (float)(1.0 - r->rho), eps = (float)r->epsilon, lr_f = (float)lr;
    const float mu = (float)r->momentum;
    float *rms = slots[0];
    float *mom = r->momentum > 0 ? slots[1] : NULL;
    float *mg = r->centered ? slots[r->momentum > 0 ? 2 : 1] : NULL;
    for (int64_t i = 0; i < n; i++) {
        rms[i] += (g[i] * g[i] - rms[i]) * c;
        float denom = rms[i];
        if (mg) {
            mg[i] += (g[i] - mg[i]) * c;
            denom -= mg[i] * mg[i];
        }
        float inc = lr_f * g[i] / sqrtf(denom + eps);
        if (mom) {
            mom[i] = mu * mom[i] + inc;
            inc = mom[i];
        }
        w[i] -= inc;
    }
}

static kc_status rmsprop_init(kc_object *self, kc_error *err)
{
    (void)err;
    rmsprop *r = (rmsprop *)self;
    r->rho = 0.9;
    r->epsilon = KC__OPT_EPSILON;
    return KC_OK;
}

static kc_status rmsprop_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const rmsprop *r = (const rmsprop *)self;
    kc_status rc = KC_OK;
    kc__opt_put_float(cfg, "rho", r->rho, &rc, err);
    kc__opt_put_float(cfg, "momentum", r->momentum, &rc, err);
    kc__opt_put_float(cfg, "epsilon", r->epsilon, &rc, err);
    kc__opt_put_bool(cfg, "centered", r->centered, &rc, err);
    return rc;
}

static kc_status rmsprop_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err)
{
    rmsprop *r = (rmsprop *)self;
    kc_status rc = kc__opt_read_unit(ctx, cfg, "rho", false, &r->rho, err);
    if (rc == KC_OK) rc = kc__opt_read_unit(ctx, cfg, "momentum", false, &r->momentum, err);
    if (rc == KC_OK) rc = kc__opt_read_epsilon(ctx, cfg, &r->epsilon, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "centered", 0, r->centered, &r->centered, err);
    if (rc == KC_OK) rc = kc__opt_refuse_weight_decay(ctx, cfg, err);
    return rc;
}

static const kc_optimizer_methods rmsprop_methods = {
    .n_slots = rmsprop_n_slots,
    .slot_name = rmsprop_slot_name,
    .update = rmsprop_update,
};

const kc_class kc__rmsprop_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_OPTIMIZER,
    .name = "RMSprop",
    .size = sizeof(rmsprop),
    .config_version = 1,
    .init = rmsprop_init,
    .get_config = rmsprop_get_config,
    .from_config = rmsprop_from_config,
    .methods = &rmsprop_methods,
};
