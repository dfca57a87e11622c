/* The Adam family: Adam, AdamW, Nadam and Adamax, which share beta_1,
 * beta_2 and epsilon (and one instance struct). Per element, float32, with
 * t = iterations + 1 and lr this step's learning rate:
 *
 * Adam (optimizer_v2/adam.py -> TensorFlow's ResourceApplyAdam and
 * ResourceApplyAdamWithAmsgrad kernels; Keras' epsilon placement, "epsilon
 * hat" of Kingma & Ba, added before the bias correction of v):
 *     alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
 *     m += (g - m) * (1 - beta_1)
 *     v += (g^2 - v) * (1 - beta_2)
 *     amsgrad: vhat = max(vhat, v), and vhat replaces v below
 *     w -= m * alpha / (sqrt(v) + epsilon)
 * AdamW (tf.keras >= 2.11 and Keras 3 AdamW: decoupled weight decay applied
 * before the Adam step, optimizer._apply_weight_decay):
 *     w -= w * weight_decay * lr, then the Adam step
 * Nadam, Dozat 2015, as tf.keras 2.11-2.15's default Nadam and Keras 3's
 * (keras/optimizers/nadam.py, keras/src/optimizers/nadam.py: the same rule)
 * compute it; u_product (ckeras' momentum_cache, an optimizer-level weight
 * starting at 1) is the product of the u_t so far. Once per step:
 *     u_t   = beta_1 * (1 - 0.5 * 0.96^t)
 *     u_t1  = beta_1 * (1 - 0.5 * 0.96^(t + 1))
 *     u_product *= u_t
 * then per element:
 *     m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
 *     m_hat = u_t1 * m / (1 - u_product * u_t1) + (1 - u_t) * g / (1 - u_product)
 *     w -= m_hat * lr / (sqrt(v / (1 - beta_2^t)) + epsilon)
 * The legacy Nadam (optimizer_v2, keras/optimizers/legacy/nadam.py, which
 * Keras <= 2.10 files and tf.keras.optimizers.legacy.Nadam use) is the same
 * with 0.96^(decay * t), decay = schedule_decay = 0.004: its steps start
 * almost without momentum correction (u_1 = 0.45 rather than 0.468) and
 * stay apart for thousands of steps. A config says which one it is (see
 * nadam_from_config), and a file resumes with the rule it was trained by.
 * Adamax (optimizer_v2/adamax.py -> ResourceApplyAdaMax):
 *     m += (g - m) * (1 - beta_1)
 *     u = max(beta_2 * u, |g|)
 *     w -= lr / (1 - beta_1^t) * (m / (u + epsilon))
 * Slots, in Keras' order: Adam/AdamW "m", "v" (+ "vhat" with amsgrad);
 * Nadam and Adamax "m", "v". */
#include "optimizer_int.h"

#include <math.h>

typedef struct adam {
    kc_optimizer base;
    double beta_1;         /* in [0, 1) */
    double beta_2;         /* in [0, 1] */
    double epsilon;
    bool amsgrad;          /* Adam, AdamW */
    double weight_decay;   /* AdamW */
    double schedule_decay; /* legacy Nadam */
    bool legacy_schedule;  /* Nadam: optimizer_v2's 0.96^(schedule_decay * t) */
    float *momentum_cache; /* Nadam: the state weight's value (borrowed) */
    /* Nadam: this step's coefficients (begin_step) */
    float u_t, u_t1, one_minus_cache, one_minus_cache_next, v_denominator;
} adam;

static bool is_adam_or_adamw(const kc_class *c) { return c == &kc__adam_class || c == &kc__adamw_class; }

static int adam_n_slots(const kc_object *self)
{
    return is_adam_or_adamw(self->cls) && ((const adam *)self)->amsgrad ? 3 : 2;
}

static const char *adam_slot_name(const kc_object *self, int k)
{
    (void)self;
    static const char *const names[] = {"m", "v", "vhat"};
    return names[k];
}

static void adam_update(kc_object *self, float *w, const float *g, float *const *slots, int64_t n,
                        double lr, int64_t t)
{
    const adam *a = (const adam *)self;
    const float alpha = (float)(lr * sqrt(1.0 - pow(a->beta_2, (double)t)) /
                                (1.0 - pow(a->beta_1, (double)t)));
    const float c1 = (float)(1.0 - a->beta_1), c2 = (float)(1.0 - a->beta_2);
    const float eps = (float)a->epsilon;
    float *m = slots[0], *v = slots[1], *vhat = a->amsgrad ? slots[2] : NULL;
    if (self->cls == &kc__adamw_class) {
        const float wd = (float)a->weight_decay, lr_f = (float)lr;
        for (int64_t i = 0; i < n; i++) w[i] -= w[i] * wd * lr_f;
    }
    for (int64_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        float second = v[i];
        if (vhat) {
            vhat[i] = vhat[i] > v[i] ? vhat[i] : v[i];
            second = vhat[i];
        }
        w[i] -= m[i] * alpha / (sqrtf(second) + eps);
    }
}

