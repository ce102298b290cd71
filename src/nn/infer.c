/* infer.c - inference for small batches (the digits of one camera frame, one digit): each image
 * goes through the convolutions on its own, channels last, by direct convolution that keeps a
 * tile of output pixels x 16-channel vectors of sums in registers, so its activations stay in
 * L1/L2 and no im2col matrix is built; batch norms are folded into the weights once, when the
 * engine is made; the dense layers then run on the whole batch. Images are spread over the
 * threads. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dg.h"
#include "kernels.h"
#include "simd.h"
#include "wino43.h"

enum stage_kind { ST_CONV, ST_POOL, ST_RELU, ST_DENSE };

/* Output channels come in vectors of OB; a register tile holds up to MAX_PX pixels by MAX_NB
 * vectors. */
enum { OB = 16, MAX_PX = 8, MAX_NB = 2 };

/* The tiles conv_tiles_32 (output channels a multiple of 32) and conv_tiles_16 use, pixels by
 * vectors. Native: 4 x 2 and 8 x 1, eight sums in flight for two FMA pipes. WebAssembly: a
 * vector of 16 floats is four SIMD128 registers, and V8 gives a function 16 of them; a tile of 3
 * pixels by 1 vector keeps its 12 sums and 4 weights in registers where the native tiles spilled:
 * a batch of 32 digits in Node 20 took 2.7-4.0 ms against 5.5-8.0 (a check-web frame 5.1-5.5
 * against 8.2-8.8 ms), while Chromium 156's newer compiler showed no difference either way
 * (4.6-5.1 against 4.8-5.4 ms a frame). The sums are the same either way. */
#ifdef __wasm__
enum { TILE32_PX = 3, TILE32_NB = 1, TILE16_PX = 3, TILE16_NB = 1 };
/* Winograd's products span a handful of tiles (fast's last convolution: 4): where 3-pixel tiles
 * would leave lanes of work unused and 2-pixel ones would not, those (2 x 1) are 5% faster a frame
 * in Node 20 (the same sums) */
#define WINO_PAIRS(nt) ((nt) % 3 != 0 && (nt) % 2 == 0)
#else
enum { TILE32_PX = 4, TILE32_NB = 2, TILE16_PX = 8, TILE16_NB = 1 };
#define WINO_PAIRS(nt) 0
#endif

/* Winograd F(4x4, 3x3): 36 transformed values per tile and channel. */
enum { WINO_XI = 36 };

/* One step of the plan: a convolution (with its batch norm and ReLU), a pool, a lone ReLU, or a
 * dense layer (likewise). Shapes are per image, channels last; a dense layer's input shape is
 * that of the features it reads (c x 1 x 1 after another dense layer), a lone ReLU on features
 * counts them all as channels. */
struct stage {
    enum stage_kind kind;
    int layer; /* the model's layer it computes */
    int in_c, in_h, in_w, out_c, out_h, out_w;
    int k, pad, relu;
    size_t w_off, b_off; /* into the engine's packed weights */
    /* a 3x3 convolution by Winograd's F(4x4, 3x3): its 36 transformed filter planes [c][oc] at
     * u_off; tw x th tiles of 4x4 outputs */
    int wino, tw, th;
    size_t u_off;
    /* a convolution whose output goes straight through the 2x2 max-pool after it (which is then
     * skipped): the full-size map is never stored */
    int pool;
};

struct nn_infer {
    int n_stages, n_conv; /* stages [0, n_conv) are per image; the rest are dense, per batch */
    struct stage st[NN_MAX_LAYERS];
    int max_batch, n_threads, n_classes, junk_head;
    size_t feat_size; /* floats per image after the per-image stages */
    float *packed;
    float *scratch;      /* per thread: two activation buffers and a padded input */
    size_t per_thread;   /* floats */
    size_t act_max;      /* floats in each activation buffer */
    size_t zero_off;     /* packed: a row of zeros as long as the widest layer (a bias of 0) */
    size_t wino_at;      /* in each thread's scratch: Winograd's transformed data */
    size_t rows_at;      /* ... and two output rows of a direct convolution before its pool */
    float *feat, *a, *b; /* [max_batch][...]: per-image features, then dense activations */
    float *probs;
};

void nn_infer_free(struct nn_infer *inf)
{
    if (!inf)
        return;
    free(inf->packed);
    free(inf->scratch);
    free(inf->feat);
    free(inf->a);
    free(inf->b);
    free(inf->probs);
    free(inf);
}

