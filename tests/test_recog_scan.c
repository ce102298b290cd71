/* test_recog_scan.c - the scanning pipeline on a page drawn in the test: MNIST test digits as dark
 * ink on paper lit unevenly, written as numbers on two lines, with specks and a ruled line. The
 * numbers must be read exactly and each digit's box must cover its ink. Needs MNIST (make data)
 * and the shipped reference model. */
#include "../tools/toolutil.h"
#include "data.h"
#include "recog.h"
#include "testutil.h"

struct placed {
    int label;
    int x, y, w, h; /* the ink's box in the page */
};

/* First test-set image of each digit. */
static void pick_digits(const struct data_set *s, int first[10])
{
    for (int d = 0; d < 10; d++)
        first[d] = -1;
    for (int i = 0; i < s->n; i++)
        if (first[s->labels[i]] < 0)
            first[s->labels[i]] = i;
}

/* Writes digit image `idx` scaled by `scale` with its ink's top-left at (x, y), as ink darkening
 * the paper; records the ink box. Returns the ink width in page pixels. */
static int put_digit(struct vis_image *page, const struct data_set *s, int idx, int label, int x,
                     int y, double scale, struct placed *out)
{
    const uint8_t *src = s->images + (size_t)idx * 784;
    int bx0 = 28, by0 = 28, bx1 = -1, by1 = -1;
    for (int r = 0; r < 28; r++)
        for (int c = 0; c < 28; c++)
            if (src[r * 28 + c] > 64) {
                bx0 = c < bx0 ? c : bx0, bx1 = c > bx1 ? c : bx1;
                by0 = r < by0 ? r : by0, by1 = r > by1 ? r : by1;
            }
    const int w = (int)((bx1 - bx0 + 1) * scale), h = (int)((by1 - by0 + 1) * scale);
    int ix0 = page->w, iy0 = page->h, ix1 = -1, iy1 = -1;
    for (int py = 0; py < h; py++)
        for (int px = 0; px < w; px++) {
            /* bilinear sample of the 28x28 digit */
            const double sx = bx0 + (px + 0.5) / scale - 0.5, sy = by0 + (py + 0.5) / scale - 0.5;
            const int x0 = (int)floor(sx), y0 = (int)floor(sy);
            const double fx = sx - x0, fy = sy - y0;
            double v = 0;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    const int xx = x0 + dx, yy = y0 + dy;
                    const double wgt = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
                    if (xx >= 0 && xx < 28 && yy >= 0 && yy < 28)
                        v += wgt * src[yy * 28 + xx] / 255.0;
                }
            uint8_t *p = &page->px[(size_t)(y + py) * page->w + x + px];
            *p = (uint8_t)(*p * (1.0 - 0.8 * v));
            if (v > 0.25) {
                ix0 = x + px < ix0 ? x + px : ix0, ix1 = x + px > ix1 ? x + px : ix1;
                iy0 = y + py < iy0 ? y + py : iy0, iy1 = y + py > iy1 ? y + py : iy1;
            }
        }
    *out = (struct placed){label, ix0, iy0, ix1 - ix0 + 1, iy1 - iy0 + 1};
    return w;
}

/* The shipped default model (the one scan uses). */
static struct nn_model *load_model(void)
{
    char path[4096];
    repo_path(path, sizeof path, "models/robust.safetensors");
    struct nn_model *m;
    if (nn_model_load(path, &m, NULL, NULL) != DG_OK)
        fail_msg("%s", dg_errmsg());
    return m;
}

/* A shipped model, a scanner with the default parameters, and room for one result. */
struct reader {
    struct nn_model *m;
    struct rec_scanner *sc;
    struct rec_result *r;
};

static void reader_open(struct reader *rd, const char *model_file)
{
    char path[4096];
    repo_path(path, sizeof path, model_file);
    if (nn_model_load(path, &rd->m, NULL, NULL) != DG_OK)
        fail_msg("%s", dg_errmsg());
    struct rec_params p;
    rec_default_params(&p);
    assert_int_equal(rec_scanner_new(rd->m, &p, &rd->sc), DG_OK);
    rd->r = malloc(sizeof *rd->r);
    assert_non_null(rd->r);
}

static void reader_close(struct reader *rd)
{
    free(rd->r);
    rec_scanner_free(rd->sc);
    nn_model_free(rd->m);
}

/* img = tests/fixtures/NAME, loaded as the reader loads files. */
static void load_fixture(const char *name, struct vis_image *img)
{
    char path[4096], rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/%s", name);
    repo_path(path, sizeof path, rel);
    assert_int_equal(vis_image_load(path, img), DG_OK);
}

/* MNIST's test digits, and the index of the first of each label. */
static void load_test_digits(struct data_set *s, int first[10])
{
    char mnist[4096];
    repo_path(mnist, sizeof mnist, "data/mnist");
    if (data_mnist_load(mnist, "t10k", s) != DG_OK)
        fail_msg("%s (run make data)", dg_errmsg());
    pick_digits(s, first);
}

static void test_reads_numbers_on_uneven_paper(void **state)
{
    (void)state;
    struct data_set s;
    int first[10];
    struct nn_model *m = load_model();
    load_test_digits(&s, first);

    enum { W = 640, H = 480 };
    struct vis_image page;
    assert_int_equal(vis_image_init(&page, W, H), DG_OK);
    struct dg_rng rng;
    dg_rng_seed(&rng, 4);
    for (int y = 0; y < H; y++) /* light from the top left, falling to a third at the far corner */
        for (int x = 0; x < W; x++)
            page.px[(size_t)y * W + x] =
                (uint8_t)(235.0 - 110.0 * (x + y) / (W + H) + 10.0 * (dg_rng_uniform(&rng) - 0.5));
    for (int x = 20; x < W - 20; x++) /* a ruled line */
        page.px[(size_t)440 * W + x] = (uint8_t)(page.px[(size_t)440 * W + x] * 0.6);
    for (int k = 0; k < 30; k++) { /* specks */
        const int x = 10 + (int)dg_rng_below(&rng, W - 20),
                  y = 10 + (int)dg_rng_below(&rng, H - 20);
        page.px[(size_t)y * W + x] = 60;
    }
    const char *numbers[3] = {"307", "42", "9815"};
    const int line_y[3] = {60, 60, 250};
    const int start_x[3] = {40, 380, 120};
    const double scale[3] = {3.0, 2.2, 4.0};
    struct placed truth[16];
    int n_truth = 0;
    for (int k = 0; k < 3; k++) {
        int x = start_x[k];
        for (const char *ch = numbers[k]; *ch; ch++) {
            const int d = *ch - '0';
            x += put_digit(&page, &s, first[d], d, x, line_y[k], scale[k], &truth[n_truth++]);
            x += (int)(4 * scale[k]); /* the gap inside a number: well under half a digit height */
        }
    }
    const char *save = getenv("DIGITS_SAVE_SCENE");
    if (save && *save)
        vis_png_write(save, page.px, W, H, 1);

    struct rec_params p;
    rec_default_params(&p);
    struct rec_scanner *sc;
    assert_int_equal(rec_scanner_new(m, &p, &sc), DG_OK);
    struct rec_result *r = malloc(sizeof *r);
    assert_int_equal(rec_scan(sc, &page, r), DG_OK);
    assert_int_equal(r->polarity, VIS_POLARITY_DARK_ON_LIGHT);
    /* Reading order: line 1 left to right, then line 2. */
    const char *want[3] = {"307", "42", "9815"};
    if (r->n_numbers != 3)
        fail_msg("read %d numbers (%s, %s, ...), expected 3", r->n_numbers,
                 r->n_numbers > 0 ? r->numbers[0].text : "-",
                 r->n_numbers > 1 ? r->numbers[1].text : "-");
    for (int k = 0; k < 3; k++)
        if (strcmp(r->numbers[k].text, want[k]) != 0)
            fail_msg("number %d read as '%s', expected '%s'", k, r->numbers[k].text, want[k]);
    assert_int_equal(r->n_digits, n_truth);
    /* Each digit's box is its ink's box (within the blur of a threshold: 3 px). */
    for (int i = 0; i < n_truth; i++) {
        const struct rec_box *b = &r->digits[i].box;
        const struct placed *t = &truth[i];
        if (abs(b->x - t->x) > 3 || abs(b->y - t->y) > 3 || abs(b->w - t->w) > 6 ||
            abs(b->h - t->h) > 6)
            fail_msg("digit %d box [%d %d %d %d], ink at [%d %d %d %d]", i, b->x, b->y, b->w, b->h,
                     t->x, t->y, t->w, t->h);
        assert_int_equal(r->digits[i].digit, t->label);
        assert_true(r->digits[i].confidence >= p.min_confidence);
    }
    /* A blank page reads nothing. */
    memset(page.px, 200, (size_t)W * H);
    assert_int_equal(rec_scan(sc, &page, r), DG_OK);
    assert_int_equal(r->n_digits + r->n_rejected, 0);
    assert_int_equal(r->n_numbers, 0);
    free(r);
    rec_scanner_free(sc);
    vis_image_destroy(&page);
    nn_model_free(m);
    data_set_free(&s);
}

static void test_grouping_gaps(void **state)
{
    (void)state;
    /* Two blocks "1" side by side: close together they are one number, far apart two. Drawn as
     * plain bars so the network's answer does not matter: only the grouping is checked, with the
     * ten-class reference model (a model with "not a digit" rejects bars before grouping). */
    char path[4096];
    repo_path(path, sizeof path, "models/reference.safetensors");
    struct nn_model *m;
    if (nn_model_load(path, &m, NULL, NULL) != DG_OK)
        fail_msg("%s", dg_errmsg());
    struct rec_params p;
    rec_default_params(&p);
    p.min_confidence = 0.0f; /* accept whatever the bars are read as */
    p.keep_lone_ones = 1;    /* ... even 1s with no other digit beside them */
    struct rec_scanner *sc;
    assert_int_equal(rec_scanner_new(m, &p, &sc), DG_OK);
    struct rec_result *r = malloc(sizeof *r);
    for (int far = 0; far < 2; far++) {
        struct vis_image page;
        assert_int_equal(vis_image_init(&page, 300, 200), DG_OK);
        memset(page.px, 220, 300 * 200);
        /* bar height 60: gaps of 1.5 and 1/6 of a height (a lone pair joins up to 0.7 heights
         * between the 0.6-height cells of narrow digits: 1 height of paper between 1s does) */
        const int gap = far ? 90 : 10;
        for (int b = 0; b < 2; b++)
            for (int y = 70; y < 130; y++)
                for (int x = 100 + b * (8 + gap); x < 108 + b * (8 + gap); x++)
                    page.px[y * 300 + x] = 30;
        assert_int_equal(rec_scan(sc, &page, r), DG_OK);
        assert_int_equal(r->n_digits, 2);
        assert_int_equal(r->n_numbers, far ? 2 : 1);
        vis_image_destroy(&page);
    }
    free(r);
    rec_scanner_free(sc);
    nn_model_free(m);
}

/* Fills the box [x0, x1) x [y0, y1) of a 400 x 300 page with ink. */
static void ink_box(struct vis_image *page, int x0, int y0, int x1, int y1)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            page->px[y * page->w + x] = 30;
}

/* A box's outline drawn t pixels thick: a pen stroke around it. The threshold takes ink for
 * strokes, darker than the paper on both sides, so a block filled solid wider than a marker's
 * stroke is not ink; an outline is, as digit-shaped as a 0. */
static void ink_frame(struct vis_image *page, int x0, int y0, int x1, int y1, int t)
{
    ink_box(page, x0, y0, x1, y0 + t);
    ink_box(page, x0, y1 - t, x1, y1);
    ink_box(page, x0, y0, x0 + t, y1);
    ink_box(page, x1 - t, y0, x1, y1);
}

/* How many of six 40-tall outlines read from page stay candidates of their own: three at y 40-80
 * over three more from y below, moved right, and between them a rule 5 thick from (x0, y0) to
 * x1, rising `rise` px. */
static int underlined_outlines(struct rec_scanner *sc, struct rec_result *r, struct vis_image *page,
                               int below, int x0, int x1, int y0, int rise)
{
    memset(page->px, 220, (size_t)page->w * page->h);
    for (int k = 0; k < 3; k++) {
        ink_frame(page, 100 + 30 * k, 40, 122 + 30 * k, 80, 4);
        ink_frame(page, 113 + 30 * k, below, 135 + 30 * k, below + 40, 4);
    }
    for (int x = x0; x < x1; x++) {
        const int y = y0 - (x - x0) * rise / (x1 - x0);
        ink_box(page, x, y, x + 1, y + 5);
    }
    assert_int_equal(rec_scan(sc, page, r), DG_OK);
    int outlines = 0;
    for (int i = 0; i < r->n_digits + r->n_rejected; i++)
        outlines += r->digits[i].box.h >= 38 && r->digits[i].box.h <= 42;
    return outlines;
}

/* How many of the n boxes (x0, y0, x1, y1, ends excluded) a candidate of r covers to within 3 px.
 */
