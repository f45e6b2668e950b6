/*
 * test_stread.c - reading and validating safetensors headers
 * (src/st/stread.h): every expected fixture, one of them field by field,
 * accepted corner cases, and one malformed file per rule, each with its
 * exact message.  Offsets in messages are file offsets (the JSON starts at 8).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/c2s_error.h"
#include "st/stread.h"
#include "test_util.h"

static char *g_dir;
static char *g_path;
static st_file g_file;

static void stread_init(void)
{
    g_dir = tu_tmpdir();
    cr_assert_not_null(g_dir);
    g_path = tu_path(g_dir, "t.safetensors");
    cr_assert_not_null(g_path);
}

static void stread_fini(void)
{
    st_file_free(&g_file);
    free(g_path);
    g_path = NULL;
    tu_rmdir(g_dir);
    g_dir = NULL;
}

TestSuite(stread, .init = stread_init, .fini = stread_fini);

/* ---- helpers ------------------------------------------------------------ */

/* Write raw bytes as the test file. */
static void put_raw(const void *bytes, size_t len)
{
    cr_assert_eq(tu_write(g_path, bytes, len), 0);
}

/* Write a file with length field n (as given), json, then data_len bytes. */
static void put_file_n(uint64_t n, const char *json, size_t jlen, size_t data_len)
{
    size_t len = 8 + jlen + data_len;
    unsigned char *b = malloc(len ? len : 1);
    cr_assert_not_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(n >> (8 * i));
    memcpy(b + 8, json, jlen);
    memset(b + 8 + jlen, 0x5A, data_len);
    put_raw(b, len);
    free(b);
}

static void put_file(const char *json, size_t jlen, size_t data_len)
{
    put_file_n(jlen, json, jlen, data_len);
}

static c2s_status read_test_file(st_file *f, c2s_error *err)
{
    int fd = open(g_path, O_RDONLY);
    cr_assert_geq(fd, 0);
    c2s_status st = st_read_fd(fd, f, err);
    close(fd);
    return st;
}

static void assert_empty(const st_file *f)
{
    cr_assert(f->tensors == NULL && f->ntensors == 0 && f->meta_keys == NULL &&
                  f->meta_values == NULL && f->nmeta == 0 && f->header_len == 0,
              "st_file not left empty after a failure");
}

static void fails_file(const char *want)
{
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = read_test_file(&g_file, &err);
    cr_assert_eq(st, C2S_ERR_INPUT, "accepted; expected: %s", want);
    cr_assert_eq(err.status, C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, want);
    assert_empty(&g_file);
}

static void ok_file(void)
{
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = read_test_file(&g_file, &err);
    cr_assert_eq(st, C2S_OK, "rejected: %s", err.msg);
}

/* JSON given as a string literal (sizeof keeps embedded NUL bytes). */
#define FAILS(json, data_len, msg)                  \
    do {                                            \
        put_file(json, sizeof(json) - 1, data_len); \
        fails_file(msg);                            \
    } while (0)

#define OK(json, data_len)                          \
    do {                                            \
        put_file(json, sizeof(json) - 1, data_len); \
        ok_file();                                  \
    } while (0)

/* A one-tensor header around the given tensor body. */
#define T1(body) "{\"w\":{" body "}}"

static void assert_tensor(const st_tensor *t, const char *name, const char *dtype, size_t ndim,
                          const uint64_t *shape, uint64_t begin, uint64_t end)
{
    cr_assert_str_eq(t->name, name);
    cr_assert_str_eq(t->dtype, dtype, "%s", name);
    cr_assert_eq(t->ndim, ndim, "%s: ndim %zu", name, t->ndim);
    for (size_t i = 0; i < ndim; i++)
        cr_assert_eq(t->shape[i], shape[i], "%s: shape[%zu] = %" PRIu64, name, i, t->shape[i]);
    cr_assert_eq(t->begin, begin, "%s: begin %" PRIu64, name, t->begin);
    cr_assert_eq(t->end, end, "%s: end %" PRIu64, name, t->end);
}

/* ---- good files --------------------------------------------------------- */

