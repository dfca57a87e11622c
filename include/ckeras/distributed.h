/* ckeras: data-parallel training across processes and machines, on MPI.
 *
 * Exists in builds with MPI only (meson -Dmpi, Open MPI or MPICH); it
 * includes <mpi.h>, and <ckeras.h> does not include it. A kc_strategy is
 * what tf.distribute's MultiWorkerMirroredStrategy is to Keras: every
 * process builds (or loads) the same model, compiles it, and calls
 * kc_strategy_fit -- kc_model_fit with the strategy -- with the same
 * arguments and the same data, and they train together:
 *
 *     MPI_Init(&argc, &argv);
 *     kc_strategy *s = kc_strategy_new(MPI_COMM_WORLD, &err);
 *     kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1,
 *                      .batch_size = 256, .epochs = 3};
 *     kc_strategy_fit(s, model, &a, &history, &err);  // mpirun -np 4 ./train
 *     kc_strategy_free(s);
 *     MPI_Finalize();
 *
 * What a distributed fit does:
 * - batch_size is the global batch: each process takes its share of every
 *   batch (of the same shuffled order), so results do not depend on the
 *   number of processes beyond the order of float sums;
 * - at the start, the weights, the optimizer state and the shuffling
 *   generator are copied from process 0 (the chief) to all;
 * - each step, the gradients of the processes' shares are summed with
 *   MPI_Allreduce in fused buckets of a few MB (kc_strategy_set_bucket_bytes),
 *   every process applies the same update;
 * - BatchNormalization uses the statistics of the global batch (Keras'
 *   synchronized=True), so N processes train as one;
 * - the streaming metrics' state variables are summed each step, so every
 *   process logs the same numbers and returns the same History;
 * - the progress bar and CSVLogger run on the chief only; ModelCheckpoint
 *   writes one ordinary Keras .h5 file (collectively with parallel HDF5,
 *   see kc_strategy_parallel_io, else from the chief); EarlyStopping,
 *   ReduceLROnPlateau, TerminateOnNaN and your callbacks run everywhere and
 *   decide the same from the same logs; the processes also agree on
 *   stopping after every batch;
 * - when one process fails (bad data, a full disk, an error in a callback)
 *   every process returns that process's error: the processes agree on
 *   their status at every collective operation, so none is left waiting.
 * kc_strategy_evaluate does the same for evaluate; predict,
 * train_on_batch and test_on_batch run on each process alone. Dropout masks differ from a
 * single process's (each process draws for its share).
 *
 * The building blocks below serve custom training loops (Horovod's
 * broadcast_variables, allreduce, DistributedOptimizer, MetricAverage). All
 * kc_strategy functions taking a strategy are collective: every process of
 * the communicator calls them in the same order. */
#ifndef CKERAS_DISTRIBUTED_H
#define CKERAS_DISTRIBUTED_H

#include "autodiff.h"
#include "defs.h"
#include "error.h"
#include "io.h"
#include "object.h"
#include "tensor.h"
#include "trainer.h"

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

KC_BEGIN_DECLS

typedef struct kc_strategy kc_strategy;

/* A strategy over the processes of comm (duplicated: ckeras' messages never
 * mix with yours). MPI must be initialized. Collective.
 * Returns: the strategy (free with kc_strategy_free), or NULL. */
KC_API KC_NODISCARD kc_strategy *kc_strategy_new(MPI_Comm comm, kc_error *err);
/* Collective (frees the communicator); call before MPI_Finalize. NULL-safe. */
KC_API void kc_strategy_free(kc_strategy *s);
/* This process's rank (0: the chief) and the number of processes (Keras'
 * num_replicas_in_sync). */
KC_API int kc_strategy_rank(const kc_strategy *s);
KC_API int kc_strategy_num_replicas(const kc_strategy *s);
/* The strategy's own communicator. Borrowed. */
KC_API MPI_Comm kc_strategy_comm(const kc_strategy *s);
/* Gradients are summed in buckets of at most this many bytes (default
 * 4 MiB; a variable larger than that is a bucket of its own). */
KC_API void kc_strategy_set_bucket_bytes(kc_strategy *s, int64_t bytes);

