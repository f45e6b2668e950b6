/*
 * test_cli.c - the ckpt2safetensors program as users run it.
 *
 * Runs the built binary ($C2S_BIN, default ./ckpt2safetensors) from the
 * repository root on the committed fixtures: every good fixture must give
 * exactly its .expected.safetensors file; every bad fixture must exit 1 with
 * exactly the expected message and leave no file at all.  Also: usage
 * errors (exit 2), output naming, -f, --list, and Ctrl-C in the middle of a
 * conversion.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>

#include "pickle_builder.h"
#include "run_util.h"
#include "test_util.h"
#include "zip_builder.h"

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

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 60);

typedef tr_result run_result;

static void run_free(run_result *r)
{
    tr_free(r);
}

/* Start the program with args (NULL-terminated), output to files in dir. */
static pid_t start(const char *const *args)
{
    return tr_start(tr_bin(), dir, NULL, args);
}

static run_result finish(pid_t pid)
{
    return tr_finish(pid, dir);
}

#define RUN(...) finish(start((const char *const[]){__VA_ARGS__, NULL}))

/* Entries in dir, the captured output files aside. */
static int files_left(void)
{
    return tu_count_entries(dir);
}

static int has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcmp(name + n - e, ext) == 0;
}

/* fixtures/good/NAME.args: one argument per line. */
static size_t read_args(const char *stem, char lines[8][128], const char **args)
{
    char path[512];
    snprintf(path, sizeof path, "%s.args", stem);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (f == NULL)
        return 0;
    while (n < 8 && fgets(lines[n], sizeof lines[n], f)) {
        lines[n][strcspn(lines[n], "\n")] = '\0';
        args[n] = lines[n];
        n++;
    }
    fclose(f);
    return n;
}

/* Convert input with stem.args (and extra, NULL or an option): the output
 * must be stem.expected.safetensors byte for byte, but for the options
 * record stem.args adds (tu_strip_options_record). */
static void check_good(const char *input, const char *stem, const char *extra)
{
    char lines[8][128];
    const char *argv[16];
    size_t n = 0;
    argv[n++] = "-q";
    if (extra != NULL)
        argv[n++] = extra;
    n += read_args(stem, lines, argv + n);
    char *out = tu_path(dir, "out.safetensors");
    argv[n++] = "-o";
    argv[n++] = out;
    argv[n++] = input;
    argv[n] = NULL;
    run_result r = finish(start(argv));
    cr_expect_eq(r.code, 0, "%s: exit %d: %s", input, r.code, r.err);
    cr_expect_str_empty(r.err, "%s: -q printed: %s", input, r.err);
    char expected[512];
    snprintf(expected, sizeof expected, "%s.expected.safetensors", stem);
    size_t got_len = 0, want_len = 0;
    unsigned char *got = tu_read_output(out, &got_len);
    unsigned char *want = tu_read(expected, &want_len);
    cr_assert_not_null(want, "%s missing", expected);
    cr_expect(got != NULL && got_len == want_len && memcmp(got, want, want_len) == 0,
              "%s: output differs from %s", input, expected);
    free(got);
    free(want);
    unlink(out);
    free(out);
    run_free(&r);
}

Test(cli, every_good_fixture_converts_to_its_expected_bytes)
{
    DIR *d = opendir("fixtures/good");
    cr_assert_not_null(d, "run from the repository root");
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(d)) != NULL) {
        const char *exts[] = {".pt", ".ckpt", ".pth", ".bin"};
        for (size_t i = 0; i < 4; i++) {
            if (!has_ext(e->d_name, exts[i]))
                continue;
            char input[512], stem[512];
            snprintf(input, sizeof input, "fixtures/good/%s", e->d_name);
            snprintf(stem, sizeof stem, "fixtures/good/%.*s",
                     (int)(strlen(e->d_name) - strlen(exts[i])), e->d_name);
            check_good(input, stem, NULL);
            check_good(input, stem, "--direct-io=always");
            check_good(input, stem, "--direct-io=never");
            seen++;
        }
    }
    closedir(d);
    cr_assert_geq(seen, 24, "only %d good fixtures found", seen);
    check_good("fixtures/sample.ckpt", "fixtures/sample", NULL);
}

