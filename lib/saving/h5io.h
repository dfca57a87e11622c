/* ckeras private: the HDF5 door. Only lib/saving/h5io.c includes <hdf5.h>;
 * everything else reads and writes Keras files through these calls, which
 * never print, check every HDF5 result, copy HDF5's own error text into
 * kc_error, and treat the file as untrusted (sizes are bounded, only hard
 * links are followed, external storage and virtual datasets are refused). */
#ifndef CKERAS_H5IO_H
#define CKERAS_H5IO_H

#include "../core/internal.h"

#include <sys/types.h>

typedef struct kc__h5 kc__h5;

/* Limits on what a file may declare. */
#define KC__H5_MAX_STRING ((size_t)256 << 20) /* one attribute's text */
#define KC__H5_MAX_LIST ((size_t)1 << 20)     /* items in a name list */

/* Open a file to read (a FIFO, device or directory is refused before
 * anything opens it: kc__refuse_special_file). */
kc__h5 *kc__h5_open_read(const char *path, kc_error *err);
/* Create a new file (it must not exist). */
kc__h5 *kc__h5_create(const char *path, kc_error *err);
/* Create (truncate) a file that n_parts processes write together: fapl and
 * dxpl are HDF5 property lists (MPI-IO access, collective transfer) made
 * by lib/distributed; every process then makes the same calls with the
 * same data, and kc__h5_write stores only this process's part of each
 * dataset's rows. n_parts 1 is kc__h5_create with these lists. */
kc__h5 *kc__h5_create_shared(const char *path, int64_t fapl, int64_t dxpl, int part, int n_parts, kc_error *err);
/* Open an HDF5 file held in memory (a .keras archive's model.weights.h5):
 * image (kc__malloc'd) is taken over on every path and read in place, not
 * copied; label names the file in messages. */
kc__h5 *kc__h5_open_image(void *image, size_t n, const char *label, kc_error *err);
/* A new file in memory; kc__h5_close_image gives its bytes. */
kc__h5 *kc__h5_create_image(const char *label, kc_error *err);
/* Flush and close h (every path), and hand back the file's bytes
 * (kc__malloc'd) in *image / *n. */
kc_status kc__h5_close_image(kc__h5 *h, void **image, size_t *n, kc_error *err);
/* Flush and close; reports a failure to write the last bytes. NULL-safe. */
kc_status kc__h5_close(kc__h5 *h, kc_error *err);
const char *kc__h5_path(const kc__h5 *h);
/* Reserve disk space for a file being written (fallocate, size kept), so
 * that a full disk fails here, before HDF5 holds unwritable metadata: HDF5
 * 1.10 cannot close a file whose flush failed (the handle stays broken and
 * crashes at exit). Filesystems without fallocate are written as we go.
 * kc__h5_close gives back what the file did not use. */
kc_status kc__h5_reserve(kc__h5 *h, int64_t bytes, kc_error *err);

/* Is there a group / any object at path? (Only through hard links.) */
bool kc__h5_is_group(kc__h5 *h, const char *path);
bool kc__h5_exists(kc__h5 *h, const char *path);
bool kc__h5_has_attr(kc__h5 *h, const char *obj, const char *name);
/* Names of the members of a group, sorted as HDF5 lists them. */
kc_status kc__h5_list_group(kc__h5 *h, const char *path, char ***names, size_t *n, kc_error *err);

/* A scalar string attribute (vlen or fixed, any padding and charset).
 * *out is kc__malloc'd; *present false (and KC_OK) when absent. */
kc_status kc__h5_read_attr_string(kc__h5 *h, const char *obj, const char *name, char **out,
                                  bool *present, kc_error *err);
/* A 1-D list of strings (vlen or fixed), or an empty numeric array.
 * *items is an array of kc__malloc'd strings (free with kc__free_strings). */
kc_status kc__h5_read_attr_strings(kc__h5 *h, const char *obj, const char *name, char ***items,
                                   size_t *n, bool *present, kc_error *err);
void kc__free_strings(char **items, size_t n);

/* Attributes as Keras writes them: fixed-length NULLPAD ASCII strings
 * (vlen when `vlen`), 1-D fixed-length string lists, and an empty list as a
 * float64 array of shape (0,). */
kc_status kc__h5_write_attr_string(kc__h5 *h, const char *obj, const char *name, const char *value,
                                   bool vlen, kc_error *err);
kc_status kc__h5_write_attr_strings(kc__h5 *h, const char *obj, const char *name,
                                    char *const *items, size_t n, kc_error *err);
kc_status kc__h5_create_group(kc__h5 *h, const char *path, kc_error *err);

/* Dataset shape and element class. */
typedef enum { KC__H5_FLOAT, KC__H5_INT, KC__H5_OTHER } kc__h5_class;
kc_status kc__h5_dataset_info(kc__h5 *h, const char *path, int *ndim, int64_t *dims,
                              kc__h5_class *cls, kc_error *err);
/* The same plus the stored element type (bytes per element; for integers
 * whether signed), for inspection tools that name the dtype. Unlike
 * kc__h5_dataset_info it keeps nothing open (a listing reads no values). */
kc_status kc__h5_dataset_describe(kc__h5 *h, const char *path, int *ndim, int64_t *dims,
                                  kc__h5_class *cls, size_t *elem_size, bool *is_signed, kc_error *err);
/* Read a whole dataset into dst (count elements), converting to float32 or
 * int64 as HDF5 does (float64, float16, integers). No intermediate copy. */
kc_status kc__h5_read_f32(kc__h5 *h, const char *path, float *dst, int64_t count, kc_error *err);
kc_status kc__h5_read_i64(kc__h5 *h, const char *path, int64_t *dst, int64_t count, kc_error *err);
/* kc__h5_read_f32 into a weight's own buffer. A dataset stored as one
 * contiguous block of native float32 (what Keras and ckeras write) is read
 * with pread at its offset in the file, its "extent"; with an extent sink
 * installed, the sink may take the extent instead, and dst is then left
 * for whoever took it to fill. Only a weight's final buffer may be read
 * this way: nothing may use dst before the load is over. */
kc_status kc__h5_read_weight(kc__h5 *h, const char *path, float *dst, int64_t count, kc_error *err);

/* Called for each plain extent a weight read finds: count float32 values
 * at byte offset of the file (dev, ino) belong in dst. Return true to take
 * the read (dst is not filled), false to have it read now. The isolated
 * loader's child installs one (lib/isolation/), so that the parent reads
 * those bytes straight from the file into its own weights. */
typedef bool (*kc__h5_extent_sink)(void *ctx, float *dst, int64_t count, int64_t offset, dev_t dev, ino_t ino);
void kc__h5_set_extent_sink(kc__h5_extent_sink sink, void *ctx);
/* Write a contiguous little-endian float32 or int64 dataset (0-d: scalar),
 * creating intermediate groups, straight from data. */
kc_status kc__h5_write(kc__h5 *h, const char *path, kc_dtype dtype, int ndim, const int64_t *dims,
                       const void *data, kc_error *err);

/* Test hook: fail the n-th dataset write from now (0 = never), to check
 * that a save failing halfway leaves the old file intact. */
void kc__h5_fail_write_after(int n);

#endif /* CKERAS_H5IO_H */
