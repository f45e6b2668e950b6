/*
 * sha256.c - SHA-256 as specified in FIPS 180-4 (see src/util/sha256.h).
 *
 * Section numbers refer to FIPS 180-4: functions 4.1.2, constants 4.2.2,
 * initial hash value 5.3.3, padding 5.1.1, computation 6.2.2.  The message
 * schedule is kept as a 16-word ring, and the rounds are unrolled eight at a
 * time with the working variables renamed instead of shifted.
 */
#include "util/sha256.h"

#include <string.h>

/* 4.2.2: first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define CH(x, y, z) (((x) & ((y) ^ (z))) ^ (z))          /* = (x&y) ^ (~x&z) */
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y)))) /* = (x&y)^(x&z)^(y&z) */
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* W[t] for t >= 16, computed in place in the 16-word ring. */
#define SCHED(t) (W[(t)&15] += SSIG1(W[((t)-2) & 15]) + W[((t)-7) & 15] + SSIG0(W[((t)-15) & 15]))

/* One round with the working variables named a..h for this step: the
 * rotation of names replaces the shifting of 6.2.2 step 3. */
#define ROUND(a, b, c, d, e, f, g, h, t, w)                      \
    do {                                                         \
        uint32_t t1 = (h) + BSIG1(e) + CH(e, f, g) + K[t] + (w); \
        (d) += t1;                                               \
        (h) = t1 + BSIG0(a) + MAJ(a, b, c);                      \
    } while (0)

#define EIGHT(t, w)                                         \
    do {                                                    \
        ROUND(a, b, c, d, e, f, g, h, (t) + 0, w((t) + 0)); \
        ROUND(h, a, b, c, d, e, f, g, (t) + 1, w((t) + 1)); \
        ROUND(g, h, a, b, c, d, e, f, (t) + 2, w((t) + 2)); \
        ROUND(f, g, h, a, b, c, d, e, (t) + 3, w((t) + 3)); \
        ROUND(e, f, g, h, a, b, c, d, (t) + 4, w((t) + 4)); \
        ROUND(d, e, f, g, h, a, b, c, (t) + 5, w((t) + 5)); \
        ROUND(c, d, e, f, g, h, a, b, (t) + 6, w((t) + 6)); \
        ROUND(b, c, d, e, f, g, h, a, (t) + 7, w((t) + 7)); \
    } while (0)

#define WLOAD(t) W[(t)&15]

static void compress(uint32_t H[8], const unsigned char *block, size_t nblocks)
{
    while (nblocks--) {
        uint32_t W[16];
        for (int t = 0; t < 16; t++)
            W[t] = load_be32(block + 4 * t);
        uint32_t a = H[0], b = H[1], c = H[2], d = H[3];
        uint32_t e = H[4], f = H[5], g = H[6], h = H[7];
        EIGHT(0, WLOAD);
        EIGHT(8, WLOAD);
        for (int t = 16; t < 64; t += 16) {
            EIGHT(t, SCHED);
            EIGHT(t + 8, SCHED);
        }
        H[0] += a;
        H[1] += b;
        H[2] += c;
        H[3] += d;
        H[4] += e;
        H[5] += f;
        H[6] += g;
        H[7] += h;
        block += 64;
    }
}

void sha256_init(sha256_ctx *c)
{
    /* 5.3.3: fractional parts of the square roots of the first 8 primes. */
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, H0, sizeof H0);
    c->len = 0;
    c->fill = 0;
}

void sha256_update(sha256_ctx *c, const void *data, size_t n)
{
    const unsigned char *p = data;
    c->len += n;
    if (c->fill > 0) {
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->buf + c->fill, p, take);
        c->fill += take;
        p += take;
        n -= take;
        if (c->fill < 64)
            return;
        compress(c->h, c->buf, 1);
        c->fill = 0;
    }
    if (n >= 64) {
        compress(c->h, p, n / 64);
        p += n & ~(size_t)63;
        n &= 63;
    }
    if (n > 0) {
        memcpy(c->buf, p, n);
        c->fill = n;
    }
}

void sha256_final(sha256_ctx *c, unsigned char out[32])
{
    /* 5.1.1: a 1 bit, zeros to 448 mod 512, the length in bits (64-bit BE). */
    uint64_t bits = c->len * 8;
    c->buf[c->fill++] = 0x80;
    if (c->fill > 56) {
        memset(c->buf + c->fill, 0, 64 - c->fill);
        compress(c->h, c->buf, 1);
        c->fill = 0;
    }
    memset(c->buf + c->fill, 0, 56 - c->fill);
    store_be32(c->buf + 56, (uint32_t)(bits >> 32));
    store_be32(c->buf + 60, (uint32_t)bits);
    compress(c->h, c->buf, 1);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, c->h[i]);
    memset(c, 0, sizeof *c); /* no digest state left behind */
}

void sha256_hex(const unsigned char digest[32], char out[65])
{
    static const char HEX[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = HEX[digest[i] >> 4];
        out[2 * i + 1] = HEX[digest[i] & 15];
    }
    out[64] = '\0';
}
