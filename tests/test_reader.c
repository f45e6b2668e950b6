/*
 * test_reader.c - choosing the reader and saying what a file is.
 *
 * The input is opened once (rd_input) and the reader chosen by content:
 * these tests go through the public c2s_open and check the message for
 * each kind of file that is not a checkpoint we convert.  A zip archive is
 * opened once, by rd_open, for the TorchScript sniff and the reader that
 * takes it: the last tests check that the reader adopts that opening and
 * its findings, and reopens only when it failed.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "c2s.h"
#include "reader/reader.h"
#include "torch/rd_script.h"
#include "torch/rd_zip.h"
#include "test_util.h"

TU_SUITE_WITH_DIR(reader);

static void expect_open_error(const void *data, size_t len, const char *msg)
{
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(tu_write(p, data, len), 0);
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    cr_assert_eq(c2s_open(p, NULL, &ck, &err), C2S_ERR_INPUT);
    cr_assert_null(ck);
    cr_assert_str_eq(err.msg, msg);
    free(p);
}

Test(reader, empty_file)
{
    expect_open_error("", 0, "file is empty");
}

Test(reader, text_file)
{
    expect_open_error("hello\n", 6, "not a PyTorch checkpoint: not a zip archive");
}

Test(reader, bare_pickle)
{
    expect_open_error("\x80\x02}q\x00.", 6, "a bare pickle, not a PyTorch checkpoint");
}

Test(reader, safetensors_input)
{
    static const char st[] = "\x13\0\0\0\0\0\0\0{\"__metadata__\":{}}";
    expect_open_error(st, sizeof st - 1, "already a safetensors file");
    /* a header that breaks a rule: the file is damaged, and says why */
    static const char bad[] = "\x10\0\0\0\0\0\0\0{\"__metadata__\":{}}";
    expect_open_error(bad, sizeof bad - 1,
                      "safetensors header: safetensors: header is not "
                      "valid JSON: unexpected end at offset 24");
}

/* The legacy magic number alone: a legacy checkpoint cut after it. */
Test(reader, legacy_magic_only)
{
    static const unsigned char legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                           0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
    expect_open_error(legacy, sizeof legacy,
                      "legacy checkpoint: truncated: no pickle at offset 15");
}

Test(reader, directory_and_missing)
{
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    cr_assert_eq(c2s_open(dir, NULL, &ck, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "is a directory");
    char *p = tu_path(dir, "nope.pt");
    cr_assert_eq(c2s_open(p, NULL, &ck, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "cannot open: No such file or directory");
    free(p);
}

/* rd_open on path: the reader it chose, the findings of the report, the
 * error message ("" on success); in.zip must be adopted (NULL) after. */
static const rd_ops *open_with_reader(const char *path, c2s_report *rep, c2s_error *err)
{
    rd_input in;
    cr_assert_eq(rd_input_open(&in, path, err), C2S_OK, "%s", err->msg);
    rd r = {0};
    const pvm_value *top = NULL;
    memset(rep, 0, sizeof *rep);
    c2s_error_clear(err);
    rd_open(&r, &in, NULL, rep, &top, err);
    cr_expect_null(in.zip, "%s: the opened zip was not adopted", path);
    cr_expect_eq(in.zip_findings.n, 0);
    const rd_ops *ops = r.ops;
    rd_close(&r);
    rd_input_close(&in);
    return ops;
}

/* The findings of one zipsrc_open_fd of path, as the reader made them before
 * rd_open opened the archive for it. */
static void expect_findings_of_fresh_open(const char *path, const c2s_findings *got)
{
    zipsrc *z = NULL;
    findings f = {0};
    c2s_error err;
    cr_assert_eq(zipsrc_open(path, 0, &z, &f, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(got->n, f.n, "%s: %zu findings, a fresh opening makes %zu", path, got->n, f.n);
    for (size_t i = 0; i < f.n; i++)
        cr_expect_str_eq(got->items[i], f.items[i]);
    findings_free(&f);
    zipsrc_close(z);
}

Test(reader, zip_opened_once_findings_kept)
{
    static const char *const zips[] = {"fixtures/hostile/bad_local_header_storage.pt",
                                       "fixtures/hostile/front_data_fake_header.pt",
                                       "fixtures/hostile/gap_data.pt",
                                       "fixtures/hostile/header_mismatch_name.pt",
                                       "fixtures/hostile/nul_in_unread_name.pt"};
    for (size_t i = 0; i < sizeof zips / sizeof zips[0]; i++) {
        c2s_report rep;
        c2s_error err;
        cr_expect_eq(open_with_reader(zips[i], &rep, &err), &rd_zip_ops, "%s", zips[i]);
        cr_expect_gt(rep.findings.n, 0, "%s", zips[i]);
        expect_findings_of_fresh_open(zips[i], &rep.findings);
        c2s_report_free(&rep);
    }
}

Test(reader, zip_opened_once_torchscript)
{
    c2s_report rep;
    c2s_error err;
    cr_expect_eq(open_with_reader("fixtures/script/good/nested.pt", &rep, &err), &rd_script_ops);
    cr_expect_str_eq(err.msg, "");
    c2s_report_free(&rep);
    cr_expect_eq(open_with_reader("fixtures/script/good/json_nested.pt", &rep, &err),
                 &rd_script_ops);
    cr_expect_str_eq(err.msg, "");
    c2s_report_free(&rep);
}

/* An archive the opening refuses: nothing kept, and the zip reader's own
 * opening gives the error. */
Test(reader, zip_opening_fails_reader_reopens)
{
    c2s_report rep;
    c2s_error err;
    cr_expect_eq(open_with_reader("fixtures/bad/truncated_zip.pt", &rep, &err), &rd_zip_ops);
    zipsrc *z = NULL;
    c2s_error fresh;
    cr_assert_eq(zipsrc_open("fixtures/bad/truncated_zip.pt", 0, &z, NULL, &fresh), C2S_ERR_INPUT);
    cr_expect_str_eq(err.msg, fresh.msg);
    cr_expect_str_eq(err.msg,
                     "corrupt zip archive: no end of central directory record (truncated?)");
    c2s_report_free(&rep);
}
