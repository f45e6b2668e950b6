/*
 * test_sha256.c - SHA-256 (src/util/sha256.h): the FIPS 180-4 / NIST example
 * vectors, padding boundaries, streaming in odd pieces, and a fixture file
 * checked against sha256sum.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "util/sha256.h"
#include "test_util.h"

TestSuite(sha256);

static void hex_of(const void *data, size_t n, char hex[65])
{
    sha256_ctx c;
    unsigned char d[32];
    sha256_init(&c);
    sha256_update(&c, data, n);
    sha256_final(&c, d);
    sha256_hex(d, hex);
}

static void check(const char *msg, const char *want)
{
    char hex[65];
    hex_of(msg, strlen(msg), hex);
    cr_assert_str_eq(hex, want, "sha256(\"%s\")", msg);
}

Test(sha256, empty)
{
    check("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, abc)
{
    check("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(sha256, msg_448_bits)
{
    check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, msg_896_bits)
{
    check("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
          "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
          "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, million_a)
{
    static const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    char *a = malloc(1000000);
    cr_assert_not_null(a);
    memset(a, 'a', 1000000);
    char hex[65];
    hex_of(a, 1000000, hex);
    cr_assert_str_eq(hex, want);

    /* The same in 1000 updates of 1000 bytes. */
    sha256_ctx c;
    unsigned char d[32];
    sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        sha256_update(&c, a, 1000);
    sha256_final(&c, d);
    sha256_hex(d, hex);
    cr_assert_str_eq(hex, want);
    free(a);
}

/* Every length from 0 to 129 (all padding cases: 55, 56, 63, 64, 119, 120,
 * ...): the digests are chained into one, whose value was computed with
 * Python's hashlib when this test was written. */
Test(sha256, lengths_0_to_129)
{
    unsigned char msg[129];
    sha256_ctx acc;
    sha256_init(&acc);
    for (size_t len = 0; len < 130; len++) {
        for (size_t i = 0; i < len; i++)
            msg[i] = (unsigned char)(i * 7 + len);
        sha256_ctx c;
        unsigned char d[32];
        sha256_init(&c);
        sha256_update(&c, msg, len);
        sha256_final(&c, d);
        sha256_update(&acc, d, sizeof d);
    }
    unsigned char d[32];
    char hex[65];
    sha256_final(&acc, d);
    sha256_hex(d, hex);
    cr_assert_str_eq(hex, "f0a356ea9e6f1782f5f990ba58676d20f035df61db3b6545e977112d486331c9");
}

/* Pieces of sizes 1, 2, 3, ... 70, 1, 2, ... (all offsets within a block,
 * whole blocks after a partial one, empty updates) give the one-shot digest. */
Test(sha256, streaming_odd_pieces)
{
    size_t n = 100003;
    unsigned char *buf = malloc(n);
    cr_assert_not_null(buf);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    char one[65], many[65];
    hex_of(buf, n, one);

    for (size_t first = 0; first < 70; first += 13) {
        sha256_ctx c;
        unsigned char d[32];
        sha256_init(&c);
        size_t off = 0, piece = first;
        while (off < n) {
            size_t k = piece < n - off ? piece : n - off;
            sha256_update(&c, buf + off, k);
            sha256_update(&c, buf + off + k, 0);
            off += k;
            piece = piece % 70 + 1;
        }
        sha256_final(&c, d);
        sha256_hex(d, many);
        cr_assert_str_eq(many, one, "pieces starting at %zu", first);
    }
    free(buf);
}

/* Cross-check with coreutils: `sha256sum fixtures/sample.expected.safetensors`
 * when this test was written. */
Test(sha256, fixture_matches_sha256sum)
{
    size_t len;
    unsigned char *data = tu_read("fixtures/sample.expected.safetensors", &len);
    cr_assert_not_null(data, "run the tests from the repository root");
    char hex[65];
    hex_of(data, len, hex);
    cr_assert_str_eq(hex, "61ef9e935605af633a08ff164bf9430f3ed586d6a8f2e8193857955823bb1fc9");
    free(data);
}

Test(sha256, hex_is_lower_case)
{
    unsigned char d[32];
    for (int i = 0; i < 32; i++)
        d[i] = (unsigned char)(i * 8 + 7);
    char hex[65];
    memset(hex, 'x', sizeof hex);
    sha256_hex(d, hex);
    cr_assert_str_eq(hex, "070f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff");
}
