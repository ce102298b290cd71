/* eval.c - `digits eval`: accuracy, per-class accuracy and the confusion matrix of a model on an
 * IDX image/label pair (MNIST's test set by default), as text or JSON, and a contact sheet of the
 * misclassified digits; with --corrupt, a robustness table of two models side by side under
 * generated corruptions of the same images. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "json.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "vis.h"

static const char *const HELP =
    "usage: digits eval [options]\n"
    "Measure a model on MNIST's test set (or any IDX image/label pair).\n"
    "  --model FILE        model (default <root>/models/robust.safetensors)\n"
    "  --data DIR          MNIST directory holding t10k-* files (default <root>/data/mnist)\n"
    "  --images IDX        image file instead of DIR's test images (raw or .gz)\n"
    "  --labels IDX        label file to go with --images\n"
    "  --json              print one JSON object: accuracy, n, per_class, confusion\n"
    "  --errors FILE.png   write a contact sheet of the misclassified digits (true>predicted)\n"
    "  --threads N         threads (default: all cores)\n"
    "  --corrupt KIND|all  accuracy under a corruption of every image instead: clean, blur,\n"
    "                      noise, thick, thin, rotate, shift, scale, contrast, elastic, small\n"
    "                      (seen 10-14 px tall by a webcam and cropped as scan does), or all;\n"
    "                      a table of --model beside --compare\n"
    "  --compare FILE      the second model of the table (default <root>/models/"
    "reference.safetensors;\n"
    "                      'none' for one column)\n";

/* dst = src with corruption kind applied to every image, each from its own seeded stream (the
 * same images for every model and run). dst owns its memory. */
static int corrupt_set(const struct data_set *src, int kind, struct data_set *dst)
{
    const size_t px = (size_t)src->rows * src->cols;
    *dst = *src;
    dst->images = malloc((size_t)src->n * px);
    dst->labels = malloc((size_t)src->n);
    if (!dst->images || !dst->labels) {
        data_set_free(dst);
        return dg_fail(DG_ENOMEM, "out of memory");
    }
    memcpy(dst->labels, src->labels, (size_t)src->n);
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int i = 0; i < src->n; i++) {
        float in[DATA_AUG_MAX_SIDE * DATA_AUG_MAX_SIDE], out[DATA_AUG_MAX_SIDE * DATA_AUG_MAX_SIDE];
        for (size_t j = 0; j < px; j++)
            in[j] = src->images[(size_t)i * px + j] / 255.0f;
        struct dg_rng rng;
        dg_rng_seed(&rng, data_augment_seed(20261125, (uint64_t)kind, (uint64_t)i));
        bad |= data_corrupt_image(out, in, src->cols, src->rows, kind, &rng) != DG_OK;
        for (size_t j = 0; j < px; j++)
            dst->images[(size_t)i * px + j] = (uint8_t)(out[j] * 255.0f + 0.5f);
    }
    if (bad) {
        data_set_free(dst);
        return dg_fail(DG_EARG, "images of %dx%d cannot be corrupted (at most %d a side)",
                       src->cols, src->rows, DATA_AUG_MAX_SIDE);
    }
    return DG_OK;
}

/* The --corrupt table: one row per corruption, one column per model. */
static int corrupt_table(const char *cmd, const char *kind, struct nn_model *const *models,
                         const char *const *names, int n_models, const struct data_set *s, int json)
{
    int first = 0, last = DATA_N_CORRUPTIONS - 1;
    if (strcmp(kind, "all") != 0) {
        first = last = data_corruption_find(kind);
        if (first < 0)
            return cli_usage(cmd,
                             "--corrupt wants all, clean, blur, noise, thick, thin, rotate, "
                             "shift, scale, contrast or elastic, not '%s'",
                             kind);
    }
    double sum[2] = {0, 0};
    int n_rows = 0;
    struct dg_jw w;
    dg_jw_init(&w, 0);
    if (json) {
        dg_jw_object(&w);
        dg_jw_key(&w, "models");
        dg_jw_array(&w);
        for (int k = 0; k < n_models; k++)
            dg_jw_str(&w, names[k]);
        dg_jw_end(&w);
        dg_jw_key(&w, "n");
        dg_jw_int(&w, s->n);
        dg_jw_key(&w, "rows");
        dg_jw_array(&w);
    } else {
        printf("%-10s", "corruption");
        for (int k = 0; k < n_models; k++)
            printf("  %12.12s", names[k]);
        printf("\n");
    }
    for (int kd = first; kd <= last; kd++) {
        struct data_set c;
        if (corrupt_set(s, kd, &c) != DG_OK) {
            dg_jw_free(&w);
            return cli_fail(cmd, "%s", dg_errmsg());
        }
        double acc[2];
        for (int k = 0; k < n_models; k++) {
            int correct = cli_classify(models[k], &c, NULL, NULL);
            if (correct < 0) {
                data_set_free(&c);
                dg_jw_free(&w);
                return cli_fail(cmd, "%s", dg_errmsg());
            }
            acc[k] = (double)correct / c.n;
            if (kd != DATA_CLEAN)
                sum[k] += acc[k];
        }
        data_set_free(&c);
        n_rows += kd != DATA_CLEAN;
        if (json) {
            dg_jw_object(&w);
            dg_jw_key(&w, "corruption");
            dg_jw_str(&w, data_corruption_names[kd]);
            dg_jw_key(&w, "accuracy");
            dg_jw_array(&w);
            for (int k = 0; k < n_models; k++)
                dg_jw_num(&w, acc[k], 4);
            dg_jw_end(&w);
            dg_jw_end(&w);
        } else {
            printf("%-10s", data_corruption_names[kd]);
            for (int k = 0; k < n_models; k++)
                printf("  %11.2f%%", 100.0 * acc[k]);
            printf("\n");
        }
        fflush(stdout);
    }
    if (json) {
        dg_jw_end(&w);
        dg_jw_end(&w);
        cli_put_json(&w);
    } else if (n_rows > 1) {
        printf("%-10s", "mean");
        for (int k = 0; k < n_models; k++)
            printf("  %11.2f%%", 100.0 * sum[k] / n_rows);
        printf("   (of the %d corruptions)\n", n_rows);
    }
    dg_jw_free(&w);
    return 0;
}

