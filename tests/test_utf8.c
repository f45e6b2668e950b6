/*
 * test_utf8.c - strict UTF-8 validation (src/util/utf8.h), against an
 * independent reading: sequences decoded with the generic bit layout, then
 * judged by code point (overlong, above U+10FFFF, surrogate), where the
 * code under test goes by the ranges of each lead byte.  Every sequence of
 * one to three bytes, the four-byte ones with every lead byte, and the
 * word-at-a-time ASCII skipping at every offset around its 8-byte steps.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "util/utf8.h"

TestSuite(utf8);

/* Bytes of s[0..n) that form one well-formed sequence: n, or 0. */
static size_t reference_one(const unsigned char *s, size_t n, int surrogates)
{
    unsigned c = s[0];
    size_t need = c < 0x80             ? 1
                  : (c & 0xE0) == 0xC0 ? 2
                  : (c & 0xF0) == 0xE0 ? 3
                  : (c & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (need == 0 || need != n)
        return 0;
    uint32_t cp = need == 1 ? c : need == 2 ? c & 0x1F : need == 3 ? c & 0x0F : c & 0x07;
    for (size_t k = 1; k < need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    static const uint32_t MIN[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < MIN[need] || cp > 0x10FFFF || (!surrogates && cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static size_t run(const unsigned char *s, size_t n, int surrogates)
{
    return surrogates ? utf8_valid_prefix_surrogates(s, n) : utf8_valid_prefix(s, n);
}

Test(utf8, every_sequence_of_one_to_three_bytes)
{
    unsigned char s[3];
    for (int sur = 0; sur <= 1; sur++) {
        for (uint32_t v = 0; v < (1u << 24); v++) {
            s[0] = (unsigned char)(v >> 16);
            s[1] = (unsigned char)(v >> 8);
            s[2] = (unsigned char)v;
            if (v < 256) { /* one byte */
                size_t want = reference_one(s + 2, 1, sur) ? 1 : 0;
                cr_assert_eq(run(s + 2, 1, sur), want, "%02x", s[2]);
            }
            if (v < 65536) { /* two bytes */
                size_t want = reference_one(s + 1, 2, sur) ? 2 : s[1] < 0x80 ? 1 : 0;
                size_t got = run(s + 1, 2, sur);
                if (want == 1) /* ASCII then a byte: the second judged alone */
                    want = reference_one(s + 2, 1, sur) ? 2 : 1;
                cr_assert_eq(got, want, "%02x %02x", s[1], s[2]);
            }
            if (reference_one(s, 3, sur))
                cr_assert_eq(run(s, 3, sur), 3, "%02x %02x %02x (sur %d)", s[0], s[1], s[2], sur);
            else if (s[0] >= 0xE0)
                cr_assert_eq(run(s, 3, sur), 0, "%02x %02x %02x (sur %d)", s[0], s[1], s[2], sur);
        }
    }
}

Test(utf8, four_bytes_by_lead_and_second)
{
    unsigned char s[4] = {0, 0, 0x80, 0xBF};
    for (unsigned a = 0xF0; a <= 0xFF; a++)
        for (unsigned b = 0; b < 256; b++) {
            s[0] = (unsigned char)a;
            s[1] = (unsigned char)b;
            size_t want = reference_one(s, 4, 0);
            cr_assert_eq(utf8_valid_prefix(s, 4), want, "%02x %02x 80 bf", a, b);
            cr_assert_eq(utf8_valid_prefix(s, 3), 0, "cut short: %02x %02x 80", a, b);
        }
    cr_assert_eq(utf8_valid_prefix((const unsigned char *)"\xF0\x90\x80\x7F", 4), 0);
}

Test(utf8, ascii_words_at_every_offset)
{
    unsigned char s[48];
    for (size_t len = 0; len <= 40; len++) {
        memset(s, 'a', len);
        cr_assert_eq(utf8_valid_prefix(s, len), len);
        for (size_t p = 0; p < len; p++) {
            memset(s, 'a', len);
            s[p] = 0xFF; /* never valid */
            cr_assert_eq(utf8_valid_prefix(s, len), p, "len %zu bad at %zu", len, p);
            if (p + 3 <= len) { /* a valid 3-byte character there, a surrogate after it */
                memcpy(s + p, "\xE2\x82\xAC", 3); /* U+20AC */
                cr_assert_eq(utf8_valid_prefix(s, len), len, "len %zu euro at %zu", len, p);
                if (p + 6 <= len) {
                    memcpy(s + p + 3, "\xED\xA0\x80", 3); /* U+D800 */
                    cr_assert_eq(utf8_valid_prefix(s, len), p + 3);
                    cr_assert_eq(utf8_valid_prefix_surrogates(s, len), len);
                }
            }
        }
    }
}
