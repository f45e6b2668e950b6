/*
 * test_shard.c - outputs split into Hugging Face shards (--max-shard-size,
 * c2s_plan_shards, c2s_write_options.only), and --json lines for file
 * names that are not UTF-8 (U+FFFD in the name, its bytes in NAME_hex).
 *
 * The library tests plan fixtures/sample.ckpt (eleven tensors of 864, 32,
 * 32, 32, 32, 32, 8, 2304, 32, 320 and 40 bytes, in that order) and check
 * every tensor's shard against the rule worked out by hand.  The CLI tests
 * run the built binary ($C2S_BIN, default ./ckpt2safetensors) in a fresh
 * directory holding a copy of the fixture, read every shard back with the
 * library's safetensors reader (st/stread.h) and compare each tensor's
 * bytes with the unsharded output of the same options; the index must be
 * exactly the text transformers writes (json.dumps(indent=2,
 * sort_keys=True) and a newline).
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <limits.h>

#include "c2s.h"
#include "cli_sandbox.h"
#include "run_util.h"
#include "st/stread.h"
#include "test_util.h"

#define SAMPLE "fixtures/sample.ckpt"

TestSuite(shard, .init = cs_setup, .fini = cs_teardown, .timeout = 60);

/* ---- the library: planning ------------------------------------------------------ */

