/* segment.c - separating ink from paper under uneven light (strokes against the paper behind them:
 * a grey closing on a half-resolution copy; automatic polarity), erasing ruled and squared
 * paper lines, and 8-connected components labelled by runs; the last two on bit planes, 64 pixels
 * a word. The first stages of the scanning pipeline; they know nothing of digits or networks. All
 * scratch lives in a struct vis_work that only grows, so a stream of same-sized frames allocates
 * nothing after the first. */
#include "vis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct vis_work {
    uint8_t *half;  /* grey averaged over 2x2 blocks: hw x hh */
    float *mean;    /* per half pixel: the window's mean grey */
    float *ratio;   /* one half row of grey to mean ratios (half_polarity) */
    void *box;      /* sliding column sums and prefix sums over one half row */
    uint64_t *bits; /* bit planes (see struct plane): the mask, line removal's marks */
    uint8_t *morph; /* keep_strokes: the half picture with ink dark, its closing, a pass between */
    size_t morph_cap;
    size_t n_half, n_box, n_bits;
    struct vis_run *runs;
    int32_t *parent;         /* union-find over runs: parent run, always a smaller index */
    size_t runs_cap, n_runs; /* n_runs: how many runs the last labelling left in runs */
    struct vis_component *comp;
    double *sums; /* per component: sums of x and y over its pixel centres, or a line's fit */
    int32_t *tag; /* per component: which line it is, or -1 */
    size_t comp_cap, sums_cap, tag_cap;
    int32_t *order; /* find_lines' robust start: runs by line, then each line's first */
    float *hist;    /* ... and its votes per slope and offset */
    size_t order_cap, hist_cap;
    /* vis_components' label image (labels_w x labels_h) and the runs it last labelled, so the
     * next frame clears just those */
    int32_t *labels;
    int labels_w, labels_h;
    struct vis_run *labelled;
    size_t n_labelled, labelled_cap;
};

int vis_work_new(struct vis_work **out)
{
    struct vis_work *wk = calloc(1, sizeof *wk);
    if (!wk)
        return dg_fail(DG_ENOMEM, "out of memory");
    *out = wk;
    return DG_OK;
}

void vis_work_free(struct vis_work *wk)
{
    if (!wk)
        return;
    free(wk->half), free(wk->mean), free(wk->ratio), free(wk->box);
    free(wk->bits), free(wk->morph), free(wk->runs), free(wk->parent), free(wk->comp);
    free(wk->sums), free(wk->tag), free(wk->labels), free(wk->labelled);
    free(wk->order), free(wk->hist);
    free(wk);
}

/* Grows the half-resolution buffers, whose contents need not survive: several of one size at
 * once. */
static int grow_half(struct vis_work *wk, size_t n_half)
{
    if (n_half > wk->n_half) {
        free(wk->half), free(wk->mean), free(wk->ratio);
        wk->half = malloc(n_half);
        wk->mean = malloc(n_half * sizeof *wk->mean);
        wk->ratio = malloc(n_half * sizeof *wk->ratio); /* hw <= n_half */
        wk->n_half = wk->half && wk->mean && wk->ratio ? n_half : 0;
        if (!wk->n_half)
            return dg_fail(DG_ENOMEM, "out of memory for a %zu-pixel half image", n_half);
    }
    return DG_OK;
}

void vis_threshold_default_params(struct vis_threshold_params *p)
{
    /* Chosen on scenes of MNIST training digits (build/scenes-tune, build/world-tune), never the
     * report sets; see stroke_mask. share was 0.4 until the reader had a 'not a digit' class,
     * sharpened crops and both polarities; chosen again on 2026-12-05 with the shipped fast model
     * (0.25 to 0.4 tried): 0.3 read 79.97 -> 80.19% of build/world-tune's digits, numbers 60.92 ->
     * 62.93%, false digits per digit-free frame 0.30 -> 0.19; build/scenes-tune 97.24 -> 97.28%,
     * precision 98.94 -> 99.14%. Faint pencil beside bold print comes through more often. */
    p->window = 0;
    p->contrast = 16;
    p->share = 0.3f;
    p->max_stroke = 1.0f / 16.0f;
    p->polarity = VIS_POLARITY_AUTO;
}

/* ---- box statistics ------------------------------------------------------------------------ */

/* A window's exact integer sum as a float: through int32 when small says every window's sums are
 * below 2^31 (which vectorises), else from uint64. The same value either way. */
#define TO_FLOAT(sum) (small ? (float)(int32_t)(sum) : (float)(sum))

/* Window means of one row, x in [xa, xb), where every window is 2r+1 columns wide (inv = 1 / its
 * pixel count), from the row's prefix sums p. */
DG_INLINE void means_span(const uint64_t *restrict p, int xa, int xb, int r, float inv,
                          float *restrict mrow, int small)
{
    for (int x = xa; x < xb; x++)
        mrow[x] = TO_FLOAT(p[x + r + 1] - p[x - r]) * inv;
}

/* The same at the side borders, where windows are clipped: x in [0, xa) and [xb, w), with
 * inv_cols[c] = 1 / (rows * c) for a window c columns wide. Only when w >= 2r + 1 (xa = r,
 * xb = w - r - 1): every window then reaches from the edge to x + r + 1 or from x - r to the other
 * edge, and the loops vectorise. */
DG_INLINE void means_borders(const uint64_t *restrict p, int w, int r,
                             const float *restrict inv_cols, float *restrict mrow, int small)
{
    for (int x = 0; x < r; x++) /* windows [0, x + r + 1) */
        mrow[x] = TO_FLOAT(p[x + r + 1]) * inv_cols[x + r + 1];
    for (int x = w - r - 1; x < w; x++) /* windows [x - r, w) */
        mrow[x] = TO_FLOAT(p[w] - p[x - r]) * inv_cols[w - x + r];
}

/* The same for any width, one column at a time (narrow images). */
static void means_narrow(const uint64_t *p, int w, int r, const float *inv_cols, float *mrow)
{
    for (int x = 0; x < w; x++) {
        const int x0 = x - r > 0 ? x - r : 0, x1 = x + r + 1 < w ? x + r + 1 : w;
        mrow[x] = (float)(p[x1] - p[x0]) * inv_cols[x1 - x0];
    }
}

/* Mean grey over the (2r+1)^2 window around every pixel of g, clipped at the borders, into mean[]
 * (w x h) on every step-th row (the others are left as they were). Column sums over the window's
 * rows are updated by one row in and one row out; their prefix along the row gives any window's
 * sum: O(1) per pixel for any r. */
DG_HOT static int box_means(struct vis_work *wk, const uint8_t *g, int w, int h, int r, int step,
                            float *mean)
{
    /* c: per column sums of grey over the window's rows; p: their prefix sums along the row, w + 1
     * entries; inv_cols: 1 / the pixel count of a window c columns wide, for the current number of
     * rows. */
    r = r < h ? r : h;
    const size_t need = ((size_t)w + 1) * sizeof(uint64_t) + (size_t)w * sizeof(uint32_t) +
                        (2 * (size_t)r + 2) * sizeof(float);
    if (dg_grow(&wk->box, &wk->n_box, need, 1) != DG_OK)
        return DG_ENOMEM;
    uint64_t *restrict p = wk->box;
    uint32_t *restrict c = (uint32_t *)(p + w + 1);
    float *restrict inv_cols = (float *)(c + w);
    int inv_rows = 0; /* the row count inv_cols is for */
    /* a full window's sum below 2^31 */
    const int small = (double)(2 * r + 1) * (2 * r + 1) * 255.0 < 2147483647.0;
    memset(c, 0, (size_t)w * sizeof *c);
    for (int y = -r; y < h; y++) {
        if (y + r < h) { /* row y + r enters the window */
            const uint8_t *row = g + (size_t)(y + r) * w;
            for (int x = 0; x < w; x++)
                c[x] += row[x];
        }
        if (y - r - 1 >= 0) { /* row y - r - 1 leaves it */
            const uint8_t *row = g + (size_t)(y - r - 1) * w;
            for (int x = 0; x < w; x++)
                c[x] -= row[x];
        }
        if (y < 0 || y % step)
            continue;
        /* the running sum in a register: read back from p each step would wait on the store
         * before it (store-to-load forwarding, several cycles a pixel) */
        uint64_t s = 0;
        p[0] = 0;
        for (int x = 0; x < w; x++)
            p[x + 1] = s += c[x];
        const int rows = (y + r + 1 < h ? y + r + 1 : h) - (y - r > 0 ? y - r : 0);
        if (rows != inv_rows) {
            for (int k = 1; k <= 2 * r + 1; k++)
                inv_cols[k] = 1.0f / (float)(rows * k);
            inv_rows = rows;
        }
        float *mrow = mean + (size_t)y * w;
        const float inv = inv_cols[2 * r + 1];
        if (w < 2 * r + 1)
            means_narrow(p, w, r, inv_cols, mrow);
        else if (small)
            means_span(p, r, w - r - 1, r, inv, mrow, 1), means_borders(p, w, r, inv_cols, mrow, 1);
        else
            means_span(p, r, w - r - 1, r, inv, mrow, 0), means_borders(p, w, r, inv_cols, mrow, 0);
    }
    return DG_OK;
}

typedef uint16_t v16u16 __attribute__((vector_size(32)));
typedef uint8_t v16u8 __attribute__((vector_size(16)));

/* wk->half becomes grey averaged over 2x2 blocks (the last row or column alone when odd). */
DG_HOT static void halve(struct vis_work *wk, const struct vis_image *g, int hw, int hh)
{
    const int w = g->w, h = g->h;
    for (int y = 0; y < hh; y++) {
        const uint8_t *r0 = g->px + (size_t)(2 * y) * w;
        const uint8_t *r1 = 2 * y + 1 < h ? r0 + w : r0;
        uint8_t *o = wk->half + (size_t)y * hw;
        int x = 0;
        for (; x + 16 <= w / 2; x += 16) { /* 16 at a time: each 16-bit lane holds a pixel pair */
            v16u16 a, b;
            memcpy(&a, r0 + 2 * x, sizeof a);
            memcpy(&b, r1 + 2 * x, sizeof b);
            const v16u16 sum = (a & 0xff) + (a >> 8) + (b & 0xff) + (b >> 8) + 2;
            const v16u8 avg = __builtin_convertvector(sum >> 2, v16u8);
            memcpy(o + x, &avg, sizeof avg);
        }
        for (; x < w / 2; x++)
            o[x] = (uint8_t)((r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1] + 2) >> 2);
        if (w & 1)
            o[hw - 1] = (uint8_t)((r0[w - 1] + r1[w - 1] + 1) >> 1);
    }
}

