/*
 * test_modules.c - the file kinds beyond a dict of tensors, through the
 * program and the public API: a bare tensor root, whole modules
 * (torch.save(model)), quantized and sparse tensors.
 *
 * Every row of fixtures/modules/MANIFEST (written by
 * fixtures/make_modules.py from what torch returns: state_dict(),
 * dequantize(), int_repr(), q_scale(), q_per_channel_scales(), ...) is run:
 * a conversion must write exactly its expected file, a failure must exit
 * with its code, print its message and leave nothing.  The real files
 * mmcv_output.pkl and quant_state_dict.pth ($C2S_REALDATA, else
 * ../shared/realdata, else ../../shared/realdata) convert to
 * fixtures/realdata/.  --list, --scan and the judge's treatment of
 * torch.nn classes are checked exactly.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "c2s.h"
#include "pickle_builder.h"
#include "reader/judge.h"
#include "run_util.h"
#include "test_util.h"
#include "torch/torchtab.h"

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

TestSuite(modules, .init = setup, .fini = teardown, .timeout = 60);

#define RUN(...) \
    tr_finish(tr_start(tr_bin(), dir, NULL, (const char *const[]){__VA_ARGS__, NULL}), dir)
#define MAX_ARGS 16

/* a (without its options record, if any) is b byte for byte. */
static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    unsigned char *x = tu_read_output(a, &na), *y = tu_read(b, &nb);
    int same = x != NULL && y != NULL && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Run the program on input with args (space-separated, "-" for none) and
 * "-q -o OUT"; the result and OUT's path. */
static tr_result run_case(const char *input, char *args, char **out)
{
    const char *argv[MAX_ARGS + 6];
    size_t n = 0;
    *out = tu_path(dir, "out.safetensors");
    argv[n++] = "-q";
    for (char *a = strtok(args, " "); a != NULL && strcmp(a, "-") != 0; a = strtok(NULL, " ")) {
        cr_assert_lt(n, MAX_ARGS);
        argv[n++] = a;
    }
    argv[n++] = "-o";
    argv[n++] = *out;
    argv[n++] = input;
    argv[n] = NULL;
    return tr_finish(tr_start(tr_bin(), dir, NULL, argv), dir);
}

Test(modules, every_manifest_row_converts_exactly_or_fails_as_listed)
{
    FILE *f = fopen("fixtures/modules/MANIFEST", "r");
    cr_assert_not_null(f);
    char line[2048];
    int good = 0, bad = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *name = strtok(line, "\t"), *args = strtok(NULL, "\t"), *what = strtok(NULL, "\t");
        char *msg = strtok(NULL, "");
        cr_assert(name && args && what, "bad MANIFEST row");
        char input[512], want[1024], argcopy[512];
        snprintf(input, sizeof input, "fixtures/modules/%s", name);
        snprintf(argcopy, sizeof argcopy, "%s", args);
        char *out;
        tr_result r = run_case(input, argcopy, &out);
        if (what[0] == '=') {
            snprintf(want, sizeof want, "fixtures/modules/%s", what + 1);
            cr_expect_eq(r.code, 0, "%s %s: exit %d: %s", name, args, r.code, r.err);
            cr_expect_str_empty(r.err, "%s %s: printed %s", name, args, r.err);
            cr_expect(same_file(out, want), "%s %s: output differs from %s", name, args, want);
            good++;
        } else {
            cr_assert_not_null(msg);
            snprintf(want, sizeof want, "ckpt2safetensors: error: %s: %s", input, msg);
            cr_expect_eq(r.code, atoi(what), "%s %s: exit %d", name, args, r.code);
            cr_expect(strncmp(r.err, want, strlen(want)) == 0, "%s %s: printed %s", name, args,
                      r.err);
            cr_expect_eq(tu_count_entries(dir), 0, "%s %s left a file behind", name, args);
            bad++;
        }
        unlink(out);
        free(out);
        tr_free(&r);
    }
    fclose(f);
    cr_expect_eq(good, 23);
    cr_expect_eq(bad, 4);
}

/* ---- real files ------------------------------------------------------------------ */

static const char *realdata_dir(void)
{
    return tu_realdata("torch");
}

static void expect_real(const char *file, const char *args, const char *want)
{
    const char *root = realdata_dir();
    cr_assert_not_null(root, "real checkpoints not found: set C2S_REALDATA or put shared/realdata "
                             "beside the checkout");
    char input[512], argcopy[128];
    snprintf(input, sizeof input, "%s/torch/%s", root, file);
    snprintf(argcopy, sizeof argcopy, "%s", args);
    char *out;
    tr_result r = run_case(input, argcopy, &out);
    cr_expect_eq(r.code, 0, "%s %s: exit %d: %s", file, args, r.code, r.err);
    cr_expect(same_file(out, want), "%s %s: output differs from %s", file, args, want);
    unlink(out);
    free(out);
    tr_free(&r);
}

