/* vis.h - grey images and MNIST-style digit normalisation: loading any image file into 8-bit grey,
 * and turning a picture of one digit into the 28x28 input the network was trained on. Knows
 * nothing of networks, cameras or windows.
 * Images are row-major, one byte per pixel, stride == width; 0 is black. */
#ifndef VIS_H
#define VIS_H

#include <stddef.h>
#include <stdint.h>

#include "dg.h"

/* The largest image accepted from a file: 64 megapixels. */
enum { VIS_MAX_PIXELS = 64 << 20 };
/* ... and at most this many bytes decoded, all channels at their depth, before conversion to grey
 * (64 megapixels of 8-bit RGBA; 16-bit colour images are limited to half as many pixels). */
enum { VIS_MAX_DECODED_BYTES = 256 << 20 };

struct vis_image {
    int w, h;
    uint8_t *px; /* owned; w*h bytes */
};

/* Allocates a w x h image filled with 0. */
int vis_image_init(struct vis_image *img, int w, int h);
/* img becomes w x h for an output: its pixels are kept (as they are) when it already has that
 * size, else freed and allocated afresh (filled with 0); on failure img is untouched. */
int vis_image_fit(struct vis_image *img, int w, int h);
void vis_image_destroy(struct vis_image *img);
/* out = in shrunk by the whole factor f >= 1, each pixel the mean of an f x f block (the columns
 * and rows past the last whole block dropped); out's pixels are reused when it already has the
 * size, else freed and reallocated; sum is scratch of in->w entries. DG_EARG when in is smaller
 * than one block. */
int vis_image_shrink(const struct vis_image *in, int f, struct vis_image *out, uint32_t *sum);
/* out = in enlarged by the whole factor f >= 1 with bilinear interpolation between pixel centres
 * (edges held); out's pixels are reused when it already has the size. DG_EARG for an empty image
 * or a factor outside 1..1024 or that would overflow, DG_ENOMEM. */
int vis_image_enlarge(const struct vis_image *in, int f, struct vis_image *out);
/* The grey level that a tenth of the pixels of every row_step-th row of the w x h pixels px
 * (rows stride bytes apart) reach or pass: the paper's level in most camera frames. */
int vis_bright_tenth(const uint8_t *px, int w, int h, size_t stride, int row_step);
/* The image's sensor noise as a share of its paper's grey level: sigma (grey levels) from the
 * quarter of horizontal neighbour differences that are smallest, on every 16th row (flat paper
 * and desk, not edges or texture; a quarter of |N(0, 2 sigma^2)| lies under 0.4506 sigma), over
 * the level a tenth of the pixels are brighter than (at least 32). About 0.005-0.02 for a camera
 * in good light; 0.04 and more for a dim one's gained-up frames. 0 for an image under 2x4.
 * *bright (unless NULL) gets that level, as it was measured (before the floor of 32). */
float vis_noise_share(const struct vis_image *img, int *bright);
/* How blurred the image is, 0 (sharp) to 1 (flat): the share of its neighbour differences that
 * a box blur 9 pixels long would leave (Crete-Roffet et al., "The blur effect", 2007), along rows
 * and along columns, whichever is less: blurred both ways, as a camera out of focus blurs, not
 * one way as a smear does. On every eighth row, 5 px in from the edges. About 0.2-0.4 for a
 * camera in focus, 0.4-0.55 out of focus; noise lowers it. 0 for an image under 16x16. */
float vis_blur_share(const struct vis_image *img);
/* out = in blurred by the binomial 3x3 kernel (1 2 1 by 1 2 1, / 16; a Gaussian of sigma 0.7),
 * edges held; out's pixels are reused when it already has the size; col is scratch of in->w
 * entries. DG_EARG for an empty image, DG_ENOMEM. */
int vis_image_smooth(const struct vis_image *in, struct vis_image *out, uint16_t *col);

/* The surroundings of a box (x, y, w, h) of grey as 28x28 bytes, for a network that judges a
 * candidate by what is around it (a word's letters, a texture, an object's edge, paper): a square
 * VIS_CONTEXT_SCALE times the box's longer side, centred on the box, each cell the mean of grey
 * over its part of the square (at most about 4x4 pixels sampled a cell); the levels measured from
 * the square's median cell (the paper, or whatever surrounds the box) with the box's ink side
 * up: the side, darker or lighter than that median, that departs further in the middle third,
 * scaled by that departure (at least 8 levels), as 128 + 127 * departure clamped to 0..255;
 * cells outside the image 0. */
enum { VIS_CONTEXT_SCALE = 3 };
void vis_context_patch(const struct vis_image *grey, int x, int y, int w, int h, uint8_t out[784]);

/* Loads PNG, JPEG, BMP, PGM/PPM, GIF, TGA (8 or 16 bits, grey/RGB/RGBA) into grey with the
 * Rec. 601 luma weights; alpha composites onto white; a JPEG is turned upright by its EXIF
 * orientation. Fails with a one-line reason for missing,
 * unreadable, truncated, empty or over-large (VIS_MAX_PIXELS, VIS_MAX_DECODED_BYTES) files; img
 * untouched on failure. */
