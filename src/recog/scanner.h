/* scanner.h - the scanner's state and the helpers its stages share (recog.c, context.c). Internal
 * to the recog module: not installed, not part of recog.h's API. */
#ifndef REC_SCANNER_H
#define REC_SCANNER_H

#include "recog.h"

#include <stdlib.h>

enum { REC_MAX_CUTS = 4 };

/* A network input read in this frame or the last, with the network's answer (rec_params.reuse):
 * the input that answer was computed for, and the box of its latest look-alike. */
struct rec_seen {
    struct rec_box box;
    float ink;  /* the sum of its grey levels */
    float sure; /* its likeliest class's probability (a digit, "not a digit" or "two digits") */
    float prob[REC_CLASSES_WITH_TWO];
};
enum { REC_MAX_SEEN = REC_MAX_CANDIDATES };

/* A context network answer kept for reuse (rec_params.reuse, context.c): the box it was last
 * taken for, the sum of the patch it was computed for (patches in ctx_seen_patch) and the
 * network's chance of a digit. */
struct rec_ctx_seen {
    struct rec_box box;
    long sum;
    float chance;
};
enum { REC_CTX_SEEN = 256 };

/* Stage 5e's cuts of one blob (cut_runs): the columns it may be cut at, the stretches between
 * two of them that were read, and the network input of each. */
enum { RUN_MAX_CUTS = 14, RUN_MAX_STRETCHES = 64, RUN_MAX_BLOBS = 32 };
struct run_plan {
    int n_cut, cut[RUN_MAX_CUTS + 2];      /* columns, ascending: 0, the cuts, the blob's width */
    int cut_ink[RUN_MAX_CUTS + 2];         /* the ink in each cut's column */
    unsigned char first[RUN_MAX_CUTS + 2]; /* 1: the stretch from column 0 to this cut is read
                                              in the first round */
    int n_st, st_a[RUN_MAX_STRETCHES], st_b[RUN_MAX_STRETCHES]; /* from cut st_a to cut st_b */
    int st_in[RUN_MAX_STRETCHES];                               /* ... read from this input */
};

/* One candidate read: its whole's input, and the left halves' inputs of its cuts (the right half
 * follows each). */
struct rec_plan {
    int cand, whole, n_cuts, left[REC_MAX_CUTS];
    int deep, n_deep; /* the pieces of its deeper ink (read_deeper): inputs deep .. + n_deep */
    int paper, dark;  /* its paper's and ink's grey levels (paper_and_ink); paper -1: unknown */
};

struct rec_scanner {
    const struct nn_model *model;
    struct rec_params p;
    struct nn_infer *inf;     /* the network, for the few candidates of one image */
    struct nn_infer *ctx_inf; /* the context network (stage 5d), NULL without one */
    float *ctx_x;             /* [REC_CONTEXT_BATCH][784]: its inputs */
    float *ctx_p;             /* [REC_MAX_CANDIDATES]: its answer for each reading */
    uint8_t *ctx_state;       /* [REC_MAX_CANDIDATES]: how far each reading is settled */
    int *ctx_ask;             /* [REC_MAX_CANDIDATES]: the readings asked about in one round */
    uint8_t *ctx_patch;       /* [REC_CONTEXT_BATCH][784]: the patches of one batch */
    /* its answers in a video (rec_params.reuse), as seen[] below: ctx_seen[last] the last
       frame's, ctx_seen[!last] this frame's so far, each REC_CTX_SEEN long (allocated with
       seen[]), their patches in ctx_seen_patch[] */
    struct rec_ctx_seen *ctx_seen[2];
    uint8_t *ctx_seen_patch[2];
    int n_ctx_seen[2];
    int n_ctx_asked, n_ctx_reused; /* this scan's patches, and those that took a kept answer */
    struct vis_work *vwk;          /* the segmentation stages' scratch */
    float *x;                      /* [REC_MAX_CANDIDATES][784] */
    struct vis_image mask;
    /* the reading as dark ink of a frame whose polarity was unsure (rec_scan), and its mask */
    struct rec_result *other;
    struct vis_image other_mask;
    /* stage 8's reading of the frame shrunk (read_wide) and its picture; its masks and sharpened
       picture, swapped with mask, other_mask and sharp while it reads */
    struct rec_result *wide;
    struct vis_image wide_grey, wide_mask, wide_other_mask, wide_sharp;
    struct vis_image enlarged; /* a small image enlarged (rec_scan) */
    /* a noisy image smoothed (rec_params.denoise) or a blurred one sharpened (deblur), and in a
       video the running means of the frames' light, noise and blur and whether the last was
       smoothed or sharpened (prepare_frame) */
    struct vis_image frame;
    float light_mean, noise_mean, blur_mean;
    unsigned hints; /* the last frame's (rec_camera) */
    int smoothing, sharpening;
    uint16_t *smooth_col; /* vis_image_smooth's scratch */
    size_t smooth_col_cap;
    int crop_image;     /* reading it */
    uint32_t *wide_sum; /* vis_image_shrink's scratch */
    size_t wide_sum_cap;
    uint8_t *crop;
    size_t crop_cap;
    int32_t *label; /* read_deeper's piece of each crop pixel, and its flood fill's stack */
    size_t label_cap;
    uint8_t *piece;
    size_t piece_cap;
    uint8_t *soft; /* soften_crop's scratch */
    size_t soft_cap;
    struct vis_image sharp; /* the frame with its candidates' boxes sharpened (sharpen_boxes) */
    uint32_t *sharp_tmp; /* vis_sharpen_box's scratch, there and for a blurred frame (rec_scan) */
    size_t sharp_tmp_cap;
    int *per_comp; /* rec_scan's per-component scratch */
    size_t per_comp_cap;
    int *run_order;             /* rec_scan's runs, grouped by candidate */
    struct vis_component *gbox; /* rec_scan's union box of each group of components */
    size_t gbox_cap;
    size_t run_order_cap;
    struct rec_digit reorder[REC_MAX_CANDIDATES]; /* scratch for putting digits in reading order */
    struct rec_digit read[REC_MAX_CANDIDATES];    /* scratch: every network input's reading */
    /* one scan's state, filled stage by stage (rec_scan) */
    int min_h, max_h; /* a digit's height range in this image, pixels */
    int n_cand;       /* candidates: union boxes of joined components */
    struct vis_component box[REC_MAX_CANDIDATES];
    const struct vis_run *runs;        /* the ink's runs (vision's scratch) ... */
    int first[REC_MAX_CANDIDATES + 1]; /* ... candidate k's are runs[run_order[first[k] ..
                                          first[k + 1])] */
    int n_plan, n_in;                  /* candidates read, network inputs (wholes, then cuts) */
    struct rec_plan plan[REC_MAX_CANDIDATES];
    int plan_of[REC_MAX_CANDIDATES];           /* the plan each reading came from */
    struct rec_box in_box[REC_MAX_CANDIDATES]; /* each input's ink box in the image */
    struct rec_box acc_box[REC_MAX_CANDIDATES], marks[REC_MAX_CANDIDATES]; /* read, rejected */
    struct run_plan blobs[RUN_MAX_BLOBS];                                  /* cut_runs' blobs ... */
    int blob_of[REC_MAX_CANDIDATES]; /* ... each reading's (-1: none) */
    /* the network's answers (rec_params.reuse): seen[last] the last frame's, seen[!last] this
       frame's so far (inputs in seen_x); fresh_x holds a batch of inputs not seen before, the
       inputs fresh_of[..] with their sums fresh_ink[..], and answer[i] is input i's answer, fresh
       or not */
    struct rec_seen *seen[2];
    float *seen_x[2];
    int n_seen[2], last;
    int keep;  /* this frame's answers are kept (reuse or stage 7) */
    int video; /* the last frame was read with reuse: its answers are for this one */
    int again; /* in stage 7: inputs may also take an answer of this frame's first reading */
    /* in stage 7: the first reading (its candidates, read or turned down), and those of its
     * sure readings found again, known[0 .. n_known): not read again, they stand in stage 7's
     * reading (recog.c's known_before) */
    const struct rec_result *first_reading;
    int known[REC_MAX_CANDIDATES], n_known;
    int wide_pass;          /* in stage 8: the frame shrunk (no context check: stage 5d) */
    int n_inputs, n_reused; /* this scan's network inputs, and those that took a seen answer */
    float *fresh_x;
    int fresh_of[REC_BATCH];
    float fresh_ink[REC_BATCH];
    float answer[REC_MAX_CANDIDATES][REC_CLASSES_WITH_TWO];
};

