/* JSON text as Keras reads and writes it.
 *
 * Python's json module writes NaN, Infinity and -Infinity as bare tokens,
 * which Jansson (like the JSON standard) refuses. The reader rewrites them,
 * outside strings, into marker strings ("__kc_float__:NaN") that the config
 * getters understand, and counts nesting so that a hostile file cannot make
 * the parser recurse deeply. The writer does the reverse and formats like
 * Python's json.dumps (", " and ": " separators, ASCII only, other
 * characters as \u escapes of four hex digits, floats in their shortest
 * round-trip form: 0.1 not
 * 0.10000000000000001), so the model_config ckeras writes reads like the one
 * Keras writes.
 *
 * Jansson's values cost far more than their text: an empty object "{}" is
 * 2 bytes of text and about 250 bytes of memory, so 20 MB of "[{}, {}, ...]"
 * would take 1.6 GB. The same pre-scan therefore counts the values the text
 * holds and estimates what Jansson will allocate for them; text that would
 * take more than 24 times its size (plus 1 MiB), or more than 16M values,
 * is refused before Jansson sees it. Whole Keras configs take 8 to 12 times
 * their text, runs of small objects ({"units": 32, "name": "d"}) about 20. */
#include "objects_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable text buffer ------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n, cap;
    bool oom;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (!kc__grow((void **)&b->p, &b->cap, b->n + n + 1, 1)) {
        b->oom = true;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

/* ---- reading ---------------------------------------------------------------- */

static bool is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* A character that continues a number token (digits, sign, '.', exponent). */
static bool is_number_part(char c)
{
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

/* What Jansson allocates per value, malloc's overhead included (measured
 * with Jansson 2.14 on glibc, rounded up): an object with its hash table,
 * an array, a string value or an object key (plus its bytes), a number,
 * and each further member's slot (arrays and hash tables grow by doubling).
 * true, false and null are shared singletons: only their slot counts. */
#define COST_OBJECT 256
#define COST_ARRAY 160
#define COST_STRING 104
#define COST_KEY 80
#define COST_NUMBER 48
#define COST_MEMBER 16
#define MEMORY_FACTOR 24
#define MEMORY_SLACK ((size_t)1 << 20)
#define MAX_VALUES ((size_t)1 << 24)

/* The values a text holds and what they will cost once parsed. */
typedef struct json_census {
    size_t values; /* objects, arrays, strings, numbers */
    size_t bytes;  /* estimated memory */
} json_census;

static bool is_number_start(char c) { return c == '-' || (c >= '0' && c <= '9'); }

/* Count the token starting with c (outside strings: '{', '[', ',' or the
 * first character of a number) into cs. */
static void census_add(json_census *cs, char c)
{
    switch (c) {
    case '{': cs->bytes += COST_OBJECT; break;
    case '[': cs->bytes += COST_ARRAY; break;
    case ',': cs->bytes += COST_MEMBER; return; /* a slot, not a value */
    default: cs->bytes += COST_NUMBER; break;
    }
    cs->values++;
}

/* Count the string of len bytes whose closing quote is text[end]: a key
 * when a ':' follows. */
static void census_string(json_census *cs, const char *text, size_t length, size_t end, size_t len)
{
    size_t k = end + 1;
    while (k < length && (text[k] == ' ' || text[k] == '\n' || text[k] == '\r' || text[k] == '\t')) k++;
    cs->bytes += (k < length && text[k] == ':' ? COST_KEY : COST_STRING) + len;
    cs->values++;
}

/* A NaN / Infinity / -Infinity token at text[i] (outside strings): its
 * length, 0 when there is none. *mark receives its marker string. */
static size_t float_token(const char *text, size_t length, size_t i, const char **mark)
{
    size_t tl = 0;
    if (i > 0 && is_ident(text[i - 1])) return 0;
    if (length - i >= 3 && !memcmp(text + i, "NaN", 3)) tl = 3, *mark = "\"" KC__FLOAT_MARK "NaN\"";
    else if (length - i >= 8 && !memcmp(text + i, "Infinity", 8)) tl = 8, *mark = "\"" KC__FLOAT_MARK "Infinity\"";
    else if (length - i >= 9 && !memcmp(text + i, "-Infinity", 9)) tl = 9, *mark = "\"" KC__FLOAT_MARK "-Infinity\"";
    return tl && (i + tl == length || !is_ident(text[i + tl])) ? tl : 0;
}

/* One pass over the text, outside strings: nesting depth checked, NaN and
 * Infinity tokens rewritten into b (from *start on: what precedes is
 * already copied), the values counted into cs. */
static kc_status prescan(const char *text, size_t length, int max_depth, buf *b, size_t *start, json_census *cs,
                         kc_error *err)
{
    int depth = 0;
    bool in_str = false;
    size_t line = 1, str_start = 0;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (c == '\n') line++;
        if (in_str) {
            if (c == '\\' && i + 1 < length) {
                i++;
            } else if (c == '"') {
                in_str = false;
                census_string(cs, text, length, i, i - str_start - 1);
            }
            continue;
        }
        if (c == ',' || c == '[' || c == '{' || (is_number_start(c) && (i == 0 || !is_number_part(text[i - 1]))))
            census_add(cs, c);
        const char *mark = NULL;
        size_t tl = 0;
        if (c == '"') {
            in_str = true;
            str_start = i;
        } else if ((c == '[' || c == '{') && ++depth > max_depth) {
            kc__errf(err, KC_ELIMIT, "JSON nesting deeper than %d levels", max_depth);
            kc__error_context(err, "line %zu", line);
            return KC_ELIMIT;
        } else if (c == ']' || c == '}') {
            depth--;
        } else if ((c == 'N' || c == 'I' || c == '-') && (tl = float_token(text, length, i, &mark))) {
            put(b, text + *start, i - *start);
            puts_(b, mark);
            *start = i + tl;
            i += tl - 1;
        }
    }
    return KC_OK;
}

json_t *kc_json_parse(const char *text, size_t length, int max_depth, kc_error *err)
{
    if (!text) {
        kc__errf(err, KC_EINVAL, "JSON text is NULL");
        return NULL;
    }
    buf b = {0};
    size_t start = 0;
    json_census cs = {0, 0};
    if (prescan(text, length, max_depth > 0 ? max_depth : 512, &b, &start, &cs, err) != KC_OK) {
        kc__free(b.p);
        return NULL;
    }
    if (cs.values > MAX_VALUES || cs.bytes / MEMORY_FACTOR > length + MEMORY_SLACK / MEMORY_FACTOR) {
        kc__free(b.p);
        if (cs.values > MAX_VALUES)
            kc__errf(err, KC_ELIMIT, "JSON text holds more than %zu values", (size_t)MAX_VALUES);
        else
            kc__errf(err, KC_ELIMIT, "JSON text of %zu bytes would take about %zu MB once parsed (more than %d times its size)",
                     length, cs.bytes >> 20, MEMORY_FACTOR);
        return NULL;
    }
    const char *src = text;
    size_t srclen = length;
    if (b.p || start) {
        put(&b, text + start, length - start);
        if (b.oom) {
            kc__free(b.p);
            kc__errf(err, KC_ENOMEM, "out of memory parsing JSON");
            return NULL;
        }
        src = b.p;
        srclen = b.n;
    }
    json_error_t je;
    json_t *j = json_loadb(src, srclen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    kc__free(b.p);
    if (!j) {
        kc__errf(err, KC_EFORMAT, "invalid JSON: %s", je.text);
        kc__error_context(err, "line %d, column %d", je.line, je.column);
    }
    return j;
}

/* ---- writing ------------------------------------------------------------------ */

/* Python's repr(float): the shortest digits that read back to the same
 * double; scientific when the exponent is < -4 or >= 16. */
static void put_double(buf *b, double v)
{
    char tmp[64];
    if (isnan(v)) {
        puts_(b, "NaN");
        return;
    }
    if (isinf(v)) {
        puts_(b, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
        if (strtod(tmp, NULL) == v) break;
    }
    /* tmp = "[-]d.ddde[+-]XX": split digits and exponent */
    char digits[32];
    int nd = 0, exp10;
    const char *q = tmp;
    bool neg = *q == '-';
    if (neg) q++;
    for (; *q && *q != 'e'; q++)
        if (*q != '.') digits[nd++] = *q;
    exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--; /* %.*e may pad */
    char out[64];
    int o = 0;
    if (neg) out[o++] = '-';
    if (exp10 < -4 || exp10 >= 16) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++) out[o++] = digits[i];
        }
        o += snprintf(out + o, sizeof(out) - (size_t)o, "e%c%02d", exp10 < 0 ? '-' : '+',
                      exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp10 - 1; i++) out[o++] = '0';
        for (int i = 0; i < nd; i++) out[o++] = digits[i];
    } else {
        for (int i = 0; i <= exp10; i++) out[o++] = i < nd ? digits[i] : '0';
        out[o++] = '.';
        if (nd > exp10 + 1)
            for (int i = exp10 + 1; i < nd; i++) out[o++] = digits[i];
        else
            out[o++] = '0';
    }
    put(b, out, (size_t)o);
}

