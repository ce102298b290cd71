/* recog.h - reading digits and numbers in a grey image: ink/paper separation, candidate digits
 * from connected components (specks, ruled lines and large blobs rejected, fragments of one digit
 * joined), MNIST normalisation, one batched classification, and grouping into numbers along text
 * lines. Uses nn and vision; knows nothing of files, cameras or windows.
 *
 *     struct rec_params p; rec_default_params(&p);
 *     struct rec_scanner *sc; rec_scanner_new(model, &p, &sc);
 *     struct rec_result *r = malloc(sizeof *r);   // about 4 MB: keep it off the stack
 *     rec_scan(sc, &grey, r);                      // r->digits, r->numbers, boxes in pixels
 *     free(r); rec_scanner_free(sc);
 *
 * Threads: a scanner belongs to one thread at a time; the model may be shared. */
#ifndef REC_H
#define REC_H

#include "json.h"
#include "nn.h"
#include "vis.h"

/* The most candidates one image is read for (a page photographed at 12 MP holds a few hundred
 * digits); the network reads them in batches of REC_BATCH. */
enum { REC_MAX_CANDIDATES = 1024, REC_BATCH = 256 };
/* Digits this tall (pixels) are legible in any image, however large. 16 until 2026-12-05, which
 * dropped a 1024x768 or 1280x720 webcam's digits of 12-15 px (build/other-tune, robust: 77.12 ->
 * 79.67% read, precision 90.99 -> 90.55%; 10 px: 80.62% at 90.00%; 640x480 frames are bound by
 * the 2% of the short side, 9 px). */
enum { REC_LEGIBLE_PX = 12 };
/* A model with 11 outputs reads the 11th as "not a digit" (a piece of background, a letter, half
 * a digit): a candidate is read only when its best digit is likelier than that. One with 12 also
 * reads the 12th as "two digits" touching (cut in two, see rec_scan's stage 4). */
enum { REC_CLASSES_WITH_JUNK = 11, REC_CLASSES_WITH_TWO = 12 };

/* How many more times stage 7 of rec_scan may find the ink (rec_params.again_shares). */
enum { REC_AGAIN_PASSES = 2 };

