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
 */
#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>

#define ALIGN ((size_t)8)

struct arena_block {
    arena_block *next;
    size_t used, cap; /* bytes of data */
    _Alignas(8) unsigned char data[];
};

static arena_block *new_block(size_t cap)
{
    if (cap > SIZE_MAX - sizeof(arena_block))
        return NULL;
    arena_block *b = malloc(sizeof(arena_block) + cap);
    if (b != NULL) {
        b->next = NULL;
        b->used = 0;
        b->cap = cap;
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
        arena_block *b = new_block(n);
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
        if ((h = new_block(ARENA_BLOCK)) == NULL)
            return NULL;
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

void arena_free(arena *a)
{
    arena_block *b = a->head;
    while (b != NULL) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}
