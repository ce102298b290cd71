/* test_recog_track.c - digit tracks across frames: matching by overlap, stable labels under
 * flicker, a clear change taking over, "?" for unsure digits, tracks ending. */
#include "recog.h"
#include "testutil.h"

static struct rec_result *res;

static void one(struct rec_result *r, int i, int x, int y, int d1, float p1, int d2, float p2)
{
    struct rec_digit *d = &r->digits[i];
    memset(d, 0, sizeof *d);
    d->digit = p1 >= 0.5f ? d1 : -1;
    d->confidence = p1;
    d->top3[0] = d1, d->top3_p[0] = p1;
    d->top3[1] = d2, d->top3_p[1] = p2;
    d->top3[2] = (d2 + 1) % 10, d->top3_p[2] = 0;
    d->box = (struct rec_box){x, y, 20, 30};
}

static void test_stable_under_flicker(void **state)
{
    (void)state;
    struct rec_tracker *t = malloc(sizeof *t);
    assert_non_null(t);
    rec_tracker_init(t, 0.5f, 0.15f);
    int of[2];
    /* a 1 that the network calls 1 and 7 in turn, just over and under a half */
    for (int f = 0; f < 20; f++) {
        memset(res, 0, sizeof *res);
        res->n_digits = 1;
        if (f % 2 == 0)
            one(res, 0, 100 + f % 3, 50, 1, 0.6f, 7, 0.4f);
        else
            one(res, 0, 100 + f % 3, 50, 7, 0.55f, 1, 0.45f);
        rec_tracker_update(t, res, of);
        assert_int_equal(t->n_tracks, 1);
        assert_int_equal(of[0], 0);
        assert_int_equal(t->tracks[0].id, 1); /* one track all along: the box moved a little */
        assert_int_equal(t->tracks[0].label, 1);
    }
    /* it really becomes a 7: the label follows within a few frames, not at the first */
    int switched_at = -1;
    for (int f = 0; f < 10; f++) {
        memset(res, 0, sizeof *res);
        res->n_digits = 1;
        one(res, 0, 101, 50, 7, 0.95f, 1, 0.05f);
        rec_tracker_update(t, res, of);
        if (t->tracks[0].label == 7 && switched_at < 0)
            switched_at = f;
    }
    assert_true(switched_at >= 1 && switched_at <= 4);
    assert_true(t->tracks[0].confidence > 0.9f);
    free(t);
}

static void test_unsure_new_and_gone(void **state)
{
    (void)state;
    struct rec_tracker *t = malloc(sizeof *t);
    assert_non_null(t);
    rec_tracker_init(t, 0.5f, 0.15f);
    int of[2];
    memset(res, 0, sizeof *res);
    res->n_digits = 1;
    res->n_rejected = 1;
    one(res, 0, 10, 10, 3, 0.9f, 8, 0.1f);
    one(res, 1, 300, 10, 4, 0.3f, 9, 0.3f); /* unsure: a track with "?" */
    rec_tracker_update(t, res, of);
    assert_int_equal(t->n_tracks, 2);
    assert_int_equal(t->tracks[of[0]].label, 3);
    assert_int_equal(t->tracks[of[1]].label, -1);
    assert_int_not_equal(t->tracks[of[0]].id, t->tracks[of[1]].id);
    /* the 3 leaves; its track survives a few missed frames, then ends; the other stays */
    for (int f = 0; f < REC_TRACK_MAX_MISSED + 1; f++) {
        memset(res, 0, sizeof *res);
        res->n_rejected = 1;
        one(res, 0, 300, 10, 4, 0.3f, 9, 0.3f);
        rec_tracker_update(t, res, of);
        assert_int_equal(t->n_tracks, f < REC_TRACK_MAX_MISSED ? 2 : 1);
        assert_int_equal(t->tracks[of[0]].label, -1);
        assert_int_equal(t->tracks[of[0]].id, 2);
    }
    free(t);
}

/* A candidate the reader rejected (a lone 1, a sheet's edge) is never drawn as a digit however
 * sure the network was; a digit rejected for one frame keeps its label. */
static void test_rejected_is_no_digit(void **state)
{
    (void)state;
    struct rec_tracker *t = malloc(sizeof *t);
    assert_non_null(t);
    rec_tracker_init(t, 0.5f, 0.15f);
    int of[2];
    for (int f = 0; f < 10; f++) {
        memset(res, 0, sizeof *res);
        res->n_digits = 1;
        res->n_rejected = 1;
        one(res, 0, 10, 10, 3, 0.95f, 8, 0.05f);
        if (f == 5)
            res->digits[0].digit = -1; /* the 3 rejected once */
        one(res, 1, 300, 10, 1, 0.95f, 7, 0.05f);
        res->digits[1].digit = -1; /* the network says 1; the reader's context says no */
        rec_tracker_update(t, res, of);
        assert_int_equal(t->n_tracks, 2);
        assert_int_equal(t->tracks[of[0]].label, 3);
        assert_int_equal(t->tracks[of[1]].label, -1);
    }
    free(t);
}

int main(void)
{
    res = malloc(sizeof *res);
    if (!res)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_under_flicker),
        cmocka_unit_test(test_unsure_new_and_gone),
        cmocka_unit_test(test_rejected_is_no_digit),
    };
    const int rc = cmocka_run_group_tests_name("recog_track", tests, NULL, NULL);
    free(res);
    return rc;
}
