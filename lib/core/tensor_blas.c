/* The one file that includes <cblas.h>. OpenBLAS is reached through its
 * CBLAS interface; dimensions above INT_MAX (CBLAS takes int) are split into
 * several calls along m and n. Keeping the door narrow means another BLAS
 * can be dropped in by changing this file alone. */
#include "blas_int.h"

#include <cblas.h>
#include <limits.h>

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

void kc__blas_set_threads(int n) { openblas_set_num_threads(n); }
