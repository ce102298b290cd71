/* test_recog_numbers.c - text lines and numbers from digit boxes: rows that tilt and drift, two
 * rows close together, gaps judged against the digits' height, marks that are not digits
 * splitting numbers, and reading order. */
#include "numbers.h"
#include "testutil.h"

static struct rec_digit digits[REC_MAX_CANDIDATES];

/* Digit i of a test: label d at (x, y), w x h. */
static void put(int i, int d, int x, int y, int w, int h)
{
    memset(&digits[i], 0, sizeof digits[i]);
    digits[i].digit = d;
    digits[i].confidence = 0.9f;
    digits[i].box = (struct rec_box){x, y, w, h};
}

/* Lines and numbers of digits[0..n) as rec_scan makes them: the texts joined by spaces. */
static void read_text(int n, const struct rec_box *marks, int n_marks, char *out, size_t cap)
{
    struct rec_box box[REC_MAX_CANDIDATES] = {{0}};
    int line[REC_MAX_CANDIDATES], order[REC_MAX_CANDIDATES], line_of[REC_MAX_CANDIDATES];
    static struct rec_digit sorted[REC_MAX_CANDIDATES];
    static struct rec_number numbers[REC_MAX_CANDIDATES];
    for (int i = 0; i < n; i++)
        box[i] = digits[i].box;
    rec_lines(box, n, line, order);
    for (int a = 0; a < n; a++) {
        sorted[a] = digits[order[a]];
        line_of[a] = line[order[a]];
    }
    const int n_num = rec_numbers(sorted, n, line_of, marks, n_marks, 0.5f, numbers);
    out[0] = '\0';
    for (int k = 0; k < n_num; k++) {
        strncat(out, numbers[k].text, cap - strlen(out) - 1);
        if (k + 1 < n_num)
            strncat(out, " ", cap - strlen(out) - 1);
    }
}

static void test_drifting_rows(void **state)
{
    (void)state;
    char text[256];
    /* 3432: each digit 8 px lower than the last, more than a quarter of its height: a line
     * found by the first digit's span alone would lose the last ones */
    put(0, 3, 10, 100, 18, 30);
    put(1, 4, 32, 108, 18, 30);
    put(2, 3, 54, 116, 18, 30);
    put(3, 2, 76, 124, 18, 30);
    /* a second row below, tilted the other way, given in scrambled order */
    put(4, 9, 60, 170, 18, 30);
    put(5, 7, 16, 186, 18, 30);
    put(6, 8, 38, 178, 18, 30);
    read_text(7, NULL, 0, text, sizeof text);
    assert_string_equal(text, "3432 789");
    /* a line turned steeper as it goes (a sheet turned and a baseline drifting): from the third
     * digit on each sits 12 px below the last, 40% of its height in common with it, and is found
     * where the line's slope puts it */
    put(0, 5, 10, 100, 18, 20);
    put(1, 6, 34, 108, 18, 20);
    put(2, 7, 58, 120, 18, 20);
    put(3, 8, 82, 132, 18, 20);
    read_text(4, NULL, 0, text, sizeof text);
    assert_string_equal(text, "5678");
    /* rows of one sheet run nearly parallel: a pair 12 px apart in height (40% in common) is
     * looked for along the slope of the long row above it, a third of the way down per pixel */
    put(0, 1, 10, 10, 18, 20);
    put(1, 2, 34, 18, 18, 20);
    put(2, 3, 58, 26, 18, 20);
    put(3, 4, 82, 34, 18, 20);
    put(4, 9, 10, 100, 18, 20);
    put(5, 0, 36, 112, 18, 20);
    read_text(6, NULL, 0, text, sizeof text);
    assert_string_equal(text, "1234 90");
    /* a lone pair, the second digit 12 px lower (40% of the height in common): one line */
    put(0, 3, 10, 10, 18, 20);
    put(1, 4, 32, 22, 18, 20);
    read_text(2, NULL, 0, text, sizeof text);
    assert_string_equal(text, "34");
}

static void test_gaps_against_height(void **state)
{
    (void)state;
    char text[256];
    /* big digits with a 20 px gap are one number; small ones with the same gap are two */
    put(0, 3, 10, 10, 40, 60);
    put(1, 7, 70, 12, 40, 60);
    put(2, 1, 130, 10, 12, 60);
    put(3, 9, 162, 11, 40, 60);
    put(4, 5, 10, 200, 10, 16);
    put(5, 6, 40, 200, 10, 16);
    read_text(6, NULL, 0, text, sizeof text);
    assert_string_equal(text, "3719 5 6");
    /* narrow digits are spaced by their pitch: 11 px of ink gap on each side of a 7 8 px wide and
     * a 1 3 px wide (digits 20 tall) is one number, as it would not be after wide digits written
     * 1 px apart */
    put(0, 3, 10, 10, 14, 20);
    put(1, 7, 35, 10, 8, 20);
    put(2, 1, 54, 10, 3, 20);
    put(3, 9, 61, 10, 14, 20);
    put(4, 2, 10, 100, 14, 20);
    put(5, 3, 25, 100, 14, 20);
    put(6, 8, 50, 100, 14, 20);
    read_text(7, NULL, 0, text, sizeof text);
    assert_string_equal(text, "3719 23 8");
}

