/* winograd.c - 3x3 convolutions by Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2015), forward and backward.
 *
 * Each 4x4 block ("tile") of the output comes from a 6x6 patch d of the input and a 3x3 filter g:
 *   Y = A^T [ (G g G^T) * (B^T d B) ] A        (* element by element, 36 products)
 * summed over input channels. With U = G g G^T (per filter) and V = B^T d B (per patch and
 * channel), the sum over channels is, for each of the 36 positions xi of the 6x6, one matrix
 * product M[xi] = U[xi] . V[xi] of [oc x c] by [c x tiles]: 36 * c * oc multiplications per tile
 * instead of 144 * c * oc, done by sgemm (the reference model's 11x11 output takes 3x3 tiles: 324
 * products per channel pair against 121 * 9 = 1,089 direct, 3.4x fewer). The transforms run 16
 * tiles at a time in vectors. Rounding is a little larger than a direct sum's (the transforms scale
 * by up to ~100 and back): ~1e-6 of the result. The backward pass is the exact adjoint of that
 * chain (dM = A dY A^T, dU = dM . V^T, dV = U^T . dM, dx = B dV B^T scattered back, dg = G^T dU G),
 * so its gradients are those of what the forward pass computed.
 *
 * Work is split into chunks of NN_WINO_CHUNK images; each thread takes a contiguous run of chunks
 * and multiplies with single-threaded sgemm inside the OpenMP region (the OpenMP OpenBLAS runs
 * single-threaded there), so a chunk's transformed data stays in the core's cache between the
 * transforms and the products. The weight gradient is summed per thread and the partial sums are
 * added in thread order: results are the same run to run for a given thread count. */
#include "kernels.h"

#include "dg.h"
#include "simd.h"
#include "wino43.h"

#include <cblas.h>
#include <string.h>

/* F(4x4, 3x3): 4x4 output tiles from 6x6 input patches, 36 products per tile and channel pair. */
enum { TILE = 4, ALPHA = TILE + 2, NXI = ALPHA * ALPHA };

/* Transforms run on 16 tiles (or filters) at once, one per lane of a vf16. */
enum { LANES = 16 };

/* The geometry of one layer: output oh x ow in th x tw tiles, t_img tiles per image; a chunk's
 * rows of tile columns are ld_max floats long (its tile count rounded up to whole vectors). */
struct geo {
    int n, c, h, w, oc, pad, oh, ow, th, tw, t_img, n_chunks, ld_max;
};

static int round_lanes(int p)
{
    return (p + LANES - 1) / LANES * LANES;
}

static struct geo geometry(int n, int c, int h, int w, int oc, int pad)
{
    struct geo g = {n, c, h, w, oc, pad, h + 2 * pad - 2, w + 2 * pad - 2, 0, 0, 0, 0, 0};
    g.th = (g.oh + TILE - 1) / TILE;
    g.tw = (g.ow + TILE - 1) / TILE;
    g.t_img = g.th * g.tw;
    g.n_chunks = (n + NN_WINO_CHUNK - 1) / NN_WINO_CHUNK;
    g.ld_max = round_lanes(NN_WINO_CHUNK * g.t_img);
    return g;
}

/* The 36 planes of transformed data ([36][rows][tile columns] for a chunk, [36][oc][c] for
 * filters) are PLANE_PAD floats longer than they need be: otherwise they would often be a
 * multiple of 4 KiB apart, and the 36 streams of a transform would fight over a few L1 sets. */
enum { PLANE_PAD = 16 };
static size_t plane(const struct geo *g, int rows)
{
    return (size_t)rows * g->ld_max + PLANE_PAD;
}

static size_t fplane(const struct geo *g)
{
    return (size_t)g->oc * g->c + PLANE_PAD;
}

/* saved: the filters' planes U [36][oc][c] (made by the forward pass, used by both), then each
 * chunk's transformed input V [36][c][tiles].
 * One thread's slot of scratch: M or dM [36][oc][tiles], dV [36][c][tiles], then its partial
 * sums of dU [36][oc][c] and db [oc], then the pool windows' table. */
static size_t sums_offset(const struct geo *g)
{
    return NXI * (plane(g, g->oc) + plane(g, g->c));
}

static size_t slot_size(const struct geo *g)
{
    /* + the pool windows' table (see window_table): 4 int32 per tile column */
    return sums_offset(g) + NXI * fplane(g) + g->oc + 4 * (size_t)g->ld_max;
}

