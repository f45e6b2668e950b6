/*
 * test_rerun.c - running again: the options record, --dry-run, --rm, and
 * -o with a .safetensors name for several inputs.
 *
 * Runs the built binary ($C2S_BIN, default ./ckpt2safetensors) in a fresh
 * temporary directory on copies of committed fixtures, and asserts exit
 * codes, exact stderr (times masked as "in T s"), exact bytes of the
 * outputs and which files exist afterwards.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <time.h>

#include "cli_sandbox.h"
#include "run_util.h"
#include "test_util.h"

TestSuite(rerun, .init = cs_setup, .fini = cs_teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------------- */

static tr_result run(const char *const *args)
{
    tr_result r = tr_finish(tr_start(cs_bin, cs_dir, cs_dir, args), cs_dir);
    cs_mask_times(r.err);
    return r;
}

#define RUN(...) run((const char *const[]){__VA_ARGS__, NULL})

static void set_mtime(const char *rel, time_t t)
{
    char *p = cs_at(rel);
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0, "utimensat %s", p);
    free(p);
}

/* rel is exactly the fixture, byte for byte (no record taken out). */
static int same_bytes(const char *rel, const char *fixture)
{
    char *p = cs_at(rel);
    size_t na, nb;
    unsigned char *x = tu_read(p, &na), *y = tu_read(fixture, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    free(p);
    return same;
}

static unsigned char *read_rel(const char *rel, size_t *n)
{
    char *p = cs_at(rel);
    unsigned char *b = tu_read(p, n);
    free(p);
    cr_assert_not_null(b, "%s missing", rel);
    return b;
}

/* The "metadata: ..." lines --list prints for rel. */
static char *metadata_of(const char *rel)
{
    tr_result r = RUN("--list", rel);
    cr_assert_eq(r.code, 0, "%s", r.err);
    const char *m = strstr(r.out, "metadata: ");
    char *copy = strdup(m ? m : "");
    tr_free(&r);
    return copy;
}

#define PARAMS "fixtures/good/parameters.pt"
#define PARAMS_ST "fixtures/good/parameters.expected.safetensors"

/* ---- the options record ------------------------------------------------------------ */

Test(rerun, default_conversion_writes_no_record)
{
    cs_put("p.pt", PARAMS);
    tr_result r = RUN("-q", "p.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(same_bytes("p.safetensors", PARAMS_ST), "not the reference bytes");
    tr_free(&r);
}

Test(rerun, record_is_canonical_escaped_and_in_a_fixed_order)
{
    cs_put("p.pt", PARAMS);
    /* given in another order and spelling than the record lists them */
    tr_result r = RUN("-q", "--metadata", "note=x y%\"", "--dtype", "half", "--exclude", "plain",
                      "--include", "*", "--skip-unsupported", "p.pt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    char *m = metadata_of("p.safetensors");
    cr_expect_str_eq(m, "metadata: format=pt\n"
                        "metadata: note=x y%\"\n"
                        "metadata: ckpt2safetensors.options=--skip-unsupported --include=* "
                        "--exclude=plain --dtype=F16 --metadata=note=x%20y%25%22\n");
    free(m);
}

Test(rerun, record_names_key_name_quantized_tf_names_and_training_metadata)
{
    cs_put("l.ckpt", "fixtures/good/lightning.ckpt");
    tr_result r = RUN("-q", "--training-metadata", "--key", "state_dict", "--name", "t",
                      "--quantized", "raw", "--tf-names", "l.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    char *m = metadata_of("l.safetensors");
    cr_expect(strstr(m, "metadata: ckpt2safetensors.options=--key=state_dict --name=t "
                        "--tf-names --quantized=raw --training-metadata\n") != NULL,
              "%s", m);
    free(m);
}

Test(rerun, same_options_skip_and_v_says_why)
{
    cs_put("p.pt", PARAMS);
    tr_result r = RUN("-q", "--dtype", "f16", "p.pt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    r = RUN("-v", "--dtype", "F16", "p.pt"); /* another spelling, the same option */
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.err, "ckpt2safetensors: p.pt -> p.safetensors: skipped (up to date)\n"
                            "ckpt2safetensors: p.safetensors: up to date: not older than p.pt, "
                            "made with the same options (--dtype=F16)\n");
    tr_free(&r);
}

Test(rerun, other_options_are_an_error_without_f_and_redone_with_it)
{
    cs_put("p.pt", PARAMS);
    tr_result r = RUN("-q", "--dtype", "f16", "p.pt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    size_t n0, n1;
    unsigned char *before = read_rel("p.safetensors", &n0);

    r = RUN("p.pt"); /* the case: --dtype left out */
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: p.pt: output exists and was made with "
                            "other options: p.safetensors (use -f to overwrite)\n");
    tr_free(&r);
    r = RUN("-v", "--exclude", "plain", "p.pt");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: p.pt: output exists and was made with "
                            "other options: p.safetensors (use -f to overwrite)\n"
                            "ckpt2safetensors: p.safetensors: made with --dtype=F16; this run: "
                            "--exclude=plain\n");
    tr_free(&r);
    unsigned char *after = read_rel("p.safetensors", &n1);
    cr_expect(n0 == n1 && memcmp(before, after, n0) == 0, "the output was touched");
    free(after);

    r = RUN("-v", "-f", "--dry-run", "p.pt"); /* says so, changes nothing */
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "ckpt2safetensors: p.safetensors: would be redone: -f replaces the "
                            "existing output\n"
                            "ckpt2safetensors: p.pt: root (top level), 3 tensors in 3 storages\n"
                            "ckpt2safetensors: p.pt -> p.safetensors: would convert 3 tensors\n");
    tr_free(&r);
    unsigned char *still = read_rel("p.safetensors", &n1);
    cr_expect(n0 == n1 && memcmp(before, still, n0) == 0, "--dry-run touched the output");
    free(still);
    free(before);
    r = RUN("-v", "-f", "p.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    const char *redone = "ckpt2safetensors: p.safetensors: redone: -f replaces the existing "
                         "output\n";
    cr_expect(strncmp(r.err, redone, strlen(redone)) == 0, "%s", r.err);
    cr_expect(same_bytes("p.safetensors", PARAMS_ST));
    tr_free(&r);
}

Test(rerun, an_output_without_record_counts_as_made_with_the_defaults)
{
    cs_put("p.pt", PARAMS);
    cs_put("p.safetensors", PARAMS_ST); /* as safetensors' save_file writes it */
    set_mtime("p.pt", 1000000000);
    tr_result r = RUN("-v", "p.pt");
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.err, "ckpt2safetensors: p.pt -> p.safetensors: skipped (up to date)\n"
                            "ckpt2safetensors: p.safetensors: up to date: not older than p.pt; "
                            "no options record, so taken as made with the default options, "
                            "which this run uses\n");
    tr_free(&r);
    r = RUN("-v", "--dtype", "bf16", "p.pt");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: p.pt: output exists and was made with "
                            "other options: p.safetensors (use -f to overwrite)\n"
                            "ckpt2safetensors: p.safetensors: made with the default options (no "
                            "options record); this run: --dtype=BF16\n");
    tr_free(&r);
    /* a file that is not safetensors at all, newer than the input */
    cs_put_text("p.safetensors", "not safetensors");
    r = RUN("-v", "--dtype", "bf16", "p.pt");
    cr_expect_eq(r.code, 1);
    cr_expect(strstr(r.err, "made with the default options (not a readable safetensors file); "
                            "this run: --dtype=BF16\n") != NULL,
              "%s", r.err);
    tr_free(&r);
}

Test(rerun, an_older_output_is_still_an_error_whatever_its_record)
{
    cs_put("p.pt", PARAMS);
    cs_put("p.safetensors", PARAMS_ST);
    set_mtime("p.safetensors", 1000000000);
    tr_result r = RUN("p.pt");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: p.pt: output exists and is older than the "
                            "input: p.safetensors (use -f to overwrite)\n");
    tr_free(&r);
}

