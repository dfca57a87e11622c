/* The zip door (see zip_archive.h). The only file that includes <zip.h>.
 *
 * A .keras file is a zip archive from anywhere, so opening one checks the
 * whole central directory before anything is read: libzip's consistency
 * check (ZIP_CHECKCONS: every local header must agree with its central
 * directory entry, and the directory must be complete), the entry count,
 * encryption, and every name: an absolute name or one that climbs with
 * ".." is refused outright, although ckeras never extracts by name, because
 * no archive Keras writes has one and such a name only serves an attack on
 * tools that do. Reads are bounded by the caller before allocating, and a
 * read takes exactly the size the directory declares: a stream that is
 * shorter, longer, or fails its CRC is an error, so a small declared size
 * cannot hide a zip bomb. */
#define _POSIX_C_SOURCE 200809L
#include "zip_archive.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

typedef struct entry {
    char *name;      /* owned copy */
    int64_t size;    /* uncompressed, as the central directory declares */
    int64_t stored;  /* compressed */
    zip_uint64_t index;
} entry;

struct kc__zip {
    zip_t *za;
    char *label;     /* the archive in messages */
    entry *entries;  /* reading: sorted by name */
    size_t n;
    bool writing;
};

static kc__zip *zip_new(const char *label, kc_error *err)
{
    kc__zip *z = kc__calloc(1, sizeof(*z));
    if (z && !(z->label = kc__strdup(label ? label : "archive"))) {
        kc__free(z);
        z = NULL;
    }
    if (!z) kc__errf(err, KC_ENOMEM, "out of memory");
    return z;
}

static void zip_free(kc__zip *z)
{
    for (size_t i = 0; i < z->n; i++) kc__free(z->entries[i].name);
    kc__free(z->entries);
    kc__free(z->label);
    kc__free(z);
}

