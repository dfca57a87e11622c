/* Checkpoints of a distributed run: one ordinary Keras file. With
 * parallel HDF5 (a build linking the MPI build of HDF5) every process
 * writes a Keras 2 .h5 file together through MPI-IO (h5_mpio.c); otherwise
 * (and for the Keras 3 formats, .keras and .weights.h5) the chief writes it
 * alone, which gives the same file since every process holds the same
 * weights. Either way the save is atomic (a temporary file renamed
 * over the target) and ends with a status agreement, so that a full disk
 * on the writer stops every process with the writer's error. */
#include "../saving/saving_int.h"
#include "distributed_int.h"

#include <ckeras/io.h>

bool kc_strategy_parallel_io(void)
{
#ifdef KC_HAVE_PARALLEL_HDF5
    return true;
#else
    return false;
#endif
}

static kc_status save(kc_strategy *s, kc_object *model, const char *path, bool weights_only, const kc_save_options *opts,
                      kc_error *err)
{
    if (!s) return kc__errf(err, KC_EINVAL, "saving: the strategy is NULL");
    kc_status rc = KC_OK;
#ifdef KC_HAVE_PARALLEL_HDF5
    /* the legacy .h5 layout together; the Keras 3 ones (.keras,
     * .weights.h5) from the chief */
    bool together = path && kc__saves_legacy_h5(path, weights_only);
    if (together) rc = kc__dist_save_collective(kc__mpi(s), model, path, weights_only, opts, err);
#else
    bool together = false;
#endif
    if (!together && s->rank == 0)
        rc = weights_only ? kc_model_save_weights(model, path, opts, err) : kc_model_save(model, path, opts, err);
    return kc__dist_agree(s, rc, NULL, err);
}

kc_status kc__dist_save(kc_strategy *s, kc_object *model, const char *path, bool weights_only, kc_error *err)
{
    return save(s, model, path, weights_only, NULL, err);
}

kc_status kc_strategy_save_model(kc_strategy *s, kc_object *model, const char *path, const kc_save_options *opts,
                                 kc_error *err)
{
    return save(s, model, path, false, opts, err);
}

kc_status kc_strategy_save_weights(kc_strategy *s, kc_object *model, const char *path, const kc_save_options *opts,
                                   kc_error *err)
{
    return save(s, model, path, true, opts, err);
}