int vis_image_load(const char *path, struct vis_image *img);
/* The same for a file already in memory (data[0 .. n), named name in messages). */
int vis_image_load_mem(const void *data, size_t n, const char *name, struct vis_image *img);
/* Grey from 8-bit pixels bpp bytes apart (1: grey, copied; 3 or 4: red at byte r_at, green at 1,
 * blue at b_at, a fourth byte ignored), rows stride bytes apart, into w x h grey: Rec. 601 luma
 * rounded as vis_image_load rounds, so pixels from memory read as the same picture from a file. */
void vis_grey_from_pixels(const uint8_t *px, size_t stride, int w, int h, int bpp, int r_at,
                          int b_at, uint8_t *grey);
/* The EXIF orientation tag (1..8) of the JPEG whose first n bytes are buf; 1 (upright) when it
 * is not a JPEG, has no EXIF orientation before its first scan, or the tag is malformed. */
int vis_exif_orientation(const uint8_t *buf, size_t n);
/* Turns img upright by an EXIF orientation 1..8 (5..8 swap width and height). */
int vis_image_orient(struct vis_image *img, int orientation);
/* out = the largest (want_max) or smallest grey level of in (w x h) over the (2r+1)-wide square
 * around each pixel, clipped at the edges: a grey dilation or erosion, in about log2(r) + 3
 * passes a direction. in and out must not overlap; scratch holds VIS_EXTREME_SCRATCH(w, h)
 * bytes. */
#define VIS_EXTREME_SCRATCH(w, h) ((size_t)(w) * (h)*2 + 2 * (size_t)(w))
void vis_grey_extreme(const uint8_t *in, uint8_t *out, int w, int h, int r, int want_max,
                      uint8_t *scratch);
/* An unsharp mask over the box (x, y, w, h) of g, which must lie inside it: out (g's size, only
 * the box's pixels written) = g + amount * (g - blur), blur the binomial filter of 9 taps a
 * direction (a Gaussian of sigma 1.4), reading g's pixels beyond the box and clamped at its
 * edges; in integers, the amount rounded to 1/256ths. scratch: VIS_SHARPEN_SCRATCH(w, h)
 * uint32s. Restores the contrast a camera's blur took from thin strokes. */
#define VIS_SHARPEN_SCRATCH(w, h) (VIS_SHARPEN_COL_AT(w, h) + (size_t)(w))
/* (where vis_sharpen_box's column sums start: after (h + 8) rows and one padded row of uint16s) */
#define VIS_SHARPEN_COL_AT(w, h) (((size_t)(w) * ((size_t)(h) + 8) + (size_t)(w) + 8 + 1) / 2)
void vis_sharpen_box(const struct vis_image *g, int x, int y, int w, int h, float amount,
                     uint8_t *out, uint32_t *scratch);
/* 8-bit RGB (bpp 3) or RGBA (bpp 4, alpha ignored) to grey with the loader's Rec. 601 weights in
 * integer form (77, 150, 29)/256: w x h pixels read with rgb_stride bytes per row, written with w
 * bytes per row. For video frames (the live window's RGB, the browser's RGBA). */
void vis_grey_from_rgb(const uint8_t *rgb, size_t rgb_stride, int w, int h, int bpp, uint8_t *grey);
/* Writes 8-bit grey (channels 1) or RGB (channels 3) pixels as PNG, atomically. */
int vis_png_write(const char *path, const uint8_t *px, int w, int h, int channels);

enum vis_polarity { VIS_POLARITY_AUTO, VIS_POLARITY_DARK_ON_LIGHT, VIS_POLARITY_LIGHT_ON_DARK };

/* The polarity of an image holding one digit, from its border: dark ink when the outer ring (a
 * tenth of the shorter side) is at least as light as the whole picture, else light ink. */
enum vis_polarity vis_border_polarity(const struct vis_image *img);

/* MNIST normalisation of an image holding one digit: to white ink on black (polarity from the
 * border when AUTO), background removed, cropped to the ink, the longer side scaled to 20 px with
 * area averaging (aspect kept), placed in 28x28 so that the centre of mass is at the centre.
 * out: 784 floats in [0, 1]. DG_EARG when the image holds no ink. */
int vis_mnist_normalize(const struct vis_image *img, enum vis_polarity pol, float out[784]);

/* The same, starting from an ink map (0 = paper, 255 = full ink) of w x h with the given stride:
 * crop, scale to 20 px on the longer side by area averaging, centre by mass in 28x28. */
int vis_mnist_from_ink(const uint8_t *ink, int w, int h, size_t stride, float out[784]);

/* Ink/paper separation. window: side of the local neighbourhood in pixels (0: a twelfth of the
 * shorter image side); contrast: how much darker than the paper behind it a pixel must be to be
 * ink, in grey levels (16), and share: at least this share of the strongest stroke nearby (0.4);
 * polarity: which of ink and paper is darker (AUTO: vis_guess_polarity's guess). */
struct vis_threshold_params {
    int window, contrast;
    float share;
    float max_stroke; /* the widest stroke, as a fraction of the shorter side (1/16) */
    enum vis_polarity polarity;
};
void vis_threshold_default_params(struct vis_threshold_params *p);