/* Batch norm following layer i as scale and shift of layer i's raw output (shift includes layer
 * i's bias), or 1 and the bias when there is none. */
static void fold(const struct nn_model *m, int i, int o, float *scale, float *shift)
{
    const struct nn_layer *l = &m->layer[i];
    const float bias = l->n_b ? m->params[l->b_off + o] : 0.0f;
    if (i + 1 < m->n_layers && m->layer[i + 1].op == NN_BATCHNORM) {
        const struct nn_layer *bn = &m->layer[i + 1];
        const float *mean = m->params + bn->s_off, *var = mean + bn->out_c;
        *scale = m->params[bn->w_off + o] / sqrtf(var[o] + NN_BN_EPS);
        *shift = m->params[bn->b_off + o] + (bias - mean[o]) * *scale;
    } else {
        *scale = 1.0f;
        *shift = bias;
    }
}

/* Layer i, then its batch norm and ReLU when they follow: the index of the last layer taken. */
static int absorb(const struct nn_model *m, int i, int *relu)
{
    int j = i;
    if (j + 1 < m->n_layers && m->layer[j + 1].op == NN_BATCHNORM)
        j++;
    *relu = j + 1 < m->n_layers && m->layer[j + 1].op == NN_RELU;
    return j + *relu;
}

/* ---- dense layers on a few images ---------------------------------------------------------- */

/* Dense layers whose outputs fill blocks of DENSE_OB run by dense_small: images in groups of up to
 * 12, each group's sums for one block of outputs in registers while the block's weights stream
 * past once. (sgemm packed the whole weight matrix on every call, which at the 11 or so images of
 * a frame cost half as much again as the products.) */
enum { DENSE_OB = 32 };

static int dense_blocked(const struct stage *s)
{
    return s->kind == ST_DENSE && s->out_c % DENSE_OB == 0;
}

#ifdef __wasm__
/* clang for WebAssembly turns a 64-byte memcpy into a call; unaligned vector loads and stores it
 * keeps as such */
typedef float vf16_unaligned __attribute__((vector_size(64), aligned(4)));
#define LOAD16(v, p)  ((v) = *(const vf16_unaligned *)(const void *)(p))
#define STORE16(p, v) (*(vf16_unaligned *)(void *)(p) = (v))
#else
#define LOAD16(v, p)  memcpy(&(v), (p), sizeof(vf16))
#define STORE16(p, v) memcpy((p), &(v), sizeof(vf16))
#endif

/* out[j][o] = bias[o] + sum over i of x[j][i] w[o][i], then ReLU when asked, for the g images
 * from x (rows `in` floats apart) and the outputs of block ob; w in blocks (see dense_blocked).
 * g is a constant at each call, so the sums stay in registers. */
DG_INLINE void dense_group(float *restrict out, const float *restrict x, const float *restrict w,
                           const float *restrict bias, int in, int oc, int ob, int relu,
                           const int g)
{
    vf16 acc[12][2], b0, b1;
    LOAD16(b0, bias + (size_t)ob * DENSE_OB);
    LOAD16(b1, bias + (size_t)ob * DENSE_OB + 16);
    for (int j = 0; j < g; j++)
        acc[j][0] = b0, acc[j][1] = b1;
    const float *wp = w + (size_t)ob * in * DENSE_OB;
    for (int i = 0; i < in; i++, wp += DENSE_OB) {
        vf16 w0, w1;
        LOAD16(w0, wp);
        LOAD16(w1, wp + 16);
        for (int j = 0; j < g; j++) {
            const float v = x[(size_t)j * in + i];
            acc[j][0] += v * w0;
            acc[j][1] += v * w1;
        }
    }
    const vf16 zero = {0};
    for (int j = 0; j < g; j++)
        for (int h = 0; h < 2; h++) {
            vf16 v = acc[j][h];
            if (relu)
                v = (vf16)((vi16)v & (v > zero));
            STORE16(out + (size_t)j * oc + (size_t)ob * DENSE_OB + 16 * h, v);
        }
}

/* Groups of 12, 8, 6, 4, 3, 2 or 1 images: any batch up to 12 in at most two passes over the
 * weights. */
