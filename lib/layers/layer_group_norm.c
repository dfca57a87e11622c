/* GroupNormalization (keras.layers.GroupNormalization): the `axis`
 * channels split into `groups` groups; each sample is normalized per group
 * over the group's channels and every other non-batch axis, then scaled
 * and shifted per channel:
 *   y = (x - mean_g) / sqrt(var_g + epsilon) * gamma + beta
 * with the biased variance (tf.nn.moments). Weights: gamma then beta, of
 * shape (channels,), as scale / center ask.
 *
 * Config keys: groups (default 32; -1 means one group per channel and is
 * written back resolved, as Keras does after build), axis (default -1),
 * epsilon (1e-3), center, scale, beta_/gamma_initializer, _regularizer,
 * _constraint. Masks pass through unused, as in Keras. */
#include "layer_util.h"

typedef struct group_norm {
    kc_layer base;
    int64_t groups, axis;
    double epsilon;
    bool center, scale;
    kc_object *beta_init, *gamma_init, *beta_reg, *gamma_reg, *beta_con, *gamma_con;
    kc_variable *gamma, *beta; /* borrowed */
} group_norm;

static kc_status gn_init(kc_object *self, kc_error *err)
{
    (void)err;
    group_norm *g = (group_norm *)self;
    g->base.supports_masking = true;
    g->groups = 32;
    g->axis = -1;
    g->epsilon = 1e-3;
    g->center = g->scale = true;
    return KC_OK;
}

static void gn_fini(kc_object *self)
{
    group_norm *g = (group_norm *)self;
    kc_object *objs[] = {g->beta_init, g->gamma_init, g->beta_reg, g->gamma_reg, g->beta_con, g->gamma_con};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) kc_object_unref(objs[i]);
}

static kc_status gn_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    group_norm *g = (group_norm *)self;
    kc_status rc = kc_cfg_int(ctx, cfg, "groups", KC_CFG_NULLABLE, 32, &g->groups, err);
    if (rc == KC_OK && g->groups < 1 && g->groups != -1)
        rc = kc__errf(err, KC_EFORMAT, "%s.groups: expected a positive number of groups or -1, got %lld", ctx->path,
                      (long long)g->groups);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "axis", KC_CFG_NULLABLE, -1, &g->axis, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "epsilon", KC_CFG_NULLABLE | KC_CFG_POSITIVE, 1e-3, &g->epsilon, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "center", KC_CFG_NULLABLE, true, &g->center, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "scale", KC_CFG_NULLABLE, true, &g->scale, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "beta_initializer", KC_KIND_INITIALIZER, "zeros", &g->beta_init, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "gamma_initializer", KC_KIND_INITIALIZER, "ones", &g->gamma_init, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "beta_regularizer", KC_KIND_REGULARIZER, NULL, &g->beta_reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "gamma_regularizer", KC_KIND_REGULARIZER, NULL, &g->gamma_reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "beta_constraint", KC_KIND_CONSTRAINT, NULL, &g->beta_con, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "gamma_constraint", KC_KIND_CONSTRAINT, NULL, &g->gamma_con, err);
    return rc;
}

static kc_status gn_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const group_norm *g = (const group_norm *)self;
    if (json_object_set_new(cfg, "groups", json_integer(g->groups)) ||
        json_object_set_new(cfg, "axis", json_integer(g->axis)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = kc_cfg_set_float(cfg, "epsilon", g->epsilon, err);
    if (rc == KC_OK && (json_object_set_new(cfg, "center", json_boolean(g->center)) ||
                        json_object_set_new(cfg, "scale", json_boolean(g->scale))))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "beta_initializer", g->beta_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "gamma_initializer", g->gamma_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "beta_regularizer", g->beta_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "gamma_regularizer", g->gamma_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "beta_constraint", g->beta_con, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "gamma_constraint", g->gamma_con, err);
    return rc;
}

/* The channel axis of an input of rank r (-1 when out of range). */
static int channel_axis(const group_norm *g, int r)
{
    int64_t a = g->axis < 0 ? g->axis + r : g->axis;
    return a >= 1 && a < r ? (int)a : -1;
}

