/* Callbacks (issue 7) against tf.keras 2.15's keras/callbacks.py: when
 * EarlyStopping stops and which weights it restores (patience, min_delta,
 * modes, baseline, start_from_epoch), which files ModelCheckpoint writes
 * and that a failed checkpoint keeps the previous file, CSVLogger's file
 * read back against the History, ReduceLROnPlateau's schedule (patience,
 * cooldown, min_lr), LearningRateScheduler, TerminateOnNaN, the progress
 * bar's text, the order and arguments of a user callback's hooks, and
 * kc_callback_create's errors.
 *
 * Monitored values are scripted: a user callback placed before the one
 * under test overwrites logs[key] in on_epoch_end (the logs are shared and
 * mutable, as Keras' dict), and snapshots the weights of every epoch so
 * that restored weights and checkpoint files can be compared with the
 * epoch they claim to come from. One test of each monitor-based callback
 * uses the real val_loss. */
#define _GNU_SOURCE /* strdup, mkdtemp */
#include "saving_util.h"

#include <dirent.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* lib/saving/h5io.c's test hook: fail the n-th HDF5 dataset write from now. */
void kc__h5_fail_write_after(int n);

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    kc_set_num_threads(tu_test_threads()); /* meson runs the suite on 1 and on 2 threads */
}

/* ---- a tiny regression problem
 * ------------------------------------------------------------------- */

#define N_TRAIN 12 /* batch 4: 3 steps per epoch */
#define N_VAL 5    /* batch 4: 2 validation steps */
#define MAX_W 8
#define MAX_EPOCHS 16

typedef struct data {
    kc_tensor *x, *y, *vx, *vy;
} data;

/* y = sign * (x0 - 2 x1) + 0.5 */
static kc_tensor *targets(kc_tensor *x, float sign)
{
    int64_t n = kc_tensor_dim(x, 0);
    kc_tensor *y = kc_tensor_zeros(KC_FLOAT32, 2, (int64_t[]){n, 1}, &err);
    CK_NN(y, err);
    const float *px = kc_tensor_f32(x);
    float *py = kc_tensor_f32(y);
    for (int64_t i = 0; i < n; i++)
        py[i] = sign * (px[2 * i] - 2 * px[2 * i + 1]) + 0.5f;
    return y;
}

/* Validation targets have the opposite sign of the training ones, so
 * val_loss rises while the model learns: EarlyStopping has something to
 * do on the real path. */
static data make_data(void)
{
    data d;
    d.x = tu_random(2, (int64_t[]){N_TRAIN, 2}, -1, 1, 11);
    d.vx = tu_random(2, (int64_t[]){N_VAL, 2}, -1, 1, 12);
    d.y = targets(d.x, 1);
    d.vy = targets(d.vx, -1);
    return d;
}

static void data_free(data *d)
{
    kc_tensor_unref(d->x);
    kc_tensor_unref(d->y);
    kc_tensor_unref(d->vx);
    kc_tensor_unref(d->vy);
}

/* Input(2) -> Dense(4, tanh) -> Dense(1), seeded weights, SGD(lr), mse;
 * `extra` is appended to the compile spec (e.g. a metrics entry). */
static kc_object *make_model(double lr, const char *extra)
{
    kc_object *m = kc_sequential_new(NULL, &err);
    CK_NN(m, err);
    kc_object *in = kc_input_layer(1, (int64_t[]){2}, NULL, &err);
    CK_NN(in, err);
    CK_OK(kc_sequential_add(m, in, &err));
    kc_object_unref(in);
    const char *cfgs[] = {"{\"units\": 4, \"activation\": \"tanh\"}", "{\"units\": 1}"};
    for (int i = 0; i < 2; i++) {
        kc_object *l = kc_layer_create("Dense", cfgs[i], &err);
        CK_NN(l, err);
        CK_OK(kc_sequential_add(m, l, &err));
        kc_object_unref(l);
    }
    su_randomize_weights(m, 7);
    char spec[512];
    snprintf(spec, sizeof spec,
             "{\"optimizer\": {\"class_name\": \"SGD\", \"config\": {\"learning_rate\": %.17g}}, "
             "\"loss\": \"mse\"%s%s}",
             lr, extra ? ", " : "", extra ? extra : "");
    kc_status rc = kc_model_compile(m, spec, NULL, &err);
    ck_assert_msg(rc == KC_OK, "compile: %s (%s)", err.message, err.context);
    return m;
}

static kc_fit_args fit_args(data *d, int epochs, kc_callback **cbs, int n_cbs)
{
    return (kc_fit_args){.x = &d->x,
                         .n_x = 1,
                         .y = &d->y,
                         .n_y = 1,
                         .batch_size = 4,
                         .epochs = epochs,
                         .no_shuffle = true,
                         .callbacks = cbs,
                         .n_callbacks = n_cbs};
}

static void with_validation(kc_fit_args *a, data *d)
{
    a->val_x = &d->vx;
    a->n_val_x = 1;
    a->val_y = &d->vy;
    a->n_val_y = 1;
}

static kc_history *fit_ok(kc_object *m, const kc_fit_args *a)
{
    kc_history *h = NULL;
    kc_error_clear(&err);
    kc_status rc = kc_model_fit(m, a, &h, &err);
    ck_assert_msg(rc == KC_OK, "fit: %s (%s)", err.message, err.context);
    return h;
}

static kc_callback *create(const char *name, const char *config)
{
    kc_callback *cb = kc_callback_create(name, config, &err);
    CK_NN(cb, err);
    return cb;
}

/* ---- weights
 * ----------------------------------------------------------------------------------------- */

typedef struct weights {
    kc_tensor *t[MAX_W];
    int n;
} weights;

static void weights_free(weights *w)
{
    for (int i = 0; i < w->n; i++)
        kc_tensor_unref(w->t[i]);
    w->n = 0;
}

static void weights_take(kc_object *m, weights *w)
{
    weights_free(w);
    int n = kc_layer_num_weights(m);
    ck_assert_int_le(n, MAX_W);
    kc_error e = {0};
    ck_assert_int_eq(kc_layer_get_weights(m, w->t, &e), KC_OK);
    w->n = n;
}

/* Bit for bit. */
static bool weights_equal(kc_object *m, const weights *w)
{
    if (kc_layer_num_weights(m) != w->n || w->n == 0) return false;
    for (int i = 0; i < w->n; i++) {
        const kc_tensor *v = kc_variable_value(kc_layer_weight(m, i));
        if (!kc_tensor_same_shape(v, w->t[i]) ||
            memcmp(kc_tensor_cdata(v), kc_tensor_cdata(w->t[i]), kc_tensor_nbytes(v)))
            return false;
    }
    return true;
}

/* ---- the script callback: scripted log values, weights per epoch
 * ------------------------------------ */

typedef struct script_key {
    const char *key;
    int n; /* epochs 0..n-1 get values[epoch]; later ones are left alone */
    double v[MAX_EPOCHS];
} script_key;

typedef struct script {
    script_key keys[4];
    int n_keys;
    weights snap[MAX_EPOCHS]; /* the weights at the end of each epoch */
    int epochs_seen;
} script;

static kc_status script_epoch_end(void *user, kc_object *model, int epoch, kc_logs *logs,
                                  kc_error *e)
{
    script *s = user;
    for (int k = 0; k < s->n_keys; k++) {
        if (epoch >= s->keys[k].n) continue;
        kc_status rc = kc_logs_set(logs, s->keys[k].key, s->keys[k].v[epoch], e);
        if (rc != KC_OK) return rc;
    }
    if (epoch < MAX_EPOCHS) weights_take(model, &s->snap[epoch]);
    s->epochs_seen++;
    return KC_OK;
}

static const kc_callback_methods script_methods = {.on_epoch_end = script_epoch_end};

static void script_free(script *s)
{
    for (int i = 0; i < MAX_EPOCHS; i++)
        weights_free(&s->snap[i]);
}

static kc_callback *script_callback(script *s)
{
    kc_callback *cb = kc_callback_new(&script_methods, s, &err);
    CK_NN(cb, err);
    return cb;
}

/* What most tests set up: the data, the model, and the script callback
 * first in the list; cbs[1] is the callback under test. */
typedef struct rig {
    data d;
    kc_object *m;
    script s;
    kc_callback *cbs[2];
} rig;

static void rig_init(rig *r, double lr, kc_callback *under_test)
{
    memset(r, 0, sizeof *r);
    r->d = make_data();
    r->m = make_model(lr, NULL);
    r->cbs[0] = script_callback(&r->s);
    r->cbs[1] = under_test;
}

/* Script `key` with n values (one per epoch), dropping the snapshots. */
static void rig_script(rig *r, const char *key, int n, const double *values)
{
    script_free(&r->s);
    r->s.n_keys = 1;
    r->s.keys[0].key = key;
    r->s.keys[0].n = n;
    memcpy(r->s.keys[0].v, values, (size_t)n * sizeof(double));
}
#define RIG_SCRIPT(r, key, ...)                                                                    \
    rig_script(r, key, (int)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)),                    \
               (double[]){__VA_ARGS__})

/* Replace the callback under test. */
static void rig_swap(rig *r, kc_callback *cb)
{
    kc_callback_free(r->cbs[1]);
    r->cbs[1] = cb;
}

static kc_fit_args rig_args(rig *r, int epochs)
{
    return fit_args(&r->d, epochs, r->cbs, 2);
}

static void rig_free(rig *r)
{
    kc_callback_free(r->cbs[0]);
    kc_callback_free(r->cbs[1]);
    script_free(&r->s);
    kc_object_unref(r->m);
    data_free(&r->d);
}

/* ---- files and text
 * ------------------------------------------------------------------------------------ */

/* snprintf that fails the test instead of truncating. */
static void fmt(char *buf, size_t n, const char *format, ...) KC_PRINTF(3, 4);
static void fmt(char *buf, size_t n, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int w = vsnprintf(buf, n, format, ap);
    va_end(ap);
    ck_assert_msg(w >= 0 && (size_t)w < n, "text too long for its buffer: %.200s", format);
}

/* A fresh folder for one test under the scratch directory. */
static const char *test_dir(const char *name)
{
    static char buf[4096];
    fmt(buf, sizeof buf, "%s/%s-XXXXXX", tu_tmpdir(), name);
    ck_assert_ptr_nonnull(mkdtemp(buf));
    return buf;
}

static const char *in_dir(const char *dir, const char *name)
{
    static char bufs[4][4096];
    static int next;
    char *b = bufs[next++ % 4];
    fmt(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* Whole file (or stream) as a NUL-terminated string; *len may be NULL. */
static char *read_stream(FILE *f, size_t *len)
{
    ck_assert_ptr_nonnull(f);
    fflush(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *s = read_stream(f, len);
    fclose(f);
    return s;
}

/* The whole text matches the POSIX extended regex. */
static void assert_matches(const char *text, const char *pattern)
{
    regex_t re;
    int rc = regcomp(&re, pattern, REG_EXTENDED);
    ck_assert_msg(rc == 0, "bad pattern %s", pattern);
    regmatch_t m;
    rc = regexec(&re, text, 1, &m, 0);
    regfree(&re);
    ck_assert_msg(rc == 0 && m.rm_so == 0 && text[m.rm_eo] == '\0',
                  "text:\n%s\ndoes not match:\n%s", text, pattern);
}

static bool contains(const char *text, const char *part)
{
    return strstr(text, part) != NULL;
}

static int count_of(const char *text, const char *part)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, part)); p += strlen(part))
        n++;
    return n;
}

