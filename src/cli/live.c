/* live.c - `digits live`: options, the model and the demo's digits, then the app's loop. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app.h"
#include "data.h"

static const char *const HELP =
    "usage: digits live [options]\n"
    "Read handwritten digits on live video: boxes, digits and numbers drawn over the picture.\n"
    "Source (default: the first camera; the built-in demo when there is none):\n"
    "  --camera DEV|auto      a camera device (/dev/video0) or the first one found\n"
    "  --video FILE|URL       a video file or stream, read at its own frame rate\n"
    "  --loop                 start the video again at its end\n"
    "  --every-frame          read every frame of the video, none dropped, as fast as they\n"
    "                         can be read instead of at the video's frame rate\n"
    "  --demo                 the built-in animated scene (no camera needed)\n"
    "  --size WxH             frame size, up to 4096x4096 (camera: asked for; video: scaled\n"
    "                         to, else its own scaled to fit 4096; demo: 640x480)\n"
    "  --fps RATE             camera: frame rate asked for (30, 7.5, ...); demo: its rate\n"
    "                         (default 30)\n"
    "Output:\n"
    "  --model FILE           model (default <root>/models/fast.safetensors; robust.safetensors\n"
    "                         reads a little better at about 1.5x the time per frame)\n"
    "  --headless             no window even with a display (automatic without one)\n"
    "  --json                 one JSON line per frame: frame, t, digits, numbers (this frame's\n"
    "                         reading), shown_digits (the digits drawn, held steady), shown\n"
    "                         (the numbers on screen, held steady), locked,\n"
    "                         ms; and {\"event\": \"lock\", t, id, text, confidence, box} when a\n"
    "                         number has read the same for half a second\n"
    "  --record OUT.mp4       write the annotated video (.mp4, .mkv or .avi)\n"
    "  --frames N             stop after N frames\n"
    "  --screenshot OUT.png   save the last frame shown, with its overlay, at the end\n"
    "  --font FILE.ttf        the font to draw with (default: DejaVu Sans from the system)\n"
    "  --log FILE             append each locked number to FILE as a JSON line: t, text,\n"
    "                         confidence, box\n"
    "  --fresh                read every frame's candidates afresh (by default one that looks\n"
    "                         as it did in the last frame takes the network's sure answer of "
    "then)\n"
    "  --quick                find each frame's ink once, as the browser does (by default a\n"
    "                         frame with candidates turned down is looked at again at two more\n"
    "                         ink thresholds: more of a desk's digits, 2-3 times the time)\n"
    "Keys: q/Esc quit, space pause, s snapshot, c copy the last locked number, l clear the\n"
    "      reading log, r centre box, i polarity, +/- sensitivity,\n"
    "      m mirror, f fullscreen, h help.\n";

/* WxH: digits, a lowercase x, digits; each side 16..MEDIA_MAX_SIDE. */
static int parse_size(const char *s, int *w, int *h)
{
    const char *x = strchr(s, 'x');
    char a_s[16];
    if (!x || (size_t)(x - s) >= sizeof a_s)
        return -1;
    memcpy(a_s, s, (size_t)(x - s));
    a_s[x - s] = 0;
    long a, b;
    if (!isdigit((unsigned char)a_s[0]) || !isdigit((unsigned char)x[1]) ||
        cli_parse_long(a_s, 16, MEDIA_MAX_SIDE, &a) ||
        cli_parse_long(x + 1, 16, MEDIA_MAX_SIDE, &b))
        return -1;
    *w = (int)a, *h = (int)b;
    return 0;
}

/* Whether path ends in one of the containers --record writes. */
static int video_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot &&
           (!strcasecmp(dot, ".mp4") || !strcasecmp(dot, ".mkv") || !strcasecmp(dot, ".avi"));
}

