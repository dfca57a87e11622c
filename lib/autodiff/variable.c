/* Variables: a named tensor updated in place by optimizers.
 *
 * The value tensor keeps its identity (and id) for the variable's whole life,
 * so tapes can track it and gradients can name it as a source. The tensor
 * points back to its variable (borrowed) so that a tape seeing it as an op
 * input knows it is a trainable variable and watches it by itself, as
 * tf.GradientTape does with watch_accessed_variables=True. */
#include "variable_int.h"

#include <string.h>

static kc_variable *variable_make(const char *name, kc_tensor *value, bool trainable,
                                  kc_error *err)
{
    if (value->storage->external || atomic_load(&value->storage->refcount) != 1 ||
        value->variable) {
        kc__errf(err, KC_EINVAL, "variable '%s' needs a tensor with its own buffer",
                 name ? name : "");
        kc_tensor_unref(value);
        return NULL;
    }
    kc_variable *v = kc__calloc(1, sizeof(*v));
    char *nm = kc__strdup(name ? name : "Variable");
    if (!v || !nm) {
        kc__free(v);
        kc__free(nm);
        kc_tensor_unref(value);
        kc__errf(err, KC_ENOMEM, "out of memory creating variable '%s'", name ? name : "");
        return NULL;
    }
    atomic_init(&v->refcount, 1);
    v->name = nm;
    v->value = value;
    v->trainable = trainable;
    value->variable = v;
    return v;
}

kc_variable *kc_variable_new(const char *name, const kc_tensor *value, bool trainable,
                             kc_error *err)
{
    if (!value) {
        kc__errf(err, KC_EINVAL, "variable '%s': value is NULL", name ? name : "");
        return NULL;
    }
    kc_tensor *copy = kc_tensor_copy(value, err);
    if (!copy) return NULL;
    return variable_make(name, copy, trainable, err);
}

kc_variable *kc_variable_new_take(const char *name, kc_tensor *value, bool trainable,
                                  kc_error *err)
{
    if (!value) {
        kc__errf(err, KC_EINVAL, "variable '%s': value is NULL", name ? name : "");
        return NULL;
    }
    return variable_make(name, value, trainable, err);
}

kc_variable *kc_variable_ref(kc_variable *v)
{
    if (v) atomic_fetch_add_explicit(&v->refcount, 1, memory_order_relaxed);
    return v;
}

void kc_variable_unref(kc_variable *v)
{
    if (!v) return;
    if (atomic_fetch_sub_explicit(&v->refcount, 1, memory_order_acq_rel) != 1) return;
    /* A tape may still hold the value tensor: it must stop seeing a variable. */
    v->value->variable = NULL;
    kc_tensor_unref(v->value);
    if (v->constraint && v->constraint_unref) v->constraint_unref(v->constraint);
    kc__free(v->name);
    kc__free(v);
}

const char *kc_variable_name(const kc_variable *v) { return v->name; }
kc_tensor *kc_variable_value(const kc_variable *v) { return v->value; }
bool kc_variable_trainable(const kc_variable *v) { return v->trainable; }
void kc_variable_set_trainable(kc_variable *v, bool trainable) { v->trainable = trainable; }

kc_status kc_variable_assign(kc_variable *v, const kc_tensor *value, kc_error *err)
{
    kc_status rc = kc_tensor_assign(v->value, value, err);
    if (rc != KC_OK) kc__error_context(err, "variable '%s'", v->name);
    return rc;
}

kc_variable *kc_tensor_variable(const kc_tensor *t) { return t ? t->variable : NULL; }
