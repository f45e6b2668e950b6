/*
 * test_batch.c - many inputs at once: the batch and pipeline options.
 *
 * Runs the built binary ($C2S_BIN, default ./ckpt2safetensors) inside a
 * fresh temporary directory, on trees made from the committed fixtures, so
 * that messages carry short relative paths.  Each test asserts the exit
 * code, the exact stderr (times in "in 0.01 s" replaced by "in T s"),
 * which files exist afterwards, and with --json every line parsed with
 * cJSON.  Covers: -r and its ordering, --follow-symlinks, -o DIR, naming
 * conflicts, skip-if-up-to-date, --shard, the Hugging Face names and the
 * index rewrite, -j, --json, the progress bar in a pseudo-terminal, the
 * transforming options, -o -, --list of .safetensors files, --scan -r, and
 * a signal in the middle of a batch.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include "pickle_builder.h"
#include "cli_sandbox.h"
#include "run_util.h"
#include "util/sha256.h"
#include "test_util.h"
#include "zip_builder.h"

TestSuite(batch, .init = cs_setup, .fini = cs_teardown, .timeout = 60);

/* ---- running the program ---------------------------------------------------- */

typedef tr_result run_result;

static void run_free(run_result *r)
{
    tr_free(r);
}

/* Start the program in cs_dir with args (NULL-terminated). */
static pid_t start(const char *const *args)
{
    return tr_start(cs_bin, cs_dir, cs_dir, args);
}

static run_result finish(pid_t pid)
{
    run_result r = tr_finish(pid, cs_dir);
    cs_mask_times(r.err);
    return r;
}

#define RUN(...) finish(start((const char *const[]){__VA_ARGS__, NULL}))

/* Run with stderr (and stdout when both) on a pseudo-terminal. */
static run_result run_pty(int both, const char *const *args)
{
    return tr_run_pty(cs_bin, cs_dir, both, NULL, args);
}

#define RUN_PTY(both, ...) run_pty(both, (const char *const[]){__VA_ARGS__, NULL})

/* ---- building trees ------------------------------------------------------------ */

static void set_mtime(const char *rel, time_t t)
{
    char *p = cs_at(rel);
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0, "utimensat %s", p);
    free(p);
}

static void expect_same(const char *rel, const char *fixture)
{
    char *p = cs_at(rel);
    size_t na, nb;
    unsigned char *x = tu_read(p, &na), *y = tu_read(fixture, &nb);
    cr_expect(x && y && na == nb && memcmp(x, y, na) == 0, "%s differs from %s", rel, fixture);
    free(x);
    free(y);
    free(p);
}

static int temp_found;

static int find_temp(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    size_t n = strlen(path);
    if (n > 8 && strcmp(path + n - 8, ".c2s-tmp") == 0)
        temp_found = 1;
    return 0;
}

/* 1 when a temporary file is left anywhere under cs_dir. */
static int temp_left(void)
{
    temp_found = 0;
    nftw(cs_dir, find_temp, 16, FTW_PHYS);
    return temp_found;
}

/* The mixed tree: two good checkpoints, one unsafe, one corrupt, and files
 * that are not checkpoints. */
static void mixed_tree(void)
{
    cs_put("t/good/a.ckpt", "fixtures/good/lightning.ckpt");
    cs_put("t/good/sub/b.pt", "fixtures/good/parameters.pt");
    cs_put("t/hostile/evil.pt", "fixtures/hostile/reduce_posix_system.pt");
    cs_put("t/bad/broken.pt", "fixtures/bad/truncated_zip.pt");
    cs_put_text("t/notes.txt", "not a checkpoint\n");
    cs_put("t/good/old.safetensors", "fixtures/good/tied.expected.safetensors");
}

#define E_BROKEN                                                                \
    "ckpt2safetensors: error: t/bad/broken.pt: corrupt zip archive: no end of " \
    "central directory record (truncated?)\n"
#define E_EVIL                                                                   \
    "ckpt2safetensors: error: t/hostile/evil.pt: refused by the safety policy: " \
    "dangerous global posix.system (REDUCE) in archive/data.pkl at offset 154\n"
/* their rows under the summary line, by path */
#define R_BOTH                                                                             \
    "  failed   t/bad/broken.pt: corrupt zip archive: no end of central directory record " \
    "(truncated?)\n"                                                                       \
    "  refused  t/hostile/evil.pt: refused by the safety policy: dangerous global "        \
    "posix.system (REDUCE) in archive/data.pkl at offset 154\n"

/* ---- many inputs ------------------------------------------------------------------ */

Test(batch, mixed_tree_converts_the_good_reports_the_rest)
{
    mixed_tree();
    run_result r = RUN("-r", "t", "-j", "1");
    cr_expect_eq(r.code, 3, "exit %d", r.code);
    cr_expect_str_eq(
        r.err, E_BROKEN
        "ckpt2safetensors: t/good/a.ckpt: left out: optimizer_states (12 tensors)\n"
        "ckpt2safetensors: t/good/a.ckpt -> t/good/a.safetensors: 4 tensors, 524 B in T s\n"
        "ckpt2safetensors: t/good/sub/b.pt -> t/good/sub/b.safetensors: 3 tensors, 260 B in T s\n" E_EVIL
        "ckpt2safetensors: converted 2, skipped 0, refused 1, failed 1; 784 B in T s\n" R_BOTH);
    cr_expect_str_empty(r.out);
    expect_same("t/good/a.safetensors", "fixtures/good/lightning.expected.safetensors");
    expect_same("t/good/sub/b.safetensors", "fixtures/good/parameters.expected.safetensors");
    cr_expect(!cs_exists("t/hostile/evil.safetensors") && !cs_exists("t/bad/broken.safetensors"));
    cr_expect(!cs_exists("t/notes.safetensors") &&
              !cs_exists("t/good/old.safetensors.safetensors"));
    cr_expect(!temp_left());
    run_free(&r);

    /* again: the outputs are up to date */
    r = RUN("-r", "t", "-j", "1");
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(
        r.err, E_BROKEN
        "ckpt2safetensors: t/good/a.ckpt -> t/good/a.safetensors: skipped (up to date)\n"
        "ckpt2safetensors: t/good/sub/b.pt -> t/good/sub/b.safetensors: skipped (up to date)\n" E_EVIL
        "ckpt2safetensors: converted 0, skipped 2, refused 1, failed 1; 0 B in T s\n" R_BOTH);
    run_free(&r);

    /* -q: errors only, no summary */
    r = RUN("-q", "-r", "t", "-f");
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(r.err, E_BROKEN E_EVIL);
    run_free(&r);
}

