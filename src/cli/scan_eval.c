/* scan_eval.c - `digits scan-eval TRUTH.jsonl`: scans every image named in a truth file (as
 * written by tools/scenegen or tools/worldgen) and scores the readings: a truth digit is read when
 * an accepted digit's box overlaps it with IoU >= 0.5 and the label is right (each reading matches
 * at most one truth digit); precision is the share of accepted digits that read a truth digit; a
 * number is read exactly when a reading has the same text and its box overlaps with IoU >= 0.5.
 * Truth marked "ignore" (cut by the frame's edge, under a hand) counts neither way: it is not
 * expected, and a reading on it is not false. Frames without a truth digit give the false digits
 * per digit-free frame. --mine writes every candidate's network input as training examples: those
 * on a truth digit with its label, those on nothing as "not a digit" (--hard N: those the reader
 * read wrongly N more times; --pairs N: those on two digits); with --mine-context, each candidate's
 * surroundings instead, as the context check's examples (1 on a digit, 0 on nothing). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "json.h"
#include "recog.h"
#include "vis.h"

static const char *const HELP =
    "usage: digits scan-eval [options] TRUTH.jsonl\n"
    "Score digits scan against a truth file (tools/scenegen, make scenes).\n"
    "  --model FILE          model (default <root>/models/robust.safetensors)\n"
    "  --min-confidence X    as for scan (default 0.5)\n"
    "  --window N            threshold neighbourhood in pixels (default 0: a twelfth of the "
    "shorter side)\n"
    "  --contrast N          ink is at least N grey levels darker than the paper behind it "
    "(default 16)\n"
    "  --share X             ... and X of the strongest stroke nearby (default 0.3)\n"
    "  --again X[,Y]         find the ink again at these shares of the strongest stroke and keep\n"
    "                        the sure readings the first reading lacks (default 0.5,0.15; 0: off)\n"
    "  --wide X              read the frame shrunk again with strokes up to X of its shorter\n"
    "                        side, for digits drawn large with a thick pen (default 0.2; 0: off)\n"
    "  --denoise X           smooth an image whose sensor noise is at least X of its paper's\n"
    "                        level before reading it (default 0.035; 0: never)\n"
    "  --deblur X            sharpen an image up to 1080 px on its shorter side and at least X\n"
    "                        blurred both ways (0 sharp .. 1 flat) before reading it (default\n"
    "                        0.42; 0: never)\n"
    "  --sharpen X           unsharp mask of this amount on the candidates before they are read\n"
    "                        (default 0.6; 0 = off)\n"
    "  --split-aspect X      an unsure candidate at least X times as wide as it is tall is also\n"
    "                        tried cut in two (touching digits; default 1.1; 0: only when the\n"
    "                        network says two digits)\n"
    "  --polarity auto|dark|light   as for scan (default auto)\n"
    "  --context X           a reading the model's context network gives a chance under X of\n"
    "                        being a digit is rejected, unless one beside it on its line has\n"
    "                        0.5 (default 0.2; 0: no context check)\n"
    "  --verbose             one line per image\n"
    "  --mine PREFIX         write each candidate's 28x28 input as PREFIX-images-idx3-ubyte and\n"
    "                        PREFIX-labels-idx1-ubyte: candidates on a truth digit (IoU >= 0.65)\n"
    "                        with its label unless a blob, candidates on no digit (IoU < 0.2) as\n"
    "                        10, not a digit, candidates on two digits side by side as 11\n"
    "  --hard N              with --mine: write the candidates the reader read wrongly (a digit\n"
    "                        where there is none, or another digit than the truth's) N more\n"
    "                        times, so training weighs the reader's own mistakes (default 0)\n"
    "  --pairs N             with --mine: write the candidates on two digits N more times\n"
    "                        (default 0)\n"
    "  --keep-closed         with --mine: teach 0s, 6s, 8s and 9s whose loop the blur closed\n"
    "                        too (left out by default)\n"
    "  --mine-context        with --mine: write each candidate's surroundings (3 times its box,\n"
    "                        as the context network sees them) instead, labelled 1 on a truth\n"
    "                        digit (IoU >= 0.5) and 0 on nothing; --hard N writes readings on\n"
    "                        nothing N more times (the context network's training examples)\n"
    "  --misses FILE         write one JSON line per truth digit not read: its image, digit and\n"
    "                        box, why (wrong, rejected, merged, broken, unfound) and the\n"
    "                        candidate on it (reading, confidence, not-a-digit and two-digit\n"
    "                        chances, why it was turned down, box)\n";

/* A mined candidate takes its digit's label only when it covers the digit well: a candidate on
 * half a digit (the top of an 8) would teach the network that the half is the whole. */
static const double MINE_DIGIT_IOU = 0.65;

/* A truth box [x, y, w, h] as a rec_box. */
static struct rec_box as_box(const int a[4])
{
    return (struct rec_box){a[0], a[1], a[2], a[3]};
}

static double iou(const int a[4], const struct rec_box *b)
{
    return rec_box_iou(as_box(a), *b);
}

