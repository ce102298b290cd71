/* augment.c - random distortions of digit images for training, and fixed-severity corruptions
 * for measuring robustness. One warp (affine + a smooth elastic field, bilinear sampling) then
 * stroke thickness, blur, contrast and noise, all on [0, 1] floats with ink high. */
#include "data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_PIXELS = DATA_AUG_MAX_SIDE * DATA_AUG_MAX_SIDE, GRID = 4 };

static const double PI = 3.14159265358979323846;

void data_augment_default(struct data_augment *a)
{
    a->rotate_deg = 12.0f;
    a->scale_min = 0.87f;
    a->scale_max = 1.13f;
    a->shift_px = 2.5f;
    a->shear = 0.2f;
    a->elastic_px = 1.2f;
    a->p_thickness = 0.4f;
    a->p_blur = 0.2f;
    a->noise = 0.12f;
    a->contrast_min = 0.6f;
    a->p_paper = 0.3f;
    a->paper_max = 0.2f;
    a->p_pen = 0.0f;
    a->p_style = 0.0f;
    a->p_small = 0.0f;
}

void data_augment_scale(struct data_augment *a, float k)
{
    a->rotate_deg *= k, a->shift_px *= k, a->shear *= k, a->elastic_px *= k, a->noise *= k;
    a->scale_min = 1.0f - k * (1.0f - a->scale_min);
    a->scale_max = 1.0f + k * (a->scale_max - 1.0f);
    a->contrast_min = 1.0f - k * (1.0f - a->contrast_min);
    a->p_thickness *= k, a->p_blur *= k, a->p_paper *= k;
}

void data_augment_styles_only(struct data_augment *a)
{
    data_augment_scale(a, 0.0f);
    a->paper_max = 0.0f;
}

static float uniform(struct dg_rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * dg_rng_uniform(rng);
}

static float gaussian(struct dg_rng *rng)
{
    float u = dg_rng_uniform(rng), v = dg_rng_uniform(rng);
    return (float)(sqrt(-2.0 * log(u > 1e-12f ? u : 1e-12f)) * cos(2.0 * PI * v));
}

/* A 2x3 map from output pixel to source position: src = A * (x, y, 1). */
struct warp {
    float a[6];
    float ex[GRID][GRID], ey[GRID][GRID]; /* elastic displacement at the control points */
    int elastic;
};

/* Source = centre + inverse(scale * rotation * shear) * (out - centre - shift). */
static void warp_affine(struct warp *wp, int w, int h, float deg, float scale, float shear,
                        float tx, float ty)
{
    const float th = (float)(deg * PI / 180.0), c = cosf(th), s = sinf(th);
    /* inverse of R(th) S(k) scale: (1/scale) S(-k) R(-th) */
    const float inv = 1.0f / scale;
    const float r00 = c, r01 = s, r10 = -s, r11 = c; /* R(-th) */
    const float m00 = inv * (r00 - shear * r10), m01 = inv * (r01 - shear * r11);
    const float m10 = inv * r10, m11 = inv * r11;
    const float cx = 0.5f * (float)(w - 1), cy = 0.5f * (float)(h - 1);
    wp->a[0] = m00;
    wp->a[1] = m01;
    wp->a[2] = cx - m00 * (cx + tx) - m01 * (cy + ty);
    wp->a[3] = m10;
    wp->a[4] = m11;
    wp->a[5] = cy - m10 * (cx + tx) - m11 * (cy + ty);
    wp->elastic = 0;
}

static float sample(const float *in, int w, int h, float sx, float sy)
{
    const float fx0 = floorf(sx), fy0 = floorf(sy);
    const int x0 = (int)fx0, y0 = (int)fy0;
    const float fx = sx - fx0, fy = sy - fy0;
    float v = 0.0f;
    for (int dy = 0; dy < 2; dy++) {
        const int y = y0 + dy;
        if (y < 0 || y >= h)
            continue;
        const float wy = dy ? fy : 1.0f - fy;
        for (int dx = 0; dx < 2; dx++) {
            const int x = x0 + dx;
            if (x < 0 || x >= w)
                continue;
            v += wy * (dx ? fx : 1.0f - fx) * in[y * w + x];
        }
    }
    return v;
}

static void warp_apply(float *out, const float *in, int w, int h, const struct warp *wp)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float sx = wp->a[0] * x + wp->a[1] * y + wp->a[2];
            float sy = wp->a[3] * x + wp->a[4] * y + wp->a[5];
            if (wp->elastic) {
                /* bilinear between the control points: a smooth displacement field */
                const float gx = (float)x * (GRID - 1) / (float)(w - 1);
                const float gy = (float)y * (GRID - 1) / (float)(h - 1);
                int ix = (int)gx, iy = (int)gy;
                ix = ix > GRID - 2 ? GRID - 2 : ix;
                iy = iy > GRID - 2 ? GRID - 2 : iy;
                const float fx = gx - (float)ix, fy = gy - (float)iy;
                const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy,
                            w11 = fx * fy;
                sx += w00 * wp->ex[iy][ix] + w01 * wp->ex[iy][ix + 1] + w10 * wp->ex[iy + 1][ix] +
                      w11 * wp->ex[iy + 1][ix + 1];
                sy += w00 * wp->ey[iy][ix] + w01 * wp->ey[iy][ix + 1] + w10 * wp->ey[iy + 1][ix] +
                      w11 * wp->ey[iy + 1][ix + 1];
            }
            out[y * w + x] = sample(in, w, h, sx, sy);
        }
}