DG_HOT static void dense_small(float *restrict out, const float *restrict x,
                               const float *restrict w, const float *restrict bias, int n, int in,
                               int oc, int relu)
{
    for (int j0 = 0; j0 < n;) {
        const int left = n - j0;
        const int g = left >= 12  ? 12
                      : left >= 8 ? 8
                      : left >= 6 ? 6
                      : left >= 4 ? 4
                      : left >= 3 ? 3
                      : left >= 2 ? 2
                                  : 1;
        const float *xg = x + (size_t)j0 * in;
        float *og = out + (size_t)j0 * oc;
        for (int ob = 0; ob < oc / DENSE_OB; ob++)
            switch (g) {
            case 12: dense_group(og, xg, w, bias, in, oc, ob, relu, 12); break;
            case 8: dense_group(og, xg, w, bias, in, oc, ob, relu, 8); break;
            case 6: dense_group(og, xg, w, bias, in, oc, ob, relu, 6); break;
            case 4: dense_group(og, xg, w, bias, in, oc, ob, relu, 4); break;
            case 3: dense_group(og, xg, w, bias, in, oc, ob, relu, 3); break;
            case 2: dense_group(og, xg, w, bias, in, oc, ob, relu, 2); break;
            default: dense_group(og, xg, w, bias, in, oc, ob, relu, 1); break;
            }
        j0 += g;
    }
}

