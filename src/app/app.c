/* app.c - the live loop. A reading thread takes the newest frame from the capture, reads it,
 * tracks the digits and numbers and publishes the frame with its reading (the newest wins); the
 * main thread draws the published frame with its own answers and the panels onto an RGB canvas
 * (SDL surfaces and SDL_ttf text), shows it at the display's pace, records it, and answers the
 * keys, so the window never waits on the network and no box lags its video. Everything the two
 * share is under struct live's mu; the scanner and the frame being read are the reader's own. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <SDL.h>
#include <SDL_ttf.h>

#include "app.h"
#include "recog.h"
#include "vis.h"

enum { PANEL_W = 232, STATUS_H = 30, PANEL_ROWS_MAX = 16, MS_HIST = 4096, LOG_MAX = 40 };

/* A locked reading, for the log in the side panel. */
struct lock_entry {
    double t;    /* the frame's time in the source */
    double when; /* dg_now() at the lock, for the highlight */
    int id;      /* its number track */
    float confidence;
    char text[REC_NUMBER_TEXT];
};

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static const float SENSITIVITY[] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f, 0.3f};
enum { N_SENS = sizeof SENSITIVITY / sizeof SENSITIVITY[0], SENS_DEFAULT = 4 };

struct live {
    const struct app_config *cfg;
    struct media_capture *cap;
    const struct media_frame *cur; /* the frame shown: &shown once one is published */
    struct media_frame shown;      /* the frame l->res was read from (its pixels owned here) */
    int fallback;                  /* the demo runs because no camera opened */
    char source_name[160];

    struct rec_params params;
    struct rec_scanner *sc;      /* the reader's */
    struct rec_result *res;      /* the published reading, of `shown` */
    struct rec_result *res_work; /* the reader's, swapped with res when published */
    struct rec_tracker *trk;
    int track_of[REC_MAX_CANDIDATES];
    struct rec_numtracker ntk;      /* the numbers shown */
    struct lock_entry log[LOG_MAX]; /* locked readings, newest first */
    int n_log;
    FILE *log_file; /* --log, appended to */
    uint8_t *grey_px;
    int have_result;

    /* the window (NULL when headless) and the canvas everything is drawn on */
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    SDL_Surface *canvas;
    TTF_Font *font_s, *font_m, *font_l;
    int vw, vh, cw, ch;
    struct media_writer *wr;

    int paused, roi, mirror, sens, fullscreen, quit;
    double help_until, toast_until;
    int help_on;
    char toast[300];

    struct dg_jw jw; /* every JSON line: frames, locks, the log, snapshots */

    /* the reading thread and what it shares with the main one, under mu */
    pthread_t reader;
    int reader_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;                 /* a reading published or taken, a stop, a pause */
    const struct media_frame *pending; /* the first frame, taken before the reader started */
    int stop, params_dirty;            /* main -> reader */
    long seq, taken;                   /* readings published; the last one the main thread took */
    int ended, failed; /* reader -> main: the source ended; reading failed (why: fail_msg) */
    char fail_msg[520];
    double read_rate, draw_rate, last_read, last_draw; /* per second, smoothed */
    long processed;
    float *ms_hist;
    double ms_last, lat_ema;
    char said[512]; /* headless: the numbers last printed */
};

const char *app_find_font(const char *cfg_font)
{
    static const char *const places[] = {
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/local/share/fonts/DejaVuSans.ttf",
        "/Library/Fonts/DejaVuSans.ttf",
        "/opt/homebrew/share/fonts/DejaVuSans.ttf",
    };
    if (cfg_font)
        return cfg_font;
    const char *env = getenv("DIGITS_FONT");
    if (env && *env)
        return env;
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        FILE *f = fopen(places[i], "rb");
        if (f) {
            fclose(f);
            return places[i];
        }
    }
    return NULL;
}

/* ---- reading a frame ------------------------------------------------------------------------ */

/* The part of a vw x vh frame that is read: the whole, or (roi) the centre box that `r` switches
 * to, the middle 60% x 50%. */
static void roi_box(int vw, int vh, int roi, int *x, int *y, int *w, int *h)
{
    if (!roi) {
        *x = *y = 0, *w = vw, *h = vh;
        return;
    }
    *w = vw * 3 / 5, *h = vh / 2;
    *x = (vw - *w) / 2, *y = (vh - *h) / 2;
}

static void roi_rect(const struct live *l, int *x, int *y, int *w, int *h)
{
    roi_box(l->vw, l->vh, l->roi, x, y, w, h);
}

/* A tracked number's members: id (when with_id), text, confidence, box. */
/* Writes w's text to f; a writer that failed (out of memory) writes nothing. */
static void put_json(const struct dg_jw *w, FILE *f)
{
    const char *text;
    size_t len;
    if (dg_jw_text(w, &text, &len) == DG_OK)
        fwrite(text, 1, len, f);
    fflush(f);
}

/* Whether candidate i of the published reading is drawn, and with which label. */
static int steady(const struct live *l, int i)
{
    return rec_view_steady(l->trk, l->track_of, i);
}

static int drawn_label(const struct live *l, int i, float *conf)
{
    return rec_view_label(l->trk, l->track_of, l->res, i, conf);
}

/* The frame's JSON line, then a line per lock of this frame (rec_view_write_json). */
static void write_json(struct live *l, const struct media_frame *f, const int *locked, int n_locked,
                       double ms)
{
    struct dg_jw *w = &l->jw;
    dg_jw_reset(w);
    const struct rec_view_frame v = {f->index,    f->t,    ms,     l->res,  l->trk,
                                     l->track_of, &l->ntk, locked, n_locked};
    rec_view_write_json(w, &v);
    put_json(w, stdout);
}

