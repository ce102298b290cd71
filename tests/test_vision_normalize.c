/* test_vision_normalize.c - image loading to grey (formats, polarity, errors) and the MNIST
 * normalisation against hand-computed boxes and centres of mass. */
#define _DEFAULT_SOURCE
#include "testutil.h"
#include "vis.h"

#include <unistd.h>
#include <zlib.h>

/* Centre of mass of a 28x28 image in pixel-centre coordinates. */
static void com(const float *x, double *cx, double *cy)
{
    double m = 0, sx = 0, sy = 0;
    for (int y = 0; y < 28; y++)
        for (int xx = 0; xx < 28; xx++) {
            m += x[y * 28 + xx];
            sx += x[y * 28 + xx] * (xx + 0.5);
            sy += x[y * 28 + xx] * (y + 0.5);
        }
    *cx = sx / m;
    *cy = sy / m;
}

static void box(const float *x, int *x0, int *y0, int *x1, int *y1)
{
    *x0 = *y0 = 28;
    *x1 = *y1 = -1;
    for (int y = 0; y < 28; y++)
        for (int xx = 0; xx < 28; xx++)
            if (x[y * 28 + xx] > 0.0f) {
                *x0 = xx < *x0 ? xx : *x0;
                *x1 = xx > *x1 ? xx : *x1;
                *y0 = y < *y0 ? y : *y0;
                *y1 = y > *y1 ? y : *y1;
            }
}

static void test_from_ink_square(void **state)
{
    (void)state;
    /* A solid 40x40 block far off-centre in a 100x60 ink map: becomes a solid 20x20 block whose
     * centre of mass (10, 10 inside the block) lands on (14, 14): block at 4..23. */
    uint8_t ink[60 * 100] = {0};
    for (int y = 5; y < 45; y++)
        for (int x = 50; x < 90; x++)
            ink[y * 100 + x] = 255;
    float out[784];
    assert_int_equal(vis_mnist_from_ink(ink, 100, 60, 100, out), DG_OK);
    int x0, y0, x1, y1;
    box(out, &x0, &y0, &x1, &y1);
    assert_int_equal(x0, 4);
    assert_int_equal(x1, 23);
    assert_int_equal(y0, 4);
    assert_int_equal(y1, 23);
    assert_true(fabsf(out[10 * 28 + 10] - 1.0f) < 1e-5f);
}

/* A 7 drawn with a fine pen (1 px) 300 px tall: scaled to 20 px its strokes would be 0.07 of a
 * pixel, a faint smear; they are brought up to a full-strength line two or three pixels wide,
 * as MNIST's pen made them. A stroke of normal width is left alone (the solid block above). */
static void test_from_ink_fine_pen(void **state)
{
    (void)state;
    enum { W = 240, H = 300 };
    static uint8_t ink[W * H];
    memset(ink, 0, sizeof ink);
    for (int x = 20; x < 220; x++) /* the bar */
        ink[10 * W + x] = 255;
    for (int y = 10; y < 290; y++) /* the stem, slanting down to the left */
        ink[y * W + 219 - (y - 10) * 150 / 280] = 255;
    float out[784];
    assert_int_equal(vis_mnist_from_ink(ink, W, H, W, out), DG_OK);
    float mx = 0.0f;
    int strong = 0;
    for (int i = 0; i < 784; i++) {
        mx = out[i] > mx ? out[i] : mx;
        strong += out[i] > 0.5f;
    }
    print_message("fine pen: max %.2f, %d pixels over 0.5\n", (double)mx, strong);
    assert_true(mx > 0.9f);
    assert_true(strong >= 60 && strong <= 160); /* about two px wide along ~50 px of stroke */
}

static void test_from_ink_aspect_and_mass(void **state)
{
    (void)state;
    /* A 10 wide x 40 tall bar: scaled to 5 x 20 (aspect kept). Its top half is twice as dark
     * as the bottom half, so the centre of mass sits above the middle and the bar is placed
     * lower: hand computation: in the 20-row box the mass centre is at row
     * (10*1*5 + 10*0.5*15)/(10*1 + 10*0.5) = 125/15 = 8.33 -> offset round(14 - 8.33) = 6. */
    uint8_t ink[50 * 30] = {0};
    for (int y = 5; y < 45; y++)
        for (int x = 10; x < 20; x++)
            ink[y * 30 + x] = y < 25 ? 255 : 128;
    float out[784];
    assert_int_equal(vis_mnist_from_ink(ink, 30, 50, 30, out), DG_OK);
    int x0, y0, x1, y1;
    box(out, &x0, &y0, &x1, &y1);
    assert_int_equal(x1 - x0 + 1, 5);
    assert_int_equal(y1 - y0 + 1, 20);
    assert_int_equal(y0, 6);
    assert_int_equal(x0, 12); /* centre 2.5 -> round(14 - 2.5) = 12 (11.5 rounds away from 0) */
    double cx, cy;
    com(out, &cx, &cy);
    assert_true(fabs(cx - 14.0) <= 0.5 && fabs(cy - 14.0) <= 0.5);
}

