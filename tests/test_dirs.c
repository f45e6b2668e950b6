/*
 * test_dirs.c - inputs from pipes, and model directories as units.
 *
 * Runs the built binary ($C2S_BIN, default ./ckpt2safetensors) in a fresh
 * temporary directory, as test_batch.c does, with $TMPDIR pointed at its
 * "spool" sub-directory so that every test can check that a piped input
 * left nothing there.  Pipes go through /bin/sh ("cat FIXTURE | BIN -")
 * or through a FIFO the test writes itself (to interrupt the spooling
 * half-way, or to run under the limits of run_util.h: no O_TMPFILE, a
 * file size limit).  The model directories are built from the committed
 * fixtures: a Hugging Face Trainer output (config.json, tokenizer.json,
 * pytorch_model.bin, training_args.bin, optimizer.pt, a checkpoint-N
 * sub-directory, hidden files, a pickle that is no checkpoint) and a
 * sharded model with its .bin.index.json.  Every assertion is on exact
 * exit codes, messages and bytes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cli_sandbox.h"
#include "run_util.h"
#include "test_util.h"

static char *spool; /* cs_dir/spool: $TMPDIR of the program */

static void setup(void)
{
    char root[PATH_MAX];
    cr_assert_not_null(getcwd(root, sizeof root));
    cs_setup();
    spool = tu_path(cs_dir, "spool");
    cr_assert_eq(mkdir(spool, 0700), 0);
    cr_assert_eq(setenv("TMPDIR", spool, 1), 0); /* this test's process and its children */
    cr_assert_eq(setenv("C2S_ROOT", root, 1), 0);
}

static void teardown(void)
{
    cs_teardown();
    free(spool);
    spool = NULL;
}

TestSuite(dirs, .init = setup, .fini = teardown, .timeout = 60);

/* ---- running the program ------------------------------------------------------ */

static tr_result finish(pid_t pid)
{
    tr_result r = tr_finish(pid, cs_dir);
    cs_mask_times(r.err);
    return r;
}

#define RUN(...) finish(tr_start(cs_bin, cs_dir, cs_dir, (const char *const[]){__VA_ARGS__, NULL}))

/* sh -c script in cs_dir, with $BIN the program and $ROOT the repository. */
static tr_result sh(const char *script)
{
    cr_assert_eq(setenv("BIN", cs_bin, 1), 0);
    return finish(tr_start("/bin/sh", cs_dir, cs_dir, (const char *const[]){"-c", script, NULL}));
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

static void expect_text(const char *rel, const char *text)
{
    char *p = cs_at(rel);
    char *got = tr_slurp(p);
    cr_expect_str_eq(got, text, "%s", rel);
    free(got);
    free(p);
}

static unsigned mode_of(const char *rel)
{
    char *p = cs_at(rel);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "%s", rel);
    free(p);
    return (unsigned)(st.st_mode & 07777);
}

static void expect_spool_empty(void)
{
    cr_expect_eq(tu_count_entries(spool), 0, "something was left in $TMPDIR");
}

/* ---- standard input --------------------------------------------------------------- */

Test(dirs, scan_from_a_pipe)
{
    tr_result r = sh("cat \"$C2S_ROOT/fixtures/sample.ckpt\" | \"$BIN\" --scan -q -");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "-: safe (zip): 4 globals, none refused\n");
    cr_expect_str_empty(r.err);
    tr_free(&r);

    r = sh("cat \"$C2S_ROOT/fixtures/hostile/reduce_posix_system.pt\" | \"$BIN\" --scan -q -");
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(r.out, "-: unsafe (zip): 1 dangerous global\n");
    tr_free(&r);

    /* '-' among other files: judged in its place */
    r = sh("cat \"$C2S_ROOT/fixtures/sample.ckpt\" | \"$BIN\" --scan -q "
           "\"$C2S_ROOT/fixtures/good/parameters.pt\" -");
    cr_expect_eq(r.code, 0);
    char want[PATH_MAX + 200];
    snprintf(want, sizeof want,
             "%s/fixtures/good/parameters.pt: safe (zip): 5 globals, none refused\n"
             "-: safe (zip): 4 globals, none refused\n",
             getenv("C2S_ROOT"));
    cr_expect_str_eq(r.out, want);
    tr_free(&r);

    r = sh("\"$BIN\" --scan - </dev/null");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.out, "-: unreadable: file is empty\n");
    tr_free(&r);
    expect_spool_empty();
}

