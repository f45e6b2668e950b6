/*
 * crc32.c - CRC-32 of the zip format (see src/zip/crc32.h).
 *
 * On x86-64 CPUs with PCLMULQDQ the bulk of a buffer is folded 64 bytes at
 * a time with carry-less multiplications; the tail, and every byte on other
 * CPUs, goes through zlib's crc32, whose value this matches exactly.
 */
#include "zip/crc32.h"

#include <zlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_CLMUL_CRC 1

/* x's two halves multiplied (carry-less) by k's, plus y: one folding step. */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i x, __m128i k, __m128i y)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00), hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), y);
}

/* The CRC-32 register (not inverted) after n bytes, n >= 64 and a multiple
 * of 16: four 128-bit lanes folded in parallel with PCLMULQDQ, then reduced
 * to 32 bits (Barrett).  "Fast CRC Computation for Generic Polynomials
 * Using PCLMULQDQ Instruction", Gopal et al., Intel 2009; the constants are
 * its bit-reflected ones for the zlib polynomial. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_clmul(uint32_t crc,
                                                                   const unsigned char *p, size_t n)
{
    const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
    const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
    const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
    const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641); /* mu, P */
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i x1 = _mm_loadu_si128((const __m128i *)p);
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
        x1 = fold(x1, k1k2, _mm_loadu_si128((const __m128i *)p));
        x2 = fold(x2, k1k2, _mm_loadu_si128((const __m128i *)(p + 16)));
        x3 = fold(x3, k1k2, _mm_loadu_si128((const __m128i *)(p + 32)));
        x4 = fold(x4, k1k2, _mm_loadu_si128((const __m128i *)(p + 48)));
    }
    x1 = fold(fold(fold(x1, k3k4, x2), k3k4, x3), k3k4, x4);
    for (; n >= 16; p += 16, n -= 16)
        x1 = fold(x1, k3k4, _mm_loadu_si128((const __m128i *)p));
    /* 128 -> 64 bits, 64 -> 32, then Barrett reduction */
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), _mm_clmulepi64_si128(x1, k3k4, 0x10));
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 4),
                       _mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00));
    x2 = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly, 0x10), low32);
    x1 = _mm_xor_si128(x1, _mm_clmulepi64_si128(x2, poly, 0x00));
    return (uint32_t)_mm_extract_epi32(x1, 1);
}
#endif

uint32_t c2s_crc32(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
#ifdef HAVE_CLMUL_CRC
    if (n >= 64 && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1")) {
        size_t m = n & ~(size_t)15;
        crc = ~crc_clmul(~crc, p, m);
        p += m;
        n -= m;
    }
#endif
    while (n > 0) { /* zlib takes unsigned int lengths */
        size_t part = n > (1u << 30) ? (1u << 30) : n;
        crc = (uint32_t)crc32(crc, p, (uInt)part);
        p += part;
        n -= part;
    }
    return crc;
}
