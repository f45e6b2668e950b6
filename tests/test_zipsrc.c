/*
 * test_zipsrc.c - the archive reader: sniffing, record discovery, streams,
 * CRC checking.  Archives are built on the fly with libzip (zip_builder.h).
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "zip_builder.h"
#include "zip/zipsrc.h"

TU_SUITE_WITH_DIR(zipsrc);

/* Open a file holding data and expect exactly message. */
static void expect_open_error(const void *data, size_t len, const char *message)
{
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(tu_write(p, data, len), 0);
    zipsrc *z = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(zipsrc_open(p, 0, &z, NULL, &err), C2S_ERR_INPUT);
    cr_assert_null(z);
    cr_assert_str_eq(err.msg, message);
    free(p);
}

static zipsrc *open_ok(const zb_entry *e, size_t n)
{
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, n), 0);
    zipsrc *z = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = zipsrc_open(p, 0, &z, NULL, &err);
    cr_assert_eq(st, C2S_OK, "open failed: %s", err.msg);
    free(p);
    return z;
}

static void expect_zip_error(const zb_entry *e, size_t n, const char *message)
{
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, n), 0);
    zipsrc *z = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(zipsrc_open(p, 0, &z, NULL, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, message);
    free(p);
}

Test(zipsrc, empty_file)
{
    expect_open_error("", 0, "file is empty");
}

Test(zipsrc, text_file)
{
    expect_open_error("hello\n", 6, "not a PyTorch checkpoint: not a zip archive");
}

Test(zipsrc, directory_and_missing)
{
    zipsrc *z = NULL;
    c2s_error err;
    cr_assert_eq(zipsrc_open(dir, 0, &z, NULL, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "is a directory");
    char *p = tu_path(dir, "nope.pt");
    cr_assert_eq(zipsrc_open(p, 0, &z, NULL, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "cannot open: No such file or directory");
    free(p);
}

Test(zipsrc, truncated_zip)
{
    zb_entry e[] = {{"archive/data.pkl", "\x80\x02}.", 4, 0},
                    {"archive/data/0", "0123456789abcdef", 16, 0}};
    char *p = tu_path(dir, "full.pt");
    cr_assert_eq(zb_write(p, e, 2), 0);
    size_t len;
    unsigned char *buf = tu_read(p, &len);
    cr_assert_not_null(buf);
    char *q = tu_path(dir, "cut.pt");
    cr_assert_eq(tu_write(q, buf, len / 2), 0);
    zipsrc *z = NULL;
    c2s_error err;
    cr_assert_eq(zipsrc_open(q, 0, &z, NULL, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg,
                     "corrupt zip archive: no end of central directory record (truncated?)");
    free(buf);
    free(p);
    free(q);
}

Test(zipsrc, no_pickle)
{
    zb_entry e[] = {{"archive/data/0", "abcd", 4, 0}};
    expect_zip_error(e, 1, "no data.pkl record: not a PyTorch checkpoint");
}

/* torch.load refuses an entry outside the archive directory; a pickle there
 * (what a lenient reader might load) is a finding as well. */
Test(zipsrc, second_pickle_and_extra_pickles_are_findings)
{
    zb_entry e[] = {{"a/data.pkl", "\x80\x02}.", 4, 0},
                    {"b/data.pkl", "\x80\x02}.", 4, 0},
                    {"a/extra.pkl", "\x80\x02}.", 4, 0}};
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, 3), 0);
    zipsrc *z = NULL;
    c2s_error err;
    findings f = {0};
    cr_assert_eq(zipsrc_open(p, 0, &z, &f, &err), C2S_ERR_INPUT);
    cr_assert_null(z);
    cr_assert_str_eq(err.msg, "zip entry 'b/data.pkl' is outside the archive directory 'a/': "
                              "PyTorch refuses such a file");
    cr_assert_eq(f.n, 2);
    cr_assert_str_eq(f.items[0], "several data.pkl records ('a/' and 'b/')");
    cr_assert_str_eq(f.items[1], "extra pickle record 'a/extra.pkl'");
    findings_free(&f);
    free(p);
}

Test(zipsrc, extra_pickle_is_a_finding)
{
    zb_entry e[] = {{"a/data.pkl", "\x80\x02}.", 4, 0},
                    {"a/extra.pkl", "\x80\x02}.", 4, 0},
                    {"a/x/EVIL.PKL", "\x80\x02}.", 4, 0},
                    {"a/b/data.pkl", "\x80\x02}.", 4, 0}};
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, 4), 0);
    zipsrc *z = NULL;
    c2s_error err;
    findings f = {0};
    cr_assert_eq(zipsrc_open(p, 0, &z, &f, &err), C2S_OK, "%s", err.msg);
    cr_assert_str_eq(zipsrc_prefix(z), "a");
    cr_assert_eq(f.n, 3);
    cr_assert_str_eq(f.items[0], "extra pickle record 'a/extra.pkl'");
    cr_assert_str_eq(f.items[1], "extra pickle record 'a/x/EVIL.PKL'");
    cr_assert_str_eq(f.items[2], "extra pickle record 'a/b/data.pkl'");
    findings_free(&f);
    zipsrc_close(z);
    free(p);
}