Test(dirs, convert_from_a_pipe_with_o)
{
    tr_result r = sh("cat \"$C2S_ROOT/fixtures/sample.ckpt\" | \"$BIN\" - -o m.safetensors");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "ckpt2safetensors: -: left out: optimizer_states (24 tensors)\n"
                            "ckpt2safetensors: - -> m.safetensors: 11 tensors, 4.5 KiB in T s\n");
    expect_same("m.safetensors", "fixtures/sample.expected.safetensors");
    tr_free(&r);

    /* a pipe has no time: an existing output is never up to date */
    r = sh("cat \"$C2S_ROOT/fixtures/sample.ckpt\" | \"$BIN\" -q - -o m.safetensors");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: -: output exists: m.safetensors (use -f "
                            "to overwrite)\n");
    tr_free(&r);

    r = sh("cat \"$C2S_ROOT/fixtures/sample.ckpt\" | \"$BIN\" -q - -o - >s.safetensors");
    cr_expect_eq(r.code, 0, "%s", r.err);
    expect_same("s.safetensors", "fixtures/sample.expected.safetensors");
    tr_free(&r);

    r = sh("cat \"$C2S_ROOT/fixtures/sample.ckpt\" | \"$BIN\" --list - | head -2");
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.out, "NAME                            DTYPE        SHAPE                 "
                            "BYTES\n"
                            "features.0.weight               F32          [8, 3, 3, 3]          "
                            "864\n");
    tr_free(&r);

    r = sh("cat \"$C2S_ROOT/fixtures/hostile/reduce_posix_system.pt\" | "
           "\"$BIN\" - -o evil.safetensors");
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: -: refused by the safety policy: dangerous "
                            "global posix.system (REDUCE) in archive/data.pkl at offset 154\n");
    cr_expect(!cs_exists("evil.safetensors"));
    tr_free(&r);
    expect_spool_empty();
}

Test(dirs, standard_input_needs_a_name_and_is_read_once)
{
    tr_result r = RUN("-");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: -: standard input has no name to derive "
                            "the output's from: give it alone, with -o FILE (or -o -)\n");
    tr_free(&r);
    r = RUN("-", "x.pt", "-o", "out");
    cr_expect_eq(r.code, 2);
    tr_free(&r);
    r = RUN("--scan", "-", "-");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err,
                     "ckpt2safetensors: error: standard input ('-') can be read only once\n");
    tr_free(&r);

    /* -o naming an existing directory: no name to put in it */
    r = sh("cat \"$C2S_ROOT/fixtures/sample.ckpt\" | \"$BIN\" - -o spool/");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: -: a pipe has no name to derive the "
                            "output's from: use -o FILE\n");
    tr_free(&r);
    expect_spool_empty();
}

Test(dirs, a_tensorflow_bundle_cannot_come_through_a_pipe)
{
    tr_result r = sh(
        "cat \"$C2S_ROOT/fixtures/tf/good/multi.index\" | \"$BIN\" - -o m.safetensors");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: -: a TensorFlow checkpoint index read "
                            "from a descriptor (a pipe, standard input): its data shards "
                            "(PREFIX.data-00000-of-NNNNN) are other files, which only its path "
                            "can find\n");
    cr_expect(!cs_exists("m.safetensors"));
    tr_free(&r);
    expect_spool_empty();
}

