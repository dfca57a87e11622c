/* Element-wise merge layers: Add, Subtract, Multiply, Average, Maximum and
 * Minimum (Keras' _Merge subclasses).
 *
 * They take a list of inputs (Subtract exactly two, the others at least
 * one, as tf.keras 2.15 and Keras 3) and fold them left to right: Add sums,
 * Subtract gives a - b, Multiply multiplies, Average divides the sum by the
 * count, Maximum / Minimum take element-wise extremes (ties send the
 * gradient to the earlier input, as tf.maximum). Shapes follow Keras'
 * _compute_elemwise_op_output_shape: the known batch sizes must agree, and
 * the other axes broadcast aligned on the right (sizes equal, or 1, or
 * unknown -> unknown); an input of lower rank gets size-1 axes inserted
 * after its batch axis, which is the same alignment.
 *
 * Masks (Keras' _Merge.compute_mask): the output mask is the logical AND of
 * the inputs' masks, ignoring inputs without one; no masks, no mask. */
#include "layer_infer.h"
#include "layer_util.h"

#include <ckeras/ops.h>

typedef struct merge {
    kc_layer base;
} merge;

extern const kc_class kc__add_class, kc__subtract_class, kc__multiply_class, kc__average_class,
    kc__maximum_class, kc__minimum_class;

static kc_status merge_init(kc_object *self, kc_error *err)
{
    (void)err;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static kc_status merge_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                    kc_shape *out, int *n_out, kc_error *err)
{
    int64_t batch;
    kc_status rc = kc__merge_batch(self, in, n_in, &batch, err);
    if (rc != KC_OK) return rc;
    kc_shape o = in[0];
    for (int k = 1; k < n_in; k++) {
        const kc_shape *s = &in[k];
        kc_shape r = o.ndim >= s->ndim ? o : *s;
        const kc_shape *shorter = o.ndim >= s->ndim ? s : &o;
        int off = r.ndim - shorter->ndim;
        for (int i = 1; i < shorter->ndim; i++) {
            int64_t a = r.dims[off + i], b = shorter->dims[i];
            if (a < 0 || b < 0) {
                r.dims[off + i] = -1;
            } else if (a == 1) {
                r.dims[off + i] = b;
            } else if (b != 1 && a != b) {
                char x[160], y[160];
                return kc__errf(
                    err, KC_ESHAPE,
                    "%s needs inputs of compatible shapes (after the batch axis, aligned "
                    "on the right, sizes equal or 1): got %s and %s",
                    self->cls->name, kc_shape_format(&o, x, sizeof(x)),
                    kc_shape_format(s, y, sizeof(y)));
            }
        }
        o = r;
    }
    o.dims[0] = batch;
    out[0] = o;
    *n_out = 1;
    return KC_OK;
}

/* x with size-1 axes inserted after the batch axis up to rank r. */
static kc_tensor *to_rank(kc_tensor *x, int r, kc_error *err)
{
    int64_t dims[KC_MAX_DIMS];
    int nd = kc_tensor_ndim(x), extra = r - nd;
    if (extra == 0) return kc_tensor_ref(x);
    dims[0] = kc_tensor_dim(x, 0);
    for (int i = 0; i < extra; i++)
        dims[1 + i] = 1;
    for (int i = 1; i < nd; i++)
        dims[extra + i] = kc_tensor_dim(x, i);
    return kc_reshape(x, r, dims, err);
}

