/* test_data_augment.c - training distortions and robustness corruptions: identity when every
 * setting is off, reproducible per image whatever the thread count or batch order, values kept in
 * [0, 1], and the geometric corruptions measured on drawn shapes (a shift moves the centre of mass
 * by 5 px, a rotation turns a bar by 20-30 degrees, thickening adds ink and thinning removes it),
 * and the small views of a webcam's far digits (data_small_view).
 */
#include "data.h"
#include "testutil.h"

#ifdef _OPENMP
#include <omp.h>
#endif

enum { W = 28, H = 28, PX = W * H };

/* A filled rectangle of ink (value v) from (x0, y0) to (x1, y1) inclusive. */
static void draw_rect(float *img, int x0, int y0, int x1, int y1, float v)
{
    memset(img, 0, PX * sizeof *img);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            img[y * W + x] = v;
}

static double ink(const float *img)
{
    double s = 0;
    for (int i = 0; i < PX; i++)
        s += img[i];
    return s;
}

/* The box of the pixels above 0.05 (x1 = y1 = -1 without any). */
static void ink_box(const float *img, int *x0, int *y0, int *x1, int *y1)
{
    *x0 = W, *y0 = H, *x1 = -1, *y1 = -1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (img[y * W + x] > 0.05f) {
                *x0 = x < *x0 ? x : *x0, *x1 = x > *x1 ? x : *x1;
                *y0 = y < *y0 ? y : *y0, *y1 = y > *y1 ? y : *y1;
            }
}

static void moments(const float *img, double *cx, double *cy, double *angle_deg)
{
    double m = ink(img), sx = 0, sy = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            sx += x * img[y * W + x];
            sy += y * img[y * W + x];
        }
    *cx = sx / m;
    *cy = sy / m;
    double mxx = 0, myy = 0, mxy = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const double dx = x - *cx, dy = y - *cy, v = img[y * W + x];
            mxx += v * dx * dx;
            myy += v * dy * dy;
            mxy += v * dx * dy;
        }
    *angle_deg = 0.5 * atan2(2 * mxy, mxx - myy) * 180.0 / 3.14159265358979;
}

static void test_identity_when_off(void **state)
{
    (void)state;
    struct data_augment off = {.scale_min = 1, .scale_max = 1, .contrast_min = 1};
    struct dg_rng rng;
    dg_rng_seed(&rng, 1);
    float in[PX], out[PX];
    fill_uniform(in, PX, 0, 1, &rng);
    assert_int_equal(data_augment_image(out, in, W, H, -1, &off, &rng), DG_OK);
    assert_close(out, in, PX, 1e-5, 0);
    assert_int_equal(data_corrupt_image(out, in, W, H, DATA_CLEAN, &rng), DG_OK);
    assert_memory_equal(out, in, sizeof in);
}

static int ink_in(const float *img, int x0, int y0, int x1, int y1);

/* The robust recipe made styles-only (train --augment styles): no distortion is left, so an image
 * of a 0 comes out as it went in, while a 1 with p_style 1 still takes another writer's form and an
 * image with p_pen 1 a wider pen. */
static void test_styles_only(void **state)
{
    (void)state;
    struct data_augment a;
    data_augment_default(&a);
    data_augment_styles_only(&a);
    struct dg_rng rng;
    dg_rng_seed(&rng, 3);
    float in[PX], out[PX];
    fill_uniform(in, PX, 0, 1, &rng);
    assert_int_equal(data_augment_image(out, in, W, H, 0, &a, &rng), DG_OK);
    assert_close(out, in, PX, 1e-5, 0);
    memset(in, 0, sizeof in);
    draw_rect(in, 13, 4, 14, 23, 1.0f);
    a.p_style = 1.0f;
    assert_int_equal(data_augment_image(out, in, W, H, 1, &a, &rng), DG_OK);
    int x0, y0, x1, y1;
    ink_box(out, &x0, &y0, &x1, &y1);
    assert_true(x1 - x0 + 1 >= 4); /* the continental 1's up-stroke */
    a.p_style = 0.0f;
    a.p_pen = 1.0f;
    assert_int_equal(data_augment_image(out, in, W, H, 0, &a, &rng), DG_OK);
    assert_true(ink_in(out, 0, 0, W - 1, H - 1) > ink_in(in, 0, 0, W - 1, H - 1));
}