/* ---- polarity and threshold ---------------------------------------------------------------- */

/* ratio[x] = 100 grey[x] / max(mean[x], 1). */
DG_HOT static void ratio_row(const uint8_t *restrict grey, const float *restrict mean, int n,
                             float *restrict ratio)
{
    for (int x = 0; x < n; x++)
        ratio[x] = 100.0f * grey[x] / (mean[x] > 1.0f ? mean[x] : 1.0f);
}

/* Ink departs far from the paper around it, in one direction: divided by a wide local mean
 * (radius r, so a light gradient cancels out), dark ink falls to about half while the paper beside
 * it rises only a little above 1; light chalk rises to several times a dark board. The 1% and 99%
 * points of that ratio over the half-resolution picture in wk->half (every other pixel of it) tell
 * which, unless one kind of extreme is missing (NONE, below). *sure = 0 when they say light ink
 * while dark extremes are there too: a bright sheet lying on a dark desk, whose ink is dark, looks
 * like that (its whole outline departs upwards from the desk's windows), as chalk on a board beside
 * dark things does. sure may be NULL. */
static const double NONE = 0.001;

static int half_polarity(struct vis_work *wk, int hw, int hh, int r, enum vis_polarity *out,
                         int *sure)
{
    enum { BINS = 400 }; /* ratios 0 .. 4 */
    size_t hist[BINS] = {0};
    if (box_means(wk, wk->half, hw, hh, r, 2, wk->mean) != DG_OK)
        return DG_ENOMEM;
    /* every other pixel of every other row: plenty for two percentiles; a row's ratios are
     * computed for all its pixels, which vectorises the divisions */
    size_t n = 0;
    for (int y = 0; y < hh; y += 2) {
        const size_t o = (size_t)y * hw;
        ratio_row(wk->half + o, wk->mean + o, hw, wk->ratio);
        for (int x = 0; x < hw; x += 2) {
            const int k = (int)wk->ratio[x];
            hist[k < BINS ? k : BINS - 1]++;
        }
        n += (size_t)(hw + 1) / 2;
    }
    int lo = -1, hi = -1;
    size_t cum = 0;
    for (int i = 0; i < BINS; i++) {
        cum += hist[i];
        if (lo < 0 && (double)cum >= 0.01 * (double)n)
            lo = i;
        if (hi < 0 && (double)cum >= 0.99 * (double)n)
            hi = i;
    }
    *out = 100 - lo >= hi - 100 ? VIS_POLARITY_DARK_ON_LIGHT : VIS_POLARITY_LIGHT_ON_DARK;
    /* Ink on a nearly blank page or board covers well under 1% of it: the 1% and 99% points are
     * then the paper's, and the paper just around dark strokes, brighter than its window's mean
     * (which the strokes pull down), decided: a page with one small number was read as light ink.
     * Dark ink is somewhere under half its window's mean, light ink somewhere over twice it: when
     * one of the two is (nearly: under NONE of the samples) absent and the other is not, that
     * decides. */
    size_t n_dark = 0, n_light = 0;
    for (int i = 0; i < BINS; i++) {
        n_dark += i < 50 ? hist[i] : 0;
        n_light += i >= 200 ? hist[i] : 0;
    }
    const double none = NONE * (double)n;
    int by_ratio = 0;
    if ((double)n_light < none && n_dark > n_light)
        *out = VIS_POLARITY_DARK_ON_LIGHT;
    else if ((double)n_dark < none && n_light > n_dark)
        *out = VIS_POLARITY_LIGHT_ON_DARK;
    else
        by_ratio = 1;
    if (sure)
        *sure = !by_ratio || *out == VIS_POLARITY_DARK_ON_LIGHT;
    return DG_OK;
}

/* The threshold window's radius in full-resolution pixels: a twelfth of the shorter side. */
static int default_radius(const struct vis_image *g, int window)
{
    int win = window ? window : (g->w < g->h ? g->w : g->h) / 12;
    return (win < 3 ? 3 : win) / 2;
}

/* Polarity's radius, in half-resolution pixels: a twelfth of the shorter side wide, about the
 * threshold's window, so a bright sheet lying on a dark desk counts by its ink, not as one light
 * blob (a window a quarter of the side wide read 1.1 points fewer digits on build/world-tune). */
static int polarity_radius(int hw, int hh)
{
    const int r = (hw < hh ? hw : hh) / 24;
    return r < 6 ? 6 : r; /* small pictures: still several strokes wide */
}

int vis_guess_polarity(const struct vis_image *grey, struct vis_work *wk, enum vis_polarity *pol,
                       int *sure)
{
    const int hw = (grey->w + 1) / 2, hh = (grey->h + 1) / 2;
    if (grey->w < 1 || grey->h < 1)
        return dg_fail(DG_EARG, "polarity: empty image");
    const int rc = grow_half(wk, (size_t)hw * hh);
    if (rc != DG_OK)
        return rc;
    halve(wk, grey, hw, hh);
    if (half_polarity(wk, hw, hh, polarity_radius(hw, hh), pol, sure) != DG_OK)
        return dg_fail(DG_ENOMEM, "out of memory for a %dx%d image", grey->w, grey->h);
    return DG_OK;
}

/* ---- strokes, not steps ------------------------------------------------------------------- */

/* The largest (want_max) or smallest of two bytes. */
DG_INLINE uint8_t extreme(uint8_t a, uint8_t b, int want_max)
{
    return want_max ? (a > b ? a : b) : (a < b ? a : b);
}

/* d[i] = extreme(d[i], s[i]) for n bytes. */
DG_INLINE void extreme_into(uint8_t *restrict d, const uint8_t *restrict s, int n, int want_max)
{
    if (want_max)
        for (int i = 0; i < n; i++)
            d[i] = s[i] > d[i] ? s[i] : d[i];
    else
        for (int i = 0; i < n; i++)
            d[i] = s[i] < d[i] ? s[i] : d[i];
}

/* The window extremes below are built by doubling: the extreme over [i, i + 2s) is that of the
 * windows of s at i and i + s, so p = 2^k < 2(r + 1) cells take k passes; two windows of L = r + 1
 * cells, at lo and hi - r, cover [lo, hi] = [i - r, i + r] clipped at the ends exactly (hi - lo
 * lies between r and 2r), and a window of L from two of p (p <= L < 2p) likewise. A max or min
 * of the same cells in any grouping is the same byte, so these equal the one-shift-at-a-time
 * definition bit for bit, in about log2(r) + 3 passes instead of 2r + 1. */

/* out = the extreme of in over the (2r+1)-wide window around each pixel of each row, clipped at
 * the row's ends; t is scratch of 2w bytes. */
DG_HOT static void rows_extreme(const uint8_t *restrict in, uint8_t *restrict out, int w, int h,
                                int r, int want_max, uint8_t *restrict t)
{
    const int L = r + 1;
    int p = 1;
    while (2 * p <= L)
        p *= 2;
    uint8_t *restrict m = t, *restrict n = t + w;
    for (int y = 0; y < h; y++) {
        const uint8_t *restrict a = in + (size_t)y * w;
        uint8_t *restrict o = out + (size_t)y * w;
        if (w <= r) { /* every window is the whole row */
            uint8_t e = a[0];
            for (int x = 1; x < w; x++)
                e = extreme(e, a[x], want_max);
            memset(o, e, (size_t)w);
            continue;
        }
        /* m[x]: the extreme over [x, x + p) clipped, then over [x, x + L) */
        memcpy(m, a, (size_t)w);
        for (int s = 1; s < p; s *= 2) {
            memcpy(n, m, (size_t)w);
            extreme_into(m, n + s, w - s, want_max);
        }
        if (L > p) {
            memcpy(n, m, (size_t)w);
            extreme_into(m, n + (L - p), w - (L - p), want_max);
        }
        /* o[x]: windows of L at max(x - r, 0) and min(x + r, w - 1) - r */
        for (int x = 0; x < r; x++)
            o[x] = extreme(m[0], m[x], want_max);
        for (int x = r; x < w - r; x++)
            o[x] = extreme(m[x - r], m[x], want_max);
        for (int x = w - r > r ? w - r : r; x < w; x++)
            o[x] = extreme(m[x - r], m[w - 1 - r], want_max);
    }
}

/* The same down the columns, whole rows at a time; t is scratch of w * h bytes. */
DG_HOT static void cols_extreme(const uint8_t *restrict in, uint8_t *restrict out, int w, int h,
                                int r, int want_max, uint8_t *restrict t)
{
    const size_t row = (size_t)w;
    if (h <= r) { /* every window is the whole column */
        memcpy(out, in, row);
        for (int y = 1; y < h; y++)
            extreme_into(out, in + y * row, w, want_max);
        for (int y = 1; y < h; y++)
            memcpy(out + y * row, out, row);
        return;
    }
    const int L = r + 1;
    int p = 1;
    while (2 * p <= L)
        p *= 2;
    /* row y of t: the extreme over rows [y, y + p) clipped, then over [y, y + L); in place, top
     * down, each row reading rows below it not yet updated */
    memcpy(t, in, row * h);
    for (int s = 1; s < p; s *= 2)
        for (int y = 0; y + s < h; y++)
            extreme_into(t + y * row, t + (y + s) * row, w, want_max);
    if (L > p)
        for (int y = 0; y + (L - p) < h; y++)
            extreme_into(t + y * row, t + (y + L - p) * row, w, want_max);
    for (int y = 0; y < h; y++) {
        const int lo = y - r > 0 ? y - r : 0, hi = (y + r < h - 1 ? y + r : h - 1) - r;
        uint8_t *restrict o = out + y * row;
        memcpy(o, t + lo * row, row);
        extreme_into(o, t + hi * row, w, want_max);
    }
}

