/* dg.c - error text, overflow-checked sizes, the RNG, the clock and whole-file I/O.
 * Not a logging facility: nothing here prints. */
#define _POSIX_C_SOURCE 200809L
#include "dg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char errbuf[512];

const char *dg_errmsg(void)
{
    return errbuf;
}

int dg_fail(int code, const char *fmt, ...)
{
    /* Format into a local buffer first: callers may pass dg_errmsg() itself as an argument to
     * prefix context onto the previous message. */
    char tmp[sizeof errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(errbuf, tmp, sizeof errbuf);
    return code;
}

int dg_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return dg_fail(DG_ENOMEM, "size overflow (%zu x %zu)", a, b);
    *out = a * b;
    return DG_OK;
}

int dg_grow(void **buf, size_t *cap, size_t n, size_t elem)
{
    if (n <= *cap)
        return DG_OK;
    size_t n_bytes = 0;
    if (dg_mul_size(n, elem, &n_bytes) != DG_OK)
        return DG_ENOMEM;
    void *nb = realloc(*buf, n_bytes);
    if (!nb)
        return dg_fail(DG_ENOMEM, "out of memory for %zu bytes", n_bytes);
    *buf = nb;
    *cap = n;
    return DG_OK;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void dg_rng_seed(struct dg_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t dg_rng_next(struct dg_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float dg_rng_uniform(struct dg_rng *rng)
{
    return (float)(dg_rng_next(rng) >> 40) * (1.0f / 16777216.0f);
}

uint32_t dg_rng_below(struct dg_rng *rng, uint32_t n)
{
    /* Lemire's multiply-shift with rejection of the biased low range. */
    uint64_t m = (uint64_t)(uint32_t)(dg_rng_next(rng) >> 32) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (lo < threshold) {
            m = (uint64_t)(uint32_t)(dg_rng_next(rng) >> 32) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void dg_rng_to_hex(const struct dg_rng *rng, char text[65])
{
    for (int i = 0; i < 4; i++)
        snprintf(text + 16 * i, 17, "%016llx", (unsigned long long)rng->s[i]);
}

int dg_rng_from_hex(struct dg_rng *rng, const char *text)
{
    struct dg_rng tmp;
    if (strlen(text) != 64)
        return dg_fail(DG_EFORMAT, "RNG state must be 64 hex digits");
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int j = 0; j < 16; j++) {
            char ch = text[16 * i + j];
            int d;
            if (ch >= '0' && ch <= '9')
                d = ch - '0';
            else if (ch >= 'a' && ch <= 'f')
                d = ch - 'a' + 10;
            else if (ch >= 'A' && ch <= 'F')
                d = ch - 'A' + 10;
            else
                return dg_fail(DG_EFORMAT, "RNG state has a non-hex character");
            v = (v << 4) | (uint64_t)d;
        }
        tmp.s[i] = v;
    }
    if ((tmp.s[0] | tmp.s[1] | tmp.s[2] | tmp.s[3]) == 0)
        return dg_fail(DG_EFORMAT, "RNG state is all zero");
    *rng = tmp;
    return DG_OK;
}

double dg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int dg_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *n_bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return dg_fail(DG_EIO, "cannot open %s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = DG_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            if (ncap > max_bytes + 1)
                ncap = max_bytes + 1;
            if (ncap <= cap) {
                rc = dg_fail(DG_EARG, "%s is larger than the limit of %zu bytes", path, max_bytes);
                goto fail;
            }
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = dg_fail(DG_ENOMEM, "out of memory reading %s", path);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rc = dg_fail(DG_EIO, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    if (len > max_bytes) {
        rc = dg_fail(DG_EARG, "%s is larger than the limit of %zu bytes", path, max_bytes);
        goto fail;
    }
    fclose(f);
    *out = buf;
    *n_bytes = len;
    return DG_OK;
fail:
    free(buf);
    fclose(f);
    return rc;
}

struct dg_writer {
    FILE *f;
    const char *path;
};

int dg_write_bytes(struct dg_writer *wr, const void *data, size_t n_bytes)
{
    if (n_bytes && fwrite(data, 1, n_bytes, wr->f) != n_bytes)
        return dg_fail(DG_EIO, "cannot write %s: %s", wr->path, strerror(errno));
    return DG_OK;
}

int dg_write_atomic(const char *path, int (*write_fn)(struct dg_writer *wr, void *ctx), void *ctx)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp)
        return dg_fail(DG_ENOMEM, "out of memory");
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    struct dg_writer wr = {fopen(tmp, "wb"), path};
    if (!wr.f) {
        int rc = dg_fail(DG_EIO, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    int rc = write_fn(&wr, ctx);
    if (rc == DG_OK && fflush(wr.f) != 0)
        rc = dg_fail(DG_EIO, "cannot write %s: %s", path, strerror(errno));
    if (rc == DG_OK && fsync(fileno(wr.f)) != 0)
        rc = dg_fail(DG_EIO, "cannot sync %s: %s", path, strerror(errno));
    if (fclose(wr.f) != 0 && rc == DG_OK)
        rc = dg_fail(DG_EIO, "cannot close %s: %s", path, strerror(errno));
    if (rc == DG_OK && rename(tmp, path) != 0)
        rc = dg_fail(DG_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc != DG_OK)
        remove(tmp);
    free(tmp);
    return rc;
}
