/*
 * test_opts.c - the command line as tool_parse_args() reads it, called
 * directly (no binary run): what each option sets, --shard I/N, sizes and
 * counts, which options go together, the exact usage messages; and the
 * tool's words for the library's errors (tool_error_text) and the exit code
 * of a run (tool_tally_exit_code).
 *
 * Each parse() copies its words into a fresh argv that outlives the
 * tool_config pointing into it.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "tool/tool_convert.h"
#include "tool/tool_msgs.h"
#include "tool/tool_opts.h"
#include "tool/tool_report.h"
#include "tool/tool_select.h"

#define MAX_WORDS 16

typedef struct cmd {
    char *argv[MAX_WORDS + 2];
    tool_config cfg;
    c2s_error err;
    c2s_status st;
} cmd;

/* Parse "ckpt2safetensors" followed by the words up to NULL. */
static void parse_words(cmd *c, const char *first, ...)
{
    va_list ap;
    int argc = 0;
    memset(c, 0, sizeof *c);
    c->argv[argc++] = (char *)"ckpt2safetensors";
    va_start(ap, first);
    for (const char *w = first; w != NULL; w = va_arg(ap, const char *)) {
        cr_assert_lt(argc, MAX_WORDS + 1);
        c->argv[argc++] = (char *)w;
    }
    va_end(ap);
    c2s_error_clear(&c->err);
    c->st = tool_parse_args(argc, c->argv, &c->cfg, &c->err);
}
#define PARSE(c, ...) parse_words(c, __VA_ARGS__, (const char *)NULL)

static void expect_ok(cmd *c, const char *what)
{
    cr_expect_eq(c->st, C2S_OK, "%s: %s", what, c->err.msg);
}

static void expect_usage(cmd *c, const char *msg, const char *what)
{
    cr_expect_eq(c->st, C2S_ERR_USAGE, "%s: status %d", what, (int)c->st);
    cr_expect_str_eq(c->err.msg, msg, "%s", what);
}

static void done(cmd *c)
{
    tool_config_free(&c->cfg);
}

/* ---- what options set ------------------------------------------------------------ */

Test(opts, inputs_and_flags)
{
    cmd c;
    PARSE(&c, "a.pt", "-f", "b.ckpt", "-r", "d1", "--recursive", "d2", "-q", "-v", "--key", "model",
          "--skip-unsupported", "--follow-symlinks", "--permissive", "c.bin");
    expect_ok(&c, "parse");
    cr_expect_eq(c.cfg.ninputs, 3);
    cr_expect_str_eq(c.cfg.input, "a.pt");
    cr_expect_str_eq(c.cfg.inputs[1], "b.ckpt");
    cr_expect_str_eq(c.cfg.inputs[2], "c.bin");
    cr_expect_eq(c.cfg.nroots, 2);
    cr_expect_str_eq(c.cfg.roots[0], "d1");
    cr_expect_str_eq(c.cfg.roots[1], "d2");
    cr_expect_str_eq(c.cfg.key, "model");
    cr_expect(c.cfg.force && c.cfg.quiet && c.cfg.verbose && c.cfg.skip_unsupported &&
              c.cfg.follow_symlinks && c.cfg.permissive);
    cr_expect(!c.cfg.scan && !c.cfg.list && !c.cfg.json && !c.cfg.to_stdout);
    cr_expect_eq(tool_is_batch(&c.cfg), 1);
    done(&c);
}

