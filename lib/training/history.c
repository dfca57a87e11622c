/* kc_history: what fit returns (Keras' History callback): per log key, one
 * value per epoch. It is filled by an internal callback fit appends last,
 * as Keras does. */
#include "training_int.h"

#include <math.h>
#include <string.h>

struct kc_history {
    int *epochs;
    int n_epochs, cap_epochs;
    char **keys;
    double **values; /* [key][epoch]; NaN where an epoch lacked the key */
    int n_keys;
};

kc_history *kc__history_new(kc_error *err)
{
    kc_history *h = kc__calloc(1, sizeof(*h));
    if (!h) kc__errf(err, KC_ENOMEM, "out of memory");
    return h;
}

void kc_history_free(kc_history *h)
{
    if (!h) return;
    for (int i = 0; i < h->n_keys; i++) {
        kc__free(h->keys[i]);
        kc__free(h->values[i]);
    }
    kc__free(h->keys);
    kc__free(h->values);
    kc__free(h->epochs);
    kc__free(h);
}

static int key_index(const kc_history *h, const char *key)
{
    for (int i = 0; i < h->n_keys; i++)
        if (strcmp(h->keys[i], key) == 0) return i;
    return -1;
}

static kc_status add_key(kc_history *h, const char *key, kc_error *err)
{
    char **k = kc__realloc(h->keys, (size_t)h->n_keys * sizeof(char *), (size_t)(h->n_keys + 1) * sizeof(char *));
    if (!k) return kc__errf(err, KC_ENOMEM, "out of memory");
    h->keys = k;
    double **v = kc__realloc(h->values, (size_t)h->n_keys * sizeof(double *), (size_t)(h->n_keys + 1) * sizeof(double *));
    if (!v) return kc__errf(err, KC_ENOMEM, "out of memory");
    h->values = v;
    h->values[h->n_keys] = kc__malloc_array((size_t)(h->cap_epochs > 0 ? h->cap_epochs : 1), sizeof(double));
    h->keys[h->n_keys] = kc__strdup(key);
    if (!h->values[h->n_keys] || !h->keys[h->n_keys]) {
        kc__free(h->values[h->n_keys]);
        kc__free(h->keys[h->n_keys]);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    for (int e = 0; e < h->n_epochs; e++) h->values[h->n_keys][e] = NAN;
    h->n_keys++;
    return KC_OK;
}

kc_status kc__history_append(kc_history *h, int epoch, const kc_logs *logs, kc_error *err)
{
    if (h->n_epochs == h->cap_epochs) {
        int cap = h->cap_epochs ? h->cap_epochs * 2 : 16;
        int *e = kc__realloc(h->epochs, (size_t)h->cap_epochs * sizeof(int), (size_t)cap * sizeof(int));
        if (!e) return kc__errf(err, KC_ENOMEM, "out of memory");
        h->epochs = e;
        for (int i = 0; i < h->n_keys; i++) {
            double *v = kc__realloc(h->values[i], (size_t)h->cap_epochs * sizeof(double), (size_t)cap * sizeof(double));
            if (!v) return kc__errf(err, KC_ENOMEM, "out of memory");
            h->values[i] = v;
        }
        h->cap_epochs = cap;
    }
    for (int i = 0; i < kc_logs_size(logs); i++)
        if (key_index(h, kc_logs_key(logs, i)) < 0) {
            kc_status rc = add_key(h, kc_logs_key(logs, i), err);
            if (rc != KC_OK) return rc;
        }
    for (int k = 0; k < h->n_keys; k++) {
        double v;
        h->values[k][h->n_epochs] = kc_logs_get(logs, h->keys[k], &v) ? v : NAN;
    }
    h->epochs[h->n_epochs++] = epoch;
    return KC_OK;
}

int kc_history_num_epochs(const kc_history *h) { return h ? h->n_epochs : 0; }
const int *kc_history_epochs(const kc_history *h) { return h ? h->epochs : NULL; }
int kc_history_num_keys(const kc_history *h) { return h ? h->n_keys : 0; }
const char *kc_history_key(const kc_history *h, int i) { return h && i >= 0 && i < h->n_keys ? h->keys[i] : NULL; }

const double *kc_history_values(const kc_history *h, const char *key)
{
    int i = h && key ? key_index(h, key) : -1;
    return i < 0 ? NULL : h->values[i];
}