/* data_augment_scale: at 1 the distortions as they were, at 0 none, at a half each range half as
 * wide; and on images, the change a distortion makes grows with the strength */
static void test_strength(void **state)
{
    (void)state;
    struct data_augment full, a;
    data_augment_default(&full);
    a = full;
    data_augment_scale(&a, 1.0f);
    assert_memory_equal(&a, &full, sizeof a);
    a = full;
    data_augment_scale(&a, 0.5f);
    assert_true(a.rotate_deg == 0.5f * full.rotate_deg && a.shear == 0.5f * full.shear);
    assert_true(fabsf((1.0f - a.scale_min) - 0.5f * (1.0f - full.scale_min)) < 1e-6f);
    assert_true(fabsf((a.scale_max - 1.0f) - 0.5f * (full.scale_max - 1.0f)) < 1e-6f);
    assert_true(fabsf((1.0f - a.contrast_min) - 0.5f * (1.0f - full.contrast_min)) < 1e-6f);
    assert_true(a.p_thickness == 0.5f * full.p_thickness && a.noise == 0.5f * full.noise);
    /* mean absolute change of a drawn 7 over 200 draws at strength 0, 0.5 and 1 */
    float in[PX], out[PX];
    memset(in, 0, sizeof in);
    draw_rect(in, 6, 5, 21, 7, 1.0f);
    for (int y = 8; y <= 23; y++)
        in[y * W + 20 - (y - 8) / 2] = in[y * W + 21 - (y - 8) / 2] = 1.0f;
    double change[3] = {0};
    const float ks[3] = {0.0f, 0.5f, 1.0f};
    for (int k = 0; k < 3; k++) {
        a = full;
        data_augment_scale(&a, ks[k]);
        struct dg_rng rng;
        dg_rng_seed(&rng, 11);
        for (int t = 0; t < 200; t++) {
            assert_int_equal(data_augment_image(out, in, W, H, 7, &a, &rng), DG_OK);
            for (int p = 0; p < PX; p++)
                change[k] += fabsf(out[p] - in[p]);
        }
    }
    assert_true(change[0] < 1e-3);
    assert_true(change[1] > 0.0 && change[1] < 0.8 * change[2]);
}

/* The wide pen alone: a bar 2 px wide and 20 tall (a MNIST 1) comes out wider, fitted again into
 * the 20-pixel box and centred by mass. */
static void test_wide_pen(void **state)
{
    (void)state;
    struct data_augment pen = {.scale_min = 1, .scale_max = 1, .contrast_min = 1, .p_pen = 1};
    struct dg_rng rng;
    dg_rng_seed(&rng, 3);
    float in[PX], out[PX];
    draw_rect(in, 13, 4, 14, 23, 1.0f);
    assert_int_equal(data_augment_image(out, in, W, H, 1, &pen, &rng), DG_OK);
    int x0, y0, x1, y1;
    ink_box(out, &x0, &y0, &x1, &y1);
    assert_int_equal(y1 - y0 + 1, 20); /* fitted again: the longer side is 20 */
    assert_true(x1 - x0 + 1 >= 3);     /* wider than the 2 px it was drawn with */
    assert_true(x1 - x0 + 1 <= 5);
    double cx, cy, angle;
    moments(out, &cx, &cy, &angle);
    assert_true(fabs(cx + 0.5 - 14.0) <= 1.0 && fabs(cy + 0.5 - 14.0) <= 1.0);
    assert_true(ink(out) > ink(in) * 1.2); /* 4 x 22 px grown, 20/22 of it kept */
}

/* Ink above 0.3 in the rectangle [x0, x1] x [y0, y1]. */
static int ink_in(const float *img, int x0, int y0, int x1, int y1)
{
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            n += img[y * W + x] > 0.3f;
    return n;
}

