/*
 * test_select.c - choosing and naming tensors: --key on flat dotted keys,
 * --rename, the warning for --include/--exclude/--rename that matched
 * nothing, and --list as a preview (several files, --json), on the Stable
 * Diffusion-shaped fixture fixtures/sd/sd_v1.ckpt (fixtures/make_sd.py).
 *
 * The CLI tests run the binary from the repository root and write into a
 * fresh directory; the library tests call c2s_output_name and friends.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s.h"
#include "cli_sandbox.h"
#include "run_util.h"
#include "test_util.h"

#define SD "fixtures/sd/sd_v1.ckpt"
#define ERR "ckpt2safetensors: error: "
#define WARN "ckpt2safetensors: warning: "

TestSuite(select, .init = cs_setup, .fini = cs_teardown, .timeout = 60);

#define RUN(...) \
    tr_finish(tr_start(tr_bin(), cs_dir, NULL, (const char *const[]){__VA_ARGS__, NULL}), cs_dir)

/* The options of fixtures/sd/sd_v1.CASE.args, one a line, into args
 * (NULL-terminated); the strings live in *text. */
static size_t case_args(const char *name, const char **args, size_t cap, char **text)
{
    char path[256];
    snprintf(path, sizeof path, "fixtures/sd/sd_v1.%s.args", name);
    *text = tr_slurp(path);
    size_t n = 0;
    for (char *p = *text, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        cr_assert_lt(n + 1, cap);
        *nl = '\0';
        args[n++] = p;
    }
    args[n] = NULL;
    return n;
}

static void expect_same_file(const char *got, const char *want)
{
    size_t ng, nw;
    unsigned char *g = tu_read_output(got, &ng), *w = tu_read(want, &nw);
    cr_assert_not_null(g, "no output %s", got);
    cr_assert_not_null(w);
    cr_expect(ng == nw && memcmp(g, w, nw) == 0, "%s differs from %s", got, want);
    free(g);
    free(w);
}

/* ---- conversions of the SD-shaped checkpoint ------------------------------------------- */

Test(select, every_sd_case_writes_its_expected_file)
{
    static const char *const CASES[] = {"all", "unet", "no_ema", "diffusers", "vae", "ema"};
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const char *argv[TR_MAX_ARGS + 1];
        char *text;
        size_t n = case_args(CASES[i], argv, TR_MAX_ARGS - 4, &text);
        char *out = tu_path(cs_dir, CASES[i]), expected[256];
        argv[n++] = "-q";
        argv[n++] = "-o";
        argv[n++] = out;
        argv[n++] = SD;
        argv[n] = NULL;
        tr_result r = tr_finish(tr_start(tr_bin(), cs_dir, NULL, argv), cs_dir);
        cr_expect_eq(r.code, 0, "%s: exit %d: %s", CASES[i], r.code, r.err);
        cr_expect_str_eq(r.err, "", "%s", CASES[i]);
        snprintf(expected, sizeof expected, "fixtures/sd/sd_v1.%s.expected.safetensors", CASES[i]);
        expect_same_file(out, expected);
        tr_free(&r);
        free(out);
        free(text);
    }
}

Test(select, key_selects_the_unet_by_prefix_with_names_stripped)
{
    tr_result r = RUN("--list", "--key", "model.diffusion_model", SD);
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(
        r.out, "NAME                                 DTYPE        SHAPE                 BYTES\n"
               "time_embed.0.weight                  F32          [8, 4]                128\n"
               "time_embed.0.bias                    F32          [8]                   32\n"
               "input_blocks.0.0.weight              F32          [4, 4, 3, 3]          576\n"
               "input_blocks.0.0.bias                F32          [4]                   16\n"
               "input_blocks.1.0.in_layers.2.weight  F32          [4, 4, 3, 3]          576\n"
               "middle_block.1.proj_in.weight        F32          [4, 4, 1, 1]          64\n"
               "out.0.weight                         F32          [4]                   16\n"
               "out.2.weight                         F32          [4, 4, 3, 3]          576\n"
               "out.2.bias                           F32          [4]                   16\n"
               "9 tensors, 2000 bytes (2.0 KiB), root: state_dict.model.diffusion_model\n");
    cr_expect_str_eq(r.err, "");
    tr_free(&r);
}

