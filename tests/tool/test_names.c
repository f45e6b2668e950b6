/*
 * test_names.c - the tool's naming rules, called directly (no binary run):
 * the output name of each input (tool_output_name, the Hugging Face
 * names), the path helpers tool_batch.c builds outputs with, which
 * weight_map values tool_hf.c accepts as shard file names, and the sizes
 * the summary line prints.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "tool/tool_batch.h"
#include "tool/tool_hf.h"
#include "tool/tool_msgs.h"

static void expect_owned_str(char *got, const char *want, const char *what)
{
    cr_assert_not_null(got, "%s: NULL", what);
    cr_expect_str_eq(got, want, "%s", what);
    free(got);
}

Test(names, output_name_of_each_kind_of_input)
{
    static const struct {
        const char *in, *out;
    } CASES[] = {
        /* the four extensions are replaced */
        {"model.ckpt", "model.safetensors"},
        {"model.pt", "model.safetensors"},
        {"model.pth", "model.safetensors"},
        {"model.bin", "model.safetensors"},
        /* anything else keeps its name */
        {"model", "model.safetensors"},
        {"model.safetensors", "model.safetensors.safetensors"},
        {"model.PT", "model.PT.safetensors"},
        {"archive.pt.gz", "archive.pt.gz.safetensors"},
        /* only the last extension goes */
        {"a.pt.bin", "a.pt.safetensors"},
        {"v1.2.ckpt", "v1.2.safetensors"},
        /* an extension alone is a name, not an extension */
        {".pt", ".pt.safetensors"},
        {".ckpt", ".ckpt.safetensors"},
        {"", ".safetensors"},
        /* Hugging Face: pytorch_model*.bin becomes model*.safetensors */
        {"pytorch_model.bin", "model.safetensors"},
        {"pytorch_model-00001-of-00002.bin", "model-00001-of-00002.safetensors"},
        {"pytorch_model_fp16.bin", "model_fp16.safetensors"},
        /* ... only .bin files, and only with the exact prefix */
        {"pytorch_model.pt", "pytorch_model.safetensors"},
        {"pytorch_model.ckpt", "pytorch_model.safetensors"},
        {"diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors"},
        {"Pytorch_model.bin", "Pytorch_model.safetensors"},
        {"pytorch_modelbin", "pytorch_modelbin.safetensors"},
        {"pytorch_model", "pytorch_model.safetensors"},
        /* a TensorFlow index: .index goes, then a .ckpt before it */
        {"bert_model.ckpt.index", "bert_model.safetensors"},
        {"variables.index", "variables.safetensors"},
        {"model.ckpt-1000.index", "model.ckpt-1000.safetensors"},
        {"model.pt.index", "model.pt.safetensors"},
        {".ckpt.index", ".ckpt.safetensors"},
        {".index", ".index.safetensors"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        expect_owned_str(tool_output_name(CASES[i].in), CASES[i].out, CASES[i].in);
}

Test(names, has_suffix_needs_something_before_it)
{
    cr_expect_eq(tool_has_suffix("a.pt", ".pt"), 1);
    cr_expect_eq(tool_has_suffix(".pt", ".pt"), 0);
    cr_expect_eq(tool_has_suffix("pt", ".pt"), 0);
    cr_expect_eq(tool_has_suffix("a.pth", ".pt"), 0);
    cr_expect_eq(tool_has_suffix("a.pt", ""), 1);
    cr_expect_eq(tool_has_suffix("", ""), 0);
}

Test(names, join_puts_one_slash_between)
{
    expect_owned_str(tool_join("out", "m.safetensors"), "out/m.safetensors", "plain");
    expect_owned_str(tool_join("out/", "m.safetensors"), "out/m.safetensors", "dir/");
    expect_owned_str(tool_join("/", "m"), "/m", "root");
    expect_owned_str(tool_join("", "m"), "m", "empty dir");
    expect_owned_str(tool_join("a//", "m"), "a//m", "slashes kept");
}

Test(names, dirname_of_paths)
{
    expect_owned_str(tool_dirname("a/b/m.pt"), "a/b", "nested");
    expect_owned_str(tool_dirname("m.pt"), ".", "no directory");
    expect_owned_str(tool_dirname("/m.pt"), "/", "at the root");
    expect_owned_str(tool_dirname("a/"), "a", "trailing slash");
    expect_owned_str(tool_dirname(""), ".", "empty");
}

Test(names, weight_map_values_must_be_plain_file_names)
{
    static const char *const GOOD[] =
        {"pytorch_model-00001-of-00002.bin", "x", "...", ".x", "a b", "a\\b"};
    static const char *const BAD[] = {"", ".", "..", "../x.bin", "/etc/passwd", "sub/x.bin", "x/"};
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++)
        cr_expect_eq(tool_hf_plain_name(GOOD[i]), 1, "'%s'", GOOD[i]);
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        cr_expect_eq(tool_hf_plain_name(BAD[i]), 0, "'%s'", BAD[i]);
}

Test(names, human_sizes)
{
    static const struct {
        unsigned long long bytes;
        const char *text;
    } CASES[] = {
        {0, "0 B"},
        {1023, "1023 B"},
        {1024, "1.0 KiB"},
        {1536, "1.5 KiB"},
        {3728, "3.6 KiB"},
        {1048576, "1.0 MiB"},
        {5ull << 30, "5.0 GiB"},
        {1ull << 40, "1.0 TiB"},
        {1ull << 50, "1.0 PiB"},
        {1ull << 60, "1024.0 PiB"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char buf[32];
        cr_expect_str_eq(tool_human_size(CASES[i].bytes, buf, sizeof buf), CASES[i].text, "%llu",
                         CASES[i].bytes);
    }
}