/* Moves every pixel a fraction a of the way to the max (thicken) or min (thin) of its
 * 4-neighbourhood. */
static void thickness(float *img, float *tmp, int w, int h, int thicken, float a)
{
    memcpy(tmp, img, (size_t)w * h * sizeof *img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = tmp[y * w + x], e = v;
            const float n[4] = {
                x > 0 ? tmp[y * w + x - 1] : 0.0f, x + 1 < w ? tmp[y * w + x + 1] : 0.0f,
                y > 0 ? tmp[(y - 1) * w + x] : 0.0f, y + 1 < h ? tmp[(y + 1) * w + x] : 0.0f};
            for (int k = 0; k < 4; k++)
                e = thicken ? (n[k] > e ? n[k] : e) : (n[k] < e ? n[k] : e);
            img[y * w + x] = v + a * (e - v);
        }
}

/* img (w x h) becomes patch (pw x ph, at most w x h) alone on black, placed with its centre of
 * mass at img's centre as far as it fits (in the middle when it holds no ink), as MNIST's digits
 * were placed. */
static void place_by_mass(float *img, int w, int h, const float *patch, int pw, int ph)
{
    double m = 0.0, mx = 0.0, my = 0.0;
    for (int y = 0; y < ph; y++)
        for (int x = 0; x < pw; x++) {
            const float v = patch[y * pw + x];
            m += v, mx += v * (x + 0.5), my += v * (y + 0.5);
        }
    int ox = (w - pw) / 2, oy = (h - ph) / 2;
    if (m > 0.0) {
        ox = (int)lround(0.5 * w - mx / m), oy = (int)lround(0.5 * h - my / m);
        ox = ox < 0 ? 0 : ox > w - pw ? w - pw : ox;
        oy = oy < 0 ? 0 : oy > h - ph ? h - ph : oy;
    }
    memset(img, 0, (size_t)w * h * sizeof *img);
    for (int y = 0; y < ph; y++)
        memcpy(img + (size_t)(oy + y) * w + ox, patch + (size_t)y * pw, (size_t)pw * sizeof *img);
}

/* Fits the ink (above 0.05) into MNIST's box again: its longer side scaled to 20/28 of the image
 * when it is longer, then centred by mass, as MNIST's digits were made. */
static void fit_box(float *img, int w, int h)
{
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (img[y * w + x] > 0.05f) {
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
    if (x1 < 0)
        return;
    const int bw = x1 - x0 + 1, bh = y1 - y0 + 1, big = bw > bh ? bw : bh;
    const int side = (int)lroundf((float)(w < h ? w : h) * 20.0f / 28.0f);
    if (big <= side)
        return;
    const float sc = (float)side / (float)big;
    int nw = (int)lroundf((float)bw * sc), nh = (int)lroundf((float)bh * sc);
    nw = nw < 1 ? 1 : nw, nh = nh < 1 ? 1 : nh;
    float patch[MAX_PIXELS];
    for (int y = 0; y < nh; y++)
        for (int x = 0; x < nw; x++)
            patch[y * nw + x] = sample(img, w, h, (float)x0 + ((float)x + 0.5f) / sc - 0.5f,
                                       (float)y0 + ((float)y + 0.5f) / sc - 0.5f);
    place_by_mass(img, w, h, patch, nw, nh);
}

/* A wide pen, as other writers' digits and small blurred ones on a camera's page look once fitted
 * into MNIST's box: the ink dilated `passes` times (4-neighbourhood), then fitted again. A 1 comes
 * out as a wide bar, a loop's hole closes up. */
static void wide_pen(float *img, float *tmp, int w, int h, int passes)
{
    for (int p = 0; p < passes; p++)
        thickness(img, tmp, w, h, 1, 1.0f);
    fit_box(img, w, h);
}

/* A pen stroke from (ax, ay) to (bx, by) of radius r and ink level v, antialiased over a pixel,
 * laid over the image (the brighter of the two wins, as ink over ink). */
static void stroke(float *img, int w, int h, float ax, float ay, float bx, float by, float r,
                   float v)
{
    const float dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float t = len2 > 0.0f ? (((float)x - ax) * dx + ((float)y - ay) * dy) / len2 : 0.0f;
            t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
            const float ex = (float)x - (ax + t * dx), ey = (float)y - (ay + t * dy);
            float c = r + 0.5f - sqrtf(ex * ex + ey * ey);
            c = (c < 0.0f ? 0.0f : c > 1.0f ? 1.0f : c) * v;
            if (c > img[y * w + x])
                img[y * w + x] = c;
        }
}

