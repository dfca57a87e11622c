/* modelinspect: how things are printed. JSON is printed here rather than by
 * Jansson's dumper because Keras configs hold float32 values widened to
 * double (0.0010000000474974513) next to plain ones (0.5, 1e-07): Jansson
 * prints every real with 17 digits (0.10000000000000001), Python prints the
 * shortest text that reads back to the same double. We print what Python
 * would, so `config` shows the numbers Keras wrote. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "inspect.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void inspect_format(char *buf, size_t size, const char *fmt, ...)
{
    if (size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* Python's repr of a float: the fewest significant digits that read back
 * exactly; ".0" when that looks like an integer. */
static void real_text(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", size - strlen(buf) - 1);
}

typedef struct sink {
    FILE *out;  /* print here, or */
    char *text; /* append here (malloc'd) */
    size_t len, cap;
    bool oom;
} sink;

static void emit(sink *s, const char *p)
{
    if (s->out) {
        fputs(p, s->out);
        return;
    }
    size_t n = strlen(p);
    if (s->oom) return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1) cap *= 2;
        char *grown = realloc(s->text, cap);
        if (!grown) {
            s->oom = true;
            return;
        }
        s->text = grown;
        s->cap = cap;
    }
    memcpy(s->text + s->len, p, n + 1);
    s->len += n;
}

static void emit_string(sink *s, const char *str)
{
    json_t *j = json_string(str);
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    emit(s, q ? q : "\"?\"");
    free(q);
    json_decref(j);
}

static void newline(sink *s, int indent, int depth)
{
    if (!indent) return;
    emit(s, "\n");
    for (int i = 0; i < indent * depth; i++) emit(s, " ");
}

static void print_value(sink *s, const json_t *v, int indent, int depth)
{
    char buf[64];
    size_t i;
    const char *key;
    const json_t *item;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (json_object_size(v) == 0) {
            emit(s, "{}");
            break;
        }
        emit(s, "{");
        i = 0;
        json_object_foreach((json_t *)v, key, item) {
            if (i++) emit(s, indent ? "," : ", ");
            newline(s, indent, depth + 1);
            emit_string(s, key);
            emit(s, ": ");
            print_value(s, item, indent, depth + 1);
        }
        newline(s, indent, depth);
        emit(s, "}");
        break;
    case JSON_ARRAY:
        if (json_array_size(v) == 0) {
            emit(s, "[]");
            break;
        }
        emit(s, "[");
        json_array_foreach(v, i, item) {
            if (i) emit(s, indent ? "," : ", ");
            newline(s, indent, depth + 1);
            print_value(s, item, indent, depth + 1);
        }
        newline(s, indent, depth);
        emit(s, "]");
        break;
    case JSON_STRING:
        emit_string(s, json_string_value(v));
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        emit(s, buf);
        break;
    case JSON_REAL:
        real_text(json_real_value(v), buf, sizeof buf);
        emit(s, buf);
        break;
    case JSON_TRUE:
        emit(s, "true");
        break;
    case JSON_FALSE:
        emit(s, "false");
        break;
    default:
        emit(s, "null");
        break;
    }
}

void inspect_json_print(FILE *out, const json_t *v, int indent)
{
    sink s = {.out = out};
    print_value(&s, v, indent, 0);
}

char *inspect_json_text(const json_t *v)
{
    sink s = {0};
    print_value(&s, v, 0, 0);
    if (s.oom) {
        free(s.text);
        return NULL;
    }
    return s.text ? s.text : strdup("");
}

int inspect_emit_json(json_t *root)
{
    if (!root) return inspect_fail(EXIT_INVALID, "out of memory");
    inspect_json_print(stdout, root, 2);
    putchar('\n');
    json_decref(root);
    return fflush(stdout) == 0 ? EXIT_OK : inspect_fail(EXIT_INVALID, "cannot write the output");
}

json_t *inspect_shape_json(int ndim, const int64_t *dims)
{
    json_t *list = json_array();
    for (int i = 0; i < ndim; i++) json_array_append_new(list, dims[i] < 0 ? json_null() : json_integer(dims[i]));
    return list;
}

