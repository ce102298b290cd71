/* worldgen.c - renders what a webcam sees when someone holds handwriting up to it: a sheet (white,
 * tinted, ruled, squared, a sticky note, a whiteboard or a chalkboard) lying over a real
 * photograph, turned up to 25 degrees, in perspective, sometimes partly out of frame, with a
 * shadow, a hand and pen over it, objects beside it, printed words and handwritten symbols near
 * the digits, fine-pen, ballpoint and marker strokes, digits from 12 px to a third of the frame on
 * drifting baselines with gaps of every width and touching pairs, rows that never cross; sheets
 * with just one or two numbers (kind "sparse" in the truth); and frames with no digit at all.
 * Then lighting, defocus, sensor noise and JPEG.
 *
 * Digits come from MNIST's SPLIT (train for tuning and training, t10k only for report sets);
 * photographs are split too (every fourth, in the order given, is kept for t10k), so a report
 * scene's background was never seen in tuning. Writes OUTDIR/world_NNNN.{jpg,png} and
 * OUTDIR/truth.jsonl (the format of tools/scenegen plus "kind", "ignore" on digits and numbers
 * that are cut by the frame's edge or covered by the hand: a reader is neither credited nor
 * blamed for those).
 * usage: worldgen OUTDIR N SEED MNIST_DIR SPLIT PHOTO... */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>
#include <stb_truetype.h>

#include "data.h"
#include "toolutil.h"

enum { W = 640, H = 480, MAX_DIGITS = 160, MAX_NUMBERS = 64, MAX_PHOTOS = 64 };

/* ---- small helpers ----------------------------------------------------------------------------
 */

static int chance(struct dg_rng *r, float p)
{
    return dg_rng_uniform(r) < p;
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* An RGB float picture, 0..255. */
struct canvas {
    int w, h;
    float *px;
};

static int canvas_init(struct canvas *c, int w, int h)
{
    c->w = w, c->h = h;
    c->px = calloc((size_t)w * h * 3, sizeof *c->px);
    return c->px ? 0 : -1;
}

/* Blends colour col with coverage a (0..1) into pixel (x, y); clipped. */
static void blend(struct canvas *c, int x, int y, const float col[3], float a)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || a <= 0.0f)
        return;
    float *p = c->px + ((size_t)y * c->w + x) * 3;
    a = a > 1.0f ? 1.0f : a;
    for (int k = 0; k < 3; k++)
        p[k] = p[k] * (1 - a) + col[k] * a;
}

/* Bilinear sample of an RGB float canvas at (x, y) (pixel centres at +0.5). */
static void sample_rgb(const struct canvas *c, float x, float y, float out[3])
{
    x -= 0.5f, y -= 0.5f;
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    const float fx = x - x0, fy = y - y0;
    for (int k = 0; k < 3; k++)
        out[k] = 0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int xx = x0 + dx, yy = y0 + dy;
            xx = xx < 0 ? 0 : xx >= c->w ? c->w - 1 : xx;
            yy = yy < 0 ? 0 : yy >= c->h ? c->h - 1 : yy;
            const float wgt = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
            const float *p = c->px + ((size_t)yy * c->w + xx) * 3;
            for (int k = 0; k < 3; k++)
                out[k] += wgt * p[k];
        }
}

/* Anti-aliased capsule (a thick line segment with round ends) of radius rad. */
static void capsule(struct canvas *c, float x0, float y0, float x1, float y1, float rad,
                    const float col[3], float opacity)
{
    const int bx0 = (int)floorf(fminf(x0, x1) - rad - 1), bx1 = (int)ceilf(fmaxf(x0, x1) + rad + 1);
    const int by0 = (int)floorf(fminf(y0, y1) - rad - 1), by1 = (int)ceilf(fmaxf(y0, y1) + rad + 1);
    const float dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int y = by0 < 0 ? 0 : by0; y <= by1 && y < c->h; y++)
        for (int x = bx0 < 0 ? 0 : bx0; x <= bx1 && x < c->w; x++) {
            const float px = x + 0.5f - x0, py = y + 0.5f - y0;
            float t = len2 > 0 ? (px * dx + py * dy) / len2 : 0;
            t = clampf(t, 0, 1);
            const float ex = px - t * dx, ey = py - t * dy;
            const float d = sqrtf(ex * ex + ey * ey);
            blend(c, x, y, col, opacity * clampf(rad + 0.5f - d, 0, 1));
        }
}

/* Anti-aliased filled ellipse, axes a, b, turned by ang. */
static void ellipse(struct canvas *c, float cx, float cy, float a, float b, float ang,
                    const float col[3], float opacity)
{
    const float r = fmaxf(a, b) + 2, ca = cosf(ang), sa = sinf(ang);
    for (int y = (int)(cy - r); y <= (int)(cy + r); y++)
        for (int x = (int)(cx - r); x <= (int)(cx + r); x++) {
            const float px = x + 0.5f - cx, py = y + 0.5f - cy;
            const float u = (ca * px + sa * py) / a, v = (-sa * px + ca * py) / b;
            const float d = (sqrtf(u * u + v * v) - 1.0f) * fminf(a, b);
            blend(c, x, y, col, opacity * clampf(0.5f - d, 0, 1));
        }
}

/* ---- photographs ------------------------------------------------------------------------------
 */

struct photo {
    int w, h;
    uint8_t *px; /* RGB */
};

/* Loads path as RGB, its longer side scaled down to at most 1280 px. */
static int photo_load(const char *path, struct photo *p)
{
    int w, h, n;
    uint8_t *full = stbi_load(path, &w, &h, &n, 3);
    if (!full)
        return -1;
    const float s = fminf(1.0f, 1280.0f / (float)(w > h ? w : h));
    p->w = (int)(w * s), p->h = (int)(h * s);
    p->px = malloc((size_t)p->w * p->h * 3);
    if (!p->px || !stbir_resize_uint8(full, w, h, 0, p->px, p->w, p->h, 0, 3)) {
        stbi_image_free(full);
        free(p->px);
        return -1;
    }
    stbi_image_free(full);
    return 0;
}

/* The frame's background: a random crop of a photograph (a fifth to all of it), perhaps mirrored,
 * under a random exposure and colour cast; or, now and then, a plain desk with a grain. */
static void draw_background(struct canvas *c, const struct photo *ph, int n_ph, struct dg_rng *r)
{
    if (n_ph == 0 || chance(r, 0.1f)) {
        const float base[3] = {urand(r, 40, 200), urand(r, 30, 170), urand(r, 20, 140)};
        const float freq = urand(r, 0.02f, 0.2f), amp = urand(r, 0, 25), ang = urand(r, 0, 3.14f);
        for (int y = 0; y < c->h; y++)
            for (int x = 0; x < c->w; x++) {
                const float t = x * cosf(ang) + y * sinf(ang);
                const float g = amp * sinf(t * freq + 3 * sinf(t * freq * 0.13f + y * 0.01f));
                for (int k = 0; k < 3; k++)
                    c->px[((size_t)y * c->w + x) * 3 + k] = clampf(base[k] + g, 0, 255);
            }
        return;
    }
    const struct photo *p = &ph[dg_rng_below(r, (uint32_t)n_ph)];
    const float frac = urand(r, 0.2f, 1.0f);
    float cw = p->w * frac, ch = cw * H / W;
    if (ch > p->h)
        ch = (float)p->h, cw = ch * W / H;
    const float ox = urand(r, 0, p->w - cw), oy = urand(r, 0, p->h - ch);
    const int mirror = chance(r, 0.5f);
    const float expo = urand(r, 0.45f, 1.15f);
    const float cast[3] = {urand(r, 0.9f, 1.1f), 1.0f, urand(r, 0.85f, 1.1f)};
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            const float sx = ox + (mirror ? W - 1 - x : x) * cw / W;
            const float sy = oy + y * ch / H;
            const int ix = (int)sx < p->w - 1 ? (int)sx : p->w - 2,
                      iy = (int)sy < p->h - 1 ? (int)sy : p->h - 2;
            const float fx = sx - ix, fy = sy - iy;
            for (int k = 0; k < 3; k++) {
                const uint8_t *q = p->px + ((size_t)iy * p->w + ix) * 3 + k;
                const float v =
                    (1 - fy) * ((1 - fx) * q[0] + fx * q[3]) +
                    fy * ((1 - fx) * q[(size_t)p->w * 3] + fx * q[(size_t)p->w * 3 + 3]);
                c->px[((size_t)y * c->w + x) * 3 + k] = clampf(v * expo * cast[k], 0, 255);
            }
        }
}

