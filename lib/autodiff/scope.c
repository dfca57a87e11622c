/* Scopes: a list of tensor references released together, so that C code
 * written as a chain of ops does not need an unref per intermediate. */
#include "autodiff_int.h"

struct kc_scope {
    kc_tensor **items;
    size_t n, cap;
    kc_error *err; /* where growth failures are reported (borrowed) */
};

kc_scope *kc_scope_new(kc_error *err)
{
    kc_scope *s = kc__calloc(1, sizeof(kc_scope));
    if (!s) {
        kc__errf(err, KC_ENOMEM, "out of memory creating a scope");
        return NULL;
    }
    s->err = err;
    return s;
}

kc_tensor *kc_scope_take(kc_scope *scope, kc_tensor *t)
{
    if (!t) return NULL;
    if (!scope ||
        !kc__grow((void **)&scope->items, &scope->cap, scope->n + 1, sizeof(*scope->items))) {
        kc_tensor_unref(t);
        if (scope) kc__errf(scope->err, KC_ENOMEM, "out of memory keeping a tensor in a scope");
        return NULL;
    }
    scope->items[scope->n++] = t;
    return t;
}

void kc_scope_free(kc_scope *scope)
{
    if (!scope) return;
    for (size_t i = 0; i < scope->n; i++) kc_tensor_unref(scope->items[i]);
    kc__free(scope->items);
    kc__free(scope);
}

kc_error *kc_scope_err(const kc_scope *scope) { return scope ? scope->err : NULL; }

kc_tensor *kc_scope_return(kc_scope *scope, kc_tensor *t)
{
    kc_tensor_ref(t);
    kc_scope_free(scope);
    return t;
}