Test(opts, name_and_quantized)
{
    cmd c;
    PARSE(&c, "t.pt", "--name", "embed.weight", "--quantized", "raw");
    expect_ok(&c, "parse");
    cr_expect_str_eq(c.cfg.tensor_name, "embed.weight");
    cr_expect_eq(c.cfg.quantized, C2S_QUANTIZED_RAW);
    c2s_open_options o = tool_open_options(&c.cfg);
    cr_expect_str_eq(o.tensor_name, "embed.weight");
    cr_expect_eq(o.quantized, C2S_QUANTIZED_RAW);
    done(&c);
    PARSE(&c, "t.pt", "--quantized", "dequantize");
    expect_ok(&c, "dequantize");
    cr_expect_eq(c.cfg.quantized, C2S_QUANTIZED_DEQUANTIZE);
    cr_expect_null(c.cfg.tensor_name);
    done(&c);
    PARSE(&c, "t.pt");
    cr_expect_eq(c.cfg.quantized, C2S_QUANTIZED_REFUSE);
    done(&c);
    PARSE(&c, "t.pt", "--quantized", "int8");
    expect_usage(&c, "--quantized takes dequantize or raw, not 'int8'", "bad --quantized");
    done(&c);
    PARSE(&c, "t.pt", "--name", "");
    expect_usage(&c, "--name takes a non-empty tensor name", "empty --name");
    done(&c);
    PARSE(&c, "--scan", "t.pt", "--quantized", "raw");
    expect_usage(&c, "--scan writes nothing, so --quantized makes no sense with it", "scan");
    done(&c);
    PARSE(&c, "--scan", "t.pt", "--name", "w");
    expect_usage(&c, "--scan writes nothing, so --name makes no sense with it", "scan");
    done(&c);
    PARSE(&c, "--list", "t.pt", "--name", "w", "--quantized", "dequantize");
    expect_ok(&c, "list");
    done(&c);
    PARSE(&c, "t.pt", "--allow-global", "models.*");
    expect_ok(&c, "wildcard");
    cr_expect_str_eq(c.cfg.allow[0], "models.*");
    done(&c);
}

Test(opts, one_input_is_not_a_batch)
{
    cmd c;
    PARSE(&c, "-o", "-", "a.pt");
    expect_ok(&c, "parse");
    cr_expect_eq(tool_is_batch(&c.cfg), 0);
    cr_expect_str_eq(c.cfg.output, "-");
    cr_expect_eq(c.cfg.to_stdout, 1);
    done(&c);
    PARSE(&c, "--output", "x.safetensors", "a.pt");
    expect_ok(&c, "-o FILE");
    cr_expect_eq(c.cfg.to_stdout, 0);
    done(&c);
}

Test(opts, transforming_options)
{
    cmd c;
    PARSE(&c, "--dtype", "bf16", "--include", "model.*", "--exclude", "*.bias", "--include", "x",
          "--metadata", "a=1", "--metadata", "b==c", "--training-metadata", "--verify", "m.pt");
    expect_ok(&c, "parse");
    cr_expect_eq(c.cfg.convert_dtype, 1);
    cr_expect_eq(c.cfg.dtype, C2S_BF16);
    cr_expect_eq(c.cfg.ninclude, 2);
    cr_expect_str_eq(c.cfg.include[0], "model.*");
    cr_expect_str_eq(c.cfg.include[1], "x");
    cr_expect_eq(c.cfg.nexclude, 1);
    cr_expect_str_eq(c.cfg.exclude[0], "*.bias");
    cr_expect_eq(c.cfg.nmetadata, 2);
    cr_expect_str_eq(c.cfg.metadata[0].key, "a");
    cr_expect_str_eq(c.cfg.metadata[0].value, "1");
    cr_expect_str_eq(c.cfg.metadata[1].key, "b"); /* the first '=' splits */
    cr_expect_str_eq(c.cfg.metadata[1].value, "=c");
    cr_expect(c.cfg.training_metadata && c.cfg.verify);
    done(&c);
    static const struct {
        const char *arg;
        c2s_dtype dt;
    } DTYPES[] = {{"f16", C2S_F16},   {"bf16", C2S_BF16},     {"f32", C2S_F32},
                  {"F16", C2S_F16},   {"fp16", C2S_F16},      {"float16", C2S_F16},
                  {"half", C2S_F16},  {"BFloat16", C2S_BF16}, {"FLOAT32", C2S_F32},
                  {"float", C2S_F32}, {"fp32", C2S_F32}};
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++) {
        PARSE(&c, "--dtype", DTYPES[i].arg, "m.pt");
        expect_ok(&c, DTYPES[i].arg);
        cr_expect_eq(c.cfg.dtype, DTYPES[i].dt, "%s", DTYPES[i].arg);
        done(&c);
    }
    PARSE(&c, "--metadata", "k=", "m.pt");
    expect_ok(&c, "empty value");
    cr_expect_str_eq(c.cfg.metadata[0].value, "");
    done(&c);
}