Test(select, key_prefix_inside_a_resolved_path_and_full_paths)
{
    /* state_dict given explicitly; a prefix one level below a flat key's start */
    tr_result r = RUN("--list", "--key", "state_dict.first_stage_model.encoder", SD);
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.out, "NAME            DTYPE        SHAPE                 BYTES\n"
                            "conv_in.weight  F32          [4, 3, 3, 3]          432\n"
                            "conv_in.bias    F32          [4]                   16\n"
                            "2 tensors, 448 bytes, root: state_dict.first_stage_model.encoder\n");
    tr_free(&r);
    /* a whole flat key is an entry, not a prefix: the tensor itself */
    r = RUN("--list", "--key", "betas", "--name", "b", SD);
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.out, "NAME  DTYPE        SHAPE                 BYTES\n"
                            "b     F32          [5]                   20\n"
                            "1 tensor, 20 bytes, root: state_dict.betas\n");
    tr_free(&r);
}

Test(select, key_that_names_nothing_says_where_it_looked)
{
    tr_result r = RUN("--list", "--key", "model.diffusion", SD);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, ERR SD ": --key 'model.diffusion': no such entry in the top-level "
                                   "dict, nor in its state_dict\n");
    tr_free(&r);
}

/* ---- renames --------------------------------------------------------------------------- */

Test(select, renames_that_collide_name_both_tensors_and_write_nothing)
{
    char *out = tu_path(cs_dir, "vae.safetensors");
    tr_result r = RUN("--key", "first_stage_model", "--rename", "encoder.=vae.", "--rename",
                      "decoder.=vae.", "-o", out, SD);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err,
                     ERR SD ": tensors 'encoder.conv_in.weight' and 'decoder.conv_in.weight' "
                            "would both be written as 'vae.conv_in.weight' (--rename)\n");
    cr_expect_neq(access(out, F_OK), 0, "an output was written");
    tr_free(&r);
    /* the same error from --list, which writes nothing anyway */
    r = RUN("--list", "--key", "first_stage_model", "--rename", "encoder.=vae.", "--rename",
            "decoder.=vae.", SD);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.out, "");
    cr_expect_str_eq(r.err,
                     ERR SD ": tensors 'encoder.conv_in.weight' and 'decoder.conv_in.weight' "
                            "would both be written as 'vae.conv_in.weight' (--rename)\n");
    tr_free(&r);
    /* excluding one of the two (by its renamed name) is no collision */
    r = RUN("--list", "-q", "--key", "first_stage_model", "--rename", "encoder.=vae.", "--rename",
            "decoder.=vae.", "--exclude", "vae.conv_in.*", SD);
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    free(out);
}

Test(select, rename_to_an_empty_or_reserved_name_fails)
{
    char *out = tu_path(cs_dir, "x.safetensors");
    tr_result r = RUN("--rename", "betas=", "-o", out, SD);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err,
                     ERR SD ": renaming leaves tensor 'betas' with an empty name (--rename)\n");
    tr_free(&r);
    r = RUN("--rename", "betas=__metadata__", "-o", out, SD);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, ERR SD ": renaming makes tensor 'betas' '__metadata__', a name "
                                   "safetensors reserves (--rename)\n");
    cr_expect_neq(access(out, F_OK), 0);
    tr_free(&r);
    r = RUN("--rename", "betas", SD);
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, ERR "--rename takes FROM=TO (a name prefix and its replacement; FROM "
                                "may be empty), not 'betas'\n");
    tr_free(&r);
    free(out);
}

Test(select, the_first_matching_rename_wins_and_renames_do_not_chain)
{
    tr_result r = RUN("--list", "--include", "b*", "--include", "alpha", "--include", "x*",
                      "--rename", "betas=alpha", "--rename", "alpha=x", "--rename", "b=never", SD);
    cr_expect_eq(r.code, 0);
    /* betas -> alpha (not then x); alphas_cumprod -> xs_cumprod; the third
     * rename is shadowed by the first for betas and matches nothing else;
     * the globs see the renamed names, so 'b*' matches nothing */
    cr_expect_str_eq(r.out, "NAME        DTYPE        SHAPE                 BYTES\n"
                            "alpha       F32          [5]                   20\n"
                            "xs_cumprod  F32          [5]                   20\n"
                            "2 tensors, 40 bytes, root: state_dict, 29 left out by "
                            "--include/--exclude\n");
    cr_expect_str_eq(r.err, WARN SD ": --include 'b*' matched no tensor\n" WARN SD
                                    ": --rename 'b=never' matched no tensor\n");
    tr_free(&r);
}

/* ---- patterns that match nothing -------------------------------------------------------- */

