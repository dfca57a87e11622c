/* Tensors: reference-counted, contiguous, row-major arrays.
 *
 * The tensor header and its storage are separate so that reshapes are views
 * (no copy) and ops never alias an input they write. Both headers and
 * buffers come from the per-thread buffer cache (alloc.c), so creating the
 * intermediates of a training step does not call malloc once the cache is
 * warm. Each tensor gets a unique 64-bit id: that is how a gradient tape
 * recognises a tensor it recorded, without keeping a pointer to it. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static atomic_uint_fast64_t id_counter = 1;

uint64_t kc__next_id(void) { return atomic_fetch_add_explicit(&id_counter, 1, memory_order_relaxed); }

static void *header_alloc(size_t size)
{
    size_t cap;
    return kc__buffer_alloc(size, &cap);
}

static void header_free(void *p, size_t size)
{
    /* size_class(size) is what header_alloc asked for: 256 for both headers */
    (void)size;
    kc__buffer_free(p, 256);
}

_Static_assert(sizeof(struct kc_tensor) <= 256 && sizeof(kc__storage) <= 256,
               "headers must fit the smallest buffer class");

static kc__storage *storage_new(size_t nbytes, kc_error *err)
{
    kc__storage *s = header_alloc(sizeof(*s));
    if (!s) {
        kc__errf(err, KC_ENOMEM, "out of memory allocating a tensor");
        return NULL;
    }
    memset(s, 0, sizeof(*s));
    s->data = kc__buffer_alloc(nbytes, &s->capacity);
    if (!s->data) {
        header_free(s, sizeof(*s));
        kc__errf(err, KC_ENOMEM, "out of memory allocating %zu bytes for a tensor", nbytes);
        return NULL;
    }
    atomic_init(&s->refcount, 1);
    atomic_init(&s->version, 0);
    return s;
}

static void storage_unref(kc__storage *s)
{
    if (!s) return;
    if (atomic_fetch_sub_explicit(&s->refcount, 1, memory_order_acq_rel) != 1) return;
    if (s->external) {
        if (s->release) s->release(s->release_ctx);
    } else {
        kc__buffer_free(s->data, s->capacity);
    }
    header_free(s, sizeof(*s));
}

static kc_tensor *header_new(kc_dtype dtype, int ndim, const int64_t *dims, int64_t size,
                             kc_error *err)
{
    kc_tensor *t = header_alloc(sizeof(*t));
    if (!t) {
        kc__errf(err, KC_ENOMEM, "out of memory allocating a tensor");
        return NULL;
    }
    memset(t, 0, sizeof(*t));
    atomic_init(&t->refcount, 1);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    t->size = size;
    t->id = kc__next_id();
    return t;
}

kc_tensor *kc_tensor_empty(kc_dtype dtype, int ndim, const int64_t *dims, kc_error *err)
{
    if ((unsigned)dtype >= KC_DTYPE_COUNT) {
        kc__errf(err, KC_EINVAL, "invalid dtype %d", (int)dtype);
        return NULL;
    }
    int64_t size;
    if (kc__check_dims(ndim, dims, &size, err) != KC_OK) return NULL;
    kc_tensor *t = header_new(dtype, ndim, dims, size, err);
    if (!t) return NULL;
    t->storage = storage_new((size_t)size * kc_dtype_size(dtype), err);
    if (!t->storage) {
        header_free(t, sizeof(*t));
        return NULL;
    }
    t->data = t->storage->data;
    return t;
}

kc_tensor *kc_tensor_full(kc_dtype dtype, int ndim, const int64_t *dims, double value,
                          kc_error *err)
{
    kc_tensor *t = kc_tensor_empty(dtype, ndim, dims, err);
    if (t) kc_tensor_fill(t, value);
    return t;
}

kc_tensor *kc_tensor_zeros(kc_dtype dtype, int ndim, const int64_t *dims, kc_error *err)
{
    kc_tensor *t = kc_tensor_empty(dtype, ndim, dims, err);
    if (t) memset(t->data, 0, kc_tensor_nbytes(t));
    return t;
}

kc_tensor *kc_tensor_ones(kc_dtype dtype, int ndim, const int64_t *dims, kc_error *err)
{
    return kc_tensor_full(dtype, ndim, dims, 1.0, err);
}

kc_tensor *kc_tensor_from_data(kc_dtype dtype, int ndim, const int64_t *dims, const void *data,
                               kc_error *err)
{
    kc_tensor *t = kc_tensor_empty(dtype, ndim, dims, err);
    if (!t) return NULL;
    size_t n = kc_tensor_nbytes(t);
    if (n && !data) {
        kc_tensor_unref(t);
        kc__errf(err, KC_EINVAL, "data is NULL");
        return NULL;
    }
    if (n) memcpy(t->data, data, n);
    return t;
}