static int boxes_found(const struct rec_result *r, const int (*want)[4], int n)
{
    int found = 0;
    for (int k = 0; k < n; k++)
        for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
            const struct rec_box *b = &r->digits[i].box;
            if (abs(b->x - want[k][0]) <= 3 && abs(b->y - want[k][1]) <= 3 &&
                abs(b->x + b->w - want[k][2]) <= 3 && abs(b->y + b->h - want[k][3]) <= 3) {
                found++;
                break;
            }
        }
    return found;
}

/* A printed row of three boxes (lines 2 px, boxes 44 x 56 from x = 100: too short for ruled lines
 * on a page of 800 x 600) with a digit-shaped outline in each, one standing on the bottom edge,
 * one across a wall: the boxes are erased (stage 1b), so each outline is a candidate of its own,
 * box and all; with box_side 0 the ones touching the lines are not. */
static void test_printed_boxes(void **state)
{
    (void)state;
    struct nn_model *m = load_model();
    struct rec_params p;
    rec_default_params(&p);
    p.min_confidence = 0.0f;
    struct rec_result *r = malloc(sizeof *r);
    assert_non_null(r);
    struct vis_image page;
    assert_int_equal(vis_image_init(&page, 800, 600), DG_OK);
    memset(page.px, 220, (size_t)page.w * page.h);
    ink_box(&page, 100, 60, 234, 62);
    ink_box(&page, 100, 114, 234, 116);
    for (int k = 0; k < 4; k++)
        ink_box(&page, 100 + 44 * k, 60, 102 + 44 * k, 116);
    static const int outlines[3][4] = {
        {110, 74, 132, 114}, {136, 72, 160, 106}, {198, 68, 220, 104}};
    for (int k = 0; k < 3; k++)
        ink_frame(&page, outlines[k][0], outlines[k][1], outlines[k][2], outlines[k][3], 5);
    for (int side = 8; side >= 0; side -= 8) {
        struct rec_scanner *sc;
        p.box_side = side;
        assert_int_equal(rec_scanner_new(m, &p, &sc), DG_OK);
        assert_int_equal(rec_scan(sc, &page, r), DG_OK);
        const int found = boxes_found(r, outlines, 3);
        if (side)
            assert_int_equal(found, 3);
        else
            assert_true(found < 3);
        rec_scanner_free(sc);
    }
    vis_image_destroy(&page);
    free(r);
    nn_model_free(m);
}

static void test_fragment_joining(void **state)
{
    (void)state;
    /* Plain outlines and bars, every candidate accepted: only how pieces are put together is
     * checked.
     * A flat bar just above a tall block is one digit (the detached top of a 5); a small block of
     * digit shape just above a much taller one is a digit of its own (a row of small digits over a
     * row of big ones); two pieces of similar height, one over the other, are one digit (a broken
     * 4 or 7). */
    struct nn_model *m = load_model();
    struct rec_params p;
    rec_default_params(&p);
    p.min_confidence = 0.0f;
    struct rec_scanner *sc;
    assert_int_equal(rec_scanner_new(m, &p, &sc), DG_OK);
    struct rec_result *r = malloc(sizeof *r);
    assert_non_null(r);
    struct vis_image page;
    assert_int_equal(vis_image_init(&page, 400, 300), DG_OK);
    const struct {
        int small[4]; /* x0 y0 x1 y1 of the upper piece */
        int candidates;
    } cases[] = {
        {{150, 60, 200, 72}, 1}, /* bar 50 x 12, gap 8 over the block */
        {{160, 40, 180, 72}, 2}, /* a 20 x 32 digit, gap 8 over a block 150 tall */
        {{160, 10, 180, 42}, 2}, /* the same, 38 above */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memset(page.px, 220, (size_t)page.w * page.h);
        if (cases[k].small[3] - cases[k].small[1] < 16) /* a bar */
            ink_box(&page, cases[k].small[0], cases[k].small[1], cases[k].small[2],
                    cases[k].small[3]);
        else
            ink_frame(&page, cases[k].small[0], cases[k].small[1], cases[k].small[2],
                      cases[k].small[3], 5);
        ink_frame(&page, 140, 80, 220, 230, 8); /* 80 x 150 */
        assert_int_equal(rec_scan(sc, &page, r), DG_OK);
        if (r->n_digits + r->n_rejected != cases[k].candidates)
            fail_msg("case %zu: %d candidates, expected %d", k, r->n_digits + r->n_rejected,
                     cases[k].candidates);
    }
    /* a block inside a drawn frame (or a sheet's outline) is not a piece of the frame */
    memset(page.px, 220, (size_t)page.w * page.h);
    ink_box(&page, 100, 60, 300, 65);
    ink_box(&page, 100, 235, 300, 240);
    ink_box(&page, 100, 60, 105, 240);
    ink_box(&page, 295, 60, 300, 240);
    ink_frame(&page, 170, 120, 210, 180, 6);
    assert_int_equal(rec_scan(sc, &page, r), DG_OK);
    assert_int_equal(r->n_digits + r->n_rejected, 2);
    /* a long diagonal line (a shadow's edge across the sheet, 360 x 160) and two digit-shaped
     * outlines sticking out above its box, their centres within its rows: the first joins the
     * line, and the second, inside the grown group's box, stays a candidate of its own (it had
     * joined the line as well: one candidate) */
    memset(page.px, 220, (size_t)page.w * page.h);
    for (int x = 20; x < 380; x++) {
        const int y = 120 + (x - 20) * 160 / 360;
        ink_box(&page, x, y, x + 2, y + 4);
    }
    ink_frame(&page, 100, 110, 121, 141, 4);
    ink_frame(&page, 200, 110, 221, 141, 4);
    assert_int_equal(rec_scan(sc, &page, r), DG_OK);
    assert_int_equal(r->n_digits + r->n_rejected, 2);
    /* two halves of one stroke pattern, 70 and 60 tall, 6 apart: one digit */
    memset(page.px, 220, (size_t)page.w * page.h);
    ink_frame(&page, 150, 40, 200, 110, 6);
    ink_frame(&page, 160, 116, 190, 176, 6);
    assert_int_equal(rec_scan(sc, &page, r), DG_OK);
    assert_int_equal(r->n_digits + r->n_rejected, 1);
    /* a number of three 40-tall outlines underlined by hand (a rule 86 long, 5 thick, rising 14
     * px: its box is 19 tall, too short to be taken for a ruled line), 6 below them, over a second
     * line of three, 6 below the rule and moved right (outlines in one column would be taken for
     * a ruled line's pieces): the rule is no piece of a digit, so the six stay apart (it had
     * joined four of them to it) */
    const int outlines = underlined_outlines(sc, r, &page, 111, 97, 183, 100, 14);
    if (outlines != 6)
        fail_msg("underlined number: %d of 6 outlines are candidates of their own", outlines);
    /* the same with a steep underline (rising 40 px over 180: its box, 45 tall, is taller than
     * the digits), the first line's box 10 above the rule's, the second's 6 below it */
    const int steep = underlined_outlines(sc, r, &page, 141, 95, 275, 130, 40);
    if (steep != 6)
        fail_msg("steep underline: %d of 6 outlines are candidates of their own", steep);
    vis_image_destroy(&page);
    free(r);
    rec_scanner_free(sc);
    nn_model_free(m);
}

/* Two MNIST test digits written so that their ink touches, after a third digit of their number:
 * without splitting the pair is one blob; with it, most become two digits of the number. (A model
 * with "not a digit" learned touching pairs as not a digit; beside a sure digit they are cut
 * anyway, which is where they occur: inside numbers.) */
static void test_touching_pairs_split(void **state)
{
    (void)state;
    struct data_set s;
    int first[10];
    struct nn_model *m = load_model();
    load_test_digits(&s, first);
    struct rec_params on, off;
    rec_default_params(&on);
    off = on;
    off.split_aspect = 0.0f;
    struct rec_scanner *sc_on, *sc_off;
    assert_int_equal(rec_scanner_new(m, &on, &sc_on), DG_OK);
    assert_int_equal(rec_scanner_new(m, &off, &sc_off), DG_OK);
    struct rec_result *r = malloc(sizeof *r);
    assert_non_null(r);
    int read = 0, two = 0, pairs = 0;
    for (int a = 0; a < 10; a++) {
        const int b = (a + 3) % 10, c = a && b ? 0 : 2;
        if (a == 1 || b == 1)
            continue; /* a 1 is too narrow to make a blob wider than a digit */
        struct vis_image page;
        assert_int_equal(vis_image_init(&page, 400, 200), DG_OK);
        memset(page.px, 225, 400 * 200);
        struct placed pa, pb, pc;
        const int wc = put_digit(&page, &s, first[c], c, 40, 60, 3.0, &pc);
        const int xa = 40 + wc + 15;
        const int wa = put_digit(&page, &s, first[a], a, xa, 60, 3.0, &pa);
        /* the second starts inside the first's ink box, so their strokes meet */
        put_digit(&page, &s, first[b], b, xa + wa - 9, 60, 3.0, &pb);
        assert_int_equal(rec_scan(sc_off, &page, r), DG_OK);
        const int blobs = r->n_digits + r->n_rejected;
        assert_int_equal(rec_scan(sc_on, &page, r), DG_OK);
        if (blobs == 2) { /* the pair does touch */
            pairs++;
            two += r->n_digits == 3 && r->n_numbers == 1;
            read += r->n_digits == 3 && r->digits[0].digit == c && r->digits[1].digit == a &&
                    r->digits[2].digit == b && r->n_numbers == 1;
        }
        vis_image_destroy(&page);
    }
    printf("touching pairs: %d of %d split in two, %d of them read right\n", two, pairs, read);
    /* Splitting works; choosing the cut is the weak part (the network is sure of some wrong
     * halves, a 3 with a piece of a 6 read as 8), hence the low bar on labels. The shipped robust
     * model (with "two digits") splits 6 of the 6 and reads 4 right; with "not a digit" alone it
     * split 3 and read them right, without either 5 and 4. Without splitting (split_aspect 0,
     * which also turns off the "two digits" cut) none is. */
    assert_true(pairs >= 5);
    assert_true(two * 10 >= pairs * 5);
    assert_true(read * 10 >= pairs * 4);
    free(r);
    rec_scanner_free(sc_on);
    rec_scanner_free(sc_off);
    nn_model_free(m);
    data_set_free(&s);
}

/* Stage 5b, three in a blob: a sheet on a desk (tests/fixtures/three-run-together.jpg,
 * build/world-tune's world_0204, MNIST training digits; the shipped fast model) whose number 646198
 * is written close and blurred, its 6, 4 and 6 one blob. The first cut parts the 6 from "46", which
 * the network reads as two digits; cut again (cut_again), the number is read whole, without it as
 * 6198. */
static int has_number(const struct rec_result *r, const char *text)
{
    for (int i = 0; i < r->n_numbers; i++)
        if (!strcmp(r->numbers[i].text, text))
            return 1;
    return 0;
}

/* The fast model of 2026-12-04 (shipped until the thirty-first session), frozen as a fixture: the
 * stage tests' fixtures were chosen where it needed the stage, and a stage's mechanics should not
 * be tested afresh with each model (the fast model of 2026-12-07 reads three-run-together.jpg's
 * 646198 as 64198 either way, thin-one-in-number.jpg's 702197 without the context stage, and
 * edge-objects-no-digit.jpg's objects at the edge as not digits at all). */
static const char FAST_1204[] = "tests/fixtures/fast-2026-12-04.safetensors";

/* The robust model of 2026-12-07 (shipped until the thirty-fifth session), frozen the same way
 * for the context rules' fixtures, chosen where it read junk without the rule: its successor
 * turns down the keyboard's keys and the box round a number by itself (same bytes as the model
 * in the history, so git stores it once). */
static const char ROBUST_1207[] = "tests/fixtures/robust-2026-12-07.safetensors";

/* Whether that fast model reads the number text in fixture with the default parameters (*on) and
 * with those that switch_off changes (*off). */
static void read_on_off(const char *fixture, const char *text,
                        void (*switch_off)(struct rec_params *), int *on, int *off)
{
    char path[4096];
    struct nn_model *m;
    repo_path(path, sizeof path, FAST_1204);
    if (nn_model_load(path, &m, NULL, NULL) != DG_OK)
        fail_msg("%s", dg_errmsg());
    struct rec_params p_on, p_off;
    rec_default_params(&p_on);
    /* the frame as the camera gave it: three-beside-digits.jpg is blurred just past the bar at
       which a still is sharpened, and sharpened its three digits come apart without the stage */
    p_on.deblur = 0.0f;
    p_off = p_on;
    switch_off(&p_off);
    struct rec_scanner *sc_on, *sc_off;
    assert_int_equal(rec_scanner_new(m, &p_on, &sc_on), DG_OK);
    assert_int_equal(rec_scanner_new(m, &p_off, &sc_off), DG_OK);
    struct rec_result *r = malloc(sizeof *r);
    assert_non_null(r);
    struct vis_image img;
    load_fixture(fixture, &img);
    assert_int_equal(rec_scan(sc_off, &img, r), DG_OK);
    *off = has_number(r, text);
    assert_int_equal(rec_scan(sc_on, &img, r), DG_OK);
    *on = has_number(r, text);
    print_message("%s: %s %s with the stage, %s without\n", fixture, text,
                  *on ? "read" : "not read", *off ? "read" : "not read");
    vis_image_destroy(&img);
    free(r);
    rec_scanner_free(sc_on);
    rec_scanner_free(sc_off);
    nn_model_free(m);
}