static kc_status gn_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                 kc_error *err)
{
    const group_norm *g = (const group_norm *)self;
    int a = channel_axis(g, in[0].ndim);
    if (a < 0)
        return kc__errf(err, KC_ESHAPE, "GroupNormalization: axis %lld is not a non-batch axis of inputs of rank %d",
                        (long long)g->axis, in[0].ndim);
    int64_t c = in[0].dims[a], groups = g->groups == -1 ? c : g->groups;
    if (c < 0) return kc__errf(err, KC_ESHAPE, "GroupNormalization: axis %d of the input must be known", a);
    if (c < groups)
        return kc__errf(err, KC_ESHAPE, "Number of groups (%lld) cannot be more than the number of channels (%lld)",
                        (long long)groups, (long long)c);
    if (c % groups)
        return kc__errf(err, KC_ESHAPE, "Number of groups (%lld) must be a multiple of the number of channels (%lld)",
                        (long long)groups, (long long)c);
    if (g->gamma || g->beta) {
        int64_t have = kc_tensor_size(kc_variable_value(g->gamma ? g->gamma : g->beta));
        if (have != c)
            return kc__errf(err, KC_ESHAPE, "GroupNormalization was built for %lld channels, got %lld", (long long)have,
                            (long long)c);
    }
    return kc__same_shape(self, in, n_in, out, n_out, err);
}

static kc_status gn_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    group_norm *g = (group_norm *)self;
    int64_t c = in[0].dims[channel_axis(g, in[0].ndim)];
    if (g->groups == -1) g->groups = c;
    if (g->scale && !(g->gamma = kc_layer_add_weight(self, "gamma", 1, &c, g->gamma_init, g->gamma_reg, g->gamma_con, true, err)))
        return kc__error_code(err, KC_ENOMEM);
    if (g->center && !(g->beta = kc_layer_add_weight(self, "beta", 1, &c, g->beta_init, g->beta_reg, g->beta_con, true, err)))
        return kc__error_code(err, KC_ENOMEM);
    return KC_OK;
}

static kc_status gn_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    (void)n_out;
    group_norm *g = (group_norm *)self;
    kc_tensor *x = a->inputs[0];
    int r = kc_tensor_ndim(x), ax = channel_axis(g, r);
    int64_t gd[KC_MAX_DIMS + 1], pd[KC_MAX_DIMS];
    int red[KC_MAX_DIMS], n_red = 0;
    /* [..., groups, channels / groups, ...] with the statistics over all
     * but the batch and group axes */
    for (int i = 0, k = 0; i < r; i++) {
        if (i == ax) {
            gd[k++] = g->groups;
            gd[k++] = kc_tensor_dim(x, i) / g->groups;
        } else {
            gd[k++] = kc_tensor_dim(x, i);
        }
    }
    for (int i = 1; i <= r; i++)
        if (i != ax) red[n_red++] = i;
    for (int i = 0; i < r; i++) pd[i] = i == ax ? kc_tensor_dim(x, i) : 1;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *xg = kc_scope_take(s, kc_reshape(x, r + 1, gd, err));
    kc_tensor *mean = kc_scope_take(s, kc_reduce_mean(xg, red, n_red, true, err));
    kc_tensor *d = kc_scope_take(s, kc_sub(xg, mean, err));
    kc_tensor *var = kc_scope_take(s, kc_reduce_mean(kc_scope_take(s, kc_square(d, err)), red, n_red, true, err));
    kc_tensor *inv = kc_scope_take(s, kc_rsqrt(kc_scope_take(s, kc_add_scalar(var, (float)g->epsilon, err)), err));
    kc_tensor *y = kc_scope_take(s, kc_reshape(kc_scope_take(s, kc_mul(d, inv, err)), r, kc_tensor_dims(x), err));
    if (g->gamma) y = kc_scope_take(s, kc_mul(y, kc_scope_take(s, kc_reshape(kc_variable_value(g->gamma), r, pd, err)), err));
    if (g->beta) y = kc_scope_take(s, kc_add(y, kc_scope_take(s, kc_reshape(kc_variable_value(g->beta), r, pd, err)), err));
    out[0] = kc_tensor_ref(y);
    kc_scope_free(s);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods gn_methods = {
    .build = gn_build,
    .call = gn_call,
    .compute_output_shape = gn_output_shape,
};

KC__LAYER_CLASS(kc__group_norm_class, "GroupNormalization", group_norm, gn_init, gn_fini, gn_get_config,
                gn_from_config, &gn_methods);