/* A number locked: into the log (newest first), and to --log's file as a JSON line. */
static void note_lock(struct live *l, const struct rec_numtrack *tr, double t)
{
    if (l->n_log == LOG_MAX)
        l->n_log--;
    memmove(&l->log[1], &l->log[0], (size_t)l->n_log * sizeof l->log[0]);
    struct lock_entry *e = &l->log[0];
    e->t = t, e->when = dg_now(), e->id = tr->id, e->confidence = tr->confidence;
    snprintf(e->text, sizeof e->text, "%s", tr->text);
    l->n_log++;
    if (l->log_file) {
        struct dg_jw *w = &l->jw;
        dg_jw_reset(w);
        dg_jw_object(w);
        dg_jw_key(w, "t");
        dg_jw_num(w, t, 3);
        rec_numtrack_write_json(w, tr, 0);
        dg_jw_end(w);
        dg_jw_raw(w, "\n");
        put_json(w, l->log_file);
    }
}

/* The reader's part, outside the lock: frame f's grey picture (the centre box or the whole frame,
 * as roi says) read into l->res_work, boxes in frame coordinates. */
static int scan_frame(struct live *l, const struct media_frame *f, int roi, double *ms)
{
    int rx, ry, rw, rh;
    roi_box(f->w, f->h, roi, &rx, &ry, &rw, &rh);
    vis_grey_from_rgb(f->rgb + ((size_t)ry * f->w + rx) * 3, (size_t)f->w * 3, rw, rh, 3,
                      l->grey_px);
    const struct vis_image grey = {rw, rh, l->grey_px};
    const double t0 = dg_now();
    const int rc = rec_scan(l->sc, &grey, l->res_work);
    *ms = (dg_now() - t0) * 1e3;
    if (rc != DG_OK)
        return rc;
    struct rec_result *r = l->res_work;
    for (int i = 0; i < r->n_digits + r->n_rejected; i++)
        r->digits[i].box.x += rx, r->digits[i].box.y += ry;
    for (int i = 0; i < r->n_numbers; i++)
        r->numbers[i].box.x += rx, r->numbers[i].box.y += ry;
    return DG_OK;
}

/* Under the lock: the reading of f becomes the published one (trackers, JSON, locks, the frame
 * copied for drawing). */
static void publish(struct live *l, const struct media_frame *f, double ms)
{
    struct rec_result *r = l->res_work;
    l->res_work = l->res, l->res = r;
    rec_tracker_update(l->trk, r, l->track_of);
    int locked[REC_MAX_NUMTRACKS];
    rec_numtracker_pace(&l->ntk, f->t);
    const int n_locked = rec_numtracker_update(&l->ntk, r, locked, REC_MAX_NUMTRACKS);
    l->have_result = 1;
    l->ms_last = ms;
    l->ms_hist[l->processed % MS_HIST] = (float)ms;
    l->processed++;
    memcpy(l->shown.rgb, f->rgb, (size_t)f->w * f->h * 3);
    l->shown.index = f->index, l->shown.t = f->t, l->shown.captured_at = f->captured_at;
    l->cur = &l->shown;
    if (l->cfg->json)
        write_json(l, f, locked, n_locked, ms);
    for (int i = 0; i < n_locked && i < REC_MAX_NUMTRACKS; i++)
        note_lock(l, &l->ntk.tracks[locked[i]], f->t);
    const double now = dg_now();
    if (l->last_read > 0) {
        const double rate = 1.0 / fmax(now - l->last_read, 1e-3);
        l->read_rate = l->read_rate > 0 ? 0.9 * l->read_rate + 0.1 * rate : rate;
    }
    l->last_read = now;
    l->seq++;
    pthread_cond_broadcast(&l->cv);
}

/* The reading thread: the newest frame, read, published; again. Without a window each reading
 * waits until the main thread has taken the one before (every frame read is said or recorded);
 * with one, the newest reading wins. Ends at a stop, the source's end, --frames, or an error. */
