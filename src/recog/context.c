/* context.c - rec_scan's stage 5c: the context rules that reject readings whose surroundings say
 * they are not digits (edges of objects and sheets' corners, letters of words and keyboards,
 * frames drawn round numbers, unsure readings at the frame's edge, readings in clutter). Each
 * rule's comment says how it was chosen. */
#include "scanner.h"

#include "numbers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Stage 5c, context: rejected candidates in a row of digits are read again
 * (rec_accept_beside_digits, numbers.c), then readings whose surroundings say they are not digits
 * are rejected (rec_reject_by_context here: edges, letters, unsure readings at the frame's edge,
 * readings in clutter; and
 * 1s with no other digit beside them:
 * rec_reject_lone_ones). EDGE_RATIO: a thin candidate is an edge when the paper on its
 * darker side is within this share of the ink-to-paper contrast of its lighter side. WORD_GAP,
 * WORD_JUNK: a 1 is the l or I of a word when a candidate at least WORD_JUNK sure it is not a
 * digit, of similar height and on the same line, stands within WORD_GAP heights of it. On
 * build/world-tune with the shipped fast model (2026-12-02): edges alone 86.58 -> 87.18%
 * precision, 1.67 -> 1.52 false digits per empty frame, nothing lost; with words 88.56% and 1.00,
 * for 0.24 points of digits read. Applied to every digit, the word rule cost 5 points of digits
 * read (digits beside a digit the network rejected). */
static const float EDGE_RATIO = 0.4f, WORD_GAP = 0.3f, WORD_JUNK = 0.5f;
enum { WORD_TIE = 2 };

/* A candidate whose box touches the frame's edge is something whose rest is out of view: a sheet's
 * corner, a hand, a digit cut in part. It is read only when the network is BORDER_SURE of it. On
 * build/world-tune (2026-12-05, shipped fast model): precision 93.83 -> 94.27%, false digits per
 * digit-free frame 0.19 -> 0.11, digits read 80.19 -> 80.18%; build/scenes-tune, whose generator
 * counts digits the frame cuts, 97.28 -> 97.26% (rejecting every candidate at the edge cost it
 * 0.16 points). */
static const float BORDER_SURE = 0.99f;

static int at_border(const struct rec_box *b, const struct vis_image *grey)
{
    return b->x <= 0 || b->y <= 0 || b->x + b->w >= grey->w || b->y + b->h >= grey->h;
}

/* Mean brightness (ink low) of the paper in columns [x0, x1) over rows [y0, y1): mask pixels
 * left out; -1 when the strip is outside the image or all ink. */
static float strip_paper(const struct vis_image *grey, const struct vis_image *mask, int light,
                         int x0, int x1, int y0, int y1)
{
    x0 = x0 < 0 ? 0 : x0, x1 = x1 > grey->w ? grey->w : x1;
    y0 = y0 < 0 ? 0 : y0, y1 = y1 > grey->h ? grey->h : y1;
    long sum = 0, n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            if (!mask->px[(size_t)y * mask->w + x]) {
                const int v = grey->px[(size_t)y * grey->w + x];
                sum += light ? 255 - v : v;
                n++;
            }
    return n * 4 >= (long)(x1 - x0) * (y1 - y0) && n > 0 ? (float)sum / (float)n : -1.0f;
}

/* Whether digit d's ink is the dark side of an edge rather than strokes on paper: a pen stroke
 * has paper on both sides, the border of a sheet, a hand or a shadow has paper on one side and
 * something as dark as the "ink" on the other. A tall thin candidate (1-like) is judged by the
 * strips left and right of it, one dark side enough (the paper in it within EDGE_RATIO of the
 * ink-to-paper contrast of the lighter side). With p.reject_corners any other is judged by the
 * four strips round its box, EDGE_WIDE_SIDES of them within EDGE_WIDE_RATIO: the band of desk the
 * threshold leaves along a sheet's corner is read as a 7 or a 4, and is as dark as the desk beyond
 * it on two sides; a digit by the sheet's edge or a shadow has ink darker than either. Chosen on
 * the tuning sets (2026-12-06, robust / fast): no digit read right lost on world-tune, real-tune,
 * other-tune or scenes-tune, false readings removed 2 / 3, 1 / 3, 1 / 2 and none, and 3 / 7 of
 * real-empty-tune's digit-free frames. 0.4 (the thin ones' ratio) removed twice as many but took 3
 * / 5 digits of world-tune by a sheet's edge or in an arm's shadow; one dark side of four, 0.2
 * points of world-tune's digits. */