static void test_area_average_preserves_mass(void **state)
{
    (void)state;
    /* A 60x60 checkerboard of 2-px cells, shrunk by 3: every output pixel mixes on and off
     * cells (4/9 or 5/9 of it is ink), so area averaging gives about half intensity. */
    uint8_t ink[60 * 60];
    for (int y = 0; y < 60; y++)
        for (int x = 0; x < 60; x++)
            ink[y * 60 + x] = ((x / 2 + y / 2) % 2) ? 255 : 0;
    float out[784];
    assert_int_equal(vis_mnist_from_ink(ink, 60, 60, 60, out), DG_OK);
    double sum = 0;
    for (int i = 0; i < 784; i++)
        sum += out[i];
    assert_true(fabs(sum - 200.0) < 8.0); /* 400 pixels at ~0.5 */
    for (int y = 5; y < 23; y++)
        for (int x = 5; x < 23; x++)
            assert_true(out[y * 28 + x] > 0.4f && out[y * 28 + x] < 0.6f);
}

/* Area averaging by definition, in doubles: output (j, x) of an ow x oh grid over a bw x bh
 * image is the mean of the image over its cell, each pixel weighted by its overlap. */
static double naive_cell(const uint8_t *ink, int bw, int bh, int ow, int oh, int x, int j)
{
    const double rx = (double)bw / ow, ry = (double)bh / oh;
    const double ax = x * rx, bx = (x + 1) * rx, ay = j * ry, by = (j + 1) * ry;
    double sum = 0.0;
    for (int y = (int)ay; y < bh && y < by; y++)
        for (int i = (int)ax; i < bw && i < bx; i++) {
            const double wx = fmin(i + 1, bx) - fmax(i, ax), wy = fmin(y + 1, by) - fmax(y, ay);
            sum += wx * wy * ink[(size_t)y * bw + i];
        }
    return sum / (rx * ry);
}

/* Both ways the normaliser averages (columns first up to 2048 px wide, rows first beyond) against
 * the definition, on ink with no paper inside (so the crop is the whole image and every output of
 * the scaled box is non-zero), at ratios that are not whole numbers. */
/* Grey from packed pixels in each layout (RGB, BGR, RGBA, BGRA; padded rows, an odd width) equals
 * Rec. 601 written out per pixel, in the order of operations the file loader uses; every red and
 * green level meets several blues. The layouts have loops of their own (vectorised). */
static void test_grey_from_pixels_every_layout(void **state)
{
    (void)state;
    enum { W = 255, H = 256 };
    const size_t pad = 7;
    static const int layouts[4][3] = {{3, 0, 2}, {3, 2, 0}, {4, 0, 2}, {4, 2, 0}}; /* bpp r b */
    for (int k = 0; k < 4; k++) {
        const int bpp = layouts[k][0], r_at = layouts[k][1], b_at = layouts[k][2];
        const size_t stride = (size_t)W * bpp + pad;
        uint8_t *px = malloc(stride * H), *grey = malloc((size_t)W * H);
        assert_non_null(px);
        assert_non_null(grey);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *p = px + (size_t)y * stride + (size_t)x * bpp;
                p[r_at] = (uint8_t)x, p[1] = (uint8_t)y, p[b_at] = (uint8_t)(x * 7 + y * 13);
                if (bpp == 4)
                    p[3] = (uint8_t)(x ^ y);
            }
        vis_grey_from_pixels(px, stride, W, H, bpp, r_at, b_at, grey);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const float v = 0.299f * (float)x + 0.587f * (float)y +
                                0.114f * (float)(uint8_t)(x * 7 + y * 13);
                const float g = v * 255.0f / 255.0f + 0.5f;
                const uint8_t want = (uint8_t)(g > 255.0f ? 255.0f : g);
                if (grey[(size_t)y * W + x] != want)
                    fail_msg("layout %d: pixel (%d, %d) is %d, not %d", k, x, y,
                             grey[(size_t)y * W + x], want);
            }
        free(px);
        free(grey);
    }
}

/* The video frames' grey (the live window's RGB, the browser's RGBA): the integer weights
 * (77, 150, 29)/256 rounded, alpha ignored, on every pixel of a padded frame. */
