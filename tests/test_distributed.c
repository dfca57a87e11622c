/* Data-parallel training on MPI (<ckeras/distributed.h>), run by meson
 * under `mpirun -np 2` and `-np 3` (tests/mpirun.sh). Each case trains on
 * every process with the strategy, then trains the same model alone on
 * each process (the one-process reference, same seed, same global batch)
 * and compares: History and final weights within 1e-5 relative for an MLP,
 * a CNN with BatchNormalization and an LSTM; checkpoints; errors raised on
 * one process reaching all; the building blocks of custom loops.
 *
 * Check runs without forking (MPI and fork do not mix), and an alarm ends
 * the program if a collective ever hangs: a hang is a failure, never a
 * wait for meson's timeout.
 *
 *   test_distributed                     the suite
 *   test_distributed --checkpoint DIR    only write DIR/dist.h5 (from a
 *                                        distributed fit) and DIR/dist.io.json
 *                                        for test_distributed_conformance */
#define _POSIX_C_SOURCE 200809L
#include "seed_classes.h"
#include "testutil.h"

#include <ckeras/distributed.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static kc_error err;
static kc_strategy *strategy;
static int rank, size;

static void watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "test_distributed: a test hung (alarm), aborting all processes\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(3);
    MPI_Abort(MPI_COMM_WORLD, 3);
    _exit(3);
}

static void setup(void)
{
    kc_error_clear(&err);
    alarm(100);
}

static void teardown(void) { alarm(0); }

/* ---- models ------------------------------------------------------------------------------------- */

typedef enum { MLP, CNN_BN, LSTM } model_kind;

static kc_object *add_all(kc_object *m, kc_object **layers, int n)
{
    for (int i = 0; i < n; i++) {
        CK_NN(layers[i], err);
        CK_OK(kc_sequential_add(m, layers[i], &err));
        kc_object_unref(layers[i]);
    }
    return m;
}

/* The same model on every process and in the reference: same seed. */
static kc_object *build(model_kind k, uint64_t seed)
{
    kc_clear_session(); /* the same layer names too */
    kc_set_random_seed(seed);
    kc_object *m = kc_sequential_new("m", &err);
    CK_NN(m, err);
    const char *spec = NULL;
    if (k == MLP) {
        kc_object *l[] = {
            kc_input_layer(1, (int64_t[]){8}, "x", &err),
            kc_layer_create("Dense", "{\"units\": 16, \"activation\": \"relu\"}", &err),
            kc_layer_create("Dense", "{\"units\": 3, \"activation\": \"softmax\"}", &err),
        };
        add_all(m, l, 3);
        spec = "{\"optimizer\": {\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 0.1, \"momentum\": 0.9}},"
               " \"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\", \"AUC\"]}";
    } else if (k == CNN_BN) {
        kc_object *l[] = {
            kc_input_layer(3, (int64_t[]){6, 6, 2}, "img", &err),
            /* no bias before BatchNormalization (it cancels it; Adam would turn
             * the rounding noise of its zero gradient into steps) */
            kc_layer_create("Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"use_bias\": false}", &err),
            kc_layer_create("BatchNormalization", NULL, &err),
            kc_layer_create("Activation", "{\"activation\": \"relu\"}", &err),
            kc_layer_create("Flatten", NULL, &err),
            kc_layer_create("Dense", "{\"units\": 3, \"activation\": \"softmax\"}", &err),
        };
        add_all(m, l, 6);
        spec = "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.01}},"
               " \"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\"]}";
    } else {
        kc_object *l[] = {
            kc_input_layer(2, (int64_t[]){5, 3}, "seq", &err),
            kc_layer_create("LSTM", "{\"units\": 6}", &err),
            kc_layer_create("Dense", "{\"units\": 1}", &err),
        };
        add_all(m, l, 3);
        spec = "{\"optimizer\": {\"class_name\": \"RMSprop\", \"config\": {\"learning_rate\": 0.01}},"
               " \"loss\": \"mse\", \"metrics\": [\"mae\"]}";
    }
    CK_OK(kc_model_compile(m, spec, NULL, &err));
    return m;
}

/* Inputs and one-hot (or regression) targets, the same on every process. */
static void data(model_kind k, int64_t n, uint64_t seed, kc_tensor **x, kc_tensor **y)
{
    if (k == MLP) *x = tu_random(2, (int64_t[]){n, 8}, -1, 1, seed);
    else if (k == CNN_BN) *x = tu_random(4, (int64_t[]){n, 6, 6, 2}, -1, 1, seed);
    else *x = tu_random(3, (int64_t[]){n, 5, 3}, -1, 1, seed);
    int64_t classes = k == LSTM ? 1 : 3;
    *y = kc_tensor_zeros(KC_FLOAT32, 2, (int64_t[]){n, classes}, &err);
    CK_NN(*y, err);
    float *py = kc_tensor_f32(*y);
    const float *px = kc_tensor_cdata(*x);
    int64_t row = kc_tensor_size(*x) / n;
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < row; j++) s += px[i * row + j] * (j % 3 == 0 ? 1.0 : -0.5);
        if (k == LSTM) py[i] = (float)s;
        else py[i * 3 + (s > 0.4 ? 0 : s > -0.4 ? 1 : 2)] = 1.0f;
    }
}

