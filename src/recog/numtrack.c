/* numtrack.c - numbers followed across video frames, so that what a person reads on the screen
 * holds still: a number keeps its identity by the overlap of its box, shows up only after it has
 * been seen for a few frames in a row, changes its text only after a new reading has held for a few
 * frames, stays through a short gap and locks when it has read the same with high confidence for
 * about half a second with no other candidate beside its digits nor the frame's edge. Plain data:
 * no allocation. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "numbers.h"
#include "recog.h"

/* A shown number's reading that has lost a digit or more (its text within the shown one's)
 * replaces it only after SHRINK_S seconds, twice a change's time: a digit written is new evidence,
 * a digit missed is the reader's usual mistake. On the hand-held report desk video (2026-12-06)
 * the reading of 10179 lost its thin 1 in most frames after the number was shown and 0179
 * replaced it, and a 059 became 59: shown-number changes 4 -> 2 of 168 (0.5 s or 0.75 s alike);
 * the tuning videos had no such case and read the same. */
static const double SHRINK_S = 0.5;

/* A new reading's count of frames is not started again by PENDING_BREAKS frames read otherwise
 * in between (the reader's usual slips: a digit missed, two read as three). Counting only frames
 * in a row, a locked number of the last sheet stayed on screen well into the next one: where its
 * 7135 had been, 8075 was read in 26 of the next 29 frames but never 8 in a row, every reading of
 * it kept the old track seen, and 7135 went only after 26 frames (the flat hand-held report video
 * with a fast candidate, twenty-ninth session; test_new_text_through_misreadings). Hand-held
 * tuning videos, 36 scenes each (2026-12-07), shown-number changes in 504 pairs, shipped fast:
 * 31 -> 29 (words 6 -> 4, desk 9 as before but 7 appearing and 2 changing -> 6 and 3; flat,
 * other, real, big and held as before); the candidate: 28 -> 26 (desk 10 -> 7, real 2 -> 3). The
 * report videos with the shipped fast as before (one wrong lock more on the desk's, 3 of 23). */
enum { PENDING_BREAKS = 1 };

/* Sets t's frame counts for fps frames a second (30 when out of range). */
static void set_counts(struct rec_numtracker *t, double fps)
{
    if (!(fps > 0.0 && fps < 1000.0))
        fps = 30.0;
    /* frames for a quarter, a quarter, a third and a half of a second, never fewer than 2, 3, 3
     * and 5. On hand-held video of build/world frames (30 frames a scene, 2026-12-02) the shown
     * numbers changed in 24% of frame pairs with appear and change at a tenth and a sixth of a
     * second, 14% at a fifth and a quarter, 12% at 0.3 s and a quarter (the raw readings: 76%). */
    const int f_appear = (int)lround(fps * 0.25), f_change = (int)lround(fps * 0.25);
    const int f_gone = (int)lround(fps / 3.0), f_lock = (int)lround(fps * 0.5);
    t->appear = f_appear > 2 ? f_appear : 2;
    t->change = f_change > 3 ? f_change : 3;
    const int f_shrink = (int)lround(fps * SHRINK_S);
    t->shrink = f_shrink > t->change ? f_shrink : t->change;
    t->gone = f_gone > 3 ? f_gone : 3;
    t->lock = f_lock > 5 ? f_lock : 5;
}

void rec_numtracker_init(struct rec_numtracker *t, double fps)
{
    memset(t, 0, sizeof *t);
    set_counts(t, fps);
    t->lock_confidence = 0.93f;
    t->next_id = 1;
}

/* The mean interval moves PACE_WEIGHT of the way to each new one, and the counts are set for the
 * rate it gives: a frame now and then skipped by a reader that fell behind moves them by a frame
 * at most, a source at another rate sets them within a second. Without it a 15 fps video kept 30
 * fps counts: numbers showed after half a second and lingered two thirds of one (hand-held report
 * videos at 15 fps, scenes of a second: shown numbers changed in 16-19% of frame pairs, against
 * 1-2.4% at 30 fps). */
static const double PACE_WEIGHT = 0.2;

void rec_numtracker_pace(struct rec_numtracker *t, double frame_t)
{
    const double dt = frame_t - t->last_t;
    const int counted = t->have_t && dt > 1e-3 && dt <= 1.0;
    t->last_t = frame_t, t->have_t = 1;
    if (!counted)
        return;
    t->interval = t->interval > 0.0 ? t->interval + PACE_WEIGHT * (dt - t->interval) : dt;
    set_counts(t, floor(100.0 / t->interval + 0.5) / 100.0); /* 1/(1/30) is 29.99999...: 30.00 */
}