Test(rerun, the_record_key_is_reserved_for_metadata)
{
    tr_result r = RUN("--metadata", "ckpt2safetensors.options=x", "p.pt");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: --metadata: the key "
                            "'ckpt2safetensors.options' is reserved (it records the options an "
                            "output was made with)\n");
    tr_free(&r);
}

/* ---- -o NAME.safetensors with several inputs ------------------------------------------ */

Test(rerun, o_with_a_safetensors_name_is_refused_for_several_inputs)
{
    cs_put("a.pt", PARAMS);
    cs_put("b.pt", PARAMS);
    cs_put("t/c.pt", PARAMS);
    const char *want = "ckpt2safetensors: error: -o new.safetensors: with several inputs or -r, "
                       "-o names a directory, not a .safetensors file (end it with '/' to "
                       "create such a directory)\n";
    tr_result r = RUN("-o", "new.safetensors", "a.pt", "b.pt");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, want);
    tr_free(&r);
    r = RUN("-o", "new.safetensors", "-r", "t");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, want);
    tr_free(&r);
    cr_expect(!cs_exists("new.safetensors"));

    /* a trailing '/' asks for the directory; an existing one is used */
    r = RUN("-q", "-o", "new.safetensors/", "a.pt", "b.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(same_bytes("new.safetensors/a.safetensors", PARAMS_ST));
    tr_free(&r);
    r = RUN("-q", "-o", "new.safetensors", "-r", "t");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(same_bytes("new.safetensors/c.safetensors", PARAMS_ST));
    tr_free(&r);
}

