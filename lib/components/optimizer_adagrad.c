/* The accumulator family: Adagrad and Adadelta. Per element, float32:
 *
 * Adagrad (Duchi et al. 2011), as tf.keras >= 2.11's and Keras 3's Adagrad
 * and TensorFlow.js (epsilon inside the square root; optimizer_v2's kernel,
 * ResourceApplyAdagradV2, divides by sqrt(acc) + epsilon instead):
 *     acc += g^2                  (acc starts at initial_accumulator_value)
 *     w -= lr * g / sqrt(acc + epsilon)
 * Adadelta (Zeiler 2012), optimizer_v2/adadelta.py -> TensorFlow's
 * ResourceApplyAdadelta kernel (the same rule as Keras 3's Adadelta):
 *     accum_grad = rho * accum_grad + (1 - rho) * g^2
 *     update = sqrt(accum_var + epsilon) / sqrt(accum_grad + epsilon) * g
 *     w -= lr * update
 *     accum_var = rho * accum_var + (1 - rho) * update^2
 * Slots: Adagrad "accumulator"; Adadelta "accum_grad", "accum_var". */
#include "optimizer_int.h"

#include <math.h>

typedef struct accum_opt {
    kc_optimizer base;
    double initial_accumulator_value; /* Adagrad, >= 0 */
    double rho;                       /* Adadelta, in [0, 1] */
    double epsilon;
} accum_opt;

static int adagrad_n_slots(const kc_object *self)
{
    (void)self;
    return 1;
}

static const char *adagrad_slot_name(const kc_object *self, int k)
{
    (void)self;
    (void)k;
    return "accumulator";
}

static double adagrad_slot_init(const kc_object *self, int k)
{
    (void)k;
    return ((const accum_opt *)self)->initial_accumulator_value;
}

static void adagrad_update(kc_object *self, float *w, const float *g, float *const *slots,
                           int64_t n, double lr, int64_t t)
{
    (void)t;
    const float eps = (float)((const accum_opt *)self)->epsilon, lr_f = (float)lr;
    float *acc = slots[0];
    for (int64_t i = 0; i < n; i++) {
        acc[i] += g[i] * g[i];
        w[i] -= lr_f * g[i] / sqrtf(acc[i] + eps);
    }
}

static int adadelta_n_slots(const kc_object *self)
{
    (void)self;
    return 2;
}

static const char *adadelta_slot_name(const kc_object *self, int k)
{
    (void)self;
    return k == 0 ? "accum_grad" : "accum_var";
}

static void adadelta_update(kc_object *self, float *w, const float *g, float *const *slots,
                            int64_t n, double lr, int64_t t)
{
    (void)t;
    const accum_opt *a = (const accum_opt *)self;
    const float rho = (float)a->rho, c = (float)(1.0 - a->rho), eps = (float)a->epsilon;
    const float lr_f = (float)lr;
    float *accum = slots[0], *accum_update = slots[1];
    for (int64_t i = 0; i < n; i++) {
        accum[i] = accum[i] * rho + g[i] * g[i] * c;
        float update = sqrtf(accum_update[i] + eps) / sqrtf(accum[i] + eps) * g[i];
        w[i] -= update * lr_f;
        accum_update[i] = accum_update[i] * rho + update * update * c;
    }
}

static kc_status accum_init(kc_object *self, kc_error *err)
{
    (void)err;
    accum_opt *a = (accum_opt *)self;
    a->initial_accumulator_value = 0.1;
    a->rho = 0.95;
    a->epsilon = KC__OPT_EPSILON;
    return KC_OK;
}

static kc_status accum_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const accum_opt *a = (const accum_opt *)self;
    kc_status rc = KC_OK;
    if (self->cls == &kc__adagrad_class)
        kc__opt_put_float(cfg, "initial_accumulator_value", a->initial_accumulator_value, &rc, err);
    else
        kc__opt_put_float(cfg, "rho", a->rho, &rc, err);
    kc__opt_put_float(cfg, "epsilon", a->epsilon, &rc, err);
    return rc;
}

static kc_status accum_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                   kc_error *err)
{
    accum_opt *a = (accum_opt *)self;
    kc_status rc;
    if (self->cls == &kc__adagrad_class)
        rc = kc_cfg_float(ctx, cfg, "initial_accumulator_value", KC_CFG_NONNEG,
                          a->initial_accumulator_value, &a->initial_accumulator_value, err);
    else
        rc = kc__opt_read_unit(ctx, cfg, "rho", false, &a->rho, err);
    if (rc == KC_OK) rc = kc__opt_read_epsilon(ctx, cfg, &a->epsilon, err);
    if (rc == KC_OK) rc = kc__opt_refuse_weight_decay(ctx, cfg, err);
    return rc;
}

static const kc_optimizer_methods adagrad_methods = {
    .n_slots = adagrad_n_slots,
    .slot_name = adagrad_slot_name,
    .slot_init = adagrad_slot_init,
    .update = adagrad_update,
};
static const kc_optimizer_methods adadelta_methods = {
    .n_slots = adadelta_n_slots,
    .slot_name = adadelta_slot_name,
    .update = adadelta_update,
};

#define ACCUM_CLASS(var, kname, meths)                                                             \
    const kc_class var = {.abi = KC_CLASS_ABI, .kind = KC_KIND_OPTIMIZER, .name = kname,           \
                          .size = sizeof(accum_opt), .config_version = 1, .init = accum_init,      \
                          .get_config = accum_get_config, .from_config = accum_from_config,        \
                          .methods = &meths};
ACCUM_CLASS(kc__adagrad_class, "Adagrad", adagrad_methods)
ACCUM_CLASS(kc__adadelta_class, "Adadelta", adadelta_methods)
#undef ACCUM_CLASS
