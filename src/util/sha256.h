/*
 * sha256.h - SHA-256 (FIPS 180-4), streaming.
 *
 *   sha256_ctx c;
 *   sha256_init(&c);
 *   sha256_update(&c, data, n);   (any number of times, any sizes)
 *   sha256_final(&c, digest);     (c must be re-initialised before reuse)
 *
 * No global state; a context may be used by one thread at a time.
 */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 64

typedef struct sha256_ctx {
    uint32_t h[8];         /* chaining value */
    uint64_t len;          /* message bytes so far */
    unsigned char buf[64]; /* partial block */
    size_t fill;           /* bytes in buf */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, unsigned char out[32]);

/* Lower-case hex of a digest, NUL-terminated (65 bytes). */
void sha256_hex(const unsigned char digest[32], char out[65]);

#endif /* SHA256_H */
