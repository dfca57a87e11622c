/* Sample 1: a custom loss function.
 *
 * The seed's huber_fn, written with ckeras ops so that gradient tapes
 * differentiate it:
 *
 *     def huber_fn(y_true, y_pred):
 *         error = y_true - y_pred
 *         is_small_error = tf.abs(error) < 1
 *         squared_loss = tf.square(error) / 2
 *         linear_loss  = tf.abs(error) - 0.5
 *         return tf.where(is_small_error, squared_loss, linear_loss)
 *
 * compile() finds it by name through custom_objects (as Keras'
 * custom_objects={"huber_fn": huber_fn}), and fit trains a small regression
 * on the diabetes data set. The program prints the loss of every epoch and
 * fails (exit 1) unless the loss went down.
 *
 * Run: custom_loss DATA_DIR   (DATA_DIR = samples/data) */
#include <ckeras.h>

#include "common/datasets.h"

#include <stdio.h>
#include <stdlib.h>

static kc_error err;

static void die(const char *where)
{
    char buf[1024];
    fprintf(stderr, "custom_loss: %s: %s\n", where, kc_error_format(&err, buf, sizeof buf));
    exit(1);
}
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) != KC_OK) die(#call);                                                           \
    } while (0)

/* A loss function gets y_true and y_pred and returns the per-sample loss
 * (reduced over the last axis); the trainer averages it over the batch. */
static kc_tensor *huber_fn(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *e)
{
    (void)params;
    kc_scope *s = kc_scope_new(e); /* frees the intermediates at the end */
    kc_tensor *error = kc_scope_take(s, kc_sub(y_true, y_pred, e));
    kc_tensor *abs_error = kc_scope_take(s, kc_abs(error, e));
    kc_tensor *is_small = kc_scope_take(s, kc_less_scalar(abs_error, 1.0f, e));
    kc_tensor *squared = kc_scope_take(s, kc_mul_scalar(kc_scope_take(s, kc_square(error, e)), 0.5f, e));
    kc_tensor *linear = kc_scope_take(s, kc_sub_scalar(abs_error, 0.5f, e));
    kc_tensor *loss = kc_scope_take(s, kc_where(is_small, squared, linear, e));
    int last = -1;
    kc_tensor *per_sample = kc_reduce_mean(loss, &last, 1, false, e); /* NULL if anything failed */
    kc_scope_free(s);
    return per_sample;
}

static kc_object *dense(const char *config)
{
    kc_object *layer = kc_layer_create("Dense", config, &err);
    if (!layer) die(config);
    return layer;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    kc_set_random_seed(42);
    kc_tensor *x, *y;
    TRY(ds_diabetes(argv[1], &x, &y, &err)); /* x [442, 10] standardized, y [442, 1] */

    /* model = keras.Sequential([Dense(30, "relu", input_shape=[10]), Dense(1)]) */
    kc_object *model = kc_sequential_new(NULL, &err);
    kc_object *layers[3] = {kc_input_layer(1, (int64_t[]){10}, NULL, &err),
                            dense("{\"units\": 30, \"activation\": \"relu\"}"), dense("{\"units\": 1}")};
    for (int i = 0; i < 3; i++) {
        TRY(kc_sequential_add(model, layers[i], &err));
        kc_object_unref(layers[i]);
    }

    /* model.compile(loss=huber_fn, optimizer="nadam", metrics=["mae"]) */
    kc_custom_objects *custom = kc_custom_objects_new(&err);
    if (!custom) die("kc_custom_objects_new");
    TRY(kc_custom_objects_add_function(custom, KC_KIND_LOSS, "huber_fn", KC_FN(huber_fn), NULL, NULL, &err));
    TRY(kc_model_compile(model, "{\"optimizer\": \"nadam\", \"loss\": \"huber_fn\", \"metrics\": [\"mae\"]}",
                         custom, &err));

    /* model.fit(x, y, epochs=10): verbose 0, we print the History ourselves */
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 32, .epochs = 10};
    kc_history *history;
    TRY(kc_model_fit(model, &fit, &history, &err));
    const double *loss = kc_history_values(history, "loss"), *mae = kc_history_values(history, "mae");
    int epochs = kc_history_num_epochs(history), went_down = 0;
    for (int e = 0; e < epochs; e++) {
        printf("epoch %2d/%d - loss: %.4f - mae: %.4f\n", e + 1, epochs, loss[e], mae[e]);
        went_down += e > 0 && loss[e] < loss[e - 1];
    }

    /* the loss fell in most epochs and ended well below where it started */
    int failed = 0;
    if (went_down < epochs - 3 || !(loss[epochs - 1] < 0.7 * loss[0])) {
        fprintf(stderr, "FAIL: the Huber loss did not go down (%.4f -> %.4f, %d/%d epochs down)\n", loss[0],
                loss[epochs - 1], went_down, epochs - 1);
        failed = 1;
    } else {
        printf("the Huber loss went down from %.4f to %.4f\n", loss[0], loss[epochs - 1]);
    }

    kc_history_free(history);
    kc_custom_objects_free(custom);
    kc_object_unref(model);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    return failed;
}