Test(batch, a_failure_without_refusal_exits_1)
{
    mixed_tree();
    run_result r = RUN("-q", "t/good/a.ckpt", "t/bad/broken.pt");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, E_BROKEN);
    cr_expect(cs_exists("t/good/a.safetensors"));
    run_free(&r);
    r = RUN("t/good/a.ckpt", "t/good/sub/b.pt", "-f", "-q");
    cr_expect_eq(r.code, 0, "%s", r.err);
    run_free(&r);
}

Test(batch, inputs_keep_their_order_then_each_tree_sorted)
{
    cs_put("z.pt", "fixtures/good/parameters.pt");
    cs_put("a.pt", "fixtures/good/parameters.pt");
    cs_put("r2/b.pt", "fixtures/good/parameters.pt");
    cs_put("r2/a.pt", "fixtures/good/parameters.pt");
    cs_put("r1/y/c.pt", "fixtures/good/parameters.pt");
    cs_put("r1/x.pt", "fixtures/good/parameters.pt");
    run_result r = RUN("-j", "1", "z.pt", "a.pt", "-r", "r2", "-r", "r1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(
        r.err, "ckpt2safetensors: z.pt -> z.safetensors: 3 tensors, 260 B in T s\n"
               "ckpt2safetensors: a.pt -> a.safetensors: 3 tensors, 260 B in T s\n"
               "ckpt2safetensors: r2/a.pt -> r2/a.safetensors: 3 tensors, 260 B in T s\n"
               "ckpt2safetensors: r2/b.pt -> r2/b.safetensors: 3 tensors, 260 B in T s\n"
               "ckpt2safetensors: r1/x.pt -> r1/x.safetensors: 3 tensors, 260 B in T s\n"
               "ckpt2safetensors: r1/y/c.pt -> r1/y/c.safetensors: 3 tensors, 260 B in T s\n"
               "ckpt2safetensors: converted 6, skipped 0, refused 0, failed 0; 1.5 KiB in T s\n");
    run_free(&r);
}

Test(batch, output_directory_mirrors_each_tree)
{
    mixed_tree();
    cs_put("plain/p.pt", "fixtures/good/parameters.pt");
    run_result r = RUN("-q", "-r", "t/good", "plain/p.pt", "-o", "out/new");
    cr_assert_eq(r.code, 0, "%s", r.err);
    expect_same("out/new/a.safetensors", "fixtures/good/lightning.expected.safetensors");
    expect_same("out/new/sub/b.safetensors", "fixtures/good/parameters.expected.safetensors");
    expect_same("out/new/p.safetensors", "fixtures/good/parameters.expected.safetensors");
    cr_expect(!cs_exists("t/good/a.safetensors") && !cs_exists("plain/p.safetensors"));
    run_free(&r);
    /* a single INPUT and -o DIR/ (not there yet) */
    r = RUN("-q", "plain/p.pt", "-o", "single/");
    cr_assert_eq(r.code, 0, "%s", r.err);
    expect_same("single/p.safetensors", "fixtures/good/parameters.expected.safetensors");
    run_free(&r);
}

Test(batch, output_must_be_a_directory_with_several_inputs)
{
    mixed_tree();
    cs_put_text("file.txt", "x");
    run_result r = RUN("t/good/a.ckpt", "t/good/sub/b.pt", "-o", "file.txt");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: -o file.txt: with several inputs or -r, "
                            "-o names a directory\n");
    cr_expect(!cs_exists("t/good/a.safetensors"));
    run_free(&r);
    r = RUN("-r", "t/good", "-o", "file.txt");
    cr_expect_eq(r.code, 2);
    run_free(&r);
}

Test(batch, symlinks_are_skipped_unless_followed)
{
    cs_put("outside/x.pt", "fixtures/good/parameters.pt");
    cs_put("tree/real.pt", "fixtures/good/parameters.pt");
    char *link = cs_at("tree/link.pt"), *dlink = cs_at("tree/dirlink"), *loop = cs_at("tree/loop");
    cr_assert_eq(symlink("../outside/x.pt", link), 0);
    cr_assert_eq(symlink("../outside", dlink), 0);
    cr_assert_eq(symlink(".", loop), 0);
    run_result r = RUN("-r", "tree");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(
        r.err, "ckpt2safetensors: warning: skipped 3 symbolic links (tree/dirlink, tree/link.pt, "
               "tree/loop); --follow-symlinks follows them\n"
               "ckpt2safetensors: tree/real.pt -> tree/real.safetensors: 3 tensors, 260 B in T s\n"
               "ckpt2safetensors: converted 1, skipped 0, refused 0, failed 0; 260 B in T s\n");
    run_free(&r);
    /* followed: the link to the file and the directory link reach one file,
     * converted once under its first path; the loop is not entered again */
    r = RUN("-r", "tree", "--follow-symlinks", "-j", "1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(
        r.err,
        "ckpt2safetensors: tree/dirlink/x.pt -> tree/dirlink/x.safetensors: 3 tensors, 260 B in T s\n"
        "ckpt2safetensors: tree/real.pt -> tree/real.safetensors: skipped (up to date)\n"
        "ckpt2safetensors: converted 1, skipped 1, refused 0, failed 0; 260 B in T s\n");
    cr_expect(cs_exists("outside/x.safetensors") && !cs_exists("tree/link.safetensors"));
    run_free(&r);
    free(link);
    free(dlink);
    free(loop);
}

Test(batch, one_file_named_twice_is_converted_once)
{
    cs_put("d/p.pt", "fixtures/good/parameters.pt");
    run_result r = RUN("d/p.pt", "d/p.pt", "-r", "d");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(
        r.err, "ckpt2safetensors: d/p.pt -> d/p.safetensors: 3 tensors, 260 B in T s\n"
               "ckpt2safetensors: converted 1, skipped 0, refused 0, failed 0; 260 B in T s\n");
    run_free(&r);
}

Test(batch, two_inputs_with_one_output_the_second_fails)
{
    cs_put("c/m.pt", "fixtures/good/parameters.pt");
    cs_put("c/m.pth", "fixtures/good/tied.bin");
    run_result r = RUN("-j", "1", "c/m.pt", "c/m.pth");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err,
                     "ckpt2safetensors: c/m.pt -> c/m.safetensors: 3 tensors, 260 B in T s\n"
                     "ckpt2safetensors: error: c/m.pth: same output as c/m.pt: c/m.safetensors\n"
                     "ckpt2safetensors: converted 1, skipped 0, refused 0, failed 1; 260 B in T s\n"
                     "  failed   c/m.pth: same output as c/m.pt: c/m.safetensors\n");
    expect_same("c/m.safetensors", "fixtures/good/parameters.expected.safetensors");
    run_free(&r);
}