/* ---- comparisons ---------------------------------------------------------------------------------- */

static void assert_histories_equal(const kc_history *got, const kc_history *want, double rtol)
{
    ck_assert_int_eq(kc_history_num_epochs(got), kc_history_num_epochs(want));
    ck_assert_int_eq(kc_history_num_keys(got), kc_history_num_keys(want));
    for (int k = 0; k < kc_history_num_keys(want); k++) {
        const char *key = kc_history_key(want, k);
        const double *a = kc_history_values(got, key), *b = kc_history_values(want, key);
        ck_assert_msg(a != NULL, "History lacks '%s'", key);
        for (int e = 0; e < kc_history_num_epochs(want); e++)
            ck_assert_msg(fabs(a[e] - b[e]) <= rtol * fabs(b[e]) + 1e-7,
                          "process %d of %d: %s at epoch %d: %.9g, one process %.9g", rank, size, key, e + 1, a[e], b[e]);
    }
}

/* Largest difference over the largest magnitude, per weight. */
static double weights_rel_diff(kc_object *a, kc_object *b)
{
    ck_assert_int_eq(kc_layer_num_weights(a), kc_layer_num_weights(b));
    double worst = 0;
    for (int i = 0; i < kc_layer_num_weights(a); i++) {
        const kc_tensor *x = kc_variable_value(kc_layer_weight(a, i)), *y = kc_variable_value(kc_layer_weight(b, i));
        ck_assert(kc_tensor_same_shape(x, y));
        double diff = 0, mag = 1e-6;
        for (int64_t j = 0; j < kc_tensor_size(x); j++) {
            diff = fmax(diff, fabs(kc_tensor_get(x, j) - kc_tensor_get(y, j)));
            mag = fmax(mag, fabs(kc_tensor_get(y, j)));
        }
        worst = fmax(worst, diff / mag);
    }
    return worst;
}

/* Every process holds the same weights as process 0, bit for bit. */
static void assert_weights_agree(kc_object *m)
{
    for (int i = 0; i < kc_layer_num_weights(m); i++) {
        kc_tensor *w = kc_tensor_copy(kc_variable_value(kc_layer_weight(m, i)), &err);
        kc_tensor *w0 = kc_tensor_copy(w, &err);
        CK_NN(w0, err);
        MPI_Bcast(kc_tensor_data(w0), (int)kc_tensor_nbytes(w0), MPI_BYTE, 0, MPI_COMM_WORLD);
        ck_assert_msg(memcmp(kc_tensor_cdata(w), kc_tensor_cdata(w0), kc_tensor_nbytes(w)) == 0,
                      "process %d: weight %d differs from process 0's", rank, i);
        kc_tensor_unref(w);
        kc_tensor_unref(w0);
    }
}

/* fit on all processes and alone, 3 epochs, shuffled, with validation. */
static void fit_matches_one_process(model_kind k, int64_t n, int64_t batch)
{
    kc_tensor *x, *y, *vx, *vy;
    data(k, n, 7, &x, &y);
    data(k, 3 * size + 1, 8, &vx, &vy);
    kc_history *hd = NULL, *h1 = NULL;
    kc_object *md = build(k, 1234);
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = batch, .epochs = 3,
                     .val_x = &vx, .n_val_x = 1, .val_y = &vy, .n_val_y = 1};
    CK_OK(kc_strategy_fit(strategy, md, &a, &hd, &err));
    assert_weights_agree(md);

    kc_object *m1 = build(k, 1234);
    CK_OK(kc_model_fit(m1, &a, &h1, &err));
    double d = weights_rel_diff(md, m1);
    assert_histories_equal(hd, h1, 1e-5);
    ck_assert_msg(d <= 1e-5, "process %d of %d: final weights differ from one process's by %g (relative)", rank, size, d);
    ck_assert_int_eq(kc_optimizer_iterations(kc_model_optimizer(md)), kc_optimizer_iterations(kc_model_optimizer(m1)));

    /* evaluate, too, gives one process's numbers */
    kc_logs *ld = NULL, *l1 = NULL;
    kc_fit_args e = {.x = &vx, .n_x = 1, .y = &vy, .n_y = 1, .batch_size = 2 * size};
    CK_OK(kc_strategy_evaluate(strategy, md, &e, &ld, &err));
    CK_OK(kc_model_evaluate(md, &e, &l1, &err));
    for (int i = 0; i < kc_logs_size(l1); i++) {
        double v;
        ck_assert(kc_logs_get(ld, kc_logs_key(l1, i), &v));
        ck_assert_msg(fabs(v - kc_logs_value(l1, i)) <= 1e-5 * fabs(kc_logs_value(l1, i)) + 1e-7, "evaluate %s: %g vs %g",
                      kc_logs_key(l1, i), v, kc_logs_value(l1, i));
    }
    kc_logs_free(ld);
    kc_logs_free(l1);
    kc_history_free(hd);
    kc_history_free(h1);
    kc_object_unref(md);
    kc_object_unref(m1);
    kc_tensor_unref(x), kc_tensor_unref(y), kc_tensor_unref(vx), kc_tensor_unref(vy);
}