/* ================================= EarlyStopping
 * =================================================== */

typedef struct es_result {
    int epochs_run; /* History length */
    int stopped;    /* kc_callback_stopped_epoch */
    double best;    /* kc_callback_best */
} es_result;

/* Fit `epochs` epochs with values[e] as logs[monitor] and an EarlyStopping
 * made from config. */
static es_result run_es(const char *monitor, int n, const double *values, const char *config,
                        int epochs)
{
    rig r;
    rig_init(&r, 0.05, create("EarlyStopping", config));
    rig_script(&r, monitor, n, values);
    kc_fit_args a = rig_args(&r, epochs);
    kc_history *h = fit_ok(r.m, &a);
    /* History runs after both: it saw the scripted values */
    const double *got = kc_history_values(h, monitor);
    ck_assert_ptr_nonnull(got);
    for (int e = 0; e < kc_history_num_epochs(h) && e < n; e++)
        ck_assert(got[e] == values[e] || (isnan(got[e]) && isnan(values[e])));
    es_result res = {kc_history_num_epochs(h), kc_callback_stopped_epoch(r.cbs[1]),
                     kc_callback_best(r.cbs[1])};
    kc_history_free(h);
    rig_free(&r);
    return res;
}

#define ES(monitor, config, epochs, ...)                                                           \
    run_es(monitor, (int)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)),                       \
           (double[]){__VA_ARGS__}, config, epochs)

static void assert_stopped(es_result r, int stopped_epoch, double best)
{
    ck_assert_int_eq(r.stopped, stopped_epoch);
    ck_assert_int_eq(r.epochs_run, stopped_epoch + 1);
    ck_assert_msg(r.best == best, "best %.17g, expected %.17g", r.best, best);
}

static void assert_ran_all(es_result r, int epochs, double best)
{
    ck_assert_int_eq(r.stopped, 0);
    ck_assert_int_eq(r.epochs_run, epochs);
    ck_assert_msg(r.best == best || (isnan(best) && isnan(r.best)), "best %.17g, expected %.17g",
                  r.best, best);
}

START_TEST(early_stopping_waits_patience_epochs_without_improvement)
{
    /* improvement at epochs 0 and 1, then two epochs without one */
    assert_stopped(ES("val_loss", "{\"patience\": 2}", 8, 1.0, 0.8, 0.9, 0.85, 0.7, 0.6), 3, 0.8);
    assert_stopped(
        ES("val_loss", "{\"patience\": 3}", 12, 1.0, 0.8, 0.9, 0.85, 0.7, 0.6, 0.65, 0.7, 0.8), 8,
        0.6);
    /* patience 0 (the default): the first epoch without improvement; equal is no improvement */
    assert_stopped(ES("val_loss", NULL, 8, 1.0, 0.5, 0.5), 2, 0.5);
    /* never before the second epoch: a NaN first value is no improvement, yet no stop */
    assert_ran_all(ES("val_loss", NULL, 3, NAN, 1.0, 0.5), 3, 0.5);
    /* improving all along: all epochs, stopped_epoch stays 0 */
    assert_ran_all(ES("val_loss", "{\"patience\": 1}", 4, 4.0, 3.0, 2.0, 1.0), 4, 1.0);
    /* the monitored key is not in the logs: Keras warns and never stops */
    assert_ran_all(ES("other", "{\"monitor\": \"val_loss\"}", 3, 1.0, 2.0, 3.0), 3, NAN);
}
END_TEST

START_TEST(early_stopping_min_delta_and_modes)
{
    /* improvements must beat best by min_delta (its sign is ignored) */
    assert_ran_all(ES("val_loss", "{\"patience\": 2}", 4, 1.0, 0.75, 0.5, 0.25), 4, 0.25);
    assert_stopped(ES("val_loss", "{\"patience\": 2, \"min_delta\": 0.5}", 4, 1.0, 0.75, 0.5, 0.25),
                   2, 1.0);
    assert_stopped(
        ES("val_loss", "{\"patience\": 2, \"min_delta\": -0.5}", 4, 1.0, 0.75, 0.5, 0.25), 2, 1.0);
    /* max: rising is improving; min on the same values stops */
    assert_stopped(ES("val_score",
                      "{\"monitor\": \"val_score\", \"mode\": \"max\", \"patience\": 2}", 6, 0.5,
                      0.625, 0.5625, 0.59375),
                   3, 0.625);
    assert_stopped(ES("val_score",
                      "{\"monitor\": \"val_score\", \"mode\": \"min\", \"patience\": 2}", 6, 0.5,
                      0.625, 0.5625, 0.59375),
                   2, 0.5);
    assert_stopped(ES("val_score",
                      "{\"monitor\": \"val_score\", \"mode\": \"max\", \"min_delta\": 0.25}", 6,
                      0.5, 0.625),
                   1, 0.5);
    /* auto: max for accuracy-like names (and auc), min otherwise */
    const char *up[] = {"val_accuracy", "accuracy", "val_acc", "val_sparse_categorical_accuracy",
                        "val_auc"};
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
        char cfg[128];
        fmt(cfg, sizeof cfg, "{\"monitor\": \"%s\"}", up[i]);
        assert_ran_all(ES(up[i], cfg, 4, 0.25, 0.5, 0.75, 0.875), 4, 0.875);
        assert_stopped(ES(up[i], cfg, 4, 0.875, 0.75), 1, 0.875);
    }
    const char *down[] = {"val_loss", "loss", "val_mae", "val_mean_squared_error"};
    for (size_t i = 0; i < sizeof down / sizeof down[0]; i++) {
        char cfg[128];
        fmt(cfg, sizeof cfg, "{\"monitor\": \"%s\", \"mode\": \"auto\"}", down[i]);
        assert_stopped(ES(down[i], cfg, 4, 0.25, 0.5, 0.75, 0.875), 1, 0.25);
    }
}
END_TEST

START_TEST(early_stopping_baseline_and_start_from_epoch)
{
    /* Keras 2.15: a new best that does not beat the baseline keeps the
     * patience count running (but an improving epoch never stops) */
    const char *with = "{\"patience\": 2, \"baseline\": 0.5}", *without = "{\"patience\": 2}";
    assert_stopped(ES("val_loss", with, 6, 0.9, 0.8, 0.85, 0.84, 0.83), 2, 0.8);
    assert_stopped(ES("val_loss", without, 6, 0.9, 0.8, 0.85, 0.84, 0.83), 3, 0.8);
    assert_ran_all(ES("val_loss", with, 4, 0.9, 0.8, 0.7, 0.6), 4, 0.6);
    /* beating the baseline restarts the count as usual */
    assert_stopped(ES("val_loss", with, 6, 0.4, 0.3, 0.35, 0.34, 0.33), 3, 0.3);
    /* baseline null is no baseline */
    assert_stopped(
        ES("val_loss", "{\"patience\": 2, \"baseline\": null}", 6, 0.9, 0.8, 0.85, 0.84, 0.83), 3,
        0.8);
    /* start_from_epoch: earlier epochs are not looked at */
    assert_stopped(ES("val_loss", "{\"patience\": 1}", 5, 0.1, 0.2, 1.0, 1.1, 1.2), 1, 0.1);
    assert_stopped(
        ES("val_loss", "{\"patience\": 1, \"start_from_epoch\": 2}", 5, 0.1, 0.2, 1.0, 1.1, 1.2), 3,
        1.0);
    /* the epoch > 0 rule is about the epoch number, not the first monitored one */
    assert_stopped(ES("val_loss", "{\"start_from_epoch\": 2}", 5, 0.1, 0.2, 1.0, 1.1, 1.2), 3, 1.0);
}
END_TEST

START_TEST(early_stopping_restores_the_best_weights)
{
    rig r;
    rig_init(&r, 0.05,
             create("EarlyStopping",
                    "{\"patience\": 2, \"restore_best_weights\": true, \"verbose\": 1}"));
    RIG_SCRIPT(&r, "val_loss", 1.0, 0.8, 0.9, 0.85, 0.7, 0.6);
    FILE *out = tmpfile();
    kc_callback_set_output(r.cbs[1], out);
    kc_fit_args a = rig_args(&r, 8);
    kc_history *h = fit_ok(r.m, &a);
    ck_assert_int_eq(kc_history_num_epochs(h), 4);
    ck_assert_int_eq(kc_callback_stopped_epoch(r.cbs[1]), 3);
    /* the weights of the end of epoch 1, not those of the last epoch */
    ck_assert(weights_equal(r.m, &r.s.snap[1]));
    ck_assert(!weights_equal(r.m, &r.s.snap[3]));
    char *text = read_stream(out, NULL);
    ck_assert_msg(contains(text, "Restoring model weights from the end of the best epoch: 2.\n"),
                  "%s", text);
    ck_assert_msg(contains(text, "Epoch 4: early stopping\n"), "%s", text);
    free(text);
    fclose(out);
    kc_history_free(h);

    /* no improvement after the first epoch: its weights come back; the
     * callback is reusable (its state restarts with each fit) */
    rig_swap(&r, create("EarlyStopping", "{\"patience\": 1, \"restore_best_weights\": true}"));
    RIG_SCRIPT(&r, "val_loss", 1.0, 2.0, 3.0);
    h = fit_ok(r.m, &a);
    ck_assert_int_eq(kc_callback_stopped_epoch(r.cbs[1]), 1);
    ck_assert(kc_callback_best(r.cbs[1]) == 1.0);
    ck_assert(weights_equal(r.m, &r.s.snap[0]));
    kc_history_free(h);
    RIG_SCRIPT(&r, "val_loss", 3.0, 2.0, 2.5);
    h = fit_ok(r.m, &a); /* the same EarlyStopping again */
    ck_assert_int_eq(kc_callback_stopped_epoch(r.cbs[1]), 2);
    ck_assert(kc_callback_best(r.cbs[1]) == 2.0);
    ck_assert(weights_equal(r.m, &r.s.snap[1]));
    kc_history_free(h);

    /* training that ends without stopping keeps the last weights (Keras 2.15) */
    rig_swap(&r, create("EarlyStopping", "{\"patience\": 5, \"restore_best_weights\": true}"));
    RIG_SCRIPT(&r, "val_loss", 1.0, 1.5, 1.25);
    a.epochs = 3;
    h = fit_ok(r.m, &a);
    ck_assert_int_eq(kc_callback_stopped_epoch(r.cbs[1]), 0);
    ck_assert(kc_callback_best(r.cbs[1]) == 1.0);
    ck_assert(weights_equal(r.m, &r.s.snap[2]));
    kc_history_free(h);

    /* with start_from_epoch, the first weights kept are those of the first monitored epoch */
    rig_swap(&r,
             create("EarlyStopping",
                    "{\"patience\": 1, \"restore_best_weights\": true, \"start_from_epoch\": 1}"));
    RIG_SCRIPT(&r, "val_loss", 0.1, 5.0, 6.0, 7.0);
    a.epochs = 6;
    h = fit_ok(r.m, &a);
    ck_assert_int_eq(kc_callback_stopped_epoch(r.cbs[1]), 2);
    ck_assert(weights_equal(r.m, &r.s.snap[1]));
    kc_history_free(h);
    rig_free(&r);
}
END_TEST

/* The real val_loss (validation targets of the opposite sign: it rises as
 * the model learns): the stop follows Keras' rule applied to the History,
 * and the restored weights give the best val_loss again. */