static void no_cut_again(struct rec_params *p)
{
    p->cut_again = 0;
}

static void test_three_run_together(void **state)
{
    (void)state;
    int on, off;
    read_on_off("three-run-together.jpg", "646198", no_cut_again, &on, &off);
    assert_true(on);
    assert_false(off);
}

/* Stage 5d, three in a blob the network turned down: a ruled sheet on a desk
 * (tests/fixtures/three-beside-digits.jpg, build/world-tune's world_0032, MNIST training digits)
 * whose number 434943 is written close and blurred: 4, 3 and 4 are read, "943" is one blob the
 * network is sure is not a digit. Cut in three (cut_threes) it is read, and the number whole;
 * without the stage the number is read as 434. Stage 5e (cut_runs) reads such a blob too, and stage
 * 7 parts it at a stricter share: both are switched off with it. */
static void no_cut_threes(struct rec_params *p)
{
    p->cut_threes = 0;
    p->cut_runs = 0;
    rec_params_look_once(p);
}

static void test_three_beside_digits(void **state)
{
    (void)state;
    int on, off;
    read_on_off("three-beside-digits.jpg", "434943", no_cut_threes, &on, &off);
    assert_true(on);
    assert_false(off);
}

static const char ROBUST[] = "models/robust.safetensors", FAST[] = "models/fast.safetensors";

/* rd = model's reading of tests/fixtures/FIXTURE with the default parameters, or with one rule
 * switched off (rule_off, when not NULL). reader_close(rd) when done. */
static void no_context(struct rec_params *p)
{
    p->context_min = 0.0f;
}

static void read_fixture(struct reader *rd, const char *model, const char *fixture,
                         void (*change)(struct rec_params *),
                         void (*change_too)(struct rec_params *))
{
    reader_open(rd, model);
    struct rec_params p;
    rec_default_params(&p);
    if (change)
        change(&p);
    if (change_too)
        change_too(&p);
    rec_scanner_set_params(rd->sc, &p);
    struct vis_image img;
    load_fixture(fixture, &img);
    assert_int_equal(rec_scan(rd->sc, &img, rd->r), DG_OK);
    vis_image_destroy(&img);
}

/* The readings of r whose box lies wholly inside area (x0, y0, x1, y1). */
static int readings_inside(const struct rec_result *r, const int area[4])
{
    int n = 0;
    for (int i = 0; i < r->n_digits; i++) {
        const struct rec_box *b = &r->digits[i].box;
        n += b->x >= area[0] && b->y >= area[1] && b->x + b->w <= area[2] && b->y + b->h <= area[3];
    }
    return n;
}

/* What model reads in tests/fixtures/FIXTURE with the default parameters (got[0]) and with one
 * rule switched off (got[1]): its digits, those wholly inside area (none asked when area is
 * NULL), and how many of the n_texts texts it reads as numbers. The context network (stage 5d) is
 * off in both runs, so that each rule is tested on its own: it rejects most of what these rules
 * do (test_context_network_on_rule_fixtures). */
struct fixture_reading {
    int digits, inside, numbers;
};

static void read_both_ways(const char *model, const char *fixture,
                           void (*rule_off)(struct rec_params *), const int area[4],
                           const char *const *texts, int n_texts, struct fixture_reading got[2])
{
    for (int k = 0; k < 2; k++) {
        struct reader rd;
        read_fixture(&rd, model, fixture, no_context, k ? rule_off : NULL);
        got[k].digits = rd.r->n_digits;
        got[k].inside = area ? readings_inside(rd.r, area) : 0;
        got[k].numbers = 0;
        for (int t = 0; t < n_texts; t++)
            got[k].numbers += has_number(rd.r, texts[t]);
        reader_close(&rd);
    }
}

/* Stage 5d's mechanics, with a context network made by hand in place of the shipped one: a single
 * dense layer with no weights, so that its chance of "a digit" is the same for every reading
 * (biases b0, b1: 1 / (1 + e^(b0 - b1))). A network sure of every reading leaves the result as
 * with no check; one sure of none takes every reading away, those of stage 8 too (the close-up
 * marker digits of test_big_marker_digits are not needed: any frame's readings are checked the
 * same way); context_min 0 switches the check off. */
static void read_with_context(struct nn_model *m, float b0, float b1, float context_min,
                              const struct vis_image *img, struct rec_result *r)
{
    struct rec_params p;
    rec_default_params(&p);
    p.context_min = context_min;
    memset(m->aux->params, 0, m->aux->n_params * sizeof(float));
    m->aux->params[m->aux->layer[m->aux->n_layers - 1].b_off] = b0;
    m->aux->params[m->aux->layer[m->aux->n_layers - 1].b_off + 1] = b1;
    assert_true(rec_has_context_model(m));
    struct rec_scanner *sc;
    assert_int_equal(rec_scanner_new(m, &p, &sc), DG_OK);
    assert_int_equal(rec_scan(sc, img, r), DG_OK);
    rec_scanner_free(sc);
}

static void test_context_network_stage(void **state)
{
    (void)state;
    struct nn_model *m = load_model();
    nn_model_free(m->aux);
    assert_int_equal(nn_model_new("f2", 1, 28, 28, &m->aux), DG_OK);
    struct vis_image img;
    load_fixture("printed-words-beside-digits.jpg", &img);
    struct rec_result *r[3];
    for (int k = 0; k < 3; k++)
        assert_non_null(r[k] = malloc(sizeof *r[k]));
    read_with_context(m, 0.0f, 5.0f, 0.0f, &img, r[0]); /* no check */
    read_with_context(m, 0.0f, 5.0f, 0.1f, &img, r[1]); /* every reading a digit's (0.993) */
    read_with_context(m, 5.0f, 0.0f, 0.1f, &img, r[2]); /* none (0.007) */
    print_message("readings: %d with no check, %d when all are digits, %d when none are\n",
                  r[0]->n_digits, r[1]->n_digits, r[2]->n_digits);
    assert_true(r[0]->n_digits >= 5);
    assert_true(has_number(r[0], "618") && has_number(r[0], "61"));
    assert_int_equal(r[1]->n_digits, r[0]->n_digits);
    assert_int_equal(r[1]->n_numbers, r[0]->n_numbers);
    for (int i = 0; i < r[0]->n_digits; i++) {
        assert_int_equal(r[1]->digits[i].digit, r[0]->digits[i].digit);
        assert_memory_equal(&r[1]->digits[i].box, &r[0]->digits[i].box, sizeof(struct rec_box));
    }
    assert_int_equal(r[2]->n_digits, 0);
    assert_int_equal(r[2]->n_numbers, 0);
    read_with_context(m, 5.0f, 0.0f, 0.0f, &img, r[2]); /* switched off */
    assert_int_equal(r[2]->n_digits, r[0]->n_digits);
    for (int k = 0; k < 3; k++)
        free(r[k]);
    vis_image_destroy(&img);
    nn_model_free(m);
}

/* Stage 5d's rescue: a thin 1 in a number (tests/fixtures/thin-one-in-number.jpg, cut from
 * build/world-tune's world_0202, MNIST training digits: 702197 among other numbers on a sheet)
 * that the digit network takes for a line piece ("not a digit" 0.96), beside a 2 it is sure of.
 * The context network is sure of its surroundings, so the number is read whole; with the context
 * network switched off the 1 is not read. */
static void test_thin_one_rescued(void **state)
{
    (void)state;
    int on, off;
    read_on_off("thin-one-in-number.jpg", "702197", no_context, &on, &off);
    assert_true(on);
    assert_false(off);
}

/* Context, words: a sheet (tools/othergen.py, training digits) with the numbers 618 and 61 written
 * beside the printed word "Oslo" and another in a script font. The shipped robust model reads
 * their o's and O's as 0s; among the letters the network is sure are not digits, the printed
 * word's are not read, and the numbers beside them still are. (The script word's s and l are
 * under 0.7 sure, so its o is read either way.) */
static void no_words(struct rec_params *p)
{
    p->reject_words = 0;
}

static void test_words_not_read(void **state)
{
    (void)state;
    /* where the printed word is in the fixture: x0, y0, x1, y1 */
    static const int word[4] = {130, 60, 210, 100};
    struct fixture_reading got[2];
    read_both_ways(ROBUST, "printed-words-beside-digits.jpg", no_words, word,
                   (const char *[]){"618", "61"}, 2, got);
    print_message("readings in the word: %d (%d without the rule); numbers read: %d of 2\n",
                  got[0].inside, got[1].inside, got[0].numbers);
    assert_int_equal(got[0].inside, 0);
    assert_true(got[1].inside >= 2);
    assert_int_equal(got[0].numbers, 2);
}

/* Context, frames: a box drawn round a number is a loop the network reads as a 0 (a sheet of
 * tools/othergen.py, training digits: 8384 boxed, 9084 above it, a 6 beside). With the number's
 * digits inside it, it is no digit: with the rule no model reads a frame and the numbers are read;
 * without it, fast and the robust of 2026-12-07 read the box round 8384 as a 0 (the robust of
 * 2026-12-08 does not read it even so). The word rules are off in both runs: since a tie of a
 * sure letter and an unsure reading is a word (2026-12-05), they take robust's 0 too. */
static void test_frame_round_number(void **state)
{
    (void)state;
    static const struct {
        const char *model;
        int reads_9084;     /* fast reads the tiny turned 9 above the box as a 4 (see the
                               fixtures of the context network below) */
        int box_without_it; /* the robust of 2026-12-08 reads no box as a 0 without the rule */
    } cases[3] = {{ROBUST, 1, 0}, {FAST, 0, 1}, {ROBUST_1207, 1, 1}};
    for (int k = 0; k < 6; k++) {
        const int m = k / 2, rule = k % 2 == 0;
        struct reader rd;
        reader_open(&rd, cases[m].model);
        struct rec_params p;
        rec_default_params(&p);
        p.reject_frames = rule;
        p.reject_words = 0;
        p.context_min = 0.0f; /* the rule on its own */
        rec_scanner_set_params(rd.sc, &p);
        struct vis_image img;
        load_fixture("frame-round-number.jpg", &img);
        assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
        int frames = 0;
        for (int i = 0; i < rd.r->n_digits; i++)
            frames += rd.r->digits[i].box.w >= 30;
        print_message("%s, rule %s: %d frames read as digits\n", cases[m].model,
                      rule ? "on" : "off", frames);
        if (rule) {
            assert_int_equal(frames, 0);
            assert_true(has_number(rd.r, "8384"));
            assert_true(!cases[m].reads_9084 || has_number(rd.r, "9084"));
        } else if (cases[m].box_without_it) {
            assert_true(frames >= 1);
        }
        vis_image_destroy(&img);
        reader_close(&rd);
    }
}

/* Context, a tie: a frame of tools/othergen.py (real-tune, training digits) with 1333, 93 and 800
 * written above a printed "and Hz". The H is read as a 4 beside a z the network is sure is not a
 * digit: one reading and one letter, a tie the word chains leave alone (2026-12-05, before
 * WORD_SURE, it was read). With the letter 0.95 sure and the reading not, it is a word; the three
 * numbers are read either way. */
static void test_sure_letter_tie_not_read(void **state)
{
    (void)state;
    /* where the printed H is: x0, y0, x1, y1 */
    static const int letter[4] = {280, 135, 325, 185};
    struct fixture_reading got[2];
    read_both_ways(ROBUST, "printed-hz-beside-digits.jpg", no_words, letter,
                   (const char *[]){"1333", "93", "800"}, 3, got);
    print_message("readings on the H: %d (%d without the word rules); numbers read: %d of 3 (%d)\n",
                  got[0].inside, got[1].inside, got[0].numbers, got[1].numbers);
    assert_int_equal(got[0].inside, 0);
    assert_int_equal(got[1].inside, 1);
    assert_int_equal(got[0].numbers, 3);
    assert_int_equal(got[1].numbers, 3);
}

/* Context, a word of 0s and 1s: a frame of tools/othergen.py (other-tune, training digits) with
 * 18303 and 65 written under the printed words "box Gobi bill". The robust model reads the G and o
 * of "Gobi" as 0s (0.70 and 0.83), two readings against the b the network is sure is not a digit,
 * so the word rules before 2026-12-06 kept them as the number 00; readings that are all 0s and 1s
 * beside a sure letter, none of them 0.99 sure, are letters. 18303 and 65 are read either way
 * (the robust of 2026-12-07 lost the first 1 to its neighbour, the one after it reads it at 0.20
 * and the context stage keeps it). */
static void test_letter_like_digits_not_read(void **state)
{
    (void)state;
    /* where "Gobi" is: x0, y0, x1, y1 */
    static const int word[4] = {300, 290, 345, 320};
    struct fixture_reading got[2];
    read_both_ways(ROBUST, "printed-gobi-beside-digits.jpg", no_words, word,
                   (const char *[]){"18303", "65"}, 2, got);
    print_message("readings in the word: %d (%d without the word rules); numbers read: %d of 2 "
                  "(%d)\n",
                  got[0].inside, got[1].inside, got[0].numbers, got[1].numbers);
    assert_int_equal(got[0].inside, 0);
    assert_int_equal(got[1].inside, 2);
    assert_int_equal(got[0].numbers, 2);
    assert_int_equal(got[1].numbers, 2);
}

