/*
 * crc32.h - CRC-32 of the zip format, as fast as the CPU allows.
 *
 * One function for every CRC the converter computes (streams in zipsrc.c,
 * pieces in crcpipe.c): zlib's crc32 value, computed with PCLMULQDQ where
 * the CPU has it (about three times faster here than zlib 1.2.13's
 * tables), and without zlib's unsigned int length limit.
 */
#ifndef C2S_CRC32_H
#define C2S_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc (0 to start) over data[0..n); same result as zlib's crc32. */
uint32_t c2s_crc32(uint32_t crc, const void *data, size_t n);

#endif /* C2S_CRC32_H */