static int check_good(const char *path)
{
    st_file f;
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = st_read_path(path, &f, &err);
    cr_expect_eq(st, C2S_OK, "%s", err.msg);
    if (st != C2S_OK)
        return 0;
    size_t len;
    unsigned char *bytes = tu_read(path, &len);
    cr_assert_not_null(bytes);
    free(bytes);
    cr_expect_eq(f.data_start, 8 + f.header_len, "%s", path);
    cr_expect_eq(f.data_start + f.data_len, (uint64_t)len, "%s", path);
    cr_expect_eq(f.header_len % 8, 0, "%s: our writer pads to 8", path);
    cr_expect(f.nmeta >= 1 && strcmp(f.meta_keys[0], "format") == 0 &&
                  strcmp(f.meta_values[0], "pt") == 0,
              "%s: __metadata__ starts with format=pt", path);
    for (size_t i = 0; i < f.ntensors; i++)
        cr_expect(f.tensors[i].bits % 8 == 0 && f.tensors[i].bits >= 8, "%s", path);
    st_file_free(&f);
    return 1;
}

Test(stread, all_expected_fixtures)
{
    DIR *d = opendir("fixtures/good");
    cr_assert_not_null(d, "run the tests from the repository root");
    int n = 0;
    struct dirent *e;
    const char *suffix = ".expected.safetensors";
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0)
            continue;
        char *p = tu_path("fixtures/good", e->d_name);
        n += check_good(p);
        free(p);
    }
    closedir(d);
    n += check_good("fixtures/sample.expected.safetensors");
    cr_assert_geq(n, 25, "only %d fixtures read", n);
}

/* As listed by `./ckpt2safetensors --list fixtures/good/lightning.ckpt`:
 * net.0.weight F32 [5, 6] 120, net.0.bias F32 [5] 20, net.2.weight F32
 * [3, 5] 60, net.2.bias F32 [3] 12; in the file, sorted by name. */
Test(stread, lightning_exact)
{
    c2s_error err;
    c2s_error_clear(&err);
    cr_assert_eq(st_read_path("fixtures/good/lightning.expected.safetensors", &g_file, &err),
                 C2S_OK, "%s", err.msg);
    cr_assert_eq(g_file.ntensors, 4);
    static const uint64_t s5[] = {5}, s56[] = {5, 6}, s3[] = {3}, s35[] = {3, 5};
    assert_tensor(&g_file.tensors[0], "net.0.bias", "F32", 1, s5, 0, 20);
    assert_tensor(&g_file.tensors[1], "net.0.weight", "F32", 2, s56, 20, 140);
    assert_tensor(&g_file.tensors[2], "net.2.bias", "F32", 1, s3, 140, 152);
    assert_tensor(&g_file.tensors[3], "net.2.weight", "F32", 2, s35, 152, 212);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(g_file.tensors[i].bits, 32);
    cr_assert_eq(g_file.nmeta, 1);
    cr_assert_str_eq(g_file.meta_keys[0], "format");
    cr_assert_str_eq(g_file.meta_values[0], "pt");
    cr_assert_eq(g_file.header_len, 304);
    cr_assert_eq(g_file.data_start, 312);
    cr_assert_eq(g_file.data_len, 212);
}

Test(stread, header_order_kept_and_offsets_unsorted)
{
    OK("{\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[4,6]},"
       "\"__metadata__\":{\"z\":\"1\",\"a\":\"2\"},"
       "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
       6);
    static const uint64_t s2[] = {2};
    cr_assert_eq(g_file.ntensors, 2);
    assert_tensor(&g_file.tensors[0], "b", "I8", 1, s2, 4, 6);
    assert_tensor(&g_file.tensors[1], "a", "F32", 0, NULL, 0, 4);
    cr_assert_eq(g_file.tensors[0].bits, 8);
    cr_assert_eq(g_file.nmeta, 2);
    cr_assert_str_eq(g_file.meta_keys[0], "z");
    cr_assert_str_eq(g_file.meta_values[1], "2");
    cr_assert_eq(g_file.data_len, 6);
}

Test(stread, empty_headers)
{
    OK("{}", 0);
    cr_assert_eq(g_file.ntensors, 0);
    st_file_free(&g_file);
    OK("{\"__metadata__\":{}}", 0);
    cr_assert_eq(g_file.nmeta, 0);
    st_file_free(&g_file);
    OK("{\"__metadata__\":{\"format\":\"pt\"}}    ", 0);
    cr_assert_eq(g_file.nmeta, 1);
}

/* serde reads "__metadata__": null as an absent Option. */
Test(stread, metadata_null_is_absent)
{
    OK("{\"__metadata__\":null}", 0);
    cr_assert_eq(g_file.nmeta, 0);
    cr_assert_null(g_file.meta_keys);
}

