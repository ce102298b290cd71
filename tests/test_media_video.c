/* test_media_video.c - video out and in: the demo scene renders deterministically; frames written
 * with the writer come back through the capture thread (count, size, pixels within codec loss,
 * indices, timestamps, looping); missing and corrupt files and bad sizes fail with a reason. */
#define _DEFAULT_SOURCE
#include "data.h"
#include "media.h"
#include "testutil.h"

#include <unistd.h>

static char tmpdir[64];
static struct data_set demo;

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dg_test_media_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char im[4096], lb[4096];
    repo_path(im, sizeof im, "assets/demo-images-idx3-ubyte");
    repo_path(lb, sizeof lb, "assets/demo-labels-idx1-ubyte");
    return data_load_pair(im, lb, &demo) == DG_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    data_set_free(&demo);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct media_source_config demo_cfg(void)
{
    struct media_source_config c = {0};
    c.kind = MEDIA_SOURCE_DEMO;
    c.demo_digits = demo.images;
    c.demo_labels = demo.labels;
    c.n_demo_digits = demo.n;
    c.seed = 7;
    return c;
}

static void test_demo_deterministic(void **state)
{
    (void)state;
    const struct media_source_config c = demo_cfg();
    struct media_demo *a, *b;
    assert_int_equal(media_demo_new(&c, 160, 120, &a), DG_OK);
    assert_int_equal(media_demo_new(&c, 160, 120, &b), DG_OK);
    uint8_t *x = malloc(160 * 120 * 3), *y = malloc(160 * 120 * 3);
    assert_non_null(x);
    assert_non_null(y);
    media_demo_render(a, 45, x);
    media_demo_render(b, 45, y);
    assert_memory_equal(x, y, 160 * 120 * 3);
    assert_true(strlen(media_demo_truth(a)) > 0);
    /* the scene changes: a frame 4 seconds later holds other numbers */
    char first[256];
    snprintf(first, sizeof first, "%s", media_demo_truth(a));
    media_demo_render(a, 45 + 4 * 30, x);
    assert_true(strcmp(first, media_demo_truth(a)) != 0);
    /* ink on paper: the frame is neither flat nor empty */
    int dark = 0, light = 0;
    for (int i = 0; i < 160 * 120; i++) {
        const int v = y[3 * i + 1];
        dark += v < 80;
        light += v > 170;
    }
    assert_true(dark > 100 && light > 5000);
    struct media_demo *bad;
    assert_int_equal(media_demo_new(&c, 10, 10, &bad), DG_EARG);
    free(x);
    free(y);
    media_demo_free(a);
    media_demo_free(b);
}

enum {
    W = 160,
    H = 120,
    N = 40
}; /* 40: x264 with 20 frames happened to end on a frame the mp4 kept */

static void write_clip(const char *path, uint8_t frames[N][W * H * 3])
{
    const struct media_source_config c = demo_cfg();
    struct media_demo *d;
    assert_int_equal(media_demo_new(&c, W, H, &d), DG_OK);
    struct media_writer *wr;
    assert_int_equal(media_writer_open(path, W, H, 30, &wr), DG_OK);
    for (int i = 0; i < N; i++) {
        media_demo_render(d, i, frames[i]);
        assert_int_equal(media_writer_put(wr, frames[i]), DG_OK);
    }
    assert_int_equal(media_writer_close(wr, 1), DG_OK);
    media_demo_free(d);
}

static void test_video_round_trip(void **state)
{
    (void)state;
    static uint8_t frames[N][W * H * 3];
    char path[256];
    snprintf(path, sizeof path, "%s/clip.mp4", tmpdir);
    write_clip(path, frames);
    assert_int_equal(access(path, F_OK), 0);
    struct media_source_config c = {.kind = MEDIA_SOURCE_VIDEO, .url = path, .loop = 1};
    struct media_capture *cap;
    assert_int_equal(media_capture_open(&c, &cap), DG_OK);
    /* take every frame (the reader is paced at 30 fps, we are faster): two passes of the loop */
    int64_t last_index = -1;
    double last_t = -1;
    for (int k = 0; k < 2 * N; k++) {
        const struct media_frame *f;
        assert_int_equal(media_capture_next(cap, 5.0, &f), MEDIA_FRAME);
        assert_int_equal(f->w, W);
        assert_int_equal(f->h, H);
        assert_true(f->index > last_index);
        assert_true(f->t > last_t);
        last_index = f->index, last_t = f->t;
        if (f->index < N) { /* first pass: compare with what was written (lossy codec) */
            double err = 0;
            for (int i = 0; i < W * H * 3; i++)
                err += abs((int)f->rgb[i] - (int)frames[f->index][i]);
            assert_true(err / (W * H * 3) < 12.0);
        }
    }
    assert_true(last_index >= 2 * N - 1); /* looped past the end */
    assert_true(last_t > (2 * N - 2) / 30.0 - 1e-3);
    struct media_stats st;
    media_capture_stats(cap, &st);
    assert_true(st.delivered >= 2 * N);
    assert_int_equal(st.w, W);
    media_capture_free(cap);

    /* without --loop the end is the end; --size scales */
    c.loop = 0;
    c.w = 80, c.h = 60;
    assert_int_equal(media_capture_open(&c, &cap), DG_OK);
    int n = 0, rc;
    const struct media_frame *f;
    while ((rc = media_capture_next(cap, 5.0, &f)) == MEDIA_FRAME) {
        assert_int_equal(f->w, 80);
        n++;
    }
    assert_int_equal(rc, MEDIA_END);
    assert_true(n >= 1 && n <= N);
    media_capture_free(cap);

    /* every_frame: a consumer slower than the file's 30 fps still gets every frame written (the
     * writer's last one included), in order, none dropped */
    c.every_frame = 1;
    assert_int_equal(media_capture_open(&c, &cap), DG_OK);
    n = 0;
    while ((rc = media_capture_next(cap, 5.0, &f)) == MEDIA_FRAME) {
        assert_int_equal(f->index, n);
        assert_true(fabs(f->t - n / 30.0) < 1e-3);
        n++;
        usleep(50000);
    }
    assert_int_equal(rc, MEDIA_END);
    assert_int_equal(n, N);
    media_capture_stats(cap, &st);
    assert_int_equal(st.dropped, 0);
    media_capture_free(cap);
}

