/* view.c - what a live reader shows for a frame, shared by the live window (app/) and the browser
 * (web/): which digits are drawn and with which label (their tracks'), and the frame's JSON line
 * of `digits live --json`. */
#include "recog.h"

int rec_view_steady(const struct rec_tracker *trk, const int *track_of, int i)
{
    const int t = track_of[i];
    return t < 0 || trk->tracks[t].seen >= 2;
}

int rec_view_label(const struct rec_tracker *trk, const int *track_of, const struct rec_result *r,
                   int i, float *conf)
{
    const int t = track_of[i];
    *conf = t >= 0 ? trk->tracks[t].confidence : r->digits[i].confidence;
    return t >= 0 ? trk->tracks[t].label : r->digits[i].digit;
}

void rec_numtrack_write_json(struct dg_jw *w, const struct rec_numtrack *tr, int with_id)
{
    if (with_id) {
        dg_jw_key(w, "id");
        dg_jw_int(w, tr->id);
    }
    dg_jw_key(w, "text");
    dg_jw_str(w, tr->text);
    dg_jw_key(w, "confidence");
    dg_jw_num(w, tr->confidence, 4);
    rec_box_write_json(w, "box", tr->box);
}

void rec_view_write_json(struct dg_jw *w, const struct rec_view_frame *f)
{
    const struct rec_result *r = f->res;
    dg_jw_object(w);
    dg_jw_key(w, "frame");
    dg_jw_int(w, f->frame);
    dg_jw_key(w, "t");
    dg_jw_num(w, f->t, 3);
    rec_result_write_json(w, r);
    dg_jw_key(w, "shown_digits");
    dg_jw_array(w);
    for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
        float conf;
        const int label = rec_view_label(f->trk, f->track_of, r, i, &conf);
        if (!rec_view_steady(f->trk, f->track_of, i) || label < 0)
            continue;
        dg_jw_object(w);
        dg_jw_key(w, "digit");
        dg_jw_int(w, label);
        dg_jw_key(w, "confidence");
        dg_jw_num(w, conf, 4);
        rec_box_write_json(w, "box", r->digits[i].box);
        dg_jw_end(w);
    }
    dg_jw_end(w);
    for (int pass = 0; pass < 2; pass++) {
        dg_jw_key(w, pass ? "locked" : "shown");
        dg_jw_array(w);
        for (int i = 0; i < f->ntk->n; i++) {
            const struct rec_numtrack *tr = &f->ntk->tracks[i];
            if (!(pass ? tr->locked : tr->shown))
                continue;
            dg_jw_object(w);
            rec_numtrack_write_json(w, tr, 1);
            dg_jw_end(w);
        }
        dg_jw_end(w);
    }
    dg_jw_key(w, "ms");
    dg_jw_num(w, f->ms, 3);
    dg_jw_end(w);
    dg_jw_raw(w, "\n");
    for (int i = 0; i < f->n_locked; i++) {
        dg_jw_object(w);
        dg_jw_key(w, "event");
        dg_jw_str(w, "lock");
        dg_jw_key(w, "t");
        dg_jw_num(w, f->t, 3);
        rec_numtrack_write_json(w, &f->ntk->tracks[f->locked[i]], 1);
        dg_jw_end(w);
        dg_jw_raw(w, "\n");
    }
}
