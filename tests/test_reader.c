/*
 * test_reader.c - choosing the reader and saying what a file is.
 *
 * The input is opened once (rd_input) and the reader chosen by content:
 * these tests go through the public c2s_open and check the message for
 * each kind of file that is not a checkpoint we convert.  A zip archive is
 * opened once, by rd_open, for the TorchScript sniff and the reader that
 * takes it: the last tests check that the reader adopts that opening and
 * its findings, and reopens only when it failed, and that the pickle VM's
 * run on data.pkl beside the local headers (rd_early_run) is adopted only
 * when its bytes are the pickle torch reads, with the same outcome.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "c2s.h"
#include "pickle_builder.h"
#include "reader/reader.h"
#include "torch/rd_script.h"
#include "torch/rd_zip.h"
#include "test_util.h"
#include "zip_builder.h"

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

/* ---- data.pkl run beside the local headers -------------------------------- */

/* A state dict {'w': 2 floats, 'pad': a string of pad bytes}: a data.pkl
 * past the size zipsrc reads ahead (1 MiB). */
static pb big_state_dict(size_t pad)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    char *s = malloc(pad + 1);
    cr_assert_not_null(s);
    memset(s, 'x', pad);
    s[pad] = '\0';
    pb_proto(&p, 2);
    pb_empty_dict(&p);
    pb_mark(&p);
    pb_str(&p, "w");
    pb_tensor_v2(&p, "FloatStorage", "0", 2, 0, 1, size, stride);
    pb_str(&p, "pad");
    pb_str(&p, s);
    pb_setitems(&p);
    pb_stop(&p);
    free(s);
    return p;
}

/* rd_open on path (opened by zip reader): its error ("" on success), the
 * report's findings and globals counted, whether the early run was taken,
 * and that in keeps no machine after. */
typedef struct opened {
    char msg[sizeof(c2s_error){0}.msg];
    size_t findings, globals;
    int taken, has_top;
} opened;

static opened open_zip(const char *path)
{
    opened o = {{0}, 0, 0, 0, 0};
    rd_input in;
    c2s_error err;
    cr_assert_eq(rd_input_open(&in, path, &err), C2S_OK, "%s", err.msg);
    rd r = {0};
    const pvm_value *top = NULL;
    c2s_report rep;
    memset(&rep, 0, sizeof rep);
    c2s_error_clear(&err);
    rd_open(&r, &in, NULL, &rep, &top, &err);
    cr_expect_eq(r.ops, &rd_zip_ops, "%s", path);
    cr_expect_null(in.early.vm, "%s: the early run is left over", path);
    snprintf(o.msg, sizeof o.msg, "%s", err.msg);
    o.findings = rep.findings.n;
    o.globals = rep.nglobals;
    o.taken = in.early.taken;
    o.has_top = top != NULL;
    c2s_report_free(&rep);
    rd_close(&r);
    rd_input_close(&in);
    return o;
}

/* data.pkl written first and past 1 MiB: the VM ran on it while the local
 * headers were read, and the zip reader adopted that run; written second,
 * no run beside, the same outcome. */
Test(reader, big_pickle_run_beside_the_local_headers)
{
    pb p = big_state_dict((size_t)3 << 19);
    zb_entry first[] = {{"archive/data.pkl", p.buf, p.len, 0},
                        {"archive/data/0", "abcdefgh", 8, 0}};
    zb_entry second[] = {{"archive/data/0", "abcdefgh", 8, 0},
                         {"archive/data.pkl", p.buf, p.len, 0}};
    char *path = tu_path(dir, "big.pt");
    cr_assert_eq(zb_write(path, first, 2), 0);
    opened a = open_zip(path);
    cr_assert_eq(zb_write(path, second, 2), 0);
    opened b = open_zip(path);
    cr_expect_str_eq(a.msg, "");
    cr_expect_eq(a.taken, 1);
    cr_expect_eq(a.has_top, 1);
    cr_expect_str_eq(b.msg, "");
    cr_expect_eq(b.taken, 0);
    cr_expect_eq(b.has_top, 1);
    cr_expect_eq(a.findings, b.findings);
    cr_expect_eq(a.globals, b.globals);
    cr_expect_eq(a.globals, 3, "%zu globals", a.globals); /* rebuild, storage, OrderedDict */
    pb_free(&p);
    free(path);
}

