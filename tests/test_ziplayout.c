/*
 * test_ziplayout.c - our own zip structure reader (src/zip/ziplayout.c).
 *
 * Archives are written with libzip (zip_builder.h), which lays them out
 * cleanly: local header, data, local header, data, ..., central directory,
 * end record, no extra fields, no data descriptors.  Each test then edits
 * the bytes (offsets are little-endian) to produce one structural trick and
 * asserts the exact findings, or the exact error.
 *
 * Layout reminders: local header 30 bytes + name + extra; central record
 * 46 bytes + name + extra + comment (flags at +8, method +10, CRC +16,
 * sizes +20/+24, name length +28, local offset +42); end record 22 bytes
 * (entries +8/+10, CD size +12, CD offset +16, comment length +20);
 * ZIP64 end record 56 bytes, ZIP64 locator 20 bytes.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "test_util.h"
#include "zip_builder.h"
#include "zip/ziplayout.h"

TU_SUITE_WITH_DIR(ziplayout);

/* ---- a zip image in memory ------------------------------------------------ */

typedef struct img {
    unsigned char *b;
    size_t n;
} img;

static uint16_t g16(const img *z, size_t at)
{
    cr_assert_leq(at + 2, z->n);
    return (uint16_t)(z->b[at] | z->b[at + 1] << 8);
}

static uint32_t g32(const img *z, size_t at)
{
    cr_assert_leq(at + 4, z->n);
    return (uint32_t)z->b[at] | (uint32_t)z->b[at + 1] << 8 | (uint32_t)z->b[at + 2] << 16 |
           (uint32_t)z->b[at + 3] << 24;
}

static void p16(img *z, size_t at, uint16_t v)
{
    cr_assert_leq(at + 2, z->n);
    z->b[at] = (unsigned char)v;
    z->b[at + 1] = (unsigned char)(v >> 8);
}

static void p32(img *z, size_t at, uint32_t v)
{
    cr_assert_leq(at + 4, z->n);
    for (int i = 0; i < 4; i++)
        z->b[at + (size_t)i] = (unsigned char)(v >> (8 * i));
}

