/* ckeras private: what a path must be before a loader opens it. */
#ifndef CKERAS_FILE_KIND_H
#define CKERAS_FILE_KIND_H

#include "../core/internal.h"

/* Refuse a path that names something other than a regular file (after
 * symbolic links): a FIFO or a device, which opening could block on or
 * disturb, a socket, or a directory. The message names what it is; a
 * missing path is not refused here (the opener reports it). Looks only
 * with stat(), so nothing is opened. */
kc_status kc__refuse_special_file(const char *path, kc_error *err);

#endif /* CKERAS_FILE_KIND_H */
