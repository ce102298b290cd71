/* wino43.h - the 1-D transforms of Winograd's F(4, 3) on vectors (internal to src/nn): shared by
 * training's F(4x4, 3x3) (winograd.c, lanes = tiles) and inference's (infer.c, lanes = channels).
 * A 2-D transform is the 1-D one down the columns, then along the rows. Include after simd.h. */
#ifndef NN_WINO43_H
#define NN_WINO43_H

#include "simd.h"

/* Each from x (stride sx vectors) to y (stride sy). Written out rather than as matrix products:
 * without -ffast-math a compiler may not drop the products by 0. */

/* y = G x (3 -> 6): the filter */
DG_INLINE void g_1d(vf16 *y, int sy, const vf16 *x, int sx)
{
    const vf16 x0 = x[0], x1 = x[sx], x2 = x[2 * sx];
    const vf16 a = (x0 + x2) * (-1.0f / 6.0f), b = x0 * (1.0f / 24.0f) + x2 * (1.0f / 6.0f);
    y[0] = x0 * 0.25f;
    y[sy] = a - x1 * (1.0f / 6.0f);
    y[2 * sy] = a + x1 * (1.0f / 6.0f);
    y[3 * sy] = b + x1 * (1.0f / 12.0f);
    y[4 * sy] = b - x1 * (1.0f / 12.0f);
    y[5 * sy] = x2;
}

/* y = G^T x (6 -> 3), the adjoint of g_1d */
DG_INLINE void gt_1d(vf16 *y, int sy, const vf16 *x, int sx)
{
    const vf16 x0 = x[0], x1 = x[sx], x2 = x[2 * sx], x3 = x[3 * sx], x4 = x[4 * sx],
               x5 = x[5 * sx];
    y[0] = x0 * 0.25f - (x1 + x2) * (1.0f / 6.0f) + (x3 + x4) * (1.0f / 24.0f);
    y[sy] = (x2 - x1) * (1.0f / 6.0f) + (x3 - x4) * (1.0f / 12.0f);
    y[2 * sy] = (x3 + x4 - x1 - x2) * (1.0f / 6.0f) + x5;
}

/* y = B^T x (6 -> 6): the input */
DG_INLINE void bt_1d(vf16 *y, int sy, const vf16 *x, int sx)
{
    const vf16 x0 = x[0], x1 = x[sx], x2 = x[2 * sx], x3 = x[3 * sx], x4 = x[4 * sx],
               x5 = x[5 * sx];
    y[0] = 4.0f * x0 - 5.0f * x2 + x4;
    y[sy] = x3 + x4 - 4.0f * (x1 + x2);
    y[2 * sy] = x4 - x3 + 4.0f * (x1 - x2);
    y[3 * sy] = x4 - x2 + 2.0f * (x3 - x1);
    y[4 * sy] = x4 - x2 + 2.0f * (x1 - x3);
    y[5 * sy] = 4.0f * x1 - 5.0f * x3 + x5;
}

/* y = B x (6 -> 6), the adjoint of bt_1d */
DG_INLINE void b_1d(vf16 *y, int sy, const vf16 *x, int sx)
{
    const vf16 x0 = x[0], x1 = x[sx], x2 = x[2 * sx], x3 = x[3 * sx], x4 = x[4 * sx],
               x5 = x[5 * sx];
    y[0] = 4.0f * x0;
    y[sy] = 4.0f * (x2 - x1 + x5) + 2.0f * (x4 - x3);
    y[2 * sy] = -5.0f * x0 - 4.0f * (x1 + x2) - x3 - x4;
    y[3 * sy] = x1 - x2 + 2.0f * (x3 - x4) - 5.0f * x5;
    y[4 * sy] = x0 + x1 + x2 + x3 + x4;
    y[5 * sy] = x5;
}

/* y = A^T x (6 -> 4): the output */
DG_INLINE void at_1d(vf16 *y, int sy, const vf16 *x, int sx)
{
    const vf16 x1 = x[sx], x2 = x[2 * sx], x3 = x[3 * sx], x4 = x[4 * sx];
    const vf16 p12 = x1 + x2, m12 = x1 - x2, p34 = x3 + x4, m34 = x3 - x4;
    y[0] = x[0] + p12 + p34;
    y[sy] = m12 + 2.0f * m34;
    y[2 * sy] = p12 + 4.0f * p34;
    y[3 * sy] = m12 + 8.0f * m34 + x[5 * sx];
}

/* y = A x (4 -> 6), the adjoint of at_1d */
DG_INLINE void a_1d(vf16 *y, int sy, const vf16 *x, int sx)
{
    const vf16 x0 = x[0], x1 = x[sx], x2 = x[2 * sx], x3 = x[3 * sx];
    const vf16 p02 = x0 + x2, p13 = x1 + x3;
    y[0] = x0;
    y[sy] = p02 + p13;
    y[2 * sy] = p02 - p13;
    y[3 * sy] = x0 + 2.0f * x1 + 4.0f * x2 + 8.0f * x3;
    y[4 * sy] = x0 - 2.0f * x1 + 4.0f * x2 - 8.0f * x3;
    y[5 * sy] = x3;
}

#endif
