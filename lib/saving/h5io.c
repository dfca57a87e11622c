/* The HDF5 door (see h5io.h). The only file that includes <hdf5.h>.
 *
 * Keras files come from anywhere, so every call here treats them as
 * hostile: HDF5's own error printing is off and its innermost error message
 * is copied into kc_error; paths are walked link by link and only hard
 * links are followed (an external link could make HDF5 open another file);
 * datasets with external storage or virtual layouts are refused; string
 * sizes and list lengths are bounded before anything is allocated.
 *
 * Strings are read whatever way h5py wrote them: variable or fixed length,
 * ASCII or UTF-8 charset, NULLTERM / NULLPAD / SPACEPAD, scalar or 1-D.
 *
 * HDF5 prints its error stack through a process-wide "automatic" handler.
 * Every entry point here switches it off for the duration of the call and
 * puts back whatever the application had (quiet_begin / quiet_end), so
 * ckeras prints nothing and an application's own HDF5 error reporting is
 * left as it set it.
 *
 * A weight stored the way Keras and ckeras store them -- one contiguous
 * block of native float32 -- is read as plain bytes at its offset in the
 * file (its "extent"), with pread, straight into the weight's buffer.
 * That is the same read H5Dread does for such a dataset; doing it here
 * lets the isolated loader's child (lib/isolation/) hand the extent to the
 * parent, which reads the bytes itself, instead of the child copying them. */
#define _GNU_SOURCE /* fallocate */
#include "h5io.h"
#include "file_kind.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* A dataset kept open between kc__h5_dataset_info and its read (loading
 * checks every shape first, then reads): opening costs more than reading
 * a small weight. */
typedef struct open_dataset_entry {
    char *path;
    hid_t id;
} open_dataset_entry;
#define MAX_KEPT_OPEN 4096

typedef struct image_ud image_ud;

struct kc__h5 {
    hid_t file;
    char *path;
    bool writable;
    bool reserved;        /* kc__h5_reserve allocated disk space past what is written */
    int fd;               /* the POSIX (sec2) driver's descriptor, or -1: extents need it */
    dev_t dev;            /* ... and the file it reads */
    ino_t ino;
    bool in_memory;     /* the core driver, no backing file */
    /* a file written by several processes together (kc__h5_create_shared):
     * each writes part `part` of n_parts of every dataset's rows, with
     * transfer properties dxpl (collective MPI-IO) */
    int part, n_parts;
    hid_t dxpl;
    image_ud *image;    /* an image opened in place (kc__h5_open_image), owned */
    char checked[1024]; /* the last group path walk() found made of hard links */
    open_dataset_entry *kept;
    size_t n_kept, cap_kept, cursor;
};

static void keep_open(kc__h5 *h, const char *path, hid_t id)
{
    char *p = h->n_kept < MAX_KEPT_OPEN ? kc__strdup(path) : NULL;
    if (!p || !kc__grow((void **)&h->kept, &h->cap_kept, h->n_kept + 1, sizeof(open_dataset_entry))) {
        kc__free(p);
        H5Dclose(id);
        return;
    }
    h->kept[h->n_kept].path = p;
    h->kept[h->n_kept++].id = id;
}

/* The kept handle for path (now the caller's), or H5I_INVALID_HID. Reads
 * come in the order of the checks, so the search starts where the last
 * one ended. */
static hid_t take_kept(kc__h5 *h, const char *path)
{
    for (size_t k = 0; k < h->n_kept; k++) {
        size_t i = (h->cursor + k) % h->n_kept;
        if (strcmp(h->kept[i].path, path) != 0) continue;
        hid_t id = h->kept[i].id;
        kc__free(h->kept[i].path);
        h->kept[i] = h->kept[--h->n_kept];
        h->cursor = i;
        return id;
    }
    return H5I_INVALID_HID;
}

static int fail_after; /* test hook */
void kc__h5_fail_write_after(int n) { fail_after = n; }

/* ---- errors --------------------------------------------------------------------- */

static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc) snprintf(data, 200, "%s", e->desc);
    return 0;
}

/* Fail with code and message; the context gets HDF5's innermost error. */
#define h5fail(err, code, ...) h5fail_impl((err), (code), __FILE__, __LINE__, __VA_ARGS__)
static kc_status h5fail_impl(kc_error *err, kc_status code, const char *file, int line, const char *fmt, ...)
    KC_PRINTF(5, 6);
static kc_status h5fail_impl(kc_error *err, kc_status code, const char *file, int line, const char *fmt, ...)
{
    char msg[256], h5msg[200] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, h5msg);
    H5Eclear2(H5E_DEFAULT);
    kc__error_set(err, code, file, line, "%s", msg);
    if (h5msg[0]) kc__error_context(err, "HDF5: %s", h5msg);
    return code;
}

/* HDF5's automatic error printing, off for one call and then put back. */
typedef struct quiet_scope {
    H5E_auto2_t func;
    void *data;
} quiet_scope;

static quiet_scope quiet_begin(void)
{
    quiet_scope q = {NULL, NULL};
    if (H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data) < 0) q.func = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

static void quiet_end(quiet_scope q) { H5Eset_auto2(H5E_DEFAULT, q.func, q.data); }

/* ---- files ------------------------------------------------------------------------ */

/* HDF5's superblock signature sits at offset 0, 512, 1024, 2048, ... */
static int has_hdf5_signature(FILE *f)
{
    static const unsigned char magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (long off = 0; off < (1L << 30); off = off ? off * 2 : 512) {
        unsigned char buf[8];
        if (fseek(f, off, SEEK_SET) != 0 || fread(buf, 1, 8, f) != 8) return 0;
        if (memcmp(buf, magic, 8) == 0) return 1;
    }
    return 0;
}

