/* dtypes and shapes: names, sizes, formatting and validation. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtype_table[] = {
#define X(id, str, sz) {str, sz},
    KC_DTYPE_LIST(X)
#undef X
};
_Static_assert(sizeof(dtype_table) / sizeof(dtype_table[0]) == KC_DTYPE_COUNT,
               "dtype table out of sync");

const char *kc_dtype_name(kc_dtype dtype)
{
    return (unsigned)dtype < KC_DTYPE_COUNT ? dtype_table[dtype].name : "?";
}

size_t kc_dtype_size(kc_dtype dtype)
{
    return (unsigned)dtype < KC_DTYPE_COUNT ? dtype_table[dtype].size : 0;
}

kc_status kc_dtype_from_name(const char *name, kc_dtype *out, kc_error *err)
{
    if (!name) return kc__errf(err, KC_EINVAL, "dtype name is NULL");
    for (int i = 0; i < KC_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_table[i].name) == 0) {
            *out = (kc_dtype)i;
            return KC_OK;
        }
    }
    return kc__errf(err, KC_ENOTFOUND, "unsupported dtype '%s' (ckeras has float32, int32, int64)",
                    name);
}

kc_shape kc_shape_make(int ndim, const int64_t *dims)
{
    kc_shape s;
    memset(&s, 0, sizeof(s));
    if (ndim < 0) ndim = 0;
    if (ndim > KC_MAX_DIMS) ndim = KC_MAX_DIMS;
    s.ndim = ndim;
    for (int i = 0; i < ndim; i++) s.dims[i] = dims ? dims[i] : -1;
    return s;
}

bool kc_shape_equal(const kc_shape *a, const kc_shape *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

int64_t kc_shape_size(const kc_shape *shape)
{
    int64_t n = 1;
    for (int i = 0; i < shape->ndim; i++) {
        if (shape->dims[i] < 0 || !kc__mul_i64(n, shape->dims[i], &n)) return -1;
    }
    return n;
}

const char *kc__dims_format(int ndim, const int64_t *dims, char *buf, size_t size)
{
    if (!buf || size == 0) return buf;
    size_t used = 0;
    buf[0] = '\0';
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (used < size) {                                                                         \
            int n_ = snprintf(buf + used, size - used, __VA_ARGS__);                               \
            if (n_ > 0) used += (size_t)n_;                                                        \
        }                                                                                          \
    } while (0)
    PUT("(");
    for (int i = 0; i < ndim; i++) {
        if (i) PUT(", ");
        if (dims[i] < 0)
            PUT("None");
        else
            PUT("%lld", (long long)dims[i]);
    }
    if (ndim == 1) PUT(",");
    PUT(")");
#undef PUT
    return buf;
}

const char *kc_shape_format(const kc_shape *shape, char *buf, size_t size)
{
    int nd = shape->ndim < 0 ? 0 : shape->ndim > KC_MAX_DIMS ? KC_MAX_DIMS : shape->ndim;
    return kc__dims_format(nd, shape->dims, buf, size);
}

kc_status kc__check_dims(int ndim, const int64_t *dims, int64_t *size, kc_error *err)
{
    if (ndim < 0 || ndim > KC_MAX_DIMS)
        return kc__errf(err, KC_EINVAL, "rank %d is outside 0..%d", ndim, KC_MAX_DIMS);
    if (ndim > 0 && !dims) return kc__errf(err, KC_EINVAL, "dims is NULL for rank %d", ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) {
            char buf[160];
            return kc__errf(err, KC_ESHAPE, "negative dimension in shape %s",
                            kc__dims_format(ndim, dims, buf, sizeof(buf)));
        }
        if (!kc__mul_i64(n, dims[i], &n) || n > (int64_t)(SIZE_MAX / 8)) {
            char buf[160];
            return kc__errf(err, KC_ELIMIT, "element count of shape %s overflows",
                            kc__dims_format(ndim, dims, buf, sizeof(buf)));
        }
    }
    *size = n;
    return KC_OK;
}