typedef struct bad_case {
    const char *file;
    const char *message;
    int code;
} bad_case;

static const bad_case BAD[] = {
    {"bad_persid.pt",
     "tensor 'a': bad persistent id (expected ('storage', class, key, location, numel))", 1},
    {"billion_laughs.pt",
     "object graph too large: more than 100248 nodes visited (deeply shared sub-structures?)", 1},
    {"complex128.pt",
     "tensor 'z' is a complex128, which safetensors cannot store (--skip-unsupported drops such tensors)",
     1},
    {"crc_mismatch.pt",
     "archive/data/0: CRC-32 mismatch (archive says 21c0b223, data gives a815b377): the file was altered or damaged",
     1},
    {"deep_nesting.pt",
     "nesting deeper than 1000 levels at '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0....' (raise with --max-depth)",
     1},
    {"duplicate_name.pt", "two tensors are both named 'a.b'", 1},
    {"empty.ckpt", "file is empty", 1},
    {"memo_undefined.pt",
     "archive/data.pkl: pickle: memo index 127 not defined (BINGET at offset 173)", 1},
    {"metadata_name.pt", "a tensor is named '__metadata__', a name safetensors reserves", 1},
    {"missing_storage.pt", "storage record archive/data/0 is missing", 1},
    {"negative_size.pt", "tensor 'a': negative size -2", 1},
    {"negative_stride.pt", "tensor 'a': negative stride -1", 1},
    {"no_data_pkl.pt", "no data.pkl record: not a PyTorch checkpoint", 1},
    {"no_stop.pt", "archive/data.pkl: pickle: no STOP opcode", 1},
    {"no_tensors.pt", "no tensors found under the top level", 1},
    {"not_zip.pt", "not a PyTorch checkpoint: not a zip archive", 1},
    {"numel_mismatch.pt", "storage record archive/data/0 has 48 bytes, the pickle declares 64", 1},
    {"numel_overflow.pt", "tensor 'a': element count overflows", 1},
    {"quantized.pt",
     "tensor 'q' is a quantized tensor, which safetensors cannot store as such: it can be dequantized to F32 values, or written raw (its integers, scale and zero point) (--quantized dequantize or --quantized raw; --skip-unsupported drops such tensors)",
     1},
    {"rebuild_too_few_args.pt", "tensor 'a': rebuild call has too few arguments", 1},
    {"short_storage.pt", "storage record archive/data/0 has 40 bytes, the pickle declares 64", 1},
    {"stack_underflow.pt", "archive/data.pkl: pickle: stack underflow in SETITEM at offset 13", 1},
    {"truncated_pickle.pt",
     "archive/data.pkl: pickle: truncated: BINUNICODE at offset 51 needs 7 bytes, 3 left", 1},
    {"truncated_zip.pt", "corrupt zip archive: no end of central directory record (truncated?)", 1},
    {"two_data_pkl.pt",
     "refused by the safety policy: several data.pkl records ('archive/' and 'other/')", 3},
    {"unknown_opcode.pt", "archive/data.pkl: pickle: unknown opcode 0xff at offset 5", 1},
    /* torch.FooStorage is only named, yet unknown all the same */
    {"unknown_storage_class.pt",
     "refused by the safety policy: unknown global torch.FooStorage (referenced) in "
     "archive/data.pkl at offset 64; to accept it as data: --allow-global torch.FooStorage",
     3},
    {"view_out_of_bounds.pt",
     "tensor 'a': view (offset 10, shape and strides) reaches past the end of storage '0' (64 bytes)",
     1},
};

