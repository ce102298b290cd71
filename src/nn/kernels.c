/* kernels.c - tuned layer kernels: im2col + sgemm convolutions over the whole batch, OpenMP for
 * our own loops. BLAS is the OpenMP build of OpenBLAS, so it shares our one thread pool and runs
 * single-threaded when called inside a parallel region. Every reduction has a fixed order, so a
 * given thread count gives bit-identical results run to run. */
#include "kernels.h"

#include "dg.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

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

/* Sum of x[0..n) in 16 independent lanes, then a fixed pairwise combination: vectorises (a plain
 * float sum cannot be reordered without -ffast-math) and gives the same bits on every ISA. */
DG_INLINE float sum_lanes(const float *x, size_t n)
{
    float lane[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            lane[j] += x[i + j];
    for (int j = 0; i < n; i++, j++)
        lane[j] += x[i];
    for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; j++)
            lane[j] += lane[j + w];
    return lane[0];
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
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    if (nt < 2 || nt > SPLIT_MAX_THREADS || oc * kk > SPLIT_MAX_DW || np < 64 * nt) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, oc, kk, np, 1.0f, dout, np, cols, np,
                    1.0f, dw, kk);
        return;
    }
    float part[SPLIT_MAX_THREADS][SPLIT_MAX_DW];
#pragma omp parallel num_threads(nt)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
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