static void test_marks_split_numbers(void **state)
{
    (void)state;
    char text[256];
    /* 12+34 written tight: the + is a candidate that is not a digit and splits the number */
    put(0, 1, 10, 10, 10, 30);
    put(1, 2, 24, 10, 18, 30);
    put(2, 3, 54, 10, 18, 30);
    put(3, 4, 76, 10, 18, 30);
    const struct rec_box plus = {45, 18, 10, 12};
    read_text(4, &plus, 1, text, sizeof text);
    assert_string_equal(text, "12 34");
    read_text(4, NULL, 0, text, sizeof text);
    assert_string_equal(text, "1234");
    /* a mark above the line, not between the digits, does not split */
    const struct rec_box above = {45, -30, 10, 12};
    read_text(4, &above, 1, text, sizeof text);
    assert_string_equal(text, "1234");
}

static void test_close_rows_and_sizes(void **state)
{
    (void)state;
    char text[256];
    /* two rows of small digits just over a row of big ones: three lines, not one */
    put(0, 1, 10, 10, 10, 20);
    put(1, 2, 24, 10, 12, 20);
    put(2, 5, 10, 34, 30, 60);
    put(3, 6, 44, 34, 30, 60);
    put(4, 3, 90, 12, 12, 20);
    put(5, 4, 106, 12, 12, 20);
    read_text(6, NULL, 0, text, sizeof text);
    assert_string_equal(text, "12 34 56");
    int line[6], order[6];
    struct rec_box box[6] = {{0}};
    for (int i = 0; i < 6; i++)
        box[i] = digits[i].box;
    assert_int_equal(rec_lines(box, 6, line, order), 2);
    assert_int_equal(line[0], 0);
    assert_int_equal(line[5], 0);
    assert_int_equal(line[2], 1);
    assert_int_equal(rec_lines(box, 0, line, order), 0);
}

/* A rejected candidate: best digit d with share `sure` of the digit classes and junk `junk`. */
static void put_rejected(int i, int d, int x, int y, int w, int h, float sure, float junk)
{
    put(i, -1, x, y, w, h);
    digits[i].junk = junk;
    digits[i].confidence = sure * (1.0f - junk);
    digits[i].top3[0] = d;
}