static c2s_checkpoint *open_sample(void)
{
    c2s_checkpoint *ck = NULL;
    c2s_error err;
    cr_assert_eq(c2s_open(SAMPLE, NULL, &ck, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(c2s_tensor_count(ck), 11);
    return ck;
}

static void expect_plan(const c2s_shard_plan *p, const size_t *shard_of, size_t nshards,
                        const uint64_t *bytes, uint64_t total)
{
    cr_assert_eq(p->nshards, nshards);
    for (size_t i = 0; i < 11; i++)
        cr_expect_eq(p->shard_of[i], shard_of[i], "tensor %zu: shard %zu, expected %zu", i,
                     p->shard_of[i], shard_of[i]);
    for (size_t k = 0; k < nshards; k++)
        cr_expect_eq(p->shard_bytes[k], bytes[k], "shard %zu: %llu bytes", k,
                     (unsigned long long)p->shard_bytes[k]);
    cr_expect_eq(p->total_bytes, total);
}

/* 864+4*32 = 992 fits 1000; the next 32 opens shard 2's group; the 2304
 * bytes are above the maximum: a shard of their own, appended at once (so
 * number 1), before the open group (number 2). */
Test(shard, plan_follows_the_hugging_face_rule)
{
    c2s_checkpoint *ck = open_sample();
    c2s_shard_plan p;
    c2s_error err;
    cr_assert_eq(c2s_plan_shards(ck, NULL, 1000, &p, &err), C2S_OK, "%s", err.msg);
    expect_plan(&p, (size_t[]){0, 0, 0, 0, 0, 2, 2, 1, 2, 2, 2}, 3, (uint64_t[]){992, 2304, 432},
                3728);
    cr_expect_eq(p.tensors, 11);
    cr_expect_eq(p.filtered, 0);
    c2s_shard_plan_free(&p);
    /* a shard may reach the maximum exactly */
    cr_assert_eq(c2s_plan_shards(ck, NULL, 992, &p, &err), C2S_OK, "%s", err.msg);
    expect_plan(&p, (size_t[]){0, 0, 0, 0, 0, 2, 2, 1, 2, 2, 2}, 3, (uint64_t[]){992, 2304, 432},
                3728);
    c2s_shard_plan_free(&p);
    cr_assert_eq(c2s_plan_shards(ck, NULL, 991, &p, &err), C2S_OK, "%s", err.msg);
    expect_plan(&p, (size_t[]){0, 0, 0, 0, 2, 2, 2, 1, 2, 2, 2}, 3, (uint64_t[]){960, 2304, 464},
                3728);
    c2s_shard_plan_free(&p);
    /* everything in one */
    cr_assert_eq(c2s_plan_shards(ck, NULL, 3728, &p, &err), C2S_OK, "%s", err.msg);
    expect_plan(&p, (size_t[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1, (uint64_t[]){3728}, 3728);
    c2s_shard_plan_free(&p);
    c2s_close(ck);
}

/* Sizes after conversion: F32 halves, the I64 counter keeps its 8 bytes;
 * the 1152-byte weight is the first shard appended. */
Test(shard, plan_counts_sizes_after_dtype_and_filters)
{
    c2s_checkpoint *ck = open_sample();
    c2s_shard_plan p;
    c2s_error err;
    c2s_write_options o = {.out_fd = -1, .convert_dtype = 1, .dtype = C2S_F16};
    cr_assert_eq(c2s_plan_shards(ck, &o, 1000, &p, &err), C2S_OK, "%s", err.msg);
    expect_plan(&p, (size_t[]){1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1}, 2, (uint64_t[]){1152, 716}, 1868);
    c2s_shard_plan_free(&p);

    const char *exclude[] = {"classifier.*", "features.3.*"};
    c2s_write_options f = {.out_fd = -1, .exclude = exclude, .nexclude = 2};
    cr_assert_eq(c2s_plan_shards(ck, &f, 900, &p, &err), C2S_OK, "%s", err.msg);
    expect_plan(&p,
                (size_t[]){0, 0, 1, 1, 1, 1, 1, C2S_NO_SHARD, C2S_NO_SHARD, C2S_NO_SHARD,
                           C2S_NO_SHARD},
                2, (uint64_t[]){896, 136}, 1032);
    cr_expect_eq(p.tensors, 7);
    cr_expect_eq(p.filtered, 4);
    c2s_shard_plan_free(&p);

    const char *none[] = {"nothing*"};
    c2s_write_options g = {.out_fd = -1, .include = none, .ninclude = 1};
    cr_assert_eq(c2s_plan_shards(ck, &g, 900, &p, &err), C2S_ERR_INPUT);
    cr_expect_eq(err.rule, C2S_RULE_ALL_FILTERED);
    cr_expect_null(p.shard_of);
    cr_assert_eq(c2s_plan_shards(ck, NULL, 0, &p, &err), C2S_ERR_USAGE);
    cr_expect_str_eq(err.msg, "the maximum shard size must be at least 1 byte");
    c2s_shard_plan_free(NULL);
    c2s_close(ck);
}

/* ---- the library: writing a subset --------------------------------------------- */

Test(shard, write_only_the_chosen_tensors)
{
    c2s_checkpoint *ck = open_sample();
    char *out = tu_path(cs_dir, "two.safetensors");
    unsigned char only[11] = {0};
    only[1] = only[10] = 1;
    c2s_write_options o = {.out_fd = -1, .only = only};
    c2s_write_result res;
    c2s_error err;
    cr_assert_eq(c2s_write(ck, out, &o, &res, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(res.tensors, 2);
    cr_expect_eq(res.filtered, 0);
    cr_expect_eq(res.data_bytes, 32 + 40);
    st_file f;
    cr_assert_eq(st_read_path(out, &f, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(f.ntensors, 2);
    cr_expect(strcmp(f.tensors[0].name, "classifier.bias") == 0 ||
              strcmp(f.tensors[1].name, "classifier.bias") == 0);
    cr_expect(strcmp(f.tensors[0].name, "features.0.bias") == 0 ||
              strcmp(f.tensors[1].name, "features.0.bias") == 0);
    st_file_free(&f);

    /* the globs' count is of the chosen tensors only: 2 of the 8 features.* */
    const char *const exclude[] = {"features.*"};
    memset(only, 0, sizeof only);
    only[0] = only[1] = only[10] = 1;
    o.exclude = exclude;
    o.nexclude = 1;
    o.force = 1;
    cr_assert_eq(c2s_write(ck, out, &o, &res, &err), C2S_OK, "%s", err.msg);
    cr_expect_eq(res.tensors, 1);
    cr_expect_eq(res.filtered, 2);
    o.exclude = NULL;
    o.nexclude = 0;

    memset(only, 0, sizeof only);
    char *none = tu_path(cs_dir, "none.safetensors");
    cr_assert_eq(c2s_write(ck, none, &o, &res, &err), C2S_ERR_USAGE);
    cr_expect_str_eq(err.msg, "no tensor chosen to write");
    cr_expect(!tu_exists(none));
    free(none);
    free(out);
    c2s_close(ck);
}

/* ---- the program -------------------------------------------------------------- */

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define RUN(...) \
    tr_finish(tr_start(cs_bin, cs_dir, cs_dir, (const char *const[]){__VA_ARGS__, NULL}), cs_dir)

/* The fixture copied into the directory as name. */
static void put_sample(const char *name)
{
    size_t n;
    unsigned char *b = tu_read(SAMPLE, &n);
    cr_assert_not_null(b);
    char *p = cs_at(name);
    cr_assert_eq(tu_write(p, b, n), 0);
    free(p);
    free(b);
}

static char *slurp_in_dir(const char *name)
{
    char *p = cs_at(name);
    char *s = tr_slurp(p);
    free(p);
    return s;
}

/* Every tensor of every shard has exactly the bytes it has in whole, and
 * every tensor of whole is in exactly one shard. */
/* __metadata__ entries other than the options record (tool_rerun.h),
 * which holds --max-shard-size in the shards only. */
static size_t nmeta_but_record(const st_file *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nmeta; i++)
        n += strcmp(f->meta_keys[i], "ckpt2safetensors.options") != 0;
    return n;
}

static void expect_same_tensors(const char *whole, const char *const *shards, size_t nshards)
{
    char *wp = cs_at(whole);
    st_file w;
    c2s_error err;
    size_t wlen;
    unsigned char *wb = tu_read(wp, &wlen);
    cr_assert_not_null(wb);
    cr_assert_eq(st_read_path(wp, &w, &err), C2S_OK, "%s", err.msg);
    size_t found = 0;
    for (size_t k = 0; k < nshards; k++) {
        char *sp = cs_at(shards[k]);
        st_file s;
        size_t slen;
        unsigned char *sb = tu_read(sp, &slen);
        cr_assert_not_null(sb);
        cr_assert_eq(st_read_path(sp, &s, &err), C2S_OK, "%s: %s", shards[k], err.msg);
        cr_expect_eq(nmeta_but_record(&s), nmeta_but_record(&w), "%s: the same __metadata__",
                     shards[k]);
        for (size_t i = 0; i < s.ntensors; i++) {
            const st_tensor *a = &s.tensors[i], *b = NULL;
            for (size_t j = 0; j < w.ntensors && b == NULL; j++)
                if (strcmp(w.tensors[j].name, a->name) == 0)
                    b = &w.tensors[j];
            cr_assert_not_null(b, "%s: %s is not in %s", shards[k], a->name, whole);
            cr_assert_str_eq(a->dtype, b->dtype);
            cr_assert_eq(a->end - a->begin, b->end - b->begin, "%s", a->name);
            cr_assert_eq(memcmp(sb + s.data_start + a->begin, wb + w.data_start + b->begin,
                                a->end - a->begin),
                         0, "%s: the bytes of %s differ", shards[k], a->name);
            found++;
        }
        st_file_free(&s);
        free(sb);
        free(sp);
    }
    cr_expect_eq(found, w.ntensors, "every tensor once");
    st_file_free(&w);
    free(wb);
    free(wp);
}

static const char SAMPLE_INDEX[] =
    "{\n"
    "  \"metadata\": {\n"
    "    \"ckpt2safetensors.options\": \"--max-shard-size=1000\",\n"
    "    \"total_size\": 3728\n"
    "  },\n"
    "  \"weight_map\": {\n"
    "    \"classifier.bias\": \"model-00003-of-00003.safetensors\",\n"
    "    \"classifier.weight\": \"model-00003-of-00003.safetensors\",\n"
    "    \"features.0.bias\": \"model-00001-of-00003.safetensors\",\n"
    "    \"features.0.weight\": \"model-00001-of-00003.safetensors\",\n"
    "    \"features.1.bias\": \"model-00001-of-00003.safetensors\",\n"
    "    \"features.1.num_batches_tracked\": \"model-00003-of-00003.safetensors\",\n"
    "    \"features.1.running_mean\": \"model-00001-of-00003.safetensors\",\n"
    "    \"features.1.running_var\": \"model-00003-of-00003.safetensors\",\n"
    "    \"features.1.weight\": \"model-00001-of-00003.safetensors\",\n"
    "    \"features.3.bias\": \"model-00003-of-00003.safetensors\",\n"
    "    \"features.3.weight\": \"model-00002-of-00003.safetensors\"\n"
    "  }\n"
    "}\n";

static const char *const SAMPLE_SHARDS[] = {"model-00001-of-00003.safetensors",
                                            "model-00002-of-00003.safetensors",
                                            "model-00003-of-00003.safetensors"};

Test(shard, cli_dry_run_names_the_index_and_the_shards)
{
    put_sample("model.ckpt");
    tr_result r = RUN("--dry-run", "--max-shard-size", "1000", "model.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "ckpt2safetensors: model.ckpt: left out: optimizer_states (24 "
                            "tensors)\n"
                            "ckpt2safetensors: model.ckpt -> model.safetensors.index.json: would "
                            "convert 11 tensors in 3 shards\n");
    tr_free(&r);
    r = RUN("--dry-run", "--max-shard-size", "5GB", "model.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "model.ckpt -> model.safetensors: would convert 11 tensors\n") != NULL,
              "%s", r.err);
    tr_free(&r);
    r = RUN("-q", "--dry-run", "--max-shard-size", "1000", "model.ckpt", "--json");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(starts_with(r.out, "{\"input\":\"model.ckpt\",\"output\":\"model.safetensors."
                                 "index.json\",\"status\":\"would-convert\""),
              "%s", r.out);
    tr_free(&r);
    cr_expect_eq(tu_count_entries(cs_dir), 1, "--dry-run wrote something");
}

Test(shard, cli_writes_shards_and_the_index)
{
    put_sample("model.ckpt");
    tr_result r = RUN("-q", "model.ckpt", "-o", "whole.safetensors");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    r = RUN("--max-shard-size", "1000", "--verify", "model.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_eq(strstr(r.err, "model.ckpt -> model.safetensors.index.json: 11 tensors in 3 "
                               "shards, 5.5 KiB in ") != NULL,
                 1, "%s", r.err);
    tr_free(&r);
    char *index = slurp_in_dir("model.safetensors.index.json");
    cr_expect_str_eq(index, SAMPLE_INDEX);
    free(index);
    expect_same_tensors("whole.safetensors", SAMPLE_SHARDS, 3);
    char *single = cs_at("model.safetensors");
    cr_expect(!tu_exists(single), "no single file beside the shards");
    free(single);
    /* up to date: the index stands for the output */
    r = RUN("--max-shard-size", "1000", "model.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "ckpt2safetensors: model.ckpt -> model.safetensors.index.json: "
                            "skipped (up to date)\n");
    tr_free(&r);
}

Test(shard, cli_sizes_after_dtype_with_filters)
{
    put_sample("pytorch_model.bin");
    tr_result r = RUN("-q", "--dtype", "f16", "--exclude", "classifier.*", "pytorch_model.bin",
                      "-o", "whole.safetensors");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    r = RUN("-q", "--dtype", "f16", "--exclude", "classifier.*", "--max-shard-size", "1KB",
            "pytorch_model.bin");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    /* 432+4*16+16+8 = 520 in the open shard, 1152 above 1000 (shard 1), 16 more */
    char *index = slurp_in_dir("model.safetensors.index.json");
    cr_expect_str_eq(index,
                     "{\n"
                     "  \"metadata\": {\n"
                     "    \"ckpt2safetensors.options\": \"--exclude=classifier.* --dtype=F16 "
                     "--max-shard-size=1000\",\n"
                     "    \"total_size\": 1688\n"
                     "  },\n"
                     "  \"weight_map\": {\n"
                     "    \"features.0.bias\": \"model-00002-of-00002.safetensors\",\n"
                     "    \"features.0.weight\": \"model-00002-of-00002.safetensors\",\n"
                     "    \"features.1.bias\": \"model-00002-of-00002.safetensors\",\n"
                     "    \"features.1.num_batches_tracked\": "
                     "\"model-00002-of-00002.safetensors\",\n"
                     "    \"features.1.running_mean\": \"model-00002-of-00002.safetensors\",\n"
                     "    \"features.1.running_var\": \"model-00002-of-00002.safetensors\",\n"
                     "    \"features.1.weight\": \"model-00002-of-00002.safetensors\",\n"
                     "    \"features.3.bias\": \"model-00002-of-00002.safetensors\",\n"
                     "    \"features.3.weight\": \"model-00001-of-00002.safetensors\"\n"
                     "  }\n"
                     "}\n");
    free(index);
    expect_same_tensors("whole.safetensors",
                        (const char *const[]){"model-00001-of-00002.safetensors",
                                              "model-00002-of-00002.safetensors"},
                        2);
}

Test(shard, cli_one_shard_is_the_usual_file)
{
    put_sample("model.ckpt");
    tr_result r = RUN("-q", "--max-shard-size", "5GB", "model.ckpt", "--json");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(starts_with(r.out, "{\"input\":\"model.ckpt\",\"output\":\"model.safetensors\","),
              "%s", r.out);
    tr_free(&r);
    cr_expect_eq(tu_count_entries(cs_dir), 2, "model.ckpt and model.safetensors only");
    put_sample("copy.ckpt");
    r = RUN("-q", "copy.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    /* the same bytes, but for the options record (--max-shard-size=5000000000) */
    char *pa = cs_at("model.safetensors"), *pb = cs_at("copy.safetensors");
    size_t na, nb;
    unsigned char *a = tu_read_output(pa, &na), *b = tu_read_output(pb, &nb);
    cr_assert(a != NULL && b != NULL);
    cr_expect(na == nb && memcmp(a, b, na) == 0, "model.safetensors is copy.safetensors");
    free(a);
    free(b);
    free(pa);
    free(pb);
}

Test(shard, cli_json_names_the_index)
{
    put_sample("model.ckpt");
    tr_result r = RUN("-q", "--max-shard-size", "1000", "model.ckpt", "--json");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "output")->valuestring, "model.safetensors.index.json");
    cr_expect_eq(cJSON_GetObjectItem(j, "tensors")->valuedouble, 11);
    uint64_t sum = sizeof SAMPLE_INDEX - 1;
    for (size_t k = 0; k < 3; k++) {
        char *p = cs_at(SAMPLE_SHARDS[k]);
        struct stat st;
        cr_assert_eq(stat(p, &st), 0);
        sum += (uint64_t)st.st_size;
        free(p);
    }
    cr_expect_eq(cJSON_GetObjectItem(j, "bytes")->valuedouble, (double)sum);
    char hex[65];
    c2s_sha256_hex(SAMPLE_INDEX, sizeof SAMPLE_INDEX - 1, hex);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "sha256")->valuestring, hex);
    cJSON_Delete(j);
    tr_free(&r);
}

Test(shard, cli_refuses_an_existing_shard_without_force)
{
    put_sample("model.ckpt");
    char *p = cs_at(SAMPLE_SHARDS[1]);
    cr_assert_eq(tu_write(p, "old", 3), 0);
    tr_result r = RUN("-q", "--max-shard-size", "1000", "model.ckpt");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: model.ckpt: output exists: "
                            "model-00002-of-00003.safetensors (use -f to overwrite)\n");
    tr_free(&r);
    cr_expect_eq(tu_count_entries(cs_dir), 2, "nothing new");
    /* -f replaces it, and removes a single file of an earlier run */
    char *single = cs_at("model.safetensors");
    cr_assert_eq(tu_write(single, "old", 3), 0);
    r = RUN("-q", "-f", "--max-shard-size", "1000", "model.ckpt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    cr_expect(!tu_exists(single));
    char *index = slurp_in_dir("model.safetensors.index.json");
    cr_expect_str_eq(index, SAMPLE_INDEX);
    free(index);
    free(single);
    free(p);
}

/* A shard that cannot be put in place: the ones already placed go. */
Test(shard, cli_failure_removes_the_placed_shards)
{
    put_sample("model.ckpt");
    char *blocker = cs_at(SAMPLE_SHARDS[2]), *inner = tu_path(blocker, "x");
    cr_assert_eq(mkdir(blocker, 0777), 0);
    cr_assert_eq(mkdir(inner, 0777), 0);
    tr_result r = RUN("-q", "-f", "--max-shard-size", "1000", "model.ckpt");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: model.ckpt: output is a directory: "
                            "model-00003-of-00003.safetensors\n");
    tr_free(&r);
    for (size_t k = 0; k < 2; k++) {
        char *s = cs_at(SAMPLE_SHARDS[k]);
        cr_expect(!tu_exists(s), "%s left behind", SAMPLE_SHARDS[k]);
        free(s);
    }
    char *index = cs_at("model.safetensors.index.json");
    cr_expect(!tu_exists(index));
    free(index);
    free(inner);
    free(blocker);
}

Test(shard, cli_usage_errors)
{
    put_sample("model.ckpt");
    tr_result r = RUN("--max-shard-size", "1000", "model.ckpt", "-o", "-");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: --max-shard-size writes several files, "
                            "so it cannot go with -o -\n");
    tr_free(&r);
    const char *bad[] = {"5Gb",  "500mb", "0",  "1.5GB", "GB",
                         "5 GB", "5TB",   "-1", "5GiBs", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = RUN("--max-shard-size", bad[i], "model.ckpt");
        cr_expect_eq(r.code, 2, "%s", bad[i]);
        char want[512];
        snprintf(want, sizeof want,
                 "ckpt2safetensors: error: --max-shard-size takes a size such as 5GB, 500MB, "
                 "10GiB or a number of bytes (KB MB GB KiB MiB GiB in any case, but a final "
                 "lower-case b would mean bits), not '%s'\n",
                 bad[i]);
        cr_expect_str_eq(r.err, want);
        tr_free(&r);
    }
    r = RUN("--scan", "--max-shard-size", "1GB", "model.ckpt");
    cr_expect_eq(r.code, 2);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: --scan writes nothing, so "
                            "--max-shard-size makes no sense with it\n");
    tr_free(&r);
    cr_expect_eq(tu_count_entries(cs_dir), 1, "nothing written beside model.ckpt");
}

/* In a batch, every output is split on its own. */
Test(shard, cli_batch)
{
    char *sub = cs_at("in");
    cr_assert_eq(mkdir(sub, 0777), 0);
    free(sub);
    put_sample("in/a.ckpt");
    put_sample("in/b.pt");
    tr_result r = RUN("-q", "--max-shard-size", "1000", "-r", "in", "-o", "out");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    const char *stems[] = {"out/a", "out/b"};
    for (size_t i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.safetensors.index.json", stems[i]);
        char *index = slurp_in_dir(name);
        cr_expect_not_null(strstr(index, "\"total_size\": 3728\n"), "%s", index);
        const char *base = stems[i] + 4;
        for (size_t k = 0; k < 3; k++) {
            char shard[64];
            snprintf(shard, sizeof shard, "\"%s-%05zu-of-00003.safetensors\"", base, k + 1);
            cr_expect_not_null(strstr(index, shard), "%s has no %s", name, shard);
        }
        cr_expect_null(strstr(index, "model-"), "%s", index);
        free(index);
    }
}

/* Hugging Face shards converted with --max-shard-size are split again, so
 * their NAME.bin.index.json is not rewritten: a note says why. */
Test(shard, cli_hf_index_steps_aside)
{
    char *sub = cs_at("hf");
    cr_assert_eq(mkdir(sub, 0777), 0);
    free(sub);
    put_sample("hf/pytorch_model-00001-of-00002.bin");
    put_sample("hf/pytorch_model-00002-of-00002.bin");
    static const char INDEX[] = "{\"weight_map\": {\"features.0.weight\": "
                                "\"pytorch_model-00001-of-00002.bin\", \"x\": "
                                "\"pytorch_model-00002-of-00002.bin\"}}";
    char *p = cs_at("hf/pytorch_model.bin.index.json");
    cr_assert_eq(tu_write(p, INDEX, sizeof INDEX - 1), 0);
    free(p);
    tr_result r = RUN("--max-shard-size", "1000", "-j", "1", "-r", "hf");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.err, "ckpt2safetensors: hf/pytorch_model.bin.index.json: not "
                                     "rewritten: --max-shard-size splits the files again\n"),
                       "%s", r.err);
    tr_free(&r);
    const char *written[] = {"hf/model-00001-of-00002-00003-of-00003.safetensors",
                             "hf/model-00001-of-00002.safetensors.index.json",
                             "hf/model-00002-of-00002.safetensors.index.json"};
    for (size_t i = 0; i < 3; i++) {
        char *w = cs_at(written[i]);
        cr_expect(tu_exists(w), "no %s", written[i]);
        free(w);
    }
    char *old = cs_at("hf/model.safetensors.index.json");
    cr_expect(!tu_exists(old));
    free(old);
}

