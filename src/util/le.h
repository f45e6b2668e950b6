/*
 * le.h - little-endian numbers read from bytes of any alignment.
 *
 * Zip records, pickle opcodes' arguments, TensorFlow's tables and the
 * dtype conversions all read little-endian fields out of byte buffers;
 * these loads build the value a byte at a time (the compiler makes one
 * load of each on a little-endian machine), so they hold whatever the
 * host's byte order and the buffer's alignment.
 */
#ifndef UTIL_LE_H
#define UTIL_LE_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t le16(const unsigned char *p)
{
    return (uint16_t)((unsigned)p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The n <= 8 bytes at p. */
static inline uint64_t le_n(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif /* UTIL_LE_H */
