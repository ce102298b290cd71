/* load.c - image files to grey and grey/RGB pixels to PNG files: JPEG and PNG with decode.c's
 * libraries, BMP, GIF, TGA and PGM/PPM with stb_image, writing with stb_image_write. Everything
 * that touches files is here, so the pixel work (image.c) builds without them (the browser). */
#define _POSIX_C_SOURCE 200809L
#include "decode.h"
#include "vis.h"

#include <errno.h>
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

enum { STB_MAX_PIXELS_PER_BYTE = 8192 };

/* What the open file f claims before it is decoded: refused when it is a format whose stb decoder
 * loops on a cut file (no camera or scanner writes them), not an image stb knows, damaged (a size
 * of 0 or less), over VIS_MAX_PIXELS, or more pixels than its bytes can hold. f is left at its
 * start. */
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
    int rc = vis_image_check_size(path, w, h, ch > 0 ? ch : 4, stbi_is_16_bit_from_file(f));
    if (rc != DG_OK)
        return rc;
    /* none of these formats packs more than STB_MAX_PIXELS_PER_BYTE pixels in a byte (GIF's
     * codes at most about 2,700): a 20-byte TGA claiming 2613x13881 pixels was decoded from
     * nothing for 0.8 s and 188 MB before its end was noticed */
    const long start = ftell(f);
    if (start >= 0 && fseek(f, 0, SEEK_END) == 0) {
        const long size = ftell(f);
        fseek(f, start, SEEK_SET);
        if (size >= 0 && (double)w * h > (double)STB_MAX_PIXELS_PER_BYTE * (double)size)
            return dg_fail(DG_EFORMAT,
                           "%s claims %dx%d pixels in only %ld bytes: the file is cut short or "
                           "damaged",
                           path, w, h, size);
    }
    return DG_OK;
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
