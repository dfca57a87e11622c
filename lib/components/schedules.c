/* Learning-rate schedules (keras.optimizers.schedules): the step -> rate
 * functions of tf.keras 2.15's learning_rate_schedule.py, with its config
 * keys, so that an optimizer whose "learning_rate" is a schedule dict loads
 * and saves unchanged. step is the optimizer's iteration count before the
 * update (0 for the first one), as optimizer_v2._decayed_lr passes it.
 *
 *   ExponentialDecay     lr0 * rate^p,            p = step / steps (floored if staircase)
 *   InverseTimeDecay     lr0 / (1 + rate * p),    p as above
 *   PiecewiseConstantDecay  values[0] while step <= boundaries[0], values[i]
 *                        while boundaries[i-1] < step <= boundaries[i], the
 *                        last value after the last boundary
 *   PolynomialDecay      (lr0 - end) * (1 - s / S)^power + end, with s = min(step, steps),
 *                        S = steps; cycle: s = step, S = steps * max(1, ceil(step / steps))
 *   CosineDecay          without warmup_target: lr0 * ((1 - alpha) * c + alpha),
 *                        c = 0.5 * (1 + cos(pi * min(step, steps) / steps));
 *                        with it, s = min(step, steps + warmup_steps): while s < warmup_steps
 *                        lr0 + (target - lr0) * s / warmup_steps, then the cosine decay
 *                        from target over s - warmup_steps
 *   CosineDecayRestarts  SGDR: periods of first_decay_steps * t_mul^i steps, each starting
 *                        at m_mul^i times the rate, decaying as CosineDecay
 * Keras evaluates them in float32; ckeras in double (the optimizer then
 * rounds the rate to float32). All classes share one instance struct; each
 * reads and writes only its own keys. */
#include "../objects/objects_int.h"
#include <ckeras/schedule.h>

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

typedef struct schedule {
    kc_object base;
    char *name;                   /* config "name", NULL for null */
    double initial_learning_rate; /* all but PiecewiseConstantDecay */
    double decay_steps;           /* > 0; CosineDecayRestarts' first_decay_steps */
    double decay_rate;            /* Exponential / InverseTime */
    bool staircase;               /* Exponential / InverseTime */
    double end_learning_rate;     /* Polynomial */
    double power;                 /* Polynomial */
    bool cycle;                   /* Polynomial */
    double alpha;                 /* Cosine, CosineRestarts */
    bool has_warmup_target;       /* Cosine: warmup_target is not null */
    double warmup_target;         /* Cosine */
    double warmup_steps;          /* Cosine, >= 0 */
    double t_mul, m_mul;          /* CosineRestarts */
    double *boundaries;           /* Piecewise: n_boundaries, increasing */
    double *values;               /* Piecewise: n_boundaries + 1 */
    size_t n_boundaries;
} schedule;

extern const kc_class kc__exponential_decay_class, kc__inverse_time_decay_class,
    kc__piecewise_constant_decay_class, kc__polynomial_decay_class, kc__cosine_decay_class,
    kc__cosine_decay_restarts_class;

static kc_status check_schedule_class(const kc_class *cls, kc_error *err)
{
    const kc_schedule_methods *m = cls->methods;
    if (!m || !m->value)
        return kc__errf(err, KC_EINVAL, "schedule class '%s' needs methods with a value slot",
                        cls->name);
    return KC_OK;
}

const kc__kind_info kc__schedule_kind = {
    .name = "learning rate schedule",
    .base_size = sizeof(kc_object),
    .check_class = check_schedule_class,
    .function_class = &kc__function_classes[KC_KIND_SCHEDULE],
};

double kc_schedule_value(const kc_object *s, int64_t step)
{
    if (!s || kc_object_kind(s) != KC_KIND_SCHEDULE || kc_object_is_function(s)) return NAN;
    return ((const kc_schedule_methods *)s->cls->methods)->value(s, step);
}