Test(cli, every_bad_fixture_fails_with_its_reason_and_writes_nothing)
{
    size_t n = sizeof BAD / sizeof BAD[0];
    cr_assert_eq(n, 28);
    for (size_t i = 0; i < n; i++) {
        char input[256], want[1024];
        snprintf(input, sizeof input, "fixtures/bad/%s", BAD[i].file);
        char *out = tu_path(dir, "out.safetensors");
        run_result r = RUN("-o", out, input);
        snprintf(want, sizeof want, "ckpt2safetensors: error: %s: %s\n", input, BAD[i].message);
        cr_expect_eq(r.code, BAD[i].code, "%s: exit %d", input, r.code);
        cr_expect_str_eq(r.err, want, "%s", input);
        cr_expect_str_empty(r.out, "%s", input);
        cr_expect_eq(files_left(), 0, "%s left a file behind", input);
        run_free(&r);
        free(out);
    }
}

/* Copy a fixture into dir under name; returns the new path. */
static char *copy_fixture(const char *fixture, const char *name)
{
    size_t n;
    unsigned char *b = tu_read(fixture, &n);
    cr_assert_not_null(b);
    char *p = tu_path(dir, name);
    cr_assert_eq(tu_write(p, b, n), 0);
    free(b);
    return p;
}

/* a (without its options record, if any) is b byte for byte. */
static void expect_same_file(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = tu_read_output(a, &na), *y = tu_read(b, &nb);
    cr_assert(x && y && na == nb && memcmp(x, y, na) == 0, "%s differs from %s", a, b);
    free(x);
    free(y);
}

Test(cli, default_output_name_and_notes)
{
    char *in = copy_fixture("fixtures/good/lightning.ckpt", "model.ckpt");
    run_result r = RUN(in);
    cr_assert_eq(r.code, 0, "%s", r.err);
    char *out = tu_path(dir, "model.safetensors");
    expect_same_file(out, "fixtures/good/lightning.expected.safetensors");
    char want[1024];
    snprintf(want, sizeof want,
             "ckpt2safetensors: %s: left out: optimizer_states (12 tensors)\n"
             "ckpt2safetensors: %s -> %s: 4 tensors, ",
             in, in, out);
    cr_assert(strncmp(r.err, want, strlen(want)) == 0, "stderr: %s", r.err);
    cr_assert_str_empty(r.out);
    run_free(&r);
    /* a name without a known extension gets .safetensors appended */
    char *odd = copy_fixture("fixtures/good/lightning.ckpt", "weights.data");
    r = RUN("-q", odd);
    cr_assert_eq(r.code, 0, "%s", r.err);
    char *odd_out = tu_path(dir, "weights.data.safetensors");
    cr_assert(tu_exists(odd_out));
    run_free(&r);
    free(in);
    free(out);
    free(odd);
    free(odd_out);
}

Test(cli, output_into_a_directory)
{
    char *in = copy_fixture("fixtures/good/tied.bin", "tied.bin");
    char *sub = tu_path(dir, "out");
    cr_assert_eq(mkdir(sub, 0755), 0);
    run_result r = RUN("-q", "-o", sub, in);
    cr_assert_eq(r.code, 0, "%s", r.err);
    char *out = tu_path(sub, "tied.safetensors");
    expect_same_file(out, "fixtures/good/tied.expected.safetensors");
    unlink(out);
    rmdir(sub);
    run_free(&r);
    free(in);
    free(sub);
    free(out);
}

/* Set path's modification time to t seconds after the epoch. */
static void set_mtime(const char *path, time_t t)
{
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0, "utimensat %s", path);
}

/* An output "keep" that exists before the run: older than the input, it
 * is an error; at least as new, the input is skipped.  Either way it is
 * left alone, and -f replaces it. */
