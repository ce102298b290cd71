/* testutil.h - what the cmocka tests share: cmocka itself, random fills, closeness checks, reading
 * a named tensor from a fixture, and paths to the repository's data. Header-only (static functions)
 * so each test program links only the modules of its unit. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dg.h"

static inline void fill_uniform(float *x, size_t n, float lo, float hi, struct dg_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * dg_rng_uniform(rng);
}

/* Largest |a-b| / (atol + rtol*|b|) over n values: <= 1 means "close". */
static inline double worst_ratio(const float *a, const float *b, size_t n, double atol, double rtol)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)a[i] - b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(r <= worst)) /* catches NaN too */
            worst = isnan(r) ? INFINITY : r;
    }
    return worst;
}

#define assert_close(a, b, n, atol, rtol)                                                          \
    do {                                                                                           \
        double r_ = worst_ratio((a), (b), (n), (atol), (rtol));                                    \
        if (!(r_ <= 1.0))                                                                          \
            fail_msg("%s vs %s: worst error is %.3g times the tolerance", #a, #b, r_);             \
    } while (0)

/* Root of the repository (DIGITS_ROOT, set by the Makefile; "." otherwise). */
static inline const char *repo_root(void)
{
    const char *r = getenv("DIGITS_ROOT");
    return r && *r ? r : ".";
}

static inline void repo_path(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", repo_root(), rel);
}

#ifdef DG_JSON_H
/* Reads tensor `name` of a safetensors file into a malloc'ed float array; *n gets its length.
 * Fails the test when the file or tensor is missing. */
static inline float *fixture_tensor(const char *rel, const char *name, size_t *n)
{
    char path[4096];
    repo_path(path, sizeof path, rel);
    unsigned char *data;
    size_t len;
    if (dg_read_file(path, (size_t)1 << 30, &data, &len) != DG_OK)
        fail_msg("%s", dg_errmsg());
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)data[i] << (8 * i);
    struct dg_json *doc;
    assert_int_equal(dg_json_parse((const char *)data + 8, (size_t)hl, &doc), DG_OK);
    const struct dg_json_node *t = dg_json_get(doc, dg_json_root(doc), name);
    if (!t)
        fail_msg("fixture %s has no tensor %s", rel, name);
    const struct dg_json_node *offs = dg_json_get(doc, t, "data_offsets");
    size_t b = (size_t)dg_json_child(doc, offs)->num;
    size_t e = (size_t)dg_json_next(doc, dg_json_child(doc, offs))->num;
    float *out = malloc(e - b);
    assert_non_null(out);
    memcpy(out, data + 8 + hl + b, e - b);
    *n = (e - b) / sizeof(float);
    dg_json_free(doc);
    free(data);
    return out;
}
#endif

#endif
