/*
 * utf8.c - strict UTF-8 validation (see utf8.h).
 *
 * One scan for both flavours.  Runs of ASCII, most of any name or key,
 * are skipped eight bytes at a time (a word with no high bit set); a
 * multi-byte sequence is checked against the ranges of the Unicode
 * standard's table of well-formed UTF-8 (the second byte's range depends
 * on the first; the others are continuation bytes).
 */
#include "util/utf8.h"

#include <stdint.h>
#include <string.h>

#define HIGH_BITS UINT64_C(0x8080808080808080)

static size_t valid_prefix(const unsigned char *s, size_t len, int surrogates)
{
    size_t i = 0;
    while (i < len) {
        uint64_t w;
        if (len - i >= 8 && (memcpy(&w, s + i, 8), (w & HIGH_BITS) == 0)) {
            i += 8;
            continue;
        }
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0)
                lo = 0xA0; /* no overlong forms */
            else if (c == 0xED && !surrogates)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return i;
        }
        if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += n;
    }
    return len;
}

size_t utf8_valid_prefix(const unsigned char *s, size_t len)
{
    return valid_prefix(s, len, 0);
}

size_t utf8_valid_prefix_surrogates(const unsigned char *s, size_t len)
{
    return valid_prefix(s, len, 1);
}