int nn_infer_new(const struct nn_model *m, int max_batch, struct nn_infer **out)
{
    if (max_batch < 1 || max_batch > NN_MAX_BATCH)
        return dg_fail(DG_EARG, "inference batch %d out of range", max_batch);
    struct nn_infer *inf = calloc(1, sizeof *inf);
    if (!inf)
        return dg_fail(DG_ENOMEM, "out of memory");
    inf->max_batch = max_batch;
    inf->n_classes = m->n_classes;
    inf->junk_head = m->junk_head;
    /* the plan, and how many packed floats it needs */
    size_t n_packed = 0, act_max = (size_t)m->in_c * m->in_h * m->in_w, pad_max = 0, dense_max = 0;
    size_t wino_max = 0, zero_max = 0;
    int c = m->in_c, h = m->in_h, w = m->in_w, flat = 0, rc = DG_OK;
    for (int i = 0; i < m->n_layers && rc == DG_OK; i++) {
        const struct nn_layer *l = &m->layer[i];
        struct stage *s = &inf->st[inf->n_stages];
        *s = (struct stage){.layer = i, .in_c = c, .in_h = h, .in_w = w};
        switch (l->op) {
        case NN_CONV:
        case NN_DENSE:
            if (l->op == NN_CONV && flat) {
                rc = dg_fail(DG_EARG, "inference: a convolution after a dense layer");
                break;
            }
            s->kind = l->op == NN_CONV ? ST_CONV : ST_DENSE;
            s->k = l->k, s->pad = l->pad;
            s->out_c = l->out_c, s->out_h = l->out_h, s->out_w = l->out_w;
            s->w_off = n_packed;
            n_packed += l->n_w;
            s->b_off = n_packed;
            n_packed += (size_t)l->out_c;
            i = absorb(m, i, &s->relu);
            if (s->kind == ST_CONV) {
                const size_t padded = (size_t)c * (h + 2 * l->pad) * (w + 2 * l->pad);
                pad_max = l->pad && padded > pad_max ? padded : pad_max;
                /* Winograd where the channels fill whole vectors: up to 4x fewer multiplications
                 * (the 14x14 maps of fast and robust take 4x4 tiles of 4x4: 36 * 16 products per
                 * channel pair against 9 * 196 direct, 3.1x fewer) */
                if (l->k == 3 && c % OB == 0 && l->out_c % OB == 0) {
                    s->wino = 1;
                    s->th = (l->out_h + 3) / 4, s->tw = (l->out_w + 3) / 4;
                    s->u_off = n_packed;
                    n_packed += WINO_XI * (size_t)c * l->out_c;
                    const size_t t = (size_t)s->th * s->tw * WINO_XI * (c + (size_t)l->out_c);
                    wino_max = t > wino_max ? t : wino_max;
                }
                zero_max = (size_t)l->out_c > zero_max ? (size_t)l->out_c : zero_max;
            } else {
                dense_max = (size_t)l->out_c > dense_max ? (size_t)l->out_c : dense_max;
                flat = 1;
            }
            break;
        case NN_MAXPOOL:
        case NN_RELU:
            if (flat && l->op == NN_MAXPOOL) {
                rc = dg_fail(DG_EARG, "inference: a pool after a dense layer");
                break;
            }
            s->kind = l->op == NN_MAXPOOL ? ST_POOL : ST_RELU;
            s->k = l->k;
            s->out_c = l->out_c, s->out_h = l->out_h, s->out_w = l->out_w;
            if (flat) {
                s->in_c = s->out_c = c * h * w, s->in_h = s->in_w = s->out_h = s->out_w = 1;
                dense_max = (size_t)s->in_c > dense_max ? (size_t)s->in_c : dense_max;
            }
            break;
        case NN_FLATTEN:
        case NN_DROPOUT: continue; /* channels last is already flat; dropout is off */
        case NN_BATCHNORM:
            rc = dg_fail(DG_EARG, "inference: a batch norm that follows no conv or dense layer");
            break;
        }
        if (rc != DG_OK)
            break;
        if (!flat)
            inf->n_conv = inf->n_stages + 1;
        c = s->out_c, h = s->out_h, w = s->out_w;
        const size_t sz = (size_t)c * h * w;
        act_max = sz > act_max ? sz : act_max;
        inf->n_stages++;
    }
    if (rc != DG_OK) {
        nn_infer_free(inf);
        return rc;
    }
    inf->feat_size = inf->n_conv
                         ? (size_t)inf->st[inf->n_conv - 1].out_c * inf->st[inf->n_conv - 1].out_h *
                               inf->st[inf->n_conv - 1].out_w
                         : (size_t)m->in_c * m->in_h * m->in_w;
    inf->n_threads = max_threads();
    inf->act_max = act_max;
    inf->zero_off = n_packed;
    n_packed += zero_max;
    /* convolutions (whole vectors of channels) that a 2x2 pool follows take it in */
    size_t rows_max = 0;
    for (int i = 0; i + 1 < inf->n_conv; i++) {
        struct stage *s = &inf->st[i];
        const struct stage *next = &inf->st[i + 1];
        if (s->kind == ST_CONV && s->out_c % OB == 0 && next->kind == ST_POOL && next->k == 2) {
            s->pool = 1;
            const size_t rows = 2 * (size_t)s->out_w * s->out_c;
            rows_max = !s->wino && rows > rows_max ? rows : rows_max;
        }
    }
    inf->wino_at = 2 * act_max + pad_max;
    inf->rows_at = inf->wino_at + wino_max;
    inf->per_thread = 2 * act_max + pad_max + wino_max + rows_max;
    const size_t nb = (size_t)max_batch;
    inf->packed = malloc((n_packed ? n_packed : 1) * sizeof(float));
    inf->scratch = malloc(inf->per_thread * inf->n_threads * sizeof(float));
    inf->feat = malloc(nb * inf->feat_size * sizeof(float));
    inf->a = malloc(nb * (dense_max ? dense_max : 1) * sizeof(float));
    inf->b = malloc(nb * (dense_max ? dense_max : 1) * sizeof(float));
    inf->probs = malloc(nb * (size_t)m->n_classes * sizeof(float));
    if (!inf->packed || !inf->scratch || !inf->feat || !inf->a || !inf->b || !inf->probs) {
        nn_infer_free(inf);
        return dg_fail(DG_ENOMEM, "out of memory for inference on a batch of %d", max_batch);
    }
    memset(inf->packed + inf->zero_off, 0, zero_max * sizeof(float));
    /* Pack: convolutions as [ky][kx][ci][oc] and dense layers as [o][i] (or dense_small's
     * blocks) with the inputs in channels-last order, both scaled by their batch norms; biases
     * become the folded shifts; Winograd's filters G g G^T as 36 planes [ci][oc]. */
    for (int si = 0; si < inf->n_stages; si++) {
        const struct stage *s = &inf->st[si];
        if (s->kind != ST_CONV && s->kind != ST_DENSE)
            continue;
        const struct nn_layer *l = &m->layer[s->layer];
        const float *src = m->params + l->w_off;
        float *dst = inf->packed + s->w_off, *bias = inf->packed + s->b_off;
        for (int o = 0; o < l->out_c; o++) {
            float scale, shift;
            fold(m, s->layer, o, &scale, &shift);
            bias[o] = shift;
            if (s->kind == ST_CONV) {
                const int k = l->k, ci_n = l->in_c;
                for (int ci = 0; ci < ci_n; ci++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++)
                            dst[(((size_t)ky * k + kx) * ci_n + ci) * l->out_c + o] =
                                src[(((size_t)o * ci_n + ci) * k + ky) * k + kx] * scale;
                if (s->wino)
                    for (int ci = 0; ci < ci_n; ci++) {
                        /* G g G^T by wino43.h's g_1d, as training transforms its filters (in
                         * every lane; lane 0 is kept) */
                        const float *g = src + ((size_t)o * ci_n + ci) * 9;
                        vf16 gv[9], t[18], u[WINO_XI];
                        for (int q = 0; q < 9; q++)
                            gv[q] = (vf16){0} + g[q] * scale;
                        for (int j = 0; j < 3; j++) /* G g, by columns: 6 x 3 */
                            g_1d(&t[j], 3, &gv[j], 3);
                        for (int i = 0; i < 6; i++) /* (G g) G^T, by rows: 6 x 6 */
                            g_1d(&u[6 * i], 1, &t[3 * i], 1);
                        for (int xi = 0; xi < WINO_XI; xi++)
                            inf->packed[s->u_off + ((size_t)xi * ci_n + ci) * l->out_c + o] =
                                u[xi][0];
                    }
            } else {
                /* PyTorch flattens [c][y][x]; the features here are [y][x][c] */
                const int c_in = s->in_c, hw = s->in_h * s->in_w, n_in = l->in_c;
                for (int f = 0; f < n_in; f++) {
                    const size_t i = (size_t)(f % hw) * c_in + f / hw;
                    /* dense_small's blocks of DENSE_OB outputs: [o / DENSE_OB][i][o % DENSE_OB] */
                    const size_t at =
                        dense_blocked(s)
                            ? ((size_t)(o / DENSE_OB) * n_in + i) * DENSE_OB + o % DENSE_OB
                            : (size_t)o * n_in + i;
                    dst[at] = src[(size_t)o * n_in + f] * scale;
                }
            }
        }
    }
    *out = inf;
    return DG_OK;
}

