/* capture.c - the capture thread: cameras, files and streams through libavformat/libavcodec,
 * converted to RGB24 with libswscale, or the demo scene; handed over through a one-slot mailbox
 * where the newest frame wins. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "media.h"

struct media_capture {
    struct media_source_config cfg;
    char url[512];
    int w, h;

    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;                             /* under mu; also read by the interrupt callback */
    struct media_frame back, slot, front; /* capture thread's, mailbox, consumer's */
    int slot_full, ended;
    char end_msg[200];
    struct media_stats st;
    double fps_t0;
    int64_t fps_n0;

    /* owned by the capture thread once it runs */
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVFrame *frm;
    AVPacket *pkt;
    struct SwsContext *sws;
    int stream;
    double tb;               /* stream time base in seconds */
    int64_t first_pts;       /* AV_NOPTS_VALUE until the first frame */
    double t_offset, t_last; /* looping: time added per pass; the last frame's time */
    double frame_dur;
    double wall0, t0; /* pacing: wall clock and media time of the pass's first frame */
    int64_t index;
    struct media_demo *demo;
    int fifo_fd; /* a named pipe being read (see open_fifo), or -1 */
};

static int stopping(struct media_capture *c)
{
    pthread_mutex_lock(&c->mu);
    const int s = c->stop;
    pthread_mutex_unlock(&c->mu);
    return s;
}

static int interrupt_cb(void *opaque)
{
    return stopping(opaque);
}

/* Waits on c->cv (c->mu held) for at most `wait` seconds; wake-ups may come earlier. */
static void wait_for(struct media_capture *c, double wait)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)wait;
    ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

/* Sleeps until wall-clock time `until` (dg_now() scale) or until stopped. Returns 1 if stopped. */
static int sleep_until(struct media_capture *c, double until)
{
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        const double now = dg_now();
        if (now >= until)
            break;
        wait_for(c, until - now);
    }
    const int s = c->stop;
    pthread_mutex_unlock(&c->mu);
    return s;
}

static void describe(char *out, size_t n, const char *what, int err)
{
    const int e = err < 0 ? -err : err;
    const char *why = NULL;
    if (err == AVERROR(EBUSY))
        why = "is busy: another program is using it";
    else if (err == AVERROR(EACCES) || err == AVERROR(EPERM))
        why = "refused permission (on Linux, add your user to the 'video' group)";
    else if (err == AVERROR(ENOENT))
        why = "was not found";
    else if (err == AVERROR(ENODEV) || err == AVERROR(EIO) || err == AVERROR(ENXIO))
        why = "stopped answering (unplugged?)";
    if (why) {
        snprintf(out, n, "%s %s", what, why);
    } else {
        char buf[128];
        av_strerror(err, buf, sizeof buf);
        snprintf(out, n, "%s: %s (error %d)", what, buf, e);
    }
}

static void close_source(struct media_capture *c)
{
    avcodec_free_context(&c->dec);
    avformat_close_input(&c->fmt);
    sws_freeContext(c->sws);
    c->sws = NULL;
    if (c->fifo_fd >= 0) /* FFmpeg's pipe protocol leaves the descriptor to us */
        close(c->fifo_fd);
    c->fifo_fd = -1;
}

/* A named pipe is opened here and handed to FFmpeg's pipe protocol as "pipe:FD" with reads that
 * do not block. Through the file protocol a stalled writer left read() blocked in the capture
 * thread, and Ctrl-C never ended it; now a stalled read returns EAGAIN, FFmpeg's retry loop asks
 * the interrupt callback, and stopping ends the thread. The open itself waits for a writer, as
 * the file protocol's did. Writes the URL FFmpeg is to open into pipe_url; returns 0, or -1 with
 * the reason in msg. */