/* Things on a desk: a mug seen from above, a keyboard's keys, a pen, a phone. */
static void draw_objects(struct canvas *c, struct dg_rng *r)
{
    const int n = (int)dg_rng_below(r, 4);
    for (int i = 0; i < n; i++) {
        const float x = urand(r, -50, W + 50), y = urand(r, -50, H + 50);
        const float col[3] = {urand(r, 10, 240), urand(r, 10, 240), urand(r, 10, 240)};
        switch (dg_rng_below(r, 4)) {
        case 0: { /* mug: a ring with its dark inside and a handle */
            const float rad = urand(r, 30, 90);
            ellipse(c, x + 6, y + 8, rad, rad, 0, (const float[3]){20, 20, 20}, 0.35f);
            ellipse(c, x, y, rad, rad, 0, col, 1);
            ellipse(c, x, y, rad * 0.82f, rad * 0.82f, 0, (const float[3]){40, 25, 15}, 1);
            capsule(c, x + rad, y, x + rad * 1.45f, y + rad * 0.2f, rad * 0.12f, col, 1);
            break;
        }
        case 1: { /* keyboard: a grid of light or dark keys */
            const float k = urand(r, 18, 40), ang = urand(r, -0.4f, 0.4f);
            const float body[3] = {col[0] * 0.3f, col[1] * 0.3f, col[2] * 0.3f};
            const float key[3] = {col[0] < 128 ? 30 : 225, col[0] < 128 ? 30 : 225,
                                  col[0] < 128 ? 32 : 228};
            for (int row = 0; row < 5; row++)
                for (int kk = 0; kk < 12; kk++) {
                    const float u = (kk + 0.3f * row) * k * 1.1f, v = row * k * 1.1f;
                    const float px = x + u * cosf(ang) - v * sinf(ang);
                    const float py = y + u * sinf(ang) + v * cosf(ang);
                    ellipse(c, px, py, k * 0.62f, k * 0.62f, ang, body, 1);
                    ellipse(c, px, py, k * 0.45f, k * 0.45f, ang, key, 1);
                }
            break;
        }
        case 2: { /* pen or pencil lying about */
            const float ang = urand(r, 0, 6.28f), len = urand(r, 80, 200);
            capsule(c, x, y, x + len * cosf(ang), y + len * sinf(ang), urand(r, 3, 7), col, 1);
            break;
        }
        default: { /* phone: a dark rounded slab */
            const float a = urand(r, 35, 60), ang = urand(r, -1, 1);
            ellipse(c, x, y, a, a * 2.0f, ang, (const float[3]){15, 15, 18}, 1);
            ellipse(c, x, y, a * 0.85f, a * 1.8f, ang, (const float[3]){40, 45, 60}, 1);
            break;
        }
        }
    }
}

/* ---- homographies ---------------------------------------------------------------------------- */

/* Solves the 8x8 system of a homography taking src[i] to dst[i] (4 points); h[8] = 1. */
static int homography(float src[4][2], float dst[4][2], double h[9])
{
    double a[8][9];
    for (int i = 0; i < 4; i++) {
        const double x = src[i][0], y = src[i][1], u = dst[i][0], v = dst[i][1];
        const double r0[9] = {x, y, 1, 0, 0, 0, -u * x, -u * y, u};
        const double r1[9] = {0, 0, 0, x, y, 1, -v * x, -v * y, v};
        memcpy(a[2 * i], r0, sizeof r0);
        memcpy(a[2 * i + 1], r1, sizeof r1);
    }
    for (int col = 0; col < 8; col++) {
        int piv = col;
        for (int i = col + 1; i < 8; i++)
            if (fabs(a[i][col]) > fabs(a[piv][col]))
                piv = i;
        if (fabs(a[piv][col]) < 1e-12)
            return -1;
        for (int j = 0; j < 9; j++) {
            const double t = a[col][j];
            a[col][j] = a[piv][j];
            a[piv][j] = t;
        }
        for (int i = 0; i < 8; i++) {
            if (i == col)
                continue;
            const double f = a[i][col] / a[col][col];
            for (int j = col; j < 9; j++)
                a[i][j] -= f * a[col][j];
        }
    }
    for (int i = 0; i < 8; i++)
        h[i] = a[i][8] / a[i][i];
    h[8] = 1;
    return 0;
}

static void apply_h(const double h[9], double x, double y, double *u, double *v)
{
    const double z = h[6] * x + h[7] * y + h[8];
    *u = (h[0] * x + h[1] * y + h[2]) / z;
    *v = (h[3] * x + h[4] * y + h[5]) / z;
}

/* ---- handwriting --------------------------------------------------------------------------------
 */

/* Zhang and Suen's thinning of a binary w x h image in place (1 = ink). */
static void thin(uint8_t *b, int w, int h, uint8_t *mark)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (int pass = 0; pass < 2; pass++) {
            memset(mark, 0, (size_t)w * h);
            for (int y = 1; y < h - 1; y++)
                for (int x = 1; x < w - 1; x++) {
                    if (!b[y * w + x])
                        continue;
                    const uint8_t p[8] = {b[(y - 1) * w + x], b[(y - 1) * w + x + 1],
                                          b[y * w + x + 1],   b[(y + 1) * w + x + 1],
                                          b[(y + 1) * w + x], b[(y + 1) * w + x - 1],
                                          b[y * w + x - 1],   b[(y - 1) * w + x - 1]};
                    int nb = 0, tr = 0;
                    for (int k = 0; k < 8; k++) {
                        nb += p[k];
                        tr += !p[k] && p[(k + 1) % 8];
                    }
                    if (nb < 2 || nb > 6 || tr != 1)
                        continue;
                    if (pass == 0 ? (p[0] && p[2] && p[4]) || (p[2] && p[4] && p[6])
                                  : (p[0] && p[2] && p[6]) || (p[0] && p[4] && p[6]))
                        continue;
                    mark[y * w + x] = 1;
                }
            for (int i = 0; i < w * h; i++)
                if (mark[i]) {
                    b[i] = 0;
                    changed = 1;
                }
        }
    }
}

/* How strokes are drawn: MNIST's own strokes scaled, or the digit's skeleton retraced with a pen
 * of a given radius (a fine pen stays 1-2 px wide however large the digit). */
