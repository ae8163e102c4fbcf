/* SHA-256 (FIPS 180-4): the project identity of a folder and the digest of an approved
 * configuration.  Small and dependency-free, so the base needs no crypto library. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define NBX_SHA256_LEN 32
#define NBX_SHA256_HEX (2 * NBX_SHA256_LEN + 1)

typedef struct nbx_sha256 {
        uint32_t h[8];
        uint64_t len; /* bytes hashed so far */
        uint8_t buf[64];
        size_t fill;
} nbx_sha256;

void nbx_sha256_init(nbx_sha256 *s);
void nbx_sha256_update(nbx_sha256 *s, const void *data, size_t len);
void nbx_sha256_final(nbx_sha256 *s, uint8_t ret[NBX_SHA256_LEN]);
/* One-shot digest as lowercase hex (NBX_SHA256_HEX bytes with the NUL). */
void nbx_sha256_hex(const void *data, size_t len, char ret[NBX_SHA256_HEX]);
void nbx_sha256_to_hex(const uint8_t d[NBX_SHA256_LEN], char ret[NBX_SHA256_HEX]);