/* ---- a FIFO the test writes ---------------------------------------------------------- */

/* Write len bytes of fixture (all of it when len is 0) into the FIFO
 * rel, which the program opens; then close it. */
static void feed(const char *rel, const char *fixture, size_t len)
{
    size_t n;
    unsigned char *b = tu_read(fixture, &n);
    cr_assert_not_null(b);
    char *p = cs_at(rel);
    int fd = open(p, O_WRONLY | O_CLOEXEC); /* waits for the program to open it */
    cr_assert_geq(fd, 0, "open %s: %s", p, strerror(errno));
    size_t want = len ? len : n;
    cr_assert_eq(write(fd, b, want), (ssize_t)want);
    if (len == 0)
        close(fd);
    free(b);
    free(p);
}

static void make_fifo(const char *rel)
{
    char *p = cs_at(rel);
    cr_assert_eq(mkfifo(p, 0600), 0);
    free(p);
}

Test(dirs, ctrl_c_while_spooling_leaves_nothing)
{
    make_fifo("in.fifo");
    pid_t pid = tr_start(cs_bin, cs_dir, cs_dir,
                         (const char *const[]){"in.fifo", "-o", "m.safetensors", NULL});
    feed("in.fifo", "fixtures/sample.ckpt", 4096); /* half of it; the writer stays open */
    int kind = TR_NONE;
    for (int i = 0; i < 200 && (kind = tr_output_kind(pid, spool)) == TR_NONE; i++)
        usleep(10000);
    cr_expect_eq(kind, TR_UNNAMED, "the spool is no unnamed file in $TMPDIR");
    cr_expect_eq(tu_count_entries(spool), 0);
    kill(pid, SIGINT);
    tr_result r = finish(pid);
    cr_expect_eq(r.signo, SIGINT, "exit %d: %s", r.code, r.err);
    cr_expect_str_empty(r.err);
    expect_spool_empty();
    cr_expect(!cs_exists("m.safetensors"));
    tr_free(&r);
}

Test(dirs, without_o_tmpfile_the_spool_is_unlinked_at_once)
{
    if (!tr_refusing_works())
        cr_skip_test("no seccomp here");
    make_fifo("in.fifo");
    tr_limits lim = {.no_tmpfile = 1};
    pid_t pid = tr_start_limited(cs_bin, cs_dir, cs_dir,
                                 (const char *const[]){"in.fifo", "-o", "m.safetensors", NULL},
                                 &lim);
    feed("in.fifo", "fixtures/sample.ckpt", 0);
    tr_result r = finish(pid);
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err,
                     "ckpt2safetensors: in.fifo: left out: optimizer_states (24 tensors)\n"
                     "ckpt2safetensors: in.fifo -> m.safetensors: 11 tensors, 4.5 KiB in T s\n");
    expect_same("m.safetensors", "fixtures/sample.expected.safetensors");
    expect_spool_empty();
    tr_free(&r);
}

Test(dirs, no_room_in_tmpdir_is_a_clear_error)
{
    make_fifo("in.fifo");
    tr_limits lim = {.fsize = 1000}; /* the spool may not grow past 1000 bytes */
    pid_t pid = tr_start_limited(cs_bin, cs_dir, cs_dir,
                                 (const char *const[]){"--scan", "in.fifo", NULL}, &lim);
    feed("in.fifo", "fixtures/sample.ckpt", 0);
    tr_result r = finish(pid);
    cr_expect_eq(r.code, 1);
    char want[PATH_MAX + 200];
    snprintf(want, sizeof want,
             "in.fifo: unreadable: cannot keep the input in $TMPDIR (%s) while it is read: %s\n",
             spool, strerror(EFBIG));
    cr_expect_str_eq(r.out, want);
    expect_spool_empty();
    tr_free(&r);
}

/* ---- model directories ------------------------------------------------------------ */