/* Rejected candidates are read again only beside a sure digit of their row and size. */
static void test_accept_beside_digits(void **state)
{
    (void)state;
    /* a row "4 5" of sure digits 30 px tall ending at x 45; candidates to their right */
    const struct {
        int x, y, h;
        float sure, junk;
        int read;
        const char *why;
    } cases[] = {
        {50, 12, 26, 0.95f, 0.6f, 1, "beside the row"},
        {45 + 30, 12, 26, 0.95f, 0.6f, 1, "a gap of one height"},
        {45 + 45, 12, 26, 0.95f, 0.6f, 0, "a gap of 1.5 heights"},
        {50, 12, 14, 0.95f, 0.6f, 0, "half the row's height"},
        {50, 45, 26, 0.95f, 0.6f, 0, "on the next line"},
        {50, 12, 26, 0.95f, 0.95f, 0, "sure it is junk"},
        {50, 12, 26, 0.6f, 0.6f, 0, "unsure which digit"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        put(0, 4, 0, 10, 20, 30);
        put(1, 5, 25, 10, 20, 30);
        digits[0].confidence = digits[1].confidence = 0.99f;
        put_rejected(2, 7, cases[k].x, cases[k].y, 18, cases[k].h, cases[k].sure, cases[k].junk);
        const int n = rec_accept_beside_digits(digits, 3);
        if (n != cases[k].read || digits[2].digit != (cases[k].read ? 7 : -1))
            fail_msg("%s: %d read again, digit %d", cases[k].why, n, digits[2].digit);
        assert_int_equal(digits[0].digit, 4);
    }
    /* an unsure anchor anchors nothing, and one read again does not anchor the next */
    put(0, 4, 0, 10, 20, 30);
    digits[0].confidence = 0.6f;
    put_rejected(1, 7, 25, 12, 18, 28, 0.95f, 0.6f);
    assert_int_equal(rec_accept_beside_digits(digits, 2), 0);
    digits[0].confidence = 0.99f;
    put_rejected(2, 1, 55, 12, 18, 28, 0.95f, 0.6f); /* 35 px from the 4, 12 from the 7 */
    assert_int_equal(rec_accept_beside_digits(digits, 3), 1);
    assert_int_equal(digits[1].digit, 7);
    assert_int_equal(digits[2].digit, -1);
}

/* A 1 is kept only beside a sure digit other than 1, directly or through a row of 1s. */
static void test_lone_ones_rejected(void **state)
{
    (void)state;
    /* "7 1 1" then, far to the right, "1", and a "1" on a line of its own */
    put(0, 7, 0, 10, 20, 30);
    digits[0].confidence = 0.99f;
    put(1, 1, 30, 10, 8, 30);
    put(2, 1, 45, 10, 8, 30);
    put(3, 1, 45 + 8 + 80, 10, 8, 30); /* 80 px: 2.7 heights from the row */
    put(4, 1, 10, 100, 8, 30);
    assert_int_equal(rec_reject_lone_ones(digits, 5, 2.0f), 2);
    assert_int_equal(digits[1].digit, 1);
    assert_int_equal(digits[2].digit, 1);
    assert_int_equal(digits[3].digit, -1);
    assert_int_equal(digits[4].digit, -1);
    assert_int_equal(digits[0].digit, 7);
    assert_int_equal(digits[3].why, REC_LONE_ONE); /* scan-eval --misses names the rule */
    assert_string_equal(rec_why_name(digits[4].why), "lone 1");
    /* the 7 unsure: nothing anchors the 1s; a row of 1s alone is rejected too */
    put(1, 1, 30, 10, 8, 30);
    put(2, 1, 45, 10, 8, 30);
    digits[0].confidence = 0.6f;
    assert_int_equal(rec_reject_lone_ones(digits, 3, 2.0f), 2);
    assert_int_equal(digits[0].digit, 7);
    /* a 1 that is half the 7's height is not in its row */
    put(1, 1, 30, 10, 8, 14);
    digits[0].confidence = 0.99f;
    assert_int_equal(rec_reject_lone_ones(digits, 2, 2.0f), 1);
    /* a lone 1 read surely (0.95, "not a digit" 0.02) stays when sure ones are kept (0.9), an
     * unsure one (0.9, "not a digit" 0.15) does not */
    put(0, 1, 10, 10, 8, 30);
    digits[0].confidence = 0.95f, digits[0].junk = 0.02f;
    put(1, 1, 10, 100, 8, 30);
    digits[1].junk = 0.15f;
    assert_int_equal(rec_reject_lone_ones(digits, 2, 0.9f), 1);
    assert_int_equal(digits[0].digit, 1);
    assert_int_equal(digits[1].digit, -1);
    put(1, 1, 10, 100, 8, 30);
    digits[1].junk = 0.15f;
    assert_int_equal(rec_reject_lone_ones(digits, 2, 2.0f), 2);
}

/* Numbers told apart by their spacing (digits 20 px tall and 14 wide): a wide writer's 3 7 1 9
 * with gaps of 14-16 px (0.7-0.8 heights) is one number; a tight writer's 12 and 34, 2 px
 * within and 14 px between, are two; a lone pair has no spacing to go by: 12 px apart (0.6
 * heights) it is one number, 18 px apart (0.9) two digits; gaps of 30 px (1.5 heights) split
 * however the line is written. */
static void test_spacing_of_the_line(void **state)
{
    (void)state;
    char text[256];
    put(0, 3, 10, 10, 14, 20);
    put(1, 7, 38, 10, 14, 20);
    put(2, 1, 68, 10, 14, 20);
    put(3, 9, 96, 10, 14, 20);
    put(4, 1, 10, 60, 14, 20);
    put(5, 2, 26, 60, 14, 20);
    put(6, 3, 54, 60, 14, 20);
    put(7, 4, 70, 60, 14, 20);
    put(8, 5, 10, 110, 14, 20);
    put(9, 6, 36, 110, 14, 20);
    put(10, 8, 10, 160, 14, 20);
    put(11, 0, 54, 160, 14, 20);
    put(12, 2, 98, 160, 14, 20);
    put(13, 4, 10, 210, 14, 20);
    put(14, 7, 42, 210, 14, 20);
    /* digits that touch are written tight: 13 px between two touching pairs splits them */
    put(15, 5, 10, 260, 14, 20);
    put(16, 6, 23, 260, 14, 20);
    put(17, 7, 50, 260, 14, 20);
    put(18, 8, 63, 260, 14, 20);
    read_text(19, NULL, 0, text, sizeof text);
    assert_string_equal(text, "3719 12 34 56 8 0 2 4 7 56 78");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spacing_of_the_line),  cmocka_unit_test(test_drifting_rows),
        cmocka_unit_test(test_gaps_against_height),  cmocka_unit_test(test_marks_split_numbers),
        cmocka_unit_test(test_close_rows_and_sizes), cmocka_unit_test(test_accept_beside_digits),
        cmocka_unit_test(test_lone_ones_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
