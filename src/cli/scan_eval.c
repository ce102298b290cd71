/* scan_eval.c - `digits scan-eval TRUTH.jsonl`: scans every image named in a truth file (as
 * written by tools/scenegen) and scores the readings: a truth digit is read when an accepted
 * digit's box overlaps it with IoU >= 0.5 and the label is right (each reading matches at most one
 * truth digit); precision is the share of accepted digits that read a truth digit; a number is
 * read exactly when a reading has the same text and its box overlaps with IoU >= 0.5. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "recog.h"
#include "vis.h"

static const char *const HELP =
    "usage: digits scan-eval [options] TRUTH.jsonl\n"
    "Score digits scan against a truth file (tools/scenegen, make scenes).\n"
    "  --model FILE          model (default <root>/models/robust.safetensors)\n"
    "  --min-confidence X    as for scan (default 0.5)\n"
    "  --window N            threshold window in pixels (default 0: a twelfth of the shorter "
    "side)\n"
    "  --k X                 threshold normalisation weight (default 0.6)\n"
    "  --verbose             one line per image\n";

static double iou(const int a[4], const struct rec_box *b)
{
    const int x0 = a[0] > b->x ? a[0] : b->x, y0 = a[1] > b->y ? a[1] : b->y;
    const int x1 = a[0] + a[2] < b->x + b->w ? a[0] + a[2] : b->x + b->w;
    const int y1 = a[1] + a[3] < b->y + b->h ? a[1] + a[3] : b->y + b->h;
    if (x1 <= x0 || y1 <= y0)
        return 0.0;
    const double inter = (double)(x1 - x0) * (y1 - y0);
    return inter / ((double)a[2] * a[3] + (double)b->w * b->h - inter);
}

static int read_box(const struct dg_json *doc, const struct dg_json_node *o, int box[4])
{
    const struct dg_json_node *b = dg_json_get(doc, o, "box");
    if (!b || b->type != DG_JSON_ARRAY || b->n_children != 4)
        return -1;
    const struct dg_json_node *e = dg_json_child(doc, b);
    for (int i = 0; i < 4; i++, e = dg_json_next(doc, e)) {
        if (e->type != DG_JSON_NUMBER)
            return -1;
        box[i] = (int)e->num;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_scan_eval(int argc, char **argv)
{
    const char *cmd = "scan-eval";
    const char *model_path = cli_default_model();
    int verbose = 0;
    struct rec_params params;
    rec_default_params(&params);
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},   {"min-confidence", 1, 0, 'c'},
        {"verbose", 0, 0, 'v'}, {"window", 1, 0, 'w'},
        {"k", 1, 0, 'k'},       {"help", 0, 0, 'h'},
        {0, 0, 0, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'v': verbose = 1; break;
        case 'w': {
            long v;
            if (cli_parse_long(optarg, 0, 4096, &v))
                return cli_usage(cmd, "--window wants a whole number from 0 to 4096, not '%s'",
                                 optarg);
            params.threshold.window = (int)v;
            break;
        }
        case 'k': {
            double v;
            if (cli_parse_double(optarg, 0.01, 0.99, &v))
                return cli_usage(cmd, "--k wants a number from 0.01 to 0.99, not '%s'", optarg);
            params.threshold.k = (float)v;
            break;
        }
        case 'c': {
            double v;
            if (cli_parse_double(optarg, 0.0, 1.0, &v))
                return cli_usage(cmd, "--min-confidence wants a number from 0 to 1, not '%s'",
                                 optarg);
            params.min_confidence = (float)v;
            break;
        }
        case 'h': fputs(HELP, stdout); return 0;
        case ':':
            return cli_usage(cmd, "%s needs a value (see digits scan-eval --help)",
                             argv[optind - 1]);
        default:
            return cli_usage(cmd, "unknown option '%s' (see digits scan-eval --help)",
                             argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage(cmd, "name one truth file (see digits scan-eval --help)");
    const char *truth_path = argv[optind];
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", truth_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");

    FILE *f = fopen(truth_path, "r");
    if (!f)
        return cli_fail(cmd, "cannot open %s (make one with make scenes)", truth_path);
    nn_set_threads(1);
    struct nn_model *m;
    if (cli_load_model(cmd, model_path, &m, NULL)) {
        fclose(f);
        return 1;
    }
    struct rec_scanner *sc = NULL;
    struct rec_result *r = malloc(sizeof *r);
    double *ms = malloc(100000 * sizeof *ms);
    if (!r || !ms || rec_scanner_new(m, &params, &sc) != DG_OK) {
        fclose(f), free(r), free(ms), nn_model_free(m);
        return cli_fail(cmd, "%s", dg_errmsg());
    }
    long t_digits = 0, t_read = 0, p_digits = 0, p_right = 0, t_numbers = 0, n_read = 0;
    int n_img = 0, status = 0, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0 && n_img < 100000) {
        lineno++;
        struct dg_json *doc;
        if (dg_json_parse(line, (size_t)len, &doc) != DG_OK) {
            status = cli_fail(cmd, "%s line %d: %s", truth_path, lineno, dg_errmsg());
            break;
        }
        const struct dg_json_node *root = dg_json_root(doc);
        const struct dg_json_node *name = dg_json_get(doc, root, "image");
        const struct dg_json_node *digits = dg_json_get(doc, root, "digits");
        const struct dg_json_node *numbers = dg_json_get(doc, root, "numbers");
        if (!name || name->type != DG_JSON_STRING || !digits || !numbers) {
            dg_json_free(doc);
            status =
                cli_fail(cmd, "%s line %d: needs image, digits and numbers", truth_path, lineno);
            break;
        }
        char path[8300];
        snprintf(path, sizeof path, "%s/%s", dir, name->str);
        struct vis_image img;
        if (vis_image_load(path, &img) != DG_OK) {
            dg_json_free(doc);
            status = cli_fail(cmd, "%s", dg_errmsg());
            break;
        }
        const double t0 = dg_now();
        int rc = rec_scan(sc, &img, r);
        ms[n_img++] = (dg_now() - t0) * 1e3;
        vis_image_destroy(&img);
        if (rc != DG_OK) {
            dg_json_free(doc);
            status = cli_fail(cmd, "%s: %s", path, dg_errmsg());
            break;
        }
        uint8_t used[REC_MAX_CANDIDATES] = {0};
        long img_t = 0, img_read = 0;
        for (const struct dg_json_node *d = dg_json_child(doc, digits); d;
             d = dg_json_next(doc, d)) {
            int box[4];
            const struct dg_json_node *lab = dg_json_get(doc, d, "digit");
            if (read_box(doc, d, box) || !lab || lab->type != DG_JSON_NUMBER)
                continue;
            img_t++;
            int best = -1;
            double best_iou = 0.5;
            for (int i = 0; i < r->n_digits; i++) {
                const double v = iou(box, &r->digits[i].box);
                if (!used[i] && v >= best_iou && r->digits[i].digit == (int)lab->num) {
                    best = i;
                    best_iou = v;
                }
            }
            if (best >= 0) {
                used[best] = 1;
                img_read++;
            }
        }
        t_digits += img_t;
        t_read += img_read;
        p_digits += r->n_digits;
        p_right += img_read;
        long img_nt = 0, img_nr = 0;
        uint8_t nused[REC_MAX_CANDIDATES] = {0};
        for (const struct dg_json_node *nb = dg_json_child(doc, numbers); nb;
             nb = dg_json_next(doc, nb)) {
            int box[4];
            const struct dg_json_node *text = dg_json_get(doc, nb, "text");
            if (read_box(doc, nb, box) || !text || text->type != DG_JSON_STRING)
                continue;
            img_nt++;
            for (int i = 0; i < r->n_numbers; i++)
                if (!nused[i] && !strcmp(r->numbers[i].text, text->str) &&
                    iou(box, &r->numbers[i].box) >= 0.5) {
                    nused[i] = 1;
                    img_nr++;
                    break;
                }
        }
        t_numbers += img_nt;
        n_read += img_nr;
        if (verbose)
            printf("%s: digits %ld/%ld read, %d readings, numbers %ld/%ld, %.1f ms\n", name->str,
                   img_read, img_t, r->n_digits, img_nr, img_nt, ms[n_img - 1]);
        dg_json_free(doc);
    }
    free(line);
    fclose(f);
    if (status == 0 && n_img > 0) {
        qsort(ms, (size_t)n_img, sizeof *ms, cmp_double);
        printf(
            "%d images: digits read %.2f%% (%ld of %ld), precision %.2f%% (%ld of %ld readings), "
            "numbers read exactly %.2f%% (%ld of %ld); %.1f ms median, %.1f ms p99 per image\n",
            n_img, 100.0 * t_read / (t_digits ? t_digits : 1), t_read, t_digits,
            100.0 * p_right / (p_digits ? p_digits : 1), p_right, p_digits,
            100.0 * n_read / (t_numbers ? t_numbers : 1), n_read, t_numbers, ms[n_img / 2],
            ms[(int)(0.99 * (n_img - 1))]);
    } else if (status == 0) {
        status = cli_fail(cmd, "%s names no images", truth_path);
    }
    free(r), free(ms);
    rec_scanner_free(sc);
    nn_model_free(m);
    return status;
}
