/* recog.c - from a grey image to digits and numbers. rec_scan runs its stages, each a function
 * of its own that leaves its results in the scanner (scanner.h): find_ink (threshold and line
 * removal, vision), find_candidates (components, specks and lines dropped, fragments of one digit
 * joined), read_wholes (each candidate's own ink in grey levels MNIST-normalised, one batched
 * forward pass, confidence and top-3), read_cuts and read_deeper (blobs the network is unsure of
 * cut in two or read from their darker ink), choose_readings (whole or cut), the cuts beside
 * digits and of numbers run together (stages 5a-5e), rec_reject_by_context (context.c: edges of
 * objects, letters of words and keyboards, readings in texture) between the context network's
 * rescue and check (stage 5d, context.c), group_numbers (lines and numbers,
 * numbers.c), for a frame with candidates turned down read_again (stage 7: the ink found again at
 * other thresholds), and read_wide (stage 8: the frame shrunk and its ink found again with strokes
 * as wide as a marker's on a digit that fills it). */
#include "recog.h"

#include "numbers.h"
#include "scanner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rec_default_params(struct rec_params *p)
{
    vis_threshold_default_params(&p->threshold);
    p->min_height_frac = 0.02f;
    p->max_height_frac = 0.8f;
    p->min_area = 20;
    p->max_aspect = 3.5f;
    p->split_aspect = 1.1f;
    p->deep_share = 0.5f;
    p->grey_ink = 1;
    p->sharpen = 0.6f;
    p->min_fill = 0.08f;
    p->min_confidence = 0.5f;
    p->number_gap = 0.5f;
    p->line_frac = 0.25f;
    p->line_thickness = 4;
    p->box_side = 8;
    p->keep_lone_ones = 0;
    p->lone_one_sure = 0.9f;
    p->cut_again = 1;
    p->cut_threes = 1;
    p->cut_runs = 1;
    p->reject_words = 1;
    p->reject_frames = 1;
    p->reject_clutter = 1;
    p->reject_corners = 1;
    p->again_shares[0] = 0.5f;
    p->again_shares[1] = 0.15f;
    p->again_sure = 0.99f;
    p->again_known = 0.0f;
    p->wide_stroke = 0.2f;
    p->wide_sure = 0.9f;
    p->context_min = 0.2f;
    p->denoise = 0.035f;
    p->deblur = 0.42f;
    p->reuse = 0.0f;
}

const char *rec_why_name(enum rec_why w)
{
    static const char *const names[REC_WHY_COUNT] = {
        "read",           "unsure",        "edge",    "in a word", "holds a reading",
        "beside letters", "at the border", "clutter", "context",   "lone 1",
    };
    return w >= 0 && w < REC_WHY_COUNT ? names[w] : "?";
}

void rec_params_look_once(struct rec_params *p)
{
    for (int k = 0; k < REC_AGAIN_PASSES; k++)
        p->again_shares[k] = 0.0f;
}

/* Whether p has stage 7 look at the ink again. */
static int looks_again(const struct rec_params *p)
{
    for (int k = 0; k < REC_AGAIN_PASSES; k++)
        if (p->again_shares[k] > 0.0f)
            return 1;
    return 0;
}

void rec_live_params(struct rec_params *p)
{
    rec_default_params(p);
    p->again_sure = 0.999f;
    p->again_known = 0.99f;
    p->wide_sure = 0.99f;
    p->deblur = 0.0f;
    p->reuse = 0.04f;
}

int rec_is_digit_model(const struct nn_model *model)
{
    return model->in_c == 1 && model->in_h == 28 && model->in_w == 28 && model->n_classes >= 10 &&
           model->n_classes <= REC_CLASSES_WITH_TWO;
}

int rec_has_context_model(const struct nn_model *model)
{
    const struct nn_model *a = model->aux;
    return a && a->in_c == 1 && a->in_h == 28 && a->in_w == 28 && a->n_classes == 2;
}

int rec_scanner_new(const struct nn_model *model, const struct rec_params *p,
                    struct rec_scanner **out)
{
    if (!rec_is_digit_model(model))
        return dg_fail(DG_EARG, "the model is not a 28x28 digit model");
    struct rec_scanner *sc = calloc(1, sizeof *sc);
    if (!sc)
        return dg_fail(DG_ENOMEM, "out of memory");
    sc->model = model;
    sc->p = *p;
    sc->light_mean = sc->noise_mean = sc->blur_mean = -1.0f;
    sc->x = malloc((size_t)REC_MAX_CANDIDATES * 784 * sizeof *sc->x);
    int rc = sc->x ? nn_infer_new(model, REC_BATCH, &sc->inf) : DG_ENOMEM;
    if (rc == DG_OK)
        rc = vis_work_new(&sc->vwk);
    if (rc == DG_OK && rec_has_context_model(model)) {
        sc->ctx_x = malloc((size_t)REC_CONTEXT_BATCH * 784 * sizeof *sc->ctx_x);
        sc->ctx_p = malloc(REC_MAX_CANDIDATES * sizeof *sc->ctx_p);
        sc->ctx_state = malloc(REC_MAX_CANDIDATES * sizeof *sc->ctx_state);
        sc->ctx_ask = malloc(REC_MAX_CANDIDATES * sizeof *sc->ctx_ask);
        sc->ctx_patch = malloc((size_t)REC_CONTEXT_BATCH * 784);
        rc = sc->ctx_x && sc->ctx_p && sc->ctx_state && sc->ctx_ask && sc->ctx_patch
                 ? nn_infer_new(model->aux, REC_CONTEXT_BATCH, &sc->ctx_inf)
                 : DG_ENOMEM;
    }
    if (rc != DG_OK) {
        rec_scanner_free(sc);
        return rc == DG_ENOMEM ? dg_fail(DG_ENOMEM, "out of memory") : rc;
    }
    *out = sc;
    return DG_OK;
}

void rec_scanner_free(struct rec_scanner *sc)
{
    if (!sc)
        return;
    nn_infer_free(sc->inf);
    nn_infer_free(sc->ctx_inf);
    free(sc->ctx_x);
    free(sc->ctx_p);
    free(sc->ctx_state);
    free(sc->ctx_ask);
    free(sc->ctx_patch);
    for (int k = 0; k < 2; k++) {
        free(sc->ctx_seen[k]);
        free(sc->ctx_seen_patch[k]);
    }
    vis_work_free(sc->vwk);
    free(sc->x);
    vis_image_destroy(&sc->mask);
    vis_image_destroy(&sc->other_mask);
    free(sc->other);
    free(sc->wide);
    vis_image_destroy(&sc->wide_grey);
    vis_image_destroy(&sc->enlarged);
    vis_image_destroy(&sc->frame);
    free(sc->smooth_col);
    vis_image_destroy(&sc->wide_mask);
    vis_image_destroy(&sc->wide_other_mask);
    vis_image_destroy(&sc->wide_sharp);
    free(sc->wide_sum);
    free(sc->crop);
    free(sc->label);
    free(sc->piece);
    free(sc->soft);
    vis_image_destroy(&sc->sharp);
    free(sc->sharp_tmp);
    for (int k = 0; k < 2; k++) {
        free(sc->seen[k]);
        free(sc->seen_x[k]);
    }
    free(sc->fresh_x);
    free(sc->per_comp);
    free(sc->run_order);
    free(sc->gbox);
    free(sc);
}

const struct vis_image *rec_scanner_mask(const struct rec_scanner *sc)
{
    return &sc->mask;
}

/* b grows to hold c too (box and area). */
static void box_union(struct vis_component *b, const struct vis_component *c)
{
    b->x0 = c->x0 < b->x0 ? c->x0 : b->x0;
    b->y0 = c->y0 < b->y0 ? c->y0 : b->y0;
    b->x1 = c->x1 > b->x1 ? c->x1 : b->x1;
    b->y1 = c->y1 > b->y1 ? c->y1 : b->y1;
    b->area += c->area;
}

/* Whether box s lies wholly inside box t, which is over twice as tall. */
static int inside_much_taller(const struct vis_component *s, const struct vis_component *t)
{
    return s->x0 >= t->x0 && s->x1 <= t->x1 && s->y0 >= t->y0 && s->y1 <= t->y1 &&
           (t->y1 - t->y0 + 1) > 2 * (s->y1 - s->y0 + 1);
}

/* A rule under or over a number (an underline, a piece of a ruled line) is flat (three times as
 * wide as tall, which a sloping underline's box may be taller than the digits), and at least
 * RULE_WIDE times as wide as the other is tall; it had joined a number's digits to those of the
 * line below (build/other-tune, robust: 79.67 -> 80.14% read, numbers 69.60 -> 70.43%;
 * build/world-tune 84.71 -> 84.67%, scenes-tune as before; 1.5 the same, 3 less). Not only a rule
 * shorter than the other: other-tune 81.69 -> 82.34% read, numbers 70.05 -> 71.35%, world-tune
 * 84.57 -> 84.65%, spacing-tune numbers 70.41 -> 70.74%. In stage 8 (the frame shrunk to 120 px,
 * a digit there 25 to 110 px tall) a flat piece WIDE_RULE_WIDE times the digit's height is the
 * sheet's edge, a bar of a drawn frame or the desk beyond them, closed into one band: at 2.0 it
 * joined a big 4 on build/big-tune (2026-12-07, robust, after the stage's other changes of that
 * day: 82.10 -> 82.61% read, 1.0 as much; every other tuning set as before,
 * where at every scale held-tune read one digit less and form-tune one more). */
static const float RULE_WIDE = 2.0f, WIDE_RULE_WIDE = 1.2f;

/* Two boxes belong to one digit when they overlap horizontally by at least half the narrower
 * width and the vertical gap between them is small against the taller: the detached top bar of
 * a 5, the pieces of a broken 4 or 7. Not when one lies wholly inside the other's box and that
 * is over twice as tall (a sheet's outline, a drawn frame). Nor when the shorter is a whole digit
 * of its own above or below a much taller one (a row of small digits just over a row of big ones):
 * at least min_h tall, not flat like a bar, under JOIN_SCALE of the taller's height, its centre
 * outside the taller's rows. Nor when one is a rule under or over a number (below): flat and at
 * least rule_wide (RULE_WIDE, or WIDE_RULE_WIDE in stage 8) times as wide as the other is tall. */
static int same_digit(const struct vis_component *a, const struct vis_component *b, int min_h,
                      float rule_wide)
{
    const float JOIN_SCALE = 0.45f;
    const int ov = (a->x1 < b->x1 ? a->x1 : b->x1) - (a->x0 > b->x0 ? a->x0 : b->x0) + 1;
    const int wa = a->x1 - a->x0 + 1, wb = b->x1 - b->x0 + 1;
    const int ha = a->y1 - a->y0 + 1, hb = b->y1 - b->y0 + 1;
    const int gap = (a->y0 > b->y1 ? a->y0 - b->y1 : b->y0 > a->y1 ? b->y0 - a->y1 : 0);
    if (!(ov * 2 >= (wa < wb ? wa : wb) && gap * 4 <= (ha > hb ? ha : hb)))
        return 0;
    if ((wa >= 3 * ha && (float)wa >= rule_wide * (float)hb) ||
        (wb >= 3 * hb && (float)wb >= rule_wide * (float)ha))
        return 0;
    const struct vis_component *s = ha < hb ? a : b, *t = ha < hb ? b : a;
    /* wholly inside a box more than twice its height: a digit inside a drawn frame or within a
     * sheet's outline, not a piece of it */
    if (inside_much_taller(s, t))
        return 0;
    const int hs = s->y1 - s->y0 + 1, ws = s->x1 - s->x0 + 1, ht = t->y1 - t->y0 + 1;
    const float cy = 0.5f * (float)(s->y0 + s->y1);
    const int whole = hs >= min_h && hs * 10 >= ws * 7 && (float)hs < JOIN_SCALE * (float)ht &&
                      (cy < (float)t->y0 || cy > (float)t->y1);
    return !whole;
}

/* group[0 .. n) becomes each component's group (union-find roots): the ones that keep, joined
 * when same_digit says they are pieces of one digit, unless one group's box lies wholly inside the
 * other's, over twice as tall, as same_digit refuses for two components. A digit that sticks out
 * of a long diagonal line's box (a shadow's edge across the sheet) joins it, and the group's box
 * grew to take in the next digits too (a clear 2 lost inside a 340 x 180 box); now those stay
 * apart. The first still joins: this depends on the order. On build/world-tune 9 more digits read,
 * on the report world 8, on the flat tuning scenes 2. gb[root] gets each group's union box and
 * summed area (n entries; the others' are left as scratch). */
static void join_same_digit(const struct vis_component *c, int n, const int *keep, int min_h,
                            float rule_wide, int *group, struct vis_component *gb)
{
    for (int i = 0; i < n; i++)
        group[i] = i, gb[i] = c[i];
    for (int i = 0; i < n; i++)
        for (int j = i + 1; keep[i] && j < n; j++)
            if (keep[j] && same_digit(&c[i], &c[j], min_h, rule_wide)) {
                const int a = rec_group_find(group, i), b = rec_group_find(group, j);
                if (a == b || inside_much_taller(&gb[a], &gb[b]) ||
                    inside_much_taller(&gb[b], &gb[a]))
                    continue;
                rec_group_union(group, a, b);
                const int r = rec_group_find(group, a);
                struct vis_component u = gb[a];
                box_union(&u, &gb[b]);
                gb[r] = u;
            }
}

/* The ink box of columns [c0, c1) of a w x h crop whose top-left is (x, y) in the image. */
static struct rec_box part_box(const uint8_t *crop, int w, int h, int c0, int c1, int x, int y)
{
    int x0 = c1, x1 = c0 - 1, y0 = h, y1 = -1;
    for (int yy = 0; yy < h; yy++)
        for (int xx = c0; xx < c1; xx++)
            if (crop[(size_t)yy * w + xx]) {
                x0 = xx < x0 ? xx : x0, x1 = xx > x1 ? xx : x1;
                y0 = yy < y0 ? yy : y0, y1 = yy > y1 ? yy : y1;
            }
    if (x1 < x0)
        return (struct rec_box){x + c0, y, c1 - c0, h};
    return (struct rec_box){x + x0, y + y0, x1 - x0 + 1, y1 - y0 + 1};
}

/* The at most n columns of [lo, hi) with the least ink (column sums col[]), at least gap apart,
 * fewest first, into out; returns how many. */
static int least_ink(const int *col, int lo, int hi, int gap, int *out, int n)
{
    int k = 0;
    for (; k < n; k++) {
        int best = -1;
        for (int x = lo; x < hi; x++) {
            int near = 0;
            for (int j = 0; j < k; j++)
                near |= abs(x - out[j]) < gap;
            if (!near && (best < 0 || col[x] < col[best]))
                best = x;
        }
        if (best < 0)
            break;
        out[k] = best;
    }
    return k;
}

/* Up to n_max cut columns for a blob too wide for one digit: the columns with the least ink in
 * its middle half, at least w/12 apart, fewest first. Returns how many. */