static void *read_loop(void *arg)
{
    struct live *l = arg;
    nn_set_threads(1);
    pthread_mutex_lock(&l->mu);
    const struct media_frame *f = l->pending;
    l->pending = NULL;
    while (!l->stop) {
        while (l->paused && !l->stop)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop)
            break;
        if (l->params_dirty) {
            rec_scanner_set_params(l->sc, &l->params);
            l->trk->min_confidence = l->params.min_confidence;
            l->params_dirty = 0;
        }
        const int roi = l->roi;
        pthread_mutex_unlock(&l->mu);
        if (!f) {
            const int got = media_capture_next(l->cap, 0.1, &f);
            if (got == MEDIA_END) {
                pthread_mutex_lock(&l->mu);
                l->ended = 1;
                break;
            }
            if (got != MEDIA_FRAME) {
                f = NULL;
                pthread_mutex_lock(&l->mu);
                continue;
            }
        }
        double ms;
        const int rc = scan_frame(l, f, roi, &ms);
        pthread_mutex_lock(&l->mu);
        if (rc != DG_OK) {
            snprintf(l->fail_msg, sizeof l->fail_msg, "%s", dg_errmsg());
            l->failed = 1;
            break;
        }
        if (l->stop)
            break;
        publish(l, f, ms);
        f = NULL;
        if (l->cfg->frames > 0 && l->processed >= l->cfg->frames) {
            l->ended = 1;
            break;
        }
        while (!l->win && l->taken != l->seq && !l->stop)
            pthread_cond_wait(&l->cv, &l->mu);
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- drawing on the canvas ------------------------------------------------------------------ */

static SDL_Color rgb(Uint8 r, Uint8 g, Uint8 b)
{
    return (SDL_Color){r, g, b, 255};
}

static void fill(struct live *l, int x, int y, int w, int h, SDL_Color c)
{
    SDL_Rect rc = {x, y, w, h};
    SDL_FillRect(l->canvas, &rc, SDL_MapRGB(l->canvas->format, c.r, c.g, c.b));
}

static void frame_rect(struct live *l, int x, int y, int w, int h, int t, SDL_Color c)
{
    fill(l, x - t, y - t, w + 2 * t, t, c);
    fill(l, x - t, y + h, w + 2 * t, t, c);
    fill(l, x - t, y, t, h, c);
    fill(l, x + w, y, t, h, c);
}

/* Darkens a rectangle to a third, so text on it reads over any video. */
static void shade(struct live *l, int x, int y, int w, int h)
{
    if (x < 0)
        w += x, x = 0;
    if (y < 0)
        h += y, y = 0;
    if (x + w > l->cw)
        w = l->cw - x;
    if (y + h > l->ch)
        h = l->ch - y;
    for (int j = 0; j < h; j++) {
        uint8_t *p = (uint8_t *)l->canvas->pixels + (size_t)(y + j) * l->canvas->pitch + 3 * x;
        for (int i = 0; i < 3 * w; i++)
            p[i] = (uint8_t)(p[i] / 3);
    }
}

/* Draws text with its top-left at (x, y); with a background box when bg.a is non-zero. Returns
 * the text's width. */
static int text(struct live *l, TTF_Font *font, int x, int y, const char *s, SDL_Color fg,
                SDL_Color bg)
{
    if (!s[0])
        return 0;
    SDL_Surface *ts = TTF_RenderUTF8_Blended(font, s, fg);
    if (!ts)
        return 0;
    if (bg.a)
        fill(l, x - 4, y - 1, ts->w + 8, ts->h + 2, bg);
    SDL_Rect dst = {x, y, ts->w, ts->h};
    SDL_BlitSurface(ts, NULL, l->canvas, &dst);
    const int w = ts->w;
    SDL_FreeSurface(ts);
    return w;
}

static void draw_video(struct live *l)
{
    uint8_t *px = l->canvas->pixels;
    const int pitch = l->canvas->pitch;
    if (!l->cur) {
        for (int y = 0; y < l->vh; y++)
            memset(px + (size_t)y * pitch, 24, 3 * (size_t)l->vw);
        return;
    }
    for (int y = 0; y < l->vh; y++) {
        const uint8_t *s = l->cur->rgb + (size_t)y * l->vw * 3;
        uint8_t *d = px + (size_t)y * pitch;
        if (!l->mirror) {
            memcpy(d, s, 3 * (size_t)l->vw);
            continue;
        }
        for (int x = 0; x < l->vw; x++)
            memcpy(d + 3 * (l->vw - 1 - x), s + 3 * x, 3);
    }
}

/* A box in frame pixels as shown (mirrored when the view is). */
static struct rec_box shown(const struct live *l, struct rec_box b)
{
    if (l->mirror)
        b.x = l->vw - b.x - b.w;
    return b;
}

static void draw_readings(struct live *l)
{
    const struct rec_result *r = l->res;
    const SDL_Color green = rgb(40, 220, 90), amber = rgb(255, 170, 0), black = rgb(0, 0, 0);
    const SDL_Color blue = {20, 90, 230, 255}, white = rgb(255, 255, 255);
    for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
        const struct rec_digit *d = &r->digits[i];
        if (!steady(l, i))
            continue;
        float conf;
        const int label = drawn_label(l, i, &conf);
        const SDL_Color c = label >= 0 ? green : amber;
        const struct rec_box b = shown(l, d->box);
        frame_rect(l, b.x, b.y, b.w, b.h, 2, c);
        char s[32];
        if (label >= 0)
            snprintf(s, sizeof s, "%d %.0f%%", label, 100.0 * conf);
        else
            snprintf(s, sizeof s, "?");
        text(l, l->font_s, b.x, b.y + b.h + 4, s, black, c);
    }
    /* the numbers as tracked: steady; a locked one green with a tick */
    const SDL_Color lock_bg = {20, 150, 60, 255};
    for (int i = 0; i < l->ntk.n; i++) {
        const struct rec_numtrack *tr = &l->ntk.tracks[i];
        if (!tr->shown)
            continue;
        char s[REC_NUMBER_TEXT + 8];
        snprintf(s, sizeof s, "%s%s", tr->text, tr->locked ? " \xe2\x9c\x93" : "");
        const struct rec_box b = shown(l, tr->box);
        const int h = TTF_FontHeight(l->font_l);
        const int w = text(l, l->font_l, b.x, b.y - h - 8, s, white, tr->locked ? lock_bg : blue);
        for (int k = 0; k < l->n_log && tr->locked; k++)
            if (l->log[k].id == tr->id && dg_now() - l->log[k].when < 0.6) /* just locked */
                frame_rect(l, b.x - 4, b.y - h - 9, w + 8, h + 2, 3, rgb(255, 255, 255));
    }
}

/* The reading log at the bottom of the side panel: locked numbers, newest first (time in the
 * source, text, confidence). Returns the height it takes. */
