/* kernels.h - the layer kernels of the network library, tuned (BLAS + OpenMP) and naive reference
 * versions side by side. Tests check each tuned kernel against its reference; nothing here
 * allocates. Knows nothing of models, files or images.
 *
 * Layouts. Convolution-side activations are stored channel-major over the batch, "CNHW":
 * x[c][n][y][x]. A convolution is then one sgemm over the whole batch, and its output lands in the
 * same layout. For one input channel CNHW and PyTorch's NCHW are the same bytes. Dense-side
 * activations are [n][features]. Convolution weights are PyTorch's [out_c][in_c][k][k]; dense
 * weights PyTorch's [out][in].
 *
 * Conventions (after llm.c): outputs first; forward kernels overwrite their outputs; backward
 * kernels ADD into dw/db and OVERWRITE din. Any din may be NULL when the input gradient is not
 * needed (the first layer). */
#ifndef NN_KERNELS_H
#define NN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Convolution, stride 1, square kernel k, zero padding pad on every side:
 * oh = h + 2*pad - k + 1, ow likewise. in: [c][n][h][w]; out: [oc][n][oh][ow]; w: [oc][c][k][k];
 * b: [oc], or NULL for the raw convolution (no bias, no ReLU). cols: scratch of c*k*k * n*oh*ow
 * floats, left holding the im2col matrix that nn_conv2d_backward needs. relu: apply max(0, .) in
 * the same pass as the bias (a fused ReLU). */
void nn_conv2d_forward(float *out, float *cols, const float *in, const float *w, const float *b,
                       int n, int c, int h, int wd, int oc, int k, int pad, int relu);
/* cols: as left by the forward pass (it is not modified); dcols: scratch of the same size. */
void nn_conv2d_backward(float *din, float *dw, float *db, float *dcols, const float *dout,
                        const float *cols, const float *w, int n, int c, int h, int wd, int oc,
                        int k, int pad);

/* The same for k = 3 by Winograd's F(4x4, 3x3) (winograd.c): 36 instead of 144 multiplications
 * per 4x4 output block and channel pair, equal to the above up to rounding (~1e-6 of the sums).
 * Worth it when c is not tiny (the products are [oc x c] by [c x tiles]). saved:
 * nn_wino_saved_size() floats, left holding the transformed filters and input that the backward
 * pass needs (so it takes no weights; it does not modify saved); scratch: nn_wino_scratch_size(...,
 * slots) floats, room for slots threads (at most that many are used; its contents do not carry from
 * the forward to the backward pass). Work is shared out by NN_WINO_CHUNK images; a given thread
 * count gives the same bits run to run.
 */
enum { NN_WINO_CHUNK = 8 };
size_t nn_wino_saved_size(int n, int c, int h, int w, int oc, int pad);
size_t nn_wino_scratch_size(int c, int oc, int h, int w, int pad, int slots);
void nn_wino_forward(float *out, float *saved, float *scratch, int slots, const float *in,
                     const float *w, const float *b, int n, int c, int h, int wd, int oc, int pad,
                     int relu);
void nn_wino_backward(float *din, float *dw, float *db, float *scratch, int slots,
                      const float *dout, const float *saved, int n, int c, int h, int wd, int oc,
                      int pad);
/* Max-pooling with a k x k window and stride k over n_planes planes of h x w (floor: trailing
 * rows and columns that do not fill a window are dropped). argmax: one byte per output, the
 * winning position inside its window (k*k <= 256); the first of equal maxima wins.
 * Backward: when out (the forward output) is given, a gradient passes only where out > 0: the
 * backward of a ReLU that precedes the pool, folded in (max and ReLU commute). */
void nn_maxpool_forward(float *out, uint8_t *argmax, const float *in, int n_planes, int h, int w,
                        int k);
void nn_maxpool_backward(float *din, const float *dout, const uint8_t *argmax, const float *out,
                         int n_planes, int h, int w, int k);