Test(select, an_exclude_that_matches_nothing_is_warned_about)
{
    char *out = tu_path(cs_dir, "sd.safetensors");
    tr_result r = RUN("--exclude", "ema.*", "-o", out, SD);
    cr_expect_eq(r.code, 0);
    char want[1024];
    snprintf(want, sizeof want,
             WARN SD ": --exclude 'ema.*' matched no tensor\n"
                     "ckpt2safetensors: " SD " -> %s: 31 tensors, 9.2 KiB in ",
             out);
    cr_expect(strncmp(r.err, want, strlen(want)) == 0, "stderr: %s", r.err);
    expect_same_file(out, "fixtures/sd/sd_v1.all.expected.safetensors");
    tr_free(&r);
    /* -q silences it, as every warning */
    r = RUN("-q", "-f", "--exclude", "ema.*", "-o", out, SD);
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.err, "");
    tr_free(&r);
    free(out);
}

Test(select, unmatched_patterns_are_warned_about_per_file_in_a_batch)
{
    char *out = tu_path(cs_dir, "out");
    tr_result r = RUN("-q", "--include", "*", "--exclude", "model_ema.*", "-o", out, SD,
                      "fixtures/sample.ckpt");
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.err, ""); /* -q */
    tr_free(&r);
    r = RUN("-f", "--exclude", "model_ema.*", "-o", out, SD, "fixtures/sample.ckpt", "-j", "1");
    cr_expect_eq(r.code, 0);
    cr_expect(strstr(r.err, WARN "fixtures/sample.ckpt: --exclude 'model_ema.*' matched no "
                                 "tensor\n") != NULL,
              "%s", r.err);
    cr_expect(strstr(r.err, WARN SD) == NULL, "%s", r.err);
    tr_free(&r);
    free(out);
}

/* ---- --list as a preview ---------------------------------------------------------------- */

/* --list of a safetensors file applies the same checks to its renamed names
 * as to a checkpoint's: a collision, an empty name and nothing left are
 * errors, with nothing listed. */
Test(select, list_of_a_safetensors_file_checks_renamed_names)
{
#define ST "fixtures/sd/sd_v1.all.expected.safetensors"
    tr_result r = RUN("--list", "--rename", "first_stage_model.encoder.=vae.", "--rename",
                      "first_stage_model.decoder.=vae.", ST);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.out, "");
    cr_expect_str_eq(r.err, ERR ST ": tensors 'first_stage_model.decoder.conv_in.weight' and "
                                   "'first_stage_model.encoder.conv_in.weight' would both be "
                                   "written as 'vae.conv_in.weight' (--rename)\n");
    tr_free(&r);
    r = RUN("--list", "-q", "--rename", "first_stage_model.encoder.=vae.", "--rename",
            "first_stage_model.decoder.=vae.", "--exclude", "vae.conv_in.weight", ST);
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    r = RUN("--list", "--rename", "betas=", ST);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err,
                     ERR ST ": renaming leaves tensor 'betas' with an empty name (--rename)\n");
    tr_free(&r);
    r = RUN("--list", "-q", "--include", "nothing.*", ST);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.out, "");
    cr_expect_str_eq(r.err, ERR ST ": no tensor left to write after the include/exclude filters "
                                   "(--include/--exclude)\n");
    tr_free(&r);
#undef ST
}

Test(select, list_shows_renamed_names_converted_dtypes_and_only_kept_tensors)
{
    tr_result r = RUN("--list", "--key", "first_stage_model", "--rename", "=vae.", "--include",
                      "vae.encoder.*", "--dtype", "bf16", SD);
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.out, "NAME                        DTYPE        SHAPE                 BYTES\n"
                            "vae.encoder.conv_in.weight  BF16         [4, 3, 3, 3]          216\n"
                            "vae.encoder.conv_in.bias    BF16         [4]                   8\n"
                            "2 tensors, 224 bytes, root: state_dict.first_stage_model, 3 left out "
                            "by --include/--exclude\n");
    cr_expect_str_eq(r.err, "");
    tr_free(&r);
}

Test(select, list_json_is_one_object_per_file)
{
    tr_result r = RUN("--list", "--json", "--key", "first_stage_model", "--rename", "=vae.",
                      "--include", "vae.encoder.*", "--dtype", "bf16", SD, "fixtures/nothing.ckpt");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(
        r.out,
        "{\"input\":\"" SD "\",\"tensors\":[{\"name\":\"vae.encoder.conv_in.weight\",\"dtype\":"
        "\"BF16\",\"shape\":[4,3,3,3],\"bytes\":216},{\"name\":\"vae.encoder.conv_in.bias\","
        "\"dtype\":\"BF16\",\"shape\":[4],\"bytes\":8}],\"bytes\":224,\"filtered\":3,"
        "\"unsupported\":[],\"root\":\"state_dict.first_stage_model\",\"notes\":[]}\n"
        "{\"input\":\"fixtures/nothing.ckpt\",\"error\":\"cannot open: No such file or "
        "directory\"}\n");
    cr_expect_str_eq(r.err, ERR "fixtures/nothing.ckpt: cannot open: No such file or directory\n");
    tr_free(&r);
}