START_TEST(mlp_fit_matches_one_process) { fit_matches_one_process(MLP, 100, 16); }
END_TEST

START_TEST(cnn_with_batchnorm_fit_matches_one_process) { fit_matches_one_process(CNN_BN, 64, 12); }
END_TEST

START_TEST(lstm_fit_matches_one_process) { fit_matches_one_process(LSTM, 50, 10); }
END_TEST

/* The chief's weights win, also over a model each process initialized
 * differently, and a fit restarts where the chief's optimizer is. */
START_TEST(fit_starts_from_the_chiefs_weights)
{
    kc_tensor *x, *y;
    data(MLP, 40, 3, &x, &y);
    kc_object *md = build(MLP, 50 + (uint64_t)rank), *m1 = build(MLP, 50);
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 8, .epochs = 1, .no_shuffle = true};
    CK_OK(kc_strategy_fit(strategy, md, &a, NULL, &err));
    CK_OK(kc_model_fit(m1, &a, NULL, &err));
    ck_assert(weights_rel_diff(md, m1) <= 1e-5);
    assert_weights_agree(md);
    kc_object_unref(md);
    kc_object_unref(m1);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

/* A model without an input shape is built from the data before the chief's
 * weights are copied: otherwise each process would draw its own at the
 * first step. */
START_TEST(an_unbuilt_model_is_built_then_copied)
{
    kc_tensor *x, *y;
    data(MLP, 24, 3, &x, &y);
    kc_set_random_seed(100 + (uint64_t)rank);
    kc_object *m = kc_sequential_new("unbuilt", &err);
    kc_object *l[] = {kc_layer_create("Dense", "{\"units\": 5, \"activation\": \"tanh\"}", &err),
                      kc_layer_create("Dense", "{\"units\": 3, \"activation\": \"softmax\"}", &err)};
    add_all(m, l, 2);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"adam\", \"loss\": \"categorical_crossentropy\"}", NULL, &err));
    ck_assert_int_eq(kc_layer_num_weights(m), 0);
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 8, .epochs = 1};
    CK_OK(kc_strategy_fit(strategy, m, &a, NULL, &err));
    ck_assert_int_eq(kc_layer_num_weights(m), 4);
    assert_weights_agree(m);
    kc_object_unref(m);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

/* Gradients sent in many small buckets (several in flight during the
 * backward pass) sum to exactly what one bucket gives. */
START_TEST(bucket_size_does_not_change_training)
{
    kc_tensor *x, *y;
    data(CNN_BN, 48, 3, &x, &y);
    kc_object *big = build(CNN_BN, 21), *small = build(CNN_BN, 21);
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 12, .epochs = 2, .no_shuffle = true};
    CK_OK(kc_strategy_fit(strategy, big, &a, NULL, &err));
    kc_strategy_set_bucket_bytes(strategy, 64);
    kc_strategy_reset_stats(strategy);
    CK_OK(kc_strategy_fit(strategy, small, &a, NULL, &err));
    kc_strategy_stats st = kc_strategy_get_stats(strategy);
    kc_strategy_set_bucket_bytes(strategy, 4 << 20);
    ck_assert_msg(weights_rel_diff(big, small) == 0, "process %d: %g", rank, weights_rel_diff(big, small));
    /* 8 steps; 4 variables (kernel, gamma, beta; dense kernel and bias: 5) in 64-byte buckets: many collectives */
    ck_assert_msg(st.collectives > 8 * 10, "%lld collectives", (long long)st.collectives);
    ck_assert(st.bytes_reduced > 0 && st.seconds > 0);
    kc_object_unref(big);
    kc_object_unref(small);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

/* A model class with its own train_step (Keras' overridden
 * Model.train_step) sums its gradients with kc_model_reduce_gradients, as
 * Horovod's DistributedOptimizer does, and trains as one process: here the
 * seed's subclassed regressor, whose add_loss term is per-process too. */
static kc_status own_step(kc_object *self, kc_train_step *step, kc_error *e)
{
    kc_tensor *out[1] = {0}, *loss = NULL, *src[16], *g[16] = {0};
    kc_variable *vars[16];
    int n_out = 0, nt = kc_layer_num_trainable_weights(self);
    if (nt > 16) return kc_error_set(e, KC_ELIMIT, "too many weights for this test");
    kc_tape *tape = kc_tape_begin(0, e);
    kc_status rc = kc_layer_call(self, step->x, step->n_x, NULL, true, out, NULL, &n_out, e);
    if (rc == KC_OK) rc = kc_model_compute_loss(self, step->y, step->n_y, out, n_out, step->sample_weight, &loss, e);
    kc_tape_end(tape);
    for (int i = 0; i < nt; i++) src[i] = kc_variable_value(vars[i] = kc_layer_trainable_weight(self, i));
    if (rc == KC_OK) rc = kc_tape_gradient(tape, loss, src, nt, g, e);
    if (rc == KC_OK) rc = kc_model_reduce_gradients(self, g, vars, nt, e);
    if (rc == KC_OK) rc = kc_optimizer_apply_gradients(kc_model_optimizer(self), g, vars, nt, e);
    if (rc == KC_OK) rc = kc_model_update_metrics(self, step->y, step->n_y, out, n_out, step->sample_weight, e);
    if (rc == KC_OK) rc = kc_model_metric_results(self, step->logs, e);
    for (int i = 0; i < nt; i++) kc_tensor_unref(g[i]);
    for (int i = 0; i < n_out; i++) kc_tensor_unref(out[i]);
    kc_tensor_unref(loss);
    kc_tape_free(tape);
    return rc;
}

