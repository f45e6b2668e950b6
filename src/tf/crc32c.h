/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of TensorFlow tensor bundles.
 *
 * TensorFlow checks every table block of a .index file and every tensor of a
 * .data shard with CRC-32C (polynomial 0x1EDC6F41, reflected 0x82F63B78,
 * initial value and final xor 0xFFFFFFFF), and stores it "masked": rotated
 * right by 15 bits plus a constant, so that a CRC of data that itself holds
 * CRCs does not degenerate.  c2s_crc32c continues a running value like
 * zlib's crc32 does (start with 0), so a tensor can be checked piece by
 * piece while it streams.
 */
#ifndef C2S_CRC32C_H
#define C2S_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc (0 to start) over data[0..n): CRC-32C("123456789") is 0xe3069283. */
uint32_t c2s_crc32c(uint32_t crc, const void *data, size_t n);
/* The same, one byte at a time through the table only (for tests: the fast
 * path of the CPU must agree with it). */
uint32_t c2s_crc32c_portable(uint32_t crc, const void *data, size_t n);

/* TensorFlow's (and LevelDB's) masking of a stored CRC, and its inverse. */
static inline uint32_t c2s_crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static inline uint32_t c2s_crc32c_unmask(uint32_t masked)
{
    uint32_t rot = masked - 0xa282ead8u;
    return (rot >> 17) | (rot << 15);
}

#endif /* C2S_CRC32C_H */
