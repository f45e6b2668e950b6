/*
 * test_tfcli.c - TensorFlow checkpoints through the program: the three
 * real bundles of shared/realdata/tf convert to exactly the files
 * fixtures/tf/make_tf.py's independent reader wrote (fixtures/tf/realdata/:
 * FOLDER.expected.safetensors, or FOLDER.expected.sha256 "<hex> <size>"
 * for an output too large to commit), with default names and with
 * --tf-names; --list shows every entry as that reader saw it
 * (fixtures/tf/realdata_expected.tsv); the prefix form (model.ckpt for
 * model.ckpt.index) and its default output name; -r over a tree with a
 * bundle, a SavedModel variables/ folder and an .index that is no
 * checkpoint; --scan (text and JSON); a wrong CRC-32C failing the scan,
 * the conversion and --verify; every hostile index of fixtures/tf/hostile
 * failing with its exact message and leaving nothing; and the options
 * (--dtype, --include/--exclude, --json, --shard, -j, --key).  Suite
 * tfapi: the same bundles through the public API (c2s_open with
 * tf_names and key, c2s_scan).
 *
 * The real checkpoints are looked for as tu_realdata() says
 * ($C2S_REALDATA, then ../shared/realdata, then ../../shared/realdata).
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "c2s.h"
#include "run_util.h"
#include "test_util.h"

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir();
    cr_assert_not_null(dir);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
    dir = NULL;
}

TestSuite(tfcli, .init = setup, .fini = teardown, .timeout = 60);

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define RUN(...) tr_finish(tr_start(tr_bin(), dir, NULL, ARGS(__VA_ARGS__)), dir)
/* The same with the temporary directory as the working directory (the
 * binary by its absolute path). */
#define RUN_IN_DIR(...) tr_finish(tr_start(abs_bin(), dir, dir, ARGS(__VA_ARGS__)), dir)

static const char *abs_bin(void)
{
    static char bin[4096]; /* the same for every test of the process */
    cr_assert_not_null(realpath(tr_bin(), bin), "no binary %s", tr_bin());
    return bin;
}

typedef struct real_bundle {
    const char *folder, *prefix;
} real_bundle;

static const real_bundle REAL[] = {
    {"keras_bert_saver_tf111", "bert_model.ckpt"},
    {"tello_savedmodel_2shards_2020", "variables"},
    {"tfr_bert_lite_tf2_snappy", "bert_lite_tf2.ckpt"},
};
#define NREAL (sizeof REAL / sizeof REAL[0])

/* REALDATA/tf/FOLDER/PREFIX plus suffix. */
static void real_path(const real_bundle *b, const char *suffix, char *out, size_t cap)
{
    const char *real = tu_realdata("tf");
    cr_assert_not_null(real, "no realdata/tf: the tests need shared/realdata (or $C2S_REALDATA)");
    snprintf(out, cap, "%s/tf/%s/%s%s", real, b->folder, b->prefix, suffix);
}

/* ---- comparing outputs ------------------------------------------------------------------ */

/* The file at path, but for its options record (tu_strip_options_record),
 * is exactly base.safetensors, or has the SHA-256 and size recorded in
 * base.sha256. */
static void expect_file_is(const char *path, const char *base)
{
    char want[1024];
    size_t got_len = 0, want_len = 0;
    unsigned char *got = tu_read_output(path, &got_len);
    cr_assert_not_null(got, "%s was not written", path);
    snprintf(want, sizeof want, "%s.safetensors", base);
    unsigned char *exp = tu_read(want, &want_len);
    if (exp != NULL) {
        cr_expect(got_len == want_len && memcmp(got, exp, want_len) == 0,
                  "%s differs from %s (%zu and %zu bytes)", path, want, got_len, want_len);
    } else {
        snprintf(want, sizeof want, "%s.sha256", base);
        char *line = tr_slurp(want);
        char hex[65], sum[65];
        unsigned long long size = 0;
        cr_assert_eq(sscanf(line, "%64s %llu", hex, &size), 2, "bad %s", want);
        c2s_sha256_hex(got, got_len, sum);
        cr_expect_eq(got_len, size, "%s: %zu bytes, %s says %llu", path, got_len, want, size);
        cr_expect_str_eq(sum, hex, "%s: SHA-256 differs from %s", path, want);
        free(line);
    }
    free(exp);
    free(got);
}