/* A Hugging Face Trainer's output directory. */
static void trainer_tree(void)
{
    cs_put("run/pytorch_model.bin", "fixtures/sample.ckpt");
    cs_put("run/training_args.bin", "fixtures/hostile/build_unknown_state.pt");
    cs_put_text("run/config.json", "{\"model_type\": \"test\"}\n");
    cs_put_text("run/tokenizer.json", "{\"version\": \"1.0\"}\n");
    char *p = cs_at("run/tokenizer.json");
    cr_assert_eq(chmod(p, 0640), 0);
    free(p);
    cs_put_text("run/README.md", "# a model\n");
    cs_put_text("run/.gitattributes", "*.bin filter=lfs\n");
    cs_put_text("run/.cache/x.json", "{}\n");
    cs_put_text("run/rng_state.pkl", "\x80\x02}q\x00.");
    cs_put("run/checkpoint-2/pytorch_model.bin", "fixtures/good/parameters.pt");
    cs_put("run/checkpoint-2/optimizer.pt", "fixtures/good/lightning_optimizer.ckpt");
    cs_put("run/checkpoint-2/scheduler.pt", "fixtures/good/parameters.pt");
    cs_put_text("run/checkpoint-2/trainer_state.json", "{\"global_step\": 2}\n");
}

#define EXCLUDES                                                                               \
    "--exclude-file", "training_args.bin", "--exclude-file", "optimizer.pt", "--exclude-file", \
        "scheduler.pt"

