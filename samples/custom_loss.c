/* Sample 1: a custom loss function.
 *
 * The seed's huber(y_true, y_pred), written with the scoped ops of
 * scoped_ops.h (each result is kept by the scope s, so nothing is unref'd
 * by hand) so that gradient tapes differentiate it. compile() finds it by
 * name through custom_objects (Keras' custom_objects={"huber": huber}),
 * and fit trains a small regression on the diabetes data set. The program
 * prints the loss of every epoch and fails (exit 1) unless it went down.
 *
 * Lines: huber C 9, Python 7 (1.3x)
 *
 * Run: custom_loss DATA_DIR   (DATA_DIR = samples/data) */
#include <ckeras.h>

#include "common/check.h"
#include "common/datasets.h"

/* seed: huber */
static kc_tensor *huber(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *e)
{
    kc_scope *s = kc_scope_new(e);
    kc_tensor *error = kc_s_sub(s, y_true, y_pred);
    kc_tensor *se = kc_s_less_scalar(s, kc_s_abs(s, error), 1);
    kc_tensor *sq_loss = kc_s_div_scalar(s, kc_s_square(s, error), 2);
    kc_tensor *linear_loss = kc_s_sub_scalar(s, kc_s_abs(s, error), 0.5f);
    return kc_scope_return(s, kc_s_where(s, se, sq_loss, linear_loss));
}
/* seed: end */

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
    kc_object *model = NN(kc_sequential_new_take(
        NULL,
        (kc_object *[]){kc_layers_dense(&(kc_layers_dense_args){.units = 30, .activation = KC_NAME("relu"),
                                                                .input_shape = KC_SHAPE(10)},
                                        &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 1}, &err)},
        2, &err));

    /* model.compile(loss=huber, optimizer="nadam", metrics=["mae"]) */
    kc_custom_objects *custom = NN(kc_custom_objects_new(&err));
    TRY(kc_custom_objects_add_function(custom, KC_KIND_LOSS, "huber", KC_FN(huber), NULL, NULL, &err));
    TRY(kc_model_compile(model, "{\"optimizer\": \"nadam\", \"loss\": \"huber\", \"metrics\": [\"mae\"]}", custom,
                         &err));

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
    check(went_down >= epochs - 3 && loss[epochs - 1] < 0.7 * loss[0], "the Huber loss went down");
    printf("  from %.4f to %.4f\n", loss[0], loss[epochs - 1]);

    kc_history_free(history);
    kc_custom_objects_free(custom);
    kc_object_unref(model);
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    return failed;
}