static void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    unsigned char *data = tu_read(from, &n);
    cr_assert_not_null(data, "cannot read %s", from);
    cr_assert_eq(tu_write(to, data, n), 0, "cannot write %s", to);
    free(data);
}

/* Copy bundle b into dir/sub (created) as NEW_PREFIX.index and its shards. */
static void copy_bundle(const real_bundle *b, int nshards, const char *sub, const char *prefix)
{
    char from[1024], to[1024], suffix[64];
    snprintf(to, sizeof to, "%s/%s", dir, sub);
    for (char *s = to + strlen(dir) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(to, 0755);
        *s = '/';
    }
    mkdir(to, 0755);
    real_path(b, ".index", from, sizeof from);
    snprintf(to, sizeof to, "%s/%s/%s.index", dir, sub, prefix);
    copy_file(from, to);
    for (int i = 0; i < nshards; i++) {
        snprintf(suffix, sizeof suffix, ".data-%05d-of-%05d", i, nshards);
        real_path(b, suffix, from, sizeof from);
        snprintf(to, sizeof to, "%s/%s/%s%s", dir, sub, prefix, suffix);
        copy_file(from, to);
    }
}

/* ---- the real bundles --------------------------------------------------------------------- */

Test(tfcli, real_bundles_convert_exactly)
{
    char *out = tu_path(dir, "out.safetensors");
    for (size_t i = 0; i < NREAL; i++) {
        for (int names = 0; names < 2; names++) {
            char input[1024], want[512];
            /* default names through the index, --tf-names through the prefix */
            real_path(&REAL[i], names ? "" : ".index", input, sizeof input);
            snprintf(want, sizeof want, "fixtures/tf/realdata/%s%s.expected", REAL[i].folder,
                     names ? ".tf-names" : "");
            tr_result r = names ? RUN("-q", "--tf-names", "-o", out, input)
                                : RUN("-q", "-o", out, input);
            cr_expect_eq(r.code, 0, "%s: exit %d: %s", input, r.code, r.err);
            cr_expect_str_empty(r.err, "%s", input);
            expect_file_is(out, want);
            unlink(out);
            tr_free(&r);
        }
    }
    free(out);
}

/* Safetensors name of a TensorFlow DataType (those of the real bundles). */
static const char *st_dtype(int tf)
{
    switch (tf) {
    case 1:
        return "F32";
    case 2:
        return "F64";
    case 3:
        return "I32";
    case 9:
        return "I64";
    default:
        return NULL;
    }
}

/* One realdata_expected.tsv row: name, dtype, dims "4096,5", size. */
typedef struct tsv_row {
    char name[256], dims[128];
    int dtype;
    unsigned long long size;
} tsv_row;

/* The rows of bundle FOLDER/PREFIX; returns how many (at most cap). */
static size_t read_rows(const real_bundle *b, tsv_row *rows, size_t cap)
{
    FILE *f = fopen("fixtures/tf/realdata_expected.tsv", "r");
    cr_assert_not_null(f);
    char line[2048], head[600];
    snprintf(head, sizeof head, "bundle\t%s/%s\t", b->folder, b->prefix);
    size_t n = 0;
    int in = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#')
            continue;
        if (strncmp(line, "bundle\t", 7) == 0) {
            in = strncmp(line, head, strlen(head)) == 0;
            continue;
        }
        if (!in)
            continue;
        cr_assert_lt(n, cap);
        line[strcspn(line, "\n")] = '\0';
        char *fields[8] = {0}, *p = line;
        for (int k = 0; k < 8 && p != NULL; k++)
            fields[k] = strsep(&p, "\t"); /* empty fields (a scalar's dims) stay */
        cr_assert_not_null(fields[5], "short row in realdata_expected.tsv");
        tsv_row *r = &rows[n++];
        snprintf(r->name, sizeof r->name, "%s", fields[0]);
        r->dtype = atoi(fields[1]);
        snprintf(r->dims, sizeof r->dims, "%s", fields[2]);
        r->size = strtoull(fields[5], NULL, 10);
    }
    fclose(f);
    return n;
}

