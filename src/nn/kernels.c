/* kernels.c - tuned layer kernels: im2col + sgemm convolutions over the whole batch, OpenMP for
 * our own loops. BLAS is the OpenMP build of OpenBLAS, so it shares our one thread pool and runs
 * single-threaded when called inside a parallel region. Every reduction has a fixed order, so a
 * given thread count gives bit-identical results run to run. */
#include "kernels.h"

#include "dg.h"
#include "simd.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Hot kernels are compiled for three x86-64 levels (DG_HOT in dg.h); static helpers are inlined
 * into each clone (DG_INLINE). */
/* cols[(ci*k + ky)*k + kx][(ni*oh + oy)*ow + ox] = in[ci][ni][oy+ky-pad][ox+kx-pad], 0 outside. */
/* Short-row helpers with restrict, so their loops vectorise without run-time alias checks. */
DG_INLINE void copy_row(float *restrict d, const float *restrict s, int n)
{
    for (int i = 0; i < n; i++)
        d[i] = s[i];
}

DG_INLINE void add_row(float *restrict d, const float *restrict s, int n)
{
    for (int i = 0; i < n; i++)
        d[i] += s[i];
}

DG_INLINE void im2col(float *cols, const float *in, int n, int c, int h, int wd, int k, int pad)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    const size_t np = (size_t)n * oh * ow;
    const int rows = c * k * k;
    /* (row, sample) pairs: the first layer has only k*k rows, too few to share out alone. */
#pragma omp parallel for collapse(2) schedule(static)
    for (int r = 0; r < rows; r++) {
        for (int ni = 0; ni < n; ni++) {
            const int ci = r / (k * k), ky = (r / k) % k, kx = r % k;
            const int x0 = kx - pad; /* input column of ox = 0 */
            const int ox_lo = x0 < 0 ? -x0 : 0, ox_hi = wd - x0 < ow ? wd - x0 : ow;
            float *d = cols + (size_t)r * np + (size_t)ni * oh * ow;
            const float *plane = in + ((size_t)ci * n + ni) * h * wd;
            for (int oy = 0; oy < oh; oy++, d += ow) {
                const int y = oy + ky - pad;
                if (y < 0 || y >= h) {
                    for (int ox = 0; ox < ow; ox++)
                        d[ox] = 0.0f;
                    continue;
                }
                const float *srow = plane + (size_t)y * wd + x0;
                for (int ox = 0; ox < ox_lo; ox++)
                    d[ox] = 0.0f;
                if (ox_hi > ox_lo) /* short rows: an inlined loop, not a memcpy call */
                    copy_row(d + ox_lo, srow + ox_lo, ox_hi - ox_lo);
                for (int ox = ox_hi > ox_lo ? ox_hi : ox_lo; ox < ow; ox++)
                    d[ox] = 0.0f;
            }
        }
    }
}

/* The adjoint of im2col: din[ci][ni][y][x] = sum of the dcols entries that im2col copied from it.
 * Parallel over input channels, so no two threads write the same plane. */
DG_INLINE void col2im(float *din, const float *dcols, int n, int c, int h, int wd, int k, int pad)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    const size_t np = (size_t)n * oh * ow;
#pragma omp parallel for schedule(static)
    for (int ci = 0; ci < c; ci++) {
        float *chan = din + (size_t)ci * n * h * wd;
        memset(chan, 0, (size_t)n * h * wd * sizeof *chan);
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *src = dcols + ((size_t)(ci * k + ky) * k + kx) * np;
                for (int ni = 0; ni < n; ni++) {
                    float *plane = chan + (size_t)ni * h * wd;
                    for (int oy = 0; oy < oh; oy++) {
                        const int y = oy + ky - pad;
                        if (y < 0 || y >= h)
                            continue;
                        const float *s = src + ((size_t)ni * oh + oy) * ow;
                        float *drow = plane + (size_t)y * wd;
                        int ox0 = pad - kx > 0 ? pad - kx : 0;
                        int ox1 = wd + pad - kx < ow ? wd + pad - kx : ow;
                        if (ox1 > ox0)
                            add_row(drow + ox0 + kx - pad, s + ox0, ox1 - ox0);
                    }
                }
            }
    }
}

DG_HOT void nn_conv2d_forward(float *out, float *cols, const float *in, const float *w,
                              const float *b, int n, int c, int h, int wd, int oc, int k, int pad,
                              int relu)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    const int np = n * oh * ow, kk = c * k * k;
    im2col(cols, in, n, c, h, wd, k, pad);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, oc, np, kk, 1.0f, w, kk, cols, np, 0.0f,
                out, np);
    if (!b)
        return;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < oc; o++) {
        float *row = out + (size_t)o * np;
        const float bo = b[o];
        if (relu)
            for (int i = 0; i < np; i++)
                row[i] = row[i] + bo > 0.0f ? row[i] + bo : 0.0f;
        else
            for (int i = 0; i < np; i++)
                row[i] += bo;
    }
}