/* Keras' Model.fit and Model.evaluate on every process of the strategy
 * (kc_model_fit, kc_model_evaluate): every process calls them with the
 * same arguments and data; each trains or evaluates on its share of every
 * batch, and all return the same History / logs, or the same error.
 * Collective. */
KC_API KC_NODISCARD kc_status kc_strategy_fit(kc_strategy *s, kc_object *model, const kc_fit_args *args,
                                              kc_history **history, kc_error *err);
KC_API KC_NODISCARD kc_status kc_strategy_evaluate(kc_strategy *s, kc_object *model, const kc_fit_args *args,
                                                   kc_logs **logs, kc_error *err);

/* --- building blocks ------------------------------------------------------------------- */

/* This process's share of a batch of `count` samples: rows [*offset,
 * *offset + *n); shares differ by at most one sample. Not collective. */
KC_API void kc_strategy_shard(const kc_strategy *s, int64_t count, int64_t *offset, int64_t *n);
/* Every process passes its status; all return KC_OK when all succeeded,
 * else the error of the lowest-ranked process that failed (in err). */
KC_API KC_NODISCARD kc_status kc_strategy_agree(kc_strategy *s, kc_status local, kc_error *err);
/* Copy the values of vars from the chief to every process. */
KC_API KC_NODISCARD kc_status kc_strategy_broadcast_variables(kc_strategy *s, kc_variable *const *vars,
                                                              int n, kc_error *err);
/* Make every process's model the chief's: every weight (build the model
 * first), the optimizer's state (its slots created where only the chief
 * has them), its learning rate, and the global random generator. */
KC_API KC_NODISCARD kc_status kc_strategy_broadcast_model(kc_strategy *s, kc_object *model,
                                                          kc_error *err);
/* Sum (average: mean) float32 tensors over the processes, in place, in
 * fused buckets. Entries may be NULL only where they are NULL on every
 * process. */
KC_API KC_NODISCARD kc_status kc_strategy_allreduce(kc_strategy *s, kc_tensor *const *tensors, int n,
                                                    bool average, kc_error *err);
/* Sum the state variables of streaming metrics over the processes, in
 * place, so that kc_metric_result gives the global result everywhere (a
 * metric's state is a sum: totals, counts, confusion matrices). Call it
 * once per accumulation, before reading results. */
KC_API KC_NODISCARD kc_status kc_strategy_allreduce_metrics(kc_strategy *s, kc_object *const *metrics,
                                                            int n, kc_error *err);

/* --- checkpoints ------------------------------------------------------------------------- */

/* Save a whole model (or its weights) as one ordinary Keras .h5 file,
 * atomically: written by all processes together with parallel HDF5, else
 * by the chief. Every process returns the same status. */
KC_API KC_NODISCARD kc_status kc_strategy_save_model(kc_strategy *s, kc_object *model, const char *path,
                                                     const kc_save_options *opts, kc_error *err);
KC_API KC_NODISCARD kc_status kc_strategy_save_weights(kc_strategy *s, kc_object *model,
                                                       const char *path, const kc_save_options *opts,
                                                       kc_error *err);
/* Load a model on every process: the chief reads the file and sends the
 * config, weights and optimizer state to the others (which need not see
 * the file). Returns: a new reference on every process, or NULL on every
 * process with the chief's error. */
KC_API KC_NODISCARD kc_object *kc_strategy_load_model(kc_strategy *s, const char *path,
                                                      const kc_load_options *opts, kc_error *err);
/* True when this build writes checkpoints collectively (parallel HDF5). */
KC_API bool kc_strategy_parallel_io(void);

/* --- measuring communication --------------------------------------------------------------- */

typedef struct kc_strategy_stats {
    double seconds;        /* wall time spent in communication (waiting included) */
    double sync_seconds;   /* of which in status agreements: mostly waiting for the
                              slowest process to arrive */
    int64_t collectives;   /* collective operations (status agreements included) */
    int64_t bytes_reduced; /* payload bytes this process sent into all-reduces */
} kc_strategy_stats;
/* What the strategy has done since it was made or last reset. Not collective. */
KC_API kc_strategy_stats kc_strategy_get_stats(const kc_strategy *s);
KC_API void kc_strategy_reset_stats(kc_strategy *s);

KC_END_DECLS

#endif /* CKERAS_DISTRIBUTED_H */
