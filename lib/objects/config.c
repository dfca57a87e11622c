/* Typed config getters that report the JSON path and what was expected.
 *
 * A from_config function reads each of its keys with one call; a bad value
 * becomes "config.layers[3].config.units: expected a positive integer, got
 * -2" instead of a crash or a silent default. */
#include "objects_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void kc_config_ctx_init(kc_config_ctx *ctx, const char *path, const kc_custom_objects *custom)
{
    memset(ctx, 0, sizeof(*ctx));
    snprintf(ctx->path, sizeof(ctx->path), "%s", path ? path : "config");
    ctx->custom = custom;
    ctx->version = 1;
}

kc_config_ctx kc_config_ctx_child(const kc_config_ctx *parent, const char *key, size_t index)
{
    kc_config_ctx c = *parent;
    size_t n = strlen(c.path);
    if (key)
        snprintf(c.path + n, sizeof(c.path) - n, "%s%s", n ? "." : "", key);
    else
        snprintf(c.path + n, sizeof(c.path) - n, "[%zu]", index);
    return c;
}

/* Short description of a JSON value for messages: -2, "abc", [...], {...}. */
static const char *describe(const json_t *j, char *buf, size_t size)
{
    double d;
    switch (json_typeof(j)) {
    case JSON_INTEGER: snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(j)); break;
    case JSON_REAL: snprintf(buf, size, "%g", json_real_value(j)); break;
    case JSON_STRING:
        if (kc__json_to_double(j, &d))
            snprintf(buf, size, "%g", d);
        else
            snprintf(buf, size, "\"%.60s\"", json_string_value(j));
        break;
    case JSON_TRUE: snprintf(buf, size, "true"); break;
    case JSON_FALSE: snprintf(buf, size, "false"); break;
    case JSON_NULL: snprintf(buf, size, "null"); break;
    case JSON_ARRAY: snprintf(buf, size, "a list"); break;
    case JSON_OBJECT: snprintf(buf, size, "an object"); break;
    }
    return buf;
}

static kc_status bad(const kc_config_ctx *ctx, const char *key, const char *expected,
                     const json_t *got, kc_error *err)
{
    char d[96];
    if (got)
        kc__errf(err, KC_EFORMAT, "%s%s%s: expected %s, got %s", ctx->path, ctx->path[0] ? "." : "",
                 key, expected, describe(got, d, sizeof(d)));
    else
        kc__errf(err, KC_EFORMAT, "%s%s%s: missing (expected %s)", ctx->path,
                 ctx->path[0] ? "." : "", key, expected);
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    kc__error_context(err, "%s", c.path);
    return KC_EFORMAT;
}

/* Fetch key: *v = NULL when absent (or null with KC_CFG_NULLABLE). */
static kc_status fetch(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                       unsigned flags, const char *expected, const json_t **v, kc_error *err)
{
    *v = json_is_object(cfg) ? json_object_get(cfg, key) : NULL;
    if (*v && json_is_null(*v) && (flags & KC_CFG_NULLABLE)) *v = NULL;
    if (!*v && (flags & KC_CFG_REQUIRED)) return bad(ctx, key, expected, NULL, err);
    return KC_OK;
}

static const char *int_words(unsigned flags)
{
    return (flags & KC_CFG_POSITIVE) ? "a positive integer"
           : (flags & KC_CFG_NONNEG) ? "a non-negative integer"
                                     : "an integer";
}

static bool as_int(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) {
            *out = (int64_t)d;
            return true;
        }
    }
    return false;
}

static bool int_ok(int64_t x, unsigned flags)
{
    return !((flags & KC_CFG_POSITIVE) && x <= 0) && !((flags & KC_CFG_NONNEG) && x < 0);
}

kc_status kc_cfg_int(const kc_config_ctx *ctx, const json_t *cfg, const char *key, unsigned flags,
                     int64_t dflt, int64_t *out, kc_error *err)
{
    const json_t *v;
    kc_status rc = fetch(ctx, cfg, key, flags, int_words(flags), &v, err);
    if (rc != KC_OK) return rc;
    if (!v) {
        *out = dflt;
        return KC_OK;
    }
    int64_t x;
    if (!as_int(v, &x) || !int_ok(x, flags)) return bad(ctx, key, int_words(flags), v, err);
    *out = x;
    return KC_OK;
}

kc_status kc_cfg_float(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                       unsigned flags, double dflt, double *out, kc_error *err)
{
    const char *words = (flags & KC_CFG_POSITIVE) ? "a positive number"
                        : (flags & KC_CFG_NONNEG) ? "a non-negative number"
                                                  : "a number";
    const json_t *v;
    kc_status rc = fetch(ctx, cfg, key, flags, words, &v, err);
    if (rc != KC_OK) return rc;
    if (!v) {
        *out = dflt;
        return KC_OK;
    }
    double x;
    if (!kc__json_to_double(v, &x) || ((flags & KC_CFG_POSITIVE) && !(x > 0)) ||
        ((flags & KC_CFG_NONNEG) && !(x >= 0)))
        return bad(ctx, key, words, v, err);
    *out = x;
    return KC_OK;
}

kc_status kc_cfg_bool(const kc_config_ctx *ctx, const json_t *cfg, const char *key, unsigned flags,
                      bool dflt, bool *out, kc_error *err)
{
    const json_t *v;
    kc_status rc = fetch(ctx, cfg, key, flags, "true or false", &v, err);
    if (rc != KC_OK) return rc;
    if (!v) {
        *out = dflt;
        return KC_OK;
    }
    if (!json_is_boolean(v)) return bad(ctx, key, "true or false", v, err);
    *out = json_is_true(v);
    return KC_OK;
}