/* The epilogue of a fused conv -> ReLU -> max-pool block: from raw, the convolution without bias
 * [oc][n][oh][ow], writes the pooled output [oc][n][oh/pk][ow/pk] and its argmax in one pass,
 * exactly as nn_conv2d_forward (relu) followed by nn_maxpool_forward would (the argmax may differ
 * only where the pooled value is 0, where no gradient flows). */
void nn_bias_relu_pool(float *pooled, uint8_t *argmax, const float *raw, const float *b, int oc,
                       int n, int oh, int ow, int pk); /* b may be NULL: no bias */

/* The same followed by ReLU and 2x2 max-pooling, done inside the transforms (each 4x4 output tile
 * holds whole windows), so the full-resolution output and its gradient are never stored: pooled
 * and argmax [oc][n][oh/2][ow/2] as nn_bias_relu_pool leaves them; backward from dpooled, passing
 * a gradient only at each window's winner where the pooled value is > 0. */
void nn_wino_relu_pool_forward(float *pooled, uint8_t *argmax, float *saved, float *scratch,
                               int slots, const float *in, const float *w, const float *b, int n,
                               int c, int h, int wd, int oc, int pad);
void nn_wino_relu_pool_backward(float *din, float *dw, float *db, float *scratch, int slots,
                                const float *dpooled, const float *pooled, const uint8_t *argmax,
                                const float *saved, int n, int c, int h, int wd, int oc, int pad);
/* The whole conv -> ReLU -> max-pool block for a first layer (few input channels, small images):
 * per image, its input copied with the padding into a buffer on the stack, the convolution made
 * one output row at a time in vectors and pooled as it is made, so the full-resolution output is
 * never stored. pooled and argmax as nn_bias_relu_pool leaves them. Backward from the pooled
 * gradient: a gradient reaches the convolution only at each window's winner and only where the
 * pooled value is > 0 (the ReLU); that sparse gradient is spread out per image and channel in a
 * small buffer and correlated with the input (dw, db: added into, db nullable) and with the
 * weights (din: overwritten, nullable). Per-thread partial sums are added in thread order.
 * Limits (nn_conv_relu_pool_fits): c <= NN_FUSED_MAX_C, c * k * k <= NN_FUSED_MAX_TAPS,
 * oc <= NN_FUSED_MAX_OC, output height and width <= NN_FUSED_MAX_W, pk <= NN_FUSED_MAX_POOL,
 * k <= NN_FUSED_MAX_K. */
enum {
    NN_FUSED_MAX_C = 4,
    NN_FUSED_MAX_K = 5,
    NN_FUSED_MAX_TAPS = 32,
    NN_FUSED_MAX_OC = 64,
    NN_FUSED_MAX_W = 64,
    NN_FUSED_MAX_POOL = 4,
    /* the padded input of one image: c * (oh + k - 1) rows of up to ow + k - 1 + 15 floats */
    NN_FUSED_MAX_PIN = NN_FUSED_MAX_C * (NN_FUSED_MAX_W + NN_FUSED_MAX_K - 1) *
                       (NN_FUSED_MAX_W + NN_FUSED_MAX_K - 1 + 15),
    /* the backward pass's padded images (a block of 8 when they fit, else one) */
    NN_FUSED_PIN_BLOCK = NN_FUSED_MAX_PIN > 8 * 1536 ? NN_FUSED_MAX_PIN : 8 * 1536,
};
int nn_conv_relu_pool_fits(int c, int h, int wd, int oc, int k, int pad, int pk);
void nn_conv_relu_pool_forward(float *pooled, uint8_t *argmax, const float *in, const float *w,
                               const float *b, int n, int c, int h, int wd, int oc, int k, int pad,
                               int pk);
void nn_conv_relu_pool_backward(float *din, float *dw, float *db, const float *dpooled,
                                const float *pooled, const uint8_t *argmax, const float *in,
                                const float *w, int n, int c, int h, int wd, int oc, int k, int pad,
                                int pk);