static int read_box(const struct dg_json *doc, const struct dg_json_node *o, int box[4])
{
    const struct dg_json_node *b = dg_json_get(doc, o, "box");
    if (!b || b->type != DG_JSON_ARRAY || b->n_children != 4)
        return -1;
    const struct dg_json_node *e = dg_json_child(doc, b);
    for (int i = 0; i < 4; i++, e = dg_json_next(doc, e)) {
        if (e->type != DG_JSON_NUMBER)
            return -1;
        box[i] = (int)e->num;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One truth file's tallies, in all and per scene kind. */
struct tally {
    char kind[24];
    long digits, read, readings, right, numbers, numbers_read, empty_frames, empty_false;
    /* digits under SMALL_PX tall, and of them read */
    long small, small_read;
    long by_digit[10], by_digit_read[10]; /* truth digits of each class, and of them read */
    /* missed digits, [0] all and [1] under SMALL_PX: read as another digit, rejected, inside a
     * larger candidate, in pieces, in none */
    struct misses {
        long wrong, rejected, merged, broken, unfound;
        long merged_digits; /* of merged: the larger candidate holds another digit's centre */
    } miss[2];
    int images;
};

enum { MAX_KINDS = 16, MAX_TRUTH = 1024, SMALL_PX = 16 };

static struct tally *tally_for(struct tally *t, int *n, const char *kind)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(t[i].kind, kind))
            return &t[i];
    if (*n == MAX_KINDS)
        return &t[MAX_KINDS - 1];
    memset(&t[*n], 0, sizeof t[*n]);
    snprintf(t[*n].kind, sizeof t[*n].kind, "%s", kind);
    return &t[(*n)++];
}

static void misses_add(struct misses *a, const struct misses *b)
{
    a->wrong += b->wrong, a->rejected += b->rejected, a->unfound += b->unfound;
    a->merged += b->merged, a->broken += b->broken, a->merged_digits += b->merged_digits;
}

static void tally_add(struct tally *to, const struct tally *from)
{
    to->digits += from->digits, to->read += from->read, to->readings += from->readings;
    to->right += from->right, to->numbers += from->numbers;
    to->numbers_read += from->numbers_read, to->empty_frames += from->empty_frames;
    to->empty_false += from->empty_false, to->images += from->images;
    misses_add(&to->miss[0], &from->miss[0]);
    misses_add(&to->miss[1], &from->miss[1]);
    to->small += from->small, to->small_read += from->small_read;
    for (int c = 0; c < 10; c++)
        to->by_digit[c] += from->by_digit[c], to->by_digit_read[c] += from->by_digit_read[c];
}

static double pct(long a, long b)
{
    return 100.0 * (double)a / (double)(b ? b : 1);
}

static void tally_print(const char *label, const struct tally *t)
{
    printf("%s%d images: digits read %.2f%% (%ld of %ld), precision %.2f%% (%ld of %ld readings), "
           "numbers read exactly %.2f%% (%ld of %ld)",
           label, t->images, pct(t->read, t->digits), t->read, t->digits,
           pct(t->right, t->readings), t->right, t->readings, pct(t->numbers_read, t->numbers),
           t->numbers_read, t->numbers);
    if (t->empty_frames)
        printf("; %.3f false digits per digit-free frame (%ld in %ld)",
               (double)t->empty_false / (double)t->empty_frames, t->empty_false, t->empty_frames);
}

/* Training examples mined from the candidates: 28x28 bytes and labels. */
struct mine {
    uint8_t *images, *labels;
    size_t n, cap;
    int hard_repeat; /* extra copies of each candidate read wrongly */
    int pair_repeat; /* extra copies of each candidate on two digits */
    int keep_closed; /* 1: 0s, 6s, 8s and 9s whose loop is closed are taught too (legible) */
    int context;     /* 1: each candidate's surroundings (vis_context_patch), 1 digit, 0 nothing */
    long hard_neg;   /* candidates on no digit read as a digit */
    long hard_wrong; /* candidates on a digit read as another digit */
};

/* Room for one more example in mn; DG_ENOMEM. */
static int mine_grow(struct mine *mn)
{
    if (mn->n == mn->cap) {
        size_t cap = mn->cap ? 2 * mn->cap : 4096;
        uint8_t *im = realloc(mn->images, cap * 784);
        if (!im)
            return DG_ENOMEM;
        mn->images = im;
        uint8_t *lb = realloc(mn->labels, cap);
        if (!lb)
            return DG_ENOMEM;
        mn->labels = lb;
        mn->cap = cap;
    }
    return DG_OK;
}

static int mine_add(struct mine *mn, const float *input, int label)
{
    if (mine_grow(mn) != DG_OK)
        return DG_ENOMEM;
    for (int i = 0; i < 784; i++)
        mn->images[mn->n * 784 + i] = (uint8_t)(input[i] * 255.0f + 0.5f);
    mn->labels[mn->n++] = (uint8_t)label;
    return DG_OK;
}

/* Whether a candidate on a truth digit still shows it: ink (> 0.5) filling more than MINE_MAX_FILL
 * of its bounding box is a blob (a small digit written with a marker, its loops filled in, or
 * blurred), which MNIST's writers never produce outside a 1; and a 0, 6, 8 or 9 whose ink
 * encloses no paper at all (MINE_MIN_HOLE pixels) has lost its loop to the blur. Taught as an 8
 * or a 9, such blobs make the network read other writers' bold 1s as 8s. */
static const float MINE_MAX_FILL = 0.65f;
enum { MINE_MIN_HOLE = 2 };