static int find_cuts(const uint8_t *crop, int w, int h, int *cuts, int n_max)
{
    int ink[4096];
    if (w > 4096)
        return 0;
    for (int x = 0; x < w; x++) {
        ink[x] = 0;
        for (int y = 0; y < h; y++)
            ink[x] += crop[(size_t)y * w + x] >= 128;
    }
    const int hi = w - w / 4 + 1 < w ? w - w / 4 + 1 : w;
    const int n = least_ink(ink, w / 4, hi, w / 12 + 1, cuts, n_max);
    int kept = 0; /* a cut at column 0 (a blob under 4 px wide) is no cut */
    while (kept < n && cuts[kept] > 0)
        kept++;
    return kept;
}

/* sc->crop becomes candidate k's own ink (255) on paper (0), its box's size; other candidates'
 * ink inside the box is left out. */
static int crop_candidate(struct rec_scanner *sc, int k)
{
    const struct vis_component *b = &sc->box[k];
    const int w = b->x1 - b->x0 + 1, h = b->y1 - b->y0 + 1;
    int rc = dg_grow((void **)&sc->crop, &sc->crop_cap, (size_t)w * h, 1);
    if (rc != DG_OK)
        return rc;
    memset(sc->crop, 0, (size_t)w * h);
    for (int i = sc->first[k]; i < sc->first[k + 1]; i++) {
        const struct vis_run *rn = &sc->runs[sc->run_order[i]];
        memset(sc->crop + (size_t)(rn->y - b->y0) * w + (rn->x0 - b->x0), 255,
               (size_t)(rn->x1 - rn->x0 + 1));
    }
    return DG_OK;
}

/* Reusing answers (rec_params.reuse). In a video the same candidate comes again frame after frame,
 * its input changed only by the sensor's noise and the view's drift, and the network's answer
 * with it: an input whose box is where one of the last frame's was (position and size within an
 * eighth of its height) and whose grey levels differ from the input the network read for it by
 * at most p.reuse on average takes that answer, when the answer was at least REUSE_SURE sure;
 * the answer stays tied to the input it was computed for, so a candidate that changes slowly is
 * read again once it has drifted that far. On the live tuning videos (bench/compare_live.py,
 * 2026-12-06, fast) 0.04 reused 33% of the desk video's inputs and 66% of the flat one's (reading
 * a reused input afresh gave another likeliest class for 0.6% and none of them), for the same
 * figures within the videos' noise; without the REUSE_SURE bar, 0.04 drew more false digits
 * (0.53 -> 0.64 a frame on the real-photo video): a chance misreading of one frame held on. */
static const float REUSE_SURE = 0.98f;
/* Stage 7 finds most candidates of the first reading again, their inputs changed only where the
 * ink's edge moved with the threshold: an input within AGAIN_REUSE of one read in this frame
 * takes its answer as a video frame's does (REUSE_SURE). */
static const float AGAIN_REUSE = 0.04f;

static float ink_of(const float *x)
{
    float s = 0.0f;
    for (int c = 0; c < 784; c++)
        s += x[c];
    return s;
}

/* The input of list l (sc->last: the last frame's; !sc->last: this frame's) that x may take the
 * answer of, when they differ by at most tol on average (-1: none). */
static int find_seen(const struct rec_scanner *sc, int l, float tol, const float *x,
                     struct rec_box b, float ink)
{
    tol *= 784.0f;
    for (int j = 0; j < sc->n_seen[l]; j++) {
        const struct rec_seen *e = &sc->seen[l][j];
        if (e->sure < REUSE_SURE || !rec_box_again(e->box, b) ||
            fabsf(e->ink - ink) > tol) /* the sums' difference is at most the differences' sum */
            continue;
        const float *y = sc->seen_x[l] + (size_t)j * 784;
        float d = 0.0f;
        for (int row = 0; row < 28 && d <= tol; row++)
            for (int c = row * 28; c < row * 28 + 28; c++)
                d += fabsf(x[c] - y[c]);
        if (d <= tol)
            return j;
    }
    return -1;
}

/* Keeps input x of box b, answered prob, for the next frame (when there is room). */
static void remember(struct rec_scanner *sc, const float *x, float ink, struct rec_box b,
                     const float *prob)
{
    const int k = !sc->last, n_classes = sc->model->n_classes;
    if (sc->n_seen[k] == REC_MAX_SEEN)
        return;
    struct rec_seen *e = &sc->seen[k][sc->n_seen[k]];
    e->box = b;
    e->ink = ink;
    e->sure = 0.0f;
    for (int c = 0; c < n_classes; c++)
        e->sure = fmaxf(e->sure, prob[c]);
    memcpy(e->prob, prob, (size_t)n_classes * sizeof *prob);
    memcpy(sc->seen_x[k] + (size_t)sc->n_seen[k]++ * 784, x, 784 * sizeof *x);
}

/* The network's answers for the m inputs in fresh_x. */
static void answer_fresh(struct rec_scanner *sc, int m)
{
    const int n_classes = sc->model->n_classes;
    const float *prob = nn_infer_run(sc->inf, sc->fresh_x, m);
    for (int k = 0; k < m; k++) {
        const int i = sc->fresh_of[k];
        const float *x = sc->fresh_x + (size_t)k * 784, *pr = prob + (size_t)k * n_classes;
        memcpy(sc->answer[i], pr, (size_t)n_classes * sizeof *pr);
        remember(sc, x, sc->fresh_ink[k], sc->in_box[i], pr);
    }
}

/* answer[first .. first+n): the last frame's for inputs seen again, the network's for the rest. */
static void answer_reusing(struct rec_scanner *sc, int first, int n)
{
    const int l = sc->last;
    int m = 0;
    for (int i = first; i < first + n; i++) {
        const float *x = sc->x + (size_t)i * 784;
        const float ink = ink_of(x);
        int j = sc->p.reuse > 0.0f ? find_seen(sc, l, sc->p.reuse, x, sc->in_box[i], ink) : -1;
        if (j >= 0) {
            const struct rec_seen *e = &sc->seen[l][j];
            memcpy(sc->answer[i], e->prob, (size_t)sc->model->n_classes * sizeof e->prob[0]);
            remember(sc, sc->seen_x[l] + (size_t)j * 784, e->ink, sc->in_box[i], e->prob);
            sc->n_reused++;
            continue;
        }
        if (sc->again && (j = find_seen(sc, !l, AGAIN_REUSE, x, sc->in_box[i], ink)) >= 0) {
            /* this frame's own answer: not counted as reused from the last frame */
            memcpy(sc->answer[i], sc->seen[!l][j].prob,
                   (size_t)sc->model->n_classes * sizeof sc->seen[!l][j].prob[0]);
            continue;
        }
        memcpy(sc->fresh_x + (size_t)m * 784, x, 784 * sizeof *x);
        sc->fresh_ink[m] = ink;
        sc->fresh_of[m++] = i;
        if (m == REC_BATCH) {
            answer_fresh(sc, m);
            m = 0;
        }
    }
    if (m > 0)
        answer_fresh(sc, m);
}

/* Network inputs x[first .. first+n): sc->read[first ..] get their readings. */
static void read_batch(struct rec_scanner *sc, int first, int n)
{
    const int n_classes = sc->model->n_classes;
    sc->n_inputs += n;
    if (sc->keep) {
        answer_reusing(sc, first, n);
    } else {
        for (int i = first; i < first + n; i += REC_BATCH) {
            const int m = first + n - i < REC_BATCH ? first + n - i : REC_BATCH;
            const float *prob = nn_infer_run(sc->inf, sc->x + (size_t)i * 784, m);
            for (int k = 0; k < m; k++)
                memcpy(sc->answer[i + k], prob + (size_t)k * n_classes,
                       (size_t)n_classes * sizeof *prob);
        }
    }
    for (int i = first; i < first + n; i++) {
        struct rec_digit *d = &sc->read[i];
        const float *pr = sc->answer[i];
        for (int t = 0; t < 3; t++) {
            int best = -1;
            for (int c = 0; c < 10; c++)
                if ((t < 1 || c != d->top3[0]) && (t < 2 || c != d->top3[1]) &&
                    (best < 0 || pr[c] > pr[best]))
                    best = c;
            d->top3[t] = best;
            d->top3_p[t] = pr[best];
        }
        d->confidence = d->top3_p[0];
        d->junk = n_classes > 10 ? pr[10] : 0.0f;
        d->two = n_classes > 11 ? pr[11] : 0.0f;
        /* read when sure enough and likelier a digit than not one */
        d->digit =
            d->confidence >= sc->p.min_confidence && d->confidence > d->junk ? d->top3[0] : -1;
        d->why = d->digit >= 0 ? REC_READ : REC_UNSURE;
        d->box = sc->in_box[i];
        memcpy(d->input, sc->x + (size_t)i * 784, sizeof d->input);
    }
}

/* Stage 1, ink: sc->mask from the threshold for ink of polarity pol, long ruled lines removed. */
static int find_ink(struct rec_scanner *sc, const struct vis_image *grey, enum vis_polarity pol,
                    struct rec_result *r)
{
    const struct rec_params *p = &sc->p;
    struct vis_threshold_params tp = p->threshold;
    tp.polarity = pol;
    int rc = vis_threshold(grey, &tp, sc->vwk, &sc->mask, &r->polarity);
    if (rc == DG_OK && p->line_frac > 0.0f)
        rc = vis_remove_lines(&sc->mask, sc->vwk, (int)(p->line_frac * grey->w),
                              (int)(p->line_frac * grey->h), p->line_thickness);
    if (rc == DG_OK)
        rc = vis_remove_boxes(&sc->mask, sc->vwk, p->box_side, p->line_thickness);
    return rc;
}

/* A component this many pixels tall or wide needs only FINE_PEN_FILL of its box in ink: a big
 * digit written with a fine pen fills 1-3% (the min_fill floor had taken it for a ruled frame);
 * smaller ones keep min_fill, which keeps specks of texture out (and the time down). */
enum { FINE_PEN_FROM = 48 };
static const float FINE_PEN_FILL = 0.015f;

/* Stage 2, candidates: the mask's components without specks, lines and smudges, fragments of one
 * digit joined (same_digit); sc->box[0 .. n_cand) their union boxes and the ink's runs grouped by
 * candidate for crop_candidate. */
/* keep[i]: whether component i can be (part of) a digit: no speck, line or smudge; group[i]: its
 * group after joining the fragments of one digit (union-find). Specks and lines go first, so they
 * cannot be joined to digits. */
static void join_fragments(struct rec_scanner *sc, const struct vis_component *comp, int n_comp,
                           int *group, int *keep)
{
    const struct rec_params *p = &sc->p;
    for (int i = 0; i < n_comp; i++) {
        const struct vis_component *c = &comp[i];
        const int w = c->x1 - c->x0 + 1, h = c->y1 - c->y0 + 1;
        keep[i] = c->area >= p->min_area && (float)w <= p->max_aspect * h * 2.0f &&
                  h <= sc->max_h && w <= sc->max_h * 2 &&
                  (float)c->area >=
                      (h >= FINE_PEN_FROM || w >= FINE_PEN_FROM ? FINE_PEN_FILL : p->min_fill) *
                          (float)w * h;
    }
    join_same_digit(comp, n_comp, keep, sc->min_h, sc->wide_pass ? WIDE_RULE_WIDE : RULE_WIDE,
                    group, sc->gbox);
}

/* In live (rec_params.again_known), stage 7 does not read again a candidate whose box is the same
 * (intersection over union at least AGAIN_SAME) as one the first reading was that sure of: read
 * as a digit (a stage-7 reading over it would make way for it anyway) or turned down as not a
 * digit (the other threshold found the same texture, print or clutter). The first reading's
 * readings of them stand in stage 7's reading instead (sc->known, added before the rules that
 * judge a reading by its neighbours: without them a stage-7 reading beside them lost its
 * neighbours). Two thirds of stage 7's inputs had been fresh, and stage 7 had 60% of a
 * camera-view frame's network inputs. Fast, `bench_scan --live` on 50 report frames: 222.8 ->
 * 163.3 network inputs a frame. Live (the hand-held tuning videos, 2026-12-07): shown-number
 * changes 26 -> 27 of 3,528 frame pairs, numbers locked within 0.6 s 4 more, digits read and
 * false digits within 0.1 point. Stills are read as before: with scan's settings the skip cost
 * robust's held-tune 6 digits of 1,354 (a blob turned down whole that the other mask cuts into
 * digits), and with the sure digits alone a stage-7 cut of a blob beside one (stages 5a and 5d
 * look for a sure digit beside) lost it: "88684" on screen-tune's other_0136 read as "684". */
static const float AGAIN_SAME = 0.6f;

static int known_before(struct rec_scanner *sc, struct rec_box b)
{
    const struct rec_result *f = sc->first_reading;
    for (int i = 0; i < f->n_digits + f->n_rejected; i++) {
        const struct rec_digit *e = &f->digits[i];
        if ((e->digit >= 0 ? e->confidence : e->junk) < sc->p.again_known)
            continue;
        if (rec_box_iou(b, e->box) < AGAIN_SAME)
            continue;
        int seen = 0; /* two candidates may find one reading again */
        for (int k = 0; k < sc->n_known && !seen; k++)
            seen = sc->known[k] == i;
        if (!seen)
            sc->known[sc->n_known++] = i;
        return 1;
    }
    return 0;
}

/* The candidates: the groups (their union boxes at their roots in sc->gbox, from
 * join_same_digit) of a digit's height and shape, in order, at most REC_MAX_CANDIDATES, so specks
 * and smudges do not take the places of digits further down a busy page; in stage 7 none the
 * first reading was sure of (known_before). sc->box[0 .. n_cand) and cand_of[root] (-1
 * elsewhere). Returns n_cand. */
static int choose_candidates(struct rec_scanner *sc, int n_comp, const int *group, const int *keep,
                             int *cand_of)
{
    for (int i = 0; i < n_comp; i++)
        cand_of[i] = -1;
    sc->n_known = 0;
    int n_cand = 0;
    for (int g = 0; g < n_comp && n_cand < REC_MAX_CANDIDATES; g++) {
        if (!keep[g] || group[g] != g)
            continue;
        const struct vis_component *b = &sc->gbox[g];
        const int w = b->x1 - b->x0 + 1, h = b->y1 - b->y0 + 1;
        if (h < sc->min_h || (float)w > sc->p.max_aspect * h ||
            (sc->again && sc->p.again_known > 0.0f &&
             known_before(sc, (struct rec_box){b->x0, b->y0, w, h})))
            continue;
        cand_of[g] = n_cand;
        sc->box[n_cand++] = *b;
    }
    return n_cand;
}

/* The ink's runs grouped by candidate (a counting sort), so a crop visits just its own:
 * comp_cand[c] is component c's candidate or -1. */