/* The ink's first and last row above 0.3 (-1 without ink); returns the brightest value. */
static float ink_rows(const float *img, int w, int h, int *top, int *bottom)
{
    float peak = 0.0f;
    *top = -1, *bottom = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const float v = img[y * w + x];
            peak = v > peak ? v : peak;
            if (v > 0.3f) {
                *top = *top < 0 ? y : *top;
                *bottom = y;
            }
        }
    return peak;
}

/* The mass-weighted mean column of the rows [ya, yb] (-1 when they hold no ink); their mass
 * into *mass (nullable). */
static float mean_column(const float *img, int w, int ya, int yb, float *mass)
{
    double m = 0.0, mx = 0.0;
    for (int y = ya; y <= yb; y++)
        for (int x = 0; x < w; x++)
            m += img[y * w + x], mx += img[y * w + x] * x;
    if (mass)
        *mass = (float)m;
    return m > 0.0 ? (float)(mx / m) : -1.0f;
}

/* The digit as writer_style's forms see it: its first and last ink row, its height, the brightest
 * ink, and the pen's radius from its lower half (a single stroke in a 1, 7 or 9: its ink per
 * row, within 0.8-2.5 px). */
struct ink_shape {
    int top, bottom, tall;
    float peak, r;
};

/* Shears the rows of img so that a stem leaning k pixels across per row down stands upright
 * about row yc (linear between neighbouring pixels). */
static void stand_upright(float *img, int w, int h, float k, float yc)
{
    float row[DATA_AUG_MAX_SIDE];
    for (int y = 0; y < h; y++) {
        const float off = k * ((float)y - yc);
        for (int x = 0; x < w; x++) {
            const float sx = (float)x + off;
            const int x0 = (int)floorf(sx);
            const float f = sx - (float)x0;
            const float a = x0 >= 0 && x0 < w ? img[y * w + x0] : 0.0f;
            const float b = x0 + 1 >= 0 && x0 + 1 < w ? img[y * w + x0 + 1] : 0.0f;
            row[x] = a + f * (b - a);
        }
        memcpy(img + y * w, row, (size_t)w * sizeof *img);
    }
}

/* A continental 1, as other writers make it: an upright stem (a leaning one, up to 45 degrees, is
 * stood upright first: these writers' 1s are upright, MNIST's mostly lean) gets an up-stroke from
 * its top, down to the left at 30-60 degrees from the horizontal and a fifth to two fifths of its
 * height long (flatter or longer, it would be a 7's bar); four in ten a foot too. Returns 0 when
 * the 1 is left as it was. */
static int continental_one(float *img, int w, int h, const struct ink_shape *d, const float u[4])
{
    const int lo = d->top + d->tall / 2;
    const float y_low = 0.5f * (float)(d->bottom + lo), dy = y_low - (float)d->top;
    const float x_low = mean_column(img, w, lo, d->bottom, NULL);
    float x_top = mean_column(img, w, d->top, d->top + 1, NULL);
    if (x_top < 0.0f || x_low < 0.0f || fabsf(x_low - x_top) > dy)
        return 0;
    if (fabsf(x_low - x_top) > 0.1f * dy) {
        stand_upright(img, w, h, (x_low - x_top) / dy, y_low);
        x_top = mean_column(img, w, d->top, d->top + 1, NULL);
        if (x_top < 0.0f)
            return 0;
    }
    const float t = (float)((30.0 + 30.0 * u[0]) * PI / 180.0);
    const float len = (float)d->tall * (0.2f + 0.2f * u[1]), y0 = (float)d->top + d->r;
    stroke(img, w, h, x_top, y0, x_top - len * cosf(t), y0 + len * sinf(t), d->r, d->peak);
    if (u[2] < 0.4f) {
        const float xb = mean_column(img, w, d->bottom - 1, d->bottom, NULL);
        const float half = (float)d->tall * (0.12f + 0.12f * u[3]), yb = (float)d->bottom - d->r;
        stroke(img, w, h, xb - half, yb, xb + half, yb, d->r, d->peak);
    }
    return 1;
}

/* A 7 with a bar across its stem, 45-60% of the way down, slightly tilted. */
static int crossed_seven(float *img, int w, int h, const struct ink_shape *d, const float u[4])
{
    const int yc = d->top + (int)((float)d->tall * (0.45f + 0.15f * u[0]));
    const float xc = mean_column(img, w, yc, yc, NULL);
    if (xc < 0.0f)
        return 0;
    const float half = (float)d->tall * (0.15f + 0.12f * u[1]);
    const float tilt = (u[2] - 0.5f) * 0.35f * half;
    stroke(img, w, h, xc - half, (float)yc + tilt, xc + half, (float)yc - tilt, d->r, d->peak);
    return 1;
}

/* A 9 whose tail's end curls back to the left (10-40 degrees up, 0.18-0.35 of its height), as
 * many write it. */
