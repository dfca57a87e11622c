/* Python's number formatting where Keras' output depends on it: repr() of
 * floats (CSVLogger cells) and str.format fields ("{epoch:02d}",
 * "{val_loss:.4f}") in ModelCheckpoint file paths. */
#include "training_int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* repr(float): the shortest digits that read back to the same double;
 * scientific notation below 1e-4 or from 1e16, as Python does. */
void kc__py_repr(double v, char *buf, size_t n)
{
    if (isnan(v)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v > 0 ? "inf" : "-inf");
        return;
    }
    char tmp[64];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v) break;
    }
    int exp10 = v == 0 ? 0 : atoi(strchr(tmp, 'e') + 1);
    if (exp10 < -4 || exp10 >= 16) {
        /* mantissa digits, then e-05 style exponent (at least two digits) */
        char mant[64];
        snprintf(mant, sizeof mant, "%.*e", prec - 1, v);
        *strchr(mant, 'e') = '\0';
        snprintf(buf, n, "%se%c%02d", mant, exp10 < 0 ? '-' : '+', abs(exp10));
        return;
    }
    int decimals = prec - 1 - exp10;
    snprintf(buf, n, "%.*f", decimals > 0 ? decimals : 0, v);
    if (!strchr(buf, '.') && strlen(buf) + 2 < n) strcat(buf, ".0");
}

/* One replacement field's value with its format spec ([0][width][.prec][type]). */
static kc_status format_field(char *buf, size_t n, double v, bool is_int, const char *spec, kc_error *err)
{
    if (!*spec) {
        if (is_int) snprintf(buf, n, "%lld", (long long)v);
        else kc__py_repr(v, buf, n);
        return KC_OK;
    }
    const char *p = spec;
    bool zero = false;
    if (*p == '0') {
        zero = true;
        p++;
    }
    int width = 0, prec = -1;
    while (isdigit((unsigned char)*p) && width <= 100) width = width * 10 + (*p++ - '0');
    if (*p == '.') {
        prec = 0;
        p++;
        while (isdigit((unsigned char)*p) && prec <= 100) prec = prec * 10 + (*p++ - '0');
    }
    if (width > 100 || prec > 100) /* the field could not fit a file name anyway */
        return kc__errf(err, KC_ELIMIT, "format spec ':%s' is too wide", spec);
    char type = *p ? *p++ : (is_int ? 'd' : 'g');
    if (*p) return kc__errf(err, KC_EINVAL, "unsupported format spec ':%s'", spec);
    char fmt[32];
    int w;
    switch (type) {
    case 'd':
        if (!is_int) return kc__errf(err, KC_EINVAL, "format ':%s' needs an integer, got %g", spec, v);
        snprintf(fmt, sizeof fmt, "%%%s%dlld", zero ? "0" : "", width);
        w = snprintf(buf, n, fmt, (long long)v);
        break;
    case 'f': case 'e': case 'g': case 'E': case 'G': case 'F':
        snprintf(fmt, sizeof fmt, "%%%s%d.%d%c", zero ? "0" : "", width, prec < 0 ? 6 : prec, type);
        w = snprintf(buf, n, fmt, v);
        break;
    case '%':
        snprintf(fmt, sizeof fmt, "%%%s%d.%df%%%%", zero ? "0" : "", width > 0 ? width - 1 : 0, prec < 0 ? 6 : prec);
        w = snprintf(buf, n, fmt, v * 100.0);
        break;
    default:
        return kc__errf(err, KC_EINVAL, "unsupported format spec ':%s'", spec);
    }
    if (w < 0 || (size_t)w >= n) return kc__errf(err, KC_ELIMIT, "file path too long");
    return KC_OK;
}

kc_status kc__py_format_path(const char *pattern, int epoch, const kc_logs *logs, char *out, size_t n,
                             kc_error *err)
{
    size_t len = 0;
    for (const char *p = pattern; *p;) {
        bool doubled = (p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}');
        if (*p == '}' && !doubled) /* as Python's str.format */
            return kc__errf(err, KC_EINVAL, "single '}' encountered in '%s' (write '}}' for a brace)", pattern);
        if (doubled || *p != '{') {
            if (len + 1 >= n) return kc__errf(err, KC_ELIMIT, "file path too long");
            out[len++] = *p;
            p += doubled ? 2 : 1;
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end || end - p > 200) return kc__errf(err, KC_EINVAL, "unterminated '{' in '%s'", pattern);
        char field[256];
        memcpy(field, p + 1, (size_t)(end - p - 1));
        field[end - p - 1] = '\0';
        char *colon = strchr(field, ':');
        const char *spec = "";
        if (colon) {
            *colon = '\0';
            spec = colon + 1;
        }
        double v;
        bool is_int = strcmp(field, "epoch") == 0 || strcmp(field, "batch") == 0;
        if (strcmp(field, "epoch") == 0) v = epoch;
        else if (!kc_logs_get(logs, field, &v))
            return kc__errf(err, KC_EINVAL, "'{%s}' in '%s' is not in the logs", field, pattern);
        char val[512];
        kc_status rc = format_field(val, sizeof val, v, is_int, spec, err);
        if (rc != KC_OK) return rc;
        size_t vl = strlen(val);
        if (len + vl >= n) return kc__errf(err, KC_ELIMIT, "file path too long");
        memcpy(out + len, val, vl);
        len += vl;
        p = end + 1;
    }
    if (len >= n) return kc__errf(err, KC_ELIMIT, "file path too long");
    out[len] = '\0';
    return KC_OK;
}
