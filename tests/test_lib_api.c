/* test_lib_api.c - libdigits through its public header as a program uses it: opening readers (the
 * default model, a missing file, a file that is no model, bad arguments), reading one page of
 * MNIST test digits from memory in every pixel format and with padded rows (the same result as
 * the scanner inside gives for the same grey picture), bad images refused with a reason and the
 * out-parameter untouched, classifying ready 28x28 inputs, and readers in two threads at once.
 * Needs DIGITS_ROOT (models/) and MNIST in data/mnist. */
#include "testutil.h"

#include <pthread.h>

#include "data.h"
#include "digits.h"
#include "recog.h"
#include "vis.h"

/* A page of paper with a row of five MNIST test digits (2 0 2 4 7) drawn three times their size,
 * as a grey picture, and the number they make. */
enum { W = 360, H = 160 };
static uint8_t page[W * H];
static const char *const PAGE_NUMBER = "20247";
static struct data_set mnist;

static void draw_page(void)
{
    static const int want[5] = {2, 0, 2, 4, 7};
    memset(page, 215, sizeof page);
    for (int k = 0; k < 5; k++) {
        int idx = -1;
        for (int i = 0, seen = 0; i < mnist.n && idx < 0; i++)
            if (mnist.labels[i] == want[k] && seen++ == k)
                idx = i;
        assert_true(idx >= 0);
        const uint8_t *src = mnist.images + (size_t)idx * 784;
        for (int y = 0; y < 84; y++)
            for (int x = 0; x < 84; x++) {
                const int v = src[(y / 3) * 28 + x / 3];
                uint8_t *p = &page[(size_t)(40 + y) * W + 20 + k * 64 + x];
                const int ink = 215 - v * 185 / 255;
                *p = (uint8_t)(ink < *p ? ink : *p);
            }
    }
}

static int setup_all(void **state)
{
    (void)state;
    char dir[4096];
    repo_path(dir, sizeof dir, "data/mnist");
    if (data_mnist_load(dir, "t10k", &mnist) != DG_OK) {
        fprintf(stderr, "%s (run make data)\n", dg_errmsg());
        return -1;
    }
    draw_page();
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    data_set_free(&mnist);
    return 0;
}

static digits_reader *open_default(void)
{
    digits_reader *rd = NULL;
    if (digits_reader_open(NULL, 1, &rd) != DIGITS_OK)
        fail_msg("the default model: %s", digits_errmsg());
    return rd;
}

static void test_version_and_open(void **state)
{
    (void)state;
    assert_string_equal(digits_version(), DIGITS_VERSION);
    digits_reader *rd = open_default();
    digits_reader_close(rd);
    digits_reader_close(NULL);
    digits_result_free(NULL);
    digits_reader *keep = (digits_reader *)&keep; /* out must stay untouched on failure */
    digits_reader *out = keep;
    assert_int_equal(digits_reader_open("/nonexistent/model.safetensors", 1, &out), DIGITS_EIO);
    assert_ptr_equal(out, keep);
    assert_non_null(strstr(digits_errmsg(), "/nonexistent/model.safetensors"));
    char jpg[4096];
    repo_path(jpg, sizeof jpg, "tests/fixtures/sheet-on-desk.jpg");
    assert_int_equal(digits_reader_open(jpg, 1, &out), DIGITS_EFORMAT);
    assert_ptr_equal(out, keep);
    assert_true(strlen(digits_errmsg()) > 0);
    assert_int_equal(digits_reader_open(NULL, -1, &out), DIGITS_EARG);
    assert_int_equal(digits_reader_open(NULL, 1, NULL), DIGITS_EARG);
}