/* The checkpoint of big_state_dict(3 << 19) written to path, data.pkl
 * first, and read back whole (*n bytes, malloc'd) for a test to damage;
 * *pad points at the pad string's first bytes in it. */
static unsigned char *big_checkpoint_bytes(const char *path, size_t *n, unsigned char **pad)
{
    pb p = big_state_dict((size_t)3 << 19);
    zb_entry e[] = {{"archive/data.pkl", p.buf, p.len, 0}, {"archive/data/0", "abcdefgh", 8, 0}};
    cr_assert_eq(zb_write(path, e, 2), 0);
    pb_free(&p);
    unsigned char *all = tu_read(path, n);
    cr_assert_not_null(all);
    *pad = memmem(all, *n, "xxxxxxxx", 8);
    cr_assert_not_null(*pad);
    return all;
}

/* The run beside is dropped when its bytes are not the pickle's: one byte
 * of data.pkl changed on disk (a CRC mismatch) gives the plain read's
 * error; a storage's local header out of the file, the plain opening's. */
Test(reader, big_pickle_run_beside_dropped_when_not_the_pickle)
{
    char *path = tu_path(dir, "damaged.pt");
    size_t n = 0;
    unsigned char *x = NULL, *all = big_checkpoint_bytes(path, &n, &x);
    x[100] = 'y'; /* still a pickle, no longer the recorded CRC */
    cr_assert_eq(tu_write(path, all, n), 0);
    opened crc = open_zip(path);
    cr_expect_eq(crc.taken, 0);
    cr_expect_eq(crc.has_top, 0);
    cr_expect(strstr(crc.msg, "archive/data.pkl: CRC-32 mismatch") == crc.msg, "%s", crc.msg);
    x[100] = 'x';
    unsigned char *cd = memmem(all, n, "PK\x01\x02", 4);
    cr_assert_not_null(cd);
    cd = memmem(cd + 4, n - (size_t)(cd + 4 - all), "PK\x01\x02", 4);
    cr_assert_not_null(cd);
    memcpy(cd + 42, "\xff\xff\xff\x7f", 4); /* the storage's local header offset */
    cr_assert_eq(tu_write(path, all, n), 0);
    opened bad = open_zip(path);
    zipsrc *z = NULL;
    c2s_error fresh;
    cr_assert_eq(zipsrc_open(path, 0, &z, NULL, &fresh), C2S_ERR_INPUT);
    cr_expect_eq(bad.taken, 0);
    cr_expect_str_eq(bad.msg, fresh.msg);
    cr_expect_str_eq(bad.msg, "corrupt zip archive: local header past the end of the file");
    free(all);
    free(path);
}

/* The local header pass beside the run keeps its findings: a storage's
 * header with a bad signature is reported as a fresh opening reports it,
 * and the run is still adopted (data.pkl is sound). */
Test(reader, big_pickle_run_beside_findings_kept)
{
    char *path = tu_path(dir, "badsig.pt");
    size_t n = 0;
    unsigned char *x = NULL, *all = big_checkpoint_bytes(path, &n, &x);
    unsigned char *second = memmem(x, n - (size_t)(x - all), "PK\x03\x04", 4);
    cr_assert_not_null(second);
    second[3] = 0x05;
    cr_assert_eq(tu_write(path, all, n), 0);
    c2s_report rep;
    c2s_error err;
    cr_expect_eq(open_with_reader(path, &rep, &err), &rd_zip_ops);
    expect_findings_of_fresh_open(path, &rep.findings);
    cr_assert_eq(rep.findings.n, 2);
    cr_expect_str_eq(rep.findings.items[0],
                     "zip entry 'archive/data/0' has no valid local header (bad signature)");
    cr_expect_str_eq(rep.findings.items[1],
                     "52 bytes that belong to no zip entry before the central directory");
    c2s_report_free(&rep);
    opened o = open_zip(path);
    cr_expect_eq(o.taken, 1);
    free(all);
    free(path);
}

/* The scan of a zip whose first record is a harmless data.pkl and whose
 * second has the same name but for case and calls posix.system: the
 * verdict, the globals (module.name, in order) and the error, with the
 * first data.pkl pad bytes long. */
typedef struct scanned {
    c2s_verdict verdict;
    char globals[256];
    char error[sizeof(c2s_error){0}.msg];
} scanned;