/* out[x] = in[x / 2] for x in [0, w): each half pixel over the two full ones it stands for, 16
 * at a time as 16-bit lanes holding both bytes. */
DG_INLINE void widen_pairs(const uint8_t *restrict in, uint8_t *restrict out, int w)
{
    int x = 0;
    for (; x + 16 <= w / 2; x += 16) {
        v16u8 v;
        memcpy(&v, in + x, sizeof v);
        const v16u16 pair = __builtin_convertvector(v, v16u16) * 257;
        memcpy(out + 2 * x, &pair, sizeof pair);
    }
    for (x *= 2; x < w; x++)
        out[x] = in[x / 2];
}

/* A pen stroke is darker than the paper on both sides of it; the edge of a sheet, a desk or a mug
 * is a step, darker on one side only, and a dark object is wider than any stroke. A threshold
 * against a window's mean marks all three (each departs from its window's mean), and the step
 * runs along the sheet's whole outline, joining the digits near it into one region; a faint
 * pencil digit beside bold print fell below a threshold normalised by the print's contrast.
 * So ink is measured against the paper behind it: the grey closing of the half picture (ink made
 * dark) by a square 2r+1 half pixels wide, r half p->max_stroke of the shorter half side (a
 * stroke up to a sixteenth of the shorter side wide by default, a marker's on digits a third of the
 * side tall, is closed over; a step or a wide dark object is not), eroded by one more half pixel so
 * that a full pixel on the dark side of a step is not compared with the blurred edge between the
 * two. A full-resolution pixel is ink when it is darker than that paper by p->contrast, and by
 * p->share of the strongest stroke within the 3x3 tiles around it (ts half pixels a tile), at most
 * STROKE_CAP: a dim, low-contrast frame keeps its faint strokes, a noisy bright one does not take
 * its grain for ink, and bold print does not hide faint pencil beside it. Chosen on
 * build/world-tune and build/scenes-tune (training digits, 2026-12-02): against Wolf-Jolion's
 * threshold, digits read 60.3 -> 67.5% on the world and 96.86 -> 96.86% on the flat scenes; an
 * absolute contrast of 32 alone read 65.0% on the world but 92.8% on the flat scenes (their dim
 * frames). */
enum { STROKE_CAP = 48, PAPER_BRIGHT = 100, CONTRAST_MIN = 8 };

void vis_grey_extreme(const uint8_t *in, uint8_t *out, int w, int h, int r, int want_max,
                      uint8_t *scratch)
{
    uint8_t *rows = scratch, *t = scratch + (size_t)w * h;
    rows_extreme(in, rows, w, h, r, want_max, t);
    cols_extreme(rows, out, w, h, r, want_max, t);
}

/* paper = the grey closing of f (hw x hh, ink dark) by a square 2r+1 wide, eroded by one more
 * pixel; a is scratch of the same size, t of VIS_EXTREME_SCRATCH(hw, hh) bytes. */
static void paper_behind(const uint8_t *f, uint8_t *a, uint8_t *paper, int hw, int hh, int r,
                         uint8_t *t)
{
    vis_grey_extreme(f, a, hw, hh, r, 1, t);
    vis_grey_extreme(a, paper, hw, hh, r + 1, 0, t);
}

/* tile_t[ty * nx + tx] = the ink threshold of each ts x ts tile from depth (how far each half
 * pixel lies below the paper): p->share of the deepest in its 3x3 block of tiles, at most
 * STROKE_CAP, at least contrast. strongest (nx x ny) and band (hw) are scratch. */
DG_HOT static void tile_thresholds(const uint8_t *depth, int hw, int hh, int ts,
                                   const struct vis_threshold_params *p, int contrast,
                                   uint8_t *strongest, uint8_t *band, uint8_t *tile_t)
{
    const int nx = (hw + ts - 1) / ts, ny = (hh + ts - 1) / ts;
    for (int ty = 0; ty < ny; ty++) { /* per column over the band of rows, then per tile */
        memset(band, 0, (size_t)hw);
        for (int y = ty * ts; y < (ty + 1) * ts && y < hh; y++) {
            const uint8_t *restrict dr = depth + (size_t)y * hw;
            for (int x = 0; x < hw; x++)
                band[x] = dr[x] > band[x] ? dr[x] : band[x];
        }
        for (int tx = 0; tx < nx; tx++) {
            const int x1 = (tx + 1) * ts < hw ? (tx + 1) * ts : hw;
            uint8_t m = 0;
            for (int x = tx * ts; x < x1; x++)
                m = band[x] > m ? band[x] : m;
            strongest[ty * nx + tx] = m;
        }
    }
    for (int ty = 0; ty < ny; ty++)
        for (int tx = 0; tx < nx; tx++) {
            int m = 0;
            for (int y = ty - 1; y <= ty + 1; y++)
                for (int x = tx - 1; x <= tx + 1; x++)
                    if (y >= 0 && y < ny && x >= 0 && x < nx && strongest[y * nx + x] > m)
                        m = strongest[y * nx + x];
            int t = (int)(p->share * (float)m);
            t = t < STROKE_CAP ? t : STROKE_CAP;
            tile_t[ty * nx + tx] = (uint8_t)(t > contrast ? t : contrast);
        }
}

/* The least contrast of ink for the frame f (hw x hh half pixels, ink dark): contrast where a
 * tenth of the frame (every fourth row) is at least PAPER_BRIGHT, less in proportion where its
 * brightest tenth is dimmer, at least CONTRAST_MIN. Ink's contrast shrinks with the light: a
 * camera underexposed to a quarter (paper about 55) lost 18 points of world-tune's digits (100
 * frames, robust, 2026-12-07: 89.5 -> 70.8%) with the floor fixed at 16, and reads them at 87.5%
 * with it scaled so (88.1% down to 5, which drew a dim photograph's texture in as ink more
 * often). Scaled from PAPER_BRIGHT 100 rather than 128: build/cam-tune 76.73 -> 76.93%,
 * real-empty-tune 0.100 -> 0.093 false digits a frame, and a dim room behind a sheet held up (the
 * bright tenth 100-125) keeps its floor. Scaled by the frame's bright tenth, not by the paper
 * behind each pixel: a dim patterned desk beside a bright sheet then keeps the full floor (scaled
 * by the local paper, its weave became ink and form-tune's digits read went 45.6 -> 44.6%).
 * Frames as bright as the tuning sets' read as before to within 0.1 point. */
static int frame_contrast(const uint8_t *f, int hw, int hh, int contrast)
{
    int c = contrast * vis_bright_tenth(f, hw, hh, (size_t)hw, 4) / PAPER_BRIGHT;
    c = c < contrast ? c : contrast;
    return c > CONTRAST_MIN ? c : CONTRAST_MIN < contrast ? CONTRAST_MIN : contrast;
}

DG_HOT static int stroke_mask(struct vis_work *wk, const struct vis_image *grey,
                              const struct vis_threshold_params *p, struct vis_image *mask, int hw,
                              int hh, int ts, uint8_t flip)
{
    const size_t n = (size_t)hw * hh;
    const int nx = (hw + ts - 1) / ts, ny = (hh + ts - 1) / ts;
    const size_t n_tiles = (size_t)nx * ny;
    if (dg_grow((void **)&wk->morph, &wk->morph_cap,
                3 * n + 2 * n_tiles + (size_t)grey->w + VIS_EXTREME_SCRATCH(hw, hh), 1) != DG_OK)
        return dg_fail(DG_ENOMEM, "out of memory for a %dx%d image", grey->w, grey->h);
    uint8_t *restrict f = wk->morph, *restrict a = f + n, *restrict paper = a + n;
    uint8_t *restrict strongest = paper + n, *restrict tile_t = strongest + n_tiles;
    uint8_t *restrict lim = tile_t + n_tiles, *restrict closing = lim + grey->w;
    const uint8_t *restrict half = wk->half;
    for (size_t i = 0; i < n; i++)
        f[i] = half[i] ^ flip;
    const int r_stroke = (int)((float)(hw < hh ? hw : hh) * p->max_stroke * 0.5f);
    const int r = r_stroke > 2 ? r_stroke : 2;
    paper_behind(f, a, paper, hw, hh, r, closing);
    for (size_t i = 0; i < n; i++) /* a: how far each half pixel lies below the paper */
        a[i] = (uint8_t)(paper[i] > f[i] ? paper[i] - f[i] : 0);
    tile_thresholds(a, hw, hh, ts, p, frame_contrast(f, hw, hh, p->contrast), strongest, lim,
                    tile_t);
    /* ink where grey (made dark) + t <= paper, that is grey < lim = paper - t + 1, lim taken
     * per half pixel (in a, free again) and spread over the full row */
    const int w = grey->w, h = grey->h;
    for (int hy = 0; hy < hh; hy++) {
        const uint8_t *restrict pr = paper + (size_t)hy * hw, *restrict tt =
                                                                  tile_t + (size_t)(hy / ts) * nx;
        for (int tx = 0; tx < nx; tx++) {
            const int x1 = (tx + 1) * ts < hw ? (tx + 1) * ts : hw, t = tt[tx];
            for (int x = tx * ts; x < x1; x++)
                a[x] = (uint8_t)(pr[x] + 1 > t ? pr[x] + 1 - t : 0);
        }
        widen_pairs(a, lim, w);
        for (int y = 2 * hy; y < 2 * hy + 2 && y < h; y++) {
            const uint8_t *restrict row = grey->px + (size_t)y * w;
            uint8_t *restrict o = mask->px + (size_t)y * w;
            for (int x = 0; x < w; x++)
                o[x] = (uint8_t)(row[x] ^ flip) < lim[x] ? 255 : 0;
        }
    }
    return DG_OK;
}