/* "4096,5" -> "[4096, 5]" */
static void shape_text(const char *dims, char *out, size_t cap)
{
    size_t at = (size_t)snprintf(out, cap, "[");
    for (const char *p = dims; *p && at < cap; p++)
        at += (size_t)(*p == ',' ? snprintf(out + at, cap - at, ", ")
                                 : snprintf(out + at, cap - at, "%c", *p));
    if (at < cap)
        snprintf(out + at, cap - at, "]");
}

Test(tfcli, list_shows_every_entry_as_the_independent_reader_saw_it)
{
    static tsv_row rows[512];
    for (size_t i = 0; i < NREAL; i++) {
        size_t n = read_rows(&REAL[i], rows, sizeof rows / sizeof rows[0]);
        cr_assert_gt(n, 0, "no rows for %s", REAL[i].folder);
        size_t width = 4, kept = 0;
        unsigned long long total = 0;
        for (size_t k = 0; k < n; k++)
            if (st_dtype(rows[k].dtype) != NULL && strlen(rows[k].name) > width)
                width = strlen(rows[k].name);
        size_t cap = 200 * n + 200, at = 0;
        char *want = malloc(cap), *notes = malloc(cap);
        notes[0] = '\0';
        at += (size_t)snprintf(want + at, cap - at, "%-*s  %-11s  %-20s  %s\n", (int)width, "NAME",
                               "DTYPE", "SHAPE", "BYTES");
        for (size_t k = 0; k < n; k++) {
            const char *dt = st_dtype(rows[k].dtype);
            if (dt == NULL) { /* the real bundles leave out only the object graph */
                cr_expect_str_eq(rows[k].name, "_CHECKPOINTABLE_OBJECT_GRAPH");
                snprintf(notes, cap, "left out: %s (the TF2 object graph)\n", rows[k].name);
                continue;
            }
            char shape[256];
            shape_text(rows[k].dims, shape, sizeof shape);
            at += (size_t)snprintf(want + at, cap - at, "%-*s  %-11s  %-20s  %llu\n", (int)width,
                                   rows[k].name, dt, shape, rows[k].size);
            kept++;
            total += rows[k].size;
        }
        char input[1024], summary[128];
        real_path(&REAL[i], ".index", input, sizeof input);
        snprintf(summary, sizeof summary, "%zu tensors, %llu bytes", kept, total);
        tr_result r = RUN("--list", input);
        cr_expect_eq(r.code, 0, "%s: %s", input, r.err);
        cr_expect(strncmp(r.out, want, at) == 0, "%s: --list rows differ:\n%s\nwanted:\n%s", input,
                  r.out, want);
        if (strlen(r.out) > at) {
            cr_expect(strncmp(r.out + at, summary, strlen(summary)) == 0, "%s: summary %s", input,
                      r.out + at);
            const char *end = strchr(r.out + at, '\n');
            cr_expect(end != NULL && strstr(end, ", root: (top level)") == NULL);
            cr_expect_str_eq(end ? end + 1 : "", notes, "%s: notes", input);
        }
        tr_free(&r);
        free(want);
        free(notes);
    }
}

/* Keras metrics share the full names "count" and "total": those keep
 * their keys, less the TF2 suffix. */
