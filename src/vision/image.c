/* image.c - loading images to grey (JPEG and PNG in decode.c; BMP, GIF, TGA and PGM/PPM with
 * stb_image), writing PNG (stb_image_write), and the MNIST normalisation shared by
 * `digits predict` and the scanning pipeline. */
#define _POSIX_C_SOURCE 200809L
#include "decode.h"
#include "vis.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* stb_image keeps the formats no camera, phone or scanner writes, compiled here with only their
 * decoders and private to this file (the JPEG and PNG decoders it would bring are not built, so
 * no file reaches them); stb_image_write writes our PNGs. */
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_JPEG
#define STBI_NO_PNG
#define STBI_NO_PSD
#define STBI_NO_HDR
#define STBI_NO_PIC
#define STBI_NO_LINEAR
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
/* the PNG-only functions stb declares are never defined without its PNG decoder: GCC says so at
 * the end of the file, so this one stays off for the whole of it */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <stb_image.h>
#include <stb_image_write.h>
#pragma GCC diagnostic pop

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

/* The EXIF orientation of the open file f (1 unless a JPEG says otherwise); f is rewound. */
static int file_orientation(FILE *f)
{
    enum { HEAD = 128 << 10 }; /* APP1 segments are at most 64 KiB and come first */
    uint8_t sig[2];
    int o = 1;
    if (fread(sig, 1, 2, f) == 2 && sig[0] == 0xFF && sig[1] == 0xD8) {
        uint8_t *head = malloc(HEAD);
        if (head) {
            rewind(f);
            o = vis_exif_orientation(head, fread(head, 1, HEAD, f));
            free(head);
        }
    }
    rewind(f);
    return o;
}

/* stb_image reads through these, so a file that ends before its pixels do is noticed: stb fills
 * the missing part with zeros and reports success (a PGM header with no pixels, a cut BMP). */
struct reader {
    FILE *f;
    int starved; /* the decoder wanted bytes past the end */
};

/* stb refills its 128-byte buffer with reads of that size (the last one short at a file's end,
 * which is normal); any other read is for bytes the decoder needs, such as PNM's pixels. */
enum { STB_BUFFER = 128 };

static int rd_read(void *user, char *data, int size)
{
    struct reader *r = user;
    const size_t n = fread(data, 1, (size_t)size, r->f);
    if (n < (size_t)size && (n == 0 || size != STB_BUFFER))
        r->starved = 1;
    return (int)n;
}

static void rd_skip(void *user, int n)
{
    struct reader *r = user;
    fseek(r->f, n, SEEK_CUR);
    const int c = fgetc(r->f); /* clears the end-of-file flag, as stb's own reader does */
    if (c != EOF)
        ungetc(c, r->f);
}

static int rd_eof(void *user)
{
    return feof(((struct reader *)user)->f);
}

/* Whether the PGM/PPM header in head[0 .. n) has numbers stb can read: stb multiplies by ten
 * with no check, so a size of ten digits overflows an int (found by fuzz_scan). Each of width,
 * height and maximum value, after whitespace and comments, must be at most 9 digits. */
static int pnm_numbers_fit(const char *head, size_t n)
{
    size_t i = 2;
    for (int k = 0; k < 3; k++) {
        for (;;) {
            while (i < n && strchr(" \t\r\n\v\f", head[i]) && head[i])
                i++;
            if (i < n && head[i] == '#')
                while (i < n && head[i] != '\n' && head[i] != '\r')
                    i++;
            else
                break;
        }
        int digits = 0;
        while (i < n && head[i] >= '0' && head[i] <= '9')
            i++, digits++;
        if (digits > 9)
            return 0;
    }
    return 1;
}

/* What the open file f claims before it is decoded: refused when it is a format whose stb decoder
 * loops on a cut file (no camera or scanner writes them), not an image stb knows, damaged (a size
 * of 0 or less) or over VIS_MAX_PIXELS. f is left at its start. */
static int check_header(FILE *f, const char *path)
{
    char magic[4] = {0};
    const size_t n_magic = fread(magic, 1, sizeof magic, f);
    rewind(f);
    if ((n_magic >= 2 && !memcmp(magic, "#?", 2)) || (n_magic == 4 && !memcmp(magic, "8BPS", 4)) ||
        (n_magic == 4 && !memcmp(magic, "\x53\x80\xF6\x34", 4)))
        return dg_fail(DG_EFORMAT,
                       "%s is a Radiance HDR, Photoshop or Softimage file; digits reads PNG, "
                       "JPEG, BMP, GIF, PGM/PPM and TGA",
                       path);
    if (n_magic >= 2 && magic[0] == 'P' && (magic[1] == '5' || magic[1] == '6')) {
        char head[256];
        const size_t n_head = fread(head, 1, sizeof head, f);
        rewind(f);
        if (!pnm_numbers_fit(head, n_head))
            return dg_fail(DG_EFORMAT, "%s has a damaged PGM/PPM header (a number over 9 digits)",
                           path);
    }
    int w, h, ch;
    if (!stbi_info_from_file(f, &w, &h, &ch))
        return dg_fail(DG_EFORMAT, "%s is not a readable image (%s)", path, stbi_failure_reason());
    if (h < 0 && h > -(1 << 24))
        h = -h; /* a top-down BMP: stb's info gives its height as stored, negative */
    return vis_image_check_size(path, w, h, ch > 0 ? ch : 4, stbi_is_16_bit_from_file(f));
}