/* The archive directory is that of the FIRST entry, whatever it is. */
Test(zipsrc, archive_name_from_first_entry)
{
    zb_entry e[] = {{"archive/version", "3\n", 2, 0}, {"other/data.pkl", "\x80\x02}.", 4, 0}};
    expect_zip_error(e, 2,
                     "zip entry 'other/data.pkl' is outside the archive directory "
                     "'archive/': PyTorch refuses such a file");
    zb_entry f[] = {{"readme.txt", "hi", 2, 0}, {"archive/data.pkl", "\x80\x02}.", 4, 0}};
    expect_zip_error(f, 2,
                     "the first zip entry 'readme.txt' is not in a directory: not a "
                     "PyTorch checkpoint (PyTorch refuses it)");
    /* compared exactly, as torch's strncmp does */
    zb_entry g[] = {{"archive/data.pkl", "\x80\x02}.", 4, 0}, {"ARCHIVE/x", "hi", 2, 0}};
    expect_zip_error(g, 2,
                     "zip entry 'ARCHIVE/x' is outside the archive directory "
                     "'archive/': PyTorch refuses such a file");
    /* the directory's name alone, longer, shorter: all outside */
    const char *outside[] = {"archive", "archivex/y", "archiv/y", "archive\\x"};
    for (size_t i = 0; i < 4; i++) {
        zb_entry h[] = {{"archive/data.pkl", "\x80\x02}.", 4, 0}, {outside[i], "hi", 2, 0}};
        char msg[200];
        snprintf(msg, sizeof msg,
                 "zip entry '%s' is outside the archive directory 'archive/': PyTorch refuses "
                 "such a file",
                 outside[i]);
        expect_zip_error(h, 2, msg);
    }
}

