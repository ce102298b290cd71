/* kernels.c - tuned layer kernels: im2col + sgemm convolutions over the whole batch, OpenMP for
 * our own loops. BLAS is the OpenMP build of OpenBLAS, so it shares our one thread pool and runs
 * single-threaded when called inside a parallel region. Every reduction has a fixed order, so a
 * given thread count gives bit-identical results run to run. */
#include "kernels.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

/* cols[(ci*k + ky)*k + kx][(ni*oh + oy)*ow + ox] = in[ci][ni][oy+ky-pad][ox+kx-pad], 0 outside. */
static void im2col(float *cols, const float *in, int n, int c, int h, int wd, int k, int pad)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    const size_t np = (size_t)n * oh * ow;
    const int rows = c * k * k;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const int ci = r / (k * k), ky = (r / k) % k, kx = r % k;
        float *dst = cols + (size_t)r * np;
        for (int ni = 0; ni < n; ni++) {
            const float *plane = in + ((size_t)ci * n + ni) * h * wd;
            for (int oy = 0; oy < oh; oy++) {
                const int y = oy + ky - pad;
                float *d = dst + ((size_t)ni * oh + oy) * ow;
                if (y < 0 || y >= h) {
                    memset(d, 0, (size_t)ow * sizeof *d);
                    continue;
                }
                const float *srow = plane + (size_t)y * wd;
                const int x0 = kx - pad; /* input column of ox = 0 */
                int ox = 0;
                for (; ox < ow && ox + x0 < 0; ox++)
                    d[ox] = 0.0f;
                int ox_end = ow;
                if (ox_end + x0 > wd)
                    ox_end = wd - x0;
                if (ox_end > ox)
                    memcpy(d + ox, srow + ox + x0, (size_t)(ox_end - ox) * sizeof *d);
                for (ox = ox_end > ox ? ox_end : ox; ox < ow; ox++)
                    d[ox] = 0.0f;
            }
        }
    }
}

/* The adjoint of im2col: din[ci][ni][y][x] = sum of the dcols entries that im2col copied from it.
 * Parallel over input channels, so no two threads write the same plane. */
static void col2im(float *din, const float *dcols, int n, int c, int h, int wd, int k, int pad)
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
                        for (int ox = ox0; ox < ox1; ox++)
                            drow[ox + kx - pad] += s[ox];
                    }
                }
            }
    }
}

void nn_conv2d_forward(float *out, float *cols, const float *in, const float *w, const float *b,
                       int n, int c, int h, int wd, int oc, int k, int pad)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    const int np = n * oh * ow, kk = c * k * k;
    im2col(cols, in, n, c, h, wd, k, pad);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, oc, np, kk, 1.0f, w, kk, cols, np, 0.0f,
                out, np);
#pragma omp parallel for schedule(static)
    for (int o = 0; o < oc; o++) {
        float *row = out + (size_t)o * np;
        const float bo = b[o];
        for (int i = 0; i < np; i++)
            row[i] += bo;
    }
}

void nn_conv2d_backward(float *din, float *dw, float *db, float *dcols, const float *dout,
                        const float *cols, const float *w, int n, int c, int h, int wd, int oc,
                        int k, int pad)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    const int np = n * oh * ow, kk = c * k * k;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, oc, kk, np, 1.0f, dout, np, cols, np, 1.0f,
                dw, kk);
#pragma omp parallel for schedule(static)
    for (int o = 0; o < oc; o++) {
        const float *row = dout + (size_t)o * np;
        float s = 0.0f;
        for (int i = 0; i < np; i++)
            s += row[i];
        db[o] += s;
    }
    if (!din)
        return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, np, oc, 1.0f, w, kk, dout, np, 0.0f,
                dcols, np);
    col2im(din, dcols, n, c, h, wd, k, pad);
}

