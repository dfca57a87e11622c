/* Activations: Keras' built-in activation functions as function objects,
 * and the dispatch that calls any activation (function or class).
 *
 * Built-ins are registered as plain functions because that is what Keras
 * saves: the name alone. "silu" is an alias of "swish", so a model built
 * with either writes "swish", the name tf.keras and TensorFlow.js know. */
#include "../objects/objects_int.h"
#include "activation_int.h"
#include <ckeras/activation.h>
#include <ckeras/ops.h>

#include <math.h>
#include <string.h>

static kc_status check_activation_class(const kc_class *cls, kc_error *err)
{
    const kc_activation_methods *m = cls->methods;
    if (!m || !m->call)
        return kc__errf(err, KC_EINVAL, "activation class '%s' needs methods with a call slot",
                        cls->name);
    return KC_OK;
}

const kc__kind_info kc__activation_kind = {
    .name = "activation",
    .base_size = sizeof(kc_object),
    .check_class = check_activation_class,
    .function_class = &kc__function_classes[KC_KIND_ACTIVATION],
};

kc_tensor *kc_activation_call(kc_object *activation, kc_tensor *x, kc_error *err)
{
    if (!activation) {
        kc__errf(err, KC_EINVAL, "activation is NULL");
        return NULL;
    }
    if (kc_object_kind(activation) != KC_KIND_ACTIVATION) {
        kc__errf(err, KC_ETYPE, "'%s' is a %s, not an activation", kc_object_name(activation),
                 kc_kind_name(kc_object_kind(activation)));
        return NULL;
    }
    kc_tensor *y;
    if (kc_object_is_function(activation)) {
        const kc__function *f = (const kc__function *)activation;
        y = ((kc_activation_fn)f->fn)(x, f->params, err);
    } else {
        const kc_activation_methods *m = activation->cls->methods;
        y = m->call(activation, x, err);
    }
    if (!y && err && err->code == KC_OK)
        kc__errf(err, KC_EINTERNAL, "activation '%s' failed without saying why",
                 kc_object_name(activation));
    return y;
}

kc_object *kc_activation_get(const char *name, kc_error *err)
{
    return kc_object_create(KC_KIND_ACTIVATION, name ? name : "", err);
}

/* ---- built-ins ------------------------------------------------------------- */

static kc_tensor *act_linear(kc_tensor *x, void *p, kc_error *err)
{
    (void)p;
    if (!x) return kc_neg(NULL, err); /* reports the NULL input */
    return kc_tensor_ref(x);
}
#define WRAP(fname, expr)                                                                          \
    static kc_tensor *fname(kc_tensor *x, void *p, kc_error *err)                                  \
    {                                                                                              \
        (void)p;                                                                                   \
        return expr;                                                                               \
    }
WRAP(act_relu, kc_relu(x, err))
WRAP(act_sigmoid, kc_sigmoid(x, err))
WRAP(act_hard_sigmoid, kc_hard_sigmoid(x, err))
WRAP(act_tanh, kc_tanh(x, err))
WRAP(act_softmax, kc_softmax(x, -1, err))
WRAP(act_log_softmax, kc_log_softmax(x, -1, err))
WRAP(act_softplus, kc_softplus(x, err))
WRAP(act_softsign, kc_softsign(x, err))
WRAP(act_elu, kc_elu(x, 1.0f, err))
WRAP(act_selu, kc_selu(x, err))
WRAP(act_exponential, kc_exp(x, err))
WRAP(act_swish, kc_swish(x, err))
WRAP(act_gelu, kc_gelu(x, false, err))
WRAP(act_leaky_relu, kc_leaky_relu(x, 0.2f, err))
WRAP(act_relu6, kc_relu6(x, err))
WRAP(act_mish, kc_mish(x, err))
WRAP(act_hard_silu, kc_hard_swish(x, err))
#undef WRAP

#define FN(name, f) {KC_KIND_ACTIVATION, name, KC_FN(f)}
static const kc__builtin_fn functions[] = {
    FN("linear", act_linear),       FN("relu", act_relu),
    FN("sigmoid", act_sigmoid),     FN("hard_sigmoid", act_hard_sigmoid),
    FN("tanh", act_tanh),           FN("softmax", act_softmax),
    FN("log_softmax", act_log_softmax), FN("softplus", act_softplus),
    FN("softsign", act_softsign),   FN("elu", act_elu),
    FN("selu", act_selu),           FN("exponential", act_exponential),
    FN("swish", act_swish),         FN("gelu", act_gelu),
    FN("leaky_relu", act_leaky_relu), FN("relu6", act_relu6),
    FN("mish", act_mish),           FN("hard_silu", act_hard_silu),
};
#undef FN

