/* The loss kind: the base every loss class shares (reduction and name, the
 * keys of Keras' Loss.get_config), the dispatch that calls any loss (class
 * or function), and Keras' Loss.__call__ (kc_loss_compute): per-sample
 * losses, sample weights, reduction.
 *
 * The reduction lives here, not in each loss, because Keras does it the
 * same way for every loss, built-in or user-written: a user's loss class
 * only writes `call`, exactly as a keras.losses.Loss subclass does. */
#include "loss_int.h"

#include <ctype.h>
#include <string.h>

static const char *const reduction_names[] = {"sum_over_batch_size", "sum", "none"};
_Static_assert(sizeof(reduction_names) / sizeof(reduction_names[0]) == KC_REDUCTION_NONE + 1,
               "reduction names");

const char *kc_reduction_name(kc_reduction r)
{
    return (unsigned)r <= KC_REDUCTION_NONE ? reduction_names[r] : "?";
}

/* ---- the base: reduction and name ------------------------------------------------ */

/* Keras 3's default loss name, to_snake_case(class name): "HuberLoss" ->
 * "huber_loss", "MyMSELoss" -> "my_mse_loss". A package prefix
 * ("Seed>HuberLoss") is not part of the name. */
static char *snake_case(const char *cls_name)
{
    const char *gt = strrchr(cls_name, '>');
    const char *s = gt ? gt + 1 : cls_name;
    size_t n = strlen(s);
    char *out = kc__malloc(2 * n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_') continue; /* Keras drops non-word characters */
        bool prev_lower = i > 0 && islower((unsigned char)s[i - 1]);
        bool next_lower = i + 1 < n && islower((unsigned char)s[i + 1]);
        if (isupper(c) && k > 0 && out[k - 1] != '_' && (prev_lower || next_lower)) out[k++] = '_';
        out[k++] = (char)tolower(c);
    }
    out[k] = '\0';
    return out;
}

static kc_status set_name(kc_loss *l, const char *name, kc_error *err)
{
    char *copy = kc__strdup(name);
    if (!copy) return kc__errf(err, KC_ENOMEM, "out of memory setting a loss name");
    kc__free(l->name);
    l->name = copy;
    return KC_OK;
}

static kc_status loss_base_init(kc_object *self, kc_error *err)
{
    kc_loss *l = (kc_loss *)self;
    l->reduction = KC_REDUCTION_SUM_OVER_BATCH_SIZE;
    l->name = snake_case(self->cls->name);
    if (!l->name) return kc__errf(err, KC_ENOMEM, "out of memory naming a '%s'", self->cls->name);
    return KC_OK;
}

static void loss_base_fini(kc_object *self)
{
    kc_loss *l = (kc_loss *)self;
    kc__free(l->name);
    l->name = NULL;
}

/* Keras 2 writes {"reduction": ..., "name": ...} first, then the class's
 * own keys. "auto" is never written: Keras 3 refuses it. */
static kc_status loss_base_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const kc_loss *l = (const kc_loss *)self;
    if (json_object_set_new(cfg, "reduction", json_string(kc_reduction_name(l->reduction))) ||
        json_object_set_new(cfg, "name", l->name ? json_string(l->name) : json_null()))
        return kc__errf(err, KC_ENOMEM, "out of memory writing a loss config");
    return KC_OK;
}

/* Reductions as written by tf.keras ("auto" means sum_over_batch_size
 * outside distribution strategies) and Keras 3 ("mean" is its synonym of
 * sum_over_batch_size; null means "none"). Keras 3's
 * "mean_with_sample_weight" has no kc_reduction and is refused. */