static void test_bad_sources(void **state)
{
    (void)state;
    char path[256];
    struct media_capture *cap = NULL;
    snprintf(path, sizeof path, "%s/missing.mp4", tmpdir);
    struct media_source_config c = {.kind = MEDIA_SOURCE_VIDEO, .url = path};
    assert_int_not_equal(media_capture_open(&c, &cap), DG_OK);
    assert_non_null(strstr(dg_errmsg(), "missing.mp4"));
    /* a file that is not a video */
    snprintf(path, sizeof path, "%s/junk.mp4", tmpdir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 5000; i++)
        fputc((i * 7919) & 255, f);
    fclose(f);
    assert_int_not_equal(media_capture_open(&c, &cap), DG_OK);
    assert_true(strlen(dg_errmsg()) > 0);
    /* a truncated video: what can be decoded is, then the end */
    static uint8_t frames[N][W * H * 3];
    snprintf(path, sizeof path, "%s/cut.mkv", tmpdir);
    write_clip(path, frames);
    FILE *g = fopen(path, "r+b");
    assert_non_null(g);
    fseek(g, 0, SEEK_END);
    const long size = ftell(g);
    fclose(g);
    assert_int_equal(truncate(path, size / 2), 0);
    c.url = path;
    if (media_capture_open(&c, &cap) == DG_OK) {
        const struct media_frame *fr;
        int rc, n = 0;
        while ((rc = media_capture_next(cap, 5.0, &fr)) == MEDIA_FRAME)
            n++;
        assert_int_equal(rc, MEDIA_END);
        assert_true(n < N);
        media_capture_free(cap);
    }
    /* an explicit camera that does not exist */
    struct media_source_config cam = {.kind = MEDIA_SOURCE_CAMERA, .url = "/dev/video-none"};
    assert_int_not_equal(media_capture_open(&cam, &cap), DG_OK);
    assert_non_null(strstr(dg_errmsg(), "/dev/video-none"));
    /* sizes */
    struct media_source_config big = demo_cfg();
    big.w = 100000, big.h = 10;
    assert_int_equal(media_capture_open(&big, &cap), DG_EARG);
    struct media_writer *wr;
    snprintf(path, sizeof path, "%s/out.unknownext", tmpdir);
    assert_int_not_equal(media_writer_open(path, 64, 64, 30, &wr), DG_OK);
    snprintf(path, sizeof path, "%s/no/such/dir/out.mp4", tmpdir);
    assert_int_not_equal(media_writer_open(path, 64, 64, 30, &wr), DG_OK);
}

static void test_demo_capture_drops_not_queues(void **state)
{
    (void)state;
    struct media_source_config c = demo_cfg();
    c.w = 128, c.h = 96, c.fps = 100;
    struct media_capture *cap;
    assert_int_equal(media_capture_open(&c, &cap), DG_OK);
    const struct media_frame *f;
    assert_int_equal(media_capture_next(cap, 5.0, &f), MEDIA_FRAME);
    usleep(300000); /* a slow consumer: about 30 frames pass */
    assert_int_equal(media_capture_next(cap, 5.0, &f), MEDIA_FRAME);
    const int64_t newest = f->index;
    struct media_stats st;
    media_capture_stats(cap, &st);
    /* the one frame handed over was the newest; the others were counted as dropped */
    assert_true(newest >= 5);
    assert_true(st.dropped >= newest - 2);
    assert_true(st.delivered >= newest + 1);
    media_capture_free(cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_deterministic),
        cmocka_unit_test(test_video_round_trip),
        cmocka_unit_test(test_bad_sources),
        cmocka_unit_test(test_demo_capture_drops_not_queues),
    };
    return cmocka_run_group_tests_name("media_video", tests, setup, teardown);
}