static void le64_to(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void le32_to(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Insert len bytes of data at offset at. */
static void insert(img *z, size_t at, const void *data, size_t len)
{
    cr_assert_leq(at, z->n);
    unsigned char *nb = realloc(z->b, z->n + len);
    cr_assert_not_null(nb);
    memmove(nb + at + len, nb + at, z->n - at);
    memcpy(nb + at, data, len);
    z->b = nb;
    z->n += len;
}

static void insert_junk(img *z, size_t at, size_t len, unsigned char fill)
{
    unsigned char *junk = malloc(len ? len : 1);
    cr_assert_not_null(junk);
    memset(junk, fill, len);
    insert(z, at, junk, len);
    free(junk);
}

static img build(const zb_entry *e, size_t n)
{
    char *p = tu_path(dir, "build.zip");
    cr_assert_not_null(p);
    cr_assert_eq(zb_write(p, e, n), 0);
    img z = {0};
    z.b = tu_read(p, &z.n);
    cr_assert_not_null(z.b);
    free(p);
    return z;
}

static void img_free(img *z)
{
    free(z->b);
    z->b = NULL;
    z->n = 0;
}

/* Offsets inside a clean image (no archive comment). */
static size_t eocd_at(const img *z)
{
    size_t at = z->n - 22;
    cr_assert_eq(g32(z, at), 0x06054b50u);
    return at;
}

static size_t cd_offset(const img *z)
{
    return g32(z, eocd_at(z) + 16);
}

static size_t central_len(const img *z, size_t at)
{
    return 46 + (size_t)g16(z, at + 28) + g16(z, at + 30) + g16(z, at + 32);
}

/* Offset of the i-th central record. */
static size_t central_at(const img *z, size_t i)
{
    size_t at = cd_offset(z);
    for (size_t k = 0; k < i; k++) {
        cr_assert_eq(g32(z, at), 0x02014b50u);
        at += central_len(z, at);
    }
    cr_assert_eq(g32(z, at), 0x02014b50u);
    return at;
}

static size_t local_at(const img *z, size_t i)
{
    return g32(z, central_at(z, i) + 42);
}

/* Bytes were inserted: add delta to the CD offset of the end record and to
 * every central local offset that is >= from (the end record is fixed
 * first so that the walk finds the moved central directory). */
static void shift_offsets(img *z, size_t nentries, size_t from, uint32_t delta)
{
    size_t e = eocd_at(z);
    p32(z, e + 16, g32(z, e + 16) + delta);
    for (size_t i = 0; i < nentries; i++) {
        size_t c = central_at(z, i);
        if (g32(z, c + 42) >= from)
            p32(z, c + 42, g32(z, c + 42) + delta);
    }
}

/* ---- running the reader ---------------------------------------------------- */

typedef struct result {
    c2s_status st;
    c2s_error err;
    ziplayout zl;
    findings f;
} result;

static void run(const img *z, result *r)
{
    char *p = tu_path(dir, "in.zip");
    cr_assert_not_null(p);
    cr_assert_eq(tu_write(p, z->b, z->n), 0);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    memset(r, 0, sizeof *r);
    c2s_error_clear(&r->err);
    r->st = ziplayout_read(fd, z->n, &r->zl, &r->f, &r->err);
    close(fd);
    free(p);
}

static void result_free(result *r)
{
    ziplayout_free(&r->zl);
    findings_free(&r->f);
}

static void dump_findings(const findings *f)
{
    for (size_t i = 0; i < f->n; i++)
        cr_log_info("finding %zu: %s", i, f->items[i]);
}

/* Read successfully and expect exactly the given findings, in order. */
static void expect_findings(const img *z, result *r, size_t n, const char *const *texts)
{
    run(z, r);
    cr_assert_eq(r->st, C2S_OK, "unexpected error: %s", r->err.msg);
    dump_findings(&r->f);
    cr_assert_eq(r->f.n, n, "expected %zu findings, got %zu (first: %s)", n, r->f.n,
                 r->f.n ? r->f.items[0] : "-");
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(r->f.items[i], texts[i], "finding %zu", i);
}

static void expect_one(const img *z, const char *text)
{
    result r;
    const char *texts[] = {text};
    expect_findings(z, &r, 1, texts);
    result_free(&r);
}

static void expect_error(const img *z, const char *msg)
{
    result r;
    run(z, &r);
    dump_findings(&r.f);
    cr_assert_eq(r.st, C2S_ERR_INPUT, "expected an error, got status %d", r.st);
    cr_assert_eq(r.err.status, C2S_ERR_INPUT);
    cr_assert_str_eq(r.err.msg, msg);
    /* a failed read leaves no entries behind */
    cr_assert_eq(r.zl.n, 0);
    cr_assert_null(r.zl.entries);
    result_free(&r);
}

/* The two mismatch findings of check_local, for entry name n. */
#define CRC_MSG(n) \
    "zip entry '" n "': its local header disagrees with the central directory on CRC or sizes"
#define METHOD_MSG(n) \
    "zip entry '" n "': its local header disagrees with the central directory on the method"

static const char HELLO[] = "hello";
static const char WORLD[] = "world";
static const char LONGTEXT[] = "world world world world world world world world";

/* "a" stored "hello", "b" stored "world": local a [0,36), local b [36,72), CD at 72. */
static img two_stored(void)
{
    zb_entry e[] = {{"a", HELLO, 5, 0}, {"b", WORLD, 5, 0}};
    img z = build(e, 2);
    cr_assert_eq(z.n, 72 + 2 * 47 + 22);
    cr_assert_eq(cd_offset(&z), 72);
    cr_assert_eq(local_at(&z, 1), 36);
    return z;
}

/* ---- clean archives ------------------------------------------------------- */

Test(ziplayout, clean_stored_single)
{
    zb_entry e[] = {{"archive/data.pkl", HELLO, 5, 0}};
    img z = build(e, 1);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.n, 1);
    const zl_entry *a = &r.zl.entries[0];
    cr_assert_str_eq(a->name, "archive/data.pkl");
    cr_assert_eq(a->local_offset, 0);
    cr_assert_eq(a->data_offset, 30 + 16);
    cr_assert_eq(a->comp_size, 5);
    cr_assert_eq(a->size, 5);
    cr_assert_eq(a->method, 0);
    cr_assert_eq(a->crc, 0x3610a686u); /* crc32("hello") */
    cr_assert_eq(a->flags & 1, 0);
    cr_assert_eq(r.zl.cd_offset, 51);
    cr_assert_eq(r.zl.cd_size, 46 + 16);
    cr_assert_eq(z.n, 51 + 62 + 22);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, clean_deflated_single)
{
    zb_entry e[] = {{"data", LONGTEXT, sizeof LONGTEXT - 1, 1}};
    img z = build(e, 1);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.n, 1);
    const zl_entry *a = &r.zl.entries[0];
    cr_assert_str_eq(a->name, "data");
    cr_assert_eq(a->local_offset, 0);
    cr_assert_eq(a->data_offset, 34);
    cr_assert_eq(a->method, 8);
    cr_assert_eq(a->size, sizeof LONGTEXT - 1);
    cr_assert_lt(a->comp_size, a->size);
    cr_assert_eq(a->data_offset + a->comp_size, r.zl.cd_offset);
    cr_assert_eq(a->crc, (uint32_t)crc32(0L, (const Bytef *)LONGTEXT, sizeof LONGTEXT - 1));
    cr_assert_eq(r.zl.cd_size, 46 + 4);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, clean_two_entries_mixed)
{
    zb_entry e[] = {{"a", HELLO, 5, 0}, {"bb", LONGTEXT, sizeof LONGTEXT - 1, 1}};
    img z = build(e, 2);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.n, 2);
    const zl_entry *a = &r.zl.entries[0], *b = &r.zl.entries[1];
    cr_assert_str_eq(a->name, "a");
    cr_assert_eq(a->local_offset, 0);
    cr_assert_eq(a->data_offset, 31);
    cr_assert_eq(a->comp_size, 5);
    cr_assert_eq(a->size, 5);
    cr_assert_eq(a->method, 0);
    cr_assert_eq(a->crc, 0x3610a686u);
    cr_assert_str_eq(b->name, "bb");
    cr_assert_eq(b->local_offset, 36);
    cr_assert_eq(b->data_offset, 36 + 30 + 2);
    cr_assert_eq(b->method, 8);
    cr_assert_eq(b->size, sizeof LONGTEXT - 1);
    cr_assert_eq(b->crc, (uint32_t)crc32(0L, (const Bytef *)LONGTEXT, sizeof LONGTEXT - 1));
    cr_assert_eq(b->data_offset + b->comp_size, r.zl.cd_offset);
    cr_assert_eq(r.zl.cd_size, 47 + 48);
    cr_assert_eq(r.zl.cd_offset + r.zl.cd_size + 22, z.n);
    result_free(&r);
    img_free(&z);
}

/* Central directory order is kept even when it differs from file order. */
Test(ziplayout, central_order_kept)
{
    img z = two_stored();
    /* swap the two 47-byte central records */
    size_t c0 = central_at(&z, 0);
    unsigned char tmp[47];
    memcpy(tmp, z.b + c0, 47);
    memmove(z.b + c0, z.b + c0 + 47, 47);
    memcpy(z.b + c0 + 47, tmp, 47);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.n, 2);
    cr_assert_str_eq(r.zl.entries[0].name, "b");
    cr_assert_eq(r.zl.entries[0].local_offset, 36);
    cr_assert_str_eq(r.zl.entries[1].name, "a");
    cr_assert_eq(r.zl.entries[1].local_offset, 0);
    result_free(&r);
    img_free(&z);
}

