/* Regularizers: L1, L2 and L1L2, penalties built from ops so that a tape
 * differentiates them with the loss they are added to.
 *
 * As in Keras, a zero factor adds no term: L1L2(0, 0) gives a constant 0
 * with no gradient. All three share one instance struct; which keys a class
 * reads and writes depends on its name (L1: l1, L2: l2, L1L2: both). */
#include "../objects/objects_int.h"
#include <ckeras/config.h>
#include <ckeras/ops.h>
#include <ckeras/regularizer.h>

typedef struct l1l2 {
    kc_object base;
    double l1, l2;
} l1l2;

extern const kc_class kc__l1_class, kc__l2_class, kc__l1l2_class;

static kc_status check_regularizer_class(const kc_class *cls, kc_error *err)
{
    const kc_regularizer_methods *m = cls->methods;
    if (!m || !m->penalty)
        return kc__errf(err, KC_EINVAL, "regularizer class '%s' needs methods with a penalty slot",
                        cls->name);
    return KC_OK;
}

const kc__kind_info kc__regularizer_kind = {
    .name = "regularizer",
    .base_size = sizeof(kc_object),
    .check_class = check_regularizer_class,
    .function_class = &kc__function_classes[KC_KIND_REGULARIZER],
};

kc_tensor *kc_regularizer_penalty(kc_object *reg, kc_tensor *w, kc_error *err)
{
    if (!reg || !w) {
        kc__errf(err, KC_EINVAL, "kc_regularizer_penalty: NULL argument");
        return NULL;
    }
    if (kc_object_kind(reg) != KC_KIND_REGULARIZER) {
        kc__errf(err, KC_ETYPE, "'%s' is a %s, not a regularizer", kc_object_name(reg),
                 kc_kind_name(kc_object_kind(reg)));
        return NULL;
    }
    kc_tensor *p;
    if (kc_object_is_function(reg)) {
        const kc__function *f = (const kc__function *)reg;
        p = ((kc_regularizer_fn)f->fn)(w, f->params, err);
    } else {
        p = ((const kc_regularizer_methods *)reg->cls->methods)->penalty(reg, w, err);
    }
    if (p && kc_tensor_size(p) != 1) {
        kc_tensor_unref(p);
        kc__errf(err, KC_ESHAPE, "regularizer '%s' must return a scalar", kc_object_name(reg));
        return NULL;
    }
    if (!p && err && err->code == KC_OK)
        kc__errf(err, KC_EINTERNAL, "regularizer '%s' failed without saying why", kc_object_name(reg));
    if (!p) kc__error_context(err, "regularizer '%s'", kc_object_name(reg));
    return p;
}

static kc_tensor *l1l2_penalty(kc_object *self, kc_tensor *w, kc_error *err)
{
    const l1l2 *r = (const l1l2 *)self;
    kc_tensor *total = NULL;
    if (r->l1 != 0.0) {
        kc_tensor *a = kc_abs(w, err);
        kc_tensor *s = kc_reduce_sum(a, NULL, 0, false, err);
        total = kc_mul_scalar(s, (float)r->l1, err);
        kc_tensor_unref(a);
        kc_tensor_unref(s);
        if (!total) return NULL;
    }
    if (r->l2 != 0.0) {
        kc_tensor *q = kc_square(w, err);
        kc_tensor *s = kc_reduce_sum(q, NULL, 0, false, err);
        kc_tensor *t = kc_mul_scalar(s, (float)r->l2, err);
        kc_tensor_unref(q);
        kc_tensor_unref(s);
        if (!t) {
            kc_tensor_unref(total);
            return NULL;
        }
        if (total) {
            kc_tensor *sum = kc_add(total, t, err);
            kc_tensor_unref(total);
            kc_tensor_unref(t);
            return sum;
        }
        return t;
    }
    return total ? total : kc_tensor_scalar(0.0f, err);
}

static bool has_l1(const kc_class *c) { return c != &kc__l2_class; }
static bool has_l2(const kc_class *c) { return c != &kc__l1_class; }

static kc_status l1l2_defaults(kc_object *self, kc_error *err)
{
    (void)err;
    l1l2 *r = (l1l2 *)self;
    /* Keras: L1(l1=0.01), L2(l2=0.01), L1L2(l1=0.0, l2=0.0) */
    r->l1 = self->cls == &kc__l1_class ? 0.01 : 0.0;
    r->l2 = self->cls == &kc__l2_class ? 0.01 : 0.0;
    return KC_OK;
}

static kc_status l1l2_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const l1l2 *r = (const l1l2 *)self;
    kc_status rc = KC_OK;
    if (has_l1(self->cls)) rc = kc_cfg_set_float(cfg, "l1", r->l1, err);
    if (rc == KC_OK && has_l2(self->cls)) rc = kc_cfg_set_float(cfg, "l2", r->l2, err);
    return rc;
}

static kc_status l1l2_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    l1l2 *r = (l1l2 *)self;
    kc_status rc = KC_OK;
    if (has_l1(self->cls)) rc = kc_cfg_float(ctx, cfg, "l1", KC_CFG_NONNEG, r->l1, &r->l1, err);
    if (rc == KC_OK && has_l2(self->cls))
        rc = kc_cfg_float(ctx, cfg, "l2", KC_CFG_NONNEG, r->l2, &r->l2, err);
    return rc;
}

static const kc_regularizer_methods l1l2_methods = {l1l2_penalty};
#define REG_CLASS(var, kname)                                                                      \
    const kc_class var = {.abi = KC_CLASS_ABI, .kind = KC_KIND_REGULARIZER, .name = kname,         \
                          .size = sizeof(l1l2), .config_version = 1, .init = l1l2_defaults,        \
                          .get_config = l1l2_get_config, .from_config = l1l2_from_config,          \
                          .methods = &l1l2_methods};
REG_CLASS(kc__l1_class, "L1")
REG_CLASS(kc__l2_class, "L2")
REG_CLASS(kc__l1l2_class, "L1L2")
#undef REG_CLASS

static kc_object *make(const kc_class *cls, double l1, double l2, kc_error *err)
{
    if (!(l1 >= 0) || !(l2 >= 0)) {
        kc__errf(err, KC_EINVAL, "regularization factors must be >= 0, got l1=%g l2=%g", l1, l2);
        return NULL;
    }
    kc_object *o = kc_object_new(cls, err);
    if (o) {
        ((l1l2 *)o)->l1 = l1;
        ((l1l2 *)o)->l2 = l2;
    }
    return o;
}

kc_object *kc_regularizer_l1l2(double l1, double l2, kc_error *err) { return make(&kc__l1l2_class, l1, l2, err); }
kc_object *kc_regularizer_l1(double l1, kc_error *err) { return make(&kc__l1_class, l1, 0.0, err); }
kc_object *kc_regularizer_l2(double l2, kc_error *err) { return make(&kc__l2_class, 0.0, l2, err); }

static const kc_class *const classes[] = {&kc__l1_class, &kc__l2_class, &kc__l1l2_class};
static const kc__builtin_alias aliases[] = {
    {KC_KIND_REGULARIZER, "l1", "L1"},
    {KC_KIND_REGULARIZER, "l2", "L2"},
    {KC_KIND_REGULARIZER, "l1_l2", "L1L2"},
    {KC_KIND_REGULARIZER, "L1L2Regularizer", "L1L2"},
};

const kc__builtins kc__regularizer_builtins = {
    .classes = classes,
    .n_classes = sizeof(classes) / sizeof(classes[0]),
    .aliases = aliases,
    .n_aliases = sizeof(aliases) / sizeof(aliases[0]),
};