Test(opts, direct_io_and_safety_options)
{
    static const struct {
        const char *arg;
        c2s_direct_io mode;
    } MODES[] = {{"auto", C2S_DIRECT_AUTO},
                 {"always", C2S_DIRECT_ALWAYS},
                 {"never", C2S_DIRECT_NEVER}};
    cmd c;
    PARSE(&c, "m.pt");
    expect_ok(&c, "no option");
    cr_expect_eq(c.cfg.direct_io, C2S_DIRECT_AUTO);
    cr_expect_eq(c.cfg.direct_io_given, 0);
    done(&c);
    for (size_t i = 0; i < 3; i++) {
        PARSE(&c, "--direct-io", MODES[i].arg, "m.pt");
        expect_ok(&c, MODES[i].arg);
        cr_expect_eq(c.cfg.direct_io, MODES[i].mode, "%s", MODES[i].arg);
        cr_expect_eq(c.cfg.direct_io_given, 1);
        done(&c);
    }
    PARSE(&c, "--scan", "--json", "--allow-global", "__main__.A", "--allow-global", "a.b.C",
          "m.pt");
    expect_ok(&c, "scan");
    cr_expect(c.cfg.scan && c.cfg.json);
    cr_expect_eq(c.cfg.nallow, 2);
    cr_expect_str_eq(c.cfg.allow[0], "__main__.A");
    cr_expect_str_eq(c.cfg.allow[1], "a.b.C");
    done(&c);
}

Test(opts, help_and_version_need_no_input)
{
    cmd c;
    PARSE(&c, "-h");
    expect_ok(&c, "-h");
    cr_expect_eq(c.cfg.help, 1);
    done(&c);
    PARSE(&c, "--version");
    expect_ok(&c, "--version");
    cr_expect_eq(c.cfg.version, 1);
    done(&c);
    /* ... and are not judged with the rest: -h --scan -o x is no error */
    PARSE(&c, "--help", "--scan", "-o", "x");
    expect_ok(&c, "--help with anything");
    done(&c);
}

/* ---- --shard I/N --------------------------------------------------------------- */

Test(opts, shard_values)
{
    static const struct {
        const char *arg;
        unsigned i, n;
    } GOOD[] = {
        {"1/1", 1, 1},
        {"2/8", 2, 8},
        {"8/8", 8, 8},
        {"007/010", 7, 10},
        {"4294967295/4294967295", 4294967295u, 4294967295u},
        {"0000000000000000000000000000001/2", 1, 2}, /* 31 characters before '/' */
    };
    cmd c;
    for (size_t k = 0; k < sizeof GOOD / sizeof GOOD[0]; k++) {
        PARSE(&c, "--shard", GOOD[k].arg, "-r", "d");
        expect_ok(&c, GOOD[k].arg);
        cr_expect_eq(c.cfg.shard_index, GOOD[k].i, "%s", GOOD[k].arg);
        cr_expect_eq(c.cfg.shard_count, GOOD[k].n, "%s", GOOD[k].arg);
        done(&c);
    }
    PARSE(&c, "-r", "d");
    expect_ok(&c, "no --shard");
    cr_expect_eq(c.cfg.shard_index, 0);
    cr_expect_eq(c.cfg.shard_count, 0);
    done(&c);
}

Test(opts, shard_refusals)
{
    static const char *const BAD[] = {
        "0/2",
        "3/2",
        "2",
        "/2",
        "2/",
        "/",
        "",
        "2/0",
        "0/0",
        "-1/2",
        "1/-2",
        "+1/2",
        "1/+2",
        "1/2x",
        "x/2",
        "1/2/3",
        "1.0/2",
        "4294967296/4294967296",
        "1/4294967296",
        "00000000000000000000000000000001/2", /* 32 characters before '/' */
    };
    cmd c;
    for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
        char want[160];
        snprintf(want, sizeof want, "--shard takes I/N with 1 <= I <= N (e.g. 2/8), not '%s'",
                 BAD[k]);
        PARSE(&c, "--shard", BAD[k], "-r", "d");
        expect_usage(&c, want, BAD[k]);
        done(&c);
    }
}