Test(batch, directories_and_missing_trees_are_failures)
{
    cs_put("d/p.pt", "fixtures/good/parameters.pt");
    run_result r = RUN("-q", "d", "-r", "nowhere");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(
        r.err,
        "ckpt2safetensors: error: d: is a directory (use -r to convert the checkpoints under it)\n"
        "ckpt2safetensors: error: nowhere: cannot read directory: No such file or directory\n");
    run_free(&r);
    /* an empty tree: nothing done, said, and not a success */
    char *empty = cs_at("empty");
    cr_assert_eq(mkdir(empty, 0755), 0);
    r = RUN("-r", "empty");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: warning: empty: no file to convert under it\n"
                            "ckpt2safetensors: converted 0, skipped 0, refused 0, failed 0; "
                            "0 B in T s\n");
    run_free(&r);
    free(empty);
}

Test(batch, up_to_date_outputs_are_skipped_older_ones_fail)
{
    cs_put("u/new.pt", "fixtures/good/parameters.pt");
    cs_put("u/old.pt", "fixtures/good/parameters.pt");
    cs_put_text("u/new.safetensors", "newer");
    cs_put_text("u/old.safetensors", "older");
    set_mtime("u/new.pt", 1000000000);
    set_mtime("u/old.safetensors", 1000000000);
    run_result r = RUN("-r", "u", "-j", "1");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(
        r.err, "ckpt2safetensors: u/new.pt -> u/new.safetensors: skipped (up to date)\n"
               "ckpt2safetensors: error: u/old.pt: output exists and is older than the input: "
               "u/old.safetensors (use -f to overwrite)\n"
               "ckpt2safetensors: converted 0, skipped 1, refused 0, failed 1; 0 B in T s\n"
               "  failed   u/old.pt: output exists and is older than the input: "
               "u/old.safetensors (use -f to overwrite)\n");
    run_free(&r);
    r = RUN("-r", "u", "-f", "-q");
    cr_expect_eq(r.code, 0, "%s", r.err);
    expect_same("u/new.safetensors", "fixtures/good/parameters.expected.safetensors");
    expect_same("u/old.safetensors", "fixtures/good/parameters.expected.safetensors");
    run_free(&r);
}

/* ---- --json --------------------------------------------------------------------- */

/* stdout split into parsed JSON lines; every line must parse. */
static size_t json_lines(const char *out, cJSON **items, size_t cap)
{
    size_t n = 0;
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "unterminated line: %s", p);
        cr_assert(n < cap);
        items[n] = cJSON_ParseWithLength(p, (size_t)(nl - p));
        cr_assert_not_null(items[n], "not JSON: %.*s", (int)(nl - p), p);
        n++;
        p = nl + 1;
    }
    return n;
}

static const cJSON *line_for(cJSON **items, size_t n, const char *input)
{
    for (size_t i = 0; i < n; i++) {
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(items[i], "input");
        if (cJSON_IsString(in) && strcmp(in->valuestring, input) == 0)
            return items[i];
    }
    cr_assert_fail("no JSON line for %s", input);
    return NULL;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int is_null(const cJSON *o, const char *key)
{
    return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key));
}

static double num_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
    return v->valuedouble;
}

static void sha256_of(const char *rel, char hex[65])
{
    char *p = cs_at(rel);
    size_t n;
    unsigned char *b = tu_read(p, &n), digest[32];
    cr_assert_not_null(b);
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, b, n);
    sha256_final(&c, digest);
    sha256_hex(digest, hex);
    free(b);
    free(p);
}

static void expect_keys_in_order(const cJSON *o)
{
    static const char *const KEYS[] = {"input",   "output",   "status",  "verdict",
                                       "tensors", "bytes",    "seconds", "sha256",
                                       "error",   "verified", "removed"};
    const cJSON *e = o->child;
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++, e = e->next)
        cr_expect(e != NULL && strcmp(e->string, KEYS[i]) == 0, "key %zu is not %s", i, KEYS[i]);
    cr_expect_null(e, "extra keys");
}

Test(batch, json_one_line_per_file_then_the_summary)
{
    mixed_tree();
    cs_put_text("t/good/sub/b.safetensors", "up to date");
    run_result r = RUN("--json", "-r", "t", "-j", "2");
    cr_expect_eq(r.code, 3);
    cJSON *items[8];
    size_t n = json_lines(r.out, items, 8);
    cr_assert_eq(n, 5, "%zu lines:\n%s", n, r.out);
    /* the last line: the summary, its failures sorted by path */
    cJSON *sum = cJSON_DetachItemFromObjectCaseSensitive(items[--n], "summary");
    cr_assert_not_null(sum, "%s", r.out);
    cr_expect_null(items[n]->child, "more than the summary in its line");
    cJSON_Delete(items[n]);
    cJSON *secs = cJSON_DetachItemFromObjectCaseSensitive(sum, "seconds");
    cr_expect(cJSON_IsNumber(secs) && secs->valuedouble >= 0);
    cJSON_Delete(secs);
    char *text = cJSON_PrintUnformatted(sum);
    cr_expect_str_eq(
        text, "{\"files\":4,\"converted\":1,\"skipped\":1,\"refused\":1,\"failed\":1,"
              "\"copied\":0,\"bytes\":524,\"failures\":[{\"input\":\"t/bad/broken.pt\",\"status\":"
              "\"failed\",\"error\":\"corrupt zip archive: no end of central directory "
              "record (truncated?)\"},{\"input\":\"t/hostile/evil.pt\",\"status\":"
              "\"refused\",\"error\":\"refused by the safety policy: dangerous global "
              "posix.system (REDUCE) in archive/data.pkl at offset 154\"}]}");
    cJSON_free(text);
    cJSON_Delete(sum);
    for (size_t i = 0; i < n; i++)
        expect_keys_in_order(items[i]);

    const cJSON *a = line_for(items, n, "t/good/a.ckpt");
    cr_expect_str_eq(str_of(a, "output"), "t/good/a.safetensors");
    cr_expect_str_eq(str_of(a, "status"), "converted");
    cr_expect_str_eq(str_of(a, "verdict"), "safe");
    cr_expect_eq(num_of(a, "tensors"), 4);
    cr_expect_eq(num_of(a, "bytes"), 524);
    cr_expect_geq(num_of(a, "seconds"), 0);
    char hex[65];
    sha256_of("t/good/a.safetensors", hex);
    cr_expect_str_eq(str_of(a, "sha256"), hex);
    cr_expect(is_null(a, "error"));
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(a, "verified")));

    const cJSON *b = line_for(items, n, "t/good/sub/b.pt");
    cr_expect_str_eq(str_of(b, "status"), "skipped");
    cr_expect(is_null(b, "verdict") && is_null(b, "tensors") && is_null(b, "bytes") &&
              is_null(b, "sha256") && is_null(b, "error"));

    const cJSON *evil = line_for(items, n, "t/hostile/evil.pt");
    cr_expect_str_eq(str_of(evil, "status"), "refused");
    cr_expect_str_eq(str_of(evil, "verdict"), "unsafe");
    cr_expect_str_eq(str_of(evil, "error"),
                     "refused by the safety policy: dangerous global "
                     "posix.system (REDUCE) in archive/data.pkl at offset 154");
    cr_expect(is_null(evil, "sha256"));

    const cJSON *broken = line_for(items, n, "t/bad/broken.pt");
    cr_expect_str_eq(str_of(broken, "status"), "failed");
    cr_expect_str_eq(str_of(broken, "verdict"), "corrupt");
    cr_expect_str_eq(str_of(broken, "error"),
                     "corrupt zip archive: no end of central directory record (truncated?)");
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(items[i]);
    run_free(&r);
}

