/* digits.c - libdigits, the public face of the reader (include/digits.h): a reader is a model, a
 * scanner (recog) and a grey buffer; a result is one allocation holding the digits, the numbers
 * and their texts. Nothing here prints or exits; errors are dg_fail()'s thread-local message,
 * which digits_errmsg() hands out. */
#include "digits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dg.h"
#include "nn.h"
#include "recog.h"
#include "vis.h"

#include "digits_config.h" /* DIGITS_DATADIR: PREFIX/share/digits, written by the Makefile */

/* The largest image read: as `digits scan` allows. */
enum { MAX_PIXELS = 64 << 20 };

/* The public codes are the base's codes; checked here so they cannot drift apart. */
_Static_assert((int)DIGITS_OK == DG_OK && (int)DIGITS_EIO == DG_EIO &&
                   (int)DIGITS_EFORMAT == DG_EFORMAT && (int)DIGITS_ENOMEM == DG_ENOMEM &&
                   (int)DIGITS_EARG == DG_EARG,
               "digits.h status codes must equal dg.h's");

struct digits_reader {
    struct nn_model *model;
    struct rec_scanner *sc;
    struct rec_params params;
    struct rec_result *res; /* the last scan, about a megabyte: kept, not on the stack */
    uint8_t *grey;
    size_t grey_cap;
    int threads;
};

const char *digits_version(void)
{
    return DIGITS_VERSION;
}

const char *digits_errmsg(void)
{
    return dg_errmsg();
}

/* The default model's path into buf: $DIGITS_ROOT/models/robust.safetensors, else the installed
 * one. */
static const char *default_model(char *buf, size_t n)
{
    const char *root = getenv("DIGITS_ROOT");
    if (root && *root)
        snprintf(buf, n, "%s/models/robust.safetensors", root);
    else
        snprintf(buf, n, "%s/models/robust.safetensors", DIGITS_DATADIR);
    return buf;
}

const char *digits_default_model(void)
{
    static _Thread_local char path[4096];
    return default_model(path, sizeof path);
}

/* Runs with the reader's thread count for the network, restoring the caller's afterwards. */
static int set_threads(int threads)
{
    const int before = nn_get_threads();
    nn_set_threads(threads);
    return before;
}

int digits_reader_open(const char *model_path, int threads, digits_reader **out)
{
    if (!out || threads < 0)
        return dg_fail(DG_EARG, "digits_reader_open: %s",
                       !out ? "out is NULL" : "threads must be 0 (all cores) or more");
    char path[4096];
    if (!model_path)
        model_path = default_model(path, sizeof path);
    struct digits_reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        return dg_fail(DG_ENOMEM, "out of memory");
    rd->threads = threads;
    int rc = nn_model_load(model_path, &rd->model, NULL, NULL);
    if (rc != DG_OK)
        goto fail;
    const struct nn_model *m = rd->model;
    if (!rec_is_digit_model(m)) {
        rc = dg_fail(DG_EFORMAT,
                     "%s is not a digit model (it takes %dx%dx%d and gives %d classes; expected "
                     "1x28x28 and 10, 11 with 'not a digit' or 12 with 'two digits' too)",
                     model_path, m->in_c, m->in_h, m->in_w, m->n_classes);
        goto fail;
    }
    rec_default_params(&rd->params);
    rd->res = malloc(sizeof *rd->res);
    if (!rd->res) {
        rc = dg_fail(DG_ENOMEM, "out of memory");
        goto fail;
    }
    /* the inference engine takes its thread count when it is made */
    const int before = set_threads(threads);
    rc = rec_scanner_new(rd->model, &rd->params, &rd->sc);
    set_threads(before);
    if (rc != DG_OK)
        goto fail;
    *out = rd;
    return DG_OK;
fail:
    digits_reader_close(rd);
    return rc;
}

void digits_reader_close(digits_reader *rd)
{
    if (!rd)
        return;
    rec_scanner_free(rd->sc);
    nn_model_free(rd->model);
    free(rd->res);
    free(rd->grey);
    free(rd);
}