/* Pixels of paper (input <= 0.5) the ink encloses: not reached from the border through paper. */
static int enclosed(const float *input)
{
    uint8_t seen[784] = {0};
    int stack[784], top = 0, reached = 0, paper = 0;
    for (int i = 0; i < 784; i++) {
        paper += input[i] <= 0.5f;
        const int x = i % 28, y = i / 28;
        if ((x == 0 || y == 0 || x == 27 || y == 27) && input[i] <= 0.5f) {
            seen[i] = 1;
            stack[top++] = i;
        }
    }
    while (top) {
        const int i = stack[--top], x = i % 28, y = i / 28;
        reached++;
        const int next[4] = {x > 0 ? i - 1 : -1, x < 27 ? i + 1 : -1, y > 0 ? i - 28 : -1,
                             y < 27 ? i + 28 : -1};
        for (int k = 0; k < 4; k++)
            if (next[k] >= 0 && !seen[next[k]] && input[next[k]] <= 0.5f) {
                seen[next[k]] = 1;
                stack[top++] = next[k];
            }
    }
    return paper - reached;
}

/* With keep_closed, a 0, 6, 8 or 9 whose loop the blur closed is taught too (the fill test still
 * applies). */
static int legible(const float *input, int label, int keep_closed)
{
    int x0 = 28, y0 = 28, x1 = -1, y1 = -1, ink = 0;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
            if (input[y * 28 + x] > 0.25f) {
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
    if (x1 < 0)
        return 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            ink += input[y * 28 + x] > 0.5f;
    if (label == 1)
        return 1;
    if (!keep_closed && (label == 0 || label == 6 || label == 8 || label == 9) &&
        enclosed(input) < MINE_MIN_HOLE)
        return 0;
    return (float)ink <= MINE_MAX_FILL * (float)((x1 - x0 + 1) * (y1 - y0 + 1));
}

/* A truth file's digit or number. */
struct truth_item {
    int box[4], label, ignore;
    const char *text;
};

/* Reads a truth line's "digits" or "numbers" array into items (at most MAX_TRUTH); entries without
 * a box, or with no digit 0-9 or no text, are left out. */
static int read_items(const struct dg_json *doc, const struct dg_json_node *arr, int numbers,
                      struct truth_item *items)
{
    int n = 0;
    for (const struct dg_json_node *d = dg_json_child(doc, arr); d && n < MAX_TRUTH;
         d = dg_json_next(doc, d)) {
        struct truth_item *it = &items[n];
        const struct dg_json_node *v = dg_json_get(doc, d, numbers ? "text" : "digit");
        const struct dg_json_node *ig = dg_json_get(doc, d, "ignore");
        if (read_box(doc, d, it->box) || !v ||
            v->type != (numbers ? DG_JSON_STRING : DG_JSON_NUMBER) ||
            (!numbers && !(v->num >= 0.0 && v->num <= 9.0)))
            continue;
        it->label = numbers ? -1 : (int)v->num;
        it->text = numbers ? v->str : NULL;
        it->ignore = ig && ig->type == DG_JSON_TRUE;
        n++;
    }
    return n;
}

/* Tallies why truth digit d has no candidate of its own in r (returning the larger candidate
 * when merged, else -1): it lies mostly inside a larger
 * candidate at most MERGED_MAX times its area (merged with a neighbour, counted apart when
 * another of the n_all truth digits has its centre in that candidate, or with a line or stroke),
 * candidates cover parts of it (broken), or none does (not in the ink mask, dropped as a speck
 * or line, or within a large region such as a shadow or the sheet's outline). */
enum { MERGED_MAX = 16 };

static int miss_kind(const struct truth_item *d, const struct truth_item *all, int n_all,
                     const struct rec_result *r, struct misses *t)
{
    const double area = (double)d->box[2] * d->box[3];
    double covered = 0.0;
    for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
        const struct rec_box *b = &r->digits[i].box;
        const double inter = rec_box_inter(as_box(d->box), *b), b_area = (double)b->w * b->h;
        if (inter <= 0.0 || b_area > MERGED_MAX * area)
            continue;
        if (inter * 2 >= area && b_area > area) {
            t->merged++;
            for (int k = 0; k < n_all; k++) {
                const int cx = all[k].box[0] + all[k].box[2] / 2;
                const int cy = all[k].box[1] + all[k].box[3] / 2;
                if (&all[k] != d && cx >= b->x && cx < b->x + b->w && cy >= b->y &&
                    cy < b->y + b->h) {
                    t->merged_digits++;
                    break;
                }
            }
            return i;
        }
        covered += inter;
    }
    if (covered > 0)
        t->broken++;
    else
        t->unfound++;
    return -1;
}

/* Why truth digit d, which no reading matched, was missed: the best candidate on it (IoU >= 0.5)
 * read as another digit or rejected, else miss_kind; *cand is that candidate (-1: none). */
static struct misses why_missed(const struct truth_item *d, const struct truth_item *all, int n_all,
                                const struct rec_result *r, int *cand)
{
    struct misses m = {0};
    int on = -1;
    double on_iou = 0.5;
    for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
        const double v = iou(d->box, &r->digits[i].box);
        if (v >= on_iou)
            on = i, on_iou = v;
    }
    *cand = on;
    if (on < 0)
        *cand = miss_kind(d, all, n_all, r, &m);
    else if (on < r->n_digits)
        m.wrong++;
    else
        m.rejected++;
    return m;
}

/* --misses: the lines written so far (one JSON object a line) and the image being scored. */
struct miss_log {
    struct dg_jw w;
    const char *image;
};

/* Appends the --misses line of truth digit d, missed as m says, with candidate cand of r (-1:
 * none). */