Test(dirs, trainer_directory_converted_and_copied)
{
    trainer_tree();
    tr_result r = RUN("-r", "run", "-o", "out", "--copy-other", EXCLUDES, "-v", "-j", "1");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(
        r.err,
        "ckpt2safetensors: run/checkpoint-2/optimizer.pt: left out (--include-file/--exclude-file)\n"
        "ckpt2safetensors: run/checkpoint-2/scheduler.pt: left out (--include-file/--exclude-file)\n"
        "ckpt2safetensors: run/training_args.bin: left out (--include-file/--exclude-file)\n"
        "ckpt2safetensors: run/rng_state.pkl: not copied: a zip, pickle, tar or NumPy file that "
        "is no checkpoint (--copy-other copies nothing a loader would run unjudged)\n"
        "ckpt2safetensors: run/checkpoint-2/pytorch_model.bin: root (top level), 3 tensors in 3 "
        "storages\n"
        "ckpt2safetensors: run/checkpoint-2/pytorch_model.bin -> out/checkpoint-2/"
        "model.safetensors: 3 tensors, 260 B in T s\n"
        "ckpt2safetensors: run/pytorch_model.bin: left out: optimizer_states (24 tensors)\n"
        "ckpt2safetensors: run/pytorch_model.bin: root state_dict, 11 tensors in 11 storages\n"
        "ckpt2safetensors: run/pytorch_model.bin -> out/model.safetensors: 11 tensors, 4.5 KiB "
        "in T s\n"
        "ckpt2safetensors: run/README.md -> out/README.md: copied\n"
        "ckpt2safetensors: run/checkpoint-2/trainer_state.json -> "
        "out/checkpoint-2/trainer_state.json: copied\n"
        "ckpt2safetensors: run/config.json -> out/config.json: copied\n"
        "ckpt2safetensors: run/tokenizer.json -> out/tokenizer.json: copied\n"
        "ckpt2safetensors: converted 2, skipped 0, refused 0, failed 0, copied 4; 4.8 KiB in T "
        "s\n");
    expect_same("out/model.safetensors", "fixtures/sample.expected.safetensors");
    expect_same("out/checkpoint-2/model.safetensors",
                "fixtures/good/parameters.expected.safetensors");
    expect_text("out/config.json", "{\"model_type\": \"test\"}\n");
    expect_text("out/tokenizer.json", "{\"version\": \"1.0\"}\n");
    expect_text("out/README.md", "# a model\n");
    expect_text("out/checkpoint-2/trainer_state.json", "{\"global_step\": 2}\n");
    cr_expect_eq(mode_of("out/tokenizer.json"), 0640);
    cr_expect_eq(mode_of("out/config.json"), 0644);
    /* left out, hidden, pickles and checkpoints are not copied */
    const char *absent[] = {"out/training_args.bin",
                            "out/training_args.safetensors",
                            "out/checkpoint-2/optimizer.pt",
                            "out/checkpoint-2/optimizer.safetensors",
                            "out/checkpoint-2/scheduler.pt",
                            "out/.gitattributes",
                            "out/.cache",
                            "out/rng_state.pkl",
                            "out/pytorch_model.bin"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        cr_expect(!cs_exists(absent[i]), "%s exists", absent[i]);
    tr_free(&r);

    /* again: everything up to date */
    r = RUN("-r", "run", "-o", "out", "--copy-other", EXCLUDES, "-j", "1");
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(
        r.err,
        "ckpt2safetensors: run/checkpoint-2/pytorch_model.bin -> out/checkpoint-2/"
        "model.safetensors: skipped (up to date)\n"
        "ckpt2safetensors: run/pytorch_model.bin -> out/model.safetensors: skipped (up to date)\n"
        "ckpt2safetensors: run/README.md -> out/README.md: skipped (up to date)\n"
        "ckpt2safetensors: run/checkpoint-2/trainer_state.json -> "
        "out/checkpoint-2/trainer_state.json: skipped (up to date)\n"
        "ckpt2safetensors: run/config.json -> out/config.json: skipped (up to date)\n"
        "ckpt2safetensors: run/tokenizer.json -> out/tokenizer.json: skipped (up to date)\n"
        "ckpt2safetensors: converted 0, skipped 6, refused 0, failed 0; 0 B in T s\n");
    tr_free(&r);

    /* a newer source: its copy is older, which fails unless -f */
    cs_put_text("run/config.json", "{\"model_type\": \"new\"}\n");
    char *p = cs_at("run/config.json");
    struct timespec later[2] = {{time(NULL) + 100, 0}, {time(NULL) + 100, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, p, later, 0), 0);
    free(p);
    r = RUN("-q", "-r", "run", "-o", "out", "--copy-other", EXCLUDES);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: run/config.json: output exists and is "
                            "older than the input: out/config.json (use -f to overwrite)\n");
    expect_text("out/config.json", "{\"model_type\": \"test\"}\n");
    tr_free(&r);
    r = RUN("-q", "-f", "-r", "run", "-o", "out", "--copy-other", EXCLUDES);
    cr_expect_eq(r.code, 0, "%s", r.err);
    expect_text("out/config.json", "{\"model_type\": \"new\"}\n");
    tr_free(&r);
}

/* Two -r roots into one -o DIR, each with a config.json: the copy found
 * first keeps the place and the other fails, as two checkpoints with one
 * output do, whichever root comes first on the command line. */
Test(dirs, two_roots_copying_to_one_place)
{
    cs_put("a/m.ckpt", "fixtures/sample.ckpt");
    cs_put_text("a/config.json", "A\n");
    cs_put_text("b/config.json", "B\n");
    cs_put_text("b/vocab.txt", "v\n");
    tr_result r = RUN("-q", "-r", "a", "-r", "b", "-o", "out", "--copy-other");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: b/config.json: same output as "
                            "a/config.json: out/config.json\n");
    expect_text("out/config.json", "A\n");
    expect_text("out/vocab.txt", "v\n");
    expect_same("out/m.safetensors", "fixtures/sample.expected.safetensors");
    tr_free(&r);

    r = RUN("-q", "-f", "-r", "b", "-r", "a", "-o", "out", "--copy-other", "--json");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: a/config.json: same output as "
                            "b/config.json: out/config.json\n");
    cr_expect(strstr(r.out, "{\"input\":\"a/config.json\",\"output\":\"out/config.json\","
                            "\"status\":\"failed\"") != NULL,
              "%s", r.out);
    expect_text("out/config.json", "B\n");
    tr_free(&r);
}