/* ---- per-image kernels, channels last ----------------------------------------------------- */

/* vf16, vi16: simd.h; LOAD16 above */

/* out[oy][ox][oc] = bias + sum over ky, kx, ci of in[oy+ky][ox+kx][ci] * w[ky][kx][ci][oc], then
 * ReLU when asked; in is h x w x c (already padded), oc a multiple of nb * OB. A tile of px
 * pixels by nb * 16 channels of accumulators stays in registers while the weights stream past:
 * px * nb = 8 independent sums, enough to keep both FMA pipes busy. px and nb are constants at
 * each call, so the tile's loops unroll. */
DG_INLINE void conv_tiles(float *restrict out, const float *restrict in, int h, int w, int c,
                          const float *restrict wt, const float *restrict bias, int k, int oc,
                          int relu, const int px, const int nb)
{
    const int oh = h - k + 1, ow = w - k + 1;
    const vf16 zero = {0};
    for (int oy = 0; oy < oh; oy++)
        for (int ox0 = 0; ox0 < ow; ox0 += px) {
            /* the last tile of a row may hold fewer pixels: it reads the row's last pixel for
             * the missing ones and does not store them */
            const int np = ow - ox0 < px ? ow - ox0 : px;
            size_t d[MAX_PX];
            for (int p = 0; p < px; p++)
                d[p] = (size_t)(p < np ? p : np - 1) * c;
            for (int o0 = 0; o0 < oc; o0 += nb * OB) {
                vf16 a[MAX_PX][MAX_NB];
                for (int bi = 0; bi < nb; bi++) {
                    LOAD16(a[0][bi], bias + o0 + bi * OB);
                    for (int p = 1; p < px; p++)
                        a[p][bi] = a[0][bi];
                }
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        const float *ip = in + ((size_t)(oy + ky) * w + ox0 + kx) * c;
                        const float *wp = wt + ((size_t)(ky * k + kx) * c) * oc + o0;
                        for (int ci = 0; ci < c; ci++, wp += oc) {
                            vf16 wv[MAX_NB];
                            for (int bi = 0; bi < nb; bi++)
                                LOAD16(wv[bi], wp + bi * OB);
                            for (int p = 0; p < px; p++) {
                                const float v = ip[d[p] + ci];
                                for (int bi = 0; bi < nb; bi++)
                                    a[p][bi] += v * wv[bi];
                            }
                        }
                    }
                float *o = out + ((size_t)oy * ow + ox0) * oc + o0;
                for (int p = 0; p < np; p++)
                    for (int bi = 0; bi < nb; bi++) {
                        vf16 v = a[p][bi];
                        if (relu) /* max(v, 0): lanes where v > 0 keep their bits */
                            v = (vf16)((vi16)v & (v > zero));
                        STORE16(o + (size_t)p * oc + bi * OB, v);
                    }
            }
        }
}

