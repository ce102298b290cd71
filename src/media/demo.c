/* demo.c - the built-in demo scene: handwritten MNIST digits written as numbers on a sheet of
 * faintly ruled paper lying on a desk. The paper drifts, the light changes, the sensor is noisy,
 * and every few seconds a new set of numbers appears. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"

enum { MAX_ROWS = 4, MAX_PER_ROW = 3, MAX_DIGITS = 5, SCENE_SECONDS = 4 };

struct media_demo {
    int w, h;
    double fps;
    uint64_t seed;
    const uint8_t *digits, *labels;
    int n_digits;
    int pw, ph;    /* paper size in pixels */
    uint8_t *ink;  /* pw x ph ink coverage of the current scene, 0..255 */
    int64_t scene; /* which scene ink holds (-1: none) */
    char truth[256];
};

int media_demo_new(const struct media_source_config *cfg, int w, int h, struct media_demo **out)
{
    if (w < 64 || h < 48 || w > MEDIA_MAX_SIDE || h > MEDIA_MAX_SIDE)
        return dg_fail(DG_EARG, "demo size %dx%d is out of range (64x48 to %dx%d)", w, h,
                       MEDIA_MAX_SIDE, MEDIA_MAX_SIDE);
    if (!cfg->demo_digits || !cfg->demo_labels || cfg->n_demo_digits < 10)
        return dg_fail(DG_EARG, "the demo needs at least 10 sample digits");
    struct media_demo *d = calloc(1, sizeof *d);
    if (!d)
        return dg_fail(DG_ENOMEM, "out of memory");
    d->w = w;
    d->h = h;
    d->fps = cfg->fps > 0 ? cfg->fps : 30.0;
    d->seed = cfg->seed;
    d->digits = cfg->demo_digits;
    d->labels = cfg->demo_labels;
    d->n_digits = cfg->n_demo_digits;
    d->pw = w * 9 / 10;
    d->ph = h * 9 / 10;
    d->ink = malloc((size_t)d->pw * d->ph);
    if (!d->ink) {
        free(d);
        return dg_fail(DG_ENOMEM, "out of memory");
    }
    d->scene = -1;
    *out = d;
    return DG_OK;
}

void media_demo_free(struct media_demo *d)
{
    if (!d)
        return;
    free(d->ink);
    free(d);
}

const char *media_demo_truth(const struct media_demo *d)
{
    return d->truth;
}

/* Draws 28x28 digit g scaled to s x s at (x0, y0) of the ink map, bilinear, keeping the darker. */
static void draw_digit(struct media_demo *d, const uint8_t *g, int x0, int y0, int s)
{
    for (int y = 0; y < s; y++) {
        const int py = y0 + y;
        if (py < 0 || py >= d->ph)
            continue;
        const float fy = (y + 0.5f) * 28.0f / s - 0.5f;
        const int iy = (int)floorf(fy);
        const float ay = fy - iy;
        for (int x = 0; x < s; x++) {
            const int px = x0 + x;
            if (px < 0 || px >= d->pw)
                continue;
            const float fx = (x + 0.5f) * 28.0f / s - 0.5f;
            const int ix = (int)floorf(fx);
            const float ax = fx - ix;
            float v = 0;
            for (int j = 0; j < 2; j++)
                for (int i = 0; i < 2; i++) {
                    const int sx = ix + i, sy = iy + j;
                    if (sx < 0 || sy < 0 || sx > 27 || sy > 27)
                        continue;
                    v += g[sy * 28 + sx] * (i ? ax : 1 - ax) * (j ? ay : 1 - ay);
                }
            uint8_t *p = &d->ink[(size_t)py * d->pw + px];
            if (v > *p)
                *p = (uint8_t)(v + 0.5f);
        }
    }
}