/* ---- --dry-run ------------------------------------------------------------------------ */

static void mixed_tree(void)
{
    cs_put("t/a.pt", PARAMS);
    cs_put("t/b.pt", PARAMS);
    cs_put("t/up.pt", PARAMS);
    cs_put("t/up.safetensors", PARAMS_ST);
    set_mtime("t/up.pt", 1000000000);
    cs_put("t/evil.pt", "fixtures/hostile/reduce_posix_system.pt");
    cs_put("t/old.pt", PARAMS);
    cs_put("t/old.safetensors", PARAMS_ST);
    set_mtime("t/old.safetensors", 1000000000);
}

#define E_EVIL                                                           \
    "ckpt2safetensors: error: t/evil.pt: refused by the safety policy: " \
    "dangerous global posix.system (REDUCE) in archive/data.pkl at offset 154\n"
/* the batch summary's rows (tool_summary.h) */
#define ROW_EVIL                                                            \
    "  refused  t/evil.pt: refused by the safety policy: dangerous global " \
    "posix.system (REDUCE) in archive/data.pkl at offset 154\n"
#define ROW_OLD                                                        \
    "  failed   t/old.pt: output exists and is older than the input: " \
    "t/old.safetensors (use -f to overwrite)\n"
#define E_OLD                                                                        \
    "ckpt2safetensors: error: t/old.pt: output exists and is older than the input: " \
    "t/old.safetensors (use -f to overwrite)\n"

