/*
 * test_many.c - archives of many entries, the case of issue 13's checkpoint
 * of 200,000 tiny tensors: the shortcuts taken for it must give exactly
 * what the general paths give.
 *
 *   - record lookup without a sort: ziplayout checks that no two names
 *     are equal without regard to case with a hash index of the folded
 *     names (its hash must fold exactly A-Z), and zipsrc looks names up in
 *     that index instead of sorting as miniz does; every record must still
 *     be found, in any case, and a case-equal pair reported as before;
 *   - zipsrc_storage_size_near(), storage lookups that try the entry after
 *     the last one found first;
 *   - local headers read through ziplayout's window: the data offsets of
 *     entries of every size, packed or far apart.
 *
 * Archives are built with libzip (zip_builder.h), a few thousand entries at
 * most, so that the suite stays fast.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "test_util.h"
#include "zip_builder.h"
#include "zip/ziplayout.h"
#include "zip/zipsrc.h"

TU_SUITE_WITH_DIR(many);

#define NMANY 3000

/* NMANY entries "m/data/<k>" plus m/data.pkl, in a shuffled order, with
 * upper-case letters in some names; entry k holds k % 7 + 1 bytes of k. */
static char names[NMANY + 1][32];
static unsigned char bytes[NMANY][8];

static size_t make_many(zb_entry *e)
{
    e[0] = (zb_entry){"m/data.pkl", "\x80\x02}.", 4, 0};
    size_t perm[NMANY];
    for (size_t k = 0; k < NMANY; k++)
        perm[k] = k;
    unsigned long r = 12345;
    for (size_t k = NMANY - 1; k > 0; k--) { /* a fixed shuffle */
        r = r * 1103515245 + 12345;
        size_t j = (r >> 8) % (k + 1), t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < NMANY; i++) {
        size_t k = perm[i];
        snprintf(names[i + 1], sizeof names[i + 1], k % 3 ? "m/data/%zu" : "m/data/K%zu", k);
        memset(bytes[k], (int)(k & 0xff), sizeof bytes[k]);
        e[i + 1] = (zb_entry){names[i + 1], bytes[k], k % 7 + 1, (int)(k % 11 == 0)};
    }
    return NMANY + 1;
}

Test(many, every_record_found_after_one_sort)
{
    static zb_entry e[NMANY + 1];
    size_t n = make_many(e);
    char *p = tu_path(dir, "many.pt");
    cr_assert_eq(zb_write(p, e, n), 0);
    zipsrc *z = NULL;
    c2s_error err = {0};
    cr_assert_eq(zipsrc_open(p, 0, &z, NULL, &err), C2S_OK, "%s", err.msg);
    for (size_t k = 0; k < NMANY; k++) {
        char key[32], want[40];
        /* looked up in lower case: found without regard to case */
        snprintf(key, sizeof key, k % 3 ? "data/%zu" : "data/k%zu", k);
        snprintf(want, sizeof want, k % 3 ? "m/data/%zu" : "m/data/K%zu", k);
        const char *got = zipsrc_record_name(z, key);
        cr_assert_not_null(got, "record %s not found", key);
        cr_assert_str_eq(got, want);
        uint8_t *data = NULL;
        size_t len = 0;
        char rec[32];
        snprintf(rec, sizeof rec, "data/%s%zu", k % 3 ? "" : "K", k);
        cr_assert_eq(zipsrc_read_record(z, rec, &data, &len, &err), C2S_OK, "%s", err.msg);
        cr_assert_eq(len, k % 7 + 1);
        cr_assert_eq(memcmp(data, bytes[k], len), 0, "record %s: wrong bytes", rec);
        free(data);
    }
    cr_assert_null(zipsrc_record_name(z, "data/3000"));
    zipsrc_close(z);
    free(p);
}