/* Stage 5e, a number in one blob: a frame of tools/othergen.py (other-tune: a sticky note held
 * up over a blurred room) whose 980 is written so close that the blur makes one blob of it, which
 * the network is sure is not a digit, with no digit beside it. Cut where its ink is thinnest
 * (cut_runs), its stretches read as 9, 8 and 0; without the stage (and stage 7, which parts the
 * blob at a stricter share) none of it is read. */
static void no_cut_runs(struct rec_params *p)
{
    p->cut_runs = 0;
    rec_params_look_once(p);
}

static void test_number_in_one_blob(void **state)
{
    (void)state;
    struct fixture_reading got[2];
    read_both_ways(ROBUST, "number-in-one-blob.jpg", no_cut_runs, NULL, (const char *[]){"980"}, 1,
                   got);
    print_message("980 %s with the stage (%d digits), %s without (%d)\n",
                  got[0].numbers ? "read" : "not read", got[0].digits,
                  got[1].numbers ? "read" : "not read", got[1].digits);
    assert_true(got[0].numbers);
    assert_false(got[1].numbers);
    assert_true(got[0].digits >= got[1].digits + 3); /* stage 7 finds others on the note */
}

/* Stage 5e on a blurred run of five (tests/fixtures/run-of-five.png, grey, cut from
 * build/world-tune's world_0088, MNIST training digits: 97489 written close, 18 px tall, among
 * 591, 6356 and 429): the robust model reads "489" run together as not a digit and the cut
 * stretches 0.8-0.9 sure, which stage 5e takes since stage 5d judges its readings (RUN_SURE; at
 * 0.9 the number was not read). Without the stage (and stage 7) it is not read; the other numbers
 * are read either way. */
static void test_blurred_run_read(void **state)
{
    (void)state;
    struct reader rd[2];
    read_fixture(&rd[0], ROBUST, "run-of-five.png", NULL, NULL);
    read_fixture(&rd[1], ROBUST, "run-of-five.png", no_cut_runs, NULL);
    print_message("97489 %s with stage 5e, %s without\n",
                  has_number(rd[0].r, "97489") ? "read" : "not read",
                  has_number(rd[1].r, "97489") ? "read" : "not read");
    assert_true(has_number(rd[0].r, "97489"));
    assert_false(has_number(rd[1].r, "97489"));
    for (int k = 0; k < 2; k++) {
        assert_true(has_number(rd[k].r, "6356") && has_number(rd[k].r, "429"));
        reader_close(&rd[k]);
    }
}

/* Stage 5e with one stretch unsure (tests/fixtures/run-with-unsure-digit.jpg, grey, cut from
 * build/world-tune's world_0199: chalk on a dark board, MNIST training digits): "034000" written
 * joined, 18 px tall, is one blob; of its six stretches five read sure and one 0 at 0.22. A chain
 * of four or more may hold one such stretch (RUN_UNSURE), which stage 5d then reads beside its
 * neighbours: the number is read whole. Before, the chain had to be sure from end to end and
 * none of the six was read. */
static void test_run_with_unsure_digit(void **state)
{
    (void)state;
    struct reader rd;
    read_fixture(&rd, ROBUST, "run-with-unsure-digit.jpg", NULL, NULL);
    print_message("034000 %s, %d digits in the frame\n",
                  has_number(rd.r, "034000") ? "read" : "not read", rd.r->n_digits);
    assert_true(has_number(rd.r, "034000"));
    reader_close(&rd);
}

/* Stage 7, the ink again: a sticky note on a desk (build/world-tune's world_0069, training
 * digits) with 25 written faintly with a fine pen above bolder digits (22, 88, 95). At the
 * threshold's share of the strongest stroke nearby its strokes break up and neither digit is
 * read; found again at the share of 0.15 they are, sure, and the number with them. Both models;
 * nothing the first reading had is lost. */
static void test_faint_number_found_again(void **state)
{
    (void)state;
    const char *const models[] = {ROBUST, FAST};
    for (int m = 0; m < 2; m++) {
        struct fixture_reading got[2];
        read_both_ways(models[m], "faint-number-on-sticky-note.jpg", rec_params_look_once, NULL,
                       (const char *[]){"25", "22", "88", "95"}, 4, got);
        print_message("%s: %d digits and %d of 4 numbers read (%d and %d without stage 7)\n",
                      models[m], got[0].digits, got[0].numbers, got[1].digits, got[1].numbers);
        assert_int_equal(got[0].numbers, 4);
        assert_int_equal(got[1].numbers, 3);
        assert_int_equal(got[0].digits, got[1].digits + 2);
    }
}

/* Context, rows of letters: a frame of tools/othergen.py (real-empty-tune: no digit in it) with a
 * dark keyboard whose keys carry light letters, a key's height apart, too far apart for a word's
 * chain. Read as light ink, its Q, O, G, H and J are read as 0, 6, 4 and 3 unless the readings in
 * a row of letters the network is sure are not digits are letters too (with the word chains
 * alone, 2026-12-05: six readings). Read by the robust of 2026-12-07 (ROBUST_1207): the models
 * after it read none of the keys even without the rows. */
static void test_keyboard_keys_not_read(void **state)
{
    (void)state;
    struct fixture_reading got[2];
    read_both_ways(ROBUST_1207, "keyboard-keys.jpg", no_words, NULL, NULL, 0, got);
    print_message("keys read as digits: %d (%d without the words and rows)\n", got[0].digits,
                  got[1].digits);
    assert_int_equal(got[0].digits, 0);
    assert_true(got[1].digits >= 3);
}

/* Context, clutter: a frame of tools/othergen.py (real-tune, training digits): a sheet with 85 and
 * 617 written on it, a printed line, a shadow across it, and beside it a photograph of a cluttered
 * desk. Without the rule the shipped robust model reads a 7 in the shadow and a 9 in the
 * photograph; with it, both are rejected (texture on three or four sides, not paper) and the two
 * numbers are still read. */
static void no_clutter(struct rec_params *p)
{
    p->reject_clutter = 0;
}

static void test_clutter_not_read(void **state)
{
    (void)state;
    /* where the numbers are written: x0, y0, x1, y1 */
    static const int written[4] = {470, 100, 620, 155};
    struct fixture_reading got[2];
    read_both_ways(ROBUST, "clutter-beside-sheet.jpg", no_clutter, written,
                   (const char *[]){"85", "617"}, 2, got);
    const int outside[2] = {got[0].digits - got[0].inside, got[1].digits - got[1].inside};
    print_message(
        "readings off the numbers: %d (%d without the rule); numbers read: %d of 2 (%d)\n",
        outside[0], outside[1], got[0].numbers, got[1].numbers);
    assert_int_equal(outside[0], 0);
    assert_true(outside[1] >= 1);
    assert_int_equal(got[0].numbers, 2);
    assert_int_equal(got[1].numbers, 2);
}

/* Context, a sheet's corner: a frame of the live benchmark's hand-held video of real-tune
 * (tools/othergen.py over a packaged photograph, training digits): a yellow sticky note with 54
 * written on it, turned, over a dark green room. Along the note's top right corner the threshold
 * leaves a band of the room in the ink mask, which the fast model reads as a 7; dark on two sides
 * of its box (the room), paper on another (the note), it is the dark side of the corner. */
static void no_corners(struct rec_params *p)
{
    p->reject_corners = 0;
}

static void test_sheet_corner_not_read(void **state)
{
    (void)state;
    /* where 54 is written: x0, y0, x1, y1 */
    static const int written[4] = {200, 185, 300, 270};
    struct fixture_reading got[2];
    read_both_ways(FAST, "sticky-note-corner.jpg", no_corners, written, (const char *[]){"54"}, 1,
                   got);
    const int outside[2] = {got[0].digits - got[0].inside, got[1].digits - got[1].inside};
    print_message("readings off 54: %d (%d without the rule); 54 read: %d (%d)\n", outside[0],
                  outside[1], got[0].numbers, got[1].numbers);
    assert_int_equal(outside[0], 0);
    assert_true(outside[1] >= 1);
    assert_int_equal(got[0].numbers, 1);
    assert_int_equal(got[1].numbers, 1);
}

/* Stage 5d, the context network, on the fixtures of the context rules above with all four rules
 * off: what the shipped network sees around each reading (a printed word's letters, a keyboard's
 * keys, a photograph of a desk, the room beyond a note's corner, a box drawn round a number)
 * rejects the readings each rule is there for, and leaves the written numbers read. And on a
 * desktop screen in view (tests/fixtures/screen-icons.jpg, build/screen-tune's other_0016, no
 * digit: icons, labels, a keyboard), which no rule is for: the network trained before screens
 * were among its views (2026-12-06) left 12 false readings there, the shipped one none. */
static void no_context_rules(struct rec_params *p)
{
    p->reject_words = p->reject_frames = p->reject_clutter = p->reject_corners = 0;
}

static void test_context_network_on_rule_fixtures(void **state)
{
    (void)state;
    static const struct {
        const char *model, *fixture;
        int area[4]; /* the written numbers (readings outside are false) or, with junk_in,
                        the junk (readings inside are false); all zero: the whole frame */
        int junk_in;
        const char *texts[2]; /* numbers read with the network */
    } cases[] = {
        {ROBUST, "printed-words-beside-digits.jpg", {130, 60, 210, 100}, 1, {"618", "61"}},
        {ROBUST, "clutter-beside-sheet.jpg", {470, 100, 620, 155}, 0, {"85", "617"}},
        {FAST, "sticky-note-corner.jpg", {200, 185, 300, 270}, 0, {"54", NULL}},
        {ROBUST_1207, "keyboard-keys.jpg", {0, 0, 0, 0}, 1, {NULL, NULL}},
        /* fast, since the small views (2026-12-08), reads the 11x13 px 9 of 9084 above the
           box, turned 30 degrees with its loop barely closed, as a 4 (58%): 8384 alone */
        {FAST, "frame-round-number.jpg", {0, 0, 0, 0}, 2, {"8384", NULL}},
        {ROBUST_1207, "frame-round-number.jpg", {0, 0, 0, 0}, 2, {"8384", "9084"}},
        {ROBUST, "screen-icons.jpg", {0, 0, 0, 0}, 1, {NULL, NULL}},
        {FAST, "screen-icons.jpg", {0, 0, 0, 0}, 1, {NULL, NULL}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int wrong[2], texts[2] = {0, 0};
        for (int k = 0; k < 2; k++) { /* k = 0: the network on; 1: off */
            struct reader rd;
            read_fixture(&rd, cases[c].model, cases[c].fixture, no_context_rules,
                         k ? no_context : NULL);
            const struct rec_result *r = rd.r;
            if (cases[c].junk_in == 2) { /* a box round a number is a wide 0 */
                wrong[k] = 0;
                for (int i = 0; i < r->n_digits; i++)
                    wrong[k] += r->digits[i].box.w >= 30;
            } else if (!cases[c].area[2]) {
                wrong[k] = r->n_digits;
            } else {
                const int in = readings_inside(r, cases[c].area);
                wrong[k] = cases[c].junk_in ? in : r->n_digits - in;
            }
            for (int t = 0; t < 2; t++)
                texts[k] += cases[c].texts[t] && has_number(r, cases[c].texts[t]);
            reader_close(&rd);
        }
        int want = 0;
        for (int t = 0; t < 2; t++)
            want += cases[c].texts[t] != NULL;
        print_message("%s (%s): %d false readings with the network, %d without; numbers read: "
                      "%d of %d\n",
                      cases[c].fixture, cases[c].model, wrong[0], wrong[1], texts[0], want);
        assert_int_equal(wrong[0], 0);
        assert_true(wrong[1] >= 1);
        assert_int_equal(texts[0], want);
    }
}

/* Stage 5d on handwritten words (twenty-eighth session): a note in a cursive hand with no digit
 * in it (tests/fixtures/handwritten-note.jpg, cut from build/words-tune's other_0003,
 * tools/othergen.py --words 1: "items yes Sol quiz", "mom Lille name", "no love Lisa date" and
 * more in a brush script) and a sheet with "Box:" written before 27 and words above and below
 * its numbers (label-before-number.jpg, other_0143: 1970, 10 and 27). Read alone some of the
 * note's letters look like digits to both digit networks (o as 0, l as 1, a as 6): with the
 * context network off robust reads 33 of them, fast 6 (19 before it saw small views and its
 * own mistakes, 2026-12-08). The network trained with handwritten words among its views turns
 * down at least four in five (the one shipped before left all 33); the numbers beside the
 * words are still read. */
static void test_handwritten_words(void **state)
{
    (void)state;
    static const char *const models[] = {ROBUST, FAST};
    for (int k = 0; k < 2; k++) {
        struct reader on, off, sheet;
        read_fixture(&on, models[k], "handwritten-note.jpg", NULL, NULL);
        read_fixture(&off, models[k], "handwritten-note.jpg", no_context, NULL);
        read_fixture(&sheet, models[k], "label-before-number.jpg", NULL, NULL);
        print_message("%s: %d readings on the note with the context network, %d without; 1970 "
                      "%d, 10 %d, 27 %d\n",
                      models[k], on.r->n_digits, off.r->n_digits, has_number(sheet.r, "1970"),
                      has_number(sheet.r, "10"), has_number(sheet.r, "27"));
        assert_true(off.r->n_digits >= 5); /* robust 33, fast 6 (the fasts before it 19, 32) */
        assert_true(on.r->n_digits * 5 <= off.r->n_digits);
        assert_true(has_number(sheet.r, "1970") && has_number(sheet.r, "10") &&
                    has_number(sheet.r, "27"));
        reader_close(&on);
        reader_close(&off);
        reader_close(&sheet);
    }
}

/* Stage 4a, deeper ink: two digits joined by a faint smudge as tall as they are (a lens's blur
 * between digits written close). The mask takes them as one blob (the smudge is darker than the
 * threshold's margin), and a cut through the smudge's full columns is no cut at all; read again
 * from their darker half, the pair is two digits. With deep_share 0 they are not read. Read by
 * the ten-class reference model: the shipped ones are sure such a blob is not a digit, and the
 * stage leaves those alone (for time). */
static void smudge(struct vis_image *page, int x0, int y0, int x1, int y1, uint8_t v)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            uint8_t *p = &page->px[(size_t)y * page->w + x];
            *p = *p < v ? *p : v;
        }
}

