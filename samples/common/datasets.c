/* Reading samples/data (see datasets.h). */
#include "datasets.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kc_status fail(kc_error *err, kc_status code, const char *what, const char *path)
{
    if (err && err->code == KC_OK) {
        err->code = code;
        snprintf(err->message, sizeof err->message, "%s", what);
        snprintf(err->context, sizeof err->context, "%.500s", path);
    }
    return code;
}

kc_tensor *ds_read_table(const char *path, char sep, kc_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fail(err, KC_EIO, strerror(errno), path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    float *vals = malloc(cap * sizeof(float));
    int64_t rows = 0, cols = -1;
    char line[8192];
    while (vals && fgets(line, sizeof line, f)) {
        int64_t c = 0;
        for (char *p = line; *p && *p != '\n';) {
            while (*p == ' ' || *p == sep) p++;
            if (!*p || *p == '\n' || *p == '\r') break;
            char *end;
            double v = strtod(p, &end);
            if (end == p) break;
            if (n == cap) {
                float *g = realloc(vals, (cap *= 2) * sizeof(float));
                if (!g) break;
                vals = g;
            }
            vals[n++] = (float)v;
            c++;
            p = end;
        }
        if (c == 0) continue;
        if (cols >= 0 && c != cols) {
            fclose(f);
            free(vals);
            fail(err, KC_EFORMAT, "rows of different lengths", path);
            return NULL;
        }
        cols = c;
        rows++;
    }
    fclose(f);
    if (!vals || rows == 0) {
        free(vals);
        fail(err, vals ? KC_EFORMAT : KC_ENOMEM, vals ? "no numbers" : "out of memory", path);
        return NULL;
    }
    kc_tensor *t = kc_tensor_from_data(KC_FLOAT32, 2, (int64_t[]){rows, cols}, vals, err);
    free(vals);
    return t;
}

static char *join(char *buf, size_t n, const char *dir, const char *file)
{
    snprintf(buf, n, "%s/%s", dir, file);
    return buf;
}

kc_status ds_digits(const char *dir, int64_t n_train, kc_tensor **x_train, kc_tensor **y_train, kc_tensor **x_test,
                    kc_tensor **y_test, kc_error *err)
{
    char path[4096];
    kc_tensor *all = ds_read_table(join(path, sizeof path, dir, "digits.csv"), ',', err);
    if (!all) return err->code;
    int64_t rows = kc_tensor_dim(all, 0);
    if (kc_tensor_dim(all, 1) != 65 || n_train <= 0 || n_train >= rows) {
        kc_tensor_unref(all);
        return fail(err, KC_EFORMAT, "expected 65 columns and a split inside the rows", path);
    }
    const float *a = kc_tensor_f32(all);
    /* rows in a fixed pseudo-random order (the file groups samples by
     * writer), so the test rows are a fair sample: a seeded shuffle
     * independent of the library's generator */
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)rows);
    if (!perm) {
        kc_tensor_unref(all);
        return fail(err, KC_ENOMEM, "out of memory", path);
    }
    uint64_t state = 20260;
    for (int64_t i = 0; i < rows; i++) perm[i] = i;
    for (int64_t i = rows - 1; i > 0; i--) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t j = (int64_t)((state >> 33) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    kc_tensor *parts[4] = {0};
    for (int s = 0; s < 2; s++) {
        int64_t start = s ? n_train : 0, count = s ? rows - n_train : n_train;
        parts[2 * s] = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){count, 64}, err);
        parts[2 * s + 1] = kc_tensor_zeros(KC_FLOAT32, 2, (int64_t[]){count, 10}, err);
        if (!parts[2 * s] || !parts[2 * s + 1]) break;
        float *x = kc_tensor_f32(parts[2 * s]), *y = kc_tensor_f32(parts[2 * s + 1]);
        for (int64_t r = 0; r < count; r++) {
            const float *row = a + perm[start + r] * 65;
            for (int k = 0; k < 64; k++) x[r * 64 + k] = row[k] / 16.0f;
            int label = (int)row[64];
            if (label >= 0 && label < 10) y[r * 10 + label] = 1.0f;
        }
    }
    kc_tensor_unref(all);
    free(perm);
    if (!parts[0] || !parts[1] || !parts[2] || !parts[3]) {
        for (int i = 0; i < 4; i++) kc_tensor_unref(parts[i]);
        return err->code ? err->code : KC_ENOMEM;
    }
    *x_train = parts[0];
    *y_train = parts[1];
    *x_test = parts[2];
    *y_test = parts[3];
    return KC_OK;
}

kc_status ds_diabetes(const char *dir, kc_tensor **x, kc_tensor **y, kc_error *err)
{
    char path[4096];
    kc_tensor *data = ds_read_table(join(path, sizeof path, dir, "diabetes_data.txt"), ' ', err);
    kc_tensor *target = data ? ds_read_table(join(path, sizeof path, dir, "diabetes_target.txt"), ' ', err) : NULL;
    if (!data || !target) {
        kc_tensor_unref(data);
        return err->code;
    }
    int64_t rows = kc_tensor_dim(data, 0), cols = kc_tensor_dim(data, 1);
    float *d = kc_tensor_f32(data), *t = kc_tensor_f32(target);
    for (int64_t c = 0; c < cols; c++) {
        double mean = 0, var = 0;
        for (int64_t r = 0; r < rows; r++) mean += d[r * cols + c];
        mean /= (double)rows;
        for (int64_t r = 0; r < rows; r++) var += (d[r * cols + c] - mean) * (d[r * cols + c] - mean);
        double sd = sqrt(var / (double)rows);
        for (int64_t r = 0; r < rows; r++) d[r * cols + c] = (float)((d[r * cols + c] - mean) / (sd > 0 ? sd : 1));
    }
    for (int64_t r = 0; r < kc_tensor_size(target); r++) t[r] /= 100.0f;
    *x = data;
    *y = target;
    return KC_OK;
}