int vis_threshold(const struct vis_image *grey, const struct vis_threshold_params *p,
                  struct vis_work *wk, struct vis_image *mask, enum vis_polarity *found)
{
    const int w = grey->w, h = grey->h;
    if (w < 1 || h < 1 || p->window < 0 || p->contrast < 1 || p->contrast > 255 ||
        !(p->share >= 0.0f && p->share <= 1.0f) || !(p->max_stroke > 0.0f && p->max_stroke <= 1.0f))
        return dg_fail(DG_EARG, "threshold: bad image or parameters");
    const int hw = (w + 1) / 2, hh = (h + 1) / 2;
    int rc = grow_half(wk, (size_t)hw * hh);
    if (rc != DG_OK)
        return rc;
    if ((rc = vis_image_fit(mask, w, h)) != DG_OK)
        return rc;
    halve(wk, grey, hw, hh);
    enum vis_polarity pol = p->polarity;
    if (pol == VIS_POLARITY_AUTO &&
        half_polarity(wk, hw, hh, polarity_radius(hw, hh), &pol, NULL) != DG_OK)
        return dg_fail(DG_ENOMEM, "out of memory for a %dx%d image", w, h);
    const int r = (default_radius(grey, p->window) + 1) / 2;
    /* everything below sees the picture with ink dark: flip = 255 turns light chalk dark */
    rc = stroke_mask(wk, grey, p, mask, hw, hh, 2 * r + 1,
                     pol == VIS_POLARITY_LIGHT_ON_DARK ? 255 : 0);
    if (rc == DG_OK && found)
        *found = pol;
    return rc;
}

/* ---- bit planes ---------------------------------------------------------------------------- */

/* One bit per pixel, w x h: row y is words [y * wpr, (y + 1) * wpr), pixel x is bit x % 64 of
 * its row's word x / 64; the bits past w in a row's last word are always 0. Runs, thin strokes
 * and line bands are found 64 pixels at a time with word operations and ctz instead of a
 * branch per pixel (a branch per pixel mispredicted at every edge of the ink). */
struct plane {
    uint64_t *b;
    int w, h, wpr;
};

static int words_per_row(int w)
{
    return (w + 63) / 64;
}

/* Carves n planes of w x h from wk->bits, then `extra` more words at *rest (contents
 * undefined). */
static int carve_planes(struct vis_work *wk, int w, int h, struct plane *p, int n, size_t extra,
                        uint64_t **rest)
{
    const int wpr = words_per_row(w);
    const size_t words = (size_t)wpr * h;
    if (dg_grow((void **)&wk->bits, &wk->n_bits, words * n + extra, sizeof *wk->bits) != DG_OK)
        return dg_fail(DG_ENOMEM, "out of memory for a %dx%d image's bit planes", w, h);
    for (int i = 0; i < n; i++)
        p[i] = (struct plane){wk->bits + words * i, w, h, wpr};
    if (rest)
        *rest = wk->bits + words * n;
    return DG_OK;
}

/* p (mask's size) = which pixels of mask are ink (not 0): 16 at a time by SSE2's byte mask on
 * x86-64, one at a time elsewhere. */
DG_HOT static void plane_from_mask(const struct vis_image *mask, const struct plane *p)
{
    const int w = mask->w;
    for (int y = 0; y < mask->h; y++) {
        const uint8_t *row = mask->px + (size_t)y * w;
        uint64_t *out = p->b + (size_t)y * p->wpr;
        int x = 0, k = 0;
#if defined(__SSE2__)
        const __m128i zero = _mm_setzero_si128();
        for (; x + 64 <= w; x += 64, k++) {
            uint64_t word = 0;
            for (int j = 0; j < 4; j++) {
                const __m128i v =
                    _mm_loadu_si128((const __m128i *)(const void *)(row + x + 16 * j));
                const int paper = _mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
                word |= (uint64_t)(uint16_t)~paper << (16 * j);
            }
            out[k] = word;
        }
#endif
        for (; x < w; x += 64, k++) {
            uint64_t word = 0;
            for (int i = 0; i < 64 && x + i < w; i++)
                word |= (uint64_t)(row[x + i] != 0) << i;
            out[k] = word;
        }
    }
}

/* out[x] = in[x + s] (s > 0: pixels from the right) or in[x - |s|] (s < 0), 0 past either end;
 * rows of wpr words. */
static void shift_row(const uint64_t *restrict in, int wpr, int s, uint64_t *restrict out)
{
    const int left = s < 0, a = left ? -s : s, q = a / 64, b = a % 64;
    for (int k = 0; k < wpr; k++) {
        const int j = left ? k - q : k + q, j2 = left ? j - 1 : j + 1; /* main word, spill word */
        const uint64_t m = j >= 0 && j < wpr ? in[j] : 0, n = j2 >= 0 && j2 < wpr ? in[j2] : 0;
        if (left)
            out[k] = b ? m << b | n >> (64 - b) : m;
        else
            out[k] = b ? m >> b | n << (64 - b) : m;
    }
}

/* The pixels of bit row in (wpr words) inside horizontal runs of at most t pixels (t below the
 * row's length), into out; tmp: a row of scratch. A pixel is in a longer run exactly when some
 * window of t + 1 pixels around it is all ink: erosion by t + 1 (AND of shifted copies, doubling
 * the span each step), then dilation back (OR of the opposite shifts). */
static void thin_in_row(const uint64_t *restrict in, int wpr, int t, uint64_t *restrict out,
                        uint64_t *restrict tmp)
{
    if (t < 1) { /* every run is longer */
        memset(out, 0, (size_t)wpr * sizeof *out);
        return;
    }
    const int n = t + 1;
    uint64_t *e = out, *sh = tmp;
    memcpy(e, in, (size_t)wpr * sizeof *e);
    int c = 1; /* e[x] = AND of in[x .. x + c) */
    while (c < n) {
        const int step = 2 * c <= n ? c : n - c;
        shift_row(e, wpr, step, sh);
        for (int k = 0; k < wpr; k++)
            e[k] &= sh[k];
        c += step;
    }
    for (c = 1; c < n;) { /* e[x] = OR of erosion[x - c + 1 .. x] */
        const int step = 2 * c <= n ? c : n - c;
        shift_row(e, wpr, -step, sh);
        for (int k = 0; k < wpr; k++)
            e[k] |= sh[k];
        c += step;
    }
    for (int k = 0; k < wpr; k++)
        out[k] = in[k] & ~e[k];
}

/* out = the pixels of in inside vertical runs of at most t pixels: the same erosion and dilation
 * along columns, whole rows at a time, in place in out (rows past either edge are paper). */
static void thin_in_cols(const struct plane *in, int t, const struct plane *out)
{
    const size_t wpr = (size_t)in->wpr, words = wpr * in->h;
    if (t < 1) {
        memset(out->b, 0, words * sizeof *out->b);
        return;
    }
    const int n = t + 1, h = in->h;
    uint64_t *e = out->b;
    memcpy(e, in->b, words * sizeof *e);
    for (int c = 1; c < n;) { /* rows in increasing order: row y + step is still unchanged */
        const int step = 2 * c <= n ? c : n - c;
        for (int y = 0; y < h; y++)
            for (size_t k = 0; k < wpr; k++)
                e[y * wpr + k] &= y + step < h ? e[(y + step) * wpr + k] : 0;
        c += step;
    }
    for (int c = 1; c < n;) { /* decreasing: row y - step is still unchanged */
        const int step = 2 * c <= n ? c : n - c;
        for (int y = h - 1; y >= step; y--)
            for (size_t k = 0; k < wpr; k++)
                e[y * wpr + k] |= e[(y - step) * wpr + k];
        c += step;
    }
    for (size_t i = 0; i < words; i++)
        e[i] = in->b[i] & ~e[i];
}

/* Transposes a 64x64 bit matrix in place (row i = word i, column j = bit j): six rounds of
 * swapping blocks of 32, 16, ... 1 bits between words that far apart. */
static void transpose64(uint64_t a[64])
{
    uint64_t m = 0x00000000ffffffffull;
    for (int j = 32; j; j >>= 1, m ^= m << j)
        for (int k = 0; k < 64; k = (k + j + 1) & ~j) {
            const uint64_t t = (a[k] >> j ^ a[k + j]) & m;
            a[k] ^= t << j;
            a[k + j] ^= t;
        }
}

/* dst (in->h x in->w, i.e. in->w rows) = in transposed, 64x64 blocks at a time; blocks without a
 * bit cost one pass over their words. */
static void transpose_plane(const struct plane *in, const struct plane *dst)
{
    memset(dst->b, 0, (size_t)dst->wpr * dst->h * sizeof *dst->b);
    for (int by = 0; by < in->h; by += 64) /* blocks of 64 input rows */
        for (int bx = 0; bx < in->wpr; bx++) {
            uint64_t a[64], any = 0;
            for (int i = 0; i < 64; i++) {
                a[i] = by + i < in->h ? in->b[(size_t)(by + i) * in->wpr + bx] : 0;
                any |= a[i];
            }
            if (!any)
                continue;
            transpose64(a);
            for (int j = 0; j < 64 && 64 * bx + j < in->w; j++)
                dst->b[(size_t)(64 * bx + j) * dst->wpr + by / 64] = a[j];
        }
}

/* ---- connected components by runs ---------------------------------------------------------- */