Test(rerun, dry_run_judges_everything_and_writes_nothing)
{
    mixed_tree();
    tr_result r = RUN("--dry-run", "-j", "1", "-r", "t", "-o", "out");
    cr_expect_eq(r.code, 3, "the exit code of a real run");
    cr_expect_str_eq(r.err, "ckpt2safetensors: t/a.pt -> out/a.safetensors: would convert 3 "
                            "tensors\n"
                            "ckpt2safetensors: t/b.pt -> out/b.safetensors: would convert 3 "
                            "tensors\n" E_EVIL
                            "ckpt2safetensors: t/old.pt -> out/old.safetensors: would convert 3 "
                            "tensors\n"
                            "ckpt2safetensors: t/up.pt -> out/up.safetensors: would convert 3 "
                            "tensors\n"
                            "ckpt2safetensors: would convert 4, would skip 0, refused 1, failed "
                            "0 (dry run)\n" ROW_EVIL);
    cr_expect(!cs_exists("out"), "--dry-run created the output directory");
    tr_free(&r);

    r = RUN("--dry-run", "-j", "1", "-r", "t");
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(r.err, "ckpt2safetensors: t/a.pt -> t/a.safetensors: would convert 3 "
                            "tensors\n"
                            "ckpt2safetensors: t/b.pt -> t/b.safetensors: would convert 3 "
                            "tensors\n" E_EVIL E_OLD
                            "ckpt2safetensors: t/up.pt -> t/up.safetensors: would skip (up to "
                            "date)\n"
                            "ckpt2safetensors: would convert 2, would skip 1, refused 1, failed "
                            "1 (dry run)\n" ROW_EVIL ROW_OLD);
    cr_expect(!cs_exists("t/a.safetensors") && !cs_exists("t/b.safetensors"));
    tr_free(&r);
}

Test(rerun, dry_run_json_says_would)
{
    mixed_tree();
    tr_result r = RUN("--dry-run", "--json", "-j", "1", "-r", "t");
    cr_expect_eq(r.code, 3);
    const char *want[][3] = {
        {"t/a.pt", "would-convert", "safe"}, {"t/b.pt", "would-convert", "safe"},
        {"t/evil.pt", "refused", "unsafe"},  {"t/old.pt", "failed", NULL},
        {"t/up.pt", "would-skip", NULL},
    };
    char *line = r.out;
    for (size_t i = 0; i < 5; i++) {
        char *nl = strchr(line, '\n');
        cr_assert_not_null(nl, "line %zu missing:\n%s", i, r.out);
        *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        cr_assert_not_null(j, "%s", line);
        cr_expect_str_eq(cJSON_GetObjectItem(j, "input")->valuestring, want[i][0]);
        cr_expect_str_eq(cJSON_GetObjectItem(j, "status")->valuestring, want[i][1]);
        const cJSON *v = cJSON_GetObjectItem(j, "verdict");
        if (want[i][2])
            cr_expect(cJSON_IsString(v) && strcmp(v->valuestring, want[i][2]) == 0, "%s", line);
        else
            cr_expect(cJSON_IsNull(v), "%s", line);
        const cJSON *t = cJSON_GetObjectItem(j, "tensors");
        if (strcmp(want[i][1], "would-convert") == 0)
            cr_expect(cJSON_IsNumber(t) && t->valuedouble == 3, "%s", line);
        cr_expect(cJSON_IsNull(cJSON_GetObjectItem(j, "bytes")), "%s", line);
        cr_expect(cJSON_IsNull(cJSON_GetObjectItem(j, "sha256")), "%s", line);
        cJSON_Delete(j);
        line = nl + 1;
    }
    /* then the summary, which says the counts are a dry run's */
    cJSON *j = cJSON_Parse(line);
    const cJSON *sum = cJSON_GetObjectItem(j, "summary");
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(sum, "dry_run")), "%s", line);
    cr_expect_eq(cJSON_GetObjectItem(sum, "converted")->valuedouble, 2, "%s", line);
    cJSON_Delete(j);
    tr_free(&r);
}

/* A dry run fails where the real run would, with the same message. */
Test(rerun, dry_run_reports_the_errors_of_the_real_run)
{
    cs_put("p.pt", PARAMS);
    cs_put("c.pt", "fixtures/good/complex128_skip.pt");
    const char *const cases[][4] = {
        {"--include", "nothing*", "p.pt", NULL},
        {"c.pt", NULL},
        {"--dtype", "f16", "c.pt", NULL},
        {"--rm", "fixtures/tf/good/multi", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[8] = {"--dry-run"};
        size_t n = 1;
        for (size_t k = 0; k < 4 && cases[i][k]; k++)
            argv[n++] = cases[i][k];
        argv[n] = NULL;
        tr_result dry = run(argv);
        tr_result real = run(argv + 1);
        cr_expect_eq(dry.code, 1, "case %zu: %s", i, dry.err);
        cr_expect_eq(dry.code, real.code, "case %zu", i);
        cr_expect_str_eq(dry.err, real.err, "case %zu", i);
        cr_expect(!cs_exists("p.safetensors") && !cs_exists("c.safetensors"));
        tr_free(&dry);
        tr_free(&real);
    }
}

Test(rerun, dry_run_and_list_or_scan_do_not_go_together)
{
    tr_result r = RUN("--list", "--dry-run", "p.pt");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: --list writes nothing, so --dry-run makes "
                            "no sense with it\n");
    tr_free(&r);
    r = RUN("--scan", "--rm", "p.pt");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: --scan writes nothing, so --rm makes no "
                            "sense with it\n");
    tr_free(&r);
}