size_t nn_wino_saved_size(int n, int c, int h, int w, int oc, int pad)
{
    const struct geo g = geometry(n, c, h, w, oc, pad);
    return NXI * fplane(&g) + (size_t)g.n_chunks * NXI * plane(&g, c);
}

size_t nn_wino_scratch_size(int c, int oc, int h, int w, int pad, int slots)
{
    const struct geo g = geometry(1, c, h, w, oc, pad);
    return (size_t)(slots < 1 ? 1 : slots) * slot_size(&g);
}

/* How many threads: at most the OpenMP setting, the slots in scratch and the chunks. */
static int use_threads(int slots, int n_chunks)
{
    int nt = max_threads();
    nt = nt < slots ? nt : slots;
    nt = nt < n_chunks ? nt : n_chunks;
    return nt < 1 ? 1 : nt;
}

/* n vectors from / to n rows of 16 floats, stride floats apart */
DG_INLINE void load_rows(vf16 *v, const float *src, size_t stride, int n)
{
    for (int i = 0; i < n; i++)
        memcpy(&v[i], src + i * stride, sizeof v[i]);
}

DG_INLINE void store_rows(float *dst, size_t stride, const vf16 *v, int n)
{
    for (int i = 0; i < n; i++)
        memcpy(dst + i * stride, &v[i], sizeof v[i]);
}

/* ---- filters ------------------------------------------------------------------------------- */

/* U[xi][f] = (G g G^T)[xi] for every filter g = w[f] (3x3, f = o * c + ci), 16 filters at once. */
DG_HOT static void transform_filters(float *u, const float *w, const struct geo *g)
{
    const int n_f = g->oc * g->c;
    const size_t fs = fplane(g);
    for (int f0 = 0; f0 < n_f; f0 += LANES) {
        const int nl = n_f - f0 < LANES ? n_f - f0 : LANES;
        float gx[9][LANES] = {{0}}, out[NXI][LANES];
        for (int l = 0; l < nl; l++)
            for (int i = 0; i < 9; i++)
                gx[i][l] = w[9 * (size_t)(f0 + l) + i];
        vf16 x[9], t[ALPHA * 3], v[NXI];
        load_rows(x, gx[0], LANES, 9);
        for (int j = 0; j < 3; j++) /* G g, by columns */
            g_1d(&t[j], 3, &x[j], 3);
        for (int i = 0; i < ALPHA; i++) /* (G g) G^T, by rows */
            g_1d(&v[ALPHA * i], 1, &t[3 * i], 1);
        store_rows(out[0], LANES, v, NXI);
        for (int xi = 0; xi < NXI; xi++)
            memcpy(u + xi * fs + f0, out[xi], (size_t)nl * sizeof(float));
    }
}

/* dw[f] += G^T dU[.][f] G, the adjoint of transform_filters. */
DG_HOT static void untransform_filters(float *dw, const float *du, const struct geo *g)
{
    const int n_f = g->oc * g->c;
    const size_t fs = fplane(g);
    for (int f0 = 0; f0 < n_f; f0 += LANES) {
        const int nl = n_f - f0 < LANES ? n_f - f0 : LANES;
        float dx[NXI][LANES] = {{0}}, out[9][LANES];
        for (int xi = 0; xi < NXI; xi++)
            memcpy(dx[xi], du + xi * fs + f0, (size_t)nl * sizeof(float));
        vf16 x[NXI], e[3 * ALPHA], d[9];
        load_rows(x, dx[0], LANES, NXI);
        for (int j = 0; j < ALPHA; j++) /* G^T dU, by columns */
            gt_1d(&e[j], ALPHA, &x[j], ALPHA);
        for (int i = 0; i < 3; i++) /* (G^T dU) G, by rows */
            gt_1d(&d[3 * i], 1, &e[ALPHA * i], 1);
        store_rows(out[0], LANES, d, 9);
        for (int l = 0; l < nl; l++)
            for (int i = 0; i < 9; i++)
                dw[9 * (size_t)(f0 + l) + i] += out[i][l];
    }
}

/* ---- tiles ----------------------------------------------------------------------------------- */

/* A walk over a chunk's tiles in column order: image k, tile row ty, tile column tx. */
struct walk {
    int k, ty, tx;
};

