/*
 * test_scan.c - c2s_scan when the zip reader's integrity pass runs on a
 * thread of its own beside the tensor map (src/engine/scan.c): the report
 * must be the one of the sequential order, whichever of the two fails.
 *
 *   - damage only (a record's CRC): corrupt, the damage as the error;
 *   - the map failing only (a missing storage, two tensors of one name):
 *     unreadable, the map's error, no damage;
 *   - both at once (two tensors of one name and a damaged record): corrupt,
 *     the damage wins, the map's error is dropped;
 *   - a clean archive: safe, nothing reported.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <unistd.h>

#include "c2s.h"
#include "test_util.h"
#include "zip/ziplayout.h"

TU_SUITE_WITH_DIR(scan);

#define CRC_MSG                                                                               \
    "archive/data/0: CRC-32 mismatch (archive says 21c0b223, data gives a815b377): the file " \
    "was altered or damaged"

static void expect_report(const char *path, c2s_status status, c2s_verdict verdict,
                          const char *error, const char *damage)
{
    c2s_report r;
    cr_assert_eq(c2s_scan(path, NULL, &r), status, "%s: %s", path, r.error.msg);
    cr_assert_eq(r.verdict, verdict, "%s: verdict %s", path, c2s_verdict_name(r.verdict));
    cr_assert_str_eq(r.error.msg, error, "%s", path);
    cr_assert_eq(r.findings.n, 0, "%s", path);
    cr_assert_eq(r.damage.n, damage != NULL, "%s", path);
    if (damage != NULL)
        cr_assert_str_eq(r.damage.items[0], damage, "%s", path);
    c2s_report_free(&r);
}

Test(scan, damage_alone)
{
    expect_report("fixtures/bad/crc_mismatch.pt", C2S_ERR_INPUT, C2S_VERDICT_CORRUPT, CRC_MSG,
                  CRC_MSG);
}

Test(scan, map_failure_alone)
{
    expect_report("fixtures/bad/missing_storage.pt", C2S_ERR_INPUT, C2S_VERDICT_UNREADABLE,
                  "storage record archive/data/0 is missing", NULL);
    expect_report("fixtures/bad/duplicate_name.pt", C2S_ERR_INPUT, C2S_VERDICT_UNREADABLE,
                  "two tensors are both named 'a.b'", NULL);
}

/* duplicate_name.pt with the first byte of archive/data/0 flipped. */
Test(scan, damage_wins_over_a_map_failure)
{
    size_t n = 0;
    unsigned char *b = tu_read("fixtures/bad/duplicate_name.pt", &n);
    cr_assert_not_null(b);
    char *p = tu_path(dir, "both.pt");
    cr_assert_eq(tu_write(p, b, n), 0);
    free(b);
    int fd = open(p, O_RDWR);
    cr_assert_geq(fd, 0);
    ziplayout zl;
    findings f = {0};
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(ziplayout_read(fd, (uint64_t)n, &zl, &f, &err), C2S_OK, "%s", err.msg);
    uint64_t at = UINT64_MAX;
    for (size_t i = 0; i < zl.n; i++)
        if (strcmp(zl.entries[i].name, "archive/data/0") == 0)
            at = zl.entries[i].data_offset;
    cr_assert_neq(at, UINT64_MAX);
    unsigned char byte;
    cr_assert_eq(pread(fd, &byte, 1, (off_t)at), 1);
    byte ^= 0xff;
    cr_assert_eq(pwrite(fd, &byte, 1, (off_t)at), 1);
    close(fd);
    ziplayout_free(&zl);
    findings_free(&f);

    c2s_report r;
    cr_assert_eq(c2s_scan(p, NULL, &r), C2S_ERR_INPUT);
    cr_assert_eq(r.verdict, C2S_VERDICT_CORRUPT);
    cr_assert_eq(r.damage.n, 1);
    cr_assert(strncmp(r.damage.items[0], "archive/data/0: CRC-32 mismatch", 31) == 0, "%s",
              r.damage.items[0]);
    cr_assert_str_eq(r.error.msg, r.damage.items[0]);
    c2s_report_free(&r);
    free(p);
}

Test(scan, clean_archive)
{
    c2s_report r;
    cr_assert_eq(c2s_scan("fixtures/sample.ckpt", NULL, &r), C2S_OK, "%s", r.error.msg);
    cr_assert_eq(r.verdict, C2S_VERDICT_SAFE);
    cr_assert_str_eq(r.error.msg, "");
    cr_assert_eq(r.findings.n, 0);
    cr_assert_eq(r.damage.n, 0);
    c2s_report_free(&r);
}