/* Whether box a is where box b was in a frame before: position and size within an eighth of b's
 * height (and a pixel), as a reused answer's box must be (rec_params.reuse). */
static inline int rec_box_again(struct rec_box a, struct rec_box b)
{
    const int slack = 1 + b.h / 8;
    return abs(a.x - b.x) <= slack && abs(a.y - b.y) <= slack && abs(a.w - b.w) <= slack &&
           abs(a.h - b.h) <= slack;
}

/* Union-find over component indices: the root of a's group, path halved. */
static inline int rec_group_find(int *g, int a)
{
    while (g[a] != a)
        a = g[a] = g[g[a]];
    return a;
}

/* Puts a and b in one group (its root the smaller index). */
static inline void rec_group_union(int *g, int a, int b)
{
    a = rec_group_find(g, a), b = rec_group_find(g, b);
    if (a != b)
        g[a > b ? a : b] = a < b ? a : b;
}

/* The level (ink dark, 0..255) below which a share `frac` of hist's n counts lie. */
static inline int rec_hist_level(const int hist[256], long n, float frac)
{
    long acc = 0;
    for (int v = 0; v < 256; v++)
        if ((acc += hist[v]) > (long)(frac * (float)n))
            return v;
    return 255;
}

/* Stage 5d (context.c), with the context network and p.context_min above 0; not in stage 8's
 * shrunk frame (its readings are big and 0.9 sure; checked, close-ups read 3 points less).
 * rec_rescue_by_context, before the context rules: candidates the digit network rejected, unsure
 * between "not a digit" and one digit, beside a sure digit, are read when the context network is
 * sure they are digits. rec_check_context, after them: readings it gives a chance under
 * p.context_min of being a digit, with no reading it is surer of beside them on their line, get
 * digit -1. */
enum { REC_CONTEXT_BATCH = 64 };
void rec_rescue_by_context(struct rec_scanner *sc, const struct vis_image *grey,
                           struct rec_result *r, int n);
void rec_check_context(struct rec_scanner *sc, const struct vis_image *grey, struct rec_result *r,
                       int n);

/* The context rules of rec_scan's stage 5c (context.c): readings whose surroundings say they are
 * not digits get digit -1 (edges, letters of words and keyboards, frames round numbers, readings
 * at the frame's edge the network is unsure of, readings in clutter). */
void rec_reject_by_context(const struct rec_scanner *sc, const struct vis_image *grey,
                           struct rec_result *r, int n);

/* Whether the reading boxed b has fewer than `need` even strips (paper, not texture) of the four
 * beside it: clutter (context.c). A reading with no sure digit next to it needs
 * REC_CLUTTER_SIDES; stage 5e cuts no blob in clutter. */
enum { REC_CLUTTER_SIDES = 2 };
int rec_in_clutter(const struct vis_image *grey, const struct rec_box *b, int need);

#endif
