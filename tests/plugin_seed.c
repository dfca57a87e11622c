/* A modelinspect --custom-lib plugin: registers the seed's custom classes
 * and functions (seed_classes.c) through the entry point modelinspect
 * calls after dlopen. */
#include "seed_classes.h"

KC_API kc_status ckeras_plugin_init(kc_error *err);

kc_status ckeras_plugin_init(kc_error *err)
{
    const kc_class *classes[] = {&seed_my_dense_class, &seed_huber_loss_class, &seed_huber_metric_class,
                                 &seed_regressor_class};
    for (size_t i = 0; i < sizeof classes / sizeof *classes; i++) {
        kc_status rc = kc_register_class(classes[i], err);
        if (rc != KC_OK) return rc;
    }
    kc_status rc = kc_register_function(KC_KIND_ACTIVATION, "my_softplus", (kc_fn)seed_my_softplus, err);
    if (rc == KC_OK) rc = kc_register_function(KC_KIND_LOSS, "huber_fn", (kc_fn)seed_huber_fn, err);
    return rc;
}