/* dw[oc][kk] += dout[oc][np] . cols[kk][np]^T. A small dw over a long np (the first layer: 32x9
 * over 86,528 columns) does not parallelise inside sgemm, so the columns are split among the
 * threads, each multiplies its share single-threaded, and the partial sums are added in thread
 * order: deterministic for a given thread count. */
enum { SPLIT_MAX_THREADS = 8, SPLIT_MAX_DW = 2048 };
static void weight_grad(float *dw, const float *dout, const float *cols, int oc, int kk, int np)
{
    const int nt = max_threads();
    if (nt < 2 || nt > SPLIT_MAX_THREADS || oc * kk > SPLIT_MAX_DW || np < 64 * nt) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, oc, kk, np, 1.0f, dout, np, cols, np,
                    1.0f, dw, kk);
        return;
    }
    float part[SPLIT_MAX_THREADS][SPLIT_MAX_DW];
#pragma omp parallel num_threads(nt)
    {
        const int t = thread_id();
        const int lo = (int)((long)np * t / nt), hi = (int)((long)np * (t + 1) / nt);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, oc, kk, hi - lo, 1.0f, dout + lo, np,
                    cols + lo, np, 0.0f, part[t], kk);
    }
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < oc * kk; j++)
            dw[j] += part[t][j];
}

DG_HOT void nn_conv2d_backward(float *din, float *dw, float *db, float *dcols, const float *dout,
                               const float *cols, const float *w, int n, int c, int h, int wd,
                               int oc, int k, int pad)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    const int np = n * oh * ow, kk = c * k * k;
    weight_grad(dw, dout, cols, oc, kk, np);
    if (db) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < oc; o++)
            db[o] += sum_lanes(dout + (size_t)o * np, (size_t)np);
    }
    if (!din)
        return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, np, oc, 1.0f, w, kk, dout, np, 0.0f,
                dcols, np);
    col2im(din, dcols, n, c, h, wd, k, pad);
}

/* One output row of 2x2 pooling from input rows r0, r1: the first of equal maxima wins (in the
 * order r0[2x], r0[2x+1], r1[2x], r1[2x+1]), then + bias and, when relu, max(0, .). Branch-free
 * so it vectorises. */
DG_INLINE void pool2_row(float *dst, uint8_t *am, const float *r0, const float *r1, float bias,
                         int relu, int pw)
{
    const float floor = relu ? 0.0f : -INFINITY;
    for (int px = 0; px < pw; px++) {
        const float a = r0[2 * px], b = r0[2 * px + 1], c = r1[2 * px], d = r1[2 * px + 1];
        /* Comparisons as 0/1 integers and max operations only: real data would mispredict
         * branches on every other window. */
        const int c1 = b > a, c2 = d > c;
        const float m1 = b > a ? b : a, m2 = d > c ? d : c;
        const int c3 = m2 > m1;
        const float best = (m2 > m1 ? m2 : m1) + bias;
        dst[px] = best > floor ? best : floor;
        am[px] = (uint8_t)(c1 + c3 * (2 + c2 - c1));
    }
}

DG_INLINE void maxpool2(float *dst, uint8_t *am, const float *src, int h, int w)
{
    const int oh = h / 2, ow = w / 2;
    for (int oy = 0; oy < oh; oy++)
        pool2_row(dst + (size_t)oy * ow, am + (size_t)oy * ow, src + (size_t)(2 * oy) * w,
                  src + (size_t)(2 * oy + 1) * w, 0.0f, 0, ow);
}

DG_HOT void nn_maxpool_forward(float *out, uint8_t *argmax, const float *in, int n_planes, int h,
                               int w, int k)
{
    const int oh = h / k, ow = w / k;
#pragma omp parallel for schedule(static)
    for (int p = 0; p < n_planes; p++) {
        const float *src = in + (size_t)p * h * w;
        float *dst = out + (size_t)p * oh * ow;
        uint8_t *am = argmax + (size_t)p * oh * ow;
        if (k == 2) {
            maxpool2(dst, am, src, h, w);
            continue;
        }
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *win = src + (size_t)(oy * k) * w + ox * k;
                float best = win[0];
                int bi = 0;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                        if (win[(size_t)ky * w + kx] > best) {
                            best = win[(size_t)ky * w + kx];
                            bi = ky * k + kx;
                        }
                dst[oy * ow + ox] = best;
                am[oy * ow + ox] = (uint8_t)bi;
            }
    }
}

DG_HOT void nn_maxpool_backward(float *din, const float *dout, const uint8_t *argmax,
                                const float *out, int n_planes, int h, int w, int k)
{
    const int oh = h / k, ow = w / k;
#pragma omp parallel for schedule(static)
    for (int p = 0; p < n_planes; p++) {
        float *dst = din + (size_t)p * h * w;
        const float *src = dout + (size_t)p * oh * ow;
        const float *fwd = out ? out + (size_t)p * oh * ow : NULL;
        const uint8_t *am = argmax + (size_t)p * oh * ow;
        memset(dst, 0, (size_t)h * w * sizeof *dst);
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const int j = oy * ow + ox, bi = am[j];
                /* a select, not a branch: the sign of the pooled value is data, not pattern */
                const float g = !fwd || fwd[j] > 0.0f ? src[j] : 0.0f;
                dst[(size_t)(oy * k + bi / k) * w + ox * k + bi % k] = g;
            }
    }
}

