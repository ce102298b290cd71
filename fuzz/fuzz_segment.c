/* fuzz_segment.c - libFuzzer target for the segmentation stages on arbitrary small images: the
 * polarity's guess, the threshold (any polarity, window, contrast and share), line removal (any
 * lengths and thickness), components and MNIST normalisation of the mask. One scratch (struct
 * vis_work) serves every input, as it serves a stream of frames, so its growing from size to size
 * is exercised too. Checks: the guess is dark or light ink, sure or not; the mask holds only 0 and
 * 255; the components' areas add up to the mask's ink and every ink pixel lies in its component's
 * box; the 28x28 input stays within [0, 1]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vis_work *wk;
    if (size < 8 || (!wk && vis_work_new(&wk) != DG_OK))
        return 0;
    const int w = 1 + data[0] % 96, h = 1 + data[1] % 96;
    struct vis_threshold_params p;
    vis_threshold_default_params(&p);
    p.window = data[2] % 48;
    p.polarity = (enum vis_polarity)(data[4] % 3);
    p.contrast = 1 + data[6] % 255;
    p.share = (float)data[7] / 255.0f;
    const int thick = 1 + data[5] % 8, len_h = 1 + data[2] % w, len_v = 1 + data[3] % h;
    data += 8, size -= 8;
    struct vis_image img = {0}, mask = {0};
    if (vis_image_init(&img, w, h) != DG_OK)
        return 0;
    for (size_t i = 0; i < (size_t)w * h; i++)
        img.px[i] = size ? data[i % size] : 128;
    const int32_t *labels = NULL;
    enum vis_polarity guess = VIS_POLARITY_AUTO;
    int sure = -1;
    if (vis_guess_polarity(&img, wk, &guess, &sure) != DG_OK)
        goto done;
    if ((guess != VIS_POLARITY_DARK_ON_LIGHT && guess != VIS_POLARITY_LIGHT_ON_DARK) ||
        (sure != 0 && sure != 1) || (guess == VIS_POLARITY_DARK_ON_LIGHT && !sure))
        abort();
    if (vis_threshold(&img, &p, wk, &mask, NULL) != DG_OK)
        goto done;
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (mask.px[i] != 0 && mask.px[i] != 255)
            abort();
    if (vis_remove_lines(&mask, wk, len_h, len_v, thick) != DG_OK ||
        vis_remove_boxes(&mask, wk, len_h / 4, thick) != DG_OK)
        goto done;
    const struct vis_component *comp;
    int n_comp;
    if (vis_components(&mask, wk, &labels, &comp, &n_comp) != DG_OK)
        goto done;
    long ink = 0, area = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const int32_t l = labels[(size_t)y * w + x];
            if (!mask.px[(size_t)y * w + x] != !l || l < 0 || l > n_comp)
                abort();
            if (!l)
                continue;
            ink++;
            const struct vis_component *c = &comp[l - 1];
            if (x < c->x0 || x > c->x1 || y < c->y0 || y > c->y1)
                abort();
        }
    for (int i = 0; i < n_comp; i++)
        area += comp[i].area;
    if (area != ink)
        abort();
    /* without a label image: the same count, and runs covering the same ink */
    int n_comp2;
    if (vis_components(&mask, wk, NULL, &comp, &n_comp2) != DG_OK)
        goto done;
    size_t n_runs;
    const struct vis_run *runs = vis_components_runs(wk, &n_runs);
    long run_px = 0;
    for (size_t i = 0; i < n_runs; i++) {
        if (runs[i].comp < 0 || runs[i].comp >= n_comp2 || runs[i].x0 > runs[i].x1)
            abort();
        run_px += runs[i].x1 - runs[i].x0 + 1;
    }
    if (n_comp2 != n_comp || run_px != ink)
        abort();
    float out[784];
    if (ink && vis_mnist_from_ink(mask.px, w, h, (size_t)w, out) == DG_OK)
        for (int i = 0; i < 784; i++)
            if (!(out[i] >= 0.0f && out[i] <= 1.0f))
                abort();
done:
    vis_image_destroy(&mask);
    vis_image_destroy(&img);
    return 0;
}
