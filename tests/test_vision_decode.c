/* test_vision_decode.c - the JPEG (libjpeg-turbo) and PNG (libpng) decoders behind
 * vis_image_load: files written here with the same libraries in every layout the decoders must
 * handle (grey, colour, CMYK, progressive; 8 and 16 bits, palette with transparency, interlaced)
 * load as the grey picture they hold, and cut, damaged and over-large ones are refused with the
 * reason. */
#define _DEFAULT_SOURCE
#include "decode.h"
#include "testutil.h"
#include "vis.h"

#include <jpeglib.h>
#include <png.h>
#include <unistd.h>
#include <zlib.h>

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/digits-decode-%d", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

/* The test picture's grey value at (x, y): a ramp with a dark square, so an error in row order,
 * orientation or channel order shows. */
static uint8_t grey_at(int x, int y)
{
    return (x >= 4 && x < 12 && y >= 4 && y < 12) ? 20 : (uint8_t)(60 + 3 * x + y);
}

/* Writes a w x h JPEG of `components` (1 grey, 3 RGB with R = G = B = grey_at, 4 CMYK with
 * K = grey_at in Adobe's inverted form and no colour) to buf; returns its length. */
static size_t jpeg_make(uint8_t *buf, size_t cap, int w, int h, int components, int progressive)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    unsigned char *mem = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&ci, &mem, &n);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = components;
    ci.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    if (progressive)
        jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    uint8_t row[64 * 4];
    while (ci.next_scanline < ci.image_height) {
        const int y = (int)ci.next_scanline;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < components; c++)
                row[x * components + c] =
                    components == 4 ? (c == 3 ? grey_at(x, y) : 255) : grey_at(x, y);
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    assert_true(n <= cap);
    memcpy(buf, mem, n);
    free(mem);
    return n;
}

static void put_file(const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Largest |img - grey_at| over the picture. */
static int worst_error(const struct vis_image *img)
{
    int worst = 0;
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++) {
            const int d = abs(img->px[(size_t)y * img->w + x] - grey_at(x, y));
            worst = d > worst ? d : worst;
        }
    return worst;
}

static void test_jpeg_layouts_load(void **state)
{
    (void)state;
    static uint8_t buf[1 << 16];
    const int layouts[][2] = {{1, 0}, {3, 0}, {4, 0}, {1, 1}, {3, 1}};
    for (size_t k = 0; k < sizeof layouts / sizeof *layouts; k++) {
        const size_t n = jpeg_make(buf, sizeof buf, 40, 24, layouts[k][0], layouts[k][1]);
        put_file(buf, n);
        struct vis_image img = {0};
        if (vis_image_load(path, &img) != DG_OK)
            fail_msg("%d components%s: %s", layouts[k][0], layouts[k][1] ? ", progressive" : "",
                     dg_errmsg());
        assert_int_equal(img.w, 40);
        assert_int_equal(img.h, 24);
        const int worst = worst_error(&img);
        if (worst > 12) /* quality 95 on sharp edges */
            fail_msg("%d components%s: off by up to %d grey levels", layouts[k][0],
                     layouts[k][1] ? ", progressive" : "", worst);
        vis_image_destroy(&img);
        /* from memory, the same picture */
        struct vis_image mem = {0};
        assert_int_equal(vis_image_load_mem(buf, n, "mem.jpg", &mem), DG_OK);
        assert_int_equal(mem.w, 40);
        vis_image_destroy(&mem);
    }
}