/* Pools pk rows of one plane's un-ReLU'd output: max with first-wins argmax, then + bias and
 * ReLU (a per-plane constant does not change the winner, and ReLU commutes with max). */
DG_INLINE void pool_rows(float *dst, uint8_t *am, const float *rows, float bias, int ow, int pw,
                         int pk)
{
    if (pk == 2) {
        pool2_row(dst, am, rows, rows + ow, bias, 1, pw);
        return;
    }
    for (int px = 0; px < pw; px++) {
        float best = rows[px * pk];
        int bi = 0;
        for (int ky = 0; ky < pk; ky++)
            for (int kx = 0; kx < pk; kx++) {
                float v = rows[(size_t)ky * ow + px * pk + kx];
                if (v > best) {
                    best = v;
                    bi = ky * pk + kx;
                }
            }
        best += bias;
        dst[px] = best > 0.0f ? best : 0.0f;
        am[px] = (uint8_t)bi;
    }
}

DG_HOT void nn_bias_relu_pool(float *pooled, uint8_t *argmax, const float *raw, const float *b,
                              int oc, int n, int oh, int ow, int pk)
{
    const int ph = oh / pk, pw = ow / pk;
#pragma omp parallel for schedule(static)
    for (int plane = 0; plane < oc * n; plane++)
        for (int py = 0; py < ph; py++)
            pool_rows(pooled + ((size_t)plane * ph + py) * pw,
                      argmax + ((size_t)plane * ph + py) * pw,
                      raw + ((size_t)plane * oh + (size_t)py * pk) * ow, b ? b[plane / n] : 0.0f,
                      ow, pw, pk);
}

/* ---- the direct conv -> ReLU -> pool block --------------------------------------------------- */
enum { VL = 16, DIRECT_MAX_VECS = NN_FUSED_MAX_OC / VL };

/* The geometry of a direct block: the convolution's output rows are computed ow_v floats wide
 * (whole vectors), from input planes copied with their zero padding into rows pin_w floats wide,
 * pin_h of them per channel. */
struct direct {
    int oh, ow, ph, pw, ow_v, pin_w, pin_h, nv;
};

static struct direct direct_geometry(int h, int wd, int k, int pad, int pk)
{
    struct direct d;
    d.oh = h + 2 * pad - k + 1;
    d.ow = wd + 2 * pad - k + 1;
    d.ph = d.oh / pk;
    d.pw = d.ow / pk;
    d.nv = (d.ow + VL - 1) / VL;
    d.ow_v = d.nv * VL;
    d.pin_w = (d.ow_v + k - 1 + VL - 1) / VL * VL;
    d.pin_h = d.oh + k - 1;
    return d;
}

int nn_conv_relu_pool_fits(int c, int h, int wd, int oc, int k, int pad, int pk)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    return c >= 1 && c <= NN_FUSED_MAX_C && k >= 1 && k <= NN_FUSED_MAX_K &&
           c * k * k <= NN_FUSED_MAX_TAPS && oc >= 1 && oc <= NN_FUSED_MAX_OC && oh >= pk &&
           ow >= pk && oh <= NN_FUSED_MAX_W && ow <= NN_FUSED_MAX_W && pk >= 1 &&
           pk <= NN_FUSED_MAX_POOL && pad >= 0 && pad < k;
}

/* pin[ci][y][x] = in[ci][ni][y - pad][x - pad], 0 outside the image. */
DG_INLINE void pad_image(float *restrict pin, const float *restrict in, const struct direct *d,
                         int n, int ni, int c, int h, int wd, int pad)
{
    memset(pin, 0, (size_t)c * d->pin_h * d->pin_w * sizeof *pin);
    for (int ci = 0; ci < c; ci++)
        for (int y = 0; y < h; y++)
            memcpy(pin + ((size_t)ci * d->pin_h + y + pad) * d->pin_w + pad,
                   in + (((size_t)ci * n + ni) * h + y) * wd, (size_t)wd * sizeof *pin);
}

/* acc[0..nv) = output row y of channel o's convolution, from the padded input. nv is a constant
 * at each call, so the accumulators stay in registers. */
DG_INLINE void conv_row(vf16 *acc, int nv, const float *pin, const float *w, const struct direct *d,
                        int c, int k, int o, int y)
{
    for (int v = 0; v < nv; v++)
        acc[v] = (vf16){0};
    for (int ci = 0; ci < c; ci++)
        for (int ky = 0; ky < k; ky++) {
            const float *src = pin + ((size_t)ci * d->pin_h + y + ky) * d->pin_w;
            const float *wr = w + (((size_t)o * c + ci) * k + ky) * k;
            for (int kx = 0; kx < k; kx++)
                for (int v = 0; v < nv; v++) {
                    vf16 x;
                    memcpy(&x, src + kx + v * VL, sizeof x);
                    acc[v] += wr[kx] * x;
                }
        }
}

