/* Sample 8: a training loop written by hand.
 *
 * What fit does, spelled out (the seed's "custom training loop"):
 *
 *     for epoch in range(1, n_epochs + 1):
 *         for step in range(1, n_steps + 1):
 *             X_batch, y_batch = random_batch(X_train, y_train)
 *             with tf.GradientTape() as tape:
 *                 y_pred = model(X_batch, training=True)
 *                 loss = model.compute_loss(y=y_batch, y_pred=y_pred)  # + model.losses
 *             gradients = tape.gradient(loss, model.trainable_variables)
 *             optimizer.apply_gradients(zip(gradients, model.trainable_variables))
 *             metrics update; progress bar
 *         reset the metrics
 *
 * on UCI digits (an MLP 64-64-10). The compiled loss, metrics and
 * optimizer are used as building blocks; the progress line is Keras' own
 * format (kc_progbar). Exit 1 unless the test accuracy reaches 90%.
 *
 * Run: custom_training_loop DATA_DIR */
#include <ckeras.h>

#include "common/datasets.h"

#include <stdio.h>
#include <stdlib.h>

static kc_error err;

static void die(const char *where)
{
    char buf[1024];
    fprintf(stderr, "custom_training_loop: %s: %s\n", where, kc_error_format(&err, buf, sizeof buf));
    exit(1);
}
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) != KC_OK) die(#call);                                                           \
    } while (0)
static void *nn(void *p, const char *where)
{
    if (!p) die(where);
    return p;
}
#define NN(call) nn((call), #call)

#define BATCH 32
#define N_TRAIN 1300

/* random_batch: BATCH rows drawn at random (with replacement), as the seed's
 * helper does; x and y get the same rows. */
static void random_batch(kc_tensor *x, kc_tensor *y, kc_tensor **xb, kc_tensor **yb)
{
    int64_t idx[BATCH];
    for (int i = 0; i < BATCH; i++) idx[i] = (int64_t)kc_rng_below(kc_global_rng(), (uint64_t)kc_tensor_dim(x, 0));
    kc_tensor *indices = NN(kc_tensor_from_data(KC_INT64, 1, (int64_t[]){BATCH}, idx, &err));
    *xb = NN(kc_gather(x, indices, 0, &err));
    *yb = NN(kc_gather(y, indices, 0, &err));
    kc_tensor_unref(indices);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    kc_set_random_seed(42);
    kc_tensor *x_train, *y_train, *x_test, *y_test;
    TRY(ds_digits(argv[1], N_TRAIN, &x_train, &y_train, &x_test, &y_test, &err));

    kc_object *model = NN(kc_sequential_new(NULL, &err));
    kc_object *layers[3] = {NN(kc_input_layer(1, (int64_t[]){64}, NULL, &err)),
                            NN(kc_layer_create("Dense", "{\"units\": 64, \"activation\": \"relu\"}", &err)),
                            NN(kc_layer_create("Dense", "{\"units\": 10, \"activation\": \"softmax\"}", &err))};
    for (int i = 0; i < 3; i++) {
        TRY(kc_sequential_add(model, layers[i], &err));
        kc_object_unref(layers[i]);
    }
    /* compile: the loop uses its loss, metrics and optimizer */
    TRY(kc_model_compile(model,
                         "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.005}},"
                         " \"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\"]}",
                         NULL, &err));
    kc_object *optimizer = kc_model_optimizer(model);

    /* model.trainable_variables, and their values as gradient sources */
    int n_vars = kc_layer_num_trainable_weights(model);
    kc_variable *vars[8];
    kc_tensor *sources[8], *grads[8];
    for (int i = 0; i < n_vars; i++) sources[i] = kc_variable_value(vars[i] = kc_layer_trainable_weight(model, i));

    const int n_epochs = 5, n_steps = N_TRAIN / BATCH;
    kc_logs *logs = NN(kc_logs_new(&err));
    for (int epoch = 1; epoch <= n_epochs; epoch++) {
        printf("Epoch %d/%d\n", epoch, n_epochs);
        kc_progbar *bar = NN(kc_progbar_new(n_steps, 1, stdout, &err));
        for (int step = 1; step <= n_steps; step++) {
            kc_tensor *xb, *yb, *y_pred, *loss;
            random_batch(x_train, y_train, &xb, &yb);
            kc_tape *tape = NN(kc_tape_begin(0, &err));
            y_pred = NN(kc_layer_call1(model, xb, true, &err)); /* training=True */
            TRY(kc_model_compute_loss(model, &yb, 1, &y_pred, 1, NULL, &loss, &err));
            kc_tape_end(tape);
            TRY(kc_tape_gradient(tape, loss, sources, n_vars, grads, &err));
            TRY(kc_optimizer_apply_gradients(optimizer, grads, vars, n_vars, &err));
            TRY(kc_model_update_metrics(model, &yb, 1, &y_pred, 1, NULL, &err));
            TRY(kc_model_metric_results(model, logs, &err)); /* loss (running mean) and accuracy */
            kc_progbar_update(bar, step, logs, step == n_steps);
            for (int i = 0; i < n_vars; i++) kc_tensor_unref(grads[i]);
            kc_tape_free(tape);
            kc_tensor *done[] = {xb, yb, y_pred, loss};
            for (int i = 0; i < 4; i++) kc_tensor_unref(done[i]);
        }
        kc_progbar_free(bar);
        TRY(kc_model_reset_metrics(model, &err)); /* for metric in [mean_loss] + metrics: reset_state() */
    }

    /* how well did it learn? */
    kc_fit_args test = {.x = &x_test, .n_x = 1, .y = &y_test, .n_y = 1};
    kc_logs *result;
    TRY(kc_model_evaluate(model, &test, &result, &err));
    double accuracy = 0;
    kc_logs_get(result, "accuracy", &accuracy);
    printf("test accuracy: %.4f (%lld digits)\n", accuracy, (long long)kc_tensor_dim(x_test, 0));
    int failed = !(accuracy >= 0.9);
    if (failed) fprintf(stderr, "FAIL: test accuracy %.4f < 0.90\n", accuracy);

    kc_logs_free(result);
    kc_logs_free(logs);
    kc_object_unref(model);
    kc_tensor *t[] = {x_train, y_train, x_test, y_test};
    for (int i = 0; i < 4; i++) kc_tensor_unref(t[i]);
    return failed;
}