DG_INLINE void step(struct walk *it, const struct geo *g)
{
    if (++it->tx == g->tw) {
        it->tx = 0;
        if (++it->ty == g->th) {
            it->ty = 0;
            it->k++;
        }
    }
}

/* V[xi][ci][p] of the nb images from n0 on (CNHW in), p = (image - n0) * t_img + tile, rows ld
 * floats long (columns past the tiles are 0). */
DG_INLINE void transform_inputs(float *v, const float *in, const struct geo *g, int n0, int nb,
                                int ld)
{
    const int p = nb * g->t_img;
    const size_t stride = plane(g, g->c), img = (size_t)g->h * g->w;
    for (int ci = 0; ci < g->c; ci++) {
        const float *src = in + ((size_t)ci * g->n + n0) * img;
        struct walk it = {0, 0, 0};
        for (int pb = 0; pb < ld; pb += LANES) {
            float d[NXI][LANES];
            for (int l = 0; l < LANES; l++) {
                if (pb + l >= p) {
                    for (int xi = 0; xi < NXI; xi++)
                        d[xi][l] = 0.0f;
                    continue;
                }
                const float *s = src + it.k * img;
                const int y0 = TILE * it.ty - g->pad, x0 = TILE * it.tx - g->pad;
                if (y0 >= 0 && x0 >= 0 && y0 + ALPHA <= g->h && x0 + ALPHA <= g->w) {
                    for (int i = 0; i < ALPHA; i++)
                        for (int j = 0; j < ALPHA; j++)
                            d[ALPHA * i + j][l] = s[(size_t)(y0 + i) * g->w + x0 + j];
                } else {
                    for (int i = 0; i < ALPHA; i++)
                        for (int j = 0; j < ALPHA; j++) {
                            const int y = y0 + i, x = x0 + j;
                            d[ALPHA * i + j][l] = y >= 0 && y < g->h && x >= 0 && x < g->w
                                                      ? s[(size_t)y * g->w + x]
                                                      : 0.0f;
                        }
                }
                step(&it, g);
            }
            vf16 x[NXI], t[NXI], r[NXI];
            load_rows(x, d[0], LANES, NXI);
            for (int j = 0; j < ALPHA; j++) /* B^T d, by columns */
                bt_1d(&t[j], ALPHA, &x[j], ALPHA);
            for (int i = 0; i < ALPHA; i++) /* (B^T d) B, by rows */
                bt_1d(&r[ALPHA * i], 1, &t[ALPHA * i], 1);
            store_rows(v + (size_t)ci * ld + pb, stride, r, NXI);
        }
    }
}

/* Where a convolution's output goes (forward) and its gradient comes from (backward): out / dout
 * (CNHW, oh x ow per plane; + b, then max(0, .) when relu), or with pooled set, through ReLU and
 * 2x2 max-pooling into pooled and argmax (ph x pw per plane, as nn_bias_relu_pool leaves them) /
 * from dpooled. Tiles are 4x4 and start at even positions, so each holds whole pool windows. */
struct io {
    float *out;
    const float *b;
    int relu;
    float *pooled;
    uint8_t *argmax;
    const float *dout, *dpooled, *pooled_in;
    const uint8_t *argmax_in;
    int ph, pw;
};

/* tab[4 p + a] = where pool window a (0..3: by rows, then columns) of tile column p of the nb
 * images from the chunk's first lies in a channel's pooled planes (from its first image's), or -1
 * when the pooled plane has no such window (the last output row or column of an odd size) or
 * past the chunk's tiles; for every column of the rows, ld of them. The same for every channel. */
DG_INLINE void window_table(int32_t *tab, const struct io *io, const struct geo *g, int nb, int ld)
{
    struct walk it = {0, 0, 0};
    for (int q = 0; q < ld; q++) {
        for (int a = 0; a < 4; a++) {
            const int py = TILE / 2 * it.ty + a / 2, px = TILE / 2 * it.tx + a % 2;
            tab[4 * q + a] = it.k < nb && py < io->ph && px < io->pw
                                 ? (int32_t)(((size_t)it.k * io->ph + py) * io->pw + px)
                                 : -1;
        }
        if (it.k < nb)
            step(&it, g);
    }
}

/* The outputs of the nb images from n0 on = A^T M A per tile, to io (see struct io); tab: the
 * chunk's window_table when pooling. */