static scanned scan_twin_pickles(size_t pad)
{
    pb good = big_state_dict(pad);
    pb evil = {0};
    pb_proto(&evil, 2);
    pb_global(&evil, "posix", "system");
    pb_str(&evil, "echo marker");
    pb_op(&evil, 0x85); /* TUPLE1 */
    pb_reduce(&evil);
    pb_stop(&evil);
    zb_entry e[] = {{"archive/data.pkl", good.buf, good.len, 0},
                    {"archive/DATA.pkl", evil.buf, evil.len, 0},
                    {"archive/data/0", "abcdefgh", 8, 0}};
    char *path = tu_path(dir, "twins.pt");
    cr_assert_eq(zb_write(path, e, 3), 0);
    c2s_report rep;
    c2s_scan(path, NULL, &rep);
    scanned out = {rep.verdict, "", ""};
    for (size_t i = 0; i < rep.nglobals; i++) {
        size_t at = strlen(out.globals);
        snprintf(out.globals + at, sizeof out.globals - at, "%s.%s@%s ", rep.globals[i].module,
                 rep.globals[i].name, rep.globals[i].pickle);
    }
    snprintf(out.error, sizeof out.error, "%s", rep.error.msg);
    c2s_report_free(&rep);
    pb_free(&good);
    pb_free(&evil);
    free(path);
    return out;
}

/* Which of two data.pkl records torch reads is the zip layout's choice,
 * not the read-ahead's: with the first one past 1 MiB (read ahead and run
 * early) the scan says what it says with it small (never run early). */
Test(reader, run_beside_never_judges_another_pickle_than_torch_reads)
{
    scanned big = scan_twin_pickles((size_t)3 << 19), small = scan_twin_pickles(16);
    cr_expect_eq(big.verdict, small.verdict, "%s / %s", c2s_verdict_name(big.verdict),
                 c2s_verdict_name(small.verdict));
    cr_expect_str_eq(big.globals, small.globals);
    cr_expect_str_eq(big.error, small.error);
    cr_expect_neq(big.verdict, C2S_VERDICT_SAFE, "the twin named posix.system: %s", big.globals);
}

/* ---- persistent ids torch.load reads otherwise --------------------------- */

/* torch.load types a storage by the first persistent id naming its key,
 * comparing keys with == and reading the dtype off whatever the class is:
 * a key a call makes (builtins.str('0') == '0') or a class that is not a
 * global refuses the file, whether a tensor uses that id or not. */
Test(reader, persistent_id_key_or_class_not_plain_refused)
{
    static const float W[4] = {0.5f, -1.0f, 2.0f, 0.25f};
    int64_t size[1] = {4}, stride[1] = {1};
    for (int which = 0; which < 2; which++) {
        pb p = {0};
        pb_proto(&p, 2);
        pb_mark(&p); /* the popped first id: ('storage', cls, key, 'cpu', 4) */
        pb_str(&p, "storage");
        if (which == 0) {
            pb_global(&p, "torch", "IntStorage");
            pb_global(&p, "builtins", "str");
            pb_mark(&p);
            pb_str(&p, "0");
            pb_tuple(&p);
            pb_reduce(&p);
        } else {
            pb_global(&p, "argparse", "Namespace");
            pb_empty_tuple(&p);
            pb_reduce(&p);
            pb_str(&p, "0");
        }
        pb_str(&p, "cpu");
        pb_int(&p, 4);
        pb_tuple(&p);
        pb_binpersid(&p);
        pb_pop(&p);
        pb_empty_dict(&p);
        pb_str(&p, "w");
        pb_tensor_v2(&p, "FloatStorage", "0", 4, 0, 1, size, stride);
        pb_setitem(&p);
        pb_stop(&p);
        char *path = tu_path(dir, "ids.pt");
        static const char *const keys[] = {"0"};
        const void *data[] = {W};
        const size_t lens[] = {sizeof W};
        cr_assert_eq(zb_checkpoint(path, p.buf, p.len, 1, keys, data, lens), 0);
        c2s_checkpoint *ck = NULL;
        c2s_error err;
        cr_assert_eq(c2s_open(path, NULL, &ck, &err), C2S_ERR_INPUT, "case %d", which);
        cr_expect_str_eq(err.msg, "persistent id 1 (in pickle order) is not ('storage', class, "
                                  "str key, location, numel)");
        pb_free(&p);
        free(path);
    }
}