static int group_runs(struct rec_scanner *sc, const int *comp_cand, int n_cand)
{
    size_t n_runs;
    sc->runs = vis_components_runs(sc->vwk, &n_runs);
    int rc = dg_grow((void **)&sc->run_order, &sc->run_order_cap, n_runs + 1, sizeof(int));
    if (rc != DG_OK)
        return rc;
    int *first = sc->first, next[REC_MAX_CANDIDATES];
    memset(first, 0, (size_t)(n_cand + 1) * sizeof *first);
    for (size_t i = 0; i < n_runs; i++)
        if (comp_cand[sc->runs[i].comp] >= 0)
            first[comp_cand[sc->runs[i].comp] + 1]++;
    for (int k = 0; k < n_cand; k++)
        first[k + 1] += first[k];
    memcpy(next, first, (size_t)n_cand * sizeof *first);
    for (size_t i = 0; i < n_runs; i++)
        if (comp_cand[sc->runs[i].comp] >= 0)
            sc->run_order[next[comp_cand[sc->runs[i].comp]]++] = (int)i;
    return DG_OK;
}

static int find_candidates(struct rec_scanner *sc)
{
    const struct vis_component *comp = NULL;
    int n_comp = 0, rc;
    sc->n_cand = 0;
    if ((rc = vis_components(&sc->mask, sc->vwk, NULL, &comp, &n_comp)))
        return rc;
    /* per component: its group (union-find), its candidate, whether it survived the filters */
    if ((rc = dg_grow((void **)&sc->per_comp, &sc->per_comp_cap, 4 * (size_t)n_comp + 1,
                      sizeof(int))) ||
        (rc = dg_grow((void **)&sc->gbox, &sc->gbox_cap, (size_t)n_comp + 1, sizeof *sc->gbox)))
        return rc;
    int *group = sc->per_comp, *cand_of = group + n_comp, *keep = cand_of + n_comp;
    int *comp_cand = keep + n_comp;
    join_fragments(sc, comp, n_comp, group, keep);
    const int n_cand = choose_candidates(sc, n_comp, group, keep, cand_of);
    for (int i = 0; i < n_comp; i++)
        comp_cand[i] = keep[i] ? cand_of[rec_group_find(group, i)] : -1;
    if ((rc = group_runs(sc, comp_cand, n_cand)))
        return rc;
    sc->n_cand = n_cand;
    return DG_OK;
}

enum { PAPER_SAMPLES = 1024 };

/* The paper's level (the median of the non-ink pixels of sc->crop's box, w x h at (bx, by) in
 * grey, ink dark after flip) and the ink's (its darkest 5%, sc->crop's non-zero pixels). Returns
 * 0 when under a quarter of the box is paper or there is no ink, so neither can be judged. */
static int paper_and_ink(const struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip,
                         int bx, int by, int w, int h, int *paper, int *dark)
{
    /* a big box is sampled on a grid of about PAPER_SAMPLES points: its levels are as clear */
    int step = 1;
    while ((long)(w / step) * (h / step) > PAPER_SAMPLES)
        step++;
    int paper_hist[256] = {0}, ink_hist[256] = {0};
    long n_paper = 0, n_ink = 0, n = 0;
    for (int y = 0; y < h; y += step) {
        const uint8_t *g = grey->px + (size_t)(by + y) * grey->w + bx;
        const uint8_t *mk = sc->mask.px + (size_t)(by + y) * sc->mask.w + bx;
        const uint8_t *c = sc->crop + (size_t)y * w;
        for (int x = 0; x < w; x += step, n++) {
            if (c[x])
                ink_hist[g[x] ^ flip]++, n_ink++;
            else if (!mk[x])
                paper_hist[g[x] ^ flip]++, n_paper++;
        }
    }
    if (n_paper * 4 < n || !n_ink)
        return 0;
    *paper = rec_hist_level(paper_hist, n_paper, 0.5f);
    *dark = rec_hist_level(ink_hist, n_ink, 0.05f);
    return 1;
}

/* Below this contrast between paper and ink (grey levels) a crop stays as the mask has it. */
enum { SOFT_MIN_CONTRAST = 8 };

/* o: row c (w > 0 bytes) with each byte or-ed with its neighbours'. */
DG_HOT static void widen_row(const uint8_t *restrict c, int w, uint8_t *restrict o)
{
    o[0] = c[0] | (w > 1 ? c[1] : 0);
    for (int x = 1; x < w - 1; x++)
        o[x] = c[x - 1] | c[x] | c[x + 1];
    if (w > 1)
        o[w - 1] = c[w - 2] | c[w - 1];
}

/* One row of soften_crop: out[x] is the share of the way from the paper to the darkest ink of
 * grey g[x] (scale: 255 * 65536 / their difference) where the ink c[x] is, or where its widened
 * rows o, up and dn reach and the mask mk holds no other ink; 0 elsewhere. Without branches or
 * division, so it vectorises. */
DG_HOT static void soft_row(const uint8_t *restrict g, const uint8_t *restrict mk,
                            const uint8_t *restrict c, const uint8_t *restrict o,
                            const uint8_t *restrict up, const uint8_t *restrict dn, int w,
                            uint8_t flip, int paper, int scale, uint8_t *restrict out)
{
    for (int x = 0; x < w; x++) {
        const int keep = (c[x] != 0) | (((o[x] | up[x] | dn[x]) != 0) & (mk[x] == 0));
        int v = ((paper - (g[x] ^ flip)) * scale) >> 16;
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        out[x] = (uint8_t)(keep ? v : 0);
    }
}

/* sc->crop (a candidate's own ink in the mask, w x h at (bx, by)) becomes an ink map in grey
 * levels, as MNIST's digits are: each of its pixels, and each neighbour that is not another
 * candidate's ink, gets the share of the way from the paper to the darkest ink (paper_and_ink's
 * levels; paper -1 when they could not be judged: left as it is) that its grey covers. A binary
 * mask keeps little of a small digit's shape (a 12 px digit is a blocky blob at 20 px); on
 * build/world-tune with the shipped fast model (2026-12-03) digits read went 70.85 -> 73.77%,
 * precision 91.12 -> 93.15%, digits under 16 px 47.3 -> 54.6%. */
static int soften_crop(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip, int bx,
                       int by, int w, int h, int paper, int dark)
{
    if (!sc->p.grey_ink || paper < 0 || paper - dark < SOFT_MIN_CONTRAST)
        return DG_OK;
    int rc = dg_grow((void **)&sc->soft, &sc->soft_cap, (size_t)w * h * 2, 1);
    if (rc)
        return rc;
    uint8_t *soft = sc->soft, *wide = sc->soft + (size_t)w * h;
    const int scale = (255 << 16) / (paper - dark); /* (paper - grey) * 255 / (paper - dark) */
    for (int y = 0; y < h; y++) /* the ink widened by a pixel each side, then up and down */
        widen_row(sc->crop + (size_t)y * w, w, wide + (size_t)y * w);
    for (int y = 0; y < h; y++) {
        const uint8_t *g = grey->px + (size_t)(by + y) * grey->w + bx;
        const uint8_t *mk = sc->mask.px + (size_t)(by + y) * sc->mask.w + bx;
        const uint8_t *c = sc->crop + (size_t)y * w, *o = wide + (size_t)y * w;
        const uint8_t *up = y > 0 ? o - w : o, *dn = y + 1 < h ? o + w : o;
        soft_row(g, mk, c, o, up, dn, w, flip, paper, scale, soft + (size_t)y * w);
    }
    memcpy(sc->crop, soft, (size_t)w * h);
    return DG_OK;
}

/* Stage 3, wholes: every candidate of a digit's size and shape cropped to its own ink in grey
 * levels (soften_crop), MNIST-normalised and read in one batch; sc->plan gets one entry per
 * candidate read. */
static int read_wholes(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip)
{
    const struct rec_params *p = &sc->p;
    int rc = DG_OK;
    sc->n_in = sc->n_plan = 0;
    for (int k = 0; k < sc->n_cand && sc->n_in < REC_MAX_CANDIDATES; k++) {
        const struct vis_component *b = &sc->box[k];
        const int w = b->x1 - b->x0 + 1, h = b->y1 - b->y0 + 1;
        if (h < sc->min_h || (float)w > p->max_aspect * h)
            continue;
        if ((rc = crop_candidate(sc, k)))
            return rc;
        int paper, dark;
        if (!paper_and_ink(sc, grey, flip, b->x0, b->y0, w, h, &paper, &dark))
            paper = -1, dark = 0;
        if ((rc = soften_crop(sc, grey, flip, b->x0, b->y0, w, h, paper, dark)))
            return rc;
        if (vis_mnist_from_ink(sc->crop, w, h, (size_t)w, sc->x + (size_t)sc->n_in * 784) != DG_OK)
            continue;
        sc->in_box[sc->n_in] = (struct rec_box){b->x0, b->y0, w, h};
        struct rec_plan *pl = &sc->plan[sc->n_plan++];
        pl->cand = k;
        pl->whole = sc->n_in++;
        pl->n_cuts = pl->n_deep = 0;
        pl->paper = paper, pl->dark = dark;
    }
    read_batch(sc, 0, sc->n_in);
    return DG_OK;
}

/* Stage 4, cuts: a candidate too wide for one digit that the network is unsure of is also tried
 * cut in two at its thinnest columns (two touching digits), all cuts of the image in a second
 * batch. A sure whole is never replaced by a cut (see choose_readings), so its cuts are not read.
 * Neither is a blob the network is CUT_JUNK sure is not a digit (a texture, a word): on
 * build/world-tune, 0.9 saved a third of the frame's time (3.9 -> 2.7 ms) and raised precision
 * 0.8 points for 0.9 points of digits read. */
static const float SPLIT_SURE = 0.9f, SPLIT_MARGIN = 0.1f, CUT_JUNK = 0.9f;
/* A 12-class model's "two digits" (rec_digit.two) is cut when likelier than a digit and than not
 * a digit, from TWO_ASPECT heights wide. */
static const float TWO_ASPECT = 0.7f;

/* sc->crop becomes plan pl's candidate's own ink in grey levels (crop_candidate, soften_crop). */
static int crop_plan(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip,
                     const struct rec_plan *pl)
{
    const struct vis_component *b = &sc->box[pl->cand];
    const int rc = crop_candidate(sc, pl->cand);
    return rc ? rc
              : soften_crop(sc, grey, flip, b->x0, b->y0, b->x1 - b->x0 + 1, b->y1 - b->y0 + 1,
                            pl->paper, pl->dark);
}

/* Network inputs for ink (w x h, its top left at (x, y) in the frame) cut into k pieces at columns
 * cut[1 .. k-1] (cut[0] = 0, cut[k] = w): the pieces' inputs follow one another. Returns the first
 * one's index, or -1 when there is no room or a piece gives no input. */
static int add_pieces(struct rec_scanner *sc, const uint8_t *ink, int w, int h, int x, int y,
                      const int *cut, int k)
{
    if (sc->n_in + k > REC_MAX_CANDIDATES)
        return -1;
    float *xin = sc->x + (size_t)sc->n_in * 784;
    for (int p = 0; p < k; p++)
        if (vis_mnist_from_ink(ink + cut[p], cut[p + 1] - cut[p], h, (size_t)w,
                               xin + (size_t)p * 784) != DG_OK)
            return -1;
    for (int p = 0; p < k; p++)
        sc->in_box[sc->n_in + p] = part_box(ink, w, h, cut[p], cut[p + 1], x, y);
    const int first = sc->n_in;
    sc->n_in += k;
    return first;
}

/* Network inputs for ink (w x h, its top left at (x, y) in the frame) cut in two at its thinnest
 * columns (find_cuts), a pair per cut: each pair's first input goes to left[]; returns how many. */
static int add_cut_inputs(struct rec_scanner *sc, const uint8_t *ink, int w, int h, int x, int y,
                          int *left)
{
    int cuts[REC_MAX_CUTS], n = 0;
    const int n_cuts = find_cuts(ink, w, h, cuts, REC_MAX_CUTS);
    for (int c = 0; c < n_cuts && sc->n_in + 2 <= REC_MAX_CANDIDATES; c++) {
        const int first = add_pieces(sc, ink, w, h, x, y, (const int[3]){0, cuts[c], w}, 2);
        if (first >= 0)
            left[n++] = first;
    }
    return n;
}

/* Crops plan pl's candidate and adds its cuts in two (at most REC_MAX_CUTS) as network inputs. */
static int add_cuts(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip,
                    struct rec_plan *pl)
{
    const struct vis_component *b = &sc->box[pl->cand];
    const int rc = crop_plan(sc, grey, flip, pl);
    if (rc)
        return rc;
    pl->n_cuts += add_cut_inputs(sc, sc->crop, b->x1 - b->x0 + 1, b->y1 - b->y0 + 1, b->x0, b->y0,
                                 pl->left + pl->n_cuts);
    return DG_OK;
}

/* Whether plan pl's candidate is at least aspect times as wide as it is tall. */
static int wide_as(const struct rec_scanner *sc, const struct rec_plan *pl, float aspect)
{
    const struct vis_component *b = &sc->box[pl->cand];
    return (float)(b->x1 - b->x0 + 1) >= aspect * (float)(b->y1 - b->y0 + 1);
}

/* Whether plan pl's candidate is as wide as two digits (split_aspect to 2.5 heights). */
static int two_wide(const struct rec_scanner *sc, const struct rec_plan *pl, float max_aspect)
{
    const struct vis_component *b = &sc->box[pl->cand];
    const float w = (float)(b->x1 - b->x0 + 1), h = (float)(b->y1 - b->y0 + 1);
    return sc->p.split_aspect > 0.0f && w >= sc->p.split_aspect * h && w <= max_aspect * h;
}

static int read_cuts(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip)
{
    const int n_whole = sc->n_in;
    for (int k = 0; k < sc->n_plan; k++) {
        struct rec_plan *pl = &sc->plan[k];
        const struct rec_digit *whole = &sc->read[pl->whole];
        const int says_two = sc->p.split_aspect > 0.0f && whole->two > whole->confidence &&
                             whole->two > whole->junk && wide_as(sc, pl, TWO_ASPECT);
        if (!says_two && (!two_wide(sc, pl, INFINITY) || whole->confidence >= SPLIT_SURE ||
                          whole->junk >= CUT_JUNK))
            continue;
        const int rc = add_cuts(sc, grey, flip, pl);
        if (rc)
            return rc;
    }
    read_batch(sc, n_whole, sc->n_in - n_whole);
    return DG_OK;
}

/* Stage 4a, deeper ink: digits written close together and blurred by the lens run into one blob
 * in the ink mask (the valley between two digits is lighter than their strokes but still darker
 * than the paper by the threshold's margin). A candidate the network is not sure of, and not
 * CUT_JUNK sure is not a digit, is labelled again from its darker
 * part only: its own ink pixels at least p.deep_share (0.5) of the way from the paper around it
 * (the median of the box's non-ink pixels) to its darkest ink. When that leaves two to
 * DEEP_MAX_PIECES pieces at least DEEP_MIN_H of the candidate's height (fragments of one digit
 * joined by same_digit, specks left out), each is read, and choose_readings takes them when every
 * one is a sure digit. Chosen on build/world-tune and build/scenes-tune (training digits, shipped
 * fast model, 2026-12-03): digits read 70.54 -> 70.85% on the world, flat scenes unchanged, for
 * about 8% more time per frame. Also trying sure-junk blobs two digits wide read 3 more digits
 * there (6 on the report world) but made 72% of the stage's network inputs (16% more time per
 * frame in all, over the speed goal); reading a single darker piece in place of an unsure whole
 * too read 71.34% for 33% more time. */