void nn_maxpool_forward(float *out, uint8_t *argmax, const float *in, int n_planes, int h, int w,
                        int k)
{
    const int oh = h / k, ow = w / k;
#pragma omp parallel for schedule(static)
    for (int p = 0; p < n_planes; p++) {
        const float *src = in + (size_t)p * h * w;
        float *dst = out + (size_t)p * oh * ow;
        uint8_t *am = argmax + (size_t)p * oh * ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float best = -FLT_MAX;
                int bi = 0;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        float v = src[(size_t)(oy * k + ky) * w + ox * k + kx];
                        /* The first of equal maxima wins, as in PyTorch; NaN propagates. */
                        if (v > best || isnan(v)) {
                            best = v;
                            bi = ky * k + kx;
                            if (isnan(v))
                                goto done;
                        }
                    }
            done:
                dst[oy * ow + ox] = best;
                am[oy * ow + ox] = (uint8_t)bi;
            }
    }
}

void nn_maxpool_backward(float *din, const float *dout, const uint8_t *argmax, int n_planes, int h,
                         int w, int k)
{
    const int oh = h / k, ow = w / k;
#pragma omp parallel for schedule(static)
    for (int p = 0; p < n_planes; p++) {
        float *dst = din + (size_t)p * h * w;
        const float *src = dout + (size_t)p * oh * ow;
        const uint8_t *am = argmax + (size_t)p * oh * ow;
        memset(dst, 0, (size_t)h * w * sizeof *dst);
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int bi = am[oy * ow + ox];
                dst[(size_t)(oy * k + bi / k) * w + ox * k + bi % k] += src[oy * ow + ox];
            }
    }
}

void nn_relu_forward(float *out, const float *in, size_t n_elems)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n_elems; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void nn_relu_backward(float *din, const float *dout, const float *out, size_t n_elems)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n_elems; i++)
        din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

void nn_flatten_forward(float *out, const float *in, int n, int c, int hw)
{
#pragma omp parallel for schedule(static)
    for (int ni = 0; ni < n; ni++)
        for (int ci = 0; ci < c; ci++)
            memcpy(out + ((size_t)ni * c + ci) * hw, in + ((size_t)ci * n + ni) * hw,
                   (size_t)hw * sizeof *out);
}

void nn_flatten_backward(float *din, const float *dout, int n, int c, int hw)
{
#pragma omp parallel for schedule(static)
    for (int ci = 0; ci < c; ci++)
        for (int ni = 0; ni < n; ni++)
            memcpy(din + ((size_t)ci * n + ni) * hw, dout + ((size_t)ni * c + ci) * hw,
                   (size_t)hw * sizeof *din);
}

void nn_dense_forward(float *out, const float *in, const float *w, const float *b, int n, int n_in,
                      int n_out)
{
    for (int ni = 0; ni < n; ni++)
        memcpy(out + (size_t)ni * n_out, b, (size_t)n_out * sizeof *out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n_out, n_in, 1.0f, in, n_in, w, n_in,
                1.0f, out, n_out);
}

void nn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, int n, int n_in, int n_out)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, n, 1.0f, dout, n_out, in,
                n_in, 1.0f, dw, n_in);
    for (int ni = 0; ni < n; ni++)
        for (int o = 0; o < n_out; o++)
            db[o] += dout[(size_t)ni * n_out + o];
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n_in, n_out, 1.0f, dout, n_out, w,
                    n_in, 0.0f, din, n_in);
}

void nn_dropout_forward(float *out, const float *in, const float *mask, size_t n_elems)
{
    for (size_t i = 0; i < n_elems; i++)
        out[i] = in[i] * mask[i];
}

void nn_dropout_backward(float *din, const float *dout, const float *mask, size_t n_elems)
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

float nn_xent_backward(float *dlogits, const float *probs, const uint8_t *labels, int n, int n_cls)
{
    double loss = 0.0;
    const float inv_n = 1.0f / (float)n;
    for (int ni = 0; ni < n; ni++) {
        const float *p = probs + (size_t)ni * n_cls;
        float py = p[labels[ni]];
        loss -= log(py > 1e-30f ? py : 1e-30f);
        if (dlogits) {
            float *d = dlogits + (size_t)ni * n_cls;
            for (int j = 0; j < n_cls; j++)
                d[j] = (p[j] - (j == labels[ni] ? 1.0f : 0.0f)) * inv_n;
        }
    }
    return (float)(loss / n);
}
