/* image.c - grey images in memory: allocation, grey from decoded or camera pixels, and the MNIST
 * normalisation shared by `digits predict` and the scanning pipeline. Files are load.c's. */
#include "decode.h"
#include "vis.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int vis_image_init(struct vis_image *img, int w, int h)
{
    if (w < 1 || h < 1 || (size_t)w * h > VIS_MAX_PIXELS)
        return dg_fail(DG_EARG, "image size %dx%d is out of range", w, h);
    uint8_t *px = calloc((size_t)w * h, 1);
    if (!px)
        return dg_fail(DG_ENOMEM, "out of memory for a %dx%d image", w, h);
    img->w = w;
    img->h = h;
    img->px = px;
    return DG_OK;
}

void vis_image_destroy(struct vis_image *img)
{
    if (!img)
        return;
    free(img->px);
    img->px = NULL;
    img->w = img->h = 0;
}

int vis_image_fit(struct vis_image *img, int w, int h)
{
    if (img->px && img->w == w && img->h == h)
        return DG_OK;
    struct vis_image fresh = {0};
    const int rc = vis_image_init(&fresh, w, h);
    if (rc != DG_OK)
        return rc;
    vis_image_destroy(img);
    *img = fresh;
    return DG_OK;
}

int vis_image_shrink(const struct vis_image *in, int f, struct vis_image *out, uint32_t *sum)
{
    if (f < 1 || in->w < f || in->h < f)
        return dg_fail(DG_EARG, "cannot shrink a %dx%d image by %d", in->w, in->h, f);
    const int w = in->w / f, h = in->h / f, iw = in->w;
    const int rc = vis_image_fit(out, w, h);
    if (rc != DG_OK)
        return rc;
    /* the column sums of a band of f rows over the whole width (vectorises), then f at a time */
    uint32_t *restrict col = sum;
    const uint32_t area = (uint32_t)(f * f), half = area / 2;
    for (int y = 0; y < h; y++) {
        const uint8_t *restrict row = in->px + (size_t)y * f * iw;
        for (int x = 0; x < iw; x++)
            col[x] = row[x];
        for (int k = 1; k < f; k++) {
            row += iw;
            for (int x = 0; x < iw; x++)
                col[x] += row[x];
        }
        uint8_t *restrict o = out->px + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            uint32_t t = half;
            for (int k = 0; k < f; k++)
                t += col[x * f + k];
            o[x] = (uint8_t)(t / area);
        }
    }
    return DG_OK;
}

int vis_image_enlarge(const struct vis_image *in, int f, struct vis_image *out)
{
    if (f < 1 || f > 1024 || in->w < 1 || in->h < 1 || in->w > INT32_MAX / f ||
        in->h > INT32_MAX / f)
        return dg_fail(DG_EARG, "cannot enlarge a %dx%d image by %d", in->w, in->h, f);
    const int w = in->w * f, h = in->h * f;
    const int rc = vis_image_fit(out, w, h);
    if (rc != DG_OK)
        return rc;
    /* output pixel x samples the input at (x + 0.5) / f - 0.5: i0 + t/(2f) in steps of 1/f */
    for (int y = 0; y < h; y++) {
        const int ny = 2 * y + 1 - f; /* the sample's position, times 2f */
        const int y0 = ny < 0 ? 0 : ny / (2 * f), y1 = y0 + 1 < in->h ? y0 + 1 : y0;
        const int fy = ny < 0 ? 0 : ny % (2 * f); /* weight of y1, out of 2f */
        const uint8_t *r0 = in->px + (size_t)y0 * in->w, *r1 = in->px + (size_t)y1 * in->w;
        uint8_t *o = out->px + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            const int nx = 2 * x + 1 - f;
            const int x0 = nx < 0 ? 0 : nx / (2 * f), x1 = x0 + 1 < in->w ? x0 + 1 : x0;
            const int fx = nx < 0 ? 0 : nx % (2 * f);
            const int top = r0[x0] * (2 * f - fx) + r0[x1] * fx;
            const int bottom = r1[x0] * (2 * f - fx) + r1[x1] * fx;
            o[x] = (uint8_t)((top * (2 * f - fy) + bottom * fy + 2 * f * f) / (4 * f * f));
        }
    }
    return DG_OK;
}

