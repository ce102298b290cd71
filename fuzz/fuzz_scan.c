/* fuzz_scan.c - libFuzzer target for the whole reading of an image file: arbitrary bytes decoded
 * as a file (every format the loader takes, EXIF included), then threshold, line removal,
 * components, crops, the network (the shipped fast model, models/fast.safetensors or
 * $FUZZ_MODEL), numbers, and the result as JSON. Checks: decoding either fails with a message or
 * gives a picture of at most VIS_MAX_PIXELS; every digit read is 0..9 with a confidence in [0, 1]
 * and a box inside the picture; every number is digits only and made of its digits; the JSON
 * parses. Pictures over 512x512 are decoded but not read (the fuzzer's time is better spent on
 * many small ones). Inputs of odd size are read as live reads video (rec_live_params: the last
 * input's answers reused where they fit), of even size as stills. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "nn.h"
#include "recog.h"
#include "vis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nn_model *model;
static struct rec_scanner *scanner;
static struct rec_result *result;
static struct rec_params still, live;

static void set_up(void)
{
    const char *path = getenv("FUZZ_MODEL") ? getenv("FUZZ_MODEL") : "models/fast.safetensors";
    nn_set_threads(1);
    if (nn_model_load(path, &model, NULL, NULL) != DG_OK)
        abort(); /* run from the repository root, or set FUZZ_MODEL */
    rec_default_params(&still);
    rec_live_params(&live);
    result = malloc(sizeof *result);
    if (!result || rec_scanner_new(model, &still, &scanner) != DG_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!scanner)
        set_up();
    struct vis_image img;
    if (vis_image_load_mem(data, size, "fuzz", &img) != DG_OK) {
        if (!dg_errmsg()[0])
            abort(); /* a failure always says why */
        return 0;
    }
    if (img.w < 1 || img.h < 1 || (size_t)img.w * img.h > VIS_MAX_PIXELS)
        abort();
    if ((size_t)img.w * img.h > 512 * 512) {
        vis_image_destroy(&img);
        return 0;
    }
    rec_scanner_set_params(scanner, size % 2 ? &live : &still);
    if (rec_scan(scanner, &img, result) != DG_OK)
        abort();
    const struct rec_result *r = result;
    if (r->n_digits < 0 || r->n_digits > REC_MAX_CANDIDATES || r->n_numbers > r->n_digits)
        abort();
    for (int i = 0; i < r->n_digits; i++) {
        const struct rec_digit *d = &r->digits[i];
        if (d->digit < 0 || d->digit > 9 || !(d->confidence >= 0.0f && d->confidence <= 1.0f) ||
            d->box.x < 0 || d->box.y < 0 || d->box.w < 1 || d->box.h < 1 ||
            d->box.x + d->box.w > img.w || d->box.y + d->box.h > img.h)
            abort();
    }
    for (int i = 0; i < r->n_numbers; i++) {
        const struct rec_number *nb = &r->numbers[i];
        if (nb->count < 1 || nb->first < 0 || nb->first + nb->count > r->n_digits ||
            (int)strlen(nb->text) != nb->count)
            abort();
        for (int k = 0; k < nb->count; k++)
            if (nb->text[k] != '0' + r->digits[nb->first + k].digit)
                abort();
    }
    struct dg_jw w;
    dg_jw_init(&w, 0);
    dg_jw_object(&w);
    rec_result_write_json(&w, r);
    dg_jw_end(&w);
    const char *text;
    size_t len;
    struct dg_json *doc = NULL;
    if (dg_jw_text(&w, &text, &len) != DG_OK || dg_json_parse(text, len, &doc) != DG_OK)
        abort();
    dg_json_free(doc);
    dg_jw_free(&w);
    vis_image_destroy(&img);
    return 0;
}