struct rec_params {
    struct vis_threshold_params threshold;
    float min_height_frac; /* a digit is at least this fraction of the shorter image side, or
                              REC_LEGIBLE_PX in large images (a page photographed at 12 MP) */
    float max_height_frac; /* ... and at most this */
    int min_area;          /* pixels; smaller components are specks */
    float max_aspect;      /* width/height above this is a line or a smudge, not a digit nor a
                              number run together (3.5) */
    float split_aspect; /* width/height from which a blob is also tried as two digits (0: never) */
    float deep_share;   /* an unsure candidate is also read from its ink this share of the way
                           from the paper to its darkest (0: never) */
    int grey_ink;       /* 1: the network reads a candidate's ink in grey levels (as MNIST's
                           digits are); 0: as the ink mask has it, all or nothing */
    float sharpen;      /* the candidates' grey levels through an unsharp mask of this amount
                           before they are cropped (vis_sharpen_box; 0: as they are) */
    float min_fill;     /* ink pixels / box area below this (a ruled line's frame) rejected */
    float min_confidence; /* below this a candidate is reported as rejected */
    float number_gap;     /* a horizontal gap wider than this times the digit height splits */
    float line_frac;      /* ink runs longer than this fraction of the image side are lines */
    int line_thickness;   /* ... where they are at most this thick; line_frac 0 keeps lines */
    int box_side;         /* printed boxes with edges this long or longer are erased; 0: kept */
    int keep_lone_ones;   /* 1: a 1 with no other digit beside it is read (0: rejected, as a
                             stroke alone is more often a bracket, slash or edge) */
    float lone_one_sure;  /* ... unless read with at least this confidence and at most 1 - this
                             "not a digit" (0.9; above 1: every lone 1 rejected) */
    int cut_again;        /* 1: a half of a cut read as two digits touching is cut again (three
                             digits run together); 0: not */
    int cut_threes;       /* 1: a blob read as not a digit, beside a sure digit, is tried cut in
                             three (three digits run together); 0: not */
    int cut_runs;         /* 1: a blob read as not a digit, at least 1.2 heights wide on even
                             ground, is tried cut into three or more digits where its ink is
                             thinnest (a number run together); 0: not */
    int reject_words;     /* 1: readings among more candidates that are not digits than digits,
                             side by side (the o of a printed word), are rejected; 0: not */
    int reject_frames;    /* 1: a reading with another reading inside its box (a frame drawn
                             round a number) is rejected; 0: not */
    int reject_clutter;   /* 1: a reading with texture on three or four sides of it, not paper
                             (a desk, a photograph), is rejected; 0: not */
    int reject_corners;   /* 1: a reading with something as dark as its ink on two sides of its
                             box, paper on another (the dark side of a sheet's corner), is
                             rejected; 0: only tall thin ones with it on one side are */
    float again_shares[REC_AGAIN_PASSES]; /* the ink found again at each of these shares of the
                                             strongest stroke nearby (0: no such pass), and
                                             the readings at least again_sure there kept where
                                             the first reading has none or only unsure ones
                                             (stage 7 of rec_scan) */
    float again_sure;
    float again_known; /* stage 7 does not read again a candidate at the box of one the first
                          reading was this sure of, as a digit or as not one (0: it does, scan's
                          default; live: 0.99) */
    float wide_stroke; /* stage 8 of rec_scan: the frame shrunk and read again with strokes up to
                          this fraction of its shorter side (a digit drawn large with a thick
                          pen), the readings at least wide_sure there kept as stage 7's are (0:
                          no stage 8) */
    float wide_sure;
    float context_min; /* stage 5d: a reading whose surroundings (3 times its box, grey) the
                          model's context network (nn_model.aux, when the file has one) gives a
                          chance under this of being a digit is rejected, unless a reading
                          beside it on its line (2.5 heights) has 0.5 (0.2; 0: no check) */
    float denoise;     /* an image whose sensor noise is at least this share of its paper's grey
                          level (vis_noise_share) is smoothed (vis_image_smooth) before it is
                          read: a dim camera's gained-up frames (0: never) */
    float deblur;      /* an image up to 1080 px on its shorter side and at least this blurred
                          both ways (vis_blur_share) is read through an unsharp mask
                          (vis_sharpen_box, amount 0.7): a camera out of focus (0: never) */
    float reuse;       /* video: a network input within this mean absolute difference (grey levels
                          0..1) of one the network read in the last frame, its box in the same place,
                          takes that answer when it was sure (0: every input read afresh, as stills) */
};
void rec_default_params(struct rec_params *p);
/* p reads each image's ink once: no stage 7 (`digits live --quick`, the browser's camera). Stage
 * 8 stays (the frame shrunk for strokes as wide as a marker's: 0.4 ms a 640x480 frame). */
void rec_params_look_once(struct rec_params *p);
/* The defaults for a camera's frames (digits live, the browser's camera): as rec_default_params
 * but the last frame's sure answers reused for inputs that look the same (reuse 0.04), and stage
 * 7's readings kept only at 0.999: on the live tuning videos (bench/compare_live.py, 2026-12-06)
 * the desk's digits read 79.3 -> 81.3% with the false digits drawn as they were (at 0.99: 81.7%,
 * and 0.27 -> 0.31 false digits drawn a frame on the real-photo video), for 2.7 times the time of a
 * desk frame (4 -> 11 ms natively; a frame with few candidates turned down, as on a flat sheet, is
 * not read again). Stage 8's readings are kept at 0.99: on the live tuning videos the close-ups'
 * digits read 25.3
 * -> 72.4% (0.999: 59.1%; 0.9: 72.4% and one more change of the desk video's shown numbers), the
 * flat sheets' false digits drawn 0.11 -> 0.04 a frame, the other videos as they were.
 * The browser reads each frame once (its page sets again_shares to 0), for phones' sake. Lone 1s
 * are read as in stills (0.9 sure) since stage 5d checks their surroundings; before it every lone
 * 1 was rejected here, since read 30 times a second the strokes of clutter flickered in as 1s. On
 * the live report videos (2026-12-06, with stage 5d) reading them changed no false-digit figure
 * and read the desk 66.77 -> 66.75%, the second generator's view 67.51 -> 67.73%, the real
 * photographs' 78.43 -> 78.55%, the desk's shown numbers changing 5 -> 4 times in 168 pairs.
 * A blurred frame is not sharpened (deblur 0): on the live videos it changed no figure beyond a
 * digit or a lock either way (2026-12-07: the close-ups 9 -> 8 numbers locked in time, the held-up
 * sheets 82.43 -> 82.80% read), and the demo's soft frames took 1.9 -> 2.3 ms each. */