static kc_object *own_step_model(kc_custom_objects *co)
{
    static kc_model_methods methods;
    static kc_class cls;
    cls = seed_regressor_class;
    methods = *(const kc_model_methods *)seed_regressor_class.methods;
    methods.train_step = own_step;
    cls.methods = &methods;
    cls.name = "OwnStepRegressor";
    kc_clear_session();
    kc_set_random_seed(31);
    json_t *cfg = json_pack("{s:i, s:i}", "units", 5, "outputs", 1);
    kc_object *m = kc_object_from_config(&cls, cfg, NULL, &err);
    json_decref(cfg);
    CK_NN(m, err);
    kc_shape in = {2, {-1, 4}};
    CK_OK(kc_model_build(m, &in, 1, &err));
    CK_OK(kc_model_compile(m, "{\"optimizer\": {\"class_name\": \"SGD\", \"config\": {\"momentum\": 0.5}},"
                              " \"loss\": \"mse\", \"metrics\": [\"mae\"]}", co, &err));
    return m;
}

START_TEST(a_train_step_of_its_own_reduces_its_gradients)
{
    kc_custom_objects *co = seed_custom_objects(1.0f, &err);
    kc_tensor *x = tu_random(2, (int64_t[]){31, 4}, -1, 1, 41), *y = tu_random(2, (int64_t[]){31, 1}, -1, 1, 42);
    kc_object *md = own_step_model(co);
    kc_history *hd = NULL, *h1 = NULL;
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 7, .epochs = 3};
    CK_OK(kc_strategy_fit(strategy, md, &a, &hd, &err));
    kc_object *m1 = own_step_model(co); /* same seed: the same weights and shuffling */
    CK_OK(kc_model_fit(m1, &a, &h1, &err));
    assert_histories_equal(hd, h1, 1e-5);
    ck_assert(weights_rel_diff(md, m1) <= 1e-5);
    /* outside a data-parallel fit it does nothing */
    kc_tensor *g = kc_tensor_full(KC_FLOAT32, 2, (int64_t[]){4, 5}, 2.0, &err);
    kc_variable *v = kc_layer_trainable_weight(m1, 0);
    CK_OK(kc_model_reduce_gradients(m1, &g, &v, 1, &err));
    ck_assert_float_eq(kc_tensor_get(g, 0), 2.0);
    kc_tensor_unref(g);
    kc_history_free(hd);
    kc_history_free(h1);
    kc_object_unref(md);
    kc_object_unref(m1);
    kc_tensor_unref(x), kc_tensor_unref(y);
    kc_custom_objects_free(co);
}
END_TEST

/* ---- failures ---------------------------------------------------------------------------------------- */

START_TEST(bad_data_on_one_process_fails_everywhere)
{
    kc_tensor *x, *y;
    data(MLP, 40, 3, &x, &y);
    kc_tensor *bad = tu_random(2, (int64_t[]){40, 9}, -1, 1, 5); /* 9 features, the model takes 8 */
    kc_object *m = build(MLP, 9);
    kc_tensor *xi = rank == size - 1 ? bad : x;
    kc_fit_args a = {.x = &xi, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 8, .epochs = 2};
    kc_history *h = NULL;
    ck_assert_int_eq(kc_strategy_fit(strategy, m, &a, &h, &err), KC_EINVAL);
    ck_assert(h == NULL);
    CK_ERR(err, KC_EINVAL, "different shapes of input 0 (8 to 9)");
    kc_object_unref(m);
    kc_tensor_unref(x), kc_tensor_unref(y), kc_tensor_unref(bad);
}
END_TEST

/* A failure inside one process's step (a label out of range for the loss
 * there only) reaches the others wherever they are. */