/* ---- sizes and counts ------------------------------------------------------------- */

Test(opts, size_values)
{
    static const struct {
        const char *s;
        uint64_t v;
    } GOOD[] = {
        {"1", 1},
        {"123", 123},
        {"64K", 64u << 10},
        {"64k", 64u << 10},
        {"1M", 1u << 20},
        {"3m", 3u << 20},
        {"2G", 2ull << 30},
        {"2g", 2ull << 30},
        {"17179869183G", 17179869183ull << 30},
        {"18446744073709551615", UINT64_MAX},
    };
    static const char *const BAD[] = {"",
                                      "0",
                                      "0K",
                                      "-1",
                                      "-1K",
                                      "K",
                                      "1T",
                                      "1KB",
                                      "1 K",
                                      "1.5M",
                                      "x",
                                      "17179869184G",
                                      "18446744073709551616"};
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        uint64_t v = 0;
        cr_expect_eq(tool_parse_size(GOOD[i].s, &v), 1, "'%s'", GOOD[i].s);
        cr_expect_eq(v, GOOD[i].v, "'%s'", GOOD[i].s);
    }
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        uint64_t v = 42;
        cr_expect_eq(tool_parse_size(BAD[i], &v), 0, "'%s'", BAD[i]);
        cr_expect_eq(v, 42, "'%s' changed the value", BAD[i]);
    }
}

Test(opts, limits_take_sizes)
{
    cmd c;
    PARSE(&c, "--max-pickle-size", "512M", "--max-objects", "64K", "--max-memo", "1000",
          "--max-stack", "2k", "--max-string", "1G", "--max-container", "3", "--max-depth", "7",
          "m.pt");
    expect_ok(&c, "parse");
    cr_expect_eq(c.cfg.limits.max_pickle, 512ull << 20);
    cr_expect_eq(c.cfg.limits.max_objects, 64u << 10);
    cr_expect_eq(c.cfg.limits.max_memo, 1000);
    cr_expect_eq(c.cfg.limits.max_stack, 2048);
    cr_expect_eq(c.cfg.limits.max_string, 1u << 30);
    cr_expect_eq(c.cfg.limits.max_container, 3);
    cr_expect_eq(c.cfg.limits.max_depth, 7);
    done(&c);

    static const char *const LIMITS[] = {"--max-objects", "--max-memo",      "--max-stack",
                                         "--max-string",  "--max-container", "--max-depth"};
    for (size_t i = 0; i < sizeof LIMITS / sizeof LIMITS[0]; i++) {
        char want[160];
        snprintf(want, sizeof want, "%s takes a positive number such as 64M, not '0'", LIMITS[i]);
        PARSE(&c, LIMITS[i], "0", "m.pt");
        expect_usage(&c, want, LIMITS[i]);
        done(&c);
    }
    PARSE(&c, "--max-pickle-size", "1T", "m.pt");
    expect_usage(&c, "--max-pickle-size takes a positive size such as 512M, not '1T'",
                 "--max-pickle-size");
    done(&c);
}

Test(opts, jobs_from_1_to_1024)
{
    cmd c;
    PARSE(&c, "-j", "1", "m.pt");
    expect_ok(&c, "-j 1");
    cr_expect_eq(c.cfg.jobs, 1);
    done(&c);
    PARSE(&c, "--jobs", "1024", "m.pt");
    expect_ok(&c, "--jobs 1024");
    cr_expect_eq(c.cfg.jobs, 1024);
    done(&c);
    PARSE(&c, "m.pt");
    expect_ok(&c, "no -j");
    cr_expect_eq(c.cfg.jobs, 0); /* the number of online CPUs, decided later */
    done(&c);
    static const char *const BAD[] = {"0", "1025", "-1", "+1", "1x", "", "4294967297"};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char want[160];
        snprintf(want, sizeof want, "-j takes a number of jobs from 1 to 1024, not '%s'", BAD[i]);
        PARSE(&c, "-j", BAD[i], "m.pt");
        expect_usage(&c, want, BAD[i]);
        done(&c);
    }
}