/* The page in format f with rows padded by pad bytes; caller frees. */
static uint8_t *page_as(enum digits_format f, int pad, size_t *stride)
{
    const int bpp = f == DIGITS_GREY ? 1 : f == DIGITS_RGB || f == DIGITS_BGR ? 3 : 4;
    *stride = (size_t)W * bpp + pad;
    uint8_t *px = malloc(*stride * H);
    assert_non_null(px);
    memset(px, 0xAB, *stride * H); /* the padding: garbage the reader must not read */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = px + (size_t)y * *stride + (size_t)x * bpp;
            const uint8_t g = page[(size_t)y * W + x];
            for (int c = 0; c < bpp; c++)
                p[c] = c == 3 ? 0x11 : g;
        }
    return px;
}

static void check_same(const digits_result *a, const digits_result *b)
{
    assert_int_equal(a->n_digits, b->n_digits);
    assert_int_equal(a->n_numbers, b->n_numbers);
    for (int i = 0; i < a->n_digits; i++) {
        assert_int_equal(a->digits[i].digit, b->digits[i].digit);
        assert_memory_equal(a->digits[i].box, b->digits[i].box, sizeof a->digits[i].box);
        assert_float_equal(a->digits[i].confidence, b->digits[i].confidence, 1e-6);
    }
    for (int i = 0; i < a->n_numbers; i++)
        assert_string_equal(a->numbers[i].text, b->numbers[i].text);
}

static void test_reads_a_page_in_every_format(void **state)
{
    (void)state;
    digits_reader *rd = open_default();
    digits_result *grey = NULL;
    assert_int_equal(digits_read(rd, page, W, H, W, DIGITS_GREY, &grey), DIGITS_OK);
    assert_int_equal(grey->width, W);
    assert_int_equal(grey->height, H);
    assert_int_equal(grey->n_numbers, 1);
    assert_string_equal(grey->numbers[0].text, PAGE_NUMBER);
    assert_int_equal(grey->numbers[0].first, 0);
    assert_int_equal(grey->numbers[0].count, 5);
    for (int i = 0; i < grey->n_digits; i++) {
        const digits_digit *d = &grey->digits[i];
        assert_int_equal(d->digit, PAGE_NUMBER[i] - '0');
        assert_int_equal(d->top3[0], d->digit);
        assert_true(d->confidence >= 0.5f && d->confidence <= 1.0f);
        assert_true(d->box[0] >= 20 + i * 64 && d->box[0] + d->box[2] <= 20 + i * 64 + 84);
    }
    /* the scanner inside, on the same grey picture: the library adds nothing and loses nothing */
    char path[4096];
    repo_path(path, sizeof path, "models/fast.safetensors");
    struct nn_model *m;
    assert_int_equal(nn_model_load(path, &m, NULL, NULL), DG_OK);
    struct rec_params p;
    rec_default_params(&p);
    struct rec_scanner *sc;
    assert_int_equal(rec_scanner_new(m, &p, &sc), DG_OK);
    struct rec_result *r = malloc(sizeof *r);
    assert_non_null(r);
    const struct vis_image img = {W, H, page};
    assert_int_equal(rec_scan(sc, &img, r), DG_OK);
    assert_int_equal(r->n_digits, grey->n_digits);
    for (int i = 0; i < r->n_digits; i++) {
        assert_int_equal(r->digits[i].digit, grey->digits[i].digit);
        assert_int_equal(r->digits[i].box.x, grey->digits[i].box[0]);
        assert_int_equal(r->digits[i].box.w, grey->digits[i].box[2]);
    }
    free(r);
    rec_scanner_free(sc);
    nn_model_free(m);
    /* every colour layout, rows padded with garbage: the same reading */
    static const enum digits_format formats[] = {DIGITS_GREY, DIGITS_RGB, DIGITS_BGR, DIGITS_RGBA,
                                                 DIGITS_BGRA};
    for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++) {
        size_t stride;
        uint8_t *px = page_as(formats[k], 13, &stride);
        digits_result *res = NULL;
        assert_int_equal(digits_read(rd, px, W, H, stride, formats[k], &res), DIGITS_OK);
        check_same(grey, res);
        digits_result_free(res);
        free(px);
    }
    /* a blank picture: no digits, not an error */
    static uint8_t blank[64 * 48];
    memset(blank, 200, sizeof blank);
    digits_result *none = NULL;
    assert_int_equal(digits_read(rd, blank, 64, 48, 64, DIGITS_GREY, &none), DIGITS_OK);
    assert_int_equal(none->n_digits, 0);
    assert_int_equal(none->n_numbers, 0);
    assert_null(none->digits);
    digits_result_free(none);
    /* fewer digits at a stricter confidence, never more */
    assert_int_equal(digits_reader_set_min_confidence(rd, 0.999999f), DIGITS_OK);
    digits_result *strict = NULL;
    assert_int_equal(digits_read(rd, page, W, H, W, DIGITS_GREY, &strict), DIGITS_OK);
    assert_true(strict->n_digits <= grey->n_digits);
    digits_result_free(strict);
    assert_int_equal(digits_reader_set_min_confidence(rd, 1.5f), DIGITS_EARG);
    assert_int_equal(digits_reader_set_min_confidence(NULL, 0.5f), DIGITS_EARG);
    digits_result_free(grey);
    digits_reader_close(rd);
}

