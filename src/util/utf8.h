/*
 * utf8.h - strict UTF-8, as the safetensors reference reader wants it.
 *
 * Python strings may hold lone surrogates (a pickle can carry them, see
 * pvm.h), which UTF-8 cannot: such a name must be refused before it
 * reaches a safetensors header, whose readers reject it.
 */
#ifndef UTIL_UTF8_H
#define UTIL_UTF8_H

#include <stddef.h>

/* Offset of the first byte of s[0..len) that is not part of valid UTF-8
 * (no overlong forms, no surrogates, nothing above U+10FFFF), or len. */
size_t utf8_valid_prefix(const unsigned char *s, size_t len);

/* The same, but the lone surrogates U+D800..U+DFFF in their 3-byte form
 * (ED A0 80..ED BF BF) count as valid: what CPython's "surrogatepass"
 * decodes, as the pickle VM must (pvm.h). */
size_t utf8_valid_prefix_surrogates(const unsigned char *s, size_t len);

#endif /* UTIL_UTF8_H */