kc_tensor *kc_tensor_wrap(kc_dtype dtype, int ndim, const int64_t *dims, void *data,
                          void (*release)(void *ctx), void *ctx, kc_error *err)
{
    if ((unsigned)dtype >= KC_DTYPE_COUNT) {
        kc__errf(err, KC_EINVAL, "invalid dtype %d", (int)dtype);
        return NULL;
    }
    int64_t size;
    if (kc__check_dims(ndim, dims, &size, err) != KC_OK) return NULL;
    if (size && !data) {
        kc__errf(err, KC_EINVAL, "data is NULL");
        return NULL;
    }
    if ((uintptr_t)data % kc_dtype_size(dtype)) {
        kc__errf(err, KC_EINVAL, "data is not aligned to %zu bytes", kc_dtype_size(dtype));
        return NULL;
    }
    kc_tensor *t = header_new(dtype, ndim, dims, size, err);
    if (!t) return NULL;
    kc__storage *s = header_alloc(sizeof(*s));
    if (!s) {
        header_free(t, sizeof(*t));
        kc__errf(err, KC_ENOMEM, "out of memory allocating a tensor");
        return NULL;
    }
    memset(s, 0, sizeof(*s));
    atomic_init(&s->refcount, 1);
    atomic_init(&s->version, 0);
    s->data = data;
    s->capacity = (size_t)size * kc_dtype_size(dtype);
    s->external = true;
    s->release = release;
    s->release_ctx = ctx;
    t->storage = s;
    t->data = data;
    return t;
}

kc_tensor *kc_tensor_scalar(float value, kc_error *err)
{
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, 0, NULL, err);
    if (t) ((float *)t->data)[0] = value;
    return t;
}

kc_tensor *kc_tensor_copy(const kc_tensor *src, kc_error *err)
{
    if (!src) {
        kc__errf(err, KC_EINVAL, "tensor is NULL");
        return NULL;
    }
    return kc_tensor_from_data(src->dtype, src->ndim, src->dims, src->data, err);
}

kc_tensor *kc__tensor_view(kc_tensor *t, int ndim, const int64_t *dims, kc_error *err)
{
    int64_t size;
    if (kc__check_dims(ndim, dims, &size, err) != KC_OK) return NULL;
    if (size != t->size) {
        char a[160], b[160];
        kc__errf(err, KC_ESHAPE, "cannot view shape %s as %s: element counts differ",
                 kc__dims_format(t->ndim, t->dims, a, sizeof(a)),
                 kc__dims_format(ndim, dims, b, sizeof(b)));
        return NULL;
    }
    kc_tensor *v = header_new(t->dtype, ndim, dims, size, err);
    if (!v) return NULL;
    v->storage = t->storage;
    atomic_fetch_add_explicit(&v->storage->refcount, 1, memory_order_relaxed);
    v->data = t->data;
    return v;
}

kc_tensor *kc__tensor_rows(kc_tensor *t, int64_t start, int64_t count, kc_error *err)
{
    if (t->ndim < 1 || start < 0 || count < 0 || start + count > t->dims[0]) {
        kc__errf(err, KC_EINVAL, "rows [%lld, %lld) out of range", (long long)start, (long long)(start + count));
        return NULL;
    }
    kc_tensor *v = kc__tensor_view(t, t->ndim, t->dims, err);
    if (!v) return NULL;
    int64_t row = t->dims[0] ? t->size / t->dims[0] : 0;
    v->dims[0] = count;
    v->size = row * count;
    v->data = (char *)t->data + (size_t)(start * row) * kc_dtype_size(t->dtype);
    return v;
}

kc_tensor *kc__tensor_gather_rows(const kc_tensor *t, const int64_t *rows, int64_t count, kc_error *err)
{
    if (t->ndim < 1) {
        kc__errf(err, KC_EINVAL, "cannot take rows of a scalar");
        return NULL;
    }
    int64_t dims[KC_MAX_DIMS];
    memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
    dims[0] = count;
    kc_tensor *out = kc_tensor_empty(t->dtype, t->ndim, dims, err);
    if (!out) return NULL;
    size_t row_bytes = (size_t)(t->dims[0] ? t->size / t->dims[0] : 0) * kc_dtype_size(t->dtype);
    for (int64_t i = 0; i < count; i++) {
        if (rows[i] < 0 || rows[i] >= t->dims[0]) {
            kc_tensor_unref(out);
            kc__errf(err, KC_EINVAL, "row %lld out of range", (long long)rows[i]);
            return NULL;
        }
        memcpy((char *)out->data + (size_t)i * row_bytes, (const char *)t->data + (size_t)rows[i] * row_bytes, row_bytes);
    }
    return out;
}

