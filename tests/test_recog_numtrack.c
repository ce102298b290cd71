/* test_recog_numtrack.c - numbers followed across frames (numtrack.c) on scripted sequences at
 * 30 frames a second (appear 8 frames, change 8, gone 10, lock 15): a digit missing for a frame,
 * a one-frame false number, a real change of one digit, a digit lost (which takes longer), two
 * numbers side by side, a short gap
 * and a number that leaves, a new number where an old one was, and when each locks (not beside
 * another candidate nor the edge). */
#include "recog.h"
#include "testutil.h"

static struct rec_result *res;

/* One 640x480 frame holding the numbers texts[0..n) at boxes[0..n), confidence conf each, and
 * their digits, side by side in equal parts of each box. */
static void frame(const char *const *texts, const struct rec_box *boxes, int n, float conf)
{
    memset(res, 0, sizeof *res);
    res->width = 640, res->height = 480;
    res->n_numbers = n;
    for (int i = 0; i < n; i++) {
        struct rec_number *nb = &res->numbers[i];
        snprintf(nb->text, sizeof nb->text, "%s", texts[i]);
        nb->box = boxes[i];
        nb->confidence = conf;
        nb->first = res->n_digits;
        nb->count = (int)strlen(nb->text);
        for (int k = 0; k < nb->count; k++) {
            struct rec_digit *d = &res->digits[res->n_digits++];
            d->digit = nb->text[k] - '0';
            d->confidence = conf;
            d->box = (struct rec_box){boxes[i].x + k * boxes[i].w / nb->count, boxes[i].y,
                                      boxes[i].w / nb->count, boxes[i].h};
        }
    }
}

/* The frame also holds a rejected candidate (read by no number) at box b. */
static void with_rejected(struct rec_box b)
{
    struct rec_digit *d = &res->digits[res->n_digits + res->n_rejected++];
    d->digit = -1;
    d->box = b;
}

/* The shown track with the given id, or NULL. */
static const struct rec_numtrack *shown(const struct rec_numtracker *t, int id)
{
    for (int i = 0; i < t->n; i++)
        if (t->tracks[i].id == id && t->tracks[i].shown)
            return &t->tracks[i];
    return NULL;
}

static int n_shown(const struct rec_numtracker *t)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        n += t->tracks[i].shown;
    return n;
}

static int setup(void **state)
{
    (void)state;
    res = malloc(sizeof *res);
    return res ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(res);
    return 0;
}

static void test_frame_counts(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    assert_int_equal(t.appear, 8);
    assert_int_equal(t.change, 8);
    assert_int_equal(t.gone, 10);
    assert_int_equal(t.lock, 15);
    assert_int_equal(t.shrink, 15);
    rec_numtracker_init(&t, 5.0); /* slow sources keep the floors */
    assert_int_equal(t.appear, 2);
    assert_int_equal(t.change, 3);
    assert_int_equal(t.shrink, 3);
    assert_int_equal(t.lock, 5);
    rec_numtracker_init(&t, 0.0); /* unknown: 30 */
    assert_int_equal(t.appear, 8);
}

/* Paced by the frames' times, the counts follow the rate the frames come at, whatever init said:
 * a 15 fps source gets 15 fps counts within a second, a 60 fps one 60 fps counts; a pause or a loop
 * (time jumping) changes nothing; a frame now and then skipped moves them by a frame at most. A
 * number read from its first frame of a 15 fps video shows at its 4th frame (a quarter of a
 * second), not its 8th. */
static void test_counts_follow_the_frame_rate(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    for (int i = 0; i < 15; i++)
        rec_numtracker_pace(&t, 10.0 + i / 15.0);
    assert_int_equal(t.appear, 4);
    assert_int_equal(t.lock, 8);
    assert_int_equal(t.gone, 5);
    rec_numtracker_pace(&t, 100.0); /* a pause */
    rec_numtracker_pace(&t, 0.0);   /* a loop */
    assert_int_equal(t.appear, 4);
    for (int i = 1; i <= 60; i++)
        rec_numtracker_pace(&t, i / 60.0);
    assert_int_equal(t.appear, 15);
    assert_int_equal(t.lock, 30);
    rec_numtracker_init(&t, 30.0);
    for (int i = 0; i < 90; i++) /* every tenth frame skipped */
        rec_numtracker_pace(&t, (i + i / 9) / 30.0);
    assert_true(t.appear >= 7 && t.appear <= 8);

    const struct rec_box b = {100, 100, 120, 40};
    rec_numtracker_init(&t, 30.0);
    int first_shown = -1;
    for (int i = 0; i < 15 && first_shown < 0; i++) {
        frame((const char *[]){"2920"}, &b, 1, 0.99f);
        rec_numtracker_pace(&t, i / 15.0);
        rec_numtracker_update(&t, res, NULL, 0);
        if (n_shown(&t))
            first_shown = i;
    }
    assert_int_equal(first_shown, 3);
}

