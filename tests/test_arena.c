/*
 * test_arena.c - the arena of small pieces freed together (src/util/arena.h):
 * alignment, pieces that stay intact across many blocks, pieces bigger than
 * a block's quarter (first, between small ones), the refused sizes, and
 * reuse after arena_free.  Overflows would show under ASan (make test).
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"

TestSuite(arena);

typedef struct piece {
    unsigned char *p;
    size_t n;
} piece;

/* Fill piece i with bytes that depend on i and on the position. */
static void fill(piece *pc, size_t i)
{
    for (size_t k = 0; k < pc->n; k++)
        pc->p[k] = (unsigned char)(i * 31 + k);
}

static void check_filled(const piece *pc, size_t i)
{
    for (size_t k = 0; k < pc->n; k++)
        cr_assert_eq(pc->p[k], (unsigned char)(i * 31 + k), "piece %zu byte %zu", i, k);
}

/* Sizes 1..97 cycling, with a piece bigger than a quarter block every
 * big_every pieces (0: none). */
static size_t size_of(size_t i, size_t big_every)
{
    if (big_every && i % big_every == 0)
        return ARENA_BLOCK / 4 + 1 + i % 3 * ARENA_BLOCK;
    return 1 + i % 97;
}

static void run_pieces(size_t count, size_t big_every)
{
    arena a = {0};
    piece *pcs = calloc(count, sizeof *pcs);
    cr_assert_not_null(pcs);
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        pcs[i].n = size_of(i, big_every);
        pcs[i].p = arena_alloc(&a, pcs[i].n);
        cr_assert_not_null(pcs[i].p, "piece %zu", i);
        cr_assert_eq((uintptr_t)pcs[i].p % 8, 0, "piece %zu is not 8-aligned", i);
        fill(&pcs[i], i);
        total += pcs[i].n;
    }
    cr_assert_gt(total, 4 * ARENA_BLOCK, "the test must span several blocks");
    for (size_t i = 0; i < count; i++)
        check_filled(&pcs[i], i);
    arena_free(&a);
    cr_assert_null(a.head);
    free(pcs);
}

Test(arena, small_pieces_span_blocks_intact)
{
    run_pieces(20000, 0);
}

Test(arena, big_pieces_first_and_between_small_ones)
{
    run_pieces(20000, 1000); /* piece 0 is a big one: the arena starts with it */
}

Test(arena, refuses_zero_and_overflowing_sizes)
{
    arena a = {0};
    cr_assert_null(arena_alloc(&a, 0));
    cr_assert_null(arena_alloc(&a, SIZE_MAX));
    cr_assert_null(arena_alloc(&a, SIZE_MAX - 7));
    cr_assert_null(a.head);
}

Test(arena, usable_again_after_free)
{
    arena a = {0};
    unsigned char *p = arena_alloc(&a, 10);
    cr_assert_not_null(p);
    arena_free(&a);
    cr_assert_null(a.head);
    p = arena_alloc(&a, ARENA_BLOCK / 4);
    cr_assert_not_null(p);
    memset(p, 0xab, ARENA_BLOCK / 4);
    unsigned char *q = arena_alloc(&a, ARENA_BLOCK / 4);
    cr_assert_not_null(q);
    memset(q, 0xcd, ARENA_BLOCK / 4);
    cr_assert_eq(p[ARENA_BLOCK / 4 - 1], 0xab);
    arena_free(&a);
}

Test(arena, byte_pieces_cost_their_size_and_keep_later_pieces_aligned)
{
    arena a = {0};
    unsigned char *p = arena_alloc_bytes(&a, 3);
    unsigned char *q = arena_alloc_bytes(&a, 5);
    cr_assert_not_null(p);
    cr_assert_eq(q, p + 3, "an unaligned piece follows the last one directly");
    memcpy(p, "abc", 3);
    memcpy(q, "defgh", 5);
    unsigned char *r = arena_alloc(&a, 1);
    cr_assert_eq((uintptr_t)r % 8, 0, "an aligned piece after byte pieces is 8-aligned");
    cr_assert_eq(r, p + 8);
    unsigned char *s = arena_alloc_bytes(&a, 1);
    cr_assert_eq(s, r + 8, "the aligned piece still costs 8 bytes");
    cr_assert_arr_eq(p, "abcdefgh", 8);
    cr_assert_null(arena_alloc_bytes(&a, 0));
    cr_assert_null(arena_alloc_bytes(&a, SIZE_MAX));
    arena_free(&a);
}

Test(arena, byte_pieces_span_blocks_intact)
{
    arena a = {0};
    enum { COUNT = 30000 };
    static piece pcs[COUNT];
    size_t total = 0;
    for (size_t i = 0; i < COUNT; i++) {
        pcs[i].n = 1 + i % 13;
        pcs[i].p = arena_alloc_bytes(&a, pcs[i].n);
        cr_assert_not_null(pcs[i].p, "piece %zu", i);
        fill(&pcs[i], i);
        total += pcs[i].n;
    }
    cr_assert_gt(total, 2 * ARENA_BLOCK, "the test must span several blocks");
    for (size_t i = 0; i < COUNT; i++)
        check_filled(&pcs[i], i);
    arena_free(&a);
}