int digits_reader_set_min_confidence(digits_reader *rd, float min_confidence)
{
    if (!rd || !(min_confidence >= 0.0f && min_confidence <= 1.0f))
        return dg_fail(DG_EARG, "digits_reader_set_min_confidence: %s",
                       !rd ? "reader is NULL" : "min_confidence must be from 0 to 1");
    rd->params.min_confidence = min_confidence;
    rec_scanner_set_params(rd->sc, &rd->params);
    return DG_OK;
}

int digits_reader_set_video(digits_reader *rd, int on)
{
    if (!rd)
        return dg_fail(DG_EARG, "digits_reader_set_video: reader is NULL");
    struct rec_params live;
    rec_live_params(&live);
    rd->params.reuse = on ? live.reuse : 0.0f;
    rec_scanner_set_params(rd->sc, &rd->params);
    return DG_OK;
}

/* Bytes per pixel of a format, and where red and blue are; 0 for an unknown format. */
static int format_bytes(enum digits_format f, int *r_at, int *b_at)
{
    switch (f) {
    case DIGITS_GREY: return 1;
    case DIGITS_RGB: *r_at = 0, *b_at = 2; return 3;
    case DIGITS_BGR: *r_at = 2, *b_at = 0; return 3;
    case DIGITS_RGBA: *r_at = 0, *b_at = 2; return 4;
    case DIGITS_BGRA: *r_at = 2, *b_at = 0; return 4;
    }
    return 0;
}

/* One allocation: the result, then its digits, its numbers, and their texts. */
static int copy_result(const struct rec_result *r, int w, int h, double ms, digits_result **out)
{
    size_t text_bytes = 0;
    for (int i = 0; i < r->n_numbers; i++)
        text_bytes += strlen(r->numbers[i].text) + 1;
    const size_t bytes = sizeof(digits_result) + (size_t)r->n_digits * sizeof(digits_digit) +
                         (size_t)r->n_numbers * sizeof(digits_number) + text_bytes;
    unsigned char *mem = malloc(bytes);
    if (!mem)
        return dg_fail(DG_ENOMEM, "out of memory for a result of %zu bytes", bytes);
    digits_result *res = (digits_result *)mem;
    digits_digit *dd = (digits_digit *)(mem + sizeof *res);
    digits_number *nn = (digits_number *)(dd + r->n_digits);
    char *text = (char *)(nn + r->n_numbers);
    for (int i = 0; i < r->n_digits; i++) {
        const struct rec_digit *d = &r->digits[i];
        dd[i] = (digits_digit){.digit = d->digit,
                               .confidence = d->confidence,
                               .box = {d->box.x, d->box.y, d->box.w, d->box.h}};
        for (int t = 0; t < 3; t++)
            dd[i].top3[t] = d->top3[t], dd[i].top3_p[t] = d->top3_p[t];
    }
    for (int i = 0; i < r->n_numbers; i++) {
        const struct rec_number *nb = &r->numbers[i];
        const size_t len = strlen(nb->text) + 1;
        memcpy(text, nb->text, len);
        nn[i] = (digits_number){.text = text,
                                .confidence = nb->confidence,
                                .box = {nb->box.x, nb->box.y, nb->box.w, nb->box.h},
                                .first = nb->first,
                                .count = nb->count};
        text += len;
    }
    *res = (digits_result){.width = w,
                           .height = h,
                           .n_digits = r->n_digits,
                           .digits = r->n_digits ? dd : NULL,
                           .n_numbers = r->n_numbers,
                           .numbers = r->n_numbers ? nn : NULL,
                           .ms = ms,
                           .light = r->camera.light,
                           .noise = r->camera.noise,
                           .blur = r->camera.blur,
                           .hints = r->camera.hints,
                           .advice = rec_hint_text(r->camera.hints)};
    *out = res;
    return DG_OK;
}

