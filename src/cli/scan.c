/* scan.c - `digits scan`: find and read every digit and number in image files. One line per
 * number (or one JSON line per image), an optional annotated copy, and a per-image error that
 * does not stop the other images. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "recog.h"
#include "vis.h"

static const char *const HELP =
    "usage: digits scan [options] IMAGE...\n"
    "Find and read the handwritten digits and numbers in photos or scans.\n"
    "  --model FILE           model (default <root>/models/fast.safetensors, which also knows\n"
    "                         what is not a digit)\n"
    "  --json                 one JSON line per image: image, width, height, digits, numbers, ms\n"
    "  --annotate OUT.png     write the image with boxes and readings (OUT-N.png for several)\n"
    "  --min-confidence X     below this a candidate is rejected, not read (default 0.5)\n"
    "  --polarity auto|dark|light   ink darker or lighter than the paper (default auto)\n"
    "  --save-mask OUT.png    write the ink mask the digits were found in (one image only)\n"
    "Images up to 64 megapixels (PNG, JPEG, BMP, PGM, ...).\n";

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        const unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void print_json(const char *path, const struct vis_image *img, const struct rec_result *r,
                       double ms)
{
    printf("{\"image\": ");
    json_string(path);
    printf(", \"width\": %d, \"height\": %d, ", img->w, img->h);
    rec_result_write_json(stdout, r);
    printf(", \"ms\": %.3f}\n", ms);
}

/* Green boxes and digits for readings, red boxes and "?" for rejected candidates, each number's
 * text in blue above it. */
static int annotate(const char *out, const struct vis_image *img, const struct rec_result *r)
{
    uint8_t *rgb = malloc((size_t)img->w * img->h * 3);
    if (!rgb)
        return dg_fail(DG_ENOMEM, "out of memory");
    for (size_t i = 0; i < (size_t)img->w * img->h; i++)
        memset(rgb + 3 * i, img->px[i], 3);
    static const uint8_t green[3] = {0, 200, 0}, red[3] = {230, 0, 0}, blue[3] = {0, 80, 255};
    const int t = img->w > 800 ? 3 : 2;
    for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
        const struct rec_digit *d = &r->digits[i];
        const uint8_t *col = d->digit >= 0 ? green : red;
        vis_draw_rect(rgb, img->w, img->h, d->box.x - t, d->box.y - t, d->box.w + 2 * t,
                      d->box.h + 2 * t, t, col);
        char label[2] = {d->digit >= 0 ? (char)('0' + d->digit) : '?', 0};
        int scale = d->box.h / 12 > 2 ? d->box.h / 12 : 2;
        /* under the box, centred: beside it the label would run into the next digit's box */
        vis_draw_text(rgb, img->w, img->h, d->box.x + d->box.w / 2 - 3 * scale / 2,
                      d->box.y + d->box.h + 2 * t + 2, label, scale, col);
    }
    for (int i = 0; i < r->n_numbers; i++) {
        const struct rec_number *nb = &r->numbers[i];
        int scale = nb->box.h / 10 > 2 ? nb->box.h / 10 : 2;
        vis_draw_text(rgb, img->w, img->h, nb->box.x, nb->box.y - 6 * scale - 2 * t, nb->text,
                      scale, blue);
    }
    int rc = vis_png_write(out, rgb, img->w, img->h, 3);
    free(rgb);
    return rc;
}