/* 2x2 pooling of rows r0, r1 (nv vectors each) into pw values and their argmax, exactly as
 * pool2_row does it (first of equal maxima, then + bias and ReLU), 16 windows per step: even and
 * odd columns are pulled apart with shuffles. */
DG_INLINE void pool2_vec(float *dst, uint8_t *am, const vf16 *r0, const vf16 *r1, int nv,
                         float bias, int pw)
{
    const vf16 zero = {0};
    for (int v = 0; v < nv; v += 2) {
        const vf16 a0 = r0[v], b0 = v + 1 < nv ? r0[v + 1] : zero;
        const vf16 a1 = r1[v], b1 = v + 1 < nv ? r1[v + 1] : zero;
#define EVEN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define ODD  1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
        const vf16 e0 = __builtin_shufflevector(a0, b0, EVEN),
                   o0 = __builtin_shufflevector(a0, b0, ODD);
        const vf16 e1 = __builtin_shufflevector(a1, b1, EVEN),
                   o1 = __builtin_shufflevector(a1, b1, ODD);
#undef EVEN
#undef ODD
        vf16 best;
        vi16 win;
        pool2x2(&best, &win, &e0, &o0, &e1, &o1, bias);
        float f[VL];
        int32_t wi[VL];
        memcpy(f, &best, sizeof f);
        memcpy(wi, &win, sizeof wi);
        const int x0 = v / 2 * VL, n_out = pw - x0 < VL ? pw - x0 : VL;
        for (int j = 0; j < n_out; j++) {
            dst[x0 + j] = f[j];
            am[x0 + j] = (uint8_t)wi[j];
        }
    }
}

/* One image's pooled planes for every output channel; NV: the row's vectors (a constant). */
DG_INLINE void direct_image(float *pooled, uint8_t *argmax, const float *pin, const float *w,
                            const float *b, const struct direct *d, int n, int ni, int c, int oc,
                            int k, int pk, int nv)
{
    for (int o = 0; o < oc; o++) {
        const size_t plane = ((size_t)o * n + ni) * d->ph * d->pw;
        const float bias = b ? b[o] : 0.0f;
        for (int py = 0; py < d->ph; py++) {
            float *dst = pooled + plane + (size_t)py * d->pw;
            uint8_t *am = argmax + plane + (size_t)py * d->pw;
            if (pk == 2) {
                vf16 r0[NN_FUSED_MAX_W / VL], r1[NN_FUSED_MAX_W / VL];
                conv_row(r0, nv, pin, w, d, c, k, o, 2 * py);
                conv_row(r1, nv, pin, w, d, c, k, o, 2 * py + 1);
                pool2_vec(dst, am, r0, r1, nv, bias, d->pw);
                continue;
            }
            float rows[NN_FUSED_MAX_POOL * NN_FUSED_MAX_W];
            for (int r = 0; r < pk; r++) {
                vf16 acc[NN_FUSED_MAX_W / VL];
                conv_row(acc, nv, pin, w, d, c, k, o, py * pk + r);
                memcpy(rows + (size_t)r * d->ow_v, acc, (size_t)nv * sizeof *acc);
            }
            pool_rows(dst, am, rows, bias, d->ow_v, d->pw, pk);
        }
    }
}

DG_HOT void nn_conv_relu_pool_forward(float *pooled, uint8_t *argmax, const float *in,
                                      const float *w, const float *b, int n, int c, int h, int wd,
                                      int oc, int k, int pad, int pk)
{
    const struct direct d = direct_geometry(h, wd, k, pad, pk);
#pragma omp parallel for schedule(static)
    for (int ni = 0; ni < n; ni++) {
        float pin[NN_FUSED_MAX_PIN];
        pad_image(pin, in, &d, n, ni, c, h, wd, pad);
        switch (d.nv) { /* a constant vector count per copy */
        case 1: direct_image(pooled, argmax, pin, w, b, &d, n, ni, c, oc, k, pk, 1); break;
        case 2: direct_image(pooled, argmax, pin, w, b, &d, n, ni, c, oc, k, pk, 2); break;
        case 3: direct_image(pooled, argmax, pin, w, b, &d, n, ni, c, oc, k, pk, 3); break;
        default: direct_image(pooled, argmax, pin, w, b, &d, n, ni, c, oc, k, pk, 4); break;
        }
    }
}

/* dconv (rows ph * pk, ow_v floats wide) = the convolution-output gradient of output channel o of
 * image ni: the pooled gradient at each window's winner where the ReLU was open, 0 elsewhere.
 * at[a]: where in dconv, from a window's top-left, its winner a lies. Returns the gradients' sum
 * (the bias's gradient). */
