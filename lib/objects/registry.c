/* The class registry: (kind, name) -> class, plain function or alias.
 *
 * Built-in families contribute tables (kc__builtins) that kc_init()
 * registers once; users add their own classes and functions with
 * kc_register_class / kc_register_function. Like sqlite3_vfs_register,
 * registering the same thing twice is harmless, and like Redis' module
 * types, a different thing under a taken name is refused (KC_EEXIST), never
 * a silent replacement. A few hundred entries are searched linearly: a
 * lookup is a handful of string compares, far below the cost of the HDF5
 * calls around it. */
#include "../core/fork_safe.h"
#include "objects_int.h"

#include <pthread.h>
#include <string.h>

typedef struct entry {
    kc_kind kind;
    char *name;
    const kc_class *cls;  /* a class, or */
    kc_object *fn;        /* a function object (owned), or */
    char *alias_of;       /* another name of the same kind */
} entry;

static entry *entries;
static size_t n_entries, cap_entries;
/* fork() must not leave it locked in a child (fork_safe.h) */
KC__FORK_SAFE_MUTEX(init_lock)
static bool initialized;

/* Families of built-ins (each defined in its own module). */
extern const kc__builtins kc__activation_builtins;
extern const kc__builtins kc__initializer_builtins;
extern const kc__builtins kc__regularizer_builtins;
extern const kc__builtins kc__constraint_builtins;
extern const kc__builtins kc__layer_builtins;
extern const kc__builtins kc__model_builtins;
extern const kc__builtins kc__loss_builtins;
extern const kc__builtins kc__metric_builtins;
extern const kc__builtins kc__optimizer_builtins;
extern const kc__builtins kc__schedule_builtins;

static const kc__builtins *const builtin_tables[] = {
    &kc__activation_builtins,
    &kc__initializer_builtins,
    &kc__regularizer_builtins,
    &kc__constraint_builtins,
    &kc__layer_builtins,
    &kc__model_builtins,
    &kc__loss_builtins,
    &kc__metric_builtins,
    &kc__schedule_builtins,
    &kc__optimizer_builtins,
};

static entry *find_exact(kc_kind kind, const char *name)
{
    for (size_t i = 0; i < n_entries; i++)
        if (entries[i].kind == kind && strcmp(entries[i].name, name) == 0) return &entries[i];
    return NULL;
}

/* Keras 3 may save a registered function without its package (a bug fixed
 * in 3.7): "my_fn" then matches a unique "Package>my_fn". */
static entry *find_unpackaged(kc_kind kind, const char *name)
{
    if (strchr(name, '>')) return NULL;
    size_t n = strlen(name);
    entry *hit = NULL;
    for (size_t i = 0; i < n_entries; i++) {
        const char *gt = strrchr(entries[i].name, '>');
        if (entries[i].kind != kind || !gt || strlen(gt + 1) != n || strcmp(gt + 1, name)) continue;
        if (hit) return NULL; /* ambiguous */
        hit = &entries[i];
    }
    return hit;
}

static kc_status add_entry(kc_kind kind, const char *name, const kc_class *cls, kc_object *fn,
                           const char *alias_of, kc_error *err)
{
    if (!kc__grow((void **)&entries, &cap_entries, n_entries + 1, sizeof(entry)))
        return kc__errf(err, KC_ENOMEM, "out of memory registering '%s'", name);
    entry e = {kind, kc__strdup(name), cls, fn, alias_of ? kc__strdup(alias_of) : NULL};
    if (!e.name || (alias_of && !e.alias_of)) {
        kc__free(e.name);
        kc__free(e.alias_of);
        return kc__errf(err, KC_ENOMEM, "out of memory registering '%s'", name);
    }
    entries[n_entries++] = e;
    return KC_OK;
}

static kc_status register_class_locked(const kc_class *cls, kc_error *err)
{
    kc_status rc = kc__check_class_full(cls, err);
    if (rc != KC_OK) return rc;
    entry *e = find_exact(cls->kind, cls->name);
    if (e) {
        if (e->cls == cls) return KC_OK;
        return kc__errf(err, KC_EEXIST,
                        "a different %s is already registered as '%s'; pick another name or "
                        "a package (\"Package>%s\")",
                        kc_kind_name(cls->kind), cls->name, cls->name);
    }
    return add_entry(cls->kind, cls->name, cls, NULL, NULL, err);
}