Test(many, layout_window_gives_every_data_offset)
{
    /* small entries packed, then a big one (the next header beyond the
     * window), then small ones again */
    static unsigned char big[200000];
    memset(big, 0x5a, sizeof big);
    zb_entry e[] = {{"m/data.pkl", "\x80\x02}.", 4, 0},
                    {"m/data/0", "abc", 3, 0},
                    {"m/data/1", big, sizeof big, 0},
                    {"m/data/2", "defg", 4, 0},
                    {"m/data/3", "h", 1, 0},
                    {"m/version", "3\n", 2, 0}};
    size_t n = sizeof e / sizeof e[0];
    char *p = tu_path(dir, "win.pt");
    cr_assert_eq(zb_write(p, e, n), 0);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    off_t size = lseek(fd, 0, SEEK_END);
    ziplayout zl;
    findings f = {0};
    c2s_error err = {0};
    cr_assert_eq(ziplayout_read(fd, (uint64_t)size, &zl, &f, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(f.n, 0, "unexpected finding: %s", f.n ? f.items[0] : "");
    cr_assert_eq(zl.n, n);
    cr_expect_eq(zl.names_distinct, 1);
    for (size_t i = 0; i < n; i++) {
        const zl_entry *z = &zl.entries[i];
        cr_assert_eq(z->local_ok, 1);
        /* a local header of libzip: 30 bytes, the name, no extra field */
        cr_expect_eq(z->data_offset, z->local_offset + 30 + strlen(e[i].name), "entry %zu", i);
        unsigned char got[8];
        size_t k = e[i].len < sizeof got ? e[i].len : sizeof got;
        cr_assert_eq(pread(fd, got, k, (off_t)z->data_offset), (ssize_t)k);
        cr_expect_eq(memcmp(got, e[i].data, k), 0, "entry %zu: data not at data_offset", i);
    }
    /* distinct names: indexed by hash, not sorted */
    cr_expect_null(zl.by_name);
    cr_assert_not_null(zl.by_hash);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(ziplayout_find_hashed(&zl, e[i].name, strlen(e[i].name)), &zl.entries[i]);
    ziplayout_free(&zl);
    findings_free(&f);
    close(fd);
    free(p);
}

/* --scan's CRC check of every entry: small STORED entries are checked from
 * a window of the file; a damaged one among many must be reported exactly
 * as the stream path reports it, and only it. */
Test(many, verify_all_through_the_window)
{
    static zb_entry e[NMANY + 1];
    size_t n = make_many(e);
    char *p = tu_path(dir, "v.pt");
    cr_assert_eq(zb_write(p, e, n), 0);
    int fd = open(p, O_RDWR);
    cr_assert_geq(fd, 0);
    off_t size = lseek(fd, 0, SEEK_END);
    ziplayout zl;
    findings f = {0};
    c2s_error err = {0};
    cr_assert_eq(ziplayout_read(fd, (uint64_t)size, &zl, &f, &err), C2S_OK, "%s", err.msg);
    /* damage the first byte of a STORED entry in the middle: m/data/1000 (k % 11 != 0) */
    const zl_entry *hit = NULL;
    for (size_t i = 0; i < zl.n; i++)
        if (strcmp(zl.entries[i].name, "m/data/1000") == 0)
            hit = &zl.entries[i];
    cr_assert_not_null(hit);
    cr_assert_eq(hit->method, 0);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, (off_t)hit->data_offset), 1);
    b ^= 0xff;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)hit->data_offset), 1);
    unsigned char data[8];
    memcpy(data, bytes[1000], sizeof data);
    uint32_t want = (uint32_t)crc32(0L, data, 1000 % 7 + 1);
    data[0] ^= 0xff;
    uint32_t got = (uint32_t)crc32(0L, data, 1000 % 7 + 1);
    ziplayout_free(&zl);
    findings_free(&f);
    close(fd);

    zipsrc *z = NULL;
    cr_assert_eq(zipsrc_open(p, 0, &z, NULL, &err), C2S_OK, "%s", err.msg);
    void *scratch = malloc(1 << 20);
    findings damage = {0};
    cr_assert_eq(zipsrc_verify_all(z, scratch, 1 << 20, &damage, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(damage.n, 1);
    char msg[256];
    snprintf(msg, sizeof msg,
             "m/data/1000: CRC-32 mismatch (archive says %08x, data gives %08x): the file was "
             "altered or damaged",
             want, got);
    cr_expect_str_eq(damage.items[0], msg);
    findings_free(&damage);
    free(scratch);
    zipsrc_close(z);
    free(p);
}

/* ziplayout_name_hash folds A-Z to a-z eight bytes at a time: every byte
 * value, at every place of a word and of the last partial word, must hash
 * as its folded self (or case-equal names could escape the duplicate
 * check), and bytes that differ from a letter by 0x20 without being one
 * ('@' '`', '[' '{', 0xc1 0xe1, ...) must not be folded. */
Test(many, name_hash_folds_exactly_a_to_z)
{
    char a[19], b[19];
    for (size_t len = 1; len <= sizeof a; len++)
        for (size_t at = 0; at < len; at++)
            for (int c = 0; c < 256; c++) {
                memset(a, 'q', sizeof a);
                memcpy(b, a, sizeof b);
                a[at] = (char)c;
                /* c ^ 0x20 is a letter when c is one: its other case */
                int letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
                b[at] = (char)(c ^ 0x20);
                uint64_t ha = ziplayout_name_hash(a, len), hb = ziplayout_name_hash(b, len);
                if (letter)
                    cr_assert_eq(ha, hb, "byte %#x at %zu of %zu", c, at, len);
                else
                    cr_assert_neq(ha, hb, "byte %#x at %zu of %zu", c, at, len);
                cr_assert_eq(ziplayout_name_cmp(a, len, b, len) == 0, letter);
            }
    /* the length counts: a NUL byte at the end is part of the name */
    cr_expect_neq(ziplayout_name_hash("ab\0", 3), ziplayout_name_hash("ab", 2));
}

/* Two names equal without regard to case among thousands: the hash index
 * finds the pair, ziplayout reports it and sorts, and zipsrc finds records
 * by miniz's search (no hash index). */
Test(many, case_equal_pair_among_many_is_reported)
{
    static zb_entry e[NMANY + 2];
    size_t n = make_many(e);
    e[n++] = (zb_entry){"m/DATA/1", "zzzzz", 5, 0}; /* m/data/1 is among them */
    char *p = tu_path(dir, "dup.pt");
    cr_assert_eq(zb_write(p, e, n), 0);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    off_t size = lseek(fd, 0, SEEK_END);
    ziplayout zl;
    findings f = {0};
    c2s_error err = {0};
    cr_assert_eq(ziplayout_read(fd, (uint64_t)size, &zl, &f, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(f.n, 1);
    cr_expect_str_eq(f.items[0], "zip entries 'm/DATA/1' and 'm/data/1' have the same name "
                                 "without regard to case (PyTorch finds records that way)");
    cr_expect_eq(zl.names_distinct, 0);
    cr_expect_null(zl.by_hash);
    cr_assert_not_null(zl.by_name);
    for (size_t i = 1; i < n; i++) /* the name order, exact bytes breaking ties */
        cr_expect_leq(ziplayout_name_cmp(zl.entries[zl.by_name[i - 1]].name,
                                         zl.entries[zl.by_name[i - 1]].name_len,
                                         zl.entries[zl.by_name[i]].name,
                                         zl.entries[zl.by_name[i]].name_len),
                      0);
    ziplayout_free(&zl);
    findings_free(&f);
    close(fd);
    zipsrc *z = NULL;
    cr_assert_eq(zipsrc_open(p, 0, &z, NULL, &err), C2S_OK, "%s", err.msg);
    uint64_t s1 = 0, s2 = 0;
    size_t hint = 0;
    cr_assert_eq(zipsrc_storage_size(z, "1", &s1, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(zipsrc_storage_size_near(z, "1", &hint, &s2, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(s1, s2); /* whichever miniz's search meets first, both the same */
    cr_expect_str_eq(zipsrc_record_name(z, "data/1"), s1 == 5 ? "m/DATA/1" : "m/data/1");
    zipsrc_close(z);
    free(p);
}

/* zipsrc_storage_size_near finds what zipsrc_storage_size finds whatever
 * the hint: in the archive's order, shuffled, in another case, missing,
 * invalid, with a hint past the end. */
Test(many, storage_lookup_with_a_hint_finds_the_same)
{
    static zb_entry e[NMANY + 1];
    size_t n = make_many(e);
    char *p = tu_path(dir, "near.pt");
    cr_assert_eq(zb_write(p, e, n), 0);
    zipsrc *z = NULL;
    c2s_error err = {0};
    cr_assert_eq(zipsrc_open(p, 0, &z, NULL, &err), C2S_OK, "%s", err.msg);
    size_t hint = 0;
    for (size_t i = 1; i < n; i++) { /* the archive's order: each the next entry */
        const char *key = e[i].name + strlen("m/data/");
        uint64_t size = 0;
        cr_assert_eq(zipsrc_storage_size_near(z, key, &hint, &size, &err), C2S_OK, "%s", err.msg);
        cr_assert_eq(size, e[i].len);
        cr_assert_eq(hint, i + 1);
    }
    for (size_t k = 0; k < NMANY; k++) { /* key order, lower case: found as without hint */
        char key[32];
        snprintf(key, sizeof key, k % 3 ? "%zu" : "k%zu", k);
        uint64_t near = 0, plain = 0;
        cr_assert_eq(zipsrc_storage_size_near(z, key, &hint, &near, &err), C2S_OK, "%s", err.msg);
        cr_assert_eq(zipsrc_storage_size(z, key, &plain, &err), C2S_OK, "%s", err.msg);
        cr_assert_eq(near, k % 7 + 1);
        cr_assert_eq(plain, near);
    }
    /* a few entries on, within the entries tried first, and further on */
    for (size_t on = 1; on < 40; on++) {
        const char *key = e[1 + on].name + strlen("m/data/");
        uint64_t size = 0;
        hint = 1;
        cr_assert_eq(zipsrc_storage_size_near(z, key, &hint, &size, &err), C2S_OK, "%s", err.msg);
        cr_assert_eq(size, e[1 + on].len);
        cr_assert_eq(hint, 2 + on);
    }
    uint64_t size = 0;
    hint = (size_t)-1;
    cr_expect_eq(zipsrc_storage_size_near(z, "7", &hint, &size, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(size, 7 % 7 + 1);
    cr_expect_eq(zipsrc_storage_size_near(z, "K1", &hint, &size, &err), C2S_ERR_INPUT);
    cr_expect_str_eq(err.msg, "storage record m/data/K1 is missing");
    cr_expect_eq(zipsrc_storage_size_near(z, "a/b", &hint, &size, &err), C2S_ERR_INPUT);
    cr_expect_str_eq(err.msg, "invalid storage key 'a/b'");
    zipsrc_close(z);
    free(p);
}

/* A central directory of more than the 1 MiB ziplayout reads it by: records
 * of ~460 bytes straddle the window's edges.  Every entry must come out
 * whole and in order, and the first look must walk to the last name. */
#define NLONG 2600

static char long_names[NLONG + 1][480];

static size_t make_long(zb_entry *e, const char *last)
{
    char pad[420];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (size_t k = 0; k < NLONG; k++) {
        /* names of lengths 430 to 436, so records fall across the edges */
        snprintf(long_names[k], sizeof long_names[k], "m/%s/%zu%.*s", pad, k, (int)(k % 7),
                 "qqqqqqq");
        e[k] = (zb_entry){long_names[k], "ab", 2, 0};
    }
    snprintf(long_names[NLONG], sizeof long_names[NLONG], "%s", last);
    e[NLONG] = (zb_entry){long_names[NLONG], "cd", 2, 0};
    return NLONG + 1;
}

Test(many, central_directory_larger_than_the_window)
{
    static zb_entry e[NLONG + 1];
    size_t n = make_long(e, "m/constants.pkl");
    char *p = tu_path(dir, "long.pt");
    cr_assert_eq(zb_write(p, e, n), 0);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    off_t size = lseek(fd, 0, SEEK_END);
    ziplayout zl;
    findings f = {0};
    c2s_error err = {0};
    cr_assert_eq(ziplayout_read(fd, (uint64_t)size, &zl, &f, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(f.n, 0, "unexpected finding: %s", f.n ? f.items[0] : "");
    cr_assert_gt(zl.cd_size, 1u << 20);
    cr_assert_eq(zl.n, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(zl.entries[i].name, e[i].name);
        cr_assert_eq(zl.entries[i].size, 2);
        cr_assert_eq(zl.entries[i].local_ok, 1);
    }
    ziplayout_free(&zl);
    findings_free(&f);
    close(fd);
    free(p);
}