Test(tfcli, tf_names_name_by_the_object_graph)
{
    char input[1024];
    real_path(&REAL[1], "", input, sizeof input);
    tr_result r = RUN("--list", "--tf-names", input);
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "NAME                       DTYPE        SHAPE                 BYTES\n"
                            "keras_api/metrics/0/count  F32          []                    4\n"
                            "keras_api/metrics/0/total  F32          []                    4\n"
                            "keras_api/metrics/1/count  F32          []                    4\n"
                            "keras_api/metrics/1/total  F32          []                    4\n"
                            "conv2d/bias                F32          [32]                  128\n"
                            "Adam/conv2d/bias/m         F32          [32]                  128\n"
                            "Adam/conv2d/bias/v         F32          [32]                  128\n"
                            "conv2d/kernel              F32          [3, 3, 1, 32]         1152\n"
                            "Adam/conv2d/kernel/m       F32          [3, 3, 1, 32]         1152\n"
                            "Adam/conv2d/kernel/v       F32          [3, 3, 1, 32]         1152\n"
                            "conv2d_1/bias              F32          [64]                  256\n"
                            "Adam/conv2d_1/bias/m       F32          [64]                  256\n"
                            "Adam/conv2d_1/bias/v       F32          [64]                  256\n"
                            "conv2d_1/kernel            F32          [3, 3, 32, 64]        73728\n"
                            "Adam/conv2d_1/kernel/m     F32          [3, 3, 32, 64]        73728\n"
                            "Adam/conv2d_1/kernel/v     F32          [3, 3, 32, 64]        73728\n"
                            "conv2d_2/bias              F32          [64]                  256\n"
                            "Adam/conv2d_2/bias/m       F32          [64]                  256\n"
                            "Adam/conv2d_2/bias/v       F32          [64]                  256\n"
                            "conv2d_2/kernel            F32          [3, 3, 64, 64]        147456\n"
                            "Adam/conv2d_2/kernel/m     F32          [3, 3, 64, 64]        147456\n"
                            "Adam/conv2d_2/kernel/v     F32          [3, 3, 64, 64]        147456\n"
                            "dense/bias                 F32          [5]                   20\n"
                            "Adam/dense/bias/m          F32          [5]                   20\n"
                            "Adam/dense/bias/v          F32          [5]                   20\n"
                            "dense/kernel               F32          [4096, 5]             81920\n"
                            "Adam/dense/kernel/m        F32          [4096, 5]             81920\n"
                            "Adam/dense/kernel/v        F32          [4096, 5]             81920\n"
                            "Adam/beta_1                F32          []                    4\n"
                            "Adam/beta_2                F32          []                    4\n"
                            "Adam/decay                 F32          []                    4\n"
                            "Adam/iter                  I64          []                    8\n"
                            "Adam/learning_rate         F32          []                    4\n"
                            "33 tensors, 914788 bytes (893.3 KiB), root: (top level)\n"
                            "left out: _CHECKPOINTABLE_OBJECT_GRAPH (the TF2 object graph)\n");
    tr_free(&r);
}

/* ---- naming the input and the output -------------------------------------------------------- */

Test(tfcli, prefix_form_writes_beside_the_index_and_is_then_up_to_date)
{
    copy_bundle(&REAL[0], 1, "k", "bert_model.ckpt");
    tr_result r = RUN_IN_DIR("k/bert_model.ckpt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    const char *said = "ckpt2safetensors: k/bert_model.ckpt -> k/bert_model.safetensors: "
                       "139 tensors, 22.5 KiB in ";
    cr_expect(strncmp(r.err, said, strlen(said)) == 0, "%s", r.err);
    tr_free(&r);
    char *out = tu_path(dir, "k/bert_model.safetensors");
    expect_file_is(out, "fixtures/tf/realdata/keras_bert_saver_tf111.expected");
    free(out);

    r = RUN_IN_DIR("k/bert_model.ckpt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "ckpt2safetensors: k/bert_model.ckpt -> k/bert_model.safetensors: "
                            "skipped (up to date)\n");
    tr_free(&r);
    r = RUN_IN_DIR("k/bert_model.ckpt.index");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "ckpt2safetensors: k/bert_model.ckpt.index -> "
                            "k/bert_model.safetensors: skipped (up to date)\n");
    tr_free(&r);

    r = RUN_IN_DIR("k/bert_model");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: k/bert_model: cannot open: "
                            "No such file or directory\n");
    tr_free(&r);
    cr_expect_eq(tu_count_entries(dir), 1);
}

static int exists_in_dir(const char *rel)
{
    char *p = tu_path(dir, rel);
    int yes = tu_exists(p);
    free(p);
    return yes;
}

/* A tree with a bundle, a SavedModel variables/ folder and an .index file
 * that is no checkpoint. */
static void bundle_tree(void)
{
    copy_bundle(&REAL[0], 1, "t/bert", "bert_model.ckpt");
    copy_bundle(&REAL[2], 1, "t/saved/variables", "variables");
    char *junk = tu_path(dir, "t/search.index");
    cr_assert_eq(tu_write(junk, "not a table, whatever its name", 30), 0);
    free(junk);
}

