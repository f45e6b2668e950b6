/*
 * arena.h - many small blocks that are freed together.
 *
 * An arena hands out pieces of large blocks it mallocs itself: a piece
 * costs its size rounded up to 8 bytes, where malloc adds a header and
 * rounds to 16 (a 16-byte block takes 32).  Pieces are never freed one by
 * one; arena_free() frees them all.  The pickle VM keeps the item arrays of
 * its tuples, which never change once made, here: a checkpoint of many
 * small tensors makes millions of them.
 *
 * Blocks are ARENA_BLOCK bytes; a piece bigger than a quarter of that gets a
 * block of its own, so a big piece wastes nothing and the unused tail of a
 * block stays below a quarter of it.
 *
 * arena_alloc_bytes() cuts a piece with no alignment, for bytes that are
 * read as bytes only (the VM's strings): it costs exactly its size.
 *
 * An arena whose owner sets `big` (the pickle VM's) makes its next head
 * blocks HUGE_PAGE slabs on transparent huge pages (util/huge.h) once it
 * holds HUGE_MIN bytes of blocks (with `big_now` too, from the first one):
 * a big arena costs a page fault per 2 MiB rather than per 4 KiB, a small
 * one what it did.  An owner done adding pieces calls arena_trim() to give
 * back the untouched end of the last slab.  Not for an arena made while malloc holds much freed memory:
 * malloc'd blocks reuse that memory, slabs would come on top of it.  (The
 * tensor map's, made after the VM's run, is big for a big graph only: the
 * VM frees its large tables as mappings of their own, so malloc's blocks
 * were fresh pages there too, faulted in 4 KiB at a time.)
 */
#ifndef UTIL_ARENA_H
#define UTIL_ARENA_H

#include <stddef.h>

#define ARENA_BLOCK ((size_t)64 << 10)

typedef struct arena_block arena_block;

typedef struct arena {
    arena_block *head;         /* the block pieces come from; the others follow */
    int big;                   /* set by the owner: grows in huge slabs past HUGE_MIN */
    int big_now;               /* set by the owner, with big: huge slabs from the first
                                  head block (it expects many MB) */
    struct slab_supply *ahead; /* set by the owner: the huge slabs' source
                                  (util/slabs.h); NULL: huge_alloc */
    size_t head_bytes;         /* bytes of the blocks made to be heads (not big pieces') */
} arena;

/* A piece of n bytes (n > 0), aligned for any pointer or 8-byte integer;
 * NULL on overflow or out of memory.  Valid until arena_free(a). */
void *arena_alloc(arena *a, size_t n);

/* A piece of n bytes (n > 0) with no alignment; NULL on overflow or out of
 * memory.  Valid until arena_free(a). */
void *arena_alloc_bytes(arena *a, size_t n);

/* Give back the pages of the head block no piece has reached yet, when it
 * is a huge slab: they read as zeros again when a later piece touches them,
 * so the arena stays usable. */
void arena_trim(arena *a);

/* Free every piece; the arena is empty (and usable) again. */
void arena_free(arena *a);

#endif /* UTIL_ARENA_H */
