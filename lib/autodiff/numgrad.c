/* Numeric gradients by central differences, for checking analytic ones.
 *
 * The step is applied to the float32 value and the actual difference of the
 * two rounded points is used as the denominator, which removes the error of
 * representing x +- eps in float32. Recording is paused: the probe
 * evaluations must not land on a user's tape. */
#include "autodiff_int.h"

kc_status kc_numeric_gradient(kc_scalar_fn f, void *ud, kc_tensor *const *inputs, int n_inputs,
                              double eps, kc_tensor **grads, kc_error *err)
{
    if (grads)
        for (int i = 0; i < n_inputs; i++) grads[i] = NULL;
    if (!f || !grads || n_inputs < 0 || (n_inputs && !inputs) || !(eps > 0))
        return kc__errf(err, KC_EINVAL, "kc_numeric_gradient: bad arguments");
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i] || inputs[i]->dtype != KC_FLOAT32)
            return kc__errf(err, KC_ETYPE, "kc_numeric_gradient: input %d is not float32", i);
    }
    kc_status rc = KC_OK;
    kc__recording_pause();
    for (int i = 0; i < n_inputs && rc == KC_OK; i++) {
        kc_tensor *x = inputs[i];
        grads[i] = kc__tensor_like(x, err);
        if (!grads[i]) {
            rc = kc__error_code(err, KC_ENOMEM);
            break;
        }
        float *xv = x->data, *gv = grads[i]->data;
        for (int64_t j = 0; j < x->size; j++) {
            float orig = xv[j];
            float xp = (float)(orig + eps), xm = (float)(orig - eps);
            double fp, fm;
            xv[j] = xp;
            rc = f(ud, inputs, n_inputs, &fp, err);
            if (rc == KC_OK) {
                xv[j] = xm;
                rc = f(ud, inputs, n_inputs, &fm, err);
            }
            xv[j] = orig;
            if (rc != KC_OK) break;
            gv[j] = (float)((fp - fm) / ((double)xp - (double)xm));
        }
    }
    kc__recording_resume();
    if (rc != KC_OK) {
        for (int i = 0; i < n_inputs; i++) {
            kc_tensor_unref(grads[i]);
            grads[i] = NULL;
        }
    }
    return rc;
}
