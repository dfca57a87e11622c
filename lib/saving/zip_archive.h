/* ckeras private: the zip door. Only lib/saving/zip_archive.c includes
 * <zip.h> (libzip); the .keras format reads and writes its archives through
 * these calls, which never print, check every libzip result, and treat an
 * archive as untrusted: every entry's name, sizes and compression are
 * checked when the archive is opened, entries are only ever read into
 * memory by name (nothing is extracted to a path taken from the archive),
 * and a read is bounded by a limit the caller gives before anything is
 * allocated. */
#ifndef CKERAS_ZIP_ARCHIVE_H
#define CKERAS_ZIP_ARCHIVE_H

#include "../core/internal.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct kc__zip kc__zip;

/* Most entries an archive may list (a .keras holds three, plus assets). */
#define KC__ZIP_MAX_ENTRIES 100000

/* Open the archive in fd (which the archive takes over, closed on every
 * path) for reading; label names it in messages. The central directory
 * must be complete and consistent with the local headers (libzip's
 * ZIP_CHECKCONS), no entry may be encrypted, and no entry name may be
 * absolute or climb with "..": each is a named KC_EFORMAT error. */
kc__zip *kc__zip_open_fd(int fd, const char *label, kc_error *err);
void kc__zip_close(kc__zip *z);

/* Number of entries and the name of entry i (borrowed). */
size_t kc__zip_count(const kc__zip *z);
const char *kc__zip_name(const kc__zip *z, size_t i);
/* Is there an entry called name? Its uncompressed and stored sizes. */
bool kc__zip_find(const kc__zip *z, const char *name, int64_t *size, int64_t *stored);

/* Read entry `name` whole into a kc__malloc'd buffer (one extra NUL byte
 * after the data, so text can be used as a string). Refuses, before
 * allocating, an entry declaring more than max bytes (KC_ELIMIT, naming a
 * zip bomb when the compression ratio is implausible); then reads exactly
 * the declared size and fails (KC_EFORMAT) when the data is shorter,
 * longer, or fails its CRC. KC_ENOTFOUND (quietly, err untouched) when the
 * entry is absent. */
kc_status kc__zip_read(kc__zip *z, const char *name, int64_t max, void **data, size_t *n, kc_error *err);

/* Writing: a new archive at path (which must not exist), entries stored
 * uncompressed with a fixed 1980-01-01 time as Keras' zipfile writes them.
 * Added data is borrowed until kc__zip_commit, which writes the archive
 * (libzip writes a temporary beside path and renames it) and frees z on
 * every path; kc__zip_discard drops it without writing. */
kc__zip *kc__zip_create(const char *path, kc_error *err);
kc_status kc__zip_add(kc__zip *z, const char *name, const void *data, size_t n, kc_error *err);
kc_status kc__zip_commit(kc__zip *z, kc_error *err);
void kc__zip_discard(kc__zip *z);

#endif /* CKERAS_ZIP_ARCHIVE_H */
