/* bench/allreduce: what data-parallel training spends on communication.
 * One epoch of kc_model_fit with a kc_strategy on the MLP 784-512-256-10
 * of bench_train_mlp (global batch 256, SGD), on the processes of
 * `mpirun`, after a warm-up epoch; against, in the same run, bare
 * MPI_Allreduce calls of the same bytes (the floor for summing that much
 * data here). Prints, for process 0:
 *
 *   step_ms: T                 wall time per training step
 *   comm_ms_per_step: C        time inside the strategy's collectives
 *                              (waiting for the slower process included,
 *                              and shown apart: the status agreements)
 *   bytes_per_step: B          gradient bytes each process contributes
 *   bare_allreduce_ms: R       MPI_Allreduce of B bytes, alone
 *   ratio_comm_vs_bare: C/R
 *   comm_fraction: C/T
 *   comm_fraction_largest_process: the same for the process that waited most
 *   cpu_per_wall: CPU time over wall time of process 0 during the fit:
 *                              well below 1 when the machine is busy
 *
 *   mpirun -np 2 build/bench/bench_allreduce [steps [bucket_bytes]]
 *
 * On one machine the processes share its cores and memory bus: this
 * measures ckeras' overhead (bucketing, status agreements, metric sums),
 * not how training scales across machines -- README "Training on several
 * machines" works that out from bytes_per_step. */
#define _POSIX_C_SOURCE 200809L
#include <ckeras.h>
#include <ckeras/distributed.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const int dims[4] = {784, 512, 256, 10};

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static void die(const char *what, const kc_error *err)
{
    fprintf(stderr, "bench/allreduce: %s: %s (%s)\n", what, err->message, err->context);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

static kc_object *build(kc_error *err)
{
    kc_object *m = kc_sequential_new(NULL, err), *l = kc_input_layer(1, (int64_t[]){dims[0]}, NULL, err);
    if (!m || !l || kc_sequential_add(m, l, err) != KC_OK) die("model", err);
    kc_object_unref(l);
    for (int i = 1; i < 4; i++) {
        char cfg[100];
        snprintf(cfg, sizeof cfg, "{\"units\": %d, \"activation\": \"%s\"}", dims[i], i < 3 ? "relu" : "softmax");
        l = kc_layer_create("Dense", cfg, err);
        if (!l || kc_sequential_add(m, l, err) != KC_OK) die("layer", err);
        kc_object_unref(l);
    }
    if (kc_model_compile(m, "{\"optimizer\": {\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 0.01}},"
                            " \"loss\": \"categorical_crossentropy\"}", NULL, err) != KC_OK)
        die("compile", err);
    return m;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    kc_error err = {0};
    int steps = argc > 1 ? atoi(argv[1]) : 20;
    if (steps < 2) steps = 2;
    const int64_t batch = 256, n = batch * steps;
    kc_set_num_threads(1);
    kc_strategy *s = kc_strategy_new(MPI_COMM_WORLD, &err);
    if (!s) die("strategy", &err);
    if (argc > 2) kc_strategy_set_bucket_bytes(s, atoll(argv[2]));
    int rank = kc_strategy_rank(s), size = kc_strategy_num_replicas(s);

    kc_set_random_seed(1);
    kc_tensor *x = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){n, dims[0]}, &err);
    kc_tensor *y = kc_tensor_zeros(KC_FLOAT32, 2, (int64_t[]){n, dims[3]}, &err);
    if (!x || !y) die("data", &err);
    kc_rng_fill_uniform(kc_global_rng(), kc_tensor_f32(x), (size_t)kc_tensor_size(x), 0, 1);
    for (int64_t i = 0; i < n; i++) kc_tensor_f32(y)[i * dims[3] + i % dims[3]] = 1;
    kc_object *m = build(&err);

    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = batch, .epochs = 1};
    if (kc_strategy_fit(s, m, &a, NULL, &err) != KC_OK) die("warm-up fit", &err); /* also builds and replicates */
    kc_strategy_reset_stats(s);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (kc_strategy_fit(s, m, &a, NULL, &err) != KC_OK) die("fit", &err);
    double elapsed = now() - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    kc_strategy_stats st = kc_strategy_get_stats(s);

    /* the floor: the same bytes through bare MPI_Allreduce, as many times */
    int64_t params = kc_layer_count_params(m);
    float *buf = calloc((size_t)params, sizeof(float));
    MPI_Barrier(MPI_COMM_WORLD);
    double b0 = now();
    for (int i = 0; i < steps; i++) MPI_Allreduce(MPI_IN_PLACE, buf, (int)params, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double bare = (now() - b0) / steps;
    free(buf);

    /* the fit's time includes the start (replication, checks): per step,
     * as the fraction of the whole */
    double step = elapsed / steps, comm = st.seconds / steps, frac = st.seconds / elapsed, worst = 0;
    MPI_Reduce(&frac, &worst, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("bench_allreduce: MLP 784-512-256-10 (%lld parameters), global batch %lld, %d processes, %d steps\n",
               (long long)params, (long long)batch, size, steps);
        printf("step_ms: %.2f\ncomm_ms_per_step: %.3f (waiting for the other processes: %.3f)\n"
               "bytes_per_step: %lld\ncollectives_per_step: %.1f\n",
               1e3 * step, 1e3 * comm, 1e3 * st.sync_seconds / steps, (long long)(st.bytes_reduced / steps),
               (double)st.collectives / steps);
        printf("bare_allreduce_ms: %.3f\nratio_comm_vs_bare: %.2f\n", 1e3 * bare, comm / bare);
        printf("comm_fraction: %.3f\ncomm_fraction_largest_process: %.3f\n", frac, worst);
        /* below 1: the processes waited for a core (a busy machine) */
        printf("cpu_per_wall: %.2f\n", cpu / elapsed);
    }
    kc_object_unref(m);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    kc_strategy_free(s);
    kc_release_caches();
    MPI_Finalize();
    return 0;
}