static int curled_nine(float *img, int w, int h, const struct ink_shape *d, const float u[4])
{
    const float xb = mean_column(img, w, d->bottom - 1, d->bottom, NULL);
    if (xb < 0.0f)
        return 0;
    const float t = (float)((10.0 + 30.0 * u[0]) * PI / 180.0);
    const float len = (float)d->tall * (0.18f + 0.17f * u[1]), yb = (float)d->bottom - d->r;
    stroke(img, w, h, xb, yb, xb - len * cosf(t), yb - len * sinf(t), d->r, d->peak);
    return 1;
}

/* Other writers' forms of a digit MNIST's writers rarely use, drawn onto the digit before the
 * warp (continental_one, crossed_seven, curled_nine), the strokes as wide as the digit's own pen;
 * the digit is then fitted into the box again. u[0..3] are the caller's uniform draws. */
static void writer_style(float *img, int w, int h, int label, const float u[4])
{
    struct ink_shape d;
    d.peak = ink_rows(img, w, h, &d.top, &d.bottom);
    d.tall = d.bottom - d.top + 1;
    if (d.top < 0 || d.tall < 8 || d.peak <= 0.0f)
        return;
    const int lo = d.top + d.tall / 2;
    float m_low;
    mean_column(img, w, lo, d.bottom, &m_low);
    d.r = 0.5f * m_low / ((float)(d.bottom - lo + 1) * d.peak);
    d.r = d.r < 0.8f ? 0.8f : d.r > 2.5f ? 2.5f : d.r;
    const int drawn = label == 1   ? continental_one(img, w, h, &d, u)
                      : label == 7 ? crossed_seven(img, w, h, &d, u)
                      : label == 9 ? curled_nine(img, w, h, &d, u)
                                   : 0;
    if (drawn)
        fit_box(img, w, h);
}

/* Separable [1 2 1]/4 blur passes, blended with the original by a. */
static void blur(float *img, float *tmp, int w, int h, int passes, float a)
{
    float keep[MAX_PIXELS];
    memcpy(keep, img, (size_t)w * h * sizeof *img);
    for (int p = 0; p < passes; p++) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const float l = x > 0 ? img[y * w + x - 1] : 0.0f;
                const float r = x + 1 < w ? img[y * w + x + 1] : 0.0f;
                tmp[y * w + x] = 0.25f * l + 0.5f * img[y * w + x] + 0.25f * r;
            }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const float u = y > 0 ? tmp[(y - 1) * w + x] : 0.0f;
                const float d = y + 1 < h ? tmp[(y + 1) * w + x] : 0.0f;
                img[y * w + x] = 0.25f * u + 0.5f * tmp[y * w + x] + 0.25f * d;
            }
    }
    for (int i = 0; i < w * h; i++)
        img[i] = keep[i] + a * (img[i] - keep[i]);
}

static void clamp01(float *img, int n)
{
    for (int i = 0; i < n; i++)
        img[i] = img[i] < 0.0f ? 0.0f : img[i] > 1.0f ? 1.0f : img[i];
}

/* The heights of data_augment's small views: a digit a webcam sees a few pixels tall. */
static const float SMALL_MIN_PX = 10.0f, SMALL_MAX_PX = 18.0f;

int data_augment_image(float *out, const float *in, int w, int h, int label,
                       const struct data_augment *a, struct dg_rng *rng)
{
    if (w < 2 || h < 2 || w > DATA_AUG_MAX_SIDE || h > DATA_AUG_MAX_SIDE)
        return dg_fail(DG_EARG, "augment: image %dx%d is outside 2..%d", w, h, DATA_AUG_MAX_SIDE);
    float tmp[MAX_PIXELS], styled[MAX_PIXELS];
    /* drawn only by recipes that use it, so the others' streams are as they were */
    if (a->p_style > 0.0f && (label == 1 || label == 7 || label == 9)) {
        float u[5];
        for (int i = 0; i < 5; i++)
            u[i] = dg_rng_uniform(rng);
        if (u[4] < a->p_style) {
            memcpy(styled, in, (size_t)w * h * sizeof *in);
            writer_style(styled, w, h, label, u);
            in = styled;
        }
    }
    struct warp wp;
    const float scale = uniform(rng, a->scale_min, a->scale_max);
    warp_affine(&wp, w, h, uniform(rng, -a->rotate_deg, a->rotate_deg), scale,
                uniform(rng, -a->shear, a->shear), uniform(rng, -a->shift_px, a->shift_px),
                uniform(rng, -a->shift_px, a->shift_px));
    if (a->elastic_px > 0.0f) {
        wp.elastic = 1;
        for (int i = 0; i < GRID; i++)
            for (int j = 0; j < GRID; j++) {
                wp.ex[i][j] = uniform(rng, -a->elastic_px, a->elastic_px);
                wp.ey[i][j] = uniform(rng, -a->elastic_px, a->elastic_px);
            }
    }
    warp_apply(out, in, w, h, &wp);
    /* every draw below happens whatever the branch, so one image's choices do not shift the
     * random stream of the next */
    const float u_thick = dg_rng_uniform(rng), s_thick = uniform(rng, 0.3f, 1.0f);
    const float u_blur = dg_rng_uniform(rng), s_blur = uniform(rng, 0.3f, 1.0f);
    const float contrast = uniform(rng, a->contrast_min, 1.0f);
    const float u_paper = dg_rng_uniform(rng), paper = uniform(rng, 0.0f, a->paper_max);
    const float bg = u_paper < a->p_paper ? paper : 0.0f;
    const float sigma = uniform(rng, 0.0f, a->noise);
    /* drawn only by recipes that use it, so the others' streams are as they were */
    const float u_pen = a->p_pen > 0.0f ? dg_rng_uniform(rng) : 1.0f;
    const float u_small = a->p_small > 0.0f ? dg_rng_uniform(rng) : 1.0f;
    if (u_pen < a->p_pen)
        wide_pen(out, tmp, w, h, 1);
    if (u_thick < a->p_thickness)
        thickness(out, tmp, w, h, u_thick < 0.5f * a->p_thickness, s_thick);
    if (u_small < a->p_small) { /* the camera's blur, contrast and noise are the small view's */
        float warped[MAX_PIXELS];
        memcpy(warped, out, (size_t)w * h * sizeof *out);
        return data_small_view(out, warped, w, h, uniform(rng, SMALL_MIN_PX, SMALL_MAX_PX), rng);
    }
    if (u_blur < a->p_blur)
        blur(out, tmp, w, h, 1, s_blur);
    for (int i = 0; i < w * h; i++)
        out[i] = bg + out[i] * (contrast - bg) + (sigma > 0.0f ? sigma * gaussian(rng) : 0.0f);
    clamp01(out, w * h);
    return DG_OK;
}