static kc_status nadam_begin_step(kc_object *self, int64_t t, double lr, kc_error *err)
{
    (void)lr;
    (void)err;
    adam *a = (adam *)self;
    double rate = a->legacy_schedule ? a->schedule_decay : 1.0;
    double u_t = a->beta_1 * (1.0 - 0.5 * pow(0.96, rate * (double)t));
    double u_t1 = a->beta_1 * (1.0 - 0.5 * pow(0.96, rate * (double)(t + 1)));
    float cache = (float)(*a->momentum_cache * u_t);
    *a->momentum_cache = cache;
    a->u_t = (float)u_t;
    a->u_t1 = (float)u_t1;
    a->one_minus_cache = 1.0f - cache;
    a->one_minus_cache_next = (float)(1.0 - (double)cache * u_t1);
    a->v_denominator = (float)(1.0 - pow(a->beta_2, (double)t));
    return KC_OK;
}

/* optimizer_v2's order of operations (legacy files) */
static void nadam_legacy_update(const adam *a, float *w, const float *g, float *m, float *v, int64_t n, float lr_f)
{
    const float b1 = (float)a->beta_1, b2 = (float)a->beta_2;
    const float c1 = (float)(1.0 - a->beta_1), c2 = (float)(1.0 - a->beta_2);
    const float eps = (float)a->epsilon, one_minus_u_t = 1.0f - a->u_t;
    for (int64_t i = 0; i < n; i++) {
        float g_prime = g[i] / a->one_minus_cache;
        m[i] = b1 * m[i] + c1 * g[i];
        float m_prime = m[i] / a->one_minus_cache_next;
        v[i] = b2 * v[i] + c2 * (g[i] * g[i]);
        float v_prime = v[i] / a->v_denominator;
        float m_bar = one_minus_u_t * g_prime + a->u_t1 * m_prime;
        w[i] -= lr_f * m_bar / (sqrtf(v_prime) + eps);
    }
}

static void nadam_update(kc_object *self, float *w, const float *g, float *const *slots, int64_t n,
                         double lr, int64_t t)
{
    (void)t;
    const adam *a = (const adam *)self;
    float *m = slots[0], *v = slots[1];
    if (a->legacy_schedule) {
        nadam_legacy_update(a, w, g, m, v, n, (float)lr);
        return;
    }
    const float c1 = (float)(1.0 - a->beta_1), c2 = (float)(1.0 - a->beta_2);
    const float eps = (float)a->epsilon, lr_f = (float)lr, one_minus_u_t = 1.0f - a->u_t;
    for (int64_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        float m_hat = a->u_t1 * m[i] / a->one_minus_cache_next + one_minus_u_t * g[i] / a->one_minus_cache;
        w[i] -= m_hat * lr_f / (sqrtf(v[i] / a->v_denominator) + eps);
    }
}

static void adamax_update(kc_object *self, float *w, const float *g, float *const *slots,
                          int64_t n, double lr, int64_t t)
{
    const adam *a = (const adam *)self;
    const float step = (float)(lr / (1.0 - pow(a->beta_1, (double)t)));
    const float b2 = (float)a->beta_2, c1 = (float)(1.0 - a->beta_1), eps = (float)a->epsilon;
    float *m = slots[0], *u = slots[1];
    for (int64_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        float decayed = b2 * u[i], mag = fabsf(g[i]);
        u[i] = decayed > mag ? decayed : mag;
        w[i] -= step * (m[i] / (u[i] + eps));
    }
}

static kc_status adam_init(kc_object *self, kc_error *err)
{
    adam *a = (adam *)self;
    a->beta_1 = 0.9;
    a->beta_2 = 0.999;
    a->epsilon = KC__OPT_EPSILON;
    if (self->cls == &kc__adamw_class) a->weight_decay = 0.004;
    if (self->cls == &kc__nadam_class) {
        a->schedule_decay = 0.004;
        a->momentum_cache = kc_optimizer_add_state(self, "momentum_cache", 1.0, err);
        if (!a->momentum_cache) return kc__error_code(err, KC_ENOMEM);
    }
    return KC_OK;
}

static kc_status adam_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const adam *a = (const adam *)self;
    kc_status rc = KC_OK;
    /* The legacy Nadam's "decay" is its momentum schedule decay (Keras
     * 2.2's schedule_decay; optimizer_v2 stores it as _initial_decay). The
     * default Nadam has no decay: tf.keras 2.11+ refuses the key, Keras 3
     * ignores it, and reading it back would make the optimizer legacy. */
    if (self->cls == &kc__nadam_class && a->legacy_schedule)
        kc__opt_put_float(cfg, "decay", a->schedule_decay, &rc, err);
    else if (self->cls == &kc__nadam_class)
        json_object_del(cfg, "decay");
    if (self->cls == &kc__adamw_class) kc__opt_put_float(cfg, "weight_decay", a->weight_decay, &rc, err);
    kc__opt_put_float(cfg, "beta_1", a->beta_1, &rc, err);
    kc__opt_put_float(cfg, "beta_2", a->beta_2, &rc, err);
    kc__opt_put_float(cfg, "epsilon", a->epsilon, &rc, err);
    if (is_adam_or_adamw(self->cls)) kc__opt_put_bool(cfg, "amsgrad", a->amsgrad, &rc, err);
    return rc;
}