static int32_t find_root(int32_t *parent, int32_t a)
{
    while (parent[a] != a) {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    return a;
}

/* Labels the 8-connected groups of set pixels of plane m: wk->runs gets every run in raster order
 * with its component (0-based, numbered in raster order of first appearance), wk->comp the
 * components' boxes, areas and centres. With gap > 0, runs also join across up to gap pixels of
 * paper along a row (in the same row or the one above): a broken line stays one. Runs are found
 * a word at a time: ctz of the bits, then of their complement, gives where each starts and ends. */
static int label_runs(struct vis_work *wk, const struct plane *m, int gap, size_t *n_runs_out,
                      int *n_comp_out)
{
    const int w = m->w, h = m->h, wpr = m->wpr;
    size_t n = 0, prev0 = 0, prev1 = 0; /* the previous row's runs: [prev0, prev1) */
    for (int y = 0; y < h; y++) {
        const uint64_t *row = m->b + (size_t)y * wpr;
        const size_t cur0 = n;
        size_t j = prev0; /* first run of the previous row that may still touch */
        int wi = 0;
        uint64_t cur = row[0]; /* the bits of word wi not yet in a run */
        for (;;) {
            while (!cur && ++wi < wpr)
                cur = row[wi];
            if (!cur)
                break;
            const int x0 = 64 * wi + __builtin_ctzll(cur);
            uint64_t gaps = ~row[wi] & (~0ull << (x0 % 64)); /* paper at or after x0 */
            while (!gaps && ++wi < wpr)
                gaps = ~row[wi];
            const int x = gaps ? 64 * wi + __builtin_ctzll(gaps) : w; /* one past the run */
            cur = gaps ? row[wi] & (~0ull << (x % 64)) : 0;
            if (n == wk->runs_cap) {
                size_t cap = wk->runs_cap, cap2 = cap;
                const size_t want = cap ? 2 * cap : 4096;
                if (dg_grow((void **)&wk->runs, &cap, want, sizeof *wk->runs) != DG_OK ||
                    dg_grow((void **)&wk->parent, &cap2, want, sizeof *wk->parent) != DG_OK)
                    return DG_ENOMEM;
                wk->runs_cap = want;
            }
            wk->runs[n] = (struct vis_run){x0, x - 1, y, 0};
            int32_t root = (int32_t)n;
            wk->parent[n] = root;
            /* previous-row runs that overlap [x0 - 1 - gap, x + gap]: 8-connected neighbours; with
             * a gap, the run before in this row too */
            while (j < prev1 && wk->runs[j].x1 < x0 - 1 - gap)
                j++;
            if (gap && n > cur0 && wk->runs[n - 1].x1 >= x0 - 1 - gap)
                wk->parent[n] = root = find_root(wk->parent, (int32_t)n - 1);
            for (size_t k = j; k < prev1 && wk->runs[k].x0 <= x + gap; k++) {
                const int32_t rk = find_root(wk->parent, (int32_t)k);
                if (rk < root) {
                    wk->parent[root] = rk;
                    root = rk;
                } else if (rk > root) {
                    wk->parent[rk] = root;
                }
            }
            n++;
        }
        prev0 = cur0;
        prev1 = n;
    }
    /* A component's root is its smallest run index, i.e. its first run in raster order. */
    int n_comp = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t root = find_root(wk->parent, (int32_t)i);
        wk->runs[i].comp = root == (int32_t)i ? n_comp++ : wk->runs[root].comp;
    }
    const size_t n_alloc = (size_t)n_comp + 1;
    if (dg_grow((void **)&wk->comp, &wk->comp_cap, n_alloc, sizeof *wk->comp) != DG_OK ||
        dg_grow((void **)&wk->sums, &wk->sums_cap, 5 * n_alloc, sizeof *wk->sums) != DG_OK)
        return DG_ENOMEM;
    for (int c = 0; c < n_comp; c++) {
        wk->comp[c] = (struct vis_component){w, h, -1, -1, 0, 0.0f, 0.0f};
        wk->sums[2 * c] = wk->sums[2 * c + 1] = 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct vis_run *rn = &wk->runs[i];
        struct vis_component *cp = &wk->comp[rn->comp];
        const int len = rn->x1 - rn->x0 + 1;
        cp->area += len;
        cp->x0 = rn->x0 < cp->x0 ? rn->x0 : cp->x0;
        cp->x1 = rn->x1 > cp->x1 ? rn->x1 : cp->x1;
        cp->y0 = rn->y < cp->y0 ? rn->y : cp->y0;
        cp->y1 = rn->y > cp->y1 ? rn->y : cp->y1;
        wk->sums[2 * rn->comp] += len * (0.5 * (rn->x0 + rn->x1) + 0.5);
        wk->sums[2 * rn->comp + 1] += len * (rn->y + 0.5);
    }
    for (int c = 0; c < n_comp; c++) {
        wk->comp[c].cx = (float)(wk->sums[2 * c] / wk->comp[c].area);
        wk->comp[c].cy = (float)(wk->sums[2 * c + 1] / wk->comp[c].area);
    }
    *n_runs_out = wk->n_runs = n;
    *n_comp_out = n_comp;
    return DG_OK;
}

/* *labels: wk's label image for mask's size with the runs just found, the previous ones cleared. */
static int label_image(struct vis_work *wk, int w, int h, size_t n_runs, const int32_t **labels)
{
    if (!wk->labels || wk->labels_w != w || wk->labels_h != h) {
        free(wk->labels);
        wk->labels = calloc((size_t)w * h, sizeof *wk->labels);
        wk->n_labelled = 0;
        wk->labels_w = wk->labels ? w : 0;
        wk->labels_h = wk->labels ? h : 0;
        if (!wk->labels)
            return dg_fail(DG_ENOMEM, "out of memory for a %dx%d label image", w, h);
    } else { /* clear the previous frame's ink: the rest is still 0 */
        for (size_t i = 0; i < wk->n_labelled; i++) {
            const struct vis_run *rn = &wk->labelled[i];
            memset(wk->labels + (size_t)rn->y * w + rn->x0, 0,
                   (size_t)(rn->x1 - rn->x0 + 1) * sizeof *wk->labels);
        }
    }
    if (dg_grow((void **)&wk->labelled, &wk->labelled_cap, n_runs ? n_runs : 1,
                sizeof *wk->labelled) != DG_OK) {
        wk->n_labelled = 0; /* the image is all 0 here: fresh, or last frame's ink cleared */
        return DG_ENOMEM;
    }
    if (n_runs) /* no runs yet: wk->runs may still be NULL */
        memcpy(wk->labelled, wk->runs, n_runs * sizeof *wk->runs);
    wk->n_labelled = n_runs;
    for (size_t i = 0; i < n_runs; i++) {
        const struct vis_run *rn = &wk->runs[i];
        int32_t *l = wk->labels + (size_t)rn->y * w;
        for (int x = rn->x0; x <= rn->x1; x++)
            l[x] = rn->comp + 1;
    }
    *labels = wk->labels;
    return DG_OK;
}

int vis_components(const struct vis_image *mask, struct vis_work *wk, const int32_t **labels,
                   const struct vis_component **out, int *n_out)
{
    size_t n_runs;
    int n_comp;
    const int w = mask->w, h = mask->h;
    struct plane ink;
    if (carve_planes(wk, w, h, &ink, 1, 0, NULL) != DG_OK)
        return DG_ENOMEM;
    plane_from_mask(mask, &ink);
    if (label_runs(wk, &ink, 0, &n_runs, &n_comp) != DG_OK)
        return DG_ENOMEM;
    if (labels && label_image(wk, w, h, n_runs, labels) != DG_OK)
        return DG_ENOMEM;
    *out = wk->comp;
    *n_out = n_comp;
    return DG_OK;
}

const struct vis_run *vis_components_runs(const struct vis_work *wk, size_t *n_runs)
{
    *n_runs = wk->n_runs;
    return wk->runs;
}

/* ---- ruled and squared paper --------------------------------------------------------------- */

enum {
    THIN_H = 1, /* the ink's vertical run through this pixel is line-thin: a horizontal line? */
    THIN_V = 2, /* its horizontal run is line-thin: a vertical line? */
    BAND_H = 4, /* on the path of a horizontal line found */
    BAND_V = 8, /* on the path of a vertical one */
};

/* A line through the image: across = a + b * along, ink half-width hb around it; where its ink
 * was found: along u0 .. u1. */
struct line {
    double a, b, hb, u0, u1;
};

/* What find_lines looks for: pieces of set pixels joined across `gap` pixels, straight within
 * max_thick, at least min_len / piece_div long, slope at most max_slope; put together when on one
 * straight line (and, with join_gap > 0, at most join_gap apart along it) into lines at least
 * min_len long. */
struct line_search {
    int gap, min_len, max_thick, piece_div, join_gap;
    double max_slope;
    int robust; /* start each fit from the straight band of most pixels in the piece, not from
                 * all of them, and keep it when dense however much else the piece holds */
};

/* Adds to s[0..4] (the sums of 1, x, y, x^2 and x y) the pixels of run rn, when ln is NULL or
 * the run lies within tol of line ln (a near-horizontal run is near it all along or not at all). */
static void add_run(double *s, const struct vis_run *rn, const struct line *ln, double tol)
{
    const double x0 = rn->x0, x1 = rn->x1, y = rn->y;
    if (ln && !(fabs(ln->a + ln->b * 0.5 * (x0 + x1) - y) <= tol + fabs(ln->b) * 0.5 * (x1 - x0)))
        return;
    const double len = x1 - x0 + 1, sx = 0.5 * len * (x0 + x1);
    s[0] += len;
    s[1] += sx;
    s[2] += len * y;
    s[3] += x1 * (x1 + 1) * (2 * x1 + 1) / 6.0 - (x0 - 1) * x0 * (2 * x0 - 1) / 6.0;
    s[4] += y * sx;
}

/* Least squares of y on x from the sums. */
static void fit(const double *s, struct line *ln)
{
    const double den = s[0] * s[3] - s[1] * s[1];
    ln->b = den > 0.0 ? (s[0] * s[4] - s[1] * s[2]) / den : 0.0;
    ln->a = s[0] > 0.0 ? (s[2] - ln->b * s[1]) / s[0] : 0.0;
}

/* wk->sums[5 l .. 5 l + 5) = the sums over piece l's pixels (wk->tag maps the components of the
 * n_runs runs to the n pieces): all of them when lines is NULL, else those within tol of
 * lines[l]. */
static void piece_sums(struct vis_work *wk, size_t n_runs, int n, const struct line *lines,
                       double tol)
{
    memset(wk->sums, 0, 5 * (size_t)n * sizeof *wk->sums);
    for (size_t i = 0; i < n_runs; i++) {
        const int32_t l = wk->tag[wk->runs[i].comp];
        if (l >= 0)
            add_run(wk->sums + 5 * l, &wk->runs[i], lines ? &lines[l] : NULL, tol);
    }
}

/* The runs grouped by piece (a counting sort): piece l's are wk->runs[order[first[l] ..
 * first[l + 1])]; *order_out and *first_out point into wk->order. */
