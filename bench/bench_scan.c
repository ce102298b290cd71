/* bench_scan.c - the whole scan pipeline on whole frames, one thread: for each image given, the
 * numbers read (so bench/compare_scan.py can check them against the generator's truth first),
 * then the time per frame over every image and repeat: median and p99.
 * Usage: bench_scan MODEL REPEATS IMAGE... */
#include <stdio.h>
#include <stdlib.h>

#include "nn.h"
#include "recog.h"
#include "vis.h"

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_scan MODEL REPEATS IMAGE...\n");
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
    rec_default_params(&p);
    struct rec_scanner *sc;
    struct rec_result *r = malloc(sizeof *r);
    struct vis_image *img = calloc((size_t)n_img, sizeof *img);
    double *t = malloc((size_t)n_img * repeats * sizeof *t);
    if (!r || !img || !t || rec_scanner_new(m, &p, &sc) != DG_OK) {
        fprintf(stderr, "bench_scan: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n_img; i++) {
        if (vis_image_load(argv[3 + i], &img[i]) != DG_OK) {
            fprintf(stderr, "bench_scan: %s\n", dg_errmsg());
            return 1;
        }
        if (rec_scan(sc, &img[i], r) != DG_OK) { /* also the warm-up */
            fprintf(stderr, "bench_scan: %s\n", dg_errmsg());
            return 1;
        }
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
    for (int i = 0; i < n_img; i++)
        vis_image_destroy(&img[i]);
    free(img);
    free(t);
    free(r);
    rec_scanner_free(sc);
    nn_model_free(m);
    return 0;
}