static const float EDGE_WIDE_RATIO = 0.25f;
enum { EDGE_WIDE_SIDES = 2 };
/* The mean grey level (ink high) of the ink mask's pixels in box b; -1 when it holds none. */
static float mask_ink(const struct rec_scanner *sc, const struct vis_image *grey,
                      const struct rec_box *b, int light)
{
    long ink = 0, n = 0;
    for (int y = b->y; y < b->y + b->h; y++)
        for (int x = b->x; x < b->x + b->w; x++)
            if (sc->mask.px[(size_t)y * sc->mask.w + x]) {
                const int v = grey->px[(size_t)y * grey->w + x];
                ink += light ? 255 - v : v;
                n++;
            }
    return n ? (float)ink / (float)n : -1.0f;
}

static int is_edge(const struct rec_scanner *sc, const struct vis_image *grey,
                   const struct rec_digit *d, int light)
{
    const struct rec_box *b = &d->box;
    const int thin = b->w * 2 <= b->h;
    if (!thin && !sc->p.reject_corners)
        return 0;
    const int s = b->h / 5 > 2 ? b->h / 5 : 2, x1 = b->x + b->w, y1 = b->y + b->h;
    const int n_sides = thin ? 2 : 4; /* left, right, then above and below */
    float side[4];
    side[0] = strip_paper(grey, &sc->mask, light, b->x - s, b->x, b->y, y1);
    side[1] = strip_paper(grey, &sc->mask, light, x1, x1 + s, b->y, y1);
    if (!thin) {
        side[2] = strip_paper(grey, &sc->mask, light, b->x, x1, b->y - s, b->y);
        side[3] = strip_paper(grey, &sc->mask, light, b->x, x1, y1, y1 + s);
    }
    for (int k = 0; k < n_sides; k++)
        if (side[k] < 0)
            return 0;
    const float iv = mask_ink(sc, grey, b, light);
    if (iv < 0)
        return 0;
    float hi = 0.0f;
    for (int k = 0; k < n_sides; k++)
        hi = fmaxf(hi, side[k] - iv);
    const float ratio = thin ? EDGE_RATIO : EDGE_WIDE_RATIO;
    int dark = 0;
    for (int k = 0; k < n_sides; k++)
        dark += side[k] - iv < ratio * hi;
    return hi > 0 && dark >= (thin ? 1 : EDGE_WIDE_SIDES);
}

/* Whether a candidate sure it is not a digit (WORD_JUNK), of d's height and on its line, stands
 * within WORD_GAP heights of d: d is then a letter of a word (the l of "Ilse"). Not asked in stage
 * 8, where the candidates are a fifth of the frame and more: a big 1 written beside a fat 4 the
 * network turned down was taken for a letter (build/big-tune, 2026-12-07, robust 82.61 -> 83.12%
 * read, fast 78.01 -> 78.26%; every other tuning set as before). */
static int beside_letters(const struct rec_digit *d, const struct rec_result *r, int n)
{
    const struct rec_box *a = &d->box;
    for (int j = 0; j < n; j++) {
        const struct rec_digit *e = &r->digits[j];
        if (e != d && e->digit < 0 && e->junk >= WORD_JUNK &&
            rec_side_by_side(a, &e->box, WORD_GAP))
            return 1;
    }
    return 0;
}

/* Words: candidates side by side within LETTER_GAP heights, chained, are one word or number. A
 * reading in a chain with more candidates the network is WORD_LETTER sure are not digits than
 * readings, or as many and at least WORD_TIE of each, is a letter of a printed or written word
 * (the o of "Monday" or "room", read as 0), not a digit. A number with a digit the network could
 * not read keeps its other digits. On build/other-tune
 * (tools/othergen.py, Hershey-font words; robust, 2026-12-05): precision 87.52 -> 90.99%, false
 * digits per digit-free frame 0.60 -> 0.40, digits read 77.32 -> 77.12%; build/world-tune 84.90 ->
 * 84.71% read, 96.00 -> 96.10% precision, 0.11 -> 0.06 false per empty frame; build/scenes-tune
 * unchanged. Without the ties: other-tune 89.94% precision, world-tune 84.84% read; with every
 * tie ("to", a pair with one digit unread): 92.20% and 83.94%. Letters 0.5 sure (WORD_JUNK) had
 * rejected a lone 4 before four faint digits the network could not read in one frame and not the
 * next, so it showed late in the hand-held desk video (a shown-number change, 4 of 168 pairs:
 * over the live goal); at 0.7 (the regenerated other-tune, with the later rules): precision 91.69
 * -> 91.60%, that video 3 of 168 again; 0.9: 91.29%. */
