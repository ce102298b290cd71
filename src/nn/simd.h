/* simd.h - what the network's kernel files share (internal to src/nn): sixteen floats as one value
 * (GCC's vector extension, also understood by clang): one AVX-512 register, two AVX2 or four SSE
 * ones, whichever DG_HOT clone runs; loaded and stored with memcpy, so any alignment does. Vectors
 * are passed by pointer: by value they would change the ABI between the clones. Float sums in a
 * fixed order, so a given ISA and thread count give the same bits run to run. And the OpenMP
 * thread queries, 1 thread and thread 0 in a build without OpenMP. */
#ifndef NN_SIMD_H
#define NN_SIMD_H

#include "dg.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* The threads a parallel region started now would get. */
static inline int max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* The calling thread's number in its team. */
static inline int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

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

/* *out = mask ? *a : *b, lane by lane. */
DG_INLINE void select_f(vf16 *out, const vi16 *mask, const vf16 *a, const vf16 *b)
{
    vi16 ai, bi;
    memcpy(&ai, a, sizeof ai);
    memcpy(&bi, b, sizeof bi);
    ai = (ai & *mask) | (bi & ~*mask);
    memcpy(out, &ai, sizeof ai);
}

/* 2x2 max-pooling of 16 windows at once, exactly as nn_bias_relu_pool does one: a0 a1 the top
 * row, b0 b1 the bottom; the first of equal maxima wins (in the order a0 a1 b0 b1), then + bias
 * and max(0, .). *best gets the pooled values, *win the winners (0..3). */
DG_INLINE void pool2x2(vf16 *best, vi16 *win, const vf16 *a0, const vf16 *a1, const vf16 *b0,
                       const vf16 *b1, float bias)
{
    const vf16 zero = {0};
    const vi16 c1 = *a1 > *a0, c2 = *b1 > *b0; /* -1 where the right one wins */
    vf16 m1, m2;
    select_f(&m1, &c1, a1, a0);
    select_f(&m2, &c2, b1, b0);
    const vi16 c3 = m2 > m1;
    select_f(best, &c3, &m2, &m1);
    *best += bias;
    const vi16 open = *best > 0.0f;
    select_f(best, &open, best, &zero);
    /* with 0/1 flags: c1 + c3 * (2 + c2 - c1); the masks are 0/-1 */
    *win = -c1 + (c3 & (2 - c2 + c1));
}

/* The sum of a vector's lanes, in the same fixed order. */
DG_INLINE float hsum(const vf16 *v)
{
    float f[16];
    memcpy(f, v, sizeof f);
    return sum_lanes(f, 16);
}

#endif
