/* predict.c - `digits predict`: classify image files that each hold one handwritten digit, after
 * the same MNIST normalisation the scanner uses. A bad file is reported and the rest still run;
 * the exit status is 1 if any failed. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "vis.h"

static const char *const HELP =
    "usage: digits predict [options] IMAGE...\n"
    "Read the digit in each image (PNG, JPEG, PGM, BMP; any size, either polarity).\n"
    "  --model FILE          model (default <root>/models/robust.safetensors)\n"
    "  --json                one JSON line per image: image, digit, confidence, top3, and\n"
    "                        not_digit (the probability it is no digit) and two_digits (that it\n"
    "                        is two digits touching) for a model that has them\n"
    "  --polarity auto|dark|light   ink darker or lighter than the paper (default auto)\n"
    "  --save-input FILE.png write the 28x28 input the network saw (one image only)\n";

int cmd_predict(int argc, char **argv)
{
    const char *cmd = "predict";
    const char *model_path = cli_default_model(), *save_input = NULL;
    int json = 0;
    enum vis_polarity pol = VIS_POLARITY_AUTO;
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},      {"json", 0, 0, 'j'}, {"polarity", 1, 0, 'p'},
        {"save-input", 1, 0, 's'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'j': json = 1; break;
        case 's': save_input = optarg; break;
        case 'p':
            if (cli_parse_polarity(optarg, &pol))
                return cli_usage(cmd, "--polarity wants auto, dark or light, not '%s'", optarg);
            break;
        case 'h': fputs(HELP, stdout); return 0;
        case ':':
            return cli_usage(cmd, "%s needs a value (see digits predict --help)", argv[optind - 1]);
        default:
            return cli_usage(cmd, "unknown option '%s' (see digits predict --help)",
                             argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage(cmd, "name at least one image (see digits predict --help)");
    if (save_input && argc - optind != 1)
        return cli_usage(cmd, "--save-input works with one image at a time");

    struct nn_model *m;
    struct nn_infer *inf;
    if (cli_load_model(cmd, model_path, &m, NULL))
        return 1;
    if (nn_infer_new(m, 1, &inf) != DG_OK) {
        nn_model_free(m);
        return cli_fail(cmd, "%s", dg_errmsg());
    }
    int failed = 0;
    for (int a = optind; a < argc; a++) {
        const char *path = argv[a];
        struct vis_image img;
        float x[784];
        if (vis_image_load(path, &img) != DG_OK) {
            cli_fail(cmd, "%s", dg_errmsg());
            failed = 1;
            continue;
        }
        int rc = vis_mnist_normalize(&img, pol, x);
        vis_image_destroy(&img);
        if (rc != DG_OK) {
            cli_fail(cmd, "%s: %s", path, dg_errmsg());
            failed = 1;
            continue;
        }
        if (save_input) {
            uint8_t px[784];
            for (int i = 0; i < 784; i++)
                px[i] = (uint8_t)(x[i] * 255.0f + 0.5f);
            if (vis_png_write(save_input, px, 28, 28, 1) != DG_OK) {
                cli_fail(cmd, "%s", dg_errmsg());
                failed = 1;
            }
        }
        const float *p = nn_infer_run(inf, x, 1);
        /* a model with an 11th output says how likely the image is not a digit at all, one
         * with a 12th how likely it is two digits touching */
        const int junk = m->n_classes > 10, two = m->n_classes > 11;
        int top[3] = {-1, -1, -1};
        for (int k = 0; k < 3; k++)
            for (int d = 0; d < 10; d++) {
                if (d == top[0] || d == top[1])
                    continue;
                if (top[k] < 0 || p[d] > p[top[k]])
                    top[k] = d;
            }
        if (json) {
            struct dg_jw w;
            dg_jw_init(&w, 0);
            dg_jw_object(&w);
            dg_jw_key(&w, "image");
            dg_jw_str(&w, path);
            dg_jw_key(&w, "digit");
            dg_jw_int(&w, top[0]);
            dg_jw_key(&w, "confidence");
            dg_jw_num(&w, p[top[0]], 4);
            dg_jw_key(&w, "top3");
            dg_jw_array(&w);
            for (int k = 0; k < 3; k++) {
                dg_jw_array(&w);
                dg_jw_int(&w, top[k]);
                dg_jw_num(&w, p[top[k]], 4);
                dg_jw_end(&w);
            }
            dg_jw_end(&w);
            if (junk) {
                dg_jw_key(&w, "not_digit");
                dg_jw_num(&w, p[10], 4);
            }
            if (two) {
                dg_jw_key(&w, "two_digits");
                dg_jw_num(&w, p[11], 4);
            }
            dg_jw_end(&w);
            cli_put_json(&w);
            dg_jw_free(&w);
        } else {
            printf("%s: %d (%.1f%%)   top 3: %d %.1f%%, %d %.1f%%, %d %.1f%%", path, top[0],
                   100.0 * p[top[0]], top[0], 100.0 * p[top[0]], top[1], 100.0 * p[top[1]], top[2],
                   100.0 * p[top[2]]);
            if (junk)
                printf("; not a digit %.1f%%", 100.0 * p[10]);
            if (two)
                printf("; two digits %.1f%%", 100.0 * p[11]);
            putchar('\n');
        }
    }
    nn_infer_free(inf);
    nn_model_free(m);
    return failed;
}