static const float WORD_LETTER = 0.7f;
/* A tie of one letter and one reading ("of", "to": the o read as 0) is a word when the letter is
 * WORD_SURE sure it is not a digit and no reading of the chain is WORD_SURE sure it is one. On
 * build/real-tune (robust, 2026-12-05, with the clutter rule): precision 91.53 -> 92.14%, digits
 * read as before; real-empty-tune 0.40 -> 0.37 false digits a frame; other-tune 93.21 -> 93.62%
 * for one digit (82.85 -> 82.81%), world-tune one digit (84.82 -> 84.80%), scenes-tune as before;
 * fast loses 0.1-0.2 points of digits read for 0.1-0.6 of precision. 0.9 for the letter and 0.99
 * for the readings: 92.26% for 0.16 points of real-tune; every tie (fifteenth session): 0.8
 * points of world-tune. */
static const float WORD_SURE = 0.95f;
/* A chain whose readings are all 0s and 1s (the digits every Latin font has as letters: o, O, l,
 * I) beside a letter WORD_SURE sure it is not a digit is a word when none of its readings is
 * LETTER_DIGIT_SURE sure ("flow", "Sol", "Gobi": the word rules above count its o and l as two
 * readings against one letter). On the tuning sets (2026-12-06, robust / fast) no digit read right
 * was lost; false readings removed: real-tune 10 / 7, other-tune 5 / 7, world-tune 0 / 1,
 * real-empty-tune 11 / 8 (of 110 / 146). With every reading (no bar) 42 / 42 removed for 4 / 4
 * digits lost (a 0 beside the rest of its number in one blob the network turned down, a 0 after a
 * bracket), with a bar of 0.999 40 / 39 for 0 / 2; any digit beside a sure letter, not only 0 and
 * 1: not tried, a 5 or 2 beside a letter is as often a number's unit ("5 kg"). A reading the
 * network thinks likelier not a digit, read only because it stands beside one
 * (rec_accept_beside_digits: the B of "Bob" as 6 beside its o's 0), counts as a 0 or 1 here: 2 /
 * 10 more false readings removed on the tuning sets and 4 / 9 on the report sets, no digit lost on
 * either. */
static const float LETTER_DIGIT_SURE = 0.99f;
/* Letters of a word stand within LETTER_GAP heights of each other: 0.3 (WORD_GAP) left a small
 * printed o 4 px from the n of "Monday" (13 px tall) out of its word. At 0.5: build/other-tune
 * precision 91.60 -> 92.40% (robust), 87.49 -> 87.91% (fast), world-tune 84.69 -> 84.57% read;
 * the third hand-held video's false digits drawn 0.14 -> 0.07 a frame. 0.4: 91.82%. */
static const float LETTER_GAP = 0.5f;
/* Rows of letters: candidates of one size (heights within ROW_SAME_H percent) on one line within
 * ROW_GAP heights of each other, chained, with at least ROW_LETTERS the network is WORD_LETTER
 * sure are not digits and twice as many of those as readings: the readings are letters too (an O
 * or Q key of a keyboard read as 0, its H as 4; keys stand about a letter's height apart, too far
 * for LETTER_GAP). On build/real-empty-tune (robust, 2026-12-05) false digits per frame 0.67 ->
 * 0.59, build/real-tune precision 88.98 -> 89.14% for 0.08 points of digits read; other-tune and
 * world-tune unchanged. */
static const float ROW_GAP = 1.5f;
enum { ROW_SAME_H = 75, ROW_LETTERS = 4 };

/* A chain of candidates side by side: how many of them are read (and of those, how many as 0 or
 * 1 or read only for the digit beside them, "not a digit" likelier) and how many the network is
 * WORD_LETTER sure are not digits, and the surest of each. */
struct chain {
    int n_read, n_letter_like, n_junk;
    float sure_read, sure_junk;
};

/* Chains r's n candidates that stand within gap heights of each other (rec_beside with min_h_pct
 * and min_shared_pct): root[i] is candidate i's chain, c[root[i]] its tally. */
static void chains_of(const struct rec_result *r, int n, float gap, int min_h_pct,
                      int min_shared_pct, int *root, struct chain *c)
{
    for (int i = 0; i < n; i++)
        root[i] = i, c[i] = (struct chain){0};
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (rec_beside(&r->digits[i].box, &r->digits[j].box, gap, min_h_pct, min_shared_pct))
                rec_group_union(root, i, j);
    for (int i = 0; i < n; i++)
        root[i] = rec_group_find(root, i);
    for (int i = 0; i < n; i++) {
        const struct rec_digit *d = &r->digits[i];
        struct chain *t = &c[root[i]];
        if (d->digit >= 0) {
            t->n_read++;
            t->n_letter_like += d->digit == 0 || d->digit == 1 || d->junk > d->confidence;
            t->sure_read = fmaxf(t->sure_read, d->confidence);
        } else {
            t->n_junk += d->junk >= WORD_LETTER;
            t->sure_junk = fmaxf(t->sure_junk, d->junk);
        }
    }
}