/* The reference's TensorInfo does not deny unknown fields. */
Test(stread, unknown_tensor_members_ignored)
{
    OK(T1("\"x\":[1.5,{\"y\":[-2,3e4]}],\"dtype\":\"U8\",\"shape\":[3],"
          "\"data_offsets\":[0,3],\"z\":null"),
       3);
    static const uint64_t s3[] = {3};
    assert_tensor(&g_file.tensors[0], "w", "U8", 1, s3, 0, 3);
}

/* serde_json skips space, tab, LF and CR around the value. */
Test(stread, json_whitespace_around)
{
    OK(" \t\r\n{ \"w\" : { \"dtype\" : \"BOOL\" , \"shape\" : [ 1 ] , "
       "\"data_offsets\" : [ 0 , 1 ] } }\n\r\t ",
       1);
    cr_assert_eq(g_file.ntensors, 1);
}

Test(stread, zero_size_tensors_share_offsets)
{
    OK("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
       "\"b\":{\"dtype\":\"F64\",\"shape\":[3,0,2],\"data_offsets\":[0,0]},"
       "\"c\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]},"
       "\"d\":{\"dtype\":\"BF16\",\"shape\":[0],\"data_offsets\":[4,4]}}",
       4);
    cr_assert_eq(g_file.ntensors, 4);
}

/* Integers are exact up to 2^64-1 (not rounded through a double); a zero
 * dimension after a huge one does not overflow, as in the reference. */
Test(stread, huge_dims_exact)
{
    OK(T1("\"dtype\":\"U64\",\"shape\":[18446744073709551615,0,9007199254740993],"
          "\"data_offsets\":[0,0]"),
       0);
    static const uint64_t s[] = {UINT64_MAX, 0, 9007199254740993u};
    assert_tensor(&g_file.tensors[0], "w", "U64", 3, s, 0, 0);
}

Test(stread, sub_byte_whole_bytes)
{
    OK("{\"a\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[0,3]},"
       "\"b\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[3,6]},"
       "\"c\":{\"dtype\":\"F6_E3M2\",\"shape\":[8],\"data_offsets\":[6,12]}}",
       12);
    cr_assert_eq(g_file.tensors[0].bits, 4);
    cr_assert_eq(g_file.tensors[1].bits, 6);
    cr_assert_str_eq(g_file.tensors[2].dtype, "F6_E3M2");
}

Test(stread, every_dtype)
{
    static const char *names[] = {"BOOL",        "F4",      "F6_E2M3", "F6_E3M2", "U8",
                                  "I8",          "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
                                  "F8_E5M2FNUZ", "I16",     "U16",     "F16",     "BF16",
                                  "I32",         "U32",     "F32",     "C64",     "F64",
                                  "I64",         "U64"};
    static const unsigned bits[] = {8,  4,  6,  6,  8,  8,  8,  8,  8,  8,  8,
                                    16, 16, 16, 16, 32, 32, 32, 64, 64, 64, 64};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char json[200];
        /* 8 elements: a whole number of bytes for every width */
        int n = snprintf(json, sizeof json,
                         "{\"t\":{\"dtype\":\"%s\",\"shape\":[8],\"data_offsets\":[0,%u]}}",
                         names[i], bits[i]);
        put_file(json, (size_t)n, bits[i]);
        ok_file();
        cr_assert_str_eq(g_file.tensors[0].dtype, names[i]);
        cr_assert_eq(g_file.tensors[0].bits, bits[i], "%s", names[i]);
        st_file_free(&g_file);
    }
}