static void log_miss(struct miss_log *log, const struct truth_item *d, const struct misses *m,
                     const struct rec_result *r, int cand)
{
    struct dg_jw *w = &log->w;
    dg_jw_object(w);
    dg_jw_key(w, "image");
    dg_jw_str(w, log->image);
    dg_jw_key(w, "digit");
    dg_jw_int(w, d->label);
    rec_box_write_json(w, "box", as_box(d->box));
    dg_jw_key(w, "why");
    dg_jw_str(w, m->wrong      ? "wrong"
                 : m->rejected ? "rejected"
                 : m->merged   ? (m->merged_digits ? "merged with a digit" : "merged")
                 : m->broken   ? "broken"
                               : "unfound");
    if (cand >= 0) {
        const struct rec_digit *c = &r->digits[cand];
        dg_jw_key(w, "candidate");
        dg_jw_object(w);
        dg_jw_key(w, "digit");
        dg_jw_int(w, c->digit);
        dg_jw_key(w, "confidence");
        dg_jw_num(w, c->confidence, 4);
        dg_jw_key(w, "junk");
        dg_jw_num(w, c->junk, 4);
        dg_jw_key(w, "two");
        dg_jw_num(w, c->two, 4);
        dg_jw_key(w, "top");
        dg_jw_int(w, c->top3[0]);
        dg_jw_key(w, "why");
        dg_jw_str(w, rec_why_name(c->why));
        rec_box_write_json(w, "box", c->box);
        dg_jw_end(w);
    }
    dg_jw_end(w);
    dg_jw_raw(w, "\n");
}

/* Matches r's readings to the truth digits (used: readings that matched one; excused: readings
 * on an ignored digit) and tallies digits expected, small ones and why each miss was missed into
 * t, with a --misses line for each miss when log is given. Returns how many were read. */
static long match_digits(const struct rec_result *r, const struct truth_item *digits, int n_d,
                         struct tally *t, uint8_t *used, uint8_t *excused, struct miss_log *log)
{
    long read = 0;
    for (int k = 0; k < n_d; k++) {
        if (digits[k].ignore) {
            /* readings on a digit the frame cuts or a hand covers are excused */
            for (int i = 0; i < r->n_digits; i++)
                excused[i] |= iou(digits[k].box, &r->digits[i].box) >= 0.2;
            continue;
        }
        t->digits++;
        int best = -1;
        double best_iou = 0.5;
        for (int i = 0; i < r->n_digits; i++) {
            const double v = iou(digits[k].box, &r->digits[i].box);
            if (!used[i] && v >= best_iou && r->digits[i].digit == digits[k].label) {
                best = i;
                best_iou = v;
            }
        }
        const int small = digits[k].box[3] < SMALL_PX, c = digits[k].label;
        t->small += small;
        t->by_digit[c]++;
        if (best >= 0) {
            used[best] = 1;
            read++;
            t->small_read += small;
            t->by_digit_read[c]++;
            continue;
        }
        int cand;
        const struct misses m = why_missed(&digits[k], digits, n_d, r, &cand);
        misses_add(&t->miss[0], &m);
        if (small)
            misses_add(&t->miss[1], &m);
        if (log)
            log_miss(log, &digits[k], &m, r, cand);
    }
    return read;
}

/* Tallies the truth numbers of an image and those r read exactly (text and box) into t. */
static void match_numbers(const struct rec_result *r, const struct truth_item *numbers, int n_n,
                          struct tally *t)
{
    uint8_t nused[REC_MAX_CANDIDATES] = {0};
    for (int k = 0; k < n_n; k++) {
        if (numbers[k].ignore)
            continue;
        t->numbers++;
        for (int i = 0; i < r->n_numbers; i++)
            if (!nused[i] && !strcmp(r->numbers[i].text, numbers[k].text) &&
                iou(numbers[k].box, &r->numbers[i].box) >= 0.5) {
                nused[i] = 1;
                t->numbers_read++;
                break;
            }
    }
}

/* Whether candidate box b holds two truth digits side by side and little else: two digits (not
 * ignored) with at least MINE_PAIR_IN of their boxes inside b, beside each other (centres apart by
 * a third of their height or more across, under half of it up and down), no other digit with over
 * a fifth of its box inside, and b at most MINE_PAIR_AREA times the pair's box. */
static const double MINE_PAIR_IN = 0.7, MINE_PAIR_AREA = 1.6;

static int two_digits(const struct rec_box *b, const struct truth_item *digits, int n_d)
{
    int pair[2], n_in = 0;
    for (int k = 0; k < n_d; k++) {
        const struct rec_box t = as_box(digits[k].box);
        const double share = rec_box_inter(t, *b) / ((double)t.w * t.h);
        if (share <= 0.2)
            continue;
        if (share < MINE_PAIR_IN || digits[k].ignore || n_in == 2)
            return 0;
        pair[n_in++] = k;
    }
    if (n_in != 2)
        return 0;
    const int *p = digits[pair[0]].box, *q = digits[pair[1]].box;
    const double h = p[3] > q[3] ? p[3] : q[3];
    const double dx = fabs((p[0] + p[2] * 0.5) - (q[0] + q[2] * 0.5));
    const double dy = fabs((p[1] + p[3] * 0.5) - (q[1] + q[3] * 0.5));
    const int x0 = p[0] < q[0] ? p[0] : q[0], y0 = p[1] < q[1] ? p[1] : q[1];
    const int x1 = p[0] + p[2] > q[0] + q[2] ? p[0] + p[2] : q[0] + q[2];
    const int y1 = p[1] + p[3] > q[1] + q[3] ? p[1] + p[3] : q[1] + q[3];
    return dx >= h / 3 && dy < h / 2 &&
           (double)b->w * b->h <= MINE_PAIR_AREA * (double)(x1 - x0) * (y1 - y0);
}

