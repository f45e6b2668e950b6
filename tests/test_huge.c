/*
 * test_huge.c - memory on transparent huge pages (src/util/huge.h) and its
 * users: huge_alloc's alignment, zeroes, sizes and unmapping; huge_advise
 * advising exactly the whole 2 MiB pages inside a range, huge_unadvise
 * marking the same ones "no huge pages"; huge_release
 * zeroing exactly the whole small pages inside one; the big tables
 * (big_calloc, big_grow, big_realloc, big_free) below and past HUGE_MIN,
 * and those written whole at once (big_calloc_whole) past HUGE_PAGE;
 * an arena marked big switching to slabs after HUGE_MIN bytes with its
 * pieces intact (and usable after arena_trim); a pickle whose graph, memo
 * and dict index all pass HUGE_MIN, read back whole (its node and arena
 * slabs faulted in ahead on a thread, util/slabs.h); slabs taken from that
 * thread and without it; and a tensor map whose tensors array passes
 * HUGE_MIN.
 *
 * Whether a range is advised is read from /proc/self/smaps (the "hg" flag
 * of VmFlags).  A kernel without transparent huge pages refuses the advice:
 * the tests then expect no range advised.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pickle/pvm.h"
#include "pickle_builder.h"
#include "torch/tmap.h"
#include "util/arena.h"
#include "util/huge.h"
#include "util/slabs.h"

TestSuite(huge);

#define PAGE ((size_t)sysconf(_SC_PAGESIZE))

static int thp_available(void)
{
    return access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
}

/* The VmFlags line of the mapping that holds a ("" when none). */
static void flags_of(const void *a, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    cr_assert_not_null(f);
    char line[512];
    int found = 0;
    out[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        unsigned long ls, le;
        if (line[0] < 'A' || line[0] > 'Z') {
            if (found)
                break;
            found = sscanf(line, "%lx-%lx", &ls, &le) == 2 && (uintptr_t)a >= ls &&
                    (uintptr_t)a < le;
        } else if (found && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, cap, "%s", line + 8);
        }
    }
    fclose(f);
}

/* The mapping of /proc/self/smaps that holds address a: its bounds, and
 * whether it is advised for huge pages.  0 when no mapping holds a. */
static int mapping_of(const void *a, uintptr_t *start, uintptr_t *end, int *advised)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    cr_assert_not_null(f);
    char line[512];
    int found = 0;
    uintptr_t s = 0, e = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long ls, le;
        if (line[0] < 'A' || line[0] > 'Z') { /* a mapping's first line */
            if (found)
                break;
            if (sscanf(line, "%lx-%lx", &ls, &le) == 2 && (uintptr_t)a >= ls && (uintptr_t)a < le) {
                found = 1;
                s = ls;
                e = le;
            }
        } else if (found && strncmp(line, "VmFlags:", 8) == 0) {
            *advised = strstr(line, " hg") != NULL;
        }
    }
    fclose(f);
    *start = s;
    *end = e;
    return found;
}

static int is_advised(const void *a)
{
    uintptr_t s, e;
    int advised = 0;
    cr_assert(mapping_of(a, &s, &e, &advised), "%p is not mapped", a);
    return advised;
}

/* Whether the page at a is mapped (mincore fails with ENOMEM when not). */
static int is_mapped(const void *a)
{
    unsigned char vec;
    if (mincore((void *)a, PAGE, &vec) == 0)
        return 1;
    cr_assert_eq(errno, ENOMEM);
    return 0;
}

Test(huge, alloc_is_aligned_zeroed_writable_and_unmapped_by_free)
{
    size_t sizes[] = {1, 4096, 5000, HUGE_PAGE, 3 * HUGE_PAGE + 5};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k], len = (n + PAGE - 1) / PAGE * PAGE;
        unsigned char *p = huge_alloc(n);
        cr_assert_not_null(p, "size %zu", n);
        cr_assert_eq((uintptr_t)p % HUGE_PAGE, 0, "size %zu: not on a 2 MiB boundary", n);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(p[i], 0, "size %zu: byte %zu is not zero", n, i);
        for (size_t i = 0; i < n; i++)
            p[i] = (unsigned char)(i * 7 + k);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(p[i], (unsigned char)(i * 7 + k));
        cr_assert_eq(is_advised(p), thp_available(), "size %zu", n);
        cr_assert(is_mapped(p + len - PAGE));
        huge_free(p, n);
        for (size_t at = 0; at < len; at += PAGE)
            cr_assert_not(is_mapped(p + at), "size %zu: page %zu still mapped", n, at / PAGE);
    }
}