Test(batch, json_null_output_for_planning_failures)
{
    cs_put("d/p.pt", "fixtures/good/parameters.pt");
    run_result r = RUN("--json", "-q", "d");
    cr_expect_eq(r.code, 1);
    cJSON *items[2];
    cr_assert_eq(json_lines(r.out, items, 2), 1);
    cr_expect_str_eq(str_of(items[0], "status"), "failed");
    cr_expect(is_null(items[0], "verdict"));
    cr_expect_str_eq(str_of(items[0], "error"),
                     "is a directory (use -r to convert the checkpoints under it)");
    cJSON_Delete(items[0]);
    run_free(&r);
}

/* ---- --shard ------------------------------------------------------------------------- */

/* The inputs a --json run converted, in file order, joined by spaces. */
static void converted_inputs(const char *out, char *buf, size_t cap)
{
    cJSON *items[16];
    size_t n = json_lines(out, items, 16);
    cr_assert(n > 0 && cJSON_HasObjectItem(items[n - 1], "summary"), "no summary: %s", out);
    cJSON_Delete(items[--n]);
    const char *names[16];
    for (size_t i = 0; i < n; i++)
        names[i] = str_of(items[i], "input");
    /* -j 1: completion order is list order */
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? " " : "", names[i]);
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(items[i]);
}

Test(batch, shard_takes_every_nth_file_of_the_list)
{
    const char *files[] = {"s/f0.pt", "s/f1.pt", "s/f2.pt", "s/f3.pt", "s/f4.pt"};
    for (size_t i = 0; i < 5; i++)
        cs_put(files[i], "fixtures/good/parameters.pt");
    static const struct {
        const char *shard, *want;
    } CASES[] = {
        {"1/2", "s/f0.pt s/f2.pt s/f4.pt"},
        {"2/2", "s/f1.pt s/f3.pt"},
        {"3/3", "s/f2.pt"},
        {"1/1", "s/f0.pt s/f1.pt s/f2.pt s/f3.pt s/f4.pt"},
        {"7/9", ""},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        run_result r = RUN("--json", "-q", "-f", "-j", "1", "-r", "s", "--shard", CASES[i].shard);
        cr_expect_eq(r.code, 0, "%s: %s", CASES[i].shard, r.err);
        char got[256];
        converted_inputs(r.out, got, sizeof got);
        cr_expect_str_eq(got, CASES[i].want, "--shard %s", CASES[i].shard);
        run_free(&r);
    }
    /* slices 1/2 and 2/2 left every output */
    for (size_t i = 0; i < 5; i++) {
        char out[32];
        snprintf(out, sizeof out, "s/f%zu.safetensors", i);
        cr_expect(cs_exists(out), "%s missing", out);
    }
}

/* ---- Hugging Face names and the shard index -------------------------------------- */

static const char *const SHARD1_TENSORS[] = {"hi",       "lo",     "decoder.out", "encoder.embed",
                                             "w",        "w_rows", "w_view",      "block_a.k",
                                             "block_b.k"};
static const char *const SHARD2_TENSORS[] = {"p", "frozen", "plain"};

/* hf/: two shards (tied.bin's 9 tensors, parameters.pt's 3) and their index. */
static void hf_tree(void)
{
    cs_put("hf/pytorch_model-00001-of-00002.bin", "fixtures/good/tied.bin");
    cs_put("hf/pytorch_model-00002-of-00002.bin", "fixtures/good/parameters.pt");
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
    cJSON_AddNumberToObject(meta, "total_size", 1);
    cJSON_AddStringToObject(meta, "note", "kept");
    cJSON *wm = cJSON_AddObjectToObject(root, "weight_map");
    for (size_t i = 0; i < 9; i++)
        cJSON_AddStringToObject(wm, SHARD1_TENSORS[i], "pytorch_model-00001-of-00002.bin");
    for (size_t i = 0; i < 3; i++)
        cJSON_AddStringToObject(wm, SHARD2_TENSORS[i], "pytorch_model-00002-of-00002.bin");
    cJSON_AddItemToObject(root, "extra", cJSON_CreateIntArray((const int[]){1, 2, 3}, 3));
    char *text = cJSON_Print(root);
    cs_put_text("hf/pytorch_model.bin.index.json", text);
    cJSON_free(text);
    cJSON_Delete(root);
}

static cJSON *read_json(const char *rel)
{
    char *p = cs_at(rel);
    char *text = tr_slurp(p);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%s is not JSON", rel);
    free(text);
    free(p);
    return j;
}

/* The rewritten index: renamed shards, total_size, the rest kept. */
static void expect_index(const char *rel, double total_size, const char *dropped)
{
    cJSON *j = read_json(rel);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
    cr_expect_eq(num_of(meta, "total_size"), total_size);
    cr_expect_str_eq(str_of(meta, "note"), "kept");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(j, "extra");
    cr_expect(cJSON_IsArray(extra) && cJSON_GetArraySize(extra) == 3);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
    size_t want = 12 - (dropped != NULL);
    cr_expect_eq((size_t)cJSON_GetArraySize(wm), want);
    for (size_t i = 0; i < 9; i++)
        if (dropped == NULL || strcmp(SHARD1_TENSORS[i], dropped) != 0)
            cr_expect_str_eq(str_of(wm, SHARD1_TENSORS[i]), "model-00001-of-00002.safetensors");
    for (size_t i = 0; i < 3; i++)
        cr_expect_str_eq(str_of(wm, SHARD2_TENSORS[i]), "model-00002-of-00002.safetensors");
    cJSON_Delete(j);
}