static kc__h5 *wrap(hid_t file, const char *path, bool writable, kc_error *err)
{
    kc__h5 *h = kc__calloc(1, sizeof(*h));
    char *p = kc__strdup(path);
    if (!h || !p) {
        kc__free(h);
        kc__free(p);
        H5Fclose(file);
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    h->file = file;
    h->path = p;
    h->writable = writable;
    h->fd = -1;
    h->n_parts = 1;
    h->dxpl = H5P_DEFAULT;
    return h;
}

/* The POSIX driver's descriptor of h (extents are read through it), when
 * the file was opened with that driver. */
static void find_descriptor(kc__h5 *h)
{
    hid_t fapl = H5Fget_access_plist(h->file);
    void *handle = NULL;
    struct stat st;
    if (fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2 && H5Fget_vfd_handle(h->file, H5P_DEFAULT, &handle) >= 0 &&
        handle && fstat(*(int *)handle, &st) == 0 && S_ISREG(st.st_mode)) {
        h->fd = *(int *)handle;
        h->dev = st.st_dev;
        h->ino = st.st_ino;
    }
    if (fapl >= 0) H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
}

static kc__h5 *open_read(const char *path, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    if (!path) {
        kc__errf(err, KC_EINVAL, "file path is NULL");
        return NULL;
    }
    if (kc__refuse_special_file(path, err) != KC_OK) return NULL;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* files are opened read-only and closed strongly: no objects stay open */
    if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t file = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : H5I_INVALID_HID;
    if (fapl >= 0) H5Pclose(fapl);
    if (file < 0) {
        /* say why: missing, not HDF5 at all, or HDF5 that HDF5 cannot read */
        FILE *f = fopen(path, "rb");
        int e = errno;
        int sig = f ? has_hdf5_signature(f) : 0;
        if (f) fclose(f);
        if (!f) kc__errf(err, KC_EIO, "cannot open '%s': %s", kc__short_path(path, shortp), strerror(e));
        else if (!sig) kc__errf(err, KC_EFORMAT, "'%s' is not an HDF5 file", kc__short_path(path, shortp));
        else h5fail(err, KC_EFORMAT, "cannot open HDF5 file '%s' (damaged or truncated?)", kc__short_path(path, shortp));
        H5Eclear2(H5E_DEFAULT);
        return NULL;
    }
    kc__h5 *h = wrap(file, path, false, err);
    if (h) find_descriptor(h);
    return h;
}

kc__h5 *kc__h5_open_read(const char *path, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc__h5 *h = open_read(path, err);
    quiet_end(q);
    return h;
}

kc__h5 *kc__h5_create(const char *path, kc_error *err)
{
    return kc__h5_create_shared(path, H5P_DEFAULT, H5P_DEFAULT, 0, 1, err);
}

kc__h5 *kc__h5_create_shared(const char *path, int64_t fapl, int64_t dxpl, int part, int n_parts, kc_error *err)
{
    quiet_scope q = quiet_begin();
    /* default creation properties: superblock v0, the earliest format, as
     * h5py writes. A shared file was created empty by its first writer. */
    hid_t file = H5Fcreate(path, n_parts > 1 ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, (hid_t)fapl);
    kc__h5 *h = NULL;
    if (file < 0) {
        /* HDF5's message holds the whole path and may lose the reason: ask
         * the system for it (creating and removing the file when it can) */
        char shortp[KC__SHORT_PATH];
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(path);
            h5fail(err, KC_EIO, "cannot create '%s'", kc__short_path(path, shortp));
        } else {
            H5Eclear2(H5E_DEFAULT);
            kc__errf(err, KC_EIO, "cannot create '%s': %s", kc__short_path(path, shortp), strerror(e));
        }
    } else if ((h = wrap(file, path, true, err))) {
        find_descriptor(h);
    }
    if (h && n_parts > 1) {
        h->part = part;
        h->n_parts = n_parts;
        h->dxpl = (hid_t)dxpl;
    }
    quiet_end(q);
    return h;
}

/* A reservation (kc__h5_reserve) beyond the bytes written is given back,
 * so that the file takes its own size on disk. */
static void release_reservation(kc__h5 *h)
{
    struct stat st;
    if (h->fd < 0 || fstat(h->fd, &st) != 0) return;
    if ((int64_t)st.st_blocks * 512 <= (int64_t)st.st_size) return;
    /* FALLOC_FL_KEEP_SIZE blocks past the end stay allocated until the file
     * is truncated; truncating to its own size frees them */
    if (ftruncate(h->fd, st.st_size) != 0) return; /* a reservation left behind costs space, not data */
}

/* ---- files in memory ------------------------------------------------------------- */

/* HDF5 copies a file image twice by default (into the property list, then
 * into the driver). These callbacks hand it the caller's buffer instead,
 * read only, as H5LTopen_file_image's DONT_COPY mode does: every "copy" is
 * the same pointer, reference counted per holder (property lists, the open
 * file), and the buffer is freed when the last holder lets go. */
struct image_ud {
    void *buf;      /* the image, kc__malloc'd */
    size_t size;
    int fapl_refs;  /* property lists holding it */
    int vfd_refs;   /* open files holding it */
    int refs;       /* holders of this struct: us, and HDF5's udata copies */
};

static void image_release(image_ud *u)
{
    if (!u || --u->refs > 0) return;
    kc__free(u->buf);
    kc__free(u);
}

static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    image_ud *u = udata;
    if (size != u->size) return NULL;
    switch (op) {
    case H5FD_FILE_IMAGE_OP_PROPERTY_LIST_SET:
    case H5FD_FILE_IMAGE_OP_PROPERTY_LIST_COPY:
        u->fapl_refs++;
        return u->buf;
    case H5FD_FILE_IMAGE_OP_FILE_OPEN:
        u->vfd_refs++;
        return u->buf;
    default:
        return NULL; /* PROPERTY_LIST_GET: nobody may take a copy away */
    }
}

static void *image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op, void *udata)
{
    image_ud *u = udata;
    (void)op;
    return dest == u->buf && src == u->buf && size == u->size ? dest : NULL;
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr, (void)size, (void)op, (void)udata;
    return NULL; /* opened read-only: never resized */
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    image_ud *u = udata;
    if (ptr != u->buf) return -1;
    if (op == H5FD_FILE_IMAGE_OP_PROPERTY_LIST_CLOSE && u->fapl_refs > 0) u->fapl_refs--;
    else if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && u->vfd_refs > 0) u->vfd_refs--;
    else return -1;
    return 0;
}

static void *image_udata_copy(void *udata)
{
    ((image_ud *)udata)->refs++;
    return udata;
}

