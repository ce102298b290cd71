/* idx.c - IDX parsing and MNIST loading. The parsers work on bytes in memory so the fuzzer can
 * drive them; the loaders add files and gzip. */
#include "data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { MAX_SIDE = 4096, MAX_ITEMS = 10000000 };
/* 60,000 x 28 x 28 is 47 MB; allow generous headroom but refuse absurd files. */
#define MAX_IDX_BYTES ((size_t)1 << 30)

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int data_idx_parse_images(const unsigned char *buf, size_t n_bytes, uint8_t **out, int *n,
                          int *rows, int *cols)
{
    if (n_bytes < 16)
        return dg_fail(DG_EFORMAT, "IDX image file is %zu bytes, shorter than its 16-byte header",
                       n_bytes);
    uint32_t magic = be32(buf);
    if (magic != 0x00000803)
        return dg_fail(DG_EFORMAT,
                       "not an IDX image file: magic is 0x%08x, expected 0x00000803 (unsigned "
                       "bytes, 3 dimensions)",
                       (unsigned)magic);
    uint32_t cnt = be32(buf + 4), r = be32(buf + 8), c = be32(buf + 12);
    if (cnt < 1 || cnt > MAX_ITEMS)
        return dg_fail(DG_EFORMAT, "IDX image file claims %u images (allowed 1..%d)", (unsigned)cnt,
                       MAX_ITEMS);
    if (r < 1 || r > MAX_SIDE || c < 1 || c > MAX_SIDE)
        return dg_fail(DG_EFORMAT, "IDX image file claims %ux%u images (allowed 1..%d per side)",
                       (unsigned)r, (unsigned)c, MAX_SIDE);
    size_t need = (size_t)cnt * r * c; /* < 10^7 * 2^24: fits in 64 bits */
    if (n_bytes - 16 != need)
        return dg_fail(DG_EFORMAT,
                       "IDX image file has %zu bytes of pixels, but %u images of %ux%u need %zu "
                       "(truncated or corrupt)",
                       n_bytes - 16, (unsigned)cnt, (unsigned)r, (unsigned)c, need);
    uint8_t *px = malloc(need);
    if (!px)
        return dg_fail(DG_ENOMEM, "out of memory for %zu bytes of images", need);
    memcpy(px, buf + 16, need);
    *out = px;
    *n = (int)cnt;
    *rows = (int)r;
    *cols = (int)c;
    return DG_OK;
}

/* Labels 0..max_label. */
static int parse_labels(const unsigned char *buf, size_t n_bytes, int max_label, uint8_t **out,
                        int *n)
{
    if (n_bytes < 8)
        return dg_fail(DG_EFORMAT, "IDX label file is %zu bytes, shorter than its 8-byte header",
                       n_bytes);
    uint32_t magic = be32(buf);
    if (magic != 0x00000801)
        return dg_fail(DG_EFORMAT,
                       "not an IDX label file: magic is 0x%08x, expected 0x00000801 (unsigned "
                       "bytes, 1 dimension)",
                       (unsigned)magic);
    uint32_t cnt = be32(buf + 4);
    if (cnt < 1 || cnt > MAX_ITEMS)
        return dg_fail(DG_EFORMAT, "IDX label file claims %u labels (allowed 1..%d)", (unsigned)cnt,
                       MAX_ITEMS);
    if (n_bytes - 8 != cnt)
        return dg_fail(DG_EFORMAT,
                       "IDX label file has %zu label bytes but claims %u (truncated or corrupt)",
                       n_bytes - 8, (unsigned)cnt);
    for (uint32_t i = 0; i < cnt; i++)
        if (buf[8 + i] > max_label)
            return dg_fail(
                DG_EFORMAT, "IDX label file: label %u is %u, not %s", (unsigned)i, buf[8 + i],
                max_label == 9 ? "a digit 0..9" : "0..9, 10 (not a digit) or 11 (two digits)");
    uint8_t *lb = malloc(cnt);
    if (!lb)
        return dg_fail(DG_ENOMEM, "out of memory for labels");
    memcpy(lb, buf + 8, cnt);
    *out = lb;
    *n = (int)cnt;
    return DG_OK;
}

int data_idx_parse_labels(const unsigned char *buf, size_t n_bytes, uint8_t **out, int *n)
{
    return parse_labels(buf, n_bytes, 9, out, n);
}