/* ---- --rm ------------------------------------------------------------------------------ */

Test(rerun, rm_removes_the_input_after_a_verified_conversion)
{
    cs_put("p.pt", PARAMS);
    tr_result r = RUN("-v", "--rm", "p.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "ckpt2safetensors: p.pt: verified against the checkpoint\n"
                            "ckpt2safetensors: p.pt: removed (--rm)\n") != NULL,
              "%s", r.err);
    cr_expect(!cs_exists("p.pt"));
    cr_expect(same_bytes("p.safetensors", PARAMS_ST));
    tr_free(&r);
    /* --json says so */
    cs_put("p.pt", PARAMS);
    r = RUN("-f", "--rm", "--json", "p.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, ",\"verified\":true,\"removed\":true}\n"), "%s", r.out);
    cr_expect(!cs_exists("p.pt"));
    tr_free(&r);
}

Test(rerun, rm_keeps_inputs_that_were_not_converted)
{
    mixed_tree();
    tr_result r = RUN("-q", "--rm", "--dry-run", "-r", "t");
    cr_expect_eq(r.code, 3);
    tr_free(&r);
    cr_expect(cs_exists("t/a.pt") && cs_exists("t/b.pt"), "--dry-run removed an input");

    r = RUN("-j", "1", "--rm", "-r", "t");
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(r.err, "ckpt2safetensors: t/a.pt -> t/a.safetensors: 3 tensors, 260 B in T "
                            "s, verified\n"
                            "ckpt2safetensors: t/b.pt -> t/b.safetensors: 3 tensors, 260 B in T "
                            "s, verified\n" E_EVIL E_OLD
                            "ckpt2safetensors: t/up.pt -> t/up.safetensors: skipped (up to "
                            "date)\n"
                            "ckpt2safetensors: converted 2, skipped 1, refused 1, failed 1; 520 "
                            "B in T s\n" ROW_EVIL ROW_OLD);
    cr_expect(!cs_exists("t/a.pt") && !cs_exists("t/b.pt"));
    cr_expect(cs_exists("t/evil.pt") && cs_exists("t/old.pt") && cs_exists("t/up.pt"));
    tr_free(&r);
}

Test(rerun, rm_refuses_a_stream_and_a_tensorflow_bundle)
{
    tr_result r = RUN("--rm", "-o", "-", "p.pt");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: --rm removes the input only after "
                            "checking the output file, so it cannot go with -o -\n");
    tr_free(&r);

    cs_put("tf/m.index", "fixtures/tf/good/multi.index");
    cs_put("tf/m.data-00000-of-00003", "fixtures/tf/good/multi.data-00000-of-00003");
    cs_put("tf/m.data-00001-of-00003", "fixtures/tf/good/multi.data-00001-of-00003");
    cs_put("tf/m.data-00002-of-00003", "fixtures/tf/good/multi.data-00002-of-00003");