static herr_t image_udata_free(void *udata)
{
    image_release(udata);
    return 0;
}

static kc__h5 *open_image(void *image, size_t n, const char *label, kc_error *err)
{
    image_ud *u = kc__calloc(1, sizeof(*u));
    if (!u) {
        kc__free(image);
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    *u = (image_ud){.buf = image, .size = n, .refs = 1};
    H5FD_file_image_callbacks_t cb = {image_malloc, image_memcpy, image_realloc, image_free,
                                      image_udata_copy, image_udata_free, u};
    static const unsigned char magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    hid_t file = H5I_INVALID_HID;
    if (n < 8 || memcmp(image, magic, 8) != 0) {
        /* the superblock may also sit at 512, 1024, ... (a user block); HDF5 finds it */
        bool found = false;
        for (size_t off = 512; off + 8 <= n && !found; off *= 2) found = memcmp((char *)image + off, magic, 8) == 0;
        if (!found) {
            kc__errf(err, KC_EFORMAT, "'%s' is not an HDF5 file", label);
            image_release(u);
            return NULL;
        }
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 &&
        H5Pset_file_image_callbacks(fapl, &cb) >= 0 && H5Pset_file_image(fapl, image, n) >= 0)
        file = H5Fopen(label, H5F_ACC_RDONLY, fapl);
    if (file < 0) h5fail(err, KC_EFORMAT, "cannot open HDF5 file '%s' (damaged or truncated?)", label);
    if (fapl >= 0) H5Pclose(fapl);
    if (file < 0) {
        image_release(u);
        return NULL;
    }
    kc__h5 *h = wrap(file, label, false, err);
    if (!h) {
        image_release(u);
        return NULL;
    }
    h->in_memory = true;
    h->image = u;
    return h;
}

kc__h5 *kc__h5_open_image(void *image, size_t n, const char *label, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc__h5 *h = open_image(image, n, label, err);
    quiet_end(q);
    return h;
}

static kc__h5 *create_image(const char *label, kc_error *err)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = H5I_INVALID_HID;
    /* no backing store: nothing touches the disk, whatever label says */
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0)
        file = H5Fcreate(label, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file < 0) h5fail(err, KC_ENOMEM, "cannot create an HDF5 file in memory for '%s'", label);
    if (fapl >= 0) H5Pclose(fapl);
    if (file < 0) return NULL;
    kc__h5 *h = wrap(file, label, true, err);
    if (h) h->in_memory = true;
    return h;
}

kc__h5 *kc__h5_create_image(const char *label, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc__h5 *h = create_image(label, err);
    quiet_end(q);
    return h;
}

kc_status kc__h5_close_image(kc__h5 *h, void **image, size_t *n, kc_error *err)
{
    quiet_scope q = quiet_begin();
    *image = NULL;
    *n = 0;
    kc_status rc = KC_OK;
    ssize_t size = H5Fflush(h->file, H5F_SCOPE_GLOBAL) >= 0 ? H5Fget_file_image(h->file, NULL, 0) : -1;
    char *buf = size > 0 ? kc__malloc((size_t)size) : NULL;
    if (size <= 0) rc = h5fail(err, KC_EIO, "cannot take the image of '%s'", h->path);
    else if (!buf) rc = kc__errf(err, KC_ENOMEM, "out of memory (%lld bytes for '%s')", (long long)size, h->path);
    else if (H5Fget_file_image(h->file, buf, (size_t)size) != size)
        rc = h5fail(err, KC_EIO, "cannot take the image of '%s'", h->path);
    h->writable = false; /* flushed above */
    kc_status crc = kc__h5_close(h, rc == KC_OK ? err : NULL);
    if (rc == KC_OK) rc = crc;
    quiet_end(q);
    if (rc != KC_OK) {
        kc__free(buf);
        return rc;
    }
    *image = buf;
    *n = (size_t)size;
    return KC_OK;
}

kc_status kc__h5_close(kc__h5 *h, kc_error *err)
{
    if (!h) return KC_OK;
    quiet_scope q = quiet_begin();
    kc_status rc = KC_OK;
    char shortp[KC__SHORT_PATH];
    for (size_t i = 0; i < h->n_kept; i++) {
        H5Dclose(h->kept[i].id);
        kc__free(h->kept[i].path);
    }
    kc__free(h->kept);
    if (h->writable && H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0)
        rc = h5fail(err, KC_EIO, "cannot write '%s'", kc__short_path(h->path, shortp));
    if (h->writable && rc == KC_OK && h->reserved) release_reservation(h);
    if (H5Fclose(h->file) < 0 && rc == KC_OK) rc = h5fail(err, KC_EIO, "cannot close '%s'", kc__short_path(h->path, shortp));
    image_release(h->image);
    kc__free(h->path);
    kc__free(h);
    quiet_end(q);
    return rc;
}

const char *kc__h5_path(const kc__h5 *h) { return h->path; }

kc_status kc__h5_reserve(kc__h5 *h, int64_t bytes, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    /* in memory, or a shared file, whose handle is MPI's, not a descriptor
     * (its first writer reserved the space before the others opened it) */
    if (h->in_memory || h->n_parts > 1) return KC_OK;
    if (bytes <= 0 || h->fd < 0) return KC_OK; /* nothing to reserve, or not a POSIX file: write as we go */
    struct rlimit lim; /* `ulimit -f` fails writes past it, like a full disk */
    if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && (rlim_t)bytes > lim.rlim_cur)
        return kc__errf(err, KC_EIO, "cannot write '%s': about %lld bytes exceed the file size limit (%llu)",
                        kc__short_path(h->path, shortp), (long long)bytes, (unsigned long long)lim.rlim_cur);
    if (fallocate(h->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes) == 0) {
        h->reserved = true;
        return KC_OK;
    }
    if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINTR) return KC_OK;
    return kc__errf(err, KC_EIO, "cannot reserve %lld bytes for '%s': %s", (long long)bytes,
                    kc__short_path(h->path, shortp), strerror(errno));
}

/* ---- links -------------------------------------------------------------------------- */