static kc_status read_reduction(const kc_config_ctx *ctx, const json_t *cfg, kc_reduction *out,
                                kc_error *err)
{
    static const char *const choices[] = {"sum_over_batch_size", "sum", "none", "auto", "mean"};
    static const kc_reduction values[] = {KC_REDUCTION_SUM_OVER_BATCH_SIZE, KC_REDUCTION_SUM,
                                          KC_REDUCTION_NONE, KC_REDUCTION_SUM_OVER_BATCH_SIZE,
                                          KC_REDUCTION_SUM_OVER_BATCH_SIZE};
    const json_t *v = json_object_get(cfg, "reduction");
    if (v && json_is_null(v)) {
        *out = KC_REDUCTION_NONE;
        return KC_OK;
    }
    int i = (int)*out;
    kc_status rc = kc_cfg_choice(ctx, cfg, "reduction", 0, choices, 5, (int)*out, &i, err);
    if (rc == KC_OK) *out = v ? values[i] : *out;
    return rc;
}

static kc_status loss_base_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                       kc_error *err)
{
    kc_loss *l = (kc_loss *)self;
    kc_status rc = read_reduction(ctx, cfg, &l->reduction, err);
    if (rc != KC_OK) return rc;
    const char *name = NULL;
    /* name null: Keras falls back to the default name, which we hold */
    rc = kc_cfg_string(ctx, cfg, "name", KC_CFG_NULLABLE, NULL, &name, err);
    if (rc == KC_OK && name) rc = set_name(l, name, err);
    return rc;
}

static kc_status check_loss_class(const kc_class *cls, kc_error *err)
{
    const kc_loss_methods *m = cls->methods;
    if (!m || !m->call)
        return kc__errf(err, KC_EINVAL, "loss class '%s' needs methods with a call slot",
                        cls->name);
    return KC_OK;
}

const kc__kind_info kc__loss_kind = {
    .name = "loss",
    .base_size = sizeof(kc_loss),
    .base_init = loss_base_init,
    .base_fini = loss_base_fini,
    .base_get_config = loss_base_get_config,
    .base_from_config = loss_base_from_config,
    .check_class = check_loss_class,
    .function_class = &kc__function_classes[KC_KIND_LOSS],
};

/* ---- helpers shared by the loss functions ---------------------------------------- */

kc_tensor *kc__loss_f32(kc_tensor *t, kc_error *err)
{
    if (!t) return kc_neg(NULL, err); /* reports the NULL input */
    return kc_tensor_dtype(t) == KC_FLOAT32 ? kc_tensor_ref(t) : kc_cast(t, KC_FLOAT32, err);
}

kc_status kc__loss_same_shape(const char *what, const kc_tensor *y_true, const kc_tensor *y_pred,
                              kc_error *err)
{
    if (kc_tensor_same_shape(y_true, y_pred)) return KC_OK;
    kc_shape a = kc_tensor_shape(y_true), b = kc_tensor_shape(y_pred);
    char sa[96], sb[96];
    return kc__errf(err, KC_ESHAPE, "%s needs y_true and y_pred of the same shape, got %s and %s",
                    what, kc_shape_format(&a, sa, sizeof(sa)), kc_shape_format(&b, sb, sizeof(sb)));
}

/* x of rank r_x against y of rank r_x - 1 (x ends in a 1): Keras 3 expands
 * a rank-1 y rather than squeezing x. Returns the new x and y. */
static void align_pair(kc_tensor **x, kc_tensor **y, kc_error *err)
{
    int rx = kc_tensor_ndim(*x), ry = kc_tensor_ndim(*y);
    if (rx != ry + 1 || kc_tensor_dim(*x, -1) != 1) return;
    kc_tensor *t;
    if (ry == 1) {
        t = kc_expand_dims(*y, -1, err);
        kc_tensor_unref(*y);
        *y = t;
    } else {
        t = kc_squeeze(*x, -1, err);
        kc_tensor_unref(*x);
        *x = t;
    }
}