static const float DEEP_MIN_H = 0.5f;
enum { DEEP_MAX_PARTS = 64, DEEP_MAX_PIECES = 6, DEEP_MIN_AREA = 4 };

/* Labels the 8-connected components of the w x h map m (non-zero: ink) into lab (-1: paper) using
 * stack (2 * w * h entries: x, y pairs); their boxes and areas go to part[0 ..). Returns how many,
 * or -1 when there are more than DEEP_MAX_PARTS. */
static int label_parts(const uint8_t *m, int w, int h, int32_t *lab, int32_t *stack,
                       struct vis_component *part)
{
    const int n_px = w * h;
    for (int i = 0; i < n_px; i++)
        lab[i] = -1;
    int n = 0;
    for (int y0 = 0; y0 < h; y0++)
        for (int x0 = 0; x0 < w; x0++) {
            const int i = y0 * w + x0;
            if (!m[i] || lab[i] >= 0)
                continue;
            if (n == DEEP_MAX_PARTS)
                return -1;
            struct vis_component *c = &part[n];
            *c = (struct vis_component){.x0 = x0, .y0 = y0, .x1 = x0, .y1 = y0};
            int top = 0;
            stack[top++] = x0, stack[top++] = y0;
            lab[i] = n;
            while (top) {
                const int y = stack[--top], x = stack[--top];
                c->x0 = x < c->x0 ? x : c->x0, c->x1 = x > c->x1 ? x : c->x1;
                c->y0 = y < c->y0 ? y : c->y0, c->y1 = y > c->y1 ? y : c->y1;
                c->area++;
                const int ya = y > 0 ? y - 1 : 0, yb = y < h - 1 ? y + 1 : h - 1;
                const int xa = x > 0 ? x - 1 : 0, xb = x < w - 1 ? x + 1 : w - 1;
                for (int yy = ya; yy <= yb; yy++)
                    for (int xx = xa; xx <= xb; xx++) {
                        const int k = yy * w + xx;
                        if (m[k] && lab[k] < 0) {
                            lab[k] = n;
                            stack[top++] = xx, stack[top++] = yy;
                        }
                    }
            }
            n++;
        }
    return n;
}

/* sc->crop (plan pl's candidate, w x h at (bx, by)) keeps only its ink deep_share of the way down
 * from the paper to the darkest ink. Returns 0 when the box had too little paper to judge. */
static int keep_deeper(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip,
                       const struct rec_plan *pl, int bx, int by, int w, int h)
{
    if (pl->paper < 0)
        return 0;
    const int limit = pl->paper - (int)(sc->p.deep_share * (float)(pl->paper - pl->dark));
    for (int y = 0; y < h; y++) {
        const uint8_t *g = grey->px + (size_t)(by + y) * grey->w + bx;
        uint8_t *c = sc->crop + (size_t)y * w;
        for (int x = 0; x < w; x++)
            c[x] = c[x] && (g[x] ^ flip) <= limit ? 255 : 0;
    }
    return 1;
}

/* The pieces among the deeper crop's n_parts parts (2 to DEEP_MAX_PARTS): fragments of one digit
 * joined (specks under DEEP_MIN_AREA left out), the groups at least DEEP_MIN_H of the candidate's
 * height h, in order, into piece[]; piece_of[part] gets its piece or -1. Returns how many, or 0
 * when there are more than DEEP_MAX_PIECES. */
static int deeper_pieces(const struct rec_scanner *sc, const struct vis_component *part,
                         int n_parts, int h, struct vis_component *piece, int *piece_of)
{
    int keep[DEEP_MAX_PARTS], group[DEEP_MAX_PARTS], index[DEEP_MAX_PARTS], n = 0;
    struct vis_component box[DEEP_MAX_PARTS];
    for (int i = 0; i < n_parts; i++)
        keep[i] = part[i].area >= DEEP_MIN_AREA;
    /* box[root]: its group's */
    join_same_digit(part, n_parts, keep, sc->min_h, sc->wide_pass ? WIDE_RULE_WIDE : RULE_WIDE,
                    group, box);
    for (int g = 0; g < n_parts; g++) {
        index[g] = -1;
        if (!keep[g] || group[g] != g || (float)(box[g].y1 - box[g].y0 + 1) < DEEP_MIN_H * (float)h)
            continue;
        if (n == DEEP_MAX_PIECES)
            return 0;
        index[g] = n;
        piece[n++] = box[g];
    }
    for (int i = 0; i < n_parts; i++)
        piece_of[i] = keep[i] ? index[rec_group_find(group, i)] : -1;
    return n;
}

/* Adds plan pl's deeper pieces as network inputs: pl->deep, pl->n_deep (0 unless there are two to
 * DEEP_MAX_PIECES). */
static int add_deeper(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip,
                      struct rec_plan *pl)
{
    const struct vis_component *b = &sc->box[pl->cand];
    const int w = b->x1 - b->x0 + 1, h = b->y1 - b->y0 + 1;
    int rc = crop_candidate(sc, pl->cand);
    if (rc == DG_OK)
        rc = dg_grow((void **)&sc->label, &sc->label_cap, 3 * (size_t)w * h, sizeof(int32_t));
    if (rc == DG_OK)
        rc = dg_grow((void **)&sc->piece, &sc->piece_cap, (size_t)w * h, 1);
    if (rc != DG_OK || !keep_deeper(sc, grey, flip, pl, b->x0, b->y0, w, h))
        return rc;
    struct vis_component part[DEEP_MAX_PARTS], piece[DEEP_MAX_PIECES];
    int piece_of[DEEP_MAX_PARTS];
    const int n_parts = label_parts(sc->crop, w, h, sc->label, sc->label + (size_t)w * h, part);
    const int n_pieces = n_parts < 2 ? 0 : deeper_pieces(sc, part, n_parts, h, piece, piece_of);
    if (n_pieces < 2 || sc->n_in + n_pieces > REC_MAX_CANDIDATES)
        return DG_OK;
    pl->deep = sc->n_in;
    for (int k = 0; k < n_pieces; k++) {
        const struct vis_component *u = &piece[k];
        const int pw = u->x1 - u->x0 + 1, ph = u->y1 - u->y0 + 1;
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                const int l = sc->label[(size_t)(u->y0 + y) * w + u->x0 + x];
                sc->piece[(size_t)y * pw + x] = l >= 0 && piece_of[l] == k ? 255 : 0;
            }
        if (vis_mnist_from_ink(sc->piece, pw, ph, (size_t)pw, sc->x + (size_t)sc->n_in * 784) !=
            DG_OK)
            continue;
        /* the darker ink is thinner than the digit's: its box one pixel wider each way */
        const int x0 = u->x0 > 0 ? u->x0 - 1 : 0, y0 = u->y0 > 0 ? u->y0 - 1 : 0;
        const int x1 = u->x1 < w - 1 ? u->x1 + 1 : w - 1, y1 = u->y1 < h - 1 ? u->y1 + 1 : h - 1;
        sc->in_box[sc->n_in++] = (struct rec_box){b->x0 + x0, b->y0 + y0, x1 - x0 + 1, y1 - y0 + 1};
    }
    pl->n_deep = sc->n_in - pl->deep;
    return DG_OK;
}

static int read_deeper(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip)
{
    const int first = sc->n_in;
    for (int k = 0; k < sc->n_plan && sc->p.deep_share > 0.0f; k++) {
        struct rec_plan *pl = &sc->plan[k];
        const struct rec_digit *whole = &sc->read[pl->whole];
        if (whole->confidence >= SPLIT_SURE || whole->junk >= CUT_JUNK)
            continue;
        const int rc = add_deeper(sc, grey, flip, pl);
        if (rc)
            return rc;
    }
    read_batch(sc, first, sc->n_in - first);
    return DG_OK;
}

/* Stage 5, whole, cut or deeper pieces: a cut wins over a whole the network is unsure of (below
 * SPLIT_SURE 0.9) when both halves together (geometric mean) are surer than the whole by
 * SPLIT_MARGIN 0.1. Chosen on scenes of training digits (build/scenes-tune). The deeper pieces
 * win over both when every piece is read as a digit, DEEP_SURE or surer, and together they are
 * surer still. Writes r->digits and returns how many. */
static const float DEEP_SURE = 0.9f;

/* The geometric mean of the confidences of the n readings from read[first], or 0 when one of them
 * is not a digit or below DEEP_SURE. */
static float deep_score(const struct rec_scanner *sc, int first, int n)
{
    double log_sum = 0.0;
    for (int i = first; i < first + n; i++) {
        if (sc->read[i].digit < 0 || sc->read[i].confidence < DEEP_SURE)
            return 0.0f;
        log_sum += log(sc->read[i].confidence);
    }
    return (float)exp(log_sum / n);
}

static int choose_readings(struct rec_scanner *sc, struct rec_result *r)
{
    int n_read = 0;
    for (int k = 0; k < sc->n_plan; k++) {
        const struct rec_plan *pl = &sc->plan[k];
        const struct rec_digit *whole = &sc->read[pl->whole];
        int best = -1;
        float best_score = whole->confidence < SPLIT_SURE ? whole->confidence + SPLIT_MARGIN : 2.0f;
        for (int c = 0; c < pl->n_cuts; c++) {
            const int l = pl->left[c];
            const float score = sqrtf(sc->read[l].confidence * sc->read[l + 1].confidence);
            if (score > best_score) {
                best_score = score;
                best = l;
            }
        }
        if (pl->n_deep && deep_score(sc, pl->deep, pl->n_deep) > best_score) {
            for (int i = pl->deep; i < pl->deep + pl->n_deep; i++) {
                sc->plan_of[n_read] = k;
                r->digits[n_read++] = sc->read[i];
            }
        } else if (best < 0) {
            sc->plan_of[n_read] = k;
            r->digits[n_read++] = *whole;
        } else {
            sc->plan_of[n_read] = sc->plan_of[n_read + 1] = k;
            r->digits[n_read++] = sc->read[best];
            r->digits[n_read++] = sc->read[best + 1];
        }
    }
    return n_read;
}

/* Stage 5a, cuts beside digits: a blob two digits wide that the network was sure is not a digit
 * (the 11-class model learned "two digits touching" as not a digit, so stage 4 never cut it) is
 * cut after all when it stands beside a sure digit of its height on its line, and read as the
 * two halves when the network is BESIDE_SURE of each. On build/world-tune cutting every such
 * blob read 0.4 points more for 43% more time; beside digits only, few blobs qualify. */
static const float BESIDE_SURE = 0.9f, BESIDE_ASPECT = 2.5f;

/* Of the n cuts whose pairs of inputs start at left[], the first input of the one whose halves
 * are both read as digits, BESIDE_SURE or surer (the surest such cut, by geometric mean), or -1. */
static int surest_pair(const struct rec_scanner *sc, const int *left, int n)
{
    int best = -1;
    float best_score = 0.0f;
    for (int c = 0; c < n; c++) {
        const struct rec_digit *a = &sc->read[left[c]], *b = &sc->read[left[c] + 1];
        const float score = sqrtf(a->confidence * b->confidence);
        if (a->digit >= 0 && b->digit >= 0 && a->confidence >= BESIDE_SURE &&
            b->confidence >= BESIDE_SURE && score > best_score)
            best_score = score, best = left[c];
    }
    return best;
}

/* Reading i of r's *n becomes the k readings of inputs in[0 .. k), of i's plan. */
static void replace_by(struct rec_scanner *sc, struct rec_result *r, int *n, int i, const int *in,
                       int k)
{
    memmove(&r->digits[i + k], &r->digits[i + 1], (size_t)(*n - i - 1) * sizeof r->digits[0]);
    memmove(&sc->plan_of[i + k], &sc->plan_of[i + 1], (size_t)(*n - i - 1) * sizeof(int));
    for (int j = 0; j < k; j++) {
        r->digits[i + j] = sc->read[in[j]];
        sc->plan_of[i + j] = sc->plan_of[i];
    }
    *n += k - 1;
}

static int cut_beside_digits(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip,
                             struct rec_result *r, int *n)
{
    const int first = sc->n_in;
    for (int i = 0; i < *n; i++) {
        struct rec_plan *pl = &sc->plan[sc->plan_of[i]];
        const struct rec_digit *d = &r->digits[i];
        if (d->digit >= 0 || d->junk < CUT_JUNK || pl->n_cuts || !two_wide(sc, pl, BESIDE_ASPECT) ||
            !rec_beside_sure_digit(r->digits, *n, i))
            continue;
        const int rc = add_cuts(sc, grey, flip, pl);
        if (rc)
            return rc;
    }
    if (sc->n_in == first)
        return DG_OK;
    read_batch(sc, first, sc->n_in - first);
    for (int i = *n - 1; i >= 0; i--) { /* from the end, so insertions move only what is read */
        const struct rec_plan *pl = &sc->plan[sc->plan_of[i]];
        if (r->digits[i].digit >= 0 || !pl->n_cuts || pl->left[0] < first ||
            *n >= REC_MAX_CANDIDATES)
            continue;
        const int best = surest_pair(sc, pl->left, pl->n_cuts);
        if (best >= 0)
            replace_by(sc, r, n, i, (const int[]){best, best + 1}, 2);
    }
    return DG_OK;
}

/* Stage 5b, three in a blob: one half of a cut that the network reads as two digits touching
 * (three digits run together: the first cut parted one from the other two) is cut again at its
 * thinnest columns, and read as its two pieces when the network is BESIDE_SURE of each. On
 * build/world-tune (2026-12-05, shipped fast model): digits read 80.18 -> 80.39%, numbers 62.93
 * -> 63.21%, precision 94.27 -> 94.24%; build/scenes-tune unchanged. Cutting every unsure piece
 * or whole at least 0.9 heights wide this way read 0.09 points more for 60% more time. */
static int is_piece(const struct rec_scanner *sc, int i, int n)
{
    return (i > 0 && sc->plan_of[i - 1] == sc->plan_of[i]) ||
           (i + 1 < n && sc->plan_of[i + 1] == sc->plan_of[i]);
}

/* Adds the cuts of reading d, a piece of plan pl's candidate, as network inputs (their pairs'
 * first inputs to left[]); *n_left how many. */