/* ---- option combinations ---------------------------------------------------------- */

Test(opts, scan_refuses_what_writes)
{
    static const struct {
        const char *args[2];
        const char *name;
    } CASES[] = {
        {{"-o", "x"}, "-o"},
        {{"--dtype", "f16"}, "--dtype"},
        {{"--include", "a"}, "--include"},
        {{"--exclude", "a"}, "--exclude"},
        {{"--metadata", "k=v"}, "--metadata"},
        {{"--training-metadata", NULL}, "--training-metadata"},
        {{"--verify", NULL}, "--verify"},
        {{"-j", "2"}, "-j"},
        {{"--direct-io", "never"}, "--direct-io"},
        {{"--list", NULL}, "--list"},
        {{"-f", NULL}, "-f"},
        {{"--key", "model"}, "--key"},
        {{"--skip-unsupported", NULL}, "--skip-unsupported"},
    };
    cmd c;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char want[160];
        snprintf(want, sizeof want, "--scan writes nothing, so %s makes no sense with it",
                 CASES[i].name);
        if (CASES[i].args[1] != NULL)
            PARSE(&c, "--scan", CASES[i].args[0], CASES[i].args[1], "m.pt");
        else
            PARSE(&c, "--scan", CASES[i].args[0], "m.pt");
        expect_usage(&c, want, CASES[i].name);
        done(&c);
    }
    /* what --scan does go with */
    PARSE(&c, "--scan", "--json", "-q", "-v", "--shard", "1/2", "--follow-symlinks", "-r", "d",
          "--max-objects", "1K", "--permissive", "m.pt");
    expect_ok(&c, "--scan with reading options");
    done(&c);
}

Test(opts, list_takes_files_and_writes_nothing)
{
    cmd c;
    PARSE(&c, "--list", "--json", "a.pt", "b.pt");
    expect_ok(&c, "two inputs, --json");
    cr_expect(c.cfg.list && c.cfg.json);
    cr_expect_eq(c.cfg.ninputs, 2);
    done(&c);
    PARSE(&c, "--list", "-r", "d");
    expect_usage(&c, "--list takes FILEs, not -r", "-r");
    done(&c);
    PARSE(&c, "--list", "--key", "", "a.pt");
    expect_usage(&c, "--key needs a non-empty path", "--key ''");
    done(&c);
    PARSE(&c, "--list", "--include", "a*", "--exclude", "b*", "--rename", "a.=b.", "--dtype", "f16",
          "a.pt");
    expect_ok(&c, "the options that choose and name tensors");
    done(&c);
    PARSE(&c, "--list", "--metadata", "k=v", "a.pt");
    expect_usage(&c, "--list writes nothing, so --metadata makes no sense with it", "--metadata");
    done(&c);
    PARSE(&c, "--list", "--shard", "1/2", "a.pt");
    expect_usage(&c, "--list writes nothing, so --shard makes no sense with it", "--shard");
    done(&c);
    PARSE(&c, "--list", "-o", "x", "a.pt");
    expect_usage(&c, "--list writes nothing, so -o makes no sense with it", "-o");
    done(&c);
    PARSE(&c, "--list", "--verify", "a.pt");
    expect_usage(&c, "--list writes nothing, so --verify makes no sense with it", "--verify");
    done(&c);
    PARSE(&c, "--list", "--key", "model", "-q", "a.pt");
    expect_ok(&c, "--list --key");
    done(&c);
}