START_TEST(early_stopping_on_the_real_val_loss)
{
    rig r; /* no scripted keys: only the snapshots */
    rig_init(&r, 0.05,
             create("EarlyStopping", "{\"patience\": 1, \"restore_best_weights\": true}"));
    kc_fit_args a = rig_args(&r, 10);
    with_validation(&a, &r.d);
    kc_history *h = fit_ok(r.m, &a);
    const double *vl = kc_history_values(h, "val_loss");
    ck_assert_ptr_nonnull(vl);
    int n = kc_history_num_epochs(h);
    /* Keras' rule on the History */
    double best = INFINITY;
    int wait = 0, stop = 0, best_epoch = -1;
    for (int e = 0; e < n && !stop; e++) {
        wait++;
        if (vl[e] < best) {
            best = vl[e];
            best_epoch = e;
            wait = 0;
        } else if (wait >= 1 && e > 0) {
            stop = e;
        }
    }
    ck_assert_msg(stop > 0, "val_loss never rose: the data no longer exercise EarlyStopping");
    ck_assert_int_eq(kc_callback_stopped_epoch(r.cbs[1]), stop);
    ck_assert_int_eq(n, stop + 1);
    ck_assert(kc_callback_best(r.cbs[1]) == best);
    ck_assert(weights_equal(r.m, &r.s.snap[best_epoch]));
    kc_fit_args ev = {.x = &r.d.vx, .n_x = 1, .y = &r.d.vy, .n_y = 1, .batch_size = 4};
    kc_logs *logs = NULL;
    CK_OK(kc_model_evaluate(r.m, &ev, &logs, &err));
    double loss;
    ck_assert(kc_logs_get(logs, "loss", &loss));
    ck_assert_msg(fabs(loss - best) <= 1e-6 * fabs(best), "evaluate %.9g, best val_loss %.9g", loss,
                  best);
    kc_logs_free(logs);
    kc_history_free(h);
    rig_free(&r);
}
END_TEST

/* ================================= ModelCheckpoint
 * ================================================= */

START_TEST(model_checkpoint_saves_only_improvements)
{
    const char *dir = test_dir("ckpt");
    char cfg[4200];
    fmt(cfg, sizeof cfg,
        "{\"filepath\": \"%s/ck-{epoch:02d}-{val_loss:.4f}.h5\", \"save_best_only\": true}", dir);
    rig r;
    rig_init(&r, 0.05, create("ModelCheckpoint", cfg));
    RIG_SCRIPT(&r, "val_loss", 0.5, 0.25, 0.375, 0.125, 0.125);
    kc_fit_args a = rig_args(&r, 5);
    kc_history_free(fit_ok(r.m, &a));
    /* epochs 1, 2 and 4 improved (0.375 did not, nor did an equal 0.125) */
    const char *saved[] = {"ck-01-0.5000.h5", "ck-02-0.2500.h5", "ck-04-0.1250.h5"};
    const int saved_epoch[] = {0, 1, 3};
    ck_assert_int_eq(count_files(dir), 3);
    for (int i = 0; i < 3; i++) {
        const char *p = in_dir(dir, saved[i]);
        ck_assert_msg(file_exists(p), "%s is missing", saved[i]);
        /* a full model, with the weights of its epoch */
        kc_object *back = kc_model_load(p, NULL, &err);
        CK_NN(back, err);
        ck_assert(kc_model_is_compiled(back));
        ck_assert(weights_equal(back, &r.s.snap[saved_epoch[i]]));
        kc_object_unref(back);
    }
    ck_assert(kc_callback_best(r.cbs[1]) == 0.125);

    /* without save_best_only: every epoch; "{epoch}" is 1-based, unpadded */
    fmt(cfg, sizeof cfg, "{\"filepath\": \"%s/all-{epoch}.h5\"}", dir);
    rig_swap(&r, create("ModelCheckpoint", cfg));
    a.epochs = 3;
    kc_history_free(fit_ok(r.m, &a));
    ck_assert_int_eq(count_files(dir), 6);
    for (int e = 1; e <= 3; e++) {
        char name[32];
        snprintf(name, sizeof name, "all-%d.h5", e);
        kc_object *back = kc_model_load(in_dir(dir, name), NULL, &err);
        CK_NN(back, err);
        ck_assert(weights_equal(back, &r.s.snap[e - 1]));
        kc_object_unref(back);
    }
    rig_free(&r);
}
END_TEST

START_TEST(model_checkpoint_weights_only_modes_and_threshold)
{
    const char *dir = test_dir("ckpt-w");
    char cfg[4200];
    /* one file name: overwritten by each improvement; auto is max for val_acc */
    fmt(cfg, sizeof cfg,
        "{\"filepath\": \"%s/best.h5\", \"monitor\": \"val_acc\", \"save_best_only\": true, "
        "\"save_weights_only\": true, \"verbose\": 1}",
        dir);
    rig r;
    rig_init(&r, 0.05, create("ModelCheckpoint", cfg));
    RIG_SCRIPT(&r, "val_acc", 0.5, 0.75, 0.625, 0.875);
    FILE *out = tmpfile();
    kc_callback_set_output(r.cbs[1], out);
    kc_fit_args a = rig_args(&r, 3);
    kc_history_free(fit_ok(r.m, &a));
    ck_assert_int_eq(count_files(dir), 1);
    const char *best = in_dir(dir, "best.h5");
    /* weights only: not a model file, but load_weights reads it */
    ck_assert_ptr_null(kc_model_load(best, NULL, &err));
    kc_error_clear(&err);
    kc_object *other = make_model(0.05, NULL);
    su_randomize_weights(other, 99);
    CK_OK(kc_model_load_weights(other, best, NULL, &err));
    ck_assert(weights_equal(other, &r.s.snap[1]));
    kc_object_unref(other);
    /* Keras 2.15's messages */
    char *text = read_stream(out, NULL);
    char want[8192];
    fmt(want, sizeof want,
        "\nEpoch 1: val_acc improved from -inf to 0.50000, saving model to %s\n"
        "\nEpoch 2: val_acc improved from 0.50000 to 0.75000, saving model to %s\n"
        "\nEpoch 3: val_acc did not improve from 0.75000\n",
        best, best);
    ck_assert_str_eq(text, want);
    free(text);
    fclose(out);

    /* mode min on the same key; initial_value_threshold must be beaten first */
    fmt(cfg, sizeof cfg,
        "{\"filepath\": \"%s/t-{epoch}.h5\", \"monitor\": \"val_acc\", \"mode\": \"min\", "
        "\"save_best_only\": true, \"initial_value_threshold\": 0.6}",
        dir);
    rig_swap(&r, create("ModelCheckpoint", cfg));
    a.epochs = 4;
    RIG_SCRIPT(&r, "val_acc", 0.75, 0.625, 0.5, 0.5625);
    kc_history_free(fit_ok(r.m, &a));
    ck_assert_int_eq(count_files(dir), 2);
    ck_assert(file_exists(in_dir(dir, "t-3.h5")));
    ck_assert(kc_callback_best(r.cbs[1]) == 0.5);

    /* a missing monitored key: nothing saved (Keras warns and skips) */
    fmt(cfg, sizeof cfg, "{\"filepath\": \"%s/none-{epoch}.h5\", \"save_best_only\": true}", dir);
    rig_swap(&r, create("ModelCheckpoint", cfg));
    kc_history_free(fit_ok(r.m, &a));
    ck_assert_int_eq(count_files(dir), 2);
    rig_free(&r);
}
END_TEST

/* On the real val_loss: the files written are the epochs where the
 * History's val_loss reached a new minimum. */
START_TEST(model_checkpoint_on_the_real_val_loss)
{
    const char *dir = test_dir("ckpt-real");
    data d = make_data();
    kc_object *m = make_model(0.05, NULL);
    char cfg[4200];
    fmt(cfg, sizeof cfg, "{\"filepath\": \"%s/r-{epoch:02d}.h5\", \"save_best_only\": true}", dir);
    kc_callback *cb = create("ModelCheckpoint", cfg);
    kc_fit_args a = fit_args(&d, 6, &cb, 1);
    with_validation(&a, &d);
    kc_history *h = fit_ok(m, &a);
    const double *vl = kc_history_values(h, "val_loss");
    double best = INFINITY;
    int n_saved = 0;
    for (int e = 0; e < kc_history_num_epochs(h); e++) {
        char name[32];
        snprintf(name, sizeof name, "r-%02d.h5", e + 1);
        bool improved = vl[e] < best;
        if (improved) {
            best = vl[e];
            n_saved++;
        }
        ck_assert_msg(file_exists(in_dir(dir, name)) == improved, "epoch %d: val_loss %.9g", e + 1,
                      vl[e]);
    }
    ck_assert_int_eq(count_files(dir), n_saved);
    ck_assert(kc_callback_best(cb) == best);
    kc_history_free(h);
    kc_callback_free(cb);
    kc_object_unref(m);
    data_free(&d);
}
END_TEST

static kc_status fit_with_checkpoint(kc_object *m, data *d, const char *filepath_pattern,
                                     kc_callback *before)
{
    char cfg[16384];
    fmt(cfg, sizeof cfg, "{\"filepath\": \"%s\"}", filepath_pattern);
    kc_callback *cbs[2] = {before, create("ModelCheckpoint", cfg)};
    kc_fit_args a = before ? fit_args(d, 2, cbs, 2) : fit_args(d, 2, cbs + 1, 1);
    kc_history *h = NULL;
    kc_error_clear(&err);
    kc_status rc = kc_model_fit(m, &a, &h, &err);
    if (rc != KC_OK) ck_assert_ptr_null(h);
    kc_history_free(h);
    kc_callback_free(cbs[1]);
    return rc;
}

