/* CSVLogger (Keras 2.15): one row per epoch, "epoch" then the log keys in
 * sorted order (fixed at the first epoch), values as Python's repr; the
 * header is written unless appending to a file that has content. The file
 * is flushed after every row, so a crash keeps the epochs done. */
#include "training_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct csv_logger {
    kc_callback *self;
    char *filename;
    char sep;
    bool append;
    FILE *f;
    char **keys;
    int n_keys;
} csv_logger;

static void drop_keys(csv_logger *c)
{
    for (int i = 0; i < c->n_keys; i++) kc__free(c->keys[i]);
    kc__free(c->keys);
    c->keys = NULL;
    c->n_keys = 0;
}

static kc_status csv_train_begin(void *user, kc_object *model, const kc_logs *logs, kc_error *err)
{
    (void)model, (void)logs;
    csv_logger *c = user;
    bool had_content = false;
    if (c->append) {
        FILE *r = fopen(c->filename, "r");
        if (r) {
            had_content = fgetc(r) != EOF;
            fclose(r);
        }
    }
    drop_keys(c);
    if (c->f) fclose(c->f);
    c->f = fopen(c->filename, c->append ? "a" : "w");
    if (!c->f) return kc__errf(err, KC_EIO, "CSVLogger: cannot open '%s': %s", c->filename, strerror(errno));
    if (had_content) c->n_keys = -1; /* keys fixed by the file: no header */
    return KC_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static kc_status csv_epoch_end(void *user, kc_object *model, int epoch, kc_logs *logs, kc_error *err)
{
    (void)model;
    csv_logger *c = user;
    if (!c->f) return kc__errf(err, KC_ESTATE, "CSVLogger: not started");
    bool header = c->n_keys == 0;
    if (c->n_keys <= 0) {
        c->n_keys = 0;
        int n = kc_logs_size(logs);
        c->keys = kc__calloc((size_t)n + 1, sizeof(char *));
        if (!c->keys) return kc__errf(err, KC_ENOMEM, "out of memory");
        for (int i = 0; i < n; i++)
            if (!(c->keys[c->n_keys++] = kc__strdup(kc_logs_key(logs, i)))) return kc__errf(err, KC_ENOMEM, "out of memory");
        qsort(c->keys, (size_t)c->n_keys, sizeof(char *), cmp_str);
    }
    if (header) {
        fprintf(c->f, "epoch");
        for (int i = 0; i < c->n_keys; i++) fprintf(c->f, "%c%s", c->sep, c->keys[i]);
        fprintf(c->f, "\r\n"); /* Python's csv module ends rows with \r\n */
    }
    fprintf(c->f, "%d", epoch);
    for (int i = 0; i < c->n_keys; i++) {
        double v;
        char cell[64] = "NA";
        if (kc_logs_get(logs, c->keys[i], &v)) kc__py_repr(v, cell, sizeof cell);
        fprintf(c->f, "%c%s", c->sep, cell);
    }
    fprintf(c->f, "\r\n");
    if (fflush(c->f) != 0) return kc__errf(err, KC_EIO, "CSVLogger: cannot write '%s': %s", c->filename, strerror(errno));
    return KC_OK;
}

static kc_status csv_train_end(void *user, kc_object *model, const kc_logs *logs, kc_error *err)
{
    (void)model, (void)logs;
    csv_logger *c = user;
    int r = c->f ? fclose(c->f) : 0;
    c->f = NULL;
    return r == 0 ? KC_OK : kc__errf(err, KC_EIO, "CSVLogger: cannot close '%s'", c->filename);
}

static void csv_destroy(void *user)
{
    csv_logger *c = user;
    if (c->f) fclose(c->f);
    drop_keys(c);
    kc__free(c->filename);
    kc__free(c);
}

static const kc_callback_methods csv_methods = {.on_train_begin = csv_train_begin,
                                                .on_epoch_end = csv_epoch_end,
                                                .on_train_end = csv_train_end,
                                                .destroy = csv_destroy};

kc_callback *kc__csv_logger_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    csv_logger *c = kc__calloc(1, sizeof(*c));
    if (!c) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    const char *fn = NULL, *sep = NULL;
    kc_status rc = kc_cfg_string(ctx, cfg, "filename", KC_CFG_REQUIRED, NULL, &fn, err);
    if (rc == KC_OK && !(c->filename = kc__strdup(fn))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc_cfg_string(ctx, cfg, "separator", 0, ",", &sep, err);
    if (rc == KC_OK && strlen(sep) != 1) rc = kc__errf(err, KC_EINVAL, "%s.separator: expected one character", ctx->path);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "append", 0, false, &c->append, err);
    if (rc != KC_OK) {
        csv_destroy(c);
        return NULL;
    }
    c->sep = sep[0];
    kc_callback *cb = kc__callback_wrap(&csv_methods, c, err);
    if (cb) {
        c->self = cb;
        cb->chief_only = true;
    }
    return cb;
}