/* The context check's examples (mn->context): each candidate's surroundings in grey, labelled 1 on
 * a truth digit (IoU >= 0.5) and 0 on nothing (IoU < 0.2 with every digit, ignored ones too);
 * readings on nothing hard_repeat more times. */
static int mine_context(const struct vis_image *grey, const struct rec_result *r,
                        const struct truth_item *digits, int n_d, struct mine *mn)
{
    for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
        const struct rec_box *b = &r->digits[i].box;
        double best = 0.0;
        int on_truth = 0;
        for (int k = 0; k < n_d; k++) {
            const double v = iou(digits[k].box, b);
            best = v > best ? v : best;
            on_truth |= !digits[k].ignore && v >= 0.5;
        }
        const int label = on_truth ? 1 : best < 0.2 ? 0 : -1;
        const int hard = label == 0 && i < r->n_digits;
        mn->hard_neg += hard;
        for (int k = 0; label >= 0 && k < 1 + (hard ? mn->hard_repeat : 0); k++) {
            if (mine_grow(mn) != DG_OK)
                return dg_fail(DG_ENOMEM, "out of memory for mined examples");
            vis_context_patch(grey, b->x, b->y, b->w, b->h, mn->images + mn->n * 784);
            mn->labels[mn->n++] = (uint8_t)label;
        }
    }
    return DG_OK;
}

/* Each candidate of r as a training example into mn: on a truth digit (MINE_DIGIT_IOU, legible)
 * with its label, on two digits side by side as two digits, on nothing (and no ignored digit) as
 * not a digit; those the reader accepted wrongly (on nothing, or as another digit) hard_repeat
 * more times, those on two digits pair_repeat more times. */
static int mine_candidates(const struct rec_result *r, const struct truth_item *digits, int n_d,
                           struct mine *mn)
{
    for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
        double best = 0.0;
        int label = -1, on_ignored = 0;
        for (int k = 0; k < n_d; k++) {
            const double v = iou(digits[k].box, &r->digits[i].box);
            if (digits[k].ignore && v >= 0.1)
                on_ignored = 1;
            if (v > best) {
                best = v;
                label = digits[k].ignore ? -1 : digits[k].label;
            }
        }
        const int accepted = i < r->n_digits;
        int mined = -1, hard = 0;
        if (best >= MINE_DIGIT_IOU && label >= 0 &&
            legible(r->digits[i].input, label, mn->keep_closed)) {
            mined = label;
            hard = accepted && r->digits[i].digit != label;
            mn->hard_wrong += hard;
        } else if (best < 0.2 && !on_ignored) {
            mined = DATA_NOT_DIGIT;
            hard = accepted;
            mn->hard_neg += hard;
        } else if (two_digits(&r->digits[i].box, digits, n_d)) {
            mined = DATA_TWO_DIGITS;
        }
        const int copies =
            1 + (hard ? mn->hard_repeat : 0) + (mined == DATA_TWO_DIGITS ? mn->pair_repeat : 0);
        for (int k = 0; mined >= 0 && k < copies; k++)
            if (mine_add(mn, r->digits[i].input, mined) != DG_OK)
                return dg_fail(DG_ENOMEM, "out of memory for mined examples");
    }
    return DG_OK;
}

/* Scores the readings r of grey against its truth into t; with mn, mines its candidates; with
 * log, adds its misses' lines. */
static int score(const struct vis_image *grey, const struct rec_result *r,
                 const struct truth_item *digits, int n_d, const struct truth_item *numbers,
                 int n_n, int empty, struct tally *t, struct mine *mn, struct miss_log *log,
                 long *img_read)
{
    uint8_t used[REC_MAX_CANDIDATES] = {0}, excused[REC_MAX_CANDIDATES] = {0};
    const long read = match_digits(r, digits, n_d, t, used, excused, log);
    long readings = 0;
    for (int i = 0; i < r->n_digits; i++)
        readings += used[i] || !excused[i];
    t->read += read;
    t->readings += readings;
    t->right += read;
    *img_read = read;
    if (empty || n_d == 0) {
        t->empty_frames++;
        t->empty_false += readings;
    }
    match_numbers(r, numbers, n_n, t);
    if (!mn)
        return DG_OK;
    return mn->context ? mine_context(grey, r, digits, n_d, mn)
                       : mine_candidates(r, digits, n_d, mn);
}

/* "LABEL missed N: why" over n missed digits. */
static void misses_print(const char *label, long n, const struct misses *m)
{
    printf("%s missed %ld: %.1f%% read as another digit, %.1f%% rejected, %.1f%% merged into a "
           "larger candidate (%.1f%% with another digit), %.1f%% broken into pieces, %.1f%% in "
           "none\n",
           label, n, pct(m->wrong, n), pct(m->rejected, n), pct(m->merged, n),
           pct(m->merged_digits, n), pct(m->broken, n), pct(m->unfound, n));
}

/* The summary line over every kind (with the time per image: ms[0..n_img), sorted here), then a
 * line per kind when there are several. */