/* oc a multiple of 32, or of 16. */
DG_HOT static void conv_tiles_32(float *restrict out, const float *restrict in, int h, int w, int c,
                                 const float *restrict wt, const float *restrict bias, int k,
                                 int oc, int relu)
{
    conv_tiles(out, in, h, w, c, wt, bias, k, oc, relu, TILE32_PX, TILE32_NB);
}

/* oc a multiple of 32, 2 pixels a tile (WINO_PAIRS). */
DG_HOT static void conv_tiles_pairs(float *restrict out, const float *restrict in, int h, int w,
                                    int c, const float *restrict wt, const float *restrict bias,
                                    int k, int oc, int relu)
{
    conv_tiles(out, in, h, w, c, wt, bias, k, oc, relu, 2, 1);
}

DG_HOT static void conv_tiles_16(float *restrict out, const float *restrict in, int h, int w, int c,
                                 const float *restrict wt, const float *restrict bias, int k,
                                 int oc, int relu)
{
    conv_tiles(out, in, h, w, c, wt, bias, k, oc, relu, TILE16_PX, TILE16_NB);
}

/* The same for any channel count, one output at a time. */
static void conv_plain(float *out, const float *in, int h, int w, int c, const float *wt,
                       const float *bias, int k, int oc, int relu)
{
    const int oh = h - k + 1, ow = w - k + 1;
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            for (int o = 0; o < oc; o++) {
                float acc = bias[o];
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                        for (int ci = 0; ci < c; ci++)
                            acc += in[((size_t)(oy + ky) * w + ox + kx) * c + ci] *
                                   wt[(((size_t)ky * k + kx) * c + ci) * oc + o];
                out[((size_t)oy * ow + ox) * oc + o] = relu && acc < 0.0f ? 0.0f : acc;
            }
}

/* Winograd F(4x4, 3x3) for one image, channels last: in is h x w x c (already padded), out
 * (h-2) x (w-2) x oc, or that 2x2 max-pooled when s->pool. Each 4x4 output tile comes from a 6x6
 * input patch; its 36 transformed values (B^T d B, a vector of channels each) go to plane xi of v
 * ([36][tiles][c]), the 36 products with the filters' planes are 1x1 convolutions by conv_tiles
 * ([tiles][c] by [c][oc] into m), and A^T m A gives the tile, + bias, ReLU; tiles past the edge
 * read zeros and store only what is inside. vm: 36 * tiles * (c + oc) floats. */
