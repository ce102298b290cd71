/* fuzz_png.c - libFuzzer target for the PNG fast path (vis_png_fast: our chunk walk and row
 * unfiltering over libdeflate). Every chunk's CRC is made right before the call (a fuzzer cannot
 * find CRCs, and a wrong one only sends the file to libpng), and when the first byte is odd the
 * input is instead made into a well-formed PNG: a header from its first bytes, the rest as the
 * filtered rows (filter bytes included), compressed by libdeflate, so the unfiltering and the
 * size checks are reached with every filter byte. Checks: it takes the file or leaves it, and a
 * picture it takes is within the pixel budget and as large as it says (ASan reads it all). */
#include <libdeflate.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

/* Rewrites the CRC of every chunk of png[0 .. n) that fits. */
static void fix_crcs(uint8_t *png, size_t n)
{
    for (size_t pos = 8; pos + 12 <= n;) {
        const uint32_t len = (uint32_t)png[pos] << 24 | (uint32_t)png[pos + 1] << 16 |
                             (uint32_t)png[pos + 2] << 8 | png[pos + 3];
        if (len > n - pos - 12)
            return;
        put32(png + pos + 8 + len, (uint32_t)libdeflate_crc32(0, png + pos + 4, (size_t)len + 4));
        pos += (size_t)len + 12;
    }
}

/* A PNG of the IHDR fields in d[0 .. 4) (width, height 1..16, colour type, a filter byte bias)
 * over the rows d[4 ..): returns its length in out (0 when d is too short). */
static size_t make_png(const uint8_t *d, size_t n, uint8_t *out, size_t cap)
{
    if (n < 4)
        return 0;
    static const uint8_t types[4] = {0, 2, 4, 6};
    const uint32_t w = 1 + d[0] % 16, h = 1 + d[1] % 16;
    const int type = types[d[2] % 4], ch = type == 0 ? 1 : type == 2 ? 3 : type == 4 ? 2 : 4;
    const size_t raw_n = (size_t)h * (1 + w * ch);
    uint8_t raw[16 * (1 + 16 * 4)];
    for (size_t i = 0; i < raw_n; i++)
        raw[i] = 4 + i < n ? d[4 + i] : 0;
    for (uint32_t y = 0; y < h; y++) /* mostly filters 0-4, sometimes a bad one */
        raw[y * (1 + w * ch)] = (uint8_t)((raw[y * (1 + w * ch)] + d[3]) % 6);
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    size_t k = 0;
    memcpy(out, sig, 8), k = 8;
    put32(out + k, 13), memcpy(out + k + 4, "IHDR", 4);
    put32(out + k + 8, w), put32(out + k + 12, h);
    out[k + 16] = 8, out[k + 17] = (uint8_t)type, out[k + 18] = out[k + 19] = out[k + 20] = 0;
    k += 25;
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(1);
    if (!c)
        return 0;
    const size_t zn = libdeflate_zlib_compress(c, raw, raw_n, out + k + 8, cap - k - 24);
    libdeflate_free_compressor(c);
    if (!zn)
        return 0;
    put32(out + k, (uint32_t)zn), memcpy(out + k + 4, "IDAT", 4);
    k += 12 + zn;
    put32(out + k, 0), memcpy(out + k + 4, "IEND", 4);
    k += 12;
    fix_crcs(out, k);
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[1 << 16];
    size_t n;
    if (size && (data[0] & 1)) {
        n = make_png(data + 1, size - 1, buf, sizeof buf);
    } else {
        n = size < sizeof buf ? size : sizeof buf;
        memcpy(buf, data, n);
        fix_crcs(buf, n);
    }
    struct vis_image img = {0};
    const int taken = vis_png_fast(buf, n, &img);
    if (taken != 0 && taken != 1)
        abort();
    if (!taken) {
        if (img.px)
            abort();
        return 0;
    }
    if (img.w < 1 || img.h < 1 || (uint64_t)img.w * img.h > VIS_MAX_PIXELS)
        abort();
    unsigned sum = 0;
    for (size_t i = 0; i < (size_t)img.w * img.h; i++)
        sum += img.px[i];
    vis_image_destroy(&img);
    return (int)(sum & 0);
}
