/* Model files must be regular files, checked before anything opens them.
 *
 * HDF5 opens whatever it is given: a FIFO makes H5Fopen wait forever for a
 * writer, a tape or terminal device may be rewound or read by the open
 * itself, and a directory comes back as "not an HDF5 file", which hides
 * the real mistake (a TensorFlow SavedModel is a directory). stat() tells
 * them apart without opening anything. Both loading modes call this (the
 * isolated loader before it starts its child, and the child again, with
 * the same code as the in-process loader). */
#define _POSIX_C_SOURCE 200809L
#include "file_kind.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

kc_status kc__refuse_special_file(const char *path, kc_error *err)
{
    char shortp[KC__SHORT_PATH];
    struct stat st;
    if (!path) return kc__errf(err, KC_EINVAL, "file path is NULL");
    if (stat(path, &st) != 0) return KC_OK; /* missing or unreachable: the open says why */
    const char *what = NULL;
    if (S_ISREG(st.st_mode)) return KC_OK;
    if (S_ISDIR(st.st_mode))
        return kc__errf(err, KC_EFORMAT, "'%s' is a directory, not a model file (TensorFlow SavedModel folders are not read)",
                        kc__short_path(path, shortp));
    if (S_ISFIFO(st.st_mode)) what = "a FIFO (named pipe)";
    else if (S_ISCHR(st.st_mode)) what = "a character device";
    else if (S_ISBLK(st.st_mode)) what = "a block device";
    else if (S_ISSOCK(st.st_mode)) what = "a socket";
    else what = "not a regular file";
    return kc__errf(err, KC_EFORMAT, "'%s' is %s, not a model file; refused without opening it",
                    kc__short_path(path, shortp), what);
}