int vis_bright_tenth(const uint8_t *px, int w, int h, size_t stride, int row_step)
{
    /* four histograms, by column mod 4: a flat image's increments then do not all wait on one
       counter */
    uint32_t level[4][256] = {{0}};
    size_t n = 0, above = 0;
    for (int y = 0; y < h; y += row_step, n += (size_t)w)
        for (int x = 0; x < w; x++)
            level[x & 3][px[(size_t)y * stride + x]]++;
    int bright = 255;
    for (; bright > 0; bright--)
        if ((above +=
             (size_t)level[0][bright] + level[1][bright] + level[2][bright] + level[3][bright]) *
                10 >=
            n)
            break;
    return bright;
}

/* Rows of the image vis_noise_share samples: every NOISE_ROW_STEP-th. */
enum { NOISE_ROW_STEP = 16 };

float vis_noise_share(const struct vis_image *img, int *bright_out)
{
    const int bright = vis_bright_tenth(img->px, img->w, img->h, (size_t)img->w, NOISE_ROW_STEP);
    if (bright_out)
        *bright_out = bright;
    if (img->w < 2 || img->h < 4)
        return 0.0f;
    uint32_t diff[4][256] = {{0}}; /* by column mod 4, as in vis_bright_tenth */
    long n = 0;
    for (int y = 0; y < img->h; y += NOISE_ROW_STEP, n += img->w - 1) {
        const uint8_t *row = img->px + (size_t)y * img->w;
        for (int x = 0; x + 1 < img->w; x++)
            diff[x & 3][abs((int)row[x + 1] - (int)row[x])]++;
    }
    long below = 0, at = 0;
    int q = 0;
    for (; q < 256; q++) {
        at = (long)diff[0][q] + diff[1][q] + diff[2][q] + diff[3][q];
        if ((below += at) * 4 >= n)
            break;
    }
    /* where the quarter falls within level q, which stands for [q - 0.5, q + 0.5) (0: [0, 0.5)) */
    const double lo = q > 0 ? q - 0.5 : 0.0, span = q > 0 ? 1.0 : 0.5;
    const double into = 1.0 - (double)(below - n / 4.0) / (double)at;
    const double sigma = (lo + span * into) / 0.4506;
    return (float)(sigma / (bright > 32 ? bright : 32));
}

/* Rows of the image vis_blur_share samples: every BLUR_ROW_STEP-th. */
enum { BLUR_ROW_STEP = 8 };

float vis_blur_share(const struct vis_image *img)
{
    const int w = img->w, h = img->h;
    if (w < 16 || h < 16)
        return 0.0f;
    /* A 9-pixel box blur's neighbour difference at x is |f(x + 4) - f(x - 5)| / 9: what of each
       difference f(x) - f(x - 1) exceeds it is lost to the blur. */
    long d_row = 0, lost_row = 0, d_col = 0, lost_col = 0;
    for (int y = 5; y < h - 4; y += BLUR_ROW_STEP) {
        const uint8_t *restrict r = img->px + (size_t)y * w, *restrict up = r - w,
                                *restrict up5 = r - 5 * (size_t)w,
                                *restrict dn4 = r + 4 * (size_t)w;
        int32_t dr_sum = 0, lr_sum = 0, dc_sum = 0, lc_sum = 0; /* a row's, in int32 (vectorises) */
        for (int x = 5; x < w - 4; x++) {
            const int dr = abs((int)r[x] - (int)r[x - 1]), br = abs((int)r[x + 4] - (int)r[x - 5]);
            const int dc = abs((int)r[x] - (int)up[x]), bc = abs((int)dn4[x] - (int)up5[x]);
            const int lr = 9 * dr - br, lc = 9 * dc - bc; /* in ninths */
            dr_sum += dr, dc_sum += dc;
            lr_sum += lr > 0 ? lr : 0;
            lc_sum += lc > 0 ? lc : 0;
        }
        d_row += dr_sum, lost_row += lr_sum, d_col += dc_sum, lost_col += lc_sum;
    }
    const double b_row = d_row ? 1.0 - (double)lost_row / (9.0 * (double)d_row) : 1.0;
    const double b_col = d_col ? 1.0 - (double)lost_col / (9.0 * (double)d_col) : 1.0;
    return (float)(b_row < b_col ? b_row : b_col);
}