static void existing_output(int older)
{
    char *in = copy_fixture("fixtures/good/parameters.pt", "p.pt");
    char *out = tu_path(dir, "p.safetensors");
    cr_assert_eq(tu_write(out, "keep", 4), 0);
    set_mtime(older ? out : in, 1000000000);
    run_result r = RUN(in);
    char want[1024];
    if (older)
        snprintf(want, sizeof want,
                 "ckpt2safetensors: error: %s: output exists and is older "
                 "than the input: %s (use -f to overwrite)\n",
                 in, out);
    else
        snprintf(want, sizeof want, "ckpt2safetensors: %s -> %s: skipped (up to date)\n", in, out);
    cr_assert_eq(r.code, older ? 1 : 0, "%s", r.err);
    cr_assert_str_eq(r.err, want);
    size_t n;
    unsigned char *b = tu_read(out, &n);
    cr_assert(n == 4 && memcmp(b, "keep", 4) == 0, "existing output was modified");
    free(b);
    run_free(&r);
    r = RUN("-q", "-f", in);
    cr_assert_eq(r.code, 0, "%s", r.err);
    expect_same_file(out, "fixtures/good/parameters.expected.safetensors");
    cr_assert_eq(files_left(), 2);
    run_free(&r);
    free(in);
    free(out);
}

Test(cli, existing_output_older_than_the_input_needs_force)
{
    existing_output(1);
}
Test(cli, existing_output_newer_than_the_input_is_skipped)
{
    existing_output(0);
}

Test(cli, output_over_input_is_refused_even_with_force)
{
    char *in = copy_fixture("fixtures/good/parameters.pt", "p.pt");
    run_result r = RUN("-f", "-o", in, in);
    char want[1024];
    snprintf(want, sizeof want,
             "ckpt2safetensors: error: %s: refusing to write the output over the input file\n", in);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, want);
    expect_same_file(in, "fixtures/good/parameters.pt");
    cr_assert_eq(files_left(), 1);
    run_free(&r);
    free(in);
}

Test(cli, list_prints_the_tensors_and_writes_nothing)
{
    char *in = copy_fixture("fixtures/good/lightning.ckpt", "l.ckpt");
    run_result r = RUN("--list", in);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "NAME          DTYPE        SHAPE                 BYTES\n"
                            "net.0.weight  F32          [5, 6]                120\n"
                            "net.0.bias    F32          [5]                   20\n"
                            "net.2.weight  F32          [3, 5]                60\n"
                            "net.2.bias    F32          [3]                   12\n"
                            "4 tensors, 212 bytes, root: state_dict\n"
                            "left out: optimizer_states (12 tensors)\n");
    cr_assert_str_empty(r.err);
    cr_assert_eq(files_left(), 1);
    run_free(&r);
    r = RUN("--list", "--key", "optimizer_states.0.state.1", in);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "NAME        DTYPE        SHAPE                 BYTES\n"
                            "step        F32          []                    4\n"
                            "exp_avg     F32          [5]                   20\n"
                            "exp_avg_sq  F32          [5]                   20\n"
                            "3 tensors, 44 bytes, root: optimizer_states.0.state.1\n");
    run_free(&r);
    free(in);
}

Test(cli, list_shows_unsupported)
{
    run_result r = RUN("--list", "fixtures/good/complex128_skip.pt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "NAME  DTYPE        SHAPE                 BYTES\n"
                            "keep  F32          [3]                   12\n"
                            "z     complex128 (unsupported)\n"
                            "idx   I32          [2]                   8\n"
                            "2 tensors, 20 bytes, root: (top level), 1 unsupported\n");
    run_free(&r);
}

/* --list of a safetensors file: a dtype the converter has no type for (F4,
 * packed sub-byte) is shown by its name, then the metadata. */
Test(cli, list_safetensors_with_a_sub_byte_dtype)
{
    static const char JSON[] = "{\"__metadata__\":{\"k\":\"v\"},"
                               "\"a\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[0,3]}}";
    unsigned char file[8 + sizeof JSON - 1 + 3] = {sizeof JSON - 1};
    memcpy(file + 8, JSON, sizeof JSON - 1);
    char *path = tu_path(dir, "f4.safetensors");
    cr_assert_eq(tu_write(path, file, sizeof file), 0);
    run_result r = RUN("--list", path);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "NAME  DTYPE        SHAPE                 BYTES\n"
                            "a     F4           [2, 3]                3\n"
                            "1 tensor, 3 bytes\n"
                            "metadata: k=v\n");
    run_free(&r);
    free(path);
}

