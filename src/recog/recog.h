/* recog.h - reading digits and numbers in a grey image: ink/paper separation, candidate digits
 * from connected components (specks, ruled lines and large blobs rejected, fragments of one digit
 * joined), MNIST normalisation, one batched classification, and grouping into numbers along text
 * lines. Uses nn and vision; knows nothing of files, cameras or windows.
 *
 *     struct rec_params p; rec_default_params(&p);
 *     struct rec_scanner *sc; rec_scanner_new(model, &p, &sc);
 *     struct rec_result *r = malloc(sizeof *r);   // about 1 MB: keep it off the stack
 *     rec_scan(sc, &grey, r);                      // r->digits, r->numbers, boxes in pixels
 *     free(r); rec_scanner_free(sc);
 *
 * Threads: a scanner belongs to one thread at a time; the model may be shared. */
#ifndef REC_H
#define REC_H

#include "nn.h"
#include "vis.h"

enum { REC_MAX_CANDIDATES = 256 };

struct rec_params {
    struct vis_threshold_params threshold;
    float min_height_frac; /* a digit is at least this fraction of the shorter image side */
    float max_height_frac; /* ... and at most this */
    int min_area;          /* pixels; smaller components are specks */
    float max_aspect;      /* width/height above this is a line or a smudge, not a digit */
    float min_fill;        /* ink pixels / box area below this (a ruled line's frame) rejected */
    float min_confidence;  /* below this a candidate is reported as rejected */
    float number_gap;      /* a horizontal gap wider than this times the digit height splits */
    float line_frac;       /* ink runs longer than this fraction of the image side are lines */
    int line_thickness;    /* ... where they are at most this thick; line_frac 0 keeps lines */
};
void rec_default_params(struct rec_params *p);

struct rec_box {
    int x, y, w, h;
};

struct rec_digit {
    int digit;          /* 0..9, or -1 when rejected */
    float confidence;   /* probability of the best class */
    int top3[3];        /* classes, most likely first */
    float top3_p[3];    /* their probabilities */
    struct rec_box box; /* the ink, in image pixels */
    float input[784];   /* the 28x28 image the network saw (white ink on black, 0..1) */
};

struct rec_number {
    char text[REC_MAX_CANDIDATES + 1];
    float confidence; /* product of its digits' confidences */
    struct rec_box box;
    int first, count; /* its digits: digits[first .. first+count) of the result (line order) */
};

struct rec_result {
    int n_digits, n_rejected; /* accepted digits first, in reading order; rejected after them */
    struct rec_digit digits[REC_MAX_CANDIDATES];
    int n_numbers;
    struct rec_number numbers[REC_MAX_CANDIDATES];
    enum vis_polarity polarity;
};

struct rec_scanner;
/* The scanner keeps a reference to model (which must outlive it) and its own workspace. */
int rec_scanner_new(const struct nn_model *model, const struct rec_params *p,
                    struct rec_scanner **out);
void rec_scanner_free(struct rec_scanner *sc);

/* The ink mask of the last rec_scan (255 ink, 0 paper, after line removal), owned by sc. */
const struct vis_image *rec_scanner_mask(const struct rec_scanner *sc);

/* Reads grey into *r (overwritten). Fails only on allocation failure or a model that is not a
 * 1x28x28 -> 10 digit model; an image without digits gives an empty result. */
int rec_scan(struct rec_scanner *sc, const struct vis_image *grey, struct rec_result *r);

#endif