/* Writer styles on a drawn 1 (a bar 2 px wide): a continental 1's up-stroke leaves ink down to
 * the left of the stem's top, where the bar had none, and the digit still fits the 20-pixel box;
 * on a drawn 7 the bar across the stem leaves ink on both sides of the stem at mid height, on a
 * drawn 9 the curled tail ink left of the stem's foot. Other labels, and unknown ones, are left
 * alone; so is every 1 at p_style 0. */
static void test_writer_styles(void **state)
{
    (void)state;
    struct data_augment st = {.scale_min = 1, .scale_max = 1, .contrast_min = 1, .p_style = 1};
    struct dg_rng rng;
    float in[PX], out[PX];
    for (int seed = 0; seed < 20; seed++) {
        dg_rng_seed(&rng, (uint64_t)seed);
        draw_rect(in, 13, 4, 14, 23, 1.0f);
        assert_int_equal(data_augment_image(out, in, W, H, 1, &st, &rng), DG_OK);
        int x0, y0, x1, y1;
        ink_box(out, &x0, &y0, &x1, &y1);
        assert_true(y1 - y0 + 1 <= 20 && x1 - x0 + 1 <= 20);
        assert_true(x1 - x0 + 1 >= 4); /* the up-stroke widens the 2 px bar */
        /* the stem is the column with the most ink, the stroke's end to its left in the upper
         * half */
        int stem = -1, best = 0;
        for (int x = 0; x < W; x++) {
            const int n = ink_in(out, x, 0, x, H - 1);
            if (n > best)
                best = n, stem = x;
        }
        assert_true(ink_in(out, 0, y0, stem - 2, y0 + (y1 - y0) / 2) > 0);
    }
    /* a 1 leaning 30 degrees (MNIST's usual) is stood upright first, as other writers' are: one
     * column then holds ink down most of its height, where the leaning stem crossed each column in
     * a few rows only */
    for (int seed = 0; seed < 20; seed++) {
        memset(in, 0, sizeof in);
        for (int y = 4; y <= 23; y++) {
            const int x = 17 - (y - 4) * 6 / 19;
            in[y * W + x] = in[y * W + x + 1] = 1.0f;
        }
        dg_rng_seed(&rng, (uint64_t)seed);
        assert_int_equal(data_augment_image(out, in, W, H, 1, &st, &rng), DG_OK);
        int x0, y0, x1, y1, best = 0, best_in = 0;
        ink_box(out, &x0, &y0, &x1, &y1);
        for (int x = 0; x < W; x++) {
            const int n = ink_in(out, x, 0, x, H - 1), n_in = ink_in(in, x, 0, x, H - 1);
            best = n > best ? n : best;
            best_in = n_in > best_in ? n_in : best_in;
        }
        assert_true(best_in <= 8);
        assert_true(best >= (y1 - y0 + 1) * 7 / 10);
    }
    /* a 7: a top bar and a stem; ink left and right of the stem at mid height after */
    draw_rect(in, 8, 5, 20, 6, 1.0f);
    for (int y = 7; y <= 24; y++)
        in[y * W + 19] = in[y * W + 20] = 1.0f;
    dg_rng_seed(&rng, 5);
    assert_int_equal(data_augment_image(out, in, W, H, 7, &st, &rng), DG_OK);
    assert_true(ink_in(out, 0, 10, 17, 20) > 0 && ink_in(out, 22, 10, W - 1, 20) > 0);
    assert_int_equal(ink_in(in, 0, 10, 17, 20), 0);
    /* a 9: a loop and a stem; its tail curls back, leaving ink left of the stem low down */
    draw_rect(in, 9, 4, 18, 12, 1.0f);
    for (int y = 6; y <= 10; y++)
        for (int x = 11; x <= 16; x++)
            in[y * W + x] = 0.0f;
    for (int y = 13; y <= 23; y++)
        in[y * W + 17] = in[y * W + 18] = 1.0f;
    assert_int_equal(ink_in(in, 0, 16, 15, H - 1), 0);
    dg_rng_seed(&rng, 6);
    assert_int_equal(data_augment_image(out, in, W, H, 9, &st, &rng), DG_OK);
    assert_true(ink_in(out, 0, 16, 14, H - 1) > 0);
    /* a 4, an unknown label and p_style 0 leave the image as drawn */
    float bar[PX];
    draw_rect(bar, 13, 4, 14, 23, 1.0f);
    const int labels[2] = {4, -1};
    for (int k = 0; k < 2; k++) {
        dg_rng_seed(&rng, 9);
        assert_int_equal(data_augment_image(out, bar, W, H, labels[k], &st, &rng), DG_OK);
        assert_memory_equal(out, bar, sizeof bar);
    }
    st.p_style = 0;
    dg_rng_seed(&rng, 9);
    assert_int_equal(data_augment_image(out, bar, W, H, 1, &st, &rng), DG_OK);
    assert_memory_equal(out, bar, sizeof bar);
}