Test(cli, skip_unsupported_warns)
{
    char *out = tu_path(dir, "o.safetensors");
    run_result r = RUN("--skip-unsupported", "-o", out, "fixtures/good/complex128_skip.pt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    const char *want = "ckpt2safetensors: warning: fixtures/good/complex128_skip.pt: "
                       "skipping tensor 'z' (complex128)\n";
    cr_assert(strncmp(r.err, want, strlen(want)) == 0, "stderr: %s", r.err);
    expect_same_file(out, "fixtures/good/complex128_skip.expected.safetensors");
    run_free(&r);
    free(out);
}

Test(cli, key_errors)
{
    char *out = tu_path(dir, "o.safetensors");
    run_result r = RUN("--key", "model.nope", "-o", out, "fixtures/good/key_nested.pt");
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "ckpt2safetensors: error: fixtures/good/key_nested.pt: --key "
                            "'model.nope': no entry 'nope' in the dict at 'model'\n");
    cr_assert_eq(files_left(), 0);
    run_free(&r);
    free(out);
}

Test(cli, pickle_size_limit)
{
    run_result r = RUN("--list", "--max-pickle-size", "100", "fixtures/sample.ckpt");
    cr_assert_eq(r.code, 1);
    cr_assert(strstr(r.err, "more than the limit of 100 (raise with --max-pickle-size)") != NULL,
              "%s", r.err);
    run_free(&r);
}

typedef struct usage_case {
    const char *args[4];
    const char *message;
} usage_case;