/* ---- --json and file names that are not UTF-8 ----------------------------------- */

Test(shard, json_escapes_names_that_are_not_utf8)
{
    put_sample("a\xff"
               "b\xc3\xa9.ckpt");
    tr_result r = RUN("-q", "--json",
                      "a\xff"
                      "b\xc3\xa9.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(starts_with(r.out, "{\"input\":\"a\xef\xbf\xbd"
                                 "b\xc3\xa9.ckpt\","
                                 "\"input_hex\":\"61ff62c3a92e636b7074\","
                                 "\"output\":\"a\xef\xbf\xbd"
                                 "b\xc3\xa9.safetensors\","
                                 "\"output_hex\":\"61ff62c3a92e736166657465"
                                 "6e736f7273\","
                                 "\"status\":\"converted\","),
              "%s", r.out);
    cJSON *j = cJSON_Parse(r.out);
    cr_expect_not_null(j, "valid JSON: %s", r.out);
    cJSON_Delete(j);
    tr_free(&r);
    r = RUN("--scan", "--json",
            "a\xff"
            "b\xc3\xa9.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(starts_with(r.out, "{\"file\":\"a\xef\xbf\xbd"
                                 "b\xc3\xa9.ckpt\","
                                 "\"file_hex\":\"61ff62c3a92e636b7074\",\"verdict\":\"safe\","),
              "%s", r.out);
    cJSON *s = cJSON_Parse(r.out);
    cr_expect_not_null(s, "valid JSON: %s", r.out);
    cJSON_Delete(s);
    tr_free(&r);
}

