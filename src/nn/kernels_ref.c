/* kernels_ref.c - naive reference kernels: the definitions, written as directly as possible, in
 * double accumulators. Slow on purpose; used by tests and benches to check the tuned kernels. */
#include "kernels.h"

void nn_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, int n,
                           int c, int h, int wd, int oc, int k, int pad)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    for (int o = 0; o < oc; o++)
        for (int ni = 0; ni < n; ni++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = b[o];
                    for (int ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int y = oy + ky - pad, x = ox + kx - pad;
                                if (y < 0 || y >= h || x < 0 || x >= wd)
                                    continue;
                                s += (double)w[((o * c + ci) * k + ky) * k + kx] *
                                     in[(((size_t)ci * n + ni) * h + y) * wd + x];
                            }
                    out[(((size_t)o * n + ni) * oh + oy) * ow + ox] = (float)s;
                }
}

void nn_conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int n, int c, int h, int wd, int oc, int k, int pad)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    if (din)
        for (size_t i = 0; i < (size_t)c * n * h * wd; i++)
            din[i] = 0.0f;
    for (int o = 0; o < oc; o++)
        for (int ni = 0; ni < n; ni++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    float g = dout[(((size_t)o * n + ni) * oh + oy) * ow + ox];
                    db[o] += g;
                    for (int ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int y = oy + ky - pad, x = ox + kx - pad;
                                if (y < 0 || y >= h || x < 0 || x >= wd)
                                    continue;
                                size_t ii = (((size_t)ci * n + ni) * h + y) * wd + x;
                                size_t wi = (((size_t)o * c + ci) * k + ky) * k + kx;
                                dw[wi] += g * in[ii];
                                if (din)
                                    din[ii] += g * w[wi];
                            }
                }
}

void nn_dense_forward_ref(float *out, const float *in, const float *w, const float *b, int n,
                          int n_in, int n_out)
{
    for (int ni = 0; ni < n; ni++)
        for (int o = 0; o < n_out; o++) {
            double s = b[o];
            for (int i = 0; i < n_in; i++)
                s += (double)in[(size_t)ni * n_in + i] * w[(size_t)o * n_in + i];
            out[(size_t)ni * n_out + o] = (float)s;
        }
}

void nn_dense_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, int n, int n_in, int n_out)
{
    for (int ni = 0; ni < n; ni++)
        for (int o = 0; o < n_out; o++) {
            float g = dout[(size_t)ni * n_out + o];
            db[o] += g;
            for (int i = 0; i < n_in; i++)
                dw[(size_t)o * n_in + i] += g * in[(size_t)ni * n_in + i];
        }
    if (din)
        for (int ni = 0; ni < n; ni++)
            for (int i = 0; i < n_in; i++) {
                double s = 0.0;
                for (int o = 0; o < n_out; o++)
                    s += (double)dout[(size_t)ni * n_out + o] * w[(size_t)o * n_in + i];
                din[(size_t)ni * n_in + i] = (float)s;
            }
}