Test(huge, alloc_refuses_zero_and_overflowing_sizes)
{
    cr_assert_null(huge_alloc(0));
    cr_assert_null(huge_alloc(SIZE_MAX));
    cr_assert_null(huge_alloc(SIZE_MAX - 2 * HUGE_PAGE + 1));
}

/* A mapping of 6 huge pages on a 2 MiB boundary, not advised. */
static unsigned char *plain_aligned(unsigned char **map, size_t *span)
{
    *span = 7 * HUGE_PAGE;
    *map = mmap(NULL, *span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(*map, MAP_FAILED);
    uintptr_t a = ((uintptr_t)*map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    return (unsigned char *)a;
}

Test(huge, advise_takes_exactly_the_whole_huge_pages_inside)
{
    unsigned char *map;
    size_t span;
    unsigned char *a = plain_aligned(&map, &span);
    huge_advise(a + 100, 4 * HUGE_PAGE); /* [a + 100, a + 8 MiB + 100): pages 1..3 whole */
    cr_assert_not(is_advised(a));
    cr_assert_not(is_advised(a + HUGE_PAGE - 1));
    cr_assert_not(is_advised(a + 4 * HUGE_PAGE));
    if (thp_available()) {
        uintptr_t s, e;
        int advised = 0;
        cr_assert(mapping_of(a + HUGE_PAGE, &s, &e, &advised));
        cr_assert(advised);
        cr_assert_eq(s, (uintptr_t)(a + HUGE_PAGE));
        cr_assert_eq(e, (uintptr_t)(a + 4 * HUGE_PAGE));
    } else {
        cr_assert_not(is_advised(a + HUGE_PAGE));
    }
    munmap(map, span);
}

Test(huge, advise_leaves_ranges_under_huge_min_alone)
{
    unsigned char *map;
    size_t span;
    unsigned char *a = plain_aligned(&map, &span);
    huge_advise(a, HUGE_MIN - 1); /* holds one whole huge page, yet too small */
    cr_assert_not(is_advised(a));
    huge_advise(a, HUGE_MIN);
    cr_assert_eq(is_advised(a), thp_available());
    cr_assert_eq(is_advised(a + HUGE_PAGE), thp_available());
    cr_assert_not(is_advised(a + 2 * HUGE_PAGE));
    munmap(map, span);
}

/* Advised, filled, unadvised: the same pages marked "no huge pages" (nh),
 * and their bytes kept. */
Test(huge, unadvise_marks_the_same_pages_no_huge)
{
    unsigned char *map;
    size_t span;
    unsigned char *a = plain_aligned(&map, &span);
    huge_advise(a + 100, 4 * HUGE_PAGE);
    memset(a, 0x5a, 5 * HUGE_PAGE);
    huge_unadvise(a + 100, 4 * HUGE_PAGE);
    char flags[512];
    flags_of(a + HUGE_PAGE, flags, sizeof flags);
    cr_assert_null(strstr(flags, " hg"), "%s", flags);
    if (thp_available())
        cr_assert_not_null(strstr(flags, " nh"), "%s", flags);
    flags_of(a, flags, sizeof flags);
    cr_assert_null(strstr(flags, " nh"), "the partial page before is left alone: %s", flags);
    for (size_t i = 0; i < 5 * HUGE_PAGE; i += 4096)
        cr_assert_eq(a[i], 0x5a);
    huge_unadvise(a, HUGE_MIN - 1); /* under HUGE_MIN: nothing */
    flags_of(a, flags, sizeof flags);
    cr_assert_null(strstr(flags, " nh"), "%s", flags);
    munmap(map, span);
}

Test(huge, release_zeroes_exactly_the_whole_pages_inside)
{
    unsigned char *p = huge_alloc(HUGE_PAGE);
    cr_assert_not_null(p);
    memset(p, 0xaa, HUGE_PAGE);
    huge_release(p + 100, 3 * PAGE); /* [100, 3 pages + 100): pages 1 and 2 whole */
    for (size_t i = 0; i < HUGE_PAGE; i++) {
        int released = i >= PAGE && i < 3 * PAGE;
        cr_assert_eq(p[i], released ? 0 : 0xaa, "byte %zu", i);
    }
    p[PAGE] = 1; /* usable again */
    cr_assert_eq(p[PAGE], 1);
    huge_release(p + 1, PAGE - 2); /* no whole page inside: nothing */
    cr_assert_eq(p[1], 0xaa);
    huge_free(p, HUGE_PAGE);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 13 + seed);
}

static void check_pattern(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(p[i], (unsigned char)(i * 13 + seed), "byte %zu", i);
}

static void check_zero(const unsigned char *p, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        cr_assert_eq(p[i], 0, "byte %zu", i);
}

/* Tables written all over at once: calloc under HUGE_PAGE, from there a
 * mapping of whole huge pages of its own, zeroed, unmapped by its free. */
Test(huge, whole_tables_are_huge_from_one_huge_page)
{
    cr_assert_null(big_calloc_whole(0));
    size_t sizes[] = {100, HUGE_PAGE - 1, HUGE_PAGE, 3 * HUGE_PAGE + 12};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        unsigned char *t = big_calloc_whole(n);
        cr_assert_not_null(t, "%zu", n);
        check_zero(t, 0, n);
        fill_pattern(t, n, (unsigned)k + 1);
        check_pattern(t, n, (unsigned)k + 1);
        if (n >= HUGE_PAGE)
            cr_expect_eq((uintptr_t)t % HUGE_PAGE, 0, "%zu bytes: whole huge pages", n);
        big_free_whole(t, n);
        if (n >= HUGE_PAGE)
            cr_expect_not(is_mapped(t), "%zu bytes: unmapped by big_free_whole", n);
    }
    big_free_whole(NULL, 10);
}