static kc_status merge_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                            kc_error *err)
{
    (void)n_out;
    const kc_class *c = self->cls;
    int r = 0;
    for (int i = 0; i < a->n_inputs; i++)
        if (kc_tensor_ndim(a->inputs[i]) > r) r = kc_tensor_ndim(a->inputs[i]);
    kc_scope *s = kc_scope_new(err);
    kc_tensor *acc = kc_scope_take(s, to_rank(a->inputs[0], r, err));
    for (int i = 1; i < a->n_inputs; i++) {
        kc_tensor *x = kc_scope_take(s, to_rank(a->inputs[i], r, err));
        kc_tensor *y;
        if (c == &kc__subtract_class)
            y = kc_sub(acc, x, err);
        else if (c == &kc__multiply_class)
            y = kc_mul(acc, x, err);
        else if (c == &kc__maximum_class)
            y = kc_maximum(acc, x, err);
        else if (c == &kc__minimum_class)
            y = kc_minimum(acc, x, err);
        else /* Add, Average */
            y = kc_add(acc, x, err);
        acc = kc_scope_take(s, y);
    }
    if (c == &kc__average_class)
        acc = kc_scope_take(s, kc_div_scalar(acc, (float)a->n_inputs, err));
    out[0] = kc_tensor_ref(acc);
    kc_scope_free(s);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_status merge_compute_mask(kc_object *self, const kc_call_args *a, kc_tensor *const *out,
                                    int n_out, kc_tensor **out_masks, kc_error *err)
{
    (void)self;
    (void)out;
    (void)n_out;
    out_masks[0] = NULL;
    if (!a->masks) return KC_OK;
    kc_tensor *acc = NULL;
    for (int i = 0; i < a->n_inputs; i++) {
        if (!a->masks[i]) continue;
        kc_tensor *m = kc__mask_bool(a->masks[i], err);
        if (acc && m) {
            kc_tensor *both = kc_minimum(acc, m, err); /* AND of 0/1 values */
            kc_tensor_unref(m);
            m = both;
        }
        kc_tensor_unref(acc);
        acc = m;
        if (!acc) return kc__error_code(err, KC_ENOMEM);
    }
    out_masks[0] = acc;
    return KC_OK;
}

static const kc_layer_methods merge_methods = {
    .min_inputs = 1,
    .max_inputs = 64,
    .call = merge_call,
    .compute_output_shape = merge_output_shape,
    .compute_mask = merge_compute_mask,
};

static const kc_layer_methods subtract_methods = {
    .min_inputs = 2,
    .max_inputs = 2,
    .call = merge_call,
    .compute_output_shape = merge_output_shape,
    .compute_mask = merge_compute_mask,
};

KC__LAYER_CLASS(kc__add_class, "Add", merge, merge_init, NULL, NULL, NULL, &merge_methods);
KC__LAYER_CLASS(kc__subtract_class, "Subtract", merge, merge_init, NULL, NULL, NULL,
                &subtract_methods);
KC__LAYER_CLASS(kc__multiply_class, "Multiply", merge, merge_init, NULL, NULL, NULL,
                &merge_methods);
KC__LAYER_CLASS(kc__average_class, "Average", merge, merge_init, NULL, NULL, NULL, &merge_methods);
KC__LAYER_CLASS(kc__maximum_class, "Maximum", merge, merge_init, NULL, NULL, NULL, &merge_methods);
KC__LAYER_CLASS(kc__minimum_class, "Minimum", merge, merge_init, NULL, NULL, NULL, &merge_methods);

/* Inference slot: inputs of one shape (no broadcasting), folded left to
 * right as merge_call does. */
void kc__merge_describe(const kc_object *self, const kc_shape *in, int n_in, kc__layer_infer *out)
{
    for (int i = 1; i < n_in; i++)
        if (!kc_shape_equal(&in[i], &in[0])) return;
    const kc_class *c = self->cls;
    out->merge = c == &kc__subtract_class   ? KC__MERGE_SUB
                 : c == &kc__multiply_class ? KC__MERGE_MUL
                 : c == &kc__average_class  ? KC__MERGE_AVG
                 : c == &kc__maximum_class  ? KC__MERGE_MAX
                 : c == &kc__minimum_class  ? KC__MERGE_MIN
                                            : KC__MERGE_ADD;
    out->kind = KC__LI_MERGE;
}