static void test_jpeg_cut_damaged_and_huge_refused(void **state)
{
    (void)state;
    static uint8_t buf[1 << 16];
    struct vis_image img = {0};
    for (int progressive = 0; progressive <= 1; progressive++) {
        const size_t n = jpeg_make(buf, sizeof buf, 64, 48, 3, progressive);
        /* cut at half: libjpeg would fill the rest with grey and call it a picture */
        put_file(buf, n / 2);
        assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
        if (!strstr(dg_errmsg(), "cut short"))
            fail_msg("progressive %d cut: %s", progressive, dg_errmsg());
        assert_null(img.px);
        /* an end-of-image marker in the middle of the entropy-coded data */
        static uint8_t bad[1 << 16];
        memcpy(bad, buf, n);
        bad[n * 2 / 3] = 0xFF, bad[n * 2 / 3 + 1] = 0xD9;
        put_file(bad, n);
        assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
        if (!strstr(dg_errmsg(), "damaged") && !strstr(dg_errmsg(), "cannot be decoded"))
            fail_msg("progressive %d damaged: %s", progressive, dg_errmsg());
        assert_null(img.px);
        /* the frame header patched to claim 8192 x 8192: refused when the data runs out, before
         * the 64 MB picture is allocated (a progressive file is read whole first) */
        for (size_t i = 0; i + 9 < n; i++)
            if (buf[i] == 0xFF && (buf[i + 1] == 0xC0 || buf[i + 1] == 0xC2)) {
                buf[i + 5] = 0x20, buf[i + 6] = 0, buf[i + 7] = 0x20, buf[i + 8] = 0;
                break;
            }
        put_file(buf, n);
        assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
        assert_null(img.px);
    }
    /* a header over the pixel limit, and an empty file */
    const size_t n = jpeg_make(buf, sizeof buf, 16, 16, 1, 0);
    for (size_t i = 0; i + 9 < n; i++)
        if (buf[i] == 0xFF && buf[i + 1] == 0xC0) {
            buf[i + 5] = 0x7F, buf[i + 6] = 0xFF, buf[i + 7] = 0x7F, buf[i + 8] = 0xFF;
            break;
        }
    put_file(buf, n);
    assert_int_equal(vis_image_load(path, &img), DG_EARG);
    assert_non_null(strstr(dg_errmsg(), "megapixels"));
    put_file(buf, 3);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_null(img.px);
}

/* Writes a w x h PNG of the test picture in the given layout with libpng. */
static void png_make(int w, int h, int color_type, int depth, int interlace, int with_trns)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_false(setjmp(png_jmpbuf(png)));
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_color palette[256];
    png_byte alpha[256];
    if (color_type == PNG_COLOR_TYPE_PALETTE) { /* entry i is grey i; entry 0 transparent */
        for (int i = 0; i < 256; i++) {
            palette[i].red = palette[i].green = palette[i].blue = (png_byte)i;
            alpha[i] = 255;
        }
        alpha[0] = 0;
        png_set_PLTE(png, info, palette, 256);
        if (with_trns)
            png_set_tRNS(png, info, alpha, 256, NULL);
    }
    png_write_info(png, info);
    const int ch = color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGBA ? 4 : 1;
    const int bytes = depth == 16 ? 2 : 1;
    static uint8_t rows[64 * 64 * 4 * 2];
    png_bytep ptrs[64];
    for (int y = 0; y < h; y++) {
        ptrs[y] = rows + (size_t)y * w * ch * bytes;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                /* opaque alpha; with the transparent entry, pixel (0, 0) uses it */
                const int v = c == 3 ? 255 : (with_trns && x == 0 && y == 0) ? 0 : grey_at(x, y);
                uint8_t *p = ptrs[y] + ((size_t)x * ch + c) * bytes;
                p[0] = (uint8_t)v; /* 16 bits big-endian: v * 257 */
                if (bytes == 2)
                    p[1] = (uint8_t)v;
            }
    }
    png_write_image(png, ptrs);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void test_png_layouts_load(void **state)
{
    (void)state;
    const struct {
        int type, depth, interlace;
    } layouts[] = {
        {PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE},
        {PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_ADAM7},
        {PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE},
        {PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7},
        {PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE},
        {PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_NONE},
        {PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE},
    };
    for (size_t k = 0; k < sizeof layouts / sizeof *layouts; k++) {
        png_make(40, 24, layouts[k].type, layouts[k].depth, layouts[k].interlace, 0);
        struct vis_image img = {0};
        if (vis_image_load(path, &img) != DG_OK)
            fail_msg("layout %zu: %s", k, dg_errmsg());
        assert_int_equal(img.w, 40);
        assert_int_equal(img.h, 24);
        if (worst_error(&img) > 1) /* lossless; colour to grey rounds */
            fail_msg("layout %zu: off by up to %d grey levels", k, worst_error(&img));
        vis_image_destroy(&img);
    }
    /* a palette whose entry 0 is transparent: those pixels are white paper */
    png_make(40, 24, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, 1);
    struct vis_image img = {0};
    assert_int_equal(vis_image_load(path, &img), DG_OK);
    assert_int_equal(img.px[0], 255);
    assert_int_equal(img.px[1], grey_at(1, 0));
    vis_image_destroy(&img);
    /* interlaced and cut: refused, nothing left allocated */
    png_make(64, 64, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, 0);
    unsigned char *data;
    size_t n;
    assert_int_equal(dg_read_file(path, 1 << 20, &data, &n), DG_OK);
    put_file(data, n * 2 / 3);
    free(data);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "cut short"));
    assert_null(img.px);
}

