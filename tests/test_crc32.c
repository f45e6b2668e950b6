/*
 * test_crc32.c - the zip format's CRC-32 (src/zip/crc32.h): every path this
 * CPU can run (zlib's tables, PCLMULQDQ, VPCLMULQDQ with AVX-512) against
 * zlib's crc32 itself, over every length up to 1 KiB at every alignment of
 * a 64-byte line, with a starting CRC or not, and over a buffer of a few
 * MiB; plus the check value of the CRC catalogue.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "zip/crc32.h"

TestSuite(crc32);

/* Bytes that are not a pattern a wrong fold would still get right. */
static unsigned char *noise(size_t n, uint32_t seed)
{
    unsigned char *p = malloc(n);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
    return p;
}

Test(crc32, check_value_on_every_path)
{
    static const char msg[] = "123456789";
    for (int path = 1; path <= crc32_path_count(); path++)
        cr_assert_eq(crc32_with_path(path, 0, msg, 9), 0xcbf43926u, "path %d", path);
    /* a 64-byte multiple of it goes through the folding paths */
    char big[9 * 64];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = msg[i % 9];
    uint32_t want = (uint32_t)crc32(0, (const Bytef *)big, sizeof big);
    for (int path = 1; path <= crc32_path_count(); path++)
        cr_assert_eq(crc32_with_path(path, 0, big, sizeof big), want, "path %d", path);
}

Test(crc32, every_length_and_alignment_matches_zlib)
{
    enum { MAXLEN = 1024, ALIGNS = 64 };
    unsigned char *buf = noise(MAXLEN + ALIGNS, 7);
    cr_log_info("paths on this CPU: %d", crc32_path_count());
    for (int path = 1; path <= crc32_path_count(); path++)
        for (size_t a = 0; a < ALIGNS; a++)
            for (size_t n = 0; n <= MAXLEN; n++) {
                uint32_t start = (uint32_t)(n * 2654435761u); /* a CRC carried in */
                uint32_t want = (uint32_t)crc32(start, buf + a, (uInt)n);
                uint32_t got = crc32_with_path(path, start, buf + a, n);
                if (got != want)
                    cr_assert_fail("path %d, offset %zu, %zu bytes: %08x, zlib %08x", path, a, n,
                                   got, want);
            }
    free(buf);
}

Test(crc32, a_few_mib_in_pieces_and_whole)
{
    size_t n = (5u << 20) + 37;
    unsigned char *buf = noise(n, 11);
    uint32_t want = (uint32_t)crc32(0, buf, (uInt)n);
    cr_assert_eq(c2s_crc32(0, buf, n), want);
    for (int path = 1; path <= crc32_path_count(); path++) {
        uint32_t crc = 0;
        for (size_t at = 0, piece = 1; at < n; at += piece, piece = piece * 3 + 1) {
            size_t len = n - at < piece ? n - at : piece;
            crc = crc32_with_path(path, crc, buf + at, len);
        }
        cr_assert_eq(crc, want, "path %d", path);
        cr_assert_eq(crc32_with_path(path, 0, buf, n), want, "path %d", path);
    }
    free(buf);
}
