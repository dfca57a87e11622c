/* bench/lstm: an LSTM(128) layer over 100 steps, batch 64, 64 input
 * features, forward and backward (the gradients of sum(output) w.r.t. the
 * kernel, the recurrent kernel and the bias, on a gradient tape), against
 * the matrix products that computation cannot avoid, timed with bare
 * cblas_sgemm in the same run:
 *   forward:  x @ W over (batch * steps, in), then per step h @ U;
 *   backward: per step dz @ U^T, then dW = x^T dz and dU = h^T dz over all
 *             steps.
 * Prints ratio_vs_sgemm_ceiling = time(those GEMMs) / time(ckeras): 1.0
 * would mean the gates, the tape and everything else cost nothing; the
 * target is >= 0.6. Each timing is the median of several repetitions
 * after a warm-up. Usage: bench_lstm [threads] (default 1). */
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

enum { BATCH = 64, STEPS = 100, IN = 64, UNITS = 128, GATES = 4 * UNITS, REPS = 15 };

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

static int fail(const kc_error *err)
{
    fprintf(stderr, "bench/lstm: %s (%s)\n", err->message, err->context);
    return 1;
}

/* One forward + backward pass through the layer. */
static int step(kc_object *lstm, kc_tensor *x, kc_error *err)
{
    kc_tape *tape = kc_tape_begin(0, err);
    if (!tape) return 1;
    kc_tensor *y = kc_layer_call1(lstm, x, true, err);
    kc_tape_end(tape);
    kc_tensor *src[3], *g[3] = {0};
    for (int i = 0; i < 3; i++) src[i] = kc_variable_value(kc_layer_weight(lstm, i));
    int rc = !y || kc_tape_gradient(tape, y, src, 3, g, err) != KC_OK;
    for (int i = 0; i < 3; i++) kc_tensor_unref(g[i]);
    kc_tensor_unref(y);
    kc_tape_free(tape);
    return rc;
}

/* The same GEMMs with bare cblas_sgemm. */
static void ceiling(const float *x, const float *w, const float *u, float *z, float *h, float *dh, float *dw,
                    float *du)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, STEPS * BATCH, GATES, IN, 1.0f, x, IN, w, GATES, 1.0f, z,
                GATES);
    for (int t = 0; t < STEPS; t++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, GATES, UNITS, 1.0f, h + (size_t)t * BATCH * UNITS,
                    UNITS, u, GATES, 1.0f, z + (size_t)t * BATCH * GATES, GATES);
    for (int t = STEPS - 1; t >= 0; t--)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, UNITS, GATES, 1.0f, z + (size_t)t * BATCH * GATES,
                    GATES, u, GATES, 0.0f, dh, UNITS);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IN, GATES, STEPS * BATCH, 1.0f, x, IN, z, GATES, 0.0f, dw,
                GATES);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, UNITS, GATES, STEPS * BATCH, 1.0f, h, UNITS, z, GATES, 0.0f,
                du, GATES);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    kc_set_num_threads(threads);
    kc_error err = {0};
    kc_object *lstm = kc_layer_create("LSTM", "{\"units\": 128}", &err);
    kc_tensor *x = kc_tensor_empty(KC_FLOAT32, 3, (int64_t[]){BATCH, STEPS, IN}, &err);
    if (!lstm || !x) return fail(&err);
    kc_rng_fill_uniform(kc_global_rng(), kc_tensor_f32(x), (size_t)kc_tensor_size(x), -1.0f, 1.0f);
    size_t nz = (size_t)STEPS * BATCH * GATES, nh = (size_t)(STEPS + 1) * BATCH * UNITS;
    float *z = calloc(nz, sizeof(float)), *h = calloc(nh, sizeof(float)), *dh = calloc((size_t)BATCH * UNITS, sizeof(float));
    float *dw = calloc((size_t)IN * GATES, sizeof(float)), *du = calloc((size_t)UNITS * GATES, sizeof(float));
    if (!z || !h || !dh || !dw || !du) {
        fprintf(stderr, "bench/lstm: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < nh; i++) h[i] = 0.01f * (float)(i % 97);
    const float *w = NULL, *u = NULL;
    double t_kc[REPS], t_bl[REPS];
    for (int r = 0; r < 2; r++) { /* warm up (and build the layer) */
        if (step(lstm, x, &err)) return fail(&err);
        u = kc_tensor_cdata(kc_variable_value(kc_layer_weight(lstm, 1)));
        w = kc_tensor_cdata(kc_variable_value(kc_layer_weight(lstm, 0)));
        ceiling(kc_tensor_cdata(x), w, u, z, h, dh, dw, du);
    }
    for (int r = 0; r < REPS; r++) { /* interleaved, so that drift hits both alike */
        openblas_set_num_threads(threads);
        double t0 = now();
        ceiling(kc_tensor_cdata(x), w, u, z, h, dh, dw, du);
        double t1 = now();
        openblas_set_num_threads(1);
        if (step(lstm, x, &err)) return fail(&err);
        double t2 = now();
        t_bl[r] = t1 - t0;
        t_kc[r] = t2 - t1;
    }
    double mb = median(t_bl, REPS), mk = median(t_kc, REPS);
    double flops = 2.0 * STEPS * BATCH * GATES * (2.0 * IN + 3.0 * UNITS);
    printf("bench/lstm: LSTM(%d), %d steps, batch %d, %d inputs, forward + backward, %d thread(s)\n", UNITS, STEPS,
           BATCH, IN, threads);
    printf("sgemm ceiling %.2f ms (%.1f GFLOP/s), ckeras %.2f ms\n", mb * 1e3, flops / mb * 1e-9, mk * 1e3);
    printf("ratio_vs_sgemm_ceiling: %.3f\n", mb / mk);
    free(z), free(h), free(dh), free(dw), free(du);
    kc_tensor_unref(x);
    kc_object_unref(lstm);
    kc_release_caches();
    return 0;
}