/* An empty archive is only its end record. */
Test(ziplayout, empty_archive)
{
    unsigned char eocd[22] = {0x50, 0x4b, 0x05, 0x06};
    img z = {malloc(22), 22};
    cr_assert_not_null(z.b);
    memcpy(z.b, eocd, 22);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.n, 0);
    cr_assert_eq(r.zl.cd_offset, 0);
    cr_assert_eq(r.zl.cd_size, 0);
    result_free(&r);
    img_free(&z);
}

/* An empty archive behind prepended bytes: they come before the central
 * directory, there is no first entry to name. */
Test(ziplayout, empty_archive_with_bytes_in_front)
{
    unsigned char eocd[22] = {0x50, 0x4b, 0x05, 0x06};
    img z = {malloc(22), 22};
    cr_assert_not_null(z.b);
    memcpy(z.b, eocd, 22);
    insert_junk(&z, 0, 5, '#');
    p32(&z, 5 + 16, 5);
    expect_one(&z, "5 bytes that belong to no zip entry before the central directory");
    img_free(&z);
}

/* A NULL findings list is accepted (findings_add ignores it). */
Test(ziplayout, null_findings)
{
    img z = two_stored();
    insert_junk(&z, z.n, 9, 'x');
    char *p = tu_path(dir, "in.zip");
    cr_assert_eq(tu_write(p, z.b, z.n), 0);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    ziplayout zl;
    c2s_error err;
    cr_assert_eq(ziplayout_read(fd, z.n, &zl, NULL, &err), C2S_OK);
    cr_assert_eq(zl.n, 2);
    ziplayout_free(&zl);
    ziplayout_free(&zl); /* idempotent */
    ziplayout_free(NULL);
    close(fd);
    free(p);
    img_free(&z);
}

/* ---- unaccounted bytes ------------------------------------------------------- */

Test(ziplayout, bytes_before_first_entry)
{
    img z = two_stored();
    insert_junk(&z, 0, 100, '#');
    shift_offsets(&z, 2, 0, 100);
    result r;
    const char *texts[] = {"100 bytes in front of the first zip entry 'a'"};
    expect_findings(&z, &r, 1, texts);
    cr_assert_eq(r.zl.entries[0].local_offset, 100);
    cr_assert_eq(r.zl.entries[0].data_offset, 131);
    cr_assert_eq(r.zl.entries[1].local_offset, 136);
    cr_assert_eq(r.zl.cd_offset, 172);
    result_free(&r);
    img_free(&z);
}

/* Prepended bytes with the offsets left alone (a self-extractor stub): the
 * central directory is no longer where the end record says. */
Test(ziplayout, bytes_before_without_shift)
{
    img z = two_stored();
    insert_junk(&z, 0, 10, '#');
    expect_error(&z, "corrupt zip archive: bad central directory record");
    img_free(&z);
}

Test(ziplayout, gap_between_entries)
{
    img z = two_stored();
    insert_junk(&z, 36, 7, 0);
    shift_offsets(&z, 2, 36, 7);
    result r;
    const char *texts[] = {"7 bytes that belong to no zip entry before entry 'b'"};
    expect_findings(&z, &r, 1, texts);
    cr_assert_eq(r.zl.entries[0].local_offset, 0);
    cr_assert_eq(r.zl.entries[1].local_offset, 43);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, gap_before_central_directory)
{
    img z = two_stored();
    insert_junk(&z, 72, 5, 'z');
    shift_offsets(&z, 2, 72, 5);
    expect_one(&z, "5 bytes that belong to no zip entry before the central directory");
    img_free(&z);
}

Test(ziplayout, gap_between_central_directory_and_end_record)
{
    img z = two_stored();
    insert_junk(&z, z.n - 22, 11, 'q');
    expect_one(&z, "11 bytes between the central directory and its end record");
    img_free(&z);
}

Test(ziplayout, trailing_bytes_after_end_record)
{
    img z = two_stored();
    insert_junk(&z, z.n, 13, 't');
    result r;
    const char *texts[] = {"13 bytes after the end of the zip archive"};
    expect_findings(&z, &r, 1, texts);
    cr_assert_eq(r.zl.n, 2);
    result_free(&r);
    img_free(&z);
    /* a single byte counts */
    z = two_stored();
    insert_junk(&z, z.n, 1, 0);
    expect_one(&z, "1 bytes after the end of the zip archive");
    img_free(&z);
}

/* The archive comment is part of the archive, not trailing bytes. */
Test(ziplayout, archive_comment_is_not_trailing)
{
    img z = two_stored();
    size_t e = eocd_at(&z);
    insert(&z, z.n, "a comment", 9);
    p16(&z, e + 20, 9);
    result r;
    expect_findings(&z, &r, 0, NULL);
    result_free(&r);
    /* a comment shorter than the bytes that follow: the rest is trailing */
    p16(&z, e + 20, 4);
    expect_one(&z, "5 bytes after the end of the zip archive");
    img_free(&z);
}

/* miniz (torch) and Python's zipfile read such an archive: so do we, and
 * nothing is hidden there. */
Test(ziplayout, comment_past_end_of_file)
{
    img z = two_stored();
    p16(&z, eocd_at(&z) + 20, 50);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.n, 2);
    result_free(&r);
    img_free(&z);
}

/* ---- overlaps and duplicates ---------------------------------------------------- */

/* The second central record is a copy of the first: two entries named 'a'
 * at the same local header, and b's local header is now nobody's. */
Test(ziplayout, two_central_records_same_local_header)
{
    img z = two_stored();
    size_t c0 = central_at(&z, 0), c1 = central_at(&z, 1);
    memcpy(z.b + c1, z.b + c0, 47);
    result r;
    const char *texts[] = {
        "two zip entries are named 'a'",
        "zip entry 'a' overlaps entry 'a'",
        "36 bytes that belong to no zip entry before the central directory",
    };
    expect_findings(&z, &r, 3, texts);
    cr_assert_eq(r.zl.n, 2);
    cr_assert_eq(r.zl.entries[1].local_offset, 0);
    result_free(&r);
    img_free(&z);
}

