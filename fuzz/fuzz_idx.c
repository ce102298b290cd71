/* fuzz_idx.c - libFuzzer target for the IDX parsers: any bytes must give a result or an error,
 * never a crash, a leak or an out-of-bounds read. The first byte picks images or labels. */
#include <stdint.h>
#include <stdlib.h>

#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *out = NULL;
    int n, rows, cols;
    if (data[0] & 1) {
        if (data_idx_parse_images(data + 1, size - 1, &out, &n, &rows, &cols) == DG_OK &&
            (size_t)n * rows * cols != size - 17)
            abort();
    } else {
        if (data_idx_parse_labels(data + 1, size - 1, &out, &n) == DG_OK && (size_t)n != size - 9)
            abort();
    }
    free(out);
    return 0;
}
