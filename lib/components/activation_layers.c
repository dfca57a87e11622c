/* Keras' activation layers given as a layer's activation:
 * Conv2D(..., activation=keras.layers.LeakyReLU(0.2)).
 *
 * Keras accepts any callable as an activation, and both tf.keras 2
 * (activations.deserialize looks in the activation layers too) and Keras 3
 * (a {"module": "keras.layers", "class_name": "LeakyReLU", ...} object)
 * save and load these layers in an "activation" key. Here each is an
 * activation class of the same name that holds the layer built from the
 * same config, so config keys, defaults and numerics are the layer's
 * (layer_activations.c): LeakyReLU, ReLU, ELU and Softmax. PReLU, which
 * has weights, and ThresholdedReLU stay unknown as activations. */
#include "../objects/objects_int.h"
#include <ckeras/activation.h>
#include <ckeras/layer.h>

#include <string.h>

typedef struct activation_layer {
    kc_object base;
    kc_object *layer; /* the layer of the same class name; NULL until configured */
} activation_layer;

static void fini(kc_object *self) { kc_object_unref(((activation_layer *)self)->layer); }

/* An instance made without a config holds the layer's defaults. */
static kc_status ensure_layer(activation_layer *a, kc_error *err)
{
    if (a->layer) return KC_OK;
    json_t *empty = json_object();
    if (!empty) return kc__errf(err, KC_ENOMEM, "out of memory");
    const kc_class *lc = kc_find_class(KC_KIND_LAYER, a->base.cls->name);
    a->layer = lc ? kc_object_from_config(lc, empty, NULL, err) : NULL;
    json_decref(empty);
    if (!lc) return kc__errf(err, KC_EINTERNAL, "no layer class '%s'", a->base.cls->name);
    return a->layer ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_status get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    activation_layer *a = (activation_layer *)self;
    kc_status rc = ensure_layer(a, err);
    json_t *lc = NULL;
    if (rc == KC_OK) rc = kc_object_get_config(a->layer, &lc, err);
    if (rc == KC_OK && json_object_update(cfg, lc)) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    json_decref(lc);
    return rc;
}

static kc_status from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    activation_layer *a = (activation_layer *)self;
    const kc_class *lc = kc_find_class(KC_KIND_LAYER, self->cls->name);
    if (!lc) return kc__errf(err, KC_EINTERNAL, "no layer class '%s'", self->cls->name);
    kc_object *layer = kc_object_from_config(lc, cfg, ctx, err);
    if (!layer) return kc__error_code(err, KC_EFORMAT);
    kc_object_unref(a->layer);
    a->layer = layer;
    return KC_OK;
}

static kc_tensor *call(kc_object *self, kc_tensor *x, kc_error *err)
{
    activation_layer *a = (activation_layer *)self;
    if (ensure_layer(a, err) != KC_OK) return NULL;
    return kc_layer_call1(a->layer, x, false, err);
}

static const kc_activation_methods methods = {.call = call};

#define ACTIVATION_LAYER(var, kname)                                                               \
    const kc_class var = {.abi = KC_CLASS_ABI,                                                     \
                          .kind = KC_KIND_ACTIVATION,                                              \
                          .name = kname,                                                           \
                          .size = sizeof(activation_layer),                                        \
                          .config_version = 1,                                                     \
                          .fini = fini,                                                            \
                          .get_config = get_config,                                                \
                          .from_config = from_config,                                              \
                          .methods = &methods};
ACTIVATION_LAYER(kc__leaky_relu_activation_class, "LeakyReLU")
ACTIVATION_LAYER(kc__relu_activation_class, "ReLU")
ACTIVATION_LAYER(kc__elu_activation_class, "ELU")
ACTIVATION_LAYER(kc__softmax_activation_class, "Softmax")
#undef ACTIVATION_LAYER