Test(batch, hugging_face_names_and_index_rewrite)
{
    hf_tree();
    run_result r = RUN("-r", "hf", "-o", "out", "-j", "1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    const char *want = "ckpt2safetensors: hf/pytorch_model-00001-of-00002.bin -> "
                       "out/model-00001-of-00002.safetensors: 9 tensors, 980 B in T s\n"
                       "ckpt2safetensors: hf/pytorch_model-00002-of-00002.bin -> "
                       "out/model-00002-of-00002.safetensors: 3 tensors, 260 B in T s\n"
                       "ckpt2safetensors: hf/pytorch_model.bin.index.json -> "
                       "out/model.safetensors.index.json: index of 12 tensors\n"
                       "ckpt2safetensors: converted 3, skipped 0, refused 0, failed 0; ";
    cr_expect(strncmp(r.err, want, strlen(want)) == 0, "stderr:\n%s", r.err);
    expect_same("out/model-00001-of-00002.safetensors", "fixtures/good/tied.expected.safetensors");
    expect_same("out/model-00002-of-00002.safetensors",
                "fixtures/good/parameters.expected.safetensors");
    expect_index("out/model.safetensors.index.json", 372 + 44, NULL);
    cr_expect(!temp_left());
    run_free(&r);

    /* again: all three up to date */
    r = RUN("-r", "hf", "-o", "out");
    cr_expect_eq(r.code, 0);
    cr_expect(strstr(r.err, "ckpt2safetensors: hf/pytorch_model.bin.index.json -> "
                            "out/model.safetensors.index.json: skipped (up to date)\n") != NULL,
              "%s", r.err);
    cr_expect(strstr(r.err, "converted 0, skipped 3, refused 0, failed 0; ") != NULL);
    run_free(&r);

    /* --exclude drops the tensor from the shard and from the weight_map */
    r = RUN("-q", "-f", "-r", "hf", "-o", "out", "--exclude", "lo");
    cr_expect_eq(r.code, 0, "%s", r.err);
    expect_index("out/model.safetensors.index.json", 372 + 44 - 40, "lo");
    run_free(&r);
}

Test(batch, index_waits_for_every_shard)
{
    hf_tree();
    /* slice 1 of 2: one shard, the index waits */
    run_result r = RUN("-r", "hf", "-o", "out", "--shard", "1/2");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "ckpt2safetensors: hf/pytorch_model.bin.index.json: not rewritten: "
                            "pytorch_model-00002-of-00002.bin has no up-to-date output\n") != NULL,
              "%s", r.err);
    cr_expect(strstr(r.err, "converted 1, skipped 0, refused 0, failed 0; 980 B in T s\n") != NULL,
              "%s", r.err);
    cr_expect(!cs_exists("out/model.safetensors.index.json"));
    run_free(&r);
    /* slice 2 of 2 finds shard 1's output and writes the index */
    r = RUN("-q", "-r", "hf", "-o", "out", "--shard", "2/2");
    cr_expect_eq(r.code, 0, "%s", r.err);
    expect_index("out/model.safetensors.index.json", 372 + 44, NULL);
    run_free(&r);
}

Test(batch, index_not_rewritten_when_a_shard_fails)
{
    hf_tree();
    cs_put("hf/pytorch_model-00002-of-00002.bin", "fixtures/bad/truncated_zip.pt");
    run_result r = RUN("-r", "hf", "-j", "1");
    cr_expect_eq(r.code, 1);
    cr_expect(strstr(r.err, "ckpt2safetensors: hf/pytorch_model.bin.index.json: not rewritten: "
                            "pytorch_model-00002-of-00002.bin was not converted\n") != NULL,
              "%s", r.err);
    cr_expect(strstr(r.err, "converted 1, skipped 0, refused 0, failed 1; ") != NULL);
    cr_expect(!cs_exists("hf/model.safetensors.index.json"));
    run_free(&r);
}

Test(batch, broken_index_is_a_failure)
{
    cs_put("hf/pytorch_model.bin", "fixtures/good/parameters.pt");
    cs_put_text("hf/pytorch_model.bin.index.json", "{\"weight_map\": {\"p\": \"../evil.bin\"}}");
    run_result r = RUN("-q", "-r", "hf");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: hf/pytorch_model.bin.index.json: "
                            "weight_map: the value of 'p' is not a file name beside the index\n");
    expect_same("hf/model.safetensors", "fixtures/good/parameters.expected.safetensors");
    run_free(&r);
    cs_put_text("hf/pytorch_model.bin.index.json", "{\"weight_map\": ");
    r = RUN("-q", "-r", "hf");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: hf/pytorch_model.bin.index.json: "
                            "not valid JSON\n");
    run_free(&r);
}

Test(batch, output_names)
{
    cs_put("n/pytorch_model.bin", "fixtures/good/parameters.pt");
    cs_put("n/diffusion_pytorch_model.bin", "fixtures/good/parameters.pt");
    cs_put("n/pytorch_model.pt", "fixtures/good/parameters.pt");
    cs_put("n/x.pth", "fixtures/good/parameters.pt");
    run_result r = RUN("-q", "-r", "n");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(cs_exists("n/model.safetensors"));
    cr_expect(cs_exists("n/diffusion_pytorch_model.safetensors"));
    cr_expect(cs_exists("n/pytorch_model.safetensors")); /* only .bin files get the HF name */
    cr_expect(cs_exists("n/x.safetensors"));
    run_free(&r);
}

/* ---- -j ---------------------------------------------------------------------------- */

static char *lines_sorted(const char *text)
{
    char *copy = strdup(text);
    char *lines[64];
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && n < 64;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(lines[k - 1], lines[k]) > 0; k--) {
            char *t = lines[k];
            lines[k] = lines[k - 1];
            lines[k - 1] = t;
        }
    char *out = calloc(1, strlen(text) + 2);
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    free(copy);
    return out;
}

Test(batch, jobs_1_and_jobs_2_give_the_same_files_and_messages)
{
    mixed_tree();
    hf_tree();
    cs_put("t/good/c.pth", "fixtures/good/views.pt");
    cs_put("t/good/d.pt", "fixtures/good/dtypes.pt");
    run_result r1 = RUN("-r", "t", "-r", "hf", "-o", "o", "-j", "1");
    cr_assert_eq(r1.code, 3, "%s", r1.err);
    /* the same run into o2: messages name o2 instead of o */
    run_result r2 = RUN("-r", "t", "-r", "hf", "-o", "o2", "-j", "2");
    cr_assert_eq(r2.code, 3, "%s", r2.err);
    for (char *p = r2.err; (p = strstr(p, " o2/")) != NULL;)
        memmove(p + 2, p + 3, strlen(p + 3) + 1);
    char *s1 = lines_sorted(r1.err), *s2 = lines_sorted(r2.err);
    cr_expect_str_eq(s1, s2);
    const char *outs[] = {"good/a.safetensors",
                          "good/sub/b.safetensors",
                          "good/c.safetensors",
                          "good/d.safetensors",
                          "model-00001-of-00002.safetensors",
                          "model-00002-of-00002.safetensors",
                          "model.safetensors.index.json"};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        char a[128], b[128];
        snprintf(a, sizeof a, "%s/o/%s", cs_dir, outs[i]);
        snprintf(b, sizeof b, "o2/%s", outs[i]);
        cr_expect(cs_exists(b), "%s missing", b);
        expect_same(b, a);
    }
    free(s1);
    free(s2);
    run_free(&r1);
    run_free(&r2);
}