static void report(const struct tally *kinds, int n_kinds, double *ms, int n_img)
{
    qsort(ms, (size_t)n_img, sizeof *ms, cmp_double);
    struct tally all = {0};
    for (int i = 0; i < n_kinds; i++)
        tally_add(&all, &kinds[i]);
    tally_print("", &all);
    printf("; %.1f ms median, %.1f ms p99 per image\n", ms[n_img / 2],
           ms[(int)(0.99 * (n_img - 1))]);
    const long missed = all.digits - all.read, small_missed = all.small - all.small_read;
    if (missed > 0)
        misses_print(" ", missed, &all.miss[0]);
    if (all.small > 0) {
        printf("  digits under %d px: %.2f%% read (%ld of %ld)", SMALL_PX,
               pct(all.small_read, all.small), all.small_read, all.small);
        if (small_missed > 0)
            misses_print(";", small_missed, &all.miss[1]);
        else
            putchar('\n');
    }
    if (all.digits > 0) {
        printf("  by digit:");
        for (int c = 0; c < 10; c++)
            if (all.by_digit[c])
                printf(" %d %.1f%%", c, pct(all.by_digit_read[c], all.by_digit[c]));
        putchar('\n');
    }
    for (int i = 0; n_kinds > 1 && i < n_kinds; i++) {
        char label[64];
        snprintf(label, sizeof label, "  %.23s: ", kinds[i].kind);
        tally_print(label, &kinds[i]);
        putchar('\n');
    }
}

/* Writes the mined examples as PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte (each
 * atomically). Returns the exit status. */
static int write_mined(const char *cmd, const struct mine *mn, const char *prefix,
                       const char *truth_path)
{
    if (mn->n == 0)
        return cli_fail(cmd,
                        "--mine: no candidate of %s fell on a digit or on nothing; nothing "
                        "written",
                        truth_path);
    char ip[4200], lp[4200];
    snprintf(ip, sizeof ip, "%s-images-idx3-ubyte", prefix);
    snprintf(lp, sizeof lp, "%s-labels-idx1-ubyte", prefix);
    long n_neg = 0, n_two = 0;
    for (size_t i = 0; i < mn->n; i++)
        n_neg += mn->labels[i] == (mn->context ? 0 : DATA_NOT_DIGIT),
            n_two += !mn->context && mn->labels[i] == DATA_TWO_DIGITS;
    if (data_idx_write(ip, lp, mn->images, mn->labels, (int)mn->n, 28, 28) != DG_OK)
        return cli_fail(cmd, "cannot write the mined examples: %s", dg_errmsg());
    if (mn->context)
        printf("mined the surroundings of %zu candidates (%ld on nothing) into %s and %s\n", mn->n,
               n_neg, ip, lp);
    else
        printf("mined %zu examples (%ld not digits, %ld two digits) into %s and %s\n", mn->n, n_neg,
               n_two, ip, lp);
    if (mn->context && mn->hard_repeat)
        printf("  of them read as digits, each written %d more times: %ld\n", mn->hard_repeat,
               mn->hard_neg);
    else if (mn->hard_repeat)
        printf("  of them read wrongly, each written %d more times: %ld on no digit, %ld as "
               "another digit\n",
               mn->hard_repeat, mn->hard_neg, mn->hard_wrong);
    return 0;
}

static int write_misses(struct dg_writer *wr, void *ctx)
{
    const struct miss_log *log = ctx;
    const char *text;
    size_t len;
    const int rc = dg_jw_text(&log->w, &text, &len);
    return rc != DG_OK ? rc : dg_write_bytes(wr, text, len);
}

/* scan-eval's options. */
struct options {
    const char *model_path, *mine_prefix, *truth_path, *misses_path;
    int verbose;
    struct rec_params params;
};

/* --again X[,Y]: the shares of stage 7's passes into shares (those not given 0). */
static int again_option(const char *cmd, const char *arg, float *shares)
{
    char buf[64];
    if (strlen(arg) >= sizeof buf)
        return cli_usage(cmd, "--again wants up to %d numbers from 0 to 1 joined by commas",
                         REC_AGAIN_PASSES);
    strcpy(buf, arg);
    int k = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        double v;
        if (k == REC_AGAIN_PASSES || cli_parse_double(t, 0.0, 1.0, &v))
            return cli_usage(cmd,
                             "--again wants up to %d numbers from 0 to 1 joined by commas, "
                             "not '%s'",
                             REC_AGAIN_PASSES, arg);
        shares[k++] = (float)v;
    }
    if (k == 0)
        return cli_usage(cmd, "--again wants a number from 0 to 1 (0: no second look)");
    while (k < REC_AGAIN_PASSES)
        shares[k++] = 0.0f;
    return 0;
}

/* Parses argv into *o and the mining settings of *mined: -1 to go on, or the exit status (help
 * printed, or a usage error said). */