int vis_image_check_size(const char *path, int w, int h, int ch, int is16)
{
    if (w < 1 || h < 1)
        return dg_fail(DG_EFORMAT, "%s claims a size of %dx%d pixels: the file is damaged", path, w,
                       h);
    if ((double)w * h > VIS_MAX_PIXELS)
        return dg_fail(DG_EARG, "%s is %dx%d pixels; the limit is %d megapixels", path, w, h,
                       VIS_MAX_PIXELS >> 20);
    /* the decoder holds every channel of every pixel before we make it grey: bounded too, so a
     * small file cannot claim gigabytes (a 500 kB PNG of 8192x8192 RGBA at 16 bits took 1.1 GB) */
    const double decoded = (double)w * h * ch * (is16 ? 2 : 1);
    if (decoded > VIS_MAX_DECODED_BYTES)
        return dg_fail(DG_EARG,
                       "%s would take %.0f MB to decode (%dx%d, %d channel%s of %d bits); the "
                       "limit is %d MB: save it smaller or with 8 bits per channel",
                       path, decoded / (1 << 20), w, h, ch, ch == 1 ? "" : "s", is16 ? 16 : 8,
                       VIS_MAX_DECODED_BYTES >> 20);
    return DG_OK;
}

/* stb's decoded pixels (ch channels of 8 or 16 bits) as 8-bit grey, Rec. 601, alpha over white
 * paper; NULL when out of memory. */
void vis_grey_from_pixels(const uint8_t *px, size_t stride, int w, int h, int bpp, int r_at,
                          int b_at, uint8_t *grey)
{
    for (int y = 0; y < h; y++) {
        const uint8_t *restrict s = px + (size_t)y * stride;
        uint8_t *restrict d = grey + (size_t)y * w;
        if (bpp == 1) { /* v * 255 / 255 + 0.5 truncates to v: the bytes as they are */
            memcpy(d, s, (size_t)w);
            continue;
        }
        /* vis_grey_from_decoded's arithmetic for 8 bits, in its order */
        for (int x = 0; x < w; x++, s += bpp) {
            const float v = 0.299f * s[r_at] + 0.587f * s[1] + 0.114f * s[b_at];
            const float g = v * 255.0f / 255.0f + 0.5f;
            d[x] = (uint8_t)(g > 255.0f ? 255.0f : g);
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

/* The largest image file read from a pipe (a regular file has no limit but its pixels'). */
enum { PIPE_MAX_BYTES = 256 << 20 };

/* Reads the rest of *f (a pipe) into memory, closes it, and gives back a FILE reading that memory
 * (*f) and the memory to free after it is closed (*whole). */
static int slurp(FILE *in, const char *path, void **whole, FILE **f)
{
    size_t n = 0, cap = 0;
    char *buf = NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            char *nb = cap <= PIPE_MAX_BYTES ? realloc(buf, cap) : NULL;
            if (!nb) {
                free(buf);
                fclose(in);
                return cap > PIPE_MAX_BYTES
                           ? dg_fail(DG_EARG, "%s holds over %d MB: too large for an image", path,
                                     PIPE_MAX_BYTES >> 20)
                           : dg_fail(DG_ENOMEM, "out of memory reading %s", path);
            }
            buf = nb;
        }
        const size_t got = fread(buf + n, 1, cap - n, in);
        n += got;
        if (got == 0)
            break;
    }
    const int err = ferror(in);
    fclose(in);
    if (err || n == 0) {
        free(buf);
        return dg_fail(err ? DG_EIO : DG_EFORMAT, "%s %s", path,
                       err ? "cannot be read" : "is empty, not an image");
    }
    FILE *m = fmemopen(buf, n, "rb");
    if (!m) {
        free(buf);
        return dg_fail(DG_ENOMEM, "out of memory reading %s", path);
    }
    *whole = buf;
    *f = m;
    return DG_OK;
}

/* Decodes the image f holds with stb_image (path names it in messages). */
static int load_stb(FILE *f, const char *path, struct vis_image *img)
{
    int rc = check_header(f, path);
    if (rc != DG_OK)
        return rc;
    /* 16 bits per channel are read at full depth and reduced to 8 after conversion to grey. */
    int w, h, ch;
    const int is16 = stbi_is_16_bit_from_file(f);
    const stbi_io_callbacks io = {rd_read, rd_skip, rd_eof};
    struct reader rd = {f, 0};
    void *data = is16 ? (void *)stbi_load_16_from_callbacks(&io, &rd, &w, &h, &ch, 0)
                      : (void *)stbi_load_from_callbacks(&io, &rd, &w, &h, &ch, 0);
    if (!data) {
        const char *why = stbi_failure_reason();
        if (rd.starved || !why || !*why)
            return dg_fail(DG_EFORMAT, "%s is cut short or damaged: it cannot be decoded", path);
        return dg_fail(DG_EFORMAT, "%s cannot be decoded (%s)", path, why);
    }
    if (rd.starved) {
        stbi_image_free(data);
        return dg_fail(DG_EFORMAT, "%s is cut short: the file ends before its pixels do", path);
    }
    uint8_t *px = malloc((size_t)w * h);
    if (px)
        vis_grey_from_decoded(data, (size_t)w * h, ch, is16, px);
    stbi_image_free(data);
    if (!px)
        return dg_fail(DG_ENOMEM, "out of memory for %s", path);
    *img = (struct vis_image){w, h, px};
    return DG_OK;
}

/* Decodes the image f holds (path names it in messages) by its first bytes: JPEG and PNG with
 * decode.c's libraries, the rest with stb_image; f is closed. */
static int load_stream(FILE *f, const char *path, struct vis_image *img)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    uint8_t sig[8] = {0};
    const size_t n_sig = fread(sig, 1, sizeof sig, f);
    rewind(f);
    const int is_jpeg = n_sig >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF;
    const int orientation = is_jpeg ? file_orientation(f) : 1;
    struct vis_image out = {0};
    int rc;
    if (is_jpeg)
        rc = vis_jpeg_decode(f, path, &out);
    else if (n_sig == sizeof sig && !memcmp(sig, png_sig, sizeof sig))
        rc = vis_png_decode(f, path, &out);
    else
        rc = load_stb(f, path, &out);
    fclose(f);
    if (rc == DG_OK && (rc = vis_image_orient(&out, orientation)) != DG_OK)
        vis_image_destroy(&out);
    if (rc == DG_OK)
        *img = out;
    return rc;
}