static int draw_log(struct live *l, int x0)
{
    const int lh = TTF_FontHeight(l->font_s) + 2, rows = 8, h = 24 + rows * lh;
    const int y0 = l->vh - h;
    const SDL_Color grey = rgb(200, 200, 200), none = {0, 0, 0, 0};
    fill(l, x0, y0, l->cw - x0, h, rgb(22, 24, 30));
    text(l, l->font_s, x0 + 10, y0 + 4,
         l->n_log ? "locked (c: copy, l: clear)" : "locked numbers appear here", grey, none);
    for (int i = 0; i < l->n_log && i < rows; i++) {
        const struct lock_entry *e = &l->log[i];
        char s[REC_NUMBER_TEXT + 48];
        const int m = (int)(e->t / 60.0);
        snprintf(s, sizeof s, "%2d:%05.2f  %s  %.0f%%", m, e->t - 60.0 * m, e->text,
                 100.0 * e->confidence);
        text(l, l->font_s, x0 + 10, y0 + 24 + i * lh, s,
             i == 0 ? rgb(120, 230, 140) : rgb(230, 230, 230), none);
    }
    return h;
}

/* The right-hand panel: each candidate's 28x28 network input, enlarged, with its top-3 bars. */
static void draw_panel(struct live *l)
{
    const int x0 = l->vw;
    fill(l, x0, 0, l->cw - x0, l->vh, rgb(28, 30, 36));
    const SDL_Color grey = rgb(200, 200, 200), none = {0, 0, 0, 0};
    text(l, l->font_s, x0 + 10, 8, "what the network sees", grey, none);
    if (!l->have_result)
        return;
    const struct rec_result *r = l->res;
    const int cell = 60, row_h = cell + 8, top = 32;
    const int log_h = draw_log(l, x0);
    int rows = (l->vh - log_h - top) / row_h;
    if (rows > PANEL_ROWS_MAX)
        rows = PANEL_ROWS_MAX;
    const int n = r->n_digits + r->n_rejected;
    for (int i = 0; i < n && i < rows; i++) {
        const struct rec_digit *d = &r->digits[i];
        const int y = top + i * row_h;
        uint8_t *px = l->canvas->pixels;
        for (int yy = 0; yy < cell; yy++) {
            uint8_t *row = px + (size_t)(y + yy) * l->canvas->pitch + 3 * (x0 + 10);
            const float *src = d->input + (yy * 28 / cell) * 28;
            for (int xx = 0; xx < cell; xx++) {
                const float v = src[xx * 28 / cell];
                memset(row + 3 * xx, (int)(v * 255.0f + 0.5f), 3);
            }
        }
        for (int k = 0; k < 3; k++) {
            const int by = y + 4 + k * 19, bx = x0 + 10 + cell + 8;
            const int bw_max = l->cw - bx - 52;
            const int bw = (int)(d->top3_p[k] * (float)bw_max + 0.5f);
            const SDL_Color c =
                k == 0 ? (d->digit >= 0 ? rgb(40, 200, 90) : rgb(230, 150, 0)) : rgb(90, 110, 150);
            fill(l, bx, by + 3, bw_max, 12, rgb(50, 52, 60));
            fill(l, bx, by + 3, bw, 12, c);
            char s[24];
            snprintf(s, sizeof s, "%d %2.0f%%", d->top3[k], 100.0 * d->top3_p[k]);
            text(l, l->font_s, bx + bw_max + 4, by, s, grey, none);
        }
    }
    if (n > rows) {
        char s[48];
        snprintf(s, sizeof s, "+ %d more", n - rows);
        text(l, l->font_s, x0 + 10, top + rows * row_h - 4, s, grey, none);
    }
}

static void draw_status(struct live *l)
{
    struct media_stats st;
    media_capture_stats(l->cap, &st);
    fill(l, 0, l->vh, l->cw, STATUS_H, rgb(16, 16, 20));
    static const char *const pol[] = {"polarity auto", "dark ink", "light ink"};
    char undecodable[48] = "";
    if (st.undecodable > 0)
        snprintf(undecodable, sizeof undecodable, ", %lld undecodable", (long long)st.undecodable);
    char s[512];
    snprintf(s, sizeof s,
             "%s %dx%d  in %.0f, read %.0f, drawn %.0f fps  %.1f ms  latency %.0f ms  "
             "dropped %lld%s  |  %s%s  min conf %.0f%%  %s  |  h: help",
             l->source_name, l->vw, l->vh, st.fps, l->read_rate, l->draw_rate, l->ms_last,
             l->lat_ema * 1e3, (long long)st.dropped, undecodable,
             l->roi ? "centre box" : "whole frame", l->mirror ? ", mirrored" : "",
             100.0 * l->params.min_confidence, pol[l->params.threshold.polarity]);
    text(l, l->font_s, 8, l->vh + 7, s, rgb(220, 220, 220), (SDL_Color){0, 0, 0, 0});
    if (st.failing) {
        char p[400];
        snprintf(p, sizeof p, "%s - retrying every second", st.problem);
        const int w = l->vw * 9 / 10;
        shade(l, (l->vw - w) / 2, l->vh / 2 - 30, w, 60);
        text(l, l->font_m, (l->vw - w) / 2 + 12, l->vh / 2 - 12, p, rgb(255, 90, 80),
             (SDL_Color){0, 0, 0, 0});
    }
}

static void draw_help(struct live *l)
{
    static const char *const lines[][2] = {
        {"Hold handwritten digits in front of the camera:", ""},
        {"dark ink on light paper or chalk on a board, any size.", ""},
        {"", ""},
        {"q / Esc", "quit"},
        {"space", "pause / resume"},
        {"s", "save a snapshot (PNG + JSON)"},
        {"c", "copy the last locked number"},
        {"l", "clear the reading log"},
        {"r", "centre box / whole frame"},
        {"i", "polarity: auto / dark ink / light ink"},
        {"+ / -", "more / less sensitive"},
        {"m", "mirror the view"},
        {"f", "fullscreen"},
        {"h", "this help"},
    };
    const int n = (int)(sizeof lines / sizeof lines[0]);
    const int lh = TTF_FontLineSkip(l->font_m);
    const int w = l->vw * 9 / 10 < 520 ? l->vw * 9 / 10 : 520, h = n * lh + 24;
    const int x = (l->vw - w) / 2, y = (l->vh - h) / 2;
    const SDL_Color none = {0, 0, 0, 0};
    shade(l, x, y, w, h);
    for (int i = 0; i < n; i++) {
        text(l, l->font_m, x + 16, y + 12 + i * lh, lines[i][0], rgb(255, 230, 120), none);
        text(l, l->font_m, x + 16 + 8 * lh / 2 + 40, y + 12 + i * lh, lines[i][1],
             rgb(255, 255, 255), none);
    }
}

