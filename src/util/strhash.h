/*
 * strhash.h - the hash of a NUL-terminated string for the library's
 * open-addressing tables (FNV-1a, 64 bits).  Not for anything an attacker
 * could use against us beyond slower lookups: tables stay correct whatever
 * the hash, and their size is bounded by the limits of the input.
 */
#ifndef UTIL_STRHASH_H
#define UTIL_STRHASH_H

#include <stdint.h>

static inline uint64_t strhash(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

#endif /* UTIL_STRHASH_H */