Test(modules, real_bare_tensor_converts_under_the_default_name)
{
    expect_real("mmcv_output.pkl", "-", "fixtures/realdata/mmcv_output.expected.safetensors");
}

Test(modules, real_quantized_state_dict_dequantized_and_raw)
{
    expect_real("quant_state_dict.pth", "--quantized dequantize --verify",
                "fixtures/realdata/quant_state_dict.dequantize.expected.safetensors");
    expect_real("quant_state_dict.pth", "--quantized raw --verify",
                "fixtures/realdata/quant_state_dict.raw.expected.safetensors");
}

Test(modules, real_quantized_state_dict_refused_without_a_choice)
{
    const char *root = realdata_dir();
    cr_assert_not_null(root);
    char input[512], want[1024];
    snprintf(input, sizeof input, "%s/torch/quant_state_dict.pth", root);
    tr_result r = RUN("-o", "-", input);
    snprintf(want, sizeof want,
             "ckpt2safetensors: error: %s: tensor 'conv1.weight' is a quantized tensor, which "
             "safetensors cannot store as such: it can be dequantized to F32 values, or written "
             "raw (its integers, scale and zero point) (--quantized dequantize or --quantized "
             "raw; --skip-unsupported drops such tensors)\n",
             input);
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, want);
    tr_free(&r);
}

/* ---- listing and scanning ----------------------------------------------------------- */

Test(modules, list_names_a_module_as_its_state_dict_and_notes_attributes)
{
    tr_result r = RUN("--list", "--allow-global", "models.*", "--key", "model.model.1",
                      "fixtures/modules/yolo_like.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "NAME        DTYPE        SHAPE                 BYTES\n"
                            "anchors     F16          [3, 2]                12\n"
                            "m.0.weight  F16          [6, 4, 1, 1]          48\n"
                            "m.0.bias    F16          [6]                   12\n"
                            "m.1.weight  F16          [6, 4, 1, 1]          48\n"
                            "m.1.bias    F16          [6]                   12\n"
                            "5 tensors, 132 bytes, root: model.model.1\n"
                            "left out: (top level) (4 tensors, attributes of a models.yolo.Detect "
                            "module, not in its state_dict)\n");
    tr_free(&r);
}

Test(modules, list_shows_dequantized_and_raw_tensors)
{
    tr_result r = RUN("--list", "--quantized", "dequantize", "fixtures/modules/quantized.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "NAME   DTYPE        SHAPE                 BYTES\n"
                            "a      F32          [3, 4]                48\n"
                            "b      F32          [5]                   20\n"
                            "c      F32          [2, 4]                32\n"
                            "at     F32          [4, 3]                48\n"
                            "d      F32          [4, 3, 2]             96\n"
                            "e      F32          [2, 5]                40\n"
                            "f      F32          [2, 3, 4]             96\n"
                            "plain  F64          [6]                   48\n"
                            "8 tensors, 428 bytes, root: (top level)\n");
    tr_free(&r);
    r = RUN("--list", "--quantized", "raw", "--key", "d", "fixtures/modules/quantized.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "NAME               DTYPE        SHAPE                 BYTES\n"
                            "tensor             I8           [4, 3, 2]             24\n"
                            "tensor.scale       F64          [4]                   32\n"
                            "tensor.zero_point  I64          [4]                   32\n"
                            "3 tensors, 88 bytes, root: d\n");
    tr_free(&r);
}

Test(modules, scan_of_a_torch_nn_module_is_safe)
{
    tr_result r = RUN("--scan", "fixtures/modules/sequential.pt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strncmp(r.out,
                      "fixtures/modules/sequential.pt: safe (zip): 11 globals, none "
                      "refused\n",
                      64) == 0,
              "%s", r.out);
    cr_expect(strstr(r.out, "allowed    torch.nn.modules.container.Sequential   NEWOBJ,BUILD") !=
                  NULL,
              "%s", r.out);
    tr_free(&r);
    r = RUN("--scan", "fixtures/modules/yolo_like.pt");
    cr_expect_eq(r.code, 3, "%s", r.err);
    cr_expect(strstr(r.out, "unknown    models.yolo.Model") != NULL, "%s", r.out);
    tr_free(&r);
    r = RUN("--scan", "--allow-global", "models.*", "fixtures/modules/yolo_like.pt");
    cr_expect_eq(r.code, 0, "%s", r.out);
    cr_expect(strstr(r.out, "data       models.yolo.Model") != NULL, "%s", r.out);
    tr_free(&r);
}

/* ---- the judge: a torch.nn class is known only as torch.save builds it ------------- */