Test(tfcli, recursive_writes_one_file_per_bundle)
{
    bundle_tree();
    tr_result r = RUN_IN_DIR("-q", "--json", "-r", "t");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_empty(r.err);
    const char *first = strstr(r.out, "{\"input\":\"t/bert/bert_model.ckpt.index\","
                                      "\"output\":\"t/bert/bert_model.safetensors\","
                                      "\"status\":\"converted\",\"verdict\":\"safe\","
                                      "\"tensors\":139,");
    const char *second = strstr(r.out, "{\"input\":\"t/saved/variables/variables.index\","
                                       "\"output\":\"t/saved/variables/variables.safetensors\","
                                       "\"status\":\"converted\",\"verdict\":\"safe\","
                                       "\"tensors\":24,");
    cr_expect(first != NULL && second != NULL, "%s", r.out); /* in the order they finish */
    size_t lines = 0;
    for (const char *p = r.out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    cr_expect_eq(lines, 3, "%s", r.out); /* and the summary */
    cr_expect(strstr(r.out, "\n{\"summary\":{\"files\":2,\"converted\":2,") != NULL, "%s", r.out);
    tr_free(&r);
    char *a = tu_path(dir, "t/bert/bert_model.safetensors");
    char *b = tu_path(dir, "t/saved/variables/variables.safetensors");
    expect_file_is(a, "fixtures/tf/realdata/keras_bert_saver_tf111.expected");
    expect_file_is(b, "fixtures/tf/realdata/tfr_bert_lite_tf2_snappy.expected");
    free(a);
    free(b);
    cr_expect(!exists_in_dir("t/search.safetensors"));
    cr_expect_eq(tu_count_entries(dir), 1);
    char *t = tu_path(dir, "t"), *bert = tu_path(dir, "t/bert");
    char *vars = tu_path(dir, "t/saved/variables");
    cr_expect_eq(tu_count_entries(t), 3);    /* bert, saved, search.index */
    cr_expect_eq(tu_count_entries(bert), 3); /* index, shard, output */
    cr_expect_eq(tu_count_entries(vars), 3);
    free(t);
    free(bert);
    free(vars);
}

Test(tfcli, shard_and_jobs_split_the_bundles)
{
    bundle_tree();
    tr_result r = RUN_IN_DIR("-q", "-j", "2", "--shard", "2/2", "-r", "t");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    cr_expect(!exists_in_dir("t/bert/bert_model.safetensors"));
    cr_expect(exists_in_dir("t/saved/variables/variables.safetensors"));
    r = RUN_IN_DIR("-q", "--shard", "1/2", "-r", "t");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    char *a = tu_path(dir, "t/bert/bert_model.safetensors");
    expect_file_is(a, "fixtures/tf/realdata/keras_bert_saver_tf111.expected");
    free(a);
}

/* ---- judging ------------------------------------------------------------------------------- */

Test(tfcli, scan_says_safe_with_no_globals)
{
    char in[NREAL][1024], want[4096];
    size_t at = 0;
    for (size_t i = 0; i < NREAL; i++) {
        real_path(&REAL[i], ".index", in[i], sizeof in[i]);
        at += (size_t)snprintf(want + at, sizeof want - at,
                               "%s: safe (TensorFlow bundle): 0 globals, none refused\n", in[i]);
    }
    tr_result r = RUN("--scan", in[0], in[1], in[2]);
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, want);
    tr_free(&r);
    r = RUN("--scan", "--json", "fixtures/tf/good/multi");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "{\"file\":\"fixtures/tf/good/multi\",\"verdict\":\"safe\","
                            "\"format\":\"TensorFlow bundle\",\"error\":null,\"globals\":[],"
                            "\"findings\":[],\"damage\":[]}\n");
    tr_free(&r);
}

#define BADCRC "fixtures/tf/good/badcrc.index"
#define BADCRC_SHARD "fixtures/tf/good/badcrc.data-00000-of-00001"