static void test_grey_from_video_rgb_and_rgba(void **state)
{
    (void)state;
    enum { W = 257, H = 256 };
    for (int bpp = 3; bpp <= 4; bpp++) {
        const size_t stride = (size_t)W * bpp + 5;
        uint8_t *px = malloc(stride * H), *grey = malloc((size_t)W * H);
        assert_non_null(px);
        assert_non_null(grey);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *p = px + (size_t)y * stride + (size_t)x * bpp;
                p[0] = (uint8_t)x, p[1] = (uint8_t)(255 - y), p[2] = (uint8_t)(x * 5 + y * 11);
                if (bpp == 4)
                    p[3] = (uint8_t)(x * y);
            }
        vis_grey_from_rgb(px, stride, W, H, bpp, grey);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const int want =
                    (77 * (x & 255) + 150 * (255 - y) + 29 * (uint8_t)(x * 5 + y * 11) + 128) >> 8;
                if (grey[(size_t)y * W + x] != want)
                    fail_msg("bpp %d: pixel (%d, %d) is %d, not %d", bpp, x, y,
                             grey[(size_t)y * W + x], want);
            }
        free(px);
        free(grey);
    }
}

static void test_area_average_equals_definition(void **state)
{
    (void)state;
    static const int sizes[][2] = {{137, 91}, {33, 250}, {2100, 427}, {3001, 181}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int bw = sizes[s][0], bh = sizes[s][1];
        uint8_t *ink = malloc((size_t)bw * bh);
        assert_non_null(ink);
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++)
                ink[(size_t)y * bw + x] =
                    (uint8_t)(40 + (x * 7 + y * 13 + (x / 9) * (y / 5)) % 216);
        float out[784];
        assert_int_equal(vis_mnist_from_ink(ink, bw, bh, (size_t)bw, out), DG_OK);
        const int big = bw > bh ? bw : bh;
        const int ow = (int)lround(20.0 * bw / big), oh = (int)lround(20.0 * bh / big);
        int x0, y0, x1, y1;
        box(out, &x0, &y0, &x1, &y1);
        assert_int_equal(x1 - x0 + 1, ow);
        assert_int_equal(y1 - y0 + 1, oh);
        for (int j = 0; j < oh; j++)
            for (int x = 0; x < ow; x++) {
                const double want = naive_cell(ink, bw, bh, ow, oh, x, j) / 255.0;
                assert_true(fabs(out[(y0 + j) * 28 + x0 + x] - want) < 1e-5);
            }
        free(ink);
    }
}

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/dg_test_vis_%d.png", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

/* Draws a "1"-like vertical stroke in a w x h picture, ink dark or light, as RGB. */
static void write_stroke_png(int w, int h, int dark_ink, int with_gradient)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int paper = dark_ink ? 220 - (with_gradient ? x * 40 / w : 0) : 30;
            int v = paper;
            if (x >= w / 2 - w / 16 && x <= w / 2 + w / 16 && y >= h / 5 && y < 4 * h / 5)
                v = dark_ink ? 40 : 230;
            rgb[((size_t)y * w + x) * 3 + 0] = (uint8_t)v;
            rgb[((size_t)y * w + x) * 3 + 1] = (uint8_t)v;
            rgb[((size_t)y * w + x) * 3 + 2] = (uint8_t)(v * 9 / 10);
        }
    assert_int_equal(vis_png_write(path, rgb, w, h, 3), DG_OK);
    free(rgb);
}

/* vis_image_shrink equals its definition, each pixel the rounded mean of its f x f block, the
 * rows and columns past the last whole block dropped; the output is reused at the same size and
 * reallocated at another; a factor past the image's size or under 1 is refused. */
static void test_shrink_equals_definition(void **state)
{
    (void)state;
    struct vis_image in, out = {0};
    assert_int_equal(vis_image_init(&in, 37, 23), DG_OK);
    for (int i = 0; i < 37 * 23; i++)
        in.px[i] = (uint8_t)((i * 97 + (i / 37) * 31) % 256);
    uint32_t sum[37];
    for (int f = 1; f <= 6; f++) {
        assert_int_equal(vis_image_shrink(&in, f, &out, sum), DG_OK);
        assert_int_equal(out.w, 37 / f);
        assert_int_equal(out.h, 23 / f);
        for (int y = 0; y < out.h; y++)
            for (int x = 0; x < out.w; x++) {
                int t = 0;
                for (int dy = 0; dy < f; dy++)
                    for (int dx = 0; dx < f; dx++)
                        t += in.px[(y * f + dy) * 37 + x * f + dx];
                assert_int_equal(out.px[y * out.w + x], (t + f * f / 2) / (f * f));
            }
    }
    const uint8_t *kept = out.px;
    assert_int_equal(vis_image_shrink(&in, 6, &out, sum), DG_OK);
    assert_ptr_equal(out.px, kept);
    assert_int_equal(vis_image_shrink(&in, 24, &out, sum), DG_EARG);
    assert_int_equal(vis_image_shrink(&in, 0, &out, sum), DG_EARG);
    assert_int_equal(out.w, 6); /* untouched by the refusals */
    vis_image_destroy(&in);
    vis_image_destroy(&out);
}

