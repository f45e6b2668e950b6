/*
 * crc32.h - CRC-32 of the zip format, as fast as the CPU allows.
 *
 * One function for every CRC the converter computes (streams in zipsrc.c,
 * pieces in crcpipe.c): zlib's crc32 value, computed with PCLMULQDQ where
 * the CPU has it, with VPCLMULQDQ and AVX-512 where it has those (twice and
 * four to five times zlib 1.2.13's speed here: `make bench-crc`), and
 * without zlib's unsigned int length limit.
 */
#ifndef C2S_CRC32_H
#define C2S_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc (0 to start) over data[0..n); same result as zlib's crc32. */
uint32_t c2s_crc32(uint32_t crc, const void *data, size_t n);

/* The paths this CPU can run: 1 zlib's tables only, 2 also PCLMULQDQ, 3
 * also VPCLMULQDQ with AVX-512.  c2s_crc32 takes the highest. */
int crc32_path_count(void);

/* c2s_crc32 on path 1..crc32_path_count() (another path: zlib's), for the
 * tests that check every path against zlib. */
uint32_t crc32_with_path(int path, uint32_t crc, const void *data, size_t n);

#endif /* C2S_CRC32_H */
