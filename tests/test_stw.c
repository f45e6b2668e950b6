/*
 * test_stw.c - safetensors header planning (src/st/stw.h): write order,
 * offsets, exact header bytes, metadata, escaping and large integers.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/c2s_error.h"
#include "torch/dtype.h"
#include "st/stw.h"

static unsigned char *g_header;
static char *g_json;

static void stw_fini(void)
{
    free(g_header);
    g_header = NULL;
    free(g_json);
    g_json = NULL;
}

TestSuite(stw, .fini = stw_fini);

static const int64_t NO_DIMS[1] = {0};

/* The JSON part of the header (padding included) as a C string. */
static const char *header_text(size_t hlen)
{
    cr_assert_geq(hlen, 8);
    g_json = malloc(hlen - 8 + 1);
    cr_assert_not_null(g_json);
    memcpy(g_json, g_header + 8, hlen - 8);
    g_json[hlen - 8] = '\0';
    return g_json;
}

static stw_entry entry(const char *name, c2s_dtype dt, size_t ndim, const int64_t *shape,
                       uint64_t nbytes, size_t src)
{
    stw_entry e = {name, dt, ndim, ndim ? shape : NO_DIMS, nbytes, UINT64_MAX, src};
    return e;
}

/* The header is exactly: 8-byte LE length N, json, spaces up to N, with
 * N a multiple of 8 and the smallest such. */
static void assert_header(const unsigned char *h, size_t hlen, const char *json)
{
    size_t jlen = strlen(json);
    size_t padded = (jlen + 7) / 8 * 8;
    cr_assert_eq(hlen, 8 + padded, "header_len %zu, expected %zu", hlen, 8 + padded);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | h[i];
    cr_assert_eq(n, (uint64_t)padded, "length field %" PRIu64 ", expected %zu", n, padded);
    cr_assert(memcmp(h + 8, json, jlen) == 0, "json differs:\n got: %.*s\nwant: %s",
              (int)(hlen - 8), (const char *)h + 8, json);
    for (size_t i = 8 + jlen; i < hlen; i++)
        cr_assert_eq(h[i], ' ', "byte %zu is 0x%02x, not a space", i, h[i]);
}

Test(stw, exact_header_bytes_small_case)
{
    static const int64_t two[1] = {2}, zero[1] = {0};
    stw_entry e[3] = {
        entry("b", C2S_F32, 1, two, 8, 0),
        entry("a", C2S_I64, 0, NULL, 8, 1),
        entry("c", C2S_BOOL, 1, zero, 0, 2),
    };
    size_t hlen = 0;
    uint64_t dlen = 0;
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = stw_plan(e, 3, NULL, 0, &g_header, &hlen, &dlen, &err);
    cr_assert_eq(st, C2S_OK, "stw_plan: %s", err.msg);
    static const char want[] = "\xc8"
                               "\0\0\0\0\0\0\0"
                               "{\"__metadata__\":{\"format\":\"pt\"},"
                               "\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                               "\"c\":{\"dtype\":\"BOOL\",\"shape\":[0],\"data_offsets\":[16,16]}}"
                               "      ";
    cr_assert_eq(sizeof want - 1, 208); /* 8 + 194 + 6 spaces */
    cr_assert_eq(hlen, sizeof want - 1, "header_len %zu", hlen);
    cr_assert(memcmp(g_header, want, sizeof want - 1) == 0, "header differs: %.*s", (int)(hlen - 8),
              (const char *)g_header + 8);
    cr_assert_eq(dlen, 16);
    cr_assert_str_eq(e[0].name, "a");
    cr_assert_eq(e[0].begin, 0);
    cr_assert_eq(e[0].src, 1);
    cr_assert_str_eq(e[1].name, "b");
    cr_assert_eq(e[1].begin, 8);
    cr_assert_eq(e[1].src, 0);
    cr_assert_str_eq(e[2].name, "c");
    cr_assert_eq(e[2].begin, 16);
    cr_assert_eq(e[2].src, 2);
}