Test(huge, big_tables_grow_below_and_past_huge_min)
{
    cr_assert_null(big_calloc(0));
    unsigned char *t = big_calloc(100);
    cr_assert_not_null(t);
    check_zero(t, 0, 100);
    fill_pattern(t, 100, 1);
    cr_assert_null(big_grow(t, 100, 100), "a table only grows");
    cr_assert_null(big_grow(t, 100, 50));
    size_t sizes[] = {1000, HUGE_MIN - 1, HUGE_MIN, 3 * HUGE_MIN + 8};
    size_t old = 100;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        unsigned char *g = big_grow(t, old, n);
        cr_assert_not_null(g, "to %zu", n);
        check_pattern(g, old, (unsigned)k + 1);
        check_zero(g, old, n);
        if (old < HUGE_MIN && n >= HUGE_MIN) /* from huge_alloc: a mapping of its own */
            cr_assert_eq((uintptr_t)g % HUGE_PAGE, 0, "to %zu", n);
        fill_pattern(g, n, (unsigned)k + 2);
        t = g;
        old = n;
    }
    big_free(t, old);
    cr_assert_not(is_mapped(t), "a big table is unmapped by big_free");
    unsigned char *h = big_calloc(HUGE_MIN);
    cr_assert_not_null(h);
    cr_assert_eq((uintptr_t)h % HUGE_PAGE, 0);
    check_zero(h, 0, HUGE_MIN);
    big_free(h, HUGE_MIN);
    big_free(NULL, 10);
    big_free(NULL, HUGE_MIN);
}

Test(huge, big_realloc_keeps_the_bytes_below_and_past_huge_min)
{
    unsigned char *t = big_realloc(NULL, 0, 64);
    cr_assert_not_null(t);
    fill_pattern(t, 64, 3);
    cr_assert_null(big_realloc(t, 64, 64));
    size_t sizes[] = {HUGE_MIN / 2, HUGE_MIN, 2 * HUGE_MIN + 24};
    size_t old = 64;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        unsigned char *g = big_realloc(t, old, n);
        cr_assert_not_null(g, "to %zu", n);
        check_pattern(g, old, (unsigned)k + 3);
        if (old < HUGE_MIN && n >= HUGE_MIN) /* out of malloc's heap into a mapping */
            cr_assert_eq((uintptr_t)g % HUGE_PAGE, 0, "to %zu", n);
        if (n >= HUGE_MIN) /* a mapping of whole huge pages */
            cr_assert(is_mapped(g + (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE - PAGE));
        fill_pattern(g, n, (unsigned)k + 4);
        t = g;
        old = n;
    }
    big_free(t, old);
    cr_assert_not(is_mapped(t));
}

