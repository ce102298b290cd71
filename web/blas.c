/* blas.c - single-precision matrix products for the browser build, where OpenBLAS does not run:
 * loops ordered so the innermost one runs along a row of C with unit stride, which clang turns into
 * WASM SIMD128 (-msimd128). Only what nn/ calls: sgemm in all four transpositions, sgemv. Row-major
 * only: nn/ never asks for column-major. */
#include <stddef.h>

#include "cblas.h"

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m,
                 int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc)
{
    (void)order;
    for (int i = 0; i < m; i++) {
        float *restrict ci = c + (size_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++)
                ci[j] = 0.0f;
        else if (beta != 1.0f)
            for (int j = 0; j < n; j++)
                ci[j] *= beta;
        for (int p = 0; p < k; p++) {
            const float aip =
                alpha * (ta == CblasNoTrans ? a[(size_t)i * lda + p] : a[(size_t)p * lda + i]);
            if (aip == 0.0f)
                continue;
            if (tb == CblasNoTrans) {
                const float *restrict bp = b + (size_t)p * ldb;
                for (int j = 0; j < n; j++)
                    ci[j] += aip * bp[j];
            } else {
                for (int j = 0; j < n; j++)
                    ci[j] += aip * b[(size_t)j * ldb + p];
            }
        }
    }
}

void openblas_set_num_threads(int n)
{
    (void)n;
}

void cblas_sgemv(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, int m, int n, float alpha,
                 const float *a, int lda, const float *x, int incx, float beta, float *y, int incy)
{
    (void)order;
    const int rows = ta == CblasNoTrans ? m : n, cols = ta == CblasNoTrans ? n : m;
    for (int i = 0; i < rows; i++) {
        float s = 0.0f;
        for (int j = 0; j < cols; j++)
            s += (ta == CblasNoTrans ? a[(size_t)i * lda + j] : a[(size_t)j * lda + i]) *
                 x[(size_t)j * incx];
        y[(size_t)i * incy] = alpha * s + (beta == 0.0f ? 0.0f : beta * y[(size_t)i * incy]);
    }
}
