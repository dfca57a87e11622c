/* Tensors as {"shape", "data"} JSON (keras-ref's example files). */
#include "../core/internal.h"

#include <ckeras/tensor_json.h>

#include <math.h>
#include <string.h>

/* A number, or one of the non-finite spellings Python and keras-ref write. */
static bool json_value_number(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s) return false;
    if (strcmp(s, "NaN") == 0 || strcmp(s, "nan") == 0) *out = NAN;
    else if (strcmp(s, "Infinity") == 0 || strcmp(s, "inf") == 0) *out = INFINITY;
    else if (strcmp(s, "-Infinity") == 0 || strcmp(s, "-inf") == 0) *out = -INFINITY;
    else return false;
    return true;
}

kc_status kc_tensor_from_json(const json_t *json, kc_tensor **out, kc_error *err)
{
    *out = NULL;
    if (!json_is_object(json)) return kc__errf(err, KC_EFORMAT, "a tensor must be a JSON object with \"shape\" and \"data\"");
    const json_t *jshape = json_object_get(json, "shape"), *jdata = json_object_get(json, "data");
    if (!json_is_array(jshape)) return kc__errf(err, KC_EFORMAT, "tensor \"shape\" must be a list of integers");
    if (!json_is_array(jdata)) return kc__errf(err, KC_EFORMAT, "tensor \"data\" must be a flat list of numbers");

    kc_dtype dtype = KC_FLOAT32;
    const json_t *jdtype = json_object_get(json, "dtype");
    if (jdtype && !json_is_null(jdtype)) {
        const char *name = json_string_value(jdtype);
        if (!name) return kc__errf(err, KC_EFORMAT, "tensor \"dtype\" must be a string");
        kc_status rc = kc_dtype_from_name(name, &dtype, err);
        if (rc != KC_OK) return rc;
    }

    size_t nd = json_array_size(jshape);
    if (nd > KC_MAX_DIMS) return kc__errf(err, KC_EFORMAT, "tensor rank %zu exceeds %d", nd, KC_MAX_DIMS);
    int64_t dims[KC_MAX_DIMS], count = 1;
    for (size_t i = 0; i < nd; i++) {
        const json_t *d = json_array_get(jshape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return kc__errf(err, KC_EFORMAT, "tensor \"shape\"[%zu] must be a non-negative integer", i);
        dims[i] = json_integer_value(d);
        if (!kc__mul_i64(count, dims[i], &count))
            return kc__errf(err, KC_EFORMAT, "tensor shape overflows");
    }
    if ((size_t)count != json_array_size(jdata))
        return kc__errf(err, KC_EFORMAT, "tensor \"data\" has %zu values, its shape needs %lld",
                        json_array_size(jdata), (long long)count);

    kc_tensor *t = kc_tensor_empty(dtype, (int)nd, dims, err);
    if (!t) return kc__error_code(err, KC_ENOMEM);
    void *data = kc_tensor_data(t);
    for (int64_t i = 0; i < count; i++) {
        double v;
        if (!json_value_number(json_array_get(jdata, (size_t)i), &v)) {
            kc_tensor_unref(t);
            return kc__errf(err, KC_EFORMAT, "tensor \"data\"[%lld] is not a number", (long long)i);
        }
        if (dtype == KC_FLOAT32) {
            ((float *)data)[i] = (float)v;
            continue;
        }
        double lim = dtype == KC_INT32 ? 2147483648.0 : 9223372036854775808.0;
        if (v != floor(v) || v < -lim || v >= lim) {
            kc_tensor_unref(t);
            return kc__errf(err, KC_EFORMAT, "tensor \"data\"[%lld] = %g is not a %s value",
                            (long long)i, v, kc_dtype_name(dtype));
        }
        if (dtype == KC_INT32) ((int32_t *)data)[i] = (int32_t)v;
        else ((int64_t *)data)[i] = (int64_t)v;
    }
    *out = t;
    return KC_OK;
}

static json_t *float_json(double v)
{
    if (isnan(v)) return json_string("NaN");
    if (isinf(v)) return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

kc_status kc_tensor_to_json(const kc_tensor *t, const char *name, json_t **out, kc_error *err)
{
    *out = NULL;
    json_t *obj = json_object(), *shape = json_array(), *data = json_array();
    bool ok = obj && shape && data;
    if (ok && name) ok = json_object_set_new(obj, "name", json_string(name)) == 0;
    for (int i = 0; ok && i < kc_tensor_ndim(t); i++)
        ok = json_array_append_new(shape, json_integer(kc_tensor_dim(t, i))) == 0;
    kc_dtype dtype = kc_tensor_dtype(t);
    int64_t n = kc_tensor_size(t);
    for (int64_t i = 0; ok && i < n; i++) {
        double v = kc_tensor_get(t, i);
        ok = json_array_append_new(data, dtype == KC_FLOAT32 ? float_json(v) : json_integer((json_int_t)v)) == 0;
    }
    if (ok && dtype != KC_FLOAT32) ok = json_object_set_new(obj, "dtype", json_string(kc_dtype_name(dtype))) == 0;
    if (ok) ok = json_object_set(obj, "shape", shape) == 0 && json_object_set(obj, "data", data) == 0;
    json_decref(shape);
    json_decref(data);
    if (!ok) {
        json_decref(obj);
        return kc__errf(err, KC_ENOMEM, "out of memory building tensor JSON");
    }
    *out = obj;
    return KC_OK;
}
