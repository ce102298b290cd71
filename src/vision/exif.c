/* exif.c - the EXIF orientation of a JPEG (how a phone held sideways says which way is up) and
 * turning a grey image upright by it. Only what orientation needs is parsed: the JPEG's marker
 * segments up to the first scan, the APP1 "Exif" segment's TIFF header and its first IFD. */
#include "vis.h"

#include <stdlib.h>
#include <string.h>

static unsigned get16(const uint8_t *p, int big)
{
    return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t get32(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The orientation tag (0x0112) of a TIFF structure of n bytes, or 1. */
static int tiff_orientation(const uint8_t *t, size_t n)
{
    if (n < 8)
        return 1;
    int big;
    if (t[0] == 'I' && t[1] == 'I')
        big = 0;
    else if (t[0] == 'M' && t[1] == 'M')
        big = 1;
    else
        return 1;
    if (get16(t + 2, big) != 42)
        return 1;
    const uint32_t ifd = get32(t + 4, big);
    if (ifd > n - 2)
        return 1;
    const unsigned count = get16(t + ifd, big);
    for (unsigned i = 0; i < count; i++) {
        const size_t e = ifd + 2 + (size_t)i * 12;
        if (e + 12 > n)
            return 1;
        if (get16(t + e, big) != 0x0112)
            continue;
        const unsigned type = get16(t + e + 2, big);
        if (type != 3 || get32(t + e + 4, big) != 1) /* one SHORT */
            return 1;
        const unsigned v = get16(t + e + 8, big);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

int vis_exif_orientation(const uint8_t *buf, size_t n)
{
    if (n < 4 || buf[0] != 0xFF || buf[1] != 0xD8)
        return 1;
    size_t p = 2;
    while (p + 4 <= n) {
        if (buf[p] != 0xFF)
            return 1;
        const uint8_t m = buf[p + 1];
        if (m == 0xFF) { /* fill byte */
            p++;
            continue;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { /* markers without a length */
            p += 2;
            continue;
        }
        if (m == 0xDA || m == 0xD9) /* start of scan or end of image: no EXIF before it */
            return 1;
        const size_t len = (size_t)buf[p + 2] << 8 | buf[p + 3];
        if (len < 2 || p + 2 + len > n)
            return 1;
        const uint8_t *seg = buf + p + 4;
        const size_t seg_n = len - 2;
        if (m == 0xE1 && seg_n >= 6 && !memcmp(seg, "Exif\0\0", 6))
            return tiff_orientation(seg + 6, seg_n - 6);
        p += 2 + len;
    }
    return 1;
}

int vis_image_orient(struct vis_image *img, int orientation)
{
    if (orientation < 1 || orientation > 8)
        return dg_fail(DG_EARG, "EXIF orientation %d is not 1..8", orientation);
    if (orientation == 1)
        return DG_OK;
    const int w = img->w, h = img->h, swap = orientation >= 5;
    const int ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *out = malloc((size_t)w * h);
    if (!out)
        return dg_fail(DG_ENOMEM, "out of memory turning a %dx%d image upright", w, h);
    /* out(x, y) = in(sx, sy), in the orientation tag's meaning: how the stored rows must be
     * turned to show the picture upright */
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            switch (orientation) {
            case 2: sx = w - 1 - x, sy = y; break;         /* mirrored */
            case 3: sx = w - 1 - x, sy = h - 1 - y; break; /* upside down */
            case 4: sx = x, sy = h - 1 - y; break;         /* mirrored upside down */
            case 5: sx = y, sy = x; break;                 /* transposed */
            case 6: sx = y, sy = h - 1 - x; break;         /* turned 90 degrees clockwise */
            case 7: sx = w - 1 - y, sy = h - 1 - x; break; /* transversed */
            default: sx = w - 1 - y, sy = x; break;        /* 8: 90 degrees anticlockwise */
            }
            out[(size_t)y * ow + x] = img->px[(size_t)sy * w + sx];
        }
    free(img->px);
    img->px = out;
    img->w = ow;
    img->h = oh;
    return DG_OK;
}