/* Writes a w x h PNG of noisy pixels (seeded) in colour type `type`, every row with one filter
 * (PNG_FILTER_NONE ... PNG_FILTER_PAETH, or PNG_ALL_FILTERS for libpng's choice), its data in
 * IDAT chunks of at most `chunk` bytes, into buf; returns the length. */
static size_t png_noisy(uint8_t *buf, size_t cap, int w, int h, int type, int filter, int chunk,
                        const unsigned seed)
{
    FILE *f = fmemopen(buf, cap, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_false(setjmp(png_jmpbuf(png)));
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_filter(png, 0, filter);
    png_set_compression_buffer_size(png, (size_t)chunk);
    png_write_info(png, info);
    const int ch = png_get_channels(png, info);
    static uint8_t rows[64 * 64 * 4];
    unsigned r = seed;
    for (int i = 0; i < w * h * ch; i++) { /* smooth ramps plus noise: every filter has work */
        r = r * 1103515245u + 12345u;
        rows[i] = (uint8_t)((i % (w * ch)) * 3 + (i / (w * ch)) * 5 + (r >> 27));
    }
    for (int y = 0; y < h; y++)
        png_write_row(png, rows + (size_t)y * w * ch);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    const long n = ftell(f);
    fclose(f);
    return (size_t)n;
}

/* The fast path (libdeflate, our own unfiltering) gives libpng's grey bytes for every colour type
 * it takes, every filter, odd widths and the data split over many IDAT chunks; it leaves every
 * other layout and every damaged file to libpng (returns 0), whose answer stays the reference. */
static void test_png_fast_path_equals_libpng(void **state)
{
    (void)state;
    static uint8_t buf[1 << 16];
    const int types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                         PNG_COLOR_TYPE_RGBA};
    const int filters[] = {PNG_FILTER_NONE, PNG_FILTER_SUB,   PNG_FILTER_UP,
                           PNG_FILTER_AVG,  PNG_FILTER_PAETH, PNG_ALL_FILTERS};
    for (int t = 0; t < 4; t++)
        for (int k = 0; k < 6; k++) {
            const size_t n = png_noisy(buf, sizeof buf, 37, 23, types[t], filters[k],
                                       k == 5 ? 64 : 8192, (unsigned)(t * 6 + k));
            struct vis_image fast = {0}, ref = {0};
            if (vis_png_fast(buf, n, &fast) != 1)
                fail_msg("type %d filter %d: not taken by the fast path", types[t], filters[k]);
            assert_int_equal(vis_image_load_mem(buf, n, "ref.png", &ref), DG_OK); /* libpng */
            assert_int_equal(fast.w, 37);
            assert_int_equal(fast.h, 23);
            assert_int_equal(ref.w, 37);
            assert_memory_equal(fast.px, ref.px, 37 * 23);
            vis_image_destroy(&fast);
            vis_image_destroy(&ref);
        }
    /* left to libpng: palette, 16 bits, interlaced, transparency, a changed byte (CRC), a zlib
     * stream with its CRC made right again, the file cut short */
    struct vis_image img = {0};
    const struct {
        int type, depth, interlace, trns;
    } others[] = {{PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, 0},
                  {PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, 0},
                  {PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_ADAM7, 0},
                  {PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, 1}};
    for (size_t k = 0; k < sizeof others / sizeof *others; k++) {
        png_make(40, 24, others[k].type, others[k].depth, others[k].interlace, others[k].trns);
        unsigned char *data;
        size_t len;
        assert_int_equal(dg_read_file(path, 1 << 20, &data, &len), DG_OK);
        if (vis_png_fast(data, len, &img) != 0)
            fail_msg("layout %zu taken by the fast path", k);
        free(data);
    }
    size_t n = png_noisy(buf, sizeof buf, 37, 23, PNG_COLOR_TYPE_RGB, PNG_ALL_FILTERS, 8192, 7);
    size_t idat = 8;
    while (memcmp(buf + idat + 4, "IDAT", 4))
        idat += 12 + ((size_t)buf[idat] << 24 | (size_t)buf[idat + 1] << 16 |
                      (size_t)buf[idat + 2] << 8 | buf[idat + 3]);
    const size_t len = (size_t)buf[idat] << 24 | (size_t)buf[idat + 1] << 16 |
                       (size_t)buf[idat + 2] << 8 | buf[idat + 3];
    buf[idat + 8 + len / 2] ^= 0x55;
    assert_int_equal(vis_png_fast(buf, n, &img), 0); /* its CRC is wrong now */
    put_file(buf, n);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_null(img.px);
    const uLong crc = crc32(0, buf + idat + 4, (uInt)len + 4);
    for (int b = 0; b < 4; b++)
        buf[idat + 8 + len + b] = (uint8_t)(crc >> (24 - 8 * b));
    assert_int_equal(vis_png_fast(buf, n, &img), 0); /* inflates wrong: adler32 or the data */
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    n = png_noisy(buf, sizeof buf, 37, 23, PNG_COLOR_TYPE_RGB, PNG_ALL_FILTERS, 8192, 7);
    assert_int_equal(vis_png_fast(buf, n - 20, &img), 0); /* no IEND */
    put_file(buf, n * 2 / 3);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "cut short"));
    assert_null(img.px);
}

