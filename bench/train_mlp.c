/* bench/train_mlp: one epoch of kc_model_fit on an MLP 784-512-256-10
 * (ReLU, softmax + categorical crossentropy, SGD lr 0.01, shuffled
 * batches as Keras does) over 60000 synthetic samples, against the bare
 * cblas_sgemm calls of the same forward and backward matrix products
 * (the ceiling: 3 forward, 5 backward per batch, no input gradient), in
 * the same run. Prints per setting (batch 64 and 256, 1 and 2 threads):
 *
 *   samples_per_s: N            ckeras' training throughput
 *   ratio_vs_sgemm_ceiling: X   time(sgemm ceiling) / time(fit)
 *
 * Targets: >= 0.9 at batch 256 on one thread; 2 threads faster than 1.
 * Timings: the best of three rounds over 15000 samples, scaled to the
 * epoch, after a warm-up round. */
#define _POSIX_C_SOURCE 200809L
#include <ckeras.h>

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The reference is OpenBLAS with a pool of its own at the same number of
 * threads; ckeras keeps OpenBLAS on one thread and shares products out
 * over its own pool, so the reference sets OpenBLAS' threads around it. */
void openblas_set_num_threads(int n);

#define N_SAMPLES 60000
static const int dims[4] = {784, 512, 256, 10};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const kc_error *err)
{
    fprintf(stderr, "bench/train_mlp: %s: %s (%s)\n", what, err->message, err->context);
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

/* The matrix products of one epoch, bare: forward Z = A W, backward
 * dW = A^T dZ and dA = dZ W^T (not for the input). */
static double sgemm_epoch(int64_t batch, int64_t samples, float *const *w, float *const *act, float *const *grad,
                          float *const *dw)
{
    double t = now();
    for (int64_t start = 0; start < samples; start += batch) {
        int b = (int)(start + batch <= samples ? batch : samples - start);
        for (int l = 0; l < 3; l++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, dims[l + 1], dims[l], 1.0f, act[l], dims[l], w[l],
                        dims[l + 1], 0.0f, act[l + 1], dims[l + 1]);
        for (int l = 2; l >= 0; l--) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dims[l], dims[l + 1], b, 1.0f, act[l], dims[l],
                        grad[l + 1], dims[l + 1], 0.0f, dw[l], dims[l + 1]);
            if (l > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, dims[l], dims[l + 1], 1.0f, grad[l + 1], dims[l + 1],
                            w[l], dims[l + 1], 0.0f, grad[l], dims[l]);
        }
    }
    return now() - t;
}

int main(void)
{
    kc_error err = {0};
    kc_set_random_seed(1);
    kc_rng rng;
    kc_rng_seed(&rng, 2);
    kc_tensor *x = kc_tensor_empty(KC_FLOAT32, 2, (int64_t[]){N_SAMPLES, dims[0]}, &err);
    kc_tensor *y = kc_tensor_zeros(KC_FLOAT32, 2, (int64_t[]){N_SAMPLES, dims[3]}, &err);
    if (!x || !y) die("data", &err);
    kc_rng_fill_uniform(&rng, kc_tensor_f32(x), (size_t)kc_tensor_size(x), 0.0f, 1.0f);
    for (int64_t i = 0; i < N_SAMPLES; i++) kc_tensor_f32(y)[i * dims[3] + (int64_t)kc_rng_below(&rng, 10)] = 1.0f;

    /* buffers for the ceiling, sized for the largest batch */
    float *w[3], *act[4], *grad[4], *dw[3];
    for (int l = 0; l < 3; l++) {
        w[l] = calloc((size_t)dims[l] * (size_t)dims[l + 1], sizeof(float));
        dw[l] = calloc((size_t)dims[l] * (size_t)dims[l + 1], sizeof(float));
    }
    for (int l = 0; l < 4; l++) {
        act[l] = calloc((size_t)256 * (size_t)dims[l], sizeof(float));
        grad[l] = calloc((size_t)256 * (size_t)dims[l], sizeof(float));
    }
    /* values in every buffer: a calloc'd buffer the reference only reads
     * (the weights, the input, the loss gradient) is the kernel's shared
     * zero page, one 4 KiB page in L1 whatever the matrix size, which made
     * the ceiling about 15% faster than any real training step */
    for (int l = 0; l < 3; l++) kc_rng_fill_uniform(&rng, w[l], (size_t)dims[l] * (size_t)dims[l + 1], -0.05f, 0.05f);
    for (int l = 0; l < 4; l++) {
        kc_rng_fill_uniform(&rng, act[l], (size_t)256 * (size_t)dims[l], 0.0f, 1.0f);
        kc_rng_fill_uniform(&rng, grad[l], (size_t)256 * (size_t)dims[l], -0.01f, 0.01f);
    }

    printf("bench/train_mlp: MLP 784-512-256-10, SGD, %d samples, one epoch of kc_model_fit vs bare sgemm\n", N_SAMPLES);
    const int batches[2] = {64, 256}, threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        for (int bi = 0; bi < 2; bi++) {
            kc_set_num_threads(threads[ti]);
            kc_object *m = build(&err);
            kc_fit_args fa = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = batches[bi], .epochs = 1};
            /* three rounds over a quarter of the data each (15000 samples),
             * fit and ceiling interleaved, the best round of each: a
             * noisy neighbour hits both alike or is filtered out */
            kc_tensor *xs = kc_slice(x, (int64_t[]){0, 0}, (int64_t[]){N_SAMPLES / 4, dims[0]}, &err);
            kc_tensor *ys = kc_slice(y, (int64_t[]){0, 0}, (int64_t[]){N_SAMPLES / 4, dims[3]}, &err);
            if (!xs || !ys) die("slices", &err);
            fa.x = &xs;
            fa.y = &ys;
            double t_fit = 1e9, t_ref = 1e9;
            for (int rep = 0; rep < 4; rep++) { /* rep 0 warms up */
                double t = now();
                if (kc_model_fit(m, &fa, NULL, &err) != KC_OK) die("fit", &err);
                t = now() - t;
                openblas_set_num_threads(threads[ti]);
                double r = sgemm_epoch(batches[bi], N_SAMPLES / 4, w, act, grad, dw);
                openblas_set_num_threads(1);
                if (rep > 0) {
                    t_fit = t < t_fit ? t : t_fit;
                    t_ref = r < t_ref ? r : t_ref;
                }
            }
            kc_tensor_unref(xs);
            kc_tensor_unref(ys);
            t_fit *= 4; /* per epoch of 60000 */
            t_ref *= 4;
            printf("batch %3d, %d thread%s: fit %.3f s, sgemm %.3f s\n", batches[bi], threads[ti], threads[ti] > 1 ? "s" : " ",
                   t_fit, t_ref);
            printf("  samples_per_s: %.0f\n", N_SAMPLES / t_fit);
            printf("  ratio_vs_sgemm_ceiling: %.2f\n", t_ref / t_fit);
            kc_object_unref(m);
        }
    }
    for (int l = 0; l < 3; l++) {
        free(w[l]);
        free(dw[l]);
    }
    for (int l = 0; l < 4; l++) {
        free(act[l]);
        free(grad[l]);
    }
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    kc_release_caches();
    return 0;
}