/* Every component of path must exist and be a hard link. Returns KC_OK,
 * KC_ENOTFOUND (quietly, err untouched when `quietly`) or KC_EFORMAT for
 * soft / external links. The file is only read, so a group path once
 * checked stays good: it is remembered (`checked`), and a path below it
 * only has its remaining components looked at. */
static kc_status walk(kc__h5 *h, const char *path, bool quietly, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    size_t n = strlen(path);
    if (n == 0 || n > 4096) return kc__errf(err, KC_EINVAL, "bad HDF5 path");
    char buf[4097];
    memcpy(buf, path, n + 1);
    size_t start = 1, known = strlen(h->checked);
    if (known > 1 && strncmp(path, h->checked, known) == 0 && (path[known] == '/' || path[known] == '\0'))
        start = known + 1;
    size_t last_group = 0;
    for (size_t i = start; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (strcmp(buf, "/") != 0) {
            H5L_info_t info;
            if (H5Lget_info(h->file, buf, &info, H5P_DEFAULT) < 0) {
                H5Eclear2(H5E_DEFAULT);
                if (!quietly) kc__errf(err, KC_EFORMAT, "'%s' has no object '%s'", kc__short_path(h->path, shortp), buf);
                return quietly ? KC_ENOTFOUND : KC_EFORMAT;
            }
            if (info.type != H5L_TYPE_HARD)
                return kc__errf(err, KC_EFORMAT, "'%s' in '%s' is a %s link; only hard links are allowed",
                                buf, kc__short_path(h->path, shortp), info.type == H5L_TYPE_EXTERNAL ? "external" : "soft");
            if (saved == '/') last_group = i;
        }
        buf[i] = saved;
    }
    if (last_group > 0 && last_group < sizeof h->checked) {
        memcpy(h->checked, path, last_group);
        h->checked[last_group] = '\0';
    }
    return KC_OK;
}

static bool object_type(kc__h5 *h, const char *path, H5O_type_t *type)
{
    quiet_scope q = quiet_begin();
    bool found = walk(h, path, true, NULL) == KC_OK;
    H5O_info_t info;
    if (found && H5Oget_info_by_name(h->file, path, &info, H5P_DEFAULT) < 0) {
        H5Eclear2(H5E_DEFAULT);
        found = false;
    }
    if (found) *type = info.type;
    quiet_end(q);
    return found;
}

bool kc__h5_is_group(kc__h5 *h, const char *path)
{
    H5O_type_t t;
    return object_type(h, path, &t) && t == H5O_TYPE_GROUP;
}

bool kc__h5_exists(kc__h5 *h, const char *path)
{
    H5O_type_t t;
    return object_type(h, path, &t);
}

bool kc__h5_has_attr(kc__h5 *h, const char *obj, const char *name)
{
    quiet_scope q = quiet_begin();
    htri_t r = walk(h, obj, true, NULL) == KC_OK ? H5Aexists_by_name(h->file, obj, name, H5P_DEFAULT) : 0;
    if (r < 0) H5Eclear2(H5E_DEFAULT);
    quiet_end(q);
    return r > 0;
}

typedef struct names {
    char **items;
    size_t n, cap;
    bool oom;
} names;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g, (void)info;
    names *ns = data;
    char *c = kc__strdup(name);
    if (!c || ns->n >= KC__H5_MAX_LIST || !kc__grow((void **)&ns->items, &ns->cap, ns->n + 1, sizeof(char *))) {
        kc__free(c);
        ns->oom = true;
        return -1;
    }
    ns->items[ns->n++] = c;
    return 0;
}

static kc_status list_group(kc__h5 *h, const char *path, char ***items, size_t *n, kc_error *err)
{
    kc_status rc = walk(h, path, false, err);
    if (rc != KC_OK) return rc;
    names ns = {0};
    hsize_t idx = 0;
    if (H5Literate_by_name(h->file, path, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &ns, H5P_DEFAULT) < 0) {
        kc__free_strings(ns.items, ns.n);
        if (ns.oom) return kc__errf(err, KC_ENOMEM, "out of memory listing '%s'", path);
        return h5fail(err, KC_EFORMAT, "cannot list group '%s'", path);
    }
    *items = ns.items;
    *n = ns.n;
    return KC_OK;
}

kc_status kc__h5_list_group(kc__h5 *h, const char *path, char ***items, size_t *n, kc_error *err)
{
    *items = NULL;
    *n = 0;
    quiet_scope q = quiet_begin();
    kc_status rc = list_group(h, path, items, n, err);
    quiet_end(q);
    return rc;
}

void kc__free_strings(char **items, size_t n)
{
    if (!items) return;
    for (size_t i = 0; i < n; i++) kc__free(items[i]);
    kc__free(items);
}

/* ---- reading string attributes ----------------------------------------------------------- */

/* An open string attribute: its handles and shape. */
typedef struct str_attr {
    const char *obj, *name; /* for messages */
    hid_t attr, type, space;
    H5S_class_t space_class;
    hssize_t n;             /* elements */
} str_attr;

static void str_attr_close(str_attr *a)
{
    if (a->type >= 0) H5Tclose(a->type);
    if (a->space >= 0) H5Sclose(a->space);
    if (a->attr >= 0) H5Aclose(a->attr);
}

/* Open attribute (obj, name) and check that it can hold what is wanted: one
 * string (want_scalar) or a 1-D list. *present is false (and KC_OK) when it
 * is absent; *empty_list is true for Keras' empty list, a float64 (0,)
 * array. On KC_OK with *present, a is open (close with str_attr_close). */