START_TEST(model_checkpoint_bad_patterns_give_named_errors)
{
    const char *dir = test_dir("ckpt-bad");
    data d = make_data();
    kc_object *m = make_model(0.05, NULL);
    static const struct {
        const char *pattern;
        kc_status code;
        const char *needle;
    } bad[] = {
        {"x-{nope}.h5", KC_EINVAL, "'{nope}'"},           /* not a log key */
        {"x-{epoch:q}.h5", KC_EINVAL, "':q'"},            /* unknown format type */
        {"x-{epoch:02d.h5", KC_EINVAL, "unterminated"},   /* no closing brace */
        {"x-{loss:d}.h5", KC_EINVAL, "integer"},          /* 'd' of a float, as Python refuses */
        {"x-{epoch:>5}.h5", KC_EINVAL, "':>5'"},          /* alignment is not supported */
        {"x-}.h5", KC_EINVAL, "single '}'"},              /* as Python refuses */
        {"x-{epoch:99999999999d}.h5", KC_ELIMIT, "wide"}, /* no overflow parsing the width */
        {"x-{loss:.101f}.h5", KC_ELIMIT, "wide"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kc_status rc = fit_with_checkpoint(m, &d, in_dir(dir, bad[i].pattern), NULL);
        ck_assert_msg(rc == bad[i].code, "%s: %s", bad[i].pattern, kc_status_name(rc));
        CK_ERR(err, bad[i].code, bad[i].needle);
        CK_ERR(err, bad[i].code, "ModelCheckpoint filepath");
    }
    /* a path longer than a path can be is refused, not cut */
    char *long_name = malloc(5000);
    memset(long_name, 'a', 4999);
    long_name[4999] = '\0';
    ck_assert_int_eq(fit_with_checkpoint(m, &d, long_name, NULL), KC_ELIMIT);
    CK_ERR(err, KC_ELIMIT, "too long");
    memcpy(long_name + 4000, "{epoch:0100d}", 13);
    long_name[4013] = '\0';
    ck_assert_int_eq(fit_with_checkpoint(m, &d, long_name, NULL), KC_ELIMIT);
    free(long_name);
    ck_assert_int_eq(count_files(dir), 0);
    /* doubled braces are literal braces; other specs as Python formats them */
    CK_OK(fit_with_checkpoint(
        m, &d, in_dir(dir, "{{x}}-{epoch:03}-{loss:.2e}-{epoch:.1f}-{loss:6.1%}.h5"), NULL));
    int found = 0;
    DIR *dd = opendir(dir);
    for (struct dirent *e; (e = readdir(dd));) {
        if (e->d_name[0] == '.') continue;
        found++;
        assert_matches(
            e->d_name,
            "\\{x\\}-00[12]-[0-9]\\.[0-9]{2}e[-+][0-9]{2}-[12]\\.0-[ 0-9]+\\.[0-9]%\\.h5");
    }
    closedir(dd);
    ck_assert_int_eq(found, 2);
    kc_object_unref(m);
    data_free(&d);
}
END_TEST

static kc_status fail_next_save(void *user, kc_object *model, int epoch, kc_logs *logs, kc_error *e)
{
    (void)user, (void)model, (void)logs, (void)e;
    if (epoch == 0) kc__h5_fail_write_after(1);
    return KC_OK;
}
static const kc_callback_methods fail_next_save_methods = {.on_epoch_end = fail_next_save};

START_TEST(model_checkpoint_failure_keeps_the_previous_file)
{
    const char *dir = test_dir("ckpt-atomic");
    data d = make_data();
    kc_object *m = make_model(0.05, NULL);
    const char *path = in_dir(dir, "keep.h5");
    CK_OK(fit_with_checkpoint(m, &d, path, NULL));
    kc_object *saved = kc_model_load(path, NULL, &err);
    CK_NN(saved, err);
    size_t len0;
    char *before = read_file(path, &len0);
    /* the next fit's first save fails at its first dataset write */
    kc_callback *failer = kc_callback_new(&fail_next_save_methods, NULL, &err);
    CK_NN(failer, err);
    kc_status rc = fit_with_checkpoint(m, &d, path, failer);
    kc__h5_fail_write_after(0);
    ck_assert_int_eq(rc, KC_EIO);
    CK_ERR(err, KC_EIO, "injected");
    CK_ERR(err, KC_EIO, "ModelCheckpoint");
    CK_ERR(err, KC_EIO, "on_epoch_end");
    size_t len1;
    char *after = read_file(path, &len1);
    ck_assert(len0 == len1 && memcmp(before, after, len0) == 0);
    ck_assert_int_eq(count_files(dir), 1); /* no temporary left behind */
    kc_object *back = kc_model_load(path, NULL, &err);
    CK_NN(back, err);
    su_assert_same_weights(saved, back);
    kc_object_unref(back);
    kc_object_unref(saved);
    free(before);
    free(after);
    kc_callback_free(failer);

    /* a folder that does not exist: fit returns the saver's error */
    rc = fit_with_checkpoint(m, &d, in_dir(dir, "missing/ck-{epoch}.h5"), NULL);
    ck_assert_int_eq(rc, KC_EIO);
    CK_ERR(err, KC_EIO, "missing/ck-1.h5");
    CK_ERR(err, KC_EIO, "ModelCheckpoint");
    /* an existing folder as the file path */
    rc = fit_with_checkpoint(m, &d, dir, NULL);
    ck_assert_int_ne(rc, KC_OK);
    ck_assert_int_eq(count_files(dir), 1);
    kc_object_unref(m);
    data_free(&d);
}
END_TEST

/* ================================= CSVLogger
 * ======================================================= */

/* Rows of a CSV file ending each line with \r\n; cells split at sep. */
typedef struct csv {
    char *text;
    char *rows[64];
    int n_rows;
} csv;

static void csv_read(csv *c, const char *path)
{
    c->text = read_file(path, NULL);
    c->n_rows = 0;
    char *p = c->text;
    while (*p) {
        char *end = strstr(p, "\r\n");
        ck_assert_msg(end != NULL, "a row does not end with \\r\\n: %s", p);
        *end = '\0';
        ck_assert_msg(strchr(p, '\n') == NULL, "a bare \\n in %s", p);
        ck_assert_int_lt(c->n_rows, 64);
        c->rows[c->n_rows++] = p;
        p = end + 2;
    }
}

/* Cell `col` of `row` (a static copy). */
static const char *csv_cell(const char *row, char sep, int col)
{
    static char buf[256];
    const char *p = row;
    for (int i = 0; i < col; i++) {
        p = strchr(p, sep);
        ck_assert_ptr_nonnull(p);
        p++;
    }
    size_t n = strcspn(p, (char[]){sep, '\0'});
    ck_assert_int_lt(n, sizeof buf);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static int csv_cols(const char *row, char sep)
{
    return count_of(row, (char[]){sep, '\0'}) + 1;
}

/* Every row after the header equals the History: epoch numbers, and each
 * value read back with strtod is the History's double. */
static void assert_csv_matches_history(const csv *c, int first_row, char sep, const kc_history *h)
{
    const char *header = c->rows[0];
    int cols = csv_cols(header, sep);
    ck_assert_int_eq(c->n_rows - first_row, kc_history_num_epochs(h));
    for (int r = first_row; r < c->n_rows; r++) {
        int e = r - first_row;
        ck_assert_int_eq(csv_cols(c->rows[r], sep), cols);
        ck_assert_int_eq(atoi(csv_cell(c->rows[r], sep, 0)), kc_history_epochs(h)[e]);
        for (int k = 1; k < cols; k++) {
            char key[256];
            snprintf(key, sizeof key, "%s", csv_cell(header, sep, k));
            const double *vals = kc_history_values(h, key);
            ck_assert_msg(vals != NULL, "column %s is not in the History", key);
            const char *cell = csv_cell(c->rows[r], sep, k);
            char *end;
            double v = strtod(cell, &end);
            ck_assert_msg(*end == '\0' && end != cell, "cell '%s'", cell);
            ck_assert_msg(v == vals[e], "%s[%d]: csv %s, History %.17g", key, e, cell, vals[e]);
        }
    }
}

START_TEST(csv_logger_file_parses_and_equals_the_history)
{
    const char *dir = test_dir("csv");
    const char *path = in_dir(dir, "log.csv");
    data d = make_data();
    kc_object *m = make_model(0.05, "\"metrics\": [\"mae\"]");
    char cfg[4200];
    fmt(cfg, sizeof cfg, "{\"filename\": \"%s\"}", path);
    kc_callback *cb = create("CSVLogger", cfg);
    kc_fit_args a = fit_args(&d, 3, &cb, 1);
    with_validation(&a, &d);
    kc_history *h = fit_ok(m, &a);
    csv c;
    csv_read(&c, path);
    ck_assert_int_eq(c.n_rows, 4);
    ck_assert_str_eq(c.rows[0], "epoch,loss,mae,val_loss,val_mae"); /* sorted keys */
    assert_csv_matches_history(&c, 1, ',', h);
    free(c.text);
    kc_history_free(h);

    /* append: rows follow, no second header; initial_epoch numbers them */
    kc_callback_free(cb);
    fmt(cfg, sizeof cfg, "{\"filename\": \"%s\", \"append\": true}", path);
    cb = create("CSVLogger", cfg);
    a.initial_epoch = 3;
    a.epochs = 5;
    h = fit_ok(m, &a);
    csv_read(&c, path);
    ck_assert_int_eq(c.n_rows, 6);
    ck_assert_int_eq(count_of(c.text, "epoch"), 1);
    ck_assert_str_eq(csv_cell(c.rows[4], ',', 0), "3");
    ck_assert_str_eq(csv_cell(c.rows[5], ',', 0), "4");
    assert_csv_matches_history(&(csv){.rows = {c.rows[0], c.rows[4], c.rows[5]}, .n_rows = 3}, 1,
                               ',', h);
    free(c.text);
    kc_history_free(h);

    /* append to an empty file writes the header; without append the file is replaced */
    kc_callback_free(cb);
    FILE *f = fopen(path, "w");
    fclose(f);
    cb = create("CSVLogger", cfg);
    a.initial_epoch = 0;
    a.epochs = 1;
    kc_history_free(fit_ok(m, &a));
    csv_read(&c, path);
    ck_assert_int_eq(c.n_rows, 2);
    ck_assert_str_eq(c.rows[0], "epoch,loss,mae,val_loss,val_mae");
    free(c.text);
    kc_callback_free(cb);

    /* separator */
    fmt(cfg, sizeof cfg, "{\"filename\": \"%s\", \"separator\": \";\"}", path);
    cb = create("CSVLogger", cfg);
    a.epochs = 2;
    h = fit_ok(m, &a);
    csv_read(&c, path);
    ck_assert_int_eq(c.n_rows, 3);
    ck_assert_str_eq(c.rows[0], "epoch;loss;mae;val_loss;val_mae");
    ck_assert(strchr(c.text, ',') == NULL);
    assert_csv_matches_history(&c, 1, ';', h);
    free(c.text);
    kc_history_free(h);
    /* the same logger in another fit starts the file again */
    a.epochs = 1;
    h = fit_ok(m, &a);
    csv_read(&c, path);
    ck_assert_int_eq(c.n_rows, 2);
    ck_assert_str_eq(c.rows[0], "epoch;loss;mae;val_loss;val_mae");
    assert_csv_matches_history(&c, 1, ';', h);
    free(c.text);
    kc_history_free(h);
    kc_callback_free(cb);
    kc_object_unref(m);
    data_free(&d);
}
END_TEST

/* Cells are Python's repr of the value; the columns are fixed by the first
 * epoch; a key missing later is "NA". */
START_TEST(csv_logger_cells_are_python_repr)
{
    const char *dir = test_dir("csv-repr");
    const char *path = in_dir(dir, "log.csv");
    char cfg[4200];
    fmt(cfg, sizeof cfg, "{\"filename\": \"%s\"}", path);
    rig r;
    rig_init(&r, 0.05, create("CSVLogger", cfg));
    r.s = (script){.n_keys = 4,
                   .keys = {{"a", 3, {0.1, 2.0, 1e16}},
                            {"b", 3, {1e-05, -0.0, 123456.789}},
                            {"c", 3, {0.0001, NAN, INFINITY}},
                            {"d", 1, {1.0 / 3.0}}}};
    kc_fit_args a = rig_args(&r, 3);
    kc_history *h = fit_ok(r.m, &a);
    csv c;
    csv_read(&c, path);
    ck_assert_int_eq(c.n_rows, 4);
    ck_assert_str_eq(c.rows[0], "epoch,a,b,c,d,loss");
    static const char *want[3][4] = {{"0.1", "1e-05", "0.0001", "0.3333333333333333"},
                                     {"2.0", "-0.0", "nan", "NA"},
                                     {"1e+16", "123456.789", "inf", "NA"}};
    for (int e = 0; e < 3; e++)
        for (int k = 0; k < 4; k++)
            ck_assert_str_eq(csv_cell(c.rows[e + 1], ',', k + 1), want[e][k]);
    free(c.text);
    kc_history_free(h);

    /* a file that cannot be created: fit fails at train begin, naming it */
    fmt(cfg, sizeof cfg, "{\"filename\": \"%s/missing/log.csv\"}", dir);
    rig_swap(&r, create("CSVLogger", cfg));
    kc_history *h2 = NULL;
    ck_assert_int_eq(kc_model_fit(r.m, &a, &h2, &err), KC_EIO);
    ck_assert_ptr_null(h2);
    CK_ERR(err, KC_EIO, "missing/log.csv");
    CK_ERR(err, KC_EIO, "on_train_begin");
    rig_free(&r);
}
END_TEST

/* ================================= ReduceLROnPlateau
 * =============================================== */

typedef struct lr_run {
    double lr[MAX_EPOCHS]; /* the History's "lr" */
    int epochs;
    double final_lr;
    char *text; /* verbose output (malloc'ed) */
} lr_run;

static lr_run run_reduce_lr(double lr0, const char *config, int n, const double *values, int epochs)
{
    rig r;
    rig_init(&r, lr0, create("ReduceLROnPlateau", config));
    rig_script(&r, "val_loss", n, values);
    FILE *out = tmpfile();
    kc_callback_set_output(r.cbs[1], out);
    kc_fit_args a = rig_args(&r, epochs);
    kc_history *h = fit_ok(r.m, &a);
    lr_run res = {.epochs = kc_history_num_epochs(h)};
    const double *lr = kc_history_values(h, "lr");
    ck_assert_ptr_nonnull(lr);
    memcpy(res.lr, lr, (size_t)res.epochs * sizeof(double));
    res.final_lr = kc_optimizer_current_lr(kc_model_optimizer(r.m));
    res.text = read_stream(out, NULL);
    fclose(out);
    kc_history_free(h);
    rig_free(&r);
    return res;
}

#define RLR(config, epochs, ...)                                                                   \
    run_reduce_lr(0.1, config, (int)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)),            \
                  (double[]){__VA_ARGS__}, epochs)

