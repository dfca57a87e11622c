/* ckeras private declarations shared by the core files (errors, memory,
 * tensors). Not installed; every name here starts with kc__. */
#ifndef CKERAS_CORE_INTERNAL_H
#define CKERAS_CORE_INTERNAL_H

#include <ckeras/alloc.h>
#include <ckeras/error.h>
#include <ckeras/tensor.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* --- errors ------------------------------------------------------------- */

/* Record an error (unless err already holds one) and evaluate to `code`, so
 * callers write `return kc__errf(err, KC_ESHAPE, "...", ...);`. */
#define kc__errf(err, code, ...) kc__error_set((err), (code), __FILE__, __LINE__, __VA_ARGS__)

kc_status kc__error_set(kc_error *err, kc_status code, const char *file, int line,
                        const char *fmt, ...) KC_PRINTF(5, 6);
/* Prepend "<formatted>: " to err's context (only while err holds an error). */
void kc__error_context(kc_error *err, const char *fmt, ...) KC_PRINTF(2, 3);
/* A path as messages show it: whole when short, else its start and its
 * end around "..." (the file name stays visible), so that a message about
 * a path near PATH_MAX still has room for its reason. Returns path or buf. */
#define KC__SHORT_PATH 128
const char *kc__short_path(const char *path, char buf[KC__SHORT_PATH]);
/* The status held by err, or `fallback` when err is NULL or clear. */
static inline kc_status kc__error_code(const kc_error *err, kc_status fallback)
{
    return (err && err->code != KC_OK) ? err->code : fallback;
}

/* --- memory ------------------------------------------------------------- */

void *kc__malloc(size_t size);
void *kc__calloc(size_t n, size_t size); /* overflow checked, zeroed */
void *kc__malloc_array(size_t n, size_t size); /* overflow checked */
/* Grow or shrink a block from kc__malloc. The allocator pair has no realloc,
 * so the caller supplies the old size. On failure ptr is left untouched. */
void *kc__realloc(void *ptr, size_t old_size, size_t new_size);
void kc__free(void *ptr);
char *kc__strdup(const char *s);
/* Grow *arr (of *cap elements of elem size) to hold at least need elements. */
bool kc__grow(void **arr, size_t *cap, size_t need, size_t elem);

/* Checked arithmetic: false on overflow. */
static inline bool kc__mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool kc__mul_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Aligned tensor buffers (64 bytes; huge blocks 2 MiB, with MADV_HUGEPAGE),
 * recycled through a per-thread cache of size classes so that steady-state
 * training loops do not call the allocator per operation. *capacity receives
 * the usable size. */
void *kc__buffer_alloc(size_t nbytes, size_t *capacity);
void kc__buffer_free(void *ptr, size_t capacity);

/* --- tensors ------------------------------------------------------------- */

typedef struct kc_variable kc_variable;

/* Shared, reference-counted memory behind one or more tensors. */
typedef struct kc__storage {
    atomic_long refcount;
    void *data;
    size_t capacity;            /* usable bytes */
    void (*release)(void *ctx); /* external memory: called at the end */
    void *release_ctx;
    bool external;              /* data is not ours (kc_tensor_wrap) */
    atomic_ulong version;       /* bumped by every writable access (kc_tensor_data, ...) */
} kc__storage;

struct kc_tensor {
    atomic_long refcount;
    kc_dtype dtype;
    int ndim;
    int64_t dims[KC_MAX_DIMS];
    int64_t size;          /* element count */
    void *data;            /* first element (inside storage) */
    kc__storage *storage;  /* owns the buffer; shared by views */
    uint64_t id;           /* unique: how tapes recognise tensors */
    kc_variable *variable; /* borrowed back-pointer when this is a variable's value */
};

/* How many times the buffer has been handed out for writing (kc_tensor_data,
 * kc_tensor_f32, kc_tensor_assign, kc_tensor_fill): a weight whose version
 * moved may have changed (the inference plans refold then). */
static inline unsigned long kc__tensor_version(const kc_tensor *t)
{
    return atomic_load_explicit(&t->storage->version, memory_order_relaxed);
}
static inline void kc__tensor_touch(kc_tensor *t)
{
    atomic_fetch_add_explicit(&t->storage->version, 1, memory_order_relaxed);
}

/* Validate ndim/dims and compute the element count. */
kc_status kc__check_dims(int ndim, const int64_t *dims, int64_t *size, kc_error *err);
/* A view of t's buffer with another shape of the same element count. */
kc_tensor *kc__tensor_view(kc_tensor *t, int ndim, const int64_t *dims, kc_error *err);
/* Rows [start, start+count) of t along axis 0, sharing its buffer. */
kc_tensor *kc__tensor_rows(kc_tensor *t, int64_t start, int64_t count, kc_error *err);
/* A new tensor of the given rows of t (axis 0), in that order. */
kc_tensor *kc__tensor_gather_rows(const kc_tensor *t, const int64_t *rows, int64_t count, kc_error *err);
/* A fresh float32 tensor shaped like t (uninitialized). */
kc_tensor *kc__tensor_like(const kc_tensor *t, kc_error *err);
kc_tensor *kc__tensor_zeros_like(const kc_tensor *t, kc_error *err);
uint64_t kc__next_id(void);
/* "(2, 3)" of a tensor's dims. */
const char *kc__dims_format(int ndim, const int64_t *dims, char *buf, size_t size);
/* Normalize a possibly negative axis; false when out of range. */
static inline bool kc__axis(int axis, int ndim, int *out)
{
    if (axis < 0) axis += ndim;
    if (axis < 0 || axis >= ndim) return false;
    *out = axis;
    return true;
}

/* --- threads -------------------------------------------------------------- */

int kc__num_threads(void);
/* Run fn(ctx, begin, end) over [0, n) in chunks of at least grain, on the
 * calling thread and up to kc_get_num_threads() - 1 workers (parallel.c).
 * Each chunk must write only its own range. */
typedef void (*kc__range_fn)(void *ctx, int64_t begin, int64_t end);
void kc__parallel_for(int64_t n, int64_t grain, kc__range_fn fn, void *ctx);
/* The same, telling each chunk the slot of the thread running it: 0 for
 * the calling thread, 1.. for workers, always below kc__parallel_slots()
 * (read when the loop starts). Scratch indexed by slot is private to the
 * thread for the loop; a nested loop runs inline and sees slot 0, so only
 * the outermost loop may index scratch by slot. */
typedef void (*kc__slot_range_fn)(void *ctx, int64_t begin, int64_t end, int slot);
void kc__parallel_for_slots(int64_t n, int64_t grain, kc__slot_range_fn fn, void *ctx);
int kc__parallel_slots(void);
/* Elements per chunk below which an elementwise loop is not worth a thread. */
#define KC__GRAIN 32768

#endif /* CKERAS_CORE_INTERNAL_H */