static void draw(struct live *l)
{
    draw_video(l);
    if (l->roi) {
        int x, y, w, h;
        roi_rect(l, &x, &y, &w, &h);
        frame_rect(l, x, y, w, h, 1, rgb(255, 255, 0));
    }
    if (l->have_result)
        draw_readings(l);
    draw_panel(l);
    draw_status(l);
    if (l->fallback)
        text(l, l->font_m, 12, 10, "No camera found: this is the built-in demo", rgb(255, 255, 255),
             (SDL_Color){180, 40, 40, 255});
    if (l->have_result && l->res->camera.hints) /* too dark, grainy or blurred to read well */
        text(l, l->font_m, 12, l->vh - TTF_FontLineSkip(l->font_m) - 10,
             rec_hint_text(l->res->camera.hints), rgb(20, 20, 20), (SDL_Color){255, 210, 60, 255});
    if (l->paused)
        text(l, l->font_l, l->vw - 140, 10, "PAUSED", rgb(255, 255, 255),
             (SDL_Color){40, 40, 40, 255});
    const double now = dg_now();
    if (l->help_on || now < l->help_until)
        draw_help(l);
    if (now < l->toast_until)
        text(l, l->font_m, 12, l->vh - 40, l->toast, rgb(255, 255, 255),
             (SDL_Color){30, 120, 60, 255});
}

static void present(struct live *l)
{
    SDL_UpdateTexture(l->tex, NULL, l->canvas->pixels, l->canvas->pitch);
    int ow, oh;
    SDL_GetRendererOutputSize(l->ren, &ow, &oh);
    /* keep the aspect ratio: letterbox */
    SDL_Rect dst;
    if ((long)ow * l->ch > (long)oh * l->cw) {
        dst.h = oh, dst.w = (int)((long)oh * l->cw / l->ch);
    } else {
        dst.w = ow, dst.h = (int)((long)ow * l->ch / l->cw);
    }
    dst.x = (ow - dst.w) / 2, dst.y = (oh - dst.h) / 2;
    SDL_SetRenderDrawColor(l->ren, 0, 0, 0, 255);
    SDL_RenderClear(l->ren);
    SDL_RenderCopy(l->ren, l->tex, NULL, &dst);
    SDL_RenderPresent(l->ren);
}

/* ---- keys and snapshots --------------------------------------------------------------------- */

static int write_text(struct dg_writer *wr, void *ctx)
{
    const char *s = ctx;
    return dg_write_bytes(wr, s, strlen(s));
}

static void snapshot(struct live *l)
{
    char base[900], path[1000];
    const time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
    snprintf(base, sizeof base, "%s/digits-%s-%ld",
             l->cfg->snapshot_dir ? l->cfg->snapshot_dir : ".", stamp, l->processed);
    snprintf(path, sizeof path, "%s.png", base);
    int rc = vis_png_write(path, l->canvas->pixels, l->cw, l->ch, 3);
    if (rc == DG_OK) {
        struct dg_jw *w = &l->jw;
        dg_jw_reset(w);
        dg_jw_object(w);
        dg_jw_key(w, "frame");
        dg_jw_int(w, l->cur ? l->cur->index : -1);
        dg_jw_key(w, "t");
        dg_jw_num(w, l->cur ? l->cur->t : 0.0, 3);
        if (l->have_result) {
            rec_result_write_json(w, l->res);
        } else {
            dg_jw_key(w, "digits");
            dg_jw_array(w), dg_jw_end(w);
            dg_jw_key(w, "numbers");
            dg_jw_array(w), dg_jw_end(w);
        }
        dg_jw_end(w);
        dg_jw_raw(w, "\n");
        const char *text;
        rc = dg_jw_text(w, &text, NULL);
        snprintf(path, sizeof path, "%s.json", base);
        if (rc == DG_OK)
            rc = dg_write_atomic(path, write_text, (void *)(uintptr_t)text);
    }
    if (rc == DG_OK)
        snprintf(l->toast, sizeof l->toast, "saved %.250s.png and .json", base);
    else
        snprintf(l->toast, sizeof l->toast, "could not save the snapshot: %s", dg_errmsg());
    fprintf(stderr, "digits live: %s\n", l->toast);
    l->toast_until = dg_now() + 3.0;
}

/* The reader applies new parameters before its next frame (the scanner is its own). */
static void set_params(struct live *l)
{
    l->params.min_confidence = SENSITIVITY[l->sens];
    l->params_dirty = 1;
}