/* ---- progress bar -------------------------------------------------------------------- */

Test(batch, progress_bar_only_on_a_terminal)
{
    mixed_tree();
    run_result r = RUN_PTY(0, "-r", "t/good", "-j", "1");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strchr(r.err, '\r') != NULL, "no bar drawn: %s", r.err);
    cr_expect(strstr(r.err, "% [") != NULL && strstr(r.err, "/s  ") != NULL &&
                  strstr(r.err, "ETA") != NULL,
              "terminal got: %s", r.err);
    /* the bar is wiped before each message: every message starts a line */
    cr_expect(strstr(r.err, "\rckpt2safetensors: converted 2, skipped 0, refused 0, failed 0; ") !=
                  NULL,
              "terminal got: %s", r.err);
    run_free(&r);
    r = RUN_PTY(0, "-q", "-r", "t/good", "-f");
    cr_expect_eq(r.code, 0);
    cr_expect_str_empty(r.err, "-q drew: %s", r.err);
    run_free(&r);
    /* not a terminal: nothing of it */
    r = RUN("-r", "t/good", "-f");
    cr_expect_eq(r.code, 0);
    cr_expect(strchr(r.err, '\r') == NULL && strstr(r.err, "ETA") == NULL, "%s", r.err);
    run_free(&r);
}

/* ---- transforming ------------------------------------------------------------------------ */

static run_result list_of(const char *rel)
{
    return RUN("--list", rel);
}

Test(batch, dtype_converts_floating_tensors)
{
    cs_put("l.ckpt", "fixtures/good/lightning.ckpt");
    run_result r = RUN("-q", "--dtype", "f16", "l.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    run_free(&r);
    r = list_of("l.safetensors");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "NAME          DTYPE        SHAPE                 BYTES\n"
                            "net.0.bias    F16          [5]                   10\n"
                            "net.0.weight  F16          [5, 6]                60\n"
                            "net.2.bias    F16          [3]                   6\n"
                            "net.2.weight  F16          [3, 5]                30\n"
                            "4 tensors, 106 bytes\n"
                            "metadata: format=pt\n"
                            "metadata: ckpt2safetensors.options=--dtype=F16\n");
    run_free(&r);
}

Test(batch, include_and_exclude_select_tensors)
{
    cs_put("l.ckpt", "fixtures/good/lightning.ckpt");
    run_result r = RUN("-v", "--include", "net.0.*", "--include", "net.2.bias", "--exclude",
                       "*.bias", "l.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "ckpt2safetensors: l.ckpt: 3 tensors left out by "
                            "--include/--exclude\n") != NULL,
              "%s", r.err);
    run_free(&r);
    r = list_of("l.safetensors");
    cr_expect_str_eq(r.out, "NAME          DTYPE        SHAPE                 BYTES\n"
                            "net.0.weight  F32          [5, 6]                120\n"
                            "1 tensor, 120 bytes\n"
                            "metadata: format=pt\n"
                            "metadata: ckpt2safetensors.options=--include=net.0.* "
                            "--include=net.2.bias --exclude=*.bias\n");
    run_free(&r);
}

Test(batch, metadata_and_training_metadata)
{
    cs_put("l.ckpt", "fixtures/good/lightning.ckpt");
    run_result r = RUN("-q", "--metadata", "author=me", "--metadata", "run=a=b",
                       "--training-metadata", "l.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    run_free(&r);
    r = list_of("l.safetensors");
    const char *tail = "4 tensors, 212 bytes\n"
                       "metadata: format=pt\n"
                       "metadata: author=me\n"
                       "metadata: run=a=b\n"
                       "metadata: ckpt2safetensors.options=--metadata=author=me "
                       "--metadata=run=a=b --training-metadata\n"
                       "metadata: epoch=3\n"
                       "metadata: global_step=120\n"
                       "metadata: pytorch-lightning_version=1.9.0\n";
    cr_expect(strstr(r.out, tail) != NULL, "%s", r.out);
    run_free(&r);
}

Test(batch, verify_passes_on_a_good_conversion)
{
    cs_put("v.pt", "fixtures/good/views.pt");
    run_result r = RUN("-v", "--verify", "v.pt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "ckpt2safetensors: v.pt: verified against the checkpoint\n") != NULL,
              "%s", r.err);
    expect_same("v.safetensors", "fixtures/good/views.expected.safetensors");
    run_free(&r);
    /* the file's line says so, and --json too */
    r = RUN("-f", "--verify", "--json", "v.pt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "ckpt2safetensors: v.pt -> v.safetensors: 9 tensors, 926 B in T s, "
                            "verified\n");
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "verified")), "%s", r.out);
    cJSON_Delete(j);
    run_free(&r);
    r = RUN("-f", "--json", "-q", "v.pt");
    j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "verified")), "%s", r.out);
    cJSON_Delete(j);
    run_free(&r);
}

/* ---- -o - ------------------------------------------------------------------------------- */

Test(batch, output_to_standard_output)
{
    cs_put("p.pt", "fixtures/good/parameters.pt");
    run_result r = RUN("-o", "-", "p.pt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err,
                     "ckpt2safetensors: p.pt -> (standard output): 3 tensors, 260 B in T s\n");
    size_t n;
    unsigned char *want = tu_read("fixtures/good/parameters.expected.safetensors", &n);
    cr_expect(want && memcmp(r.out, want, n) == 0 && r.out[n] == '\0', "stdout differs");
    free(want);
    cr_expect(!cs_exists("p.safetensors") && !cs_exists("-"));
    run_free(&r);
    /* never binary onto a terminal */
    r = RUN_PTY(1, "-o", "-", "p.pt");
    cr_expect_eq(r.code, 1);
    cr_expect(strstr(r.err, "ckpt2safetensors: \033[1;31merror\033[0m: p.pt: standard output is "
                            "a terminal: redirect it, or use -o FILE") != NULL,
              "%s", r.err);
    run_free(&r);
}

