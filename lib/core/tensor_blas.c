/* The CBLAS door: every BLAS call in ckeras goes through these wrappers, so
 * that one file includes <cblas.h> and knows the library's quirks. OpenBLAS
 * is reached through its CBLAS interface; dimensions above INT_MAX (CBLAS
 * takes int) are split into several calls along m and n. Keeping the door
 * narrow means another BLAS can be dropped in by changing this file alone.
 *
 * Threads: one pool decides. OpenBLAS keeps a pool of its own whose idle
 * threads spin for a while after each product; next to ckeras' worker pool
 * (parallel.c), which runs the elementwise work between the products, the
 * two fought over the cores and a second thread bought nothing. So OpenBLAS
 * runs single-threaded, and a product big enough to share is cut here into
 * one block of rows (or columns) per thread of ckeras' pool, each block one
 * single-threaded sgemm. Cutting does not change any value: an element of C
 * is accumulated over k in the same order whatever rows are computed with
 * it, and blocks stay above the size where OpenBLAS switches to its
 * small-matrix kernels. Products asked for from inside a worker (a kernel
 * that is already parallel) run whole on that thread. */
#include "blas_int.h"
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <stdio.h>
#include <pthread.h>

/* MACs below which a product runs on one thread; also the least work per
 * block (OpenBLAS 0.3.21's small-matrix path is for M*N*K <= 10^6). */
#define SPLIT_MIN_MACS 2000000.0

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_single_thread(void) { openblas_set_num_threads(1); }

const char *kc__blas_name(void)
{
    static char name[96];
    snprintf(name, sizeof(name), "%s, %s kernels", openblas_get_config(), openblas_get_corename());
    return name;
}

void kc__blas_set_threads(int n)
{
    (void)n; /* ckeras' pool takes the threads; OpenBLAS stays on one */
    pthread_once(&blas_once, blas_single_thread);
}

static void sgemm_whole(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                        int64_t ldc)
{
    /* Split oversized problems into blocks CBLAS can express. The leading
     * dimensions must fit in int as well; callers' tensors are limited by
     * memory well before that matters for k. */
    const int64_t cap = INT_MAX / 2;
    for (int64_t i0 = 0; i0 < m; i0 += cap) {
        int64_t mb = m - i0 < cap ? m - i0 : cap;
        for (int64_t j0 = 0; j0 < n; j0 += cap) {
            int64_t nb = n - j0 < cap ? n - j0 : cap;
            const float *ab = trans_a ? a + i0 : a + i0 * lda;
            const float *bb = trans_b ? b + j0 * ldb : b + j0;
            cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                        trans_b ? CblasTrans : CblasNoTrans, (int)mb, (int)nb, (int)k, alpha, ab,
                        (int)lda, bb, (int)ldb, beta, c + i0 * ldc + j0, (int)ldc);
        }
    }
}

typedef struct split_job {
    bool trans_a, trans_b, by_rows;
    int64_t m, n, k, lda, ldb, ldc, step;
    float alpha, beta;
    const float *a, *b;
    float *c;
} split_job;

static void split_block(void *ctx, int64_t p0, int64_t p1)
{
    const split_job *j = ctx;
    for (int64_t p = p0; p < p1; p++) {
        int64_t s = p * j->step, len = j->by_rows ? j->m : j->n;
        int64_t e = s + j->step < len ? s + j->step : len;
        if (s >= e) continue;
        if (j->by_rows) {
            const float *ab = j->trans_a ? j->a + s : j->a + s * j->lda;
            sgemm_whole(j->trans_a, j->trans_b, e - s, j->n, j->k, j->alpha, ab, j->lda, j->b, j->ldb, j->beta,
                        j->c + s * j->ldc, j->ldc);
        } else {
            const float *bb = j->trans_b ? j->b + s * j->ldb : j->b + s;
            sgemm_whole(j->trans_a, j->trans_b, j->m, e - s, j->k, j->alpha, j->a, j->lda, bb, j->ldb, j->beta,
                        j->c + s, j->ldc);
        }
    }
}

void kc__sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        /* op(A)*op(B) is a zero matrix: C = beta * C */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    pthread_once(&blas_once, blas_single_thread);
    double macs = (double)m * (double)n * (double)k;
    int threads = kc__num_threads();
    int parts = (int)(macs / SPLIT_MIN_MACS);
    if (parts > threads) parts = threads;
    if (parts < 2) {
        sgemm_whole(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    /* Cut the dimension whose other operand is cheaper to pack again in
     * every block: rows copy B per block, columns copy A. Blocks are
     * multiples of 16 (OpenBLAS' kernels' widths) when there is room. */
    split_job j = {trans_a, trans_b, (double)m * (double)k >= (double)k * (double)n || n < 32,
                   m, n, k, lda, ldb, ldc, 0, alpha, beta, a, b, c};
    int64_t len = j.by_rows ? m : n;
    if (len < 2 * parts) {
        sgemm_whole(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    j.step = (len + parts - 1) / parts;
    if (len >= 16 * parts) j.step = (j.step + 15) / 16 * 16;
    kc__parallel_for(parts, 1, split_block, &j);
}