int digits_read(digits_reader *rd, const uint8_t *pixels, int width, int height, size_t stride,
                enum digits_format format, digits_result **out)
{
    int r_at = 0, b_at = 0;
    const int bpp = format_bytes(format, &r_at, &b_at);
    if (!rd || !pixels || !out)
        return dg_fail(DG_EARG, "digits_read: %s is NULL",
                       !rd       ? "the reader"
                       : !pixels ? "pixels"
                                 : "out");
    if (!bpp)
        return dg_fail(DG_EARG,
                       "digits_read: unknown pixel format %d (DIGITS_GREY, RGB, BGR, "
                       "RGBA or BGRA)",
                       (int)format);
    if (width < 1 || height < 1 || (double)width * height > MAX_PIXELS)
        return dg_fail(DG_EARG, "digits_read: a %dx%d image (from 1x1 to 64 megapixels)", width,
                       height);
    if (stride < (size_t)width * bpp)
        return dg_fail(DG_EARG,
                       "digits_read: stride %zu is shorter than a row of %d pixels "
                       "(%zu bytes)",
                       stride, width, (size_t)width * bpp);
    const double t0 = dg_now();
    int rc = dg_grow((void **)&rd->grey, &rd->grey_cap, (size_t)width * height, 1);
    if (rc != DG_OK)
        return rc;
    vis_grey_from_pixels(pixels, stride, width, height, bpp, r_at, b_at, rd->grey);
    const struct vis_image grey = {width, height, rd->grey};
    const int before = set_threads(rd->threads);
    rc = rec_scan(rd->sc, &grey, rd->res);
    set_threads(before);
    if (rc != DG_OK)
        return rc;
    rc = copy_result(rd->res, width, height, 0.0, out);
    if (rc == DG_OK) /* the whole call, the copy included: what a caller waits for */
        (*out)->ms = (dg_now() - t0) * 1e3;
    return rc;
}

int digits_read_file(digits_reader *rd, const char *path, digits_result **out)
{
    if (!rd || !path || !out)
        return dg_fail(DG_EARG, "digits_read_file: %s is NULL",
                       !rd     ? "the reader"
                       : !path ? "path"
                               : "out");
    struct vis_image img;
    int rc = vis_image_load(path, &img);
    if (rc != DG_OK)
        return rc;
    rc = digits_read(rd, img.px, img.w, img.h, (size_t)img.w, DIGITS_GREY, out);
    vis_image_destroy(&img);
    return rc;
}

void digits_result_free(digits_result *res)
{
    free(res);
}

int digits_classify(digits_reader *rd, const uint8_t *images, int n, int *labels, float *probs)
{
    if (!rd || n < 0 || (n > 0 && (!images || !labels)))
        return dg_fail(DG_EARG, "digits_classify: %s",
                       !rd     ? "the reader is NULL"
                       : n < 0 ? "n is negative"
                               : "an array is NULL");
    enum { BATCH = 256 };
    struct nn_infer *inf = NULL;
    const int before = set_threads(rd->threads);
    int rc = nn_infer_new(rd->model, BATCH, &inf);
    float *x = rc == DG_OK ? malloc((size_t)BATCH * 784 * sizeof *x) : NULL;
    if (rc == DG_OK && !x)
        rc = dg_fail(DG_ENOMEM, "out of memory");
    const int nc = rd->model->n_classes;
    for (int i0 = 0; rc == DG_OK && i0 < n; i0 += BATCH) {
        const int m = n - i0 < BATCH ? n - i0 : BATCH;
        for (size_t k = 0; k < (size_t)m * 784; k++)
            x[k] = images[(size_t)i0 * 784 + k] / 255.0f;
        const float *p = nn_infer_run(inf, x, m);
        for (int i = 0; i < m; i++) {
            const float *pi = p + (size_t)i * nc;
            int best = 0;
            for (int c = 1; c < 10; c++)
                best = pi[c] > pi[best] ? c : best;
            labels[i0 + i] = best;
            if (probs) {
                float *q = probs + (size_t)(i0 + i) * 11;
                for (int c = 0; c < 11; c++)
                    q[c] = c < nc ? pi[c] : 0.0f;
                if (nc > 11) /* a 12-class model's "two digits" counts as not one digit */
                    q[10] += pi[11];
            }
        }
    }
    free(x);
    nn_infer_free(inf);
    set_threads(before);
    return rc;
}
