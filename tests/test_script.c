/*
 * test_script.c - TorchScript archives (torch.jit.save), through the
 * program and through the code/ reader (tscode.c) and zipsrc directly:
 * every fixture of fixtures/script/good converts to exactly its expected
 * file and lists its tensors in the order of its .keys file (both written
 * from torch.jit.load(f).state_dict() by fixtures/make_script.py, or for the
 * hand-written torch 1.0-1.2 archive json_nested.pt, from its model.json as
 * torch 1.2 reads it); every row
 * of fixtures/script/bad/MANIFEST fails with its exit code and exact
 * message and leaves nothing; the real tch_foo.pt (found in $C2S_REALDATA,
 * then ../shared/realdata, then ../../shared/realdata) converts to
 * fixtures/realdata/tch_foo.expected.safetensors; --list, --scan, --verify,
 * --dtype, --key and filters work on these archives.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run_util.h"
#include "test_util.h"
#include "torch/tscode.h"

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

TestSuite(script, .init = setup, .fini = teardown, .timeout = 60);

#define RUN(...) \
    tr_finish(tr_start(tr_bin(), dir, NULL, (const char *const[]){__VA_ARGS__, NULL}), dir)

static void expect_converts_to(const char *input, const char *want)
{
    char *out = tu_path(dir, "out.safetensors");
    tr_result r = RUN("-q", "-o", out, input);
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

/* The first column of --list's table, one name a line, as in a .keys file. */
static char *listed_names(const char *input)
{
    tr_result r = RUN("--list", input);
    cr_expect_eq(r.code, 0, "%s: %s", input, r.err);
    size_t cap = strlen(r.out) + 1, at = 0;
    char *names = calloc(1, cap);
    cr_assert_not_null(names);
    char *line = strchr(r.out, '\n'); /* skip the header */
    while (line != NULL && line[1] != '\0') {
        line++;
        char *sp = strstr(line, "  ");
        char *nl = strchr(line, '\n');
        if (sp == NULL || (nl != NULL && sp > nl))
            break; /* the summary line */
        at += (size_t)snprintf(names + at, cap - at, "%.*s\n", (int)(sp - line), line);
        line = nl;
    }
    tr_free(&r);
    return names;
}

static const char *const GOOD[] = {"nested", "tiny", "code_case_swapped", "json_nested"};

Test(script, every_good_fixture_converts_to_what_torch_jit_load_returns)
{
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        char input[256], want[256];
        snprintf(input, sizeof input, "fixtures/script/good/%s.pt", GOOD[i]);
        snprintf(want, sizeof want, "fixtures/script/good/%s.expected.safetensors", GOOD[i]);
        expect_converts_to(input, want);
    }
    DIR *d = opendir("fixtures/script/good");
    cr_assert_not_null(d);
    int inputs = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        inputs += n > 3 && strcmp(e->d_name + n - 3, ".pt") == 0;
    }
    closedir(d);
    cr_expect_eq(inputs, 4, "fixtures/script/good holds %d archives", inputs);
}

Test(script, tensors_come_in_state_dict_order)
{
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        char input[256], keys[256];
        snprintf(input, sizeof input, "fixtures/script/good/%s.pt", GOOD[i]);
        snprintf(keys, sizeof keys, "fixtures/script/good/%s.keys", GOOD[i]);
        char *want = tr_slurp(keys), *got = listed_names(input);
        cr_expect_str_eq(got, want, "%s", input);
        free(want);
        free(got);
    }
}

Test(script, every_bad_fixture_fails_with_its_message)
{
    cr_expect_eq(tr_expect_manifest_failures("fixtures/script/bad", dir), 14);
}

static const char *realdata_dir(void)
{
    return tu_realdata("torch");
}