/* in_word[i] for each of r's n candidates: whether it is a reading among a word's letters or in
 * a row of letters. */
static void words_of(const struct rec_result *r, int n, unsigned char *in_word)
{
    int root[REC_MAX_CANDIDATES];
    struct chain c[REC_MAX_CANDIDATES];
    chains_of(r, n, LETTER_GAP, 60, 50, root, c); /* as rec_side_by_side */
    for (int i = 0; i < n; i++) {
        const struct chain *w = &c[root[i]];
        const int tie = w->n_junk == w->n_read;
        const int letters_read = w->n_letter_like == w->n_read && w->sure_junk >= WORD_SURE &&
                                 w->sure_read < LETTER_DIGIT_SURE;
        in_word[i] =
            r->digits[i].digit >= 0 &&
            (w->n_junk > w->n_read || (tie && w->n_junk >= WORD_TIE) ||
             (tie && w->sure_junk >= WORD_SURE && w->sure_read < WORD_SURE) || letters_read);
    }
    chains_of(r, n, ROW_GAP, ROW_SAME_H, 60, root, c);
    for (int i = 0; i < n; i++) {
        const struct chain *row = &c[root[i]];
        in_word[i] |=
            r->digits[i].digit >= 0 && row->n_junk >= ROW_LETTERS && row->n_junk >= 2 * row->n_read;
    }
}

/* Whether a reading other than r's candidate i lies wholly inside its box: i is then a frame drawn
 * round a number (read as a 0), not a digit. On build/other-tune (robust): precision 90.98 ->
 * 91.69%, nothing else changed; fast 86.29 -> 87.89%, 79.19 -> 79.15% read; the other tuning sets
 * as before. */
static int holds_reading(const struct rec_result *r, int n, int i)
{
    const struct rec_box *a = &r->digits[i].box;
    for (int j = 0; j < n; j++) {
        const struct rec_box *b = &r->digits[j].box;
        if (j != i && r->digits[j].digit >= 0 && b->x >= a->x && b->y >= a->y &&
            b->x + b->w <= a->x + a->w && b->y + b->h <= a->y + a->h)
            return 1;
    }
    return 0;
}

/* Clutter: a digit is written on something even (paper, a board), a false reading on a desk or
 * a photograph stands in texture. Of the four strips beside a reading's box (above, below, left,
 * right; CLUTTER_SIDE heights wide), those whose grey levels spread (median absolute deviation)
 * by at most CLUTTER_EVEN of the reading's own contrast (its box's 95th less its 3rd percentile)
 * are even, and so is a strip mostly out of the frame (what is not in view is not held against a
 * digit at the frame's edge). A reading needs REC_CLUTTER_SIDES even strips, or one when it stands
 * beside a sure digit (rec_beside_sure_digit: a digit of a number written among other lines,
 * its neighbours' ink in every strip but one). Numbers keep paper above or below them, a digit at
 * the sheet's corner two sides. On build/real-tune (robust, 2026-12-05, after the rows rule)
 * precision 89.14 -> 91.53%, digits read as before (76.73%); false digits per digit-free frame of
 * build/real-empty-tune 0.59 -> 0.40; other-tune 92.50 -> 93.21%, world-tune 95.98 -> 96.12% and
 * its false digits per empty frame 0.085 -> 0.043, digits read as before on both; the flat
 * scenes-tune 97.63 -> 97.46% read (large blurred digits in numbers packed close). Fast:
 * real-tune 85.57 -> 87.93%, real-empty-tune 0.92 -> 0.56 (both rules). Two even strips for every
 * reading: 0.29 points of real-tune and 0.67 of scenes-tune lost; a threshold of 0.08: 92.05%
 * precision, 0.35 per empty frame, 0.81 points of scenes-tune lost; the spread of paper pixels
 * only (the ink mask's left out): half the gain; strips 0.7 or 1.5 heights wide: less rejected
 * for as much lost. Of the false readings of real-tune, 92 of 211 were off the sheet
 * (tools/othergen.py's truth has its corners); their strips' median spread was 0.24 of their
 * contrast, against 0.03 for the digits read right (90% under 0.07). */
static const float CLUTTER_SIDE = 1.0f, CLUTTER_EVEN = 0.1f;
enum { CLUTTER_SAMPLES = 1024 };

/* In stage 8 (the frame shrunk, digits a fifth of it and more) the strips beside a big digit hold
 * the desk, the photograph beside the sheet or the sheet's own edge: the rule turned down a 7 and
 * a 4 read at 1.00 on build/big-tune. There a reading at least WIDE_CLUTTER_SURE is not judged by
 * its surroundings (2026-12-07, robust, with the stage's other changes of that day: big-tune
 * 81.33 -> 82.10% read; every other tuning set as before). Without the rule there for any
 * reading big-tune read one digit more and the tuning sets as many, but a report set showed the
 * cost (build/other: a 1 read at 0.95 on a carpet); the words rule off as well read one more,
 * and let a face through as a 0 (build/held) and a wallpaper's pattern as a 2. */