/* "models/robust.safetensors" -> "robust" (into buf). */
static const char *short_name(const char *path, char *buf, size_t n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base) < n - 1 ? strlen(base) : n - 1; /* long names are cut */
    memcpy(buf, base, len);
    buf[len] = '\0';
    char *dot = strstr(buf, ".safetensors");
    if (dot)
        *dot = '\0';
    return buf;
}

/* Tiles of 2x-scaled digits with "true>pred" under each, 20 per row, at most 400 tiles. */
static int write_errors(const char *path, const struct data_set *s, const uint8_t *pred)
{
    enum { PER_ROW = 20, SCALE = 2, TILE_W = 28 * SCALE + 4, TILE_H = 28 * SCALE + 16, MAX = 400 };
    int n_err = 0;
    for (int i = 0; i < s->n; i++)
        n_err += pred[i] != s->labels[i];
    int shown = n_err < MAX ? n_err : MAX;
    int cols = shown < PER_ROW ? (shown ? shown : 1) : PER_ROW;
    int rows = (shown + PER_ROW - 1) / PER_ROW;
    rows = rows ? rows : 1;
    int w = cols * TILE_W, h = rows * TILE_H;
    uint8_t *rgb = calloc((size_t)w * h * 3, 1);
    if (!rgb)
        return dg_fail(DG_ENOMEM, "out of memory");
    memset(rgb, 40, (size_t)w * h * 3);
    static const uint8_t white[3] = {255, 255, 255};
    int k = 0;
    for (int i = 0; i < s->n && k < shown; i++) {
        if (pred[i] == s->labels[i])
            continue;
        int tx = (k % PER_ROW) * TILE_W + 2, ty = (k / PER_ROW) * TILE_H + 2;
        const uint8_t *img = s->images + (size_t)i * 784;
        for (int y = 0; y < 28 * SCALE; y++)
            for (int x = 0; x < 28 * SCALE; x++) {
                uint8_t v = img[(y / SCALE) * 28 + x / SCALE];
                memset(rgb + ((size_t)(ty + y) * w + tx + x) * 3, v, 3);
            }
        char label[8];
        snprintf(label, sizeof label, "%d>%d", s->labels[i], pred[i]);
        vis_draw_text(rgb, w, h, tx + 10, ty + 28 * SCALE + 3, label, 2, white);
        k++;
    }
    int rc = vis_png_write(path, rgb, w, h, 3);
    free(rgb);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    const char *cmd = "eval";
    const char *model_path = cli_default_model(), *data = cli_default_data();
    const char *images = NULL, *labels = NULL, *errors = NULL, *corrupt = NULL, *compare = NULL;
    int json = 0;
    long threads = 0;
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},   {"data", 1, 0, 'd'}, {"images", 1, 0, 'i'},
        {"labels", 1, 0, 'l'},  {"json", 0, 0, 'j'}, {"errors", 1, 0, 'e'},
        {"threads", 1, 0, 't'}, {"help", 0, 0, 'h'}, {"corrupt", 1, 0, 'c'},
        {"compare", 1, 0, 'C'}, {0, 0, 0, 0},
    };
    opterr = 0;
    int c, bad;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'd': data = optarg; break;
        case 'i': images = optarg; break;
        case 'l': labels = optarg; break;
        case 'j': json = 1; break;
        case 'e': errors = optarg; break;
        case 'c': corrupt = optarg; break;
        case 'C': compare = optarg; break;
        case 't':
            if ((bad = cli_whole_option(cmd, "--threads", optarg, 1, 256, &threads)))
                return bad;
            break;
        case 'h': fputs(HELP, stdout); return 0;
        case ':':
            return cli_usage(cmd, "%s needs a value (see digits eval --help)", argv[optind - 1]);
        default:
            return cli_usage(cmd, "unknown option '%s' (see digits eval --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument '%s' (see digits eval --help)", argv[optind]);
    if (!images != !labels)
        return cli_usage(cmd, "--images and --labels go together");
    if (compare && !corrupt)
        return cli_usage(cmd, "--compare goes with --corrupt");
    if (corrupt && errors)
        return cli_usage(cmd, "--errors does not go with --corrupt");
    if (corrupt && strcmp(corrupt, "all") && data_corruption_find(corrupt) < 0)
        return cli_usage(cmd,
                         "--corrupt wants all, clean, blur, noise, thick, thin, rotate, shift, "
                         "scale, contrast or elastic, not '%s'",
                         corrupt);
    nn_set_threads((int)threads);

    struct nn_model *m;
    struct data_set s = {0};
    if (cli_load_model(cmd, model_path, &m, NULL))
        return 1;
    if (images ? data_load_pair(images, labels, &s) != DG_OK
               : cli_load_mnist(cmd, data, "t10k", &s) != 0) {
        if (images)
            cli_fail(cmd, "%s", dg_errmsg());
        nn_model_free(m);
        return 1;
    }
    int status = 1;
    uint8_t *pred = malloc((size_t)s.n);
    if (s.rows != 28 || s.cols != 28) {
        cli_fail(cmd, "the images are %dx%d; the model needs 28x28", s.rows, s.cols);
        goto done;
    }
    if (corrupt) {
        static char ref_path[4200];
        snprintf(ref_path, sizeof ref_path, "%s/models/reference.safetensors", cli_root());
        if (!compare)
            compare = ref_path;
        struct nn_model *models[2] = {m, NULL};
        char n0[256], n1[256];
        const char *names[2] = {short_name(model_path, n0, sizeof n0), NULL};
        int n_models = 1;
        if (strcmp(compare, "none") != 0) {
            if (cli_load_model(cmd, compare, &models[1], NULL))
                goto done;
            names[1] = short_name(compare, n1, sizeof n1);
            n_models = 2;
        }
        status = corrupt_table(cmd, corrupt, models, names, n_models, &s, json);
        nn_model_free(models[1]);
        goto done;
    }
    const double t0 = dg_now();
    int correct = pred ? cli_classify(m, &s, pred, NULL) : -1;
    const double secs = dg_now() - t0;
    if (correct < 0) {
        cli_fail(cmd, "out of memory");
        goto done;
    }
    long conf[10][10] = {{0}}, per[10] = {0};
    for (int i = 0; i < s.n; i++) {
        conf[s.labels[i]][pred[i]]++;
        per[s.labels[i]]++;
    }
    const double acc = (double)correct / s.n;
    if (json) {
        struct dg_jw w;
        dg_jw_init(&w, 0);
        dg_jw_object(&w);
        dg_jw_key(&w, "model");
        dg_jw_str(&w, m->spec);
        dg_jw_key(&w, "accuracy");
        dg_jw_num(&w, acc, 6);
        dg_jw_key(&w, "n");
        dg_jw_int(&w, s.n);
        dg_jw_key(&w, "seconds");
        dg_jw_num(&w, secs, 3);
        dg_jw_key(&w, "per_class");
        dg_jw_array(&w);
        for (int d = 0; d < 10; d++)
            dg_jw_num(&w, per[d] ? (double)conf[d][d] / per[d] : 0.0, 6);
        dg_jw_end(&w);
        dg_jw_key(&w, "confusion");
        dg_jw_array(&w);
        for (int d = 0; d < 10; d++) {
            dg_jw_array(&w);
            for (int p = 0; p < 10; p++)
                dg_jw_int(&w, conf[d][p]);
            dg_jw_end(&w);
        }
        dg_jw_end(&w);
        dg_jw_end(&w);
        cli_put_json(&w);
        dg_jw_free(&w);
    } else {
        printf("model %s (%zu parameters)\n", model_path, m->n_params);
        printf("accuracy %.2f%% (%d of %d), %.2f s\n", 100.0 * acc, correct, s.n, secs);
        printf("per class:");
        for (int d = 0; d < 10; d++)
            printf(" %d:%.2f%%", d, per[d] ? 100.0 * conf[d][d] / per[d] : 0.0);
        printf("\nconfusion (rows: true digit, columns: predicted)\n     ");
        for (int p = 0; p < 10; p++)
            printf("%6d", p);
        printf("\n");
        for (int d = 0; d < 10; d++) {
            printf("  %d: ", d);
            for (int p = 0; p < 10; p++)
                printf("%6ld", conf[d][p]);
            printf("\n");
        }
    }
    if (errors) {
        if (write_errors(errors, &s, pred) != DG_OK) {
            cli_fail(cmd, "cannot write %s: %s", errors, dg_errmsg());
            goto done;
        }
        if (!json)
            printf("wrote %d misclassified digits to %s\n", s.n - correct, errors);
    }
    status = 0;
done:
    free(pred);
    data_set_free(&s);
    nn_model_free(m);
    return status;
}