static int runs_by_piece(struct vis_work *wk, size_t n_runs, int n, const int32_t **order_out,
                         const int32_t **first_out)
{
    if (dg_grow((void **)&wk->order, &wk->order_cap, n_runs + (size_t)n + 2, sizeof *wk->order) !=
        DG_OK)
        return DG_ENOMEM;
    int32_t *first = wk->order + n_runs, *order = wk->order;
    memset(first, 0, ((size_t)n + 1) * sizeof *first);
    for (size_t i = 0; i < n_runs; i++)
        if (wk->tag[wk->runs[i].comp] >= 0)
            first[wk->tag[wk->runs[i].comp] + 1]++;
    for (int l = 0; l < n; l++)
        first[l + 1] += first[l];
    for (size_t i = 0; i < n_runs; i++) { /* first[l] moves to the end of piece l's runs */
        const int32_t l = wk->tag[wk->runs[i].comp];
        if (l >= 0)
            order[first[l]++] = (int32_t)i;
    }
    for (int l = n; l > 0; l--) /* back to the starts */
        first[l] = first[l - 1];
    first[0] = 0;
    *order_out = order;
    *first_out = first;
    return DG_OK;
}

/* *ln = the band 2 px wide across, at a slope of at most max_slope, through the most pixels of
 * the runs wk->runs[order[0 .. n)] of component cp (votes from every other pixel of a run, over
 * SLOPES slopes). */
static int vote_line(struct vis_work *wk, const int32_t *order, int32_t n,
                     const struct vis_component *cp, double max_slope, struct line *ln)
{
    enum { SLOPES = 13 };
    const int gw = cp->x1 - cp->x0 + 1, gh = cp->y1 - cp->y0 + 1;
    const int off = (int)ceil(max_slope * gw) + 1, range = gh + 2 * off + 2;
    if (dg_grow((void **)&wk->hist, &wk->hist_cap, (size_t)SLOPES * range, sizeof *wk->hist) !=
        DG_OK)
        return DG_ENOMEM;
    memset(wk->hist, 0, (size_t)SLOPES * range * sizeof *wk->hist);
    for (int k = 0; k < SLOPES; k++) {
        const double b = max_slope * (2.0 * k / (SLOPES - 1) - 1.0);
        float *hk = wk->hist + (size_t)k * range;
        for (int32_t r = 0; r < n; r++) {
            const struct vis_run *rn = &wk->runs[order[r]];
            for (int x = rn->x0 + (rn->y & 1); x <= rn->x1; x += 2) {
                const int bin = (int)floor(rn->y - cp->y0 - b * (x - cp->x0) + off);
                if (bin >= 0 && bin < range)
                    hk[bin] += 1.0f;
            }
        }
    }
    int best_k = 0, best_r = 0;
    float best = -1.0f;
    for (int k = 0; k < SLOPES; k++)
        for (int r = 0; r + 1 < range; r++) {
            const float v = wk->hist[(size_t)k * range + r] + wk->hist[(size_t)k * range + r + 1];
            if (v > best)
                best = v, best_k = k, best_r = r;
        }
    ln->b = max_slope * (2.0 * best_k / (SLOPES - 1) - 1.0);
    ln->a = best_r + 1.0 + cp->y0 - off - ln->b * cp->x0;
    return DG_OK;
}

/* The robust start of find_lines: lines[l] for each of the n pieces (lines[l].u0 holds its
 * component) = a plain fit to all its pixels when nine in ten lie within 2 px of it, else the
 * densest straight band (vote_line): a line a digit touches is found under the digit's thin
 * strokes, which a fit to all of it is pulled toward. */
static int robust_start(struct vis_work *wk, size_t n_runs, struct line *lines, int n,
                        double max_slope)
{
    piece_sums(wk, n_runs, n, NULL, 0.0);
    for (int l = 0; l < n; l++)
        fit(wk->sums + 5 * l, &lines[l]);
    piece_sums(wk, n_runs, n, lines, 2.0);
    const int32_t *order, *first;
    if (runs_by_piece(wk, n_runs, n, &order, &first) != DG_OK)
        return DG_ENOMEM;
    for (int l = 0; l < n; l++) {
        if (wk->sums[5 * l] >= 0.9 * lines[l].hb && isfinite(lines[l].a))
            continue; /* the plain fit holds */
        if (vote_line(wk, order + first[l], first[l + 1] - first[l], &wk->comp[(int)lines[l].u0],
                      max_slope, &lines[l]) != DG_OK)
            return DG_ENOMEM;
    }
    return DG_OK;
}

/* lines[l].u0 .. u1 = where the pixels of piece l within 2 px of its line begin and end. */
static void piece_spans(const struct vis_work *wk, size_t n_runs, struct line *lines, int n)
{
    for (int l = 0; l < n; l++)
        lines[l].u0 = INFINITY, lines[l].u1 = -INFINITY;
    for (size_t i = 0; i < n_runs; i++) {
        const int32_t l = wk->tag[wk->runs[i].comp];
        const struct vis_run *rn = &wk->runs[i];
        double near[5] = {0};
        if (l < 0)
            continue;
        add_run(near, rn, &lines[l], 2.0);
        if (near[0] > 0.0) {
            lines[l].u0 = fmin(lines[l].u0, rn->x0);
            lines[l].u1 = fmax(lines[l].u1, rn->x1);
        }
    }
}

/* The pieces whose fits hold (see find_lines), moved to the front of lines[] and wk->sums with
 * their lengths in hb; returns how many. */
static int keep_pieces(struct vis_work *wk, const struct line_search *ls, struct line *lines, int n)
{
    int n_pieces = 0;
    for (int l = 0; l < n; l++) {
        const double *s = wk->sums + 5 * l;
        if (!(s[0] > 0.0) || (!ls->robust && s[0] < 0.8 * lines[l].hb) ||
            !(fabs(lines[l].b) <= ls->max_slope))
            continue;
        /* the spread of the near pixels along x: a uniform spread of length L has variance
         * L^2 / 12 */
        const double var = s[3] / s[0] - (s[1] / s[0]) * (s[1] / s[0]);
        const double length = sqrt(12.0 * (var > 0.0 ? var : 0.0));
        if (ls->piece_div * length < ls->min_len ||
            (ls->robust && (s[0] < 0.8 * length || 3 * s[0] < lines[l].hb)))
            continue;
        lines[n_pieces] = lines[l];
        lines[n_pieces].hb = length;
        memmove(wk->sums + 5 * n_pieces, s, 5 * sizeof *s);
        n_pieces++;
    }
    return n_pieces;
}

/* Collinear pieces among the first n_pieces of lines[] (sums in wk->sums) put together into
 * lines at the front of lines[]; returns how many. */
static int join_pieces(struct vis_work *wk, const struct line_search *ls, struct line *lines,
                       int n_pieces)
{
    const int min_len = ls->min_len;
    /* Collinear pieces, longest first as the seed: a piece joins when its centre lies within 2 px
     * of the line fitted so far and its slope is close; the joined sums give the line. */
    int kept = 0;
    for (int done = 0; done < n_pieces;) {
        int seed = done;
        for (int i = done + 1; i < n_pieces; i++)
            seed = lines[i].hb > lines[seed].hb ? i : seed;
        double sum[5];
        memcpy(sum, wk->sums + 5 * seed, sizeof sum);
        double length = lines[seed].hb;
        double x0 = sum[1] / sum[0] - 0.5 * length, x1 = x0 + length; /* the span so far */
        if (ls->robust)
            x0 = lines[seed].u0, x1 = lines[seed].u1;
        struct line ln = lines[seed];
        /* the seed leaves the list: swap it to position done */
        lines[seed] = lines[done];
        memcpy(wk->sums + 5 * seed, wk->sums + 5 * done, sizeof sum);
        done++;
        for (int i = done; i < n_pieces; i++) {
            const double *s = wk->sums + 5 * i;
            const double xc = s[1] / s[0], yc = s[2] / s[0];
            if (fabs(ln.a + ln.b * xc - yc) > 2.0 || fabs(ln.b - lines[i].b) > 0.05 ||
                (ls->join_gap > 0 &&
                 ((ls->robust ? lines[i].u0 : xc - 0.5 * lines[i].hb) > x1 + ls->join_gap ||
                  (ls->robust ? lines[i].u1 : xc + 0.5 * lines[i].hb) < x0 - ls->join_gap)))
                continue;
            for (int k = 0; k < 5; k++)
                sum[k] += s[k];
            length += lines[i].hb;
            x0 = fmin(x0, ls->robust ? lines[i].u0 : xc - 0.5 * lines[i].hb);
            x1 = fmax(x1, ls->robust ? lines[i].u1 : xc + 0.5 * lines[i].hb);
            fit(sum, &ln);
            lines[i] = lines[done];
            memcpy(wk->sums + 5 * i, wk->sums + 5 * done, sizeof sum);
            done++;
            i = done - 1; /* the piece swapped in is new: look again from the start */
        }
        if (x1 - x0 < min_len || 2 * length < min_len || !isfinite(ln.a) ||
            !(fabs(ln.b) <= ls->max_slope))
            continue; /* short, or a joined fit gone degenerate (found by fuzz_scan: inf) */
        ln.hb = 0.5 * sum[0] / length + 1.0; /* half the mean thickness, plus a pixel */
        ln.u0 = x0;
        ln.u1 = x1;
        lines[kept++] = ln; /* kept <= done - 1: never a piece still waiting */
    }
    return kept;
}

/* Near-horizontal straight lines y = a + b x among the set pixels of plane f, as ls asks. A
 * piece is a group of such pixels (joined across gaps of up to ls->gap pixels) at least min_len /
 * piece_div long whose pixels lie, 80% of them, within max_thick of one straight line of slope at
 * most max_slope; thin parts of digits that touch a line join its group, so each piece's fit is
 * repeated on the pixels near the previous one. With ls->robust the fit starts from the piece's
 * densest straight band and stays within 2 px of it, and a piece is kept when its line has a pixel
 * a column over four fifths of its length and a third of the group, however much of a digit hangs
 * on it. Pieces on one straight line (digits and faint stretches cut a ruled line into pieces) are
 * put together, and their line is kept when they span min_len and add up to half of it. Fits go
 * into lines[], at most max_lines, with the span of their pieces (u0 .. u1). */