DG_INLINE void transform_outputs(const struct io *io, const int32_t *tab, const float *m,
                                 const struct geo *g, int n0, int nb, int ld)
{
    const int p = nb * g->t_img;
    const size_t stride = plane(g, g->oc), img = (size_t)g->oh * g->ow;
    for (int o = 0; o < g->oc; o++) {
        const float bias = io->b ? io->b[o] : 0.0f, floor = io->relu ? 0.0f : -__builtin_inff();
        struct walk it = {0, 0, 0};
        for (int pb = 0; pb < p; pb += LANES) {
            vf16 x[NXI], s[TILE * ALPHA], y[TILE * TILE];
            load_rows(x, m + (size_t)o * ld + pb, stride, NXI);
            for (int j = 0; j < ALPHA; j++) /* A^T M, by columns */
                at_1d(&s[j], ALPHA, &x[j], ALPHA);
            for (int i = 0; i < TILE; i++) /* (A^T M) A, by rows */
                at_1d(&y[TILE * i], 1, &s[ALPHA * i], 1);
            if (io->pooled) {
                /* the tile's four windows, 16 tiles at a time */
                float pv[4][LANES];
                int32_t pw[4][LANES];
                for (int a = 0; a < 4; a++) {
                    const int y0 = 2 * (a / 2), x0 = 2 * (a % 2);
                    vf16 best;
                    vi16 win;
                    pool2x2(&best, &win, &y[TILE * y0 + x0], &y[TILE * y0 + x0 + 1],
                            &y[TILE * (y0 + 1) + x0], &y[TILE * (y0 + 1) + x0 + 1], bias);
                    memcpy(pv[a], &best, sizeof best);
                    memcpy(pw[a], &win, sizeof win);
                }
                float *pooled = io->pooled + ((size_t)o * g->n + n0) * io->ph * io->pw;
                uint8_t *argmax = io->argmax + ((size_t)o * g->n + n0) * io->ph * io->pw;
                for (int l = 0; l < LANES && pb + l < p; l++)
                    for (int a = 0; a < 4; a++) {
                        const int32_t off = tab[4 * (pb + l) + a];
                        if (off >= 0) {
                            pooled[off] = pv[a][l];
                            argmax[off] = (uint8_t)pw[a][l];
                        }
                    }
                continue;
            }
            float *dst = io->out + ((size_t)o * g->n + n0) * img;
            float ys[TILE * TILE][LANES];
            store_rows(ys[0], LANES, y, TILE * TILE);
            for (int l = 0; l < LANES && pb + l < p; l++, step(&it, g)) {
                const int y0 = TILE * it.ty, x0 = TILE * it.tx;
                const int ni = g->oh - y0 < TILE ? g->oh - y0 : TILE,
                          nj = g->ow - x0 < TILE ? g->ow - x0 : TILE;
                for (int i = 0; i < ni; i++) {
                    float *row = dst + it.k * img + (size_t)(y0 + i) * g->ow + x0;
                    for (int j = 0; j < nj; j++) {
                        const float a = ys[TILE * i + j][l] + bias;
                        row[j] = a > floor ? a : floor;
                    }
                }
            }
        }
    }
}

/* dM[xi][o][p] = (A dY A^T)[xi] for the 4x4 blocks of the output gradient (from io: dout, or
 * dpooled at each window's winner where the ReLU was open; 0 elsewhere and beyond the edge);
 * db[o] (when db) += the gradient's sum; tab: the chunk's window_table when pooling. */