static int add_piece_cuts(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip,
                          const struct rec_plan *pl, const struct rec_digit *d, int *left,
                          int *n_left)
{
    const struct vis_component *b = &sc->box[pl->cand];
    const int w = b->x1 - b->x0 + 1, h = b->y1 - b->y0 + 1, c0 = d->box.x - b->x0, pw = d->box.w;
    int rc = crop_plan(sc, grey, flip, pl);
    *n_left = 0;
    if (rc || c0 < 0 || c0 + pw > w)
        return rc;
    if ((rc = dg_grow((void **)&sc->piece, &sc->piece_cap, (size_t)pw * h, 1)))
        return rc;
    for (int y = 0; y < h; y++)
        memcpy(sc->piece + (size_t)y * pw, sc->crop + (size_t)y * w + c0, (size_t)pw);
    *n_left = add_cut_inputs(sc, sc->piece, pw, h, d->box.x, b->y0, left);
    return DG_OK;
}

static int cut_pieces_again(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip,
                            struct rec_result *r, int *n)
{
    const int first = sc->n_in;
    int left[REC_MAX_CANDIDATES][REC_MAX_CUTS], n_left[REC_MAX_CANDIDATES];
    for (int i = 0; i < *n; i++) {
        const struct rec_digit *d = &r->digits[i];
        n_left[i] = 0;
        if (!is_piece(sc, i, *n) || !(d->two > d->confidence && d->two > d->junk) ||
            (float)d->box.w < TWO_ASPECT * (float)d->box.h)
            continue;
        const int rc =
            add_piece_cuts(sc, grey, flip, &sc->plan[sc->plan_of[i]], d, left[i], &n_left[i]);
        if (rc)
            return rc;
    }
    if (sc->n_in == first)
        return DG_OK;
    read_batch(sc, first, sc->n_in - first);
    for (int i = *n - 1; i >= 0; i--) { /* from the end, so insertions move only what is read */
        const int best = surest_pair(sc, left[i], n_left[i]);
        if (best >= 0 && *n < REC_MAX_CANDIDATES)
            replace_by(sc, r, n, i, (const int[]){best, best + 1}, 2);
    }
    return DG_OK;
}

/* Stage 5d, three in a blob the network turned down: three digits written close and run together
 * by the blur make a blob the network reads as not a digit (it learned one digit and two
 * touching), so no stage before cut it. A rejected whole THREE_MIN_ASPECT heights wide or more,
 * beside a sure digit, is cut in three at the columns with least ink around its thirds (the
 * THREE_CHOICES emptiest for each cut) and read as the three pieces when the network is
 * BESIDE_SURE of each. On build/world-tune (robust, 2026-12-05): digits read 84.38 -> 84.90%,
 * numbers 68.98 -> 69.47%, precision unchanged (96.00%), no time measurable; build/scenes-tune
 * unchanged. Without the sure digit beside: 85.05% for twice the time per frame (textures and
 * words of that width are common); four pieces too (from 1.2 or 1.5 heights): nothing more;
 * pieces 0.8 or 0.7 sure: 3 and 6 more digits of 5,231. */
enum { THREE_CHOICES = 2, THREE_WAYS = THREE_CHOICES * THREE_CHOICES };
static const float THREE_MIN_ASPECT = 1.2f;

/* col[c] = the sum of ink's (w x h, grey levels) column c; 0 when w is over MAX_INK_COLS (a blob
 * that wide is no number), else 1. */
enum { MAX_INK_COLS = 4096 };

static int ink_columns(const uint8_t *ink, int w, int h, int *col)
{
    if (w > MAX_INK_COLS)
        return 0;
    for (int c = 0; c < w; c++) {
        col[c] = 0;
        for (int r = 0; r < h; r++)
            col[c] += ink[(size_t)r * w + c];
    }
    return 1;
}

/* Network inputs for ink (w x h, grey levels, its top left at (x, y) in the frame) cut in three,
 * three inputs a way (at most THREE_WAYS), each way's first into first[]; returns how many ways. */
static int add_three_inputs(struct rec_scanner *sc, const uint8_t *ink, int w, int h, int x, int y,
                            int *first)
{
    int col[MAX_INK_COLS];
    if (!ink_columns(ink, w, h, col))
        return 0;
    const int gap = w / 12 + 1;
    int a[THREE_CHOICES], b[THREE_CHOICES], n = 0;
    const int na = least_ink(col, w / 8, w / 2, gap, a, THREE_CHOICES);
    const int nb = least_ink(col, w / 2, w - w / 8, gap, b, THREE_CHOICES);
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb && sc->n_in + 3 <= REC_MAX_CANDIDATES; j++) {
            if (b[j] - a[i] < w / 8)
                continue;
            const int f = add_pieces(sc, ink, w, h, x, y, (const int[4]){0, a[i], b[j], w}, 3);
            if (f >= 0)
                first[n++] = f;
        }
    return n;
}

static int cut_threes(struct rec_scanner *sc, const struct vis_image *grey, uint8_t flip,
                      struct rec_result *r, int *n)
{
    const int first_in = sc->n_in;
    int first[REC_MAX_CANDIDATES][THREE_WAYS], n_ways[REC_MAX_CANDIDATES];
    for (int i = 0; i < *n; i++) {
        n_ways[i] = 0;
        const struct rec_plan *pl = &sc->plan[sc->plan_of[i]];
        const struct vis_component *b = &sc->box[pl->cand];
        const int w = b->x1 - b->x0 + 1, h = b->y1 - b->y0 + 1;
        if (r->digits[i].digit >= 0 || is_piece(sc, i, *n) ||
            (float)w < THREE_MIN_ASPECT * (float)h || !rec_beside_sure_digit(r->digits, *n, i))
            continue;
        const int rc = crop_plan(sc, grey, flip, pl);
        if (rc)
            return rc;
        n_ways[i] = add_three_inputs(sc, sc->crop, w, h, b->x0, b->y0, first[i]);
    }
    if (sc->n_in == first_in)
        return DG_OK;
    read_batch(sc, first_in, sc->n_in - first_in);
    for (int i = *n - 1; i >= 0; i--) { /* from the end, so insertions move only what is read */
        int best = -1;
        float best_score = 0.0f;
        for (int k = 0; k < n_ways[i]; k++) {
            const float score = deep_score(sc, first[i][k], 3);
            if (score > best_score)
                best_score = score, best = first[i][k];
        }
        if (best >= 0 && *n + 2 <= REC_MAX_CANDIDATES)
            replace_by(sc, r, n, i, (const int[]){best, best + 1, best + 2}, 3);
    }
    return DG_OK;
}

/* Stage 5e, a number in one blob: three or more digits written close and run together by the
 * blur (or touching, as people write them) make one blob the network reads as not a digit, often
 * with no digit beside it for cut_threes to lean on, and of digits of unequal widths (a 1 among
 * 0s) that cuts at even places miss. A rejected whole at least RUN_MIN_ASPECT heights wide, not
 * in clutter (rec_in_clutter, two even strips), is cut where its ink is thinnest: the columns whose
 * ink is a local minimum, the least inky RUN_MAX_CUTS of them RUN_CUT_GAP heights apart, and its
 * two ends. Every stretch between two cuts RUN_MIN_W to RUN_MAX_W heights wide may be a digit;
 * the blob is read as the chain of stretches from end to end whose readings are all RUN_SURE
 * digits with the highest summed log confidence (dynamic programming over the cuts), when it
 * has RUN_MIN_DIGITS or more. Textures and words of that width are common, so the stretches are
 * read in two rounds: first the RUN_FIRST stretches from the blob's left end to its least inky
 * cuts, then, only for a blob one of those reads as a sure digit, every other. On the tuning sets
 * (robust, 2026-12-06): build/real-tune digits read 76.73 -> 77.41%, numbers 66.59 -> 67.20%,
 * precision 92.14 -> 92.21%; other-tune 82.81 -> 83.58%, numbers 72.66 -> 73.31%, precision 93.62
 * -> 93.45%; world-tune 84.80 -> 85.01%, precision 96.12 -> 96.11%; scenes-tune and the digit-free
 * frames as before. Cutting at even places (k pieces of a k-digit width) read a third of that:
 * pieces that keep a neighbour's stroke are read as not a digit. Two digits too: 0.3 points more of
 * real-tune, but a printed % read as 96; blobs from 1.5 heights: 0.25 points less of other-tune.
 * Network inputs a frame on world-tune: 68% more with every stretch read in one round, 28% with two
 * rounds, 19% with the clutter test first (as shipped; 2-4% more time a frame with fast); the
 * second round is 8% of them. With cut_threes off, world-tune reads 0.05 points less and the other
 * sets as many: this stage reads nearly all it did. Candidates up to 3.5 heights wide
 * (rec_params.max_aspect, 2.5 before), so that runs of four and five digits reach the stage:
 * real-tune 77.41 -> 77.65%, other-tune 83.58 -> 83.67%, world-tune 85.01 -> 85.11%, precision and
 * digit-free frames as before (fast: 0.08 to 0.28 points more), no time measurable. */
static const float RUN_MIN_ASPECT = 1.2f, RUN_MIN_W = 0.12f, RUN_MAX_W = 1.0f, RUN_CUT_GAP = 0.1f;
enum { RUN_MIN_DIGITS = 3, RUN_FIRST = 3 };

