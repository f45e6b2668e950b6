/*
 * huge.c - memory on transparent huge pages (see huge.h).
 *
 * huge_alloc maps HUGE_PAGE - 4 KiB bytes more than asked, unmaps the
 * head before the first HUGE_PAGE boundary and the tail after the n bytes
 * (rounded up to whole 4 KiB pages): the mapping left starts on the
 * boundary, so each of its whole 2 MiB ranges can be one huge page.  Its
 * tail short of a whole 2 MiB is never a huge page (the kernel only maps
 * ranges that lie inside the mapping whole), so a block of exactly n bytes
 * costs at most what 4 KiB pages would have.  madvise's answer is not
 * checked: the advice is only a hint (a kernel without transparent huge
 * pages refuses it, and the memory works the same).
 *
 * The big tables pick their allocator by their size alone (under HUGE_MIN:
 * malloc), so big_free and big_grow know where a table came from from the
 * size its owner keeps.  A big table is mapped in whole huge pages
 * (big_len), so that growing it is one mremap that moves its pages, huge
 * ones whole, where a copy would have the kernel zero them all again first;
 * growing one past HUGE_MIN copies it out of malloc's heap once.
 */
#include "util/huge.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The system's page size (4 KiB on x86-64). */
static size_t small_page(void)
{
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (size_t)n : 4096;
}

static void advise(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

/* The whole huge pages inside [p, p + n) given to fn (none under HUGE_MIN). */
static void inside(void *p, size_t n, void (*fn)(void *, size_t))
{
    if (n < HUGE_MIN)
        return;
    uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (end > start)
        fn((void *)start, end - start);
}

static void unadvise(void *p, size_t n)
{
#ifdef MADV_NOHUGEPAGE
    (void)madvise(p, n, MADV_NOHUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

void huge_advise(void *p, size_t n)
{
    inside(p, n, advise);
}

void huge_unadvise(void *p, size_t n)
{
    inside(p, n, unadvise);
}

void *huge_alloc(size_t n)
{
    size_t page = small_page();
    if (n == 0 || n > SIZE_MAX - 2 * HUGE_PAGE)
        return NULL;
    size_t len = (n + page - 1) & ~(page - 1), span = len + HUGE_PAGE - page;
    unsigned char *map = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                              0);
    if (map == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    size_t head = start - (uintptr_t)map, tail = span - head - len;
    if (head > 0)
        munmap(map, head);
    if (tail > 0)
        munmap(map + head + len, tail);
    advise(map + head, len);
    return map + head;
}

void huge_free(void *p, size_t n)
{
    if (p == NULL || n == 0)
        return;
    size_t page = small_page();
    munmap(p, (n + page - 1) & ~(page - 1));
}

void huge_release(void *p, size_t n)
{
    size_t page = small_page();
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(uintptr_t)(page - 1);
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_DONTNEED);
}

/* The length of the mapping of a big table of n >= HUGE_MIN bytes: whole
 * huge pages, so that mremap moves it a huge page at a time. */
static size_t big_len(size_t n)
{
    return n > SIZE_MAX - HUGE_PAGE ? SIZE_MAX : (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

void *big_calloc(size_t n)
{
    if (n == 0)
        return NULL;
    return n < HUGE_MIN ? calloc(1, n) : huge_alloc(big_len(n)); /* a new mapping reads as zeros */
}

void *big_realloc(void *p, size_t old, size_t n)
{
    if (n <= old)
        return NULL;
    if (n < HUGE_MIN)
        return realloc(p, n);
#ifdef MREMAP_MAYMOVE
    if (old >= HUGE_MIN) { /* the kernel moves the pages: no copy, nothing zeroed again */
        void *q = mremap(p, big_len(old), big_len(n), MREMAP_MAYMOVE);
        if (q != MAP_FAILED)
            return q;
    }
#endif
    unsigned char *q = huge_alloc(big_len(n));
    if (q != NULL && old > 0) {
        memcpy(q, p, old);
        big_free(p, old);
    }
    return q;
}

void *big_grow(void *p, size_t old, size_t n)
{
    unsigned char *q = big_realloc(p, old, n);
    if (q != NULL && n < HUGE_MIN) /* a new mapping reads as zeros */
        memset(q + old, 0, n - old);
    return q;
}

void big_free(void *p, size_t n)
{
    if (n < HUGE_MIN)
        free(p);
    else
        huge_free(p, big_len(n));
}

void *big_calloc_whole(size_t n)
{
    if (n == 0)
        return NULL;
    return n < HUGE_PAGE ? calloc(1, n) : huge_alloc(big_len(n)); /* a new mapping reads as zeros */
}

void big_free_whole(void *p, size_t n)
{
    if (n < HUGE_PAGE)
        free(p);
    else
        huge_free(p, big_len(n));
}