/* Same local header for 'a' and 'b': b's record names the header differently. */
Test(ziplayout, central_b_points_at_a)
{
    img z = two_stored();
    size_t c1 = central_at(&z, 1), c0 = central_at(&z, 0);
    /* b's record gets a's CRC/sizes and offset so only the name differs */
    memcpy(z.b + c1 + 16, z.b + c0 + 16, 12);
    p32(&z, c1 + 42, 0);
    result r;
    run(&z, &r);
    cr_assert_eq(r.st, C2S_OK, "%s", r.err.msg);
    dump_findings(&r.f);
    cr_assert_eq(r.f.n, 3);
    cr_assert_str_eq(r.f.items[0], "zip entry 'b': its local header names it 'a'");
    /* a and b start at the same offset: either may be named first */
    if (strcmp(r.f.items[1], "zip entry 'b' overlaps entry 'a'") != 0)
        cr_assert_str_eq(r.f.items[1], "zip entry 'a' overlaps entry 'b'");
    cr_assert_str_eq(r.f.items[2],
                     "36 bytes that belong to no zip entry before the central directory");
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, duplicate_names)
{
    zb_entry e[] = {{"a", HELLO, 5, 0}, {"b", WORLD, 5, 0}};
    img z = build(e, 2);
    /* rename 'b' to 'a' in both headers: a clean layout, two 'a' */
    z.b[36 + 30] = 'a';
    z.b[central_at(&z, 1) + 46] = 'a';
    result r;
    const char *texts[] = {"two zip entries are named 'a'"};
    expect_findings(&z, &r, 1, texts);
    cr_assert_str_eq(r.zl.entries[0].name, "a");
    cr_assert_str_eq(r.zl.entries[1].name, "a");
    cr_assert_eq(r.zl.entries[1].local_offset, 36);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, three_with_the_same_name)
{
    zb_entry e[] = {{"x", HELLO, 5, 0}, {"y", WORLD, 5, 0}, {"z", HELLO, 5, 0}};
    img z = build(e, 3);
    for (size_t i = 1; i < 3; i++) {
        z.b[local_at(&z, i) + 30] = 'x';
        z.b[central_at(&z, i) + 46] = 'x';
    }
    const char *texts[] = {"two zip entries are named 'x'", "two zip entries are named 'x'"};
    result r;
    expect_findings(&z, &r, 2, texts);
    cr_assert_eq(r.zl.n, 3);
    result_free(&r);
    img_free(&z);
}

/* A stored entry whose data holds a copy of b's local header; b's central
 * record points inside a's data.  The original b header is left orphaned.
 * Only those 36 orphan bytes belong to no entry: the bytes after the
 * embedded copy belong to 'a'. */
Test(ziplayout, entry_inside_another_entry)
{
    img one = build((zb_entry[]){{"b", WORLD, 5, 0}}, 1);
    unsigned char inner[36 + 4];
    memcpy(inner, one.b, 36); /* b's local header + "world" */
    memcpy(inner + 36, "ZZZZ", 4);
    img_free(&one);
    zb_entry e[] = {{"a", inner, sizeof inner, 0}, {"b", WORLD, 5, 0}};
    img z = build(e, 2);
    /* a: [0, 31+40=71); real b: [71, 107); CD at 107 */
    cr_assert_eq(local_at(&z, 1), 71);
    cr_assert_eq(cd_offset(&z), 107);
    p32(&z, central_at(&z, 1) + 42, 31);
    result r;
    run(&z, &r);
    cr_assert_eq(r.st, C2S_OK, "%s", r.err.msg);
    dump_findings(&r.f);
    cr_expect_eq(r.f.n, 2);
    if (r.f.n == 2) {
        cr_expect_str_eq(r.f.items[0], "zip entry 'a' overlaps entry 'b'");
        cr_expect_str_eq(r.f.items[1],
                         "36 bytes that belong to no zip entry before the central directory");
    }
    result_free(&r);
    img_free(&z);
}

/* ---- local header vs central record --------------------------------------------- */

Test(ziplayout, local_name_differs)
{
    img z = two_stored();
    z.b[36 + 30] = 'c';
    expect_one(&z, "zip entry 'b': its local header names it 'c'");
    img_free(&z);
}

Test(ziplayout, local_name_length_differs)
{
    zb_entry e[] = {{"ab", HELLO, 5, 0}};
    img z = build(e, 1);
    /* local name length 1: the local header now names it 'a' and its data
     * starts one byte early, overlapping nothing but leaving a gap */
    p16(&z, 26, 1);
    const char *texts[] = {
        "zip entry 'ab': its local header names it 'a'",
        "1 bytes that belong to no zip entry before the central directory",
    };
    result r;
    expect_findings(&z, &r, 2, texts);
    cr_assert_eq(r.zl.entries[0].data_offset, 31);
    result_free(&r);
    img_free(&z);
}

/* Names and extra fields longer than check_local's stack buffer (512
 * bytes) are read into a block of their own: compared whole, and the data
 * found after them. */
Test(ziplayout, long_local_names_compared_whole)
{
    char name[701];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    zb_entry e[] = {{name, HELLO, 5, 0}, {"b", WORLD, 5, 0}};
    img z = build(e, 2);
    result r;
    run(&z, &r);
    cr_assert_eq(r.st, C2S_OK, "%s", r.err.msg);
    cr_expect_eq(r.f.n, 0);
    cr_assert_eq(r.zl.entries[0].local_ok, 1);
    cr_expect_eq(memcmp(z.b + r.zl.entries[0].data_offset, HELLO, 5), 0);
    result_free(&r);
    /* the last byte of the local name changed: told apart (the finding
     * names the entry, cut at the findings' 511 bytes) */
    z.b[30 + 699] = 'm';
    run(&z, &r);
    cr_assert_eq(r.st, C2S_OK, "%s", r.err.msg);
    cr_assert_eq(r.f.n, 1);
    cr_expect_eq(strncmp(r.f.items[0], "zip entry 'nnnnnnnnnnnn", 23), 0, "%s", r.f.items[0]);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, local_crc_differs)
{
    img z = two_stored();
    p32(&z, 14, g32(&z, 14) ^ 1);
    expect_one(&z, CRC_MSG("a"));
    img_free(&z);
}

