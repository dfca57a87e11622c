/* The CBLAS door: every BLAS call in ckeras goes through these wrappers, so
 * that one file includes <cblas.h> and knows the library's quirks. */
#ifndef CKERAS_BLAS_INT_H
#define CKERAS_BLAS_INT_H

#include <stdbool.h>
#include <stdint.h>

/* C = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X or X^T.
 * op(A) is m x k, op(B) is k x n, C is m x n. Big products are shared out
 * over the worker pool (the same values for any number of threads). */
void kc__sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc);

/* What OpenBLAS says of itself (version, build, the kernels it chose).
 * Returns: static string. */
const char *kc__blas_name(void);

/* Called when the thread setting changes: OpenBLAS stays on one thread,
 * ckeras' pool shares out the products. */
void kc__blas_set_threads(int n);

#endif /* CKERAS_BLAS_INT_H */