static void test_reproducible_and_in_range(void **state)
{
    (void)state;
    enum { N = 16 };
    struct data_augment a;
    data_augment_default(&a);
    float *x1 = malloc(N * PX * sizeof *x1), *x2 = malloc(N * PX * sizeof *x2);
    float *orig = malloc(N * PX * sizeof *orig);
    uint32_t idx[N], rev[N];
    for (int i = 0; i < N; i++) {
        idx[i] = (uint32_t)(100 + i);
        rev[i] = (uint32_t)(100 + N - 1 - i);
        draw_rect(orig + i * PX, 8 + i % 4, 6, 16 + i % 5, 22, 1.0f);
    }
    memcpy(x1, orig, N * PX * sizeof *x1);
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    assert_int_equal(data_augment_batch(x1, NULL, N, W, H, &a, 7, 3, idx, UINT32_MAX), DG_OK);
    /* the same images in reverse order, on two threads: each image gets the same distortion */
    for (int i = 0; i < N; i++)
        memcpy(x2 + i * PX, orig + (N - 1 - i) * PX, PX * sizeof *x2);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    assert_int_equal(data_augment_batch(x2, NULL, N, W, H, &a, 7, 3, rev, UINT32_MAX), DG_OK);
    int changed = 0;
    for (int i = 0; i < N; i++) {
        assert_memory_equal(x1 + i * PX, x2 + (N - 1 - i) * PX, PX * sizeof *x1);
        for (int j = 0; j < PX; j++)
            assert_true(x1[i * PX + j] >= 0.0f && x1[i * PX + j] <= 1.0f);
        changed += memcmp(x1 + i * PX, orig + i * PX, PX * sizeof *x1) != 0;
    }
    assert_int_equal(changed, N);
    /* another epoch draws other distortions */
    memcpy(x2, orig, N * PX * sizeof *x2);
    assert_int_equal(data_augment_batch(x2, NULL, N, W, H, &a, 7, 4, idx, UINT32_MAX), DG_OK);
    assert_true(memcmp(x1, x2, N * PX * sizeof *x1) != 0);
    /* with idx_end, images at or past it are left as they are, those before it distorted as
     * before (the reversed batch: its first half holds indices 108..115) */
    for (int i = 0; i < N; i++)
        memcpy(x2 + i * PX, orig + (N - 1 - i) * PX, PX * sizeof *x2);
    assert_int_equal(data_augment_batch(x2, NULL, N, W, H, &a, 7, 3, rev, 108), DG_OK);
    for (int i = 0; i < N; i++) {
        const float *want = rev[i] < 108 ? x1 + (N - 1 - i) * PX : orig + (N - 1 - i) * PX;
        assert_memory_equal(x2 + i * PX, want, PX * sizeof *x2);
    }
    /* bad sizes are refused */
    assert_int_equal(data_augment_batch(x1, NULL, 1, 65, 28, &a, 7, 3, idx, UINT32_MAX), DG_EARG);
    float out[PX];
    struct dg_rng rng;
    dg_rng_seed(&rng, 2);
    assert_int_equal(data_augment_image(out, orig, 1, 28, 1, &a, &rng), DG_EARG);
    assert_int_equal(data_corrupt_image(out, orig, W, H, DATA_N_CORRUPTIONS, &rng), DG_EARG);
    free(x1), free(x2), free(orig);
}