int vis_image_smooth(const struct vis_image *in, struct vis_image *out, uint16_t *col)
{
    const int w = in->w, h = in->h;
    if (w < 1 || h < 1)
        return dg_fail(DG_EARG, "cannot smooth an empty image");
    const int rc = vis_image_fit(out, w, h);
    if (rc != DG_OK)
        return rc;
    for (int y = 0; y < h; y++) {
        /* rows above and below (held at the edges) weighted 1 2 1 per column (vectorises) */
        const uint8_t *restrict up = in->px + (size_t)(y > 0 ? y - 1 : 0) * w;
        const uint8_t *restrict mid = in->px + (size_t)y * w;
        const uint8_t *restrict dn = in->px + (size_t)(y + 1 < h ? y + 1 : y) * w;
        uint16_t *restrict c = col;
        for (int x = 0; x < w; x++)
            c[x] = (uint16_t)(up[x] + 2 * mid[x] + dn[x]);
        uint8_t *restrict o = out->px + (size_t)y * w;
        if (w == 1) {
            o[0] = (uint8_t)((4 * c[0] + 8) / 16);
            continue;
        }
        o[0] = (uint8_t)((3 * c[0] + c[1] + 8) / 16);
        for (int x = 1; x < w - 1; x++)
            o[x] = (uint8_t)((c[x - 1] + 2 * c[x] + c[x + 1] + 8) / 16);
        o[w - 1] = (uint8_t)((c[w - 2] + 3 * c[w - 1] + 8) / 16);
    }
    return DG_OK;
}

void vis_context_patch(const struct vis_image *grey, int x, int y, int w, int h, uint8_t out[784])
{
    const float side = (float)VIS_CONTEXT_SCALE * (float)(w > h ? w : h);
    const float cell = side / 28.0f;
    const float x0 = (float)x + 0.5f * (float)w - 0.5f * side;
    const float y0 = (float)y + 0.5f * (float)h - 0.5f * side;
    const int step = cell > 4.0f ? (int)ceilf(cell / 4.0f) : 1;
    int mean[784], hist[256] = {0}, n_in = 0;
    int xa[29], ya[29];
    for (int i = 0; i <= 28; i++) {
        xa[i] = (int)floorf(x0 + (float)i * cell);
        ya[i] = (int)floorf(y0 + (float)i * cell);
    }
    for (int j = 0; j < 28; j++) {
        const int y_lo = ya[j], y_hi = ya[j + 1] > y_lo ? ya[j + 1] : y_lo + 1;
        for (int i = 0; i < 28; i++) {
            const int x_lo = xa[i], x_hi = xa[i + 1] > x_lo ? xa[i + 1] : x_lo + 1;
            long sum = 0, n = 0;
            for (int yy = y_lo < 0 ? 0 : y_lo; yy < y_hi && yy < grey->h; yy += step) {
                const uint8_t *row = grey->px + (size_t)yy * grey->w;
                for (int xx = x_lo < 0 ? 0 : x_lo; xx < x_hi && xx < grey->w; xx += step)
                    sum += row[xx], n++;
            }
            mean[j * 28 + i] = n ? (int)((sum + n / 2) / n) : -1;
            if (n)
                hist[mean[j * 28 + i]]++, n_in++;
        }
    }
    int median = 0;
    for (int acc = 0; median < 255 && (acc += hist[median]) * 2 <= n_in;)
        median++;
    int lo = 255, hi = 0;
    for (int j = 10; j < 18; j++)
        for (int i = 10; i < 18; i++) {
            const int v = mean[j * 28 + i];
            if (v >= 0)
                lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
    const int dark = median - lo, light = hi - median;
    const int sign = dark >= light ? -1 : 1, depart = dark >= light ? dark : light;
    const float scale = 127.0f / (float)(depart > 8 ? depart : 8);
    for (int k = 0; k < 784; k++) {
        if (mean[k] < 0) {
            out[k] = 0;
            continue;
        }
        const float v = 128.0f + (float)(sign * (mean[k] - median)) * scale;
        out[k] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v + 0.5f);
    }
}

/* One row of packed 3- or 4-byte pixels as grey: Rec. 601 in float, in vis_grey_from_decoded's
 * order of operations, so every path gives the same bytes. Inlined with constant bpp, r_at and
 * b_at, the loop vectorises: 0.54 -> 0.12 ms per 640x480 RGB frame here, the same bytes for all
 * 16.7M colours. */