Test(ziplayout, local_compressed_size_differs)
{
    img z = two_stored();
    p32(&z, 36 + 18, 4);
    expect_one(&z, CRC_MSG("b"));
    img_free(&z);
}

Test(ziplayout, local_size_differs)
{
    img z = two_stored();
    p32(&z, 22, 6);
    expect_one(&z, CRC_MSG("a"));
    img_free(&z);
}

Test(ziplayout, central_crc_differs)
{
    img z = two_stored();
    size_t c = central_at(&z, 1);
    p32(&z, c + 16, 0);
    result r;
    const char *texts[] = {CRC_MSG("b")};
    expect_findings(&z, &r, 1, texts);
    cr_assert_eq(r.zl.entries[1].crc, 0); /* the central value is reported */
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, local_method_differs)
{
    img z = two_stored();
    p16(&z, 8, 8);
    expect_one(&z, METHOD_MSG("a"));
    img_free(&z);
}

/* Bit 3 (data descriptor) in the local flags: CRC and sizes may be zero
 * there; they are not compared. */
Test(ziplayout, local_descriptor_flag_skips_crc_check)
{
    img z = two_stored();
    p16(&z, 6, 8);
    p32(&z, 14, 0);
    p32(&z, 18, 0);
    p32(&z, 22, 0);
    result r;
    expect_findings(&z, &r, 0, NULL);
    result_free(&r);
    img_free(&z);
}

/* ---- data descriptors (bit 3 in the central flags) ----------------------------------- */

/* Entry a of two_stored() followed by a data descriptor: its signature
 * when sig, then CRC and sizes (12 bytes), then extra junk bytes; bit 3 set
 * in both of a's flags. */
static img with_descriptor(int sig, size_t junk)
{
    img z = two_stored();
    unsigned char d[16 + 8];
    size_t n = 0;
    if (sig)
        le32_to(d + (n += 4) - 4, 0x08074b50u);
    le32_to(d + n, g32(&z, central_at(&z, 0) + 16));
    le32_to(d + n + 4, 5);
    le32_to(d + n + 8, 5);
    n += 12;
    cr_assert_leq(junk, 8);
    memset(d + n, '#', junk);
    n += junk;
    insert(&z, 36, d, n);
    shift_offsets(&z, 2, 36, (uint32_t)n);
    p16(&z, 6, 8);
    p16(&z, central_at(&z, 0) + 8, 8);
    return z;
}

/* The descriptor's signature is read with the local header (the window
 * holds it): recorded in the entry, and a's end is found from it. */
Test(ziplayout, descriptor_with_signature_read_with_the_local_header)
{
    img z = with_descriptor(1, 0);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.entries[0].descriptor_sig, ZL_SIG_PRESENT);
    cr_assert_eq(r.zl.entries[1].descriptor_sig, ZL_SIG_UNREAD, "b has no descriptor");
    cr_assert_eq(r.zl.entries[1].local_offset, 36 + 16);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, descriptor_without_signature)
{
    img z = with_descriptor(0, 0);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.entries[0].descriptor_sig, ZL_SIG_ABSENT);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, bytes_after_a_descriptor)
{
    img z = with_descriptor(1, 3);
    result r;
    const char *texts[] = {"19 bytes that belong to no zip entry before entry 'b'"};
    expect_findings(&z, &r, 1, texts);
    cr_assert_eq(r.zl.entries[0].descriptor_sig, ZL_SIG_PRESENT);
    result_free(&r);
    img_free(&z);
}

/* ---- encryption -------------------------------------------------------------------- */

Test(ziplayout, encrypted_local_flag)
{
    img z = two_stored();
    p16(&z, 36 + 6, 1);
    expect_one(&z, "zip entry 'b' is encrypted");
    img_free(&z);
}

Test(ziplayout, encrypted_central_flag)
{
    img z = two_stored();
    size_t c = central_at(&z, 0);
    p16(&z, c + 8, 1);
    result r;
    const char *texts[] = {"zip entry 'a' is encrypted"};
    expect_findings(&z, &r, 1, texts);
    cr_assert_eq(r.zl.entries[0].flags, 1);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, encrypted_both_flags_one_finding)
{
    img z = two_stored();
    p16(&z, 6, 1);
    p16(&z, central_at(&z, 0) + 8, 1);
    expect_one(&z, "zip entry 'a' is encrypted");
    img_free(&z);
}

/* A mismatch and encryption are both reported, mismatch first. */
Test(ziplayout, encrypted_and_crc_mismatch)
{
    img z = two_stored();
    p16(&z, 6, 1);
    p32(&z, 14, 0);
    result r;
    const char *texts[] = {
        CRC_MSG("a"),
        "zip entry 'a' is encrypted",
    };
    expect_findings(&z, &r, 2, texts);
    result_free(&r);
    img_free(&z);
}

/* ---- unreadable structures ---------------------------------------------------------- */

Test(ziplayout, truncated_no_end_record)
{
    img z = two_stored();
    z.n = 100; /* inside the central directory */
    expect_error(&z, "corrupt zip archive: no end of central directory record (truncated?)");
    img_free(&z);
}

Test(ziplayout, too_short)
{
    img z = two_stored();
    z.n = 21;
    expect_error(&z, "corrupt zip archive: too short for a zip archive");
    img_free(&z);
}

Test(ziplayout, cd_offset_past_end)
{
    img z = two_stored();
    p32(&z, eocd_at(&z) + 16, 0x7fffffffu);
    expect_error(&z, "corrupt zip archive: central directory out of bounds");
    img_free(&z);
}

Test(ziplayout, cd_size_past_end_record)
{
    img z = two_stored();
    p32(&z, eocd_at(&z) + 12, 95);
    expect_error(&z, "corrupt zip archive: central directory out of bounds");
    img_free(&z);
}

