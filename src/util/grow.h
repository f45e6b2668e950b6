/*
 * grow.h - growing an array by doubling, with the multiplications checked.
 *
 * Every append-to-a-list in the library goes through grow_array() rather
 * than its own realloc arithmetic, so that the overflow checks are written
 * once.
 */
#ifndef UTIL_GROW_H
#define UTIL_GROW_H

#include <stddef.h>

/* array, grown (realloc) to hold at least need elements of size bytes:
 * *cap doubles from 8 until it is enough.  Returns the new array, or NULL
 * (array unchanged, still owned by the caller) on overflow or out of
 * memory.  An array already big enough is returned as it is. */
void *grow_array(void *array, size_t *cap, size_t need, size_t size);

/* The same for an array held at *arr: 1 when it holds need, 0 otherwise. */
int grow_in_place(void **arr, size_t *cap, size_t need, size_t size);

#endif /* UTIL_GROW_H */
