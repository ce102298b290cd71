/* test_data_idx.c - the IDX reader on valid, truncated, mislabelled and absurd files (raw and
 * gzip), MNIST verification, shuffling and batching. */
#define _DEFAULT_SOURCE
#include "data.h"
#include "testutil.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static unsigned char *idx_images(int n, int rows, int cols, size_t *len)
{
    *len = 16 + (size_t)n * rows * cols;
    unsigned char *b = calloc(*len, 1);
    const uint32_t hdr[4] = {0x803, (uint32_t)n, (uint32_t)rows, (uint32_t)cols};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            b[4 * i + j] = (unsigned char)(hdr[i] >> (24 - 8 * j));
    for (size_t i = 16; i < *len; i++)
        b[i] = (unsigned char)(i * 7);
    return b;
}

static void test_images_valid_and_bad(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = idx_images(3, 4, 5, &len);
    uint8_t *px = NULL;
    int n, r, c;
    assert_int_equal(data_idx_parse_images(b, len, &px, &n, &r, &c), DG_OK);
    assert_int_equal(n, 3);
    assert_int_equal(r, 4);
    assert_int_equal(c, 5);
    assert_memory_equal(px, b + 16, 60);
    free(px);
    px = NULL;
    /* truncated anywhere */
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(data_idx_parse_images(b, cut, &px, &n, &r, &c), DG_EFORMAT);
        assert_null(px);
    }
    /* trailing bytes */
    unsigned char *longer = calloc(len + 1, 1);
    memcpy(longer, b, len);
    assert_int_equal(data_idx_parse_images(longer, len + 1, &px, &n, &r, &c), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "truncated or corrupt"));
    free(longer);
    /* wrong magic, and a label file's magic */
    b[3] = 0x01;
    assert_int_equal(data_idx_parse_images(b, len, &px, &n, &r, &c), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "magic"));
    b[3] = 0x03;
    /* absurd dimensions: 2^31 images, 0 rows, 100000 columns */
    b[4] = 0x80;
    assert_int_equal(data_idx_parse_images(b, len, &px, &n, &r, &c), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "images"));
    b[4] = 0;
    b[11] = 0;
    assert_int_equal(data_idx_parse_images(b, len, &px, &n, &r, &c), DG_EFORMAT);
    b[11] = 4;
    b[13] = 0x01, b[14] = 0x86, b[15] = 0xa0;
    assert_int_equal(data_idx_parse_images(b, len, &px, &n, &r, &c), DG_EFORMAT);
    /* the largest count times the largest sides must not overflow the size check */
    memset(b + 4, 0xff, 12);
    assert_int_equal(data_idx_parse_images(b, len, &px, &n, &r, &c), DG_EFORMAT);
    assert_null(px);
    free(b);
}

static void test_labels(void **state)
{
    (void)state;
    unsigned char b[8 + 4] = {0, 0, 8, 1, 0, 0, 0, 4, 1, 9, 0, 5};
    uint8_t *lab = NULL;
    int n;
    assert_int_equal(data_idx_parse_labels(b, sizeof b, &lab, &n), DG_OK);
    assert_int_equal(n, 4);
    assert_int_equal(lab[1], 9);
    free(lab);
    lab = NULL;
    assert_int_equal(data_idx_parse_labels(b, sizeof b - 1, &lab, &n), DG_EFORMAT);
    b[9] = 10;
    assert_int_equal(data_idx_parse_labels(b, sizeof b, &lab, &n), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "not a digit"));
    b[9] = 9;
    b[3] = 3;
    assert_int_equal(data_idx_parse_labels(b, sizeof b, &lab, &n), DG_EFORMAT);
    assert_null(lab);
}

static char dir[64];

static void write_file(const char *name, const void *data, size_t n, int gz)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, gz ? ".gz" : "");
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        fclose(f);
    }
}