START_TEST(a_failing_step_on_one_process_fails_everywhere)
{
    kc_tensor *x, *y;
    data(MLP, 48, 3, &x, &y);
    kc_object *m = build(MLP, 9);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": \"sparse_categorical_crossentropy\"}", NULL, &err));
    kc_tensor *labels = kc_tensor_zeros(KC_FLOAT32, 1, (int64_t[]){48}, &err);
    if (rank == 1) kc_tensor_f32(labels)[20] = 7.0f; /* batch 2 of 6: class 7 of 3 */
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &labels, .n_y = 1, .batch_size = 8, .epochs = 2, .no_shuffle = true};
    kc_status rc = kc_strategy_fit(strategy, m, &a, NULL, &err);
    ck_assert_msg(rc != KC_OK, "process %d: fit succeeded", rank);
    /* the same error, from process 1, everywhere */
    char mine[800], first[800];
    snprintf(mine, sizeof mine, "%d|%s|%s", (int)rc, err.message, err.context);
    memcpy(first, mine, sizeof first);
    MPI_Bcast(first, sizeof first, MPI_CHAR, 0, MPI_COMM_WORLD);
    ck_assert_msg(strcmp(mine, first) == 0, "process %d: '%s', process 0: '%s'", rank, mine, first);
    ck_assert_msg(strstr(err.context, "process 1 of"), "%s", err.context);
    ck_assert_msg(strstr(err.context, "epoch 1, batch 2"), "%s", err.context);
    kc_object_unref(m);
    kc_tensor_unref(x), kc_tensor_unref(y), kc_tensor_unref(labels);
}
END_TEST

static kc_status fail_on_last(void *user, kc_object *model, int64_t batch, const kc_logs *logs, kc_error *e)
{
    (void)user, (void)model, (void)logs;
    if (rank == size - 1 && batch == 3) return kc_error_set(e, KC_EINVAL, "callback on the last process gave up");
    return KC_OK;
}

