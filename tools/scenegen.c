/* scenegen.c - renders test scenes for `digits scan`: MNIST *test* digits (never training digits)
 * written as pen or pencil ink on tinted paper under uneven light and a shadow, sometimes ruled or
 * squared, in rows of numbers of 1-5 digits, 25-150 px tall, slightly rotated, then blurred,
 * noised and JPEG-compressed. Writes OUTDIR/scene_NNNN.{jpg,png} and OUTDIR/truth.jsonl, one line
 * per image: {"image": NAME, "width": W, "height": H, "digits": [{"digit": D, "box": [x,y,w,h]}],
 * "numbers": [{"text": "123", "box": [x,y,w,h]}]}. Not done: perspective tilt.
 * usage: scenegen OUTDIR N [SEED] [MNIST_DIR] [SPLIT]
 * SPLIT is t10k (default: the scenes scores are reported on) or train (scenes for tuning the
 * pipeline's parameters, so that the reported scenes' digits are never used for tuning). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb_image_write.h>

#include "data.h"
#include "toolutil.h"
#include "vis.h"

enum { W = 640, H = 480, MAX_DIGITS = 96, MAX_NUMBERS = 32 };

struct box {
    int x, y, w, h;
};

/* Draws digit d so its ink is hgt tall with its top-left near (x, y), rotated by ang; ink is
 * blended into rgb with the given colour and opacity. Returns the ink box. */
