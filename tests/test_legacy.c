/*
 * test_legacy.c - the legacy (pre-1.6) stream reader, through the program:
 * every fixture of fixtures/legacy/good converts to exactly its expected
 * file (written from what torch.load returned, by fixtures/make_legacy.py);
 * every row of fixtures/legacy/bad/MANIFEST fails with its exit code and
 * exact message and leaves nothing; the real files of
 * ../shared/realdata/torch convert to fixtures/realdata/NAME.expected...; and the
 * other modes (--list, --scan, --verify, --dtype, filters) work on them.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run_util.h"
#include "test_util.h"

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir();
    cr_assert_not_null(dir);
}
static void teardown(void)
{
    tu_rmdir(dir);
    dir = NULL;
}

TestSuite(legacy, .init = setup, .fini = teardown, .timeout = 60);

#define RUN(...) \
    tr_finish(tr_start(tr_bin(), dir, NULL, (const char *const[]){__VA_ARGS__, NULL}), dir)

/* Output of converting input (with one extra option, or NULL) equals want. */
static void expect_converts_to(const char *input, const char *extra, const char *want)
{
    char *out = tu_path(dir, "out.safetensors");
    tr_result r = extra ? RUN("-q", extra, "-o", out, input) : RUN("-q", "-o", out, input);
    cr_expect_eq(r.code, 0, "%s: exit %d: %s", input, r.code, r.err);
    cr_expect_str_empty(r.err, "%s: printed %s", input, r.err);
    size_t got_len = 0, want_len = 0;
    unsigned char *got = tu_read(out, &got_len);
    unsigned char *exp = tu_read(want, &want_len);
    cr_assert_not_null(exp, "%s missing", want);
    cr_expect(got != NULL && got_len == want_len && memcmp(got, exp, want_len) == 0,
              "%s: output differs from %s", input, want);
    free(got);
    free(exp);
    unlink(out);
    free(out);
    tr_free(&r);
}

static int is_input(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && !(n > 21 && strcmp(name + n - 21, ".expected.safetensors") == 0);
}

Test(legacy, every_good_fixture_converts_to_its_expected_bytes)
{
    DIR *d = opendir("fixtures/legacy/good");
    cr_assert_not_null(d);
    int seen = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!is_input(e->d_name))
            continue;
        char input[512], want[512];
        snprintf(input, sizeof input, "fixtures/legacy/good/%s", e->d_name);
        const char *dot = strrchr(e->d_name, '.');
        snprintf(want, sizeof want, "fixtures/legacy/good/%.*s.expected.safetensors",
                 (int)(dot - e->d_name), e->d_name);
        expect_converts_to(input, NULL, want);
        seen++;
    }
    closedir(d);
    cr_expect_eq(seen, 6, "fixtures/legacy/good holds %d inputs", seen);
}

Test(legacy, every_bad_fixture_fails_with_its_message)
{
    cr_expect_eq(tr_expect_manifest_failures("fixtures/legacy/bad", dir), 12);
}

/* Real files written by other programs (tracel-ai/burn's test data). */
Test(legacy, real_third_party_files_convert_exactly)
{
    static const char *const NAMES[] = {"burn_simple_legacy", "burn_legacy_shared_storage",
                                        "burn_legacy_uncloned_views", "burn_legacy_with_offsets"};
    const char *real = tu_realdata("torch");
    cr_assert_not_null(real, "no realdata/torch: the tests need shared/realdata "
                             "(or $C2S_REALDATA)");
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        char input[1024], want[512];
        snprintf(input, sizeof input, "%s/torch/%s.pt", real, NAMES[i]);
        snprintf(want, sizeof want, "fixtures/realdata/%s.expected.safetensors", NAMES[i]);
        struct stat st;
        cr_assert_eq(stat(input, &st), 0, "%s is missing", input);
        expect_converts_to(input, NULL, want);
    }
}

Test(legacy, list_shows_the_tensors)
{
    tr_result r = RUN("--list", "fixtures/legacy/good/legacy_storage_view.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "NAME   DTYPE        SHAPE                 BYTES\n"
                            "whole  F32          [10]                  40\n"
                            "part   F32          [2, 2]                16\n"
                            "2 tensors, 56 bytes, root: (top level)\n");
    tr_free(&r);
}

Test(legacy, scan_judges_every_pickle_of_the_stream)
{
    tr_result r = RUN("--scan", "--json", "fixtures/legacy/good/legacy_nested.ckpt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\"verdict\":\"safe\"") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\"format\":\"not a zip (legacy load path)\"") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\"name\":\"_rebuild_tensor_v2\"") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\"error\":null") != NULL, "%s", r.out);
    tr_free(&r);
}

Test(legacy, verify_dtype_and_filters_work)
{
    char *out = tu_path(dir, "out.safetensors");
    tr_result r = RUN("-q", "--verify", "--dtype", "f16", "--exclude", "*.bias", "-o", out,
                      "fixtures/legacy/good/legacy_nested.ckpt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    r = RUN("--list", out);
    cr_expect_str_eq(r.out, "NAME          DTYPE        SHAPE                 BYTES\n"
                            "layer.weight  F16          [2, 3]                12\n"
                            "1 tensor, 12 bytes\n"
                            "metadata: format=pt\n"
                            "metadata: ckpt2safetensors.options=--exclude=*.bias --dtype=F16\n");
    tr_free(&r);
    free(out);
}

/* torch.load tries the pre-0.4 tar format first and unpickles its members:
 * we do not convert it, but every member is swept, so a payload in one is
 * unsafe (exit 3), not merely unreadable. */
Test(legacy, tar_members_are_judged)
{
    tr_result r = RUN("--scan", "fixtures/legacy/bad/legacy_tar_payload.pt");
    cr_expect_eq(r.code, 3);
    cr_expect(strstr(r.out, "  dangerous  posix.system  sweep         tar member pickle offset "
                            "2562\n") != NULL,
              "%s", r.out);
    tr_free(&r);
    r = RUN("--scan", "fixtures/legacy/bad/legacy_tar.pt");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.out, "fixtures/legacy/bad/legacy_tar.pt: unreadable: PyTorch legacy tar "
                            "format (before 0.4) is not supported\n");
    tr_free(&r);
}