/* vis_image_enlarge against its definition computed in floating point (bilinear between pixel
 * centres, output pixel x sampling the input at (x + 0.5) / f - 0.5, clamped at the edges):
 * within one grey level everywhere; factor 1 copies; a flat image stays flat; each block's mean
 * stays close to the input pixel's (shrinking back is near the identity); factors under 1, over
 * 1024 or an empty image are refused. */
static float sample_at(const struct vis_image *in, float sx, float sy)
{
    sx = sx < 0.0f ? 0.0f : sx > (float)(in->w - 1) ? (float)(in->w - 1) : sx;
    sy = sy < 0.0f ? 0.0f : sy > (float)(in->h - 1) ? (float)(in->h - 1) : sy;
    const int x0 = (int)sx, y0 = (int)sy;
    const int x1 = x0 + 1 < in->w ? x0 + 1 : x0, y1 = y0 + 1 < in->h ? y0 + 1 : y0;
    const float fx = sx - (float)x0, fy = sy - (float)y0;
    const float top = in->px[y0 * in->w + x0] * (1 - fx) + in->px[y0 * in->w + x1] * fx;
    const float bot = in->px[y1 * in->w + x0] * (1 - fx) + in->px[y1 * in->w + x1] * fx;
    return top * (1 - fy) + bot * fy;
}

static void test_enlarge_equals_definition(void **state)
{
    (void)state;
    struct vis_image in, out = {0}, back = {0};
    assert_int_equal(vis_image_init(&in, 13, 7), DG_OK);
    for (int i = 0; i < 13 * 7; i++)
        in.px[i] = (uint8_t)((i * 97 + (i / 13) * 31) % 256);
    uint32_t sum[13 * 5];
    for (int f = 1; f <= 5; f++) {
        assert_int_equal(vis_image_enlarge(&in, f, &out), DG_OK);
        assert_int_equal(out.w, 13 * f);
        assert_int_equal(out.h, 7 * f);
        for (int y = 0; y < out.h; y++)
            for (int x = 0; x < out.w; x++) {
                const float want = sample_at(&in, (x + 0.5f) / f - 0.5f, (y + 0.5f) / f - 0.5f);
                assert_true(fabsf(out.px[y * out.w + x] - want) <= 1.0f);
            }
        if (f == 1)
            assert_memory_equal(out.px, in.px, 13 * 7);
        assert_int_equal(vis_image_shrink(&out, f, &back, sum), DG_OK);
        int far = 0;
        for (int i = 0; i < 13 * 7; i++)
            far += abs(back.px[i] - in.px[i]) > 64; /* bilinear smooths each pixel with its
                                                       neighbours: only sharp steps move far */
        assert_true(far < 13 * 7 / 2);
    }
    memset(in.px, 77, 13 * 7);
    assert_int_equal(vis_image_enlarge(&in, 3, &out), DG_OK);
    for (int i = 0; i < out.w * out.h; i++)
        assert_int_equal(out.px[i], 77);
    assert_int_equal(vis_image_enlarge(&in, 0, &out), DG_EARG);
    assert_int_equal(vis_image_enlarge(&in, 1025, &out), DG_EARG);
    struct vis_image empty = {0};
    assert_int_equal(vis_image_enlarge(&empty, 2, &out), DG_EARG);
    assert_int_equal(out.w, 39); /* untouched by the refusals */
    vis_image_destroy(&in);
    vis_image_destroy(&out);
    vis_image_destroy(&back);
}

/* vis_image_smooth against its definition (1 2 1 by 1 2 1 over 16, rounded, edge pixels held),
 * on odd sizes including a single row and a single column; a flat image stays flat. */
static void test_smooth_equals_definition(void **state)
{
    (void)state;
    const int sizes[4][2] = {{13, 7}, {1, 5}, {6, 1}, {1, 1}};
    for (int k = 0; k < 4; k++) {
        const int w = sizes[k][0], h = sizes[k][1];
        struct vis_image in, out = {0};
        uint16_t col[13];
        assert_int_equal(vis_image_init(&in, w, h), DG_OK);
        for (int i = 0; i < w * h; i++)
            in.px[i] = (uint8_t)((i * 97 + (i / w) * 31) % 256);
        assert_int_equal(vis_image_smooth(&in, &out, col), DG_OK);
        assert_int_equal(out.w, w);
        assert_int_equal(out.h, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int sum = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        const int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
                        const int xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
                        sum += (2 - abs(dx)) * (2 - abs(dy)) * in.px[yy * w + xx];
                    }
                assert_int_equal(out.px[y * w + x], (sum + 8) / 16);
            }
        memset(in.px, 77, (size_t)w * h);
        assert_int_equal(vis_image_smooth(&in, &out, col), DG_OK);
        for (int i = 0; i < w * h; i++)
            assert_int_equal(out.px[i], 77);
        vis_image_destroy(&in);
        vis_image_destroy(&out);
    }
    struct vis_image empty = {0}, out = {0};
    uint16_t col[1];
    assert_int_equal(vis_image_smooth(&empty, &out, col), DG_EARG);
}