/* ---- values -------------------------------------------------------------------------- */

static double exponential_value(const kc_object *self, int64_t step)
{
    const schedule *s = (const schedule *)self;
    double p = (double)step / s->decay_steps;
    if (s->staircase) p = floor(p);
    return s->initial_learning_rate * pow(s->decay_rate, p);
}

static double inverse_time_value(const kc_object *self, int64_t step)
{
    const schedule *s = (const schedule *)self;
    double p = (double)step / s->decay_steps;
    if (s->staircase) p = floor(p);
    return s->initial_learning_rate / (1.0 + s->decay_rate * p);
}

static double piecewise_value(const kc_object *self, int64_t step)
{
    const schedule *s = (const schedule *)self;
    for (size_t i = 0; i < s->n_boundaries; i++)
        if ((double)step <= s->boundaries[i]) return s->values[i];
    return s->values[s->n_boundaries];
}

static double polynomial_value(const kc_object *self, int64_t step)
{
    const schedule *s = (const schedule *)self;
    double x = (double)step, steps = s->decay_steps;
    if (s->cycle)
        steps *= step == 0 ? 1.0 : ceil(x / s->decay_steps);
    else
        x = fmin(x, steps);
    double p = x / steps;
    return (s->initial_learning_rate - s->end_learning_rate) * pow(1.0 - p, s->power) +
           s->end_learning_rate;
}

/* CosineDecay._decay_function */
static double cosine_decayed(const schedule *s, double x, double from)
{
    double c = 0.5 * (1.0 + cos(PI * x / s->decay_steps));
    return from * ((1.0 - s->alpha) * c + s->alpha);
}

static double cosine_value(const kc_object *self, int64_t step)
{
    const schedule *s = (const schedule *)self;
    double x = (double)step;
    if (!s->has_warmup_target)
        return cosine_decayed(s, fmin(x, s->decay_steps), s->initial_learning_rate);
    x = fmin(x, s->decay_steps + s->warmup_steps);
    if (x < s->warmup_steps) /* _warmup_function */
        return (s->warmup_target - s->initial_learning_rate) * (x / s->warmup_steps) +
               s->initial_learning_rate;
    return cosine_decayed(s, x - s->warmup_steps, s->warmup_target);
}

static double cosine_restarts_value(const kc_object *self, int64_t step)
{
    const schedule *s = (const schedule *)self;
    double f = (double)step / s->decay_steps, i_restart;
    if (s->t_mul == 1.0) {
        i_restart = floor(f);
        f -= i_restart;
    } else {
        i_restart = floor(log(1.0 - f * (1.0 - s->t_mul)) / log(s->t_mul));
        double sum_r = (1.0 - pow(s->t_mul, i_restart)) / (1.0 - s->t_mul);
        f = (f - sum_r) / pow(s->t_mul, i_restart);
    }
    double c = 0.5 * pow(s->m_mul, i_restart) * (1.0 + cos(PI * f));
    return s->initial_learning_rate * ((1.0 - s->alpha) * c + s->alpha);
}

/* ---- config -------------------------------------------------------------------------- */

/* Step counts are written as integers when they are whole numbers, as
 * Keras users give them. */
static json_t *steps_json(double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0) return json_integer((json_int_t)v);
    return kc__json_float(v);
}

