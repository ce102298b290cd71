/* toolutil.h - what the scene generators (scenegen.c, worldgen.c) share: random numbers in a
 * range and roughly Gaussian, a bilinear sample of a 28x28 MNIST digit, and a FILE sink for
 * stb_image_write. Header-only; tools only, never the library. */
#ifndef TOOLUTIL_H
#define TOOLUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "dg.h"

static inline float urand(struct dg_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * dg_rng_uniform(r);
}

/* The sum of 12 uniforms less 6: mean 0, deviation 1, within +-6. */
static inline float gauss(struct dg_rng *r)
{
    float s = 0;
    for (int i = 0; i < 12; i++)
        s += dg_rng_uniform(r);
    return s - 6.0f;
}

/* Bilinear sample of a 28x28 digit at (sx, sy) in its own pixel coordinates, 0..1 (0 outside). */
static inline float sample_digit(const uint8_t *d, float sx, float sy)
{
    const int x0 = (int)floorf(sx), y0 = (int)floorf(sy);
    const float fx = sx - x0, fy = sy - y0;
    float v = 0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            const int x = x0 + dx, y = y0 + dy;
            if (x >= 0 && x < 28 && y >= 0 && y < 28)
                v += (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) * d[y * 28 + x] / 255.0f;
        }
    return v;
}

/* stb_image_write's callback: ctx is the FILE* to append to. */
static inline void write_to_file(void *ctx, void *data, int size)
{
    fwrite(data, 1, (size_t)size, (FILE *)ctx);
}

#endif