uint64_t data_augment_seed(uint64_t seed, uint64_t epoch, uint64_t index)
{
    /* splitmix64 of a mix: independent streams per (seed, epoch, image) */
    uint64_t z = seed * 0x9e3779b97f4a7c15ULL ^ (epoch + 1) * 0xbf58476d1ce4e5b9ULL ^
                 (index + 1) * 0x94d049bb133111ebULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int data_augment_batch(float *x, const uint8_t *y, int n, int w, int h,
                       const struct data_augment *a, uint64_t seed, uint64_t epoch,
                       const uint32_t *idx, uint32_t idx_end)
{
    if (w < 2 || h < 2 || w > DATA_AUG_MAX_SIDE || h > DATA_AUG_MAX_SIDE)
        return dg_fail(DG_EARG, "augment: image %dx%d is outside 2..%d", w, h, DATA_AUG_MAX_SIDE);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        if (idx[i] >= idx_end)
            continue;
        float src[MAX_PIXELS];
        float *img = x + (size_t)i * w * h;
        struct dg_rng rng;
        dg_rng_seed(&rng, data_augment_seed(seed, epoch, idx[i]));
        memcpy(src, img, (size_t)w * h * sizeof *img);
        data_augment_image(img, src, w, h, y ? y[i] : -1, a, &rng);
    }
    return DG_OK;
}

const char *const data_corruption_names[DATA_N_CORRUPTIONS] = {
    "clean", "blur",  "noise",    "thick",   "thin", "rotate",
    "shift", "scale", "contrast", "elastic", "small"};

int data_corruption_find(const char *name)
{
    for (int k = 0; k < DATA_N_CORRUPTIONS; k++)
        if (!strcmp(name, data_corruption_names[k]))
            return k;
    return -1;
}

int data_corrupt_image(float *out, const float *in, int w, int h, int kind, struct dg_rng *rng)
{
    if (w < 2 || h < 2 || w > DATA_AUG_MAX_SIDE || h > DATA_AUG_MAX_SIDE)
        return dg_fail(DG_EARG, "corrupt: image %dx%d is outside 2..%d", w, h, DATA_AUG_MAX_SIDE);
    if (kind < 0 || kind >= DATA_N_CORRUPTIONS)
        return dg_fail(DG_EARG, "corrupt: no corruption %d", kind);
    float tmp[MAX_PIXELS];
    const int n = w * h;
    const float sign = dg_rng_uniform(rng) < 0.5f ? -1.0f : 1.0f;
    struct warp wp;
    memcpy(out, in, (size_t)n * sizeof *out);
    switch (kind) {
    case DATA_CLEAN: break;
    case DATA_BLUR: blur(out, tmp, w, h, 3, 1.0f); break; /* about a 1.2 px Gaussian */
    case DATA_NOISE:
        for (int i = 0; i < n; i++)
            out[i] += 0.35f * gaussian(rng);
        break;
    case DATA_THICK:
        thickness(out, tmp, w, h, 1, 1.0f);
        thickness(out, tmp, w, h, 1, 1.0f);
        break;
    case DATA_THIN: thickness(out, tmp, w, h, 0, 1.0f); break;
    case DATA_ROTATE:
        warp_affine(&wp, w, h, sign * uniform(rng, 20.0f, 30.0f), 1.0f, 0.0f, 0.0f, 0.0f);
        warp_apply(out, in, w, h, &wp);
        break;
    case DATA_SHIFT: {
        const float th = uniform(rng, 0.0f, (float)(2.0 * PI));
        warp_affine(&wp, w, h, 0.0f, 1.0f, 0.0f, 5.0f * cosf(th), 5.0f * sinf(th));
        warp_apply(out, in, w, h, &wp);
        break;
    }
    case DATA_SCALE:
        warp_affine(&wp, w, h, 0.0f, dg_rng_uniform(rng) < 0.5f ? 0.6f : 1.3f, 0.0f, 0.0f, 0.0f);
        warp_apply(out, in, w, h, &wp);
        break;
    case DATA_CONTRAST:
        for (int i = 0; i < n; i++)
            out[i] = 0.3f + 0.3f * in[i]; /* grey paper, faint ink */
        break;
    case DATA_ELASTIC:
        warp_affine(&wp, w, h, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f);
        wp.elastic = 1;
        for (int i = 0; i < GRID; i++)
            for (int j = 0; j < GRID; j++) {
                wp.ex[i][j] = uniform(rng, -2.5f, 2.5f);
                wp.ey[i][j] = uniform(rng, -2.5f, 2.5f);
            }
        warp_apply(out, in, w, h, &wp);
        break;
    case DATA_SMALL: {
        data_small_view(out, in, w, h, uniform(rng, 10.0f, 14.0f), rng);
        break;
    }
    }
    clamp01(out, n);
    return DG_OK;
}