/* "/data.pkl": an empty archive name, which torch accepts. */
Test(zipsrc, empty_archive_name)
{
    zb_entry e[] = {{"/data.pkl", "\x80\x02}q\x00.", 6, 0}, {"/data/0", "abcd", 4, 0}};
    zipsrc *z = open_ok(e, 2);
    cr_assert_str_eq(zipsrc_prefix(z), "");
    uint8_t *pkl;
    size_t len;
    c2s_error err;
    cr_assert_eq(zipsrc_read_pickle(z, &pkl, &len, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(len, 6);
    free(pkl);
    uint64_t size;
    cr_assert_eq(zipsrc_storage_size(z, "0", &size, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(size, 4);
    zipsrc_close(z);
}

/* Records are found without regard to ASCII case, as miniz finds them. */
Test(zipsrc, records_found_without_regard_to_case)
{
    zb_entry e[] = {{"archive/DATA.PKL", "\x80\x02}q\x00.", 6, 0},
                    {"archive/Data/0", "abcd", 4, 0},
                    {"archive/BYTEORDER", "big", 3, 0}};
    zipsrc *z = open_ok(e, 3);
    cr_assert_eq(zipsrc_big_endian(z), 1);
    cr_assert_str_eq(zipsrc_pickle_name(z), "archive/DATA.PKL");
    uint8_t *pkl;
    size_t len;
    c2s_error err;
    cr_assert_eq(zipsrc_read_pickle(z, &pkl, &len, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(len, 6);
    free(pkl);
    zipsrc_stream s;
    cr_assert_eq(zipsrc_stream_open(z, "0", &s, &err), C2S_OK, "%s", err.msg);
    cr_assert_str_eq(s.name, "archive/Data/0");
    char buf[4];
    cr_assert_eq(zipsrc_stream_read(&s, 0, buf, 4, &err), C2S_OK);
    cr_assert_arr_eq(buf, "abcd", 4);
    zipsrc_stream_close(&s);
    zipsrc_close(z);
}

/* Of two names equal without regard to case, the one torch 1.13 read
 * (measured: fixtures/hostile case_swapped_*): miniz's heap sort and
 * binary search decide, not the central directory order. */
static void expect_pick(const zb_entry *e, size_t n, const char *key, const char *want)
{
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, n), 0);
    zipsrc *z = NULL;
    c2s_error err;
    findings f = {0};
    cr_assert_eq(zipsrc_open(p, 0, &z, &f, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(f.n, 1, "one finding expected, got %zu", f.n);
    cr_assert(strstr(f.items[0], "have the same name without regard to case") != NULL, "%s",
              f.items[0]);
    zipsrc_stream s;
    if (key == NULL) {
        uint8_t *pkl;
        size_t len;
        cr_assert_eq(zipsrc_read_pickle(z, &pkl, &len, &err), C2S_OK, "%s", err.msg);
        cr_assert_eq(len, strlen(want));
        cr_assert_arr_eq(pkl, want, len);
        free(pkl);
    } else {
        cr_assert_eq(zipsrc_stream_open(z, key, &s, &err), C2S_OK, "%s", err.msg);
        cr_assert_str_eq(s.name, want);
        zipsrc_stream_close(&s);
    }
    findings_free(&f);
    zipsrc_close(z);
    free(p);
}

Test(zipsrc, case_equal_names_pick_as_torch)
{
    zb_entry a[] = {{"archive/data.pkl", "clean", 5, 0},
                    {"archive/DATA.PKL", "evil", 4, 0},
                    {"archive/data/0", "abcd", 4, 0},
                    {"archive/version", "3\n", 2, 0}};
    expect_pick(a, 4, NULL, "evil");
    zb_entry b[] = {{"archive/data.pkl", "clean", 5, 0},
                    {"archive/data/0", "abcd", 4, 0},
                    {"archive/version", "3\n", 2, 0},
                    {"archive/DATA.PKL", "evil", 4, 0}};
    expect_pick(b, 4, NULL, "clean");
    zb_entry c[] = {{"archive/data.pkl", "clean", 5, 0},
                    {"archive/data/0", "abcd", 4, 0},
                    {"archive/DATA/0", "wxyz", 4, 0},
                    {"archive/version", "3\n", 2, 0}};
    expect_pick(c, 4, "0", "archive/DATA/0");
    zb_entry d[] = {{"archive/data.pkl", "clean", 5, 0},
                    {"archive/DATA/0", "wxyz", 4, 0},
                    {"archive/data/0", "abcd", 4, 0},
                    {"archive/version", "3\n", 2, 0}};
    expect_pick(d, 4, "0", "archive/data/0");
}

/* A NUL in the archive name: torch builds each key as a std::string and
 * hands miniz its c_str(), so every key is cut at the NUL ("arch"); its
 * entry check (strncmp) lets an entry named "arch" pass.  We look records up
 * the same way, and report the NUL. */
Test(zipsrc, nul_in_archive_name_cuts_every_key)
{
    zb_entry e[] = {{"archXve/version", "3\n", 2, 0}, {"arch", "\x80\x02}q\x00.", 6, 0}};
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, 2), 0);
    size_t len;
    unsigned char *buf = tu_read(p, &len);
    cr_assert_not_null(buf);
    int patched = 0;
    for (unsigned char *at = buf; (at = memmem(at, len - (size_t)(at - buf), "archXve/", 8));) {
        at[4] = '\0';
        patched++;
    }
    cr_assert_eq(patched, 2); /* local and central names */
    cr_assert_eq(tu_write(p, buf, len), 0);
    zipsrc *z = NULL;
    c2s_error err;
    findings f = {0};
    /* "byteorder" is "arch" too: the pickle is read as the byte order (as
     * torch 2.x would read it, and refuse it) */
    cr_assert_eq(zipsrc_open(p, 0, &z, &f, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "byteorder record says '\x80\x02}q', not 'little' or 'big'");
    cr_assert_eq(f.n, 2);
    cr_assert_str_eq(f.items[0], "zip entry name 'arch...' holds a NUL byte");
    cr_assert_str_eq(f.items[1], "the archive directory name 'arch...' holds a NUL byte");
    findings_free(&f);
    free(buf);
    free(p);
}

/* The same cut for storage keys: with a NUL in the archive name every
 * "data/<key>" is looked up as "arch", with a hint or without. */
Test(zipsrc, nul_in_archive_name_cuts_storage_keys)
{
    zb_entry e[] = {{"archXve/version", "3\n", 2, 0}, {"arch", "little", 6, 0}};
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, 2), 0);
    size_t len;
    unsigned char *buf = tu_read(p, &len);
    cr_assert_not_null(buf);
    for (unsigned char *at = buf; (at = memmem(at, len - (size_t)(at - buf), "archXve/", 8));)
        at[4] = '\0';
    cr_assert_eq(tu_write(p, buf, len), 0);
    zipsrc *z = NULL;
    c2s_error err;
    cr_assert_eq(zipsrc_open(p, 0, &z, NULL, &err), C2S_OK, "%s", err.msg);
    uint64_t size = 0;
    size_t hint = 0;
    cr_expect_eq(zipsrc_storage_size(z, "0", &size, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(size, 6);
    size = 0;
    cr_expect_eq(zipsrc_storage_size_near(z, "1", &hint, &size, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(size, 6);
    zipsrc_close(z);
    free(buf);
    free(p);
}

/* The descriptor is the caller's: the zipsrc keeps working after it is closed. */
Test(zipsrc, open_fd_keeps_its_own_descriptor)
{
    zb_entry e[] = {{"archive/data.pkl", "\x80\x02}q\x00.", 6, 0},
                    {"archive/data/0", "0123456789abcdef", 16, 1}};
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, 2), 0);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    zipsrc *z = NULL;
    c2s_error err;
    cr_assert_eq(zipsrc_open_fd(fd, (uint64_t)st.st_size, 0, &z, NULL, &err), C2S_OK, "%s",
                 err.msg);
    cr_assert_eq(unlink(p), 0); /* no path is looked up again */
    cr_assert_eq(close(fd), 0);
    zipsrc_stream s;
    cr_assert_eq(zipsrc_stream_open(z, "0", &s, &err), C2S_OK, "%s", err.msg);
    char buf[16];
    cr_assert_eq(zipsrc_stream_read(&s, 0, buf, 16, &err), C2S_OK, "%s", err.msg);
    cr_assert_arr_eq(buf, "0123456789abcdef", 16);
    cr_assert_eq(zipsrc_stream_verify(&s, NULL, 0, &err), C2S_OK, "%s", err.msg);
    zipsrc_stream_close(&s);
    zipsrc_close(z);
    free(p);
}

Test(zipsrc, nested_pickle_is_not_the_pickle)
{
    zb_entry e[] = {{"a/b/data.pkl", "\x80\x02}.", 4, 0}};
    expect_zip_error(e, 1, "no data.pkl record: not a PyTorch checkpoint");
}

Test(zipsrc, torchscript_archives_open_and_say_so)
{
    zb_entry e[] = {{"m/data.pkl", "\x80\x02}.", 4, 0}, {"m/constants.pkl", "\x80\x02).", 4, 0}};
    zipsrc *z = open_ok(e, 2);
    cr_expect_eq(zipsrc_is_torchscript(z), 1);
    cr_expect_eq(zipsrc_torch_load_sees_script(z), 1);
    zipsrc_close(z);
    zb_entry f[] = {{"m/data.pkl", "\x80\x02}.", 4, 0}, {"m/code/m.py", "x", 1, 0}};
    z = open_ok(f, 2);
    cr_expect_eq(zipsrc_is_torchscript(z), 1);
    cr_expect_eq(zipsrc_torch_load_sees_script(z), 0);
    zipsrc_close(z);
    /* torch.load compares "constants.pkl" exactly; torch.jit.load finds it
     * without regard to case */
    zb_entry g[] = {{"m/data.pkl", "\x80\x02}.", 4, 0}, {"m/Constants.PKL", "\x80\x02).", 4, 0}};
    findings fs = {0};
    c2s_error err = {0};
    char *p = tu_path(dir, "g.pt");
    cr_assert_eq(zb_write(p, g, 2), 0);
    cr_assert_eq(zipsrc_open(p, 0, &z, &fs, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(zipsrc_is_torchscript(z), 1);
    cr_expect_eq(zipsrc_torch_load_sees_script(z), 0);
    cr_expect_str_eq(zipsrc_record_name(z, "constants.pkl"), "m/Constants.PKL");
    zipsrc_close(z);
    findings_free(&fs);
    free(p);
    zb_entry h[] = {{"m/data.pkl", "\x80\x02}.", 4, 0}};
    z = open_ok(h, 1);
    cr_expect_eq(zipsrc_is_torchscript(z), 0);
    zipsrc_close(z);
}

Test(zipsrc, records_read_by_name_as_torch_finds_them)
{
    zb_entry e[] = {{"m/data.pkl", "\x80\x02}.", 4, 0},
                    {"m/CODE/__torch__.py", "class", 5, 1},
                    {"m/empty", "", 0, 0}};
    zipsrc *z = open_ok(e, 3);
    uint8_t *data = NULL;
    size_t len = 0;
    c2s_error err = {0};
    cr_assert_eq(zipsrc_read_record(z, "code/__torch__.py", &data, &len, &err), C2S_OK, "%s",
                 err.msg);
    cr_expect_eq(len, 5);
    cr_expect_arr_eq(data, "class", 5);
    free(data);
    cr_expect_eq(zipsrc_read_record(z, "code/other.py", &data, &len, &err), C2S_ERR_INPUT);
    cr_expect_str_eq(err.msg, "record m/code/other.py is missing");
    cr_expect_null(data);
    cr_expect_eq(zipsrc_read_record(z, "empty", &data, &len, &err), C2S_ERR_INPUT);
    cr_expect_str_eq(err.msg, "m/empty is empty");
    cr_expect_null(zipsrc_record_name(z, "nothing"));
    cr_expect_eq(zipsrc_entry_count(z), 3);
    cr_expect_str_eq(zipsrc_entry_name(z, 1), "m/CODE/__torch__.py");
    cr_expect_null(zipsrc_entry_name(z, 3));
    zipsrc_close(z);
}

Test(zipsrc, prefix_and_pickle)
{
    zb_entry e[] = {{"my_model/version", "3\n", 2, 0},
                    {"my_model/data.pkl", "\x80\x02}q\x00.", 6, 1}};
    zipsrc *z = open_ok(e, 2);
    cr_assert_str_eq(zipsrc_prefix(z), "my_model");
    cr_assert_eq(zipsrc_big_endian(z), 0);
    uint8_t *pkl;
    size_t len;
    c2s_error err;
    cr_assert_eq(zipsrc_read_pickle(z, &pkl, &len, &err), C2S_OK);
    cr_assert_eq(len, 6);
    cr_assert_arr_eq(pkl, "\x80\x02}q\x00.", 6);
    free(pkl);
    zipsrc_close(z);
}

Test(zipsrc, pickle_size_limit)
{
    zb_entry e[] = {{"archive/data.pkl", "\x80\x02}q\x00.", 6, 0}};
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, 1), 0);
    zipsrc *z = NULL;
    c2s_error err;
    cr_assert_eq(zipsrc_open(p, 5, &z, NULL, &err), C2S_OK);
    uint8_t *pkl;
    size_t len;
    cr_assert_eq(zipsrc_read_pickle(z, &pkl, &len, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "archive/data.pkl is 6 bytes, more than the limit of 5");
    cr_assert_eq(err.rule, C2S_RULE_MAX_PICKLE);
    zipsrc_close(z);
    free(p);
}

Test(zipsrc, byteorder)
{
    zb_entry e[] = {{"archive/data.pkl", "\x80\x02}.", 4, 0}, {"archive/byteorder", "big", 3, 0}};
    zipsrc *z = open_ok(e, 2);
    cr_assert_eq(zipsrc_big_endian(z), 1);
    zipsrc_close(z);
    zb_entry f[] = {{"archive/data.pkl", "\x80\x02}.", 4, 0},
                    {"archive/byteorder", "little", 6, 0}};
    z = open_ok(f, 2);
    cr_assert_eq(zipsrc_big_endian(z), 0);
    zipsrc_close(z);
    zb_entry g[] = {{"archive/data.pkl", "\x80\x02}.", 4, 0},
                    {"archive/byteorder", "middle", 6, 0}};
    expect_zip_error(g, 2, "byteorder record says 'middle', not 'little' or 'big'");
}

/* Positioned reads in any order return the right bytes, stored or deflated. */
static void check_stream(int deflate)
{
    unsigned char data[100000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + i / 256);
    zb_entry e[] = {{"archive/data.pkl", "\x80\x02}.", 4, 0},
                    {"archive/data/5", data, sizeof data, deflate}};
    zipsrc *z = open_ok(e, 2);
    zipsrc_stream s;
    c2s_error err;
    cr_assert_eq(zipsrc_stream_open(z, "5", &s, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(s.size, sizeof data);
    unsigned char buf[4096];
    const uint64_t offs[] = {50000, 10, 99000, 0, 4096, 30000};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        cr_assert_eq(zipsrc_stream_read(&s, offs[i], buf, 1000, &err), C2S_OK, "%s", err.msg);
        cr_assert_arr_eq(buf, data + offs[i], 1000, "bytes at %llu", (unsigned long long)offs[i]);
    }
    cr_assert_eq(zipsrc_stream_crc_done(&s), 0);
    cr_assert_eq(zipsrc_stream_verify(&s, buf, sizeof buf, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(zipsrc_stream_read(&s, 99999, buf, 2, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "archive/data/5: read of 2 bytes at 99999 is past its end "
                              "(100000 bytes)");
    zipsrc_stream_close(&s);
    zipsrc_close(z);
}

Test(zipsrc, stream_stored)
{
    check_stream(0);
}
Test(zipsrc, stream_deflated)
{
    check_stream(1);
}

Test(zipsrc, sequential_read_completes_crc)
{
    zb_entry e[] = {{"archive/data.pkl", "\x80\x02}.", 4, 0},
                    {"archive/data/0", "0123456789abcdef", 16, 0}};
    zipsrc *z = open_ok(e, 2);
    zipsrc_stream s;
    c2s_error err;
    cr_assert_eq(zipsrc_stream_open(z, "0", &s, &err), C2S_OK);
    char buf[16];
    cr_assert_eq(zipsrc_stream_read(&s, 0, buf, 10, &err), C2S_OK);
    cr_assert_eq(zipsrc_stream_crc_done(&s), 0);
    cr_assert_eq(zipsrc_stream_read(&s, 10, buf, 6, &err), C2S_OK);
    cr_assert_eq(zipsrc_stream_crc_done(&s), 1);
    cr_assert_eq(zipsrc_stream_verify(&s, NULL, 0, &err), C2S_OK);
    zipsrc_stream_close(&s);
    zipsrc_close(z);
}

/* Flip one payload byte behind libzip's back: the CRC check must see it. */
Test(zipsrc, crc_mismatch)
{
    static const char payload[] = "UNIQUE-PAYLOAD-0123456789";
    zb_entry e[] = {{"archive/data.pkl", "\x80\x02}.", 4, 0},
                    {"archive/data/0", payload, sizeof payload - 1, 0}};
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, 2), 0);
    size_t len;
    unsigned char *buf = tu_read(p, &len);
    unsigned char *hit = memmem(buf, len, payload, sizeof payload - 1);
    cr_assert_not_null(hit);
    hit[3] ^= 0x20;
    cr_assert_eq(tu_write(p, buf, len), 0);
    zipsrc *z = NULL;
    c2s_error err;
    cr_assert_eq(zipsrc_open(p, 0, &z, NULL, &err), C2S_OK, "%s", err.msg);
    zipsrc_stream s;
    cr_assert_eq(zipsrc_stream_open(z, "0", &s, &err), C2S_OK);
    char scratch[8];
    cr_assert_eq(zipsrc_stream_verify(&s, scratch, sizeof scratch, &err), C2S_ERR_INPUT);
    cr_assert_eq(err.rule, C2S_RULE_CORRUPT);
    cr_assert(strstr(err.msg, "archive/data/0: CRC-32 mismatch (archive says ") == err.msg,
              "got: %s", err.msg);
    cr_assert(strstr(err.msg, "): the file was altered or damaged") != NULL, "got: %s", err.msg);
    zipsrc_stream_close(&s);
    zipsrc_close(z);
    free(buf);
    free(p);
}

Test(zipsrc, missing_storage_and_bad_key)
{
    zb_entry e[] = {{"archive/data.pkl", "\x80\x02}.", 4, 0}};
    zipsrc *z = open_ok(e, 1);
    uint64_t size;
    c2s_error err;
    cr_assert_eq(zipsrc_storage_size(z, "9", &size, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "storage record archive/data/9 is missing");
    zipsrc_stream s;
    cr_assert_eq(zipsrc_stream_open(z, "../x", &s, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "invalid storage key '../x'");
    zipsrc_close(z);
}

/* How many findings of damage zipsrc_verify_all makes on z (into out, joined). */
static size_t verify_damage(zipsrc *z, char *out, size_t cap)
{
    void *scratch = malloc(1 << 20);
    cr_assert_not_null(scratch);
    findings damage = {0};
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(zipsrc_verify_all(z, scratch, 1 << 20, &damage, &err), C2S_OK, "%s", err.msg);
    out[0] = '\0';
    for (size_t i = 0; i < damage.n; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s;", damage.items[i]);
    size_t n = damage.n;
    findings_free(&damage);
    free(scratch);
    return n;
}

/* zipsrc_read_pickle read data.pkl whole and checked its CRC: the integrity
 * pass does not read it again.  Shown by damaging it on disk after the read:
 * a zipsrc that did not read it reports the damage, this one does not. */
Test(zipsrc, verify_all_skips_the_pickle_read_whole)
{
    zb_entry e[] = {{"archive/data.pkl", "\x80\x02}q\x00.", 6, 0},
                    {"archive/data/0", "abcd", 4, 0}};
    char *p = tu_path(dir, "in.pt");
    cr_assert_eq(zb_write(p, e, 2), 0);
    zipsrc *read = NULL, *fresh = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(zipsrc_open(p, 0, &read, NULL, &err), C2S_OK, "%s", err.msg);
    uint8_t *pkl;
    size_t len;
    cr_assert_eq(zipsrc_read_pickle(read, &pkl, &len, &err), C2S_OK, "%s", err.msg);
    free(pkl);
    int fd = open(p, O_RDWR);
    cr_assert_geq(fd, 0);
    size_t n = 0;
    unsigned char *all = tu_read(p, &n);
    cr_assert_not_null(all);
    unsigned char *at = memmem(all, n, "\x80\x02}q", 4);
    cr_assert_not_null(at);
    cr_assert_eq(pwrite(fd, "\x81", 1, at - all), 1);
    close(fd);
    free(all);
    cr_assert_eq(zipsrc_open(p, 0, &fresh, NULL, &err), C2S_OK, "%s", err.msg);
    char msg[512];
    cr_assert_eq(verify_damage(read, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(verify_damage(fresh, msg, sizeof msg), 1);
    cr_assert(strstr(msg, "archive/data.pkl: CRC-32 mismatch") == msg, "%s", msg);
    zipsrc_close(read);
    zipsrc_close(fresh);
    free(p);
}

/* A data.pkl of 1.5 MiB written first, as torch.save writes it: read on a
 * thread beside the local headers (zipsrc_pickle_prefetched), with exactly
 * the bytes of a plain read; damaged, the same error as the plain read;
 * over the pickle limit, the limit's error, unread. */
#define BIG_PICKLE ((size_t)3 << 19)

static unsigned char *big_pickle(void)
{
    unsigned char *pkl = malloc(BIG_PICKLE);
    cr_assert_not_null(pkl);
    for (size_t i = 0; i < BIG_PICKLE; i++)
        pkl[i] = (unsigned char)(i * 2654435761u >> 13);
    return pkl;
}

/* zipsrc_read_pickle of p with that max_pickle: status, message, bytes
 * (malloc'd or NULL), and whether they were the prefetched ones. */
static c2s_status read_pickle_of(const char *p, uint64_t max_pickle, char *msg, size_t cap,
                                 uint8_t **data, size_t *len, int *prefetched)
{
    zipsrc *z = NULL;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(zipsrc_open(p, max_pickle, &z, NULL, &err), C2S_OK, "%s", err.msg);
    c2s_status st = zipsrc_read_pickle(z, data, len, &err);
    snprintf(msg, cap, "%s", err.msg);
    *prefetched = zipsrc_pickle_prefetched(z);
    zipsrc_close(z);
    return st;
}

Test(zipsrc, big_pickle_read_beside_the_layout)
{
    unsigned char *pkl = big_pickle();
    zb_entry first[] = {{"archive/data.pkl", pkl, BIG_PICKLE, 0}, {"archive/data/0", "abcd", 4, 0}};
    zb_entry second[] = {{"archive/data/0", "abcd", 4, 0},
                         {"archive/data.pkl", pkl, BIG_PICKLE, 0}};
    char *p = tu_path(dir, "big.pt");
    char msg[sizeof(c2s_error){0}.msg];
    uint8_t *data;
    size_t len;
    int prefetched;
    cr_assert_eq(zb_write(p, first, 2), 0);
    cr_assert_eq(read_pickle_of(p, 0, msg, sizeof msg, &data, &len, &prefetched), C2S_OK, "%s",
                 msg);
    cr_expect_eq(prefetched, 1);
    cr_assert_eq(len, BIG_PICKLE);
    cr_expect_eq(memcmp(data, pkl, len), 0);
    free(data);
    /* written second: read the plain way, the same bytes */
    cr_assert_eq(zb_write(p, second, 2), 0);
    cr_assert_eq(read_pickle_of(p, 0, msg, sizeof msg, &data, &len, &prefetched), C2S_OK, "%s",
                 msg);
    cr_expect_eq(prefetched, 0);
    cr_assert_eq(len, BIG_PICKLE);
    cr_expect_eq(memcmp(data, pkl, len), 0);
    free(data);
    /* over the limit: the limit's message, nothing read */
    cr_assert_eq(zb_write(p, first, 2), 0);
    cr_expect_eq(read_pickle_of(p, BIG_PICKLE - 1, msg, sizeof msg, &data, &len, &prefetched),
                 C2S_ERR_INPUT);
    cr_expect_eq(prefetched, 0);
    cr_expect_null(data);
    cr_expect(strstr(msg, "archive/data.pkl is 1572864 bytes") != NULL, "%s", msg);
    free(pkl);
    free(p);
}

/* What zipsrc_beside's run was given. */
typedef struct beside_seen {
    int calls;
    const uint8_t *data;
    size_t len;
    int same; /* its bytes were the pickle's */
    const unsigned char *want;
} beside_seen;

static void see_beside(void *ctx, const uint8_t *data, size_t len)
{
    beside_seen *b = ctx;
    b->calls++;
    b->data = data;
    b->len = len;
    b->same = len == BIG_PICKLE && memcmp(data, b->want, len) == 0;
}

/* zipsrc_open_fd_beside gives the read-ahead data.pkl to its run while the
 * local headers are read, and zipsrc_read_pickle then hands out the very
 * same bytes; with data.pkl written second there is nothing to give. */
Test(zipsrc, big_pickle_given_beside_the_layout)
{
    unsigned char *pkl = big_pickle();
    zb_entry orders[2][2] = {{{"archive/data.pkl", pkl, BIG_PICKLE, 0},
                              {"archive/data/0", "abcd", 4, 0}},
                             {{"archive/data/0", "abcd", 4, 0},
                              {"archive/data.pkl", pkl, BIG_PICKLE, 0}}};
    char *p = tu_path(dir, "beside.pt");
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(zb_write(p, orders[k], 2), 0);
        int fd = open(p, O_RDONLY);
        cr_assert_geq(fd, 0);
        struct stat sb;
        cr_assert_eq(fstat(fd, &sb), 0);
        beside_seen seen = {0, NULL, 0, 0, pkl};
        zipsrc_beside beside = {see_beside, &seen};
        zipsrc *z = NULL;
        findings f = {0};
        c2s_error err;
        c2s_error_clear(&err);
        cr_assert_eq(zipsrc_open_fd_beside(fd, (uint64_t)sb.st_size, 0, &beside, &z, &f, &err),
                     C2S_OK, "%s", err.msg);
        close(fd);
        uint8_t *data;
        size_t len;
        cr_assert_eq(zipsrc_read_pickle(z, &data, &len, &err), C2S_OK, "%s", err.msg);
        if (k == 0) {
            cr_expect_eq(seen.calls, 1);
            cr_expect_eq(seen.same, 1);
            cr_expect_eq(zipsrc_pickle_prefetched(z), 1);
            cr_expect_eq(data, seen.data, "the bytes given are the pickle's own");
        } else {
            cr_expect_eq(seen.calls, 0);
            cr_expect_eq(zipsrc_pickle_prefetched(z), 0);
        }
        cr_expect_eq(f.n, 0);
        free(data);
        findings_free(&f);
        zipsrc_close(z);
    }
    free(pkl);
    free(p);
}

/* One byte of the big pickle changed on disk: both orders give the plain
 * read's CRC error, and the bytes as they are on disk, to be judged. */
Test(zipsrc, big_pickle_damaged_same_error_both_ways)
{
    unsigned char *pkl = big_pickle();
    zb_entry orders[2][2] = {{{"archive/data.pkl", pkl, BIG_PICKLE, 0},
                              {"archive/data/0", "abcd", 4, 0}},
                             {{"archive/data/0", "abcd", 4, 0},
                              {"archive/data.pkl", pkl, BIG_PICKLE, 0}}};
    char *p = tu_path(dir, "bad.pt");
    char msgs[2][sizeof(c2s_error){0}.msg];
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(zb_write(p, orders[k], 2), 0);
        size_t n = 0;
        unsigned char *all = tu_read(p, &n);
        cr_assert_not_null(all);
        unsigned char *at = memmem(all, n, pkl + 1000, 64);
        cr_assert_not_null(at);
        at[10] ^= 0x40;
        cr_assert_eq(tu_write(p, all, n), 0);
        uint8_t *data;
        size_t len;
        int prefetched;
        cr_expect_eq(read_pickle_of(p, 0, msgs[k], sizeof msgs[k], &data, &len, &prefetched),
                     C2S_ERR_INPUT);
        cr_expect_eq(prefetched, 0);
        cr_assert_not_null(data);
        cr_assert_eq(len, BIG_PICKLE);
        cr_expect_eq(memcmp(data, at - 1000, len), 0);
        free(data);
        free(all);
    }
    cr_expect(strstr(msgs[0], "archive/data.pkl: CRC-32 mismatch (archive says ") == msgs[0], "%s",
              msgs[0]);
    cr_expect_str_eq(msgs[0], msgs[1]);
    free(pkl);
    free(p);
}
