/* decode.c - JPEG (libjpeg-turbo) and PNG (libpng) to 8-bit grey, row by row, refusing cut and
 * damaged files and sizes over the budget before the pixels are allocated. Both libraries report
 * errors by longjmp from a callback; each decoder keeps all its state in a job struct owned by
 * its caller, so nothing the jump skips over is a local of the function that called setjmp. */
#include "decode.h"

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int vis_png_decode(FILE *f, const char *path, struct vis_image *img)
{
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