Test(stread, escaped_names_decoded)
{
    OK("{\"__metadata__\":{\"k\\u00e9\":\"v\\n\\\"x\\\"\"},"
       "\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00/\\/\":{\"dtype\":\"U8\",\"shape\":[1],"
       "\"data_offsets\":[0,1]}}",
       1);
    cr_assert_str_eq(g_file.tensors[0].name, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80//");
    cr_assert_str_eq(g_file.meta_keys[0], "k\xc3\xa9");
    cr_assert_str_eq(g_file.meta_values[0], "v\n\"x\"");
}

Test(stread, deepest_nesting_accepted)
{
    /* root, tensor, and 125 arrays: 127 containers, serde_json's limit */
    char json[600];
    int n = snprintf(json, sizeof json, "{\"w\":{\"x\":");
    for (int i = 0; i < 125; i++)
        json[n++] = '[';
    for (int i = 0; i < 125; i++)
        json[n++] = ']';
    n += snprintf(json + n, sizeof json - (size_t)n,
                  ",\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}");
    put_file(json, (size_t)n, 1);
    ok_file();
}

Test(stread, file_position_untouched)
{
    put_file("{}", 2, 0);
    int fd = open(g_path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(lseek(fd, 3, SEEK_SET), 3);
    c2s_error err;
    cr_assert_eq(st_read_fd(fd, &g_file, &err), C2S_OK, "%s", err.msg);
    cr_assert_eq(lseek(fd, 0, SEEK_CUR), 3);
    close(fd);
}

Test(stread, free_is_idempotent)
{
    st_file f;
    memset(&f, 0, sizeof f);
    st_file_free(&f);
    st_file_free(&f);
    st_file_free(NULL);
}

/* ---- the file and the length field -------------------------------------- */

Test(stread, too_short)
{
    put_raw("\x02\0\0\0\0", 5);
    fails_file("safetensors: file is 5 bytes, too short for the 8-byte header length");
}

Test(stread, empty_file)
{
    put_raw("", 0);
    fails_file("safetensors: file is 0 bytes, too short for the 8-byte header length");
}

Test(stread, header_length_above_limit)
{
    put_file_n(100000001, "{}", 2, 0);
    fails_file("safetensors: header length 100000001 is above the limit of 100000000");
}

Test(stread, header_length_max_u64)
{
    put_file_n(UINT64_MAX, "{}", 2, 0);
    fails_file("safetensors: header length 18446744073709551615 is above the limit of 100000000");
}

Test(stread, header_length_past_end)
{
    put_file_n(100, "{}", 2, 10);
    fails_file("safetensors: header length 100 is larger than the 12 bytes after it");
}

Test(stread, header_length_zero)
{
    put_file_n(0, "", 0, 0);
    fails_file("safetensors: header is not valid JSON: unexpected end at offset 8");
}

Test(stread, not_a_regular_file)
{
    st_file f;
    c2s_error err;
    cr_assert_eq(st_read_path(g_dir, &f, &err), C2S_ERR_INPUT);
    char want[600];
    snprintf(want, sizeof want, "%s: safetensors: not a regular file", g_dir);
    cr_assert_str_eq(err.msg, want);
}

Test(stread, missing_path)
{
    st_file f;
    c2s_error err;
    cr_assert_eq(st_read_path(g_path, &f, &err), C2S_ERR_INPUT);
    char want[600];
    snprintf(want, sizeof want, "%s: No such file or directory", g_path);
    cr_assert_str_eq(err.msg, want);
    assert_empty(&f);
}

Test(stread, path_prefixes_message)
{
    put_raw("abc", 3);
    st_file f;
    c2s_error err;
    cr_assert_eq(st_read_path(g_path, &f, &err), C2S_ERR_INPUT);
    char want[600];
    snprintf(want, sizeof want,
             "%s: safetensors: file is 3 bytes, too short for the 8-byte header length", g_path);
    cr_assert_str_eq(err.msg, want);
}

/* ---- UTF-8 and JSON syntax ----------------------------------------------- */

Test(stread, bad_utf8)
{
    FAILS("{\"a\xff\":1}", 0, "safetensors: header is not valid UTF-8 at offset 11");
}

Test(stread, bad_utf8_overlong)
{
    FAILS("{\"\xc0\xaf\":1}", 0, "safetensors: header is not valid UTF-8 at offset 10");
}

Test(stread, bad_utf8_surrogate)
{
    FAILS("{\"\xed\xa0\x80\":1}", 0, "safetensors: header is not valid UTF-8 at offset 10");
}

Test(stread, bad_utf8_truncated)
{
    FAILS("{}  \xe2\x82", 0, "safetensors: header is not valid UTF-8 at offset 12");
}

Test(stread, not_json)
{
    FAILS("{\"w\":}", 0,
          "safetensors: header is not valid JSON: unexpected character at offset 13");
}

Test(stread, not_json_unterminated)
{
    FAILS("{\"w\":{\"dtype\":\"F32\"", 0,
          "safetensors: header is not valid JSON: expected ',' or '}' at offset 27");
}

Test(stread, not_json_trailing_comma)
{
    FAILS("{\"a\":[1,],\"b\":2}", 0,
          "safetensors: header is not valid JSON: unexpected character at offset 16");
}

Test(stread, not_json_single_quotes)
{
    FAILS("{'a':1}", 0, "safetensors: header is not valid JSON: expected a string key at offset 9");
}

Test(stread, not_json_bom)
{
    FAILS("\xef\xbb\xbf{}", 0,
          "safetensors: header is not valid JSON: unexpected character at offset 8");
}

Test(stread, not_json_control_whitespace)
{
    FAILS("\x01{}", 0, "safetensors: header is not valid JSON: unexpected character at offset 8");
}

Test(stread, not_json_raw_control_in_string)
{
    FAILS("{\"a\nb\":1}", 0,
          "safetensors: header is not valid JSON: control character in a string at offset 11");
}

Test(stread, not_json_bad_escape)
{
    FAILS("{\"a\\x\":1}", 0,
          "safetensors: header is not valid JSON: invalid escape in a string at offset 11");
}

Test(stread, not_json_lone_surrogate)
{
    FAILS("{\"a\\ud800b\":1}", 0,
          "safetensors: header is not valid JSON: lone surrogate in a \\u escape at offset 11");
}

Test(stread, not_json_leading_zero)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]"), 1,
          "safetensors: header is not valid JSON: expected ',' or ']' at offset 37");
}

