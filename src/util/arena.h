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
 */
#ifndef UTIL_ARENA_H
#define UTIL_ARENA_H

#include <stddef.h>

#define ARENA_BLOCK ((size_t)64 << 10)

typedef struct arena_block arena_block;

typedef struct arena {
    arena_block *head; /* the block pieces come from; the others follow */
} arena;

/* A piece of n bytes (n > 0), aligned for any pointer or 8-byte integer;
 * NULL on overflow or out of memory.  Valid until arena_free(a). */
void *arena_alloc(arena *a, size_t n);

/* A piece of n bytes (n > 0) with no alignment; NULL on overflow or out of
 * memory.  Valid until arena_free(a). */
void *arena_alloc_bytes(arena *a, size_t n);

/* Free every piece; the arena is empty (and usable) again. */
void arena_free(arena *a);

#endif /* UTIL_ARENA_H */