Test(stw, no_tensors_header_needs_no_padding)
{
    size_t hlen = 0;
    uint64_t dlen = 99;
    c2s_error err;
    c2s_error_clear(&err);
    stw_entry none[1];
    cr_assert_eq(stw_plan(none, 0, NULL, 0, &g_header, &hlen, &dlen, &err), C2S_OK, "%s", err.msg);
    static const char want[] = "\x20"
                               "\0\0\0\0\0\0\0"
                               "{\"__metadata__\":{\"format\":\"pt\"}}";
    cr_assert_eq(hlen, 40);
    cr_assert(memcmp(g_header, want, 40) == 0);
    cr_assert_eq(dlen, 0);
}

Test(stw, ordering_by_rank_then_name_bytewise)
{
    static const int64_t s1[1] = {1}, s2[1] = {2}, s3[1] = {3}, s5[1] = {5};
    stw_entry e[12] = {
        entry("b", C2S_F32, 1, s2, 8, 0),       entry("a", C2S_I64, 1, s1, 8, 1),
        entry("B", C2S_F32, 1, s1, 4, 2),       entry("\xc3\xa9", C2S_F32, 1, s1, 4, 3), /* "é" */
        entry("c", C2S_BOOL, 1, s3, 3, 4),      entry("z", C2S_U8, 1, s5, 5, 5),
        entry("h", C2S_F16, 1, s2, 4, 6),       entry("g", C2S_BF16, 1, s1, 2, 7),
        entry("A", C2S_BOOL, 1, s1, 1, 8),      entry("u", C2S_U64, 1, s1, 8, 9),
        entry("f8", C2S_F8_E4M3, 1, s1, 1, 10), entry("Ab", C2S_F32, 1, s1, 4, 11),
    };
    size_t hlen = 0;
    uint64_t dlen = 0;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(stw_plan(e, 12, NULL, 0, &g_header, &hlen, &dlen, &err), C2S_OK, "%s", err.msg);

    static const char *const names[12] = {"u", "a", "Ab", "B", "b", "\xc3\xa9",
                                          "g", "h", "f8", "z", "A", "c"};
    static const size_t srcs[12] = {9, 1, 11, 2, 0, 3, 7, 6, 10, 5, 8, 4};
    static const uint64_t begins[12] = {0, 8, 16, 20, 24, 32, 36, 38, 42, 43, 48, 49};
    for (size_t i = 0; i < 12; i++) {
        cr_assert_str_eq(e[i].name, names[i], "position %zu", i);
        cr_assert_eq(e[i].src, srcs[i], "position %zu", i);
        cr_assert_eq(e[i].begin, begins[i], "%s: begin %" PRIu64, e[i].name, e[i].begin);
        if (i > 0) {
            cr_assert_geq(c2s_dtype_rank(e[i - 1].dtype), c2s_dtype_rank(e[i].dtype));
            cr_assert_eq(e[i].begin, e[i - 1].begin + e[i - 1].nbytes);
        }
    }
    cr_assert_eq(dlen, 52);

    /* the JSON lists the tensors in the same order */
    const char *json = header_text(hlen);
    const char *prev = json;
    char pat[32];
    for (size_t i = 0; i < 12; i++) {
        snprintf(pat, sizeof pat, "\"%s\":{\"dtype\"", names[i]);
        const char *at = strstr(json, pat);
        cr_assert_not_null(at, "%s missing", names[i]);
        cr_assert_gt(at, prev, "%s out of order", names[i]);
        prev = at;
    }
    cr_assert_not_null(strstr(json, "\"\xc3\xa9\":{\"dtype\":\"F32\",\"shape\":[1],"
                                    "\"data_offsets\":[32,36]}"));
}

