/* Automatic layer names, as Keras makes them: the class name in snake case
 * ("BatchNormalization" -> "batch_normalization", "PReLU" -> "p_re_lu"),
 * then a per-session counter: dense, dense_1, dense_2. InputLayers count
 * from 1 (input_1, input_2) and Functional models are "model", as in
 * tf.keras. kc_clear_session() resets the counters. */
#include "../core/fork_safe.h"
#include "layers_int.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>

typedef struct counter {
    char *base;
    long next;
} counter;

static counter *counters;
static size_t n_counters, cap_counters;
/* fork() must not leave it locked in a child (fork_safe.h) */
KC__FORK_SAFE_MUTEX(lock)

void kc_clear_session(void)
{
    lock_take();
    for (size_t i = 0; i < n_counters; i++) kc__free(counters[i].base);
    kc__free(counters);
    counters = NULL;
    n_counters = cap_counters = 0;
    pthread_mutex_unlock(&lock);
}

/* Next number for base (0 the first time), or -1 when out of memory. */
static long next_number(const char *base)
{
    long n = -1;
    lock_take();
    for (size_t i = 0; i < n_counters; i++) {
        if (strcmp(counters[i].base, base) == 0) {
            n = counters[i].next++;
            pthread_mutex_unlock(&lock);
            return n;
        }
    }
    char *b = kc__strdup(base);
    if (b && kc__grow((void **)&counters, &cap_counters, n_counters + 1, sizeof(counter))) {
        counters[n_counters++] = (counter){b, 1};
        n = 0;
    } else {
        kc__free(b);
    }
    pthread_mutex_unlock(&lock);
    return n;
}

char *kc__name_counters_text(void)
{
    lock_take();
    size_t n = 1;
    for (size_t i = 0; i < n_counters; i++) n += strlen(counters[i].base) + 24;
    char *t = kc__malloc(n), *p = t;
    for (size_t i = 0; t && i < n_counters; i++)
        p += snprintf(p, n - (size_t)(p - t), "%s %ld\n", counters[i].base, counters[i].next);
    if (t) *p = '\0';
    pthread_mutex_unlock(&lock);
    return t;
}

void kc__name_counter_raise(const char *base, long next)
{
    if (next <= 0) return;
    lock_take();
    for (size_t i = 0; i < n_counters; i++) {
        if (strcmp(counters[i].base, base) == 0) {
            if (counters[i].next < next) counters[i].next = next;
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    char *b = kc__strdup(base);
    if (b && kc__grow((void **)&counters, &cap_counters, n_counters + 1, sizeof(counter)))
        counters[n_counters++] = (counter){b, next};
    else
        kc__free(b); /* a counter that stays behind only repeats a name */
    pthread_mutex_unlock(&lock);
}

static char *numbered(const char *base, long n, bool one_based, kc_error *err)
{
    size_t len = strlen(base) + 24;
    char *s = kc__malloc(len);
    if (!s) {
        kc__errf(err, KC_ENOMEM, "out of memory naming a layer");
        return NULL;
    }
    if (one_based)
        snprintf(s, len, "%s_%ld", base, n + 1);
    else if (n == 0)
        snprintf(s, len, "%s", base);
    else
        snprintf(s, len, "%s_%ld", base, n);
    return s;
}

char *kc__unique_name(const char *base, kc_error *err)
{
    long n = next_number(base);
    if (n < 0) {
        kc__errf(err, KC_ENOMEM, "out of memory naming a layer");
        return NULL;
    }
    return numbered(base, n, false, err);
}

char *kc__snake_case(const char *class_name)
{
    const char *gt = strrchr(class_name, '>');
    const char *s = gt ? gt + 1 : class_name;
    size_t n = strlen(s);
    char *a = kc__malloc(2 * n + 9), *b = kc__malloc(4 * n + 9);
    if (!a || !b) {
        kc__free(a);
        kc__free(b);
        return NULL;
    }
    /* re.sub('(.)([A-Z][a-z0-9]+)', r'\1_\2', s), non-overlapping matches */
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 2 < n + 1 && i + 1 < n && isupper((unsigned char)s[i + 1]) && i + 2 < n &&
            (islower((unsigned char)s[i + 2]) || isdigit((unsigned char)s[i + 2]))) {
            a[o++] = s[i];
            a[o++] = '_';
            a[o++] = s[i + 1];
            size_t j = i + 2;
            while (j < n && (islower((unsigned char)s[j]) || isdigit((unsigned char)s[j]))) a[o++] = s[j++];
            i = j;
        } else {
            a[o++] = s[i++];
        }
    }
    a[o] = '\0';
    /* re.sub('([a-z])([A-Z])', r'\1_\2', a).lower() */
    size_t m = o;
    o = 0;
    for (size_t i = 0; i < m; i++) {
        b[o++] = (char)tolower((unsigned char)a[i]);
        if (islower((unsigned char)a[i]) && i + 1 < m && isupper((unsigned char)a[i + 1])) {
            b[o++] = '_';
            b[o++] = (char)tolower((unsigned char)a[++i]);
        }
    }
    b[o] = '\0';
    kc__free(a);
    if (b[0] == '_') { /* Keras prefixes private names */
        char *p = kc__malloc(o + 8);
        if (p) snprintf(p, o + 8, "private%s", b);
        kc__free(b);
        return p;
    }
    return b;
}

kc_status kc__layer_set_name(kc_object *layer, const char *name, kc_error *err)
{
    if (!name || !*name) return kc__errf(err, KC_EFORMAT, "layer names must not be empty");
    char *nm = kc__strdup(name);
    if (!nm) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_layer *l = kc__as_layer(layer);
    kc__free(l->name);
    l->name = nm;
    return KC_OK;
}

kc_status kc__layer_ensure_name(kc_object *layer, kc_error *err)
{
    kc_layer *l = kc__as_layer(layer);
    if (l->name) return KC_OK;
    const char *cls = layer->cls->name;
    char *name;
    if (strcmp(cls, "InputLayer") == 0) {
        long n = next_number("input");
        name = n < 0 ? NULL : numbered("input", n, true, err);
    } else if (strcmp(cls, "Functional") == 0 || strcmp(cls, "Model") == 0) {
        name = kc__unique_name("model", err);
    } else {
        char *base = kc__snake_case(cls);
        name = base ? kc__unique_name(base, err) : NULL;
        kc__free(base);
    }
    if (!name) return kc__errf(err, KC_ENOMEM, "out of memory naming a layer");
    l->name = name;
    return KC_OK;
}