static int parse_options(int argc, char **argv, struct options *o, struct mine *mined)
{
    const char *cmd = "scan-eval";
    o->model_path = cli_scan_model();
    rec_default_params(&o->params);
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},        {"min-confidence", 1, 0, 'c'},
        {"verbose", 0, 0, 'v'},      {"window", 1, 0, 'w'},
        {"help", 0, 0, 'h'},         {"mine", 1, 0, 'M'},
        {"polarity", 1, 0, 'p'},     {"contrast", 1, 0, 'C'},
        {"share", 1, 0, 's'},        {"sharpen", 1, 0, 'S'},
        {"hard", 1, 0, 'H'},         {"pairs", 1, 0, 'P'},
        {"keep-closed", 0, 0, 'K'},  {"again", 1, 0, 'A'},
        {"wide", 1, 0, 'W'},         {"denoise", 1, 0, 'N'},
        {"deblur", 1, 0, 'B'},       {"mine-context", 0, 0, 'X'},
        {"context", 1, 0, 'x'},      {"misses", 1, 0, 'I'},
        {"split-aspect", 1, 0, 'T'}, {0, 0, 0, 0},
    };
    opterr = 0;
    int c, bad;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->model_path = optarg; break;
        case 'v': o->verbose = 1; break;
        case 'M': o->mine_prefix = optarg; break;
        case 'I': o->misses_path = optarg; break;
        case 'H': {
            long v;
            if ((bad = cli_whole_option(cmd, "--hard", optarg, 0, 100, &v)))
                return bad;
            mined->hard_repeat = (int)v;
            break;
        }
        case 'K': mined->keep_closed = 1; break;
        case 'X': mined->context = 1; break;
        case 'x': {
            double v;
            if ((bad = cli_number_option(cmd, "--context", optarg, 0.0, 1.0, &v)))
                return bad;
            o->params.context_min = (float)v;
            break;
        }
        case 'P': {
            long v;
            if ((bad = cli_whole_option(cmd, "--pairs", optarg, 0, 100, &v)))
                return bad;
            mined->pair_repeat = (int)v;
            break;
        }
        case 'p':
            if (cli_parse_polarity(optarg, &o->params.threshold.polarity))
                return cli_usage(cmd, "--polarity wants auto, dark or light, not '%s'", optarg);
            break;
        case 'w': {
            long v;
            if ((bad = cli_whole_option(cmd, "--window", optarg, 0, 4096, &v)))
                return bad;
            o->params.threshold.window = (int)v;
            break;
        }
        case 'C': {
            long v;
            if ((bad = cli_whole_option(cmd, "--contrast", optarg, 1, 255, &v)))
                return bad;
            o->params.threshold.contrast = (int)v;
            break;
        }
        case 's': {
            double v;
            if ((bad = cli_number_option(cmd, "--share", optarg, 0.0, 1.0, &v)))
                return bad;
            o->params.threshold.share = (float)v;
            break;
        }
        case 'A':
            if ((bad = again_option(cmd, optarg, o->params.again_shares)))
                return bad;
            break;
        case 'W': {
            double v;
            if ((bad = cli_number_option(cmd, "--wide", optarg, 0.0, 1.0, &v)))
                return bad;
            o->params.wide_stroke = (float)v;
            break;
        }
        case 'N': {
            double v;
            if ((bad = cli_number_option(cmd, "--denoise", optarg, 0.0, 1.0, &v)))
                return bad;
            o->params.denoise = (float)v;
            break;
        }
        case 'B': {
            double v;
            if ((bad = cli_number_option(cmd, "--deblur", optarg, 0.0, 1.0, &v)))
                return bad;
            o->params.deblur = (float)v;
            break;
        }
        case 'S': {
            double v;
            if ((bad = cli_number_option(cmd, "--sharpen", optarg, 0.0, 4.0, &v)))
                return bad;
            o->params.sharpen = (float)v;
            break;
        }
        case 'T': {
            double v;
            if ((bad = cli_number_option(cmd, "--split-aspect", optarg, 0.0, 4.0, &v)))
                return bad;
            o->params.split_aspect = (float)v;
            break;
        }
        case 'c': {
            double v;
            if ((bad = cli_number_option(cmd, "--min-confidence", optarg, 0.0, 1.0, &v)))
                return bad;
            o->params.min_confidence = (float)v;
            break;
        }
        case 'h': fputs(HELP, stdout); return 0;
        case ':':
            return cli_usage(cmd, "%s needs a value (see digits scan-eval --help)",
                             argv[optind - 1]);
        default:
            return cli_usage(cmd, "unknown option '%s' (see digits scan-eval --help)",
                             argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage(cmd, "name one truth file (see digits scan-eval --help)");
    if ((mined->hard_repeat || mined->pair_repeat || mined->keep_closed || mined->context) &&
        !o->mine_prefix)
        return cli_usage(cmd, "--hard, --pairs, --keep-closed and --mine-context shape mined "
                              "examples: give --mine PREFIX too");
    if (mined->context && (mined->pair_repeat || mined->keep_closed))
        return cli_usage(cmd, "--pairs and --keep-closed shape digit examples, not "
                              "--mine-context's");
    o->truth_path = argv[optind];
    return -1;
}

/* One run of scan-eval: the truth file's folder, the scanner and what has been tallied. */
struct run {
    const char *cmd, *truth_path;
    char dir[4096];
    const struct options *opt;
    struct mine *mined;      /* with --mine */
    struct miss_log *misses; /* with --misses */
    struct rec_scanner *sc;
    struct rec_result *r;
    double *ms; /* each image's time */
    int n_img;
    struct tally kinds[MAX_KINDS];
    int n_kinds;
};

enum { MAX_IMAGES = 100000 };

/* Reads the image that truth line (len bytes, line number lineno) names, scans it and scores it
 * into run; 0, or the exit status after saying what is wrong. */