Test(shard, cli_reruns_compare_the_options_in_the_index)
{
    put_sample("model.ckpt");
    tr_result r = RUN("-q", "--max-shard-size", "1000", "model.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    r = RUN("--max-shard-size", "1000", "model.ckpt");
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_eq(r.err, "ckpt2safetensors: model.ckpt -> model.safetensors.index.json: "
                            "skipped (up to date)\n");
    tr_free(&r);
    r = RUN("--max-shard-size", "2000", "model.ckpt");
    cr_expect_eq(r.code, 1);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: model.ckpt: output exists and was made with "
                            "other options: model.safetensors.index.json (use -f to overwrite)\n");
    tr_free(&r);
}

Test(shard, cli_index_names_renamed_tensors)
{
    put_sample("model.ckpt");
    tr_result r = RUN("-q", "--max-shard-size", "1000", "--rename", "features.=f.", "model.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    char *index = slurp_in_dir("model.safetensors.index.json");
    cr_expect_not_null(strstr(index, "    \"f.0.bias\": \"model-00001-of-00003.safetensors\",\n"),
                       "%s", index);
    cr_expect_null(strstr(index, "\"features."), "%s", index); /* (the record has it) */
    free(index);
}

Test(shard, cli_force_removes_the_shards_of_the_index_it_replaces)
{
    put_sample("model.ckpt");
    tr_result r = RUN("-q", "--max-shard-size", "1000", "model.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    tr_free(&r);
    char *other = cs_at("notes.txt");
    cr_assert_eq(tu_write(other, "x", 1), 0);
    /* 2000: two shards; the third of the old set goes, other files stay */
    r = RUN("-v", "-f", "--max-shard-size", "2000", "model.ckpt");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.err, "model-00003-of-00003.safetensors: removed (a shard of the "
                                     "index "),
                       "%s", r.err);
    tr_free(&r);
    for (size_t k = 0; k < 3; k++) {
        char *p = cs_at(SAMPLE_SHARDS[k]);
        cr_expect(!tu_exists(p), "%s is left", SAMPLE_SHARDS[k]);
        free(p);
    }
    cr_expect_eq(tu_count_entries(cs_dir), 5, "model.ckpt, notes.txt, 2 shards and the index");
    cr_expect(tu_exists(other));
    free(other);
}