/* A small view's image: at most the input's side and a margin each way (it is never enlarged). */
enum {
    SMALL_MARGIN = 2,
    SMALL_SIDE = DATA_AUG_MAX_SIDE + 2 * SMALL_MARGIN + 1,
    SMALL_PIXELS = SMALL_SIDE * SMALL_SIDE
};

/* The mean of the piecewise-constant samples s[0], s[stride], ... s[(n-1)*stride] over [a, b)
 * (b > a), nothing outside them. */
static float span_mean(const float *s, int stride, int n, float a, float b)
{
    float sum = 0.0f;
    for (int i = (int)floorf(a); (float)i < b; i++) {
        if (i < 0 || i >= n)
            continue;
        const float lo = a > (float)i ? a : (float)i, hi = b < (float)(i + 1) ? b : (float)(i + 1);
        sum += s[(size_t)i * stride] * (hi - lo);
    }
    return sum / (b - a);
}

/* out (ow x oh) = in (w x h) averaged over areas: out pixel (X, Y) is the mean of in over
 * [x0 + X*sx, x0 + (X+1)*sx) x [y0 + Y*sy, y0 + (Y+1)*sy). tmp: h * ow floats. */
static void area_resize(const float *in, int w, int h, float x0, float y0, float sx, float sy,
                        float *out, int ow, int oh, float *tmp)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < ow; x++)
            tmp[y * ow + x] =
                span_mean(in + (size_t)y * w, 1, w, x0 + (float)x * sx, x0 + (float)(x + 1) * sx);
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
            out[y * ow + x] =
                span_mean(tmp + x, ow, h, y0 + (float)y * sy, y0 + (float)(y + 1) * sy);
}

/* The box of img's pixels at least cut; 0 when there are none. */
static int ink_box(const float *img, int w, int h, float cut, int *x0, int *y0, int *x1, int *y1)
{
    *x0 = w, *y0 = h, *x1 = -1, *y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (img[y * w + x] >= cut) {
                *x0 = x < *x0 ? x : *x0, *x1 = x > *x1 ? x : *x1;
                *y0 = y < *y0 ? y : *y0, *y1 = y > *y1 ? y : *y1;
            }
    return *x1 >= 0;
}

/* The 9-tap binomial blur (sigma 1.4) of img into out, edges clamped. tmp: w * h floats. */
static void binomial9(const float *img, int w, int h, float *out, float *tmp)
{
    static const float k[9] = {1, 8, 28, 56, 70, 56, 28, 8, 1};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0.0f;
            for (int d = -4; d <= 4; d++) {
                const int xx = x + d < 0 ? 0 : x + d >= w ? w - 1 : x + d;
                s += k[d + 4] * img[y * w + xx];
            }
            tmp[y * w + x] = s / 256.0f;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0.0f;
            for (int d = -4; d <= 4; d++) {
                const int yy = y + d < 0 ? 0 : y + d >= h ? h - 1 : y + d;
                s += k[d + 4] * tmp[yy * w + x];
            }
            out[y * w + x] = s / 256.0f;
        }
}

/* Whether mask (w x h, 0/1) holds a digit height_px tall in one piece: its largest 8-connected
 * component has at least SMALL_WHOLE of the mask's pixels and SMALL_TALL of that height; *x0 ..
 * *y1 get that component's box. Marks the pixels it visits with 2. */
static const float SMALL_WHOLE = 0.9f, SMALL_TALL = 0.7f;

