/* writer.c - annotated video out: RGB24 frames -> YUV 4:2:0 (libswscale) -> H.264 or MPEG-4
 * (libavcodec) -> a container chosen by the file name (libavformat), under a temporary name that
 * is renamed when the file is complete. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "media.h"

struct media_writer {
    char path[1024], tmp[1100];
    int w, h; /* the frames given */
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    int64_t n;
    int failed;
};

static int av_fail(const char *what, int err)
{
    char buf[128];
    av_strerror(err, buf, sizeof buf);
    return dg_fail(DG_EIO, "%s: %s", what, buf);
}

/* A write of the video failed: the user's path and the cause (a full disk: "No space left on
 * device"), not the temporary name, which is removed. */
static int write_fail(const struct media_writer *wr, int err)
{
    char buf[128];
    av_strerror(err, buf, sizeof buf);
    return dg_fail(DG_EIO, "cannot write the video %s: %s", wr->path, buf);
}

/* Sends frame (NULL: flush) and writes every packet the encoder gives back. */
static int encode(struct media_writer *wr, AVFrame *frame)
{
    int err = avcodec_send_frame(wr->enc, frame);
    if (err < 0)
        return av_fail("encoding the video failed", err);
    for (;;) {
        err = avcodec_receive_packet(wr->enc, wr->pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF)
            return DG_OK;
        if (err < 0)
            return av_fail("encoding the video failed", err);
        /* each frame lasts one tick of 1/fps; x264 leaves the duration 0, and the mp4 muxer then
         * ends the file's edit list at the last frame's start, so players drop that frame */
        if (wr->pkt->duration <= 0)
            wr->pkt->duration = 1;
        av_packet_rescale_ts(wr->pkt, wr->enc->time_base, wr->st->time_base);
        wr->pkt->stream_index = wr->st->index;
        err = av_interleaved_write_frame(wr->oc, wr->pkt);
        if (err < 0)
            return write_fail(wr, err);
    }
}

int media_writer_open(const char *path, int w, int h, double fps, struct media_writer **out)
{
    if (w < 16 || h < 16 || w > MEDIA_MAX_SIDE || h > MEDIA_MAX_SIDE)
        return dg_fail(DG_EARG, "video size %dx%d is out of range", w, h);
    if (!(fps > 0 && fps <= 240))
        fps = 30;
    av_log_set_level(AV_LOG_QUIET); /* x264 is chatty; failures are reported here */
    struct media_writer *wr = calloc(1, sizeof *wr);
    if (!wr)
        return dg_fail(DG_ENOMEM, "out of memory");
    int rc = DG_OK;
    snprintf(wr->path, sizeof wr->path, "%s", path);
    /* the temporary name keeps the extension, which some muxers look at */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    snprintf(wr->tmp, sizeof wr->tmp, "%.*s.tmp-%ld-%s", (int)(base - path), path, (long)getpid(),
             base);
    wr->w = w;
    wr->h = h;
    int err = avformat_alloc_output_context2(&wr->oc, NULL, NULL, path);
    if (err < 0 || !wr->oc) {
        rc = dg_fail(DG_EARG, "cannot tell the video format from '%s' (use .mp4, .mkv or .avi)",
                     path);
        goto fail;
    }
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (!codec || avformat_query_codec(wr->oc->oformat, AV_CODEC_ID_H264, 0) != 1)
        codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!codec) {
        rc = dg_fail(DG_EIO, "this FFmpeg has neither an H.264 nor an MPEG-4 encoder");
        goto fail;
    }
    wr->st = avformat_new_stream(wr->oc, NULL);
    wr->enc = avcodec_alloc_context3(codec);
    wr->frame = av_frame_alloc();
    wr->pkt = av_packet_alloc();
    if (!wr->st || !wr->enc || !wr->frame || !wr->pkt) {
        rc = dg_fail(DG_ENOMEM, "out of memory");
        goto fail;
    }
    wr->enc->width = w & ~1; /* 4:2:0 wants even sizes */
    wr->enc->height = h & ~1;
    wr->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    wr->enc->time_base = av_inv_q(av_d2q(fps, 100000));
    wr->enc->framerate = av_d2q(fps, 100000);
    wr->enc->gop_size = (int)(fps + 0.5);
    wr->enc->thread_count = 1;
    if (codec->id == AV_CODEC_ID_H264) {
        av_opt_set(wr->enc->priv_data, "preset", "veryfast", 0);
        av_opt_set(wr->enc->priv_data, "crf", "23", 0);
    } else {
        wr->enc->bit_rate = 4000000;
    }
    if (wr->oc->oformat->flags & AVFMT_GLOBALHEADER)
        wr->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((err = avcodec_open2(wr->enc, codec, NULL)) < 0) {
        rc = av_fail("cannot start the video encoder", err);
        goto fail;
    }
    if (avcodec_parameters_from_context(wr->st->codecpar, wr->enc) < 0) {
        rc = dg_fail(DG_ENOMEM, "out of memory");
        goto fail;
    }
    wr->st->time_base = wr->enc->time_base;
    wr->frame->format = AV_PIX_FMT_YUV420P;
    wr->frame->width = wr->enc->width;
    wr->frame->height = wr->enc->height;
    if (av_frame_get_buffer(wr->frame, 0) < 0) {
        rc = dg_fail(DG_ENOMEM, "out of memory");
        goto fail;
    }
    wr->sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, wr->enc->width, wr->enc->height,
                             AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
    if (!wr->sws) {
        rc = dg_fail(DG_ENOMEM, "cannot set up the colour conversion");
        goto fail;
    }
    if ((err = avio_open(&wr->oc->pb, wr->tmp, AVIO_FLAG_WRITE)) < 0) {
        rc = write_fail(wr, err);
        goto fail;
    }
    if ((err = avformat_write_header(wr->oc, NULL)) < 0) {
        rc = write_fail(wr, err);
        goto fail;
    }
    *out = wr;
    return DG_OK;
