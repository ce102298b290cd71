/* numbers.c - from read digits to text lines and numbers, as people write them: a line is chained
 * from left to right, each digit joining the line whose last digit it sits beside (so a line may
 * tilt and drift up and down along the page), and a line falls into numbers at gaps wide against
 * the digits' own height, or where a mark that is not a digit (a +, an =, a word) stands between
 * two digits. Plain geometry: knows nothing of images or networks. */
#include "numbers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* How far up or down two neighbours may sit (once moved by the line's slope, line_rise): they
 * must share at least this share of the shorter's height. 0.45 until the slope was followed
 * (2026-12-05); then 0.35 read spacing tuning 70.08 -> 70.41% and build/world-tune 71.77 ->
 * 71.97% of numbers exactly (0.25 and 0.3 the same, 0.55 less), build/scenes-tune as before. */
static const float LINE_OVERLAP = 0.35f;
/* Neighbours in a line are at most this many times as tall as each other. */
static const float LINE_HEIGHT_RATIO = 2.2f;

struct by_x {
    int idx, x;
};

static int cmp_x(const void *pa, const void *pb)
{
    const struct by_x *a = pa, *b = pb;
    return a->x != b->x ? a->x - b->x : a->idx - b->idx;
}

static int overlap_y(const struct rec_box *a, const struct rec_box *b)
{
    const int y0 = a->y > b->y ? a->y : b->y;
    const int y1 = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
    return y1 - y0;
}

/* Whether b may follow a in a line: side by side, mostly at one height (b moved by dy, where the
 * line's slope puts it), of similar size. */
static int neighbours(const struct rec_box *a, const struct rec_box *b, int dy)
{
    const int lo = a->h < b->h ? a->h : b->h, hi = a->h > b->h ? a->h : b->h;
    const struct rec_box bs = {b->x, b->y - dy, b->w, b->h};
    return (float)overlap_y(a, &bs) >= LINE_OVERLAP * (float)lo &&
           (float)hi <= LINE_HEIGHT_RATIO * (float)lo && b->x + b->w > a->x + a->w / 2;
}

/* How far down from e a line's next digit b should sit: the slope from the middle of the line's
 * digit p before e to e's (prior without p; at most LINE_SLOPE either way) times b's distance
 * along.
 * A tilted line written wide drifts half a height from one digit to the next, too far for the
 * overlap test alone. On `make world-spacing`'s tuning frames (robust, 2026-12-05) numbers read
 * exactly 65.98 -> 67.70%, build/world-tune 70.38 -> 71.21%, build/scenes-tune as before; a
 * limit of 0.3 or 1.0: 67.70 and 67.62%. */
static const float LINE_SLOPE = 0.6f;

static int line_rise(const struct rec_box *p, const struct rec_box *e, const struct rec_box *b,
                     float prior)
{
    const float ex = e->x + 0.5f * e->w, bx = b->x + 0.5f * b->w;
    float slope = prior;
    if (p) {
        const float px = p->x + 0.5f * p->w;
        if (ex - px < 1.0f)
            return 0;
        slope = ((e->y + 0.5f * e->h) - (p->y + 0.5f * p->h)) / (ex - px);
    }
    slope = fmaxf(-LINE_SLOPE, fminf(LINE_SLOPE, slope));
    return (int)lroundf(slope * (bx - ex));
}