struct pen {
    int skeleton;
    float radius; /* pixels, when skeleton */
    float col[3], opacity;
};

/* Scratch for drawing one glyph: coverage and a binary mask of up to SIDE x SIDE. */
enum { SIDE = 400 };
struct glyph {
    float cov[SIDE * SIDE];
    uint8_t bin[SIDE * SIDE], mark[SIDE * SIDE];
};

/* Draws digit d (28x28) into sheet c with its ink hgt tall and its top-left near (x, y), turned
 * by ang and slanted by shear; ink pixels (coverage > 0.4) get id in ids. Returns the digit's
 * width on the sheet, or -1 when it does not fit the scratch. */
static int draw_digit(struct canvas *c, int16_t *ids, int16_t id, const uint8_t *d, float x,
                      float y, float hgt, float ang, float shear, const struct pen *pen,
                      struct glyph *g)
{
    int bx0 = 28, by0 = 28, bx1 = -1, by1 = -1;
    for (int rr = 0; rr < 28; rr++)
        for (int cc = 0; cc < 28; cc++)
            if (d[rr * 28 + cc] > 64) {
                bx0 = cc < bx0 ? cc : bx0, bx1 = cc > bx1 ? cc : bx1;
                by0 = rr < by0 ? rr : by0, by1 = rr > by1 ? rr : by1;
            }
    if (bx1 < 0)
        return -1;
    const float scale = hgt / (float)(by1 - by0 + 1);
    const float half_w = (bx1 - bx0 + 1) * scale / 2, half_h = hgt / 2;
    const int side = (int)(2 * (hypotf(half_w, half_h) + pen->radius + 4)) + 1;
    if (side > SIDE)
        return -1;
    const float cx = (bx0 + bx1 + 1) / 2.0f, cy = (by0 + by1 + 1) / 2.0f;
    const float ca = cosf(ang), sa = sinf(ang);
    for (int py = 0; py < side; py++)
        for (int px = 0; px < side; px++) {
            float dx = px + 0.5f - side / 2.0f, dy = py + 0.5f - side / 2.0f;
            dx -= shear * dy;
            const float sx = cx + (ca * dx + sa * dy) / scale - 0.5f;
            const float sy = cy + (-sa * dx + ca * dy) / scale - 0.5f;
            const float v = sample_digit(d, sx, sy);
            g->cov[py * side + px] = v;
            g->bin[py * side + px] = v > 0.45f;
        }
    if (pen->skeleton) {
        thin(g->bin, side, side, g->mark);
        for (int i = 0; i < side * side; i++)
            g->cov[i] = 0;
        const float rad = pen->radius;
        const int reach = (int)ceilf(rad + 1);
        for (int py = 0; py < side; py++)
            for (int px = 0; px < side; px++) {
                if (!g->bin[py * side + px])
                    continue;
                for (int yy = py - reach; yy <= py + reach; yy++)
                    for (int xx = px - reach; xx <= px + reach; xx++) {
                        if (xx < 0 || yy < 0 || xx >= side || yy >= side)
                            continue;
                        const float dd = hypotf((float)(xx - px), (float)(yy - py));
                        const float a = clampf(rad + 0.5f - dd, 0, 1);
                        float *cv = &g->cov[yy * side + xx];
                        *cv = a > *cv ? a : *cv;
                    }
            }
    }
    const int ox = (int)(x + half_w - side / 2.0f), oy = (int)(y + half_h - side / 2.0f);
    for (int py = 0; py < side; py++)
        for (int px = 0; px < side; px++) {
            const float v = g->cov[py * side + px];
            const int X = ox + px, Y = oy + py;
            if (v <= 0 || X < 0 || Y < 0 || X >= c->w || Y >= c->h)
                continue;
            blend(c, X, Y, pen->col, pen->opacity * v);
            if (v > 0.4f)
                ids[(size_t)Y * c->w + X] = id;
        }
    return (int)(2 * half_w + 0.5f);
}

/* A handwritten symbol between numbers: + - x = / ( ) : . , made of pen strokes, hgt tall at
 * (x, y). Returns its width. */
static float draw_symbol(struct canvas *c, float x, float y, float hgt, const struct pen *pen,
                         struct dg_rng *r)
{
    const float rad = pen->skeleton ? pen->radius : fmaxf(1.0f, hgt * 0.06f);
    const float s = hgt * urand(r, 0.35f, 0.6f), my = y + hgt * urand(r, 0.4f, 0.6f);
    const float j = hgt * 0.04f;
    switch (dg_rng_below(r, 9)) {
    case 0: /* + */
        capsule(c, x, my + urand(r, -j, j), x + s, my + urand(r, -j, j), rad, pen->col,
                pen->opacity);
        capsule(c, x + s / 2, my - s / 2, x + s / 2 + urand(r, -j, j), my + s / 2, rad, pen->col,
                pen->opacity);
        return s;
    case 1: /* - */
        capsule(c, x, my, x + s, my + urand(r, -j, j), rad, pen->col, pen->opacity);
        return s;
    case 2: /* x */
        capsule(c, x, my - s / 2, x + s, my + s / 2, rad, pen->col, pen->opacity);
        capsule(c, x + s, my - s / 2, x, my + s / 2, rad, pen->col, pen->opacity);
        return s;
    case 3: /* = */
        capsule(c, x, my - s / 4, x + s, my - s / 4 + urand(r, -j, j), rad, pen->col, pen->opacity);
        capsule(c, x, my + s / 4, x + s, my + s / 4 + urand(r, -j, j), rad, pen->col, pen->opacity);
        return s;
    case 4: /* / */
        capsule(c, x, y + hgt, x + hgt * 0.45f, y, rad, pen->col, pen->opacity);
        return hgt * 0.45f;
    case 5: /* ( or ) as three strokes of an arc */
    case 6: {
        const float sign = dg_rng_below(r, 2) ? 1.0f : -1.0f, bow = hgt * 0.15f;
        float px = x + (sign > 0 ? bow : 0), py = y - hgt * 0.05f;
        for (int k = 1; k <= 6; k++) {
            const float t = k / 6.0f;
            const float nx = x + (sign > 0 ? bow : 0) - sign * bow * sinf(3.14159f * t);
            const float ny = y - hgt * 0.05f + t * hgt * 1.1f;
            capsule(c, px, py, nx, ny, rad, pen->col, pen->opacity);
            px = nx, py = ny;
        }
        return bow;
    }
    case 7: /* : */
        ellipse(c, x + rad, my - s / 3, rad * 1.3f, rad * 1.3f, 0, pen->col, pen->opacity);
        ellipse(c, x + rad, my + s / 3, rad * 1.3f, rad * 1.3f, 0, pen->col, pen->opacity);
        return 2 * rad;
    default: /* . or , */
        capsule(c, x, y + hgt * 0.92f, x - rad, y + hgt * 1.05f, rad * 1.3f, pen->col,
                pen->opacity);
        return 2 * rad;
    }
}

/* ---- printed words -------------------------------------------------------------------------- */

struct font {
    stbtt_fontinfo info;
    unsigned char *data;
};