/* Which Nadam a config describes, as Keras tells them apart: a config with
 * "is_legacy_optimizer" (tf.keras 2.11-2.15 write it) says so; otherwise
 * only the legacy optimizer_v2 Nadam writes "decay" (Keras 2.2:
 * "schedule_decay"), which tf.keras 2.11+ refuses and Keras 3 never
 * writes. Anything else -- Keras 3 configs, a bare "nadam", a config
 * written by hand -- is the default (non-legacy) Nadam.
 *
 * The legacy one: optimizer_v2 sets decay = kwargs.pop("schedule_decay",
 * 0.004) and uses it only for the momentum schedule, never to decay the
 * learning rate, and refuses learning-rate schedules. A config's "decay"
 * is what Keras wrote for that same value, so it is read when
 * schedule_decay is absent (Keras itself would reset it to 0.004 there: see
 * the report of the optimizers issue). */
static kc_status nadam_from_config(adam *a, const json_t *cfg, const kc_config_ctx *ctx,
                                   kc_error *err)
{
    kc_status rc = KC_OK;
    const json_t *decay = json_object_get(cfg, "decay"), *flag = json_object_get(cfg, "is_legacy_optimizer");
    bool has_decay = json_object_get(cfg, "schedule_decay") || (decay && !json_is_null(decay));
    a->legacy_schedule = json_is_true(flag) || (!json_is_false(flag) && has_decay);
    if (json_object_get(cfg, "schedule_decay"))
        rc = kc_cfg_float(ctx, cfg, "schedule_decay", KC_CFG_NONNEG, 0.004, &a->schedule_decay, err);
    else if (decay && !json_is_null(decay))
        a->schedule_decay = a->base.decay;
    a->base.decay = 0;
    if (rc == KC_OK && a->base.schedule) {
        kc_config_ctx c = kc_config_ctx_child(ctx, "learning_rate", 0);
        kc__errf(err, KC_EFORMAT,
                 "%s: the Nadam optimizer does not support learning-rate schedules", c.path);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    return rc;
}

static kc_status adam_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    adam *a = (adam *)self;
    kc_status rc = kc__opt_read_unit(ctx, cfg, "beta_1", true, &a->beta_1, err);
    if (rc == KC_OK) rc = kc__opt_read_unit(ctx, cfg, "beta_2", false, &a->beta_2, err);
    if (rc == KC_OK) rc = kc__opt_read_epsilon(ctx, cfg, &a->epsilon, err);
    if (rc == KC_OK && is_adam_or_adamw(self->cls))
        rc = kc_cfg_bool(ctx, cfg, "amsgrad", 0, a->amsgrad, &a->amsgrad, err);
    if (rc == KC_OK && self->cls == &kc__adamw_class)
        rc = kc_cfg_float(ctx, cfg, "weight_decay", KC_CFG_NONNEG, a->weight_decay, &a->weight_decay, err);
    else if (rc == KC_OK)
        rc = kc__opt_refuse_weight_decay(ctx, cfg, err);
    if (rc == KC_OK && self->cls == &kc__nadam_class) rc = nadam_from_config(a, cfg, ctx, err);
    return rc;
}

static const kc_optimizer_methods adam_methods = {
    .n_slots = adam_n_slots, .slot_name = adam_slot_name, .update = adam_update};
static const kc_optimizer_methods nadam_methods = {.n_slots = adam_n_slots,
                                                   .slot_name = adam_slot_name,
                                                   .begin_step = nadam_begin_step,
                                                   .update = nadam_update};
static const kc_optimizer_methods adamax_methods = {
    .n_slots = adam_n_slots, .slot_name = adam_slot_name, .update = adamax_update};

#define ADAM_CLASS(var, kname, meths)                                                              \
    const kc_class var = {.abi = KC_CLASS_ABI, .kind = KC_KIND_OPTIMIZER, .name = kname,           \
                          .size = sizeof(adam), .config_version = 1, .init = adam_init,            \
                          .get_config = adam_get_config, .from_config = adam_from_config,          \
                          .methods = &meths};
ADAM_CLASS(kc__adam_class, "Adam", adam_methods)
ADAM_CLASS(kc__adamw_class, "AdamW", adam_methods)
ADAM_CLASS(kc__nadam_class, "Nadam", nadam_methods)
ADAM_CLASS(kc__adamax_class, "Adamax", adamax_methods)
#undef ADAM_CLASS
