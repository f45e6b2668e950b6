/*
 * test_reader.c - choosing the reader and saying what a file is.
 *
 * The input is opened once (rd_input) and the reader chosen by content:
 * these tests go through the public c2s_open and check the message for
 * each kind of file that is not a checkpoint we convert.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "c2s.h"
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