Test(ziplayout, more_entries_than_cd_can_hold)
{
    img z = two_stored();
    size_t e = eocd_at(&z);
    p16(&z, e + 8, 3);
    p16(&z, e + 10, 3);
    expect_error(&z, "corrupt zip archive: central directory out of bounds");
    img_free(&z);
}

Test(ziplayout, local_offset_past_end)
{
    img z = two_stored();
    p32(&z, central_at(&z, 1) + 42, 100000);
    expect_error(&z, "corrupt zip archive: local header past the end of the file");
    img_free(&z);
}

/* miniz reads a local header only when the entry is read: the archive opens,
 * the entry is marked unreadable, and the bytes it should have accounted
 * for are findings. */
Test(ziplayout, local_offset_at_no_header)
{
    img z = two_stored();
    p32(&z, central_at(&z, 1) + 42, 5);
    result r;
    const char *texts[] = {"zip entry 'b' has no valid local header (bad signature)",
                           "zip entry 'a' overlaps entry 'b'",
                           "36 bytes that belong to no zip entry before the central directory"};
    expect_findings(&z, &r, 3, texts);
    cr_assert_eq(r.zl.entries[0].local_ok, 1);
    cr_assert_eq(r.zl.entries[1].local_ok, 0);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, bad_local_signature)
{
    img z = two_stored();
    z.b[local_at(&z, 1) + 2] = 9;
    result r;
    const char *texts[] = {"zip entry 'b' has no valid local header (bad signature)",
                           "36 bytes that belong to no zip entry before the central directory"};
    expect_findings(&z, &r, 2, texts);
    cr_assert_eq(r.zl.entries[1].local_ok, 0);
    result_free(&r);
    img_free(&z);
}

/* The local name length sends the data past the end of the file. */
Test(ziplayout, local_name_length_past_end)
{
    img z = two_stored();
    p16(&z, local_at(&z, 1) + 26, 0xff00);
    result r;
    const char *texts[] = {"zip entry 'b' has no valid local header (its data would reach past "
                           "the end of the file)",
                           "36 bytes that belong to no zip entry before the central directory"};
    expect_findings(&z, &r, 2, texts);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, entry_data_past_end)
{
    img z = two_stored();
    p32(&z, central_at(&z, 1) + 20, 1000);
    p32(&z, central_at(&z, 1) + 24, 1000);
    expect_error(&z, "corrupt zip archive: entry data past the end of the file");
    img_free(&z);
}

/* miniz refuses a STORED entry whose two sizes differ, and a compressed size
 * of 0 for a non-empty entry. */
Test(ziplayout, sizes_contradict_method)
{
    img z = two_stored();
    p32(&z, central_at(&z, 1) + 20, 4);
    expect_error(&z, "corrupt zip archive: an entry's sizes contradict its method");
    img_free(&z);
    z = two_stored();
    p16(&z, central_at(&z, 1) + 10, 8);
    p32(&z, central_at(&z, 1) + 20, 0);
    expect_error(&z, "corrupt zip archive: an entry's sizes contradict its method");
    img_free(&z);
}

Test(ziplayout, multi_disk)
{
    img z = two_stored();
    p16(&z, eocd_at(&z) + 4, 1);
    expect_error(&z, "multi-disk zip archives are not supported");
    img_free(&z);
}

/* miniz (torch 1.13 measured) also refuses an end record whose two entry
 * counts differ and an entry that starts on a disk other than the end
 * record's or 1; it accepts disks (1, 1). */
Test(ziplayout, multi_disk_as_miniz_reads_it)
{
    img z = two_stored();
    p16(&z, eocd_at(&z) + 8, 3);
    expect_error(&z, "multi-disk zip archives are not supported");
    img_free(&z);
    z = two_stored();
    p16(&z, central_at(&z, 1) + 34, 2);
    expect_error(&z, "multi-disk zip archives are not supported");
    img_free(&z);
    z = two_stored();
    p16(&z, central_at(&z, 0) + 34, 0xffff);
    expect_error(&z, "multi-disk zip archives are not supported");
    img_free(&z);
    z = two_stored(); /* disks (1, 1), entries on disk 1 and 0 (1 is always allowed) */
    p16(&z, eocd_at(&z) + 4, 1);
    p16(&z, eocd_at(&z) + 6, 1);
    p16(&z, central_at(&z, 0) + 34, 1);
    result r;
    run(&z, &r);
    cr_expect_eq(r.st, C2S_ERR_INPUT, "an entry on disk 0 of a disk-1 archive");
    result_free(&r);
    p16(&z, central_at(&z, 1) + 34, 1);
    run(&z, &r);
    cr_expect_eq(r.st, C2S_OK, "%s", r.err.msg);
    result_free(&r);
    img_free(&z);
}

/* General-purpose flags miniz does not read (torch 1.13 measured): 0x2000
 * (masked central directory) anywhere refuses the archive; 0x20 (patch
 * data) or 0x40 (strong encryption) on an entry make it unreadable to
 * torch, a finding; 0x800 (UTF-8 names) changes nothing. */
Test(ziplayout, flags_miniz_refuses)
{
    img z = two_stored();
    p16(&z, central_at(&z, 1) + 8, 0x2000);
    char msg[256];
    snprintf(msg, sizeof msg,
             "zip entry '%s' says the central directory is encrypted: PyTorch cannot read the "
             "archive",
             "b");
    expect_error(&z, msg);
    img_free(&z);
    z = two_stored();
    p16(&z, central_at(&z, 0) + 8, 0x40);
    snprintf(msg, sizeof msg,
             "zip entry '%s' is patch data or strongly encrypted (general-purpose flags 0x0040): "
             "PyTorch cannot read it",
             "a");
    expect_one(&z, msg);
    img_free(&z);
    z = two_stored();
    p16(&z, central_at(&z, 0) + 8, 0x800);
    p16(&z, local_at(&z, 0) + 6, 0x800);
    result r;
    run(&z, &r);
    cr_expect_eq(r.st, C2S_OK, "%s", r.err.msg);
    cr_expect_eq(r.f.n, 0);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, bad_central_signature)
{
    img z = two_stored();
    z.b[central_at(&z, 1) + 3] = 9;
    expect_error(&z, "corrupt zip archive: bad central directory record");
    img_free(&z);
}