static int setup_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/dg_test_idx_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    const char *names[] = {"t10k-images-idx3-ubyte",    "t10k-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                           "train-images-idx3-ubyte",   "train-labels-idx1-ubyte"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

static void test_load_raw_and_gz(void **state)
{
    (void)state;
    size_t len;
    unsigned char *img = idx_images(4, 28, 28, &len);
    unsigned char lab[12] = {0, 0, 8, 1, 0, 0, 0, 4, 3, 1, 4, 1};
    for (int gz = 0; gz < 2; gz++) {
        write_file("t10k-images-idx3-ubyte", img, len, gz);
        write_file("t10k-labels-idx1-ubyte", lab, sizeof lab, gz);
        struct data_set s;
        assert_int_equal(data_mnist_load(dir, "t10k", &s), DG_OK);
        assert_int_equal(s.n, 4);
        assert_memory_equal(s.images, img + 16, len - 16);
        assert_int_equal(s.labels[2], 4);
        /* batching: floats in [0,1] in the order asked */
        uint32_t idx[2] = {3, 1};
        float x[2 * 784];
        uint8_t y[2];
        data_batch(&s, idx, 2, x, y);
        assert_int_equal(y[0], 1);
        assert_true(fabsf(x[5] - s.images[3 * 784 + 5] / 255.0f) < 1e-6f);
        data_set_free(&s);
        if (!gz)
            teardown_dir(NULL), setup_dir(NULL);
    }
    /* Disagreeing counts. */
    lab[7] = 3;
    write_file("t10k-labels-idx1-ubyte", lab, sizeof lab - 1, 1);
    struct data_set s = {0};
    assert_int_equal(data_mnist_load(dir, "t10k", &s), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "labels"));
    assert_non_null(strstr(dg_errmsg(), "has 4 images")); /* the count, not a freed set's 0 */
    /* A corrupt gzip stream. */
    char path[128];
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    FILE *f = fopen(path, "r+b");
    fseek(f, 20, SEEK_SET);
    fputs("garbage garbage garbage", f);
    fclose(f);
    assert_int_not_equal(data_mnist_load(dir, "t10k", &s), DG_OK);
    /* Missing files name what was looked for. */
    assert_int_equal(data_mnist_load(dir, "train", &s), DG_EIO);
    assert_non_null(strstr(dg_errmsg(), "train-images-idx3-ubyte"));
    free(img);
}

/* Mined examples: written atomically, read back exactly, labels 10 ("not a digit") and 11 ("two
 * digits") accepted there and only there. */
static void test_examples_round_trip(void **state)
{
    (void)state;
    uint8_t images[3 * 784], labels[3] = {7, DATA_NOT_DIGIT, DATA_TWO_DIGITS};
    for (int i = 0; i < 3 * 784; i++)
        images[i] = (uint8_t)(i * 31 % 256);
    char ip[160], lp[160];
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte", dir);
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte", dir);
    assert_int_equal(data_idx_write(ip, lp, images, labels, 3, 28, 28), DG_OK);
    struct data_set s = {0};
    assert_int_equal(data_load_examples(ip, lp, &s), DG_OK);
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.images, images, sizeof images);
    assert_memory_equal(s.labels, labels, sizeof labels);
    data_set_free(&s);
    /* MNIST itself has digits only */
    assert_int_equal(data_mnist_load(dir, "t10k", &s), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "not a digit 0..9"));
    labels[2] = 12;
    assert_int_equal(data_idx_write(ip, lp, images, labels, 3, 28, 28), DG_OK);
    assert_int_equal(data_load_examples(ip, lp, &s), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "11 (two digits)"));
    assert_int_equal(data_idx_write(ip, lp, images, labels, 0, 28, 28), DG_EARG);
}

static void test_verify_detects_corruption(void **state)
{
    (void)state;
    /* Fake files fail verification with a message naming the file. */
    write_file("train-images-idx3-ubyte", "abc", 3, 0);
    assert_int_equal(data_mnist_verify(dir), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "SHA-256"));
    assert_non_null(strstr(dg_errmsg(), "train-images"));
}

static void test_real_mnist_verifies(void **state)
{
    (void)state;
    char mnist[4096];
    repo_path(mnist, sizeof mnist, "data/mnist");
    if (data_mnist_verify(mnist) != DG_OK)
        fail_msg("%s (run make data first)", dg_errmsg());
}

static void test_shuffle(void **state)
{
    (void)state;
    uint32_t p[100];
    for (int i = 0; i < 100; i++)
        p[i] = (uint32_t)i;
    struct dg_rng rng;
    dg_rng_seed(&rng, 3);
    data_shuffle(p, 100, &rng);
    int seen[100] = {0}, moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[p[i]]++;
        moved += p[i] != (uint32_t)i;
    }
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > 80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_images_valid_and_bad),
        cmocka_unit_test(test_labels),
        cmocka_unit_test_setup_teardown(test_load_raw_and_gz, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_examples_round_trip, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_verify_detects_corruption, setup_dir, teardown_dir),
        cmocka_unit_test(test_real_mnist_verifies),
        cmocka_unit_test(test_shuffle),
    };
    return cmocka_run_group_tests_name("data_idx", tests, NULL, NULL);
}
