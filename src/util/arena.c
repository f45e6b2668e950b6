/*
 * arena.c - many small blocks that are freed together (see arena.h).
 *
 * The blocks form a singly linked list, newest first.  Pieces are cut from
 * the head block; when it has no room, a new block becomes the head (the
 * old one's tail is left unused).  A piece too big for a quarter block gets
 * a block of exactly its size, linked behind the head, so the head keeps
 * its room for the small pieces that follow.  An aligned piece starts at
 * the head's next multiple of 8; an unaligned one right where the last
 * piece ended.
 *
 * Head blocks are malloc'd; in an arena marked big, once it holds HUGE_MIN
 * bytes of them, each next one is a slab of HUGE_PAGE bytes from huge_alloc
 * (util/huge.h), or from the owner's slabs faulted in ahead (util/slabs.h),
 * with the block's header at its start, so that an arena of many MB is
 * mapped in huge pages.  arena_trim() gives back the untouched
 * end of such a head: a huge page is resident whole once touched.
 */
#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>

#include "util/huge.h"
#include "util/slabs.h"

#define ALIGN ((size_t)8)

struct arena_block {
    arena_block *next;
    size_t used, cap; /* bytes of data */
    int huge;         /* a HUGE_PAGE slab from huge_alloc, else malloc'd */
    _Alignas(8) unsigned char data[];
};

#define HUGE_CAP (HUGE_PAGE - sizeof(arena_block))

static arena_block *new_block(const arena *a, size_t cap, int huge)
{
    if (cap > SIZE_MAX - sizeof(arena_block))
        return NULL;
    arena_block *b = !huge              ? malloc(sizeof(arena_block) + cap)
                     : a->ahead != NULL ? slab_supply_take(a->ahead)
                                        : huge_alloc(HUGE_PAGE);
    if (b != NULL) {
        b->next = NULL;
        b->used = 0;
        b->cap = huge ? HUGE_CAP : cap;
        b->huge = huge;
    }
    return b;
}

/* A piece of n bytes starting at a multiple of align (1 or ALIGN) of the
 * head block's data (which is itself aligned to ALIGN). */
static void *cut(arena *a, size_t n, size_t align)
{
    if (n == 0 || n > SIZE_MAX - (ALIGN - 1))
        return NULL;
    if (n > ARENA_BLOCK / 4) { /* a block of its own, behind the head */
        arena_block *b = new_block(a, n, 0);
        if (b == NULL)
            return NULL;
        b->used = n;
        if (a->head == NULL) {
            a->head = b;
        } else {
            b->next = a->head->next;
            a->head->next = b;
        }
        return b->data;
    }
    arena_block *h = a->head;
    size_t at = h == NULL ? 0 : (h->used + align - 1) & ~(align - 1);
    if (h == NULL || at > h->cap || h->cap - at < n) {
        int huge = a->big && (a->big_now || a->head_bytes >= HUGE_MIN);
        if ((h = new_block(a, ARENA_BLOCK, huge)) == NULL)
            return NULL;
        a->head_bytes += huge ? HUGE_PAGE : ARENA_BLOCK;
        h->next = a->head;
        a->head = h;
        at = 0;
    }
    h->used = at + n;
    return h->data + at;
}

void *arena_alloc(arena *a, size_t n)
{
    if (n == 0 || n > SIZE_MAX - (ALIGN - 1))
        return NULL;
    return cut(a, (n + ALIGN - 1) & ~(ALIGN - 1), ALIGN);
}

void *arena_alloc_bytes(arena *a, size_t n)
{
    return cut(a, n, 1);
}

void arena_trim(arena *a)
{
    arena_block *h = a->head;
    if (h != NULL && h->huge)
        huge_release(h->data + h->used, h->cap - h->used);
}

void arena_free(arena *a)
{
    arena_block *b = a->head;
    while (b != NULL) {
        arena_block *next = b->next;
        if (b->huge)
            huge_free(b, HUGE_PAGE);
        else
            free(b);
        b = next;
    }
    a->head = NULL;
    a->head_bytes = 0;
}