static kc_status str_attr_open(kc__h5 *h, str_attr *a, bool want_scalar, bool *present, bool *empty_list,
                               kc_error *err)
{
    const char *obj = a->obj, *name = a->name;
    a->attr = a->type = a->space = H5I_INVALID_HID;
    *present = *empty_list = false;
    kc_status rc = walk(h, obj, false, err);
    if (rc != KC_OK) return rc;
    htri_t ex = H5Aexists_by_name(h->file, obj, name, H5P_DEFAULT);
    if (ex < 0) return h5fail(err, KC_EFORMAT, "cannot read attributes of '%s'", obj);
    if (ex == 0) return KC_OK;
    a->attr = H5Aopen_by_name(h->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a->attr < 0) return h5fail(err, KC_EFORMAT, "cannot open attribute '%s' of '%s'", name, obj);
    a->type = H5Aget_type(a->attr);
    a->space = H5Aget_space(a->attr);
    if (a->type < 0 || a->space < 0) {
        rc = h5fail(err, KC_EFORMAT, "cannot read attribute '%s' of '%s'", name, obj);
        goto fail;
    }
    a->space_class = H5Sget_simple_extent_type(a->space);
    a->n = a->space_class == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(a->space);
    int nd = a->space_class == H5S_SIMPLE ? H5Sget_simple_extent_ndims(a->space) : 0;
    if (a->n < 0 || (size_t)a->n > KC__H5_MAX_LIST || nd > 1) {
        rc = kc__errf(err, KC_EFORMAT, "attribute '%s' of '%s' has an unexpected shape", name, obj);
        goto fail;
    }
    if (H5Tget_class(a->type) != H5T_STRING) {
        if (!want_scalar && a->n == 0 && a->space_class != H5S_NULL) { /* Keras' empty list: float64 (0,) */
            *present = *empty_list = true;
            str_attr_close(a);
            return KC_OK;
        }
        rc = kc__errf(err, KC_EFORMAT, "attribute '%s' of '%s' must hold strings", name, obj);
    } else if (want_scalar && a->n != 1) {
        rc = kc__errf(err, KC_EFORMAT, "attribute '%s' of '%s' must be one string, it has %lld", name, obj,
                      (long long)a->n);
    } else if (!want_scalar && a->space_class == H5S_SCALAR) {
        rc = kc__errf(err, KC_EFORMAT, "attribute '%s' of '%s' must be a list of strings, it is one string",
                      name, obj);
    }
    if (rc == KC_OK) {
        *present = true;
        return KC_OK;
    }
fail:
    str_attr_close(a);
    return rc;
}