void rec_live_params(struct rec_params *p);

struct rec_box {
    int x, y, w, h;
};

/* The area two boxes share (0 when they are apart), their intersection over union, and their
 * intersection over the smaller box's area (0 when either is empty). */
double rec_box_inter(struct rec_box a, struct rec_box b);
double rec_box_iou(struct rec_box a, struct rec_box b);
double rec_box_overlap(struct rec_box a, struct rec_box b);

/* Why a candidate was not read (REC_READ when it was), for tuning and scan-eval --misses. */
enum rec_why {
    REC_READ,
    REC_UNSURE,         /* under min_confidence, or likelier not a digit */
    REC_EDGE,           /* the edge of an object (context.c) */
    REC_IN_WORD,        /* a letter of a word */
    REC_HOLDS_READING,  /* a frame around another reading */
    REC_BESIDE_LETTERS, /* a 1 beside letters */
    REC_AT_BORDER,      /* unsure at the frame's border */
    REC_IN_CLUTTER,     /* in texture */
    REC_CONTEXT,        /* the context network's check */
    REC_LONE_ONE,       /* a 1 with no digit beside it */
    REC_WHY_COUNT
};

/* The name of w ("read", "unsure", "edge", ...). */
const char *rec_why_name(enum rec_why w);

struct rec_digit {
    int digit;          /* 0..9, or -1 when rejected */
    float confidence;   /* probability of the best digit (for a reading stage 5d rescued, its
                           share of the digits' times the context network's chance of a digit) */
    float junk;         /* probability that it is not a digit (0 for a 10-class model) */
    float two;          /* probability that it is two digits touching (0 below 12 classes) */
    int top3[3];        /* classes, most likely first */
    float top3_p[3];    /* their probabilities */
    struct rec_box box; /* the ink, in image pixels */
    enum rec_why why;   /* REC_READ, or why it was rejected */
    float input[784];   /* the 28x28 image the network saw (white ink on black, 0..1) */
};

struct rec_number {
    char text[REC_MAX_CANDIDATES + 1];
    float confidence; /* product of its digits' confidences */
    struct rec_box box;
    int first, count; /* its digits: digits[first .. first+count) of the result (line order) */
};

/* What the reader saw of the camera in the image it read, for the person holding it: the level
 * a tenth of the pixels reach (0-255, vis_bright_tenth: the paper's in most views), the sensor
 * noise as a share of it (vis_noise_share) and the blur (vis_blur_share, 0 sharp .. 1 flat); in a
 * video (rec_params.reuse) running means over the frames, each -1 when not measured (an image
 * read as a crop). hints: the REC_HINT_* that hold (rec_hint_text says them), with a margin in a
 * video so that a hint does not blink. */
enum { REC_HINT_DARK = 1, REC_HINT_NOISY = 2, REC_HINT_BLURRED = 4 };
struct rec_camera {
    float light, noise, blur;
    unsigned hints;
};

/* One line of advice for hints (REC_HINT_* bits; the most useful when several hold), "" for
 * none: "dim light: more light on the paper helps", ... */
const char *rec_hint_text(unsigned hints);

struct rec_result {
    int n_digits, n_rejected; /* accepted digits first, in reading order; rejected after them */
    struct rec_digit digits[REC_MAX_CANDIDATES];
    int n_numbers;
    struct rec_number numbers[REC_MAX_CANDIDATES];
    enum vis_polarity polarity;
    int width, height;        /* the image's */
    struct rec_camera camera; /* what the reader saw of the camera */
};

/* Whether model reads digits as the scanner needs: 1x28x28 inputs and 10 digit classes, 11 with
 * "not a digit" or 12 with "two digits" too. */
int rec_is_digit_model(const struct nn_model *model);
/* Whether model's second network (model->aux) is a context network the scanner uses (stage 5d):
 * 1x28x28 inputs (vis_context_patch) and two classes, 1 "a digit" and 0 "nothing". */
