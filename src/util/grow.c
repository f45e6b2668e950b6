/*
 * grow.c - growing an array by doubling (see grow.h).
 */
#include "util/grow.h"

#include <stdint.h>
#include <stdlib.h>

void *grow_array(void *array, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap && array != NULL)
        return array;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2) {
            n = need;
            break;
        }
        n *= 2;
    }
    if (size == 0 || n > SIZE_MAX / size)
        return NULL;
    void *p = realloc(array, n * size);
    if (p == NULL)
        return NULL;
    *cap = n;
    return p;
}

int grow_in_place(void **arr, size_t *cap, size_t need, size_t size)
{
    void *p = grow_array(*arr, cap, need, size);
    if (p == NULL)
        return 0;
    *arr = p;
    return 1;
}