Test(stw, metadata_after_format_and_escaping)
{
    static const int64_t one[1] = {1};
    stw_entry e[2] = {
        entry("q\"x\x01"
              "y",
              C2S_U8, 1, one, 1, 0),
        entry("t\tb\\s", C2S_U8, 1, one, 1, 1),
    };
    stw_kv meta[2] = {{"source", "model.ckpt"}, {"k\"ey", "v\nal\x1f"}};
    size_t hlen = 0;
    uint64_t dlen = 0;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(stw_plan(e, 2, meta, 2, &g_header, &hlen, &dlen, &err), C2S_OK, "%s", err.msg);
    /* 'q' < 't' */
    assert_header(g_header, hlen,
                  "{\"__metadata__\":{\"format\":\"pt\",\"source\":\"model.ckpt\","
                  "\"k\\\"ey\":\"v\\nal\\u001f\"},"
                  "\"q\\\"x\\u0001y\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                  "\"t\\tb\\\\s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}");
    cr_assert_eq(dlen, 2);
}

Test(stw, large_integers_printed_exactly)
{
    static const int64_t big[1] = {INT64_C(9007199254740993)};
    static const int64_t huge[2] = {1, INT64_MAX};
    stw_entry e[2] = {
        entry("huge", C2S_U8, 2, huge, (uint64_t)INT64_MAX, 0),
        entry("big", C2S_U8, 1, big, UINT64_C(9007199254740993), 1),
    };
    size_t hlen = 0;
    uint64_t dlen = 0;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(stw_plan(e, 2, NULL, 0, &g_header, &hlen, &dlen, &err), C2S_OK, "%s", err.msg);
    assert_header(g_header, hlen,
                  "{\"__metadata__\":{\"format\":\"pt\"},"
                  "\"big\":{\"dtype\":\"U8\",\"shape\":[9007199254740993],"
                  "\"data_offsets\":[0,9007199254740993]},"
                  "\"huge\":{\"dtype\":\"U8\",\"shape\":[1,9223372036854775807],"
                  "\"data_offsets\":[9007199254740993,9232379236109516800]}}");
    cr_assert_eq(dlen, UINT64_C(9232379236109516800));
    cr_assert_eq(e[1].begin, UINT64_C(9007199254740993));
}

Test(stw, total_size_overflow_refused)
{
    static const int64_t one[1] = {1};
    stw_entry e[2] = {
        entry("a", C2S_U8, 1, one, UINT64_C(1) << 63, 0),
        entry("b", C2S_U8, 1, one, UINT64_C(1) << 63, 1),
    };
    size_t hlen = 0;
    uint64_t dlen = 0;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(stw_plan(e, 2, NULL, 0, &g_header, &hlen, &dlen, &err), C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, "total tensor size overflows");
    cr_assert_null(g_header);
}

Test(stw, every_dtype_name_in_header)
{
    /* one scalar of each dtype: names come from c2s_dtype_name, sizes add up */
    static const char *const st_names[C2S_DTYPE_COUNT] = {
        [C2S_F64] = "F64",
        [C2S_F32] = "F32",
        [C2S_F16] = "F16",
        [C2S_BF16] = "BF16",
        [C2S_I64] = "I64",
        [C2S_I32] = "I32",
        [C2S_I16] = "I16",
        [C2S_I8] = "I8",
        [C2S_U64] = "U64",
        [C2S_U32] = "U32",
        [C2S_U16] = "U16",
        [C2S_U8] = "U8",
        [C2S_BOOL] = "BOOL",
        [C2S_C64] = "C64",
        [C2S_F8_E4M3] = "F8_E4M3",
        [C2S_F8_E5M2] = "F8_E5M2",
        [C2S_F8_E4M3FNUZ] = "F8_E4M3FNUZ",
        [C2S_F8_E5M2FNUZ] = "F8_E5M2FNUZ",
        [C2S_F8_E8M0] = "F8_E8M0",
    };
    stw_entry e[C2S_DTYPE_COUNT];
    uint64_t total = 0;
    for (int d = 0; d < C2S_DTYPE_COUNT; d++) {
        e[d] = entry(st_names[d], (c2s_dtype)d, 0, NULL, c2s_dtype_size((c2s_dtype)d), (size_t)d);
        total += c2s_dtype_size((c2s_dtype)d);
    }
    size_t hlen = 0;
    uint64_t dlen = 0;
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(stw_plan(e, C2S_DTYPE_COUNT, NULL, 0, &g_header, &hlen, &dlen, &err), C2S_OK);
    cr_assert_eq(dlen, total);
    const char *json = header_text(hlen);
    char pat[96];
    for (int i = 0; i < C2S_DTYPE_COUNT; i++) {
        /* each tensor is aligned to its element size, larger ranks first */
        cr_assert_eq(e[i].begin % c2s_dtype_size(e[i].dtype), 0, "%s at %" PRIu64, e[i].name,
                     e[i].begin);
        if (i > 0)
            cr_assert_gt(c2s_dtype_rank(e[i - 1].dtype), c2s_dtype_rank(e[i].dtype));
        snprintf(pat, sizeof pat,
                 "\"%s\":{\"dtype\":\"%s\",\"shape\":[],\"data_offsets\":[%" PRIu64 ",%" PRIu64
                 "]}",
                 e[i].name, e[i].name, e[i].begin, e[i].begin + e[i].nbytes);
        cr_assert_not_null(strstr(json, pat), "missing %s", pat);
    }
}