static void on_key(struct live *l, SDL_Keycode k)
{
    switch (k) {
    case SDLK_q:
    case SDLK_ESCAPE: l->quit = 1; break;
    case SDLK_SPACE:
        l->paused = !l->paused;
        pthread_cond_broadcast(&l->cv);
        break;
    case SDLK_s: snapshot(l); break;
    case SDLK_c:
        if (!l->n_log)
            snprintf(l->toast, sizeof l->toast, "nothing locked yet to copy");
        else if (SDL_SetClipboardText(l->log[0].text) == 0)
            snprintf(l->toast, sizeof l->toast, "copied %s", l->log[0].text);
        else
            snprintf(l->toast, sizeof l->toast, "could not copy: %.200s", SDL_GetError());
        l->toast_until = dg_now() + 2.0;
        break;
    case SDLK_l:
        l->n_log = 0;
        snprintf(l->toast, sizeof l->toast, "reading log cleared");
        l->toast_until = dg_now() + 2.0;
        break;
    case SDLK_r:
        l->roi = !l->roi;
        l->have_result = 0;
        break;
    case SDLK_i:
        l->params.threshold.polarity = (enum vis_polarity)((l->params.threshold.polarity + 1) % 3);
        set_params(l);
        break;
    case SDLK_PLUS:
    case SDLK_EQUALS:
    case SDLK_KP_PLUS:
        if (l->sens + 1 < N_SENS)
            l->sens++;
        set_params(l);
        break;
    case SDLK_MINUS:
    case SDLK_KP_MINUS:
        if (l->sens > 0)
            l->sens--;
        set_params(l);
        break;
    case SDLK_m: l->mirror = !l->mirror; break;
    case SDLK_f:
        l->fullscreen = !l->fullscreen;
        SDL_SetWindowFullscreen(l->win, l->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
        break;
    case SDLK_h:
        l->help_on = !(l->help_on || dg_now() < l->help_until);
        l->help_until = 0;
        break;
    default: break;
    }
}

/* ---- set-up and the loop -------------------------------------------------------------------- */

/* At a video's end: an error when the file held fewer than nine tenths of the frames it says it
 * has (cut short; its last frame, cut in the middle, may not decode either) or frames could not
 * be decoded, so a damaged file is not read in silence. */
static int check_video_end(struct live *l)
{
    if (l->cfg->source.kind != MEDIA_SOURCE_VIDEO)
        return DG_OK;
    struct media_stats st;
    media_capture_stats(l->cap, &st);
    const long long held = (long long)(st.delivered + st.undecodable);
    if (st.expected > 0 && held * 10 < (long long)st.expected * 9)
        return dg_fail(DG_EIO,
                       "%s ended after %lld of the %lld frames it says it has: it is cut short",
                       l->source_name, held, (long long)st.expected);
    if (st.undecodable > 0)
        return dg_fail(DG_EIO,
                       "%s: %lld frames could not be decoded (%lld read); the file is damaged",
                       l->source_name, (long long)st.undecodable, (long long)st.delivered);
    return DG_OK;
}

static int open_source(struct live *l)
{
    const struct app_config *cfg = l->cfg;
    int rc = media_capture_open(&cfg->source, &l->cap);
    if (rc == DG_OK || !cfg->demo_fallback)
        return rc;
    fprintf(stderr,
            "digits live: %s; showing the built-in demo instead (--camera DEV or --video "
            "FILE to choose a source)\n",
            dg_errmsg());
    struct media_source_config demo = cfg->source;
    demo.kind = MEDIA_SOURCE_DEMO;
    demo.url = NULL;
    l->fallback = 1;
    return media_capture_open(&demo, &l->cap);
}

static int open_ui(struct live *l, int window)
{
    const char *font = app_find_font(l->cfg->font);
    if (!font)
        return dg_fail(DG_EIO, "no DejaVu font found (install fonts-dejavu-core, or give --font "
                               "FILE.ttf or DIGITS_FONT)");
    if (TTF_Init() != 0)
        return dg_fail(DG_EIO, "SDL_ttf failed to start: %s", TTF_GetError());
    const int scale = l->vh >= 900 ? 2 : 1;
    l->font_s = TTF_OpenFont(font, 13 * scale);
    l->font_m = TTF_OpenFont(font, 16 * scale);
    l->font_l = TTF_OpenFont(font, 24 * scale);
    if (!l->font_s || !l->font_m || !l->font_l)
        return dg_fail(DG_EIO, "cannot open the font %s: %s", font, TTF_GetError());
    l->canvas = SDL_CreateRGBSurfaceWithFormat(0, l->cw, l->ch, 24, SDL_PIXELFORMAT_RGB24);
    if (!l->canvas || l->canvas->pitch != 3 * l->cw)
        return dg_fail(DG_ENOMEM, "cannot make a %dx%d canvas: %s", l->cw, l->ch, SDL_GetError());
    if (!window)
        return DG_OK;
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    if (SDL_Init(SDL_INIT_VIDEO) != 0)
        return dg_fail(DG_EIO, "cannot open a window: %s (use --headless without a display)",
                       SDL_GetError());
    SDL_DisplayMode dm;
    int ww = l->cw, wh = l->ch;
    if (SDL_GetDesktopDisplayMode(0, &dm) == 0 && (ww > dm.w * 9 / 10 || wh > dm.h * 9 / 10)) {
        const double s = SDL_min(dm.w * 0.9 / ww, dm.h * 0.9 / wh);
        ww = (int)(ww * s), wh = (int)(wh * s);
    }
    l->win = SDL_CreateWindow("digits live", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, ww, wh,
                              SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (!l->win)
        return dg_fail(DG_EIO, "cannot open a window: %s", SDL_GetError());
    l->ren = SDL_CreateRenderer(l->win, -1, 0);
    if (!l->ren)
        l->ren = SDL_CreateRenderer(l->win, -1, SDL_RENDERER_SOFTWARE);
    if (!l->ren)
        return dg_fail(DG_EIO, "cannot draw in the window: %s", SDL_GetError());
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    l->tex =
        SDL_CreateTexture(l->ren, SDL_PIXELFORMAT_RGB24, SDL_TEXTUREACCESS_STREAMING, l->cw, l->ch);
    if (!l->tex)
        return dg_fail(DG_EIO, "cannot make a %dx%d texture: %s", l->cw, l->ch, SDL_GetError());
    return DG_OK;
}

/* Stops the reading thread, if it runs, and waits for it. */
static void stop_reader(struct live *l)
{
    if (!l->reader_started)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->reader, NULL);
    l->reader_started = 0;
}

static void close_all(struct live *l)
{
    if (l->tex)
        SDL_DestroyTexture(l->tex);
    if (l->ren)
        SDL_DestroyRenderer(l->ren);
    if (l->win)
        SDL_DestroyWindow(l->win);
    if (l->canvas)
        SDL_FreeSurface(l->canvas);
    if (l->font_s)
        TTF_CloseFont(l->font_s);
    if (l->font_m)
        TTF_CloseFont(l->font_m);
    if (l->font_l)
        TTF_CloseFont(l->font_l);
    if (TTF_WasInit())
        TTF_Quit();
    if (SDL_WasInit(0))
        SDL_Quit();
    stop_reader(l); /* an error path may have left it running */
    media_capture_free(l->cap);
    dg_jw_free(&l->jw);
    rec_scanner_free(l->sc);
    free(l->res);
    free(l->res_work);
    free(l->shown.rgb);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->trk);
    free(l->grey_px);
    free(l->ms_hist);
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Whether box a comes before box b in reading order. */
static int reads_before(const struct rec_box *a, const struct rec_box *b)
{
    const int top = a->y > b->y ? a->y : b->y;
    const int bot = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
    const int hmin = a->h < b->h ? a->h : b->h;
    if ((bot - top) * 2 >= hmin) /* one line */
        return a->x < b->x;
    return a->y < b->y;
}

/* Headless without --json: a line whenever the numbers shown change. */
static void say_numbers(struct live *l)
{
    char s[sizeof l->said] = "";
    size_t k = 0;
    /* the shown numbers in reading order: by line (boxes sharing half their height), then x */
    int order[REC_MAX_NUMTRACKS], n = 0;
    for (int i = 0; i < l->ntk.n; i++)
        if (l->ntk.tracks[i].shown)
            order[n++] = i;
    for (int i = 1; i < n; i++)
        for (int j = i;
             j > 0 && reads_before(&l->ntk.tracks[order[j]].box, &l->ntk.tracks[order[j - 1]].box);
             j--) {
            const int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    for (int i = 0; i < n && k + 2 < sizeof s; i++) {
        k += (size_t)snprintf(s + k, sizeof s - k, "%s%s", k ? " " : "",
                              l->ntk.tracks[order[i]].text);
        if (k >= sizeof s)
            k = sizeof s - 1;
    }
    if (strcmp(s, l->said) != 0) {
        printf("frame %lld (%.2f s): %s\n", (long long)l->cur->index, l->cur->t,
               s[0] ? s : "(no numbers)");
        fflush(stdout);
        memcpy(l->said, s, sizeof s);
    }
}

/* Under the lock, without a window: until a reading is published, the reader ends, or Ctrl-C
 * (checked every tenth of a second). */
static void wait_for_reading(struct live *l)
{
    while (l->seq == l->taken && !l->ended && !l->failed && !interrupted) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L)
            until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&l->cv, &l->mu, &until);
    }
}

