/* Constraints: projections applied to a weight after each update (NonNeg,
 * MaxNorm, MinMaxNorm, UnitNorm, RadialConstraint), with Keras' numerics:
 * norms are sqrt(sum(w^2)) over `axis` (an int or a list), and the division
 * adds Keras' epsilon 1e-7. Projections are computed with raw loops on a
 * copy; they are never recorded on a tape (Keras assigns them outside the
 * gradient computation too). */
#include "../autodiff/variable_int.h"
#include "../objects/objects_int.h"
#include <ckeras/config.h>
#include <ckeras/constraint.h>
#include <ckeras/ops.h>

#include <math.h>
#include <string.h>

#define EPSILON 1e-7f

typedef struct norm_constraint {
    kc_object base;
    double min_value, max_value, rate;
    int64_t axes[KC_MAX_DIMS];
    int n_axes;
    bool axis_list; /* axis was given as a list: write it back as one */
} norm_constraint;

extern const kc_class kc__non_neg_class, kc__max_norm_class, kc__min_max_norm_class,
    kc__unit_norm_class, kc__radial_class;

static kc_status check_constraint_class(const kc_class *cls, kc_error *err)
{
    const kc_constraint_methods *m = cls->methods;
    if (!m || !m->apply)
        return kc__errf(err, KC_EINVAL, "constraint class '%s' needs methods with an apply slot",
                        cls->name);
    return KC_OK;
}

const kc__kind_info kc__constraint_kind = {
    .name = "constraint",
    .base_size = sizeof(kc_object),
    .check_class = check_constraint_class,
    .function_class = &kc__function_classes[KC_KIND_CONSTRAINT],
};

kc_tensor *kc_constraint_apply(kc_object *c, kc_tensor *w, kc_error *err)
{
    if (!c || !w) {
        kc__errf(err, KC_EINVAL, "kc_constraint_apply: NULL argument");
        return NULL;
    }
    if (kc_object_kind(c) != KC_KIND_CONSTRAINT) {
        kc__errf(err, KC_ETYPE, "'%s' is a %s, not a constraint", kc_object_name(c),
                 kc_kind_name(kc_object_kind(c)));
        return NULL;
    }
    kc_tensor *out;
    if (kc_object_is_function(c)) {
        const kc__function *f = (const kc__function *)c;
        out = ((kc_constraint_fn)f->fn)(w, f->params, err);
    } else {
        out = ((const kc_constraint_methods *)c->cls->methods)->apply(c, w, err);
    }
    if (out && !kc_tensor_same_shape(out, w)) {
        kc_tensor_unref(out);
        kc__errf(err, KC_ESHAPE, "constraint '%s' changed the weight's shape", kc_object_name(c));
        return NULL;
    }
    if (!out && err && err->code == KC_OK)
        kc__errf(err, KC_EINTERNAL, "constraint '%s' failed without saying why", kc_object_name(c));
    if (!out) kc__error_context(err, "constraint '%s'", kc_object_name(c));
    return out;
}

/* ---- variables ---------------------------------------------------------------- */

static void unref_object(void *o) { kc_object_unref(o); }

void kc_variable_set_constraint(kc_variable *v, kc_object *constraint)
{
    if (!v) return;
    kc_object_ref(constraint);
    if (v->constraint && v->constraint_unref) v->constraint_unref(v->constraint);
    v->constraint = constraint;
    v->constraint_unref = constraint ? unref_object : NULL;
}

kc_object *kc_variable_constraint(const kc_variable *v) { return v ? v->constraint : NULL; }

kc_status kc_variable_apply_constraint(kc_variable *v, kc_error *err)
{
    if (!v || !v->constraint) return KC_OK;
    kc_tensor *p = kc_constraint_apply(v->constraint, v->value, err);
    if (!p) {
        kc__error_context(err, "variable '%s'", v->name);
        return kc__error_code(err, KC_ENOMEM);
    }
    kc_status rc = kc_tensor_assign(v->value, p, err);
    kc_tensor_unref(p);
    return rc;
}

/* ---- NonNeg ----------------------------------------------------------------------- */

static kc_tensor *non_neg_apply(kc_object *self, kc_tensor *w, kc_error *err)
{
    (void)self;
    kc_tensor *out = kc_tensor_copy(w, err);
    if (!out) return NULL;
    float *p = kc_tensor_f32(out);
    if (!p) {
        kc_tensor_unref(out);
        kc__errf(err, KC_ETYPE, "NonNeg needs a float32 weight");
        return NULL;
    }
    for (int64_t i = 0; i < kc_tensor_size(out); i++) p[i] = p[i] >= 0.0f ? p[i] : 0.0f;
    return out;
}

/* ---- norm constraints ------------------------------------------------------------- */