DG_INLINE void grey_row(const uint8_t *restrict s, uint8_t *restrict d, int w, int bpp, int r_at,
                        int b_at)
{
    for (int x = 0; x < w; x++) {
        const uint8_t *p = s + (size_t)x * bpp;
        const float v = 0.299f * p[r_at] + 0.587f * p[1] + 0.114f * p[b_at];
        const float g = v * 255.0f / 255.0f + 0.5f;
        d[x] = (uint8_t)(g > 255.0f ? 255.0f : g);
    }
}

/* Camera or decoded pixels (bpp bytes each, red at r_at and blue at b_at, green between) as 8-bit
 * grey, Rec. 601; alpha is not looked at. Each of the four packed layouts has its own constant
 * call of grey_row, so each loop vectorises; any other layout runs the general loop. */
DG_HOT void vis_grey_from_pixels(const uint8_t *px, size_t stride, int w, int h, int bpp, int r_at,
                                 int b_at, uint8_t *grey)
{
    /* 0 RGB, 1 BGR, 2 RGBA, 3 BGRA, -1 another */
    const int rgb = r_at == 0 && b_at == 2, bgr = r_at == 2 && b_at == 0;
    const int layout = (bpp == 3 || bpp == 4) && (rgb || bgr) ? (bpp - 3) * 2 + bgr : -1;
    for (int y = 0; y < h; y++) {
        const uint8_t *s = px + (size_t)y * stride;
        uint8_t *d = grey + (size_t)y * w;
        if (bpp == 1) { /* v * 255 / 255 + 0.5 truncates to v: the bytes as they are */
            memcpy(d, s, (size_t)w);
            continue;
        }
        switch (layout) {
        case 0: grey_row(s, d, w, 3, 0, 2); break; /* RGB */
        case 1: grey_row(s, d, w, 3, 2, 0); break; /* BGR */
        case 2: grey_row(s, d, w, 4, 0, 2); break; /* RGBA */
        case 3: grey_row(s, d, w, 4, 2, 0); break; /* BGRA */
        default: grey_row(s, d, w, bpp, r_at, b_at);
        }
    }
}

void vis_grey_from_decoded(const void *data, size_t n, int ch, int is16, uint8_t *grey)
{
    if (!is16 && (ch == 1 || ch == 3)) {
        vis_grey_from_pixels(data, n * ch, (int)n, 1, ch, 0, 2, grey);
        return;
    }
    const float maxv = is16 ? 65535.0f : 255.0f;
    for (size_t i = 0; i < n; i++) {
        float v[4];
        for (int c = 0; c < ch; c++)
            v[c] =
                is16 ? ((const uint16_t *)data)[i * ch + c] : ((const uint8_t *)data)[i * ch + c];
        float y;
        if (ch <= 2)
            y = v[0];
        else
            y = 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2];
        if (ch == 2 || ch == 4) { /* alpha over white paper */
            float a = v[ch - 1] / maxv;
            y = y * a + maxv * (1.0f - a);
        }
        float g = y * 255.0f / maxv + 0.5f;
        grey[i] = (uint8_t)(g > 255.0f ? 255.0f : g);
    }
}

/* Otsu's threshold of a 256-bin histogram: the level maximising between-class variance. */
static int otsu(const size_t hist[256], size_t total)
{
    double sum = 0.0;
    for (int i = 0; i < 256; i++)
        sum += (double)i * hist[i];
    double sum_b = 0.0, best = -1.0;
    size_t w_b = 0;
    int t = 128;
    for (int i = 0; i < 256; i++) {
        w_b += hist[i];
        if (w_b == 0)
            continue;
        size_t w_f = total - w_b;
        if (w_f == 0)
            break;
        sum_b += (double)i * hist[i];
        double m_b = sum_b / w_b, m_f = (sum - sum_b) / w_f;
        double between = (double)w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if (between > best) {
            best = between;
            t = i + 1; /* ink is >= t */
        }
    }
    return t;
}