Test(cli, usage_errors_exit_2)
{
    static const usage_case cases[] = {
        {{NULL}, "no INPUT given (see --help)"},
        {{"--bogus", "x.pt", NULL}, "unknown option '--bogus' (see --help)"},
        {{"-z", "x.pt", NULL}, "unknown option '-z' (see --help)"},
        {{"--list", "-r", "d", NULL}, "--list takes FILEs, not -r"},
        {{"--list", "-o", "y", "x.pt"}, "--list writes nothing, so -o makes no sense with it"},
        {{"x.pt", "-o", NULL}, "option '-o' needs a value"},
        {{"--max-pickle-size", "lots", "x.pt", NULL},
         "--max-pickle-size takes a positive size such as 512M, not 'lots'"},
        {{"--key", "", "x.pt", NULL}, "--key needs a non-empty path"},
        {{"--direct-io", "sometimes", "x.pt", NULL},
         "--direct-io takes auto, always or never, not 'sometimes'"},
        {{"--scan", "--direct-io=never", "x.pt", NULL},
         "--scan writes nothing, so --direct-io makes no sense with it"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[6] = {0};
        for (size_t k = 0; k < 4 && cases[i].args[k]; k++)
            argv[k] = cases[i].args[k];
        run_result r = finish(start(argv));
        char want[512];
        snprintf(want, sizeof want, "ckpt2safetensors: error: %s\n", cases[i].message);
        cr_expect_eq(r.code, 2, "case %zu: exit %d", i, r.code);
        cr_expect_str_eq(r.err, want, "case %zu", i);
        run_free(&r);
    }
}

Test(cli, help_and_version)
{
    run_result r = RUN("--help");
    cr_assert_eq(r.code, 0);
    const char *usage = "Usage: ckpt2safetensors [OPTIONS] INPUT...\n";
    cr_assert(strncmp(r.out, usage, strlen(usage)) == 0);
    const char *opts[] = {"--output",
                          "--force",
                          "--key",
                          "--list",
                          "--skip-unsupported",
                          "--max-pickle-size",
                          "--max-objects",
                          "--max-memo",
                          "--max-stack",
                          "--max-string",
                          "--max-container",
                          "--max-depth",
                          "--quiet",
                          "--verbose",
                          "--help",
                          "--version",
                          "--recursive",
                          "--follow-symlinks",
                          "--jobs",
                          "--shard",
                          "--json",
                          "--dtype",
                          "--include",
                          "--exclude",
                          "--metadata",
                          "--training-metadata",
                          "--verify",
                          "--dry-run",
                          "--rm",
                          "ckpt2safetensors.options",
                          "Exit status"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        cr_expect(strstr(r.out, opts[i]) != NULL, "--help does not mention %s", opts[i]);
    run_free(&r);
    r = RUN("-V");
    cr_assert_eq(r.code, 0);
    cr_assert_str_eq(r.out, "ckpt2safetensors 0.1.0\n");
    run_free(&r);
}

/* A checkpoint large enough that a conversion is still running when the
 * signal arrives: one 192 MiB float storage. */
/* dir/name: one F32 tensor "w" of n elements, patterned. */
static char *f32_checkpoint(const char *name, size_t n)
{
    float *data = calloc(n, sizeof *data);
    cr_assert_not_null(data);
    for (size_t i = 0; i < n; i += 1021)
        data[i] = (float)i;
    pb p = {0};
    pb_proto(&p, 2);
    pb_empty_dict(&p);
    pb_str(&p, "w");
    pb_vec_f32(&p, "0", (int64_t)n);
    pb_setitem(&p);
    pb_stop(&p);
    char *in = tu_path(dir, name);
    const char *keys[] = {"0"};
    const void *d[] = {data};
    size_t lens[] = {n * sizeof *data};
    cr_assert_eq(zb_checkpoint(in, p.buf, p.len, 1, keys, d, lens), 0);
    free(data);
    pb_free(&p);
    return in;
}

static char *big_checkpoint(void)
{
    return f32_checkpoint("big.pt", 48u << 20);
}

/* -v says how much went around the page cache: with always, every whole
 * 1 MiB slot (here 4 MiB of the 4 MiB + header file), where the file
 * system has direct I/O; never: nothing, and the same bytes. */
Test(cli, verbose_tells_the_direct_io)
{
    char *in = f32_checkpoint("four.pt", 1u << 20);
    char *a = tu_path(dir, "a.safetensors"), *b = tu_path(dir, "b.safetensors");
    run_result r = finish(
        start((const char *const[]){"-v", "--direct-io=always", "-o", a, in, NULL}));
    cr_assert_eq(r.code, 0, "%s", r.err);
    char line[600];
    snprintf(line, sizeof line,
             "ckpt2safetensors: %s: 4.0 MiB of it written around the page cache (--direct-io)\n",
             in);
    cr_assert(strstr(r.err, ": root (top level), 1 tensor in 1 storage\n") != NULL, "%s", r.err);
    cr_assert(strstr(r.err, "1 tensor, 4.0 MiB in ") != NULL, "%s", r.err);
    if (tu_direct_io_works(dir))
        cr_assert(strstr(r.err, line) != NULL, "no direct I/O line in: %s", r.err);
    else
        cr_assert(strstr(r.err, "page cache") == NULL, "%s", r.err);
    run_free(&r);
    r = finish(start((const char *const[]){"-v", "--direct-io=never", "-o", b, in, NULL}));
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "page cache") == NULL, "%s", r.err);
    run_free(&r);
    expect_same_file(a, b);
    free(a);
    free(b);
    free(in);
}

/* Start a conversion of big.pt to big.safetensors under lim, stopped
 * while its output is unfinished; that output must be of kind want. */
static pid_t stopped_mid_write(const char *in, const char *out, const char *direct_io,
                               const tr_limits *lim, int want)
{
    pid_t pid = tr_start_limited(tr_bin(), dir, NULL,
                                 (const char *const[]){"-o", out, direct_io, in, NULL}, lim);
    int kind = tr_stop_mid_write(pid, dir);
    cr_assert_neq(kind, TR_NONE, "the output was never opened");
    cr_assert_eq(kind, want, "the output is %s",
                 kind == TR_NAMED ? "a named temporary file" : "an unnamed file");
    cr_assert_eq(tr_output_kind(pid, dir), kind, "the conversion ended before the signal");
    return pid;
}

/* Stop the process while its output is unfinished, deliver signo, let it
 * go on: it must die of that signal and leave nothing: an unnamed
 * (O_TMPFILE) output simply goes with the process, the named fallback's
 * temporary file is removed. */