DG_INLINE void transform_grads(float *dm, float *db, const struct io *io, const int32_t *tab,
                               const struct geo *g, int n0, int nb, int ld)
{
    const int p = nb * g->t_img;
    const size_t stride = plane(g, g->oc), img = (size_t)g->oh * g->ow;
    for (int o = 0; o < g->oc; o++) {
        const float *src = io->dout ? io->dout + ((size_t)o * g->n + n0) * img : NULL;
        const size_t plane0 = ((size_t)o * g->n + n0) * io->ph * io->pw;
        const vf16 zero = {0};
        vf16 gsum = zero;
        if (db && src)
            db[o] += sum_lanes(src, img * nb);
        struct walk it = {0, 0, 0};
        for (int pb = 0; pb < ld; pb += LANES) {
            vf16 x[TILE * TILE], a[ALPHA * TILE], r[NXI];
            if (!src) {
                /* each window's gradient (0 where the ReLU was closed) at its winner: a tile
                 * position takes its window's gradient where the winner is that position */
                for (int w = 0; w < 4; w++) {
                    float gw[LANES];
                    int32_t aw[LANES];
                    for (int l = 0; l < LANES; l++) {
                        const int32_t off = tab[4 * (pb + l) + w];
                        const size_t j = plane0 + (size_t)(off >= 0 ? off : 0);
                        gw[l] = off >= 0 && io->pooled_in[j] > 0.0f ? io->dpooled[j] : 0.0f;
                        aw[l] = off >= 0 ? io->argmax_in[j] : 0;
                    }
                    vf16 gv;
                    vi16 av;
                    memcpy(&gv, gw, sizeof gv);
                    memcpy(&av, aw, sizeof av);
                    gsum += gv;
                    const int y0 = 2 * (w / 2), x0 = 2 * (w % 2);
                    for (int q = 0; q < 4; q++) {
                        const vi16 here = av == q;
                        select_f(&x[TILE * (y0 + q / 2) + x0 + q % 2], &here, &gv, &zero);
                    }
                }
            } else {
                float dy[TILE * TILE][LANES];
                for (int l = 0; l < LANES; l++) {
                    if (pb + l >= p) {
                        for (int i = 0; i < TILE * TILE; i++)
                            dy[i][l] = 0.0f;
                        continue;
                    }
                    const int y0 = TILE * it.ty, x0 = TILE * it.tx;
                    const float *s = src + it.k * img;
                    for (int i = 0; i < TILE; i++)
                        for (int j = 0; j < TILE; j++)
                            dy[TILE * i + j][l] = y0 + i < g->oh && x0 + j < g->ow
                                                      ? s[(size_t)(y0 + i) * g->ow + x0 + j]
                                                      : 0.0f;
                    step(&it, g);
                }
                load_rows(x, dy[0], LANES, TILE * TILE);
            }
            for (int j = 0; j < TILE; j++) /* A dY, by columns */
                a_1d(&a[j], TILE, &x[j], TILE);
            for (int i = 0; i < ALPHA; i++) /* (A dY) A^T, by rows */
                a_1d(&r[ALPHA * i], 1, &a[TILE * i], 1);
            store_rows(dm + (size_t)o * ld + pb, stride, r, NXI);
        }
        if (db && !src)
            db[o] += hsum(&gsum);
    }
}

/* din (CNHW) of the nb images from n0 on = the sum over tiles of B dV B^T, placed where each
 * tile's patch came from (patches overlap by two rows and columns; parts outside are dropped). */
DG_INLINE void scatter_inputs(float *din, const float *dv, const struct geo *g, int n0, int nb,
                              int ld)
{
    const int p = nb * g->t_img;
    const size_t stride = plane(g, g->c), img = (size_t)g->h * g->w;
    for (int ci = 0; ci < g->c; ci++) {
        float *dst = din + ((size_t)ci * g->n + n0) * img;
        memset(dst, 0, (size_t)nb * img * sizeof *dst);
        struct walk it = {0, 0, 0};
        for (int pb = 0; pb < p; pb += LANES) {
            vf16 x[NXI], t[NXI], r[NXI];
            load_rows(x, dv + (size_t)ci * ld + pb, stride, NXI);
            for (int j = 0; j < ALPHA; j++) /* B dV, by columns */
                b_1d(&t[j], ALPHA, &x[j], ALPHA);
            for (int i = 0; i < ALPHA; i++) /* (B dV) B^T, by rows */
                b_1d(&r[ALPHA * i], 1, &t[ALPHA * i], 1);
            float d[NXI][LANES];
            store_rows(d[0], LANES, r, NXI);
            for (int l = 0; l < LANES && pb + l < p; l++, step(&it, g)) {
                float *s = dst + it.k * img;
                const int y0 = TILE * it.ty - g->pad, x0 = TILE * it.tx - g->pad;
                if (y0 >= 0 && x0 >= 0 && y0 + ALPHA <= g->h && x0 + ALPHA <= g->w) {
                    for (int i = 0; i < ALPHA; i++)
                        for (int j = 0; j < ALPHA; j++)
                            s[(size_t)(y0 + i) * g->w + x0 + j] += d[ALPHA * i + j][l];
                } else {
                    for (int i = 0; i < ALPHA; i++)
                        for (int j = 0; j < ALPHA; j++) {
                            const int yy = y0 + i, xx = x0 + j;
                            if (yy >= 0 && yy < g->h && xx >= 0 && xx < g->w)
                                s[(size_t)yy * g->w + xx] += d[ALPHA * i + j][l];
                        }
                }
            }
        }
    }
}