Test(opts, renames_are_kept_in_order_and_go_to_the_write_options)
{
    cmd c;
    PARSE(&c, "a.pt", "--rename", "model.diffusion_model.=unet.", "--rename", "=p.", "--rename",
          "a=b=c");
    expect_ok(&c, "parse");
    cr_assert_eq(c.cfg.nrenames, 3);
    cr_expect_str_eq(c.cfg.renames[0].from, "model.diffusion_model.");
    cr_expect_str_eq(c.cfg.renames[0].to, "unet.");
    cr_expect_str_eq(c.cfg.renames[1].from, "");
    cr_expect_str_eq(c.cfg.renames[1].to, "p.");
    cr_expect_str_eq(c.cfg.renames[2].from, "a"); /* the first '=' ends FROM */
    cr_expect_str_eq(c.cfg.renames[2].to, "b=c");
    c2s_write_options o = tool_select_options(&c.cfg);
    cr_expect_eq(o.nrename, 3);
    cr_expect_eq(o.rename, c.cfg.renames);
    done(&c);
    PARSE(&c, "a.pt", "--rename", "nothing");
    expect_usage(&c,
                 "--rename takes FROM=TO (a name prefix and its replacement; FROM may be empty), "
                 "not 'nothing'",
                 "no '='");
    done(&c);
    PARSE(&c, "--scan", "--rename", "a=b", "a.pt");
    expect_usage(&c, "--scan writes nothing, so --rename makes no sense with it", "--scan");
    done(&c);
}

Test(opts, conversion_combinations)
{
    static const struct {
        const char *args[5];
        const char *msg;
    } CASES[] = {
        {{NULL}, "no INPUT given (see --help)"},
        {{"-f", "-q"}, "no INPUT given (see --help)"},
        {{"--key", "", "a.pt"}, "--key needs a non-empty path"},
        {{"-o", "", "a.pt"}, "-o needs a file name"},
        {{"-o", "-", "a.pt", "b.pt"}, "-o - (standard output) takes a single INPUT"},
        {{"-o", "-", "-r", "d"}, "-o - (standard output) takes a single INPUT"},
        {{"-o", "-", "--json", "a.pt"}, "-o - and --json would both write to standard output"},
        {{"-o", "-", "--verify", "a.pt"},
         "--verify reads the output file back, so it cannot go with -o -"},
    };
    cmd c;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const char *const *a = CASES[i].args;
        if (a[0] == NULL)
            PARSE(&c, (const char *)NULL);
        else
            PARSE(&c, a[0], a[1], a[2], a[3], a[4]); /* stops at the first NULL */
        expect_usage(&c, CASES[i].msg, CASES[i].msg);
        done(&c);
    }
    /* -o FILE with several inputs is the batch planner's to judge (a directory?) */
    PARSE(&c, "-o", "out", "a.pt", "b.pt", "--json", "--verify", "-j", "2");
    expect_ok(&c, "-o DIR batch");
    done(&c);
}

Test(opts, bad_values_and_unknown_options)
{
    static const struct {
        const char *args[4];
        const char *msg;
    } CASES[] = {
        {{"--dtype", "f8", "a.pt"},
         "--dtype takes f16, bf16 or f32 (also F16, fp16, float16, half, bfloat16, float32), "
         "not 'f8'"},
        {{"--dtype", "f64", "a.pt"},
         "--dtype takes f16, bf16 or f32 (also F16, fp16, float16, half, bfloat16, float32), "
         "not 'f64'"},
        {{"--direct-io", "sometimes", "a.pt"},
         "--direct-io takes auto, always or never, not 'sometimes'"},
        {{"--metadata", "novalue", "a.pt"}, "--metadata takes KEY=VALUE, not 'novalue'"},
        {{"--metadata", "=v", "a.pt"}, "--metadata takes KEY=VALUE, not '=v'"},
        {{"--metadata", "format=x", "a.pt"},
         "--metadata: the key 'format' is reserved (it is always \"pt\")"},
        {{"--allow-global", "os", "a.pt"},
         "--allow-global takes MODULE.NAME (e.g. __main__.MyTensor), not 'os'"},
        {{"--allow-global", ".system", "a.pt"},
         "--allow-global takes MODULE.NAME (e.g. __main__.MyTensor), not '.system'"},
        {{"--allow-global", "os.", "a.pt"},
         "--allow-global takes MODULE.NAME (e.g. __main__.MyTensor), not 'os.'"},
        {{"-x", "a.pt"}, "unknown option '-x' (see --help)"},
        {{"--bogus", "a.pt"}, "unknown option '--bogus' (see --help)"},
        {{"--max", "3", "a.pt"}, "unknown option '--max' (see --help)"}, /* ambiguous */
        {{"a.pt", "-r"}, "option '-r' needs a value"},
        {{"a.pt", "--shard"}, "option '--shard' needs a value"},
        {{"--json=1", "a.pt"}, "option '--json' takes no value"},
        {{"--force=yes", "a.pt"}, "option '--force' takes no value"},
    };
    cmd c;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const char *const *a = CASES[i].args;
        PARSE(&c, a[0], a[1], a[2], a[3]);
        expect_usage(&c, CASES[i].msg, CASES[i].msg);
        done(&c);
    }
    PARSE(&c, "--metadata", "k=1", "--metadata", "k=2", "a.pt");
    expect_usage(&c, "--metadata: the key 'k' is given twice", "twice");
    done(&c);
    /* long options may be shortened while that is unambiguous */
    PARSE(&c, "--verif", "--sh", "1/2", "a.pt");
    expect_ok(&c, "abbreviations");
    cr_expect(c.cfg.verify && c.cfg.shard_count == 2);
    done(&c);
}