const char *inspect_shape_text(int ndim, const int64_t *dims, char *buf, size_t size)
{
    kc_shape s = kc_shape_make(ndim, dims);
    return kc_shape_format(&s, buf, size);
}

const char *inspect_bytes_text(double bytes, char *buf, size_t size)
{
    static const char *const units[] = {"Byte", "KB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (u < 5 && bytes / 1024.0 >= 1.0) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, size, "%.2f %s", bytes, units[u]);
    return buf;
}

/* ---- tables ------------------------------------------------------------------------------------ */

void table_init(inspect_table *t, int ncols, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    table_row(t, headers);
}

void table_row(inspect_table *t, const char *const *cells)
{
    if (t->ncols < 1 || t->ncols > TABLE_MAX_COLS) return;
    if (t->oom) return;
    if ((t->n_rows + 1) * (size_t)t->ncols > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16 * (size_t)t->ncols;
        char **grown = realloc(t->cells, cap * sizeof(char *));
        if (!grown) {
            t->oom = true;
            return;
        }
        t->cells = grown;
        t->cap = cap;
    }
    for (int c = 0; c < t->ncols; c++) {
        char *copy = strdup(cells[c] ? cells[c] : "");
        if (!copy) t->oom = true;
        t->cells[t->n_rows * (size_t)t->ncols + (size_t)c] = copy;
    }
    t->n_rows++;
}

/* Note rows hold their text in the first cell and NULL in the others. */
static bool is_note(const inspect_table *t, size_t r)
{
    return t->ncols > 1 && !t->cells[r * (size_t)t->ncols + 1];
}

void table_note(inspect_table *t, const char *text)
{
    const char *cells[TABLE_MAX_COLS] = {text};
    size_t before = t->n_rows;
    table_row(t, cells);
    if (t->n_rows == before) return;
    for (int c = 1; c < t->ncols; c++) {
        free(t->cells[before * (size_t)t->ncols + (size_t)c]);
        t->cells[before * (size_t)t->ncols + (size_t)c] = NULL;
    }
}

void table_print(const inspect_table *t, FILE *out)
{
    size_t width[TABLE_MAX_COLS] = {0};
    for (size_t r = 0; r < t->n_rows; r++)
        for (int c = 0; c < t->ncols && !is_note(t, r); c++) {
            const char *cell = t->cells[r * (size_t)t->ncols + (size_t)c];
            size_t w = cell ? strlen(cell) : 0;
            if (w > width[c]) width[c] = w;
        }
    size_t total = 0;
    for (int c = 0; c < t->ncols; c++) total += width[c] + (c ? 2 : 0);
    for (size_t r = 0; r < t->n_rows; r++) {
        if (is_note(t, r)) {
            const char *note = t->cells[r * (size_t)t->ncols];
            fprintf(out, "%s\n", note ? note : "");
            continue;
        }
        /* up to the last non-empty cell: no trailing blanks */
        int end = t->ncols;
        while (end > 1) {
            const char *cell = t->cells[r * (size_t)t->ncols + (size_t)(end - 1)];
            if (cell && cell[0]) break;
            end--;
        }
        for (int c = 0; c < end; c++) {
            const char *cell = t->cells[r * (size_t)t->ncols + (size_t)c];
            bool last = c == end - 1;
            int w = (int)width[c];
            if (t->right[c]) fprintf(out, "%s%*s", c ? "  " : "", w, cell ? cell : "");
            else if (last) fprintf(out, "%s%s", c ? "  " : "", cell ? cell : "");
            else fprintf(out, "%s%-*s", c ? "  " : "", w, cell ? cell : "");
        }
        fputc('\n', out);
        if (r == 0) {
            for (size_t i = 0; i < total; i++) fputc('-', out);
            fputc('\n', out);
        }
    }
}

void table_free(inspect_table *t)
{
    for (size_t i = 0; i < t->n_rows * (size_t)t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}