DG_HOT static void conv_wino(float *restrict out, const float *restrict in, int h, int w, int c,
                             const struct stage *s, const float *u, const float *bias,
                             const float *zero, float *vm)
{
    const int oc = s->out_c, oh = h - 2, ow = w - 2, th = s->th, tw = s->tw, nt = th * tw;
    float *v = vm, *m = vm + (size_t)WINO_XI * nt * c;
    const vf16 zv = {0};
    for (int ty = 0; ty < th; ty++)
        for (int tx = 0; tx < tw; tx++) {
            const int t = ty * tw + tx;
            for (int c0 = 0; c0 < c; c0 += OB) {
                vf16 d[WINO_XI], e[WINO_XI];
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++) {
                        const int y = 4 * ty + i, x = 4 * tx + j;
                        if (y < h && x < w)
                            LOAD16(d[6 * i + j], in + ((size_t)y * w + x) * c + c0);
                        else
                            d[6 * i + j] = zv;
                    }
                for (int j = 0; j < 6; j++) /* B^T d, by columns */
                    bt_1d(&e[j], 6, &d[j], 6);
                for (int i = 0; i < 6; i++) /* (B^T d) B, by rows */
                    bt_1d(&d[6 * i], 1, &e[6 * i], 1);
                for (int xi = 0; xi < WINO_XI; xi++)
                    STORE16(v + ((size_t)xi * nt + t) * c + c0, d[xi]);
            }
        }
    for (int xi = 0; xi < WINO_XI; xi++) {
        const float *vx = v + (size_t)xi * nt * c, *ux = u + (size_t)xi * c * oc;
        float *mx = m + (size_t)xi * nt * oc;
        if (oc % (2 * OB) == 0 && WINO_PAIRS(nt))
            conv_tiles_pairs(mx, vx, 1, nt, c, ux, zero, 1, oc, 0);
        else if (oc % (2 * OB) == 0)
            conv_tiles_32(mx, vx, 1, nt, c, ux, zero, 1, oc, 0);
        else
            conv_tiles_16(mx, vx, 1, nt, c, ux, zero, 1, oc, 0);
    }
    for (int ty = 0; ty < th; ty++)
        for (int tx = 0; tx < tw; tx++) {
            const int t = ty * tw + tx;
            for (int o0 = 0; o0 < oc; o0 += OB) {
                vf16 x[WINO_XI], r[24], y[16], bv;
                for (int xi = 0; xi < WINO_XI; xi++)
                    LOAD16(x[xi], m + ((size_t)xi * nt + t) * oc + o0);
                LOAD16(bv, bias + o0);
                for (int j = 0; j < 6; j++) /* A^T M, by columns: 4 x 6 */
                    at_1d(&r[j], 6, &x[j], 6);
                for (int i = 0; i < 4; i++) /* (A^T M) A, by rows: 4 x 4 */
                    at_1d(&y[4 * i], 1, &r[6 * i], 1);
                for (int q = 0; q < 16; q++) {
                    y[q] += bv;
                    if (s->relu)
                        y[q] = (vf16)((vi16)y[q] & (y[q] > zv));
                }
                if (s->pool) { /* the tile's four 2x2 windows, those inside the pooled map */
                    const int pw = ow / 2;
                    for (int i = 0; i < 2 && 2 * ty + i < oh / 2; i++)
                        for (int j = 0; j < 2 && 2 * tx + j < pw; j++) {
                            const vf16 *a = &y[8 * i + 2 * j];
                            vf16 best = a[0]; /* the first of equal maxima, as pool_nhwc */
                            const vf16 *next[3] = {&a[1], &a[4], &a[5]};
                            for (int e = 0; e < 3; e++) {
                                const vi16 gt = *next[e] > best;
                                select_f(&best, &gt, next[e], &best);
                            }
                            STORE16(out + ((size_t)(2 * ty + i) * pw + 2 * tx + j) * oc + o0, best);
                        }
                    continue;
                }
                for (int i = 0; i < 4 && 4 * ty + i < oh; i++)
                    for (int j = 0; j < 4 && 4 * tx + j < ow; j++)
                        STORE16(out + ((size_t)(4 * ty + i) * ow + 4 * tx + j) * oc + o0,
                                y[4 * i + j]);
            }
        }
}

/* k x k max pool, stride k, channels last. */
DG_HOT static void pool_nhwc(float *restrict out, const float *restrict in, int h, int w, int c,
                             int k)
{
    const int oh = h / k, ow = w / k;
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            float *o = out + ((size_t)oy * ow + ox) * c;
            const float *first = in + ((size_t)(oy * k) * w + ox * k) * c;
            memcpy(o, first, (size_t)c * sizeof *o);
            for (int dy = 0; dy < k; dy++)
                for (int dx = 0; dx < k; dx++) {
                    const float *ip = in + ((size_t)(oy * k + dy) * w + ox * k + dx) * c;
                    for (int j = 0; j < c; j++)
                        o[j] = ip[j] > o[j] ? ip[j] : o[j];
                }
        }
}