static void assert_lrs(const lr_run *r, int n, const double *want, double final)
{
    ck_assert_int_eq(r->epochs, n);
    for (int e = 0; e < n; e++)
        ck_assert_msg(fabs(r->lr[e] - want[e]) <= 1e-12, "lr[%d] = %.17g, expected %.17g", e,
                      r->lr[e], want[e]);
    ck_assert_msg(fabs(r->final_lr - final) <= 1e-12, "final lr %.17g, expected %.17g", r->final_lr,
                  final);
}

#define ASSERT_LRS(run, final, ...)                                                                \
    assert_lrs(&(run), (int)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)),                    \
               (double[]){__VA_ARGS__}, final)

START_TEST(reduce_lr_on_plateau_changes_the_rate)
{
    /* "lr" in the logs is the rate the epoch trained with (set before reducing) */
    lr_run r =
        RLR("{\"factor\": 0.5, \"patience\": 2, \"verbose\": 1}", 6, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0);
    ASSERT_LRS(r, 0.025, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025);
    ck_assert_str_eq(r.text, "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.05.\n"
                             "\nEpoch 5: ReduceLROnPlateau reducing learning rate to 0.025.\n");
    free(r.text);
    /* improvements (by more than min_delta) restart the count */
    r = RLR("{\"factor\": 0.5, \"patience\": 2}", 6, 1.0, 0.5, 0.6, 0.25, 0.3, 0.4);
    ASSERT_LRS(r, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1);
    free(r.text);
    r = RLR("{\"factor\": 0.5, \"patience\": 1, \"min_delta\": 0.25}", 3, 1.0, 0.8, 0.5);
    ASSERT_LRS(r, 0.05, 0.1, 0.1, 0.05);
    free(r.text);
    /* max mode */
    r = RLR("{\"factor\": 0.5, \"patience\": 1, \"mode\": \"max\"}", 3, 1.0, 0.5, 2.0);
    ASSERT_LRS(r, 0.05, 0.1, 0.1, 0.05);
    free(r.text);
    /* the message shows the new rate as NumPy prints Keras' float32 */
    r = run_reduce_lr(0.123456789, "{\"factor\": 0.5, \"patience\": 1, \"verbose\": 1}", 2,
                      (double[]){1.0, 1.0}, 2);
    ck_assert_str_eq(r.text,
                     "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.061728396.\n");
    free(r.text);
    r = RLR("{\"factor\": 0.1, \"patience\": 1, \"verbose\": 1}", 4, 1.0, 1.0, 1.0, 1.0);
    ck_assert_str_eq(r.text, "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.01.\n"
                             "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.001.\n"
                             "\nEpoch 4: ReduceLROnPlateau reducing learning rate to 0.0001.\n");
    free(r.text);
    /* Keras' defaults: factor 0.1, patience 10, min_delta 1e-4 (smaller steps are no improvement)
     */
    r = RLR(NULL, 12, 1.0, 0.99995, 0.99995, 0.99995, 0.99995, 0.99995, 0.99995, 0.99995, 0.99995,
            0.99995, 0.99995, 0.99995);
    ASSERT_LRS(r, 0.01, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01);
    free(r.text);
    r = RLR("{\"min_delta\": 0}", 12, 1.0, 0.99995, 0.99995, 0.99995, 0.99995, 0.99995, 0.99995,
            0.99995, 0.99995, 0.99995, 0.99995, 0.99995);
    ASSERT_LRS(r, 0.01, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1);
    free(r.text);
}
END_TEST

START_TEST(reduce_lr_on_plateau_cooldown_and_min_lr)
{
    /* patience 1: every epoch without improvement reduces ... */
    lr_run r = RLR("{\"factor\": 0.5, \"patience\": 1}", 6, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0);
    ASSERT_LRS(r, 0.003125, 0.1, 0.1, 0.05, 0.025, 0.0125, 0.00625);
    free(r.text);
    /* ... cooldown 2: after a reduction two epochs pass before counting again
     * (Keras decrements the cooldown before looking, so cooldown 1 changes nothing) */
    r = RLR("{\"factor\": 0.5, \"patience\": 1, \"cooldown\": 2}", 6, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0);
    ASSERT_LRS(r, 0.0125, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025);
    free(r.text);
    r = RLR("{\"factor\": 0.5, \"patience\": 1, \"cooldown\": 1}", 6, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0);
    ASSERT_LRS(r, 0.003125, 0.1, 0.1, 0.05, 0.025, 0.0125, 0.00625);
    free(r.text);
    /* min_lr is a floor, and once there nothing more happens (no message) */
    r = RLR("{\"factor\": 0.1, \"patience\": 1, \"min_lr\": 0.005, \"verbose\": 1}", 5, 1.0, 1.0,
            1.0, 1.0, 1.0);
    ASSERT_LRS(r, 0.005, 0.1, 0.1, 0.01, 0.005, 0.005);
    ck_assert_int_eq(count_of(r.text, "reducing"), 2);
    free(r.text);
    /* factor 0 is allowed (Keras only refuses >= 1) */
    r = RLR("{\"factor\": 0, \"patience\": 1, \"min_lr\": 0.001}", 3, 1.0, 1.0, 1.0);
    ASSERT_LRS(r, 0.001, 0.1, 0.1, 0.001);
    free(r.text);
}
END_TEST

START_TEST(reduce_lr_on_plateau_refuses_a_factor_of_one_or_more)
{
    const char *bad[] = {"{\"factor\": 1.0}", "{\"factor\": 1}", "{\"factor\": 10}",
                         "{\"factor\": -0.5}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kc_error_clear(&err);
        ck_assert_ptr_null(kc_callback_create("ReduceLROnPlateau", bad[i], &err));
        CK_ERR(err, KC_EINVAL, "factor");
    }
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_callback_create("ReduceLROnPlateau", "{\"factor\": 1.0}", &err));
    CK_ERR(err, KC_EINVAL, "does not support a factor >= 1.0");
}
END_TEST

/* ================================= LearningRateScheduler
 * =========================================== */

typedef struct sched_log {
    int calls;
    int epoch[MAX_EPOCHS];
    double lr_in[MAX_EPOCHS];
    double bad_at; /* epoch from which the schedule returns NaN (-1: never) */
} sched_log;

static double halve(int epoch, double lr, void *user)
{
    sched_log *l = user;
    if (l->calls < MAX_EPOCHS) {
        l->epoch[l->calls] = epoch;
        l->lr_in[l->calls] = lr;
    }
    l->calls++;
    if (l->bad_at >= 0 && epoch >= l->bad_at) return NAN;
    return 0.1 * pow(0.5, epoch);
}

static double zero_rate(int epoch, double lr, void *user)
{
    (void)epoch, (void)lr, (void)user;
    return 0.0;
}

START_TEST(learning_rate_scheduler_sets_the_rate_each_epoch)
{
    data d = make_data();
    kc_object *m = make_model(0.3, NULL);
    sched_log l = {.bad_at = -1};
    FILE *out = tmpfile();
    kc_callback *cb = kc_lr_scheduler_new(halve, &l, 1, out, &err);
    CK_NN(cb, err);
    kc_fit_args a = fit_args(&d, 3, &cb, 1);
    kc_history *h = fit_ok(m, &a);
    /* schedule(epoch, current rate) before each epoch */
    ck_assert_int_eq(l.calls, 3);
    const double want_in[] = {0.3, 0.1, 0.05}, want_lr[] = {0.1, 0.05, 0.025};
    const double *lr = kc_history_values(h, "lr");
    ck_assert_ptr_nonnull(lr);
    for (int e = 0; e < 3; e++) {
        ck_assert_int_eq(l.epoch[e], e);
        ck_assert(fabs(l.lr_in[e] - want_in[e]) < 1e-12);
        ck_assert(fabs(lr[e] - want_lr[e]) < 1e-12);
    }
    ck_assert(fabs(kc_optimizer_current_lr(kc_model_optimizer(m)) - 0.025) < 1e-12);
    char *text = read_stream(out, NULL);
    ck_assert_str_eq(text, "\nEpoch 1: LearningRateScheduler setting learning rate to 0.1.\n"
                           "\nEpoch 2: LearningRateScheduler setting learning rate to 0.05.\n"
                           "\nEpoch 3: LearningRateScheduler setting learning rate to 0.025.\n");
    free(text);
    fclose(out);
    kc_history_free(h);
    kc_callback_free(cb);

    /* the rate is what the steps use: 0 leaves SGD's weights alone */
    cb = kc_lr_scheduler_new(zero_rate, NULL, 0, NULL, &err);
    CK_NN(cb, err);
    weights w0 = {0};
    weights_take(m, &w0);
    a = fit_args(&d, 2, &cb, 1);
    kc_history_free(fit_ok(m, &a));
    ck_assert(weights_equal(m, &w0));
    weights_free(&w0);
    kc_callback_free(cb);

    /* a schedule returning NaN stops fit with an error naming the epoch */
    l = (sched_log){.bad_at = 1};
    cb = kc_lr_scheduler_new(halve, &l, 0, NULL, &err);
    CK_NN(cb, err);
    a = fit_args(&d, 3, &cb, 1);
    kc_history *h2 = NULL;
    ck_assert_int_eq(kc_model_fit(m, &a, &h2, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "epoch 1");
    CK_ERR(err, KC_EINVAL, "LearningRateScheduler");
    kc_callback_free(cb);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_lr_scheduler_new(NULL, NULL, 0, NULL, &err));
    CK_ERR(err, KC_EINVAL, "schedule");
    kc_object_unref(m);
    data_free(&d);
}
END_TEST