/* w scaled by desired(norm) / (eps + norm) along the constraint's axes. */
static kc_tensor *norm_apply(kc_object *self, kc_tensor *w, kc_error *err)
{
    const norm_constraint *c = (const norm_constraint *)self;
    if (kc_tensor_dtype(w) != KC_FLOAT32) {
        kc__errf(err, KC_ETYPE, "%s needs a float32 weight", self->cls->name);
        return NULL;
    }
    int axes[KC_MAX_DIMS];
    for (int i = 0; i < c->n_axes; i++) {
        int64_t a = c->axes[i];
        if (a < -kc_tensor_ndim(w) || a >= kc_tensor_ndim(w)) {
            kc__errf(err, KC_EINVAL, "%s: axis %lld is out of range for a weight of rank %d",
                     self->cls->name, (long long)a, kc_tensor_ndim(w));
            return NULL;
        }
        axes[i] = (int)a;
    }
    kc_tensor *sq = kc_square(w, err);
    kc_tensor *ss = kc_reduce_sum(sq, axes, c->n_axes, true, err);
    kc_tensor *norms = kc_sqrt(ss, err);
    kc_tensor_unref(sq);
    kc_tensor_unref(ss);
    if (!norms) return NULL;
    float *n = kc_tensor_f32(norms);
    for (int64_t i = 0; i < kc_tensor_size(norms); i++) {
        float norm = n[i], desired;
        if (self->cls == &kc__unit_norm_class) {
            desired = 1.0f;
        } else if (self->cls == &kc__max_norm_class) {
            desired = fminf(fmaxf(norm, 0.0f), (float)c->max_value);
        } else {
            float r = (float)c->rate;
            desired = r * fminf(fmaxf(norm, (float)c->min_value), (float)c->max_value) + (1.0f - r) * norm;
        }
        n[i] = desired / (EPSILON + norm); /* the factor to scale by */
    }
    kc_tensor *out = kc_mul(w, norms, err);
    kc_tensor_unref(norms);
    return out;
}

static kc_status norm_defaults(kc_object *self, kc_error *err)
{
    (void)err;
    norm_constraint *c = (norm_constraint *)self;
    c->min_value = 0.0;
    c->max_value = self->cls == &kc__max_norm_class ? 2.0 : 1.0;
    c->rate = 1.0;
    c->n_axes = 1;
    c->axes[0] = 0;
    return KC_OK;
}

static kc_status write_axis(const norm_constraint *c, json_t *cfg, kc_error *err)
{
    json_t *v;
    if (c->axis_list) {
        v = json_array();
        for (int i = 0; v && i < c->n_axes; i++)
            if (json_array_append_new(v, json_integer(c->axes[i]))) {
                json_decref(v);
                v = NULL;
            }
    } else {
        v = json_integer(c->axes[0]);
    }
    if (!v || json_object_set_new(cfg, "axis", v)) return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status read_axis(norm_constraint *c, const json_t *cfg, const kc_config_ctx *ctx,
                           kc_error *err)
{
    const json_t *v = json_object_get(cfg, "axis");
    if (!v || json_is_null(v)) return KC_OK;
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        if (n < 1 || n > KC_MAX_DIMS)
            return kc__errf(err, KC_EFORMAT, "%s.axis: expected 1 to %d axes, got %zu", ctx->path,
                            KC_MAX_DIMS, n);
        for (size_t i = 0; i < n; i++) {
            const json_t *a = json_array_get(v, i);
            if (!json_is_integer(a))
                return kc__errf(err, KC_EFORMAT, "%s.axis[%zu]: expected an integer", ctx->path, i);
            c->axes[i] = json_integer_value(a);
        }
        c->n_axes = (int)n;
        c->axis_list = true;
        return KC_OK;
    }
    c->axis_list = false;
    c->n_axes = 1;
    return kc_cfg_int(ctx, cfg, "axis", 0, 0, &c->axes[0], err);
}

static kc_status norm_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const norm_constraint *c = (const norm_constraint *)self;
    kc_status rc = KC_OK;
    if (self->cls == &kc__min_max_norm_class) {
        rc = kc_cfg_set_float(cfg, "min_value", c->min_value, err);
        if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "max_value", c->max_value, err);
        if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "rate", c->rate, err);
    } else if (self->cls == &kc__max_norm_class) {
        rc = kc_cfg_set_float(cfg, "max_value", c->max_value, err);
    }
    if (rc == KC_OK) rc = write_axis(c, cfg, err);
    return rc;
}

static kc_status norm_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    norm_constraint *c = (norm_constraint *)self;
    kc_status rc = KC_OK;
    if (self->cls == &kc__min_max_norm_class) {
        rc = kc_cfg_float(ctx, cfg, "min_value", KC_CFG_NONNEG, 0.0, &c->min_value, err);
        if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "max_value", KC_CFG_NONNEG, 1.0, &c->max_value, err);
        if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "rate", KC_CFG_NONNEG, 1.0, &c->rate, err);
        if (rc == KC_OK && c->min_value > c->max_value)
            rc = kc__errf(err, KC_EFORMAT, "%s: min_value %g is above max_value %g", ctx->path,
                          c->min_value, c->max_value);
    } else if (self->cls == &kc__max_norm_class) {
        rc = kc_cfg_float(ctx, cfg, "max_value", KC_CFG_NONNEG, 2.0, &c->max_value, err);
    }
    if (rc == KC_OK) rc = read_axis(c, cfg, ctx, err);
    return rc;
}