DG_INLINE float unpool(float *restrict dconv, const float *restrict dpooled,
                       const float *restrict pooled, const uint8_t *restrict argmax,
                       const struct direct *d, size_t plane, int pk, const int *at)
{
    if (pk == 2) { /* 16 windows at a time: each gradient doubled across its window's columns,
                    * kept in the row and column its winner names */
        const vi16 left = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, right = left + 2;
        const vf16 zero = {0};
        vf16 sum = zero;
        for (int py = 0; py < d->ph; py++) {
            float *r0 = dconv + (size_t)2 * py * d->ow_v, *r1 = r0 + d->ow_v;
            const size_t row = plane + (size_t)py * d->pw;
            for (int px0 = 0; 2 * px0 < d->ow_v; px0 += VL) {
                const int n_px = d->pw - px0 < VL ? (d->pw - px0 > 0 ? d->pw - px0 : 0) : VL;
                float gp[VL], gd[VL];
                int32_t ga[VL];
                for (int j = 0; j < VL; j++) {
                    const int live = j < n_px;
                    gp[j] = live ? pooled[row + px0 + j] : 0.0f;
                    gd[j] = live ? dpooled[row + px0 + j] : 0.0f;
                    ga[j] = live ? argmax[row + px0 + j] : 0;
                }
                vf16 p, g;
                vi16 a;
                memcpy(&p, gp, sizeof p);
                memcpy(&g, gd, sizeof g);
                memcpy(&a, ga, sizeof a);
                const vi16 open = p > 0.0f;
                select_f(&g, &open, &g, &zero);
                sum += g;
                for (int half = 0; half < 2 && 2 * px0 + VL * half < d->ow_v; half++) {
                    vf16 gx;
                    vi16 ax;
                    if (half == 0) {
                        gx = __builtin_shufflevector(g, g, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                                     7, 7);
                        ax = __builtin_shufflevector(a, a, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                                     7, 7);
                    } else {
                        gx = __builtin_shufflevector(g, g, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
                                                     13, 14, 14, 15, 15);
                        ax = __builtin_shufflevector(a, a, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
                                                     13, 14, 14, 15, 15);
                    }
                    const vi16 top = ax == left, bottom = ax == right;
                    vf16 v0, v1;
                    select_f(&v0, &top, &gx, &zero);
                    select_f(&v1, &bottom, &gx, &zero);
                    memcpy(r0 + 2 * px0 + VL * half, &v0, sizeof v0);
                    memcpy(r1 + 2 * px0 + VL * half, &v1, sizeof v1);
                }
            }
        }
        return hsum(&sum);
    }
    memset(dconv, 0, (size_t)d->ph * pk * d->ow_v * sizeof *dconv);
    float lane[8] = {0};
    for (int py = 0; py < d->ph; py++) {
        float *band = dconv + (size_t)py * pk * d->ow_v;
        const size_t row = plane + (size_t)py * d->pw;
        for (int px = 0; px < d->pw; px++) {
            const float g = pooled[row + px] > 0.0f ? dpooled[row + px] : 0.0f;
            band[px * pk + at[argmax[row + px]]] = g;
            lane[px & 7] += g;
        }
    }
    return ((lane[0] + lane[4]) + (lane[2] + lane[6])) +
           ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

/* dw[kx] += sum over y < rows and x of dconv[y][x] * src[y][x + kx], kx < k, src rows pin_w
 * apart: one row of taps of the weight gradient. k * nv accumulators side by side, so the adds do
 * not wait on each other; k and nv are constants at the calls that matter. */
DG_INLINE void correlate_row(float *dw, const float *dconv, const float *src,
                             const struct direct *d, int rows, int k, int nv)
{
    vf16 acc[NN_FUSED_MAX_K][NN_FUSED_MAX_W / VL];
    for (int kx = 0; kx < k; kx++)
        for (int v = 0; v < nv; v++)
            acc[kx][v] = (vf16){0};
    for (int y = 0; y < rows; y++) {
        const float *srow = src + (size_t)y * d->pin_w, *grow = dconv + (size_t)y * d->ow_v;
        for (int v = 0; v < nv; v++) {
            vf16 g;
            memcpy(&g, grow + v * VL, sizeof g);
            for (int kx = 0; kx < k; kx++) {
                vf16 x;
                memcpy(&x, srow + kx + v * VL, sizeof x);
                acc[kx][v] += g * x;
            }
        }
    }
    for (int kx = 0; kx < k; kx++) {
        for (int v = 1; v < nv; v++)
            acc[kx][0] += acc[kx][v];
        dw[kx] += hsum(&acc[kx][0]);
    }
}

/* din of image ni: each output gradient spread back over its window's inputs in the padded
 * layout (dpin, the image's buffer, free once its dw is done), then the image part copied out. */
DG_INLINE void din_image(float *din, float *dpin, float *dconv, const float *dpooled,
                         const float *pooled, const uint8_t *argmax, const float *w,
                         const struct direct *d, int n, int ni, int c, int h, int wd, int oc, int k,
                         int pad, int pk, const int *at)
{
    const int rows = d->ph * pk;
    memset(dpin, 0, (size_t)c * d->pin_h * d->pin_w * sizeof *dpin);
    for (int o = 0; o < oc; o++) {
        unpool(dconv, dpooled, pooled, argmax, d, ((size_t)o * n + ni) * d->ph * d->pw, pk, at);
        for (int ci = 0; ci < c; ci++)
            for (int ky = 0; ky < k; ky++)
                for (int y = 0; y < rows; y++) {
                    float *dst = dpin + ((size_t)ci * d->pin_h + y + ky) * d->pin_w;
                    const float *wr = w + (((size_t)o * c + ci) * k + ky) * k;
                    for (int kx = 0; kx < k; kx++)
                        for (int v = 0; v < d->nv; v++) {
                            vf16 g, x;
                            memcpy(&g, dconv + (size_t)y * d->ow_v + v * VL, sizeof g);
                            memcpy(&x, dst + kx + v * VL, sizeof x);
                            x += wr[kx] * g;
                            memcpy(dst + kx + v * VL, &x, sizeof x);
                        }
                }
    }
    for (int ci = 0; ci < c; ci++)
        for (int y = 0; y < h; y++)
            memcpy(din + (((size_t)ci * n + ni) * h + y) * wd,
                   dpin + ((size_t)ci * d->pin_h + y + pad) * d->pin_w + pad,
                   (size_t)wd * sizeof *din);
}

DG_HOT void nn_conv_relu_pool_backward(float *din, float *dw, float *db, const float *dpooled,
                                       const float *pooled, const uint8_t *argmax, const float *in,
                                       const float *w, int n, int c, int h, int wd, int oc, int k,
                                       int pad, int pk)
{
    const struct direct d = direct_geometry(h, wd, k, pad, pk);
    const int n_taps = c * k * k, rows = d.ph * pk; /* rows past ph * pk get no gradient */
    int at[NN_FUSED_MAX_POOL * NN_FUSED_MAX_POOL];
    for (int a = 0; a < pk * pk; a++)
        at[a] = (a / pk) * d.ow_v + a % pk;
    const int nt = max_threads();
#pragma omp parallel num_threads(nt)
    {
        const int t = thread_id();
        /* this thread's images, and its partial sums of dw then db */
        const int n0 = (int)((long)n * t / nt), n1 = (int)((long)n * (t + 1) / nt);
        float part[NN_FUSED_MAX_OC * (NN_FUSED_MAX_TAPS + 1)] = {0};
        float pins[NN_FUSED_PIN_BLOCK], dconv[NN_FUSED_MAX_W * NN_FUSED_MAX_W];
        /* Images a block at a time, each output channel over the block's images: the pooled
         * planes of one channel are then read in order (image by image over all channels would
         * jump a whole plane per step, and miss the cache every time). */
        const size_t pin_size = (size_t)c * d.pin_h * d.pin_w;
        const int block = pin_size * 8 <= NN_FUSED_PIN_BLOCK ? 8 : 1;
        for (int b0 = n0; b0 < n1; b0 += block) {
            const int nb = n1 - b0 < block ? n1 - b0 : block;
            for (int j = 0; j < nb; j++)
                pad_image(pins + j * pin_size, in, &d, n, b0 + j, c, h, wd, pad);
            for (int o = 0; o < oc; o++)
                for (int j = 0; j < nb; j++) {
                    const size_t plane = ((size_t)o * n + b0 + j) * d.ph * d.pw;
                    part[NN_FUSED_MAX_OC * NN_FUSED_MAX_TAPS + o] +=
                        unpool(dconv, dpooled, pooled, argmax, &d, plane, pk, at);
                    float *dwo = part + o * NN_FUSED_MAX_TAPS;
                    for (int ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < k; ky++) {
                            const float *src =
                                pins + j * pin_size + ((size_t)ci * d.pin_h + ky) * d.pin_w;
                            float *dst = dwo + (ci * k + ky) * k;
                            if (k == 3 && d.nv == 2) /* the usual first layer, with constants */
                                correlate_row(dst, dconv, src, &d, rows, 3, 2);
                            else if (k == 5 && d.nv == 2)
                                correlate_row(dst, dconv, src, &d, rows, 5, 2);
                            else
                                correlate_row(dst, dconv, src, &d, rows, k, d.nv);
                        }
                }
            if (!din)
                continue;
            for (int j = 0; j < nb; j++)
                din_image(din, pins + j * pin_size, dconv, dpooled, pooled, argmax, w, &d, n,
                          b0 + j, c, h, wd, oc, k, pad, pk, at);
        }
        /* the partial sums, added in thread order */
        for (int r = 0; r < nt; r++) {
#pragma omp barrier
            if (r != t)
                continue;
            for (int o = 0; o < oc; o++) {
                for (int i = 0; i < n_taps; i++)
                    dw[(size_t)o * n_taps + i] += part[o * NN_FUSED_MAX_TAPS + i];
                if (db)
                    db[o] += part[NN_FUSED_MAX_OC * NN_FUSED_MAX_TAPS + o];
            }
        }
    }
}

DG_HOT void nn_relu_forward(float *out, const float *in, size_t n_elems)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n_elems; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

DG_HOT void nn_relu_backward(float *din, const float *dout, const float *out, size_t n_elems)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n_elems; i++)
        din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