Test(tfcli, a_wrong_crc_fails_scan_conversion_and_verify)
{
    tr_result r = RUN("--scan", BADCRC);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.out, BADCRC ": corrupt: " BADCRC_SHARD ": 'b': CRC-32C mismatch "
                                   "(index 0x12345678, data 0x6b970a62)\n"
                                   "  damage     " BADCRC_SHARD ": 'b': CRC-32C mismatch "
                                   "(index 0x12345678, data 0x6b970a62)\n");
    tr_free(&r);
    char *out = tu_path(dir, "out.safetensors");
    const char *refused = "ckpt2safetensors: error: " BADCRC ": "
                          "tensor 'b': " BADCRC_SHARD ": 'b': CRC-32C mismatch (index says "
                          "0x12345678, data gives 0x6b970a62): the file was altered or "
                          "damaged\n";
    r = RUN("-o", out, BADCRC);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, refused);
    tr_free(&r);
    r = RUN("--verify", "--dtype", "f16", "-o", out, BADCRC);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, refused);
    tr_free(&r);
    cr_expect_eq(tu_count_entries(dir), 0, "a file was left behind");
    /* the good tensor alone converts: only the bytes written are checked */
    r = RUN("-q", "--include", "a", "-o", out, BADCRC);
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    free(out);
}

/* The message the program prints for a hostile index: its EXPECTED.tsv
 * message less the index's own path (the program names the input), or
 * for a file with no table magic at its end, what the last reader says. */
static void hostile_message(const char *name, const char *msg, char *out, size_t cap)
{
    char input[2200], lead[2300];
    snprintf(input, sizeof input, "fixtures/tf/hostile/%s.index", name);
    snprintf(lead, sizeof lead, "%s: ", input);
    if (strcmp(name, "truncated") == 0 || strcmp(name, "bad_magic") == 0)
        msg = "not a PyTorch checkpoint: not a zip archive";
    else if (strncmp(msg, lead, strlen(lead)) == 0)
        msg += strlen(lead);
    snprintf(out, cap, "ckpt2safetensors: error: %s: %s\n", input, msg);
}

Test(tfcli, hostile_indexes_fail_with_their_message_and_leave_nothing)
{
    FILE *f = fopen("fixtures/tf/hostile/EXPECTED.tsv", "r");
    cr_assert_not_null(f);
    char line[2048];
    int rows = 0;
    char *out = tu_path(dir, "out.safetensors");
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab);
        *tab = '\0';
        char input[2200], want[4600];
        snprintf(input, sizeof input, "fixtures/tf/hostile/%s.index", line);
        hostile_message(line, tab + 1, want, sizeof want);
        tr_result r = RUN("-o", out, input);
        cr_expect_eq(r.code, 1, "%s: exit %d", line, r.code);
        cr_expect_str_eq(r.err, want, "%s", line);
        cr_expect_eq(tu_count_entries(dir), 0, "%s left a file behind", line);
        tr_free(&r);
        r = RUN("-q", "--scan", input);
        cr_expect_eq(r.code, 1, "%s: scan exit %d", line, r.code);
        cr_expect(strstr(r.out, ": unreadable: ") != NULL, "%s: %s", line, r.out);
        tr_free(&r);
        rows++;
    }
    fclose(f);
    free(out);
    cr_expect_eq(rows, 27);
}

