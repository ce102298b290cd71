/* simd.h - what the network's kernel files share (internal to src/nn): sixteen floats as one value
 * (GCC's vector extension, also understood by clang): one AVX-512 register, two AVX2 or four SSE
 * ones, whichever DG_HOT clone runs; loaded and stored with memcpy, so any alignment does. Vectors
 * are passed by pointer: by value they would change the ABI between the clones. And float sums in
 * a fixed order, so a given ISA and thread count give the same bits run to run. */
#ifndef NN_SIMD_H
#define NN_SIMD_H

#include "dg.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef float vf16 __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));

/* Sum of x[0..n) in 16 independent lanes, then a fixed pairwise combination: vectorises (a plain
 * float sum cannot be reordered without -ffast-math). */
DG_INLINE float sum_lanes(const float *x, size_t n)
{
    float lane[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            lane[j] += x[i + j];
    for (int j = 0; i < n; i++, j++)
        lane[j] += x[i];
    for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; j++)
            lane[j] += lane[j + w];
    return lane[0];
}

/* The sum of a vector's lanes, in the same fixed order. */
DG_INLINE float hsum(const vf16 *v)
{
    float f[16];
    memcpy(f, v, sizeof f);
    return sum_lanes(f, 16);
}

#endif