fail:
    wr->failed = 1;
    media_writer_close(wr, 0);
    return rc;
}

int media_writer_put(struct media_writer *wr, const uint8_t *rgb)
{
    if (wr->failed)
        return dg_fail(DG_EIO, "the video writer has already failed");
    if (av_frame_make_writable(wr->frame) < 0)
        return dg_fail(DG_ENOMEM, "out of memory");
    const uint8_t *src[4] = {rgb, NULL, NULL, NULL};
    const int src_stride[4] = {3 * wr->w, 0, 0, 0};
    sws_scale(wr->sws, src, src_stride, 0, wr->h, wr->frame->data, wr->frame->linesize);
    wr->frame->pts = wr->n++;
    const int rc = encode(wr, wr->frame);
    if (rc != DG_OK)
        wr->failed = 1;
    return rc;
}

int media_writer_close(struct media_writer *wr, int commit)
{
    if (!wr)
        return DG_OK;
    int rc = DG_OK;
    const int opened = wr->oc && wr->oc->pb;
    if (opened && !wr->failed) {
        rc = encode(wr, NULL);
        if (rc == DG_OK) {
            const int err = av_write_trailer(wr->oc);
            if (err < 0)
                rc = write_fail(wr, err);
        }
    }
    if (opened) {
        /* buffered bytes go out here: a full disk shows first at the close */
        const int err = wr->oc->pb->error < 0 ? wr->oc->pb->error : 0,
                  cerr = avio_closep(&wr->oc->pb);
        if (rc == DG_OK && (err < 0 || cerr < 0))
            rc = write_fail(wr, err < 0 ? err : cerr);
    }
    if (opened) {
        if (commit && rc == DG_OK && !wr->failed) {
            if (rename(wr->tmp, wr->path) != 0)
                rc = dg_fail(DG_EIO, "cannot rename the finished video to %s: %s", wr->path,
                             strerror(errno));
        } else {
            remove(wr->tmp);
        }
    }
    if (wr->failed && rc == DG_OK && commit)
        rc = dg_fail(DG_EIO, "the video %s was not written", wr->path);
    sws_freeContext(wr->sws);
    av_frame_free(&wr->frame);
    av_packet_free(&wr->pkt);
    avcodec_free_context(&wr->enc);
    avformat_free_context(wr->oc);
    free(wr);
    return rc;
}
