/* kc_layer_add_weight_ex: Keras' add_weight(name, shape, initializer=...,
 * regularizer=..., constraint=..., trainable=...) with named arguments,
 * objects given as kc_spec (a name such as "glorot_normal" needs no
 * object to make and release). */
#include "api_int.h"

kc_variable *kc_layer_add_weight_ex(kc_object *layer, const char *name, kc_shape shape, const kc_weight_args *args,
                                    kc_error *err)
{
    static const kc_weight_args none = {0};
    if (!args) args = &none;
    const char *where = "kc_layer_add_weight_ex";
    if (shape.ndim < 0 || shape.ndim > KC_MAX_DIMS) {
        kc__errf(err, KC_EINVAL, "%s: weight '%s' has %d dimensions", where, name ? name : "?", shape.ndim);
        return NULL;
    }
    kc_object *init = NULL, *reg = NULL, *con = NULL;
    kc_status rc = kc__spec_object(&args->initializer, KC_KIND_INITIALIZER, where, "initializer", &init, err);
    if (rc == KC_OK && !init) { /* Keras' add_weight: glorot_uniform for float weights */
        init = kc_object_create(KC_KIND_INITIALIZER, "glorot_uniform", err);
        if (!init) rc = kc__error_code(err, KC_ENOMEM);
    }
    if (rc == KC_OK) rc = kc__spec_object(&args->regularizer, KC_KIND_REGULARIZER, where, "regularizer", &reg, err);
    if (rc == KC_OK) rc = kc__spec_object(&args->constraint, KC_KIND_CONSTRAINT, where, "constraint", &con, err);
    if (rc == KC_OK && args->trainable.value_ != 0 && args->trainable.value_ != 1 && args->trainable.value_ != 2)
        rc = kc__errf(err, KC_EINVAL, "%s.trainable: not a kc_bool (use KC_TRUE or KC_FALSE)", where);
    kc_variable *v = NULL;
    if (rc == KC_OK)
        v = kc_layer_add_weight(layer, name, shape.ndim, shape.dims, init, reg, con, args->trainable.value_ != 2,
                                err);
    kc_object_unref(init);
    kc_object_unref(reg);
    kc_object_unref(con);
    return v;
}