kc_tensor *kc__tensor_like(const kc_tensor *t, kc_error *err)
{
    return kc_tensor_empty(KC_FLOAT32, t->ndim, t->dims, err);
}

kc_tensor *kc__tensor_zeros_like(const kc_tensor *t, kc_error *err)
{
    return kc_tensor_zeros(KC_FLOAT32, t->ndim, t->dims, err);
}

kc_tensor *kc_tensor_ref(kc_tensor *t)
{
    if (t) atomic_fetch_add_explicit(&t->refcount, 1, memory_order_relaxed);
    return t;
}

void kc_tensor_unref(kc_tensor *t)
{
    if (!t) return;
    if (atomic_fetch_sub_explicit(&t->refcount, 1, memory_order_acq_rel) != 1) return;
    storage_unref(t->storage);
    header_free(t, sizeof(*t));
}

kc_dtype kc_tensor_dtype(const kc_tensor *t) { return t->dtype; }
int kc_tensor_ndim(const kc_tensor *t) { return t->ndim; }
const int64_t *kc_tensor_dims(const kc_tensor *t) { return t->dims; }

int64_t kc_tensor_dim(const kc_tensor *t, int axis)
{
    int a;
    return kc__axis(axis, t->ndim, &a) ? t->dims[a] : -1;
}

kc_shape kc_tensor_shape(const kc_tensor *t) { return kc_shape_make(t->ndim, t->dims); }
int64_t kc_tensor_size(const kc_tensor *t) { return t->size; }
size_t kc_tensor_nbytes(const kc_tensor *t) { return (size_t)t->size * kc_dtype_size(t->dtype); }
/* The writable accessors count as writes (kc__tensor_version). */
void *kc_tensor_data(kc_tensor *t)
{
    kc__tensor_touch(t);
    return t->data;
}
const void *kc_tensor_cdata(const kc_tensor *t) { return t->data; }
float *kc_tensor_f32(kc_tensor *t)
{
    kc__tensor_touch(t);
    return t->dtype == KC_FLOAT32 ? t->data : NULL;
}

double kc_tensor_get(const kc_tensor *t, int64_t i)
{
    if (i < 0 || i >= t->size) return 0.0;
    switch (t->dtype) {
    case KC_FLOAT32: return ((const float *)t->data)[i];
    case KC_INT32: return ((const int32_t *)t->data)[i];
    case KC_INT64: return (double)((const int64_t *)t->data)[i];
    default: return 0.0;
    }
}

float kc_tensor_item(const kc_tensor *t)
{
    if (!t || t->size != 1) return NAN;
    return (float)kc_tensor_get(t, 0);
}

bool kc_tensor_same_shape(const kc_tensor *a, const kc_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

kc_status kc_tensor_assign(kc_tensor *dst, const kc_tensor *src, kc_error *err)
{
    if (!dst || !src) return kc__errf(err, KC_EINVAL, "tensor is NULL");
    if (dst->dtype != src->dtype)
        return kc__errf(err, KC_ETYPE, "cannot assign %s values to a %s tensor",
                        kc_dtype_name(src->dtype), kc_dtype_name(dst->dtype));
    if (!kc_tensor_same_shape(dst, src)) {
        char a[160], b[160];
        return kc__errf(err, KC_ESHAPE, "cannot assign a tensor of shape %s to one of shape %s",
                        kc__dims_format(src->ndim, src->dims, a, sizeof(a)),
                        kc__dims_format(dst->ndim, dst->dims, b, sizeof(b)));
    }
    kc__tensor_touch(dst);
    if (dst->data != src->data) memmove(dst->data, src->data, kc_tensor_nbytes(dst));
    return KC_OK;
}

void kc_tensor_fill(kc_tensor *t, double value)
{
    kc__tensor_touch(t);
    int64_t n = t->size;
    switch (t->dtype) {
    case KC_FLOAT32: {
        float *p = t->data, v = (float)value;
        for (int64_t i = 0; i < n; i++) p[i] = v;
        break;
    }
    case KC_INT32: {
        int32_t *p = t->data, v = (int32_t)value;
        for (int64_t i = 0; i < n; i++) p[i] = v;
        break;
    }
    case KC_INT64: {
        int64_t *p = t->data, v = (int64_t)value;
        for (int64_t i = 0; i < n; i++) p[i] = v;
        break;
    }
    default: break;
    }
}