static int cmp_float(const void *pa, const void *pb)
{
    const float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

/* The lines of the boxes in xs (by x), a line's first pair looked for along slope prior: line[i]
 * each box's, first[l] and last[l] each line's ends. Returns how many lines. */
static int chain_lines(const struct rec_box *box, const struct by_x *xs, int n, float prior,
                       int *line, int *first, int *last)
{
    int before[REC_MAX_CANDIDATES]; /* each line's digit before its last, or -1 */
    int n_lines = 0;
    for (int k = 0; k < n; k++) {
        const int i = xs[k].idx;
        const struct rec_box *b = &box[i];
        int best = -1;
        float best_cost = 0.0f;
        for (int l = 0; l < n_lines; l++) {
            const struct rec_box *e = &box[last[l]];
            const int rise = line_rise(before[l] >= 0 ? &box[before[l]] : NULL, e, b, prior);
            if (!neighbours(e, b, rise))
                continue;
            /* the nearest line end wins; a better height match breaks near ties */
            const float gap = (float)(b->x - (e->x + e->w));
            const float dy = fabsf((float)(b->y + b->h / 2 - rise) - (float)(e->y + e->h / 2));
            const float cost = fmaxf(gap, 0.0f) + 2.0f * dy;
            if (best < 0 || cost < best_cost) {
                best = l;
                best_cost = cost;
            }
        }
        if (best < 0) {
            best = n_lines++;
            first[best] = i;
            before[best] = -1;
        } else {
            before[best] = last[best];
        }
        last[best] = i;
        line[i] = best;
    }
    return n_lines;
}

/* The median slope of the lines of at least three boxes (first to last), 0 without any. */
static float median_slope(const struct rec_box *box, const int *line, const int *first,
                          const int *last, int n, int n_lines)
{
    int count[REC_MAX_CANDIDATES] = {0};
    float slopes[REC_MAX_CANDIDATES];
    int n_s = 0;
    for (int i = 0; i < n; i++)
        count[line[i]]++;
    for (int l = 0; l < n_lines; l++) {
        const struct rec_box *a = &box[first[l]], *b = &box[last[l]];
        const float dx = (b->x + 0.5f * b->w) - (a->x + 0.5f * a->w);
        if (count[l] >= 3 && dx >= 1.0f)
            slopes[n_s++] = ((b->y + 0.5f * b->h) - (a->y + 0.5f * a->h)) / dx;
    }
    if (!n_s)
        return 0.0f;
    qsort(slopes, (size_t)n_s, sizeof *slopes, cmp_float);
    return slopes[n_s / 2];
}

int rec_lines(const struct rec_box *box, int n, int *line, int *order)
{
    struct by_x xs[REC_MAX_CANDIDATES];
    int last[REC_MAX_CANDIDATES], first[REC_MAX_CANDIDATES], by_top[REC_MAX_CANDIDATES];
    n = n < REC_MAX_CANDIDATES ? n : REC_MAX_CANDIDATES;
    for (int i = 0; i < n; i++)
        xs[i] = (struct by_x){i, box[i].x};
    qsort(xs, (size_t)n, sizeof *xs, cmp_x);
    int n_lines = chain_lines(box, xs, n, 0.0f, line, first, last);
    /* then again with the lines' median slope for each line's first pair: the rows of one sheet
     * run nearly parallel. Spacing tuning frames 67.70 -> 68.44% of numbers read exactly,
     * build/world-tune 71.21 -> 71.49%, build/scenes-tune as before (2026-12-05) */
    const float prior = median_slope(box, line, first, last, n, n_lines);
    if (prior != 0.0f)
        n_lines = chain_lines(box, xs, n, prior, line, first, last);
    /* lines top to bottom by the middle of their first digit; each from left to right */
    for (int l = 0; l < n_lines; l++)
        by_top[l] = l;
    for (int a = 1; a < n_lines; a++) /* insertion sort: few lines */
        for (int b = a; b > 0; b--) {
            const struct rec_box *p = &box[first[by_top[b - 1]]], *q = &box[first[by_top[b]]];
            if (2 * q->y + q->h >= 2 * p->y + p->h)
                break;
            const int t = by_top[b];
            by_top[b] = by_top[b - 1];
            by_top[b - 1] = t;
        }
    int *rank = last; /* no longer needed: each line's place from the top */
    for (int r = 0; r < n_lines; r++)
        rank[by_top[r]] = r;
    for (int i = 0; i < n; i++)
        line[i] = rank[line[i]];
    int t = 0;
    for (int r = 0; r < n_lines; r++)
        for (int k = 0; k < n; k++)
            if (line[xs[k].idx] == r)
                order[t++] = xs[k].idx;
    return n_lines;
}

/* Whether a mark that is not a digit stands between digits a and b of one line. */
static int mark_between(const struct rec_box *a, const struct rec_box *b,
                        const struct rec_box *marks, int n_marks)
{
    const int gx0 = a->x + a->w, gx1 = b->x;
    for (int i = 0; i < n_marks; i++) {
        const struct rec_box *m = &marks[i];
        const int cx = m->x + m->w / 2;
        if (cx > gx0 && cx < gx1 && m->x >= a->x + a->w / 2 && m->x + m->w <= b->x + b->w / 2 &&
            (overlap_y(m, a) > 0 || overlap_y(m, b) > 0))
            return 1;
    }
    return 0;
}

/* Gaps are measured between digits' cells, not their ink: a digit narrower than REC_CELL of its
 * height (a 1, a narrow 7) counts as that wide, centred on its ink, since writers space digits by
 * their pitch and leave a narrow digit room on both sides (3719 was read as 3 7 19). On 200 pages
 * of one MNIST number each, 150 -> 173 read exactly; build/world-tune and build/scenes-tune
 * unchanged (0.5: 164; 0.7: 175 but flat scenes' numbers 94.44 -> 94.38%). The widening on each
 * side of box b: */
static const float REC_CELL = 0.6f;

static float widening(const struct rec_box *b)
{
    return 0.5f * fmaxf(0.0f, REC_CELL * (float)b->h - (float)b->w);
}

/* A gap wider than number_gap heights still joins when the writer spaces this line's digits that
 * wide: when it is at most SPACING_MAX heights and at most SPACING_RATIO times the wider of the
 * gaps beside it that are themselves at most SPACING_MAX (the other gaps of a number written
 * wide). Numbers stand apart by their spacing, not by a fixed width: a wide writer's 3 7 1 9 is
 * one number, a tight writer's 12 and 34 0.7 heights apart are two. A gap with no other gap of a
 * number beside it (a lone pair) has no spacing to go by: it joins up to LONE_GAP heights
 * (spacing tuning frames 68.44 -> 70.08% of numbers exact, build/world-tune 71.49 -> 71.84%;
 * 0.9: 70.74 and 71.42%; 1.2: 69.75 and 70.17%, and flat scenes-tune two fewer). Touching digits
 * beside it (a gap of 0 or less) are a tight writer's: then it splits (build/world-tune 71.84 ->
 * 71.77%, one number; treated as no neighbour, a tight writer's touching 12 and 34 0.65 heights
 * apart were one number). Chosen on `make
 * world-spacing`'s tuning frames (writers from tight to wide, numbers told apart by their spacing
 * alone; robust, 2026-12-05): numbers read exactly 54.26 -> 65.98%; build/world-tune 69.47
 * -> 70.38%, build/scenes-tune 94.72% as before. A ratio of 1.6, 2 or 3: 64.43, 65.66 and 65.74%; a
 * limit of 1.0 or 2.0 heights a little worse. */
static const float SPACING_RATIO = 2.5f, SPACING_MAX = 1.2f, LONE_GAP = 0.7f;

/* gap[a]: between digits a - 1 and a in heights (cells: see widening), INFINITY where a starts a
 * line or a mark stands between. */
static void line_gaps(const struct rec_digit *digits, int n, const int *line,
                      const struct rec_box *marks, int n_marks, float *gap)
{
    for (int a = 0; a < n; a++) {
        gap[a] = INFINITY;
        if (a == 0 || line[a] != line[a - 1])
            continue;
        const struct rec_digit *d = &digits[a], *prev = &digits[a - 1];
        const int hh = d->box.h > prev->box.h ? d->box.h : prev->box.h;
        if (hh > 0 && !mark_between(&prev->box, &d->box, marks, n_marks))
            gap[a] = ((float)(d->box.x - (prev->box.x + prev->box.w)) - widening(&d->box) -
                      widening(&prev->box)) /
                     (float)hh;
    }
}

/* Whether digit a joins the one before it in a number, by gap[] (line_gaps). */
static int joins(const float *gap, int n, int a, float number_gap)
{
    if (gap[a] <= number_gap)
        return 1;
    if (gap[a] > SPACING_MAX)
        return 0;
    /* the wider of the gaps beside it that may be a number's (touching digits: 0) */
    float ref = -INFINITY;
    if (a > 0 && gap[a - 1] <= SPACING_MAX)
        ref = gap[a - 1];
    if (a + 1 < n && gap[a + 1] <= SPACING_MAX && gap[a + 1] > ref)
        ref = gap[a + 1];
    return ref > -INFINITY ? gap[a] <= SPACING_RATIO * fmaxf(ref, 0.0f) : gap[a] <= LONE_GAP;
}

int rec_numbers(const struct rec_digit *digits, int n, const int *line, const struct rec_box *marks,
                int n_marks, float number_gap, struct rec_number *numbers)
{
    float gap[REC_MAX_CANDIDATES];
    line_gaps(digits, n, line, marks, n_marks, gap);
    int n_numbers = 0;
    for (int a = 0; a < n; a++) {
        const struct rec_digit *d = &digits[a];
        struct rec_number *num = n_numbers ? &numbers[n_numbers - 1] : NULL;
        if (!num || !joins(gap, n, a, number_gap)) {
            num = &numbers[n_numbers++];
            memset(num, 0, sizeof *num);
            num->first = a;
            num->confidence = 1.0f;
            num->box = d->box;
        }
        num->text[num->count++] = (char)('0' + d->digit);
        num->confidence *= d->confidence;
        const int x1 = num->box.x + num->box.w > d->box.x + d->box.w ? num->box.x + num->box.w
                                                                     : d->box.x + d->box.w;
        const int y1 = num->box.y + num->box.h > d->box.y + d->box.h ? num->box.y + num->box.h
                                                                     : d->box.y + d->box.h;
        num->box.x = num->box.x < d->box.x ? num->box.x : d->box.x;
        num->box.y = num->box.y < d->box.y ? num->box.y : d->box.y;
        num->box.w = x1 - num->box.x;
        num->box.h = y1 - num->box.y;
    }
    return n_numbers;
}

/* Chosen on build/world-tune with the shipped fast model (read 67.5 -> 69.0%, numbers exact
 * 44.1 -> 45.8%, precision 88.8 -> 88.4%; flat scenes-tune numbers 93.2 -> 94.4%): 0.8 for
 * CTX_SURE read 0.4 more at 0.15 precision, an anchor of 0.7 cost 0.3 precision and empty frames'
 * false digits, a gap of 1.5 heights gained 0.1. */
static const float REC_CTX_SURE = 0.9f, REC_CTX_JUNK = 0.9f, REC_CTX_ANCHOR = 0.9f,
                   REC_CTX_GAP = 1.0f;

int rec_beside(const struct rec_box *a, const struct rec_box *b, float gap, int min_h_pct,
               int min_shared_pct)
{
    const int hmax = a->h > b->h ? a->h : b->h, hmin = a->h < b->h ? a->h : b->h;
    const int ov =
        (a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h) - (a->y > b->y ? a->y : b->y);
    const int dx = a->x > b->x + b->w   ? a->x - (b->x + b->w)
                   : b->x > a->x + a->w ? b->x - (a->x + a->w)
                                        : 0;
    return hmin * 100 >= hmax * min_h_pct && ov * 100 >= hmin * min_shared_pct &&
           (float)dx <= gap * hmax;
}

int rec_side_by_side(const struct rec_box *a, const struct rec_box *b, float gap)
{
    return rec_beside(a, b, gap, 60, 50);
}

/* Whether a digit read with REC_CTX_ANCHOR confidence stands beside digits[self]. */
int rec_beside_sure_digit(const struct rec_digit *digits, int n, int self)
{
    for (int j = 0; j < n; j++)
        if (j != self && digits[j].digit >= 0 && digits[j].confidence >= REC_CTX_ANCHOR &&
            rec_side_by_side(&digits[self].box, &digits[j].box, REC_CTX_GAP))
            return 1;
    return 0;
}

int rec_accept_beside_digits(struct rec_digit *digits, int n)
{
    /* decided for all first, so a candidate read again does not anchor another */
    unsigned char again[REC_MAX_CANDIDATES];
    int n_again = 0;
    for (int i = 0; i < n; i++) {
        const struct rec_digit *d = &digits[i];
        again[i] = d->digit < 0 && d->junk > 0.0f && d->junk < REC_CTX_JUNK &&
                   d->confidence >= REC_CTX_SURE * (1.0f - d->junk) &&
                   rec_beside_sure_digit(digits, n, i);
    }
    for (int i = 0; i < n; i++)
        if (again[i]) {
            digits[i].digit = digits[i].top3[0];
            digits[i].why = REC_READ;
            n_again++;
        }
    return n_again;
}

/* Lone 1s: on build/world-tune with the shipped fast model half the 1s read were not digits (446
 * of 896: brackets, slashes, grass, grid lines, the l of a word, sheet edges; their slant and
 * curvature overlap real 1s'), and 77% of those stood beside no sure digit, 18% of the true 1s.
 * Rejecting them: precision 88.4 -> 91.4%, false digits per empty frame 1.41 -> 0.63, digits read
 * 69.0 -> 68.4%, numbers exact 45.8 -> 45.0%; flat scenes-tune: numbers 94.4 -> 94.2%. A gap of
 * one height cost the flat scenes 2.3 points of numbers (1s stand apart in wide numbers), 4 heights
 * gained nothing over 2.5; an anchor of 0.5 read 0.2 more at 0.2 precision. Keeping the lone 1s
 * read at 0.9 or more with "not a digit" at 0.1 or less (rec_params.lone_one_sure, 2026-12-05,
 * robust): build/other-tune 82.34 -> 82.85% read, numbers 71.35 -> 72.66%, precision 92.36 ->
 * 92.41%; world-tune 84.65 -> 84.82%, numbers 71.63 -> 72.04%, precision 96.09 -> 95.98%;
 * spacing-tune numbers 70.74 -> 71.56%; scenes-tune 97.57 -> 97.63%. With fast in live it
 * raised the third hand-held video's false digits 0.43 -> 0.62 a frame: live keeps rejecting
 * them. 0.97 and 0.03: half the gain. */
static const float REC_ONE_ANCHOR = 0.9f, REC_ONE_GAP = 2.5f;

int rec_reject_lone_ones(struct rec_digit *digits, int n, float keep_sure)
{
    /* 1 = anchored: a sure digit other than 1, or a 1 beside an anchored digit (a row of 1s) */
    unsigned char anchored[REC_MAX_CANDIDATES];
    for (int i = 0; i < n; i++)
        anchored[i] =
            digits[i].digit >= 0 && digits[i].digit != 1 && digits[i].confidence >= REC_ONE_ANCHOR;
    for (int grew = 1; grew;) {
        grew = 0;
        for (int i = 0; i < n; i++) {
            if (anchored[i] || digits[i].digit != 1)
                continue;
            for (int j = 0; j < n && !anchored[i]; j++)
                if (anchored[j] && rec_side_by_side(&digits[i].box, &digits[j].box, REC_ONE_GAP))
                    anchored[i] = 1, grew = 1;
        }
    }
    int n_rejected = 0;
    for (int i = 0; i < n; i++)
        if (digits[i].digit == 1 && !anchored[i] &&
            !(digits[i].confidence >= keep_sure && digits[i].junk <= 1.0f - keep_sure)) {
            digits[i].digit = -1;
            digits[i].why = REC_LONE_ONE;
            n_rejected++;
        }
    return n_rejected;
}