static const char *const WORDS[] = {
    "Total",  "Name",   "Date",   "No.",    "Room", "Page",   "Price", "Order", "Invoice",
    "Amount", "Sum",    "Phone",  "Code",   "Ref",  "Item",   "Qty",   "Score", "Class",
    "Tel",    "ID",     "Exam",   "Answer", "Box",  "Lot",    "the",   "and",   "of",
    "for",    "with",   "Please", "write",  "your", "number", "here",  "below", "Signed",
    "Check",  "Level",  "Zone",   "Seat",   "Ilse", "loose",  "Sol",   "Bigg",  "log",
    "quiz",   "Zoe",    "lol",    "SOS",    "OIL",  "boil",   "Iago",  "gig",   "bull",
    "Lisbon", "Oslo",   "ABC",    "XYZ",    "Q&A",  "e-mail", "www",   "%",     "#",
    "@",      "Monday", "Friday", "Street", "City", "TOTAL",  "PAID",  "DUE",   "NOTE",
};

static int font_load(const char *path, struct font *f)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    const long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->data = malloc((size_t)n);
    if (!f->data || fread(f->data, 1, (size_t)n, fp) != (size_t)n ||
        !stbtt_InitFont(&f->info, f->data, stbtt_GetFontOffsetForIndex(f->data, 0))) {
        fclose(fp);
        free(f->data);
        return -1;
    }
    fclose(fp);
    return 0;
}

/* Prints text with its cap height about hgt at (x, y) (top-left); returns its width. */
static float draw_text(struct canvas *c, const struct font *f, const char *text, float x, float y,
                       float hgt, const float col[3], float opacity)
{
    const float scale = stbtt_ScaleForPixelHeight(&f->info, hgt * 1.4f);
    int ascent;
    stbtt_GetFontVMetrics(&f->info, &ascent, NULL, NULL);
    const float base = y + ascent * scale * 0.93f;
    float pen_x = x;
    for (const char *p = text; *p; p++) {
        int adv, lsb, x0, y0, x1, y1;
        stbtt_GetCodepointHMetrics(&f->info, *p, &adv, &lsb);
        stbtt_GetCodepointBitmapBox(&f->info, *p, scale, scale, &x0, &y0, &x1, &y1);
        int gw, gh, xo, yo;
        unsigned char *bm =
            stbtt_GetCodepointBitmap(&f->info, scale, scale, *p, &gw, &gh, &xo, &yo);
        if (bm) {
            for (int yy = 0; yy < gh; yy++)
                for (int xx = 0; xx < gw; xx++)
                    blend(c, (int)pen_x + xo + xx, (int)base + yo + yy, col,
                          opacity * bm[yy * gw + xx] / 255.0f);
            stbtt_FreeBitmap(bm, NULL);
        }
        pen_x += adv * scale;
        if (p[1])
            pen_x += scale * stbtt_GetCodepointKernAdvance(&f->info, p[0], p[1]);
    }
    return pen_x - x;
}

/* ---- the scene --------------------------------------------------------------------------------
 */

enum sheet_kind { WHITE, RULED, SQUARED, STICKY, WHITEBOARD, CHALKBOARD, FULL, N_KINDS };
static const char *const KIND_NAMES[N_KINDS] = {"white",      "ruled",      "squared", "sticky",
                                                "whiteboard", "chalkboard", "full"};

struct truth {
    int n_d, n_n;
    int label[MAX_DIGITS];
    int box[MAX_DIGITS][4]; /* in the frame; x0, y0, x1, y1 while accumulating */
    int ignore[MAX_DIGITS];
    int first[MAX_NUMBERS], count[MAX_NUMBERS];
};

struct world {
    const struct data_set *mnist;
    int *by_label[10], n_label[10];
    const struct photo *photos;
    int n_photos;
    const struct font *fonts;
    int n_fonts;
    struct glyph *glyph;
    int wide_spacing; /* --spacing wide: writers' habits from tight to wide (spacing_habit) */
};

/* With --spacing wide, a number's gap between digits, as a share of the digit height, around
 * which its digits are spaced: half the numbers by tight writers (a slight overlap to 0.25), half
 * by wide ones (0.35-0.85); and the gap after a number: 0.6 heights or more, but always 2.5 times
 * the wider habit of the two numbers beside it, so a person still tells them apart by their
 * spacing where a fixed threshold cannot. By default (the worlds of 2026-12-03 on) habits run from
 * a slight overlap to 0.35 and numbers stand 1.1-3 heights apart. */
static float spacing_habit(struct dg_rng *r)
{
    return chance(r, 0.5f) ? urand(r, -0.02f, 0.25f) : urand(r, 0.35f, 0.85f);
}

static float wide_number_gap(struct dg_rng *r, float habit, float next_habit)
{
    const float wider = fmaxf(fmaxf(habit, next_habit), 0.0f);
    return fmaxf(urand(r, 0.6f, 2.5f), 2.5f * (wider + 0.08f) + 0.1f);
}

/* The sheet's paper, ink and pen for one scene. */
static void choose_look(enum sheet_kind kind, struct dg_rng *r, float paper[3], struct pen *pen)
{
    const float b = urand(r, 200, 250);
    paper[0] = b * urand(r, 0.96f, 1.02f), paper[1] = b * urand(r, 0.96f, 1.02f);
    paper[2] = b * urand(r, 0.9f, 1.02f);
    if (kind == STICKY) {
        static const float notes[4][3] = {
            {250, 235, 120}, {250, 190, 200}, {170, 220, 245}, {190, 240, 170}};
        memcpy(paper, notes[dg_rng_below(r, 4)], 3 * sizeof(float));
    } else if (kind == CHALKBOARD) {
        const float g = urand(r, 25, 60);
        paper[0] = g * 0.8f, paper[1] = g * urand(r, 1.0f, 1.4f), paper[2] = g * 0.9f;
    }
    const float u = dg_rng_uniform(r);
    pen->skeleton = u < 0.55f;
    pen->radius = u < 0.25f   ? urand(r, 0.5f, 1.2f)
                  : u < 0.45f ? urand(r, 1.2f, 2.5f)
                              : urand(r, 2.5f, 6.0f);
    pen->opacity = urand(r, 0.8f, 1.0f);
    if (kind == CHALKBOARD) {
        const float v = urand(r, 190, 245);
        pen->col[0] = v, pen->col[1] = v, pen->col[2] = v * urand(r, 0.9f, 1.0f);
        pen->opacity = urand(r, 0.6f, 0.95f);
        return;
    }
    static const float inks[6][3] = {{20, 20, 25},  {25, 35, 120}, {30, 30, 80},
                                     {150, 25, 25}, {20, 90, 40},  {90, 90, 95}};
    const int ink = (int)dg_rng_below(r, kind == WHITEBOARD ? 5 : 6);
    memcpy(pen->col, inks[ink], sizeof pen->col);
    if (ink == 5) /* pencil: faint and fine */
        pen->opacity = urand(r, 0.55f, 0.8f), pen->skeleton = 1, pen->radius = urand(r, 0.6f, 1.3f);
}

/* Writes the sheet's content: rows of numbers (1-6 digits), symbols and printed words between
 * them, or for an empty scene words and symbols only. Truth digits are numbered from 1 in ids. */
/* Rows never cross: bottom[x] is the lowest the ink of the rows written so far reaches in sheet
 * column x, and a row (height hgt, slope, from x_start) starts `space` below it everywhere along
 * its length. A writer's lines drift and tilt, but no one writes a number through another. */
static float row_top(const float *bottom, int w, float x_start, float slope, float space)
{
    float y = 0.0f;
    for (int x = (int)x_start; x < w; x++)
        y = fmaxf(y, bottom[x] - slope * ((float)x - x_start));
    return y + space;
}

