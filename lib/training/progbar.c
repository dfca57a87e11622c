/* The progress bar (Keras 2.15's Progbar) and the ProgbarLogger callback
 * fit adds when verbose > 0. Output matches Keras':
 *   verbose 1:  "3/3 [==============================] - 0s 5ms/step - loss: 0.6931"
 *               redrawn in place (\r) on a terminal, at most every 0.05 s;
 *               when the output is not a terminal, only each bar's
 *               finished line is written. Keras 2.15 counts every POSIX
 *               process as a dynamic display ('posix' in sys.modules), so
 *               it writes its \b...\r redraws into files and pipes too;
 *               ckeras keeps logs free of control characters instead
 *   verbose 2:  "3/3 - 0s - loss: 0.6931 - 57ms/epoch - 19ms/step"
 * Values are printed as Keras' stateful metrics: %.4f above 1e-3 in
 * magnitude, %.4e otherwise; verbose 2 compares the signed value, as
 * Keras 2.15 does (a negative loss shows as -5.0000e-01 there). A line
 * longer than the buffer is cut, but still ends with its newline. */
#define _POSIX_C_SOURCE 200809L
#include "training_int.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30
#define INTERVAL 0.05 /* seconds between redraws */

struct kc_progbar {
    int64_t target;
    int verbose;
    FILE *out;
    bool dynamic;        /* a terminal: redraw with \r */
    double start, last_update, after_first_step, epoch_end;
    int64_t seen;
    size_t total_width;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

kc_progbar *kc_progbar_new(int64_t target, int verbose, FILE *out, kc_error *err)
{
    kc_progbar *pb = kc__calloc(1, sizeof(*pb));
    if (!pb) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    pb->target = target;
    pb->verbose = verbose;
    pb->out = out ? out : stdout;
    pb->dynamic = isatty(fileno(pb->out)) == 1;
    pb->start = now_s();
    pb->after_first_step = -1;
    pb->epoch_end = -1;
    return pb;
}

void kc_progbar_free(kc_progbar *pb) { kc__free(pb); }

/* Keras' _format_time: " 5ms/step". */
static void format_time(char *buf, size_t n, double t, const char *unit)
{
    if (t >= 1 || t == 0) snprintf(buf, n, " %.0fs/%s", t, unit);
    else if (t >= 1e-3) snprintf(buf, n, " %.0fms/%s", t * 1e3, unit);
    else snprintf(buf, n, " %.0fus/%s", t * 1e6, unit);
}

static double step_duration(kc_progbar *pb, int64_t current, double now)
{
    if (current <= 0) return 0;
    double t = pb->after_first_step >= 0 && current > 1 ? (now - pb->after_first_step) / (double)(current - 1)
                                                        : (now - pb->start) / (double)current;
    if (current == 1) pb->after_first_step = now;
    return t;
}

/* Appends at buf + len; the result never counts the terminating NUL, so
 * a cut line is the first n - 1 characters. */
static size_t append(char *buf, size_t n, size_t len, const char *fmt, ...) KC_PRINTF(4, 5);
static size_t append(char *buf, size_t n, size_t len, const char *fmt, ...)
{
    if (len + 1 >= n) return len;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + len, n - len, fmt, ap);
    va_end(ap);
    return w < 0 ? len : len + (size_t)w >= n ? n - 1 : len + (size_t)w;
}

/* The line's end, even when the line was cut. */
static size_t end_line(char *buf, size_t n, size_t len)
{
    if (len + 1 >= n) len = n - 2;
    buf[len++] = '\n';
    buf[len] = '\0';
    return len;
}

static size_t append_values(char *buf, size_t n, size_t len, const kc_logs *logs, bool signed_threshold)
{
    for (int i = 0; i < kc_logs_size(logs); i++) {
        double v = kc_logs_value(logs, i);
        bool fixed = signed_threshold ? v > 1e-3 : fabs(v) > 1e-3;
        len = append(buf, n, len, fixed ? " - %s: %.4f" : " - %s: %.4e", kc_logs_key(logs, i), v);
    }
    return len;
}

static int digits(int64_t x)
{
    int d = 1;
    while (x >= 10) {
        x /= 10;
        d++;
    }
    return d;
}