/* vis_noise_share on paper with Gaussian noise of known sigma (a fixed seed), flat and with dark
 * strokes over a tenth of it (edges are not noise): within a fifth of sigma / paper; clean paper
 * and strokes give under 0.005; a dim frame's share is larger for the same sigma. */
static void test_noise_share(void **state)
{
    (void)state;
    enum { W = 320, H = 240 };
    struct vis_image img;
    assert_int_equal(vis_image_init(&img, W, H), DG_OK);
    const double sigmas[3] = {0.0, 4.0, 8.0};
    const int papers[2] = {200, 70};
    for (int pi = 0; pi < 2; pi++)
        for (int si = 0; si < 3; si++)
            for (int strokes = 0; strokes < 2; strokes++) {
                struct dg_rng rng;
                dg_rng_seed(&rng, 9);
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        double v = papers[pi];
                        if (strokes && x % 20 < 2) /* a stroke every 20 columns */
                            v *= 0.3;
                        /* Box-Muller from two uniforms */
                        const double u1 = dg_rng_uniform(&rng) + 1e-12, u2 = dg_rng_uniform(&rng);
                        v += sigmas[si] * sqrt(-2.0 * log(u1)) * cos(6.283185307 * u2);
                        img.px[y * W + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
                    }
                const float got = vis_noise_share(&img, NULL),
                            want = (float)(sigmas[si] / papers[pi]);
                if (sigmas[si] == 0.0)
                    assert_true(got < 0.005f);
                else if (fabsf(got - want) > 0.2f * want)
                    fail_msg("paper %d, sigma %.0f, strokes %d: share %.4f, want %.4f", papers[pi],
                             sigmas[si], strokes, got, want);
            }
    struct vis_image tiny = {0};
    assert_int_equal(vis_image_init(&tiny, 1, 1), DG_OK);
    assert_true(vis_noise_share(&tiny, NULL) == 0.0f);
    vis_image_destroy(&tiny);
    vis_image_destroy(&img);
}

/* vis_blur_share on a pattern of 3-7 px blocks of random grey: sharp 0.11; blurred by one, two
 * and three passes of vis_image_smooth, higher each time (0.27, 0.36, 0.415); smeared along its
 * rows only (a 7 px mean), still under 0.2 (its columns keep their edges); tiny images 0. */
static void test_blur_share(void **state)
{
    (void)state;
    enum { W = 240, H = 180 };
    struct vis_image img, a = {0}, b = {0};
    assert_int_equal(vis_image_init(&img, W, H), DG_OK);
    struct dg_rng rng;
    dg_rng_seed(&rng, 3);
    for (int y0 = 0; y0 < H;) {
        const int bh = 3 + (int)dg_rng_below(&rng, 5);
        for (int x0 = 0; x0 < W;) {
            const int bw = 3 + (int)dg_rng_below(&rng, 5);
            const uint8_t v = (uint8_t)(40 + dg_rng_below(&rng, 180));
            for (int y = y0; y < y0 + bh && y < H; y++)
                for (int x = x0; x < x0 + bw && x < W; x++)
                    img.px[y * W + x] = v;
            x0 += bw;
        }
        y0 += bh;
    }
    uint16_t col[W];
    float last = vis_blur_share(&img);
    assert_true(last < 0.2f);
    assert_int_equal(vis_image_smooth(&img, &a, col), DG_OK);
    for (int pass = 1; pass <= 3; pass++) {
        const float now = vis_blur_share(&a);
        assert_true(now > last + 0.04f);
        last = now;
        assert_int_equal(vis_image_smooth(&a, &b, col), DG_OK);
        memcpy(a.px, b.px, (size_t)W * H);
    }
    assert_true(last >= 0.38f);
    for (int y = 0; y < H; y++) /* smeared along rows */
        for (int x = 0; x < W; x++) {
            int sum = 0;
            for (int k = -3; k <= 3; k++)
                sum += img.px[y * W + (x + k < 0 ? 0 : x + k >= W ? W - 1 : x + k)];
            a.px[y * W + x] = (uint8_t)((sum + 3) / 7);
        }
    assert_true(vis_blur_share(&a) < 0.2f);
    struct vis_image tiny = {0};
    assert_int_equal(vis_image_init(&tiny, 15, 40), DG_OK);
    assert_true(vis_blur_share(&tiny) == 0.0f);
    vis_image_destroy(&tiny);
    vis_image_destroy(&a);
    vis_image_destroy(&b);
    vis_image_destroy(&img);
}