static void row_done(float *bottom, int w, float x_start, float x_end, float y, float slope,
                     float hgt)
{
    for (int x = (int)x_start; x < w && (float)x <= x_end; x++)
        bottom[x] = fmaxf(bottom[x], y + slope * ((float)x - x_start) + hgt * 1.25f);
}

static void write_sheet(const struct world *wd, struct canvas *s, int16_t *ids, struct truth *t,
                        const struct pen *pen0, int empty, int max_numbers, float max_h,
                        struct dg_rng *r)
{
    const float margin = fmaxf(8.0f, s->w * 0.04f);
    const int sparse = max_numbers < MAX_NUMBERS;
    float *bottom = malloc((size_t)s->w * sizeof *bottom);
    if (!bottom)
        return;
    const float top = margin + urand(r, 0, s->h * (sparse ? 0.6f : 0.1f));
    for (int x = 0; x < s->w; x++)
        bottom[x] = top;
    const float print_col[3] = {urand(r, 10, 60), urand(r, 10, 60), urand(r, 10, 60)};
    for (int row = 0; t->n_n < max_numbers; row++) {
        /* a digit height: log-uniform from 12 px (20 px for the one or two numbers a sheet held
         * up to the camera carries) to max_h */
        const float lo = sparse ? 20.0f : 12.0f, hi = fmaxf(lo + 1, max_h);
        float hgt = expf(urand(r, logf(lo), logf(hi)));
        const float slope = urand(r, -0.08f, 0.08f) * (chance(r, 0.3f) ? 2.0f : 1.0f);
        float x = margin + urand(r, 0, s->w * 0.15f);
        const float x_start = x;
        const float y =
            row_top(bottom, s->w, x_start, slope, row ? hgt * urand(r, 0.45f, 1.4f) : 0);
        if (y + hgt * 1.3f > s->h - margin)
            break;
        const int printed_row = empty || (!sparse && chance(r, 0.2f));
        struct pen pen = *pen0;
        if (!pen.skeleton ||
            pen.radius > hgt * 0.08f) /* small digits are written with finer pens: a marker
                                       * that fills an 8's loops makes a blob, not a digit */
            pen.radius = fminf(pen.radius, fmaxf(0.6f, hgt * 0.08f));
        float habit = wd->wide_spacing ? spacing_habit(r) : 0.0f; /* the next number's */
        while (x < s->w - margin - hgt) {
            const float yb = y + slope * (x - x_start);
            if (printed_row || chance(r, 0.12f)) { /* printed words */
                const struct font *f = &wd->fonts[dg_rng_below(r, (uint32_t)wd->n_fonts)];
                char text[64];
                snprintf(text, sizeof text, "%s%s",
                         WORDS[dg_rng_below(r, sizeof WORDS / sizeof *WORDS)],
                         chance(r, 0.3f) ? ":" : "");
                const float th = hgt * urand(r, 0.35f, 0.8f);
                if (x + th * strlen(text) > s->w - margin)
                    break;
                x += draw_text(s, f, text, x, yb + hgt - th, th, print_col, 1.0f);
                x += hgt * urand(r, 0.3f, 1.0f);
                continue;
            }
            if (empty)
                break;
            if (chance(r, 0.15f)) { /* a handwritten symbol, well apart from numbers */
                x += draw_symbol(s, x, yb, hgt, &pen, r) + hgt * urand(r, 0.4f, 0.9f);
                continue;
            }
            /* a number */
            const int len = 1 + (int)dg_rng_below(r, 6);
            if (x + len * hgt * 0.9f > s->w - margin || t->n_d + len > MAX_DIGITS)
                break;
            const int first = t->n_d;
            const float gap_mean = wd->wide_spacing ? habit : urand(r, -0.02f, 0.35f);
            const float shear = urand(r, -0.3f, 0.3f);
            for (int k = 0; k < len; k++) {
                const int label = (int)dg_rng_below(r, 10);
                const int idx = wd->by_label[label][dg_rng_below(r, (uint32_t)wd->n_label[label])];
                const float hh = hgt * urand(r, 0.88f, 1.12f);
                const float yy = y + slope * (x - x_start) + hgt * urand(r, -0.07f, 0.07f);
                const int wdt =
                    draw_digit(s, ids, (int16_t)(t->n_d + 1), wd->mnist->images + (size_t)idx * 784,
                               x, yy, hh, urand(r, -0.15f, 0.15f), shear, &pen, wd->glyph);
                if (wdt < 0)
                    break;
                t->label[t->n_d] = label;
                t->ignore[t->n_d] = 0;
                t->n_d++;
                /* touching pairs now and then; otherwise gaps around the number's own habit */
                const float gap = chance(r, 0.08f) && gap_mean < 0.35f
                                      ? -hgt * urand(r, 0.0f, 0.08f)
                                      : hgt * clampf(gap_mean + 0.08f * gauss(r), 0.02f,
                                                     gap_mean < 0.35f ? 0.45f : 1.0f);
                x += wdt + gap;
            }
            if (t->n_d > first) {
                t->first[t->n_n] = first;
                t->count[t->n_n] = t->n_d - first;
                t->n_n++;
            }
            if (wd->wide_spacing) {
                const float next_habit = spacing_habit(r);
                x += hgt * wide_number_gap(r, habit, next_habit);
                habit = next_habit;
            } else {
                x += hgt * urand(r, 1.1f, 3.0f);
            }
            if (t->n_n == max_numbers)
                break;
        }
        row_done(bottom, s->w, x_start, x, y, slope, hgt);
    }
    free(bottom);
}

/* Ruled or squared lines, a sticky note's or board's edge, into the sheet. */
static void rule_sheet(struct canvas *s, enum sheet_kind kind, struct dg_rng *r)
{
    if (kind != RULED && kind != SQUARED)
        return;
    const int step = (int)urand(r, 14, 40);
    const float lc[3] = {urand(r, 110, 170), urand(r, 140, 190), urand(r, 190, 230)};
    const float a = urand(r, 0.3f, 0.6f);
    for (int y = step; y < s->h; y += step)
        for (int x = 0; x < s->w; x++)
            blend(s, x, y, lc, a);
    if (kind == SQUARED)
        for (int x = step; x < s->w; x += step)
            for (int y = 0; y < s->h; y++)
                blend(s, x, y, lc, a);
    if (kind == RULED && chance(r, 0.5f)) { /* a red margin line */
        const int mx = (int)(s->w * urand(r, 0.08f, 0.15f));
        for (int y = 0; y < s->h; y++)
            blend(s, mx, y, (const float[3]){220, 90, 90}, 0.6f);
    }
}

/* A hand reaching in from the frame's edge, perhaps holding a pen, drawn into the frame; occ marks
 * what it covers. */