/* ---- --list of .safetensors, --scan -r ------------------------------------------------ */

Test(batch, list_reads_safetensors_headers)
{
    cs_put("m.safetensors", "fixtures/good/parameters.expected.safetensors");
    run_result r = list_of("m.safetensors");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "NAME    DTYPE        SHAPE                 BYTES\n"
                            "frozen  F32          [4]                   16\n"
                            "p       F32          [2, 3]                24\n"
                            "plain   F16          [2]                   4\n"
                            "3 tensors, 44 bytes\n"
                            "metadata: format=pt\n");
    run_free(&r);
    /* a header that claims more than the file holds */
    cs_put_text("bad.safetensors", "\x40\x00\x00\x00\x00\x00\x00\x00{}");
    r = list_of("bad.safetensors");
    cr_expect_eq(r.code, 1);
    cr_expect(strncmp(r.err, "ckpt2safetensors: error: bad.safetensors: safetensors: ", 55) == 0,
              "%s", r.err);
    cr_expect_str_empty(r.out);
    run_free(&r);
    r = list_of("missing.safetensors");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: missing.safetensors: cannot open: "
                            "No such file or directory\n");
    run_free(&r);
}

Test(batch, scan_walks_trees_too)
{
    mixed_tree();
    run_result r = RUN("-q", "--scan", "-r", "t");
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(r.out,
                     "t/bad/broken.pt: corrupt: corrupt zip archive: no end of central directory "
                     "record (truncated?)\n"
                     "t/good/a.ckpt: safe (zip): 3 globals, none refused\n"
                     "t/good/old.safetensors: safe (safetensors): 0 globals, none refused\n"
                     "t/good/sub/b.pt: safe (zip): 5 globals, none refused\n"
                     "t/hostile/evil.pt: unsafe (zip): 1 dangerous global\n");
    run_free(&r);
}

/* ---- documentation -------------------------------------------------------------------- */

/* Every long option --help names is in the man page, the README and the
 * bash completion. */
Test(batch, help_man_page_readme_and_completion_agree)
{
    run_result r = RUN("--help");
    cr_assert_eq(r.code, 0);
    char *man = tr_slurp("man/ckpt2safetensors.1"), *readme = tr_slurp("README.md");
    char *completion = tr_slurp("completion/ckpt2safetensors.bash");
    size_t seen = 0;
    for (const char *p = r.out; (p = strstr(p, "--")) != NULL; p += 2) {
        size_t n = 2;
        while ((p[n] >= 'a' && p[n] <= 'z') || p[n] == '-')
            n++;
        if (n < 4)
            continue;
        char opt[64], roff[128];
        snprintf(opt, sizeof opt, "%.*s", (int)n, p);
        size_t k = 0; /* the man page writes '-' as '\-' */
        for (size_t i = 0; i < n && k + 3 < sizeof roff; i++) {
            if (opt[i] == '-')
                roff[k++] = '\\';
            roff[k++] = opt[i];
        }
        roff[k] = '\0';
        cr_expect(strstr(man, roff) != NULL, "the man page lacks %s", opt);
        cr_expect(strstr(readme, opt) != NULL, "README.md lacks %s", opt);
        cr_expect(strstr(completion, opt) != NULL, "the completion lacks %s", opt);
        seen++;
    }
    cr_expect_geq(seen, 30);
    free(man);
    free(readme);
    free(completion);
    run_free(&r);
}

/* ---- usage errors ------------------------------------------------------------------------ */