/* The page with sensor noise of up to +-3 grey levels (a fixed pseudo-random sequence). */
static void noisy_page(uint8_t *out, unsigned seed)
{
    for (size_t i = 0; i < (size_t)W * H; i++) {
        seed = seed * 1103515245u + 12345u;
        const int v = page[i] + (int)((seed >> 16) % 7u) - 3;
        out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

/* How many digits of b have the same box as a's digit in the same place and the very same
 * probability for their second likeliest digit (a tiny number that any change of the input
 * moves): answers taken over from a, not read again. */
static int answers_kept(const digits_result *a, const digits_result *b)
{
    int n = 0;
    for (int i = 0; i < a->n_digits && i < b->n_digits; i++)
        n += !memcmp(a->digits[i].box, b->digits[i].box, sizeof a->digits[i].box) &&
             a->digits[i].top3_p[1] == b->digits[i].top3_p[1];
    return n;
}

/* Frames of one video (digits_reader_set_video): the page twice with other noise. A reader in
 * video mode reads the second frame's digits and number as one reading afresh does, keeping the
 * first frame's answers for them; afresh, the answers change with the noise. Video mode off
 * again: afresh. */
static void test_video_frames(void **state)
{
    (void)state;
    digits_reader *video = open_default(), *fresh = open_default();
    static uint8_t f1[W * H], f2[W * H];
    noisy_page(f1, 1u);
    noisy_page(f2, 2u);
    assert_int_equal(digits_reader_set_video(video, 1), DIGITS_OK);
    digits_result *v1 = NULL, *v2 = NULL, *a1 = NULL, *a2 = NULL, *v3 = NULL, *v4 = NULL;
    assert_int_equal(digits_read(video, f1, W, H, W, DIGITS_GREY, &v1), DIGITS_OK);
    assert_int_equal(digits_read(video, f2, W, H, W, DIGITS_GREY, &v2), DIGITS_OK);
    assert_int_equal(digits_read(fresh, f1, W, H, W, DIGITS_GREY, &a1), DIGITS_OK);
    assert_int_equal(digits_read(fresh, f2, W, H, W, DIGITS_GREY, &a2), DIGITS_OK);
    assert_int_equal(v2->n_numbers, 1);
    assert_string_equal(v2->numbers[0].text, PAGE_NUMBER);
    assert_int_equal(v2->n_digits, a2->n_digits);
    for (int i = 0; i < v2->n_digits; i++) {
        assert_int_equal(v2->digits[i].digit, a2->digits[i].digit);
        assert_memory_equal(v2->digits[i].box, a2->digits[i].box, sizeof v2->digits[i].box);
    }
    const int kept_video = answers_kept(v1, v2), kept_fresh = answers_kept(a1, a2);
    print_message("answers kept from the first frame: video %d of %d, afresh %d\n", kept_video,
                  v2->n_digits, kept_fresh);
    assert_true(kept_video >= 3);
    assert_true(kept_fresh < kept_video);
    assert_int_equal(digits_reader_set_video(video, 0), DIGITS_OK);
    assert_int_equal(digits_read(video, f1, W, H, W, DIGITS_GREY, &v3), DIGITS_OK);
    assert_int_equal(digits_read(video, f2, W, H, W, DIGITS_GREY, &v4), DIGITS_OK);
    assert_int_equal(answers_kept(v3, v4), kept_fresh);
    assert_int_equal(digits_reader_set_video(NULL, 1), DIGITS_EARG);
    digits_result *all[] = {v1, v2, a1, a2, v3, v4};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++)
        digits_result_free(all[k]);
    digits_reader_close(video);
    digits_reader_close(fresh);
}

static void test_bad_images_refused(void **state)
{
    (void)state;
    digits_reader *rd = open_default();
    digits_result *keep = (digits_result *)&keep, *out = keep;
    const struct {
        const uint8_t *px;
        int w, h;
        size_t stride;
        int format;
        const char *says;
    } cases[] = {
        {NULL, W, H, W, DIGITS_GREY, "pixels"},
        {page, 0, H, W, DIGITS_GREY, "0x160"},
        {page, W, -1, W, DIGITS_GREY, "360x-1"},
        {page, 9000, 9000, 9000, DIGITS_GREY, "64 megapixels"},
        {page, W, H, W - 1, DIGITS_GREY, "stride"},
        {page, W / 3, H, W / 3 * 3 - 1, DIGITS_RGB, "stride"},
        {page, W, H, W, 99, "format"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int rc = digits_read(rd, cases[i].px, cases[i].w, cases[i].h, cases[i].stride,
                                   (enum digits_format)cases[i].format, &out);
        if (rc != DIGITS_EARG || out != keep || !strstr(digits_errmsg(), cases[i].says))
            fail_msg("case %zu: status %d, message '%s' (wanted EARG naming '%s')", i, rc,
                     digits_errmsg(), cases[i].says);
    }
    assert_int_equal(digits_read(NULL, page, W, H, W, DIGITS_GREY, &out), DIGITS_EARG);
    assert_int_equal(digits_read(rd, page, W, H, W, DIGITS_GREY, NULL), DIGITS_EARG);
    digits_reader_close(rd);
}

/* A file read as digits scan reads it: the loader's grey picture through digits_read gives the
 * same result; a missing file and a non-image are errors with their reason. */
static void test_read_file(void **state)
{
    (void)state;
    digits_reader *rd = open_default();
    char jpg[4096];
    repo_path(jpg, sizeof jpg, "tests/fixtures/sheet-on-desk.jpg");
    digits_result *from_file = NULL, *from_memory = NULL;
    assert_int_equal(digits_read_file(rd, jpg, &from_file), DIGITS_OK);
    assert_true(from_file->n_digits >= 8);
    struct vis_image img;
    assert_int_equal(vis_image_load(jpg, &img), DG_OK);
    assert_int_equal(
        digits_read(rd, img.px, img.w, img.h, (size_t)img.w, DIGITS_GREY, &from_memory), DIGITS_OK);
    check_same(from_file, from_memory);
    /* what the reader saw of the camera: the fixture is bright and a little soft (blur 0.43, just
       past the bar); at a quarter of its light it is dark too */
    assert_true(from_file->light > 100.0f && from_file->noise >= 0.0f);
    assert_int_equal(from_file->hints, DIGITS_HINT_BLURRED);
    assert_non_null(strstr(from_file->advice, "blurred"));
    for (size_t i = 0; i < (size_t)img.w * img.h; i++)
        img.px[i] /= 4;
    digits_result *dim = NULL;
    assert_int_equal(digits_read(rd, img.px, img.w, img.h, (size_t)img.w, DIGITS_GREY, &dim),
                     DIGITS_OK);
    assert_true(dim->light < 80.0f && (dim->hints & DIGITS_HINT_DARK));
    assert_non_null(strstr(dim->advice, "light"));
    digits_result_free(dim);
    vis_image_destroy(&img);
    digits_result_free(from_file);
    digits_result_free(from_memory);
    digits_result *keep = (digits_result *)&keep, *out = keep;
    assert_int_equal(digits_read_file(rd, "/nonexistent/page.png", &out), DIGITS_EIO);
    assert_ptr_equal(out, keep);
    assert_non_null(strstr(digits_errmsg(), "/nonexistent/page.png"));
    char model[4096];
    repo_path(model, sizeof model, "models/fast.safetensors");
    assert_true(digits_read_file(rd, model, &out) < 0);
    assert_ptr_equal(out, keep);
    assert_int_equal(digits_read_file(rd, NULL, &out), DIGITS_EARG);
    digits_reader_close(rd);
}

static void test_classify(void **state)
{
    (void)state;
    digits_reader *rd = open_default();
    enum { N = 600 };
    int labels[N];
    static float probs[N * 11];
    assert_int_equal(digits_classify(rd, mnist.images, N, labels, probs), DIGITS_OK);
    int right = 0;
    for (int i = 0; i < N; i++) {
        right += labels[i] == mnist.labels[i];
        float sum = 0.0f;
        int best = 0;
        for (int c = 0; c < 11; c++)
            sum += probs[i * 11 + c],
                best = c < 10 && probs[i * 11 + c] > probs[i * 11 + best] ? c : best;
        assert_float_equal(sum, 1.0f, 1e-3);
        assert_int_equal(best, labels[i]);
    }
    print_message("classify: %d of %d MNIST test digits right\n", right, N);
    assert_true(right >= N * 98 / 100);
    int one;
    assert_int_equal(digits_classify(rd, mnist.images, 1, &one, NULL), DIGITS_OK);
    assert_int_equal(one, labels[0]);
    assert_int_equal(digits_classify(rd, mnist.images, 0, NULL, NULL), DIGITS_OK);
    assert_int_equal(digits_classify(rd, NULL, 3, labels, NULL), DIGITS_EARG);
    assert_int_equal(digits_classify(rd, mnist.images, -1, labels, NULL), DIGITS_EARG);
    digits_reader_close(rd);
}

/* Two threads, a reader each, reading the page at the same time. */
struct worker {
    pthread_t thread;
    int ok;
    char text[64];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    digits_reader *rd;
    if (digits_reader_open(NULL, 1, &rd) != DIGITS_OK)
        return NULL;
    w->ok = 1;
    for (int k = 0; k < 20 && w->ok; k++) {
        digits_result *r;
        w->ok = digits_read(rd, page, W, H, W, DIGITS_GREY, &r) == DIGITS_OK;
        if (w->ok) {
            snprintf(w->text, sizeof w->text, "%s", r->n_numbers ? r->numbers[0].text : "");
            w->ok = !strcmp(w->text, PAGE_NUMBER);
            digits_result_free(r);
        }
    }
    digits_reader_close(rd);
    return NULL;
}

static void test_readers_in_two_threads(void **state)
{
    (void)state;
    struct worker w[2] = {{0}, {0}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&w[i].thread, NULL, work, &w[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(w[i].thread, NULL);
        if (!w[i].ok)
            fail_msg("thread %d read '%s'", i, w[i].text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_open),
        cmocka_unit_test(test_reads_a_page_in_every_format),
        cmocka_unit_test(test_video_frames),
        cmocka_unit_test(test_bad_images_refused),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_readers_in_two_threads),
    };
    return cmocka_run_group_tests_name("lib_api", tests, setup_all, teardown_all);
}