static void draw_hand(struct canvas *c, uint8_t *occ, struct dg_rng *r)
{
    struct canvas m = {c->w, c->h, NULL};
    if (canvas_init(&m, c->w, c->h))
        return;
    const float tone = dg_rng_uniform(r); /* from dark brown to pale */
    const float skin[3] = {90 + 145 * tone, 58 + 137 * tone, 42 + 128 * tone};
    const float one[3] = {255, 255, 255};
    const int side = (int)dg_rng_below(r, 4);
    float ex, ey; /* where the arm enters */
    switch (side) {
    case 0: ex = urand(r, 0, W), ey = H + 20; break;
    case 1: ex = W + 20, ey = urand(r, 0, H); break;
    case 2: ex = -20, ey = urand(r, 0, H); break;
    default: ex = urand(r, 0, W), ey = -20; break;
    }
    const float hx = urand(r, W * 0.15f, W * 0.85f), hy = urand(r, H * 0.15f, H * 0.85f);
    const float sz = urand(r, 35, 75);
    const float ang = atan2f(hy - ey, hx - ex);
    capsule(&m, ex, ey, hx, hy, sz * 0.8f, one, 1);
    ellipse(&m, hx, hy, sz * 1.1f, sz * 0.9f, ang, one, 1);
    for (int f = 0; f < 4; f++) {
        const float fa = ang + (f - 1.5f) * 0.3f, fl = sz * urand(r, 1.3f, 1.9f);
        const float bx = hx + cosf(fa) * sz * 0.8f, by = hy + sinf(fa) * sz * 0.8f;
        capsule(&m, bx, by, bx + cosf(fa) * fl, by + sinf(fa) * fl, sz * 0.2f, one, 1);
    }
    /* a soft shadow first, then the skin */
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            const int sx = x - 12, sy = y - 15;
            if (sx >= 0 && sy >= 0 && sx < c->w && sy < c->h) {
                const float a = m.px[((size_t)sy * c->w + sx) * 3] / 255.0f;
                float *p = c->px + ((size_t)y * c->w + x) * 3;
                for (int k = 0; k < 3; k++)
                    p[k] *= 1.0f - 0.35f * a;
            }
        }
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            const float a = m.px[((size_t)y * c->w + x) * 3] / 255.0f;
            if (a <= 0)
                continue;
            const float shade = 0.8f + 0.2f * sinf(x * 0.05f + y * 0.03f);
            const float col[3] = {skin[0] * shade, skin[1] * shade, skin[2] * shade};
            blend(c, x, y, col, a);
            occ[(size_t)y * c->w + x] = 1;
        }
    if (chance(r, 0.6f)) { /* a pen in the hand */
        const float pa = ang + urand(r, -0.6f, 0.6f), pl = sz * urand(r, 2, 3.5f);
        const float px = hx + cosf(pa) * sz, py = hy + sinf(pa) * sz;
        const float col[3] = {urand(r, 10, 200), urand(r, 10, 200), urand(r, 10, 200)};
        capsule(c, px - cosf(pa) * pl * 0.5f, py - sinf(pa) * pl * 0.5f, px + cosf(pa) * pl * 0.5f,
                py + sinf(pa) * pl * 0.5f, urand(r, 3, 6), col, 1);
        const float x0 = px - cosf(pa) * pl * 0.5f - 8, y0 = py - sinf(pa) * pl * 0.5f - 8;
        for (int y = (int)y0 - 200; y < (int)y0 + 200; y++)
            for (int x = (int)x0 - 200; x < (int)x0 + 200; x++)
                if (x >= 0 && y >= 0 && x < c->w && y < c->h) {
                    const float u = (x + 0.5f - px) * cosf(pa) + (y + 0.5f - py) * sinf(pa);
                    const float v = -(x + 0.5f - px) * sinf(pa) + (y + 0.5f - py) * cosf(pa);
                    if (fabsf(u) < pl * 0.5f + 8 && fabsf(v) < 8)
                        occ[(size_t)y * c->w + x] = 1;
                }
    }
    free(m.px);
}

/* Light across the frame (a gradient and a soft shadow), defocus, noise: rgb becomes px. */
static void camera(struct canvas *c, uint8_t *px, struct dg_rng *r)
{
    const float gdir = urand(r, 0, 6.2832f), gamt = urand(r, 0.0f, 0.45f);
    const float shx = urand(r, 0, W), shy = urand(r, 0, H), shr = urand(r, 60, 300);
    const float shd = chance(r, 0.5f) ? urand(r, 0.1f, 0.45f) : 0.0f;
    const float vig = urand(r, 0, 0.35f);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const float g = ((x - W / 2) * cosf(gdir) + (y - H / 2) * sinf(gdir)) / (W / 2);
            const float r2 = ((x - shx) * (x - shx) + (y - shy) * (y - shy)) / (shr * shr);
            const float d2 = ((x - W / 2.0f) * (x - W / 2.0f) + (y - H / 2.0f) * (y - H / 2.0f)) /
                             (W * W / 4.0f + H * H / 4.0f);
            const float light = (1 - gamt * (g + 1) / 2) * (1 - shd * expf(-r2)) * (1 - vig * d2);
            for (int k = 0; k < 3; k++)
                c->px[((size_t)y * W + x) * 3 + k] *= light;
        }
    const int blur = (int)dg_rng_below(r, 3); /* 0, 1 or 2 passes of a 3x3 box */
    float *tmp = malloc((size_t)W * H * 3 * sizeof *tmp);
    for (int pass = 0; tmp && pass < blur; pass++) {
        memcpy(tmp, c->px, (size_t)W * H * 3 * sizeof *tmp);
        for (int y = 1; y < H - 1; y++)
            for (int x = 1; x < W - 1; x++)
                for (int k = 0; k < 3; k++) {
                    float a = 0;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                            a += tmp[((size_t)(y + dy) * W + x + dx) * 3 + k];
                    c->px[((size_t)y * W + x) * 3 + k] = a / 9;
                }
    }
    free(tmp);
    const float sigma = urand(r, 1.0f, 7.0f);
    for (size_t i = 0; i < (size_t)W * H * 3; i++) {
        const float v = c->px[i] + sigma * gauss(r);
        px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
    }
}

/* The kind of sheet in a scene. */
static enum sheet_kind choose_kind(struct dg_rng *r)
{
    const float u = dg_rng_uniform(r);
    return u < 0.3f    ? WHITE
           : u < 0.47f ? RULED
           : u < 0.59f ? SQUARED
           : u < 0.7f  ? STICKY
           : u < 0.79f ? WHITEBOARD
           : u < 0.86f ? CHALKBOARD
                       : FULL;
}

/* How a sheet lies in the frame: its size in its own pixels, and the homographies from the sheet
 * to the frame (hs) and back (hi). */
struct placement {
    float w, h;
    double hs[9], hi[9];
};

/* A size for a sheet of this kind, turned up to 25 degrees (a full-frame sheet barely), its
 * centre mostly in view, its corners moved for perspective. -1 for a degenerate quad. */
static int place_sheet(enum sheet_kind kind, struct dg_rng *r, struct placement *pl)
{
    float sw, sh;
    if (kind == STICKY) {
        sw = sh = urand(r, 160, 380);
    } else if (kind == FULL) {
        sw = W * urand(r, 1.05f, 1.3f), sh = H * urand(r, 1.05f, 1.3f);
    } else {
        sw = urand(r, 260, kind == WHITEBOARD || kind == CHALKBOARD ? 900 : 700);
        sh = sw * (chance(r, 0.5f) ? 1.414f : 0.707f);
        if (sh > 1000)
            sh = 1000;
    }
    const float ang = kind == FULL ? urand(r, -0.05f, 0.05f) : urand(r, -0.44f, 0.44f);
    const float cx = kind == FULL ? W / 2.0f : urand(r, W * 0.25f, W * 0.75f);
    const float cy = kind == FULL ? H / 2.0f : urand(r, H * 0.25f, H * 0.75f);
    const float persp = kind == FULL ? 0.02f : urand(r, 0.0f, 0.12f);
    float src[4][2] = {{0, 0}, {sw, 0}, {sw, sh}, {0, sh}}, dst[4][2];
    for (int i = 0; i < 4; i++) {
        const float dx = src[i][0] - sw / 2, dy = src[i][1] - sh / 2;
        dst[i][0] = cx + dx * cosf(ang) - dy * sinf(ang) + urand(r, -persp, persp) * sw;
        dst[i][1] = cy + dx * sinf(ang) + dy * cosf(ang) + urand(r, -persp, persp) * sh;
    }
    pl->w = sw, pl->h = sh;
    return homography(src, dst, pl->hs) || homography(dst, src, pl->hi) ? -1 : 0;
}

