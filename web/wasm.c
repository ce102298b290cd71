/* wasm.c - the reader for the browser (built by `make web` with emscripten): the page's worker
 * hands it RGBA frames from the camera or a photo and gets back the JSON line `digits live --json`
 * prints for a frame (the same scan, trackers and view as the live window, recog/view.c), or the
 * line `digits scan --json` prints for a photo. One reader per module instance (a worker owns it);
 * every returned string stays valid until the next call. */
#include <emscripten/emscripten.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dg.h"
#include "json.h"
#include "nn.h"
#include "recog.h"
#include "vis.h"

const char *web_errmsg(void);
int web_open(const uint8_t *model, int n, double fps, int fresh);
void web_reset(void);
uint8_t *web_frame(int w, int h);
const char *web_read(int w, int h, int frame, double t);
const char *web_read_photo(int w, int h);
const float *web_input(int i);

/* The largest frame: 4096 x 4096, as `digits live` (MEDIA_MAX_SIDE). */
enum { MAX_SIDE = 4096 };

static struct {
    struct nn_model *model;
    struct rec_scanner *sc;
    struct rec_params params, photo_params; /* a camera's frames as `digits live`, a photo's as
                                               `digits scan` */
    struct rec_result *res;
    struct rec_tracker *trk;
    struct rec_numtracker ntk;
    int track_of[REC_MAX_CANDIDATES];
    double fps;
    uint8_t *rgba, *grey; /* the frame handed in, its grey */
    int cap_w, cap_h;
    struct dg_jw jw;
} g;

EMSCRIPTEN_KEEPALIVE const char *web_errmsg(void)
{
    return dg_errmsg();
}

/* Opens the reader on the model's n bytes (a safetensors file the page fetched); fps sets the
 * number tracks' timing as `digits live` does for a camera of that rate; fresh reads every frame
 * afresh (`digits live --fresh`). 0 or a negative code. */
EMSCRIPTEN_KEEPALIVE int web_open(const uint8_t *model, int n, double fps, int fresh)
{
    nn_set_threads(1);
    int rc = nn_model_load_mem(model, (size_t)n, &g.model, NULL, NULL);
    if (rc != DG_OK)
        return rc;
    rec_default_params(&g.photo_params);
    rec_live_params(&g.params);
    /* the ink found once a frame (`digits live --quick`): a phone's time is better spent on the
       frame rate than on stage 7's second looks */
    rec_params_look_once(&g.params);
    if (fresh)
        g.params.reuse = 0.0f;
    g.res = malloc(sizeof *g.res);
    g.trk = malloc(sizeof *g.trk);
    if (!g.res || !g.trk)
        return dg_fail(DG_ENOMEM, "out of memory for the reader");
    if ((rc = rec_scanner_new(g.model, &g.params, &g.sc)) != DG_OK)
        return rc;
    g.fps = fps > 0 ? fps : 30.0;
    rec_tracker_init(g.trk, g.params.min_confidence, 0.15f);
    rec_numtracker_init(&g.ntk, g.fps);
    dg_jw_init(&g.jw, 0);
    return DG_OK;
}

/* Forgets the tracks (a new camera, or the view switched). */
EMSCRIPTEN_KEEPALIVE void web_reset(void)
{
    rec_tracker_init(g.trk, g.params.min_confidence, 0.15f);
    rec_numtracker_init(&g.ntk, g.fps);
}

/* The buffer the page writes a w x h RGBA frame into (NULL when the size is out of range). */
EMSCRIPTEN_KEEPALIVE uint8_t *web_frame(int w, int h)
{
    if (w < 16 || h < 16 || w > MAX_SIDE || h > MAX_SIDE) {
        dg_fail(DG_EARG, "frame size %dx%d is out of range (16x16 to %dx%d)", w, h, MAX_SIDE,
                MAX_SIDE);
        return NULL;
    }
    if (w > g.cap_w || h > g.cap_h) {
        free(g.rgba), free(g.grey);
        g.rgba = malloc((size_t)w * h * 4);
        g.grey = malloc((size_t)w * h);
        g.cap_w = g.cap_h = 0;
        if (!g.rgba || !g.grey) {
            dg_fail(DG_ENOMEM, "out of memory for a %dx%d frame", w, h);
            return NULL;
        }
        g.cap_w = w, g.cap_h = h;
    }
    return g.rgba;
}

/* Reads the w x h frame in web_frame's buffer with parameters p: grey as the live window makes it
 * from a camera's RGB (vis_grey_from_rgb, alpha ignored), then the scan. */
static int scan(int w, int h, const struct rec_params *p, double *ms)
{
    if (!g.sc || !g.rgba || w > g.cap_w || h > g.cap_h)
        return dg_fail(DG_EARG, "web_read before web_open and web_frame");
    rec_scanner_set_params(g.sc, p);
    vis_grey_from_rgb(g.rgba, (size_t)w * 4, w, h, 4, g.grey);
    const struct vis_image grey = {w, h, g.grey};
    const double t0 = dg_now();
    const int rc = rec_scan(g.sc, &grey, g.res);
    *ms = (dg_now() - t0) * 1e3;
    return rc;
}

/* One camera frame: its `digits live --json` line(s), or NULL (web_errmsg says why). */
EMSCRIPTEN_KEEPALIVE const char *web_read(int w, int h, int frame, double t)
{
    double ms;
    if (scan(w, h, &g.params, &ms) != DG_OK)
        return NULL;
    rec_tracker_update(g.trk, g.res, g.track_of);
    int locked[REC_MAX_NUMTRACKS];
    rec_numtracker_pace(&g.ntk, t);
    const int n_locked = rec_numtracker_update(&g.ntk, g.res, locked, REC_MAX_NUMTRACKS);
    dg_jw_reset(&g.jw);
    const struct rec_view_frame v = {frame,      t,      ms,     g.res,   g.trk,
                                     g.track_of, &g.ntk, locked, n_locked};
    rec_view_write_json(&g.jw, &v);
    const char *text;
    return dg_jw_text(&g.jw, &text, NULL) == DG_OK ? text : NULL;
}

/* A photo: its `digits scan --json` line (without "image"), or NULL. */
EMSCRIPTEN_KEEPALIVE const char *web_read_photo(int w, int h)
{
    double ms;
    if (scan(w, h, &g.photo_params, &ms) != DG_OK)
        return NULL;
    dg_jw_reset(&g.jw);
    dg_jw_object(&g.jw);
    dg_jw_key(&g.jw, "width");
    dg_jw_int(&g.jw, w);
    dg_jw_key(&g.jw, "height");
    dg_jw_int(&g.jw, h);
    rec_result_write_json(&g.jw, g.res);
    dg_jw_key(&g.jw, "ms");
    dg_jw_num(&g.jw, ms, 3);
    dg_jw_end(&g.jw);
    const char *text;
    return dg_jw_text(&g.jw, &text, NULL) == DG_OK ? text : NULL;
}

/* The 28x28 input the network saw for digit i of the last reading (white ink on black, 0..1),
 * for the side panel; NULL when there is no such digit. */
EMSCRIPTEN_KEEPALIVE const float *web_input(int i)
{
    if (!g.res || i < 0 || i >= g.res->n_digits + g.res->n_rejected)
        return NULL;
    return g.res->digits[i].input;
}