/* vis_border_polarity: a dark bar on light paper is dark ink, the same inverted light ink; a flat
 * image and a 1x1 one count as dark ink on paper (the ring is the whole picture). */
static void test_border_polarity(void **state)
{
    (void)state;
    struct vis_image img;
    assert_int_equal(vis_image_init(&img, 20, 30), DG_OK);
    memset(img.px, 220, 20 * 30);
    for (int y = 5; y < 25; y++)
        for (int x = 8; x < 12; x++)
            img.px[y * 20 + x] = 30;
    assert_int_equal(vis_border_polarity(&img), VIS_POLARITY_DARK_ON_LIGHT);
    for (int i = 0; i < 20 * 30; i++)
        img.px[i] = (uint8_t)(255 - img.px[i]);
    assert_int_equal(vis_border_polarity(&img), VIS_POLARITY_LIGHT_ON_DARK);
    memset(img.px, 90, 20 * 30);
    assert_int_equal(vis_border_polarity(&img), VIS_POLARITY_DARK_ON_LIGHT);
    vis_image_destroy(&img);
    assert_int_equal(vis_image_init(&img, 1, 1), DG_OK);
    assert_int_equal(vis_border_polarity(&img), VIS_POLARITY_DARK_ON_LIGHT);
    vis_image_destroy(&img);
}

/* vis_context_patch on a sheet (grey 200) with a dark 12x24 box (grey 40) at (54, 48): the square
 * is 72 px (3 x 24), 28 cells of 2.57 px; paper cells are 128, the box's cells 255 (ink side up),
 * the cells across its border between; the same sheet in light ink on dark gives the same patch;
 * a box at the frame's corner has its cells beyond the frame at 0; a flat image is all paper. */
static void test_context_patch(void **state)
{
    (void)state;
    struct vis_image g, inv;
    assert_int_equal(vis_image_init(&g, 160, 120), DG_OK);
    assert_int_equal(vis_image_init(&inv, 160, 120), DG_OK);
    for (int y = 0; y < g.h; y++)
        for (int x = 0; x < g.w; x++) {
            const int ink = x >= 54 && x < 66 && y >= 48 && y < 72;
            g.px[y * g.w + x] = ink ? 40 : 200;
            inv.px[y * g.w + x] = (uint8_t)(255 - g.px[y * g.w + x]);
        }
    uint8_t p[784], q[784];
    vis_context_patch(&g, 54, 48, 12, 24, p);
    vis_context_patch(&inv, 54, 48, 12, 24, q);
    assert_memory_equal(p, q, sizeof p);
    /* the square spans x 24..96, y 24..96: cell i covers x from
     * floor(24 + 2.57 i): the box fills cells 12-15 across, 10-18 down */
    assert_int_equal(p[0], 128);
    assert_int_equal(p[27 * 28 + 27], 128);
    assert_int_equal(p[5 * 28 + 14], 128);
    for (int j = 10; j < 18; j++)
        for (int i = 12; i < 16; i++)
            assert_int_equal(p[j * 28 + i], 255);
    assert_int_equal(p[14 * 28 + 11], 128);                      /* pixels 52-53: paper */
    assert_true(p[14 * 28 + 16] > 128 && p[14 * 28 + 16] < 255); /* 65-66: ink and paper */
    int paper = 0;
    for (int k = 0; k < 784; k++)
        paper += p[k] == 128;
    assert_true(paper > 700);

    /* at the corner: the square starts 30 px left of and 30 px above the frame */
    vis_context_patch(&g, 0, 0, 10, 20, p);
    assert_int_equal(p[0], 0);
    assert_int_equal(p[10 * 28 + 10], 0);
    assert_int_equal(p[27 * 28 + 27], 128);

    memset(g.px, 90, (size_t)g.w * g.h);
    vis_context_patch(&g, 54, 48, 12, 24, p);
    for (int k = 0; k < 784; k++)
        assert_int_equal(p[k], 128);
    vis_image_destroy(&g);
    vis_image_destroy(&inv);
}

static void test_load_and_normalize_both_polarities(void **state)
{
    (void)state;
    for (int dark = 0; dark < 2; dark++) {
        write_stroke_png(120, 90, dark, dark);
        struct vis_image img;
        assert_int_equal(vis_image_load(path, &img), DG_OK);
        assert_int_equal(img.w, 120);
        assert_int_equal(img.h, 90);
        float out[784];
        assert_int_equal(vis_mnist_normalize(&img, VIS_POLARITY_AUTO, out), DG_OK);
        /* White stroke on black: centre bright, corners black, stroke 20 tall. */
        assert_true(out[14 * 28 + 14] > 0.9f);
        assert_true(out[0] == 0.0f && out[27 * 28 + 27] == 0.0f);
        int x0, y0, x1, y1;
        box(out, &x0, &y0, &x1, &y1);
        assert_int_equal(y1 - y0 + 1, 20);
        /* 15 x 54 stroke -> 20 tall, 15 * 20 / 54 = 5.6 -> 6 wide (edge pixels partly inked) */
        assert_true(x1 - x0 + 1 >= 5 && x1 - x0 + 1 <= 7);
        vis_image_destroy(&img);
    }
}