/* How well a reading at box b continues a track at box a: their overlap (rec_box_overlap), or 0
 * when one is over
 * 2.5 times as wide as the other. A number that lost or gained a digit still matches; a small
 * number where a long one was (the view moved on) is another. On the hand-held tuning videos,
 * where a cut brings the next sheet every second: shown-number changes 2 + 2 -> 0 + 3 (flat +
 * desk; twice as wide: the same), locks within 0.6 s as many. */
static float continues(struct rec_box a, struct rec_box b)
{
    const int wmin = a.w < b.w ? a.w : b.w, wmax = a.w + b.w - wmin;
    return wmin * 5 < wmax * 2 ? 0.0f : (float)rec_box_overlap(a, b);
}

/* One frame's reading nb of track tr. */
static void observe(const struct rec_numtracker *t, struct rec_numtrack *tr,
                    const struct rec_number *nb)
{
    tr->box = nb->box;
    /* a reading of neither its text nor the one waiting to replace it does not count as the
     * track seen: after a cut to the next sheet, the last sheet's number had been kept alive by
     * whatever was read in its place, changing from frame to frame, and shown past the new
     * sheet's first half second (hand-held desk videos, 2026-12-05: shown-number changes 7 -> 6
     * of 168 on the tuning one, 4 -> 3 on the report one; nothing else changed) */
    const int own = !strncmp(nb->text, tr->text, REC_NUMBER_TEXT - 1);
    tr->missed = own || !strncmp(nb->text, tr->pending, REC_NUMBER_TEXT - 1) ? 0 : tr->missed + 1;
    tr->age++;
    if (own) {
        tr->steady++;
        tr->pending[0] = 0;
        tr->pending_frames = 0;
        tr->confidence =
            tr->steady == 1 ? nb->confidence : 0.7f * tr->confidence + 0.3f * nb->confidence;
    } else {
        if (!strncmp(nb->text, tr->pending, REC_NUMBER_TEXT - 1))
            tr->pending_frames++, tr->pending_break = 0;
        else if (tr->pending[0] && tr->pending_break < PENDING_BREAKS)
            tr->pending_break++;
        else {
            snprintf(tr->pending, sizeof tr->pending, "%.*s", REC_NUMBER_TEXT - 1, nb->text);
            tr->pending_frames = 1;
            tr->pending_break = 0;
        }
        /* a new reading replaces the old once it has held for t->change frames (at once while
         * the number is not shown yet: nothing on screen changes); it has been read the same
         * for those frames already, and they count towards its lock: on the hand-held tuning
         * videos (a cut to the next sheet every second, its numbers taking the old tracks)
         * numbers locked within 0.6 s 57 -> 83% (flat) and 27 -> 35% (desk), wrong locks
         * 3 -> 4 and 35 -> 36 */
        const int need = strstr(tr->text, tr->pending) ? t->shrink : t->change;
        if (tr->pending_frames >= need || !tr->shown) {
            snprintf(tr->text, sizeof tr->text, "%s", tr->pending);
            tr->confidence = nb->confidence;
            tr->steady = tr->pending_frames;
            tr->locked = 0;
            tr->pending[0] = 0;
            tr->pending_frames = 0;
        }
    }
    if (!tr->shown && tr->age >= t->appear)
        tr->shown = 1;
}

/* Whether number nb may be short of a digit: another candidate, read or not, of at least half a
 * digit's height and overlapping a quarter of it up and down, stands within NEAR_GAP heights of
 * one of its digits (two digits run together, a blurred one, a digit below a drifting baseline
 * grouped as a number of its own), or the number reaches to within EDGE_PX of the frame's edge
 * (it may go on beyond it). Such a number is not locked. On the hand-held desk tuning video, 36 of
 * 65 locks were of readings that were no number of the scene, most of them numbers short of a
 * digit or two (69 for 7269); with rejected candidates beside the number's box (half a height) and
 * the edge, 19 of 46; with every candidate beside any of its digits (2026-12-03), 9 of 35 and as
 * many right locks within 0.6 s (24 of 78), the flat video's wrong locks 4 -> 1 for one right lock
 * of 103 (0.4 heights: 11 of 37; 0.9: 9 of 34 with one right lock fewer). */
enum { EDGE_PX = 2 };
static const float NEAR_GAP = 0.7f;

static int short_of_digit(const struct rec_result *r, const struct rec_number *nb)
{
    const struct rec_box *b = &nb->box;
    if (b->x <= EDGE_PX || b->y <= EDGE_PX || b->x + b->w >= r->width - EDGE_PX ||
        b->y + b->h >= r->height - EDGE_PX)
        return 1;
    for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
        if (i >= nb->first && i < nb->first + nb->count)
            continue;
        for (int k = nb->first; k < nb->first + nb->count; k++)
            if (rec_beside(&r->digits[k].box, &r->digits[i].box, NEAR_GAP, 50, 25))
                return 1;
    }
    return 0;
}