int cmd_live(int argc, char **argv)
{
    const char *cmd = "live";
    const char *model_path = cli_live_model();
    struct app_config cfg = {0};
    int n_sources = 0;
    cfg.source.kind = MEDIA_SOURCE_CAMERA;
    cfg.source.seed = 1;
    static const struct option longs[] = {
        {"camera", 1, 0, 'c'},
        {"video", 1, 0, 'v'},
        {"demo", 0, 0, 'd'},
        {"size", 1, 0, 'S'},
        {"fps", 1, 0, 'F'},
        {"model", 1, 0, 'm'},
        {"headless", 0, 0, 'H'},
        {"json", 0, 0, 'j'},
        {"record", 1, 0, 'r'},
        {"frames", 1, 0, 'n'},
        {"screenshot", 1, 0, 'o'},
        {"font", 1, 0, 'f'},
        {"loop", 0, 0, 'l'},
        {"help", 0, 0, 'h'},
        {"log", 1, 0, 'L'},
        {"fresh", 0, 0, 'R'},
        {"quick", 0, 0, 'Q'},
        {"every-frame", 0, 0, 'E'},
        {0, 0, 0, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'c':
            cfg.source.kind = MEDIA_SOURCE_CAMERA;
            cfg.source.url = strcmp(optarg, "auto") ? optarg : NULL;
            n_sources++;
            break;
        case 'v':
            cfg.source.kind = MEDIA_SOURCE_VIDEO;
            cfg.source.url = optarg;
            n_sources++;
            break;
        case 'd':
            cfg.source.kind = MEDIA_SOURCE_DEMO;
            n_sources++;
            break;
        case 'S':
            if (parse_size(optarg, &cfg.source.w, &cfg.source.h))
                return cli_usage(cmd, "--size wants WxH from 16x16 to %dx%d, not '%s'",
                                 MEDIA_MAX_SIDE, MEDIA_MAX_SIDE, optarg);
            break;
        case 'F': {
            double v;
            if (cli_parse_double(optarg, 1, 240, &v))
                return cli_usage(cmd, "--fps wants a rate from 1 to 240, not '%s'", optarg);
            cfg.source.fps = v;
            break;
        }
        case 'm': model_path = optarg; break;
        case 'H': cfg.headless = 1; break;
        case 'j': cfg.json = 1; break;
        case 'r': cfg.record = optarg; break;
        case 'n': {
            long v;
            if (cli_parse_long(optarg, 1, 1000000000L, &v))
                return cli_usage(cmd, "--frames wants a count from 1, not '%s'", optarg);
            cfg.frames = v;
            break;
        }
        case 'o': cfg.screenshot = optarg; break;
        case 'f': cfg.font = optarg; break;
        case 'L': cfg.log = optarg; break;
        case 'R': cfg.fresh = 1; break;
        case 'Q': cfg.quick = 1; break;
        case 'l': cfg.source.loop = 1; break;
        case 'E': cfg.source.every_frame = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        case ':':
            return cli_usage(cmd, "%s needs a value (see digits live --help)", argv[optind - 1]);
        default:
            return cli_usage(cmd, "unknown option '%s' (see digits live --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument '%s' (see digits live --help)", argv[optind]);
    if (n_sources > 1)
        return cli_usage(cmd, "choose one source: --camera, --video or --demo");
    if (cfg.source.loop && cfg.source.kind != MEDIA_SOURCE_VIDEO)
        return cli_usage(cmd, "--loop goes with --video");
    if (cfg.source.every_frame && cfg.source.kind != MEDIA_SOURCE_VIDEO)
        return cli_usage(cmd, "--every-frame goes with --video");
    if (cfg.record && !video_name(cfg.record))
        return cli_usage(cmd, "--record writes .mp4, .mkv or .avi, not '%s'", cfg.record);
    if (cfg.font && access(cfg.font, R_OK) != 0)
        return cli_usage(cmd, "--font %s cannot be read: %s", cfg.font, strerror(errno));
    cfg.demo_fallback = n_sources == 0;

    /* the demo's digits are loaded even for a camera: it is the fallback */
    struct data_set demo = {0};
    char images[4200], labels[4200];
    snprintf(images, sizeof images, "%s/assets/demo-images-idx3-ubyte", cli_root());
    snprintf(labels, sizeof labels, "%s/assets/demo-labels-idx1-ubyte", cli_root());
    const int need_demo = cfg.source.kind == MEDIA_SOURCE_DEMO || cfg.demo_fallback;
    if (need_demo && data_load_pair(images, labels, &demo) != DG_OK) {
        cli_fail(cmd,
                 "the demo's digits are missing (%s); run from the source tree or set "
                 "DIGITS_ROOT",
                 dg_errmsg());
        if (cfg.source.kind == MEDIA_SOURCE_DEMO)
            return 1;
        cfg.demo_fallback = 0;
    }
    if (demo.n && (demo.rows != 28 || demo.cols != 28)) {
        data_set_free(&demo);
        return cli_fail(cmd, "%s: the demo's digits must be 28x28", images);
    }
    cfg.source.demo_digits = demo.images;
    cfg.source.demo_labels = demo.labels;
    cfg.source.n_demo_digits = demo.n;

    nn_set_threads(1);
    struct nn_model *m;
    if (cli_load_model(cmd, model_path, &m, NULL)) {
        data_set_free(&demo);
        return 1;
    }
    cfg.model = m;
    const int rc = app_live_run(&cfg);
    nn_model_free(m);
    data_set_free(&demo);
    if (rc != DG_OK)
        return cli_fail(cmd, "%s", dg_errmsg());
    return 0;
}