/* One image (NCHW, as given) through the per-image stages into feat (channels last). */
static void run_image(const struct nn_infer *inf, const float *x, float *scratch, float *feat)
{
    float *buf[2] = {scratch, scratch + inf->act_max}, *padded = scratch + 2 * inf->act_max;
    float *vm = scratch + inf->wino_at;
    const struct stage *s0 = &inf->st[0];
    /* NCHW -> HWC */
    const int c0 = s0->in_c, hw0 = s0->in_h * s0->in_w;
    float *cur = inf->n_conv ? buf[0] : feat;
    for (int p = 0; p < hw0; p++)
        for (int ch = 0; ch < c0; ch++)
            cur[(size_t)p * c0 + ch] = x[(size_t)ch * hw0 + p];
    for (int i = 0; i < inf->n_conv; i++) {
        const struct stage *s = &inf->st[i];
        /* a convolution with its pool writes where the pool would */
        float *dst =
            i + (s->kind == ST_CONV && s->pool) == inf->n_conv - 1 ? feat : buf[cur == buf[0]];
        const float *src = cur;
        int h = s->in_h, w = s->in_w;
        switch (s->kind) {
        case ST_CONV: {
            if (s->pad) { /* a zero border, then a valid convolution */
                const int ph = h + 2 * s->pad, pw = w + 2 * s->pad;
                memset(padded, 0, (size_t)ph * pw * s->in_c * sizeof *padded);
                for (int y = 0; y < h; y++)
                    memcpy(padded + ((size_t)(y + s->pad) * pw + s->pad) * s->in_c,
                           cur + (size_t)y * w * s->in_c, (size_t)w * s->in_c * sizeof *padded);
                src = padded, h = ph, w = pw;
            }
            const float *wt = inf->packed + s->w_off, *bias = inf->packed + s->b_off;
            if (s->wino)
                conv_wino(dst, src, h, w, s->in_c, s, inf->packed + s->u_off, bias,
                          inf->packed + inf->zero_off, vm);
            else if (s->pool) { /* two output rows at a time, then their pooled row */
                float *rows = scratch + inf->rows_at;
                const int ow = w - s->k + 1, ph = (h - s->k + 1) / 2, pw = ow / 2;
                for (int py = 0; py < ph; py++) {
                    const float *in2 = src + (size_t)(2 * py) * w * s->in_c;
                    if (s->out_c % (2 * OB) == 0)
                        conv_tiles_32(rows, in2, s->k + 1, w, s->in_c, wt, bias, s->k, s->out_c,
                                      s->relu);
                    else
                        conv_tiles_16(rows, in2, s->k + 1, w, s->in_c, wt, bias, s->k, s->out_c,
                                      s->relu);
                    pool_nhwc(dst + (size_t)py * pw * s->out_c, rows, 2, ow, s->out_c, 2);
                }
            } else if (s->out_c % (2 * OB) == 0)
                conv_tiles_32(dst, src, h, w, s->in_c, wt, bias, s->k, s->out_c, s->relu);
            else if (s->out_c % OB == 0)
                conv_tiles_16(dst, src, h, w, s->in_c, wt, bias, s->k, s->out_c, s->relu);
            else
                conv_plain(dst, src, h, w, s->in_c, wt, bias, s->k, s->out_c, s->relu);
            i += s->pool; /* its pool is done */
            break;
        }
        case ST_POOL: pool_nhwc(dst, src, h, w, s->in_c, s->k); break;
        case ST_RELU:
            for (size_t j = 0; j < (size_t)s->in_c * h * w; j++)
                dst[j] = src[j] > 0.0f ? src[j] : 0.0f;
            break;
        case ST_DENSE: break; /* not a per-image stage */
        }
        cur = dst;
    }
}

const float *nn_infer_run(struct nn_infer *inf, const float *x, int n)
{
    if (n < 1 || n > inf->max_batch)
        return NULL;
    const size_t in_size = (size_t)inf->st[0].in_c * inf->st[0].in_h * inf->st[0].in_w;
    /* Images spread over the threads when there are several (no more than when the engine was
     * made, each having its own scratch, nor than nn_get_threads() now); one runs on the
     * caller's. */
    const int nt = inf->n_threads < nn_get_threads() ? inf->n_threads : nn_get_threads();
    (void)nt; /* only OpenMP's */
#pragma omp parallel for schedule(static) num_threads(nt) if (n > 1 && nt > 1)
    for (int i = 0; i < n; i++) {
        const int t = thread_id();
        run_image(inf, x + (size_t)i * in_size, inf->scratch + (size_t)t * inf->per_thread,
                  inf->feat + (size_t)i * inf->feat_size);
    }
    const float *cur = inf->feat;
    for (int i = inf->n_conv; i < inf->n_stages; i++) {
        const struct stage *s = &inf->st[i];
        float *dst = cur == inf->a ? inf->b : inf->a;
        if (s->kind == ST_DENSE && dense_blocked(s))
            dense_small(dst, cur, inf->packed + s->w_off, inf->packed + s->b_off, n,
                        s->in_c * s->in_h * s->in_w, s->out_c, s->relu);
        else if (s->kind == ST_DENSE)
            nn_dense_forward(dst, cur, inf->packed + s->w_off, inf->packed + s->b_off, n,
                             s->in_c * s->in_h * s->in_w, s->out_c, s->relu);
        else /* a ReLU on features */
            nn_relu_forward(dst, cur, (size_t)n * s->in_c);
        cur = dst;
    }
    (inf->junk_head ? nn_junk_probs : nn_softmax)(inf->probs, cur, n, inf->n_classes);
    return inf->probs;
}