enum vis_polarity vis_border_polarity(const struct vis_image *img)
{
    /* Paper surrounds the digit: compare the outer ring with the whole picture. */
    const int w = img->w, h = img->h;
    double border = 0.0, all = 0.0;
    size_t nb = 0;
    const int ring = (w < h ? w : h) / 10 + 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const double v = img->px[(size_t)y * w + x];
            all += v;
            if (y < ring || y >= h - ring || x < ring || x >= w - ring) {
                border += v;
                nb++;
            }
        }
    if (nb == 0)
        return VIS_POLARITY_DARK_ON_LIGHT;
    return border / (double)nb >= all / ((double)w * h) ? VIS_POLARITY_DARK_ON_LIGHT
                                                        : VIS_POLARITY_LIGHT_ON_DARK;
}

int vis_mnist_normalize(const struct vis_image *img, enum vis_polarity pol, float out[784])
{
    const int w = img->w, h = img->h;
    const size_t n = (size_t)w * h;
    if (pol == VIS_POLARITY_AUTO)
        pol = vis_border_polarity(img);
    uint8_t *ink = malloc(n);
    if (!ink)
        return dg_fail(DG_ENOMEM, "out of memory");
    size_t hist[256] = {0};
    for (size_t i = 0; i < n; i++) {
        ink[i] = pol == VIS_POLARITY_DARK_ON_LIGHT ? (uint8_t)(255 - img->px[i]) : img->px[i];
        hist[ink[i]]++;
    }
    int t = otsu(hist, n);
    double paper = 0.0, full = 0.0;
    size_t n_paper = 0, n_ink = 0;
    for (int i = 0; i < 256; i++) {
        if (i < t) {
            paper += (double)i * hist[i];
            n_paper += hist[i];
        } else {
            full += (double)i * hist[i];
            n_ink += hist[i];
        }
    }
    paper = n_paper ? paper / n_paper : 0.0;
    full = n_ink ? full / n_ink : 0.0;
    if (n_ink == 0 || full - paper < 24.0) {
        free(ink);
        return dg_fail(DG_EARG,
                       "no digit found: the image has no ink that stands out from the paper");
    }
    /* Stretch so paper -> 0 and the typical stroke -> 255 (MNIST strokes are mostly saturated). */
    const double scale = 255.0 / (full - paper);
    for (size_t i = 0; i < n; i++) {
        double v = (ink[i] - paper) * scale;
        ink[i] = (uint8_t)(v <= 0.0 ? 0 : v >= 255.0 ? 255 : v + 0.5);
    }
    int rc = vis_mnist_from_ink(ink, w, h, (size_t)w, out);
    free(ink);
    return rc;
}

/* Area averaging of n_src samples into n_dst (at most 20), in integers: with lengths in units of
 * 1/n_dst of a sample, sample i covers [i n_dst, (i + 1) n_dst) and output j covers
 * [j n_src, (j + 1) n_src), so every overlap is a whole number and output j is the sum of its
 * samples weighted by their overlaps, over n_src. Only an output's first and last samples can be
 * partial; those between weigh n_dst each. */
struct span {
    int first, last; /* the samples it covers */
    int64_t w0, w1;  /* the first's and (when last > first) the last's overlap */
};

static void spans_make(struct span *sp, int n_dst, int n_src)
{
    for (int j = 0; j < n_dst; j++) {
        const int64_t a = (int64_t)j * n_src, b = a + n_src;
        const int first = (int)(a / n_dst), last = (int)((b - 1) / n_dst);
        const int64_t first_end = (int64_t)(first + 1) * n_dst;
        sp[j].first = first;
        sp[j].last = last;
        sp[j].w0 = (first_end < b ? first_end : b) - a;
        sp[j].w1 = last > first ? b - (int64_t)last * n_dst : 0;
    }
}

/* Sample i's weight in span sp (first <= i <= last). */
static int64_t span_weight(const struct span *sp, int i, int n_dst)
{
    return i == sp->first ? sp->w0 : i == sp->last ? sp->w1 : n_dst;
}

/* The span's weighted sum from its first and last samples and the sum of those between. */
static int64_t span_total(const struct span *sp, int n_dst, int64_t first, int64_t whole,
                          int64_t last)
{
    return sp->w0 * first + (int64_t)n_dst * whole + sp->w1 * last;
}

/* col[x] += w * row[x] for x < n. */
DG_HOT static void add_weighted(int32_t *restrict col, const uint8_t *restrict row, int n,
                                int32_t w)
{
    for (int x = 0; x < n; x++)
        col[x] += w * row[x];
}