/* Pieces of 24 bytes (a pvm tuple's items) until the arena is well past
 * HUGE_MIN: those cut after the switch lie in HUGE_PAGE slabs, every piece
 * keeps its bytes, and arena_trim leaves the arena usable. */
Test(huge, big_arena_moves_to_slabs_past_huge_min)
{
    enum { N = 400000, SIZE = 24 }; /* 9.6 MB */
    arena a = {0};
    a.big = 1;
    unsigned char **pcs = calloc(N, sizeof *pcs);
    cr_assert_not_null(pcs);
    size_t slabs = 0;
    for (size_t i = 0; i < N; i++) {
        size_t before = a.head_bytes;
        pcs[i] = arena_alloc(&a, SIZE);
        cr_assert_not_null(pcs[i]);
        cr_assert_eq((uintptr_t)pcs[i] % 8, 0);
        fill_pattern(pcs[i], SIZE, (unsigned)i);
        if (a.head_bytes == before)
            continue;
        if (before < HUGE_MIN) { /* a malloc'd block */
            cr_assert_eq(a.head_bytes, before + ARENA_BLOCK, "piece %zu", i);
            continue;
        }
        /* a slab: the piece follows the block's header at its start */
        cr_assert_eq(a.head_bytes, before + HUGE_PAGE, "piece %zu", i);
        cr_assert_lt((uintptr_t)pcs[i] % HUGE_PAGE, 64, "piece %zu", i);
        cr_assert_eq(is_advised(pcs[i]), thp_available(), "piece %zu", i);
        slabs++;
    }
    cr_assert_eq(slabs, 3, "9.6 MB: 4 MiB of blocks, then three slabs");
    arena_trim(&a);
    for (size_t i = 0; i < N; i++)
        check_pattern(pcs[i], SIZE, (unsigned)i);
    for (size_t i = 0; i < 1000; i++) { /* into the trimmed end: zeros again, then ours */
        unsigned char *p = arena_alloc(&a, SIZE);
        cr_assert_not_null(p);
        check_zero(p, 0, SIZE);
        fill_pattern(p, SIZE, 7);
        check_pattern(p, SIZE, 7);
    }
    check_pattern(pcs[N - 1], SIZE, (unsigned)(N - 1));
    arena_free(&a);
    cr_assert_null(a.head);
    cr_assert_eq(a.head_bytes, 0);
    free(pcs);
}

/* big_now: slabs from the first head block (the VM's arenas for a pickle
 * of megabytes, the map's for a big graph); unaligned byte pieces too. */
Test(huge, big_now_arena_takes_slabs_from_the_first_block)
{
    enum { N = 300000, SIZE = 13 }; /* 3.9 MB: under HUGE_MIN, still slabs */
    arena a = {0};
    a.big = a.big_now = 1;
    unsigned char **pcs = calloc(N, sizeof *pcs);
    cr_assert_not_null(pcs);
    size_t slabs = 0;
    for (size_t i = 0; i < N; i++) {
        size_t before = a.head_bytes;
        pcs[i] = arena_alloc_bytes(&a, SIZE);
        cr_assert_not_null(pcs[i]);
        fill_pattern(pcs[i], SIZE, (unsigned)i);
        if (a.head_bytes == before)
            continue;
        cr_assert_eq(a.head_bytes, before + HUGE_PAGE, "piece %zu: a malloc'd block", i);
        cr_assert_lt((uintptr_t)pcs[i] % HUGE_PAGE, 64, "piece %zu", i);
        slabs++;
    }
    cr_assert_eq(slabs, 2, "3.9 MB: two slabs");
    arena_trim(&a);
    for (size_t i = 0; i < N; i++)
        check_pattern(pcs[i], SIZE, (unsigned)i);
    arena_free(&a);
    cr_assert_null(a.head);
    free(pcs);
}