/* Scratch memory for the segmentation stages below (threshold, line removal, components). It
 * only grows, to the largest image seen: a stream of same-sized frames allocates nothing after the
 * first. One per thread; results the stages hand out (components) live in it until its next use. */
struct vis_work;
int vis_work_new(struct vis_work **out);
void vis_work_free(struct vis_work *wk); /* accepts NULL */

/* Dark ink on light paper, or light chalk on a dark board: whichever way pixels depart further
 * from their local mean (ink is the rare, strong departure; a light gradient is not). *sure
 * (nullable) = 0 when the guess is light ink but dark departures are there too: a bright sheet on
 * a dark desk, whose writing is dark, looks like that, and only reading it both ways tells (the
 * scanner does: rec_scan). DG_EARG for an empty image, DG_ENOMEM. */
int vis_guess_polarity(const struct vis_image *grey, struct vis_work *wk, enum vis_polarity *pol,
                       int *sure);

/* Strokes against the paper behind them: the paper is the grey closing of a 2x2-averaged copy by a
 * square p->max_stroke of the shorter side wide (the strokes closed over), and a pixel is ink when
 * it is darker than that paper by p->contrast and by p->share of the strongest stroke in the
 * neighbourhood around it (p->window, about a quarter of the shorter side); in a frame whose
 * brightest tenth is under 100 (a camera short of light), p->contrast shrinks with it, to 8 at
 * least. The edge of a sheet,
 * a desk or a dark object is a step, not a stroke, and stays paper.
 * mask becomes a w x h image with 255 for ink and 0 for paper (its pixels are reused when it
 * already has that size, else freed and reallocated); *found (nullable) gets the polarity used.
 * Robust to light gradients and to shadows wider than a stroke. */
int vis_threshold(const struct vis_image *grey, const struct vis_threshold_params *p,
                  struct vis_work *wk, struct vis_image *mask, enum vis_polarity *found);

/* Erases ruled and squared-paper lines from an ink mask. A line is a connected stretch of
 * line-thin ink (at most max_thick pixels across) at least min_len_h (horizontal) or min_len_v
 * (vertical) long, straight within a slope of about 1 in 8; it is fitted by least squares and
 * followed across the whole image, so the short pieces between digits go too. On its path, thin
 * ink is erased, and ink where two lines cross; a digit's stroke crossing the line is thicker
 * there and keeps its pixels. A digit the line cut through falls apart into pieces that fragment
 * joining puts back together. */
int vis_remove_lines(struct vis_image *mask, struct vis_work *wk, int min_len_h, int min_len_v,
                     int max_thick);

/* Erases rows of printed boxes (a form's comb) from an ink mask: a top and a bottom edge
 * (straight lines at most max_thick thick, at least min_side long, tilted up to about 1 in 2) with
 * walls square to them at both ends and inner walls, full or rising from the bottom, dividing
 * the row evenly into two boxes or more (a lone box may be a frame drawn round a number, and is
 * left). The edges' and walls' thin ink goes, and all ink where a wall meets an edge; a digit
 * crossing them keeps its thicker strokes. min_side 0: nothing is done. */
int vis_remove_boxes(struct vis_image *mask, struct vis_work *wk, int min_side, int max_thick);

/* A connected group of ink pixels (8-connectivity): inclusive box, pixel count, centre of mass in
 * pixel-centre coordinates. */
struct vis_component {
    int x0, y0, x1, y1;
    int area;
    float cx, cy;
};

/* A horizontal run of ink [x0, x1] in row y, and its component (0-based). */
struct vis_run {
    int32_t x0, x1, y, comp;
};

/* Labels the non-zero pixels of mask into components, run by run: *out points to n components
 * (index = label - 1), numbered in raster order of first appearance, valid until wk's next use.
 * When labels is not NULL, *labels points to a w*h label image inside wk, 0 for paper and 1..n
 * for ink (for a stream of same-sized frames only the previous frame's ink is cleared, not the
 * whole image); with NULL none is written, which saves a pass over every ink pixel when the
 * runs (vis_components_runs) are all the caller needs. */
int vis_components(const struct vis_image *mask, struct vis_work *wk, const int32_t **labels,
                   const struct vis_component **out, int *n_out);
/* After vis_components: its *n_runs runs in raster order, valid until wk's next use. */
const struct vis_run *vis_components_runs(const struct vis_work *wk, size_t *n_runs);

/* Draws text with a built-in 3x5 pixel font (digits, space and ">?.:-%") into an RGB buffer of
 * w x h, each font pixel a scale x scale square; clipped at the edges. Other characters are
 * skipped. */
void vis_draw_text(uint8_t *rgb, int w, int h, int x, int y, const char *text, int scale,
                   const uint8_t color[3]);

/* Draws the outline of a box (x, y, w, h), thickness t pixels inside it, into an RGB buffer;
 * clipped at the edges. */
void vis_draw_rect(uint8_t *rgb, int w, int h, int x, int y, int bw, int bh, int t,
                   const uint8_t color[3]);

#endif