/* --dry-run with --copy-other writes nothing, makes no directory: each
 * copy is "would copy", "would skip" when up to date. */
Test(dirs, dry_run_copies_nothing)
{
    cs_put("a/m.ckpt", "fixtures/sample.ckpt");
    cs_put_text("a/config.json", "A\n");
    tr_result r = RUN("-r", "a", "-o", "out", "--copy-other", "--dry-run");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "ckpt2safetensors: a/m.ckpt: left out: optimizer_states (24 tensors)\n"
                            "ckpt2safetensors: a/m.ckpt -> out/m.safetensors: would convert 11 "
                            "tensors\n"
                            "ckpt2safetensors: a/config.json -> out/config.json: would copy\n"
                            "ckpt2safetensors: would convert 1, would skip 0, refused 0, failed 0, "
                            "would copy 1 (dry run)\n");
    cr_expect(!cs_exists("out"), "--dry-run made the output directory");
    tr_free(&r);

    r = RUN("-q", "-r", "a", "-o", "out", "--copy-other");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    cs_put_text("a/vocab.txt", "v\n");
    r = RUN("-q", "-r", "a", "-o", "out", "--copy-other", "--dry-run", "--json");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "{\"input\":\"a/config.json\",\"output\":\"out/config.json\","
                            "\"status\":\"would-skip\"") != NULL,
              "%s", r.out);
    cr_expect(strstr(r.out, "{\"input\":\"a/vocab.txt\",\"output\":\"out/vocab.txt\","
                            "\"status\":\"would-copy\",\"verdict\":null,\"tensors\":null,"
                            "\"bytes\":null,") != NULL,
              "%s", r.out);
    cr_expect(!cs_exists("out/vocab.txt"), "--dry-run copied");
    tr_free(&r);
}

Test(dirs, without_exclusions_the_trainer_files_are_judged)
{
    trainer_tree();
    tr_result r = RUN("-q", "-r", "run", "-o", "out", "-j", "1");
    cr_expect_eq(r.code, 3); /* training_args.bin names an unknown class */
    cr_expect(strstr(r.err, "run/training_args.bin: refused by the safety policy") != NULL, "%s",
              r.err);
    cr_expect(cs_exists("out/checkpoint-2/optimizer.safetensors"));
    cr_expect(!cs_exists("out/config.json"), "copied without --copy-other");
    tr_free(&r);
}

Test(dirs, include_file_by_name_or_by_path)
{
    trainer_tree();
    tr_result r = RUN("-q", "-r", "run", "-o", "out", "--include-file", "checkpoint-*/*.bin",
                      "--copy-other");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(cs_exists("out/checkpoint-2/model.safetensors"));
    cr_expect(!cs_exists("out/model.safetensors"),
              "'checkpoint-*/*.bin' matched pytorch_model.bin");
    cr_expect(!cs_exists("out/config.json"), "--include-file applies to copies too");
    tr_free(&r);

    r = RUN("--scan", "-q", "-r", "run", "--include-file", "*.bin", "--exclude-file",
            "training_args.bin");
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.out, "run/checkpoint-2/pytorch_model.bin: safe (zip): 5 globals, none "
                            "refused\n"
                            "run/pytorch_model.bin: safe (zip): 4 globals, none refused\n");
    tr_free(&r);
}

Test(dirs, option_combinations)
{
    tr_result r = RUN("--exclude-file", "x", "a.pt");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: --exclude-file chooses among the files "
                            "found under -r DIR\n");
    tr_free(&r);
    r = RUN("--copy-other", "-r", "run");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: --copy-other copies the other files of -r "
                            "DIR into -o OUTDIR: give both\n");
    tr_free(&r);
    r = RUN("--scan", "--copy-other", "-r", "run");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: --scan writes nothing, so --copy-other "
                            "makes no sense with it\n");
    tr_free(&r);
}

