/*
 * test_outfile.c - the output file: direct I/O decided write by write.
 *
 * Whatever mix of aligned and unaligned writes comes, the file holds the
 * same bytes; exactly the writes that are aligned in memory, length and
 * file position, at or after the direct_from offset, go around the page
 * cache (outfile.direct_bytes), where the file system has direct I/O.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "engine/outfile.h"
#include "test_util.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); cr_assert_not_null(dir); }
static void teardown(void) { tu_rmdir(dir); dir = NULL; }

TestSuite(outfile, .init = setup, .fini = teardown);

#define BLK 4096

/* Patterned bytes in aligned memory. */
static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = aligned_alloc(BLK, (n + BLK - 1) / BLK * BLK);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7u + seed + (i >> 12));
    return p;
}

typedef struct step {
    size_t len;     /* bytes written */
    size_t skew;    /* taken this far into the aligned buffer */
} step;

/* Write the steps (direct I/O from `from`), commit, check the bytes; return
 * the bytes written directly. */
static uint64_t write_steps(const step *s, size_t n, uint64_t from)
{
    char *path = tu_path(dir, "out.bin");
    unlink(path);
    outfile of;
    c2s_error err;
    cr_assert_eq(outfile_open(&of, path, 0, &err), C2S_OK, "%s", err.msg);
    outfile_direct_from(&of, from);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += s[i].len;
    unsigned char *want = malloc(total + 1), *at = want;
    for (size_t i = 0; i < n; i++) {
        unsigned char *buf = pattern(s[i].len + s[i].skew, (unsigned)i);
        cr_assert_eq(outfile_write(&of, buf + s[i].skew, s[i].len, &err), C2S_OK, "%s", err.msg);
        memcpy(at, buf + s[i].skew, s[i].len);
        at += s[i].len;
        free(buf);
    }
    uint64_t direct = of.direct_bytes;
    cr_assert_eq(outfile_commit(&of, &err), C2S_OK, "%s", err.msg);
    outfile_abort(&of);
    size_t len;
    unsigned char *got = tu_read(path, &len);
    cr_assert_not_null(got);
    cr_assert_eq(len, total);
    cr_assert(memcmp(got, want, total) == 0, "the file's bytes differ");
    free(got);
    free(want);
    free(path);
    return direct;
}

Test(outfile, only_aligned_writes_go_around_the_cache)
{
    int works = tu_direct_io_works(dir);
    step s[] = {
        {2 * BLK, 0},   /* aligned: direct */
        {100, 0},       /* unaligned length: cached; the position is now off */
        {BLK, 0},       /* aligned block at an unaligned position: cached */
        {BLK - 100, 0}, /* back on a block boundary */
        {3 * BLK, 16},  /* unaligned memory: cached */
        {BLK, 0},       /* direct */
        {17, 0},        /* the tail: cached */
    };
    cr_assert_eq(write_steps(s, 7, 0), works ? 3 * BLK : 0);
}

Test(outfile, nothing_direct_before_the_offset_or_by_default)
{
    int works = tu_direct_io_works(dir);
    step s[] = {{BLK, 0}, {BLK, 0}, {2 * BLK, 0}, {BLK, 0}};
    cr_assert_eq(write_steps(s, 4, 2 * BLK), works ? 3 * BLK : 0);
    cr_assert_eq(write_steps(s, 4, UINT64_MAX), 0);
    cr_assert_eq(write_steps(s, 4, 5 * BLK), 0); /* the last block starts at 4 blocks */
}

Test(outfile, streams_never_use_direct_io)
{
    char *path = tu_path(dir, "stream.bin");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    outfile of;
    outfile_open_fd(&of, fd);
    outfile_direct_from(&of, 0);
    cr_assert_eq(of.align, 0);
    unsigned char *buf = pattern(BLK, 1);
    c2s_error err;
    cr_assert_eq(outfile_write(&of, buf, BLK, &err), C2S_OK);
    cr_assert_eq(of.direct_bytes, 0);
    cr_assert_eq(fcntl(fd, F_GETFL) & O_DIRECT, 0);
    outfile_abort(&of);
    close(fd);
    free(buf);
    free(path);
}

/* The kernel's background writeback room: unknown, or a number of bytes
 * below the machine's memory (a unit slip would overshoot it). */
Test(outfile, writeback_room_is_below_the_memory)
{
    uint64_t room = outfile_writeback_room();
    uint64_t mem = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    if (room != UINT64_MAX)
        cr_assert_lt(room, mem, "room %llu, memory %llu", (unsigned long long)room,
                     (unsigned long long)mem);
}