/* Written by tch-rs (LaurentMazare/tch-rs test data) with torch.jit.save. */
Test(script, real_torchscript_file_converts_exactly)
{
    const char *real = realdata_dir();
    cr_assert_not_null(real, "tch_foo.pt not found: set C2S_REALDATA or put shared/realdata "
                             "beside the checkout");
    char input[512];
    snprintf(input, sizeof input, "%s/torch/tch_foo.pt", real);
    expect_converts_to(input, "fixtures/realdata/tch_foo.expected.safetensors");
    tr_result r = RUN("--scan", input);
    cr_expect_eq(r.code, 0, "%s", r.out);
    char want[1024];
    snprintf(want, sizeof want, "%s: safe (TorchScript zip): 5 globals, none refused\n", input);
    cr_expect(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
    tr_free(&r);
}

Test(script, list_shows_the_tensors_and_what_was_left_out)
{
    tr_result r = RUN("--list", "fixtures/script/good/tiny.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "NAME    DTYPE        SHAPE                 BYTES\n"
                            "weight  F32          [2, 2]                16\n"
                            "scale   F32          [2]                   8\n"
                            "2 tensors, 24 bytes, root: (top level)\n");
    tr_free(&r);
    r = RUN("--list", "fixtures/script/good/nested.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    const char *notes = "22 tensors, 348 bytes, root: (top level)\n"
                        "left out: a.c (a tensor attribute, neither parameter nor buffer)\n"
                        "left out: b.c (a tensor attribute, neither parameter nor buffer)\n"
                        "left out: 1 tensor constant of archive/constants.pkl\n";
    size_t n = strlen(r.out), k = strlen(notes);
    cr_expect(n >= k && strcmp(r.out + n - k, notes) == 0, "%s", r.out);
    tr_free(&r);
}

Test(script, scan_classes_the_archive_classes_as_data)
{
    tr_result r = RUN("--scan", "--json", "fixtures/script/good/nested.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\"verdict\":\"safe\"") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\"format\":\"TorchScript zip\"") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "{\"module\":\"__torch__\",\"name\":\"Nested\",\"class\":\"data\"") !=
                  NULL,
              "%s", r.out);
    cr_expect(strstr(r.out, "{\"module\":\"__torch__.torch.nn.modules.linear\",\"name\":"
                            "\"Linear\",\"class\":\"data\"") != NULL,
              "%s", r.out);
    cr_expect(strstr(r.out, "\"pickle\":\"archive/constants.pkl\"") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\"error\":null") != NULL, "%s", r.out);
    tr_free(&r);
}

Test(script, verify_dtype_key_and_filters_work)
{
    char *out = tu_path(dir, "out.safetensors");
    tr_result r = RUN("-q", "--verify", "--dtype", "f16", "--key", "a", "--exclude", "*.bias", "-o",
                      out, "fixtures/script/good/nested.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    r = RUN("--list", out);
    cr_expect_str_eq(r.out, "NAME        DTYPE        SHAPE                 BYTES\n"
                            "lin.weight  F16          [2, 3]                12\n"
                            "running     F16          [4]                   8\n"
                            "scratch     F16          [2]                   4\n"
                            "shared      F16          [2, 2]                8\n"
                            "4 tensors, 32 bytes\n"
                            "metadata: format=pt\n"
                            "metadata: ckpt2safetensors.options=--key=a --exclude=*.bias "
                            "--dtype=F16\n");
    tr_free(&r);
    free(out);
}

Test(script, model_json_archives_are_judged_and_listed)
{
    tr_result r = RUN("--scan", "--json", "fixtures/script/good/json_nested.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\"verdict\":\"safe\"") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\"format\":\"TorchScript zip\"") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\"globals\":[]") != NULL, "%s", r.out);
    tr_free(&r);
    char *out = tu_path(dir, "out.safetensors");
    r = RUN("-q", "--key", "tied", "-o", out, "fixtures/script/good/json_nested.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    r = RUN("--list", out);
    cr_expect_str_eq(r.out, "NAME  DTYPE        SHAPE                 BYTES\n"
                            "bias  F32          [2]                   8\n"
                            "view  F32          [2, 2]                16\n"
                            "2 tensors, 24 bytes\n"
                            "metadata: format=pt\n"
                            "metadata: ckpt2safetensors.options=--key=tied\n");
    tr_free(&r);
    free(out);
}