/* 2920 read steadily but for one frame where its first digit is missed (920, a box a quarter
 * narrower), and one frame with a false "1" elsewhere: the shown text is 2920 from the 8th frame
 * on and never anything else; the 1 is never shown; it locks once, at the 15th frame. */
static void test_blips_do_not_show(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    const struct rec_box full = {100, 100, 80, 30}, cut = {120, 100, 60, 30},
                         far = {400, 300, 8, 30};
    const char *whole[] = {"2920"}, *part[] = {"920"}, *with_false[] = {"2920", "1"};
    const struct rec_box b2[] = {full, far};
    int locks = 0, lock_frame = -1, id = -1;
    for (int f = 1; f <= 40; f++) {
        if (f == 20)
            frame(part, &cut, 1, 0.97f);
        else if (f == 25)
            frame(with_false, b2, 2, 0.97f);
        else
            frame(whole, &full, 1, 0.97f);
        int locked[4];
        const int nl = rec_numtracker_update(&t, res, locked, 4);
        if (nl) {
            locks += nl;
            lock_frame = f;
            assert_string_equal(t.tracks[locked[0]].text, "2920");
        }
        if (f == 1)
            id = t.tracks[0].id;
        const struct rec_numtrack *tr = shown(&t, id);
        if (f < 8) {
            assert_null(tr);
            continue;
        }
        assert_non_null(tr);
        assert_string_equal(tr->text, "2920");
        assert_int_equal(n_shown(&t), 1);
    }
    assert_int_equal(locks, 1);
    assert_int_equal(lock_frame, 15);
}

/* A number read every other frame (a small digit the reader finds now and then) never shows,
 * however long it goes on; read 8 frames in a row it does. */
static void test_intermittent_never_shows(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    const struct rec_box b = {50, 50, 10, 14};
    const char *seven[] = {"7"};
    for (int f = 1; f <= 60; f++) {
        frame(seven, &b, f % 2, 0.9f);
        rec_numtracker_update(&t, res, NULL, 0);
        assert_int_equal(n_shown(&t), 0);
    }
    for (int f = 1; f <= 8; f++) {
        frame(seven, &b, 1, 0.9f);
        rec_numtracker_update(&t, res, NULL, 0);
        assert_int_equal(n_shown(&t), f >= 8 ? 1 : 0);
    }
}

/* A real change: 2920 becomes 2930 (the paper was corrected) and stays: the shown text changes
 * after exactly `change` frames of the new reading, under the same id, and locks again. */
static void test_real_change(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    const struct rec_box box = {50, 60, 90, 30};
    const char *before[] = {"2920"}, *after[] = {"2930"};
    int locks = 0;
    for (int f = 1; f <= 30; f++) {
        frame(before, &box, 1, 0.95f);
        locks += rec_numtracker_update(&t, res, NULL, 0);
    }
    const int id = t.tracks[0].id;
    assert_int_equal(locks, 1);
    for (int f = 1; f <= 30; f++) {
        frame(after, &box, 1, 0.95f);
        locks += rec_numtracker_update(&t, res, NULL, 0);
        const struct rec_numtrack *tr = shown(&t, id);
        assert_non_null(tr);
        assert_string_equal(tr->text, f < t.change ? "2920" : "2930");
        /* the old text stays locked until replaced; the new one locks once read t.lock frames
         * in a row, the frames it waited to replace the old counted */
        assert_int_equal(tr->locked, f < t.change || f >= t.lock);
    }
    assert_int_equal(locks, 2);
}

/* A shown 10179 whose 1 the reader then misses (0179, its box a fifth narrower): the text
 * holds for t.shrink - 1 frames of the shorter reading, longer than a change takes, and a reading
 * of the whole number in between starts the count again; only t.shrink frames in a row of 0179
 * replace it. A digit gained (0179 -> 10179) takes a change's time. */