/* The header is written without cJSON now; it must be exactly what
 * cJSON_PrintUnformatted printed: every byte value 1..255 in a tensor name
 * and in metadata, several dimensions, large integers, no tensors. */
static char *cjson_header(const stw_entry *e, size_t n, const stw_kv *meta, size_t nmeta)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *md = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(md, "format", "pt");
    for (size_t i = 0; i < nmeta; i++)
        cJSON_AddStringToObject(md, meta[i].key, meta[i].value);
    for (size_t i = 0; i < n; i++) {
        char num[24];
        cJSON *t = cJSON_CreateObject(), *shape = cJSON_CreateArray();
        cJSON *offs = cJSON_CreateArray();
        for (size_t d = 0; d < e[i].ndim; d++) {
            snprintf(num, sizeof num, "%" PRId64, e[i].shape[d]);
            cJSON_AddItemToArray(shape, cJSON_CreateRaw(num));
        }
        snprintf(num, sizeof num, "%" PRIu64, e[i].begin);
        cJSON_AddItemToArray(offs, cJSON_CreateRaw(num));
        snprintf(num, sizeof num, "%" PRIu64, e[i].begin + e[i].nbytes);
        cJSON_AddItemToArray(offs, cJSON_CreateRaw(num));
        cJSON_AddStringToObject(t, "dtype", c2s_dtype_name(e[i].dtype));
        cJSON_AddItemToObject(t, "shape", shape);
        cJSON_AddItemToObject(t, "data_offsets", offs);
        cJSON_AddItemToObject(root, e[i].name, t);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

Test(stw, header_text_as_cjson_printed_it)
{
    static char names[255][8];
    static stw_entry e[255];
    static const int64_t shape[3] = {2, 3, INT64_C(4000000000)};
    for (int c = 1; c < 256; c++) {
        snprintf(names[c - 1], sizeof names[c - 1], "a%cz", c);
        e[c - 1] = entry(names[c - 1], c % 2 ? C2S_F32 : C2S_BF16, (size_t)(c % 4), shape, 24,
                         (size_t)c);
    }
    char allbytes[256];
    for (int c = 1; c < 256; c++)
        allbytes[c - 1] = (char)c;
    allbytes[255] = '\0';
    stw_kv meta[] = {{"k\"\\\n", allbytes}, {"", ""}, {"\x7f\x80\xc3\xa9", "\x1f\x01"}};
    for (int round = 0; round < 3; round++) {
        size_t n = round == 0 ? 255 : round == 1 ? 0 : 1;
        size_t nmeta = round == 1 ? 0 : 3;
        size_t hlen = 0;
        uint64_t dlen = 0;
        c2s_error err;
        c2s_error_clear(&err);
        cr_assert_eq(stw_plan(e, n, meta, nmeta, &g_header, &hlen, &dlen, &err), C2S_OK);
        char *want = cjson_header(e, n, meta, nmeta); /* after the plan: offsets set */
        cr_assert_not_null(want);
        assert_header(g_header, hlen, want);
        cJSON_free(want);
        free(g_header);
        g_header = NULL;
    }
}
