/*
 * strhash.h - hashes for the library's open-addressing tables.
 *
 * hash_bytes takes the bytes 8 at a time (the rotate-xor-multiply step of
 * FxHash), the last 1..7 padded with zeros, then mixes in the length and
 * finishes with SplitMix64's mixer (mix64), so that the low bits a table
 * masks depend on every byte.  A state dict's keys and tensor names are
 * tens of bytes: a byte at a time (FNV-1a, which strhash was) cost a
 * multiplication each.  Not for anything an attacker could use against us
 * beyond slower lookups: tables stay correct whatever the hash, and their
 * size is bounded by the limits of the input.
 */
#ifndef UTIL_STRHASH_H
#define UTIL_STRHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* The n bytes at p; seed tells apart kinds of keys with the same bytes. */
static inline uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ seed, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        h = (((h << 5) | (h >> 59)) ^ w) * UINT64_C(0x517cc1b727220a95);
    }
    if (i < n) {
        w = 0;
        memcpy(&w, s + i, n - i);
        h = (((h << 5) | (h >> 59)) ^ w) * UINT64_C(0x517cc1b727220a95);
    }
    return mix64(h ^ n);
}

/* A NUL-terminated string. */
static inline uint64_t strhash(const char *s)
{
    return hash_bytes(s, strlen(s), 0);
}

#endif /* UTIL_STRHASH_H */