Test(select, list_of_several_files_heads_each_and_goes_on_after_a_failure)
{
    tr_result r = RUN("--list", "--key", "model.diffusion_model", "--include", "out.2.*",
                      "fixtures/sample.ckpt", SD);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.out, "==> fixtures/sample.ckpt <==\n"
                            "\n"
                            "==> " SD " <==\n"
                            "NAME          DTYPE        SHAPE                 BYTES\n"
                            "out.2.weight  F32          [4, 4, 3, 3]          576\n"
                            "out.2.bias    F32          [4]                   16\n"
                            "2 tensors, 592 bytes, root: state_dict.model.diffusion_model, 7 left "
                            "out by --include/--exclude\n");
    cr_expect_str_eq(r.err, ERR "fixtures/sample.ckpt: --key 'model.diffusion_model': no such "
                                "entry in the top-level dict, nor in its state_dict\n");
    tr_free(&r);
    /* two good files: exit 0 */
    r = RUN("--list", "-q", "fixtures/sample.ckpt", "fixtures/sd/sd_v1.all.expected.safetensors");
    cr_expect_eq(r.code, 0);
    cr_expect(strncmp(r.out, "==> fixtures/sample.ckpt <==\nNAME", 33) == 0, "%s", r.out);
    cr_expect(strstr(r.out, "\n\n==> fixtures/sd/sd_v1.all.expected.safetensors <==\nNAME  ") !=
                  NULL,
              "%s", r.out);
    tr_free(&r);
}

/* ---- the library's helpers --------------------------------------------------------------- */

Test(select, output_name_applies_the_first_matching_rename)
{
    const c2s_rename renames[] = {{"a.", "x."}, {"a.b", "never"}, {"", "p."}};
    c2s_write_options o = {.rename = renames, .nrename = 3};
    char buf[64];
    cr_expect_eq(c2s_output_name(&o, "a.b.c", buf, sizeof buf), 5);
    cr_expect_str_eq(buf, "x.b.c");
    cr_expect_eq(c2s_rename_index(&o, "a.b.c"), 0);
    cr_expect_eq(c2s_output_name(&o, "q", buf, sizeof buf), 3);
    cr_expect_str_eq(buf, "p.q");
    cr_expect_eq(c2s_rename_index(&o, "q"), 2);
    cr_expect_eq(c2s_rename_index(NULL, "q"), 0);
    cr_expect_eq(c2s_output_name(NULL, "q", buf, sizeof buf), 1);
    cr_expect_str_eq(buf, "q");
    /* snprintf-like: the full length, a truncated name */
    cr_expect_eq(c2s_output_name(&o, "a.bcdef", buf, 4), 7);
    cr_expect_str_eq(buf, "x.b");
    cr_expect_eq(c2s_output_name(&o, "a.bcdef", NULL, 0), 7);
}

Test(select, output_tensor_gives_the_converted_dtype_and_size)
{
    const uint64_t shape[] = {2, 3};
    c2s_tensor_info t = {"w", C2S_F32, 2, shape, 24, 1, NULL}, out;
    const char *exclude[] = {"*.w"};
    const c2s_rename renames[] = {{"", "m."}};
    c2s_write_options o = {.rename = renames, .nrename = 1, .convert_dtype = 1, .dtype = C2S_F16};
    char buf[16];
    cr_expect_eq(c2s_output_tensor(&o, &t, buf, sizeof buf, &out), 1);
    cr_expect_str_eq(out.name, "m.w");
    cr_expect_eq(out.dtype, C2S_F16);
    cr_expect_eq(out.nbytes, 12);
    o.exclude = exclude;
    o.nexclude = 1;
    cr_expect_eq(c2s_output_tensor(&o, &t, buf, sizeof buf, &out), 0); /* the glob sees m.w */
    c2s_tensor_info i = {"n", C2S_I64, 2, shape, 48, 1, NULL};
    o.nexclude = 0;
    cr_expect_eq(c2s_output_tensor(&o, &i, buf, sizeof buf, &out), 1);
    cr_expect_eq(out.dtype, C2S_I64);
    cr_expect_eq(out.nbytes, 48);
}
