/* The main demo (`make demo`): train a classifier on the UCI handwritten
 * digits with a Keras-style progress bar, evaluate it, save it as a Keras
 * .h5 file, load it back and check that it predicts exactly the same; write
 * the test inputs and predictions as JSON so that TensorFlow.js can be
 * asked to confirm them (samples/demo.sh does, with keras-ref).
 *
 * Lines: not a seed part (the main demo).
 *
 *   digits_demo DATA_DIR OUT_DIR
 */
#include <ckeras.h>

#include "common/datasets.h"

#include <stdio.h>
#include <string.h>

static int fail(const char *what, const kc_error *err)
{
    fprintf(stderr, "digits_demo: %s: %s (%s)\n", what, err->message, err->context);
    return 1;
}

/* {"inputs": [x], "outputs": [y]} for `keras-ref check`. */
static int write_io(const char *path, kc_tensor *x, kc_tensor *y, kc_error *err)
{
    json_t *jx, *jy;
    if (kc_tensor_to_json(x, NULL, &jx, err) != KC_OK || kc_tensor_to_json(y, NULL, &jy, err) != KC_OK) return 1;
    json_t *root = json_pack("{s:[o], s:[o]}", "inputs", jx, "outputs", jy);
    int rc = root ? json_dump_file(root, path, JSON_REAL_PRECISION(9)) : -1;
    json_decref(root);
    return rc != 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: digits_demo DATA_DIR OUT_DIR\n");
        return 64;
    }
    kc_error err = {0};
    char model_path[4096], io_path[4096];
    snprintf(model_path, sizeof model_path, "%s/digits.h5", argv[2]);
    snprintf(io_path, sizeof io_path, "%s/digits.io.json", argv[2]);
    kc_set_random_seed(42);

    /* 1. data: 1797 8x8 digits, 1400 to train (10% of them for validation), 397 to test */
    kc_tensor *x_train, *y_train, *x_test, *y_test;
    if (ds_digits(argv[1], 1400, &x_train, &y_train, &x_test, &y_test, &err) != KC_OK) return fail("data", &err);

    /* 2. the model, as keras.Sequential([Input(64), Dense(64, relu), Dropout(0.1), Dense(10, softmax)]) */
    kc_object *model = kc_sequential_new_take(
        "digits",
        (kc_object *[]){kc_layers_input_layer(&(kc_layers_args){.name = "pixels", .input_shape = KC_SHAPE(64)}, &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 64, .activation = KC_NAME("relu")}, &err),
                        kc_layers_dropout(&(kc_layers_dropout_args){.rate = 0.1}, &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 10, .activation = KC_NAME("softmax"),
                                                                .name = "digit"},
                                        &err)},
        4, &err);
    if (!model) return fail("model", &err);
    /* model.compile(optimizer=Adam(0.005), loss="categorical_crossentropy", metrics=["accuracy"]) */
    kc_object *adam = kc_optimizers_adam(&(kc_optimizers_adam_args){.learning_rate = 0.005}, &err);
    if (kc_model_compile_specs(model,
                               &(kc_compile_specs){.optimizer = KC_OBJECT(adam),
                                                   .loss = KC_NAME("categorical_crossentropy"),
                                                   .metrics = {KC_NAME("accuracy")}},
                               &err) != KC_OK)
        return fail("compile", &err);
    kc_object_unref(adam);
    char *summary = kc_model_summary(model, &err);
    if (!summary) return fail("summary", &err);
    fputs(summary, stdout);
    kc_string_free(summary);

    /* 3. fit with a progress bar, as model.fit(..., verbose=1) */
    kc_fit_args fit = {.x = &x_train, .n_x = 1, .y = &y_train, .n_y = 1, .batch_size = 32, .epochs = 12,
                       .validation_split = 0.1, .verbose = 1};
    kc_history *history;
    if (kc_model_fit(model, &fit, &history, &err) != KC_OK) return fail("fit", &err);
    int last = kc_history_num_epochs(history) - 1;
    printf("\nafter %d epochs: accuracy %.4f, val_accuracy %.4f\n", last + 1,
           kc_history_values(history, "accuracy")[last], kc_history_values(history, "val_accuracy")[last]);
    kc_history_free(history);

    /* 4. evaluate on the held-out digits */
    kc_fit_args test = {.x = &x_test, .n_x = 1, .y = &y_test, .n_y = 1, .verbose = 1};
    kc_logs *logs;
    if (kc_model_evaluate(model, &test, &logs, &err) != KC_OK) return fail("evaluate", &err);
    double acc = 0;
    kc_logs_get(logs, "accuracy", &acc);
    kc_logs_free(logs);
    printf("test accuracy: %.4f on %lld digits\n", acc, (long long)kc_tensor_dim(x_test, 0));

    /* 5. save (Keras 2 .h5: model_config, weights, training_config, optimizer state) */
    if (kc_model_save(model, model_path, NULL, &err) != KC_OK) return fail("save", &err);
    printf("saved %s\n", model_path);

    /* 6. load it back: the same predictions, bit for bit */
    kc_object *loaded = kc_model_load(model_path, NULL, &err);
    if (!loaded) return fail("load", &err);
    kc_tensor *p1, *p2;
    int n1, n2;
    if (kc_model_predict(model, &x_test, 1, 64, &p1, &n1, &err) != KC_OK ||
        kc_model_predict(loaded, &x_test, 1, 64, &p2, &n2, &err) != KC_OK)
        return fail("predict", &err);
    bool same = memcmp(kc_tensor_cdata(p1), kc_tensor_cdata(p2), kc_tensor_nbytes(p1)) == 0;
    printf("loaded %s: predictions %s\n", model_path, same ? "identical" : "DIFFERENT");
    if (write_io(io_path, x_test, p2, &err) != 0) return fail("writing the predictions", &err);

    kc_tensor_unref(p1);
    kc_tensor_unref(p2);
    kc_object_unref(loaded);
    kc_object_unref(model);
    kc_tensor *t[4] = {x_train, y_train, x_test, y_test};
    for (int i = 0; i < 4; i++) kc_tensor_unref(t[i]);
    kc_release_caches();
    return same && acc >= 0.95 ? 0 : 1;
}