static int find_lines(struct vis_work *wk, const struct plane *f, const struct line_search *ls,
                      struct line *lines, int max_lines, int *n_lines)
{
    enum { ROUNDS = 3 };
    const int min_len = ls->min_len, max_thick = ls->max_thick, div = ls->piece_div;
    size_t n_runs;
    int n_comp;
    if (label_runs(wk, f, ls->gap, &n_runs, &n_comp) != DG_OK ||
        dg_grow((void **)&wk->tag, &wk->tag_cap, (size_t)n_comp + 1, sizeof *wk->tag) != DG_OK)
        return DG_ENOMEM;
    /* Pieces: their fits in lines[] for now (hb: the group's pixel count, then the length) and
     * their sums in wk->sums. */
    int n = 0;
    for (int c = 0; c < n_comp; c++) {
        const struct vis_component *cp = &wk->comp[c];
        wk->tag[c] = -1;
        if (div * (cp->x1 - cp->x0 + 1) >= min_len && n < max_lines) {
            wk->tag[c] = n;
            lines[n].hb = cp->area;
            lines[n].u0 = c;
            n++;
        }
    }
    if (ls->robust && n && robust_start(wk, n_runs, lines, n, ls->max_slope) != DG_OK)
        return DG_ENOMEM;
    /* Each round: sums over each piece's pixels near its last fit (all of them at first, unless
     * the start was robust). */
    for (int round = 0; n && round < ROUNDS; round++) {
        piece_sums(wk, n_runs, n, round || ls->robust ? lines : NULL, ls->robust ? 2.0 : max_thick);
        for (int l = 0; l < n; l++)
            fit(wk->sums + 5 * l, &lines[l]);
    }
    if (ls->robust)
        piece_spans(wk, n_runs, lines, n);
    *n_lines = join_pieces(wk, ls, lines, keep_pieces(wk, ls, lines, n));
    return DG_OK;
}

/* Sets every pixel of `band` within hb of each line, across the whole image (lines of a
 * transposed search: x = a + b y when vertical). */
static void mark_band(const struct plane *band, const struct line *lines, int n, int vertical)
{
    const int len = vertical ? band->h : band->w, wide = vertical ? band->w : band->h;
    for (int l = 0; l < n; l++)
        for (int u = 0; u < len; u++) {
            const double c = lines[l].a + lines[l].b * u, lo = c - lines[l].hb,
                         hi = c + lines[l].hb;
            if (!(hi >= 0.0 && lo <= wide - 1.0)) /* off the image (or not a number) */
                continue;
            const int v0 = lo < 0.0 ? 0 : (int)ceil(lo),
                      v1 = hi > wide - 1.0 ? wide - 1 : (int)floor(hi);
            for (int v = v0; v <= v1; v++) {
                const int x = vertical ? v : u, y = vertical ? u : v;
                band->b[(size_t)y * band->wpr + x / 64] |= 1ull << (x % 64);
            }
        }
}

/* thin_v = the ink in horizontal runs of at most max_thick pixels (a vertical line's
 * cross-section). tmp: a row of scratch. */
static void thin_across(const struct plane *ink, int max_thick, const struct plane *thin_v,
                        uint64_t *tmp)
{
    const int t_row = max_thick < ink->w ? max_thick : ink->w; /* no run is longer than the row */
    for (int y = 0; y < ink->h; y++) {
        const size_t o = (size_t)y * ink->wpr;
        thin_in_row(ink->b + o, ink->wpr, t_row, thin_v->b + o, tmp);
    }
}

/* ink = mask's ink; thin_h: the ink in vertical runs of at most max_thick pixels (a horizontal
 * line's cross-section); thin_v: in horizontal ones. tmp: a row of scratch. */
static void thin_planes(const struct vis_image *mask, int max_thick, const struct plane *ink,
                        const struct plane *thin_h, const struct plane *thin_v, uint64_t *tmp)
{
    plane_from_mask(mask, ink);
    thin_in_cols(ink, max_thick < 254 ? max_thick : 254, thin_h);
    thin_across(ink, max_thick, thin_v, tmp);
}

int vis_remove_lines(struct vis_image *mask, struct vis_work *wk, int min_len_h, int min_len_v,
                     int max_thick)
{
    /* LINE_GAP: paper a line may cross and stay one (faint lines break up when thresholded) */
    enum { MAX_LINES = 256, LINE_GAP = 6 };
    const int w = mask->w, h = mask->h;
    /* the ink; thin_h: ink in vertical runs of at most max_thick pixels (a horizontal line's
     * cross-section); thin_v: in horizontal ones; band_h, band_v: the paths of the lines found;
     * then thin_v transposed (h x w) and a row of scratch */
    struct plane pl[5];
    uint64_t *rest = NULL;
    const size_t t_words = (size_t)words_per_row(h) * w;
    if (carve_planes(wk, w, h, pl, 5, t_words + (size_t)words_per_row(w), &rest) != DG_OK)
        return DG_ENOMEM;
    const struct plane ink = pl[0], thin_h = pl[1], thin_v = pl[2], band_h = pl[3], band_v = pl[4];
    const struct plane thin_vt = {rest, h, w, words_per_row(h)};
    thin_planes(mask, max_thick, &ink, &thin_h, &thin_v, rest + t_words);
    struct line lh[MAX_LINES], lv[MAX_LINES];
    int n_h = 0, n_v = 0;
    const struct line_search sh = {LINE_GAP, min_len_h, max_thick, 8, 0, 0.125, 0},
                             sv = {LINE_GAP, min_len_v, max_thick, 8, 0, 0.125, 0};
    if (find_lines(wk, &thin_h, &sh, lh, MAX_LINES, &n_h) != DG_OK)
        return DG_ENOMEM;
    /* vertical lines: the same search on the transposed marks, giving x = a + b y */
    transpose_plane(&thin_v, &thin_vt);
    if (find_lines(wk, &thin_vt, &sv, lv, MAX_LINES, &n_v) != DG_OK)
        return DG_ENOMEM;
    if (!n_h && !n_v)
        return DG_OK;
    const size_t words = (size_t)ink.wpr * h;
    memset(band_h.b, 0, 2 * words * sizeof *band_h.b); /* band_h, band_v */
    mark_band(&band_h, lh, n_h, 0);
    mark_band(&band_v, lv, n_v, 1);
    /* On a line's path, thin ink goes (a digit's stroke crossing it is thicker and stays), and so
     * does ink where two lines cross. */
    for (size_t i = 0; i < words; i++) {
        const uint64_t bh = band_h.b[i], bv = band_v.b[i];
        uint64_t erase = (bh & (thin_h.b[i] | bv)) | (bv & (thin_v.b[i] | bh));
        uint8_t *row = mask->px + i / ink.wpr * (size_t)w + 64 * (i % ink.wpr);
        for (; erase; erase &= erase - 1)
            row[__builtin_ctzll(erase)] = 0;
    }
    return DG_OK;
}

/* ---- printed boxes ------------------------------------------------------------------------- */

static int plane_bit(const struct plane *p, int x, int y)
{
    return (int)(p->b[(size_t)y * p->wpr + x / 64] >> (x % 64) & 1);
}

/* Erases from mask the ink within ln's half-width of it, along u0 .. u1, where `thin` has it (all
 * of it when thin is NULL); ln is vertical (x = a + b y) or horizontal (y = a + b x). */
static void erase_along(struct vis_image *mask, const struct plane *thin, const struct line *ln,
                        double u0, double u1, int vertical)
{
    const int len = vertical ? mask->h : mask->w, wide = vertical ? mask->w : mask->h;
    const int ua = u0 > 0.0 ? (int)floor(u0) : 0, ub = u1 < len - 1.0 ? (int)ceil(u1) : len - 1;
    for (int u = ua; u <= ub; u++) {
        const double c = ln->a + ln->b * u, lo = c - ln->hb, hi = c + ln->hb;
        if (!(hi >= 0.0 && lo <= wide - 1.0))
            continue;
        const int v0 = lo < 0.0 ? 0 : (int)ceil(lo),
                  v1 = hi > wide - 1.0 ? wide - 1 : (int)floor(hi);
        for (int v = v0; v <= v1; v++) {
            const int x = vertical ? v : u, y = vertical ? u : v;
            if (!thin || plane_bit(thin, x, y))
                mask->px[(size_t)y * mask->w + x] = 0;
        }
    }
}

/* A wall of a box between its top and bottom edges: where it meets the line halfway between them
 * (x), its half-width, whether it runs from edge to edge (full) or rises from the bottom (a
 * tick). */
struct wall {
    double x, hw;
    int full;
};

/* Whether mask has ink at (x, y) or a pixel to either side. */
static int ink_near(const struct vis_image *mask, double x, double y)
{
    const int xi = (int)lround(x), yi = (int)lround(y);
    if (yi < 0 || yi >= mask->h)
        return 0;
    const uint8_t *row = mask->px + (size_t)yi * mask->w;
    for (int d = -1; d <= 1; d++)
        if (xi + d >= 0 && xi + d < mask->w && row[xi + d])
            return 1;
    return 0;
}

/* The walls of the box between edges t (top) and b (bottom), from lo to hi along them: the places
 * where ink runs square to the edges from one to the other (nine tenths of the way, at least), or
 * over the lowest two fifths (a tick). Found by walking across at every x, so a digit touching a
 * wall does not hide it. At most max_walls, into walls; returns how many. */
