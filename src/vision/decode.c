/* decode.c - JPEG (libjpeg-turbo) and PNG (libpng) to 8-bit grey, row by row, refusing cut and
 * damaged files and sizes over the budget before the pixels are allocated. Both libraries report
 * errors by longjmp from a callback; each decoder keeps all its state in a job struct owned by
 * its caller, so nothing the jump skips over is a local of the function that called setjmp.
 * The commonest PNGs (8 bits, not interlaced, no palette or transparency chunk, every chunk's
 * CRC right) are inflated by libdeflate instead (vis_png_fast): zlib's inflation was a third of
 * `scan`'s time over a batch of frames. */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include "decode.h"

#include <libdeflate.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* jpeglib.h needs size_t and FILE declared first */
#include <jerror.h>
#include <jpeglib.h>

/* A progressive JPEG is decoded scan by scan; past this many a file is a decoding-time bomb
 * (cameras and encoders write about 10). */
enum { JPEG_MAX_SCANS = 500 };

struct jpeg_job {
    struct jpeg_error_mgr err; /* first: libjpeg's callbacks get it as cinfo->err */
    struct jpeg_progress_mgr progress;
    struct jpeg_decompress_struct ci;
    jmp_buf jump;
    FILE *f;
    const char *path;
    int rc; /* set before every jump */
    char why[JMSG_LENGTH_MAX + 64];
    uint8_t *px;  /* the grey picture, w x h; owned until handed over */
    uint8_t *row; /* one decoded row of 4 channels, for CMYK files */
    int created;
};

static _Noreturn void jpeg_job_fail(struct jpeg_job *j, int rc, const char *what)
{
    j->rc = rc;
    snprintf(j->why, sizeof j->why, "%s", what);
    longjmp(j->jump, 1);
}

static void jpeg_on_error(j_common_ptr ci)
{
    struct jpeg_job *j = (struct jpeg_job *)ci->err;
    char msg[JMSG_LENGTH_MAX];
    ci->err->format_message(ci, msg);
    if (ci->err->msg_code == JERR_NO_BACKING_STORE) /* the memory budget, not a damaged file */
        snprintf(j->why, sizeof j->why, "would take over %d MB to decode; the limit is %d MB",
                 VIS_MAX_DECODED_BYTES >> 20, VIS_MAX_DECODED_BYTES >> 20);
    else
        snprintf(j->why, sizeof j->why, "cannot be decoded (%s)", msg);
    j->rc = ci->err->msg_code == JERR_NO_BACKING_STORE ? DG_EARG : DG_EFORMAT;
    longjmp(j->jump, 1);
}

/* Warnings (level -1) that mean the pixels would be wrong stop the decoding; harmless ones
 * (extraneous bytes between markers, an unknown JFIF revision) and traces are ignored. */
static void jpeg_on_message(j_common_ptr ci, int level)
{
    if (level >= 0)
        return;
    struct jpeg_job *j = (struct jpeg_job *)ci->err;
    switch (ci->err->msg_code) {
    case JWRN_JPEG_EOF:
        jpeg_job_fail(j, DG_EFORMAT, "is cut short: the file ends before its pixels do");
    case JWRN_HIT_MARKER:
    case JWRN_MUST_RESYNC:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_NOT_SEQUENTIAL: {
        char msg[JMSG_LENGTH_MAX], what[JMSG_LENGTH_MAX + 32];
        ci->err->format_message(ci, msg);
        snprintf(what, sizeof what, "is damaged (%s)", msg);
        jpeg_job_fail(j, DG_EFORMAT, what);
    }
    default: return;
    }
}

static void jpeg_on_progress(j_common_ptr ci)
{
    struct jpeg_job *j = (struct jpeg_job *)ci->err;
    if (j->ci.input_scan_number > JPEG_MAX_SCANS) {
        char what[96];
        snprintf(what, sizeof what, "has over %d progressive scans: refused as damaged",
                 JPEG_MAX_SCANS);
        jpeg_job_fail(j, DG_EFORMAT, what);
    }
}

/* A decoder's end: on DG_OK the w x h picture px becomes *img; otherwise px is freed and, when
 * the decoder said why (else vis_image_check_size has), the reason is given with path. */
