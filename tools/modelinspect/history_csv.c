/* modelinspect history: reading what Keras' CSVLogger writes (and ckeras'
 * kc CSVLogger, which writes the same): Python's csv module with
 * lineterminator \r\n, a header "epoch,<keys in sorted order>", floats as
 * Python's repr, "NA" for a key an epoch did not log, lists quoted as
 * "[1.0, 2.0]". Anything that is not a number is a gap in the curve, not an
 * error: a file is a log, and a plot of what it has beats a refusal. Only
 * the structure is checked: a header, rows no wider than it, bounded
 * sizes (the file may come from anywhere). */
#define _POSIX_C_SOURCE 200809L /* getline, strdup */
#include "history.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The fields of one line, split in place: quotes removed ("" is a quote). */
typedef struct fields {
    char **items;
    int n, cap;
} fields;

static bool split_line(char *line, char sep, fields *fl)
{
    fl->n = 0;
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    for (char *p = line; p;) {
        if (fl->n == fl->cap) {
            int cap = fl->cap ? 2 * fl->cap : 16;
            char **grown = realloc(fl->items, (size_t)cap * sizeof(*grown));
            if (!grown) return false;
            fl->items = grown;
            fl->cap = cap;
        }
        char *start = p, *next;
        if (*p == '"') { /* quoted: copied left over the quotes up to the closing one */
            char *out = p++;
            while (*p && !(p[0] == '"' && p[1] != '"')) {
                if (p[0] == '"') p++; /* "" stands for one quote */
                *out++ = *p++;
            }
            if (*p == '"') p++;
            while (*p && *p != sep) p++; /* text after the closing quote: ignored, as Python's csv */
            next = *p ? p + 1 : NULL;
            *out = '\0';
        } else {
            while (*p && *p != sep) p++;
            next = *p ? p + 1 : NULL;
            *p = '\0';
        }
        fl->items[fl->n++] = start;
        p = next;
    }
    return true;
}

/* A number as Python writes floats; NAN for anything else. */
static double value_of(const char *s)
{
    while (*s == ' ') s++;
    if (!*s) return NAN;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    return *end ? NAN : v;
}

static int fail_at(const char *path, long line, const char *what)
{
    return inspect_fail(EXIT_INVALID, "%s (%s, line %ld)", what, path, line);
}

static bool grow_rows(history *h, int *cap)
{
    if (h->n_rows < *cap) return true;
    int next = *cap ? 2 * *cap : 64;
    double *e = realloc(h->epochs, (size_t)next * sizeof(double));
    if (!e) return false;
    h->epochs = e;
    for (int c = 0; c < h->n_series; c++) {
        double *v = realloc(h->series[c].values, (size_t)next * sizeof(double));
        if (!v) return false;
        h->series[c].values = v;
    }
    *cap = next;
    return true;
}

static int read_header(const char *path, fields *fl, history *h)
{
    if (fl->n > HISTORY_MAX_COLUMNS + 1) return fail_at(path, 1, "too many columns (at most 256)");
    h->epoch_column = strcmp(fl->items[0], "epoch") == 0;
    int first = h->epoch_column ? 1 : 0;
    h->series = calloc((size_t)fl->n, sizeof(history_series));
    if (!h->series) return inspect_fail(EXIT_INVALID, "out of memory");
    for (int c = first; c < fl->n; c++) {
        if (!fl->items[c][0]) return fail_at(path, 1, "a column has no name in the header");
        if (!(h->series[h->n_series].name = strdup(fl->items[c]))) return inspect_fail(EXIT_INVALID, "out of memory");
        h->n_series++;
    }
    if (h->n_series == 0) return fail_at(path, 1, "the header names no logged values (a CSVLogger file starts 'epoch,loss,...')");
    return EXIT_OK;
}

int history_read(const char *path, char sep, history *h)
{
    *h = (history){0};
    FILE *f = fopen(path, "r");
    if (!f) return inspect_fail(EXIT_INVALID, "cannot open '%s': %s", path, strerror(errno));
    char *line = NULL;
    size_t size = 0;
    fields fl = {0};
    long lineno = 0;
    int cap = 0, rc = EXIT_OK;
    while (rc == EXIT_OK && getline(&line, &size, f) >= 0) {
        lineno++;
        if (!split_line(line, sep, &fl)) {
            rc = inspect_fail(EXIT_INVALID, "out of memory");
            break;
        }
        if (lineno == 1) {
            rc = read_header(path, &fl, h);
            continue;
        }
        if (fl.n == 1 && !fl.items[0][0]) continue; /* a blank line */
        int width = h->n_series + (h->epoch_column ? 1 : 0);
        if (fl.n > width) {
            char what[128];
            snprintf(what, sizeof what, "a row of %d fields under a header of %d", fl.n, width);
            rc = fail_at(path, lineno, what);
        } else if (h->n_rows == HISTORY_MAX_ROWS || (long)(h->n_rows + 1) * h->n_series > HISTORY_MAX_VALUES) {
            rc = fail_at(path, lineno, "too many values (at most 1000000 epochs and 16777216 values)");
        } else if (!grow_rows(h, &cap)) {
            rc = inspect_fail(EXIT_INVALID, "out of memory");
        } else {
            int r = h->n_rows++, first = h->epoch_column ? 1 : 0;
            h->epochs[r] = h->epoch_column ? value_of(fl.items[0]) : r;
            for (int c = 0; c < h->n_series; c++)
                h->series[c].values[r] = c + first < fl.n ? value_of(fl.items[c + first]) : NAN;
        }
    }
    if (rc == EXIT_OK && ferror(f)) rc = inspect_fail(EXIT_INVALID, "cannot read '%s': %s", path, strerror(errno));
    if (rc == EXIT_OK && lineno == 0) rc = inspect_fail(EXIT_INVALID, "'%s' is empty: no CSVLogger header", path);
    free(line);
    free(fl.items);
    fclose(f);
    if (rc != EXIT_OK) history_free(h);
    return rc;
}

void history_free(history *h)
{
    for (int c = 0; c < h->n_series; c++) {
        free(h->series[c].name);
        free(h->series[c].values);
    }
    free(h->series);
    free(h->epochs);
    *h = (history){0};
}

static const history_series *find(const history *h, const char *name)
{
    for (int c = 0; c < h->n_series; c++)
        if (strcmp(h->series[c].name, name) == 0) return &h->series[c];
    return NULL;
}

int history_panels(const history *h, history_panel *panels)
{
    int n = 0;
    const history_series *loss = find(h, "loss");
    if (loss) panels[n++] = (history_panel){loss, find(h, "val_loss")};
    for (int c = 0; c < h->n_series; c++) {
        const history_series *s = &h->series[c];
        if (s == loss || (loss && strcmp(s->name, "val_loss") == 0)) continue;
        bool is_val = strncmp(s->name, "val_", 4) == 0;
        if (is_val && find(h, s->name + 4)) continue; /* drawn with its twin */
        panels[n++] = is_val ? (history_panel){NULL, s} : (history_panel){s, NULL};
        if (!is_val) {
            char twin[512];
            snprintf(twin, sizeof twin, "val_%s", s->name);
            panels[n - 1].val = find(h, twin);
        }
    }
    return n;
}