static int cmp_int(const void *a, const void *b)
{
    const int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* rp's cuts for ink (w x h, grey levels): see above. */
static void run_cuts(const uint8_t *ink, int w, int h, struct run_plan *rp)
{
    int col[MAX_INK_COLS], minima[MAX_INK_COLS], n_min = 0;
    rp->n_cut = rp->n_st = 0;
    if (!ink_columns(ink, w, h, col))
        return;
    for (int c = 1; c + 1 < w; c++)
        if (col[c] <= col[c - 1] && col[c] <= col[c + 1])
            minima[n_min++] = c;
    const int gap = (int)(RUN_CUT_GAP * (float)h) + 1;
    rp->cut[rp->n_cut++] = 0;
    rp->cut[rp->n_cut++] = w;
    for (int k = 0; k < RUN_MAX_CUTS; k++) {
        int best = -1;
        for (int i = 0; i < n_min; i++) {
            int near = 0;
            for (int j = 0; j < rp->n_cut; j++)
                near |= abs(minima[i] - rp->cut[j]) < gap;
            if (!near && (best < 0 || col[minima[i]] < col[minima[best]]))
                best = i;
        }
        if (best < 0)
            break;
        rp->cut[rp->n_cut++] = minima[best];
    }
    qsort(rp->cut, (size_t)rp->n_cut, sizeof rp->cut[0], cmp_int);
    for (int c = 0; c < rp->n_cut; c++)
        rp->cut_ink[c] = rp->cut[c] < w ? col[rp->cut[c]] : 0;
}

/* Adds rp's stretches RUN_MIN_W to RUN_MAX_W heights wide as network inputs for ink (w x h, its
 * top left at (x, y) in the frame): in the first round (first 1) the RUN_FIRST from column 0 to
 * the least inky cuts, in the second every other. */
static void add_run_inputs(struct rec_scanner *sc, const uint8_t *ink, int w, int h, int x, int y,
                           struct run_plan *rp, int first)
{
    const int last = rp->n_cut - 1;
    const float min_w = RUN_MIN_W * (float)h, max_w = RUN_MAX_W * (float)h;
    if (first)
        memset(rp->first, 0, sizeof rp->first);
    for (int k = 0; first && k < RUN_FIRST; k++) {
        int best = -1;
        for (int b = 1; b < last; b++)
            if (!rp->first[b] && (float)rp->cut[b] >= min_w && (float)rp->cut[b] <= max_w &&
                (best < 0 || rp->cut_ink[b] < rp->cut_ink[best]))
                best = b;
        if (best < 0)
            break;
        rp->first[best] = 1;
    }
    for (int a = 0; a < last; a++)
        for (int b = a + 1; b <= last && rp->n_st < RUN_MAX_STRETCHES; b++) {
            const float sw = (float)(rp->cut[b] - rp->cut[a]);
            if (sw > max_w || (a == 0 && b == last))
                break;
            if (sw < min_w || (a == 0 && rp->first[b]) != first)
                continue;
            const int f =
                add_pieces(sc, ink, w, h, x, y, (const int[2]){rp->cut[a], rp->cut[b]}, 1);
            if (f >= 0)
                rp->st_a[rp->n_st] = a, rp->st_b[rp->n_st] = b, rp->st_in[rp->n_st++] = f;
        }
}

/* A stretch of a run is a digit read RUN_SURE sure: DEEP_SURE (0.9) until the context network
 * (stage 5d) came to judge every reading after this stage. At 0.8 (2026-12-06, robust; read /
 * precision / numbers exactly): world-tune 87.29 / 96.68 / 74.62 -> 87.63 / 96.67 / 74.97%,
 * real-tune 80.22 / 96.01 / 70.24 -> 80.38 / 95.93 / 70.37%, screen-tune 79.52 -> 79.94% read,
 * other-tune, big-tune, scenes-tune and real-empty-tune as before; fast 0.04-0.28 points more
 * read, real-empty-tune 0.110 -> 0.127 false digits a frame. 0.75: as 0.8 but real-tune 80.50%
 * read; 0.6: other-tune's precision 96.17 -> 95.66%, real-empty-tune 0.123.
 * A chain of RUN_UNSURE_DIGITS or more may hold one stretch read under RUN_SURE but at least
 * RUN_UNSURE (2026-12-07): one 0 of a cursive "034000" on a chalkboard, read at 0.22, had kept
 * the five sure digits beside it unread. On the tuning sets (robust) 45 more digits read right and
 * 8 more wrong (world-tune +9 / 0, real-tune +14 / 0, screen-tune +11 / 3, held-tune +2 / 2,
 * words-tune +4 / 0, cam-tune +5 / 3; other, big, form, flat scenes as before), numbers read
 * exactly as many or more, the digit-free frames as before; fast +30 / 1. From chains of three:
 * screen-tune's and held-tune's precision 0.2 points down, words-tune's digit-free frames 0.95
 * -> 1.02 false digits; at 0.3 or 0.5 fewer gained, at 0.1 as many wrong for three more right. */
static const float RUN_SURE = 0.8f, RUN_UNSURE = 0.2f;
enum { RUN_UNSURE_DIGITS = 4 };

static int sure_digit(const struct rec_digit *d)
{
    return d->digit >= 0 && d->confidence >= RUN_SURE;
}

/* Whether a stretch from rp's blob's left end reads as a sure digit. */
static int run_starts_sure(const struct rec_scanner *sc, const struct run_plan *rp)
{
    for (int s = 0; s < rp->n_st; s++)
        if (rp->st_a[s] == 0 && sure_digit(&sc->read[rp->st_in[s]]))
            return 1;
    return 0;
}

/* The best chain of rp's stretches from its first cut to its last, all sure digits, or, in a
 * chain of RUN_UNSURE_DIGITS or more, all but one, read RUN_UNSURE or more (a chain of sure
 * digits is preferred): their inputs into in[] (left to right); returns how many (0: none). The
 * unsure one is kept as the network read it (rejected, when under min_confidence), for stage 5d
 * to judge beside its neighbours; the sure ones no longer wait for it. */
static int best_run(const struct rec_scanner *sc, const struct run_plan *rp, int *in)
{
    /* [c][u]: the best chain from column 0 to cut c with u (0 or 1) unsure stretches */
    double score[RUN_MAX_CUTS + 2][2];
    int from[RUN_MAX_CUTS + 2][2], len[RUN_MAX_CUTS + 2][2];
    for (int c = 0; c < rp->n_cut; c++)
        for (int u = 0; u < 2; u++)
            score[c][u] = c || u ? -INFINITY : 0.0, from[c][u] = -1, len[c][u] = 0;
    for (int a = 0; a < rp->n_cut; a++) /* in column order, so score[a] is final when used */
        for (int u = 0; u < 2; u++) {
            if (score[a][u] == -INFINITY)
                continue;
            for (int s = 0; s < rp->n_st; s++) {
                const struct rec_digit *d = &sc->read[rp->st_in[s]];
                const int b = rp->st_b[s], v_u = u + !sure_digit(d);
                if (rp->st_a[s] != a || v_u > 1 || d->confidence < RUN_UNSURE)
                    continue;
                const double v = score[a][u] + log(d->confidence);
                if (v > score[b][v_u])
                    score[b][v_u] = v, from[b][v_u] = s, len[b][v_u] = len[a][u] + 1;
            }
        }
    const int end = rp->n_cut - 1;
    int u = score[end][0] > -INFINITY ? 0 : 1;
    const int n = len[end][u];
    if (score[end][u] == -INFINITY || n < (u ? RUN_UNSURE_DIGITS : RUN_MIN_DIGITS))
        return 0;
    for (int c = end, k = n - 1; c > 0; k--) {
        const int s = from[c][u];
        in[k] = rp->st_in[s];
        u -= !sure_digit(&sc->read[rp->st_in[s]]);
        c = rp->st_a[s];
    }
    return n;
}

/* Adds round `first`'s stretches of reading i's blob (run plan rp) as network inputs. */
static int add_run_round(struct rec_scanner *sc, const struct vis_image *cg, uint8_t flip, int i,
                         struct run_plan *rp, int first)
{
    const struct rec_plan *pl = &sc->plan[sc->plan_of[i]];
    const struct vis_component *b = &sc->box[pl->cand];
    const int w = b->x1 - b->x0 + 1, h = b->y1 - b->y0 + 1;
    const int rc = crop_plan(sc, cg, flip, pl);
    if (rc)
        return rc;
    if (first)
        run_cuts(sc->crop, w, h, rp);
    add_run_inputs(sc, sc->crop, w, h, b->x0, b->y0, rp, first);
    return DG_OK;
}

/* grey: the frame, for rec_in_clutter; cg: the grey levels the candidates are read from. */
static int cut_runs(struct rec_scanner *sc, const struct vis_image *grey,
                    const struct vis_image *cg, uint8_t flip, struct rec_result *r, int *n)
{
    int n_runs = 0, rc;
    const int first_in = sc->n_in;
    for (int i = 0; i < *n; i++) {
        sc->blob_of[i] = -1;
        const struct rec_box *b = &r->digits[i].box;
        if (n_runs == RUN_MAX_BLOBS || r->digits[i].digit >= 0 || is_piece(sc, i, *n) ||
            (float)b->w < RUN_MIN_ASPECT * (float)b->h ||
            rec_in_clutter(grey, b, REC_CLUTTER_SIDES))
            continue;
        if ((rc = add_run_round(sc, cg, flip, i, &sc->blobs[n_runs], 1)))
            return rc;
        sc->blob_of[i] = n_runs++;
    }
    if (!n_runs)
        return DG_OK;
    read_batch(sc, first_in, sc->n_in - first_in);
    const int second_in = sc->n_in;
    for (int i = 0; i < *n; i++)
        if (sc->blob_of[i] >= 0 && run_starts_sure(sc, &sc->blobs[sc->blob_of[i]]) &&
            (rc = add_run_round(sc, cg, flip, i, &sc->blobs[sc->blob_of[i]], 0)))
            return rc;
    read_batch(sc, second_in, sc->n_in - second_in);
    for (int i = *n - 1; i >= 0; i--) { /* from the end, so insertions move only what is read */
        int in[RUN_MAX_CUTS + 2];
        const int k = sc->blob_of[i] >= 0 ? best_run(sc, &sc->blobs[sc->blob_of[i]], in) : 0;
        if (k >= RUN_MIN_DIGITS && *n + k - 1 <= REC_MAX_CANDIDATES)
            replace_by(sc, r, n, i, in, k);
    }
    return DG_OK;
}

/* Stage 6, reading order: accepted digits in text lines (numbers.c), then the rejected candidates
 * in detection order; numbers from the lines, the rejected candidates splitting them. */
static void group_numbers(struct rec_scanner *sc, struct rec_result *r, int n_in)
{
    struct rec_box *acc_box = sc->acc_box, *marks = sc->marks;
    int acc_idx[REC_MAX_CANDIDATES], n_acc = 0, n_marks = 0;
    for (int i = 0; i < n_in; i++) {
        if (r->digits[i].digit >= 0) {
            acc_idx[n_acc] = i;
            acc_box[n_acc++] = r->digits[i].box;
        } else {
            marks[n_marks++] = r->digits[i].box;
        }
    }
    int line[REC_MAX_CANDIDATES], order[REC_MAX_CANDIDATES], line_of[REC_MAX_CANDIDATES];
    rec_lines(acc_box, n_acc, line, order);
    struct rec_digit *tmp = sc->reorder;
    int t = 0;
    for (int a = 0; a < n_acc; a++) {
        line_of[t] = line[order[a]];
        tmp[t++] = r->digits[acc_idx[order[a]]];
    }
    for (int i = 0; i < n_in; i++)
        if (r->digits[i].digit < 0)
            tmp[t++] = r->digits[i];
    memcpy(r->digits, tmp, (size_t)t * sizeof tmp[0]);
    r->n_digits = n_acc;
    r->n_rejected = n_in - n_acc;
    r->n_numbers =
        rec_numbers(r->digits, n_acc, line_of, marks, n_marks, sc->p.number_gap, r->numbers);
}

/* The grey levels the candidates are cropped from: with p.sharpen, sc->sharp, in which every
 * candidate's box of grey is sharpened (vis_sharpen_box; outside them it is stale), but for boxes
 * over SHARP_MAX pixels tall, copied as they are (strokes that big are wide against the blur, and
 * those boxes took half the stage's time). A camera's blur leaves a small digit's strokes as soft
 * as the paper's texture, and the "not a digit" class then outweighs the digit. Chosen on
 * build/world-tune with the shipped fast model (2026-12-04; amounts 0.4 to 1.0 tried, 0.6 best):
 * digits read 78.46 -> 79.66%, precision 93.46 -> 93.75%, numbers 59.39 -> 60.71%, false digits
 * per empty frame 0.32 -> 0.36; build/scenes-tune 97.18 / 98.94 / 93.77 -> 97.24 / 98.94 / 93.94.
 * Sharpening boxes up to 48 px both ways read 0.1 point more (the boxes over 32 px tall are
 * about 45% of the area sharpened that way); a contrast curve on the crops instead of sharpening
 * read as much but took precision down 1.1-2.1 points. (Found because the world's frames scaled
 * up 1.5 times read 80.25% with cubic interpolation, which sharpens, and 78.40% with linear, which
 * does not.) Sharpening the whole frame before the threshold too read 0.5-0.9 points more but with
 * a fifth more false digits on empty frames, and costs a pass over every pixel. */
enum { SHARP_MAX = 32 };
static int sharpen_boxes(struct rec_scanner *sc, const struct vis_image *grey,
                         const struct vis_image **crop_grey)
{
    *crop_grey = grey;
    if (!(sc->p.sharpen > 0.0f) || !sc->n_cand)
        return DG_OK;
    int rc;
    if (sc->sharp.w != grey->w || sc->sharp.h != grey->h) {
        vis_image_destroy(&sc->sharp);
        if ((rc = vis_image_init(&sc->sharp, grey->w, grey->h)) != DG_OK)
            return rc;
    }
    for (int k = 0; k < sc->n_cand; k++) {
        const struct vis_component *b = &sc->box[k];
        const int w = b->x1 - b->x0 + 1, h = b->y1 - b->y0 + 1;
        if (h > SHARP_MAX) {
            for (int y = b->y0; y <= b->y1; y++)
                memcpy(sc->sharp.px + (size_t)y * grey->w + b->x0,
                       grey->px + (size_t)y * grey->w + b->x0, (size_t)w);
            continue;
        }
        if ((rc = dg_grow((void **)&sc->sharp_tmp, &sc->sharp_tmp_cap, VIS_SHARPEN_SCRATCH(w, h),
                          sizeof *sc->sharp_tmp)))
            return rc;
        vis_sharpen_box(grey, b->x0, b->y0, w, h, sc->p.sharpen, sc->sharp.px, sc->sharp_tmp);
    }
    *crop_grey = &sc->sharp;
    return DG_OK;
}

/* Every stage, for ink of polarity pol. */
static int read_as(struct rec_scanner *sc, const struct vis_image *grey, enum vis_polarity pol,
                   struct rec_result *r)
{
    memset(r, 0, offsetof(struct rec_result, digits));
    r->n_numbers = 0;
    r->width = grey->w, r->height = grey->h;
    int rc;
    if ((rc = find_ink(sc, grey, pol, r)))
        return rc;
    const uint8_t flip = r->polarity == VIS_POLARITY_LIGHT_ON_DARK ? 255 : 0;
    const struct vis_image *cg;
    if ((rc = find_candidates(sc)) || (rc = sharpen_boxes(sc, grey, &cg)) ||
        (rc = read_wholes(sc, cg, flip)) || (rc = read_cuts(sc, cg, flip)) ||
        (rc = read_deeper(sc, cg, flip)))
        return rc;
    int n = choose_readings(sc, r);
    rec_accept_beside_digits(r->digits, n);
    if ((rc = cut_beside_digits(sc, cg, flip, r, &n)) ||
        (sc->p.cut_again && (rc = cut_pieces_again(sc, cg, flip, r, &n))) ||
        (sc->p.cut_threes && (rc = cut_threes(sc, cg, flip, r, &n))) ||
        (sc->p.cut_runs && (rc = cut_runs(sc, grey, cg, flip, r, &n))))
        return rc;
    if (sc->again) /* the first reading's sure readings stage 7 found again (known_before) */
        for (int k = 0; k < sc->n_known && n < REC_MAX_CANDIDATES; k++)
            r->digits[n++] = sc->first_reading->digits[sc->known[k]];
    if (!sc->wide_pass)
        rec_rescue_by_context(sc, grey, r, n);
    if (!sc->crop_image) { /* a crop has no surroundings to judge a reading by */
        rec_reject_by_context(sc, grey, r, n);
        if (!sc->wide_pass)
            rec_check_context(sc, grey, r, n);
        if (!sc->p.keep_lone_ones)
            rec_reject_lone_ones(r->digits, n, sc->p.lone_one_sure);
    }
    group_numbers(sc, r, n);
    return DG_OK;
}

/* A frame read both ways keeps the reading with more digits the network is READ_SURE of (the
 * wrong way finds the paper between strokes and the sheet's outline, and reads few of them), then
 * the larger sum of confidences. On build/world-tune (training digits, shipped fast model,
 * 2026-12-03) this chose the better way on every one of its 45 unsure frames, as any of the
 * counts tried did (readings, sure readings at 0.9 or 0.99, digits in numbers). Read as dark ink,
 * those whose ink was light had no sure digit, those whose ink was dark had at least two when they
 * had any digit: ENOUGH_SURE dark digits stop the second reading. */
static const float READ_SURE = 0.9f;
enum { ENOUGH_SURE = 2 };

static int sure_digits(const struct rec_result *r, float *sum)
{
    int n = 0;
    *sum = 0.0f;
    for (int i = 0; i < r->n_digits; i++)
        n += r->digits[i].confidence >= READ_SURE, *sum += r->digits[i].confidence;
    return n;
}

/* *to = *from, copying only the entries in use (a result is about 4 MB). */
static void copy_result(struct rec_result *to, const struct rec_result *from)
{
    memcpy(to, from, offsetof(struct rec_result, digits));
    memcpy(to->digits, from->digits,
           (size_t)(from->n_digits + from->n_rejected) * sizeof from->digits[0]);
    to->n_numbers = from->n_numbers;
    memcpy(to->numbers, from->numbers, (size_t)from->n_numbers * sizeof from->numbers[0]);
    to->polarity = from->polarity;
    to->width = from->width, to->height = from->height;
}

/* Stage 7, the ink again: one threshold cannot suit every stroke in a camera's view. A faint
 * pencil digit beside bold print falls under the share of the strongest stroke nearby and breaks
 * up; digits written close and blurred run into one blob that a stricter share would part. So the
 * ink is found again at each of rec_params.again_shares (the same polarity), read through every
 * stage, and a reading again_sure (0.99) there is kept where the first reading has no digit, or
 * only digits it is unsure of (under READ_SURE: they make way, as do rejected candidates it
 * overlaps, which would otherwise split a number as marks). Candidates "overlap" when they share
 * more than AGAIN_OVERLAP of the smaller box. Chosen on the tuning sets (2026-12-06; digits read /
 * precision, one pass at 0.5 then one at 0.15 against none, robust; fast's gains were 0.9-1.6
 * points): build/world-tune 85.11 / 96.16 -> 87.00 / 96.38%, build/real-tune 77.65 / 92.72 -> 79.98
 * / 92.44%, build/other-tune 83.67 / 93.72 -> 85.14 / 93.78%, build/scenes-tune 97.46 / 99.38 ->
 * 97.79 / 99.42%; false digits per frame on build/real-empty-tune 0.31 -> 0.34. The passes are
 * chances, not a search: one more pass at 0.4 alone read 0.7 points more of build/world-tune, a
 * 0.5 and a 0.15 pass about one each and together 1.8; other thresholds' windows (20 and 80 px)
 * or contrasts (10 and 24 grey levels) added less. A bar of 0.999 kept the precision but read only
 * half as much more. A frame whose first reading turned fewer than AGAIN_AFTER candidates of a
 * legible digit's height down is not read again: on build/scenes-tune (the sheet fills the frame)
 * 175 of its 200 frames, which held 6 of the 17 digits the passes read there (robust: 97.79 ->
 * 97.67%; none without a rejected candidate), and the flat scan benchmark keeps its median
 * (robust 1.88 ms before the stage, 2.69 when every frame was read again, 1.87); in the camera's
 * view 95-98% of the frames are read again, and the tuning sets read as many digits. */
static const float AGAIN_OVERLAP = 0.1f;
enum { AGAIN_AFTER = 2 };

static int overlaps(struct rec_box a, struct rec_box b)
{
    return rec_box_overlap(a, b) > AGAIN_OVERLAP;
}

static int centre_in(struct rec_box a, struct rec_box b)
{
    const int cx = a.x + a.w / 2, cy = a.y + a.h / 2;
    return cx >= b.x && cx < b.x + b.w && cy >= b.y && cy < b.y + b.h;
}

/* Stage 8: whether e, a digit of the first reading, is beside reading d rather than on it: a
 * sure digit, neither box's centre inside the other. The 1 of a big "18" overlaps the 8's box by
 * a third: it had kept the 8 out (build/big-tune, 2026-12-07, robust: 79.80 -> 81.33% read,
 * precision 96.89 -> 97.25%, numbers 73.86 -> 75.76%; every other tuning set as before; with the
 * 1's centre alone, a 6 inside a wide 9 was taken as well). */
static int beside(const struct rec_digit *e, const struct rec_digit *d)
{
    return e->digit >= 0 && e->confidence >= READ_SURE && !centre_in(e->box, d->box) &&
           !centre_in(d->box, e->box);
}

/* Adds the sure readings of o to r's n candidates (any order: stage 6 orders them) as the comment
 * above says; returns the new count. With block > 0 (stage 8), a sure digit of r whose box is
 * under `block` times the reading's in area does not keep it out but makes way too (a piece of a
 * big digit), unless there are two or more (digits of a number the reading took together), and a
 * sure digit beside the reading neither keeps it out nor makes way. */
static int add_sure_readings(struct rec_result *r, int n, const struct rec_result *o, float sure,
                             float block)
{
    for (int i = 0; i < o->n_digits; i++) {
        const struct rec_digit *d = &o->digits[i];
        if (d->digit < 0 || d->confidence < sure)
            continue;
        int blocked = 0, sure_under = 0;
        for (int k = 0; k < n && !blocked; k++) {
            const struct rec_digit *e = &r->digits[k];
            if (e->digit < 0 || e->confidence < READ_SURE || !overlaps(e->box, d->box) ||
                (block > 0.0f && beside(e, d)))
                continue;
            sure_under++;
            blocked = (double)e->box.w * e->box.h >= block * (double)d->box.w * d->box.h;
        }
        if (blocked || sure_under >= 2)
            continue;
        for (int k = 0; k < n;)
            if (overlaps(r->digits[k].box, d->box) && !(block > 0.0f && beside(&r->digits[k], d)))
                r->digits[k] = r->digits[--n];
            else
                k++;
        if (n < REC_MAX_CANDIDATES)
            r->digits[n++] = *d;
    }
    return n;
}

static int read_again(struct rec_scanner *sc, const struct vis_image *grey, struct rec_result *r)
{
    const struct rec_params p = sc->p;
    int turned_down = 0;
    for (int i = r->n_digits; i < r->n_digits + r->n_rejected; i++)
        turned_down += r->digits[i].box.h >= REC_LEGIBLE_PX;
    if (!looks_again(&p) || turned_down < AGAIN_AFTER)
        return DG_OK;
    if (!sc->other && !(sc->other = malloc(sizeof *sc->other)))
        return dg_fail(DG_ENOMEM, "out of memory");
    /* the first reading's mask stays the scanner's */
    struct vis_image first_mask = sc->mask;
    sc->mask = sc->other_mask;
    int rc = DG_OK, n = r->n_digits + r->n_rejected;
    const enum vis_polarity pol = r->polarity;
    for (int k = 0; k < REC_AGAIN_PASSES && rc == DG_OK; k++) {
        if (p.again_shares[k] <= 0.0f)
            continue;
        sc->p.threshold.share = p.again_shares[k];
        sc->again = 1;
        sc->first_reading = r;
        if ((rc = read_as(sc, grey, pol, sc->other)) == DG_OK)
            n = add_sure_readings(r, n, sc->other, p.again_sure, 0.0f);
    }
    sc->p = p;
    sc->again = 0;
    sc->first_reading = NULL;
    sc->other_mask = sc->mask;
    sc->mask = first_mask;
    if (rc == DG_OK)
        group_numbers(sc, r, n);
    return rc;
}

/* The answers of the image read so far become the last frame's (rec_params.reuse); without reuse
 * none are kept for the next image (stage 7 keeps a still's own for its passes), so a scanner that
 * reads stills between frames starts the next frame afresh. */
static int start_frame(struct rec_scanner *sc)
{
    sc->n_inputs = sc->n_reused = 0;
    sc->n_ctx_asked = sc->n_ctx_reused = 0;
    sc->again = 0;
    if (sc->p.reuse <= 0.0f || !sc->video) /* a still between frames: the next starts afresh */
        sc->n_seen[0] = sc->n_seen[1] = sc->n_ctx_seen[0] = sc->n_ctx_seen[1] = 0;
    sc->video = sc->p.reuse > 0.0f;
    sc->keep = sc->video || looks_again(&sc->p);
    if (!sc->keep)
        return DG_OK;
    for (int k = 0; k < 2; k++)
        if ((!sc->seen[k] && !(sc->seen[k] = malloc(REC_MAX_SEEN * sizeof *sc->seen[k]))) ||
            (!sc->seen_x[k] &&
             !(sc->seen_x[k] = malloc((size_t)REC_MAX_SEEN * 784 * sizeof *sc->seen_x[k]))))
            return dg_fail(DG_ENOMEM, "out of memory");
    if (!sc->fresh_x && !(sc->fresh_x = malloc((size_t)REC_BATCH * 784 * sizeof *sc->fresh_x)))
        return dg_fail(DG_ENOMEM, "out of memory");
    for (int k = 0; k < 2 && sc->video && sc->ctx_inf; k++)
        if ((!sc->ctx_seen[k] &&
             !(sc->ctx_seen[k] = malloc(REC_CTX_SEEN * sizeof *sc->ctx_seen[k]))) ||
            (!sc->ctx_seen_patch[k] &&
             !(sc->ctx_seen_patch[k] = malloc((size_t)REC_CTX_SEEN * 784))))
            return dg_fail(DG_ENOMEM, "out of memory");
    sc->last = !sc->last;
    sc->n_seen[!sc->last] = sc->n_ctx_seen[!sc->last] = 0;
    return DG_OK;
}

/* The polarity is guessed from the whole frame (vis_guess_polarity); an unsure guess (light ink,
 * but dark departures there too: a bright sheet on a dark desk looks like chalk) is read as dark
 * ink. When the guess finds fewer than `enough` (ENOUGH_SURE) sure digits, the frame is read the
 * other way too, and that reading is kept when it has at least `enough` sure digits and more than
 * the first (as many: a larger sum of confidences). Reading unsure frames both ways read 3.1 points
 * more of build/world-tune's digits than the test it replaced (2026-12-03). A sure guess is wrong
 * too where a board or card of the other polarity lies among things that decide the frame (chalk
 * on a grey board under a dark printed line and a dark desk: not one digit found): reading those
 * the other way as well read 79.66 -> 79.97% of build/world-tune's digits (its chalkboards 71.9 ->
 * 75.2%), 77.03 -> 77.64% of build/world-cross's; the floor of ENOUGH_SURE on the second reading,
 * which the unsure frames did without before, took false digits per digit-free frame from 0.36 to
 * 0.30 and 0.24 to 0.22 (2026-12-05). Stage 8 asks for one sure digit: a digit drawn large is
 * often alone in its picture.
 * read_frame reads grey so into r (not sc->other, which holds the other polarity's reading),
 * through stages 1 to 6. */
static int read_frame(struct rec_scanner *sc, const struct vis_image *grey, struct rec_result *r,
                      int enough)
{
    enum vis_polarity pol = sc->p.threshold.polarity;
    const int guessed = pol == VIS_POLARITY_AUTO;
    int sure = 1, rc;
    if (guessed && (rc = vis_guess_polarity(grey, sc->vwk, &pol, &sure)))
        return rc;
    if (!sure)
        pol = VIS_POLARITY_DARK_ON_LIGHT;
    if ((rc = read_as(sc, grey, pol, r)))
        return rc;
    if (!guessed)
        return DG_OK;
    float sum_first, sum_other;
    const int n_first = sure_digits(r, &sum_first);
    if (n_first >= enough)
        return DG_OK;
    if (!sc->other && !(sc->other = malloc(sizeof *sc->other)))
        return dg_fail(DG_ENOMEM, "out of memory");
    struct vis_image first_mask = sc->mask;
    sc->mask = sc->other_mask;
    sc->other_mask = first_mask;
    const enum vis_polarity other =
        pol == VIS_POLARITY_DARK_ON_LIGHT ? VIS_POLARITY_LIGHT_ON_DARK : VIS_POLARITY_DARK_ON_LIGHT;
    if ((rc = read_as(sc, grey, other, sc->other)))
        return rc;
    const int n_other = sure_digits(sc->other, &sum_other);
    if (n_other >= enough && (n_other > n_first || (n_other == n_first && sum_other > sum_first))) {
        copy_result(r, sc->other);
        return DG_OK;
    }
    sc->other_mask = sc->mask; /* the first reading's mask stays the scanner's */
    sc->mask = first_mask;
    return DG_OK;
}

/* The scan's height range for a digit in an image of this shorter side. */
static void set_heights(struct rec_scanner *sc, int short_side)
{
    sc->min_h = (int)fminf(sc->p.min_height_frac * (float)short_side, REC_LEGIBLE_PX);
    sc->max_h = (int)(sc->p.max_height_frac * short_side);
}

/* Stage 8, wide strokes: the paper behind the ink is closed over strokes up to a sixteenth of the
 * shorter side wide, so a digit drawn large with a thick pen (a number on a sheet held up to the
 * camera, a marker's digit filling a photo, a digit drawn on a screen) is paper inside its strokes
 * and only specks of its outline are ink: nothing is read, or a piece of it. So the frame is
 * shrunk by a whole factor to about WIDE_SIDE pixels on its shorter side and read again, every
 * stage, with strokes up to rec_params.wide_stroke of the side closed over and digits WIDE_MIN_H
 * to WIDE_MAX_H of it tall, the other polarity too when the first has no sure digit (a lone digit
 * is common here); its readings at least wide_sure are kept as stage 7 keeps its own, except that
 * a sure digit of the first reading under WIDE_BLOCK of the reading's area makes way (a piece of
 * the big digit) unless two or more do (the digits of a number, read as one). Chosen on
 * build/big-tune (tools/othergen.py --big 1, training digits: 300 close-ups, a quarter drawn on a
 * flat canvas; 2026-12-06, digits read / precision, robust). On a first version of the set
 * (digits up to 0.7 of the frame, brushes up to 1.2 px a side per 20 px of height): without the
 * stage 40.58 / 71.76%; strokes up to 0.25 of a 160 px side, readings at 0.99: 74.87 / 86.67%; at
 * 0.9: 79.58 / 87.61%; pieces making way: 81.41 / 89.63%; strokes up to 0.15 (0.1: 75.9%,
 * 0.125-0.2: 83.5-85.3%, 0.3: 79.8%) on a 120 px side (100: 84.6%, 160: 84.0%, 200: 83.5%): 86.13
 * / 90.88%; two sure digits keeping their place (fast read other-tune 0.7 points less without
 * that): 85.86 / 90.36%. The set made wider (digits up to 0.8 of the frame, brushes up to 2 px,
 * markers up to 1.5; a check on test digits drawn as on a screen read 77% of them at 0.15 and
 * 92% at 0.2): without the stage 33.25 / 65.33%; strokes up to 0.15: 78.52 / 86.48%, 0.2: 79.28
 * / 86.11%, 0.25: 78.26%, 0.3: 78.01%. The tuning sets of the camera's view read as before
 * (build/world-tune 87.00 / 96.38% both, real-tune 79.98 / 92.44 -> 80.02 / 92.23%, other-tune
 * 85.14 -> 85.22%, scenes-tune 97.67 -> 97.73%; false digits per digit-free frame on
 * real-empty-tune 0.340 -> 0.347); a 640x480 frame of the camera view costs 0.4 ms more (fast, one
 * thread: 3.2 -> 3.6 ms median looking once). */
enum { WIDE_SIDE = 120 };
static const float WIDE_MIN_H = 0.2f, WIDE_MAX_H = 0.95f, WIDE_BLOCK = 0.5f;

static void swap_images(struct vis_image *a, struct vis_image *b)
{
    const struct vis_image t = *a;
    *a = *b;
    *b = t;
}

/* The images sized for the frame (the masks and the sharpened picture) out, stage 8's in, or back.
 */
static void swap_wide_images(struct rec_scanner *sc)
{
    swap_images(&sc->mask, &sc->wide_mask);
    swap_images(&sc->other_mask, &sc->wide_other_mask);
    swap_images(&sc->sharp, &sc->wide_sharp);
}

static int read_wide(struct rec_scanner *sc, const struct vis_image *grey, struct rec_result *r)
{
    const struct rec_params p = sc->p;
    const int short_side = grey->w < grey->h ? grey->w : grey->h;
    if (!(p.wide_stroke > 0.0f) || short_side < 28)
        return DG_OK;
    const int f = short_side / WIDE_SIDE > 1 ? short_side / WIDE_SIDE : 1;
    if (!sc->wide && !(sc->wide = malloc(sizeof *sc->wide)))
        return dg_fail(DG_ENOMEM, "out of memory");
    int rc;
    const struct vis_image *small = grey;
    if (f > 1) {
        if ((rc = dg_grow((void **)&sc->wide_sum, &sc->wide_sum_cap, (size_t)grey->w,
                          sizeof *sc->wide_sum)) ||
            (rc = vis_image_shrink(grey, f, &sc->wide_grey, sc->wide_sum)))
            return rc;
        small = &sc->wide_grey;
    }
    swap_wide_images(sc);
    sc->p.threshold.max_stroke = p.wide_stroke;
    const int small_side = small->w < small->h ? small->w : small->h;
    sc->min_h = (int)(WIDE_MIN_H * (float)small_side);
    sc->max_h = (int)(WIDE_MAX_H * (float)small_side);
    sc->wide_pass = 1;
    rc = read_frame(sc, small, sc->wide, 1);
    sc->wide_pass = 0;
    sc->p = p;
    set_heights(sc, short_side);
    swap_wide_images(sc);
    if (rc != DG_OK)
        return rc;
    struct rec_result *o = sc->wide;
    for (int i = 0; i < o->n_digits; i++) {
        struct rec_box *b = &o->digits[i].box;
        b->x *= f, b->y *= f, b->w *= f, b->h *= f;
    }
    const int n = add_sure_readings(r, r->n_digits + r->n_rejected, o, p.wide_sure, WIDE_BLOCK);
    group_numbers(sc, r, n);
    return DG_OK;
}

/* A small image (a digit or a number cropped tight, MNIST's own 28x28) is read enlarged by the
 * whole factor that brings its shorter side to SMALL_SIDE or more, its results' boxes shrunk
 * back: at 28x28 the threshold's window and closing are two pixels and strokes fall apart. The
 * first 100 MNIST test digits as 28x28 images, either polarity, read alone and right 59-63%, at
 * 64x64 92-93%, at 128x128 94% (robust, 2026-12-07), and enlarged from 28 to 84 92-94%. An image
 * that small is a crop, not a view: its polarity is its border's (vis_border_polarity, as predict
 * takes it: a white 1 on black read dark first found nothing, and read light was under the two
 * sure digits a frame needs for the other polarity), and the rules that judge a reading by its
 * surroundings (context.c's edges, words, frames, clutter and the frame's border, the context
 * network, lone 1s) are not asked: they turned down lone 1s and a 7 touching the crop's edge.
 * With both, 100 of 100 either way. An enlarged image has at most SMALL_MAX_PIXELS (a sliver is
 * read as it is). */
enum { SMALL_SIDE = 64, SMALL_MAX_PIXELS = 1 << 20 };

static void shrink_box(struct rec_box *b, int f)
{
    const int x1 = (b->x + b->w + f - 1) / f, y1 = (b->y + b->h + f - 1) / f;
    b->x /= f, b->y /= f;
    b->w = x1 - b->x, b->h = y1 - b->y;
}

static int read_image(struct rec_scanner *sc, const struct vis_image *grey, struct rec_result *r)
{
    int rc = start_frame(sc);
    if (rc)
        return rc;
    set_heights(sc, grey->w < grey->h ? grey->w : grey->h);
    if ((rc = read_frame(sc, grey, r, ENOUGH_SURE)) || (rc = read_again(sc, grey, r)))
        return rc;
    return read_wide(sc, grey, r);
}

/* A camera short of light gains its frames up, and its noise with them: at a share of 0.04 of the
 * paper's level (sigma 8 on white paper) its grain joins neighbouring digits and speckles their
 * inputs, and world-tune's digits read fell from 89.5 to 79.5% (100 frames, robust, 2026-12-07);
 * smoothed by vis_image_smooth first, 86.1%. 0.35 of the exposure with sigma 4 read 71.3%,
 * and 83.6% smoothed (with vis_threshold's contrast scaled to the dim paper). The smoothing
 * blurs thin strokes a little (the same frames without noise: 89.5 -> 88.9% when all were
 * smoothed), so only a frame whose noise is at least rec_params.denoise (0.035) of its paper's
 * level is: the tuning sets' frames read as before to within 0.1 point (at 0.03 a few grainy
 * photographs were smoothed too, their grain no longer the texture that keeps an object out).
 * A camera out of focus runs neighbouring digits together and fades thin strokes: a frame at
 * least rec_params.deblur (0.42) blurred both ways (vis_blur_share) is read through an unsharp
 * mask of FRAME_SHARPEN. On build/cam-tune (robust, 2026-12-07) 76.91 -> 78.03% of the digits
 * read, its defocused frames 71.2 -> 75.2%, half-size ones 81.3 -> 82.1%; the other tuning sets
 * within 0.3 point (big-tune 83.12 -> 82.86%, precision 97.31 -> 97.89%). Amount 1.0 or 1.5 read
 * as many on cam-tune and cost held-tune and form-tune 0.4-0.5 points; blur judged by the more
 * blurred direction (a smear too) read as many on cam-tune, but an isotropic mask does not undo
 * a smear (the report set's smeared frames 69.8 -> 67.2%). Sharpening every frame costs frames in
 * focus (amount 0.5: world-tune's first 100 frames 89.5 -> 88.4%). */
static const float FRAME_SHARPEN = 0.7f;
/* The mask's 9-tap blur restores a pixel or two of blur, a webcam frame's. A photo of several
 * megapixels, its digits tens of pixels tall, is not held back by that, and its pixels are soft
 * by nature: 12 world-tune frames enlarged to 3840x2880 read 89.5% as they are, 87.5% sharpened.
 * So only an image up to 1080 px on its shorter side is sharpened. */
enum { DEBLUR_MAX_SIDE = 1080 };

/* In a video (rec_params.reuse) a frame's noise and blur are judged by their running means over
 * the frames (weight FRAME_MEAN_NEW for the newest) and the smoothing or sharpening switches only
 * when the mean passes its bar by FRAME_SWITCH: a hand-held camera's frames straddle a bar, and
 * a view read one way and then the other changes its readings (the desk video's shown numbers
 * changed in 5 frame pairs of 168 instead of 2 when each frame was judged alone). */
static const float FRAME_MEAN_NEW = 0.2f, FRAME_SWITCH = 0.02f;

/* A frame's measure v as it is judged: in a still v itself (and a video after it starts afresh),
 * in a video the running mean *mean (< 0: none yet) with v. */
static float judged(float v, int video, float *mean)
{
    if (!video) {
        *mean = -1.0f;
        return v;
    }
    *mean = *mean < 0.0f ? v : (1.0f - FRAME_MEAN_NEW) * *mean + FRAME_MEAN_NEW * v;
    return *mean;
}

/* Whether a frame whose judged measure is m should be treated against bar: a still by m alone, a
 * video frame with the last frame's answer *on as well. */
static int past_bar(float m, float bar, int video, int *on)
{
    *on = m >= (!video ? bar : *on ? bar - FRAME_SWITCH : bar + FRAME_SWITCH);
    return *on;
}

/* The hints for the person holding the camera (rec_camera): the paper's light under HINT_DARK
 * grey levels, noise or blur past the bars at which the reader smooths or sharpens a still
 * (rec_default_params' denoise and deblur); a frame read as light ink on a dark board is not held
 * to the light. On build/cam (2026-12-07, robust): "dark" on 35 of its 48 frames left dark (a
 * fifth to a half of the light) and 3 of 43 half-size ones (chalkboards), on none in good light;
 * "noisy" on 12 of 39 gained-up frames and 9 of 42 dark and gained-up ones; "blurred" on 25 of 41
 * defocused frames, 19 of 43 smeared, 20 of 43 half-size (enlarged) and 8 of 44 in good light
 * (the world's own camera blur). In a video a hint stops only when its measure is HINT_BACK back
 * over the bar (a share of it), so it does not blink. */
enum { HINT_DARK = 80 };
static const float HINT_NOISE = 0.035f, HINT_BLUR = 0.42f, HINT_BACK = 0.1f;

const char *rec_hint_text(unsigned hints)
{
    return hints & REC_HINT_DARK    ? "dim light: more light on the paper helps"
           : hints & REC_HINT_NOISY ? "grainy picture: more light on the paper helps"
           : hints & REC_HINT_BLURRED
               ? "blurred: hold the paper still, a little further from the camera"
               : "";
}

/* v's hints; in a video (last: the last frame's) with HINT_BACK's margin for those that hold. */
static unsigned camera_hints(const struct rec_camera *v, enum vis_polarity polarity, int video,
                             unsigned last)
{
    const float dark =
        (float)HINT_DARK * (video && (last & REC_HINT_DARK) ? 1.0f + HINT_BACK : 1.0f);
    const float noise = HINT_NOISE * (video && (last & REC_HINT_NOISY) ? 1.0f - HINT_BACK : 1.0f);
    const float blur = HINT_BLUR * (video && (last & REC_HINT_BLURRED) ? 1.0f - HINT_BACK : 1.0f);
    unsigned h = 0;
    if (v->light >= 0.0f && v->light < dark && polarity != VIS_POLARITY_LIGHT_ON_DARK)
        h |= REC_HINT_DARK;
    if (v->noise >= noise)
        h |= REC_HINT_NOISY;
    if (v->blur >= blur)
        h |= REC_HINT_BLURRED;
    return h;
}

/* *grey becomes sc's smoothed copy of it when it is noisy (rec_params.denoise), or its sharpened
 * copy when it is blurred (rec_params.deblur); as it is otherwise. *cam gets the frame's light,
 * noise and blur as judged (rec_camera; hints are set once the polarity is known). */
static int prepare_frame(struct rec_scanner *sc, const struct vis_image **grey,
                         struct rec_camera *cam)
{
    const struct vis_image *g = *grey;
    const int video = sc->p.reuse > 0.0f;
    int rc = DG_OK;
    int light;
    cam->noise = judged(vis_noise_share(g, &light), video, &sc->noise_mean);
    cam->light = judged((float)light, video, &sc->light_mean);
    cam->blur = judged(vis_blur_share(g), video, &sc->blur_mean);
    cam->hints = 0;
    if (sc->p.denoise > 0.0f && past_bar(cam->noise, sc->p.denoise, video, &sc->smoothing)) {
        rc = dg_grow((void **)&sc->smooth_col, &sc->smooth_col_cap, (size_t)g->w,
                     sizeof *sc->smooth_col);
        if (rc == DG_OK)
            rc = vis_image_smooth(g, &sc->frame, sc->smooth_col);
    } else if (sc->p.deblur > 0.0f && (g->w < g->h ? g->w : g->h) <= DEBLUR_MAX_SIDE &&
               past_bar(cam->blur, sc->p.deblur, video, &sc->sharpening)) {
        rc = dg_grow((void **)&sc->sharp_tmp, &sc->sharp_tmp_cap, VIS_SHARPEN_SCRATCH(g->w, g->h),
                     sizeof *sc->sharp_tmp);
        if (rc == DG_OK)
            rc = vis_image_fit(&sc->frame, g->w, g->h);
        if (rc == DG_OK)
            vis_sharpen_box(g, 0, 0, g->w, g->h, FRAME_SHARPEN, sc->frame.px, sc->sharp_tmp);
    } else {
        return DG_OK;
    }
    if (rc == DG_OK)
        *grey = &sc->frame;
    return rc;
}

int rec_scan(struct rec_scanner *sc, const struct vis_image *grey, struct rec_result *r)
{
    const int short_side = grey->w < grey->h ? grey->w : grey->h;
    const int f = short_side > 0 ? (SMALL_SIDE + short_side - 1) / short_side : 1;
    if (f <= 1 || (double)grey->w * grey->h * f * f > SMALL_MAX_PIXELS) {
        struct rec_camera cam;
        int rc = prepare_frame(sc, &grey, &cam);
        if (rc == DG_OK)
            rc = read_image(sc, grey, r);
        if (rc != DG_OK)
            return rc;
        const int video = sc->p.reuse > 0.0f;
        cam.hints = camera_hints(&cam, r->polarity, video, sc->hints);
        sc->hints = video ? cam.hints : 0;
        r->camera = cam;
        return DG_OK;
    }
    int rc = vis_image_enlarge(grey, f, &sc->enlarged);
    sc->crop_image = 1;
    const enum vis_polarity pol = sc->p.threshold.polarity;
    if (pol == VIS_POLARITY_AUTO)
        sc->p.threshold.polarity = vis_border_polarity(grey);
    if (rc == DG_OK)
        rc = read_image(sc, &sc->enlarged, r);
    sc->p.threshold.polarity = pol;
    sc->crop_image = 0;
    if (rc != DG_OK)
        return rc;
    for (int i = 0; i < r->n_digits + r->n_rejected; i++)
        shrink_box(&r->digits[i].box, f);
    for (int i = 0; i < r->n_numbers; i++)
        shrink_box(&r->numbers[i].box, f);
    r->width = grey->w, r->height = grey->h;
    r->camera = (struct rec_camera){-1.0f, -1.0f, -1.0f, 0};
    return DG_OK;
}

void rec_scanner_set_params(struct rec_scanner *sc, const struct rec_params *p)
{
    sc->p = *p;
}

void rec_scanner_counts(const struct rec_scanner *sc, int *inputs, int *reused)
{
    *inputs = sc->n_inputs;
    *reused = sc->n_reused;
}

void rec_scanner_context_counts(const struct rec_scanner *sc, int *asked, int *reused)
{
    *asked = sc->n_ctx_asked;
    *reused = sc->n_ctx_reused;
}

/* "top3": [[digit, p], ...] of d. */
static void top3_write_json(struct dg_jw *w, const struct rec_digit *d)
{
    dg_jw_key(w, "top3");
    dg_jw_array(w);
    for (int t = 0; t < 3; t++) {
        dg_jw_array(w);
        dg_jw_int(w, d->top3[t]);
        dg_jw_num(w, d->top3_p[t], 4);
        dg_jw_end(w);
    }
    dg_jw_end(w);
}

void rec_rejected_write_json(struct dg_jw *w, const struct rec_result *r)
{
    dg_jw_key(w, "rejected");
    dg_jw_array(w);
    for (int i = r->n_digits; i < r->n_digits + r->n_rejected; i++) {
        const struct rec_digit *d = &r->digits[i];
        dg_jw_object(w);
        rec_box_write_json(w, "box", d->box);
        dg_jw_key(w, "why");
        dg_jw_str(w, rec_why_name(d->why));
        top3_write_json(w, d);
        dg_jw_key(w, "not_digit");
        dg_jw_num(w, d->junk, 4);
        dg_jw_key(w, "two_digits");
        dg_jw_num(w, d->two, 4);
        dg_jw_end(w);
    }
    dg_jw_end(w);
}

/* `"camera": {...}` of c, when it was measured. */
static void camera_write_json(struct dg_jw *w, const struct rec_camera *c)
{
    if (c->light < 0.0f)
        return;
    dg_jw_key(w, "camera");
    dg_jw_object(w);
    dg_jw_key(w, "light");
    dg_jw_num(w, c->light, 1);
    dg_jw_key(w, "noise");
    dg_jw_num(w, c->noise, 4);
    dg_jw_key(w, "blur");
    dg_jw_num(w, c->blur, 3);
    dg_jw_key(w, "hints");
    dg_jw_array(w);
    static const char *const names[] = {"dark", "noisy", "blurred"};
    for (int k = 0; k < 3; k++)
        if (c->hints & (1u << k))
            dg_jw_str(w, names[k]);
    dg_jw_end(w);
    if (c->hints) {
        dg_jw_key(w, "advice");
        dg_jw_str(w, rec_hint_text(c->hints));
    }
    dg_jw_end(w);
}

void rec_result_write_json(struct dg_jw *w, const struct rec_result *r)
{
    dg_jw_key(w, "digits");
    dg_jw_array(w);
    for (int i = 0; i < r->n_digits; i++) {
        const struct rec_digit *d = &r->digits[i];
        dg_jw_object(w);
        dg_jw_key(w, "digit");
        dg_jw_int(w, d->digit);
        dg_jw_key(w, "confidence");
        dg_jw_num(w, d->confidence, 4);
        top3_write_json(w, d);
        rec_box_write_json(w, "box", d->box);
        dg_jw_end(w);
    }
    dg_jw_end(w);
    dg_jw_key(w, "numbers");
    dg_jw_array(w);
    for (int i = 0; i < r->n_numbers; i++) {
        const struct rec_number *nb = &r->numbers[i];
        dg_jw_object(w);
        dg_jw_key(w, "text");
        dg_jw_str(w, nb->text);
        dg_jw_key(w, "confidence");
        dg_jw_num(w, nb->confidence, 4);
        rec_box_write_json(w, "box", nb->box);
        dg_jw_end(w);
    }
    dg_jw_end(w);
    camera_write_json(w, &r->camera);
}

void rec_box_write_json(struct dg_jw *w, const char *key, struct rec_box b)
{
    dg_jw_key(w, key);
    dg_jw_array(w);
    dg_jw_int(w, b.x);
    dg_jw_int(w, b.y);
    dg_jw_int(w, b.w);
    dg_jw_int(w, b.h);
    dg_jw_end(w);
}