static void test_blank_and_bad_files(void **state)
{
    (void)state;
    uint8_t grey[50 * 40];
    memset(grey, 200, sizeof grey);
    assert_int_equal(vis_png_write(path, grey, 50, 40, 1), DG_OK);
    struct vis_image img;
    assert_int_equal(vis_image_load(path, &img), DG_OK);
    float out[784];
    assert_int_equal(vis_mnist_normalize(&img, VIS_POLARITY_AUTO, out), DG_EARG);
    assert_non_null(strstr(dg_errmsg(), "no digit"));
    vis_image_destroy(&img);
    /* Truncated PNG */
    unsigned char *data;
    size_t n;
    assert_int_equal(dg_read_file(path, 1 << 20, &data, &n), DG_OK);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n / 2, f);
    fclose(f);
    free(data);
    struct vis_image bad = {0};
    assert_int_not_equal(vis_image_load(path, &bad), DG_OK);
    assert_null(bad.px);
    /* Not an image at all, and a missing file */
    f = fopen(path, "wb");
    fputs("hello, world", f);
    fclose(f);
    assert_int_equal(vis_image_load(path, &bad), DG_EFORMAT);
    assert_int_equal(vis_image_load("/nonexistent.png", &bad), DG_EIO);
    assert_non_null(strstr(dg_errmsg(), "No such file"));
    assert_int_equal(vis_image_load("/tmp", &bad), DG_EIO);
    assert_non_null(strstr(dg_errmsg(), "directory"));
    /* A PGM header claiming 100000 x 100000 pixels is refused before decoding. */
    f = fopen(path, "wb");
    fputs("P5\n100000 100000\n255\n", f);
    fclose(f);
    assert_int_not_equal(vis_image_load(path, &bad), DG_OK);
    assert_null(bad.px);
}