START_TEST(a_failing_callback_on_one_process_fails_everywhere)
{
    kc_tensor *x, *y;
    data(MLP, 48, 3, &x, &y);
    kc_object *m = build(MLP, 9);
    static const kc_callback_methods methods = {.on_train_batch_end = fail_on_last};
    kc_callback *cb = kc_callback_new(&methods, NULL, &err);
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 8, .epochs = 2, .callbacks = &cb,
                     .n_callbacks = 1};
    ck_assert_int_eq(kc_strategy_fit(strategy, m, &a, NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "callback on the last process gave up");
    kc_callback_free(cb);
    kc_object_unref(m);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

/* NaN in one process's share: the loss every process logs is NaN, and
 * TerminateOnNaN stops all of them after the same batch. */
START_TEST(terminate_on_nan_stops_every_process_together)
{
    kc_tensor *x, *y;
    data(MLP, 48, 3, &x, &y);
    if (rank == size - 1) kc_tensor_f32(y)[3 * 30] = NAN; /* a target in its share of batch 2 */
    kc_object *m = build(MLP, 9);
    kc_callback *cb = kc_callback_create("TerminateOnNaN", NULL, &err);
    char *printed = NULL;
    size_t printed_len = 0;
    FILE *out = open_memstream(&printed, &printed_len);
    kc_callback_set_output(cb, out);
    kc_history *h = NULL;
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 16, .epochs = 3, .no_shuffle = true,
                     .callbacks = &cb, .n_callbacks = 1};
    CK_OK(kc_strategy_fit(strategy, m, &a, &h, &err));
    ck_assert_int_eq(kc_history_num_epochs(h), 1);
    ck_assert(isnan(kc_history_values(h, "loss")[0]));
    ck_assert_int_eq(kc_optimizer_iterations(kc_model_optimizer(m)), 2);
    fclose(out);
    /* every process stopped; only the chief says so */
    ck_assert_msg(rank == 0 ? strstr(printed, "Batch 1: Invalid loss, terminating training") != NULL : printed_len == 0,
                  "process %d: '%s'", rank, printed);
    free(printed);
    kc_history_free(h);
    kc_callback_free(cb);
    kc_object_unref(m);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

/* ---- checkpoints ------------------------------------------------------------------------------------- */

static const char *shared_dir(void)
{
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s/dist-%d", TEST_BUILD_DIR, size);
    if (rank == 0) mkdir(dir, 0700);
    MPI_Barrier(MPI_COMM_WORLD);
    return dir;
}

START_TEST(checkpoint_of_n_processes_equals_one_process_checkpoint)
{
    const char *dir = shared_dir();
    char dist[4200], one[4200], cfg[4400], cmd[16384];
    snprintf(dist, sizeof dist, "%s/ckpt-{epoch}.h5", dir);
    snprintf(cfg, sizeof cfg, "{\"filepath\": \"%s\", \"monitor\": \"loss\", \"verbose\": 1}", dist);
    kc_tensor *x, *y;
    data(CNN_BN, 36, 3, &x, &y);
    kc_callback *ck = kc_callback_create("ModelCheckpoint", cfg, &err);
    CK_NN(ck, err);
    char *printed = NULL;
    size_t printed_len = 0;
    FILE *out = open_memstream(&printed, &printed_len);
    kc_callback_set_output(ck, out);
    kc_object *md = build(CNN_BN, 77), *m1 = build(CNN_BN, 77);
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 12, .epochs = 2, .no_shuffle = true,
                     .callbacks = &ck, .n_callbacks = 1};
    CK_OK(kc_strategy_fit(strategy, md, &a, NULL, &err));
    fclose(out);
    /* written collectively where the build has parallel HDF5, else by process 0 */
    const char *expect = getenv("KC_EXPECT_PARALLEL_IO");
    if (expect) ck_assert_int_eq(kc_strategy_parallel_io(), atoi(expect));
    /* only the chief says it saves */
    ck_assert_msg(rank == 0 ? strstr(printed, "Epoch 2: saving model to") != NULL : printed_len == 0, "process %d: '%s'",
                  rank, printed);
    free(printed);
    a.callbacks = NULL, a.n_callbacks = 0;
    CK_OK(kc_model_fit(m1, &a, NULL, &err));
    snprintf(dist, sizeof dist, "%s/ckpt-2.h5", dir);
    snprintf(one, sizeof one, "%s/one-%d.h5", dir, rank);
    CK_OK(kc_model_save(m1, one, NULL, &err));
    snprintf(cmd, sizeof cmd, "'%s/tools/modelinspect' diff '%s' '%s' --rtol 1e-5 --atol 1e-6 >/dev/null",
             getenv("CKERAS_BUILD_ROOT"), dist, one);
    ck_assert_msg(system(cmd) == 0, "modelinspect diff: %s", cmd);
    /* it loads alone, and through the strategy (the chief reads) */
    kc_object *alone = kc_model_load(dist, NULL, &err);
    CK_NN(alone, err);
    ck_assert(weights_rel_diff(alone, md) == 0);
    kc_object *shared = kc_strategy_load_model(strategy, dist, NULL, &err);
    CK_NN(shared, err);
    ck_assert(weights_rel_diff(shared, md) == 0);
    ck_assert_int_eq(kc_optimizer_num_weights(kc_model_optimizer(shared)), kc_optimizer_num_weights(kc_model_optimizer(md)));
    ck_assert_int_eq(kc_optimizer_iterations(kc_model_optimizer(shared)), 6);
    /* a Keras 3 archive too (written by the chief in every build) */
    snprintf(one, sizeof one, "%s/dist.keras", dir);
    CK_OK(kc_strategy_save_model(strategy, md, one, NULL, &err));
    kc_object *k3 = kc_model_load(one, NULL, &err);
    CK_NN(k3, err);
    ck_assert(weights_rel_diff(k3, md) == 0);
    kc_object_unref(k3);
    kc_object_unref(alone);
    kc_object_unref(shared);
    kc_callback_free(ck);
    kc_object_unref(md);
    kc_object_unref(m1);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

START_TEST(a_checkpoint_that_cannot_be_written_fails_everywhere)
{
    const char *dir = shared_dir();
    char cfg[4400];
    snprintf(cfg, sizeof cfg, "{\"filepath\": \"%s/no/such/dir/ckpt.h5\", \"monitor\": \"loss\"}", dir);
    kc_tensor *x, *y;
    data(MLP, 24, 3, &x, &y);
    kc_callback *ck = kc_callback_create("ModelCheckpoint", cfg, &err);
    kc_object *m = build(MLP, 77);
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 12, .epochs = 2, .callbacks = &ck,
                     .n_callbacks = 1};
    ck_assert_int_eq(kc_strategy_fit(strategy, m, &a, NULL, &err), KC_EIO);
    CK_ERR(err, KC_EIO, "no/such/dir/ckpt.h5");
    ck_assert_msg(strstr(err.context, "process 0 of"), "%s", err.context);
    kc_callback_free(ck);
    kc_object_unref(m);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

/* EarlyStopping and ReduceLROnPlateau run on every process and decide the
 * same from the same logs: all stop after the same epoch with the same
 * learning rate. */
START_TEST(early_stopping_and_reduce_lr_decide_the_same_everywhere)
{
    kc_tensor *x, *y;
    data(MLP, 32, 3, &x, &y);
    kc_object *m = build(MLP, 9);
    kc_callback *cbs[2] = {
        kc_callback_create("ReduceLROnPlateau", "{\"monitor\": \"loss\", \"patience\": 0, \"min_delta\": 10, \"factor\": 0.5}", &err),
        kc_callback_create("EarlyStopping", "{\"monitor\": \"loss\", \"patience\": 2, \"min_delta\": 10}", &err),
    };
    kc_history *h = NULL;
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 8, .epochs = 10, .callbacks = cbs,
                     .n_callbacks = 2};
    CK_OK(kc_strategy_fit(strategy, m, &a, &h, &err));
    /* no epoch improves by 10: stopped at the third, the rate halved after each */
    ck_assert_int_eq(kc_history_num_epochs(h), 3);
    ck_assert_int_eq(kc_callback_stopped_epoch(cbs[1]), 2);
    const double *lr = kc_history_values(h, "lr");
    ck_assert_msg(lr != NULL, "no lr in the History");
    ck_assert_double_eq_tol(kc_optimizer_current_lr(kc_model_optimizer(m)), 0.1 / 4, 1e-9);
    double mine = kc_optimizer_current_lr(kc_model_optimizer(m)), first = mine;
    MPI_Bcast(&first, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    ck_assert(mine == first);
    assert_weights_agree(m);
    kc_history_free(h);
    kc_callback_free(cbs[0]);
    kc_callback_free(cbs[1]);
    kc_object_unref(m);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

/* A full disk where the chief writes (here its file-size limit): the
 * checkpoint fails on every process with the chief's error. */
START_TEST(a_full_disk_at_the_checkpoint_fails_everywhere)
{
    const char *dir = shared_dir();
    char path[4200], cfg[4400];
    snprintf(path, sizeof path, "%s/full.h5", dir);
    snprintf(cfg, sizeof cfg, "{\"filepath\": \"%s\", \"monitor\": \"loss\"}", path);
    kc_tensor *x, *y;
    data(MLP, 24, 3, &x, &y);
    kc_callback *ck = kc_callback_create("ModelCheckpoint", cfg, &err);
    kc_object *m = build(MLP, 77);
    struct rlimit old, small = {2048, 2048};
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    if (rank == 0) setrlimit(RLIMIT_FSIZE, &small);
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 12, .epochs = 2, .callbacks = &ck,
                     .n_callbacks = 1};
    kc_status rc = kc_strategy_fit(strategy, m, &a, NULL, &err);
    if (rank == 0) setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    ck_assert_int_eq(rc, KC_EIO);
    CK_ERR(err, KC_EIO, "full.h5");
    ck_assert_msg(strstr(err.context, "process 0 of"), "%s", err.context);
    ck_assert(access(path, F_OK) != 0); /* nothing left behind */
    kc_callback_free(ck);
    kc_object_unref(m);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

START_TEST(loading_a_missing_file_fails_everywhere)
{
    kc_object *m = kc_strategy_load_model(strategy, "/nonexistent/model.h5", NULL, &err);
    ck_assert(m == NULL);
    CK_ERR(err, KC_EIO, "/nonexistent/model.h5");
}
END_TEST

/* ---- building blocks --------------------------------------------------------------------------------- */

START_TEST(building_blocks_for_custom_loops)
{
    /* shard: the shares tile the batch */
    int64_t off, n, total = 0;
    kc_strategy_shard(strategy, 10, &off, &n);
    int64_t shares[2] = {off, n}, all[2 * 8];
    MPI_Allgather(shares, 2, MPI_INT64_T, all, 2, MPI_INT64_T, MPI_COMM_WORLD);
    for (int r = 0; r < size; r++) {
        ck_assert_int_eq(all[2 * r], total);
        total += all[2 * r + 1];
    }
    ck_assert_int_eq(total, 10);

    /* allreduce (mean and sum), with a tensor spanning several buckets */
    kc_strategy_set_bucket_bytes(strategy, 64);
    kc_tensor *a = kc_tensor_full(KC_FLOAT32, 1, (int64_t[]){40}, rank + 1, &err);
    kc_tensor *b = kc_tensor_full(KC_FLOAT32, 2, (int64_t[]){2, 3}, 2.0 * rank, &err);
    kc_tensor *ts[3] = {a, NULL, b};
    CK_OK(kc_strategy_allreduce(strategy, ts, 3, true, &err));
    ck_assert_float_eq_tol(kc_tensor_get(a, 39), (size + 1) / 2.0, 1e-6);
    ck_assert_float_eq_tol(kc_tensor_get(b, 5), size - 1.0, 1e-6);
    CK_OK(kc_strategy_allreduce(strategy, ts + 2, 1, false, &err));
    ck_assert_float_eq_tol(kc_tensor_get(b, 0), size * (size - 1.0), 1e-5);
    kc_strategy_set_bucket_bytes(strategy, 4 << 20);

    /* variables from the chief */
    kc_tensor *v0 = kc_tensor_full(KC_FLOAT32, 1, (int64_t[]){3}, 10 + rank, &err);
    kc_variable *v = kc_variable_new("v", v0, true, &err);
    CK_OK(kc_strategy_broadcast_variables(strategy, &v, 1, &err));
    ck_assert_float_eq(kc_tensor_get(kc_variable_value(v), 2), 10.0);

    /* a streaming metric summed over the processes */
    kc_object *acc = kc_metric_get("BinaryAccuracy", &err);
    kc_tensor *yt = kc_tensor_full(KC_FLOAT32, 1, (int64_t[]){4}, 1.0, &err);
    kc_tensor *yp = kc_tensor_full(KC_FLOAT32, 1, (int64_t[]){4}, rank == 0 ? 0.9 : 0.1, &err);
    CK_OK(kc_metric_update(acc, yt, yp, NULL, &err));
    CK_OK(kc_strategy_allreduce_metrics(strategy, &acc, 1, &err));
    kc_tensor *r = kc_metric_result(acc, &err);
    ck_assert_float_eq_tol(kc_tensor_get(r, 0), 1.0 / size, 1e-6);

    /* agreement: one process's error is everyone's */
    kc_status local = rank == size - 1 ? kc_error_set(&err, KC_ENOTFOUND, "only the last one failed") : KC_OK;
    ck_assert_int_eq(kc_strategy_agree(strategy, local, &err), KC_ENOTFOUND);
    CK_ERR(err, KC_ENOTFOUND, "only the last one failed");
    kc_error_clear(&err);
    CK_OK(kc_strategy_agree(strategy, KC_OK, &err));

    kc_tensor_unref(r), kc_tensor_unref(yt), kc_tensor_unref(yp);
    kc_object_unref(acc);
    kc_variable_unref(v);
    kc_tensor_unref(v0), kc_tensor_unref(a), kc_tensor_unref(b);
}
END_TEST

START_TEST(batches_too_small_to_share_are_refused)
{
    kc_tensor *x, *y;
    data(MLP, 17, 3, &x, &y);
    kc_object *m = build(MLP, 9);
    /* 17 = 2 * 8 + 1: the last batch has one sample for several processes */
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 8};
    ck_assert_int_eq(kc_strategy_fit(strategy, m, &a, NULL, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "every batch needs at least");
    kc_object_unref(m);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

/* ---- the checkpoint for test_distributed_conformance ---------------------------------------------- */

static const char *checkpoint_dir;

START_TEST(write_checkpoint_for_keras_ref)
{
    kc_tensor *x, *y;
    data(CNN_BN, 36, 3, &x, &y);
    char path[4200], cfg[4400];
    snprintf(path, sizeof path, "%s/dist.h5", checkpoint_dir);
    snprintf(cfg, sizeof cfg, "{\"filepath\": \"%s\", \"monitor\": \"loss\"}", path);
    kc_callback *ck = kc_callback_create("ModelCheckpoint", cfg, &err);
    CK_NN(ck, err);
    kc_object *m = build(CNN_BN, 5);
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 12, .epochs = 2, .callbacks = &ck,
                     .n_callbacks = 1};
    CK_OK(kc_strategy_fit(strategy, m, &a, NULL, &err));
    if (rank == 0) {
        kc_tensor *out[1];
        int n_out = 0;
        kc_object *back = kc_model_load(path, NULL, &err);
        CK_NN(back, err);
        CK_OK(kc_model_predict(back, &x, 1, 36, out, &n_out, &err));
        json_t *jx, *jy;
        CK_OK(kc_tensor_to_json(x, NULL, &jx, &err));
        CK_OK(kc_tensor_to_json(out[0], NULL, &jy, &err));
        json_t *root = json_pack("{s:[o], s:[o]}", "inputs", jx, "outputs", jy);
        snprintf(path, sizeof path, "%s/dist.io.json", checkpoint_dir);
        ck_assert_int_eq(json_dump_file(root, path, JSON_REAL_PRECISION(9)), 0);
        json_decref(root);
        kc_tensor_unref(out[0]);
        kc_object_unref(back);
    }
    kc_callback_free(ck);
    kc_object_unref(m);
    kc_tensor_unref(x), kc_tensor_unref(y);
}
END_TEST

/* One case per test, so that CK_RUN_CASE=<name> runs one alone. */
#define CASE(name)                                                                                 \
    do {                                                                                           \
        TCase *tc = tcase_create(#name);                                                           \
        tcase_add_checked_fixture(tc, setup, teardown);                                            \
        tcase_set_timeout(tc, 120);                                                                \
        tcase_add_test(tc, name);                                                                  \
        suite_add_tcase(s, tc);                                                                    \
    } while (0)

static Suite *distributed_suite(void)
{
    Suite *s = suite_create("distributed");
    if (checkpoint_dir) {
        CASE(write_checkpoint_for_keras_ref);
        return s;
    }
    CASE(mlp_fit_matches_one_process);
    CASE(cnn_with_batchnorm_fit_matches_one_process);
    CASE(lstm_fit_matches_one_process);
    CASE(fit_starts_from_the_chiefs_weights);
    CASE(an_unbuilt_model_is_built_then_copied);
    CASE(bucket_size_does_not_change_training);
    CASE(a_train_step_of_its_own_reduces_its_gradients);
    CASE(bad_data_on_one_process_fails_everywhere);
    CASE(a_failing_step_on_one_process_fails_everywhere);
    CASE(a_failing_callback_on_one_process_fails_everywhere);
    CASE(terminate_on_nan_stops_every_process_together);
    CASE(checkpoint_of_n_processes_equals_one_process_checkpoint);
    CASE(a_checkpoint_that_cannot_be_written_fails_everywhere);
    CASE(a_full_disk_at_the_checkpoint_fails_everywhere);
    CASE(early_stopping_and_reduce_lr_decide_the_same_everywhere);
    CASE(loading_a_missing_file_fails_everywhere);
    CASE(building_blocks_for_custom_loops);
    CASE(batches_too_small_to_share_are_refused);
    return s;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    signal(SIGALRM, watchdog);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    kc_set_num_threads(1);
    strategy = kc_strategy_new(MPI_COMM_WORLD, &err);
    if (!strategy) {
        fprintf(stderr, "kc_strategy_new: %s\n", err.message);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (argc == 3 && strcmp(argv[1], "--checkpoint") == 0) checkpoint_dir = argv[2];
    if (size < 2 || size > 8) {
        if (rank == 0) fprintf(stderr, "test_distributed: run it on 2 to 8 processes (mpirun -np 2)\n");
        MPI_Finalize();
        return 1;
    }
    SRunner *sr = srunner_create(distributed_suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    kc_strategy_free(strategy);
    kc_release_caches();
    MPI_Finalize();
    return failed ? 1 : 0;
}