static int whole_in_mask(uint8_t *mask, int w, int h, float height_px, int *x0, int *y0, int *x1,
                         int *y1)
{
    int stack[SMALL_PIXELS], total = 0, best = 0;
    for (int i = 0; i < w * h; i++)
        total += mask[i] != 0;
    for (int s = 0; s < w * h; s++) {
        if (mask[s] != 1)
            continue;
        int n = 0, top = 0, bx0 = w, by0 = h, bx1 = -1, by1 = -1;
        stack[top++] = s;
        mask[s] = 2;
        while (top > 0) {
            const int i = stack[--top], x = i % w, y = i / w;
            n++;
            bx0 = x < bx0 ? x : bx0, bx1 = x > bx1 ? x : bx1;
            by0 = y < by0 ? y : by0, by1 = y > by1 ? y : by1;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    const int xx = x + dx, yy = y + dy;
                    if (xx >= 0 && xx < w && yy >= 0 && yy < h && mask[yy * w + xx] == 1) {
                        mask[yy * w + xx] = 2;
                        stack[top++] = yy * w + xx;
                    }
                }
        }
        if (n > best)
            best = n, *x0 = bx0, *y0 = by0, *x1 = bx1, *y1 = by1;
    }
    return best > 0 && (float)best >= SMALL_WHOLE * (float)total &&
           (float)(*y1 - *y0 + 1) >= SMALL_TALL * height_px;
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The levels the reader's soft crop takes (recog's paper_and_ink): the paper's, the median of the
 * box's pixels outside the mask, and the ink's, the darkest 5% of those in it. Returns 0 when
 * under a quarter of the box is paper. */
static int paper_and_ink_levels(const float *g, const uint8_t *mask, int w, int h, float *paper,
                                float *dark)
{
    float pv[SMALL_PIXELS], iv[SMALL_PIXELS];
    int np = 0, ni = 0;
    for (int i = 0; i < w * h; i++)
        if (mask[i])
            iv[ni++] = g[i];
        else
            pv[np++] = g[i];
    if (np * 4 < w * h || !ni)
        return 0;
    qsort(pv, (size_t)np, sizeof *pv, cmp_float);
    qsort(iv, (size_t)ni, sizeof *iv, cmp_float);
    *paper = pv[np / 2];
    *dark = iv[(int)(0.05f * (float)ni)];
    return 1;
}

/* Small views (data_small_view): the camera's paper level and ink contrast in grey levels, its
 * sensor noise, the reader's ink bar (vis_threshold's contrast and share of the strongest stroke)
 * and the unsharp mask it gives candidates up to 32 px tall (recog's sharpen_boxes). */
static const float SMALL_PAPER_MIN = 140.0f, SMALL_PAPER_MAX = 230.0f;
static const float SMALL_INK_MIN = 30.0f, SMALL_INK_MAX = 160.0f, SMALL_NOISE = 5.0f;
static const int SMALL_BLUR_PASSES = 3; /* a camera's blur: 1-3 [1 2 1] passes */
static const float SMALL_CONTRAST = 16.0f, SMALL_SHARE = 0.4f, SMALL_SHARPEN = 0.6f;

/* The camera's view: in (w x h) scaled by f at the sub-pixel phase (px, py) by area into g (sw x
 * sh, SMALL_MARGIN each side), blurred by 1-3 passes (blur_u in [0, 1) picks how many), put on
 * paper of that level with ink that much darker and sensor noise of sigma from rng, in whole grey
 * levels. v, tmp: scratch. */
static void camera_view(const float *in, int w, int h, float f, float px, float py, float blur_u,
                        float paper, float ink, float sigma, struct dg_rng *rng, int sw, int sh,
                        float *g, float *v, float *tmp)
{
    area_resize(in, w, h, -((float)SMALL_MARGIN + px) / f, -((float)SMALL_MARGIN + py) / f,
                1.0f / f, 1.0f / f, v, sw, sh, tmp);
    blur(v, tmp, sw, sh, 1 + (int)(blur_u * (float)SMALL_BLUR_PASSES), 1.0f);
    for (int i = 0; i < sw * sh; i++) {
        const float p = paper - ink * v[i] + sigma * gaussian(rng);
        g[i] = roundf(p < 0.0f ? 0.0f : p > 255.0f ? 255.0f : p);
    }
}

/* The reader's ink mask of g (n pixels on paper of that level): SMALL_CONTRAST levels darker and
 * SMALL_SHARE of the strongest stroke. */
static void reader_mask(const float *g, int n, float paper, uint8_t *mask)
{
    float strongest = 0.0f;
    for (int i = 0; i < n; i++)
        strongest = fmaxf(strongest, paper - g[i]);
    const float bar = fmaxf(SMALL_CONTRAST, SMALL_SHARE * strongest);
    for (int i = 0; i < n; i++)
        mask[i] = paper - g[i] >= bar;
}

/* The reader's crop of the candidate in box (bx, by, bw, bh) of g (sw wide) with its mask: the
 * grey sharpened there (SMALL_SHARPEN, the 9-tap binomial), then each pixel of the ink and its
 * 8 neighbours the share of the way from the paper's level to the ink's that it covers, into soft
 * (bw x bh). Returns 0 when there are no levels to judge the ink by. v, tmp: scratch. */
