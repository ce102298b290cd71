/* decode.h - the vision module's own decoders for the two formats cameras, phones and scanners
 * write, on libraries Debian maintains for security: JPEG with libjpeg-turbo, PNG with libpng
 * (the commonest PNGs inflated by libdeflate and unfiltered here).
 * Private to src/vision (image.c dispatches to them by the file's first bytes). */
#ifndef VIS_DECODE_H
#define VIS_DECODE_H

#include <stdio.h>

#include "vis.h"

/* Both read the open file f from its start (f stays open; the caller closes it), check the size
 * the header claims against VIS_MAX_PIXELS and VIS_MAX_DECODED_BYTES before allocating pixels,
 * and decode row by row into 8-bit grey as vis_image_load documents. A file that ends early is
 * "cut short"; damaged data is refused, never read as a picture. path names the file in the
 * one-line reason. img untouched on failure. */
int vis_jpeg_decode(FILE *f, const char *path, struct vis_image *img);
int vis_png_decode(FILE *f, const char *path, struct vis_image *img);
/* The PNG in memory d[0 .. n) into img as vis_png_decode would, when it is of the commonest kind:
 * 8 bits a channel, grey, grey + alpha, RGB or RGBA, not interlaced, no tRNS chunk, every chunk's
 * CRC and the zlib checksum right, its rows exactly the data (inflated by libdeflate). Returns 1
 * when it decoded, 0 (img untouched, nothing said) for anything else, which vis_png_decode then
 * leaves to libpng: its errors and its handling of every other layout stay the reference. */
int vis_png_fast(const uint8_t *d, size_t n, struct vis_image *img);

/* (image.c) DG_OK when a w x h picture of ch channels (16 bits each when is16, else 8) is within
 * VIS_MAX_PIXELS and VIS_MAX_DECODED_BYTES; else fails with a one-line reason naming path. */
int vis_image_check_size(const char *path, int w, int h, int ch, int is16);
/* (image.c) n decoded pixels of ch channels (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) of 8 bits, or
 * of 16 in host order when is16, to 8-bit grey as vis_image_load documents. */
void vis_grey_from_decoded(const void *data, size_t n, int ch, int is16, uint8_t *grey);

#endif