/* Boxes up to this wide are averaged columns first, in buffers on the stack (which vectorises);
 * wider ones row by row, which costs several times more per pixel. */
enum { COLS_MAX = 2048 };

/* Ink in vis_mnist_from_ink: a byte >= INK_CUT. */
enum { INK_CUT = 32 };
/* Candidates at least this many pixels on their longer side have thin strokes brought up. */
enum { THIN_FROM = 48 };

/* Whether any of the 8 bytes at p is ink: with INK_CUT 32, one of its top three bits is set. */
_Static_assert(INK_CUT == 32, "has_ink8 tests the top three bits of each byte");
static int has_ink8(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return (v & 0xE0E0E0E0E0E0E0E0ull) != 0;
}

/* The ink's mean stroke width in pixels: twice its area over its outline (the sides of ink pixels
 * that face paper or the box's edge), which is w for a long stroke w wide. */
static double stroke_width(const uint8_t *ink, size_t stride, int x0, int y0, int bw, int bh)
{
    long area = 0, sides = 0;
    for (int y = 0; y < bh; y++) {
        const uint8_t *r = ink + (size_t)(y0 + y) * stride + x0;
        const uint8_t *up = y > 0 ? r - stride : NULL, *dn = y + 1 < bh ? r + stride : NULL;
        for (int x = 0; x < bw; x++) {
            if (r[x] < INK_CUT)
                continue;
            area++;
            sides += (x == 0 || r[x - 1] < INK_CUT) + (x + 1 == bw || r[x + 1] < INK_CUT) +
                     (!up || up[x] < INK_CUT) + (!dn || dn[x] < INK_CUT);
        }
    }
    return sides ? 2.0 * (double)area / (double)sides : 0.0;
}

/* Strokes that end up under a pixel wide in the 20 px box and faint (a fine pen on a big digit: a
 * 1.5 px line in a 400 px digit is 0.08 px after scaling, nearly invisible) are brought up to a
 * full-strength line about MNIST's width: the box's ink is scaled by 1/width, then spread to its
 * 4 neighbours at 3/4 strength. width: the stroke's width in box pixels. */
static void thin_strokes_up(float *box, int ow, int oh, double width)
{
    enum { MIN_STROKE_X100 = 100 };
    float peak = 0.0f;
    for (int i = 0; i < ow * oh; i++)
        peak = box[i] > peak ? box[i] : peak;
    if (width <= 0.0 || width * 100.0 >= MIN_STROKE_X100 || peak >= 128.0f)
        return; /* strokes wide enough, or ink that is not faint (texture, a dense pattern) */
    const float gain = (float)(1.0 / (width > 0.04 ? width : 0.04));
    float grown[20 * 20];
    for (int i = 0; i < ow * oh; i++) {
        const float v = box[i] * gain;
        box[i] = v > 255.0f ? 255.0f : v;
    }
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            float n = 0.0f;
            n = x > 0 && box[y * ow + x - 1] > n ? box[y * ow + x - 1] : n;
            n = x + 1 < ow && box[y * ow + x + 1] > n ? box[y * ow + x + 1] : n;
            n = y > 0 && box[(y - 1) * ow + x] > n ? box[(y - 1) * ow + x] : n;
            n = y + 1 < oh && box[(y + 1) * ow + x] > n ? box[(y + 1) * ow + x] : n;
            const float v = box[y * ow + x], s = 0.75f * n;
            grown[y * ow + x] = v > s ? v : s;
        }
    memcpy(box, grown, (size_t)ow * oh * sizeof *box);
}