static void put_string(buf *b, const char *s, size_t n)
{
    put(b, "\"", 1);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned c = u[i];
        char esc[16];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c == '\n') {
            puts_(b, "\\n");
        } else if (c == '\r') {
            puts_(b, "\\r");
        } else if (c == '\t') {
            puts_(b, "\\t");
        } else if (c == '\b') {
            puts_(b, "\\b");
        } else if (c == '\f') {
            puts_(b, "\\f");
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            puts_(b, esc);
        } else if (c < 0x80) {
            put(b, (const char *)&u[i], 1);
        } else {
            /* decode UTF-8 (Jansson validated it) and escape as Python's
             * ensure_ascii does, with surrogate pairs above U+FFFF */
            unsigned cp;
            int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
            cp = c & (0x3f >> extra);
            for (int k = 0; k < extra && i + 1 < n; k++) cp = (cp << 6) | (u[++i] & 0x3f);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                snprintf(esc, sizeof(esc), "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
            } else {
                snprintf(esc, sizeof(esc), "\\u%04x", cp);
            }
            puts_(b, esc);
        }
    }
    put(b, "\"", 1);
}

static void put_value(buf *b, const json_t *j)
{
    char tmp[32];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        puts_(b, "{");
        const char *key;
        json_t *v;
        bool first = true;
        json_object_foreach((json_t *)j, key, v)
        {
            if (!first) puts_(b, ", ");
            first = false;
            put_string(b, key, strlen(key));
            puts_(b, ": ");
            put_value(b, v);
        }
        puts_(b, "}");
        break;
    }
    case JSON_ARRAY:
        puts_(b, "[");
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i) puts_(b, ", ");
            put_value(b, json_array_get(j, i));
        }
        puts_(b, "]");
        break;
    case JSON_STRING: {
        const char *s = json_string_value(j);
        double d;
        if (strncmp(s, KC__FLOAT_MARK, strlen(KC__FLOAT_MARK)) == 0 && kc__json_to_double(j, &d))
            put_double(b, d);
        else
            put_string(b, s, json_string_length(j));
        break;
    }
    case JSON_INTEGER:
        snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        puts_(b, tmp);
        break;
    case JSON_REAL: put_double(b, json_real_value(j)); break;
    case JSON_TRUE: puts_(b, "true"); break;
    case JSON_FALSE: puts_(b, "false"); break;
    case JSON_NULL: puts_(b, "null"); break;
    }
}

