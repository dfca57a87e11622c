/* Sample 8: a training loop written by hand.
 *
 * What fit does, spelled out (the seed mentions custom training loops in
 * prose; this is the loop of the book it follows):
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
 * optimizer are used as building blocks; each step's tensors live in a
 * scope freed at the end of the step; the progress line is Keras' own
 * format (kc_progbar). Exit 1 unless the test accuracy reaches 90%.
 *
 * Lines: not a seed part (the seed describes custom training loops in prose only).
 *
 * Run: custom_training_loop DATA_DIR */
#include <ckeras.h>

#include "common/check.h"
#include "common/datasets.h"

#define BATCH 32
#define N_TRAIN 1300

/* random_batch: BATCH rows drawn at random (with replacement), as the book's
 * helper does; x and y get the same rows (kept in the scope s). */
static void random_batch(kc_scope *s, kc_tensor *x, kc_tensor *y, kc_tensor **xb, kc_tensor **yb)
{
    int64_t idx[BATCH];
    for (int i = 0; i < BATCH; i++) idx[i] = (int64_t)kc_rng_below(kc_global_rng(), (uint64_t)kc_tensor_dim(x, 0));
    kc_tensor *indices = kc_scope_take(s, kc_tensor_from_data(KC_INT64, 1, (int64_t[]){BATCH}, idx, &err));
    *xb = NN(kc_s_gather(s, x, indices, 0));
    *yb = NN(kc_s_gather(s, y, indices, 0));
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

    kc_object *model = NN(kc_sequential_new_take(
        NULL,
        (kc_object *[]){kc_layers_dense(&(kc_layers_dense_args){.units = 64, .activation = KC_NAME("relu"),
                                                                .input_shape = KC_SHAPE(64)},
                                        &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 10, .activation = KC_NAME("softmax")}, &err)},
        2, &err));
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
            kc_scope *s = NN(kc_scope_new(&err));
            kc_tensor *xb, *yb, *loss;
            random_batch(s, x_train, y_train, &xb, &yb);
            kc_tape *tape = NN(kc_tape_begin(0, &err));
            kc_tensor *y_pred = NN(kc_s_layer_call1(s, model, xb, true)); /* training=True */
            TRY(kc_model_compute_loss(model, &yb, 1, &y_pred, 1, NULL, &loss, &err));
            kc_scope_take(s, loss);
            kc_tape_end(tape);
            TRY(kc_tape_gradient(tape, loss, sources, n_vars, grads, &err));
            for (int i = 0; i < n_vars; i++) kc_scope_take(s, grads[i]);
            TRY(kc_optimizer_apply_gradients(optimizer, grads, vars, n_vars, &err));
            TRY(kc_model_update_metrics(model, &yb, 1, &y_pred, 1, NULL, &err));
            TRY(kc_model_metric_results(model, logs, &err)); /* loss (running mean) and accuracy */
            kc_progbar_update(bar, step, logs, step == n_steps);
            kc_tape_free(tape);
            kc_scope_free(s);
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
    check(accuracy >= 0.9, "the test accuracy reaches 90%");

    kc_logs_free(result);
    kc_logs_free(logs);
    kc_object_unref(model);
    kc_tensor *t[] = {x_train, y_train, x_test, y_test};
    for (int i = 0; i < 4; i++) kc_tensor_unref(t[i]);
    return failed;
}