static kc_status register_function_locked(kc_kind kind, const char *name, kc_fn fn,
                                          kc_error *err)
{
    if ((unsigned)kind >= KC_KIND_COUNT || !fn || !kc__valid_name(name))
        return kc__errf(err, KC_EINVAL, "kc_register_function: bad kind, NULL function or invalid name '%s'",
                        name ? name : "(null)");
    entry *e = find_exact(kind, name);
    if (e) {
        if (e->fn && ((kc__function *)e->fn)->fn == fn) return KC_OK;
        return kc__errf(err, KC_EEXIST, "another %s is already registered as '%s'",
                        kc_kind_name(kind), name);
    }
    kc_object *f = kc_function_new(kind, name, fn, NULL, NULL, err);
    if (!f) return kc__error_code(err, KC_ENOMEM);
    kc_status rc = add_entry(kind, name, NULL, f, NULL, err);
    if (rc != KC_OK) kc_object_unref(f);
    return rc;
}

kc_status kc_init(kc_error *err)
{
    init_lock_take();
    if (initialized) {
        pthread_mutex_unlock(&init_lock);
        return KC_OK;
    }
    kc_status rc = KC_OK;
    for (size_t t = 0; rc == KC_OK && t < sizeof(builtin_tables) / sizeof(builtin_tables[0]); t++) {
        const kc__builtins *b = builtin_tables[t];
        for (size_t i = 0; rc == KC_OK && i < b->n_classes; i++)
            rc = register_class_locked(b->classes[i], err);
        for (size_t i = 0; rc == KC_OK && i < b->n_functions; i++)
            rc = register_function_locked(b->functions[i].kind, b->functions[i].name,
                                          b->functions[i].fn, err);
        for (size_t i = 0; rc == KC_OK && i < b->n_aliases; i++) {
            const kc__builtin_alias *a = &b->aliases[i];
            if (!find_exact(a->kind, a->alias))
                rc = add_entry(a->kind, a->alias, NULL, NULL, a->target, err);
        }
    }
    /* On failure (out of memory) the entries made so far stay; a later
     * kc_init() completes the rest, since every step is idempotent. */
    if (rc == KC_OK) initialized = true;
    pthread_mutex_unlock(&init_lock);
    return rc;
}

kc_status kc_register_class(const kc_class *cls, kc_error *err)
{
    kc_status rc = kc_init(err);
    if (rc != KC_OK) return rc;
    init_lock_take();
    rc = register_class_locked(cls, err);
    pthread_mutex_unlock(&init_lock);
    return rc;
}

kc_status kc_register_function(kc_kind kind, const char *name, kc_fn fn, kc_error *err)
{
    kc_status rc = kc_init(err);
    if (rc != KC_OK) return rc;
    init_lock_take();
    rc = register_function_locked(kind, name, fn, err);
    pthread_mutex_unlock(&init_lock);
    return rc;
}

kc_status kc__registry_lookup(kc_kind kind, const char *name, const kc_class **cls,
                              kc_object **fn_obj)
{
    *cls = NULL;
    *fn_obj = NULL;
    if (kc_init(NULL) != KC_OK) return KC_ENOMEM;
    entry *e = find_exact(kind, name);
    for (int hops = 0; e && e->alias_of && hops < 4; hops++) e = find_exact(kind, e->alias_of);
    if (!e) e = find_unpackaged(kind, name);
    if (!e || e->alias_of) return KC_ENOTFOUND;
    *cls = e->cls;
    *fn_obj = e->fn;
    return KC_OK;
}

const char *kc__registry_unsupported(kc_kind kind, const char *name)
{
    for (size_t t = 0; name && t < sizeof(builtin_tables) / sizeof(builtin_tables[0]); t++) {
        const kc__builtins *b = builtin_tables[t];
        for (size_t i = 0; i < b->n_unsupported; i++)
            if (b->unsupported[i].kind == kind && strcmp(b->unsupported[i].name, name) == 0)
                return b->unsupported[i].reason;
    }
    return NULL;
}

const kc_class *kc_find_class(kc_kind kind, const char *name)
{
    const kc_class *cls;
    kc_object *fn;
    if (!name || kc__registry_lookup(kind, name, &cls, &fn) != KC_OK) return NULL;
    return cls;
}

size_t kc_registry_size(void)
{
    if (kc_init(NULL) != KC_OK) return 0;
    return n_entries;
}

bool kc_registry_entry(size_t i, kc_kind *kind, const char **name, const kc_class **cls,
                       const char **alias_of)
{
    if (i >= n_entries) return false;
    if (kind) *kind = entries[i].kind;
    if (name) *name = entries[i].name;
    if (cls) *cls = entries[i].cls;
    if (alias_of) *alias_of = entries[i].alias_of;
    return true;
}

bool kc__class_is_builtin(const kc_class *cls)
{
    for (size_t t = 0; cls && t < sizeof(builtin_tables) / sizeof(builtin_tables[0]); t++)
        for (size_t i = 0; i < builtin_tables[t]->n_classes; i++)
            if (builtin_tables[t]->classes[i] == cls) return true;
    return false;
}