Test(ziplayout, nul_in_central_name)
{
    zb_entry e[] = {{"ab", HELLO, 5, 0}};
    img z = build(e, 1);
    z.b[central_at(&z, 0) + 47] = 0;
    result r;
    const char *texts[] = {"zip entry name 'a...' holds a NUL byte",
                           "zip entry 'a': its local header names it 'ab'"};
    expect_findings(&z, &r, 2, texts);
    cr_assert_eq(r.zl.entries[0].name_len, 2);
    cr_assert_arr_eq(r.zl.entries[0].name, "a\0", 3);
    result_free(&r);
    img_free(&z);
}

/* ---- what miniz tolerates ------------------------------------------------------------ */

/* Insert len bytes of extra field into central record i (fixing the lengths). */
static void central_extra(img *z, size_t i, const void *extra, size_t len)
{
    size_t c = central_at(z, i), e = eocd_at(z);
    p32(z, e + 12, g32(z, e + 12) + (uint32_t)len);
    size_t nlen = g16(z, c + 28);
    p16(z, c + 30, (uint16_t)len);
    insert(z, c + 46 + nlen, extra, len);
}

/* An extra field whose length runs past its end: ignored while no 32-bit
 * field is saturated (miniz looks at it only then). */
Test(ziplayout, truncated_extra_field_ignored)
{
    img z = two_stored();
    central_extra(&z, 1, "\x01\x00\x10\x00\x00", 5);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.entries[1].size, 5);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, truncated_extra_field_needed)
{
    img z = two_stored();
    central_extra(&z, 1, "\x01\x00\x10\x00\x00", 5);
    p32(&z, central_at(&z, 1) + 42, 0xffffffffu);
    expect_error(&z, "corrupt zip archive: bad ZIP64 extra field");
    img_free(&z);
}

/* DOS times are nobody's business: local and central may differ. */
Test(ziplayout, dos_time_mismatch_ignored)
{
    img z = two_stored();
    p16(&z, local_at(&z, 0) + 10, 0x1234);
    p16(&z, local_at(&z, 1) + 12, 0x4321);
    result r;
    expect_findings(&z, &r, 0, NULL);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, names_equal_without_regard_to_case)
{
    zb_entry e[] = {{"archive/data.pkl", HELLO, 5, 0},
                    {"archive/DATA.pkl", WORLD, 5, 0},
                    {"archive/data/0", HELLO, 5, 0}};
    img z = build(e, 3);
    expect_one(&z, "zip entries 'archive/DATA.pkl' and 'archive/data.pkl' have the same name "
                   "without regard to case (PyTorch finds records that way)");
    img_free(&z);
}

Test(ziplayout, name_cmp_is_minizs)
{
    cr_assert_eq(ziplayout_name_cmp("ABC", 3, "abc", 3), 0);
    cr_assert_lt(ziplayout_name_cmp("ab", 2, "abc", 3), 0);
    /* strcmp puts "aB" first ('B' < '_'); lowered, 'b' > '_' */
    cr_assert_lt(ziplayout_name_cmp("a_", 2, "aB", 2), 0);
    cr_assert_lt(ziplayout_name_cmp("a\0", 2, "a\x01", 2), 0);
    cr_assert_lt(ziplayout_name_cmp("\xc4", 1, "\xe4", 1), 0); /* only A-Z are folded */
}

/* ---- ZIP64 end records ---------------------------------------------------------------- */

/* Insert a ZIP64 end record (56 bytes) and its locator (20 bytes) right after
 * the central directory, before the end record.  Values are taken from the
 * plain end record unless overridden (UINT64_MAX = take the plain one). */
static size_t add_zip64(img *z, uint64_t entries, uint64_t cd_size, uint64_t cd_off,
                        size_t junk_between)
{
    size_t e = eocd_at(z);
    uint64_t pe = g16(z, e + 10), ps = g32(z, e + 12), po = g32(z, e + 16);
    unsigned char rec[56] = {0}, loc[20] = {0};
    size_t at = e; /* where the records go: right after the CD */
    le32_to(rec, 0x06064b50u);
    le64_to(rec + 4, 44);
    rec[12] = 45;
    rec[14] = 45;
    le64_to(rec + 24, entries == UINT64_MAX ? pe : entries);
    le64_to(rec + 32, entries == UINT64_MAX ? pe : entries);
    le64_to(rec + 40, cd_size == UINT64_MAX ? ps : cd_size);
    le64_to(rec + 48, cd_off == UINT64_MAX ? po : cd_off);
    le32_to(loc, 0x07064b50u);
    le64_to(loc + 8, at);
    le32_to(loc + 16, 1);
    insert(z, at, loc, sizeof loc);
    if (junk_between)
        insert_junk(z, at, junk_between, 'j');
    insert(z, at, rec, sizeof rec);
    return at;
}

Test(ziplayout, zip64_consistent_records)
{
    img z = two_stored();
    add_zip64(&z, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.n, 2);
    cr_assert_eq(r.zl.cd_offset, 72);
    cr_assert_eq(r.zl.cd_size, 94);
    result_free(&r);
    img_free(&z);
}

/* miniz refuses (torch 1.13 measured) a locator that counts other than one
 * disk, and a ZIP64 record whose entry counts differ. */
Test(ziplayout, zip64_disks_as_miniz_reads_them)
{
    img z = two_stored();
    size_t rec = add_zip64(&z, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);
    p32(&z, rec + 56 + 16, 2);
    expect_error(&z, "multi-disk zip archives are not supported");
    img_free(&z);
    z = two_stored();
    rec = add_zip64(&z, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);
    p32(&z, rec + 24, 5);
    expect_error(&z, "multi-disk zip archives are not supported");
    img_free(&z);
}