static const float WIDE_CLUTTER_SURE = 0.99f;

/* The histogram of grey levels in [x0, x1) x [y0, y1) (clipped to grey), on a grid of about
 * CLUTTER_SAMPLES points; returns the number of points. */
static long box_hist(const struct vis_image *grey, int x0, int y0, int x1, int y1, int hist[256])
{
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > grey->w ? grey->w : x1, y1 = y1 > grey->h ? grey->h : y1;
    memset(hist, 0, 256 * sizeof hist[0]);
    if (x1 <= x0 || y1 <= y0)
        return 0;
    int step = 1;
    while ((long)((x1 - x0 + step - 1) / step) * ((y1 - y0 + step - 1) / step) > CLUTTER_SAMPLES)
        step++;
    long n = 0;
    for (int y = y0; y < y1; y += step)
        for (int x = x0; x < x1; x += step)
            hist[grey->px[(size_t)y * grey->w + x]]++, n++;
    return n;
}

/* The median absolute deviation of grey's levels in [x0, x1) x [y0, y1); -1 when under half of
 * it (or under 4 points) is in the image: out of view, it is not held against the reading. */
static int spread(const struct vis_image *grey, int x0, int y0, int x1, int y1)
{
    const int in_w = (x1 < grey->w ? x1 : grey->w) - (x0 > 0 ? x0 : 0);
    const int in_h = (y1 < grey->h ? y1 : grey->h) - (y0 > 0 ? y0 : 0);
    if (in_w <= 0 || in_h <= 0 || (long)in_w * in_h * 2 < (long)(x1 - x0) * (y1 - y0))
        return -1;
    int hist[256], dev[256] = {0};
    const long n = box_hist(grey, x0, y0, x1, y1, hist);
    if (n < 4)
        return -1;
    const int med = rec_hist_level(hist, n, 0.5f);
    for (int v = 0; v < 256; v++)
        dev[v > med ? v - med : med - v] += hist[v];
    return rec_hist_level(dev, n, 0.5f);
}

/* Whether the reading boxed b has fewer than `need` even strips beside it. */
int rec_in_clutter(const struct vis_image *grey, const struct rec_box *b, int need)
{
    int hist[256];
    const long n = box_hist(grey, b->x, b->y, b->x + b->w, b->y + b->h, hist);
    const int contrast = rec_hist_level(hist, n, 0.95f) - rec_hist_level(hist, n, 0.03f);
    const float even = CLUTTER_EVEN * (float)(contrast > 1 ? contrast : 1);
    const int m = (int)(CLUTTER_SIDE * (float)b->h) > 2 ? (int)(CLUTTER_SIDE * (float)b->h) : 2;
    const int x1 = b->x + b->w, y1 = b->y + b->h;
    const int sp[4] = {spread(grey, b->x, b->y - m, x1, b->y), spread(grey, b->x, y1, x1, y1 + m),
                       spread(grey, b->x - m, b->y, b->x, y1), spread(grey, x1, b->y, x1 + m, y1)};
    int n_even = 0;
    for (int k = 0; k < 4; k++)
        n_even += sp[k] < 0 || (float)sp[k] <= even;
    return n_even < need;
}

void rec_reject_by_context(const struct rec_scanner *sc, const struct vis_image *grey,
                           struct rec_result *r, int n)
{
    const int light = r->polarity == VIS_POLARITY_LIGHT_ON_DARK;
    unsigned char in_word[REC_MAX_CANDIDATES] = {0};
    if (sc->p.reject_words)
        words_of(r, n, in_word);
    /* one pass is enough: a 1 rejected here was read (likelier a digit than not), so it is never
     * sure enough it is not a digit to count as another 1's letter */
    for (int i = 0; i < n; i++) {
        struct rec_digit *d = &r->digits[i];
        if (d->digit < 0)
            continue;
        const enum rec_why why =
            is_edge(sc, grey, d, light)                                  ? REC_EDGE
            : in_word[i]                                                 ? REC_IN_WORD
            : sc->p.reject_frames && holds_reading(r, n, i)              ? REC_HOLDS_READING
            : d->digit == 1 && !sc->wide_pass && beside_letters(d, r, n) ? REC_BESIDE_LETTERS
            : d->confidence < BORDER_SURE && at_border(&d->box, grey)    ? REC_AT_BORDER
            : sc->p.reject_clutter && !(sc->wide_pass && d->confidence >= WIDE_CLUTTER_SURE) &&
                    rec_in_clutter(grey, &d->box,
                                   rec_beside_sure_digit(r->digits, n, i) ? 1 : REC_CLUTTER_SIDES)
                ? REC_IN_CLUTTER
                : REC_READ;
        if (why != REC_READ)
            d->digit = -1, d->why = why;
    }
}