/* The reading not yet taken that continues track tr best, overlapping at least half of the
 * smaller box, among those reading tr's own text when own_text; -1 when none does. */
static int best_reading(const struct rec_numtrack *tr, const struct rec_result *r,
                        const unsigned char *taken, int own_text)
{
    int best = -1;
    float best_ov = 0.5f;
    for (int i = 0; i < r->n_numbers; i++) {
        if (taken[i] || (own_text && strncmp(r->numbers[i].text, tr->text, REC_NUMBER_TEXT - 1)))
            continue;
        const float v = continues(tr->box, r->numbers[i].box);
        if (v > best_ov)
            best_ov = v, best = i;
    }
    return best;
}

/* A track's confidence per digit: the geometric mean of its digits' (a number's confidence is
 * their product, so a long number read as surely as a short one has a lower one). Locking on the
 * number's confidence at 0.9 left most unlocked numbers of the hand-held flat video read right
 * and steadily at 0.95-0.98 a digit; a bar of 0.7 on the number locked 7 more right numbers on
 * the tuning videos and 4 wrong ones (2026-12-05). Per digit (tuning videos, 2026-12-05; numbers
 * locked within 0.6 s, flat and desk, and locks of no number of the scene): number at 0.9 80 and
 * 25 of 103 and 78, wrong 0 of 81 and 5 of 31; per digit 0.97 79 and 27, 0 and 5 of 32; 0.95 83
 * and 27, 0 and 6 of 35; 0.93 85 and 30, 0 and 6 of 39; 0.92 86 and 31, 2 and 7 of 40; 0.9 86
 * and 33, 3 and 7 of 42. */
static float per_digit(const struct rec_numtrack *tr)
{
    const size_t n = strlen(tr->text);
    return n > 1 ? powf(tr->confidence, 1.0f / (float)n) : tr->confidence;
}

int rec_numtracker_update(struct rec_numtracker *t, const struct rec_result *r, int *locked_now,
                          int max_locked)
{
    unsigned char taken[REC_MAX_CANDIDATES] = {0}, matched[REC_MAX_NUMTRACKS] = {0};
    /* tracks in order of age, each to the reading that continues it best (overlapping at least
     * half of the smaller box): first the readings of a track's own text, then any. An old
     * track that lingers after the view moved on (a cut to the next sheet) would otherwise take
     * a reading that a younger track was already reading as it is, and both would be shown.
     * Hand-held report videos (2026-12-05): shown-number changes 4 -> 1 of 168 (flat), 3 -> 3
     * (desk); tuning videos 1 -> 0 and 7 -> 7 */
    for (int own_text = 1; own_text >= 0; own_text--)
        for (int k = 0; k < t->n; k++) {
            struct rec_numtrack *tr = &t->tracks[k];
            const int best = matched[k] ? -1 : best_reading(tr, r, taken, own_text);
            if (best >= 0) {
                taken[best] = matched[k] = 1;
                tr->whole = short_of_digit(r, &r->numbers[best]) ? 0 : tr->whole + 1;
                observe(t, tr, &r->numbers[best]);
            }
        }
    for (int i = 0; i < r->n_numbers && t->n < REC_MAX_NUMTRACKS; i++) {
        if (taken[i])
            continue;
        struct rec_numtrack *tr = &t->tracks[t->n];
        memset(tr, 0, sizeof *tr);
        tr->id = t->next_id++;
        tr->whole = !short_of_digit(r, &r->numbers[i]);
        matched[t->n++] = 1;
        observe(t, tr, &r->numbers[i]);
    }
    /* the unseen age and go; locks of this frame */
    int kept = 0, n_locked = 0;
    for (int k = 0; k < t->n; k++) {
        struct rec_numtrack *tr = &t->tracks[k];
        if ((matched[k] ? tr->missed : ++tr->missed) > t->gone)
            continue;
        /* a number not shown yet must be read `appear` frames in a row: one that comes and goes
         * (a small digit read now and then, clutter) would otherwise show up in the end. On the
         * hand-held tuning video of build/world-tune frames (2026-12-03) shown numbers changed
         * in 4.8% of settled frame pairs against 8.9% counting frames read in all; locks as
         * fast as before */
        if (!matched[k] && !tr->shown)
            tr->age = 0;
        if (matched[k] && tr->shown && !tr->locked && tr->steady >= t->lock &&
            tr->whole >= t->lock && per_digit(tr) >= t->lock_confidence) {
            tr->locked = 1;
            if (locked_now && n_locked < max_locked)
                locked_now[n_locked] = kept;
            n_locked++;
        }
        if (kept != k)
            t->tracks[kept] = *tr;
        kept++;
    }
    t->n = kept;
    return n_locked;
}