static void test_deeper_ink(void **state)
{
    (void)state;
    struct data_set s;
    int first[10];
    load_test_digits(&s, first);
    struct reader on, off;
    reader_open(&on, "models/reference.safetensors");
    reader_open(&off, "models/reference.safetensors");
    /* dark ink given: on blank paper the grey smudge can tip the automatic polarity test */
    struct rec_params p;
    rec_default_params(&p);
    p.threshold.polarity = VIS_POLARITY_DARK_ON_LIGHT;
    p.split_aspect = 0.0f; /* no cuts and wholes from the mask: the stage alone */
    p.grey_ink = 0;
    rec_scanner_set_params(on.sc, &p);
    p.deep_share = 0.0f;
    rec_scanner_set_params(off.sc, &p);
    int pairs_on = 0, pairs_off = 0, tried = 0;
    for (int a = 2; a < 10; a++) {
        const int b = a == 9 ? 2 : a + 1;
        struct vis_image page;
        assert_int_equal(vis_image_init(&page, 640, 480), DG_OK);
        memset(page.px, 225, 640 * 480);
        struct placed pa, pb;
        const int wa = put_digit(&page, &s, first[a], a, 200, 200, 2.0, &pa);
        put_digit(&page, &s, first[b], b, 200 + wa + 8, 200, 2.0, &pb);
        /* 60 levels below the paper: ink to the threshold (its margin is at most 48), but well
         * above half the digits' depth (180) */
        smudge(&page, pa.x + pa.w - 3, pa.y, pb.x + 3, pa.y + pa.h - 1, 165);
        for (int k = 0; k < 2; k++) {
            struct reader *rd = k ? &off : &on;
            assert_int_equal(rec_scan(rd->sc, &page, rd->r), DG_OK);
            const int ok = rd->r->n_digits == 2 && rd->r->digits[0].digit == a &&
                           rd->r->digits[1].digit == b && rd->r->n_numbers == 1;
            *(k ? &pairs_off : &pairs_on) += ok;
        }
        vis_image_destroy(&page);
        tried++;
    }
    printf("smudged pairs read: %d of %d with deeper ink, %d without\n", pairs_on, tried,
           pairs_off);
    assert_true(pairs_on * 10 >= tried * 7);
    assert_true(pairs_off * 10 <= tried * 2);
    reader_close(&on);
    reader_close(&off);
    data_set_free(&s);
}

/* Stage 3's grey levels: 40 small digits (MNIST test digits 12 px tall, blurred as a webcam's
 * lens does) far apart on a page. In the ink mask such a digit is a blocky blob; read from its
 * grey levels it keeps its shape, and more are read (with the shipped fast model). */
static int small_digits_read(struct reader *rd, const struct vis_image *page,
                             const struct placed *pl, int n)
{
    assert_int_equal(rec_scan(rd->sc, page, rd->r), DG_OK);
    int read = 0;
    for (int i = 0; i < rd->r->n_digits; i++) {
        const struct rec_digit *d = &rd->r->digits[i];
        const int cx = d->box.x + d->box.w / 2, cy = d->box.y + d->box.h / 2;
        for (int k = 0; k < n; k++)
            read += d->digit == pl[k].label && cx >= pl[k].x && cx < pl[k].x + pl[k].w &&
                    cy >= pl[k].y && cy < pl[k].y + pl[k].h;
    }
    return read;
}

static void test_grey_ink(void **state)
{
    (void)state;
    struct data_set s;
    int first[10];
    load_test_digits(&s, first);
    struct reader rd;
    reader_open(&rd, "models/fast.safetensors");
    struct rec_params p;
    rec_default_params(&p);
    p.keep_lone_ones = 1; /* each digit stands alone */
    rec_scanner_set_params(rd.sc, &p);
    struct vis_image page, blurred;
    assert_int_equal(vis_image_init(&page, 640, 480), DG_OK);
    assert_int_equal(vis_image_init(&blurred, 640, 480), DG_OK);
    memset(page.px, 215, 640 * 480);
    struct placed pl[40];
    for (int k = 0; k < 40; k++)
        put_digit(&page, &s, 100 + k, s.labels[100 + k], 40 + (k % 10) * 60, 60 + (k / 10) * 100,
                  0.6, &pl[k]);
    for (int y = 0; y < 480; y++) /* a 3x3 box blur */
        for (int x = 0; x < 640; x++) {
            int sum = 0, n = 0;
            for (int yy = y > 0 ? y - 1 : 0; yy <= y + 1 && yy < 480; yy++)
                for (int xx = x > 0 ? x - 1 : 0; xx <= x + 1 && xx < 640; xx++)
                    sum += page.px[(size_t)yy * 640 + xx], n++;
            blurred.px[(size_t)y * 640 + x] = (uint8_t)(sum / n);
        }
    const int on = small_digits_read(&rd, &blurred, pl, 40);
    p.grey_ink = 0;
    rec_scanner_set_params(rd.sc, &p);
    const int off = small_digits_read(&rd, &blurred, pl, 40);
    print_message("small digits read: %d of 40 in grey levels, %d from the mask\n", on, off);
    assert_true(on >= 28);
    assert_true(on >= off + 6);
    vis_image_destroy(&page);
    vis_image_destroy(&blurred);
    reader_close(&rd);
    data_set_free(&s);
}

/* Block letters drawn with bars (E F H L T U), the strokes of printed words, beside three MNIST
 * digits: a model with the "not a digit" class (the shipped fast one) reads the digits and
 * rejects the letters; the 10-class reference model reads letters as digits, so the check is one
 * the junk class has to pass. */
static int letters_read(const char *model_file, int *digits_read)
{
    struct data_set s;
    int first[10];
    load_test_digits(&s, first);
    struct reader rd;
    reader_open(&rd, model_file);
    struct rec_result *r = rd.r;
    struct vis_image page;
    assert_int_equal(vis_image_init(&page, 640, 300), DG_OK);
    memset(page.px, 215, (size_t)page.w * page.h);
    /* letters 60 tall, 40 wide, strokes 8: bars as (x0, y0, x1, y1) relative to the letter */
    static const int bars[6][4][4] = {
        {{0, 0, 8, 60}, {0, 0, 40, 8}, {0, 26, 32, 34}, {0, 52, 40, 60}}, /* E */
        {{0, 0, 8, 60}, {0, 0, 40, 8}, {0, 26, 32, 34}, {0, 0, 0, 0}},    /* F */
        {{0, 0, 8, 60}, {32, 0, 40, 60}, {0, 26, 40, 34}, {0, 0, 0, 0}},  /* H */
        {{0, 0, 8, 60}, {0, 52, 40, 60}, {0, 0, 0, 0}, {0, 0, 0, 0}},     /* L */
        {{0, 0, 40, 8}, {16, 0, 24, 60}, {0, 0, 0, 0}, {0, 0, 0, 0}},     /* T */
        {{0, 0, 8, 60}, {32, 0, 40, 60}, {0, 52, 40, 60}, {0, 0, 0, 0}},  /* U */
    };
    for (int l = 0; l < 6; l++)
        for (int b = 0; b < 4; b++)
            if (bars[l][b][2] > bars[l][b][0])
                ink_box(&page, 30 + 70 * l + bars[l][b][0], 40 + bars[l][b][1],
                        30 + 70 * l + bars[l][b][2], 40 + bars[l][b][3]);
    struct placed pl;
    const int labels[3] = {2, 5, 8};
    for (int k = 0; k < 3; k++)
        put_digit(&page, &s, first[labels[k]], labels[k], 60 + 180 * k, 170, 3.0, &pl);
    assert_int_equal(rec_scan(rd.sc, &page, r), DG_OK);
    int letters = 0, digits = 0;
    for (int i = 0; i < r->n_digits; i++) {
        if (r->digits[i].box.y < 140)
            letters++;
        else
            digits++;
    }
    *digits_read = digits;
    vis_image_destroy(&page);
    reader_close(&rd);
    data_set_free(&s);
    return letters;
}

static void test_rejects_drawn_letters(void **state)
{
    (void)state;
    int digits;
    const int with_junk = letters_read("models/fast.safetensors", &digits);
    assert_int_equal(digits, 3);
    const int without = letters_read("models/reference.safetensors", &digits);
    print_message("letters read as digits: %d of 6 with the 'not a digit' class, %d without\n",
                  with_junk, without);
    assert_true(with_junk <= 1);
    assert_true(without >= 3); /* the page is one a digit-only model fails */
}

/* Context: the border of a dark object on a light sheet (a phone, a desk) is a tall thin band of
 * "ink" the network reads as a 1, and so is the l of a printed word; a 1 written on its own is a
 * 1. With the shipped fast model: the edge and the letter are not read, the lone 1 and the 7
 * beside it are. */
static void test_context_rejects_edges_and_letters(void **state)
{
    (void)state;
    struct data_set s;
    int first[10];
    load_test_digits(&s, first);
    struct reader rd;
    reader_open(&rd, "models/fast.safetensors");
    struct rec_result *r = rd.r;
    struct vis_image page;
    assert_int_equal(vis_image_init(&page, 640, 360), DG_OK);
    memset(page.px, 215, (size_t)page.w * page.h);
    /* a dark shadow from x = 466 rightwards, full in rows 140..220 and fading out over 60 rows
     * above and below, its left border sharp (3 px): only that border is ink */
    for (int y = 80; y < 280; y++) {
        const double d = y < 140 ? 1.0 - (140 - y) / 60.0 : y > 220 ? 1.0 - (y - 220) / 60.0 : 1.0;
        for (int x = 466; x < 640; x++) {
            const double t = x - 466 < 3 ? (x - 466) / 3.0 : 1.0;
            page.px[(size_t)y * page.w + x] = (uint8_t)(215 + (60 - 215) * t * d);
        }
    }
    /* block letters E l F, 60 tall, strokes 8, 8 px apart, at (40, 40) */
    ink_box(&page, 40, 40, 48, 100), ink_box(&page, 40, 40, 76, 48);
    ink_box(&page, 40, 66, 70, 74), ink_box(&page, 40, 92, 76, 100); /* E */
    ink_box(&page, 84, 40, 92, 100);                                 /* l */
    ink_box(&page, 100, 40, 108, 100), ink_box(&page, 100, 40, 136, 48);
    ink_box(&page, 100, 66, 130, 74); /* F */
    struct placed one, seven;
    put_digit(&page, &s, first[1], 1, 120, 200, 3.0, &one);
    put_digit(&page, &s, first[7], 7, 260, 200, 3.0, &seven);
    assert_int_equal(rec_scan(rd.sc, &page, r), DG_OK);
    int edge = 0, letter = 0, ones = 0, sevens = 0;
    for (int i = 0; i < r->n_digits; i++) {
        const struct rec_box *b = &r->digits[i].box;
        if (b->x + b->w > 440)
            edge++;
        else if (b->y < 140)
            letter++;
        else
            ones += r->digits[i].digit == 1 && b->x < 200, sevens += r->digits[i].digit == 7;
    }
    print_message("edge %d, letters %d, 1 %d, 7 %d\n", edge, letter, ones, sevens);
    assert_int_equal(edge, 0);
    assert_int_equal(letter, 0);
    assert_int_equal(ones, 1);
    assert_int_equal(sevens, 1);
    /* each candidate says why it was turned down (the edge, the l), a reading that it was read */
    int named = 0;
    for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
        const enum rec_why w = r->digits[i].why;
        assert_int_equal(w == REC_READ, i < r->n_digits);
        assert_true(strcmp(rec_why_name(w), "?") != 0);
        named += w != REC_READ && w != REC_UNSURE;
    }
    print_message("%d turned down by a rule of context\n", named);
    assert_true(r->n_rejected >= 2);
    assert_string_equal(rec_why_name(REC_WHY_COUNT), "?");
    vis_image_destroy(&page);
    reader_close(&rd);
    data_set_free(&s);
}

/* A page photographed at 12 MP: 40 px digits (1.3% of the short side, under the 2% a webcam frame
 * asks for) in 12 rows of 32, more than the 256 candidates one frame once had room for, and a
 * row of 120 px digits below them. Nearly all are read (90%), the big ones all. */
