/* bench_scan.c - the whole scan pipeline on whole frames, one thread: for each image given, the
 * numbers read (so bench/compare_scan.py can check them against the generator's truth first),
 * then the time per frame over every image and repeat: median and p99; then the median of each
 * segmentation stage run alone on the same frames (threshold, line removal, box removal,
 * components), so the rest of the frame's time is the candidates and the network.
 * --live reads as digits live does (rec_live_params: lone 1s rejected, stage 7's readings kept at
 * 0.999; no answers reused, since the images are not frames of one video), --quick without stage
 * 7 (`digits live --quick`, the browser); by default as digits scan does (rec_default_params).
 * --no-wide leaves stage 8 out (wide strokes), --no-boxes stage 1b (printed boxes), to measure
 * what they cost.
 * Usage: bench_scan [--live] [--quick] [--no-wide] [--no-boxes] MODEL REPEATS IMAGE... */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "recog.h"
#include "vis.h"

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return t[n / 2];
}

/* Each segmentation stage alone, as rec_scan calls it, over every frame and repeat (t: room for
 * 4 * n_img * repeats). */
static int stage_times(const struct rec_params *p, const struct vis_image *img, int n_img,
                       int repeats, double *t)
{
    struct vis_work *wk;
    struct vis_image mask = {0};
    int rc = vis_work_new(&wk), n = 0;
    const int per = n_img * repeats;
    for (int rep = 0; rc == DG_OK && rep < repeats; rep++)
        for (int i = 0; rc == DG_OK && i < n_img; i++) {
            const int W = img[i].w, H = img[i].h;
            const struct vis_component *comp;
            int n_comp;
            const double t0 = dg_now();
            rc = vis_threshold(&img[i], &p->threshold, wk, &mask, NULL);
            const double t1 = dg_now();
            if (rc == DG_OK)
                rc = vis_remove_lines(&mask, wk, (int)(p->line_frac * W), (int)(p->line_frac * H),
                                      p->line_thickness);
            const double t2 = dg_now();
            if (rc == DG_OK)
                rc = vis_remove_boxes(&mask, wk, p->box_side, p->line_thickness);
            const double t3 = dg_now();
            if (rc == DG_OK)
                rc = vis_components(&mask, wk, NULL, &comp, &n_comp); /* runs only, as rec_scan */
            const double t4 = dg_now();
            t[n] = (t1 - t0) * 1e3;
            t[per + n] = (t2 - t1) * 1e3;
            t[2 * per + n] = (t3 - t2) * 1e3;
            t[3 * per + n] = (t4 - t3) * 1e3;
            n++;
        }
    if (rc == DG_OK)
        printf("stages_median_ms threshold %.3f lines %.3f boxes %.3f components %.3f\n",
               median(t, per), median(t + per, per), median(t + 2 * per, per),
               median(t + 3 * per, per));
    vis_image_destroy(&mask);
    vis_work_free(wk);
    return rc;
}

int main(int argc, char **argv)
{
    int live = 0, quick = 0, wide = 1, boxes = 1;
    while (argc > 1 && (!strcmp(argv[1], "--live") || !strcmp(argv[1], "--quick") ||
                        !strcmp(argv[1], "--no-wide") || !strcmp(argv[1], "--no-boxes"))) {
        live |= !strcmp(argv[1], "--live");
        quick |= !strcmp(argv[1], "--quick");
        if (!strcmp(argv[1], "--no-wide"))
            wide = 0;
        if (!strcmp(argv[1], "--no-boxes"))
            boxes = 0;
        argc--, argv++;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: bench_scan [--live] [--quick] [--no-wide] [--no-boxes] MODEL "
                        "REPEATS IMAGE...\n");
        return 2;
    }
    const int repeats = atoi(argv[2]), n_img = argc - 3;
    if (repeats < 1) {
        fprintf(stderr, "bench_scan: REPEATS must be at least 1\n");
        return 2;
    }
    nn_set_threads(1);
    struct nn_model *m;
    if (nn_model_load(argv[1], &m, NULL, NULL) != DG_OK) {
        fprintf(stderr, "bench_scan: %s\n", dg_errmsg());
        return 1;
    }
    struct rec_params p;
    if (live) {
        rec_live_params(&p);
        p.reuse = 0.0f;
    } else {
        rec_default_params(&p);
    }
    if (quick)
        rec_params_look_once(&p);
    if (!wide)
        p.wide_stroke = 0.0f;
    if (!boxes)
        p.box_side = 0;
    struct rec_scanner *sc;
    struct rec_result *r = malloc(sizeof *r);
    struct vis_image *img = calloc((size_t)n_img, sizeof *img);
    double *t = malloc(4 * (size_t)n_img * repeats * sizeof *t);
    if (!r || !img || !t || rec_scanner_new(m, &p, &sc) != DG_OK) {
        fprintf(stderr, "bench_scan: out of memory\n");
        return 1;
    }
    long inputs = 0, asked = 0;
    for (int i = 0; i < n_img; i++) {
        if (vis_image_load(argv[3 + i], &img[i]) != DG_OK) {
            fprintf(stderr, "bench_scan: %s\n", dg_errmsg());
            return 1;
        }
        if (rec_scan(sc, &img[i], r) != DG_OK) { /* also the warm-up */
            fprintf(stderr, "bench_scan: %s\n", dg_errmsg());
            return 1;
        }
        int n_in, n_ctx, unused;
        rec_scanner_counts(sc, &n_in, &unused);
        rec_scanner_context_counts(sc, &n_ctx, &unused);
        inputs += n_in, asked += n_ctx;
        printf("read %s", argv[3 + i]);
        for (int k = 0; k < r->n_numbers; k++)
            printf(" %s", r->numbers[k].text);
        printf("\n");
    }
    int n = 0;
    for (int rep = 0; rep < repeats; rep++)
        for (int i = 0; i < n_img; i++) {
            const double t0 = dg_now();
            rec_scan(sc, &img[i], r);
            t[n++] = (dg_now() - t0) * 1e3;
        }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("scan_median_ms %.3f ms (%d frames x %d repeats)\n", t[n / 2], n_img, repeats);
    printf("scan_p99_ms %.3f ms\n", t[(size_t)n * 99 / 100]);
    printf("network_inputs_per_frame %.1f digit network, %.1f context network\n",
           (double)inputs / n_img, (double)asked / n_img);
    if (stage_times(&p, img, n_img, repeats, t) != DG_OK) {
        fprintf(stderr, "bench_scan: %s\n", dg_errmsg());
        return 1;
    }
    for (int i = 0; i < n_img; i++)
        vis_image_destroy(&img[i]);
    free(img);
    free(t);
    free(r);
    rec_scanner_free(sc);
    nn_model_free(m);
    return 0;
}