/* ================================= TerminateOnNaN
 * ================================================== */

typedef struct nan_loss {
    kc_object *mse;
    int calls, nan_from; /* calls from nan_from on (1-based) return mse * bad */
    float bad;           /* NaN or infinity */
} nan_loss;

static kc_tensor *nan_loss_fn(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *e)
{
    nan_loss *p = params;
    kc_tensor *l = kc_loss_call(p->mse, y_true, y_pred, e);
    if (++p->calls < p->nan_from || !l) return l;
    kc_tensor *bad = kc_mul_scalar(l, p->bad, e);
    kc_tensor_unref(l);
    return bad;
}

static void nan_loss_free(void *params)
{
    nan_loss *p = params;
    kc_object_unref(p->mse);
    free(p);
}

typedef struct batch_counter {
    int batches, epochs_ended;
} batch_counter;

static kc_status count_batch(void *user, kc_object *model, int64_t batch, const kc_logs *logs,
                             kc_error *e)
{
    (void)model, (void)batch, (void)logs, (void)e;
    ((batch_counter *)user)->batches++;
    return KC_OK;
}

static kc_status count_epoch(void *user, kc_object *model, int epoch, kc_logs *logs, kc_error *e)
{
    (void)model, (void)epoch, (void)logs, (void)e;
    ((batch_counter *)user)->epochs_ended++;
    return KC_OK;
}

static const kc_callback_methods counter_methods = {.on_train_batch_end = count_batch,
                                                    .on_epoch_end = count_epoch};

START_TEST(terminate_on_nan_stops_after_the_batch)
{
    data d = make_data();
    const float bad_values[] = {NAN, INFINITY};
    for (int b = 0; b < 2; b++) {
        kc_object *m = kc_sequential_new(NULL, &err);
        CK_NN(m, err);
        kc_object *in = kc_input_layer(1, (int64_t[]){2}, NULL, &err);
        kc_object *dense = kc_layer_create("Dense", "{\"units\": 1}", &err);
        CK_OK(kc_sequential_add(m, in, &err));
        CK_OK(kc_sequential_add(m, dense, &err));
        kc_object_unref(in);
        kc_object_unref(dense);
        /* a loss that turns NaN (or infinite) at its 5th call: epoch 2, batch 1 */
        nan_loss *p = calloc(1, sizeof *p);
        p->mse = kc_loss_get("mse", &err);
        CK_NN(p->mse, err);
        p->nan_from = 5;
        p->bad = bad_values[b];
        kc_object *loss = kc_function_new(KC_KIND_LOSS, "bad_after_4", KC_FN(nan_loss_fn), p,
                                          nan_loss_free, &err);
        CK_NN(loss, err);
        kc_object *opt = kc_optimizer_get("sgd", &err);
        CK_NN(opt, err);
        kc_compile_args ca = {.optimizer = opt, .losses = &loss, .n_losses = 1};
        CK_OK(kc_model_compile_objects(m, &ca, &err));
        kc_object_unref(opt);
        kc_object_unref(loss);

        batch_counter bc = {0};
        kc_callback *cbs[2] = {create("TerminateOnNaN", NULL),
                               kc_callback_new(&counter_methods, &bc, &err)};
        FILE *out = tmpfile();
        kc_callback_set_output(cbs[0], out);
        kc_fit_args a = fit_args(&d, 5, cbs, 2);
        kc_history *h = fit_ok(m, &a);
        /* Keras: the batch loop breaks after the bad batch, the epoch still ends */
        ck_assert_int_eq(bc.batches, 5);
        ck_assert_int_eq(bc.epochs_ended, 2);
        ck_assert_int_eq(kc_history_num_epochs(h), 2);
        const double *l = kc_history_values(h, "loss");
        ck_assert(isfinite(l[0]) && (b == 0 ? isnan(l[1]) : isinf(l[1])));
        char *text = read_stream(out, NULL);
        ck_assert_str_eq(text, "Batch 1: Invalid loss, terminating training\n");
        free(text);
        fclose(out);
        kc_history_free(h);
        kc_callback_free(cbs[0]);
        kc_callback_free(cbs[1]);
        kc_object_unref(m);
    }

    /* an exploding learning rate: the loss overflows to inf or NaN and training stops */
    kc_object *m = make_model(1e6, NULL);
    kc_callback *tn = create("TerminateOnNaN", "{}");
    FILE *out = tmpfile();
    kc_callback_set_output(tn, out);
    kc_fit_args a = fit_args(&d, 40, &tn, 1);
    kc_history *h = fit_ok(m, &a);
    int n = kc_history_num_epochs(h);
    ck_assert_int_lt(n, 40);
    ck_assert(!isfinite(kc_history_values(h, "loss")[n - 1]));
    for (int e = 0; e < n - 1; e++)
        ck_assert(isfinite(kc_history_values(h, "loss")[e]));
    char *text = read_stream(out, NULL);
    assert_matches(text, "Batch [0-2]: Invalid loss, terminating training\n");
    free(text);
    fclose(out);
    kc_history_free(h);
    kc_callback_free(tn);
    kc_object_unref(m);
    data_free(&d);
}
END_TEST

/* ================================= progress bar
 * ==================================================== */

#define NUM "-?[0-9]+\\.[0-9]{4}(e[-+][0-9]+)?"
#define PER(unit) "[0-9]+(us|ms|s)/" unit
#define PER_STEP PER("step")
#define PER_EPOCH PER("epoch")
#define BAR_DONE "3/3 \\[==============================\\] - [0-9]+s " PER_STEP

static char *fit_output(int verbose, int epochs, bool validate)
{
    data d = make_data();
    kc_object *m = make_model(0.05, NULL);
    FILE *out = tmpfile();
    kc_fit_args a = fit_args(&d, epochs, NULL, 0);
    a.verbose = verbose;
    a.out = out;
    if (validate) with_validation(&a, &d);
    kc_history_free(fit_ok(m, &a));
    char *text = read_stream(out, NULL);
    fclose(out);
    kc_object_unref(m);
    data_free(&d);
    return text;
}

START_TEST(fit_verbose_writes_keras_progress_lines)
{
    /* not a terminal: one finished bar per epoch; "Epoch i/n" only when n > 1 */
    char *t = fit_output(1, 2, false);
    assert_matches(t, "Epoch 1/2\n" BAR_DONE " - loss: " NUM "\n"
                      "Epoch 2/2\n" BAR_DONE " - loss: " NUM "\n");
    free(t);
    t = fit_output(1, 1, true);
    assert_matches(t, BAR_DONE " - loss: " NUM " - val_loss: " NUM "\n");
    free(t);
    /* verbose 2: one line per epoch with the epoch's time and the time per step */
    t = fit_output(2, 2, true);
    assert_matches(t, "Epoch 1/2\n3/3 - [0-9]+s - loss: " NUM " - val_loss: " NUM " - " PER_EPOCH
                      " - " PER_STEP "\n"
                      "Epoch 2/2\n3/3 - [0-9]+s - loss: " NUM " - val_loss: " NUM " - " PER_EPOCH
                      " - " PER_STEP "\n");
    free(t);
    t = fit_output(0, 2, true);
    ck_assert_str_eq(t, "");
    free(t);
}
END_TEST

START_TEST(progbar_logger_callback_and_evaluate_output)
{
    data d = make_data();
    kc_object *m = make_model(0.05, NULL);
    /* a ProgbarLogger of its own in a silent fit */
    kc_callback *pl = create("ProgbarLogger", "{\"verbose\": 2}");
    FILE *out = tmpfile();
    kc_callback_set_output(pl, out);
    kc_fit_args a = fit_args(&d, 1, &pl, 1);
    kc_history_free(fit_ok(m, &a));
    char *t = read_stream(out, NULL);
    assert_matches(t, "3/3 - [0-9]+s - loss: " NUM " - " PER_EPOCH " - " PER_STEP "\n");
    free(t);
    fclose(out);
    kc_callback_free(pl);
    /* evaluate with verbose 1: one finished bar */
    out = tmpfile();
    kc_fit_args ev = {
        .x = &d.x, .n_x = 1, .y = &d.y, .n_y = 1, .batch_size = 4, .verbose = 1, .out = out};
    kc_logs *logs = NULL;
    CK_OK(kc_model_evaluate(m, &ev, &logs, &err));
    t = read_stream(out, NULL);
    assert_matches(t, BAR_DONE " - loss: " NUM "\n");
    free(t);
    fclose(out);
    kc_logs_free(logs);
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_callback_create("ProgbarLogger", "{\"verbose\": 3}", &err));
    CK_ERR(err, KC_EINVAL, "verbose");
    kc_object_unref(m);
    data_free(&d);
}
END_TEST

static char *progbar_text(int64_t target, int verbose, int64_t upto, bool finalize,
                          const kc_logs *logs)
{
    FILE *out = tmpfile();
    kc_progbar *pb = kc_progbar_new(target, verbose, out, &err);
    CK_NN(pb, err);
    for (int64_t i = 1; i <= upto; i++)
        kc_progbar_update(pb, i, logs, finalize && i == upto);
    kc_progbar_free(pb);
    char *t = read_stream(out, NULL);
    fclose(out);
    return t;
}

START_TEST(progbar_formats_as_keras)
{
    kc_logs *logs = kc_logs_new(&err);
    CK_NN(logs, err);
    CK_OK(kc_logs_set(logs, "loss", 1.5, &err));
    CK_OK(kc_logs_set(logs, "tiny", 0.0005, &err));
    CK_OK(kc_logs_set(logs, "neg", -0.5, &err));
    /* verbose 1: values %.4f above 1e-3 in magnitude, else %.4e; no ETA on a finished line */
    char *t = progbar_text(10, 1, 10, true, logs);
    assert_matches(t, "10/10 \\[==============================\\] - [0-9]+s " PER_STEP
                      " - loss: 1\\.5000 - tiny: 5\\.0000e-04 - neg: -0\\.5000\n");
    free(t);
    /* not a terminal: updates before the last are not written */
    t = progbar_text(10, 1, 4, false, logs);
    ck_assert_str_eq(t, "");
    free(t);
    /* a line finished early: partial bar, time per step, no ETA */
    t = progbar_text(10, 1, 4, true, logs);
    assert_matches(t,
                   " 4/10 \\[===========>\\.{18}\\] - [0-9]+s " PER_STEP " - loss: 1\\.5000.*\n");
    ck_assert(!contains(t, "ETA"));
    free(t);
    /* unknown target */
    t = progbar_text(0, 1, 5, true, logs);
    assert_matches(t, "      5/Unknown - [0-9]+s " PER_STEP
                      " - loss: 1\\.5000 - tiny: 5\\.0000e-04 - neg: -0\\.5000\n");
    free(t);
    /* verbose 2: as Keras, values not above 1e-3 (negative ones too) in %.4e */
    t = progbar_text(4, 2, 4, true, logs);
    assert_matches(
        t, "4/4 - [0-9]+s - loss: 1\\.5000 - tiny: 5\\.0000e-04 - neg: -5\\.0000e-01 - " PER_EPOCH
           " - " PER_STEP "\n");
    free(t);
    /* no values */
    t = progbar_text(3, 1, 3, true, NULL);
    assert_matches(t, BAR_DONE "\n");
    free(t);
    /* verbose 0: nothing */
    t = progbar_text(3, 0, 3, true, logs);
    ck_assert_str_eq(t, "");
    free(t);
    /* a line longer than the bar's buffer is cut, with no NUL byte and still one line */
    kc_logs *many = kc_logs_new(&err);
    CK_NN(many, err);
    for (int i = 0; i < 300; i++) {
        char key[32];
        snprintf(key, sizeof key, "metric_%03d", i);
        CK_OK(kc_logs_set(many, key, 1.5, &err));
    }
    for (int verbose = 1; verbose <= 2; verbose++) {
        FILE *out = tmpfile();
        kc_progbar *pb = kc_progbar_new(3, verbose, out, &err);
        CK_NN(pb, err);
        kc_progbar_update(pb, 3, many, true);
        kc_progbar_update(pb, 3, many, true);
        kc_progbar_free(pb);
        size_t len;
        t = read_stream(out, &len);
        fclose(out);
        ck_assert_uint_eq(strlen(t), len);
        ck_assert_int_eq(count_of(t, "\n"), 2);
        ck_assert(len > 2000 && t[len - 1] == '\n');
        ck_assert(contains(t, " - metric_000: 1.5000 - metric_001: 1.5000"));
        free(t);
    }
    kc_logs_free(many);
    kc_progbar_update(NULL, 1, logs, true); /* NULL-safe */
    kc_progbar_free(NULL);
    kc_logs_free(logs);
}
END_TEST