DG_HOT void nn_flatten_forward(float *out, const float *in, int n, int c, int hw)
{
#pragma omp parallel for schedule(static)
    for (int ni = 0; ni < n; ni++)
        for (int ci = 0; ci < c; ci++)
            memcpy(out + ((size_t)ni * c + ci) * hw, in + ((size_t)ci * n + ni) * hw,
                   (size_t)hw * sizeof *out);
}

DG_HOT void nn_flatten_backward(float *din, const float *dout, int n, int c, int hw)
{
#pragma omp parallel for schedule(static)
    for (int ci = 0; ci < c; ci++)
        for (int ni = 0; ni < n; ni++)
            memcpy(din + ((size_t)ci * n + ni) * hw, dout + ((size_t)ni * c + ci) * hw,
                   (size_t)hw * sizeof *din);
}

DG_HOT void nn_dense_forward(float *out, const float *in, const float *w, const float *b, int n,
                             int n_in, int n_out, int relu)
{
    for (int ni = 0; ni < n; ni++)
        if (b)
            memcpy(out + (size_t)ni * n_out, b, (size_t)n_out * sizeof *out);
        else
            memset(out + (size_t)ni * n_out, 0, (size_t)n_out * sizeof *out);
    if (n == 1) /* one sample: a matrix-vector product, without GEMM's packing */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n_out, n_in, 1.0f, w, n_in, in, 1, 1.0f, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n_out, n_in, 1.0f, in, n_in, w,
                    n_in, 1.0f, out, n_out);
    if (relu)
        for (size_t i = 0; i < (size_t)n * n_out; i++)
            out[i] = out[i] > 0.0f ? out[i] : 0.0f;
}