/* Under the lock: draws the canvas for a new reading (fresh), or at the display's pace for keys,
 * help, toasts and camera faults between readings. Returns whether it drew. */
static int draw_if_due(struct live *l, int fresh, double now)
{
    if (!l->canvas || !(fresh || (l->win && now - l->last_draw > 1.0 / 60)))
        return 0;
    draw(l);
    if (fresh) {
        const double lat = now - l->cur->captured_at;
        l->lat_ema = l->lat_ema > 0 ? 0.9 * l->lat_ema + 0.1 * lat : lat;
    }
    if (l->last_draw > 0) {
        const double rate = 1.0 / fmax(now - l->last_draw, 1e-3);
        l->draw_rate = l->draw_rate > 0 ? 0.9 * l->draw_rate + 0.1 * rate : rate;
    }
    l->last_draw = now;
    return 1;
}

/* The main thread's loop: starts the reader on the first frame, then takes what it publishes,
 * draws, shows and records it, and answers the window's events, until q, Ctrl-C or the reader
 * ends; stops the reader. Returns DG_OK or the error that ended it (starting the thread,
 * writing the video). */
static int run_loop(struct live *l, const struct media_frame *first)
{
    pthread_mutex_lock(&l->mu);
    l->pending = first;
    l->reader_started = pthread_create(&l->reader, NULL, read_loop, l) == 0;
    pthread_mutex_unlock(&l->mu);
    if (!l->reader_started)
        return dg_fail(DG_ENOMEM, "cannot start the reading thread");
    int rc = DG_OK;
    while (!interrupted) {
        SDL_Event ev;
        while (l->win && SDL_PollEvent(&ev)) {
            pthread_mutex_lock(&l->mu);
            if (ev.type == SDL_QUIT)
                l->quit = 1;
            else if (ev.type == SDL_KEYDOWN)
                on_key(l, ev.key.keysym.sym);
            l->last_draw = 0; /* redraw now */
            pthread_mutex_unlock(&l->mu);
        }
        pthread_mutex_lock(&l->mu);
        if (!l->win)
            wait_for_reading(l);
        const int fresh = l->seq != l->taken;
        if (fresh) {
            l->taken = l->seq;
            pthread_cond_broadcast(&l->cv);
            if (!l->cfg->json && !l->win)
                say_numbers(l);
        }
        const int shown = draw_if_due(l, fresh, dg_now());
        const int done_reading = l->ended || l->failed, quit = l->quit;
        pthread_mutex_unlock(&l->mu);
        /* the canvas is the main thread's own: shown and recorded outside the lock */
        if (shown && l->win)
            present(l);
        if (shown && fresh && l->wr && (rc = media_writer_put(l->wr, l->canvas->pixels)) != DG_OK)
            break;
        if (quit || (done_reading && !fresh))
            break;
        if (l->win && !shown)
            SDL_Delay(2);
    }
    stop_reader(l);
    return rc;
}