Test(dirs, the_old_index_is_rewritten_not_copied)
{
    cs_put("hf/pytorch_model-00001-of-00001.bin", "fixtures/good/parameters.pt");
    cs_put_text("hf/pytorch_model.bin.index.json",
                "{\"weight_map\": {\"p\": \"pytorch_model-00001-of-00001.bin\"}}");
    /* a stale index in the source, at the place of the rewritten one */
    cs_put_text("hf/model.safetensors.index.json", "{\"stale\": true}");
    cs_put("hf/model-00001-of-00001.safetensors", "fixtures/sample.expected.safetensors");
    cs_put("hf/extra.safetensors", "fixtures/sample.expected.safetensors");
    cs_put_text("hf/config.json", "{}\n");
    tr_result r = RUN("-r", "hf", "-o", "out", "--copy-other", "-j", "1");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "ckpt2safetensors: hf/pytorch_model-00001-of-00001.bin -> "
                            "out/model-00001-of-00001.safetensors: 3 tensors, 260 B in T s\n"
                            "ckpt2safetensors: hf/pytorch_model.bin.index.json -> "
                            "out/model.safetensors.index.json: index of 1 tensor\n"
                            "ckpt2safetensors: hf/config.json -> out/config.json: copied\n"
                            "ckpt2safetensors: hf/extra.safetensors -> out/extra.safetensors: "
                            "copied\n"
                            "ckpt2safetensors: converted 2, skipped 0, refused 0, failed 0, "
                            "copied 2; 326 B in T s\n");
    expect_same("out/model-00001-of-00001.safetensors",
                "fixtures/good/parameters.expected.safetensors");
    expect_same("out/extra.safetensors", "fixtures/sample.expected.safetensors");
    cr_expect(!cs_exists("out/pytorch_model.bin.index.json"));
    char *p = cs_at("out/model.safetensors.index.json");
    char *text = tr_slurp(p);
    cr_expect(strstr(text, "model-00001-of-00001.safetensors") != NULL, "%s", text);
    cr_expect(strstr(text, "stale") == NULL, "%s", text);
    free(text);
    free(p);
    tr_free(&r);
}

Test(dirs, json_line_of_a_copy)
{
    cs_put("m/pytorch_model.bin", "fixtures/good/parameters.pt");
    cs_put_text("m/config.json", "{}\n");
    tr_result r = RUN("-q", "--json", "-r", "m", "-o", "o", "--copy-other");
    cr_expect_eq(r.code, 0, "%s", r.err);
    const char *line = strstr(r.out, "{\"input\":\"m/config.json\"");
    cr_assert_not_null(line, "%s", r.out);
    const char *want = "{\"input\":\"m/config.json\",\"output\":\"o/config.json\",\"status\":"
                       "\"copied\",\"verdict\":null,\"tensors\":null,\"bytes\":3,\"seconds\":";
    cr_expect(strncmp(line, want, strlen(want)) == 0, "%s", line);
    const char *tail = ",\"sha256\":null,\"error\":null,\"verified\":false,\"removed\":false}\n";
    const char *end = strchr(line, '\n');
    cr_assert_not_null(end);
    size_t len = (size_t)(end + 1 - line);
    cr_expect(len > strlen(tail) && strncmp(end + 1 - strlen(tail), tail, strlen(tail)) == 0, "%s",
              line);
    cr_expect(strstr(end + 1, "{\"summary\":{\"files\":2,\"converted\":1,\"skipped\":0,"
                              "\"refused\":0,\"failed\":0,\"copied\":1,") == end + 1,
              "the summary counts the copy: %s", end + 1);
    cr_expect_eq(strchr(r.out, '\n') < line, 1, "the copy comes after the conversion");
    tr_free(&r);
}