static void test_lost_digit_needs_longer(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    assert_true(t.shrink > t.change);
    const struct rec_box whole_box = {100, 100, 100, 30}, part_box = {120, 100, 80, 30};
    const char *whole[] = {"10179"}, *part[] = {"0179"};
    for (int f = 1; f <= 20; f++) {
        frame(whole, &whole_box, 1, 0.97f);
        rec_numtracker_update(&t, res, NULL, 0);
    }
    const int id = t.tracks[0].id;
    for (int round = 0; round < 2; round++) {
        for (int f = 1; f < t.shrink; f++) {
            frame(part, &part_box, 1, 0.97f);
            rec_numtracker_update(&t, res, NULL, 0);
            assert_non_null(shown(&t, id));
            assert_string_equal(shown(&t, id)->text, "10179");
        }
        frame(whole, &whole_box, 1, 0.97f);
        rec_numtracker_update(&t, res, NULL, 0);
    }
    for (int f = 1; f <= t.shrink; f++) {
        frame(part, &part_box, 1, 0.97f);
        rec_numtracker_update(&t, res, NULL, 0);
        assert_string_equal(shown(&t, id)->text, f < t.shrink ? "10179" : "0179");
    }
    for (int f = 1; f <= t.change; f++) {
        frame(whole, &whole_box, 1, 0.97f);
        rec_numtracker_update(&t, res, NULL, 0);
        assert_string_equal(shown(&t, id)->text, f < t.change ? "0179" : "10179");
    }
}

/* The next sheet: where a locked 7135 was shown, 8075 is read in four frames of five, the fifth
 * reading only its 75 (a box half as wide). One frame read otherwise does not start the new
 * reading's count again: 8075 replaces 7135 after t.change frames of it (the ninth frame), and
 * from then on the shown text is 8075 whatever the fifth frame reads. (Counting only frames in a
 * row, the old text stayed on screen for good: each 8075 kept its track seen, and no run of 8
 * came.) A reading of the whole old text still starts the count again (test_lost_digit). */
static void test_new_text_through_misreadings(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    const struct rec_box box = {200, 100, 120, 40}, tail = {260, 100, 60, 40};
    const char *old[] = {"7135"}, *next[] = {"8075"}, *part[] = {"75"};
    for (int f = 1; f <= 30; f++) {
        frame(old, &box, 1, 0.98f);
        rec_numtracker_update(&t, res, NULL, 0);
    }
    const int id = t.tracks[0].id;
    assert_true(t.tracks[0].locked);
    for (int f = 1; f <= 40; f++) {
        if (f % 5 == 0)
            frame(part, &tail, 1, 0.98f);
        else
            frame(next, &box, 1, 0.98f);
        rec_numtracker_update(&t, res, NULL, 0);
        const struct rec_numtrack *tr = shown(&t, id);
        assert_non_null(tr);
        assert_string_equal(tr->text, f < 9 ? "7135" : "8075");
    }
}

/* The view moves on: where a long number was shown, a single digit is read inside its box. It is
 * another number (a track of its own, shown once it has been read t.appear frames), not the old
 * one's new text; the old one goes after t.gone frames unseen. */
static void test_small_number_in_old_place(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    const struct rec_box box = {50, 60, 110, 30}, small = {110, 61, 27, 29};
    const char *old[] = {"2402"}, *one[] = {"7"};
    for (int f = 1; f <= 20; f++) {
        frame(old, &box, 1, 0.95f);
        rec_numtracker_update(&t, res, NULL, 0);
    }
    const int id = t.tracks[0].id;
    for (int f = 1; f <= t.gone + 2; f++) {
        frame(one, &small, 1, 0.95f);
        rec_numtracker_update(&t, res, NULL, 0);
        const struct rec_numtrack *tr = shown(&t, id);
        if (f <= t.gone) {
            assert_non_null(tr);
            assert_string_equal(tr->text, "2402");
        } else {
            assert_null(tr);
        }
    }
    assert_int_equal(n_shown(&t), 1);
    assert_string_equal(t.tracks[0].text, "7");
    assert_int_not_equal(t.tracks[0].id, id);
}

/* The view moves on and a new number is read near where an old one was shown, first just apart
 * from it (its own track), then overlapping the old box by half: the reading stays with the track
 * that reads it as it is, the old number goes after t.gone frames unseen instead of taking the
 * reading, and one track shows "40", never two. */
static void test_new_number_keeps_its_track(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    const struct rec_box old_box = {45, 158, 310, 72}, apart = {5, 100, 195, 122},
                         over = {7, 122, 195, 122};
    const char *old[] = {"33188"}, *forty[] = {"40"};
    for (int f = 1; f <= 20; f++) {
        frame(old, &old_box, 1, 0.95f);
        rec_numtracker_update(&t, res, NULL, 0);
    }
    const int old_id = t.tracks[0].id;
    for (int f = 1; f <= 6; f++) {
        frame(forty, &apart, 1, 0.95f);
        rec_numtracker_update(&t, res, NULL, 0);
    }
    assert_int_equal(t.n, 2);
    const int new_id = t.tracks[1].id;
    for (int f = 7; f <= 40; f++) {
        frame(forty, &over, 1, 0.95f);
        rec_numtracker_update(&t, res, NULL, 0);
        if (f > t.gone)
            assert_null(shown(&t, old_id));
        int forties = 0;
        for (int i = 0; i < t.n; i++)
            forties += t.tracks[i].shown && !strcmp(t.tracks[i].text, "40");
        assert_true(forties <= 1);
    }
    assert_int_equal(n_shown(&t), 1);
    assert_non_null(shown(&t, new_id));
    assert_string_equal(shown(&t, new_id)->text, "40");
}