/* Reads a file through zlib, which passes plain files through unchanged. */
static int read_gz(const char *path, unsigned char **out, size_t *n_bytes)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return dg_fail(DG_EIO, "cannot open %s: %s", path, strerror(errno ? errno : ENOENT));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = DG_OK;
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_IDX_BYTES) {
                rc = dg_fail(DG_EFORMAT, "%s is larger than %zu bytes: not an MNIST file", path,
                             MAX_IDX_BYTES);
                break;
            }
            size_t ncap = cap ? cap * 2 : 1 << 20;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = dg_fail(DG_ENOMEM, "out of memory reading %s", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - len;
        if (want > (1u << 30))
            want = 1u << 30;
        int got = gzread(f, buf + len, (unsigned)want);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            rc = dg_fail(DG_EFORMAT, "cannot read %s: %s (corrupt gzip?)", path, msg);
            break;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    gzclose(f);
    if (rc != DG_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *n_bytes = len;
    return DG_OK;
}

int data_read_maybe_gz(const char *path, unsigned char **out, size_t *n_bytes)
{
    FILE *probe = fopen(path, "rb");
    if (probe) {
        fclose(probe);
        return read_gz(path, out, n_bytes);
    }
    char gz[4096];
    if (snprintf(gz, sizeof gz, "%s.gz", path) >= (int)sizeof gz)
        return dg_fail(DG_EARG, "path too long: %s", path);
    probe = fopen(gz, "rb");
    if (!probe)
        return dg_fail(DG_EIO, "cannot open %s (nor %s.gz): %s", path, path, strerror(errno));
    fclose(probe);
    return read_gz(gz, out, n_bytes);
}

static int load_pair(const char *images_path, const char *labels_path, int max_label,
                     struct data_set *out)
{
    unsigned char *buf;
    size_t len;
    struct data_set s = {0};
    int n_labels = 0, rc = data_read_maybe_gz(images_path, &buf, &len);
    if (rc != DG_OK)
        return rc;
    rc = data_idx_parse_images(buf, len, &s.images, &s.n, &s.rows, &s.cols);
    free(buf);
    if (rc != DG_OK)
        return dg_fail(rc, "%s: %s", images_path, dg_errmsg());
    rc = data_read_maybe_gz(labels_path, &buf, &len);
    if (rc != DG_OK) {
        data_set_free(&s);
        return rc;
    }
    rc = parse_labels(buf, len, max_label, &s.labels, &n_labels);
    free(buf);
    if (rc != DG_OK) {
        data_set_free(&s);
        return dg_fail(rc, "%s: %s", labels_path, dg_errmsg());
    }
    if (n_labels != s.n) {
        const int n_images = s.n;
        data_set_free(&s);
        return dg_fail(DG_EFORMAT, "%s has %d images but %s has %d labels", images_path, n_images,
                       labels_path, n_labels);
    }
    *out = s;
    return DG_OK;
}

int data_load_pair(const char *images_path, const char *labels_path, struct data_set *out)
{
    return load_pair(images_path, labels_path, 9, out);
}

int data_load_examples(const char *images_path, const char *labels_path, struct data_set *out)
{
    return load_pair(images_path, labels_path, DATA_TWO_DIGITS, out);
}

int data_mnist_load(const char *dir, const char *split, struct data_set *out)
{
    char img[4096], lab[4096];
    if (snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte", dir, split) >= (int)sizeof img ||
        snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte", dir, split) >= (int)sizeof lab)
        return dg_fail(DG_EARG, "data directory path too long");
    return data_load_pair(img, lab, out);
}

void data_set_free(struct data_set *s)
{
    if (!s)
        return;
    free(s->images);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

void data_shuffle(uint32_t *perm, int n, struct dg_rng *rng)
{
    for (int i = n - 1; i > 0; i--) {
        uint32_t j = dg_rng_below(rng, (uint32_t)i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void data_batch(const struct data_set *s, const uint32_t *idx, int n, float *x, uint8_t *y)
{
    const size_t px = (size_t)s->rows * s->cols;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = s->images + (size_t)idx[i] * px;
        float *dst = x + (size_t)i * px;
        for (size_t j = 0; j < px; j++)
            dst[j] = (float)src[j] * (1.0f / 255.0f);
        if (y)
            y[i] = s->labels[idx[i]];
    }
}

/* ---- writing -------------------------------------------------------------------------------- */

struct idx_out {
    const uint8_t *data;
    size_t n_bytes;
    uint32_t header[4]; /* big-endian words: magic, count, and rows, cols for images */
    int n_header;
};

static int write_idx(struct dg_writer *wr, void *ctx)
{
    const struct idx_out *o = ctx;
    for (int i = 0; i < o->n_header; i++) {
        const uint32_t v = o->header[i];
        const unsigned char be[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                                     (unsigned char)(v >> 8), (unsigned char)v};
        int rc = dg_write_bytes(wr, be, 4);
        if (rc != DG_OK)
            return rc;
    }
    return dg_write_bytes(wr, o->data, o->n_bytes);
}

int data_idx_write(const char *images_path, const char *labels_path, const uint8_t *images,
                   const uint8_t *labels, int n, int rows, int cols)
{
    if (n < 1 || n > MAX_ITEMS || rows < 1 || cols < 1 || rows > MAX_SIDE || cols > MAX_SIDE)
        return dg_fail(DG_EARG, "IDX: cannot write %d images of %dx%d", n, rows, cols);
    struct idx_out im = {images,
                         (size_t)n * rows * cols,
                         {0x00000803, (uint32_t)n, (uint32_t)rows, (uint32_t)cols},
                         4};
    struct idx_out lb = {labels, (size_t)n, {0x00000801, (uint32_t)n, 0, 0}, 2};
    int rc = dg_write_atomic(images_path, write_idx, &im);
    return rc == DG_OK ? dg_write_atomic(labels_path, write_idx, &lb) : rc;
}