static void test_corruptions_measured(void **state)
{
    (void)state;
    float in[PX], out[PX];
    struct dg_rng rng;
    dg_rng_seed(&rng, 3);
    double cx0, cy0, a0, cx, cy, a;
    /* shift: a 6x6 block in the middle moves 5 px in some direction */
    draw_rect(in, 11, 11, 16, 16, 1.0f);
    moments(in, &cx0, &cy0, &a0);
    for (int t = 0; t < 8; t++) {
        data_corrupt_image(out, in, W, H, DATA_SHIFT, &rng);
        moments(out, &cx, &cy, &a);
        const double d = hypot(cx - cx0, cy - cy0);
        if (fabs(d - 5.0) > 0.05)
            fail_msg("shift moved the centre by %.3f px, not 5", d);
        assert_true(fabs(ink(out) - ink(in)) < 0.5);
    }
    /* rotate: a horizontal bar turns by 20 to 30 degrees either way, about the centre */
    draw_rect(in, 6, 13, 21, 14, 1.0f);
    moments(in, &cx0, &cy0, &a0);
    assert_true(fabs(a0) < 1e-6);
    int signs = 0;
    for (int t = 0; t < 8; t++) {
        data_corrupt_image(out, in, W, H, DATA_ROTATE, &rng);
        moments(out, &cx, &cy, &a);
        if (fabs(a) < 19.0 || fabs(a) > 31.0)
            fail_msg("rotate turned the bar by %.2f degrees", a);
        assert_true(hypot(cx - cx0, cy - cy0) < 0.2);
        signs |= a > 0 ? 1 : 2;
    }
    assert_int_equal(signs, 3);
    /* thick adds ink around the strokes, thin removes it; a 1-px-thin line survives thickening */
    draw_rect(in, 8, 8, 19, 19, 1.0f);
    data_corrupt_image(out, in, W, H, DATA_THICK, &rng);
    assert_true(ink(out) > ink(in) * 1.5);
    data_corrupt_image(out, in, W, H, DATA_THIN, &rng);
    assert_true(ink(out) < ink(in) * 0.9 && ink(out) > ink(in) * 0.5);
    /* contrast: paper at 0.3, ink at 0.6 */
    data_corrupt_image(out, in, W, H, DATA_CONTRAST, &rng);
    assert_true(fabsf(out[0] - 0.3f) < 1e-6f && fabsf(out[12 * W + 12] - 0.6f) < 1e-6f);
    /* noise keeps values in range and changes the paper */
    data_corrupt_image(out, in, W, H, DATA_NOISE, &rng);
    int noisy = 0;
    for (int i = 0; i < PX; i++) {
        assert_true(out[i] >= 0.0f && out[i] <= 1.0f);
        noisy += in[i] == 0.0f && out[i] > 0.0f;
    }
    assert_true(noisy > 100);
    /* names */
    assert_int_equal(data_corruption_find("elastic"), DATA_ELASTIC);
    assert_int_equal(data_corruption_find("clean"), DATA_CLEAN);
    assert_int_equal(data_corruption_find("sharpen"), -1);
}

/* A ring 20 px tall (outer radius 10, inner 6.5) about (14, 14): a 0 as MNIST draws it. */
static void draw_ring(float *img)
{
    memset(img, 0, PX * sizeof *img);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const double r = hypot(x + 0.5 - 14.0, y + 0.5 - 14.0);
            img[y * W + x] = r <= 10.0 && r >= 6.5 ? 1.0f : 0.0f;
        }
}