/* ---- the library's errors in the tool's words, the exit code ----------------------- */

static const char *error_text(c2s_rule rule, const char *subject, size_t more, const char *msg)
{
    static char buf[TOOL_ERROR_TEXT_MAX];
    c2s_error e;
    c2s_error_clear(&e);
    e.status = C2S_ERR_INPUT;
    e.rule = rule;
    snprintf(e.msg, sizeof e.msg, "%s", msg);
    snprintf(e.subject, sizeof e.subject, "%s", subject);
    e.more = more;
    return tool_error_text(&e, buf, sizeof buf);
}

Test(opts, error_text_names_the_option)
{
    static const struct {
        c2s_rule rule;
        const char *flag;
    } LIMITS[] = {
        {C2S_RULE_MAX_PICKLE, "--max-pickle-size"},  {C2S_RULE_MAX_STRING, "--max-string"},
        {C2S_RULE_MAX_CONTAINER, "--max-container"}, {C2S_RULE_MAX_OBJECTS, "--max-objects"},
        {C2S_RULE_MAX_STACK, "--max-stack"},         {C2S_RULE_MAX_MEMO, "--max-memo"},
        {C2S_RULE_MAX_DEPTH, "--max-depth"},
    };
    for (size_t i = 0; i < sizeof LIMITS / sizeof LIMITS[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "too big (raise with %s)", LIMITS[i].flag);
        cr_expect_str_eq(error_text(LIMITS[i].rule, "", 0, "too big"), want, "%s", LIMITS[i].flag);
    }
    cr_expect_str_eq(error_text(C2S_RULE_NONE, "", 0, "bad zip"), "bad zip");
    cr_expect_str_eq(error_text(C2S_RULE_KEY, "", 0, "'x' not found"), "--key 'x' not found");
    cr_expect_str_eq(error_text(C2S_RULE_RENAME, "", 0, "tensors 'a' and 'b' would both be x"),
                     "tensors 'a' and 'b' would both be x (--rename)");
    cr_expect_str_eq(error_text(C2S_RULE_NO_TENSORS, "", 0, "no tensors found under 'a' (a list)"),
                     "no tensors found under 'a' (a list; choose a root with --key)");
    cr_expect_str_eq(error_text(C2S_RULE_NO_TENSORS, "", 0, "no tensors found"),
                     "no tensors found");
    cr_expect_str_eq(error_text(C2S_RULE_UNSUPPORTED, "", 0, "t: complex128"),
                     "t: complex128 (--skip-unsupported drops such tensors)");
    cr_expect_str_eq(error_text(C2S_RULE_QUANTIZED, "", 0, "t is quantized"),
                     "t is quantized (--quantized dequantize or --quantized raw; "
                     "--skip-unsupported drops such tensors)");
    cr_expect_str_eq(error_text(C2S_RULE_ALL_FILTERED, "", 0, "no tensor left"),
                     "no tensor left (--include/--exclude)");
    cr_expect_str_eq(error_text(C2S_RULE_POLICY, "", 0, "refused: os.system"),
                     "refused: os.system");
    cr_expect_str_eq(error_text(C2S_RULE_POLICY, "m.A", 0, "refused: m.A"),
                     "refused: m.A; to accept it as data: --allow-global m.A");
    cr_expect_str_eq(error_text(C2S_RULE_POLICY, "*", 2, "refused: a.B, c.D"),
                     "refused: a.B, c.D (--scan lists all); to accept unknown globals as data: "
                     "--allow-global MODULE.NAME, or --permissive");
}