DG_HOT void nn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                              const float *w, int n, int n_in, int n_out)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, n, 1.0f, dout, n_out, in,
                n_in, 1.0f, dw, n_in);
    if (db)
        for (int ni = 0; ni < n; ni++)
            for (int o = 0; o < n_out; o++)
                db[o] += dout[(size_t)ni * n_out + o];
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n_in, n_out, 1.0f, dout, n_out, w,
                    n_in, 0.0f, din, n_in);
}

DG_HOT void nn_dropout_forward(float *out, const float *in, const float *mask, size_t n_elems)
{
    for (size_t i = 0; i < n_elems; i++)
        out[i] = in[i] * mask[i];
}

DG_HOT void nn_dropout_backward(float *din, const float *dout, const float *mask, size_t n_elems)
{
    for (size_t i = 0; i < n_elems; i++)
        din[i] = dout[i] * mask[i];
}

void nn_softmax(float *probs, const float *logits, int n, int n_cls)
{
    for (int ni = 0; ni < n; ni++) {
        const float *z = logits + (size_t)ni * n_cls;
        float *p = probs + (size_t)ni * n_cls;
        float mx = z[0];
        for (int j = 1; j < n_cls; j++)
            mx = z[j] > mx ? z[j] : mx;
        float s = 0.0f;
        for (int j = 0; j < n_cls; j++) {
            p[j] = expf(z[j] - mx);
            s += p[j];
        }
        for (int j = 0; j < n_cls; j++)
            p[j] /= s;
    }
}

/* log(1 + e^x) without overflow */
static double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

void nn_junk_probs(float *probs, const float *logits, int n, int n_cls)
{
    const int nd = n_cls - 1;
    for (int ni = 0; ni < n; ni++) {
        const float *z = logits + (size_t)ni * n_cls;
        float *p = probs + (size_t)ni * n_cls;
        nn_softmax(p, z, 1, nd);
        const float s = 1.0f / (1.0f + expf(-z[nd]));
        for (int j = 0; j < nd; j++)
            p[j] *= 1.0f - s;
        p[nd] = s;
    }
}

float nn_junk_xent_backward(float *dlogits, const float *logits, const uint8_t *labels, int n,
                            int n_cls, float eps)
{
    const int nd = n_cls - 1;
    const float inv_n = 1.0f / (float)n;
    const float off = eps / (float)nd, on = 1.0f - eps + off;
    double loss = 0.0;
    float q[256];
    for (int ni = 0; ni < n; ni++) {
        const float *z = logits + (size_t)ni * n_cls;
        const int y = labels[ni], junk = y >= nd;
        const double zj = z[nd];
        const float s = (float)(1.0 / (1.0 + exp(-zj)));
        /* -log s = softplus(-z), -log(1 - s) = softplus(z) */
        loss += junk ? softplus(-zj) : softplus(zj);
        float *d = dlogits ? dlogits + (size_t)ni * n_cls : NULL;
        if (d)
            d[nd] = (s - (junk ? 1.0f : 0.0f)) * inv_n;
        if (junk) {
            for (int j = 0; d && j < nd; j++)
                d[j] = 0.0f;
            continue;
        }
        nn_softmax(q, z, 1, nd);
        for (int j = 0; j < nd; j++) {
            const float t = j == y ? on : off;
            if (t > 0.0f)
                loss -= t * log(q[j] > 1e-30f ? q[j] : 1e-30f);
            if (d)
                d[j] = (q[j] - t) * inv_n;
        }
    }
    return (float)(loss / n);
}

