/* bench/matmul: kc_matmul (allocation + recording checks + cblas_sgemm)
 * against calling cblas_sgemm directly on the same shapes, in the same run.
 * Prints, per shape, ratio_vs_sgemm = time(sgemm) / time(kc_matmul): 1.0
 * means the op adds nothing; the target is >= 0.95 from 64x512x256 up.
 * Each timing is the median of many repetitions after a warm-up. */
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

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    kc_set_num_threads(threads);
    static const int shapes[][3] = {{32, 64, 64},    {64, 512, 256},   {128, 512, 512},
                                    {256, 784, 512}, {512, 512, 512},  {256, 1024, 1024}};
    printf("bench/matmul: kc_matmul vs cblas_sgemm, %d thread(s)\n", threads);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        kc_error err = {0};
        kc_tensor *a = kc_tensor_full(KC_FLOAT32, 2, (int64_t[]){m, k}, 0.5, &err);
        kc_tensor *b = kc_tensor_full(KC_FLOAT32, 2, (int64_t[]){k, n}, 0.25, &err);
        float *c = malloc(sizeof(float) * (size_t)m * (size_t)n);
        if (!a || !b || !c) {
            fprintf(stderr, "allocation failed\n");
            return 1;
        }
        double flops = 2.0 * m * n * k;
        int reps = (int)(2e9 / flops);
        if (reps < 5) reps = 5;
        if (reps > 400) reps = 400;
        double *t_op = malloc(sizeof(double) * (size_t)reps), *t_bl = malloc(sizeof(double) * (size_t)reps);
        /* warm up both paths (and the buffer cache) */
        for (int r = 0; r < 3; r++) {
            kc_tensor_unref(kc_matmul(a, b, false, false, &err));
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f,
                        kc_tensor_f32(a), k, kc_tensor_f32(b), n, 0.0f, c, n);
        }
        /* interleave so that frequency drift hits both alike */
        for (int r = 0; r < reps; r++) {
            openblas_set_num_threads(threads);
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f,
                        kc_tensor_f32(a), k, kc_tensor_f32(b), n, 0.0f, c, n);
            double t1 = now();
            openblas_set_num_threads(1);
            kc_tensor *out = kc_matmul(a, b, false, false, &err);
            double t2 = now();
            kc_tensor_unref(out);
            t_bl[r] = t1 - t0;
            t_op[r] = t2 - t1;
        }
        double mb = median(t_bl, reps), mo = median(t_op, reps);
        printf("shape %dx%dx%d: sgemm %.1f us (%.1f GFLOP/s), kc_matmul %.1f us, ratio_vs_sgemm: %.3f\n",
               m, k, n, mb * 1e6, flops / mb * 1e-9, mo * 1e6, mb / mo);
        free(t_op);
        free(t_bl);
        free(c);
        kc_tensor_unref(a);
        kc_tensor_unref(b);
    }
    kc_release_caches();
    return 0;
}