Test(stread, not_json_bad_number)
{
    FAILS("{\"a\":1.}", 0, "safetensors: header is not valid JSON: invalid number at offset 13");
}

Test(stread, nul_escape_unsupported)
{
    FAILS("{\"a\\u0000b\":1}", 0,
          "safetensors: header has a \\u0000 escape at offset 11, "
          "which this reader does not support");
}

Test(stread, number_too_long)
{
    FAILS("{\"w\":{\"x\":1234567890123456789012345678901234567890123456789012345678901234}}", 0,
          "safetensors: header has a number longer than 63 characters at offset 18, "
          "which this reader does not support");
}

Test(stread, nesting_too_deep)
{
    char json[600];
    int n = snprintf(json, sizeof json, "{\"w\":{\"x\":");
    for (int i = 0; i < 126; i++)
        json[n++] = '[';
    put_file(json, (size_t)n, 0);
    fails_file("safetensors: header nests more than 127 arrays and objects at offset 143");
}

Test(stread, json_not_an_object)
{
    FAILS("[{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}]", 1,
          "safetensors: header is an array, not a JSON object");
}

Test(stread, json_string_not_an_object)
{
    FAILS("\"x\"", 0, "safetensors: header is a string, not a JSON object");
}

Test(stread, junk_after_json)
{
    FAILS("{}x", 0, "safetensors: header has data after the JSON at offset 10");
}

Test(stread, second_value_after_json)
{
    FAILS("{}  {}", 0, "safetensors: header has data after the JSON at offset 12");
}

Test(stread, nul_padding_after_json)
{
    FAILS("{}\0\0\0\0\0\0", 0, "safetensors: header has data after the JSON at offset 10");
}

/* ---- __metadata__ -------------------------------------------------------- */

Test(stread, metadata_not_an_object)
{
    FAILS("{\"__metadata__\":\"pt\"}", 0, "safetensors: __metadata__ is a string, not an object");
}

Test(stread, metadata_array)
{
    FAILS("{\"__metadata__\":[\"format\",\"pt\"]}", 0,
          "safetensors: __metadata__ is an array, not an object");
}

Test(stread, metadata_non_string_value)
{
    FAILS("{\"__metadata__\":{\"format\":\"pt\",\"epoch\":3}}", 0,
          "safetensors: __metadata__ value of 'epoch' is a number, not a string");
}

Test(stread, metadata_null_value)
{
    FAILS("{\"__metadata__\":{\"format\":null}}", 0,
          "safetensors: __metadata__ value of 'format' is null, not a string");
}

Test(stread, metadata_tensor_shaped)
{
    FAILS("{\"__metadata__\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
          "safetensors: __metadata__ value of 'shape' is an array, not a string");
}

