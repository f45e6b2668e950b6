/*
 * huge.h - memory of the library's few very large structures, on
 * transparent huge pages where the system offers them.
 *
 * Why: a checkpoint of 200,000 small tensors makes a pickle graph of about
 * 150 MB, and the kernel maps anonymous memory one 4 KiB page at a time on
 * first touch: some 50,000 page faults, a third of the run.  Linux maps a
 * region advised with madvise(MADV_HUGEPAGE) in 2 MiB pages instead (in the
 * usual "madvise" mode of /sys/kernel/mm/transparent_hugepage/enabled), one
 * fault per 2 MiB.  Elsewhere the advice is a no-op.
 *
 * The cost: a huge page is resident whole once any byte of it is touched,
 * where 4 KiB pages become resident one by one.  So the advice only goes to
 * structures of several MB that are filled from their start (a buffer read
 * whole, an array or arena that grows): the most a structure can hold
 * resident that 4 KiB pages would not is the one huge page it is filling,
 * and the pickle VM gives back the untouched end of its last slabs after
 * its run.  In memory malloc gave, only whole 2 MiB pages inside the block
 * are advised (never the ends it shares with malloc's other blocks).
 * Small inputs use exactly the memory they did.
 *
 *   huge_advise(p, n)  advises the whole huge pages inside [p, p + n) of
 *                      memory the caller owns (say a malloc'd buffer about to
 *                      be filled); nothing when n < HUGE_MIN.
 *   huge_unadvise(p, n) once that buffer is filled: the same pages advised
 *                      MADV_NOHUGEPAGE.  Those filled stay huge pages; but
 *                      the buffer may lie in malloc's heap, whose memory is
 *                      used again after free(): advised, a later touch there
 *                      would take a whole huge page, and khugepaged could
 *                      turn sparse ranges into huge pages in a long-running
 *                      program.
 *   huge_alloc(n)      n bytes of zeroed memory in a mapping of their own
 *                      that starts on a HUGE_PAGE boundary, advised; the
 *                      pickle VM cuts its node chunks from such slabs.
 *   huge_free(p, n)    unmaps what huge_alloc(n) returned.
 *   huge_release(p, n) gives back the pages of [p, p + n) (inside a
 *                      huge_alloc block) that hold nothing any more: they
 *                      read as zeros again when touched.
 *
 * Big tables: the pickle VM's memo and dict-key index are megabytes while
 * it runs and are freed when it stops, and the tensor map's array of
 * tensors doubles as it grows.  Taken from malloc, they leave resident holes
 * in its heap that the blocks made after them (the graph's slabs) never
 * fill.  big_calloc(n) and big_grow() take n bytes from malloc
 * under HUGE_MIN and from huge_alloc from there on (whole huge pages, which
 * big_grow moves with mremap); big_free() gives the latter straight back to
 * the system.  The caller keeps each table's size.  A table written all
 * over at once (a hash table) has big_calloc_whole: huge pages from
 * HUGE_PAGE on, since all of its pages are resident anyway.
 */
#ifndef UTIL_HUGE_H
#define UTIL_HUGE_H

#include <stddef.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MIN ((size_t)4 << 20)

void huge_advise(void *p, size_t n);

void huge_unadvise(void *p, size_t n);

void *huge_alloc(size_t n);

void huge_free(void *p, size_t n);

void huge_release(void *p, size_t n);

/* n zeroed bytes (n > 0) for a big table; NULL when out of memory.  Free
 * with big_free(p, n). */
void *big_calloc(size_t n);

/* Table p of old bytes (from big_calloc, big_grow or big_realloc; NULL
 * when old is 0) grown to n > old bytes: its bytes kept, the new ones zero.
 * NULL when out of memory, p then untouched and still the caller's. */
void *big_grow(void *p, size_t old, size_t n);

/* The same, the new bytes left unset (an array filled as it grows). */
void *big_realloc(void *p, size_t old, size_t n);

/* Free table p of n bytes (NULL: nothing). */
void big_free(void *p, size_t n);

/* n zeroed bytes (n > 0) for a table written all over as soon as it is
 * made (a hash table being filled or rehashed into): all its pages become
 * resident at once, so from HUGE_PAGE bytes on it is a mapping of whole huge
 * pages (one page fault per 2 MiB, where calloc's block, not aligned, took
 * hundreds of 4 KiB faults); under that, calloc.  NULL when out of memory.
 * Free with big_free_whole(p, n). */
void *big_calloc_whole(size_t n);
void big_free_whole(void *p, size_t n);

#endif /* UTIL_HUGE_H */
