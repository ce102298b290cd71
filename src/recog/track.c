/* track.c - frame-to-frame digit tracks with averaged probabilities and a label that only
 * changes when the new answer is clearly better. */
#include <string.h>

#include "recog.h"

void rec_tracker_init(struct rec_tracker *t, float min_confidence, float switch_margin)
{
    memset(t, 0, sizeof *t);
    t->min_confidence = min_confidence;
    t->switch_margin = switch_margin;
    t->next_id = 1;
}

double rec_box_inter(struct rec_box a, struct rec_box b)
{
    const int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    const int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    const int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    return x1 <= x0 || y1 <= y0 ? 0.0 : (double)(x1 - x0) * (y1 - y0);
}

double rec_box_iou(struct rec_box a, struct rec_box b)
{
    const double inter = rec_box_inter(a, b);
    return inter > 0.0 ? inter / ((double)a.w * a.h + (double)b.w * b.h - inter) : 0.0;
}

double rec_box_overlap(struct rec_box a, struct rec_box b)
{
    const double sa = (double)a.w * a.h, sb = (double)b.w * b.h, smaller = sa < sb ? sa : sb;
    return smaller > 0.0 ? rec_box_inter(a, b) / smaller : 0.0;
}

static void observe(struct rec_tracker *t, struct rec_track *tr, const struct rec_digit *d)
{
    float *p = tr->hist[tr->next_hist];
    memset(p, 0, 10 * sizeof *p);
    /* a rejected candidate is evidence of no digit, whatever its probabilities: the reader's
     * context rules (a sheet's edge, a lone 1, a letter of a word) have said it is not one */
    for (int k = 0; k < 3 && d->digit >= 0; k++)
        if (d->top3[k] >= 0 && d->top3[k] < 10)
            p[d->top3[k]] = d->top3_p[k];
    tr->next_hist = (tr->next_hist + 1) % REC_TRACK_HISTORY;
    if (tr->n_hist < REC_TRACK_HISTORY)
        tr->n_hist++;
    float avg[10] = {0};
    for (int h = 0; h < tr->n_hist; h++)
        for (int c = 0; c < 10; c++)
            avg[c] += tr->hist[h][c] / (float)tr->n_hist;
    int best = 0;
    for (int c = 1; c < 10; c++)
        if (avg[c] > avg[best])
            best = c;
    if (tr->label < 0) {
        if (avg[best] >= t->min_confidence)
            tr->label = best;
    } else if (avg[tr->label] < t->min_confidence * 0.8f) {
        tr->label = avg[best] >= t->min_confidence ? best : -1;
    } else if (best != tr->label && avg[best] > avg[tr->label] + t->switch_margin) {
        tr->label = best;
    }
    tr->confidence = tr->label >= 0 ? avg[tr->label] : avg[best];
    tr->box = d->box;
    tr->seen++;
    tr->missed = 0;
}

void rec_tracker_update(struct rec_tracker *t, const struct rec_result *r, int *track_of)
{
    const int n = r->n_digits + r->n_rejected;
    unsigned char matched[REC_MAX_TRACKS] = {0};
    for (int i = 0; i < n; i++) {
        const struct rec_digit *d = &r->digits[i];
        int best = -1;
        float best_iou = 0.3f;
        for (int k = 0; k < t->n_tracks; k++) {
            if (matched[k])
                continue;
            const float v = (float)rec_box_iou(d->box, t->tracks[k].box);
            if (v > best_iou) {
                best_iou = v;
                best = k;
            }
        }
        if (best < 0 && t->n_tracks < REC_MAX_TRACKS) {
            best = t->n_tracks++;
            struct rec_track *tr = &t->tracks[best];
            memset(tr, 0, sizeof *tr);
            tr->id = t->next_id++;
            tr->label = -1;
        }
        if (track_of)
            track_of[i] = best;
        if (best >= 0) {
            matched[best] = 1;
            observe(t, &t->tracks[best], d);
        }
    }
    /* age the unmatched, drop the long gone, keep the order of the rest */
    int remap[REC_MAX_TRACKS];
    int kept = 0;
    for (int k = 0; k < t->n_tracks; k++) {
        struct rec_track *tr = &t->tracks[k];
        if (!matched[k]) {
            tr->missed++;
            tr->seen = 0;
        }
        if (tr->missed > REC_TRACK_MAX_MISSED) {
            remap[k] = -1;
            continue;
        }
        remap[k] = kept;
        if (kept != k)
            t->tracks[kept] = *tr;
        kept++;
    }
    t->n_tracks = kept;
    if (track_of)
        for (int i = 0; i < n; i++)
            if (track_of[i] >= 0)
                track_of[i] = remap[track_of[i]];
}