void kc_progbar_update(kc_progbar *pb, int64_t current, const kc_logs *logs, bool finalize)
{
    if (!pb || pb->verbose <= 0) return;
    double now = now_s();
    pb->seen = current;
    if (pb->target > 0 && current == pb->target) pb->epoch_end = now;
    char line[4096];
    size_t len = 0;
    if (pb->verbose == 1) {
        if (!finalize && (!pb->dynamic || now - pb->last_update < INTERVAL)) {
            step_duration(pb, current, now); /* keep the first-step time for the estimate */
            return;
        }
        size_t prev = pb->total_width;
        if (pb->dynamic) len = append(line, sizeof line, len, "\r");
        size_t bar_start = len;
        if (pb->target > 0) {
            len = append(line, sizeof line, len, "%*lld/%lld [", digits(pb->target), (long long)current, (long long)pb->target);
            double prog = (double)current / (double)pb->target;
            int w = (int)(BAR_WIDTH * (prog > 1 ? 1 : prog));
            for (int i = 0; i < w - 1; i++) len = append(line, sizeof line, len, "=");
            if (w > 0) len = append(line, sizeof line, len, current < pb->target ? ">" : "=");
            for (int i = w; i < BAR_WIDTH; i++) len = append(line, sizeof line, len, ".");
            len = append(line, sizeof line, len, "]");
        } else {
            len = append(line, sizeof line, len, "%7lld/Unknown", (long long)current);
        }
        size_t info_start = len;
        double t = step_duration(pb, current, now);
        if (pb->target <= 0 || finalize) {
            char tb[64];
            format_time(tb, sizeof tb, t, "step");
            len = append(line, sizeof line, len, " - %.0fs%s", now - pb->start, tb);
        } else {
            double eta = t * (double)(pb->target - current);
            if (eta > 3600)
                len = append(line, sizeof line, len, " - ETA: %d:%02d:%02d", (int)(eta / 3600), (int)fmod(eta, 3600) / 60, (int)fmod(eta, 60));
            else if (eta > 60)
                len = append(line, sizeof line, len, " - ETA: %d:%02d", (int)(eta / 60), (int)fmod(eta, 60));
            else
                len = append(line, sizeof line, len, " - ETA: %ds", (int)eta);
        }
        len = append_values(line, sizeof line, len, logs, false);
        pb->total_width = (info_start - bar_start) + (len - info_start);
        if (pb->dynamic && prev > pb->total_width)
            for (size_t i = pb->total_width; i < prev; i++) len = append(line, sizeof line, len, " ");
        if (finalize) len = end_line(line, sizeof line, len);
        fwrite(line, 1, len, pb->out);
        fflush(pb->out);
    } else if (pb->verbose == 2 && finalize) {
        int64_t target = pb->target > 0 ? pb->target : current;
        len = append(line, sizeof line, len, "%*lld/%lld - %.0fs", digits(target), (long long)current, (long long)target,
                     now - pb->start);
        len = append_values(line, sizeof line, len, logs, true);
        if (pb->epoch_end >= 0) {
            char te[64], ts[64];
            double epoch_time = pb->epoch_end - pb->start;
            format_time(te, sizeof te, epoch_time, "epoch");
            format_time(ts, sizeof ts, epoch_time / (double)target, "step");
            len = append(line, sizeof line, len, " -%s -%s", te, ts);
        }
        len = end_line(line, sizeof line, len);
        fwrite(line, 1, len, pb->out);
        fflush(pb->out);
    }
    pb->last_update = now;
}

/* ---- ProgbarLogger ------------------------------------------------------------------------------ */

typedef struct progbar_logger {
    kc_callback *self;
    int verbose; /* from the constructor; fit's verbose wins when set */
    kc_progbar *bar;
} progbar_logger;

static FILE *out_of(const progbar_logger *p) { return p->self->out ? p->self->out : stdout; }
static int verbosity(const progbar_logger *p) { return p->self->params.verbose ? p->self->params.verbose : p->verbose; }

static kc_status pl_epoch_begin(void *user, kc_object *model, int epoch, const kc_logs *logs, kc_error *err)
{
    (void)model, (void)logs;
    progbar_logger *p = user;
    kc_progbar_free(p->bar);
    p->bar = kc_progbar_new(p->self->params.steps, verbosity(p), out_of(p), err);
    if (!p->bar) return kc__error_code(err, KC_ENOMEM);
    if (p->self->params.epochs > 1) {
        fprintf(out_of(p), "Epoch %d/%d\n", epoch + 1, p->self->params.epochs);
        fflush(out_of(p));
    }
    return KC_OK;
}

static kc_status pl_batch_end(void *user, kc_object *model, int64_t batch, const kc_logs *logs, kc_error *err)
{
    (void)model, (void)err;
    progbar_logger *p = user;
    if (p->bar && verbosity(p) == 1) kc_progbar_update(p->bar, batch + 1, logs, false);
    return KC_OK;
}

static kc_status pl_epoch_end(void *user, kc_object *model, int epoch, kc_logs *logs, kc_error *err)
{
    (void)model, (void)epoch, (void)err;
    progbar_logger *p = user;
    if (p->bar) kc_progbar_update(p->bar, p->self->params.steps > 0 ? p->self->params.steps : p->bar->seen, logs, true);
    return KC_OK;
}

static void pl_destroy(void *user)
{
    progbar_logger *p = user;
    kc_progbar_free(p->bar);
    kc__free(p);
}

static const kc_callback_methods progbar_methods = {.on_epoch_begin = pl_epoch_begin,
                                                    .on_train_batch_end = pl_batch_end,
                                                    .on_epoch_end = pl_epoch_end,
                                                    .destroy = pl_destroy};

kc_callback *kc__progbar_logger_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    progbar_logger *p = kc__calloc(1, sizeof(*p));
    if (!p) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    int64_t verbose = 1;
    kc_status rc = cfg ? kc_cfg_int(ctx, cfg, "verbose", KC_CFG_NONNEG, 1, &verbose, err) : KC_OK;
    if (rc == KC_OK && verbose > 2) rc = kc__errf(err, KC_EINVAL, "%s.verbose: expected 0, 1 or 2", ctx->path);
    if (rc != KC_OK) {
        kc__free(p);
        return NULL;
    }
    p->verbose = (int)verbose;
    kc_callback *cb = kc__callback_wrap(&progbar_methods, p, err);
    if (cb) {
        p->self = cb;
        cb->chief_only = true;
    }
    return cb;
}

bool kc__is_progbar_logger(const kc_callback *cb) { return cb && cb->methods == &progbar_methods; }
