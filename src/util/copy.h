/*
 * copy.h - copying one element (or a short run) of a size known only at
 * run time.
 *
 * memcpy with a variable length is a call; with the common element sizes
 * spelled out as constants the compiler emits a single move.  The gathers
 * (engine/gather.c) and --verify (engine/verify.c) copy element by element
 * through this one function.
 */
#ifndef UTIL_COPY_H
#define UTIL_COPY_H

#include <stddef.h>
#include <string.h>

static inline void copy_small(unsigned char *d, const unsigned char *s, size_t n)
{
    switch (n) { /* constant sizes: single moves */
    case 2:
        memcpy(d, s, 2);
        break;
    case 4:
        memcpy(d, s, 4);
        break;
    case 8:
        memcpy(d, s, 8);
        break;
    default:
        memcpy(d, s, n);
    }
}

#endif /* UTIL_COPY_H */
