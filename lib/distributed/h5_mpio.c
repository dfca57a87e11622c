/* One checkpoint written by every process at once: parallel HDF5 over
 * MPI-IO, in builds that link the MPI build of HDF5 (-Dparallel_hdf5).
 * The file is the ordinary Keras .h5 layout that kc_model_save writes --
 * the same code writes it (kc__model_write): every process makes the same
 * HDF5 calls with the same metadata, as parallel HDF5 requires, and each
 * stores its share of every dataset's rows (h5io.c), in collective
 * transfers.
 *
 * Atomic as kc_model_save: the chief creates a temporary file beside the
 * target and reserves its size (a full disk fails there, before any
 * collective write, where a failure on one process only could not be
 * recovered from), every process agrees, they write it together, and the
 * chief syncs it and renames it over the target. What the reservation
 * cannot foresee -- an I/O error on one process in the middle of the
 * collective writes -- leaves the others waiting in HDF5, as any
 * parallel-HDF5 program would. This file and h5io.c are the only ones that
 * call HDF5; this one only for the MPI-IO properties. */
#define _GNU_SOURCE /* fallocate */
#include "../saving/saving_int.h"
#include "distributed_int.h"

#include <hdf5.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The chief's part: a new temporary file, its space reserved. */
static kc_status create_reserved(const char *tmp, int64_t bytes, kc_error *err)
{
    /* `ulimit -f` fails writes past it like a full disk, but not a
     * reservation that keeps the size (FALLOC_FL_KEEP_SIZE) */
    struct rlimit lim;
    if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && (rlim_t)bytes > lim.rlim_cur)
        return kc__errf(err, KC_EIO, "cannot write '%s': about %lld bytes exceed the file size limit (%llu)", tmp,
                        (long long)bytes, (unsigned long long)lim.rlim_cur);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return kc__errf(err, KC_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    kc_status rc = KC_OK;
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes) != 0 && errno != EOPNOTSUPP && errno != ENOSYS)
        rc = kc__errf(err, KC_EIO, "cannot reserve %lld bytes for '%s': %s", (long long)bytes, tmp, strerror(errno));
    close(fd);
    if (rc != KC_OK) remove(tmp);
    return rc;
}

/* Everyone's part: open the file through MPI-IO and write the model. */
static kc_status write_shared(kc__mpi_strategy *m, const char *tmp, kc_object *model, bool weights_only,
                              const kc_save_options *opts, kc_error *err)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), dxpl = H5Pcreate(H5P_DATASET_XFER);
    kc_status rc = KC_OK;
    if (fapl < 0 || dxpl < 0 || H5Pset_fapl_mpio(fapl, m->comm, MPI_INFO_NULL) < 0 ||
        H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
        rc = kc__errf(err, KC_EIO, "cannot set up parallel HDF5 (MPI-IO) for '%s'", tmp);
    kc__h5 *h = rc == KC_OK ? kc__h5_create_shared(tmp, fapl, dxpl, m->base.rank, m->base.size, err) : NULL;
    if (rc == KC_OK && !h) rc = kc__error_code(err, KC_EIO);
    double t0 = kc__dist_now();
    if (rc == KC_OK) rc = kc__model_write(h, model, opts, weights_only, err);
    kc_status crc = kc__h5_close(h, rc == KC_OK ? err : NULL);
    m->stats.seconds += kc__dist_now() - t0;
    if (rc == KC_OK) rc = crc;
    if (dxpl >= 0) H5Pclose(dxpl);
    if (fapl >= 0) H5Pclose(fapl);
    return rc;
}

kc_status kc__dist_save_collective(kc__mpi_strategy *m, kc_object *model, const char *path, bool weights_only,
                                   const kc_save_options *opts, kc_error *err)
{
    static unsigned long counter;
    char tmp[4160] = "";
    kc_status rc = KC_OK;
    bool chief = m->base.rank == 0;
    if (!kc_is_model(model)) rc = kc__errf(err, KC_EINVAL, "only models can be saved");
    else if (!path || !*path || strlen(path) > 4096) rc = kc__errf(err, KC_EINVAL, "no file path given, or a path too long");
    if (rc == KC_OK && chief) {
        snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%lu", path, (long)getpid(), ++counter);
        rc = create_reserved(tmp, kc__model_save_size(model, weights_only, opts), err);
    }
    rc = kc__dist_agree(&m->base, rc, NULL, err);
    if (rc == KC_OK) rc = kc__dist_broadcast(m, tmp, sizeof tmp, err);
    if (rc == KC_OK) rc = write_shared(m, tmp, model, weights_only, opts, err);
    rc = kc__dist_agree(&m->base, rc, NULL, err);
    if (chief && tmp[0]) {
        if (rc == KC_OK) rc = kc__save_commit(tmp, path, !(opts && opts->no_sync), err);
        if (rc != KC_OK) remove(tmp);
    }
    if (rc != KC_OK) kc__error_context(err, "saving '%s'", path ? path : "(null)");
    return rc;
}