static int hand_over(int rc, const char *path, const char *why, int w, int h, uint8_t *px,
                     struct vis_image *img)
{
    if (rc == DG_OK) {
        *img = (struct vis_image){w, h, px};
        return DG_OK;
    }
    free(px);
    return why[0] ? dg_fail(rc, "%s %s", path, why) : rc;
}

static void jpeg_run(struct jpeg_job *j)
{
    if (setjmp(j->jump))
        return;
    j->ci.err = jpeg_std_error(&j->err);
    j->err.error_exit = jpeg_on_error;
    j->err.emit_message = jpeg_on_message;
    jpeg_create_decompress(&j->ci);
    j->created = 1;
    j->ci.mem->max_memory_to_use = VIS_MAX_DECODED_BYTES;
    j->progress.progress_monitor = jpeg_on_progress;
    j->ci.progress = &j->progress;
    jpeg_stdio_src(&j->ci, j->f);
    jpeg_read_header(&j->ci, TRUE);
    const int w = (int)j->ci.image_width, h = (int)j->ci.image_height;
    const int cmyk = j->ci.jpeg_color_space == JCS_CMYK || j->ci.jpeg_color_space == JCS_YCCK;
    if ((j->rc = vis_image_check_size(j->path, w, h, 1, 0)) != DG_OK)
        longjmp(j->jump, 1); /* the message is set */
    j->ci.out_color_space = cmyk ? JCS_CMYK : JCS_GRAYSCALE;
    /* a progressive file is read whole here, so one that claims a large picture and ends early
     * is refused before its pixels are allocated */
    jpeg_start_decompress(&j->ci);
    j->px = malloc((size_t)w * h);
    j->row = cmyk ? malloc((size_t)w * 4) : NULL;
    if (!j->px || (cmyk && !j->row))
        jpeg_job_fail(j, DG_ENOMEM, "needs more memory than there is");
    while (j->ci.output_scanline < j->ci.output_height) {
        uint8_t *dst = j->px + (size_t)j->ci.output_scanline * w;
        JSAMPROW rows[1] = {cmyk ? j->row : dst};
        if (jpeg_read_scanlines(&j->ci, rows, 1) != 1)
            jpeg_job_fail(j, DG_EFORMAT, "is cut short: the file ends before its pixels do");
        if (cmyk) /* Adobe's inverted CMYK, as Photoshop writes it: red = C * K / 255, ... */
            for (int x = 0; x < w; x++) {
                const uint8_t *s = j->row + 4 * x;
                const float k = s[3] / 255.0f;
                const float v = (0.299f * s[0] + 0.587f * s[1] + 0.114f * s[2]) * k + 0.5f;
                dst[x] = (uint8_t)(v > 255.0f ? 255.0f : v);
            }
    }
    jpeg_finish_decompress(&j->ci);
    j->rc = DG_OK;
}

int vis_jpeg_decode(FILE *f, const char *path, struct vis_image *img)
{
    struct jpeg_job *j = calloc(1, sizeof *j);
    if (!j)
        return dg_fail(DG_ENOMEM, "out of memory for %s", path);
    j->f = f;
    j->path = path;
    j->rc = DG_EFORMAT;
    jpeg_run(j);
    if (j->created)
        jpeg_destroy_decompress(&j->ci);
    free(j->row);
    const int rc =
        hand_over(j->rc, path, j->why, (int)j->ci.image_width, (int)j->ci.image_height, j->px, img);
    free(j);
    return rc;
}

struct png_job {
    jmp_buf jump;
    FILE *f;
    const char *path;
    png_structp png;
    png_infop info;
    int rc;
    char why[160];
    uint8_t *data; /* decoded rows: one, or all of an interlaced picture */
    uint8_t *px;   /* the grey picture */
    int w, h;
};

