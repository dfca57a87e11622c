/* SGD with optional (Nesterov) momentum, as tf.keras' optimizer_v2 SGD
 * (keras/optimizers/optimizer_v2/gradient_descent.py), whose dense update is
 * TensorFlow's ResourceApplyKerasMomentum kernel:
 *     momentum == 0:  w -= lr * g
 *     otherwise:      v = momentum * v - lr * g
 *                     w += v                        (nesterov: w += momentum * v - lr * g)
 * The velocity slot "momentum" exists only when momentum > 0, so a plain SGD
 * has no weights but its iteration count (as in Keras files). */
#include "optimizer_int.h"

typedef struct sgd {
    kc_optimizer base;
    double momentum; /* in [0, 1] */
    bool nesterov;
} sgd;

static int sgd_n_slots(const kc_object *self) { return ((const sgd *)self)->momentum > 0 ? 1 : 0; }

static const char *sgd_slot_name(const kc_object *self, int k)
{
    (void)self;
    (void)k;
    return "momentum";
}

static void sgd_update(kc_object *self, float *w, const float *g, float *const *slots, int64_t n,
                       double lr, int64_t t)
{
    (void)t;
    const sgd *s = (const sgd *)self;
    const float lr_f = (float)lr, mu = (float)s->momentum;
    if (s->momentum <= 0) {
        for (int64_t i = 0; i < n; i++) w[i] -= lr_f * g[i];
        return;
    }
    float *v = slots[0];
    if (s->nesterov) {
        for (int64_t i = 0; i < n; i++) {
            v[i] = v[i] * mu - lr_f * g[i];
            w[i] += v[i] * mu - lr_f * g[i];
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            v[i] = v[i] * mu - lr_f * g[i];
            w[i] += v[i];
        }
    }
}

static kc_status sgd_init(kc_object *self, kc_error *err)
{
    (void)err;
    ((sgd *)self)->base.learning_rate = 0.01;
    return KC_OK;
}

static kc_status sgd_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const sgd *s = (const sgd *)self;
    kc_status rc = KC_OK;
    kc__opt_put_float(cfg, "momentum", s->momentum, &rc, err);
    kc__opt_put_bool(cfg, "nesterov", s->nesterov, &rc, err);
    return rc;
}

static kc_status sgd_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                 kc_error *err)
{
    sgd *s = (sgd *)self;
    kc_status rc = kc__opt_read_unit(ctx, cfg, "momentum", false, &s->momentum, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "nesterov", 0, s->nesterov, &s->nesterov, err);
    if (rc == KC_OK) rc = kc__opt_refuse_weight_decay(ctx, cfg, err);
    return rc;
}

static const kc_optimizer_methods sgd_methods = {
    .n_slots = sgd_n_slots,
    .slot_name = sgd_slot_name,
    .update = sgd_update,
};

const kc_class kc__sgd_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_OPTIMIZER,
    .name = "SGD",
    .size = sizeof(sgd),
    .config_version = 1,
    .init = sgd_init,
    .get_config = sgd_get_config,
    .from_config = sgd_from_config,
    .methods = &sgd_methods,
};