Test(stread, metadata_twice)
{
    FAILS("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "safetensors: __metadata__ given twice");
}

Test(stread, metadata_duplicate_key)
{
    FAILS("{\"__metadata__\":{\"format\":\"pt\",\"a\":\"1\",\"format\":\"np\"}}", 0,
          "safetensors: __metadata__ key 'format' given twice");
}

/* ---- tensor entries ------------------------------------------------------ */

Test(stread, tensor_not_an_object)
{
    FAILS("{\"w\":[\"U8\",[1],[0,1]]}", 1, "safetensors: tensor 'w' is an array, not an object");
}

Test(stread, missing_dtype)
{
    FAILS(T1("\"shape\":[1],\"data_offsets\":[0,1]"), 1, "safetensors: tensor 'w': no dtype");
}

Test(stread, missing_shape)
{
    FAILS(T1("\"dtype\":\"U8\",\"data_offsets\":[0,1]"), 1, "safetensors: tensor 'w': no shape");
}

Test(stread, missing_data_offsets)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[1]"), 1, "safetensors: tensor 'w': no data_offsets");
}

Test(stread, member_twice)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[1],\"dtype\":\"I8\",\"data_offsets\":[0,1]"), 1,
          "safetensors: tensor 'w': dtype given twice");
}

Test(stread, unknown_dtype)
{
    FAILS(T1("\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,1]"), 1,
          "safetensors: tensor 'w': unknown dtype 'F12'");
}

Test(stread, dtype_is_case_sensitive)
{
    FAILS(T1("\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]"), 4,
          "safetensors: tensor 'w': unknown dtype 'f32'");
}

Test(stread, dtype_not_a_string)
{
    FAILS(T1("\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]"), 4,
          "safetensors: tensor 'w': dtype is a number, not a string");
}

Test(stread, shape_not_an_array)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]"), 1,
          "safetensors: tensor 'w': shape is a number, not an array");
}

Test(stread, shape_negative)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[2,-1],\"data_offsets\":[0,1]"), 1,
          "safetensors: tensor 'w': shape[1] is -1, not a non-negative integer");
}

Test(stread, shape_minus_zero)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[-0],\"data_offsets\":[0,0]"), 0,
          "safetensors: tensor 'w': shape[0] is -0, not a non-negative integer");
}

Test(stread, shape_float)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[2.5],\"data_offsets\":[0,1]"), 1,
          "safetensors: tensor 'w': shape[0] is 2.5, not a non-negative integer");
}

Test(stread, shape_integral_float)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[2.0],\"data_offsets\":[0,2]"), 2,
          "safetensors: tensor 'w': shape[0] is 2.0, not a non-negative integer");
}

Test(stread, shape_exponent)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[1e1],\"data_offsets\":[0,10]"), 10,
          "safetensors: tensor 'w': shape[0] is 1e1, not a non-negative integer");
}

Test(stread, shape_string_element)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[\"1\"],\"data_offsets\":[0,1]"), 1,
          "safetensors: tensor 'w': shape[0] is a string, not a non-negative integer");
}

Test(stread, shape_above_u64)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[18446744073709551616],\"data_offsets\":[0,0]"), 0,
          "safetensors: tensor 'w': shape[0] is 18446744073709551616, above 2^64-1");
}

Test(stread, data_offsets_not_an_array)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{\"0\":0,\"1\":1}"), 1,
          "safetensors: tensor 'w': data_offsets is an object, not an array");
}

Test(stread, data_offsets_one_entry)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1]"), 1,
          "safetensors: tensor 'w': data_offsets has 1 entry, not 2");
}

Test(stread, data_offsets_three_entries)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,1]"), 1,
          "safetensors: tensor 'w': data_offsets has 3 entries, not 2");
}

Test(stread, data_offsets_negative)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[-1,-1]"), 0,
          "safetensors: tensor 'w': data_offsets[0] is -1, not a non-negative integer");
}

Test(stread, data_offsets_float)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1.0]"), 1,
          "safetensors: tensor 'w': data_offsets[1] is 1.0, not a non-negative integer");
}

Test(stread, begin_after_end)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,4]"), 8,
          "safetensors: tensor 'w': data_offsets [8,4] end before they begin");
}

Test(stread, size_mismatch)
{
    FAILS(T1("\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,10]"), 10,
          "safetensors: tensor 'w': data_offsets [0,10] hold 10 bytes, dtype F32 and shape [3] "
          "need 12");
}

Test(stread, size_mismatch_scalar)
{
    FAILS(T1("\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,0]"), 0,
          "safetensors: tensor 'w': data_offsets [0,0] hold 0 bytes, dtype F64 and shape [] "
          "need 8");
}