/* Paper of colour paper with a slight grain (coarser on a chalkboard). */
static void paint_paper(struct canvas *sheet, enum sheet_kind kind, const float paper[3],
                        struct dg_rng *r)
{
    for (size_t i = 0; i < (size_t)sheet->w * sheet->h; i++) {
        const float tex = 1.0f + 0.02f * gauss(r) * (kind == CHALKBOARD ? 3 : 1);
        for (int k = 0; k < 3; k++)
            sheet->px[i * 3 + k] = paper[k] * tex;
    }
}

/* The sheet into the frame through pl, after its shadow on the desk below and beside it; each
 * truth digit's box becomes the frame pixels its ink (ids) lands on (x1 < 0: none). */
static void lay_sheet(struct canvas *frame, const struct canvas *sheet, const int16_t *ids,
                      const struct placement *pl, enum sheet_kind kind, struct truth *t,
                      struct dg_rng *r)
{
    for (int i = 0; i < t->n_d; i++)
        t->box[i][0] = W, t->box[i][1] = H, t->box[i][2] = -1, t->box[i][3] = -1;
    const float sdx = urand(r, -10, 10), sdy = urand(r, 0, 14), sdark = urand(r, 0.15f, 0.5f);
    for (int y = 0; y < H && kind != FULL; y++)
        for (int x = 0; x < W; x++) {
            double su, sv;
            apply_h(pl->hi, x + 0.5 - sdx, y + 0.5 - sdy, &su, &sv);
            if (su >= 0 && sv >= 0 && su < pl->w && sv < pl->h)
                for (int k = 0; k < 3; k++)
                    frame->px[((size_t)y * W + x) * 3 + k] *= 1 - sdark;
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double su, sv;
            apply_h(pl->hi, x + 0.5, y + 0.5, &su, &sv);
            /* coverage of the sheet's edge, anti-aliased over a pixel */
            const float inside =
                clampf((float)fmin(fmin(su, pl->w - su), fmin(sv, pl->h - sv)) + 0.5f, 0, 1);
            if (inside <= 0)
                continue;
            float col[3];
            sample_rgb(sheet, (float)su, (float)sv, col);
            blend(frame, x, y, col, inside);
            const int iu = (int)su, iv = (int)sv;
            const int id = iu >= 0 && iv >= 0 && iu < sheet->w && iv < sheet->h
                               ? ids[(size_t)iv * sheet->w + iu]
                               : 0;
            if (id > 0) {
                int *b = t->box[id - 1];
                b[0] = x < b[0] ? x : b[0], b[1] = y < b[1] ? y : b[1];
                b[2] = x > b[2] ? x : b[2], b[3] = y > b[3] ? y : b[3];
            }
        }
}

/* A digit is expected only when all its ink on the sheet lands inside the frame (2 px in):
 * the rest are marked ignore. */
static void mark_cut_digits(struct truth *t, const struct canvas *sheet, const int16_t *ids,
                            const struct placement *pl)
{
    int on_sheet[MAX_DIGITS][4]; /* each digit's ink box on the sheet */
    for (int i = 0; i < t->n_d; i++)
        on_sheet[i][0] = sheet->w, on_sheet[i][1] = sheet->h, on_sheet[i][2] = -1,
        on_sheet[i][3] = -1;
    for (int v = 0; v < sheet->h; v++)
        for (int u = 0; u < sheet->w; u++) {
            const int id = ids[(size_t)v * sheet->w + u];
            if (id <= 0)
                continue;
            int *b = on_sheet[id - 1];
            b[0] = u < b[0] ? u : b[0], b[1] = v < b[1] ? v : b[1];
            b[2] = u > b[2] ? u : b[2], b[3] = v > b[3] ? v : b[3];
        }
    for (int i = 0; i < t->n_d; i++) {
        const int *b = on_sheet[i];
        int in = b[2] >= 0 && t->box[i][2] >= 0;
        for (int k = 0; k < 4 && in; k++) {
            double fx, fy;
            apply_h(pl->hs, (k & 1 ? b[2] + 1 : b[0]), (k & 2 ? b[3] + 1 : b[1]), &fx, &fy);
            in = fx >= 2 && fy >= 2 && fx <= W - 2 && fy <= H - 2;
        }
        t->ignore[i] = !in;
    }
}

/* Digits with any pixel of their box under the hand (occ) are marked ignore. */
static void mark_covered_digits(struct truth *t, const uint8_t *occ)
{
    for (int i = 0; i < t->n_d; i++) {
        const int *b = t->box[i];
        for (int y = b[1]; y <= b[3] && !t->ignore[i]; y++)
            for (int x = b[0]; x <= b[2] && !t->ignore[i]; x++)
                t->ignore[i] = occ[(size_t)y * W + x] != 0;
    }
}

/* One scene into frame (W x H RGB) and t: background and objects, a sheet with its writing laid
 * over them, perhaps a hand. */
static void render(const struct world *wd, struct canvas *frame, uint8_t *occ, struct truth *t,
                   enum sheet_kind *kind_out, int *empty_out, int *sparse_out, struct dg_rng *r)
{
    memset(t, 0, sizeof *t);
    memset(occ, 0, (size_t)W * H);
    draw_background(frame, wd->photos, wd->n_photos, r);
    if (chance(r, 0.6f))
        draw_objects(frame, r);
    const enum sheet_kind kind = choose_kind(r);
    const int empty = chance(r, 0.12f);
    /* a sheet with just one or two numbers on it, the way one is held up to a camera */
    const int sparse = !empty && chance(r, 0.2f);
    *kind_out = kind;
    *empty_out = empty;
    *sparse_out = sparse;
    struct placement pl;
    struct canvas sheet = {0};
    int16_t *ids = NULL;
    if (place_sheet(kind, r, &pl) || canvas_init(&sheet, (int)pl.w, (int)pl.h) ||
        !(ids = calloc((size_t)sheet.w * sheet.h, sizeof *ids))) {
        free(sheet.px);
        return;
    }
    float paper[3];
    struct pen pen;
    choose_look(kind, r, paper, &pen);
    paint_paper(&sheet, kind, paper, r);
    rule_sheet(&sheet, kind, r);
    /* digits up to a third of the frame, but not taller than a third of the sheet */
    const float max_h = fminf(H / 3.0f, pl.h / 3.0f) * (!sparse && chance(r, 0.6f) ? 0.5f : 1.0f);
    write_sheet(wd, &sheet, ids, t, &pen, empty, sparse ? 1 + (int)dg_rng_below(r, 2) : MAX_NUMBERS,
                max_h, r);
    lay_sheet(frame, &sheet, ids, &pl, kind, t, r);
    mark_cut_digits(t, &sheet, ids, &pl);
    free(ids);
    free(sheet.px);
    if (chance(r, 0.3f))
        draw_hand(frame, occ, r);
    mark_covered_digits(t, occ);
}

