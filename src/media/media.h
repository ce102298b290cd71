/* media.h - video in and out: cameras, video files and streams through FFmpeg, the built-in demo
 * scene, and annotated-video recording. The only module that includes libav*; frames cross its
 * boundary as plain RGB buffers. Knows nothing of networks or windows.
 *
 *     struct media_source_config cfg = {.kind = MEDIA_SOURCE_VIDEO, .url = "clip.mp4"};
 *     struct media_capture *cap;
 *     if (media_capture_open(&cfg, &cap) != DG_OK) puts(dg_errmsg());
 *     const struct media_frame *f;
 *     while (media_capture_next(cap, 1.0, &f) == MEDIA_FRAME) use(f->rgb, f->w, f->h);
 *     media_capture_free(cap);
 *
 * Threads: a capture runs one thread of its own that reads the source at the source's own pace and
 * keeps only the newest frame (a one-slot mailbox): a consumer that falls behind sees frames
 * dropped and counted, never queued, so latency never builds up. media_capture_next and
 * media_capture_stats are for one consumer thread. A device that fails (busy, permission,
 * unplugged) does not end the capture: the thread reports the reason in the stats and retries every
 * second. */
#ifndef MEDIA_H
#define MEDIA_H

#include <stdint.h>

#include "dg.h"

/* The largest frame side delivered, drawn or recorded: 4096 (4K UHD is 3840x2160). A source with
 * larger frames (up to 8192 a side) is scaled down to fit; each frame costs about 18 bytes per
 * pixel across capture, reading and drawing, so 4096x4096 frames take about 300 MB. */
enum { MEDIA_MAX_SIDE = 4096 };

enum media_kind {
    MEDIA_SOURCE_CAMERA, /* url: a device ("/dev/video0"), or NULL for the first one found */
    MEDIA_SOURCE_VIDEO,  /* url: a video file or stream URL, read at its own frame rate */
    MEDIA_SOURCE_DEMO,   /* the built-in animated scene (needs demo_digits) */
};

struct media_source_config {
    enum media_kind kind;
    const char *url;
    int w, h;   /* output size; 0 x 0: the source's own (camera: asked for; demo: 640 x 480) */
    double fps; /* camera: asked for; demo: its rate (0: 30); video: ignored (the file's own) */
    int loop;   /* video files start again at the end */
    /* Video: every frame handed over, none dropped, as fast as the consumer takes them rather than
     * at the file's frame rate (the capture waits for the slot to be taken). For reading a
     * recording whole, and for measurements that must not depend on the machine's load. */
    int every_frame;
    /* Demo: n_demo_digits 28x28 MNIST-style digits (0 background .. 255 ink) and their labels. */
    const uint8_t *demo_digits;
    const uint8_t *demo_labels;
    int n_demo_digits;
    uint64_t seed;
};

/* One frame: RGB24, stride 3*w. index counts every frame the source delivered (0-based, dropped
 * ones too); t is its presentation time in seconds from the source's start; captured_at is
 * dg_now() when the capture thread had it. */
struct media_frame {
    int w, h;
    uint8_t *rgb;
    int64_t index;
    double t;
    double captured_at;
};

struct media_stats {
    char source[160];    /* what is being read, for a status line */
    int w, h;            /* the frames' size (0 before the first frame) */
    double fps;          /* frames delivered per second, over about the last second */
    int64_t delivered;   /* frames the source gave */
    int64_t dropped;     /* of those, overwritten before the consumer took them */
    int failing;         /* the device failed and is being retried */
    int64_t undecodable; /* video: packets or frames that could not be decoded or converted */
    int64_t expected;    /* video: frames the file says it holds (0: it does not say) */
    char problem[200];   /* why, when failing (else "") */
};

enum { MEDIA_FRAME = 1, MEDIA_TIMEOUT = 0, MEDIA_END = 2 };

struct media_capture;

/* Opens the source (the first open is tried here, so a missing file or absent camera is an error
 * now, with a reason naming what was tried) and starts the capture thread. */
int media_capture_open(const struct media_source_config *cfg, struct media_capture **out);

/* Waits up to timeout_s for a frame newer than the last one taken. MEDIA_FRAME: *frame points at
 * it, valid until the next call; MEDIA_TIMEOUT; MEDIA_END: a video file ended (not looping) or a
 * stream failed for good (reason in dg_errmsg()). */
int media_capture_next(struct media_capture *cap, double timeout_s,
                       const struct media_frame **frame);

void media_capture_stats(struct media_capture *cap, struct media_stats *st);

/* Stops the thread and closes the source. NULL is fine. */
void media_capture_free(struct media_capture *cap);

/* Video files out. The file is written under a temporary name beside path and renamed by
 * media_writer_close(commit = 1); with commit = 0 (or if anything failed) it is removed. The
 * container comes from path's extension (.mp4, .mkv, .avi); H.264 when FFmpeg has an encoder for
 * it, else MPEG-4 part 2. */
struct media_writer;
int media_writer_open(const char *path, int w, int h, double fps, struct media_writer **out);
/* Appends one RGB24 frame of the size given at open. */
int media_writer_put(struct media_writer *wr, const uint8_t *rgb);
int media_writer_close(struct media_writer *wr, int commit);

/* The demo scene alone (used by the capture thread, and by tests): renders frame number index of
 * the animation into rgb (w x h x 3). Deterministic for a given config and index. */
struct media_demo;
int media_demo_new(const struct media_source_config *cfg, int w, int h, struct media_demo **out);
void media_demo_render(struct media_demo *d, int64_t index, uint8_t *rgb);
/* The labels of the digits on paper in the last rendered frame, as numbers separated by spaces
 * (for tests: "305 17"). */
const char *media_demo_truth(const struct media_demo *d);
void media_demo_free(struct media_demo *d);

#endif