/* ---- the passes ------------------------------------------------------------------------------ */

/* The images of chunk q: [*n0, *n0 + return value). */
static int chunk(const struct geo *g, int q, int *n0)
{
    *n0 = q * NN_WINO_CHUNK;
    return g->n - *n0 < NN_WINO_CHUNK ? g->n - *n0 : NN_WINO_CHUNK;
}

/* The chunks [q0, q1) of thread t of nt. */
static void share(int n_chunks, int t, int nt, int *q0, int *q1)
{
    *q0 = (int)((long)n_chunks * t / nt);
    *q1 = (int)((long)n_chunks * (t + 1) / nt);
}

/* Where chunk q's transformed input lies in saved (after the filters' planes). */
static size_t chunk_at(const struct geo *g, int q)
{
    return NXI * fplane(g) + (size_t)q * NXI * plane(g, g->c);
}

/* The pool windows' table in a thread's slot. */
static int32_t *table_of(float *slot, const struct geo *g)
{
    return (int32_t *)(slot + sums_offset(g) + NXI * fplane(g) + g->oc);
}

/* What a pass's threads share. */
struct pass {
    const struct geo *g;
    const struct io *io;
    const float *saved; /* U, then each chunk's V */
    float *saved_out;   /* the same, written by the forward pass */
    const float *in;    /* forward */
    float *din;         /* backward, nullable */
    int with_db;        /* backward */
};

typedef void chunks_fn(const struct pass *ps, float *slot, int q0, int q1);

/* fn over all chunks, each thread on a contiguous run of them with its own slot of scratch;
 * returns how many threads (and so slots) took part. */
static int over_threads(chunks_fn *fn, const struct pass *ps, float *scratch, int slots)
{
    const int n_chunks = ps->g->n_chunks, nt = use_threads(slots, n_chunks);
    const size_t ss = slot_size(ps->g);
    if (nt == 1) {
        fn(ps, scratch, 0, n_chunks);
        return 1;
    }
#pragma omp parallel num_threads(nt)
    {
        const int t = thread_id();
        int q0, q1;
        share(n_chunks, t, nt, &q0, &q1);
        fn(ps, scratch + (size_t)t * ss, q0, q1);
    }
    return nt;
}

DG_HOT static void forward_chunks(const struct pass *ps, float *slot, int q0, int q1)
{
    const struct geo *g = ps->g;
    const size_t vs = plane(g, g->c), ms = plane(g, g->oc), fs = fplane(g);
    const float *u = ps->saved;
    int32_t *tab = table_of(slot, g);
    int tab_nb = 0; /* the chunk size the table is for (only the last chunk may differ) */
    for (int q = q0; q < q1; q++) {
        int n0;
        const int nb = chunk(g, q, &n0), p = nb * g->t_img, ld = round_lanes(p);
        float *v = ps->saved_out + chunk_at(g, q), *m = slot;
        if (ps->io->pooled && nb != tab_nb) {
            window_table(tab, ps->io, g, nb, ld);
            tab_nb = nb;
        }
        transform_inputs(v, ps->in, g, n0, nb, ld);
        for (int xi = 0; xi < NXI; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->oc, p, g->c, 1.0f,
                        u + xi * fs, g->c, v + xi * vs, ld, 0.0f, m + xi * ms, ld);
        transform_outputs(ps->io, tab, m, g, n0, nb, ld);
    }
}

static void forward(const struct io *io, float *saved, float *scratch, int slots, const float *in,
                    const float *w, int n, int c, int h, int wd, int oc, int pad)
{
    const struct geo g = geometry(n, c, h, wd, oc, pad);
    transform_filters(saved, w, &g);
    const struct pass ps = {.g = &g, .io = io, .saved = saved, .saved_out = saved, .in = in};
    over_threads(forward_chunks, &ps, scratch, slots);
}

void nn_wino_forward(float *out, float *saved, float *scratch, int slots, const float *in,
                     const float *w, const float *b, int n, int c, int h, int wd, int oc, int pad,
                     int relu)
{
    const struct io io = {.out = out, .b = b, .relu = relu};
    forward(&io, saved, scratch, slots, in, w, n, c, h, wd, oc, pad);
}