static int soft_crop(const float *g, const uint8_t *mask, int sw, int sh, int bx, int by, int bw,
                     int bh, float *soft, float *v, float *tmp)
{
    float box_g[SMALL_PIXELS];
    uint8_t box_m[SMALL_PIXELS];
    binomial9(g, sw, sh, v, tmp);
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++) {
            const int i = (by + y) * sw + bx + x;
            const float s = g[i] + SMALL_SHARPEN * (g[i] - v[i]);
            box_g[y * bw + x] = roundf(s < 0.0f ? 0.0f : s > 255.0f ? 255.0f : s);
            box_m[y * bw + x] = mask[i];
        }
    float lp, ld;
    if (!paper_and_ink_levels(box_g, box_m, bw, bh, &lp, &ld) || lp - ld < 8.0f)
        return 0;
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++) {
            int near = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    const int yy = y + dy, xx = x + dx;
                    near |= yy >= 0 && yy < bh && xx >= 0 && xx < bw && box_m[yy * bw + xx];
                }
            const float s = (lp - box_g[y * bw + x]) / (lp - ld);
            soft[y * bw + x] = near ? (s < 0.0f ? 0.0f : s > 1.0f ? 1.0f : s) : 0.0f;
        }
    return 1;
}

/* MNIST's normalisation of soft (bw x bh) into out (w x h): the ink's box (from 32 grey levels),
 * its longer side to 20/28 of out by area, centred by mass. Returns 0 without ink. v, tmp:
 * scratch. */
static int mnist_fit(const float *soft, int bw, int bh, float *out, int w, int h, float *v,
                     float *tmp)
{
    int x0, y0, x1, y1;
    if (!ink_box(soft, bw, bh, 32.0f / 255.0f, &x0, &y0, &x1, &y1))
        return 0;
    const int iw = x1 - x0 + 1, ih = y1 - y0 + 1, big = iw > ih ? iw : ih;
    const int side = (int)lroundf((float)(w < h ? w : h) * 20.0f / 28.0f);
    int ow = (int)lroundf((float)iw * (float)side / (float)big);
    int oh = (int)lroundf((float)ih * (float)side / (float)big);
    ow = ow < 1 ? 1 : ow, oh = oh < 1 ? 1 : oh;
    area_resize(soft, bw, bh, (float)x0, (float)y0, (float)iw / (float)ow, (float)ih / (float)oh, v,
                ow, oh, tmp);
    place_by_mass(out, w, h, v, ow, oh);
    return 1;
}

int data_small_view(float *out, const float *in, int w, int h, float height_px, struct dg_rng *rng)
{
    if (w < 2 || h < 2 || w > DATA_AUG_MAX_SIDE || h > DATA_AUG_MAX_SIDE)
        return dg_fail(DG_EARG, "small view: image %dx%d is outside 2..%d", w, h,
                       DATA_AUG_MAX_SIDE);
    /* every draw happens whatever the image, so one image's path does not shift the stream */
    const float phase_x = dg_rng_uniform(rng), phase_y = dg_rng_uniform(rng);
    const float camera_blur = dg_rng_uniform(rng);
    const float paper = uniform(rng, SMALL_PAPER_MIN, SMALL_PAPER_MAX);
    const float ink = fminf(uniform(rng, SMALL_INK_MIN, SMALL_INK_MAX), paper - 20.0f);
    const float sigma = uniform(rng, 0.0f, SMALL_NOISE);
    int x0, y0, x1, y1;
    memcpy(out, in, (size_t)w * h * sizeof *out);
    if (!ink_box(in, w, h, 0.05f, &x0, &y0, &x1, &y1))
        return DG_OK;
    const float f = fminf(1.0f, height_px / (float)(y1 - y0 + 1)); /* never enlarged */
    const int sw = (int)ceilf((float)w * f) + 2 * SMALL_MARGIN;
    const int sh = (int)ceilf((float)h * f) + 2 * SMALL_MARGIN;
    float v[SMALL_PIXELS], g[SMALL_PIXELS], soft[SMALL_PIXELS], tmp[SMALL_PIXELS];
    uint8_t mask[SMALL_PIXELS];
    camera_view(in, w, h, f, phase_x, phase_y, camera_blur, paper, ink, sigma, rng, sw, sh, g, v,
                tmp);
    reader_mask(g, sw * sh, paper, mask);
    /* its candidate: the digit whole in one piece of the mask, as the reader finds it; a digit
     * the mask breaks or loses is no candidate of its own there, nor one without levels to judge
     * its ink by: the image stays as it was */
    if (!whole_in_mask(mask, sw, sh, height_px, &x0, &y0, &x1, &y1) ||
        !soft_crop(g, mask, sw, sh, x0, y0, x1 - x0 + 1, y1 - y0 + 1, soft, v, tmp))
        return DG_OK;
    mnist_fit(soft, x1 - x0 + 1, y1 - y0 + 1, out, w, h, v, tmp);
    return DG_OK;
}