Test(tfcli, what_cannot_be_converted_says_why)
{
    char *out = tu_path(dir, "out.safetensors");
    static const struct {
        const char *opt, *input;
        int code;
        const char *msg;
    } CASES[] = {
        {"--key", "fixtures/tf/good/multi", 2,
         "--key 'model': a TensorFlow checkpoint has no key paths to choose a root from; "
         "its tensors are all converted"},
        {NULL, "fixtures/tf/good/unsupported.index", 1,
         "no tensor safetensors can hold in this TensorFlow checkpoint (left out: text "
         "(dtype string); z (dtype complex128))"},
        {"--tf-names", "fixtures/tf/good/badgraph", 1, "object graph: 'nope' names no entry"},
        {NULL, "fixtures/tf/v1/model.ckpt-1", 1,
         "a V1 checkpoint (pre-2016 format, one file of tensor slices), not a V2 tensor "
         "bundle: not supported"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        tr_result r = CASES[i].opt == NULL ? RUN("-o", out, CASES[i].input)
                      : strcmp(CASES[i].opt, "--key") == 0
                          ? RUN("--list", "--key", "model", CASES[i].input)
                          : RUN(CASES[i].opt, "-o", out, CASES[i].input);
        char want[1024];
        snprintf(want, sizeof want, "ckpt2safetensors: error: %s: %s\n", CASES[i].input,
                 CASES[i].msg);
        cr_expect_eq(r.code, CASES[i].code, "%s: exit %d", CASES[i].input, r.code);
        cr_expect_str_eq(r.err, want);
        cr_expect_eq(tu_count_entries(dir), 0);
        tr_free(&r);
    }
    /* without --tf-names the object graph is not read */
    tr_result r = RUN("-q", "-o", out, "fixtures/tf/good/badgraph");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    free(out);
}

/* ---- options ------------------------------------------------------------------------------- */

Test(tfcli, generated_bundle_converts_exactly_and_lists_what_is_left_out)
{
    char *out = tu_path(dir, "out.safetensors");
    tr_result r = RUN("-q", "-o", out, "fixtures/tf/good/multi.index");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    expect_file_is(out, "fixtures/tf/good/multi.expected");
    r = RUN("-q", "-f", "--tf-names", "-o", out, "fixtures/tf/good/multi");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    expect_file_is(out, "fixtures/tf/good/multi.tf-names.expected");
    free(out);
    r = RUN("--list", "--tf-names", "fixtures/tf/good/multi");
    cr_expect_eq(r.code, 0, "%s", r.err);
    const char *tail = "dense/kernel        F32          [2, 2]                16\n"
                       "scalar              F32          []                    4\n"
                       "21 tensors, 374 bytes, root: (top level)\n"
                       "left out: _CHECKPOINTABLE_OBJECT_GRAPH (the TF2 object graph)\n"
                       "left out: c128 (dtype complex128)\n"
                       "left out: part (a partitioned variable, in 2 slices)\n"
                       "left out: text (dtype string)\n";
    size_t n = strlen(r.out), k = strlen(tail);
    cr_expect(n >= k && strcmp(r.out + n - k, tail) == 0, "%s", r.out);
    tr_free(&r);
}

Test(tfcli, dtype_filters_verify_and_json_work)
{
    char *out = tu_path(dir, "out.safetensors");
    tr_result r = RUN("-q", "--verify", "--dtype", "f16", "--exclude", "dtypes/*", "-o", out,
                      "fixtures/tf/good/multi");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    r = RUN("--list", out);
    cr_expect_str_eq(r.out,
                     "NAME                                           DTYPE        SHAPE      "
                     "           BYTES\n"
                     "empty                                          F16          [0, 4]     "
                     "           0\n"
                     "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE  F16          [2, 2]     "
                     "           8\n"
                     "scalar                                         F16          []         "
                     "           2\n"
                     "3 tensors, 10 bytes\n"
                     "metadata: format=pt\n"
                     "metadata: ckpt2safetensors.options=--exclude=dtypes/* --dtype=F16\n");
    tr_free(&r);
    r = RUN("-q", "-f", "--json", "--include", "dtypes/i*", "-o", out, "fixtures/tf/good/multi");
    cr_expect_eq(r.code, 0, "%s", r.err);
    char head[1024];
    /* 394 bytes before the options record ,"ckpt2safetensors.options":"--include=dtypes/i*"
     * (49 bytes) was added; 48 more once the header is padded to 8 again */
    snprintf(head, sizeof head,
             "{\"input\":\"fixtures/tf/good/multi\",\"output\":\"%s\","
             "\"status\":\"converted\",\"verdict\":\"safe\",\"tensors\":4,\"bytes\":442,",
             out);
    cr_expect(strncmp(r.out, head, strlen(head)) == 0, "%s", r.out);
    tr_free(&r);
    free(out);
}

/* The index is opened once and each shard once; no path is looked up
 * again after it was opened (strace). */
Test(tfcli, every_file_of_the_bundle_opened_once)
{
    const char *strace = "/usr/bin/strace";
    if (access(strace, X_OK) != 0)
        cr_skip_test("no %s", strace);
    /* LeakSanitizer cannot run under ptrace: the sanitizer build would fail */
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    char *out = tu_path(dir, "o.safetensors"), *log = tu_path(dir, "trace");
    tr_result r = tr_finish(tr_start(strace, dir, NULL,
                                     ARGS("-f", "-qq", "-e", "trace=%file", "-o", log, tr_bin(),
                                          "-q", "-o", out, "fixtures/tf/good/multi")),
                            dir);
    cr_assert_eq(r.code, 0, "%s", r.err);
    static const char *const FILES[] = {"\"fixtures/tf/good/multi.index\"",
                                        "\"fixtures/tf/good/multi.data-00000-of-00003\"",
                                        "\"fixtures/tf/good/multi.data-00001-of-00003\"",
                                        "\"fixtures/tf/good/multi.data-00002-of-00003\""};
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
        FILE *f = fopen(log, "r");
        cr_assert_not_null(f);
        char line[4096];
        int opens = 0, after = 0;
        while (fgets(line, sizeof line, f) != NULL) {
            if (strstr(line, FILES[i]) == NULL)
                continue;
            if (opens > 0)
                after++;
            if (strstr(line, "open") != NULL)
                opens++;
        }
        fclose(f);
        cr_expect_eq(opens, 1, "%s was opened %d times", FILES[i], opens);
        cr_expect_eq(after, 0, "%s was used %d times after it was opened", FILES[i], after);
    }
    tr_free(&r);
    free(out);
    free(log);
}