/* Saturated plain fields: the ZIP64 record carries the values. */
Test(ziplayout, zip64_saturated_plain_record)
{
    img z = two_stored();
    add_zip64(&z, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);
    size_t e = eocd_at(&z);
    p16(&z, e + 8, 0xffff);
    p16(&z, e + 10, 0xffff);
    p32(&z, e + 12, 0xffffffffu);
    p32(&z, e + 16, 0xffffffffu);
    result r;
    expect_findings(&z, &r, 0, NULL);
    cr_assert_eq(r.zl.n, 2);
    cr_assert_str_eq(r.zl.entries[1].name, "b");
    cr_assert_eq(r.zl.cd_offset, 72);
    result_free(&r);
    img_free(&z);
}

/* Both records readable, the ZIP64 one rules; they disagree on the CD offset. */
Test(ziplayout, zip64_disagrees_with_plain_record)
{
    img z = two_stored();
    add_zip64(&z, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);
    p32(&z, eocd_at(&z) + 16, 36);
    result r;
    const char *texts[] = {"the zip end record and the ZIP64 end record disagree"};
    expect_findings(&z, &r, 1, texts);
    cr_assert_eq(r.zl.cd_offset, 72);
    cr_assert_eq(r.zl.n, 2);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, zip64_disagrees_on_entry_count)
{
    img z = two_stored();
    add_zip64(&z, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);
    size_t e = eocd_at(&z);
    p16(&z, e + 8, 1);
    p16(&z, e + 10, 1);
    result r;
    const char *texts[] = {"the zip end record and the ZIP64 end record disagree"};
    expect_findings(&z, &r, 1, texts);
    cr_assert_eq(r.zl.n, 2);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, zip64_saturated_without_locator)
{
    img z = two_stored();
    p32(&z, eocd_at(&z) + 16, 0xffffffffu);
    expect_error(&z, "corrupt zip archive: ZIP64 end record locator missing");
    img_free(&z);
}

Test(ziplayout, zip64_locator_points_nowhere)
{
    img z = two_stored();
    size_t at = add_zip64(&z, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);
    z.b[at] = 'X';
    /* miniz then reads the plain end record */
    result r;
    const char *texts[] = {"the ZIP64 end record at offset 166 has a bad signature (PyTorch "
                           "ignores it and reads the plain end record)",
                           "76 bytes between the central directory and its end record"};
    expect_findings(&z, &r, 2, texts);
    cr_assert_eq(r.zl.n, 2);
    cr_assert_eq(r.zl.cd_offset, 72);
    result_free(&r);
    img_free(&z);
}

Test(ziplayout, zip64_locator_out_of_place)
{
    img z = two_stored();
    size_t at = add_zip64(&z, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);
    le64_to(z.b + at + 56 + 8, at + 57);
    expect_error(&z, "corrupt zip archive: ZIP64 end record out of place");
    img_free(&z);
}

/* Bytes between the ZIP64 end record and its locator belong to nothing
 * (the record's size field says 44: no extensible data).  Readers differ
 * here: Python's zipfile (before the CVE-2025-8291 fix) reads the ZIP64
 * record immediately before the locator and ignores the locator's offset,
 * miniz (torch) follows the offset.  This must be a finding. */
Test(ziplayout, zip64_junk_between_record_and_locator)
{
    img z = two_stored();
    add_zip64(&z, UINT64_MAX, UINT64_MAX, UINT64_MAX, 56);
    result r;
    run(&z, &r);
    cr_assert_eq(r.st, C2S_OK, "%s", r.err.msg);
    dump_findings(&r.f);
    cr_expect_gt(r.f.n, 0, "56 bytes between the ZIP64 end record and its locator went unreported");
    result_free(&r);
    img_free(&z);
}

/* ---- the central directory itself -------------------------------------------------- */

/* The end record counts one entry but the central directory holds two
 * records (cd_size covers both).  Python's zipfile reads records until
 * cd_size is used up and sees both; miniz and this reader trust the count.
 * The uncounted record (here a second 'a' at the same local header) must
 * not go unreported. */
Test(ziplayout, uncounted_central_record)
{
    zb_entry e[] = {{"a", HELLO, 5, 0}};
    img z = build(e, 1);
    size_t c0 = central_at(&z, 0);
    unsigned char rec[47];
    memcpy(rec, z.b + c0, 47);
    insert(&z, c0 + 47, rec, 47);
    size_t eo = eocd_at(&z);
    p32(&z, eo + 12, 94);
    result r;
    run(&z, &r);
    cr_assert_eq(r.st, C2S_OK, "%s", r.err.msg);
    dump_findings(&r.f);
    cr_expect_eq(r.zl.n, 1);
    cr_expect_gt(r.f.n, 0,
                 "47 bytes of the central directory after the counted records "
                 "went unreported");
    result_free(&r);
    img_free(&z);
}

/* A STORED entry whose sizes differ is what miniz refuses: damage (rule
 * C2S_RULE_CORRUPT), unless the entry is encrypted, whose data carry a
 * 12-byte header: then unreadable, not corrupt. */
Test(ziplayout, stored_sizes_differ_corrupt_unless_encrypted)
{
    img z = two_stored();
    size_t c = central_at(&z, 0);
    p32(&z, c + 20, g32(&z, c + 20) + 12); /* compressed size */
    result r;
    run(&z, &r);
    cr_assert_eq(r.st, C2S_ERR_INPUT);
    cr_assert_eq(r.err.rule, C2S_RULE_CORRUPT);
    cr_assert_str_eq(r.err.msg, "corrupt zip archive: an entry's sizes contradict its method");
    result_free(&r);
    p16(&z, c + 8, 1);
    run(&z, &r);
    cr_assert_eq(r.st, C2S_ERR_INPUT);
    cr_assert_eq(r.err.rule, C2S_RULE_NONE);
    cr_assert_str_eq(r.err.msg, "zip entry 'a' is encrypted: PyTorch cannot read it");
    result_free(&r);
    img_free(&z);
}
