/* In-place arithmetic on variables (tf.Variable.assign_add / assign_sub):
 * what a streaming metric does to its state, without writing through the
 * raw buffer. The update is not recorded on tapes (a variable's value
 * keeps its identity; Keras' assign ops are not differentiable either). */
#include "autodiff_int.h"
#include "variable_int.h"

#include <ckeras/ops.h>

static kc_status update(kc_variable *v, const kc_tensor *delta, bool subtract, kc_error *err)
{
    const char *op = subtract ? "assign_sub" : "assign_add";
    if (!v || !delta) {
        if (err && err->code != KC_OK) return err->code; /* a failed op's NULL */
        return kc__errf(err, KC_EINVAL, "kc_variable_%s: variable or delta is NULL", op);
    }
    kc__recording_pause();
    kc_tensor *value = kc_variable_value(v);
    kc_tensor *r = subtract ? kc_sub(value, (kc_tensor *)delta, err) : kc_add(value, (kc_tensor *)delta, err);
    kc__recording_resume();
    kc_status rc = r ? KC_OK : kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK && !kc_tensor_same_shape(r, value)) {
        char a[160], b[160];
        kc_shape sv = kc_tensor_shape(value), sd = kc_tensor_shape(delta);
        rc = kc__errf(err, KC_ESHAPE, "%s: a delta of shape %s does not fit a variable of shape %s", op,
                      kc_shape_format(&sd, a, sizeof a), kc_shape_format(&sv, b, sizeof b));
    }
    if (rc == KC_OK) rc = kc_tensor_assign(value, r, err);
    kc_tensor_unref(r);
    if (rc != KC_OK) kc__error_context(err, "variable '%s'", kc_variable_name(v));
    return rc;
}

kc_status kc_variable_assign_add(kc_variable *v, const kc_tensor *delta, kc_error *err)
{
    return update(v, delta, false, err);
}

kc_status kc_variable_assign_sub(kc_variable *v, const kc_tensor *delta, kc_error *err)
{
    return update(v, delta, true, err);
}