/* Writes n bytes of data to path. */
static void put_file(const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Writes the CRC of the IHDR chunk of PNG bytes png (type and 13 data bytes at 12..28). */
static void ihdr_crc(uint8_t *png)
{
    const uint32_t c = (uint32_t)crc32(0L, png + 12, 17);
    png[29] = (uint8_t)(c >> 24), png[30] = (uint8_t)(c >> 16), png[31] = (uint8_t)(c >> 8),
    png[32] = (uint8_t)c;
}

/* Files that end before their pixels do (stb_image fills the rest with zeros and says yes) and
 * formats whose decoder loops on a cut file are refused with a reason; whole files still load. */
static void test_cut_files_refused(void **state)
{
    (void)state;
    static uint8_t file[64 + 300 * 200 * 3];
    struct vis_image img = {0};
    /* a PGM header with no pixels, and one with half of them */
    const int hl = snprintf((char *)file, 64, "P5\n300 200\n255\n");
    memset(file + hl, 180, 300 * 200);
    put_file(file, (size_t)hl);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "cut short"));
    put_file(file, (size_t)hl + 300 * 100);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_null(img.px);
    put_file(file, (size_t)hl + 300 * 200);
    assert_int_equal(vis_image_load(path, &img), DG_OK);
    assert_int_equal(img.px[300 * 200 - 1], 180);
    vis_image_destroy(&img);
    /* a 24-bit BMP, whole and cut after its header */
    /* BITMAPFILEHEADER + BITMAPINFOHEADER, little-endian: 300 x 200, 24 bits, bottom-up */
    const uint32_t fields[][2] = {
        {2, 54 + 300 * 200 * 3}, {10, 54}, {14, 40}, {18, 300}, {22, 200}, {26, 1}, {28, 24}};
    memset(file, 0, 54);
    file[0] = 'B', file[1] = 'M';
    for (size_t k = 0; k < sizeof fields / sizeof *fields; k++) {
        const int wide = fields[k][0] != 26 && fields[k][0] != 28; /* planes, bits: 16-bit */
        for (int byte = 0; byte < (wide ? 4 : 2); byte++)
            file[fields[k][0] + byte] = (uint8_t)(fields[k][1] >> (8 * byte));
    }
    memset(file + 54, 90, 300 * 200 * 3);
    put_file(file, 54 + 300 * 200 * 3);
    assert_int_equal(vis_image_load(path, &img), DG_OK);
    vis_image_destroy(&img);
    /* the same stored top-down (negative height), with its first row dark: loads upright */
    const uint32_t down = (uint32_t)-200;
    for (int byte = 0; byte < 4; byte++)
        file[22 + byte] = (uint8_t)(down >> (8 * byte));
    memset(file + 54, 10, 300 * 3);
    put_file(file, 54 + 300 * 200 * 3);
    assert_int_equal(vis_image_load(path, &img), DG_OK);
    assert_int_equal(img.w, 300);
    assert_int_equal(img.h, 200);
    assert_true(img.px[5] < 20 && img.px[300 * 199 + 5] > 80);
    vis_image_destroy(&img);
    put_file(file, 54 + 100);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "cut short"));
    /* a PNG cut after 30 bytes: stb gives no reason; the message says what is wrong, not "()" */
    memset(file, 128, 64 * 48);
    assert_int_equal(vis_png_write(path, file, 64, 48, 1), DG_OK);
    FILE *pf = fopen(path, "rb");
    assert_non_null(pf);
    const size_t png_len = fread(file, 1, sizeof file, pf);
    fclose(pf);
    assert_true(png_len > 60);
    put_file(file, 30);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "cut short"));
    assert_null(strstr(dg_errmsg(), "()"));
    /* a 41-byte PNG header claiming 8192x8192 RGBA at 16 bits: 512 MB to decode, refused before
     * any allocation (it took 1.1 GB); the same at 8 bits grey would be 64 MB and is not refused
     * by size (it fails later, having no pixels) */
    uint8_t ihdr[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,    0,   0,   13,  'I', 'H',
                      'D',  'R', 0,   0,   0x20, 0,    0,    0,    0x20, 0,   16,  6,   0,   0,
                      0,    0,   0,   0,   0,    0,    0,    0,    0,    'I', 'E', 'N', 'D'};
    ihdr_crc(ihdr); /* libpng checks it before the size */
    put_file(ihdr, sizeof ihdr);
    assert_int_equal(vis_image_load(path, &img), DG_EARG);
    assert_non_null(strstr(dg_errmsg(), "512 MB to decode"));
    uint8_t grey8[sizeof ihdr];
    memcpy(grey8, ihdr, sizeof ihdr);
    grey8[24] = 8, grey8[25] = 0;
    ihdr_crc(grey8);
    put_file(grey8, sizeof grey8);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_null(strstr(dg_errmsg(), "to decode"));
    /* the same bytes from memory: the same picture, the same refusals */
    assert_int_equal(vis_image_load_mem(file, 30, "cut.png", &img), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "cut.png is cut short"));
    assert_int_equal(vis_image_load_mem(file, 0, "none", &img), DG_EFORMAT);
    put_file(file, png_len);
    struct vis_image from_file, from_mem;
    assert_int_equal(vis_image_load(path, &from_file), DG_OK);
    assert_int_equal(vis_image_load_mem(file, png_len, "whole.png", &from_mem), DG_OK);
    assert_int_equal(from_mem.w, 64);
    assert_int_equal(from_mem.h, 48);
    assert_memory_equal(from_file.px, from_mem.px, 64 * 48);
    vis_image_destroy(&from_file);
    vis_image_destroy(&from_mem);
    /* Radiance HDR: refused by name before stb's decoder can loop on it */
    const char hdr[] = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 8 +X 8\n";
    put_file(hdr, sizeof hdr - 1);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "HDR"));
}

static void test_draw_text(void **state)
{
    (void)state;
    uint8_t rgb[20 * 10 * 3] = {0};
    const uint8_t red[3] = {255, 0, 0};
    vis_draw_text(rgb, 20, 10, 1, 1, "1", 1, red);
    /* "1" glyph: middle column set on every row */
    for (int r = 0; r < 5; r++)
        assert_int_equal(rgb[((1 + r) * 20 + 2) * 3], 255);
    vis_draw_text(rgb, 20, 10, 18, 8, "888", 2, red); /* clipped, no crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_ink_square),
        cmocka_unit_test(test_from_ink_fine_pen),
        cmocka_unit_test(test_from_ink_aspect_and_mass),
        cmocka_unit_test(test_area_average_preserves_mass),
        cmocka_unit_test(test_area_average_equals_definition),
        cmocka_unit_test(test_shrink_equals_definition),
        cmocka_unit_test(test_enlarge_equals_definition),
        cmocka_unit_test(test_border_polarity),
        cmocka_unit_test(test_smooth_equals_definition),
        cmocka_unit_test(test_noise_share),
        cmocka_unit_test(test_blur_share),
        cmocka_unit_test(test_context_patch),
        cmocka_unit_test(test_grey_from_pixels_every_layout),
        cmocka_unit_test(test_grey_from_video_rgb_and_rgba),
        cmocka_unit_test_setup_teardown(test_load_and_normalize_both_polarities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blank_and_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_files_refused, setup, teardown),
        cmocka_unit_test(test_draw_text),
    };
    return cmocka_run_group_tests_name("vision_normalize", tests, NULL, NULL);
}