int vis_mnist_from_ink(const uint8_t *ink, int w, int h, size_t stride, float out[784])
{
    enum { BOX = 20, SIDE = 28, CUT = INK_CUT };
    /* the ink's box: per row, its first ink pixel from the left and the last from the right */
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = ink + (size_t)y * stride;
        int l = 0;
        while (l + 8 <= w && !has_ink8(row + l)) /* 8 at a time through paper */
            l += 8;
        while (l < w && row[l] < CUT)
            l++;
        if (l == w)
            continue;
        int r = w - 1;
        while (r >= 8 && !has_ink8(row + r - 7))
            r -= 8;
        while (row[r] < CUT)
            r--;
        x0 = l < x0 ? l : x0;
        x1 = r > x1 ? r : x1;
        y0 = y < y0 ? y : y0;
        y1 = y;
    }
    memset(out, 0, SIDE * SIDE * sizeof *out);
    if (x1 < 0)
        return dg_fail(DG_EARG, "no digit found: no ink");
    const int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    const int big = bw > bh ? bw : bh;
    int ow = (int)lround((double)bw * BOX / big), oh = (int)lround((double)bh * BOX / big);
    ow = ow < 1 ? 1 : ow;
    oh = oh < 1 ? 1 : oh;
    /* Area averaging in integers (struct span, along both axes): an output pixel's total is bw *
     * bh times its mean, exact (below 2^63 for any image the loader accepts) whichever order the
     * sums run in, and one division gives it. Nothing is allocated. */
    int64_t acc[BOX * BOX] = {0};
    struct span sx[BOX], sy[BOX];
    spans_make(sx, ow, bw);
    spans_make(sy, oh, bh);
    if (bw <= COLS_MAX && bh <= INT32_MAX / 255) { /* a column's weighted sum fits in int32 */
        /* output row j: its input rows weighted and summed per column, then the columns through
         * the spans, whole samples by prefix sums */
        int32_t col[COLS_MAX];
        int64_t pre[COLS_MAX + 1];
        for (int j = 0; j < oh; j++) {
            memset(col, 0, (size_t)bw * sizeof *col);
            for (int y = sy[j].first; y <= sy[j].last; y++) {
                add_weighted(col, ink + (size_t)(y0 + y) * stride + x0, bw,
                             (int32_t)span_weight(&sy[j], y, oh));
            }
            int64_t run = 0; /* in a register, not read back from pre */
            pre[0] = 0;
            for (int x = 0; x < bw; x++)
                pre[x + 1] = run += col[x];
            for (int x = 0; x < ow; x++) {
                const int f = sx[x].first, l = sx[x].last;
                acc[j * ow + x] =
                    span_total(&sx[x], ow, col[f], l > f ? pre[l] - pre[f + 1] : 0, col[l]);
            }
        }
    } else {
        /* rows first: each row through the spans, added into the output rows it overlaps */
        for (int y = 0; y < bh; y++) {
            const uint8_t *row = ink + (size_t)(y0 + y) * stride + x0;
            int64_t line[BOX];
            for (int x = 0; x < ow; x++) {
                const int f = sx[x].first, l = sx[x].last;
                int64_t whole = 0;
                for (int i = f + 1; i < l; i++)
                    whole += row[i];
                line[x] = span_total(&sx[x], ow, row[f], whole, row[l]);
            }
            for (int j = 0; j < oh; j++) {
                if (y < sy[j].first || y > sy[j].last)
                    continue;
                const int64_t wy = span_weight(&sy[j], y, oh);
                for (int x = 0; x < ow; x++)
                    acc[j * ow + x] += wy * line[x];
            }
        }
    }
    float box[BOX * BOX];
    const double total = (double)bw * bh;
    for (int i = 0; i < oh * ow; i++)
        box[i] = (float)((double)acc[i] / total);
    if (big >= THIN_FROM) /* smaller ones lose at most half their strokes' strength */
        thin_strokes_up(box, ow, oh, stroke_width(ink, stride, x0, y0, bw, bh) * BOX / big);
    double m = 0.0, mx = 0.0, my = 0.0;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            double v = box[y * ow + x];
            m += v;
            mx += v * (x + 0.5);
            my += v * (y + 0.5);
        }
    int ox = (int)lround(SIDE / 2.0 - mx / m), oy = (int)lround(SIDE / 2.0 - my / m);
    ox = ox < 0 ? 0 : ox > SIDE - ow ? SIDE - ow : ox;
    oy = oy < 0 ? 0 : oy > SIDE - oh ? SIDE - oh : oy;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
            out[(oy + y) * SIDE + ox + x] = box[y * ow + x] / 255.0f;
    return DG_OK;
}

/* vis_sharpen_box's blur: the binomial taps C(8, k) (1 8 28 56 70 56 28 8 1, summing to 256),
 * symmetric, so each output takes four sums of pairs and the middle sample. */