/* A number with an unread candidate of its height just beside it (two digits the reader could
 * not part, a blurred one) may be missing a digit: it is shown but locks only once the candidate
 * has been read or gone for lock's frames. */
static void test_partial_number_waits(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    const struct rec_box box = {100, 60, 60, 30};
    const char *text[] = {"69"};
    int locks = 0;
    for (int f = 1; f <= 2 * t.lock; f++) {
        frame(text, &box, 1, 0.99f);
        with_rejected((struct rec_box){40, 62, 50, 28}); /* 10 px left of the number, as tall */
        locks += rec_numtracker_update(&t, res, NULL, 0);
    }
    assert_int_equal(locks, 0);
    assert_non_null(shown(&t, t.tracks[0].id));
    for (int f = 1; f <= t.lock; f++) {
        frame(text, &box, 1, 0.99f);
        with_rejected((struct rec_box){0, 62, 10, 28}); /* far off (three heights): not beside */
        assert_int_equal(rec_numtracker_update(&t, res, NULL, 0), f == t.lock);
    }
}

/* A lone digit with another number's digits beside it, their baseline drifting lower (a third of
 * a height overlapping; 4 and 558 written as 4558) may be the start of a longer number: shown, not
 * locked; with the other number two heights away it locks. */
static void test_number_beside_another_waits(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    const char *texts[] = {"4", "558"};
    const struct rec_box near[] = {{100, 60, 15, 30}, {125, 80, 45, 30}};
    const struct rec_box apart[] = {{100, 60, 15, 30}, {175, 80, 45, 30}};
    int locks = 0;
    for (int f = 1; f <= 2 * t.lock; f++) {
        frame(texts, near, 2, 0.99f);
        locks += rec_numtracker_update(&t, res, NULL, 0);
    }
    assert_int_equal(locks, 0);
    assert_int_equal(n_shown(&t), 2);
    for (int f = 1; f <= t.lock; f++) {
        frame(texts, apart, 2, 0.99f);
        locks += rec_numtracker_update(&t, res, NULL, 0);
    }
    assert_int_equal(locks, 2);
}

/* A number reaching the frame's edge may go on beyond it: shown, never locked there; moved into
 * the frame, it locks after lock's frames, on each side. */
static void test_number_at_edge_waits(void **state)
{
    (void)state;
    const struct rec_box at_edge[] = {
        {0, 200, 60, 30}, {580, 200, 60, 30}, {300, 0, 60, 30}, {300, 450, 60, 30}};
    const char *text[] = {"2718"};
    for (int e = 0; e < 4; e++) {
        struct rec_numtracker t;
        rec_numtracker_init(&t, 30.0);
        for (int f = 1; f <= 3 * t.lock; f++) {
            frame(text, &at_edge[e], 1, 0.99f);
            assert_int_equal(rec_numtracker_update(&t, res, NULL, 0), 0);
        }
        assert_non_null(shown(&t, t.tracks[0].id));
        struct rec_box inside = at_edge[e];
        inside.x += e == 0 ? 6 : e == 1 ? -6 : 0;
        inside.y += e == 2 ? 6 : e == 3 ? -6 : 0;
        for (int f = 1; f <= t.lock; f++) {
            frame(text, &inside, 1, 0.99f);
            assert_int_equal(rec_numtracker_update(&t, res, NULL, 0), f == t.lock);
        }
    }
}

/* Two numbers side by side keep their own tracks; an unsure one (confidence 0.6) is shown but
 * never locks; a short gap (5 frames) keeps a number shown, a long one (11) ends it. */
