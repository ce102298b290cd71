/* test_vision_exif.c - EXIF orientation: committed tiny JPEGs (tests/fixtures/exif, made by its
 * make.py and checked against ImageMagick's -auto-orient) hold one upright picture stored under
 * each of the eight orientation tags, in both byte orders; each must load upright. Also the
 * parser on malformed headers and the turn itself on a known grid. */
#include "testutil.h"
#include "vis.h"

/* Mean of img over [x0, x1) x [y0, y1). */
static double mean(const struct vis_image *img, int x0, int y0, int x1, int y1)
{
    double s = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            s += img->px[(size_t)y * img->w + x];
    return s / ((double)(x1 - x0) * (y1 - y0));
}

static void test_fixtures_load_upright(void **state)
{
    (void)state;
    for (int o = 1; o <= 8; o++) {
        char rel[64], path[4096];
        snprintf(rel, sizeof rel, "tests/fixtures/exif/orient-%d.jpg", o);
        repo_path(path, sizeof path, rel);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t head[4096];
        const size_t n = fread(head, 1, sizeof head, f);
        fclose(f);
        assert_int_equal(vis_exif_orientation(head, n), o);
        struct vis_image img = {0};
        if (vis_image_load(path, &img) != DG_OK)
            fail_msg("%s: %s", rel, dg_errmsg());
        if (img.w != 24 || img.h != 16)
            fail_msg("orientation %d loads as %dx%d, not 24x16", o, img.w, img.h);
        /* the dark block is at the top left, the rest white */
        if (!(mean(&img, 1, 1, 7, 7) < 40 && mean(&img, 10, 1, 23, 7) > 215 &&
              mean(&img, 1, 10, 23, 15) > 215))
            fail_msg("orientation %d is not upright: top left %.0f, top right %.0f, bottom %.0f", o,
                     mean(&img, 1, 1, 7, 7), mean(&img, 10, 1, 23, 7), mean(&img, 1, 10, 23, 15));
        vis_image_destroy(&img);
    }
}

static void test_orient_grid(void **state)
{
    (void)state;
    /* stored 3x2:  a b c / d e f  */
    const uint8_t stored[6] = {1, 2, 3, 4, 5, 6};
    static const struct {
        int o, w, h;
        uint8_t px[6];
    } want[] = {
        {1, 3, 2, {1, 2, 3, 4, 5, 6}}, {2, 3, 2, {3, 2, 1, 6, 5, 4}}, {3, 3, 2, {6, 5, 4, 3, 2, 1}},
        {4, 3, 2, {4, 5, 6, 1, 2, 3}}, {5, 2, 3, {1, 4, 2, 5, 3, 6}}, {6, 2, 3, {4, 1, 5, 2, 6, 3}},
        {7, 2, 3, {6, 3, 5, 2, 4, 1}}, {8, 2, 3, {3, 6, 2, 5, 1, 4}},
    };
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        struct vis_image img;
        assert_int_equal(vis_image_init(&img, 3, 2), DG_OK);
        memcpy(img.px, stored, 6);
        assert_int_equal(vis_image_orient(&img, want[k].o), DG_OK);
        assert_int_equal(img.w, want[k].w);
        assert_int_equal(img.h, want[k].h);
        if (memcmp(img.px, want[k].px, 6))
            fail_msg("orientation %d: got %d %d %d %d %d %d", want[k].o, img.px[0], img.px[1],
                     img.px[2], img.px[3], img.px[4], img.px[5]);
        vis_image_destroy(&img);
    }
    struct vis_image img;
    assert_int_equal(vis_image_init(&img, 3, 2), DG_OK);
    assert_int_equal(vis_image_orient(&img, 9), DG_EARG);
    assert_int_equal(vis_image_orient(&img, 0), DG_EARG);
    vis_image_destroy(&img);
}

/* An APP1 EXIF segment whose first IFD holds tag `tag` of `type` and value v, little-endian. */
static size_t make_jpeg_head(uint8_t *b, unsigned tag, unsigned type, unsigned v)
{
    static const uint8_t start[] = {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0,
                                    0,    'I',  'I',  42,   0,    8,    0,   0,   0,   1,   0};
    size_t n = sizeof start;
    memcpy(b, start, n);
    const uint8_t entry[12] = {(uint8_t)tag,
                               (uint8_t)(tag >> 8),
                               (uint8_t)type,
                               0,
                               1,
                               0,
                               0,
                               0,
                               (uint8_t)v,
                               (uint8_t)(v >> 8),
                               0,
                               0};
    memcpy(b + n, entry, 12);
    n += 12;
    memset(b + n, 0, 4); /* no next IFD */
    n += 4;
    b[n++] = 0xFF, b[n++] = 0xDA; /* start of scan */
    return n;
}

static void test_malformed_headers(void **state)
{
    (void)state;
    uint8_t b[64];
    size_t n = make_jpeg_head(b, 0x0112, 3, 6);
    assert_int_equal(vis_exif_orientation(b, n), 6);
    /* every truncation is read as upright, never past the end (ASan watches) */
    for (size_t k = 0; k < n - 2; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, b, k);
        const int o = vis_exif_orientation(cut, k);
        if (o != 1)
            fail_msg("%zu of %zu bytes read as orientation %d", k, n, o);
        free(cut);
    }
    n = make_jpeg_head(b, 0x0112, 3, 9); /* out of range */
    assert_int_equal(vis_exif_orientation(b, n), 1);
    n = make_jpeg_head(b, 0x0112, 4, 6); /* LONG, not SHORT */
    assert_int_equal(vis_exif_orientation(b, n), 1);
    n = make_jpeg_head(b, 0x0110, 3, 6); /* another tag */
    assert_int_equal(vis_exif_orientation(b, n), 1);
    n = make_jpeg_head(b, 0x0112, 3, 6);
    b[16] = 0xF0, b[17] = 0xFF; /* IFD offset far past the segment */
    assert_int_equal(vis_exif_orientation(b, n), 1);
    n = make_jpeg_head(b, 0x0112, 3, 6);
    b[5] = 0x01; /* segment length shorter than its content */
    assert_int_equal(vis_exif_orientation(b, n), 1);
    const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    assert_int_equal(vis_exif_orientation(png, sizeof png), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_load_upright),
        cmocka_unit_test(test_orient_grid),
        cmocka_unit_test(test_malformed_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