/* ---- the same through the public API ---------------------------------------------------------- */

Test(tfapi, open_maps_a_bundle_by_its_prefix)
{
    c2s_open_options o = {0};
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    cr_assert_eq(c2s_open("fixtures/tf/good/multi", &o, &ck, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(c2s_tensor_count(ck), 21);
    cr_expect_eq(c2s_storage_count(ck), 21);
    cr_expect_eq(c2s_note_count(ck), 4);
    cr_expect_str_eq(c2s_note_at(ck, 2), "left out: part (a partitioned variable, in 2 slices)");
    cr_expect_str_eq(c2s_root(ck), "");
    c2s_tensor_info t = c2s_tensor_at(ck, 19);
    cr_expect_str_eq(t.name, "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE");
    cr_expect(t.supported && t.dtype == C2S_F32 && t.ndim == 2 && t.shape[0] == 2 &&
              t.shape[1] == 2 && t.nbytes == 16);
    c2s_close(ck);

    o.tf_names = 1;
    cr_assert_eq(c2s_open("fixtures/tf/good/multi.index", &o, &ck, &err), C2S_OK, "%s", err.msg);
    cr_expect_str_eq(c2s_tensor_at(ck, 19).name, "dense/kernel");
    cr_expect_str_eq(c2s_tensor_at(ck, 20).name, "scalar"); /* its full name is empty */
    c2s_close(ck);

    o.key = "dtypes";
    cr_expect_eq(c2s_open("fixtures/tf/good/multi.index", &o, &ck, &err), C2S_ERR_USAGE);
    cr_expect_null(ck);
    cr_expect_eq(err.rule, C2S_RULE_KEY);
}

Test(tfapi, scan_reports_the_format_and_crc_findings)
{
    c2s_report rep;
    cr_expect_eq(c2s_scan("fixtures/tf/good/multi", NULL, &rep), C2S_OK, "%s", rep.error.msg);
    cr_expect_eq(rep.verdict, C2S_VERDICT_SAFE);
    cr_expect_str_eq(rep.format, "TensorFlow bundle");
    cr_expect_eq(rep.nglobals, 0);
    cr_expect_eq(rep.findings.n, 0);
    c2s_report_free(&rep);
    cr_expect_eq(c2s_scan("fixtures/tf/good/badcrc.index", NULL, &rep), C2S_ERR_INPUT);
    cr_expect_eq(rep.verdict, C2S_VERDICT_CORRUPT);
    cr_expect_eq(rep.findings.n, 0);
    cr_expect_eq(rep.damage.n, 1);
    c2s_report_free(&rep);
    cr_expect_eq(c2s_scan("fixtures/tf/hostile/shard_past.index", NULL, &rep), C2S_ERR_INPUT);
    cr_expect_eq(rep.verdict, C2S_VERDICT_UNREADABLE);
    cr_expect_str_eq(rep.error.msg, "'far': shard_id 5 is not below num_shards 1");
    c2s_report_free(&rep);
}