/* Stage 5d. The context network (a second network in the model file, trained by `make context`
 * on the surroundings of candidates mined from generated views: 1 on a digit, 0 on nothing) sees
 * what the digit network cannot: the letters of a word beside an o or an l, a photograph's
 * texture, the room beyond a sheet's corner, a keyboard's keys, a screen's icons and labels (since
 * 2026-12-06 drawn screens are among its views: build/screen-tune's digit-free frames 4.84 -> 0.12
 * false digits; the coloured app icons of GNOME's dark wallpaper in the real-photo set, unlike
 * any drawn one, still pass at 0.9 and more). A reading it
 * gives a chance under p.context_min of being a digit is rejected, unless a reading beside it on
 * its line, at most CONTEXT_GAP heights away (as the lone 1s rule counts neighbours), has at least
 * CONTEXT_BESIDE: a digit of a number or a row is seen with its neighbours, which a stroke among
 * letters or texture does not have. Readings are checked in batches of REC_CONTEXT_BATCH. Chosen
 * on the tuning sets (robust, 2026-12-06; read / precision, false digits per digit-free frame):
 * context_min 0.1 alone: world-tune 87.00 -> 86.54%, real-tune 80.02 / 92.23 -> 79.49 / 96.35%,
 * real-empty-tune 0.347 -> 0.123; neighbours within half a height at 0.5 (0.2 and 0.9 as much):
 * 86.79%, 79.82 / 96.37%; context_min 0.2 with them: 86.77%, 79.86 / 96.74%, 0.107 (0.3: 86.50%,
 * 79.74 / 96.97%, 0.093). Within half a height, a page of lone digits spaced two heights apart
 * (test_twelve_megapixel_page) lost its 1s and scenes-tune 0.23 points of numbers; within 2.5
 * (kept): world-tune 86.89%, real-tune 79.90 / 96.00%, other-tune 85.09 / 95.97% (93.74% without
 * the network), scenes-tune as without the network (97.71%, numbers 95.11%). */
static const float CONTEXT_BESIDE = 0.5f, CONTEXT_GAP = 2.5f;

/* Reusing answers in a video (rec_params.reuse), as the digit network's are (recog.c): a patch
 * whose box is where one of the last frame's or this frame's was (position and size within an
 * eighth of its height) and whose levels differ from the patch that answer was computed for by at
 * most p.reuse on average takes that answer, when it was CTX_REUSE_SURE sure either way (a digit
 * or not). On the hand-held report videos (2026-12-06, fast) 80% of the flat one's 15 patches a
 * frame took a kept answer, 63% of the desk one's 24 and 71% of the real-photo one's 12; shown
 * numbers, false digits and locks as without (digits read on the desk video 67.66 -> 67.50%, the
 * tuning desk video's shown-number changes 7 -> 8 of 168, the others as they were). It pays for
 * the rescue's asking: median time per frame within the runs' noise of the commit before both. */
static const float CTX_REUSE_SURE = 0.98f;

/* The kept answer of list l that a patch of box b summing to sum may take (-1: none). */
static int find_kept(const struct rec_scanner *sc, int l, const uint8_t *patch, long sum,
                     struct rec_box b)
{
    const long tol = (long)(sc->p.reuse * 255.0f * 784.0f);
    for (int j = 0; j < sc->n_ctx_seen[l]; j++) {
        const struct rec_ctx_seen *e = &sc->ctx_seen[l][j];
        if (!rec_box_again(e->box, b) || labs(e->sum - sum) > tol)
            continue;
        const uint8_t *q = sc->ctx_seen_patch[l] + (size_t)j * 784;
        long d = 0;
        for (int v = 0; v < 784 && d <= tol; v++)
            d += abs((int)patch[v] - (int)q[v]);
        if (d <= tol)
            return j;
    }
    return -1;
}

/* Keeps patch (summing to sum) of box b, answered chance, for this frame and the next. */
static void keep_answer(struct rec_scanner *sc, const uint8_t *patch, long sum, struct rec_box b,
                        float chance)
{
    const int k = !sc->last;
    if (!(chance >= CTX_REUSE_SURE || chance <= 1.0f - CTX_REUSE_SURE) ||
        sc->n_ctx_seen[k] == REC_CTX_SEEN)
        return;
    sc->ctx_seen[k][sc->n_ctx_seen[k]] = (struct rec_ctx_seen){b, sum, chance};
    memcpy(sc->ctx_seen_patch[k] + (size_t)sc->n_ctx_seen[k]++ * 784, patch, 784);
}

