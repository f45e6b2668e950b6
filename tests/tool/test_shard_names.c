/*
 * test_shard_names.c - --max-shard-size's pieces called directly (no
 * binary run): the sizes it reads (tool_parse_shard_size, transformers'
 * spellings), the names of the shards and of their index, and the JSON
 * strings of tool_json.h (Python's escaping, names that are not UTF-8).
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "tool/tool_json.h"
#include "tool/tool_shard.h"

Test(shard_names, sizes_as_transformers_reads_them)
{
    static const struct {
        const char *s;
        uint64_t v;
    } GOOD[] = {
        {"5GB", 5000000000ull},
        {"5gB", 5000000000ull},
        {"500MB", 500000000ull},
        {"100KB", 100000ull},
        {"10GiB", 10ull << 30},
        {"10gib", 10ull << 30},
        {"3MiB", 3ull << 20},
        {"1KIB", 1024},
        {"1", 1},
        {"4096", 4096},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        uint64_t v = 0;
        cr_expect_eq(tool_parse_shard_size(GOOD[i].s, &v), 1, "%s", GOOD[i].s);
        cr_expect_eq(v, GOOD[i].v, "%s: %llu", GOOD[i].s, (unsigned long long)v);
    }
    static const char *const BAD[] = {"",
                                      "0",
                                      "0GB",
                                      "5Gb",
                                      "5mb",
                                      "5kb",
                                      "5TB",
                                      "5B",
                                      "GB",
                                      "1.5GB",
                                      " 5GB",
                                      "5 GB",
                                      "-5",
                                      "+5",
                                      "5GiBs",
                                      "20000000000GB",
                                      "18446744073709551616"};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        uint64_t v = 7;
        cr_expect_eq(tool_parse_shard_size(BAD[i], &v), 0, "'%s' accepted", BAD[i]);
        cr_expect_eq(v, 7, "'%s' wrote a value", BAD[i]);
    }
}

Test(shard_names, shard_and_index_names)
{
    char *s = tool_shard_name("out/model.safetensors", 2, 13);
    cr_expect_str_eq(s, "out/model-00002-of-00013.safetensors");
    free(s);
    s = tool_shard_name("weights", 1, 123456);
    cr_expect_str_eq(s, "weights-00001-of-123456.safetensors");
    free(s);
    s = tool_shard_index_name("out/model.safetensors");
    cr_expect_str_eq(s, "out/model.safetensors.index.json");
    free(s);
    s = tool_shard_index_name("weights");
    cr_expect_str_eq(s, "weights.safetensors.index.json");
    free(s);
}

static void expect_json_string(const char *in, const char *want)
{
    tool_text t = {0};
    tool_json_string(&t, in);
    cr_assert(!t.oom);
    cr_expect_str_eq(t.s, want);
    tool_text_free(&t);
}

Test(shard_names, json_strings_as_python_writes_them)
{
    expect_json_string("a.b", "\"a.b\"");
    expect_json_string("q\"b\\", "\"q\\\"b\\\\\"");
    expect_json_string("\b\f\n\r\t\x01\x1f\x7f", "\"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"");
    expect_json_string("\xc3\xa9\xe2\x82\xac", "\"\\u00e9\\u20ac\"");
    expect_json_string("\xf0\x9f\x98\x80", "\"\\ud83d\\ude00\"");
    /* not UTF-8: a stray byte, an overlong form, a surrogate, a cut sequence */
    expect_json_string("a\xff"
                       "b",
                       "\"a\\ufffdb\"");
    expect_json_string("\xc0\xaf", "\"\\ufffd\\ufffd\"");
    expect_json_string("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    expect_json_string("\xe2\x82", "\"\\ufffd\\ufffd\"");
}

Test(shard_names, names_that_are_not_utf8)
{
    cr_expect_eq(tool_json_is_utf8("plain \xc3\xa9"), 1);
    cr_expect_eq(tool_json_is_utf8("a\xff"), 0);
    cr_expect_eq(tool_json_is_utf8("\xf4\x90\x80\x80"), 0); /* above U+10FFFF */
    char *fixed = tool_json_fix_utf8("{\"a\":\"x\xffy\xc3\xa9\"}");
    cr_expect_str_eq(fixed, "{\"a\":\"x\xef\xbf\xbdy\xc3\xa9\"}");
    free(fixed);
    char *hex = tool_json_hex("a\xff");
    cr_expect_str_eq(hex, "61ff");
    free(hex);
}
