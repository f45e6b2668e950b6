/*
 * test_completion.c - the bash completion (completion/ckpt2safetensors.bash)
 * in a real bash.
 *
 * Each case sources the completion, sets COMP_WORDS and COMP_CWORD as bash
 * sets them for a command line (with '=' in COMP_WORDBREAKS, bash's
 * default, "--dtype=b" arrives as the words "--dtype" "=" "b"; without it,
 * as one word), calls _ckpt2safetensors and prints COMPREPLY sorted, one
 * reply per line; the test compares that exactly.  It runs in a
 * directory holding a few files and a directory, for the file cases.
 */
#include <criterion/criterion.h>
#include <limits.h>

#include "run_util.h"
#include "test_util.h"

static char *dir;
static char script[PATH_MAX];

static void touch(const char *name)
{
    char *p = tu_path(dir, name);
    cr_assert_eq(tu_write(p, "", 0), 0);
    free(p);
}

static void setup(void)
{
    cr_assert_not_null(realpath("completion/ckpt2safetensors.bash", script), "no completion");
    dir = tu_tmpdir();
    cr_assert_not_null(dir);
    touch("a.pt");
    touch("b.ckpt");
    touch("notes.txt");
    touch("s.pt");
    char *sub = tu_path(dir, "sub");
    cr_assert_eq(mkdir(sub, 0755), 0);
    free(sub);
}

static void teardown(void)
{
    char *sub = tu_path(dir, "sub");
    rmdir(sub);
    free(sub);
    tu_rmdir(dir);
    dir = NULL;
}

TestSuite(completion, .init = setup, .fini = teardown, .timeout = 30);

/* The replies for COMP_WORDS = words (NULL-terminated, the last one the
 * word being completed), sorted, each followed by '\n'; malloc'd. */
static char *complete(const char *const *words)
{
    char code[PATH_MAX + 256];
    snprintf(code, sizeof code,
             "source '%s' || exit 9; COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); "
             "_ckpt2safetensors; ((${#COMPREPLY[@]})) && printf '%%s\\n' \"${COMPREPLY[@]}\" "
             "| LC_ALL=C sort; exit 0",
             script);
    const char *args[TR_MAX_ARGS + 1];
    size_t n = 0;
    args[n++] = "--norc";
    args[n++] = "-c";
    args[n++] = code;
    args[n++] = "_"; /* $0 */
    args[n++] = "ckpt2safetensors";
    for (; *words; words++)
        args[n++] = *words;
    args[n] = NULL;
    tr_result r = tr_finish(tr_start("/bin/bash", dir, dir, args), dir);
    cr_assert_eq(r.code, 0, "bash failed: %s", r.err);
    cr_expect_str_empty(r.err);
    free(r.err);
    return r.out;
}

#define EXPECT_REPLIES(want, ...)                                        \
    do {                                                                 \
        char *got_ = complete((const char *const[]){__VA_ARGS__, NULL}); \
        cr_expect_str_eq(got_, want, "for: %s", #__VA_ARGS__);           \
        free(got_);                                                      \
    } while (0)

Test(completion, values_after_equals_split_by_bash)
{
    /* --dtype=b<Tab>: the case */
    EXPECT_REPLIES("bf16\n", "--dtype", "=", "b");
    EXPECT_REPLIES("bf16\nf16\nf32\n", "--dtype", "=");
    EXPECT_REPLIES("raw\n", "--quantized", "=", "r");
    EXPECT_REPLIES("always\nauto\n", "--direct-io", "=", "a");
    EXPECT_REPLIES("never\n", "--color", "=", "n");
    EXPECT_REPLIES("always\nauto\nnever\n", "--color", "=");
    /* files and directories */
    EXPECT_REPLIES("s.pt\nsub\n", "--output", "=", "s");
    EXPECT_REPLIES("sub\n", "--recursive", "=", "s");
    /* a value only the user knows, or an option that takes none */
    EXPECT_REPLIES("", "--max-depth", "=", "");
    EXPECT_REPLIES("", "--json", "=");
}

Test(completion, values_after_equals_as_one_word)
{
    /* '=' not in COMP_WORDBREAKS: the replies carry the option */
    EXPECT_REPLIES("--dtype=bf16\n", "--dtype=b");
    EXPECT_REPLIES("--color=always\n--color=auto\n", "--color=a");
    EXPECT_REPLIES("--output=s.pt\n--output=sub\n", "--output=s");
    EXPECT_REPLIES("--recursive=sub\n", "--recursive=s");
}

Test(completion, values_as_the_next_word)
{
    EXPECT_REPLIES("bf16\n", "--dtype", "b");
    EXPECT_REPLIES("dequantize\n", "--quantized", "d");
    EXPECT_REPLIES("always\nauto\n", "--color", "a");
    EXPECT_REPLIES("sub\n", "-r", "s");
    EXPECT_REPLIES("s.pt\nsub\n", "-o", "s");
    EXPECT_REPLIES("", "-j", "");
}

Test(completion, options_and_inputs)
{
    EXPECT_REPLIES("--dtype\n", "--dt");
    EXPECT_REPLIES("--color\n", "--col");
    /* inputs: checkpoints and directories, not other files */
    EXPECT_REPLIES("a.pt\nb.ckpt\ns.pt\nsub\n", "");
    EXPECT_REPLIES("", "notes");
    /* after a complete --dtype=VALUE, the next word is an input again */
    EXPECT_REPLIES("s.pt\nsub\n", "--dtype", "=", "f16", "s");
}