Test(batch, usage_errors_exit_2)
{
    static const struct {
        const char *args[6];
        const char *message;
    } CASES[] = {
        {{"--dtype", "f8", "x.pt"},
         "--dtype takes f16, bf16 or f32 (also F16, fp16, float16, half, bfloat16, float32), "
         "not 'f8'"},
        {{"--metadata", "novalue", "x.pt"}, "--metadata takes KEY=VALUE, not 'novalue'"},
        {{"--metadata", "=v", "x.pt"}, "--metadata takes KEY=VALUE, not '=v'"},
        {{"--metadata", "format=x", "x.pt"},
         "--metadata: the key 'format' is reserved (it is always \"pt\")"},
        {{"--metadata", "k=1", "--metadata", "k=2", "x.pt"},
         "--metadata: the key 'k' is given twice"},
        {{"-j", "0", "x.pt"}, "-j takes a number of jobs from 1 to 1024, not '0'"},
        {{"-j", "many", "x.pt"}, "-j takes a number of jobs from 1 to 1024, not 'many'"},
        {{"--shard", "0/2", "x.pt"}, "--shard takes I/N with 1 <= I <= N (e.g. 2/8), not '0/2'"},
        {{"--shard", "3/2", "x.pt"}, "--shard takes I/N with 1 <= I <= N (e.g. 2/8), not '3/2'"},
        {{"--shard", "2", "x.pt"}, "--shard takes I/N with 1 <= I <= N (e.g. 2/8), not '2'"},
        {{"-o", "-", "a.pt", "b.pt"}, "-o - (standard output) takes a single INPUT"},
        {{"-o", "-", "-r", "d"}, "-o - (standard output) takes a single INPUT"},
        {{"-o", "-", "--json", "a.pt"}, "-o - and --json would both write to standard output"},
        {{"-o", "-", "--verify", "a.pt"},
         "--verify reads the output file back, so it cannot go with -o -"},
        {{"--list", "--metadata", "k=v", "a.pt"},
         "--list writes nothing, so --metadata makes no sense with it"},
        {{"--list", "--verify", "a.pt"},
         "--list writes nothing, so --verify makes no sense with it"},
        {{"--list", "-r", "d"}, "--list takes FILEs, not -r"},
        {{"--scan", "--verify", "a.pt"},
         "--scan writes nothing, so --verify makes no sense with it"},
        {{"--scan", "--include", "x", "a.pt"},
         "--scan writes nothing, so --include makes no sense with it"},
        {{"-r"}, "option '-r' needs a value"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const char *argv[8] = {0};
        for (size_t k = 0; k < 6 && CASES[i].args[k]; k++)
            argv[k] = CASES[i].args[k];
        run_result r = finish(start(argv));
        char want[512];
        snprintf(want, sizeof want, "ckpt2safetensors: error: %s\n", CASES[i].message);
        cr_expect_eq(r.code, 2, "case %zu: exit %d", i, r.code);
        cr_expect_str_eq(r.err, want, "case %zu", i);
        cr_expect_str_empty(r.out, "case %zu", i);
        run_free(&r);
    }
}

/* ---- a signal in the middle of a batch ------------------------------------------------- */

/* One 192 MiB float storage: still being written when the signal comes. */
static void big_checkpoint(const char *rel)
{
    const size_t n = 48u << 20;
    float *data = calloc(n, sizeof *data);
    cr_assert_not_null(data);
    pb p = {0};
    pb_proto(&p, 2);
    pb_empty_dict(&p);
    pb_str(&p, "w");
    pb_vec_f32(&p, "0", (int64_t)n);
    pb_setitem(&p);
    pb_stop(&p);
    char *path = cs_at(rel);
    const char *keys[] = {"0"};
    const void *d[] = {data};
    size_t lens[] = {n * sizeof *data};
    cr_assert_eq(zb_checkpoint(path, p.buf, p.len, 1, keys, d, lens), 0);
    free(data);
    pb_free(&p);
    free(path);
}

Test(batch, sigint_stops_the_batch_and_leaves_no_temporary_file)
{
    big_checkpoint("a_big.pt");
    cs_put("b_small.pt", "fixtures/good/parameters.pt");
    pid_t pid = start((const char *const[]){"-j", "1", "a_big.pt", "b_small.pt", NULL});
    cr_assert_neq(tr_stop_mid_write(pid, cs_dir), TR_NONE, "the output was never opened");
    kill(pid, SIGINT);
    kill(pid, SIGCONT);
    run_result r = finish(pid);
    cr_expect_eq(r.signo, SIGINT, "exit %d sig %d: %s", r.code, r.signo, r.err);
    cr_expect(!temp_left(), "temporary file left behind");
    cr_expect(!cs_exists("a_big.safetensors"), "partial output left behind");
    cr_expect(!cs_exists("b_small.safetensors"), "a file was started after the signal");
    run_free(&r);
}

/* A reader of the --json lines that goes away is a signal too (SIGPIPE):
 * the batch stops, no temporary file stays, the program dies of it. */
Test(batch, closed_standard_output_stops_the_batch)
{
    cs_put("p/a.pt", "fixtures/good/parameters.pt");
    cs_put("p/b.pt", "fixtures/good/parameters.pt");
    cs_put("p/c.pt", "fixtures/good/parameters.pt");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    close(fds[0]); /* nobody will ever read */
    const char *argv[] = {cs_bin, "--json", "-q", "-j", "1", "-r", "p", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addchdir_np(&fa, cs_dir);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, cs_bin, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE, "status %x", status);
    cr_expect(cs_exists("p/a.safetensors"), "the first file was finished before its line");
    cr_expect(!cs_exists("p/b.safetensors") && !cs_exists("p/c.safetensors"));
    cr_expect(!temp_left());
}

/* A scan of a tree judges every file a loader could read, whatever its
 * name (EVIL.PTH, an extension-less cache blob, a .pkl); says which links
 * it did not follow; ends with a tally and a row for each file not safe;
 * and a root with nothing in it is not a pass. */
Test(batch, scan_finds_files_by_content_and_names_what_it_skipped)
{
    cs_put("t/EVIL.PTH", "fixtures/good/parameters.pt");
    cs_put("t/blobs/5f0c9a", "fixtures/hostile/ctypes_cdll.pt");
    cs_put("t/state.pkl", "fixtures/hostile/bare_pickle_os_system.bin");
    cs_put_text("t/notes.txt", "not a checkpoint\n");
    cr_assert_eq(symlink("EVIL.PTH", cs_at("t/link.pt")), 0);
    run_result r = RUN("--scan", "-r", "t");
    cr_expect_eq(r.code, 3);
    cr_expect(strstr(r.out, "t/EVIL.PTH: safe (zip)") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "t/blobs/5f0c9a: unsafe (zip)") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "t/state.pkl: unsafe (not a zip (legacy load path))") != NULL, "%s",
              r.out);
    cr_expect(strstr(r.out, "notes.txt") == NULL, "%s", r.out);
    cr_expect_str_eq(
        r.err, "ckpt2safetensors: warning: skipped 1 symbolic link (t/link.pt); "
               "--follow-symlinks follows them\n"
               "ckpt2safetensors: scanned 3 files: 1 safe, 2 unsafe, 0 corrupt, 0 unreadable\n"
               "  unsafe     t/blobs/5f0c9a: 1 dangerous global\n"
               "  unsafe     t/state.pkl: 1 dangerous global\n");
    run_free(&r);
    /* the rows name every file that is not safe, whatever its verdict; -q: none */
    cs_put("t/bad.pt", "fixtures/bad/truncated_zip.pt");
    r = RUN("--scan", "t/bad.pt", "t/missing.pt", "t/EVIL.PTH", "t/state.pkl");
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(
        r.err, "ckpt2safetensors: scanned 4 files: 1 safe, 1 unsafe, 1 corrupt, 1 unreadable\n"
               "  corrupt    t/bad.pt: corrupt zip archive: no end of central directory record "
               "(truncated?)\n"
               "  unreadable t/missing.pt: cannot open: No such file or directory\n"
               "  unsafe     t/state.pkl: 1 dangerous global\n");
    run_free(&r);
    r = RUN("--scan", "-q", "t/bad.pt", "t/state.pkl");
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(r.err, "");
    run_free(&r);
    /* --json: the same as a last line, after the files' own */
    r = RUN("--scan", "-q", "--json", "t/state.pkl", "t/EVIL.PTH", "t/bad.pt");
    cr_expect_eq(r.code, 3);
    const char *last = strstr(r.out, "\n{\"summary\":");
    cr_assert_not_null(last, "%s", r.out);
    cr_expect_str_eq(last + 1,
                     "{\"summary\":{\"files\":3,\"safe\":1,\"unsafe\":1,\"corrupt\":1,"
                     "\"unreadable\":0,\"not_safe\":[{\"file\":\"t/bad.pt\",\"verdict\":"
                     "\"corrupt\",\"reason\":\"corrupt zip archive: no end of central directory "
                     "record (truncated?)\"},{\"file\":\"t/state.pkl\",\"verdict\":\"unsafe\","
                     "\"reason\":\"1 dangerous global\"}]}}\n");
    run_free(&r);
    r = RUN("--scan", "--json", "t/EVIL.PTH"); /* one file: no summary */
    cr_expect_eq(r.code, 0);
    cr_expect(strstr(r.out, "summary") == NULL, "%s", r.out);
    run_free(&r);
    char *empty = cs_at("e");
    cr_assert_eq(mkdir(empty, 0755), 0);
    r = RUN("--scan", "-r", "e");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(
        r.err, "ckpt2safetensors: warning: e: no file to scan under it\n"
               "ckpt2safetensors: scanned 0 files: 0 safe, 0 unsafe, 0 corrupt, 0 unreadable\n");
    run_free(&r);
    free(empty);
}