kc_status kc_cfg_string(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                        unsigned flags, const char *dflt, const char **out, kc_error *err)
{
    const json_t *v;
    kc_status rc = fetch(ctx, cfg, key, flags, "a string", &v, err);
    if (rc != KC_OK) return rc;
    if (!v) {
        *out = dflt;
        return KC_OK;
    }
    if (!json_is_string(v)) return bad(ctx, key, "a string", v, err);
    *out = json_string_value(v);
    return KC_OK;
}

kc_status kc_cfg_choice(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                        unsigned flags, const char *const *choices, int n_choices, int dflt,
                        int *out, kc_error *err)
{
    char expected[256];
    size_t n = (size_t)snprintf(expected, sizeof(expected), "one of");
    for (int i = 0; i < n_choices && n < sizeof(expected); i++)
        n += (size_t)snprintf(expected + n, sizeof(expected) - n, "%s \"%s\"", i ? "," : "", choices[i]);
    const json_t *v;
    kc_status rc = fetch(ctx, cfg, key, flags, expected, &v, err);
    if (rc != KC_OK) return rc;
    if (!v) {
        *out = dflt;
        return KC_OK;
    }
    if (json_is_string(v))
        for (int i = 0; i < n_choices; i++)
            if (strcmp(json_string_value(v), choices[i]) == 0) {
                *out = i;
                return KC_OK;
            }
    return bad(ctx, key, expected, v, err);
}

kc_status kc_cfg_int_tuple(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                           unsigned flags, int n, int64_t dflt, int64_t *out, kc_error *err)
{
    char expected[96];
    snprintf(expected, sizeof(expected), "%s or a list of %d", int_words(flags), n);
    const json_t *v;
    kc_status rc = fetch(ctx, cfg, key, flags, expected, &v, err);
    if (rc != KC_OK) return rc;
    if (!v) {
        for (int i = 0; i < n; i++) out[i] = dflt;
        return KC_OK;
    }
    int64_t x;
    if (as_int(v, &x)) {
        if (!int_ok(x, flags)) return bad(ctx, key, expected, v, err);
        for (int i = 0; i < n; i++) out[i] = x;
        return KC_OK;
    }
    if (!json_is_array(v) || (int)json_array_size(v) != n) return bad(ctx, key, expected, v, err);
    for (int i = 0; i < n; i++) {
        if (!as_int(json_array_get(v, (size_t)i), &x) || !int_ok(x, flags))
            return bad(ctx, key, expected, v, err);
        out[i] = x;
    }
    return KC_OK;
}

kc_status kc_cfg_seed(const kc_config_ctx *ctx, const json_t *cfg, const char *key, bool *has,
                      uint64_t *seed, kc_error *err)
{
    int64_t s = 0;
    const json_t *v = json_is_object(cfg) ? json_object_get(cfg, key) : NULL;
    *has = v && !json_is_null(v);
    *seed = 0;
    if (!*has) return KC_OK;
    kc_status rc = kc_cfg_int(ctx, cfg, key, 0, 0, &s, err);
    if (rc == KC_OK) *seed = (uint64_t)s;
    return rc;
}

kc_status kc_cfg_object(const kc_config_ctx *ctx, const json_t *cfg, const char *key, kc_kind kind,
                        const char *dflt, kc_object **out, kc_error *err)
{
    *out = NULL;
    const json_t *v = json_is_object(cfg) ? json_object_get(cfg, key) : NULL;
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    if (!v) {
        if (!dflt) return KC_OK;
        json_t *s = json_string(dflt);
        if (!s) return kc__errf(err, KC_ENOMEM, "out of memory");
        kc_status rc = kc_deserialize(kind, s, &c, out, err);
        json_decref(s);
        return rc;
    }
    return kc_deserialize(kind, v, &c, out, err);
}

kc_status kc_cfg_set_float(json_t *config, const char *key, double value, kc_error *err)
{
    if (json_object_set_new(config, key, kc__json_float(value)))
        return kc__errf(err, KC_ENOMEM, "out of memory writing config key '%s'", key);
    return KC_OK;
}

static kc_status set_value(json_t *config, const char *key, json_t *value, kc_error *err)
{
    if (!value || json_object_set_new(config, key, value))
        return kc__errf(err, value ? KC_ENOMEM : KC_EINVAL, "cannot write config key '%s'", key);
    return KC_OK;
}

kc_status kc_cfg_set_int(json_t *config, const char *key, int64_t value, kc_error *err)
{
    return set_value(config, key, json_integer(value), err);
}

kc_status kc_cfg_set_bool(json_t *config, const char *key, bool value, kc_error *err)
{
    return set_value(config, key, json_boolean(value), err);
}

kc_status kc_cfg_set_string(json_t *config, const char *key, const char *value, kc_error *err)
{
    return set_value(config, key, value ? json_string(value) : json_null(), err);
}

kc_status kc_cfg_set_object(json_t *config, const char *key, const kc_object *value, kc_error *err)
{
    json_t *j = NULL;
    if (value) {
        kc_status rc = kc_serialize(value, &j, err);
        if (rc != KC_OK) return rc;
    } else {
        j = json_null();
    }
    if (json_object_set_new(config, key, j))
        return kc__errf(err, KC_ENOMEM, "out of memory writing config key '%s'", key);
    return KC_OK;
}
