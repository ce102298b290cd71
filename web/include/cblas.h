/* cblas.h - the two CBLAS routines nn/ calls, for the browser build (web/blas.c), where there is
 * no OpenBLAS. Same names and argument order as the reference CBLAS; row-major only. */
#ifndef WEB_CBLAS_H
#define WEB_CBLAS_H

enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };

/* C = alpha * op(A) op(B) + beta * C, op(A) m x k, op(B) k x n, C m x n (row-major). */
void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m,
                 int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc);
/* y = alpha * op(A) x + beta * y, A m x n (row-major). */
void cblas_sgemv(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, int m, int n, float alpha,
                 const float *a, int lda, const float *x, int incx, float beta, float *y, int incy);

/* OpenBLAS's thread setter, which nn_set_threads calls: one thread here. */
void openblas_set_num_threads(int n);

#endif