static void test_twelve_megapixel_page(void **state)
{
    (void)state;
    struct data_set s;
    int first[10];
    load_test_digits(&s, first);
    struct reader rd;
    reader_open(&rd, "models/robust.safetensors");
    struct rec_result *r = rd.r;
    struct vis_image page;
    assert_int_equal(vis_image_init(&page, 4000, 3000), DG_OK);
    memset(page.px, 210, (size_t)page.w * page.h);
    struct placed pl;
    int n_small = 0, n_big = 0, k = 0;
    for (int row = 0; row < 12; row++)
        for (int col = 0; col < 32; col++, k++, n_small++)
            put_digit(&page, &s, k, s.labels[k], 150 + col * 115, 150 + row * 150, 2.0, &pl);
    /* in a row, as people write them: a 1 with no digit within 2.5 heights is rejected */
    for (int col = 0; col < 8; col++, k++, n_big++)
        put_digit(&page, &s, k, s.labels[k], 200 + col * 330, 2200, 6.0, &pl);
    assert_int_equal(rec_scan(rd.sc, &page, r), DG_OK);
    int small = 0, big = 0;
    for (int i = 0; i < r->n_digits; i++) {
        const struct rec_digit *d = &r->digits[i];
        if (d->box.y >= 2100)
            big += d->box.h > 80;
        else
            small += d->box.h < 60;
    }
    print_message("12 MP page: %d of %d small digits, %d of %d big ones read\n", small, n_small,
                  big, n_big);
    /* the shipped robust model's "not a digit" class turns down 4-6% of these clean 40 px MNIST
     * digits (robust without it read 98%); a candidate limit would lose a third */
    assert_true(small >= n_small * 90 / 100);
    assert_int_equal(big, n_big);
    vis_image_destroy(&page);
    reader_close(&rd);
    data_set_free(&s);
}

/* An image that is one digit cropped tight: MNIST's own 28x28 test digits, white on black as
 * stored and inverted. Read as they are, the threshold's window and closing would be two pixels
 * and 37-41% of them came apart or were not found (2026-12-07); rec_scan reads an image under 64
 * px enlarged (here by 3) as a crop: its polarity from its border, no rule of the surroundings
 * (a lone 1 is a 1, a 7 may touch the edge). At least 195 of 200 are read alone and right (all
 * of them when chosen), each box inside the 28x28 frame; read from a 64x64 page of the same
 * grey, where those rules hold, fewer are. */
static void test_tiny_digit_images(void **state)
{
    (void)state;
    struct data_set s;
    int first[10];
    load_test_digits(&s, first);
    struct reader rd;
    reader_open(&rd, ROBUST);
    struct vis_image img, page;
    assert_int_equal(vis_image_init(&img, 28, 28), DG_OK);
    assert_int_equal(vis_image_init(&page, 64, 64), DG_OK);
    int right = 0, on_page = 0;
    for (int i = 0; i < 100; i++)
        for (int inv = 0; inv < 2; inv++) {
            const uint8_t bg = inv ? 255 : 0;
            memset(page.px, bg, 64 * 64);
            for (int k = 0; k < 784; k++) {
                const uint8_t v = s.images[(size_t)i * 784 + k];
                img.px[k] = inv ? (uint8_t)(255 - v) : v;
                page.px[(18 + k / 28) * 64 + 18 + k % 28] = img.px[k];
            }
            assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
            assert_int_equal(rd.r->width, 28);
            for (int d = 0; d < rd.r->n_digits; d++) {
                const struct rec_box *b = &rd.r->digits[d].box;
                assert_true(b->x >= 0 && b->y >= 0 && b->w > 0 && b->h > 0);
                assert_true(b->x + b->w <= 28 && b->y + b->h <= 28);
            }
            right += rd.r->n_digits == 1 && rd.r->digits[0].digit == s.labels[i];
            assert_int_equal(rec_scan(rd.sc, &page, rd.r), DG_OK);
            on_page += rd.r->n_digits == 1 && rd.r->digits[0].digit == s.labels[i];
        }
    print_message("28x28 digit images: %d of 200 read alone and right; at 28 px on a 64 px page "
                  "%d\n",
                  right, on_page);
    assert_true(right >= 195);
    assert_true(on_page < right);
    vis_image_destroy(&img);
    vis_image_destroy(&page);
    reader_close(&rd);
    data_set_free(&s);
}

/* A big 7 written with a fine pen (strokes 2 px wide, 280 px tall) on a 640x480 page: it fills
 * under 2% of its box, which the candidate filter once took for a ruled frame, and scaled to 20 px
 * its strokes would be nearly invisible; it is read, with the shipped fast model. */
static void test_big_fine_pen_digit(void **state)
{
    (void)state;
    struct reader rd;
    reader_open(&rd, "models/fast.safetensors");
    struct rec_result *r = rd.r;
    struct vis_image page;
    assert_int_equal(vis_image_init(&page, 640, 480), DG_OK);
    memset(page.px, 210, (size_t)page.w * page.h);
    for (int x = 200; x < 350; x++) /* the bar */
        for (int t = 0; t < 2; t++)
            page.px[(100 + t) * page.w + x] = 60;
    for (int y = 100; y < 380; y++) /* the stem, slanting down to the left */
        for (int t = 0; t < 2; t++)
            page.px[y * page.w + 349 - (y - 100) * 110 / 280 + t] = 60;
    assert_int_equal(rec_scan(rd.sc, &page, r), DG_OK);
    int sevens = 0;
    for (int i = 0; i < r->n_digits; i++)
        sevens += r->digits[i].digit == 7 && r->digits[i].box.h > 200;
    print_message("big fine-pen 7: %d digits read, %d of them a tall 7\n", r->n_digits, sevens);
    assert_int_equal(sevens, 1);
    vis_image_destroy(&page);
    reader_close(&rd);
}

/* Test digit idx drawn with a marker on a flat canvas (ink's grey level): scaled by scale
 * (bilinear, tools/toolutil.h's sample_digit, ink where over 0.4), its strokes grown by a disc of
 * radius r, the top left of its 28x28 square at (x, y). */
static void marker_digit(struct vis_image *page, const struct data_set *s, int idx, int x, int y,
                         int scale, int r, uint8_t ink)
{
    const uint8_t *src = s->images + (size_t)idx * 784;
    for (int py = 0; py < 28 * scale; py++)
        for (int px = 0; px < 28 * scale; px++) {
            if (sample_digit(src, (px + 0.5f) / scale - 0.5f, (py + 0.5f) / scale - 0.5f) <= 0.4f)
                continue;
            for (int dy = -r; dy <= r; dy++)
                for (int dx = -r; dx <= r; dx++) {
                    const int X = x + px + dx, Y = y + py + dy;
                    if (dx * dx + dy * dy <= r * r && X >= 0 && Y >= 0 && X < page->w &&
                        Y < page->h)
                        page->px[(size_t)Y * page->w + X] = ink;
                }
        }
}

static void no_wide(struct rec_params *p)
{
    p->wide_stroke = 0.0f;
}

/* Stage 8, wide strokes: digits drawn large with a marker on a flat canvas, as digits drawn on a
 * screen or held up to the camera are: a 3 about 280 px tall with strokes about 40 px wide (a
 * tenth of the canvas) dark on white, and 4, 7 and 2 about 180 px tall light on black. Their
 * strokes are wider than the paper's closing (a sixteenth of the shorter side), so without the
 * stage not one digit is read; with it, both numbers are, by both shipped models. */
static void test_big_marker_digits(void **state)
{
    (void)state;
    struct data_set s;
    int first[10];
    load_test_digits(&s, first);
    struct vis_image one, three;
    assert_int_equal(vis_image_init(&one, 400, 400), DG_OK);
    memset(one.px, 250, (size_t)one.w * one.h);
    marker_digit(&one, &s, first[3], 4, -10, 14, 6, 20);
    assert_int_equal(vis_image_init(&three, 900, 300), DG_OK);
    memset(three.px, 0, (size_t)three.w * three.h);
    const int digits[3] = {4, 7, 2};
    for (int k = 0; k < 3; k++)
        marker_digit(&three, &s, first[digits[k]], 40 + 270 * k, 10, 9, 4, 240);
    const char *const models[] = {ROBUST, FAST};
    for (int m = 0; m < 2; m++)
        for (int off = 0; off < 2; off++) {
            struct reader rd;
            reader_open(&rd, models[m]);
            struct rec_params p;
            rec_default_params(&p);
            if (off)
                no_wide(&p);
            rec_scanner_set_params(rd.sc, &p);
            assert_int_equal(rec_scan(rd.sc, &one, rd.r), DG_OK);
            const int n_one = rd.r->n_digits, read_one = has_number(rd.r, "3");
            assert_int_equal(rec_scan(rd.sc, &three, rd.r), DG_OK);
            const int n_three = rd.r->n_digits, read_three = has_number(rd.r, "472");
            print_message("%s%s: the 3 %s (%d digits), 472 %s (%d digits)\n", models[m],
                          off ? " without stage 8" : "", read_one ? "read" : "not read", n_one,
                          read_three ? "read" : "not read", n_three);
            if (off) {
                assert_int_equal(n_one + n_three, 0);
            } else {
                assert_true(read_one && n_one == 1);
                assert_true(read_three && n_three == 3);
            }
            reader_close(&rd);
        }
    vis_image_destroy(&one);
    vis_image_destroy(&three);
    data_set_free(&s);
}

/* How many of n truth digits (label, box) r read, as that digit in a box overlapping the truth's by
 * half. */
static int truth_read(const struct rec_result *r, const int (*truth)[5], int n)
{
    int n_read = 0;
    for (int t = 0; t < n; t++) {
        const struct rec_box b = {truth[t][1], truth[t][2], truth[t][3], truth[t][4]};
        int found = 0;
        for (int i = 0; i < r->n_digits; i++)
            found |= r->digits[i].digit == truth[t][0] && rec_box_iou(r->digits[i].box, b) >= 0.5;
        n_read += found;
    }
    return n_read;
}

/* Stage 8 in three close-ups of build/big-tune (tools/othergen.py --big, MNIST training digits,
 * the last two scaled to 640 px): a big 1 and 8 whose boxes overlap, the 1 read by the first
 * reading and the 8 only by stage 8 (tests/fixtures/big-18-one-beside.jpg: the 1 had kept the 8
 * out); a bold 4 on a sheet whose lower edge, closed into one band with the desk in the shrunk
 * frame, had been joined to it as a piece (big-4-above-sheet-edge.jpg); a 4 at 1.00 on a sticky
 * note whose corner, the grass beyond it and a fat 7 beside it fill its strips, turned down as
 * texture (big-4-in-clutter.jpg; the 7 is not read). Each digit is read
 * by both shipped models, and without stage 8 the three big ones are not (nor, on its own beside
 * nothing read, the 1). */
static void test_big_digits_in_view(void **state)
{
    (void)state;
    static const struct {
        const char *fixture;
        int n;
        int truth[2][5];
    } cases[] = {
        {"big-18-one-beside.jpg", 2, {{1, 158, 133, 111, 214}, {8, 220, 214, 178, 159}}},
        {"big-4-above-sheet-edge.jpg", 1, {{4, 257, 122, 143, 171}}},
        {"big-4-in-clutter.jpg", 1, {{4, 312, 38, 133, 186}}},
    };
    const char *const models[] = {ROBUST, FAST};
    for (int m = 0; m < 2; m++) {
        struct reader rd;
        reader_open(&rd, models[m]);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            struct vis_image img;
            load_fixture(cases[c].fixture, &img);
            struct rec_params p;
            rec_default_params(&p);
            rec_scanner_set_params(rd.sc, &p);
            assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
            const int on = truth_read(rd.r, cases[c].truth, cases[c].n);
            no_wide(&p);
            rec_scanner_set_params(rd.sc, &p);
            assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
            const int off = truth_read(rd.r, cases[c].truth, cases[c].n);
            print_message("%s, %s: %d of %d read, %d without stage 8\n", models[m],
                          cases[c].fixture, on, cases[c].n, off);
            assert_int_equal(on, cases[c].n);
            assert_true(off < on);
            vis_image_destroy(&img);
        }
        reader_close(&rd);
    }
}

/* A sheet on a desk with a row of small digits (14-20 px), several pairs touching
 * (tests/fixtures/small-pairs-on-desk.jpg, build/world-tune's frame 291, MNIST training digits):
 * a model with 11 outputs took the pairs for "not a digit" and read 9 of the frame's 20 digits;
 * the shipped fast model has a 12th output, "two digits", the pairs are cut, and it reads 15. */