int rec_has_context_model(const struct nn_model *model);

struct rec_scanner;
/* The scanner keeps a reference to model (which must outlive it), a packed copy of its weights for
 * fast inference (nn_infer: make a new scanner after the weights change), its own workspace and,
 * with p->reuse, the network's answers of the last image it read (for the next frame of a video).
 */
int rec_scanner_new(const struct nn_model *model, const struct rec_params *p,
                    struct rec_scanner **out);
void rec_scanner_free(struct rec_scanner *sc);

/* Changes the parameters of a scanner between scans (the live app's sensitivity and polarity). */
void rec_scanner_set_params(struct rec_scanner *sc, const struct rec_params *p);

/* Writes the members `"digits": [...], "numbers": [...]` and, when measured, `"camera": {"light",
 * "noise", "blur", "hints": ["dark", "noisy", "blurred"], "advice" (rec_hint_text, when a hint
 * holds)}` (rec_camera; as `digits scan --json` prints them) into the object w has open, and a box
 * as the member `"key": [x, y, w, h]`. */
void rec_result_write_json(struct dg_jw *w, const struct rec_result *r);
void rec_box_write_json(struct dg_jw *w, const char *key, struct rec_box b);
/* r's rejected candidates as the key "rejected": [{"box", "why" (rec_why_name), "top3",
 * "not_digit", "two_digits"}]. */
void rec_rejected_write_json(struct dg_jw *w, const struct rec_result *r);

/* The ink mask of the last rec_scan (255 ink, 0 paper, after line removal), owned by sc. */
const struct vis_image *rec_scanner_mask(const struct rec_scanner *sc);

/* How many network inputs the last rec_scan had, and how many of them took an answer of the frame
 * before it (rec_params.reuse). */
void rec_scanner_counts(const struct rec_scanner *sc, int *inputs, int *reused);
/* The same for the context network (stage 5d): the surroundings it was asked about in the last
 * rec_scan, and how many of them took a kept answer of the frame before (rec_params.reuse). */
void rec_scanner_context_counts(const struct rec_scanner *sc, int *asked, int *reused);

/* Reads grey into *r (overwritten). Fails only on allocation failure or a model that is not a
 * 1x28x28 -> 10 digit model; an image without digits gives an empty result. An image under 64 px
 * on its shorter side is read as a crop of a digit or a number: enlarged, with its border's
 * polarity (unless p.threshold.polarity says otherwise) and none of the rules that judge a
 * reading by its surroundings; boxes are in grey's pixels either way. A larger image as noisy as
 * a dim camera's gained-up frame (p.denoise) is read smoothed. */
int rec_scan(struct rec_scanner *sc, const struct vis_image *grey, struct rec_result *r);

/* Tracking digits across video frames so labels do not flicker: each candidate of a frame is
 * matched to a track by box overlap; a track averages its class probabilities over the last
 * REC_TRACK_HISTORY frames, and its label changes only when another class's average beats the
 * current one's by switch_margin (or the current one falls below min_confidence, giving "?").
 * Tracks unseen for REC_TRACK_MAX_MISSED frames end. Plain data: no allocation. */
enum { REC_TRACK_HISTORY = 5, REC_TRACK_MAX_MISSED = 5, REC_MAX_TRACKS = REC_MAX_CANDIDATES };

struct rec_track {
    int id;
    struct rec_box box;
    int label;        /* the shown class, or -1 for "?" */
    float confidence; /* its averaged probability */
    int seen, missed; /* frames matched in a row; frames since last matched */
    float hist[REC_TRACK_HISTORY][10];
    int n_hist, next_hist;
};

struct rec_tracker {
    float min_confidence, switch_margin;
    int n_tracks, next_id;
    struct rec_track tracks[REC_MAX_TRACKS];
};

void rec_tracker_init(struct rec_tracker *t, float min_confidence, float switch_margin);
/* Feeds one frame's result (all candidates, rejected ones too: a digit that is unsure for a frame
 * keeps its track). track_of[i] (nullable) gets the index into t->tracks of candidate i. */
void rec_tracker_update(struct rec_tracker *t, const struct rec_result *r, int *track_of);