static kc_status put(json_t *cfg, const char *key, json_t *v, kc_error *err)
{
    if (!v || json_object_set_new(cfg, key, v)) return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status put_name(const schedule *s, json_t *cfg, kc_error *err)
{
    return put(cfg, "name", s->name ? json_string(s->name) : json_null(), err);
}

static kc_status read_name(schedule *s, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    const char *name;
    kc_status rc = kc_cfg_string(ctx, cfg, "name", KC_CFG_NULLABLE, NULL, &name, err);
    if (rc != KC_OK || !name) return rc;
    char *copy = kc__strdup(name);
    if (!copy) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc__free(s->name);
    s->name = copy;
    return KC_OK;
}

static kc_status schedule_init(kc_object *self, kc_error *err)
{
    /* Keras has no defaults for the required keys; an unconfigured object
     * holds a constant 0.001, Keras optimizers' default rate. */
    schedule *s = (schedule *)self;
    s->initial_learning_rate = 0.001;
    s->decay_steps = 1;
    s->decay_rate = self->cls == &kc__exponential_decay_class ? 1.0 : 0.0;
    s->end_learning_rate = self->cls == &kc__polynomial_decay_class ? 0.001 : 0.0001;
    s->power = 1.0;
    s->t_mul = 2.0;
    s->m_mul = 1.0;
    if (self->cls == &kc__piecewise_constant_decay_class) {
        s->values = kc__malloc(sizeof(double));
        if (!s->values) return kc__errf(err, KC_ENOMEM, "out of memory");
        s->values[0] = 0.001;
    }
    return KC_OK;
}

static void schedule_fini(kc_object *self)
{
    schedule *s = (schedule *)self;
    kc__free(s->name);
    kc__free(s->boundaries);
    kc__free(s->values);
}

static kc_status read_required(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                               unsigned flags, double *out, kc_error *err)
{
    return kc_cfg_float(ctx, cfg, key, KC_CFG_REQUIRED | flags, *out, out, err);
}

/* initial_learning_rate and the step count, which every schedule but
 * PiecewiseConstantDecay starts its config with. */
static kc_status put_start(const schedule *s, json_t *cfg, const char *steps_key, kc_error *err)
{
    kc_status rc = kc_cfg_set_float(cfg, "initial_learning_rate", s->initial_learning_rate, err);
    if (rc == KC_OK) rc = put(cfg, steps_key, steps_json(s->decay_steps), err);
    return rc;
}

static kc_status read_start(schedule *s, const json_t *cfg, const kc_config_ctx *ctx,
                            const char *steps_key, kc_error *err)
{
    kc_status rc = read_required(ctx, cfg, "initial_learning_rate", 0, &s->initial_learning_rate, err);
    if (rc == KC_OK) rc = read_required(ctx, cfg, steps_key, KC_CFG_POSITIVE, &s->decay_steps, err);
    return rc;
}

/* ExponentialDecay and InverseTimeDecay */
static kc_status decay_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const schedule *s = (const schedule *)self;
    kc_status rc = put_start(s, cfg, "decay_steps", err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "decay_rate", s->decay_rate, err);
    if (rc == KC_OK) rc = put(cfg, "staircase", json_boolean(s->staircase), err);
    if (rc == KC_OK) rc = put_name(s, cfg, err);
    return rc;
}

static kc_status decay_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                   kc_error *err)
{
    schedule *s = (schedule *)self;
    kc_status rc = read_start(s, cfg, ctx, "decay_steps", err);
    if (rc == KC_OK) rc = read_required(ctx, cfg, "decay_rate", 0, &s->decay_rate, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "staircase", 0, false, &s->staircase, err);
    if (rc == KC_OK) rc = read_name(s, cfg, ctx, err);
    return rc;
}

static kc_status piecewise_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const schedule *s = (const schedule *)self;
    json_t *b = json_array(), *v = json_array();
    kc_status rc = (b && v) ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
    for (size_t i = 0; rc == KC_OK && i < s->n_boundaries; i++)
        if (json_array_append_new(b, steps_json(s->boundaries[i])))
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
    for (size_t i = 0; rc == KC_OK && i <= s->n_boundaries; i++)
        if (json_array_append_new(v, kc__json_float(s->values[i])))
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) {
        rc = put(cfg, "boundaries", b, err);
        b = NULL;
    }
    if (rc == KC_OK) {
        rc = put(cfg, "values", v, err);
        v = NULL;
    }
    json_decref(b);
    json_decref(v);
    if (rc == KC_OK) rc = put_name(s, cfg, err);
    return rc;
}