enum { SHARP_R = 4 }; /* VIS_SHARPEN_COL_AT's 8 rows and columns of margin */
#define BINOMIAL9(p, i)                                                                            \
    ((p)[(i)] + (p)[(i) + 8] + 8 * ((p)[(i) + 1] + (p)[(i) + 7]) +                                 \
     28 * ((p)[(i) + 2] + (p)[(i) + 6]) + 56 * ((p)[(i) + 3] + (p)[(i) + 5]) + 70 * (p)[(i) + 4])

DG_HOT void vis_sharpen_box(const struct vis_image *g, int x, int y, int w, int h, float amount,
                            uint8_t *out, uint32_t *scratch)
{
    const int gw = g->w, gh = g->h;
    /* rows y - 4 .. y + h + 3 (clamped) blurred along x into 16 bits (at most 255 * 256): row r of
     * rows is image row y - 4 + r; pad is one image row's stretch with its edge pixels repeated */
    uint16_t *restrict rows = (uint16_t *)(void *)scratch;
    uint16_t *restrict pad = rows + (size_t)w * (h + 2 * SHARP_R);
    for (int r = 0; r < h + 2 * SHARP_R; r++) {
        int yy = y - SHARP_R + r;
        yy = yy < 0 ? 0 : yy >= gh ? gh - 1 : yy;
        const uint8_t *row = g->px + (size_t)yy * gw;
        uint16_t *restrict t = rows + (size_t)r * w;
        if (x >= SHARP_R && x + w + SHARP_R <= gw) { /* the stretch lies inside the row */
            const uint8_t *restrict p = row + x - SHARP_R;
            for (int i = 0; i < w; i++)
                t[i] = (uint16_t)BINOMIAL9(p, i);
            continue;
        }
        for (int i = 0; i < w + 2 * SHARP_R; i++) {
            const int xx = x - SHARP_R + i;
            pad[i] = row[xx < 0 ? 0 : xx >= gw ? gw - 1 : xx];
        }
        for (int i = 0; i < w; i++)
            t[i] = (uint16_t)BINOMIAL9(pad, i);
    }
    /* then down the columns (the blur times 65536, kept as its top 16 bits and a rounding), and
     * g + amount * (g - blur) in 1/256ths of the amount */
    const int32_t amt = (int32_t)lroundf(amount * 256.0f);
    uint32_t *restrict col = scratch + VIS_SHARPEN_COL_AT(w, h);
    for (int r = 0; r < h; r++) {
        const uint8_t *restrict src = g->px + (size_t)(y + r) * gw + x;
        uint8_t *restrict o = out + (size_t)(y + r) * gw + x;
        const uint16_t *restrict r0 = rows + (size_t)r * w;
        for (int i = 0; i < w; i++) /* BINOMIAL9 down the column, row by row so it vectorises */
            col[i] = (uint32_t)r0[i] + r0[i + 8 * w] + 8u * ((uint32_t)r0[i + w] + r0[i + 7 * w]) +
                     28u * ((uint32_t)r0[i + 2 * w] + r0[i + 6 * w]) +
                     56u * ((uint32_t)r0[i + 3 * w] + r0[i + 5 * w]) + 70u * r0[i + 4 * w];
        for (int i = 0; i < w; i++) {
            /* (g - blur) in 1/256ths of a grey level, then times the amount in 1/256ths */
            const int32_t d = ((int32_t)src[i] << 8) - (int32_t)((col[i] + 128) >> 8);
            int32_t v = (int32_t)src[i] + ((d * amt + (1 << 15)) >> 16);
            o[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* One row of vis_grey_from_rgb; bpp a constant at each call, so the loop vectorises. */
DG_INLINE void grey_video_row(const uint8_t *restrict s, int w, const int bpp, uint8_t *restrict d)
{
    for (int x = 0; x < w; x++, s += bpp)
        d[x] = (uint8_t)((77 * s[0] + 150 * s[1] + 29 * s[2] + 128) >> 8);
}

DG_HOT void vis_grey_from_rgb(const uint8_t *rgb, size_t rgb_stride, int w, int h, int bpp,
                              uint8_t *grey)
{
    for (int y = 0; y < h; y++) {
        const uint8_t *s = rgb + (size_t)y * rgb_stride;
        uint8_t *d = grey + (size_t)y * w;
        if (bpp == 4)
            grey_video_row(s, w, 4, d);
        else
            grey_video_row(s, w, 3, d);
    }
}