/* Copy a fixed-length item, stripping the padding. */
static char *fixed_item(const char *p, size_t size, H5T_str_t pad)
{
    size_t len = 0;
    if (pad == H5T_STR_NULLTERM || pad == H5T_STR_NULLPAD) {
        while (len < size && p[len]) len++;
    } else {
        len = size;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\0')) len--;
    }
    char *s = kc__malloc(len + 1);
    if (s) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

/* Variable-length strings: HDF5 allocates each one while converting; all
 * of them are given back (H5Dvlen_reclaim) whether the read succeeded or
 * stopped halfway, as it does when a later string of a damaged file cannot
 * be found in the global heap. */
static kc_status read_vlen_items(const str_attr *a, char **out, kc_error *err)
{
    size_t n = (size_t)a->n;
    hid_t mem = H5Tcopy(H5T_C_S1);
    char **raw = kc__calloc(n + 1, sizeof(char *));
    kc_status rc = KC_OK;
    if (mem < 0 || !raw || H5Tset_size(mem, H5T_VARIABLE) < 0 || H5Tset_cset(mem, H5Tget_cset(a->type)) < 0) {
        rc = h5fail(err, KC_ENOMEM, "cannot prepare to read '%s'", a->name);
        goto out;
    }
    if (H5Aread(a->attr, mem, raw) < 0) {
        rc = h5fail(err, KC_EFORMAT, "cannot read attribute '%s' of '%s'", a->name, a->obj);
    }
    for (size_t i = 0; i < n && rc == KC_OK; i++) {
        size_t len = raw[i] ? strlen(raw[i]) : 0;
        if (len > KC__H5_MAX_STRING) rc = kc__errf(err, KC_ELIMIT, "attribute '%s' of '%s' is too long", a->name, a->obj);
        else if (!(out[i] = kc__malloc(len + 1))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
        else {
            if (len) memcpy(out[i], raw[i], len);
            out[i][len] = '\0';
        }
    }
    /* strings converted before a failure are HDF5's too: NULL entries are skipped */
    H5Dvlen_reclaim(mem, a->space, H5P_DEFAULT, raw);
    H5Eclear2(H5E_DEFAULT);
out:
    kc__free(raw);
    if (mem >= 0) H5Tclose(mem);
    return rc;
}

static kc_status read_fixed_items(const str_attr *a, char **out, kc_error *err)
{
    size_t n = (size_t)a->n, size = H5Tget_size(a->type);
    if (size == 0 || size > KC__H5_MAX_STRING || n * size > KC__H5_MAX_STRING)
        return kc__errf(err, KC_ELIMIT, "attribute '%s' of '%s' is too large", a->name, a->obj);
    char *raw = kc__malloc(n * size + 1);
    if (!raw) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = KC_OK;
    if (H5Aread(a->attr, a->type, raw) < 0) rc = h5fail(err, KC_EFORMAT, "cannot read attribute '%s' of '%s'", a->name, a->obj);
    H5T_str_t pad = H5Tget_strpad(a->type);
    for (size_t i = 0; i < n && rc == KC_OK; i++)
        if (!(out[i] = fixed_item(raw + i * size, size, pad))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    kc__free(raw);
    return rc;
}

/* Read attribute (obj, name) as strings: one (want_scalar) or a 1-D list
 * (an empty numeric array counts as an empty list). */
static kc_status read_strings(kc__h5 *h, const char *obj, const char *name, bool want_scalar, char ***items,
                              size_t *n_items, bool *present, kc_error *err)
{
    *items = NULL;
    *n_items = 0;
    str_attr a = {.obj = obj, .name = name};
    bool empty_list;
    kc_status rc = str_attr_open(h, &a, want_scalar, present, &empty_list, err);
    if (rc != KC_OK || !*present || empty_list) return rc;
    size_t n = (size_t)a.n;
    char **out = kc__calloc(n + 1, sizeof(char *));
    htri_t vl = H5Tis_variable_str(a.type);
    if (!out) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    else if (vl > 0) rc = read_vlen_items(&a, out, err);
    else if (vl == 0) rc = read_fixed_items(&a, out, err);
    else rc = h5fail(err, KC_EFORMAT, "cannot inspect attribute '%s' of '%s'", name, obj);
    str_attr_close(&a);
    if (rc != KC_OK) {
        *present = false;
        kc__free_strings(out, n); /* frees out itself too, items or not */
        return rc;
    }
    *items = out;
    *n_items = n;
    return KC_OK;
}

kc_status kc__h5_read_attr_string(kc__h5 *h, const char *obj, const char *name, char **out,
                                  bool *present, kc_error *err)
{
    char **items;
    size_t n;
    *out = NULL;
    quiet_scope q = quiet_begin();
    kc_status rc = read_strings(h, obj, name, true, &items, &n, present, err);
    quiet_end(q);
    if (rc != KC_OK || !*present) return rc;
    *out = items[0];
    kc__free(items);
    return KC_OK;
}

kc_status kc__h5_read_attr_strings(kc__h5 *h, const char *obj, const char *name, char ***items,
                                   size_t *n, bool *present, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc_status rc = read_strings(h, obj, name, false, items, n, present, err);
    quiet_end(q);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------------------- */

static kc_status write_attr(kc__h5 *h, const char *obj, const char *name, hid_t type, hid_t space,
                            const void *buf, kc_error *err)
{
    hid_t o = H5Oopen(h->file, obj, H5P_DEFAULT);
    if (o < 0) return h5fail(err, KC_EIO, "cannot open '%s' to write attribute '%s'", obj, name);
    if (H5Aexists(o, name) > 0) H5Adelete(o, name);
    hid_t a = H5Acreate2(o, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    kc_status rc = KC_OK;
    if (a < 0 || H5Awrite(a, type, buf) < 0) rc = h5fail(err, KC_EIO, "cannot write attribute '%s' of '%s'", name, obj);
    if (a >= 0) H5Aclose(a);
    H5Oclose(o);
    return rc;
}

static kc_status write_attr_string(kc__h5 *h, const char *obj, const char *name, const char *value, bool vlen,
                                   kc_error *err)
{
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
    kc_status rc = KC_OK;
    size_t len = strlen(value);
    if (t < 0 || s < 0) {
        rc = h5fail(err, KC_ENOMEM, "cannot create an HDF5 string type");
    } else if (vlen) {
        if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)
            rc = h5fail(err, KC_EIO, "cannot create an HDF5 string type");
        else
            rc = write_attr(h, obj, name, t, s, &value, err);
    } else {
        if (H5Tset_size(t, len ? len : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
            H5Tset_cset(t, H5T_CSET_ASCII) < 0)
            rc = h5fail(err, KC_EIO, "cannot create an HDF5 string type");
        else
            rc = write_attr(h, obj, name, t, s, len ? value : "", err);
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    return rc;
}

kc_status kc__h5_write_attr_string(kc__h5 *h, const char *obj, const char *name, const char *value,
                                   bool vlen, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc_status rc = write_attr_string(h, obj, name, value, vlen, err);
    quiet_end(q);
    return rc;
}

static kc_status write_attr_strings(kc__h5 *h, const char *obj, const char *name, char *const *items, size_t n,
                                    kc_error *err)
{
    hsize_t dim = n;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    if (s < 0) return h5fail(err, KC_ENOMEM, "cannot create an HDF5 dataspace");
    kc_status rc;
    if (n == 0) { /* as Keras: np.asarray([]) -> float64 (0,) */
        double dummy = 0;
        rc = write_attr(h, obj, name, H5T_IEEE_F64LE, s, &dummy, err);
        H5Sclose(s);
        return rc;
    }
    size_t maxlen = 1;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(items[i]);
        if (l > maxlen) maxlen = l;
    }
    char *buf = kc__calloc(n, maxlen);
    hid_t t = H5Tcopy(H5T_C_S1);
    if (!buf || t < 0 || H5Tset_size(t, maxlen) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
        H5Tset_cset(t, H5T_CSET_ASCII) < 0) {
        rc = kc__errf(err, KC_ENOMEM, "out of memory writing attribute '%s'", name);
    } else {
        for (size_t i = 0; i < n; i++) memcpy(buf + i * maxlen, items[i], strlen(items[i]));
        rc = write_attr(h, obj, name, t, s, buf, err);
    }
    kc__free(buf);
    if (t >= 0) H5Tclose(t);
    H5Sclose(s);
    return rc;
}

kc_status kc__h5_write_attr_strings(kc__h5 *h, const char *obj, const char *name,
                                    char *const *items, size_t n, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc_status rc = write_attr_strings(h, obj, name, items, n, err);
    quiet_end(q);
    return rc;
}

static kc_status create_group(kc__h5 *h, const char *path, kc_error *err)
{
    if (kc__h5_is_group(h, path)) return KC_OK;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        if (lcpl >= 0) H5Pclose(lcpl);
        return h5fail(err, KC_ENOMEM, "cannot create HDF5 properties");
    }
    hid_t g = H5Gcreate2(h->file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    char shortp[KC__SHORT_PATH];
    if (g < 0) return h5fail(err, KC_EIO, "cannot create group '%s' in '%s'", path, kc__short_path(h->path, shortp));
    H5Gclose(g);
    return KC_OK;
}

kc_status kc__h5_create_group(kc__h5 *h, const char *path, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc_status rc = create_group(h, path, err);
    quiet_end(q);
    return rc;
}

/* ---- datasets ------------------------------------------------------------------------------------ */

static hid_t open_dataset(kc__h5 *h, const char *path, kc_error *err)
{
    if (walk(h, path, false, err) != KC_OK) return H5I_INVALID_HID;
    hid_t d = H5Dopen2(h->file, path, H5P_DEFAULT);
    if (d < 0) {
        H5O_info_t info;
        char shortp[KC__SHORT_PATH];
        if (H5Oget_info_by_name(h->file, path, &info, H5P_DEFAULT) >= 0 && info.type != H5O_TYPE_DATASET)
            kc__errf(err, KC_EFORMAT, "'%s' in '%s' is not a dataset", path, kc__short_path(h->path, shortp));
        else
            h5fail(err, KC_EFORMAT, "cannot open dataset '%s'", path);
        H5Eclear2(H5E_DEFAULT);
        return H5I_INVALID_HID;
    }
    hid_t dcpl = H5Dget_create_plist(d);
    bool ok = dcpl >= 0;
    if (ok && H5Pget_layout(dcpl) == H5D_VIRTUAL) {
        kc__errf(err, KC_EFORMAT, "dataset '%s' is virtual (it reads other files); refused", path);
        ok = false;
    } else if (ok && H5Pget_external_count(dcpl) > 0) {
        kc__errf(err, KC_EFORMAT, "dataset '%s' keeps its data in external files; refused", path);
        ok = false;
    } else if (!ok) {
        h5fail(err, KC_EFORMAT, "cannot inspect dataset '%s'", path);
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (!ok) {
        H5Dclose(d);
        return H5I_INVALID_HID;
    }
    return d;
}

/* Shape and element type of the open dataset d (elem_size and is_signed
 * may be NULL). The dimensions come from the file: their product (the
 * element count) and its bytes must fit an int64, or the dataset is
 * refused before anyone multiplies them. */
static kc_status describe(hid_t d, const char *path, int *ndim, int64_t *dims, kc__h5_class *cls,
                          size_t *elem_size, bool *is_signed, kc_error *err)
{
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    kc_status rc = KC_OK;
    if (s < 0 || t < 0) {
        rc = h5fail(err, KC_EFORMAT, "cannot read the shape of '%s'", path);
        goto out;
    }
    H5S_class_t sc = H5Sget_simple_extent_type(s);
    int nd = sc == H5S_SCALAR ? 0 : H5Sget_simple_extent_ndims(s);
    if (sc == H5S_NULL || nd < 0 || nd > KC_MAX_DIMS) {
        rc = kc__errf(err, KC_EFORMAT, "dataset '%s' has an unsupported shape (rank %d)", path, nd);
        goto out;
    }
    hsize_t hd[KC_MAX_DIMS];
    if (nd && H5Sget_simple_extent_dims(s, hd, NULL) < 0) {
        rc = h5fail(err, KC_EFORMAT, "cannot read the shape of '%s'", path);
        goto out;
    }
    int64_t count = 1;
    for (int i = 0; i < nd; i++) {
        dims[i] = hd[i] > (hsize_t)INT64_MAX ? INT64_MAX : (int64_t)hd[i];
        if (count && !kc__mul_i64(count, dims[i], &count)) count = -1;
        if (count < 0 || count > INT64_MAX / 8) count = -1;
        if (count < 0) {
            rc = kc__errf(err, KC_ELIMIT, "dataset '%s' declares more elements than any file holds", path);
            goto out;
        }
    }
    *ndim = nd;
    H5T_class_t tc = H5Tget_class(t);
    *cls = tc == H5T_FLOAT ? KC__H5_FLOAT : tc == H5T_INTEGER ? KC__H5_INT : KC__H5_OTHER;
    if (elem_size) *elem_size = H5Tget_size(t);
    if (is_signed) *is_signed = tc != H5T_INTEGER || H5Tget_sign(t) != H5T_SGN_NONE;
    if (elem_size && *elem_size == 0) rc = h5fail(err, KC_EFORMAT, "cannot read the type of '%s'", path);
out:
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    return rc;
}

kc_status kc__h5_dataset_info(kc__h5 *h, const char *path, int *ndim, int64_t *dims,
                              kc__h5_class *cls, kc_error *err)
{
    quiet_scope q = quiet_begin();
    hid_t d = open_dataset(h, path, err);
    kc_status rc = d < 0 ? kc__error_code(err, KC_EFORMAT) : describe(d, path, ndim, dims, cls, NULL, NULL, err);
    if (d >= 0 && rc == KC_OK) keep_open(h, path, d);
    else if (d >= 0) H5Dclose(d);
    quiet_end(q);
    return rc;
}

kc_status kc__h5_dataset_describe(kc__h5 *h, const char *path, int *ndim, int64_t *dims,
                                  kc__h5_class *cls, size_t *elem_size, bool *is_signed, kc_error *err)
{
    quiet_scope q = quiet_begin();
    hid_t d = open_dataset(h, path, err);
    kc_status rc = d < 0 ? kc__error_code(err, KC_EFORMAT) : describe(d, path, ndim, dims, cls, elem_size, is_signed, err);
    if (d >= 0) H5Dclose(d);
    quiet_end(q);
    return rc;
}

/* ---- reading values ----------------------------------------------------------------------------- */

static kc__h5_extent_sink extent_sink;
static void *extent_sink_ctx;

void kc__h5_set_extent_sink(kc__h5_extent_sink sink, void *ctx)
{
    extent_sink = sink;
    extent_sink_ctx = ctx;
}

/* The dataset (count values) open at d, with dataspace s and type t, has a
 * plain extent: one contiguous, allocated block of native float32 in a file
 * read through the POSIX driver. *offset receives where it starts. */
static bool plain_extent(kc__h5 *h, hid_t d, hid_t t, int64_t count, int64_t *offset)
{
    if (h->fd < 0 || count <= 0 || count > INT64_MAX / 4 || H5Tequal(t, H5T_NATIVE_FLOAT) <= 0) return false;
    hid_t dcpl = H5Dget_create_plist(d);
    bool contiguous = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CONTIGUOUS;
    if (dcpl >= 0) H5Pclose(dcpl);
    haddr_t at = contiguous ? H5Dget_offset(d) : HADDR_UNDEF;
    H5Eclear2(H5E_DEFAULT);
    if (at == HADDR_UNDEF || at > (haddr_t)INT64_MAX - (haddr_t)count * 4) return false;
    if (H5Dget_storage_size(d) != (hsize_t)count * 4) return false;
    *offset = (int64_t)at;
    return true;
}

/* Read nbytes at offset of h's file into dst: the bytes of a plain extent. */
static kc_status read_extent(kc__h5 *h, const char *path, void *dst, int64_t offset, int64_t nbytes, kc_error *err)
{
    char *p = dst;
    while (nbytes > 0) {
        size_t chunk = nbytes > (1 << 30) ? (size_t)1 << 30 : (size_t)nbytes;
        ssize_t got = pread(h->fd, p, chunk, (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return kc__errf(err, KC_EIO, "cannot read dataset '%s': %s", path, strerror(errno));
        if (got == 0) return kc__errf(err, KC_EFORMAT, "dataset '%s' lies past the end of the file (truncated?)", path);
        p += got;
        offset += got;
        nbytes -= got;
    }
    return KC_OK;
}

/* Read dataset `path` (count values) into dst as memtype. `weight`: dst is
 * a weight's own buffer, which may be filled from the dataset's plain
 * extent, now or (with an extent sink) by whoever takes it. */
static kc_status read_as(kc__h5 *h, const char *path, hid_t memtype, void *dst, int64_t count, bool weight,
                         kc_error *err)
{
    hid_t d = take_kept(h, path);
    if (d < 0) d = open_dataset(h, path, err);
    if (d < 0) return kc__error_code(err, KC_EFORMAT);
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    kc_status rc = KC_OK;
    hssize_t np = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    H5T_class_t tc = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    int64_t offset;
    if (np != count)
        rc = kc__errf(err, KC_ESHAPE, "dataset '%s' has %lld values, %lld were expected", path, (long long)np,
                      (long long)count);
    else if (tc != H5T_FLOAT && tc != H5T_INTEGER)
        rc = kc__errf(err, KC_EFORMAT, "dataset '%s' does not hold numbers", path);
    else if (weight && plain_extent(h, d, t, count, &offset)) {
        if (!(extent_sink && extent_sink(extent_sink_ctx, dst, count, offset, h->dev, h->ino)))
            rc = read_extent(h, path, dst, offset, count * 4, err);
    } else if (count > 0 && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        rc = h5fail(err, KC_EFORMAT, "cannot read dataset '%s' (damaged or truncated file?)", path);
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return rc;
}

kc_status kc__h5_read_f32(kc__h5 *h, const char *path, float *dst, int64_t count, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc_status rc = read_as(h, path, H5T_NATIVE_FLOAT, dst, count, false, err);
    quiet_end(q);
    return rc;
}

kc_status kc__h5_read_weight(kc__h5 *h, const char *path, float *dst, int64_t count, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc_status rc = read_as(h, path, H5T_NATIVE_FLOAT, dst, count, true, err);
    quiet_end(q);
    return rc;
}

kc_status kc__h5_read_i64(kc__h5 *h, const char *path, int64_t *dst, int64_t count, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc_status rc = read_as(h, path, H5T_NATIVE_INT64, dst, count, false, err);
    quiet_end(q);
    return rc;
}

/* A shared file's dataset: this process writes its part of the rows (all
 * of a scalar's on part 0), every process taking part in the collective
 * write even with nothing to write. */
static herr_t write_part(kc__h5 *h, hid_t d, hid_t mtype, hid_t fspace, int ndim, const hsize_t *hd, kc_dtype dtype,
                         const void *data)
{
    hsize_t rows = ndim ? hd[0] : 1, per_row = 1;
    for (int i = 1; i < ndim; i++) per_row *= hd[i];
    hsize_t base = rows / (hsize_t)h->n_parts, extra = rows % (hsize_t)h->n_parts, r = (hsize_t)h->part;
    hsize_t first = r * base + (r < extra ? r : extra), count = base + (r < extra ? 1 : 0);
    hsize_t mdims[1] = {count * per_row};
    hid_t mspace = H5Screate_simple(1, mdims, NULL);
    herr_t st = mspace < 0 ? -1 : 0;
    if (st == 0 && count == 0) {
        st = H5Sselect_none(fspace) < 0 || H5Sselect_none(mspace) < 0 ? -1 : 0;
    } else if (st == 0 && ndim > 0) {
        hsize_t start[KC_MAX_DIMS] = {0}, cnt[KC_MAX_DIMS];
        for (int i = 0; i < ndim; i++) cnt[i] = hd[i];
        start[0] = first;
        cnt[0] = count;
        st = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL);
    }
    size_t elem = dtype == KC_INT64 ? sizeof(int64_t) : sizeof(float);
    const char *p = (const char *)data + (count ? first * per_row * elem : 0);
    if (st >= 0) st = H5Dwrite(d, mtype, mspace, fspace, h->dxpl, p);
    if (mspace >= 0) H5Sclose(mspace);
    return st;
}

/* ---- writing datasets ----------------------------------------------------------------------------- */

static kc_status write_dataset(kc__h5 *h, const char *path, kc_dtype dtype, int ndim, const int64_t *dims,
                               const void *data, kc_error *err)
{
    if (fail_after > 0 && --fail_after == 0)
        return kc__errf(err, KC_EIO, "injected write failure at '%s'", path);
    hsize_t hd[KC_MAX_DIMS];
    for (int i = 0; i < ndim; i++) hd[i] = (hsize_t)dims[i];
    hid_t s = ndim ? H5Screate_simple(ndim, hd, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t ftype = dtype == KC_INT64 ? H5T_STD_I64LE : H5T_IEEE_F32LE;
    hid_t mtype = dtype == KC_INT64 ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT;
    kc_status rc = KC_OK;
    if (s < 0 || lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        rc = h5fail(err, KC_ENOMEM, "cannot create HDF5 properties");
    } else if (dtype != KC_FLOAT32 && dtype != KC_INT64) {
        rc = kc__errf(err, KC_ETYPE, "cannot write %s datasets", kc_dtype_name(dtype));
    } else {
        hid_t d = H5Dcreate2(h->file, path, ftype, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (d < 0) {
            rc = h5fail(err, KC_EIO, "cannot create dataset '%s'", path);
        } else {
            if (h->n_parts > 1 ? write_part(h, d, mtype, s, ndim, hd, dtype, data) < 0
                               : H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
                rc = h5fail(err, KC_EIO, "cannot write dataset '%s'", path);
            if (H5Dclose(d) < 0 && rc == KC_OK) rc = h5fail(err, KC_EIO, "cannot write dataset '%s'", path);
        }
    }
    if (lcpl >= 0) H5Pclose(lcpl);
    if (s >= 0) H5Sclose(s);
    return rc;
}

kc_status kc__h5_write(kc__h5 *h, const char *path, kc_dtype dtype, int ndim, const int64_t *dims,
                       const void *data, kc_error *err)
{
    quiet_scope q = quiet_begin();
    kc_status rc = write_dataset(h, path, dtype, ndim, dims, data, err);
    quiet_end(q);
    return rc;
}