static c2s_global_class judged(void (*make)(pb *))
{
    pb p = {0};
    pb_proto(&p, 2);
    make(&p);
    pb_stop(&p);
    pvm *vm = pvm_new(NULL);
    pvm_value *top;
    c2s_error err;
    cr_assert_eq(pvm_run(vm, p.buf, p.len, &top, NULL, &err), C2S_OK, "%s", err.msg);
    c2s_report rep;
    memset(&rep, 0, sizeof rep);
    cr_assert(judge_add_globals(&rep, vm, "data.pkl", 0, NULL));
    cr_assert_eq(rep.nglobals, 1);
    c2s_global_class cls = rep.globals[0].cls;
    c2s_report_free(&rep);
    pvm_free(vm);
    pb_free(&p);
    return cls;
}

static void linear_newobj_build(pb *p)
{
    pb_global(p, "torch.nn.modules.linear", "Linear");
    pb_empty_tuple(p);
    pb_op(p, 0x81); /* NEWOBJ */
    pb_empty_dict(p);
    pb_build(p);
}

static void linear_reduce(pb *p)
{
    pb_global(p, "torch.nn.modules.linear", "Linear");
    pb_mark(p);
    pb_int(p, 100000);
    pb_int(p, 100000);
    pb_tuple(p);
    pb_reduce(p);
}

static void linear_named(pb *p)
{
    pb_global(p, "torch.nn.modules.linear", "Linear");
}

Test(modules, torch_nn_class_called_with_arguments_is_unknown)
{
    cr_expect_eq(judged(linear_newobj_build), C2S_GLOBAL_ALLOWED);
    cr_expect_eq(judged(linear_named), C2S_GLOBAL_ALLOWED);
    cr_expect_eq(judged(linear_reduce), C2S_GLOBAL_UNKNOWN);
}

/* The TORCH_MODULE rows are exactly the classes make_modules.py listed. */
Test(modules, torch_table_holds_exactly_the_listed_nn_classes)
{
    FILE *f = fopen("fixtures/modules/torch_nn_modules.txt", "r");
    cr_assert_not_null(f);
    char line[256];
    size_t n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *dot = strrchr(line, '.');
        cr_assert_not_null(dot);
        *dot = '\0';
        const torch_global *g = torchtab_find(line, dot + 1);
        cr_expect(g != NULL && g->role == TORCH_MODULE && g->allowed, "%s.%s", line, dot + 1);
        n++;
    }
    fclose(f);
    size_t rows = 0;
    for (size_t i = 0; i < torchtab_count(); i++)
        rows += torchtab_row(i)->role == TORCH_MODULE;
    cr_expect_eq(rows, n);
}

/* ---- the public API ---------------------------------------------------------------- */

Test(modules, api_open_options_name_and_quantized)
{
    c2s_open_options o = {.tensor_name = "w"};
    c2s_checkpoint *ck;
    c2s_error err;
    cr_assert_eq(c2s_open("fixtures/modules/tensor_root.pt", &o, &ck, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(c2s_tensor_count(ck), 1);
    cr_expect_str_eq(c2s_tensor_at(ck, 0).name, "w");
    c2s_close(ck);

    o = (c2s_open_options){.quantized = C2S_QUANTIZED_DEQUANTIZE};
    cr_assert_eq(c2s_open("fixtures/modules/quantized.pt", &o, &ck, &err), C2S_OK, "%s", err.msg);
    c2s_tensor_info t = c2s_tensor_at(ck, 0);
    cr_expect_str_eq(t.name, "a");
    cr_expect_eq(t.dtype, C2S_F32);
    cr_expect_eq(t.nbytes, 48);
    cr_expect_eq(c2s_tensor_count(ck), 8);
    c2s_close(ck);

    o.quantized = C2S_QUANTIZED_RAW;
    cr_assert_eq(c2s_open("fixtures/modules/quantized.pt", &o, &ck, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(c2s_tensor_count(ck), 22);
    t = c2s_tensor_at(ck, 2);
    cr_expect_str_eq(t.name, "a.zero_point");
    cr_expect_eq(t.dtype, C2S_I64);
    cr_expect_eq(t.ndim, 0);
    cr_expect_eq(t.nbytes, 8);
    c2s_close(ck);

    o.quantized = C2S_QUANTIZED_REFUSE;
    cr_assert_eq(c2s_open("fixtures/modules/quantized.pt", &o, &ck, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(c2s_tensor_at(ck, 0).supported, 0);
    cr_expect_str_eq(c2s_tensor_at(ck, 0).why, "quantized tensor");
    char *out = tu_path(dir, "x.safetensors");
    cr_expect_eq(c2s_write(ck, out, NULL, NULL, &err), C2S_ERR_INPUT);
    cr_expect_eq(err.rule, C2S_RULE_QUANTIZED);
    cr_expect_str_eq(err.msg, "tensor 'a' is a quantized tensor, which safetensors cannot store "
                              "as such: it can be dequantized to F32 values, or written raw (its "
                              "integers, scale and zero point)");
    free(out);
    c2s_close(ck);
}