/* ---- the code/ reader ----------------------------------------------------------- */

static c2s_status parse(const char *text, ts_classes *c, c2s_error *err)
{
    return tscode_parse("__torch__.m", "archive/code/__torch__/m.py", (const uint8_t *)text,
                        strlen(text), c, err);
}

Test(script, code_reader_reads_the_lists_torch_writes)
{
    ts_classes c = {0};
    c2s_error err = {0};
    const char *text = "class A(Module):\n"
                       "  __parameters__ = [\"weight\", \"bias\", ]\n"
                       "  __buffers__ = []\n"
                       "  weight : Tensor\n"
                       "  def forward(self: __torch__.m.A) -> Tensor:\n"
                       "    __parameters__ = [\"not\", \"this\"]\n"
                       "class B:\n"
                       "  __buffers__ = [\"x\", ]\n"
                       "\n"
                       "  def  __setstate__ (self: __torch__.m.B, s: int) -> None:\n"
                       "    return None\n"
                       "def f(x: int) -> int:\n"
                       "  __parameters__ = [\"outside\", ]\n";
    cr_assert_eq(parse(text, &c, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(c.n, 2);
    const ts_class *a = tscode_find(&c, "__torch__.m.A"), *b = tscode_find(&c, "__torch__.m.B");
    cr_assert(a != NULL && b != NULL);
    cr_expect(a->is_module && a->has_setstate); /* the file mentions __setstate__ */
    cr_assert_eq(a->nparams, 2);
    cr_expect_str_eq(a->params[0], "weight");
    cr_expect_str_eq(a->params[1], "bias");
    cr_expect_eq(a->nbuffers, 0);
    cr_expect(!b->is_module && b->has_setstate);
    cr_expect_eq(b->nbuffers, 1);
    cr_expect_null(tscode_find(&c, "__torch__.m.f"));
    tscode_free(&c);
    /* a comment at column 0 does not end the class; no __setstate__ here */
    cr_assert_eq(parse("class C(Module):\n# note\n  __buffers__ = [\"b\", ]\n", &c, &err), C2S_OK,
                 "%s", err.msg);
    cr_assert_eq(c.n, 1);
    cr_expect(c.items[0].is_module && !c.items[0].has_setstate);
    cr_expect_eq(c.items[0].nbuffers, 1);
    tscode_free(&c);
}

Test(script, code_reader_refuses_what_it_cannot_read)
{
    static const struct {
        const char *text, *msg;
    } CASES[] = {
        {"class A(Module):\n  __parameters__ = [\"w\"]\n",
         "archive/code/__torch__/m.py line 2: cannot read the __parameters__ list"},
        {"class A(Module):\n  __buffers__ = [\"w\\\"x\", ]\n",
         "archive/code/__torch__/m.py line 2: cannot read the __buffers__ list"},
        {"class A(Module):\n  __buffers__ = []\n  __buffers__ = []\n",
         "archive/code/__torch__/m.py line 3: a second __buffers__ list"},
        {"class A(Module):\n  pass\nclass A(Module):\n  pass\n",
         "archive/code/__torch__/m.py declares class __torch__.m.A twice"},
        {"class A(Module)\n", "archive/code/__torch__/m.py line 1: cannot read the class header"},
        {"class A(Module):\n    __parameters__ = [\"w\", ]\n",
         "archive/code/__torch__/m.py line 2: class body not indented by two spaces"},
        {"class A(Module):\n \n\t__parameters__ = []\n",
         "archive/code/__torch__/m.py line 3: a tab in the indentation"},
        {"class A(Module):\n  __parameters__: List[str] = []\n",
         "archive/code/__torch__/m.py line 2: cannot read the __parameters__ list"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        ts_classes c = {0};
        c2s_error err = {0};
        cr_expect_eq(parse(CASES[i].text, &c, &err), C2S_ERR_INPUT, "case %zu", i);
        cr_expect_str_eq(err.msg, CASES[i].msg);
        cr_expect_eq(c.n, 0, "case %zu: a class of a file that failed was kept", i);
        tscode_free(&c);
    }
}