static int eval_line(struct run *run, const char *line, size_t len, int lineno)
{
    static struct truth_item t_digits[MAX_TRUTH], t_numbers[MAX_TRUTH];
    struct dg_json *doc;
    if (dg_json_parse(line, len, &doc) != DG_OK)
        return cli_fail(run->cmd, "%s line %d: %s", run->truth_path, lineno, dg_errmsg());
    const struct dg_json_node *root = dg_json_root(doc);
    const struct dg_json_node *name = dg_json_get(doc, root, "image");
    const struct dg_json_node *digits = dg_json_get(doc, root, "digits");
    const struct dg_json_node *numbers = dg_json_get(doc, root, "numbers");
    if (!name || name->type != DG_JSON_STRING || !digits || !numbers) {
        dg_json_free(doc);
        return cli_fail(run->cmd, "%s line %d: needs image, digits and numbers", run->truth_path,
                        lineno);
    }
    char path[8300];
    snprintf(path, sizeof path, "%s/%s", run->dir, name->str);
    struct vis_image img;
    if (vis_image_load(path, &img) != DG_OK) {
        dg_json_free(doc);
        return cli_fail(run->cmd, "%s", dg_errmsg());
    }
    const double t0 = dg_now();
    int rc = rec_scan(run->sc, &img, run->r);
    run->ms[run->n_img++] = (dg_now() - t0) * 1e3;
    int status = rc == DG_OK ? 0 : cli_fail(run->cmd, "%s: %s", path, dg_errmsg());
    if (status == 0) {
        const struct dg_json_node *kind = dg_json_get(doc, root, "kind");
        const struct dg_json_node *empty = dg_json_get(doc, root, "empty");
        struct tally *t = tally_for(run->kinds, &run->n_kinds,
                                    kind && kind->type == DG_JSON_STRING ? kind->str : "scenes");
        const int n_d = read_items(doc, digits, 0, t_digits);
        const int n_n = read_items(doc, numbers, 1, t_numbers);
        const long numbers_before = t->numbers_read, expected_before = t->digits;
        long img_read = 0;
        t->images++;
        if (run->misses)
            run->misses->image = name->str;
        rc = score(&img, run->r, t_digits, n_d, t_numbers, n_n,
                   empty && empty->type == DG_JSON_TRUE, t, run->mined, run->misses, &img_read);
        if (rc != DG_OK)
            status = cli_fail(run->cmd, "%s", dg_errmsg());
        else if (run->opt->verbose)
            printf("%s: digits %ld/%ld read, %d readings, numbers %ld read, %.1f ms\n", name->str,
                   img_read, t->digits - expected_before, run->r->n_digits,
                   t->numbers_read - numbers_before, run->ms[run->n_img - 1]);
    }
    vis_image_destroy(&img);
    dg_json_free(doc);
    return status;
}

/* The report and the files asked for, once every line is read; the exit status. */
static int finish(struct run *run)
{
    if (run->n_img == 0)
        return cli_fail(run->cmd, "%s names no images", run->truth_path);
    report(run->kinds, run->n_kinds, run->ms, run->n_img);
    const struct options *opt = run->opt;
    int status = 0;
    if (opt->mine_prefix)
        status = write_mined(run->cmd, run->mined, opt->mine_prefix, run->truth_path);
    if (status == 0 && opt->misses_path &&
        dg_write_atomic(opt->misses_path, write_misses, run->misses) != DG_OK)
        status = cli_fail(run->cmd, "cannot write %s: %s", opt->misses_path, dg_errmsg());
    return status;
}

int cmd_scan_eval(int argc, char **argv)
{
    const char *cmd = "scan-eval";
    struct options opt = {0};
    struct mine mined = {0};
    const int status_opt = parse_options(argc, argv, &opt, &mined);
    if (status_opt >= 0)
        return status_opt;
    static struct run run;
    run.cmd = cmd, run.truth_path = opt.truth_path, run.opt = &opt;
    snprintf(run.dir, sizeof run.dir, "%s", opt.truth_path);
    char *slash = strrchr(run.dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(run.dir, sizeof run.dir, ".");

    FILE *f = fopen(opt.truth_path, "r");
    if (!f)
        return cli_fail(cmd, "cannot open %s (make one with make scenes)", opt.truth_path);
    nn_set_threads(1);
    struct nn_model *m;
    if (cli_load_model(cmd, opt.model_path, &m, NULL)) {
        fclose(f);
        return 1;
    }
    run.r = malloc(sizeof *run.r);
    run.ms = malloc(MAX_IMAGES * sizeof *run.ms);
    if (!run.r || !run.ms || rec_scanner_new(m, &opt.params, &run.sc) != DG_OK) {
        fclose(f), free(run.r), free(run.ms), nn_model_free(m);
        return cli_fail(cmd, "%s", dg_errmsg());
    }
    struct miss_log misses = {0};
    dg_jw_init(&misses.w, 0);
    run.mined = opt.mine_prefix ? &mined : NULL;
    run.misses = opt.misses_path ? &misses : NULL;
    int status = 0, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (status == 0 && run.n_img < MAX_IMAGES && (len = getline(&line, &cap, f)) > 0)
        status = eval_line(&run, line, (size_t)len, ++lineno);
    free(line);
    fclose(f);
    if (status == 0)
        status = finish(&run);
    free(mined.images), free(mined.labels), dg_jw_free(&misses.w);
    free(run.r), free(run.ms);
    rec_scanner_free(run.sc);
    nn_model_free(m);
    return status;
}