/* Element-wise ReLU over n_elems values. Backward uses the forward output (y > 0 iff x > 0). */
void nn_relu_forward(float *out, const float *in, size_t n_elems);
void nn_relu_backward(float *din, const float *dout, const float *out, size_t n_elems);

/* CNHW [c][n][hw] <-> [n][c*hw], the PyTorch flatten order. */
void nn_flatten_forward(float *out, const float *in, int n, int c, int hw);
void nn_flatten_backward(float *din, const float *dout, int n, int c, int hw);

/* Dense: out[n][o] = in[n][i] . w[o][i] + b[o], then max(0, .) when relu is set. */
void nn_dense_forward(float *out, const float *in, const float *w, const float *b, int n, int n_in,
                      int n_out, int relu);
void nn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, int n, int n_in, int n_out);

/* Inverted dropout: out = in * mask, where mask holds 0 or 1/(1-rate) (made by the caller). */
void nn_dropout_forward(float *out, const float *in, const float *mask, size_t n_elems);
void nn_dropout_backward(float *din, const float *dout, const float *mask, size_t n_elems);

/* Batch normalisation in training mode over n_ch channels of m values each, value j of channel c
 * at x[c*c_stride + j*e_stride] (CNHW activations: c_stride = n*h*w, e_stride = 1; dense
 * [n][features]: c_stride = 1, e_stride = n_ch). Writes out = gamma*(x - mean)/sqrt(var + eps) +
 * beta (then max(0, .) when relu), and the batch mean and biased variance per channel. */
void nn_batchnorm_forward(float *out, float *mean, float *var, const float *in, const float *gamma,
                          const float *beta, int n_ch, size_t m, size_t c_stride, size_t e_stride,
                          float eps, int relu);
/* The backward of the above (before any ReLU: dout is the gradient of the normalised output).
 * Adds into dgamma, dbeta; overwrites din (nullable). */
void nn_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *var, const float *gamma,
                           int n_ch, size_t m, size_t c_stride, size_t e_stride, float eps);

/* x = x * scale[c] + shift[c] per channel in place (then max(0, .) when relu), in the layout of
 * nn_batchnorm_forward: batch norm at inference, in the epilogue of the layer before it. */
void nn_channel_affine(float *x, const float *scale, const float *shift, int n_ch, size_t m,
                       size_t c_stride, size_t e_stride, int relu);

/* Softmax over each row of logits [n][n_cls] into probs. */
void nn_softmax(float *probs, const float *logits, int n, int n_cls);
/* Mean cross-entropy of probs against labels smoothed by eps (target 1 - eps + eps/n_cls for the
 * label, eps/n_cls for the others; eps = 0 is plain cross-entropy); dlogits (nullable) =
 * (probs - target) / n. */
float nn_xent_backward(float *dlogits, const float *probs, const uint8_t *labels, int n, int n_cls,
                       float eps);

/* A "junk head" output layer of n_cls logits: the last is "not a digit" with its own sigmoid s,
 * the others a softmax q over the digits. probs = (q * (1 - s), s), so each row sums to 1 and
 * the digits' probabilities keep their ratios whatever s is. */
void nn_junk_probs(float *probs, const float *logits, int n, int n_cls);
/* Its loss: a digit label y < n_cls - 1 costs -log q_y (smoothed by eps over the digits as
 * nn_xent_backward) - log(1 - s); the junk label costs -log s alone, so examples that are not
 * digits teach the sigmoid and never move the digits' softmax. Mean over n; dlogits (nullable)
 * gets its gradient / n. */
float nn_junk_xent_backward(float *dlogits, const float *logits, const uint8_t *labels, int n,
                            int n_cls, float eps);

/* Naive references: direct loops in the same layouts, no BLAS, no threads. */
void nn_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, int n,
                           int c, int h, int wd, int oc, int k, int pad);
void nn_conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int n, int c, int h, int wd, int oc, int k, int pad);
void nn_dense_forward_ref(float *out, const float *in, const float *w, const float *b, int n,
                          int n_in, int n_out);
void nn_dense_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, int n, int n_in, int n_out);

#endif
