/* numbers.h - recog's grouping of read digits into text lines and numbers (numbers.c); used by
 * rec_scan, and on its own by tests. Geometry only: no images, no network. */
#ifndef REC_NUMBERS_H
#define REC_NUMBERS_H

#include "recog.h"

/* Puts n digit boxes (n <= REC_MAX_CANDIDATES) into text lines: each box, from left to right,
 * joins the line whose last box it sits beside (sharing most of the shorter's height, of similar
 * size; once a line has two boxes, where its slope so far puts the next, and before that where
 * the median slope of the other lines of three or more puts it), so lines may tilt and drift;
 * otherwise it starts a line. line[i] gets box i's line, numbered from the top (by the middle of
 * each line's first box); order gets the boxes in reading order (lines top to bottom, each left to
 * right). Returns the number of lines. */
int rec_lines(const struct rec_box *box, int n, int *line, int *order);

/* Reads digits[0..n) (in reading order, line[i] each one's line) into numbers: consecutive
 * digits of a line are one number unless one of the marks (boxes of candidates that are not
 * digits) stands between them or the gap between them is wider than number_gap times the
 * taller's height and not of the line's own wide spacing (at most 2.5 times a gap beside it,
 * itself at most 1.2 heights, and at most 1.2 heights: numbers.c). Writes numbers (room for n)
 * and returns how many. */
int rec_numbers(const struct rec_digit *digits, int n, const int *line, const struct rec_box *marks,
                int n_marks, float number_gap, struct rec_number *numbers);

/* Candidates a model with a junk class rejected, read again beside digits: a small or faint digit
 * often seems likelier junk than a digit to the network, clutter is rarely written in a row of
 * digits. digits[i] with digit -1 is read as its top3[0] when that digit has at least REC_CTX_SURE
 * of the digit classes' probability (confidence / (1 - junk)), junk is below REC_CTX_JUNK, and a
 * digit read with at least REC_CTX_ANCHOR confidence, of similar height (within 0.6x) and on the
 * same line (sharing half the shorter's height), stands within REC_CTX_GAP heights of it. Only
 * digits read before the call are anchors. Returns how many were read again. */
int rec_accept_beside_digits(struct rec_digit *digits, int n);
/* Whether boxes a and b stand beside each other: the shorter at least min_h_pct percent of the
 * taller's height, sharing at least min_shared_pct percent of the shorter's height up and down,
 * at most gap times the taller's height apart across. */
int rec_beside(const struct rec_box *a, const struct rec_box *b, float gap, int min_h_pct,
               int min_shared_pct);
/* rec_beside on one line in the strict sense: heights within 0.6x, half the shorter shared. */
int rec_side_by_side(const struct rec_box *a, const struct rec_box *b, float gap);
/* Whether a digit read with at least REC_CTX_ANCHOR (0.9) confidence, of similar height, on the
 * same line and within REC_CTX_GAP heights, stands beside digits[self]. */
int rec_beside_sure_digit(const struct rec_digit *digits, int n, int self);

/* Rejects every 1 among digits[0..n) that no digit other than 1 read with at least 0.9 confidence
 * stands beside (similar height, same line, within 2.5 heights), directly or through a row of 1s:
 * a thin dark stroke alone is far more often a bracket, a slash, a blade of grass or an edge than
 * a number 1 written alone. A lone 1 read with at least keep_sure confidence and at most 1 -
 * keep_sure "not a digit" stays (above 1: none does). Returns how many were rejected. */
int rec_reject_lone_ones(struct rec_digit *digits, int n, float keep_sure);

#endif
