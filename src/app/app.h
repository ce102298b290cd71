/* app.h - `digits live`: frames from a camera, a video or the demo (media), read on every frame
 * (recog), tracked so labels hold still, and shown in an SDL2 window with the readings drawn over
 * the video, a side panel of what the network sees, a status line and on-screen help; or, without
 * a display, the same work with one JSON line per frame. The only module that includes SDL.
 *
 * Threads: the capture thread (media) hands frames to a reading thread, which reads them and
 * publishes each frame with its reading; the calling thread draws what is published, answers
 * the keys and owns every SDL call. */
#ifndef APP_H
#define APP_H

#include "media.h"
#include "nn.h"

struct app_config {
    struct media_source_config source;
    int demo_fallback; /* no source named: when no camera opens, say so and run the demo */
    const struct nn_model *model;
    int headless;             /* no window even if a display is there */
    int json;                 /* one JSON line per processed frame on stdout */
    const char *record;       /* nullable: annotated video out */
    long frames;              /* stop after this many processed frames (0: no limit) */
    const char *screenshot;   /* nullable: the last shown frame with its overlay, as PNG */
    const char *font;         /* nullable: a TTF file instead of the DejaVu font found */
    const char *snapshot_dir; /* where `s` saves (nullable: the current directory) */
    const char *log;          /* nullable: each locked number appended as a JSON line */
    int fresh; /* every frame read afresh: no answer of the last frame reused (rec_params.reuse) */
    int quick; /* each frame's ink found once (no stage 7), as the browser reads */
};

/* Runs until q/Esc/closing the window/Ctrl-C, the end of a video, or cfg->frames. Returns DG_OK,
 * DG_EINTR after Ctrl-C, or an error with its reason in dg_errmsg() (no camera and no fallback,
 * no font, no display when one was needed, a video that cannot be written). Prints one-line
 * notices (fallback to the demo, camera faults) on stderr and JSON on stdout. */
int app_live_run(const struct app_config *cfg);

/* The DejaVu font it would use: cfg_font if given, else $DIGITS_FONT, else the usual system
 * places. Returns a static path or NULL. */
const char *app_find_font(const char *cfg_font);

#endif