/* libzip's message for an error code. */
static const char *code_text(int code, char *buf, size_t size)
{
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    snprintf(buf, size, "%s", zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return buf;
}

/* ---- reading ----------------------------------------------------------------------------- */

/* A name Keras could not have written and an extractor must not follow:
 * absolute (/x, \x, C:x) or climbing ("..", "a/../b"). */
static bool unsafe_name(const char *name)
{
    if (!name[0] || name[0] == '/' || name[0] == '\\') return true;
    if (((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')) && name[1] == ':') return true;
    for (const char *p = name; *p;) {
        size_t len = strcspn(p, "/\\");
        if (len == 2 && p[0] == '.' && p[1] == '.') return true;
        p += len;
        if (*p) p++;
    }
    return false;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static kc_status list_entries(kc__zip *z, kc_error *err)
{
    zip_int64_t n = zip_get_num_entries(z->za, 0);
    if (n < 0) return kc__errf(err, KC_EFORMAT, "cannot list the entries of zip archive '%s'", z->label);
    if ((uint64_t)n > KC__ZIP_MAX_ENTRIES)
        return kc__errf(err, KC_ELIMIT, "zip archive '%s' lists %lld entries, more than the %d a model archive may have",
                        z->label, (long long)n, KC__ZIP_MAX_ENTRIES);
    z->entries = kc__calloc((size_t)n + 1, sizeof(entry));
    if (!z->entries) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW, &st) != 0 || !(st.valid & ZIP_STAT_NAME) ||
            !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
            return kc__errf(err, KC_EFORMAT, "zip archive '%s': entry %lld cannot be read from the central directory",
                            z->label, (long long)i);
        if (unsafe_name(st.name))
            return kc__errf(err, KC_EFORMAT,
                            "zip archive '%s' has an entry named '%.200s': absolute names and '..' are refused "
                            "(path traversal)", z->label, st.name);
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
            return kc__errf(err, KC_EUNSUPPORTED, "zip archive '%s': entry '%.200s' is encrypted", z->label, st.name);
        if (st.size > (zip_uint64_t)INT64_MAX || st.comp_size > (zip_uint64_t)INT64_MAX)
            return kc__errf(err, KC_EFORMAT, "zip archive '%s': entry '%.200s' declares an impossible size", z->label,
                            st.name);
        entry *e = &z->entries[z->n];
        if (!(e->name = kc__strdup(st.name))) return kc__errf(err, KC_ENOMEM, "out of memory");
        e->size = (int64_t)st.size;
        e->stored = (int64_t)st.comp_size;
        e->index = (zip_uint64_t)i;
        z->n++;
    }
    qsort(z->entries, z->n, sizeof(entry), by_name);
    for (size_t i = 1; i < z->n; i++)
        if (strcmp(z->entries[i - 1].name, z->entries[i].name) == 0)
            return kc__errf(err, KC_EFORMAT, "zip archive '%s' has two entries named '%.200s'", z->label,
                            z->entries[i].name);
    return KC_OK;
}

kc__zip *kc__zip_open_fd(int fd, const char *label, kc_error *err)
{
    kc__zip *z = zip_new(label, err);
    if (!z) {
        close(fd);
        return NULL;
    }
    int code = 0;
    z->za = zip_fdopen(fd, ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!z->za) {
        close(fd); /* zip_fdopen closes it only on success */
        char why[128];
        if (code == ZIP_ER_INCONS)
            kc__errf(err, KC_EFORMAT, "'%s' is an inconsistent zip archive: its entries' sizes, names or offsets "
                     "disagree with the central directory (%s)", z->label, code_text(code, why, sizeof why));
        else if (code == ZIP_ER_EXISTS) /* libzip's word for a name listed twice */
            kc__errf(err, KC_EFORMAT, "'%s' is an inconsistent zip archive: it has two entries with one name", z->label);
        else if (code == ZIP_ER_NOZIP || code == ZIP_ER_EOF)
            kc__errf(err, KC_EFORMAT, "'%s' is a damaged zip archive: its central directory is truncated or missing (%s)",
                     z->label, code_text(code, why, sizeof why));
        else if (code == ZIP_ER_MEMORY)
            kc__errf(err, KC_ENOMEM, "out of memory opening '%s'", z->label);
        else
            kc__errf(err, KC_EIO, "cannot open zip archive '%s': %s", z->label, code_text(code, why, sizeof why));
        zip_free(z);
        return NULL;
    }
    if (list_entries(z, err) != KC_OK) {
        kc__zip_close(z);
        return NULL;
    }
    return z;
}

void kc__zip_close(kc__zip *z)
{
    if (!z) return;
    if (z->za) zip_discard(z->za);
    zip_free(z);
}

size_t kc__zip_count(const kc__zip *z) { return z->n; }
const char *kc__zip_name(const kc__zip *z, size_t i) { return i < z->n ? z->entries[i].name : NULL; }

static const entry *find(const kc__zip *z, const char *name)
{
    entry key = {.name = (char *)name};
    return z->n ? bsearch(&key, z->entries, z->n, sizeof(entry), by_name) : NULL;
}

bool kc__zip_find(const kc__zip *z, const char *name, int64_t *size, int64_t *stored)
{
    const entry *e = find(z, name);
    if (e && size) *size = e->size;
    if (e && stored) *stored = e->stored;
    return e != NULL;
}

kc_status kc__zip_read(kc__zip *z, const char *name, int64_t max, void **data, size_t *n, kc_error *err)
{
    *data = NULL;
    *n = 0;
    const entry *e = find(z, name);
    if (!e) return KC_ENOTFOUND;
    if (e->size > max) {
        double ratio = e->stored > 0 ? (double)e->size / (double)e->stored : 0;
        if (ratio > 100)
            return kc__errf(err, KC_ELIMIT,
                            "'%s' in '%s' would expand from %lld to %lld bytes (%.0f:1), over the limit of %lld "
                            "bytes: refused as a zip bomb", name, z->label, (long long)e->stored, (long long)e->size,
                            ratio, (long long)max);
        return kc__errf(err, KC_ELIMIT, "'%s' in '%s' is %lld bytes, over the limit of %lld bytes", name, z->label,
                        (long long)e->size, (long long)max);
    }
    if ((uint64_t)e->size >= SIZE_MAX) return kc__errf(err, KC_ELIMIT, "'%s' in '%s' is too large", name, z->label);
    char *buf = kc__malloc((size_t)e->size + 1);
    if (!buf) return kc__errf(err, KC_ENOMEM, "out of memory reading '%s' (%lld bytes)", name, (long long)e->size);
    zip_file_t *f = zip_fopen_index(z->za, e->index, 0);
    kc_status rc = KC_OK;
    char why[128];
    if (!f) {
        int code = zip_error_code_zip(zip_get_error(z->za));
        rc = kc__errf(err, code == ZIP_ER_COMPNOTSUPP ? KC_EUNSUPPORTED : KC_EFORMAT, "cannot read '%s' in '%s': %s",
                      name, z->label, code_text(code, why, sizeof why));
    }
    /* exactly the declared bytes, then the end of the stream (where libzip
     * checks the CRC and the size); anything else is a lie of the header */
    uint64_t got = 0, want = (uint64_t)e->size;
    while (rc == KC_OK) {
        char extra[1];
        bool past = got >= want;
        zip_int64_t r = past ? zip_fread(f, extra, 1) : zip_fread(f, buf + got, want - got);
        if (r < 0) {
            int code = zip_error_code_zip(zip_file_get_error(f));
            rc = kc__errf(err, KC_EFORMAT, "cannot read '%s' in '%s' (%s): the entry is damaged or its sizes disagree "
                          "with the central directory", name, z->label, code_text(code, why, sizeof why));
        } else if (r == 0) {
            if (!past)
                rc = kc__errf(err, KC_EFORMAT, "'%s' in '%s' ends after %llu of the %llu bytes the central directory "
                              "declares", name, z->label, (unsigned long long)got, (unsigned long long)want);
            break;
        } else if (past) {
            rc = kc__errf(err, KC_EFORMAT, "'%s' in '%s' holds more than the %llu bytes the central directory declares",
                          name, z->label, (unsigned long long)want);
        } else {
            got += (uint64_t)r;
        }
    }
    if (f) zip_fclose(f);
    if (rc != KC_OK) {
        kc__free(buf);
        return rc;
    }
    buf[want] = '\0';
    *data = buf;
    *n = (size_t)want;
    return KC_OK;
}

/* ---- writing ------------------------------------------------------------------------------ */

kc__zip *kc__zip_create(const char *path, kc_error *err)
{
    kc__zip *z = zip_new(path, err);
    if (!z) return NULL;
    int code = 0;
    z->za = zip_open(path, ZIP_CREATE | ZIP_EXCL, &code);
    if (!z->za) {
        char why[128];
        kc__errf(err, code == ZIP_ER_MEMORY ? KC_ENOMEM : KC_EIO, "cannot create '%s': %s", path,
                 code_text(code, why, sizeof why));
        zip_free(z);
        return NULL;
    }
    z->writing = true;
    return z;
}

kc_status kc__zip_add(kc__zip *z, const char *name, const void *data, size_t n, kc_error *err)
{
    zip_source_t *src = zip_source_buffer(z->za, data, n, 0);
    zip_int64_t idx = src ? zip_file_add(z->za, name, src, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
        zip_source_free(src);
        return kc__errf(err, KC_ENOMEM, "cannot add '%s' to '%s': %s", name, z->label, zip_strerror(z->za));
    }
    /* Keras' zipfile.writestr: stored, dated 1980-01-01 00:00 */
    if (zip_set_file_compression(z->za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_dostime(z->za, (zip_uint64_t)idx, 0, (0 << 9) | (1 << 5) | 1, 0) != 0)
        return kc__errf(err, KC_EINTERNAL, "cannot set up '%s' in '%s': %s", name, z->label, zip_strerror(z->za));
    return KC_OK;
}

kc_status kc__zip_commit(kc__zip *z, kc_error *err)
{
    kc_status rc = KC_OK;
    if (zip_close(z->za) != 0) {
        int code = zip_error_code_zip(zip_get_error(z->za));
        int sys = zip_error_code_system(zip_get_error(z->za));
        rc = kc__errf(err, code == ZIP_ER_MEMORY ? KC_ENOMEM : KC_EIO, "cannot write '%s': %s%s%s", z->label,
                      zip_strerror(z->za), sys ? ": " : "", sys ? strerror(sys) : "");
        zip_discard(z->za);
    }
    zip_free(z);
    return rc;
}

void kc__zip_discard(kc__zip *z)
{
    if (!z) return;
    zip_discard(z->za);
    zip_free(z);
}