Test(opts, exit_code_is_the_worst_outcome)
{
    static const struct {
        size_t converted, skipped, refused, failed;
        int code;
    } CASES[] = {
        {0, 0, 0, 0, 0}, {3, 1, 0, 0, 0}, {3, 0, 0, 1, 1}, {0, 0, 1, 0, 3}, {1, 1, 1, 1, 3},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        tool_tally t = {{CASES[i].converted, CASES[i].skipped, CASES[i].refused, CASES[i].failed},
                        0};
        cr_expect_eq(tool_tally_exit_code(&t), CASES[i].code, "case %zu", i);
    }
    tool_tally t = {{0}, 0};
    tool_outcome o = {.status = TOOL_CONVERTED, .bytes = 100};
    tool_tally_add(&t, &o);
    o.status = TOOL_SKIPPED; /* skipped files' bytes are not counted */
    tool_tally_add(&t, &o);
    cr_expect_eq(t.count[TOOL_CONVERTED], 1);
    cr_expect_eq(t.count[TOOL_SKIPPED], 1);
    cr_expect_eq(t.bytes, 100);
    cr_expect_eq(tool_tally_exit_code(&t), 0);
}

Test(opts, standard_input_and_directory_options)
{
    cmd c;
    PARSE(&c, "-r", "run", "-o", "out", "--copy-other", "--include-file", "*.bin", "--exclude-file",
          "optimizer.pt", "--exclude-file", "a/*.pt");
    expect_ok(&c, "directory options");
    cr_expect_eq(c.cfg.copy_other, 1);
    cr_expect_eq(c.cfg.ninclude_files, 1);
    cr_expect_str_eq(c.cfg.include_files[0], "*.bin");
    cr_expect_eq(c.cfg.nexclude_files, 2);
    cr_expect_str_eq(c.cfg.exclude_files[0], "optimizer.pt");
    cr_expect_str_eq(c.cfg.exclude_files[1], "a/*.pt");
    done(&c);

    PARSE(&c, "-", "-o", "m.safetensors");
    expect_ok(&c, "- -o FILE");
    cr_expect_str_eq(c.cfg.input, "-");
    done(&c);
    PARSE(&c, "--scan", "a.pt", "-");
    expect_ok(&c, "--scan a.pt -");
    done(&c);
    PARSE(&c, "--list", "-");
    expect_ok(&c, "--list -");
    done(&c);

    static const struct {
        const char *args[5];
        const char *msg;
    } CASES[] = {
        {{"-"},
         "-: standard input has no name to derive the output's from: give it alone, "
         "with -o FILE (or -o -)"},
        {{"-", "a.pt", "-o", "out"},
         "-: standard input has no name to derive the output's from: give it alone, with -o "
         "FILE (or -o -)"},
        {{"--scan", "-", "-"}, "standard input ('-') can be read only once"},
        {{"--include-file", "*.bin", "a.pt"},
         "--include-file chooses among the files found under -r DIR"},
        {{"--copy-other", "a.pt", "-o", "out"},
         "--copy-other copies the other files of -r DIR into -o OUTDIR: give both"},
        {{"--copy-other", "-r", "run"},
         "--copy-other copies the other files of -r DIR into -o OUTDIR: give both"},
        {{"--list", "--copy-other", "a.pt"},
         "--list writes nothing, so --copy-other makes no sense with it"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const char *const *a = CASES[i].args;
        PARSE(&c, a[0], a[1], a[2], a[3], a[4]); /* stops at the first NULL */
        expect_usage(&c, CASES[i].msg, CASES[i].msg);
        done(&c);
    }
}
