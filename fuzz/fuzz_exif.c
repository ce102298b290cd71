/* fuzz_exif.c - libFuzzer target for the EXIF orientation parser (arbitrary bytes as the head of
 * a JPEG file) and the turn it drives. Checks: the orientation is 1..8; turning a small image by
 * it swaps the sides exactly for 5..8 and keeps every pixel value (the sum is unchanged). */
#include <stdint.h>
#include <stdlib.h>

#include "vis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int o = vis_exif_orientation(data, size);
    if (o < 1 || o > 8)
        abort();
    const int w = 1 + (size ? data[size - 1] % 13 : 0), h = 1 + (size > 1 ? data[size - 2] % 7 : 0);
    struct vis_image img;
    if (vis_image_init(&img, w, h) != DG_OK)
        return 0;
    long sum = 0;
    for (int i = 0; i < w * h; i++)
        sum += img.px[i] = (uint8_t)(i * 37 + o);
    if (vis_image_orient(&img, o) != DG_OK)
        abort();
    if ((o >= 5 ? img.w != h || img.h != w : img.w != w || img.h != h))
        abort();
    for (int i = 0; i < w * h; i++)
        sum -= img.px[i];
    if (sum)
        abort();
    vis_image_destroy(&img);
    return 0;
}