/* TGA (read by stb_image): a grey 4x3 file loads; a 20-byte file whose header claims 2613x13881
 * RLE pixels (a fuzzer's find: stb decoded 36 megapixels from nothing, 0.8 s and 188 MB, before
 * the end of the file was noticed) is refused for its size at once, from a file and from memory. */
static void test_tga_claims_checked(void **state)
{
    (void)state;
    uint8_t tga[18 + 12] = {0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 3, 0, 8, 0x20};
    for (int i = 0; i < 12; i++)
        tga[18 + i] = (uint8_t)(i * 20);
    put_file(tga, sizeof tga);
    struct vis_image img = {0};
    assert_int_equal(vis_image_load(path, &img), DG_OK);
    assert_int_equal(img.w, 4);
    assert_int_equal(img.h, 3);
    assert_int_equal(img.px[5], 100);
    vis_image_destroy(&img);
    static const uint8_t tiny[20] = {0xff, 0x00, 0x0a, 0x0b, 0x08, 0x06, 0x0b, 0x0c, 0x0a, 0xff,
                                     0xc0, 0x50, 0x35, 0x0a, 0x39, 0x36, 0x20, 0x36, 0x34, 0x0a};
    put_file(tiny, sizeof tiny);
    assert_int_equal(vis_image_load(path, &img), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "claims 2613x13881 pixels in only 20 bytes"));
    assert_null(img.px);
    assert_int_equal(vis_image_load_mem(tiny, sizeof tiny, "tiny.tga", &img), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "claims"));
    assert_null(img.px);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jpeg_layouts_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jpeg_cut_damaged_and_huge_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_png_layouts_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_png_fast_path_equals_libpng, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tga_claims_checked, setup, teardown),
    };
    return cmocka_run_group_tests_name("vision_decode", tests, NULL, NULL);
}