/* ---- RadialConstraint -------------------------------------------------------------
 * Keras' _kernel_constraint, per (input, output) channel pair of a square
 * k x k kernel, exactly as its code computes it: start with the value at
 * (s-1, s-1), s = k / 2, as a 1x1 (odd k) or 2x2 (even k) core; then pad one
 * ring at a time (ring i takes the value at (s+i, s+i)) until the kernel is
 * k x k again. */
static kc_tensor *radial_apply(kc_object *self, kc_tensor *w, kc_error *err)
{
    (void)self;
    if (kc_tensor_dtype(w) != KC_FLOAT32 || kc_tensor_ndim(w) != 4 ||
        kc_tensor_dim(w, 0) != kc_tensor_dim(w, 1)) {
        char buf[128];
        kc_shape s = kc_tensor_shape(w);
        kc__errf(err, KC_ESHAPE,
                 "RadialConstraint needs a float32 kernel (rows, cols, in, out) with rows == cols, "
                 "got %s",
                 kc_shape_format(&s, buf, sizeof(buf)));
        return NULL;
    }
    kc_tensor *out = kc_tensor_copy(w, err);
    if (!out) return NULL;
    int64_t k = kc_tensor_dim(w, 0), ch = kc_tensor_dim(w, 2) * kc_tensor_dim(w, 3);
    int64_t s = k / 2;
    const float *src = kc_tensor_f32(w);
    float *dst = kc_tensor_f32(out);
    if (k == 0 || s == 0) return out; /* 1x1 kernels: Keras' loop does nothing */
    for (int64_t c = 0; c < ch; c++) {
#define AT(p, r, q) (p)[((r) * k + (q)) * ch + c]
        /* core: rows/cols [s-1, s] for even k, [s, s] for odd k */
        int64_t lo = (k % 2) ? s : s - 1, hi = s;
        float core = AT(src, s - 1, s - 1);
        for (int64_t r = lo; r <= hi; r++)
            for (int64_t q = lo; q <= hi; q++) AT(dst, r, q) = core;
        for (int64_t i = (k % 2) ? 0 : 1; i < s; i++) {
            float ring = AT(src, s + i, s + i);
            lo--, hi++;
            for (int64_t t = lo; t <= hi; t++) {
                AT(dst, lo, t) = ring;
                AT(dst, hi, t) = ring;
                AT(dst, t, lo) = ring;
                AT(dst, t, hi) = ring;
            }
        }
#undef AT
    }
    return out;
}

static const kc_constraint_methods non_neg_methods = {non_neg_apply};
static const kc_constraint_methods norm_methods = {norm_apply};
static const kc_constraint_methods radial_methods = {radial_apply};

const kc_class kc__non_neg_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_CONSTRAINT,
                                    .name = "NonNeg", .size = sizeof(kc_object),
                                    .config_version = 1, .methods = &non_neg_methods};
const kc_class kc__radial_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_CONSTRAINT,
                                   .name = "RadialConstraint", .size = sizeof(kc_object),
                                   .config_version = 1, .methods = &radial_methods};
#define NORM_CLASS(var, kname)                                                                     \
    const kc_class var = {.abi = KC_CLASS_ABI, .kind = KC_KIND_CONSTRAINT, .name = kname,          \
                          .size = sizeof(norm_constraint), .config_version = 1,                    \
                          .init = norm_defaults, .get_config = norm_get_config,                    \
                          .from_config = norm_from_config, .methods = &norm_methods};
NORM_CLASS(kc__max_norm_class, "MaxNorm")
NORM_CLASS(kc__min_max_norm_class, "MinMaxNorm")
NORM_CLASS(kc__unit_norm_class, "UnitNorm")
#undef NORM_CLASS

static const kc_class *const classes[] = {&kc__non_neg_class, &kc__max_norm_class,
                                          &kc__min_max_norm_class, &kc__unit_norm_class,
                                          &kc__radial_class};
#define A(alias, target) {KC_KIND_CONSTRAINT, alias, target}
static const kc__builtin_alias aliases[] = {
    A("non_neg", "NonNeg"),         A("nonneg", "NonNeg"),
    A("max_norm", "MaxNorm"),       A("maxnorm", "MaxNorm"),
    A("min_max_norm", "MinMaxNorm"), A("unit_norm", "UnitNorm"),
    A("unitnorm", "UnitNorm"),      A("radial_constraint", "RadialConstraint"),
    A("nonNeg", "NonNeg"),          A("maxNorm", "MaxNorm"),
    A("minMaxNorm", "MinMaxNorm"),  A("unitNorm", "UnitNorm"),
};
#undef A

const kc__builtins kc__constraint_builtins = {
    .classes = classes,
    .n_classes = sizeof(classes) / sizeof(classes[0]),
    .aliases = aliases,
    .n_aliases = sizeof(aliases) / sizeof(aliases[0]),
};