void nn_wino_relu_pool_forward(float *pooled, uint8_t *argmax, float *saved, float *scratch,
                               int slots, const float *in, const float *w, const float *b, int n,
                               int c, int h, int wd, int oc, int pad)
{
    const int oh = h + 2 * pad - 2, ow = wd + 2 * pad - 2;
    const struct io io = {
        .b = b, .relu = 1, .pooled = pooled, .argmax = argmax, .ph = oh / 2, .pw = ow / 2};
    forward(&io, saved, scratch, slots, in, w, n, c, h, wd, oc, pad);
}

/* One thread's share of the backward pass: its chunks' din, and in its slot its partial sums of
 * dU and (when with_db) db, zeroed here. */
DG_HOT static void backward_chunks(const struct pass *ps, float *slot, int q0, int q1)
{
    const struct geo *g = ps->g;
    const size_t vs = plane(g, g->c), ms = plane(g, g->oc), fs = fplane(g);
    const float *u = ps->saved;
    float *dm = slot, *dv = dm + NXI * ms, *du = slot + sums_offset(g), *db = du + NXI * fs;
    int32_t *tab = table_of(slot, g);
    int tab_nb = 0;
    memset(du, 0, (NXI * fs + g->oc) * sizeof *du);
    for (int q = q0; q < q1; q++) {
        int n0;
        const int nb = chunk(g, q, &n0), p = nb * g->t_img, ld = round_lanes(p);
        const float *v = ps->saved + chunk_at(g, q);
        if (ps->io->dpooled && nb != tab_nb) {
            window_table(tab, ps->io, g, nb, ld);
            tab_nb = nb;
        }
        transform_grads(dm, ps->with_db ? db : NULL, ps->io, tab, g, n0, nb, ld);
        for (int xi = 0; xi < NXI; xi++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->oc, g->c, p, 1.0f, dm + xi * ms,
                        ld, v + xi * vs, ld, 1.0f, du + xi * fs, g->c);
            if (ps->din)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->c, p, g->oc, 1.0f,
                            u + xi * fs, g->c, dm + xi * ms, ld, 0.0f, dv + xi * vs, ld);
        }
        if (ps->din)
            scatter_inputs(ps->din, dv, g, n0, nb, ld);
    }
}

static void backward(float *din, float *dw, float *db, float *scratch, int slots,
                     const struct io *io, const float *saved, int n, int c, int h, int wd, int oc,
                     int pad)
{
    const struct geo g = geometry(n, c, h, wd, oc, pad);
    const struct pass ps = {.g = &g, .io = io, .saved = saved, .din = din, .with_db = db != NULL};
    const int nt = over_threads(backward_chunks, &ps, scratch, slots);
    /* The threads' partial sums of dU and db, added in thread order. */
    const size_t n_sums = NXI * fplane(&g) + oc, ss = slot_size(&g);
    float *sums = scratch + sums_offset(&g);
    for (int t = 1; t < nt; t++) {
        const float *part = scratch + (size_t)t * ss + sums_offset(&g);
        for (size_t i = 0; i < n_sums; i++)
            sums[i] += part[i];
    }
    untransform_filters(dw, sums, &g);
    if (db)
        for (int o = 0; o < oc; o++)
            db[o] += sums[NXI * fplane(&g) + o];
}

void nn_wino_backward(float *din, float *dw, float *db, float *scratch, int slots,
                      const float *dout, const float *saved, int n, int c, int h, int wd, int oc,
                      int pad)
{
    const struct io io = {.dout = dout};
    backward(din, dw, db, scratch, slots, &io, saved, n, c, h, wd, oc, pad);
}

void nn_wino_relu_pool_backward(float *din, float *dw, float *db, float *scratch, int slots,
                                const float *dpooled, const float *pooled, const uint8_t *argmax,
                                const float *saved, int n, int c, int h, int wd, int oc, int pad)
{
    const int oh = h + 2 * pad - 2, ow = wd + 2 * pad - 2;
    const struct io io = {
        .dpooled = dpooled, .pooled_in = pooled, .argmax_in = argmax, .ph = oh / 2, .pw = ow / 2};
    backward(din, dw, db, scratch, slots, &io, saved, n, c, h, wd, oc, pad);
}