float nn_xent_backward(float *dlogits, const float *probs, const uint8_t *labels, int n, int n_cls,
                       float eps)
{
    double loss = 0.0;
    const float inv_n = 1.0f / (float)n;
    const float off = eps / (float)n_cls, on = 1.0f - eps + off;
    for (int ni = 0; ni < n; ni++) {
        const float *p = probs + (size_t)ni * n_cls;
        for (int j = 0; j < n_cls; j++) {
            const float t = j == labels[ni] ? on : off;
            if (t > 0.0f)
                loss -= t * log(p[j] > 1e-30f ? p[j] : 1e-30f);
        }
        if (dlogits) {
            float *d = dlogits + (size_t)ni * n_cls;
            for (int j = 0; j < n_cls; j++)
                d[j] = (p[j] - (j == labels[ni] ? on : off)) * inv_n;
        }
    }
    return (float)(loss / n);
}

DG_HOT void nn_channel_affine(float *x, const float *scale, const float *shift, int n_ch, size_t m,
                              size_t c_stride, size_t e_stride, int relu)
{
    const float floor = relu ? 0.0f : -INFINITY;
    if (e_stride == 1) {
#pragma omp parallel for schedule(static) if (m * (size_t)n_ch > 65536)
        for (int c = 0; c < n_ch; c++) {
            float *row = x + (size_t)c * c_stride;
            const float a = scale[c], b = shift[c];
            for (size_t j = 0; j < m; j++) {
                const float t = row[j] * a + b;
                row[j] = t > floor ? t : floor;
            }
        }
        return;
    }
    for (size_t j = 0; j < m; j++) /* [n][features]: each sample's row is contiguous */
        for (int c = 0; c < n_ch; c++) {
            float *v = x + (size_t)c * c_stride + j * e_stride;
            const float t = *v * scale[c] + shift[c];
            *v = t > floor ? t : floor;
        }
}

/* Per channel: mean and variance in double (a batch of 128 at 24x24 is 73,728 values; float
 * sums would lose digits), then one pass writing the normalised output. */
void nn_batchnorm_forward(float *out, float *mean, float *var, const float *in, const float *gamma,
                          const float *beta, int n_ch, size_t m, size_t c_stride, size_t e_stride,
                          float eps, int relu)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < n_ch; c++) {
        const float *x = in + (size_t)c * c_stride;
        float *y = out + (size_t)c * c_stride;
        double s = 0.0, ss = 0.0;
        for (size_t j = 0; j < m; j++)
            s += x[j * e_stride];
        const double mu = s / (double)m;
        for (size_t j = 0; j < m; j++) {
            const double d = x[j * e_stride] - mu;
            ss += d * d;
        }
        const double v = ss / (double)m;
        mean[c] = (float)mu;
        var[c] = (float)v;
        const float scale = gamma[c] / sqrtf((float)v + eps);
        const float shift = beta[c] - (float)mu * scale;
        const float floor = relu ? 0.0f : -INFINITY;
        for (size_t j = 0; j < m; j++) {
            const float t = x[j * e_stride] * scale + shift;
            y[j * e_stride] = t > floor ? t : floor;
        }
    }
}

/* With xh = (x - mean) * istd: dgamma = sum(dy * xh), dbeta = sum(dy),
 * dx = gamma * istd * (dy - dbeta/m - xh * dgamma/m). */
void nn_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *var, const float *gamma,
                           int n_ch, size_t m, size_t c_stride, size_t e_stride, float eps)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < n_ch; c++) {
        const float *x = in + (size_t)c * c_stride, *dy = dout + (size_t)c * c_stride;
        const float mu = mean[c], istd = 1.0f / sqrtf(var[c] + eps);
        double sdy = 0.0, sdyx = 0.0;
        for (size_t j = 0; j < m; j++) {
            const float g = dy[j * e_stride];
            sdy += g;
            sdyx += (double)g * ((x[j * e_stride] - mu) * istd);
        }
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        if (!din)
            continue;
        float *dx = din + (size_t)c * c_stride;
        const float k = gamma[c] * istd, a = (float)(sdy / (double)m),
                    b = (float)(sdyx / (double)m);
        for (size_t j = 0; j < m; j++)
            dx[j * e_stride] = k * (dy[j * e_stride] - a - (x[j * e_stride] - mu) * istd * b);
    }
}