/* ================================= user callbacks
 * ================================================== */

typedef struct recorder {
    char events[8192];
    size_t len;
    kc_train_params params;
    bool batch_logs_have_loss, epoch_logs_ok, test_logs_ok;
    /* failure injection: the hook whose n-th call fails (1-based; 0: none) */
    const char *fail_hook;
    int fail_call, calls;
    bool fill_err;
} recorder;

static kc_status maybe_fail(recorder *r, const char *hook, kc_error *e)
{
    if (!r->fail_hook || strcmp(r->fail_hook, hook) != 0 || ++r->calls != r->fail_call)
        return KC_OK;
    if (r->fill_err) {
        e->code = KC_EINVAL;
        snprintf(e->message, sizeof e->message, "the user callback refused");
    }
    return KC_EINVAL;
}

/* Append the event to the record, then fail if this is the call to fail. */
static kc_status record(void *user, const char *hook, kc_error *e, const char *format, ...)
    KC_PRINTF(4, 5);
static kc_status record(void *user, const char *hook, kc_error *e, const char *format, ...)
{
    recorder *r = user;
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(r->events + r->len, sizeof r->events - r->len, format, ap);
    va_end(ap);
    if (n > 0) r->len += (size_t)n;
    if (r->len >= sizeof r->events) r->len = sizeof r->events - 1;
    return maybe_fail(r, hook, e);
}

static kc_status r_train_begin(void *u, kc_object *m, const kc_logs *logs, kc_error *e)
{
    (void)m, (void)logs;
    return record(u, "train_begin", e, "T ");
}
static kc_status r_train_end(void *u, kc_object *m, const kc_logs *logs, kc_error *e)
{
    (void)m, (void)logs;
    return record(u, "train_end", e, "t");
}
static kc_status r_epoch_begin(void *u, kc_object *m, int epoch, const kc_logs *logs, kc_error *e)
{
    (void)m, (void)logs;
    return record(u, "epoch_begin", e, "E%d ", epoch);
}
static kc_status r_epoch_end(void *u, kc_object *m, int epoch, kc_logs *logs, kc_error *e)
{
    (void)m;
    recorder *r = u;
    double v;
    r->epoch_logs_ok =
        r->epoch_logs_ok && kc_logs_get(logs, "loss", &v) && kc_logs_get(logs, "val_loss", &v);
    return record(u, "epoch_end", e, "e%d ", epoch);
}
static kc_status r_batch_begin(void *u, kc_object *m, int64_t batch, const kc_logs *logs,
                               kc_error *e)
{
    (void)m, (void)logs;
    return record(u, "batch_begin", e, "B%lld ", (long long)batch);
}
static kc_status r_batch_end(void *u, kc_object *m, int64_t batch, const kc_logs *logs, kc_error *e)
{
    (void)m;
    recorder *r = u;
    double v;
    r->batch_logs_have_loss =
        r->batch_logs_have_loss && kc_logs_get(logs, "loss", &v) && isfinite(v);
    return record(u, "batch_end", e, "b%lld ", (long long)batch);
}
static kc_status r_test_begin(void *u, kc_object *m, const kc_logs *logs, kc_error *e)
{
    (void)m, (void)logs;
    return record(u, "test_begin", e, "V ");
}
static kc_status r_test_batch_end(void *u, kc_object *m, int64_t batch, const kc_logs *logs,
                                  kc_error *e)
{
    (void)m, (void)logs;
    return record(u, "test_batch_end", e, "v%lld ", (long long)batch);
}
static kc_status r_test_end(void *u, kc_object *m, const kc_logs *logs, kc_error *e)
{
    (void)m;
    recorder *r = u;
    double v;
    /* the validation logs as evaluate reports them: no "val_" prefix yet */
    r->test_logs_ok =
        r->test_logs_ok && kc_logs_get(logs, "loss", &v) && !kc_logs_get(logs, "val_loss", &v);
    return record(u, "test_end", e, "w ");
}

static int destroyed;
static void r_destroy(void *u)
{
    (void)u;
    destroyed++;
}

static const kc_callback_methods recorder_methods = {
    .on_train_begin = r_train_begin,
    .on_train_end = r_train_end,
    .on_epoch_begin = r_epoch_begin,
    .on_epoch_end = r_epoch_end,
    .on_train_batch_begin = r_batch_begin,
    .on_train_batch_end = r_batch_end,
    .on_test_begin = r_test_begin,
    .on_test_end = r_test_end,
    .on_test_batch_end = r_test_batch_end,
    .destroy = r_destroy,
};

static void recorder_init(recorder *r)
{
    memset(r, 0, sizeof *r);
    r->batch_logs_have_loss = r->epoch_logs_ok = r->test_logs_ok = true;
}

START_TEST(user_callback_sees_every_hook_in_order)
{
    data d = make_data();
    kc_object *m = make_model(0.05, NULL);
    recorder r;
    recorder_init(&r);
    destroyed = 0;
    kc_callback *cb = kc_callback_new(&recorder_methods, &r, &err);
    CK_NN(cb, err);
    kc_fit_args a = fit_args(&d, 2, &cb, 1);
    with_validation(&a, &d);
    kc_history_free(fit_ok(m, &a));
    ck_assert_str_eq(r.events, "T E0 B0 b0 B1 b1 B2 b2 V v0 v1 w e0 "
                               "E1 B0 b0 B1 b1 B2 b2 V v0 v1 w e1 t");
    ck_assert(r.batch_logs_have_loss && r.epoch_logs_ok && r.test_logs_ok);
    const kc_train_params *p = kc_callback_params(cb);
    ck_assert_int_eq(p->epochs, 2);
    ck_assert_int_eq(p->steps, 3);
    ck_assert_int_eq(p->samples, N_TRAIN);
    ck_assert_int_eq(p->verbose, 0);

    /* initial_epoch, validation_split (the last quarter: 9 training samples),
     * a partial last batch, and no validation hooks without validation */
    recorder_init(&r);
    a = fit_args(&d, 3, &cb, 1);
    a.initial_epoch = 1;
    a.batch_size = 5;
    kc_history_free(fit_ok(m, &a));
    ck_assert_str_eq(r.events, "T E1 B0 b0 B1 b1 B2 b2 e1 E2 B0 b0 B1 b1 B2 b2 e2 t");
    ck_assert_int_eq(kc_callback_params(cb)->epochs, 3);
    ck_assert_int_eq(kc_callback_params(cb)->steps, 3);
    recorder_init(&r);
    a = fit_args(&d, 1, &cb, 1);
    a.validation_split = 0.25;
    a.verbose = 2;
    a.out = tmpfile();
    kc_history_free(fit_ok(m, &a));
    fclose(a.out);
    ck_assert_str_eq(r.events, "T E0 B0 b0 B1 b1 B2 b2 V v0 w e0 t");
    ck_assert_int_eq(kc_callback_params(cb)->samples, 9);
    ck_assert_int_eq(kc_callback_params(cb)->steps, 3);
    ck_assert_int_eq(kc_callback_params(cb)->verbose, 2);

    /* evaluate calls the test hooks only */
    recorder_init(&r);
    kc_fit_args evs = {.x = &d.vx,
                       .n_x = 1,
                       .y = &d.vy,
                       .n_y = 1,
                       .batch_size = 4,
                       .callbacks = &cb,
                       .n_callbacks = 1};
    CK_OK(kc_model_evaluate(m, &evs, NULL, &err));
    ck_assert_str_eq(r.events, "V v0 v1 w ");

    ck_assert_int_eq(destroyed, 0);
    kc_callback_free(cb);
    ck_assert_int_eq(destroyed, 1); /* destroy runs once, in kc_callback_free */
    kc_callback_free(NULL);
    kc_object_unref(m);
    data_free(&d);
}
END_TEST

START_TEST(user_callback_error_stops_fit_with_it)
{
    data d = make_data();
    kc_object *m = make_model(0.05, NULL);
    static const struct {
        const char *hook;
        int call;
        const char *events; /* what a second recorder after the failing one saw */
        const char *context;
    } cases[] = {
        {"batch_end", 5, "T E0 B0 b0 B1 b1 B2 b2 V v0 v1 w e0 E1 B0 b0 B1 ", "on_train_batch_end"},
        {"train_begin", 1, "", "on_train_begin"},
        {"epoch_begin", 2, "T E0 B0 b0 B1 b1 B2 b2 V v0 v1 w e0 ", "on_epoch_begin"},
        {"batch_begin", 1, "T E0 ", "on_train_batch_begin"},
        {"test_begin", 1, "T E0 B0 b0 B1 b1 B2 b2 ", "on_test_begin"},
        {"test_batch_end", 2, "T E0 B0 b0 B1 b1 B2 b2 V v0 ", "on_test_batch_end"},
        {"test_end", 1, "T E0 B0 b0 B1 b1 B2 b2 V v0 v1 ", "on_test_end"},
        {"epoch_end", 1, "T E0 B0 b0 B1 b1 B2 b2 V v0 v1 w ", "on_epoch_end"},
        {"train_end", 1, "T E0 B0 b0 B1 b1 B2 b2 V v0 v1 w e0 E1 B0 b0 B1 b1 B2 b2 V v0 v1 w e1 ",
         "on_train_end"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int fill = 0; fill < 2; fill++) {
            recorder failing, after;
            recorder_init(&failing);
            recorder_init(&after);
            failing.fail_hook = cases[i].hook;
            failing.fail_call = cases[i].call;
            failing.fill_err = fill;
            kc_callback *cbs[2] = {kc_callback_new(&recorder_methods, &failing, &err),
                                   kc_callback_new(&recorder_methods, &after, &err)};
            kc_fit_args a = fit_args(&d, 2, cbs, 2);
            with_validation(&a, &d);
            kc_history *h = (kc_history *)&a; /* must be reset to NULL */
            kc_error_clear(&err);
            kc_status rc = kc_model_fit(m, &a, &h, &err);
            ck_assert_msg(rc == KC_EINVAL, "%s: %s", cases[i].hook, kc_status_name(rc));
            ck_assert_ptr_null(h);
            /* the hook's own message when it gave one, else one naming the hook */
            CK_ERR(err, KC_EINVAL, fill ? "the user callback refused" : cases[i].context);
            CK_ERR(err, KC_EINVAL, cases[i].context);
            ck_assert_str_eq(after.events, cases[i].events);
            kc_callback_free(cbs[0]);
            kc_callback_free(cbs[1]);
        }
    }
    /* the model is usable afterwards */
    kc_fit_args a = fit_args(&d, 1, NULL, 0);
    kc_history_free(fit_ok(m, &a));
    kc_object_unref(m);
    data_free(&d);
}
END_TEST