int app_live_run(const struct app_config *cfg)
{
    struct live l0 = {0}, *l = &l0;
    l->cfg = cfg;
    dg_jw_init(&l->jw, 0);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->sens = SENS_DEFAULT;
    rec_live_params(&l->params);
    l->params.min_confidence = SENSITIVITY[l->sens];
    if (cfg->fresh)
        l->params.reuse = 0.0f;
    if (cfg->quick)
        rec_params_look_once(&l->params);
    const int want_window = !cfg->headless && (getenv("DISPLAY") || getenv("WAYLAND_DISPLAY"));
    int rc = open_source(l);
    if (rc != DG_OK)
        goto done;
    struct media_stats st;
    media_capture_stats(l->cap, &st);
    snprintf(l->source_name, sizeof l->source_name, "%s", st.source);
    /* the frame size is known once the source is open */
    const struct media_frame *first = NULL;
    rc = media_capture_next(l->cap, 10.0, &first);
    if (rc != MEDIA_FRAME) {
        rc = dg_fail(DG_EIO, "%s gave no frame%s%s", l->source_name, dg_errmsg()[0] ? ": " : "",
                     dg_errmsg());
        goto done;
    }
    l->cur = first;
    l->vw = first->w, l->vh = first->h;
    l->cw = (l->vw + PANEL_W + 3) & ~3, l->ch = l->vh + STATUS_H;
    l->res = malloc(sizeof *l->res);
    l->res_work = malloc(sizeof *l->res_work);
    l->trk = malloc(sizeof *l->trk);
    l->grey_px = malloc((size_t)l->vw * l->vh);
    l->ms_hist = calloc(MS_HIST, sizeof *l->ms_hist);
    l->shown = (struct media_frame){.w = l->vw, .h = l->vh};
    l->shown.rgb = malloc((size_t)l->vw * l->vh * 3);
    if (!l->res || !l->res_work || !l->trk || !l->grey_px || !l->ms_hist || !l->shown.rgb) {
        rc = dg_fail(DG_ENOMEM, "out of memory");
        goto done;
    }
    rec_tracker_init(l->trk, l->params.min_confidence, 0.15f);
    rec_numtracker_init(&l->ntk, cfg->source.fps > 0 ? cfg->source.fps : 30.0);
    if (cfg->log && !(l->log_file = fopen(cfg->log, "a"))) {
        rc = dg_fail(DG_EIO, "cannot open %s to log readings: %s", cfg->log, strerror(errno));
        goto done;
    }
    if ((rc = rec_scanner_new(cfg->model, &l->params, &l->sc)) != DG_OK)
        goto done;
    const int draws = want_window || cfg->record || cfg->screenshot;
    if (draws && (rc = open_ui(l, want_window)) != DG_OK)
        goto done;
    if (!want_window && !cfg->headless)
        fprintf(stderr,
                "digits live: no display (DISPLAY/WAYLAND_DISPLAY unset): running without "
                "a window%s; Ctrl-C stops\n",
                cfg->json ? "" : " (--json for every frame's readings)");
    if (cfg->record &&
        (rc = media_writer_open(cfg->record, l->cw, l->ch,
                                cfg->source.fps > 0 ? cfg->source.fps : 30.0, &l->wr)) != DG_OK)
        goto done;
    l->help_until = dg_now() + 6.0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int end_rc = DG_OK; /* a damaged or cut video, said after the summary */
    if ((rc = run_loop(l, first)) != DG_OK)
        goto done;
    if (l->failed) {
        rc = dg_fail(DG_EIO, "%s", l->fail_msg);
        goto done;
    }
    if (l->ended && !interrupted && cfg->source.kind == MEDIA_SOURCE_VIDEO &&
        !(cfg->frames > 0 && l->processed >= cfg->frames))
        end_rc = check_video_end(l); /* the video ended: whole? */
    rc = DG_OK;
    if (cfg->screenshot && l->canvas)
        rc = vis_png_write(cfg->screenshot, l->canvas->pixels, l->cw, l->ch, 3);
    if (l->processed > 0) {
        const long n = l->processed < MS_HIST ? l->processed : MS_HIST;
        qsort(l->ms_hist, (size_t)n, sizeof *l->ms_hist, cmp_float);
        media_capture_stats(l->cap, &st);
        char bad[80] = "";
        if (st.undecodable > 0)
            snprintf(bad, sizeof bad, "; %lld could not be decoded and were skipped",
                     (long long)st.undecodable);
        fprintf(stderr,
                "digits live: %ld frames read, %.2f ms median, %.2f ms p99 per frame; %lld of "
                "%lld source frames dropped%s\n",
                l->processed, (double)l->ms_hist[n / 2], (double)l->ms_hist[n * 99 / 100],
                (long long)st.dropped, (long long)st.delivered, bad);
    }
    if (rc == DG_OK && end_rc != DG_OK)
        rc = check_video_end(l); /* its message again: the summary may have come between */
done:
    if (l->wr) {
        const int wrc = media_writer_close(l->wr, rc == DG_OK);
        if (rc == DG_OK)
            rc = wrc;
    }
    if (l->log_file && fclose(l->log_file) != 0 && rc == DG_OK)
        rc = dg_fail(DG_EIO, "cannot write the log %s: %s", cfg->log, strerror(errno));
    close_all(l);
    return rc;
}