static void test_small_pairs_on_desk(void **state)
{
    (void)state;
    static const int truth[][5] = {
        {2, 42, 3, 14, 16},    {1, 55, 3, 6, 14},     {5, 8, 65, 17, 18},    {2, 30, 59, 13, 14},
        {5, 70, 48, 11, 18},   {7, 82, 44, 12, 19},   {5, 99, 37, 17, 20},   {2, 118, 36, 16, 15},
        {6, 134, 30, 11, 18},  {7, 145, 27, 13, 17},  {7, 183, 19, 8, 15},   {9, 192, 15, 9, 17},
        {5, 202, 8, 21, 19},   {4, 226, 4, 11, 17},   {1, 237, 3, 5, 18},    {4, 106, 144, 31, 52},
        {4, 160, 138, 40, 46}, {2, 219, 124, 42, 48}, {3, 268, 113, 51, 47}, {6, 345, 95, 38, 50}};
    enum { N = sizeof truth / sizeof truth[0] };
    struct reader rd;
    reader_open(&rd, "models/fast.safetensors");
    assert_int_equal(rd.m->n_classes, REC_CLASSES_WITH_TWO);
    struct vis_image img;
    load_fixture("small-pairs-on-desk.jpg", &img);
    assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
    const int read = truth_read(rd.r, truth, N);
    printf("small pairs on a desk: %d of %d digits read\n", read, N);
    assert_true(read >= 14);
    vis_image_destroy(&img);
    reader_close(&rd);
}

/* Frames of the camera-view world (tools/worldgen.c; boxes from its truth): a white sheet on a dark
 * desk (MNIST test digits, labels looked at), and a ruled sheet on a dark desk with a bright object
 * beside it (build/world-tune's world_0120, training digits). Each frame's polarity says light ink,
 * unsurely, and the frame is read both ways: the dark reading is kept. The test this replaced (the
 * less solid of two local thresholds' masks) got the first right and read nothing on the second.
 * The first frame inverted (a dark board with chalk on a bright desk) is light ink, and read so. */
static void test_unsure_polarity(void **state)
{
    (void)state;
    static const int sheet[11][5] = {
        {9, 265, 19, 41, 34},  {0, 308, 26, 37, 40},  {5, 354, 39, 61, 33},  {6, 237, 113, 46, 43},
        {2, 286, 121, 42, 45}, {3, 344, 130, 20, 45}, {5, 372, 139, 41, 35}, {0, 225, 181, 39, 39},
        {5, 319, 194, 35, 47}, {2, 363, 195, 32, 40}, {6, 398, 200, 31, 48},
    };
    static const int ruled[13][5] = {
        {4, 284, 177, 12, 15}, {2, 294, 179, 10, 15}, {4, 309, 183, 12, 15}, {6, 323, 189, 10, 14},
        {4, 329, 190, 13, 15}, {6, 342, 194, 11, 14}, {7, 417, 214, 17, 19}, {6, 466, 227, 7, 14},
        {0, 475, 231, 16, 16}, {6, 233, 240, 49, 41}, {2, 276, 244, 46, 53}, {7, 324, 258, 34, 47},
        {1, 345, 269, 54, 40},
    };
    struct reader rd;
    reader_open(&rd, "models/fast.safetensors");
    struct vis_image img;
    load_fixture("ruled-sheet-on-desk.jpg", &img);
    assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
    const int on_ruled = truth_read(rd.r, ruled, 13);
    assert_int_equal(rd.r->polarity, VIS_POLARITY_DARK_ON_LIGHT);
    vis_image_destroy(&img);
    load_fixture("sheet-on-desk.jpg", &img);
    assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
    const int on_sheet = truth_read(rd.r, sheet, 11);
    assert_int_equal(rd.r->polarity, VIS_POLARITY_DARK_ON_LIGHT);
    for (size_t i = 0; i < (size_t)img.w * img.h; i++)
        img.px[i] = (uint8_t)(255 - img.px[i]);
    assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
    const int on_board = truth_read(rd.r, sheet, 11);
    assert_int_equal(rd.r->polarity, VIS_POLARITY_LIGHT_ON_DARK);
    print_message("sheets on a desk: %d of 11 and %d of 13 digits read; inverted: %d of 11\n",
                  on_sheet, on_ruled, on_board);
    assert_true(on_sheet >= 9);
    assert_true(on_ruled >= 9);
    assert_true(on_board >= 9);
    vis_image_destroy(&img);
    reader_close(&rd);
}

/* Chalk on a grey board lying on a desk, a dark printed line across the board and a hand over it
 * (tests/fixtures/chalk-among-dark.jpg, build/world-tune's world_0149, MNIST training digits). The
 * whole frame says dark ink, surely, and read so it has not one digit; read the other way too
 * (rec_scan: a guess with fewer than two sure digits), the chalk is read. */
static void test_sure_guess_read_other_way(void **state)
{
    (void)state;
    static const int truth[][5] = {
        {2, 233, 241, 15, 18}, {7, 259, 237, 15, 16}, {8, 283, 233, 12, 17}, {3, 353, 177, 11, 11},
        {5, 367, 175, 9, 13},  {0, 380, 173, 9, 10},  {5, 394, 168, 11, 13}, {0, 478, 189, 16, 13},
        {8, 493, 185, 17, 15}, {5, 510, 178, 18, 19}, {6, 242, 319, 35, 48},
    };
    enum { N = sizeof truth / sizeof truth[0] };
    struct reader rd;
    reader_open(&rd, "models/fast.safetensors");
    struct vis_image img;
    load_fixture("chalk-among-dark.jpg", &img);
    struct vis_work *wk;
    assert_int_equal(vis_work_new(&wk), DG_OK);
    enum vis_polarity pol = VIS_POLARITY_AUTO;
    int sure = 0;
    assert_int_equal(vis_guess_polarity(&img, wk, &pol, &sure), DG_OK);
    assert_int_equal(pol, VIS_POLARITY_DARK_ON_LIGHT);
    assert_true(sure);
    assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
    const int read = truth_read(rd.r, truth, N);
    print_message("chalk among dark things: %d of %d digits read\n", read, N);
    assert_int_equal(rd.r->polarity, VIS_POLARITY_LIGHT_ON_DARK);
    assert_true(read >= 8);
    vis_work_free(wk);
    vis_image_destroy(&img);
    reader_close(&rd);
}

/* A frame with no digit (tests/fixtures/edge-objects-no-digit.jpg, build/world-tune's world_0058):
 * a sheet of print on a desk, a mirror and a hand cut by the frame's edges. Read as digits, the
 * mirror's rim was a 2 (68%) and the hand a 3 (98%), both boxes at the frame's edge: those are
 * rejected unless the network is BORDER_SURE (0.99) of them, and still split numbers as marks. */
static void test_unsure_at_frame_edge_rejected(void **state)
{
    (void)state;
    struct reader rd;
    reader_open(&rd, FAST_1204);
    struct vis_image img;
    load_fixture("edge-objects-no-digit.jpg", &img);
    assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
    int at_edge_read = 0, at_edge_rejected = 0;
    for (int i = 0; i < rd.r->n_digits + rd.r->n_rejected; i++) {
        const struct rec_digit *d = &rd.r->digits[i];
        const struct rec_box *b = &d->box;
        const int edge = b->x <= 0 || b->y <= 0 || b->x + b->w >= img.w || b->y + b->h >= img.h;
        at_edge_read += edge && i < rd.r->n_digits;
        /* likelier a digit than not and sure enough to read, but at the edge */
        at_edge_rejected += edge && i >= rd.r->n_digits && d->confidence >= 0.5f &&
                            d->confidence > d->junk && d->confidence < 0.99f;
    }
    print_message("edge of the frame: %d read, %d unsure rejected; %d digits read in all\n",
                  at_edge_read, at_edge_rejected, rd.r->n_digits);
    assert_int_equal(at_edge_read, 0);
    assert_true(at_edge_rejected >= 2);
    assert_true(rd.r->n_digits <= 1);
    vis_image_destroy(&img);
    reader_close(&rd);
}

/* Files fuzz_scan found (tests/fixtures/fuzz, also in its corpus): ruled-line fits that went
 * infinite (the joined fit divided by almost nothing, then -inf was converted to int in the line
 * removal: seen in the clang fuzz build, whose arithmetic differs; this gcc build computes a finite
 * fit, so here it only checks they read), and a PGM header with a ten-digit size (stb's number
 * parser overflowed an int: UBSan aborts this test without the header check). Each is now read or
 * refused with a reason. */
static void test_fuzz_findings(void **state)
{
    (void)state;
    struct reader rd;
    reader_open(&rd, "models/fast.safetensors");
    const char *files[] = {"line-fit-inf.pgm", "line-fit-inf.jpg", "pnm-size-overflow.pgm"};
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        char rel[128], path[4096];
        snprintf(rel, sizeof rel, "tests/fixtures/fuzz/%s", files[k]);
        repo_path(path, sizeof path, rel);
        struct vis_image img = {0};
        if (vis_image_load(path, &img) != DG_OK) {
            print_message("%s: %s\n", files[k], dg_errmsg());
            assert_true(dg_errmsg()[0] != 0);
            continue;
        }
        assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
        print_message("%s: %dx%d, %d digits read\n", files[k], img.w, img.h, rd.r->n_digits);
        vis_image_destroy(&img);
    }
    reader_close(&rd);
}

/* The same digits, boxes and numbers. */
static void assert_same_reading(const struct rec_result *a, const struct rec_result *b)
{
    assert_int_equal(a->n_digits, b->n_digits);
    for (int i = 0; i < a->n_digits; i++) {
        assert_int_equal(a->digits[i].digit, b->digits[i].digit);
        assert_memory_equal(&a->digits[i].box, &b->digits[i].box, sizeof a->digits[i].box);
    }
    assert_int_equal(a->n_numbers, b->n_numbers);
    for (int i = 0; i < a->n_numbers; i++)
        assert_string_equal(a->numbers[i].text, b->numbers[i].text);
}