static void interrupt_mid_conversion(int signo, const char *direct_io, int named)
{
    tr_limits lim = {.no_tmpfile = named};
    if (named && !tr_refusing_works())
        cr_skip_test("no seccomp here to refuse O_TMPFILE");
    char *in = big_checkpoint();
    char *out = tu_path(dir, "big.safetensors");
    int want = named || !tr_tmpfile_works(dir) ? TR_NAMED : TR_UNNAMED;
    pid_t pid = stopped_mid_write(in, out, direct_io, &lim, want);
    kill(pid, signo);
    kill(pid, SIGCONT);
    run_result r = finish(pid);
    cr_assert_eq(r.signo, signo, "expected death by signal %d, got exit %d sig %d (%s)", signo,
                 r.code, r.signo, r.err);
    cr_assert_eq(tu_exists(out), 0, "partial output left behind");
    cr_assert_eq(files_left(), 1, "a temporary file was left behind");
    run_free(&r);
    free(in);
    free(out);
}

Test(cli, sigint_leaves_no_file)
{
    interrupt_mid_conversion(SIGINT, "--direct-io=never", 0);
}

Test(cli, sigterm_leaves_no_file)
{
    interrupt_mid_conversion(SIGTERM, "--direct-io=never", 0);
}

Test(cli, sigint_during_direct_io_leaves_no_file)
{
    interrupt_mid_conversion(SIGINT, "--direct-io=always", 0);
}

/* Where the file system has no O_TMPFILE, the named temporary file. */
Test(cli, sigint_removes_the_named_temporary_file)
{
    interrupt_mid_conversion(SIGINT, "--direct-io=never", 1);
}

Test(cli, sigterm_during_direct_io_removes_the_named_temporary_file)
{
    interrupt_mid_conversion(SIGTERM, "--direct-io=always", 1);
}

/* SIGKILL cannot be caught: nothing is cleaned up, and with O_TMPFILE
 * nothing needs to be: the unnamed file goes with the process. */
Test(cli, sigkill_leaves_no_file)
{
    if (!tr_tmpfile_works(dir))
        cr_skip_test("no O_TMPFILE on the file system of %s", dir);
    char *in = big_checkpoint();
    char *out = tu_path(dir, "big.safetensors");
    tr_limits none = {0};
    pid_t pid = stopped_mid_write(in, out, "--direct-io=never", &none, TR_UNNAMED);
    kill(pid, SIGKILL);
    run_result r = finish(pid);
    cr_assert_eq(r.signo, SIGKILL, "exit %d sig %d (%s)", r.code, r.signo, r.err);
    cr_assert_eq(tu_exists(out), 0, "partial output left behind");
    cr_assert_eq(files_left(), 1, "a file was left behind");
    run_free(&r);
    free(in);
    free(out);
}

/* A write past the file size limit: with SIGXFSZ ignored, one line that
 * names the output and the limit, exit 1, nothing left; with O_TMPFILE or
 * the named file, through the cache or around it; at the last write, and
 * in the middle of a tensor (the message names no tensor: the failure is
 * the output's, not the tensor's). */
Test(cli, file_size_limit_is_a_clear_error)
{
    int seccomp = tr_refusing_works();
    const struct {
        const char *name;
        size_t floats;
        unsigned long limit;
    } cases[] = {{"mid.pt", 64u << 10, 65536}, {"long.pt", 4u << 20, 2u << 20}};
    const char *modes[] = {"--direct-io=never", "--direct-io=always"};
    for (size_t c = 0; c < 2; c++) {
        char *in = f32_checkpoint(cases[c].name, cases[c].floats);
        char *out = tu_path(dir, "mid.safetensors");
        char want[800];
        snprintf(want, sizeof want,
                 "ckpt2safetensors: error: %s: cannot write %s: File too large (the file size "
                 "limit, ulimit -f, is %lu bytes)\n",
                 in, out, cases[c].limit);
        for (int named = 0; named <= seccomp; named++) {
            for (size_t m = 0; m < 2; m++) {
                tr_limits lim = {.no_tmpfile = named, .fsize = cases[c].limit};
                pid_t pid = tr_start_limited(tr_bin(), dir, NULL,
                                             (const char *const[]){"-o", out, modes[m], in, NULL},
                                             &lim);
                run_result r = finish(pid);
                cr_expect_eq(r.code, 1, "%s named %d %s: exit %d sig %d", in, named, modes[m],
                             r.code, r.signo);
                cr_expect_str_eq(r.err, want, "%s named %d %s", in, named, modes[m]);
                cr_expect_eq(files_left(), 1 + (int)c, "%s named %d %s: a file was left behind", in,
                             named, modes[m]);
                run_free(&r);
            }
        }
        free(in);
        free(out);
    }
}