/* One line of truth.jsonl for the scene in image name: its digits (boxes x, y, w, h) and its
 * numbers (the union of their digits' boxes; ignored when any of their digits is). */
static void write_truth(FILE *f, const char *name, enum sheet_kind kind, int empty, int sparse,
                        const struct truth *t)
{
    fprintf(f,
            "{\"image\": \"%s\", \"width\": %d, \"height\": %d, \"kind\": \"%s\", \"empty\": "
            "%s, \"digits\": [",
            name, W, H, sparse ? "sparse" : KIND_NAMES[kind], empty ? "true" : "false");
    for (int i = 0; i < t->n_d; i++) {
        const int *b = t->box[i];
        fprintf(f, "%s{\"digit\": %d, \"box\": [%d, %d, %d, %d]%s}", i ? ", " : "", t->label[i],
                b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1,
                t->ignore[i] ? ", \"ignore\": true" : "");
    }
    fprintf(f, "], \"numbers\": [");
    for (int i = 0; i < t->n_n; i++) {
        int x0 = W, y0 = H, x1 = -1, y1 = -1, ign = 0;
        fprintf(f, "%s{\"text\": \"", i ? ", " : "");
        for (int k = 0; k < t->count[i]; k++) {
            const int d = t->first[i] + k;
            fputc('0' + t->label[d], f);
            const int *b = t->box[d];
            ign |= t->ignore[d];
            x0 = b[0] < x0 ? b[0] : x0, y0 = b[1] < y0 ? b[1] : y0;
            x1 = b[2] > x1 ? b[2] : x1, y1 = b[3] > y1 ? b[3] : y1;
        }
        fprintf(f, "\", \"box\": [%d, %d, %d, %d]%s}", x0, y0, x1 - x0 + 1, y1 - y0 + 1,
                ign ? ", \"ignore\": true" : "");
    }
    fprintf(f, "]}\n");
}

int main(int argc, char **argv)
{
    int wide_spacing = 0;
    if (argc > 2 && !strcmp(argv[1], "--spacing")) {
        if (strcmp(argv[2], "wide")) {
            fprintf(stderr, "worldgen: --spacing takes wide, not '%s'\n", argv[2]);
            return 2;
        }
        wide_spacing = 1;
        argv += 2, argc -= 2;
    }
    if (argc < 6) {
        fprintf(stderr,
                "usage: worldgen [--spacing wide] OUTDIR N SEED MNIST_DIR train|t10k PHOTO...\n");
        return 2;
    }
    const char *out = argv[1], *split = argv[5];
    char *end;
    const long n_scenes = strtol(argv[2], &end, 10);
    if (*end || n_scenes < 1 || n_scenes > 100000) {
        fprintf(stderr, "worldgen: N is a whole number from 1 to 100000, not '%s'\n", argv[2]);
        return 2;
    }
    const unsigned long seed = strtoul(argv[3], &end, 10);
    if (*end || !*argv[3]) {
        fprintf(stderr, "worldgen: SEED is a whole number, not '%s'\n", argv[3]);
        return 2;
    }
    if (strcmp(split, "t10k") && strcmp(split, "train")) {
        fprintf(stderr, "worldgen: SPLIT is t10k or train, not '%s'\n", split);
        return 2;
    }
    struct data_set s;
    if (data_mnist_load(argv[4], split, &s) != DG_OK) {
        fprintf(stderr, "worldgen: %s\n", dg_errmsg());
        return 1;
    }
    static struct photo photos[MAX_PHOTOS];
    int n_photos = 0;
    const int report = !strcmp(split, "t10k");
    for (int i = 6; i < argc && n_photos < MAX_PHOTOS; i++) {
        if (((i - 6) % 4 == 3) != report) /* every fourth photograph only for report scenes */
            continue;
        if (photo_load(argv[i], &photos[n_photos]) == 0)
            n_photos++;
        else
            fprintf(stderr, "worldgen: skipping %s (cannot decode it)\n", argv[i]);
    }
    static const char *const FONTS[] = {
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    };
    static struct font fonts[4];
    int n_fonts = 0;
    for (int i = 0; i < 4; i++)
        if (font_load(FONTS[i], &fonts[n_fonts]) == 0)
            n_fonts++;
    if (n_fonts == 0) {
        fprintf(stderr, "worldgen: no DejaVu font (install fonts-dejavu-core)\n");
        return 1;
    }
    struct world wd = {.mnist = &s,
                       .photos = photos,
                       .n_photos = n_photos,
                       .fonts = fonts,
                       .n_fonts = n_fonts,
                       .wide_spacing = wide_spacing};
    for (int d = 0; d < 10; d++) {
        wd.by_label[d] = malloc((size_t)s.n * sizeof(int));
        wd.n_label[d] = 0;
    }
    for (int i = 0; i < s.n; i++)
        wd.by_label[s.labels[i]][wd.n_label[s.labels[i]]++] = i;
    wd.glyph = malloc(sizeof *wd.glyph);
    mkdir(out, 0755);
    char path[4096], truth_path[4096], tmp_path[4200];
    snprintf(truth_path, sizeof truth_path, "%s/truth.jsonl", out);
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", truth_path);
    FILE *truth = fopen(tmp_path, "w");
    struct canvas frame;
    uint8_t *px = malloc((size_t)W * H * 3), *occ = malloc((size_t)W * H);
    struct truth *t = malloc(sizeof *t);
    if (!truth || !wd.glyph || canvas_init(&frame, W, H) || !px || !occ || !t) {
        fprintf(stderr, "worldgen: cannot write %s or out of memory\n", tmp_path);
        return 1;
    }
    struct dg_rng rng;
    dg_rng_seed(&rng, seed * 0x9e3779b97f4a7c15ULL + (report ? 7 : 3));
    for (int sc = 0; sc < n_scenes; sc++) {
        enum sheet_kind kind = WHITE;
        int empty = 0, sparse = 0;
        render(&wd, &frame, occ, t, &kind, &empty, &sparse, &rng);
        camera(&frame, px, &rng);
        const int jpeg = chance(&rng, 0.75f);
        char name[64];
        snprintf(name, sizeof name, "world_%04d.%s", sc, jpeg ? "jpg" : "png");
        snprintf(path, sizeof path, "%s/%s", out, name);
        FILE *f = fopen(path, "wb");
        if (!f ||
            !(jpeg ? stbi_write_jpg_to_func(write_to_file, f, W, H, 3, px, (int)urand(&rng, 55, 92))
                   : stbi_write_png_to_func(write_to_file, f, W, H, 3, px, W * 3))) {
            fprintf(stderr, "worldgen: cannot write %s\n", path);
            return 1;
        }
        fclose(f);
        write_truth(truth, name, kind, empty, sparse, t);
    }
    if (fclose(truth) != 0 || rename(tmp_path, truth_path) != 0) {
        fprintf(stderr, "worldgen: cannot write %s\n", truth_path);
        return 1;
    }
    printf("wrote %ld scenes (%d photographs) and truth.jsonl to %s\n", n_scenes, n_photos, out);
    for (int i = 0; i < n_photos; i++)
        free(photos[i].px);
    for (int i = 0; i < n_fonts; i++)
        free(fonts[i].data);
    for (int d = 0; d < 10; d++)
        free(wd.by_label[d]);
    free(wd.glyph), free(frame.px), free(px), free(occ), free(t);
    data_set_free(&s);
    return 0;
}