/* A required list of numbers: a new array of *n doubles in *out. */
static kc_status read_numbers(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                              double **out, size_t *n, kc_error *err)
{
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    const json_t *a = json_object_get(cfg, key);
    *out = NULL;
    *n = 0;
    if (!json_is_array(a)) {
        kc__errf(err, KC_EFORMAT, "%s: expected a list of numbers", c.path);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    *n = json_array_size(a);
    *out = kc__malloc_array(*n ? *n : 1, sizeof(double));
    if (!*out) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (size_t i = 0; i < *n; i++)
        if (!kc__json_to_double(json_array_get(a, i), &(*out)[i])) {
            kc_config_ctx ci = kc_config_ctx_child(&c, NULL, i);
            kc__free(*out);
            *out = NULL;
            kc__errf(err, KC_EFORMAT, "%s: expected a number", ci.path);
            kc__error_context(err, "%s", ci.path);
            return KC_EFORMAT;
        }
    return KC_OK;
}

static kc_status piecewise_from_config(kc_object *self, const json_t *cfg,
                                       const kc_config_ctx *ctx, kc_error *err)
{
    schedule *s = (schedule *)self;
    double *b = NULL, *v = NULL;
    size_t nb, nv;
    kc_status rc = read_numbers(ctx, cfg, "boundaries", &b, &nb, err);
    if (rc == KC_OK) rc = read_numbers(ctx, cfg, "values", &v, &nv, err);
    if (rc == KC_OK && nv != nb + 1) {
        rc = kc__errf(err, KC_EFORMAT,
                      "%s: the length of boundaries should be 1 less than the length of values, "
                      "got %zu boundaries and %zu values",
                      ctx->path, nb, nv);
        kc__error_context(err, "%s", ctx->path);
    }
    for (size_t i = 1; rc == KC_OK && i < nb; i++)
        if (!(b[i] > b[i - 1])) {
            rc = kc__errf(err, KC_EFORMAT, "%s.boundaries: must be strictly increasing (%g after %g)",
                          ctx->path, b[i], b[i - 1]);
            kc__error_context(err, "%s.boundaries", ctx->path);
        }
    if (rc == KC_OK) rc = read_name(s, cfg, ctx, err);
    if (rc != KC_OK) {
        kc__free(b);
        kc__free(v);
        return rc;
    }
    kc__free(s->boundaries);
    kc__free(s->values);
    s->boundaries = b;
    s->values = v;
    s->n_boundaries = nb;
    return KC_OK;
}

static kc_status polynomial_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const schedule *s = (const schedule *)self;
    kc_status rc = put_start(s, cfg, "decay_steps", err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "end_learning_rate", s->end_learning_rate, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "power", s->power, err);
    if (rc == KC_OK) rc = put(cfg, "cycle", json_boolean(s->cycle), err);
    if (rc == KC_OK) rc = put_name(s, cfg, err);
    return rc;
}

static kc_status polynomial_from_config(kc_object *self, const json_t *cfg,
                                        const kc_config_ctx *ctx, kc_error *err)
{
    schedule *s = (schedule *)self;
    s->end_learning_rate = 0.0001;
    kc_status rc = read_start(s, cfg, ctx, "decay_steps", err);
    if (rc == KC_OK)
        rc = kc_cfg_float(ctx, cfg, "end_learning_rate", 0, 0.0001, &s->end_learning_rate, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "power", 0, 1.0, &s->power, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "cycle", 0, false, &s->cycle, err);
    if (rc == KC_OK) rc = read_name(s, cfg, ctx, err);
    return rc;
}

static kc_status cosine_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const schedule *s = (const schedule *)self;
    kc_status rc = put_start(s, cfg, "decay_steps", err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "alpha", s->alpha, err);
    if (rc == KC_OK) rc = put_name(s, cfg, err);
    if (rc == KC_OK && s->has_warmup_target)
        rc = kc_cfg_set_float(cfg, "warmup_target", s->warmup_target, err);
    else if (rc == KC_OK)
        rc = put(cfg, "warmup_target", json_null(), err);
    if (rc == KC_OK) rc = put(cfg, "warmup_steps", steps_json(s->warmup_steps), err);
    return rc;
}