Test(huge, arena_not_marked_big_never_takes_slabs)
{
    arena a = {0};
    size_t huge_heads = 0;
    for (size_t i = 0; i < 400000; i++) {
        unsigned char *p = arena_alloc(&a, 24);
        cr_assert_not_null(p);
        if (i % 2000 == 0) /* a piece in every block of 64 KiB but a few */
            huge_heads += is_advised(p);
    }
    cr_assert_eq(huge_heads, 0);
    arena_free(&a);
}

/* {'k0': ('k0', 0), 'k1': ('k1', 1), ...} with every key and tuple put in
 * the memo, and the first keys set again from the memo at the end:
 * 900,000 nodes (node slabs), a memo of 2 x N entries (a dense table past
 * HUGE_MIN), N keys in the dict index (past HUGE_MIN) and tuple items past
 * HUGE_MIN in the arena. */
Test(huge, pickle_past_every_threshold_reads_back_whole)
{
    enum { N = 300000, AGAIN = 1000 };
    pb p = {0};
    pb_proto(&p, 2);
    pb_empty_dict(&p);
    char key[32];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%u", i);
        pb_str(&p, key);
        pb_put(&p, 2 * i);
        pb_mark(&p);
        pb_get(&p, 2 * i);
        pb_int(&p, (int64_t)i * 1000);
        pb_tuple(&p);
        pb_put(&p, 2 * i + 1);
        pb_setitem(&p);
    }
    for (uint32_t i = 0; i < AGAIN; i++) { /* d[k_i] = d[k_(i+1)]'s tuple */
        pb_get(&p, 2 * i);
        pb_get(&p, 2 * i + 3);
        pb_setitem(&p);
    }
    pb_stop(&p);
    pvm *vm = pvm_new(NULL);
    cr_assert_not_null(vm);
    c2s_error err;
    c2s_error_clear(&err);
    pvm_value *top = NULL;
    size_t end = 0;
    cr_assert_eq(pvm_run(vm, p.buf, p.len, &top, &end, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(end, p.len);
    cr_assert_eq(top->kind, PVM_DICT);
    cr_assert_eq(top->u.dict.len, N, "keys set again keep their place");
    for (uint32_t i = 0; i < N; i++) {
        const pvm_pair *pr = &top->u.dict.pairs[i];
        snprintf(key, sizeof key, "k%u", i);
        cr_assert_eq(pr->key->kind, PVM_STR);
        cr_assert_str_eq(pr->key->u.str.data, key);
        uint32_t want = i < AGAIN ? i + 1 : i;
        const pvm_value *t = pr->val;
        cr_assert_eq(t->kind, PVM_TUPLE, "value %u", i);
        cr_assert_eq(t->u.seq.len, 2);
        snprintf(key, sizeof key, "k%u", want);
        cr_assert_str_eq(t->u.seq.items[0]->u.str.data, key, "value %u", i);
        cr_assert_eq(t->u.seq.items[1]->u.i, (int64_t)want * 1000, "value %u", i);
        if (i >= AGAIN)
            cr_assert_eq(t->u.seq.items[0], pr->key, "the memo gives the key's node back");
    }
    size_t nodes = pvm_object_count(vm);
    cr_assert_gt(nodes, 4 * 65536, "the graph must pass the malloc'd chunks");
    for (size_t i = 0; i < nodes; i++)
        cr_assert_eq(pvm_node_at(vm, i)->id, i, "node %zu", i);
    pvm_free(vm);
    pb_free(&p);
}

/* {'t0': tensor, 't1': tensor, ...}: 40,000 tensors make a tensors array
 * of more than HUGE_MIN, a big table of tmap_build's, freed by tmap_free. */
static void tensor_map_past_huge_min(int with_faulter, size_t N)
{
    pb p = {0};
    pb_proto(&p, 2);
    pb_empty_dict(&p);
    char key[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(key, sizeof key, "t%zu", i);
        pb_str(&p, key);
        snprintf(key, sizeof key, "%zu", i);
        pb_vec_f32(&p, key, 1 + i % 5);
        pb_setitem(&p);
    }
    pb_stop(&p);
    pvm *vm = pvm_new(NULL);
    cr_assert_not_null(vm);
    c2s_error err;
    c2s_error_clear(&err);
    pvm_value *top = NULL;
    cr_assert_eq(pvm_run(vm, p.buf, p.len, &top, NULL, &err), C2S_OK, "%s", err.msg);
    tmap map;
    tmap_options to = {0};
    slab_supply faulter = {0};
    if (with_faulter) {
        slab_supply_start(&faulter);
        slab_supply_quiet(&faulter); /* as the VM leaves it after its run */
        to.faulter = &faulter;
    }
    cr_assert_eq(tmap_build(top, pvm_value_count(vm), &to, &map, &err), C2S_OK, "%s", err.msg);
    slab_supply_stop(&faulter);
    cr_assert_eq(map.ntensors, N);
    cr_assert_eq(map.nstorages, N);
    cr_assert_geq(map.tensors_bytes, HUGE_MIN);
    cr_assert_geq(map.tensors_bytes, N * sizeof *map.tensors);
    cr_assert(is_mapped(map.tensors), "a mapping of its own");
    cr_assert_geq(map.storages_bytes, N * sizeof *map.storages);
    if (map.storages_bytes >= HUGE_MIN)
        cr_assert_eq((uintptr_t)map.storages % HUGE_PAGE, 0, "the storages' mapping");
    for (size_t i = 0; i < N; i++) {
        const tmap_tensor *t = &map.tensors[i];
        snprintf(key, sizeof key, "t%zu", i);
        cr_assert_str_eq(t->name, key);
        cr_assert_eq(t->dtype, C2S_F32);
        cr_assert_eq(t->ndim, 1);
        cr_assert_eq(t->shape[0], 1 + i % 5);
        cr_assert_eq(t->nbytes, (uint64_t)(4 * (1 + i % 5)));
        snprintf(key, sizeof key, "%zu", i);
        cr_assert_str_eq(map.storages[t->storage].key, key);
    }
    tmap_free(&map);
    cr_assert_null(map.tensors);
    cr_assert_eq(map.tensors_bytes, 0);
    pvm_free(vm);
    pb_free(&p);
}

Test(huge, tensor_map_past_huge_min_is_whole)
{
    tensor_map_past_huge_min(0, 40000);
}

/* The same with a thread faulting the tensors array in a page ahead (the
 * VM's, kept for the map): the same map. */
Test(huge, tensor_map_with_a_faulter_is_the_same)
{
    tensor_map_past_huge_min(1, 40000);
}

/* 180,000 storages pass HUGE_MIN too (24 bytes each): both arrays are big
 * tables, faulted in ahead, and the map is whole. */
Test(huge, tensor_map_storages_past_huge_min)
{
    tensor_map_past_huge_min(1, 180000);
}

/* A slab is HUGE_PAGE bytes on a HUGE_PAGE boundary, all zero, writable,
 * and no other slab's; huge_free takes it back. */
static void expect_fresh_slab(unsigned char *p, unsigned char *seen[], size_t nseen)
{
    cr_assert_not_null(p);
    cr_expect_eq((uintptr_t)p % HUGE_PAGE, 0);
    for (size_t i = 0; i < HUGE_PAGE; i += PAGE / 2)
        cr_assert_eq(p[i], 0, "byte %zu", i);
    cr_assert_eq(p[HUGE_PAGE - 1], 0);
    for (size_t i = 0; i < nseen; i++)
        cr_assert_neq(p, seen[i]);
    memset(p, 0xab, HUGE_PAGE);
}

Test(huge, slabs_from_the_thread_are_zeroed_and_distinct)
{
    enum { N = 3 * SLABS_AHEAD + 1 };
    unsigned char *got[N];
    slab_supply s;
    slab_supply_start(&s);
    for (size_t i = 0; i < N; i++) {
        got[i] = slab_supply_take(&s);
        expect_fresh_slab(got[i], got, i);
        if (i == SLABS_AHEAD)
            usleep(20000); /* let the thread fill up again */
    }
    slab_supply_stop(&s);
    cr_expect_eq(s.nready, 0, "the slabs nobody took are freed");
    cr_expect_eq(s.threaded, 0);
    for (size_t i = 0; i < N; i++)
        huge_free(got[i], HUGE_PAGE);
}

/* The thread's threshold for a slow huge page, set under the lock. */
static void set_cold_ns(slab_supply *s, uint64_t ns)
{
    pthread_mutex_lock(&s->mu);
    s->cold_ns = ns;
    pthread_mutex_unlock(&s->mu);
}

/* small_pages as the thread set it, read under the lock. */
static int small_pages_of(slab_supply *s)
{
    pthread_mutex_lock(&s->mu);
    int small = s->small_pages;
    pthread_mutex_unlock(&s->mu);
    return small;
}

/* Cold memory (slabs.h): once a slab's huge page took more than cold_ns of
 * the thread's CPU time to fault in, the slabs after it come in 4 KiB
 * pages ("nh" in smaps), from the thread and from slab_supply_take's own
 * mapping alike, still zeroed; with a threshold no fault reaches, never. */
Test(huge, slabs_turn_small_once_a_huge_page_faults_in_slowly)
{
    slab_supply s;
    slab_supply_start(&s);
    cr_assert(s.threaded);
    set_cold_ns(&s, 0); /* any populate is "slow" */
    unsigned char *got[16];
    size_t n = 0;
    for (; n < 16 && !small_pages_of(&s); n++) {
        got[n] = slab_supply_take(&s);
        expect_fresh_slab(got[n], got, n);
        usleep(5000); /* the thread maps the next one meanwhile */
    }
    cr_assert(small_pages_of(&s), "no slab was taken as cold in %zu", n);
    for (size_t i = 0; i < 2 * SLABS_AHEAD + 1; i++, n++) {
        got[n] = slab_supply_take(&s);
        expect_fresh_slab(got[n], got, n);
        if (i >= SLABS_AHEAD && thp_available()) { /* mapped after the switch */
            char flags[512];
            flags_of(got[n], flags, sizeof flags);
            cr_expect_not_null(strstr(flags, " nh"), "slab %zu: %s", n, flags);
        }
    }
    slab_supply_stop(&s);
    for (size_t i = 0; i < n; i++)
        huge_free(got[i], HUGE_PAGE);

    slab_supply_start(&s);
    set_cold_ns(&s, UINT64_MAX);
    for (n = 0; n < 8; n++) {
        got[n] = slab_supply_take(&s);
        usleep(2000);
    }
    cr_expect_not(small_pages_of(&s));
    slab_supply_stop(&s);
    for (size_t i = 0; i < n; i++)
        huge_free(got[i], HUGE_PAGE);
}

/* In 4 KiB pages, one slab in SLAB_PROBE_EVERY tries a huge page: when it
 * faults in fast, the slabs go back to huge pages. */
Test(huge, slabs_go_back_to_huge_pages_when_a_probe_is_fast)
{
    slab_supply s;
    slab_supply_start(&s);
    set_cold_ns(&s, 0);
    for (size_t i = 0; i < 16 && !small_pages_of(&s); i++) {
        huge_free(slab_supply_take(&s), HUGE_PAGE);
        usleep(5000);
    }
    cr_assert(small_pages_of(&s));
    set_cold_ns(&s, UINT64_MAX); /* the next huge page is "fast" */
    size_t takes = 0;
    for (; takes < 3 * SLAB_PROBE_EVERY && small_pages_of(&s); takes++) {
        huge_free(slab_supply_take(&s), HUGE_PAGE);
        usleep(2000);
    }
    cr_expect_not(small_pages_of(&s), "still in 4 KiB pages after %zu slabs", takes);
    slab_supply_stop(&s);
}

/* Without a thread (never started, or stopped) each slab is mapped on the
 * spot; stopping twice, or a supply never started, is harmless. */
Test(huge, slabs_without_the_thread)
{
    slab_supply s = {0};
    unsigned char *a = slab_supply_take(&s);
    expect_fresh_slab(a, NULL, 0);
    slab_supply_stop(&s);
    slab_supply_start(&s);
    slab_supply_stop(&s);
    slab_supply_stop(&s);
    unsigned char *b = slab_supply_take(&s);
    expect_fresh_slab(b, &a, 1);
    huge_free(a, HUGE_PAGE);
    huge_free(b, HUGE_PAGE);
}

/* The number of the n bytes' pages at p that are resident (mincore). */
static size_t resident_pages(const void *p, size_t n)
{
    size_t pages = n / PAGE, got = 0;
    unsigned char *vec = malloc(pages);
    cr_assert_not_null(vec);
    cr_assert_eq(mincore((void *)p, n, vec), 0);
    for (size_t i = 0; i < pages; i++)
        got += vec[i] & 1;
    free(vec);
    return got;
}

/* A prefault request is served once the thread has its slabs (none once
 * quiet, as after the VM's run): the range becomes resident without a byte
 * written by us, and still reads as zeros.  Without a thread a request does
 * nothing. */
Test(huge, slabs_prefault_a_range)
{
    size_t n = 2 * HUGE_PAGE;
    unsigned char *range = huge_alloc(n);
    cr_assert_not_null(range);
    cr_assert_eq(resident_pages(range, n), 0, "fresh anonymous memory is not resident");
    slab_supply s = {0};
    slab_supply_prefault(&s, range, n); /* no thread: nothing */
    cr_expect_eq(resident_pages(range, n), 0);
    slab_supply_start(&s);
    cr_assert(s.threaded);
    usleep(20000);
    slab_supply_quiet(&s); /* no slabs kept ready, the thread still there */
    cr_expect_eq(s.nready, 0);
    cr_expect(s.threaded);
    slab_supply_prefault(&s, range, n);
    size_t got = 0;
    for (int i = 0; i < 200 && (got = resident_pages(range, n)) < n / PAGE; i++)
        usleep(10000);
    slab_supply_stop(&s);
#ifdef MADV_POPULATE_WRITE
    if (madvise(range, PAGE, MADV_POPULATE_WRITE) == 0) /* the kernel knows it */
        cr_expect_eq(got, n / PAGE, "%zu of %zu pages resident", got, n / PAGE);
#endif
    for (size_t i = 0; i < n; i += 512)
        cr_assert_eq(range[i], 0);
    huge_free(range, n);
}

/* slab_supply_fill_ahead asks for the page after the write's, once per
 * page: *ahead moves a huge page at a time.  Without a thread it is never
 * called again; under HUGE_MIN or past the last page, not before the
 * array grows past its end. */
Test(huge, slabs_fill_ahead_a_page_at_a_time)
{
    size_t cap = 3 * HUGE_PAGE, ahead = 0;
    unsigned char *array = huge_alloc(cap);
    cr_assert_not_null(array);
    slab_supply_fill_ahead(NULL, array, 0, cap, &ahead);
    cr_expect_eq(ahead, SIZE_MAX, "no thread: nothing asked, ever");
    slab_supply s;
    slab_supply_start(&s);
    size_t small = 0;
    slab_supply_fill_ahead(&s, array, 0, HUGE_MIN - 1, &small);
    cr_expect_eq(small, HUGE_MIN - 1 + HUGE_PAGE - 1,
                 "an array under HUGE_MIN: not until it grows");
    ahead = 0;
    slab_supply_fill_ahead(&s, array, 0, cap, &ahead);
    cr_expect_eq(ahead, 2 * HUGE_PAGE, "the second page, asked at the first write");
    slab_supply_fill_ahead(&s, array, HUGE_PAGE - 8, cap, &ahead);
    cr_expect_eq(ahead, 2 * HUGE_PAGE, "still the first page: nothing more");
    slab_supply_fill_ahead(&s, array, HUGE_PAGE, cap, &ahead);
    cr_expect_eq(ahead, 2 * HUGE_PAGE, "the second page's first byte: not yet");
    slab_supply_fill_ahead(&s, array, HUGE_PAGE + 8, cap, &ahead);
    cr_expect_eq(ahead, 3 * HUGE_PAGE, "into the second page: the third asked");
    slab_supply_fill_ahead(&s, array, 2 * HUGE_PAGE + 8, cap, &ahead);
    cr_expect_eq(ahead, cap + HUGE_PAGE - 1, "the last page: nothing until the array grows");
    slab_supply_fill_ahead(&s, array, cap - 8, cap, &ahead);
    cr_expect_eq(ahead, cap + HUGE_PAGE - 1, "the last write: not called");
    slab_supply_fill_ahead(&s, array, cap, 2 * cap, &ahead);
    cr_expect_eq(ahead, cap + 2 * HUGE_PAGE, "grown: the page after the new write's");
    slab_supply_stop(&s);
    huge_free(array, cap);
}
