/* Data-parallel training on several processes (MPI): the digits classifier
 * of the demo trained by every process of `mpirun`, each on its share of
 * every batch, then trained again by process 0 alone to show that the
 * processes together train exactly as one does (same global batch of 32,
 * same seed): the last line is the largest difference between the two
 * models' weights.
 *
 *   mpirun -np 2 build/samples/data_parallel [DATA_DIR [OUT_DIR]]
 *
 * The model is the demo's without its Dropout layer: each process draws the
 * dropout mask of its own share, so with dropout N processes train like one
 * only statistically. Every process calls the same functions with the same
 * data; only process 0 prints.
 *
 * Lines: not a seed part (distributed training). */
#include <ckeras.h>
#include <ckeras/distributed.h>

#include "common/datasets.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef SAMPLE_DATA_DIR
#define SAMPLE_DATA_DIR "samples/data"
#endif

static int rank;

static int fail(const char *what, const kc_error *err)
{
    fprintf(stderr, "data_parallel (process %d): %s: %s (%s)\n", rank, what, err->message, err->context);
    MPI_Finalize();
    return 1;
}

/* keras.Sequential([Input(64), Dense(64, relu), Dense(10, softmax)]), Adam. */
static kc_object *digits_model(kc_error *err)
{
    kc_clear_session();
    kc_set_random_seed(42);
    kc_object *model = kc_sequential_new_take(
        "digits",
        (kc_object *[]){kc_layers_input_layer(&(kc_layers_args){.name = "pixels", .input_shape = KC_SHAPE(64)}, err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 64, .activation = KC_NAME("relu")}, err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 10, .activation = KC_NAME("softmax"),
                                                                .name = "digit"},
                                        err)},
        3, err);
    kc_object *adam = kc_optimizers_adam(&(kc_optimizers_adam_args){.learning_rate = 0.005}, err);
    kc_status rc = model && adam ? kc_model_compile_specs(model,
                                                          &(kc_compile_specs){.optimizer = KC_OBJECT(adam),
                                                                              .loss = KC_NAME("categorical_crossentropy"),
                                                                              .metrics = {KC_NAME("accuracy")}},
                                                          err)
                                 : KC_EINVAL;
    kc_object_unref(adam);
    if (rc != KC_OK) {
        kc_object_unref(model);
        return NULL;
    }
    return model;
}

static void print_history(const kc_history *h)
{
    printf("\nHistory (the same on every process):\n%-6s", "epoch");
    for (int k = 0; k < kc_history_num_keys(h); k++) printf(" %14s", kc_history_key(h, k));
    printf("\n");
    for (int e = 0; e < kc_history_num_epochs(h); e++) {
        printf("%-6d", kc_history_epochs(h)[e] + 1);
        for (int k = 0; k < kc_history_num_keys(h); k++) printf(" %14.6f", kc_history_values(h, kc_history_key(h, k))[e]);
        printf("\n");
    }
}

static double max_abs_diff(kc_object *a, kc_object *b)
{
    double worst = 0;
    for (int i = 0; i < kc_layer_num_weights(a); i++) {
        const kc_tensor *x = kc_variable_value(kc_layer_weight(a, i)), *y = kc_variable_value(kc_layer_weight(b, i));
        for (int64_t j = 0; j < kc_tensor_size(x); j++) worst = fmax(worst, fabs(kc_tensor_get(x, j) - kc_tensor_get(y, j)));
    }
    return worst;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    kc_error err = {0};
    const char *data_dir = argc > 1 ? argv[1] : SAMPLE_DATA_DIR, *out_dir = argc > 2 ? argv[2] : ".";

    /* 1. the strategy: every process of MPI_COMM_WORLD trains together */
    kc_strategy *strategy = kc_strategy_new(MPI_COMM_WORLD, &err);
    if (!strategy) return fail("strategy", &err);
    rank = kc_strategy_rank(strategy);
    int n = kc_strategy_num_replicas(strategy);

    /* 2. every process loads the same data and builds the same model */
    kc_tensor *x_train, *y_train, *x_test, *y_test;
    if (ds_digits(data_dir, 1400, &x_train, &y_train, &x_test, &y_test, &err) != KC_OK) return fail("data", &err);
    kc_object *model = digits_model(&err);
    if (!model) return fail("model", &err);

    /* 3. fit on all processes: batch_size is the global batch, each process
     *    takes 32/N samples of every batch; process 0 shows the epochs */
    if (rank == 0) printf("training on %d processes (%s checkpoints)\n", n, kc_strategy_parallel_io() ? "collective" : "process-0");
    fflush(stdout);
    kc_fit_args fit = {.x = &x_train, .n_x = 1, .y = &y_train, .n_y = 1, .batch_size = 32, .epochs = 8,
                       .validation_split = 0.1, .verbose = 2};
    kc_history *history;
    if (kc_strategy_fit(strategy, model, &fit, &history, &err) != KC_OK) return fail("fit", &err);

    /* 4. evaluate on all processes, save one checkpoint for all */
    kc_fit_args test = {.x = &x_test, .n_x = 1, .y = &y_test, .n_y = 1};
    kc_logs *logs;
    if (kc_strategy_evaluate(strategy, model, &test, &logs, &err) != KC_OK) return fail("evaluate", &err);
    double acc = 0;
    kc_logs_get(logs, "accuracy", &acc);
    kc_logs_free(logs);
    char path[4096];
    snprintf(path, sizeof path, "%s/digits_data_parallel.h5", out_dir);
    if (kc_strategy_save_model(strategy, model, path, NULL, &err) != KC_OK) return fail("save", &err);

    /* 5. process 0 trains the same model alone, for the comparison */
    int status = 0;
    if (rank == 0) {
        print_history(history);
        printf("test accuracy: %.4f; saved %s\n", acc, path);
        kc_object *alone = digits_model(&err);
        fit.verbose = 0;
        if (!alone || kc_model_fit(alone, &fit, NULL, &err) != KC_OK) return fail("one-process fit", &err);
        double diff = max_abs_diff(model, alone);
        printf("max_abs_diff_vs_1_process: %.3g\n", diff);
        status = diff <= 1e-4 && acc >= 0.9 ? 0 : 1;
        kc_object_unref(alone);
    }
    /* everyone returns process 0's verdict */
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);

    kc_history_free(history);
    kc_object_unref(model);
    kc_tensor *t[4] = {x_train, y_train, x_test, y_test};
    for (int i = 0; i < 4; i++) kc_tensor_unref(t[i]);
    kc_strategy_free(strategy);
    kc_release_caches();
    MPI_Finalize();
    return status;
}