int cmd_scan(int argc, char **argv)
{
    const char *cmd = "scan";
    const char *model_path = cli_scan_model(), *annotate_path = NULL, *mask_path = NULL;
    int json = 0;
    struct rec_params params;
    rec_default_params(&params);
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},     {"json", 0, 0, 'j'},
        {"annotate", 1, 0, 'a'},  {"min-confidence", 1, 0, 'c'},
        {"polarity", 1, 0, 'p'},  {"help", 0, 0, 'h'},
        {"save-mask", 1, 0, 's'}, {0, 0, 0, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'j': json = 1; break;
        case 'a': annotate_path = optarg; break;
        case 's': mask_path = optarg; break;
        case 'c': {
            double v;
            if (cli_parse_double(optarg, 0.0, 1.0, &v))
                return cli_usage(cmd, "--min-confidence wants a number from 0 to 1, not '%s'",
                                 optarg);
            params.min_confidence = (float)v;
            break;
        }
        case 'p':
            if (cli_parse_polarity(optarg, &params.threshold.polarity))
                return cli_usage(cmd, "--polarity wants auto, dark or light, not '%s'", optarg);
            break;
        case 'h': fputs(HELP, stdout); return 0;
        case ':':
            return cli_usage(cmd, "%s needs a value (see digits scan --help)", argv[optind - 1]);
        default:
            return cli_usage(cmd, "unknown option '%s' (see digits scan --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage(cmd, "name at least one image (see digits scan --help)");
    if (mask_path && argc - optind != 1)
        return cli_usage(cmd, "--save-mask works with one image at a time");
    nn_set_threads(1);
    struct nn_model *m;
    if (cli_load_model(cmd, model_path, &m, NULL))
        return 1;
    struct rec_scanner *sc = NULL;
    struct rec_result *r = malloc(sizeof *r);
    if (!r || rec_scanner_new(m, &params, &sc) != DG_OK) {
        free(r);
        nn_model_free(m);
        return cli_fail(cmd, "%s", dg_errmsg());
    }
    int failed = 0;
    const int several = argc - optind > 1;
    for (int a = optind; a < argc; a++) {
        const char *path = argv[a];
        struct vis_image img;
        if (vis_image_load(path, &img) != DG_OK) {
            cli_fail(cmd, "%s", dg_errmsg());
            failed = 1;
            continue;
        }
        const double t0 = dg_now();
        int rc = rec_scan(sc, &img, r);
        const double ms = (dg_now() - t0) * 1e3;
        if (rc != DG_OK) {
            cli_fail(cmd, "%s: %s", path, dg_errmsg());
            failed = 1;
        } else if (json) {
            print_json(path, &img, r, ms);
        } else {
            printf("%s: %d number%s, %d digit%s", path, r->n_numbers, r->n_numbers == 1 ? "" : "s",
                   r->n_digits, r->n_digits == 1 ? "" : "s");
            if (r->n_rejected)
                printf(", %d unsure candidate%s rejected", r->n_rejected,
                       r->n_rejected == 1 ? "" : "s");
            printf(" (%.1f ms)\n", ms);
            for (int i = 0; i < r->n_numbers; i++)
                printf("  %s  (confidence %.1f%%)\n", r->numbers[i].text,
                       100.0 * r->numbers[i].confidence);
        }
        if (rc == DG_OK && mask_path) {
            const struct vis_image *mk = rec_scanner_mask(sc);
            if (vis_png_write(mask_path, mk->px, mk->w, mk->h, 1) != DG_OK) {
                cli_fail(cmd, "cannot write %s: %s", mask_path, dg_errmsg());
                failed = 1;
            }
        }
        if (rc == DG_OK && annotate_path) {
            char out[4200];
            const char *dot = strrchr(annotate_path, '.');
            if (several && dot)
                snprintf(out, sizeof out, "%.*s-%d%s", (int)(dot - annotate_path), annotate_path,
                         a - optind + 1, dot);
            else if (several)
                snprintf(out, sizeof out, "%s-%d", annotate_path, a - optind + 1);
            else
                snprintf(out, sizeof out, "%s", annotate_path);
            if (annotate(out, &img, r) != DG_OK) {
                cli_fail(cmd, "cannot write %s: %s", out, dg_errmsg());
                failed = 1;
            }
        }
        vis_image_destroy(&img);
    }
    free(r);
    rec_scanner_free(sc);
    nn_model_free(m);
    return failed;
}
