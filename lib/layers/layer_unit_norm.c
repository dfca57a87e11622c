/* UnitNormalization(axis=-1): each sample scaled to unit L2 norm over
 * `axis` (an integer or a list), tf.math.l2_normalize's
 *   y = x / sqrt(max(sum(x^2), 1e-12)).
 * tf.keras writes `axis` back as a list of non-negative axes once built.
 * No weights; masks pass through. */
#include "layer_util.h"

typedef struct unit_norm {
    kc_layer base;
    int64_t axes[KC_MAX_DIMS];
    int n_axes;
    bool scalar;  /* configured as one integer and not built yet */
    int rank;     /* input rank once built */
} unit_norm;

static kc_status un_init(kc_object *self, kc_error *err)
{
    (void)err;
    unit_norm *u = (unit_norm *)self;
    u->base.supports_masking = true;
    u->axes[0] = -1;
    u->n_axes = 1;
    u->scalar = true;
    return KC_OK;
}

static kc_status un_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    unit_norm *u = (unit_norm *)self;
    int64_t axes[KC_MAX_DIMS];
    int n = 0;
    bool present = false, scalar = false;
    kc_status rc = kc__cfg_int_list(ctx, cfg, "axis", false, true, KC_MAX_DIMS, axes, &n, &present, &scalar, err);
    if (rc == KC_OK && present) {
        if (n == 0) return kc__errf(err, KC_EFORMAT, "%s.axis: expected at least one axis", ctx->path);
        for (int i = 0; i < n; i++) u->axes[i] = axes[i];
        u->n_axes = n;
        u->scalar = scalar;
    }
    return rc;
}

static kc_status un_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const unit_norm *u = (const unit_norm *)self;
    return kc__cfg_set_int_list(cfg, "axis", u->axes, u->n_axes, u->scalar, err);
}

/* The axes for an input of rank r as a mask; false when one is out of range
 * or repeated. */
static bool resolve(const unit_norm *u, int r, int *axes)
{
    bool seen[KC_MAX_DIMS] = {false};
    for (int i = 0; i < u->n_axes; i++) {
        int64_t a = u->axes[i] < 0 ? u->axes[i] + r : u->axes[i];
        if (a < 0 || a >= r || seen[a]) return false;
        seen[a] = true;
        axes[i] = (int)a;
    }
    return true;
}

static kc_status un_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                 kc_error *err)
{
    const unit_norm *u = (const unit_norm *)self;
    int axes[KC_MAX_DIMS];
    if (!resolve(u, in[0].ndim, axes) || (u->rank && u->rank != in[0].ndim))
        return kc__errf(err, KC_ESHAPE, "UnitNormalization: axis does not fit inputs of rank %d", in[0].ndim);
    return kc__same_shape(self, in, n_in, out, n_out, err);
}

static kc_status un_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in, (void)err;
    unit_norm *u = (unit_norm *)self;
    int axes[KC_MAX_DIMS];
    resolve(u, in[0].ndim, axes);
    for (int i = 0; i < u->n_axes; i++) u->axes[i] = axes[i];
    u->scalar = false; /* tf_utils.validate_axis gives a list */
    u->rank = in[0].ndim;
    return KC_OK;
}

static kc_status un_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    (void)n_out;
    unit_norm *u = (unit_norm *)self;
    kc_tensor *x = a->inputs[0];
    int axes[KC_MAX_DIMS];
    resolve(u, kc_tensor_ndim(x), axes);
    kc_scope *s = kc_scope_new(err);
    kc_tensor *ss = kc_scope_take(s, kc_reduce_sum(kc_scope_take(s, kc_square(x, err)), axes, u->n_axes, true, err));
    kc_tensor *inv = kc_scope_take(s, kc_rsqrt(kc_scope_take(s, kc_maximum_scalar(ss, 1e-12f, err)), err));
    out[0] = kc_mul(x, inv, err);
    kc_scope_free(s);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods un_methods = {
    .build = un_build,
    .call = un_call,
    .compute_output_shape = un_output_shape,
};

KC__LAYER_CLASS(kc__unit_normalization_class, "UnitNormalization", unit_norm, un_init, NULL, un_get_config, un_from_config,
                &un_methods);
