/* bench/conv: a Conv2D layer (3x3 kernel, 64 -> 64 channels, 32x32 input,
 * batch 32, padding "same") forward and backward through a gradient tape,
 * against the bare cblas_sgemm calls of the same GEMM work, timed in the
 * same run. The im2col formulation does three products per step:
 *     forward          Y[M, 64]   = col[M, 576] @ W[576, 64]
 *     input gradient   dcol[M, 576] = G[M, 64] @ W^T
 *     kernel gradient  dW[576, 64] = col^T @ G
 * with M = 32 * 32 * 32 rows; the ceiling is those three sgemm calls on
 * whole matrices (no im2col, col2im, bias, allocation or tape). Prints
 * ratio_vs_sgemm_ceiling = time(sgemm) / time(layer): 1.0 would mean the
 * layer adds nothing to its GEMMs; the target is >= 0.7. Each timing is the
 * median of interleaved repetitions after a warm-up. Argument: threads
 * (default 1). */
#define _POSIX_C_SOURCE 200809L
#include <ckeras.h>

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The reference is OpenBLAS with a pool of its own at the same number of
 * threads; ckeras keeps OpenBLAS on one thread and shares products out
 * over its own pool, so the reference sets OpenBLAS' threads around it. */
void openblas_set_num_threads(int n);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp);
    return v[n / 2];
}

static float *filled(size_t n, float v)
{
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; p && i < n; i++) p[i] = v * (float)((i * 7919u) % 13u) / 13.0f;
    return p;
}

/* One training step of the layer: forward and the gradients of sum(y)
 * w.r.t. the input, the kernel and the bias. */
static int layer_step(kc_object *conv, kc_tensor *x, kc_error *err)
{
    kc_tape *tape = kc_tape_begin(0, err);
    if (!tape || kc_tape_watch(tape, x, err) != KC_OK) return 1;
    kc_tensor *y = kc_layer_call1(conv, x, true, err);
    kc_tape_end(tape);
    if (!y) return 1;
    kc_tensor *src[3] = {x, kc_variable_value(kc_layer_weight(conv, 0)),
                         kc_variable_value(kc_layer_weight(conv, 1))};
    kc_tensor *g[3];
    kc_status rc = kc_tape_gradient(tape, y, src, 3, g, err);
    for (int i = 0; rc == KC_OK && i < 3; i++) kc_tensor_unref(g[i]);
    kc_tensor_unref(y);
    kc_tape_free(tape);
    return rc != KC_OK;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    kc_set_num_threads(threads);
    const int n = 32, h = 32, w = 32, c = 64, f = 64, k = 3;
    const int m = n * h * w, kk = k * k * c;
    kc_error err = {0};
    kc_object *conv = kc_layer_create("Conv2D", "{\"filters\": 64, \"kernel_size\": 3, \"padding\": \"same\"}", &err);
    kc_tensor *x = kc_tensor_full(KC_FLOAT32, 4, (int64_t[]){n, h, w, c}, 0.5, &err);
    float *col = filled((size_t)m * kk, 0.5f), *wt = filled((size_t)kk * f, 0.25f);
    float *y = filled((size_t)m * f, 0.0f), *g = filled((size_t)m * f, 1.0f), *dw = filled((size_t)kk * f, 0.0f);
    if (!conv || !x || !col || !wt || !y || !g || !dw) {
        fprintf(stderr, "setup failed: %s\n", err.message);
        return 1;
    }
    const int reps = 15;
    double t_op[15], t_bl[15];
    for (int r = 0; r < 2; r++) {
        if (layer_step(conv, x, &err)) {
            fprintf(stderr, "layer step failed: %s (%s)\n", err.message, err.context);
            return 1;
        }
    }
    for (int r = 0; r < reps + 1; r++) {
        openblas_set_num_threads(threads);
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, f, kk, 1.0f, col, kk, wt, f, 0.0f, y, f);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, kk, f, 1.0f, g, f, wt, f, 0.0f, col, kk);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, f, m, 1.0f, col, kk, g, f, 0.0f, dw, f);
        double t1 = now();
        openblas_set_num_threads(1);
        if (layer_step(conv, x, &err)) return 1;
        double t2 = now();
        if (r == 0) continue; /* the first round warms the sgemm buffers */
        t_bl[r - 1] = t1 - t0;
        t_op[r - 1] = t2 - t1;
    }
    double mb = median(t_bl, reps), mo = median(t_op, reps);
    double flops = 3 * 2.0 * m * (double)kk * f;
    printf("bench/conv: Conv2D 3x3 %d->%d, %dx%d input, batch %d, forward + backward, %d thread(s)\n", c, f,
           h, w, n, threads);
    printf("sgemm ceiling %.2f ms (%.1f GFLOP/s), layer on the tape %.2f ms (%.1f GFLOP/s)\n", mb * 1e3,
           flops / mb * 1e-9, mo * 1e3, flops / mo * 1e-9);
    printf("ratio_vs_sgemm_ceiling: %.3f\n", mb / mo);
    printf("backends: %s\n", kc_compute_backends());
    free(col), free(wt), free(y), free(g), free(dw);
    kc_tensor_unref(x);
    kc_object_unref(conv);
    kc_release_caches();
    return 0;
}