static struct box draw_digit(float *rgb, const uint8_t *d, int x, int y, int hgt, float ang,
                             const float ink[3], float opacity)
{
    int bx0 = 28, by0 = 28, bx1 = -1, by1 = -1;
    for (int r = 0; r < 28; r++)
        for (int c = 0; c < 28; c++)
            if (d[r * 28 + c] > 64) {
                bx0 = c < bx0 ? c : bx0, bx1 = c > bx1 ? c : bx1;
                by0 = r < by0 ? r : by0, by1 = r > by1 ? r : by1;
            }
    const float scale = (float)hgt / (by1 - by0 + 1);
    const float cx = (bx0 + bx1 + 1) / 2.0f, cy = (by0 + by1 + 1) / 2.0f; /* digit centre */
    const float half_w = (bx1 - bx0 + 1) * scale / 2, half_h = hgt / 2.0f;
    const float pcx = x + half_w, pcy = y + half_h; /* where that centre goes on the page */
    const float ca = cosf(ang), sa = sinf(ang);
    const int reach = (int)(hypotf(half_w, half_h) + 3);
    struct box b = {W, H, -1, -1};
    for (int py = (int)pcy - reach; py <= (int)pcy + reach; py++)
        for (int px = (int)pcx - reach; px <= (int)pcx + reach; px++) {
            if (px < 0 || py < 0 || px >= W || py >= H)
                continue;
            const float dx = px + 0.5f - pcx, dy = py + 0.5f - pcy;
            const float sx = cx + (ca * dx + sa * dy) / scale - 0.5f;
            const float sy = cy + (-sa * dx + ca * dy) / scale - 0.5f;
            const float v = sample_digit(d, sx, sy);
            if (v <= 0.0f)
                continue;
            const float a = opacity * v;
            float *p = rgb + ((size_t)py * W + px) * 3;
            for (int c = 0; c < 3; c++)
                p[c] = p[c] * (1 - a) + ink[c] * a;
            if (v > 0.25f) {
                b.x = px < b.x ? px : b.x, b.y = py < b.y ? py : b.y;
                b.w = px > b.w ? px : b.w, b.h = py > b.h ? py : b.h; /* x1, y1 for now */
            }
        }
    b.w = b.w - b.x + 1;
    b.h = b.h - b.y + 1;
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: scenegen OUTDIR N [SEED] [MNIST_DIR] [t10k|train]\n");
        return 2;
    }
    const char *out = argv[1];
    const int n_scenes = atoi(argv[2]);
    const unsigned long seed = argc > 3 ? strtoul(argv[3], NULL, 10) : 1;
    const char *mnist = argc > 4 ? argv[4] : "data/mnist";
    const char *split = argc > 5 ? argv[5] : "t10k";
    if (strcmp(split, "t10k") && strcmp(split, "train")) {
        fprintf(stderr, "scenegen: SPLIT is t10k or train, not '%s'\n", split);
        return 2;
    }
    struct data_set s;
    if (data_mnist_load(mnist, split, &s) != DG_OK) {
        fprintf(stderr, "scenegen: %s\n", dg_errmsg());
        return 1;
    }
    mkdir(out, 0755);
    char path[4096];
    snprintf(path, sizeof path, "%s/truth.jsonl", out);
    FILE *truth = fopen(path, "w");
    if (!truth) {
        fprintf(stderr, "scenegen: cannot write %s\n", path);
        return 1;
    }
    int *by_label[10], n_label[10] = {0};
    for (int d = 0; d < 10; d++)
        by_label[d] = malloc((size_t)s.n * sizeof(int));
    for (int i = 0; i < s.n; i++)
        by_label[s.labels[i]][n_label[s.labels[i]]++] = i;
    float *rgb = malloc((size_t)W * H * 3 * sizeof *rgb);
    uint8_t *px = malloc((size_t)W * H * 3);
    struct dg_rng rng;
    dg_rng_seed(&rng, seed);
    for (int sc = 0; sc < n_scenes; sc++) {
        /* Paper: tint, light falling along a random direction, a soft shadow. */
        const float base = urand(&rng, 175, 245);
        const float tint[3] = {urand(&rng, 0.95f, 1.04f), urand(&rng, 0.95f, 1.03f),
                               urand(&rng, 0.88f, 1.02f)};
        const float gdir = urand(&rng, 0, 6.2832f), gamt = urand(&rng, 0.05f, 0.4f);
        const float shx = urand(&rng, 0, W), shy = urand(&rng, 0, H), shr = urand(&rng, 80, 300);
        const float shd = dg_rng_uniform(&rng) < 0.6f ? urand(&rng, 0.1f, 0.35f) : 0.0f;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const float g = ((x - W / 2) * cosf(gdir) + (y - H / 2) * sinf(gdir)) / (W / 2);
                const float r2 = ((x - shx) * (x - shx) + (y - shy) * (y - shy)) / (shr * shr);
                const float light = (1 - gamt * (g + 1) / 2) * (1 - shd * expf(-r2));
                for (int c = 0; c < 3; c++)
                    rgb[((size_t)y * W + x) * 3 + c] = base * tint[c] * light;
            }
        /* Ruled (30%) or squared (15%) paper. */
        const float rule = dg_rng_uniform(&rng);
        if (rule < 0.45f) {
            const int step = (int)urand(&rng, 24, 40);
            const float lc[3] = {140, 160, 215};
            for (int y = step; y < H; y += step)
                for (int x = 0; x < W; x++)
                    for (int c = 0; c < 3; c++) {
                        float *p = &rgb[((size_t)y * W + x) * 3 + c];
                        *p = *p * 0.55f + lc[c] * 0.45f * (*p / 255.0f);
                    }
            if (rule < 0.15f)
                for (int x = step; x < W; x += step)
                    for (int y = 0; y < H; y++)
                        for (int c = 0; c < 3; c++) {
                            float *p = &rgb[((size_t)y * W + x) * 3 + c];
                            *p = *p * 0.55f + lc[c] * 0.45f * (*p / 255.0f);
                        }
        }
        /* Ink: pen (dark blue/black) or pencil (grey, fainter). */
        const int pencil = dg_rng_uniform(&rng) < 0.3f;
        const float ink[3] = {pencil ? 95.0f : urand(&rng, 15, 50),
                              pencil ? 95.0f : urand(&rng, 15, 50),
                              pencil ? 100.0f : urand(&rng, 30, 110)};
        const float opacity = pencil ? urand(&rng, 0.6f, 0.8f) : urand(&rng, 0.85f, 1.0f);
        /* Rows of numbers. */
        struct box dbox[MAX_DIGITS], nbox[MAX_NUMBERS];
        int dlab[MAX_DIGITS], n_d = 0, n_n = 0, nfirst[MAX_NUMBERS], ncount[MAX_NUMBERS];
        int y = (int)urand(&rng, 15, 40);
        while (n_n < MAX_NUMBERS) {
            const int hgt = (int)urand(&rng, 25, dg_rng_uniform(&rng) < 0.7f ? 80 : 150);
            if (y + hgt + 10 > H)
                break;
            int x = (int)urand(&rng, 15, 60);
            for (;;) {
                const int len = 1 + (int)dg_rng_below(&rng, 5);
                if (x + len * hgt > W - 15 || n_d + len > MAX_DIGITS)
                    break;
                nfirst[n_n] = n_d;
                ncount[n_n] = len;
                const int yj = y + (int)urand(&rng, 0, hgt * 0.1f);
                for (int k = 0; k < len; k++) {
                    const int label = (int)dg_rng_below(&rng, 10);
                    const int idx = by_label[label][dg_rng_below(&rng, (uint32_t)n_label[label])];
                    const float ang = urand(&rng, -0.14f, 0.14f);
                    const int hh = (int)(hgt * urand(&rng, 0.9f, 1.1f));
                    struct box b = draw_digit(rgb, s.images + (size_t)idx * 784, x,
                                              yj + (int)(urand(&rng, -0.05f, 0.05f) * hgt), hh, ang,
                                              ink, opacity);
                    dbox[n_d] = b;
                    dlab[n_d++] = label;
                    x = b.x + b.w + (int)(hgt * urand(&rng, 0.08f, 0.3f));
                }
                /* the number's box: union of its digits */
                struct box u = dbox[nfirst[n_n]];
                for (int k = 1; k < len; k++) {
                    const struct box *b = &dbox[nfirst[n_n] + k];
                    const int x1 = u.x + u.w > b->x + b->w ? u.x + u.w : b->x + b->w;
                    const int y1 = u.y + u.h > b->y + b->h ? u.y + u.h : b->y + b->h;
                    u.x = b->x < u.x ? b->x : u.x, u.y = b->y < u.y ? b->y : u.y;
                    u.w = x1 - u.x, u.h = y1 - u.y;
                }
                nbox[n_n++] = u;
                x += (int)(hgt * urand(&rng, 1.2f, 2.5f));
                if (n_n == MAX_NUMBERS)
                    break;
            }
            y += (int)(hgt * urand(&rng, 1.5f, 2.2f));
        }
        /* Blur (half the scenes), sensor noise, quantise. */
        if (dg_rng_uniform(&rng) < 0.5f) {
            float *tmp = malloc((size_t)W * H * 3 * sizeof *tmp);
            memcpy(tmp, rgb, (size_t)W * H * 3 * sizeof *tmp);
            for (int yy = 1; yy < H - 1; yy++)
                for (int xx = 1; xx < W - 1; xx++)
                    for (int c = 0; c < 3; c++) {
                        float a = 0;
                        for (int dy = -1; dy <= 1; dy++)
                            for (int dx = -1; dx <= 1; dx++)
                                a += tmp[((size_t)(yy + dy) * W + xx + dx) * 3 + c];
                        rgb[((size_t)yy * W + xx) * 3 + c] = a / 9;
                    }
            free(tmp);
        }
        const float sigma = urand(&rng, 1.5f, 6.0f);
        for (size_t i = 0; i < (size_t)W * H * 3; i++) {
            const float v = rgb[i] + sigma * gauss(&rng);
            px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
        }
        const int jpeg = dg_rng_uniform(&rng) < 0.7f;
        char name[64];
        snprintf(name, sizeof name, "scene_%04d.%s", sc, jpeg ? "jpg" : "png");
        snprintf(path, sizeof path, "%s/%s", out, name);
        FILE *f = fopen(path, "wb");
        if (!f ||
            !(jpeg ? stbi_write_jpg_to_func(write_to_file, f, W, H, 3, px, (int)urand(&rng, 70, 92))
                   : stbi_write_png_to_func(write_to_file, f, W, H, 3, px, W * 3))) {
            fprintf(stderr, "scenegen: cannot write %s\n", path);
            return 1;
        }
        fclose(f);
        fprintf(truth, "{\"image\": \"%s\", \"width\": %d, \"height\": %d, \"digits\": [", name, W,
                H);
        for (int i = 0; i < n_d; i++)
            fprintf(truth, "%s{\"digit\": %d, \"box\": [%d, %d, %d, %d]}", i ? ", " : "", dlab[i],
                    dbox[i].x, dbox[i].y, dbox[i].w, dbox[i].h);
        fprintf(truth, "], \"numbers\": [");
        for (int i = 0; i < n_n; i++) {
            fprintf(truth, "%s{\"text\": \"", i ? ", " : "");
            for (int k = 0; k < ncount[i]; k++)
                fputc('0' + dlab[nfirst[i] + k], truth);
            fprintf(truth, "\", \"box\": [%d, %d, %d, %d]}", nbox[i].x, nbox[i].y, nbox[i].w,
                    nbox[i].h);
        }
        fprintf(truth, "]}\n");
    }
    fclose(truth);
    printf("wrote %d scenes and truth.jsonl to %s\n", n_scenes, out);
    free(rgb), free(px);
    for (int d = 0; d < 10; d++)
        free(by_label[d]);
    data_set_free(&s);
    return 0;
}
