/* sha256.h - SHA-256 (FIPS 180-4) for verifying downloaded data. Incremental; not constant-time
 * (it checks public files, it keeps no secrets). */
#ifndef DG_SHA256_H
#define DG_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct dg_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;
    unsigned char block[64];
    size_t n_block;
};

void dg_sha256_init(struct dg_sha256 *s);
void dg_sha256_update(struct dg_sha256 *s, const void *data, size_t n_bytes);
/* Writes the digest as 64 lower-case hex digits and a NUL. */
void dg_sha256_hex(struct dg_sha256 *s, char hex[65]);

#endif