static kc_status stop_at_batch_1(void *user, kc_object *model, int64_t batch, const kc_logs *logs,
                                 kc_error *e)
{
    (void)user, (void)logs, (void)e;
    if (batch == 1) kc_model_stop_training(model);
    return KC_OK;
}
static const kc_callback_methods stopper_methods = {.on_train_batch_end = stop_at_batch_1};

START_TEST(user_callback_can_stop_training)
{
    data d = make_data();
    kc_object *m = make_model(0.05, NULL);
    recorder r;
    recorder_init(&r);
    kc_callback *cbs[2] = {kc_callback_new(&stopper_methods, NULL, &err),
                           kc_callback_new(&recorder_methods, &r, &err)};
    kc_fit_args a = fit_args(&d, 3, cbs, 2);
    with_validation(&a, &d);
    kc_history *h = fit_ok(m, &a);
    /* after the batch: validation and the epoch's end still run (Keras 2.15) */
    ck_assert_str_eq(r.events, "T E0 B0 b0 B1 b1 V v0 v1 w e0 t");
    ck_assert_int_eq(kc_history_num_epochs(h), 1);
    ck_assert(kc_model_stopping(m));
    kc_history_free(h);
    /* the next fit starts afresh */
    recorder_init(&r);
    a.callbacks = cbs + 1;
    a.n_callbacks = 1;
    a.epochs = 1;
    kc_history_free(fit_ok(m, &a));
    ck_assert_str_eq(r.events, "T E0 B0 b0 B1 b1 B2 b2 V v0 v1 w e0 t");
    kc_callback_free(cbs[0]);
    kc_callback_free(cbs[1]);
    kc_object_unref(m);
    data_free(&d);
}
END_TEST

/* ================================= kc_callback_create
 * ============================================== */

START_TEST(callback_create_names_the_bad_argument)
{
    ck_assert_ptr_null(kc_callback_create("Nope", NULL, &err));
    CK_ERR(err, KC_ENOTFOUND, "Unknown callback 'Nope'");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_callback_create("LearningRateScheduler", NULL, &err));
    CK_ERR(err, KC_ENOTFOUND, "kc_lr_scheduler_new");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_callback_create(NULL, NULL, &err));
    CK_ERR(err, KC_EINVAL, "class name");
    kc_error_clear(&err);
    ck_assert_ptr_null(kc_callback_new(NULL, NULL, &err));
    CK_ERR(err, KC_EINVAL, "methods");

    static const struct {
        const char *cls, *config;
        kc_status code;
        const char *needle;
    } bad[] = {
        {"EarlyStopping", "{\"patience\": \"3\"}", KC_EFORMAT, "patience"},
        {"EarlyStopping", "{\"patience\": -1}", KC_EFORMAT, "patience"},
        {"EarlyStopping", "{\"patience\": 1.5}", KC_EFORMAT, "patience"},
        {"EarlyStopping", "{\"mode\": \"sideways\"}", KC_EFORMAT, "mode"},
        {"EarlyStopping", "{\"monitor\": 3}", KC_EFORMAT, "monitor"},
        {"EarlyStopping", "{\"min_delta\": \"x\"}", KC_EFORMAT, "min_delta"},
        {"EarlyStopping", "{\"baseline\": \"x\"}", KC_EFORMAT, "baseline"},
        {"EarlyStopping", "{\"restore_best_weights\": 1}", KC_EFORMAT, "restore_best_weights"},
        {"EarlyStopping", "{\"start_from_epoch\": -2}", KC_EFORMAT, "start_from_epoch"},
        {"EarlyStopping", "{\"patiense\": 3}", KC_EINVAL, "patiense"},
        {"ModelCheckpoint", "{}", KC_EFORMAT, "filepath"},
        {"ModelCheckpoint", "{\"filepath\": 3}", KC_EFORMAT, "filepath"},
        {"ModelCheckpoint", "{\"filepath\": \"a.h5\", \"save_freq\": \"batch\"}", KC_EUNSUPPORTED,
         "save_freq"},
        {"ModelCheckpoint", "{\"filepath\": \"a.h5\", \"min_delta\": 0.1}", KC_EINVAL, "min_delta"},
        {"ModelCheckpoint", "{\"filepath\": \"a.h5\", \"mode\": \"best\"}", KC_EFORMAT, "mode"},
        {"ModelCheckpoint", "{\"filepath\": \"a.h5\", \"save_best_only\": \"yes\"}", KC_EFORMAT,
         "save_best_only"},
        {"ModelCheckpoint", "{\"filepath\": \"a.h5\", \"initial_value_threshold\": \"x\"}",
         KC_EFORMAT, "initial_value_threshold"},
        {"CSVLogger", "{}", KC_EFORMAT, "filename"},
        {"CSVLogger", "{\"filename\": \"a.csv\", \"separator\": \";;\"}", KC_EINVAL, "separator"},
        {"CSVLogger", "{\"filename\": \"a.csv\", \"separator\": \"\"}", KC_EINVAL, "separator"},
        {"CSVLogger", "{\"filename\": \"a.csv\", \"append\": \"yes\"}", KC_EFORMAT, "append"},
        {"CSVLogger", "{\"filename\": \"a.csv\", \"seperator\": \";\"}", KC_EINVAL, "seperator"},
        {"ReduceLROnPlateau", "{\"cooldown\": -1}", KC_EFORMAT, "cooldown"},
        {"ReduceLROnPlateau", "{\"min_lr\": -0.1}", KC_EFORMAT, "min_lr"},
        {"ReduceLROnPlateau", "{\"mode\": \"up\"}", KC_EFORMAT, "mode"},
        {"ReduceLROnPlateau", "{\"factor\": \"half\"}", KC_EFORMAT, "factor"},
        {"TerminateOnNaN", "{\"x\": 1}", KC_EINVAL, "TerminateOnNaN"},
        {"ProgbarLogger", "{\"verbose\": -1}", KC_EFORMAT, "verbose"},
        {"ProgbarLogger", "{\"verbose\": 3}", KC_EINVAL, "verbose"},
        {"ProgbarLogger", "{\"count_mode\": \"steps\"}", KC_EINVAL, "count_mode"},
        {"EarlyStopping", "not json", KC_EFORMAT, ""},
        {"EarlyStopping", "[1]", KC_EFORMAT, "JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kc_error_clear(&err);
        kc_callback *cb = kc_callback_create(bad[i].cls, bad[i].config, &err);
        ck_assert_msg(cb == NULL, "%s %s was accepted", bad[i].cls, bad[i].config);
        ck_assert_msg(err.code == bad[i].code, "%s %s: %s, expected %s (%s)", bad[i].cls,
                      bad[i].config, kc_status_name(err.code), kc_status_name(bad[i].code),
                      err.message);
        CK_ERR(err, bad[i].code, bad[i].needle);
    }

    /* defaults and every documented key are accepted */
    static const struct {
        const char *cls, *config;
    } good[] = {
        {"EarlyStopping", NULL},
        {"EarlyStopping",
         "{\"monitor\": \"loss\", \"min_delta\": 0.1, \"patience\": 2, \"verbose\": 1, \"mode\": "
         "\"min\", \"baseline\": 0.5, \"restore_best_weights\": true, \"start_from_epoch\": 1}"},
        {"ModelCheckpoint",
         "{\"filepath\": \"a.h5\", \"monitor\": \"loss\", \"verbose\": 1, \"save_best_only\": "
         "true, \"save_weights_only\": true, \"mode\": \"max\", \"save_freq\": \"epoch\", "
         "\"initial_value_threshold\": null}"},
        {"CSVLogger", "{\"filename\": \"a.csv\", \"separator\": \"\\t\", \"append\": true}"},
        {"ReduceLROnPlateau",
         "{\"monitor\": \"loss\", \"factor\": 0.2, \"patience\": 5, \"verbose\": 1, \"mode\": "
         "\"min\", \"min_delta\": 0.001, \"cooldown\": 2, \"min_lr\": 0.0001}"},
        {"TerminateOnNaN", NULL},
        {"TerminateOnNaN", "{}"},
        {"ProgbarLogger", NULL},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        kc_error_clear(&err);
        kc_callback *cb = kc_callback_create(good[i].cls, good[i].config, &err);
        ck_assert_msg(cb != NULL, "%s %s: %s (%s)", good[i].cls,
                      good[i].config ? good[i].config : "NULL", err.message, err.context);
        ck_assert_int_eq(kc_callback_stopped_epoch(cb), 0);
        ck_assert(isnan(kc_callback_best(cb)));
        kc_callback_free(cb);
    }
    ck_assert_int_eq(kc_callback_stopped_epoch(NULL), 0);
    ck_assert(isnan(kc_callback_best(NULL)));
    ck_assert_ptr_null(kc_callback_params(NULL));
    kc_callback_set_output(NULL, stdout);
}
END_TEST

static Suite *callbacks_suite(void)
{
    Suite *s = suite_create("callbacks");
    TCase *tc = tcase_create("callbacks");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, early_stopping_waits_patience_epochs_without_improvement);
    tcase_add_test(tc, early_stopping_min_delta_and_modes);
    tcase_add_test(tc, early_stopping_baseline_and_start_from_epoch);
    tcase_add_test(tc, early_stopping_restores_the_best_weights);
    tcase_add_test(tc, early_stopping_on_the_real_val_loss);
    tcase_add_test(tc, model_checkpoint_saves_only_improvements);
    tcase_add_test(tc, model_checkpoint_weights_only_modes_and_threshold);
    tcase_add_test(tc, model_checkpoint_on_the_real_val_loss);
    tcase_add_test(tc, model_checkpoint_bad_patterns_give_named_errors);
    tcase_add_test(tc, model_checkpoint_failure_keeps_the_previous_file);
    tcase_add_test(tc, csv_logger_file_parses_and_equals_the_history);
    tcase_add_test(tc, csv_logger_cells_are_python_repr);
    tcase_add_test(tc, reduce_lr_on_plateau_changes_the_rate);
    tcase_add_test(tc, reduce_lr_on_plateau_cooldown_and_min_lr);
    tcase_add_test(tc, reduce_lr_on_plateau_refuses_a_factor_of_one_or_more);
    tcase_add_test(tc, learning_rate_scheduler_sets_the_rate_each_epoch);
    tcase_add_test(tc, terminate_on_nan_stops_after_the_batch);
    tcase_add_test(tc, fit_verbose_writes_keras_progress_lines);
    tcase_add_test(tc, progbar_logger_callback_and_evaluate_output);
    tcase_add_test(tc, progbar_formats_as_keras);
    tcase_add_test(tc, user_callback_sees_every_hook_in_order);
    tcase_add_test(tc, user_callback_error_stops_fit_with_it);
    tcase_add_test(tc, user_callback_can_stop_training);
    tcase_add_test(tc, callback_create_names_the_bad_argument);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(callbacks_suite)