static const kc__builtin_alias aliases[] = {
    {KC_KIND_ACTIVATION, "silu", "swish"},
    {KC_KIND_ACTIVATION, "hard_swish", "hard_silu"}, /* Keras 3 */
    /* TensorFlow.js' camel-cased names, for files it wrote */
    {KC_KIND_ACTIVATION, "hardSigmoid", "hard_sigmoid"},
    {KC_KIND_ACTIVATION, "logSoftmax", "log_softmax"},
};

/* activation_layers.c: Keras' activation layers as activation objects */
extern const kc_class kc__leaky_relu_activation_class, kc__relu_activation_class, kc__elu_activation_class,
    kc__softmax_activation_class;
static const kc_class *const classes[] = {
    &kc__leaky_relu_activation_class,
    &kc__relu_activation_class,
    &kc__elu_activation_class,
    &kc__softmax_activation_class,
};

/* The built-in functions above, as the ops they call with the same
 * parameters (so a fused kernel computes what the call would). */
kc__act_kernel_kind kc__activation_kernel(const kc_object *activation, kc__act *act)
{
    act->op = KC__OP_COUNT;
    memset(act->f, 0, sizeof(act->f));
    if (!activation || !kc_object_is_function(activation) || kc_object_kind(activation) != KC_KIND_ACTIVATION)
        return KC__ACTK_NONE;
    kc_fn fn = ((const kc__function *)activation)->fn;
    static const struct {
        kc_fn fn;
        kc__op op;
        double f0, f1, f2;
    } ops[] = {
        {KC_FN(act_relu), KC__OP_RELU, 0, 0, 0},
        {KC_FN(act_sigmoid), KC__OP_SIGMOID, 0, 0, 0},
        {KC_FN(act_hard_sigmoid), KC__OP_HARD_SIGMOID, 0, 0, 0},
        {KC_FN(act_tanh), KC__OP_TANH, 0, 0, 0},
        {KC_FN(act_softplus), KC__OP_SOFTPLUS, 0, 0, 0},
        {KC_FN(act_softsign), KC__OP_SOFTSIGN, 0, 0, 0},
        {KC_FN(act_elu), KC__OP_ELU, 1.0, 0, 0},
        {KC_FN(act_selu), KC__OP_SELU, 0, 0, 0},
        {KC_FN(act_exponential), KC__OP_EXP, 0, 0, 0},
        {KC_FN(act_swish), KC__OP_SWISH, 0, 0, 0},
        {KC_FN(act_gelu), KC__OP_GELU, 0, 0, 0},
        {KC_FN(act_leaky_relu), KC__OP_RELU_EX, 0.2f, INFINITY, 0},
        {KC_FN(act_relu6), KC__OP_RELU_EX, 0, 6.0, 0},
        {KC_FN(act_mish), KC__OP_MISH, 0, 0, 0},
        {KC_FN(act_hard_silu), KC__OP_HARD_SWISH, 0, 0, 0},
    };
    if (fn == KC_FN(act_linear)) return KC__ACTK_LINEAR;
    if (fn == KC_FN(act_softmax)) return KC__ACTK_SOFTMAX;
    if (fn == KC_FN(act_log_softmax)) return KC__ACTK_LOG_SOFTMAX;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (ops[i].fn == fn) {
            act->op = ops[i].op;
            act->f[0] = ops[i].f0;
            act->f[1] = ops[i].f1;
            act->f[2] = ops[i].f2;
            return KC__ACTK_ELEMENTWISE;
        }
    }
    return KC__ACTK_NONE;
}

const kc__builtins kc__activation_builtins = {
    .classes = classes,
    .n_classes = sizeof(classes) / sizeof(classes[0]),
    .functions = functions,
    .n_functions = sizeof(functions) / sizeof(functions[0]),
    .aliases = aliases,
    .n_aliases = sizeof(aliases) / sizeof(aliases[0]),
};