int vis_image_load(const char *path, struct vis_image *img)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return dg_fail(DG_EIO, "%s is a directory, not an image", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return dg_fail(DG_EIO, "cannot open %s: %s", path, strerror(errno));
    /* a pipe, /dev/stdin or a socket cannot seek, and the header checks and stb do: read it
     * whole into memory and read that */
    void *whole = NULL;
    struct stat fs;
    if (fstat(fileno(f), &fs) == 0 && !S_ISREG(fs.st_mode)) {
        int rc = slurp(f, path, &whole, &f);
        if (rc != DG_OK)
            return rc;
    }
    const int rc = load_stream(f, path, img);
    free(whole);
    return rc;
}

int vis_image_load_mem(const void *data, size_t n, const char *name, struct vis_image *img)
{
    if (!data || n == 0)
        return dg_fail(DG_EFORMAT, "%s is empty, not an image", name);
    FILE *f = fmemopen((void *)(uintptr_t)data, n, "rb");
    if (!f)
        return dg_fail(DG_ENOMEM, "out of memory reading %s", name);
    return load_stream(f, name, img);
}

struct png_ctx {
    struct dg_writer *wr;
    int rc;
};

static void png_sink(void *vctx, void *data, int size)
{
    struct png_ctx *ctx = vctx;
    if (ctx->rc == DG_OK)
        ctx->rc = dg_write_bytes(ctx->wr, data, (size_t)size);
}

struct png_job {
    const uint8_t *px;
    int w, h, channels;
};

static int write_png(struct dg_writer *wr, void *vjob)
{
    const struct png_job *job = vjob;
    struct png_ctx ctx = {wr, DG_OK};
    if (!stbi_write_png_to_func(png_sink, &ctx, job->w, job->h, job->channels, job->px,
                                job->w * job->channels))
        return ctx.rc != DG_OK ? ctx.rc : dg_fail(DG_EIO, "PNG encoding failed");
    return ctx.rc;
}

int vis_png_write(const char *path, const uint8_t *px, int w, int h, int channels)
{
    struct png_job job = {px, w, h, channels};
    return dg_write_atomic(path, write_png, &job);
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

int vis_mnist_normalize(const struct vis_image *img, enum vis_polarity pol, float out[784])
{
    const int w = img->w, h = img->h;
    const size_t n = (size_t)w * h;
    if (pol == VIS_POLARITY_AUTO) {
        /* Paper surrounds the digit: compare the outer ring with the whole picture. */
        double border = 0.0, all = 0.0;
        size_t nb = 0;
        int ring = (w < h ? w : h) / 10 + 1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double v = img->px[(size_t)y * w + x];
                all += v;
                if (y < ring || y >= h - ring || x < ring || x >= w - ring) {
                    border += v;
                    nb++;
                }
            }
        pol = border / nb >= all / n ? VIS_POLARITY_DARK_ON_LIGHT : VIS_POLARITY_LIGHT_ON_DARK;
    }
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

void vis_grey_from_rgb(const uint8_t *rgb, size_t rgb_stride, int w, int h, uint8_t *grey)
{
    for (int y = 0; y < h; y++) {
        const uint8_t *s = rgb + (size_t)y * rgb_stride;
        uint8_t *d = grey + (size_t)y * w;
        for (int x = 0; x < w; x++, s += 3)
            d[x] = (uint8_t)((77 * s[0] + 150 * s[1] + 29 * s[2] + 128) >> 8);
    }
}