/* A new set of numbers: 2 to 4 rows, 1 to 3 numbers of 1 to MAX_DIGITS digits each. */
static void compose(struct media_demo *d, int64_t scene)
{
    struct dg_rng rng;
    dg_rng_seed(&rng, d->seed * 0x9e3779b97f4a7c15ull + (uint64_t)scene + 1);
    memset(d->ink, 0, (size_t)d->pw * d->ph);
    d->truth[0] = 0;
    size_t used = 0;
    /* rows far enough apart for the labels drawn above and below the digits */
    const int n_rows = 2 + (int)dg_rng_below(&rng, 2);
    const int row_h = d->ph / n_rows;
    for (int r = 0; r < n_rows; r++) {
        /* digit cell size: MNIST digits fill about 20 of their 28 pixels */
        const int s = (int)(row_h * (0.55f + 0.2f * dg_rng_uniform(&rng)));
        const int step = s * 9 / 16; /* MNIST digits are about 0.6 of their cell wide */
        int x = d->pw / 16 + (int)dg_rng_below(&rng, (uint32_t)(d->pw / 10 + 1));
        const int y = r * row_h + (row_h - s) / 2 + row_h / 10;
        const int n_numbers = 1 + (int)dg_rng_below(&rng, MAX_PER_ROW);
        for (int k = 0; k < n_numbers; k++) {
            const int len = 1 + (int)dg_rng_below(&rng, MAX_DIGITS - 1);
            if (x + len * step + s / 4 > d->pw - d->pw / 16)
                break;
            if (used + MAX_DIGITS + 2 < sizeof d->truth && used)
                d->truth[used++] = ' ';
            for (int i = 0; i < len; i++) {
                const uint32_t pick = dg_rng_below(&rng, (uint32_t)d->n_digits);
                const int jitter = (int)dg_rng_below(&rng, (uint32_t)(s / 10 + 1)) - s / 20;
                draw_digit(d, d->digits + (size_t)pick * 784, x, y + jitter, s);
                if (used + 1 < sizeof d->truth)
                    d->truth[used++] = (char)('0' + d->labels[pick]);
                x += step;
            }
            d->truth[used] = 0;
            x += s * 5 / 4 + (int)dg_rng_below(&rng, (uint32_t)(s / 2 + 1));
        }
    }
    d->scene = scene;
}

static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

void media_demo_render(struct media_demo *d, int64_t index, uint8_t *rgb)
{
    const double t = (double)index / d->fps;
    const int64_t scene = (int64_t)(t / SCENE_SECONDS);
    if (scene != d->scene)
        compose(d, scene);
    /* the paper drifts a little, its light swings from side to side, a soft shadow passes */
    const int ox = (d->w - d->pw) / 2 + (int)lround(0.03 * d->w * sin(t * 0.9));
    const int oy = (d->h - d->ph) / 2 + (int)lround(0.02 * d->h * sin(t * 1.3 + 1.0));
    const float lx = (float)(0.5 + 0.4 * sin(t * 0.5)), ly = (float)(0.4 + 0.3 * cos(t * 0.37));
    const float shadow_x = (float)(d->w * (0.5 + 0.6 * sin(t * 0.23)));
    const int rule = d->ph / 12 > 8 ? d->ph / 12 : 8;
    uint32_t noise = hash32((uint32_t)index * 2654435761u + (uint32_t)d->seed);
    for (int y = 0; y < d->h; y++) {
        uint8_t *row = rgb + (size_t)y * d->w * 3;
        const float dy = (float)y / d->h - ly;
        for (int x = 0; x < d->w; x++) {
            const int px = x - ox, py = y - oy;
            const float dx = (float)x / d->w - lx;
            float light = 1.0f - 0.45f * (dx * dx + dy * dy);
            const float sd = fabsf((float)x - shadow_x) / (0.15f * d->w);
            if (sd < 1.0f)
                light -= 0.18f * (1.0f - sd * sd);
            float r, g, b;
            if (px < 0 || py < 0 || px >= d->pw || py >= d->ph) {
                r = 95, g = 70, b = 50; /* the desk */
            } else {
                r = 238, g = 234, b = 222; /* slightly warm paper */
                if (py % rule == rule - 1) /* faint blue rule */
                    r = 200, g = 212, b = 236;
                const float a = d->ink[(size_t)py * d->pw + px] / 255.0f;
                r = r * (1 - a) + 25 * a;
                g = g * (1 - a) + 30 * a;
                b = b * (1 - a) + 70 * a; /* blue-black ink */
            }
            noise = noise * 1664525u + 1013904223u;
            const float n = (float)((noise >> 24) & 15) - 7.5f;
            const float v[3] = {r * light + n, g * light + n, b * light + n};
            for (int c = 0; c < 3; c++)
                row[3 * x + c] = (uint8_t)(v[c] < 0 ? 0 : v[c] > 255 ? 255 : v[c]);
        }
    }
}