kc_status kc__loss_align(kc_tensor *y_true, kc_tensor *y_pred, kc_tensor **yt_out,
                         kc_tensor **yp_out, kc_error *err)
{
    *yt_out = *yp_out = NULL;
    if (!y_true || !y_pred) return kc__errf(err, KC_EINVAL, "loss: y_true or y_pred is NULL");
    kc_tensor *yt = kc_tensor_ref(y_true), *yp = kc_tensor_ref(y_pred);
    align_pair(&yt, &yp, err);
    if (yt && yp) align_pair(&yp, &yt, err);
    if (!yt || !yp) {
        kc_tensor_unref(yt);
        kc_tensor_unref(yp);
        return kc__error_code(err, KC_ENOMEM);
    }
    *yt_out = yt;
    *yp_out = yp;
    return KC_OK;
}

/* ---- dispatch -------------------------------------------------------------------- */

static kc_status check_loss(const kc_object *loss, const char *fn, kc_error *err)
{
    if (!loss) return kc__errf(err, KC_EINVAL, "%s: loss is NULL", fn);
    if (kc_object_kind(loss) != KC_KIND_LOSS)
        return kc__errf(err, KC_ETYPE, "'%s' is not a loss (it is %s %s)", kc_object_name(loss),
                        strchr("aeiou", kc_kind_name(kc_object_kind(loss))[0]) ? "an" : "a",
                        kc_kind_name(kc_object_kind(loss)));
    return KC_OK;
}

/* A plain function gets what Keras' compile() hands a loss function: it
 * wraps it in a LossFunctionWrapper, so y_true arrives as float32 and with
 * the rank of y_pred. */
static kc_tensor *call_function(const kc__function *f, kc_tensor *y_true, kc_tensor *y_pred,
                                kc_error *err)
{
    kc_tensor *yt32 = kc__loss_f32(y_true, err);
    kc_tensor *yt, *yp;
    if (!yt32 || kc__loss_align(yt32, y_pred, &yt, &yp, err) != KC_OK) {
        kc_tensor_unref(yt32);
        return NULL;
    }
    kc_tensor *r = ((kc_loss_fn)f->fn)(yt, yp, f->params, err);
    kc_tensor_unref(yt32);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    return r;
}

kc_tensor *kc_loss_call(kc_object *loss, kc_tensor *y_true, kc_tensor *y_pred, kc_error *err)
{
    if (check_loss(loss, "kc_loss_call", err) != KC_OK) return NULL;
    if (!y_true || !y_pred) {
        kc__errf(err, KC_EINVAL, "loss '%s': y_true or y_pred is NULL", kc_loss_name(loss));
        return NULL;
    }
    kc_tensor *r;
    if (kc_object_is_function(loss))
        r = call_function((const kc__function *)loss, y_true, y_pred, err);
    else
        r = ((const kc_loss_methods *)loss->cls->methods)->call(loss, y_true, y_pred, err);
    if (!r && err && err->code == KC_OK)
        kc__errf(err, KC_EINTERNAL, "loss '%s' failed without saying why", kc_loss_name(loss));
    if (!r) kc__error_context(err, "loss '%s'", kc_loss_name(loss));
    return r;
}

/* ---- Loss.__call__ ------------------------------------------------------------------- */

/* sample_weight shaped for the per-sample losses, as Keras 2's
 * squeeze_or_expand_dimensions does it: one trailing 1 too many is
 * squeezed, one axis too few gets a trailing 1 ([N] weights for [N, T]
 * losses), then the weights must broadcast to the losses' shape. */