/* A small view is MNIST-normalised again (the ink's longer side 20 px, centred by mass), keeps a
 * 0's hole at 14 px and not its sharp edges, is the same for the same stream, leaves an image
 * without ink as it is, and is what data_augment gives its share of images. */
static void test_small_view(void **state)
{
    (void)state;
    float in[PX], out[PX], again[PX];
    struct dg_rng rng;
    draw_ring(in);
    for (int px = 8; px <= 18; px += 2) {
        dg_rng_seed(&rng, (uint64_t)px);
        assert_int_equal(data_small_view(out, in, W, H, (float)px, &rng), DG_OK);
        int x0, y0, x1, y1;
        ink_box(out, &x0, &y0, &x1, &y1);
        const int side = (x1 - x0 > y1 - y0 ? x1 - x0 : y1 - y0) + 1;
        if (side < 19 || side > 21)
            fail_msg("a ring seen %d px tall came back %d px wide", px, side);
        double cx, cy, a;
        moments(out, &cx, &cy, &a);
        if (fabs(cx - 13.5) > 1.0 || fabs(cy - 13.5) > 1.0)
            fail_msg("a ring seen %d px tall has its centre at (%.2f, %.2f)", px, cx, cy);
        float lo = 1.0f, hi = 0.0f;
        int between = 0;
        for (int i = 0; i < PX; i++) {
            assert_true(out[i] >= 0.0f && out[i] <= 1.0f);
            lo = fminf(lo, out[i]), hi = fmaxf(hi, out[i]);
            between += out[i] > 0.1f && out[i] < 0.9f;
        }
        assert_true(hi > 0.9f);
        if (between < 20) /* the camera's blur and the scaling leave grey edges */
            fail_msg("a ring seen %d px tall has %d grey pixels", px, between);
        if (px >= 14 && out[14 * W + 14] > 0.5f * hi)
            fail_msg("a ring seen %d px tall lost its hole (%.2f)", px, out[14 * W + 14]);
        dg_rng_seed(&rng, (uint64_t)px);
        data_small_view(again, in, W, H, (float)px, &rng);
        assert_memory_equal(out, again, sizeof out);
    }
    /* no ink: as it was */
    float blank[PX] = {0};
    dg_rng_seed(&rng, 1);
    assert_int_equal(data_small_view(out, blank, W, H, 12.0f, &rng), DG_OK);
    assert_memory_equal(out, blank, sizeof out);
    assert_int_equal(data_small_view(out, in, 65, 28, 12.0f, &rng), DG_EARG);
    /* data_augment: every image small with p_small 1 (nothing else on), none with 0 */
    struct data_augment a = {.scale_min = 1, .scale_max = 1, .contrast_min = 1, .p_small = 1};
    int changed = 0;
    for (int t = 0; t < 8; t++) {
        dg_rng_seed(&rng, (uint64_t)t + 100);
        assert_int_equal(data_augment_image(out, in, W, H, 0, &a, &rng), DG_OK);
        int between = 0;
        for (int i = 0; i < PX; i++)
            between += out[i] > 0.1f && out[i] < 0.9f;
        changed += between >= 20;
    }
    assert_int_equal(changed, 8);
    a.p_small = 0.0f;
    dg_rng_seed(&rng, 100);
    assert_int_equal(data_augment_image(out, in, W, H, 0, &a, &rng), DG_OK);
    assert_memory_equal(out, in, sizeof out);
    /* the corruption of the same name: a digit 10-14 px tall */
    assert_int_equal(data_corruption_find("small"), DATA_SMALL);
    assert_int_equal(data_corrupt_image(out, in, W, H, DATA_SMALL, &rng), DG_OK);
    assert_true(memcmp(out, in, sizeof out) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_when_off),
        cmocka_unit_test(test_styles_only),
        cmocka_unit_test(test_strength),
        cmocka_unit_test(test_wide_pen),
        cmocka_unit_test(test_writer_styles),
        cmocka_unit_test(test_reproducible_and_in_range),
        cmocka_unit_test(test_corruptions_measured),
        cmocka_unit_test(test_small_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