char *kc_json_dump(const json_t *json, kc_error *err)
{
    if (!json) {
        kc__errf(err, KC_EINVAL, "kc_json_dump: JSON value is NULL");
        return NULL;
    }
    buf b = {0};
    put_value(&b, json);
    if (b.oom || !b.p) {
        kc__free(b.p);
        kc__errf(err, KC_ENOMEM, "out of memory writing JSON");
        return NULL;
    }
    return b.p;
}

void kc_json_free(char *text) { kc__free(text); }

json_t *kc__json_float(double v)
{
    if (isfinite(v)) return json_real(v);
    return json_string(isnan(v) ? KC__FLOAT_MARK "NaN" : v > 0 ? KC__FLOAT_MARK "Infinity" : KC__FLOAT_MARK "-Infinity");
}

bool kc__json_to_double(const json_t *j, double *out)
{
    if (json_is_integer(j)) {
        *out = (double)json_integer_value(j);
        return true;
    }
    if (json_is_real(j)) {
        *out = json_real_value(j);
        return true;
    }
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t m = strlen(KC__FLOAT_MARK);
        if (strncmp(s, KC__FLOAT_MARK, m) != 0) return false;
        s += m;
        if (!strcmp(s, "NaN")) *out = NAN;
        else if (!strcmp(s, "Infinity")) *out = INFINITY;
        else if (!strcmp(s, "-Infinity")) *out = -INFINITY;
        else return false;
        return true;
    }
    return false;
}