Test(stread, size_mismatch_zero_dim)
{
    FAILS(T1("\"dtype\":\"I32\",\"shape\":[2,0,3],\"data_offsets\":[0,24]"), 24,
          "safetensors: tensor 'w': data_offsets [0,24] hold 24 bytes, dtype I32 and shape "
          "[2,0,3] need 0");
}

/* Like the reference: elements are multiplied in order, so an overflow
 * before a zero dimension is an error. */
Test(stread, element_count_overflow)
{
    FAILS(T1("\"dtype\":\"I8\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]"), 0,
          "safetensors: tensor 'w': dtype I8 and shape [4294967296,4294967296,0]: size "
          "overflows 64 bits");
}

Test(stread, bit_count_overflow)
{
    FAILS(T1("\"dtype\":\"U64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]"), 0,
          "safetensors: tensor 'w': dtype U64 and shape [2305843009213693952]: size overflows "
          "64 bits");
}

Test(stread, sub_byte_bad_bit_count)
{
    FAILS(T1("\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]"), 2,
          "safetensors: tensor 'w': dtype F4 and shape [3] make 12 bits, not a whole number "
          "of bytes");
}

Test(stread, sub_byte_f6_bad_bit_count)
{
    FAILS(T1("\"dtype\":\"F6_E2M3\",\"shape\":[2,1],\"data_offsets\":[0,2]"), 2,
          "safetensors: tensor 'w': dtype F6_E2M3 and shape [2,1] make 12 bits, not a whole "
          "number of bytes");
}

Test(stread, control_bytes_in_names_escaped)
{
    FAILS("{\"a\\nb\\u007f\":{\"dtype\":\"X\\t\",\"shape\":[],\"data_offsets\":[0,1]}}", 1,
          "safetensors: tensor 'a\\x0Ab\\x7F': unknown dtype 'X\\x09'");
}

/* ---- names and tiling ---------------------------------------------------- */

Test(stread, duplicate_names)
{
    FAILS("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
          "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
          2, "safetensors: tensor 'w' given twice");
}

/* The reference keeps the last of equal names; identical entries would then
 * pass there.  We reject them. */
Test(stread, duplicate_names_identical_entries)
{
    FAILS("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
          "\"\\u0077\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
          1, "safetensors: tensor 'w' given twice");
}

Test(stread, gap_at_start)
{
    FAILS(T1("\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]"), 8,
          "safetensors: tensor 'w' begins at 4, leaving a gap at the start of the data buffer");
}

Test(stread, gap_between_tensors)
{
    FAILS("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
          "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
          12,
          "safetensors: tensor 'b' begins at 8, leaving a gap after tensor 'a' which ends at 4");
}

Test(stread, overlapping_tensors)
{
    FAILS("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
          "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
          8, "safetensors: tensor 'b' begins at 4, overlapping tensor 'a' which ends at 8");
}

Test(stread, same_range_twice)
{
    FAILS("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
          "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
          4, "safetensors: tensor 'b' begins at 0, overlapping tensor 'a' which ends at 4");
}

Test(stread, data_longer_than_tensors)
{
    FAILS(T1("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]"), 8,
          "safetensors: the tensors end at 4 but the data buffer holds 8 bytes");
}

Test(stread, data_shorter_than_tensors)
{
    FAILS(T1("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"), 5,
          "safetensors: the tensors end at 8 but the data buffer holds 5 bytes");
}

Test(stread, no_tensors_but_data)
{
    FAILS("{\"__metadata__\":{\"format\":\"pt\"}}", 3,
          "safetensors: the tensors end at 0 but the data buffer holds 3 bytes");
}

Test(stread, long_name_cut_in_message)
{
    char json[400];
    int n = snprintf(json, sizeof json, "{\"");
    for (int i = 0; i < 200; i++)
        json[n++] = 'n';
    n += snprintf(json + n, sizeof json - (size_t)n,
                  "\":{\"dtype\":\"Q\",\"shape\":[],\"data_offsets\":[0,1]}}");
    put_file(json, (size_t)n, 1);
    char want[300];
    int k = snprintf(want, sizeof want, "safetensors: tensor '");
    for (int i = 0; i < 96; i++)
        want[k++] = 'n';
    snprintf(want + k, sizeof want - (size_t)k, "...': unknown dtype 'Q'");
    fails_file(want);
}