/* Numbers followed across frames (numtrack.c), so the numbers shown hold still: a reading joins the
 * track whose box it overlaps by at least half of the smaller box, unless one is over 2.5 times as
 * wide as the other (tracks reading it as their own text first, then the oldest); a track is shown
 * once seen in
 * `appear` frames in a row, takes a new text only after it has been read in `change` frames in a
 * row (a single frame read as a third text in between does not break the row), ends after `gone`
 * frames unseen (a reading of another text than its own or the one waiting to replace it does not
 * count as seen), and locks (once per text) when shown, read the same in `lock` frames in a row
 * (counting the frames a new text waited to replace the old) and its confidence (a running average)
 * per digit (its geometric mean over the digits) is at least lock_confidence, and for `lock` frames
 * in a row it had no other candidate, read or not, just beside one of its digits and kept clear of
 * the frame's edge (else a digit of it may be missing). */
enum { REC_MAX_NUMTRACKS = 64, REC_NUMBER_TEXT = 64 };

struct rec_numtrack {
    int id;
    struct rec_box box;
    char text[REC_NUMBER_TEXT]; /* the reading shown */
    float confidence;
    char pending[REC_NUMBER_TEXT]; /* a different reading ... */
    int pending_frames;            /* ... read in this many frames in a row ... */
    int pending_break;             /* ... but for this many read otherwise since it last was */
    int age, steady, missed;       /* frames read; read as text in a row; unseen in a row */
    int whole; /* frames read in a row not short of a digit as far as can be seen (numtrack.c) */
    int shown, locked;
};

struct rec_numtracker {
    int appear, change, shrink, gone, lock; /* frame counts, for rate frames a second */
    float lock_confidence;
    double last_t, interval; /* rec_numtracker_pace: the last frame's time, the mean interval */
    int have_t;              /* last_t holds a frame's time */
    int n, next_id;
    struct rec_numtrack tracks[REC_MAX_NUMTRACKS];
};

/* Frame counts for a video of fps frames a second (30 when unknown): appear and change a quarter
 * of a second, shrink (a shown number losing digits) SHRINK_S, gone a third, lock half a second;
 * lock_confidence 0.93 a digit. */
void rec_numtracker_init(struct rec_numtracker *t, double fps);
/* The time of the frame about to be fed (seconds, the source's clock): the counts follow the rate
 * frames actually come at (a camera slowed to 15 fps in dim light, a file of 25 or 60, frames the
 * reader had to skip), so that they stay the same times. A mean interval over the last frames or
 * so; gaps over a second (a pause) and time going back (a loop) are not counted. Optional: without
 * it the counts stay those of init's fps. */
void rec_numtracker_pace(struct rec_numtracker *t, double frame_t);
/* Feeds one frame's numbers. Returns how many tracks locked in this frame and puts the indices
 * in t->tracks of the first max_locked of them into locked_now (nullable). */
int rec_numtracker_update(struct rec_numtracker *t, const struct rec_result *r, int *locked_now,
                          int max_locked);

/* A live reader's view of a frame (view.c), shared by the live window and the browser: a digit is
 * drawn once steady (seen in two frames in a row; a one-frame blip, glare or the paper's edge, is
 * not), with its track's label (-1: "?") and confidence; track_of is rec_tracker_update's. */
int rec_view_steady(const struct rec_tracker *trk, const int *track_of, int i);
int rec_view_label(const struct rec_tracker *trk, const int *track_of, const struct rec_result *r,
                   int i, float *conf);
/* One frame as `digits live --json` prints it: {"frame", "t", "digits", "numbers" (the reading),
 * "shown_digits" (drawn with a label), "shown", "locked" (number tracks), "ms"} and a line
 * {"event": "lock", "t", "id", "text", "confidence", "box"} per number locked in this frame (its
 * index in ntk->tracks in locked[0 .. n_locked)); each line ends in a newline. */
struct rec_view_frame {
    int frame;
    double t, ms;
    const struct rec_result *res;
    const struct rec_tracker *trk;
    const int *track_of;
    const struct rec_numtracker *ntk;
    const int *locked;
    int n_locked;
};
void rec_view_write_json(struct dg_jw *w, const struct rec_view_frame *f);
/* A number track's members "id" (when with_id), "text", "confidence", "box". */
void rec_numtrack_write_json(struct dg_jw *w, const struct rec_numtrack *tr, int with_id);

#endif