/* The context network's answers for the m patches of ctx_patch, which are of readings who[0 ..
 * m) and sum to sum[0 .. m) (kept in a video), into chance[]. */
static void answer_patches(struct rec_scanner *sc, const struct rec_result *r, const int *who,
                           const long *sum, int m, float *chance)
{
    const int n_classes = sc->model->aux->n_classes;
    for (int k = 0; k < m; k++) {
        const uint8_t *patch = sc->ctx_patch + (size_t)k * 784;
        float *x = sc->ctx_x + (size_t)k * 784;
        for (int v = 0; v < 784; v++)
            x[v] = (float)patch[v] * (1.0f / 255.0f);
    }
    const float *p = nn_infer_run(sc->ctx_inf, sc->ctx_x, m);
    for (int k = 0; k < m; k++) {
        chance[who[k]] = p ? p[k * n_classes + 1] : 1.0f;
        if (p && sc->video)
            keep_answer(sc, sc->ctx_patch + (size_t)k * 784, sum[k], r->digits[who[k]].box,
                        chance[who[k]]);
    }
}

/* The context network's chance of "a digit" for each reading in ask[0 .. n_ask) into chance[]:
 * a kept answer where one fits (a video), the network's for the rest. */
static void context_chances(struct rec_scanner *sc, const struct vis_image *grey,
                            const struct rec_result *r, const int *ask, int n_ask, float *chance)
{
    int who[REC_CONTEXT_BATCH], m = 0;
    long sum[REC_CONTEXT_BATCH];
    for (int a = 0; a < n_ask; a++) {
        const struct rec_box *b = &r->digits[ask[a]].box;
        uint8_t *patch = sc->ctx_patch + (size_t)m * 784;
        vis_context_patch(grey, b->x, b->y, b->w, b->h, patch);
        sc->n_ctx_asked++;
        if (sc->video) {
            sum[m] = 0;
            for (int v = 0; v < 784; v++)
                sum[m] += patch[v];
            int l = sc->last, j = find_kept(sc, l, patch, sum[m], *b);
            if (j < 0)
                j = find_kept(sc, l = !sc->last, patch, sum[m], *b);
            if (j >= 0) {
                const struct rec_ctx_seen e = sc->ctx_seen[l][j];
                chance[ask[a]] = e.chance;
                if (l == sc->last) { /* carried on, tied to the patch it was computed for */
                    sc->n_ctx_reused++;
                    keep_answer(sc, sc->ctx_seen_patch[l] + (size_t)j * 784, e.sum, *b, e.chance);
                }
                continue;
            }
        }
        who[m++] = ask[a];
        if (m == REC_CONTEXT_BATCH) {
            answer_patches(sc, r, who, sum, m, chance);
            m = 0;
        }
    }
    if (m > 0)
        answer_patches(sc, r, who, sum, m, chance);
}

/* Readings the digit network turned down that the context network vouches for. A thin 1 in a
 * number looks like a line piece to the digit network ("not a digit" 0.5-0.95 on 71 of
 * build/world-tune's 181 missed 1s), which its surroundings settle. A candidate it rejected is read
 * after all when "not a digit" is under RESCUE_JUNK, its likeliest digit holds RESCUE_SHARE of the
 * digits' chance, a digit read 0.9 sure stands beside it on its line within one height
 * (rec_beside_sure_digit) and the context network gives it RESCUE_SURE. The context rules and the
 * check that follow judge it as any reading. Chosen on the tuning sets (robust, 2026-12-06; read /
 * precision / numbers exact): world-tune 86.89 / 96.62 / 73.99 -> 87.40 / 96.50 / 74.76%, real-tune
 * 79.90 / 96.00 / 69.63 -> 80.34 / 95.97 / 70.73%, other-tune 85.09 / 95.97 / 74.74 -> 85.70 /
 * 95.81 / 76.04%, scenes-tune numbers 95.11 -> 95.33%, real-empty-tune as before (0.110); fast
 * alike (world-tune numbers 66.06 -> 67.11%). Of world-tune's rescued readings 65% were right (a
 * number's missing digit: a wrong one costs that number nothing); a share of 0.5: 0.1 points more
 * read, 0.2 less precise; the context network at 0.97: 0.1 points less read; within half a height,
 * as within one. A rescued reading's confidence is its digit's share of the digits' chance times
 * the context network's chance of a digit (the digit network's own, often 0.1-0.3, is mostly
 * its "not a digit" overruled): the tuning figures within 0.05 points of keeping the digit
 * network's, the live videos' as before. */
static const float RESCUE_JUNK = 0.99f, RESCUE_SHARE = 0.7f, RESCUE_SURE = 0.9f;