static kc_status cosine_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                    kc_error *err)
{
    schedule *s = (schedule *)self;
    kc_status rc = read_start(s, cfg, ctx, "decay_steps", err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "alpha", 0, 0.0, &s->alpha, err);
    if (rc == KC_OK) rc = read_name(s, cfg, ctx, err);
    const json_t *t = json_object_get(cfg, "warmup_target");
    s->has_warmup_target = t && !json_is_null(t);
    if (rc == KC_OK && s->has_warmup_target)
        rc = kc_cfg_float(ctx, cfg, "warmup_target", 0, 0.0, &s->warmup_target, err);
    if (rc == KC_OK)
        rc = kc_cfg_float(ctx, cfg, "warmup_steps", KC_CFG_NONNEG, 0.0, &s->warmup_steps, err);
    return rc;
}

static kc_status restarts_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const schedule *s = (const schedule *)self;
    kc_status rc = put_start(s, cfg, "first_decay_steps", err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "t_mul", s->t_mul, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "m_mul", s->m_mul, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "alpha", s->alpha, err);
    if (rc == KC_OK) rc = put_name(s, cfg, err);
    return rc;
}

static kc_status restarts_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                      kc_error *err)
{
    schedule *s = (schedule *)self;
    kc_status rc = read_start(s, cfg, ctx, "first_decay_steps", err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "t_mul", KC_CFG_POSITIVE, 2.0, &s->t_mul, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "m_mul", 0, 1.0, &s->m_mul, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "alpha", 0, 0.0, &s->alpha, err);
    if (rc == KC_OK) rc = read_name(s, cfg, ctx, err);
    return rc;
}

/* ---- classes ------------------------------------------------------------------------- */

#define SCHEDULE_CLASS(var, kname, value_fn, get, from)                                            \
    static const kc_schedule_methods var##_methods = {value_fn};                                   \
    const kc_class var = {.abi = KC_CLASS_ABI, .kind = KC_KIND_SCHEDULE, .name = kname,            \
                          .size = sizeof(schedule), .config_version = 1, .init = schedule_init,    \
                          .fini = schedule_fini, .get_config = get, .from_config = from,           \
                          .methods = &var##_methods};
SCHEDULE_CLASS(kc__exponential_decay_class, "ExponentialDecay", exponential_value,
               decay_get_config, decay_from_config)
SCHEDULE_CLASS(kc__inverse_time_decay_class, "InverseTimeDecay", inverse_time_value,
               decay_get_config, decay_from_config)
SCHEDULE_CLASS(kc__piecewise_constant_decay_class, "PiecewiseConstantDecay", piecewise_value,
               piecewise_get_config, piecewise_from_config)
SCHEDULE_CLASS(kc__polynomial_decay_class, "PolynomialDecay", polynomial_value,
               polynomial_get_config, polynomial_from_config)
SCHEDULE_CLASS(kc__cosine_decay_class, "CosineDecay", cosine_value, cosine_get_config,
               cosine_from_config)
SCHEDULE_CLASS(kc__cosine_decay_restarts_class, "CosineDecayRestarts", cosine_restarts_value,
               restarts_get_config, restarts_from_config)
#undef SCHEDULE_CLASS

static const kc_class *const classes[] = {
    &kc__exponential_decay_class, &kc__inverse_time_decay_class,
    &kc__piecewise_constant_decay_class, &kc__polynomial_decay_class,
    &kc__cosine_decay_class, &kc__cosine_decay_restarts_class,
};

const kc__builtins kc__schedule_builtins = {
    .classes = classes,
    .n_classes = sizeof(classes) / sizeof(classes[0]),
};