static int find_walls(const struct vis_image *mask, const struct line *t, const struct line *b,
                      double lo, double hi, struct wall *walls, int max_walls)
{
    const double n2 = 1.0 + t->b * t->b, c = 0.5 * (t->a + b->a);
    int n = 0, run = 0, run_full = 0;
    double run_x0 = 0.0;
    const int x0 = (int)floor(lo), x1 = (int)ceil(hi);
    for (int x = x0; x <= x1 + 1; x++) {
        int full = 0, tick = 0;
        if (x <= x1) {
            /* the walk: from the top edge to the bottom one, square to them, through (x, mid) */
            const double ym = c + t->b * x, dt = (ym - (t->a + t->b * x)) / n2,
                         db = ((b->a + b->b * x) - ym) / n2;
            const double s0 = -dt * n2 + t->hb, s1 = db * n2 - b->hb;     /* inside the edges */
            const int steps = (int)(s1 - s0), low0 = (3 * steps + 4) / 5; /* k >= low0: low */
            const int n_low = steps - low0 + 1;
            /* bottom up, stopping once the answer is known: a full wall misses at most a tenth
             * of the way, a tick a tenth of the lowest two fifths */
            int miss = 0, miss_low = 0;
            for (int k = steps; k >= 0; k--) {
                const double f = (s0 + k) / sqrt(n2);
                const int out = !ink_near(mask, x - t->b * f, ym + f);
                miss += out;
                miss_low += k >= low0 && out;
                if (10 * miss > steps + 1 && (10 * miss_low > n_low || k <= low0))
                    break;
            }
            full = steps >= 3 && 10 * miss <= steps + 1;
            tick = !full && n_low >= 2 && 10 * miss_low <= n_low;
        }
        if (full || tick) {
            if (!run)
                run_x0 = x, run_full = 0;
            run++;
            run_full |= full;
        } else if (run) {
            if (n < max_walls)
                walls[n++] = (struct wall){run_x0 + 0.5 * (run - 1), 0.5 * run + 1.0, run_full};
            run = 0;
        }
    }
    return n;
}

/* The index in walls of the one nearest x within tol, or -1. */
static int wall_near(const struct wall *walls, int n, double x, double tol)
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (fabs(walls[i].x - x) <= tol &&
            (best < 0 || fabs(walls[i].x - x) < fabs(walls[best].x - x)))
            best = i;
    return best;
}

/* How many boxes of equal width the row of boxes from lo to hi (height d) holds: the count n
 * whose inner walls (at lo + k (hi - lo) / n) are found most, three in four at least, the boxes
 * between 0.4 and 2.2 times as wide as tall; 1 when none fits. Sets used[] for the walls it
 * matched. */
static int count_boxes(const struct wall *walls, int n_walls, double lo, double hi, double d,
                       int *used)
{
    int best_n = 1, best_hits = 0;
    for (int n = 2; n <= 32; n++) {
        const double cell = (hi - lo) / n;
        if (cell < 0.4 * d)
            break;
        if (cell > 2.2 * d)
            continue;
        int hits = 0;
        for (int k = 1; k < n; k++)
            hits += wall_near(walls, n_walls, lo + k * cell, fmax(2.0, 0.15 * cell)) >= 0;
        if (4 * hits >= 3 * (n - 1) && hits > best_hits)
            best_n = n, best_hits = hits;
    }
    const double cell = (hi - lo) / best_n;
    for (int k = 1; k < best_n; k++) {
        const int i = wall_near(walls, n_walls, lo + k * cell, fmax(2.0, 0.15 * cell));
        if (i >= 0)
            used[i] = 1;
    }
    return best_n;
}

/* Erases a wall: across it (within its half-width of x on the line halfway between the edges),
 * from edge to edge and `over` pixels on past them (a drawn frame's strokes overshoot its
 * corners), the ink that is thin in thin_v, and all of it within the edges' bands. */
static void erase_wall(struct vis_image *mask, const struct plane *thin_v, const struct line *t,
                       const struct line *b, const struct wall *wl, double over)
{
    const double n2 = 1.0 + t->b * t->b, c = 0.5 * (t->a + b->a), rn = sqrt(n2);
    const int x0 = (int)floor(wl->x - wl->hw), x1 = (int)ceil(wl->x + wl->hw);
    for (int x = x0; x <= x1; x++) {
        const double ym = c + t->b * x, dt = (ym - (t->a + t->b * x)) / n2,
                     db = ((b->a + b->b * x) - ym) / n2;
        const double s0 = -dt * n2 - t->hb - over, s1 = db * n2 + b->hb + over;
        for (double sk = s0; sk <= s1; sk += 0.5) {
            const double f = sk / rn;
            const int xi = (int)lround(x - t->b * f), yi = (int)lround(ym + f);
            if (xi < 0 || yi < 0 || xi >= mask->w || yi >= mask->h)
                continue;
            const int in_edge = (sk >= -dt * n2 - t->hb && sk < -dt * n2 + t->hb) ||
                                (sk > db * n2 - b->hb && sk <= db * n2 + b->hb);
            if (in_edge || plane_bit(thin_v, xi, yi))
                mask->px[(size_t)yi * mask->w + xi] = 0;
        }
    }
}

/* A row of printed boxes between edges t (top) and b (bottom): its walls (those to erase marked in
 * used), its ends lo and hi where the walls cross the line halfway between the edges, and the
 * tolerance of its measures. */
enum { MAX_WALLS = 64 };
struct row {
    struct wall walls[MAX_WALLS];
    int used[MAX_WALLS], n_walls;
    double lo, hi, tol;
};

/* Whether find_walls finds a full wall from `from` to `to` between t and b. */
static int full_wall_in(const struct vis_image *mask, const struct line *t, const struct line *b,
                        double from, double to, struct wall *walls)
{
    const int n = find_walls(mask, t, b, from, to, walls, MAX_WALLS);
    for (int k = 0; k < n; k++)
        if (walls[k].full)
            return 1;
    return 0;
}

/* Whether edges t and b bound a row of two printed boxes or more (*row then describes it): edges
 * of one slope, line-thin, overlapping, apart as a box's height; full walls at both ends, as far
 * apart as most of the edges' overlap and 0.9 of the height at least; inner walls dividing it
 * evenly (count_boxes). */
static int find_row(const struct vis_image *mask, const struct line *t, const struct line *b,
                    int min_side, int max_thick, struct row *row)
{
    const double span = fmin(t->u1, b->u1) - fmax(t->u0, b->u0);
    /* printed lines: at most max_thick thick on average (a marker's frame is bolder) */
    if (t->hb > 0.5 * max_thick + 1.0 || b->hb > 0.5 * max_thick + 1.0 ||
        fabs(t->b - b->b) > 0.05 || span < min_side ||
        span < 0.8 * fmin(t->u1 - t->u0, b->u1 - b->u0))
        return 0;
    /* the ends where the walls cross the line halfway between the edges (a turned box's bottom
     * edge is shifted along from its top one) */
    const double lo0 = 0.5 * (t->u0 + b->u0), hi0 = 0.5 * (t->u1 + b->u1);
    const double xm = 0.5 * (lo0 + hi0), d = (b->a + b->b * xm) - (t->a + t->b * xm);
    if (d < 2 * max_thick + 4 || d > 2.0 * span)
        return 0;
    /* a box: walls at both ends, square to the edges, all the way across; first the ends alone,
     * as most pairs of edges are no box */
    const double tol = fmax(3.0, 0.2 * d);
    struct wall *walls = row->walls;
    if (!full_wall_in(mask, t, b, lo0 - 0.5 * d, lo0 + 2.0 * tol, walls) ||
        !full_wall_in(mask, t, b, hi0 - 2.0 * tol, hi0 + 0.5 * d, walls))
        return 0;
    const int n_walls = find_walls(mask, t, b, lo0 - 0.5 * d, hi0 + 0.5 * d, walls, MAX_WALLS);
    int left = -1, right = -1; /* the outermost full walls the edges reach */
    for (int k = 0; k < n_walls; k++)
        if (walls[k].full && walls[k].x >= fmin(t->u0, b->u0) - tol &&
            walls[k].x <= fmax(t->u1, b->u1) + tol) {
            left = left < 0 || walls[k].x < walls[left].x ? k : left;
            right = right < 0 || walls[k].x > walls[right].x ? k : right;
        }
    if (left < 0 || walls[right].x - walls[left].x < fmax(min_side, 0.7 * (hi0 - lo0)) ||
        walls[right].x - walls[left].x < 0.9 * d)
        return 0;
    row->lo = walls[left].x, row->hi = walls[right].x, row->tol = tol, row->n_walls = n_walls;
    memset(row->used, 0, sizeof row->used);
    row->used[left] = row->used[right] = 1;
    /* a row of two boxes or more: a lone box is as often a frame drawn round a number, whose
     * strokes run on past its corners and would be left as 1s */
    return count_boxes(walls, n_walls, row->lo, row->hi, d, row->used) >= 2;
}

int vis_remove_boxes(struct vis_image *mask, struct vis_work *wk, int min_side, int max_thick)
{
    enum { MAX_SEGS = 384, BOX_GAP = 2 };
    if (min_side <= 0)
        return DG_OK;
    const int w = mask->w, h = mask->h;
    struct plane pl[3];
    uint64_t *rest = NULL;
    if (carve_planes(wk, w, h, pl, 3, (size_t)words_per_row(w), &rest) != DG_OK)
        return DG_ENOMEM;
    const struct plane ink = pl[0], thin_h = pl[1], thin_v = pl[2];
    /* a turned edge's steps are a pixel or two thicker across than the edge; thin_v is made
     * when the first box is found (most frames have none) */
    plane_from_mask(mask, &ink);
    thin_in_cols(&ink, max_thick + 2 < 254 ? max_thick + 2 : 254, &thin_h);
    int have_thin_v = 0;
    /* edges: short straight thin lines, tilted as far as a sheet is turned */
    const struct line_search ls = {BOX_GAP, min_side, max_thick, 2, min_side, 0.5, 1};
    struct line hs[MAX_SEGS];
    int n_h = 0;
    if (find_lines(wk, &thin_h, &ls, hs, MAX_SEGS, &n_h) != DG_OK)
        return DG_ENOMEM;
    for (int i = 0; i < n_h; i++)
        for (int j = 0; j < n_h; j++) {
            const struct line *t = &hs[i], *b = &hs[j];
            struct row row;
            if (i == j || !find_row(mask, t, b, min_side, max_thick, &row))
                continue;
            if (!have_thin_v) /* from the ink as it was: no box erased yet */
                thin_across(&ink, max_thick + 2, &thin_v, rest), have_thin_v = 1;
            /* the edges where thin, the walls where thin, and where walls meet edges all ink */
            erase_along(mask, &thin_h, t, row.lo - row.tol, row.hi + row.tol, 0);
            erase_along(mask, &thin_h, b, row.lo - row.tol, row.hi + row.tol, 0);
            for (int k = 0; k < row.n_walls; k++)
                if (row.used[k])
                    erase_wall(mask, &thin_v, t, b, &row.walls[k], row.tol);
        }
    return DG_OK;
}