/* img with sensor noise of up to +-amp grey levels (a fixed pseudo-random sequence from seed). */
static void add_noise(struct vis_image *img, unsigned seed, int amp)
{
    for (size_t i = 0; i < (size_t)img->w * img->h; i++) {
        seed = seed * 1103515245u + 12345u;
        const int v = img->px[i] + (int)((seed >> 16) % (unsigned)(2 * amp + 1)) - amp;
        img->px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

/* The numbers of r, in reading order, joined by spaces into out. */
static void numbers_text(const struct rec_result *r, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < r->n_numbers; i++) {
        const size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", i ? " " : "", r->numbers[i].text);
    }
}

/* How many numbers of r are among those of ref. */
static int numbers_kept(const struct rec_result *r, const struct rec_result *ref)
{
    int n = 0;
    for (int i = 0; i < r->n_numbers; i++)
        n += has_number(ref, r->numbers[i].text);
    return n;
}

/* img read by rd with parameters p, its numbers printed after what; how many of them ref has. */
static int kept_reading(struct reader *rd, const struct rec_params *p, const struct vis_image *img,
                        const struct rec_result *ref, const char *what)
{
    char got[128];
    rec_scanner_set_params(rd->sc, p);
    assert_int_equal(rec_scan(rd->sc, img, rd->r), DG_OK);
    numbers_text(rd->r, got, sizeof got);
    print_message("%s: %s\n", what, got);
    return numbers_kept(rd->r, ref);
}

/* img with every level scaled by num / den (rounded). */
static void scale_levels(const struct vis_image *img, struct vis_image *out, int num, int den)
{
    for (size_t i = 0; i < (size_t)img->w * img->h; i++)
        out->px[i] = (uint8_t)((img->px[i] * num + den / 2) / den);
}

/* out = img through three passes of the binomial 3x3 (a Gaussian of about 1.2 px), as a camera
 * out of focus gives it. */
static void defocus(const struct vis_image *img, struct vis_image *out)
{
    struct vis_image tmp = {0};
    uint16_t *col = malloc((size_t)img->w * sizeof *col);
    assert_non_null(col);
    assert_int_equal(vis_image_smooth(img, out, col), DG_OK);
    assert_int_equal(vis_image_smooth(out, &tmp, col), DG_OK);
    assert_int_equal(vis_image_smooth(&tmp, out, col), DG_OK);
    free(col);
    vis_image_destroy(&tmp);
}

/* A camera short of light. Underexposed to a quarter (the paper about 55), ruled-sheet-on-desk.jpg
 * reads the numbers it reads in full light: vis_threshold's least contrast shrinks with the
 * frame's brightest tenth (fixed at 16, it read 42946 7 0 6271 for 424546 7 60 6271). At 0.35 of
 * the light with the camera's gain raising its noise to +-12 grey levels, both desk fixtures read
 * three or four of the four numbers of their full-light reading from the smoothed frame
 * (rec_params.denoise), and without smoothing two or fewer. */
static void test_dim_and_noisy_frames(void **state)
{
    (void)state;
    const char *fixtures[2] = {"ruled-sheet-on-desk.jpg", "sheet-on-desk.jpg"};
    struct reader rd;
    reader_open(&rd, ROBUST);
    struct rec_params p;
    rec_default_params(&p);
    assert_true(p.denoise > 0.0f);
    for (int k = 0; k < 2; k++) {
        struct vis_image img, dim;
        load_fixture(fixtures[k], &img);
        assert_int_equal(vis_image_init(&dim, img.w, img.h), DG_OK);
        char bright[128], got[128];
        rec_scanner_set_params(rd.sc, &p);
        struct rec_result *ref = malloc(sizeof *ref);
        assert_non_null(ref);
        assert_int_equal(rec_scan(rd.sc, &img, ref), DG_OK);
        numbers_text(ref, bright, sizeof bright);
        assert_int_equal(ref->n_numbers, 4);
        if (k == 0) {
            scale_levels(&img, &dim, 1, 4);
            assert_true(vis_noise_share(&dim, NULL) < p.denoise);
            assert_int_equal(rec_scan(rd.sc, &dim, rd.r), DG_OK);
            numbers_text(rd.r, got, sizeof got);
            print_message("%s at a quarter of the light: %s (full light: %s)\n", fixtures[k], got,
                          bright);
            assert_string_equal(got, bright);
        }
        scale_levels(&img, &dim, 35, 100);
        add_noise(&dim, 5u + (unsigned)k, 12);
        assert_true(vis_noise_share(&dim, NULL) >= p.denoise);
        print_message("%s in full light: %s\n", fixtures[k], bright);
        assert_true(kept_reading(&rd, &p, &dim, ref, "... at 0.35 of the light, noisy") >= 3);
        struct rec_params rough = p;
        rough.denoise = 0.0f;
        assert_true(kept_reading(&rd, &rough, &dim, ref, "... not smoothed") <= 2);
        free(ref);
        vis_image_destroy(&dim);
        vis_image_destroy(&img);
    }
    reader_close(&rd);
}

/* A camera out of focus: ruled-sheet-on-desk.jpg blurred by three passes of the binomial 3x3 (a
 * Gaussian of about 1.2 px) is blurred both ways past rec_params.deblur, and read through the
 * frame's unsharp mask it keeps three of the four numbers of its sharp reading (424 46 7 60 6271
 * for 424546 7 60 6271); without it two or fewer (824 7 0 6271 from a Gaussian of 1.3 px). The
 * sharp frame is under the bar. */
static void test_defocused_frame(void **state)
{
    (void)state;
    struct reader rd;
    reader_open(&rd, ROBUST);
    struct rec_params p;
    rec_default_params(&p);
    assert_true(p.deblur > 0.0f);
    struct vis_image img, soft = {0};
    load_fixture("ruled-sheet-on-desk.jpg", &img);
    assert_true(vis_blur_share(&img) < p.deblur);
    struct rec_result *ref = malloc(sizeof *ref);
    assert_non_null(ref);
    rec_scanner_set_params(rd.sc, &p);
    assert_int_equal(rec_scan(rd.sc, &img, ref), DG_OK);
    assert_int_equal(ref->n_numbers, 4);
    defocus(&img, &soft);
    const float blur = vis_blur_share(&soft);
    print_message("defocused: blur %.3f\n", blur);
    assert_true(blur >= p.deblur);
    assert_true(kept_reading(&rd, &p, &soft, ref, "... sharpened") >= 3);
    struct rec_params plain = p;
    plain.deblur = 0.0f;
    assert_true(kept_reading(&rd, &plain, &soft, ref, "... not sharpened") <= 2);
    free(ref);
    vis_image_destroy(&soft);
    vis_image_destroy(&img);
    reader_close(&rd);
}

/* The hints for the person holding the camera (rec_result.camera): ruled-sheet-on-desk.jpg in
 * full light has none; at a quarter of the light "dark"; at 0.35 with +-12 of noise "dark" and
 * "noisy"; blurred as in test_defocused_frame "blurred"; a 28x28 crop is not measured. In a video
 * (rec_params.reuse) the measures are running means and a hint lasts until its measure is a
 * margin past the bar: frames a little brighter than the bar after dim ones keep "dark", which
 * the same frame read as a still does not have, and full light ends it. */
static void test_camera_hints(void **state)
{
    (void)state;
    struct reader rd;
    reader_open(&rd, ROBUST);
    struct rec_params p;
    rec_default_params(&p);
    rec_scanner_set_params(rd.sc, &p);
    struct vis_image img, v = {0}, soft = {0};
    load_fixture("ruled-sheet-on-desk.jpg", &img);
    assert_int_equal(vis_image_init(&v, img.w, img.h), DG_OK);
    assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
    const struct rec_camera *c = &rd.r->camera;
    print_message("full light: light %.0f noise %.4f blur %.3f hints %u\n", c->light, c->noise,
                  c->blur, c->hints);
    assert_true(c->light >= 150.0f);
    assert_int_equal(c->hints, 0);
    assert_string_equal(rec_hint_text(0), "");
    scale_levels(&img, &v, 1, 4);
    assert_int_equal(rec_scan(rd.sc, &v, rd.r), DG_OK);
    assert_int_equal(c->hints, REC_HINT_DARK);
    assert_non_null(strstr(rec_hint_text(c->hints), "light"));
    scale_levels(&img, &v, 35, 100);
    add_noise(&v, 5u, 12);
    assert_int_equal(rec_scan(rd.sc, &v, rd.r), DG_OK);
    assert_int_equal(c->hints, REC_HINT_DARK | REC_HINT_NOISY);
    defocus(&img, &soft);
    assert_int_equal(rec_scan(rd.sc, &soft, rd.r), DG_OK);
    assert_int_equal(c->hints, REC_HINT_BLURRED);
    assert_non_null(strstr(rec_hint_text(c->hints), "blurred"));
    struct vis_image crop;
    assert_int_equal(vis_image_init(&crop, 28, 28), DG_OK);
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
            crop.px[y * 28 + x] = img.px[(size_t)(img.h / 2 + y) * img.w + img.w / 2 + x];
    assert_int_equal(rec_scan(rd.sc, &crop, rd.r), DG_OK);
    assert_true(c->light < 0.0f && c->hints == 0);
    /* a video: a dim view, then one just over the bar, then full light */
    struct rec_params live = p;
    live.reuse = 0.04f;
    rec_scanner_set_params(rd.sc, &live);
    scale_levels(&img, &v, 1, 4);
    for (int k = 0; k < 5; k++)
        assert_int_equal(rec_scan(rd.sc, &v, rd.r), DG_OK);
    assert_true(c->hints & REC_HINT_DARK);
    for (int num = 25; num < 100 && vis_bright_tenth(v.px, v.w, v.h, (size_t)v.w, 16) < 84; num++)
        scale_levels(&img, &v, num, 100); /* just over the bar of 80, within its margin (88) */
    const float light = (float)vis_bright_tenth(v.px, v.w, v.h, (size_t)v.w, 16);
    assert_true(light >= 84.0f && light < 88.0f);
    for (int k = 0; k < 30; k++)
        assert_int_equal(rec_scan(rd.sc, &v, rd.r), DG_OK);
    print_message("video at light %.0f after dim frames: hints %u\n", light, c->hints);
    assert_true(c->hints & REC_HINT_DARK);
    rec_scanner_set_params(rd.sc, &p);
    assert_int_equal(rec_scan(rd.sc, &v, rd.r), DG_OK);
    assert_false(c->hints & REC_HINT_DARK);
    rec_scanner_set_params(rd.sc, &live);
    for (int k = 0; k < 30; k++)
        assert_int_equal(rec_scan(rd.sc, &img, rd.r), DG_OK);
    assert_false(c->hints & REC_HINT_DARK);
    vis_image_destroy(&crop);
    vis_image_destroy(&soft);
    vis_image_destroy(&v);
    vis_image_destroy(&img);
    reader_close(&rd);
}

/* Live's reuse of the last frame's answers (rec_params.reuse): a sheet on a desk read as video
 * frames with fresh noise by a live scanner and by one reading every frame afresh. The first frame
 * reuses nothing; the next, the same view with other noise, takes a third or more of its digit
 * network answers from the first (63 of 101 with the shipped fast model and stage 7's second
 * looks, 15 of 25 without them) and half or more of its context network answers, and reads as the
 * fresh scanner does; a different view reuses little and reads as the fresh one; after a still
 * read without reuse between frames, nothing is reused.
 */
static void test_reuse_between_frames(void **state)
{
    (void)state;
    struct reader live, fresh;
    reader_open(&live, "models/fast.safetensors");
    reader_open(&fresh, "models/fast.safetensors");
    struct rec_params p, still;
    rec_live_params(&p);
    assert_true(p.reuse > 0.0f);
    rec_scanner_set_params(live.sc, &p);
    p.reuse = 0.0f;
    rec_scanner_set_params(fresh.sc, &p);
    rec_default_params(&still);
    struct vis_image sheet, other;
    load_fixture("sheet-on-desk.jpg", &sheet);
    load_fixture("small-pairs-on-desk.jpg", &other);
    struct vis_image frame;
    assert_int_equal(vis_image_init(&frame, sheet.w, sheet.h), DG_OK);
    int inputs, reused;
    for (int k = 0; k < 3; k++) {
        memcpy(frame.px, sheet.px, (size_t)sheet.w * sheet.h);
        add_noise(&frame, 17u + (unsigned)k, 3);
        assert_int_equal(rec_scan(live.sc, &frame, live.r), DG_OK);
        assert_int_equal(rec_scan(fresh.sc, &frame, fresh.r), DG_OK);
        rec_scanner_counts(live.sc, &inputs, &reused);
        int asked, ctx_reused;
        rec_scanner_context_counts(live.sc, &asked, &ctx_reused);
        print_message("sheet, frame %d: %d of %d network inputs reused, %d of %d context answers, "
                      "%d digits read\n",
                      k, reused, inputs, ctx_reused, asked, live.r->n_digits);
        assert_true(live.r->n_digits >= 8);
        assert_same_reading(live.r, fresh.r);
        assert_true(asked > 0);
        if (k == 0)
            assert_true(reused == 0 && ctx_reused == 0);
        else
            assert_true(reused * 3 >= inputs && reused < inputs && ctx_reused * 2 >= asked);
        rec_scanner_counts(fresh.sc, &inputs, &reused);
        assert_int_equal(reused, 0);
    }
    assert_int_equal(rec_scan(live.sc, &other, live.r), DG_OK);
    assert_int_equal(rec_scan(fresh.sc, &other, fresh.r), DG_OK);
    rec_scanner_counts(live.sc, &inputs, &reused);
    int asked, ctx_reused;
    rec_scanner_context_counts(live.sc, &asked, &ctx_reused);
    print_message("another view: %d of %d reused, %d of %d context answers\n", reused, inputs,
                  ctx_reused, asked);
    assert_true(reused * 10 <= inputs && ctx_reused * 10 <= asked);
    assert_same_reading(live.r, fresh.r);
    /* a still between frames: the next frame starts afresh */
    rec_scanner_set_params(live.sc, &still);
    assert_int_equal(rec_scan(live.sc, &other, live.r), DG_OK);
    rec_live_params(&p);
    rec_scanner_set_params(live.sc, &p);
    assert_int_equal(rec_scan(live.sc, &other, live.r), DG_OK);
    rec_scanner_counts(live.sc, &inputs, &reused);
    assert_true(inputs > 0);
    assert_int_equal(reused, 0);
    rec_scanner_context_counts(live.sc, &asked, &ctx_reused);
    assert_int_equal(ctx_reused, 0);
    vis_image_destroy(&frame);
    vis_image_destroy(&sheet);
    vis_image_destroy(&other);
    reader_close(&live);
    reader_close(&fresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_numbers_on_uneven_paper),
        cmocka_unit_test(test_grouping_gaps),
        cmocka_unit_test(test_fragment_joining),
        cmocka_unit_test(test_printed_boxes),
        cmocka_unit_test(test_touching_pairs_split),
        cmocka_unit_test(test_three_run_together),
        cmocka_unit_test(test_three_beside_digits),
        cmocka_unit_test(test_number_in_one_blob),
        cmocka_unit_test(test_faint_number_found_again),
        cmocka_unit_test(test_words_not_read),
        cmocka_unit_test(test_context_network_stage),
        cmocka_unit_test(test_thin_one_rescued),
        cmocka_unit_test(test_blurred_run_read),
        cmocka_unit_test(test_run_with_unsure_digit),
        cmocka_unit_test(test_context_network_on_rule_fixtures),
        cmocka_unit_test(test_handwritten_words),
        cmocka_unit_test(test_camera_hints),
        cmocka_unit_test(test_frame_round_number),
        cmocka_unit_test(test_clutter_not_read),
        cmocka_unit_test(test_sheet_corner_not_read),
        cmocka_unit_test(test_letter_like_digits_not_read),
        cmocka_unit_test(test_keyboard_keys_not_read),
        cmocka_unit_test(test_sure_letter_tie_not_read),
        cmocka_unit_test(test_small_pairs_on_desk),
        cmocka_unit_test(test_deeper_ink),
        cmocka_unit_test(test_grey_ink),
        cmocka_unit_test(test_rejects_drawn_letters),
        cmocka_unit_test(test_context_rejects_edges_and_letters),
        cmocka_unit_test(test_twelve_megapixel_page),
        cmocka_unit_test(test_big_fine_pen_digit),
        cmocka_unit_test(test_tiny_digit_images),
        cmocka_unit_test(test_big_marker_digits),
        cmocka_unit_test(test_big_digits_in_view),
        cmocka_unit_test(test_fuzz_findings),
        cmocka_unit_test(test_unsure_polarity),
        cmocka_unit_test(test_sure_guess_read_other_way),
        cmocka_unit_test(test_unsure_at_frame_edge_rejected),
        cmocka_unit_test(test_dim_and_noisy_frames),
        cmocka_unit_test(test_defocused_frame),
        cmocka_unit_test(test_reuse_between_frames),
    };
    return cmocka_run_group_tests_name("recog_scan", tests, NULL, NULL);
}