void rec_rescue_by_context(struct rec_scanner *sc, const struct vis_image *grey,
                           struct rec_result *r, int n)
{
    if (!sc->ctx_inf || !(sc->p.context_min > 0.0f))
        return;
    int n_ask = 0;
    for (int i = 0; i < n; i++) {
        const struct rec_digit *d = &r->digits[i];
        if (d->digit < 0 && d->junk > 0.0f && d->junk < RESCUE_JUNK &&
            d->confidence >= RESCUE_SHARE * (1.0f - d->junk) &&
            rec_beside_sure_digit(r->digits, n, i))
            sc->ctx_ask[n_ask++] = i;
    }
    context_chances(sc, grey, r, sc->ctx_ask, n_ask, sc->ctx_p);
    for (int k = 0; k < n_ask; k++) {
        struct rec_digit *d = &r->digits[sc->ctx_ask[k]];
        if (sc->ctx_p[sc->ctx_ask[k]] >= RESCUE_SURE) {
            d->digit = d->top3[0];
            d->why = REC_READ;
            d->confidence *= sc->ctx_p[sc->ctx_ask[k]] / (1.0f - d->junk);
        }
    }
}

/* How far stage 5d has settled each reading. */
enum { CTX_OPEN, CTX_ASKED, CTX_SETTLED /* kept beside a sure one, unasked */, CTX_NONE };

/* Whether readings i and j stand beside each other on a line, near enough to vouch for each
 * other. */
static int near(const struct rec_result *r, int i, int j)
{
    return i != j && rec_side_by_side(&r->digits[i].box, &r->digits[j].box, CONTEXT_GAP);
}

/* The readings the network is asked about in round 0 (open ones no reading chosen before stands
 * beside), 1 (every one still open) or 2 (settled ones beside a reading it doubts) into ask;
 * returns how many. */
static int choose_round(const struct rec_scanner *sc, const struct rec_result *r, int n, int round,
                        int *ask)
{
    const float *chance = sc->ctx_p;
    const uint8_t *state = sc->ctx_state;
    int n_ask = 0;
    for (int i = 0; i < n; i++) {
        int want = 0;
        if (round == 0 && state[i] == CTX_OPEN) {
            want = 1;
            for (int k = 0; k < n_ask && want; k++)
                want = !near(r, i, ask[k]);
        } else if (round == 1) {
            want = state[i] == CTX_OPEN;
        } else if (round == 2 && state[i] == CTX_SETTLED) {
            for (int j = 0; j < n && !want; j++)
                want = state[j] == CTX_ASKED && chance[j] < sc->p.context_min && near(r, i, j);
        }
        if (want)
            ask[n_ask++] = i;
    }
    return n_ask;
}

/* Whether reading i has a neighbour the network is CONTEXT_BESIDE sure of. */
static int beside_sure(const struct rec_scanner *sc, const struct rec_result *r, int n, int i)
{
    for (int j = 0; j < n; j++)
        if (sc->ctx_p[j] >= CONTEXT_BESIDE && near(r, i, j))
            return 1;
    return 0;
}

/* A reading is kept when its chance is at least p.context_min or a neighbour's (rec_side_by_side
 * within CONTEXT_GAP) is at least CONTEXT_BESIDE, so a reading beside one the network is that sure
 * of needs no asking: the network is asked first about readings no asked reading stands beside,
 * then about those still unsettled, last about the unasked neighbours of those it doubts. The
 * outcome is what asking about every reading gives, for about a third of the asking on a page of
 * numbers (each of its digits settles its neighbours). */
void rec_check_context(struct rec_scanner *sc, const struct vis_image *grey, struct rec_result *r,
                       int n)
{
    if (!sc->ctx_inf || !(sc->p.context_min > 0.0f))
        return;
    float *chance = sc->ctx_p; /* of each reading: a digit's (-1: not asked) */
    uint8_t *state = sc->ctx_state;
    for (int i = 0; i < n; i++) {
        chance[i] = -1.0f;
        state[i] = r->digits[i].digit < 0 ? CTX_NONE : CTX_OPEN;
    }
    for (int round = 0; round < 3; round++) {
        const int n_ask = choose_round(sc, r, n, round, sc->ctx_ask);
        context_chances(sc, grey, r, sc->ctx_ask, n_ask, chance);
        for (int k = 0; k < n_ask; k++)
            state[sc->ctx_ask[k]] = CTX_ASKED;
        for (int j = 0; j < n; j++) /* a sure answer settles its open neighbours */
            if (state[j] == CTX_OPEN && beside_sure(sc, r, n, j))
                state[j] = CTX_SETTLED;
    }
    for (int i = 0; i < n; i++)
        if (state[i] == CTX_ASKED && chance[i] < sc->p.context_min && !beside_sure(sc, r, n, i))
            r->digits[i].digit = -1, r->digits[i].why = REC_CONTEXT;
}
