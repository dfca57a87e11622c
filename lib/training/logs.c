/* kc_logs: Keras' logs dict, a small ordered name -> value list. Training
 * logs hold a handful of entries, so lookups are linear. */
#include "training_int.h"

#include <string.h>

struct kc_logs {
    char **keys;
    double *values;
    int n;
    size_t cap;
};

kc_logs *kc_logs_new(kc_error *err)
{
    kc_logs *l = kc__calloc(1, sizeof(*l));
    if (!l) kc__errf(err, KC_ENOMEM, "out of memory");
    return l;
}

void kc_logs_clear(kc_logs *logs)
{
    if (!logs) return;
    for (int i = 0; i < logs->n; i++) kc__free(logs->keys[i]);
    logs->n = 0;
}

void kc_logs_free(kc_logs *logs)
{
    if (!logs) return;
    kc_logs_clear(logs);
    kc__free(logs->keys);
    kc__free(logs->values);
    kc__free(logs);
}

static int find(const kc_logs *logs, const char *key)
{
    for (int i = 0; logs && key && i < logs->n; i++)
        if (strcmp(logs->keys[i], key) == 0) return i;
    return -1;
}

kc_status kc_logs_set(kc_logs *logs, const char *key, double value, kc_error *err)
{
    if (!logs || !key) return kc__errf(err, KC_EINVAL, "kc_logs_set: no logs or key");
    int i = find(logs, key);
    if (i >= 0) {
        logs->values[i] = value;
        return KC_OK;
    }
    if ((size_t)logs->n == logs->cap) {
        size_t cap = logs->cap ? logs->cap * 2 : 8;
        char **k = kc__realloc(logs->keys, logs->cap * sizeof(char *), cap * sizeof(char *));
        if (!k) return kc__errf(err, KC_ENOMEM, "out of memory");
        logs->keys = k;
        double *v = kc__realloc(logs->values, logs->cap * sizeof(double), cap * sizeof(double));
        if (!v) return kc__errf(err, KC_ENOMEM, "out of memory");
        logs->values = v;
        logs->cap = cap;
    }
    char *copy = kc__strdup(key);
    if (!copy) return kc__errf(err, KC_ENOMEM, "out of memory");
    logs->keys[logs->n] = copy;
    logs->values[logs->n++] = value;
    return KC_OK;
}

bool kc_logs_get(const kc_logs *logs, const char *key, double *value)
{
    int i = find(logs, key);
    if (i < 0) return false;
    *value = logs->values[i];
    return true;
}

int kc_logs_size(const kc_logs *logs) { return logs ? logs->n : 0; }

const char *kc_logs_key(const kc_logs *logs, int i)
{
    return logs && i >= 0 && i < logs->n ? logs->keys[i] : NULL;
}

double kc_logs_value(const kc_logs *logs, int i)
{
    return logs && i >= 0 && i < logs->n ? logs->values[i] : 0.0;
}

kc_status kc__logs_copy(kc_logs *dst, const kc_logs *src, const char *prefix, kc_error *err)
{
    char key[512];
    for (int i = 0; i < kc_logs_size(src); i++) {
        snprintf(key, sizeof key, "%s%s", prefix ? prefix : "", src->keys[i]);
        kc_status rc = kc_logs_set(dst, key, src->values[i], err);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}