/* A user who may not link a descriptor itself (no CAP_DAC_READ_SEARCH):
 * the unnamed file is linked through /proc/self/fd, new or replacing. */
Test(cli, output_placed_without_the_capability)
{
    if (!tr_refusing_works())
        cr_skip_test("no seccomp here to refuse linkat(AT_EMPTY_PATH)");
    char *out = tu_path(dir, "s.safetensors");
    tr_limits lim = {.no_flink = 1};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"-q",
                              "--verify",
                              "-o",
                              out,
                              i ? "-f" : "fixtures/sample.ckpt",
                              i ? "fixtures/sample.ckpt" : NULL,
                              NULL};
        run_result r = finish(tr_start_limited(tr_bin(), dir, NULL, args, &lim));
        cr_assert_eq(r.code, 0, "run %d: %s", i, r.err);
        expect_same_file(out, "fixtures/sample.expected.safetensors");
        cr_assert_eq(files_left(), 1, "run %d left a file behind", i);
        run_free(&r);
    }
    free(out);
}

Test(cli, limit_options_are_applied)
{
    run_result r = RUN("--list", "--max-objects", "50", "fixtures/sample.ckpt");
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err,
                     "ckpt2safetensors: error: fixtures/sample.ckpt: archive/data.pkl: "
                     "pickle: limit exceeded: more than 50 objects (raise with --max-objects)\n");
    run_free(&r);
    r = RUN("--list", "--max-depth", "2", "fixtures/sample.ckpt");
    cr_assert_eq(r.code, 1);
    cr_assert(strstr(r.err, "nesting deeper than 2 levels at '") != NULL, "%s", r.err);
    run_free(&r);
    r = RUN("--list", "--max-depth", "0", "fixtures/sample.ckpt");
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "ckpt2safetensors: error: --max-depth takes a positive number such "
                            "as 64M, not '0'\n");
    run_free(&r);
    r = RUN("--list", "--max-objects", "1M", "--max-memo", "1M", "--max-stack", "64K",
            "--max-string", "1M", "--max-container", "1M", "fixtures/sample.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    run_free(&r);
}

/* The input is opened once, and its path is never looked up after that
 * (no stat or second open that could meet another file): strace shows it. */
Test(cli, input_path_opened_once)
{
    const char *strace = "/usr/bin/strace";
    if (access(strace, X_OK) != 0)
        cr_skip_test("no %s", strace);
    /* LeakSanitizer cannot run under ptrace: the sanitizer build would fail */
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    char *out = tu_path(dir, "o.safetensors"), *log = tu_path(dir, "trace");
    const char *bin = tr_bin();
    run_result r = finish(
        tr_start(strace, dir, NULL,
                 (const char *const[]){"-f", "-qq", "-e", "trace=%file", "-o", log, bin, "-q", "-o",
                                       out, "fixtures/sample.ckpt", NULL}));
    cr_assert_eq(r.code, 0, "%s", r.err);
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    char line[4096];
    int opens = 0, after = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "\"fixtures/sample.ckpt\"") == NULL)
            continue;
        if (opens > 0)
            after++;
        if (strstr(line, "open") != NULL)
            opens++;
    }
    fclose(f);
    cr_expect_eq(opens, 1, "the input was opened %d times", opens);
    cr_expect_eq(after, 0, "the input path was used %d times after it was opened", after);
    run_free(&r);
    free(out);
    free(log);
}