#define E_TF                                                                             \
    "ckpt2safetensors: error: %s: --rm does not remove a TensorFlow bundle (NAME.index " \
    "and its data files): convert it without --rm\n"
    const char *inputs[] = {"tf/m.index", "tf/m"};
    for (size_t i = 0; i < 2; i++) {
        char msg[512];
        snprintf(msg, sizeof msg, E_TF, inputs[i]);
        r = RUN("--rm", inputs[i]);
        cr_expect_eq(r.code, 1);
        cr_expect_str_eq(r.err, msg);
        tr_free(&r);
    }
    cr_expect(cs_exists("tf/m.index") && cs_exists("tf/m.data-00002-of-00003"));
    cr_expect(!cs_exists("tf/m.safetensors"));
}

static const char *const SHARD1[] = {"hi",     "lo",     "decoder.out", "encoder.embed", "w",
                                     "w_rows", "w_view", "block_a.k",   "block_b.k"};
static const char *const SHARD2[] = {"p", "frozen", "plain"};

static void hf_tree(void)
{
    cs_put("hf/pytorch_model-00001-of-00002.bin", "fixtures/good/tied.bin");
    cs_put("hf/pytorch_model-00002-of-00002.bin", PARAMS);
    cJSON *root = cJSON_CreateObject();
    cJSON *wm = cJSON_AddObjectToObject(root, "weight_map");
    for (size_t i = 0; i < 9; i++)
        cJSON_AddStringToObject(wm, SHARD1[i], "pytorch_model-00001-of-00002.bin");
    for (size_t i = 0; i < 3; i++)
        cJSON_AddStringToObject(wm, SHARD2[i], "pytorch_model-00002-of-00002.bin");
    char *text = cJSON_Print(root);
    cs_put_text("hf/pytorch_model.bin.index.json", text);
    cJSON_free(text);
    cJSON_Delete(root);
}

Test(rerun, rm_removes_the_old_hugging_face_index_with_its_shards)
{
    hf_tree();
    tr_result r = RUN("-v", "-j", "1", "--rm", "-r", "hf");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.err,
                     "ckpt2safetensors: hf/pytorch_model.bin.index.json -> "
                     "hf/model.safetensors.index.json: index of 12 tensors\n"
                     "ckpt2safetensors: hf/pytorch_model.bin.index.json: removed (--rm)\n") != NULL,
              "%s", r.err);
    cr_expect(!cs_exists("hf/pytorch_model-00001-of-00002.bin"));
    cr_expect(!cs_exists("hf/pytorch_model-00002-of-00002.bin"));
    cr_expect(!cs_exists("hf/pytorch_model.bin.index.json"));
    cr_expect(cs_exists("hf/model.safetensors.index.json"));
    cr_expect(same_bytes("hf/model-00002-of-00002.safetensors", PARAMS_ST));
    tr_free(&r);
}

Test(rerun, rm_keeps_the_old_index_while_a_shard_is_left)
{
    hf_tree();
    cs_put("hf/model-00002-of-00002.safetensors", PARAMS_ST);
    set_mtime("hf/model-00002-of-00002.safetensors", 1000000000); /* older: an error */
    tr_result r = RUN("-j", "1", "--rm", "-r", "hf");
    cr_expect_eq(r.code, 1, "%s", r.err);
    cr_expect(strstr(r.err, "ckpt2safetensors: hf/pytorch_model.bin.index.json: not rewritten: "
                            "pytorch_model-00002-of-00002.bin was not converted\n") != NULL,
              "%s", r.err);
    cr_expect(!cs_exists("hf/pytorch_model-00001-of-00002.bin"));
    cr_expect(cs_exists("hf/pytorch_model-00002-of-00002.bin"));
    cr_expect(cs_exists("hf/pytorch_model.bin.index.json"));
    cr_expect(!cs_exists("hf/model.safetensors.index.json"));
    tr_free(&r);
    /* once the last shard is converted, the index is rewritten and the old one goes */
    r = RUN("-q", "-f", "--rm", "hf/pytorch_model-00002-of-00002.bin");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(!cs_exists("hf/pytorch_model-00002-of-00002.bin"));
    cr_expect(cs_exists("hf/model.safetensors.index.json"));
    cr_expect(!cs_exists("hf/pytorch_model.bin.index.json"));
    tr_free(&r);
}