static kc_tensor *shape_weights(const char *name, kc_tensor *sw, const kc_tensor *losses,
                                kc_error *err)
{
    int rl = kc_tensor_ndim(losses), rs = kc_tensor_ndim(sw);
    kc_tensor *w = kc__loss_f32(sw, err);
    kc_tensor *t = NULL;
    if (w && rs == rl + 1 && kc_tensor_dim(w, -1) == 1)
        t = kc_squeeze(w, -1, err);
    else if (w && rs > 0 && rl == rs + 1)
        t = kc_expand_dims(w, -1, err);
    if (t) {
        kc_tensor_unref(w);
        w = t;
    }
    if (!w) return NULL;
    /* the weights may broadcast up to the losses' shape, not beyond it */
    bool ok = kc_tensor_ndim(w) <= rl;
    for (int i = 1; ok && i <= kc_tensor_ndim(w); i++) {
        int64_t dw = kc_tensor_dim(w, -i), dl = kc_tensor_dim(losses, -i);
        ok = dw == dl || dw == 1;
    }
    if (!ok) {
        kc_shape a = kc_tensor_shape(sw), b = kc_tensor_shape(losses);
        char sa[96], sb[96];
        kc__errf(err, KC_ESHAPE,
                 "loss '%s': sample_weight of shape %s does not broadcast to the per-sample "
                 "losses' shape %s",
                 name, kc_shape_format(&a, sa, sizeof(sa)), kc_shape_format(&b, sb, sizeof(sb)));
        kc_tensor_unref(w);
        return NULL;
    }
    return w;
}

/* Number of samples SparseCategoricalCrossentropy(ignore_class) keeps:
 * Keras masks the ignored ones out of sum_over_batch_size (their loss is
 * already 0), dividing by the valid count instead of the total. */
static int64_t valid_count(const kc_tensor *y_true, int64_t ignore_class)
{
    int64_t n = 0, size = kc_tensor_size(y_true);
    for (int64_t i = 0; i < size; i++)
        n += (int64_t)kc_tensor_get(y_true, i) != ignore_class;
    return n;
}

kc_tensor *kc_loss_compute(kc_object *loss, kc_tensor *y_true, kc_tensor *y_pred,
                           kc_tensor *sample_weight, kc_error *err)
{
    if (check_loss(loss, "kc_loss_compute", err) != KC_OK) return NULL;
    const char *name = kc_loss_name(loss);
    kc_reduction reduction = kc_object_is_function(loss) ? KC_REDUCTION_SUM_OVER_BATCH_SIZE
                                                         : ((const kc_loss *)loss)->reduction;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *losses = kc_scope_take(s, kc_loss_call(loss, y_true, y_pred, err));
    kc_tensor *weighted = losses, *result = NULL;
    if (losses && sample_weight) {
        kc_tensor *w = kc_scope_take(s, shape_weights(name, sample_weight, losses, err));
        weighted = kc_scope_take(s, kc_mul(losses, w, err));
    }
    if (!weighted) goto out;
    if (reduction == KC_REDUCTION_NONE) {
        result = kc_tensor_ref(weighted);
        goto out;
    }
    kc_tensor *sum = kc_scope_take(s, kc_reduce_sum(weighted, NULL, 0, false, err));
    if (reduction == KC_REDUCTION_SUM) {
        result = kc_tensor_ref(sum);
        goto out;
    }
    int64_t count = kc_tensor_size(weighted), ignore;
    if (kc__loss_ignore_class(loss, &ignore)) count = valid_count(y_true, ignore);
    /* Keras divides with divide_no_nan: nothing to average gives 0 */
    result = count > 0 ? kc_div_scalar(sum, (float)count, err) : kc_mul_scalar(sum, 0.0f, err);
out:
    kc_scope_free(s);
    if (!result) kc__error_context(err, "computing loss '%s'", name);
    return result;
}

/* ---- lookup and names --------------------------------------------------------------- */

kc_object *kc_loss_get(const char *name, kc_error *err)
{
    if (!name || !*name) {
        kc__errf(err, KC_ENOTFOUND, "kc_loss_get: empty loss name");
        return NULL;
    }
    return kc_object_create(KC_KIND_LOSS, name, err);
}

const char *kc_loss_name(const kc_object *loss)
{
    if (!loss) return NULL;
    if (kc_object_is_function(loss) || kc_object_kind(loss) != KC_KIND_LOSS)
        return kc_object_name(loss);
    const kc_loss *l = (const kc_loss *)loss;
    return l->name ? l->name : kc_object_name(loss);
}