static void png_on_error(png_structp png, png_const_charp msg)
{
    struct png_job *j = png_get_error_ptr(png);
    if (!j->why[0])
        snprintf(j->why, sizeof j->why, "cannot be decoded (%s)", msg);
    longjmp(j->jump, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* ancillary chunks libpng skips (a bad CRC in a text chunk) */
}

static void png_on_read(png_structp png, png_bytep data, size_t n)
{
    struct png_job *j = png_get_io_ptr(png);
    if (fread(data, 1, n, j->f) != n) {
        snprintf(j->why, sizeof j->why, "is cut short: the file ends before its pixels do");
        png_error(png, "cut short");
    }
}

/* libpng's transforms to whole bytes per channel: palettes to RGB, grey under 8 bits to 8,
 * transparency to alpha, 16 bits in host order. */
static void png_expand(const struct png_job *j, int depth, int type)
{
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(j->png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(j->png);
    if (png_get_valid(j->png, j->info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(j->png);
    const uint16_t one = 1;
    if (depth == 16 && *(const uint8_t *)&one) /* PNG is big-endian; read 16 bits natively */
        png_set_swap(j->png);
}

/* The decoded rows into j->px as grey: an interlaced picture arrives in passes over all rows, so
 * it is held whole in j->data (within the decoded-bytes budget checked); any other one row at a
 * time. */
static void png_read_grey(struct png_job *j, int passes, size_t row_bytes, int ch, int is16)
{
    const size_t w = (size_t)j->w;
    if (passes > 1) {
        for (int p = 0; p < passes; p++)
            for (int y = 0; y < j->h; y++)
                png_read_row(j->png, j->data + y * row_bytes, NULL);
        vis_grey_from_decoded(j->data, w * j->h, ch, is16, j->px);
        return;
    }
    for (int y = 0; y < j->h; y++) {
        png_read_row(j->png, j->data, NULL);
        vis_grey_from_decoded(j->data, w, ch, is16, j->px + y * w);
    }
}

static void png_run(struct png_job *j)
{
    if (setjmp(j->jump))
        return;
    png_set_read_fn(j->png, j, png_on_read);
    png_set_chunk_malloc_max(j->png, 8 << 20); /* a compressed text or ICC chunk's inflation */
    png_read_info(j->png, j->info);
    png_uint_32 w, h;
    int depth, type, interlace;
    png_get_IHDR(j->png, j->info, &w, &h, &depth, &type, &interlace, NULL, NULL);
    png_expand(j, depth, type);
    const int passes = png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    const int ch = png_get_channels(j->png, j->info), is16 = depth == 16;
    if ((j->rc = vis_image_check_size(j->path, (int)(w > INT32_MAX ? 0 : w),
                                      (int)(h > INT32_MAX ? 0 : h), ch, is16)) != DG_OK) {
        j->why[0] = 0; /* vis_image_check_size has said why */
        longjmp(j->jump, 1);
    }
    j->w = (int)w, j->h = (int)h;
    const size_t row_bytes = png_get_rowbytes(j->png, j->info);
    j->data = malloc(row_bytes * (passes > 1 ? h : 1));
    j->px = malloc((size_t)w * h);
    if (!j->data || !j->px) {
        j->rc = DG_ENOMEM;
        snprintf(j->why, sizeof j->why, "needs more memory than there is");
        longjmp(j->jump, 1);
    }
    j->rc = DG_EFORMAT; /* what a longjmp from here on means */
    png_read_grey(j, passes, row_bytes, ch, is16);
    j->rc = DG_OK;
}

/* The size the IHDR chunk at the start of f claims, checked before libpng reads on (it reads
 * every chunk up to the pixels before it says the size, so a small file claiming a huge picture
 * would otherwise fail for its missing chunks, not for its size). Channels as decoded: a palette
 * becomes RGB, and grey or colour may gain an alpha channel from a tRNS chunk not yet seen. f is
 * rewound. */
static int png_header_size(FILE *f, const char *path)
{
    uint8_t h[26];
    const size_t n = fread(h, 1, sizeof h, f);
    rewind(f);
    if (n < sizeof h || memcmp(h + 12, "IHDR", 4))
        return DG_OK; /* libpng says what is wrong */
    const uint32_t w = (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 | (uint32_t)h[18] << 8 | h[19];
    const uint32_t ht =
        (uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 | (uint32_t)h[22] << 8 | h[23];
    const int depth = h[24], type = h[25];
    /* grey (0) and grey + alpha (4) at most 2; palette (3), RGB (2), RGBA (6) at most 4 */
    const int ch = type == 0 || type == 4 ? 2 : 4;
    return vis_image_check_size(path, w > INT32_MAX ? 0 : (int)w, ht > INT32_MAX ? 0 : (int)ht, ch,
                                depth == 16);
}

/* ---- the PNG fast path ------------------------------------------------------------------------
 */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Undoes PNG filter f (1 sub, 2 up, 3 average, 4 Paeth; 0 none) of the n bytes of row, bpp bytes a
 * pixel, over the previous row's bytes prev (NULL for the first row). 0 for an unknown filter.
 * Inlined with bpp a constant (png_unfilter), the average and Paeth loops keep each channel's
 * left neighbour in a register: they ran at a byte per ~1.3 ns with bpp a variable. */
DG_INLINE int unfilter_row(uint8_t *restrict row, const uint8_t *restrict prev, size_t n,
                           const int bpp, int f)
{
    switch (f) {
    case 0: return 1;
    case 1:
        for (size_t i = (size_t)bpp; i < n; i++)
            row[i] = (uint8_t)(row[i] + row[i - bpp]);
        return 1;
    case 2:
        if (prev)
            for (size_t i = 0; i < n; i++)
                row[i] = (uint8_t)(row[i] + prev[i]);
        return 1;
    case 3:
        for (size_t i = 0; i < n; i++) {
            const int l = i >= (size_t)bpp ? row[i - bpp] : 0, u = prev ? prev[i] : 0;
            row[i] = (uint8_t)(row[i] + ((l + u) >> 1));
        }
        return 1;
    case 4:
        for (size_t i = 0; i < n; i++) {
            const int l = i >= (size_t)bpp ? row[i - bpp] : 0, u = prev ? prev[i] : 0;
            const int c = prev && i >= (size_t)bpp ? prev[i - bpp] : 0;
            const int p = l + u - c, pa = abs(p - l), pb = abs(p - u), pc = abs(p - c);
            row[i] = (uint8_t)(row[i] + (pa <= pb && pa <= pc ? l : pb <= pc ? u : c));
        }
        return 1;
    default: return 0;
    }
}

static int png_unfilter(uint8_t *row, const uint8_t *prev, size_t n, int bpp, int f)
{
    switch (bpp) {
    case 1: return unfilter_row(row, prev, n, 1, f);
    case 2: return unfilter_row(row, prev, n, 2, f);
    case 3: return unfilter_row(row, prev, n, 3, f);
    default: return unfilter_row(row, prev, n, 4, f);
    }
}

/* The chunks of the PNG d[0 .. n) as the fast path takes them: IHDR first (8 bits, grey, grey +
 * alpha, RGB or RGBA, not interlaced), IDATs in one run, IEND; no tRNS, no critical chunk it does
 * not know, every CRC right. Sets the size, channels and the IDAT run's first chunk and total
 * bytes; 0 when the file is anything else. */
static int png_fast_chunks(const uint8_t *d, size_t n, uint32_t *w, uint32_t *h, int *ch,
                           size_t *idat_at, size_t *idat_bytes, int *n_idat)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (n < 8 || memcmp(d, sig, 8))
        return 0;
    int run = 0; /* IDATs: 0 none yet, 1 in their run, 2 after it */
    *n_idat = 0, *idat_bytes = 0, *ch = 0;
    for (size_t pos = 8; pos + 12 <= n;) {
        const uint32_t len = be32(d + pos);
        if (len > n - pos - 12)
            return 0;
        const uint8_t *type = d + pos + 4, *body = d + pos + 8;
        if (be32(body + len) != (uint32_t)libdeflate_crc32(0, type, (size_t)len + 4))
            return 0;
        if (!*ch) {
            if (memcmp(type, "IHDR", 4) || len != 13 || body[8] != 8 || body[10] || body[11] ||
                body[12])
                return 0;
            *w = be32(body), *h = be32(body + 4);
            *ch = body[9] == 0 ? 1 : body[9] == 2 ? 3 : body[9] == 4 ? 2 : body[9] == 6 ? 4 : 0;
            if (!*ch || !*w || !*h || *w > INT32_MAX || *h > INT32_MAX)
                return 0;
        } else if (!memcmp(type, "IDAT", 4)) {
            if (run == 2)
                return 0;
            if (!run)
                *idat_at = pos, run = 1;
            ++*n_idat, *idat_bytes += len;
        } else {
            run = run ? 2 : 0;
            if (!memcmp(type, "IEND", 4))
                return *n_idat > 0;
            if (!memcmp(type, "tRNS", 4) || !(type[0] & 0x20)) /* PLTE: a palette picture */
                return 0;
        }
        pos += (size_t)len + 12;
    }
    return 0;
}

/* Past this many bytes of filtered rows libpng's row-at-a-time reading is left to do it. */
enum { PNG_FAST_MAX_RAW = 64 << 20 };

int vis_png_fast(const uint8_t *d, size_t n, struct vis_image *img)
{
    uint32_t w = 0, h = 0;
    int ch = 0, n_idat = 0;
    size_t idat_at = 0, zn = 0;
    if (!png_fast_chunks(d, n, &w, &h, &ch, &idat_at, &zn, &n_idat) ||
        (uint64_t)w * h > VIS_MAX_PIXELS)
        return 0;
    const size_t row_n = (size_t)w * ch + 1, raw_n = row_n * h;
    if ((uint64_t)row_n * h > PNG_FAST_MAX_RAW)
        return 0;
    uint8_t *joined = NULL; /* the IDAT run's data in one piece, when it is in several chunks */
    const uint8_t *z = d + idat_at + 8;
    if (n_idat > 1) {
        if (!(joined = malloc(zn)))
            return 0;
        size_t at = idat_at, k = 0;
        for (int i = 0; i < n_idat; i++) {
            const uint32_t len = be32(d + at);
            memcpy(joined + k, d + at + 8, len);
            k += len, at += (size_t)len + 12;
        }
        z = joined;
    }
    struct libdeflate_decompressor *dc = libdeflate_alloc_decompressor();
    uint8_t *raw = malloc(raw_n), *px = malloc((size_t)w * h);
    size_t got = 0;
    int ok = dc && raw && px &&
             libdeflate_zlib_decompress(dc, z, zn, raw, raw_n, &got) == LIBDEFLATE_SUCCESS &&
             got == raw_n;
    for (uint32_t y = 0; ok && y < h; y++) {
        uint8_t *row = raw + (size_t)y * row_n;
        ok = png_unfilter(row + 1, y ? row + 1 - row_n : NULL, row_n - 1, ch, row[0]);
        if (ok)
            vis_grey_from_decoded(row + 1, w, ch, 0, px + (size_t)y * w);
    }
    libdeflate_free_decompressor(dc);
    free(joined);
    free(raw);
    if (!ok) {
        free(px);
        return 0;
    }
    *img = (struct vis_image){(int)w, (int)h, px};
    return 1;
}

/* A regular file of up to this many bytes is read whole and tried on the fast path first. */
enum { PNG_FAST_MAX_FILE = 64 << 20 };

int vis_png_decode(FILE *f, const char *path, struct vis_image *img)
{
    struct stat st;
    const int fd = fileno(f);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        st.st_size <= PNG_FAST_MAX_FILE) {
        const size_t size = (size_t)st.st_size;
        uint8_t *d = malloc(size);
        const int done = d && fread(d, 1, size, f) == size && vis_png_fast(d, size, img);
        free(d);
        if (done)
            return DG_OK;
        rewind(f);
    }
    int rc = png_header_size(f, path);
    if (rc != DG_OK)
        return rc;
    struct png_job *j = calloc(1, sizeof *j);
    if (!j)
        return dg_fail(DG_ENOMEM, "out of memory for %s", path);
    j->f = f;
    j->path = path;
    j->rc = DG_EFORMAT;
    j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, png_on_error, png_on_warning);
    j->info = j->png ? png_create_info_struct(j->png) : NULL;
    if (j->info)
        png_run(j);
    else
        j->rc = DG_ENOMEM, snprintf(j->why, sizeof j->why, "needs more memory than there is");
    png_destroy_read_struct(j->png ? &j->png : NULL, j->info ? &j->info : NULL, NULL);
    free(j->data);
    rc = hand_over(j->rc, path, j->why, j->w, j->h, j->px, img);
    free(j);
    return rc;
}