static int open_fifo(struct media_capture *c, const char *url, char *pipe_url, size_t n_url,
                     char *msg, size_t n_msg)
{
    const int fd = open(url, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        snprintf(msg, n_msg, "cannot open the pipe %.300s: %s", url, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    c->fifo_fd = fd;
    snprintf(pipe_url, n_url, "pipe:%d", fd);
    return 0;
}

/* Opens url (a device with the platform's camera input, or a file/stream) and its decoder.
 * On failure the reason is in msg. */
static int open_url(struct media_capture *c, const char *url, char *msg, size_t n_msg)
{
    const AVInputFormat *in = NULL;
    AVDictionary *opts = NULL;
    if (c->cfg.kind == MEDIA_SOURCE_CAMERA) {
#if defined(__APPLE__)
        in = av_find_input_format("avfoundation");
#elif defined(_WIN32)
        in = av_find_input_format("dshow");
#else
        in = av_find_input_format("v4l2");
#endif
        if (!in) {
            snprintf(msg, n_msg, "this FFmpeg has no camera input (libavdevice without v4l2)");
            return DG_EIO;
        }
        char buf[32];
        if (c->cfg.w > 0) {
            snprintf(buf, sizeof buf, "%dx%d", c->cfg.w, c->cfg.h);
            av_dict_set(&opts, "video_size", buf, 0);
        }
        if (c->cfg.fps > 0) {
            snprintf(buf, sizeof buf, "%g", c->cfg.fps);
            av_dict_set(&opts, "framerate", buf, 0);
        }
    }
    c->fmt = avformat_alloc_context();
    if (!c->fmt) {
        av_dict_free(&opts);
        snprintf(msg, n_msg, "out of memory");
        return DG_ENOMEM;
    }
    c->fmt->interrupt_callback.callback = interrupt_cb;
    c->fmt->interrupt_callback.opaque = c;
    const char *what = c->cfg.kind == MEDIA_SOURCE_CAMERA ? "camera" : "video";
    char label[600], pipe_url[32];
    snprintf(label, sizeof label, "%s %s", what, url);
    struct stat sb;
    if (c->cfg.kind == MEDIA_SOURCE_VIDEO && stat(url, &sb) == 0 && S_ISFIFO(sb.st_mode)) {
        if (open_fifo(c, url, pipe_url, sizeof pipe_url, msg, n_msg)) {
            av_dict_free(&opts);
            avformat_free_context(c->fmt);
            c->fmt = NULL;
            return DG_EIO;
        }
        url = pipe_url;
    }
    int err = avformat_open_input(&c->fmt, url, in, &opts);
    av_dict_free(&opts);
    if (err < 0) {
        describe(msg, n_msg, label, err);
        close_source(c);
        return DG_EIO;
    }
    if ((err = avformat_find_stream_info(c->fmt, NULL)) < 0) {
        describe(msg, n_msg, label, err);
        close_source(c);
        return DG_EIO;
    }
    const AVCodec *codec = NULL;
    c->stream = av_find_best_stream(c->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (c->stream < 0 || !codec) {
        snprintf(msg, n_msg, "%.150s has no video stream FFmpeg can decode", label);
        close_source(c);
        return DG_EFORMAT;
    }
    AVStream *st = c->fmt->streams[c->stream];
    c->dec = avcodec_alloc_context3(codec);
    if (!c->dec || avcodec_parameters_to_context(c->dec, st->codecpar) < 0) {
        snprintf(msg, n_msg, "out of memory");
        close_source(c);
        return DG_ENOMEM;
    }
    c->dec->thread_count = 1;
    if ((err = avcodec_open2(c->dec, codec, NULL)) < 0) {
        describe(msg, n_msg, label, err);
        close_source(c);
        return DG_EFORMAT;
    }
    if (c->dec->width <= 0 || c->dec->height <= 0 || c->dec->width > 8192 ||
        c->dec->height > 8192) {
        snprintf(msg, n_msg, "%.150s has an unusable frame size %dx%d", label, c->dec->width,
                 c->dec->height);
        close_source(c);
        return DG_EFORMAT;
    }
    c->tb = av_q2d(st->time_base);
    const AVRational fr = av_guess_frame_rate(c->fmt, st, NULL);
    c->frame_dur = fr.num > 0 && fr.den > 0 ? av_q2d(av_inv_q(fr)) : 1.0 / 30;
    /* how many frames a file says it holds: its count, else its duration at its frame rate */
    int64_t expected = st->nb_frames > 0 ? st->nb_frames : 0;
    if (!expected && c->fmt->duration > 0 && fr.num > 0 && fr.den > 0)
        expected = (int64_t)((double)c->fmt->duration / AV_TIME_BASE * av_q2d(fr) + 0.5);
    pthread_mutex_lock(&c->mu);
    c->st.expected = c->cfg.kind == MEDIA_SOURCE_VIDEO ? expected : 0;
    pthread_mutex_unlock(&c->mu);
    c->first_pts = AV_NOPTS_VALUE;
    c->wall0 = -1;
    c->fifo_fd = -1;
    return DG_OK;
}

/* Camera auto: the first /dev/videoN (N < 10) that opens; msg lists what was tried. */
static int open_source(struct media_capture *c, char *msg, size_t n_msg)
{
    if (c->cfg.kind != MEDIA_SOURCE_CAMERA || c->url[0])
        return open_url(c, c->url, msg, n_msg);
#if defined(__APPLE__) || defined(_WIN32)
    snprintf(c->url, sizeof c->url, "%s", "0");
    return open_url(c, c->url, msg, n_msg);
#else
    char tried[400] = "", one[200] = "";
    for (int i = 0; i < 10; i++) {
        char dev[32];
        snprintf(dev, sizeof dev, "/dev/video%d", i);
        struct stat sb;
        if (stat(dev, &sb) != 0)
            continue;
        if (open_url(c, dev, one, sizeof one) == DG_OK) {
            snprintf(c->url, sizeof c->url, "%s", dev);
            return DG_OK;
        }
        size_t used = strlen(tried);
        snprintf(tried + used, sizeof tried - used, "%s%s", used ? "; " : "", one);
    }
    if (tried[0])
        snprintf(msg, n_msg, "no camera could be opened (%s)", tried);
    else
        snprintf(msg, n_msg, "no camera found (no /dev/video0 to /dev/video9)");
    return DG_EIO;
#endif
}

static void set_problem(struct media_capture *c, const char *msg)
{
    pthread_mutex_lock(&c->mu);
    c->st.failing = msg != NULL;
    snprintf(c->st.problem, sizeof c->st.problem, "%s", msg ? msg : "");
    pthread_mutex_unlock(&c->mu);
}

static void publish(struct media_capture *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->cfg.every_frame && c->slot_full && !c->stop)
        pthread_cond_wait(&c->cv, &c->mu);
    if (c->slot_full)
        c->st.dropped++;
    const struct media_frame tmp = c->slot;
    c->slot = c->back;
    c->back = tmp;
    c->slot_full = 1;
    c->st.delivered++;
    c->st.w = c->w;
    c->st.h = c->h;
    const double now = dg_now();
    if (now - c->fps_t0 >= 1.0) {
        c->st.fps = (double)(c->st.delivered - c->fps_n0) / (now - c->fps_t0);
        c->fps_t0 = now;
        c->fps_n0 = c->st.delivered;
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void finish(struct media_capture *c, const char *msg)
{
    pthread_mutex_lock(&c->mu);
    c->ended = 1;
    snprintf(c->end_msg, sizeof c->end_msg, "%s", msg ? msg : "");
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Converts the decoded frame to the back buffer, paces files to their frame rate, publishes. */
static int deliver(struct media_capture *c)
{
    AVFrame *f = c->frm;
    c->sws = sws_getCachedContext(c->sws, f->width, f->height, (enum AVPixelFormat)f->format, c->w,
                                  c->h, AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
    if (!c->sws)
        return DG_EFORMAT;
    uint8_t *dst[4] = {c->back.rgb, NULL, NULL, NULL};
    int dst_stride[4] = {3 * c->w, 0, 0, 0};
    sws_scale(c->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
    const int64_t pts = f->best_effort_timestamp;
    double t;
    if (pts == AV_NOPTS_VALUE) {
        t = c->t_last + c->frame_dur;
    } else {
        if (c->first_pts == AV_NOPTS_VALUE)
            c->first_pts = pts;
        t = (double)(pts - c->first_pts) * c->tb + c->t_offset;
    }
    if (c->index > 0 && t <= c->t_last - 1.0) /* a broken timestamp: keep time moving */
        t = c->t_last + c->frame_dur;
    if (c->cfg.kind == MEDIA_SOURCE_VIDEO && !c->cfg.every_frame) {
        if (c->wall0 < 0) {
            c->wall0 = dg_now();
            c->t0 = t;
        }
        if (sleep_until(c, c->wall0 + (t - c->t0)))
            return DG_EINTR;
    }
    c->t_last = t;
    c->back.index = c->index++;
    c->back.t = t;
    c->back.captured_at = dg_now();
    publish(c);
    return DG_OK;
}

static void count_undecodable(struct media_capture *c)
{
    pthread_mutex_lock(&c->mu);
    c->st.undecodable++;
    pthread_mutex_unlock(&c->mu);
}

/* Reads and decodes until one packet's frames are delivered. DG_OK, MEDIA_END at the end of the
 * input, or a negative AVERROR for a read failure. */
static int pump(struct media_capture *c)
{
    int err = av_read_frame(c->fmt, c->pkt);
    const int eof = err == AVERROR_EOF;
    if (err < 0 && !eof)
        return err;
    if (!eof && c->pkt->stream_index != c->stream) {
        av_packet_unref(c->pkt);
        return DG_OK;
    }
    err = avcodec_send_packet(c->dec, eof ? NULL : c->pkt);
    av_packet_unref(c->pkt);
    if (err < 0 && err != AVERROR_EOF && err != AVERROR(EAGAIN)) {
        count_undecodable(c); /* a corrupt packet: skip it */
        return DG_OK;
    }
    for (;;) {
        err = avcodec_receive_frame(c->dec, c->frm);
        if (err == AVERROR(EAGAIN))
            return DG_OK;
        if (err == AVERROR_EOF)
            return MEDIA_END;
        if (err < 0) {
            count_undecodable(c);
            return DG_OK;
        }
        const int rc = deliver(c);
        av_frame_unref(c->frm);
        if (rc == DG_EINTR)
            return DG_OK;
        if (rc != DG_OK)
            count_undecodable(c); /* a frame that cannot be converted (an absurd size) */
    }
}

static void *run_demo(struct media_capture *c)
{
    const double fps = c->cfg.fps > 0 ? c->cfg.fps : 30.0;
    const double wall0 = dg_now();
    while (!stopping(c)) {
        media_demo_render(c->demo, c->index, c->back.rgb);
        c->back.index = c->index;
        c->back.t = (double)c->index / fps;
        if (sleep_until(c, wall0 + c->back.t))
            break;
        c->back.captured_at = dg_now();
        c->index++;
        publish(c);
    }
    return NULL;
}

static void *run(void *arg)
{
    struct media_capture *c = arg;
    if (c->cfg.kind == MEDIA_SOURCE_DEMO)
        return run_demo(c);
    char msg[200];
    while (!stopping(c)) {
        if (!c->fmt) {
            if (sleep_until(c, dg_now() + 1.0))
                break;
            if (open_source(c, msg, sizeof msg) != DG_OK) {
                set_problem(c, msg);
                continue;
            }
            set_problem(c, NULL);
        }
        const int rc = pump(c);
        if (rc == DG_OK)
            continue;
        if (rc == MEDIA_END && c->cfg.kind == MEDIA_SOURCE_VIDEO && c->cfg.loop && c->index > 0) {
            if (av_seek_frame(c->fmt, c->stream, 0, AVSEEK_FLAG_BACKWARD) >= 0 ||
                avformat_seek_file(c->fmt, -1, INT64_MIN, 0, 0, 0) >= 0) {
                avcodec_flush_buffers(c->dec);
                c->t_offset = c->t_last + c->frame_dur;
                c->first_pts = AV_NOPTS_VALUE;
                c->wall0 = -1;
                continue;
            }
        }
        if (rc == MEDIA_END && c->cfg.kind == MEDIA_SOURCE_VIDEO) {
            finish(c, NULL);
            break;
        }
        if (stopping(c))
            break;
        /* a camera or stream failed: report, close, retry every second */
        char what[600];
        snprintf(what, sizeof what, "%s %s",
                 c->cfg.kind == MEDIA_SOURCE_CAMERA ? "camera" : "stream", c->url);
        describe(msg, sizeof msg, what, rc == MEDIA_END ? AVERROR(ENODEV) : rc);
        set_problem(c, msg);
        close_source(c);
    }
    return NULL;
}

/* libswscale's SIMD writers store whole vectors and may run up to a few dozen bytes past the end
 * of the last row: frames get that slack (found with valgrind; ASan does not see inside FFmpeg). */
enum { SWS_SLACK = 256 };

static int alloc_frame(struct media_frame *f, int w, int h)
{
    f->w = w;
    f->h = h;
    f->rgb = calloc((size_t)w * h * 3 + SWS_SLACK, 1);
    return f->rgb ? DG_OK : DG_ENOMEM;
}

int media_capture_open(const struct media_source_config *cfg, struct media_capture **out)
{
    if (cfg->w < 0 || cfg->h < 0 || cfg->w > MEDIA_MAX_SIDE || cfg->h > MEDIA_MAX_SIDE ||
        (cfg->w > 0) != (cfg->h > 0))
        return dg_fail(DG_EARG, "frame size %dx%d is out of range (16x16 to %dx%d)", cfg->w, cfg->h,
                       MEDIA_MAX_SIDE, MEDIA_MAX_SIDE);
    if (cfg->kind == MEDIA_SOURCE_VIDEO && (!cfg->url || !cfg->url[0]))
        return dg_fail(DG_EARG, "no video file or URL given");
    struct media_capture *c = calloc(1, sizeof *c);
    if (!c)
        return dg_fail(DG_ENOMEM, "out of memory");
    c->cfg = *cfg;
    snprintf(c->url, sizeof c->url, "%s", cfg->url ? cfg->url : "");
    c->cfg.url = c->url;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->first_pts = AV_NOPTS_VALUE;
    c->wall0 = -1;
    c->fifo_fd = -1;
    int rc = DG_OK;
    char msg[400] = "";
    av_log_set_level(AV_LOG_QUIET); /* our own messages say what failed */
    if (cfg->kind == MEDIA_SOURCE_DEMO) {
        c->w = cfg->w ? cfg->w : 640;
        c->h = cfg->h ? cfg->h : 480;
        rc = media_demo_new(cfg, c->w, c->h, &c->demo);
        if (rc != DG_OK)
            goto fail;
        snprintf(c->st.source, sizeof c->st.source, "demo");
    } else {
        avdevice_register_all();
        c->frm = av_frame_alloc();
        c->pkt = av_packet_alloc();
        if (!c->frm || !c->pkt) {
            rc = dg_fail(DG_ENOMEM, "out of memory");
            goto fail;
        }
        rc = open_source(c, msg, sizeof msg);
        if (rc != DG_OK) {
            dg_fail(rc, "%s", msg);
            goto fail;
        }
        c->w = cfg->w ? cfg->w : c->dec->width;
        c->h = cfg->h ? cfg->h : c->dec->height;
        if (c->w > MEDIA_MAX_SIDE || c->h > MEDIA_MAX_SIDE) { /* scaled to fit, aspect kept */
            const double s = (double)MEDIA_MAX_SIDE / (c->w > c->h ? c->w : c->h);
            c->w = 2 * (int)(c->w * s / 2), c->h = 2 * (int)(c->h * s / 2);
        }
        snprintf(c->st.source, sizeof c->st.source, "%s %.140s",
                 cfg->kind == MEDIA_SOURCE_CAMERA ? "camera" : "video", c->url);
    }
    if (c->w < 16 || c->h < 16) {
        rc = dg_fail(DG_EARG, "frame size %dx%d is too small", c->w, c->h);
        goto fail;
    }
    if (alloc_frame(&c->back, c->w, c->h) || alloc_frame(&c->slot, c->w, c->h) ||
        alloc_frame(&c->front, c->w, c->h)) {
        rc = dg_fail(DG_ENOMEM, "out of memory for %dx%d frames", c->w, c->h);
        goto fail;
    }
    c->fps_t0 = dg_now();
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        rc = dg_fail(DG_ENOMEM, "cannot start the capture thread");
        goto fail;
    }
    c->started = 1;
    *out = c;
    return DG_OK;
fail:
    media_capture_free(c);
    return rc;
}

int media_capture_next(struct media_capture *c, double timeout_s, const struct media_frame **frame)
{
    const double until = dg_now() + timeout_s;
    pthread_mutex_lock(&c->mu);
    while (!c->slot_full && !c->ended) {
        const double now = dg_now();
        if (now >= until)
            break;
        wait_for(c, until - now);
    }
    int rc = MEDIA_TIMEOUT;
    if (c->slot_full) {
        const struct media_frame tmp = c->front;
        c->front = c->slot;
        c->slot = tmp;
        c->slot_full = 0;
        pthread_cond_broadcast(&c->cv); /* an every_frame capture waits for the slot */
        *frame = &c->front;
        rc = MEDIA_FRAME;
    } else if (c->ended) {
        if (c->end_msg[0])
            dg_fail(DG_EIO, "%s", c->end_msg);
        rc = MEDIA_END;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void media_capture_stats(struct media_capture *c, struct media_stats *st)
{
    pthread_mutex_lock(&c->mu);
    *st = c->st;
    if (dg_now() - c->fps_t0 > 2.0)
        st->fps = 0; /* nothing for a while */
    pthread_mutex_unlock(&c->mu);
}

void media_capture_free(struct media_capture *c)
{
    if (!c)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
    }
    close_source(c);
    av_frame_free(&c->frm);
    av_packet_free(&c->pkt);
    media_demo_free(c->demo);
    free(c->back.rgb);
    free(c->slot.rgb);
    free(c->front.rgb);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