static void test_neighbours_gaps_and_confidence(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    const struct rec_box boxes[] = {{100, 100, 60, 30}, {170, 100, 60, 30}};
    const char *texts[] = {"41", "77"};
    for (int f = 1; f <= 20; f++) {
        frame(texts, boxes, 2, 0.6f);
        assert_int_equal(rec_numtracker_update(&t, res, NULL, 0), 0);
    }
    assert_int_equal(n_shown(&t), 2);
    const int a = t.tracks[0].id, b = t.tracks[1].id;
    assert_true(a != b);
    assert_string_equal(shown(&t, a)->text, "41");
    assert_string_equal(shown(&t, b)->text, "77");
    for (int f = 1; f <= 5; f++) { /* nothing seen */
        frame(texts, boxes, 0, 0.6f);
        rec_numtracker_update(&t, res, NULL, 0);
    }
    assert_int_equal(n_shown(&t), 2);
    frame(texts, boxes, 2, 0.6f);
    rec_numtracker_update(&t, res, NULL, 0);
    assert_non_null(shown(&t, a));
    assert_non_null(shown(&t, b));
    for (int f = 1; f <= 11; f++) {
        frame(texts, boxes, 0, 0.6f);
        rec_numtracker_update(&t, res, NULL, 0);
    }
    assert_int_equal(t.n, 0);
}

/* A long number locks on its confidence per digit: five digits read at 0.97 each (0.86 for the
 * number) lock at the 15th frame; at 0.9 each (0.59) they never do. */
static void test_long_number_locks_per_digit(void **state)
{
    (void)state;
    const struct rec_box box = {100, 100, 150, 30};
    const char *text[] = {"40715"};
    const float per_digit[] = {0.97f, 0.9f};
    for (int c = 0; c < 2; c++) {
        struct rec_numtracker t;
        rec_numtracker_init(&t, 30.0);
        int lock_frame = -1;
        for (int f = 1; f <= 30; f++) {
            frame(text, &box, 1, powf(per_digit[c], 5.0f));
            if (rec_numtracker_update(&t, res, NULL, 0) && lock_frame < 0)
                lock_frame = f;
        }
        print_message("40715 at %.2f a digit: %s\n", (double)per_digit[c],
                      lock_frame > 0 ? "locked" : "not locked");
        assert_int_equal(lock_frame, c == 0 ? 15 : -1);
    }
}

/* After a cut to the next sheet, whatever is read where a shown number was, changing from frame
 * to frame, does not keep it: 95 ends `gone` frames after it was last read as itself, as it would
 * with nothing read there; a steady new reading takes its place and keeps it. */
static void test_other_readings_do_not_keep_a_number(void **state)
{
    (void)state;
    struct rec_numtracker t;
    rec_numtracker_init(&t, 30.0);
    const struct rec_box b = {100, 100, 60, 30};
    const char *old[] = {"95"}, *others[] = {"1342", "134", "42", "13", "342"};
    for (int f = 1; f <= 20; f++) {
        frame(old, &b, 1, 0.99f);
        rec_numtracker_update(&t, res, NULL, 0);
    }
    assert_int_equal(n_shown(&t), 1);
    int gone_at = -1;
    for (int f = 1; f <= 20 && gone_at < 0; f++) {
        frame(&others[f % 5], &b, 1, 0.99f);
        rec_numtracker_update(&t, res, NULL, 0);
        int shows_95 = 0;
        for (int i = 0; i < t.n; i++)
            shows_95 |= t.tracks[i].shown && !strcmp(t.tracks[i].text, "95");
        if (!shows_95)
            gone_at = f;
    }
    print_message("95 gone %d frames after the cut (gone: %d)\n", gone_at, t.gone);
    assert_int_equal(gone_at, t.gone + 1);
    /* a steady new reading in its place: shown once it has held for `appear` frames, and kept */
    const char *next[] = {"1342"};
    for (int f = 1; f <= 20; f++) {
        frame(next, &b, 1, 0.99f);
        rec_numtracker_update(&t, res, NULL, 0);
    }
    assert_int_equal(n_shown(&t), 1);
    assert_string_equal(t.tracks[0].text, "1342");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_counts),
        cmocka_unit_test(test_counts_follow_the_frame_rate),
        cmocka_unit_test(test_blips_do_not_show),
        cmocka_unit_test(test_intermittent_never_shows),
        cmocka_unit_test(test_real_change),
        cmocka_unit_test(test_lost_digit_needs_longer),
        cmocka_unit_test(test_new_text_through_misreadings),
        cmocka_unit_test(test_small_number_in_old_place),
        cmocka_unit_test(test_new_number_keeps_its_track),
        cmocka_unit_test(test_partial_number_waits),
        cmocka_unit_test(test_number_beside_another_waits),
        cmocka_unit_test(test_number_at_edge_waits),
        cmocka_unit_test(test_neighbours_gaps_and_confidence),
        cmocka_unit_test(test_long_number_locks_per_digit),
        cmocka_unit_test(test_other_readings_do_not_keep_a_number),
    };
    return cmocka_run_group_tests_name("recog_numtrack", tests, setup, teardown);
}
